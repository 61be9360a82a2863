//! G.711 (ITU-T G.711) μ-law and A-law, the two codecs every SIP peer offers.
//!
//! The sample arithmetic is `audio-codec-algorithms`' (its decode tables come from the ITU-T
//! G.191 software tools); this file names the laws as SDP and RTP do.

/// The sample rate of G.711 audio (and of the RTP clock for its payload types, RFC 3551
/// §4.5.14), the 20 ms frame the packets carry and the mixer works in: one definition, in
/// [`media::mix`](crate::media::mix).
pub use crate::media::mix::{FRAME_SAMPLES, Frame, SAMPLE_RATE};

/// A G.711 companding law, with its RTP static payload type (RFC 3551 §6, table 4) and its SDP
/// encoding name (`a=rtpmap`, RFC 8866 §6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// μ-law (North America, Japan): payload type 0, `PCMU`.
    Pcmu,
    /// A-law (the rest of the world): payload type 8, `PCMA`.
    Pcma,
}

impl Law {
    /// The static RTP payload type: 0 for PCMU, 8 for PCMA (RFC 3551 §6).
    pub fn payload_type(self) -> u8 {
        match self {
            Law::Pcmu => 0,
            Law::Pcma => 8,
        }
    }

    /// The law of a static payload type: 0 → PCMU, 8 → PCMA, anything else `None` (a dynamic
    /// type is known only through its `a=rtpmap`, see [`Law::from_encoding_name`]).
    pub fn from_payload_type(pt: u8) -> Option<Law> {
        match pt {
            0 => Some(Law::Pcmu),
            8 => Some(Law::Pcma),
            _ => None,
        }
    }

    /// The SDP encoding name: `"PCMU"` or `"PCMA"` (RFC 3551 §4.5.14).
    pub fn encoding_name(self) -> &'static str {
        match self {
            Law::Pcmu => "PCMU",
            Law::Pcma => "PCMA",
        }
    }

    /// The law of an `a=rtpmap` encoding name, compared without case as RFC 4855 §3 says
    /// (`"pcmu"` is PCMU); `None` for any other codec.
    pub fn from_encoding_name(name: &str) -> Option<Law> {
        if name.eq_ignore_ascii_case("PCMU") {
            Some(Law::Pcmu)
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(Law::Pcma)
        } else {
            None
        }
    }

    /// Encodes 16-bit linear samples, appending one byte per sample to `out`.
    pub fn encode(self, pcm: &[i16], out: &mut Vec<u8>) {
        let encode = match self {
            Law::Pcmu => audio_codec_algorithms::encode_ulaw,
            Law::Pcma => audio_codec_algorithms::encode_alaw,
        };
        out.extend(pcm.iter().map(|&s| encode(s)));
    }

    /// Decodes G.711 bytes, appending one 16-bit linear sample per byte to `out`.
    pub fn decode(self, bytes: &[u8], out: &mut Vec<i16>) {
        let decode = match self {
            Law::Pcmu => audio_codec_algorithms::decode_ulaw,
            Law::Pcma => audio_codec_algorithms::decode_alaw,
        };
        out.extend(bytes.iter().map(|&b| decode(b)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_types_and_names_are_rfc_3551s() {
        assert_eq!(Law::Pcmu.payload_type(), 0);
        assert_eq!(Law::Pcma.payload_type(), 8);
        assert_eq!(Law::from_payload_type(0), Some(Law::Pcmu));
        assert_eq!(Law::from_payload_type(8), Some(Law::Pcma));
        assert_eq!(Law::from_payload_type(101), None);
        assert_eq!(Law::from_encoding_name("pcma"), Some(Law::Pcma));
        assert_eq!(Law::from_encoding_name("PCMU"), Some(Law::Pcmu));
        assert_eq!(Law::from_encoding_name("G722"), None);
    }

    #[test]
    fn silence_and_extremes_have_the_known_codes() {
        // G.711 tables: μ-law silence is 0xFF, A-law's 0xD5; full scale keeps its sign.
        let mut out = Vec::new();
        Law::Pcmu.encode(&[0, i16::MAX, i16::MIN], &mut out);
        assert_eq!(out, [0xFF, 0x80, 0x00]);
        out.clear();
        Law::Pcma.encode(&[0, i16::MAX, i16::MIN], &mut out);
        assert_eq!(out, [0xD5, 0xAA, 0x2A]);
        let mut pcm = vec![7];
        Law::Pcmu.decode(&[0xFF, 0x80], &mut pcm);
        assert_eq!(pcm, [7, 0, 32124], "decode appends");
    }
}
