//! Who a call is ([`CallSetup`]), engine settings ([`CallConfig`]), and how it ends ([`CallEnd`], [`CallStatus`]).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::engine::cause::{HangupCause, HangupSource};
use crate::engine::ids::{AccountId, CallId};
use crate::engine::rooms::Direction;
use crate::xml::values::Method;

/// A URL the call requests and the HTTP method it uses: one of Plivo's `*_url` + `*_method`
/// pairs (`answer_url`/`answer_method`, …), so neither goes without the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// 16 bytes, so an absent `Option<Webhook>` costs a call 24 bytes; shared (not copied)
    /// with the URL of the document it returns.
    url: Arc<str>,
    method: Method,
}

impl Webhook {
    /// `url` requested with `method`.
    pub fn new(url: impl Into<String>, method: Method) -> Self {
        Webhook { url: url.into().into(), method }
    }

    /// The URL (absolute; a relative one is never requested).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL, shared.
    pub(crate) fn shared_url(&self) -> Arc<str> {
        Arc::clone(&self.url)
    }

    /// GET (parameters in the query string) or POST (form body).
    pub fn method(&self) -> Method {
        self.method
    }

    /// `url` requested with POST, Plivo's default.
    pub fn post(url: impl Into<String>) -> Self {
        Webhook::new(url, Method::Post)
    }

    /// `url` requested with GET.
    pub fn get(url: impl Into<String>) -> Self {
        Webhook::new(url, Method::Get)
    }
}

/// The empty text, shared by every call without a caller name (an `Arc<str>` of nothing
/// still allocates its counts, 16 bytes).
fn no_text() -> Arc<str> {
    static EMPTY: OnceLock<Arc<str>> = OnceLock::new();
    Arc::clone(EMPTY.get_or_init(|| Arc::from("")))
}

/// Who the call is and where its documents come from: Plivo's "Make a call" parameters
/// (<https://www.plivo.com/docs/voice/api/call/make-a-call/>) and an inbound call's.
///
/// Built from [`CallSetup::inbound`] or [`CallSetup::outbound`], then the `with_*` methods:
///
/// ```
/// use plivo_flow::engine::{CallSetup, Webhook};
///
/// let setup = CallSetup::outbound("call-1", "+15550001", "+15550002", Webhook::post("https://app.example/answer"))
///     .with_account("MAXXXXXXXXXXXXXXXXXX")
///     .with_hangup(Webhook::post("https://app.example/hangup"))
///     .with_caller_name("Support");
/// assert_eq!(setup.hangup.as_ref().map(|w| w.url()), Some("https://app.example/hangup"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSetup {
    /// `CallUUID`.
    pub id: CallId,
    /// The account the call belongs to (rooms are per account).
    pub account: AccountId,
    /// Caller number (`From`). Shared, as `to` and `caller_name` are, with the call's room
    /// membership ([`MemberInfo`](crate::engine::MemberInfo)): no copies per join.
    pub from: Arc<str>,
    /// Called number (`To`).
    pub to: Arc<str>,
    /// Caller name (`CallerName`; may be empty).
    pub caller_name: Arc<str>,
    /// Inbound or outbound.
    pub direction: Direction,
    /// The first document (`answer_url`, `answer_method`).
    pub answer: Webhook,
    /// Requested when the answer URL fails or its XML is invalid (`fallback_url`,
    /// `fallback_method`).
    pub fallback: Option<Webhook>,
    /// Notified when the call ends (`hangup_url`, `hangup_method`).
    pub hangup: Option<Webhook>,
    /// Notified when an outbound call starts ringing (`ring_url`, `ring_method`).
    pub ring: Option<Webhook>,
    /// The `request_uuid` the "Make a call" API answered for this call: an outbound call's
    /// requests carry it as `RequestUUID` and `ALegRequestUUID` (its `CallUUID` is its own id).
    pub request_uuid: Option<Box<str>>,
}

impl CallSetup {
    /// An inbound call from `from` to `to` whose answer URL is `answer_url` (POST).
    pub fn inbound(id: impl Into<String>, from: &str, to: &str, answer_url: &str) -> Self {
        CallSetup {
            id: CallId::from(id.into()),
            account: AccountId::default(),
            from: from.into(),
            to: to.into(),
            caller_name: no_text(),
            direction: Direction::Inbound,
            answer: Webhook::post(answer_url),
            fallback: None,
            hangup: None,
            ring: None,
            request_uuid: None,
        }
    }

    /// An outbound call (REST "Make a call") from `from` to `to`, answered by `answer`.
    pub fn outbound(id: impl Into<String>, from: &str, to: &str, answer: Webhook) -> Self {
        CallSetup { direction: Direction::Outbound, answer, ..CallSetup::inbound(id, from, to, "") }
    }

    /// The same call, of `account`.
    #[must_use]
    pub fn with_account(self, account: &str) -> Self {
        CallSetup { account: account.into(), ..self }
    }

    /// The same call, with `CallerName` `name`.
    #[must_use]
    pub fn with_caller_name(self, name: &str) -> Self {
        CallSetup { caller_name: if name.is_empty() { no_text() } else { name.into() }, ..self }
    }

    /// The same call, answered by `answer` (URL and method).
    #[must_use]
    pub fn with_answer(self, answer: Webhook) -> Self {
        CallSetup { answer, ..self }
    }

    /// The same call, with a `fallback_url`.
    #[must_use]
    pub fn with_fallback(self, fallback: Webhook) -> Self {
        CallSetup { fallback: Some(fallback), ..self }
    }

    /// The same call, with a `hangup_url`.
    #[must_use]
    pub fn with_hangup(self, hangup: Webhook) -> Self {
        CallSetup { hangup: Some(hangup), ..self }
    }

    /// The same call, started by the API request `request_uuid` (outbound calls: sent as
    /// `RequestUUID` and `ALegRequestUUID`).
    #[must_use]
    pub fn with_request_uuid(self, request_uuid: &str) -> Self {
        CallSetup { request_uuid: Some(request_uuid.into()), ..self }
    }

    /// The same call, with a `ring_url` (outbound calls).
    #[must_use]
    pub fn with_ring(self, ring: Webhook) -> Self {
        CallSetup { ring: Some(ring), ..self }
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
    /// The Unix time (since 1970-01-01 UTC) of the clock's zero: added to the times the engine
    /// reports as wall-clock milliseconds, `RecordingStartMs` and `RecordingEndMs` (Plivo sends
    /// Unix epoch ms; docs: voice/xml/record, voice/xml/conference). Default zero: the times
    /// are the virtual clock's ms, as `run`/`test` report them; `serve` sets its start time.
    pub clock_epoch: Duration,
    /// Seed for recording ids (mixed with the call id).
    pub seed: u64,
    /// What `auto` means for `<GetInput digitEndTimeout>`. Default 5 s.
    pub auto_digit_end_timeout: Duration,
    /// The text every `<Record transcriptionUrl>` request carries as `transcription`
    /// (no speech is recognised). Default [`DEFAULT_TRANSCRIPTION`].
    pub transcription_text: String,
    /// Whether the call traces every element it runs as
    /// [`CallEvent::VerbStarted`](crate::engine::CallEvent::VerbStarted) and
    /// [`CallEvent::VerbFinished`](crate::engine::CallEvent::VerbFinished) outputs. Default
    /// true; `run`, `test`, `serve`, transcripts and coverage need them. A telephony server
    /// that does not show per-verb progress turns them off and saves their cost on every step
    /// (BENCHMARKS.md, "engine step"); every other output is unchanged.
    pub verb_events: bool,
}

/// The placeholder transcript of simulated recordings.
pub const DEFAULT_TRANSCRIPTION: &str = "(simulated transcription)";

impl Default for CallConfig {
    fn default() -> Self {
        CallConfig {
            max_redirects: 1000,
            recording_url_base: "https://media.plivo-flow.invalid/recordings".to_owned(),
            clock_epoch: Duration::ZERO,
            seed: 1,
            auto_digit_end_timeout: Duration::from_secs(5),
            transcription_text: DEFAULT_TRANSCRIPTION.to_owned(),
            verb_events: true,
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
