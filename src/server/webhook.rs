//! Sending the engine's HTTP requests to the application: form or query parameters, the
//! `#ct=…&rt=…&tt=…&rc=…&rp=…` fragment (timeouts and retries by
//! [`crate::runtime::webhook_policy`], the rule the simulation's faults follow too; stripped
//! before sending), and
//! Plivo's V3 signature headers.
//!
//! Bounds: at most [`WebhookConfig::max_in_flight`] document fetches and as many notifications
//! are on the wire at once (the rest
//! wait their turn, first come first served, and are never dropped); the idle connection pool
//! is bounded per host; a reply body is read up to [`MAX_BODY`] bytes and no further. A
//! failure that is local (no file descriptor, no buffer, no local port) is not the
//! application's fault: it is retried with backoff for up to
//! [`WebhookConfig::local_retry_for`] without using up one of the request's attempts.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::signature;
use crate::engine::{FetchReply, HttpRequest, Reply};
use crate::xml::values::Method;

/// The most bytes read from a reply body: the parser's 100 KiB document limit and one byte, so
/// that a longer body is still reported as too large (E0103) without being read further.
pub const MAX_BODY: usize = 100 * 1024 + 1;

use crate::runtime::webhook_policy::Failure;
pub use crate::runtime::webhook_policy::{PLIVO_TOTAL_TIMEOUT, RetryPolicy, parse_fragment, parse_fragment_with};

/// Settings of the webhook sender.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WebhookConfig {
    /// The most document fetches, and the most notifications, on the wire at once; more wait
    /// their turn (default 256 each).
    pub max_in_flight: usize,
    /// The total time of a request whose URL has no `tt` (default Plivo's 55 s).
    pub total_timeout: Duration,
    /// How long local failures (no file descriptor, …) are retried (default 60 s).
    pub local_retry_for: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            max_in_flight: 256,
            total_timeout: PLIVO_TOTAL_TIMEOUT,
            local_retry_for: Duration::from_secs(60),
        }
    }
}

/// Sends webhooks, signed with the account's auth token.
#[derive(Debug, Clone)]
pub struct Webhooks {
    client: reqwest::Client,
    auth_token: String,
    config: WebhookConfig,
    /// Slots of document fetches (answer, fallback, action, redirect, sounds).
    fetches: Arc<Semaphore>,
    /// Slots of notifications (callbacks, `hangup_url`).
    notifications: Arc<Semaphore>,
}

/// The right to have one request on the wire ([`Webhooks::permit`]).
#[derive(Debug)]
pub struct Permit {
    _slot: Option<OwnedSemaphorePermit>,
}

/// Why a webhook failed; its text is the reason the call's transcript shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The application answered with a status other than 2xx.
    #[error("HTTP {0}")]
    Status(u16),
    /// An attempt got no complete answer within its connect + read timeout.
    #[error("timed out: {0}")]
    TimedOut(String),
    /// The attempts together took the request's whole total timeout (`tt`).
    #[error("no answer within the total timeout of {0:?}")]
    TotalTimeout(Duration),
    /// No connection to the application (refused, unreachable, DNS…).
    #[error("{0}")]
    Connect(String),
    /// The connection broke while sending or reading.
    #[error("{0}")]
    Transfer(String),
    /// Resources of this host ran out (file descriptors, buffers, local ports) for longer than
    /// [`WebhookConfig::local_retry_for`].
    #[error("{0}")]
    Local(String),
}

impl WebhookError {
    /// The cause's label in [`super::metrics::WEBHOOK_FAILURES`].
    pub const fn cause(&self) -> &'static str {
        match self {
            WebhookError::Status(_) => "status",
            WebhookError::TimedOut(_) => "timed_out",
            WebhookError::TotalTimeout(_) => "total_timeout",
            WebhookError::Connect(_) => "connect",
            WebhookError::Transfer(_) => "transfer",
            WebhookError::Local(_) => "local",
        }
    }
}

/// How one attempt ended.
enum Attempt {
    /// Answered 2xx with this status.
    Done(FetchReply, u16),
    /// Failed; the kind says whether the policy retries it.
    Failed(WebhookError, Failure),
    /// Failed for a local reason (resources of this process or host).
    Local(WebhookError),
}

impl Webhooks {
    /// A sender signing with `auth_token`, with the default [`WebhookConfig`].
    pub fn new(auth_token: &str) -> Self {
        Self::with_config(auth_token, WebhookConfig::default())
    }

    /// A sender signing with `auth_token`.
    pub fn with_config(auth_token: &str, config: WebhookConfig) -> Self {
        let max = config.max_in_flight.max(1);
        let client = reqwest::Client::builder()
            .user_agent(concat!("PlivoHTTP/plivo-flow-", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::limited(5))
            .pool_max_idle_per_host(max.min(64))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        let config = WebhookConfig { max_in_flight: max, ..config };
        Webhooks {
            client,
            auth_token: auth_token.to_owned(),
            config,
            fetches: Arc::new(Semaphore::new(max)),
            notifications: Arc::new(Semaphore::new(max)),
        }
    }

    /// Waits for a free slot for `req`: document fetches and notifications each have
    /// [`WebhookConfig::max_in_flight`], so that a flood of notifications never delays a call's
    /// next document.
    pub async fn permit(&self, req: &HttpRequest) -> Permit {
        let slots = if req.reply == Reply::Ignore { &self.notifications } else { &self.fetches };
        Permit { _slot: slots.clone().acquire_owned().await.ok() }
    }

    /// Sends `req` with its retries and returns what the call should get back.
    pub async fn send(&self, req: &HttpRequest, nonce: &str) -> FetchReply {
        let permit = self.permit(req).await;
        self.send_with(permit, req, nonce).await
    }

    /// [`Webhooks::send`] with a slot already taken.
    pub async fn send_with(&self, permit: Permit, req: &HttpRequest, nonce: &str) -> FetchReply {
        self.send_traced(permit, req, nonce).await.0
    }

    /// [`Webhooks::send_with`], also returning the HTTP status of the last attempt (`None`
    /// when no attempt got an answer: connection refused, timed out, …), for cassettes.
    ///
    /// Its time (from the slot to the last answer) goes to [`super::metrics::WEBHOOK_SECONDS`]
    /// and a failure to [`super::metrics::WEBHOOK_FAILURES`], by kind and cause.
    pub async fn send_traced(&self, permit: Permit, req: &HttpRequest, nonce: &str) -> (FetchReply, Option<u16>) {
        let started = Instant::now();
        let (reply, status) = self.attempts(permit, req, nonce).await;
        let kind = if req.reply == Reply::Ignore { "notification" } else { "document" };
        metrics::histogram!(super::metrics::WEBHOOK_SECONDS, "kind" => kind).record(started.elapsed().as_secs_f64());
        match reply {
            Ok(reply) => (reply, status),
            Err(e) => {
                metrics::counter!(super::metrics::WEBHOOK_FAILURES, "kind" => kind, "cause" => e.cause()).increment(1);
                (FetchReply::Failed(e.to_string()), status)
            }
        }
    }

    /// The attempts of [`Webhooks::send_traced`]: the reply, or why the last one failed.
    async fn attempts(
        &self,
        _permit: Permit,
        req: &HttpRequest,
        nonce: &str,
    ) -> (Result<FetchReply, WebhookError>, Option<u16>) {
        let defaults = RetryPolicy { total: self.config.total_timeout, ..RetryPolicy::default() };
        let (url, policy) = parse_fragment_with(&req.url, defaults);
        let signature = signature::sign(&self.auth_token, req.method, url, &req.params, nonce);
        let deadline = Instant::now() + policy.total;
        let local_deadline = Instant::now() + self.config.local_retry_for;
        let mut backoff = Duration::from_millis(20);
        let mut attempt = 0;
        let mut status = None;
        loop {
            // A few milliseconds are no time for an attempt: the total is spent.
            let elapsed = policy.total.saturating_sub(deadline.saturating_duration_since(Instant::now()));
            let Some(timeout) = policy.attempt_timeout(elapsed) else {
                return (Err(WebhookError::TotalTimeout(policy.total)), status);
            };
            let reason = match self.attempt(req, url, &policy, &signature, nonce, timeout).await {
                Attempt::Done(reply, code) => return (Ok(reply), Some(code)),
                Attempt::Local(reason) => {
                    if Instant::now() + backoff > local_deadline {
                        return (Err(reason), status);
                    }
                    tracing::debug!(%url, %reason, "local failure; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
                Attempt::Failed(reason, failure) => {
                    status = match &reason {
                        WebhookError::Status(code) => Some(*code),
                        _ => None,
                    };
                    if !policy.retry_after(attempt, failure) {
                        return (Err(reason), status);
                    }
                    reason
                }
            };
            tracing::debug!(%url, %reason, attempt, "retrying");
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        req: &HttpRequest,
        url: &str,
        policy: &RetryPolicy,
        signature: &str,
        nonce: &str,
        timeout: Duration,
    ) -> Attempt {
        let builder = match req.method {
            Method::Get => self.client.get(url).query(&req.params),
            Method::Post => self.client.post(url).form(&req.params),
        };
        let builder = builder
            .timeout(timeout)
            .header("X-Plivo-Signature-V3", signature)
            .header("X-Plivo-Signature-Ma-V3", signature)
            .header("X-Plivo-Signature-V3-Nonce", nonce);
        match builder.send().await {
            Ok(resp) => {
                let status = resp.status();
                if status.is_success() {
                    return match read_body(resp).await {
                        Ok(body) => Attempt::Done(FetchReply::Body(body), status.as_u16()),
                        Err(e) => Attempt::Failed(
                            WebhookError::Transfer(format!("reading the body failed: {e}")),
                            Failure::Transfer,
                        ),
                    };
                }
                Attempt::Failed(WebhookError::Status(status.as_u16()), Failure::Status(status.as_u16()))
            }
            Err(e) if is_local(&e) => Attempt::Local(WebhookError::Local(format!("{e}: {}", root_cause(&e)))),
            Err(e) if e.is_timeout() => {
                let what = if e.is_connect() {
                    format!("no connection to {} within {:?}", host_of(url), timeout.min(policy.connect))
                } else {
                    format!("no complete answer from {} within {timeout:?}", host_of(url))
                };
                Attempt::Failed(
                    WebhookError::TimedOut(what),
                    if e.is_connect() { Failure::ConnectTimeout } else { Failure::ReadTimeout },
                )
            }
            Err(e) if e.is_connect() => {
                Attempt::Failed(WebhookError::Connect(cause(&e, &host_of(url))), Failure::Connect)
            }
            Err(e) => Attempt::Failed(WebhookError::Transfer(cause(&e, &host_of(url))), Failure::Transfer),
        }
    }
}

/// Reads at most [`MAX_BODY`] bytes of the body, as text: decoded from the single-byte
/// encoding its XML declaration names, else UTF-8 (invalid sequences replaced).
async fn read_body(mut resp: reqwest::Response) -> reqwest::Result<String> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = MAX_BODY - body.len();
        if chunk.len() >= room {
            body.extend_from_slice(chunk.get(..room).unwrap_or(&chunk));
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(document_text(body))
}

/// A fetched body as text: see [`crate::xml::decode`]; bytes that are neither a declared
/// single-byte encoding nor UTF-8 keep their valid parts (U+FFFD for the rest).
pub(crate) fn document_text(body: Vec<u8>) -> String {
    if let Some(text) = crate::xml::decode(&body) {
        return text.into_owned();
    }
    match String::from_utf8(body) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Whether a request failed for a reason of this host, not of the application: out of file
/// descriptors (EMFILE, ENFILE), buffers (ENOBUFS) or local ports (EADDRNOTAVAIL).
fn is_local(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::AddrNotAvailable || io.kind() == std::io::ErrorKind::OutOfMemory {
                return true;
            }
            if let Some(code) = io.raw_os_error() {
                return LOCAL_ERRNOS.contains(&code);
            }
        }
        source = err.source();
    }
    false
}

/// EMFILE, ENFILE (the same on every Unix), and ENOBUFS (Linux, then BSD/macOS numbering).
#[cfg(target_os = "linux")]
const LOCAL_ERRNOS: [i32; 3] = [24, 23, 105];
#[cfg(not(target_os = "linux"))]
const LOCAL_ERRNOS: [i32; 3] = [24, 23, 55];

/// `host:port` of a URL, for messages.
fn host_of(url: &str) -> String {
    reqwest::Url::parse(url).ok().map_or_else(
        || url.to_owned(),
        |u| format!("{}:{}", u.host_str().unwrap_or("?"), u.port_or_known_default().unwrap_or(0)),
    )
}

/// What went wrong with a request that got no answer, named from the error's `source()`
/// chain (reqwest's own text is only "error sending request"): connection refused, DNS
/// failure, TLS failure, connection reset…, with the innermost message.
fn cause(e: &reqwest::Error, host: &str) -> String {
    use std::io::ErrorKind;
    let root = root_cause(e);
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut texts = Vec::new();
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            let named = match io.kind() {
                ErrorKind::ConnectionRefused => Some("connection refused"),
                ErrorKind::ConnectionReset => Some("connection reset"),
                ErrorKind::ConnectionAborted => Some("connection aborted"),
                ErrorKind::TimedOut => Some("timed out"),
                ErrorKind::HostUnreachable => Some("host unreachable"),
                ErrorKind::NetworkUnreachable => Some("network unreachable"),
                ErrorKind::UnexpectedEof => Some("the connection closed before the answer"),
                _ => None,
            };
            if let Some(named) = named {
                return format!("{named} ({host}: {root})");
            }
        }
        texts.push(err.to_string().to_ascii_lowercase());
        source = err.source();
    }
    let any = |words: &[&str]| texts.iter().any(|t| words.iter().any(|w| t.contains(w)));
    if any(&["dns error", "failed to lookup address", "name or service not known", "no record found", "resolve"]) {
        format!("DNS failure: cannot resolve {host} ({root})")
    } else if any(&["certificate", "tls", "ssl", "handshake"]) {
        format!("TLS failure with {host} ({root})")
    } else if any(&["connection closed", "incomplete message", "connection reset"]) {
        format!("the connection to {host} broke ({root})")
    } else {
        format!("{host}: {root}")
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
