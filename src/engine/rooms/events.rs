//! What happens in rooms: [`RoomEvent`]s, and why members leave and rooms end.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ops::MemberMedia;
use crate::engine::ids::CallId;
use crate::engine::ids::{AccountId, MemberId, RecordingId, RoomUuid};
use crate::xml::values::{FileFormat, Method, Url};

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

/// A running or finished room recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingInfo {
    /// Recording id.
    pub id: RecordingId,
    /// Where the file will be.
    pub url: String,
    /// mp3 or wav.
    pub format: FileFormat,
    /// When it started.
    pub started_at: Duration,
}

/// Something that happened in a room. Events naming a `call` must be delivered to that call.
///
/// Kept small (88 bytes on 64-bit targets): a kick of `all` queues one `Left` per member, so the
/// rare large parts (recording info, media) are behind a pointer.
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
        uuid: RoomUuid,
        /// The new member id.
        member_id: MemberId,
        /// Whether the room has started (false: the member waits, hearing waitSound).
        started: bool,
        /// Whether this member created the room.
        first: bool,
        /// It joined muted (`<Conference muted>`): the others do not hear it.
        muted: bool,
        /// It joined on hold (`<MultiPartyCall hold>`): it neither hears nor is heard.
        held: bool,
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
        uuid: RoomUuid,
        /// The member id it had.
        member_id: MemberId,
        /// Why.
        reason: LeaveReason,
        /// Whether the room is empty now that the member has left (Plivo's
        /// `ConferenceLastMember`: the room's size is 0 at this exit, not "the last to leave").
        last: bool,
        /// The room's recording, if one is running when the member leaves (shared: one
        /// reference count per member, not a copy of its URL).
        recording: Option<Arc<RecordingInfo>>,
    },
    /// A member was muted or unmuted.
    Muted {
        /// The member's call.
        call: CallId,
        /// Room name.
        room: Arc<str>,
        /// Member id.
        member_id: MemberId,
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
        member_id: MemberId,
        /// New state.
        deaf: bool,
    },
    /// A MultiPartyCall participant was put on hold (`held`) or taken off hold. Delivered to
    /// the participant's call: while held it hears its role's hold music and the others do
    /// not hear it; unheld, it hears and is heard again (unless muted or deaf).
    /// Plivo: MPC "Update participant state" (`hold`).
    Held {
        /// The participant's call.
        call: CallId,
        /// The MPC's friendly name.
        room: Arc<str>,
        /// Member id.
        member_id: MemberId,
        /// New state.
        held: bool,
    },
    /// A member got the floor (became the active speaker).
    Floor {
        /// The member's call.
        call: CallId,
        /// Room name.
        room: Arc<str>,
        /// Member id.
        member_id: MemberId,
    },
    /// Audio for some members (REST play/speak and their stops).
    Media {
        /// Room name.
        room: Arc<str>,
        /// The targeted member ids, ascending.
        members: Vec<MemberId>,
        /// What to do (boxed: it is the largest payload, and rare).
        media: Box<MemberMedia>,
    },
    /// A recording started.
    RecordingStarted {
        /// Room name.
        room: Arc<str>,
        /// The room's UUID.
        uuid: RoomUuid,
        /// The recording (shared with the room and its members' `Left` events).
        recording: Arc<RecordingInfo>,
    },
    /// A recording finished (stopped through the API, or the room ended).
    RecordingFinished {
        /// Room name.
        room: Arc<str>,
        /// The room's UUID.
        uuid: RoomUuid,
        /// The recording (shared with the room and its members' `Left` events).
        recording: Arc<RecordingInfo>,
        /// When it stopped.
        ended_at: Duration,
        /// Who to tell.
        callback: Option<(Url, Method)>,
    },
    /// The room ceased to exist (after every member's `Left`).
    Ended {
        /// Account.
        account: AccountId,
        /// Room name.
        room: Arc<str>,
        /// The room's UUID.
        uuid: RoomUuid,
        /// Why.
        reason: EndReason,
    },
}
