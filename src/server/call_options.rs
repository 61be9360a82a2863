//! The options of `POST Call/` (Plivo's "Make a call",
//! <https://www.plivo.com/docs/voice/api/call/make-a-call/>) beyond who and where: read into
//! an [`OutboundPlan`], or refused with a 400 that names the option plivo-flow cannot honour.

use std::time::Duration;

use super::api::{ApiError, Params};
use super::far_end::{boolean, seconds};
use crate::engine::Webhook;
use crate::runtime::{DEFAULT_MACHINE_DETECTION_TIME, DEFAULT_RING_TIMEOUT, MachineDetection, OutboundPlan};

/// Options Plivo documents that plivo-flow does not carry out: given a value (`true` for the
/// flags), the request is refused with a 400 naming the option instead of ignoring it.
const UNHONOURED: &[&str] = &[
    "sip_headers",
    "callback_url",
    "parent_call_uuid",
    "machine_detection_answer_time",
    "machine_detection_maximum_speech_length",
    "machine_detection_initial_silence",
    "machine_detection_maximum_words",
    "machine_detection_initial_greeting",
];

/// Flags that are refused only when `true`.
const UNHONOURED_FLAGS: &[&str] = &["send_on_preanswer", "error_if_parent_not_found"];

/// A duration option in whole or decimal seconds, more than 0.
fn positive_seconds(params: &Params, k: &str) -> Result<Option<Duration>, ApiError> {
    match seconds(params, k)? {
        Some(d) if d.is_zero() => Err(ApiError::bad_request(format!("`{k}` must be more than 0 seconds"))),
        d => Ok(d),
    }
}

/// Reads the options of a `POST Call/` request.
///
/// * `ring_timeout` (s, default 120) and `time_limit` (s after the answer): more than 0, at
///   most 86 400; `hangup_on_ring` (s after ringing starts): 0 to 86 400.
/// * `send_digits`: `0-9*#A-D`, `w` (0.5 s) and `W` (1 s), sent once the callee answers (a
///   `@duration` suffix is refused).
/// * `machine_detection` = `true` (needs `machine_detection_url`: plivo-flow tells the
///   outcome asynchronously only) or `hangup`; `machine_detection_time` in ms, 2000–10000
///   (default 5000); `machine_detection_method` GET or POST.
///
/// # Errors
/// A 400 naming the option: a bad value, or an option of [`UNHONOURED`] / [`UNHONOURED_FLAGS`].
pub(super) fn plan_from(params: &Params) -> Result<OutboundPlan, ApiError> {
    for k in UNHONOURED {
        if params.get(k).is_some() {
            return Err(ApiError::bad_request(format!("`{k}` is not supported by plivo-flow: leave it out")));
        }
    }
    for k in UNHONOURED_FLAGS {
        if boolean(params, k)?.unwrap_or(false) {
            return Err(ApiError::bad_request(format!("`{k}=true` is not supported by plivo-flow: leave it out")));
        }
    }
    let send_digits = params.get("send_digits").map(|d| super::calls::tones("send_digits", d)).transpose()?;
    let machine_detection = match params.get("machine_detection").map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") => None,
        Some(mode @ ("true" | "hangup")) => {
            let time = match params.get("machine_detection_time") {
                None => DEFAULT_MACHINE_DETECTION_TIME,
                Some(t) => t
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|ms| (2000..=10_000).contains(ms))
                    .map(Duration::from_millis)
                    .ok_or_else(|| {
                        ApiError::bad_request(format!("`machine_detection_time` must be 2000 to 10000 ms, not `{t}`"))
                    })?,
            };
            let method = params.method("machine_detection_method")?;
            let url = params.url("machine_detection_url")?.map(|u| Webhook::new(u, method));
            if mode == "true" && url.is_none() {
                return Err(ApiError::bad_request(
                    "`machine_detection=true` needs `machine_detection_url` here: plivo-flow reports the outcome \
                     asynchronously only",
                ));
            }
            Some(MachineDetection { hangup: mode == "hangup", time, url })
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!("`machine_detection` must be true or hangup, not `{other}`")));
        }
    };
    Ok(OutboundPlan {
        ring_timeout: positive_seconds(params, "ring_timeout")?.unwrap_or(DEFAULT_RING_TIMEOUT),
        // 0 is allowed: hung up as soon as it rings (the Node SDK's doc: "an integer >= 0").
        hangup_on_ring: seconds(params, "hangup_on_ring")?,
        time_limit: positive_seconds(params, "time_limit")?,
        send_digits,
        machine_detection,
    })
}
