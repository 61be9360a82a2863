//! One pass over quick-xml events into the verb AST, collecting every diagnostic.
//!
//! Invariants:
//! * never panics, whatever the input (tested with truncations and random mutations);
//! * reports every problem it can see; it stops early only when the XML itself is not
//!   well-formed (after that quick-xml's positions mean nothing) or a limit is exceeded;
//! * elements that are wrong (unknown, misplaced) are left out of the AST, so a document
//!   with errors still yields the best AST it can; callers must not run it.
//!
//! This file is the event loop and the stack of frames; the rest is in submodules: `kind`
//! (the element table: names, nesting matrix, bodies), `attrs` (a tag's attributes into an
//! element, with their diagnostics), `finish` (checks on a finished element: its body, required
//! children, conflicts), `limits` (`ParseOptions`, the size check and the bounded diagnostic
//! set), `encoding` (bytes: declared single-byte encodings, span mapping) and `suggest`
//! ("did you mean").

use std::borrow::Cow;

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;

use super::ast::*;
use super::values::Source;
use crate::diagnostic::{Code, Diagnostic, Span};

mod attrs;
mod encoding;
mod finish;
mod kind;
mod limits;
mod suggest;

pub use encoding::{decode, parse_bytes, source_text};
use kind::{Body, Kind, Kind as K};
pub use limits::ParseOptions;
use limits::{Kept, too_large};
use suggest::suggest;

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

/// Parses `src` with the given limits.
pub fn parse_with(src: &str, opts: &ParseOptions) -> Parsed {
    if src.len() > opts.max_bytes {
        return too_large(src.len(), opts);
    }
    // The source is copied once into a shared buffer: the document's texts are views of it.
    let shared = Source::new(src);
    let mut p = Parser::new(&shared, opts);
    p.check_chars();
    let document = p.run();
    p.into_parsed(document)
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
    /// Whether the node takes `<Speak>` content (text and SSML).
    fn takes_content(&self) -> bool {
        matches!(self, Node::Verb(Verb::Speak(_))) || matches!(self, Node::Ssml(s) if !matches!(s, Ssml::Break(_)))
    }

    /// Appends `n` to the node's `<Speak>` content (nothing when it takes none).
    fn push_content(&mut self, n: SpeakNode) {
        match self {
            Node::Verb(Verb::Speak(s)) => s.content.push(n),
            Node::Ssml(s) => {
                if let Some(c) = s.content_mut() {
                    c.push(n)
                }
            }
            _ => {}
        }
    }
}

struct Frame<'s> {
    kind: Option<Kind>,
    start: usize,
    node: Node,
    /// Body text of a `Body::Text` element, or the text of a `Body::Mixed` element not yet
    /// made a [`SpeakNode::Text`]: borrowed from the source while it is one piece.
    text: Cow<'s, str>,
    /// Whether a `Body::Mixed` element has text pending in `text` (possibly empty).
    pending: bool,
    /// Where the body text starts.
    text_start: Option<usize>,
    /// Whether the finished node goes into its parent (false when misplaced).
    attach: bool,
    /// Whether ignored text was already reported.
    warned_text: bool,
}

struct Parser<'s> {
    src: &'s str,
    /// `src` shared: what the AST's texts are views of.
    shared: &'s Source,
    opts: &'s ParseOptions,
    /// The first `max_diagnostics` diagnostics by position: a max-heap, so the last one
    /// is dropped when an earlier one comes.
    diags: std::collections::BinaryHeap<Kept>,
    seq: usize,
    suppressed: usize,
    suppressed_errors: usize,
    stack: Vec<Frame<'s>>,
    /// Depth inside an unknown element's subtree (its children are not checked).
    skip_depth: usize,
    document: Option<Document>,
    root_seen: bool,
    reported_after_root: bool,
    /// Whether the source holds a CR anywhere (found by `check_chars`): when it does not, no
    /// text needs its line ends normalised and none is searched for one.
    any_cr: bool,
}

impl<'s> Parser<'s> {
    fn new(shared: &'s Source, opts: &'s ParseOptions) -> Self {
        Parser {
            src: shared.as_str(),
            shared,
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
            any_cr: true,
        }
    }

    /// XML 1.0 allows no C0 control character but tab, LF and CR anywhere in a document:
    /// each one is `E0101` at its byte.
    fn check_chars(&mut self) {
        let bad = |b: u8| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r');
        // Blocks of 256 bytes are tested without branching (so the test vectorizes); only a
        // block holding a bad byte is searched byte by byte. The same pass notes a CR.
        let src = self.src;
        let mut any_cr = false;
        for (block, bytes) in src.as_bytes().chunks(256).enumerate() {
            let (any_bad, cr) = bytes.iter().fold((false, false), |(any, cr), &b| (any | bad(b), cr | (b == b'\r')));
            any_cr |= cr;
            if !any_bad {
                continue;
            }
            for (i, &byte) in bytes.iter().enumerate() {
                if bad(byte) {
                    let at = block * 256 + i;
                    self.report_with(Code::Malformed, Span::new(at, at + 1), || {
                        format!("malformed XML: control character U+{byte:04X} is not allowed in XML 1.0")
                    });
                }
            }
        }
        self.any_cr = any_cr;
    }

    /// Byte offset of a slice borrowed from the source, `None` when it is not.
    fn src_offset(&self, bytes: &str) -> Option<usize> {
        let base = self.src.as_ptr() as usize;
        let p = bytes.as_ptr() as usize;
        (p >= base && p <= base + self.src.len()).then(|| p - base)
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
                // XML 1.0 §2.11: CR LF and CR read as LF (`xml10_content`); a piece without a
                // CR, the usual case, is taken as it is.
                Event::Text(t) => {
                    let text = if self.any_cr && has_cr(&t) { t.xml10_content() } else { t.into_inner() };
                    self.text(text, span, span.start)
                }
                // The content starts after `<![CDATA[`.
                Event::CData(c) => {
                    let text = if self.any_cr && has_cr(&c) { c.xml10_content() } else { c.into_inner() };
                    self.text(text, span, span.start + 9)
                }
                Event::GeneralRef(r) => match resolve_ref(&r) {
                    Some(c) => self.text(c, span, span.start),
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
            if !parent.allows(kind) {
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
            text: Cow::Borrowed(""),
            pending: false,
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

    /// Handles decoded `text` found at `span`; its raw content starts at byte `raw_start`.
    fn text(&mut self, text: Cow<'s, str>, span: Span, raw_start: usize) {
        // Positions come from the raw source: decoding changes lengths (CRLF, entities).
        // Only text that is not blank has a first non-blank byte to point at.
        let src = self.src;
        let first = || first_non_blank(src, raw_start, span.end);
        let Some(frame) = self.stack.last_mut() else {
            if !is_blank(&text) {
                let code = if self.root_seen { Code::AfterRoot } else { Code::Malformed };
                let at = Span::new(first(), span.end);
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
                if frame.text_start.is_none() && !is_blank(&text) {
                    frame.text_start = Some(first());
                }
                if frame.text.is_empty() {
                    frame.text = text;
                } else {
                    frame.text.to_mut().push_str(&text);
                }
            }
            Body::Mixed => {
                // Consecutive pieces make one text node, pushed when an SSML child is attached
                // or the element ends (`flush_text`).
                if frame.node.takes_content() {
                    if frame.pending && !frame.text.is_empty() {
                        frame.text.to_mut().push_str(&text);
                    } else {
                        frame.text = text;
                    }
                    frame.pending = true;
                }
            }
            Body::Ignored => {
                if !frame.warned_text && !is_blank(&text) {
                    frame.warned_text = true;
                    let at = Span::new(first(), span.end);
                    let msg = format!("text inside <{}> is ignored", kind.name());
                    self.report(Code::IgnoredText, at, msg);
                }
            }
            Body::Forbidden => {
                if !is_blank(&text) {
                    let at = Span::new(first(), span.end);
                    self.report(Code::TextInResponse, at, "text directly inside <Response> is not allowed".to_owned());
                }
            }
        }
    }

    fn end(&mut self, span: Span) {
        if self.skip_depth > 0 {
            self.stack.pop();
            self.skip_depth -= 1;
            return;
        }
        // The frame is finished where it lies and its node moved once, into its parent: the
        // stack is taken out of `self` meanwhile so `finish` can report.
        let mut stack = std::mem::take(&mut self.stack);
        self.end_in(&mut stack, span);
        self.stack = stack;
    }

    fn end_in(&mut self, stack: &mut Vec<Frame<'s>>, span: Span) {
        let Some(frame) = stack.last_mut() else {
            return;
        };
        let Some(kind) = frame.kind else {
            stack.pop();
            return;
        };
        flush_text(frame, self.shared);
        let body = std::mem::take(&mut frame.text);
        let body_span = match frame.text_start {
            Some(s) => Span::new(s, span.start.max(s)),
            None => Span::new(frame.start + 1, frame.start + 1 + kind.name().len()),
        };
        self.finish(kind, &mut frame.node, trim_xml(&body), body_span, frame.start);
        if frame.attach {
            match stack.as_mut_slice() {
                [.., parent, child] => {
                    if matches!(child.node, Node::Ssml(_)) {
                        flush_text(parent, self.shared);
                    }
                    attach(&mut parent.node, &mut child.node)
                }
                [root] => {
                    if let Node::Response(verbs) = &mut root.node {
                        let mut verbs = std::mem::take(verbs);
                        // Room reserved from the size (`attrs::verbs_estimate`) and mostly unused
                        // is given back when it is more than 16 verbs' worth.
                        if verbs.len() < verbs.capacity() / 2 && verbs.capacity() - verbs.len() > 16 {
                            verbs.shrink_to_fit();
                        }
                        self.document = Some(Document { verbs });
                    }
                }
                [] => {}
            }
        }
        stack.truncate(stack.len().saturating_sub(1));
    }
}

impl Frame<'_> {
    fn skip(start: usize) -> Self {
        Frame {
            kind: None,
            start,
            node: Node::Skip,
            text: Cow::Borrowed(""),
            pending: false,
            text_start: None,
            attach: false,
            warned_text: true,
        }
    }
}

/// Makes a `Body::Mixed` frame's pending text its content's next text node.
fn flush_text(frame: &mut Frame<'_>, shared: &Source) {
    if !std::mem::take(&mut frame.pending) {
        return;
    }
    let text = std::mem::take(&mut frame.text);
    if frame.node.takes_content() {
        frame.node.push_content(SpeakNode::Text(shared.text_cow(text)));
    }
}

/// Puts a finished child into its parent, moving it out of `child` (left a placeholder,
/// dropped with its frame). Misplaced children never get here.
fn attach(parent: &mut Node, child: &mut Node) {
    match (parent, child) {
        (Node::Response(verbs), Node::Verb(v)) => verbs.push(take_verb(v)),
        (Node::Verb(Verb::PreAnswer(p)), Node::Verb(v)) => p.verbs.push(take_verb(v)),
        (Node::Verb(Verb::GetDigits(g)), Node::Verb(v)) => push_prompt(&mut g.prompts, take_verb(v)),
        (Node::Verb(Verb::GetInput(g)), Node::Verb(v)) => push_prompt(&mut g.prompts, take_verb(v)),
        (Node::AgentHold(h), Node::Verb(v)) => push_prompt(&mut h.prompts, take_verb(v)),
        (Node::CustomerHold(h), Node::Verb(v)) => push_prompt(&mut h.prompts, take_verb(v)),
        (Node::Verb(Verb::MultiPartyCall(m)), Node::AgentHold(h)) => m.agent_hold_music = Some(std::mem::take(h)),
        (Node::Verb(Verb::MultiPartyCall(m)), Node::CustomerHold(h)) => m.customer_hold_music = Some(std::mem::take(h)),
        (Node::Verb(Verb::Dial(d)), Node::Target(t)) => {
            d.targets.push(std::mem::replace(t, DialTarget::Number(Number::default())))
        }
        // A parent that takes no content drops it (as the child's frame would).
        (parent, Node::Ssml(s)) => {
            parent.push_content(SpeakNode::Ssml(std::mem::replace(s, Ssml::P(Paragraph::default()))))
        }
        _ => {}
    }
}

/// Moves a finished verb out of its frame, leaving a cheap placeholder.
fn take_verb(v: &mut Verb) -> Verb {
    std::mem::replace(v, Verb::Hangup(Hangup::default()))
}

fn push_prompt(prompts: &mut Vec<Prompt>, v: Verb) {
    match v {
        Verb::Speak(s) => prompts.push(Prompt::Speak(s)),
        Verb::Play(p) => prompts.push(Prompt::Play(p)),
        Verb::Wait(w) => prompts.push(Prompt::Wait(w)),
        _ => {}
    }
}

/// The text a reference stands for: a predefined entity or a character reference.
fn resolve_ref(r: &BytesRef<'_>) -> Option<Cow<'static, str>> {
    if r.is_char_ref() {
        return r.resolve_char_ref().ok().flatten().filter(|&c| is_xml_char(c)).map(|c| Cow::Owned(c.to_string()));
    }
    Some(Cow::Borrowed(match r.as_ref() {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "apos" => "'",
        "quot" => "\"",
        _ => return None,
    }))
}

/// Characters XML 1.0 allows in a document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Whether `b` is XML white space (XML 1.0 §2.3 `S`): space, tab, CR or LF. XML space is
/// ASCII and no byte of a multi-byte UTF-8 character is, so text can be cut at such a byte.
pub(super) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

pub(crate) fn trim_xml(s: &str) -> &str {
    // XML space is ASCII, so the cuts fall on character boundaries.
    let bytes = s.as_bytes();
    let start = bytes.iter().position(|&b| !is_space(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|&b| !is_space(b)).map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or("")
}

/// `s`, cut to 60 characters with `…`, for quoting outside data in messages.
fn clip(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(60) {
        Some((i, _)) => Cow::Owned(format!("{}…", s.get(..i).unwrap_or(""))),
        None => Cow::Borrowed(s),
    }
}

/// Whether `s` holds a CR, checked without branching per byte.
fn has_cr(s: &str) -> bool {
    s.bytes().fold(false, |any, b| any | (b == b'\r'))
}

fn is_blank(s: &str) -> bool {
    // XML space is ASCII, and no byte of a multi-byte character is ASCII.
    s.bytes().all(is_space)
}

/// The offset of the first non-blank byte of `src` in `from..end` (or `from`).
fn first_non_blank(src: &str, from: usize, end: usize) -> usize {
    src.as_bytes().get(from..end).and_then(|b| b.iter().position(|&c| !is_space(c))).map_or(from, |i| from + i)
}
