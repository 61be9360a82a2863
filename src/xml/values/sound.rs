//! What plays in a room or while dialling: `Sound` and `DialMusic` (a URL in either is noted).

use std::borrow::Cow;

use super::{FromXml, Noted, Source, ToXml, Url, ValueError};
use crate::diagnostic::Code;

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
        Self::from_xml_in(s, &Source::default())
    }

    fn from_xml_in(s: &str, src: &Source) -> Result<Self, ValueError> {
        // Spellings compared ignoring ASCII case, without a lower-cased copy.
        match s {
            "" => Ok(Sound::Empty),
            _ if s.eq_ignore_ascii_case("none") => Ok(Sound::None),
            _ if s.eq_ignore_ascii_case("beep:1") => Ok(Sound::Beep1),
            _ if s.eq_ignore_ascii_case("beep:2") => Ok(Sound::Beep2),
            _ if s.contains("://") => Url::from_xml_in(s, src).map(Sound::Url),
            _ => Url::from_xml_in(s, src)
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

impl Noted for Sound {
    fn note(&self) -> Option<Code> {
        match self {
            Sound::Url(u) => u.note(),
            _ => None,
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
        Self::from_xml_in(s, &Source::default())
    }

    fn from_xml_in(s: &str, src: &Source) -> Result<Self, ValueError> {
        match s {
            _ if s.eq_ignore_ascii_case("real") => Ok(DialMusic::Real),
            _ if s.eq_ignore_ascii_case("none") => Ok(DialMusic::None),
            _ => Url::from_xml_in(s, src)
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

impl Noted for DialMusic {
    fn note(&self) -> Option<Code> {
        match self {
            DialMusic::Url(u) => u.note(),
            _ => None,
        }
    }
}
