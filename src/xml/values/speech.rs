//! Speech: the `<Speak>` `Voice`, the `Language` tag, and checked SSML values (`SsmlValue`).

use std::borrow::Cow;

use super::{FromXml, ToXml, ValueError};

/// A `<Speak>` voice: `WOMAN`, `MAN` or an Amazon Polly voice `Polly.<Name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Voice {
    /// `WOMAN`.
    Woman,
    /// `MAN`.
    Man,
    /// `Polly.<Name>`; holds the whole spelling, e.g. `Polly.Joey`.
    Polly(String),
}

impl FromXml for Voice {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        match s {
            "WOMAN" => Ok(Voice::Woman),
            "MAN" => Ok(Voice::Man),
            _ => match s.strip_prefix("Polly.") {
                Some(name)
                    if !name.is_empty()
                        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
                {
                    Ok(Voice::Polly(s.to_owned()))
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
pub struct Language(Cow<'static, str>);

impl Language {
    /// `en-US`, Plivo's default (no allocation).
    pub fn en_us() -> Self {
        Language(Cow::Borrowed("en-US"))
    }

    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromXml for Language {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        let mut parts = s.split(['-', '_']);
        let first = parts.next().unwrap_or("");
        let ok_first = (2..=3).contains(&first.len()) && first.bytes().all(|b| b.is_ascii_alphabetic());
        if ok_first && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric())) {
            Ok(Language(Cow::Owned(s.to_owned())))
        } else {
            Err(ValueError::Bad("expected a language tag such as en-US"))
        }
    }
}

impl ToXml for Language {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.0)
    }
}

/// A free SSML value checked against a word list or a numeric form (`+2dB`, `80%`, `500ms`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SsmlValue(String);

impl SsmlValue {
    /// The value as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn check(s: &str, words: &[&str], units: &[&str], signed: bool, why: &'static str) -> Result<Self, ValueError> {
        if let Some(w) = words.iter().find(|w| w.eq_ignore_ascii_case(s)) {
            return Ok(SsmlValue((*w).to_owned()));
        }
        for unit in units {
            if let Some(num) = s.strip_suffix(unit) {
                let num = if signed { num.strip_prefix(['+', '-']).unwrap_or(num) } else { num };
                let mut halves = num.splitn(2, '.');
                let int_ok = halves.next().is_some_and(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()));
                let frac_ok = halves.next().is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
                if int_ok && frac_ok {
                    return Ok(SsmlValue(s.to_owned()));
                }
            }
        }
        Err(ValueError::Bad(why))
    }

    /// `<break time>`: `500ms`, `2s`.
    pub fn time(s: &str) -> Result<Option<Self>, ValueError> {
        Self::check(s, &[], &["ms", "s"], false, "expected a duration such as 500ms or 2s").map(Some)
    }

    /// `<prosody volume>`: silent … x-loud or ±NdB.
    pub fn volume(s: &str) -> Result<Option<Self>, ValueError> {
        const W: &[&str] = &["default", "silent", "x-soft", "soft", "medium", "loud", "x-loud"];
        Self::check(s, W, &["dB"], true, "expected silent, x-soft, soft, medium, loud, x-loud or ±NdB").map(Some)
    }

    /// `<prosody rate>`: x-slow … x-fast or N%.
    pub fn rate(s: &str) -> Result<Option<Self>, ValueError> {
        const W: &[&str] = &["default", "x-slow", "slow", "medium", "fast", "x-fast"];
        Self::check(s, W, &["%"], false, "expected x-slow, slow, medium, fast, x-fast or N%").map(Some)
    }

    /// `<prosody pitch>`: x-low … x-high or ±N%.
    pub fn pitch(s: &str) -> Result<Option<Self>, ValueError> {
        const W: &[&str] = &["default", "x-low", "low", "medium", "high", "x-high"];
        Self::check(s, W, &["%"], true, "expected x-low, low, medium, high, x-high or ±N%").map(Some)
    }
}

/// Accepts any spelling: the attribute parsers above check the grammar of each use.
impl FromXml for SsmlValue {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        Ok(SsmlValue(s.to_owned()))
    }
}

impl ToXml for SsmlValue {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.0)
    }
}
