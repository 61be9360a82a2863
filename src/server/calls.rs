//! Plivo's Call API on a live call (<https://www.plivo.com/docs/voice/api/call/>): `POST/DELETE
//! Call/{uuid}/Record/`, `…/Play/`, `…/Speak/`, `POST Call/{uuid}/DTMF/`, and `DELETE
//! Request/{request_uuid}/` (cancel a call not answered yet). Each checks its parameters (a
//! 400 names the bad one), then hands the call a [`CallOp`] through the driver.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use super::api::{ApiError, AppState, Json, P, Params, accepted, unavailable};
use super::driver::Cancelled;
use crate::engine::{CallId, CallLegs, CallOp, CallOpError, RecordingRef};
use crate::xml::escape;
use crate::xml::values::{FileFormat, FromXml, Url};

/// The longest `time_limit` of a call recording: 24 hours, in seconds.
pub(crate) const MAX_TIME_LIMIT: u64 = 86_400;
/// The default `time_limit` of a call recording, in seconds (Plivo: 60).
const DEFAULT_TIME_LIMIT: u64 = 60;
/// The most URLs one `POST Call/{uuid}/Play/` plays; more are a 400.
pub(crate) const MAX_PLAY_URLS: usize = 10;
/// The most tones (and pauses) one `POST Call/{uuid}/DTMF/` sends; more are a 400.
pub(crate) const MAX_DIGITS: usize = 100;

impl From<CallOpError> for ApiError {
    fn from(e: CallOpError) -> Self {
        match e {
            CallOpError::NoBLeg(_) => ApiError::bad_request(e.to_string()),
            _ => ApiError::not_found(e.to_string()),
        }
    }
}

type CallPath = P<(String, String)>;

async fn run(app: &AppState, uuid: &str, op: CallOp) -> Result<Option<RecordingRef>, ApiError> {
    let r = app.driver.call_op(CallId::from(uuid), op).await.ok_or_else(unavailable)?;
    Ok(r?)
}

/// A boolean parameter (`true`/`false`, any case), `default` when absent.
fn flag(params: &Params, k: &str, default: bool) -> Result<bool, ApiError> {
    match params.get(k) {
        None => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(ApiError::bad_request(format!("`{k}` must be true or false, not `{v}`"))),
    }
}

/// `legs`: `aleg` (default), `bleg` or `both`.
fn legs(params: &Params) -> Result<CallLegs, ApiError> {
    match params.get("legs") {
        None | Some("aleg") => Ok(CallLegs::ALeg),
        Some("bleg") => Ok(CallLegs::BLeg),
        Some("both") => Ok(CallLegs::Both),
        Some(other) => Err(ApiError::bad_request(format!("`legs` must be aleg, bleg or both, not `{other}`"))),
    }
}

/// `length` (Plivo: the longest the audio plays, in seconds): checked, a whole number ≥ 1.
fn check_length(params: &Params) -> Result<(), ApiError> {
    match params.get("length") {
        Some(l) if !l.parse::<u64>().is_ok_and(|n| n >= 1) => {
            Err(ApiError::bad_request(format!("`length` must be a whole number of seconds, 1 or more, not `{l}`")))
        }
        _ => Ok(()),
    }
}

/// The sound document of a play or speak, parsed by the document parser (its checks apply:
/// a voice or language it refuses is a 400 with its message).
fn sounds(xml: &str, what: &str) -> Result<Arc<crate::xml::Document>, ApiError> {
    let parsed = crate::xml::parse(xml);
    if let Some(d) = parsed.diagnostics.iter().find(|d| d.severity == crate::diagnostic::Severity::Error) {
        return Err(ApiError::bad_request(format!("{what}: {}", d.message)));
    }
    Ok(Arc::new(parsed.document))
}

/// `POST Call/{uuid}/Play/`: `urls` (comma-separated, required, at most [`MAX_PLAY_URLS`]),
/// `legs`, `loop`, `mix`, `length` → 202 `play started`.
pub(super) async fn play(
    State(app): State<AppState>,
    P((_, uuid)): CallPath,
    params: Params,
) -> Result<Json, ApiError> {
    let urls = params.required("urls")?;
    let list: Vec<&str> = urls.split(',').map(str::trim).filter(|u| !u.is_empty()).collect();
    if list.is_empty() || list.len() > MAX_PLAY_URLS {
        return Err(ApiError::bad_request(format!("`urls` must name 1 to {MAX_PLAY_URLS} URLs, comma-separated")));
    }
    let mut xml = String::from("<Response>");
    for u in &list {
        match (Url::from_xml(u), reqwest::Url::parse(u)) {
            (Ok(_), Ok(p)) if p.host().is_some() => xml.push_str(&format!("<Play>{}</Play>", escape(u, false))),
            _ => return Err(ApiError::bad_request(format!("`urls` must hold absolute http(s) URLs, not `{u}`"))),
        }
    }
    xml.push_str("</Response>");
    let (legs, looped) = (legs(&params)?, flag(&params, "loop", false)?);
    flag(&params, "mix", true)?;
    check_length(&params)?;
    let op = CallOp::Play { sounds: sounds(&xml, "urls")?, legs, looped };
    run(&app, &uuid, op).await?;
    Ok(accepted(json!({ "message": "play started", "api_id": app.api_id() })))
}

/// `DELETE Call/{uuid}/Play/`: 204; 404 when the API is playing nothing on the call.
pub(super) async fn stop_play(State(app): State<AppState>, P((_, uuid)): CallPath) -> Result<StatusCode, ApiError> {
    run(&app, &uuid, CallOp::StopPlay).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST Call/{uuid}/Speak/`: `text` (required), `voice` (`WOMAN` default, `MAN`, or a
/// voice `<Speak>` takes), `language` (`en-US`), `legs`, `loop`, `mix` → 202 `speak started`.
pub(super) async fn speak(
    State(app): State<AppState>,
    P((_, uuid)): CallPath,
    params: Params,
) -> Result<Json, ApiError> {
    let text = params.required("text")?;
    let voice = params.get("voice").unwrap_or("WOMAN");
    let language = params.get("language").unwrap_or("en-US");
    let xml = format!(
        "<Response><Speak voice=\"{}\" language=\"{}\">{}</Speak></Response>",
        escape(voice, true),
        escape(language, true),
        escape(text, false)
    );
    let (legs, looped) = (legs(&params)?, flag(&params, "loop", false)?);
    flag(&params, "mix", true)?;
    let op = CallOp::Speak { sounds: sounds(&xml, "speak")?, legs, looped };
    run(&app, &uuid, op).await?;
    Ok(accepted(json!({ "message": "speak started", "api_id": app.api_id() })))
}

/// `DELETE Call/{uuid}/Speak/`: 204; 404 when the API is speaking nothing on the call.
pub(super) async fn stop_speak(State(app): State<AppState>, P((_, uuid)): CallPath) -> Result<StatusCode, ApiError> {
    run(&app, &uuid, CallOp::StopSpeak).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `value` of the parameter `key` as DTMF to send: `0-9*#A-D`, `w` (half a second's pause)
/// and `W` (one second's), at most [`MAX_DIGITS`] of them; the 400 names `key` otherwise.
/// `POST Call/{uuid}/DTMF/` `digits` and `POST Call/` `send_digits` alike.
pub(super) fn tones(key: &str, value: &str) -> Result<String, ApiError> {
    if !value.chars().all(|c| c.is_ascii_digit() || "*#ABCDwW".contains(c)) {
        return Err(ApiError::bad_request(format!("`{key}` may only hold 0-9, *, #, A-D, w and W, not `{value}`")));
    }
    if value.len() > MAX_DIGITS {
        return Err(ApiError::bad_request(format!("`{key}` holds more than {MAX_DIGITS} tones and pauses")));
    }
    Ok(value.to_owned())
}

/// `POST Call/{uuid}/DTMF/`: `digits` (required; `0-9*#A-D`, `w` half a second, `W` one; at
/// most [`MAX_DIGITS`]),
/// `leg` (`aleg` default, `bleg`) → 202 `digits sent`.
pub(super) async fn dtmf(
    State(app): State<AppState>,
    P((_, uuid)): CallPath,
    params: Params,
) -> Result<Json, ApiError> {
    let digits = tones("digits", params.required("digits")?)?;
    let b_leg = match params.get("leg") {
        None | Some("aleg") => false,
        Some("bleg") => true,
        Some(other) => return Err(ApiError::bad_request(format!("`leg` must be aleg or bleg, not `{other}`"))),
    };
    run(&app, &uuid, CallOp::SendDigits { digits, b_leg }).await?;
    Ok(accepted(json!({ "message": "digits sent", "api_id": app.api_id() })))
}

/// A URL and method pair of a record request (`callback_url`/`callback_method`, …).
fn hook(params: &Params, url: &str, method: &str) -> Result<Option<(Url, crate::xml::values::Method)>, ApiError> {
    let method = params.method(method)?;
    match params.url(url)? {
        Some(u) => Ok(Some((Url::from_xml(&u).map_err(|e| ApiError::bad_request(format!("`{url}`: {e}")))?, method))),
        None => Ok(None),
    }
}

/// `POST Call/{uuid}/Record/`: `time_limit` (seconds, 1 to [`MAX_TIME_LIMIT`], default 60),
/// `file_format` (mp3, wav), `callback_url`/`callback_method`,
/// `transcription_url`/`transcription_method` → 202 `call recording started` with `url` and
/// `recording_id`.
pub(super) async fn record(
    State(app): State<AppState>,
    P((_, uuid)): CallPath,
    params: Params,
) -> Result<Json, ApiError> {
    let format = match params.get("file_format") {
        None => FileFormat::Mp3,
        Some(f) => FileFormat::from_xml(f).map_err(|e| ApiError::bad_request(format!("file_format: {e}")))?,
    };
    let secs = match params.get("time_limit") {
        None => DEFAULT_TIME_LIMIT,
        Some(t) => t.parse::<u64>().ok().filter(|n| (1..=MAX_TIME_LIMIT).contains(n)).ok_or_else(|| {
            ApiError::bad_request(format!(
                "`time_limit` must be a whole number of seconds from 1 to {MAX_TIME_LIMIT}, not `{t}`"
            ))
        })?,
    };
    let op = CallOp::StartRecording {
        format,
        time_limit: Duration::from_secs(secs),
        callback: hook(&params, "callback_url", "callback_method")?,
        transcription: hook(&params, "transcription_url", "transcription_method")?,
    };
    let rec = run(&app, &uuid, op).await?.ok_or_else(|| ApiError::not_found(format!("no live call {uuid}")))?;
    Ok(accepted(json!({
        "url": rec.url,
        "message": "call recording started",
        "recording_id": rec.id,
        "api_id": app.api_id(),
    })))
}

/// `DELETE Call/{uuid}/Record/`: stops the call's background recordings, or the one whose
/// file is `URL`; 204; 404 when none is running.
pub(super) async fn stop_record(
    State(app): State<AppState>,
    P((_, uuid)): CallPath,
    params: Params,
) -> Result<StatusCode, ApiError> {
    let url = params.get("URL").or_else(|| params.get("url")).map(str::to_owned);
    run(&app, &uuid, CallOp::StopRecording { url }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE Request/{request_uuid}/`: cancels the outbound call `POST Call/` answered with this
/// `request_uuid` while it is not answered yet (queued or ringing): it hangs up (`4000`-style
/// cancel, `HangupSource` `API Request`); 204. 404 when no such call is waiting: unknown,
/// ended, or answered already (then hang it up with `DELETE Call/{uuid}/`).
pub(super) async fn cancel(State(app): State<AppState>, P((_, request)): CallPath) -> Result<StatusCode, ApiError> {
    match app.driver.cancel_request(request.clone()).await.ok_or_else(unavailable)? {
        Cancelled::HungUp => Ok(StatusCode::NO_CONTENT),
        Cancelled::Answered(id) => Err(ApiError::not_found(format!(
            "request {request} is not queued or ringing: its call {id} was answered; hang it up with DELETE Call/{id}/"
        ))),
        Cancelled::NotFound => Err(ApiError::not_found(format!("no queued or ringing request {request}"))),
    }
}
