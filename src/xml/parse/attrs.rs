//! Attribute checking: a tag's attributes into its element (`Parser::build`), with a diagnostic
//! for every bad, unknown, duplicate, empty or missing one.

use std::borrow::Cow;

use quick_xml::XmlVersion;
use quick_xml::events::BytesStart;
use quick_xml::events::attributes::{AttrError, Attribute, Attributes};
use quick_xml::name::QName;

use super::kind::{Kind, Kind as K};
use super::suggest::suggest_name;
use super::{Node, Parser, clip, is_space, trim_xml};
use crate::diagnostic::{Code, Span};
use crate::xml::ast::*;
use crate::xml::values::{KeySet, Source, ValueError};

impl Parser<'_> {
    /// Creates the node for `kind` with its attributes applied.
    pub(super) fn build(&mut self, kind: Kind, e: &BytesStart<'_>, span: Span) -> Node {
        match kind {
            K::Response => {
                self.each_attr(
                    e,
                    span,
                    |_| None,
                    |p, _, name, key_span, _, _| {
                        p.report(
                            Code::ResponseAttribute,
                            key_span,
                            format!("<Response> takes no attributes, found `{name}`"),
                        );
                    },
                );
                // Room is reserved for the root only: a nested or later <Response> is never
                // attached, and reserving for each would cost the estimate per tag.
                let root = self.stack.is_empty() && !self.reported_after_root;
                Node::Response(if root { Vec::with_capacity(verbs_estimate(self.src.len())) } else { Vec::new() })
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
                Node::Verb(Verb::GetInput(Box::new(el)))
            }
            K::Record => Node::Verb(Verb::Record(self.attrs(e, span))),
            K::Dial => Node::Verb(Verb::Dial(Box::new(self.attrs(e, span)))),
            K::Redirect => Node::Verb(Verb::Redirect(self.attrs(e, span))),
            K::Hangup => Node::Verb(Verb::Hangup(self.attrs(e, span))),
            K::PreAnswer => Node::Verb(Verb::PreAnswer(self.attrs(e, span))),
            K::Conference => Node::Verb(Verb::Conference(Box::new(self.attrs(e, span)))),
            K::MultiPartyCall => {
                let el = self.attrs_required(e, span, &["role"]);
                Node::Verb(Verb::MultiPartyCall(Box::new(el)))
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

    /// Calls `f(parser, index, name, name span, unescaped value, value span)` for each
    /// attribute of a tag, in order, reporting duplicates (the later ones are skipped), bad
    /// references and bad syntax (which ends the list) on the way. `index` is the position of
    /// the name in the element's table, `None` for a name it does not know.
    ///
    /// One pass, no allocation for a tag whose names are all known: a known name is checked
    /// for repeats by its bit, an unknown one against the unknown names seen (a list, then a
    /// hash set past [`LINEAR_UNKNOWN`] names, so a tag of many names stays linear).
    fn each_attr<'e>(
        &mut self,
        e: &'e BytesStart<'_>,
        span: Span,
        index: fn(&str) -> Option<usize>,
        mut f: impl FnMut(&mut Self, Option<usize>, &'e str, Span, Cow<'e, str>, Span),
    ) {
        let mut seen: u64 = 0;
        let mut unknown: Vec<&'e str> = Vec::new();
        let mut unknown_set: Option<std::collections::HashSet<&'e str>> = None;
        // Offsets in the source of the tag's bytes (what `TagAttrs` counts from); a key or
        // value not lying in the source is placed at the tag's start.
        let buf: &'e str = e;
        let base = self.src_offset(buf);
        let at = |rel: Option<usize>| base.zip(rel).map_or(span.start, |(b, r)| b + r);
        for a in TagAttrs::new(e) {
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
            let key_bytes = a.key;
            let key_start = at(a.key_at);
            let key_span = Span::new(key_start, key_start + key_bytes.len());
            let val_start = at(a.value_at);
            let val_span = Span::new(val_start, val_start + a.value.len());
            let name = key_bytes;
            // Below 64: `element!` refuses to compile an element with more attributes.
            let idx = index(name);
            let repeated = match idx {
                Some(i) => {
                    let was = seen & 1 << i != 0;
                    seen |= 1 << i;
                    was
                }
                None => match &mut unknown_set {
                    Some(set) => !set.insert(name),
                    None if unknown.contains(&name) => true,
                    None => {
                        unknown.push(name);
                        if unknown.len() > LINEAR_UNKNOWN {
                            unknown_set = Some(unknown.drain(..).collect());
                        }
                        false
                    }
                },
            };
            if repeated {
                self.report_with(Code::DuplicateAttribute, key_span, || format!("duplicate attribute `{name}`"));
                continue;
            }
            // XML 1.0 §3.3.3 normalization changes only values holding a reference or a tab,
            // CR or LF (quick-xml returns those unchanged too); the rest are taken as they are.
            let value = if a.maybe_normalize && needs_normalizing(&a.value) {
                let full = Attribute { key: QName(a.key), value: a.value };
                match full.normalized_value(XmlVersion::Implicit1_0) {
                    Ok(v) => v,
                    Err(err) => {
                        self.report(Code::BadReference, val_span, format!("in attribute `{name}`: {err}"));
                        continue;
                    }
                }
            } else {
                a.value
            };
            f(self, idx, name, key_span, value, val_span);
        }
    }

    /// Builds element `E` from a tag's attributes, reporting every bad or unknown one.
    fn attrs<E: Attrs>(&mut self, e: &BytesStart<'_>, span: Span) -> E {
        self.attrs_required(e, span, &[])
    }

    /// [`Self::attrs`], also reporting each of `required` that is absent. An attribute that is
    /// present with a bad value is reported for its value only.
    ///
    /// Only the element's table and its `set_attr_at` are per element: the pass itself
    /// ([`Self::fill_attrs`]) is one function for all of them, so the parser's code stays
    /// small enough for the instruction cache.
    fn attrs_required<E: Attrs>(&mut self, e: &BytesStart<'_>, span: Span, required: &[&str]) -> E {
        let table = Table {
            element: E::ELEMENT,
            names: E::NAMES,
            index: E::index,
            empty_has_meaning: const { mask(E::NAMES, EMPTY_HAS_MEANING) },
            key_sets: const { mask(E::NAMES, KEY_SETS) },
        };
        let mut el = E::default();
        self.fill_attrs(&table, &mut |i, raw, src| el.set_attr_at(i, raw, src), e, span, required);
        el
    }

    /// The attribute pass of [`Self::attrs_required`] for the element `table` describes,
    /// setting each good value with `set` (the element's [`Attrs::set_attr_at`]).
    fn fill_attrs(&mut self, table: &Table, set: &mut SetAttr<'_>, e: &BytesStart<'_>, span: Span, required: &[&str]) {
        let Table { element, names, index, empty_has_meaning, key_sets } = *table;
        let name_span = Span::new(span.start + 1, span.start + 1 + element.len());
        // Bit `r` is set when `required[r]` is present.
        let mut present: u64 = 0;
        self.each_attr(e, span, index, |p, idx, name, key_span, mut value, val_span| {
            let blank = trim_xml(&value).is_empty();
            let req = required.iter().position(|r| *r == name);
            if let Some(r) = req {
                present |= 1 << r.min(63);
                // An empty required value is no value: Plivo cannot run the element.
                if blank {
                    let msg = format!("<{element}> needs the `{name}` attribute; it is empty");
                    p.report(Code::MissingAttribute, val_span, msg);
                }
            }
            let Some(i) = idx else {
                p.report_with(Code::UnknownAttribute, key_span, || {
                    let hint =
                        suggest_name(name, names).map(|s| format!("did you mean `{s}`? ")).unwrap_or_default();
                    format!(
                        "unknown attribute `{}` on <{element}> is ignored; {hint}known: {}",
                        clip(name),
                        if names.is_empty() { "none".to_owned() } else { names.join(", ") }
                    )
                });
                return;
            };
            let bit = 1u64 << i;
            if blank {
                if empty_has_meaning & bit != 0 {
                    value = Cow::Borrowed("");
                } else {
                    // Plivo reads an empty optional value as "not given": the default applies.
                    if req.is_none() {
                        p.report_with(Code::EmptyValue, val_span, || {
                            format!("empty `{name}` on <{element}> is ignored; the default applies")
                        });
                    }
                    return;
                }
            }
            if key_sets & bit != 0 && !value.is_empty() && KeySet::has_separators(&value) {
                p.report_with(Code::KeySeparators, val_span, || {
                    format!(
                        "separators in `{name}=\"{}\"` on <{element}> are not keys and are ignored; the keys are the digits",
                        clip(&value),
                    )
                });
            }
            match set(i, &value, p.shared) {
                Ok(None) => {}
                Ok(Some(code)) => p.report_with(code, val_span, || note_message(code, name, &value, element)),
                // `none` is how the PHP SDK writes PHP `false`, `null`, `0` and `""` (its
                // `convertValue` compares loosely), and the Ruby SDK `nil`. Plivo reads a
                // boolean as true only when it is `true`, and a number it cannot read as
                // absent: so `none` is false for a boolean and unset for a number.
                Err(ValueError::NotBoolean) if trim_xml(&value).eq_ignore_ascii_case("none") => {
                    // `false` is a valid boolean: this cannot fail.
                    let _ = set(i, "false", p.shared);
                    p.report_with(Code::EmptyValue, val_span, || {
                        format!(
                            "`{name}=\"none\"` on <{element}> reads as false (`none` is the SDKs' spelling of no value)"
                        )
                    });
                }
                Err(ValueError::NotInteger) if trim_xml(&value).eq_ignore_ascii_case("none") => {
                    p.report_with(Code::EmptyValue, val_span, || {
                        format!("`{name}=\"none\"` on <{element}> is ignored; the default applies (`none` is the SDKs' spelling of no value)")
                    });
                }
                Err(err) => p.report_with(err.code(), val_span, || {
                    format!("invalid value `{}` for `{name}` on <{element}>: {err}", clip(&value))
                }),
            }
        });
        for (r, req) in required.iter().enumerate() {
            if present & 1 << r.min(63) == 0 {
                self.missing_attr(name_span, element, req);
            }
        }
    }

    /// Whether the tag spells attribute `name` with a non-blank value (valid or not).
    fn has_attr_named(&self, e: &BytesStart<'_>, name: &str) -> bool {
        TagAttrs::new(e).flatten().any(|a| a.key == name && !trim_xml(&a.value).is_empty())
    }

    fn missing_attr(&mut self, span: Span, element: &str, attr: &str) {
        self.report(Code::MissingAttribute, span, format!("<{element}> needs the `{attr}` attribute"));
    }
}

/// An element's [`Attrs::set_attr_at`], as the attribute pass calls it.
type SetAttr<'a> = dyn FnMut(usize, &str, &Source) -> Result<Option<Code>, ValueError> + 'a;

/// What the attribute pass needs of one element type: its [`Attrs`] table, and which of its
/// attributes are in [`EMPTY_HAS_MEANING`] and [`KEY_SETS`] (bit `i` for `names[i]`).
#[derive(Clone, Copy)]
struct Table {
    element: &'static str,
    names: &'static [&'static str],
    index: fn(&str) -> Option<usize>,
    empty_has_meaning: u64,
    key_sets: u64,
}

/// How many verbs a document of `len` bytes is reserved room for: one per 128 bytes (SDK
/// documents spend about 125 per verb), at least 4 (what a first push would give) and at most
/// 1,024 (147 KB of `Verb`s; a 100 KB document holds at most about 800 verbs this long). A
/// `Document` whose verbs fill less than half of it, leaving more than 16 unused, is shrunk
/// when it is finished.
pub(super) fn verbs_estimate(len: usize) -> usize {
    (len / 128).clamp(4, 1024)
}

/// One attribute as [`TagAttrs`] reads it: quick-xml's key and value, where they lie in the
/// tag, and whether the value may need normalizing.
struct RawAttr<'e> {
    key: &'e str,
    value: Cow<'e, str>,
    /// Where `key` and `value` start in the tag's bytes (`None` for a value not in them).
    key_at: Option<usize>,
    value_at: Option<usize>,
    /// False only when the value holds none of `&`, tab, CR, LF ([`needs_normalizing`]).
    maybe_normalize: bool,
}

/// A tag's attributes exactly as quick-xml's [`Attributes`] (duplicate checks off) reads
/// them, read faster while they are spelled the usual way (`name="value"` or `name='value'`,
/// blanks between): at the first attribute spelled otherwise (blanks around `=`, no quotes,
/// no `=`, an unclosed quote) the rest of the tag is handed to quick-xml's iterator from that
/// attribute's start, which is where its own pass would be, so items and errors are its own.
struct TagAttrs<'e> {
    /// Everything between `<` and `>` (or `/>`): what quick-xml's offsets count from.
    buf: &'e str,
    /// Where the next attribute (or the blanks before it) starts.
    pos: usize,
    /// quick-xml's iterator, once an attribute was not spelled the usual way.
    slow: Option<Attributes<'e>>,
}

impl<'e> TagAttrs<'e> {
    fn new(e: &'e BytesStart<'_>) -> Self {
        TagAttrs { buf: e, pos: e.name().as_ref().len(), slow: None }
    }

    #[inline(never)]
    fn fall_back(&mut self) -> Option<Result<RawAttr<'e>, AttrError>> {
        let mut attrs = Attributes::new(self.buf, self.pos);
        attrs.with_checks(false);
        self.slow = Some(attrs);
        self.next_slow()
    }

    #[inline(never)]
    fn next_slow(&mut self) -> Option<Result<RawAttr<'e>, AttrError>> {
        let a = self.slow.as_mut()?.next()?;
        let buf = self.buf;
        Some(a.map(|a| {
            let key = a.key.into_inner();
            RawAttr {
                key,
                key_at: offset_in(buf, key),
                value_at: offset_in(buf, &a.value),
                maybe_normalize: true,
                value: a.value,
            }
        }))
    }
}

impl<'e> Iterator for TagAttrs<'e> {
    type Item = Result<RawAttr<'e>, AttrError>;

    // Inlined into each element's pass (the slow paths are not): the item is then never
    // written out and read back.
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        if self.slow.is_some() {
            return self.next_slow();
        }
        let bytes = self.buf.as_bytes();
        let mut start = self.pos;
        while bytes.get(start).is_some_and(|&b| is_space(b)) {
            start += 1;
        }
        if start >= bytes.len() {
            self.pos = start;
            return None;
        }
        // As in quick-xml, the name is at least its first byte and runs to `=` or a blank.
        let mut eq = start + 1;
        loop {
            eq += match bytes.get(eq..).and_then(find_eq_or_low) {
                Some(n) => n,
                None => return self.fall_back(),
            };
            match bytes.get(eq) {
                Some(b'=') => break,
                // A control byte other than a blank is part of the name.
                Some(&b) if !is_space(b) => eq += 1,
                _ => return self.fall_back(),
            }
        }
        let quote = match bytes.get(eq + 1) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => return self.fall_back(),
        };
        let from = eq + 2;
        let Some((len, maybe_normalize)) = bytes.get(from..).and_then(|v| find_quote(v, quote)) else {
            return self.fall_back();
        };
        // The cuts are at ASCII bytes, so on character boundaries.
        let key = self.buf.split_at_checked(eq).and_then(|(head, _)| head.split_at_checked(start));
        let value = self.buf.split_at_checked(from + len).and_then(|(head, _)| head.split_at_checked(from));
        match (key, value) {
            (Some((_, key)), Some((_, value))) => {
                self.pos = from + len + 1;
                Some(Ok(RawAttr {
                    key,
                    value: Cow::Borrowed(value),
                    key_at: Some(start),
                    value_at: Some(from),
                    maybe_normalize,
                }))
            }
            _ => self.fall_back(),
        }
    }
}

/// Where `part` starts in `whole`, when it lies there.
fn offset_in(whole: &str, part: &str) -> Option<usize> {
    let at = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    (at <= whole.len()).then_some(at)
}

const LOW: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` that is zero, exact for the lowest such byte (bits above
/// it may be false, only ever above a true one).
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(LOW) & !x & HIGH
}

/// The high bit of each byte of `x` below `n` (at most 0x80), exact as [`zero_bytes`] is.
fn bytes_below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(LOW * u64::from(n)) & !x & HIGH
}

/// The position of the first byte of `bytes` that is `=` or below `!` (a blank or another
/// control byte), 8 bytes at a time.
#[inline(always)]
fn find_eq_or_low(bytes: &[u8]) -> Option<usize> {
    let eq = LOW * u64::from(b'=');
    let mut n = 0;
    while let Some(word) = bytes.get(n..n + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        let x = u64::from_le_bytes(word);
        let hit = zero_bytes(x ^ eq) | bytes_below(x, b'!');
        if hit != 0 {
            return Some(n + (hit.trailing_zeros() / 8) as usize);
        }
        n += 8;
    }
    bytes.get(n..)?.iter().position(|&b| b == b'=' || b < b'!').map(|i| n + i)
}

/// The position of the first `quote` in `hay`, 8 bytes at a time, and whether a byte before
/// it is `&` or below 0x0E (so possibly a tab, LF or CR: what [`needs_normalizing`] looks
/// for, then checked exactly).
#[inline(always)]
fn find_quote(hay: &[u8], quote: u8) -> Option<(usize, bool)> {
    let pattern = LOW * u64::from(quote);
    let amp = LOW * u64::from(b'&');
    let mut special = 0;
    let mut n = 0;
    while let Some(word) = hay.get(n..n + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
        let x = u64::from_le_bytes(word);
        let found = zero_bytes(x ^ pattern);
        let odd = zero_bytes(x ^ amp) | bytes_below(x, 0x0E);
        if found != 0 {
            // The bits below the quote's: the bytes before it (a false bit there lies above
            // a true one, so "any" is exact).
            let before = (found & found.wrapping_neg()) - 1;
            return Some((n + (found.trailing_zeros() / 8) as usize, special | odd & before != 0));
        }
        special |= odd;
        n += 8;
    }
    // The last 0 to 7 bytes: as the low bytes of the word ending with `hay` (bytes already
    // looked at shifted out) when there is one, else one by one.
    let rest = hay.len() - n;
    if rest > 0
        && let Some(word) =
            hay.len().checked_sub(8).and_then(|from| hay.get(from..)).and_then(|w| <[u8; 8]>::try_from(w).ok())
    {
        let x = u64::from_le_bytes(word) >> (8 * (8 - rest));
        // Bits above the last byte came from the shift, zero: never taken.
        let valid = HIGH >> (8 * (8 - rest));
        let found = zero_bytes(x ^ pattern) & valid;
        if found == 0 {
            return None;
        }
        let odd = zero_bytes(x ^ amp) | bytes_below(x, 0x0E);
        let before = (found & found.wrapping_neg()) - 1;
        return Some((n + (found.trailing_zeros() / 8) as usize, special | odd & before != 0));
    }
    let rest = hay.get(n..)?;
    let i = rest.iter().position(|&b| b == quote)?;
    let tail = rest.get(..i)?.iter().any(|&b| b == b'&' || b < 0x0E);
    Some((n + i, special != 0 || tail))
}

/// Whether attribute-value normalization can change `value`: it holds `&`, a tab, CR or LF.
/// Checked without branching per byte (values are short; most need nothing).
fn needs_normalizing(value: &str) -> bool {
    value.bytes().fold(false, |any, b| any | matches!(b, b'&' | b'\t' | b'\r' | b'\n'))
}

/// Attributes whose empty value is a documented setting, not "unset": `finishOnKey=""`
/// disables the finishing key, `enterSound=""`/`exitSound=""` play nothing.
const EMPTY_HAS_MEANING: &[&str] = &["finishOnKey", "enterSound", "exitSound"];

/// Attributes holding a set of keys, where Plivo skips separators (`validDigits="1,2,3"`).
const KEY_SETS: &[&str] = &["validDigits", "finishOnKey"];

/// Unknown attribute names of one tag checked for repeats by a linear search; past this many
/// they go into a hash set.
const LINEAR_UNKNOWN: usize = 8;

/// The bits of `names` (an element's table) that are in `list`.
const fn mask(names: &[&str], list: &[&str]) -> u64 {
    let mut m = 0;
    let mut i = 0;
    while i < names.len() && i < 64 {
        let mut j = 0;
        while j < list.len() {
            if eq(names[i].as_bytes(), list[j].as_bytes()) {
                m |= 1 << i;
            }
            j += 1;
        }
        i += 1;
    }
    m
}

const fn eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The message of a warning a value carried ([`crate::xml::values::Noted`]).
fn note_message(code: Code, name: &str, value: &str, element: &str) -> String {
    match code {
        Code::RelativeUrl => format!(
            "relative URL `{}` in `{name}` on <{element}>: resolved against the document's own URL at run time",
            clip(value)
        ),
        _ => format!("`{name}` on <{element}>: {}", clip(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every attribute item (or error) of `tag`'s start, as quick-xml's own iterator gives it
    /// and as [`TagAttrs`] does: they must agree on every tag shape.
    fn both(tag: &str) -> (Vec<String>, Vec<String>) {
        let mut reader = quick_xml::Reader::from_str(tag);
        let start = match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)) => e.into_owned(),
            other => panic!("{tag}: {other:?}"),
        };
        let show = |a: Result<Attribute<'_>, AttrError>| format!("{a:?}");
        let mut ours = Vec::new();
        let buf: &str = &start;
        for a in TagAttrs::new(&start) {
            let failed = a.is_err();
            ours.push(show(a.map(|a| {
                // Where it says the key and value lie, they do; the flag misses no value that
                // needs normalizing.
                assert_eq!(a.key_at.and_then(|k| buf.get(k..k + a.key.len())), Some(a.key), "{tag}");
                assert_eq!(a.value_at.and_then(|v| buf.get(v..v + a.value.len())), Some(&*a.value), "{tag}");
                assert!(a.maybe_normalize || !needs_normalizing(&a.value), "{tag}");
                Attribute { key: QName(a.key), value: a.value }
            })));
            if failed {
                break;
            }
        }
        let mut theirs = Vec::new();
        let mut attrs = start.attributes();
        attrs.with_checks(false);
        for a in attrs {
            let failed = a.is_err();
            theirs.push(show(a));
            if failed {
                break;
            }
        }
        (ours, theirs)
    }

    #[test]
    fn the_fast_attribute_pass_agrees_with_quick_xml_on_every_tag_shape() {
        let tags = [
            r#"<Speak voice="WOMAN" language='en-US' loop="2">"#,
            r#"<Speak voice = "WOMAN">"#,
            r#"<Speak voice= "WOMAN" loop="1">"#,
            r#"<Speak voice ="WOMAN">"#,
            "<Speak voice=WOMAN loop=\"1\">",
            r#"<Speak voice>"#,
            r#"<Speak voice loop="1">"#,
            r#"<Speak voice="a'b" loop='c"d'>"#,
            r#"<Speak voice="x"loop="1">"#,
            "<Speak\tvoice=\"x\"\r\n  loop=\"1\"\n>",
            r#"<Speak ="x">"#,
            r#"<Speak voice="" loop="">"#,
            r#"<Speak voice="a&amp;b &#65;" loop="&lt;">"#,
            r#"<Speak vöice="wömän" a:b="1" x-y.z_0="2">"#,
            r#"<Speak abcdefghijklmnopqrstuvwxyz="1" ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_`{|}~="2">"#,
            r#"<Speak voice="WOMAN" voice="MAN">"#,
            r#"<Speak voice="WOMAN"/>"#,
            r#"<Speak voice="WOMAN" />"#,
            r#"<Speak a="0123456789abcdefghij0123456789" b='0123456789abcdefghij"0123456789'>"#,
            "<Speak voice=\"a\tb\" loop='x\r\ny' language=\"0123456789&amp;\">",
            "<Speak a\u{1}b=\"1\" c\u{7f}=\"2\">",
            "<Speak>",
            "<Speak   >",
        ];
        for tag in tags {
            let (ours, theirs) = both(tag);
            assert_eq!(ours, theirs, "{tag}");
        }
    }

    #[test]
    fn the_word_searches_match_their_plain_definitions() {
        let mut hay: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        hay.extend(b"voice=\"a&amp;b\tc\" loop='1' x=\"\xc3\xa9\r\n\" ");
        for from in 0..hay.len() {
            let rest = hay.get(from..).unwrap_or_default();
            for quote in [b'"', b'\'', 0, 255, 7] {
                let plain = rest.iter().position(|&b| b == quote).map(|i| {
                    let before = rest.get(..i).unwrap_or_default();
                    (i, before.iter().any(|&b| b == b'&' || b < 0x0E))
                });
                assert_eq!(find_quote(rest, quote), plain, "{from} {quote}");
            }
            assert_eq!(find_eq_or_low(rest), rest.iter().position(|&b| b == b'=' || b < b'!'), "{from}");
        }
    }

    #[test]
    fn the_verb_list_reservation_is_bounded() {
        assert_eq!(verbs_estimate(0), 4);
        assert_eq!(verbs_estimate(128 * 10), 10);
        assert_eq!(verbs_estimate(usize::MAX), 1024);
    }
}
