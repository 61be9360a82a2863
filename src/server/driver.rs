//! The driver task: owns the [`Simulation`] (engine, rooms, simulated media) in live mode and
//! runs it against the real clock. Everything else talks to it through jobs.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::webhook::Webhooks;
use crate::engine::{CallEnd, CallId, CallSetup, FetchReply, HttpRequest, Reply};
use crate::sim::{Line, Simulation};

/// Work for the driver: runs on the simulation, at the current time.
type Job = Box<dyn FnOnce(&mut Simulation) + Send>;

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
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig { notify_hold: Duration::from_secs(5) }
    }
}

/// What is kept of an ended call.
pub type CallRecord = (CallSetup, CallEnd);

/// One line of the recent transcript (`GET /sim/Transcript/`).
#[derive(Debug, Clone)]
pub struct Entry {
    /// The line as the simulation wrote it (its `params` without the standard ones).
    pub line: Line,
    /// Milliseconds since the call's first line (its start); `None` for lines of no call.
    pub call_ms: Option<u64>,
    /// A request line's parameters, the standard ones (`From`, `To`, `CallStatus`…) included.
    pub params: Vec<(String, String)>,
}

impl Entry {
    /// The line as one JSON object: `at_ms`, `call_ms`, `who`, `kind`, `text`, `params` (an
    /// object, empty for lines that are not requests) and `diagnostics` when there are some.
    pub fn to_json(&self) -> serde_json::Value {
        let params: serde_json::Map<String, serde_json::Value> =
            self.params.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
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

impl Driver {
    /// Starts the driver task on the current tokio runtime.
    pub fn spawn(mut sim: Simulation, webhooks: Webhooks, config: DriverConfig) -> Driver {
        sim.set_external_fetch(true);
        let (tx, rx) = mpsc::channel::<Job>(1024);
        let recent = Arc::new(Mutex::new(Recent::default()));
        let history = Arc::new(Mutex::new(VecDeque::new()));
        let driver = Driver { tx: tx.clone(), recent: recent.clone(), history: history.clone() };
        tokio::spawn(drive(sim, rx, tx, webhooks, config, recent, history));
        driver
    }

    /// Runs `f` on the simulation at the current time and returns its result; `None` when the
    /// driver has stopped.
    pub async fn run<R: Send + 'static>(&self, f: impl FnOnce(&mut Simulation) -> R + Send + 'static) -> Option<R> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |sim| {
            let _ = tx.send(f(sim));
        });
        self.tx.send(job).await.ok()?;
        rx.await.ok()
    }

    /// A page of the ended calls, most recent first, and how many there are in all.
    pub fn history(&self, offset: usize, limit: usize) -> (Vec<CallRecord>, usize) {
        self.history
            .lock()
            .map(|h| (h.iter().rev().skip(offset).take(limit).cloned().collect(), h.len()))
            .unwrap_or_default()
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

async fn drive(
    mut sim: Simulation,
    mut rx: mpsc::Receiver<Job>,
    tx: mpsc::Sender<Job>,
    webhooks: Webhooks,
    config: DriverConfig,
    recent: Arc<Mutex<Recent>>,
    history: Arc<Mutex<VecDeque<CallRecord>>>,
) {
    let start = Instant::now();
    let mut nonce: u64 = u64::from(std::process::id()) << 32;
    // Notifications (callbacks, hangup_url) of one call go out one after the other, in the
    // order the call made them; document fetches go out at once.
    let mut queues: HashMap<String, mpsc::UnboundedSender<(HttpRequest, String)>> = HashMap::new();
    // The document fetches in flight, by call: cancelled when the call is forgotten.
    let mut fetches: HashMap<String, Vec<AbortHandle>> = HashMap::new();
    loop {
        sim.advance_to(start.elapsed());
        // The full parameters of the requests, for their transcript lines (which leave the
        // standard ones out), in the order the lines were written.
        let mut sent: VecDeque<(String, Vec<(String, String)>)> = VecDeque::new();
        for (call, req) in sim.take_outbox() {
            sent.push_back((format!("{} {} ", req.method, req.url), req.params.clone()));
            nonce = nonce.wrapping_add(0x9E37_79B9);
            let nonce = format!("{nonce:020}");
            if req.reply == Reply::Ignore {
                let key = call.map_or_else(String::new, |c| c.as_str().to_owned());
                let queue = queues.entry(key).or_insert_with(|| notifier(webhooks.clone(), config.notify_hold));
                if let Err(mpsc::error::SendError(job)) = queue.send((req, nonce)) {
                    // The worker stopped: start a new one.
                    let fresh = notifier(webhooks.clone(), config.notify_hold);
                    let _ = fresh.send(job);
                    *queue = fresh;
                }
                continue;
            }
            let (hooks, back) = (webhooks.clone(), tx.clone());
            let key = call.as_ref().map(|c| c.as_str().to_owned());
            let task = tokio::spawn(async move {
                let reply = checked(hooks.send(&req, &nonce).await);
                tracing::debug!(url = %req.url, "document fetched");
                if let Some(call) = call {
                    let job: Job = Box::new(move |sim| sim.deliver(&call, req.id, reply));
                    let _ = back.send(job).await;
                }
            });
            if let Some(key) = key {
                let list = fetches.entry(key).or_default();
                list.retain(|t| !t.is_finished());
                list.push(task.abort_handle());
            }
        }
        log(&mut sim, &recent, sent);
        // Forgotten calls keep a record, their notification queues close (their workers
        // finish what is queued) and their document fetches stop, retries and all.
        let gone = sim.forget_ended_calls();
        if !gone.is_empty() {
            if let Ok(mut r) = recent.lock() {
                for (setup, _) in &gone {
                    r.starts.remove(setup.id.as_str());
                }
            }
            for (setup, _) in &gone {
                queues.remove(setup.id.as_str());
                for task in fetches.remove(setup.id.as_str()).unwrap_or_default() {
                    task.abort();
                }
            }
            if let Ok(mut h) = history.lock() {
                for record in gone {
                    if h.len() == HISTORY {
                        h.pop_front();
                    }
                    h.push_back(record);
                }
            }
        }
        let wait = sim.next_deadline().map(|t| t.saturating_sub(start.elapsed()));
        tokio::select! {
            job = rx.recv() => match job {
                Some(job) => {
                    sim.advance_to(start.elapsed());
                    job(&mut sim);
                }
                None => break,
            },
            () = sleep(wait) => {}
        }
    }
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
fn notifier(webhooks: Webhooks, hold: Duration) -> mpsc::UnboundedSender<(HttpRequest, String)> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(HttpRequest, String)>();
    tokio::spawn(async move {
        while let Some((req, nonce)) = rx.recv().await {
            // The hold counts from the moment the request may go on the wire.
            let permit = webhooks.permit(&req).await;
            let hooks = webhooks.clone();
            let mut task = tokio::spawn(async move {
                let reply = hooks.send_with(permit, &req, &nonce).await;
                tracing::debug!(url = %req.url, ?reply, "notification sent");
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

fn log(sim: &mut Simulation, recent: &Mutex<Recent>, mut sent: VecDeque<(String, Vec<(String, String)>)>) {
    let lines = sim.take_transcript();
    if lines.is_empty() {
        return;
    }
    let Ok(mut recent) = recent.lock() else { return };
    for line in lines {
        let span = tracing::info_span!("call", call_uuid = %line.who);
        let _enter = span.enter();
        tracing::info!(kind = line.kind, "{}", line.text);
        // A request line's own parameters (standard ones included): the first request sent
        // with its method and URL.
        let mut params = line.params.clone();
        if line.kind == "request" {
            let own = sent.iter().position(|(head, _)| line.text.starts_with(head.as_str()));
            if let Some((_, all)) = own.and_then(|i| sent.remove(i)) {
                params = all;
            }
            tracing::debug!(params = ?params, "request parameters");
        }
        for d in &line.diagnostics {
            tracing::warn!("{d}");
        }
        let is_call = sim.engine().call(&CallId::from(line.who.as_str())).is_some();
        let call_ms = if is_call {
            let started = *recent.starts.entry(line.who.clone()).or_insert(line.at_ms);
            Some(line.at_ms.saturating_sub(started))
        } else {
            None
        };
        if recent.lines.len() == RECENT_LINES {
            recent.lines.pop_front();
        }
        recent.lines.push_back(Entry { line, call_ms, params });
    }
}
