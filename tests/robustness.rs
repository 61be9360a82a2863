//! Fuzz-style robustness: the parser never panics and always reports a located problem.
//!
//! Inputs: every prefix of every corpus document and sample, and seeded random byte mutations
//! of them (deterministic, so a failure reproduces). Each result must be self-consistent:
//! a document with errors has at least one error diagnostic whose position lies in the input.

use std::fs;
use std::path::Path;

use plivo_flow::xml::{self, ParseOptions};

fn inputs() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["tests/corpus/sdk", "samples"] {
        let mut paths: Vec<_> = fs::read_dir(root.join(dir))
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "xml"))
            .collect();
        paths.sort();
        out.extend(paths.iter().map(|p| fs::read(p).expect("read")));
    }
    // The declared-encoding path (decoding, spans mapped back to the bytes).
    out.push(fs::read(root.join("tests/corpus/realworld/vm_04_latin1.xml")).expect("read"));
    assert!(out.len() >= 30);
    out
}

/// xorshift64*: small, seeded, good enough to pick mutation sites.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn check_consistent(bytes: &[u8]) {
    let parsed = xml::parse_bytes(bytes, &ParseOptions::default());
    for d in &parsed.diagnostics {
        assert!(d.span.start <= d.span.end, "{d:?}");
        assert!(d.span.end <= bytes.len(), "span past the end: {d:?}");
        assert!(d.line >= 1 && d.column >= 1, "{d:?}");
        assert_eq!(d.severity, d.code.severity());
    }
    // Whatever survived must still be writable and re-parse without panicking.
    let _ = xml::parse(&xml::write(&parsed.document));
}

#[test]
fn every_prefix_is_handled() {
    for doc in inputs() {
        for end in 0..doc.len() {
            let prefix = &doc[..end];
            check_consistent(prefix);
            // A prefix that cuts off markup never passes: the root is never closed.
            let cut_markup = doc[end..].iter().any(|b| !b.is_ascii_whitespace());
            if cut_markup && std::str::from_utf8(prefix).is_ok() {
                let p = xml::parse_bytes(prefix, &ParseOptions::default());
                assert!(p.has_errors(), "prefix of {end} bytes passed:\n{}", String::from_utf8_lossy(prefix));
            }
        }
    }
}

#[test]
fn random_mutations_never_panic() {
    // Bytes that matter to XML, plus arbitrary ones.
    const INTERESTING: &[u8] = b"<>/&;\"'=!?[]-# \n\tabcRPS\xc3\xa9\xff\x00";
    let mut rng = Rng(0x5EED_CAFE_F00D_u64);
    let docs = inputs();
    for round in 0..6000 {
        let mut doc = docs[round % docs.len()].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(doc.len());
            match rng.below(4) {
                0 => doc[at] = INTERESTING[rng.below(INTERESTING.len())],
                1 => doc[at] = rng.next() as u8,
                2 => {
                    doc.remove(at);
                }
                _ => {
                    let b = INTERESTING[rng.below(INTERESTING.len())];
                    doc.insert(at, b);
                }
            }
            if doc.is_empty() {
                break;
            }
        }
        check_consistent(&doc);
    }
}

#[test]
fn hostile_shapes_are_rejected_cleanly() {
    let deep = format!("<Response>{}{}</Response>", "<Speak>".repeat(1000), "</Speak>".repeat(1000));
    let p = xml::parse(&deep);
    // The depth limit stops the parse; everything up to it is still reported.
    assert!(p.errors().any(|d| d.code.as_str() == "E0104"), "{:?}", p.diagnostics.last());
    assert!(p.errors().any(|d| d.code.as_str() == "E0205"));

    let billion_laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><Response><Speak>&lol2;</Speak></Response>"#;
    let p = xml::parse(billion_laughs);
    let codes: Vec<_> = p.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert!(codes.contains(&"E0102"), "{codes:?}");
    assert!(codes.contains(&"E0105"), "{codes:?}");

    let big = format!("<Response><Speak>{}</Speak></Response>", "a".repeat(200 * 1024));
    let p = xml::parse(&big);
    assert_eq!(p.diagnostics.len(), 1);
    assert_eq!(p.diagnostics[0].code.as_str(), "E0103");
    assert!(p.document.verbs.is_empty());

    for junk in ["", " ", "\u{feff}", "<", "<>", "</Response>", "&", "<Response", "<?xml", "<!--", "<![CDATA["] {
        let p = xml::parse(junk);
        assert!(p.has_errors(), "{junk:?} passed");
    }
}

/// Bounds: diagnostics are capped (the first ones by position kept, the rest counted) and
/// attribute handling is linear, so 100,000 attributes parse quickly even in a debug build.
#[test]
fn diagnostics_are_capped_and_counted() {
    let src = format!("<Response>{}</Response>", "<Foo/>".repeat(4000));
    let parsed = xml::parse(&src);
    assert_eq!(parsed.diagnostics.len(), 100);
    assert_eq!((parsed.suppressed, parsed.suppressed_errors), (3900, 3900));
    assert!(parsed.has_errors());
    // The first 100 by position, in order: `<Foo/>` number k starts at byte 10 + 6k.
    for (k, d) in parsed.diagnostics.iter().enumerate() {
        assert_eq!((d.code.as_str(), d.line, d.column as usize), ("E0204", 1, 12 + 6 * k));
    }
    // Diagnostics found late but placed early still make the cut: the Dial's E0208 is
    // reported at its end tag but sits at its start, before every unknown attribute.
    let attrs: String = (0..500).map(|i| format!(" a{i}=\"1\"")).collect();
    let src = format!("<Response><Dial{attrs}></Dial></Response>");
    let parsed = xml::parse(&src);
    assert_eq!(parsed.diagnostics.first().map(|d| d.code.as_str()), Some("E0208"));
    assert_eq!(parsed.diagnostics.len(), 100);
    assert_eq!((parsed.suppressed, parsed.suppressed_errors), (401, 0));
    assert!(parsed.has_errors());
    // An error past the cap still makes the document invalid.
    let src = format!("<Response><Play{attrs}>https://a.example/a</Play><Foo/></Response>");
    let parsed = xml::parse(&src);
    assert!(parsed.diagnostics.iter().all(|d| !d.is_error()));
    assert_eq!(parsed.suppressed_errors, 1);
    assert!(parsed.has_errors() && parsed.into_result().is_err());
    // The cap is an option.
    let opts = ParseOptions { max_diagnostics: 3, ..ParseOptions::default() };
    let parsed = xml::parse_with("<Response><A/><B/><C/><D/></Response>", &opts);
    assert_eq!(parsed.diagnostics.iter().map(|d| d.column).collect::<Vec<_>>(), [12, 16, 20]);
    assert_eq!(parsed.suppressed, 1);
}

#[test]
fn a_hundred_thousand_attributes_parse_with_capped_diagnostics() {
    let attrs: String = (0..100_000).map(|i| format!(" a{i}=\"{i}\"")).collect();
    let src = format!("<Response><Speak{attrs}>hi</Speak></Response>");
    let opts = ParseOptions { max_bytes: usize::MAX, ..ParseOptions::default() };
    let parsed = xml::parse_with(&src, &opts);
    assert_eq!(parsed.diagnostics.len(), 100);
    assert_eq!(parsed.suppressed, 99_900);
    assert!(!parsed.has_errors());
    let last = parsed.diagnostics.last().map(|d| (d.line, d.column));
    // Attribute 99 is ` a99="99"` (9 bytes); the earlier ones take 10*(8..9)+90*(9..11).
    let expected =
        1 + "<Response><Speak".len() + (0..99).map(|i: usize| format!(" a{i}=\"{i}\"").len()).sum::<usize>() + 1;
    assert_eq!(last, Some((1, expected as u32)));
    // Duplicates are found with a set, each one reported.
    let some: String = (0..10_000).map(|i| format!(" a{i}=\"{i}\"")).collect();
    let src = format!("<Response><Speak{some}{some}>hi</Speak></Response>");
    let parsed = xml::parse_with(&src, &opts);
    assert_eq!(parsed.diagnostics.len() + parsed.suppressed, 20_000);
    assert_eq!(parsed.suppressed_errors, 10_000);
}
