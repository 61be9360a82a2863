//! What goes into a [`Call`](super::Call) and what comes out of it.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::cause::{HangupCause, HangupSource};
use super::ids::{CallId, MediaId, RecordingId, RequestId};
use super::rooms::{JoinRequest, LeaveReason, MemberInfo, RoomEvent};
use crate::diagnostic::Diagnostic;
use crate::xml::values::{FinishOnKey, KeySet, Method};
use crate::xml::{Dial, Document, Play, Prompt, Speak, Stream, Verb, Wait};

/// An input to a call. Each is handed over with the current time by
/// [`Call::handle_input`](super::Call::handle_input).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Input {
    /// An outbound call was answered by the callee: the call fetches its answer URL.
    Answered,
    /// The reply to a request the call issued with [`Reply::Execute`] or [`Reply::Sounds`].
    Fetched {
        /// The request's id.
        request: RequestId,
        /// What came back.
        reply: FetchReply,
    },
    /// Speech, playback, a beep, tones or a sound list finished.
    MediaFinished(MediaId),
    /// Something the media layer detected (ends a `<Wait silence>` / `<Wait beep>`).
    MediaEvent(MediaEvent),
    /// The caller pressed keys (one or more, in order).
    Digits(String),
    /// Speech was recognised (`<GetInput>`).
    Speech {
        /// The transcript.
        text: String,
        /// Confidence, 0.0–1.0.
        confidence: f32,
    },
    /// A partial recognition result (`<GetInput interimSpeechResultsCallback>`).
    SpeechPartial {
        /// The stable part.
        stable: String,
        /// The part that may still change.
        unstable: String,
        /// Stability, 0.0–1.0.
        stability: f32,
    },
    /// A recording the call started has ended and its file is ready.
    RecordingFinished {
        /// The recording's media id (from [`Command::StartRecording`]).
        media: MediaId,
        /// How long it is, in milliseconds.
        duration_ms: u64,
    },
    /// Progress of the `<Dial>` in progress.
    Dial(DialEvent),
    /// A room event that names this call.
    Conference(RoomEvent),
    /// The WebSocket stream started by [`Command::StartStream`] ended.
    StreamEnded(MediaId),
    /// The call is over: the caller hung up, or the API hung it up.
    Hangup {
        /// Who ended it.
        source: HangupSource,
    },
    /// The network or one of the call's limits ends it with `cause`: an outbound call's callee
    /// is busy or out of service, it rang past its `ring_timeout` or `hangup_on_ring`, its
    /// `time_limit` ran out, or a machine answered under `machine_detection=hangup`. An
    /// answered call is hung up (a `Hangup` command); an unanswered one just ends.
    End {
        /// The hangup cause.
        cause: HangupCause,
        /// Who ended it.
        source: HangupSource,
    },
    /// Answering-machine detection of an outbound call (`machine_detection=true`) has an
    /// outcome: `notify` (`machine_detection_url`) is told it as `Machine=true|false`.
    MachineDetection {
        /// A machine answered.
        machine: bool,
        /// Where the outcome goes.
        notify: crate::engine::Webhook,
    },
    /// REST transfer of a live call: fetch `url` and run it instead of the current document.
    Transfer {
        /// The new document's URL.
        url: String,
        /// Method for it.
        method: Method,
    },
}

/// The reply to a document request.
#[derive(Debug, Clone)]
pub enum FetchReply {
    /// The response body (2xx). The call parses it; an invalid one ends the call (8011…).
    Body(String),
    /// An already parsed, valid document (drivers that cache documents).
    Document(Arc<Document>),
    /// No usable response: connection error, timeout or non-2xx, with the reason.
    Failed(String),
}

/// Detections that end a `<Wait>` early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEvent {
    /// `minSilence` of silence was heard.
    Silence,
    /// An answering-machine beep was heard.
    Beep,
}

/// Progress of a `<Dial>`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DialEvent {
    /// A target is ringing.
    Ringing,
    /// A target answered (the others stop ringing).
    Answered {
        /// The callee's call.
        b_leg: CallId,
        /// The number or URI that answered.
        to: String,
    },
    /// Every target was busy.
    Busy,
    /// No target answered.
    NoAnswer,
    /// The dial failed (invalid number, network).
    Failed,
    /// The callee pressed keys.
    CalleeDigits(String),
    /// The callee hung up (ends the bridge; the caller continues).
    CalleeHangup,
}

/// How the reply to an [`HttpRequest`] is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reply {
    /// The reply is a document that replaces the current one: hand it back with
    /// [`Input::Fetched`].
    Execute,
    /// The reply is a document of Play/Speak/Wait to play (waitSound, enterSound, dialMusic…):
    /// hand it back with [`Input::Fetched`].
    Sounds,
    /// Only sent (callbacks, `redirect="false"` actions): never hand the reply back.
    Ignore,
}

/// Plivo's `DialStatus`: how a `<Dial>` ended (its `action` request's parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DialStatus {
    /// The callee answered (and the bridge has ended).
    Completed,
    /// The callee was busy.
    Busy,
    /// Nobody answered (or the callee did not confirm).
    NoAnswer,
    /// The dial failed.
    Failed,
}

impl DialStatus {
    /// The wire value (`no-answer`).
    pub fn as_str(self) -> &'static str {
        match self {
            DialStatus::Completed => "completed",
            DialStatus::Busy => "busy",
            DialStatus::NoAnswer => "no-answer",
            DialStatus::Failed => "failed",
        }
    }

    /// The FreeSWITCH-style cause sent as `DialHangupCause`.
    pub fn hangup_cause(self) -> &'static str {
        match self {
            DialStatus::Busy => "USER_BUSY",
            DialStatus::NoAnswer => "NO_ANSWER",
            DialStatus::Failed => "NORMAL_TEMPORARY_FAILURE",
            DialStatus::Completed => "NORMAL_CLEARING",
        }
    }
}

/// How a verb ended ([`CallEvent::VerbFinished`]). Its text (`Display`) is what transcripts
/// show (`digits 42`, `left room R: kicked`); [`VerbOutcome::branch`] names the flow branch it
/// took, as `plivo-flow graph` draws them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum VerbOutcome {
    /// It ran to its end (speech spoken, wait over, tones sent, …).
    Done,
    /// It did its part at once and the call goes on (`<DTMF async>`, `<Message>`).
    Sent,
    /// `<GetDigits>`/`<GetInput>` got keys.
    Digits(String),
    /// `<GetInput>` got speech.
    Speech(String),
    /// `<GetDigits>`/`<GetInput>` got nothing, after its retries.
    NoInput,
    /// `<Dial>` ended with this status, and why when it was not the plain case.
    Dialed {
        /// `DialStatus`.
        status: DialStatus,
        /// Why (`callee hung up`, `time limit`, `caller pressed *`).
        why: Option<&'static str>,
    },
    /// The room was full: the call did not join.
    RoomFull {
        /// Room name.
        room: String,
        /// Its capacity.
        max_members: u32,
    },
    /// The call left the room.
    LeftRoom {
        /// Room name.
        room: String,
        /// Why.
        reason: super::rooms::LeaveReason,
    },
    /// A foreground `<Record>` ended.
    Recorded {
        /// Length in milliseconds.
        duration_ms: u64,
        /// The key that ended it (empty: silence or `maxLength`).
        digits: String,
    },
    /// A background recording or stream goes on while the document does (`recording the
    /// session`, `armed for the next answered Dial`, `streaming in the background`).
    Background(&'static str),
    /// `<Wait>` ended early on what it listened for (`silence detected`, `beep detected`).
    Detected(&'static str),
    /// `<Redirect>` to this URL.
    Redirected(String),
    /// `<Hangup schedule>`: the hangup is due in this many seconds; the call goes on.
    ScheduledHangup(u32),
    /// `<Hangup>`.
    HungUp,
    /// `<Stream>` reached its `streamTimeout`.
    StreamTimedOut,
    /// The far end closed the `<Stream>`.
    StreamEnded,
}

impl VerbOutcome {
    /// The branch of the flow it took, for coverage and graphs: `input`, `no input`, the
    /// `DialStatus`, the ways out of a room (`kicked`, `hangup on star`, `room ended`,
    /// `time limit`, `left alone`, `member hung up`, `room full`), `recorded`; `None` for
    /// the outcomes that have no branch (plain completions).
    pub fn branch(&self) -> Option<&'static str> {
        use super::rooms::LeaveReason as L;
        Some(match self {
            VerbOutcome::Digits(_) | VerbOutcome::Speech(_) => "input",
            VerbOutcome::NoInput => "no input",
            VerbOutcome::Dialed { status, .. } => status.as_str(),
            VerbOutcome::RoomFull { .. } => "room full",
            VerbOutcome::LeftRoom { reason, .. } => match reason {
                L::Kicked => "kicked",
                L::HangupOnStar => "hangup on star",
                L::RoomEnded => "room ended",
                L::TimeLimit => "time limit",
                L::StayAlone => "left alone",
                L::MemberHungUp => "member hung up",
                L::CallHungUp | L::Transferred => return None,
            },
            VerbOutcome::Recorded { .. } => "recorded",
            _ => return None,
        })
    }
}

impl std::fmt::Display for VerbOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerbOutcome::Done => f.write_str("done"),
            VerbOutcome::Sent => f.write_str("sent"),
            VerbOutcome::Digits(d) => write!(f, "digits {d}"),
            VerbOutcome::Speech(t) => write!(f, "speech \"{t}\""),
            VerbOutcome::NoInput => f.write_str("no input"),
            VerbOutcome::Dialed { status, why: None } => f.write_str(status.as_str()),
            VerbOutcome::Dialed { status, why: Some(w) } => write!(f, "{} ({w})", status.as_str()),
            VerbOutcome::RoomFull { room, max_members } => {
                write!(f, "not joined: room {room} is full ({max_members} members)")
            }
            VerbOutcome::LeftRoom { room, reason } => write!(f, "left room {room}: {reason}"),
            VerbOutcome::Recorded { duration_ms, digits } if digits.is_empty() => {
                write!(f, "recorded {duration_ms} ms")
            }
            VerbOutcome::Recorded { duration_ms, digits } => write!(f, "recorded {duration_ms} ms, ended by {digits}"),
            VerbOutcome::Background(what) | VerbOutcome::Detected(what) => f.write_str(what),
            VerbOutcome::Redirected(url) => write!(f, "to {url}"),
            VerbOutcome::ScheduledHangup(secs) => write!(f, "scheduled in {secs} s"),
            VerbOutcome::HungUp => f.write_str("hung up"),
            VerbOutcome::StreamTimedOut => f.write_str("stream timed out"),
            VerbOutcome::StreamEnded => f.write_str("stream ended"),
        }
    }
}

/// Which event callback a notification is ([`Purpose::Callback`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Callback {
    /// The outbound call's `ring_url`.
    Ring,
    /// `<Conference callbackUrl>`, `ConferenceAction=enter`.
    ConferenceEnter,
    /// `<Conference callbackUrl>`, `ConferenceAction=exit`.
    ConferenceExit,
    /// `<Conference callbackUrl>`, `ConferenceAction=digits` (`digitsMatch`).
    ConferenceDigits,
    /// `<Conference callbackUrl>`, `ConferenceAction=floor` (`floorEvent`).
    ConferenceFloor,
    /// A conference recording's `ConferenceAction=record` (REST or `record`).
    ConferenceRecord,
    /// `<MultiPartyCall statusCallbackUrl>` participant events.
    MpcStatus,
    /// `<Dial callbackUrl>` (`DialAction=answer|digits|hangup`).
    Dial,
    /// `<GetInput interimSpeechResultsCallback>`.
    InterimSpeech,
    /// `<Record callbackUrl>`: the recording's file is ready.
    Recording,
    /// `<Record transcriptionUrl>`.
    Transcription,
    /// `<Stream statusCallbackUrl>` (`Event=StartStream|StopStream`).
    Stream,
    /// An outbound call's `machine_detection_url` (`Machine=true|false`).
    MachineDetection,
}

impl Callback {
    /// The callback as transcripts name it (`conference enter`).
    pub fn as_str(self) -> &'static str {
        match self {
            Callback::Ring => "ring",
            Callback::ConferenceEnter => "conference enter",
            Callback::ConferenceExit => "conference exit",
            Callback::ConferenceDigits => "conference digits",
            Callback::ConferenceFloor => "conference floor",
            Callback::ConferenceRecord => "conference record",
            Callback::MpcStatus => "mpc status",
            Callback::Dial => "dial",
            Callback::InterimSpeech => "interim speech",
            Callback::Recording => "recording",
            Callback::Transcription => "transcription",
            Callback::Stream => "stream",
            Callback::MachineDetection => "machine detection",
        }
    }
}

impl std::fmt::Display for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Callback {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why a request is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum Purpose {
    /// The answer URL.
    Answer,
    /// The fallback URL, after the answer URL failed.
    Fallback,
    /// A `<Redirect>`.
    Redirect,
    /// A REST transfer.
    Transfer,
    /// A verb's `action` (or `onExitActionUrl`).
    Action(&'static str),
    /// A verb's event callback (`callbackUrl`, `statusCallbackUrl`, …).
    Callback(Callback),
    /// A sound document (`waitSound`, `enterSound`, `exitSound`, `dialMusic`, `confirmSound`).
    Sound(&'static str),
    /// The call's `hangup_url`.
    Hangup,
}

/// An HTTP request to the application.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpRequest {
    /// Names the request; replies come back with it.
    pub id: RequestId,
    /// The URL as written (a `#ct=…` fragment is for the HTTP layer to apply and strip).
    pub url: String,
    /// GET (params in the query string) or POST (form body).
    pub method: Method,
    /// Form parameters, in a fixed order: the standard call parameters, then the event's own.
    pub params: Vec<(String, String)>,
    /// What the request is for.
    pub purpose: Purpose,
    /// What to do with the reply.
    pub reply: Reply,
}

impl HttpRequest {
    /// The value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Where to find one verb of a document, without copying it.
#[derive(Debug, Clone)]
pub struct VerbRef {
    pub(crate) doc: Arc<Document>,
    pub(crate) index: usize,
    pub(crate) sub: Option<usize>,
    pub(crate) prompt: Option<usize>,
}

/// The verb at position `index` of `doc`, or the `sub`-th child of the `<PreAnswer>` there.
pub(crate) fn verb_at(doc: &Document, index: usize, sub: Option<usize>) -> Option<&Verb> {
    let v = doc.verbs.get(index)?;
    match (sub, v) {
        (Some(i), Verb::PreAnswer(p)) => p.verbs.get(i),
        (Some(_), _) => None,
        (None, v) => Some(v),
    }
}

/// A `<Speak>`, `<Play>` or `<Wait>` found through a [`VerbRef`].
#[derive(Debug, Clone, Copy)]
pub enum MediaVerb<'a> {
    /// Speech.
    Speak(&'a Speak),
    /// Playback.
    Play(&'a Play),
    /// Silence.
    Wait(&'a Wait),
}

impl VerbRef {
    /// The verb (a `<PreAnswer>` child when nested; the enclosing `<GetDigits>`/`<GetInput>`
    /// for prompts).
    pub fn verb(&self) -> Option<&Verb> {
        verb_at(&self.doc, self.index, self.sub)
    }

    /// The media element this refers to.
    pub fn media(&self) -> Option<MediaVerb<'_>> {
        let v = self.verb()?;
        match (self.prompt, v) {
            (Some(i), Verb::GetDigits(g)) => prompt_media(g.prompts.get(i)?),
            (Some(i), Verb::GetInput(g)) => prompt_media(g.prompts.get(i)?),
            (Some(_), _) => None,
            (None, Verb::Speak(s)) => Some(MediaVerb::Speak(s)),
            (None, Verb::Play(p)) => Some(MediaVerb::Play(p)),
            (None, Verb::Wait(w)) => Some(MediaVerb::Wait(w)),
            (None, _) => None,
        }
    }

    /// The `<Speak>`, if this refers to one.
    pub fn speak(&self) -> Option<&Speak> {
        match self.media()? {
            MediaVerb::Speak(s) => Some(s),
            _ => None,
        }
    }

    /// The `<Play>`, if this refers to one.
    pub fn play(&self) -> Option<&Play> {
        match self.media()? {
            MediaVerb::Play(p) => Some(p),
            _ => None,
        }
    }
}

fn prompt_media(p: &Prompt) -> Option<MediaVerb<'_>> {
    Some(match p {
        Prompt::Speak(s) => MediaVerb::Speak(s),
        Prompt::Play(p) => MediaVerb::Play(p),
        Prompt::Wait(w) => MediaVerb::Wait(w),
    })
}

/// What a `<GetDigits>` / `<GetInput>` listens for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Collect {
    /// Key presses.
    pub dtmf: bool,
    /// Speech.
    pub speech: bool,
    /// Recognition language (speech).
    pub language: String,
    /// Recognition hints (speech).
    pub hints: Option<String>,
    /// Keys that submit when reached.
    pub max_digits: u32,
    /// Key that submits.
    pub finish_on_key: FinishOnKey,
    /// Keys accepted (`None`: all).
    pub valid_digits: Option<KeySet>,
    /// Wait for the first input after the prompts.
    pub timeout: Duration,
    /// Gap allowed between keys.
    pub digit_timeout: Duration,
    /// Attempts when nothing is entered.
    pub attempts: u32,
}

/// Who hears a sound document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Listener {
    /// The caller.
    Caller,
    /// The dialed party.
    Callee,
}

/// What a room hears when a member enters or leaves.
#[derive(Debug, Clone)]
pub enum RoomSound {
    /// `beep:1` / `beep:2`.
    Beeps(u8),
    /// The Play/Speak/Wait of a fetched sound document.
    Sounds(Arc<Document>),
}

/// Where a recording comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordMode {
    /// `<Record>` in the foreground: the caller's voice, until a key, silence or maxLength.
    Foreground,
    /// `recordSession`: the whole call, in the background.
    Session,
    /// `startOnDialAnswer`: the bridged call, in the background.
    Bridge,
    /// `POST Call/{uuid}/Record/`: the call, in the background, for at most its time limit
    /// (the call stops it then).
    Api,
}

/// A recording the call started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordingRef {
    /// `RecordingID`.
    pub id: RecordingId,
    /// `RecordUrl`.
    pub url: String,
}

/// A command for the media or signalling layer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Command {
    /// Answer the (inbound) call.
    Answer,
    /// Open early media without answering.
    PreAnswer,
    /// Speak `speak` (all its loops; `loop=0` never finishes), then report
    /// [`Input::MediaFinished`].
    Speak {
        /// Reported back when done.
        media: MediaId,
        /// The `<Speak>`.
        speak: VerbRef,
    },
    /// Play `play` (all loops), then report [`Input::MediaFinished`].
    Play {
        /// Reported back when done.
        media: MediaId,
        /// The `<Play>`.
        play: VerbRef,
    },
    /// Play `count` beeps, then report [`Input::MediaFinished`].
    Beep {
        /// Reported back when done.
        media: MediaId,
        /// Number of beeps.
        count: u8,
    },
    /// Play the Play/Speak/Wait of `sounds` (repeating when `looped`) to `to`; report
    /// [`Input::MediaFinished`] when done (never, when looped).
    PlaySounds {
        /// Reported back when done.
        media: MediaId,
        /// The sound document.
        sounds: Arc<Document>,
        /// Who hears it.
        to: Listener,
        /// Repeat until stopped.
        looped: bool,
        /// Which attribute it came from (`waitSound`, `dialMusic`, …).
        what: &'static str,
    },
    /// Stop a media operation; no [`Input::MediaFinished`] is expected for it any more.
    StopMedia(MediaId),
    /// Send tones; report [`Input::MediaFinished`] when sent.
    SendDigits {
        /// Reported back when done.
        media: MediaId,
        /// The tones (`0-9*#A-D`, `w` = 0.5 s, `W` = 1 s).
        digits: String,
        /// Who they are sent to: the call's far end (`<DTMF>`, `POST Call/{uuid}/DTMF/` with
        /// `leg=aleg`), or the party its `<Dial>` bridged (`leg=bleg`).
        to: Listener,
    },
    /// Start collecting key presses and/or speech for a `<GetDigits>` / `<GetInput>`; report
    /// them as [`Input::Digits`] / [`Input::Speech`]. The call applies the timeouts itself;
    /// the settings are for media layers that collect on their own.
    StartCollect {
        /// Names the collection.
        media: MediaId,
        /// What to listen for.
        collect: Box<Collect>,
    },
    /// Stop collecting.
    StopCollect(MediaId),
    /// Start recording; report [`Input::RecordingFinished`] when the file is ready.
    StartRecording {
        /// Names the recording.
        media: MediaId,
        /// Foreground or background.
        mode: RecordMode,
        /// mp3 or wav.
        format: crate::xml::values::FileFormat,
        /// Longest recording (foreground).
        max_length: Option<Duration>,
        /// Silence that ends a foreground recording.
        silence_timeout: Option<Duration>,
        /// Its id and URL.
        recording: Box<RecordingRef>,
    },
    /// Stop a recording; [`Input::RecordingFinished`] follows.
    StopRecording(MediaId),
    /// Ring the `<Dial>`'s targets; report progress with [`Input::Dial`].
    Dial {
        /// Names the dial.
        media: MediaId,
        /// The `<Dial>` (targets and options).
        dial: Box<Dial>,
    },
    /// Stop ringing.
    CancelDial(MediaId),
    /// Hang up the dialed party (ends the bridge; the caller continues).
    HangupCallee(MediaId),
    /// Join a room: hand to [`Conferences::join`](super::Conferences::join).
    JoinConference {
        /// The room and the member's settings.
        request: Box<JoinRequest>,
        /// The member.
        member: Box<MemberInfo>,
    },
    /// Leave the room: hand to [`Conferences::leave`](super::Conferences::leave).
    LeaveConference {
        /// Why.
        reason: LeaveReason,
    },
    /// Play a sound to everyone in a room (enterSound / exitSound). The [`Engine`](super::Engine)
    /// drops it when the room no longer exists.
    RoomSound {
        /// The room's name space.
        kind: super::rooms::RoomKind,
        /// Room name.
        room: String,
        /// What to play.
        sound: RoomSound,
        /// `enterSound` or `exitSound`.
        what: &'static str,
    },
    /// Send an SMS (`<Message>`).
    SendMessage {
        /// Sender.
        src: Option<String>,
        /// Destination(s).
        dst: Option<String>,
        /// Text.
        text: String,
    },
    /// Start a WebSocket stream; [`Input::StreamEnded`] reports its end.
    StartStream {
        /// Names the stream.
        media: MediaId,
        /// The `<Stream>`.
        stream: Box<Stream>,
    },
    /// Stop a stream.
    StopStream(MediaId),
    /// Hang the call up. Not sent when the hangup came from outside ([`Input::Hangup`]).
    Hangup {
        /// Why.
        cause: HangupCause,
    },
}

/// A trace of execution, for transcripts and logs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CallEvent {
    /// A document was loaded and is about to run.
    DocumentLoaded {
        /// Where it came from.
        purpose: Purpose,
        /// How many verbs it has.
        verbs: usize,
    },
    /// A verb started.
    VerbStarted {
        /// Index in the document.
        index: usize,
        /// Index inside `<PreAnswer>`, when nested.
        sub: Option<usize>,
        /// Element name.
        verb: &'static str,
    },
    /// A verb finished.
    VerbFinished {
        /// Index in the document.
        index: usize,
        /// Index inside `<PreAnswer>`, when nested.
        sub: Option<usize>,
        /// Element name.
        verb: &'static str,
        /// How it ended.
        outcome: VerbOutcome,
    },
    /// A document request failed.
    FetchFailed {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A fetched body is not a valid document.
    InvalidDocument {
        /// The URL.
        url: String,
        /// What is wrong with it.
        diagnostics: Vec<Diagnostic>,
        /// The body, for rendering the diagnostics.
        body: String,
    },
    /// The call ended.
    Ended {
        /// Why.
        cause: HangupCause,
        /// Who ended it.
        source: HangupSource,
    },
}

/// One output of a call.
#[derive(Debug, Clone)]
pub enum Output {
    /// Something for the media/signalling layer to do.
    Command(Command),
    /// An HTTP request to send.
    Request(HttpRequest),
    /// A trace event.
    Event(CallEvent),
}
