//! The parse inputs and the raw-scan floor shared by `benches/parse.rs` (criterion) and
//! `examples/parse_count.rs` (callgrind counts), so both measure the same documents.

use std::fs;
use std::path::Path;

use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// Every SDK corpus document, in name order.
pub fn corpus() -> Vec<String> {
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

/// A document just under 100 KB (Plivo's size limit): the verbs of the corpus repeated.
pub fn big_document(corpus: &[String]) -> String {
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
pub fn raw_scan(src: &str) -> usize {
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
