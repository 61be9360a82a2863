//! [`Runtime`]: an [`Engine`] with its media and transcript, on a clock it is given.
//!
//! This is what both shells run: [`Simulation`](crate::sim::Simulation) drives it in virtual
//! time with canned documents and a script; `serve`'s driver drives it on the real clock and
//! sends its requests over HTTP. It is sans-IO like the engine: every mutation takes `now`,
//! requests wait in [`Runtime::poll_request`] for whoever sends them, and their replies come
//! back through [`Runtime::deliver`].
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use plivo_flow::engine::{CallSetup, FetchReply};
//! use plivo_flow::runtime::{Runtime, RuntimeConfig};
//!
//! let mut rt = Runtime::new(RuntimeConfig::default());
//! let setup = CallSetup::inbound("c1", "+15550001", "+15550002", "https://app.example/answer");
//! let call = rt.start_call(Duration::ZERO, setup)?;
//! // The shell sends the answer-URL request and hands the reply back.
//! let (_, request) = rt.poll_request().expect("the answer URL is requested");
//! let doc = plivo_flow::xml::parse("<Response><Speak>Hi</Speak></Response>").document;
//! rt.deliver(Duration::from_millis(40), &call, request.id, FetchReply::Document(Arc::new(doc)));
//! // Then it sleeps until the next deadline and runs what is due.
//! let next = rt.poll_timeout().expect("the speech ends");
//! rt.handle_timeout(next);
//! assert!(rt.engine().call(&call).is_some_and(|c| c.is_ended()));
//! # Ok::<(), plivo_flow::engine::EngineError>(())
//! ```

mod coverage;
mod ops;
mod outbound;
mod recordings;
mod transcript;
pub mod webhook_policy;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

pub use coverage::{Coverage, CoverageReport, DocCoverage, MAX_URLS as COVERAGE_MAX_URLS};
pub use ops::{OpResult, RoomOp};
pub use outbound::{DEFAULT_MACHINE_DETECTION_TIME, DEFAULT_RING_TIMEOUT, MachineDetection, OutboundPlan};
pub use recordings::{MAX_RECORDINGS, MAX_RUNNING_PER_CALL, Recording, RecordingSource, Recordings};
#[cfg(feature = "cassette")]
pub(crate) use transcript::purpose_text;
pub use transcript::{Line, LineKind, Transcript};
pub(crate) use transcript::{describe_input, strip_fragment};

use crate::engine::{
    AccountId, CallEnd, CallEvent, CallId, CallSetup, ConferenceError, Direction, Engine, EngineConfig, EngineError,
    EngineOutput, FetchReply, HttpRequest, IdGen, Input, Output, RequestId, RoomEvent,
};
use crate::engine::{CallOp, CallOpError, Command, RecordingRef};
use crate::media::{Media, SimulatedMedia};

/// The account calls and rooms belong to unless told otherwise.
pub const ACCOUNT: &str = "MAXXXXXXXXXXXXXXXXXX";

/// Most happenings one [`Runtime::handle_timeout`] runs by default (a guard against a loop
/// that never ends, not a budget: the count starts afresh on every call).
pub const DEFAULT_STEP_LIMIT: u64 = 10_000_000;

/// Settings of a [`Runtime`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Every id (calls, rooms, recordings, B legs) derives from it.
    pub seed: u64,
    /// The account calls and rooms belong to.
    pub account: AccountId,
    /// Where recording files are named, `{base}/{id}.{format}`, for calls and rooms alike;
    /// `None` (the default) keeps the engine's `https://media.plivo-flow.invalid/recordings`,
    /// which nothing serves (`serve` sets its own address).
    pub recording_url_base: Option<String>,
    /// The Unix time of the clock's zero, added to `RecordingStartMs`/`RecordingEndMs`
    /// ([`crate::engine::CallConfig::clock_epoch`]); zero (the default) reports virtual ms.
    pub clock_epoch: std::time::Duration,
    /// Whether [`Runtime::coverage`] is kept (the default, for `test --coverage`); `serve`,
    /// which never reports it, turns it off and saves its per-call entry (the URL of each
    /// call's document).
    pub coverage: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            seed: 1,
            account: AccountId::from(ACCOUNT),
            recording_url_base: None,
            clock_epoch: std::time::Duration::ZERO,
            coverage: true,
        }
    }
}

/// An [`Engine`] with its [`SimulatedMedia`] and [`Transcript`], on a clock it is given.
///
/// # Drive contract (sans-IO)
///
/// Every mutation ([`Runtime::start_call`], [`Runtime::handle_input`],
/// [`Runtime::room_op`], [`Runtime::deliver`], [`Runtime::handle_timeout`]) takes `now` and
/// carries out at once what the engine asks of the media. Afterwards send every
/// [`Runtime::poll_request`] (a document fetch's reply comes back through
/// [`Runtime::deliver`]), take the transcript lines if wanted ([`Runtime::take_transcript`];
/// they are kept until taken), and sleep until [`Runtime::poll_timeout`].
///
/// The media is any [`Media`]; the default, and the one of `run`, `test` and `serve`, is
/// [`SimulatedMedia`] ([`Runtime::new`]). [`Runtime::with_media`] takes another.
#[derive(Debug)]
pub struct Runtime<M: Media = SimulatedMedia> {
    engine: Engine,
    media: M,
    transcript: Transcript,
    coverage: Coverage,
    /// Whether `coverage` is fed ([`RuntimeConfig::coverage`]).
    covering: bool,
    recordings: Recordings,
    outbox: VecDeque<(Option<CallId>, HttpRequest)>,
    /// Calls that ended since the last [`Runtime::forget_ended_calls`].
    ended: Vec<CallId>,
    uuids: IdGen,
    account: AccountId,
    step_limit: u64,
    steps: u64,
    /// Outbound calls' `send_digits`, sent once the callee answers (one entry per live call
    /// at most, gone when it is sent or the call is forgotten).
    send_digits: HashMap<CallId, String>,
}

impl Runtime<SimulatedMedia> {
    /// A runtime with no calls, on [`SimulatedMedia`] seeded from `config.seed`.
    pub fn new(config: RuntimeConfig) -> Self {
        let media = SimulatedMedia::new(config.seed.wrapping_add(3));
        Runtime::with_media(config, media)
    }

    /// Starts an outbound call under `plan` (REST "Make a call" options): the far end of
    /// `setup.to` ([`SimulatedMedia::far_ends`]) answers, is busy, fails or rings on, and the
    /// plan's limits apply ([`OutboundPlan`]). With no far-end entry and the default plan, it
    /// is [`Runtime::start_call`] (answered at once). An inbound `setup` ignores the plan.
    ///
    /// # Errors
    /// As [`Runtime::start_call`].
    pub fn start_outbound(
        &mut self,
        now: Duration,
        setup: CallSetup,
        plan: &OutboundPlan,
    ) -> Result<CallId, EngineError> {
        let far = self.media.far_ends().lookup(None, &setup.to).cloned();
        if setup.direction != Direction::Outbound || (far.is_none() && *plan == OutboundPlan::default()) {
            return self.start_call(now, setup);
        }
        let mut setup = setup;
        setup.account = self.account.clone();
        let id = self.engine.start_call(now, setup)?;
        let name = self.transcript.name(&id);
        self.transcript.line(now, &name, LineKind::Call, "outbound call started".to_owned());
        if let Some(digits) = plan.send_digits.clone() {
            self.send_digits.insert(id.clone(), digits);
        }
        outbound::schedule(&mut self.media, now, &id, outbound::timeline(far.as_ref(), plan));
        self.drain(now);
        Ok(id)
    }
}

impl<M: Media> Runtime<M> {
    /// A runtime with no calls, on `media`.
    pub fn with_media(config: RuntimeConfig, media: M) -> Self {
        let seed = config.seed;
        let mut engine = EngineConfig::default();
        engine.call.seed = seed;
        engine.rooms.seed = seed.wrapping_add(1);
        engine.call.clock_epoch = config.clock_epoch;
        if let Some(base) = &config.recording_url_base {
            engine.call.recording_url_base.clone_from(base);
            engine.rooms.recording_url_base.clone_from(base);
        }
        Runtime {
            engine: Engine::new(engine),
            media,
            transcript: Transcript::new(),
            coverage: Coverage::default(),
            covering: config.coverage,
            recordings: Recordings::default(),
            outbox: VecDeque::new(),
            ended: Vec::new(),
            uuids: IdGen::new(seed.wrapping_add(2)),
            account: config.account,
            step_limit: DEFAULT_STEP_LIMIT,
            steps: 0,
            send_digits: HashMap::new(),
        }
    }

    /// The engine (calls and rooms), for reading.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, for what the runtime does not wrap. What it outputs is carried out at the
    /// runtime's next mutation.
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// The media, for reading.
    pub fn media(&self) -> &M {
        &self.media
    }

    /// The media.
    pub fn media_mut(&mut self) -> &mut M {
        &mut self.media
    }

    /// Which elements and branches ran, by document URL (nothing when
    /// [`RuntimeConfig::coverage`] is off).
    pub fn coverage(&self) -> &Coverage {
        &self.coverage
    }

    /// [`Runtime::coverage`], to file a live document under its own key
    /// ([`Coverage::fetching_as`]).
    pub fn coverage_mut(&mut self) -> &mut Coverage {
        &mut self.coverage
    }

    /// The recording files the calls and rooms made (Plivo's Recording API).
    pub fn recordings(&self) -> &Recordings {
        &self.recordings
    }

    /// The recording files, to delete some.
    pub fn recordings_mut(&mut self) -> &mut Recordings {
        &mut self.recordings
    }

    /// The transcript.
    pub fn transcript(&self) -> &Transcript {
        &self.transcript
    }

    /// The transcript, to name calls and documents or write lines of one's own.
    pub fn transcript_mut(&mut self) -> &mut Transcript {
        &mut self.transcript
    }

    /// The account calls and rooms belong to.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// A fresh UUID (for a call id, say) from the runtime's seeded generator.
    pub fn new_uuid(&mut self) -> String {
        self.uuids.uuid()
    }

    /// Happenings run so far (media inputs and timer firings).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Sets the most happenings one [`Runtime::handle_timeout`] runs ([`DEFAULT_STEP_LIMIT`]);
    /// at least 1.
    pub fn set_step_limit(&mut self, steps: u64) {
        self.step_limit = steps.max(1);
    }

    /// Starts a call of this runtime's account (an outbound one is answered at once).
    ///
    /// # Errors
    /// [`EngineError::DuplicateCall`] when a call with `setup.id` is still known (live, or
    /// ended and not forgotten yet); nothing changes then.
    pub fn start_call(&mut self, now: Duration, setup: CallSetup) -> Result<CallId, EngineError> {
        let (id, direction) = self.begin_call(now, setup)?;
        if direction == Direction::Outbound {
            let _ = self.engine.handle_input(now, &id, Input::Answered);
        }
        self.drain(now);
        Ok(id)
    }

    /// Starts a call that stays unanswered until the shell says what its far end did: an
    /// outbound call rings until [`Input::Answered`] (it then fetches its answer URL) or
    /// [`Input::End`] (busy, no answer, …). For shells whose far ends are real (SIP).
    ///
    /// # Errors
    /// As [`start_call`](Self::start_call).
    pub fn start_ringing(&mut self, now: Duration, setup: CallSetup) -> Result<CallId, EngineError> {
        let (id, _) = self.begin_call(now, setup)?;
        self.drain(now);
        Ok(id)
    }

    fn begin_call(&mut self, now: Duration, mut setup: CallSetup) -> Result<(CallId, Direction), EngineError> {
        setup.account = self.account.clone();
        let direction = setup.direction;
        let id = self.engine.start_call(now, setup)?;
        let name = self.transcript.name(&id);
        self.transcript.line(now, &name, LineKind::Call, format!("{} call started", direction.as_str()));
        Ok((id, direction))
    }

    /// Hands `input` to a call (its transcript line first, for the caller's and the far end's
    /// inputs).
    ///
    /// # Errors
    /// [`EngineError::UnknownCall`] when no such call is known; nothing changes then.
    pub fn handle_input(&mut self, now: Duration, call: &CallId, input: Input) -> Result<(), EngineError> {
        if self.engine.call(call).is_none() {
            return Err(EngineError::UnknownCall(call.clone()));
        }
        self.transcript.input(now, call, &input);
        self.saw_input(now, call, &input);
        let r = self.engine.handle_input(now, call, input);
        self.drain(now);
        r
    }

    /// Hands a fetch's reply back to the call that made `request`. A call that is gone
    /// ignores it.
    pub fn deliver(&mut self, now: Duration, call: &CallId, request: RequestId, reply: FetchReply) {
        let _ = self.engine.handle_input(now, call, Input::Fetched { request, reply });
        self.drain(now);
    }

    /// Runs a REST room operation and writes its `api` line.
    ///
    /// # Errors
    /// The rooms' [`ConferenceError`] (unknown room or members); nothing changes then but the
    /// line.
    pub fn room_op(&mut self, now: Duration, op: &RoomOp) -> Result<OpResult, ConferenceError> {
        let result = op.apply(&mut self.engine, now, &self.account);
        // The events the operation caused wait in the engine's outputs: this line goes first.
        self.transcript.line(now, "api", LineKind::Api, format!("{}: {}", op.describe(), op.outcome(&result)));
        self.drain(now);
        result
    }

    /// Carries out a Call API operation on the live call `call` (play, speak, DTMF, record)
    /// and writes its `api` line; a started recording's id and URL.
    ///
    /// # Errors
    /// The call's [`CallOpError`]; nothing changes then but the line.
    pub fn call_op(&mut self, now: Duration, call: &CallId, op: CallOp) -> Result<Option<RecordingRef>, CallOpError> {
        let what = op.describe();
        let result = self.engine.call_op(now, call, op);
        let name = self.transcript.name(call);
        let outcome = match &result {
            Ok(Some(rec)) => format!("ok, recording {}", rec.id),
            Ok(None) => "ok".to_owned(),
            Err(e) => e.to_string(),
        };
        // The commands the operation caused wait in the engine's outputs: this line goes first.
        self.transcript.line(now, "api", LineKind::Api, format!("{what} on {name}: {outcome}"));
        self.drain(now);
        result
    }

    /// When [`Runtime::handle_timeout`] must next be called: the media's next input or the
    /// engine's next timer.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        match (self.media.poll_timeout(), self.engine.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs every happening due by `now` (media inputs before timers of the same time), at
    /// most the step limit of them ([`Runtime::set_step_limit`]); false when the limit stopped
    /// it with happenings still due.
    pub fn handle_timeout(&mut self, now: Duration) -> bool {
        for _ in 0..self.step_limit {
            if !self.step(now) {
                return true;
            }
        }
        self.poll_timeout().is_none_or(|t| t > now)
    }

    /// Runs the one happening due first by `now`: the media's next input (first at equal
    /// times) or the engine's timers. False when nothing is due.
    pub fn step(&mut self, now: Duration) -> bool {
        let media = self.media.poll_timeout().filter(|t| *t <= now);
        let timer = self.engine.poll_timeout().filter(|t| *t <= now);
        match (media, timer) {
            (Some(m), t) if t.is_none_or(|t| m <= t) => {
                let Some((call, input)) = self.media.poll_input(m) else { return true };
                self.steps += 1;
                self.transcript.input(m, &call, &input);
                self.saw_input(m, &call, &input);
                let answered = matches!(input, Input::Answered);
                let _ = self.engine.handle_input(m, &call, input);
                self.drain(m);
                if answered && let Some(digits) = self.send_digits.remove(&call) {
                    let _ = self.call_op(m, &call, CallOp::SendDigits { digits, b_leg: false });
                }
            }
            (_, Some(t)) => {
                self.steps += 1;
                self.engine.handle_timeout(t);
                self.drain(t);
            }
            (_, None) => return false,
        }
        true
    }

    /// The next request to send, with the call that made it (`None`: the rooms').
    #[must_use]
    pub fn poll_request(&mut self) -> Option<(Option<CallId>, HttpRequest)> {
        self.outbox.pop_front()
    }

    /// Takes the transcript lines written since the last call.
    pub fn take_transcript(&mut self) -> Vec<crate::runtime::Line> {
        self.transcript.take()
    }

    /// Forgets calls that have ended, so memory does not grow with traffic, and returns what
    /// is left to know of them. A call whose recording file is still due stays until it is in.
    ///
    /// Only calls that ended since the last call are looked at (a driver calls this after
    /// every step, so it must not scan every live call).
    pub fn forget_ended_calls(&mut self) -> Vec<(CallSetup, CallEnd)> {
        let mut gone = Vec::new();
        for id in std::mem::take(&mut self.ended) {
            if self.media.has_pending(&id) {
                // A late recording is still due: try again next time.
                self.ended.push(id);
                continue;
            }
            let record = self.engine.call(&id).and_then(|c| c.ended().map(|e| (c.setup().clone(), *e)));
            if self.engine.remove_call(&id) {
                gone.extend(record);
                self.transcript.forget(&id);
                self.media.forget(&id);
                self.recordings.forget(&id);
                self.send_digits.remove(&id);
            }
        }
        gone
    }

    /// Notes what an input to `call` means for the recordings: a file that came in.
    fn saw_input(&mut self, now: Duration, call: &CallId, input: &Input) {
        if let Input::RecordingFinished { media, duration_ms } = input {
            self.recordings.finished(now, call, *media, *duration_ms);
        }
    }

    /// Notes a recording a call starts.
    fn saw_command(&mut self, now: Duration, call: &CallId, c: &Command) {
        let Command::StartRecording { media, format, recording, .. } = c else { return };
        let Some(setup) = self.engine.call(call).map(|c| c.setup()) else { return };
        let source =
            RecordingSource::Call { call: call.clone(), from: setup.from.to_string(), to: setup.to.to_string() };
        let rec = Recording {
            id: recording.id.clone(),
            url: recording.url.clone(),
            format: *format,
            source,
            started_at: now,
            added_at: now,
            duration_ms: 0,
        };
        self.recordings.started(call, *media, rec);
    }

    /// Carries out what the engine asked for: commands to the media, requests to the outbox,
    /// everything to the transcript.
    fn drain(&mut self, now: Duration) {
        while let Some(out) = self.engine.poll_output() {
            match out {
                EngineOutput::Call { call, output } => match output {
                    Output::Command(c) => {
                        self.transcript.command(now, &call, &c);
                        if self.covering {
                            self.coverage.command(&call, &c);
                        }
                        self.saw_command(now, &call, &c);
                        self.media.handle_command(now, &call, &c);
                    }
                    Output::Request(req) => {
                        self.transcript.request(now, Some(&call), &req);
                        if self.covering {
                            self.coverage.request(&call, &req);
                        }
                        self.outbox.push_back((Some(call), req));
                    }
                    Output::Event(e) => {
                        self.transcript.call_event(now, &call, &e);
                        if self.covering {
                            self.coverage.event(&call, &e);
                        }
                        if let CallEvent::Ended { .. } = e {
                            self.media.call_ended(&call);
                            self.ended.push(call);
                        }
                    }
                },
                EngineOutput::Room(ev) => {
                    if let RoomEvent::RecordingFinished { room, uuid, recording, ended_at, .. } = &ev {
                        let ms = ended_at.saturating_sub(recording.started_at).as_millis();
                        self.recordings.add(Recording {
                            id: recording.id.clone(),
                            url: recording.url.clone(),
                            format: recording.format,
                            source: RecordingSource::Conference { name: room.clone(), uuid: uuid.to_string() },
                            started_at: recording.started_at,
                            added_at: now,
                            duration_ms: u64::try_from(ms).unwrap_or(u64::MAX),
                        });
                    }
                    self.media.handle_room_event(now, &ev);
                    self.transcript.room_event(now, &ev);
                }
                EngineOutput::Request(req) => {
                    self.transcript.request(now, None, &req);
                    self.outbox.push_back((None, req));
                }
            }
        }
    }
}
