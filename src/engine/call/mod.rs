//! [`Call`]: the per-call state machine.
//!
//! This module holds the type, its drive contract, input dispatch and the verb loop
//! (proceed / advance / complete, the end of the call). Each verb family lives in its own
//! module with its running state: `gather` (`<GetDigits>`/`<GetInput>`), `record`, `dial`,
//! `conference` (`<Conference>`/`<MultiPartyCall>`), `sounds` (`<Speak>`, `<Play>`, `<Wait>`,
//! `<DTMF>` and fetched sound documents), `stream`. `parameters` builds requests, fetches
//! documents and holds `Ctx`, the part of the call a running verb borrows; `timers` holds the
//! call's deadlines; `setup` who the call is and how it ended.

use crate::engine::Callback;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use thin_vec::ThinVec;

use super::cause::{HangupCause, HangupSource};
use super::ids::{CallId, IdGen, MediaId, RequestId};
use super::io::{CallEvent, Command, Input, Output, Purpose, RecordingRef, Reply, VerbRef};
use super::rooms::{Direction, LeaveReason};
use crate::xml::values::{Method, Url};
use crate::xml::{self, Document, Verb};

mod api;
mod conference;
mod dial;
mod gather;
mod parameters;
mod record;
pub(in crate::engine) use record::recording_params;
mod setup;
mod sounds;
mod stream;
#[cfg(test)]
mod tests;
mod timers;

pub use api::{API_PLAY, API_SPEAK, CallLegs, CallOp, CallOpError};
use conference::RoomRun;
use dial::DialRun;
use gather::Gather;
use parameters::Params;
use record::RecordRun;
pub use setup::{CallConfig, CallEnd, CallSetup, CallStatus, DEFAULT_TRANSCRIPTION, Webhook};
use sounds::{SoundUse, WaitRun};
use stream::StreamRun;
use timers::{Timer, Timers};

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
/// ends: nothing of a conference, a gather or a dial survives into the next verb. Each
/// variant holds the settings its verb needs, read from the element once when it starts; its
/// methods borrow the rest of the call as a `Ctx` and say what the call does next (`Step`).
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
    /// Shared with the webhook it came from (the answer URL, most often): no copy per call.
    doc_url: Option<Arc<str>>,
    /// The position `(pc, sub)`: verb index and index inside `<PreAnswer>`, read as `usize`
    /// through [`Call::pc`] and [`Call::sub`]. `u32`: a parsed document (at most 100 KiB) has far
    /// fewer verbs, and one built through the AST would need hundreds of GB to pass 4 billion;
    /// the position saturates there, past the end, where the call hangs up with 4010.
    pc: u32,
    sub: Option<u32>,
    state: State,
    redirects: u32,
    /// The time of the input being handled (for paths that end the call deep inside).
    clock: Duration,
    next_id: u64,
    timers: Timers,
    /// Thin (8 bytes): nearly always empty, and calls are many.
    background: ThinVec<Background>,
    sounds: ThinVec<(RequestId, SoundUse)>,
    /// Boxed: most of a call's life it is `None`, and calls are many.
    ended: Option<Box<CallEnd>>,
    out: VecDeque<Output>,
}

#[derive(Debug)]
enum State {
    /// Created, not started (or outbound, waiting for the answer).
    Idle,
    /// Waiting for a document.
    Fetching { request: RequestId, purpose: Purpose, url: Arc<str> },
    /// Executing the verb at (pc, sub).
    Running(Run),
    /// Over.
    Ended,
}

/// The running verb's own state, with the settings it needs (dropped when the verb ends).
#[derive(Debug)]
enum Run {
    /// Waiting for one media operation to finish (Speak, Play, synchronous DTMF).
    Media(MediaId),
    /// `<Wait>`: the verb timer ends it, or silence or a beep.
    Wait(WaitRun),
    /// `<GetDigits>` / `<GetInput>`.
    Gather(Gather),
    /// Foreground `<Record>`.
    Record(RecordRun),
    /// `<Dial>`.
    Dial(DialRun),
    /// `<Conference>` / `<MultiPartyCall>`.
    Room(RoomRun),
    /// `<Stream keepCallAlive="true">`.
    Stream(StreamRun),
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
        /// When it stops by itself (the Record API's `time_limit`).
        until: Option<Duration>,
        /// Stopped; its file is still to come.
        stopping: bool,
    },
    /// A play or speak the Call API started, over what the call does.
    ApiSound { media: MediaId, kind: api::ApiSound },
    /// A `<Stream>` that does not hold the call; it stops by itself at `until`
    /// (`streamTimeout`).
    Stream { media: MediaId, callback: Option<(Url, Method)>, until: Duration },
}

/// How a starting verb leaves the loop in [`Call::proceed`].
enum Flow {
    /// The verb is done: go to the next one.
    Next(Outcome),
    /// The verb waits for an input or timer.
    Wait,
    /// The verb changed the state itself (fetching, ended).
    Stop,
}

/// What the call does after a running verb handled an input or a timer.
enum Step {
    /// The verb goes on.
    Stay,
    /// The verb is done: go to the next one.
    Done(Outcome),
    /// The verb is done, with `params` for its action if it has one (see `Call::send_action`).
    Action { outcome: Outcome, action: Option<Action>, verb: &'static str, params: Params },
    /// The verb is done and the call hangs up.
    End { outcome: Outcome, cause: HangupCause, source: HangupSource },
}

/// A verb's `action`: URL, method, and whether the reply replaces the document (`redirect`).
type Action = (Url, Method, bool);

/// How a verb ended, for traces; static in the common cases, so steps do not allocate.
type Outcome = crate::engine::VerbOutcome;

fn secs(n: u32) -> Duration {
    Duration::from_secs(u64::from(n))
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
        let ids = IdGen::new(config.seed ^ crate::engine::fnv1a(setup.id.as_str()));
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
            timers: Timers::default(),
            background: ThinVec::new(),
            sounds: ThinVec::new(),
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
        match (self.setup.direction, self.setup.ring.clone()) {
            (Direction::Inbound, _) => self.fetch_answer(Purpose::Answer),
            (Direction::Outbound, Some(ring)) => {
                self.request(ring.url(), ring.method(), Purpose::Callback(Callback::Ring), Reply::Ignore, Vec::new());
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
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        let out = self.out.pop_front();
        if out.is_none() && self.out.capacity() > 0 && (self.out.capacity() > 4 || !self.awaits_media()) {
            // Drained. A call that waits on anything but a media completion (in a room, on a
            // dial, for digits, for the app) may wait for minutes or hours: its queue's memory
            // goes back (4 outputs are 352 bytes, more than a third of a parked call). The
            // steady `<Speak>`/`<Play>` step loop keeps up to 4 and so allocates nothing.
            self.out = VecDeque::new();
        }
        out
    }

    /// Waiting for one media operation to finish (`<Speak>`, `<Play>`, a synchronous `<DTMF>`).
    fn awaits_media(&self) -> bool {
        matches!(self.state, State::Running(Run::Media(_)))
    }

    /// When [`Call::handle_timeout`] must next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        // Streams end and API recordings stop at their limits (one walk over what runs beside
        // the verb; usually nothing).
        let background = self.background.iter().filter_map(|b| match b {
            Background::Stream { until, .. } => Some(*until),
            Background::Recording { until, stopping: false, .. } => *until,
            Background::Recording { .. } | Background::ApiSound { .. } => None,
        });
        self.timers.next().into_iter().chain(background).min()
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
            Input::MediaFinished(m) => {
                self.api_sound_finished(m);
                self.on_media_finished(now, m);
            }
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
                // The phone party of an outbound call is the one it called: Plivo says `Callee`.
                let source = if source == HangupSource::Caller && self.setup.direction == Direction::Outbound {
                    HangupSource::Callee
                } else {
                    source
                };
                let cause = if self.answered_at.is_none() && source == HangupSource::ApiRequest {
                    HangupCause::Canceled
                } else {
                    HangupCause::NormalHangup
                };
                self.end(now, cause, source, false);
            }
            Input::MachineDetection { machine, notify } => {
                let params = vec![("Machine".to_owned(), machine.to_string())];
                let purpose = Purpose::Callback(Callback::MachineDetection);
                self.request(notify.url(), notify.method(), purpose, Reply::Ignore, params);
            }
            Input::End { cause, source } => {
                let answered = self.answered_at.is_some();
                self.end(now, cause, source, answered);
            }
            Input::Transfer { url, method } => {
                self.abort_verb(now, Some(LeaveReason::Transferred));
                self.request_document(url.into(), method, Purpose::Transfer, Vec::new());
            }
        }
    }

    // ------------------------------------------------------------------ answering

    /// Answers an inbound call before a verb that needs media (not inside `<PreAnswer>`).
    fn ensure_answered(&mut self, now: Duration) {
        if self.answered_at.is_none() && self.sub.is_none() {
            self.mark_answered(now);
            self.emit(Command::Answer);
        }
    }

    // ------------------------------------------------------------------ positions

    fn verb_here(&self) -> Option<&Verb> {
        crate::engine::io::verb_at(self.doc.as_deref()?, self.pc(), self.sub())
    }

    fn pc(&self) -> usize {
        self.pc as usize
    }

    fn sub(&self) -> Option<usize> {
        self.sub.map(|s| s as usize)
    }

    fn verb_ref(&self, prompt: Option<usize>) -> Option<VerbRef> {
        Some(VerbRef { doc: self.doc.clone()?, index: self.pc(), sub: self.sub(), prompt })
    }

    /// Loads a document and runs it from the top.
    fn load(&mut self, now: Duration, doc: Arc<Document>, purpose: Purpose, url: Arc<str>) {
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
                    self.finish_event(Outcome::Done, None);
                    self.pc = self.pc.saturating_add(1);
                    continue;
                }
                self.end(now, HangupCause::EndOfXml, HangupSource::Plivo, true);
                return;
            };
            let name = verb.name();
            // `<Speak>`/`<Play>` (the step loop) read nothing of their element here (the media
            // command carries a reference to it), so they skip `start_verb`'s lookup and its
            // clone of the document (an atomic increment and decrement).
            let media = match verb {
                Verb::Speak(_) => Some(true),
                Verb::Play(_) => Some(false),
                _ => None,
            };
            if self.config.verb_events {
                self.event(CallEvent::VerbStarted { index: self.pc(), sub: self.sub(), verb: name });
            }
            let flow = match media {
                Some(speak) => self.start_media(now, speak),
                None => self.start_verb(now),
            };
            match flow {
                Flow::Next(outcome) => {
                    self.finish_event(outcome, Some(name));
                    self.advance();
                }
                Flow::Wait | Flow::Stop => return,
            }
        }
    }

    fn finish_event(&mut self, outcome: Outcome, name: Option<&'static str>) {
        if !self.config.verb_events {
            return;
        }
        let (index, sub) = (self.pc(), if name.is_some() { self.sub() } else { None });
        let verb = name.unwrap_or("PreAnswer");
        self.event(CallEvent::VerbFinished { index, sub, verb, outcome });
    }

    fn advance(&mut self) {
        match self.sub {
            Some(i) => self.sub = Some(i.saturating_add(1)),
            None => self.pc = self.pc.saturating_add(1),
        }
    }

    /// The running verb finished with `outcome`: continue with the next one.
    fn complete(&mut self, now: Duration, outcome: Outcome) {
        self.timers.clear_verb();
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
        outcome: Outcome,
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
        outcome: Outcome,
        action: Option<(Url, Method, bool)>,
        verb: &'static str,
        params: Vec<(String, String)>,
    ) -> Flow {
        match action {
            Some((url, method, true)) => {
                self.timers.clear_verb();
                self.finish_event(outcome, Some(verb));
                self.request_document(url.as_str().into(), method, Purpose::Action(verb), params);
                Flow::Stop
            }
            Some((url, method, false)) => {
                self.request(url.as_str(), method, Purpose::Action(verb), Reply::Ignore, params);
                Flow::Next(outcome)
            }
            None => Flow::Next(outcome),
        }
    }

    /// Carries out what a running verb said comes next.
    fn apply(&mut self, now: Duration, step: Step) {
        match step {
            Step::Stay => {}
            Step::Done(outcome) => self.complete(now, outcome),
            Step::Action { outcome, action, verb, params } => {
                self.complete_with_action(now, outcome, action, verb, params);
            }
            Step::End { outcome, cause, source } => {
                self.finish_event(outcome, self.verb_here().map(Verb::name));
                self.state = State::Idle;
                self.end(now, cause, source, true);
            }
        }
    }

    // ------------------------------------------------------------------ verbs

    fn start_verb(&mut self, now: Duration) -> Flow {
        let Some(doc) = self.doc.clone() else {
            return Flow::Stop;
        };
        let Some(verb) = doc.verbs.get(self.pc()).and_then(|v| match (self.sub(), v) {
            (Some(i), Verb::PreAnswer(p)) => p.verbs.get(i),
            (_, v) => Some(v),
        }) else {
            return Flow::Stop;
        };
        match verb {
            // `proceed` starts these itself, without this lookup; here for a total match.
            Verb::Speak(_) => self.start_media(now, true),
            Verb::Play(_) => self.start_media(now, false),
            Verb::Wait(w) => self.start_wait(now, w),
            Verb::Dtmf(d) => self.start_dtmf(now, d),
            Verb::GetDigits(_) | Verb::GetInput(_) => self.start_gather(now, verb),
            Verb::Record(r) => self.start_record(now, r),
            Verb::Dial(d) => self.start_dial(now, d),
            Verb::Redirect(r) => {
                let url = r.url.as_ref().map(|u| u.as_str().to_owned()).unwrap_or_default();
                self.finish_event(Outcome::Redirected(url.clone()), Some("Redirect"));
                self.request_document(url.into(), r.method, Purpose::Redirect, Vec::new());
                Flow::Stop
            }
            Verb::Hangup(h) => {
                if h.schedule > 0 {
                    self.timers.set(Timer::ScheduledHangup, now + secs(h.schedule));
                    return Flow::Next(Outcome::ScheduledHangup(h.schedule));
                }
                let cause = match h.reason {
                    Some(xml::values::HangupReason::Busy) => HangupCause::Busy,
                    Some(xml::values::HangupReason::Rejected) => HangupCause::Rejected,
                    None => HangupCause::NormalHangup,
                };
                self.finish_event(Outcome::HungUp, Some("Hangup"));
                self.end(now, cause, HangupSource::AnswerXml, true);
                Flow::Stop
            }
            Verb::PreAnswer(p) => {
                if self.answered_at.is_none() && !self.preanswered {
                    self.preanswered = true;
                    self.emit(Command::PreAnswer);
                }
                if p.verbs.is_empty() {
                    return Flow::Next(Outcome::Done);
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
                    dst: m.dst.as_ref().map(|d| d.to_string()),
                    text: m.text.to_string(),
                });
                Flow::Next(Outcome::Sent)
            }
            Verb::Stream(s) => self.start_stream(now, s),
        }
    }

    // ------------------------------------------------------------------ running verbs

    fn on_media_finished(&mut self, now: Duration, m: MediaId) {
        let (State::Running(run), mut cx) = self.parts() else {
            return;
        };
        let step = match run {
            Run::Media(id) if *id == m => Step::Done(Outcome::Done),
            Run::Gather(g) => g.on_media_finished(&mut cx, now, m),
            Run::Record(r) => {
                r.on_media_finished(&mut cx, now, m);
                Step::Stay
            }
            _ => Step::Stay,
        };
        self.apply(now, step);
    }

    fn on_key(&mut self, now: Duration, key: char) {
        let (State::Running(run), mut cx) = self.parts() else {
            return;
        };
        let step = match run {
            Run::Gather(g) => g.on_key(&mut cx, now, key),
            Run::Record(r) => r.on_key(&mut cx, key),
            Run::Dial(d) => d.on_caller_key(&mut cx, now, key),
            Run::Room(r) => r.on_key(&mut cx, key),
            Run::Media(_) | Run::Wait(_) | Run::Stream(_) => Step::Stay,
        };
        self.apply(now, step);
    }

    // ------------------------------------------------------------------ the end

    /// Stops whatever the running verb holds (used on hangup and transfer). `hangup` is why the
    /// call leaves a room, when it is in one.
    fn abort_verb(&mut self, now: Duration, hangup: Option<LeaveReason>) {
        self.timers.clear_verb();
        let state = std::mem::replace(&mut self.state, State::Idle);
        let State::Running(run) = state else { return };
        let mut cx = self.cx();
        match run {
            Run::Media(m) => cx.emit(Command::StopMedia(m)),
            Run::Wait(_) => {}
            Run::Gather(g) => g.abort(&mut cx),
            Run::Record(r) => r.abort(&mut cx),
            Run::Dial(d) => d.abort(&mut cx, now),
            Run::Room(r) => r.abort(&mut cx, hangup),
            Run::Stream(s) => s.abort(&mut cx),
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
                Background::Recording { media, armed: false, stopping: false, .. } => {
                    self.emit(Command::StopRecording(media));
                    self.background.push(b);
                }
                Background::Recording { armed: false, .. } => self.background.push(b),
                Background::Recording { .. } => {}
                Background::ApiSound { media, .. } => self.emit(Command::StopMedia(media)),
                Background::Stream { media, callback, .. } => {
                    let mut cx = self.cx();
                    cx.emit(Command::StopStream(media));
                    cx.stream_stopped(callback.as_ref());
                }
            }
        }
        self.sounds.clear();
        self.timers.clear_all();
        self.status = CallStatus::Completed;
        let end = CallEnd { cause, source, at: now, answered_at: self.answered_at, started_at: self.started_at };
        self.ended = Some(Box::new(end));
        self.state = State::Ended;
        if command {
            self.emit(Command::Hangup { cause });
        }
        if let Some(hangup) = self.setup.hangup.clone() {
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
            self.request(hangup.url(), hangup.method(), Purpose::Hangup, Reply::Ignore, params);
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
