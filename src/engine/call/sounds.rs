//! `<Speak>`, `<Play>`, `<Wait>` and `<DTMF>`, and the sound documents other verbs fetch (wait,
//! hold, room, dial and confirm music).

use std::sync::Arc;
use std::time::Duration;

use super::timers::Timer;
use super::{Call, Flow, Run, State, secs};
use crate::engine::io::{Command, FetchReply, MediaEvent, RoomSound};
use crate::engine::rooms::RoomKind;
use crate::xml::values::WaitBeep;
use crate::xml::{self, Document, Verb};

/// What a pending sound document is for.
#[derive(Debug, Clone)]
pub(super) enum SoundUse {
    WaitSound,
    /// A held MPC participant's `*HoldMusicUrl` document (`what` names the role's music).
    HoldMusic {
        what: &'static str,
    },
    RoomSound {
        kind: RoomKind,
        room: String,
        what: &'static str,
    },
    DialMusic,
    ConfirmSound,
}

/// A running `<Wait>`: the verb timer ends it, or what it listens for.
#[derive(Debug)]
pub(super) struct WaitRun {
    /// `silence="true"`: ends on silence.
    silence: bool,
    /// `beep`: ends on a beep.
    beep: bool,
}

impl Call {
    /// `<Speak>` / `<Play>`: one media operation, waited for.
    pub(super) fn start_media(&mut self, now: Duration, speak: bool) -> Flow {
        self.ensure_answered(now);
        let media = self.media_id();
        let Some(r) = self.verb_ref(None) else {
            return Flow::Stop;
        };
        self.emit(if speak { Command::Speak { media, speak: r } } else { Command::Play { media, play: r } });
        self.state = State::Running(Run::Media(media));
        Flow::Wait
    }

    pub(super) fn start_wait(&mut self, now: Duration, w: &xml::Wait) -> Flow {
        self.timers.set(Timer::Verb, now + secs(w.length));
        self.state = State::Running(Run::Wait(WaitRun { silence: w.silence, beep: w.beep != WaitBeep::Bool(false) }));
        Flow::Wait
    }

    /// `<DTMF>`: sent, and waited for unless `async`.
    pub(super) fn start_dtmf(&mut self, now: Duration, d: &xml::Dtmf) -> Flow {
        self.ensure_answered(now);
        let media = self.media_id();
        let digits = d.digits.as_ref().map(|t| t.as_str().to_owned()).unwrap_or_default();
        self.emit(Command::SendDigits { media, digits, to: crate::engine::Listener::Caller });
        if d.async_ {
            return Flow::Next(super::Outcome::Sent);
        }
        self.state = State::Running(Run::Media(media));
        Flow::Wait
    }

    /// Silence or a beep on the line: it ends a `<Wait>` that listens for it.
    pub(super) fn on_media_event(&mut self, now: Duration, e: MediaEvent) {
        let State::Running(Run::Wait(w)) = &self.state else {
            return;
        };
        let ends = match e {
            MediaEvent::Silence => w.silence,
            MediaEvent::Beep => w.beep,
        };
        if ends {
            let what = if e == MediaEvent::Silence { "silence detected" } else { "beep detected" };
            self.complete(now, super::Outcome::Detected(what));
        }
    }

    /// A sound document arrived for `use_`: it plays if what asked for it still wants it.
    pub(super) fn on_sound(&mut self, use_: SoundUse, reply: FetchReply) {
        let doc = match reply {
            FetchReply::Document(d) => d,
            FetchReply::Body(b) => {
                let parsed = xml::parse(&b);
                if parsed.has_errors() {
                    return;
                }
                Arc::new(parsed.document)
            }
            FetchReply::Failed(_) => return,
        };
        // Only Play, Speak and Wait are played (spec §2.12).
        let verbs: Vec<Verb> =
            doc.verbs.iter().filter(|v| matches!(v, Verb::Play(_) | Verb::Speak(_) | Verb::Wait(_))).cloned().collect();
        if verbs.is_empty() {
            return;
        }
        let sounds = Arc::new(Document { verbs });
        let (state, mut cx) = self.parts();
        match (use_, state) {
            (SoundUse::WaitSound, State::Running(Run::Room(r))) => r.play_wait_music(&mut cx, sounds),
            (SoundUse::HoldMusic { what }, State::Running(Run::Room(r))) => r.play_hold_music(&mut cx, sounds, what),
            (SoundUse::RoomSound { kind, room, what }, _) => {
                cx.emit(Command::RoomSound { kind, room, sound: RoomSound::Sounds(sounds), what });
            }
            (SoundUse::DialMusic, State::Running(Run::Dial(d))) => d.play_music(&mut cx, sounds),
            (SoundUse::ConfirmSound, State::Running(Run::Dial(d))) => d.play_confirm_sound(&mut cx, sounds),
            _ => {}
        }
    }
}
