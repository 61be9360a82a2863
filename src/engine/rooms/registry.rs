//! The registry: rooms keyed by (account, kind, name), their members, joins and departures,
//! time limits, and the read-only views (`get`, `list`). REST operations are in `ops.rs`.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::events::{EndReason, LeaveReason, RecordingInfo, RoomEvent};
use super::ops::{ConferenceError, MemberTarget};
use crate::engine::ids::{AccountId, MemberId, RoomUuid};
use crate::engine::ids::{CallId, IdGen};
use crate::xml::values::{FileFormat, Method, ToXml, Url};

/// Plain conference or role-based multiparty call; the two live in separate name spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RoomKind {
    /// `<Conference>`.
    Conference,
    /// `<MultiPartyCall>`.
    MultiParty,
}

/// Inbound or outbound, as reported in member listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The call came in.
    Inbound,
    /// The call was placed.
    Outbound,
}

impl Direction {
    /// `inbound` or `outbound`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// Who is joining: the call's identity as shown in member listings. The texts are shared
/// (`Arc<str>`), so a member can hold its call's own copies: joining and leaving cost
/// reference counts, not allocations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    /// The member's call.
    pub call: CallId,
    /// Caller number.
    pub from: Arc<str>,
    /// Called number.
    pub to: Arc<str>,
    /// Caller name (may be empty).
    pub caller_name: Arc<str>,
    /// Call direction.
    pub direction: Direction,
}

/// How a room records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSpec {
    /// mp3 or wav.
    pub format: FileFormat,
    /// Told when the recording is finished, if set.
    pub callback: Option<(Url, Method)>,
}

/// A join, with the member's settings (from its `<Conference>` or `<MultiPartyCall>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    /// The account the room belongs to.
    pub account: AccountId,
    /// Room name.
    pub room: String,
    /// Name space.
    pub kind: RoomKind,
    /// Join unable to speak.
    pub muted: bool,
    /// Join on hold (`<MultiPartyCall hold="true">`): not heard by the others and not hearing
    /// them, until unheld ([`Conferences::set_hold`]).
    pub hold: bool,
    /// Joining starts the room.
    pub start_on_enter: bool,
    /// Leaving ends the room.
    pub end_on_exit: bool,
    /// false: the room ends when this member is left alone.
    pub stay_alone: bool,
    /// Capacity, if this member creates the room.
    pub max_members: u32,
    /// Room lifetime, if this member creates the room.
    pub time_limit: Option<Duration>,
    /// Record the room (starts a recording if none is running).
    pub record: Option<RecordSpec>,
}

/// One member as listed by [`Conferences::get`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSnapshot {
    /// Member id.
    pub member_id: MemberId,
    /// The member's call.
    pub call: CallId,
    /// Can't be heard: muted, or on hold.
    pub muted: bool,
    /// Can't hear the room: deaf, or on hold (hearing its hold music instead).
    pub deaf: bool,
    /// On hold (MultiPartyCall participants only; see [`Conferences::set_hold`]).
    pub held: bool,
    /// Caller number.
    pub from: String,
    /// Called number.
    pub to: String,
    /// Caller name.
    pub caller_name: String,
    /// Call direction.
    pub direction: Direction,
    /// Time in the room.
    pub joined_for: Duration,
}

/// A room as listed by [`Conferences::get`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSnapshot {
    /// Room name.
    pub name: String,
    /// The room's UUID.
    pub uuid: RoomUuid,
    /// Time since the room was created.
    pub run_time: Duration,
    /// Whether it has started.
    pub started: bool,
    /// Members by ascending id.
    pub members: Vec<MemberSnapshot>,
    /// The running recording, if any.
    pub recording: Option<RecordingInfo>,
}

/// Settings of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomsConfig {
    /// Seed of the UUID generator (rooms and recordings).
    pub seed: u64,
    /// Recording files are named `{recording_url_base}/{id}.{format}`.
    pub recording_url_base: String,
}

impl Default for RoomsConfig {
    fn default() -> Self {
        RoomsConfig { seed: 1, recording_url_base: "https://media.plivo-flow.invalid/recordings".to_owned() }
    }
}

/// The smallest room whose end clears the member index in one pass ([`Conferences::end_room`]).
const SWEEP_MIN: usize = 64;

/// A room's key: (account, kind, name).
pub(super) type RoomKey = (String, RoomKind, String);

/// The registry's hash maps: foldhash, randomly seeded per map (call ids and room names come
/// from outside, so the seed keeps collisions unpredictable), several times cheaper than
/// SipHash on a 36-byte call UUID.
pub(super) type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Which room each member call is in, and its member id there.
pub(super) type MemberIndex = Map<CallId, (Arc<RoomKey>, MemberId)>;

/// The registry of live rooms. See the module docs for the drive contract and rules.
#[derive(Debug)]
pub struct Conferences {
    pub(super) config: RoomsConfig,
    pub(super) ids: IdGen,
    pub(super) next_member_id: u32,
    /// Keys are shared with the member index and the deadlines: no copies per member.
    pub(super) rooms: Map<Arc<RoomKey>, Room>,
    /// Which room each member call is in, and its member id there.
    pub(super) members: MemberIndex,
    /// Time limits, ordered: (deadline, room serial) → room.
    pub(super) deadlines: BTreeMap<(Duration, u64), Arc<RoomKey>>,
    /// Serial of the next room created (orders rooms whose deadlines are equal).
    pub(super) next_serial: u64,
    pub(super) events: VecDeque<RoomEvent>,
}

/// One live room.
#[derive(Debug)]
pub(super) struct Room {
    /// The room name, shared by every event about the room.
    pub(super) name: Arc<str>,
    pub(super) uuid: RoomUuid,
    pub(super) created_at: Duration,
    pub(super) started: bool,
    pub(super) max_members: u32,
    /// This room's key in [`Conferences::deadlines`], if it has a time limit.
    pub(super) deadline: Option<(Duration, u64)>,
    /// Members by id (ascending iteration gives the event order).
    pub(super) members: BTreeMap<MemberId, Member>,
    pub(super) recording: Option<Recording>,
}

/// One member of a room.
#[derive(Debug)]
pub(super) struct Member {
    pub(super) info: MemberInfo,
    pub(super) muted: bool,
    pub(super) deaf: bool,
    /// On hold (MultiPartyCall): counts as muted and deaf while set, without changing them.
    pub(super) held: bool,
    pub(super) end_on_exit: bool,
    pub(super) stay_alone: bool,
    pub(super) joined_at: Duration,
}

/// A member flag set through the REST API.
#[derive(Debug, Clone, Copy)]
pub(super) enum Flag {
    Muted,
    Deaf,
}

/// A running recording and who to tell when it finishes.
#[derive(Debug)]
pub(super) struct Recording {
    pub(super) info: Arc<RecordingInfo>,
    pub(super) callback: Option<(Url, Method)>,
}

pub(super) fn room_key(account: &str, kind: RoomKind, room: &str) -> RoomKey {
    (account.to_owned(), kind, room.to_owned())
}

pub(super) fn room_not_found(room: &str) -> ConferenceError {
    ConferenceError::RoomNotFound { room: room.to_owned() }
}

pub(super) fn mpc_not_found(name: &str) -> ConferenceError {
    ConferenceError::MultiPartyCallNotFound { name: name.to_owned() }
}

/// The listing of live room `r` named `name`.
fn snapshot(now: Duration, name: &str, r: &Room) -> RoomSnapshot {
    let members = r
        .members
        .iter()
        .map(|(&member_id, m)| MemberSnapshot {
            member_id,
            call: m.info.call.clone(),
            muted: m.muted || m.held,
            deaf: m.deaf || m.held,
            held: m.held,
            from: m.info.from.to_string(),
            to: m.info.to.to_string(),
            caller_name: m.info.caller_name.to_string(),
            direction: m.info.direction,
            joined_for: now.saturating_sub(m.joined_at),
        })
        .collect();
    RoomSnapshot {
        name: name.to_owned(),
        uuid: r.uuid.clone(),
        run_time: now.saturating_sub(r.created_at),
        started: r.started,
        members,
        recording: r.recording.as_ref().map(|rec| RecordingInfo::clone(&rec.info)),
    }
}

/// A new recording named by `ids`, stored under `base`.
pub(super) fn new_recording(ids: &mut IdGen, base: &str, now: Duration, spec: RecordSpec) -> Recording {
    let id = ids.uuid();
    let url = format!("{}/{}.{}", base.trim_end_matches('/'), id, spec.format.to_xml());
    Recording {
        info: Arc::new(RecordingInfo { id: id.into(), url, format: spec.format, started_at: now }),
        callback: spec.callback,
    }
}

/// Removes member `id` from `room` and from the call index, and emits its `Left`.
pub(super) fn depart(
    room: &mut Room,
    index: &mut MemberIndex,
    events: &mut VecDeque<RoomEvent>,
    id: MemberId,
    reason: LeaveReason,
) -> Option<Member> {
    let member = room.members.remove(&id)?;
    index.remove(&member.info.call);
    events.push_back(left(room, member.info.call.clone(), id, reason, room.members.is_empty()));
    Some(member)
}

/// The `Left` of member `member_id` (call `call`) of `room`; `last`: the room is empty now.
fn left(room: &Room, call: CallId, member_id: MemberId, reason: LeaveReason, last: bool) -> RoomEvent {
    RoomEvent::Left {
        call,
        room: room.name.clone(),
        uuid: room.uuid.clone(),
        member_id,
        reason,
        last,
        recording: room.recording.as_ref().map(|r| r.info.clone()),
    }
}

/// The member ids `target` names in `room`, ascending, or the error naming the unknown ones.
pub(super) fn resolve(name: &str, room: &Room, target: &MemberTarget) -> Result<Vec<MemberId>, ConferenceError> {
    match target {
        MemberTarget::All => Ok(room.members.keys().copied().collect()),
        MemberTarget::Ids(ids) => {
            let mut ids = ids.clone();
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() {
                return Err(ConferenceError::InvalidTarget(String::new()));
            }
            let missing: Vec<MemberId> = ids.iter().copied().filter(|id| !room.members.contains_key(id)).collect();
            if missing.is_empty() {
                Ok(ids)
            } else {
                Err(ConferenceError::MembersNotFound { room: name.to_owned(), ids: missing })
            }
        }
    }
}

impl Conferences {
    /// An empty registry.
    pub fn new(config: RoomsConfig) -> Self {
        let ids = IdGen::new(config.seed);
        Conferences {
            config,
            ids,
            next_member_id: 1,
            rooms: Map::default(),
            members: Map::default(),
            deadlines: BTreeMap::new(),
            next_serial: 0,
            events: VecDeque::new(),
        }
    }

    /// Adds `member` to the room `req` names (creating it if needed). Emits
    /// [`RoomEvent::Joined`] (then [`RoomEvent::Started`] for waiting members if this member
    /// starts the room, and [`RoomEvent::RecordingStarted`] if it starts a recording) or
    /// [`RoomEvent::Refused`]. A call that is already in a room gets
    /// [`ConferenceError::AlreadyInRoom`] and nothing changes.
    pub fn join(&mut self, now: Duration, req: JoinRequest, member: MemberInfo) -> Result<(), ConferenceError> {
        if self.members.contains_key(&member.call) {
            return Err(ConferenceError::AlreadyInRoom(member.call));
        }
        let key = room_key(&req.account, req.kind, &req.room);
        let (count, max_members) = match self.rooms.get(&key) {
            Some(room) => (room.members.len(), room.max_members),
            None => (0, req.max_members),
        };
        if count >= usize::try_from(max_members).unwrap_or(usize::MAX) {
            self.events.push_back(RoomEvent::Refused { call: member.call, room: req.room.into(), max_members });
            return Ok(());
        }

        let first = !self.rooms.contains_key(&key);
        let key: Arc<RoomKey> = match self.rooms.get_key_value(&key) {
            Some((k, _)) => k.clone(),
            None => Arc::new(key),
        };
        let room = match self.rooms.entry(key.clone()) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let serial = self.next_serial;
                self.next_serial = self.next_serial.wrapping_add(1);
                let deadline = req.time_limit.and_then(|limit| now.checked_add(limit)).map(|at| (at, serial));
                if let Some(slot) = deadline {
                    self.deadlines.insert(slot, key.clone());
                }
                e.insert(Room {
                    name: Arc::from(req.room.as_str()),
                    uuid: RoomUuid::from(self.ids.uuid()),
                    created_at: now,
                    started: false,
                    max_members: req.max_members,
                    deadline,
                    members: BTreeMap::new(),
                    recording: None,
                })
            }
        };

        let id = MemberId(self.next_member_id);
        self.next_member_id = self.next_member_id.saturating_add(1);
        let starts = !room.started && req.start_on_enter;
        let waiting: Vec<CallId> =
            if starts { room.members.values().map(|m| m.info.call.clone()).collect() } else { Vec::new() };
        room.started |= req.start_on_enter;

        self.members.insert(member.call.clone(), (key, id));
        self.events.push_back(RoomEvent::Joined {
            call: member.call.clone(),
            room: room.name.clone(),
            uuid: room.uuid.clone(),
            member_id: id,
            started: room.started,
            first,
            muted: req.muted,
            held: req.hold,
        });
        room.members.insert(
            id,
            Member {
                info: member,
                muted: req.muted,
                deaf: false,
                held: req.hold,
                end_on_exit: req.end_on_exit,
                stay_alone: req.stay_alone,
                joined_at: now,
            },
        );
        for call in waiting {
            self.events.push_back(RoomEvent::Started { call, room: room.name.clone() });
        }
        if let Some(spec) = req.record
            && room.recording.is_none()
        {
            let recording = new_recording(&mut self.ids, &self.config.recording_url_base, now, spec);
            self.events.push_back(RoomEvent::RecordingStarted {
                room: room.name.clone(),
                uuid: room.uuid.clone(),
                recording: recording.info.clone(),
            });
            room.recording = Some(recording);
        }
        Ok(())
    }

    /// `call` leaves its room for `reason` (used for `HangupOnStar` and `CallHungUp`). Emits
    /// [`RoomEvent::Left`] and any consequences. Returns false if the call is in no room.
    pub fn leave(&mut self, now: Duration, call: &CallId, reason: LeaveReason) -> bool {
        let Some((key, id)) = self.members.get(call).cloned() else {
            return false;
        };
        self.depart_batch(now, &key, &[id], reason);
        true
    }

    /// The room `call` is in, as (kind, room name, member id).
    pub fn room_of(&self, call: &CallId) -> Option<(RoomKind, &str, MemberId)> {
        self.members.get(call).map(|(key, id)| (key.1, key.2.as_str(), *id))
    }

    /// REST get conference (kind Conference).
    pub fn get(&self, now: Duration, account: &str, room: &str) -> Result<RoomSnapshot, ConferenceError> {
        let key = room_key(account, RoomKind::Conference, room);
        let r = self.rooms.get(&key).ok_or_else(|| room_not_found(room))?;
        Ok(snapshot(now, room, r))
    }

    /// REST get multiparty call (kind MultiParty): the MPC `name` of `account` and its
    /// participants (Plivo: `GET /v1/Account/{auth_id}/MultiPartyCall/name_{mpc_name}/`).
    pub fn get_multi_party(&self, now: Duration, account: &str, name: &str) -> Result<RoomSnapshot, ConferenceError> {
        let key = room_key(account, RoomKind::MultiParty, name);
        let r = self.rooms.get(&key).ok_or_else(|| mpc_not_found(name))?;
        Ok(snapshot(now, name, r))
    }

    /// REST list conferences: the names of the account's live rooms (kind Conference), sorted.
    pub fn list(&self, account: &str) -> Vec<String> {
        let mut names: Vec<String> =
            self.rooms.keys().filter(|k| k.0 == account && k.1 == RoomKind::Conference).map(|k| k.2.clone()).collect();
        names.sort_unstable();
        names
    }

    /// Number of live rooms (all accounts and kinds).
    pub fn len(&self) -> usize {
        self.rooms.len()
    }

    /// Number of members of all live rooms (all accounts and kinds).
    pub fn member_total(&self) -> usize {
        self.members.len()
    }

    /// Whether there is no live room.
    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }

    /// Number of members in the room (`None` if there is no such live room).
    pub fn member_count(&self, account: &str, kind: RoomKind, room: &str) -> Option<usize> {
        self.rooms.get(&room_key(account, kind, room)).map(|r| r.members.len())
    }

    /// When [`Conferences::handle_timeout`] must next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.deadlines.keys().next().map(|&(at, _)| at)
    }

    /// Fires every room timer due at `now` (time limits).
    pub fn handle_timeout(&mut self, now: Duration) {
        while let Some((&(at, _), _)) = self.deadlines.first_key_value() {
            if at > now {
                break;
            }
            let Some((_, key)) = self.deadlines.pop_first() else {
                break;
            };
            self.end_room(now, &key, EndReason::TimeLimit, |_| LeaveReason::TimeLimit);
        }
    }

    /// The next event, in order.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<RoomEvent> {
        self.events.pop_front()
    }

    /// The members `ids` (ascending) leave room `key` for `reason`, one by one, each followed
    /// by its consequences. A consequence never gives a member still due to leave in this
    /// batch a different reason: `end_on_exit` removes them with `reason`, and a lone member
    /// that is about to leave anyway is not torn down for `stayAlone`.
    pub(super) fn depart_batch(&mut self, now: Duration, key: &RoomKey, ids: &[MemberId], reason: LeaveReason) {
        /// What must happen after a departure.
        enum Then {
            EndOnExit,
            Empty,
            StayAlone,
        }
        // Every member leaves (`ids` are members, ascending and distinct, so as many ids as
        // members are all of them): the same events as one by one, in one walk. Each leaves
        // with `reason` (an `end_on_exit` leaver's consequence only touches members due to
        // leave anyway); the room ends because of the first `end_on_exit` leaver that is not
        // the last one, or else because it is empty.
        if self.rooms.get(key).is_some_and(|room| room.members.len() == ids.len()) {
            let end = |end_on_exit| if end_on_exit { EndReason::EndOnExit } else { EndReason::Empty };
            self.end_room_as(now, key, end, |_| reason);
            return;
        }
        // One Left per member at least: grow the queue once, not by doubling.
        self.events.reserve(ids.len() + 1);
        let mut i = 0;
        while i < ids.len() {
            // The room is looked up once per run of departures, not once per member.
            let Some(room) = self.rooms.get_mut(key) else {
                return;
            };
            let mut then = None;
            while let Some(&id) = ids.get(i) {
                i += 1;
                let pending = ids.get(i..).unwrap_or_default();
                let Some(leaver) = depart(room, &mut self.members, &mut self.events, id, reason) else {
                    continue;
                };
                if leaver.end_on_exit && !room.members.is_empty() {
                    then = Some(Then::EndOnExit);
                } else if room.members.is_empty() {
                    then = Some(Then::Empty);
                } else if room.members.len() == 1 {
                    let lone_must_go = room
                        .members
                        .iter()
                        .next()
                        .is_some_and(|(m, member)| !member.stay_alone && pending.binary_search(m).is_err());
                    if lone_must_go {
                        then = Some(Then::StayAlone);
                    }
                }
                if then.is_some() {
                    break;
                }
            }
            let pending = ids.get(i..).unwrap_or_default();
            match then {
                Some(Then::EndOnExit) => self.end_room(now, key, EndReason::EndOnExit, |m| {
                    if pending.binary_search(&m).is_ok() { reason } else { LeaveReason::RoomEnded }
                }),
                Some(Then::Empty) => self.end_room(now, key, EndReason::Empty, |_| reason),
                Some(Then::StayAlone) => self.end_room(now, key, EndReason::StayAlone, |_| LeaveReason::StayAlone),
                None => {}
            }
        }
    }

    /// Ends room `key`: every remaining member leaves (ascending id, with `reason_for(id)`),
    /// a running recording finishes, then [`RoomEvent::Ended`].
    pub(super) fn end_room(
        &mut self,
        now: Duration,
        key: &RoomKey,
        end: EndReason,
        reason_for: impl Fn(MemberId) -> LeaveReason,
    ) {
        self.end_room_as(now, key, |_| end, reason_for);
    }

    /// [`Conferences::end_room`], with the end reason chosen by `end(end_on_exit)` once the
    /// members have left: `end_on_exit` tells whether a member other than the last had it.
    fn end_room_as(
        &mut self,
        now: Duration,
        key: &RoomKey,
        end: impl FnOnce(bool) -> EndReason,
        reason_for: impl Fn(MemberId) -> LeaveReason,
    ) {
        let Some((room_key, mut room)) = self.rooms.remove_entry(key) else {
            return;
        };
        if let Some(slot) = room.deadline {
            self.deadlines.remove(&slot);
        }
        // The whole member map is taken at once and walked in order (ascending id): no
        // per-member removal from the tree, no shifting of the members after it.
        let members = std::mem::take(&mut room.members);
        // A room holding at least a quarter of the member index's capacity (what `retain`
        // walks) leaves the index in one sequential pass (its entries point at this room's
        // key: compared by address, no hashing of call ids, no key reads), at most 4× the
        // room's size; a smaller room removes its members one by one.
        let sweep = members.len() >= SWEEP_MIN && members.len().saturating_mul(4) >= self.members.capacity();
        if sweep {
            self.members.retain(|_, (k, _)| !Arc::ptr_eq(k, &room_key));
        }
        self.events.reserve(members.len() + 2);
        let mut remaining = members.len();
        let mut end_on_exit = false;
        for (id, member) in members {
            remaining -= 1;
            end_on_exit |= member.end_on_exit && remaining > 0;
            if !sweep {
                self.members.remove(&member.info.call);
            }
            self.events.push_back(left(&room, member.info.call, id, reason_for(id), remaining == 0));
        }
        if let Some(recording) = room.recording.take() {
            self.events.push_back(RoomEvent::RecordingFinished {
                room: room.name.clone(),
                uuid: room.uuid.clone(),
                recording: recording.info,
                ended_at: now,
                callback: recording.callback,
            });
        }
        self.events.push_back(RoomEvent::Ended {
            account: AccountId::from(key.0.as_str()),
            room: room.name.clone(),
            uuid: room.uuid,
            reason: end(end_on_exit),
        });
    }
}
