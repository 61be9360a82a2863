//! Plivo's list conventions for `GET Call/` and `GET Recording/`: paging (`limit`, `offset`,
//! `meta`), range filters (`bill_duration__gt`, `end_time__lte`, `add_time__gte`, …) and the
//! wall-clock timestamps they compare (`YYYY-MM-DD HH:MM[:ss[.uuuuuu]]`, UTC).
//!
//! Plivo's pages: <https://www.plivo.com/docs/voice/api/call/retrieve-all-calls/> and
//! <https://www.plivo.com/docs/voice/api/recording/list-all-recordings/>.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// The most objects one page holds, and the default `limit` (Plivo: "The maximum it can be
/// set to is 20. Defaults to 20").
pub(crate) const MAX_LIMIT: usize = 20;

/// Why a list request's parameters were refused (answered 400 with the message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ListError {
    /// `limit` is not a whole number from 1 to [`MAX_LIMIT`].
    #[error("`limit` must be a whole number from 1 to {MAX_LIMIT}, not `{0}`")]
    Limit(String),
    /// `offset` is not a whole number, 0 or more.
    #[error("`offset` must be a whole number, 0 or more, not `{0}`")]
    Offset(String),
    /// A numeric filter (`bill_duration…`) is not a whole number.
    #[error("`{0}` must be a whole number, not `{1}`")]
    Number(String, String),
    /// A time filter is not `YYYY-MM-DD HH:MM[:ss[.uuuuuu]]`.
    #[error("`{0}` must be a UTC time as YYYY-MM-DD HH:MM[:ss[.uuuuuu]], not `{1}`")]
    Time(String, String),
    /// A filter has a value outside the ones Plivo allows (named, comma-separated).
    #[error("`{0}` must be one of {1}, not `{2}`")]
    Value(String, String, String),
}

/// One page of a list: `limit` objects from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    /// How many objects at most (1..=[`MAX_LIMIT`]).
    pub(crate) limit: usize,
    /// How many matching objects come before the page.
    pub(crate) offset: usize,
}

impl Page {
    /// Reads `limit` (default [`MAX_LIMIT`]) and `offset` (default 0).
    ///
    /// # Errors
    /// [`ListError::Limit`] outside 1..=20 (Plivo answers 400 too), [`ListError::Offset`] for
    /// a negative or non-numeric offset.
    pub(crate) fn read(limit: Option<&str>, offset: Option<&str>) -> Result<Page, ListError> {
        let limit = match limit {
            None => MAX_LIMIT,
            Some(l) => l
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| ListError::Limit(l.to_owned()))?,
        };
        let offset = match offset {
            None => 0,
            Some(o) => o.trim().parse().map_err(|_| ListError::Offset(o.to_owned()))?,
        };
        Ok(Page { limit, offset })
    }

    /// The page's part of `items` (all the matching objects, in list order) and their count.
    pub(crate) fn slice<T>(&self, items: impl Iterator<Item = T>) -> (Vec<T>, usize) {
        let mut total = 0;
        let mut page = Vec::new();
        for item in items {
            if total >= self.offset && page.len() < self.limit {
                page.push(item);
            }
            total += 1;
        }
        (page, total)
    }

    /// Plivo's `meta`: `limit`, `offset`, `total_count`, and `next`/`previous` as relative URLs
    /// of the neighbouring pages (`/v1/Account/{id}/Call/?limit=20&offset=20`, with the same
    /// filters `query` after them), `null` where there is none.
    pub(crate) fn meta(&self, path: &str, query: &[(String, String)], count: usize, total: usize) -> Value {
        let link = |offset: usize| {
            let mut pairs =
                vec![("limit".to_owned(), self.limit.to_string()), ("offset".to_owned(), offset.to_string())];
            pairs.extend(query.iter().filter(|(k, _)| k != "limit" && k != "offset").cloned());
            let q = serde_urlencoded::to_string(&pairs).unwrap_or_default();
            format!("{path}?{q}")
        };
        let next = (self.offset.saturating_add(self.limit) < total).then(|| link(self.offset + self.limit));
        let previous = (self.offset > 0).then(|| link(self.offset.saturating_sub(self.limit)));
        json!({
            "count": count,
            "limit": self.limit,
            "offset": self.offset,
            "total_count": total,
            "next": next,
            "previous": previous,
        })
    }
}

/// A range filter on one field, from `field`, `field__gt`, `field__gte`, `field__lt`,
/// `field__lte`, all of which must hold. Values are integers (seconds, or microseconds since
/// the Unix epoch for times); an exact time covers the unit it was given in (`11:47` is the
/// whole minute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Range {
    lo: Option<i128>,
    hi: Option<i128>,
    empty: bool,
}

impl Range {
    /// Reads the five forms of `field` through `get`, each value parsed by `parse` into
    /// `(start, width)`: the value and the span it covers (1 for numbers).
    ///
    /// # Errors
    /// What `parse` says about a value.
    pub(crate) fn read<'a>(
        field: &str,
        get: impl Fn(&str) -> Option<&'a str>,
        parse: impl Fn(&str, &str) -> Result<(i128, i128), ListError>,
    ) -> Result<Range, ListError> {
        let mut r = Range::default();
        let mut low = |v: i128| r.lo = Some(r.lo.map_or(v, |l| l.max(v)));
        let forms = [("", 0u8), ("__gt", 1), ("__gte", 2), ("__lt", 3), ("__lte", 4)];
        let mut highs = Vec::new();
        for (suffix, form) in forms {
            let key = format!("{field}{suffix}");
            let Some(v) = get(&key) else { continue };
            let (start, width) = parse(&key, v)?;
            // Saturating: the values are the client's (a number may be as large as i128 holds).
            let end = start.saturating_add(width).saturating_sub(1);
            match form {
                0 => {
                    low(start);
                    highs.push(end);
                }
                1 => low(end.saturating_add(1)),
                2 => low(start),
                3 => highs.push(start.saturating_sub(1)),
                _ => highs.push(end),
            }
        }
        r.hi = highs.into_iter().min();
        r.empty = matches!((r.lo, r.hi), (Some(l), Some(h)) if l > h);
        Ok(r)
    }

    /// Whether `v` is in the range.
    pub(crate) fn holds(&self, v: i128) -> bool {
        !self.empty && self.lo.is_none_or(|l| v >= l) && self.hi.is_none_or(|h| v <= h)
    }

    /// Whether the range was given at all.
    pub(crate) fn is_set(&self) -> bool {
        self.lo.is_some() || self.hi.is_some() || self.empty
    }
}

/// A whole number of a numeric filter, as `(value, 1)`.
///
/// # Errors
/// [`ListError::Number`].
pub(crate) fn number(key: &str, v: &str) -> Result<(i128, i128), ListError> {
    v.trim().parse::<i128>().map(|n| (n, 1)).map_err(|_| ListError::Number(key.to_owned(), v.to_owned()))
}

/// A filter time `YYYY-MM-DD HH:MM[:ss[.uuuuuu]]` (UTC; a `T` may stand for the space) as
/// microseconds since the Unix epoch, and the span the precision given covers.
///
/// # Errors
/// [`ListError::Time`].
pub(crate) fn time(key: &str, v: &str) -> Result<(i128, i128), ListError> {
    parse_time(v.trim()).ok_or_else(|| ListError::Time(key.to_owned(), v.to_owned()))
}

fn parse_time(v: &str) -> Option<(i128, i128)> {
    let (date, clock) = v.split_once([' ', 'T']).unwrap_or((v, ""));
    let mut d = date.splitn(3, '-');
    let year: i64 = digits(d.next()?, 4)?;
    let month: i64 = digits(d.next()?, 2)?;
    let day: i64 = digits(d.next()?, 2)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let (hms, frac) = clock.split_once('.').map_or((clock, None), |(a, b)| (a, Some(b)));
    let mut t = hms.split(':');
    let (h, m) = (t.next()?, t.next()?);
    let s = t.next();
    if t.next().is_some() {
        return None;
    }
    let (h, m): (i64, i64) = (digits(h, 2)?, digits(m, 2)?);
    let sec: i64 = match s {
        Some(s) => digits(s, 2)?,
        None if frac.is_some() => return None,
        None => 0,
    };
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let (micros, width) = match (s, frac) {
        (None, _) => (0, 60_000_000),
        (Some(_), None) => (0, 1_000_000),
        (Some(_), Some(f)) => {
            if f.is_empty() || f.len() > 6 || !f.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let scale = 10i128.pow(u32::try_from(6 - f.len()).ok()?);
            (f.parse::<i128>().ok()? * scale, scale)
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = i128::from(days) * 86_400 + i128::from(h * 3600 + m * 60 + sec);
    Some((secs * 1_000_000 + micros, width))
}

fn digits(s: &str, n: usize) -> Option<i64> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

/// The wall clock of the server's runtime: the moment its clock read zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Clock {
    /// Microseconds since the Unix epoch at runtime time zero.
    zero_us: i128,
}

impl Clock {
    /// A clock whose runtime time zero is `zero`.
    pub(crate) fn starting(zero: SystemTime) -> Clock {
        let zero_us = zero.duration_since(UNIX_EPOCH).map_or(0, |d| i128::try_from(d.as_micros()).unwrap_or(0));
        Clock { zero_us }
    }

    /// Microseconds since the Unix epoch of the runtime time `at`.
    pub(crate) fn micros(&self, at: Duration) -> i128 {
        self.zero_us + i128::try_from(at.as_micros()).unwrap_or(i128::MAX / 2)
    }

    /// `at` as Plivo writes a CDR time: `2024-05-01 10:00:00+00:00` (UTC, whole seconds).
    pub(crate) fn seconds(&self, at: Duration) -> String {
        let (date, rest) = format_us(self.micros(at));
        format!("{date} {}+00:00", &rest[..8])
    }

    /// `at` as Plivo writes a recording's `add_time`: `2024-05-01 10:00:00.123456+00:00`.
    pub(crate) fn micro_seconds(&self, at: Duration) -> String {
        let (date, rest) = format_us(self.micros(at));
        format!("{date} {rest}+00:00")
    }
}

/// `(YYYY-MM-DD, HH:MM:SS.uuuuuu)` of microseconds since the Unix epoch.
fn format_us(us: i128) -> (String, String) {
    let secs = us.div_euclid(1_000_000);
    let micros = us.rem_euclid(1_000_000);
    let days = i64::try_from(secs.div_euclid(86_400)).unwrap_or(0);
    let tod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    (format!("{y:04}-{m:02}-{d:02}"), format!("{:02}:{:02}:{:02}.{micros:06}", tod / 3600, tod / 60 % 60, tod % 60))
}

/// Checks that `v`, when given, is one of `allowed`.
///
/// # Errors
/// [`ListError::Value`].
pub(crate) fn one_of<'a>(
    key: &str,
    v: Option<&'a str>,
    allowed: &'static [&'static str],
) -> Result<Option<&'a str>, ListError> {
    match v {
        Some(v) if !allowed.contains(&v) => Err(ListError::Value(key.to_owned(), allowed.join(", "), v.to_owned())),
        v => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_and_offset_follow_plivo_bounds() {
        assert_eq!(Page::read(None, None), Ok(Page { limit: 20, offset: 0 }));
        assert_eq!(Page::read(Some("1"), Some("40")), Ok(Page { limit: 1, offset: 40 }));
        for bad in ["0", "21", "-1", "x"] {
            assert!(matches!(Page::read(Some(bad), None), Err(ListError::Limit(_))), "{bad}");
        }
        assert!(matches!(Page::read(None, Some("-3")), Err(ListError::Offset(_))));
    }

    #[test]
    fn meta_links_the_neighbouring_pages_with_the_filters() {
        let page = Page { limit: 2, offset: 2 };
        let q = vec![("call_direction".to_owned(), "inbound".to_owned()), ("offset".to_owned(), "2".to_owned())];
        let m = page.meta("/v1/Account/MA/Call/", &q, 2, 5);
        assert_eq!(m["next"], "/v1/Account/MA/Call/?limit=2&offset=4&call_direction=inbound");
        assert_eq!(m["previous"], "/v1/Account/MA/Call/?limit=2&offset=0&call_direction=inbound");
        assert_eq!(m["total_count"], 5);
        let last = Page { limit: 2, offset: 4 }.meta("/p/", &[], 1, 5);
        assert_eq!(last["next"], Value::Null);
        let first = Page { limit: 20, offset: 0 }.meta("/p/", &[], 5, 5);
        assert_eq!((first["next"].clone(), first["previous"].clone()), (Value::Null, Value::Null));
        let (items, total) = page.slice(1..=5);
        assert_eq!((items, total), (vec![3, 4], 5));
    }

    #[test]
    fn times_parse_at_their_precision_and_print_back() {
        let (t, w) = time("t", "2024-02-29 23:59").expect("minute");
        assert_eq!(w, 60_000_000);
        let clock = Clock { zero_us: t };
        assert_eq!(clock.seconds(Duration::from_secs(61)), "2024-03-01 00:00:01+00:00");
        assert_eq!(clock.micro_seconds(Duration::from_micros(5)), "2024-02-29 23:59:00.000005+00:00");
        let (t2, w2) = time("t", "2024-02-29 23:59:00.5").expect("fraction");
        assert_eq!((t2 - t, w2), (500_000, 100_000));
        assert_eq!(time("t", "1970-01-01 00:00:01"), Ok((1_000_000, 1_000_000)));
        for bad in ["2024-13-01 00:00", "2024-01-01", "2024-01-01 1:00", "yesterday", "2024-01-01 00:00:00.1234567"] {
            assert!(time("end_time", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_combine_their_forms() {
        let q = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| *v)
        };
        let r = Range::read("d", q(&[("d__gt", "5"), ("d__lte", "10")]), number).expect("range");
        assert!(!r.holds(5) && r.holds(6) && r.holds(10) && !r.holds(11));
        let exact = Range::read("d", q(&[("d", "7")]), number).expect("exact");
        assert!(exact.holds(7) && !exact.holds(8) && exact.is_set());
        let none = Range::read("d", q(&[("d__lt", "3"), ("d__gt", "3")]), number).expect("empty");
        assert!(!none.holds(3) && !none.holds(2));
        assert!(!Range::read("d", q(&[]), number).expect("unset").is_set());
        assert!(Range::read("d", q(&[("d__gte", "x")]), number).is_err());
        let max = i128::MAX.to_string();
        let min = i128::MIN.to_string();
        let huge = Range::read("d", |k| (k == "d__gt").then_some(max.as_str()), number).expect("huge");
        assert!(!huge.holds(0));
        let tiny = Range::read("d", |k| (k == "d__lt").then_some(min.as_str()), number).expect("tiny");
        assert!(!tiny.holds(0));
        let minute = Range::read("t", q(&[("t", "2024-01-01 10:00")]), time).expect("time");
        let (start, _) = time("t", "2024-01-01 10:00:59.999999").expect("t");
        assert!(minute.holds(start) && !minute.holds(start + 1));
    }
}
