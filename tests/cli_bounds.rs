//! Hostile documents make `check`, `fmt` and `ast` print a bounded amount: at most
//! `ParseOptions::max_diagnostics` (100) diagnostics, each with a source window of at most
//! `RENDER_WINDOW` characters, then one "… and N more" line. Asserted in bytes, not time.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plivo-flow"));
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut pipe = child.stdin.take().expect("stdin");
    pipe.write_all(stdin.as_bytes()).expect("write stdin");
    drop(pipe);
    child.wait_with_output().expect("wait")
}

/// `<Response>` + `n` unknown elements on one line + `</Response>`.
fn unknown_elements(n: usize) -> String {
    format!("<Response>{}</Response>", "<Foo/>".repeat(n))
}

/// One `<Play>` with `n` distinct unknown attributes, on one line.
fn unknown_attributes(n: usize) -> String {
    let attrs: String = (0..n).map(|i| format!(" a{i}=\"1\"")).collect();
    format!("<Response><Play{attrs}>https://a.example/a.mp3</Play></Response>")
}

/// Every diagnostic is four lines of at most ~300 bytes (the message, the window and the
/// caret), plus the summary lines.
const BOUND: usize = 100 * 600 + 1000;

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn check_prints_a_bounded_report_for_15000_unknown_elements() {
    let src = unknown_elements(15_000);
    assert!(src.len() < 100 * 1024);
    let o = run(&["check", "-"], &src);
    assert_eq!(o.status.code(), Some(1));
    let (out, err) = text(&o);
    assert!(out.len() < BOUND, "{} bytes of output", out.len());
    assert_eq!(out.matches("error[E0204]").count(), 100, "{}", &out[..out.len().min(2000)]);
    assert!(
        out.contains("<stdin>: … and 14900 more diagnostics (14900 errors) not shown"),
        "{}",
        out.lines().last().unwrap_or("")
    );
    // The summary counts every diagnostic, shown or not.
    assert!(err.contains("15000 errors, 0 warnings"), "{err}");
}

#[test]
fn check_prints_a_bounded_report_for_9500_unknown_attributes() {
    let src = unknown_attributes(9_500);
    assert!(src.len() < 100 * 1024);
    let o = run(&["check", "-"], &src);
    // Unknown attributes are warnings: the document is still valid.
    assert_eq!(o.status.code(), Some(0));
    let (out, err) = text(&o);
    assert!(out.len() < BOUND, "{} bytes of output", out.len());
    assert_eq!(out.matches("warning[W0101]").count(), 100);
    assert!(out.contains("… and 9400 more diagnostics (0 errors) not shown"));
    assert!(err.contains("0 errors, 9500 warnings"), "{err}");
}

#[test]
fn check_json_is_bounded_too() {
    let src = unknown_elements(15_000);
    let o = run(&["check", "--format", "json", "-"], &src);
    let (out, _) = text(&o);
    assert!(out.len() < BOUND, "{} bytes of output", out.len());
    assert_eq!(out.lines().count(), 101);
    assert!(out.lines().last().unwrap_or("").contains("\"suppressed\":14900"), "{}", out.lines().last().unwrap_or(""));
}

#[test]
fn fmt_and_ast_print_bounded_diagnostics() {
    for cmd in ["fmt", "ast"] {
        let o = run(&[cmd, "-"], &unknown_elements(15_000));
        assert_eq!(o.status.code(), Some(1), "{cmd}");
        let (out, err) = text(&o);
        assert!(out.is_empty(), "{cmd}: {out}");
        assert!(err.len() < BOUND, "{cmd}: {} bytes", err.len());
        assert!(err.contains("… and 14900 more diagnostics"), "{cmd}");

        // A valid document with many warnings is printed, and its warnings are bounded.
        let o = run(&[cmd, "-"], &unknown_attributes(9_500));
        assert_eq!(o.status.code(), Some(0), "{cmd}");
        let (_, err) = text(&o);
        assert!(err.len() < BOUND, "{cmd}: {} bytes", err.len());
    }
}

#[test]
fn too_large_is_one_short_diagnostic() {
    // 200 KB on one line: E0103 at 1:1, with a window of the line, not the line.
    let src = unknown_elements(35_000);
    assert!(src.len() > 200_000);
    let o = run(&["check", "-"], &src);
    assert_eq!(o.status.code(), Some(1));
    let (out, _) = text(&o);
    assert!(out.contains("1:1: error[E0103]"), "{out}");
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(out.len() < 600, "{} bytes: {out}", out.len());
}
