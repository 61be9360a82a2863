//! [`FarEnds`]: what called parties do — the callees of REST "Make a call" and the targets of
//! `<Dial>` — scripted per number, per call or by default (`serve`'s `/sim/FarEnd/`).

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use crate::engine::CallId;

/// The most entries a [`FarEnds`] table holds (numbers and calls together); one more is
/// refused with [`FarEndError::Full`] (the REST layer answers 400).
pub const MAX_FAR_ENDS: usize = 10_000;

/// How a called party answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FarEndAnswer {
    /// It answers after [`FarEnd::answer_after`].
    Answer,
    /// It is busy: a `<Dial>` ends with `DialStatus=busy`, an outbound call with 3010 Busy
    /// Line.
    Busy,
    /// It rings and never answers: the `<Dial timeout>` or the call's `ring_timeout` ends it.
    NoAnswer,
    /// The call fails: `DialStatus=failed`, or 2010 Destination Out Of Service.
    Failed,
}

impl FarEndAnswer {
    /// The value as `/sim/FarEnd/` takes it (`answer`, `busy`, `no-answer`, `failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            FarEndAnswer::Answer => "answer",
            FarEndAnswer::Busy => "busy",
            FarEndAnswer::NoAnswer => "no-answer",
            FarEndAnswer::Failed => "failed",
        }
    }

    /// Reads [`FarEndAnswer::as_str`]'s values; `None` for anything else.
    pub fn parse(s: &str) -> Option<FarEndAnswer> {
        [FarEndAnswer::Answer, FarEndAnswer::Busy, FarEndAnswer::NoAnswer, FarEndAnswer::Failed]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// What one called party does. For a `<Dial>` target its durations are media time (multiplied
/// by the media's speed); for an outbound call's callee, `answer_after` is, and what follows
/// the answer is real time (see [`crate::runtime::OutboundPlan`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FarEnd {
    /// Whether and how it answers.
    pub answer: FarEndAnswer,
    /// How long it rings before it answers.
    pub answer_after: Duration,
    /// How long it talks after answering before it hangs up; `None`: it stays until the
    /// other side ends the call (a `<Dial>` target then hangs up after 30 s, as by default).
    pub talk: Option<Duration>,
    /// Keys it presses after answering (`0-9*#`), e.g. a `<Dial confirmKey>`.
    pub digits: Option<String>,
    /// How long after answering it presses [`FarEnd::digits`].
    pub digits_after: Duration,
    /// An answering machine answers (for `machine_detection`).
    pub machine: bool,
}

impl Default for FarEnd {
    fn default() -> Self {
        FarEnd {
            answer: FarEndAnswer::Answer,
            answer_after: Duration::ZERO,
            talk: None,
            digits: None,
            digits_after: Duration::ZERO,
            machine: false,
        }
    }
}

/// Whom a [`FarEnd`] entry is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FarEndKey {
    /// Every number nothing more particular names.
    Default,
    /// Calls to this number (`To` of a REST call, a `<Number>` or `<User>` of a `<Dial>`).
    Number(String),
    /// The parties the `<Dial>`s of this call reach (before any number's entry).
    Call(CallId),
}

/// Why a far-end entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FarEndError {
    /// The table holds [`MAX_FAR_ENDS`] entries already and this one is new.
    #[error("the far-end table is full ({max} entries): DELETE /sim/FarEnd/ to reset it")]
    Full {
        /// The bound.
        max: usize,
    },
    /// The calls are real (`serve --sip`): no far end is simulated, so there is no table.
    #[error("the calls are real (serve --sip): there is no far-end table")]
    NotSimulated,
}

/// The far-end table: per call, per number and a default, looked up in that order.
#[derive(Debug, Default, Clone)]
pub struct FarEnds {
    entries: HashMap<FarEndKey, FarEnd>,
}

impl FarEnds {
    /// Sets (or replaces) the entry of `key`.
    ///
    /// # Errors
    /// [`FarEndError::Full`] when `key` is new and the table holds [`MAX_FAR_ENDS`] entries.
    pub fn set(&mut self, key: FarEndKey, far: FarEnd) -> Result<(), FarEndError> {
        if !self.entries.contains_key(&key) && self.entries.len() >= MAX_FAR_ENDS {
            return Err(FarEndError::Full { max: MAX_FAR_ENDS });
        }
        self.entries.insert(key, far);
        Ok(())
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Removes the entry of `key`; true when there was one.
    pub fn remove(&mut self, key: &FarEndKey) -> bool {
        self.entries.remove(key).is_some()
    }

    /// Every entry, sorted by key (default, numbers, calls).
    pub fn list(&self) -> Vec<(FarEndKey, FarEnd)> {
        let mut v: Vec<(FarEndKey, FarEnd)> = self.entries.iter().map(|(k, f)| (k.clone(), f.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there is no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What the party `number` reached by `call` does: the entry of the call, else of the
    /// number, else the default; `None` when none applies.
    pub fn lookup(&self, call: Option<&CallId>, number: &str) -> Option<&FarEnd> {
        call.and_then(|c| self.entries.get(&FarEndKey::Call(c.clone())))
            .or_else(|| self.entries.get(&FarEndKey::Number(number.to_owned())))
            .or_else(|| self.entries.get(&FarEndKey::Default))
    }

    /// Forgets the entry of an ended call.
    pub fn forget_call(&mut self, call: &CallId) {
        if !self.entries.is_empty() {
            self.entries.remove(&FarEndKey::Call(call.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_s_entry_comes_before_the_number_s_and_the_default() {
        let mut t = FarEnds::default();
        let busy = FarEnd { answer: FarEndAnswer::Busy, ..FarEnd::default() };
        let failed = FarEnd { answer: FarEndAnswer::Failed, ..FarEnd::default() };
        t.set(FarEndKey::Default, FarEnd::default()).unwrap();
        t.set(FarEndKey::Number("+1555".into()), busy.clone()).unwrap();
        t.set(FarEndKey::Call(CallId::from("c1")), failed.clone()).unwrap();
        assert_eq!(t.lookup(Some(&CallId::from("c1")), "+1555"), Some(&failed));
        assert_eq!(t.lookup(Some(&CallId::from("c2")), "+1555"), Some(&busy));
        assert_eq!(t.lookup(None, "+1666"), Some(&FarEnd::default()));
        t.clear();
        assert_eq!(t.lookup(None, "+1555"), None);
    }

    #[test]
    fn the_table_is_bounded_but_an_entry_may_be_replaced_when_full() {
        let mut t = FarEnds::default();
        for i in 0..MAX_FAR_ENDS {
            t.set(FarEndKey::Number(i.to_string()), FarEnd::default()).unwrap();
        }
        assert_eq!(
            t.set(FarEndKey::Number("new".into()), FarEnd::default()),
            Err(FarEndError::Full { max: MAX_FAR_ENDS })
        );
        let busy = FarEnd { answer: FarEndAnswer::Busy, ..FarEnd::default() };
        assert_eq!(t.set(FarEndKey::Number("7".into()), busy.clone()), Ok(()));
        assert_eq!(t.lookup(None, "7"), Some(&busy));
        assert_eq!(t.len(), MAX_FAR_ENDS);
    }
}
