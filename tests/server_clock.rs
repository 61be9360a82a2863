//! One clock under `serve --speed`: `<Wait>`, GetDigits timeouts, media and the durations
//! reported to the application all run on the calls' clock, so `serve --speed 0.1` reports the
//! same `Duration` as `run` for the same flow (README "The REST server").
//! The webhook application and the server come from `tests/common/` (shared harness).

mod common;

use std::time::Duration;

use axum::http::Method;
use common::Harness;
use serde_json::json;

/// 1.2 s of speech, a 20 s `<Wait>`, a 1 s prompt and a 10 s timeout: 32.2 s of call time.
const DOC: &str = r#"<Response><Speak>Hello there, welcome</Speak><Wait length="20"/><GetDigits action="https://app.example/digits" timeout="10" retries="1"><Speak>Press a key</Speak></GetDigits><Hangup/></Response>"#;

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

    let h = Harness::start_with(0.1, 5).await;
    h.serve("/answer", DOC);
    let body = json!({"from": "+14155550100", "to": "+14155550199", "answer_url": h.url("/answer"),
                      "hangup_url": h.url("/hangup")});
    let (status, v) = h.req(Method::POST, "/sim/Call/", Some(body)).await;
    assert_eq!(status, 201, "{v}");

    // 32.2 s of call time is 3.2 s of wall time; give up after 15 s.
    let mut hangup = None;
    for _ in 0..750 {
        hangup = h.hits().into_iter().find(|hit| hit.path == "/hangup");
        if hangup.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let hangup = hangup.expect("the hangup_url was notified within 15 s of wall time");
    let d: u64 = hangup.param("Duration").and_then(|d| d.parse().ok()).expect("Duration");
    // The answer fetch's own wall latency counts ten times on the call's clock; 0.8 s of the
    // last second is left for it. (Timers on the wall clock would report 30 s: 20 + 10 + media/10.)
    assert!(d == expected || d == expected + 1, "serve --speed 0.1 reported Duration={d}, run {expected}: {hangup:?}");
    assert_eq!(hangup.param("BillDuration"), hangup.param("Duration"));
    h.server.stop().await.expect("stop");
}
