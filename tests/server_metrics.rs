//! `GET /metrics`: Prometheus text with the calls, rooms, webhooks and hangup causes, read by
//! a parser of the format rather than by string search.

mod common;

use std::collections::HashMap;

use common::Harness;

/// The samples of a Prometheus text page: `name{labels}` → value (comments skipped).
fn samples(page: &str) -> HashMap<String, f64> {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_calls_rooms_webhooks_and_their_failures() {
    let h = Harness::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    // Nothing listens there: the redirect's fetch fails to connect.
    h.serve("/gone", &format!("<Response><Redirect>http://{closed}/next</Redirect></Response>"));
    h.serve("/room", "<Response><Conference>Metrics</Conference></Response>");
    let gone = h.sim_call("/gone", "1000", "2000").await;
    let parked = h.sim_call("/room", "1001", "2000").await;
    h.settle().await;

    let resp = h.http.get(format!("{}/metrics", h.base)).send().await.expect("answers without credentials");
    assert_eq!(resp.status().as_u16(), 200);
    let kind = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    let page = resp.text().await.expect("text");
    let s = samples(&page);
    let get = |k: &str| s.get(k).copied().unwrap_or_else(|| panic!("no {k} in:\n{page}"));
    assert_eq!(get("plivo_flow_calls_live"), 1.0, "the parked call; {gone} ended");
    assert_eq!(get("plivo_flow_rooms_live"), 1.0);
    assert_eq!(get("plivo_flow_room_members"), 1.0);
    assert_eq!(get(r#"plivo_flow_webhook_failures_total{kind="document",cause="connect"}"#), 1.0);
    let ended: f64 = s.iter().filter(|(k, _)| k.starts_with("plivo_flow_calls_ended_total{")).map(|(_, v)| v).sum();
    assert_eq!(ended, 1.0, "{page}");
    // Three document fetches (two answers, the redirect), each in the histogram.
    assert_eq!(get(r#"plivo_flow_webhook_seconds_count{kind="document"}"#), 3.0);
    assert_eq!(get(r#"plivo_flow_webhook_seconds_bucket{kind="document",le="+Inf"}"#), 3.0);

    // The parked call hangs up: the gauges follow, the cause is counted.
    let (status, _) = h.req(reqwest::Method::DELETE, &format!("/Call/{parked}/"), None).await;
    assert_eq!(status, 204);
    h.settle().await;
    let page = h.http.get(format!("{}/metrics", h.base)).send().await.expect("answers").text().await.expect("text");
    let s = samples(&page);
    assert_eq!(s.get("plivo_flow_calls_live"), Some(&0.0), "{page}");
    assert_eq!(s.get("plivo_flow_rooms_live"), Some(&0.0), "{page}");
    let ended: f64 = s.iter().filter(|(k, _)| k.starts_with("plivo_flow_calls_ended_total{")).map(|(_, v)| v).sum();
    assert_eq!(ended, 2.0, "{page}");
}
