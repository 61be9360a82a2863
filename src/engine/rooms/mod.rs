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

mod events;
mod ops;
mod registry;
#[cfg(test)]
mod tests;

pub use events::{EndReason, LeaveReason, RecordingInfo, RoomEvent};
pub use ops::{ConferenceError, MemberMedia, MemberTarget};
pub use registry::{
    Conferences, Direction, JoinRequest, MemberInfo, MemberSnapshot, RecordSpec, RoomKind, RoomSnapshot, RoomsConfig,
};
