//! The fuzz targets' properties (`fuzz/fuzz_targets/`) on their seeds and on every input a
//! fuzzer ever found failing (`fuzz/regressions/<target>/`), on the stable toolchain, so a
//! fixed crash stays fixed without nightly or cargo-fuzz.

use std::path::{Path, PathBuf};
use std::time::Duration;

use plivo_flow::scenario::Scenario;
use plivo_flow::xml::{self, ParseOptions};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for dir in [root.join("seeds").join(target), root.join("regressions").join(target)] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_file() && p.file_name().is_some_and(|n| n != "README.md") {
                let bytes = std::fs::read(&p).unwrap_or_default();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

/// The same checks as `fuzz/fuzz_targets/parse.rs`.
fn check_parse(path: &Path, data: &[u8]) {
    let parsed = xml::parse_bytes(data, &ParseOptions::default());
    for d in &parsed.diagnostics {
        assert!(
            d.span.start <= d.span.end && d.span.end <= data.len(),
            "{}: span {:?} outside",
            path.display(),
            d.span
        );
    }
    if !parsed.has_errors() {
        let written = xml::write(&parsed.document);
        let again = xml::parse(&written);
        assert!(!again.has_errors(), "{}: the writer's output does not parse", path.display());
        assert_eq!(again.document, parsed.document, "{}: round trip changed the document", path.display());
    }
}

#[test]
fn parse_seeds_and_regressions() {
    let all = inputs("parse");
    assert!(all.len() >= 40, "the parse seeds are missing: {} inputs", all.len());
    for (path, data) in &all {
        check_parse(path, data);
    }
}

#[test]
fn scenario_seeds_and_regressions() {
    let all = inputs("scenario");
    assert!(all.len() >= 10, "the scenario seeds are missing: {} inputs", all.len());
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples").join("fuzz.toml");
    let mut loaded = 0;
    for (_, data) in &all {
        let Ok(text) = std::str::from_utf8(data) else { continue };
        if let Ok(mut scenario) = Scenario::from_toml(text, &base) {
            scenario.simulation.run_until(Duration::from_secs(3600));
            loaded += 1;
        }
    }
    // Every seed is a sample scenario, so each of them loads.
    assert!(loaded >= 10, "only {loaded} scenario seeds loaded");
}

/// The same request shape and checks as `fuzz/fuzz_targets/rest.rs`.
fn rest_request(data: &[u8]) -> Option<axum::http::Request<axum::body::Body>> {
    let text_end = data.windows(2).position(|w| w == b"\n\n").unwrap_or(data.len());
    let head = std::str::from_utf8(data.get(..text_end)?).ok()?;
    let body = data.get(text_end + 2..).unwrap_or_default().to_vec();
    let mut lines = head.lines();
    let (method, path) = lines.next()?.split_once(' ')?;
    let mut b = axum::http::Request::builder().method(method).uri(path);
    for line in lines {
        let (k, v) = line.split_once(':')?;
        b = b.header(k.trim(), v.trim());
    }
    b.body(axum::body::Body::from(body)).ok()
}

#[test]
fn rest_seeds_and_regressions() {
    use tower::ServiceExt;
    // Webhooks the requests cause go to a closed loopback port, whatever URL they name.
    for var in ["NO_PROXY", "no_proxy"] {
        // SAFETY: no other test of this binary reads or writes the environment.
        unsafe { std::env::remove_var(var) };
    }
    for var in ["ALL_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "http_proxy", "https_proxy"] {
        // SAFETY: as above.
        unsafe { std::env::set_var(var, "http://127.0.0.1:9") };
    }
    let all = inputs("rest");
    assert!(all.len() >= 15, "the rest seeds are missing: {} inputs", all.len());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let config = plivo_flow::server::ServerConfig {
            speed: 0.0,
            seed: 7,
            webhook_timeout: Duration::from_millis(200),
            max_calls: 200,
            ..Default::default()
        };
        let service = plivo_flow::server::service(&config);
        let mut answered = 0;
        for (path, data) in &all {
            let Some(req) = rest_request(data) else { continue };
            let answer = tokio::time::timeout(Duration::from_secs(5), service.clone().oneshot(req)).await;
            let Ok(Ok(resp)) = answer else { panic!("{}: no answer within 5 s", path.display()) };
            let status = resp.status();
            assert!(!status.is_server_error(), "{}: {status}", path.display());
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap_or_default();
            if status.is_client_error() {
                let v: serde_json::Value = serde_json::from_slice(&body)
                    .unwrap_or_else(|_| panic!("{}: {status} body is not JSON", path.display()));
                assert!(v.get("error").is_some() && v.get("api_id").is_some(), "{}: {v}", path.display());
            }
            answered += 1;
        }
        // Every seed is a well-formed request (the kick of a room nobody is in is a JSON 404).
        assert!(answered >= 15, "only {answered} seeds made requests");
    });
}
