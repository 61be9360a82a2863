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

/// Who the call is and where its documents come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSetup {
    /// `CallUUID`.
    pub id: CallId,
    /// The account the call belongs to (rooms are per account).
    pub account: String,
    /// Caller number (`From`).
    pub from: String,
    /// Called number (`To`).
    pub to: String,
    /// Caller name (`CallerName`; may be empty).
    pub caller_name: String,
    /// Inbound or outbound.
    pub direction: Direction,
    /// The first document's URL.
    pub answer_url: String,
    /// Method for `answer_url`.
    pub answer_method: Method,
    /// Requested when `answer_url` fails.
    pub fallback_url: Option<String>,
    /// Method for `fallback_url`.
    pub fallback_method: Method,
    /// Notified when the call ends.
    pub hangup_url: Option<String>,
    /// Method for `hangup_url`.
    pub hangup_method: Method,
    /// Notified when an outbound call starts ringing.
    pub ring_url: Option<String>,
    /// Method for `ring_url`.
    pub ring_method: Method,
}

impl CallSetup {
    /// An inbound call from `from` to `to` whose answer URL is `answer_url` (POST).
    pub fn inbound(id: impl Into<String>, from: &str, to: &str, answer_url: &str) -> Self {
        CallSetup {
            id: CallId::from(id.into()),
            account: String::new(),
            from: from.to_owned(),
            to: to.to_owned(),
            caller_name: String::new(),
            direction: Direction::Inbound,
            answer_url: answer_url.to_owned(),
            answer_method: Method::Post,
            fallback_url: None,
            fallback_method: Method::Post,
            hangup_url: None,
            hangup_method: Method::Post,
            ring_url: None,
            ring_method: Method::Post,
        }
    }
}

/// Engine settings for calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallConfig {
    /// Documents a call may load through redirects and actions before it is hung up with
    /// [`HangupCause::RedirectLimit`]; stops redirect loops. Default 1000.
    pub max_redirects: u32,
    /// Recordings are named `{recording_url_base}/{id}.{format}`.
    pub recording_url_base: String,
    /// Seed for recording ids (mixed with the call id).
    pub seed: u64,
    /// What `auto` means for `<GetInput digitEndTimeout>`. Default 5 s.
    pub auto_digit_end_timeout: Duration,
    /// The text every `<Record transcriptionUrl>` request carries as `transcription`
    /// (no speech is recognised). Default [`DEFAULT_TRANSCRIPTION`].
    pub transcription_text: String,
}

/// The placeholder transcript of simulated recordings.
pub const DEFAULT_TRANSCRIPTION: &str = "(simulated transcription)";

impl Default for CallConfig {
    fn default() -> Self {
        CallConfig {
            max_redirects: 1000,
            recording_url_base: "https://media.plivo-flow.invalid/recordings".to_owned(),
            seed: 1,
            auto_digit_end_timeout: Duration::from_secs(5),
            transcription_text: DEFAULT_TRANSCRIPTION.to_owned(),
        }
    }
}

/// How and when a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallEnd {
    /// The hangup cause.
    pub cause: HangupCause,
    /// Who hung up.
    pub source: HangupSource,
    /// When it ended.
    pub at: Duration,
    /// When it was answered, if it was.
    pub answered_at: Option<Duration>,
    /// When it started.
    pub started_at: Duration,
}

/// The call's `CallStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    /// Not answered yet.
    Ringing,
    /// Answered.
    InProgress,
    /// Over.
    Completed,
}

impl CallStatus {
    /// The value sent as `CallStatus`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CallStatus::Ringing => "ringing",
            CallStatus::InProgress => "in-progress",
            CallStatus::Completed => "completed",
        }
    }
}

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

#[derive(Debug)]
struct Gather {
    attempt: u32,
    phase: GatherPhase,
    prompt: usize,
    media: Option<MediaId>,
    digits: String,
    /// The collection started for the verb (stopped when it ends).
    recognition: Option<MediaId>,
    /// Interim speech results sent so far (`SequenceNumber`).
    partials: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GatherPhase {
    Prompts,
    Beep,
    Listen,
    Invalid,
}

#[derive(Debug)]
struct RecordRun {
    media: MediaId,
    phase: RecordPhase,
    recording: RecordingRef,
    digits: String,
    started_at: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecordPhase {
    Beep,
    Recording,
    Stopping,
}

#[derive(Debug)]
struct DialRun {
    media: MediaId,
    phase: DialPhase,
    music: Option<MediaId>,
    rang: bool,
    caller_digits: String,
    callee_digits: String,
}

#[derive(Debug)]
enum DialPhase {
    Ringing,
    Confirming { b_leg: CallId, to: String },
    Bridged { b_leg: CallId, to: String, since: Duration },
}

#[derive(Debug)]
struct RoomRun {
    room: Arc<str>,
    phase: RoomPhase,
}

#[derive(Debug)]
enum RoomPhase {
    Joining,
    In {
        uuid: Arc<str>,
        member_id: u32,
        joined_at: Duration,
        waiting: bool,
        /// The wait music playing (`waitSound` / `waitMusicUrl`).
        music: Option<MediaId>,
        digits: String,
        /// On hold (`<MultiPartyCall hold>` or [`RoomEvent::Held`]).
        held: bool,
        /// The hold music playing while held.
        hold_music: Option<MediaId>,
    },
}

/// Where a held MultiPartyCall participant's hold music comes from.
#[derive(Debug)]
enum HoldMusic {
    /// The `<AgentHoldMusic>`/`<CustomerHoldMusic>` child's prompts.
    Prompts(Arc<Document>),
    /// The `agentHoldMusicUrl`/`customerHoldMusicUrl` attribute: fetched like `waitMusicUrl`.
    Url(Url, Method),
    /// Neither: Plivo plays its default hold music, which is not simulated (nothing plays).
    Default,
}

/// The hold music of `m`'s role, and its name for transcripts (`what`).
///
/// Plivo (MultiPartyCall XML): `agentHoldMusicUrl` is "played to agents while they're on hold",
/// `customerHoldMusicUrl` "to customers"; each "must return an XML document with Play, Speak,
/// and/or Wait elements" and "defaults to Plivo's default hold music". The Go SDK's
/// `<AgentHoldMusic>`/`<CustomerHoldMusic>` children carry the same prompts inline; a child with
/// at least one prompt wins over the attribute (it is the more specific, already-resolved
/// spelling; an empty child counts as absent). Plivo names no supervisor or ai-agent hold
/// music: they are staff side of the call, so they hear the agent hold music (our choice).
fn hold_music_of(m: &xml::MultiPartyCall) -> (HoldMusic, &'static str) {
    use xml::values::Role;
    let customer = m.role == Some(Role::Customer);
    let (prompts, url, what) = if customer {
        (
            m.customer_hold_music.as_ref().map(|c| c.prompts.as_slice()),
            m.customer_hold_music_url.clone().map(|u| (u, m.customer_hold_music_method)),
            "customerHoldMusic",
        )
    } else {
        (
            m.agent_hold_music.as_ref().map(|a| a.prompts.as_slice()),
            m.agent_hold_music_url.clone().map(|u| (u, m.agent_hold_music_method)),
            "agentHoldMusic",
        )
    };
    let source = match (prompts.filter(|p| !p.is_empty()), url) {
        (Some(prompts), _) => {
            let verbs = prompts
                .iter()
                .map(|p| match p {
                    Prompt::Speak(s) => Verb::Speak(s.clone()),
                    Prompt::Play(p) => Verb::Play(p.clone()),
                    Prompt::Wait(w) => Verb::Wait(w.clone()),
                })
                .collect();
            HoldMusic::Prompts(Arc::new(Document { verbs }))
        }
        (None, Some((url, method))) => HoldMusic::Url(url, method),
        (None, None) => HoldMusic::Default,
    };
    (source, what)
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

/// What a pending sound document is for.
#[derive(Debug, Clone)]
enum SoundUse {
    WaitSound,
    /// A held MPC participant's `*HoldMusicUrl` document (`what` names the role's music).
    HoldMusic {
        what: &'static str,
    },
    RoomSound {
        kind: RoomKind,
        room: String,
        what: &'static str,
    },
    DialMusic,
    ConfirmSound,
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

/// The longest recording Plivo transcribes: 4 hours (docs: voice/xml/record).
const MAX_TRANSCRIBED_MS: u64 = 4 * 3600 * 1000;

/// The longest a `<Stream>` runs, whatever its `streamTimeout` says (24 h, Plivo's default).
const MAX_STREAM_SECS: u32 = 86_400;

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

    /// Plays prompt `g.prompt`, or moves past the prompts.
    fn gather_prompt(&mut self, now: Duration) {
        let prompts = match self.verb_here() {
            Some(Verb::GetDigits(v)) => v.prompts.len(),
            Some(Verb::GetInput(v)) => v.prompts.len(),
            _ => return,
        };
        let State::Running(Run::Gather(g)) = &self.state else {
            return;
        };
        let i = g.prompt;
        if i >= prompts {
            let beep = matches!(self.verb_here(), Some(Verb::GetDigits(v)) if v.play_beep);
            if beep {
                let media = self.media_id();
                self.emit(Command::Beep { media, count: 1 });
                if let State::Running(Run::Gather(g)) = &mut self.state {
                    g.phase = GatherPhase::Beep;
                    g.media = Some(media);
                }
            } else {
                self.gather_listen(now);
            }
            return;
        }
        let prompt = match self.verb_here() {
            Some(Verb::GetDigits(v)) => v.prompts.get(i),
            Some(Verb::GetInput(v)) => v.prompts.get(i),
            _ => None,
        };
        match prompt {
            Some(Prompt::Wait(w)) => {
                self.timers[T_VERB] = Some(now + secs(w.length));
                if let State::Running(Run::Gather(g)) = &mut self.state {
                    g.media = None;
                }
            }
            Some(p) => {
                let is_speak = matches!(p, Prompt::Speak(_));
                let media = self.media_id();
                let Some(r) = self.verb_ref(Some(i)) else {
                    return;
                };
                self.emit(if is_speak { Command::Speak { media, speak: r } } else { Command::Play { media, play: r } });
                if let State::Running(Run::Gather(g)) = &mut self.state {
                    g.media = Some(media);
                }
            }
            None => {}
        }
    }

    /// What the media layer listens for during a `<GetDigits>` / `<GetInput>`.
    fn collect_settings(&self, verb: &Verb) -> Collect {
        match verb {
            Verb::GetInput(v) => Collect {
                dtmf: matches!(v.input_type, Some(InputType::Dtmf | InputType::DtmfSpeech)),
                speech: matches!(v.input_type, Some(InputType::Speech | InputType::DtmfSpeech)),
                language: v.language.as_str().to_owned(),
                hints: v.hints.clone(),
                max_digits: v.num_digits,
                finish_on_key: v.finish_on_key,
                valid_digits: None,
                timeout: secs(v.execution_timeout),
                digit_timeout: match v.digit_end_timeout {
                    xml::values::EndTimeout::Auto => self.config.auto_digit_end_timeout,
                    xml::values::EndTimeout::Secs(n) => secs(n),
                },
                attempts: v.retries,
            },
            Verb::GetDigits(v) => Collect {
                dtmf: true,
                speech: false,
                language: String::new(),
                hints: None,
                max_digits: v.num_digits,
                finish_on_key: v.finish_on_key,
                valid_digits: Some(v.valid_digits),
                timeout: secs(v.timeout),
                digit_timeout: secs(v.digit_timeout),
                attempts: v.retries,
            },
            _ => Collect::default(),
        }
    }

    fn gather_listen(&mut self, now: Duration) {
        let wait = match self.verb_here() {
            Some(Verb::GetDigits(v)) => secs(v.timeout),
            Some(Verb::GetInput(v)) => secs(v.execution_timeout),
            _ => return,
        };
        if let State::Running(Run::Gather(g)) = &mut self.state {
            g.phase = GatherPhase::Listen;
            self.timers[T_VERB] = Some(now + wait);
        }
    }

    /// Stops the prompt or beep in progress (barge-in).
    fn gather_barge_in(&mut self) {
        if let State::Running(Run::Gather(g)) = &mut self.state {
            if let Some(m) = g.media.take() {
                self.out.push_back(Output::Command(Command::StopMedia(m)));
            }
            if g.phase != GatherPhase::Listen {
                self.timers[T_VERB] = None;
            }
            g.phase = GatherPhase::Listen;
        }
    }

    fn gather_key(&mut self, now: Duration, key: char) {
        #[derive(Clone, Copy)]
        struct Keys {
            finish: FinishOnKey,
            valid: Option<xml::values::KeySet>,
            invalid_sound: bool,
            max: u32,
            gap: Duration,
            dtmf: bool,
        }
        let keys = match self.verb_here() {
            Some(Verb::GetDigits(v)) => Keys {
                finish: v.finish_on_key,
                valid: Some(v.valid_digits),
                invalid_sound: v.invalid_digits_sound.is_some(),
                max: v.num_digits,
                gap: secs(v.digit_timeout),
                dtmf: true,
            },
            Some(Verb::GetInput(v)) => Keys {
                finish: v.finish_on_key,
                valid: None,
                invalid_sound: false,
                max: v.num_digits,
                gap: match v.digit_end_timeout {
                    xml::values::EndTimeout::Auto => self.config.auto_digit_end_timeout,
                    xml::values::EndTimeout::Secs(n) => secs(n),
                },
                dtmf: matches!(v.input_type, Some(InputType::Dtmf | InputType::DtmfSpeech)),
            },
            _ => return,
        };
        if !keys.dtmf {
            return;
        }
        if matches!(&self.state, State::Running(Run::Gather(g)) if g.phase == GatherPhase::Invalid) {
            return;
        }
        self.gather_barge_in();
        let State::Running(Run::Gather(g)) = &mut self.state else {
            return;
        };
        if keys.finish.ends_on(key) {
            if g.digits.is_empty() {
                self.gather_failed(now);
            } else {
                let digits = std::mem::take(&mut g.digits);
                self.gather_submit(now, Some(digits), None);
            }
            return;
        }
        if keys.valid.is_some_and(|v| !v.contains(key)) {
            g.digits.clear();
            if keys.invalid_sound {
                g.phase = GatherPhase::Invalid;
                self.timers[T_VERB] = None;
                if let Some(Verb::GetDigits(v)) = self.verb_here()
                    && let Some(url) = v.invalid_digits_sound.clone()
                {
                    let media = self.media_id();
                    let sounds = Arc::new(Document {
                        verbs: vec![Verb::Play(xml::Play { url: Some(url), ..Default::default() })],
                    });
                    self.emit(Command::PlaySounds {
                        media,
                        sounds,
                        to: Listener::Caller,
                        looped: false,
                        what: "invalidDigitsSound",
                    });
                    if let State::Running(Run::Gather(g)) = &mut self.state {
                        g.media = Some(media);
                    }
                }
            } else {
                self.gather_failed(now);
            }
            return;
        }
        g.digits.push(key);
        if g.digits.chars().count() >= keys.max as usize {
            let digits = std::mem::take(&mut g.digits);
            self.gather_submit(now, Some(digits), None);
        } else {
            self.timers[T_VERB] = Some(now + keys.gap);
        }
    }

    fn on_speech(&mut self, now: Duration, text: String, confidence: f32) {
        let speech = matches!(
            self.verb_here(),
            Some(Verb::GetInput(v)) if matches!(v.input_type, Some(InputType::Speech | InputType::DtmfSpeech))
        );
        if speech && matches!(self.state, State::Running(Run::Gather(_))) {
            self.gather_barge_in();
            self.gather_submit(now, None, Some((text, confidence)));
        }
    }

    fn on_speech_partial(&mut self, stable: String, unstable: String, stability: f32) {
        let State::Running(Run::Gather(g)) = &mut self.state else {
            return;
        };
        g.partials += 1;
        let sequence = g.partials;
        let Some(Verb::GetInput(v)) = self.verb_here() else {
            return;
        };
        let Some(url) = v.interim_speech_results_callback.clone() else {
            return;
        };
        let method = v.interim_speech_results_callback_method;
        self.notify(
            &url,
            method,
            "interim speech",
            vec![
                ("StableSpeech".to_owned(), stable),
                ("UnstableSpeech".to_owned(), unstable),
                ("Stability".to_owned(), format!("{stability:.2}")),
                ("SequenceNumber".to_owned(), sequence.to_string()),
            ],
        );
    }

    /// This attempt got no (valid) input: retry, or fall through without a request.
    fn gather_failed(&mut self, now: Duration) {
        let retries = match self.verb_here() {
            Some(Verb::GetDigits(v)) => v.retries,
            Some(Verb::GetInput(v)) => v.retries,
            _ => return,
        };
        let State::Running(Run::Gather(g)) = &mut self.state else {
            return;
        };
        if g.attempt < retries {
            g.attempt += 1;
            g.prompt = 0;
            g.phase = GatherPhase::Prompts;
            g.digits.clear();
            self.timers[T_VERB] = None;
            self.gather_prompt(now);
            return;
        }
        if let Some(m) = g.recognition.take() {
            self.emit(Command::StopCollect(m));
        }
        self.complete(now, "no input");
    }

    fn gather_submit(&mut self, now: Duration, digits: Option<String>, speech: Option<(String, f32)>) {
        if let State::Running(Run::Gather(g)) = &mut self.state
            && let Some(m) = g.recognition.take()
        {
            self.out.push_back(Output::Command(Command::StopCollect(m)));
        }
        let (action, verb) = match self.verb_here() {
            Some(Verb::GetDigits(v)) => (v.action.clone().map(|u| (u, v.method, v.redirect)), "GetDigits"),
            Some(Verb::GetInput(v)) => (v.action.clone().map(|u| (u, v.method, v.redirect)), "GetInput"),
            _ => return,
        };
        let mut params = Vec::new();
        let outcome;
        match (digits, speech) {
            (Some(d), _) if verb == "GetDigits" => {
                outcome = format!("digits {d}");
                params.push(("Digits".to_owned(), d));
            }
            // <GetInput> always sends the same four fields; the ones that do not apply are empty.
            (Some(d), _) => {
                outcome = format!("digits {d}");
                params.push(("InputType".to_owned(), "dtmf".to_owned()));
                params.push(("Digits".to_owned(), d));
                params.push(("Speech".to_owned(), String::new()));
                params.push(("SpeechConfidenceScore".to_owned(), String::new()));
            }
            (None, Some((text, conf))) => {
                outcome = format!("speech \"{text}\"");
                params.push(("InputType".to_owned(), "speech".to_owned()));
                params.push(("Digits".to_owned(), String::new()));
                params.push(("Speech".to_owned(), text));
                params.push(("SpeechConfidenceScore".to_owned(), format!("{conf:.2}")));
            }
            (None, None) => outcome = "no input".to_owned(),
        }
        self.complete_with_action(now, outcome, action, verb, params);
    }

    // ------------------------------------------------------------------ record

    fn new_recording(&mut self, format: xml::values::FileFormat) -> RecordingRef {
        let id = self.ids.uuid();
        let url = format!("{}/{}.{}", self.config.recording_url_base, id, format);
        RecordingRef { id, url }
    }

    fn start_record(&mut self, now: Duration, r: &xml::Record) -> Flow {
        self.ensure_answered(now);
        let recording = self.new_recording(r.file_format);
        let action = r.action.clone().map(|u| (u, r.method, r.redirect));
        if r.record_session || r.start_on_dial_answer {
            let media = self.media_id();
            let armed = !r.record_session;
            if !armed {
                self.emit(Command::StartRecording {
                    media,
                    mode: RecordMode::Session,
                    format: r.file_format,
                    max_length: None,
                    silence_timeout: None,
                    recording: Box::new(recording.clone()),
                });
            }
            self.background.push(Background::Recording {
                media,
                recording: recording.clone(),
                armed,
                started_at: now,
                callback: r.callback_url.clone().map(|u| (u, r.callback_method)),
                transcription: r.transcription_url.clone().map(|u| (u, r.transcription_method)),
                format: r.file_format,
            });
            let params = vec![
                ("RecordUrl".to_owned(), recording.url.clone()),
                ("RecordingID".to_owned(), recording.id.clone()),
                ("RecordingDuration".to_owned(), "-1".to_owned()),
                ("RecordingDurationMs".to_owned(), "-1".to_owned()),
                ("RecordingStartMs".to_owned(), "-1".to_owned()),
                ("RecordingEndMs".to_owned(), "-1".to_owned()),
            ];
            let outcome = if armed { "armed for the next answered Dial" } else { "recording the session" };
            // The verb completes at once; only an action with redirect=true stops the loop.
            return self.send_action(outcome, action, "Record", params);
        }
        let media = self.media_id();
        let phase = if r.play_beep { RecordPhase::Beep } else { RecordPhase::Recording };
        self.state =
            State::Running(Run::Record(RecordRun { media, phase, recording, digits: String::new(), started_at: now }));
        if r.play_beep {
            self.emit(Command::Beep { media, count: 1 });
        } else {
            self.start_foreground_recording(now);
        }
        Flow::Wait
    }

    fn start_foreground_recording(&mut self, now: Duration) {
        let Some(Verb::Record(v)) = self.verb_here() else {
            return;
        };
        let (format, max_length, timeout) = (v.file_format, secs(v.max_length), secs(v.timeout));
        let State::Running(Run::Record(r)) = &mut self.state else {
            return;
        };
        r.started_at = now;
        let (media, recording) = (r.media, r.recording.clone());
        self.timers[T_VERB] = Some(now + max_length);
        self.emit(Command::StartRecording {
            media,
            mode: RecordMode::Foreground,
            format,
            max_length: Some(max_length),
            silence_timeout: Some(timeout),
            recording: Box::new(recording),
        });
    }

    fn recording_params(rec: &RecordingRef, started: Duration, duration_ms: u64) -> Vec<(String, String)> {
        let start_ms = started.as_millis();
        vec![
            ("RecordUrl".to_owned(), rec.url.clone()),
            ("RecordingID".to_owned(), rec.id.clone()),
            ("RecordingDuration".to_owned(), (duration_ms / 1000).to_string()),
            ("RecordingDurationMs".to_owned(), duration_ms.to_string()),
            ("RecordingStartMs".to_owned(), start_ms.to_string()),
            ("RecordingEndMs".to_owned(), (start_ms + u128::from(duration_ms)).to_string()),
        ]
    }

    fn on_recording_finished(&mut self, now: Duration, media: MediaId, duration_ms: u64) {
        if let State::Running(Run::Record(r)) = &self.state
            && r.media == media
            && r.phase != RecordPhase::Beep
        {
            let params = Self::recording_params(&r.recording, r.started_at, duration_ms);
            let digits = r.digits.clone();
            let Some(Verb::Record(v)) = self.verb_here() else {
                return;
            };
            let action = v.action.clone().map(|u| (u, v.method, v.redirect));
            let callback = v.callback_url.clone().map(|u| (u, v.callback_method));
            let transcription = v.transcription_url.clone().map(|u| (u, v.transcription_method));
            let recording_id = r.recording.id.clone();
            if let Some((url, method)) = callback {
                self.notify(&url, method, "recording", params.clone());
            }
            if let Some((url, method)) = transcription {
                self.transcription_callback(&url, method, &recording_id, duration_ms);
            }
            let mut params = params;
            params.push(("Digits".to_owned(), digits.clone()));
            let outcome = format!(
                "recorded {duration_ms} ms{}",
                if digits.is_empty() { String::new() } else { format!(", ended by {digits}") }
            );
            self.complete_with_action(now, outcome, action, "Record", params);
            return;
        }
        self.background_recording_finished(media, duration_ms);
    }

    fn background_recording_finished(&mut self, media: MediaId, duration_ms: u64) {
        let pos = self
            .background
            .iter()
            .position(|b| matches!(b, Background::Recording { media: m, armed: false, .. } if *m == media));
        let Some(pos) = pos else { return };
        if let Background::Recording { recording, started_at, callback, transcription, .. } =
            self.background.remove(pos)
        {
            if let Some((url, method)) = callback {
                let params = Self::recording_params(&recording, started_at, duration_ms);
                self.notify(&url, method, "recording", params);
            }
            if let Some((url, method)) = transcription {
                self.transcription_callback(&url, method, &recording.id, duration_ms);
            }
        }
    }

    /// The `transcriptionUrl` request for a finished recording `duration_ms` long, with
    /// Plivo's parameters (docs: voice/xml/record, "Parameters sent to the transcription
    /// URL"): `transcription_charge`, `transcription`, `duration` (s), `call_uuid`,
    /// `transcription_rate`, `recording_id`, and `error` when the recording cannot be
    /// transcribed (longer than 4 hours). The text is [`CallConfig::transcription_text`];
    /// nothing is charged. Plivo sends it minutes later; here it follows the file at once.
    fn transcription_callback(&mut self, url: &Url, method: Method, recording_id: &str, duration_ms: u64) {
        let too_long = duration_ms > MAX_TRANSCRIBED_MS;
        let text = if too_long { String::new() } else { self.config.transcription_text.clone() };
        let mut params = vec![
            ("transcription_charge".to_owned(), "0.00000".to_owned()),
            ("transcription".to_owned(), text),
            ("duration".to_owned(), (duration_ms / 1000).to_string()),
            ("call_uuid".to_owned(), self.setup.id.as_str().to_owned()),
            ("transcription_rate".to_owned(), "0.00000".to_owned()),
            ("recording_id".to_owned(), recording_id.to_owned()),
        ];
        if too_long {
            params.push(("error".to_owned(), "Recording duration too long for transcription".to_owned()));
        }
        self.notify(url, method, "transcription", params);
    }

    // ------------------------------------------------------------------ dial

    fn start_dial(&mut self, now: Duration, d: &xml::Dial) -> Flow {
        let media = self.media_id();
        self.emit(Command::Dial { media, dial: Box::new(d.clone()) });
        if let Some(t) = d.timeout {
            self.timers[T_VERB] = Some(now + secs(t));
        }
        if let Some(DialMusic::Url(url)) = &d.dial_music {
            let url = url.clone();
            self.request_sound(&url, Method::Post, SoundUse::DialMusic, "dialMusic");
        }
        self.state = State::Running(Run::Dial(DialRun {
            media,
            phase: DialPhase::Ringing,
            music: None,
            rang: false,
            caller_digits: String::new(),
            callee_digits: String::new(),
        }));
        Flow::Wait
    }

    fn dial_params(&self, event: &str, b_leg: Option<(&CallId, &str)>) -> Vec<(String, String)> {
        let mut p = vec![
            ("DialAction".to_owned(), event.to_owned()),
            ("DialALegUUID".to_owned(), self.setup.id.as_str().to_owned()),
        ];
        if let Some((b, to)) = b_leg {
            p.push(("DialBLegUUID".to_owned(), b.as_str().to_owned()));
            p.push(("DialBLegTo".to_owned(), to.to_owned()));
            p.push(("DialBLegFrom".to_owned(), self.setup.from.clone()));
        }
        p
    }

    fn dial_callback(&mut self, event: &'static str, mut extra: Vec<(String, String)>) {
        let Some(Verb::Dial(v)) = self.verb_here() else {
            return;
        };
        let Some(url) = v.callback_url.clone() else {
            return;
        };
        let method = v.callback_method;
        let b = match &self.state {
            State::Running(Run::Dial(DialRun {
                phase: DialPhase::Bridged { b_leg, to, .. } | DialPhase::Confirming { b_leg, to },
                ..
            })) => Some((b_leg.clone(), to.clone())),
            _ => None,
        };
        let mut params = self.dial_params(event, b.as_ref().map(|(b, t)| (b, t.as_str())));
        params.append(&mut extra);
        self.notify(&url, method, "dial", params);
    }

    fn on_dial(&mut self, now: Duration, e: DialEvent) {
        let State::Running(Run::Dial(d)) = &mut self.state else {
            return;
        };
        match e {
            DialEvent::Ringing => d.rang = true,
            DialEvent::Answered { b_leg, to } => {
                if !matches!(d.phase, DialPhase::Ringing) {
                    return;
                }
                self.timers[T_VERB] = None;
                let confirm = match self.verb_here() {
                    Some(Verb::Dial(v)) => v.confirm_key.map(|_| (secs(v.confirm_timeout), v.confirm_sound.clone())),
                    _ => None,
                };
                if let Some((timeout, sound)) = confirm {
                    if let State::Running(Run::Dial(d)) = &mut self.state {
                        d.phase = DialPhase::Confirming { b_leg, to };
                    }
                    self.timers[T_VERB] = Some(now + timeout);
                    if let Some(url) = sound {
                        self.request_sound(&url, Method::Post, SoundUse::ConfirmSound, "confirmSound");
                    }
                } else {
                    self.bridge(now, b_leg, to);
                }
            }
            DialEvent::Busy => self.finish_dial(now, "busy", None),
            DialEvent::NoAnswer => self.finish_dial(now, "no-answer", None),
            DialEvent::Failed => self.finish_dial(now, "failed", None),
            DialEvent::CalleeDigits(keys) => {
                for k in keys.chars() {
                    self.dial_callee_key(now, k);
                }
            }
            DialEvent::CalleeHangup => {
                if matches!(d.phase, DialPhase::Bridged { .. } | DialPhase::Confirming { .. }) {
                    let bridged = matches!(d.phase, DialPhase::Bridged { .. });
                    self.finish_dial(now, if bridged { "completed" } else { "no-answer" }, Some("callee hung up"));
                }
            }
        }
    }

    fn bridge(&mut self, now: Duration, b_leg: CallId, to: String) {
        let State::Running(Run::Dial(d)) = &mut self.state else {
            return;
        };
        if let Some(m) = d.music.take() {
            self.out.push_back(Output::Command(Command::StopMedia(m)));
        }
        d.phase = DialPhase::Bridged { b_leg, to, since: now };
        self.timers[T_VERB] = None;
        if self.answered_at.is_none() {
            // A caller who reaches the `<Dial>` unanswered is answered when the callee is.
            self.mark_answered(now);
            self.emit(Command::Answer);
        }
        if let Some(Verb::Dial(v)) = self.verb_here() {
            self.timers[T_AUX] = Some(now + secs(v.time_limit.min(86_400)));
        }
        // startOnDialAnswer recordings start now.
        let mut starts = Vec::new();
        for b in &mut self.background {
            if let Background::Recording { media, recording, armed, started_at, format, .. } = b
                && *armed
            {
                *armed = false;
                *started_at = now;
                starts.push((*media, recording.clone(), *format));
            }
        }
        for (media, recording, format) in starts {
            self.emit(Command::StartRecording {
                media,
                mode: RecordMode::Bridge,
                format,
                max_length: None,
                silence_timeout: None,
                recording: Box::new(recording),
            });
        }
        self.dial_callback("answer", vec![("DialBLegStatus".to_owned(), "answer".to_owned())]);
    }

    fn dial_caller_key(&mut self, now: Duration, key: char) {
        let Some(Verb::Dial(v)) = self.verb_here() else {
            return;
        };
        let (star, patterns) = (v.hangup_on_star, v.digits_match.clone());
        let State::Running(Run::Dial(d)) = &mut self.state else {
            return;
        };
        if !matches!(d.phase, DialPhase::Bridged { .. }) {
            return;
        }
        if star && key == '*' {
            let media = d.media;
            self.emit(Command::HangupCallee(media));
            self.finish_dial(now, "completed", Some("caller pressed *"));
            return;
        }
        d.caller_digits.push(key);
        if let Some(p) = patterns.and_then(|p| matched(&mut d.caller_digits, p.patterns())) {
            self.dial_callback(
                "digits",
                vec![("DialDigitsMatch".to_owned(), p), ("DialDigitsPressedBy".to_owned(), "ALeg".to_owned())],
            );
        }
    }

    fn dial_callee_key(&mut self, now: Duration, key: char) {
        let Some(Verb::Dial(v)) = self.verb_here() else {
            return;
        };
        let (confirm, patterns) = (v.confirm_key, v.digits_match_b_leg.clone());
        let State::Running(Run::Dial(d)) = &mut self.state else {
            return;
        };
        match &d.phase {
            DialPhase::Confirming { b_leg, to } => {
                if confirm.is_some_and(|k| k.as_char() == key) {
                    let (b, t) = (b_leg.clone(), to.clone());
                    self.bridge(now, b, t);
                }
            }
            DialPhase::Bridged { .. } => {
                d.callee_digits.push(key);
                if let Some(p) = patterns.and_then(|p| matched(&mut d.callee_digits, p.patterns())) {
                    self.dial_callback(
                        "digits",
                        vec![("DialDigitsMatch".to_owned(), p), ("DialDigitsPressedBy".to_owned(), "BLeg".to_owned())],
                    );
                }
            }
            DialPhase::Ringing => {}
        }
    }

    fn finish_dial(&mut self, now: Duration, status: &'static str, why: Option<&str>) {
        let State::Running(Run::Dial(d)) = &mut self.state else {
            return;
        };
        if let Some(m) = d.music.take() {
            self.out.push_back(Output::Command(Command::StopMedia(m)));
        }
        let rang = d.rang || matches!(d.phase, DialPhase::Bridged { .. } | DialPhase::Confirming { .. });
        let bridged = match &d.phase {
            DialPhase::Bridged { b_leg, since, .. } => Some((b_leg.clone(), now.saturating_sub(*since))),
            _ => None,
        };
        let b_uuid = match &d.phase {
            DialPhase::Bridged { b_leg, .. } | DialPhase::Confirming { b_leg, .. } => b_leg.as_str().to_owned(),
            DialPhase::Ringing => String::new(),
        };
        if let Some((_, dur)) = &bridged {
            let secs_ = dur.as_secs().to_string();
            self.dial_callback(
                "hangup",
                vec![
                    ("DialBLegStatus".to_owned(), "hangup".to_owned()),
                    ("DialBLegDuration".to_owned(), secs_.clone()),
                    ("DialBLegBillDuration".to_owned(), secs_),
                    ("DialBLegHangupCauseName".to_owned(), "Normal Hangup".to_owned()),
                    ("DialBLegHangupCauseCode".to_owned(), "4000".to_owned()),
                ],
            );
        }
        let Some(Verb::Dial(v)) = self.verb_here() else {
            return;
        };
        let action = v.action.clone().map(|u| (u, v.method, v.redirect));
        let params = vec![
            ("DialStatus".to_owned(), status.to_owned()),
            ("DialRingStatus".to_owned(), rang.to_string()),
            ("DialHangupCause".to_owned(), dial_cause(status).to_owned()),
            ("DialALegUUID".to_owned(), self.setup.id.as_str().to_owned()),
            ("DialBLegUUID".to_owned(), b_uuid),
        ];
        let outcome = match why {
            Some(w) => format!("{status} ({w})"),
            None => status.to_owned(),
        };
        self.complete_with_action(now, outcome, action, "Dial", params);
    }

    // ------------------------------------------------------------------ conference / MPC

    fn member_info(&self) -> MemberInfo {
        MemberInfo {
            call: self.setup.id.clone(),
            from: self.setup.from.clone(),
            to: self.setup.to.clone(),
            caller_name: self.setup.caller_name.clone(),
            direction: self.setup.direction,
        }
    }

    fn start_room(&mut self, now: Duration, verb: &Verb) -> Flow {
        self.ensure_answered(now);
        let request = match verb {
            Verb::Conference(c) => JoinRequest {
                account: self.setup.account.clone(),
                room: c.room.clone(),
                kind: RoomKind::Conference,
                muted: c.muted,
                hold: false,
                start_on_enter: c.start_conference_on_enter,
                end_on_exit: c.end_conference_on_exit,
                stay_alone: c.stay_alone,
                max_members: c.max_members,
                time_limit: Some(secs(c.time_limit)),
                record: c.record.then(|| RecordSpec {
                    format: c.record_file_format,
                    callback: c.callback_url.clone().map(|u| (u, c.callback_method)),
                }),
            },
            Verb::MultiPartyCall(m) => JoinRequest {
                account: self.setup.account.clone(),
                room: m.name.clone(),
                kind: RoomKind::MultiParty,
                muted: m.mute,
                hold: m.hold,
                start_on_enter: m.start_mpc_on_enter,
                end_on_exit: m.end_mpc_on_exit,
                stay_alone: m.stay_alone,
                max_members: m.max_participants,
                time_limit: Some(secs(m.max_duration)),
                record: m.record.then(|| RecordSpec {
                    format: m.record_file_format,
                    callback: m.recording_callback_url.clone().map(|u| (u, m.recording_callback_method)),
                }),
            },
            _ => return Flow::Stop,
        };
        let run = RoomRun { room: Arc::from(request.room.as_str()), phase: RoomPhase::Joining };
        self.state = State::Running(Run::Room(run));
        let member = Box::new(self.member_info());
        self.emit(Command::JoinConference { request: Box::new(request), member });
        Flow::Wait
    }

    fn conference_params(action: &str, room: &str, uuid: &str, member: Option<u32>) -> Vec<(String, String)> {
        vec![
            ("ConferenceAction".to_owned(), action.to_owned()),
            ("ConferenceName".to_owned(), room.to_owned()),
            ("ConferenceUUID".to_owned(), uuid.to_owned()),
            ("ConferenceMemberID".to_owned(), member.map(|m| m.to_string()).unwrap_or_default()),
        ]
    }

    /// Fires the `<Conference callbackUrl>` (or MPC status callback) event.
    fn room_callback(
        &mut self,
        action: &'static str,
        room: &str,
        uuid: &str,
        member: u32,
        extra: Vec<(String, String)>,
    ) {
        match self.verb_here() {
            Some(Verb::Conference(c)) => {
                let Some(url) = c.callback_url.clone() else {
                    return;
                };
                let method = c.callback_method;
                let mut params = Self::conference_params(action, room, uuid, Some(member));
                params.extend(extra);
                let what = match action {
                    "enter" => "conference enter",
                    "exit" => "conference exit",
                    "digits" => "conference digits",
                    "floor" => "conference floor",
                    _ => "conference",
                };
                self.notify(&url, method, what, params);
            }
            Some(Verb::MultiPartyCall(m)) => {
                let subscribed = m.status_callback_events.contains(xml::values::MpcEvent::ParticipantStateChanges);
                let Some(url) = m.status_callback_url.clone().filter(|_| subscribed) else {
                    return;
                };
                let event = match action {
                    "enter" => "ParticipantJoin",
                    "exit" => "ParticipantExit",
                    _ => return,
                };
                let params = vec![
                    ("EventName".to_owned(), event.to_owned()),
                    ("MPCUUID".to_owned(), uuid.to_owned()),
                    ("MPCName".to_owned(), room.to_owned()),
                    ("MemberID".to_owned(), member.to_string()),
                    ("ParticipantRole".to_owned(), m.role.map(|r| r.to_string()).unwrap_or_default()),
                    ("ParticipantCallUUID".to_owned(), self.setup.id.as_str().to_owned()),
                ];
                let method = m.status_callback_method;
                self.notify(&url, method, "mpc status", params);
            }
            _ => {}
        }
    }

    /// Plays the running room verb's enter or exit sound to its room.
    fn room_sound(&mut self, room: &str, enter: bool) {
        let (sound, method, kind) = match self.verb_here() {
            Some(Verb::Conference(c)) => {
                (if enter { c.enter_sound.clone() } else { c.exit_sound.clone() }, Method::Post, RoomKind::Conference)
            }
            Some(Verb::MultiPartyCall(m)) => {
                let (sound, method) = if enter {
                    (m.enter_sound.clone(), m.enter_sound_method)
                } else {
                    (m.exit_sound.clone(), m.exit_sound_method)
                };
                (sound, method, RoomKind::MultiParty)
            }
            _ => return,
        };
        let what = if enter { "enterSound" } else { "exitSound" };
        let room = room.to_owned();
        match sound {
            Sound::Beep1 => self.emit(Command::RoomSound { kind, room, sound: RoomSound::Beeps(1), what }),
            Sound::Beep2 => self.emit(Command::RoomSound { kind, room, sound: RoomSound::Beeps(2), what }),
            Sound::Url(u) => self.request_sound(&u, method, SoundUse::RoomSound { kind, room, what }, what),
            Sound::Empty | Sound::None => {}
        }
    }

    fn on_room(&mut self, now: Duration, e: RoomEvent) {
        let State::Running(Run::Room(run)) = &mut self.state else {
            return;
        };
        match e {
            RoomEvent::Joined { room, uuid, member_id, started, first, .. }
                if matches!(run.phase, RoomPhase::Joining) && room == run.room =>
            {
                run.phase = RoomPhase::In {
                    uuid: uuid.clone(),
                    member_id,
                    joined_at: now,
                    waiting: !started,
                    music: None,
                    digits: String::new(),
                    held: false,
                    hold_music: None,
                };
                self.room_callback("enter", &room, &uuid, member_id, Vec::new());
                let (wait_sound, floor) = match self.verb_here() {
                    Some(Verb::Conference(c)) => {
                        (c.wait_sound.clone().map(|u| (u, Method::Post)), c.floor_event && first && !c.muted)
                    }
                    Some(Verb::MultiPartyCall(m)) => {
                        (m.wait_music_url.clone().map(|u| (u, m.wait_music_method)), false)
                    }
                    _ => (None, false),
                };
                self.room_sound(&room, true);
                let join_held = matches!(self.verb_here(), Some(Verb::MultiPartyCall(m)) if m.hold);
                if join_held {
                    // `<MultiPartyCall hold="true">`: the room has it on hold already; the
                    // hold music plays instead of any wait music.
                    self.set_held(true);
                } else if !started && let Some((url, method)) = wait_sound {
                    self.request_sound(&url, method, SoundUse::WaitSound, "waitSound");
                }
                if floor {
                    self.room_callback("floor", &room, &uuid, member_id, Vec::new());
                }
            }
            RoomEvent::Refused { room, max_members, .. }
                if matches!(run.phase, RoomPhase::Joining) && room == run.room =>
            {
                let outcome = format!("not joined: room {room} is full ({max_members} members)");
                self.leave_room_verb(now, outcome, &room, "", None, None);
            }
            RoomEvent::Started { room, .. } if room == run.room => {
                if let RoomPhase::In { waiting, music, .. } = &mut run.phase {
                    *waiting = false;
                    if let Some(m) = music.take() {
                        self.out.push_back(Output::Command(Command::StopMedia(m)));
                    }
                }
            }
            RoomEvent::Floor { room, member_id, .. } if room == run.room => {
                let floor = matches!(self.verb_here(), Some(Verb::Conference(c)) if c.floor_event);
                if let (true, State::Running(Run::Room(RoomRun { phase: RoomPhase::In { uuid, .. }, .. }))) =
                    (floor, &self.state)
                {
                    let uuid = uuid.clone();
                    self.room_callback("floor", &room, &uuid, member_id, Vec::new());
                }
            }
            RoomEvent::Held { room, held, .. } if room == run.room && matches!(run.phase, RoomPhase::In { .. }) => {
                self.set_held(held);
            }
            RoomEvent::Left { room, uuid, member_id, reason, recording, .. }
                if room == run.room && matches!(run.phase, RoomPhase::In { .. }) =>
            {
                if let RoomPhase::In { music, hold_music, .. } = &mut run.phase {
                    let playing = [music.take(), hold_music.take()];
                    for m in playing.into_iter().flatten() {
                        self.emit(Command::StopMedia(m));
                    }
                }
                self.room_callback("exit", &room, &uuid, member_id, Vec::new());
                self.room_sound(&room, false);
                match reason {
                    LeaveReason::MemberHungUp => {
                        self.finish_event(format!("left room {room}: {reason}"), self.verb_here().map(Verb::name));
                        self.state = State::Idle;
                        self.end(now, HangupCause::NormalHangup, HangupSource::ApiRequest, true);
                    }
                    LeaveReason::CallHungUp => {}
                    _ => {
                        let rec = recording.map(|r| (r.url, r.id));
                        self.leave_room_verb(
                            now,
                            format!("left room {room}: {reason}"),
                            &room,
                            &uuid,
                            Some(member_id),
                            rec,
                        );
                    }
                }
            }
            _ => {}
        }
    }

    /// Puts the room verb's participant on hold (`held`) or takes it off hold: the hold music
    /// of its role starts (looped, to the caller; any wait music gives way) or stops (and the
    /// wait music comes back if the MPC has still not started). No change, nothing happens.
    fn set_held(&mut self, held: bool) {
        let State::Running(Run::Room(RoomRun {
            phase: RoomPhase::In { held: h, music, hold_music, waiting, .. }, ..
        })) = &mut self.state
        else {
            return;
        };
        if *h == held {
            return;
        }
        *h = held;
        if held {
            if let Some(m) = music.take() {
                self.emit(Command::StopMedia(m));
            }
            let Some(Verb::MultiPartyCall(m)) = self.verb_here() else {
                return;
            };
            match hold_music_of(m) {
                (HoldMusic::Prompts(sounds), what) => {
                    let media = self.media_id();
                    self.emit(Command::PlaySounds { media, sounds, to: Listener::Caller, looped: true, what });
                    if let State::Running(Run::Room(RoomRun { phase: RoomPhase::In { hold_music, .. }, .. })) =
                        &mut self.state
                    {
                        *hold_music = Some(media);
                    }
                }
                (HoldMusic::Url(url, method), what) => {
                    let url_what =
                        if what == "customerHoldMusic" { "customerHoldMusicUrl" } else { "agentHoldMusicUrl" };
                    self.request_sound(&url, method, SoundUse::HoldMusic { what }, url_what);
                }
                (HoldMusic::Default, _) => {}
            }
        } else {
            let (stop, rewait) = (hold_music.take(), *waiting);
            if let Some(m) = stop {
                self.emit(Command::StopMedia(m));
            }
            if rewait
                && let Some(Verb::MultiPartyCall(m)) = self.verb_here()
                && let Some(url) = m.wait_music_url.clone()
            {
                let method = m.wait_music_method;
                self.request_sound(&url, method, SoundUse::WaitSound, "waitSound");
            }
        }
    }

    /// The room verb is over (left or refused): action or next element.
    fn leave_room_verb(
        &mut self,
        now: Duration,
        outcome: String,
        room: &str,
        uuid: &str,
        member: Option<u32>,
        recording: Option<(String, String)>,
    ) {
        match self.verb_here() {
            Some(Verb::Conference(c)) => {
                let action = c.action.clone().map(|u| (u, c.method, c.redirect));
                let mut params = Self::conference_params("exit", room, uuid, member);
                params.remove(0);
                if let Some((url, id)) = recording {
                    params.push(("RecordUrl".to_owned(), url));
                    params.push(("RecordingID".to_owned(), id));
                }
                self.complete_with_action(now, outcome, action, "Conference", params);
            }
            Some(Verb::MultiPartyCall(m)) => {
                let action = m.on_exit_action_url.clone().map(|u| (u, m.on_exit_action_method, true));
                let joined_at = match &self.state {
                    State::Running(Run::Room(RoomRun { phase: RoomPhase::In { joined_at, .. }, .. })) => *joined_at,
                    _ => now,
                };
                let params = vec![
                    ("MPCUUID".to_owned(), uuid.to_owned()),
                    ("MPCFriendlyName".to_owned(), room.to_owned()),
                    ("MemberID".to_owned(), member.map(|m| m.to_string()).unwrap_or_default()),
                    ("ParticipantCallUUID".to_owned(), self.setup.id.as_str().to_owned()),
                    ("ParticipantJoinTime".to_owned(), ms(joined_at)),
                    ("ParticipantEndTime".to_owned(), ms(now)),
                    ("ParticipantRole".to_owned(), m.role.map(|r| r.to_string()).unwrap_or_default()),
                ];
                self.complete_with_action(now, outcome, action, "MultiPartyCall", params);
            }
            _ => {}
        }
    }

    fn room_key(&mut self, _now: Duration, key: char) {
        let (star, patterns) = match self.verb_here() {
            Some(Verb::Conference(c)) => (c.hangup_on_star, c.digits_match.clone()),
            _ => return,
        };
        let State::Running(Run::Room(run)) = &mut self.state else {
            return;
        };
        let RoomPhase::In { uuid, member_id, digits, .. } = &mut run.phase else {
            return;
        };
        if star && key == '*' {
            self.emit(Command::LeaveConference { reason: LeaveReason::HangupOnStar });
            return;
        }
        digits.push(key);
        if let Some(p) = patterns.and_then(|p| matched(digits, p.patterns())) {
            let (room, uuid, member) = (run.room.clone(), uuid.clone(), *member_id);
            self.room_callback("digits", &room, &uuid, member, vec![("ConferenceDigitsMatch".to_owned(), p)]);
        }
    }

    // ------------------------------------------------------------------ streams

    /// `StopStream` to the running `<Stream>`'s `statusCallbackUrl`, if it has one.
    fn stream_stopped_callback(&mut self) {
        if let Some(Verb::Stream(s)) = self.verb_here()
            && let Some(url) = s.status_callback_url.clone()
        {
            let method = s.status_callback_method;
            self.notify(&url, method, "stream", vec![("Event".to_owned(), "StopStream".to_owned())]);
        }
    }

    /// Stops the background streams whose `streamTimeout` has passed, with their callbacks.
    fn stop_timed_out_streams(&mut self, now: Duration) {
        if !self.background.iter().any(|b| matches!(b, Background::Stream { until, .. } if *until <= now)) {
            return;
        }
        for b in std::mem::take(&mut self.background) {
            match b {
                Background::Stream { media, callback, until } if until <= now => {
                    self.emit(Command::StopStream(media));
                    if let Some((url, method)) = callback {
                        self.notify(&url, method, "stream", vec![("Event".to_owned(), "StopStream".to_owned())]);
                    }
                }
                b => self.background.push(b),
            }
        }
    }

    fn on_stream_ended(&mut self, now: Duration, m: MediaId) {
        if matches!(self.state, State::Running(Run::Stream(id)) if id == m) {
            self.stream_stopped_callback();
            self.complete(now, "stream ended");
            return;
        }
        let pos = self.background.iter().position(|b| matches!(b, Background::Stream { media, .. } if *media == m));
        if let Some(pos) = pos
            && let Background::Stream { callback: Some((url, method)), .. } = self.background.remove(pos)
        {
            self.notify(&url, method, "stream", vec![("Event".to_owned(), "StopStream".to_owned())]);
        }
    }

    // ------------------------------------------------------------------ fetches

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

    fn on_sound(&mut self, use_: SoundUse, reply: FetchReply) {
        let doc = match reply {
            FetchReply::Document(d) => d,
            FetchReply::Body(b) => {
                let parsed = xml::parse(&b);
                if parsed.has_errors() {
                    return;
                }
                Arc::new(parsed.document)
            }
            FetchReply::Failed(_) => return,
        };
        // Only Play, Speak and Wait are played (spec §2.12).
        let verbs: Vec<Verb> =
            doc.verbs.iter().filter(|v| matches!(v, Verb::Play(_) | Verb::Speak(_) | Verb::Wait(_))).cloned().collect();
        if verbs.is_empty() {
            return;
        }
        let sounds = Arc::new(Document { verbs });
        match use_ {
            SoundUse::WaitSound => {
                let waiting = matches!(
                    &self.state,
                    State::Running(Run::Room(RoomRun {
                        phase: RoomPhase::In { waiting: true, music: None, held: false, .. },
                        ..
                    }))
                );
                if waiting {
                    let media = self.media_id();
                    self.emit(Command::PlaySounds {
                        media,
                        sounds,
                        to: Listener::Caller,
                        looped: true,
                        what: "waitSound",
                    });
                    if let State::Running(Run::Room(RoomRun { phase: RoomPhase::In { music, .. }, .. })) =
                        &mut self.state
                    {
                        *music = Some(media);
                    }
                }
            }
            SoundUse::HoldMusic { what } => {
                if let State::Running(Run::Room(RoomRun {
                    phase: RoomPhase::In { held: true, hold_music: hold_music @ None, .. },
                    ..
                })) = &mut self.state
                {
                    let media = MediaId(self.next_id);
                    self.next_id += 1;
                    *hold_music = Some(media);
                    self.emit(Command::PlaySounds { media, sounds, to: Listener::Caller, looped: true, what });
                }
            }
            SoundUse::RoomSound { kind, room, what } => {
                self.emit(Command::RoomSound { kind, room, sound: RoomSound::Sounds(sounds), what })
            }
            SoundUse::DialMusic => {
                if matches!(
                    &self.state,
                    State::Running(Run::Dial(DialRun { phase: DialPhase::Ringing, music: None, .. }))
                ) {
                    let media = self.media_id();
                    self.emit(Command::PlaySounds {
                        media,
                        sounds,
                        to: Listener::Caller,
                        looped: true,
                        what: "dialMusic",
                    });
                    if let State::Running(Run::Dial(d)) = &mut self.state {
                        d.music = Some(media);
                    }
                }
            }
            SoundUse::ConfirmSound => {
                if matches!(&self.state, State::Running(Run::Dial(DialRun { phase: DialPhase::Confirming { .. }, .. })))
                {
                    let media = self.media_id();
                    self.emit(Command::PlaySounds {
                        media,
                        sounds,
                        to: Listener::Callee,
                        looped: false,
                        what: "confirmSound",
                    });
                }
            }
        }
    }

    // ------------------------------------------------------------------ the end

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

/// The FreeSWITCH-style cause sent as `DialHangupCause` for a `DialStatus`.
fn dial_cause(status: &str) -> &'static str {
    match status {
        "busy" => "USER_BUSY",
        "no-answer" => "NO_ANSWER",
        "failed" => "NORMAL_TEMPORARY_FAILURE",
        _ => "NORMAL_CLEARING",
    }
}

/// Appends nothing; checks whether `buffer` ends with one of `patterns`, and if so clears it and
/// returns the pattern.
fn matched(buffer: &mut String, patterns: &[String]) -> Option<String> {
    let hit = patterns.iter().find(|p| buffer.ends_with(p.as_str()))?.clone();
    buffer.clear();
    Some(hit)
}
