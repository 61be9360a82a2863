//! The RTP fixed header (RFC 3550 §5.1): read with `rtp-rs`, written here.

/// Length of the RTP fixed header without CSRCs, in bytes (RFC 3550 §5.1).
pub const HEADER_LEN: usize = 12;

/// The fields of an RTP fixed header (RFC 3550 §5.1) that a voice stream uses.
///
/// CSRCs, a header extension and padding are skipped when reading and never written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RtpHeader {
    /// The marker bit: the first packet of a talkspurt (RFC 3551 §4.1) or of a telephone-event
    /// (RFC 4733 §2.5.1.1).
    pub marker: bool,
    /// The payload type, 0..=127 (7 bits; [`RtpHeader::write`] keeps the low 7).
    pub payload_type: u8,
    /// The sequence number: +1 per packet, wrapping.
    pub sequence: u16,
    /// The RTP timestamp, in clock units (8,000 per second for G.711 and telephone-events).
    pub timestamp: u32,
    /// The synchronization source.
    pub ssrc: u32,
}

/// One received RTP packet, borrowing its datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// The fixed header.
    pub header: RtpHeader,
    /// The payload: after the CSRCs and the header extension, before the padding.
    pub payload: &'a [u8],
}

/// Why a datagram is not an RTP packet (RFC 3550 §5.1, §5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Shorter than the 12-byte fixed header, or than the CSRC list its CC field announces.
    #[error("an RTP packet is at least 12 bytes and holds the CSRCs it counts")]
    TooShort,
    /// The version field is not 2.
    #[error("RTP version {0}, not 2")]
    BadVersion(u8),
    /// The padding bit is set but the last byte's count is 0 or reaches into the header.
    #[error("the RTP padding count is 0 or longer than the payload")]
    BadPadding,
    /// The extension bit is set but the extension header or its data runs past the end.
    #[error("the RTP header extension runs past the end of the packet")]
    BadExtension,
}

impl<'a> RtpPacket<'a> {
    /// Reads one datagram as an RTP packet: version 2, CSRCs, extension and padding checked
    /// and skipped (RFC 3550 §5.1, §5.3.1). RTCP multiplexed on the same port (RFC 5761 §4:
    /// second byte 192–223) parses too: tell the two apart before calling this.
    ///
    /// # Errors
    /// [`RtpError`]: the first of the checks above that fails.
    pub fn parse(datagram: &'a [u8]) -> Result<Self, RtpError> {
        use rtp_rs::{RtpReader, RtpReaderError};
        let reader = RtpReader::new(datagram).map_err(|e| match e {
            RtpReaderError::BufferTooShort(_) => RtpError::TooShort,
            RtpReaderError::UnsupportedVersion(v) => RtpError::BadVersion(v),
            RtpReaderError::PaddingLengthInvalid(_) => RtpError::BadPadding,
            RtpReaderError::HeadersTruncated { .. } => truncated_part(datagram),
        })?;
        Ok(RtpPacket {
            header: RtpHeader {
                marker: reader.mark(),
                payload_type: reader.payload_type(),
                sequence: reader.sequence_number().into(),
                timestamp: reader.timestamp(),
                ssrc: reader.ssrc(),
            },
            payload: reader.payload(),
        })
    }
}

/// Which part `rtp-rs` found truncated: the CSRC list, the extension, or (the only other case)
/// the padding count byte missing after the headers.
fn truncated_part(datagram: &[u8]) -> RtpError {
    let first = datagram.first().copied().unwrap_or(0);
    let csrc_end = HEADER_LEN + 4 * usize::from(first & 0x0F);
    if csrc_end > datagram.len() {
        RtpError::TooShort
    } else if first & 0x10 != 0 {
        RtpError::BadExtension
    } else {
        RtpError::BadPadding
    }
}

impl RtpHeader {
    /// Appends a packet to `out`: this header (version 2, no padding, no extension, no CSRC;
    /// the payload type's low 7 bits) and then `payload` (RFC 3550 §5.1).
    pub fn write(&self, payload: &[u8], out: &mut Vec<u8>) {
        out.reserve(HEADER_LEN + payload.len());
        out.push(0x80);
        out.push(u8::from(self.marker) << 7 | (self.payload_type & 0x7F));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: RtpHeader =
        RtpHeader { marker: true, payload_type: 101, sequence: 0xBEEF, timestamp: 0x0102_0304, ssrc: 0xCAFE_F00D };

    #[test]
    fn writes_the_fixed_header_byte_for_byte() {
        let mut out = vec![0xAA];
        HEADER.write(&[9, 8], &mut out);
        assert_eq!(out, [0xAA, 0x80, 0x80 | 101, 0xBE, 0xEF, 1, 2, 3, 4, 0xCA, 0xFE, 0xF0, 0x0D, 9, 8]);
        let packet = RtpPacket::parse(&out[1..]).unwrap();
        assert_eq!(packet.header, HEADER);
        assert_eq!(packet.payload, [9, 8]);
    }

    #[test]
    fn skips_csrcs_extension_and_padding() {
        // V=2, P=1, X=1, CC=1; one CSRC; extension of one word; payload 7; 3 padding bytes.
        let mut d = vec![0xB1, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        d.extend_from_slice(&[0xDE, 0xAD, 0xBE, 0xEF]); // CSRC
        d.extend_from_slice(&[0xBE, 0xDE, 0, 1, 1, 2, 3, 4]); // extension, 1 word
        d.extend_from_slice(&[7, 0, 0, 3]); // payload 7, padding 3
        let packet = RtpPacket::parse(&d).unwrap();
        assert_eq!(packet.payload, [7]);
        assert_eq!(packet.header.sequence, 1);
        assert_eq!(packet.header.timestamp, 2);
        assert_eq!(packet.header.ssrc, 3);
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(RtpPacket::parse(&[0x80; 11]), Err(RtpError::TooShort));
        let mut d = vec![0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(RtpPacket::parse(&d), Err(RtpError::BadVersion(1)));
        d[0] = 0x81; // one CSRC announced, none there
        assert_eq!(RtpPacket::parse(&d), Err(RtpError::TooShort));
        d[0] = 0x90; // extension announced, none there
        assert_eq!(RtpPacket::parse(&d), Err(RtpError::BadExtension));
        d[0] = 0xA0; // padding announced, no count byte
        assert_eq!(RtpPacket::parse(&d), Err(RtpError::BadPadding));
        d.push(0); // a count of 0
        assert_eq!(RtpPacket::parse(&d), Err(RtpError::BadPadding));
        *d.last_mut().unwrap() = 2; // a count past the payload
        assert_eq!(RtpPacket::parse(&d), Err(RtpError::BadPadding));
    }
}
