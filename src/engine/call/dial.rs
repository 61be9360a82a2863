//! `<Dial>`: ringing, the callee's confirmation, the bridge and its end.

use crate::engine::Callback;
use crate::engine::DialStatus;
use std::sync::Arc;
use std::time::Duration;

use super::parameters::{Ctx, Params};
use super::sounds::SoundUse;
use super::timers::Timer;
use super::{Action, Background, Call, Flow, Run, State, Step, secs};
use crate::engine::ids::{CallId, MediaId};
use crate::engine::io::{Command, DialEvent, Listener, RecordMode};
use crate::xml;
use crate::xml::Document;
use crate::xml::values::{DialMusic, DigitPatterns, Key, Method, Url};
use thin_vec::ThinVec;

/// A running `<Dial>`.
#[derive(Debug)]
pub(super) struct DialRun {
    media: MediaId,
    phase: DialPhase,
    music: Option<MediaId>,
    rang: bool,
    caller_digits: KeyTail,
    callee_digits: KeyTail,
    settings: Box<DialSettings>,
}

#[derive(Debug)]
enum DialPhase {
    Ringing,
    Confirming { b_leg: CallId, to: String },
    Bridged { b_leg: CallId, to: String, since: Duration },
}

/// What a dial needs of its element after it started, read once.
#[derive(Debug)]
struct DialSettings {
    /// `confirmKey`, `confirmTimeout`, `confirmSound`.
    confirm: Option<(Key, Duration, Option<Url>)>,
    time_limit: Duration,
    callback: Option<(Url, Method)>,
    hangup_on_star: bool,
    digits_match: Option<DigitPatterns>,
    digits_match_b_leg: Option<DigitPatterns>,
    action: Option<Action>,
}

/// The longest a bridge lasts, whatever `timeLimit` says (24 h).
const MAX_TIME_LIMIT_SECS: u32 = 86_400;

impl Call {
    pub(super) fn start_dial(&mut self, now: Duration, d: &xml::Dial) -> Flow {
        let media = self.media_id();
        self.emit(Command::Dial { media, dial: Box::new(d.clone()) });
        if let Some(t) = d.timeout {
            self.timers.set(Timer::Verb, now + secs(t));
        }
        if let Some(DialMusic::Url(url)) = &d.dial_music {
            self.request_sound(url, Method::Post, SoundUse::DialMusic, "dialMusic");
        }
        let settings = Box::new(DialSettings {
            confirm: d.confirm_key.map(|k| (k, secs(d.confirm_timeout), d.confirm_sound.clone())),
            time_limit: secs(d.time_limit.min(MAX_TIME_LIMIT_SECS)),
            callback: d.callback_url.clone().map(|u| (u, d.callback_method)),
            hangup_on_star: d.hangup_on_star,
            digits_match: d.digits_match.clone(),
            digits_match_b_leg: d.digits_match_b_leg.clone(),
            action: d.action.clone().map(|u| (u, d.method, d.redirect)),
        });
        self.state = State::Running(Run::Dial(DialRun {
            media,
            phase: DialPhase::Ringing,
            music: None,
            rang: false,
            caller_digits: KeyTail::default(),
            callee_digits: KeyTail::default(),
            settings,
        }));
        Flow::Wait
    }

    pub(super) fn on_dial(&mut self, now: Duration, e: DialEvent) {
        let (State::Running(Run::Dial(d)), mut cx) = self.parts() else {
            return;
        };
        let step = d.on_event(&mut cx, now, e);
        self.apply(now, step);
    }
}

impl DialRun {
    /// Whether the caller is bridged to the party that answered.
    pub(super) fn is_bridged(&self) -> bool {
        matches!(self.phase, DialPhase::Bridged { .. })
    }
}

impl DialRun {
    fn on_event(&mut self, cx: &mut Ctx<'_>, now: Duration, e: DialEvent) -> Step {
        match e {
            DialEvent::Ringing => self.rang = true,
            DialEvent::Answered { b_leg, to } => {
                if !matches!(self.phase, DialPhase::Ringing) {
                    return Step::Stay;
                }
                cx.timers.clear(Timer::Verb);
                if let Some((_, timeout, sound)) = &self.settings.confirm {
                    self.phase = DialPhase::Confirming { b_leg, to };
                    cx.timers.set(Timer::Verb, now + *timeout);
                    if let Some(url) = sound {
                        cx.request_sound(url, Method::Post, SoundUse::ConfirmSound, "confirmSound");
                    }
                    // The callee has answered; it is connected once it confirms.
                    self.callback(cx, DialAction::Answer, vec![("DialBLegStatus".to_owned(), "answer".to_owned())]);
                } else {
                    self.bridge(cx, now, b_leg, to, false);
                }
            }
            DialEvent::Busy => return self.finish(cx, now, DialStatus::Busy, None),
            DialEvent::NoAnswer => return self.finish(cx, now, DialStatus::NoAnswer, None),
            DialEvent::Failed => return self.finish(cx, now, DialStatus::Failed, None),
            DialEvent::CalleeDigits(keys) => {
                for k in keys.chars() {
                    self.on_callee_key(cx, now, k);
                }
            }
            DialEvent::CalleeHangup => match self.phase {
                DialPhase::Bridged { .. } => {
                    return self.finish(cx, now, DialStatus::Completed, Some("callee hung up"));
                }
                DialPhase::Confirming { .. } => {
                    return self.finish(cx, now, DialStatus::NoAnswer, Some("callee hung up"));
                }
                DialPhase::Ringing => {}
            },
        }
        Step::Stay
    }

    /// The ring or confirm timeout.
    pub(super) fn on_timeout(&mut self, cx: &mut Ctx<'_>, now: Duration) -> Step {
        match self.phase {
            DialPhase::Ringing => cx.emit(Command::CancelDial(self.media)),
            DialPhase::Confirming { .. } => cx.emit(Command::HangupCallee(self.media)),
            DialPhase::Bridged { .. } => return Step::Stay,
        }
        self.finish(cx, now, DialStatus::NoAnswer, None)
    }

    /// `timeLimit` reached.
    pub(super) fn on_time_limit(&mut self, cx: &mut Ctx<'_>, now: Duration) -> Step {
        if !matches!(self.phase, DialPhase::Bridged { .. }) {
            return Step::Stay;
        }
        cx.emit(Command::HangupCallee(self.media));
        self.finish(cx, now, DialStatus::Completed, Some("time limit"))
    }

    /// Connects the callee to the caller; `confirmed` when it answered earlier and has just
    /// pressed `confirmKey`.
    fn bridge(&mut self, cx: &mut Ctx<'_>, now: Duration, b_leg: CallId, to: String, confirmed: bool) {
        if let Some(m) = self.music.take() {
            cx.emit(Command::StopMedia(m));
        }
        self.phase = DialPhase::Bridged { b_leg, to, since: now };
        cx.timers.clear(Timer::Verb);
        if cx.answered_at.is_none() {
            // A caller who reaches the `<Dial>` unanswered is answered when the callee is.
            cx.mark_answered(now);
            cx.emit(Command::Answer);
        }
        cx.timers.set(Timer::DialLimit, now + self.settings.time_limit);
        // startOnDialAnswer recordings start now.
        let mut starts = Vec::new();
        for b in cx.background.iter_mut() {
            if let Background::Recording { media, recording, armed, started_at, format, .. } = b
                && *armed
            {
                *armed = false;
                *started_at = now;
                starts.push((*media, recording.clone(), *format));
            }
        }
        for (media, recording, format) in starts {
            cx.emit(Command::StartRecording {
                media,
                mode: RecordMode::Bridge,
                format,
                max_length: None,
                silence_timeout: None,
                recording: Box::new(recording),
            });
        }
        // Plivo: `answer` when the callee answers, `connected` when it is bridged to the
        // caller; without `confirmKey` both happen now. (Confirming, `answer` has been sent.)
        if !confirmed {
            self.callback(cx, DialAction::Answer, vec![("DialBLegStatus".to_owned(), "answer".to_owned())]);
        }
        self.callback(cx, DialAction::Connected, vec![("DialBLegStatus".to_owned(), "connected".to_owned())]);
    }

    /// Fires the `callbackUrl` event `event`.
    fn callback(&self, cx: &mut Ctx<'_>, event: DialAction, extra: Params) {
        let Some((url, method)) = &self.settings.callback else {
            return;
        };
        let mut params = vec![
            ("DialAction".to_owned(), event.as_str().to_owned()),
            ("DialALegUUID".to_owned(), cx.setup.id.as_str().to_owned()),
        ];
        if let DialPhase::Bridged { b_leg, to, .. } | DialPhase::Confirming { b_leg, to } = &self.phase {
            params.push(("DialBLegUUID".to_owned(), b_leg.as_str().to_owned()));
            params.push(("DialBLegTo".to_owned(), to.clone()));
            params.push(("DialBLegFrom".to_owned(), cx.setup.from.to_string()));
        }
        params.extend(extra);
        cx.notify(url, *method, Callback::Dial, params);
    }

    pub(super) fn on_caller_key(&mut self, cx: &mut Ctx<'_>, now: Duration, key: char) -> Step {
        if !matches!(self.phase, DialPhase::Bridged { .. }) {
            return Step::Stay;
        }
        if self.settings.hangup_on_star && key == '*' {
            cx.emit(Command::HangupCallee(self.media));
            return self.finish(cx, now, DialStatus::Completed, Some("caller pressed *"));
        }
        if let Some(p) = self.caller_digits.press(key, self.settings.digits_match.as_ref()) {
            let extra = vec![("DialDigitsMatch".to_owned(), p), ("DialDigitsPressedBy".to_owned(), "ALeg".to_owned())];
            self.callback(cx, DialAction::Digits, extra);
        }
        Step::Stay
    }

    fn on_callee_key(&mut self, cx: &mut Ctx<'_>, now: Duration, key: char) {
        match &self.phase {
            DialPhase::Confirming { b_leg, to } => {
                if self.settings.confirm.as_ref().is_some_and(|(k, ..)| k.as_char() == key) {
                    let (b, t) = (b_leg.clone(), to.clone());
                    self.bridge(cx, now, b, t, true);
                }
            }
            DialPhase::Bridged { .. } => {
                if let Some(p) = self.callee_digits.press(key, self.settings.digits_match_b_leg.as_ref()) {
                    let extra =
                        vec![("DialDigitsMatch".to_owned(), p), ("DialDigitsPressedBy".to_owned(), "BLeg".to_owned())];
                    self.callback(cx, DialAction::Digits, extra);
                }
            }
            DialPhase::Ringing => {}
        }
    }

    /// The dial is over with `DialStatus` `status`: hangup callback, then the action.
    fn finish(&mut self, cx: &mut Ctx<'_>, now: Duration, status: DialStatus, why: Option<&'static str>) -> Step {
        if let Some(m) = self.music.take() {
            cx.emit(Command::StopMedia(m));
        }
        let rang = self.rang || matches!(self.phase, DialPhase::Bridged { .. } | DialPhase::Confirming { .. });
        let b_uuid = match &self.phase {
            DialPhase::Bridged { b_leg, .. } | DialPhase::Confirming { b_leg, .. } => b_leg.as_str().to_owned(),
            DialPhase::Ringing => String::new(),
        };
        if let DialPhase::Bridged { since, .. } = &self.phase {
            let secs_ = now.saturating_sub(*since).as_secs().to_string();
            let extra = vec![
                ("DialBLegStatus".to_owned(), "hangup".to_owned()),
                ("DialBLegDuration".to_owned(), secs_.clone()),
                ("DialBLegBillDuration".to_owned(), secs_),
                ("DialBLegHangupCauseName".to_owned(), "Normal Hangup".to_owned()),
                ("DialBLegHangupCauseCode".to_owned(), "4000".to_owned()),
            ];
            self.callback(cx, DialAction::Hangup, extra);
        }
        let params = vec![
            ("DialStatus".to_owned(), status.as_str().to_owned()),
            ("DialRingStatus".to_owned(), rang.to_string()),
            ("DialHangupCause".to_owned(), status.hangup_cause().to_owned()),
            ("DialALegUUID".to_owned(), cx.setup.id.as_str().to_owned()),
            ("DialBLegUUID".to_owned(), b_uuid),
        ];
        let outcome = super::Outcome::Dialed { status, why };
        Step::Action { outcome, action: self.settings.action.clone(), verb: "Dial", params }
    }

    /// The `dialMusic` document arrived: it plays while the callee's phone rings.
    pub(super) fn play_music(&mut self, cx: &mut Ctx<'_>, sounds: Arc<Document>) {
        if matches!(self.phase, DialPhase::Ringing) && self.music.is_none() {
            let media = cx.media_id();
            cx.emit(Command::PlaySounds { media, sounds, to: Listener::Caller, looped: true, what: "dialMusic" });
            self.music = Some(media);
        }
    }

    /// The `confirmSound` document arrived: the callee hears it while asked to confirm.
    pub(super) fn play_confirm_sound(&mut self, cx: &mut Ctx<'_>, sounds: Arc<Document>) {
        if matches!(self.phase, DialPhase::Confirming { .. }) {
            let media = cx.media_id();
            cx.emit(Command::PlaySounds { media, sounds, to: Listener::Callee, looped: false, what: "confirmSound" });
        }
    }

    /// Cancels the dial or hangs up the callee (hangup, transfer).
    pub(super) fn abort(self, cx: &mut Ctx<'_>, now: Duration) {
        if let Some(m) = self.music {
            cx.emit(Command::StopMedia(m));
        }
        match &self.phase {
            DialPhase::Ringing => cx.emit(Command::CancelDial(self.media)),
            DialPhase::Confirming { .. } => cx.emit(Command::HangupCallee(self.media)),
            DialPhase::Bridged { since, .. } => {
                cx.emit(Command::HangupCallee(self.media));
                let dur = now.saturating_sub(*since).as_secs().to_string();
                let extra =
                    vec![("DialBLegStatus".to_owned(), "hangup".to_owned()), ("DialBLegDuration".to_owned(), dur)];
                self.callback(cx, DialAction::Hangup, extra);
            }
        }
    }
}

/// Plivo's `DialAction`: which `<Dial callbackUrl>` event this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DialAction {
    Answer,
    Connected,
    Digits,
    Hangup,
}

impl DialAction {
    /// The wire value.
    fn as_str(self) -> &'static str {
        match self {
            DialAction::Answer => "answer",
            DialAction::Connected => "connected",
            DialAction::Digits => "digits",
            DialAction::Hangup => "hangup",
        }
    }
}

/// The latest keys one party pressed during a bridged `<Dial>` or in a `<Conference>`, kept
/// for `digitsMatch`: only as many as its longest pattern, since older keys can never end a
/// match. So the buffer stays bounded however many keys the party sends, and keeps nothing
/// when there are no patterns.
#[derive(Debug, Default)]
pub(super) struct KeyTail(ThinVec<char>);

impl KeyTail {
    /// Adds `key`; returns the pattern the latest keys now end with (the first of `patterns`
    /// in document order), and then starts over.
    pub(super) fn press(&mut self, key: char, patterns: Option<&DigitPatterns>) -> Option<String> {
        let patterns = patterns.map(DigitPatterns::patterns).unwrap_or_default();
        // Patterns are ASCII keys (`DigitPatterns` accepts 0-9, * and #): bytes are keys.
        let longest = patterns.iter().map(|p| p.len()).max().unwrap_or(0);
        if longest == 0 {
            // No patterns: nothing to keep, and no buffer allocated.
            return None;
        }
        self.0.push(key);
        if self.0.len() > longest {
            let extra = self.0.len() - longest;
            self.0.drain(..extra);
        }
        let hit = patterns.iter().find(|p| self.ends_with(p))?.to_string();
        self.0.clear();
        Some(hit)
    }

    fn ends_with(&self, pattern: &str) -> bool {
        pattern.len() <= self.0.len()
            && self.0.iter().rev().zip(pattern.bytes().rev()).all(|(&k, b)| k == char::from(b))
    }

    /// The keys kept (for tests).
    #[cfg(test)]
    pub(super) fn kept(&self) -> String {
        self.0.iter().collect()
    }

    /// Whether a buffer is allocated (for tests).
    #[cfg(test)]
    pub(super) fn allocated(&self) -> bool {
        self.0.capacity() > 0
    }
}
