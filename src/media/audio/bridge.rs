//! `<Dial>` on real audio: the dialed party (the B leg) as a participant of the media, and
//! the bridge between it and the caller as a room of two.
//!
//! The shell rings the parties ([`Work::Dial`]) and reports what they do with
//! [`AudioMedia::dial_progress`]; from the answer on, the B leg's frames and keys go in with
//! [`AudioMedia::handle_frame`] and [`AudioMedia::handle_key`] under its own id (the
//! `b_leg` of [`DialEvent::Answered`]) and what it hears comes out of
//! [`AudioMedia::poll_heard`]. The two legs hear each other once the callee is connected: at
//! once, or, with `confirmKey`, when the callee presses it (Plivo's `<Dial confirmKey>`:
//! until then the callee hears `confirmSound` and the caller still hears `dialMusic`).

use std::sync::Arc;
use std::time::Duration;

use super::{AudioMedia, MemberFlags, Work};
use crate::engine::{CallId, DialEvent, Input, MediaId};
use crate::xml::Dial;

/// A call's `<Dial>` in progress.
#[derive(Debug)]
pub(super) struct Dialing {
    media: MediaId,
    /// `confirmKey`: the callee is connected when it presses this.
    confirm_key: Option<char>,
    /// The party that answered.
    b_leg: Option<CallId>,
    /// Whether the two legs hear each other.
    bridged: bool,
}

/// The name of a bridge's room: U+0001 cannot occur in an XML document's room names.
fn bridge_room(call: &CallId) -> Arc<str> {
    Arc::from(format!("\u{1}dial {}", call.as_str()))
}

impl AudioMedia {
    /// Reports the progress of `call`'s `<Dial>` `media` (the media of its
    /// [`Work::Dial`]): ringing, answered (with the answering party's leg id, from which its
    /// frames and keys then come), busy, no answer, failed, the callee's hangup. Returns false
    /// when that dial is no longer running (cancelled, or the call ended): the shell then
    /// hangs up a party that answered.
    pub fn dial_progress(&mut self, now: Duration, call: &CallId, media: MediaId, event: DialEvent) -> bool {
        self.saw(now);
        let Some(d) = self.dials.get_mut(call).filter(|d| d.media == media) else { return false };
        match &event {
            DialEvent::Answered { b_leg, .. } => {
                if d.b_leg.is_some() {
                    return false;
                }
                d.b_leg = Some(b_leg.clone());
                let connect = d.confirm_key.is_none();
                self.callees.insert(b_leg.clone(), call.clone());
                self.start_ticking(now);
                self.calls.entry(b_leg.clone()).or_default();
                if connect {
                    self.connect(call);
                }
            }
            DialEvent::Busy | DialEvent::NoAnswer | DialEvent::Failed | DialEvent::CalleeHangup => {
                self.end_dial(call);
            }
            DialEvent::Ringing | DialEvent::CalleeDigits(_) => {}
        }
        self.report(now, call, Input::Dial(event));
        true
    }

    /// The caller `call` of the party `b_leg`, if it is a B leg.
    pub(super) fn caller_of(&self, b_leg: &CallId) -> Option<&CallId> {
        self.callees.get(b_leg)
    }

    /// The party that answered `call`'s dial, if one did.
    pub(super) fn callee_of(&self, call: &CallId) -> Option<&CallId> {
        self.dials.get(call)?.b_leg.as_ref()
    }

    /// A `<Dial>` starts: the shell rings its parties.
    pub(super) fn start_dial(&mut self, call: &CallId, media: MediaId, dial: &Dial) {
        self.end_dial(call);
        let confirm_key = dial.confirm_key.map(|k| k.as_char());
        self.dials.insert(call.clone(), Dialing { media, confirm_key, b_leg: None, bridged: false });
        self.work.push_back(Work::Dial { call: call.clone(), media, dial: Box::new(dial.clone()) });
    }

    /// `CancelDial`/`HangupCallee` of `media`, or the caller's end: the shell stops ringing
    /// or hangs the party up, and nothing more is reported of the dial.
    pub(super) fn stop_dial(&mut self, call: &CallId, media: Option<MediaId>) {
        if self.dials.get(call).is_some_and(|d| media.is_none_or(|m| m == d.media)) {
            if let Some(d) = self.dials.get(call) {
                self.work.push_back(Work::EndDial { call: call.clone(), media: d.media });
            }
            self.end_dial(call);
        }
    }

    /// A key from the B leg `b_leg`: reported to its caller as the callee's digits; the
    /// `confirmKey` connects the two legs.
    pub(super) fn callee_key(&mut self, now: Duration, b_leg: &CallId, key: char) {
        let Some(call) = self.callees.get(b_leg).cloned() else { return };
        if let Some(d) = self.dials.get(&call)
            && !d.bridged
            && d.confirm_key == Some(key)
        {
            self.connect(&call);
        }
        self.report(now, &call, Input::Dial(DialEvent::CalleeDigits(key.to_string())));
    }

    /// The two legs of `call`'s dial hear each other: a room of two, mixed N−1 like any.
    fn connect(&mut self, call: &CallId) {
        let Some(d) = self.dials.get_mut(call) else { return };
        let Some(b_leg) = d.b_leg.clone().filter(|_| !d.bridged) else { return };
        d.bridged = true;
        let room = bridge_room(call);
        self.join(call, &room, MemberFlags::default());
        self.join(&b_leg, &room, MemberFlags::default());
    }

    /// Forgets `call`'s dial and its B leg's audio.
    fn end_dial(&mut self, call: &CallId) {
        let Some(d) = self.dials.remove(call) else { return };
        if d.bridged {
            self.leave_room(call);
        }
        if let Some(b) = d.b_leg {
            self.leave_room(&b);
            self.callees.remove(&b);
            self.calls.remove(&b);
        }
    }
}
