//! The driver task: owns a [`Runtime`] (engine, rooms, simulated media) and runs it on the
//! real clock. Everything else talks to it through [`Job`]s.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::record::{self, Recorder, Slot};
use super::webhook::Webhooks;
use crate::cassette::RecordedReply;
use crate::engine::{
    CallEnd, CallId, CallOp, CallOpError, CallSetup, CallStatus, ConferenceError, EngineError, FetchReply, HttpRequest,
    Input, RecordingRef, Reply, RequestId, RoomSnapshot,
};
use crate::media::{FarEnd, FarEndError, FarEndKey};
use crate::runtime::{Line, LineKind, OpResult, OutboundPlan, Recording, RoomOp, Runtime};

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
    /// A notification failed (after its retries): a `reply` line says so.
    NotifyFailed { call: Option<CallId>, url: String, reason: String, notice: InFlightGuard },
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

/// One line of the recent transcript (`GET /sim/Transcript/`).
#[derive(Debug, Clone)]
pub struct Entry {
    /// The line as the runtime wrote it (a request line's `params` hold all its parameters).
    pub line: Line,
    /// Milliseconds since the call's first line (its start); `None` for lines of no call.
    pub call_ms: Option<u64>,
}

impl Entry {
    /// The line as one JSON object: `at_ms`, `call_ms`, `who`, `kind`, `text`, `params` (an
    /// object, empty for lines that are not requests) and `diagnostics` when there are some.
    pub fn to_json(&self) -> serde_json::Value {
        let params: serde_json::Map<String, serde_json::Value> =
            self.line.params.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
        let mut v = serde_json::json!({
            "at_ms": self.line.at_ms,
            "call_ms": self.call_ms,
            "who": self.line.who,
            "kind": self.line.kind,
            "text": self.line.text,
            "params": params,
        });
        if !self.line.diagnostics.is_empty() {
            v["diagnostics"] = serde_json::json!(self.line.diagnostics);
        }
        v
    }
}

/// The recent transcript, and when each live call started (for `call_ms`).
#[derive(Debug, Default)]
struct Recent {
    lines: VecDeque<Entry>,
    starts: HashMap<String, u64>,
}

/// A handle on the driver task.
#[derive(Debug, Clone)]
pub struct Driver {
    tx: mpsc::Sender<Job>,
    recent: Arc<Mutex<Recent>>,
    history: Arc<Mutex<VecDeque<CallRecord>>>,
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
        let (tx, rx) = mpsc::channel::<Job>(1024);
        let recent = Arc::new(Mutex::new(Recent::default()));
        let history = Arc::new(Mutex::new(VecDeque::new()));
        let driver = Driver { tx: tx.clone(), recent: recent.clone(), history: history.clone() };
        let task = Task {
            rt,
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
            waiting: Vec::new(),
            recorder,
        };
        tokio::spawn(task.drive(rx));
        driver
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

    /// Deletes the finished recording `id`; `Some(false)` when there is none.
    pub async fn delete_recording(&self, id: String) -> Option<bool> {
        self.ask(|done| Job::DeleteRecording { id, done }).await
    }

    /// Runs a Call API operation on the live call `id`.
    pub async fn call_op(&self, id: CallId, op: CallOp) -> Option<Result<Option<RecordingRef>, CallOpError>> {
        self.ask(|done| Job::CallOp { id, op, done }).await
    }

    /// Hands `input` to a live call; `Some(false)` when it is not live.
    pub async fn input(&self, id: CallId, input: Input) -> Option<bool> {
        self.ask(|done| Job::Input { id, input, done }).await
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
            .map(|r| r.lines.iter().filter(|e| call.is_none_or(|c| e.line.who == c)).cloned().collect())
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
struct Task {
    rt: Runtime,
    /// For fetch tasks to hand their replies back.
    tx: mpsc::Sender<Job>,
    webhooks: Webhooks,
    config: DriverConfig,
    recent: Arc<Mutex<Recent>>,
    history: Arc<Mutex<VecDeque<CallRecord>>>,
    clock: Clock,
    nonce: u64,
    /// Notifications (callbacks, hangup_url) of one call go out one after the other, in the
    /// order the call made them; document fetches go out at once.
    queues: HashMap<String, mpsc::UnboundedSender<Notice>>,
    /// The document fetches in flight, by call: cancelled when the call is forgotten.
    fetches: HashMap<String, Vec<AbortHandle>>,
    in_flight: Arc<InFlight>,
    /// Who waits for the driver to settle (at most [`MAX_SETTLE_WAITERS`]).
    waiting: Vec<oneshot::Sender<bool>>,
    /// `serve --record`: the live calls' cassettes.
    recorder: Option<Recorder>,
}

/// A notification for a call's queue (the call that made it; `None`: the rooms'), counted in
/// flight until it is sent, and where its reply goes in a cassette (`serve --record`).
type Notice = (HttpRequest, String, InFlightGuard, Option<CallId>, Option<Slot>);

impl Task {
    async fn drive(mut self, mut rx: mpsc::Receiver<Job>) {
        loop {
            self.rt.handle_timeout(self.clock.now());
            self.send_requests();
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
                () = sleep(wait) => {}
            }
        }
    }

    fn run(&mut self, now: Duration, job: Job) {
        let rt = &mut self.rt;
        match job {
            Job::StartCalls { setups, max_calls, done } => {
                let started = start_calls(rt, now, setups, max_calls);
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
                let table = rt.media_mut().far_ends_mut();
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
                rt.deliver(now, &call, request, reply);
                // Its requests are on their way before the fetch stops counting.
                self.send_requests();
                drop(fetch);
            }
            Job::NotifyFailed { call, url, reason, notice } => {
                let who = call.map_or_else(|| "room".to_owned(), |c| rt.transcript().name(&c));
                rt.transcript_mut().line(now, &who, LineKind::Reply, format!("{url} failed: {reason}"));
                drop(notice);
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
                let key = call.as_ref().map_or_else(String::new, |c| c.as_str().to_owned());
                let (hooks, hold, back) = (&self.webhooks, self.config.notify_hold, &self.tx);
                let queue = self.queues.entry(key).or_insert_with(|| notifier(hooks.clone(), hold, back.clone()));
                if let Err(mpsc::error::SendError(notice)) = queue.send((req, nonce, guard, call, slot)) {
                    // The worker stopped: start a new one.
                    let fresh = notifier(self.webhooks.clone(), hold, self.tx.clone());
                    let _ = fresh.send(notice);
                    *queue = fresh;
                }
                continue;
            }
            let (hooks, back) = (self.webhooks.clone(), self.tx.clone());
            let key = call.as_ref().map(|c| c.as_str().to_owned());
            let task = tokio::spawn(async move {
                let permit = hooks.permit(&req).await;
                // The application's time: from when the request may go on the wire.
                let started = Instant::now();
                let (raw, status) = hooks.send_traced(permit, &req, &nonce).await;
                let trace = slot.map(|s| (s, RecordedReply::new(&raw, status, started.elapsed())));
                let reply = checked(raw);
                tracing::debug!(url = %req.url, "document fetched");
                if let Some(call) = call {
                    let _ = back.send(Job::Deliver { call, request: req.id, reply, fetch: guard, trace }).await;
                }
            });
            if let Some(key) = key {
                let list = self.fetches.entry(key).or_default();
                list.retain(|t| !t.is_finished());
                list.push(task.abort_handle());
            }
        }
        log(&mut self.rt, &self.recent);
    }

    /// Forgotten calls keep a record, their notification queues close (their workers finish
    /// what is queued) and their document fetches stop, retries and all.
    fn forget(&mut self) {
        let gone = self.rt.forget_ended_calls();
        if gone.is_empty() {
            return;
        }
        if let Ok(mut r) = self.recent.lock() {
            for (setup, _) in &gone {
                r.starts.remove(setup.id.as_str());
            }
        }
        for (setup, _) in &gone {
            if let Some(done) = self.recorder.as_mut().and_then(|r| r.ended(setup.id.as_str())) {
                record::write(done.0, done.1);
            }
            self.queues.remove(setup.id.as_str());
            for task in self.fetches.remove(setup.id.as_str()).unwrap_or_default() {
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
fn start_calls(
    rt: &mut Runtime,
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
        ids.push(rt.start_outbound(now, setup, &plan)?);
    }
    Ok(ids)
}

/// A fetched body parsed off the driver task: a valid document goes to the call parsed; an
/// invalid one goes as it came, and the call reports its diagnostics and, for an answer URL,
/// requests `fallback_url` (the engine's rule, the same in `run`/`test`).
fn checked(reply: FetchReply) -> FetchReply {
    let FetchReply::Body(body) = reply else { return reply };
    let parsed = crate::xml::parse(&body);
    if parsed.has_errors() { FetchReply::Body(body) } else { FetchReply::Document(Arc::new(parsed.document)) }
}

/// A worker that sends one call's notifications in order: each starts when the one before
/// has finished or has held the queue for `hold` (it then goes on beside the next one).
///
/// A notification that fails (no connection, a timeout, a status other than 2xx, after the
/// retries its URL's policy allows) is logged as a warning and written to the transcript as a
/// `reply` line of its call, `URL failed: REASON`; it counts as in flight until that line is
/// written.
fn notifier(webhooks: Webhooks, hold: Duration, back: mpsc::Sender<Job>) -> mpsc::UnboundedSender<Notice> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Notice>();
    tokio::spawn(async move {
        while let Some((req, nonce, guard, call, slot)) = rx.recv().await {
            // The hold counts from the moment the request may go on the wire.
            let permit = webhooks.permit(&req).await;
            let (hooks, back) = (webhooks.clone(), back.clone());
            let mut task = tokio::spawn(async move {
                let started = Instant::now();
                let (reply, status) = hooks.send_traced(permit, &req, &nonce).await;
                tracing::debug!(url = %req.url, ?reply, "notification sent");
                if let Some(slot) = slot {
                    let reply = RecordedReply::new(&reply, status, started.elapsed());
                    let _ = back.send(Job::Replied { slot, reply }).await;
                }
                if let FetchReply::Failed(reason) = reply {
                    tracing::warn!(url = %req.url, %reason, "notification failed");
                    let url = req.url;
                    let _ = back.send(Job::NotifyFailed { call, url, reason, notice: guard }).await;
                } else {
                    drop(guard);
                }
            });
            if tokio::time::timeout(hold, &mut task).await.is_err() {
                tracing::debug!(?hold, "a notification is slow; the next one starts beside it");
            }
        }
    });
    tx
}

async fn sleep(wait: Option<Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

fn log(rt: &mut Runtime, recent: &Mutex<Recent>) {
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
        let is_call = rt.engine().call(&CallId::from(line.who.as_str())).is_some();
        let call_ms = if is_call {
            let started = *recent.starts.entry(line.who.clone()).or_insert(line.at_ms);
            Some(line.at_ms.saturating_sub(started))
        } else {
            None
        };
        if recent.lines.len() == RECENT_LINES {
            recent.lines.pop_front();
        }
        recent.lines.push_back(Entry { line, call_ms });
    }
}
