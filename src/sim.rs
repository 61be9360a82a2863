//! [`Simulation`]: runs calls offline in virtual time, with canned documents and scripted
//! events, and records a transcript.
//!
//! Time jumps from one happening to the next, so an hour-long conference replays in
//! milliseconds, and every run of the same script prints the same transcript (ids come from a
//! seeded generator).
//!
//! # Media timing rule
//!
//! | media | lasts |
//! |---|---|
//! | `<Speak>` | 60 ms per character of its text (whitespace folded), at least 1 s, plus SSML `<break>`s, times `loop` |
//! | `<Play>` | [`MediaTiming::play_default`] (5 s) or the URL's entry in [`MediaTiming::play`], times `loop` |
//! | `loop="0"` | never ends (until the call does) |
//! | beep | 0.5 s per beep |
//! | tones (`<DTMF>`) | 0.25 s per key, `w` 0.5 s, `W` 1 s |
//! | foreground `<Record>` | the caller talks for [`MediaTiming::caller_talks`] (5 s), then the silence `timeout` ends it (or `maxLength`, or a key) |
//! | `<Dial>` | per [`DialDefault`]: by default answered after 5 s, callee hangs up 30 s later |
//! | `<Stream>` | until [`At::end_stream`] or its `streamTimeout` (at most 24 h) |
//!
//! ```
//! use std::time::Duration;
//! use plivo_flow::sim::Simulation;
//!
//! let mut sim = Simulation::new();
//! sim.serve("https://app.example/answer", r#"<Response>
//!   <Conference enterSound="beep:1">MyConference</Conference>
//!   <Speak>Good bye. You have been kicked out of the conference</Speak>
//! </Response>"#);
//! sim.start_call("alice", "https://app.example/answer");
//! sim.start_call("bob", "https://app.example/answer");
//! sim.at(Duration::from_secs(60)).kick("MyConference", "1");
//! sim.run();
//! let text = sim.transcript_text();
//! assert!(text.contains("alice  left room MyConference as member 1: kicked"));
//! assert!(text.contains("alice  spoke \"Good bye. You have been kicked out of the conference\""));
//! assert!(text.contains("alice  hung up: 4010 End Of XML Instructions"));
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::engine::{
    CallEvent, CallId, CallSetup, Command, DialEvent, Direction, Engine, EngineConfig, EngineOutput, FetchReply,
    HttpRequest, IdGen, Input, MediaId, Output, Reply, RoomSound,
};
use crate::engine::{ConferenceError, EndReason, MemberMedia, MemberTarget, RecordSpec, RoomEvent};
use crate::xml::{Document, Verb};

/// The account every simulated call and room belongs to.
pub const ACCOUNT: &str = "MAXXXXXXXXXXXXXXXXXX";

/// How long simulated media takes (see the module docs).
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

/// What the dialed party does when the script says nothing about a `<Dial>`.
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

/// What a URL serves.
#[derive(Debug, Clone)]
pub enum Served {
    /// This body (parsed by the call; may be invalid on purpose).
    Body(String),
    /// The request fails with this reason.
    Fail(String),
}

/// A REST operation on rooms, scripted at a virtual time.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoomOp {
    /// Kick members.
    Kick {
        /// Room.
        room: String,
        /// `all`, an id or a list.
        target: String,
    },
    /// Mute (`on`) or unmute.
    Mute {
        /// Room.
        room: String,
        /// Members.
        target: String,
        /// Mute or unmute.
        on: bool,
    },
    /// Deaf (`on`) or undeaf.
    Deaf {
        /// Room.
        room: String,
        /// Members.
        target: String,
        /// Deaf or undeaf.
        on: bool,
    },
    /// MultiPartyCall participant hold (`on`) or unhold (Plivo MPC "Update participant
    /// state", `hold`).
    Hold {
        /// The MPC's friendly name.
        room: String,
        /// Members.
        target: String,
        /// Hold or unhold.
        on: bool,
    },
    /// Play, stop play, speak or stop speak to members.
    Media {
        /// Room.
        room: String,
        /// Members.
        target: String,
        /// What.
        media: MemberMedia,
    },
    /// Hang up members' calls.
    HangupMember {
        /// Room.
        room: String,
        /// Members.
        target: String,
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

#[derive(Debug, Clone)]
enum Action {
    Start {
        name: String,
        setup: CallSetup,
    },
    Input {
        call: String,
        input: Input,
    },
    /// An input to a call by id, created by the simulation itself (media, fetch replies).
    Internal {
        call: CallId,
        input: Input,
        tag: Option<(CallId, MediaId)>,
    },
    Room(RoomOp),
    /// The call's latest recording ends with this length.
    FinishRecording {
        call: String,
        duration_ms: u64,
    },
    /// The call's latest stream ends.
    EndStream {
        call: String,
    },
}

/// One transcript line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// Virtual time in milliseconds.
    pub at_ms: u64,
    /// The call's name, `room NAME`, or `api`.
    pub who: String,
    /// A stable kind, e.g. `spoke`, `request`, `joined`, `left`, `hangup`.
    pub kind: &'static str,
    /// The readable text.
    pub text: String,
    /// Request parameters (for `request` lines).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<(String, String)>,
    /// Rendered diagnostics (for `invalid-document` lines), rustc style.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<String>,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.at_ms / 1000;
        if s >= 3600 {
            write!(f, "{}:{:02}:{:02}.{:03} ", s / 3600, s / 60 % 60, s % 60, self.at_ms % 1000)?;
        } else {
            write!(f, "{:02}:{:02}.{:03} ", s / 60, s % 60, self.at_ms % 1000)?;
        }
        write!(f, "{}  {}", self.who, self.text)?;
        for d in &self.diagnostics {
            write!(f, "\n{}", d.trim_end())?;
        }
        Ok(())
    }
}

/// Most steps one [`Simulation::run_until`] takes by default.
pub const DEFAULT_STEP_LIMIT: u64 = 10_000_000;

/// Parameters every request carries; transcripts leave them out.
const STD_PARAMS: &[&str] = &["CallUUID", "From", "To", "CallStatus", "Direction", "CallerName", "ALegUUID"];

/// Calls, rooms, canned documents and a script, run in virtual time.
#[derive(Debug)]
pub struct Simulation {
    engine: Engine,
    now: Duration,
    seq: u64,
    queue: BinaryHeap<Reverse<(Duration, u64)>>,
    actions: HashMap<u64, Action>,
    /// Pending media completions by (call, media) → queue seq, so a stop cancels them.
    media: HashMap<(CallId, MediaId), u64>,
    /// The simulation's own pending inputs ([`Action::Internal`]) by call, so one call's
    /// cancel or end looks at its own actions only.
    by_call: HashMap<CallId, Vec<u64>>,
    /// Running recordings by call: (media, start time).
    recordings: HashMap<CallId, Vec<(MediaId, Duration)>>,
    served: HashMap<String, Served>,
    /// What a URL that is not served gets (none: the request fails).
    fallback: Option<Served>,
    /// Display names of served documents (file paths), for diagnostics.
    served_names: HashMap<String, String>,
    streams: HashMap<CallId, Vec<MediaId>>,
    /// MultiPartyCall hold music playing, by call and media: the one looping sound whose stop
    /// the transcript shows (unhold, leaving or hanging up while held).
    hold_music: HashMap<(CallId, MediaId), &'static str>,
    names: HashMap<CallId, String>,
    ids: HashMap<String, CallId>,
    scripted_dials: HashSet<String>,
    uuids: IdGen,
    timing: MediaTiming,
    dial_default: DialDefault,
    lines: Vec<Line>,
    requests: Vec<(Duration, String, HttpRequest)>,
    /// Rendered diagnostics of invalid fetched documents, for the CLI.
    diagnostics: Vec<String>,
    /// Most steps one [`Simulation::run_until`] takes (a guard against a loop that never
    /// ends, not a budget for the simulation's life).
    step_limit: u64,
    /// The account calls and rooms belong to.
    account: String,
    /// Media durations are multiplied by this (0 = instant).
    speed: f64,
    /// Live mode: requests go to `outbox` for the driver to send, replies come back through
    /// [`Simulation::deliver`].
    external: bool,
    outbox: Vec<(Option<CallId>, HttpRequest)>,
    /// Calls that ended and are not forgotten yet (live mode).
    ended: Vec<CallId>,
    stats: SimStats,
}

/// Work counters of a [`Simulation`], for checking that its cost per call stays flat as
/// traffic grows (see [`Simulation::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SimStats {
    /// Steps taken: queued happenings applied and engine timer firings.
    pub steps: u64,
    /// Index entries looked at to find one call's pending actions and recordings (cancels,
    /// ends, stops). Grows with each call's own pending work, never with the number of calls.
    pub visited: u64,
}

/// What a room operation did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpResult {
    /// The member ids it applied to, ascending.
    pub members: Vec<u32>,
    /// The names of the rooms it ended (`EndAll`).
    pub rooms: Vec<String>,
    /// The recording it started or stopped.
    pub recording: Option<crate::engine::RecordingInfo>,
}

impl Default for Simulation {
    fn default() -> Self {
        Self::new()
    }
}

fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) { format!("{} s", ms / 1000) } else { format!("{:.1} s", ms as f64 / 1000.0) }
}

impl Simulation {
    /// A simulation with the default timing and seed.
    pub fn new() -> Self {
        Self::with_seed(1)
    }

    /// A simulation whose ids derive from `seed`.
    pub fn with_seed(seed: u64) -> Self {
        let mut config = EngineConfig::default();
        config.call.seed = seed;
        config.rooms.seed = seed.wrapping_add(1);
        Simulation {
            engine: Engine::new(config),
            now: Duration::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            actions: HashMap::new(),
            media: HashMap::new(),
            by_call: HashMap::new(),
            recordings: HashMap::new(),
            served: HashMap::new(),
            served_names: HashMap::new(),
            fallback: None,
            streams: HashMap::new(),
            hold_music: HashMap::new(),
            names: HashMap::new(),
            ids: HashMap::new(),
            scripted_dials: HashSet::new(),
            uuids: IdGen::new(seed.wrapping_add(2)),
            timing: MediaTiming::default(),
            dial_default: DialDefault::default(),
            lines: Vec::new(),
            requests: Vec::new(),
            diagnostics: Vec::new(),
            step_limit: DEFAULT_STEP_LIMIT,
            account: ACCOUNT.to_owned(),
            speed: 1.0,
            external: false,
            outbox: Vec::new(),
            ended: Vec::new(),
            stats: SimStats::default(),
        }
    }

    /// The media timing rule in force.
    pub fn timing_mut(&mut self) -> &mut MediaTiming {
        &mut self.timing
    }

    /// The text `<Record transcriptionUrl>` requests carry as `transcription` for calls started
    /// from now on (default [`crate::engine::DEFAULT_TRANSCRIPTION`]).
    pub fn set_transcription_text(&mut self, text: &str) {
        self.engine.call_config_mut().transcription_text = text.to_owned();
    }

    /// What dialed parties do when the script is silent.
    pub fn set_dial_default(&mut self, d: DialDefault) {
        self.dial_default = d;
    }

    /// Serves `xml` at `url` (any method). A URL that is not served fails.
    pub fn serve(&mut self, url: &str, xml: &str) {
        self.served.insert(strip_fragment(url).to_owned(), Served::Body(xml.to_owned()));
    }

    /// Serves `xml` at `url`, naming it `name` (e.g. its file path) in diagnostics.
    pub fn serve_named(&mut self, url: &str, name: &str, xml: &str) {
        self.serve(url, xml);
        self.served_names.insert(strip_fragment(url).to_owned(), name.to_owned());
    }

    /// Serves `xml` at every URL not served otherwise (by default such requests fail), e.g.
    /// `<Response><Hangup/></Response>` to replay a document whose action URLs are unknown.
    pub fn serve_fallback(&mut self, xml: &str) {
        self.fallback = Some(Served::Body(xml.to_owned()));
    }

    /// Makes requests to `url` fail with `reason`.
    pub fn serve_failure(&mut self, url: &str, reason: &str) {
        self.served.insert(strip_fragment(url).to_owned(), Served::Fail(reason.to_owned()));
    }

    /// Starts an inbound call named `name` now.
    pub fn start_call(&mut self, name: &str, answer_url: &str) {
        let setup = self.setup(name, answer_url, Direction::Inbound);
        self.schedule(self.now, Action::Start { name: name.to_owned(), setup });
    }

    /// Starts a call at a time.
    pub fn start_call_with(&mut self, at: Duration, name: &str, mut setup: CallSetup) {
        setup.id = self.ids.get(name).cloned().unwrap_or_else(|| CallId::from(self.uuids.uuid()));
        setup.account = self.account.clone();
        self.ids.insert(name.to_owned(), setup.id.clone());
        self.names.insert(setup.id.clone(), name.to_owned());
        self.schedule(at, Action::Start { name: name.to_owned(), setup });
    }

    /// A call setup with a fresh id for `name`, numbers derived from the name.
    pub fn setup(&mut self, name: &str, answer_url: &str, direction: Direction) -> CallSetup {
        let id = self.ids.get(name).cloned().unwrap_or_else(|| CallId::from(self.uuids.uuid()));
        self.ids.insert(name.to_owned(), id.clone());
        self.names.insert(id.clone(), name.to_owned());
        let n = self.ids.len();
        let mut setup = CallSetup::inbound(id.as_str(), &format!("+1555000{n:04}"), "+15559990000", answer_url);
        setup.direction = direction;
        setup.account = self.account.clone();
        setup
    }

    /// Schedules scripted events at `at`.
    pub fn at(&mut self, at: Duration) -> At<'_> {
        At { sim: self, at }
    }

    fn schedule(&mut self, at: Duration, action: Action) -> u64 {
        self.seq += 1;
        let seq = self.seq;
        self.queue.push(Reverse((at, seq)));
        if let Action::Internal { call, .. } = &action {
            self.by_call.entry(call.clone()).or_default().push(seq);
        }
        self.actions.insert(seq, action);
        seq
    }

    /// Removes a pending action (and its entries in the per-call and media indexes).
    fn take_action(&mut self, seq: u64) -> Option<Action> {
        let action = self.actions.remove(&seq)?;
        if let Action::Internal { call, tag, .. } = &action {
            if let Some(seqs) = self.by_call.get_mut(call) {
                self.stats.visited += seqs.len() as u64;
                if let Some(i) = seqs.iter().position(|&s| s == seq) {
                    seqs.swap_remove(i);
                }
                if seqs.is_empty() {
                    self.by_call.remove(call);
                }
            }
            if let Some(tag) = tag
                && self.media.get(tag) == Some(&seq)
            {
                self.media.remove(tag);
            }
        }
        Some(action)
    }

    /// Forgets the running recording `media` of `call`; returns when it started.
    fn take_recording(&mut self, call: &CallId, media: MediaId) -> Option<Duration> {
        let recs = self.recordings.get_mut(call)?;
        self.stats.visited += recs.len() as u64;
        let i = recs.iter().position(|(m, _)| *m == media)?;
        let (_, started) = recs.swap_remove(i);
        if recs.is_empty() {
            self.recordings.remove(call);
        }
        Some(started)
    }

    /// Virtual time now.
    pub fn now(&self) -> Duration {
        self.now
    }

    // ------------------------------------------------------------------ live mode

    /// Sets the account calls and rooms belong to (before any call starts).
    pub fn set_account(&mut self, account: &str) {
        self.account = account.to_owned();
    }

    /// The account calls and rooms belong to.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// Multiplies every media duration by `factor` (1 = the timing rule, 0 = instant).
    /// Negative or non-finite factors count as 1.
    pub fn set_speed(&mut self, factor: f64) {
        self.speed = if factor.is_finite() && factor >= 0.0 { factor } else { 1.0 };
    }

    /// Live mode: every request goes to [`Simulation::take_outbox`] instead of being answered
    /// from the served documents; replies come back through [`Simulation::deliver`].
    pub fn set_external_fetch(&mut self, on: bool) {
        self.external = on;
    }

    /// The requests issued since the last call (live mode), with the call that made them.
    pub fn take_outbox(&mut self) -> Vec<(Option<CallId>, HttpRequest)> {
        std::mem::take(&mut self.outbox)
    }

    /// Hands a reply to a request back to its call (live mode), at the current time.
    pub fn deliver(&mut self, call: &CallId, request: crate::engine::RequestId, reply: FetchReply) {
        self.schedule(
            self.now,
            Action::Internal { call: call.clone(), input: Input::Fetched { request, reply }, tag: None },
        );
    }

    /// When the next queued happening or engine timer is due.
    pub fn next_deadline(&self) -> Option<Duration> {
        let queued = self.queue.peek().map(|Reverse((t, _))| *t);
        match (queued, self.engine.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs everything due up to `now` and moves the clock there.
    ///
    /// When the step limit stops it first, the clock stays at the last happening it ran, so
    /// the next call goes on from there and nothing is run late.
    pub fn advance_to(&mut self, now: Duration) {
        if self.run_steps(now) {
            self.now = self.now.max(now);
        }
        self.drain();
    }

    /// Starts a call named `name` now and returns its id.
    ///
    /// # Errors
    /// [`EngineError::DuplicateCall`](crate::engine::EngineError::DuplicateCall) when a call with
    /// `setup.id` is still known (live, or ended and not forgotten yet); nothing changes then.
    pub fn start_call_now(&mut self, name: &str, mut setup: CallSetup) -> Result<CallId, crate::engine::EngineError> {
        if self.engine.call(&setup.id).is_some() {
            return Err(crate::engine::EngineError::DuplicateCall(setup.id));
        }
        setup.account = self.account.clone();
        self.ids.insert(name.to_owned(), setup.id.clone());
        self.names.insert(setup.id.clone(), name.to_owned());
        let id = setup.id.clone();
        self.apply(Action::Start { name: name.to_owned(), setup });
        self.drain();
        match self.engine.call(&id) {
            Some(_) => Ok(id),
            None => Err(crate::engine::EngineError::UnknownCall(id)),
        }
    }

    /// Hands `input` to a call now.
    pub fn input_now(&mut self, call: &CallId, input: Input) -> Result<(), crate::engine::EngineError> {
        if self.engine.call(call).is_none() {
            return Err(crate::engine::EngineError::UnknownCall(call.clone()));
        }
        let name = self.name(call);
        self.apply(Action::Input { call: name, input });
        self.drain();
        Ok(())
    }

    /// Takes the transcript lines written since the last call (live mode keeps no history).
    pub fn take_transcript(&mut self) -> Vec<Line> {
        std::mem::take(&mut self.lines)
    }

    /// Forgets calls that have ended (live mode), so memory does not grow with traffic, and
    /// returns what is left to know of them.
    ///
    /// Only calls that ended since the last call are looked at (the driver calls this after
    /// every step, so it must not scan every live call).
    pub fn forget_ended_calls(&mut self) -> Vec<(CallSetup, crate::engine::CallEnd)> {
        let mut gone = Vec::new();
        for id in std::mem::take(&mut self.ended) {
            let pending = self.by_call.contains_key(&id);
            if pending {
                // A late recording is still due: try again next time.
                self.ended.push(id);
                continue;
            }
            let record = self.engine.call(&id).and_then(|c| c.ended().map(|e| (c.setup().clone(), *e)));
            if self.engine.remove_call(&id) {
                gone.extend(record);
                if let Some(name) = self.names.remove(&id) {
                    self.ids.remove(&name);
                    self.scripted_dials.remove(&name);
                }
                self.streams.remove(&id);
                // Only calls still holding music have entries (a few): the scan is short.
                self.hold_music.retain(|(c, _), _| *c != id);
                self.recordings.remove(&id);
            }
        }
        gone
    }

    /// The engine, for operations the simulation does not wrap.
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// A fresh UUID from the simulation's generator.
    pub fn new_uuid(&mut self) -> String {
        self.uuids.uuid()
    }

    /// The engine (calls and rooms), for assertions.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The id of the call named `name`.
    pub fn call_id(&self, name: &str) -> Option<&CallId> {
        self.ids.get(name)
    }

    /// The transcript so far.
    pub fn transcript(&self) -> &[Line] {
        &self.lines
    }

    /// The transcript as text, one line per happening.
    pub fn transcript_text(&self) -> String {
        let mut s = String::new();
        for l in &self.lines {
            s.push_str(&l.to_string());
            s.push('\n');
        }
        s
    }

    /// Every request sent, with its time and the name of the call (or `room`).
    pub fn requests(&self) -> &[(Duration, String, HttpRequest)] {
        &self.requests
    }

    /// Work counters since the simulation was created.
    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// Rendered diagnostics of invalid documents the calls fetched (offline only: in live mode
    /// they are only on the transcript's `invalid-document` lines, which the driver takes).
    pub fn diagnostics(&self) -> &[String] {
        &self.diagnostics
    }

    /// Runs until nothing is left to happen (at most 48 virtual hours, or the step limit).
    pub fn run(&mut self) {
        self.run_until(self.now + Duration::from_secs(48 * 3600));
    }

    /// Sets the most steps (queued happenings and timer firings) one [`Simulation::run_until`]
    /// or [`Simulation::advance_to`] takes before it returns ([`DEFAULT_STEP_LIMIT`]); the
    /// count starts afresh on every call, so a long-lived simulation never runs out. At
    /// least 1.
    pub fn set_step_limit(&mut self, steps: u64) {
        self.step_limit = steps.max(1);
    }

    /// Runs every happening up to and including `limit`, or until this call has taken the
    /// step limit ([`Simulation::set_step_limit`]).
    pub fn run_until(&mut self, limit: Duration) {
        self.run_steps(limit);
    }

    /// [`Simulation::run_until`]; false when the step limit stopped it with happenings due.
    fn run_steps(&mut self, limit: Duration) -> bool {
        let mut steps: u64 = 0;
        loop {
            self.drain();
            steps += 1;
            if steps > self.step_limit {
                return self.next_deadline().is_none_or(|t| t > limit);
            }
            let queued = self.queue.peek().map(|Reverse((t, _))| *t);
            let timer = self.engine.poll_timeout();
            let next = match (queued, timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => return true,
                },
            };
            if next > limit {
                return true;
            }
            self.stats.steps += 1;
            self.now = self.now.max(next);
            if queued.is_some_and(|t| t <= next) {
                if let Some(Reverse((_, seq))) = self.queue.pop()
                    && let Some(action) = self.take_action(seq)
                {
                    self.apply(action);
                }
            } else {
                self.engine.handle_timeout(self.now);
            }
        }
    }

    fn line(&mut self, who: &str, kind: &'static str, text: String) {
        self.lines.push(Line {
            at_ms: self.now.as_millis() as u64,
            who: who.to_owned(),
            kind,
            text,
            params: Vec::new(),
            diagnostics: Vec::new(),
        });
    }

    fn name(&self, id: &CallId) -> String {
        self.names.get(id).cloned().unwrap_or_else(|| id.as_str().to_owned())
    }

    fn apply(&mut self, action: Action) {
        let now = self.now;
        match action {
            Action::Start { name, setup } => {
                let dir = setup.direction;
                let id = setup.id.clone();
                match self.engine.start_call(now, setup) {
                    Ok(_) => {
                        self.line(&name, "call", format!("{} call started", dir.as_str()));
                        if dir == Direction::Outbound {
                            let _ = self.engine.handle_input(now, &id, Input::Answered);
                        }
                    }
                    Err(e) => self.line(&name, "error", e.to_string()),
                }
            }
            Action::Input { call, input } => {
                let Some(id) = self.ids.get(&call).cloned() else {
                    self.line(&call, "error", format!("no call named {call}"));
                    return;
                };
                let text = describe_input(&input);
                // A call that has not started or has ended hears nothing: say so.
                let ignored = match self.engine.call(&id) {
                    None => Some("the call has not started"),
                    Some(c) if c.is_ended() => Some("the call has ended"),
                    Some(_) => None,
                };
                if let Some(why) = ignored {
                    if let Some(text) = text {
                        self.line(&call, "ignored", format!("{text} (ignored: {why})"));
                    }
                    return;
                }
                if let Some(text) = text {
                    self.line(&call, "input", text);
                }
                if let Input::Dial(_) = &input {
                    self.cancel_dial_defaults(&id);
                }
                let _ = self.engine.handle_input(now, &id, input);
            }
            Action::Internal { call, input, tag } => {
                if let Some(tag) = tag {
                    self.media.remove(&tag);
                }
                if let Input::RecordingFinished { media, .. } = &input {
                    self.take_recording(&call, *media);
                }
                // The dialed party's default behaviour shows like a scripted event.
                if let (Input::Dial(_), Some(text)) = (&input, describe_input(&input)) {
                    let name = self.name(&call);
                    self.line(&name, "input", text);
                }
                let _ = self.engine.handle_input(now, &call, input);
            }
            Action::Room(op) => self.room_op(op),
            Action::FinishRecording { call, duration_ms } => {
                let latest = self.ids.get(&call).and_then(|id| {
                    let recs = self.recordings.get(id)?;
                    recs.iter().map(|(m, _)| *m).max().map(|m| (id.clone(), m))
                });
                match latest {
                    Some((id, media)) => {
                        self.line(&call, "input", "recording finished".to_owned());
                        self.take_recording(&id, media);
                        if let Some(seq) = self.media.remove(&(id.clone(), media)) {
                            self.take_action(seq);
                        }
                        let _ = self.engine.handle_input(now, &id, Input::RecordingFinished { media, duration_ms });
                    }
                    None => self.line(&call, "error", "no recording is running".to_owned()),
                }
            }
            Action::EndStream { call } => {
                let latest = self
                    .ids
                    .get(&call)
                    .and_then(|id| self.streams.get_mut(id).and_then(Vec::pop).map(|m| (id.clone(), m)));
                match latest {
                    Some((id, media)) => {
                        self.line(&call, "input", "stream ended".to_owned());
                        let _ = self.engine.handle_input(now, &id, Input::StreamEnded(media));
                    }
                    None => self.line(&call, "error", "no stream is running".to_owned()),
                }
            }
        }
    }

    /// Applies a room operation now and says what it did.
    pub fn room_op_now(&mut self, op: RoomOp) -> Result<OpResult, ConferenceError> {
        let now = self.now;
        let account = self.account.clone();
        let acc = account.as_str();
        let text = describe_op(&op);
        let result: Result<OpResult, ConferenceError> = self.engine.conference(now, |rooms| {
            let target = |t: &str| t.parse::<MemberTarget>();
            let members = |v: Vec<u32>| OpResult { members: v, ..OpResult::default() };
            match &op {
                RoomOp::Kick { room, target: t } => rooms.kick(now, acc, room, &target(t)?).map(members),
                RoomOp::Mute { room, target: t, on } => rooms.set_muted(acc, room, &target(t)?, *on).map(members),
                RoomOp::Deaf { room, target: t, on } => rooms.set_deaf(acc, room, &target(t)?, *on).map(members),
                RoomOp::Hold { room, target: t, on } => rooms.set_hold(acc, room, &target(t)?, *on).map(members),
                RoomOp::Media { room, target: t, media } => {
                    rooms.member_media(acc, room, &target(t)?, media.clone()).map(members)
                }
                RoomOp::HangupMember { room, target: t } => {
                    rooms.hangup_members(now, acc, room, &target(t)?).map(members)
                }
                RoomOp::End { room } => rooms.end(now, acc, room).map(|()| OpResult::default()),
                RoomOp::EndAll => Ok(OpResult { rooms: rooms.end_all(now, acc), ..OpResult::default() }),
                RoomOp::StartRecording { room, spec } => rooms
                    .start_recording(now, acc, room, spec.clone())
                    .map(|r| OpResult { recording: Some(r), ..OpResult::default() }),
                RoomOp::StopRecording { room } => {
                    rooms.stop_recording(now, acc, room).map(|r| OpResult { recording: r, ..OpResult::default() })
                }
            }
        });
        // The events the operation caused wait in the engine's outputs: this line goes first.
        let ids = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let outcome = match (&result, &op) {
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
        };
        self.line("api", "api", format!("{text}: {outcome}"));
        result
    }

    fn room_op(&mut self, op: RoomOp) {
        let _ = self.room_op_now(op);
    }

    fn cancel_dial_defaults(&mut self, id: &CallId) {
        let name = self.name(id);
        self.scripted_dials.insert(name);
        self.cancel(id, |input| matches!(input, Input::Dial(_)));
    }

    /// Drops the simulation's own pending inputs to `call` that `which` selects.
    fn cancel(&mut self, call: &CallId, which: impl Fn(&Input) -> bool) {
        let Some(seqs) = self.by_call.get(call) else { return };
        let chosen: Vec<u64> = seqs
            .iter()
            .copied()
            .filter(|seq| matches!(self.actions.get(seq), Some(Action::Internal { input, .. }) if which(input)))
            .collect();
        self.stats.visited += seqs.len() as u64;
        for seq in chosen {
            self.take_action(seq);
        }
    }

    /// A media duration at the simulation's speed.
    fn scaled(&self, d: Duration) -> Duration {
        if self.speed == 1.0 { d } else { d.mul_f64(self.speed) }
    }

    fn schedule_media(&mut self, call: &CallId, media: MediaId, after: Option<Duration>) {
        if let Some(d) = after.map(|d| self.scaled(d)) {
            let at = self.now + d;
            let seq = self.schedule(
                at,
                Action::Internal {
                    call: call.clone(),
                    input: Input::MediaFinished(media),
                    tag: Some((call.clone(), media)),
                },
            );
            self.media.insert((call.clone(), media), seq);
        }
    }

    /// How long `text` (one line, as [`one_line`] folds it) with SSML `pauses` is spoken,
    /// `loops` times; `None` for ever (`loop="0"`).
    fn speak_len(&self, text: &str, pauses: Duration, loops: u32) -> Option<Duration> {
        if loops == 0 {
            return None;
        }
        let n = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
        let once = self.timing.speak_per_char.saturating_mul(n).max(self.timing.speak_min).saturating_add(pauses);
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
                Verb::Speak(s) => {
                    self.speak_len(&one_line(&s.text()), pauses(&s.content), s.loop_.max(1)).unwrap_or_default()
                }
                Verb::Play(p) => {
                    self.play_len(p.url.as_ref().map_or("", |u| u.as_str()), p.loop_.max(1)).unwrap_or_default()
                }
                Verb::Wait(w) => Duration::from_secs(u64::from(w.length)),
                _ => Duration::ZERO,
            })
            .sum()
    }

    fn drain(&mut self) {
        while let Some(out) = self.engine.poll_output() {
            match out {
                EngineOutput::Call { call, output } => self.call_output(call, output),
                EngineOutput::Room(ev) => self.room_event(ev),
                EngineOutput::Request(req) => self.request(None, req),
            }
        }
    }

    fn call_output(&mut self, call: CallId, output: Output) {
        let name = self.name(&call);
        match output {
            Output::Command(c) => self.command(&call, &name, c),
            Output::Request(req) => self.request(Some(&call), req),
            Output::Event(e) => match e {
                CallEvent::DocumentLoaded { verbs, .. } => self.line(
                    &name,
                    "document",
                    format!("got document ({verbs} verb{})", if verbs == 1 { "" } else { "s" }),
                ),
                CallEvent::VerbStarted { .. } => {}
                // Plain completions are implied by the next line; the others say how it ended.
                CallEvent::VerbFinished { outcome, .. } if outcome == "done" => {}
                CallEvent::VerbFinished { verb, outcome, .. } => {
                    self.line(&name, "verb", format!("<{verb}> {outcome}"))
                }
                CallEvent::FetchFailed { url, reason } => {
                    self.line(&name, "fetch-failed", format!("fetch of {url} failed: {reason}"))
                }
                CallEvent::InvalidDocument { url, diagnostics, body } => {
                    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
                    self.line(
                        &name,
                        "invalid-document",
                        format!("invalid document from {url}: {errors} error{}", if errors == 1 { "" } else { "s" }),
                    );
                    let file = self.served_names.get(strip_fragment(&url)).cloned().unwrap_or(url);
                    let idx = crate::diagnostic::LineIndex::new(&body);
                    let rendered: Vec<String> =
                        diagnostics.iter().map(|d| crate::diagnostic::render_with(&file, &idx, d)).collect();
                    // Live mode keeps no history: the line (taken by the driver) carries them.
                    if !self.external {
                        self.diagnostics.extend(rendered.iter().cloned());
                    }
                    if let Some(l) = self.lines.last_mut() {
                        l.diagnostics = rendered;
                    }
                }
                CallEvent::Ended { cause, source } => {
                    self.line(&name, "hangup", format!("hung up: {cause} ({source})"));
                    // Nothing of this call is pending any more, but late recordings.
                    self.cancel(&call, |input| !matches!(input, Input::RecordingFinished { .. }));
                    if self.external {
                        self.ended.push(call);
                    }
                }
            },
        }
    }

    fn command(&mut self, call: &CallId, name: &str, c: Command) {
        let now = self.now;
        match c {
            Command::Answer => self.line(name, "answered", "answered".to_owned()),
            Command::PreAnswer => self.line(name, "preanswered", "early media (pre-answer)".to_owned()),
            Command::Speak { media, speak } => {
                let (text, voice, lang, loops, pauses) = match speak.speak() {
                    Some(s) => {
                        (one_line(&s.text()), s.voice.to_string(), s.language.to_string(), s.loop_, pauses(&s.content))
                    }
                    None => (String::new(), String::new(), String::new(), 1, Duration::ZERO),
                };
                let extra = if loops == 1 {
                    String::new()
                } else if loops == 0 {
                    ", looping".to_owned()
                } else {
                    format!(", {loops} times")
                };
                self.line(name, "spoke", format!("spoke \"{text}\" ({voice}, {lang}{extra})"));
                let len = self.speak_len(&text, pauses, loops);
                self.schedule_media(call, media, len);
            }
            Command::Play { media, play } => {
                let (url, loops) = match play.play() {
                    Some(p) => (p.url.as_ref().map_or(String::new(), |u| u.as_str().to_owned()), p.loop_),
                    None => (String::new(), 1),
                };
                let extra = if loops == 1 {
                    String::new()
                } else if loops == 0 {
                    " (looping)".to_owned()
                } else {
                    format!(" ({loops} times)")
                };
                self.line(name, "played", format!("played {url}{extra}"));
                let len = self.play_len(&url, loops);
                self.schedule_media(call, media, len);
            }
            Command::Beep { media, count } => {
                self.line(name, "beep", if count == 1 { "beep".to_owned() } else { format!("beep ×{count}") });
                self.schedule_media(call, media, Some(Duration::from_millis(500) * u32::from(count)));
            }
            Command::PlaySounds { media, sounds, looped, what, .. } => {
                let items = describe_sounds(&sounds);
                self.line(name, "sounds", format!("playing {what}: {items}{}", if looped { " (looping)" } else { "" }));
                let len = if looped { None } else { Some(self.sounds_len(&sounds)) };
                if looped && what.ends_with("HoldMusic") {
                    self.hold_music.insert((call.clone(), media), what);
                }
                self.schedule_media(call, media, len);
            }
            Command::StopMedia(m) => {
                if let Some(what) = self.hold_music.remove(&(call.clone(), m)) {
                    self.line(name, "sounds", format!("stopped {what}"));
                }
                if let Some(seq) = self.media.remove(&(call.clone(), m)) {
                    self.take_action(seq);
                }
            }
            Command::SendDigits { media, digits } => {
                self.line(name, "dtmf", format!("sent tones {digits}"));
                let len: Duration = digits
                    .chars()
                    .map(|c| match c {
                        'w' => Duration::from_millis(500),
                        'W' => Duration::from_secs(1),
                        _ => Duration::from_millis(250),
                    })
                    .sum();
                self.schedule_media(call, media, Some(len));
            }
            Command::StartCollect { collect, .. } => {
                if collect.speech {
                    self.line(name, "listen", format!("listening for speech ({})", collect.language));
                }
            }
            Command::StopCollect(_) => {}
            Command::StartRecording { media, mode, format, max_length, silence_timeout, recording } => {
                self.line(
                    name,
                    "record",
                    format!("recording ({}, {}) to {}", format, record_mode(mode), recording.url),
                );
                self.recordings.entry(call.clone()).or_default().push((media, now));
                if let (Some(max), Some(silence)) = (max_length, silence_timeout) {
                    let talks = self.scaled(self.timing.caller_talks);
                    let natural = (talks + self.scaled(silence)).min(max + Duration::from_millis(1));
                    if natural <= max {
                        let ms = u64::try_from(talks.as_millis()).unwrap_or(u64::MAX);
                        let seq = self.schedule(
                            now + natural,
                            Action::Internal {
                                call: call.clone(),
                                input: Input::RecordingFinished { media, duration_ms: ms },
                                tag: Some((call.clone(), media)),
                            },
                        );
                        self.media.insert((call.clone(), media), seq);
                    }
                }
            }
            Command::StopRecording(m) => {
                if let Some(seq) = self.media.remove(&(call.clone(), m)) {
                    self.take_action(seq);
                }
                if let Some(start) = self.take_recording(call, m) {
                    let ms = u64::try_from(now.saturating_sub(start).as_millis()).unwrap_or(u64::MAX);
                    self.schedule(
                        now,
                        Action::Internal {
                            call: call.clone(),
                            input: Input::RecordingFinished { media: m, duration_ms: ms },
                            tag: None,
                        },
                    );
                }
            }
            Command::Dial { dial, .. } => {
                let targets: Vec<String> = dial
                    .targets
                    .iter()
                    .map(|t| match t {
                        crate::xml::DialTarget::Number(n) => {
                            n.number.as_ref().map_or(String::new(), |x| x.as_str().to_owned())
                        }
                        crate::xml::DialTarget::User(u) => {
                            u.uri.as_ref().map_or(String::new(), |x| x.as_str().to_owned())
                        }
                    })
                    .collect();
                self.line(name, "dial", format!("dialing {}", targets.join(", ")));
                if !self.scripted_dials.contains(name) {
                    self.dial_default(call, targets.first().cloned().unwrap_or_default(), dial.timeout.is_some());
                }
            }
            Command::CancelDial(_) => {
                self.line(name, "dial", "dial canceled".to_owned());
                self.cancel(call, |input| matches!(input, Input::Dial(_)));
            }
            Command::HangupCallee(_) => {
                self.line(name, "dial", "hung up the dialed party".to_owned());
                self.cancel(call, |input| matches!(input, Input::Dial(_)));
            }
            Command::JoinConference { .. } | Command::LeaveConference { .. } => {}
            Command::RoomSound { room, sound, what, .. } => {
                let text = match sound {
                    RoomSound::Beeps(1) => "beep".to_owned(),
                    RoomSound::Beeps(n) => format!("beep ×{n}"),
                    RoomSound::Sounds(doc) => describe_sounds(&doc),
                };
                self.line(&format!("room {room}"), "room-sound", format!("hears {text} ({what} of {name})"));
            }
            Command::SendMessage { dst, text, .. } => {
                self.line(name, "message", format!("sent SMS to {}: \"{}\"", dst.unwrap_or_default(), one_line(&text)))
            }
            Command::StartStream { stream, media } => {
                self.streams.entry(call.clone()).or_default().push(media);
                let url = stream.url.as_ref().map_or("", |u| u.as_str());
                self.line(name, "stream", format!("streaming {} audio to {url}", stream.audio_track));
            }
            Command::StopStream(m) => {
                // A stopped stream can no longer be ended by the script.
                if let Some(v) = self.streams.get_mut(call) {
                    v.retain(|x| *x != m);
                }
                self.line(name, "stream", "stream stopped".to_owned())
            }
            Command::Hangup { .. } => {}
        }
    }

    fn dial_default(&mut self, call: &CallId, to: String, has_timeout: bool) {
        let now = self.now;
        let internal = |input| Action::Internal { call: call.clone(), input, tag: None };
        match self.dial_default {
            DialDefault::Answer { after, talk } => {
                let (after, talk) = (self.scaled(after), self.scaled(talk));
                let b_leg = CallId::from(self.uuids.uuid());
                self.schedule(now + after, internal(Input::Dial(DialEvent::Answered { b_leg, to })));
                self.schedule(now + after + talk, internal(Input::Dial(DialEvent::CalleeHangup)));
            }
            DialDefault::Busy => {
                self.schedule(now, internal(Input::Dial(DialEvent::Busy)));
            }
            DialDefault::Failed => {
                self.schedule(now, internal(Input::Dial(DialEvent::Failed)));
            }
            DialDefault::NoAnswer => {
                if !has_timeout {
                    let ring = self.scaled(Duration::from_secs(30));
                    self.schedule(now + ring, internal(Input::Dial(DialEvent::NoAnswer)));
                }
            }
            DialDefault::Scripted => {}
        }
    }

    fn request(&mut self, call: Option<&CallId>, req: HttpRequest) {
        let who = call.map_or_else(|| "room".to_owned(), |c| self.name(c));
        let params: Vec<(String, String)> =
            req.params.iter().filter(|(k, _)| !STD_PARAMS.contains(&k.as_str())).cloned().collect();
        let shown: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let text = format!(
            "{} {} ({}){}{}",
            req.method,
            req.url,
            purpose_text(&req),
            if shown.is_empty() { "" } else { " " },
            shown.join(" ")
        );
        self.lines.push(Line {
            at_ms: self.now.as_millis() as u64,
            who: who.clone(),
            kind: "request",
            text,
            params,
            diagnostics: Vec::new(),
        });
        if self.external {
            // Live mode keeps no history: the driver logs and sends.
            self.outbox.push((call.cloned(), req));
            return;
        }
        self.requests.push((self.now, who.clone(), req.clone()));
        if req.reply == Reply::Ignore {
            return;
        }
        let Some(call) = call.cloned() else { return };
        let reply = match self.served.get(strip_fragment(&req.url)).or(self.fallback.as_ref()) {
            Some(Served::Body(b)) => FetchReply::Body(b.clone()),
            Some(Served::Fail(r)) => FetchReply::Failed(r.clone()),
            None => FetchReply::Failed("no document is served at this URL".to_owned()),
        };
        self.schedule(self.now, Action::Internal { call, input: Input::Fetched { request: req.id, reply }, tag: None });
    }

    fn room_event(&mut self, ev: RoomEvent) {
        match ev {
            RoomEvent::Joined { call, room, member_id, started, first, .. } => {
                let name = self.name(&call);
                let mut text = format!("joined room {room} as member {member_id}");
                if first {
                    text.push_str(" (first member)");
                }
                if !started {
                    text.push_str(", waiting for the room to start");
                }
                self.line(&name, "joined", text);
            }
            RoomEvent::Refused { call, room, max_members } => {
                let name = self.name(&call);
                self.line(&name, "refused", format!("could not join room {room}: full ({max_members} members)"));
            }
            RoomEvent::Started { call, room } => {
                let name = self.name(&call);
                self.line(&name, "started", format!("room {room} started"));
            }
            RoomEvent::Left { call, room, member_id, reason, .. } => {
                let name = self.name(&call);
                self.line(&name, "left", format!("left room {room} as member {member_id}: {reason}"));
            }
            RoomEvent::Muted { call, member_id, muted, .. } => {
                let name = self.name(&call);
                self.line(&name, "muted", format!("member {member_id} {}", if muted { "muted" } else { "unmuted" }));
            }
            RoomEvent::Deafened { call, member_id, deaf, .. } => {
                let name = self.name(&call);
                self.line(
                    &name,
                    "deaf",
                    format!("member {member_id} {}", if deaf { "deafened" } else { "undeafened" }),
                );
            }
            RoomEvent::Held { call, member_id, held, .. } => {
                let name = self.name(&call);
                let text = if held { "put on hold" } else { "taken off hold" };
                self.line(&name, "hold", format!("member {member_id} {text}"));
            }
            RoomEvent::Floor { call, member_id, .. } => {
                let name = self.name(&call);
                self.line(&name, "floor", format!("member {member_id} has the floor"));
            }
            RoomEvent::Media { room, members, media } => {
                let ids: Vec<String> = members.iter().map(u32::to_string).collect();
                let what = match media {
                    MemberMedia::Play { url } => format!("play {url}"),
                    MemberMedia::StopPlay => "stop playing".to_owned(),
                    MemberMedia::Speak { text, .. } => format!("speak \"{}\"", one_line(&text)),
                    MemberMedia::StopSpeak => "stop speaking".to_owned(),
                };
                self.line(&format!("room {room}"), "room-media", format!("{what} to members {}", ids.join(",")));
            }
            RoomEvent::RecordingStarted { room, recording, .. } => {
                self.line(&format!("room {room}"), "room-record", format!("recording started: {}", recording.url))
            }
            RoomEvent::RecordingFinished { room, recording, ended_at, .. } => {
                let len = ended_at.saturating_sub(recording.started_at);
                self.line(
                    &format!("room {room}"),
                    "room-record",
                    format!("recording finished: {} ({})", recording.url, fmt_duration(len)),
                );
            }
            RoomEvent::Ended { room, reason, .. } => {
                let why = match reason {
                    EndReason::Empty => "the last member left",
                    EndReason::Api => "ended through the API",
                    EndReason::EndOnExit => "a member with endConferenceOnExit left",
                    EndReason::TimeLimit => "time limit reached",
                    EndReason::StayAlone => "the last member would have been alone",
                };
                self.line(&format!("room {room}"), "room-ended", format!("ended: {why}"));
            }
        }
    }
}

fn record_mode(mode: crate::engine::RecordMode) -> &'static str {
    match mode {
        crate::engine::RecordMode::Foreground => "foreground",
        crate::engine::RecordMode::Session => "whole session",
        crate::engine::RecordMode::Bridge => "bridged call",
    }
}

/// Text as one transcript line: every run of whitespace (newlines, indentation) becomes one
/// space, as a voice reads it, and the ends are trimmed.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The silence SSML `<break>`s add to speech: `time` as written (`500ms`, `2s`, `1.5s`), or
/// by `strength`: none 0, x-weak 0.1 s, weak 0.25 s, medium (and a bare `<break/>`) 0.5 s,
/// strong 1 s, x-strong 2 s.
fn pauses(nodes: &[crate::xml::SpeakNode]) -> Duration {
    use crate::xml::values::BreakStrength as B;
    use crate::xml::{SpeakNode, Ssml};
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

fn strip_fragment(url: &str) -> &str {
    url.split_once('#').map_or(url, |(u, _)| u)
}

fn purpose_text(req: &HttpRequest) -> String {
    use crate::engine::Purpose as P;
    match req.purpose {
        P::Answer => "answer".to_owned(),
        P::Fallback => "fallback".to_owned(),
        P::Redirect => "redirect".to_owned(),
        P::Transfer => "transfer".to_owned(),
        P::Action(v) => {
            if req.reply == Reply::Execute {
                format!("{v} action")
            } else {
                format!("{v} action, reply ignored")
            }
        }
        P::Callback(what) => format!("{what} callback"),
        P::Sound(what) => what.to_owned(),
        P::Hangup => "hangup".to_owned(),
    }
}

fn describe_sounds(doc: &Arc<Document>) -> String {
    let parts: Vec<String> = doc
        .verbs
        .iter()
        .filter_map(|v| match v {
            Verb::Speak(s) => Some(format!("\"{}\"", one_line(&s.text()))),
            Verb::Play(p) => p.url.as_ref().map(|u| u.as_str().to_owned()),
            Verb::Wait(w) => Some(format!("{} s of silence", w.length)),
            _ => None,
        })
        .collect();
    parts.join(", ")
}

fn describe_input(input: &Input) -> Option<String> {
    Some(match input {
        Input::Digits(d) => format!("pressed {d}"),
        Input::Speech { text, .. } => format!("said \"{}\"", one_line(text)),
        Input::Hangup { .. } => "hangs up".to_owned(),
        Input::Dial(DialEvent::Answered { to, .. }) => format!("{to} answered"),
        Input::Dial(DialEvent::Busy) => "dialed party is busy".to_owned(),
        Input::Dial(DialEvent::NoAnswer) => "dialed party does not answer".to_owned(),
        Input::Dial(DialEvent::Failed) => "dial failed".to_owned(),
        Input::Dial(DialEvent::CalleeDigits(d)) => format!("dialed party pressed {d}"),
        Input::Dial(DialEvent::CalleeHangup) => "dialed party hangs up".to_owned(),
        Input::Dial(DialEvent::Ringing) => "dialed party rings".to_owned(),
        Input::Transfer { url, .. } => format!("transferred to {url}"),
        _ => return None,
    })
}

fn describe_op(op: &RoomOp) -> String {
    match op {
        RoomOp::Kick { room, target } => format!("kick {room} member {target}"),
        RoomOp::Mute { room, target, on } => format!("{} {room} member {target}", if *on { "mute" } else { "unmute" }),
        RoomOp::Deaf { room, target, on } => format!("{} {room} member {target}", if *on { "deaf" } else { "undeaf" }),
        RoomOp::Hold { room, target, on } => format!("{} {room} member {target}", if *on { "hold" } else { "unhold" }),
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

/// Scripts events at one virtual time: `sim.at(t).digits("alice", "1#")`.
#[derive(Debug)]
pub struct At<'a> {
    sim: &'a mut Simulation,
    at: Duration,
}

impl At<'_> {
    fn input(self, call: &str, input: Input) -> Self {
        self.sim.schedule(self.at, Action::Input { call: call.to_owned(), input });
        self
    }

    fn op(self, op: RoomOp) -> Self {
        self.sim.schedule(self.at, Action::Room(op));
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
        self.input(call, Input::Hangup { source: crate::engine::HangupSource::Caller })
    }

    /// A dial event for the call's `<Dial>` (turns off the dial defaults for that call).
    pub fn dial(self, call: &str, event: DialEvent) -> Self {
        self.sim.scripted_dials.insert(call.to_owned());
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
        self.op(RoomOp::Kick { room: room.to_owned(), target: target.to_owned() })
    }

    /// REST mute / unmute.
    pub fn mute(self, room: &str, target: &str, on: bool) -> Self {
        self.op(RoomOp::Mute { room: room.to_owned(), target: target.to_owned(), on })
    }

    /// REST deaf / undeaf.
    pub fn deaf(self, room: &str, target: &str, on: bool) -> Self {
        self.op(RoomOp::Deaf { room: room.to_owned(), target: target.to_owned(), on })
    }

    /// REST MultiPartyCall participant hold (`on`) / unhold.
    pub fn hold(self, mpc_name: &str, target: &str, on: bool) -> Self {
        self.op(RoomOp::Hold { room: mpc_name.to_owned(), target: target.to_owned(), on })
    }

    /// REST play to members.
    pub fn play(self, room: &str, target: &str, url: &str) -> Self {
        self.op(RoomOp::Media {
            room: room.to_owned(),
            target: target.to_owned(),
            media: MemberMedia::Play { url: url.to_owned() },
        })
    }

    /// REST speak to members.
    pub fn speak(self, room: &str, target: &str, text: &str) -> Self {
        let media =
            MemberMedia::Speak { text: text.to_owned(), voice: "WOMAN".to_owned(), language: "en-US".to_owned() };
        self.op(RoomOp::Media { room: room.to_owned(), target: target.to_owned(), media })
    }

    /// REST member hangup.
    pub fn hangup_member(self, room: &str, target: &str) -> Self {
        self.op(RoomOp::HangupMember { room: room.to_owned(), target: target.to_owned() })
    }

    /// REST end room.
    pub fn end_room(self, room: &str) -> Self {
        self.op(RoomOp::End { room: room.to_owned() })
    }

    /// Any room operation.
    pub fn room_op(self, op: RoomOp) -> Self {
        self.op(op)
    }
}
