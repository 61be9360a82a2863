//! `serve --record DIR`: the driver's [`Recorder`] keeps a [`Cassette`] per call started
//! through the REST API — its setup, the `/sim/` inputs and REST hangups/transfers it got,
//! the REST room operations made while it lived, and every request with the application's
//! reply (status, body or failure, latency) — with times in milliseconds since the server
//! started, and hands it over for writing once the call has ended and its notifications have
//! been answered.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cassette::{self, Cassette, RecordedCall, RecordedEvent, RecordedReply, RecordedRequest, Source};
use crate::engine::{CallId, CallSetup, HttpRequest, Input, Reply};
use crate::runtime::RoomOp;

/// Where a request's reply goes: the call's id and the request's place in its cassette.
pub type Slot = (String, usize);

/// A call's cassette while it is recorded.
#[derive(Debug)]
struct Open {
    cassette: Cassette,
    /// Notifications sent and not answered yet.
    waiting: usize,
    /// The call has ended (it is written once nothing is waiting).
    ended: bool,
}

/// The cassettes of the live calls of one server ([`crate::cassette`]). Holds one open
/// cassette per live recorded call (so at most `--max-calls`), each bounded by
/// [`cassette::MAX_REQUESTS`] and [`cassette::MAX_EVENTS`].
#[derive(Debug)]
pub struct Recorder {
    dir: PathBuf,
    recording: String,
    speed: f64,
    open: HashMap<String, Open>,
    calls: usize,
    seq: u64,
}

impl Recorder {
    /// Records into `dir` (which must exist) a server whose media run at `speed` on the
    /// calls' clock (1, or 0 under `serve --speed 0`); replay runs them at that speed.
    pub fn new(dir: &Path, speed: f64) -> Self {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Recorder {
            dir: dir.to_owned(),
            recording: format!("serve {} {secs}", std::process::id()),
            speed,
            open: HashMap::new(),
            calls: 0,
            seq: 0,
        }
    }

    /// A call was started at `now`.
    pub fn started(&mut self, now: Duration, setup: &CallSetup) {
        let name = setup.id.as_str();
        let call = RecordedCall::new(name, self.calls, now, setup);
        self.calls += 1;
        let mut c = Cassette::new(Source::Serve, &self.recording, Some(call));
        c.speed = Some(self.speed);
        self.open.insert(name.to_owned(), Open { cassette: c, waiting: 0, ended: false });
    }

    /// `input` was handed to call `id` at `now` (inputs no scenario event states are not
    /// kept).
    pub fn input(&mut self, now: Duration, id: &CallId, input: &Input) {
        let seq = self.next_seq();
        if let Some(o) = self.open.get_mut(id.as_str())
            && let Some(event) = cassette::input_event(id.as_str(), input)
        {
            o.cassette.push_event(RecordedEvent { at_ms: cassette::ms(now), seq, event });
        }
    }

    /// A REST room operation at `now`: kept in the cassette of every call recorded and live.
    pub fn room_op(&mut self, now: Duration, op: &RoomOp) {
        let seq = self.next_seq();
        let event = cassette::room_event(op);
        for o in self.open.values_mut().filter(|o| !o.ended) {
            o.cassette.push_event(RecordedEvent { at_ms: cassette::ms(now), seq, event: event.clone() });
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// `req` of call `call` went out at `now`; where its reply goes (`None`: the call is not
    /// recorded, or its cassette is full).
    pub fn request(&mut self, now: Duration, call: Option<&CallId>, req: &HttpRequest) -> Option<Slot> {
        let id = call?.as_str();
        let o = self.open.get_mut(id)?;
        let before = o.cassette.requests.len();
        o.cassette.push_request(RecordedRequest::new(now, req, RecordedReply::default()));
        if o.cassette.requests.len() == before {
            return None;
        }
        if req.reply == Reply::Ignore {
            o.waiting += 1;
        }
        Some((id.to_owned(), before))
    }

    /// The reply of the request at `slot`; a cassette that is complete with it is returned
    /// for writing (path and JSON). `notification`: the request was one (it was waited for).
    pub fn replied(&mut self, slot: Slot, reply: RecordedReply, notification: bool) -> Option<(PathBuf, String)> {
        let (id, i) = slot;
        let o = self.open.get_mut(&id)?;
        if let Some(r) = o.cassette.requests.get_mut(i) {
            r.reply = reply;
        }
        if notification {
            o.waiting = o.waiting.saturating_sub(1);
        }
        self.finish_if_done(&id)
    }

    /// Call `id` has ended (the driver forgot it): its cassette, when no notification is
    /// waiting (else when the last one is answered). A document fetch in flight then is
    /// cancelled and keeps an empty reply.
    pub fn ended(&mut self, id: &str) -> Option<(PathBuf, String)> {
        self.open.get_mut(id)?.ended = true;
        self.finish_if_done(id)
    }

    fn finish_if_done(&mut self, id: &str) -> Option<(PathBuf, String)> {
        let o = self.open.get(id)?;
        if !(o.ended && o.waiting == 0) {
            return None;
        }
        let o = self.open.remove(id)?;
        Some((self.dir.join(o.cassette.file_name()), o.cassette.to_json()))
    }
}

/// Writes a finished cassette off the driver task; a failure is logged.
pub fn write(path: PathBuf, json: String) {
    tokio::task::spawn_blocking(move || {
        if let Err(e) = std::fs::write(&path, json) {
            tracing::warn!(path = %path.display(), %e, "cannot write the cassette");
        } else {
            tracing::info!(path = %path.display(), "cassette written");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Purpose, RequestId};
    use crate::xml::values::Method;

    fn req(id: u64, reply: Reply) -> HttpRequest {
        HttpRequest {
            id: RequestId(id),
            url: "https://app.example/h".to_owned(),
            method: Method::Post,
            params: Vec::new(),
            purpose: Purpose::Hangup,
            reply,
        }
    }

    #[test]
    fn a_cassette_waits_for_its_notifications_and_stays_bounded() {
        let mut rec = Recorder::new(Path::new("/nowhere"), 0.0);
        let setup = CallSetup::inbound("c1", "+1", "+2", "https://app.example/a");
        let id = setup.id.clone();
        rec.started(Duration::from_millis(5), &setup);
        let fetch = rec.request(Duration::ZERO, Some(&id), &req(1, Reply::Execute));
        let notice = rec.request(Duration::ZERO, Some(&id), &req(2, Reply::Ignore));
        assert_eq!(rec.request(Duration::ZERO, None, &req(3, Reply::Ignore)), None, "no call: not recorded");
        rec.input(Duration::from_millis(7), &id, &Input::Digits("5".to_owned()));
        assert!(rec.replied(fetch.unwrap_or_default(), RecordedReply::default(), false).is_none());
        // Ended, but the hangup notification is still out.
        assert!(rec.ended("c1").is_none());
        let reply = RecordedReply { status: Some(200), body: Some("OK".to_owned()), failed: None, latency_ms: 3 };
        let (path, json) = rec.replied(notice.unwrap_or_default(), reply, true).unwrap_or_default();
        assert_eq!(path, Path::new("/nowhere/c1.cassette.json"));
        let c = Cassette::from_json(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.requests.len(), c.events.len(), c.speed), (2, 1, Some(0.0)));
        assert_eq!(c.requests.get(1).and_then(|r| r.reply.status), Some(200));
        assert!(rec.open.is_empty(), "written cassettes are forgotten");

        rec.started(Duration::ZERO, &CallSetup::inbound("c2", "+1", "+2", "https://app.example/a"));
        let c2 = CallId::from("c2".to_owned());
        for i in 0..cassette::MAX_REQUESTS as u64 {
            assert!(rec.request(Duration::ZERO, Some(&c2), &req(i, Reply::Execute)).is_some());
        }
        assert_eq!(rec.request(Duration::ZERO, Some(&c2), &req(0, Reply::Ignore)), None, "full: cut");
        let (_, json) = rec.ended("c2").unwrap_or_default();
        let c = Cassette::from_json(&json).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.truncated && c.requests.len() == cassette::MAX_REQUESTS);
    }
}
