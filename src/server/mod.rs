//! `plivo-flow serve`: the tokio runtime around the sans-IO engine, and a REST server
//! compatible with Plivo's API (feature `server`).
//!
//! One driver task owns a [`Runtime`] (the engine, its rooms and the media of a [`Shell`]:
//! simulated media at `speed` × the replay timing rule, or `serve --sip`'s real calls): it runs
//! timers on the real clock, sends webhooks with
//! [`webhook::Webhooks`] (signed, with retries), and carries out REST operations sent to it as
//! jobs. The HTTP layer (axum) only parses, authenticates and formats.

mod api;
mod call_options;
mod calls;
mod driver;
mod far_end;
mod listener;
mod lists;
pub mod live;
pub mod media_files;
pub mod metrics;
pub mod record;
pub mod recording_files;
mod recordings;
pub mod signature;
pub mod webhook;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tower::Layer;
use tower_http::normalize_path::{NormalizePath, NormalizePathLayer};
use tower_http::trace::TraceLayer;

pub use driver::{
    CallRecord, Driver, DriverConfig, FarEndOp, LiveCall, MAX_SETTLE_WAITERS, Shell, Simulated, StartRefused, call_span,
};

use crate::runtime::{Runtime, RuntimeConfig};

/// The development credentials used when none are given.
pub const DEV_AUTH_ID: &str = "MADEVELOPMENT0000001";
/// The development auth token used when none is given.
pub const DEV_AUTH_TOKEN: &str = "plivo-flow-dev-token";
/// The header every answer of the server carries, with [`VERSION`]: a client that gets an
/// answer without it is not talking to plivo-flow (perhaps to the real Plivo API).
pub const VERSION_HEADER: &str = "x-plivo-flow";
/// The version of plivo-flow, in [`VERSION_HEADER`] and `GET /sim/Health/`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8765";

/// Settings of the server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The account id (HTTP Basic user, and the `{auth_id}` in paths).
    pub auth_id: String,
    /// The auth token (HTTP Basic password, and the webhook signing key).
    pub auth_token: String,
    /// How fast the calls' clock runs against the wall clock: 1 = real time, 0.05 = twenty
    /// times faster; every timer, media length and reported duration is on that clock, so a
    /// flow reports the same durations at any speed above 0 as under `run`. 0: media are
    /// instant and timers (`<Wait>`, timeouts) run in real time.
    pub speed: f64,
    /// Seed of generated ids.
    pub seed: u64,
    /// The most document fetches, and as many notifications, on the wire at once; more wait
    /// their turn, none is dropped (`--max-in-flight`, default 256).
    pub max_in_flight: usize,
    /// The total time of one webhook with its retries when its URL has no `#tt=` (default
    /// Plivo's 55 s, `--webhook-timeout-ms`).
    pub webhook_timeout: Duration,
    /// How long one slow notification of a call holds back the call's next ones (default 5 s,
    /// `--notify-hold-ms`).
    pub notify_hold: Duration,
    /// The most calls alive at once; a request that would start more is answered 429 and
    /// starts none (default 10,000, `--max-calls`).
    pub max_calls: usize,
    /// `--record DIR`: write a cassette per call into this existing folder when the call
    /// ends ([`record::Recorder`]).
    pub record: Option<std::path::PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: DEFAULT_LISTEN.parse().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8765))),
            auth_id: DEV_AUTH_ID.to_owned(),
            auth_token: DEV_AUTH_TOKEN.to_owned(),
            speed: 1.0,
            seed: 0,
            max_in_flight: webhook::WebhookConfig::default().max_in_flight,
            webhook_timeout: webhook::PLIVO_TOTAL_TIMEOUT,
            notify_hold: DriverConfig::default().notify_hold,
            max_calls: 10_000,
            record: None,
        }
    }
}

/// A server started with [`start`].
#[derive(Debug)]
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting requests and waits for the server to finish.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.await.unwrap_or(Ok(()))
    }
}

/// `seed`, or when it is 0 one from the wall clock (`--seed 0`: ids differ run to run).
pub(crate) fn seed_or_clock(seed: u64) -> u64 {
    if seed != 0 {
        return seed;
    }
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
}

/// What a driver is made of, from a [`ServerConfig`]: the runtime's settings, the signed
/// webhooks and the driver's settings. [`start_with`] hands it to the function that spawns
/// the driver: `serve`'s on simulated media, `serve --sip`'s on real calls.
#[derive(Debug)]
pub struct DriverSetup {
    /// The runtime's settings (seed, account, recording URLs, the clock's epoch).
    pub runtime: RuntimeConfig,
    /// The webhooks, signed with the auth token, bounded as configured.
    pub webhooks: webhook::Webhooks,
    /// The driver's settings (`time_scale` from `speed`).
    pub driver: DriverConfig,
}

/// `serve`'s driver: simulated media at `config.speed`, cassettes with `--record`.
fn simulated(config: &ServerConfig) -> impl FnOnce(DriverSetup) -> Driver + use<> {
    let (speed, cassettes) = (config.speed, config.record.clone());
    move |setup| {
        let mut rt = Runtime::new(setup.runtime);
        // One clock (README "The REST server"): at a speed above 0 the driver's clock runs
        // that much faster and media keep their real lengths on it; at 0 media are instant
        // and the clock runs at wall speed (so that the simulated phone can still press keys
        // in time).
        let media_speed = if speed > 0.0 { 1.0 } else { 0.0 };
        rt.media_mut().set_speed(media_speed);
        let recorder = cassettes.as_deref().map(|dir| record::Recorder::new(dir, media_speed));
        Driver::spawn_recording(rt, setup.webhooks, setup.driver, recorder)
    }
}

fn app(config: &ServerConfig, spawn: impl FnOnce(DriverSetup) -> Driver) -> axum::Router {
    // Counted from the first server on (`GET /metrics`).
    let _ = metrics::install();
    let seed = seed_or_clock(config.seed);
    // The driver's clock starts now: its time zero on the wall clock, in whole milliseconds so
    // that `RecordingStartMs` and the Recording API's `recording_start_ms` agree to the ms.
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(Duration::ZERO, |d| Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(0)));
    let runtime = RuntimeConfig {
        seed,
        account: config.auth_id.as_str().into(),
        recording_url_base: Some(media_files::url_base(config.listen, &config.auth_id)),
        clock_epoch: epoch,
        // Nothing in `serve` reports coverage.
        coverage: false,
    };
    let time_scale = if config.speed > 0.0 { config.speed } else { 1.0 };
    let hooks = webhook::WebhookConfig {
        max_in_flight: config.max_in_flight,
        total_timeout: config.webhook_timeout,
        ..webhook::WebhookConfig::default()
    };
    let webhooks = webhook::Webhooks::with_config(&config.auth_token, hooks);
    let driver =
        spawn(DriverSetup { runtime, webhooks, driver: DriverConfig { notify_hold: config.notify_hold, time_scale } });
    let state = api::AppState {
        driver,
        auth_id: config.auth_id.clone(),
        auth_token: config.auth_token.clone(),
        api_ids: Arc::new(Mutex::new(crate::engine::IdGen::new(seed ^ 0xA11))),
        max_calls: config.max_calls,
        clock: lists::Clock::starting(std::time::UNIX_EPOCH + epoch),
    };
    api::router(state.clone())
        // Before authentication: recording files are public, as Plivo's are.
        .layer(axum::middleware::from_fn_with_state(state, media_files::download))
        .layer(TraceLayer::new_for_http())
        .layer(axum::middleware::map_response(plivo_headers))
}

/// Adds `X-Plivo-Flow: <version>` to every answer, errors included, and
/// `Content-Type: application/json` to a 204 (no body), as Plivo answers: the Ruby SDK fails
/// on a 204 without it, after the action was done.
async fn plivo_headers(mut resp: axum::response::Response) -> axum::response::Response {
    let no_content = resp.status() == axum::http::StatusCode::NO_CONTENT;
    let headers = resp.headers_mut();
    headers.insert(axum::http::HeaderName::from_static(VERSION_HEADER), axum::http::HeaderValue::from_static(VERSION));
    if no_content {
        headers
            .entry(axum::http::header::CONTENT_TYPE)
            .or_insert(axum::http::HeaderValue::from_static("application/json"));
    }
    resp
}

/// The HTTP service of the server: the API routes behind trailing-slash normalization.
pub type Service = NormalizePath<axum::Router>;

/// The HTTP service [`start`] serves, without a socket: hand it `http::Request`s directly
/// (in-process tests, the `rest` fuzz target). `config.listen` only names the recording
/// files' URLs ([`media_files::url_base`]). It must be called
/// inside a tokio runtime: it spawns the driver task, which runs while the service lives.
pub fn service(config: &ServerConfig) -> Service {
    service_with(config, simulated(config))
}

/// [`service`] around the driver `spawn` makes.
fn service_with(config: &ServerConfig, spawn: impl FnOnce(DriverSetup) -> Driver) -> Service {
    // Paths match with or without the trailing slash Plivo's SDKs always send.
    NormalizePathLayer::trim_trailing_slash().layer(app(config, spawn))
}

/// Binds `config.listen` and serves in the background on the current runtime.
pub async fn start(config: ServerConfig) -> std::io::Result<Running> {
    let spawn = simulated(&config);
    start_with(config, spawn).await
}

/// [`start`] around the driver `spawn` makes from the server's [`DriverSetup`] (`serve
/// --sip` spawns one on real calls with [`Driver::spawn_shell`]).
pub async fn start_with(config: ServerConfig, spawn: impl FnOnce(DriverSetup) -> Driver) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    // The bound address (port 0 resolved) names the recording files.
    let service = service_with(&ServerConfig { listen: addr, ..config }, spawn);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(
            listener::JsonListener(listener),
            axum::ServiceExt::<axum::extract::Request>::into_make_service(service),
        )
        .with_graceful_shutdown(async {
            let _ = rx.await;
        })
        .await
    });
    Ok(Running { addr, shutdown: Some(tx), task })
}
