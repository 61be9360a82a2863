//! The driver task: owns a [`Runtime`] (engine, rooms, and the media of its [`Shell`]: the
//! simulated far ends of `serve`, or the real calls of `serve --sip`) and runs it on the real
//! clock. Everything else talks to it through [`Job`]s, and the shell through its own events.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tracing::Instrument;

use super::record::{self, Recorder, Slot};
use super::recording_files::RecordingFiles;
use super::webhook::Webhooks;
use crate::cassette::RecordedReply;
use crate::engine::{
    CallEnd, CallId, CallOp, CallOpError, CallSetup, CallStatus, ConferenceError, EngineError, FetchReply, HttpRequest,
    Input, RecordingRef, Reply, RequestId, RoomSnapshot,
};
use crate::media::{FarEnd, FarEndError, FarEndKey, FarEnds, Media, SimulatedMedia};
use crate::runtime::{Line, LineKind, OpResult, OutboundPlan, Recording, RoomOp, Runtime};

/// What runs the calls' media around the driver's [`Runtime`]: [`Simulated`] (`serve`: far
/// ends and media simulated on the driver's clock) or the SIP shell (`serve --sip`: SIP
/// dialogs, RTP legs, rendered speech). The driver owns it on its task; it calls
/// [`Shell::service`] after every change to the runtime, until it has nothing left to do.
pub trait Shell: Send + 'static {
    /// The media the runtime runs on.
    type Media: Media + Send + 'static;
    /// What only this shell hears of (an INVITE, an RTP datagram, rendered audio), sent on the
    /// channel given to [`Driver::spawn_shell`].
    type Event: Send + 'static;

    /// One event of this shell's, at `now` on the driver's clock.
    fn handle(&mut self, rt: &mut Runtime<Self::Media>, now: Duration, event: Self::Event);

    /// Carries out what the media asks of the shell (answer, hang up, render, send the frames
    /// the calls hear); true when it did something (the runtime may then have more to do).
    fn service(&mut self, rt: &mut Runtime<Self::Media>, now: Duration) -> bool;

    /// A call the runtime forgot (ended, its notifications sent): its resources go.
    fn forgotten(&mut self, setup: &CallSetup);

    /// Starts a call the REST API asked for under `plan`: an outbound call (`POST Call/`,
    /// "Make a call") or `/sim/Call/`'s simulated inbound one.
    ///
    /// # Errors
    /// [`StartRefused::Engine`] when the engine refuses it, [`StartRefused::NotSupported`]
    /// when this shell starts no such calls.
    fn start_call(
        &mut self,
        rt: &mut Runtime<Self::Media>,
        now: Duration,
        setup: CallSetup,
        plan: &OutboundPlan,
    ) -> Result<CallId, StartRefused>;

    /// The far-end table of `/sim/FarEnd/`, when the far ends are simulated.
    fn far_ends<'a>(&mut self, rt: &'a mut Runtime<Self::Media>) -> Option<&'a mut FarEnds>;
}

/// `serve`'s shell: the far ends and media are [`SimulatedMedia`]'s, on the driver's clock;
/// it has no events of its own.
#[derive(Debug, Default, Clone, Copy)]
pub struct Simulated;

impl Shell for Simulated {
    type Media = SimulatedMedia;
    type Event = std::convert::Infallible;

    fn handle(&mut self, _: &mut Runtime, _: Duration, event: Self::Event) {
        match event {}
    }

    fn service(&mut self, _: &mut Runtime, _: Duration) -> bool {
        false
    }

    fn forgotten(&mut self, _: &CallSetup) {}

    fn start_call(
        &mut self,
        rt: &mut Runtime,
        now: Duration,
        setup: CallSetup,
        plan: &OutboundPlan,
    ) -> Result<CallId, StartRefused> {
        Ok(rt.start_outbound(now, setup, plan)?)
    }

    fn far_ends<'a>(&mut self, rt: &'a mut Runtime) -> Option<&'a mut FarEnds> {
        Some(rt.media_mut().far_ends_mut())
    }
}

/// What a live call looks like from outside: its setup, status and the verb it runs.
pub type LiveCall = (CallSetup, CallStatus, Option<&'static str>);

/// Whether a call is queued in Plivo's sense: an outbound call not answered yet (`GET
/// Call/?status=queued`, `DELETE Request/{request_uuid}/`).
pub(crate) fn is_queued(setup: &CallSetup, status: CallStatus) -> bool {
    setup.direction == crate::engine::Direction::Outbound && status == CallStatus::Ringing
}

/// What `DELETE Request/{request_uuid}/` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancelled {
    /// The call was queued (not answered): it hung up.
    HungUp,
    /// The call of this request was answered already (its id): nothing was done.
    Answered(CallId),
    /// No live call has this request uuid.
    NotFound,
}

/// Why calls were not started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartRefused {
    /// They would take the live calls beyond the limit; none started.
    #[error("too many calls: {live} are live and at most {max} may be")]
    TooManyCalls {
        /// Live calls now.
        live: usize,
        /// The limit.
        max: usize,
    },
    /// This shell places no outbound calls (`serve --sip` has no SIP gateway yet).
    #[error("{0}")]
    NotSupported(&'static str),
    /// The engine refused one (the ones before it started).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Work for the driver, run on the runtime at the current time. The closed list of what the
/// REST API and the webhooks may ask of it.
#[derive(Debug)]
enum Job {
    /// Start these calls, all or none when they would pass `max_calls` live calls.
    StartCalls {
        setups: Vec<(CallSetup, OutboundPlan)>,
        max_calls: usize,
        done: oneshot::Sender<Result<Vec<CallId>, StartRefused>>,
    },
    /// A change to, or a look at, the far-end table (`/sim/FarEnd/`); the table after it.
    FarEnd { op: FarEndOp, done: oneshot::Sender<Result<Vec<(FarEndKey, FarEnd)>, FarEndError>> },
    /// A REST room operation.
    RoomOp { op: RoomOp, done: oneshot::Sender<Result<OpResult, ConferenceError>> },
    /// The names of the account's live conferences.
    ListRooms { done: oneshot::Sender<Vec<String>> },
    /// One conference.
    GetRoom { name: String, done: oneshot::Sender<Result<RoomSnapshot, ConferenceError>> },
    /// `DELETE Request/{request_uuid}/`: hang up the outbound call of this request if it is
    /// still queued (not answered), in one step, so that it cannot be answered in between.
    CancelRequest { request: String, done: oneshot::Sender<Cancelled> },
    /// One live call.
    LiveCall { id: CallId, done: oneshot::Sender<Option<LiveCall>> },
    /// Every live call (for `GET Call/?status=live|queued` and its filters).
    LiveCallList { done: oneshot::Sender<Vec<LiveCall>> },
    /// A page of the finished recordings that match, most recent first, and how many match.
    ListRecordings {
        filter: Box<super::recordings::RecordingFilter>,
        page: super::lists::Page,
        done: oneshot::Sender<(Vec<Recording>, usize)>,
    },
    /// One finished recording.
    GetRecording { id: String, done: oneshot::Sender<Option<Recording>> },
    /// Deletes a finished recording; false when there is none.
    DeleteRecording { id: String, done: oneshot::Sender<bool> },
    /// A Call API operation on a live call (play, speak, DTMF, record).
    CallOp { id: CallId, op: CallOp, done: oneshot::Sender<Result<Option<RecordingRef>, CallOpError>> },
    /// An input to a live call; false when it is not live.
    Input { id: CallId, input: Input, done: oneshot::Sender<bool> },
    /// A fetched document's reply; the fetch counts as in flight until it is delivered. With
    /// `serve --record`, also where it goes in the call's cassette and what came back.
    Deliver {
        call: CallId,
        request: RequestId,
        reply: FetchReply,
        fetch: InFlightGuard,
        trace: Option<(Slot, RecordedReply)>,
    },
    /// `serve --record`: a notification's reply, for the call's cassette.
    Replied { slot: Slot, reply: RecordedReply },
    /// A call's notification has finished or has held its queue long enough: the next one
    /// may start.
    NotifyNext { key: Option<CallId> },
    /// A notification failed (after its retries): a `reply` line says so.
    NotifyFailed { call: Option<CallId>, url: String, reason: String, notice: InFlightGuard },
    /// The live figures of `GET /metrics`' gauges.
    Live { done: oneshot::Sender<super::metrics::Live> },
    /// Answer true once nothing is in flight and nothing is due; false at once when
    /// [`MAX_SETTLE_WAITERS`] wait already.
    Settled { done: oneshot::Sender<bool> },
}

/// What a `/sim/FarEnd/` request does to the far-end table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FarEndOp {
    /// Sets (or replaces) one entry.
    Set(FarEndKey, FarEnd),
    /// Removes one entry (no error when there is none).
    Remove(FarEndKey),
    /// Removes every entry.
    Clear,
    /// Changes nothing.
    List,
}

/// How many transcript lines the driver keeps for `GET /sim/Transcript`.
const RECENT_LINES: usize = 10_000;
/// How many ended calls the driver remembers for `GET Call/` and `GET Call/{uuid}/`.
const HISTORY: usize = 10_000;

/// Settings of the driver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriverConfig {
    /// How long one of a call's notifications may hold back the ones behind it: after this the
    /// next one starts while the first goes on (until its own total timeout).
    pub notify_hold: Duration,
    /// Wall seconds per second of the calls' clock (`serve --speed`; 1 = real time, 0.05 =
    /// twenty times faster). Every timer of the engine and the media (`<Wait>`, timeouts, time
    /// limits, media) and every time reported to the application (`Duration`,
    /// `RecordingDuration`, …) run on that one clock. Not finite or not above 0: 1.
    pub time_scale: f64,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig { notify_hold: Duration::from_secs(5), time_scale: 1.0 }
    }
}

/// The calls' clock: wall time since the driver started, divided by the time scale.
#[derive(Debug, Clone, Copy)]
struct Clock {
    start: Instant,
    scale: f64,
}

impl Clock {
    fn new(scale: f64) -> Clock {
        Clock { start: Instant::now(), scale: if scale.is_finite() && scale > 0.0 { scale } else { 1.0 } }
    }

    /// Now, on the calls' clock.
    fn now(&self) -> Duration {
        let wall = self.start.elapsed();
        if self.scale == 1.0 { wall } else { wall.div_f64(self.scale) }
    }

    /// The wall time until `due` (on the calls' clock).
    fn wall_until(&self, due: Duration) -> Duration {
        let left = due.saturating_sub(self.now());
        if self.scale == 1.0 { left } else { left.mul_f64(self.scale) }
    }
}

/// What is kept of an ended call.
pub type CallRecord = (CallSetup, CallEnd);

/// One line of the recent transcript (`GET /sim/Transcript/`), kept compactly: a call's name
/// is its shared id, and the rare parts (request parameters, diagnostics) are boxed, the
/// parameters as their JSON object text.
#[derive(Debug, Clone)]
pub struct Entry {
    at_ms: u64,
    /// Milliseconds since the call's first line (its start); `None` for lines of no call.
    call_ms: Option<u64>,
    who: Who,
    kind: LineKind,
    text: Box<str>,
    extra: Option<Box<Extra>>,
}

/// Whom an [`Entry`] is about.
#[derive(Debug, Clone)]
enum Who {
    /// A live call, named by its id (shared with the engine's).
    Call(CallId),
    /// `api`, `room NAME`, a named call.
    Text(Box<str>),
}

impl Who {
    fn as_str(&self) -> &str {
        match self {
            Who::Call(c) => c.as_str(),
            Who::Text(t) => t,
        }
    }
}

/// The parts of an [`Entry`] most lines do not have.
#[derive(Debug, Clone)]
struct Extra {
    /// A request line's parameters, all of them, as one JSON object's text (empty: none).
    params: Box<str>,
    /// Rendered diagnostics (for `invalid-document` lines).
    diagnostics: Box<[String]>,
}

impl Entry {
    fn new(line: Line, call_ms: Option<u64>, call: Option<&CallId>) -> Entry {
        let Line { at_ms, who, kind, text, params, diagnostics } = line;
        let who = match call {
            Some(c) if c.as_str() == who => Who::Call(c.clone()),
            _ => Who::Text(who.into_boxed_str()),
        };
        let extra = if params.is_empty() && diagnostics.is_empty() {
            None
        } else {
            let params = if params.is_empty() {
                Box::from("")
            } else {
                let map: serde_json::Map<String, serde_json::Value> =
                    params.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
                serde_json::Value::Object(map).to_string().into_boxed_str()
            };
            Some(Box::new(Extra { params, diagnostics: diagnostics.into_boxed_slice() }))
        };
        Entry { at_ms, call_ms, who, kind, text: text.into_boxed_str(), extra }
    }

    /// Whom the line is about (a call's name, `room NAME`, `api`).
    pub fn who(&self) -> &str {
        self.who.as_str()
    }

    /// The line as the runtime wrote it, but for its parameters (see [`Entry::to_json`]).
    pub fn line(&self) -> Line {
        Line {
            at_ms: self.at_ms,
            who: self.who().to_owned(),
            kind: self.kind,
            text: self.text.to_string(),
            params: Vec::new(),
            diagnostics: self.extra.as_ref().map(|e| e.diagnostics.to_vec()).unwrap_or_default(),
        }
    }

    /// The line as one JSON object: `at_ms`, `call_ms`, `who`, `kind`, `text`, `params` (an
    /// object, empty for lines that are not requests) and `diagnostics` when there are some.
    pub fn to_json(&self) -> serde_json::Value {
        let params = match self.extra.as_deref() {
            Some(e) if !e.params.is_empty() => serde_json::from_str(&e.params).unwrap_or_default(),
            _ => serde_json::Value::Object(serde_json::Map::new()),
        };
        let mut v = serde_json::json!({
            "at_ms": self.at_ms,
            "call_ms": self.call_ms,
            "who": self.who(),
            "kind": self.kind,
            "text": self.text,
            "params": params,
        });
        if let Some(e) = self.extra.as_deref()
            && !e.diagnostics.is_empty()
        {
            v["diagnostics"] = serde_json::json!(e.diagnostics);
        }
        v
    }
}

/// The recent transcript, and when each live call started (for `call_ms`).
#[derive(Debug)]
struct Recent {
    lines: VecDeque<Entry>,
    /// By the engine's own id (shared, not a copy of the text).
    starts: HashMap<CallId, u64>,
}

impl Default for Recent {
    fn default() -> Self {
        // Reserved once at its bound: grown by doubling, the ring would end at 16,384 slots.
        Recent { lines: VecDeque::with_capacity(RECENT_LINES), starts: HashMap::new() }
    }
}

/// A handle on the driver task.
#[derive(Debug, Clone)]
pub struct Driver {
    tx: mpsc::Sender<Job>,
    recent: Arc<Mutex<Recent>>,
    history: Arc<Mutex<VecDeque<CallRecord>>>,
    /// The recording files of real calls (`serve --sip`); `None` in `serve`, whose files are
    /// a synthetic tone ([`super::media_files`]).
    files: Option<RecordingFiles>,
    /// Ends the task when the last handle goes (the task holds a sender of its own, for its
    /// fetches' replies, so its channel never closes by itself).
    _task: Arc<AbortOnDrop>,
}

/// Aborts its task when dropped.
#[derive(Debug)]
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Requests on the wire or waiting for it (document fetches and notifications).
#[derive(Debug, Default)]
struct InFlight(AtomicUsize);

impl InFlight {
    fn start(self: &Arc<Self>) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.clone())
    }

    fn is_idle(&self) -> bool {
        self.0.load(Ordering::SeqCst) == 0
    }
}

/// One request in flight, until dropped.
#[derive(Debug)]
struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Driver {
    /// Starts the driver task on the current tokio runtime; `rt` runs on the real clock from
    /// now.
    pub fn spawn(rt: Runtime, webhooks: Webhooks, config: DriverConfig) -> Driver {
        Self::spawn_recording(rt, webhooks, config, None)
    }

    /// [`Driver::spawn`], recording cassettes with `recorder` (`serve --record`).
    pub fn spawn_recording(
        rt: Runtime,
        webhooks: Webhooks,
        config: DriverConfig,
        recorder: Option<Recorder>,
    ) -> Driver {
        Self::spawn_task(rt, Simulated, None, webhooks, config, recorder)
    }

    /// Starts the driver task of a runtime whose media `shell` runs (`serve --sip`); the
    /// shell's events come on `events`. `config.time_scale` should be 1: real media run on
    /// the wall clock.
    pub fn spawn_shell<S: Shell>(
        rt: Runtime<S::Media>,
        shell: S,
        events: mpsc::Receiver<S::Event>,
        webhooks: Webhooks,
        config: DriverConfig,
    ) -> Driver {
        Self::spawn_task(rt, shell, Some(events), webhooks, config, None)
    }

    fn spawn_task<S: Shell>(
        rt: Runtime<S::Media>,
        shell: S,
        events: Option<mpsc::Receiver<S::Event>>,
        webhooks: Webhooks,
        config: DriverConfig,
        recorder: Option<Recorder>,
    ) -> Driver {
        let (tx, rx) = mpsc::channel::<Job>(1024);
        let recent = Arc::new(Mutex::new(Recent::default()));
        let history = Arc::new(Mutex::new(VecDeque::new()));
        let (driver_tx, driver_recent, driver_history) = (tx.clone(), recent.clone(), history.clone());
        let task = Task {
            rt,
            shell,
            tx,
            webhooks,
            config,
            recent,
            history,
            clock: Clock::new(config.time_scale),
            nonce: u64::from(std::process::id()) << 32,
            queues: HashMap::new(),
            fetches: HashMap::new(),
            in_flight: Arc::new(InFlight::default()),
            documents: Arc::new(Mutex::new(Documents::default())),
            waiting: Vec::new(),
            recorder,
        };
        let handle = tokio::spawn(task.drive(rx, events));
        Driver {
            tx: driver_tx,
            recent: driver_recent,
            history: driver_history,
            files: None,
            _task: Arc::new(AbortOnDrop(handle.abort_handle())),
        }
    }

    /// This driver with the store of its calls' real recording files (`serve --sip`): their
    /// `.wav` URLs serve those files, and deleting a recording deletes its file.
    #[must_use]
    pub fn with_recording_files(mut self, files: RecordingFiles) -> Driver {
        self.files = Some(files);
        self
    }

    /// The store of real recording files, if this driver has one.
    pub fn recording_files(&self) -> Option<&RecordingFiles> {
        self.files.as_ref()
    }

    /// Sends `job` made with a reply channel and waits for the answer; `None` when the
    /// driver has stopped.
    async fn ask<R>(&self, job: impl FnOnce(oneshot::Sender<R>) -> Job) -> Option<R> {
        let (done, answer) = oneshot::channel();
        self.tx.send(job(done)).await.ok()?;
        answer.await.ok()
    }

    /// Starts `setups` (their ids are given by the driver), all or none when they would take
    /// the live calls beyond `max_calls`.
    pub async fn start_calls(
        &self,
        setups: Vec<CallSetup>,
        max_calls: usize,
    ) -> Option<Result<Vec<CallId>, StartRefused>> {
        let setups = setups.into_iter().map(|s| (s, OutboundPlan::default())).collect();
        self.ask(|done| Job::StartCalls { setups, max_calls, done }).await
    }

    /// [`Driver::start_calls`], each outbound call under its plan (REST "Make a call" options).
    pub async fn start_planned_calls(
        &self,
        setups: Vec<(CallSetup, OutboundPlan)>,
        max_calls: usize,
    ) -> Option<Result<Vec<CallId>, StartRefused>> {
        self.ask(|done| Job::StartCalls { setups, max_calls, done }).await
    }

    /// Applies `op` to the far-end table; the table after it, sorted by key.
    pub async fn far_end(&self, op: FarEndOp) -> Option<Result<Vec<(FarEndKey, FarEnd)>, FarEndError>> {
        self.ask(|done| Job::FarEnd { op, done }).await
    }

    /// Runs a REST room operation.
    pub async fn room_op(&self, op: RoomOp) -> Option<Result<OpResult, ConferenceError>> {
        self.ask(|done| Job::RoomOp { op, done }).await
    }

    /// The names of the live conferences.
    pub async fn rooms(&self) -> Option<Vec<String>> {
        self.ask(|done| Job::ListRooms { done }).await
    }

    /// One live conference.
    pub async fn room(&self, name: String) -> Option<Result<RoomSnapshot, ConferenceError>> {
        self.ask(|done| Job::GetRoom { name, done }).await
    }

    /// Cancels the queued outbound call of `request` (`DELETE Request/{request_uuid}/`).
    pub async fn cancel_request(&self, request: String) -> Option<Cancelled> {
        self.ask(|done| Job::CancelRequest { request, done }).await
    }

    /// One live call.
    pub async fn live_call(&self, id: CallId) -> Option<Option<LiveCall>> {
        self.ask(|done| Job::LiveCall { id, done }).await
    }

    /// Every live call, in no order.
    pub async fn live_call_list(&self) -> Option<Vec<LiveCall>> {
        self.ask(|done| Job::LiveCallList { done }).await
    }

    /// A page of the finished recordings that match `filter`, and how many match.
    pub(crate) async fn recordings(
        &self,
        filter: super::recordings::RecordingFilter,
        page: super::lists::Page,
    ) -> Option<(Vec<Recording>, usize)> {
        self.ask(|done| Job::ListRecordings { filter: Box::new(filter), page, done }).await
    }

    /// The finished recording `id`.
    pub async fn recording(&self, id: String) -> Option<Option<Recording>> {
        self.ask(|done| Job::GetRecording { id, done }).await
    }

    /// Deletes the finished recording `id`, and its file if the driver has a store of them;
    /// `Some(false)` when there is no such recording.
    pub async fn delete_recording(&self, id: String) -> Option<bool> {
        let files = self.files.clone();
        let deleted = self.ask(|done| Job::DeleteRecording { id: id.clone(), done }).await;
        if let (Some(files), Some(_)) = (files, deleted) {
            // Its files: `{id}.wav`, and `{id}.mp3` when it was recorded as mp3.
            files.remove(&format!("{id}.wav"));
            files.remove(&format!("{id}.mp3"));
        }
        deleted
    }

    /// Runs a Call API operation on the live call `id`.
    pub async fn call_op(&self, id: CallId, op: CallOp) -> Option<Result<Option<RecordingRef>, CallOpError>> {
        self.ask(|done| Job::CallOp { id, op, done }).await
    }

    /// Hands `input` to a live call; `Some(false)` when it is not live.
    pub async fn input(&self, id: CallId, input: Input) -> Option<bool> {
        self.ask(|done| Job::Input { id, input, done }).await
    }

    /// The live calls, rooms and room members (`GET /metrics`).
    pub async fn live_figures(&self) -> Option<super::metrics::Live> {
        self.ask(|done| Job::Live { done }).await
    }

    /// Returns true once the driver is settled: no request on the wire or waiting for it, and
    /// nothing due now (what is left waits for time to pass or for an outside event); false at
    /// once when [`MAX_SETTLE_WAITERS`] wait already.
    pub async fn settled(&self) -> Option<bool> {
        self.ask(|done| Job::Settled { done }).await
    }

    /// The ended calls that `keep`, most recent first: those of `page`, and how many there
    /// are in all.
    pub(crate) fn history_matching(
        &self,
        keep: impl Fn(&CallRecord) -> bool,
        page: super::lists::Page,
    ) -> (Vec<CallRecord>, usize) {
        let Ok(h) = self.history.lock() else { return (Vec::new(), 0) };
        let (records, total) = page.slice(h.iter().rev().filter(|r| keep(r)));
        (records.into_iter().cloned().collect(), total)
    }

    /// The record of the ended call `uuid`, if it is still remembered.
    pub fn record(&self, uuid: &str) -> Option<CallRecord> {
        self.history.lock().ok()?.iter().rev().find(|(s, _)| s.id.as_str() == uuid).cloned()
    }

    /// The most recent transcript lines, oldest first; only those of the call `call` when given.
    pub fn recent_transcript(&self, call: Option<&str>) -> Vec<Entry> {
        self.recent
            .lock()
            .map(|r| r.lines.iter().filter(|e| call.is_none_or(|c| e.who() == c)).cloned().collect())
            .unwrap_or_default()
    }

    /// Forgets the recent transcript lines.
    pub fn clear_transcript(&self) {
        if let Ok(mut r) = self.recent.lock() {
            r.lines.clear();
        }
    }
}

/// The driver task's state.
struct Task<S: Shell> {
    rt: Runtime<S::Media>,
    shell: S,
    /// For fetch tasks to hand their replies back.
    tx: mpsc::Sender<Job>,
    webhooks: Webhooks,
    config: DriverConfig,
    recent: Arc<Mutex<Recent>>,
    history: Arc<Mutex<VecDeque<CallRecord>>>,
    clock: Clock,
    nonce: u64,
    /// Notifications (callbacks, hangup_url) of one call go out one after the other, in the
    /// order the call made them; document fetches go out at once. By call (`None`: the
    /// rooms'). A call has an entry from when a notification of it is queued until a
    /// [`Job::NotifyNext`] finds none of its notifications waiting: while one holds the queue
    /// (on the wire for less than `notify_hold`) or waits its turn. A notification still on
    /// the wire after its hold, with none waiting behind it, keeps no entry; so a call costs
    /// nothing here between its notifications.
    queues: HashMap<Option<CallId>, NotifyQueue>,
    /// The document fetches in flight, by call and request: cancelled when the call is
    /// forgotten. A fetch's entry goes when its reply is delivered (an `AbortHandle` keeps
    /// the finished task's memory, which a parked call would otherwise hold for its life), and
    /// a call's entry when it has none left.
    fetches: HashMap<CallId, Vec<(RequestId, AbortHandle)>>,
    in_flight: Arc<InFlight>,
    /// Documents shared by the calls whose application answered the same body.
    documents: Arc<Mutex<Documents>>,
    /// Who waits for the driver to settle (at most [`MAX_SETTLE_WAITERS`]).
    waiting: Vec<oneshot::Sender<bool>>,
    /// `serve --record`: the live calls' cassettes.
    recorder: Option<Recorder>,
}

/// A notification for a call's queue (the call that made it; `None`: the rooms'), counted in
/// flight until it is sent, and where its reply goes in a cassette (`serve --record`).
type Notice = (HttpRequest, String, InFlightGuard, Option<CallId>, Option<Slot>);

/// One call's notifications: those waiting their turn, and whether one holds the queue.
#[derive(Debug, Default)]
struct NotifyQueue {
    waiting: VecDeque<Notice>,
    /// True from when the queue's first notification starts: one of its notifications holds
    /// the queue (it is on its way and has held it for less than `notify_hold`), and the
    /// others wait for its [`Job::NotifyNext`]. Never set back to false: the queue is removed
    /// instead when a `NotifyNext` finds nothing waiting.
    busy: bool,
}

impl<S: Shell> Task<S> {
    async fn drive(mut self, mut rx: mpsc::Receiver<Job>, mut events: Option<mpsc::Receiver<S::Event>>) {
        loop {
            self.rt.handle_timeout(self.clock.now());
            self.pump();
            self.forget();
            let due = self.rt.poll_timeout();
            self.waiting.retain(|w| !w.is_closed());
            if !self.waiting.is_empty() && self.in_flight.is_idle() && due.is_none_or(|t| t > self.clock.now()) {
                for w in self.waiting.drain(..) {
                    let _ = w.send(true);
                }
            }
            // While someone waits to see the driver settle, look again soon.
            let wait = due.map(|t| self.clock.wall_until(t));
            let wait =
                if self.waiting.is_empty() { wait } else { Some(wait.map_or(SETTLE_POLL, |w| w.min(SETTLE_POLL))) };
            tokio::select! {
                job = rx.recv() => match job {
                    Some(job) => {
                        let now = self.clock.now();
                        self.rt.handle_timeout(now);
                        self.run(now, job);
                    }
                    None => break,
                },
                event = next_event(&mut events) => {
                    let now = self.clock.now();
                    self.rt.handle_timeout(now);
                    self.shell.handle(&mut self.rt, now, event);
                }
                () = sleep(wait) => {}
            }
        }
    }

    /// Lets the shell carry out what the media asks until it has nothing left, then sends
    /// what the runtime asked for.
    fn pump(&mut self) {
        while self.shell.service(&mut self.rt, self.clock.now()) {}
        self.send_requests();
    }

    fn run(&mut self, now: Duration, job: Job) {
        let rt = &mut self.rt;
        match job {
            Job::StartCalls { setups, max_calls, done } => {
                let started = start_calls(rt, &mut self.shell, now, setups, max_calls);
                if let (Some(rec), Ok(ids)) = (self.recorder.as_mut(), &started) {
                    for id in ids {
                        if let Some(c) = rt.engine().call(id) {
                            rec.started(now, c.setup());
                        }
                    }
                }
                let _ = done.send(started);
            }
            Job::FarEnd { op, done } => {
                let Some(table) = self.shell.far_ends(rt) else {
                    let _ = done.send(Err(FarEndError::NotSimulated));
                    return;
                };
                let result = match op {
                    FarEndOp::Set(key, far) => table.set(key, far),
                    FarEndOp::Remove(key) => {
                        table.remove(&key);
                        Ok(())
                    }
                    FarEndOp::Clear => {
                        table.clear();
                        Ok(())
                    }
                    FarEndOp::List => Ok(()),
                };
                let _ = done.send(result.map(|()| table.list()));
            }
            Job::RoomOp { op, done } => {
                if let Some(rec) = self.recorder.as_mut() {
                    rec.room_op(now, &op);
                }
                let _ = done.send(rt.room_op(now, &op));
            }
            Job::ListRooms { done } => {
                let _ = done.send(rt.engine().rooms().list(rt.account()));
            }
            Job::GetRoom { name, done } => {
                let _ = done.send(rt.engine().rooms().get(now, rt.account(), &name));
            }
            Job::CancelRequest { request, done } => {
                let found = rt
                    .engine()
                    .calls()
                    .find(|c| !c.is_ended() && c.setup().request_uuid.as_deref() == Some(request.as_str()))
                    .map(|c| (c.id().clone(), is_queued(c.setup(), c.status())));
                let answer = match found {
                    Some((id, true)) => {
                        let input = Input::Hangup { source: crate::engine::HangupSource::ApiRequest };
                        if let Some(rec) = self.recorder.as_mut() {
                            rec.input(now, &id, &input);
                        }
                        let _ = rt.handle_input(now, &id, input);
                        Cancelled::HungUp
                    }
                    Some((id, false)) => Cancelled::Answered(id),
                    None => Cancelled::NotFound,
                };
                let _ = done.send(answer);
            }
            Job::LiveCall { id, done } => {
                let call = rt.engine().call(&id).filter(|c| !c.is_ended());
                let _ = done.send(call.map(|c| (c.setup().clone(), c.status(), c.current_verb())));
            }
            Job::LiveCallList { done } => {
                let live = rt.engine().calls().filter(|c| !c.is_ended());
                let _ = done.send(live.map(|c| (c.setup().clone(), c.status(), c.current_verb())).collect());
            }
            Job::ListRecordings { filter, page, done } => {
                let (page, total) = page.slice(rt.recordings().iter().filter(|r| filter.matches(r, now)));
                let _ = done.send((page.into_iter().cloned().collect(), total));
            }
            Job::GetRecording { id, done } => {
                let _ = done.send(rt.recordings().get(&id).cloned());
            }
            Job::DeleteRecording { id, done } => {
                let _ = done.send(rt.recordings_mut().delete(&id));
            }
            Job::CallOp { id, op, done } => {
                let _ = done.send(rt.call_op(now, &id, op));
            }
            Job::Input { id, input, done } => {
                let live = rt.engine().call(&id).is_some_and(|c| !c.is_ended());
                if live && let Some(rec) = self.recorder.as_mut() {
                    rec.input(now, &id, &input);
                }
                let _ = done.send(live && rt.handle_input(now, &id, input).is_ok());
            }
            Job::Replied { slot, reply } => {
                if let Some(done) = self.recorder.as_mut().and_then(|r| r.replied(slot, reply, true)) {
                    record::write(done.0, done.1);
                }
            }
            Job::Deliver { call, request, reply, fetch, trace } => {
                if let Some((slot, traced)) = trace
                    && let Some(done) = self.recorder.as_mut().and_then(|r| r.replied(slot, traced, false))
                {
                    record::write(done.0, done.1);
                }
                if let Some(list) = self.fetches.get_mut(&call) {
                    list.retain(|(r, t)| *r != request && !t.is_finished());
                    if list.is_empty() {
                        self.fetches.remove(&call);
                    }
                }
                rt.deliver(now, &call, request, reply);
                // Its requests are on their way before the fetch stops counting.
                self.pump();
                drop(fetch);
            }
            Job::NotifyNext { key } => self.notify_next(key),
            Job::NotifyFailed { call, url, reason, notice } => {
                let who = call.map_or_else(|| "room".to_owned(), |c| rt.transcript().name(&c));
                rt.transcript_mut().line(now, &who, LineKind::Reply, format!("{url} failed: {reason}"));
                drop(notice);
            }
            Job::Live { done } => {
                let rooms = rt.engine().rooms();
                let live = super::metrics::Live {
                    calls: rt.engine().calls().count(),
                    rooms: rooms.len(),
                    members: rooms.member_total(),
                };
                let _ = done.send(live);
            }
            Job::Settled { done } => {
                if self.waiting.len() < MAX_SETTLE_WAITERS {
                    self.waiting.push(done);
                } else {
                    let _ = done.send(false);
                }
            }
        }
    }

    /// Sends what the runtime asked for and logs its transcript lines.
    fn send_requests(&mut self) {
        while let Some((call, req)) = self.rt.poll_request() {
            let now = self.clock.now();
            let slot = self.recorder.as_mut().and_then(|r| r.request(now, call.as_ref(), &req));
            self.nonce = self.nonce.wrapping_add(0x9E37_79B9);
            let nonce = format!("{:020}", self.nonce);
            let guard = self.in_flight.start();
            if req.reply == Reply::Ignore {
                let key = call.clone();
                let queue = self.queues.entry(key.clone()).or_default();
                queue.waiting.push_back((req, nonce, guard, call, slot));
                if !queue.busy {
                    self.notify_next(key);
                }
                continue;
            }
            let (hooks, back, documents) = (self.webhooks.clone(), self.tx.clone(), self.documents.clone());
            let (key, request) = (call.clone(), req.id);
            let span = call_span(call.as_ref());
            let task = tokio::spawn(
                async move {
                    let permit = hooks.permit(&req).await;
                    // The application's time: from when the request may go on the wire.
                    let started = Instant::now();
                    let (raw, status) = hooks.send_traced(permit, &req, &nonce).await;
                    let trace = slot.map(|s| (s, RecordedReply::new(&raw, status, started.elapsed())));
                    let reply = checked(raw, &documents);
                    tracing::debug!(url = %req.url, "document fetched");
                    if let Some(call) = call {
                        let _ = back.send(Job::Deliver { call, request: req.id, reply, fetch: guard, trace }).await;
                    }
                }
                .instrument(span),
            );
            if let Some(key) = key {
                let list = self.fetches.entry(key).or_default();
                list.retain(|(_, t)| !t.is_finished());
                list.push((request, task.abort_handle()));
            }
        }
        log(&mut self.rt, &self.recent);
    }

    /// Sends the next of `key`'s notifications, if there is one; a queue left empty goes.
    fn notify_next(&mut self, key: Option<CallId>) {
        let Some(queue) = self.queues.get_mut(&key) else { return };
        let Some(notice) = queue.waiting.pop_front() else {
            self.queues.remove(&key);
            return;
        };
        queue.busy = true;
        let span = call_span(key.as_ref());
        tokio::spawn(
            notify(self.webhooks.clone(), self.config.notify_hold, self.tx.clone(), key, notice).instrument(span),
        );
    }

    /// Forgotten calls keep a record, their queued notifications still go out, and their
    /// document fetches stop, retries and all.
    fn forget(&mut self) {
        let gone = self.rt.forget_ended_calls();
        if gone.is_empty() {
            return;
        }
        if let Ok(mut r) = self.recent.lock() {
            for (setup, _) in &gone {
                r.starts.remove(&setup.id);
            }
        }
        for (setup, end) in &gone {
            metrics::counter!(super::metrics::CALLS_ENDED, "hangup_cause" => end.cause.name()).increment(1);
            self.shell.forgotten(setup);
            if let Some(done) = self.recorder.as_mut().and_then(|r| r.ended(setup.id.as_str())) {
                record::write(done.0, done.1);
            }
            for (_, task) in self.fetches.remove(&setup.id).unwrap_or_default() {
                task.abort();
            }
        }
        if let Ok(mut h) = self.history.lock() {
            for record in gone {
                if h.len() == HISTORY {
                    h.pop_front();
                }
                h.push_back(record);
            }
        }
    }
}

/// The most `settled` requests that wait at once; more are answered false at once.
pub const MAX_SETTLE_WAITERS: usize = 1024;

/// How often the driver looks whether it has settled while someone waits for it.
const SETTLE_POLL: Duration = Duration::from_millis(5);

/// Starts the calls, all or none when they would pass `max` live calls; each gets a fresh id.
fn start_calls<S: Shell>(
    rt: &mut Runtime<S::Media>,
    shell: &mut S,
    now: Duration,
    setups: Vec<(CallSetup, OutboundPlan)>,
    max: usize,
) -> Result<Vec<CallId>, StartRefused> {
    let live = rt.engine().calls().count();
    if live.saturating_add(setups.len()) > max {
        return Err(StartRefused::TooManyCalls { live, max });
    }
    let mut ids = Vec::with_capacity(setups.len());
    for (mut setup, plan) in setups {
        setup.id = CallId::from(rt.new_uuid());
        ids.push(shell.start_call(rt, now, setup, &plan)?);
    }
    Ok(ids)
}

/// A fetched body parsed off the driver task: a valid document goes to the call parsed; an
/// invalid one goes as it came, and the call reports its diagnostics and, for an answer URL,
/// requests `fallback_url` (the engine's rule, the same in `run`/`test`). Calls whose
/// application answered the same body share one parsed document ([`Documents`]).
fn checked(reply: FetchReply, documents: &Mutex<Documents>) -> FetchReply {
    let FetchReply::Body(body) = reply else { return reply };
    // A body too long to be shared is not looked up (nor hashed under the lock).
    if body.len() <= MAX_SHARED_BODY
        && let Some(doc) = documents.lock().ok().and_then(|d| d.get(&body))
    {
        return FetchReply::Document(doc);
    }
    let parsed = crate::xml::parse(&body);
    if parsed.has_errors() {
        return FetchReply::Body(body);
    }
    let mut document = parsed.document;
    // The parser grows its lists by doubling; a parked call keeps its document for its life.
    document.verbs.shrink_to_fit();
    let doc = Arc::new(document);
    if let Ok(mut d) = documents.lock() {
        d.insert(body, &doc);
    }
    FetchReply::Document(doc)
}

/// Parsed documents by the body they were parsed from, so that calls whose application
/// answered the same bytes share one (documents are immutable, and a document does not know
/// the URL it came from: relative URLs are resolved by each call against its own). Holds
/// them weakly: a document lives while a call runs it. Bounded: bodies of at most
/// [`MAX_SHARED_BODY`] bytes, at most [`MAX_SHARED`] entries and [`MAX_SHARED_BYTES`] of
/// bodies. When a new body would pass a bound, one sweep drops the entries whose document is
/// gone; if that frees less than an eighth of either bound, live entries go too (in the map's
/// order, which is arbitrary, not by age) until the table is at three quarters of both. An
/// evicted live document stays with its calls; the next call answered that body parses it
/// afresh. So a sweep (O([`MAX_SHARED`])) comes at most once per [`MAX_SHARED`]` / 8` new
/// entries or [`MAX_SHARED_BYTES`]` / 8` new bytes, and an insert costs amortised O(1).
#[derive(Debug, Default)]
struct Documents {
    by_body: HashMap<Box<str>, std::sync::Weak<crate::xml::Document>>,
    /// The bytes of the keys in `by_body`.
    bytes: usize,
    /// How many sweeps ran (for the debug log and the tests).
    sweeps: u64,
}

/// The longest body whose document is shared.
const MAX_SHARED_BODY: usize = 16 * 1024;
/// The most shared documents.
const MAX_SHARED: usize = 4096;
/// The most bytes of bodies kept as keys.
const MAX_SHARED_BYTES: usize = 4 * 1024 * 1024;

impl Documents {
    /// The live document parsed from `body`, if one is known.
    fn get(&self, body: &str) -> Option<Arc<crate::xml::Document>> {
        self.by_body.get(body)?.upgrade()
    }

    /// Whether `entries` entries and `bytes` bytes of bodies fit in `num / den` of the bounds.
    fn within(entries: usize, bytes: usize, num: usize, den: usize) -> bool {
        entries <= MAX_SHARED / den * num && bytes <= MAX_SHARED_BYTES / den * num
    }

    /// Remembers `doc` as the document of `body` (a body longer than [`MAX_SHARED_BODY`] is
    /// not kept).
    fn insert(&mut self, body: String, doc: &Arc<crate::xml::Document>) {
        if body.len() > MAX_SHARED_BODY {
            return;
        }
        if let Some(slot) = self.by_body.get_mut(body.as_str()) {
            // The same body again (its document was gone, or two fetches parsed it at once).
            *slot = Arc::downgrade(doc);
            return;
        }
        let new = body.len();
        if !Self::within(self.by_body.len() + 1, self.bytes + new, 1, 1) {
            self.sweeps += 1;
            let bytes = &mut self.bytes;
            self.by_body.retain(|k, d| {
                let live = d.strong_count() > 0;
                if !live {
                    *bytes -= k.len();
                }
                live
            });
            // Less than an eighth free in either bound: make a quarter free in both.
            if !Self::within(self.by_body.len() + 1, self.bytes + new, 7, 8) {
                let (mut entries, bytes) = (self.by_body.len(), &mut self.bytes);
                self.by_body.retain(|k, _| {
                    if Self::within(entries + 1, *bytes + new, 3, 4) {
                        return true;
                    }
                    entries -= 1;
                    *bytes -= k.len();
                    false
                });
            }
            tracing::debug!(sweeps = self.sweeps, kept = self.by_body.len(), "shared documents swept");
        }
        let body = body.into_boxed_str();
        self.bytes += body.len();
        self.by_body.insert(body, Arc::downgrade(doc));
    }
}

/// Sends one of a call's notifications; once it has finished or has held the queue for
/// `hold` (it then goes on beside the next one), the driver starts the call's next one
/// ([`Job::NotifyNext`]), so that each call's notifications go out in order.
///
/// A notification that fails (no connection, a timeout, a status other than 2xx, after the
/// retries its URL's policy allows) is logged as a warning and written to the transcript as a
/// `reply` line of its call, `URL failed: REASON`; it counts as in flight until that line is
/// written.
async fn notify(webhooks: Webhooks, hold: Duration, back: mpsc::Sender<Job>, key: Option<CallId>, notice: Notice) {
    let (req, nonce, guard, call, slot) = notice;
    // Whatever happens to this task (it panics, or is dropped), the queue is handed on.
    let next = NotifyNext { back: back.clone(), key: Some(key) };
    // The hold counts from the moment the request may go on the wire.
    let permit = webhooks.permit(&req).await;
    let (hooks, back2) = (webhooks.clone(), back.clone());
    let mut task = tokio::spawn(async move {
        let started = Instant::now();
        let (reply, status) = hooks.send_traced(permit, &req, &nonce).await;
        tracing::debug!(url = %req.url, ?reply, "notification sent");
        if let Some(slot) = slot {
            let reply = RecordedReply::new(&reply, status, started.elapsed());
            let _ = back2.send(Job::Replied { slot, reply }).await;
        }
        if let FetchReply::Failed(reason) = reply {
            tracing::warn!(url = %req.url, %reason, "notification failed");
            let url = req.url;
            let _ = back2.send(Job::NotifyFailed { call, url, reason, notice: guard }).await;
        } else {
            drop(guard);
        }
    });
    if tokio::time::timeout(hold, &mut task).await.is_err() {
        tracing::debug!(?hold, "a notification is slow; the next one starts beside it");
    }
    next.send().await;
}

/// Sends [`Job::NotifyNext`] for a call's queue once: with [`NotifyNext::send`], or when
/// dropped unsent (the notification's task panicked or was cancelled), so that the queue is
/// never left busy.
struct NotifyNext {
    back: mpsc::Sender<Job>,
    /// `None` once sent.
    key: Option<Option<CallId>>,
}

impl NotifyNext {
    /// Sends it, waiting for room in the driver's channel.
    async fn send(mut self) {
        if let Some(key) = self.key.take() {
            let _ = self.back.send(Job::NotifyNext { key }).await;
        }
    }
}

impl Drop for NotifyNext {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        match self.back.try_send(Job::NotifyNext { key }) {
            // The channel is full: wait for room in a task of its own.
            Err(mpsc::error::TrySendError::Full(job)) => {
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    let back = self.back.clone();
                    rt.spawn(async move {
                        let _ = back.send(job).await;
                    });
                }
            }
            // Sent, or the driver is gone.
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// The span of what is done for a call (its webhooks, its SIP dialog and media in `serve
/// --sip`): `call{call_uuid=…}`, `room` for the rooms' own notifications. The transcript's
/// log lines carry the same span.
pub fn call_span(call: Option<&CallId>) -> tracing::Span {
    tracing::info_span!("call", call_uuid = call.map_or("room", |c| c.as_str()))
}

/// The next of a shell's events; never, when it has no channel or the channel closed.
async fn next_event<E>(events: &mut Option<mpsc::Receiver<E>>) -> E {
    match events {
        Some(rx) => match rx.recv().await {
            Some(e) => e,
            None => {
                *events = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

async fn sleep(wait: Option<Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

fn log<M: Media>(rt: &mut Runtime<M>, recent: &Mutex<Recent>) {
    let lines = rt.take_transcript();
    if lines.is_empty() {
        return;
    }
    let Ok(mut recent) = recent.lock() else { return };
    for line in lines {
        let span = tracing::info_span!("call", call_uuid = %line.who);
        let _enter = span.enter();
        tracing::info!(kind = line.kind.as_str(), "{}", line.text);
        // The text leaves the standard parameters out; the debug level shows them all.
        if line.kind == LineKind::Request {
            tracing::debug!(params = ?line.params, "request parameters");
        }
        for d in &line.diagnostics {
            tracing::warn!("{d}");
        }
        let call = rt.engine().call(&CallId::from(line.who.as_str())).map(|c| c.id());
        let call_ms = call.map(|c| {
            let started = *recent.starts.entry(c.clone()).or_insert(line.at_ms);
            line.at_ms.saturating_sub(started)
        });
        if recent.lines.len() == RECENT_LINES {
            recent.lines.pop_front();
        }
        recent.lines.push_back(Entry::new(line, call_ms, call));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "<Response><Conference>Room</Conference></Response>";

    #[test]
    fn calls_answered_the_same_body_share_one_document() {
        let documents = Mutex::new(Documents::default());
        let a = checked(FetchReply::Body(DOC.to_owned()), &documents);
        let b = checked(FetchReply::Body(DOC.to_owned()), &documents);
        let (FetchReply::Document(a), FetchReply::Document(b)) = (a, b) else { panic!("both parse") };
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(*a, crate::xml::parse(DOC).document);
        // Once no call holds it, the next fetch parses afresh (and shares that one).
        drop((a, b));
        let c = checked(FetchReply::Body(DOC.to_owned()), &documents);
        assert!(matches!(c, FetchReply::Document(_)));
        assert_eq!(documents.lock().map(|d| (d.by_body.len(), d.bytes)).ok(), Some((1, DOC.len())));
    }

    #[test]
    fn an_invalid_body_goes_as_it_came_and_is_not_kept() {
        let documents = Mutex::new(Documents::default());
        let body = "<Response><Foo/></Response>".to_owned();
        assert!(matches!(checked(FetchReply::Body(body.clone()), &documents), FetchReply::Body(b) if b == body));
        assert_eq!(documents.lock().map(|d| d.by_body.len()).ok(), Some(0));
    }

    /// `n` distinct bodies of `len` bytes or more, numbered from `from`.
    fn bodies(from: usize, n: usize, len: usize) -> impl Iterator<Item = String> {
        (from..from + n).map(move |i| format!("<Response><Speak>{i:0len$}</Speak></Response>"))
    }

    fn keys_add_up(documents: &Documents) -> bool {
        documents.bytes == documents.by_body.keys().map(|k| k.len()).sum::<usize>()
    }

    #[test]
    fn the_shared_documents_are_bounded_and_swept_rarely() {
        let mut documents = Documents::default();
        // Every entry live (held by a call): the table fills and then evicts live entries.
        let live = Arc::new(crate::xml::parse(DOC).document);
        let n = 4 * MAX_SHARED;
        for body in bodies(0, n, 8) {
            documents.insert(body, &live);
            assert!(documents.by_body.len() <= MAX_SHARED);
            assert!(documents.bytes <= MAX_SHARED_BYTES);
        }
        assert!(keys_add_up(&documents));
        // The first sweep comes when the table is full, then at most one per eighth of it.
        let most = ((n - MAX_SHARED) / (MAX_SHARED / 8) + 1) as u64;
        assert!(documents.sweeps >= 1 && documents.sweeps <= most, "{} sweeps", documents.sweeps);
        // The newest body is always kept.
        let last = bodies(n - 1, 1, 8).next().unwrap_or_default();
        assert!(documents.get(&last).is_some());
        // A body too long to share is not kept.
        let long = format!("<Response><Speak>{}</Speak></Response>", "a".repeat(MAX_SHARED_BODY));
        documents.insert(long.clone(), &live);
        assert!(documents.get(&long).is_none());
    }

    #[test]
    fn the_bytes_bound_holds_with_long_bodies() {
        let mut documents = Documents::default();
        let live = Arc::new(crate::xml::parse(DOC).document);
        // Bodies of about 12 KiB: the bytes bound (4 MiB, ~340 bodies) comes first.
        let n = 4 * MAX_SHARED_BYTES / (12 * 1024);
        for body in bodies(0, n, 12 * 1024) {
            documents.insert(body, &live);
            assert!(documents.bytes <= MAX_SHARED_BYTES);
        }
        assert!(keys_add_up(&documents));
        assert!(documents.sweeps >= 1 && documents.sweeps <= ((n / (n / 4 / 8)) + 1) as u64);
    }

    #[test]
    fn gone_documents_go_before_live_ones() {
        let mut documents = Documents::default();
        let live = Arc::new(crate::xml::parse(DOC).document);
        let gone = Arc::new(crate::xml::parse(DOC).document);
        // Full, a quarter of it gone (every fourth entry's document has no call left).
        for (i, body) in bodies(0, MAX_SHARED, 8).enumerate() {
            documents.insert(body, if i % 4 == 0 { &gone } else { &live });
        }
        drop(gone);
        assert_eq!((documents.by_body.len(), documents.sweeps), (MAX_SHARED, 0));
        let new = bodies(MAX_SHARED, 1, 8).next().unwrap_or_default();
        documents.insert(new.clone(), &live);
        assert_eq!(documents.sweeps, 1);
        // Only the gone ones went: every live one is still shared.
        assert_eq!(documents.by_body.len(), MAX_SHARED - MAX_SHARED / 4 + 1);
        assert!(bodies(0, MAX_SHARED, 8).enumerate().all(|(i, b)| (i % 4 == 0) != documents.get(&b).is_some()));
        assert!(documents.get(&new).is_some());
        assert!(keys_add_up(&documents));
    }

    #[tokio::test]
    async fn a_notification_that_panics_still_hands_its_queue_on() {
        let (tx, mut rx) = mpsc::channel(1);
        let key = Some(CallId::from("c1"));
        // The channel is full: the guard's send waits in a task of its own.
        tx.try_send(Job::NotifyNext { key: None }).ok();
        let next = NotifyNext { back: tx.clone(), key: Some(key.clone()) };
        let task = tokio::spawn(async move {
            let _next = next;
            panic!("as if in `permit`");
        });
        assert!(task.await.is_err_and(|e| e.is_panic()));
        assert!(matches!(rx.recv().await, Some(Job::NotifyNext { key: None })));
        assert!(matches!(rx.recv().await, Some(Job::NotifyNext { key: k }) if k == key));
        // Sent once only: sending it does not send it again when it drops.
        NotifyNext { back: tx.clone(), key: Some(None) }.send().await;
        drop(tx);
        assert!(matches!(rx.recv().await, Some(Job::NotifyNext { key: None })));
        assert!(rx.recv().await.is_none());
    }

    #[test]
    fn an_entry_gives_back_its_line_and_parameters() {
        let line = Line {
            at_ms: 1500,
            who: "c1".to_owned(),
            kind: LineKind::Request,
            text: "POST https://app.example/answer".to_owned(),
            params: vec![("CallUUID".to_owned(), "c1".to_owned()), ("Digits".to_owned(), "1\"#".to_owned())],
            diagnostics: vec!["warning: W0101".to_owned()],
        };
        let call = CallId::from("c1");
        let entry = Entry::new(line.clone(), Some(20), Some(&call));
        assert_eq!(entry.who(), "c1");
        assert_eq!(entry.line().to_string(), line.to_string());
        let v = entry.to_json();
        assert_eq!(v["params"], serde_json::json!({ "CallUUID": "c1", "Digits": "1\"#" }));
        assert_eq!(v["call_ms"], 20);
        assert_eq!(v["kind"], "request");
        assert_eq!(v["diagnostics"], serde_json::json!(["warning: W0101"]));
        let plain = Entry::new(Line { params: Vec::new(), diagnostics: Vec::new(), ..line }, None, None);
        assert_eq!(plain.to_json()["params"], serde_json::json!({}));
        assert!(plain.to_json().get("diagnostics").is_none());
    }
}
