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

/// The cheapest tree a parser that keeps the document can build on the same scan: per element
/// its name, parent, attribute range and the place of its last text, per attribute its key and
/// value, all as byte offsets into the source (an index AST); nothing checked, typed or
/// reported, no CDATA or references, both lists reserved from the size: a floor, if anything
/// too cheap.
/// Beside `raw_scan`, it measures how much of a ratio target building any tree leaves to the
/// rest: validating, typing values and reporting.
#[allow(dead_code)] // Used by `benches/parse.rs` only.
pub fn index_tree(src: &str) -> usize {
    /// One element: name, parent index (`u32::MAX` for the root), attribute range, text.
    struct Element {
        name: (u32, u32),
        parent: u32,
        attrs: (u32, u32),
        text: (u32, u32),
    }
    let base = src.as_ptr() as usize;
    let at = |p: *const u8| (p as usize).wrapping_sub(base) as u32;
    let mut elements: Vec<Element> = Vec::with_capacity(src.len() / 64);
    let mut attrs: Vec<[u32; 4]> = Vec::with_capacity(src.len() / 32);
    let mut open: Vec<u32> = Vec::new();
    let mut reader = Reader::from_str(src);
    loop {
        let (e, empty) = match reader.read_event() {
            Ok(Event::Eof) | Err(_) => break,
            Ok(Event::Start(e)) => (e, false),
            Ok(Event::Empty(e)) => (e, true),
            Ok(Event::End(_)) => {
                open.pop();
                continue;
            }
            Ok(Event::Text(t)) => {
                if let Some(el) = open.last().and_then(|&i| elements.get_mut(i as usize)) {
                    el.text = (at(t.as_ptr()), t.len() as u32);
                }
                continue;
            }
            Ok(_) => continue,
        };
        let first = attrs.len() as u32;
        for a in e.attributes().flatten() {
            let key = a.key.as_ref();
            attrs.push([at(key.as_ptr()), key.len() as u32, at(a.value.as_ptr()), a.value.len() as u32]);
        }
        let name = e.name();
        elements.push(Element {
            name: (at(name.as_ref().as_ptr()), name.as_ref().len() as u32),
            parent: open.last().copied().unwrap_or(u32::MAX),
            attrs: (first, attrs.len() as u32),
            text: (0, 0),
        });
        if !empty {
            open.push(elements.len() as u32 - 1);
        }
    }
    // The tree is built to be kept: what it holds must not be optimised away.
    std::hint::black_box((&elements, &attrs));
    elements.len() + attrs.len()
}
