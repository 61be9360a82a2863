//! `plivo-flow serve` against a misbehaving application and misbehaving clients, over real
//! sockets on 127.0.0.1: webhooks that never answer, answer with something that is not XML or
//! never stop sending; calls that end while their document is being fetched; REST requests
//! beyond every bound; and the shape of REST answers (204s, `member_id`, call objects, body
//! types). Every wait is bounded (10 s) and every stuck handler gives up by itself.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::Method;
use plivo_flow::server::{self, ServerConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ID: &str = "MAXXXXXXXXXXXXXXXXXX";
const TOKEN: &str = "test-token";

/// A request the application got: its path and parameters.
type Hit = (String, HashMap<String, String>);

#[derive(Clone)]
struct App {
    base: Arc<Mutex<String>>,
    hits: Arc<Mutex<Vec<Hit>>>,
    /// Opened by the test: `/stuck` requests then answer.
    gate: tokio::sync::watch::Sender<bool>,
    /// `/stuck` requests the server gave up (the handler was dropped before answering).
    dropped: Arc<AtomicUsize>,
    /// `/slow` requests' starts and ends, in the order they happened: `start KIND`,
    /// `end KIND` (KIND: the `ConferenceAction`, else the `kind` query parameter).
    events: Arc<Mutex<Vec<String>>>,
}

/// Counts a `/stuck` request that never got its answer out.
struct DropGuard(Arc<AtomicUsize>, bool);

impl Drop for DropGuard {
    fn drop(&mut self) {
        if self.1 {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

async fn app(State(app): State<App>, req: Request) -> Result<String, axum::http::StatusCode> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_else(|_| Bytes::new());
    let query = parts.uri.query().unwrap_or("");
    let mut params: HashMap<String, String> = serde_urlencoded::from_str(query).unwrap_or_default();
    if parts.method == Method::POST {
        params.extend(serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body).unwrap_or_default());
    }
    let path = parts.uri.path().to_owned();
    let kind = params.get("ConferenceAction").or(params.get("kind")).cloned().unwrap_or_default();
    app.hits.lock().expect("lock").push((path.clone(), params));
    let base = app.base.lock().expect("lock").clone();
    Ok(match path.as_str() {
        "/stuck" => {
            let mut guard = DropGuard(app.dropped.clone(), true);
            let mut open = app.gate.subscribe();
            let _ = tokio::time::timeout(Duration::from_secs(20), open.wait_for(|o| *o)).await;
            guard.1 = false;
            String::new()
        }
        "/slow" => {
            app.events.lock().expect("lock").push(format!("start {kind}"));
            tokio::time::sleep(Duration::from_millis(100)).await;
            app.events.lock().expect("lock").push(format!("end {kind}"));
            String::new()
        }
        "/slowroom" => format!(r#"<Response><Conference callbackUrl="{base}/slow">r</Conference></Response>"#),
        "/html" => "<html><body>Hello</body></html>".to_owned(),
        "/json" => r#"{"Response": "Speak"}"#.to_owned(),
        "/text" => "OK".to_owned(),
        "/fallback" => "<Response><Speak>from the fallback</Speak></Response>".to_owned(),
        "/park" => "<Response><Conference>park</Conference></Response>".to_owned(),
        "/status500" => return Err(axum::http::StatusCode::INTERNAL_SERVER_ERROR),
        "/room" => format!(r#"<Response><Conference callbackUrl="{base}/stuck">r</Conference></Response>"#),
        _ => String::new(),
    })
}

struct H {
    app: App,
    base: String,
    api: String,
    root: String,
    http: reqwest::Client,
    server: server::Running,
}

impl H {
    async fn start(config: ServerConfig) -> H {
        let (gate, _) = tokio::sync::watch::channel(false);
        let app = App {
            base: Arc::default(),
            hits: Arc::default(),
            gate,
            dropped: Arc::new(AtomicUsize::new(0)),
            events: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind app");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        *app.base.lock().expect("lock") = base.clone();
        let router = Router::new().fallback(self::app).with_state(app.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let config = ServerConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            auth_id: ID.to_owned(),
            auth_token: TOKEN.to_owned(),
            speed: 0.0,
            seed: 9,
            ..config
        };
        let server = server::start(config).await.expect("server");
        let root = format!("http://{}", server.addr);
        let api = format!("{root}/v1/Account/{ID}");
        H { app, base, api, root, http: reqwest::Client::new(), server }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn hits(&self, path: &str) -> Vec<HashMap<String, String>> {
        self.app.hits.lock().expect("lock").iter().filter(|(p, _)| p == path).map(|(_, q)| q.clone()).collect()
    }

    fn all_paths(&self) -> Vec<String> {
        self.app.hits.lock().expect("lock").iter().map(|(p, _)| p.clone()).collect()
    }

    /// Waits (at most 10 s) until `f` holds.
    async fn until(&self, what: &str, f: impl Fn(&H) -> bool) {
        for _ in 0..500 {
            if f(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("timed out waiting for {what}; the application saw {:?}", self.all_paths());
    }

    /// Starts an inbound call on the simulated phone; answers its uuid.
    async fn sim_call(&self, body: Value) -> String {
        let resp = self.http.post(format!("{}/sim/Call/", self.root)).basic_auth(ID, Some(TOKEN)).json(&body).send();
        let resp = resp.await.expect("send");
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.expect("json");
        assert_eq!(status, 201, "{v}");
        v["call_uuid"].as_str().expect("uuid").to_owned()
    }

    async fn sim_hangup(&self, uuid: &str) {
        let resp = self.http.delete(format!("{}/sim/Call/{uuid}/", self.root)).basic_auth(ID, Some(TOKEN)).send();
        assert_eq!(resp.await.expect("send").status().as_u16(), 204);
    }

    async fn post_call(&self, body: Value) -> (u16, Value) {
        let resp = self.http.post(format!("{}/Call/", self.api)).basic_auth(ID, Some(TOKEN)).json(&body).send();
        let resp = resp.await.expect("send");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn live_calls(&self) -> Value {
        let resp = self.http.get(format!("{}/Call/?status=live", self.api)).basic_auth(ID, Some(TOKEN)).send();
        let v: Value = resp.await.expect("send").json().await.expect("json");
        v["calls"].clone()
    }

    /// A call joins `/room` (whose enter callback, `/stuck`, never answers until the gate
    /// opens) with a `hangup_url`, and hangs up once that callback went out.
    async fn hang_up_behind_the_stuck_enter_callback(&self) {
        let uuid = self
            .sim_call(json!({"from": "+1555", "to": "+1666", "answer_url": self.url("/room"), "hangup_url": self.url("/hangup")}))
            .await;
        self.until("the enter callback", |h| h.hits("/stuck").len() == 1).await;
        self.sim_hangup(&uuid).await;
    }

    async fn stop(self) {
        self.app.gate.send_replace(true);
        self.server.stop().await.expect("stop");
    }
}

fn is_api_error(v: &Value) -> bool {
    v["api_id"].as_str().is_some_and(|s| !s.is_empty()) && v["error"].as_str().is_some_and(|s| !s.is_empty())
}

/// Item 6: a `callbackUrl` that never answers holds the call's `hangup_url` back only for the
/// hold; the hangup goes out while both stuck callbacks (enter, exit) are still waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_callback_holds_the_hangup_url_back_only_for_the_hold() {
    let h = H::start(ServerConfig { notify_hold: Duration::from_millis(200), ..ServerConfig::default() }).await;
    h.hang_up_behind_the_stuck_enter_callback().await;
    h.until("the hangup_url", |h| h.hits("/hangup").len() == 1).await;
    // Both callbacks are still waiting for the gate: the hangup did not wait for them.
    assert!(!*h.app.gate.borrow());
    assert_eq!(h.hits("/stuck").len(), 2, "enter and exit callbacks were sent");
    assert_eq!(h.app.dropped.load(Ordering::SeqCst), 0, "no callback was abandoned before its own timeout");
    // The order the call made them in is the order they started in.
    let paths = h.all_paths();
    let calls: Vec<&String> = paths.iter().filter(|p| p.as_str() != "/room").collect();
    assert_eq!(calls, ["/stuck", "/stuck", "/hangup"]);
    assert_eq!(h.hits("/stuck")[0].get("ConferenceAction").map(String::as_str), Some("enter"));
    assert_eq!(h.hits("/stuck")[1].get("ConferenceAction").map(String::as_str), Some("exit"));
    h.stop().await;
}

/// While a call's `hangup_url` waits behind a callback that never answers (the hold is long),
/// the server is not settled; once the callback answers, the hangup goes out and it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_waiting_behind_a_stuck_one_keeps_the_server_unsettled() {
    let h = H::start(ServerConfig { notify_hold: Duration::from_secs(30), ..ServerConfig::default() }).await;
    h.hang_up_behind_the_stuck_enter_callback().await;
    let settled = |h: &H, ms: u64| {
        let url = format!("{}/sim/Settled/?timeout_ms={ms}", h.root);
        let resp = h.http.get(url).basic_auth(ID, Some(TOKEN)).send();
        async move { resp.await.expect("send").json::<Value>().await.expect("json")["settled"].clone() }
    };
    assert_eq!(settled(&h, 300).await, json!(false), "the exit callback and the hangup_url wait");
    assert!(h.hits("/hangup").is_empty(), "the hangup_url waits behind the stuck callback");
    h.app.gate.send_replace(true);
    assert_eq!(settled(&h, 10_000).await, json!(true));
    assert_eq!(h.hits("/hangup").len(), 1);
    assert_eq!(h.hits("/stuck").len(), 2, "enter and exit callbacks were sent");
    h.stop().await;
}

/// A call's notifications made while one of them is on the wire (enter callback; then, at the
/// hangup, exit callback and `hangup_url`) arrive in the order the call made them, each once
/// the one before it has been answered (they take 100 ms each, well within the hold).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_s_notifications_arrive_in_order_one_after_the_other() {
    let h = H::start(ServerConfig::default()).await;
    let uuid = h
        .sim_call(
            json!({"from": "+1555", "to": "+1666", "answer_url": h.url("/slowroom"), "hangup_url": h.url("/slow?kind=hangup")}),
        )
        .await;
    h.until("the enter callback", |h| h.hits("/slow").len() == 1).await;
    h.sim_hangup(&uuid).await;
    h.until("three notifications answered", |h| h.app.events.lock().expect("lock").len() == 6).await;
    let events = h.app.events.lock().expect("lock").clone();
    assert_eq!(events, ["start enter", "end enter", "start exit", "end exit", "start hangup", "end hangup"]);
    h.stop().await;
}

/// Item 7: an answer URL that never answers gives way to `fallback_url` when its total
/// timeout (`#tt=`, or the server's default) is spent, whatever `rc` says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_never_answering_answer_url_gives_way_to_the_fallback_within_the_total_timeout() {
    let h = H::start(ServerConfig::default()).await;
    h.sim_call(json!({
        "from": "+1555", "to": "+1666",
        "answer_url": h.url("/stuck#ct=100&rt=40000&rc=5&rp=all&tt=300"),
        "fallback_url": h.url("/fallback"), "hangup_url": h.url("/hangup"),
    }))
    .await;
    h.until("the fallback", |h| h.hits("/fallback").len() == 1).await;
    assert_eq!(h.hits("/stuck").len(), 1, "one attempt used up the 300 ms total");
    h.until("the hangup_url", |h| h.hits("/hangup").len() == 1).await;
    assert_eq!(h.hits("/hangup")[0].get("HangupCauseCode").map(String::as_str), Some("4010"));
    h.stop().await;

    // Without `tt` the server's default total applies (Plivo's 55 s; here 300 ms).
    let h = H::start(ServerConfig { webhook_timeout: Duration::from_millis(300), ..ServerConfig::default() }).await;
    h.sim_call(json!({
        "from": "+1555", "to": "+1666", "answer_url": h.url("/stuck#rc=5&rp=all"),
        "fallback_url": h.url("/fallback"),
    }))
    .await;
    h.until("the fallback", |h| h.hits("/fallback").len() == 1).await;
    assert_eq!(h.hits("/stuck").len(), 1);
    h.stop().await;
}

/// A raw HTTP server on 127.0.0.1 that answers 200 with 200 KiB of body and then never ends
/// it (it gives up after 20 s or when the peer closes). Answers its URL.
async fn endless_body_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/big", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = sock.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ntransfer-encoding: chunked\r\n\r\n";
                let _ = sock.write_all(head.as_bytes()).await;
                let chunk = format!("{:x}\r\n{}\r\n", 1024, "<".repeat(1024));
                for _ in 0..200 {
                    if sock.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                }
                let _ = tokio::time::timeout(Duration::from_secs(20), sock.read(&mut buf)).await;
            });
        }
    });
    url
}

/// Item 8: a 2xx answer whose body is not valid Plivo XML (HTML, JSON, plain text, empty, a
/// body that never ends) makes the call request `fallback_url`; without a fallback the call
/// ends with 8011 (invalid answer XML).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_answer_bodies_go_to_the_fallback_url() {
    let h = H::start(ServerConfig::default()).await;
    let big = endless_body_server().await;
    let cases = [
        ("html", h.url("/html")),
        ("json", h.url("/json")),
        ("text", h.url("/text")),
        ("empty", h.url("/empty")),
        ("endless", big.clone()),
    ];
    for (case, answer) in &cases {
        h.sim_call(json!({
            "from": "+1555", "to": "+1666", "answer_url": answer,
            "fallback_url": h.url(&format!("/fallback?case={case}")), "hangup_url": h.url(&format!("/hangup?case={case}")),
        }))
        .await;
    }
    h.until("every fallback", |h| h.hits("/fallback").len() == cases.len()).await;
    h.until("every hangup", |h| h.hits("/hangup").len() == cases.len()).await;
    for (case, _) in &cases {
        let hangup = h.hits("/hangup").into_iter().find(|q| q.get("case").map(String::as_str) == Some(case));
        let hangup = hangup.unwrap_or_else(|| panic!("no hangup for {case}"));
        assert_eq!(hangup.get("HangupCauseCode").map(String::as_str), Some("4010"), "{case}: ran the fallback");
    }
    // No fallback: the call ends with 8011, also for the endless body.
    for answer in [h.url("/html"), big] {
        h.sim_call(
            json!({"from": "+1555", "to": "+1666", "answer_url": answer, "hangup_url": h.url("/hangup?case=none")}),
        )
        .await;
    }
    let nones =
        |h: &H| h.hits("/hangup").into_iter().filter(|q| q.get("case").map(String::as_str) == Some("none")).count();
    h.until("the hangups without fallback", |h| nones(h) == 2).await;
    for q in h.hits("/hangup").into_iter().filter(|q| q.get("case").map(String::as_str) == Some("none")) {
        assert_eq!(q.get("HangupCauseCode").map(String::as_str), Some("8011"));
    }
    assert_eq!(h.hits("/fallback").len(), cases.len());
    h.stop().await;
}

/// Item 9: a call that hangs up while its answer URL is being fetched stops the fetch: the
/// request in flight is abandoned and no retry follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_ended_stops_fetching_its_answer_url() {
    let h = H::start(ServerConfig::default()).await;
    let uuid = h
        .sim_call(json!({"from": "+1555", "to": "+1666", "answer_url": h.url("/stuck#rc=5&rp=all"), "hangup_url": h.url("/hangup")}))
        .await;
    h.until("the answer fetch", |h| h.hits("/stuck").len() == 1).await;
    h.sim_hangup(&uuid).await;
    h.until("the hangup_url", |h| h.hits("/hangup").len() == 1).await;
    h.until("the fetch to be abandoned", |h| h.app.dropped.load(Ordering::SeqCst) == 1).await;
    // Retries would follow at once (rp=all); none came.
    let stuck_after = h.hits("/stuck").len();
    let resp = h.http.get(format!("{}/Call/{uuid}/", h.api)).basic_auth(ID, Some(TOKEN)).send().await.expect("send");
    let record: Value = resp.json().await.expect("json");
    assert_eq!(record["call_status"], "completed", "{record}");
    assert_eq!(stuck_after, 1, "no retry after the call ended");
    h.stop().await;
}

/// Item 10: bulk calls take at most 1,000 destinations; a request body is at most 1 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_destinations_and_request_bodies_are_bounded() {
    let h = H::start(ServerConfig::default()).await;
    let many: Vec<String> = (0..1001).map(|i| format!("+1555{i:07}")).collect();
    let (status, v) = h.post_call(json!({"from": "+1555", "to": many.join("<"), "answer_url": h.url("/empty")})).await;
    assert_eq!(status, 400, "{v}");
    assert!(is_api_error(&v) && v["error"].as_str().is_some_and(|e| e.contains("1000")), "{v}");
    assert_eq!(h.live_calls().await, json!([]), "no call of a refused bulk request started");
    let (status, v) =
        h.post_call(json!({"from": "+1555", "to": "+1666<+1777<+1888", "answer_url": h.url("/stuck")})).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["request_uuid"].as_array().map(Vec::len), Some(3), "{v}");
    let body = json!({"from": "+1555", "to": "+1666", "answer_url": h.url("/empty"), "pad": "x".repeat(2 << 20)});
    let (status, v) = h.post_call(body).await;
    assert_eq!(status, 413, "{v}");
    assert!(is_api_error(&v), "{v}");
    h.stop().await;
}

/// Sends `head` (a request head without the final blank line) over a fresh connection and
/// answers the status, the `content-type` and the body (read until the server closes).
async fn raw(addr: std::net::SocketAddr, head: &str) -> (u16, String, String) {
    let mut sock = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let auth = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("{ID}:{TOKEN}"))
    };
    let req = format!("{head}\r\nhost: 127.0.0.1\r\nauthorization: Basic {auth}\r\nconnection: close\r\n\r\n");
    // hyper may answer and close before it has read everything.
    let _ = sock.write_all(req.as_bytes()).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut out)).await;
    let out = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((out.as_str(), ""));
    let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let ctype = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type: ").map(str::to_owned))
        .unwrap_or_default();
    (status, ctype, body.to_owned())
}

/// Live calls are bounded: a request that would start more than `max_calls` is a 429 and
/// starts none (a bulk request too), and calls start again once others have ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_calls_are_bounded() {
    let h = H::start(ServerConfig { max_calls: 2, ..ServerConfig::default() }).await;
    let first = park(&h, 1).await.remove(0);
    let (status, v) = h.post_call(json!({"from": "+1555", "to": "+1666<+1777", "answer_url": h.url("/park")})).await;
    assert_eq!(status, 429, "{v}");
    assert!(is_api_error(&v), "{v}");
    assert_eq!(h.live_calls().await.as_array().map(Vec::len), Some(1), "none of the bulk started");
    let (status, v) = h.post_call(json!({"from": "+1555", "to": "+1666", "answer_url": h.url("/park")})).await;
    assert_eq!(status, 201, "{v}");
    let resp = h.http.post(format!("{}/sim/Call/", h.root)).basic_auth(ID, Some(TOKEN));
    let resp = resp.json(&json!({"from": "+1", "to": "+2", "answer_url": h.url("/park")})).send().await.expect("send");
    assert_eq!(resp.status().as_u16(), 429);
    h.sim_hangup(&first).await;
    let mut status = 0;
    for _ in 0..500 {
        (status, _) = h.post_call(json!({"from": "+1555", "to": "+1666", "answer_url": h.url("/park")})).await;
        if status == 201 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, 201, "a call starts once another has ended");
    h.stop().await;
}

/// Item 11: requests hyper refuses before any handler runs (a 100 KB room name, a member list
/// beyond hyper's URI limit, 1,000 headers, a request line that is not HTTP) are answered in
/// JSON too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_s_own_refusals_are_json() {
    let h = H::start(ServerConfig::default()).await;
    let path = format!("/v1/Account/{ID}");
    let room = "r".repeat(100 * 1024);
    let members: Vec<String> = (1..=10_000).map(|i| format!("{i:06}")).collect();
    let headers: String = (0..1000).map(|i| format!("\r\nx-h{i}: v")).collect();
    let cases = [
        (414, format!("GET {path}/Conference/{room}/ HTTP/1.1")),
        (414, format!("DELETE {path}/Conference/r/Member/{}/ HTTP/1.1", members.join(","))),
        (431, format!("GET {path}/Conference/ HTTP/1.1{headers}")),
        (400, "NOT HTTP AT ALL".to_owned()),
    ];
    for (want, head) in cases {
        let (status, ctype, body) = raw(h.server.addr, &head).await;
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert_eq!(status, want, "{}: {body}", head.get(..40).unwrap_or(""));
        assert_eq!(ctype, "application/json");
        assert!(is_api_error(&v), "{body}");
    }
    // A 10,000-id list within hyper's limit reaches the API: a JSON 4xx (no such room).
    let short: Vec<String> = (1..=10_000).map(|i| i.to_string()).collect();
    let (status, ctype, body) =
        raw(h.server.addr, &format!("DELETE {path}/Conference/r/Member/{}/ HTTP/1.1", short.join(","))).await;
    assert!((400..500).contains(&status), "{status} {body}");
    assert_eq!(ctype, "application/json");
    assert!(is_api_error(&serde_json::from_str(&body).unwrap_or(Value::Null)), "{body}");
    // The server still serves after all that.
    let (status, _, body) = raw(h.server.addr, &format!("GET {path}/Conference/ HTTP/1.1")).await;
    assert_eq!(status, 200, "{body}");
    h.stop().await;
}

/// Item 12: every failed authentication gets the same answer, whichever account the path
/// names (a request without credentials is told they are missing, whatever the account); the
/// `Basic` scheme is matched in any case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_authentication_does_not_tell_accounts_apart() {
    let h = H::start(ServerConfig::default()).await;
    let mut answers = Vec::new();
    for (account, creds) in
        [(ID, Some("wrong")), ("MAOTHERACCOUNT000001", Some("wrong")), (ID, None), ("MAOTHERACCOUNT000001", None)]
    {
        let mut r = h.http.get(format!("{}/v1/Account/{account}/Call/", h.root));
        if let Some(token) = creds {
            r = r.basic_auth(ID, Some(token));
        }
        let resp = r.send().await.expect("send");
        let status = resp.status().as_u16();
        let www = resp.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let v: Value = resp.json().await.expect("json");
        assert!(is_api_error(&v), "{v}");
        answers.push((status, www, v["error"].clone()));
    }
    let (answers, missing) = answers.split_at(2);
    assert_eq!(answers[0].0, 401);
    assert!(!answers[0].1.is_empty());
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert_eq!(missing[0].0, 401);
    assert!(missing[0].2.as_str().unwrap_or("").contains("missing credentials"), "{missing:?}");
    assert!(missing.iter().all(|a| *a == missing[0]), "{missing:?}");
    // Right credentials, another account: the same answer again.
    let resp = h.http.get(format!("{}/v1/Account/MAOTHERACCOUNT000001/Call/", h.root)).basic_auth(ID, Some(TOKEN));
    let resp = resp.send().await.expect("send");
    assert_eq!(resp.status().as_u16(), 401);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["error"], answers[0].2);
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{ID}:{TOKEN}"));
    for scheme in ["BASIC", "basic", "bAsIc"] {
        let resp = h.http.get(format!("{}/Call/", h.api)).header("authorization", format!("{scheme} {encoded}"));
        assert_eq!(resp.send().await.expect("send").status().as_u16(), 200, "{scheme}");
    }
    h.stop().await;
}

/// Item 13: a `to` that names no destination and a URL that does not parse are 400s, and no
/// call starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_destinations_and_unparsable_urls_are_refused() {
    let h = H::start(ServerConfig::default()).await;
    for body in [
        json!({"from": "+1555", "to": "<<<<", "answer_url": h.url("/empty")}),
        json!({"from": "+1555", "to": " < ", "answer_url": h.url("/empty")}),
        json!({"from": "+1555", "to": "+1666", "answer_url": "http://[::1"}),
        json!({"from": "+1555", "to": "+1666", "answer_url": h.url("/empty"), "hangup_url": "http://[::1"}),
        json!({"from": "+1555", "to": "+1666", "answer_url": h.url("/empty"), "fallback_url": "http://"}),
    ] {
        let (status, v) = h.post_call(body.clone()).await;
        assert_eq!(status, 400, "{body} → {v}");
        assert!(is_api_error(&v), "{v}");
    }
    assert_eq!(h.live_calls().await, json!([]));
    assert!(h.all_paths().is_empty(), "no answer URL was requested");
    h.stop().await;
}

/// Parks `n` callers in the room `park`; answers their uuids once all are in.
async fn park(h: &H, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let body = json!({"from": format!("+1555{i}"), "to": "+1666", "answer_url": h.url("/park"), "hangup_url": h.url("/hangup")});
        ids.push(h.sim_call(body).await);
    }
    for _ in 0..500 {
        let resp = h.http.get(format!("{}/Conference/park/", h.api)).basic_auth(ID, Some(TOKEN)).send().await;
        let v: Value = resp.expect("send").json().await.unwrap_or(Value::Null);
        if v["members"].as_array().map_or(0, Vec::len) == n {
            return ids;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the callers did not all reach the room");
}

/// Issue 11, item 1: a 204 has no body and says `Content-Type: application/json`, as Plivo's do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_content_answers_say_json_and_have_no_body() {
    let h = H::start(ServerConfig::default()).await;
    park(&h, 1).await;
    for (method, path) in [
        (Method::DELETE, "/Conference/park/Member/1/Mute/"),
        (Method::DELETE, "/Conference/park/Member/1/Deaf/"),
        (Method::DELETE, "/Conference/park/"),
        (Method::DELETE, "/Conference/"),
    ] {
        let resp = h.http.request(method, format!("{}{path}", h.api)).basic_auth(ID, Some(TOKEN)).send().await;
        let resp = resp.expect("send");
        assert_eq!(resp.status().as_u16(), 204, "{path}");
        // Plivo sends `Content-Type: application/json` on its 204s; the Ruby SDK needs it.
        assert_eq!(
            resp.headers().get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "{path}: {:?}",
            resp.headers()
        );
        assert!(resp.bytes().await.expect("body").is_empty(), "{path}");
    }
    h.stop().await;
}

/// Issue 11, item 2: `member_id` in a member action's answer is a list of the members it
/// applied to for the Java and Go SDKs (which decode a list) and the requested string for
/// every other client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_id_has_the_shape_the_client_s_sdk_reads() {
    let h = H::start(ServerConfig::default()).await;
    park(&h, 2).await;
    let agents = [
        (
            Some("plivo-java/5.46.0 (Implementation: Eclipse Adoptium 17.0.2, Specification: Oracle 17)"),
            json!(["1", "2"]),
        ),
        (Some("plivo-go/7.60.2 (Go: go1.22.1)"), json!(["1", "2"])),
        (Some("plivo-dotnet/5.49.0"), json!("all")),
        (Some("plivo-python/4.63.0 (Python: 3.11.7)"), json!("all")),
        (Some("plivo-node/4.79.0 (Node: v20.20.2)"), json!("all")),
        (None, json!("all")),
    ];
    for (agent, want) in agents {
        for action in ["Mute", "Deaf"] {
            let mut r =
                h.http.post(format!("{}/Conference/park/Member/all/{action}/", h.api)).basic_auth(ID, Some(TOKEN));
            if let Some(a) = agent {
                r = r.header("user-agent", a);
            }
            let resp = r.send().await.expect("send");
            assert_eq!(resp.status().as_u16(), 202);
            let v: Value = resp.json().await.expect("json");
            assert_eq!(v["member_id"], want, "{agent:?} {action}: {v}");
        }
    }
    h.stop().await;
}

/// Issue 11, item 3: call objects carry every key Plivo documents, `null` where the
/// simulation has no value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_objects_carry_every_documented_key() {
    let h = H::start(ServerConfig::default()).await;
    let uuid = park(&h, 1).await.remove(0);
    let get = |uuid: String| {
        let r = h.http.get(format!("{}/Call/{uuid}/", h.api)).basic_auth(ID, Some(TOKEN)).send();
        async move { r.await.expect("send").json::<Value>().await.expect("json") }
    };
    let live = get(uuid.clone()).await;
    for key in ["call_uuid", "direction", "from", "to", "call_status", "session_start", "stir_verification"] {
        assert!(live.get(key).is_some(), "live call lacks `{key}`: {live}");
    }
    h.sim_hangup(&uuid).await;
    let mut record = Value::Null;
    for _ in 0..500 {
        record = get(uuid.clone()).await;
        if record["call_status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for key in [
        "answer_time",
        "end_time",
        "initiation_time",
        "call_state",
        "parent_call_uuid",
        "conference_uuid",
        "resource_uri",
        "source_ip",
        "total_amount",
        "total_rate",
        "voice_network_group",
        "cnam_lookup",
        "stir_verification",
        "hangup_cause_code",
        "bill_duration",
    ] {
        assert!(record.get(key).is_some(), "call record lacks `{key}`: {record}");
    }
    assert_eq!(record["resource_uri"], format!("/v1/Account/{ID}/Call/{uuid}/"));
    h.stop().await;
}

/// Issue 11, item 4: a `multipart/form-data` body is read like a form; a body of another type
/// (`text/plain`, XML) is a 415 that names the type and what is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_bodies_are_read_and_other_types_are_named() {
    let h = H::start(ServerConfig::default()).await;
    let boundary = "XyZzY";
    let mut body = String::new();
    for (k, v) in [("from", "+1555".to_owned()), ("to", "+1666".to_owned()), ("answer_url", h.url("/park"))] {
        body.push_str(&format!("--{boundary}\r\ncontent-disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let resp = h.http.post(format!("{}/Call/", h.api)).basic_auth(ID, Some(TOKEN));
    let resp = resp.header("content-type", format!("multipart/form-data; boundary={boundary}")).body(body);
    let resp = resp.send().await.expect("send");
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.expect("json");
    assert_eq!(status, 201, "{v}");
    assert!(v["request_uuid"].is_string(), "{v}");
    for ctype in ["text/plain", "application/xml; charset=utf-8"] {
        let resp = h.http.post(format!("{}/Call/", h.api)).basic_auth(ID, Some(TOKEN));
        let resp = resp.header("content-type", ctype).body(r#"{"from":"+1555"}"#).send().await.expect("send");
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.expect("json");
        assert_eq!(status, 415, "{ctype}: {v}");
        let error = v["error"].as_str().unwrap_or("");
        assert!(is_api_error(&v) && error.contains(ctype.split(';').next().unwrap_or("")), "{v}");
        assert!(error.contains("multipart/form-data"), "{v}");
    }
    // A multipart body without its boundary is a 400.
    let resp = h.http.post(format!("{}/Call/", h.api)).basic_auth(ID, Some(TOKEN));
    let resp = resp.header("content-type", "multipart/form-data").body("x").send().await.expect("send");
    assert_eq!(resp.status().as_u16(), 400);
    h.stop().await;
}

/// Issue 11 item 16: a notification that fails leaves a trace: a `reply` line in the
/// transcript (and a warning in the log) with its URL and why — here a `hangup_url` whose
/// application answers 500 and one nobody listens on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_notifications_show_in_the_transcript() {
    let h = H::start(ServerConfig::default()).await;
    let refused = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = l.local_addr().expect("addr").port();
        drop(l);
        format!("http://127.0.0.1:{port}/gone")
    };
    let bad = h.url("/status500");
    let a = h.sim_call(json!({"from": "+1555", "to": "+1666", "answer_url": h.url("/park"), "hangup_url": bad})).await;
    let b =
        h.sim_call(json!({"from": "+1555", "to": "+1666", "answer_url": h.url("/park"), "hangup_url": refused})).await;
    h.sim_hangup(&a).await;
    h.sim_hangup(&b).await;
    let resp = h.http.get(format!("{}/sim/Settled/", h.root)).basic_auth(ID, Some(TOKEN)).send().await.expect("send");
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["settled"], true, "{v}");
    let text = h.http.get(format!("{}/sim/Transcript/", h.root)).basic_auth(ID, Some(TOKEN)).send().await;
    let text = text.expect("send").text().await.expect("text");
    let line = |call: &str, url: &str| {
        text.lines().find(|l| l.contains(&format!("{call}  {url} failed: "))).map(str::to_owned)
    };
    let a_line = line(&a, &h.url("/status500")).unwrap_or_else(|| panic!("no failure line for {a}:\n{text}"));
    assert!(a_line.contains("HTTP 500"), "{a_line}");
    let b_line = line(&b, &refused).unwrap_or_else(|| panic!("no failure line for {b}:\n{text}"));
    assert!(b_line.contains("refused"), "{b_line}");
    h.stop().await;
}
