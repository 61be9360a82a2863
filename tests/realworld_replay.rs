//! Replays real-world documents (`tests/corpus/realworld/*.xml`) as one inbound call each,
//! with a generic script — keys pressed now and then, streams closed, dials answered (the
//! default), rooms ended, and a caller who hangs up after six hours at the latest — and
//! checks that every call reaches a normal end: a hangup with a cause that is not a parse
//! error, well within the 48 h virtual cap. The same harness runs over the SDK corpus, so it
//! is exercised even where the real-world folder is absent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use plivo_flow::engine::HangupCause;
use plivo_flow::runtime::RoomOp;
use plivo_flow::sim::Simulation;

const ANSWER: &str = "https://replay.example/answer";
/// Every other URL (actions, redirects, sounds) gets this.
const ELSEWHERE: &str = "<Response><Speak>done</Speak><Hangup/></Response>";
/// The caller gives up at the latest after this long.
const PATIENCE: Duration = Duration::from_secs(6 * 3600);

fn xml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    files
}

/// How one replay ended: its cause and when, or why it is not a normal end.
fn replay(path: &Path) -> Result<(HangupCause, Duration), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("unreadable: {e}"))?;
    // As a runtime reads a fetched body: in its declared encoding (vm_04_latin1.xml is Latin-1).
    let xml = plivo_flow::xml::decode(&bytes).ok_or("neither UTF-8 nor a declared single-byte encoding")?.into_owned();
    let mut sim = Simulation::new();
    sim.serve(ANSWER, &xml);
    sim.serve_fallback(ELSEWHERE);
    sim.start_call("caller", ANSWER);
    let secs = Duration::from_secs;
    for (i, t) in [5u64, 12, 20, 30, 45, 60, 90, 120, 180, 300].into_iter().enumerate() {
        let keys = ["1", "2#", "1234#", "0", "*", "9#", "3", "1#", "#", "5"][i];
        sim.at(secs(t)).digits("caller", keys);
        sim.at(secs(t) + Duration::from_millis(500)).speech("caller", "yes", 0.9);
    }
    for t in [30, 120, 600] {
        sim.at(secs(t)).end_stream("caller");
    }
    for t in [600, 1800, 3600] {
        sim.at(secs(t)).room_op(RoomOp::EndAll);
    }
    sim.at(PATIENCE).hangup("caller");
    sim.run();
    let text = sim.transcript_text();
    let id = sim.call_id("caller").ok_or("no call")?;
    let call = sim.engine().call(id).ok_or("the call never started")?;
    let Some(end) = call.ended() else {
        return Err(format!("still live (verb {:?}) after the 48 h cap:\n{text}", call.current_verb()));
    };
    if matches!(
        end.cause,
        HangupCause::InvalidAnswerXml
            | HangupCause::InvalidActionXml
            | HangupCause::InvalidTransferXml
            | HangupCause::InvalidRedirectXml
    ) {
        return Err(format!("ended with a parse error, {}:\n{text}", end.cause));
    }
    if text.contains("fetch of") {
        return Err(format!("a fetch failed although every URL is served:\n{text}"));
    }
    Ok((end.cause, end.at))
}

/// Replays every document in `dir`; panics naming each that did not end normally.
fn replay_all(dir: &Path) -> usize {
    let files = xml_files(dir);
    let mut failures = Vec::new();
    let mut waited = Vec::new();
    for f in &files {
        match replay(f) {
            Ok((_, at)) if at >= PATIENCE => waited.push(f.file_name().map(|n| n.to_string_lossy().into_owned())),
            Ok(_) => {}
            Err(why) => failures.push(format!("{}: {why}", f.display())),
        }
    }
    println!("{}: {} documents replayed; ended only when the caller gave up: {waited:?}", dir.display(), files.len());
    assert!(
        failures.is_empty(),
        "{} of {} did not end normally:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
    files.len()
}

#[test]
fn every_real_world_document_reaches_a_normal_end() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/realworld");
    if !dir.is_dir() {
        println!("note: {} is absent on this branch; skipping the real-world replay", dir.display());
        return;
    }
    let n = replay_all(&dir);
    assert!(n >= 40, "the real-world corpus holds {n} documents, expected at least 40");
}

#[test]
fn every_sdk_corpus_document_reaches_a_normal_end() {
    let n = replay_all(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/sdk"));
    assert!(n >= 24, "the SDK corpus went missing: {n}");
}

#[test]
fn the_harness_rejects_a_parse_error_and_accepts_a_normal_end() {
    let dir = std::env::temp_dir().join(format!("plivo-flow-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.xml");
    std::fs::write(&bad, "<Response><Reject/></Response>").expect("write");
    let err = replay(&bad).expect_err("a parse error is not a normal end");
    assert!(err.contains("8011"), "{err}");
    let ok = dir.join("ok.xml");
    std::fs::write(&ok, "<Response><Wait length=\"2\"/></Response>").expect("write");
    assert_eq!(replay(&ok), Ok((HangupCause::EndOfXml, Duration::from_secs(2))));
    let _ = std::fs::remove_dir_all(&dir);
}
