//! REST operations on rooms (Plivo's Conference API): kick, hang up, mute, deaf, play, speak,
//! floor, end, record. Each names its members with a [`MemberTarget`]; an unknown room or
//! member is a [`ConferenceError`] and changes nothing.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::events::{EndReason, LeaveReason, RecordingInfo, RoomEvent};
use super::registry::{
    Conferences, Flag, RecordSpec, RoomKey, RoomKind, mpc_not_found, new_recording, resolve, room_key, room_not_found,
};
use crate::engine::ids::CallId;
use crate::engine::ids::MemberId;

/// Which members an operation targets: `all`, one id, or a comma list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberTarget {
    /// Every member of the room.
    All,
    /// These member ids (at least one, duplicates removed, ascending).
    Ids(Vec<MemberId>),
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
            ids.push(MemberId(item.parse::<u32>().map_err(|_| invalid())?));
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
                let parts: Vec<String> = ids.iter().map(MemberId::to_string).collect();
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
    /// No live multiparty call by that friendly name in the account.
    #[error("multiparty call `{name}` not found")]
    MultiPartyCallNotFound {
        /// The MPC name asked for.
        name: String,
    },
    /// Some targeted ids are not members of the room; nothing was done.
    #[error("member{} {} not found in conference `{room}`", if ids.len() == 1 { "" } else { "s" }, join_ids(ids))]
    MembersNotFound {
        /// The room.
        room: String,
        /// The ids that are not members, ascending.
        ids: Vec<MemberId>,
    },
    /// The call is already a member of a room.
    #[error("call {0} is already in a conference")]
    AlreadyInRoom(CallId),
    /// The member target is neither `all` nor a comma list of ids.
    #[error("invalid member id `{0}`: expected a member id, a comma-separated list of ids, or `all`")]
    InvalidTarget(String),
}

fn join_ids(ids: &[MemberId]) -> String {
    let parts: Vec<String> = ids.iter().map(MemberId::to_string).collect();
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

impl Conferences {
    /// REST Kick: the targeted members leave with [`LeaveReason::Kicked`]. Returns their ids.
    pub fn kick(
        &mut self,
        now: Duration,
        account: &str,
        room: &str,
        target: &MemberTarget,
    ) -> Result<Vec<MemberId>, ConferenceError> {
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
    ) -> Result<Vec<MemberId>, ConferenceError> {
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
    ) -> Result<Vec<MemberId>, ConferenceError> {
        self.set_flag(account, room, target, Flag::Muted, muted)
    }

    /// REST Deaf / Undeaf. Emits [`RoomEvent::Deafened`] for members whose state changed.
    pub fn set_deaf(
        &mut self,
        account: &str,
        room: &str,
        target: &MemberTarget,
        deaf: bool,
    ) -> Result<Vec<MemberId>, ConferenceError> {
        self.set_flag(account, room, target, Flag::Deaf, deaf)
    }

    /// MPC participant hold (`held = true`) / unhold: Plivo's "Update participant state"
    /// with `hold` (`POST /v1/Account/{auth_id}/MultiPartyCall/name_{mpc_name}/Participant/
    /// {all | member_id}/`, <https://www.plivo.com/docs/voice/api/multiparty-call/participants/update-participant-state/>).
    ///
    /// A held participant stays in the MPC but is not heard by the others and does not hear
    /// them (Plivo PHLO "Hold a member": "the member will be muted"); its call plays its role's
    /// hold music ([`RoomEvent::Held`] tells it). Its own `muted`/`deaf` flags are kept, so
    /// unhold restores exactly what it had. Emits [`RoomEvent::Held`] for each participant
    /// whose state changed; returns the targeted ids. Only `<MultiPartyCall>` rooms: an
    /// unknown MPC is [`ConferenceError::MultiPartyCallNotFound`], unknown members
    /// [`ConferenceError::MembersNotFound`], and nothing changes.
    pub fn set_hold(
        &mut self,
        account: &str,
        mpc_name: &str,
        target: &MemberTarget,
        held: bool,
    ) -> Result<Vec<MemberId>, ConferenceError> {
        let key = room_key(account, RoomKind::MultiParty, mpc_name);
        let r = self.rooms.get_mut(&key).ok_or_else(|| mpc_not_found(mpc_name))?;
        let ids = resolve(mpc_name, r, target)?;
        for &id in &ids {
            let Some(m) = r.members.get_mut(&id) else { continue };
            if m.held == held {
                continue;
            }
            m.held = held;
            self.events.push_back(RoomEvent::Held {
                call: m.info.call.clone(),
                room: r.name.clone(),
                member_id: id,
                held,
            });
        }
        Ok(ids)
    }

    /// Sets a member flag on the targeted members; an event for each one that changed.
    fn set_flag(
        &mut self,
        account: &str,
        room: &str,
        target: &MemberTarget,
        flag: Flag,
        on: bool,
    ) -> Result<Vec<MemberId>, ConferenceError> {
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
    ) -> Result<Vec<MemberId>, ConferenceError> {
        let (_, ids) = self.targets(account, room, target)?;
        self.events.push_back(RoomEvent::Media { room: Arc::from(room), members: ids.clone(), media: Box::new(media) });
        Ok(ids)
    }

    /// Gives the floor to a member: emits [`RoomEvent::Floor`].
    pub fn set_floor(&mut self, account: &str, room: &str, member_id: MemberId) -> Result<(), ConferenceError> {
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
            return Ok(RecordingInfo::clone(&running.info));
        }
        let recording = new_recording(&mut self.ids, &self.config.recording_url_base, now, spec);
        let info = recording.info.clone();
        self.events.push_back(RoomEvent::RecordingStarted {
            room: Arc::from(room),
            uuid: r.uuid.clone(),
            recording: info.clone(),
        });
        r.recording = Some(recording);
        Ok(RecordingInfo::clone(&info))
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
        Ok(Some(RecordingInfo::clone(&recording.info)))
    }

    /// The live Conference room `room` of `account` and the ids `target` names there.
    fn targets(
        &self,
        account: &str,
        room: &str,
        target: &MemberTarget,
    ) -> Result<(RoomKey, Vec<MemberId>), ConferenceError> {
        let key = room_key(account, RoomKind::Conference, room);
        let r = self.rooms.get(&key).ok_or_else(|| room_not_found(room))?;
        let ids = resolve(room, r, target)?;
        Ok((key, ids))
    }
}
