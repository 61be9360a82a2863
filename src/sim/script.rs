//! [`At`]: the script of a [`Simulation`], one virtual time at a time.

use std::time::Duration;

use super::{Action, Simulation};
use crate::engine::{DialEvent, Direction, HangupSource, Input, MemberMedia, MemberTarget};
use crate::runtime::RoomOp;

/// Scripts events at one virtual time: `sim.at(t).digits("alice", "1#")`.
///
/// Calls are named by the names they were started with. Room operations name their members
/// as Plivo's API does (`all`, `2` or `1,2,3`); one whose member list is not one writes an
/// `api` line with the error at its time, as `serve` answers such a request with a 400.
#[derive(Debug)]
pub struct At<'a> {
    sim: &'a mut Simulation,
    at: Duration,
}

impl<'a> At<'a> {
    pub(super) fn new(sim: &'a mut Simulation, at: Duration) -> Self {
        At { sim, at }
    }

    fn input(self, call: &str, input: Input) -> Self {
        self.sim.schedule(self.at, Action::Input { call: call.to_owned(), input });
        self
    }

    /// Schedules the room operation `make` builds for `target`, or the error line when
    /// `target` names no members.
    fn op(self, target: &str, make: impl FnOnce(MemberTarget) -> RoomOp) -> Self {
        let action = match target.parse::<MemberTarget>() {
            Ok(t) => Action::Room(make(t)),
            Err(error) => {
                // Described with a stand-in target, then the member list as it was written.
                let text = make(MemberTarget::All).describe();
                let text = text.strip_suffix("all").map_or(text.clone(), |head| format!("{head}{target}"));
                Action::BadRoomOp { text, error }
            }
        };
        self.sim.schedule(self.at, action);
        self
    }

    /// Starts an inbound call.
    pub fn start_call(self, name: &str, answer_url: &str) -> Self {
        let setup = self.sim.setup(name, answer_url, Direction::Inbound);
        self.sim.schedule(self.at, Action::Start { name: name.to_owned(), setup });
        self
    }

    /// The caller presses keys.
    pub fn digits(self, call: &str, keys: &str) -> Self {
        self.input(call, Input::Digits(keys.to_owned()))
    }

    /// The caller says something (`<GetInput>`).
    pub fn speech(self, call: &str, text: &str, confidence: f32) -> Self {
        self.input(call, Input::Speech { text: text.to_owned(), confidence })
    }

    /// The caller hangs up.
    pub fn hangup(self, call: &str) -> Self {
        self.input(call, Input::Hangup { source: HangupSource::Caller })
    }

    /// A dial event for the call's `<Dial>` (turns off the dial defaults for that call).
    pub fn dial(self, call: &str, event: DialEvent) -> Self {
        self.sim.scripted_dials.insert(call.to_owned());
        if let Some(id) = self.sim.ids.get(call).cloned() {
            self.sim.rt.media_mut().script_dials(&id);
        }
        self.input(call, Input::Dial(event))
    }

    /// Any input.
    pub fn send(self, call: &str, input: Input) -> Self {
        self.input(call, input)
    }

    /// The call's running recording ends, `duration_ms` long.
    pub fn finish_recording(self, call: &str, duration_ms: u64) -> Self {
        self.sim.schedule(self.at, Action::FinishRecording { call: call.to_owned(), duration_ms });
        self
    }

    /// The call's latest stream ends.
    pub fn end_stream(self, call: &str) -> Self {
        self.sim.schedule(self.at, Action::EndStream { call: call.to_owned() });
        self
    }

    /// REST kick.
    pub fn kick(self, room: &str, target: &str) -> Self {
        self.op(target, |target| RoomOp::Kick { room: room.to_owned(), target })
    }

    /// REST mute / unmute.
    pub fn mute(self, room: &str, target: &str, on: bool) -> Self {
        self.op(target, |target| RoomOp::Mute { room: room.to_owned(), target, on })
    }

    /// REST deaf / undeaf.
    pub fn deaf(self, room: &str, target: &str, on: bool) -> Self {
        self.op(target, |target| RoomOp::Deaf { room: room.to_owned(), target, on })
    }

    /// REST MultiPartyCall participant hold (`on`) / unhold.
    pub fn hold(self, mpc_name: &str, target: &str, on: bool) -> Self {
        self.op(target, |target| RoomOp::Hold { room: mpc_name.to_owned(), target, on })
    }

    /// REST play to members.
    pub fn play(self, room: &str, target: &str, url: &str) -> Self {
        let media = MemberMedia::Play { url: url.to_owned() };
        self.op(target, |target| RoomOp::Media { room: room.to_owned(), target, media })
    }

    /// REST speak to members.
    pub fn speak(self, room: &str, target: &str, text: &str) -> Self {
        let media =
            MemberMedia::Speak { text: text.to_owned(), voice: "WOMAN".to_owned(), language: "en-US".to_owned() };
        self.op(target, |target| RoomOp::Media { room: room.to_owned(), target, media })
    }

    /// REST member hangup.
    pub fn hangup_member(self, room: &str, target: &str) -> Self {
        self.op(target, |target| RoomOp::HangupMember { room: room.to_owned(), target })
    }

    /// REST end room.
    pub fn end_room(self, room: &str) -> Self {
        self.sim.schedule(self.at, Action::Room(RoomOp::End { room: room.to_owned() }));
        self
    }

    /// Any room operation.
    pub fn room_op(self, op: RoomOp) -> Self {
        self.sim.schedule(self.at, Action::Room(op));
        self
    }
}
