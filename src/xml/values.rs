//! Typed attribute and body values: how each is read from XML text and written back.
//!
//! Every type here keeps the invariant that `T::from_xml(&t.to_xml()) == Ok(t)`, which is what
//! makes the writer's round trip hold. In JSON they appear in their XML spelling.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::diagnostic::Code;

/// Why an attribute or body value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Not a decimal integer.
    #[error("expected an integer")]
    NotInteger,
    /// An integer outside `min..=max`.
    #[error("expected an integer {}", range_text(*.min, *.max))]
    OutOfRange {
        /// Smallest allowed value.
        min: u32,
        /// Largest allowed value, if bounded.
        max: Option<u32>,
    },
    /// Not one of the listed spellings.
    #[error("expected one of: {}", .0.join(", "))]
    NotInEnum(&'static [&'static str]),
    /// An HTTP method other than GET or POST.
    #[error("expected GET or POST")]
    BadMethod,
    /// Not an absolute URL with one of the given schemes.
    #[error("expected an absolute {0} URL")]
    BadUrl(&'static str),
    /// Not `true` or `false`.
    #[error("expected true or false")]
    NotBoolean,
    /// Breaks the value's own grammar; the text says how.
    #[error("{0}")]
    Bad(&'static str),
}

fn range_text(min: u32, max: Option<u32>) -> String {
    match max {
        Some(max) => format!("from {min} to {max}"),
        None => format!("of at least {min}"),
    }
}

impl ValueError {
    /// The diagnostic code this refusal is reported with.
    pub fn code(&self) -> Code {
        match self {
            ValueError::NotInteger => Code::NotInteger,
            ValueError::OutOfRange { .. } => Code::OutOfRange,
            ValueError::NotInEnum(_) => Code::NotInEnum,
            ValueError::BadMethod => Code::BadMethod,
            ValueError::BadUrl(_) => Code::BadUrl,
            ValueError::NotBoolean => Code::NotBoolean,
            ValueError::Bad(_) => Code::BadValue,
        }
    }
}

/// A value that can be read from its XML spelling.
pub trait FromXml: Sized {
    /// Parses the (already unescaped) attribute or body text.
    fn from_xml(s: &str) -> Result<Self, ValueError>;
}

/// A value that can be written in its XML spelling (unescaped).
pub trait ToXml {
    /// The XML spelling.
    fn to_xml(&self) -> Cow<'_, str>;
}

/// What a parsed value tells the reader beyond its value: a warning code for something
/// Plivo tolerates (a relative URL). Every attribute value type implements it; the parser
/// reports the code at the value.
pub trait Noted {
    /// The warning this value deserves, if any.
    fn note(&self) -> Option<Code> {
        None
    }
}

impl<T: Noted> Noted for Option<T> {
    fn note(&self) -> Option<Code> {
        self.as_ref().and_then(Noted::note)
    }
}

impl Noted for Url {
    fn note(&self) -> Option<Code> {
        self.is_relative().then_some(Code::RelativeUrl)
    }
}

impl Noted for Sound {
    fn note(&self) -> Option<Code> {
        match self {
            Sound::Url(u) => u.note(),
            _ => None,
        }
    }
}

impl Noted for DialMusic {
    fn note(&self) -> Option<Code> {
        match self {
            DialMusic::Url(u) => u.note(),
            _ => None,
        }
    }
}

macro_rules! not_noted {
    ($($t:ty),* $(,)?) => { $( impl Noted for $t {} )* };
}

not_noted!(
    u32,
    bool,
    String,
    Method,
    WsUrl,
    KeySet,
    FinishOnKey,
    Key,
    Tones,
    DigitPatterns,
    Headers,
    Voice,
    Language,
    EndTimeout,
    WaitBeep,
    PhoneNumber,
    SipUri,
    MpcEvents,
    SsmlValue,
);

/// Parses an optional value; used for attributes without a default.
pub fn opt<T: FromXml>(s: &str) -> Result<Option<T>, ValueError> {
    T::from_xml(s).map(Some)
}

/// Parses a decimal integer in `min..=max`.
pub fn int_in(s: &str, min: u32, max: Option<u32>) -> Result<u32, ValueError> {
    let t = s.trim();
    let digits = t.strip_prefix('+').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        // A negative number is still an integer: report it as out of range.
        let neg = t.strip_prefix('-').is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
        return Err(if neg { ValueError::OutOfRange { min, max } } else { ValueError::NotInteger });
    }
    let n: u32 = digits.parse().map_err(|_| ValueError::OutOfRange { min, max })?;
    if n < min || max.is_some_and(|m| n > m) {
        return Err(ValueError::OutOfRange { min, max });
    }
    Ok(n)
}

/// Parses an optional integer in `min..=max`.
pub fn opt_int_in(s: &str, min: u32, max: Option<u32>) -> Result<Option<u32>, ValueError> {
    int_in(s, min, max).map(Some)
}

impl FromXml for bool {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if t.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err(ValueError::NotBoolean)
        }
    }
}

impl ToXml for bool {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Borrowed(if *self { "true" } else { "false" })
    }
}

impl ToXml for u32 {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Owned(self.to_string())
    }
}

impl FromXml for String {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        Ok(s.to_owned())
    }
}

impl ToXml for String {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl<T: ToXml> ToXml for Option<T> {
    fn to_xml(&self) -> Cow<'_, str> {
        match self {
            Some(v) => v.to_xml(),
            None => Cow::Borrowed(""),
        }
    }
}

/// Implements serde for a value type through its XML spelling.
macro_rules! serde_as_xml {
    ($($t:ty),* $(,)?) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_xml())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = Cow::<str>::deserialize(d)?;
                <$t>::from_xml(&s).map_err(|e| serde::de::Error::custom(format!("`{s}`: {e}")))
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_xml())
            }
        }
    )*};
}

/// A fieldless enum spelled by fixed strings. Parsing ignores ASCII case (`Speech`, `MP3`),
/// as Plivo does and as booleans do; writing uses the documented spelling.
macro_rules! spelled_enum {
    ($(#[$m:meta])* $name:ident { $( $(#[$vm:meta])* $v:ident = $s:literal ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $( $(#[$vm])* #[doc = concat!("`", $s, "`")] $v ),* }

        impl $name {
            /// Every spelling, in declaration order.
            pub const SPELLINGS: &'static [&'static str] = &[$($s),*];
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v),*];
        }

        impl FromXml for $name {
            fn from_xml(s: &str) -> Result<Self, ValueError> {
                $( if s.eq_ignore_ascii_case($s) { return Ok($name::$v); } )*
                Err(ValueError::NotInEnum(Self::SPELLINGS))
            }
        }

        impl ToXml for $name {
            fn to_xml(&self) -> Cow<'_, str> {
                Cow::Borrowed(match self { $( $name::$v => $s ),* })
            }
        }

        serde_as_xml!($name);
        impl Noted for $name {}
    };
}

/// An HTTP method for a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`: parameters go in the query string.
    Get,
    /// `POST`: parameters go in a form-encoded body.
    Post,
}

impl FromXml for Method {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        match s {
            "GET" => Ok(Method::Get),
            "POST" => Ok(Method::Post),
            _ => Err(ValueError::BadMethod),
        }
    }
}

impl ToXml for Method {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Borrowed(match self {
            Method::Get => "GET",
            Method::Post => "POST",
        })
    }
}

/// A webhook or media URL: absolute `http`/`https`, or a relative reference (`next.php`,
/// `/menu/`, `?step=2`, `//host/x`) that Plivo resolves against the URL of the document it
/// came from (RFC 3986 §5; hangup cause 7022 when the document has no URL). A relative
/// reference is accepted with warning `W0106`.
///
/// Kept exactly as written; [`Url::resolve`] gives the absolute URL to request.
/// Source: plivo.com/docs/voice/xml (URL attributes); spec corrections of 2026-11-29.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Url(String);

impl Url {
    /// The URL text as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the URL is absolute (`http://…` or `https://…`).
    pub fn is_absolute(&self) -> bool {
        scheme(&self.0).is_some()
    }

    /// Whether the URL is a relative reference, to be resolved with [`Url::resolve`].
    pub fn is_relative(&self) -> bool {
        !self.is_absolute()
    }

    /// The absolute URL to request: `self` resolved against `base` (the URL the document
    /// was fetched from) by RFC 3986 reference resolution (`url::Url::join`). An absolute
    /// URL is returned as written. `None` when `base` is not an absolute http(s) URL or the
    /// result is not http(s).
    pub fn resolve(&self, base: &str) -> Option<String> {
        resolve(&self.0, base)
    }
}

/// `reference` resolved against `base` as [`Url::resolve`] does: an absolute reference (one
/// with a scheme) as written, a relative one by RFC 3986 §5.2 (`url::Url::join`) against an
/// absolute http(s) `base`; `None` when that gives no http(s) URL.
pub fn resolve(reference: &str, base: &str) -> Option<String> {
    if scheme(reference).is_some() {
        return Some(reference.to_owned());
    }
    let base = url::Url::parse(base).ok().filter(|b| matches!(b.scheme(), "http" | "https"))?;
    let joined = base.join(reference).ok()?;
    matches!(joined.scheme(), "http" | "https").then(|| joined.into())
}

/// The scheme of `s` when it starts with one (`letter *(letter / digit / + / - / .) :`).
fn scheme(s: &str) -> Option<&str> {
    let (scheme, _) = s.split_once(':')?;
    let mut bytes = scheme.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    (first_ok && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))).then_some(scheme)
}

/// Checks `s` is `scheme://host…` for one of `schemes`, with a non-empty host and no spaces.
fn check_url(s: &str, schemes: &[&str]) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    if !schemes.iter().any(|w| scheme.eq_ignore_ascii_case(w)) {
        return false;
    }
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..host_end).unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    !host.is_empty() && !host.starts_with(':') && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl FromXml for Url {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        let bad = ValueError::BadUrl("http(s)");
        if scheme(s).is_some() {
            return if check_url(s, &["http", "https"]) { Ok(Url(s.to_owned())) } else { Err(bad) };
        }
        // A relative reference: no blanks or control characters, and one the url crate can
        // resolve against an http base.
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad);
        }
        let base = url::Url::parse("http://relative.invalid/").map_err(|_| ValueError::BadUrl("http(s)"))?;
        match base.join(s) {
            Ok(_) => Ok(Url(s.to_owned())),
            Err(_) => Err(bad),
        }
    }
}

impl ToXml for Url {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.0)
    }
}

/// An absolute `wss://` (or `ws://`) URL, the body of `<Stream>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WsUrl(String);

impl WsUrl {
    /// The URL text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromXml for WsUrl {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        if check_url(s, &["wss", "ws"]) { Ok(WsUrl(s.to_owned())) } else { Err(ValueError::BadUrl("wss")) }
    }
}

impl ToXml for WsUrl {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.0)
    }
}

/// A sound played on entering or leaving a room.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Sound {
    /// `""`: no sound.
    Empty,
    /// `none`: no sound.
    None,
    /// `beep:1`: one beep.
    Beep1,
    /// `beep:2`: two beeps.
    Beep2,
    /// A URL returning XML of Play/Speak/Wait, fetched with POST.
    Url(Url),
}

impl FromXml for Sound {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        match s.to_ascii_lowercase().as_str() {
            "" => Ok(Sound::Empty),
            "none" => Ok(Sound::None),
            "beep:1" => Ok(Sound::Beep1),
            "beep:2" => Ok(Sound::Beep2),
            _ if s.contains("://") => Url::from_xml(s).map(Sound::Url),
            _ => Url::from_xml(s)
                .map(Sound::Url)
                .map_err(|_| ValueError::Bad("expected beep:1, beep:2, none, an empty value or a URL")),
        }
    }
}

impl ToXml for Sound {
    fn to_xml(&self) -> Cow<'_, str> {
        match self {
            Sound::Empty => Cow::Borrowed(""),
            Sound::None => Cow::Borrowed("none"),
            Sound::Beep1 => Cow::Borrowed("beep:1"),
            Sound::Beep2 => Cow::Borrowed("beep:2"),
            Sound::Url(u) => u.to_xml(),
        }
    }
}

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
pub struct Tones(String);

impl Tones {
    /// The tone string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromXml for Tones {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        if s.is_empty() {
            return Err(ValueError::Bad("expected at least one digit"));
        }
        if s.chars().all(|c| KEYS.contains(c) || matches!(c, 'w' | 'W' | 'A'..='D')) {
            Ok(Tones(s.to_owned()))
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
pub struct DigitPatterns(Vec<String>);

impl DigitPatterns {
    /// The patterns in document order.
    pub fn patterns(&self) -> &[String] {
        &self.0
    }
}

impl FromXml for DigitPatterns {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        let mut out = Vec::new();
        for p in s.split(',') {
            let p = p.trim();
            if p.is_empty() || !p.chars().all(|c| KEYS.contains(c)) {
                return Err(ValueError::Bad("expected a comma list of patterns of 0-9, * and #"));
            }
            out.push(p.to_owned());
        }
        Ok(DigitPatterns(out))
    }
}

impl ToXml for DigitPatterns {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Owned(self.0.join(","))
    }
}

/// A `k=v,k2=v2` list of alphanumeric names and values (`sipHeaders`, `extraHeaders`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// The pairs in document order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

impl FromXml for Headers {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        const MSG: &str = "expected a comma list of name=value pairs of letters and digits";
        let ok = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let mut out = Vec::new();
        for pair in s.split(',') {
            let (k, v) = pair.split_once('=').ok_or(ValueError::Bad(MSG))?;
            if !ok(k) || !(v.is_empty() || ok(v)) {
                return Err(ValueError::Bad(MSG));
            }
            out.push((k.to_owned(), v.to_owned()));
        }
        Ok(Headers(out))
    }
}

impl ToXml for Headers {
    fn to_xml(&self) -> Cow<'_, str> {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Cow::Owned(parts.join(","))
    }
}

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
pub struct Language(String);

impl Language {
    /// `en-US`, Plivo's default.
    pub fn en_us() -> Self {
        Language("en-US".to_owned())
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
            Ok(Language(s.to_owned()))
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

/// `digitEndTimeout` / `speechEndTimeout` of `<GetInput>`: `auto` or 2–10 seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndTimeout {
    /// `auto`: Plivo decides.
    Auto,
    /// A fixed number of seconds, 2–10.
    Secs(u32),
}

impl FromXml for EndTimeout {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(EndTimeout::Auto);
        }
        match int_in(s, 2, Some(10)) {
            Ok(n) => Ok(EndTimeout::Secs(n)),
            Err(ValueError::NotInteger) => Err(ValueError::Bad("expected `auto` or seconds from 2 to 10")),
            Err(e) => Err(e),
        }
    }
}

impl ToXml for EndTimeout {
    fn to_xml(&self) -> Cow<'_, str> {
        match self {
            EndTimeout::Auto => Cow::Borrowed("auto"),
            EndTimeout::Secs(n) => Cow::Owned(n.to_string()),
        }
    }
}

/// `<Wait beep>`: a boolean, or a detector parameter list (`duration=300,threshold=256`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WaitBeep {
    /// `true`/`false`.
    Bool(bool),
    /// Detector parameters as written.
    Params(Headers),
}

impl FromXml for WaitBeep {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        if s.contains('=') { Headers::from_xml(s).map(WaitBeep::Params) } else { bool::from_xml(s).map(WaitBeep::Bool) }
    }
}

impl ToXml for WaitBeep {
    fn to_xml(&self) -> Cow<'_, str> {
        match self {
            WaitBeep::Bool(b) => b.to_xml(),
            WaitBeep::Params(h) => h.to_xml(),
        }
    }
}

/// `<Dial dialMusic>`: `real` ringback, `none`, or a URL returning Play/Speak/Wait XML.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DialMusic {
    /// `real`: relay the callee's real ringback.
    Real,
    /// `none`: silence.
    None,
    /// XML of Play/Speak/Wait to play while ringing.
    Url(Url),
}

impl FromXml for DialMusic {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        match s.to_ascii_lowercase().as_str() {
            "real" => Ok(DialMusic::Real),
            "none" => Ok(DialMusic::None),
            _ => Url::from_xml(s)
                .map(DialMusic::Url)
                .map_err(|_| ValueError::Bad("expected `real`, `none` or an http(s) URL")),
        }
    }
}

impl ToXml for DialMusic {
    fn to_xml(&self) -> Cow<'_, str> {
        match self {
            DialMusic::Real => Cow::Borrowed("real"),
            DialMusic::None => Cow::Borrowed("none"),
            DialMusic::Url(u) => u.to_xml(),
        }
    }
}

/// A bounded-length free string (e.g. `callerName` ≤ 50 characters).
pub fn max_chars(s: &str, max: usize, why: &'static str) -> Result<String, ValueError> {
    if s.chars().count() <= max { Ok(s.to_owned()) } else { Err(ValueError::Bad(why)) }
}

/// A phone number or caller id: digits with an optional leading `+` (Plivo strips it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// The number as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromXml for PhoneNumber {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        let digits = s.strip_prefix('+').unwrap_or(s);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            Ok(PhoneNumber(s.to_owned()))
        } else {
            Err(ValueError::Bad("expected a phone number (digits, optional leading +)"))
        }
    }
}

impl ToXml for PhoneNumber {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.0)
    }
}

/// A SIP URI, the body of `<User>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SipUri(String);

impl SipUri {
    /// The URI as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromXml for SipUri {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        let rest = s.strip_prefix("sip:").or_else(|| s.strip_prefix("sips:"));
        match rest {
            Some(r) if !r.is_empty() && !r.chars().any(char::is_whitespace) => Ok(SipUri(s.to_owned())),
            _ => Err(ValueError::Bad("expected a sip: URI")),
        }
    }
}

impl ToXml for SipUri {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.0)
    }
}

/// The `statusCallbackEvents` comma list of `<MultiPartyCall>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpcEvents(Vec<MpcEvent>);

impl MpcEvents {
    /// Plivo's default: `mpc-state-changes,participant-state-changes`.
    pub fn default_events() -> Self {
        MpcEvents(vec![MpcEvent::MpcStateChanges, MpcEvent::ParticipantStateChanges])
    }

    /// The events in document order.
    pub fn events(&self) -> &[MpcEvent] {
        &self.0
    }

    /// Whether `e` is subscribed.
    pub fn contains(&self, e: MpcEvent) -> bool {
        self.0.contains(&e)
    }
}

impl FromXml for MpcEvents {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        s.split(',').map(|p| MpcEvent::from_xml(p.trim())).collect::<Result<_, _>>().map(MpcEvents)
    }
}

impl ToXml for MpcEvents {
    fn to_xml(&self) -> Cow<'_, str> {
        let parts: Vec<_> = self.0.iter().map(|e| e.to_xml()).collect();
        Cow::Owned(parts.join(","))
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

serde_as_xml!(
    Method,
    Url,
    WsUrl,
    Sound,
    KeySet,
    FinishOnKey,
    Key,
    Tones,
    DigitPatterns,
    Headers,
    Voice,
    Language,
    EndTimeout,
    WaitBeep,
    DialMusic,
    PhoneNumber,
    SipUri,
    MpcEvents,
    SsmlValue,
);

spelled_enum!(
    /// A recording's file format.
    FileFormat { Mp3 = "mp3", Wav = "wav" }
);
spelled_enum!(
    /// `<Record recordChannelType>`.
    ChannelType { Mono = "mono", Stereo = "stereo" }
);
spelled_enum!(
    /// `transcriptionType`.
    TranscriptionType { Auto = "auto", Hybrid = "hybrid", Manual = "manual" }
);
spelled_enum!(
    /// `<GetInput inputType>`.
    InputType {
        /// Key presses only.
        Dtmf = "dtmf",
        /// Speech only.
        Speech = "speech",
        /// Both; the first detected wins.
        DtmfSpeech = "dtmf speech",
    }
);
spelled_enum!(
    /// `<GetInput speechModel>`.
    SpeechModel { Default = "default", CommandAndSearch = "command_and_search", PhoneCall = "phone_call" }
);
spelled_enum!(
    /// `<Hangup reason>`.
    HangupReason {
        /// Rejection tone (hangup cause 3020).
        Rejected = "rejected",
        /// Busy signal (hangup cause 3010).
        Busy = "busy",
    }
);
spelled_enum!(
    /// `<Dial callType>`.
    CallType { Voice = "voice", Whatsapp = "whatsapp" }
);
spelled_enum!(
    /// `<MultiPartyCall role>`; written lower-case.
    Role { Agent = "agent", Supervisor = "supervisor", Customer = "customer", AiAgent = "ai-agent" }
);
spelled_enum!(
    /// One `statusCallbackEvents` entry.
    MpcEvent {
        MpcStateChanges = "mpc-state-changes",
        ParticipantStateChanges = "participant-state-changes",
        ParticipantSpeakEvents = "participant-speak-events",
        ParticipantDigitInputEvents = "participant-digit-input-events",
        AddParticipantApiEvents = "add-participant-api-events",
        ParticipantAudioEvents = "participant-audio-events",
    }
);
spelled_enum!(
    /// `<Message type>`.
    MessageType { Sms = "sms" }
);
spelled_enum!(
    /// `<Stream audioTrack>`.
    AudioTrack { Inbound = "inbound", Outbound = "outbound", Both = "both" }
);
spelled_enum!(
    /// `<Stream contentType>`.
    StreamContentType {
        L16At8k = "audio/x-l16;rate=8000",
        L16At16k = "audio/x-l16;rate=16000",
        MulawAt8k = "audio/x-mulaw;rate=8000",
    }
);
spelled_enum!(
    /// `<break strength>`.
    BreakStrength { None = "none", XWeak = "x-weak", Weak = "weak", Medium = "medium", Strong = "strong", XStrong = "x-strong" }
);
spelled_enum!(
    /// `<emphasis level>`.
    EmphasisLevel { Strong = "strong", Moderate = "moderate", Reduced = "reduced" }
);
spelled_enum!(
    /// `<phoneme alphabet>`.
    PhoneticAlphabet { Ipa = "ipa", XSampa = "x-sampa" }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_report_the_right_error() {
        assert_eq!(int_in("7", 1, Some(20)), Ok(7));
        assert_eq!(int_in("+7", 1, None), Ok(7));
        assert_eq!(int_in("abc", 1, None), Err(ValueError::NotInteger));
        assert_eq!(int_in("", 1, None), Err(ValueError::NotInteger));
        assert_eq!(int_in("1.5", 1, None), Err(ValueError::NotInteger));
        assert_eq!(int_in("-3", 0, None), Err(ValueError::OutOfRange { min: 0, max: None }));
        assert_eq!(int_in("21", 1, Some(20)), Err(ValueError::OutOfRange { min: 1, max: Some(20) }));
        assert_eq!(int_in("99999999999", 1, None), Err(ValueError::OutOfRange { min: 1, max: None }));
    }

    #[test]
    fn booleans_ignore_case() {
        assert_eq!(bool::from_xml("True"), Ok(true));
        assert_eq!(bool::from_xml("FALSE"), Ok(false));
        assert_eq!(bool::from_xml("yes"), Err(ValueError::NotBoolean));
    }

    #[test]
    fn urls_must_be_absolute() {
        assert!(Url::from_xml("https://example.com/a?b=c#d").is_ok());
        assert!(Url::from_xml("HTTP://example.com").is_ok());
        assert!(Url::from_xml("http://user@host:80/").is_ok());
        for bad in ["ftp://x", "https://", "https:///x", "http://a b", "http://:80/", "", "a b", "mailto:x@y", "//"] {
            assert_eq!(Url::from_xml(bad), Err(ValueError::BadUrl("http(s)")), "{bad}");
        }
        for rel in ["/relative", "example.com", "next.php", "/menu/", "?step=2", "../up", "//cdn.example/a.mp3"] {
            let u = Url::from_xml(rel).unwrap_or_else(|e| panic!("{rel}: {e}"));
            assert!(u.is_relative() && u.note() == Some(Code::RelativeUrl), "{rel}");
        }
        assert!(Url::from_xml("https://a.example/x").is_ok_and(|u| u.is_absolute() && u.note().is_none()));
        assert!(WsUrl::from_xml("wss://stream.example.com/a").is_ok());
        assert!(WsUrl::from_xml("https://stream.example.com/a").is_err());
    }

    #[test]
    fn relative_urls_resolve_against_the_document_url() {
        let base = "https://app.example/ivr/menu.xml?x=1";
        let cases = [
            ("next.php", "https://app.example/ivr/next.php"),
            ("/menu/", "https://app.example/menu/"),
            ("../up.xml", "https://app.example/up.xml"),
            ("?step=2", "https://app.example/ivr/menu.xml?step=2"),
            ("//cdn.example/a.mp3", "https://cdn.example/a.mp3"),
            ("https://other.example/A", "https://other.example/A"),
        ];
        for (rel, want) in cases {
            let u = Url::from_xml(rel).unwrap_or_else(|e| panic!("{rel}: {e}"));
            assert_eq!(u.resolve(base).as_deref(), Some(want), "{rel}");
        }
        let rel = Url::from_xml("next.php").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rel.resolve("not a url"), None);
        assert_eq!(rel.resolve("ftp://x.example/"), None);
    }

    #[test]
    fn spellings_round_trip() {
        let cases = ["", "none", "beep:1", "beep:2", "https://x.example/s.xml"];
        for c in cases {
            assert_eq!(Sound::from_xml(c).map(|s| s.to_xml().into_owned()), Ok(c.to_owned()));
        }
        assert!(Sound::from_xml("beep:3").is_err());
        assert_eq!(KeySet::from_xml("9#1").map(|k| k.to_xml().into_owned()), Ok("19#".to_owned()));
        assert_eq!(FinishOnKey::one("#*"), Err(ValueError::Bad("expected a single key, `none` or an empty value")));
        assert_eq!(Role::from_xml("Agent"), Ok(Role::Agent));
        assert_eq!(Role::Agent.to_xml(), "agent");
        assert_eq!(FileFormat::from_xml("MP3"), Ok(FileFormat::Mp3));
        assert_eq!(InputType::from_xml("Speech"), Ok(InputType::Speech));
        assert_eq!(InputType::from_xml("DTMF Speech"), Ok(InputType::DtmfSpeech));
        assert_eq!(FileFormat::from_xml("ogg"), Err(ValueError::NotInEnum(&["mp3", "wav"])));
        assert_eq!(KeySet::from_xml("1,2, 3").map(|k| k.to_xml().into_owned()), Ok("123".to_owned()));
        assert!(KeySet::has_separators("1,2") && !KeySet::has_separators("12"));
        assert_eq!(EndTimeout::from_xml("11"), Err(ValueError::OutOfRange { min: 2, max: Some(10) }));
        assert!(SsmlValue::volume("+6dB").is_ok());
        assert!(SsmlValue::volume("loudish").is_err());
        assert!(SsmlValue::time("1.5s").is_ok());
        assert!(Headers::from_xml("a=1,b=2").is_ok());
        assert!(Headers::from_xml("a=1;b").is_err());
    }
}
