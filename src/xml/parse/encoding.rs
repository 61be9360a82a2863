//! Documents received as bytes: a declared single-byte encoding is decoded first, and the
//! diagnostics' spans are mapped back to the original bytes.

use std::borrow::Cow;

use super::{ParseOptions, Parsed, Parser, parse_with, too_large};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::xml::ast::Document;
use crate::xml::values::Source;

/// Parses raw bytes: UTF-8, or the single-byte encoding the XML declaration names
/// (`encoding="ISO-8859-1"`, `windows-1252`, … as `encoding_rs` labels them).
///
/// Positions stay those of the original bytes: a single-byte encoding gives one character
/// per byte, so lines and character columns are the same in the decoded text, and spans are
/// mapped back (decoded byte offset → number of characters before it = original offset).
/// Invalid UTF-8 in a document without such a declaration is `E0101` at its offset.
pub fn parse_bytes(bytes: &[u8], opts: &ParseOptions) -> Parsed {
    if bytes.len() > opts.max_bytes {
        return too_large(bytes.len(), opts);
    }
    if let Some(enc) = declared_single_byte(bytes) {
        let (text, _) = enc.decode_without_bom_handling(bytes);
        // The limit is on the bytes received (checked above), not on the longer UTF-8 text.
        let decoded_opts = ParseOptions { max_bytes: usize::MAX, ..opts.clone() };
        let mut parsed = parse_with(&text, &decoded_opts);
        to_original_offsets(&text, &mut parsed.diagnostics);
        return parsed;
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => parse_with(s, opts),
        Err(e) => {
            let valid = bytes.get(..e.valid_up_to()).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or("");
            let shared = Source::new(valid);
            let mut p = Parser::new(&shared, opts);
            p.report(Code::Malformed, Span::at(valid.len()), "the document is not valid UTF-8".to_owned());
            p.into_parsed(Document::default())
        }
    }
}

/// The text of a document received as bytes, as [`parse_bytes`] reads it: decoded from the
/// single-byte encoding its XML declaration names (`ISO-8859-1`, `windows-1252`, …), else
/// UTF-8 as it is. `None` for bytes that are neither (invalid UTF-8 and no such declaration):
/// give those to [`parse_bytes`], which reports the first bad byte as `E0101`.
///
/// Runtimes use it where a fetched body becomes text, so a document in a declared encoding runs
/// as it checks.
pub fn decode(bytes: &[u8]) -> Option<Cow<'_, str>> {
    match declared_single_byte(bytes) {
        Some(enc) => Some(enc.decode_without_bom_handling(bytes).0),
        None => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
    }
}

/// The encoding the XML declaration at the start of `bytes` names, when it is a single-byte
/// encoding other than UTF-8 (only those are decoded; other labels are read as UTF-8).
fn declared_single_byte(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = bytes.get(..bytes.len().min(256)).unwrap_or(bytes);
    let start = head.iter().position(|&b| !super::is_space(b))?;
    let decl = head.get(start..)?;
    if !decl.starts_with(b"<?xml") {
        return None;
    }
    let end = decl.windows(2).position(|w| w == b"?>")?;
    let decl = decl.get(..end)?;
    let at = decl.windows(8).position(|w| w == b"encoding")?;
    let rest = decl.get(at + 8..)?;
    let rest = rest.get(rest.iter().position(|b| *b == b'=')? + 1..)?;
    let q = rest.iter().position(|b| *b == b'"' || *b == b'\'')?;
    let quote = *rest.get(q)?;
    let value = rest.get(q + 1..)?;
    let value = value.get(..value.iter().position(|b| *b == quote)?)?;
    let enc = encoding_rs::Encoding::for_label(value)?;
    (enc != encoding_rs::UTF_8 && enc.is_single_byte()).then_some(enc)
}

/// Maps the spans of `diags`, byte offsets into `text` decoded from a single-byte encoding,
/// back to offsets into the original bytes, in one pass.
fn to_original_offsets(text: &str, diags: &mut [Diagnostic]) {
    let mut offsets: Vec<usize> = diags.iter().flat_map(|d| [d.span.start, d.span.end]).collect();
    offsets.sort_unstable();
    offsets.dedup();
    let mut map = Vec::with_capacity(offsets.len());
    let mut chars = text.char_indices().map(|(i, _)| i).enumerate().peekable();
    for &off in &offsets {
        // The number of characters that start before `off`.
        while chars.peek().is_some_and(|&(_, i)| i < off) {
            chars.next();
        }
        let n = chars.peek().map_or(text.chars().count(), |&(n, _)| n);
        map.push(n);
    }
    let orig = |off: usize| offsets.binary_search(&off).ok().and_then(|i| map.get(i).copied()).unwrap_or(off);
    for d in diags {
        d.span = Span::new(orig(d.span.start), orig(d.span.end));
    }
}

/// The text the parser reads from `bytes`, for rendering its diagnostics with
/// [`crate::diagnostic::render`]: decoded as [`parse_bytes`] decodes it (a declared
/// single-byte encoding, else UTF-8 with invalid sequences replaced). Lines and character
/// columns of the diagnostics hold for it. A document over `opts.max_bytes` gives only its
/// first 4 KiB (its one diagnostic, E0103, is at 1:1).
pub fn source_text<'b>(bytes: &'b [u8], opts: &ParseOptions) -> Cow<'b, str> {
    let bytes = if bytes.len() > opts.max_bytes { bytes.get(..4096).unwrap_or(bytes) } else { bytes };
    match declared_single_byte(bytes) {
        Some(enc) => enc.decode_without_bom_handling(bytes).0,
        None => String::from_utf8_lossy(bytes),
    }
}
