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
