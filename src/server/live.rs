//! `--live`: the [`Fetcher`] that sends a simulation's unserved requests to the real
//! application over HTTP, exactly as `serve` does ([`Webhooks`]: parameters, GET/POST,
//! `X-Plivo-Signature-V3`, `#ct=…` fragments, retries), one at a time, while virtual time
//! stands still.

use std::time::{Duration, Instant};

use super::webhook::Webhooks;
use crate::cassette::{RecordedReply, ReplyLog};
use crate::engine::{FetchReply, HttpRequest};
use crate::sim::Fetcher;

/// Sends each request with [`Webhooks::send`] on its own current-thread tokio runtime and
/// waits for the answer.
#[derive(Debug)]
pub struct LiveFetcher {
    rt: tokio::runtime::Runtime,
    webhooks: Webhooks,
    nonce: u64,
}

impl LiveFetcher {
    /// A fetcher signing with `auth_token` (the development token unless one is given).
    ///
    /// # Errors
    /// When the tokio runtime cannot be built.
    pub fn new(auth_token: &str) -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let webhooks = {
            let _inside = rt.enter();
            Webhooks::new(auth_token)
        };
        Ok(LiveFetcher { rt, webhooks, nonce: 0 })
    }
}

impl LiveFetcher {
    /// Sends `req` and returns the reply, the HTTP status of the last attempt (`None` when
    /// none was answered) and the wall time it took.
    pub fn fetch_traced(&mut self, req: &HttpRequest) -> (FetchReply, Option<u16>, Duration) {
        // Nonces count up, so that runs are alike (the signature covers the nonce).
        self.nonce += 1;
        let nonce = format!("{:020}", self.nonce);
        let started = Instant::now();
        let (reply, status) = self.rt.block_on(async {
            let permit = self.webhooks.permit(req).await;
            self.webhooks.send_traced(permit, req, &nonce).await
        });
        let took = started.elapsed();
        tracing::debug!(url = %req.url, ?took, "live request answered");
        (reply, status, took)
    }
}

impl Fetcher for LiveFetcher {
    fn fetch(&mut self, _who: &str, req: &HttpRequest) -> FetchReply {
        self.fetch_traced(req).0
    }
}

/// `--live --record`: a [`LiveFetcher`] that also keeps each reply with its status and
/// latency in a [`ReplyLog`], for the cassettes written after the run
/// ([`crate::cassette::from_simulation`]). The log holds one entry per request the
/// application answered, as [`crate::sim::Simulation::requests`] holds one per request.
#[derive(Debug)]
pub struct RecordingFetcher {
    live: LiveFetcher,
    log: ReplyLog,
}

impl RecordingFetcher {
    /// Records what `live` gets into `log`.
    pub fn new(live: LiveFetcher, log: ReplyLog) -> Self {
        RecordingFetcher { live, log }
    }
}

impl Fetcher for RecordingFetcher {
    fn fetch(&mut self, who: &str, req: &HttpRequest) -> FetchReply {
        let (reply, status, took) = self.live.fetch_traced(req);
        if let Ok(mut log) = self.log.lock() {
            log.insert((who.to_owned(), req.id), RecordedReply::new(&reply, status, took));
        }
        reply
    }
}
