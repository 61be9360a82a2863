//! Identifiers and the deterministic id generator.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A call's UUID (`CallUUID` in Plivo's requests). Shared, so copies into events and
/// indexes cost a reference count, not an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallId(pub Arc<str>);

impl CallId {
    /// The UUID text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for CallId {
    fn from(s: &str) -> Self {
        CallId(Arc::from(s))
    }
}

impl From<String> for CallId {
    fn from(s: String) -> Self {
        CallId(Arc::from(s))
    }
}

/// A string identifier type: shared text, shown and compared as the text it holds, and read
/// as a `&str` wherever one is wanted (`Deref`).
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(Arc::from(s))
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name(Arc::from(s))
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                &*self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                &*self.0 == *other
            }
        }
    };
}

text_id! {
    /// A Plivo account's auth id (`MAXXXXXXXXXXXXXXXXXX`), which calls and rooms belong to.
    AccountId
}

text_id! {
    /// A room's UUID: `ConferenceUUID` of a `<Conference>`, `MPCUUID` of a `<MultiPartyCall>`.
    RoomUuid
}

text_id! {
    /// A recording's id (`RecordingID`).
    RecordingId
}

/// A member's id in its room (Plivo's `ConferenceMemberID` / `MemberID`, and the
/// `member_id` of the Conference API's paths): from 1, never reused by the same registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MemberId(pub u32);

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Names one media operation a call started (speech, playback, beep, tones, recording, …), so
/// that a late completion of something already stopped is recognised and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MediaId(pub u64);

/// Names one HTTP request a call issued; its reply is handed back with the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(pub u64);

impl fmt::Display for MediaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m{}", self.0)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// Generates UUID-shaped identifiers from a seed, deterministically (splitmix64), so that a
/// replay prints the same ids every time. A live server seeds it from the OS.
#[derive(Debug, Clone)]
pub struct IdGen {
    state: u64,
}

impl IdGen {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        IdGen { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A version-4-shaped UUID, e.g. `1b4e28ba-2fa1-41d2-883f-0016d3cca427`.
    pub fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        let time_hi = ((a >> 16) & 0x0fff) | 0x4000;
        let clock = ((b >> 48) & 0x3fff) | 0x8000;
        format!("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, a & 0xffff, time_hi, clock, b & 0xffff_ffff_ffff)
    }
}

/// The 64-bit FNV-1a hash of `s`: stable across runs and Rust versions (unlike
/// `DefaultHasher`), for ids mixed from a seed and for coverage keys.
pub(crate) fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_deterministic_and_well_formed() {
        let mut a = IdGen::new(7);
        let mut b = IdGen::new(7);
        let u = a.uuid();
        assert_eq!(u, b.uuid());
        assert_ne!(u, a.uuid());
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
        assert!(matches!(u.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
    }
}
