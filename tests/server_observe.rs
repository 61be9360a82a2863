//! Observing `plivo-flow serve`: where its credentials come from (the token is never printed),
//! the `X-Plivo-Flow` header and `GET /sim/Health/`, the transcript's filters and JSON form,
//! answers to requests without credentials, a `+` decoded as a space, named webhook failures,
//! and logs without colour codes when stderr is not a terminal. Loopback only; every wait is
//! bounded (10–20 s) and spawned servers are killed at the end.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use axum::Router;
use plivo_flow::server::{self, ServerConfig};
use serde_json::{Value, json};

const ID: &str = "MAXXXXXXXXXXXXXXXXXX";
const TOKEN: &str = "test-token";
const DEV_ID: &str = server::DEV_AUTH_ID;
const DEV_TOKEN: &str = server::DEV_AUTH_TOKEN;

// ------------------------------------------------------------------ the binary

/// A spawned `plivo-flow serve`, killed when dropped.
struct Spawned {
    child: Child,
    /// The banner line (stdout).
    banner: String,
    /// `http://addr` from the banner.
    root: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Spawned {
    fn output(&self) -> String {
        let out = self.stdout.lock().expect("lock").clone();
        let err = self.stderr.lock().expect("lock").clone();
        format!("{out}{err}")
    }
}

/// Spawns `plivo-flow serve --listen 127.0.0.1:0 --speed 0 ARGS` with `envs` (and no other
/// PLIVO_ variable), stdout and stderr piped; waits (at most 20 s) for the banner.
fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Spawned {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plivo-flow"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--speed", "0"]).args(args);
    cmd.env_remove("PLIVO_AUTH_ID").env_remove("PLIVO_AUTH_TOKEN").env("RUST_LOG", "info");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let stdout = Arc::new(Mutex::new(String::new()));
    let stderr = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel::<String>();
    let out = child.stdout.take().expect("stdout");
    let sink = stdout.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            sink.lock().expect("lock").push_str(&format!("{line}\n"));
            let _ = tx.send(line);
        }
    });
    let mut err = child.stderr.take().expect("stderr");
    let sink = stderr.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().expect("lock").push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let mut spawned = Spawned { child, banner: String::new(), root: String::new(), stdout, stderr };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while spawned.banner.is_empty() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.starts_with("plivo-flow serve: ") => spawned.banner = line,
            Ok(_) => {}
            Err(_) => panic!("no banner within 20 s; output: {}", spawned.output()),
        }
    }
    let url = spawned.banner.split_whitespace().nth(2).expect("url in the banner");
    let root = url.split("/v1/").next().expect("root").to_owned();
    spawned.root = root;
    spawned
}

/// A port nothing listens on (bound, then closed).
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}

/// Polls `GET /sim/Transcript/` (at most 10 s) until its text contains `needle`.
async fn until_transcript(http: &reqwest::Client, root: &str, auth: (&str, &str), needle: &str) -> String {
    let mut last = String::new();
    for _ in 0..500 {
        let resp = http.get(format!("{root}/sim/Transcript/")).basic_auth(auth.0, Some(auth.1)).send().await;
        if let Ok(r) = resp {
            last = r.text().await.unwrap_or_default();
            if last.contains(needle) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the transcript never showed {needle:?}:\n{last}");
}

/// Item 1 and 5: real-looking credentials exported in the environment are not used without
/// `--auth-from-env`, the token is never printed, one line says the variables are ignored, the
/// development pair authenticates; and logs on a pipe have no ANSI escape codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_ignores_exported_credentials_and_never_prints_a_token() {
    let s = spawn(&[], &[("PLIVO_AUTH_ID", "MAREALACCOUNT0000001"), ("PLIVO_AUTH_TOKEN", "secret")]);
    assert!(s.banner.contains("development pair"), "{}", s.banner);
    assert!(s.banner.contains(DEV_ID), "{}", s.banner);
    let http = reqwest::Client::new();
    let resp = http.get(format!("{}/v1/Account/{DEV_ID}/Call/", s.root)).basic_auth(DEV_ID, Some(DEV_TOKEN));
    assert_eq!(resp.send().await.expect("send").status().as_u16(), 200);
    let resp = http.get(format!("{}/v1/Account/MAREALACCOUNT0000001/Call/", s.root));
    let resp = resp.basic_auth("MAREALACCOUNT0000001", Some("secret")).send().await.expect("send");
    assert_eq!(resp.status().as_u16(), 401, "the environment's pair is not in use");
    // Some log lines: a call whose answer URL is refused.
    let port = closed_port().await;
    let body = json!({"from": "1", "to": "2", "answer_url": format!("http://127.0.0.1:{port}/answer")});
    let resp = http.post(format!("{}/sim/Call/", s.root)).basic_auth(DEV_ID, Some(DEV_TOKEN)).json(&body);
    assert_eq!(resp.send().await.expect("send").status().as_u16(), 201);
    until_transcript(&http, &s.root, (DEV_ID, DEV_TOKEN), "hung up").await;
    // The log line of the hangup reaches stderr shortly after the transcript has it.
    for _ in 0..500 {
        if s.stderr.lock().expect("lock").contains("hung up") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let out = s.output();
    assert!(out.contains("hung up"), "the log has the call's lines: {out}");
    assert!(!out.contains("secret"), "the token was printed: {out}");
    assert!(!out.contains(DEV_TOKEN), "a token was printed: {out}");
    let notes: Vec<&str> = out.lines().filter(|l| l.contains("PLIVO_AUTH_") && l.contains("not used")).collect();
    assert_eq!(notes.len(), 1, "one line says the environment is ignored: {out}");
    assert!(notes[0].contains("--auth-from-env"), "{out}");
    let stderr = s.stderr.lock().expect("lock").clone();
    assert!(!stderr.contains("\x1b["), "colour codes on a pipe: {stderr:?}");
}

/// Item 4: at the debug level the log shows every parameter a request carried, the standard
/// ones (`From`, `To`, `CallStatus`, …) the request's text line leaves out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_debug_log_shows_every_request_parameter() {
    let s = spawn(&[], &[("RUST_LOG", "plivo_flow=debug")]);
    let http = reqwest::Client::new();
    let port = closed_port().await;
    let body =
        json!({"from": "+14155550100", "to": "+14155550111", "answer_url": format!("http://127.0.0.1:{port}/answer")});
    let resp = http.post(format!("{}/sim/Call/", s.root)).basic_auth(DEV_ID, Some(DEV_TOKEN)).json(&body);
    assert_eq!(resp.send().await.expect("send").status().as_u16(), 201);
    until_transcript(&http, &s.root, (DEV_ID, DEV_TOKEN), "hung up").await;
    let mut line = String::new();
    for _ in 0..500 {
        let err = s.stderr.lock().expect("lock").clone();
        if let Some(l) = err.lines().find(|l| l.contains("request parameters")) {
            line = l.to_owned();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for want in ["\"From\", \"+14155550100\"", "\"To\", \"+14155550111\"", "\"CallStatus\"", "\"CallUUID\""] {
        assert!(line.contains(want), "{want} missing from the debug line: {line:?}\n{}", s.output());
    }
}

/// Item 1: `--auth-from-env` uses the environment's pair, and still never prints the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_from_env_uses_the_environment_and_says_so() {
    let s = spawn(&["--auth-from-env"], &[("PLIVO_AUTH_ID", "MAENVACCOUNT00000001"), ("PLIVO_AUTH_TOKEN", "secret")]);
    assert!(s.banner.contains("environment"), "{}", s.banner);
    assert!(s.banner.contains("MAENVACCOUNT00000001"), "{}", s.banner);
    let http = reqwest::Client::new();
    let resp = http.get(format!("{}/v1/Account/MAENVACCOUNT00000001/Call/", s.root));
    let resp = resp.basic_auth("MAENVACCOUNT00000001", Some("secret")).send().await.expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    let resp = http.get(format!("{}/v1/Account/{DEV_ID}/Call/", s.root)).basic_auth(DEV_ID, Some(DEV_TOKEN));
    assert_eq!(resp.send().await.expect("send").status().as_u16(), 401);
    let out = s.output();
    assert!(!out.contains("secret"), "{out}");
    assert!(!out.contains("not used"), "{out}");
}

/// Item 1: with flags, the flags win and nothing prints the token either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_set_the_credentials_and_the_token_stays_unprinted() {
    let s = spawn(&["--auth-id", ID, "--auth-token", "flag-secret"], &[]);
    assert!(s.banner.contains("--auth-id/--auth-token") && s.banner.contains(ID), "{}", s.banner);
    let http = reqwest::Client::new();
    let resp = http.get(format!("{}/v1/Account/{ID}/Call/", s.root)).basic_auth(ID, Some("flag-secret"));
    assert_eq!(resp.send().await.expect("send").status().as_u16(), 200);
    assert!(!s.output().contains("flag-secret"), "{}", s.output());
}

// ------------------------------------------------------------------ in process

/// A server in this process, and an application that serves `/gather` and never answers
/// `/stuck`.
struct H {
    server: server::Running,
    root: String,
    api: String,
    app: String,
    http: reqwest::Client,
}

impl H {
    async fn start() -> H {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind app");
        let app = format!("http://{}", listener.local_addr().expect("addr"));
        let router = Router::new()
            .route(
                "/gather",
                axum::routing::any(|| async {
                    r#"<Response><GetDigits action="/digits" timeout="30"><Speak>Press</Speak></GetDigits></Response>"#
                }),
            )
            .route("/hello", axum::routing::any(|| async { "<Response><Speak>Hello</Speak></Response>" }))
            .route(
                "/stuck",
                axum::routing::any(|| async {
                    tokio::time::sleep(Duration::from_secs(15)).await;
                    ""
                }),
            );
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let config = ServerConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            auth_id: ID.to_owned(),
            auth_token: TOKEN.to_owned(),
            speed: 0.0,
            seed: 15,
            ..ServerConfig::default()
        };
        let server = server::start(config).await.expect("server");
        let root = format!("http://{}", server.addr);
        let api = format!("{root}/v1/Account/{ID}");
        H { server, root, api, app, http: reqwest::Client::new() }
    }

    async fn sim_call(&self, body: Value) -> (u16, Value) {
        let resp = self.http.post(format!("{}/sim/Call/", self.root)).basic_auth(ID, Some(TOKEN)).json(&body);
        let resp = resp.send().await.expect("send");
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }

    async fn transcript(&self, query: &str) -> (u16, String) {
        let resp = self.http.get(format!("{}/sim/Transcript/{query}", self.root)).basic_auth(ID, Some(TOKEN));
        let resp = resp.send().await.expect("send");
        (resp.status().as_u16(), resp.text().await.unwrap_or_default())
    }

    async fn until(&self, needle: &str) -> String {
        until_transcript(&self.http, &self.root, (ID, TOKEN), needle).await
    }
}

/// Item 2: every answer carries `X-Plivo-Flow: <version>` (successes, 401, 404, 405, and
/// hyper's own 400 rewritten on the wire); `GET /sim/Health/` answers without credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_says_it_comes_from_plivo_flow() {
    let h = H::start().await;
    let version = env!("CARGO_PKG_VERSION");
    let cases = [
        (reqwest::Method::GET, format!("{}/Call/", h.api), true, 200),
        (reqwest::Method::GET, format!("{}/Call/", h.api), false, 401),
        (reqwest::Method::GET, format!("{}/Nothing/", h.api), true, 404),
        (reqwest::Method::PUT, format!("{}/Call/", h.api), true, 405),
        (reqwest::Method::GET, format!("{}/sim/Health/", h.root), false, 200),
        (reqwest::Method::GET, format!("{}/sim/Health", h.root), false, 200),
    ];
    for (method, url, auth, status) in cases {
        let mut r = h.http.request(method.clone(), &url);
        if auth {
            r = r.basic_auth(ID, Some(TOKEN));
        }
        let resp = r.send().await.expect("send");
        assert_eq!(resp.status().as_u16(), status, "{method} {url}");
        let header = resp.headers().get("x-plivo-flow").and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(header.as_deref(), Some(version), "{method} {url}");
    }
    let health: Value =
        h.http.get(format!("{}/sim/Health/", h.root)).send().await.expect("send").json().await.expect("json");
    assert_eq!(health, json!({ "plivo_flow": version, "auth_id": ID }));
    // hyper's own refusal of a malformed request line, rewritten as JSON, carries it too.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(h.server.addr).await.expect("connect");
    tcp.write_all(b"GARBAGE\r\n\r\n").await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut out)).await;
    let out = String::from_utf8_lossy(&out).to_ascii_lowercase();
    assert!(out.starts_with("http/1.1 400"), "{out}");
    assert!(out.contains(&format!("x-plivo-flow: {version}\r\n")), "{out}");
    h.server.stop().await.expect("stop");
}

/// Item 7: no `Authorization` header is told "missing credentials"; a wrong id and a wrong
/// token get one identical answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_credentials_are_told_apart_from_wrong_ones() {
    let h = H::start().await;
    let answer = |r: reqwest::RequestBuilder| async move {
        let resp = r.send().await.expect("send");
        let status = resp.status().as_u16();
        let www = resp.headers().get("www-authenticate").is_some();
        let v: Value = resp.json().await.expect("json");
        (status, www, v["error"].as_str().unwrap_or("").to_owned())
    };
    for url in [format!("{}/sim/Transcript/", h.root), format!("{}/Call/", h.api)] {
        let none = answer(h.http.get(&url)).await;
        assert_eq!(none.0, 401);
        assert!(none.1);
        assert!(none.2.contains("missing credentials"), "{none:?}");
        let wrong_token = answer(h.http.get(&url).basic_auth(ID, Some("wrong"))).await;
        let wrong_id = answer(h.http.get(&url).basic_auth("MAWRONG", Some(TOKEN))).await;
        assert_eq!(wrong_token, wrong_id);
        assert_eq!(wrong_token.0, 401);
        assert!(!wrong_token.2.contains("missing"), "{wrong_token:?}");
    }
    h.server.stop().await.expect("stop");
}

/// Item 7: `from`/`to` are required on `/sim/Call/`; a number whose `+` arrived as a space
/// (a raw `+` in a form body) is warned about in the answer; `%2B` and JSON are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plus_decoded_as_a_space_is_warned_about() {
    let h = H::start().await;
    let answer_url = format!("{}/hello", h.app);
    for missing in ["from", "to"] {
        let mut body = json!({"from": "14155550100", "to": "14155550199", "answer_url": answer_url});
        body.as_object_mut().expect("object").remove(missing);
        let (status, v) = h.sim_call(body).await;
        assert_eq!(status, 400, "{v}");
        assert!(v["error"].as_str().unwrap_or("").contains(missing), "{v}");
    }
    let form = |body: String| {
        h.http
            .post(format!("{}/sim/Call/", h.root))
            .basic_auth(ID, Some(TOKEN))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    let enc: String = url_encode(&answer_url);
    let resp = form(format!("from=+14155550100&to=%2B14155550199&answer_url={enc}")).send().await.expect("send");
    assert_eq!(resp.status().as_u16(), 201);
    let v: Value = resp.json().await.expect("json");
    let warning = v["warning"].as_str().unwrap_or("");
    assert!(warning.contains("`from`") && warning.contains("send %2B"), "{v}");
    assert!(!warning.contains("`to`"), "{v}");
    let resp = form(format!("from=%2B14155550100&to=%2B14155550199&answer_url={enc}")).send().await.expect("send");
    let v: Value = resp.json().await.expect("json");
    assert!(v.get("warning").is_none(), "{v}");
    // JSON keeps a `+`; a leading space there was really sent, so no guess is made.
    let (status, v) = h.sim_call(json!({"from": " 1415", "to": "+1", "answer_url": answer_url})).await;
    assert_eq!(status, 201);
    assert!(v.get("warning").is_none(), "{v}");
    h.server.stop().await.expect("stop");
}

fn url_encode(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)]).expect("encode").trim_start_matches("x=").to_owned()
}

/// Item 3 and 4: `?call=` keeps one call's lines, `?format=json` gives JSON lines with
/// `call_ms` and the request's standard parameters, `DELETE` clears the transcript.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transcript_filters_by_call_speaks_json_and_clears() {
    let h = H::start().await;
    let (_, a) = h
        .sim_call(json!({"from": "+14155550100", "to": "+14155550111", "answer_url": format!("{}/gather", h.app)}))
        .await;
    let (_, b) = h
        .sim_call(json!({"from": "+14155550200", "to": "+14155550222", "answer_url": format!("{}/gather", h.app)}))
        .await;
    let (a, b) = (a["call_uuid"].as_str().expect("a").to_owned(), b["call_uuid"].as_str().expect("b").to_owned());
    h.until(&format!("{a}  spoke \"Press\"")).await;
    h.until(&format!("{b}  spoke \"Press\"")).await;
    let (status, only_a) = h.transcript(&format!("?call={a}")).await;
    assert_eq!(status, 200);
    assert!(only_a.contains(&a) && !only_a.contains(&b), "{only_a}");
    let (status, json_a) = h.transcript(&format!("?call={a}&format=json")).await;
    assert_eq!(status, 200);
    let lines: Vec<Value> = json_a.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l["who"] == a.as_str()), "{json_a}");
    for l in &lines {
        for k in ["at_ms", "call_ms", "who", "kind", "text", "params"] {
            assert!(l.get(k).is_some(), "{k} in {l}");
        }
        assert!(l["params"].is_object(), "{l}");
    }
    assert_eq!(lines[0]["call_ms"], 0, "{json_a}");
    let request = lines.iter().find(|l| l["kind"] == "request").expect("a request line");
    assert_eq!(request["params"]["From"], "+14155550100", "{request}");
    assert_eq!(request["params"]["To"], "+14155550111", "{request}");
    assert_eq!(request["params"]["CallUUID"], a.as_str(), "{request}");
    assert!(request["params"]["CallStatus"].is_string(), "{request}");
    let (status, v) = h.transcript("?format=xml").await;
    assert_eq!(status, 400, "{v}");
    let resp = h.http.delete(format!("{}/sim/Transcript/", h.root)).basic_auth(ID, Some(TOKEN));
    assert_eq!(resp.send().await.expect("send").status().as_u16(), 204);
    let (_, after) = h.transcript("").await;
    assert!(!after.contains(&a) && !after.contains(&b), "{after}");
    // New lines still arrive after a clear.
    let resp = h.http.post(format!("{}/sim/Call/{a}/Digits/", h.root)).basic_auth(ID, Some(TOKEN));
    let resp = resp.json(&json!({"digits": "1"})).send().await.expect("send");
    assert_eq!(resp.status().as_u16(), 202);
    h.until(&format!("{a}  ")).await;
    h.server.stop().await.expect("stop");
}

/// Item 10: a webhook that cannot be reached names why: connection refused, or a timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_webhooks_name_the_cause() {
    let h = H::start().await;
    let port = closed_port().await;
    let (_, v) =
        h.sim_call(json!({"from": "1", "to": "2", "answer_url": format!("http://127.0.0.1:{port}/answer")})).await;
    let refused = v["call_uuid"].as_str().expect("uuid").to_owned();
    let text = h.until(&format!("{refused}  hung up")).await;
    let line = text.lines().find(|l| l.contains(&refused) && l.contains("failed")).unwrap_or("");
    assert!(line.contains("connection refused"), "{text}");
    assert!(!line.contains("error sending request"), "{line}");
    let stuck = format!("{}/stuck#rt=300&rc=0", h.app);
    let (_, v) = h.sim_call(json!({"from": "1", "to": "2", "answer_url": stuck})).await;
    let slow = v["call_uuid"].as_str().expect("uuid").to_owned();
    let text = h.until(&format!("{slow}  hung up")).await;
    let line = text.lines().find(|l| l.contains(&slow) && l.contains("failed")).unwrap_or("");
    assert!(line.contains("timed out"), "{text}");
    assert!(!line.contains("error sending request"), "{line}");
    h.server.stop().await.expect("stop");
}
