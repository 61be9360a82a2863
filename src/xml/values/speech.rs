//! Speech: the `<Speak>` `Voice`, the `Language` tag, and checked SSML values (`SsmlValue`).

use std::borrow::Cow;

use super::{FromXml, Source, Text, ToXml, ValueError};

/// A `<Speak>` voice: `WOMAN`, `MAN` or an Amazon Polly voice `Polly.<Name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Voice {
    /// `WOMAN`.
    Woman,
    /// `MAN`.
    Man,
    /// `Polly.<Name>`; holds the whole spelling, e.g. `Polly.Joey`.
    Polly(Text),
}

impl FromXml for Voice {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        Self::from_xml_in(s, &Source::default())
    }

    fn from_xml_in(s: &str, src: &Source) -> Result<Self, ValueError> {
        match s {
            "WOMAN" => Ok(Voice::Woman),
            "MAN" => Ok(Voice::Man),
            _ => match s.strip_prefix("Polly.") {
                Some(name)
                    if !name.is_empty()
                        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
                {
                    Ok(Voice::Polly(src.text(s)))
                }
                _ => Err(ValueError::Bad("expected WOMAN, MAN or Polly.<Name>")),
            },
        }
    }
}

impl ToXml for Voice {
    fn to_xml(&self) -> Cow<'_, str> {
        match self {
            Voice::Woman => Cow::Borrowed("WOMAN"),
            Voice::Man => Cow::Borrowed("MAN"),
            Voice::Polly(s) => Cow::Borrowed(s),
        }
    }
}

/// A language tag such as `en-US` (BCP 47 shape: letters, digits and dashes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Language(Text);

impl Language {
    /// `en-US`, Plivo's default (no allocation).
    pub fn en_us() -> Self {
        Language(Text::literal(arcstr::literal!("en-US")))
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromXml for Language {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        Self::from_xml_in(s, &Source::default())
    }

    fn from_xml_in(s: &str, src: &Source) -> Result<Self, ValueError> {
        if is_language_tag(s) {
            Ok(Language(src.text(s)))
        } else {
            Err(ValueError::Bad("expected a language tag such as en-US"))
        }
    }
}

/// Whether `s` is parts split by `-` or `_`: the first of 2 or 3 ASCII letters, each other of
/// 1 to 8 ASCII letters or digits. One pass over the bytes.
fn is_language_tag(s: &str) -> bool {
    let part_ok = |first: bool, len: usize| if first { (2..=3).contains(&len) } else { (1..=8).contains(&len) };
    let (mut first, mut len) = (true, 0);
    for b in s.bytes() {
        if b == b'-' || b == b'_' {
            if !part_ok(first, len) {
                return false;
            }
            (first, len) = (false, 0);
        } else if b.is_ascii_alphabetic() || (!first && b.is_ascii_digit()) {
            len += 1;
        } else {
            return false;
        }
    }
    part_ok(first, len)
}

impl ToXml for Language {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.0)
    }
}

/// A free SSML value checked against a word list or a numeric form (`+2dB`, `80%`, `500ms`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SsmlValue(Text);

impl SsmlValue {
    /// The value as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `s` checked against `words` (kept in their listed spelling) and numbers with `units`;
    /// text as written is a view of `src`.
    fn check(
        s: &str,
        src: &Source,
        words: &[&str],
        units: &[&str],
        signed: bool,
        why: &'static str,
    ) -> Result<Self, ValueError> {
        if let Some(w) = words.iter().find(|w| w.eq_ignore_ascii_case(s)) {
            return Ok(SsmlValue(if *w == s { src.text(s) } else { Text::new(w) }));
        }
        for unit in units {
            if let Some(num) = s.strip_suffix(unit) {
                let num = if signed { num.strip_prefix(['+', '-']).unwrap_or(num) } else { num };
                let mut halves = num.splitn(2, '.');
                let int_ok = halves.next().is_some_and(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()));
                let frac_ok = halves.next().is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
                if int_ok && frac_ok {
                    return Ok(SsmlValue(src.text(s)));
                }
            }
        }
        Err(ValueError::Bad(why))
    }

    /// `<break time>`: `500ms`, `2s`.
    pub fn time(s: &str) -> Result<Option<Self>, ValueError> {
        Self::time_in(s, &Source::default())
    }

    /// [`SsmlValue::time`] of document text (a view of `src`).
    pub fn time_in(s: &str, src: &Source) -> Result<Option<Self>, ValueError> {
        Self::check(s, src, &[], &["ms", "s"], false, "expected a duration such as 500ms or 2s").map(Some)
    }

    /// `<prosody volume>`: silent … x-loud or ±NdB.
    pub fn volume(s: &str) -> Result<Option<Self>, ValueError> {
        Self::volume_in(s, &Source::default())
    }

    /// [`SsmlValue::volume`] of document text (a view of `src`).
    pub fn volume_in(s: &str, src: &Source) -> Result<Option<Self>, ValueError> {
        const W: &[&str] = &["default", "silent", "x-soft", "soft", "medium", "loud", "x-loud"];
        Self::check(s, src, W, &["dB"], true, "expected silent, x-soft, soft, medium, loud, x-loud or ±NdB").map(Some)
    }

    /// `<prosody rate>`: x-slow … x-fast or N%.
    pub fn rate(s: &str) -> Result<Option<Self>, ValueError> {
        Self::rate_in(s, &Source::default())
    }

    /// [`SsmlValue::rate`] of document text (a view of `src`).
    pub fn rate_in(s: &str, src: &Source) -> Result<Option<Self>, ValueError> {
        const W: &[&str] = &["default", "x-slow", "slow", "medium", "fast", "x-fast"];
        Self::check(s, src, W, &["%"], false, "expected x-slow, slow, medium, fast, x-fast or N%").map(Some)
    }

    /// `<prosody pitch>`: x-low … x-high or ±N%.
    pub fn pitch(s: &str) -> Result<Option<Self>, ValueError> {
        Self::pitch_in(s, &Source::default())
    }

    /// [`SsmlValue::pitch`] of document text (a view of `src`).
    pub fn pitch_in(s: &str, src: &Source) -> Result<Option<Self>, ValueError> {
        const W: &[&str] = &["default", "x-low", "low", "medium", "high", "x-high"];
        Self::check(s, src, W, &["%"], true, "expected x-low, low, medium, high, x-high or ±N%").map(Some)
    }
}

/// Accepts any spelling: the attribute parsers above check the grammar of each use.
impl FromXml for SsmlValue {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        Self::from_xml_in(s, &Source::default())
    }

    fn from_xml_in(s: &str, src: &Source) -> Result<Self, ValueError> {
        Ok(SsmlValue(src.text(s)))
    }
}

impl ToXml for SsmlValue {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.0)
    }
}
