//! Faults injected on purpose at a URL ([`Fault`], [`Simulation::inject_fault`]): a timeout, a
//! refused connection, a status other than 2xx, a slow reply, a redirect, each for every
//! attempt or the first N. They follow the request's own retry rule
//! ([`webhook_policy`](crate::runtime::webhook_policy), the `#ct=…&rt=…&rc=…&rp=…` fragment
//! with Plivo's defaults, the same rule `serve` sends by), in virtual time: an attempt that
//! times out takes its whole timeout, a slow reply its delay, and the call hears the outcome
//! when the last attempt ends.
//!
//! What the call does with the outcome is the engine's: a failed document fetch goes to
//! `fallback_url` (answer URL) or ends the call with 7011/7012/7013/7014; a 2xx body that is not
//! Plivo XML ends it with 8011…8014. A notification's attempts are each a `reply` line.
//!
//! Bounds: one attempt counter per faulted URL; a request makes at most
//! [`RetryPolicy::attempts`](crate::runtime::webhook_policy::RetryPolicy::attempts) attempts
//! (6 at most, `rc` ≤ 5), each following at most [`MAX_REDIRECTS`] redirects, so it writes at
//! most 6 × 6 `reply` lines.

use std::time::Duration;

use super::{Action, NOT_SERVED, Served, Simulation, reply_text};
use crate::engine::{CallId, FetchReply, HttpRequest, Input, Reply};
use crate::runtime::strip_fragment;
use crate::runtime::webhook_policy::{Failure, parse_fragment};
use crate::xml::values::Method;

/// The most redirects one attempt follows, as `serve`'s HTTP client does
/// (`reqwest::redirect::Policy::limited(5)`); one more fails the attempt.
pub const MAX_REDIRECTS: u32 = 5;

/// How a URL misbehaves on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// The application accepts the connection and never answers: the attempt takes its whole
    /// timeout (connect + read, within what is left of the total) and fails as a read timeout.
    Timeout,
    /// The connection is refused at once (a connect error).
    Refused,
    /// The application answers with this status (400–599); its body is not read.
    Status(u16),
    /// The application answers `302 Found` with this `Location` (an absolute URL): the client
    /// follows it with a GET and no parameters, as `serve`'s client (reqwest) does, at most
    /// [`MAX_REDIRECTS`] times per attempt.
    Redirect(String),
}

/// A fault injected at one URL ([`Simulation::inject_fault`]; scenario `[documents]` entries,
/// docs/scenarios.md "Faults on purpose"). Each request to the URL is tried by its own retry
/// rule ([`crate::runtime::webhook_policy`]: the `#ct=…&rt=…&tt=…&rc=…&rp=…` fragment with
/// Plivo's defaults, as `serve` sends), in virtual time: an attempt that times out takes its
/// whole timeout, a slow reply its delay, and the call hears the outcome when the last attempt
/// ends (a failed document fetch: `fallback_url` or 7011/7012/7013/7014; a 2xx body that is
/// not Plivo XML: 8011…8014). A notification's attempts are each a `reply` line, as are the
/// retried attempts of a document fetch and the redirects followed. At most 6 attempts
/// (`rc` ≤ 5) of at most [`MAX_REDIRECTS`] redirects each.
///
/// Its attempts are counted over the
/// whole simulation, retries included, so `times = 1` fails the first request's first attempt
/// only. A request's attempts are planned when it is sent, so the retries of a fetch that the
/// call's end abandons still count (their `reply` lines are not written).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fault {
    /// How the URL fails; `None`: it answers (after `delay`).
    pub kind: Option<FaultKind>,
    /// How long the application takes to answer (virtual time): a status or a redirect, or the
    /// body. A delay of at least the attempt's timeout is a timeout.
    pub delay: Duration,
    /// Misbehaves for the first N attempts only, then answers `body` at once; `None`: always.
    pub times: Option<u32>,
    /// What the URL answers (2xx) when it answers; `None`: as if it were not listed (the live
    /// application when there is one, else `200 OK` with an empty body for a notification and
    /// "not served" for a document fetch).
    pub body: Option<String>,
}

/// How one attempt ended.
enum Outcome {
    /// An answer for the call (a failure too when it is final, e.g. from the live fetcher).
    Answered(FetchReply),
    /// The attempt failed; the kind (none: never retried) and the reason.
    Failed(Option<Failure>, String),
}

impl Simulation {
    /// Makes `url` (its `#fragment` ignored) misbehave as `fault` says, for document fetches and
    /// notifications alike; it replaces what was served there. Such a URL never reaches a
    /// [`Fetcher`](super::Fetcher) unless its fault says to answer as if unlisted.
    ///
    /// ```
    /// use plivo_flow::sim::{Fault, FaultKind, Simulation};
    ///
    /// let mut sim = Simulation::new();
    /// sim.inject_fault("https://app.example/answer", Fault { kind: Some(FaultKind::Status(500)), ..Fault::default() });
    /// sim.serve("https://app.example/fallback", "<Response><Speak>sorry</Speak></Response>");
    /// let mut setup = sim.setup("alice", "https://app.example/answer", plivo_flow::engine::Direction::Inbound);
    /// setup.fallback = Some(plivo_flow::engine::Webhook::post("https://app.example/fallback"));
    /// sim.start_call_with(std::time::Duration::ZERO, "alice", setup);
    /// sim.run();
    /// let text = sim.transcript_text();
    /// assert!(text.contains("fetch of https://app.example/answer failed: HTTP 500 (injected)"), "{text}");
    /// assert!(text.contains("alice  spoke \"sorry\""), "{text}");
    /// ```
    pub fn inject_fault(&mut self, url: &str, fault: Fault) {
        self.served.insert(strip_fragment(url).to_owned(), Served::Fault(fault));
    }

    /// Answers `req`, whose URL has a fault: attempt after attempt per its retry rule; the
    /// reply goes to the call when the last attempt ends, and `reply` lines show the
    /// attempts (each one of a notification; the retried ones of a document fetch) and the
    /// redirects followed.
    pub(super) fn answer_faulted(&mut self, who: &str, call: Option<&CallId>, req: &HttpRequest) {
        let (url, policy) = parse_fragment(&req.url);
        let url = url.to_owned();
        let notification = req.reply == Reply::Ignore;
        let of = policy.attempts();
        let mut lines: Vec<(Duration, String)> = Vec::new();
        let mut elapsed = Duration::ZERO;
        let mut attempt: u32 = 0;
        let reply = loop {
            let Some(timeout) = policy.attempt_timeout(elapsed) else {
                let reason = format!("no answer within the total timeout of {:?} (injected)", policy.total);
                if notification {
                    lines.push((elapsed, format!("{url} failed: {reason}")));
                }
                break FetchReply::Failed(reason);
            };
            let (took, outcome) = self.attempt(who, req, &url, timeout, Duration::ZERO, 0, elapsed, &mut lines);
            elapsed += took;
            let n = attempt + 1;
            match outcome {
                Outcome::Answered(reply) => {
                    if notification {
                        lines.push((elapsed, format!("{} (attempt {n} of {of})", reply_text(&url, &reply))));
                    }
                    break reply;
                }
                Outcome::Failed(failure, reason) => {
                    let again = failure.is_some_and(|f| policy.retry_after(attempt, f));
                    if again || notification {
                        lines.push((elapsed, format!("{url} failed: {reason} (attempt {n} of {of})")));
                    }
                    if !again {
                        break FetchReply::Failed(reason);
                    }
                    attempt = n;
                }
            }
        };
        let now = self.now;
        let fetch_of = if notification { None } else { call.cloned() };
        for (at, text) in lines {
            self.schedule(now + at, Action::Reply { who: who.to_owned(), text, fetch_of: fetch_of.clone() });
        }
        if !notification && let Some(call) = call {
            self.faulted_replies.insert((who.to_owned(), req.id), reply.clone());
            let input = Input::Fetched { request: req.id, reply };
            self.rt.media_mut().schedule_input(now + elapsed, call, input);
        }
    }

    /// One attempt (or one hop of it, `hops` redirects in) at `url`, `spent` into the
    /// attempt's `timeout`, `base` into the request: how long it took and how it ended.
    #[allow(clippy::too_many_arguments)]
    fn attempt(
        &mut self,
        who: &str,
        req: &HttpRequest,
        url: &str,
        timeout: Duration,
        spent: Duration,
        hops: u32,
        base: Duration,
        lines: &mut Vec<(Duration, String)>,
    ) -> (Duration, Outcome) {
        let fault = match self.served.get(url) {
            Some(Served::Fault(f)) => f.clone(),
            Some(Served::Body(b)) => return (Duration::ZERO, Outcome::Answered(FetchReply::Body(b.clone()))),
            Some(Served::Fail(r)) => return (Duration::ZERO, Outcome::Failed(None, r.clone())),
            None => return (Duration::ZERO, self.unserved(who, req)),
        };
        let count = self.fault_attempts.entry(url.to_owned()).or_insert(0);
        let n = *count;
        *count = count.saturating_add(1);
        if fault.times.is_some_and(|k| n >= k) {
            return (Duration::ZERO, self.answer(who, req, fault.body));
        }
        let left = timeout.saturating_sub(spent);
        let timed_out = || {
            let reason = format!("timed out: no complete answer within {timeout:?} (injected)");
            (left, Outcome::Failed(Some(Failure::ReadTimeout), reason))
        };
        let delay = fault.delay;
        match fault.kind {
            Some(FaultKind::Timeout) => timed_out(),
            Some(FaultKind::Refused) => {
                (Duration::ZERO, Outcome::Failed(Some(Failure::Connect), "connection refused (injected)".to_owned()))
            }
            _ if delay >= left => timed_out(),
            Some(FaultKind::Status(s)) => {
                (delay, Outcome::Failed(Some(Failure::Status(s)), format!("HTTP {s} (injected)")))
            }
            Some(FaultKind::Redirect(to)) => {
                if hops >= MAX_REDIRECTS {
                    let reason = format!("too many redirects (more than {MAX_REDIRECTS}) (injected)");
                    return (delay, Outcome::Failed(Some(Failure::Transfer), reason));
                }
                lines.push((base + spent + delay, format!("{url} redirected (302) to {to} (injected)")));
                // reqwest follows a 302 with a GET to the new URL, without the form body.
                let next = HttpRequest {
                    id: req.id,
                    url: to.clone(),
                    method: Method::Get,
                    params: Vec::new(),
                    purpose: req.purpose,
                    reply: req.reply,
                };
                let (took, outcome) =
                    self.attempt(who, &next, strip_fragment(&to), timeout, spent + delay, hops + 1, base, lines);
                let outcome = match outcome {
                    // Name the target nothing serves (a scenario warning names it too).
                    Outcome::Failed(None, r) if r == NOT_SERVED => {
                        Outcome::Failed(None, format!("{NOT_SERVED} (redirected to {})", strip_fragment(&to)))
                    }
                    other => other,
                };
                (delay + took, outcome)
            }
            None => (delay, self.answer(who, req, fault.body)),
        }
    }

    /// The 2xx answer of a faulted URL: its body, or what an unlisted URL gets.
    fn answer(&mut self, who: &str, req: &HttpRequest, body: Option<String>) -> Outcome {
        match body {
            Some(b) => Outcome::Answered(FetchReply::Body(b)),
            None => self.unserved(who, req),
        }
    }

    /// What a URL gets that nothing lists: the live application's answer (final: it retried
    /// by itself), else the fallback document, else `200 OK` for a notification and "not
    /// served" for a document fetch.
    fn unserved(&mut self, who: &str, req: &HttpRequest) -> Outcome {
        if let Some(fetcher) = self.fetcher.as_mut() {
            return Outcome::Answered(fetcher.fetch(who, req));
        }
        if req.reply == Reply::Ignore {
            return Outcome::Answered(FetchReply::Body(String::new()));
        }
        match &self.fallback {
            Some(Served::Body(b)) => Outcome::Answered(FetchReply::Body(b.clone())),
            _ => Outcome::Failed(None, NOT_SERVED.to_owned()),
        }
    }
}
