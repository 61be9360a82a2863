//! Plain scalars: booleans, bounded integers and strings, and `EndTimeout` (`auto` or seconds).

use std::borrow::Cow;

use super::{FromXml, Source, Text, ToXml, ValueError};

/// Parses a decimal integer in `min..=max`.
pub fn int_in(s: &str, min: u32, max: Option<u32>) -> Result<u32, ValueError> {
    let t = trim(s);
    let digits = t.strip_prefix('+').unwrap_or(t);
    // One pass checks the digits and adds them up; a value past `u32` is out of range, but
    // only once all of it is known to be digits.
    let mut n: u32 = 0;
    let mut over = false;
    let mut all_digits = !digits.is_empty();
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            all_digits = false;
            break;
        }
        match n.checked_mul(10).and_then(|m| m.checked_add(u32::from(b - b'0'))) {
            Some(m) => n = m,
            None => over = true,
        }
    }
    if !all_digits {
        // A negative number is still an integer: report it as out of range.
        let neg = t.strip_prefix('-').is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
        return Err(if neg { ValueError::OutOfRange { min, max } } else { ValueError::NotInteger });
    }
    if over {
        return Err(ValueError::OutOfRange { min, max });
    }
    if n < min || max.is_some_and(|m| n > m) {
        return Err(ValueError::OutOfRange { min, max });
    }
    Ok(n)
}

/// `s.trim()`, without decoding characters when both ends are visible ASCII (the usual case:
/// nothing to trim).
fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// Parses an optional integer in `min..=max`.
pub fn opt_int_in(s: &str, min: u32, max: Option<u32>) -> Result<Option<u32>, ValueError> {
    int_in(s, min, max).map(Some)
}

impl FromXml for bool {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        // `true` or `false` in any case: a byte `b` has `b | 0x20` equal to a lowercase letter
        // exactly when it is that letter in either case, so four are compared at once.
        let t = trim(s).as_bytes();
        let lower = |w: &[u8; 4]| u32::from_le_bytes(*w) | 0x2020_2020;
        match (t.len(), t.first_chunk::<4>()) {
            (4, Some(w)) if lower(w) == u32::from_le_bytes(*b"true") => Ok(true),
            (5, Some(w)) if lower(w) == u32::from_le_bytes(*b"fals") && t.get(4).is_some_and(|&e| e | 0x20 == b'e') => {
                Ok(false)
            }
            _ => Err(ValueError::NotBoolean),
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

/// A bounded-length free string (e.g. `callerName` ≤ 50 characters), a view of `src`.
pub fn max_chars(s: &str, src: &Source, max: usize, why: &'static str) -> Result<Text, ValueError> {
    if s.chars().count() <= max { Ok(src.text(s)) } else { Err(ValueError::Bad(why)) }
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

    /// `int_in` and `bool::from_xml` as they were written before their one-pass forms.
    fn int_plain(s: &str, min: u32, max: Option<u32>) -> Result<u32, ValueError> {
        let t = trim(s);
        let digits = t.strip_prefix('+').unwrap_or(t);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            let neg = t.strip_prefix('-').is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
            return Err(if neg { ValueError::OutOfRange { min, max } } else { ValueError::NotInteger });
        }
        let n: u32 = digits.parse().map_err(|_| ValueError::OutOfRange { min, max })?;
        if n < min || max.is_some_and(|m| n > m) {
            return Err(ValueError::OutOfRange { min, max });
        }
        Ok(n)
    }

    fn bool_plain(s: &str) -> Result<bool, ValueError> {
        let t = trim(s);
        if t.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if t.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err(ValueError::NotBoolean)
        }
    }

    #[test]
    fn the_one_pass_scalars_match_their_plain_definitions() {
        let texts = [
            "",
            " ",
            "0",
            "7",
            "+7",
            "-7",
            "+",
            "-",
            "+-1",
            "007",
            "1.5",
            " 12 ",
            "\t3\n",
            "4294967295",
            "4294967296",
            "99999999999",
            "-99999999999",
            "00000000000000000001",
            "12a",
            "a12",
            "١٢",
            "true",
            "TRUE",
            "True ",
            "tRuE",
            "false",
            "FALSE",
            " False",
            "fAlSe",
            "truee",
            "tru",
            "fals",
            "falsE",
            "falsx",
            "t\u{0}ue",
            "TRUE\u{a0}",
            "none",
            "yes",
            "1",
            "\u{0}rue",
            "trUe\t",
        ];
        for t in texts {
            for (min, max) in [(0, None), (1, Some(32)), (5, Some(60)), (2, Some(10))] {
                assert_eq!(int_in(t, min, max), int_plain(t, min, max), "{t:?} {min} {max:?}");
            }
            assert_eq!(bool::from_xml(t), bool_plain(t), "{t:?}");
        }
        for word in ["false", "FALSE", "true", "TRUE"] {
            for c in 0..=255u8 {
                for at in 0..word.len() {
                    let mut w = word.as_bytes().to_vec();
                    if let Some(b) = w.get_mut(at) {
                        *b = c;
                    }
                    let s = String::from_utf8_lossy(&w).into_owned();
                    assert_eq!(bool::from_xml(&s), bool_plain(&s), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn booleans_ignore_case() {
        assert_eq!(bool::from_xml("True"), Ok(true));
        assert_eq!(bool::from_xml("FALSE"), Ok(false));
        assert_eq!(bool::from_xml("yes"), Err(ValueError::NotBoolean));
    }
}
