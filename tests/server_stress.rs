//! Ending many calls at once with few file descriptors (issue 9, item 5): the built
//! `plivo-flow serve` runs under `ulimit -n 1024`, parks 3,000 calls in 150 rooms, ends every
//! room at once, and a webhook application in this test process (not limited) counts the
//! `hangup_url` requests: exactly 3,000, one per call, while the REST API keeps answering.
//! Loopback only; every wait is bounded and the server process is killed at the end.

use std::collections::HashSet;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::routing::post;
use serde_json::Value;

const ID: &str = "MASTRESS000000000001";
const TOKEN: &str = "stress-token";
const CALLS: usize = 3000;
const PER_ROOM: usize = 20;

/// The server process; killed when dropped (also when the test fails).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the built binary under `ulimit -n 1024`; answers it and its address.
fn spawn_limited_server() -> (Server, String) {
    let child = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -n 1024 && exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_plivo-flow"))
        .args(["serve", "--listen", "127.0.0.1:0", "--auth-id", ID, "--auth-token", TOKEN, "--speed", "0"])
        .args(["--seed", "5"])
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn plivo-flow serve");
    let mut server = Server(child);
    let stdout = server.0.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line).expect("the start line");
    // `plivo-flow serve: http://127.0.0.1:PORT/v1/Account/…`
    let addr = line.split("http://").nth(1).and_then(|r| r.split('/').next()).expect("address").to_owned();
    (server, addr)
}

#[derive(Clone, Default)]
struct App {
    answers: Arc<Mutex<usize>>,
    hangups: Arc<Mutex<Vec<String>>>,
}

async fn answer(State(app): State<App>, Query(q): Query<Vec<(String, String)>>) -> String {
    *app.answers.lock().expect("lock") += 1;
    let room = q.iter().find(|(k, _)| k == "room").map_or("none", |(_, v)| v.as_str());
    format!("<Response><Conference>room{room}</Conference></Response>")
}

async fn hangup(State(app): State<App>, body: Bytes) -> &'static str {
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let uuid = params.iter().find(|(k, _)| k == "CallUUID").map(|(_, v)| v.clone()).unwrap_or_default();
    // A slow application: without a bound on requests in flight, thousands pile up at once.
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.hangups.lock().expect("lock").push(uuid);
    ""
}

/// Waits (at most `secs`) until `f` holds.
async fn until(what: &str, secs: u64, mut f: impl AsyncFnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_3000_calls_at_once_with_1024_descriptors_sends_every_hangup_url() {
    let app = App::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind app");
    let app_base = format!("http://{}", listener.local_addr().expect("addr"));
    let router = Router::new().route("/answer", post(answer)).route("/hangup", post(hangup)).with_state(app.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let (_server, addr) = spawn_limited_server();
    let api = format!("http://{addr}/v1/Account/{ID}");
    let http = reqwest::Client::builder().pool_max_idle_per_host(32).build().expect("client");

    // Park 3,000 calls, 20 to a room, 32 requests at a time.
    let started = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..CALLS {
        let (http, gate, addr, app_base) = (http.clone(), gate.clone(), addr.clone(), app_base.clone());
        tasks.spawn(async move {
            let _slot = gate.acquire_owned().await.expect("semaphore");
            let form = [
                ("from", format!("+1555{i:07}")),
                ("to", "+15559990000".to_owned()),
                ("answer_url", format!("{app_base}/answer?room={}", i / PER_ROOM)),
                ("hangup_url", format!("{app_base}/hangup")),
            ];
            let resp = http.post(format!("http://{addr}/sim/Call/")).basic_auth(ID, Some(TOKEN)).form(&form).send();
            resp.await.map(|r| r.status().as_u16()).unwrap_or(0)
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.expect("task"), 201);
    }
    until("every answer fetch", 30, async || *app.answers.lock().expect("lock") == CALLS).await;
    let rooms = CALLS / PER_ROOM;
    until("every caller in its room", 30, async || {
        let mut members = 0;
        for r in 0..rooms {
            let resp = http.get(format!("{api}/Conference/room{r}/")).basic_auth(ID, Some(TOKEN)).send().await;
            if let Ok(resp) = resp {
                let v: Value = resp.json().await.unwrap_or(Value::Null);
                members += v["members"].as_array().map_or(0, Vec::len);
            }
        }
        members == CALLS
    })
    .await;
    let parked = started.elapsed();

    // End every room at once: each call runs out of XML and hangs up.
    let ended = Instant::now();
    let resp = http.delete(format!("{api}/Conference/")).basic_auth(ID, Some(TOKEN)).send().await.expect("end all");
    assert_eq!(resp.status().as_u16(), 204);
    // The REST API keeps answering while the hangups go out.
    for _ in 0..20 {
        let resp = http.get(format!("{api}/Call/?status=live")).basic_auth(ID, Some(TOKEN)).send().await;
        let resp = resp.expect("the API answers during the hangups");
        assert_eq!(resp.status().as_u16(), 200);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(45);
    while Instant::now() < deadline && app.hangups.lock().expect("lock").len() < CALLS {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivered = ended.elapsed();
    let hangups = app.hangups.lock().expect("lock").clone();
    assert_eq!(hangups.len(), CALLS, "exactly one hangup_url per call (within 45 s)");
    assert_eq!(hangups.iter().collect::<HashSet<_>>().len(), CALLS, "one per call, none twice");
    assert!(hangups.iter().all(|u| !u.is_empty()));
    let resp = http.get(format!("{api}/Call/?status=live")).basic_auth(ID, Some(TOKEN)).send().await.expect("live");
    let v: Value = resp.json().await.expect("json");
    assert_eq!(v["calls"], serde_json::json!([]), "no call is left hanging");
    eprintln!(
        "parked {CALLS} calls in {parked:?}; all {CALLS} hangup_url requests arrived {delivered:?} after the end"
    );
}
