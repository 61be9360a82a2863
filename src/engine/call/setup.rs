//! Who a call is ([`CallSetup`]), engine settings ([`CallConfig`]), and how it ends ([`CallEnd`], [`CallStatus`]).

use std::time::Duration;

use crate::engine::cause::{HangupCause, HangupSource};
use crate::engine::ids::{AccountId, CallId};
use crate::engine::rooms::Direction;
use crate::xml::values::Method;

/// Who the call is and where its documents come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSetup {
    /// `CallUUID`.
    pub id: CallId,
    /// The account the call belongs to (rooms are per account).
    pub account: AccountId,
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
            account: AccountId::default(),
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
