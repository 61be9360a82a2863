//! Parse cost per document beside the floor: a raw quick-xml event scan of the same bytes.
//!
//! `cargo bench --bench parse`. Inputs: every SDK corpus document, and one ~100 KB document
//! built from them (Plivo's size limit).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "common/parse_inputs.rs"]
mod parse_inputs;
use parse_inputs::{big_document, corpus, raw_scan};

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

criterion_group!(benches, bench);
criterion_main!(benches);
