//! Parse cost per document beside the floor: a raw quick-xml event scan of the same bytes.
//!
//! `cargo bench --bench parse`. Inputs: every SDK corpus document, and one ~100 KB document
//! built from them (Plivo's size limit).
//!
//! Besides criterion's groups (each function measured for seconds, one after the other), it
//! prints the ratio parse / scan measured in pairs: rounds that time the parse and the scan
//! back to back (alternating which goes first), the ratio being the median of the rounds'
//! ratios. Criterion measures the two seconds apart, so on a shared machine their ratio
//! carries the drift between those seconds; a pair shares its moment.
//!
//! The same pairing measures `index_tree` against the scan: the cheapest tree any parser that
//! keeps the document builds on this scan (offsets into the source, nothing checked or typed),
//! so the parse's ratio can be split into building a tree and checking what it holds.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "common/parse_inputs.rs"]
mod parse_inputs;
use parse_inputs::{big_document, corpus, index_tree, raw_scan};

fn bench(c: &mut Criterion) {
    let corpus = corpus();
    let big = big_document(&corpus);
    assert!(!plivo_flow::xml::parse(&big).has_errors(), "the big document must be valid");

    let mut g = c.benchmark_group("parse/corpus");
    g.throughput(Throughput::Bytes(corpus.iter().map(|d| d.len() as u64).sum()));
    g.bench_function("plivo-flow", |b| {
        b.iter(|| {
            corpus.iter().map(|d| black_box(plivo_flow::xml::parse(black_box(d))).document.verbs.len()).sum::<usize>()
        })
    });
    g.bench_function("quick-xml scan", |b| b.iter(|| corpus.iter().map(|d| raw_scan(black_box(d))).sum::<usize>()));
    g.finish();

    let mut g = c.benchmark_group("parse/100KB");
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("plivo-flow", |b| {
        b.iter(|| black_box(plivo_flow::xml::parse(black_box(&big))).document.verbs.len())
    });
    g.bench_function("quick-xml scan", |b| b.iter(|| raw_scan(black_box(&big))));
    g.finish();

    let doc = plivo_flow::xml::parse(&big).document;
    c.bench_function("write/100KB", |b| b.iter(|| plivo_flow::xml::write(black_box(&doc)).len()));
}

/// The median over `rounds` of (time of `a`) / (time of `b`), each timed over `reps` calls
/// back to back with the other, the first of the pair alternating.
fn paired_ratio(rounds: usize, reps: usize, mut a: impl FnMut() -> usize, mut b: impl FnMut() -> usize) -> f64 {
    let time = |f: &mut dyn FnMut() -> usize| {
        let start = Instant::now();
        for _ in 0..reps {
            black_box(f());
        }
        start.elapsed()
    };
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|r| {
            let (ta, tb): (Duration, Duration) = if r % 2 == 0 {
                let ta = time(&mut a);
                (ta, time(&mut b))
            } else {
                let tb = time(&mut b);
                (time(&mut a), tb)
            };
            ta.as_secs_f64() / tb.as_secs_f64()
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios.get(ratios.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The paired ratios, as `figure:` lines for `benches/run.sh`.
fn paired(_: &mut Criterion) {
    let corpus = corpus();
    let big = big_document(&corpus);
    let parse_corpus = || corpus.iter().map(|d| plivo_flow::xml::parse(black_box(d)).document.verbs.len()).sum();
    let scan_corpus = || corpus.iter().map(|d| raw_scan(black_box(d))).sum();
    let scan_big = || raw_scan(black_box(&big));
    // About 2 ms a side per round, 400 rounds: some 3 s for each input.
    let r = paired_ratio(400, 40, parse_corpus, scan_corpus);
    println!("figure: parse_paired_ratio_corpus {r:.3}");
    let r = paired_ratio(400, 4, || plivo_flow::xml::parse(black_box(&big)).document.verbs.len(), scan_big);
    println!("figure: parse_paired_ratio_100KB {r:.3}");
    // The floor of any tree on this scan (`index_tree`), against the same scan.
    let r = paired_ratio(400, 40, || corpus.iter().map(|d| index_tree(black_box(d))).sum(), scan_corpus);
    println!("figure: index_tree_paired_ratio_corpus {r:.3}");
    let r = paired_ratio(400, 4, || index_tree(black_box(&big)), scan_big);
    println!("figure: index_tree_paired_ratio_100KB {r:.3}");
}

criterion_group!(benches, bench, paired);
criterion_main!(benches);
