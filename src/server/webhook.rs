//! Sending the engine's HTTP requests to the application: form or query parameters, the
//! `#ct=…&rt=…&tt=…&rc=…&rp=…` fragment (timeouts and retries, stripped before sending), and
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

/// Timeouts and retries of one request, from its URL fragment (spec §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Connect timeout (`ct`, 100–10 000 ms, default 2 000).
    pub connect: Duration,
    /// Read timeout (`rt`, 100–40 000 ms, default 40 000).
    pub read: Duration,
    /// Total time of all attempts together (`tt`, 100–55 000 ms, default 55 000).
    pub total: Duration,
    /// Retries after the first attempt (`rc`, 0–5, default 1).
    pub retries: u32,
    /// Retry on a connect timeout or error (`rp` has `ct` or `all`).
    pub on_connect: bool,
    /// Retry on a read timeout (`rt`/`all`).
    pub on_read: bool,
    /// Retry on a 4xx (`4xx`/`all`).
    pub on_4xx: bool,
    /// Retry on a 5xx (`5xx`/`all`).
    pub on_5xx: bool,
}

/// Plivo's limit on the time of one webhook with all its retries.
pub const PLIVO_TOTAL_TIMEOUT: Duration = Duration::from_millis(55_000);

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            connect: Duration::from_millis(2000),
            read: Duration::from_millis(40_000),
            total: PLIVO_TOTAL_TIMEOUT,
            retries: 1,
            on_connect: true,
            on_read: true,
            on_4xx: false,
            on_5xx: false,
        }
    }
}

/// Splits `url` into the URL to request and the policy its fragment sets. Unknown keys and
/// out-of-range values are ignored (the defaults stay).
pub fn parse_fragment(url: &str) -> (&str, RetryPolicy) {
    parse_fragment_with(url, RetryPolicy::default())
}

/// [`parse_fragment`] over other defaults.
pub fn parse_fragment_with(url: &str, defaults: RetryPolicy) -> (&str, RetryPolicy) {
    let mut p = defaults;
    let Some((base, frag)) = url.split_once('#') else {
        return (url, p);
    };
    for pair in frag.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let n = v.parse::<u64>().ok();
        match (k, n) {
            ("ct", Some(ms)) if (100..=10_000).contains(&ms) => p.connect = Duration::from_millis(ms),
            ("rt", Some(ms)) if (100..=40_000).contains(&ms) => p.read = Duration::from_millis(ms),
            ("tt", Some(ms)) if (100..=55_000).contains(&ms) => p.total = Duration::from_millis(ms),
            ("rc", Some(c)) if c <= 5 => p.retries = u32::try_from(c).unwrap_or(1),
            ("rp", _) => {
                let set: Vec<&str> = v.split(',').collect();
                let all = set.contains(&"all");
                p.on_connect = all || set.contains(&"ct");
                p.on_read = all || set.contains(&"rt");
                p.on_4xx = all || set.contains(&"4xx");
                p.on_5xx = all || set.contains(&"5xx");
            }
            _ => {}
        }
    }
    (base, p)
}

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

/// How one attempt ended.
enum Attempt {
    /// Answered 2xx with this status.
    Done(FetchReply, u16),
    /// Failed; the flag says whether the policy retries it.
    Failed(WebhookError, bool),
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
    pub async fn send_traced(&self, _permit: Permit, req: &HttpRequest, nonce: &str) -> (FetchReply, Option<u16>) {
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
            let left = deadline.saturating_duration_since(Instant::now());
            if left < Duration::from_millis(10) {
                return (FetchReply::Failed(WebhookError::TotalTimeout(policy.total).to_string()), status);
            }
            let timeout = (policy.connect + policy.read).min(left);
            let reason = match self.attempt(req, url, &policy, &signature, nonce, timeout).await {
                Attempt::Done(reply, code) => return (reply, Some(code)),
                Attempt::Local(reason) => {
                    if Instant::now() + backoff > local_deadline {
                        return (FetchReply::Failed(reason.to_string()), status);
                    }
                    tracing::debug!(%url, %reason, "local failure; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
                Attempt::Failed(reason, retry) => {
                    status = match &reason {
                        WebhookError::Status(code) => Some(*code),
                        _ => None,
                    };
                    if !retry || attempt == policy.retries {
                        return (FetchReply::Failed(reason.to_string()), status);
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
                            policy.on_read,
                        ),
                    };
                }
                let retry = (status.is_client_error() && policy.on_4xx) || (status.is_server_error() && policy.on_5xx);
                Attempt::Failed(WebhookError::Status(status.as_u16()), retry)
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
                    if e.is_connect() { policy.on_connect } else { policy.on_read },
                )
            }
            Err(e) if e.is_connect() => {
                Attempt::Failed(WebhookError::Connect(cause(&e, &host_of(url))), policy.on_connect)
            }
            Err(e) => Attempt::Failed(WebhookError::Transfer(cause(&e, &host_of(url))), policy.on_read),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_set_timeouts_and_are_stripped() {
        let (u, p) = parse_fragment("https://a.example/cb?x=1#ct=500&rt=3000&tt=4000&rc=3&rp=5xx,ct");
        assert_eq!(u, "https://a.example/cb?x=1");
        assert_eq!(p.connect, Duration::from_millis(500));
        assert_eq!(p.read, Duration::from_millis(3000));
        assert_eq!(p.total, Duration::from_millis(4000));
        assert_eq!(p.retries, 3);
        assert!(p.on_5xx && p.on_connect && !p.on_read && !p.on_4xx);
        let (u, p) = parse_fragment("https://a.example/cb#ct=5&rc=9&tt=60000");
        assert_eq!(u, "https://a.example/cb");
        assert_eq!(p, RetryPolicy::default());
    }

    #[test]
    fn the_configured_total_is_the_default_and_tt_overrides_it() {
        let defaults = RetryPolicy { total: Duration::from_millis(700), ..RetryPolicy::default() };
        assert_eq!(parse_fragment_with("http://a/x", defaults).1.total, Duration::from_millis(700));
        assert_eq!(parse_fragment_with("http://a/x#tt=300", defaults).1.total, Duration::from_millis(300));
    }
}
