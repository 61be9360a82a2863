//! Faults injected on purpose (docs/scenarios.md "Faults on purpose"): every scenario under
//! `tests/scenarios/faults` must print its `.expected` transcript (each shows one fault's
//! documented outcome: fallback_url, 7011/7012/7013/7014, 8011/8012, a slow reply, a redirect,
//! retried callbacks) without a scenario warning; a faulted URL of a live scenario never
//! reaches the application; malformed fault entries are refused with a reason. Bless with
//! `cargo run -- test --bless tests/scenarios/faults` and read the diff.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use axum::routing::any;
use plivo_flow::scenario::{self, Scenario};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scenarios/faults");

fn scenario_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(DIR)
        .expect("read the scenario folder")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_fault_scenario_matches_its_expected_transcript_without_warnings() {
    let files = scenario_files();
    assert!(files.len() >= 11, "fault scenarios missing under {DIR}: {files:?}");
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut s = match Scenario::load(path) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{name}: cannot load: {e}"));
                continue;
            }
        };
        s.simulation.run();
        let actual = s.simulation.transcript_text();
        let warnings = scenario::warnings(&s.simulation);
        if !warnings.is_empty() {
            failures.push(format!("{name}: scenario warnings for faults on purpose: {warnings:?}"));
        }
        let expected = std::fs::read_to_string(path.with_extension("expected")).unwrap_or_default();
        if expected != actual {
            failures.push(format!("{name}: the transcript differs\n--- expected\n{expected}--- actual\n{actual}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The transcript of one scenario of the folder.
fn run(name: &str) -> String {
    let mut s = Scenario::load(&Path::new(DIR).join(name)).expect("load");
    s.simulation.run();
    s.simulation.transcript_text()
}

/// The first line of `who` containing `needle` (its time first).
fn line<'a>(text: &'a str, who: &str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(&format!(" {who}  ")) && l.contains(needle))
        .unwrap_or_else(|| panic!("no `{needle}` line of {who} in:\n{text}"))
}

#[test]
fn each_fault_has_its_documented_outcome() {
    let t = run("answer_timeout_goes_to_the_fallback_url_at_55s.toml");
    assert!(line(&t, "alice", "failed: timed out").starts_with("00:42.000"), "{t}");
    assert!(line(&t, "alice", "(fallback)").starts_with("00:55.000"), "{t}");
    assert!(line(&t, "alice", "spoke \"fallback\"").starts_with("00:55.000"), "{t}");
    // A call that ends abandons its fetch and the retries: no attempt line after the hangup.
    line(&t, "bob", "hung up: 4000");
    assert!(!t.contains("bob  https://app.example/answer failed"), "{t}");

    let t = run("answer_500_without_fallback_hangs_up_7011.toml");
    line(&t, "alice", "fetch of https://app.example/answer failed: HTTP 500 (injected)");
    line(&t, "alice", "hung up: 7011");
    assert_eq!(t.matches("bob  https://app.example/answer failed: HTTP 500").count(), 2, "two retries:\n{t}");

    let t = run("action_404_ends_the_call_7012.toml");
    line(&t, "alice", "failed: HTTP 404 (injected)");
    line(&t, "alice", "hung up: 7012 Error Reaching Action URL");

    let t = run("redirect_refused_ends_the_call_7014.toml");
    line(&t, "alice", "failed: connection refused (injected)");
    line(&t, "alice", "hung up: 7014 Error Reaching Redirect URL");

    let t = run("a_transfer_url_that_times_out_ends_the_call_7013.toml");
    assert!(line(&t, "alice", "hung up: 7013 Error Reaching Transfer URL").starts_with("00:16.000"), "{t}");

    let t = run("invalid_bodies_end_the_call_8011_and_8012.toml");
    assert!(line(&t, "alice", "hung up: 8011 Invalid Answer XML").starts_with("00:02.000"), "{t}");
    line(&t, "bob", "hung up: 8012 Invalid Action XML");

    let t = run("a_slow_reply_within_the_timeout_arrives_after_its_delay.toml");
    assert!(line(&t, "alice", "got document (2 verbs)").starts_with("00:03.000"), "{t}");
    assert!(line(&t, "alice", "got document (1 verb)").starts_with("00:05.500"), "{t}");
    // The other call does not wait for alice's slow fetch.
    assert!(line(&t, "bob", "hung up").starts_with("00:01.680"), "{t}");

    let t = run("a_slow_reply_beyond_the_timeout_is_a_timeout.toml");
    assert!(line(&t, "alice", "hung up: 7011").starts_with("00:04.000"), "{t}");
    assert!(line(&t, "bob", "spoke \"too late\"").starts_with("00:05.000"), "{t}");

    let t = run("a_redirect_is_followed_to_the_listed_url.toml");
    line(&t, "alice", "redirected (302) to https://app.example/moved");
    line(&t, "alice", "spoke \"moved here\"");
    assert_eq!(t.matches("bob  https://app.example/loop redirected").count(), 5, "{t}");
    line(&t, "bob", "too many redirects");

    let t = run("a_callback_that_fails_twice_then_succeeds_shows_each_attempt.toml");
    assert!(line(&t, "alice", "hangup failed: HTTP 503 (injected) (attempt 1 of 4)").starts_with("00:07.500"));
    assert!(line(&t, "alice", "hangup failed: HTTP 503 (injected) (attempt 2 of 4)").starts_with("00:08.500"));
    assert!(line(&t, "alice", "hangup answered (empty) (attempt 3 of 4)").starts_with("00:08.500"));
    assert!(!t.contains("hangup failed: HTTP 503 (injected) (attempt 3"), "the third attempt answers:\n{t}");
    line(&t, "alice", "recorded failed: HTTP 500 (injected) (attempt 1 of 2)");
    assert!(!t.contains("recorded failed: HTTP 500 (injected) (attempt 2"), "5xx is not retried by default:\n{t}");
    assert_eq!(t.matches("record-cb failed: timed out").count(), 2, "a timeout is retried once:\n{t}");
}

#[test]
fn malformed_fault_entries_are_refused_with_a_reason() {
    let cases = [
        (r#"{ fault = "slow" }"#, "fault `slow`: expected timeout or refused"),
        (r#"{ status = 200 }"#, "status 200: expected 400–599"),
        (r#"{ status = 302 }"#, "status 302: expected 400–599"),
        (r#"{ redirect = "/elsewhere" }"#, "redirect `/elsewhere`: expected an absolute URL"),
        (r#"{ fault = "timeout", status = 500 }"#, "at most one of fault, status or redirect"),
        (r#"{ fault = "refused", delay = "1s" }"#, "a `delay` means nothing"),
        (r#"{ fault = "timeout", times = 0 }"#, "`times` must be at least 1"),
        (r#"{ fail = "down", times = 1 }"#, "`fail` cannot be combined"),
        (r#"{ status = 500, xml = "<Response/>", body = "x" }"#, "at most one of file, xml or body"),
    ];
    for (entry, want) in cases {
        let text = format!(
            "[[call]]\nname = \"a\"\nanswer = \"https://app.example/answer\"\n[documents]\n\"https://app.example/answer\" = {entry}\n"
        );
        let err = Scenario::from_toml(&text, Path::new("f.toml")).expect_err(entry).to_string();
        assert!(err.contains(want) && err.contains("`https://app.example/answer`"), "{entry}: {err}");
    }
}

#[test]
fn a_redirect_to_an_unlisted_url_is_warned_about_by_its_target() {
    let text = r#"
[documents]
"https://app.example/answer" = { redirect = "https://app.example/nowhere" }

[[call]]
name = "alice"
answer = "https://app.example/answer"
"#;
    let mut s = Scenario::from_toml(text, Path::new("f.toml")).expect("load");
    s.simulation.run();
    let t = s.simulation.transcript_text();
    line(&t, "alice", "failed: no document is served at this URL (redirected to https://app.example/nowhere)");
    let warnings: Vec<String> = scenario::warnings(&s.simulation).iter().map(|w| w.message.clone()).collect();
    assert_eq!(
        warnings,
        ["call `alice` fetched `https://app.example/nowhere` which [documents] does not serve (7011)"],
        "{t}"
    );
}

/// Paths the in-test application was asked for, in order.
#[derive(Clone, Default)]
struct Hits(Arc<Mutex<Vec<String>>>);

async fn app(State(hits): State<Hits>, uri: Uri) -> &'static str {
    hits.0.lock().expect("lock").push(uri.path().to_owned());
    match uri.path() {
        "/fallback" => "<Response><Redirect>/slow</Redirect></Response>",
        "/slow" => "<Response><Speak>from the app</Speak></Response>",
        _ => "OK",
    }
}

/// Starts the app on its own thread and runtime; returns what it saw and its base URL.
fn start_app() -> (Hits, String) {
    let hits = Hits::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let state = hits.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind app");
            tx.send(format!("http://{}", listener.local_addr().expect("addr"))).expect("send");
            let _ = axum::serve(listener, Router::new().fallback(any(app)).with_state(state)).await;
        });
    });
    (hits, rx.recv().expect("app address"))
}

#[test]
fn a_faulted_url_of_a_live_scenario_never_reaches_the_app() {
    let (hits, base) = start_app();
    let dir = std::env::temp_dir().join(format!("plivo-flow-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("live-faults.toml");
    // The answer URL answers 500 without reaching the app; the fallback comes from the app
    // and redirects to /slow, which the app answers 2 s late (a delay without a document);
    // the hangup_url times out once, then the app gets it.
    std::fs::write(
        &path,
        format!(
            r#"live = true

[documents]
"{base}/answer" = {{ status = 500 }}
"{base}/slow" = {{ delay = "2s" }}
"{base}/hangup" = {{ fault = "timeout", times = 1 }}

[[call]]
name = "alice"
answer = "{base}/answer"
fallback_url = "{base}/fallback"
hangup_url = "{base}/hangup#rt=1000"
"#
        ),
    )
    .expect("write scenario");
    let out = Command::new(env!("CARGO_BIN_EXE_plivo-flow"))
        .args(["run", "--strict"])
        .arg(&path)
        .output()
        .expect("run plivo-flow");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "stderr: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    line(&text, "alice", &format!("fetch of {base}/answer failed: HTTP 500 (injected)"));
    assert!(line(&text, "alice", "spoke \"from the app\"").starts_with("00:02.000"), "{text}");
    assert!(line(&text, "alice", "hangup failed: timed out").contains("(attempt 1 of 2)"), "{text}");
    line(&text, "alice", &format!("{base}/hangup answered \"OK\" (attempt 2 of 2)"));
    let hits = hits.0.lock().expect("lock").clone();
    // reqwest-like: the fallback's relative Redirect resolves against the app's URL.
    assert_eq!(hits, ["/fallback", "/slow", "/hangup"], "the app saw:\n{text}");
}
