//! The real-world-style corpus (`tests/corpus/realworld/`, our own writing): every document
//! has zero errors, exactly the warning codes its manifest line names, and survives the writer.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use plivo_flow::xml::{self, ParseOptions};

fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/realworld")
}

fn manifest() -> BTreeMap<String, BTreeSet<String>> {
    let text = fs::read_to_string(dir().join("expected-warnings.txt")).expect("manifest");
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (file, codes) = line.split_once(':').unwrap_or_else(|| panic!("bad manifest line {line:?}"));
        let codes: BTreeSet<String> = codes.split_whitespace().map(str::to_owned).collect();
        assert!(codes.iter().all(|c| c.starts_with('W')), "{line}: only warnings may be expected");
        out.insert(file.trim().to_owned(), codes);
    }
    out
}

#[test]
fn every_realworld_document_has_no_error_and_its_expected_warnings() {
    let manifest = manifest();
    let mut files: Vec<_> = fs::read_dir(dir())
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    assert!(files.len() >= 40, "only {} documents", files.len());
    let names: BTreeSet<String> =
        files.iter().filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
    for listed in manifest.keys() {
        assert!(names.contains(listed), "manifest names a missing file {listed}");
    }
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let bytes = fs::read(path).expect("read");
        let parsed = xml::parse_bytes(&bytes, &ParseOptions::default());
        let shown: Vec<String> = parsed
            .diagnostics
            .iter()
            .map(|d| format!("    {} {}:{} {}", d.code, d.line, d.column, d.message))
            .collect();
        if parsed.has_errors() {
            failures.push(format!("  {name}: errors\n{}", shown.join("\n")));
            continue;
        }
        let got: BTreeSet<String> = parsed.diagnostics.iter().map(|d| d.code.to_string()).collect();
        let want = manifest.get(&name).cloned().unwrap_or_default();
        if got != want {
            failures.push(format!("  {name}: want {want:?}, got {got:?}\n{}", shown.join("\n")));
        }
        assert!(!parsed.document.verbs.is_empty(), "{name}: no verbs");
        // The canonical form parses to the same document.
        let written = xml::write(&parsed.document);
        let again = xml::parse(&written);
        if again.has_errors() || again.document != parsed.document {
            failures.push(format!("  {name}: writer round trip changed the document\n{written}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} documents failed:\n{}", failures.len(), files.len(), failures.join("\n"));
}
