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
//! A second argument, `big` or `corpus`, runs only that input; a third, a number, repeats the
//! whole that many times (for timing it beside the scan: `time … parse big 50`).

use std::hint::black_box;

#[path = "../benches/common/parse_inputs.rs"]
mod parse_inputs;
use parse_inputs::{big_document, corpus, raw_scan};

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
    let rounds: usize = std::env::args().nth(3).and_then(|r| r.parse().ok()).unwrap_or(1);
    let mut n = 0;
    for _ in 0..rounds {
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
    }
    println!("{} corpus documents, {} bytes in the big one; {n}", corpus.len(), big.len());
}
