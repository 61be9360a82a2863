//! `plivo-flow serve` shares one parsed document between calls whose application answered
//! the same body; a document does not know where it came from, so each call resolves its
//! relative URLs against its own document's URL.

mod common;

use axum::http::Method;
use common::Harness;
use serde_json::json;

/// Two calls answered the same body from answer URLs under different paths, both waiting in
/// it at once (so they share its document): each call's relative `action` goes under its own
/// answer URL's path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_sharing_a_document_resolve_relative_urls_against_their_own_url() {
    let h = Harness::start().await;
    let body = r#"<Response><GetDigits action="next" numDigits="1" timeout="30"/></Response>"#;
    for base in ["/a", "/b"] {
        h.serve(&format!("{base}/answer"), body);
        h.serve(&format!("{base}/next"), "<Response><Hangup/></Response>");
    }
    let a = h.sim_call("/a/answer", "+14155550101", "+14155550200").await;
    h.settle().await;
    let b = h.sim_call("/b/answer", "+14155550102", "+14155550200").await;
    h.settle().await;
    for call in [&a, &b] {
        let (status, v) =
            h.req(Method::POST, &format!("/sim/Call/{call}/Digits/"), Some(json!({ "digits": "1" }))).await;
        assert_eq!(status, 202, "{v}");
    }
    h.settle().await;
    let hits = h.hits();
    let next: Vec<(&str, Option<&str>)> =
        hits.iter().filter(|x| x.path.ends_with("/next")).map(|x| (x.path.as_str(), x.param("CallUUID"))).collect();
    assert_eq!(next, [("/a/next", Some(a.as_str())), ("/b/next", Some(b.as_str()))], "{hits:?}");
}
