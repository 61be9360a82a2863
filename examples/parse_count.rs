//! The harness of the parse instruction counts in BENCHMARKS.md: `xml::parse` (or the raw
//! quick-xml scan of `benches/parse.rs`) over the 100 KB document 20 times and over the SDK
//! corpus 40 times, for `valgrind --tool=callgrind`.
//!
//! ```text
//! cargo build --release --example parse_count
//! valgrind --tool=callgrind --callgrind-out-file=cg.parse target/release/examples/parse_count parse
//! valgrind --tool=callgrind --callgrind-out-file=cg.scan target/release/examples/parse_count scan
//! valgrind --tool=callgrind --callgrind-out-file=cg.load target/release/examples/parse_count load
//! ```
//!
//! A run's cost is its total less the `load` run's (which only reads and builds the inputs).
//! A second argument, `big` or `corpus`, runs only that input.

use std::fs;
use std::hint::black_box;
use std::path::Path;

use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// Every SDK corpus document, in name order (as `benches/parse.rs` reads them).
fn corpus() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/sdk");
    let mut paths: Vec<_> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    paths.sort();
    paths.iter().filter_map(|p| fs::read_to_string(p).ok()).collect()
}

/// A document just under 100 KB: the verbs of the corpus repeated (`benches/parse.rs`).
fn big_document(corpus: &[String]) -> String {
    let mut body = String::new();
    for doc in corpus.iter().cycle() {
        let inner = doc
            .split_once("<Response>")
            .and_then(|(_, rest)| rest.rsplit_once("</Response>"))
            .map(|(inner, _)| inner)
            .unwrap_or("");
        if body.len() + inner.len() > 100 * 1024 - 32 {
            break;
        }
        body.push_str(inner);
    }
    format!("<Response>{body}</Response>")
}

/// The floor: read every event, touch every attribute, decode nothing (`benches/parse.rs`).
fn raw_scan(src: &str) -> usize {
    let mut reader = Reader::from_str(src);
    let mut n = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) | Err(_) => break,
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => n += e.attributes().count(),
            Ok(_) => n += 1,
        }
    }
    n
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let which = std::env::args().nth(2).unwrap_or_default();
    let corpus = corpus();
    let big = big_document(&corpus);
    let run: fn(&str) -> usize = match mode.as_str() {
        "parse" => |d| black_box(plivo_flow::xml::parse(black_box(d))).document.verbs.len(),
        "scan" => |d| raw_scan(black_box(d)),
        _ => |_| 0,
    };
    let mut n = 0;
    if which != "corpus" {
        for _ in 0..20 {
            n += run(&big);
        }
    }
    if which != "big" {
        for _ in 0..40 {
            n += corpus.iter().map(|d| run(d)).sum::<usize>();
        }
    }
    println!("{} corpus documents, {} bytes in the big one; {n}", corpus.len(), big.len());
}
