//! The call's timers: a small table with one slot per [`Timer`], and what each does when it
//! fires.

use std::time::Duration;

use super::{Call, Run, State, Step};
use crate::engine::cause::{HangupCause, HangupSource};

/// What a timer is for. A call has at most one deadline of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// The running verb's own deadline: a `<Wait>`, a gather's prompt pause, input or digit
    /// timeout, a recording's `maxLength`, a dial's ring or confirm timeout, a kept-alive
    /// stream's `streamTimeout`.
    Verb,
    /// `<Dial timeLimit>`, armed when the callee is bridged.
    DialLimit,
    /// `<Hangup schedule>`: outlives the verb that set it.
    ScheduledHangup,
}

/// The deadlines, one slot per [`Timer`], each the nanoseconds of the call's clock at which it
/// fires or [`UNSET`]: 8 bytes a slot where an `Option<Duration>` takes 16, and calls are many.
/// A deadline past 584 years (`u64::MAX` ns) is held at that, which no call reaches.
#[derive(Debug)]
pub(super) struct Timers {
    verb: u64,
    dial_limit: u64,
    scheduled_hangup: u64,
}

/// A disarmed slot.
const UNSET: u64 = u64::MAX;

/// `at` as a slot value (never [`UNSET`]).
fn slot_value(at: Duration) -> u64 {
    u64::try_from(at.as_nanos()).unwrap_or(UNSET).min(UNSET - 1)
}

/// A slot's deadline, if it is armed.
fn deadline(slot: u64) -> Option<Duration> {
    (slot != UNSET).then(|| Duration::from_nanos(slot))
}

impl Default for Timers {
    fn default() -> Self {
        Timers { verb: UNSET, dial_limit: UNSET, scheduled_hangup: UNSET }
    }
}

impl Timers {
    fn slot(&mut self, t: Timer) -> &mut u64 {
        match t {
            Timer::Verb => &mut self.verb,
            Timer::DialLimit => &mut self.dial_limit,
            Timer::ScheduledHangup => &mut self.scheduled_hangup,
        }
    }

    /// Arms `t` for `at` (replacing its previous deadline).
    pub(super) fn set(&mut self, t: Timer, at: Duration) {
        *self.slot(t) = slot_value(at);
    }

    /// Disarms `t`.
    pub(super) fn clear(&mut self, t: Timer) {
        *self.slot(t) = UNSET;
    }

    /// Disarms the timers that belong to the running verb (all but the scheduled hangup).
    pub(super) fn clear_verb(&mut self) {
        self.verb = UNSET;
        self.dial_limit = UNSET;
    }

    /// Disarms everything.
    pub(super) fn clear_all(&mut self) {
        *self = Timers::default();
    }

    /// Whether `t` is due at `now`; a due timer is disarmed.
    fn take_due(&mut self, t: Timer, now: Duration) -> bool {
        let slot = self.slot(t);
        let due = deadline(*slot).is_some_and(|at| at <= now);
        if due {
            *slot = UNSET;
        }
        due
    }

    /// The earliest deadline.
    pub(super) fn next(&self) -> Option<Duration> {
        [self.verb, self.dial_limit, self.scheduled_hangup].into_iter().filter_map(deadline).min()
    }
}

impl Call {
    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.clock = now;
        if self.timers.take_due(Timer::ScheduledHangup, now) {
            self.end(now, HangupCause::NormalHangup, HangupSource::AnswerXml, true);
            return;
        }
        if self.timers.take_due(Timer::Verb, now) {
            self.on_verb_timer(now);
        }
        if self.timers.take_due(Timer::DialLimit, now) {
            self.on_dial_limit(now);
        }
        if !self.is_ended() {
            self.stop_timed_out_streams(now);
            self.stop_timed_out_recordings(now);
        }
    }

    fn on_verb_timer(&mut self, now: Duration) {
        let (State::Running(run), mut cx) = self.parts() else {
            return;
        };
        let step = match run {
            Run::Wait(_) => Step::Done(super::Outcome::Done),
            Run::Gather(g) => g.on_timer(&mut cx, now),
            Run::Record(r) => r.on_max_length(&mut cx),
            Run::Stream(s) => s.on_timeout(&mut cx),
            Run::Dial(d) => d.on_timeout(&mut cx, now),
            Run::Media(_) | Run::Room(_) => Step::Stay,
        };
        self.apply(now, step);
    }

    fn on_dial_limit(&mut self, now: Duration) {
        let (State::Running(Run::Dial(d)), mut cx) = self.parts() else {
            return;
        };
        let step = d.on_time_limit(&mut cx, now);
        self.apply(now, step);
    }
}
