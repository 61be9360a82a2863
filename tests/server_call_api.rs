//! `serve`'s Call API (record, play, speak, DTMF, cancel), Recording API, list filters and
//! paging, and the named 404 of endpoints plivo-flow does not implement, over real sockets on
//! 127.0.0.1: a webhook application in the test serves XML and records every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::Method;
use plivo_flow::server::{self, ServerConfig};
use serde_json::{Value, json};

const ID: &str = "MAXXXXXXXXXXXXXXXXXX";
const TOKEN: &str = "test-token";

/// One request the application received: its path and parameters.
#[derive(Debug, Clone)]
struct Hit {
    path: String,
    params: Vec<(String, String)>,
}

impl Hit {
    fn param(&self, k: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Default)]
struct App {
    docs: Arc<Mutex<HashMap<String, String>>>,
    hits: Arc<Mutex<Vec<Hit>>>,
}

async fn record(State(app): State<App>, req: Request) -> String {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_else(|_| Bytes::new());
    let mut params: Vec<(String, String)> =
        serde_urlencoded::from_str(parts.uri.query().unwrap_or("")).unwrap_or_default();
    if parts.method == Method::POST {
        params = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    }
    let path = parts.uri.path().to_owned();
    app.hits.lock().expect("lock").push(Hit { path: path.clone(), params });
    app.docs.lock().expect("lock").get(&path).cloned().unwrap_or_default()
}

struct Harness {
    app: App,
    app_base: String,
    base: String,
    api: String,
    http: reqwest::Client,
    server: server::Running,
}

impl Harness {
    async fn start() -> Harness {
        let app = App::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind app");
        let app_base = format!("http://{}", listener.local_addr().expect("addr"));
        let router = Router::new().fallback(record).with_state(app.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let config = ServerConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            auth_id: ID.to_owned(),
            auth_token: TOKEN.to_owned(),
            speed: 0.0,
            seed: 7,
            ..ServerConfig::default()
        };
        let server = server::start(config).await.expect("server");
        let base = format!("http://{}", server.addr);
        let api = format!("{base}/v1/Account/{ID}");
        Harness { app, app_base, base, api, http: reqwest::Client::new(), server }
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

    /// `method` on `path` under the account (a path starting with `/sim/` or `/v1/` is taken
    /// from the server's root), with a JSON body: the status and the JSON answer.
    async fn req(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = if path.starts_with("/sim/") || path.starts_with("/v1/") {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}", self.api)
        };
        let mut r = self.http.request(method, url).basic_auth(ID, Some(TOKEN));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.expect("send");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Starts a simulated inbound call from `from` to `to` running the document at `answer`.
    async fn sim_call(&self, answer: &str, from: &str, to: &str) -> String {
        let body = json!({ "from": from, "to": to, "answer_url": self.url(answer) });
        let (status, v) = self.req(Method::POST, "/sim/Call/", Some(body)).await;
        assert_eq!(status, 201, "{v}");
        v["call_uuid"].as_str().expect("uuid").to_owned()
    }

    /// Starts an outbound call through `POST Call/`: its request uuid.
    async fn make_call(&self, answer: &str, from: &str, to: &str) -> String {
        let body = json!({ "from": from, "to": to, "answer_url": self.url(answer) });
        let (status, v) = self.req(Method::POST, "/Call/", Some(body)).await;
        assert_eq!(status, 201, "{v}");
        v["request_uuid"].as_str().expect("uuid").to_owned()
    }

    async fn hangup(&self, uuid: &str) {
        let (status, v) = self.req(Method::DELETE, &format!("/sim/Call/{uuid}/"), None).await;
        assert_eq!(status, 204, "{v}");
    }

    /// Waits until the server has settled (no webhook in flight, nothing due now).
    async fn settle(&self) {
        let (status, v) = self.req(Method::GET, "/sim/Settled/", None).await;
        assert_eq!((status, &v["settled"]), (200, &json!(true)), "the server did not settle: {v}");
    }

    /// Waits until `uuid` is a call record (ended and forgotten by the engine).
    async fn until_record(&self, uuid: &str) {
        for _ in 0..1000 {
            let (_, v) = self.req(Method::GET, &format!("/Call/{uuid}/"), None).await;
            if v["call_status"] == "completed" {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("{uuid} never became a call record");
    }

    async fn transcript(&self) -> String {
        let resp = self.http.get(format!("{}/sim/Transcript/", self.base)).basic_auth(ID, Some(TOKEN));
        resp.send().await.expect("send").text().await.unwrap_or_default()
    }
}

/// The `api_id` and `error` of an error answer are there.
fn is_error(v: &Value) -> bool {
    v["api_id"].as_str().is_some_and(|s| !s.is_empty()) && v["error"].as_str().is_some_and(|s| !s.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unimplemented_endpoint_is_a_404_that_says_so() {
    let h = Harness::start().await;
    let (s, v) = h.req(Method::POST, "/Number/", Some(json!({"numbers": "1"}))).await;
    assert_eq!(s, 404, "{v}");
    assert!(is_error(&v), "{v}");
    assert_eq!(v["error"], format!("POST /v1/Account/{ID}/Number/ is not implemented by plivo-flow"));
    let (s, v) = h.req(Method::GET, "/Call/abc/Stream/xyz", None).await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["error"], format!("GET /v1/Account/{ID}/Call/abc/Stream/xyz/ is not implemented by plivo-flow"));
    // A real miss on an implemented endpoint keeps its own message.
    let (s, v) = h.req(Method::GET, "/Call/no-such-call/", None).await;
    assert_eq!(s, 404, "{v}");
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("no call no-such-call") && !e.contains("implemented")),
        "{v}"
    );
    // A wrong method on a known path stays a 405.
    let (s, v) = h.req(Method::PUT, "/Call/", None).await;
    assert_eq!(s, 405, "{v}");
    // Outside the account: no such resource, with the path.
    let (s, v) = h.req(Method::GET, "/sim/Nothing/", None).await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["error"], "no such resource: GET /sim/Nothing/");
    h.server.stop().await.expect("stop");
}
