//! Cassettes: `run --live --record DIR` against a real HTTP app in the test process, then
//! `plivo-flow test DIR` replays them with no application answering; edited cassettes fail
//! with a readable first divergence. `serve --record DIR` writes cassettes that replay too.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::Method as HttpMethod;
use axum::routing::any;

#[derive(Clone, Default)]
struct App {
    base: Arc<Mutex<String>>,
    /// Requests received.
    hits: Arc<AtomicUsize>,
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(h) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(h);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn param(method: &HttpMethod, query: Option<&str>, body: &str, name: &str) -> String {
    let text = if method == HttpMethod::GET { query.unwrap_or("") } else { body };
    text.split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| decode(k) == name)
        .map(|(_, v)| decode(v))
        .unwrap_or_default()
}

/// The answer: menu one. `/menu` answers by the `Digits` it gets: `1` → menu two, `2` → good
/// bye; menu two's `Digits` are spoken back.
async fn ivr(
    State(app): State<App>,
    RawQuery(query): RawQuery,
    method: HttpMethod,
    uri: axum::http::Uri,
    body: String,
) -> String {
    app.hits.fetch_add(1, Ordering::SeqCst);
    let base = app.base.lock().expect("lock").clone();
    let digits = param(&method, query.as_deref(), &body, "Digits");
    match (uri.path(), digits.as_str()) {
        ("/answer", _) => format!(
            r#"<Response><GetDigits action="{base}/menu" numDigits="1" timeout="10"><Speak>Press 1 for sales, 2 to leave</Speak></GetDigits></Response>"#
        ),
        ("/menu", "1") => format!(
            r#"<Response><GetDigits action="{base}/sales" numDigits="1" timeout="10"><Speak>Sales. Press a key</Speak></GetDigits></Response>"#
        ),
        ("/menu", _) => "<Response><Speak>Good bye</Speak><Hangup/></Response>".to_owned(),
        ("/sales", d) => format!("<Response><Speak>You pressed {d}</Speak><Hangup/></Response>"),
        ("/conf", _) => "<Response><Conference>Room</Conference><Speak>Bye</Speak></Response>".to_owned(),
        _ => "OK".to_owned(),
    }
}

/// Starts the app on a thread of its own; returns its state and base URL.
fn start_app() -> (App, String) {
    let app = App::default();
    let state = app.clone();
    let base = common::spawn_app(move |base| {
        *state.base.lock().expect("lock") = base.to_owned();
        Router::new().fallback(any(ivr)).with_state(state)
    });
    (app, base)
}

/// The cassette `serve --record` writes for call `uuid` once the call has ended and its
/// notifications were answered, waiting for it (at most 10 s).
async fn cassette_of(tapes: &Path, uuid: &str) -> serde_json::Value {
    let file = tapes.join(format!("{uuid}.cassette.json"));
    for _ in 0..2000 {
        if file.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    read_json(&file)
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plivo-flow-cassette-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn flow(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plivo-flow")).args(args).args(paths).output().expect("run plivo-flow")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Writes the two-level scenario (alice presses 1 then 3; bob presses 2) and records it.
fn record(dir: &Path, base: &str) -> PathBuf {
    let scenario = dir.join("ivr.toml");
    std::fs::write(
        &scenario,
        format!(
            r#"seed = 7

[[call]]
name = "alice"
answer = "{base}/answer"
hangup_url = "{base}/hangup"

[[call]]
name = "bob"
answer = "{base}/answer"
at = "1s"

[[event]]
at = "4s"
action = "digits"
call = "alice"
keys = "1"

[[event]]
at = "5s"
action = "digits"
call = "bob"
keys = "2"

[[event]]
at = "9s"
action = "digits"
call = "alice"
keys = "34"
"#
        ),
    )
    .expect("write scenario");
    let tapes = dir.join("tapes");
    let out = flow(&["run", "--live", "--record", tapes.to_str().expect("path")], &[&scenario]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    assert!(text.contains("alice  spoke \"You pressed 3\""), "{text}");
    assert!(text.contains("bob  spoke \"Good bye\""), "{text}");
    tapes
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read cassette")).expect("cassette JSON")
}

fn write_json(path: &Path, v: &serde_json::Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).expect("json")).expect("write cassette");
}

#[test]
fn a_recorded_live_run_replays_with_no_app_and_an_edited_reply_fails_with_the_parameter() {
    let (app, base) = start_app();
    let dir = temp_dir("run");
    let tapes = record(&dir, &base);
    let alice = tapes.join("alice.cassette.json");
    let v = read_json(&alice);
    assert_eq!(v["version"], 1);
    assert_eq!(v["source"], "run");
    assert_eq!(v["call"]["name"], "alice");
    assert_eq!(v["call"]["hangup"][0], format!("{base}/hangup"));
    let requests = v["requests"].as_array().expect("requests");
    let urls: Vec<&str> = requests.iter().map(|r| r["url"].as_str().unwrap_or("")).collect();
    let want = [format!("{base}/answer"), format!("{base}/menu"), format!("{base}/sales"), format!("{base}/hangup")];
    assert_eq!(urls, want.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(requests[1]["reply"]["status"], 200);
    assert!(requests[1]["reply"]["body"].as_str().unwrap_or("").contains("Sales"));
    let digits = |r: &serde_json::Value| {
        r["params"].as_array().and_then(|ps| ps.iter().find(|p| p[0] == "Digits")).map(|p| p[1].clone())
    };
    assert_eq!(digits(&requests[1]), Some(serde_json::json!("1")));
    assert_eq!(digits(&requests[2]), Some(serde_json::json!("3")));
    let events = v["events"].as_array().expect("events");
    assert_eq!(events.len(), 2, "alice's two inputs: {events:?}");
    assert_eq!(events[0]["at_ms"], 4000);
    assert_eq!(events[0]["event"]["keys"], "1");
    assert!(tapes.join("bob.cassette.json").exists());

    // Replay: passes, and the app hears nothing.
    let hits = app.hits.load(Ordering::SeqCst);
    let junit = dir.join("ok.xml");
    let out = flow(&["test", "--junit", junit.to_str().expect("path")], &[&tapes]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("alice.cassette.json ... ok") && text.contains("bob.cassette.json ... ok"), "{text}");
    assert!(text.contains("2 passed, 0 failed"), "{text}");
    assert_eq!(app.hits.load(Ordering::SeqCst), hits, "the replay reached the app");

    // The app's reply to alice's menu changes: two digits now, so request 3 carries "34".
    let mut edited = v.clone();
    let body =
        edited["requests"][1]["reply"]["body"].as_str().expect("body").replace("numDigits=\"1\"", "numDigits=\"2\"");
    edited["requests"][1]["reply"]["body"] = serde_json::json!(body);
    write_json(&alice, &edited);
    let out = flow(&["test", "--junit", junit.to_str().expect("path")], &[&tapes]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let want = format!("alice request 3 (POST {base}/sales, GetDigits action): parameter Digits was \"3\", now \"34\"");
    assert!(text.contains(&want), "no `{want}` in:\n{text}");
    assert!(text.contains("alice.cassette.json ... FAILED") && text.contains("1 passed, 1 failed"), "{text}");
    let report = std::fs::read_to_string(&junit).expect("junit");
    assert!(report.contains("failures=\"1\"") && report.contains("parameter Digits was"), "{report}");

    // A single cassette replays on its own too.
    write_json(&alice, &v);
    let out = flow(&["test"], &[&tapes.join("bob.cassette.json")]);
    assert!(out.status.success(), "{}", stdout(&out));

    // `test --live --record DIR`: each scenario's cassettes in a folder of its own.
    let scenario = dir.join("ivr.toml");
    let again = dir.join("again");
    let out = flow(&["test", "--live", "--bless", "--record", again.to_str().expect("path")], &[&scenario]);
    assert!(out.status.success(), "{}", stdout(&out));
    let folders: Vec<PathBuf> =
        std::fs::read_dir(&again).expect("record dir").filter_map(|e| e.ok().map(|e| e.path())).collect();
    assert_eq!(folders.len(), 1, "{folders:?}");
    let name = folders[0].file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    assert!(name.ends_with("_ivr") && !name.contains('/'), "{name}");
    assert!(folders[0].join("alice.cassette.json").exists() && folders[0].join("bob.cassette.json").exists());
    let out = flow(&["test"], &[&again]);
    assert!(out.status.success() && stdout(&out).contains("2 passed, 0 failed"), "{}", stdout(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_and_extra_requests_are_divergences() {
    let (_app, base) = start_app();
    let dir = temp_dir("count");
    let tapes = record(&dir, &base);
    let alice = tapes.join("alice.cassette.json");
    let v = read_json(&alice);

    // The cassette lost its last request (hangup): the replay makes one more.
    let mut fewer = v.clone();
    fewer["requests"].as_array_mut().expect("requests").pop();
    write_json(&alice, &fewer);
    let text = stdout(&flow(&["test"], &[&alice]));
    let want = format!("alice request 4 (POST {base}/hangup, hangup): not in the cassette (it recorded 3 requests)");
    assert!(text.contains(&want), "no `{want}` in:\n{text}");

    // The cassette has one request more than the replay makes.
    let mut more = v.clone();
    let extra = serde_json::json!({
        "at_ms": 20000, "url": format!("{base}/after"), "method": "GET", "purpose": "redirect",
        "params": [], "reply": {"status": 200, "body": "<Response/>", "latency_ms": 1}
    });
    more["requests"].as_array_mut().expect("requests").push(extra);
    write_json(&alice, &more);
    let text = stdout(&flow(&["test"], &[&alice]));
    let want =
        format!("alice request 5 (GET {base}/after, redirect): recorded but not made (the replay made 4 requests)");
    assert!(text.contains(&want), "no `{want}` in:\n{text}");

    // A reply that sends the call elsewhere: the URL differs.
    let mut moved = v.clone();
    let body = moved["requests"][0]["reply"]["body"].as_str().expect("body").replace("/menu", "/other");
    moved["requests"][0]["reply"]["body"] = serde_json::json!(body);
    write_json(&alice, &moved);
    let text = stdout(&flow(&["test"], &[&alice]));
    let want =
        format!("alice request 2 (POST {base}/menu, GetDigits action): URL was \"{base}/menu\", now \"{base}/other\"");
    assert!(text.contains(&want), "no `{want}` in:\n{text}");

    // A cassette without settings replays with none (another seed: ids are mapped).
    let bob = tapes.join("bob.cassette.json");
    let mut bare = read_json(&bob);
    bare.as_object_mut().map(|o| o.remove("settings"));
    write_json(&bob, &bare);
    let out = flow(&["test"], &[&bob]);
    assert!(out.status.success(), "{}", stdout(&out));

    // Not a cassette of this version.
    let mut future = v.clone();
    future["version"] = serde_json::json!(99);
    write_json(&alice, &future);
    let out = flow(&["test"], &[&alice]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("cassette format version 99 is not supported"), "{}", stdout(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_record_writes_a_cassette_per_call_that_replays() {
    use plivo_flow::server::{self, DEV_AUTH_ID, DEV_AUTH_TOKEN, ServerConfig};
    let (app, base) = start_app();
    let dir = temp_dir("serve");
    let tapes = dir.join("tapes");
    std::fs::create_dir_all(&tapes).expect("tapes dir");
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        speed: 0.0,
        record: Some(tapes.clone()),
        ..ServerConfig::default()
    };
    let running = server::start(config).await.expect("server");
    let http = reqwest::Client::new();
    let api = format!("http://{}", running.addr);
    let post = |path: String, body: serde_json::Value| {
        http.post(format!("{api}{path}")).basic_auth(DEV_AUTH_ID, Some(DEV_AUTH_TOKEN)).json(&body).send()
    };
    let settle = || async {
        let r = http
            .get(format!("{api}/sim/Settled/?timeout_ms=5000"))
            .basic_auth(DEV_AUTH_ID, Some(DEV_AUTH_TOKEN))
            .send()
            .await
            .expect("settled");
        assert!(r.status().is_success());
    };
    let started = post(
        "/sim/Call/".to_owned(),
        serde_json::json!({
            "from": "14155550100", "to": "14155550199",
            "answer_url": format!("{base}/answer"), "hangup_url": format!("{base}/hangup"),
        }),
    )
    .await
    .expect("start call");
    assert_eq!(started.status().as_u16(), 201);
    let v: serde_json::Value = started.json().await.expect("json");
    let uuid = v["call_uuid"].as_str().expect("call_uuid").to_owned();
    settle().await;
    for keys in ["1", "3"] {
        let r = post(format!("/sim/Call/{uuid}/Digits/"), serde_json::json!({ "digits": keys })).await.expect("digits");
        assert_eq!(r.status().as_u16(), 202);
        settle().await;
    }
    // Written once the call has ended and its hangup notification was answered.
    let v = cassette_of(&tapes, &uuid).await;
    assert_eq!(v["source"], "serve");
    let purposes: Vec<&str> =
        v["requests"].as_array().expect("requests").iter().filter_map(|r| r["purpose"].as_str()).collect();
    assert_eq!(purposes, ["answer", "GetDigits action", "GetDigits action", "hangup"], "{v}");
    assert_eq!(v["requests"][3]["reply"]["status"], 200);
    assert_eq!(v["requests"][3]["reply"]["body"], "OK");
    let events = v["events"].as_array().expect("events");
    assert_eq!(events.len(), 2, "{v}");
    assert_eq!(events[1]["event"], serde_json::json!({"action": "digits", "call": uuid, "keys": "3"}));

    // Two callers meet in a room; a REST kick sends the first on, the second hangs up.
    let mut room = Vec::new();
    for from in ["14155550101", "14155550102"] {
        let body = serde_json::json!({
            "from": from, "to": "14155550199",
            "answer_url": format!("{base}/conf"), "hangup_url": format!("{base}/hangup"),
        });
        let r = post("/sim/Call/".to_owned(), body).await.expect("start call");
        let v: serde_json::Value = r.json().await.expect("json");
        room.push(v["call_uuid"].as_str().expect("call_uuid").to_owned());
        settle().await;
    }
    let kick = format!("/v1/Account/{DEV_AUTH_ID}/Conference/Room/Member/1/Kick/");
    assert_eq!(post(kick, serde_json::json!({})).await.expect("kick").status().as_u16(), 202);
    settle().await;
    let r = http
        .delete(format!("{api}/sim/Call/{}/", room[1]))
        .basic_auth(DEV_AUTH_ID, Some(DEV_AUTH_TOKEN))
        .send()
        .await
        .expect("hang up");
    assert_eq!(r.status().as_u16(), 204);
    for uuid in &room {
        let v = cassette_of(&tapes, uuid).await;
        let kicks: Vec<&serde_json::Value> =
            v["events"].as_array().expect("events").iter().filter(|e| e["event"]["action"] == "kick").collect();
        assert_eq!(kicks.len(), 1, "both callers' cassettes hold the kick: {v}");
    }
    let _ = running.stop().await;

    let hits = app.hits.load(Ordering::SeqCst);
    let out = flow(&["test"], &[&tapes]);
    let text = stdout(&out);
    assert!(out.status.success() && text.contains("3 passed, 0 failed"), "{text}");
    assert_eq!(app.hits.load(Ordering::SeqCst), hits, "the replay reached the app");
    if std::env::var_os("KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Every sample recorded with `run --record` (canned documents, no app) replays from its
/// cassettes alone: the engine is deterministic enough for cassettes, conferences included.
#[test]
fn every_sample_and_fault_scenario_recorded_replays_from_its_cassettes() {
    let dir = temp_dir("samples");
    // The samples, and the faults on purpose (whose replies come after retries and redirects).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut scenarios: Vec<PathBuf> = ["samples", "tests/scenarios/faults"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).expect("scenario folder"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        // Left out: its caller hangs up while a faulted fetch is still timing out, and replay
        // answers every request at once (docs/scenarios.md, "Cassettes": a fault's virtual
        // delay is not replayed), so the call ends another way.
        .filter(|p| !p.ends_with("answer_timeout_goes_to_the_fallback_url_at_55s.toml"))
        .collect();
    scenarios.sort();
    assert!(scenarios.len() >= 20, "{scenarios:?}");
    for (i, s) in scenarios.iter().enumerate() {
        let tapes = dir.join(i.to_string());
        let out = flow(&["run", "--record", tapes.to_str().expect("path")], &[s]);
        assert!(out.status.success(), "{}: {}", s.display(), String::from_utf8_lossy(&out.stderr));
    }
    let out = flow(&["test"], &[&dir]);
    let text = stdout(&out);
    assert!(out.status.success() && text.contains(" 0 failed"), "{text}");
    let oks = text.lines().filter(|l| l.ends_with(".cassette.json ... ok")).count();
    assert!(oks > scenarios.len(), "one cassette per call, at least one call per sample:\n{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
