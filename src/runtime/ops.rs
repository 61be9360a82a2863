//! [`RoomOp`]: a REST operation on rooms as data, and what it did ([`OpResult`]).

use std::time::Duration;

use crate::engine::{ConferenceError, Engine, MemberId, MemberMedia, MemberTarget, RecordSpec, RecordingInfo};

/// A REST operation on rooms: what `serve`'s Conference and MultiPartyCall API and a
/// scenario's room events ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoomOp {
    /// Kick members.
    Kick {
        /// Room.
        room: String,
        /// The members.
        target: MemberTarget,
    },
    /// Mute (`on`) or unmute.
    Mute {
        /// Room.
        room: String,
        /// The members.
        target: MemberTarget,
        /// Mute or unmute.
        on: bool,
    },
    /// Deaf (`on`) or undeaf.
    Deaf {
        /// Room.
        room: String,
        /// The members.
        target: MemberTarget,
        /// Deaf or undeaf.
        on: bool,
    },
    /// MultiPartyCall participant hold (`on`) or unhold (Plivo MPC "Update participant
    /// state", `hold`).
    Hold {
        /// The MPC's friendly name.
        room: String,
        /// The members.
        target: MemberTarget,
        /// Hold or unhold.
        on: bool,
    },
    /// Play, stop play, speak or stop speak to members.
    Media {
        /// Room.
        room: String,
        /// The members.
        target: MemberTarget,
        /// What.
        media: MemberMedia,
    },
    /// Hang up members' calls.
    HangupMember {
        /// Room.
        room: String,
        /// The members.
        target: MemberTarget,
    },
    /// End the room.
    End {
        /// Room.
        room: String,
    },
    /// End every room.
    EndAll,
    /// Start recording.
    StartRecording {
        /// Room.
        room: String,
        /// Format and callback.
        spec: RecordSpec,
    },
    /// Stop recording.
    StopRecording {
        /// Room.
        room: String,
    },
}

/// What a room operation did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpResult {
    /// The member ids it applied to, ascending.
    pub members: Vec<MemberId>,
    /// The names of the rooms it ended (`EndAll`).
    pub rooms: Vec<String>,
    /// The recording it started or stopped.
    pub recording: Option<RecordingInfo>,
}

impl RoomOp {
    /// Runs the operation on `engine`'s rooms of `account` at `now`.
    ///
    /// # Errors
    /// The [`ConferenceError`] of the rooms' operation (unknown room or members); nothing
    /// changes then.
    pub fn apply(&self, engine: &mut Engine, now: Duration, account: &str) -> Result<OpResult, ConferenceError> {
        let mut rooms = engine.room_ops(now);
        let members = |v: Vec<MemberId>| OpResult { members: v, ..OpResult::default() };
        match self {
            RoomOp::Kick { room, target } => rooms.kick(account, room, target).map(members),
            RoomOp::Mute { room, target, on } => rooms.set_muted(account, room, target, *on).map(members),
            RoomOp::Deaf { room, target, on } => rooms.set_deaf(account, room, target, *on).map(members),
            RoomOp::Hold { room, target, on } => rooms.set_hold(account, room, target, *on).map(members),
            RoomOp::Media { room, target, media } => {
                rooms.member_media(account, room, target, media.clone()).map(members)
            }
            RoomOp::HangupMember { room, target } => rooms.hangup_members(account, room, target).map(members),
            RoomOp::End { room } => rooms.end(account, room).map(|()| OpResult::default()),
            RoomOp::EndAll => Ok(OpResult { rooms: rooms.end_all(account), ..OpResult::default() }),
            RoomOp::StartRecording { room, spec } => rooms
                .start_recording(account, room, spec.clone())
                .map(|r| OpResult { recording: Some(r), ..OpResult::default() }),
            RoomOp::StopRecording { room } => {
                rooms.stop_recording(account, room).map(|r| OpResult { recording: r, ..OpResult::default() })
            }
        }
    }

    /// The operation as a transcript says it: `kick MyConference member 1`.
    pub fn describe(&self) -> String {
        match self {
            RoomOp::Kick { room, target } => format!("kick {room} member {target}"),
            RoomOp::Mute { room, target, on } => {
                format!("{} {room} member {target}", if *on { "mute" } else { "unmute" })
            }
            RoomOp::Deaf { room, target, on } => {
                format!("{} {room} member {target}", if *on { "deaf" } else { "undeaf" })
            }
            RoomOp::Hold { room, target, on } => {
                format!("{} {room} member {target}", if *on { "hold" } else { "unhold" })
            }
            RoomOp::Media { room, target, media } => {
                let what = match media {
                    MemberMedia::Play { .. } => "play to",
                    MemberMedia::StopPlay => "stop play to",
                    MemberMedia::Speak { .. } => "speak to",
                    MemberMedia::StopSpeak => "stop speak to",
                };
                format!("{what} {room} member {target}")
            }
            RoomOp::HangupMember { room, target } => format!("hang up {room} member {target}"),
            RoomOp::End { room } => format!("end {room}"),
            RoomOp::EndAll => "end all rooms".to_owned(),
            RoomOp::StartRecording { room, .. } => format!("start recording {room}"),
            RoomOp::StopRecording { room } => format!("stop recording {room}"),
        }
    }

    /// What the operation did, as a transcript says it: `kicked 1,2`, `error: …`.
    pub fn outcome(&self, result: &Result<OpResult, ConferenceError>) -> String {
        let ids = |v: &[MemberId]| v.iter().map(MemberId::to_string).collect::<Vec<_>>().join(",");
        match (result, self) {
            (Err(e), _) => format!("error: {e}"),
            (Ok(r), RoomOp::Kick { .. }) => format!("kicked {}", ids(&r.members)),
            (Ok(r), RoomOp::Mute { on, .. }) => {
                format!("{} {}", if *on { "muted" } else { "unmuted" }, ids(&r.members))
            }
            (Ok(r), RoomOp::Deaf { on, .. }) => {
                format!("{} {}", if *on { "deafened" } else { "undeafened" }, ids(&r.members))
            }
            (Ok(r), RoomOp::Hold { on, .. }) => {
                format!("{} {}", if *on { "held" } else { "unheld" }, ids(&r.members))
            }
            (Ok(r), RoomOp::Media { .. }) => format!("queued for {}", ids(&r.members)),
            (Ok(r), RoomOp::HangupMember { .. }) => format!("hung up {}", ids(&r.members)),
            (Ok(_), RoomOp::End { .. }) => "ended".to_owned(),
            (Ok(r), RoomOp::EndAll) => format!("ended {}", r.rooms.join(", ")),
            (Ok(r), RoomOp::StartRecording { .. }) => {
                format!("recording {}", r.recording.as_ref().map_or("", |x| x.id.as_str()))
            }
            (Ok(r), RoomOp::StopRecording { .. }) => match &r.recording {
                Some(x) => format!("stopped recording {}", x.id),
                None => "no recording was running".to_owned(),
            },
        }
    }
}
