//! [`SimulatedMedia`]: media that takes time but makes no sound.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::time::Duration;

use serde::Serialize;

use super::far_end::{FarEndAnswer, FarEnds};
use crate::engine::{CallId, Command, DialEvent, IdGen, Input, MediaId};
use crate::xml::{Document, SpeakNode, Verb};

/// How long simulated media takes (see [`SimulatedMedia`]'s timing rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaTiming {
    /// Speech per character.
    pub speak_per_char: Duration,
    /// Shortest speech.
    pub speak_min: Duration,
    /// Length of a played file without an entry in `play`.
    pub play_default: Duration,
    /// Lengths of particular files, by URL.
    pub play: HashMap<String, Duration>,
    /// How long the caller talks into a foreground recording before going silent.
    pub caller_talks: Duration,
}

impl Default for MediaTiming {
    fn default() -> Self {
        MediaTiming {
            speak_per_char: Duration::from_millis(60),
            speak_min: Duration::from_secs(1),
            play_default: Duration::from_secs(5),
            play: HashMap::new(),
            caller_talks: Duration::from_secs(5),
        }
    }
}

/// What the dialed party does when nobody scripts a `<Dial>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DialDefault {
    /// Answers after `after`, hangs up `talk` later.
    Answer {
        /// Ring time.
        after: Duration,
        /// Talk time.
        talk: Duration,
    },
    /// Busy at once.
    Busy,
    /// Never answers (the `<Dial timeout>` ends it; without one, no-answer after 30 s).
    NoAnswer,
    /// Fails at once.
    Failed,
    /// Nothing happens: the script drives every dial event.
    Scripted,
}

impl Default for DialDefault {
    fn default() -> Self {
        DialDefault::Answer { after: Duration::from_secs(5), talk: Duration::from_secs(30) }
    }
}

/// An input the simulated world owes a call.
#[derive(Debug, Clone)]
struct Pending {
    call: CallId,
    input: Input,
    /// The media operation it completes (so a stop cancels it).
    media: Option<MediaId>,
}

/// Media that takes time but makes no sound: each operation reports back after the time the
/// timing rule gives it.
///
/// # Timing rule
///
/// | media | lasts |
/// |---|---|
/// | `<Speak>` | 60 ms per character of its text (whitespace folded), at least 1 s, plus SSML `<break>`s, times `loop` |
/// | `<Play>` | [`MediaTiming::play_default`] (5 s) or the URL's entry in [`MediaTiming::play`], times `loop` |
/// | `loop="0"` | never ends (until the call does) |
/// | beep | 0.5 s per beep |
/// | tones (`<DTMF>`) | 0.25 s per key, `w` 0.5 s, `W` 1 s |
/// | foreground `<Record>` | the caller talks for [`MediaTiming::caller_talks`] (5 s), then the silence `timeout` ends it (or `maxLength`, or a key) |
/// | `<Dial>` | per [`DialDefault`]: by default answered after 5 s, callee hangs up 30 s later |
/// | `<Stream>` | until [`SimulatedMedia::end_stream`] (or the call's `streamTimeout`) |
///
/// Every duration is multiplied by the speed ([`SimulatedMedia::set_speed`]).
///
/// # Drive contract
///
/// [`SimulatedMedia::handle_command`] for every command of every call (in the order the
/// engine gave them), [`SimulatedMedia::call_ended`] when a call ends; then
/// [`SimulatedMedia::poll_input`] hands out, one at a time and in time order, the inputs due
/// by `now` (equal times in the order they were scheduled), and
/// [`SimulatedMedia::poll_timeout`] says when the next is due. Hand each input to its call
/// and carry out what that causes before polling the next: a command it causes may cancel
/// inputs that were due at the same time.
#[derive(Debug)]
pub struct SimulatedMedia {
    timing: MediaTiming,
    dial_default: DialDefault,
    /// Media durations are multiplied by this (0 = instant).
    speed: f64,
    seq: u64,
    queue: BinaryHeap<Reverse<(Duration, u64)>>,
    pending: HashMap<u64, Pending>,
    /// Pending completions by (call, media) → queue seq, so a stop cancels them.
    by_media: HashMap<(CallId, MediaId), u64>,
    /// Pending inputs by call, so one call's cancel or end looks at its own only.
    by_call: HashMap<CallId, Vec<u64>>,
    /// Running recordings by call: (media, start time).
    recordings: HashMap<CallId, Vec<(MediaId, Duration)>>,
    /// Running streams by call, oldest first.
    streams: HashMap<CallId, Vec<MediaId>>,
    /// Calls whose dial events come from a script: no [`DialDefault`] for them.
    scripted_dials: HashSet<CallId>,
    /// B-leg call ids.
    uuids: IdGen,
    /// Index entries looked at to find one call's pending inputs and recordings.
    visited: u64,
    /// What called parties do, when scripted (`/sim/FarEnd/`): before [`DialDefault`].
    far_ends: FarEnds,
}

impl SimulatedMedia {
    /// Media with the default timing rule and dial behaviour; B-leg ids derive from `seed`.
    pub fn new(seed: u64) -> Self {
        SimulatedMedia {
            timing: MediaTiming::default(),
            dial_default: DialDefault::default(),
            speed: 1.0,
            seq: 0,
            queue: BinaryHeap::new(),
            pending: HashMap::new(),
            by_media: HashMap::new(),
            by_call: HashMap::new(),
            recordings: HashMap::new(),
            streams: HashMap::new(),
            scripted_dials: HashSet::new(),
            uuids: IdGen::new(seed),
            visited: 0,
            far_ends: FarEnds::default(),
        }
    }

    /// The timing rule in force.
    pub fn timing_mut(&mut self) -> &mut MediaTiming {
        &mut self.timing
    }

    /// What dialed parties do when nothing is scripted.
    pub fn set_dial_default(&mut self, d: DialDefault) {
        self.dial_default = d;
    }

    /// The far-end table: what called parties do (before [`DialDefault`] for `<Dial>`).
    pub fn far_ends(&self) -> &FarEnds {
        &self.far_ends
    }

    /// The far-end table, to script called parties.
    pub fn far_ends_mut(&mut self) -> &mut FarEnds {
        &mut self.far_ends
    }

    /// `d` at the media's speed ([`SimulatedMedia::set_speed`]).
    pub fn at_speed(&self, d: Duration) -> Duration {
        self.scaled(d)
    }

    /// Multiplies every media duration by `factor` (1 = the timing rule, 0 = instant).
    /// Negative or non-finite factors count as 1.
    pub fn set_speed(&mut self, factor: f64) {
        self.speed = if factor.is_finite() && factor >= 0.0 { factor } else { 1.0 };
    }

    /// Index entries looked at so far to find one call's pending inputs and recordings; grows
    /// with each call's own pending work, never with the number of calls.
    pub fn visited(&self) -> u64 {
        self.visited
    }

    /// When the next input is due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.queue.peek().map(|Reverse((t, _))| *t)
    }

    /// The next input due by `now`, with its call; `None` when nothing is due.
    #[must_use]
    pub fn poll_input(&mut self, now: Duration) -> Option<(CallId, Input)> {
        while let Some(&Reverse((t, seq))) = self.queue.peek() {
            if t > now {
                return None;
            }
            self.queue.pop();
            let Some(p) = self.take(seq) else { continue };
            if let Input::RecordingFinished { media, .. } = &p.input {
                self.take_recording(&p.call, *media);
            }
            return Some((p.call, p.input));
        }
        None
    }

    /// Schedules `input` to `call` at `at`, in order with the media's own inputs: an input of
    /// the simulated world that is not media (a canned document's reply, say).
    pub fn schedule_input(&mut self, at: Duration, call: &CallId, input: Input) {
        self.schedule(at, call, input, None);
    }

    /// Carries out one command of `call`.
    pub fn handle_command(&mut self, now: Duration, call: &CallId, command: &Command) {
        match command {
            Command::Speak { media, speak } => {
                let len = match speak.speak() {
                    Some(s) => self.speak_len(&s.text(), &s.content, s.loop_),
                    None => self.speak_len("", &[], 1),
                };
                self.finish_after(now, call, *media, len);
            }
            Command::Play { media, play } => {
                let len = match play.play() {
                    Some(p) => self.play_len(p.url.as_ref().map_or("", |u| u.as_str()), p.loop_),
                    None => self.play_len("", 1),
                };
                self.finish_after(now, call, *media, len);
            }
            Command::Beep { media, count } => {
                self.finish_after(now, call, *media, Some(Duration::from_millis(500) * u32::from(*count)));
            }
            Command::PlaySounds { media, sounds, looped, .. } => {
                let len = if *looped { None } else { Some(self.sounds_len(sounds)) };
                self.finish_after(now, call, *media, len);
            }
            Command::SendDigits { media, digits, .. } => {
                let len: Duration = digits
                    .chars()
                    .map(|c| match c {
                        'w' => Duration::from_millis(500),
                        'W' => Duration::from_secs(1),
                        _ => Duration::from_millis(250),
                    })
                    .sum();
                self.finish_after(now, call, *media, Some(len));
            }
            Command::StopMedia(m) => self.cancel_media(call, *m),
            Command::StartRecording { media, max_length, silence_timeout, .. } => {
                self.recordings.entry(call.clone()).or_default().push((*media, now));
                if let (Some(max), Some(silence)) = (max_length, silence_timeout) {
                    let talks = self.scaled(self.timing.caller_talks);
                    let natural = (talks + self.scaled(*silence)).min(*max + Duration::from_millis(1));
                    if natural <= *max {
                        let ms = u64::try_from(talks.as_millis()).unwrap_or(u64::MAX);
                        let input = Input::RecordingFinished { media: *media, duration_ms: ms };
                        self.schedule(now + natural, call, input, Some(*media));
                    }
                }
            }
            Command::StopRecording(m) => {
                self.cancel_media(call, *m);
                if let Some(start) = self.take_recording(call, *m) {
                    let ms = u64::try_from(now.saturating_sub(start).as_millis()).unwrap_or(u64::MAX);
                    self.schedule(now, call, Input::RecordingFinished { media: *m, duration_ms: ms }, None);
                }
            }
            Command::Dial { dial, .. } => {
                if !self.scripted_dials.contains(call) {
                    let to = dial.targets.first().map_or(String::new(), |t| match t {
                        crate::xml::DialTarget::Number(n) => {
                            n.number.as_ref().map_or(String::new(), |x| x.as_str().to_owned())
                        }
                        crate::xml::DialTarget::User(u) => {
                            u.uri.as_ref().map_or(String::new(), |x| x.as_str().to_owned())
                        }
                    });
                    self.dial_default(now, call, to, dial.timeout.is_some());
                }
            }
            Command::CancelDial(_) | Command::HangupCallee(_) => self.cancel(call, |i| matches!(i, Input::Dial(_))),
            Command::StartStream { media, .. } => self.streams.entry(call.clone()).or_default().push(*media),
            Command::StopStream(m) => {
                // A stopped stream can no longer be ended by the far end.
                if let Some(v) = self.streams.get_mut(call) {
                    v.retain(|x| x != m);
                }
            }
            Command::Answer
            | Command::PreAnswer
            | Command::StartCollect { .. }
            | Command::StopCollect(_)
            | Command::JoinConference { .. }
            | Command::LeaveConference { .. }
            | Command::RoomSound { .. }
            | Command::SendMessage { .. }
            | Command::Hangup { .. } => {}
        }
    }

    /// `call` has ended: nothing of it is pending any more, but its recordings' files.
    pub fn call_ended(&mut self, call: &CallId) {
        self.cancel(call, |input| !matches!(input, Input::RecordingFinished { .. }));
    }

    /// True while an input to `call` is still due (a late recording).
    pub fn has_pending(&self, call: &CallId) -> bool {
        self.by_call.contains_key(call)
    }

    /// Forgets everything of an ended call.
    pub fn forget(&mut self, call: &CallId) {
        self.streams.remove(call);
        self.recordings.remove(call);
        self.scripted_dials.remove(call);
        self.far_ends.forget_call(call);
    }

    /// From now on `call`'s dial events come from a script: no [`DialDefault`] starts for its
    /// `<Dial>`s.
    pub fn script_dials(&mut self, call: &CallId) {
        self.scripted_dials.insert(call.clone());
    }

    /// Drops the default dial events still due to `call` (a scripted one has come instead).
    pub fn drop_dial_events(&mut self, call: &CallId) {
        self.cancel(call, |input| matches!(input, Input::Dial(_)));
    }

    /// Ends `call`'s latest running recording now: returns the input to hand to the call (the
    /// recording, `duration_ms` long), or `None` when no recording is running.
    pub fn finish_recording(&mut self, call: &CallId, duration_ms: u64) -> Option<Input> {
        let media = self.recordings.get(call)?.iter().map(|(m, _)| *m).max()?;
        self.take_recording(call, media);
        self.cancel_media(call, media);
        Some(Input::RecordingFinished { media, duration_ms })
    }

    /// The far end closes `call`'s latest running stream: returns the input to hand to the
    /// call, or `None` when no stream is running.
    pub fn end_stream(&mut self, call: &CallId) -> Option<Input> {
        let media = self.streams.get_mut(call)?.pop()?;
        Some(Input::StreamEnded(media))
    }

    fn schedule(&mut self, at: Duration, call: &CallId, input: Input, media: Option<MediaId>) -> u64 {
        self.seq += 1;
        let seq = self.seq;
        self.queue.push(Reverse((at, seq)));
        self.by_call.entry(call.clone()).or_default().push(seq);
        if let Some(m) = media {
            self.by_media.insert((call.clone(), m), seq);
        }
        self.pending.insert(seq, Pending { call: call.clone(), input, media });
        seq
    }

    /// Removes a pending input and its index entries.
    fn take(&mut self, seq: u64) -> Option<Pending> {
        let p = self.pending.remove(&seq)?;
        if let Some(seqs) = self.by_call.get_mut(&p.call) {
            self.visited += seqs.len() as u64;
            if let Some(i) = seqs.iter().position(|&s| s == seq) {
                seqs.swap_remove(i);
            }
            if seqs.is_empty() {
                self.by_call.remove(&p.call);
            }
        }
        if let Some(m) = p.media {
            let key = (p.call.clone(), m);
            if self.by_media.get(&key) == Some(&seq) {
                self.by_media.remove(&key);
            }
        }
        Some(p)
    }

    fn cancel_media(&mut self, call: &CallId, media: MediaId) {
        if let Some(seq) = self.by_media.remove(&(call.clone(), media)) {
            self.take(seq);
        }
    }

    /// Drops the pending inputs to `call` that `which` selects.
    fn cancel(&mut self, call: &CallId, which: impl Fn(&Input) -> bool) {
        let Some(seqs) = self.by_call.get(call) else { return };
        let chosen: Vec<u64> =
            seqs.iter().copied().filter(|seq| self.pending.get(seq).is_some_and(|p| which(&p.input))).collect();
        self.visited += seqs.len() as u64;
        for seq in chosen {
            self.take(seq);
        }
    }

    /// Forgets the running recording `media` of `call`; returns when it started.
    fn take_recording(&mut self, call: &CallId, media: MediaId) -> Option<Duration> {
        let recs = self.recordings.get_mut(call)?;
        self.visited += recs.len() as u64;
        let i = recs.iter().position(|(m, _)| *m == media)?;
        let (_, started) = recs.swap_remove(i);
        if recs.is_empty() {
            self.recordings.remove(call);
        }
        Some(started)
    }

    fn dial_default(&mut self, now: Duration, call: &CallId, to: String, has_timeout: bool) {
        if let Some(far) = self.far_ends.lookup(Some(call), &to).cloned() {
            match far.answer {
                FarEndAnswer::Answer => {
                    let after = self.scaled(far.answer_after);
                    let b_leg = CallId::from(self.uuids.uuid());
                    self.schedule(now + after, call, Input::Dial(DialEvent::Answered { b_leg, to }), None);
                    if let Some(keys) = far.digits {
                        let at = now + after + self.scaled(far.digits_after);
                        self.schedule(at, call, Input::Dial(DialEvent::CalleeDigits(keys)), None);
                    }
                    let talk = self.scaled(far.talk.unwrap_or(Duration::from_secs(30)));
                    self.schedule(now + after + talk, call, Input::Dial(DialEvent::CalleeHangup), None);
                }
                FarEndAnswer::Busy => {
                    self.schedule(now, call, Input::Dial(DialEvent::Busy), None);
                }
                FarEndAnswer::Failed => {
                    self.schedule(now, call, Input::Dial(DialEvent::Failed), None);
                }
                FarEndAnswer::NoAnswer => {
                    if !has_timeout {
                        let ring = self.scaled(Duration::from_secs(30));
                        self.schedule(now + ring, call, Input::Dial(DialEvent::NoAnswer), None);
                    }
                }
            }
            return;
        }
        match self.dial_default {
            DialDefault::Answer { after, talk } => {
                let (after, talk) = (self.scaled(after), self.scaled(talk));
                let b_leg = CallId::from(self.uuids.uuid());
                self.schedule(now + after, call, Input::Dial(DialEvent::Answered { b_leg, to }), None);
                self.schedule(now + after + talk, call, Input::Dial(DialEvent::CalleeHangup), None);
            }
            DialDefault::Busy => {
                self.schedule(now, call, Input::Dial(DialEvent::Busy), None);
            }
            DialDefault::Failed => {
                self.schedule(now, call, Input::Dial(DialEvent::Failed), None);
            }
            DialDefault::NoAnswer => {
                if !has_timeout {
                    let ring = self.scaled(Duration::from_secs(30));
                    self.schedule(now + ring, call, Input::Dial(DialEvent::NoAnswer), None);
                }
            }
            DialDefault::Scripted => {}
        }
    }

    /// A media duration at the media's speed.
    fn scaled(&self, d: Duration) -> Duration {
        if self.speed == 1.0 { d } else { d.mul_f64(self.speed) }
    }

    /// Schedules `media`'s completion `after` from now (at the speed); `None`: never.
    fn finish_after(&mut self, now: Duration, call: &CallId, media: MediaId, after: Option<Duration>) {
        if let Some(d) = after.map(|d| self.scaled(d)) {
            self.schedule(now + d, call, Input::MediaFinished(media), Some(media));
        }
    }

    /// How long `text` (whitespace folded) with its SSML `content` is spoken, `loops` times;
    /// `None` for ever (`loop="0"`).
    fn speak_len(&self, text: &str, content: &[SpeakNode], loops: u32) -> Option<Duration> {
        if loops == 0 {
            return None;
        }
        let chars = text.split_whitespace().map(|w| w.chars().count() + 1).sum::<usize>().saturating_sub(1);
        let n = u32::try_from(chars).unwrap_or(u32::MAX);
        let once =
            self.timing.speak_per_char.saturating_mul(n).max(self.timing.speak_min).saturating_add(pauses(content));
        Some(once.saturating_mul(loops))
    }

    fn play_len(&self, url: &str, loops: u32) -> Option<Duration> {
        if loops == 0 {
            return None;
        }
        Some(self.timing.play.get(url).copied().unwrap_or(self.timing.play_default) * loops)
    }

    fn sounds_len(&self, doc: &Document) -> Duration {
        doc.verbs
            .iter()
            .map(|v| match v {
                Verb::Speak(s) => self.speak_len(&s.text(), &s.content, s.loop_.max(1)).unwrap_or_default(),
                Verb::Play(p) => {
                    self.play_len(p.url.as_ref().map_or("", |u| u.as_str()), p.loop_.max(1)).unwrap_or_default()
                }
                Verb::Wait(w) => Duration::from_secs(u64::from(w.length)),
                _ => Duration::ZERO,
            })
            .sum()
    }
}

/// The silence SSML `<break>`s add to speech: `time` as written (`500ms`, `2s`, `1.5s`), or
/// by `strength`: none 0, x-weak 0.1 s, weak 0.25 s, medium (and a bare `<break/>`) 0.5 s,
/// strong 1 s, x-strong 2 s.
fn pauses(nodes: &[SpeakNode]) -> Duration {
    use crate::xml::Ssml;
    use crate::xml::values::BreakStrength as B;
    nodes
        .iter()
        .map(|n| match n {
            SpeakNode::Text(_) => Duration::ZERO,
            SpeakNode::Ssml(Ssml::Break(b)) => {
                if let Some(t) = &b.time {
                    let t = t.as_str();
                    let (num, scale) = match t.strip_suffix("ms") {
                        Some(ms) => (ms, 0.001),
                        None => (t.strip_suffix('s').unwrap_or(t), 1.0),
                    };
                    num.parse::<f64>()
                        .ok()
                        .map(|n| n * scale)
                        .filter(|secs| secs.is_finite() && (0.0..=86_400.0).contains(secs))
                        .map_or(Duration::ZERO, Duration::from_secs_f64)
                } else {
                    Duration::from_millis(match b.strength {
                        Some(B::None) => 0,
                        Some(B::XWeak) => 100,
                        Some(B::Weak) => 250,
                        Some(B::Medium) | None => 500,
                        Some(B::Strong) => 1000,
                        Some(B::XStrong) => 2000,
                    })
                }
            }
            SpeakNode::Ssml(s) => pauses(s.content()),
        })
        .fold(Duration::ZERO, Duration::saturating_add)
}

impl super::Media for SimulatedMedia {
    fn handle_command(&mut self, now: Duration, call: &CallId, command: &Command) {
        SimulatedMedia::handle_command(self, now, call, command);
    }

    fn call_ended(&mut self, call: &CallId) {
        SimulatedMedia::call_ended(self, call);
    }

    fn has_pending(&self, call: &CallId) -> bool {
        SimulatedMedia::has_pending(self, call)
    }

    fn forget(&mut self, call: &CallId) {
        SimulatedMedia::forget(self, call);
    }

    fn poll_timeout(&self) -> Option<Duration> {
        SimulatedMedia::poll_timeout(self)
    }

    fn poll_input(&mut self, now: Duration) -> Option<(CallId, Input)> {
        SimulatedMedia::poll_input(self, now)
    }
}
