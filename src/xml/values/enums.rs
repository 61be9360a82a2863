//! The spelled enums: fieldless values written as fixed strings (`spelled_enum!`).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{FromXml, Noted, ToXml, ValueError};

spelled_enum!(
    /// A recording's file format.
    FileFormat { Mp3 = "mp3", Wav = "wav" }
);
spelled_enum!(
    /// `<Record recordChannelType>`.
    ChannelType { Mono = "mono", Stereo = "stereo" }
);
spelled_enum!(
    /// `transcriptionType`.
    TranscriptionType { Auto = "auto", Hybrid = "hybrid", Manual = "manual" }
);
spelled_enum!(
    /// `<GetInput inputType>`.
    InputType {
        /// Key presses only.
        Dtmf = "dtmf",
        /// Speech only.
        Speech = "speech",
        /// Both; the first detected wins.
        DtmfSpeech = "dtmf speech",
    }
);
spelled_enum!(
    /// `<GetInput speechModel>`.
    SpeechModel { Default = "default", CommandAndSearch = "command_and_search", PhoneCall = "phone_call" }
);
spelled_enum!(
    /// `<Hangup reason>`.
    HangupReason {
        /// Rejection tone (hangup cause 3020).
        Rejected = "rejected",
        /// Busy signal (hangup cause 3010).
        Busy = "busy",
    }
);
spelled_enum!(
    /// `<Dial callType>`.
    CallType { Voice = "voice", Whatsapp = "whatsapp" }
);
spelled_enum!(
    /// `<MultiPartyCall role>`; written lower-case.
    Role { Agent = "agent", Supervisor = "supervisor", Customer = "customer", AiAgent = "ai-agent" }
);
spelled_enum!(
    /// One `statusCallbackEvents` entry.
    MpcEvent {
        MpcStateChanges = "mpc-state-changes",
        ParticipantStateChanges = "participant-state-changes",
        ParticipantSpeakEvents = "participant-speak-events",
        ParticipantDigitInputEvents = "participant-digit-input-events",
        AddParticipantApiEvents = "add-participant-api-events",
        ParticipantAudioEvents = "participant-audio-events",
    }
);
spelled_enum!(
    /// `<Message type>`.
    MessageType { Sms = "sms" }
);
spelled_enum!(
    /// `<Stream audioTrack>`.
    AudioTrack { Inbound = "inbound", Outbound = "outbound", Both = "both" }
);
spelled_enum!(
    /// `<Stream contentType>`.
    StreamContentType {
        L16At8k = "audio/x-l16;rate=8000",
        L16At16k = "audio/x-l16;rate=16000",
        MulawAt8k = "audio/x-mulaw;rate=8000",
    }
);
spelled_enum!(
    /// `<break strength>`.
    BreakStrength { None = "none", XWeak = "x-weak", Weak = "weak", Medium = "medium", Strong = "strong", XStrong = "x-strong" }
);
spelled_enum!(
    /// `<emphasis level>`.
    EmphasisLevel { Strong = "strong", Moderate = "moderate", Reduced = "reduced" }
);
spelled_enum!(
    /// `<phoneme alphabet>`.
    PhoneticAlphabet { Ipa = "ipa", XSampa = "x-sampa" }
);
