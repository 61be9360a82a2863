//! `<Dial>`.

use super::*;

#[derive(Debug)]
pub(super) struct DialRun {
    pub(super) media: MediaId,
    pub(super) phase: DialPhase,
    pub(super) music: Option<MediaId>,
    pub(super) rang: bool,
    pub(super) caller_digits: String,
    pub(super) callee_digits: String,
}

#[derive(Debug)]
pub(super) enum DialPhase {
    Ringing,
    Confirming { b_leg: CallId, to: String },
    Bridged { b_leg: CallId, to: String, since: Duration },
}

impl Call {
    pub(super) fn start_dial(&mut self, now: Duration, d: &xml::Dial) -> Flow {
        let media = self.media_id();
        self.emit(Command::Dial { media, dial: Box::new(d.clone()) });
        if let Some(t) = d.timeout {
            self.timers[T_VERB] = Some(now + secs(t));
        }
        if let Some(DialMusic::Url(url)) = &d.dial_music {
            let url = url.clone();
            self.request_sound(&url, Method::Post, SoundUse::DialMusic, "dialMusic");
        }
        self.state = State::Running(Run::Dial(DialRun {
            media,
            phase: DialPhase::Ringing,
            music: None,
            rang: false,
            caller_digits: String::new(),
            callee_digits: String::new(),
        }));
        Flow::Wait
    }

    pub(super) fn dial_params(&self, event: &str, b_leg: Option<(&CallId, &str)>) -> Vec<(String, String)> {
        let mut p = vec![
            ("DialAction".to_owned(), event.to_owned()),
            ("DialALegUUID".to_owned(), self.setup.id.as_str().to_owned()),
        ];
        if let Some((b, to)) = b_leg {
            p.push(("DialBLegUUID".to_owned(), b.as_str().to_owned()));
            p.push(("DialBLegTo".to_owned(), to.to_owned()));
            p.push(("DialBLegFrom".to_owned(), self.setup.from.clone()));
        }
        p
    }

    pub(super) fn dial_callback(&mut self, event: &'static str, mut extra: Vec<(String, String)>) {
        let Some(Verb::Dial(v)) = self.verb_here() else {
            return;
        };
        let Some(url) = v.callback_url.clone() else {
            return;
        };
        let method = v.callback_method;
        let b = match &self.state {
            State::Running(Run::Dial(DialRun {
                phase: DialPhase::Bridged { b_leg, to, .. } | DialPhase::Confirming { b_leg, to },
                ..
            })) => Some((b_leg.clone(), to.clone())),
            _ => None,
        };
        let mut params = self.dial_params(event, b.as_ref().map(|(b, t)| (b, t.as_str())));
        params.append(&mut extra);
        self.notify(&url, method, "dial", params);
    }

    pub(super) fn on_dial(&mut self, now: Duration, e: DialEvent) {
        let State::Running(Run::Dial(d)) = &mut self.state else {
            return;
        };
        match e {
            DialEvent::Ringing => d.rang = true,
            DialEvent::Answered { b_leg, to } => {
                if !matches!(d.phase, DialPhase::Ringing) {
                    return;
                }
                self.timers[T_VERB] = None;
                let confirm = match self.verb_here() {
                    Some(Verb::Dial(v)) => v.confirm_key.map(|_| (secs(v.confirm_timeout), v.confirm_sound.clone())),
                    _ => None,
                };
                if let Some((timeout, sound)) = confirm {
                    if let State::Running(Run::Dial(d)) = &mut self.state {
                        d.phase = DialPhase::Confirming { b_leg, to };
                    }
                    self.timers[T_VERB] = Some(now + timeout);
                    if let Some(url) = sound {
                        self.request_sound(&url, Method::Post, SoundUse::ConfirmSound, "confirmSound");
                    }
                } else {
                    self.bridge(now, b_leg, to);
                }
            }
            DialEvent::Busy => self.finish_dial(now, "busy", None),
            DialEvent::NoAnswer => self.finish_dial(now, "no-answer", None),
            DialEvent::Failed => self.finish_dial(now, "failed", None),
            DialEvent::CalleeDigits(keys) => {
                for k in keys.chars() {
                    self.dial_callee_key(now, k);
                }
            }
            DialEvent::CalleeHangup => {
                if matches!(d.phase, DialPhase::Bridged { .. } | DialPhase::Confirming { .. }) {
                    let bridged = matches!(d.phase, DialPhase::Bridged { .. });
                    self.finish_dial(now, if bridged { "completed" } else { "no-answer" }, Some("callee hung up"));
                }
            }
        }
    }

    pub(super) fn bridge(&mut self, now: Duration, b_leg: CallId, to: String) {
        let State::Running(Run::Dial(d)) = &mut self.state else {
            return;
        };
        if let Some(m) = d.music.take() {
            self.out.push_back(Output::Command(Command::StopMedia(m)));
        }
        d.phase = DialPhase::Bridged { b_leg, to, since: now };
        self.timers[T_VERB] = None;
        if self.answered_at.is_none() {
            // A caller who reaches the `<Dial>` unanswered is answered when the callee is.
            self.mark_answered(now);
            self.emit(Command::Answer);
        }
        if let Some(Verb::Dial(v)) = self.verb_here() {
            self.timers[T_AUX] = Some(now + secs(v.time_limit.min(86_400)));
        }
        // startOnDialAnswer recordings start now.
        let mut starts = Vec::new();
        for b in &mut self.background {
            if let Background::Recording { media, recording, armed, started_at, format, .. } = b
                && *armed
            {
                *armed = false;
                *started_at = now;
                starts.push((*media, recording.clone(), *format));
            }
        }
        for (media, recording, format) in starts {
            self.emit(Command::StartRecording {
                media,
                mode: RecordMode::Bridge,
                format,
                max_length: None,
                silence_timeout: None,
                recording: Box::new(recording),
            });
        }
        self.dial_callback("answer", vec![("DialBLegStatus".to_owned(), "answer".to_owned())]);
    }

    pub(super) fn dial_caller_key(&mut self, now: Duration, key: char) {
        let Some(Verb::Dial(v)) = self.verb_here() else {
            return;
        };
        let (star, patterns) = (v.hangup_on_star, v.digits_match.clone());
        let State::Running(Run::Dial(d)) = &mut self.state else {
            return;
        };
        if !matches!(d.phase, DialPhase::Bridged { .. }) {
            return;
        }
        if star && key == '*' {
            let media = d.media;
            self.emit(Command::HangupCallee(media));
            self.finish_dial(now, "completed", Some("caller pressed *"));
            return;
        }
        d.caller_digits.push(key);
        if let Some(p) = patterns.and_then(|p| matched(&mut d.caller_digits, p.patterns())) {
            self.dial_callback(
                "digits",
                vec![("DialDigitsMatch".to_owned(), p), ("DialDigitsPressedBy".to_owned(), "ALeg".to_owned())],
            );
        }
    }

    pub(super) fn dial_callee_key(&mut self, now: Duration, key: char) {
        let Some(Verb::Dial(v)) = self.verb_here() else {
            return;
        };
        let (confirm, patterns) = (v.confirm_key, v.digits_match_b_leg.clone());
        let State::Running(Run::Dial(d)) = &mut self.state else {
            return;
        };
        match &d.phase {
            DialPhase::Confirming { b_leg, to } => {
                if confirm.is_some_and(|k| k.as_char() == key) {
                    let (b, t) = (b_leg.clone(), to.clone());
                    self.bridge(now, b, t);
                }
            }
            DialPhase::Bridged { .. } => {
                d.callee_digits.push(key);
                if let Some(p) = patterns.and_then(|p| matched(&mut d.callee_digits, p.patterns())) {
                    self.dial_callback(
                        "digits",
                        vec![("DialDigitsMatch".to_owned(), p), ("DialDigitsPressedBy".to_owned(), "BLeg".to_owned())],
                    );
                }
            }
            DialPhase::Ringing => {}
        }
    }

    pub(super) fn finish_dial(&mut self, now: Duration, status: &'static str, why: Option<&str>) {
        let State::Running(Run::Dial(d)) = &mut self.state else {
            return;
        };
        if let Some(m) = d.music.take() {
            self.out.push_back(Output::Command(Command::StopMedia(m)));
        }
        let rang = d.rang || matches!(d.phase, DialPhase::Bridged { .. } | DialPhase::Confirming { .. });
        let bridged = match &d.phase {
            DialPhase::Bridged { b_leg, since, .. } => Some((b_leg.clone(), now.saturating_sub(*since))),
            _ => None,
        };
        let b_uuid = match &d.phase {
            DialPhase::Bridged { b_leg, .. } | DialPhase::Confirming { b_leg, .. } => b_leg.as_str().to_owned(),
            DialPhase::Ringing => String::new(),
        };
        if let Some((_, dur)) = &bridged {
            let secs_ = dur.as_secs().to_string();
            self.dial_callback(
                "hangup",
                vec![
                    ("DialBLegStatus".to_owned(), "hangup".to_owned()),
                    ("DialBLegDuration".to_owned(), secs_.clone()),
                    ("DialBLegBillDuration".to_owned(), secs_),
                    ("DialBLegHangupCauseName".to_owned(), "Normal Hangup".to_owned()),
                    ("DialBLegHangupCauseCode".to_owned(), "4000".to_owned()),
                ],
            );
        }
        let Some(Verb::Dial(v)) = self.verb_here() else {
            return;
        };
        let action = v.action.clone().map(|u| (u, v.method, v.redirect));
        let params = vec![
            ("DialStatus".to_owned(), status.to_owned()),
            ("DialRingStatus".to_owned(), rang.to_string()),
            ("DialHangupCause".to_owned(), dial_cause(status).to_owned()),
            ("DialALegUUID".to_owned(), self.setup.id.as_str().to_owned()),
            ("DialBLegUUID".to_owned(), b_uuid),
        ];
        let outcome = match why {
            Some(w) => format!("{status} ({w})"),
            None => status.to_owned(),
        };
        self.complete_with_action(now, outcome, action, "Dial", params);
    }

    // ------------------------------------------------------------------ conference / MPC
}

/// The FreeSWITCH-style cause sent as `DialHangupCause` for a `DialStatus`.
pub(super) fn dial_cause(status: &str) -> &'static str {
    match status {
        "busy" => "USER_BUSY",
        "no-answer" => "NO_ANSWER",
        "failed" => "NORMAL_TEMPORARY_FAILURE",
        _ => "NORMAL_CLEARING",
    }
}

/// Appends nothing; checks whether `buffer` ends with one of `patterns`, and if so clears it and
/// returns the pattern.
pub(super) fn matched(buffer: &mut String, patterns: &[String]) -> Option<String> {
    let hit = patterns.iter().find(|p| buffer.ends_with(p.as_str()))?.clone();
    buffer.clear();
    Some(hit)
}
