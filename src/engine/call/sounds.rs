//! Sound documents fetched for wait, hold, room, dial and confirm music.

use super::*;

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

impl Call {
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
        match use_ {
            SoundUse::WaitSound => {
                let waiting = matches!(
                    &self.state,
                    State::Running(Run::Room(RoomRun {
                        phase: RoomPhase::In { waiting: true, music: None, held: false, .. },
                        ..
                    }))
                );
                if waiting {
                    let media = self.media_id();
                    self.emit(Command::PlaySounds {
                        media,
                        sounds,
                        to: Listener::Caller,
                        looped: true,
                        what: "waitSound",
                    });
                    if let State::Running(Run::Room(RoomRun { phase: RoomPhase::In { music, .. }, .. })) =
                        &mut self.state
                    {
                        *music = Some(media);
                    }
                }
            }
            SoundUse::HoldMusic { what } => {
                if let State::Running(Run::Room(RoomRun {
                    phase: RoomPhase::In { held: true, hold_music: hold_music @ None, .. },
                    ..
                })) = &mut self.state
                {
                    let media = MediaId(self.next_id);
                    self.next_id += 1;
                    *hold_music = Some(media);
                    self.emit(Command::PlaySounds { media, sounds, to: Listener::Caller, looped: true, what });
                }
            }
            SoundUse::RoomSound { kind, room, what } => {
                self.emit(Command::RoomSound { kind, room, sound: RoomSound::Sounds(sounds), what })
            }
            SoundUse::DialMusic => {
                if matches!(
                    &self.state,
                    State::Running(Run::Dial(DialRun { phase: DialPhase::Ringing, music: None, .. }))
                ) {
                    let media = self.media_id();
                    self.emit(Command::PlaySounds {
                        media,
                        sounds,
                        to: Listener::Caller,
                        looped: true,
                        what: "dialMusic",
                    });
                    if let State::Running(Run::Dial(d)) = &mut self.state {
                        d.music = Some(media);
                    }
                }
            }
            SoundUse::ConfirmSound => {
                if matches!(&self.state, State::Running(Run::Dial(DialRun { phase: DialPhase::Confirming { .. }, .. })))
                {
                    let media = self.media_id();
                    self.emit(Command::PlaySounds {
                        media,
                        sounds,
                        to: Listener::Callee,
                        looped: false,
                        what: "confirmSound",
                    });
                }
            }
        }
    }

    // ------------------------------------------------------------------ the end
}
