//! `plivo-flow serve` over real sockets on 127.0.0.1: a webhook application in the test serves
//! XML and records every request; the REST API drives calls and rooms.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use plivo_flow::server::{self, ServerConfig};
use serde_json::Value;

const ID: &str = "MAXXXXXXXXXXXXXXXXXX";
const TOKEN: &str = "test-token";

/// One request the application received.
#[derive(Debug, Clone)]
struct Hit {
    method: Method,
    path: String,
    /// The full URL as the application sees it (no fragment).
    url: String,
    params: Vec<(String, String)>,
    headers: HeaderMap,
}

impl Hit {
    fn param(&self, k: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Default)]
struct AppState {
    docs: Arc<Mutex<HashMap<String, String>>>,
    hits: Arc<Mutex<Vec<Hit>>>,
    base: Arc<Mutex<String>>,
}

async fn record(State(app): State<AppState>, req: Request) -> String {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_else(|_| Bytes::new());
    let query = parts.uri.query().unwrap_or("");
    let mut params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    if parts.method == Method::POST {
        params = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    }
    let path = parts.uri.path().to_owned();
    let base = app.base.lock().expect("lock").clone();
    let url = format!("{base}{}", parts.uri);
    app.hits.lock().expect("lock").push(Hit {
        method: parts.method,
        path: path.clone(),
        url,
        params,
        headers: parts.headers,
    });
    app.docs.lock().expect("lock").get(&path).cloned().unwrap_or_default()
}

struct Harness {
    app: AppState,
    app_base: String,
    api: String,
    http: reqwest::Client,
    server: server::Running,
}

impl Harness {
    async fn start() -> Harness {
        let app = AppState::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind app");
        let app_base = format!("http://{}", listener.local_addr().expect("addr"));
        *app.base.lock().expect("lock") = app_base.clone();
        let router = Router::new().fallback(record).with_state(app.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let config = ServerConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            auth_id: ID.to_owned(),
            auth_token: TOKEN.to_owned(),
            speed: 0.0,
            seed: 42,
            ..ServerConfig::default()
        };
        let server = server::start(config).await.expect("server");
        let api = format!("http://{}/v1/Account/{ID}", server.addr);
        Harness { app, app_base, api, http: reqwest::Client::new(), server }
    }

    fn serve(&self, path: &str, xml: &str) {
        self.app.docs.lock().expect("lock").insert(path.to_owned(), xml.to_owned());
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.app_base)
    }

    fn hits(&self) -> Vec<Hit> {
        self.app.hits.lock().expect("lock").clone()
    }

    async fn req(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.http.request(method, format!("{}{path}", self.api)).basic_auth(ID, Some(TOKEN));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.expect("send");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn call(&self, answer: &str) -> String {
        let body = serde_json::json!({
            "from": "+14155550100", "to": "+14155550199",
            "answer_url": self.url(answer), "hangup_url": self.url("/hangup"),
            "caller_name": "Tester", "extra_field_the_sdk_sends": 1,
        });
        let (status, v) = self.req(Method::POST, "/Call/", Some(body)).await;
        assert_eq!(status, 201, "{v}");
        assert_eq!(v["message"], "call fired");
        let request = v["request_uuid"].as_str().expect("uuid").to_owned();
        self.call_of(&request).await
    }

    /// The `CallUUID` of the call the API request `request` started, read from its answer
    /// webhook (which carries the request id as `ALegRequestUUID`; Plivo's ids differ).
    async fn call_of(&self, request: &str) -> String {
        for _ in 0..2000 {
            let found = self.hits().iter().find_map(|h| {
                (h.param("ALegRequestUUID") == Some(request)).then(|| h.param("CallUUID").unwrap_or("").to_owned())
            });
            if let Some(call) = found {
                return call;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("no webhook of the call requested as {request}: {:#?}", self.hits());
    }

    /// Waits until the server has settled (no webhook in flight, nothing due now): with
    /// media instant (`speed` 0), everything a request set off has happened by then.
    async fn settle(&self) {
        let url = format!("http://{}/sim/Settled/", self.server.addr);
        let resp = self.http.get(url).basic_auth(ID, Some(TOKEN)).send().await.expect("send");
        let v: Value = resp.json().await.expect("json");
        assert_eq!(v["settled"], true, "the server did not settle in 10 s: {v}");
    }

    /// Once the server has settled, `f` holds.
    async fn until(&self, what: &str, f: impl Fn(&[Hit]) -> bool) {
        self.settle().await;
        assert!(f(&self.hits()), "settled without {what}; the application saw {:#?}", self.hits());
    }

    async fn members(&self, room: &str) -> usize {
        let (status, v) = self.req(Method::GET, &format!("/Conference/{room}/"), None).await;
        if status == 404 {
            return 0;
        }
        v["members"].as_array().map_or(0, Vec::len)
    }

    async fn until_members(&self, room: &str, n: usize) {
        self.settle().await;
        assert_eq!(self.members(room).await, n, "room {room} once settled");
    }

    async fn transcript(&self) -> String {
        let url = format!("http://{}/sim/Transcript/", self.server.addr);
        let resp = self.http.get(url).basic_auth(ID, Some(TOKEN)).send().await.expect("send");
        resp.text().await.unwrap_or_default()
    }
}

fn hits_for<'a>(hits: &'a [Hit], call: &str) -> Vec<&'a Hit> {
    hits.iter().filter(|h| h.param("CallUUID") == Some(call)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbound_call_has_its_own_uuid_and_carries_the_request_uuid() {
    let h = Harness::start().await;
    h.serve("/answer", "<Response><Wait length=\"1\"/></Response>");
    let body = serde_json::json!({
        "from": "+14155550100", "to": "+14155550199", "answer_url": h.url("/answer"),
    });
    let (status, v) = h.req(Method::POST, "/Call/", Some(body)).await;
    assert_eq!(status, 201, "{v}");
    let request = v["request_uuid"].as_str().expect("uuid").to_owned();
    h.until("the answer webhook", |hits| hits.iter().any(|h| h.path == "/answer")).await;
    let hits = h.hits();
    let answer = hits.iter().find(|h| h.path == "/answer").expect("answer");
    let call = answer.param("CallUUID").expect("CallUUID");
    assert_ne!(call, request, "Plivo's CallUUID is the call's own id, not the request's");
    assert_eq!(answer.param("ALegUUID"), Some(call));
    assert_eq!(answer.param("ALegRequestUUID"), Some(request.as_str()));
    assert_eq!(answer.param("RequestUUID"), Some(request.as_str()));
}

const ROOM: &str = r#"<Response>
  <Conference callbackUrl="CB">My Room</Conference>
  <Speak>Goodbye from the next element</Speak>
</Response>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kick_over_rest_resumes_the_call_at_the_next_element() {
    let h = Harness::start().await;
    h.serve("/answer", &ROOM.replace("CB", &h.url("/conf")));
    let first = h.call("/answer").await;
    let second = h.call("/answer").await;
    h.until_members("My%20Room", 2).await;

    let (status, v) = h.req(Method::GET, "/Conference/My%20Room/", None).await;
    assert_eq!(status, 200);
    assert_eq!(v["conference_name"], "My Room");
    assert_eq!(v["conference_member_count"], "2");
    // The two answer fetches race: find the first call's member.
    let members = v["members"].as_array().expect("members");
    let m = members.iter().find(|m| m["call_uuid"] == first.as_str()).expect("first call is a member");
    let id = m["member_id"].as_str().expect("member ids are strings").to_owned();
    assert!(id == "1" || id == "2", "{id}");
    assert_eq!(m["muted"], false);
    assert_eq!(m["deaf"], false);
    assert_eq!(m["direction"], "outbound");
    assert_eq!(m["caller_name"], "Tester");
    assert_eq!(m["from"], "+14155550100");

    let path = format!("/Conference/My%20Room/Member/{id}/Kick/");
    let body = serde_json::json!({"conference_name": "My Room", "member_id": id});
    let (status, v) = h.req(Method::POST, &path, Some(body)).await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["message"], "kicked");
    assert_eq!(v["member_id"], id.as_str());
    assert!(v["api_id"].as_str().is_some_and(|s| !s.is_empty()));

    h.until("the kicked call's hangup", |hits| {
        hits.iter().any(|x| x.path == "/hangup" && x.param("CallUUID") == Some(first.as_str()))
    })
    .await;
    let hits = h.hits();
    let mine = hits_for(&hits, &first);
    let seen: Vec<String> =
        mine.iter().map(|x| format!("{} {}", x.path, x.param("ConferenceAction").unwrap_or(""))).collect();
    assert_eq!(seen, ["/answer ", "/conf enter", "/conf exit", "/hangup "], "{mine:#?}");
    let hangup = mine.last().expect("hangup");
    assert_eq!(hangup.param("HangupCauseCode"), Some("4010"));
    assert_eq!(hangup.param("CallStatus"), Some("completed"));
    let exit = mine[2];
    assert_eq!(exit.param("ConferenceName"), Some("My Room"));
    assert_eq!(exit.param("ConferenceMemberID"), Some(id.as_str()));
    assert!(h.transcript().await.contains("spoke \"Goodbye from the next element\""));
    // The other member stays.
    assert_eq!(h.members("My%20Room").await, 1);
    assert!(hits_for(&h.hits(), &second).iter().all(|x| x.path != "/hangup"));
    h.server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_redirect_true_replaces_and_false_continues() {
    let h = Harness::start().await;
    let answer = format!(
        r#"<Response><Conference action="{}" redirect="true">A</Conference><Speak>never</Speak></Response>"#,
        h.url("/after-a")
    );
    h.serve("/answer-a", &answer);
    h.serve("/after-a", r#"<Response><Speak>from the action</Speak></Response>"#);
    let answer = format!(
        r#"<Response><Conference action="{}" redirect="false" method="GET">B</Conference><Speak>next after B</Speak></Response>"#,
        h.url("/after-b")
    );
    h.serve("/answer-b", &answer);
    let a = h.call("/answer-a").await;
    let b = h.call("/answer-b").await;
    h.until_members("A", 1).await;
    h.until_members("B", 1).await;
    assert_eq!(h.req(Method::POST, "/Conference/A/Member/all/Kick", None).await.0, 202);
    assert_eq!(h.req(Method::POST, "/Conference/B/Member/all/Kick", None).await.0, 202);
    h.until("both hangups", |hits| hits.iter().filter(|x| x.path == "/hangup").count() == 2).await;
    let t = h.transcript().await;
    assert!(t.contains("spoke \"from the action\"") && !t.contains("never"), "{t}");
    assert!(t.contains("spoke \"next after B\""), "{t}");
    let hits = h.hits();
    let after_b = hits_for(&hits, &b).into_iter().find(|x| x.path == "/after-b").expect("action B");
    assert_eq!(after_b.method, Method::GET);
    assert_eq!(after_b.param("ConferenceName"), Some("B"));
    let after_a = hits_for(&hits, &a).into_iter().find(|x| x.path == "/after-a").expect("action A");
    assert_eq!(after_a.method, Method::POST);
    h.server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_signed_and_the_fragment_is_stripped() {
    let h = Harness::start().await;
    h.serve("/answer", r#"<Response><Speak>signed</Speak></Response>"#);
    let body = serde_json::json!({
        "from": "1", "to": "2",
        "answer_url": format!("{}?x=1#ct=500&rt=2000&rc=0", h.url("/answer")),
        "answer_method": "GET",
        "hangup_url": h.url("/hangup"),
        "ring_url": h.url("/ring"),
    });
    let (status, _) = h.req(Method::POST, "/Call/", Some(body)).await;
    assert_eq!(status, 201);
    h.until("the hangup", |hits| hits.iter().any(|x| x.path == "/hangup")).await;
    for hit in h.hits() {
        let sig = hit.headers.get("X-Plivo-Signature-V3").and_then(|v| v.to_str().ok()).expect("signature");
        let nonce = hit.headers.get("X-Plivo-Signature-V3-Nonce").and_then(|v| v.to_str().ok()).expect("nonce");
        assert_eq!(hit.headers.get("X-Plivo-Signature-Ma-V3").and_then(|v| v.to_str().ok()), Some(sig));
        assert!(!hit.url.contains('#'));
        let method = if hit.method == Method::GET {
            plivo_flow::xml::values::Method::Get
        } else {
            plivo_flow::xml::values::Method::Post
        };
        // Recompute from what the application received: the full URL for GET, form for POST.
        let params: Vec<(String, String)> = if hit.method == Method::GET { Vec::new() } else { hit.params.clone() };
        let expected = plivo_flow::server::signature::sign(TOKEN, method, &hit.url, &params, nonce);
        assert_eq!(sig, expected, "{hit:#?}");
    }
    let ring = h.hits().into_iter().find(|x| x.path == "/ring").expect("ring_url notified");
    assert_eq!(ring.param("CallStatus"), Some("ringing"));
    let answer = h.hits().into_iter().find(|x| x.path == "/answer").expect("answer");
    assert_eq!(answer.method, Method::GET);
    assert_eq!(answer.param("x"), Some("1"));
    assert_eq!(answer.param("Direction"), Some("outbound"));
    h.server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_mistakes_get_4xx_with_api_id_and_error() {
    let h = Harness::start().await;
    let base = format!("http://{}", h.server.addr);
    let check = |status: u16, v: &Value, want: u16| {
        assert_eq!(status, want, "{v}");
        assert!(v["api_id"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
        assert!(v["error"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    };
    // 401: wrong token, and another account's path.
    let resp = h.http.get(format!("{}/Conference/", h.api)).basic_auth(ID, Some("wrong")).send().await.expect("send");
    let status = resp.status().as_u16();
    check(status, &resp.json().await.unwrap_or(Value::Null), 401);
    let resp = h
        .http
        .get(format!("{base}/v1/Account/MAOTHERXXXXXXXXXXXXX/Conference/"))
        .basic_auth(ID, Some(TOKEN))
        .send()
        .await
        .expect("send");
    let status = resp.status().as_u16();
    check(status, &resp.json().await.unwrap_or(Value::Null), 401);
    let resp = h.http.get(format!("{}/Conference/", h.api)).send().await.expect("send");
    assert_eq!(resp.status().as_u16(), 401);
    // 404: unknown room, unknown member, unknown path.
    let (s, v) = h.req(Method::POST, "/Conference/Nope/Member/1/Kick/", None).await;
    check(s, &v, 404);
    h.serve("/answer", "<Response><Conference>Here</Conference></Response>");
    h.call("/answer").await;
    h.until_members("Here", 1).await;
    let (s, v) = h.req(Method::POST, "/Conference/Here/Member/1,99/Kick/", None).await;
    check(s, &v, 404);
    assert!(v["error"].as_str().is_some_and(|e| e.contains("99")), "{v}");
    assert_eq!(h.members("Here").await, 1, "nothing was kicked");
    let (s, v) = h.req(Method::GET, "/NoSuchThing/", None).await;
    check(s, &v, 404);
    // 400: malformed JSON, missing field, bad member target, bad URL.
    let resp = h
        .http
        .post(format!("{}/Call/", h.api))
        .basic_auth(ID, Some(TOKEN))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    let status = resp.status().as_u16();
    check(status, &resp.json().await.unwrap_or(Value::Null), 400);
    let (s, v) = h.req(Method::POST, "/Call/", Some(serde_json::json!({"from": "1", "to": "2"}))).await;
    check(s, &v, 400);
    let (s, v) = h.req(Method::POST, "/Conference/Here/Member/abc/Kick/", None).await;
    check(s, &v, 400);
    let (s, v) =
        h.req(Method::POST, "/Conference/Here/Member/1/Play/", Some(serde_json::json!({"url": "not a url"}))).await;
    check(s, &v, 400);
    // 405.
    let (s, v) = h.req(Method::PUT, "/Conference/", None).await;
    check(s, &v, 405);
    // Accepted shapes: no trailing slash, JSON content type on GET, form bodies.
    let resp = h
        .http
        .get(format!("{}/Conference", h.api))
        .basic_auth(ID, Some(TOKEN))
        .header("Content-Type", "application/json")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    let resp = h
        .http
        .post(format!("{}/Conference/Here/Member/1/Speak", h.api))
        .basic_auth(ID, Some(TOKEN))
        .form(&[("text", "hello"), ("voice", "MAN"), ("unknown", "x")])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 202);
    h.server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_hangup_ends_the_call_and_ending_the_room_lets_flows_continue() {
    let h = Harness::start().await;
    h.serve("/answer", &ROOM.replace("CB", &h.url("/conf")));
    let one = h.call("/answer").await;
    let two = h.call("/answer").await;
    let three = h.call("/answer").await;
    h.until_members("My%20Room", 3).await;
    let (_, v) = h.req(Method::GET, "/Conference/My%20Room/", None).await;
    let id = v["members"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["call_uuid"] == one.as_str()))
        .map(|m| m["member_id"].clone())
        .expect("member");
    let id = id.as_str().expect("string id").to_owned();
    assert_eq!(h.req(Method::DELETE, &format!("/Conference/My%20Room/Member/{id}/"), None).await.0, 204);
    h.until("member 1's hangup", |hits| {
        hits.iter().any(|x| x.path == "/hangup" && x.param("CallUUID") == Some(one.as_str()))
    })
    .await;
    let hits = h.hits();
    let hangup = hits_for(&hits, &one).into_iter().find(|x| x.path == "/hangup").expect("hangup").clone();
    assert_eq!(hangup.param("HangupCauseCode"), Some("4000"));
    assert_eq!(hangup.param("HangupSource"), Some("API Request"));
    assert_eq!(h.req(Method::DELETE, "/Conference/My%20Room/", None).await.0, 204);
    h.until("both hangups", |hits| hits.iter().filter(|x| x.path == "/hangup").count() == 3).await;
    for call in [&two, &three] {
        let hits = h.hits();
        let mine = hits_for(&hits, call);
        let exits = mine.iter().filter(|x| x.param("ConferenceAction") == Some("exit")).count();
        assert_eq!(exits, 1);
        let hangup = mine.iter().find(|x| x.path == "/hangup").expect("hangup");
        assert_eq!(hangup.param("HangupCauseCode"), Some("4010"), "continued to the end of the document");
    }
    let (status, v) = h.req(Method::GET, "/Conference/My%20Room/", None).await;
    assert_eq!(status, 404, "{v}");
    let (status, v) = h.req(Method::GET, "/Conference/", None).await;
    assert_eq!((status, v["conferences"].clone()), (200, serde_json::json!([])));
    h.server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulated_phone_drives_an_ivr() {
    let h = Harness::start().await;
    let menu = format!(
        r#"<Response><GetDigits action="{}" timeout="30"><Speak>Press a key</Speak></GetDigits></Response>"#,
        h.url("/digits")
    );
    h.serve("/answer", &menu);
    h.serve("/digits", "<Response><Speak>Got it</Speak></Response>");
    let resp = h
        .http
        .post(format!("http://{}/sim/Call/", h.server.addr))
        .basic_auth(ID, Some(TOKEN))
        .json(&serde_json::json!({"from": "+1555", "to": "+1666", "answer_url": h.url("/answer"), "hangup_url": h.url("/hangup")}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 201);
    let v: Value = resp.json().await.expect("json");
    let uuid = v["call_uuid"].as_str().expect("uuid").to_owned();
    h.until("the answer fetch", |hits| hits.iter().any(|x| x.path == "/answer")).await;
    let (status, live) = h.req(Method::GET, &format!("/Call/{uuid}/"), None).await;
    assert_eq!(status, 200);
    assert_eq!(live["direction"], "inbound");
    assert_eq!(live["call_status"], "in-progress");
    let (_, listed) = h.req(Method::GET, "/Call/?status=live", None).await;
    assert_eq!(listed["calls"], serde_json::json!([uuid]));
    let resp = h
        .http
        .post(format!("http://{}/sim/Call/{uuid}/Digits/", h.server.addr))
        .basic_auth(ID, Some(TOKEN))
        .form(&[("digits", "7#")])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 202);
    h.until("the digits", |hits| hits.iter().any(|x| x.path == "/digits" && x.param("Digits") == Some("7"))).await;
    h.until("the hangup", |hits| hits.iter().any(|x| x.path == "/hangup")).await;
    // An ended call is no longer live but its record stays.
    h.settle().await;
    let (status, record) = h.req(Method::GET, &format!("/Call/{uuid}/"), None).await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["call_status"], "completed", "{record}");
    assert_eq!(record["hangup_cause_code"], 4010, "{record}");
    let (_, listed) = h.req(Method::GET, "/Call/?limit=5", None).await;
    assert_eq!(listed["objects"][0]["call_uuid"], uuid.as_str(), "{listed}");
    assert_eq!(listed["meta"]["total_count"], 1);
    let (_, live) = h.req(Method::GET, "/Call/?status=live", None).await;
    assert_eq!(live["calls"], serde_json::json!([]));
    h.server.stop().await.expect("stop");
}

/// `GET /sim/Settled/` waits while a webhook is on the wire: an application that never
/// answers keeps the server unsettled, and the wait ends with `settled: false` at its timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settled_waits_for_webhooks_on_the_wire() {
    let h = Harness::start().await;
    let url = |q: &str| format!("http://{}/sim/Settled/{q}", h.server.addr);
    let get = |u: String| h.http.get(u).basic_auth(ID, Some(TOKEN)).send();
    // Nothing has happened yet: settled at once.
    let v: Value = get(url("")).await.expect("send").json().await.expect("json");
    assert_eq!(v["settled"], true, "{v}");
    // An application that accepts the connection and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let answer = format!("http://{}/answer", silent.local_addr().expect("addr"));
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            open.push(sock);
        }
    });
    let body = serde_json::json!({ "from": "+14155550100", "to": "+14155550199", "answer_url": answer });
    let (status, v) = h.req(Method::POST, "/Call/", Some(body)).await;
    assert_eq!(status, 201, "{v}");
    let v: Value = get(url("?timeout_ms=300")).await.expect("send").json().await.expect("json");
    assert_eq!(v["settled"], false, "the answer fetch is still on the wire: {v}");
    let resp = get(url("?timeout_ms=soon")).await.expect("send");
    assert_eq!(resp.status().as_u16(), 400);
    held.abort();
    h.server.stop().await.expect("stop");
}
