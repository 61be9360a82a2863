//! Record-and-replay cassettes: what one call did against a live application, as a JSON value,
//! and the [`CassetteFetcher`] that replays it with no application running.
//!
//! A [`Cassette`] holds, for one call: its setup, the inputs and room operations it got (in the
//! scenario's `[[event]]` vocabulary, with their times), and every request the engine made for
//! it in order, each with the application's reply (HTTP status, body or failure, latency). The
//! shells write them (`plivo-flow run --live --record DIR`, `plivo-flow serve --record DIR`);
//! `plivo-flow test` replays them ([`crate::scenario::replay_simulation`]). The format is in
//! `docs/scenarios.md` ("Cassettes"). Nothing here does I/O: values are built and compared,
//! the shells read and write the bytes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::{
    CallSetup, Direction, FetchReply, HangupSource, HttpRequest, Input, MediaEvent, MemberMedia, Reply, RequestId,
};
use crate::runtime::RoomOp;
use crate::sim::{Fetcher, Simulation};

/// The `version` this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The most requests one cassette keeps; a call that makes more is cut there and marked
/// [`Cassette::truncated`] (replay then checks the first `MAX_REQUESTS` and says so).
pub const MAX_REQUESTS: usize = 10_000;

/// The most events (inputs and room operations) one cassette keeps; past it the cassette is
/// marked [`Cassette::truncated`] too.
pub const MAX_EVENTS: usize = 10_000;

/// The file name suffix of cassettes (`DIR/<call name>.cassette.json`).
pub const SUFFIX: &str = ".cassette.json";

/// Where a cassette was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// `plivo-flow run --live --record`: virtual times, ids from the scenario's seed.
    Run,
    /// `plivo-flow serve --record`: wall-clock times since the server started, random ids.
    Serve,
}

/// One call's recording. Serialized as one JSON object (`docs/scenarios.md`, "Cassettes").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cassette {
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// Where it was recorded.
    pub source: Source,
    /// Names the recording (one run or one server): cassettes of one recording replay in one
    /// simulation, so calls that shared a conference meet again.
    pub recording: String,
    /// The scenario settings the recording ran with: `seed`, `timing`, `dial`,
    /// `transcription` (as in a scenario file; an object, possibly empty).
    #[serde(default)]
    pub settings: serde_json::Value,
    /// Media speed of a `serve` recording on the calls' clock (1, or 0 under `serve --speed 0`);
    /// replay uses it too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    /// The call; `None` for the requests of no call (`room.cassette.json`).
    pub call: Option<RecordedCall>,
    /// Inputs and room operations, in order.
    #[serde(default)]
    pub events: Vec<RecordedEvent>,
    /// Every request the engine made for the call, in order.
    #[serde(default)]
    pub requests: Vec<RecordedRequest>,
    /// Requests or events were left out past [`MAX_REQUESTS`] / [`MAX_EVENTS`].
    #[serde(default)]
    pub truncated: bool,
}

/// A call's setup as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedCall {
    /// The call's name (the scenario's, or its `CallUUID` under `serve`).
    pub name: String,
    /// Its place among the recording's calls (replay starts them in this order, so that
    /// seeded ids come out the same).
    pub index: usize,
    /// Milliseconds since the recording's start at which the call started.
    pub at_ms: u64,
    /// `CallUUID` during the recording.
    pub call_uuid: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// `From`.
    pub from: String,
    /// `To`.
    pub to: String,
    /// `CallerName`.
    #[serde(default)]
    pub caller_name: String,
    /// `answer_url`.
    pub answer_url: String,
    /// `answer_method`: `GET` or `POST`.
    pub answer_method: String,
    /// `fallback_url` and its method.
    #[serde(default)]
    pub fallback: Option<(String, String)>,
    /// `hangup_url` and its method.
    #[serde(default)]
    pub hangup: Option<(String, String)>,
    /// `ring_url` and its method.
    #[serde(default)]
    pub ring: Option<(String, String)>,
    /// The `request_uuid` "Make a call" answered.
    #[serde(default)]
    pub request_uuid: Option<String>,
}

/// An input or a room operation, in the vocabulary of a scenario's `[[event]]` (`action`,
/// `call`, `keys`, `room`, `member`, …; `at` is left out: it is `at_ms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// Milliseconds since the recording's start.
    pub at_ms: u64,
    /// Its place in the recording (a room operation is in the cassette of every call it may
    /// have touched; replay applies each `seq` once).
    pub seq: u64,
    /// The `[[event]]` table, as a JSON object.
    pub event: serde_json::Value,
}

/// One request and the application's reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// Milliseconds since the recording's start.
    pub at_ms: u64,
    /// The URL as the engine wrote it (with its `#…` fragment).
    pub url: String,
    /// `GET` or `POST`.
    pub method: String,
    /// What it was for, as transcripts say it (`answer`, `GetDigits action`, `hangup`, …).
    pub purpose: String,
    /// All its parameters, in order.
    pub params: Vec<(String, String)>,
    /// What came back.
    pub reply: RecordedReply,
}

/// The application's reply to one request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RecordedReply {
    /// HTTP status of the last attempt; `None` when no attempt was answered, or when the
    /// scenario's `[documents]` answered.
    #[serde(default)]
    pub status: Option<u16>,
    /// The body the call got (2xx).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Why there was no usable body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// Wall milliseconds the application took (retries included); informational, replay
    /// answers at once.
    #[serde(default)]
    pub latency_ms: u64,
}

impl RecordedReply {
    /// The reply from what the call got.
    pub fn new(reply: &FetchReply, status: Option<u16>, latency: Duration) -> Self {
        let (body, failed) = match reply {
            FetchReply::Body(b) => (Some(b.clone()), None),
            FetchReply::Document(d) => (Some(crate::xml::write(d)), None),
            FetchReply::Failed(why) => (None, Some(why.clone())),
        };
        RecordedReply { status, body, failed, latency_ms: ms(latency) }
    }

    /// What replay hands the call.
    pub fn to_fetch_reply(&self) -> FetchReply {
        match (&self.body, &self.failed) {
            (Some(b), _) => FetchReply::Body(b.clone()),
            (None, Some(why)) => FetchReply::Failed(why.clone()),
            (None, None) => FetchReply::Failed("the cassette recorded no reply".to_owned()),
        }
    }
}

/// Whole milliseconds of `d`, saturating.
pub fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl RecordedRequest {
    /// `req` made at `at`, answered `reply`.
    pub fn new(at: Duration, req: &HttpRequest, reply: RecordedReply) -> Self {
        RecordedRequest {
            at_ms: ms(at),
            url: req.url.clone(),
            method: req.method.as_str().to_owned(),
            purpose: crate::runtime::purpose_text(req),
            params: req.params.clone(),
            reply,
        }
    }
}

impl RecordedCall {
    /// The recorded form of `setup`, named `name`, started at `at`.
    pub fn new(name: &str, index: usize, at: Duration, setup: &CallSetup) -> Self {
        let hook = |w: &Option<crate::engine::Webhook>| {
            w.as_ref().map(|w| (w.url().to_owned(), w.method().as_str().to_owned()))
        };
        RecordedCall {
            name: name.to_owned(),
            index,
            at_ms: ms(at),
            call_uuid: setup.id.as_str().to_owned(),
            direction: match setup.direction {
                Direction::Inbound => "inbound",
                Direction::Outbound => "outbound",
            }
            .to_owned(),
            from: setup.from.to_string(),
            to: setup.to.to_string(),
            caller_name: setup.caller_name.to_string(),
            answer_url: setup.answer.url().to_owned(),
            answer_method: setup.answer.method().as_str().to_owned(),
            fallback: hook(&setup.fallback),
            hangup: hook(&setup.hangup),
            ring: hook(&setup.ring),
            request_uuid: setup.request_uuid.as_deref().map(str::to_owned),
        }
    }
}

impl Cassette {
    /// An empty cassette of `call` in `recording`.
    pub fn new(source: Source, recording: &str, call: Option<RecordedCall>) -> Self {
        Cassette {
            version: FORMAT_VERSION,
            source,
            recording: recording.to_owned(),
            settings: serde_json::Value::Object(serde_json::Map::new()),
            speed: None,
            call,
            events: Vec::new(),
            requests: Vec::new(),
            truncated: false,
        }
    }

    /// The name replay knows it by: the call's, or `room`.
    pub fn who(&self) -> &str {
        self.call.as_ref().map_or("room", |c| c.name.as_str())
    }

    /// Adds a request, or marks the cassette truncated past [`MAX_REQUESTS`].
    pub fn push_request(&mut self, r: RecordedRequest) {
        if self.requests.len() < MAX_REQUESTS {
            self.requests.push(r);
        } else {
            self.truncated = true;
        }
    }

    /// Adds an event, or marks the cassette truncated past [`MAX_EVENTS`].
    pub fn push_event(&mut self, e: RecordedEvent) {
        if self.events.len() < MAX_EVENTS {
            self.events.push(e);
        } else {
            self.truncated = true;
        }
    }

    /// The file name it is written under: its name made safe (`[A-Za-z0-9._-]`, others `_`)
    /// and [`SUFFIX`].
    pub fn file_name(&self) -> String {
        let safe: String =
            self.who().chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
        let safe = if safe.is_empty() || safe.starts_with('.') { format!("call{safe}") } else { safe };
        format!("{safe}{SUFFIX}")
    }

    /// Pretty JSON, ending with a newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Reads a cassette.
    ///
    /// # Errors
    /// [`CassetteError::Json`] for JSON that is not a cassette, [`CassetteError::Version`]
    /// for another format version.
    pub fn from_json(text: &str) -> Result<Self, CassetteError> {
        let c: Cassette = serde_json::from_str(text).map_err(|e| CassetteError::Json(e.to_string()))?;
        if c.version != FORMAT_VERSION {
            return Err(CassetteError::Version(c.version));
        }
        Ok(c)
    }
}

/// Why a cassette could not be read or replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CassetteError {
    /// Not JSON, or not shaped like a cassette.
    #[error("not a cassette: {0}")]
    Json(String),
    /// Written by another format version.
    #[error("cassette format version {0} is not supported (this plivo-flow reads version {FORMAT_VERSION})")]
    Version(u32),
    /// The recorded setup or an event cannot be replayed.
    #[error("cannot replay: {0}")]
    Invalid(String),
}

/// The replies a [`crate::sim::Fetcher`] gave during a recorded run, by request, with their
/// status and latency, keyed by who made it (call name or `room`) and the request's id
/// (ids count per call); shared between the recording fetcher and the shell that writes the
/// cassettes afterwards.
pub type ReplyLog = Arc<Mutex<HashMap<(String, RequestId), RecordedReply>>>;

/// The cassettes of a finished `run --live --record`: one per call started (in order), plus
/// `room` when requests of no call were made. Requests the fetcher answered take their reply
/// from `log`; those the scenario's `[documents]` answered get it from the simulation (no
/// status, no latency); notifications to served URLs record no reply. `events` are the
/// scenario's `[[event]]`s as JSON objects with their times: those naming a `call` go to its
/// cassette, the others (room operations) to every call's.
pub fn from_simulation(
    sim: &Simulation,
    recording: &str,
    settings: serde_json::Value,
    events: &[(Duration, serde_json::Value)],
    log: &HashMap<(String, RequestId), RecordedReply>,
) -> Vec<Cassette> {
    let mut out: Vec<Cassette> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for (i, (at, name, setup)) in sim.started().iter().enumerate() {
        let mut c = Cassette::new(Source::Run, recording, Some(RecordedCall::new(name, i, *at, setup)));
        c.settings = settings.clone();
        by_name.insert(name.clone(), out.len());
        out.push(c);
    }
    for (seq, (at, ev)) in events.iter().enumerate() {
        let e = RecordedEvent { at_ms: ms(*at), seq: seq as u64, event: ev.clone() };
        match ev.get("call").and_then(|c| c.as_str()) {
            Some(name) => {
                if let Some(&i) = by_name.get(name)
                    && let Some(c) = out.get_mut(i)
                {
                    c.push_event(e);
                }
            }
            None => out.iter_mut().for_each(|c| c.push_event(e.clone())),
        }
    }
    for (at, who, req) in sim.requests() {
        let reply = match log.get(&(who.clone(), req.id)) {
            Some(r) => r.clone(),
            None if req.reply == Reply::Ignore => RecordedReply::default(),
            None => RecordedReply::new(&sim.delivered_reply(who, req.id, &req.url), None, Duration::ZERO),
        };
        let i = match by_name.get(who) {
            Some(&i) => i,
            None => {
                let mut c = Cassette::new(Source::Run, recording, None);
                c.settings = settings.clone();
                out.push(c);
                by_name.insert(who.clone(), out.len() - 1);
                out.len() - 1
            }
        };
        if let Some(c) = out.get_mut(i) {
            c.push_request(RecordedRequest::new(*at, req, reply));
        }
    }
    out
}

/// Parameters whose values are ids: replay maps each recorded id to the one the replay made
/// (learned at its first appearance, then held to), rather than comparing them literally.
pub const ID_PARAMS: &[&str] = &[
    "CallUUID",
    "RequestUUID",
    "ALegUUID",
    "ALegRequestUUID",
    "DialALegUUID",
    "DialBLegUUID",
    "ConferenceUUID",
    "MPCUUID",
    "ParticipantCallUUID",
    "RecordingID",
];

/// Whether a `serve` cassette's parameter `name` is measured on the wall clock (durations and
/// times: `Duration`, `BillDuration`, `RecordingDurationMs`, `ParticipantJoinTime`, …), so that
/// replay in virtual time cannot reproduce it; replay does not compare these for `serve`
/// cassettes (and compares everything for `run` cassettes).
pub fn is_wall_clock_param(name: &str) -> bool {
    ["Duration", "DurationMs", "Time", "StartMs", "EndMs"].iter().any(|s| name.ends_with(s))
}

/// One call's recorded requests, as replay walks them.
#[derive(Debug)]
struct Tape {
    requests: Vec<RecordedRequest>,
    source: Source,
    truncated: bool,
    next: usize,
    /// The first divergence found.
    divergence: Option<String>,
}

/// What one replayed call did, against its cassette.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// The first divergence, as one readable message; `None`: the same requests were made.
    pub divergence: Option<String>,
    /// The cassette was truncated: requests past it were not checked.
    pub truncated: bool,
}

#[derive(Debug, Default)]
struct State {
    tapes: HashMap<String, Tape>,
    /// Recorded id → replayed id.
    ids: HashMap<String, String>,
    /// Replayed ids already taken by a recorded one.
    taken: HashMap<String, String>,
    /// First divergence of a name no cassette holds.
    strangers: HashMap<String, String>,
}

/// Answers a replay's requests from cassettes, comparing each with the recorded one. Shares
/// its findings with the handle [`CassetteFetcher::verdicts`] reads after the run.
#[derive(Debug, Clone, Default)]
pub struct CassetteFetcher {
    state: Arc<Mutex<State>>,
}

impl CassetteFetcher {
    /// A fetcher replaying `cassettes` (their requests, by the name of their call).
    pub fn new(cassettes: &[Cassette]) -> Self {
        let mut state = State::default();
        for c in cassettes {
            state.tapes.insert(
                c.who().to_owned(),
                Tape {
                    requests: c.requests.clone(),
                    source: c.source,
                    truncated: c.truncated,
                    next: 0,
                    divergence: None,
                },
            );
        }
        CassetteFetcher { state: Arc::new(Mutex::new(state)) }
    }

    /// After the run: each cassette's verdict, by call name (`room` for the rooms'). A
    /// cassette whose requests were not all made gets a "recorded but not made" divergence.
    pub fn verdicts(&self) -> HashMap<String, Verdict> {
        let Ok(state) = self.state.lock() else { return HashMap::new() };
        let mut out = HashMap::new();
        for (who, t) in &state.tapes {
            out.insert(who.clone(), Verdict { divergence: t.divergence_at_end(who), truncated: t.truncated });
        }
        for (who, d) in &state.strangers {
            out.insert(who.clone(), Verdict { divergence: Some(d.clone()), truncated: false });
        }
        out
    }
}

impl Tape {
    /// The first divergence: one found while replaying, else the first recorded request the
    /// replay did not make.
    fn divergence_at_end(&self, who: &str) -> Option<String> {
        if let Some(d) = &self.divergence {
            return Some(d.clone());
        }
        let r = self.requests.get(self.next)?;
        Some(format!(
            "{who} request {} ({} {}, {}): recorded but not made (the replay made {} request{})",
            self.next + 1,
            r.method,
            r.url,
            r.purpose,
            self.next,
            if self.next == 1 { "" } else { "s" }
        ))
    }
}

impl State {
    /// Compares `req` with the recorded request `r`; the first difference, if any. Learns id
    /// mappings as it goes.
    fn compare(&mut self, source: Source, r: &RecordedRequest, req: &HttpRequest) -> Option<String> {
        let method = req.method.as_str();
        if r.url != req.url {
            return Some(format!("URL was \"{}\", now \"{}\"", r.url, req.url));
        }
        if r.method != method {
            return Some(format!("method was {}, now {method}", r.method));
        }
        let purpose = crate::runtime::purpose_text(req);
        if r.purpose != purpose {
            return Some(format!("purpose was \"{}\", now \"{purpose}\"", r.purpose));
        }
        let ignored = |k: &str| source == Source::Serve && is_wall_clock_param(k);
        for (k, was) in &r.params {
            if ignored(k) {
                continue;
            }
            let Some(now) = req.param(k) else {
                return Some(format!("parameter {k} was \"{was}\", now absent"));
            };
            if ID_PARAMS.contains(&k.as_str()) && !was.is_empty() {
                match self.ids.get(was) {
                    Some(mapped) if mapped == now => continue,
                    Some(mapped) => {
                        return Some(format!("parameter {k} was \"{was}\" (replayed as \"{mapped}\"), now \"{now}\""));
                    }
                    None => {
                        if let Some(other) = self.taken.get(now) {
                            return Some(format!(
                                "parameter {k} was \"{was}\", now \"{now}\" (the replay's id of recorded \"{other}\")"
                            ));
                        }
                        self.ids.insert(was.clone(), now.to_owned());
                        self.taken.insert(now.to_owned(), was.clone());
                        continue;
                    }
                }
            }
            let expected = self.map_ids(was);
            if expected != now {
                return Some(format!("parameter {k} was \"{was}\", now \"{now}\""));
            }
        }
        for (k, now) in &req.params {
            if !ignored(k) && !r.params.iter().any(|(n, _)| n == k) {
                return Some(format!("parameter {k} was absent, now \"{now}\""));
            }
        }
        None
    }

    /// `value` with the recorded ids it contains (UUID-long ones, 16 characters or more)
    /// replaced by the replay's.
    fn map_ids(&self, value: &str) -> String {
        let mut v = value.to_owned();
        for (was, now) in &self.ids {
            if was.len() >= 16 && was != now && v.contains(was.as_str()) {
                v = v.replace(was.as_str(), now);
            }
        }
        v
    }
}

/// What replay answers after a call's requests have diverged from its cassette.
pub const DIVERGED: &str = "the replay has diverged from the cassette";

impl Fetcher for CassetteFetcher {
    fn fetch(&mut self, who: &str, req: &HttpRequest) -> FetchReply {
        let Ok(mut state) = self.state.lock() else {
            return FetchReply::Failed(DIVERGED.to_owned());
        };
        let state = &mut *state;
        let Some(tape) = state.tapes.get_mut(who) else {
            state.strangers.entry(who.to_owned()).or_insert_with(|| {
                format!(
                    "{who} request 1 ({} {}, {}): not in any cassette",
                    req.method.as_str(),
                    req.url,
                    crate::runtime::purpose_text(req)
                )
            });
            return FetchReply::Failed(DIVERGED.to_owned());
        };
        if tape.divergence.is_some() {
            return FetchReply::Failed(DIVERGED.to_owned());
        }
        let n = tape.next + 1;
        let Some(r) = tape.requests.get(tape.next).cloned() else {
            if tape.truncated {
                return FetchReply::Failed("past the end of a truncated cassette".to_owned());
            }
            let recorded = tape.requests.len();
            tape.divergence = Some(format!(
                "{who} request {n} ({} {}, {}): not in the cassette (it recorded {recorded} request{})",
                req.method.as_str(),
                req.url,
                crate::runtime::purpose_text(req),
                if recorded == 1 { "" } else { "s" }
            ));
            return FetchReply::Failed(DIVERGED.to_owned());
        };
        let source = tape.source;
        let diff = state.compare(source, &r, req);
        let Some(tape) = state.tapes.get_mut(who) else {
            return FetchReply::Failed(DIVERGED.to_owned());
        };
        tape.next += 1;
        match diff {
            None => r.reply.to_fetch_reply(),
            Some(d) => {
                tape.divergence = Some(format!("{who} request {n} ({} {}, {}): {d}", r.method, r.url, r.purpose));
                FetchReply::Failed(DIVERGED.to_owned())
            }
        }
    }
}

/// `input` to the call named `call` as a scenario `[[event]]` (`digits`, `speech`,
/// `speech-partial`, `hangup`, `api-hangup`, `transfer`, `silence`, `beep-detected`), for
/// `serve --record`. Inputs no scenario event states (those the media layer makes itself)
/// give `None`.
pub fn input_event(call: &str, input: &Input) -> Option<serde_json::Value> {
    use serde_json::json;
    Some(match input {
        Input::Digits(keys) => json!({"action": "digits", "call": call, "keys": keys}),
        Input::Speech { text, confidence } => {
            json!({"action": "speech", "call": call, "text": text, "confidence": confidence})
        }
        Input::SpeechPartial { stable, unstable, stability } => {
            json!({"action": "speech-partial", "call": call, "keys": stable, "text": unstable, "confidence": stability})
        }
        Input::Hangup { source: HangupSource::ApiRequest } => json!({"action": "api-hangup", "call": call}),
        Input::Hangup { .. } => json!({"action": "hangup", "call": call}),
        Input::Transfer { url, method } => {
            json!({"action": "transfer", "call": call, "url": url, "method": method.as_str()})
        }
        Input::MediaEvent(MediaEvent::Silence) => json!({"action": "silence", "call": call}),
        Input::MediaEvent(MediaEvent::Beep) => json!({"action": "beep-detected", "call": call}),
        _ => return None,
    })
}

/// A REST room operation as a scenario `[[event]]` (`kick`, `mute`, `play`, `end-room`, …),
/// for `serve --record`. A recording's format and callback are not kept (the scenario's
/// `start-recording` has neither): replay starts an MP3 recording with no callback.
pub fn room_event(op: &RoomOp) -> serde_json::Value {
    use serde_json::json;
    let toggle = |on: bool, yes: &str, no: &str| if on { yes.to_owned() } else { no.to_owned() };
    match op {
        RoomOp::Kick { room, target } => json!({"action": "kick", "room": room, "member": target.to_string()}),
        RoomOp::Mute { room, target, on } => {
            json!({"action": toggle(*on, "mute", "unmute"), "room": room, "member": target.to_string()})
        }
        RoomOp::Deaf { room, target, on } => {
            json!({"action": toggle(*on, "deaf", "undeaf"), "room": room, "member": target.to_string()})
        }
        RoomOp::Hold { room, target, on } => {
            json!({"action": toggle(*on, "hold", "unhold"), "room": room, "member": target.to_string()})
        }
        RoomOp::Media { room, target, media } => {
            let member = target.to_string();
            match media {
                MemberMedia::Play { url } => json!({"action": "play", "room": room, "member": member, "url": url}),
                MemberMedia::StopPlay => json!({"action": "stop-play", "room": room, "member": member}),
                MemberMedia::Speak { text, voice, language } => json!({
                    "action": "speak", "room": room, "member": member, "text": text, "voice": voice,
                    "language": language
                }),
                MemberMedia::StopSpeak => json!({"action": "stop-speak", "room": room, "member": member}),
            }
        }
        RoomOp::HangupMember { room, target } => {
            json!({"action": "hangup-member", "room": room, "member": target.to_string()})
        }
        RoomOp::End { room } => json!({"action": "end-room", "room": room}),
        RoomOp::EndAll => json!({"action": "end-all-rooms"}),
        RoomOp::StartRecording { room, .. } => json!({"action": "start-recording", "room": room}),
        RoomOp::StopRecording { room } => json!({"action": "stop-recording", "room": room}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Purpose, Webhook};
    use crate::xml::values::Method;

    fn req(id: u64, url: &str, params: &[(&str, &str)]) -> HttpRequest {
        HttpRequest {
            id: RequestId(id),
            url: url.to_owned(),
            method: Method::Post,
            params: params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            purpose: Purpose::Action("GetDigits"),
            reply: Reply::Execute,
        }
    }

    fn recorded(source: Source, reqs: &[HttpRequest]) -> Cassette {
        let setup = CallSetup::inbound("rec-1", "+1", "+2", "https://app.example/answer");
        let mut c = Cassette::new(source, "r", Some(RecordedCall::new("alice", 0, Duration::ZERO, &setup)));
        for r in reqs {
            let reply = RecordedReply::new(&FetchReply::Body("<Response/>".to_owned()), Some(200), Duration::ZERO);
            c.push_request(RecordedRequest::new(Duration::ZERO, r, reply));
        }
        c
    }

    #[test]
    fn a_full_cassette_is_truncated_and_replay_does_not_count_past_it() {
        let mut c = recorded(Source::Run, &[]);
        let r = RecordedRequest::new(Duration::ZERO, &req(1, "https://a.example/x", &[]), RecordedReply::default());
        for _ in 0..MAX_REQUESTS + 2 {
            c.push_request(r.clone());
        }
        assert_eq!(c.requests.len(), MAX_REQUESTS);
        assert!(c.truncated);
        let e = RecordedEvent { at_ms: 0, seq: 0, event: serde_json::json!({"action": "digits"}) };
        let mut d = recorded(Source::Run, &[]);
        for _ in 0..MAX_EVENTS + 1 {
            d.push_event(e.clone());
        }
        assert_eq!(d.events.len(), MAX_EVENTS);
        assert!(d.truncated);

        let mut short = recorded(Source::Run, &[req(1, "https://a.example/x", &[])]);
        short.truncated = true;
        let mut f = CassetteFetcher::new(&[short]);
        assert!(matches!(f.fetch("alice", &req(1, "https://a.example/x", &[])), FetchReply::Body(_)));
        assert!(matches!(f.fetch("alice", &req(2, "https://a.example/y", &[])), FetchReply::Failed(_)));
        let v = f.verdicts().remove("alice").unwrap_or_default();
        assert_eq!(v, Verdict { divergence: None, truncated: true });
    }

    #[test]
    fn ids_are_mapped_once_and_then_held_to() {
        let rec = "11111111-1111-4111-8111-111111111111";
        let mut f = CassetteFetcher::new(&[recorded(
            Source::Run,
            &[
                req(
                    1,
                    "https://a.example/x",
                    &[("CallUUID", rec), ("RecordUrl", &format!("https://m.example/{rec}.mp3"))],
                ),
                req(2, "https://a.example/x", &[("CallUUID", rec)]),
            ],
        )]);
        let now = "22222222-2222-4222-8222-222222222222";
        let first =
            req(1, "https://a.example/x", &[("CallUUID", now), ("RecordUrl", &format!("https://m.example/{now}.mp3"))]);
        assert!(matches!(f.fetch("alice", &first), FetchReply::Body(_)));
        // The same recorded id must now be the same replayed id.
        let other = req(2, "https://a.example/x", &[("CallUUID", "33333333-3333-4333-8333-333333333333")]);
        assert!(matches!(f.fetch("alice", &other), FetchReply::Failed(_)));
        let d = f.verdicts().remove("alice").and_then(|v| v.divergence).unwrap_or_default();
        assert_eq!(
            d,
            format!(
                "alice request 2 (POST https://a.example/x, GetDigits action): parameter CallUUID was \"{rec}\" \
                 (replayed as \"{now}\"), now \"33333333-3333-4333-8333-333333333333\""
            )
        );
    }

    #[test]
    fn wall_clock_parameters_are_compared_for_run_cassettes_only() {
        let was = req(1, "https://a.example/h", &[("Duration", "3"), ("Digits", "1")]);
        let now = req(1, "https://a.example/h", &[("Duration", "4"), ("Digits", "1")]);
        let mut serve = CassetteFetcher::new(&[recorded(Source::Serve, std::slice::from_ref(&was))]);
        serve.fetch("alice", &now);
        assert_eq!(serve.verdicts().remove("alice").unwrap_or_default().divergence, None);
        let mut run = CassetteFetcher::new(&[recorded(Source::Run, &[was])]);
        run.fetch("alice", &now);
        let d = run.verdicts().remove("alice").and_then(|v| v.divergence).unwrap_or_default();
        assert!(d.ends_with("parameter Duration was \"3\", now \"4\""), "{d}");
        assert!(is_wall_clock_param("RecordingDurationMs") && is_wall_clock_param("ParticipantJoinTime"));
        assert!(!is_wall_clock_param("Digits"));
    }

    #[test]
    fn extra_and_missing_parameters_and_unknown_callers_diverge() {
        let mut f = CassetteFetcher::new(&[recorded(Source::Run, &[req(1, "https://a.example/x", &[("A", "1")])])]);
        f.fetch("alice", &req(1, "https://a.example/x", &[("A", "1"), ("B", "2")]));
        f.fetch("bob", &req(1, "https://a.example/y", &[]));
        let v = f.verdicts();
        let alice = v.get("alice").and_then(|v| v.divergence.clone()).unwrap_or_default();
        assert!(alice.ends_with("parameter B was absent, now \"2\""), "{alice}");
        let bob = v.get("bob").and_then(|v| v.divergence.clone()).unwrap_or_default();
        assert_eq!(bob, "bob request 1 (POST https://a.example/y, GetDigits action): not in any cassette");

        let mut g = CassetteFetcher::new(&[recorded(Source::Run, &[req(1, "https://a.example/x", &[("A", "1")])])]);
        g.fetch("alice", &req(1, "https://a.example/x", &[]));
        let d = g.verdicts().remove("alice").and_then(|v| v.divergence).unwrap_or_default();
        assert!(d.ends_with("parameter A was \"1\", now absent"), "{d}");
    }

    #[test]
    fn a_cassette_survives_json_and_other_versions_are_refused() {
        let mut setup = CallSetup::inbound("u", "+1", "+2", "https://app.example/a");
        setup.hangup = Some(Webhook::new("https://app.example/h", Method::Get));
        let mut c = recorded(Source::Serve, &[req(1, "https://a.example/x#ct=3", &[("Digits", "1")])]);
        c.call = Some(RecordedCall::new("../odd name", 3, Duration::from_millis(1500), &setup));
        c.speed = Some(0.5);
        let back = Cassette::from_json(&c.to_json());
        assert_eq!(back.as_ref(), Ok(&c));
        assert_eq!(c.file_name(), "call.._odd_name.cassette.json");
        let mut v: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap_or_default();
        v["version"] = serde_json::json!(2);
        assert_eq!(Cassette::from_json(&v.to_string()), Err(CassetteError::Version(2)));
        assert!(matches!(Cassette::from_json("{}"), Err(CassetteError::Json(_))));
    }

    #[test]
    fn inputs_and_room_ops_become_scenario_events() {
        use crate::engine::MemberTarget;
        let e = input_event("c1", &Input::Hangup { source: HangupSource::ApiRequest });
        assert_eq!(e, Some(serde_json::json!({"action": "api-hangup", "call": "c1"})));
        assert_eq!(input_event("c1", &Input::Answered), None);
        let target: MemberTarget = "2,3".parse().unwrap_or(MemberTarget::All);
        let op = RoomOp::Mute { room: "R".to_owned(), target, on: false };
        assert_eq!(room_event(&op), serde_json::json!({"action": "unmute", "room": "R", "member": "2,3"}));
    }
}
