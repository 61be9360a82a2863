//! `xml::parse_bytes` on arbitrary bytes: never panics, spans stay inside the input, the
//! output is bounded by the input, and whatever parses without errors survives the writer's
//! round trip (`parse(write(d)) == d` with no errors).
#![no_main]

use libfuzzer_sys::fuzz_target;
use plivo_flow::xml::{self, ParseOptions};

fuzz_target!(|data: &[u8]| {
    let parsed = xml::parse_bytes(data, &ParseOptions::default());
    for d in &parsed.diagnostics {
        assert!(d.span.start <= d.span.end && d.span.end <= data.len(), "span {:?} outside {} bytes", d.span, data.len());
    }
    if !parsed.has_errors() {
        let written = xml::write(&parsed.document);
        let again = xml::parse(&written);
        assert!(!again.has_errors(), "the writer's output does not parse: {written}");
        assert_eq!(again.document, parsed.document, "round trip changed the document: {written}");
    }
});
