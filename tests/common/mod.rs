//! The harness the `tests/server_*.rs` files that include it share (`server_call_api`,
//! `server_far_end`, `server_clock`, `server_recording_files`): a webhook application on 127.0.0.1 that serves XML by
//! path and records every request, and `plivo-flow serve` in the same process (at `--speed 0`
//! unless [`Harness::start_with`] says otherwise), driven over HTTP; and [`spawn_app`], an
//! application on a thread of its own for tests that run the CLI (`live.rs`, `cassette.rs`). Each test file adds
//! its own helpers in an `impl Harness` of its own.
#![allow(dead_code)] // each test crate uses a part of it

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::Method;
use plivo_flow::server::{self, ServerConfig};
use serde_json::{Value, json};

pub const ID: &str = "MAXXXXXXXXXXXXXXXXXX";
pub const TOKEN: &str = "test-token";

/// One request the application received: its path and parameters.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub params: Vec<(String, String)>,
    /// When the app got it.
    pub at: std::time::Instant,
}

impl Hit {
    pub fn param(&self, k: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Default)]
pub struct App {
    pub docs: Arc<Mutex<HashMap<String, String>>>,
    pub hits: Arc<Mutex<Vec<Hit>>>,
}

impl App {
    /// An app on a free port of the current runtime, recording every hit and answering the
    /// documents put in `docs` by path; with its base URL.
    pub async fn spawn() -> (App, String) {
        let app = App::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind app");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let router = Router::new().fallback(record).with_state(app.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        (app, base)
    }
}

pub async fn record(State(app): State<App>, req: Request) -> String {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_else(|_| Bytes::new());
    let mut params: Vec<(String, String)> =
        serde_urlencoded::from_str(parts.uri.query().unwrap_or("")).unwrap_or_default();
    if parts.method == Method::POST {
        params = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    }
    let path = parts.uri.path().to_owned();
    app.hits.lock().expect("lock").push(Hit { path: path.clone(), params, at: std::time::Instant::now() });
    app.docs.lock().expect("lock").get(&path).cloned().unwrap_or_default()
}

pub struct Harness {
    pub app: App,
    /// The application's root, `http://127.0.0.1:PORT`.
    pub app_base: String,
    /// The server's root.
    pub base: String,
    /// `{base}/v1/Account/{ID}`.
    pub api: String,
    pub http: reqwest::Client,
    pub server: server::Running,
}

impl Harness {
    /// The harness at `--speed 0`, seed 7.
    pub async fn start() -> Harness {
        Harness::start_with(0.0, 7).await
    }

    /// The harness with the server at `speed` (`serve --speed`) and `seed`.
    pub async fn start_with(speed: f64, seed: u64) -> Harness {
        let (app, app_base) = App::spawn().await;
        let config = ServerConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            auth_id: ID.to_owned(),
            auth_token: TOKEN.to_owned(),
            speed,
            seed,
            ..ServerConfig::default()
        };
        let server = server::start(config).await.expect("server");
        let base = format!("http://{}", server.addr);
        let api = format!("{base}/v1/Account/{ID}");
        Harness { app, app_base, base, api, http: reqwest::Client::new(), server }
    }

    pub fn serve(&self, path: &str, xml: &str) {
        self.app.docs.lock().expect("lock").insert(path.to_owned(), xml.to_owned());
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.app_base)
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.app.hits.lock().expect("lock").clone()
    }

    /// `method` on `path` under the account (a path starting with `/sim/` or `/v1/` is taken
    /// from the server's root), with a JSON body: the status and the JSON answer.
    pub async fn req(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
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
    pub async fn sim_call(&self, answer: &str, from: &str, to: &str) -> String {
        let body = json!({ "from": from, "to": to, "answer_url": self.url(answer) });
        let (status, v) = self.req(Method::POST, "/sim/Call/", Some(body)).await;
        assert_eq!(status, 201, "{v}");
        v["call_uuid"].as_str().expect("uuid").to_owned()
    }

    /// Waits until the server has settled (no webhook in flight, nothing due now).
    pub async fn settle(&self) {
        let (status, v) = self.req(Method::GET, "/sim/Settled/", None).await;
        assert_eq!((status, &v["settled"]), (200, &json!(true)), "the server did not settle: {v}");
    }
}

/// Serves the router `make` builds (given the application's base URL,
/// `http://127.0.0.1:PORT`) from a thread and runtime of its own, for tests whose server is a
/// subprocess (`plivo-flow run --live`); returns the base URL once it listens.
pub fn spawn_app(make: impl FnOnce(&str) -> Router + Send + 'static) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind app");
            let base = format!("http://{}", listener.local_addr().expect("addr"));
            let router = make(&base);
            tx.send(base).expect("send");
            let _ = axum::serve(listener, router).await;
        });
    });
    rx.recv().expect("app address")
}
