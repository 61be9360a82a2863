//! The REST server's request handling (routing, authentication, paths, query strings, JSON,
//! form and multipart bodies) on arbitrary requests, in process: never a panic, never a 5xx
//! (a client's mistake is a 4xx), every error answer JSON-shaped, and an answer within 5 s.
//!
//! An input is `METHOD PATH\n`, then `Name: value` header lines, a blank line, and the body.
//! The first seeds (`fuzz/seeds/rest/`) are real SDK requests. Webhooks the fuzzed calls would
//! send go through a proxy on a closed loopback port, so nothing leaves this machine.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use plivo_flow::server::{self, ServerConfig};
use tower::ServiceExt;

struct Harness {
    rt: tokio::runtime::Runtime,
    service: server::Service,
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        // SAFETY of the network: every outbound webhook goes to 127.0.0.1:9 (refused).
        for var in ["NO_PROXY", "no_proxy"] {
            // SAFETY: single-threaded here, before any runtime thread starts.
            unsafe { std::env::remove_var(var) };
        }
        for var in ["ALL_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "http_proxy", "https_proxy"] {
            // SAFETY: as above.
            unsafe { std::env::set_var(var, "http://127.0.0.1:9") };
        }
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let config = ServerConfig {
            speed: 0.0,
            seed: 7,
            webhook_timeout: Duration::from_millis(200),
            max_calls: 200,
            ..ServerConfig::default()
        };
        let service = rt.block_on(async { server::service(&config) });
        Harness { rt, service }
    })
}

fn request(data: &[u8]) -> Option<http::Request<axum::body::Body>> {
    let text_end = data.windows(2).position(|w| w == b"\n\n").unwrap_or(data.len());
    let head = std::str::from_utf8(data.get(..text_end)?).ok()?;
    let body = data.get(text_end + 2..).unwrap_or_default().to_vec();
    let mut lines = head.lines();
    let (method, path) = lines.next()?.split_once(' ')?;
    let mut b = http::Request::builder().method(method).uri(path);
    for line in lines {
        let (k, v) = line.split_once(':')?;
        b = b.header(k.trim(), v.trim());
    }
    b.body(axum::body::Body::from(body)).ok()
}

fuzz_target!(|data: &[u8]| {
    let Some(req) = request(data) else { return };
    let h = harness();
    h.rt.block_on(async {
        let answer = tokio::time::timeout(Duration::from_secs(5), h.service.clone().oneshot(req)).await;
        let Ok(Ok(resp)) = answer else { panic!("no answer within 5 s") };
        let status = resp.status();
        assert!(!status.is_server_error(), "{status} for a client's request");
        let body = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        if status.is_client_error() {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_else(|_| panic!("{status} body is not JSON"));
            assert!(v.get("error").is_some() && v.get("api_id").is_some(), "{status} body lacks api_id/error: {v}");
        }
    });
});
