//! RFC 4733 telephone-events: the payload, the keys, a receiver that reports each key once and
//! a sender that paces one key into packets.

use super::packet::RtpHeader;

/// Timestamp units in one 20 ms packet interval at 8 kHz.
const TICK: u32 = 160;

/// The RFC 4733 §2.3 telephone-event payload: 4 bytes, network order.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// |     event     |E|R| volume    |          duration             |
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TelephoneEvent {
    /// The event code (RFC 4733 §3.2 for DTMF: 0–9, 10 `*`, 11 `#`, 12–15 `A`–`D`).
    pub event: u8,
    /// The E bit: this packet ends the event.
    pub end: bool,
    /// The power level, 0..=63 meaning 0 to −63 dBm0 (6 bits; [`TelephoneEvent::write`] keeps
    /// the low 6).
    pub volume: u8,
    /// The event's duration so far, in RTP timestamp units (8,000 per second) from the event's
    /// timestamp.
    pub duration: u16,
}

/// Why a payload is not a telephone-event (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TelephoneEventError {
    /// Fewer than the 4 bytes of one event.
    #[error("a telephone-event payload is 4 bytes, this one {len}")]
    TooShort {
        /// The payload's length in bytes.
        len: usize,
    },
}

impl TelephoneEvent {
    /// Payload length in bytes.
    pub const LEN: usize = 4;

    /// Reads the first event block of a payload (RFC 4733 §2.3). The reserved R bit is ignored,
    /// as are bytes after the first 4 (§2.3 defines one block per payload).
    ///
    /// # Errors
    /// [`TelephoneEventError::TooShort`] under 4 bytes.
    pub fn parse(payload: &[u8]) -> Result<Self, TelephoneEventError> {
        let Some(&[event, flags, d0, d1]) = payload.first_chunk::<4>() else {
            return Err(TelephoneEventError::TooShort { len: payload.len() });
        };
        Ok(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([d0, d1]),
        })
    }

    /// Appends the 4-byte payload to `out` (R bit 0, volume's low 6 bits).
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(self.event);
        out.push(u8::from(self.end) << 7 | (self.volume & 0x3F));
        out.extend_from_slice(&self.duration.to_be_bytes());
    }
}

/// The key of a DTMF event code (RFC 4733 §3.2, table 7): 0–9 → `'0'`–`'9'`, 10 → `'*'`,
/// 11 → `'#'`, 12–15 → `'A'`–`'D'`; any other code (tones, line events) `None`.
pub fn event_key(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + (event - 12))),
        _ => None,
    }
}

/// The DTMF event code of a key, the inverse of [`event_key`]; `'a'`–`'d'` are taken as
/// `'A'`–`'D'`. `None` for any other character.
pub fn key_event(key: char) -> Option<u8> {
    match key {
        '0'..='9' => Some(key as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(key as u8 - b'A' + 12),
        'a'..='d' => Some(key as u8 - b'a' + 12),
        _ => None,
    }
}

/// The event being received.
#[derive(Debug, Clone, Copy)]
struct Current {
    ssrc: u32,
    timestamp: u32,
    key: Option<char>,
    reported: bool,
}

/// Receives the telephone-event packets of one stream and reports each key once.
///
/// An event is one RTP timestamp (RFC 4733 §2.5.1.2: every packet of an event carries its
/// start timestamp). Its key is reported on its first end packet, and the two retransmitted
/// end packets (§2.5.1.4) are then ignored; if no end packet comes, the key is reported when
/// a packet of another event arrives (§2.5.2.2), or by [`DtmfReceiver::flush`]. A packet
/// with the timestamp of one of the [`DtmfReceiver::RECENT_EVENTS`] events before the current
/// one is a late one and ignored, so reordering cannot report a key twice. Any other
/// timestamp, older or newer, starts an event: senders that replay canned packets (SIPp's
/// `dtmf_2833_*.pcap`, whose timestamps are those of their capture) may go backwards. The
/// same key replayed with the same timestamp is one event. A new SSRC starts over. Holds one
/// event and the timestamps of the recent ones, whatever the input: nothing grows.
#[derive(Debug, Clone, Default)]
pub struct DtmfReceiver {
    current: Option<Current>,
    /// Timestamps of the events before the current one (same SSRC), a ring.
    recent: [Option<u32>; DtmfReceiver::RECENT_EVENTS],
    /// Where the next timestamp goes in `recent`.
    next_recent: usize,
}

impl DtmfReceiver {
    /// How many earlier events' timestamps are remembered to recognise their late packets.
    pub const RECENT_EVENTS: usize = 8;

    /// A receiver that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one telephone-event packet (its RTP header and parsed payload) and returns the
    /// key it completes, if any. Event codes that are not keys (above 15) are tracked like
    /// keys but never reported.
    pub fn receive(&mut self, header: &RtpHeader, ev: &TelephoneEvent) -> Option<char> {
        let mut same_stream = false;
        if let Some(cur) = self.current.as_mut()
            && cur.ssrc == header.ssrc
        {
            if header.timestamp == cur.timestamp {
                if ev.end && !cur.reported {
                    cur.reported = true;
                    return cur.key;
                }
                return None;
            }
            if self.recent.contains(&Some(header.timestamp)) {
                return None; // a late packet of an earlier event
            }
            same_stream = true;
        }
        // A new event (or the first, or a new stream): the one before it is done.
        let unreported = self.flush();
        if !same_stream {
            self.recent = [None; Self::RECENT_EVENTS];
        }
        if let Some(cur) = self.current {
            if let Some(slot) = self.recent.get_mut(self.next_recent) {
                *slot = Some(cur.timestamp);
            }
            self.next_recent = (self.next_recent + 1) % Self::RECENT_EVENTS;
        }
        self.current = Some(Current {
            ssrc: header.ssrc,
            timestamp: header.timestamp,
            key: event_key(ev.event),
            reported: ev.end,
        });
        match unreported {
            Some(key) => {
                // Two keys at once (the previous one lost its end packets and this packet is
                // an end packet itself): report the earlier now, this one on its next end
                // packet, its successor, or `flush`.
                if ev.end
                    && let Some(cur) = self.current.as_mut()
                {
                    cur.reported = false;
                }
                Some(key)
            }
            None if ev.end => event_key(ev.event),
            None => None,
        }
    }

    /// The key of the current event if it was never reported (its end packets were all lost):
    /// call when the stream ends. Marks it reported.
    pub fn flush(&mut self) -> Option<char> {
        let cur = self.current.as_mut()?;
        if cur.reported {
            return None;
        }
        cur.reported = true;
        cur.key
    }
}

/// Sends one key as RFC 4733 packets, one per 20 ms tick.
///
/// The first packet has the marker bit (§2.5.1.1); each carries the duration so far, +160
/// timestamp units a tick (§2.5.1.2); the last tick's packet is the end packet, sent three
/// times (§2.5.1.4). All go with the event's start timestamp and each its own sequence number,
/// which the caller puts in the [`RtpHeader`]. A key of `n` ticks (its duration in 20 ms,
/// rounded up) gives `n + 2` packets.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    event: u8,
    volume: u8,
    /// Total duration in timestamp units, at least one tick.
    total: u16,
    /// Packets already given.
    sent: u32,
}

impl DtmfSender {
    /// The longest key, in ms: its duration must fit the 16-bit field (65,535 units = 8.19 s);
    /// longer ones are cut to this (§2.5.1.3's segments are not sent).
    pub const MAX_DURATION_MS: u32 = 8_000;

    /// Times the end packet is sent (RFC 4733 §2.5.1.4).
    pub const END_PACKETS: u32 = 3;

    /// A sender for `key` (see [`key_event`]) lasting `duration_ms` (at least one 20 ms tick,
    /// at most [`DtmfSender::MAX_DURATION_MS`]) at `volume` (0..=63, −dBm0; higher is cut to
    /// 63). `None` if `key` is not a DTMF key.
    pub fn new(key: char, duration_ms: u32, volume: u8) -> Option<Self> {
        let event = key_event(key)?;
        let ms = duration_ms.clamp(20, Self::MAX_DURATION_MS);
        let total = u16::try_from(ms * 8).unwrap_or(u16::MAX);
        Some(DtmfSender { event, volume: volume.min(63), total, sent: 0 })
    }

    /// The event's duration in timestamp units (8,000 per second).
    pub fn duration(&self) -> u16 {
        self.total
    }

    /// The next tick's packet: the marker bit for its RTP header and its payload; `None` once
    /// the last end packet was given.
    pub fn next_payload(&mut self) -> Option<(bool, TelephoneEvent)> {
        let total = u32::from(self.total);
        let ticks = total.div_ceil(TICK);
        if self.sent >= ticks - 1 + Self::END_PACKETS {
            return None;
        }
        let marker = self.sent == 0;
        let so_far = (self.sent + 1) * TICK;
        let end = so_far >= total;
        let duration = if end { self.total } else { u16::try_from(so_far).unwrap_or(u16::MAX) };
        self.sent += 1;
        Some((marker, TelephoneEvent { event: self.event, end, volume: self.volume, duration }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(timestamp: u32) -> RtpHeader {
        RtpHeader { marker: false, payload_type: 101, sequence: 0, timestamp, ssrc: 7 }
    }

    fn ev(event: u8, end: bool) -> TelephoneEvent {
        TelephoneEvent { event, end, volume: 10, duration: 160 }
    }

    #[test]
    fn payload_bytes_are_rfc_4733s() {
        let e = TelephoneEvent { event: 11, end: true, volume: 10, duration: 800 };
        let mut out = Vec::new();
        e.write(&mut out);
        assert_eq!(out, [11, 0x8A, 0x03, 0x20]);
        assert_eq!(TelephoneEvent::parse(&out), Ok(e));
        // The R bit is ignored.
        assert_eq!(TelephoneEvent::parse(&[11, 0xCA, 3, 0x20]), Ok(e));
        assert_eq!(TelephoneEvent::parse(&[1, 2, 3]), Err(TelephoneEventError::TooShort { len: 3 }));
    }

    #[test]
    fn keys_map_both_ways() {
        let keys = "0123456789*#ABCD";
        for (code, key) in keys.chars().enumerate() {
            let code = code as u8;
            assert_eq!(event_key(code), Some(key));
            assert_eq!(key_event(key), Some(code));
        }
        assert_eq!(key_event('d'), Some(15));
        assert_eq!(event_key(16), None);
        assert_eq!(key_event('E'), None);
    }

    #[test]
    fn reports_on_the_first_end_packet_once() {
        let mut rx = DtmfReceiver::new();
        assert_eq!(rx.receive(&header(1000), &ev(5, false)), None);
        assert_eq!(rx.receive(&header(1000), &ev(5, true)), Some('5'));
        assert_eq!(rx.receive(&header(1000), &ev(5, true)), None);
        assert_eq!(rx.receive(&header(1000), &ev(5, true)), None);
        assert_eq!(rx.flush(), None);
    }

    #[test]
    fn a_lost_end_is_reported_when_the_next_event_starts_or_on_flush() {
        let mut rx = DtmfReceiver::new();
        assert_eq!(rx.receive(&header(1000), &ev(1, false)), None);
        assert_eq!(rx.receive(&header(2000), &ev(2, false)), Some('1'));
        // The next event's first packet is already an end packet: '2' now, '3' on its repeat.
        assert_eq!(rx.receive(&header(3000), &ev(3, true)), Some('2'));
        assert_eq!(rx.receive(&header(3000), &ev(3, true)), Some('3'));
        assert_eq!(rx.receive(&header(4000), &ev(4, false)), None);
        assert_eq!(rx.flush(), Some('4'));
        assert_eq!(rx.flush(), None);
    }

    #[test]
    fn late_packets_and_non_keys_are_not_reported() {
        let mut rx = DtmfReceiver::new();
        assert_eq!(rx.receive(&header(u32::MAX - 10), &ev(1, true)), Some('1'));
        // Wrapped timestamp: newer.
        assert_eq!(rx.receive(&header(5), &ev(2, true)), Some('2'));
        // A late end packet of '1'.
        assert_eq!(rx.receive(&header(u32::MAX - 10), &ev(1, true)), None);
        // Event 16 (a tone) is not a key.
        assert_eq!(rx.receive(&header(100), &ev(16, true)), None);
        // Another SSRC starts over, even with an older timestamp.
        let other = RtpHeader { ssrc: 8, ..header(1) };
        assert_eq!(rx.receive(&other, &ev(9, true)), Some('9'));
    }

    #[test]
    fn a_timestamp_going_back_to_an_unseen_value_is_a_new_key() {
        // SIPp's dtmf_2833_9.pcap (timestamp 67840) then dtmf_2833_1.pcap (13280).
        let mut rx = DtmfReceiver::new();
        assert_eq!(rx.receive(&header(67840), &ev(9, false)), None);
        assert_eq!(rx.receive(&header(67840), &ev(9, true)), Some('9'));
        assert_eq!(rx.receive(&header(13280), &ev(1, false)), None);
        assert_eq!(rx.receive(&header(67840), &ev(9, true)), None, "late, still known");
        assert_eq!(rx.receive(&header(13280), &ev(1, true)), Some('1'));
    }

    #[test]
    fn remembers_only_the_recent_events() {
        let mut rx = DtmfReceiver::new();
        let events = DtmfReceiver::RECENT_EVENTS as u32 + 1;
        for i in 0..=events {
            assert_eq!(rx.receive(&header(i * 1000), &ev(1, true)), Some('1'));
        }
        // The first event's timestamp has left the ring: its packet now starts an event.
        assert_eq!(rx.receive(&header(0), &ev(2, true)), Some('2'));
        // The one right before the current is still known.
        assert_eq!(rx.receive(&header(events * 1000), &ev(3, true)), None);
    }

    #[test]
    fn sender_paces_one_key() {
        let mut tx = DtmfSender::new('#', 100, 10).unwrap();
        assert_eq!(tx.duration(), 800);
        let mut got = Vec::new();
        while let Some((marker, e)) = tx.next_payload() {
            assert_eq!((e.event, e.volume), (11, 10));
            got.push((marker, e.end, e.duration));
        }
        assert_eq!(
            got,
            [
                (true, false, 160),
                (false, false, 320),
                (false, false, 480),
                (false, false, 640),
                (false, true, 800),
                (false, true, 800),
                (false, true, 800),
            ]
        );
        assert!(DtmfSender::new('x', 100, 10).is_none());
    }

    #[test]
    fn sender_bounds_duration_and_volume() {
        let mut tx = DtmfSender::new('1', 0, 200).unwrap();
        assert_eq!(tx.next_payload().map(|(m, e)| (m, e.end, e.duration, e.volume)), Some((true, true, 160, 63)));
        assert_eq!(tx.next_payload().map(|(m, e)| (m, e.end)), Some((false, true)));
        assert_eq!(tx.next_payload().map(|(m, e)| (m, e.end)), Some((false, true)));
        assert_eq!(tx.next_payload(), None);
        let long = DtmfSender::new('1', u32::MAX, 0).unwrap();
        assert_eq!(long.duration(), 64_000);
        // 50 ms: three ticks, the last end packet carries the exact 400.
        let mut odd = DtmfSender::new('1', 50, 0).unwrap();
        let durations: Vec<_> = std::iter::from_fn(|| odd.next_payload()).map(|(_, e)| e.duration).collect();
        assert_eq!(durations, [160, 320, 400, 400, 400]);
    }
}
