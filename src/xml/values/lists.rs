//! Comma lists: `Headers` (`k=v,…`), `WaitBeep` (a boolean or detector parameters) and `MpcEvents`.

use std::borrow::Cow;

use super::{FromXml, MpcEvent, Source, Text, ToXml, ValueError};

/// A `k=v,k2=v2` list of alphanumeric names and values (`sipHeaders`, `extraHeaders`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Headers(Vec<(Text, Text)>);

impl Headers {
    /// The pairs in document order.
    pub fn pairs(&self) -> &[(Text, Text)] {
        &self.0
    }
}

impl FromXml for Headers {
    fn from_xml(s: &str) -> Result<Self, ValueError> {
        Self::from_xml_in(s, &Source::default())
    }

    fn from_xml_in(s: &str, src: &Source) -> Result<Self, ValueError> {
        const MSG: &str = "expected a comma list of name=value pairs of letters and digits";
        let ok = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let mut out = Vec::new();
        for pair in s.split(',') {
            let (k, v) = pair.split_once('=').ok_or(ValueError::Bad(MSG))?;
            if !ok(k) || !(v.is_empty() || ok(v)) {
                return Err(ValueError::Bad(MSG));
            }
            out.push((src.text(k), src.text(v)));
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
        Self::from_xml_in(s, &Source::default())
    }

    fn from_xml_in(s: &str, src: &Source) -> Result<Self, ValueError> {
        if s.contains('=') {
            Headers::from_xml_in(s, src).map(WaitBeep::Params)
        } else {
            bool::from_xml(s).map(WaitBeep::Bool)
        }
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
