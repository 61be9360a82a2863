//! The Plivo-compatible REST API (`/v1/Account/{auth_id}/…`) and our own phone-simulation
//! endpoints (`/sim/…`).
//!
//! Every error is `{"api_id": …, "error": …}` with a 4xx status: the official SDKs retry 5xx,
//! so a client mistake must never produce one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine as _;
use serde_json::{Value, json};

use super::calls;
use super::driver::{Driver, LiveCall, StartRefused};
use super::lists::{self, Clock, ListError, Page, Range};
use crate::engine::{CallEnd, CallId, CallSetup, Direction, HangupSource, Input, Webhook};
use crate::engine::{ConferenceError, MemberId, MemberMedia, MemberTarget, RecordSpec};
use crate::runtime::{OpResult, OutboundPlan, RoomOp};
use crate::xml::values::{FileFormat, FromXml, Method, Url};

/// The largest request body read (1 MiB); a larger one is answered 413.
pub(crate) const MAX_BODY: usize = 1024 * 1024;
/// The most destinations of one bulk call (`to=a<b<c`), as on Plivo; more are answered 400.
pub(crate) const MAX_DESTINATIONS: usize = 1000;

/// Shared state of the handlers.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) driver: Driver,
    pub(crate) auth_id: String,
    pub(crate) auth_token: String,
    pub(crate) api_ids: Arc<Mutex<crate::engine::IdGen>>,
    /// The most calls alive at once (REST and `/sim/` calls together).
    pub(crate) max_calls: usize,
    /// The runtime's time zero on the wall clock, for the times of call records and
    /// recordings and the filters on them.
    pub(crate) clock: Clock,
}

impl AppState {
    pub(super) fn api_id(&self) -> String {
        self.api_ids.lock().map(|mut g| g.uuid()).unwrap_or_default()
    }
}

/// An API error: a 4xx status and a message, sent as `{"api_id","error"}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    api_id: String,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), api_id: String::new() }
    }
    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub(super) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let api_id = if self.api_id.is_empty() { fallback_api_id() } else { self.api_id };
        (self.status, axum::Json(json!({ "api_id": api_id, "error": self.message }))).into_response()
    }
}

/// An api_id for errors raised before the state is at hand.
pub(super) fn fallback_api_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    crate::engine::IdGen::new(n ^ u64::from(std::process::id())).uuid()
}

impl From<ConferenceError> for ApiError {
    fn from(e: ConferenceError) -> Self {
        match e {
            ConferenceError::InvalidTarget(_) => ApiError::bad_request(e.to_string()),
            ConferenceError::AlreadyInRoom(_) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            _ => ApiError::not_found(e.to_string()),
        }
    }
}

impl From<ListError> for ApiError {
    fn from(e: ListError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

pub(super) fn unavailable() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down")
}

/// Path parameters, with a JSON 400 instead of axum's plain-text rejection.
pub(crate) struct P<T>(pub(crate) T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for P<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| P(t))
            .map_err(|e| ApiError::bad_request(format!("invalid path: {e}")))
    }
}

/// Request parameters from a JSON object, a form body or the query string, merged; extra
/// fields are kept and ignored by handlers that do not want them.
#[derive(Debug, Default)]
pub(crate) struct Params(HashMap<String, String>, FormKeys);

/// The keys whose values were form-decoded (query string or form body), where a `+` arrives
/// as a space.
type FormKeys = std::collections::HashSet<String>;

impl Params {
    /// Warnings about `from`/`to` numbers that look like a `+` decoded as a space (` 1415…`:
    /// the client sent a raw `+` in a form body or query string).
    fn plus_warnings(&self) -> Vec<String> {
        ["from", "to"]
            .iter()
            .filter(|k| self.1.contains(**k))
            .filter_map(|k| {
                let v = self.0.get(*k)?;
                let rest = v.strip_prefix(' ')?;
                rest.starts_with(|c: char| c.is_ascii_digit())
                    .then(|| format!("`{k}` is `{v}`: it looks like a + decoded as a space; send %2B"))
            })
            .collect()
    }

    /// The non-empty parameters, sorted by name (for the filters of `meta.next`).
    pub(super) fn sorted(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> =
            self.0.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort();
        v
    }

    pub(super) fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }
    pub(super) fn required(&self, k: &str) -> Result<&str, ApiError> {
        self.get(k).ok_or_else(|| ApiError::bad_request(format!("missing required parameter `{k}`")))
    }
    pub(super) fn method(&self, k: &str) -> Result<Method, ApiError> {
        match self.get(k) {
            None => Ok(Method::Post),
            Some(m) => match m.to_ascii_uppercase().as_str() {
                "GET" => Ok(Method::Get),
                "POST" => Ok(Method::Post),
                _ => Err(ApiError::bad_request(format!("`{k}` must be GET or POST, not `{m}`"))),
            },
        }
    }
    pub(super) fn url(&self, k: &str) -> Result<Option<String>, ApiError> {
        match self.get(k) {
            None => Ok(None),
            Some(u) => match (Url::from_xml(u), reqwest::Url::parse(u)) {
                (Ok(_), Ok(parsed)) if parsed.host().is_some() => Ok(Some(u.to_owned())),
                (_, Err(e)) => Err(ApiError::bad_request(format!("`{k}` is not a valid URL ({e}): `{u}`"))),
                _ => Err(ApiError::bad_request(format!("`{k}` must be an absolute http(s) URL, not `{u}`"))),
            },
        }
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => None,
        Value::Array(a) => Some(a.iter().filter_map(scalar).collect::<Vec<_>>().join(",")),
        Value::Object(_) => Some(v.to_string()),
    }
}

/// How a request body is read, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    /// `application/json`, `…+json`, or no `Content-Type` (what curl and some SDKs send).
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `multipart/form-data`.
    Multipart,
}

impl BodyKind {
    fn of(ctype: &str) -> Result<Self, ApiError> {
        let essence = ctype.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match essence.as_str() {
            "" | "application/json" => Ok(BodyKind::Json),
            e if e.starts_with("application/") && e.ends_with("+json") => Ok(BodyKind::Json),
            "application/x-www-form-urlencoded" => Ok(BodyKind::Form),
            "multipart/form-data" => Ok(BodyKind::Multipart),
            other => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "the body's Content-Type `{other}` is not supported: send application/json, \
                     application/x-www-form-urlencoded or multipart/form-data"
                ),
            )),
        }
    }
}

fn body_error(status: StatusCode, e: impl std::fmt::Display) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is larger than {MAX_BODY} bytes"))
    } else {
        ApiError::bad_request(format!("unreadable body: {e}"))
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let query = req.uri().query().unwrap_or("").to_owned();
        let ctype = req.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("?")).unwrap_or("");
        let kind = BodyKind::of(ctype);
        let mut map = HashMap::new();
        let mut form = FormKeys::new();
        for (k, v) in serde_urlencoded::from_str::<Vec<(String, String)>>(&query)
            .map_err(|e| ApiError::bad_request(format!("malformed query string: {e}")))?
        {
            form.insert(k.clone());
            map.insert(k, v);
        }
        if kind.as_ref().is_ok_and(|k| *k == BodyKind::Multipart) {
            let mut body = axum::extract::Multipart::from_request(req, state)
                .await
                .map_err(|e| ApiError::bad_request(format!("malformed multipart body: {e}")))?;
            while let Some(field) = body.next_field().await.map_err(|e| body_error(e.status(), e))? {
                let name = field.name().unwrap_or("").to_owned();
                let value = field.text().await.map_err(|e| body_error(e.status(), e))?;
                form.remove(&name);
                map.insert(name, value);
            }
            return Ok(Params(map, form));
        }
        let body = Bytes::from_request(req, state).await.map_err(|e| body_error(e.status(), e))?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Params(map, form));
        }
        let text = std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
        if kind? == BodyKind::Form {
            for (k, v) in serde_urlencoded::from_str::<Vec<(String, String)>>(text)
                .map_err(|e| ApiError::bad_request(format!("malformed form body: {e}")))?
            {
                form.insert(k.clone());
                map.insert(k, v);
            }
        } else {
            let v: Value =
                serde_json::from_str(text).map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))?;
            let Value::Object(obj) = v else {
                return Err(ApiError::bad_request("the JSON body must be an object"));
            };
            for (k, v) in obj {
                if let Some(s) = scalar(&v) {
                    form.remove(&k);
                    map.insert(k, s);
                }
            }
        }
        Ok(Params(map, form))
    }
}

/// HTTP Basic auth with the account's credentials, and the account in the path must match.
/// A request without an `Authorization` header is told its credentials are missing; every
/// other failure (wrong id, wrong token, another account) gets the same answer, so that it
/// does not tell whether an account id exists.
async fn auth(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let path_account = req.uri().path().strip_prefix("/v1/Account/").map(|rest| rest.split('/').next().unwrap_or(""));
    let account_ok = path_account.is_none_or(|account| account == app.auth_id);
    let message = if !req.headers().contains_key(header::AUTHORIZATION) {
        "missing credentials: send HTTP Basic auth with the auth id and auth token"
    } else if !basic_ok(req.headers(), &app.auth_id, &app.auth_token) || !account_ok {
        "authentication failed"
    } else {
        return next.run(req).await;
    };
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Basic realm=\"plivo-flow\""));
    resp
}

/// `Authorization: Basic <base64 id:token>`; the scheme is case-insensitive (RFC 9110 §11.1).
fn basic_ok(headers: &HeaderMap, id: &str, token: &str) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
    let Some((scheme, encoded)) = value.trim_start().split_once(' ') else { return false };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else { return false };
    decoded == format!("{id}:{token}").as_bytes()
}

/// The answer to a path no route matches. Under `/v1/Account/{auth_id}/` it is a Plivo
/// endpoint plivo-flow does not implement: a 404 that names the method and path as such (so
/// that an SDK's "not found" is not read as "no such call"), logged as a warning. Elsewhere it
/// is a 404 naming the path.
async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    let path = uri.path();
    // The trailing slash was trimmed before routing; Plivo's paths end with one.
    let slash = if path.ends_with('/') { "" } else { "/" };
    if path.starts_with("/v1/Account/") {
        tracing::warn!(%method, path, "not implemented by plivo-flow");
        ApiError::not_found(format!("{method} {path}{slash} is not implemented by plivo-flow"))
    } else {
        ApiError::not_found(format!("no such resource: {method} {path}{slash}"))
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this resource")
}

/// The router (without the trailing-slash normalisation, applied outside by the caller).
pub(crate) fn router(app: AppState) -> Router {
    let conf = "/v1/Account/{account}/Conference";
    let member = "/v1/Account/{account}/Conference/{name}/Member/{member}";
    let call = "/v1/Account/{account}/Call/{uuid}";
    Router::new()
        .route(conf, get(list_conferences).delete(end_all))
        .route(&format!("{conf}/{{name}}"), get(get_conference).delete(end_conference))
        .route(&format!("{conf}/{{name}}/Record"), post(start_recording).delete(stop_recording))
        .route(member, delete(hangup_member))
        .route(&format!("{member}/Kick"), post(kick))
        .route(&format!("{member}/Mute"), post(mute).delete(unmute))
        .route(&format!("{member}/Deaf"), post(deaf).delete(undeaf))
        .route(&format!("{member}/Play"), post(play).delete(stop_play))
        .route(&format!("{member}/Speak"), post(speak).delete(stop_speak))
        .route("/v1/Account/{account}/Call", post(make_call).get(list_calls))
        .route("/v1/Account/{account}/Call/{uuid}", get(get_call).delete(hangup_call).post(transfer_call))
        .route(&format!("{call}/Record"), post(calls::record).delete(calls::stop_record))
        .route(&format!("{call}/Play"), post(calls::play).delete(calls::stop_play))
        .route(&format!("{call}/Speak"), post(calls::speak).delete(calls::stop_speak))
        .route(&format!("{call}/DTMF"), post(calls::dtmf))
        .route("/v1/Account/{account}/Request/{request}", delete(calls::cancel))
        .route("/v1/Account/{account}/Recording", get(super::recordings::list))
        .route("/v1/Account/{account}/Recording/{id}", get(super::recordings::get).delete(super::recordings::delete))
        .route("/sim/Call", post(sim_start_call))
        .route("/sim/Call/{uuid}", delete(sim_hangup))
        .route("/sim/Call/{uuid}/Digits", post(sim_digits))
        .route("/sim/Call/{uuid}/Speech", post(sim_speech))
        .route("/sim/Transcript", get(sim_transcript).delete(sim_clear_transcript))
        .route("/sim/Settled", get(sim_settled))
        .route("/sim/FarEnd", post(super::far_end::set).get(super::far_end::list).delete(super::far_end::reset))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(app.clone(), auth))
        // Added after the auth layer: answered without credentials.
        .route("/sim/Health", get(sim_health))
        .route("/metrics", get(metrics_page))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

pub(crate) type Json = (StatusCode, axum::Json<Value>);

pub(super) fn accepted(v: Value) -> Json {
    (StatusCode::ACCEPTED, axum::Json(v))
}

async fn room_op(app: &AppState, op: RoomOp) -> Result<OpResult, ApiError> {
    app.driver.room_op(op).await.ok_or_else(unavailable)?.map_err(ApiError::from)
}

/// `member_id` in a member action's answer, in the shape the client's SDK reads: the official
/// Java and Go SDKs decode a list of strings (`["1","2"]`, the members it applied to); .NET,
/// Python, Node, Ruby, PHP and Plivo's page show a string (the id or list as requested).
fn member_id(headers: &HeaderMap, requested: &str, result: &OpResult) -> Value {
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let wants_list = ["plivo-java/", "plivo-go/"].iter().any(|sdk| agent.starts_with(sdk));
    if wants_list {
        json!(result.members.iter().map(MemberId::to_string).collect::<Vec<_>>())
    } else {
        json!(requested)
    }
}

/// Checks a member target before it reaches the rooms.
fn target(member: &str) -> Result<MemberTarget, ApiError> {
    Ok(member.parse::<MemberTarget>()?)
}

// ---------------------------------------------------------------------- conferences

async fn list_conferences(State(app): State<AppState>, _p: P<HashMap<String, String>>) -> Result<Json, ApiError> {
    let names = app.driver.rooms().await.ok_or_else(unavailable)?;
    Ok((StatusCode::OK, axum::Json(json!({ "api_id": app.api_id(), "conferences": names }))))
}

fn secs(d: Duration) -> String {
    d.as_secs().to_string()
}

async fn get_conference(State(app): State<AppState>, P((_, name)): P<(String, String)>) -> Result<Json, ApiError> {
    let snap = app.driver.room(name).await.ok_or_else(unavailable)??;
    let members: Vec<Value> = snap
        .members
        .iter()
        .map(|m| {
            json!({
                "muted": m.muted,
                "member_id": m.member_id.to_string(),
                "deaf": m.deaf,
                "from": m.from,
                "to": m.to,
                "caller_name": m.caller_name,
                "direction": m.direction.as_str(),
                "call_uuid": m.call.as_str(),
                "join_time": secs(m.joined_for),
            })
        })
        .collect();
    Ok((
        StatusCode::OK,
        axum::Json(json!({
            "conference_name": snap.name,
            "conference_run_time": secs(snap.run_time),
            "conference_member_count": snap.members.len().to_string(),
            "members": members,
            "api_id": app.api_id(),
        })),
    ))
}

async fn end_conference(
    State(app): State<AppState>,
    P((_, name)): P<(String, String)>,
) -> Result<StatusCode, ApiError> {
    room_op(&app, RoomOp::End { room: name }).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn end_all(State(app): State<AppState>, _p: P<HashMap<String, String>>) -> Result<StatusCode, ApiError> {
    room_op(&app, RoomOp::EndAll).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn start_recording(
    State(app): State<AppState>,
    P((_, name)): P<(String, String)>,
    params: Params,
) -> Result<Json, ApiError> {
    let format = match params.get("file_format") {
        None => FileFormat::Mp3,
        Some(f) => FileFormat::from_xml(f).map_err(|e| ApiError::bad_request(format!("file_format: {e}")))?,
    };
    let callback = match params.url("callback_url")? {
        Some(u) => Some((
            Url::from_xml(&u).map_err(|e| ApiError::bad_request(e.to_string()))?,
            params.method("callback_method")?,
        )),
        None => None,
    };
    let r = room_op(&app, RoomOp::StartRecording { room: name, spec: RecordSpec { format, callback } }).await?;
    let rec = r.recording.ok_or_else(|| ApiError::not_found("no recording"))?;
    Ok(accepted(json!({
        "api_id": app.api_id(),
        "message": "conference recording started",
        "recording_id": rec.id,
        "url": rec.url,
    })))
}

async fn stop_recording(
    State(app): State<AppState>,
    P((_, name)): P<(String, String)>,
) -> Result<StatusCode, ApiError> {
    room_op(&app, RoomOp::StopRecording { room: name }).await?;
    Ok(StatusCode::NO_CONTENT)
}

type MemberPath = P<(String, String, String)>;

async fn hangup_member(State(app): State<AppState>, P((_, room, m)): MemberPath) -> Result<StatusCode, ApiError> {
    room_op(&app, RoomOp::HangupMember { room, target: target(&m)? }).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn kick(State(app): State<AppState>, h: HeaderMap, P((_, room, m)): MemberPath) -> Result<Json, ApiError> {
    let r = room_op(&app, RoomOp::Kick { room, target: target(&m)? }).await?;
    Ok(accepted(json!({ "message": "kicked", "member_id": member_id(&h, &m, &r), "api_id": app.api_id() })))
}

async fn mute(State(app): State<AppState>, h: HeaderMap, P((_, room, m)): MemberPath) -> Result<Json, ApiError> {
    let r = room_op(&app, RoomOp::Mute { room, target: target(&m)?, on: true }).await?;
    Ok(accepted(json!({ "message": "muted", "member_id": member_id(&h, &m, &r), "api_id": app.api_id() })))
}

async fn unmute(State(app): State<AppState>, P((_, room, m)): MemberPath) -> Result<StatusCode, ApiError> {
    room_op(&app, RoomOp::Mute { room, target: target(&m)?, on: false }).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn deaf(State(app): State<AppState>, h: HeaderMap, P((_, room, m)): MemberPath) -> Result<Json, ApiError> {
    let r = room_op(&app, RoomOp::Deaf { room, target: target(&m)?, on: true }).await?;
    Ok(accepted(json!({ "message": "deaf", "member_id": member_id(&h, &m, &r), "api_id": app.api_id() })))
}

async fn undeaf(State(app): State<AppState>, P((_, room, m)): MemberPath) -> Result<StatusCode, ApiError> {
    room_op(&app, RoomOp::Deaf { room, target: target(&m)?, on: false }).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn play(
    State(app): State<AppState>,
    h: HeaderMap,
    P((_, room, m)): MemberPath,
    params: Params,
) -> Result<Json, ApiError> {
    let url = params.url("url")?.ok_or_else(|| ApiError::bad_request("missing required parameter `url`"))?;
    let r = room_op(&app, RoomOp::Media { room, target: target(&m)?, media: MemberMedia::Play { url } }).await?;
    let id = member_id(&h, &m, &r);
    Ok(accepted(json!({ "message": "play queued into conference", "member_id": id, "api_id": app.api_id() })))
}

async fn stop_play(State(app): State<AppState>, P((_, room, m)): MemberPath) -> Result<StatusCode, ApiError> {
    room_op(&app, RoomOp::Media { room, target: target(&m)?, media: MemberMedia::StopPlay }).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn speak(
    State(app): State<AppState>,
    h: HeaderMap,
    P((_, room, m)): MemberPath,
    params: Params,
) -> Result<Json, ApiError> {
    let text = params.required("text")?.to_owned();
    let voice = params.get("voice").unwrap_or("WOMAN").to_owned();
    if voice != "WOMAN" && voice != "MAN" {
        return Err(ApiError::bad_request(format!("`voice` must be MAN or WOMAN, not `{voice}`")));
    }
    let language = params.get("language").unwrap_or("en-US").to_owned();
    let media = MemberMedia::Speak { text, voice, language };
    let r = room_op(&app, RoomOp::Media { room, target: target(&m)?, media }).await?;
    let id = member_id(&h, &m, &r);
    Ok(accepted(json!({ "message": "speak queued into conference", "member_id": id, "api_id": app.api_id() })))
}

async fn stop_speak(State(app): State<AppState>, P((_, room, m)): MemberPath) -> Result<StatusCode, ApiError> {
    room_op(&app, RoomOp::Media { room, target: target(&m)?, media: MemberMedia::StopSpeak }).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------- calls

/// Builds a call setup from `from`, `to`, `answer_url`… parameters.
fn setup_from(params: &Params, direction: Direction, to: &str) -> Result<CallSetup, ApiError> {
    let from = params.required("from")?;
    let answer_url =
        params.url("answer_url")?.ok_or_else(|| ApiError::bad_request("missing required parameter `answer_url`"))?;
    let mut setup = CallSetup::inbound(String::new(), from, to, &answer_url)
        .with_answer(Webhook::new(answer_url.clone(), params.method("answer_method")?))
        .with_caller_name(params.get("caller_name").unwrap_or(""));
    setup.direction = direction;
    // A method is checked even when its URL is absent (a 400 for a bad one), then goes with it.
    let hook = |url: &str, method: &str| -> Result<Option<Webhook>, ApiError> {
        let method = params.method(method)?;
        Ok(params.url(url)?.map(|u| Webhook::new(u, method)))
    };
    setup.hangup = hook("hangup_url", "hangup_method")?;
    setup.fallback = hook("fallback_url", "fallback_method")?;
    setup.ring = hook("ring_url", "ring_method")?;
    Ok(setup)
}

/// Starts the calls of `setups`, all or none: when they would take the live calls beyond
/// `max_calls`, none starts and the answer is 429.
async fn start_all(app: &AppState, setups: Vec<CallSetup>) -> Result<Vec<String>, ApiError> {
    let started = app.driver.start_calls(setups, app.max_calls).await.ok_or_else(unavailable)?;
    Ok(started.map_err(refused)?.into_iter().map(|id| id.as_str().to_owned()).collect())
}

/// The answer to calls that were not started: 429 over the limit, 409 for the engine's refusal.
fn refused(e: StartRefused) -> ApiError {
    match e {
        StartRefused::TooManyCalls { .. } => ApiError::new(StatusCode::TOO_MANY_REQUESTS, e.to_string()),
        StartRefused::Engine(_) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
        // A request this server cannot carry out as configured (no 5xx for it: README).
        StartRefused::NotSupported(_) => ApiError::bad_request(e.to_string()),
    }
}

async fn make_call(
    State(app): State<AppState>,
    _p: P<HashMap<String, String>>,
    params: Params,
) -> Result<Json, ApiError> {
    let to = params.required("to")?.to_owned();
    // Several destinations are separated by `<` (bulk calls), at most MAX_DESTINATIONS.
    let dests: Vec<&str> = to.split('<').filter(|d| !d.trim().is_empty()).take(MAX_DESTINATIONS + 1).collect();
    if dests.is_empty() {
        return Err(ApiError::bad_request(format!("`to` names no destination: `{to}`")));
    }
    if dests.len() > MAX_DESTINATIONS {
        return Err(ApiError::bad_request(format!(
            "`to` names more than {MAX_DESTINATIONS} destinations (separated by `<`)"
        )));
    }
    // Every setup is checked before the first call starts.
    let setups = dests.iter().map(|d| setup_from(&params, Direction::Outbound, d)).collect::<Result<Vec<_>, _>>()?;
    let plan = super::call_options::plan_from(&params)?;
    // Plivo answers a request id per call, not the call's id: the call's webhooks carry its
    // own `CallUUID` and the request id as `RequestUUID`/`ALegRequestUUID`.
    let setups: Vec<(CallSetup, OutboundPlan)> =
        setups.into_iter().map(|s| (s.with_request_uuid(&app.api_id()), plan.clone())).collect();
    let requests: Vec<String> =
        setups.iter().filter_map(|(s, _)| s.request_uuid.as_deref().map(str::to_owned)).collect();
    let started = app.driver.start_planned_calls(setups, app.max_calls).await.ok_or_else(unavailable)?;
    started.map_err(refused)?;
    let request_uuid = if requests.len() == 1 { json!(requests[0]) } else { json!(requests) };
    let mut v = json!({ "message": "call fired", "request_uuid": request_uuid, "api_id": app.api_id() });
    warn_about_plus(&params, &mut v);
    Ok((StatusCode::CREATED, axum::Json(v)))
}

/// Logs, and adds to the answer as `"warning"`, the [`Params::plus_warnings`] of a request.
fn warn_about_plus(params: &Params, answer: &mut Value) {
    let warnings = params.plus_warnings();
    if warnings.is_empty() {
        return;
    }
    let warning = warnings.join("; ");
    let call = answer.get("request_uuid").or_else(|| answer.get("call_uuid")).cloned().unwrap_or_default();
    tracing::warn!(call_uuid = %call, "{warning}");
    answer["warning"] = json!(warning);
}

/// A call as Plivo's call API shows it: a live call (`direction`, `from`, `to`, its status and
/// current verb) or a call record of an ended one (`call_direction`, `from_number`, … and the
/// hangup cause). Every key Plivo documents is present; those the simulation has no value for
/// (billing, network, STIR/SHAKEN) are `null`.
fn call_json(app: &AppState, setup: &CallSetup, status: &str, end: Option<&CallEnd>, verb: Option<&str>) -> Value {
    let account = app.auth_id.as_str();
    let Some(e) = end else {
        return json!({
            "call_uuid": setup.id.as_str(),
            "request_uuid": setup.request_uuid.as_deref().unwrap_or(setup.id.as_str()),
            "direction": setup.direction.as_str(),
            "from": setup.from,
            "to": setup.to,
            "caller_name": setup.caller_name,
            "call_status": status,
            "current_verb": verb,
            "session_start": Value::Null,
            "stir_verification": Value::Null,
        });
    };
    let billed = e.answered_at.map_or(0, |a| e.at.saturating_sub(a).as_secs());
    json!({
        "call_uuid": setup.id.as_str(),
        "call_direction": setup.direction.as_str(),
        "from_number": setup.from,
        "to_number": setup.to,
        "caller_name": setup.caller_name,
        "call_status": status,
        "call_duration": e.at.saturating_sub(e.started_at).as_secs(),
        "bill_duration": billed,
        "billed_duration": billed,
        "hangup_cause_code": e.cause.code(),
        "hangup_cause_name": e.cause.name(),
        "hangup_source": e.source.as_str(),
        "answer_time": e.answered_at.map(|a| app.clock.seconds(a)),
        "end_time": app.clock.seconds(e.at),
        "initiation_time": app.clock.seconds(e.started_at),
        "call_state": Value::Null,
        "parent_call_uuid": Value::Null,
        "conference_uuid": Value::Null,
        "resource_uri": format!("/v1/Account/{account}/Call/{}/", setup.id.as_str()),
        "source_ip": Value::Null,
        "total_amount": Value::Null,
        "total_rate": Value::Null,
        "voice_network_group": Value::Null,
        "cnam_lookup": Value::Null,
        "stir_verification": Value::Null,
    })
}

/// `GET Call/`: call records (the ended calls the server remembers, most recent first) with
/// Plivo's filters and paging; `?status=live` the live calls' ids, `?status=queued` those of
/// outbound calls not answered yet, both with the `call_direction`, `from_number`,
/// `to_number`, `limit` and `offset` filters (Plivo: "Retrieve all calls", "Retrieve all live
/// calls", "Retrieve all queued calls"). Bad filter values are 400s.
async fn list_calls(
    State(app): State<AppState>,
    _p: P<HashMap<String, String>>,
    params: Params,
) -> Result<Json, ApiError> {
    let page = Page::read(params.get("limit"), params.get("offset"))?;
    let direction = lists::one_of("call_direction", params.get("call_direction"), &["inbound", "outbound"])?;
    let (from, to) = (params.get("from_number"), params.get("to_number"));
    let party = |s: &CallSetup| {
        direction.is_none_or(|d| s.direction.as_str() == d)
            && from.is_none_or(|f| s.from.starts_with(f))
            && to.is_none_or(|t| s.to.starts_with(t))
    };
    let status = params.get("status");
    if let Some(which @ ("live" | "queued")) = status {
        let queued = |(s, status, _): &LiveCall| super::driver::is_queued(s, *status);
        let mut live: Vec<LiveCall> = app
            .driver
            .live_call_list()
            .await
            .ok_or_else(unavailable)?
            .into_iter()
            .filter(|c| queued(c) == (which == "queued") && party(&c.0))
            .collect();
        live.sort_by(|a, b| a.0.id.as_str().cmp(b.0.id.as_str()));
        let (calls, _) = page.slice(live.iter().map(|c| c.0.id.as_str().to_owned()));
        return Ok((StatusCode::OK, axum::Json(json!({ "api_id": app.api_id(), "calls": calls }))));
    }
    // `live` and `queued` were answered above.
    lists::one_of("status", status, &["live", "queued", "completed"])?;
    let bill = Range::read("bill_duration", |k| params.get(k), lists::number)?;
    let end = Range::read("end_time", |k| params.get(k), lists::time)?;
    let cause = match params.get("hangup_cause_code") {
        None => None,
        Some(c) => Some(lists::number("hangup_cause_code", c)?.0),
    };
    let source = params.get("hangup_source");
    // Call records belong to the main account and no call here has a parent: those two
    // filters, when given, match nothing.
    let none = params.get("subaccount").is_some() || params.get("parent_call_uuid").is_some();
    let clock = app.clock;
    let keep = |(s, e): &(CallSetup, CallEnd)| {
        let billed = e.answered_at.map_or(0, |a| e.at.saturating_sub(a).as_secs());
        !none
            && party(s)
            && bill.holds(i128::from(billed))
            && (!end.is_set() || end.holds(clock.micros(e.at)))
            && cause.is_none_or(|c| i128::from(e.cause.code()) == c)
            && source.is_none_or(|h| e.source.as_str().eq_ignore_ascii_case(h))
    };
    let (records, total) = app.driver.history_matching(keep, page);
    let objects: Vec<Value> = records.iter().map(|(s, e)| call_json(&app, s, "completed", Some(e), None)).collect();
    let path = format!("/v1/Account/{}/Call/", app.auth_id);
    let meta = page.meta(&path, &params.sorted(), objects.len(), total);
    Ok((StatusCode::OK, axum::Json(json!({ "api_id": app.api_id(), "meta": meta, "objects": objects }))))
}

async fn get_call(State(app): State<AppState>, P((_, uuid)): P<(String, String)>) -> Result<Json, ApiError> {
    let id = CallId::from(uuid.as_str());
    let live = app
        .driver
        .live_call(id)
        .await
        .ok_or_else(unavailable)?
        .map(|(setup, status, verb)| call_json(&app, &setup, status.as_str(), None, verb));
    let found =
        live.or_else(|| app.driver.record(&uuid).map(|(s, e)| call_json(&app, &s, "completed", Some(&e), None)));
    let mut v = found.ok_or_else(|| ApiError::not_found(format!("no call {uuid}")))?;
    v["api_id"] = json!(app.api_id());
    Ok((StatusCode::OK, axum::Json(v)))
}

pub(super) async fn call_input(app: &AppState, uuid: String, input: Input) -> Result<(), ApiError> {
    let id = CallId::from(uuid.as_str());
    let ok = app.driver.input(id, input).await.ok_or_else(unavailable)?;
    if ok { Ok(()) } else { Err(ApiError::not_found(format!("no live call {uuid}"))) }
}

async fn hangup_call(State(app): State<AppState>, P((_, uuid)): P<(String, String)>) -> Result<StatusCode, ApiError> {
    call_input(&app, uuid, Input::Hangup { source: HangupSource::ApiRequest }).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn transfer_call(
    State(app): State<AppState>,
    P((_, uuid)): P<(String, String)>,
    params: Params,
) -> Result<Json, ApiError> {
    let legs = params.get("legs").unwrap_or("aleg");
    if !matches!(legs, "aleg" | "both") {
        return Err(ApiError::bad_request(format!("`legs` must be aleg or both here, not `{legs}`")));
    }
    let url = params.url("aleg_url")?.ok_or_else(|| ApiError::bad_request("missing required parameter `aleg_url`"))?;
    let method = params.method("aleg_method")?;
    call_input(&app, uuid, Input::Transfer { url, method }).await?;
    Ok(accepted(json!({ "message": "call transferred", "api_id": app.api_id() })))
}

// ---------------------------------------------------------------------- the simulated phone

async fn sim_start_call(State(app): State<AppState>, params: Params) -> Result<Json, ApiError> {
    let to = params.required("to")?.to_owned();
    let setup = setup_from(&params, Direction::Inbound, &to)?;
    let id = start_all(&app, vec![setup]).await?.pop().unwrap_or_default();
    let mut v = json!({ "call_uuid": id, "api_id": app.api_id() });
    warn_about_plus(&params, &mut v);
    Ok((StatusCode::CREATED, axum::Json(v)))
}

async fn sim_hangup(State(app): State<AppState>, P(uuid): P<String>) -> Result<StatusCode, ApiError> {
    call_input(&app, uuid, Input::Hangup { source: HangupSource::Caller }).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn sim_digits(State(app): State<AppState>, P(uuid): P<String>, params: Params) -> Result<Json, ApiError> {
    let digits = params.required("digits")?.to_owned();
    if !digits.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#') {
        return Err(ApiError::bad_request("`digits` may only hold 0-9, * and #"));
    }
    call_input(&app, uuid, Input::Digits(digits)).await?;
    Ok(accepted(json!({ "message": "digits sent", "api_id": app.api_id() })))
}

async fn sim_speech(State(app): State<AppState>, P(uuid): P<String>, params: Params) -> Result<Json, ApiError> {
    let text = params.required("text")?.to_owned();
    let confidence = match params.get("confidence") {
        None => 0.9,
        Some(c) => c
            .parse::<f32>()
            .ok()
            .filter(|c| (0.0..=1.0).contains(c))
            .ok_or_else(|| ApiError::bad_request("`confidence` must be a number from 0 to 1"))?,
    };
    call_input(&app, uuid, Input::Speech { text, confidence }).await?;
    Ok(accepted(json!({ "message": "speech sent", "api_id": app.api_id() })))
}

/// `GET /sim/Transcript/`: the recent transcript, oldest first; `?call=UUID` keeps one call's
/// lines, `?format=json` gives one JSON object per line (`at_ms`, `call_ms`, `who`, `kind`,
/// `text`, `params` with the standard parameters too), else text.
async fn sim_transcript(State(app): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let json = match params.get("format") {
        None | Some("text") => false,
        Some("json") => true,
        Some(other) => return Err(ApiError::bad_request(format!("`format` must be text or json, not `{other}`"))),
    };
    let lines = app.driver.recent_transcript(params.get("call"));
    let mut out = String::new();
    for entry in &lines {
        if json {
            out.push_str(&entry.to_json().to_string());
        } else {
            out.push_str(&entry.line().to_string());
        }
        out.push('\n');
    }
    let ctype = if json { "application/x-ndjson" } else { "text/plain; charset=utf-8" };
    Ok(([(header::CONTENT_TYPE, ctype)], out).into_response())
}

/// The longest `GET /sim/Settled/` waits (`timeout_ms`).
const MAX_SETTLE_WAIT: Duration = Duration::from_secs(60);

/// `GET /sim/Settled/?timeout_ms=N`: waits until the server is settled — no webhook on the
/// wire or waiting for it, nothing due now; what is left waits for time to pass or for an
/// outside event — then answers `{"settled": true}`; after `timeout_ms` (default 10 000, at
/// most 60 000) without settling, `{"settled": false}`. For tests: wait for this instead of
/// polling the application's log.
async fn sim_settled(State(app): State<AppState>, params: Params) -> Result<Json, ApiError> {
    let ms = match params.get("timeout_ms") {
        None => 10_000,
        Some(v) => v.parse::<u64>().map_err(|_| ApiError::bad_request("`timeout_ms` must be a number"))?,
    };
    let wait = Duration::from_millis(ms).min(MAX_SETTLE_WAIT);
    let settled = match tokio::time::timeout(wait, app.driver.settled()).await {
        Ok(answer) => answer.ok_or_else(unavailable)?,
        Err(_) => false,
    };
    Ok((StatusCode::OK, axum::Json(json!({ "api_id": app.api_id(), "settled": settled }))))
}

/// `DELETE /sim/Transcript/`: forgets the recent transcript (204).
async fn sim_clear_transcript(State(app): State<AppState>) -> StatusCode {
    app.driver.clear_transcript();
    StatusCode::NO_CONTENT
}

/// `GET /metrics` (no credentials needed, as Prometheus scrapes): the figures in the
/// Prometheus text format ([`super::metrics`]); 404 when the process has another `metrics`
/// recorder than ours.
async fn metrics_page(State(app): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Some(handle) = super::metrics::install() else {
        return ApiError::new(StatusCode::NOT_FOUND, "metrics are recorded elsewhere in this process").into_response();
    };
    let Some(live) = app.driver.live_figures().await else { return unavailable().into_response() };
    let page = super::metrics::render(handle, live);
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], page).into_response()
}

/// `GET /sim/Health/` (no credentials needed): tells a client it talks to plivo-flow, which
/// version, and for which account.
async fn sim_health(State(app): State<AppState>) -> Json {
    (StatusCode::OK, axum::Json(json!({ "plivo_flow": super::VERSION, "auth_id": app.auth_id })))
}
