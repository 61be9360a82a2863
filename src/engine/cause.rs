//! Why a call ended: Plivo's hangup causes and sources.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A Plivo hangup cause (docs: voice/troubleshooting/hangup-causes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum HangupCause {
    /// 4000: the call ended normally (a party hung up, `<Hangup>`, the API).
    NormalHangup,
    /// 4010: the document ran out of verbs.
    EndOfXml,
    /// 4020: the multiparty call ended.
    MpcEnded,
    /// 4030: kicked out of a multiparty call and the call could not continue.
    KickedOutOfMpc,
    /// 1000: canceled through the API before it was answered.
    Canceled,
    /// 3010: `<Hangup reason="busy">`.
    Busy,
    /// 3020: `<Hangup reason="rejected">`.
    Rejected,
    /// 7011: the answer URL (and the fallback URL) could not be reached.
    AnswerUrlUnreachable,
    /// 7012: an action URL whose reply was to be executed could not be reached.
    ActionUrlUnreachable,
    /// 7013: the URL of a live-call transfer could not be reached.
    TransferUrlUnreachable,
    /// 7014: a `<Redirect>` URL could not be reached.
    RedirectUrlUnreachable,
    /// 8011: the answer URL returned something that is not a valid Plivo document.
    InvalidAnswerXml,
    /// 8012: an action URL returned an invalid document.
    InvalidActionXml,
    /// 8013: a transfer URL returned an invalid document.
    InvalidTransferXml,
    /// 8014: a `<Redirect>` URL returned an invalid document.
    InvalidRedirectXml,
    /// 9010 (plivo-flow's own, not Plivo's): the redirect limit was reached; this stops
    /// redirect loops.
    RedirectLimit,
}

impl HangupCause {
    /// The numeric code (`HangupCauseCode`).
    pub const fn code(self) -> u16 {
        match self {
            HangupCause::NormalHangup => 4000,
            HangupCause::EndOfXml => 4010,
            HangupCause::MpcEnded => 4020,
            HangupCause::KickedOutOfMpc => 4030,
            HangupCause::Canceled => 1000,
            HangupCause::Busy => 3010,
            HangupCause::Rejected => 3020,
            HangupCause::AnswerUrlUnreachable => 7011,
            HangupCause::ActionUrlUnreachable => 7012,
            HangupCause::TransferUrlUnreachable => 7013,
            HangupCause::RedirectUrlUnreachable => 7014,
            HangupCause::InvalidAnswerXml => 8011,
            HangupCause::InvalidActionXml => 8012,
            HangupCause::InvalidTransferXml => 8013,
            HangupCause::InvalidRedirectXml => 8014,
            HangupCause::RedirectLimit => 9010,
        }
    }

    /// The name (`HangupCauseName`).
    pub const fn name(self) -> &'static str {
        match self {
            HangupCause::NormalHangup => "Normal Hangup",
            HangupCause::EndOfXml => "End Of XML Instructions",
            HangupCause::MpcEnded => "Multiparty Call Ended",
            HangupCause::KickedOutOfMpc => "Kicked Out Of Multiparty Call",
            HangupCause::Canceled => "Canceled",
            HangupCause::Busy => "Busy Line",
            HangupCause::Rejected => "Rejected",
            HangupCause::AnswerUrlUnreachable => "Error Reaching Answer URL",
            HangupCause::ActionUrlUnreachable => "Error Reaching Action URL",
            HangupCause::TransferUrlUnreachable => "Error Reaching Transfer URL",
            HangupCause::RedirectUrlUnreachable => "Error Reaching Redirect URL",
            HangupCause::InvalidAnswerXml => "Invalid Answer XML",
            HangupCause::InvalidActionXml => "Invalid Action XML",
            HangupCause::InvalidTransferXml => "Invalid Transfer XML",
            HangupCause::InvalidRedirectXml => "Invalid Redirect XML",
            HangupCause::RedirectLimit => "Redirect Limit Reached",
        }
    }

    /// The FreeSWITCH-style cause sent as `HangupCause` (Plivo's classic parameter).
    pub const fn sip_name(self) -> &'static str {
        match self {
            HangupCause::Busy => "USER_BUSY",
            HangupCause::Rejected => "CALL_REJECTED",
            HangupCause::Canceled => "ORIGINATOR_CANCEL",
            _ => "NORMAL_CLEARING",
        }
    }
}

impl fmt::Display for HangupCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.name())
    }
}

/// Who ended the call (`HangupSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum HangupSource {
    /// The caller hung up.
    Caller,
    /// The dialed party hung up.
    CallRecipient,
    /// The engine ended it (end of document, limits).
    Plivo,
    /// A REST request (call hangup, conference member hangup).
    ApiRequest,
    /// A `<Hangup>` element.
    AnswerXml,
    /// An error (unreachable URL, invalid document).
    Error,
}

impl HangupSource {
    /// The value sent as `HangupSource`.
    pub const fn as_str(self) -> &'static str {
        match self {
            HangupSource::Caller => "Caller",
            HangupSource::CallRecipient => "Call Recipient",
            HangupSource::Plivo => "Plivo",
            HangupSource::ApiRequest => "API Request",
            HangupSource::AnswerXml => "Answer XML",
            HangupSource::Error => "Error",
        }
    }
}

impl fmt::Display for HangupSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
