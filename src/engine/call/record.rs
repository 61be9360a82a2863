//! `<Record>`: foreground, session and dial-answer recordings.

use super::*;

#[derive(Debug)]
pub(super) struct RecordRun {
    pub(super) media: MediaId,
    pub(super) phase: RecordPhase,
    pub(super) recording: RecordingRef,
    pub(super) digits: String,
    pub(super) started_at: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RecordPhase {
    Beep,
    Recording,
    Stopping,
}

/// The longest recording Plivo transcribes: 4 hours (docs: voice/xml/record).
pub(super) const MAX_TRANSCRIBED_MS: u64 = 4 * 3600 * 1000;

impl Call {
    pub(super) fn new_recording(&mut self, format: xml::values::FileFormat) -> RecordingRef {
        let id = self.ids.uuid();
        let url = format!("{}/{}.{}", self.config.recording_url_base, id, format);
        RecordingRef { id, url }
    }

    pub(super) fn start_record(&mut self, now: Duration, r: &xml::Record) -> Flow {
        self.ensure_answered(now);
        let recording = self.new_recording(r.file_format);
        let action = r.action.clone().map(|u| (u, r.method, r.redirect));
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
                callback: r.callback_url.clone().map(|u| (u, r.callback_method)),
                transcription: r.transcription_url.clone().map(|u| (u, r.transcription_method)),
                format: r.file_format,
            });
            let params = vec![
                ("RecordUrl".to_owned(), recording.url.clone()),
                ("RecordingID".to_owned(), recording.id.clone()),
                ("RecordingDuration".to_owned(), "-1".to_owned()),
                ("RecordingDurationMs".to_owned(), "-1".to_owned()),
                ("RecordingStartMs".to_owned(), "-1".to_owned()),
                ("RecordingEndMs".to_owned(), "-1".to_owned()),
            ];
            let outcome = if armed { "armed for the next answered Dial" } else { "recording the session" };
            // The verb completes at once; only an action with redirect=true stops the loop.
            return self.send_action(outcome, action, "Record", params);
        }
        let media = self.media_id();
        let phase = if r.play_beep { RecordPhase::Beep } else { RecordPhase::Recording };
        self.state =
            State::Running(Run::Record(RecordRun { media, phase, recording, digits: String::new(), started_at: now }));
        if r.play_beep {
            self.emit(Command::Beep { media, count: 1 });
        } else {
            self.start_foreground_recording(now);
        }
        Flow::Wait
    }

    pub(super) fn start_foreground_recording(&mut self, now: Duration) {
        let Some(Verb::Record(v)) = self.verb_here() else {
            return;
        };
        let (format, max_length, timeout) = (v.file_format, secs(v.max_length), secs(v.timeout));
        let State::Running(Run::Record(r)) = &mut self.state else {
            return;
        };
        r.started_at = now;
        let (media, recording) = (r.media, r.recording.clone());
        self.timers[T_VERB] = Some(now + max_length);
        self.emit(Command::StartRecording {
            media,
            mode: RecordMode::Foreground,
            format,
            max_length: Some(max_length),
            silence_timeout: Some(timeout),
            recording: Box::new(recording),
        });
    }

    pub(super) fn recording_params(rec: &RecordingRef, started: Duration, duration_ms: u64) -> Vec<(String, String)> {
        let start_ms = started.as_millis();
        vec![
            ("RecordUrl".to_owned(), rec.url.clone()),
            ("RecordingID".to_owned(), rec.id.clone()),
            ("RecordingDuration".to_owned(), (duration_ms / 1000).to_string()),
            ("RecordingDurationMs".to_owned(), duration_ms.to_string()),
            ("RecordingStartMs".to_owned(), start_ms.to_string()),
            ("RecordingEndMs".to_owned(), (start_ms + u128::from(duration_ms)).to_string()),
        ]
    }

    pub(super) fn on_recording_finished(&mut self, now: Duration, media: MediaId, duration_ms: u64) {
        if let State::Running(Run::Record(r)) = &self.state
            && r.media == media
            && r.phase != RecordPhase::Beep
        {
            let params = Self::recording_params(&r.recording, r.started_at, duration_ms);
            let digits = r.digits.clone();
            let Some(Verb::Record(v)) = self.verb_here() else {
                return;
            };
            let action = v.action.clone().map(|u| (u, v.method, v.redirect));
            let callback = v.callback_url.clone().map(|u| (u, v.callback_method));
            let transcription = v.transcription_url.clone().map(|u| (u, v.transcription_method));
            let recording_id = r.recording.id.clone();
            if let Some((url, method)) = callback {
                self.notify(&url, method, "recording", params.clone());
            }
            if let Some((url, method)) = transcription {
                self.transcription_callback(&url, method, &recording_id, duration_ms);
            }
            let mut params = params;
            params.push(("Digits".to_owned(), digits.clone()));
            let outcome = format!(
                "recorded {duration_ms} ms{}",
                if digits.is_empty() { String::new() } else { format!(", ended by {digits}") }
            );
            self.complete_with_action(now, outcome, action, "Record", params);
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
            if let Some((url, method)) = callback {
                let params = Self::recording_params(&recording, started_at, duration_ms);
                self.notify(&url, method, "recording", params);
            }
            if let Some((url, method)) = transcription {
                self.transcription_callback(&url, method, &recording.id, duration_ms);
            }
        }
    }

    /// The `transcriptionUrl` request for a finished recording `duration_ms` long, with
    /// Plivo's parameters (docs: voice/xml/record, "Parameters sent to the transcription
    /// URL"): `transcription_charge`, `transcription`, `duration` (s), `call_uuid`,
    /// `transcription_rate`, `recording_id`, and `error` when the recording cannot be
    /// transcribed (longer than 4 hours). The text is [`CallConfig::transcription_text`];
    /// nothing is charged. Plivo sends it minutes later; here it follows the file at once.
    pub(super) fn transcription_callback(&mut self, url: &Url, method: Method, recording_id: &str, duration_ms: u64) {
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
        self.notify(url, method, "transcription", params);
    }

    // ------------------------------------------------------------------ dial
}
