//! `plivo-flow test --coverage` and `Simulation::coverage` against a hand-counted document,
//! `tests/coverage/menu.xml`:
//!
//! | element | branches |
//! |---|---|
//! | 0 `<GetDigits>` (action, `invalidDigitsSound`) | input, no input, invalid |
//! | 1 `<Speak>` | — |
//! | 2 `<Dial redirect="false">` | completed, busy, no-answer, failed |
//! | 3 `<Conference hangupOnStar="true">` | kicked, room ended, time limit, room full, hangup on star, member hung up |
//! | 4 `<Hangup>` | — |
//! | 5 `<Speak>` (after the Hangup: never runs) | — |
//!
//! 6 elements, 13 branches. The scenario (`menu.toml`) runs elements 0–4 and takes input
//! (sales), invalid (typo), no input (quiet, typo), busy (the `[dial]` default) and kicked:
//! 5 of 6 elements and 5 of 13 branches; `choice.xml` (the action's document) runs its one
//! element and has no branch. Total: elements 6/7, branches 5/13, 11/20 = 55.0%.

use std::process::Command;

use plivo_flow::scenario::Scenario;

const SCENARIO: &str = "tests/coverage/menu.toml";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_plivo-flow"))
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = bin().args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("utf-8"),
        String::from_utf8(out.stderr).expect("utf-8"),
    )
}

#[test]
fn the_simulation_reports_what_ran_of_each_document() {
    let mut s = Scenario::load(SCENARIO.as_ref()).expect("loads");
    s.simulation.run();
    let report = s.simulation.coverage();
    let urls: Vec<_> = report.counted().map(|d| d.url.as_str()).collect();
    assert_eq!(urls, ["file:menu.xml", "https://app.example.com/choice"]);
    let menu = &report.documents[0];
    assert_eq!((menu.elements_covered, menu.elements_total), (5, 6));
    assert_eq!((menu.branches_covered, menu.branches_total), (5, 13));
    assert_eq!(menu.uncovered_elements, ["5 Speak"]);
    assert_eq!(
        menu.uncovered_branches,
        [
            "2 Dial: completed",
            "2 Dial: no-answer",
            "2 Dial: failed",
            "3 Conference: room ended",
            "3 Conference: time limit",
            "3 Conference: room full",
            "3 Conference: hangup on star",
            "3 Conference: member hung up",
        ]
    );
    let taken: Vec<_> = menu.covered.branches.iter().map(|&((i, _), b)| format!("{i} {b}")).collect();
    assert_eq!(taken, ["0 input", "0 invalid", "0 no input", "2 busy", "3 kicked"]);
    assert_eq!(report.totals(), ((6, 7), (5, 13)));
    assert!((report.percent() - 55.0).abs() < 1e-9);
}

#[test]
fn test_coverage_prints_the_figures() {
    let (code, out, err) = run(&["test", SCENARIO, "--coverage"]);
    assert_eq!(code, 0, "{out}{err}");
    let cov = &out[out.find("coverage of").expect("a coverage section")..];
    assert_eq!(
        cov,
        "coverage of 2 documents
  file:menu.xml: elements 5/6, branches 5/13
    not run: 5 Speak
    not taken: 2 Dial: completed, 2 Dial: no-answer, 2 Dial: failed, 3 Conference: room ended, \
3 Conference: time limit, 3 Conference: room full, 3 Conference: hangup on star, 3 Conference: member hung up
  https://app.example.com/choice: elements 1/1, branches 0/0
coverage: elements 6/7 (85.7%), branches 5/13 (38.5%), total 11/20 (55.0%)
"
    );
}

#[test]
fn fail_under_sets_the_exit_status() {
    let (code, _, err) = run(&["test", SCENARIO, "--coverage", "--fail-under", "55"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["test", SCENARIO, "--coverage", "--fail-under", "55.1"]);
    assert_eq!(code, 1);
    assert!(err.contains("coverage 55.0% is below --fail-under 55.1%"), "{err}");
    // --fail-under needs --coverage.
    let (code, _, _) = run(&["test", SCENARIO, "--fail-under", "10"]);
    assert_eq!(code, 2);
}

#[test]
fn coverage_json_is_one_object_on_the_last_line() {
    let (code, out, err) = run(&["test", SCENARIO, "--coverage", "--coverage-format", "json"]);
    assert_eq!(code, 0, "{err}");
    let last = out.lines().last().expect("output");
    let v: serde_json::Value = serde_json::from_str(last).expect("JSON");
    assert_eq!(v["elements_covered"], 6);
    assert_eq!(v["elements_total"], 7);
    assert_eq!(v["branches_covered"], 5);
    assert_eq!(v["branches_total"], 13);
    assert_eq!(v["percent"], 55.0);
    let docs = v["documents"].as_array().expect("documents");
    assert_eq!(docs.len(), 2);
    let menu = &docs[0];
    assert_eq!(menu["url"], "file:menu.xml");
    assert_eq!(menu["elements_covered"], 5);
    assert_eq!(menu["branches_total"], 13);
    assert_eq!(menu["uncovered_elements"], serde_json::json!(["5 Speak"]));
    assert_eq!(menu["uncovered_branches"].as_array().map(Vec::len), Some(8));
    let keys: Vec<_> = menu.as_object().expect("object").keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "branches_covered",
            "branches_total",
            "elements_covered",
            "elements_total",
            "uncovered_branches",
            "uncovered_elements",
            "url"
        ]
    );
}

#[test]
fn graph_marks_what_the_scenario_covered() {
    let (code, dot, err) = run(&["graph", "tests/coverage/menu.xml", "--coverage", SCENARIO]);
    assert_eq!(code, 0, "{err}");
    let line = |prefix: &str| {
        dot.lines().find(|l| l.trim_start().starts_with(prefix)).unwrap_or_else(|| panic!("{prefix} in\n{dot}"))
    };
    assert!(line("e0 [").contains("#ccffcc"), "GetDigits ran");
    assert!(line("e5 [").contains("#ffd6d6"), "the Speak after the Hangup never ran");
    assert!(line("e2 -> e3 [label=\"busy\"").contains("#1a8f1a"));
    assert!(line("e2 -> e3 [label=\"failed\"").contains("dashed"));
    assert!(line("e0 -> u0 [label=\"input\"").contains("#1a8f1a"));
    assert!(line("e0 -> e0 [label=\"invalid\"").contains("#1a8f1a"));
    assert!(line("e3 -> e4 [label=\"kicked\"").contains("#1a8f1a"));
    assert!(line("e3 -> ended [label=\"member hung up\"").contains("dashed"));
    assert!(line("e2 -> u1 [label=\"notify\"").contains("u1"), "the redirect=false action is notified");

    let (code, mermaid, _) = run(&["graph", "tests/coverage/menu.xml", "--format", "mermaid", "--coverage", SCENARIO]);
    assert_eq!(code, 0);
    assert!(mermaid.contains("  class e5 uncovered\n"), "{mermaid}");
    assert!(mermaid.contains("  class e0 covered\n"), "{mermaid}");

    // A document no scenario serves: drawn, all uncovered, with a note.
    let (code, dot, err) = run(&["graph", "samples/speak-ssml.xml", "--coverage", SCENARIO]);
    assert_eq!(code, 0);
    assert!(err.contains("no scenario serves this document"), "{err}");
    assert!(dot.contains("#ffd6d6"));
}
