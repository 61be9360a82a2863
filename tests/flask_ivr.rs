//! The worked example for app developers, `examples/flask-ivr/`: a Flask IVR (Flask and plivo
//! from PyPI) tested live in virtual time by its scenarios, and replayed from the cassettes
//! recorded from it with the app stopped — `examples/flask-ivr/ci.sh`.
//!
//! Needs Python 3 with venv and access to PyPI (a venv under `target/flask-ivr-venv`). Set
//! `PLIVO_FLOW_SKIP_SDK=1` to skip it on a machine without them (CI never sets it), as for
//! `tests/sdk.rs`.

use std::process::Command;

#[test]
fn the_flask_ivr_example_passes_its_live_scenarios() {
    if std::env::var_os("PLIVO_FLOW_SKIP_SDK").is_some_and(|v| v == "1") {
        eprintln!("skipped: PLIVO_FLOW_SKIP_SDK=1");
        return;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(format!("{root}/examples/flask-ivr/ci.sh"))
        .current_dir(root)
        .env("PLIVO_FLOW_BIN", env!("CARGO_BIN_EXE_plivo-flow"))
        .output()
        .expect("run examples/flask-ivr/ci.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "examples/flask-ivr/ci.sh failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.ends_with(" passed, 0 failed") && !last.starts_with("0 "), "{stdout}");
    assert!(stdout.contains("ok    plivo-flow test examples/flask-ivr/scenarios: 4 passed, 0 failed"), "{stdout}");
    assert!(stdout.contains("examples/flask-ivr/cassettes: 5 passed, 0 failed"), "{stdout}");
}
