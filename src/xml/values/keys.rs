//! DTMF keys: `KeySet`, `FinishOnKey`, `Key`, `Tones` to send and `DigitPatterns` to match.

use std::borrow::Cow;

use super::{FromXml, Source, Text, ToXml, ValueError};

const KEYS: &str = "1234567890*#";

/// A set of DTMF keys from `1234567890*#`, written in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySet(u16);

impl KeySet {
    /// All twelve keys.
    pub const ALL: KeySet = KeySet(0x0fff);

    fn bit(key: char) -> Option<u16> {
        KEYS.chars().position(|k| k == key).map(|i| 1 << i)
    }

    /// Whether `key` is in the set.
    pub fn contains(self, key: char) -> bool {
        KeySet::bit(key).is_some_and(|b| self.0 & b != 0)
    }

    /// How many keys are in the set.
    pub fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl KeySet {
    /// Whether `s` holds separators (commas, blanks) between keys, e.g. `1,2,3` or `1 2 3`:
    /// Plivo ignores them, so does [`KeySet::from_xml`]; the parser warns (`W0105`).
    pub fn has_separators(s: &str) -> bool {
        s.chars().any(is_separator)
    }
}

fn is_separator(c: char) -> bool {
    matches!(c, ',' | ' ' | '\t' | '\n' | '\r' | ';')
}

impl FromXml for KeySet {
    /// The keys of `s`; separators (`,`, `;`, blanks) between them are skipped.
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        let s: Cow<'_, str> =
            if KeySet::has_separators(s) { Cow::Owned(s.replace(is_separator, "")) } else { Cow::Borrowed(s) };
        let mut bits = 0;
        for c in s.chars() {
            bits |= KeySet::bit(c).ok_or(ValueError::Bad("keys must be from 1234567890*#"))?;
        }
        if bits == 0 {
            return Err(ValueError::Bad("at least one key from 1234567890*# is needed"));
        }
        Ok(KeySet(bits))
    }
}

impl ToXml for KeySet {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Owned(KEYS.chars().filter(|&k| self.contains(k)).collect())
    }
}

/// The key(s) that end input; `""` and `none` both disable it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FinishOnKey {
    /// These keys end input.
    Keys(KeySet),
    /// `""`: no key ends input.
    Empty,
    /// `none`: no key ends input.
    None,
}

impl Default for FinishOnKey {
    fn default() -> Self {
        FinishOnKey::HASH
    }
}

impl FinishOnKey {
    /// `#`, the default of GetDigits, GetInput and Record.
    pub const HASH: FinishOnKey = FinishOnKey::Keys(KeySet(1 << 11));

    /// Whether `key` ends input.
    pub fn ends_on(self, key: char) -> bool {
        matches!(self, FinishOnKey::Keys(k) if k.contains(key))
    }

    /// Parses a value that names at most one key (GetDigits, GetInput).
    pub fn one(s: &str) -> Result<Self, ValueError> {
        match FinishOnKey::from_xml(s)? {
            FinishOnKey::Keys(k) if k.len() > 1 => {
                Err(ValueError::Bad("expected a single key, `none` or an empty value"))
            }
            f => Ok(f),
        }
    }
}

impl FromXml for FinishOnKey {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        match s {
            "" => Ok(FinishOnKey::Empty),
            _ if s.eq_ignore_ascii_case("none") => Ok(FinishOnKey::None),
            _ => KeySet::from_xml(s).map(FinishOnKey::Keys),
        }
    }
}

impl ToXml for FinishOnKey {
    fn to_xml(&self) -> Cow<'_, str> {
        match self {
            FinishOnKey::Keys(k) => k.to_xml(),
            FinishOnKey::Empty => Cow::Borrowed(""),
            FinishOnKey::None => Cow::Borrowed("none"),
        }
    }
}

/// One DTMF key: `0`-`9`, `*` or `#`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key(char);

impl Key {
    /// The key's character.
    pub fn as_char(self) -> char {
        self.0
    }
}

impl FromXml for Key {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        let mut it = s.chars();
        match (it.next(), it.next()) {
            (Some(c), None) if KEYS.contains(c) => Ok(Key(c)),
            _ => Err(ValueError::Bad("expected one key from 1234567890*#")),
        }
    }
}

impl ToXml for Key {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Owned(self.0.to_string())
    }
}

/// Digits to send as tones: `0-9`, `*`, `#`, `A-D`, and `w`/`W` pauses (0.5 s / 1 s).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tones(Text);

impl Tones {
    /// The tone string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromXml for Tones {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        Self::from_xml_in(s, &Source::default())
    }

    fn from_xml_in(s: &str, src: &Source) -> Result<Self, ValueError> {
        if s.is_empty() {
            return Err(ValueError::Bad("expected at least one digit"));
        }
        if s.chars().all(|c| KEYS.contains(c) || matches!(c, 'w' | 'W' | 'A'..='D')) {
            Ok(Tones(src.text(s)))
        } else {
            Err(ValueError::Bad("digits must be from 0-9, *, #, A-D, w and W"))
        }
    }
}

impl ToXml for Tones {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.0)
    }
}

/// A comma list of DTMF patterns (`digitsMatch`), e.g. `1,23,#9`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DigitPatterns(Vec<Text>);

impl DigitPatterns {
    /// The patterns in document order.
    pub fn patterns(&self) -> &[Text] {
        &self.0
    }
}

impl FromXml for DigitPatterns {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        Self::from_xml_in(s, &Source::default())
    }

    fn from_xml_in(s: &str, src: &Source) -> Result<Self, ValueError> {
        let mut out = Vec::new();
        for p in s.split(',') {
            let p = p.trim();
            if p.is_empty() || !p.chars().all(|c| KEYS.contains(c)) {
                return Err(ValueError::Bad("expected a comma list of patterns of 0-9, * and #"));
            }
            out.push(src.text(p));
        }
        Ok(DigitPatterns(out))
    }
}

impl ToXml for DigitPatterns {
    fn to_xml(&self) -> Cow<'_, str> {
        let mut out = String::new();
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(p);
        }
        Cow::Owned(out)
    }
}
