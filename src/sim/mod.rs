//! [`Simulation`]: runs calls offline in virtual time, with canned documents and scripted
//! events, and records a transcript.
//!
//! A simulation is a [`Runtime`] (engine, [simulated media](crate::media::SimulatedMedia),
//! transcript) plus what only a replay has: a virtual clock, documents served by URL, and a
//! script of events ([`Simulation::at`]). Time jumps from one happening to the next, so an
//! hour-long conference replays in milliseconds, and every run of the same script prints the
//! same transcript (ids come from seeded generators). How long media lasts is the
//! [timing rule](crate::media::SimulatedMedia#timing-rule).
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

mod fault;
mod script;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::time::Duration;

pub use fault::{Fault, FaultKind, MAX_REDIRECTS};
pub use script::At;

use crate::engine::{
    CallId, CallSetup, ConferenceError, Direction, Engine, EngineError, FetchReply, HttpRequest, Input, Reply,
};
use crate::media::{DialDefault, MediaTiming};
use crate::runtime::{Line, LineKind, OpResult, RoomOp, Runtime, RuntimeConfig, describe_input, strip_fragment};

use crate::runtime::DEFAULT_STEP_LIMIT;

/// What a URL serves.
#[derive(Debug, Clone)]
pub enum Served {
    /// This body (parsed by the call; may be invalid on purpose).
    Body(String),
    /// The request fails with this reason, at once and without retries.
    Fail(String),
    /// The URL misbehaves on purpose ([`Simulation::inject_fault`]).
    Fault(Fault),
}

/// The reason the simulation gives a document fetch of a URL that is not served.
pub(crate) const NOT_SERVED: &str = "no document is served at this URL";

/// Answers the requests that the canned documents do not serve — a shell's HTTP client (e.g.
/// `server::live::LiveFetcher`, `plivo-flow run --live`), so that the simulation itself does
/// no I/O. [`Simulation::settle`](Simulation) calls it synchronously, in order, for every
/// request whose URL is not served (callbacks and `hangup_url` too), while virtual time stands
/// still. Its answer to a document fetch goes to the call; its answer to a notification
/// ([`Reply::Ignore`]) becomes a `reply` transcript line. It is told who made the request
/// (the call's name in the transcript, or `room`).
///
/// ```
/// use plivo_flow::engine::{FetchReply, HttpRequest};
/// use plivo_flow::sim::{Fetcher, Simulation};
///
/// /// An "application" that counts its requests.
/// #[derive(Debug, Default)]
/// struct App(u32);
/// impl Fetcher for App {
///     fn fetch(&mut self, _who: &str, req: &HttpRequest) -> FetchReply {
///         self.0 += 1;
///         match req.url.as_str() {
///             "https://app.example/answer" => {
///                 FetchReply::Body(format!("<Response><Speak>request {}</Speak></Response>", self.0))
///             }
///             _ => FetchReply::Body("thanks".to_owned()),
///         }
///     }
/// }
///
/// let mut sim = Simulation::new();
/// sim.set_fetcher(Box::new(App::default()));
/// let mut setup = sim.setup("alice", "https://app.example/answer", plivo_flow::engine::Direction::Inbound);
/// setup.hangup = Some(plivo_flow::engine::Webhook::post("https://app.example/hangup"));
/// sim.start_call_with(std::time::Duration::ZERO, "alice", setup);
/// sim.run();
/// let text = sim.transcript_text();
/// assert!(text.contains("alice  spoke \"request 1\""), "{text}");
/// assert!(text.contains("alice  https://app.example/hangup answered \"thanks\""), "{text}");
/// ```
pub trait Fetcher: std::fmt::Debug + Send {
    /// The application's answer to `req`, made by `who` (a call's name, or `room`).
    fn fetch(&mut self, who: &str, req: &HttpRequest) -> FetchReply;
}

/// A scripted happening.
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
    Room(RoomOp),
    /// A room operation the script could not even state (its member list is not one): its
    /// `api` line says why.
    BadRoomOp {
        text: String,
        error: ConferenceError,
    },
    /// The call's latest recording ends with this length.
    FinishRecording {
        call: String,
        duration_ms: u64,
    },
    /// The call's latest stream ends.
    EndStream {
        call: String,
    },
    /// A `reply` line: an attempt of a faulted request ended ([`Simulation::inject_fault`]).
    Reply {
        who: String,
        text: String,
        /// A document fetch of this call: the line is not written once the call has ended
        /// (its request and retries are abandoned, as `serve` abandons them).
        fetch_of: Option<CallId>,
    },
}

/// Work counters of a [`Simulation`], for checking that its cost per call stays flat as
/// traffic grows (see [`Simulation::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SimStats {
    /// Steps taken: scripted happenings, media inputs and engine timer firings.
    pub steps: u64,
    /// Index entries looked at to find one call's pending media inputs and recordings
    /// (cancels, ends, stops). Grows with each call's own pending work, never with the number
    /// of calls.
    pub visited: u64,
}

/// Calls, rooms, canned documents and a script, run in virtual time.
#[derive(Debug)]
pub struct Simulation {
    rt: Runtime,
    now: Duration,
    seq: u64,
    queue: BinaryHeap<Reverse<(Duration, u64)>>,
    actions: HashMap<u64, Action>,
    served: HashMap<String, Served>,
    /// Attempts made so far at each URL with a [`Fault`] (one entry per such URL).
    fault_attempts: HashMap<String, u32>,
    /// What a URL that is not served gets (none: the request fails).
    fallback: Option<Served>,
    /// Answers what is not served, before the fallback ([`Simulation::set_fetcher`]).
    fetcher: Option<Box<dyn Fetcher>>,
    /// The documents the [`Fetcher`] answered, by coverage key ([`live_key`]), at most
    /// [`COVERAGE_MAX_URLS`](crate::runtime::COVERAGE_MAX_URLS).
    live_docs: BTreeMap<String, String>,
    ids: HashMap<String, CallId>,
    /// Calls whose dial events the script gives (by name: the call may not exist yet).
    scripted_dials: HashSet<String>,
    requests: Vec<(Duration, String, HttpRequest)>,
    /// The calls started, in order ([`Simulation::started`]).
    started: Vec<(Duration, String, CallSetup)>,
    /// What document fetches of faulted URLs got (`[documents]` faults answer in virtual time,
    /// after retries and redirects), by (name of the call, request), for cassettes.
    faulted_replies: HashMap<(String, crate::engine::RequestId), FetchReply>,
    /// Rendered diagnostics of invalid fetched documents, for the CLI.
    diagnostics: Vec<String>,
    /// Transcript lines already looked at for diagnostics.
    scanned: usize,
    /// Most steps one [`Simulation::run_until`] takes.
    step_limit: u64,
    steps: u64,
}

impl Default for Simulation {
    fn default() -> Self {
        Self::new()
    }
}

impl Simulation {
    /// A simulation with the default timing and seed.
    pub fn new() -> Self {
        Self::with_seed(1)
    }

    /// A simulation whose ids derive from `seed`.
    pub fn with_seed(seed: u64) -> Self {
        Simulation {
            rt: Runtime::new(RuntimeConfig { seed, ..RuntimeConfig::default() }),
            now: Duration::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            actions: HashMap::new(),
            served: HashMap::new(),
            fault_attempts: HashMap::new(),
            fallback: None,
            fetcher: None,
            live_docs: BTreeMap::new(),
            ids: HashMap::new(),
            scripted_dials: HashSet::new(),
            requests: Vec::new(),
            started: Vec::new(),
            faulted_replies: HashMap::new(),
            diagnostics: Vec::new(),
            scanned: 0,
            step_limit: DEFAULT_STEP_LIMIT,
            steps: 0,
        }
    }

    /// The media timing rule in force.
    pub fn timing_mut(&mut self) -> &mut MediaTiming {
        self.rt.media_mut().timing_mut()
    }

    /// The text `<Record transcriptionUrl>` requests carry as `transcription` for calls started
    /// from now on (default [`crate::engine::DEFAULT_TRANSCRIPTION`]).
    pub fn set_transcription_text(&mut self, text: &str) {
        self.rt.engine_mut().call_config_mut().transcription_text = text.to_owned();
    }

    /// What dialed parties do when the script is silent.
    pub fn set_dial_default(&mut self, d: DialDefault) {
        self.rt.media_mut().set_dial_default(d);
    }

    /// Multiplies every media duration by `factor` (1 = the timing rule, 0 = instant).
    pub fn set_speed(&mut self, factor: f64) {
        self.rt.media_mut().set_speed(factor);
    }

    /// Serves `xml` at `url` (any method). A URL that is not served fails.
    pub fn serve(&mut self, url: &str, xml: &str) {
        self.served.insert(strip_fragment(url).to_owned(), Served::Body(xml.to_owned()));
    }

    /// Serves `xml` at `url`, naming it `name` (e.g. its file path) in diagnostics.
    pub fn serve_named(&mut self, url: &str, name: &str, xml: &str) {
        self.serve(url, xml);
        self.name_document(url, name);
    }

    /// Names the document fetched from `url` `name` (e.g. its file path) in diagnostics.
    pub fn name_document(&mut self, url: &str, name: &str) {
        self.rt.transcript_mut().name_document(url, name);
    }

    /// Serves `xml` at every URL not served otherwise (by default such requests fail), e.g.
    /// `<Response><Hangup/></Response>` to replay a document whose action URLs are unknown.
    pub fn serve_fallback(&mut self, xml: &str) {
        self.fallback = Some(Served::Body(xml.to_owned()));
    }

    /// Hands every request whose URL is not served (document fetches, callbacks and
    /// `hangup_url` alike) to `fetcher`, before the fallback; see [`Fetcher`]. Without one,
    /// nothing changes.
    pub fn set_fetcher(&mut self, fetcher: Box<dyn Fetcher>) {
        self.fetcher = Some(fetcher);
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
        setup.id = self.id_for(name);
        self.schedule(at, Action::Start { name: name.to_owned(), setup });
    }

    /// A call setup with a fresh id for `name`, numbers derived from the name.
    pub fn setup(&mut self, name: &str, answer_url: &str, direction: Direction) -> CallSetup {
        let id = self.id_for(name);
        let n = self.ids.len();
        let mut setup = CallSetup::inbound(id.as_str(), &format!("+1555000{n:04}"), "+15559990000", answer_url);
        setup.direction = direction;
        setup.account = self.rt.account().into();
        setup
    }

    /// The id of the call named `name`, given now if it has none.
    fn id_for(&mut self, name: &str) -> CallId {
        if let Some(id) = self.ids.get(name) {
            return id.clone();
        }
        let id = CallId::from(self.rt.new_uuid());
        self.ids.insert(name.to_owned(), id.clone());
        self.rt.transcript_mut().set_name(&id, name);
        id
    }

    /// Schedules scripted events at `at`.
    pub fn at(&mut self, at: Duration) -> At<'_> {
        At::new(self, at)
    }

    fn schedule(&mut self, at: Duration, action: Action) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq)));
        self.actions.insert(self.seq, action);
    }

    /// Virtual time now.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// The account calls and rooms belong to.
    pub fn account(&self) -> &str {
        self.rt.account()
    }

    /// When the next scripted happening, media input or engine timer is due.
    pub fn next_deadline(&self) -> Option<Duration> {
        let queued = self.queue.peek().map(|Reverse((t, _))| *t);
        match (queued, self.rt.poll_timeout()) {
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
    }

    /// Starts a call named `name` now and returns its id.
    ///
    /// # Errors
    /// [`EngineError::DuplicateCall`] when a call with `setup.id` is still known; nothing
    /// changes then.
    pub fn start_call_now(&mut self, name: &str, setup: CallSetup) -> Result<CallId, EngineError> {
        if self.rt.engine().call(&setup.id).is_some() {
            return Err(EngineError::DuplicateCall(setup.id));
        }
        self.ids.insert(name.to_owned(), setup.id.clone());
        self.rt.transcript_mut().set_name(&setup.id, name);
        let copy = setup.clone();
        let r = self.rt.start_call(self.now, setup);
        if r.is_ok() {
            self.started.push((self.now, name.to_owned(), copy));
        }
        self.settle();
        r
    }

    /// Hands `input` to a call now.
    ///
    /// # Errors
    /// [`EngineError::UnknownCall`] when no such call is known.
    pub fn input_now(&mut self, call: &CallId, input: Input) -> Result<(), EngineError> {
        let r = self.rt.handle_input(self.now, call, input);
        self.settle();
        r
    }

    /// Applies a room operation now and says what it did.
    ///
    /// # Errors
    /// The rooms' [`ConferenceError`]; nothing changes then.
    pub fn room_op_now(&mut self, op: RoomOp) -> Result<OpResult, ConferenceError> {
        let r = self.rt.room_op(self.now, &op);
        self.settle();
        r
    }

    /// The runtime (engine, media, transcript) the simulation drives.
    pub fn runtime(&self) -> &Runtime {
        &self.rt
    }

    /// The engine, for operations the simulation does not wrap. What it outputs is carried
    /// out at the simulation's next step.
    pub fn engine_mut(&mut self) -> &mut Engine {
        self.rt.engine_mut()
    }

    /// A fresh UUID from the simulation's generator.
    pub fn new_uuid(&mut self) -> String {
        self.rt.new_uuid()
    }

    /// The engine (calls and rooms), for assertions.
    pub fn engine(&self) -> &Engine {
        self.rt.engine()
    }

    /// The id of the call named `name`.
    pub fn call_id(&self, name: &str) -> Option<&CallId> {
        self.ids.get(name)
    }

    /// The transcript so far.
    pub fn transcript(&self) -> &[Line] {
        self.rt.transcript().lines()
    }

    /// The transcript as text, one line per happening.
    pub fn transcript_text(&self) -> String {
        let mut s = String::new();
        for l in self.transcript() {
            s.push_str(&l.to_string());
            s.push('\n');
        }
        s
    }

    /// Which elements and branches ran of each served document (valid ones, whether they
    /// ran or not) and of the fallback document at the URLs it answered.
    pub fn coverage(&self) -> crate::runtime::CoverageReport {
        let parse = |b: &str| Some(crate::xml::parse(b)).filter(|p| !p.has_errors()).map(|p| p.document);
        let mut docs: Vec<(String, crate::xml::Document)> = Vec::new();
        for (url, s) in &self.served {
            let body = match s {
                Served::Body(b) => Some(b),
                Served::Fault(f) => f.body.as_ref(),
                Served::Fail(_) => None,
            };
            if let Some(b) = body
                && let Some(d) = parse(b)
            {
                docs.push((url.clone(), d));
            }
        }
        for (key, b) in &self.live_docs {
            if let Some(d) = parse(b) {
                docs.push((key.clone(), d));
            }
        }
        if let Some(Served::Body(b)) = &self.fallback
            && let Some(d) = parse(b)
        {
            let cov = self.rt.coverage();
            docs.extend(cov.urls().filter(|u| !self.served.contains_key(*u)).map(|u| (u.to_owned(), d.clone())));
        }
        self.rt.coverage().report(docs.iter().map(|(u, d)| (u.as_str(), d)))
    }

    /// What the canned documents answer at `url` (without a [`Fetcher`]): the served body or
    /// failure, else the fallback, else a failure saying nothing is served there.
    pub fn canned_reply(&self, url: &str) -> FetchReply {
        self.canned(url)
    }

    /// What the document fetch `request` of the call named `who` got: a faulted URL's
    /// outcome (after its retries and redirects), else the canned document of its URL.
    pub fn delivered_reply(&self, who: &str, request: crate::engine::RequestId, url: &str) -> FetchReply {
        match self.faulted_replies.get(&(who.to_owned(), request)) {
            Some(reply) => reply.clone(),
            None => self.canned(url),
        }
    }

    fn canned(&self, url: &str) -> FetchReply {
        match self.served.get(strip_fragment(url)).or(self.fallback.as_ref()) {
            Some(Served::Body(b)) => FetchReply::Body(b.clone()),
            Some(Served::Fail(r)) => FetchReply::Failed(r.clone()),
            // A faulted URL is answered by its fault, in virtual time, before this is asked.
            Some(Served::Fault(_)) | None => FetchReply::Failed(NOT_SERVED.to_owned()),
        }
    }

    /// The calls started so far, in order: when, their name and their setup. Grows by one per
    /// call started, as [`Simulation::requests`] grows by one per request.
    pub fn started(&self) -> &[(Duration, String, CallSetup)] {
        &self.started
    }

    /// Every request sent, with its time and the name of the call (or `room`).
    pub fn requests(&self) -> &[(Duration, String, HttpRequest)] {
        &self.requests
    }

    /// Work counters since the simulation was created.
    pub fn stats(&self) -> SimStats {
        SimStats { steps: self.steps, visited: self.rt.media().visited() }
    }

    /// Rendered diagnostics of invalid documents the calls fetched.
    pub fn diagnostics(&self) -> &[String] {
        &self.diagnostics
    }

    /// Runs until nothing is left to happen (at most 48 virtual hours, or the step limit).
    pub fn run(&mut self) {
        self.run_until(self.now + Duration::from_secs(48 * 3600));
    }

    /// Sets the most steps (scripted happenings, media inputs and timer firings) one
    /// [`Simulation::run_until`] or [`Simulation::advance_to`] takes before it returns
    /// ([`DEFAULT_STEP_LIMIT`]); the count starts afresh on every call, so a long-lived
    /// simulation never runs out. At least 1.
    pub fn set_step_limit(&mut self, steps: u64) {
        self.step_limit = steps.max(1);
    }

    /// Runs every happening up to and including `limit`, or until this call has taken the
    /// step limit ([`Simulation::set_step_limit`]).
    pub fn run_until(&mut self, limit: Duration) {
        self.run_steps(limit);
    }

    /// [`Simulation::run_until`]; false when the step limit stopped it with happenings due.
    ///
    /// At equal times the script goes first, then the media's inputs, then engine timers.
    fn run_steps(&mut self, limit: Duration) -> bool {
        let mut steps: u64 = 0;
        loop {
            self.settle();
            steps += 1;
            if steps > self.step_limit {
                return self.next_deadline().is_none_or(|t| t > limit);
            }
            let queued = self.queue.peek().map(|Reverse((t, _))| *t);
            let next = match (queued, self.rt.poll_timeout()) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => return true,
                },
            };
            if next > limit {
                return true;
            }
            self.steps += 1;
            self.now = self.now.max(next);
            if queued.is_some_and(|t| t <= next) {
                if let Some(Reverse((_, seq))) = self.queue.pop()
                    && let Some(action) = self.actions.remove(&seq)
                {
                    self.apply(action);
                }
            } else {
                self.rt.step(self.now);
            }
        }
    }

    /// After every step: the requests made are recorded and the canned documents answer
    /// them; new diagnostics are collected.
    fn settle(&mut self) {
        while let Some((call, req)) = self.rt.poll_request() {
            let who = call.as_ref().map_or_else(|| "room".to_owned(), |c| self.rt.transcript().name(c));
            let served = self.served.get(strip_fragment(&req.url));
            if let Some(Served::Fault(_)) = served {
                self.answer_faulted(&who, call.as_ref(), &req);
            } else if served.is_none()
                && let Some(fetcher) = self.fetcher.as_mut()
            {
                // The shell answers while the clock stands still.
                let reply = fetcher.fetch(&who, &req);
                if req.reply == Reply::Ignore {
                    let text = reply_text(&req.url, &reply);
                    self.rt.transcript_mut().line(self.now, &who, LineKind::Reply, text);
                } else if let Some(call) = &call {
                    self.note_live_document(call, &req, &reply);
                    let input = Input::Fetched { request: req.id, reply };
                    self.rt.media_mut().schedule_input(self.now, call, input);
                }
            } else if req.reply != Reply::Ignore
                && let Some(call) = &call
            {
                let reply = self.canned_reply(&req.url);
                let input = Input::Fetched { request: req.id, reply };
                self.rt.media_mut().schedule_input(self.now, call, input);
            }
            self.requests.push((self.now, who, req));
        }
        let lines = self.rt.transcript().lines();
        for l in lines.get(self.scanned..).unwrap_or_default() {
            self.diagnostics.extend(l.diagnostics.iter().cloned());
        }
        self.scanned = lines.len();
    }

    /// Files a document the application answered under its own coverage key, so that each
    /// distinct document one URL serves is covered on its own.
    fn note_live_document(&mut self, call: &CallId, req: &HttpRequest, reply: &FetchReply) {
        let FetchReply::Body(body) = reply else { return };
        if req.reply != Reply::Execute {
            return;
        }
        let key = live_key(strip_fragment(&req.url), body);
        if !self.live_docs.contains_key(&key) {
            if self.live_docs.len() >= crate::runtime::COVERAGE_MAX_URLS {
                return;
            }
            self.live_docs.insert(key.clone(), body.clone());
        }
        self.rt.coverage_mut().fetching_as(call, key);
    }

    fn apply(&mut self, action: Action) {
        let now = self.now;
        match action {
            Action::Start { name, setup } => {
                let id = setup.id.clone();
                let copy = setup.clone();
                if let Err(e) = self.rt.start_call(now, setup) {
                    self.rt.transcript_mut().line(now, &name, LineKind::Error, e.to_string());
                    return;
                }
                self.started.push((now, name.clone(), copy));
                if self.scripted_dials.contains(&name) {
                    self.rt.media_mut().script_dials(&id);
                }
            }
            Action::Input { call, input } => {
                let Some(id) = self.ids.get(&call).cloned() else {
                    self.rt.transcript_mut().line(now, &call, LineKind::Error, format!("no call named {call}"));
                    return;
                };
                // A call that has not started or has ended hears nothing: say so.
                let ignored = match self.rt.engine().call(&id) {
                    None => Some("the call has not started"),
                    Some(c) if c.is_ended() => Some("the call has ended"),
                    Some(_) => None,
                };
                if let Some(why) = ignored {
                    if let Some(text) = describe_input(&input) {
                        self.rt.transcript_mut().line(
                            now,
                            &call,
                            LineKind::Ignored,
                            format!("{text} (ignored: {why})"),
                        );
                    }
                    return;
                }
                if let Input::Dial(_) = &input {
                    self.scripted_dials.insert(call);
                    self.rt.media_mut().script_dials(&id);
                    self.rt.media_mut().drop_dial_events(&id);
                }
                let _ = self.rt.handle_input(now, &id, input);
            }
            Action::Room(op) => {
                let _ = self.rt.room_op(now, &op);
            }
            Action::BadRoomOp { text, error } => {
                self.rt.transcript_mut().line(now, "api", LineKind::Api, format!("{text}: error: {error}"));
            }
            Action::FinishRecording { call, duration_ms } => {
                let finished = self
                    .ids
                    .get(&call)
                    .cloned()
                    .and_then(|id| self.rt.media_mut().finish_recording(&id, duration_ms).map(|input| (id, input)));
                match finished {
                    Some((id, input)) => {
                        self.rt.transcript_mut().line(now, &call, LineKind::Input, "recording finished".to_owned());
                        let _ = self.rt.handle_input(now, &id, input);
                    }
                    None => {
                        self.rt.transcript_mut().line(now, &call, LineKind::Error, "no recording is running".to_owned())
                    }
                }
            }
            Action::EndStream { call } => {
                let ended = self
                    .ids
                    .get(&call)
                    .cloned()
                    .and_then(|id| self.rt.media_mut().end_stream(&id).map(|input| (id, input)));
                match ended {
                    Some((id, input)) => {
                        self.rt.transcript_mut().line(now, &call, LineKind::Input, "stream ended".to_owned());
                        let _ = self.rt.handle_input(now, &id, input);
                    }
                    None => {
                        self.rt.transcript_mut().line(now, &call, LineKind::Error, "no stream is running".to_owned())
                    }
                }
            }
            Action::Reply { who, text, fetch_of } => {
                let abandoned = fetch_of.is_some_and(|c| self.rt.engine().call(&c).is_none_or(|c| c.is_ended()));
                if !abandoned {
                    self.rt.transcript_mut().line(now, &who, LineKind::Reply, text);
                }
            }
        }
    }
}

/// The coverage key of a document a live application answered at `url`: the URL and the
/// first 32 bits of the body's 64-bit FNV-1a hash (`engine::fnv1a`), e.g. `https://app.example/ivr [1f0c33a2]`.
/// Stable from run to run (and across Rust versions, unlike `DefaultHasher`), so coverage of
/// several scenarios against one app merges document by document.
fn live_key(url: &str, body: &str) -> String {
    format!("{url} [{:08x}]", crate::engine::fnv1a(body) >> 32)
}

/// The `reply` line of a notification a [`Fetcher`] answered: the URL and the body's first
/// 80 characters on one line, or why it failed.
fn reply_text(url: &str, reply: &FetchReply) -> String {
    let url = strip_fragment(url);
    match reply {
        FetchReply::Failed(why) => format!("{url} failed: {why}"),
        FetchReply::Document(_) => format!("{url} answered a document"),
        FetchReply::Body(b) => {
            let one: String = b.split_whitespace().collect::<Vec<_>>().join(" ");
            if one.is_empty() {
                format!("{url} answered (empty)")
            } else if one.chars().count() > 80 {
                format!("{url} answered \"{}…\"", one.chars().take(80).collect::<String>())
            } else {
                format!("{url} answered \"{one}\"")
            }
        }
    }
}
