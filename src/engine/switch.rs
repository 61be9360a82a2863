//! [`Engine`]: many calls and the conference rooms, wired together.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::Duration;

use super::call::{Call, CallConfig, CallOp, CallOpError, CallSetup};
use super::ids::{CallId, MemberId, RequestId};
use super::io::{Callback, Command, HttpRequest, Input, Output, Purpose, RecordingRef, Reply};
use super::rooms::{
    ConferenceError, Conferences, MemberMedia, MemberTarget, RecordSpec, RecordingInfo, RoomEvent, RoomsConfig,
};

/// Settings of an [`Engine`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineConfig {
    /// Settings for every call.
    pub call: CallConfig,
    /// Settings for the rooms.
    pub rooms: RoomsConfig,
}

/// A failed engine operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// No call with that id.
    #[error("no call {0}")]
    UnknownCall(CallId),
    /// A call with that id exists already.
    #[error("a call {0} exists already")]
    DuplicateCall(CallId),
}

/// One output of the engine.
#[derive(Debug, Clone)]
pub enum EngineOutput {
    /// An output of one call. `JoinConference`/`LeaveConference` commands are carried out
    /// by the engine itself and do not appear; their effects show as [`EngineOutput::Room`].
    Call {
        /// The call.
        call: CallId,
        /// What it asks for.
        output: Output,
    },
    /// A room event (those naming a call have already been delivered to it).
    Room(RoomEvent),
    /// A request of the rooms themselves (a finished room recording's callback).
    Request(HttpRequest),
}

/// Many [`Call`]s and one [`Conferences`] registry, wired so that a call's
/// `JoinConference`/`LeaveConference` reach the rooms and room events reach the calls.
///
/// # Drive contract (sans-IO)
///
/// The same as [`Call`]'s, for the whole switch: every mutation ([`Engine::start_call`],
/// [`Engine::handle_input`], the operations of [`Engine::room_ops`],
/// [`Engine::handle_timeout`]) takes `now`, which never goes back (checked in debug builds);
/// afterwards drain [`Engine::poll_output`] until `None`, then sleep until
/// [`Engine::poll_timeout`]. Room operations (the REST API) go through
/// [`Engine::room_ops`], whose every operation routes the events it causes before returning;
/// joining and leaving are the calls' own business (their `<Conference>`), so the handle has
/// neither, and every enter keeps exactly one exit.
///
/// ```
/// use std::time::Duration;
/// use plivo_flow::engine::{CallSetup, Engine, EngineConfig, EngineOutput};
///
/// let mut engine = Engine::new(EngineConfig::default());
/// let now = Duration::ZERO;
/// engine.start_call(now, CallSetup::inbound("c1", "+15550001", "+15550002", "https://app.example/answer"))?;
/// // The call asks for its answer document first.
/// assert!(matches!(engine.poll_output(), Some(EngineOutput::Call { .. })));
/// # Ok::<(), plivo_flow::engine::EngineError>(())
/// ```
#[derive(Debug)]
pub struct Engine {
    call_config: std::sync::Arc<CallConfig>,
    /// Boxed: the map's slots stay small, so its spare capacity costs little per call.
    calls: HashMap<CallId, Box<Call>>,
    rooms: Conferences,
    /// Call deadlines, possibly stale: checked against the call when popped.
    timers: BinaryHeap<Reverse<(Duration, CallId)>>,
    deadlines: HashMap<CallId, Duration>,
    dirty: VecDeque<CallId>,
    out: VecDeque<EngineOutput>,
    next_request: u64,
    /// The latest `now` seen (debug builds check that time never goes back).
    latest: Duration,
}

impl Engine {
    /// An engine with no calls.
    pub fn new(config: EngineConfig) -> Self {
        let rooms = Conferences::new(config.rooms.clone());
        Engine {
            call_config: std::sync::Arc::new(config.call),
            calls: HashMap::new(),
            rooms,
            timers: BinaryHeap::new(),
            deadlines: HashMap::new(),
            dirty: VecDeque::new(),
            out: VecDeque::new(),
            next_request: 1 << 48,
            latest: Duration::ZERO,
        }
    }

    /// Notes `now`; in debug builds, panics when it is before a `now` already seen (the
    /// driver's clock went back: every deadline would be wrong).
    fn saw(&mut self, now: Duration) {
        debug_assert!(now >= self.latest, "time went back: {now:?} after {:?}", self.latest);
        self.latest = self.latest.max(now);
    }

    /// The settings of calls started from now on (calls already started keep theirs).
    pub fn call_config_mut(&mut self) -> &mut CallConfig {
        std::sync::Arc::make_mut(&mut self.call_config)
    }

    /// Creates and starts a call.
    pub fn start_call(&mut self, now: Duration, setup: CallSetup) -> Result<CallId, EngineError> {
        self.saw(now);
        let id = setup.id.clone();
        if self.calls.contains_key(&id) {
            return Err(EngineError::DuplicateCall(id));
        }
        let mut call = Box::new(Call::with_shared_config(setup, self.call_config.clone(), now));
        call.start(now);
        self.calls.insert(id.clone(), call);
        self.dirty.push_back(id.clone());
        self.pump(now);
        Ok(id)
    }

    /// Hands `input` to call `id`.
    pub fn handle_input(&mut self, now: Duration, id: &CallId, input: Input) -> Result<(), EngineError> {
        self.saw(now);
        let call = self.calls.get_mut(id).ok_or_else(|| EngineError::UnknownCall(id.clone()))?;
        call.handle_input(now, input);
        self.dirty.push_back(id.clone());
        self.pump(now);
        Ok(())
    }

    /// Carries out a Call API operation on the live call `id` at `now` (play, speak, DTMF,
    /// record); a started recording's id and URL.
    ///
    /// # Errors
    /// [`CallOpError::NotLive`] when no such call is known or it has ended, and the call's
    /// own refusals; nothing changes then.
    pub fn call_op(&mut self, now: Duration, id: &CallId, op: CallOp) -> Result<Option<RecordingRef>, CallOpError> {
        self.saw(now);
        let call = self.calls.get_mut(id).ok_or_else(|| CallOpError::NotLive(id.clone()))?;
        let r = call.call_op(now, op);
        self.dirty.push_back(id.clone());
        self.pump(now);
        r
    }

    /// The rooms' REST operations at `now` (kick, mute, …): each routes the events it causes
    /// to the calls they name before it returns.
    pub fn room_ops(&mut self, now: Duration) -> RoomOps<'_> {
        self.saw(now);
        RoomOps { engine: self, now }
    }

    /// The rooms, for reading.
    pub fn rooms(&self) -> &Conferences {
        &self.rooms
    }

    /// A call, live or ended.
    pub fn call(&self, id: &CallId) -> Option<&Call> {
        self.calls.get(id).map(|c| &**c)
    }

    /// Every call, live or ended, in no particular order.
    pub fn calls(&self) -> impl Iterator<Item = &Call> {
        self.calls.values().map(|c| &**c)
    }

    /// Forgets an ended call. Returns false if it is unknown or still live.
    pub fn remove_call(&mut self, id: &CallId) -> bool {
        if self.calls.get(id).is_some_and(|c| c.is_ended()) {
            self.calls.remove(id);
            self.deadlines.remove(id);
            true
        } else {
            false
        }
    }

    /// The next output, in order.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<EngineOutput> {
        self.out.pop_front()
    }

    /// When [`Engine::handle_timeout`] must next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        let calls = self.timers.peek().map(|Reverse((t, _))| *t);
        match (calls, self.rooms.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fires every timer due at `now`, in deadline order.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.saw(now);
        while let Some(Reverse((t, id))) = self.timers.peek().cloned() {
            if t > now {
                break;
            }
            self.timers.pop();
            if self.deadlines.get(&id) != Some(&t) {
                continue; // stale
            }
            self.deadlines.remove(&id);
            if let Some(call) = self.calls.get_mut(&id) {
                call.handle_timeout(now);
                self.dirty.push_back(id);
                self.pump(now);
            }
        }
        if self.rooms.poll_timeout().is_some_and(|t| t <= now) {
            self.rooms.handle_timeout(now);
            self.pump(now);
        }
    }

    /// Routes outputs between calls and rooms until nothing moves. Room events go first: a
    /// room operation's facts (every member's `Left`, then `Ended`) all land before the calls
    /// they touch move on.
    fn pump(&mut self, now: Duration) {
        loop {
            if let Some(ev) = self.rooms.poll_event() {
                self.room_event(now, ev);
                continue;
            }
            let Some(id) = self.dirty.pop_front() else {
                break;
            };
            self.drain_call(now, id);
        }
    }

    fn drain_call(&mut self, now: Duration, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        // Whether the room a call just left is empty now, for its exit callback (a call that
        // leaves on its own, hanging up or transferred, cannot know; the rooms do).
        let mut left_last: Option<bool> = None;
        while let Some(output) = call.poll_output() {
            match output {
                Output::Command(Command::JoinConference { request, member }) => {
                    // A call is in one room at a time: one it is still in is left first.
                    if self.rooms.room_of(&id).is_some() {
                        self.rooms.leave(now, &id, super::rooms::LeaveReason::CallHungUp);
                    }
                    let _ = self.rooms.join(now, *request, *member);
                }
                Output::Command(Command::LeaveConference { reason }) => {
                    let account = &call.setup().account;
                    left_last = self
                        .rooms
                        .room_of(&id)
                        .map(|(kind, room, _)| self.rooms.member_count(account, kind, room) == Some(1));
                    self.rooms.leave(now, &id, reason);
                }
                Output::Request(mut req) if req.purpose == Purpose::Callback(Callback::ConferenceExit) => {
                    if let Some(last) = left_last.take()
                        && let Some((_, v)) = req.params.iter_mut().find(|(k, _)| k == "ConferenceLastMember")
                    {
                        *v = last.to_string();
                    }
                    self.out.push_back(EngineOutput::Call { call: id.clone(), output: Output::Request(req) });
                }
                // Nobody hears a sound played into a room that has ended.
                Output::Command(Command::RoomSound { kind, room, .. })
                    if self.rooms.member_count(&call.setup().account, kind, &room).unwrap_or(0) == 0 => {}
                output => self.out.push_back(EngineOutput::Call { call: id.clone(), output }),
            }
        }
        match call.poll_timeout() {
            Some(t) if self.deadlines.get(&id) != Some(&t) => {
                self.deadlines.insert(id.clone(), t);
                self.timers.push(Reverse((t, id)));
            }
            Some(_) => {}
            None => {
                self.deadlines.remove(&id);
            }
        }
    }

    fn room_event(&mut self, now: Duration, ev: RoomEvent) {
        let target = match &ev {
            RoomEvent::Joined { call, .. }
            | RoomEvent::Refused { call, .. }
            | RoomEvent::Started { call, .. }
            | RoomEvent::Left { call, .. }
            | RoomEvent::Floor { call, .. }
            | RoomEvent::Held { call, .. } => Some(call.clone()),
            _ => None,
        };
        if let RoomEvent::RecordingFinished { room, uuid, recording, ended_at, callback: Some((url, method)) } = &ev {
            let duration_ms =
                u64::try_from(ended_at.saturating_sub(recording.started_at).as_millis()).unwrap_or(u64::MAX);
            let id = RequestId(self.next_request);
            self.next_request += 1;
            let mut params = vec![
                ("ConferenceAction".to_owned(), "record".to_owned()),
                ("ConferenceName".to_owned(), room.to_string()),
                ("ConferenceUUID".to_owned(), uuid.to_string()),
            ];
            let rec = RecordingRef { id: recording.id.clone(), url: recording.url.clone() };
            params.extend(super::call::recording_params(
                &rec,
                self.call_config.clock_epoch,
                recording.started_at,
                duration_ms,
            ));
            let req = HttpRequest {
                id,
                url: url.as_str().to_owned(),
                method: *method,
                params,
                purpose: Purpose::Callback(Callback::ConferenceRecord),
                reply: Reply::Ignore,
            };
            self.out.push_back(EngineOutput::Room(ev.clone()));
            self.out.push_back(EngineOutput::Request(req));
            return;
        }
        self.out.push_back(EngineOutput::Room(ev.clone()));
        if let Some(id) = target
            && let Some(call) = self.calls.get_mut(&id)
        {
            call.handle_input(now, Input::Conference(ev));
            self.dirty.push_back(id);
        }
    }
}

/// The REST operations on an [`Engine`]'s rooms at one time, from [`Engine::room_ops`]:
/// Plivo's Conference API (<https://www.plivo.com/docs/voice/api/conference/>) and the
/// MultiPartyCall participant hold. Each returns what [`Conferences`]' operation of the same
/// name returns, and routes the events it caused to the calls before returning.
#[derive(Debug)]
pub struct RoomOps<'a> {
    engine: &'a mut Engine,
    now: Duration,
}

impl RoomOps<'_> {
    fn routed<R>(&mut self, op: impl FnOnce(&mut Conferences, Duration) -> R) -> R {
        let r = op(&mut self.engine.rooms, self.now);
        self.engine.pump(self.now);
        r
    }

    /// Kick: the targeted members leave ([`Conferences::kick`]).
    pub fn kick(&mut self, account: &str, room: &str, target: &MemberTarget) -> Result<Vec<MemberId>, ConferenceError> {
        self.routed(|r, now| r.kick(now, account, room, target))
    }

    /// Hang up members' calls ([`Conferences::hangup_members`]).
    pub fn hangup_members(
        &mut self,
        account: &str,
        room: &str,
        target: &MemberTarget,
    ) -> Result<Vec<MemberId>, ConferenceError> {
        self.routed(|r, now| r.hangup_members(now, account, room, target))
    }

    /// Mute / unmute ([`Conferences::set_muted`]).
    pub fn set_muted(
        &mut self,
        account: &str,
        room: &str,
        target: &MemberTarget,
        muted: bool,
    ) -> Result<Vec<MemberId>, ConferenceError> {
        self.routed(|r, _| r.set_muted(account, room, target, muted))
    }

    /// Deaf / undeaf ([`Conferences::set_deaf`]).
    pub fn set_deaf(
        &mut self,
        account: &str,
        room: &str,
        target: &MemberTarget,
        deaf: bool,
    ) -> Result<Vec<MemberId>, ConferenceError> {
        self.routed(|r, _| r.set_deaf(account, room, target, deaf))
    }

    /// MultiPartyCall participant hold / unhold ([`Conferences::set_hold`]).
    pub fn set_hold(
        &mut self,
        account: &str,
        mpc_name: &str,
        target: &MemberTarget,
        held: bool,
    ) -> Result<Vec<MemberId>, ConferenceError> {
        self.routed(|r, _| r.set_hold(account, mpc_name, target, held))
    }

    /// Play / stop play / speak / stop speak to members ([`Conferences::member_media`]).
    pub fn member_media(
        &mut self,
        account: &str,
        room: &str,
        target: &MemberTarget,
        media: MemberMedia,
    ) -> Result<Vec<MemberId>, ConferenceError> {
        self.routed(|r, _| r.member_media(account, room, target, media))
    }

    /// Give a member the floor ([`Conferences::set_floor`]).
    pub fn set_floor(&mut self, account: &str, room: &str, member_id: MemberId) -> Result<(), ConferenceError> {
        self.routed(|r, _| r.set_floor(account, room, member_id))
    }

    /// End a room ([`Conferences::end`]).
    pub fn end(&mut self, account: &str, room: &str) -> Result<(), ConferenceError> {
        self.routed(|r, now| r.end(now, account, room))
    }

    /// End every room of `account` ([`Conferences::end_all`]); returns their names.
    pub fn end_all(&mut self, account: &str) -> Vec<String> {
        self.routed(|r, now| r.end_all(now, account))
    }

    /// Start recording a room ([`Conferences::start_recording`]).
    pub fn start_recording(
        &mut self,
        account: &str,
        room: &str,
        spec: RecordSpec,
    ) -> Result<RecordingInfo, ConferenceError> {
        self.routed(|r, now| r.start_recording(now, account, room, spec))
    }

    /// Stop recording a room ([`Conferences::stop_recording`]).
    pub fn stop_recording(&mut self, account: &str, room: &str) -> Result<Option<RecordingInfo>, ConferenceError> {
        self.routed(|r, now| r.stop_recording(now, account, room))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::cause::HangupSource;
    use crate::engine::io::FetchReply;

    const ROOM: &str = r#"<Response><Conference callbackUrl="https://app.example/conf">r</Conference></Response>"#;

    /// Drains the engine: answers every answer fetch with [`ROOM`], returns the exit
    /// callbacks' (call, `ConferenceLastMember`).
    fn pump(e: &mut Engine, now: Duration) -> Vec<(String, String)> {
        let mut exits = Vec::new();
        loop {
            let mut fetches = Vec::new();
            while let Some(out) = e.poll_output() {
                let EngineOutput::Call { call, output: Output::Request(req) } = out else { continue };
                match req.purpose {
                    Purpose::Answer => fetches.push((call, req.id)),
                    Purpose::Callback(Callback::ConferenceExit) => {
                        let last = req.params.iter().find(|(k, _)| k == "ConferenceLastMember");
                        exits.push((call.to_string(), last.map(|(_, v)| v.clone()).unwrap_or_default()));
                    }
                    _ => {}
                }
            }
            if fetches.is_empty() {
                return exits;
            }
            for (call, request) in fetches {
                let doc = Arc::new(crate::xml::parse(ROOM).document);
                let input = Input::Fetched { request, reply: FetchReply::Document(doc) };
                e.handle_input(now, &call, input).expect("live call");
            }
        }
    }

    #[test]
    fn a_caller_hanging_up_in_a_room_is_its_last_member_only_when_alone() {
        let mut e = Engine::new(EngineConfig::default());
        let now = Duration::ZERO;
        for name in ["c1", "c2"] {
            e.start_call(now, CallSetup::inbound(name, "+1555", "+1666", "https://app.example/answer")).expect("start");
        }
        assert_eq!(pump(&mut e, now), []);
        assert_eq!(e.rooms().member_count("", super::super::rooms::RoomKind::Conference, "r"), Some(2));
        // The call leaves on its own: its exit callback goes before the room has seen the leave.
        let hangup = Input::Hangup { source: HangupSource::Caller };
        e.handle_input(now, &CallId::from("c1".to_owned()), hangup.clone()).expect("live");
        assert_eq!(pump(&mut e, now), [("c1".to_owned(), "false".to_owned())]);
        e.handle_input(now, &CallId::from("c2".to_owned()), hangup).expect("live");
        assert_eq!(pump(&mut e, now), [("c2".to_owned(), "true".to_owned())]);
    }
}
