//! Why a call ended: Plivo's hangup causes and sources.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A Plivo hangup cause (docs: voice/troubleshooting/hangup-causes).
///
/// The runtime causes a document can bring about, by what went wrong and with which URL:
///
/// | | answer | action | transfer | `<Redirect>` |
/// |---|---|---|---|---|
/// | unreachable (non-2xx, timeout, refused) | 7011 | 7012 | 7013 | 7014 |
/// | not a usable http(s) URL | | 7022 | 7023 | 7024 |
/// | method neither GET nor POST | | 7032 | 7033 | 7034 |
/// | the body is not a valid document | 8011 | 8012 | 8013 | 8014 |
///
/// Their source is [`HangupSource::Error`].
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
    /// 2010: the called number is out of service (a far end scripted `failed`; Plivo's
    /// "Destination Out Of Service").
    DestinationOutOfService,
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
    /// 7022: an action URL to be fetched is not a usable http(s) URL (e.g. a relative URL
    /// with no document URL to resolve it against).
    InvalidActionUrl,
    /// 7023: a transfer URL is not a usable http(s) URL.
    InvalidTransferUrl,
    /// 7024: a `<Redirect>` URL is not a usable http(s) URL.
    InvalidRedirectUrl,
    /// 7032: an action URL's method is neither GET nor POST.
    InvalidActionMethod,
    /// 7033: a transfer URL's method is neither GET nor POST.
    InvalidTransferMethod,
    /// 7034: a `<Redirect>` URL's method is neither GET nor POST.
    InvalidRedirectMethod,
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
    /// 9020 (plivo-flow's own code, Plivo's name): an outbound call was not answered within
    /// its `ring_timeout`.
    RingTimeout,
    /// 9030 (plivo-flow's own code, Plivo's name): an outbound call's `time_limit` ran out.
    TimeLimit,
    /// 9040 (plivo-flow's own code): an outbound call's `hangup_on_ring` ran out.
    HangupOnRing,
    /// 9050 (plivo-flow's own code): `machine_detection=hangup` and a machine answered.
    MachineDetected,
}

impl HangupCause {
    /// Every cause, in code order.
    pub const ALL: &'static [HangupCause] = &[
        HangupCause::Canceled,
        HangupCause::DestinationOutOfService,
        HangupCause::Busy,
        HangupCause::Rejected,
        HangupCause::NormalHangup,
        HangupCause::EndOfXml,
        HangupCause::MpcEnded,
        HangupCause::KickedOutOfMpc,
        HangupCause::AnswerUrlUnreachable,
        HangupCause::ActionUrlUnreachable,
        HangupCause::TransferUrlUnreachable,
        HangupCause::RedirectUrlUnreachable,
        HangupCause::InvalidActionUrl,
        HangupCause::InvalidTransferUrl,
        HangupCause::InvalidRedirectUrl,
        HangupCause::InvalidActionMethod,
        HangupCause::InvalidTransferMethod,
        HangupCause::InvalidRedirectMethod,
        HangupCause::InvalidAnswerXml,
        HangupCause::InvalidActionXml,
        HangupCause::InvalidTransferXml,
        HangupCause::InvalidRedirectXml,
        HangupCause::RedirectLimit,
        HangupCause::RingTimeout,
        HangupCause::TimeLimit,
        HangupCause::HangupOnRing,
        HangupCause::MachineDetected,
    ];

    /// The cause with this numeric code (`HangupCauseCode`), if it is one of [`HangupCause::ALL`].
    pub fn from_code(code: u16) -> Option<HangupCause> {
        HangupCause::ALL.iter().copied().find(|c| c.code() == code)
    }

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
            HangupCause::InvalidActionUrl => 7022,
            HangupCause::InvalidTransferUrl => 7023,
            HangupCause::InvalidRedirectUrl => 7024,
            HangupCause::InvalidActionMethod => 7032,
            HangupCause::InvalidTransferMethod => 7033,
            HangupCause::InvalidRedirectMethod => 7034,
            HangupCause::InvalidAnswerXml => 8011,
            HangupCause::InvalidActionXml => 8012,
            HangupCause::InvalidTransferXml => 8013,
            HangupCause::InvalidRedirectXml => 8014,
            HangupCause::RedirectLimit => 9010,
            HangupCause::RingTimeout => 9020,
            HangupCause::TimeLimit => 9030,
            HangupCause::HangupOnRing => 9040,
            HangupCause::MachineDetected => 9050,
            HangupCause::DestinationOutOfService => 2010,
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
            HangupCause::InvalidActionUrl => "Invalid Action URL",
            HangupCause::InvalidTransferUrl => "Invalid Transfer URL",
            HangupCause::InvalidRedirectUrl => "Invalid Redirect URL",
            // Plivo's table names the three method causes alike.
            HangupCause::InvalidActionMethod
            | HangupCause::InvalidTransferMethod
            | HangupCause::InvalidRedirectMethod => "Invalid Method",
            HangupCause::InvalidAnswerXml => "Invalid Answer XML",
            HangupCause::InvalidActionXml => "Invalid Action XML",
            HangupCause::InvalidTransferXml => "Invalid Transfer XML",
            HangupCause::InvalidRedirectXml => "Invalid Redirect XML",
            HangupCause::RedirectLimit => "Redirect Limit Reached",
            HangupCause::RingTimeout => "Ring Timeout Reached",
            HangupCause::TimeLimit => "Time Limit Reached",
            HangupCause::HangupOnRing => "Hangup On Ring",
            HangupCause::MachineDetected => "Machine Detected",
            HangupCause::DestinationOutOfService => "Destination Out Of Service",
        }
    }

    /// The FreeSWITCH-style cause sent as `HangupCause` (Plivo's classic parameter).
    pub const fn sip_name(self) -> &'static str {
        match self {
            HangupCause::Busy => "USER_BUSY",
            HangupCause::Rejected => "CALL_REJECTED",
            HangupCause::Canceled => "ORIGINATOR_CANCEL",
            HangupCause::RingTimeout => "NO_ANSWER",
            HangupCause::DestinationOutOfService => "DESTINATION_OUT_OF_ORDER",
            HangupCause::TimeLimit => "ALLOTTED_TIMEOUT",
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
    /// The caller hung up. On an outbound call the phone party is the called one: a `Caller`
    /// hangup input on an outbound call is reported as [`HangupSource::Callee`].
    Caller,
    /// The called party of an outbound call (REST "Make a call") hung up (Plivo: `Callee`).
    Callee,
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
            HangupSource::Callee => "Callee",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_ordered_and_found_again() {
        let codes: Vec<u16> = HangupCause::ALL.iter().map(|c| c.code()).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted, "ALL is in code order, without repeats");
        for &c in HangupCause::ALL {
            assert_eq!(HangupCause::from_code(c.code()), Some(c));
        }
        assert_eq!(HangupCause::from_code(7021), None);
    }

    #[test]
    fn the_70xx_runtime_causes_use_plivo_s_codes_and_names() {
        let table = [
            (HangupCause::InvalidActionUrl, "7022 Invalid Action URL"),
            (HangupCause::InvalidTransferUrl, "7023 Invalid Transfer URL"),
            (HangupCause::InvalidRedirectUrl, "7024 Invalid Redirect URL"),
            (HangupCause::InvalidActionMethod, "7032 Invalid Method"),
            (HangupCause::InvalidTransferMethod, "7033 Invalid Method"),
            (HangupCause::InvalidRedirectMethod, "7034 Invalid Method"),
            (HangupCause::AnswerUrlUnreachable, "7011 Error Reaching Answer URL"),
        ];
        for (cause, shown) in table {
            assert_eq!(cause.to_string(), shown);
            assert_eq!(cause.sip_name(), "NORMAL_CLEARING");
        }
    }
}
