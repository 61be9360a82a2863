//! Sending the engine's HTTP requests to the application: form or query parameters, the
//! `#ct=…&rt=…&rc=…&rp=…` fragment (timeouts and retries, stripped before sending), and
//! Plivo's V3 signature headers.

use std::time::Duration;

use super::signature;
use crate::engine::{FetchReply, HttpRequest};
use crate::xml::values::Method;

/// Timeouts and retries of one request, from its URL fragment (spec §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Connect timeout (`ct`, 100–10 000 ms, default 2 000).
    pub connect: Duration,
    /// Read timeout (`rt`, 100–40 000 ms, default 40 000).
    pub read: Duration,
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

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            connect: Duration::from_millis(2000),
            read: Duration::from_millis(40_000),
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
    let mut p = RetryPolicy::default();
    let Some((base, frag)) = url.split_once('#') else {
        return (url, p);
    };
    for pair in frag.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let n = v.parse::<u64>().ok();
        match (k, n) {
            ("ct", Some(ms)) if (100..=10_000).contains(&ms) => p.connect = Duration::from_millis(ms),
            ("rt", Some(ms)) if (100..=40_000).contains(&ms) => p.read = Duration::from_millis(ms),
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

/// Sends webhooks, signed with the account's auth token.
#[derive(Debug, Clone)]
pub struct Webhooks {
    client: reqwest::Client,
    auth_token: String,
}

impl Webhooks {
    /// A sender signing with `auth_token`.
    pub fn new(auth_token: &str) -> Self {
        let client = reqwest::Client::builder()
            .user_agent(concat!("PlivoHTTP/plivo-flow-", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .unwrap_or_default();
        Webhooks { client, auth_token: auth_token.to_owned() }
    }

    /// Sends `req` with its retries and returns what the call should get back.
    pub async fn send(&self, req: &HttpRequest, nonce: &str) -> FetchReply {
        let (url, policy) = parse_fragment(&req.url);
        let signature = signature::sign(&self.auth_token, req.method, url, &req.params, nonce);
        let mut last = String::new();
        for attempt in 0..=policy.retries {
            let builder = match req.method {
                Method::Get => self.client.get(url).query(&req.params),
                Method::Post => self.client.post(url).form(&req.params),
            };
            let builder = builder
                .timeout(policy.connect + policy.read)
                .header("X-Plivo-Signature-V3", &signature)
                .header("X-Plivo-Signature-Ma-V3", &signature)
                .header("X-Plivo-Signature-V3-Nonce", nonce);
            let retry = match builder.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    if status.is_success() {
                        return match resp.text().await {
                            Ok(body) => FetchReply::Body(body),
                            Err(e) => FetchReply::Failed(format!("reading the body failed: {e}")),
                        };
                    }
                    last = format!("HTTP {}", status.as_u16());
                    (status.is_client_error() && policy.on_4xx) || (status.is_server_error() && policy.on_5xx)
                }
                Err(e) => {
                    last = if e.is_timeout() { "timed out".to_owned() } else { format!("{e}") };
                    if e.is_connect() { policy.on_connect } else { policy.on_read }
                }
            };
            if !retry || attempt == policy.retries {
                break;
            }
        }
        FetchReply::Failed(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_set_timeouts_and_are_stripped() {
        let (u, p) = parse_fragment("https://a.example/cb?x=1#ct=500&rt=3000&rc=3&rp=5xx,ct");
        assert_eq!(u, "https://a.example/cb?x=1");
        assert_eq!(p.connect, Duration::from_millis(500));
        assert_eq!(p.read, Duration::from_millis(3000));
        assert_eq!(p.retries, 3);
        assert!(p.on_5xx && p.on_connect && !p.on_read && !p.on_4xx);
        let (u, p) = parse_fragment("https://a.example/cb#ct=5&rc=9");
        assert_eq!(u, "https://a.example/cb");
        assert_eq!(p, RetryPolicy::default());
    }
}
