//! Located diagnostics: stable codes, severities, spans and line:column positions.
//!
//! Every problem the parser finds becomes a [`Diagnostic`]. Codes are stable: once
//! published a code keeps its meaning, so tools and tests can match on them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The document is still usable; Plivo would accept it, but it is probably a mistake.
    Warning,
    /// The document is rejected: Plivo would fail the call (hangup cause 8011 and friends).
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A half-open byte range `start..end` into the parsed source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub const fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// An empty span at `at`.
    pub const fn at(at: usize) -> Self {
        Span { start: at, end: at }
    }
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $sev:ident; )*) => {
        /// The stable code of a diagnostic. `E…` codes are errors, `W…` warnings.
        ///
        /// The code table is part of the public contract: see README "Diagnostics".
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The code as printed, e.g. `"E0204"`.
            pub const fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $code, )* }
            }

            /// The severity every diagnostic with this code has.
            pub const fn severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$sev, )* }
            }

            /// Looks a code up by its printed form.
            pub fn from_code(s: &str) -> Option<Code> {
                match s { $( $code => Some(Code::$variant), )* _ => None }
            }
        }
    };
}

codes! {
    // E01xx: the bytes are not a well-formed, acceptable XML document.
    /// The XML is not well-formed (unclosed tag, bad token, mismatched end tag, bare `&`, …).
    Malformed = "E0101", Error;
    /// A `<!DOCTYPE>` declaration: rejected, entities are never expanded.
    DocType = "E0102", Error;
    /// The document is larger than the configured limit (Plivo: 100 KB).
    TooLarge = "E0103", Error;
    /// Elements are nested deeper than the configured limit.
    TooDeep = "E0104", Error;
    /// An entity reference other than the five predefined ones or a valid character reference.
    BadReference = "E0105", Error;
    /// The document has no root element.
    NoRoot = "E0106", Error;
    /// Content after the root element (a second root, or text).
    AfterRoot = "E0107", Error;
    /// An XML declaration that is not at the very start of the document.
    MisplacedDecl = "E0108", Error;

    // E02xx: the structure is not a Plivo document.
    /// The root element is not `<Response>`.
    RootNotResponse = "E0201", Error;
    /// `<Response>` carries an attribute; it has none.
    ResponseAttribute = "E0202", Error;
    /// Non-whitespace text directly inside `<Response>`.
    TextInResponse = "E0203", Error;
    /// An element Plivo does not know (names are case-sensitive).
    UnknownElement = "E0204", Error;
    /// A known element in a parent that may not contain it (nesting matrix).
    NotAllowedHere = "E0205", Error;
    /// An element whose body is required is empty (room name, URL, number, digits, …).
    MissingBody = "E0206", Error;
    /// A required attribute is absent or empty.
    MissingAttribute = "E0207", Error;
    /// A required child is absent (`<Dial>` needs a `<Number>` or `<User>`).
    MissingChild = "E0208", Error;

    // E03xx: attribute and body values.
    /// The value is not a decimal integer.
    NotInteger = "E0301", Error;
    /// The integer is outside its documented range.
    OutOfRange = "E0302", Error;
    /// The value is not one of the documented choices.
    NotInEnum = "E0303", Error;
    /// An HTTP method other than `GET` or `POST`.
    BadMethod = "E0304", Error;
    /// Not a URL at all: another scheme than `http(s)`, no host, blanks or control characters
    /// (a relative reference is W0106); `<Stream>` needs an absolute `wss://` URL.
    BadUrl = "E0305", Error;
    /// The same attribute twice on one element.
    DuplicateAttribute = "E0306", Error;
    /// Not a boolean (`true` or `false`, any case).
    NotBoolean = "E0307", Error;
    /// A value that breaks its own grammar (digit set, sound, SSML time, header list, …).
    BadValue = "E0308", Error;
    /// Two attributes that contradict each other.
    Conflict = "E0309", Error;

    // W01xx: warnings.
    /// An attribute the element does not document; it is ignored.
    UnknownAttribute = "W0101", Warning;
    /// Text inside an element that ignores its body.
    IgnoredText = "W0102", Warning;
    /// An optional attribute with an empty value: Plivo treats it as absent (default applies).
    /// `none`, the PHP and Ruby SDKs' spelling of no value (PHP `false`, `null`, `0`; Ruby
    /// `nil`), is the same for a number and reads as false for a boolean.
    EmptyValue = "W0103", Warning;
    /// Whitespace before the XML declaration: Plivo trims it.
    SpaceBeforeDecl = "W0104", Warning;
    /// Separators (commas, spaces) in a key set such as `validDigits="1,2,3"`: they are not keys.
    KeySeparators = "W0105", Warning;
    /// A relative URL: resolved against the document's own URL at run time (7022 without one).
    RelativeUrl = "W0106", Warning;
    /// `beep` on `<Wait>` without `silence="false"`: Plivo ignores it.
    IgnoredBeep = "W0107", Warning;
    /// `<GetInput>` without `inputType`: both digits and speech are collected (`dtmf speech`).
    DefaultInputType = "W0108", Warning;
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Code::from_code(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown diagnostic code `{s}`")))
    }
}

/// One problem found in a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Stable code, e.g. `E0204`.
    pub code: Code,
    /// Error or warning (always `code.severity()`).
    pub severity: Severity,
    /// Human-readable message.
    pub message: String,
    /// Byte range in the source.
    pub span: Span,
    /// 1-based line of `span.start`.
    pub line: u32,
    /// 1-based column of `span.start`, counted in characters.
    pub column: u32,
}

impl Diagnostic {
    /// Whether this diagnostic is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}[{}]: {}", self.line, self.column, self.severity, self.code, self.message)
    }
}

/// Maps byte offsets to 1-based line and column numbers.
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    src: &'a str,
    /// Byte offset of the start of each line.
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    /// Indexes `src`.
    pub fn new(src: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { src, starts }
    }

    /// 1-based (line, column) of byte `offset`; the column counts characters.
    /// Offsets past the end, or inside a character, are clamped.
    pub fn line_col(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.src.len());
        let line = self.starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = self.starts.get(line).copied().unwrap_or(0);
        let col = self
            .src
            .get(start..)
            .map(|rest| rest.char_indices().take_while(|&(i, _)| i < offset - start).count())
            .unwrap_or(0);
        (to_u32(line + 1), to_u32(col + 1))
    }

    /// (line, column) of every offset of `sorted` (ascending), in one pass over the source:
    /// O(source length + offsets) instead of O(line length) per offset.
    pub fn line_cols_sorted(&self, sorted: &[usize]) -> Vec<(u32, u32)> {
        let mut out = Vec::with_capacity(sorted.len());
        // The line of the last offset, the character boundary reached on it and the number
        // of characters before that boundary.
        let (mut line, mut at, mut col) = (usize::MAX, 0usize, 0usize);
        for &offset in sorted {
            let offset = offset.min(self.src.len());
            let l = self.starts.partition_point(|&s| s <= offset).saturating_sub(1);
            if l != line || offset < at {
                (line, at, col) = (l, self.starts.get(l).copied().unwrap_or(0), 0);
            }
            // Count the characters that start before `offset`, as `line_col` does.
            let rest = self.src.get(at..).unwrap_or("");
            let mut next = at;
            for (i, c) in rest.char_indices() {
                if at + i >= offset {
                    break;
                }
                col += 1;
                next = at + i + c.len_utf8();
            }
            at = next;
            out.push((to_u32(l + 1), to_u32(col + 1)));
        }
        out
    }

    /// The text of 1-based `line`, without its line break.
    pub fn line_text(&self, line: u32) -> &'a str {
        let i = (line as usize).saturating_sub(1);
        let start = self.starts.get(i).copied().unwrap_or(self.src.len());
        let end = self.starts.get(i + 1).map_or(self.src.len(), |e| e - 1);
        self.src.get(start..end.max(start)).unwrap_or("").trim_end_matches('\r')
    }
}

/// The most characters of a source line [`render`] prints: a window around the span, with `…`
/// where the line was cut. A hostile one-line document therefore never gets reprinted.
pub const RENDER_WINDOW: usize = 120;

/// Characters of context kept before the span inside the window.
const WINDOW_BEFORE: usize = 40;

/// Renders `diag` like rustc: `FILE:LINE:COL: error[CODE]: message`, then the source line
/// with a caret under the span. `src` must be the text the diagnostic was found in.
///
/// The line is cut to a window of at most [`RENDER_WINDOW`] characters around the column
/// (`…` marks a cut), so the output is bounded whatever the line length. Positions are taken
/// from `diag.line` and `diag.column` (characters), so the text may be a decoded copy of the
/// original bytes (see [`crate::xml::source_text`]).
pub fn render(file: &str, src: &str, diag: &Diagnostic) -> String {
    let idx = LineIndex::new(src);
    render_with(file, &idx, diag)
}

/// [`render`] with a prebuilt [`LineIndex`], for many diagnostics of one source.
/// Costs O(column + window) per diagnostic.
pub fn render_with(file: &str, idx: &LineIndex<'_>, diag: &Diagnostic) -> String {
    use std::fmt::Write;
    let line_text = idx.line_text(diag.line);
    let num = diag.line.to_string();
    let pad = " ".repeat(num.len());
    let mut out = String::new();
    let _ = writeln!(out, "{file}:{}:{}: {}[{}]: {}", diag.line, diag.column, diag.severity, diag.code, diag.message);
    let _ = writeln!(out, "{pad} |");
    let col = diag.column.saturating_sub(1) as usize;
    // The window: up to WINDOW_BEFORE characters before the column, RENDER_WINDOW in all.
    let first = col.saturating_sub(WINDOW_BEFORE);
    let mut chars = line_text.char_indices().skip(first);
    let start_byte = chars.next().map_or(line_text.len(), |(i, _)| i);
    let rest = line_text.get(start_byte..).unwrap_or("");
    let end_byte = rest.char_indices().nth(RENDER_WINDOW).map_or(rest.len(), |(i, _)| i);
    let shown = rest.get(..end_byte).unwrap_or("");
    let cut_left = first > 0 && start_byte < line_text.len();
    let cut_right = end_byte < rest.len();
    let left = if cut_left { "…" } else { "" };
    let right = if cut_right { "…" } else { "" };
    let _ = writeln!(out, "{num} | {left}{shown}{right}");
    // Keep tabs so the caret lines up under tab-indented source.
    let lead: String = std::iter::once(if cut_left { " " } else { "" })
        .chain(shown.chars().take(col.saturating_sub(first)).map(|c| if c == '\t' { "\t" } else { " " }))
        .collect();
    let width = span_width(idx, diag);
    let available = shown.chars().count().saturating_sub(col.saturating_sub(first));
    let width = width.min(available).max(1);
    let _ = writeln!(out, "{pad} | {lead}{}", "^".repeat(width));
    out
}

/// Characters of `diag.span` on its first line (at most [`RENDER_WINDOW`]); from the source
/// when the span is valid for it, else 1.
fn span_width(idx: &LineIndex<'_>, diag: &Diagnostic) -> usize {
    let Some(text) = idx.src.get(diag.span.start..diag.span.end.max(diag.span.start)) else {
        return 1;
    };
    text.chars().take(RENDER_WINDOW).take_while(|&c| c != '\n' && c != '\r').count()
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for &c in Code::ALL {
            assert!(seen.insert(c.as_str()), "duplicate {c}");
            assert_eq!(Code::from_code(c.as_str()), Some(c));
            let warn = c.as_str().starts_with('W');
            assert_eq!(c.severity() == Severity::Warning, warn, "{c}");
        }
    }

    #[test]
    fn render_points_at_the_span() {
        let src = "<Response>\n\t<Play>nope</Play>\n</Response>";
        let d = Diagnostic {
            code: Code::BadUrl,
            severity: Severity::Error,
            message: "bad".into(),
            span: Span::new(18, 22),
            line: 2,
            column: 8,
        };
        let out = render("f.xml", src, &d);
        assert_eq!(out, "f.xml:2:8: error[E0305]: bad\n  |\n2 | \t<Play>nope</Play>\n  | \t      ^^^^\n");
    }

    fn diag_at(src: &str, start: usize, end: usize) -> Diagnostic {
        let (line, column) = LineIndex::new(src).line_col(start);
        Diagnostic {
            code: Code::UnknownElement,
            severity: Severity::Error,
            message: "m".into(),
            span: Span::new(start, end),
            line,
            column,
        }
    }

    #[test]
    fn render_cuts_a_long_line_to_a_window() {
        let src = format!("<Response>{}<Foo/>{}</Response>", "x".repeat(5000), "y".repeat(5000));
        let start = src.find("<Foo").unwrap_or(0) + 1;
        let out = render("f.xml", &src, &diag_at(&src, start, start + 3));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        let text = lines[2].trim_start_matches("1 | ");
        assert!(text.starts_with('…') && text.ends_with('…'), "{text}");
        // The window plus the two markers.
        assert_eq!(text.chars().count(), RENDER_WINDOW + 2, "{text}");
        // The caret is under `Foo`: 40 characters of context after the `…`.
        let caret = lines[3].trim_start_matches("  | ");
        assert_eq!(caret, format!("{}^^^", " ".repeat(41)));
        assert_eq!(text.chars().skip(41).take(3).collect::<String>(), "Foo");
        assert!(out.len() < 400, "{} bytes", out.len());
    }

    #[test]
    fn render_keeps_a_short_line_whole() {
        let src = "<Response><Foo/></Response>";
        let out = render("f.xml", src, &diag_at(src, 11, 14));
        assert_eq!(out, "f.xml:1:12: error[E0204]: m\n  |\n1 | <Response><Foo/></Response>\n  |            ^^^\n");
    }

    #[test]
    fn sorted_columns_match_one_by_one() {
        let src = "ab\nçd\r\nxéz\n\néé";
        let idx = LineIndex::new(src);
        let offsets: Vec<usize> = (0..=src.len() + 2).collect();
        let one: Vec<(u32, u32)> = offsets.iter().map(|&o| idx.line_col(o)).collect();
        assert_eq!(idx.line_cols_sorted(&offsets), one);
        let some = [0, 0, 4, 4, 5, 9, 12, 12];
        let one: Vec<(u32, u32)> = some.iter().map(|&o| idx.line_col(o)).collect();
        assert_eq!(idx.line_cols_sorted(&some), one);
    }

    #[test]
    fn line_col_counts_characters() {
        let idx = LineIndex::new("ab\nçd\r\nx");
        assert_eq!(idx.line_col(0), (1, 1));
        assert_eq!(idx.line_col(2), (1, 3));
        assert_eq!(idx.line_col(3), (2, 1));
        // 'ç' is two bytes; 'd' is the second character.
        assert_eq!(idx.line_col(5), (2, 2));
        assert_eq!(idx.line_col(8), (3, 1));
        assert_eq!(idx.line_col(999), (3, 2));
        assert_eq!(idx.line_text(2), "çd");
        assert_eq!(idx.line_text(3), "x");
    }
}
