//! Parse cost per document beside the floor: a raw quick-xml event scan of the same bytes.
//!
//! `cargo bench --bench parse`. Inputs: every SDK corpus document, and one ~100 KB document
//! built from them (Plivo's size limit).

use std::fs;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quick_xml::events::Event;
use quick_xml::reader::Reader;

fn corpus() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/sdk");
    let mut paths: Vec<_> = fs::read_dir(dir)
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    paths.sort();
    paths.iter().map(|p| fs::read_to_string(p).expect("read")).collect()
}

/// A document just under 100 KB: the verbs of the corpus repeated.
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

/// The floor: read every event, touch every attribute, decode nothing.
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
