//! `Text`: a piece of a document's text that shares the parsed source instead of copying it,
//! and `Source`, the shared source the parser hands to the values it builds.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::ops::{Deref, RangeBounds};

use arcstr::{ArcStr, Substr};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{FromXml, ToXml, ValueError};

/// Immutable text of a parsed document (a URL, a room name, a `<Speak>` text, …).
///
/// Dereferences to `&str`. A value the parser read as written is a view into the document's
/// source, kept once per document in a shared buffer (`arcstr::Substr`: 16 bytes, a clone is
/// a reference-count increment); a value that differs from its source bytes (entities
/// unescaped, line ends normalised) or that was built elsewhere owns its own buffer. A
/// `Text` keeps its whole source alive. Compares, hashes, prints and serializes as its `str`.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text(Substr);

impl Text {
    /// Text that owns a copy of `s` (empty text allocates nothing).
    pub fn new(s: &str) -> Self {
        if s.is_empty() { Text::default() } else { Text(Substr::full(ArcStr::from(s))) }
    }

    /// Text of a string literal (`arcstr::literal!`), without allocating: Plivo's defaults.
    pub(crate) fn literal(s: ArcStr) -> Self {
        Text(Substr::full(s))
    }

    /// The text as a `&str`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Part of this text (byte `range`, on character boundaries), sharing its buffer.
    /// `None` when `range` is out of bounds or cuts a character.
    pub fn slice(&self, range: impl RangeBounds<usize>) -> Option<Text> {
        let r = (range.start_bound().cloned(), range.end_bound().cloned());
        self.0.get(r)?;
        Some(Text(self.0.substr(r)))
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text::new(s)
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        if s.is_empty() { Text::default() } else { Text(Substr::full(ArcStr::from(s))) }
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text::new(s)
    }
}

impl From<Text> for String {
    fn from(t: Text) -> Self {
        t.as_str().to_owned()
    }
}

macro_rules! text_eq {
    ($($t:ty),*) => {$(
        impl PartialEq<$t> for Text {
            fn eq(&self, other: &$t) -> bool {
                self.as_str() == AsRef::<str>::as_ref(other)
            }
        }
        impl PartialEq<Text> for $t {
            fn eq(&self, other: &Text) -> bool {
                AsRef::<str>::as_ref(self) == other.as_str()
            }
        }
    )*};
}
text_eq!(str, &str, String);

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Cow::<str>::deserialize(d).map(|s| Text::new(&s))
    }
}

impl FromXml for Text {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        Ok(Text::new(s))
    }
    fn from_xml_in(s: &str, src: &Source) -> Result<Self, ValueError> {
        Ok(src.text(s))
    }
}

impl ToXml for Text {
    fn to_xml(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

/// The source of the document being parsed, shared by the [`Text`]s read from it.
///
/// [`Source::text`] turns a `&str` that lies inside the source into a view of it (no copy),
/// and copies any other. `Source::default()` shares nothing (every text is copied): what
/// [`FromXml::from_xml`] uses outside the parser.
#[derive(Debug, Clone, Default)]
pub struct Source(ArcStr);

impl Source {
    /// Shares `src` (one copy of it, made here). The texts of a source of 4 GiB or more
    /// (beyond `Substr`'s 32-bit offsets) are copied instead.
    pub fn new(src: &str) -> Self {
        Source(ArcStr::from(src))
    }

    /// The whole source text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `s` as [`Text`]: a view into the source when `s` is a slice of [`Source::as_str`],
    /// else a copy.
    pub fn text(&self, s: &str) -> Text {
        if s.is_empty() {
            return Text::default();
        }
        let len = self.0.len();
        // The offset of `s` in the source (huge when `s` starts before it).
        let start = (s.as_ptr() as usize).wrapping_sub(self.0.as_ptr() as usize);
        if start <= len && s.len() <= len - start && u32::try_from(len).is_ok() {
            // A `str` lying inside the (UTF-8) source starts and ends on its character
            // boundaries, so the view is valid.
            Text(self.0.substr(start..start + s.len()))
        } else {
            Text::new(s)
        }
    }

    /// [`Source::text`] of a piece the parser may have had to decode: borrowed pieces are
    /// shared, owned ones become their own buffer (no second copy).
    pub fn text_cow(&self, s: Cow<'_, str>) -> Text {
        match s {
            Cow::Borrowed(b) => self.text(b),
            Cow::Owned(o) => Text::from(o),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_inside_the_source_share_it() {
        let src = Source::new("<Play>https://a.example/x.mp3</Play>");
        let url = src.as_str().get(6..29).unwrap_or("");
        let t = src.text(url);
        assert_eq!(t, "https://a.example/x.mp3");
        assert_eq!(t.as_ptr(), url.as_ptr(), "a view, not a copy");
        let outside = String::from("https://a.example/x.mp3");
        let copied = src.text(&outside);
        assert_eq!(copied, t);
        assert_ne!(copied.as_ptr(), outside.as_ptr());
        assert_eq!(Source::default().text("abc"), "abc");
        assert_eq!(t.slice(8..17).as_deref(), Some("a.example"));
        assert_eq!(Text::new("é").slice(1..), None, "cuts a character");
        assert_eq!(Text::new("ab").slice(..5), None, "out of bounds");
    }

    #[test]
    fn text_compares_prints_and_serializes_as_its_str() {
        let t = Text::new("Room \"1\"");
        assert_eq!(format!("{t:?}"), format!("{:?}", "Room \"1\""));
        assert_eq!(t.to_string(), "Room \"1\"");
        let owned = String::from("Room \"1\"");
        assert_eq!(t, *"Room \"1\"");
        assert_eq!(t, "Room \"1\"");
        assert_eq!(t, owned);
        assert_eq!(owned, t);
        assert_eq!(serde_json::to_string(&t).ok().as_deref(), Some(r#""Room \"1\"""#));
        let back: Result<Text, _> = serde_json::from_str(r#""Room \"1\"""#);
        assert_eq!(back.ok(), Some(t));
    }
}
