//! One clock under `serve --speed`: `<Wait>`, GetDigits timeouts, media and the durations
//! reported to the application all run on the calls' clock, so `serve --speed 0.1` reports the
//! same `Duration` as `run` for the same flow (README "One clock").

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use plivo_flow::server::{self, ServerConfig};
use serde_json::json;

const ID: &str = "MAXXXXXXXXXXXXXXXXXX";
const TOKEN: &str = "test-token";
/// 1.2 s of speech, a 20 s `<Wait>`, a 1 s prompt and a 10 s timeout: 32.2 s of call time.
const DOC: &str = r#"<Response><Speak>Hello there, welcome</Speak><Wait length="20"/><GetDigits action="https://app.example/digits" timeout="10" retries="1"><Speak>Press a key</Speak></GetDigits><Hangup/></Response>"#;

type Hits = Arc<Mutex<Vec<(String, HashMap<String, String>)>>>;

async fn app(State(hits): State<Hits>, req: Request) -> String {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_else(|_| Bytes::new());
    let params: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    hits.lock().expect("lock").push((parts.uri.path().to_owned(), params));
    if parts.uri.path() == "/answer" { DOC.to_owned() } else { String::new() }
}

/// `Duration` of the hangup under `run` (the simulation) for the same document.
fn run_duration() -> u64 {
    let mut sim = plivo_flow::sim::Simulation::new();
    sim.serve("https://app.example/answer", DOC);
    let mut setup = sim.setup("a", "https://app.example/answer", plivo_flow::engine::Direction::Inbound);
    setup.hangup = Some(plivo_flow::engine::Webhook::post("https://app.example/hangup"));
    sim.start_call_with(Duration::ZERO, "a", setup);
    sim.run();
    let (_, _, hangup) =
        sim.requests().iter().find(|(_, _, r)| r.url == "https://app.example/hangup").expect("hangup request");
    let d = hangup.params.iter().find(|(k, _)| k == "Duration").map(|(_, v)| v.clone()).expect("Duration");
    d.parse().expect("seconds")
}

#[tokio::test]
async fn serve_at_a_tenth_of_real_time_reports_run_s_durations() {
    let expected = run_duration();
    assert_eq!(expected, 32);

    let hits: Hits = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind app");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let router = Router::new().fallback(app).with_state(hits.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        auth_id: ID.to_owned(),
        auth_token: TOKEN.to_owned(),
        speed: 0.1,
        seed: 5,
        ..ServerConfig::default()
    };
    let server = server::start(config).await.expect("server");
    let root = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let body = json!({"from": "+14155550100", "to": "+14155550199", "answer_url": format!("{base}/answer"),
                      "hangup_url": format!("{base}/hangup")});
    let resp = http.post(format!("{root}/sim/Call/")).basic_auth(ID, Some(TOKEN)).json(&body).send().await;
    assert_eq!(resp.expect("send").status().as_u16(), 201);

    // 32.2 s of call time is 3.2 s of wall time; give up after 15 s.
    let mut hangup = None;
    for _ in 0..750 {
        hangup = hits.lock().expect("lock").iter().find(|(p, _)| p == "/hangup").map(|(_, q)| q.clone());
        if hangup.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let hangup = hangup.expect("the hangup_url was notified within 15 s of wall time");
    let d: u64 = hangup.get("Duration").and_then(|d| d.parse().ok()).expect("Duration");
    // The answer fetch's own wall latency counts ten times on the call's clock; 0.8 s of the
    // last second is left for it. (Timers on the wall clock would report 30 s: 20 + 10 + media/10.)
    assert!(d == expected || d == expected + 1, "serve --speed 0.1 reported Duration={d}, run {expected}: {hangup:?}");
    assert_eq!(hangup.get("BillDuration"), hangup.get("Duration"));
    server.stop().await.expect("stop");
}
