//! The timeouts and retries of one webhook, from its URL fragment: `#ct=…&rt=…&tt=…&rc=…&rp=…`
//! (Plivo's callback retry rule, spec §3.3; Plivo docs "Callback retries" under XML
//! "Request and response"). Pure data and arithmetic, shared by `serve`'s HTTP sender
//! (`server::webhook`) and the simulation's injected faults
//! ([`Fault`](crate::sim::Fault)), so both retry the same failures the same number of times
//! within the same time.
//!
//! ```
//! use std::time::Duration;
//! use plivo_flow::runtime::webhook_policy::{Failure, parse_fragment};
//!
//! let (url, policy) = parse_fragment("https://app.example/cb#rt=3000&rc=3&rp=5xx");
//! assert_eq!(url, "https://app.example/cb");
//! assert_eq!(policy.read, Duration::from_secs(3));
//! assert!(policy.retries_on(Failure::Status(500)) && !policy.retries_on(Failure::ReadTimeout));
//! // Each attempt gets the connect + read timeout, within what is left of the total (55 s).
//! assert_eq!(policy.attempt_timeout(Duration::ZERO), Some(Duration::from_secs(5)));
//! assert_eq!(policy.attempt_timeout(Duration::from_millis(53_000)), Some(Duration::from_secs(2)));
//! assert_eq!(policy.attempt_timeout(Duration::from_secs(55)), None);
//! ```

use std::time::Duration;

/// Plivo's limit on the time of one webhook with all its retries (`tt` at most 55 000 ms).
pub const PLIVO_TOTAL_TIMEOUT: Duration = Duration::from_millis(55_000);

/// Less than this left of the total is no time for an attempt: the request has failed.
pub const MIN_ATTEMPT: Duration = Duration::from_millis(10);

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
    /// Retry on a connect timeout or error (`rp` has `ct` or `all`; default yes).
    pub on_connect: bool,
    /// Retry on a read timeout or a broken transfer (`rt`/`all`; default yes).
    pub on_read: bool,
    /// Retry on a 4xx (`4xx`/`all`; default no).
    pub on_4xx: bool,
    /// Retry on a 5xx (`5xx`/`all`; default no).
    pub on_5xx: bool,
}

impl Default for RetryPolicy {
    /// Plivo's defaults: `ct=2000`, `rt=40000`, `tt=55000`, `rc=1`, `rp=ct,rt`.
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

/// How one attempt of a request failed, as the retry rule tells failures apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection within the connect timeout.
    ConnectTimeout,
    /// No connection at all (refused, unreachable, DNS, TLS…).
    Connect,
    /// Connected, but no complete answer within the attempt's timeout.
    ReadTimeout,
    /// The connection broke while sending or reading (or too many redirects).
    Transfer,
    /// The application answered with this status, other than 2xx.
    Status(u16),
}

impl RetryPolicy {
    /// Whether the policy retries a failure of this kind (attempts left permitting): `ct`
    /// covers connect timeouts and errors, `rt` read timeouts and broken transfers, `4xx` and
    /// `5xx` those statuses; other statuses never retry.
    pub fn retries_on(&self, failure: Failure) -> bool {
        match failure {
            Failure::ConnectTimeout | Failure::Connect => self.on_connect,
            Failure::ReadTimeout | Failure::Transfer => self.on_read,
            Failure::Status(s) => ((400..500).contains(&s) && self.on_4xx) || ((500..600).contains(&s) && self.on_5xx),
        }
    }

    /// Whether attempt `attempt` (0 = the first) failing with `failure` is followed by another.
    pub fn retry_after(&self, attempt: u32, failure: Failure) -> bool {
        attempt < self.retries && self.retries_on(failure)
    }

    /// How long an attempt that starts when `elapsed` of the total is spent may take: the
    /// connect + read timeout, at most what is left of the total; `None` when less than
    /// [`MIN_ATTEMPT`] is left (the request has failed on its total timeout).
    pub fn attempt_timeout(&self, elapsed: Duration) -> Option<Duration> {
        let left = self.total.saturating_sub(elapsed);
        (left >= MIN_ATTEMPT).then(|| (self.connect + self.read).min(left))
    }

    /// How many attempts at most: the first and [`RetryPolicy::retries`] more.
    pub fn attempts(&self) -> u32 {
        self.retries.saturating_add(1)
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
    fn the_given_total_is_the_default_and_tt_overrides_it() {
        let defaults = RetryPolicy { total: Duration::from_millis(700), ..RetryPolicy::default() };
        assert_eq!(parse_fragment_with("http://a/x", defaults).1.total, Duration::from_millis(700));
        assert_eq!(parse_fragment_with("http://a/x#tt=300", defaults).1.total, Duration::from_millis(300));
    }

    #[test]
    fn the_defaults_are_plivos() {
        let p = parse_fragment("https://a.example/answer").1;
        assert_eq!(
            (p.connect, p.read, p.total),
            (Duration::from_secs(2), Duration::from_secs(40), PLIVO_TOTAL_TIMEOUT)
        );
        assert_eq!(p.attempts(), 2);
        // rp=ct,rt: connection problems and timeouts retry, statuses do not.
        assert!(p.retries_on(Failure::Connect) && p.retries_on(Failure::ConnectTimeout));
        assert!(p.retries_on(Failure::ReadTimeout) && p.retries_on(Failure::Transfer));
        assert!(!p.retries_on(Failure::Status(500)) && !p.retries_on(Failure::Status(404)));
    }

    #[test]
    fn rp_chooses_which_failures_retry() {
        let p = parse_fragment("https://a.example/cb#rp=4xx").1;
        assert!(p.retries_on(Failure::Status(404)) && !p.retries_on(Failure::Status(503)));
        assert!(!p.retries_on(Failure::Connect) && !p.retries_on(Failure::ReadTimeout));
        let p = parse_fragment("https://a.example/cb#rp=all").1;
        assert!(p.retries_on(Failure::Status(404)) && p.retries_on(Failure::Status(503)));
        assert!(p.retries_on(Failure::Connect) && p.retries_on(Failure::Transfer));
        // A status that is neither 4xx nor 5xx (a redirect not followed) never retries.
        assert!(!p.retries_on(Failure::Status(302)));
    }

    #[test]
    fn retries_stop_after_rc() {
        let p = parse_fragment("https://a.example/cb#rc=2&rp=5xx").1;
        assert!(p.retry_after(0, Failure::Status(500)) && p.retry_after(1, Failure::Status(500)));
        assert!(!p.retry_after(2, Failure::Status(500)));
        assert!(!p.retry_after(0, Failure::ReadTimeout));
        let none = parse_fragment("https://a.example/cb#rc=0").1;
        assert!(!none.retry_after(0, Failure::Connect));
        assert_eq!(none.attempts(), 1);
    }

    #[test]
    fn attempts_share_the_total() {
        // Default: 42 s per attempt, 55 s in all, so the second attempt gets 13 s.
        let p = RetryPolicy::default();
        assert_eq!(p.attempt_timeout(Duration::ZERO), Some(Duration::from_secs(42)));
        assert_eq!(p.attempt_timeout(Duration::from_secs(42)), Some(Duration::from_secs(13)));
        assert_eq!(p.attempt_timeout(Duration::from_millis(54_995)), None);
        assert_eq!(p.attempt_timeout(Duration::from_secs(90)), None);
    }
}
