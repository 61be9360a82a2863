//! `<Conference>` / `<MultiPartyCall>`: joining a room, its callbacks and sounds, wait and hold
//! music, leaving.

use crate::engine::Callback;
use crate::engine::{MemberId, RoomUuid};
use std::sync::Arc;
use std::time::Duration;

use super::dial::KeyTail;
use super::parameters::{Ctx, Params};
use super::sounds::SoundUse;
use super::{Action, Call, Flow, Run, State, Step, ms, secs};
use crate::engine::cause::{HangupCause, HangupSource};
use crate::engine::ids::MediaId;
use crate::engine::io::{Command, Listener, RoomSound};
use crate::engine::rooms::{JoinRequest, LeaveReason, MemberInfo, RecordSpec, RoomEvent, RoomKind};
use crate::xml::values::{DigitPatterns, Method, MpcEvent, Role, Sound, Url};
use crate::xml::{self, Document, Prompt, Verb};

/// A running room verb.
#[derive(Debug)]
pub(super) struct RoomRun {
    room: Arc<str>,
    phase: RoomPhase,
    /// The `<Conference>`/`<MultiPartyCall>` element, shared with the document: its settings
    /// are read through [`Element::settings`], a borrowed view, so a parked member copies
    /// nothing of its element.
    element: Element,
}

/// Where a room verb's element is: its document and position (24 bytes, no copy).
#[derive(Debug)]
struct Element {
    doc: Arc<Document>,
    index: u32,
    /// Inside `<PreAnswer>` (never for room verbs written in XML; possible in a built AST).
    sub: Option<u32>,
}

impl Element {
    /// The element's settings, borrowed (only the element: the run's phase stays free to
    /// change). `None` never happens for a running room verb: its element is a
    /// `<Conference>` or `<MultiPartyCall>` by construction.
    fn settings(&self) -> Option<RoomSettings<'_>> {
        let sub = self.sub.map(|s| s as usize);
        RoomSettings::of(crate::engine::io::verb_at(&self.doc, self.index as usize, sub)?)
    }
}

#[derive(Debug)]
enum RoomPhase {
    Joining,
    In {
        uuid: RoomUuid,
        member_id: MemberId,
        joined_at: Duration,
        waiting: bool,
        /// The wait music playing (`waitSound` / `waitMusicUrl`).
        music: Option<MediaId>,
        /// For `digitsMatch`: bounded.
        digits: KeyTail,
        /// On hold (`<MultiPartyCall hold>` or [`RoomEvent::Held`]).
        held: bool,
        /// The hold music playing while held.
        hold_music: Option<MediaId>,
    },
}

/// What a room verb needs of its element after the join request: a typed view borrowed from
/// the element (nothing is copied).
#[derive(Debug, Clone, Copy)]
struct RoomSettings<'a> {
    kind: RoomKind,
    enter_sound: (&'a Sound, Method),
    exit_sound: (&'a Sound, Method),
    /// `waitSound` / `waitMusicUrl`.
    wait_music: Option<(&'a Url, Method)>,
    spec: RoomSpec<'a>,
}

/// The settings only one of the two verbs has.
#[derive(Debug, Clone, Copy)]
enum RoomSpec<'a> {
    Conference {
        callback: Option<(&'a Url, Method)>,
        floor_event: bool,
        muted: bool,
        hangup_on_star: bool,
        digits_match: Option<&'a DigitPatterns>,
        action: Option<(&'a Url, Method, bool)>,
    },
    MultiParty {
        /// `statusCallbackUrl`, when `ParticipantStateChanges` are subscribed.
        status_callback: Option<(&'a Url, Method)>,
        /// `ParticipantRole`.
        role: Option<Role>,
        hold: bool,
        element: &'a xml::MultiPartyCall,
        on_exit: Option<(&'a Url, Method, bool)>,
    },
}

impl<'a> RoomSettings<'a> {
    /// The view of a room verb's element; `None` for any other element.
    fn of(verb: &'a Verb) -> Option<Self> {
        Some(match verb {
            Verb::Conference(c) => RoomSettings {
                kind: RoomKind::Conference,
                enter_sound: (&c.enter_sound, Method::Post),
                exit_sound: (&c.exit_sound, Method::Post),
                wait_music: c.wait_sound.as_ref().map(|u| (u, Method::Post)),
                spec: RoomSpec::Conference {
                    callback: c.callback_url.as_ref().map(|u| (u, c.callback_method)),
                    floor_event: c.floor_event,
                    muted: c.muted,
                    hangup_on_star: c.hangup_on_star,
                    digits_match: c.digits_match.as_ref(),
                    action: c.action.as_ref().map(|u| (u, c.method, c.redirect)),
                },
            },
            Verb::MultiPartyCall(m) => {
                let subscribed = m.status_callback_events.contains(MpcEvent::ParticipantStateChanges);
                RoomSettings {
                    kind: RoomKind::MultiParty,
                    enter_sound: (&m.enter_sound, m.enter_sound_method),
                    exit_sound: (&m.exit_sound, m.exit_sound_method),
                    wait_music: m.wait_music_url.as_ref().map(|u| (u, m.wait_music_method)),
                    spec: RoomSpec::MultiParty {
                        status_callback: m
                            .status_callback_url
                            .as_ref()
                            .filter(|_| subscribed)
                            .map(|u| (u, m.status_callback_method)),
                        role: m.role,
                        hold: m.hold,
                        element: m,
                        on_exit: m.on_exit_action_url.as_ref().map(|u| (u, m.on_exit_action_method, true)),
                    },
                }
            }
            _ => return None,
        })
    }
}

/// An action from its borrowed parts.
fn owned(action: Option<(&Url, Method, bool)>) -> Option<Action> {
    action.map(|(u, m, r)| (u.clone(), m, r))
}

/// `ParticipantRole`.
fn role_text(role: Option<Role>) -> String {
    role.map(|r| r.to_string()).unwrap_or_default()
}

/// Where a held MultiPartyCall participant's hold music comes from.
#[derive(Debug)]
enum HoldMusic {
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
fn hold_music_of(m: &xml::MultiPartyCall) -> (HoldMusic, &'static str) {
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

/// Plivo's `ConferenceAction`: which `<Conference callbackUrl>` event this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConferenceAction {
    Enter,
    Exit,
    Digits,
    Floor,
}

impl ConferenceAction {
    /// The wire value.
    fn as_str(self) -> &'static str {
        match self {
            ConferenceAction::Enter => "enter",
            ConferenceAction::Exit => "exit",
            ConferenceAction::Digits => "digits",
            ConferenceAction::Floor => "floor",
        }
    }

    /// The `Event` sent beside `ConferenceAction`: `ConferenceEnter` / `ConferenceExit` (the
    /// names Plivo applications branch on); none is documented for digits and floor events.
    fn event(self) -> Option<&'static str> {
        match self {
            ConferenceAction::Enter => Some("ConferenceEnter"),
            ConferenceAction::Exit => Some("ConferenceExit"),
            ConferenceAction::Digits | ConferenceAction::Floor => None,
        }
    }

    /// The callback it fires.
    fn callback(self) -> Callback {
        match self {
            ConferenceAction::Enter => Callback::ConferenceEnter,
            ConferenceAction::Exit => Callback::ConferenceExit,
            ConferenceAction::Digits => Callback::ConferenceDigits,
            ConferenceAction::Floor => Callback::ConferenceFloor,
        }
    }
}

/// The room's parameters: `ConferenceName`, `ConferenceUUID`, `ConferenceMemberID`.
fn conference_params(room: &str, uuid: &str, member: Option<MemberId>) -> Params {
    vec![
        ("ConferenceName".to_owned(), room.to_owned()),
        ("ConferenceUUID".to_owned(), uuid.to_owned()),
        ("ConferenceMemberID".to_owned(), member.map(|m| m.to_string()).unwrap_or_default()),
    ]
}

/// `ConferenceLastMember`: whether the room is empty at this exit.
fn last_member(last: bool) -> Params {
    vec![(LAST_MEMBER.to_owned(), last.to_string())]
}

/// The exit callback's parameter that says whether the room is empty now.
const LAST_MEMBER: &str = "ConferenceLastMember";

impl Call {
    fn member_info(&self) -> MemberInfo {
        MemberInfo {
            call: self.setup.id.clone(),
            from: Arc::clone(&self.setup.from),
            to: Arc::clone(&self.setup.to),
            caller_name: Arc::clone(&self.setup.caller_name),
            direction: self.setup.direction,
        }
    }

    pub(super) fn start_room(&mut self, now: Duration, verb: &Verb) -> Flow {
        self.ensure_answered(now);
        let request = match verb {
            Verb::Conference(c) => JoinRequest {
                account: self.setup.account.clone(),
                room: c.room.to_string(),
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
                    // The room keeps it past this document: its own copy, not a view of the source.
                    callback: c.callback_url.as_ref().map(|u| (u.detached(), c.callback_method)),
                }),
            },
            Verb::MultiPartyCall(m) => JoinRequest {
                account: self.setup.account.clone(),
                room: m.name.to_string(),
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
        let (Some(doc), index, sub) = (self.doc.clone(), self.pc, self.sub) else { return Flow::Stop };
        let element = Element { doc, index, sub };
        let run = RoomRun { room: Arc::from(request.room.as_str()), phase: RoomPhase::Joining, element };
        self.state = State::Running(Run::Room(run));
        let member = Box::new(self.member_info());
        self.emit(Command::JoinConference { request: Box::new(request), member });
        Flow::Wait
    }

    pub(super) fn on_room(&mut self, now: Duration, e: RoomEvent) {
        let (State::Running(Run::Room(run)), mut cx) = self.parts() else {
            return;
        };
        let step = run.on_event(&mut cx, now, e);
        self.apply(now, step);
    }
}

impl RoomRun {
    fn on_event(&mut self, cx: &mut Ctx<'_>, now: Duration, e: RoomEvent) -> Step {
        match e {
            RoomEvent::Joined { room, uuid, member_id, started, first: joined_first, .. }
                if matches!(self.phase, RoomPhase::Joining) && room == self.room =>
            {
                self.phase = RoomPhase::In {
                    uuid: uuid.clone(),
                    member_id,
                    joined_at: now,
                    waiting: !started,
                    music: None,
                    digits: KeyTail::default(),
                    held: false,
                    hold_music: None,
                };
                // The registry's copy of the name, shared by every member (ours goes).
                self.room = Arc::clone(&room);
                let first = vec![("ConferenceFirstMember".to_owned(), joined_first.to_string())];
                self.callback(cx, ConferenceAction::Enter, &room, &uuid, member_id, first);
                let settings = self.element.settings();
                let floor = joined_first
                    && matches!(
                        settings.map(|s| s.spec),
                        Some(RoomSpec::Conference { floor_event: true, muted: false, .. })
                    );
                let wait_music = settings.and_then(|s| s.wait_music);
                let holds = matches!(settings.map(|s| s.spec), Some(RoomSpec::MultiParty { hold: true, .. }));
                self.sound(cx, &room, true);
                if holds {
                    // `<MultiPartyCall hold="true">`: the room has it on hold already; the
                    // hold music plays instead of any wait music.
                    self.set_held(cx, true);
                } else if !started && let Some((url, method)) = wait_music {
                    cx.request_sound(url, method, SoundUse::WaitSound, "waitSound");
                }
                if floor {
                    self.callback(cx, ConferenceAction::Floor, &room, &uuid, member_id, Vec::new());
                }
            }
            RoomEvent::Refused { room, max_members, .. }
                if matches!(self.phase, RoomPhase::Joining) && room == self.room =>
            {
                let outcome = super::Outcome::RoomFull { room: room.to_string(), max_members };
                return self.leave(cx, now, outcome, "", None, None);
            }
            RoomEvent::Started { room, .. } if room == self.room => {
                if let RoomPhase::In { waiting, music, .. } = &mut self.phase {
                    *waiting = false;
                    if let Some(m) = music.take() {
                        cx.emit(Command::StopMedia(m));
                    }
                }
            }
            RoomEvent::Floor { room, member_id, .. } if room == self.room => {
                let floor = matches!(
                    self.element.settings().map(|s| s.spec),
                    Some(RoomSpec::Conference { floor_event: true, .. })
                );
                if let (true, RoomPhase::In { uuid, .. }) = (floor, &self.phase) {
                    let uuid = uuid.clone();
                    self.callback(cx, ConferenceAction::Floor, &room, &uuid, member_id, Vec::new());
                }
            }
            RoomEvent::Held { room, held, .. } if room == self.room && matches!(self.phase, RoomPhase::In { .. }) => {
                self.set_held(cx, held);
            }
            RoomEvent::Left { room, uuid, member_id, reason, last, recording, .. }
                if room == self.room && matches!(self.phase, RoomPhase::In { .. }) =>
            {
                if let RoomPhase::In { music, hold_music, .. } = &mut self.phase {
                    for m in [music.take(), hold_music.take()].into_iter().flatten() {
                        cx.emit(Command::StopMedia(m));
                    }
                }
                self.callback(cx, ConferenceAction::Exit, &room, &uuid, member_id, last_member(last));
                self.sound(cx, &room, false);
                let outcome = super::Outcome::LeftRoom { room: room.to_string(), reason };
                match reason {
                    LeaveReason::MemberHungUp => {
                        return Step::End {
                            outcome,
                            cause: HangupCause::NormalHangup,
                            source: HangupSource::ApiRequest,
                        };
                    }
                    LeaveReason::CallHungUp => {}
                    _ => {
                        let rec = recording.map(|r| (r.url.clone(), r.id.to_string()));
                        return self.leave(cx, now, outcome, &uuid, Some(member_id), rec);
                    }
                }
            }
            _ => {}
        }
        Step::Stay
    }

    /// Fires the `<Conference callbackUrl>` (or MPC status callback) event.
    fn callback(
        &self,
        cx: &mut Ctx<'_>,
        action: ConferenceAction,
        room: &str,
        uuid: &str,
        member: MemberId,
        extra: Params,
    ) {
        match self.element.settings().map(|s| s.spec) {
            Some(RoomSpec::Conference { callback: Some((url, method)), .. }) => {
                let mut params = vec![("ConferenceAction".to_owned(), action.as_str().to_owned())];
                if let Some(event) = action.event() {
                    params.push(("Event".to_owned(), event.to_owned()));
                }
                params.extend(conference_params(room, uuid, Some(member)));
                params.extend(extra);
                cx.notify(url, method, action.callback(), params);
            }
            Some(RoomSpec::MultiParty { status_callback: Some((url, method)), role, .. }) => {
                let event = match action {
                    ConferenceAction::Enter => "ParticipantJoin",
                    ConferenceAction::Exit => "ParticipantExit",
                    ConferenceAction::Digits | ConferenceAction::Floor => return,
                };
                let params = vec![
                    ("EventName".to_owned(), event.to_owned()),
                    ("MPCUUID".to_owned(), uuid.to_owned()),
                    ("MPCName".to_owned(), room.to_owned()),
                    ("MemberID".to_owned(), member.to_string()),
                    ("ParticipantRole".to_owned(), role_text(role)),
                    ("ParticipantCallUUID".to_owned(), cx.setup.id.as_str().to_owned()),
                ];
                cx.notify(url, method, Callback::MpcStatus, params);
            }
            _ => {}
        }
    }

    /// Plays the verb's enter or exit sound to its room.
    fn sound(&self, cx: &mut Ctx<'_>, room: &str, enter: bool) {
        let Some(settings) = self.element.settings() else { return };
        let (sound, method) = if enter { settings.enter_sound } else { settings.exit_sound };
        let kind = settings.kind;
        let what = if enter { "enterSound" } else { "exitSound" };
        let room = room.to_owned();
        match sound {
            Sound::Beep1 => cx.emit(Command::RoomSound { kind, room, sound: RoomSound::Beeps(1), what }),
            Sound::Beep2 => cx.emit(Command::RoomSound { kind, room, sound: RoomSound::Beeps(2), what }),
            Sound::Url(u) => cx.request_sound(u, method, SoundUse::RoomSound { kind, room, what }, what),
            Sound::Empty | Sound::None => {}
        }
    }

    /// Puts the participant on hold (`held`) or takes it off hold: the hold music of its role
    /// starts (looped, to the caller; any wait music gives way) or stops (and the wait music
    /// comes back if the MPC has still not started). No change, nothing happens.
    fn set_held(&mut self, cx: &mut Ctx<'_>, held: bool) {
        let Some(settings) = self.element.settings() else { return };
        let RoomPhase::In { held: h, music, hold_music, waiting, .. } = &mut self.phase else {
            return;
        };
        if *h == held {
            return;
        }
        *h = held;
        if !held {
            if let Some(m) = hold_music.take() {
                cx.emit(Command::StopMedia(m));
            }
            if *waiting
                && matches!(settings.spec, RoomSpec::MultiParty { .. })
                && let Some((url, method)) = settings.wait_music
            {
                cx.request_sound(url, method, SoundUse::WaitSound, "waitSound");
            }
            return;
        }
        if let Some(m) = music.take() {
            cx.emit(Command::StopMedia(m));
        }
        let RoomSpec::MultiParty { element, .. } = settings.spec else {
            return;
        };
        let (source, what) = hold_music_of(element);
        match source {
            HoldMusic::Prompts(sounds) => {
                let media = cx.media_id();
                cx.emit(Command::PlaySounds { media, sounds, to: Listener::Caller, looped: true, what });
                *hold_music = Some(media);
            }
            HoldMusic::Url(url, method) => {
                let url_what = if what == "customerHoldMusic" { "customerHoldMusicUrl" } else { "agentHoldMusicUrl" };
                cx.request_sound(&url, method, SoundUse::HoldMusic { what }, url_what);
            }
            HoldMusic::Default => {}
        }
    }

    /// The verb is over (left or refused): its action or the next element.
    fn leave(
        &self,
        cx: &mut Ctx<'_>,
        now: Duration,
        outcome: super::Outcome,
        uuid: &str,
        member: Option<MemberId>,
        recording: Option<(String, String)>,
    ) -> Step {
        let room = &*self.room;
        match self.element.settings().map(|s| s.spec) {
            None => Step::Done(outcome),
            Some(RoomSpec::Conference { action, .. }) => {
                let mut params = conference_params(room, uuid, member);
                if let Some((url, id)) = recording {
                    params.push(("RecordUrl".to_owned(), url));
                    params.push(("RecordingID".to_owned(), id));
                }
                Step::Action { outcome, action: owned(action), verb: "Conference", params }
            }
            Some(RoomSpec::MultiParty { role, on_exit, .. }) => {
                let joined_at = match &self.phase {
                    RoomPhase::In { joined_at, .. } => *joined_at,
                    RoomPhase::Joining => now,
                };
                let params = vec![
                    ("MPCUUID".to_owned(), uuid.to_owned()),
                    ("MPCFriendlyName".to_owned(), room.to_owned()),
                    ("MemberID".to_owned(), member.map(|m| m.to_string()).unwrap_or_default()),
                    ("ParticipantCallUUID".to_owned(), cx.setup.id.as_str().to_owned()),
                    ("ParticipantJoinTime".to_owned(), ms(joined_at)),
                    ("ParticipantEndTime".to_owned(), ms(now)),
                    ("ParticipantRole".to_owned(), role_text(role)),
                ];
                Step::Action { outcome, action: owned(on_exit), verb: "MultiPartyCall", params }
            }
        }
    }

    pub(super) fn on_key(&mut self, cx: &mut Ctx<'_>, key: char) -> Step {
        let Some(RoomSpec::Conference { hangup_on_star, digits_match, .. }) = self.element.settings().map(|s| s.spec)
        else {
            return Step::Stay;
        };
        let RoomPhase::In { uuid, member_id, digits, .. } = &mut self.phase else {
            return Step::Stay;
        };
        if hangup_on_star && key == '*' {
            cx.emit(Command::LeaveConference { reason: LeaveReason::HangupOnStar });
            return Step::Stay;
        }
        if let Some(p) = digits.press(key, digits_match) {
            let (uuid, member) = (uuid.clone(), *member_id);
            let room = Arc::clone(&self.room);
            self.callback(
                cx,
                ConferenceAction::Digits,
                &room,
                &uuid,
                member,
                vec![("ConferenceDigitsMatch".to_owned(), p)],
            );
        }
        Step::Stay
    }

    /// The wait music document arrived: it plays while the room has not started.
    pub(super) fn play_wait_music(&mut self, cx: &mut Ctx<'_>, sounds: Arc<Document>) {
        if let RoomPhase::In { waiting: true, music: music @ None, held: false, .. } = &mut self.phase {
            let media = cx.media_id();
            cx.emit(Command::PlaySounds { media, sounds, to: Listener::Caller, looped: true, what: "waitSound" });
            *music = Some(media);
        }
    }

    /// The hold music document arrived: it plays while the participant is held.
    pub(super) fn play_hold_music(&mut self, cx: &mut Ctx<'_>, sounds: Arc<Document>, what: &'static str) {
        if let RoomPhase::In { held: true, hold_music: hold_music @ None, .. } = &mut self.phase {
            let media = cx.media_id();
            *hold_music = Some(media);
            cx.emit(Command::PlaySounds { media, sounds, to: Listener::Caller, looped: true, what });
        }
    }

    /// Leaves the room (hangup, transfer: `hangup` says why). The exit callback fires here,
    /// once: the room's `Left` for this call arrives after the call has moved on and is ignored.
    pub(super) fn abort(self, cx: &mut Ctx<'_>, hangup: Option<LeaveReason>) {
        let RoomPhase::In { uuid, member_id, music, hold_music, .. } = &self.phase else {
            cx.emit(Command::LeaveConference { reason: LeaveReason::CallHungUp });
            return;
        };
        for m in [music, hold_music].into_iter().flatten() {
            cx.emit(Command::StopMedia(*m));
        }
        cx.emit(Command::LeaveConference { reason: hangup.unwrap_or(LeaveReason::CallHungUp) });
        // Whether the room is empty now is the room's to say: the engine, which carries out
        // the `LeaveConference` just before this request, sets `ConferenceLastMember`.
        self.callback(cx, ConferenceAction::Exit, &self.room, uuid, *member_id, last_member(false));
        self.sound(cx, &self.room, false);
    }
}
