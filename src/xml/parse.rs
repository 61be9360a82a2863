//! One pass over quick-xml events into the verb AST, collecting every diagnostic.
//!
//! Invariants:
//! * never panics, whatever the input (tested with truncations and random mutations);
//! * reports every problem it can see; it stops early only when the XML itself is not
//!   well-formed (after that quick-xml's positions mean nothing) or a limit is exceeded;
//! * elements that are wrong (unknown, misplaced) are left out of the AST, so a document
//!   with errors still yields the best AST it can; callers must not run it.

use std::borrow::Cow;

use quick_xml::XmlVersion;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;

use super::ast::*;
use super::values::{FromXml, KeySet, Noted, PhoneNumber, SipUri, Tones, Url, ValueError, WaitBeep, WsUrl};
use crate::diagnostic::{Code, Diagnostic, LineIndex, Span};

/// Limits the parser enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOptions {
    /// Largest accepted document in bytes. Plivo's limit is 100 KB; the default is 102 400.
    pub max_bytes: usize,
    /// Deepest accepted element nesting (`<Response>` is depth 1). Default 32.
    pub max_depth: usize,
    /// Most diagnostics kept per document (the first ones in source order). Default 100;
    /// the rest are only counted in [`Parsed::suppressed`].
    pub max_diagnostics: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions { max_bytes: 100 * 1024, max_depth: 32, max_diagnostics: 100 }
    }
}

/// The result of parsing: the document and everything found wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The document. Complete when there are no errors; best effort otherwise.
    pub document: Document,
    /// The first [`ParseOptions::max_diagnostics`] diagnostics in source order (by span
    /// start; diagnostics at one place keep the order they were found in).
    pub diagnostics: Vec<Diagnostic>,
    /// How many more diagnostics were found past the cap and dropped (0 when none was).
    /// Their messages are never built, so a hostile document costs time and memory linear
    /// in its size, and output bounded by the cap.
    pub suppressed: usize,
    /// How many of the [`Parsed::suppressed`] diagnostics were errors.
    pub suppressed_errors: usize,
}

impl Parsed {
    /// Whether any diagnostic is an error, counting the suppressed ones.
    pub fn has_errors(&self) -> bool {
        self.suppressed_errors > 0 || self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// The document when there are no errors, else the diagnostics.
    pub fn into_result(self) -> Result<Document, Vec<Diagnostic>> {
        if self.has_errors() { Err(self.diagnostics) } else { Ok(self.document) }
    }
}

/// Parses `src` with the default limits.
pub fn parse(src: &str) -> Parsed {
    parse_with(src, &ParseOptions::default())
}

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
            let mut p = Parser::new(valid, opts);
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
    let start = head.iter().position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))?;
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

fn too_large(len: usize, opts: &ParseOptions) -> Parsed {
    // Nothing past the size is read: no decoding, no line index, no scan.
    let code = Code::TooLarge;
    let message = format!("the document is {len} bytes; the limit is {} bytes", opts.max_bytes);
    let d = Diagnostic { code, severity: code.severity(), message, span: Span::at(0), line: 1, column: 1 };
    Parsed { document: Document::default(), diagnostics: vec![d], suppressed: 0, suppressed_errors: 0 }
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

/// Parses `src` with the given limits.
pub fn parse_with(src: &str, opts: &ParseOptions) -> Parsed {
    if src.len() > opts.max_bytes {
        return too_large(src.len(), opts);
    }
    let mut p = Parser::new(src, opts);
    p.check_chars();
    let document = p.run();
    p.into_parsed(document)
}

/// Every element name Plivo knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Response,
    Speak,
    Play,
    Wait,
    Dtmf,
    GetDigits,
    GetInput,
    Record,
    Dial,
    Number,
    User,
    Redirect,
    Hangup,
    PreAnswer,
    Conference,
    MultiPartyCall,
    Message,
    Stream,
    AgentHoldMusic,
    CustomerHoldMusic,
    Break,
    Emphasis,
    Lang,
    P,
    Phoneme,
    Prosody,
    S,
    SayAs,
    Sub,
    W,
}

/// What an element does with text inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// The text is the element's argument (URL, room, number, …).
    Text,
    /// Text mixed with SSML children, kept as written.
    Mixed,
    /// The text is ignored (warning).
    Ignored,
    /// Text is an error (`<Response>`).
    Forbidden,
}

use Kind as K;

const VERBS: &[Kind] = &[
    K::Conference,
    K::Dial,
    K::Dtmf,
    K::GetDigits,
    K::GetInput,
    K::Hangup,
    K::Message,
    K::Play,
    K::PreAnswer,
    K::Record,
    K::Redirect,
    K::Speak,
    K::Wait,
    K::MultiPartyCall,
    K::Stream,
];
const PROMPTS: &[Kind] = &[K::Speak, K::Play, K::Wait];
const SSML_ALL: &[Kind] = &[K::Break, K::Emphasis, K::Lang, K::P, K::Phoneme, K::Prosody, K::S, K::SayAs, K::Sub, K::W];
const SSML_IN_EMPHASIS: &[Kind] = &[K::Break, K::Emphasis, K::Lang, K::Phoneme, K::Prosody, K::SayAs, K::Sub, K::W];
const SSML_IN_W: &[Kind] = &[K::Break, K::Emphasis, K::Phoneme, K::Prosody, K::SayAs, K::Sub];

impl Kind {
    fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "Response" => K::Response,
            "Speak" => K::Speak,
            "Play" => K::Play,
            "Wait" => K::Wait,
            "DTMF" => K::Dtmf,
            "GetDigits" => K::GetDigits,
            "GetInput" => K::GetInput,
            "Record" => K::Record,
            "Dial" => K::Dial,
            "Number" => K::Number,
            "User" => K::User,
            "Redirect" => K::Redirect,
            "Hangup" => K::Hangup,
            "PreAnswer" => K::PreAnswer,
            "Conference" => K::Conference,
            "MultiPartyCall" => K::MultiPartyCall,
            "Message" => K::Message,
            "Stream" => K::Stream,
            "AgentHoldMusic" => K::AgentHoldMusic,
            "CustomerHoldMusic" => K::CustomerHoldMusic,
            "break" => K::Break,
            "emphasis" => K::Emphasis,
            "lang" => K::Lang,
            "p" => K::P,
            "phoneme" => K::Phoneme,
            "prosody" => K::Prosody,
            "s" => K::S,
            "say-as" => K::SayAs,
            "sub" => K::Sub,
            "w" => K::W,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            K::Response => "Response",
            K::Speak => Speak::ELEMENT,
            K::Play => Play::ELEMENT,
            K::Wait => Wait::ELEMENT,
            K::Dtmf => Dtmf::ELEMENT,
            K::GetDigits => GetDigits::ELEMENT,
            K::GetInput => GetInput::ELEMENT,
            K::Record => Record::ELEMENT,
            K::Dial => Dial::ELEMENT,
            K::Number => Number::ELEMENT,
            K::User => User::ELEMENT,
            K::Redirect => Redirect::ELEMENT,
            K::Hangup => Hangup::ELEMENT,
            K::PreAnswer => PreAnswer::ELEMENT,
            K::Conference => Conference::ELEMENT,
            K::MultiPartyCall => MultiPartyCall::ELEMENT,
            K::Message => Message::ELEMENT,
            K::Stream => Stream::ELEMENT,
            K::AgentHoldMusic => AgentHoldMusic::ELEMENT,
            K::CustomerHoldMusic => CustomerHoldMusic::ELEMENT,
            K::Break => Break::ELEMENT,
            K::Emphasis => Emphasis::ELEMENT,
            K::Lang => Lang::ELEMENT,
            K::P => Paragraph::ELEMENT,
            K::Phoneme => Phoneme::ELEMENT,
            K::Prosody => Prosody::ELEMENT,
            K::S => Sentence::ELEMENT,
            K::SayAs => SayAs::ELEMENT,
            K::Sub => Sub::ELEMENT,
            K::W => Word::ELEMENT,
        }
    }

    /// The nesting matrix (spec §1.1): the union of the docs' and the SDKs' rules.
    fn children(self) -> &'static [Kind] {
        match self {
            K::Response => VERBS,
            K::GetDigits | K::GetInput | K::AgentHoldMusic | K::CustomerHoldMusic => PROMPTS,
            // The Go SDK (7.20+) writes hold music as children after the name.
            K::MultiPartyCall => &[K::AgentHoldMusic, K::CustomerHoldMusic],
            K::Dial => &[K::Number, K::User],
            K::PreAnswer => &[K::Speak, K::Play, K::Wait, K::GetDigits, K::Redirect, K::Message, K::Dtmf],
            K::Speak | K::Lang | K::Prosody => SSML_ALL,
            K::P => &[K::Break, K::Emphasis, K::Lang, K::Phoneme, K::Prosody, K::SayAs, K::Sub, K::S, K::W],
            K::Emphasis | K::S => SSML_IN_EMPHASIS,
            K::W => SSML_IN_W,
            _ => &[],
        }
    }

    fn body(self) -> Body {
        match self {
            K::Response => Body::Forbidden,
            K::Play
            | K::Dtmf
            | K::Redirect
            | K::Conference
            | K::MultiPartyCall
            | K::Message
            | K::Stream
            | K::Number
            | K::User => Body::Text,
            K::Speak | K::Emphasis | K::Lang | K::P | K::Phoneme | K::Prosody | K::S | K::SayAs | K::Sub | K::W => {
                Body::Mixed
            }
            K::Wait
            | K::GetDigits
            | K::GetInput
            | K::Record
            | K::Dial
            | K::Hangup
            | K::PreAnswer
            | K::Break
            | K::AgentHoldMusic
            | K::CustomerHoldMusic => Body::Ignored,
        }
    }
}

/// A node under construction.
#[allow(clippy::large_enum_variant)] // Transient: one per open element.
enum Node {
    Response(Vec<Verb>),
    Verb(Verb),
    Target(DialTarget),
    Ssml(Ssml),
    AgentHold(AgentHoldMusic),
    CustomerHold(CustomerHoldMusic),
    /// An unknown element: its subtree is skipped.
    Skip,
}

impl Node {
    fn speak_content(&mut self) -> Option<&mut Vec<SpeakNode>> {
        match self {
            Node::Verb(Verb::Speak(s)) => Some(&mut s.content),
            Node::Ssml(s) => s.content_mut(),
            _ => None,
        }
    }
}

struct Frame {
    kind: Option<Kind>,
    start: usize,
    node: Node,
    /// Body text of a `Body::Text` element.
    text: String,
    /// Where the body text starts.
    text_start: Option<usize>,
    /// Whether the finished node goes into its parent (false when misplaced).
    attach: bool,
    /// Whether ignored text was already reported.
    warned_text: bool,
}

/// A kept diagnostic, ordered by (position, discovery order).
struct Kept {
    start: usize,
    seq: usize,
    diag: Diagnostic,
}

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        (self.start, self.seq) == (other.start, other.seq)
    }
}
impl Eq for Kept {}
impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Kept {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.start, self.seq).cmp(&(other.start, other.seq))
    }
}

struct Parser<'s> {
    src: &'s str,
    opts: &'s ParseOptions,
    /// The first `max_diagnostics` diagnostics by position: a max-heap, so the last one
    /// is dropped when an earlier one comes.
    diags: std::collections::BinaryHeap<Kept>,
    seq: usize,
    suppressed: usize,
    suppressed_errors: usize,
    stack: Vec<Frame>,
    /// Depth inside an unknown element's subtree (its children are not checked).
    skip_depth: usize,
    document: Option<Document>,
    root_seen: bool,
    reported_after_root: bool,
}

impl<'s> Parser<'s> {
    fn new(src: &'s str, opts: &'s ParseOptions) -> Self {
        Parser {
            src,
            opts,
            diags: std::collections::BinaryHeap::new(),
            seq: 0,
            suppressed: 0,
            suppressed_errors: 0,
            stack: Vec::new(),
            skip_depth: 0,
            document: None,
            root_seen: false,
            reported_after_root: false,
        }
    }

    fn report(&mut self, code: Code, span: Span, message: String) {
        self.report_with(code, span, || message);
    }

    /// Records a diagnostic; `message` is only called when the diagnostic is kept (within
    /// the cap), so past the cap a diagnostic costs a comparison and a count.
    fn report_with(&mut self, code: Code, span: Span, message: impl FnOnce() -> String) {
        let seq = self.seq;
        self.seq += 1;
        let full = self.diags.len() >= self.opts.max_diagnostics;
        if full && self.diags.peek().is_none_or(|last| span.start >= last.start) {
            self.count_suppressed(code);
            return;
        }
        // Lines and columns are filled in by `finish`, so a valid document never pays for a
        // line index.
        let diag = Diagnostic { code, severity: code.severity(), message: message(), span, line: 0, column: 0 };
        self.diags.push(Kept { start: span.start, seq, diag });
        if self.diags.len() > self.opts.max_diagnostics
            && let Some(dropped) = self.diags.pop()
        {
            self.count_suppressed(dropped.diag.code);
        }
    }

    fn count_suppressed(&mut self, code: Code) {
        self.suppressed += 1;
        if code.severity() == crate::diagnostic::Severity::Error {
            self.suppressed_errors += 1;
        }
    }

    /// The result: the kept diagnostics in source order, with lines and columns computed in
    /// one pass over the source.
    fn into_parsed(self, document: Document) -> Parsed {
        let kept = self.diags.into_sorted_vec();
        let mut diagnostics: Vec<Diagnostic> = kept.into_iter().map(|k| k.diag).collect();
        if !diagnostics.is_empty() {
            let idx = LineIndex::new(self.src);
            let offsets: Vec<usize> = diagnostics.iter().map(|d| d.span.start).collect();
            for (d, (line, column)) in diagnostics.iter_mut().zip(idx.line_cols_sorted(&offsets)) {
                (d.line, d.column) = (line, column);
            }
        }
        Parsed { document, diagnostics, suppressed: self.suppressed, suppressed_errors: self.suppressed_errors }
    }

    /// XML 1.0 allows no C0 control character but tab, LF and CR anywhere in a document:
    /// each one is `E0101` at its byte.
    fn check_chars(&mut self) {
        let bad = |b: &u8| *b < 0x20 && !matches!(*b, b'\t' | b'\n' | b'\r');
        let bytes = self.src.as_bytes();
        let mut from = 0;
        while let Some(i) = bytes.get(from..).and_then(|rest| rest.iter().position(bad)) {
            let at = from + i;
            let byte = bytes.get(at).copied().unwrap_or(0);
            self.report_with(Code::Malformed, Span::new(at, at + 1), || {
                format!("malformed XML: control character U+{byte:04X} is not allowed in XML 1.0")
            });
            from = at + 1;
        }
    }

    /// Byte offset of a slice borrowed from the source, or `fallback` when it is not.
    fn offset_of(&self, bytes: &str, fallback: usize) -> usize {
        let base = self.src.as_ptr() as usize;
        let p = bytes.as_ptr() as usize;
        if p >= base && p <= base + self.src.len() { p - base } else { fallback }
    }

    /// The offset of the first non-blank byte of the source in `from..end` (or `from`).
    fn first_non_blank(&self, from: usize, end: usize) -> usize {
        self.src
            .as_bytes()
            .get(from..end)
            .and_then(|b| b.iter().position(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n')))
            .map_or(from, |i| from + i)
    }

    /// The name of the tag that starts at byte `start`.
    fn tag_name(&self, start: usize) -> String {
        let rest = self.src.get(start + 1..).unwrap_or("");
        let end = rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(rest.len());
        rest.get(..end).unwrap_or("").to_owned()
    }

    fn run(&mut self) -> Document {
        let mut reader = Reader::from_str(self.src);
        // End names are checked by quick-xml: a mismatch is malformed XML.
        reader.config_mut().check_end_names = true;
        loop {
            let pos = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            let event = match reader.read_event() {
                Ok(ev) => ev,
                Err(e) => {
                    let at = usize::try_from(reader.error_position()).unwrap_or(pos);
                    self.report(Code::Malformed, Span::at(at.min(self.src.len())), format!("malformed XML: {e}"));
                    break;
                }
            };
            let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX).min(self.src.len());
            let span = Span::new(pos, end);
            match event {
                Event::Start(e) => {
                    if !self.start(&e, span, false) {
                        break;
                    }
                }
                Event::Empty(e) => {
                    if !self.start(&e, span, true) {
                        break;
                    }
                }
                Event::End(_) => self.end(span),
                Event::Text(t) => {
                    let text = t.xml10_content();
                    self.text(&text, span, span.start);
                }
                Event::CData(c) => {
                    let text = c.xml10_content();
                    // The content starts after `<![CDATA[`.
                    self.text(&text, span, span.start + 9);
                }
                Event::GeneralRef(r) => match resolve_ref(&r) {
                    Some(c) => self.text(c.encode_utf8(&mut [0; 4]), span, span.start),
                    None => {
                        let name: &str = &r;
                        self.report(
                            Code::BadReference,
                            span,
                            format!("unknown entity or invalid character reference `&{name};`"),
                        );
                    }
                },
                Event::DocType(_) => self.report(
                    Code::DocType,
                    span,
                    "a DOCTYPE is not allowed in a Plivo document (entities are never expanded)".to_owned(),
                ),
                Event::Decl(_) => {
                    let bom = usize::from(self.src.starts_with('\u{feff}')) * 3;
                    let before = self.src.get(bom..pos).unwrap_or("x");
                    if pos > bom && is_blank(before) && !self.root_seen {
                        self.report(
                            Code::SpaceBeforeDecl,
                            Span::new(bom, pos),
                            "whitespace before the XML declaration; Plivo trims it".to_owned(),
                        );
                    } else if pos != bom {
                        self.report(
                            Code::MisplacedDecl,
                            span,
                            "the XML declaration must be the very first thing in the document".to_owned(),
                        );
                    }
                }
                Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => {
                    if let Some(open) = self.stack.last() {
                        let start = open.start;
                        let name = self.tag_name(start);
                        self.report(
                            Code::Malformed,
                            Span::new(start, start + 1 + name.len()),
                            format!("malformed XML: <{name}> is never closed"),
                        );
                    } else if !self.root_seen {
                        self.report(
                            Code::NoRoot,
                            span,
                            "the document has no root element; expected <Response>".to_owned(),
                        );
                    }
                    break;
                }
            }
        }
        self.document.take().unwrap_or_default()
    }

    /// Handles a start (or empty) tag. Returns false when parsing must stop.
    fn start(&mut self, e: &BytesStart<'_>, span: Span, empty: bool) -> bool {
        let depth = self.stack.len() + 1;
        if depth > self.opts.max_depth {
            self.report(
                Code::TooDeep,
                Span::new(span.start + 1, span.end),
                format!("elements are nested deeper than the limit of {}", self.opts.max_depth),
            );
            return false;
        }
        let raw_name = e.name();
        let name_bytes = raw_name.as_ref();
        let name = name_bytes;
        let name_span = Span::new(span.start + 1, span.start + 1 + name_bytes.len());

        if self.skip_depth > 0 {
            if !empty {
                self.skip_depth += 1;
                self.stack.push(Frame::skip(span.start));
            }
            return true;
        }

        let kind = Kind::from_name(name_bytes);
        let parent = self.stack.last().and_then(|f| f.kind);
        let mut attach = true;

        if self.stack.is_empty() {
            if self.root_seen {
                if !self.reported_after_root {
                    self.reported_after_root = true;
                    self.report(
                        Code::AfterRoot,
                        name_span,
                        format!("<{name}> after the root element; a document has one <Response>"),
                    );
                }
                attach = false;
            } else {
                self.root_seen = true;
                if kind != Some(K::Response) {
                    self.report(
                        Code::RootNotResponse,
                        name_span,
                        format!("the root element must be <Response>, found <{name}>"),
                    );
                    attach = false;
                }
            }
        }

        let Some(kind) = kind else {
            if !self.stack.is_empty() {
                self.report_with(Code::UnknownElement, name_span, || {
                    let hint = suggest(name).map(|s| format!("; did you mean <{s}>?")).unwrap_or_default();
                    format!("unknown element <{}>{hint}", clip(name))
                });
            }
            if !empty {
                self.skip_depth = 1;
                self.stack.push(Frame::skip(span.start));
            }
            return true;
        };

        if let Some(parent) = parent {
            if !parent.children().contains(&kind) {
                self.report_with(Code::NotAllowedHere, name_span, || {
                    let allowed: Vec<&str> = parent.children().iter().map(|k| k.name()).collect();
                    if allowed.is_empty() {
                        format!(
                            "<{}> is not allowed inside <{}>, which takes no child elements",
                            kind.name(),
                            parent.name()
                        )
                    } else {
                        format!(
                            "<{}> is not allowed inside <{}>; allowed: {}",
                            kind.name(),
                            parent.name(),
                            allowed.join(", ")
                        )
                    }
                });
                attach = false;
            }
        } else if !self.stack.is_empty() {
            // Parent is an element being skipped or misplaced; keep checking but never attach.
            attach = false;
        }
        if self.stack.last().is_some_and(|f| !f.attach) {
            attach = false;
        }

        let node = self.build(kind, e, span);
        let frame = Frame {
            kind: Some(kind),
            start: span.start,
            node,
            text: String::new(),
            text_start: None,
            attach,
            warned_text: false,
        };
        self.stack.push(frame);
        if empty {
            self.end(span);
        }
        true
    }

    /// Creates the node for `kind` with its attributes applied.
    fn build(&mut self, kind: Kind, e: &BytesStart<'_>, span: Span) -> Node {
        match kind {
            K::Response => {
                for (name, key_span, _, _) in self.raw_attrs(e, span) {
                    self.report(
                        Code::ResponseAttribute,
                        key_span,
                        format!("<Response> takes no attributes, found `{name}`"),
                    );
                }
                Node::Response(Vec::new())
            }
            K::Speak => Node::Verb(Verb::Speak(self.attrs(e, span))),
            K::Play => Node::Verb(Verb::Play(self.attrs(e, span))),
            K::Wait => Node::Verb(Verb::Wait(self.attrs(e, span))),
            K::Dtmf => Node::Verb(Verb::Dtmf(self.attrs(e, span))),
            K::GetDigits => Node::Verb(Verb::GetDigits(self.attrs(e, span))),
            K::GetInput => {
                let el: GetInput = self.attrs_required(e, span, &["action"]);
                if !el.written.contains("inputType") && !self.has_attr_named(e, "inputType") {
                    let name_span = Span::new(span.start + 1, span.start + 1 + GetInput::ELEMENT.len());
                    self.report(
                        Code::DefaultInputType,
                        name_span,
                        "<GetInput> without `inputType` collects both digits and speech (`dtmf speech`)".to_owned(),
                    );
                }
                Node::Verb(Verb::GetInput(el))
            }
            K::Record => Node::Verb(Verb::Record(self.attrs(e, span))),
            K::Dial => Node::Verb(Verb::Dial(self.attrs(e, span))),
            K::Redirect => Node::Verb(Verb::Redirect(self.attrs(e, span))),
            K::Hangup => Node::Verb(Verb::Hangup(self.attrs(e, span))),
            K::PreAnswer => Node::Verb(Verb::PreAnswer(self.attrs(e, span))),
            K::Conference => Node::Verb(Verb::Conference(self.attrs(e, span))),
            K::MultiPartyCall => {
                let el = self.attrs_required(e, span, &["role"]);
                Node::Verb(Verb::MultiPartyCall(el))
            }
            K::Message => Node::Verb(Verb::Message(self.attrs(e, span))),
            K::Stream => Node::Verb(Verb::Stream(self.attrs(e, span))),
            K::AgentHoldMusic => Node::AgentHold(self.attrs(e, span)),
            K::CustomerHoldMusic => Node::CustomerHold(self.attrs(e, span)),
            K::Number => Node::Target(DialTarget::Number(self.attrs(e, span))),
            K::User => Node::Target(DialTarget::User(self.attrs(e, span))),
            K::Break => Node::Ssml(Ssml::Break(self.attrs(e, span))),
            K::Emphasis => Node::Ssml(Ssml::Emphasis(self.attrs(e, span))),
            K::Lang => Node::Ssml(Ssml::Lang(self.attrs(e, span))),
            K::P => Node::Ssml(Ssml::P(self.attrs(e, span))),
            K::Phoneme => Node::Ssml(Ssml::Phoneme(self.attrs(e, span))),
            K::Prosody => Node::Ssml(Ssml::Prosody(self.attrs(e, span))),
            K::S => Node::Ssml(Ssml::S(self.attrs(e, span))),
            K::SayAs => Node::Ssml(Ssml::SayAs(self.attrs(e, span))),
            K::Sub => Node::Ssml(Ssml::Sub(self.attrs(e, span))),
            K::W => Node::Ssml(Ssml::W(self.attrs(e, span))),
        }
    }

    /// The attributes of a tag as (name, name span, unescaped value, value span), reporting
    /// duplicates and bad syntax on the way.
    fn raw_attrs<'e>(&mut self, e: &'e BytesStart<'_>, span: Span) -> Vec<(&'e str, Span, Cow<'e, str>, Span)> {
        let mut out: Vec<(&'e str, Span, Cow<'e, str>, Span)> = Vec::new();
        let mut seen: std::collections::HashSet<&'e str> = std::collections::HashSet::new();
        let mut attrs = e.attributes();
        attrs.with_checks(false);
        for a in attrs {
            let a = match a {
                Ok(a) => a,
                Err(err) => {
                    use quick_xml::events::attributes::AttrError as A;
                    let (A::ExpectedEq(rel)
                    | A::ExpectedValue(rel)
                    | A::UnquotedValue(rel)
                    | A::ExpectedQuote(rel, _)
                    | A::Duplicated(rel, _)) = err;
                    // Positions are relative to the byte after `<`.
                    let at = (span.start + 1 + rel).min(span.end);
                    let msg = format!("malformed XML: bad attribute syntax: {err}");
                    self.report(Code::Malformed, Span::at(at), msg);
                    break;
                }
            };
            let key_bytes = a.key.into_inner();
            let key_start = self.offset_of(key_bytes, span.start);
            let key_span = Span::new(key_start, key_start + key_bytes.len());
            let val_start = self.offset_of(&a.value, span.start);
            let val_span = Span::new(val_start, val_start + a.value.len());
            let name = key_bytes;
            if !seen.insert(name) {
                self.report_with(Code::DuplicateAttribute, key_span, || format!("duplicate attribute `{name}`"));
                continue;
            }
            let value = match a.normalized_value(XmlVersion::Implicit1_0) {
                Ok(v) => v,
                Err(err) => {
                    self.report(Code::BadReference, val_span, format!("in attribute `{name}`: {err}"));
                    continue;
                }
            };
            out.push((name, key_span, value, val_span));
        }
        out
    }

    /// Builds element `E` from a tag's attributes, reporting every bad or unknown one.
    fn attrs<E: Attrs>(&mut self, e: &BytesStart<'_>, span: Span) -> E {
        self.attrs_required(e, span, &[])
    }

    /// [`Self::attrs`], also reporting each of `required` that is absent. An attribute that is
    /// present with a bad value is reported for its value only.
    fn attrs_required<E: Attrs>(&mut self, e: &BytesStart<'_>, span: Span, required: &[&str]) -> E {
        let mut el = E::default();
        let raw = self.raw_attrs(e, span);
        let name_span = Span::new(span.start + 1, span.start + 1 + E::ELEMENT.len());
        for req in required {
            match raw.iter().find(|(name, ..)| name == req) {
                None => self.missing_attr(name_span, E::ELEMENT, req),
                // An empty required value is no value: Plivo cannot run the element.
                Some((_, _, value, val_span)) if trim_xml(value).is_empty() => {
                    let msg = format!("<{}> needs the `{req}` attribute; it is empty", E::ELEMENT);
                    self.report(Code::MissingAttribute, *val_span, msg);
                }
                Some(_) => {}
            }
        }
        for (name, key_span, mut value, val_span) in raw {
            let is_known = E::NAMES.contains(&name);
            if is_known && EMPTY_HAS_MEANING.contains(&name) && trim_xml(&value).is_empty() {
                value = Cow::Borrowed("");
            }
            if is_known && trim_xml(&value).is_empty() && !EMPTY_HAS_MEANING.contains(&name) {
                // Plivo reads an empty optional value as "not given": the default applies.
                if !required.contains(&name) {
                    self.report_with(Code::EmptyValue, val_span, || {
                        format!("empty `{name}` on <{}> is ignored; the default applies", E::ELEMENT)
                    });
                }
                continue;
            }
            if is_known && KEY_SETS.contains(&name) && !value.is_empty() && KeySet::has_separators(&value) {
                self.report_with(Code::KeySeparators, val_span, || {
                    format!(
                        "separators in `{name}=\"{}\"` on <{}> are not keys and are ignored; the keys are the digits",
                        clip(&value),
                        E::ELEMENT
                    )
                });
            }
            match el.set_attr(name, &value) {
                None => self.report_with(Code::UnknownAttribute, key_span, || {
                    let hint =
                        suggest_name(name, E::NAMES).map(|s| format!("did you mean `{s}`? ")).unwrap_or_default();
                    format!(
                        "unknown attribute `{}` on <{}> is ignored; {hint}known: {}",
                        clip(name),
                        E::ELEMENT,
                        if E::NAMES.is_empty() { "none".to_owned() } else { E::NAMES.join(", ") }
                    )
                }),
                Some(Ok(None)) => {}
                Some(Ok(Some(code))) => {
                    self.report_with(code, val_span, || note_message(code, name, &value, E::ELEMENT))
                }
                // `none` is how the PHP SDK writes PHP `false`, `null`, `0` and `""` (its
                // `convertValue` compares loosely), and the Ruby SDK `nil`. Plivo reads a
                // boolean as true only when it is `true`, and a number it cannot read as
                // absent: so `none` is false for a boolean and unset for a number.
                Some(Err(ValueError::NotBoolean)) if trim_xml(&value).eq_ignore_ascii_case("none") => {
                    // `false` is a valid boolean: this cannot fail.
                    let _ = el.set_attr(name, "false");
                    self.report_with(Code::EmptyValue, val_span, || {
                        format!(
                            "`{name}=\"none\"` on <{}> reads as false (`none` is the SDKs' spelling of no value)",
                            E::ELEMENT
                        )
                    });
                }
                Some(Err(ValueError::NotInteger)) if trim_xml(&value).eq_ignore_ascii_case("none") => {
                    self.report_with(Code::EmptyValue, val_span, || {
                        format!("`{name}=\"none\"` on <{}> is ignored; the default applies (`none` is the SDKs' spelling of no value)", E::ELEMENT)
                    });
                }
                Some(Err(err)) => self.report_with(err.code(), val_span, || {
                    format!("invalid value `{}` for `{name}` on <{}>: {err}", clip(&value), E::ELEMENT)
                }),
            }
        }
        el
    }

    /// Handles decoded `text` found at `span`; its raw content starts at byte `raw_start`.
    fn text(&mut self, text: &str, span: Span, raw_start: usize) {
        // Positions come from the raw source: decoding changes lengths (CRLF, entities).
        let first = self.first_non_blank(raw_start, span.end);
        let Some(frame) = self.stack.last_mut() else {
            if !is_blank(text) {
                let code = if self.root_seen { Code::AfterRoot } else { Code::Malformed };
                let at = Span::new(first, span.end);
                if !(code == Code::AfterRoot && self.reported_after_root) {
                    self.reported_after_root |= code == Code::AfterRoot;
                    self.report(code, at, "text outside the root element".to_owned());
                }
            }
            return;
        };
        if self.skip_depth > 0 {
            return;
        }
        let Some(kind) = frame.kind else { return };
        match kind.body() {
            Body::Text => {
                if frame.text_start.is_none() && !is_blank(text) {
                    frame.text_start = Some(first);
                }
                frame.text.push_str(text);
            }
            Body::Mixed => {
                if let Some(content) = frame.node.speak_content() {
                    match content.last_mut() {
                        Some(SpeakNode::Text(t)) => t.push_str(text),
                        _ => content.push(SpeakNode::Text(text.to_owned())),
                    }
                }
            }
            Body::Ignored => {
                if !is_blank(text) && !frame.warned_text {
                    frame.warned_text = true;
                    let at = Span::new(first, span.end);
                    let msg = format!("text inside <{}> is ignored", kind.name());
                    self.report(Code::IgnoredText, at, msg);
                }
            }
            Body::Forbidden => {
                if !is_blank(text) {
                    let at = Span::new(first, span.end);
                    self.report(Code::TextInResponse, at, "text directly inside <Response> is not allowed".to_owned());
                }
            }
        }
    }

    fn end(&mut self, span: Span) {
        let Some(mut frame) = self.stack.pop() else {
            return;
        };
        if self.skip_depth > 0 {
            self.skip_depth -= 1;
            return;
        }
        let Some(kind) = frame.kind else { return };
        let body = std::mem::take(&mut frame.text);
        let body_span = match frame.text_start {
            Some(s) => Span::new(s, span.start.max(s)),
            None => Span::new(frame.start + 1, frame.start + 1 + kind.name().len()),
        };
        self.finish(kind, &mut frame.node, trim_xml(&body), body_span, frame.start);

        if !frame.attach {
            return;
        }
        match (self.stack.last_mut(), frame.node) {
            (None, Node::Response(verbs)) => self.document = Some(Document { verbs }),
            (Some(parent), child) => attach(&mut parent.node, child),
            (None, _) => {}
        }
    }

    /// Checks the body, required attributes and conflicts of a finished element.
    fn finish(&mut self, kind: Kind, node: &mut Node, body: &str, body_span: Span, start: usize) {
        let tag_span = Span::new(start + 1, start + 1 + kind.name().len());
        match node {
            Node::Verb(v) => match v {
                Verb::Speak(s) => trim_speak(&mut s.content),
                Verb::Play(p) => p.url = self.body_value(kind, body, body_span, "an audio URL", Url::from_xml),
                Verb::Dtmf(d) => d.digits = self.body_value(kind, body, body_span, "digits to send", Tones::from_xml),
                Verb::Redirect(r) => r.url = self.body_value(kind, body, body_span, "a URL", Url::from_xml),
                Verb::Stream(s) => {
                    s.url = self.body_value(kind, body, body_span, "a wss:// URL", WsUrl::from_xml);
                    if s.bidirectional && s.audio_track != super::values::AudioTrack::Inbound {
                        self.report(
                            Code::Conflict,
                            tag_span,
                            format!(
                                "a bidirectional <Stream> can only fork the inbound track, not `{}`",
                                s.audio_track
                            ),
                        );
                    }
                }
                Verb::Conference(c) => {
                    c.room = self.body_text(kind, body, body_span, "a room name");
                }
                Verb::MultiPartyCall(m) => m.name = self.body_text(kind, body, body_span, "a name"),
                Verb::Message(m) => m.text = self.body_text(kind, body, body_span, "the message text"),
                Verb::Dial(d) => {
                    if d.targets.is_empty() {
                        self.report(
                            Code::MissingChild,
                            tag_span,
                            "<Dial> needs at least one <Number> or <User>".to_owned(),
                        );
                    }
                }
                Verb::Wait(w) => {
                    if w.silence && u64::from(w.min_silence) >= u64::from(w.length) * 1000 {
                        self.report(
                            Code::Conflict,
                            tag_span,
                            format!("minSilence ({} ms) must be shorter than length ({} s)", w.min_silence, w.length),
                        );
                    }
                    if w.silence && w.beep != WaitBeep::Bool(false) {
                        self.report(
                            Code::IgnoredBeep,
                            tag_span,
                            "`beep` on <Wait> is ignored with silence=\"true\"; silence detection applies".to_owned(),
                        );
                    }
                }
                Verb::GetDigits(_) | Verb::GetInput(_) | Verb::Record(_) | Verb::Hangup(_) | Verb::PreAnswer(_) => {}
            },
            Node::Target(DialTarget::Number(n)) => {
                n.number = self.body_value(kind, body, body_span, "a phone number", PhoneNumber::from_xml);
            }
            Node::Target(DialTarget::User(u)) => {
                u.uri = self.body_value(kind, body, body_span, "a sip: URI", SipUri::from_xml);
            }
            Node::Ssml(_) | Node::Response(_) | Node::Skip | Node::AgentHold(_) | Node::CustomerHold(_) => {}
        }
    }

    /// Whether the tag spells attribute `name` with a non-blank value (valid or not).
    fn has_attr_named(&self, e: &BytesStart<'_>, name: &str) -> bool {
        let mut attrs = e.attributes();
        attrs.with_checks(false);
        attrs.flatten().any(|a| a.key.as_ref() == name && !trim_xml(&a.value).is_empty())
    }

    fn missing_attr(&mut self, span: Span, element: &str, attr: &str) {
        self.report(Code::MissingAttribute, span, format!("<{element}> needs the `{attr}` attribute"));
    }

    fn body_text(&mut self, kind: Kind, body: &str, span: Span, what: &str) -> String {
        if body.is_empty() {
            self.report(Code::MissingBody, span, format!("<{}> needs {what} as its body", kind.name()));
        }
        body.to_owned()
    }

    fn body_value<T: Noted>(
        &mut self,
        kind: Kind,
        body: &str,
        span: Span,
        what: &str,
        parse: fn(&str) -> Result<T, ValueError>,
    ) -> Option<T> {
        if body.is_empty() {
            self.report(Code::MissingBody, span, format!("<{}> needs {what} as its body", kind.name()));
            return None;
        }
        match parse(body) {
            Ok(v) => {
                if let Some(code) = v.note() {
                    self.report_with(code, span, || match code {
                        Code::RelativeUrl => format!(
                            "relative URL `{}` as the body of <{}>: resolved against the document's own URL at run time",
                            clip(body),
                            kind.name()
                        ),
                        _ => format!("body of <{}>: {}", kind.name(), clip(body)),
                    });
                }
                Some(v)
            }
            Err(err) => {
                self.report(err.code(), span, format!("invalid body `{}` of <{}>: {err}", clip(body), kind.name()));
                None
            }
        }
    }
}

impl Frame {
    fn skip(start: usize) -> Frame {
        Frame {
            kind: None,
            start,
            node: Node::Skip,
            text: String::new(),
            text_start: None,
            attach: false,
            warned_text: true,
        }
    }
}

/// Puts a finished child into its parent. Misplaced children never get here.
fn attach(parent: &mut Node, child: Node) {
    match (parent, child) {
        (Node::Response(verbs), Node::Verb(v)) => verbs.push(v),
        (Node::Verb(Verb::PreAnswer(p)), Node::Verb(v)) => p.verbs.push(v),
        (Node::Verb(Verb::GetDigits(g)), Node::Verb(v)) => push_prompt(&mut g.prompts, v),
        (Node::Verb(Verb::GetInput(g)), Node::Verb(v)) => push_prompt(&mut g.prompts, v),
        (Node::AgentHold(h), Node::Verb(v)) => push_prompt(&mut h.prompts, v),
        (Node::CustomerHold(h), Node::Verb(v)) => push_prompt(&mut h.prompts, v),
        (Node::Verb(Verb::MultiPartyCall(m)), Node::AgentHold(h)) => m.agent_hold_music = Some(h),
        (Node::Verb(Verb::MultiPartyCall(m)), Node::CustomerHold(h)) => m.customer_hold_music = Some(h),
        (Node::Verb(Verb::Dial(d)), Node::Target(t)) => d.targets.push(t),
        (parent, Node::Ssml(s)) => {
            if let Some(content) = parent.speak_content() {
                content.push(SpeakNode::Ssml(s));
            }
        }
        _ => {}
    }
}

fn push_prompt(prompts: &mut Vec<Prompt>, v: Verb) {
    match v {
        Verb::Speak(s) => prompts.push(Prompt::Speak(s)),
        Verb::Play(p) => prompts.push(Prompt::Play(p)),
        Verb::Wait(w) => prompts.push(Prompt::Wait(w)),
        _ => {}
    }
}

/// Trims XML whitespace off both ends of a `<Speak>`'s content, dropping emptied text nodes.
fn trim_speak(content: &mut Vec<SpeakNode>) {
    if let Some(SpeakNode::Text(t)) = content.first_mut() {
        *t = t.trim_start_matches(is_xml_space).to_owned();
        if t.is_empty() {
            content.remove(0);
        }
    }
    if let Some(SpeakNode::Text(t)) = content.last_mut() {
        let end = t.trim_end_matches(is_xml_space).len();
        t.truncate(end);
        if t.is_empty() {
            content.pop();
        }
    }
}

fn resolve_ref(r: &BytesRef<'_>) -> Option<char> {
    if r.is_char_ref() {
        return r.resolve_char_ref().ok().flatten().filter(|&c| is_xml_char(c));
    }
    match r.as_ref() {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

/// Characters XML 1.0 allows in a document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

pub(crate) fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

pub(crate) fn trim_xml(s: &str) -> &str {
    s.trim_matches(is_xml_space)
}

/// Attributes whose empty value is a documented setting, not "unset": `finishOnKey=""`
/// disables the finishing key, `enterSound=""`/`exitSound=""` play nothing.
const EMPTY_HAS_MEANING: &[&str] = &["finishOnKey", "enterSound", "exitSound"];

/// Attributes holding a set of keys, where Plivo skips separators (`validDigits="1,2,3"`).
const KEY_SETS: &[&str] = &["validDigits", "finishOnKey"];

/// The message of a warning a value carried ([`super::values::Noted`]).
fn note_message(code: Code, name: &str, value: &str, element: &str) -> String {
    match code {
        Code::RelativeUrl => format!(
            "relative URL `{}` in `{name}` on <{element}>: resolved against the document's own URL at run time",
            clip(value)
        ),
        _ => format!("`{name}` on <{element}>: {}", clip(value)),
    }
}

/// The known name closest to a misspelt one: equal ignoring case and `_`/`-` first, then
/// the smallest edit distance (at most a third of the name, at least 1).
fn suggest_name<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    let fold = |s: &str| s.chars().filter(|c| !matches!(c, '_' | '-')).collect::<String>().to_ascii_lowercase();
    // Names are short; a long one cannot be a typo of any and is not compared.
    if name.len() > 64 {
        return None;
    }
    let folded = fold(name);
    if let Some(k) = known.iter().find(|k| fold(k) == folded) {
        return Some(k);
    }
    let limit = (name.chars().count() / 3).max(1);
    known
        .iter()
        .map(|k| (strsim::levenshtein(&folded, &fold(k)), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// `s`, cut to 60 characters with `…`, for quoting outside data in messages.
fn clip(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(60) {
        Some((i, _)) => Cow::Owned(format!("{}…", s.get(..i).unwrap_or(""))),
        None => Cow::Borrowed(s),
    }
}

fn is_blank(s: &str) -> bool {
    s.chars().all(is_xml_space)
}

/// The known element closest to a misspelt `name` (case, `_`/`-`, then edit distance), or
/// Plivo's name for another vendor's verb.
fn suggest(name: &str) -> Option<&'static str> {
    const ALL: &[Kind] = &[
        K::Response,
        K::Speak,
        K::Play,
        K::Wait,
        K::Dtmf,
        K::GetDigits,
        K::GetInput,
        K::Record,
        K::Dial,
        K::Number,
        K::User,
        K::Redirect,
        K::Hangup,
        K::PreAnswer,
        K::Conference,
        K::MultiPartyCall,
        K::Message,
        K::Stream,
        K::AgentHoldMusic,
        K::CustomerHoldMusic,
    ];
    let alias = match name {
        "Say" => Some("Speak"),
        "Gather" => Some("GetDigits"),
        "Pause" => Some("Wait"),
        _ => None,
    };
    if alias.is_some() {
        return alias;
    }
    let names: Vec<&'static str> = ALL.iter().chain(SSML_ALL).map(|k| k.name()).collect();
    suggest_name(name, &names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssml_kinds_are_mixed() {
        for k in SSML_ALL {
            if *k != K::Break {
                assert_eq!(k.body(), Body::Mixed);
            }
        }
    }
}
