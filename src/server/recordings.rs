//! Plivo's Recording API (<https://www.plivo.com/docs/voice/api/recording/>): `GET
//! Recording/` (filters and paging), `GET Recording/{id}/`, `DELETE Recording/{id}/`, over the
//! runtime's finished recordings ([`crate::runtime::Recordings`]).

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::api::{ApiError, AppState, Json, P, Params, unavailable};
use super::lists::{self, Clock, Page, Range};
use crate::runtime::{Recording, RecordingSource};

/// What `GET Recording/` keeps: Plivo's filters `call_uuid`, `from_number`, `to_number` (exact
/// or prefix), `conference_name`, `conference_uuid`, `add_time` and
/// `recording_storage_duration` (days since `add_time`) in their five forms; `subaccount`,
/// `mpc_name` and `mpc_uuid` match nothing here (no subaccounts, no MPC recordings).
#[derive(Debug)]
pub(crate) struct RecordingFilter {
    call_uuid: Option<String>,
    from: Option<String>,
    to: Option<String>,
    conference_name: Option<String>,
    conference_uuid: Option<String>,
    add_time: Range,
    storage_days: Range,
    nothing: bool,
    clock: Clock,
}

impl RecordingFilter {
    fn read(params: &Params, clock: Clock) -> Result<RecordingFilter, ApiError> {
        let own = |k: &str| params.get(k).map(str::to_owned);
        Ok(RecordingFilter {
            call_uuid: own("call_uuid"),
            from: own("from_number"),
            to: own("to_number"),
            conference_name: own("conference_name"),
            conference_uuid: own("conference_uuid"),
            add_time: Range::read("add_time", |k| params.get(k), lists::time)?,
            storage_days: Range::read("recording_storage_duration", |k| params.get(k), lists::number)?,
            nothing: ["subaccount", "mpc_name", "mpc_uuid"].iter().any(|k| params.get(k).is_some()),
            clock,
        })
    }

    /// Whether `r` is kept, at runtime time `now`.
    pub(crate) fn matches(&self, r: &Recording, now: Duration) -> bool {
        let (call, from, to, room, room_uuid) = match &r.source {
            RecordingSource::Call { call, from, to } => (Some(call.as_str()), Some(from), Some(to), None, None),
            RecordingSource::Conference { name, uuid } => (None, None, None, Some(&**name), Some(uuid.as_str())),
        };
        let eq = |want: &Option<String>, have: Option<&str>| want.as_ref().is_none_or(|w| have == Some(w.as_str()));
        let prefix = |want: &Option<String>, have: Option<&String>| {
            want.as_ref().is_none_or(|w| have.is_some_and(|h| h.starts_with(w)))
        };
        let days = now.saturating_sub(r.added_at).as_secs() / 86_400;
        !self.nothing
            && eq(&self.call_uuid, call)
            && prefix(&self.from, from)
            && prefix(&self.to, to)
            && eq(&self.conference_name, room)
            && eq(&self.conference_uuid, room_uuid)
            && self.add_time.holds(self.clock.micros(r.added_at))
            && self.storage_days.holds(i128::from(days))
    }
}

/// Milliseconds since the Unix epoch as Plivo writes them in a recording (`"1663745466962.00000"`).
fn epoch_ms(clock: Clock, at: Duration) -> String {
    format!("{}.00000", clock.micros(at) / 1000)
}

/// A recording as Plivo's Recording object shows it; keys the simulation has no value for
/// (storage amounts and rates) are 0, those of MPCs `null`.
fn recording_json(app: &AppState, r: &Recording) -> Value {
    let (call, from, to, room, room_uuid) = match &r.source {
        RecordingSource::Call { call, from, to } => {
            (Some(call.as_str()), Some(from.as_str()), Some(to.as_str()), None, None)
        }
        RecordingSource::Conference { name, uuid } => (None, None, None, Some(&**name), Some(uuid.as_str())),
    };
    let end = r.started_at + Duration::from_millis(r.duration_ms);
    json!({
        "add_time": app.clock.micro_seconds(r.added_at),
        "call_uuid": call,
        "conference_name": room,
        "conference_uuid": room_uuid,
        "from_number": from,
        "to_number": to,
        "mpc_name": Value::Null,
        "mpc_uuid": Value::Null,
        "monthly_recording_storage_amount": 0,
        "recording_duration_ms": format!("{}.00000", r.duration_ms),
        "recording_start_ms": epoch_ms(app.clock, r.started_at),
        "recording_end_ms": epoch_ms(app.clock, end),
        "recording_format": r.format.to_string(),
        "recording_id": r.id.as_str(),
        "recording_storage_duration": 0,
        "recording_storage_rate": 0,
        "recording_type": r.kind(),
        "recording_url": r.url,
        "resource_uri": format!("/v1/Account/{}/Recording/{}/", app.auth_id, r.id),
        "rounded_recording_duration": r.duration_ms.div_ceil(60_000) * 60,
    })
}

/// `GET Recording/`: the finished recordings, most recent first, filtered ([`RecordingFilter`])
/// and paged (`limit` 1–20, `offset`, `meta`).
pub(super) async fn list(
    State(app): State<AppState>,
    _p: P<HashMap<String, String>>,
    params: Params,
) -> Result<Json, ApiError> {
    let page = Page::read(params.get("limit"), params.get("offset"))?;
    let filter = RecordingFilter::read(&params, app.clock)?;
    let (found, total) = app.driver.recordings(filter, page).await.ok_or_else(unavailable)?;
    let objects: Vec<Value> = found.iter().map(|r| recording_json(&app, r)).collect();
    let path = format!("/v1/Account/{}/Recording/", app.auth_id);
    let meta = page.meta(&path, &params.sorted(), objects.len(), total);
    Ok((StatusCode::OK, axum::Json(json!({ "api_id": app.api_id(), "meta": meta, "objects": objects }))))
}

/// `GET Recording/{id}/`: one recording; 404 when there is none (never made, not finished
/// yet, or deleted).
pub(super) async fn get(State(app): State<AppState>, P((_, id)): P<(String, String)>) -> Result<Json, ApiError> {
    let found = app.driver.recording(id.clone()).await.ok_or_else(unavailable)?;
    let r = found.ok_or_else(|| ApiError::not_found(format!("no recording {id}")))?;
    let mut v = recording_json(&app, &r);
    v["api_id"] = json!(app.api_id());
    Ok((StatusCode::OK, axum::Json(v)))
}

/// `DELETE Recording/{id}/`: 204; 404 when there is none.
pub(super) async fn delete(
    State(app): State<AppState>,
    P((_, id)): P<(String, String)>,
) -> Result<StatusCode, ApiError> {
    if app.driver.delete_recording(id.clone()).await.ok_or_else(unavailable)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no recording {id}")))
    }
}
