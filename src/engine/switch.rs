//! [`Engine`]: many calls and the conference rooms, wired together.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::Duration;

use super::call::{Call, CallConfig, CallSetup};
use super::ids::{CallId, RequestId};
use super::io::{Command, HttpRequest, Input, Output, Purpose, Reply};
use super::rooms::{Conferences, RoomEvent, RoomsConfig};

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
/// [`Engine::handle_input`], [`Engine::conference`], [`Engine::handle_timeout`]) takes `now`;
/// afterwards drain [`Engine::poll_output`] until `None`, then sleep until
/// [`Engine::poll_timeout`]. Room operations (the REST API) go through
/// [`Engine::conference`], which routes the events they cause before returning.
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
        }
    }

    /// The settings of calls started from now on (calls already started keep theirs).
    pub fn call_config_mut(&mut self) -> &mut CallConfig {
        std::sync::Arc::make_mut(&mut self.call_config)
    }

    /// Creates and starts a call.
    pub fn start_call(&mut self, now: Duration, setup: CallSetup) -> Result<CallId, EngineError> {
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
        let call = self.calls.get_mut(id).ok_or_else(|| EngineError::UnknownCall(id.clone()))?;
        call.handle_input(now, input);
        self.dirty.push_back(id.clone());
        self.pump(now);
        Ok(())
    }

    /// Runs `op` on the rooms (a REST operation), then routes the events it caused.
    pub fn conference<R>(&mut self, now: Duration, op: impl FnOnce(&mut Conferences) -> R) -> R {
        let r = op(&mut self.rooms);
        self.pump(now);
        r
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
    pub fn poll_output(&mut self) -> Option<EngineOutput> {
        self.out.pop_front()
    }

    /// When [`Engine::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let calls = self.timers.peek().map(|Reverse((t, _))| *t);
        match (calls, self.rooms.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fires every timer due at `now`, in deadline order.
    pub fn handle_timeout(&mut self, now: Duration) {
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
                    self.rooms.leave(now, &id, reason);
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
            let duration_ms = ended_at.saturating_sub(recording.started_at).as_millis();
            let id = RequestId(self.next_request);
            self.next_request += 1;
            let params = vec![
                ("ConferenceAction".to_owned(), "record".to_owned()),
                ("ConferenceName".to_owned(), room.to_string()),
                ("ConferenceUUID".to_owned(), uuid.to_string()),
                ("RecordUrl".to_owned(), recording.url.clone()),
                ("RecordingID".to_owned(), recording.id.clone()),
                ("RecordingDuration".to_owned(), (duration_ms / 1000).to_string()),
                ("RecordingDurationMs".to_owned(), duration_ms.to_string()),
                ("RecordingStartMs".to_owned(), recording.started_at.as_millis().to_string()),
                ("RecordingEndMs".to_owned(), ended_at.as_millis().to_string()),
            ];
            let req = HttpRequest {
                id,
                url: url.as_str().to_owned(),
                method: *method,
                params,
                purpose: Purpose::Callback("conference record"),
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
