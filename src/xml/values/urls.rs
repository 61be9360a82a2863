//! Where a request or a call goes: `Method`, `Url` (a relative one is noted; `resolve`),
//! `WsUrl`, and the dial targets `PhoneNumber` and `SipUri`.

use std::borrow::Cow;

use super::{FromXml, Noted, Source, Text, ToXml, ValueError};
use crate::diagnostic::Code;

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

impl Method {
    /// `GET` or `POST`, as Plivo spells it (and HTTP does).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

impl ToXml for Method {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.as_str())
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
pub struct Url(Text);

impl Url {
    /// The URL text as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same URL owning its text: for keeping beyond its document (a `Text` keeps the
    /// whole source it views alive).
    pub fn detached(&self) -> Url {
        Url(Text::new(self.as_str()))
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
    // The scheme characters run up to the first `:` (which is not one of them); the scan
    // stops at the first byte that is neither.
    let bytes = s.as_bytes();
    // `http:` and `https:` (any case), the usual schemes, without the general scan. A byte
    // `b` has `b | 0x20` equal to a lowercase letter exactly when it is that letter in
    // either case: four are compared at once.
    let http = u32::from_le_bytes(*b"http");
    if bytes.first_chunk::<4>().is_some_and(|h| u32::from_le_bytes(*h) | 0x2020_2020 == http) {
        match bytes.get(4) {
            Some(b':') => return s.get(..4),
            Some(b's' | b'S') if bytes.get(5) == Some(&b':') => return s.get(..5),
            _ => {}
        }
    }
    if !bytes.first().is_some_and(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let end = bytes.iter().position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))?;
    if bytes.get(end) == Some(&b':') { s.get(..end) } else { None }
}

/// Checks `s` is `scheme://host…` for one of `schemes` (lowercase ASCII letters), with a
/// non-empty host and no spaces.
fn check_url(s: &str, schemes: &[&str]) -> bool {
    scheme(s).is_some_and(|name| check_url_after(s, name, schemes))
}

/// [`check_url`] of `s` whose scheme is `name` (what [`scheme`] found).
fn check_url_after(s: &str, name: &str, schemes: &[&str]) -> bool {
    // `s` starts with `scheme://` for one of `schemes` (which hold no `:`, so that scheme is
    // the one `scheme` finds). The schemes are lowercase letters, so `b | 0x20` matches a
    // byte of either case exactly (as `eq_ignore_ascii_case` would).
    let lower_eq = |w: &str| w.len() == name.len() && name.bytes().zip(w.bytes()).all(|(a, b)| a | 0x20 == b);
    if !schemes.iter().any(|w| lower_eq(w)) {
        return false;
    }
    let Some(rest) = s.get(name.len()..).and_then(|r| r.strip_prefix("://")) else {
        return false;
    };
    // One pass over the authority (up to `/`, `?` or `#`): the host follows its last `@`.
    // Words of 8 bytes holding none of the four are passed at once.
    let bytes = rest.as_bytes();
    let mut from = 0;
    while let Some(word) = bytes.get(from..).and_then(|b| b.first_chunk::<8>()) {
        let x = u64::from_le_bytes(*word);
        if has_byte(x, b'/') | has_byte(x, b'?') | has_byte(x, b'#') | has_byte(x, b'@') {
            break;
        }
        from += 8;
    }
    let mut host_start = 0;
    let mut host_end = rest.len();
    for (i, b) in bytes.iter().enumerate().skip(from) {
        match b {
            b'/' | b'?' | b'#' => {
                host_end = i;
                break;
            }
            b'@' => host_start = i + 1,
            _ => {}
        }
    }
    let host = rest.get(host_start..host_end).unwrap_or("");
    // The scheme and `://` hold no blank or control character: only `rest` can.
    !host.is_empty() && !host.starts_with(':') && !has_blank_or_control(rest)
}

/// Whether a byte of the word `x` is `b` (the classic test, exact as "any byte").
fn has_byte(x: u64, b: u8) -> bool {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let y = x ^ (LOW * u64::from(b));
    y.wrapping_sub(LOW) & !y & HIGH != 0
}

/// Whether `s` holds a whitespace or control character (Unicode's definitions); ASCII text,
/// the usual case, is checked byte by byte without decoding.
fn has_blank_or_control(s: &str) -> bool {
    // Text that is all visible ASCII is passed 8 bytes at a time; text that is not is looked
    // at byte by byte.
    if all_visible_ascii(s.as_bytes()) {
        return false;
    }
    for b in s.bytes() {
        if !b.is_ascii() {
            return s.chars().any(|c| c.is_whitespace() || c.is_control());
        }
        // ASCII whitespace (space, tab, LF, VT, FF, CR) and controls are the bytes up to
        // 0x20, and DEL.
        if b <= b' ' || b == 0x7f {
            return true;
        }
    }
    false
}

/// Whether every byte of `bytes` is visible ASCII (`!`..=`~`), tested 8 bytes at a time.
fn all_visible_ascii(bytes: &[u8]) -> bool {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let visible = |b: &u8| (b'!'..=b'~').contains(b);
    let mut words = bytes.chunks_exact(8);
    for word in words.by_ref() {
        let x = <[u8; 8]>::try_from(word).map_or(u64::MAX, u64::from_le_bytes);
        // The classic tests, exact as "any byte": a byte at or above 0x80, a byte below
        // 0x21 (the top bit of `b - 0x21` where `b` has none), a DEL (a zero of `x ^ 0x7F…`).
        let del = x ^ (LOW * 0x7F);
        if x & HIGH != 0 || x.wrapping_sub(LOW * 0x21) & !x & HIGH != 0 || del.wrapping_sub(LOW) & !del & HIGH != 0 {
            return false;
        }
    }
    words.remainder().iter().all(visible)
}

impl FromXml for Url {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        Self::from_xml_in(s, &Source::default())
    }

    fn from_xml_in(s: &str, src: &Source) -> Result<Self, ValueError> {
        let bad = ValueError::BadUrl("http(s)");
        if let Some(name) = scheme(s) {
            return if check_url_after(s, name, &["http", "https"]) { Ok(Url(src.text(s))) } else { Err(bad) };
        }
        // A relative reference: no blanks or control characters, and one the url crate can
        // resolve against an http base.
        if s.is_empty() || has_blank_or_control(s) {
            return Err(bad);
        }
        let base = url::Url::parse("http://relative.invalid/").map_err(|_| ValueError::BadUrl("http(s)"))?;
        match base.join(s) {
            Ok(_) => Ok(Url(src.text(s))),
            Err(_) => Err(bad),
        }
    }
}

impl ToXml for Url {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.0)
    }
}

impl Noted for Url {
    fn note(&self) -> Option<Code> {
        self.is_relative().then_some(Code::RelativeUrl)
    }
}

/// An absolute `wss://` (or `ws://`) URL, the body of `<Stream>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WsUrl(Text);

impl WsUrl {
    /// The URL text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromXml for WsUrl {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        Self::from_xml_in(s, &Source::default())
    }

    fn from_xml_in(s: &str, src: &Source) -> Result<Self, ValueError> {
        if check_url(s, &["wss", "ws"]) { Ok(WsUrl(src.text(s))) } else { Err(ValueError::BadUrl("wss")) }
    }
}

impl ToXml for WsUrl {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.0)
    }
}

/// A phone number or caller id: digits with an optional leading `+` (Plivo strips it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(Text);

impl PhoneNumber {
    /// The number as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromXml for PhoneNumber {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        Self::from_xml_in(s, &Source::default())
    }

    fn from_xml_in(s: &str, src: &Source) -> Result<Self, ValueError> {
        let digits = s.strip_prefix('+').unwrap_or(s);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            Ok(PhoneNumber(src.text(s)))
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
pub struct SipUri(Text);

impl SipUri {
    /// The URI as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromXml for SipUri {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        Self::from_xml_in(s, &Source::default())
    }

    fn from_xml_in(s: &str, src: &Source) -> Result<Self, ValueError> {
        let rest = s.strip_prefix("sip:").or_else(|| s.strip_prefix("sips:"));
        match rest {
            Some(r) if !r.is_empty() && !r.chars().any(char::is_whitespace) => Ok(SipUri(src.text(s))),
            _ => Err(ValueError::Bad("expected a sip: URI")),
        }
    }
}

impl ToXml for SipUri {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `check_url` as it was written before its word pass and its scheme comparison.
    fn check_url_plain(s: &str, schemes: &[&str]) -> bool {
        let Some(name) = scheme(s) else {
            return false;
        };
        if !schemes.iter().any(|w| name.eq_ignore_ascii_case(w)) {
            return false;
        }
        let Some(rest) = s.get(name.len()..).and_then(|r| r.strip_prefix("://")) else {
            return false;
        };
        let mut host_start = 0;
        let mut host_end = rest.len();
        for (i, b) in rest.bytes().enumerate() {
            match b {
                b'/' | b'?' | b'#' => {
                    host_end = i;
                    break;
                }
                b'@' => host_start = i + 1,
                _ => {}
            }
        }
        let host = rest.get(host_start..host_end).unwrap_or("");
        !host.is_empty() && !host.starts_with(':') && !has_blank_or_control(rest)
    }

    #[test]
    fn the_url_check_matches_its_plain_definition() {
        let hosts = ["", "a", "example.com", "user:pw@example.com", "a@b@c", "@", "x@", ":80", "h:80", "ex ample.org"];
        let tails = ["", "/", "/x.mp3", "?q=1", "#f", "/a@b", "/a b", "?@"];
        let schemes =
            ["http", "HTTP", "https", "HtTpS", "httpx", "htt", "ws", "WSS", "wss", "hTTp", "h\u{1}tp", "http+"];
        for scheme in schemes {
            for host in hosts {
                for tail in tails {
                    let s = format!("{scheme}://{host}{tail}");
                    for list in [&["http", "https"][..], &["wss", "ws"][..]] {
                        assert_eq!(check_url(&s, list), check_url_plain(&s, list), "{s} {list:?}");
                    }
                }
            }
        }
        for s in [
            "http:/x",
            "http:",
            "https",
            "",
            "h",
            "1http://a",
            "http//a",
            "HTTP://averyveryverylonghostname.example.com/x",
        ] {
            assert_eq!(check_url(s, &["http", "https"]), check_url_plain(s, &["http", "https"]), "{s}");
        }
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
}
