//! Apps written as for Plivo, run unchanged against `plivo-flow serve`: `tests/apps/*/run.sh`.
//!
//! `support-line`: a conference recording started on `Event == "ConferenceEnter"` and callers
//! put on hold (Call Transfer API) when the agent's `ConferenceExit` says others remain — the
//! app's official Python SDK pointed at `serve` only by the environment
//! (`contrib/sdk-base-url/python`). Needs Python 3 with venv and PyPI (Flask and plivo, in
//! `target/apps-venv`); `PLIVO_FLOW_SKIP_SDK=1` skips it, as for `tests/sdk.rs`.

use std::process::Command;

#[test]
fn the_support_line_app_records_on_enter_and_holds_when_the_agent_leaves() {
    if std::env::var_os("PLIVO_FLOW_SKIP_SDK").is_some_and(|v| v == "1") {
        eprintln!("skipped: PLIVO_FLOW_SKIP_SDK=1");
        return;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(format!("{root}/tests/apps/support-line/run.sh"))
        .current_dir(root)
        .env("PLIVO_FLOW_BIN", env!("CARGO_BIN_EXE_plivo-flow"))
        .output()
        .expect("run tests/apps/support-line/run.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "support-line failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert!(stdout.lines().last().is_some_and(|l| l == "9 passed, 0 failed"), "{stdout}");
}
