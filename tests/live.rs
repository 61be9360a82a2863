//! `plivo-flow run --live`: a scenario whose documents come from a real application over
//! HTTP, in virtual time. The app serves ONE URL, `/ivr`, whose answer depends on per-call
//! state (keyed by `CallUUID`) across three menu levels, and records the `hangup_url`
//! notification it receives; every request must carry a valid V3 signature.

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method as HttpMethod, Uri};
use axum::routing::any;
use plivo_flow::server::{DEV_AUTH_TOKEN, signature};
use plivo_flow::xml::values::Method;

#[derive(Clone, Default)]
struct App {
    base: Arc<Mutex<String>>,
    /// Menu level reached per call.
    level: Arc<Mutex<HashMap<String, u32>>>,
    /// `CallUUID`s whose hangup arrived, in order.
    hangups: Arc<Mutex<Vec<String>>>,
    /// Requests without a valid signature.
    unsigned: Arc<Mutex<Vec<String>>>,
}

fn params(method: &HttpMethod, query: Option<&str>, body: &str) -> Vec<(String, String)> {
    let text = if method == HttpMethod::GET { query.unwrap_or("") } else { body };
    url_pairs(text)
}

fn url_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let h = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                out.push(h.unwrap_or(b'%'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn check_signature(app: &App, method: &HttpMethod, uri: &Uri, headers: &HeaderMap, ps: &[(String, String)]) {
    let base = app.base.lock().expect("lock").clone();
    let url = format!("{base}{}", uri.path());
    let m = if method == HttpMethod::GET { Method::Get } else { Method::Post };
    let nonce = headers.get("X-Plivo-Signature-V3-Nonce").and_then(|v| v.to_str().ok()).unwrap_or("");
    let got = headers.get("X-Plivo-Signature-V3").and_then(|v| v.to_str().ok()).unwrap_or("");
    let signed_params: Vec<(String, String)> = if m == Method::Get { Vec::new() } else { ps.to_vec() };
    let url = if m == Method::Get { format!("{url}?{}", uri.query().unwrap_or("")) } else { url };
    let want = signature::sign(DEV_AUTH_TOKEN, m, &url, &signed_params, nonce);
    if got.is_empty() || (got != want && !got.split(',').any(|g| g == want)) {
        app.unsigned.lock().expect("lock").push(format!("{method} {uri}"));
    }
}

async fn ivr(
    State(app): State<App>,
    method: HttpMethod,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: String,
) -> String {
    let ps = params(&method, query.as_deref(), &body);
    check_signature(&app, &method, &uri, &headers, &ps);
    let get = |k: &str| ps.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let call = get("CallUUID");
    let digits = get("Digits");
    let base = app.base.lock().expect("lock").clone();
    let mut levels = app.level.lock().expect("lock");
    let level = levels.entry(call).or_insert(0);
    *level += 1;
    match *level {
        1 => format!(
            r#"<Response><GetDigits action="{base}/ivr" numDigits="1" timeout="10"><Speak>Level one</Speak></GetDigits></Response>"#
        ),
        2 => format!(
            r#"<Response><Wait length="3600"/><GetDigits action="{base}/ivr" numDigits="1" timeout="10"><Speak>Level two after {digits}</Speak></GetDigits></Response>"#
        ),
        _ => format!(r#"<Response><Speak>Level three after {digits}</Speak><Hangup/></Response>"#),
    }
}

async fn hangup(
    State(app): State<App>,
    method: HttpMethod,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: String,
) -> &'static str {
    let ps = params(&method, query.as_deref(), &body);
    check_signature(&app, &method, &uri, &headers, &ps);
    let call = ps.iter().find(|(n, _)| n == "CallUUID").map(|(_, v)| v.clone()).unwrap_or_default();
    // The call is over: its menu state goes.
    app.level.lock().expect("lock").remove(&call);
    app.hangups.lock().expect("lock").push(call);
    "OK"
}

/// Starts the app on a thread of its own; returns its state and base URL.
fn start_app() -> (App, String) {
    let app = App::default();
    let state = app.clone();
    let base = common::spawn_app(move |base| {
        *state.base.lock().expect("lock") = base.to_owned();
        Router::new().route("/ivr", any(ivr)).route("/hangup", any(hangup)).with_state(state)
    });
    (app, base)
}

fn run_live(scenario: &std::path::Path) -> (String, f64) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_plivo-flow"))
        .args(["run", "--live"])
        .arg(scenario)
        .output()
        .expect("run plivo-flow");
    let wall = started.elapsed().as_secs_f64();
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8(out.stdout).expect("utf-8"), wall)
}

#[test]
fn a_live_app_keeps_per_call_state_across_three_menu_levels_on_one_url() {
    let (app, base) = start_app();
    let dir = std::env::temp_dir().join(format!("plivo-flow-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("ivr.toml");
    std::fs::write(
        &path,
        format!(
            r#"description = "three menu levels from a live app, with an hour-long wait"
seed = 3

[[call]]
name = "alice"
answer = "{base}/ivr"
hangup_url = "{base}/hangup"

[[event]]
at = "3s"
action = "digits"
call = "alice"
keys = "1"

[[event]]
at = "3610s"
action = "digits"
call = "alice"
keys = "2"
"#
        ),
    )
    .expect("write scenario");

    let (first, wall) = run_live(&path);
    println!("{first}");
    println!("wall time of the hour-long live flow: {wall:.3} s");
    let pos = |needle: &str| first.find(needle).unwrap_or_else(|| panic!("no `{needle}` in:\n{first}"));
    let one = pos("spoke \"Level one\"");
    let two = pos("spoke \"Level two after 1\"");
    let three = pos("spoke \"Level three after 2\"");
    assert!(one < two && two < three, "levels out of order:\n{first}");
    let reply = pos(&format!("{base}/hangup answered \"OK\""));
    assert!(three < reply);
    assert!(!first.contains("fetch-failed") && !first.contains("failed:"), "{first}");
    let hangups = app.hangups.lock().expect("lock").clone();
    assert_eq!(hangups.len(), 1, "the hangup reached the app once");
    assert!(app.unsigned.lock().expect("lock").is_empty(), "unsigned: {:?}", app.unsigned.lock().expect("lock"));
    assert!(wall < 20.0, "an hour of virtual time took {wall:.1} s of wall time");

    let (second, _) = run_live(&path);
    assert_eq!(first, second, "two runs against the same app differ");
    assert_eq!(app.hangups.lock().expect("lock").len(), 2);
    assert_eq!(hangups[0], app.hangups.lock().expect("lock")[1], "ids come from the seed");

    // `live = true` in the scenario, under `test`: blessed once, then compared with `.expected`.
    let keyed = dir.join("keyed.toml");
    let text = std::fs::read_to_string(&path).expect("read scenario");
    std::fs::write(&keyed, format!("live = true\n{text}")).expect("write scenario");
    let test = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_plivo-flow")).arg("test").args(extra).arg(&keyed).output().expect("test")
    };
    let blessed = test(&["--bless"]);
    assert!(blessed.status.success(), "{}", String::from_utf8_lossy(&blessed.stdout));
    assert_eq!(std::fs::read_to_string(dir.join("keyed.expected")).expect("expected"), first);
    let checked = test(&[]);
    let out = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success() && out.contains("1 passed, 0 failed"), "{out}");
    assert_eq!(app.hangups.lock().expect("lock").len(), 4, "both `test` runs reached the app");
    // The same with `test --live` on the scenario without the key.
    std::fs::write(dir.join("ivr.expected"), &first).expect("write expected");
    let flagged = Command::new(env!("CARGO_BIN_EXE_plivo-flow"))
        .args(["test", "--live"])
        .arg(&path)
        .output()
        .expect("test --live");
    let out = String::from_utf8_lossy(&flagged.stdout);
    assert!(flagged.status.success() && out.contains("1 passed, 0 failed"), "{out}");

    // Coverage: the one URL served three documents; each is covered on its own, keyed by the
    // URL and a hash of its body.
    let cov = test(&["--coverage", "--coverage-format", "json"]);
    let out = String::from_utf8_lossy(&cov.stdout);
    assert!(cov.status.success(), "{out}");
    let json: serde_json::Value = serde_json::from_str(out.lines().last().unwrap_or_default()).expect("json");
    let docs = json["documents"].as_array().expect("documents");
    let urls: Vec<&str> = docs.iter().filter_map(|d| d["url"].as_str()).collect();
    assert_eq!(urls.len(), 3, "{out}");
    assert!(urls.iter().all(|u| u.starts_with(&format!("{base}/ivr ["))), "{urls:?}");
    // Level one and two: their GetDigits took `input`, never `no input`; level three ran whole.
    let untaken: Vec<&str> = docs
        .iter()
        .flat_map(|d| d["uncovered_branches"].as_array().into_iter().flatten())
        .filter_map(|b| b.as_str())
        .collect();
    assert_eq!(untaken.iter().filter(|b| b.ends_with("GetDigits: no input")).count(), 2, "{out}");
    assert!(docs.iter().all(|d| d["elements_covered"] == d["elements_total"]), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
