//! Conference rooms: a sans-IO registry of rooms and their members.
//!
//! # Drive contract
//!
//! [`Conferences`] does no I/O and reads no clock. Every mutation takes `now` (time since the
//! driver's epoch). After each mutation ([`Conferences::join`], [`Conferences::leave`], an
//! operation such as [`Conferences::kick`], or [`Conferences::handle_timeout`]), drain
//! [`Conferences::poll_event`] until it returns `None`, and deliver each event: the ones that
//! name a `call` go to that call's [`crate::engine::Call`] (as a
//! [`crate::engine::Input::Conference`]), the others are room-level facts for logs,
//! callbacks and media. Then ask [`Conferences::poll_timeout`] when to call
//! [`Conferences::handle_timeout`] next.
//!
//! # Rules (spec §4)
//!
//! * A room is keyed by (account, kind, name). It is created, with a fresh UUID, when its first
//!   member joins, and it disappears when its last member leaves or it is ended.
//! * Member ids come from one counter for the whole registry, starting at 1, never reused.
//! * The first member fixes `max_members` and `time_limit`; a join beyond `max_members` is
//!   refused ([`RoomEvent::Refused`]): no member id, no enter, the verb just ends.
//! * A room is *started* once a member with `start_on_enter` has joined, and stays started.
//!   Members who joined before that get [`RoomEvent::Started`] when it happens.
//! * When a member with `end_on_exit` leaves, for any reason, the room ends: every other
//!   member leaves with [`LeaveReason::RoomEnded`] (their calls continue).
//! * After a departure, when exactly one member is left and that member has
//!   `stay_alone == false`, it leaves with [`LeaveReason::StayAlone`] and the room ends.
//! * `time_limit` closes the room: every member leaves with [`LeaveReason::TimeLimit`].
//! * Every member that got [`RoomEvent::Joined`] gets exactly one [`RoomEvent::Left`].
//! * Operations target one id, a comma list or `all` ([`MemberTarget`]); an unknown room or
//!   member is an error and nothing changes (a list with unknown ids names exactly those).
//! * Events come out in a deterministic order: for a group, by ascending member id.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ids::{CallId, IdGen};
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

/// Who is joining: the call's identity as shown in member listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    /// The member's call.
    pub call: CallId,
    /// Caller number.
    pub from: String,
    /// Called number.
    pub to: String,
    /// Caller name (may be empty).
    pub caller_name: String,
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
    pub account: String,
    /// Room name.
    pub room: String,
    /// Name space.
    pub kind: RoomKind,
    /// Join unable to speak.
    pub muted: bool,
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

/// Why a member left its room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum LeaveReason {
    /// Removed by the REST Kick operation.
    Kicked,
    /// The member pressed `*` with `hangupOnStar`.
    HangupOnStar,
    /// The room was ended (REST hang up conference, or a member with `endConferenceOnExit` left).
    RoomEnded,
    /// The room's `timeLimit` expired.
    TimeLimit,
    /// Left alone in a room whose last member has `stayAlone=false`.
    StayAlone,
    /// The REST member hangup: the member's call is hung up too.
    MemberHungUp,
    /// The member's call hung up (or otherwise ended) while in the room.
    CallHungUp,
    /// The member's call was transferred to another document (REST transfer).
    Transferred,
}

impl LeaveReason {
    /// A short lower-case name for transcripts.
    pub const fn as_str(self) -> &'static str {
        match self {
            LeaveReason::Kicked => "kicked",
            LeaveReason::HangupOnStar => "hangupOnStar",
            LeaveReason::RoomEnded => "room ended",
            LeaveReason::TimeLimit => "time limit",
            LeaveReason::StayAlone => "left alone",
            LeaveReason::MemberHungUp => "member hung up",
            LeaveReason::CallHungUp => "call hung up",
            LeaveReason::Transferred => "transferred",
        }
    }
}

impl fmt::Display for LeaveReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a room ceased to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EndReason {
    /// The last member left.
    Empty,
    /// Ended through the REST API.
    Api,
    /// A member with `endConferenceOnExit` left.
    EndOnExit,
    /// `timeLimit` expired.
    TimeLimit,
    /// The last member had `stayAlone=false`.
    StayAlone,
}

/// Which members an operation targets: `all`, one id, or a comma list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberTarget {
    /// Every member of the room.
    All,
    /// These member ids (at least one, duplicates removed, ascending).
    Ids(Vec<u32>),
}

impl FromStr for MemberTarget {
    type Err = ConferenceError;

    /// Parses `all`, `10` or `10,11,12` (spaces around ids are allowed).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || ConferenceError::InvalidTarget(s.to_owned());
        let trimmed = s.trim();
        if trimmed.eq_ignore_ascii_case("all") {
            return Ok(MemberTarget::All);
        }
        if trimmed.is_empty() {
            return Err(invalid());
        }
        let mut ids = Vec::new();
        for item in trimmed.split(',') {
            let item = item.trim();
            if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            ids.push(item.parse::<u32>().map_err(|_| invalid())?);
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(MemberTarget::Ids(ids))
    }
}

impl fmt::Display for MemberTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemberTarget::All => f.write_str("all"),
            MemberTarget::Ids(ids) => {
                let parts: Vec<String> = ids.iter().map(u32::to_string).collect();
                f.write_str(&parts.join(","))
            }
        }
    }
}

/// A failed room operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConferenceError {
    /// No live room by that name in the account.
    #[error("conference `{room}` not found")]
    RoomNotFound {
        /// The room name asked for.
        room: String,
    },
    /// Some targeted ids are not members of the room; nothing was done.
    #[error("member{} {} not found in conference `{room}`", if ids.len() == 1 { "" } else { "s" }, join_ids(ids))]
    MembersNotFound {
        /// The room.
        room: String,
        /// The ids that are not members, ascending.
        ids: Vec<u32>,
    },
    /// The call is already a member of a room.
    #[error("call {0} is already in a conference")]
    AlreadyInRoom(CallId),
    /// The member target is neither `all` nor a comma list of ids.
    #[error("invalid member id `{0}`: expected a member id, a comma-separated list of ids, or `all`")]
    InvalidTarget(String),
}

fn join_ids(ids: &[u32]) -> String {
    let parts: Vec<String> = ids.iter().map(u32::to_string).collect();
    parts.join(", ")
}

/// Audio sent to members by the REST API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberMedia {
    /// Play a file.
    Play {
        /// The audio URL.
        url: String,
    },
    /// Stop what `Play` started.
    StopPlay,
    /// Speak text.
    Speak {
        /// The text.
        text: String,
        /// `MAN` or `WOMAN`.
        voice: String,
        /// Language tag.
        language: String,
    },
    /// Stop what `Speak` started.
    StopSpeak,
}

/// A running or finished room recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingInfo {
    /// Recording id.
    pub id: String,
    /// Where the file will be.
    pub url: String,
    /// mp3 or wav.
    pub format: FileFormat,
    /// When it started.
    pub started_at: Duration,
}

/// Something that happened in a room. Events naming a `call` must be delivered to that call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RoomEvent {
    /// `call` joined `room` as `member_id`.
    Joined {
        /// The member's call.
        call: CallId,
        /// Room name.
        room: Arc<str>,
        /// The room's UUID.
        uuid: Arc<str>,
        /// The new member id.
        member_id: u32,
        /// Whether the room has started (false: the member waits, hearing waitSound).
        started: bool,
        /// Whether this member created the room.
        first: bool,
    },
    /// `call` could not join: the room is full.
    Refused {
        /// The call that asked.
        call: CallId,
        /// Room name.
        room: Arc<str>,
        /// The room's capacity.
        max_members: u32,
    },
    /// The room `call` is waiting in has started.
    Started {
        /// A waiting member's call.
        call: CallId,
        /// Room name.
        room: Arc<str>,
    },
    /// `call` left its room.
    Left {
        /// The member's call.
        call: CallId,
        /// Room name.
        room: Arc<str>,
        /// The room's UUID.
        uuid: Arc<str>,
        /// The member id it had.
        member_id: u32,
        /// Why.
        reason: LeaveReason,
        /// The room's recording, if one is running when the member leaves.
        recording: Option<RecordingInfo>,
    },
    /// A member was muted or unmuted.
    Muted {
        /// The member's call.
        call: CallId,
        /// Room name.
        room: Arc<str>,
        /// Member id.
        member_id: u32,
        /// New state.
        muted: bool,
    },
    /// A member was made deaf or not.
    Deafened {
        /// The member's call.
        call: CallId,
        /// Room name.
        room: Arc<str>,
        /// Member id.
        member_id: u32,
        /// New state.
        deaf: bool,
    },
    /// A member got the floor (became the active speaker).
    Floor {
        /// The member's call.
        call: CallId,
        /// Room name.
        room: Arc<str>,
        /// Member id.
        member_id: u32,
    },
    /// Audio for some members (REST play/speak and their stops).
    Media {
        /// Room name.
        room: Arc<str>,
        /// The targeted member ids, ascending.
        members: Vec<u32>,
        /// What to do.
        media: MemberMedia,
    },
    /// A recording started.
    RecordingStarted {
        /// Room name.
        room: Arc<str>,
        /// The room's UUID.
        uuid: Arc<str>,
        /// The recording.
        recording: RecordingInfo,
    },
    /// A recording finished (stopped through the API, or the room ended).
    RecordingFinished {
        /// Room name.
        room: Arc<str>,
        /// The room's UUID.
        uuid: Arc<str>,
        /// The recording.
        recording: RecordingInfo,
        /// When it stopped.
        ended_at: Duration,
        /// Who to tell.
        callback: Option<(Url, Method)>,
    },
    /// The room ceased to exist (after every member's `Left`).
    Ended {
        /// Account.
        account: String,
        /// Room name.
        room: Arc<str>,
        /// The room's UUID.
        uuid: Arc<str>,
        /// Why.
        reason: EndReason,
    },
}

/// One member as listed by [`Conferences::get`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSnapshot {
    /// Member id.
    pub member_id: u32,
    /// The member's call.
    pub call: CallId,
    /// Can't be heard.
    pub muted: bool,
    /// Can't hear.
    pub deaf: bool,
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
    pub uuid: String,
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

/// A room's key: (account, kind, name).
type RoomKey = (String, RoomKind, String);

/// The registry of live rooms. See the module docs for the drive contract and rules.
#[derive(Debug)]
pub struct Conferences {
    config: RoomsConfig,
    ids: IdGen,
    next_member_id: u32,
    /// Keys are shared with the member index and the deadlines: no copies per member.
    rooms: HashMap<Arc<RoomKey>, Room>,
    /// Which room each member call is in, and its member id there.
    members: HashMap<CallId, (Arc<RoomKey>, u32)>,
    /// Time limits, ordered: (deadline, room serial) → room.
    deadlines: BTreeMap<(Duration, u64), Arc<RoomKey>>,
    /// Serial of the next room created (orders rooms whose deadlines are equal).
    next_serial: u64,
    events: VecDeque<RoomEvent>,
}

/// One live room.
#[derive(Debug)]
struct Room {
    /// The room name, shared by every event about the room.
    name: Arc<str>,
    uuid: Arc<str>,
    created_at: Duration,
    started: bool,
    max_members: u32,
    /// This room's key in [`Conferences::deadlines`], if it has a time limit.
    deadline: Option<(Duration, u64)>,
    /// Members by id (ascending iteration gives the event order).
    members: BTreeMap<u32, Member>,
    recording: Option<Recording>,
}

/// One member of a room.
#[derive(Debug)]
struct Member {
    info: MemberInfo,
    muted: bool,
    deaf: bool,
    end_on_exit: bool,
    stay_alone: bool,
    joined_at: Duration,
}

/// A member flag set through the REST API.
#[derive(Debug, Clone, Copy)]
enum Flag {
    Muted,
    Deaf,
}

/// A running recording and who to tell when it finishes.
#[derive(Debug)]
struct Recording {
    info: RecordingInfo,
    callback: Option<(Url, Method)>,
}

fn room_key(account: &str, kind: RoomKind, room: &str) -> RoomKey {
    (account.to_owned(), kind, room.to_owned())
}

fn room_not_found(room: &str) -> ConferenceError {
    ConferenceError::RoomNotFound { room: room.to_owned() }
}

/// A new recording named by `ids`, stored under `base`.
fn new_recording(ids: &mut IdGen, base: &str, now: Duration, spec: RecordSpec) -> Recording {
    let id = ids.uuid();
    let url = format!("{}/{}.{}", base.trim_end_matches('/'), id, spec.format.to_xml());
    Recording { info: RecordingInfo { id, url, format: spec.format, started_at: now }, callback: spec.callback }
}

/// Removes member `id` from `room` and from the call index, and emits its `Left`.
fn depart(
    room: &mut Room,
    index: &mut HashMap<CallId, (Arc<RoomKey>, u32)>,
    events: &mut VecDeque<RoomEvent>,
    id: u32,
    reason: LeaveReason,
) -> Option<Member> {
    let member = room.members.remove(&id)?;
    index.remove(&member.info.call);
    events.push_back(RoomEvent::Left {
        call: member.info.call.clone(),
        room: room.name.clone(),
        uuid: room.uuid.clone(),
        member_id: id,
        reason,
        recording: room.recording.as_ref().map(|r| r.info.clone()),
    });
    Some(member)
}

/// The member ids `target` names in `room`, ascending, or the error naming the unknown ones.
fn resolve(name: &str, room: &Room, target: &MemberTarget) -> Result<Vec<u32>, ConferenceError> {
    match target {
        MemberTarget::All => Ok(room.members.keys().copied().collect()),
        MemberTarget::Ids(ids) => {
            let mut ids = ids.clone();
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() {
                return Err(ConferenceError::InvalidTarget(String::new()));
            }
            let missing: Vec<u32> = ids.iter().copied().filter(|id| !room.members.contains_key(id)).collect();
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
            rooms: HashMap::new(),
            members: HashMap::new(),
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
                    uuid: Arc::from(self.ids.uuid()),
                    created_at: now,
                    started: false,
                    max_members: req.max_members,
                    deadline,
                    members: BTreeMap::new(),
                    recording: None,
                })
            }
        };

        let id = self.next_member_id;
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
        });
        room.members.insert(
            id,
            Member {
                info: member,
                muted: req.muted,
                deaf: false,
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
    pub fn room_of(&self, call: &CallId) -> Option<(RoomKind, &str, u32)> {
        self.members.get(call).map(|(key, id)| (key.1, key.2.as_str(), *id))
    }

    /// REST Kick: the targeted members leave with [`LeaveReason::Kicked`]. Returns their ids.
    pub fn kick(
        &mut self,
        now: Duration,
        account: &str,
        room: &str,
        target: &MemberTarget,
    ) -> Result<Vec<u32>, ConferenceError> {
        let (key, ids) = self.targets(account, room, target)?;
        self.depart_batch(now, &key, &ids, LeaveReason::Kicked);
        Ok(ids)
    }

    /// REST member hangup: the targeted members leave with [`LeaveReason::MemberHungUp`]
    /// (their calls are to be hung up by whoever handles the event). Returns their ids.
    pub fn hangup_members(
        &mut self,
        now: Duration,
        account: &str,
        room: &str,
        target: &MemberTarget,
    ) -> Result<Vec<u32>, ConferenceError> {
        let (key, ids) = self.targets(account, room, target)?;
        self.depart_batch(now, &key, &ids, LeaveReason::MemberHungUp);
        Ok(ids)
    }

    /// REST Mute (`muted = true`) / Unmute. Emits [`RoomEvent::Muted`] for members whose state
    /// changed. Returns the targeted ids.
    pub fn set_muted(
        &mut self,
        account: &str,
        room: &str,
        target: &MemberTarget,
        muted: bool,
    ) -> Result<Vec<u32>, ConferenceError> {
        self.set_flag(account, room, target, Flag::Muted, muted)
    }

    /// REST Deaf / Undeaf. Emits [`RoomEvent::Deafened`] for members whose state changed.
    pub fn set_deaf(
        &mut self,
        account: &str,
        room: &str,
        target: &MemberTarget,
        deaf: bool,
    ) -> Result<Vec<u32>, ConferenceError> {
        self.set_flag(account, room, target, Flag::Deaf, deaf)
    }

    /// Sets a member flag on the targeted members; an event for each one that changed.
    fn set_flag(
        &mut self,
        account: &str,
        room: &str,
        target: &MemberTarget,
        flag: Flag,
        on: bool,
    ) -> Result<Vec<u32>, ConferenceError> {
        let (key, ids) = self.targets(account, room, target)?;
        if let Some(r) = self.rooms.get_mut(&key) {
            for &id in &ids {
                let Some(m) = r.members.get_mut(&id) else { continue };
                let slot = match flag {
                    Flag::Muted => &mut m.muted,
                    Flag::Deaf => &mut m.deaf,
                };
                if *slot == on {
                    continue;
                }
                *slot = on;
                let (call, room, member_id) = (m.info.call.clone(), r.name.clone(), id);
                self.events.push_back(match flag {
                    Flag::Muted => RoomEvent::Muted { call, room, member_id, muted: on },
                    Flag::Deaf => RoomEvent::Deafened { call, room, member_id, deaf: on },
                });
            }
        }
        Ok(ids)
    }

    /// REST Play / Stop play / Speak / Stop speak: emits one [`RoomEvent::Media`].
    pub fn member_media(
        &mut self,
        account: &str,
        room: &str,
        target: &MemberTarget,
        media: MemberMedia,
    ) -> Result<Vec<u32>, ConferenceError> {
        let (_, ids) = self.targets(account, room, target)?;
        self.events.push_back(RoomEvent::Media { room: Arc::from(room), members: ids.clone(), media });
        Ok(ids)
    }

    /// Gives the floor to a member: emits [`RoomEvent::Floor`].
    pub fn set_floor(&mut self, account: &str, room: &str, member_id: u32) -> Result<(), ConferenceError> {
        let key = room_key(account, RoomKind::Conference, room);
        let r = self.rooms.get(&key).ok_or_else(|| room_not_found(room))?;
        let m = r
            .members
            .get(&member_id)
            .ok_or_else(|| ConferenceError::MembersNotFound { room: room.to_owned(), ids: vec![member_id] })?;
        self.events.push_back(RoomEvent::Floor { call: m.info.call.clone(), room: Arc::from(room), member_id });
        Ok(())
    }

    /// REST hang up conference: every member leaves with [`LeaveReason::RoomEnded`], then
    /// [`RoomEvent::Ended`] with [`EndReason::Api`].
    pub fn end(&mut self, now: Duration, account: &str, room: &str) -> Result<(), ConferenceError> {
        let key = room_key(account, RoomKind::Conference, room);
        if !self.rooms.contains_key(&key) {
            return Err(room_not_found(room));
        }
        self.end_room(now, &key, EndReason::Api, |_| LeaveReason::RoomEnded);
        Ok(())
    }

    /// REST hang up all conferences of `account` (of kind Conference). Returns the names ended.
    pub fn end_all(&mut self, now: Duration, account: &str) -> Vec<String> {
        let names = self.list(account);
        for name in &names {
            let key = room_key(account, RoomKind::Conference, name);
            self.end_room(now, &key, EndReason::Api, |_| LeaveReason::RoomEnded);
        }
        names
    }

    /// REST start recording. If a recording is already running, returns it unchanged.
    pub fn start_recording(
        &mut self,
        now: Duration,
        account: &str,
        room: &str,
        spec: RecordSpec,
    ) -> Result<RecordingInfo, ConferenceError> {
        let key = room_key(account, RoomKind::Conference, room);
        let r = self.rooms.get_mut(&key).ok_or_else(|| room_not_found(room))?;
        if let Some(running) = &r.recording {
            return Ok(running.info.clone());
        }
        let recording = new_recording(&mut self.ids, &self.config.recording_url_base, now, spec);
        let info = recording.info.clone();
        self.events.push_back(RoomEvent::RecordingStarted {
            room: Arc::from(room),
            uuid: r.uuid.clone(),
            recording: info.clone(),
        });
        r.recording = Some(recording);
        Ok(info)
    }

    /// REST stop recording: emits [`RoomEvent::RecordingFinished`] if one was running.
    pub fn stop_recording(
        &mut self,
        now: Duration,
        account: &str,
        room: &str,
    ) -> Result<Option<RecordingInfo>, ConferenceError> {
        let key = room_key(account, RoomKind::Conference, room);
        let r = self.rooms.get_mut(&key).ok_or_else(|| room_not_found(room))?;
        let Some(recording) = r.recording.take() else {
            return Ok(None);
        };
        self.events.push_back(RoomEvent::RecordingFinished {
            room: Arc::from(room),
            uuid: r.uuid.clone(),
            recording: recording.info.clone(),
            ended_at: now,
            callback: recording.callback,
        });
        Ok(Some(recording.info))
    }

    /// REST get conference (kind Conference).
    pub fn get(&self, now: Duration, account: &str, room: &str) -> Result<RoomSnapshot, ConferenceError> {
        let key = room_key(account, RoomKind::Conference, room);
        let r = self.rooms.get(&key).ok_or_else(|| room_not_found(room))?;
        let members = r
            .members
            .iter()
            .map(|(&member_id, m)| MemberSnapshot {
                member_id,
                call: m.info.call.clone(),
                muted: m.muted,
                deaf: m.deaf,
                from: m.info.from.clone(),
                to: m.info.to.clone(),
                caller_name: m.info.caller_name.clone(),
                direction: m.info.direction,
                joined_for: now.saturating_sub(m.joined_at),
            })
            .collect();
        Ok(RoomSnapshot {
            name: room.to_owned(),
            uuid: r.uuid.to_string(),
            run_time: now.saturating_sub(r.created_at),
            started: r.started,
            members,
            recording: r.recording.as_ref().map(|rec| rec.info.clone()),
        })
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

    /// Whether there is no live room.
    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }

    /// Number of members in the room (`None` if there is no such live room).
    pub fn member_count(&self, account: &str, kind: RoomKind, room: &str) -> Option<usize> {
        self.rooms.get(&room_key(account, kind, room)).map(|r| r.members.len())
    }

    /// When [`Conferences::handle_timeout`] must next be called.
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
    pub fn poll_event(&mut self) -> Option<RoomEvent> {
        self.events.pop_front()
    }

    /// The live Conference room `room` of `account` and the ids `target` names there.
    fn targets(
        &self,
        account: &str,
        room: &str,
        target: &MemberTarget,
    ) -> Result<(RoomKey, Vec<u32>), ConferenceError> {
        let key = room_key(account, RoomKind::Conference, room);
        let r = self.rooms.get(&key).ok_or_else(|| room_not_found(room))?;
        let ids = resolve(room, r, target)?;
        Ok((key, ids))
    }

    /// The members `ids` (ascending) leave room `key` for `reason`, one by one, each followed
    /// by its consequences. A consequence never gives a member still due to leave in this
    /// batch a different reason: `end_on_exit` removes them with `reason`, and a lone member
    /// that is about to leave anyway is not torn down for `stayAlone`.
    fn depart_batch(&mut self, now: Duration, key: &RoomKey, ids: &[u32], reason: LeaveReason) {
        /// What must happen after a departure.
        enum Then {
            EndOnExit,
            Empty,
            StayAlone,
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
    fn end_room(&mut self, now: Duration, key: &RoomKey, end: EndReason, reason_for: impl Fn(u32) -> LeaveReason) {
        let Some(mut room) = self.rooms.remove(key) else {
            return;
        };
        if let Some(slot) = room.deadline {
            self.deadlines.remove(&slot);
        }
        let ids: Vec<u32> = room.members.keys().copied().collect();
        for id in ids {
            depart(&mut room, &mut self.members, &mut self.events, id, reason_for(id));
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
            account: key.0.clone(),
            room: room.name.clone(),
            uuid: room.uuid,
            reason: end,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::values::FromXml;

    const ACCT: &str = "MA1";

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn reg() -> Conferences {
        Conferences::new(RoomsConfig::default())
    }

    fn call(c: &str) -> CallId {
        CallId::from(c)
    }

    fn info(c: &str) -> MemberInfo {
        MemberInfo {
            call: call(c),
            from: format!("from-{c}"),
            to: format!("to-{c}"),
            caller_name: format!("name-{c}"),
            direction: Direction::Inbound,
        }
    }

    fn req(room: &str) -> JoinRequest {
        JoinRequest {
            account: ACCT.to_owned(),
            room: room.to_owned(),
            kind: RoomKind::Conference,
            muted: false,
            start_on_enter: true,
            end_on_exit: false,
            stay_alone: true,
            max_members: 20,
            time_limit: None,
            record: None,
        }
    }

    fn join(c: &mut Conferences, now: u64, r: JoinRequest, who: &str) {
        c.join(secs(now), r, info(who)).unwrap();
    }

    fn drain(c: &mut Conferences) -> Vec<RoomEvent> {
        std::iter::from_fn(|| c.poll_event()).collect()
    }

    /// A compact rendering of an event, for exact ordered comparisons.
    fn show(e: &RoomEvent) -> String {
        match e {
            RoomEvent::Joined { call, room, member_id, started, first, .. } => format!(
                "join {room} {call} #{member_id}{}{}",
                if *started { " started" } else { " waiting" },
                if *first { " first" } else { "" }
            ),
            RoomEvent::Refused { call, room, max_members } => format!("refused {room} {call} max={max_members}"),
            RoomEvent::Started { call, room } => format!("started {room} {call}"),
            RoomEvent::Left { call, member_id, reason, recording, .. } => {
                format!("left {call} #{member_id} {reason:?}{}", if recording.is_some() { " rec" } else { "" })
            }
            RoomEvent::Muted { member_id, muted, .. } => format!("muted #{member_id} {muted}"),
            RoomEvent::Deafened { member_id, deaf, .. } => format!("deaf #{member_id} {deaf}"),
            RoomEvent::Floor { call, member_id, .. } => format!("floor {call} #{member_id}"),
            RoomEvent::Media { members, .. } => format!("media {members:?}"),
            RoomEvent::RecordingStarted { room, .. } => format!("rec-start {room}"),
            RoomEvent::RecordingFinished { room, ended_at, .. } => {
                format!("rec-finish {room} at={}", ended_at.as_secs())
            }
            RoomEvent::Ended { room, reason, .. } => format!("ended {room} {reason:?}"),
        }
    }

    fn shown(c: &mut Conferences) -> Vec<String> {
        drain(c).iter().map(show).collect()
    }

    fn ids(v: &[u32]) -> MemberTarget {
        MemberTarget::Ids(v.to_vec())
    }

    fn rec_spec(format: FileFormat) -> RecordSpec {
        RecordSpec { format, callback: Some((Url::from_xml("https://cb.example/rec").unwrap(), Method::Post)) }
    }

    /// No member, room, index entry or timer is left behind.
    fn assert_no_state(c: &Conferences) {
        assert!(c.is_empty());
        assert!(c.members.is_empty());
        assert!(c.deadlines.is_empty());
        assert_eq!(c.poll_timeout(), None);
    }

    // ---- MemberTarget ----

    #[test]
    fn target_parsing() {
        assert_eq!("all".parse::<MemberTarget>(), Ok(MemberTarget::All));
        assert_eq!("ALL".parse::<MemberTarget>(), Ok(MemberTarget::All));
        assert_eq!(" All ".parse::<MemberTarget>(), Ok(MemberTarget::All));
        assert_eq!("10".parse::<MemberTarget>(), Ok(ids(&[10])));
        assert_eq!("12,10,11".parse::<MemberTarget>(), Ok(ids(&[10, 11, 12])));
        assert_eq!(" 10 , 11,10 ".parse::<MemberTarget>(), Ok(ids(&[10, 11])));
        assert_eq!("0".parse::<MemberTarget>(), Ok(ids(&[0])));
        assert_eq!("4294967295".parse::<MemberTarget>(), Ok(ids(&[u32::MAX])));
        for bad in ["", "  ", "10,", ",10", "10,,11", "x", "1a", "+5", "-1", "4294967296", "all,1", "1 2", "alll"] {
            assert_eq!(bad.parse::<MemberTarget>(), Err(ConferenceError::InvalidTarget(bad.to_owned())), "{bad:?}");
        }
        assert_eq!(MemberTarget::All.to_string(), "all");
        assert_eq!(ids(&[10, 11, 12]).to_string(), "10,11,12");
        let round: MemberTarget = ids(&[3, 7]).to_string().parse().unwrap();
        assert_eq!(round, ids(&[3, 7]));
    }

    #[test]
    fn error_messages() {
        let one = ConferenceError::MembersNotFound { room: "r".into(), ids: vec![5] };
        assert_eq!(one.to_string(), "member 5 not found in conference `r`");
        let two = ConferenceError::MembersNotFound { room: "r".into(), ids: vec![5, 9] };
        assert_eq!(two.to_string(), "members 5, 9 not found in conference `r`");
        assert_eq!(room_not_found("x").to_string(), "conference `x` not found");
    }

    // ---- join ----

    #[test]
    fn first_join_creates_room_with_fresh_uuid() {
        let mut c = reg();
        assert_eq!(c.poll_timeout(), None);
        join(&mut c, 5, req("r"), "c1");
        let uuid = IdGen::new(1).uuid();
        assert_eq!(
            drain(&mut c),
            vec![RoomEvent::Joined {
                call: call("c1"),
                room: "r".into(),
                uuid: uuid.clone().into(),
                member_id: 1,
                started: true,
                first: true
            }]
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c.room_of(&call("c1")), Some((RoomKind::Conference, "r", 1)));
        assert_eq!(c.room_of(&call("nobody")), None);
        assert_eq!(c.member_count(ACCT, RoomKind::Conference, "r"), Some(1));

        join(&mut c, 6, req("r"), "c2");
        assert_eq!(
            drain(&mut c),
            vec![RoomEvent::Joined {
                call: call("c2"),
                room: "r".into(),
                uuid: uuid.into(),
                member_id: 2,
                started: true,
                first: false
            }]
        );
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn joining_twice_is_refused_with_error_and_changes_nothing() {
        let mut c = reg();
        join(&mut c, 0, req("r"), "c1");
        drain(&mut c);
        assert_eq!(c.join(secs(1), req("r"), info("c1")), Err(ConferenceError::AlreadyInRoom(call("c1"))));
        assert_eq!(c.join(secs(1), req("other"), info("c1")), Err(ConferenceError::AlreadyInRoom(call("c1"))));
        assert!(drain(&mut c).is_empty());
        assert_eq!(c.len(), 1);
        join(&mut c, 2, req("r"), "c2");
        // The failed joins consumed no member id.
        assert_eq!(shown(&mut c), ["join r c2 #2 started"]);
    }

    #[test]
    fn member_ids_are_global_and_never_reused() {
        let mut c = reg();
        join(&mut c, 0, req("a"), "c1");
        join(&mut c, 0, req("b"), "c2");
        join(&mut c, 0, req("a"), "c3");
        let mut mpc = req("a");
        mpc.kind = RoomKind::MultiParty;
        join(&mut c, 0, mpc.clone(), "c4");
        let mut other_acct = req("a");
        other_acct.account = "MA2".into();
        join(&mut c, 0, other_acct, "c5");
        assert_eq!(
            shown(&mut c),
            [
                "join a c1 #1 started first",
                "join b c2 #2 started first",
                "join a c3 #3 started",
                "join a c4 #4 started first",
                "join a c5 #5 started first",
            ]
        );
        assert_eq!(c.len(), 4);
        // Distinct rooms get distinct UUIDs.
        let ua = c.get(secs(0), ACCT, "a").unwrap().uuid;
        let ub = c.get(secs(0), ACCT, "b").unwrap().uuid;
        assert_ne!(ua, ub);
        assert_eq!(c.room_of(&call("c4")), Some((RoomKind::MultiParty, "a", 4)));

        // A call that left can rejoin, with a new id; ids are not reused.
        assert!(c.leave(secs(1), &call("c1"), LeaveReason::HangupOnStar));
        join(&mut c, 2, req("a"), "c1");
        assert_eq!(shown(&mut c), ["left c1 #1 HangupOnStar", "join a c1 #6 started"]);
        // Room "b" empties and is recreated: new UUID, ids keep counting.
        assert!(c.leave(secs(3), &call("c2"), LeaveReason::CallHungUp));
        join(&mut c, 4, req("b"), "c2");
        assert_eq!(shown(&mut c), ["left c2 #2 CallHungUp", "ended b Empty", "join b c2 #7 started first"]);
        assert_ne!(c.get(secs(4), ACCT, "b").unwrap().uuid, ub);
    }

    #[test]
    fn max_members_refusal_consumes_no_id() {
        let mut c = reg();
        let mut first = req("r");
        first.max_members = 2;
        join(&mut c, 0, first, "c1");
        let mut big = req("r");
        big.max_members = 20; // ignored: the first member fixed the capacity
        join(&mut c, 0, big.clone(), "c2");
        join(&mut c, 0, big.clone(), "c3");
        assert_eq!(
            drain(&mut c).iter().map(show).collect::<Vec<_>>(),
            ["join r c1 #1 started first", "join r c2 #2 started", "refused r c3 max=2"]
        );
        assert_eq!(c.room_of(&call("c3")), None);
        assert!(c.leave(secs(1), &call("c2"), LeaveReason::CallHungUp));
        join(&mut c, 2, big, "c3");
        assert_eq!(shown(&mut c), ["left c2 #2 CallHungUp", "join r c3 #3 started"]);

        // A first member with capacity 0 creates nothing.
        let mut zero = req("z");
        zero.max_members = 0;
        join(&mut c, 3, zero, "c9");
        assert_eq!(shown(&mut c), ["refused z c9 max=0"]);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn joined_member_settings_show_in_get() {
        let mut c = reg();
        let mut r = req("r");
        r.muted = true;
        join(&mut c, 10, r, "c1");
        let s = c.get(secs(15), ACCT, "r").unwrap();
        assert!(s.members[0].muted);
        assert!(!s.members[0].deaf);
    }

    // ---- start_on_enter ----

    #[test]
    fn waiting_members_get_started_after_the_starter_joins() {
        let mut c = reg();
        let mut wait = req("r");
        wait.start_on_enter = false;
        join(&mut c, 0, wait.clone(), "c1");
        join(&mut c, 1, wait.clone(), "c2");
        assert_eq!(shown(&mut c), ["join r c1 #1 waiting first", "join r c2 #2 waiting"]);
        assert!(!c.get(secs(1), ACCT, "r").unwrap().started);

        let mut rec = req("r");
        rec.record = Some(rec_spec(FileFormat::Mp3));
        join(&mut c, 2, rec, "c3");
        assert_eq!(shown(&mut c), ["join r c3 #3 started", "started r c1", "started r c2", "rec-start r"]);
        assert!(c.get(secs(2), ACCT, "r").unwrap().started);

        // Started for good: a later non-starter joins started; the starter leaving changes nothing.
        assert!(c.leave(secs(3), &call("c3"), LeaveReason::CallHungUp));
        join(&mut c, 4, wait, "c4");
        assert_eq!(shown(&mut c), ["left c3 #3 CallHungUp rec", "join r c4 #4 started"]);
    }

    // ---- leave ----

    #[test]
    fn leave_of_unknown_call_is_false() {
        let mut c = reg();
        assert!(!c.leave(secs(0), &call("x"), LeaveReason::CallHungUp));
        assert!(drain(&mut c).is_empty());
    }

    #[test]
    fn hangup_on_star_leaves_room_which_persists() {
        let mut c = reg();
        join(&mut c, 0, req("r"), "c1");
        join(&mut c, 0, req("r"), "c2");
        drain(&mut c);
        assert!(c.leave(secs(9), &call("c1"), LeaveReason::HangupOnStar));
        let uuid = IdGen::new(1).uuid();
        assert_eq!(
            drain(&mut c),
            vec![RoomEvent::Left {
                call: call("c1"),
                room: "r".into(),
                uuid: uuid.into(),
                member_id: 1,
                reason: LeaveReason::HangupOnStar,
                recording: None
            }]
        );
        assert_eq!(c.room_of(&call("c1")), None);
        assert_eq!(c.member_count(ACCT, RoomKind::Conference, "r"), Some(1));
        assert!(!c.leave(secs(9), &call("c1"), LeaveReason::HangupOnStar));
    }

    #[test]
    fn last_member_leaving_ends_the_room_empty() {
        let mut c = reg();
        join(&mut c, 0, req("r"), "c1");
        drain(&mut c);
        assert!(c.leave(secs(3), &call("c1"), LeaveReason::CallHungUp));
        let uuid = IdGen::new(1).uuid();
        let ev = drain(&mut c);
        assert_eq!(ev.len(), 2);
        assert_eq!(
            ev[1],
            RoomEvent::Ended { account: ACCT.into(), room: "r".into(), uuid: uuid.into(), reason: EndReason::Empty }
        );
        assert_no_state(&c);
        assert_eq!(c.get(secs(3), ACCT, "r"), Err(room_not_found("r")));
    }

    // ---- kick ----

    #[test]
    fn kick_one_of_two_keeps_the_room() {
        let mut c = reg();
        join(&mut c, 0, req("r"), "c1");
        join(&mut c, 0, req("r"), "c2");
        drain(&mut c);
        assert_eq!(c.kick(secs(1), ACCT, "r", &ids(&[1])), Ok(vec![1]));
        assert_eq!(shown(&mut c), ["left c1 #1 Kicked"]);
        assert_eq!(c.list(ACCT), ["r"]);
        let s = c.get(secs(1), ACCT, "r").unwrap();
        assert_eq!(s.members.len(), 1);
        assert_eq!(s.members[0].member_id, 2);
        assert_eq!(c.room_of(&call("c2")), Some((RoomKind::Conference, "r", 2)));
    }

    #[test]
    fn kick_all_removes_the_room() {
        let mut c = reg();
        for who in ["c1", "c2", "c3"] {
            join(&mut c, 0, req("r"), who);
        }
        drain(&mut c);
        assert_eq!(c.kick(secs(1), ACCT, "r", &MemberTarget::All), Ok(vec![1, 2, 3]));
        assert_eq!(shown(&mut c), ["left c1 #1 Kicked", "left c2 #2 Kicked", "left c3 #3 Kicked", "ended r Empty"]);
        assert_no_state(&c);
        assert!(c.list(ACCT).is_empty());
        assert_eq!(c.kick(secs(2), ACCT, "r", &MemberTarget::All), Err(room_not_found("r")));
    }

    #[test]
    fn kick_with_unknown_ids_changes_nothing() {
        let mut c = reg();
        join(&mut c, 0, req("r"), "c1");
        join(&mut c, 0, req("r"), "c2");
        drain(&mut c);
        assert_eq!(
            c.kick(secs(1), ACCT, "r", &ids(&[1, 7])),
            Err(ConferenceError::MembersNotFound { room: "r".into(), ids: vec![7] })
        );
        // Unsorted, duplicated input: the unknown ones, ascending, once each.
        assert_eq!(
            c.kick(secs(1), ACCT, "r", &ids(&[9, 2, 5, 9])),
            Err(ConferenceError::MembersNotFound { room: "r".into(), ids: vec![5, 9] })
        );
        assert_eq!(
            c.hangup_members(secs(1), ACCT, "r", &ids(&[3])),
            Err(ConferenceError::MembersNotFound { room: "r".into(), ids: vec![3] })
        );
        assert_eq!(c.kick(secs(1), ACCT, "nope", &ids(&[1])), Err(room_not_found("nope")));
        assert_eq!(c.kick(secs(1), ACCT, "r", &ids(&[])), Err(ConferenceError::InvalidTarget(String::new())));
        // Another account's room of the same name is not reachable.
        assert_eq!(c.kick(secs(1), "MA2", "r", &ids(&[1])), Err(room_not_found("r")));
        assert!(drain(&mut c).is_empty());
        assert_eq!(c.get(secs(1), ACCT, "r").unwrap().members.len(), 2);
        assert!(c.room_of(&call("c1")).is_some());
    }

    #[test]
    fn rest_operations_do_not_reach_multiparty_rooms() {
        let mut c = reg();
        let mut mpc = req("r");
        mpc.kind = RoomKind::MultiParty;
        join(&mut c, 0, mpc, "c1");
        drain(&mut c);
        assert_eq!(c.kick(secs(1), ACCT, "r", &MemberTarget::All), Err(room_not_found("r")));
        assert_eq!(c.end(secs(1), ACCT, "r"), Err(room_not_found("r")));
        assert_eq!(c.get(secs(1), ACCT, "r"), Err(room_not_found("r")));
        assert!(c.list(ACCT).is_empty());
        assert!(c.end_all(secs(1), ACCT).is_empty());
        assert!(drain(&mut c).is_empty());
        assert_eq!(c.len(), 1);
    }

    // ---- member hangup ----

    #[test]
    fn hangup_members_leave_with_member_hung_up() {
        let mut c = reg();
        for who in ["c1", "c2", "c3"] {
            join(&mut c, 0, req("r"), who);
        }
        drain(&mut c);
        assert_eq!(c.hangup_members(secs(1), ACCT, "r", &"3,1".parse().unwrap()), Ok(vec![1, 3]));
        assert_eq!(shown(&mut c), ["left c1 #1 MemberHungUp", "left c3 #3 MemberHungUp"]);
        assert_eq!(c.hangup_members(secs(2), ACCT, "r", &MemberTarget::All), Ok(vec![2]));
        assert_eq!(shown(&mut c), ["left c2 #2 MemberHungUp", "ended r Empty"]);
        assert_no_state(&c);
    }

    // ---- end_on_exit ----

    #[test]
    fn end_on_exit_member_leaving_ends_the_room() {
        let mut c = reg();
        join(&mut c, 0, req("r"), "c1");
        let mut host = req("r");
        host.end_on_exit = true;
        join(&mut c, 0, host, "c2");
        join(&mut c, 0, req("r"), "c3");
        join(&mut c, 0, req("r"), "c4");
        drain(&mut c);
        assert!(c.leave(secs(5), &call("c2"), LeaveReason::CallHungUp));
        assert_eq!(
            shown(&mut c),
            [
                "left c2 #2 CallHungUp",
                "left c1 #1 RoomEnded",
                "left c3 #3 RoomEnded",
                "left c4 #4 RoomEnded",
                "ended r EndOnExit"
            ]
        );
        assert_no_state(&c);
    }

    #[test]
    fn end_on_exit_member_alone_ends_room_empty() {
        let mut c = reg();
        let mut host = req("r");
        host.end_on_exit = true;
        join(&mut c, 0, host, "c1");
        drain(&mut c);
        assert_eq!(c.kick(secs(1), ACCT, "r", &ids(&[1])), Ok(vec![1]));
        assert_eq!(shown(&mut c), ["left c1 #1 Kicked", "ended r Empty"]);
    }

    #[test]
    fn kicking_a_group_containing_an_end_on_exit_member() {
        let mut c = reg();
        join(&mut c, 0, req("r"), "c1");
        let mut host = req("r");
        host.end_on_exit = true;
        join(&mut c, 0, host, "c2");
        join(&mut c, 0, req("r"), "c3");
        join(&mut c, 0, req("r"), "c4");
        drain(&mut c);
        // 3 is in the batch (keeps its Kicked), 4 is not (removed by the room ending).
        assert_eq!(c.kick(secs(1), ACCT, "r", &ids(&[1, 2, 3])), Ok(vec![1, 2, 3]));
        assert_eq!(
            shown(&mut c),
            [
                "left c1 #1 Kicked",
                "left c2 #2 Kicked",
                "left c3 #3 Kicked",
                "left c4 #4 RoomEnded",
                "ended r EndOnExit"
            ]
        );
        assert_no_state(&c);
    }

    #[test]
    fn hanging_up_all_with_an_end_on_exit_member_hangs_up_every_call() {
        let mut c = reg();
        let mut host = req("r");
        host.end_on_exit = true;
        join(&mut c, 0, host, "c1");
        join(&mut c, 0, req("r"), "c2");
        join(&mut c, 0, req("r"), "c3");
        drain(&mut c);
        assert_eq!(c.hangup_members(secs(1), ACCT, "r", &MemberTarget::All), Ok(vec![1, 2, 3]));
        assert_eq!(
            shown(&mut c),
            ["left c1 #1 MemberHungUp", "left c2 #2 MemberHungUp", "left c3 #3 MemberHungUp", "ended r EndOnExit"]
        );
        assert_no_state(&c);
    }

    // ---- stay_alone ----

    #[test]
    fn stay_alone_false_member_left_alone_is_removed() {
        let mut c = reg();
        join(&mut c, 0, req("r"), "c1");
        let mut lonely = req("r");
        lonely.stay_alone = false;
        join(&mut c, 0, lonely, "c2");
        // Alone at join time is fine: the rule applies after a departure.
        let mut c_alone = reg();
        let mut solo = req("s");
        solo.stay_alone = false;
        join(&mut c_alone, 0, solo, "x");
        assert_eq!(shown(&mut c_alone), ["join s x #1 started first"]);

        drain(&mut c);
        assert!(c.leave(secs(2), &call("c1"), LeaveReason::HangupOnStar));
        assert_eq!(shown(&mut c), ["left c1 #1 HangupOnStar", "left c2 #2 StayAlone", "ended r StayAlone"]);
        assert_no_state(&c);
    }

    #[test]
    fn stay_alone_true_member_left_alone_stays() {
        let mut c = reg();
        let mut lonely = req("r");
        lonely.stay_alone = false;
        join(&mut c, 0, lonely, "c1");
        join(&mut c, 0, req("r"), "c2");
        join(&mut c, 0, req("r"), "c3");
        drain(&mut c);
        // Two remain: nothing happens.
        assert_eq!(c.kick(secs(1), ACCT, "r", &ids(&[3])), Ok(vec![3]));
        assert_eq!(shown(&mut c), ["left c3 #3 Kicked"]);
        // c1 (stayAlone=false) leaves; c2 (stayAlone=true) stays alone.
        assert!(c.leave(secs(1), &call("c1"), LeaveReason::CallHungUp));
        assert_eq!(shown(&mut c), ["left c1 #1 CallHungUp"]);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn kick_all_with_stay_alone_false_members_kicks_everyone() {
        let mut c = reg();
        let mut lonely = req("r");
        lonely.stay_alone = false;
        for who in ["c1", "c2", "c3"] {
            join(&mut c, 0, lonely.clone(), who);
        }
        drain(&mut c);
        assert_eq!(c.kick(secs(1), ACCT, "r", &MemberTarget::All), Ok(vec![1, 2, 3]));
        assert_eq!(shown(&mut c), ["left c1 #1 Kicked", "left c2 #2 Kicked", "left c3 #3 Kicked", "ended r Empty"]);
        // But kicking only some leaves a lone stayAlone=false member to be torn down.
        for who in ["c1", "c2", "c3"] {
            join(&mut c, 2, lonely.clone(), who);
        }
        drain(&mut c);
        assert_eq!(c.kick(secs(3), ACCT, "r", &ids(&[4, 5])), Ok(vec![4, 5]));
        assert_eq!(
            shown(&mut c),
            ["left c1 #4 Kicked", "left c2 #5 Kicked", "left c3 #6 StayAlone", "ended r StayAlone"]
        );
        assert_no_state(&c);
    }

    // ---- time limit ----

    #[test]
    fn time_limit_closes_the_room() {
        let mut c = reg();
        let mut first = req("r");
        first.time_limit = Some(secs(60));
        join(&mut c, 10, first, "c1");
        let mut later = req("r");
        later.time_limit = Some(secs(5)); // ignored: fixed by the first member
        join(&mut c, 20, later, "c2");
        drain(&mut c);
        assert_eq!(c.poll_timeout(), Some(secs(70)));
        c.handle_timeout(secs(69));
        assert!(drain(&mut c).is_empty());
        assert_eq!(c.len(), 1);
        c.handle_timeout(secs(70));
        assert_eq!(shown(&mut c), ["left c1 #1 TimeLimit", "left c2 #2 TimeLimit", "ended r TimeLimit"]);
        assert_no_state(&c);
        c.handle_timeout(secs(1000));
        assert!(drain(&mut c).is_empty());
    }

    #[test]
    fn time_limits_of_several_rooms_fire_in_deadline_order() {
        let mut c = reg();
        let mut a = req("a");
        a.time_limit = Some(secs(30));
        let mut b = req("b");
        b.time_limit = Some(secs(10));
        let mut d = req("d");
        d.time_limit = Some(secs(100));
        join(&mut c, 0, a, "c1");
        join(&mut c, 0, b, "c2");
        join(&mut c, 0, d, "c3");
        join(&mut c, 0, req("none"), "c4");
        drain(&mut c);
        assert_eq!(c.poll_timeout(), Some(secs(10)));
        // A late timer call fires every due room, earliest first.
        c.handle_timeout(secs(50));
        assert_eq!(
            shown(&mut c),
            ["left c2 #2 TimeLimit", "ended b TimeLimit", "left c1 #1 TimeLimit", "ended a TimeLimit"]
        );
        assert_eq!(c.poll_timeout(), Some(secs(100)));
        // A room that ends early drops its timer.
        assert!(c.leave(secs(60), &call("c3"), LeaveReason::CallHungUp));
        drain(&mut c);
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(c.list(ACCT), ["none"]);
    }

    #[test]
    fn huge_time_limit_does_not_overflow() {
        let mut c = reg();
        let mut r = req("r");
        r.time_limit = Some(Duration::MAX);
        join(&mut c, 10, r, "c1");
        assert_eq!(c.poll_timeout(), None);
        assert_eq!(shown(&mut c), ["join r c1 #1 started first"]);
    }

    // ---- mute / deaf / media / floor ----

    #[test]
    fn mute_and_deaf_emit_only_changes() {
        let mut c = reg();
        let mut m = req("r");
        m.muted = true;
        join(&mut c, 0, m, "c1");
        join(&mut c, 0, req("r"), "c2");
        join(&mut c, 0, req("r"), "c3");
        drain(&mut c);
        assert_eq!(c.set_muted(ACCT, "r", &MemberTarget::All, true), Ok(vec![1, 2, 3]));
        assert_eq!(shown(&mut c), ["muted #2 true", "muted #3 true"]);
        assert_eq!(c.set_muted(ACCT, "r", &ids(&[2]), false), Ok(vec![2]));
        assert_eq!(shown(&mut c), ["muted #2 false"]);
        assert_eq!(c.set_muted(ACCT, "r", &ids(&[2]), false), Ok(vec![2]));
        assert!(drain(&mut c).is_empty());
        assert_eq!(
            c.set_muted(ACCT, "r", &ids(&[2, 4]), true),
            Err(ConferenceError::MembersNotFound { room: "r".into(), ids: vec![4] })
        );
        assert!(drain(&mut c).is_empty());

        assert_eq!(c.set_deaf(ACCT, "r", &ids(&[1, 3]), true), Ok(vec![1, 3]));
        assert_eq!(shown(&mut c), ["deaf #1 true", "deaf #3 true"]);
        assert_eq!(c.set_deaf(ACCT, "r", &MemberTarget::All, false), Ok(vec![1, 2, 3]));
        assert_eq!(shown(&mut c), ["deaf #1 false", "deaf #3 false"]);
        assert_eq!(c.set_deaf(ACCT, "x", &MemberTarget::All, false), Err(room_not_found("x")));

        let s = c.get(secs(0), ACCT, "r").unwrap();
        let state: Vec<(u32, bool, bool)> = s.members.iter().map(|m| (m.member_id, m.muted, m.deaf)).collect();
        assert_eq!(state, [(1, true, false), (2, false, false), (3, true, false)]);

        // Full event shape.
        c.set_muted(ACCT, "r", &ids(&[1]), false).unwrap();
        assert_eq!(
            drain(&mut c),
            vec![RoomEvent::Muted { call: call("c1"), room: "r".into(), member_id: 1, muted: false }]
        );
        c.set_deaf(ACCT, "r", &ids(&[2]), true).unwrap();
        assert_eq!(
            drain(&mut c),
            vec![RoomEvent::Deafened { call: call("c2"), room: "r".into(), member_id: 2, deaf: true }]
        );
    }

    #[test]
    fn member_media_and_floor() {
        let mut c = reg();
        for who in ["c1", "c2", "c3"] {
            join(&mut c, 0, req("r"), who);
        }
        drain(&mut c);
        let play = MemberMedia::Play { url: "https://a.example/x.mp3".into() };
        assert_eq!(c.member_media(ACCT, "r", &ids(&[3, 1]), play.clone()), Ok(vec![1, 3]));
        assert_eq!(drain(&mut c), vec![RoomEvent::Media { room: "r".into(), members: vec![1, 3], media: play }]);
        assert_eq!(c.member_media(ACCT, "r", &MemberTarget::All, MemberMedia::StopSpeak), Ok(vec![1, 2, 3]));
        assert_eq!(shown(&mut c), ["media [1, 2, 3]"]);
        assert_eq!(
            c.member_media(ACCT, "r", &ids(&[8]), MemberMedia::StopPlay),
            Err(ConferenceError::MembersNotFound { room: "r".into(), ids: vec![8] })
        );
        assert_eq!(c.member_media(ACCT, "q", &ids(&[1]), MemberMedia::StopPlay), Err(room_not_found("q")));
        assert!(drain(&mut c).is_empty());

        assert_eq!(c.set_floor(ACCT, "r", 2), Ok(()));
        assert_eq!(drain(&mut c), vec![RoomEvent::Floor { call: call("c2"), room: "r".into(), member_id: 2 }]);
        assert_eq!(c.set_floor(ACCT, "r", 9), Err(ConferenceError::MembersNotFound { room: "r".into(), ids: vec![9] }));
        assert_eq!(c.set_floor(ACCT, "q", 1), Err(room_not_found("q")));
        assert!(drain(&mut c).is_empty());
    }

    // ---- end / end_all / list / get ----

    #[test]
    fn end_removes_everyone_with_room_ended() {
        let mut c = reg();
        join(&mut c, 0, req("r"), "c1");
        join(&mut c, 0, req("r"), "c2");
        join(&mut c, 0, req("keep"), "c3");
        drain(&mut c);
        assert_eq!(c.end(secs(3), ACCT, "r"), Ok(()));
        assert_eq!(shown(&mut c), ["left c1 #1 RoomEnded", "left c2 #2 RoomEnded", "ended r Api"]);
        assert_eq!(c.end(secs(3), ACCT, "r"), Err(room_not_found("r")));
        assert_eq!(c.list(ACCT), ["keep"]);
        assert_eq!(c.room_of(&call("c1")), None);
    }

    #[test]
    fn end_all_ends_the_accounts_conferences_in_name_order() {
        let mut c = reg();
        join(&mut c, 0, req("zeta"), "c1");
        join(&mut c, 0, req("alpha"), "c2");
        join(&mut c, 0, req("mid"), "c3");
        let mut other = req("alpha");
        other.account = "MA2".into();
        join(&mut c, 0, other, "c4");
        let mut mpc = req("beta");
        mpc.kind = RoomKind::MultiParty;
        join(&mut c, 0, mpc, "c5");
        drain(&mut c);
        assert_eq!(c.list(ACCT), ["alpha", "mid", "zeta"]);
        assert_eq!(c.list("MA2"), ["alpha"]);
        assert!(c.list("MA3").is_empty());
        assert_eq!(c.end_all(secs(1), ACCT), ["alpha", "mid", "zeta"]);
        assert_eq!(
            shown(&mut c),
            [
                "left c2 #2 RoomEnded",
                "ended alpha Api",
                "left c3 #3 RoomEnded",
                "ended mid Api",
                "left c1 #1 RoomEnded",
                "ended zeta Api"
            ]
        );
        assert!(c.list(ACCT).is_empty());
        assert_eq!(c.len(), 2);
        assert!(c.end_all(secs(2), ACCT).is_empty());
        assert!(drain(&mut c).is_empty());
    }

    #[test]
    fn get_snapshot_values() {
        let mut c = reg();
        let mut wait = req("r");
        wait.start_on_enter = false;
        join(&mut c, 100, wait, "c1");
        let mut second = req("r");
        second.muted = true;
        c.join(
            secs(130),
            second,
            MemberInfo {
                call: call("c2"),
                from: "1456789903".into(),
                to: "1677889900".into(),
                caller_name: "John".into(),
                direction: Direction::Outbound,
            },
        )
        .unwrap();
        c.set_deaf(ACCT, "r", &ids(&[1]), true).unwrap();
        let s = c.get(secs(190), ACCT, "r").unwrap();
        assert_eq!(
            s,
            RoomSnapshot {
                name: "r".into(),
                uuid: IdGen::new(1).uuid(),
                run_time: secs(90),
                started: true,
                members: vec![
                    MemberSnapshot {
                        member_id: 1,
                        call: call("c1"),
                        muted: false,
                        deaf: true,
                        from: "from-c1".into(),
                        to: "to-c1".into(),
                        caller_name: "name-c1".into(),
                        direction: Direction::Inbound,
                        joined_for: secs(90),
                    },
                    MemberSnapshot {
                        member_id: 2,
                        call: call("c2"),
                        muted: true,
                        deaf: false,
                        from: "1456789903".into(),
                        to: "1677889900".into(),
                        caller_name: "John".into(),
                        direction: Direction::Outbound,
                        joined_for: secs(60),
                    },
                ],
                recording: None,
            }
        );
        // A clock before the join does not underflow.
        assert_eq!(c.get(secs(0), ACCT, "r").unwrap().run_time, Duration::ZERO);
    }

    // ---- recording ----

    #[test]
    fn recording_starts_with_a_join_and_finishes_when_the_room_empties() {
        let mut c = reg();
        let mut r = req("r");
        r.record = Some(rec_spec(FileFormat::Wav));
        join(&mut c, 5, r.clone(), "c1");
        let mut g = IdGen::new(1);
        let room_uuid = g.uuid();
        let rec_id = g.uuid();
        let info = RecordingInfo {
            id: rec_id.clone(),
            url: format!("https://media.plivo-flow.invalid/recordings/{rec_id}.wav"),
            format: FileFormat::Wav,
            started_at: secs(5),
        };
        assert_eq!(
            drain(&mut c),
            vec![
                RoomEvent::Joined {
                    call: call("c1"),
                    room: "r".into(),
                    uuid: room_uuid.clone().into(),
                    member_id: 1,
                    started: true,
                    first: true
                },
                RoomEvent::RecordingStarted {
                    room: "r".into(),
                    uuid: room_uuid.clone().into(),
                    recording: info.clone()
                },
            ]
        );
        // A second recording member does not start another recording.
        join(&mut c, 6, r, "c2");
        assert_eq!(shown(&mut c), ["join r c2 #2 started"]);
        assert_eq!(c.get(secs(6), ACCT, "r").unwrap().recording, Some(info.clone()));

        assert!(c.leave(secs(7), &call("c1"), LeaveReason::CallHungUp));
        assert!(c.leave(secs(8), &call("c2"), LeaveReason::CallHungUp));
        assert_eq!(
            drain(&mut c),
            vec![
                RoomEvent::Left {
                    call: call("c1"),
                    room: "r".into(),
                    uuid: room_uuid.clone().into(),
                    member_id: 1,
                    reason: LeaveReason::CallHungUp,
                    recording: Some(info.clone())
                },
                RoomEvent::Left {
                    call: call("c2"),
                    room: "r".into(),
                    uuid: room_uuid.clone().into(),
                    member_id: 2,
                    reason: LeaveReason::CallHungUp,
                    recording: Some(info.clone())
                },
                RoomEvent::RecordingFinished {
                    room: "r".into(),
                    uuid: room_uuid.clone().into(),
                    recording: info,
                    ended_at: secs(8),
                    callback: rec_spec(FileFormat::Wav).callback,
                },
                RoomEvent::Ended {
                    account: ACCT.into(),
                    room: "r".into(),
                    uuid: room_uuid.into(),
                    reason: EndReason::Empty
                },
            ]
        );
        assert_no_state(&c);
    }

    #[test]
    fn rest_start_and_stop_recording() {
        let mut c = reg();
        join(&mut c, 0, req("r"), "c1");
        drain(&mut c);
        assert_eq!(c.stop_recording(secs(1), ACCT, "r"), Ok(None));
        assert_eq!(c.stop_recording(secs(1), ACCT, "x"), Err(room_not_found("x")));
        assert_eq!(c.start_recording(secs(1), ACCT, "x", rec_spec(FileFormat::Mp3)), Err(room_not_found("x")));
        assert!(drain(&mut c).is_empty());

        let spec = RecordSpec { format: FileFormat::Mp3, callback: None };
        let info = c.start_recording(secs(2), ACCT, "r", spec.clone()).unwrap();
        assert!(info.url.ends_with(&format!("/{}.mp3", info.id)));
        assert_eq!(info.started_at, secs(2));
        assert_eq!(shown(&mut c), ["rec-start r"]);
        // Already running: returned unchanged, no event, no new id.
        let again = c.start_recording(secs(3), ACCT, "r", rec_spec(FileFormat::Wav)).unwrap();
        assert_eq!(again, info);
        assert!(drain(&mut c).is_empty());

        // A member joining with `record` does not start another.
        let mut r = req("r");
        r.record = Some(rec_spec(FileFormat::Wav));
        join(&mut c, 3, r, "c2");
        assert_eq!(shown(&mut c), ["join r c2 #2 started"]);

        assert_eq!(c.stop_recording(secs(4), ACCT, "r"), Ok(Some(info.clone())));
        let uuid = c.get(secs(4), ACCT, "r").unwrap().uuid;
        assert_eq!(
            drain(&mut c),
            vec![RoomEvent::RecordingFinished {
                room: "r".into(),
                uuid: uuid.into(),
                recording: info.clone(),
                ended_at: secs(4),
                callback: None
            }]
        );
        assert_eq!(c.stop_recording(secs(5), ACCT, "r"), Ok(None));
        // Leaving now carries no recording.
        assert!(c.leave(secs(6), &call("c2"), LeaveReason::HangupOnStar));
        assert_eq!(shown(&mut c), ["left c2 #2 HangupOnStar"]);

        // A new recording gets a new id.
        let second = c.start_recording(secs(7), ACCT, "r", spec).unwrap();
        assert_ne!(second.id, info.id);
        drain(&mut c);
        // Ending the room finishes it before Ended.
        c.end(secs(9), ACCT, "r").unwrap();
        assert_eq!(shown(&mut c), ["left c1 #1 RoomEnded rec", "rec-finish r at=9", "ended r Api"]);
    }

    #[test]
    fn recording_url_base_trailing_slash() {
        let mut c = Conferences::new(RoomsConfig { seed: 3, recording_url_base: "http://m.example/rec/".into() });
        join(&mut c, 0, req("r"), "c1");
        let info = c.start_recording(secs(0), ACCT, "r", rec_spec(FileFormat::Mp3)).unwrap();
        assert_eq!(info.url, format!("http://m.example/rec/{}.mp3", info.id));
    }

    #[test]
    fn recording_finishes_on_every_kind_of_end() {
        let mut c = reg();
        let mut r = req("t");
        r.time_limit = Some(secs(10));
        r.record = Some(rec_spec(FileFormat::Mp3));
        join(&mut c, 0, r, "c1");
        drain(&mut c);
        c.handle_timeout(secs(10));
        assert_eq!(shown(&mut c), ["left c1 #1 TimeLimit rec", "rec-finish t at=10", "ended t TimeLimit"]);

        let mut host = req("e");
        host.end_on_exit = true;
        host.record = Some(rec_spec(FileFormat::Mp3));
        join(&mut c, 20, host, "c2");
        join(&mut c, 20, req("e"), "c3");
        drain(&mut c);
        c.kick(secs(21), ACCT, "e", &ids(&[2])).unwrap();
        assert_eq!(
            shown(&mut c),
            ["left c2 #2 Kicked rec", "left c3 #3 RoomEnded rec", "rec-finish e at=21", "ended e EndOnExit"]
        );
    }

    // ---- invariants and scale ----

    #[test]
    fn every_joined_member_gets_exactly_one_left() {
        let mut c = reg();
        let mut all_events = Vec::new();
        let mut host = req("a");
        host.end_on_exit = true;
        let mut lonely = req("b");
        lonely.stay_alone = false;
        let mut timed = req("c");
        timed.time_limit = Some(secs(50));
        let mut waiting = req("d");
        waiting.start_on_enter = false;
        let mut small = req("e");
        small.max_members = 2;

        for i in 0..10 {
            join(&mut c, i, req("a"), &format!("a{i}"));
            join(&mut c, i, lonely.clone(), &format!("b{i}"));
            join(&mut c, i, timed.clone(), &format!("c{i}"));
            join(&mut c, i, waiting.clone(), &format!("d{i}"));
            join(&mut c, i, small.clone(), &format!("e{i}"));
        }
        join(&mut c, 10, host, "ahost");
        all_events.extend(drain(&mut c));

        c.kick(secs(11), ACCT, "a", &"1,6,11".parse().unwrap()).unwrap();
        c.leave(secs(12), &call("ahost"), LeaveReason::HangupOnStar);
        c.set_muted(ACCT, "b", &MemberTarget::All, true).unwrap();
        c.hangup_members(secs(13), ACCT, "b", &"2,7".parse().unwrap()).unwrap();
        for i in 0..9 {
            c.leave(secs(14), &call(&format!("b{i}")), LeaveReason::CallHungUp);
        }
        c.start_recording(secs(15), ACCT, "c", rec_spec(FileFormat::Mp3)).unwrap();
        c.kick(secs(16), ACCT, "d", &"4".parse().unwrap()).unwrap();
        c.end(secs(17), ACCT, "d").unwrap();
        c.handle_timeout(secs(60));
        c.leave(secs(61), &call("e0"), LeaveReason::CallHungUp);
        c.end_all(secs(62), ACCT);
        all_events.extend(drain(&mut c));
        assert_no_state(&c);

        let mut joined = std::collections::BTreeMap::new();
        let mut left = std::collections::BTreeMap::new();
        let mut ended = 0;
        let mut refused = 0;
        for e in &all_events {
            match e {
                RoomEvent::Joined { member_id, .. } => *joined.entry(*member_id).or_insert(0) += 1,
                RoomEvent::Left { member_id, .. } => {
                    assert!(joined.contains_key(member_id), "Left before Joined for #{member_id}");
                    *left.entry(*member_id).or_insert(0) += 1
                }
                RoomEvent::Ended { .. } => ended += 1,
                RoomEvent::Refused { .. } => refused += 1,
                _ => {}
            }
        }
        assert_eq!(refused, 8);
        assert_eq!(joined.len(), 43);
        assert!(joined.values().all(|&n| n == 1));
        assert_eq!(joined, left);
        assert_eq!(ended, 5);
        // Every room's Ended comes after all of its members' Left.
        for (i, e) in all_events.iter().enumerate() {
            if let RoomEvent::Left { uuid, .. } = e {
                assert!(!all_events[..i].iter().any(|p| matches!(p, RoomEvent::Ended { uuid: u, .. } if u == uuid)));
            }
        }
    }

    #[test]
    fn kick_all_of_ten_thousand_members() {
        let mut c = reg();
        let mut big = req("big");
        big.max_members = u32::MAX;
        for i in 0..10_000 {
            join(&mut c, 0, big.clone(), &format!("c{i}"));
        }
        let joins = drain(&mut c);
        assert_eq!(joins.len(), 10_000);
        assert_eq!(c.member_count(ACCT, RoomKind::Conference, "big"), Some(10_000));
        let kicked = c.kick(secs(1), ACCT, "big", &MemberTarget::All).unwrap();
        assert_eq!(kicked, (1..=10_000).collect::<Vec<u32>>());
        let ev = drain(&mut c);
        assert_eq!(ev.len(), 10_001);
        assert!(ev[..10_000].iter().enumerate().all(|(i, e)| matches!(
            e,
            RoomEvent::Left { member_id, reason: LeaveReason::Kicked, .. } if *member_id as usize == i + 1
        )));
        assert!(matches!(ev[10_000], RoomEvent::Ended { reason: EndReason::Empty, .. }));
        assert_no_state(&c);
        assert_eq!(c.room_of(&call("c0")), None);
        assert_eq!(c.room_of(&call("c9999")), None);
    }

    #[test]
    fn end_on_exit_with_ten_thousand_members() {
        let mut c = reg();
        let mut host = req("big");
        host.end_on_exit = true;
        host.max_members = u32::MAX;
        join(&mut c, 0, host, "host");
        for i in 0..10_000 {
            join(&mut c, 0, req("big"), &format!("c{i}"));
        }
        drain(&mut c);
        assert!(c.leave(secs(1), &call("host"), LeaveReason::CallHungUp));
        let ev = drain(&mut c);
        assert_eq!(ev.len(), 10_002);
        assert_no_state(&c);
    }
}
