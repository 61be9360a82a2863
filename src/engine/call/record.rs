//! `<Record>`: foreground recordings, and the background ones (`recordSession`,
//! `startOnDialAnswer`) whose files arrive later.

use crate::engine::Callback;
use std::time::Duration;

use super::parameters::{Ctx, Params};
use super::timers::Timer;
use super::{Action, Background, Call, Flow, Run, State, Step, secs};
use crate::engine::ids::MediaId;
use crate::engine::io::{Command, RecordMode, RecordingRef};
use crate::xml;
use crate::xml::values::{FileFormat, FinishOnKey, Method, Url};

/// The longest recording Plivo transcribes: 4 hours (docs: voice/xml/record).
const MAX_TRANSCRIBED_MS: u64 = 4 * 3600 * 1000;

/// A running foreground `<Record>`.
#[derive(Debug)]
pub(super) struct RecordRun {
    media: MediaId,
    phase: RecordPhase,
    recording: RecordingRef,
    digits: String,
    started_at: Duration,
    settings: Box<RecordSettings>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordPhase {
    Beep,
    Recording,
    Stopping,
}

/// What a foreground recording needs of its element, read once when it starts.
#[derive(Debug)]
struct RecordSettings {
    format: FileFormat,
    max_length: Duration,
    /// Silence that ends the recording (`timeout`).
    silence: Duration,
    finish_on_key: FinishOnKey,
    action: Option<Action>,
    callback: Option<(Url, Method)>,
    transcription: Option<(Url, Method)>,
}

/// The recording parameters of a callback or action (`<Record>`'s, the Call Record API's, and
/// a room recording's `record` callback). `RecordingStartMs`/`RecordingEndMs` are
/// `epoch` + the call's clock in milliseconds ([`super::CallConfig::clock_epoch`]: Unix epoch
/// ms in `serve`, as Plivo reports them; virtual ms in `run`/`test`).
pub(in crate::engine) fn recording_params(
    rec: &RecordingRef,
    epoch: Duration,
    started: Duration,
    duration_ms: u64,
) -> Params {
    let start_ms = epoch.saturating_add(started).as_millis();
    vec![
        ("RecordUrl".to_owned(), rec.url.clone()),
        ("RecordingID".to_owned(), rec.id.to_string()),
        ("RecordingDuration".to_owned(), (duration_ms / 1000).to_string()),
        ("RecordingDurationMs".to_owned(), duration_ms.to_string()),
        ("RecordingStartMs".to_owned(), start_ms.to_string()),
        ("RecordingEndMs".to_owned(), (start_ms + u128::from(duration_ms)).to_string()),
    ]
}

impl Call {
    pub(super) fn new_recording(&mut self, format: FileFormat) -> RecordingRef {
        let id = self.ids.uuid();
        let url = format!("{}/{}.{}", self.config.recording_url_base, id, format);
        RecordingRef { id: id.into(), url }
    }

    pub(super) fn start_record(&mut self, now: Duration, r: &xml::Record) -> Flow {
        self.ensure_answered(now);
        let recording = self.new_recording(r.file_format);
        let action = r.action.clone().map(|u| (u, r.method, r.redirect));
        let callback = r.callback_url.clone().map(|u| (u, r.callback_method));
        let transcription = r.transcription_url.clone().map(|u| (u, r.transcription_method));
        if r.record_session || r.start_on_dial_answer {
            let media = self.media_id();
            let armed = !r.record_session;
            if !armed {
                self.emit(Command::StartRecording {
                    media,
                    mode: RecordMode::Session,
                    format: r.file_format,
                    max_length: None,
                    silence_timeout: None,
                    recording: Box::new(recording.clone()),
                });
            }
            self.background.push(Background::Recording {
                media,
                recording: recording.clone(),
                armed,
                started_at: now,
                callback,
                transcription,
                format: r.file_format,
                until: None,
                stopping: false,
            });
            let params = vec![
                ("RecordUrl".to_owned(), recording.url.clone()),
                ("RecordingID".to_owned(), recording.id.to_string()),
                ("RecordingDuration".to_owned(), "-1".to_owned()),
                ("RecordingDurationMs".to_owned(), "-1".to_owned()),
                ("RecordingStartMs".to_owned(), "-1".to_owned()),
                ("RecordingEndMs".to_owned(), "-1".to_owned()),
            ];
            let outcome = super::Outcome::Background(if armed {
                "armed for the next answered Dial"
            } else {
                "recording the session"
            });
            // The verb completes at once; only an action with redirect=true stops the loop.
            return self.send_action(outcome, action, "Record", params);
        }
        let media = self.media_id();
        let settings = Box::new(RecordSettings {
            format: r.file_format,
            max_length: secs(r.max_length),
            silence: secs(r.timeout),
            finish_on_key: r.finish_on_key,
            action,
            callback,
            transcription,
        });
        let phase = if r.play_beep { RecordPhase::Beep } else { RecordPhase::Recording };
        let mut run = RecordRun { media, phase, recording, digits: String::new(), started_at: now, settings };
        if r.play_beep {
            self.emit(Command::Beep { media, count: 1 });
        } else {
            run.start_recording(&mut self.cx(), now);
        }
        self.state = State::Running(Run::Record(run));
        Flow::Wait
    }

    /// A recording file is ready: the foreground `<Record>`'s (its verb ends), or a background
    /// one's (its callbacks fire; also after the call ended).
    pub(super) fn on_recording_finished(&mut self, now: Duration, media: MediaId, duration_ms: u64) {
        if let (State::Running(Run::Record(r)), mut cx) = self.parts()
            && let Some(step) = r.on_finished(&mut cx, media, duration_ms)
        {
            self.apply(now, step);
            return;
        }
        self.background_recording_finished(media, duration_ms);
    }

    pub(super) fn background_recording_finished(&mut self, media: MediaId, duration_ms: u64) {
        let pos = self
            .background
            .iter()
            .position(|b| matches!(b, Background::Recording { media: m, armed: false, .. } if *m == media));
        let Some(pos) = pos else { return };
        if let Background::Recording { recording, started_at, callback, transcription, .. } =
            self.background.remove(pos)
        {
            let epoch = self.config.clock_epoch;
            let mut cx = self.cx();
            if let Some((url, method)) = callback {
                let params = recording_params(&recording, epoch, started_at, duration_ms);
                cx.notify(&url, method, Callback::Recording, params);
            }
            if let Some((url, method)) = transcription {
                cx.transcription_callback(&url, method, &recording.id, duration_ms);
            }
        }
    }
}

impl RecordRun {
    fn start_recording(&mut self, cx: &mut Ctx<'_>, now: Duration) {
        self.started_at = now;
        let s = &self.settings;
        cx.timers.set(Timer::Verb, now + s.max_length);
        cx.emit(Command::StartRecording {
            media: self.media,
            mode: RecordMode::Foreground,
            format: s.format,
            max_length: Some(s.max_length),
            silence_timeout: Some(s.silence),
            recording: Box::new(self.recording.clone()),
        });
    }

    /// The beep finished: the recording starts.
    pub(super) fn on_media_finished(&mut self, cx: &mut Ctx<'_>, now: Duration, m: MediaId) {
        if self.media == m && self.phase == RecordPhase::Beep {
            self.phase = RecordPhase::Recording;
            self.start_recording(cx, now);
        }
    }

    /// `maxLength` reached.
    pub(super) fn on_max_length(&mut self, cx: &mut Ctx<'_>) -> Step {
        if self.phase == RecordPhase::Recording {
            self.phase = RecordPhase::Stopping;
            cx.emit(Command::StopRecording(self.media));
        }
        Step::Stay
    }

    pub(super) fn on_key(&mut self, cx: &mut Ctx<'_>, key: char) -> Step {
        if self.phase == RecordPhase::Recording && self.settings.finish_on_key.ends_on(key) {
            self.phase = RecordPhase::Stopping;
            self.digits.push(key);
            cx.emit(Command::StopRecording(self.media));
        }
        Step::Stay
    }

    /// The file of `media` is ready; `None` when it is not this verb's recording.
    fn on_finished(&self, cx: &mut Ctx<'_>, media: MediaId, duration_ms: u64) -> Option<Step> {
        if self.media != media || self.phase == RecordPhase::Beep {
            return None;
        }
        let s = &self.settings;
        let mut params = recording_params(&self.recording, cx.config.clock_epoch, self.started_at, duration_ms);
        if let Some((url, method)) = &s.callback {
            cx.notify(url, *method, Callback::Recording, params.clone());
        }
        if let Some((url, method)) = &s.transcription {
            cx.transcription_callback(url, *method, &self.recording.id, duration_ms);
        }
        params.push(("Digits".to_owned(), self.digits.clone()));
        let outcome = super::Outcome::Recorded { duration_ms, digits: self.digits.clone() };
        Some(Step::Action { outcome, action: s.action.clone(), verb: "Record", params })
    }

    /// Stops the beep or the recording (hangup, transfer); a stopped recording's file still
    /// arrives later and its callbacks must still fire, so it moves to the background.
    pub(super) fn abort(self, cx: &mut Ctx<'_>) {
        if self.phase == RecordPhase::Beep {
            cx.emit(Command::StopMedia(self.media));
            return;
        }
        cx.emit(Command::StopRecording(self.media));
        let RecordSettings { callback, transcription, format, .. } = *self.settings;
        cx.background.push(Background::Recording {
            media: self.media,
            recording: self.recording,
            armed: false,
            started_at: self.started_at,
            callback,
            transcription,
            format,
            until: None,
            stopping: true,
        });
    }
}

impl Ctx<'_> {
    /// The `transcriptionUrl` request for a finished recording `duration_ms` long, with
    /// Plivo's parameters (docs: voice/xml/record, "Parameters sent to the transcription
    /// URL"): `transcription_charge`, `transcription`, `duration` (s), `call_uuid`,
    /// `transcription_rate`, `recording_id`, and `error` when the recording cannot be
    /// transcribed (longer than 4 hours). The text is [`CallConfig::transcription_text`](super::CallConfig::transcription_text);
    /// nothing is charged. Plivo sends it minutes later; here it follows the file at once.
    fn transcription_callback(&mut self, url: &Url, method: Method, recording_id: &str, duration_ms: u64) {
        let too_long = duration_ms > MAX_TRANSCRIBED_MS;
        let text = if too_long { String::new() } else { self.config.transcription_text.clone() };
        let mut params = vec![
            ("transcription_charge".to_owned(), "0.00000".to_owned()),
            ("transcription".to_owned(), text),
            ("duration".to_owned(), (duration_ms / 1000).to_string()),
            ("call_uuid".to_owned(), self.setup.id.as_str().to_owned()),
            ("transcription_rate".to_owned(), "0.00000".to_owned()),
            ("recording_id".to_owned(), recording_id.to_owned()),
        ];
        if too_long {
            params.push(("error".to_owned(), "Recording duration too long for transcription".to_owned()));
        }
        self.notify(url, method, Callback::Transcription, params);
    }
}
