//! Typed attribute and body values: how each is read from XML text and written back.
//!
//! Every type here keeps the invariant that `T::from_xml(&t.to_xml()) == Ok(t)`, which is what
//! makes the writer's round trip hold. In JSON they appear in their XML spelling.
//!
//! The traits, [`ValueError`] and the macros are here; the types are in the submodules, all
//! re-exported: `scalars` (booleans, integers, strings, `EndTimeout`), `urls` (`Method`, `Url`
//! and `resolve`, `WsUrl`, the dial targets), `sound` (`Sound`, `DialMusic`), `keys` (DTMF key
//! sets, `FinishOnKey`, tones, patterns), `speech` (`Voice`, `Language`, `SsmlValue`), `lists`
//! (`Headers`, `WaitBeep`, `MpcEvents`) and `enums` (the spelled enums).

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

    /// [`FromXml::from_xml`] for text read from a document: a value holding text keeps it as
    /// a view of `src` when `s` lies inside it ([`Source::text`]) instead of copying it.
    fn from_xml_in(s: &str, src: &Source) -> Result<Self, ValueError> {
        let _ = src;
        Self::from_xml(s)
    }
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

macro_rules! not_noted {
    ($($t:ty),* $(,)?) => { $( impl Noted for $t {} )* };
}

not_noted!(
    u32,
    bool,
    String,
    Text,
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
pub fn opt<T: FromXml>(s: &str, src: &Source) -> Result<Option<T>, ValueError> {
    T::from_xml_in(s, src).map(Some)
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

mod enums;
mod keys;
mod lists;
mod scalars;
mod sound;
mod speech;
mod text;
mod urls;

pub use enums::{
    AudioTrack, BreakStrength, CallType, ChannelType, EmphasisLevel, FileFormat, HangupReason, InputType, MessageType,
    MpcEvent, PhoneticAlphabet, Role, SpeechModel, StreamContentType, TranscriptionType,
};
pub use keys::{DigitPatterns, FinishOnKey, Key, KeySet, Tones};
pub use lists::{Headers, MpcEvents, WaitBeep};
pub use scalars::{EndTimeout, int_in, max_chars, opt_int_in};
pub use sound::{DialMusic, Sound};
pub use speech::{Language, SsmlValue, Voice};
pub use text::{Source, Text};
pub use urls::{Method, PhoneNumber, SipUri, Url, WsUrl, resolve};

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

#[cfg(test)]
mod tests {
    use super::*;

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
