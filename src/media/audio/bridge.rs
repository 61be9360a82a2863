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
        // Connected, the callee no longer hears `confirmSound` (the one sound it is ever
        // played): it hears the caller.
        if let Some(b) = self.calls.get_mut(&b_leg) {
            b.waiting.clear();
            b.queue.clear();
        }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::super::{TICK, Work};
    use crate::engine::{CallId, Command, DialEvent, Input, Listener, MediaId};
    use crate::media::mix::{FRAME_SAMPLES, Frame, goertzel_power};
    use crate::media::{AudioMedia, Media};
    use crate::xml::{Dial, Verb};

    fn id(s: &str) -> CallId {
        CallId::from(s.to_owned())
    }

    fn dial(attrs: &str) -> Box<Dial> {
        let doc = crate::xml::parse(&format!("<Response><Dial {attrs}><User>sip:b@127.0.0.1</User></Dial></Response>"));
        match doc.document.verbs.first() {
            Some(Verb::Dial(d)) => d.clone(),
            other => panic!("not a dial: {other:?}"),
        }
    }

    /// A frame of a `hz` tone.
    fn tone(hz: f64) -> Frame {
        let mut f = [0i16; FRAME_SAMPLES];
        for (i, s) in f.iter_mut().enumerate() {
            *s = (8000.0 * (std::f64::consts::TAU * hz * i as f64 / 8000.0).sin()) as i16;
        }
        f
    }

    /// Plays `ticks` ticks in which the caller `a` says 400 Hz and the B leg `b` 800 Hz (whole periods per frame);
    /// returns what each heard (400 and 800 Hz power of a's frames, then of b's) and the
    /// inputs.
    fn talk(m: &mut AudioMedia, now: &mut Duration, ticks: u32) -> ([f64; 4], Vec<Input>) {
        let (a, b) = (id("a"), id("b"));
        let (mut heard_a, mut heard_b, mut inputs) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ticks {
            m.handle_frame(*now, &a, &tone(400.0));
            m.handle_frame(*now, &b, &tone(800.0));
            *now += TICK;
            while let Some((_, i)) = m.poll_input(*now) {
                inputs.push(i);
            }
            heard_a.extend(std::iter::from_fn(|| m.poll_heard(&a)).flatten());
            heard_b.extend(std::iter::from_fn(|| m.poll_heard(&b)).flatten());
        }
        let p = |h: &[i16], hz| goertzel_power(h, hz, 8000);
        ([p(&heard_a, 400.0), p(&heard_a, 800.0), p(&heard_b, 400.0), p(&heard_b, 800.0)], inputs)
    }

    fn answered(m: &mut AudioMedia, now: Duration) {
        let event = DialEvent::Answered { b_leg: id("b"), to: "sip:b@127.0.0.1".into() };
        assert!(m.dial_progress(now, &id("a"), MediaId(1), event));
    }

    #[test]
    fn the_answering_party_and_the_caller_hear_each_other_and_not_themselves() {
        let (mut m, mut now) = (AudioMedia::new(), Duration::ZERO);
        m.handle_command(now, &id("a"), &Command::Answer);
        m.handle_command(now, &id("a"), &Command::Dial { media: MediaId(1), dial: dial("") });
        assert_eq!(m.poll_work(), Some(Work::Answer(id("a"))));
        assert!(matches!(m.poll_work(), Some(Work::Dial { media: MediaId(1), .. })));
        assert!(!m.dial_progress(now, &id("a"), MediaId(9), DialEvent::Ringing), "another dial's media");
        answered(&mut m, now);
        let ([a400, a800, b400, b800], inputs) = talk(&mut m, &mut now, 10);
        assert!(matches!(inputs.first(), Some(Input::Dial(DialEvent::Answered { .. }))), "{inputs:?}");
        assert!(a800 > 1e-3 && a800 > 1e3 * a400.max(1e-12), "the caller hears the callee only: {a400} {a800}");
        assert!(b400 > 1e-3 && b400 > 1e3 * b800.max(1e-12), "the callee hears the caller only: {b400} {b800}");
        // The callee's keys are the caller's dial's.
        m.handle_key(now, &id("b"), '7');
        let (_, inputs) = talk(&mut m, &mut now, 1);
        assert!(matches!(&inputs[..], [Input::Dial(DialEvent::CalleeDigits(k))] if k == "7"), "{inputs:?}");
        // `POST Call/{uuid}/DTMF/` with `leg=bleg` reaches the callee; `aleg` the caller.
        for (to, heard_by) in [(Listener::Callee, "b"), (Listener::Caller, "a")] {
            m.handle_command(now, &id("a"), &Command::SendDigits { media: MediaId(5), digits: "12".into(), to });
            assert_eq!(m.poll_work(), Some(Work::SendDigits { call: id(heard_by), digits: "12".into() }));
        }
        // The caller hangs up: the shell hangs the callee up; nothing more of the dial.
        m.call_ended(&id("a"));
        assert_eq!(m.poll_work(), Some(Work::EndDial { call: id("a"), media: MediaId(1) }));
        assert!(m.poll_heard(&id("b")).is_none() && m.caller_of(&id("b")).is_none());
        assert!(!m.dial_progress(now, &id("a"), MediaId(1), DialEvent::CalleeHangup));
    }

    #[test]
    fn with_confirm_key_the_callee_hears_confirm_sound_and_is_connected_only_by_the_key() {
        let (mut m, mut now) = (AudioMedia::new(), Duration::ZERO);
        m.handle_command(now, &id("a"), &Command::Answer);
        m.handle_command(now, &id("a"), &Command::Dial { media: MediaId(1), dial: dial(r#"confirmKey="5""#) });
        answered(&mut m, now);
        let doc = crate::xml::parse("<Response><Wait length=\"1\"/></Response>").document;
        let sounds = Arc::new(doc);
        let confirm = Command::PlaySounds {
            media: MediaId(2),
            sounds,
            to: Listener::Callee,
            looped: false,
            what: "confirmSound",
        };
        m.handle_command(now, &id("a"), &confirm);
        let ([_, a800, b400, _], _) = talk(&mut m, &mut now, 10);
        assert!(a800 < 1e-9 && b400 < 1e-9, "not connected before the key: {a800} {b400}");
        // confirmSound (1 s) ends as the caller's media.
        let (_, inputs) = talk(&mut m, &mut now, 45);
        assert!(inputs.iter().any(|i| matches!(i, Input::MediaFinished(MediaId(2)))), "{inputs:?}");
        m.handle_key(now, &id("b"), '3');
        let ([_, a800, ..], _) = talk(&mut m, &mut now, 5);
        assert!(a800 < 1e-9, "another key does not connect");
        m.handle_key(now, &id("b"), '5');
        let ([_, a800, b400, _], inputs) = talk(&mut m, &mut now, 10);
        assert!(inputs.iter().any(|i| matches!(i, Input::Dial(DialEvent::CalleeDigits(k)) if k == "5")), "{inputs:?}");
        assert!(a800 > 1e-3 && b400 > 1e-3, "connected by the key: {a800} {b400}");
    }

    #[test]
    fn the_confirm_key_stops_the_confirm_sound() {
        let (mut m, mut now) = (AudioMedia::new(), Duration::ZERO);
        m.handle_command(now, &id("a"), &Command::Answer);
        m.handle_command(now, &id("a"), &Command::Dial { media: MediaId(1), dial: dial(r#"confirmKey="5""#) });
        answered(&mut m, now);
        let doc = crate::xml::parse("<Response><Play>https://app.example/tone.wav</Play></Response>").document;
        let confirm = Command::PlaySounds {
            media: MediaId(2),
            sounds: Arc::new(doc),
            to: Listener::Callee,
            looped: true,
            what: "",
        };
        m.handle_command(now, &id("a"), &confirm);
        let render = std::iter::from_fn(|| m.poll_work()).find_map(|w| match w {
            Work::Render { call, media, part, .. } => Some((call, media, part)),
            _ => None,
        });
        let (call, media, part) = render.expect("the confirmSound is rendered");
        let second: Arc<[i16]> = std::iter::repeat_n(tone(1000.0), 50).flatten().collect();
        assert!(m.provide_audio(&call, media, part, Some(second)));
        let heard_1k = |m: &mut AudioMedia, now: &mut Duration| {
            let mut heard = Vec::new();
            for _ in 0..10 {
                *now += TICK;
                while m.poll_input(*now).is_some() {}
                heard.extend(std::iter::from_fn(|| m.poll_heard(&id("b"))).flatten());
            }
            goertzel_power(&heard, 1000.0, 8000)
        };
        assert!(heard_1k(&mut m, &mut now) > 1e-3, "the callee hears confirmSound");
        m.handle_key(now, &id("b"), '5');
        assert!(heard_1k(&mut m, &mut now) < 1e-9, "connected, it no longer does");
    }

    #[test]
    fn a_cancelled_dial_is_ended_by_the_shell_and_reports_nothing_more() {
        let (mut m, now) = (AudioMedia::new(), Duration::ZERO);
        m.handle_command(now, &id("a"), &Command::Dial { media: MediaId(1), dial: dial(r#"timeout="5""#) });
        assert!(matches!(m.poll_work(), Some(Work::Dial { .. })));
        m.handle_command(now, &id("a"), &Command::CancelDial(MediaId(3)));
        assert_eq!(m.poll_work(), None, "another media id cancels nothing");
        m.handle_command(now, &id("a"), &Command::CancelDial(MediaId(1)));
        assert_eq!(m.poll_work(), Some(Work::EndDial { call: id("a"), media: MediaId(1) }));
        assert!(!m.dial_progress(now, &id("a"), MediaId(1), DialEvent::Busy));
        assert!(m.poll_input(now).is_none());
        // Busy and the like end the dial with their report.
        m.handle_command(now, &id("a"), &Command::Dial { media: MediaId(4), dial: dial("") });
        assert!(m.dial_progress(now, &id("a"), MediaId(4), DialEvent::Busy));
        assert!(matches!(m.poll_input(now), Some((_, Input::Dial(DialEvent::Busy)))));
        assert!(!m.dial_progress(now, &id("a"), MediaId(4), DialEvent::Failed));
    }
}
