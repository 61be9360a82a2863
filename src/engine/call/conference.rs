//! `<Conference>` / `<MultiPartyCall>` rooms and hold music.

use super::*;

#[derive(Debug)]
pub(super) struct RoomRun {
    pub(super) room: Arc<str>,
    pub(super) phase: RoomPhase,
}

#[derive(Debug)]
pub(super) enum RoomPhase {
    Joining,
    In {
        uuid: Arc<str>,
        member_id: u32,
        joined_at: Duration,
        waiting: bool,
        /// The wait music playing (`waitSound` / `waitMusicUrl`).
        music: Option<MediaId>,
        digits: String,
        /// On hold (`<MultiPartyCall hold>` or [`RoomEvent::Held`]).
        held: bool,
        /// The hold music playing while held.
        hold_music: Option<MediaId>,
    },
}

/// Where a held MultiPartyCall participant's hold music comes from.
#[derive(Debug)]
pub(super) enum HoldMusic {
    /// The `<AgentHoldMusic>`/`<CustomerHoldMusic>` child's prompts.
    Prompts(Arc<Document>),
    /// The `agentHoldMusicUrl`/`customerHoldMusicUrl` attribute: fetched like `waitMusicUrl`.
    Url(Url, Method),
    /// Neither: Plivo plays its default hold music, which is not simulated (nothing plays).
    Default,
}

/// The hold music of `m`'s role, and its name for transcripts (`what`).
///
/// Plivo (MultiPartyCall XML): `agentHoldMusicUrl` is "played to agents while they're on hold",
/// `customerHoldMusicUrl` "to customers"; each "must return an XML document with Play, Speak,
/// and/or Wait elements" and "defaults to Plivo's default hold music". The Go SDK's
/// `<AgentHoldMusic>`/`<CustomerHoldMusic>` children carry the same prompts inline; a child with
/// at least one prompt wins over the attribute (it is the more specific, already-resolved
/// spelling; an empty child counts as absent). Plivo names no supervisor or ai-agent hold
/// music: they are staff side of the call, so they hear the agent hold music (our choice).
pub(super) fn hold_music_of(m: &xml::MultiPartyCall) -> (HoldMusic, &'static str) {
    use xml::values::Role;
    let customer = m.role == Some(Role::Customer);
    let (prompts, url, what) = if customer {
        (
            m.customer_hold_music.as_ref().map(|c| c.prompts.as_slice()),
            m.customer_hold_music_url.clone().map(|u| (u, m.customer_hold_music_method)),
            "customerHoldMusic",
        )
    } else {
        (
            m.agent_hold_music.as_ref().map(|a| a.prompts.as_slice()),
            m.agent_hold_music_url.clone().map(|u| (u, m.agent_hold_music_method)),
            "agentHoldMusic",
        )
    };
    let source = match (prompts.filter(|p| !p.is_empty()), url) {
        (Some(prompts), _) => {
            let verbs = prompts
                .iter()
                .map(|p| match p {
                    Prompt::Speak(s) => Verb::Speak(s.clone()),
                    Prompt::Play(p) => Verb::Play(p.clone()),
                    Prompt::Wait(w) => Verb::Wait(w.clone()),
                })
                .collect();
            HoldMusic::Prompts(Arc::new(Document { verbs }))
        }
        (None, Some((url, method))) => HoldMusic::Url(url, method),
        (None, None) => HoldMusic::Default,
    };
    (source, what)
}

impl Call {
    pub(super) fn member_info(&self) -> MemberInfo {
        MemberInfo {
            call: self.setup.id.clone(),
            from: self.setup.from.clone(),
            to: self.setup.to.clone(),
            caller_name: self.setup.caller_name.clone(),
            direction: self.setup.direction,
        }
    }

    pub(super) fn start_room(&mut self, now: Duration, verb: &Verb) -> Flow {
        self.ensure_answered(now);
        let request = match verb {
            Verb::Conference(c) => JoinRequest {
                account: self.setup.account.clone(),
                room: c.room.clone(),
                kind: RoomKind::Conference,
                muted: c.muted,
                hold: false,
                start_on_enter: c.start_conference_on_enter,
                end_on_exit: c.end_conference_on_exit,
                stay_alone: c.stay_alone,
                max_members: c.max_members,
                time_limit: Some(secs(c.time_limit)),
                record: c.record.then(|| RecordSpec {
                    format: c.record_file_format,
                    callback: c.callback_url.clone().map(|u| (u, c.callback_method)),
                }),
            },
            Verb::MultiPartyCall(m) => JoinRequest {
                account: self.setup.account.clone(),
                room: m.name.clone(),
                kind: RoomKind::MultiParty,
                muted: m.mute,
                hold: m.hold,
                start_on_enter: m.start_mpc_on_enter,
                end_on_exit: m.end_mpc_on_exit,
                stay_alone: m.stay_alone,
                max_members: m.max_participants,
                time_limit: Some(secs(m.max_duration)),
                record: m.record.then(|| RecordSpec {
                    format: m.record_file_format,
                    callback: m.recording_callback_url.clone().map(|u| (u, m.recording_callback_method)),
                }),
            },
            _ => return Flow::Stop,
        };
        let run = RoomRun { room: Arc::from(request.room.as_str()), phase: RoomPhase::Joining };
        self.state = State::Running(Run::Room(run));
        let member = Box::new(self.member_info());
        self.emit(Command::JoinConference { request: Box::new(request), member });
        Flow::Wait
    }

    pub(super) fn conference_params(
        action: &str,
        room: &str,
        uuid: &str,
        member: Option<u32>,
    ) -> Vec<(String, String)> {
        vec![
            ("ConferenceAction".to_owned(), action.to_owned()),
            ("ConferenceName".to_owned(), room.to_owned()),
            ("ConferenceUUID".to_owned(), uuid.to_owned()),
            ("ConferenceMemberID".to_owned(), member.map(|m| m.to_string()).unwrap_or_default()),
        ]
    }

    /// Fires the `<Conference callbackUrl>` (or MPC status callback) event.
    pub(super) fn room_callback(
        &mut self,
        action: &'static str,
        room: &str,
        uuid: &str,
        member: u32,
        extra: Vec<(String, String)>,
    ) {
        match self.verb_here() {
            Some(Verb::Conference(c)) => {
                let Some(url) = c.callback_url.clone() else {
                    return;
                };
                let method = c.callback_method;
                let mut params = Self::conference_params(action, room, uuid, Some(member));
                params.extend(extra);
                let what = match action {
                    "enter" => "conference enter",
                    "exit" => "conference exit",
                    "digits" => "conference digits",
                    "floor" => "conference floor",
                    _ => "conference",
                };
                self.notify(&url, method, what, params);
            }
            Some(Verb::MultiPartyCall(m)) => {
                let subscribed = m.status_callback_events.contains(xml::values::MpcEvent::ParticipantStateChanges);
                let Some(url) = m.status_callback_url.clone().filter(|_| subscribed) else {
                    return;
                };
                let event = match action {
                    "enter" => "ParticipantJoin",
                    "exit" => "ParticipantExit",
                    _ => return,
                };
                let params = vec![
                    ("EventName".to_owned(), event.to_owned()),
                    ("MPCUUID".to_owned(), uuid.to_owned()),
                    ("MPCName".to_owned(), room.to_owned()),
                    ("MemberID".to_owned(), member.to_string()),
                    ("ParticipantRole".to_owned(), m.role.map(|r| r.to_string()).unwrap_or_default()),
                    ("ParticipantCallUUID".to_owned(), self.setup.id.as_str().to_owned()),
                ];
                let method = m.status_callback_method;
                self.notify(&url, method, "mpc status", params);
            }
            _ => {}
        }
    }

    /// Plays the running room verb's enter or exit sound to its room.
    pub(super) fn room_sound(&mut self, room: &str, enter: bool) {
        let (sound, method, kind) = match self.verb_here() {
            Some(Verb::Conference(c)) => {
                (if enter { c.enter_sound.clone() } else { c.exit_sound.clone() }, Method::Post, RoomKind::Conference)
            }
            Some(Verb::MultiPartyCall(m)) => {
                let (sound, method) = if enter {
                    (m.enter_sound.clone(), m.enter_sound_method)
                } else {
                    (m.exit_sound.clone(), m.exit_sound_method)
                };
                (sound, method, RoomKind::MultiParty)
            }
            _ => return,
        };
        let what = if enter { "enterSound" } else { "exitSound" };
        let room = room.to_owned();
        match sound {
            Sound::Beep1 => self.emit(Command::RoomSound { kind, room, sound: RoomSound::Beeps(1), what }),
            Sound::Beep2 => self.emit(Command::RoomSound { kind, room, sound: RoomSound::Beeps(2), what }),
            Sound::Url(u) => self.request_sound(&u, method, SoundUse::RoomSound { kind, room, what }, what),
            Sound::Empty | Sound::None => {}
        }
    }

    pub(super) fn on_room(&mut self, now: Duration, e: RoomEvent) {
        let State::Running(Run::Room(run)) = &mut self.state else {
            return;
        };
        match e {
            RoomEvent::Joined { room, uuid, member_id, started, first, .. }
                if matches!(run.phase, RoomPhase::Joining) && room == run.room =>
            {
                run.phase = RoomPhase::In {
                    uuid: uuid.clone(),
                    member_id,
                    joined_at: now,
                    waiting: !started,
                    music: None,
                    digits: String::new(),
                    held: false,
                    hold_music: None,
                };
                self.room_callback("enter", &room, &uuid, member_id, Vec::new());
                let (wait_sound, floor) = match self.verb_here() {
                    Some(Verb::Conference(c)) => {
                        (c.wait_sound.clone().map(|u| (u, Method::Post)), c.floor_event && first && !c.muted)
                    }
                    Some(Verb::MultiPartyCall(m)) => {
                        (m.wait_music_url.clone().map(|u| (u, m.wait_music_method)), false)
                    }
                    _ => (None, false),
                };
                self.room_sound(&room, true);
                let join_held = matches!(self.verb_here(), Some(Verb::MultiPartyCall(m)) if m.hold);
                if join_held {
                    // `<MultiPartyCall hold="true">`: the room has it on hold already; the
                    // hold music plays instead of any wait music.
                    self.set_held(true);
                } else if !started && let Some((url, method)) = wait_sound {
                    self.request_sound(&url, method, SoundUse::WaitSound, "waitSound");
                }
                if floor {
                    self.room_callback("floor", &room, &uuid, member_id, Vec::new());
                }
            }
            RoomEvent::Refused { room, max_members, .. }
                if matches!(run.phase, RoomPhase::Joining) && room == run.room =>
            {
                let outcome = format!("not joined: room {room} is full ({max_members} members)");
                self.leave_room_verb(now, outcome, &room, "", None, None);
            }
            RoomEvent::Started { room, .. } if room == run.room => {
                if let RoomPhase::In { waiting, music, .. } = &mut run.phase {
                    *waiting = false;
                    if let Some(m) = music.take() {
                        self.out.push_back(Output::Command(Command::StopMedia(m)));
                    }
                }
            }
            RoomEvent::Floor { room, member_id, .. } if room == run.room => {
                let floor = matches!(self.verb_here(), Some(Verb::Conference(c)) if c.floor_event);
                if let (true, State::Running(Run::Room(RoomRun { phase: RoomPhase::In { uuid, .. }, .. }))) =
                    (floor, &self.state)
                {
                    let uuid = uuid.clone();
                    self.room_callback("floor", &room, &uuid, member_id, Vec::new());
                }
            }
            RoomEvent::Held { room, held, .. } if room == run.room && matches!(run.phase, RoomPhase::In { .. }) => {
                self.set_held(held);
            }
            RoomEvent::Left { room, uuid, member_id, reason, recording, .. }
                if room == run.room && matches!(run.phase, RoomPhase::In { .. }) =>
            {
                if let RoomPhase::In { music, hold_music, .. } = &mut run.phase {
                    let playing = [music.take(), hold_music.take()];
                    for m in playing.into_iter().flatten() {
                        self.emit(Command::StopMedia(m));
                    }
                }
                self.room_callback("exit", &room, &uuid, member_id, Vec::new());
                self.room_sound(&room, false);
                match reason {
                    LeaveReason::MemberHungUp => {
                        self.finish_event(format!("left room {room}: {reason}"), self.verb_here().map(Verb::name));
                        self.state = State::Idle;
                        self.end(now, HangupCause::NormalHangup, HangupSource::ApiRequest, true);
                    }
                    LeaveReason::CallHungUp => {}
                    _ => {
                        let rec = recording.map(|r| (r.url, r.id));
                        self.leave_room_verb(
                            now,
                            format!("left room {room}: {reason}"),
                            &room,
                            &uuid,
                            Some(member_id),
                            rec,
                        );
                    }
                }
            }
            _ => {}
        }
    }

    /// Puts the room verb's participant on hold (`held`) or takes it off hold: the hold music
    /// of its role starts (looped, to the caller; any wait music gives way) or stops (and the
    /// wait music comes back if the MPC has still not started). No change, nothing happens.
    pub(super) fn set_held(&mut self, held: bool) {
        let State::Running(Run::Room(RoomRun {
            phase: RoomPhase::In { held: h, music, hold_music, waiting, .. }, ..
        })) = &mut self.state
        else {
            return;
        };
        if *h == held {
            return;
        }
        *h = held;
        if held {
            if let Some(m) = music.take() {
                self.emit(Command::StopMedia(m));
            }
            let Some(Verb::MultiPartyCall(m)) = self.verb_here() else {
                return;
            };
            match hold_music_of(m) {
                (HoldMusic::Prompts(sounds), what) => {
                    let media = self.media_id();
                    self.emit(Command::PlaySounds { media, sounds, to: Listener::Caller, looped: true, what });
                    if let State::Running(Run::Room(RoomRun { phase: RoomPhase::In { hold_music, .. }, .. })) =
                        &mut self.state
                    {
                        *hold_music = Some(media);
                    }
                }
                (HoldMusic::Url(url, method), what) => {
                    let url_what =
                        if what == "customerHoldMusic" { "customerHoldMusicUrl" } else { "agentHoldMusicUrl" };
                    self.request_sound(&url, method, SoundUse::HoldMusic { what }, url_what);
                }
                (HoldMusic::Default, _) => {}
            }
        } else {
            let (stop, rewait) = (hold_music.take(), *waiting);
            if let Some(m) = stop {
                self.emit(Command::StopMedia(m));
            }
            if rewait
                && let Some(Verb::MultiPartyCall(m)) = self.verb_here()
                && let Some(url) = m.wait_music_url.clone()
            {
                let method = m.wait_music_method;
                self.request_sound(&url, method, SoundUse::WaitSound, "waitSound");
            }
        }
    }

    /// The room verb is over (left or refused): action or next element.
    pub(super) fn leave_room_verb(
        &mut self,
        now: Duration,
        outcome: String,
        room: &str,
        uuid: &str,
        member: Option<u32>,
        recording: Option<(String, String)>,
    ) {
        match self.verb_here() {
            Some(Verb::Conference(c)) => {
                let action = c.action.clone().map(|u| (u, c.method, c.redirect));
                let mut params = Self::conference_params("exit", room, uuid, member);
                params.remove(0);
                if let Some((url, id)) = recording {
                    params.push(("RecordUrl".to_owned(), url));
                    params.push(("RecordingID".to_owned(), id));
                }
                self.complete_with_action(now, outcome, action, "Conference", params);
            }
            Some(Verb::MultiPartyCall(m)) => {
                let action = m.on_exit_action_url.clone().map(|u| (u, m.on_exit_action_method, true));
                let joined_at = match &self.state {
                    State::Running(Run::Room(RoomRun { phase: RoomPhase::In { joined_at, .. }, .. })) => *joined_at,
                    _ => now,
                };
                let params = vec![
                    ("MPCUUID".to_owned(), uuid.to_owned()),
                    ("MPCFriendlyName".to_owned(), room.to_owned()),
                    ("MemberID".to_owned(), member.map(|m| m.to_string()).unwrap_or_default()),
                    ("ParticipantCallUUID".to_owned(), self.setup.id.as_str().to_owned()),
                    ("ParticipantJoinTime".to_owned(), ms(joined_at)),
                    ("ParticipantEndTime".to_owned(), ms(now)),
                    ("ParticipantRole".to_owned(), m.role.map(|r| r.to_string()).unwrap_or_default()),
                ];
                self.complete_with_action(now, outcome, action, "MultiPartyCall", params);
            }
            _ => {}
        }
    }

    pub(super) fn room_key(&mut self, _now: Duration, key: char) {
        let (star, patterns) = match self.verb_here() {
            Some(Verb::Conference(c)) => (c.hangup_on_star, c.digits_match.clone()),
            _ => return,
        };
        let State::Running(Run::Room(run)) = &mut self.state else {
            return;
        };
        let RoomPhase::In { uuid, member_id, digits, .. } = &mut run.phase else {
            return;
        };
        if star && key == '*' {
            self.emit(Command::LeaveConference { reason: LeaveReason::HangupOnStar });
            return;
        }
        digits.push(key);
        if let Some(p) = patterns.and_then(|p| matched(digits, p.patterns())) {
            let (room, uuid, member) = (run.room.clone(), uuid.clone(), *member_id);
            self.room_callback("digits", &room, &uuid, member, vec![("ConferenceDigitsMatch".to_owned(), p)]);
        }
    }

    // ------------------------------------------------------------------ streams
}
