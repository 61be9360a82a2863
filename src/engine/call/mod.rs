//! [`Call`]: the per-call state machine.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::cause::{HangupCause, HangupSource};
use super::ids::{CallId, IdGen, MediaId, RequestId};
use super::io::*;
use super::rooms::{Direction, JoinRequest, LeaveReason, MemberInfo, RecordSpec, RoomEvent, RoomKind};
use crate::xml::values::{DialMusic, FinishOnKey, InputType, Method, Sound, Url, WaitBeep};
use crate::xml::{self, Document, Prompt, Verb};

mod conference;
mod dial;
mod gather;
mod record;
mod setup;
mod sounds;
mod stream;

use conference::*;
use dial::*;
use gather::*;
use record::*;
pub use setup::{CallConfig, CallEnd, CallSetup, CallStatus, DEFAULT_TRANSCRIPTION};
use sounds::*;
use stream::*;

/// Timer slots.
const T_VERB: usize = 0;
const T_AUX: usize = 1;
const T_HANGUP: usize = 2;

/// One live call executing Plivo XML.
///
/// # Drive contract (sans-IO)
///
/// `Call` does no I/O, reads no clock and spawns nothing. The driver:
///
/// 1. creates it with [`Call::new`] and calls [`Call::start`] (an inbound call then requests
///    its answer URL; an outbound call waits for [`Input::Answered`]);
/// 2. after **every** mutation (`start`, [`Call::handle_input`], [`Call::handle_timeout`])
///    drains [`Call::poll_output`] until it returns `None`, carrying out each
///    [`Output`]: commands for media and signalling, HTTP requests (handing back replies of
///    [`Reply::Execute`]/[`Reply::Sounds`] requests as [`Input::Fetched`]), trace events;
/// 3. asks [`Call::poll_timeout`] for the next deadline and calls [`Call::handle_timeout`]
///    once that time has come.
///
/// Every input carries `now`, a [`Duration`] since an epoch of the driver's choosing, never
/// decreasing. Inputs that no longer apply (a late media completion, a reply to a request the
/// call gave up on, anything after the call ended) are ignored, so the driver needs no
/// bookkeeping of its own.
///
/// # Per-verb state
///
/// The state of the running verb lives in one enum variant (`Run`), replaced when the verb
/// ends: nothing of a conference, a gather or a dial survives into the next verb.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use plivo_flow::engine::{Call, CallConfig, CallSetup, Command, FetchReply, Input, Output};
///
/// let mut call = Call::new(CallSetup::inbound("c1", "+15550001", "+15550002", "https://app.example/answer"), CallConfig::default(), Duration::ZERO);
/// call.start(Duration::ZERO);
/// let Some(Output::Request(req)) = call.poll_output() else { panic!() };
/// let body = "<Response><Speak>Hello</Speak></Response>".to_owned();
/// call.handle_input(Duration::ZERO, Input::Fetched { request: req.id, reply: FetchReply::Body(body) });
/// let mut spoke = None;
/// while let Some(out) = call.poll_output() {
///     if let Output::Command(Command::Speak { media, speak }) = out {
///         assert_eq!(speak.speak().map(|s| s.text()), Some("Hello".to_owned()));
///         spoke = Some(media);
///     }
/// }
/// call.handle_input(Duration::from_secs(1), Input::MediaFinished(spoke.unwrap()));
/// // The document ran out: the call hangs up with 4010.
/// let outs: Vec<_> = std::iter::from_fn(|| call.poll_output()).collect();
/// assert!(outs.iter().any(|o| matches!(o, Output::Command(Command::Hangup { cause }) if cause.code() == 4010)));
/// ```
#[derive(Debug)]
pub struct Call {
    setup: CallSetup,
    config: Arc<CallConfig>,
    ids: IdGen,
    status: CallStatus,
    started_at: Duration,
    answered_at: Option<Duration>,
    preanswered: bool,
    doc: Option<Arc<Document>>,
    /// The URL the running document was fetched from: the base its relative URLs resolve
    /// against (RFC 3986).
    doc_url: Option<String>,
    pc: usize,
    sub: Option<usize>,
    state: State,
    redirects: u32,
    /// The time of the input being handled (for paths that end the call deep inside).
    clock: Duration,
    next_id: u64,
    timers: [Option<Duration>; 3],
    background: Vec<Background>,
    sounds: Vec<(RequestId, SoundUse)>,
    /// Boxed: most of a call's life it is `None`, and calls are many.
    ended: Option<Box<CallEnd>>,
    out: VecDeque<Output>,
}

#[derive(Debug)]
enum State {
    /// Created, not started (or outbound, waiting for the answer).
    Idle,
    /// Waiting for a document.
    Fetching { request: RequestId, purpose: Purpose, url: String },
    /// Executing the verb at (pc, sub).
    Running(Run),
    /// Over.
    Ended,
}

/// The running verb's own state.
#[derive(Debug)]
enum Run {
    /// Waiting for one media operation to finish (Speak, Play, synchronous DTMF).
    Media(MediaId),
    /// `<Wait>`: the verb timer ends it.
    Wait,
    /// `<GetDigits>` / `<GetInput>`.
    Gather(Gather),
    /// Foreground `<Record>`.
    Record(RecordRun),
    /// `<Dial>`.
    Dial(DialRun),
    /// `<Conference>` / `<MultiPartyCall>`.
    Room(RoomRun),
    /// `<Stream keepCallAlive="true">`.
    Stream(MediaId),
}

/// Things that outlive the verb that started them.
#[derive(Debug)]
enum Background {
    /// `recordSession` (running) or `startOnDialAnswer` (armed until a Dial is answered).
    Recording {
        media: MediaId,
        recording: RecordingRef,
        armed: bool,
        started_at: Duration,
        callback: Option<(Url, Method)>,
        /// `transcriptionUrl`: told the transcript when the file is ready.
        transcription: Option<(Url, Method)>,
        format: xml::values::FileFormat,
    },
    /// A `<Stream>` that does not hold the call; it stops by itself at `until`
    /// (`streamTimeout`).
    Stream { media: MediaId, callback: Option<(Url, Method)>, until: Duration },
}

/// Whether the loop in [`Call::proceed`] moves on.
enum Flow {
    /// The verb is done: go to the next one.
    Next(Outcome),
    /// The verb waits for an input or timer.
    Wait,
    /// The verb changed the state itself (fetching, ended).
    Stop,
}

/// How a verb ended, for traces; static in the common cases, so steps do not allocate.
type Outcome = std::borrow::Cow<'static, str>;

fn secs(n: u32) -> Duration {
    Duration::from_secs(u64::from(n))
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn ms(d: Duration) -> String {
    d.as_millis().to_string()
}

impl Call {
    /// A call that has not started.
    pub fn new(setup: CallSetup, config: CallConfig, now: Duration) -> Self {
        Self::with_shared_config(setup, Arc::new(config), now)
    }

    /// [`Call::new`] with a configuration shared by many calls.
    pub fn with_shared_config(setup: CallSetup, config: Arc<CallConfig>, now: Duration) -> Self {
        let ids = IdGen::new(config.seed ^ fnv(setup.id.as_str()));
        Call {
            setup,
            config,
            ids,
            status: CallStatus::Ringing,
            started_at: now,
            answered_at: None,
            preanswered: false,
            doc: None,
            doc_url: None,
            pc: 0,
            sub: None,
            state: State::Idle,
            redirects: 0,
            clock: now,
            next_id: 1,
            timers: [None; 3],
            background: Vec::new(),
            sounds: Vec::new(),
            ended: None,
            out: VecDeque::new(),
        }
    }

    /// Starts the call: an inbound call requests its answer URL; an outbound call waits for
    /// [`Input::Answered`].
    pub fn start(&mut self, now: Duration) {
        if !matches!(self.state, State::Idle) {
            return;
        }
        self.started_at = now;
        self.clock = now;
        match (self.setup.direction, self.setup.ring_url.clone()) {
            (Direction::Inbound, _) => self.fetch_answer(Purpose::Answer),
            (Direction::Outbound, Some(url)) => {
                let method = self.setup.ring_method;
                self.request(&url, method, Purpose::Callback("ring"), Reply::Ignore, Vec::new());
            }
            (Direction::Outbound, None) => {}
        }
    }

    /// The call's UUID.
    pub fn id(&self) -> &CallId {
        &self.setup.id
    }

    /// Who the call is.
    pub fn setup(&self) -> &CallSetup {
        &self.setup
    }

    /// `CallStatus`.
    pub fn status(&self) -> CallStatus {
        self.status
    }

    /// Whether the call is over.
    pub fn is_ended(&self) -> bool {
        matches!(self.state, State::Ended)
    }

    /// How the call ended, once it has.
    pub fn ended(&self) -> Option<&CallEnd> {
        self.ended.as_deref()
    }

    /// The running verb's element name, if a verb is running.
    pub fn current_verb(&self) -> Option<&'static str> {
        match self.state {
            State::Running(_) => self.verb_here().map(Verb::name),
            _ => None,
        }
    }

    /// The next output, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        let out = self.out.pop_front();
        if out.is_none() && self.out.capacity() > 4 {
            // A burst (joining a room, a hangup) grew the queue: give the memory back, since a
            // parked call may wait for hours. The steady step loop stays within 4.
            self.out = VecDeque::new();
        }
        out
    }

    /// When [`Call::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let streams = self.background.iter().filter_map(|b| match b {
            Background::Stream { until, .. } => Some(until),
            Background::Recording { .. } => None,
        });
        self.timers.iter().flatten().chain(streams).min().copied()
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.clock = now;
        if self.timers[T_HANGUP].is_some_and(|t| t <= now) {
            self.timers[T_HANGUP] = None;
            self.end(now, HangupCause::NormalHangup, HangupSource::AnswerXml, true);
            return;
        }
        if self.timers[T_VERB].is_some_and(|t| t <= now) {
            self.timers[T_VERB] = None;
            self.on_verb_timer(now);
        }
        if self.timers[T_AUX].is_some_and(|t| t <= now) {
            self.timers[T_AUX] = None;
            self.on_aux_timer(now);
        }
        if !self.is_ended() {
            self.stop_timed_out_streams(now);
        }
    }

    /// Applies one input.
    pub fn handle_input(&mut self, now: Duration, input: Input) {
        self.clock = now;
        if self.is_ended() {
            self.after_end(now, input);
            return;
        }
        match input {
            Input::Answered => {
                if matches!(self.state, State::Idle) && self.setup.direction == Direction::Outbound {
                    self.mark_answered(now);
                    self.fetch_answer(Purpose::Answer);
                }
            }
            Input::Fetched { request, reply } => self.on_fetched(now, request, reply),
            Input::MediaFinished(m) => self.on_media_finished(now, m),
            Input::MediaEvent(e) => self.on_media_event(now, e),
            Input::Digits(keys) => {
                for k in keys.chars() {
                    if self.is_ended() {
                        break;
                    }
                    self.on_key(now, k);
                }
            }
            Input::Speech { text, confidence } => self.on_speech(now, text, confidence),
            Input::SpeechPartial { stable, unstable, stability } => self.on_speech_partial(stable, unstable, stability),
            Input::RecordingFinished { media, duration_ms } => self.on_recording_finished(now, media, duration_ms),
            Input::Dial(e) => self.on_dial(now, e),
            Input::Conference(e) => self.on_room(now, e),
            Input::StreamEnded(m) => self.on_stream_ended(now, m),
            Input::Hangup { source } => {
                let cause = if self.answered_at.is_none() && source == HangupSource::ApiRequest {
                    HangupCause::Canceled
                } else {
                    HangupCause::NormalHangup
                };
                self.end(now, cause, source, false);
            }
            Input::Transfer { url, method } => {
                self.abort_verb(now, Some(LeaveReason::Transferred));
                self.request_document(url, method, Purpose::Transfer, Vec::new());
            }
        }
    }

    // ------------------------------------------------------------------ outputs

    fn emit(&mut self, c: Command) {
        self.out.push_back(Output::Command(c));
    }

    fn event(&mut self, e: CallEvent) {
        self.out.push_back(Output::Event(e));
    }

    fn media_id(&mut self) -> MediaId {
        let id = MediaId(self.next_id);
        self.next_id += 1;
        id
    }

    fn std_params(&self) -> Vec<(String, String)> {
        let mut p = vec![
            ("CallUUID".to_owned(), self.setup.id.as_str().to_owned()),
            ("From".to_owned(), self.setup.from.clone()),
            ("To".to_owned(), self.setup.to.clone()),
            ("CallStatus".to_owned(), self.status.as_str().to_owned()),
            ("Direction".to_owned(), self.setup.direction.as_str().to_owned()),
        ];
        if !self.setup.caller_name.is_empty() {
            p.push(("CallerName".to_owned(), self.setup.caller_name.clone()));
        }
        if self.setup.direction == Direction::Outbound {
            p.push(("ALegUUID".to_owned(), self.setup.id.as_str().to_owned()));
        }
        p
    }

    fn request(
        &mut self,
        url: &str,
        method: Method,
        purpose: Purpose,
        reply: Reply,
        extra: Vec<(String, String)>,
    ) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        let Some(url) = self.absolute(url) else {
            // A relative URL with no http(s) document URL to resolve it against: nothing can
            // be requested (a document fetch ends the call first, see `request_document`).
            self.event(CallEvent::FetchFailed {
                url: url.to_owned(),
                reason: "a relative URL with no http(s) document URL to resolve it against".to_owned(),
            });
            return id;
        };
        let mut params = self.std_params();
        params.extend(extra);
        self.out.push_back(Output::Request(HttpRequest { id, url, method, params, purpose, reply }));
        id
    }

    /// `url` as it is requested: resolved against the running document's URL when relative
    /// (Plivo accepts relative action and callback URLs); `None` when it cannot be.
    fn absolute(&self, url: &str) -> Option<String> {
        xml::values::resolve(url, self.doc_url.as_deref().unwrap_or(""))
    }

    fn notify(&mut self, url: &Url, method: Method, what: &'static str, extra: Vec<(String, String)>) {
        self.request(url.as_str(), method, Purpose::Callback(what), Reply::Ignore, extra);
    }

    fn request_document(&mut self, url: String, method: Method, purpose: Purpose, extra: Vec<(String, String)>) {
        if !matches!(purpose, Purpose::Answer | Purpose::Fallback) {
            // The redirect cap: a document may replace the current one at most
            // `max_redirects` times, which stops redirect loops.
            self.redirects += 1;
            if self.redirects > self.config.max_redirects {
                self.end(self.clock, HangupCause::RedirectLimit, HangupSource::Plivo, true);
                return;
            }
        }
        let Some(url) = self.absolute(&url) else {
            // Plivo's runtime causes for a URL that cannot be fetched at all (70x2–70x4).
            let cause = match purpose {
                Purpose::Redirect => HangupCause::InvalidRedirectUrl,
                Purpose::Transfer => HangupCause::InvalidTransferUrl,
                _ => HangupCause::InvalidActionUrl,
            };
            self.event(CallEvent::FetchFailed {
                url,
                reason: "a relative URL with no http(s) document URL to resolve it against".to_owned(),
            });
            self.end(self.clock, cause, HangupSource::Error, true);
            return;
        };
        let request = self.request(&url, method, purpose, Reply::Execute, extra);
        self.state = State::Fetching { request, purpose, url };
    }

    fn fetch_answer(&mut self, purpose: Purpose) {
        let (url, method) = match purpose {
            Purpose::Fallback => match &self.setup.fallback_url {
                Some(u) => (u.clone(), self.setup.fallback_method),
                None => return,
            },
            _ => (self.setup.answer_url.clone(), self.setup.answer_method),
        };
        self.request_document(url, method, purpose, Vec::new());
    }

    fn request_sound(&mut self, url: &Url, method: Method, use_: SoundUse, what: &'static str) {
        let id = self.request(url.as_str(), method, Purpose::Sound(what), Reply::Sounds, Vec::new());
        self.sounds.push((id, use_));
    }

    fn mark_answered(&mut self, now: Duration) {
        if self.answered_at.is_none() {
            self.answered_at = Some(now);
            self.status = CallStatus::InProgress;
        }
    }

    /// Answers an inbound call before a verb that needs media (not inside `<PreAnswer>`).
    fn ensure_answered(&mut self, now: Duration) {
        if self.answered_at.is_none() && self.sub.is_none() {
            self.mark_answered(now);
            self.emit(Command::Answer);
        }
    }

    // ------------------------------------------------------------------ positions

    fn verb_here(&self) -> Option<&Verb> {
        let doc = self.doc.as_deref()?;
        let v = doc.verbs.get(self.pc)?;
        match (self.sub, v) {
            (Some(i), Verb::PreAnswer(p)) => p.verbs.get(i),
            (Some(_), _) => None,
            (None, v) => Some(v),
        }
    }

    fn verb_ref(&self, prompt: Option<usize>) -> Option<VerbRef> {
        Some(VerbRef { doc: self.doc.clone()?, index: self.pc, sub: self.sub, prompt })
    }

    /// Loads a document and runs it from the top.
    fn load(&mut self, now: Duration, doc: Arc<Document>, purpose: Purpose, url: String) {
        self.event(CallEvent::DocumentLoaded { purpose, verbs: doc.verbs.len() });
        self.doc = Some(doc);
        self.doc_url = Some(url);
        self.pc = 0;
        self.sub = None;
        self.proceed(now);
    }

    /// Runs verbs from the current position until one waits.
    fn proceed(&mut self, now: Duration) {
        loop {
            if self.is_ended() {
                return;
            }
            let Some(verb) = self.verb_here() else {
                // Past the end of a <PreAnswer>'s children or of the document.
                if self.sub.take().is_some() {
                    self.finish_event("done", None);
                    self.pc += 1;
                    continue;
                }
                self.end(now, HangupCause::EndOfXml, HangupSource::Plivo, true);
                return;
            };
            let name = verb.name();
            self.event(CallEvent::VerbStarted { index: self.pc, sub: self.sub, verb: name });
            match self.start_verb(now) {
                Flow::Next(outcome) => {
                    self.finish_event(outcome, Some(name));
                    self.advance();
                }
                Flow::Wait | Flow::Stop => return,
            }
        }
    }

    fn finish_event(&mut self, outcome: impl Into<Outcome>, name: Option<&'static str>) {
        let outcome = outcome.into();
        let (index, sub) = (self.pc, if name.is_some() { self.sub } else { None });
        let verb = name.unwrap_or("PreAnswer");
        self.event(CallEvent::VerbFinished { index, sub, verb, outcome });
    }

    fn advance(&mut self) {
        match self.sub {
            Some(i) => self.sub = Some(i + 1),
            None => self.pc += 1,
        }
    }

    /// The running verb finished with `outcome`: continue with the next one.
    fn complete(&mut self, now: Duration, outcome: impl Into<Outcome>) {
        let outcome = outcome.into();
        self.timers[T_VERB] = None;
        self.timers[T_AUX] = None;
        let name = self.verb_here().map_or("?", Verb::name);
        self.finish_event(outcome, Some(name));
        self.state = State::Idle;
        self.advance();
        self.proceed(now);
    }

    /// The running verb finished and has an action to follow (or not).
    fn complete_with_action(
        &mut self,
        now: Duration,
        outcome: impl Into<Outcome>,
        action: Option<(Url, Method, bool)>,
        verb: &'static str,
        params: Vec<(String, String)>,
    ) {
        if let Flow::Next(outcome) = self.send_action(outcome, action, verb, params) {
            self.complete(now, outcome);
        }
    }

    /// Sends a finished verb's `action`: with `redirect=true` the reply replaces the document
    /// (the verb's end is traced here and the loop stops); with `false` it is only sent. Says
    /// whether execution goes on to the next verb.
    fn send_action(
        &mut self,
        outcome: impl Into<Outcome>,
        action: Option<(Url, Method, bool)>,
        verb: &'static str,
        params: Vec<(String, String)>,
    ) -> Flow {
        match action {
            Some((url, method, true)) => {
                self.timers[T_VERB] = None;
                self.timers[T_AUX] = None;
                self.finish_event(outcome, Some(verb));
                self.request_document(url.as_str().to_owned(), method, Purpose::Action(verb), params);
                Flow::Stop
            }
            Some((url, method, false)) => {
                self.request(url.as_str(), method, Purpose::Action(verb), Reply::Ignore, params);
                Flow::Next(outcome.into())
            }
            None => Flow::Next(outcome.into()),
        }
    }

    // ------------------------------------------------------------------ verbs

    fn start_verb(&mut self, now: Duration) -> Flow {
        let Some(doc) = self.doc.clone() else {
            return Flow::Stop;
        };
        let Some(verb) = doc.verbs.get(self.pc).and_then(|v| match (self.sub, v) {
            (Some(i), Verb::PreAnswer(p)) => p.verbs.get(i),
            (_, v) => Some(v),
        }) else {
            return Flow::Stop;
        };
        match verb {
            Verb::Speak(_) | Verb::Play(_) => {
                self.ensure_answered(now);
                let media = self.media_id();
                let Some(r) = self.verb_ref(None) else {
                    return Flow::Stop;
                };
                let cmd = if matches!(verb, Verb::Speak(_)) {
                    Command::Speak { media, speak: r }
                } else {
                    Command::Play { media, play: r }
                };
                self.emit(cmd);
                self.state = State::Running(Run::Media(media));
                Flow::Wait
            }
            Verb::Wait(w) => {
                self.timers[T_VERB] = Some(now + secs(w.length));
                self.state = State::Running(Run::Wait);
                Flow::Wait
            }
            Verb::Dtmf(d) => {
                self.ensure_answered(now);
                let media = self.media_id();
                let digits = d.digits.as_ref().map(|t| t.as_str().to_owned()).unwrap_or_default();
                self.emit(Command::SendDigits { media, digits });
                if d.async_ {
                    Flow::Next("sent".into())
                } else {
                    self.state = State::Running(Run::Media(media));
                    Flow::Wait
                }
            }
            Verb::GetDigits(_) | Verb::GetInput(_) => {
                self.ensure_answered(now);
                let mut g = Gather {
                    attempt: 1,
                    phase: GatherPhase::Prompts,
                    prompt: 0,
                    media: None,
                    digits: String::new(),
                    recognition: None,
                    partials: 0,
                };
                let media = self.media_id();
                let collect = self.collect_settings(verb);
                self.emit(Command::StartCollect { media, collect: Box::new(collect) });
                g.recognition = Some(media);
                self.state = State::Running(Run::Gather(g));
                self.gather_prompt(now);
                Flow::Stop
            }
            Verb::Record(r) => self.start_record(now, r),
            Verb::Dial(d) => self.start_dial(now, d),
            Verb::Redirect(r) => {
                let url = r.url.as_ref().map(|u| u.as_str().to_owned()).unwrap_or_default();
                self.finish_event(format!("to {url}"), Some("Redirect"));
                self.request_document(url, r.method, Purpose::Redirect, Vec::new());
                Flow::Stop
            }
            Verb::Hangup(h) => {
                if h.schedule > 0 {
                    self.timers[T_HANGUP] = Some(now + secs(h.schedule));
                    return Flow::Next(format!("scheduled in {} s", h.schedule).into());
                }
                let cause = match h.reason {
                    Some(xml::values::HangupReason::Busy) => HangupCause::Busy,
                    Some(xml::values::HangupReason::Rejected) => HangupCause::Rejected,
                    None => HangupCause::NormalHangup,
                };
                self.finish_event("hung up", Some("Hangup"));
                self.end(now, cause, HangupSource::AnswerXml, true);
                Flow::Stop
            }
            Verb::PreAnswer(p) => {
                if self.answered_at.is_none() && !self.preanswered {
                    self.preanswered = true;
                    self.emit(Command::PreAnswer);
                }
                if p.verbs.is_empty() {
                    return Flow::Next("done".into());
                }
                // Run the children; `proceed` finishes the PreAnswer after the last one.
                self.sub = Some(0);
                self.state = State::Idle;
                self.proceed(now);
                Flow::Stop
            }
            Verb::Conference(_) | Verb::MultiPartyCall(_) => self.start_room(now, verb),
            Verb::Message(m) => {
                self.emit(Command::SendMessage {
                    src: m.src.as_ref().map(|s| s.as_str().to_owned()),
                    dst: m.dst.clone(),
                    text: m.text.clone(),
                });
                Flow::Next("sent".into())
            }
            Verb::Stream(s) => {
                self.ensure_answered(now);
                let media = self.media_id();
                self.emit(Command::StartStream { media, stream: Box::new(s.clone()) });
                let callback = s.status_callback_url.clone().map(|u| (u, s.status_callback_method));
                if let Some((url, method)) = &callback {
                    let url = url.clone();
                    self.notify(&url, *method, "stream", vec![("Event".to_owned(), "StartStream".to_owned())]);
                }
                // `streamTimeout` stops the stream (capped at 24 h, like `<Dial timeLimit>`), so a
                // kept-alive stream whose far end never closes cannot hold the call forever.
                let until = now + secs(s.stream_timeout.clamp(1, MAX_STREAM_SECS));
                if s.keep_call_alive {
                    self.state = State::Running(Run::Stream(media));
                    self.timers[T_VERB] = Some(until);
                    Flow::Wait
                } else {
                    self.background.push(Background::Stream { media, callback, until });
                    Flow::Next("streaming in the background".into())
                }
            }
        }
    }

    fn on_media_finished(&mut self, now: Duration, m: MediaId) {
        let State::Running(run) = &mut self.state else {
            return;
        };
        match run {
            Run::Media(id) if *id == m => self.complete(now, "done"),
            Run::Gather(g) if g.media == Some(m) => {
                g.media = None;
                match g.phase {
                    GatherPhase::Prompts => {
                        g.prompt += 1;
                        self.gather_prompt(now);
                    }
                    GatherPhase::Beep => self.gather_listen(now),
                    GatherPhase::Invalid => self.gather_failed(now),
                    GatherPhase::Listen => {}
                }
            }
            Run::Record(r) if r.media == m && r.phase == RecordPhase::Beep => {
                r.phase = RecordPhase::Recording;
                self.start_foreground_recording(now);
            }
            _ => {}
        }
    }

    fn on_media_event(&mut self, now: Duration, e: MediaEvent) {
        if !matches!(self.state, State::Running(Run::Wait)) {
            return;
        }
        let Some(Verb::Wait(w)) = self.verb_here() else {
            return;
        };
        let ends = match e {
            MediaEvent::Silence => w.silence,
            MediaEvent::Beep => w.beep != WaitBeep::Bool(false),
        };
        if ends {
            let what = if e == MediaEvent::Silence { "silence detected" } else { "beep detected" };
            self.complete(now, what);
        }
    }

    fn on_verb_timer(&mut self, now: Duration) {
        let State::Running(run) = &mut self.state else {
            return;
        };
        match run {
            Run::Wait => self.complete(now, "done"),
            Run::Gather(g) => match g.phase {
                GatherPhase::Prompts => {
                    // A <Wait> prompt ended.
                    g.prompt += 1;
                    self.gather_prompt(now);
                }
                GatherPhase::Listen => {
                    if g.digits.is_empty() {
                        self.gather_failed(now);
                    } else {
                        let digits = std::mem::take(&mut g.digits);
                        self.gather_submit(now, Some(digits), None);
                    }
                }
                GatherPhase::Beep | GatherPhase::Invalid => {}
            },
            Run::Record(r) if r.phase == RecordPhase::Recording => {
                // maxLength reached.
                r.phase = RecordPhase::Stopping;
                let media = r.media;
                self.emit(Command::StopRecording(media));
            }
            Run::Stream(m) => {
                // streamTimeout reached.
                let m = *m;
                self.emit(Command::StopStream(m));
                self.stream_stopped_callback();
                self.complete(now, "stream timed out");
            }
            Run::Dial(d) => {
                let media = d.media;
                match d.phase {
                    DialPhase::Ringing => {
                        self.emit(Command::CancelDial(media));
                        self.finish_dial(now, "no-answer", None);
                    }
                    DialPhase::Confirming { .. } => {
                        self.emit(Command::HangupCallee(media));
                        self.finish_dial(now, "no-answer", None);
                    }
                    DialPhase::Bridged { .. } => {}
                }
            }
            _ => {}
        }
    }

    fn on_aux_timer(&mut self, now: Duration) {
        // The only aux timer is <Dial timeLimit>.
        if let State::Running(Run::Dial(d)) = &self.state
            && matches!(d.phase, DialPhase::Bridged { .. })
        {
            let media = d.media;
            self.emit(Command::HangupCallee(media));
            self.finish_dial(now, "completed", Some("time limit"));
        }
    }

    fn on_key(&mut self, now: Duration, key: char) {
        let State::Running(run) = &mut self.state else {
            return;
        };
        match run {
            Run::Gather(_) => self.gather_key(now, key),
            Run::Record(r) if r.phase == RecordPhase::Recording => {
                let finish = matches!(self.verb_here(), Some(Verb::Record(v)) if v.finish_on_key.ends_on(key));
                if finish && let State::Running(Run::Record(r)) = &mut self.state {
                    r.phase = RecordPhase::Stopping;
                    r.digits.push(key);
                    let media = r.media;
                    self.emit(Command::StopRecording(media));
                }
            }
            Run::Dial(_) => self.dial_caller_key(now, key),
            Run::Room(_) => self.room_key(now, key),
            _ => {}
        }
    }

    // ------------------------------------------------------------------ gather
    fn on_fetched(&mut self, now: Duration, request: RequestId, reply: FetchReply) {
        if let Some(pos) = self.sounds.iter().position(|(id, _)| *id == request) {
            let (_, use_) = self.sounds.remove(pos);
            self.on_sound(use_, reply);
            return;
        }
        let State::Fetching { request: want, purpose, url } = &self.state else {
            return;
        };
        if *want != request {
            return;
        }
        let (purpose, url) = (*purpose, url.clone());
        let (unreachable, invalid) = match purpose {
            Purpose::Answer | Purpose::Fallback => (HangupCause::AnswerUrlUnreachable, HangupCause::InvalidAnswerXml),
            Purpose::Redirect => (HangupCause::RedirectUrlUnreachable, HangupCause::InvalidRedirectXml),
            Purpose::Transfer => (HangupCause::TransferUrlUnreachable, HangupCause::InvalidTransferXml),
            _ => (HangupCause::ActionUrlUnreachable, HangupCause::InvalidActionXml),
        };
        match reply {
            FetchReply::Document(doc) => self.load(now, doc, purpose, url),
            FetchReply::Body(body) => {
                let parsed = xml::parse(&body);
                if parsed.has_errors() {
                    self.event(CallEvent::InvalidDocument { url, diagnostics: parsed.diagnostics, body });
                    // Plivo: the fallback is used when the answer URL is unavailable *or its
                    // XML is invalid*.
                    if purpose == Purpose::Answer && self.setup.fallback_url.is_some() {
                        self.fetch_answer(Purpose::Fallback);
                    } else {
                        self.end(now, invalid, HangupSource::Error, true);
                    }
                } else {
                    self.load(now, Arc::new(parsed.document), purpose, url);
                }
            }
            FetchReply::Failed(reason) => {
                self.event(CallEvent::FetchFailed { url, reason });
                if purpose == Purpose::Answer && self.setup.fallback_url.is_some() {
                    self.fetch_answer(Purpose::Fallback);
                } else {
                    self.end(now, unreachable, HangupSource::Error, true);
                }
            }
        }
    }

    /// Stops whatever the running verb holds (used on hangup and transfer). `reason` is why the
    /// call leaves a room, when it is in one.
    fn abort_verb(&mut self, now: Duration, hangup: Option<LeaveReason>) {
        self.timers[T_VERB] = None;
        self.timers[T_AUX] = None;
        let state = std::mem::replace(&mut self.state, State::Idle);
        let State::Running(run) = state else { return };
        match run {
            Run::Media(m) => self.emit(Command::StopMedia(m)),
            Run::Wait => {}
            Run::Gather(g) => {
                if let Some(m) = g.media {
                    self.emit(Command::StopMedia(m));
                }
                if let Some(m) = g.recognition {
                    self.emit(Command::StopCollect(m));
                }
            }
            Run::Record(r) => {
                if r.phase == RecordPhase::Beep {
                    self.emit(Command::StopMedia(r.media));
                } else {
                    // The file still arrives later; its callbackUrl must still fire.
                    self.emit(Command::StopRecording(r.media));
                    let (callback, transcription) = match self.verb_here() {
                        Some(Verb::Record(v)) => (
                            v.callback_url.clone().map(|u| (u, v.callback_method)),
                            v.transcription_url.clone().map(|u| (u, v.transcription_method)),
                        ),
                        _ => (None, None),
                    };
                    let format = match self.verb_here() {
                        Some(Verb::Record(v)) => v.file_format,
                        _ => xml::values::FileFormat::Mp3,
                    };
                    self.background.push(Background::Recording {
                        media: r.media,
                        recording: r.recording,
                        armed: false,
                        started_at: r.started_at,
                        callback,
                        transcription,
                        format,
                    });
                }
            }
            Run::Dial(d) => {
                if let Some(m) = d.music {
                    self.emit(Command::StopMedia(m));
                }
                match d.phase {
                    DialPhase::Ringing => self.emit(Command::CancelDial(d.media)),
                    DialPhase::Confirming { .. } => self.emit(Command::HangupCallee(d.media)),
                    DialPhase::Bridged { b_leg, to, since } => {
                        self.emit(Command::HangupCallee(d.media));
                        let dur = now.saturating_sub(since).as_secs().to_string();
                        self.state = State::Running(Run::Dial(DialRun {
                            media: d.media,
                            phase: DialPhase::Bridged { b_leg, to, since },
                            music: None,
                            rang: true,
                            caller_digits: String::new(),
                            callee_digits: String::new(),
                        }));
                        self.dial_callback(
                            "hangup",
                            vec![
                                ("DialBLegStatus".to_owned(), "hangup".to_owned()),
                                ("DialBLegDuration".to_owned(), dur),
                            ],
                        );
                        self.state = State::Idle;
                    }
                }
            }
            Run::Room(run) => {
                if let RoomPhase::In { uuid, member_id, music, hold_music, .. } = &run.phase {
                    for m in [music, hold_music].into_iter().flatten() {
                        self.emit(Command::StopMedia(*m));
                    }
                    // The exit callback fires here, once: the room's Left for this call
                    // arrives after the call has moved on and is ignored.
                    self.emit(Command::LeaveConference { reason: hangup.unwrap_or(LeaveReason::CallHungUp) });
                    let (uuid, member_id) = (uuid.clone(), *member_id);
                    self.room_callback("exit", &run.room, &uuid, member_id, Vec::new());
                    self.room_sound(&run.room, false);
                } else {
                    self.emit(Command::LeaveConference { reason: LeaveReason::CallHungUp });
                }
            }
            Run::Stream(m) => {
                self.emit(Command::StopStream(m));
                self.stream_stopped_callback();
            }
        }
    }

    /// Ends the call: stops the verb and background work, tells the driver (unless the
    /// hangup came from outside), and notifies `hangup_url`.
    fn end(&mut self, now: Duration, cause: HangupCause, source: HangupSource, command: bool) {
        if self.is_ended() {
            return;
        }
        self.abort_verb(now, None);
        for b in std::mem::take(&mut self.background) {
            match b {
                Background::Recording { media, armed: false, .. } => {
                    self.emit(Command::StopRecording(media));
                    self.background.push(b);
                }
                Background::Recording { .. } => {}
                Background::Stream { media, callback, .. } => {
                    self.emit(Command::StopStream(media));
                    if let Some((url, method)) = callback {
                        self.notify(&url, method, "stream", vec![("Event".to_owned(), "StopStream".to_owned())]);
                    }
                }
            }
        }
        self.sounds.clear();
        self.timers = [None; 3];
        self.status = CallStatus::Completed;
        let end = CallEnd { cause, source, at: now, answered_at: self.answered_at, started_at: self.started_at };
        self.ended = Some(Box::new(end));
        self.state = State::Ended;
        if command {
            self.emit(Command::Hangup { cause });
        }
        if let Some(url) = self.setup.hangup_url.clone() {
            let duration = self.answered_at.map_or(Duration::ZERO, |a| now.saturating_sub(a));
            let total = now.saturating_sub(self.started_at);
            let params = vec![
                ("HangupCause".to_owned(), cause.sip_name().to_owned()),
                ("HangupCauseCode".to_owned(), cause.code().to_string()),
                ("HangupCauseName".to_owned(), cause.name().to_owned()),
                ("HangupSource".to_owned(), source.as_str().to_owned()),
                ("Duration".to_owned(), total.as_secs().to_string()),
                ("BillDuration".to_owned(), duration.as_secs().to_string()),
            ];
            let method = self.setup.hangup_method;
            self.request(&url, method, Purpose::Hangup, Reply::Ignore, params);
        }
        self.event(CallEvent::Ended { cause, source });
    }

    /// After the end only late recordings still matter (their callbacks must fire).
    fn after_end(&mut self, _now: Duration, input: Input) {
        if let Input::RecordingFinished { media, duration_ms } = input {
            self.background_recording_finished(media, duration_ms);
        }
    }
}
