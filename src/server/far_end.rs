//! `/sim/FarEnd/`: scripts what called parties do — the callees of `POST Call/` and the
//! targets of `<Dial>` — per number, per call or by default ([`crate::media::FarEnds`]).
//!
//! * `POST /sim/FarEnd/` with `number` (or `call_uuid`: the `<Dial>`s of that call; or
//!   neither: the default), `answer` = `answer|busy|no-answer|failed` (default `answer`),
//!   `answer_after`, `talk`, `digits` (`0-9*#`), `digits_after` (seconds, decimals allowed,
//!   0–86 400), `machine` (`true|false`). Answers 201 with the entry.
//! * `GET /sim/FarEnd/`: every entry. `DELETE /sim/FarEnd/` (with `number` or `call_uuid`:
//!   that entry only; `default=true`: the default only): 204.
//!
//! The table holds at most [`crate::media::MAX_FAR_ENDS`] entries; a new one beyond is a 400.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::api::{ApiError, AppState, Json, Params, unavailable};
use super::driver::FarEndOp;
use crate::engine::CallId;
use crate::media::{FarEnd, FarEndAnswer, FarEndKey};

/// The longest duration a far-end parameter takes, in seconds (a day).
const MAX_SECONDS: f64 = 86_400.0;

/// A duration parameter in seconds (`2`, `1.5`), 0 to [`MAX_SECONDS`].
pub(super) fn seconds(params: &Params, k: &str) -> Result<Option<Duration>, ApiError> {
    let Some(v) = params.get(k) else { return Ok(None) };
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && (0.0..=MAX_SECONDS).contains(s))
        .map(|s| Some(Duration::from_secs_f64(s)))
        .ok_or_else(|| ApiError::bad_request(format!("`{k}` must be a number of seconds from 0 to 86400, not `{v}`")))
}

/// A `true|false` parameter.
pub(super) fn boolean(params: &Params, k: &str) -> Result<Option<bool>, ApiError> {
    match params.get(k).map(str::to_ascii_lowercase).as_deref() {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(ApiError::bad_request(format!("`{k}` must be true or false"))),
    }
}

/// The entry `number` / `call_uuid` / neither name.
fn key(params: &Params) -> Result<FarEndKey, ApiError> {
    match (params.get("number"), params.get("call_uuid")) {
        (Some(_), Some(_)) => Err(ApiError::bad_request("give `number` or `call_uuid`, not both")),
        (Some(n), None) => Ok(FarEndKey::Number(n.trim().to_owned())),
        (None, Some(c)) => Ok(FarEndKey::Call(CallId::from(c))),
        (None, None) => Ok(FarEndKey::Default),
    }
}

fn entry_json(key: &FarEndKey, far: &FarEnd) -> Value {
    let mut v = json!({
        "answer": far.answer.as_str(),
        "answer_after": far.answer_after.as_secs_f64(),
        "talk": far.talk.map(|t| t.as_secs_f64()),
        "digits": far.digits,
        "digits_after": far.digits_after.as_secs_f64(),
        "machine": far.machine,
    });
    match key {
        FarEndKey::Default => v["default"] = json!(true),
        FarEndKey::Number(n) => v["number"] = json!(n),
        FarEndKey::Call(c) => v["call_uuid"] = json!(c.as_str()),
    }
    v
}

async fn apply(app: &AppState, op: FarEndOp) -> Result<Vec<(FarEndKey, FarEnd)>, ApiError> {
    app.driver.far_end(op).await.ok_or_else(unavailable)?.map_err(|e| ApiError::bad_request(e.to_string()))
}

/// `POST /sim/FarEnd/`: sets the entry of a number, a call or the default.
pub(super) async fn set(State(app): State<AppState>, params: Params) -> Result<Json, ApiError> {
    let key = key(&params)?;
    let answer = match params.get("answer") {
        None => FarEndAnswer::Answer,
        Some(a) => FarEndAnswer::parse(a).ok_or_else(|| {
            ApiError::bad_request(format!("`answer` must be answer, busy, no-answer or failed, not `{a}`"))
        })?,
    };
    let digits = params.get("digits").map(str::to_owned);
    if digits.as_deref().is_some_and(|d| !d.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#')) {
        return Err(ApiError::bad_request("`digits` may only hold 0-9, * and #"));
    }
    let far = FarEnd {
        answer,
        answer_after: seconds(&params, "answer_after")?.unwrap_or_default(),
        talk: seconds(&params, "talk")?,
        digits,
        digits_after: seconds(&params, "digits_after")?.unwrap_or_default(),
        machine: boolean(&params, "machine")?.unwrap_or(false),
    };
    apply(&app, FarEndOp::Set(key.clone(), far.clone())).await?;
    let v = json!({ "api_id": app.api_id(), "message": "far end set", "far_end": entry_json(&key, &far) });
    Ok((StatusCode::CREATED, axum::Json(v)))
}

/// `GET /sim/FarEnd/`: every entry, the default first, then numbers, then calls.
pub(super) async fn list(State(app): State<AppState>) -> Result<Json, ApiError> {
    let table = apply(&app, FarEndOp::List).await?;
    let entries: Vec<Value> = table.iter().map(|(k, f)| entry_json(k, f)).collect();
    Ok((StatusCode::OK, axum::Json(json!({ "api_id": app.api_id(), "far_ends": entries }))))
}

/// `DELETE /sim/FarEnd/`: forgets one entry (`number`, `call_uuid`) or all.
pub(super) async fn reset(State(app): State<AppState>, params: Params) -> Result<StatusCode, ApiError> {
    let op = match key(&params)? {
        FarEndKey::Default if params.get("default").is_none() => FarEndOp::Clear,
        k => FarEndOp::Remove(k),
    };
    apply(&app, op).await?;
    Ok(StatusCode::NO_CONTENT)
}
