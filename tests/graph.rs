//! `plivo-flow graph`: the DOT of every sample (plain and marked with its scenario's coverage)
//! is accepted by Graphviz's `dot` (Debian's `graphviz`, which `.ci/run` installs; without it
//! locally the check is skipped with a notice); `--format svg` goes through it too. The
//! Mermaid of every sample (plain, with coverage, and with quotes to escape) is parsed by
//! Mermaid itself (`mermaid.parse` from npm, in a jsdom window: `tests/mermaid/`; needs Node
//! and npm, as `tests/sdk.rs` does, and is skipped the same way with `PLIVO_FLOW_SKIP_SDK=1`),
//! and checked structurally too: a `flowchart` header, well-formed node, edge, class and
//! linkStyle lines, every edge's nodes declared, every linkStyle naming an edge.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use plivo_flow::graph::Graph;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_plivo-flow"))
}

/// The sample documents, and the coverage test's document.
fn documents() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir("samples")
        .expect("samples/")
        .chain(std::fs::read_dir("samples/scenario-docs").expect("samples/scenario-docs/"))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    v.push("tests/coverage/menu.xml".into());
    v.sort();
    assert!(v.len() > 12, "{v:?}");
    v
}

fn graph(args: &[&str]) -> String {
    let out = bin().arg("graph").args(args).output().expect("runs");
    assert!(out.status.success(), "graph {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn have_dot() -> bool {
    Command::new("dot").arg("-V").stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn render(dot: &str) -> Vec<u8> {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dot runs");
    child.stdin.take().expect("stdin").write_all(dot.as_bytes()).expect("written");
    let out = child.wait_with_output().expect("dot ends");
    assert!(out.status.success(), "dot -Tsvg refused:\n{}\n{dot}", String::from_utf8_lossy(&out.stderr));
    assert!(!out.stderr.iter().any(|_| true), "dot warned:\n{}\n{dot}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn graphviz_renders_every_sample() {
    if !have_dot() {
        eprintln!("NOTICE: Graphviz `dot` is not on PATH; skipping (apt-get install graphviz; .ci/run installs it)");
        return;
    }
    for doc in documents() {
        let p = doc.to_str().expect("utf-8 path");
        let svg = render(&graph(&[p]));
        let svg = String::from_utf8(svg).expect("utf-8");
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{p}");
        // Marked with coverage: the sample's own scenario, or none.
        let toml = doc.with_extension("toml");
        if toml.exists() {
            let svg = render(&graph(&[p, "--coverage", toml.to_str().expect("utf-8")]));
            assert!(!svg.is_empty(), "{p}");
        }
    }
    // --format svg pipes through dot itself.
    let svg = graph(&["samples/conference-action.xml", "--format", "svg"]);
    assert!(svg.contains("<svg") && svg.contains("Conference"), "{svg}");
}

#[test]
fn svg_without_dot_names_the_package() {
    let out = bin()
        .args(["graph", "samples/speak-ssml.xml", "--format", "svg"])
        .env("PATH", "/nonexistent")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("graphviz") && err.contains("`dot`"), "{err}");
}

/// Checks one Mermaid flowchart's structure; returns (nodes, edges).
fn check_mermaid(text: &str) -> (usize, usize) {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("flowchart TD"));
    // `end` (any case but capitalised) is a Mermaid keyword and cannot name a node.
    let id = |s: &str| !s.is_empty() && s != "end" && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let quoted = |s: &str| s.len() >= 2 && s.starts_with('"') && s.ends_with('"') && !s[1..s.len() - 1].contains('"');
    let mut nodes = HashSet::new();
    let mut edges = Vec::new();
    let mut styles = Vec::new();
    for l in lines {
        let l = l.strip_prefix("  ").unwrap_or_else(|| panic!("indented: {l:?}"));
        if let Some(rest) = l.strip_prefix("linkStyle ") {
            let (n, style) = rest.split_once(' ').expect("linkStyle N style");
            styles.push(n.parse::<usize>().expect("an edge number"));
            assert!(style.starts_with("stroke:"), "{l}");
        } else if let Some(rest) = l.strip_prefix("classDef ") {
            assert!(rest.starts_with("covered ") || rest.starts_with("uncovered "), "{l}");
        } else if let Some(rest) = l.strip_prefix("class ") {
            let (n, c) = rest.split_once(' ').expect("class id name");
            assert!(nodes.contains(n) && (c == "covered" || c == "uncovered"), "{l}");
        } else if let Some((from, rest)) = l.split_once(" -->").or_else(|| l.split_once(" -.->")) {
            let to = match rest.strip_prefix('|') {
                Some(r) => {
                    let (label, to) = r.rsplit_once("| ").expect("|label| target");
                    assert!(quoted(label), "{l}");
                    to
                }
                None => rest.strip_prefix(' ').expect("a space before the target"),
            };
            assert!(id(from) && id(to), "{l}");
            edges.push((from.to_owned(), to.to_owned()));
        } else {
            let open = l.find(['[', '(']).unwrap_or_else(|| panic!("a node: {l:?}"));
            let (n, shape) = l.split_at(open);
            assert!(id(n), "{l}");
            let label = [("((", "))"), ("[/", "/]"), ("[", "]")]
                .iter()
                .find_map(|(a, b)| shape.strip_prefix(a).and_then(|s| s.strip_suffix(b)))
                .unwrap_or_else(|| panic!("a node shape: {l:?}"));
            assert!(quoted(label), "{l}");
            assert!(nodes.insert(n.to_owned()), "declared twice: {l}");
        }
    }
    for (a, b) in &edges {
        assert!(nodes.contains(a) && nodes.contains(b), "{a} --> {b}: undeclared node");
    }
    for n in styles {
        assert!(n < edges.len(), "linkStyle {n} of {} edges", edges.len());
    }
    (nodes.len(), edges.len())
}

#[test]
fn mermaid_is_well_formed_for_every_sample() {
    for doc in documents() {
        let p = doc.to_str().expect("utf-8 path");
        let (nodes, edges) = check_mermaid(&graph(&[p, "--format", "mermaid"]));
        let parsed = plivo_flow::xml::parse(&std::fs::read_to_string(&doc).expect("reads"));
        let g = Graph::new(&parsed.document);
        assert_eq!((nodes, edges), (g.nodes.len(), g.edges.len()), "{p}");
        let toml = doc.with_extension("toml");
        if toml.exists() {
            check_mermaid(&graph(&[p, "--format", "mermaid", "--coverage", toml.to_str().expect("utf-8")]));
        }
    }
}

#[test]
fn mermaid_itself_parses_every_sample_s_graph() {
    if std::env::var_os("PLIVO_FLOW_SKIP_SDK").is_some_and(|v| v == "1") {
        eprintln!("skipped: PLIVO_FLOW_SKIP_SDK=1");
        return;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let npm = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(format!("{root}/tests/mermaid"))
        .output()
        .expect("npm ci in tests/mermaid");
    assert!(npm.status.success(), "npm ci: {}", String::from_utf8_lossy(&npm.stderr));
    let dir = std::env::temp_dir().join(format!("plivo-flow-mermaid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut files = Vec::new();
    let mut write = |name: String, text: String| {
        let f = dir.join(name);
        std::fs::write(&f, text).expect("write");
        files.push(f);
    };
    for (i, doc) in documents().into_iter().enumerate() {
        let p = doc.to_str().expect("utf-8 path");
        write(format!("{i}.mmd"), graph(&[p, "--format", "mermaid"]));
        let toml = doc.with_extension("toml");
        if toml.exists() {
            let t = toml.to_str().expect("utf-8");
            write(format!("{i}-coverage.mmd"), graph(&[p, "--format", "mermaid", "--coverage", t]));
        }
    }
    let doc =
        plivo_flow::xml::parse(r#"<Response><Speak>Say "hi" \ there [x] {y} (z) ; end</Speak></Response>"#).document;
    write("quotes.mmd".to_owned(), Graph::new(&doc).to_mermaid(None));
    // A broken one must fail, so that the check is known to check.
    write("broken.mmd".to_owned(), "flowchart TD\n  a -->\n  b[".to_owned());
    let out = Command::new("node")
        .arg(format!("{root}/tests/mermaid/parse.mjs"))
        .args(&files)
        .output()
        .expect("node tests/mermaid/parse.mjs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let _ = std::fs::remove_dir_all(&dir);
    let oks = stdout.lines().filter(|l| l.starts_with("ok ") && l.ends_with(" flowchart-v2")).count();
    let fails: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL ")).collect();
    assert_eq!(oks, files.len() - 1, "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(fails.len() == 1 && fails[0].contains("broken.mmd"), "{stdout}");
}

#[test]
fn quotes_and_backslashes_are_escaped() {
    let doc = plivo_flow::xml::parse(r#"<Response><Speak>Say "hi" \ there</Speak></Response>"#).document;
    let g = Graph::new(&doc);
    let dot = g.to_dot(None);
    assert!(dot.contains(r#"0 Speak: \"Say \"hi\" \\ there\"""#), "{dot}");
    let m = g.to_mermaid(None);
    assert!(m.contains("#quot;Say #quot;hi#quot;"), "{m}");
    check_mermaid(&m);
    if have_dot() {
        render(&dot);
    }
}
