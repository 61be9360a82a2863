//! Plivo's Call API on a live call, from outside its document
//! (<https://www.plivo.com/docs/voice/api/call/>): play and speak over what the call does,
//! DTMF, and background recordings (start with a `time_limit`, stop).
//!
//! What these start is background work ([`Background::ApiSound`],
//! [`Background::Recording`]): the running verb goes on beside it. A new play (speak) replaces
//! the play (speak) the API started before, so a call holds at most one of each per leg.

use std::sync::Arc;
use std::time::Duration;

use super::{Background, Call, Run, State};
use crate::engine::ids::{CallId, MediaId};
use crate::engine::io::{Command, Listener, RecordMode, RecordingRef};
use crate::xml::Document;
use crate::xml::values::{FileFormat, Method, Url};

/// The `what` of an API play's [`Command::PlaySounds`] (transcripts: `playing URL (API)`).
pub const API_PLAY: &str = "API play";
/// The `what` of an API speak's [`Command::PlaySounds`] (transcripts: `speaking "…" (API)`).
pub const API_SPEAK: &str = "API speak";

/// Which legs hear an API play or speak (Plivo's `legs`: `aleg`, `bleg`, `both`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallLegs {
    /// The call itself (`aleg`, the default).
    ALeg,
    /// The party it is bridged to by a `<Dial>` (`bleg`).
    BLeg,
    /// Both (`both`); only the call when it is not bridged.
    Both,
}

impl CallLegs {
    /// Plivo's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CallLegs::ALeg => "aleg",
            CallLegs::BLeg => "bleg",
            CallLegs::Both => "both",
        }
    }
}

/// Which kind of API sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ApiSound {
    /// `POST Call/{uuid}/Play/`.
    Play,
    /// `POST Call/{uuid}/Speak/`.
    Speak,
}

/// A REST operation on one live call.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CallOp {
    /// `POST Call/{uuid}/Play/`: play the `<Play>`s of `sounds` (in order; again and again
    /// when `looped`) to `legs`, over what the call does.
    Play {
        /// A document of `<Play>` elements.
        sounds: Arc<Document>,
        /// Who hears it.
        legs: CallLegs,
        /// Repeat until stopped (`loop=true`).
        looped: bool,
    },
    /// `DELETE Call/{uuid}/Play/`.
    StopPlay,
    /// `POST Call/{uuid}/Speak/`: speak the `<Speak>` of `sounds` to `legs`.
    Speak {
        /// A document of one `<Speak>`.
        sounds: Arc<Document>,
        /// Who hears it.
        legs: CallLegs,
        /// Repeat until stopped (`loop=true`).
        looped: bool,
    },
    /// `DELETE Call/{uuid}/Speak/`.
    StopSpeak,
    /// `POST Call/{uuid}/DTMF/`: send tones (`0-9*#A-D`, `w` 0.5 s, `W` 1 s).
    SendDigits {
        /// The tones.
        digits: String,
        /// To the bridged party (`leg=bleg`) instead of the call.
        b_leg: bool,
    },
    /// `POST Call/{uuid}/Record/`: record the call in the background for at most
    /// `time_limit`; `callback` gets the recording's parameters (those of `<Record
    /// callbackUrl>`) when the file is ready, `transcription` the transcription.
    StartRecording {
        /// mp3 or wav.
        format: FileFormat,
        /// The longest it records.
        time_limit: Duration,
        /// `callback_url`, `callback_method`.
        callback: Option<(Url, Method)>,
        /// `transcription_url`, `transcription_method`.
        transcription: Option<(Url, Method)>,
    },
    /// `DELETE Call/{uuid}/Record/`: stop the call's background recordings (`recordSession`
    /// and the API's), or only the one whose file is `url`.
    StopRecording {
        /// Plivo's `URL` parameter.
        url: Option<String>,
    },
}

impl CallOp {
    /// The operation as the transcript's `api` line names it (`play https://…/x.mp3 (aleg)`).
    pub fn describe(&self) -> String {
        let sound = |verb: &str, sounds: &Document, legs: CallLegs, looped: bool| {
            let what: Vec<String> = sounds
                .verbs
                .iter()
                .filter_map(|v| match v {
                    crate::xml::Verb::Play(p) => p.url.as_ref().map(|u| u.as_str().to_owned()),
                    crate::xml::Verb::Speak(s) => Some(format!("\"{}\"", s.text())),
                    _ => None,
                })
                .collect();
            let looping = if looped { ", looping" } else { "" };
            format!("{verb} {} ({}{looping})", what.join(", "), legs.as_str())
        };
        match self {
            CallOp::Play { sounds, legs, looped } => sound("play", sounds, *legs, *looped),
            CallOp::Speak { sounds, legs, looped } => sound("speak", sounds, *legs, *looped),
            CallOp::StopPlay => "stop play".to_owned(),
            CallOp::StopSpeak => "stop speak".to_owned(),
            CallOp::SendDigits { digits, b_leg } => {
                format!("send digits {digits} ({})", if *b_leg { "bleg" } else { "aleg" })
            }
            CallOp::StartRecording { format, time_limit, .. } => {
                format!("record ({format}, at most {} s)", time_limit.as_secs())
            }
            CallOp::StopRecording { url: None } => "stop recording".to_owned(),
            CallOp::StopRecording { url: Some(u) } => format!("stop recording {u}"),
        }
    }
}

/// Why a [`CallOp`] was refused; nothing changed then.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallOpError {
    /// No such call, or it has ended.
    #[error("no live call {0}")]
    NotLive(CallId),
    /// `bleg` was asked for, and the call is not bridged by a `<Dial>`.
    #[error("call {0} has no B leg: it is not bridged by a <Dial>")]
    NoBLeg(CallId),
    /// A stop play, and no play the API started is playing.
    #[error("call {0} is not playing audio started with POST Call/{0}/Play/")]
    NotPlaying(CallId),
    /// A stop speak, and no speech the API started is being spoken.
    #[error("call {0} is not speaking text started with POST Call/{0}/Speak/")]
    NotSpeaking(CallId),
    /// A stop recording, and no background recording is running.
    #[error("call {0} is not recording")]
    NotRecording(CallId),
    /// A stop recording of one file (`URL`), and no running background recording has it.
    #[error("call {call} is not recording to {url}")]
    NotRecordingTo {
        /// The call.
        call: CallId,
        /// The URL asked for.
        url: String,
    },
}

impl ApiSound {
    fn what(self) -> &'static str {
        match self {
            ApiSound::Play => API_PLAY,
            ApiSound::Speak => API_SPEAK,
        }
    }
}

impl Call {
    /// Carries out a Call API operation at `now`; a started recording's id and URL.
    ///
    /// # Errors
    /// [`CallOpError`]; nothing changed then.
    pub fn call_op(&mut self, now: Duration, op: CallOp) -> Result<Option<RecordingRef>, CallOpError> {
        self.clock = now;
        let id = self.setup.id.clone();
        if self.is_ended() {
            return Err(CallOpError::NotLive(id));
        }
        match op {
            CallOp::Play { sounds, legs, looped } => {
                self.api_sound(ApiSound::Play, sounds, legs, looped).map(|()| None)
            }
            CallOp::Speak { sounds, legs, looped } => {
                self.api_sound(ApiSound::Speak, sounds, legs, looped).map(|()| None)
            }
            CallOp::StopPlay => {
                if self.stop_api_sounds(ApiSound::Play) {
                    Ok(None)
                } else {
                    Err(CallOpError::NotPlaying(id))
                }
            }
            CallOp::StopSpeak => {
                if self.stop_api_sounds(ApiSound::Speak) {
                    Ok(None)
                } else {
                    Err(CallOpError::NotSpeaking(id))
                }
            }
            CallOp::SendDigits { digits, b_leg } => {
                if b_leg && !self.is_bridged() {
                    return Err(CallOpError::NoBLeg(id));
                }
                let media = self.media_id();
                let to = if b_leg { Listener::Callee } else { Listener::Caller };
                self.emit(Command::SendDigits { media, digits, to });
                Ok(None)
            }
            CallOp::StartRecording { format, time_limit, callback, transcription } => {
                let recording = self.new_recording(format);
                let media = self.media_id();
                self.emit(Command::StartRecording {
                    media,
                    mode: RecordMode::Api,
                    format,
                    max_length: Some(time_limit),
                    silence_timeout: None,
                    recording: Box::new(recording.clone()),
                });
                self.background.push(Background::Recording {
                    media,
                    recording: recording.clone(),
                    armed: false,
                    started_at: now,
                    callback,
                    transcription,
                    format,
                    until: Some(now + time_limit),
                    stopping: false,
                });
                Ok(Some(recording))
            }
            CallOp::StopRecording { url } => {
                let stopped = self.stop_recordings(|r| url.as_ref().is_none_or(|u| *u == r.url), None);
                match (stopped, url) {
                    (true, _) => Ok(None),
                    (false, None) => Err(CallOpError::NotRecording(id)),
                    (false, Some(url)) => Err(CallOpError::NotRecordingTo { call: id, url }),
                }
            }
        }
    }

    fn is_bridged(&self) -> bool {
        matches!(&self.state, State::Running(Run::Dial(d)) if d.is_bridged())
    }

    fn api_sound(
        &mut self,
        kind: ApiSound,
        sounds: Arc<Document>,
        legs: CallLegs,
        looped: bool,
    ) -> Result<(), CallOpError> {
        let bridged = self.is_bridged();
        let to: &[Listener] = match (legs, bridged) {
            (CallLegs::BLeg, false) => return Err(CallOpError::NoBLeg(self.setup.id.clone())),
            (CallLegs::ALeg, _) | (CallLegs::Both, false) => &[Listener::Caller],
            (CallLegs::BLeg, true) => &[Listener::Callee],
            (CallLegs::Both, true) => &[Listener::Caller, Listener::Callee],
        };
        self.stop_api_sounds(kind);
        for to in to {
            let media = self.media_id();
            self.emit(Command::PlaySounds { media, sounds: sounds.clone(), to: *to, looped, what: kind.what() });
            self.background.push(Background::ApiSound { media, kind });
        }
        Ok(())
    }

    /// Stops the API sounds of `kind`; false when there was none.
    fn stop_api_sounds(&mut self, kind: ApiSound) -> bool {
        let mut stopped = Vec::new();
        self.background.retain(|b| match b {
            Background::ApiSound { media, kind: k } if *k == kind => {
                stopped.push(*media);
                false
            }
            _ => true,
        });
        for m in &stopped {
            self.emit(Command::StopMedia(*m));
        }
        !stopped.is_empty()
    }

    /// An API sound `m` finished by itself: it is no longer playing.
    pub(super) fn api_sound_finished(&mut self, m: MediaId) {
        self.background.retain(|b| !matches!(b, Background::ApiSound { media, .. } if *media == m));
    }

    /// Stops the running background recordings that `which` picks (and, with `due`, only
    /// those whose time limit has passed by then); their files and callbacks follow. False
    /// when none was stopped.
    fn stop_recordings(&mut self, which: impl Fn(&RecordingRef) -> bool, due: Option<Duration>) -> bool {
        let mut stop = Vec::new();
        for b in &mut self.background {
            if let Background::Recording { media, recording, armed: false, stopping, until, .. } = b
                && !*stopping
                && which(recording)
                && due.is_none_or(|now| until.is_some_and(|u| u <= now))
            {
                *stopping = true;
                *until = None;
                stop.push(*media);
            }
        }
        for m in &stop {
            self.emit(Command::StopRecording(*m));
        }
        !stop.is_empty()
    }

    /// Stops the API recordings whose `time_limit` has passed.
    pub(super) fn stop_timed_out_recordings(&mut self, now: Duration) {
        self.stop_recordings(|_| true, Some(now));
    }
}
