//! The engine's behaviour as data: every scenario under `tests/scenarios/engine` runs through
//! the library, as `plivo-flow test` runs it, and its whole transcript must equal the
//! `.expected` file beside it. To add or re-bless one, see `tests/scenarios/engine/README.md`.

use std::path::{Path, PathBuf};

use plivo_flow::scenario::Scenario;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scenarios/engine");

/// Every `*.toml` under `dir`, sorted, as the CLI finds them.
fn scenario_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("read the scenario folder").map(|e| e.expect("dir entry").path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            scenario_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
}

/// Where two texts first differ, line by line, with a few lines of context from each side.
fn first_difference(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let at = e.iter().zip(&a).position(|(x, y)| x != y).unwrap_or(e.len().min(a.len()));
    let from = at.saturating_sub(3);
    let show = |lines: &[&str], sign: char| -> String {
        let end = (at + 4).min(lines.len());
        let mut s = String::new();
        for (i, l) in lines.iter().enumerate().take(end).skip(from) {
            let mark = if i == at { sign } else { ' ' };
            s.push_str(&format!("  {mark} {:>4} | {l}\n", i + 1));
        }
        if lines.len() <= at {
            s.push_str(&format!("  {sign}      | (ends after line {})\n", lines.len()));
        }
        s
    };
    let mut out = format!("first difference at line {} (expected {} lines, actual {}):\n", at + 1, e.len(), a.len());
    out.push_str("  expected:\n");
    out.push_str(&show(&e, '-'));
    out.push_str("  actual:\n");
    out.push_str(&show(&a, '+'));
    if expected.ends_with('\n') != actual.ends_with('\n') && at >= e.len().min(a.len()) {
        out.push_str("  (the texts differ in their final newline)\n");
    }
    out
}

#[test]
fn every_engine_scenario_matches_its_expected_transcript() {
    let mut files = Vec::new();
    scenario_files(Path::new(DIR), &mut files);
    assert!(!files.is_empty(), "no scenario (*.toml) under {DIR}");
    let mut failures = Vec::new();
    for path in &files {
        let name = path.strip_prefix(DIR).unwrap_or(path).display().to_string();
        let actual = match Scenario::load(path) {
            Ok(mut s) => {
                s.simulation.run();
                s.simulation.transcript_text()
            }
            Err(e) => {
                failures.push(format!("{name}: cannot load: {e}"));
                continue;
            }
        };
        let expected_path = path.with_extension("expected");
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => {
                failures.push(format!(
                    "{name}: the transcript differs from {}\n{}\nwhole actual transcript:\n{actual}",
                    expected_path.display(),
                    first_difference(&expected, &actual)
                ));
            }
            Err(e) => failures.push(format!(
                "{name}: no expectation {} ({e}); write it with `cargo run -- test --bless {DIR}` and read it",
                expected_path.display()
            )),
        }
    }
    if !failures.is_empty() {
        let names: Vec<&str> = failures.iter().map(|f| f.split(':').next().unwrap_or("")).collect();
        panic!(
            "{} of {} engine scenarios failed: {}\n\n{}",
            failures.len(),
            files.len(),
            names.join(", "),
            failures.join("\n\n")
        );
    }
}

#[test]
fn first_difference_points_at_the_first_changed_line() {
    let report = first_difference("a\nb\nc\n", "a\nB\nc\n");
    assert!(report.starts_with("first difference at line 2"), "{report}");
    assert!(report.contains("-    2 | b") && report.contains("+    2 | B"), "{report}");
    let shorter = first_difference("a\nb\n", "a\n");
    assert!(shorter.starts_with("first difference at line 2"), "{shorter}");
    assert!(shorter.contains("(ends after line 1)"), "{shorter}");
}
