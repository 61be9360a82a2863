//! [`OutboundPlan`]: the REST "Make a call" options that shape an outbound call's life
//! (`ring_timeout`, `hangup_on_ring`, `time_limit`, `send_digits`, `machine_detection`), and
//! how the runtime plays them out against the far end ([`crate::media::FarEnds`]).
//!
//! Plivo's page: <https://www.plivo.com/docs/voice/api/call/make-a-call/>.

use std::time::Duration;

use crate::engine::{CallId, HangupCause, HangupSource, Input, Webhook};
use crate::media::{FarEnd, FarEndAnswer, SimulatedMedia};

/// Plivo's default `ring_timeout`: an outbound call that rings this long is not answered.
pub const DEFAULT_RING_TIMEOUT: Duration = Duration::from_secs(120);
/// Plivo's default `machine_detection_time` (5 000 ms).
pub const DEFAULT_MACHINE_DETECTION_TIME: Duration = Duration::from_millis(5000);

/// `machine_detection`: what happens when the far end is an answering machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineDetection {
    /// `machine_detection=hangup`: the call is hung up (9050 Machine Detected); `true`: it goes
    /// on and `url` is told.
    pub hangup: bool,
    /// `machine_detection_time`: how long after the answer the outcome is known.
    pub time: Duration,
    /// `machine_detection_url` and `machine_detection_method`: told the outcome (`Machine`
    /// `true` or `false`) asynchronously.
    pub url: Option<Webhook>,
}

/// The options of one outbound call. The default is a call that the far end's entry alone
/// shapes (with no entry: answered at once, no limits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundPlan {
    /// `ring_timeout`: not answered within it, the call ends (9020 Ring Timeout Reached).
    pub ring_timeout: Duration,
    /// `hangup_on_ring`: the call is hung up this long after it starts ringing, answered or not
    /// (9040 Hangup On Ring).
    pub hangup_on_ring: Option<Duration>,
    /// `time_limit`: the call is hung up this long after it is answered (9030 Time Limit
    /// Reached). Real time: not multiplied by the media's speed (like `<Dial timeLimit>`).
    pub time_limit: Option<Duration>,
    /// `send_digits`: tones sent to the callee once it answers.
    pub send_digits: Option<String>,
    /// `machine_detection`.
    pub machine_detection: Option<MachineDetection>,
}

impl Default for OutboundPlan {
    fn default() -> Self {
        OutboundPlan {
            ring_timeout: DEFAULT_RING_TIMEOUT,
            hangup_on_ring: None,
            time_limit: None,
            send_digits: None,
            machine_detection: None,
        }
    }
}

/// The timeline of an outbound call to `far` (none: answered at once) under `plan`, as
/// (media time, real time added, input), in the order things happen. The ring phase is
/// decided on the durations as given, so that its outcome is the same at every speed. What
/// follows the answer — the far end's keys and hangup, `time_limit` — is real time (not
/// multiplied by the speed): the application's document comes over the network in real time,
/// and keys pressed before it is there would be lost.
pub(crate) fn timeline(far: Option<&FarEnd>, plan: &OutboundPlan) -> Vec<(Duration, Duration, Input)> {
    let far = far.cloned().unwrap_or_default();
    let end = |cause, source| Input::End { cause, source };
    let zero = Duration::ZERO;
    let mut steps: Vec<(Duration, Duration, Input)> = Vec::new();
    let ring_limit = match plan.hangup_on_ring {
        Some(h) if h < plan.ring_timeout => (h, HangupCause::HangupOnRing),
        _ => (plan.ring_timeout, HangupCause::RingTimeout),
    };
    match far.answer {
        FarEndAnswer::Busy => steps.push((zero, zero, end(HangupCause::Busy, HangupSource::Callee))),
        FarEndAnswer::Failed => {
            steps.push((zero, zero, end(HangupCause::DestinationOutOfService, HangupSource::Plivo)));
        }
        FarEndAnswer::NoAnswer => steps.push((ring_limit.0, zero, end(ring_limit.1, HangupSource::Plivo))),
        FarEndAnswer::Answer if far.answer_after >= ring_limit.0 => {
            steps.push((ring_limit.0, zero, end(ring_limit.1, HangupSource::Plivo)));
        }
        FarEndAnswer::Answer => {
            let at = far.answer_after;
            steps.push((at, zero, Input::Answered));
            if let Some(h) = plan.hangup_on_ring {
                steps.push((h, zero, end(HangupCause::HangupOnRing, HangupSource::Plivo)));
            }
            if let Some(limit) = plan.time_limit {
                steps.push((at, limit, end(HangupCause::TimeLimit, HangupSource::Plivo)));
            }
            if let Some(keys) = far.digits {
                steps.push((at, far.digits_after, Input::Digits(keys)));
            }
            if let Some(md) = &plan.machine_detection {
                let outcome = if md.hangup {
                    far.machine.then(|| end(HangupCause::MachineDetected, HangupSource::Plivo))
                } else {
                    md.url.clone().map(|notify| Input::MachineDetection { machine: far.machine, notify })
                };
                steps.extend(outcome.map(|i| (at + md.time, zero, i)));
            }
            if let Some(talk) = far.talk {
                steps.push((at, talk, Input::Hangup { source: HangupSource::Callee }));
            }
        }
    }
    // Stable: at equal times, the order above.
    steps.sort_by_key(|(media, real, _)| *media + *real);
    steps
}

/// Schedules `steps` for `call` started at `now` on `media` (media times at its speed).
pub(crate) fn schedule(
    media: &mut SimulatedMedia,
    now: Duration,
    call: &CallId,
    steps: Vec<(Duration, Duration, Input)>,
) {
    for (at, real, input) in steps {
        let when = now + media.at_speed(at) + real;
        media.schedule_input(when, call, input);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(far: Option<&FarEnd>, plan: &OutboundPlan) -> Vec<(u64, String)> {
        timeline(far, plan).into_iter().map(|(m, r, s)| ((m + r).as_secs(), format!("{s:?}"))).collect()
    }

    fn at(secs: u64, input: Input) -> (u64, String) {
        (secs, format!("{input:?}"))
    }

    #[test]
    fn no_entry_answers_at_once() {
        assert_eq!(inputs(None, &OutboundPlan::default()), vec![at(0, Input::Answered)]);
    }

    #[test]
    fn an_answer_after_the_ring_timeout_is_a_ring_timeout() {
        let far = FarEnd { answer_after: Duration::from_secs(10), ..FarEnd::default() };
        let plan = OutboundPlan { ring_timeout: Duration::from_secs(5), ..OutboundPlan::default() };
        let end = Input::End { cause: HangupCause::RingTimeout, source: HangupSource::Plivo };
        assert_eq!(inputs(Some(&far), &plan), vec![at(5, end)]);
    }

    #[test]
    fn hangup_on_ring_before_the_ring_timeout_wins_and_applies_after_the_answer_too() {
        let far = FarEnd { answer: FarEndAnswer::NoAnswer, ..FarEnd::default() };
        let plan = OutboundPlan { hangup_on_ring: Some(Duration::from_secs(3)), ..OutboundPlan::default() };
        let end = Input::End { cause: HangupCause::HangupOnRing, source: HangupSource::Plivo };
        assert_eq!(inputs(Some(&far), &plan), vec![at(3, end.clone())]);
        let far = FarEnd { answer_after: Duration::from_secs(1), ..FarEnd::default() };
        assert_eq!(inputs(Some(&far), &plan), vec![at(1, Input::Answered), at(3, end)]);
    }

    #[test]
    fn the_time_limit_counts_from_the_answer_and_talk_may_end_it_first() {
        let far = FarEnd {
            answer_after: Duration::from_secs(2),
            talk: Some(Duration::from_secs(4)),
            digits: Some("1".into()),
            digits_after: Duration::from_secs(1),
            ..FarEnd::default()
        };
        let plan = OutboundPlan { time_limit: Some(Duration::from_secs(10)), ..OutboundPlan::default() };
        let got = inputs(Some(&far), &plan);
        let limit = Input::End { cause: HangupCause::TimeLimit, source: HangupSource::Plivo };
        assert_eq!(
            got,
            vec![
                at(2, Input::Answered),
                at(3, Input::Digits("1".into())),
                at(6, Input::Hangup { source: HangupSource::Callee }),
                at(12, limit),
            ]
        );
    }

    #[test]
    fn busy_and_failed_end_at_once() {
        let busy = FarEnd { answer: FarEndAnswer::Busy, ..FarEnd::default() };
        let end = Input::End { cause: HangupCause::Busy, source: HangupSource::Callee };
        assert_eq!(inputs(Some(&busy), &OutboundPlan::default()), vec![at(0, end)]);
        let failed = FarEnd { answer: FarEndAnswer::Failed, ..FarEnd::default() };
        let end = Input::End { cause: HangupCause::DestinationOutOfService, source: HangupSource::Plivo };
        assert_eq!(inputs(Some(&failed), &OutboundPlan::default()), vec![at(0, end)]);
    }
}
