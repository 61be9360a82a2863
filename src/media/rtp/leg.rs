//! One call's RTP stream, both ways: what a SIP shell keeps for a call beside its socket.

use std::collections::VecDeque;

use super::{DtmfReceiver, DtmfSender, FRAME_SAMPLES, Frame, Framer, Law, RtpError, RtpHeader, RtpPacket, SdpAnswer};
use super::{TelephoneEvent, key_event};

/// Most keys waiting to be sent or to be taken ([`Leg::send_digits`], [`Leg::poll_key`]);
/// beyond, further keys are dropped and counted in [`LegStats::keys_dropped`].
pub const MAX_KEYS: usize = 64;

/// How long a sent key lasts, ms: with its three end packets it takes 200 ms of the stream,
/// then [`KEY_GAP_TICKS`] of audio follow; about the 250 ms a key takes in the simulation.
pub const KEY_MS: u32 = 160;

/// Ticks of audio between two sent keys.
pub const KEY_GAP_TICKS: u32 = 2;

/// The RFC 4733 volume of sent keys (−10 dBm0).
pub const KEY_VOLUME: u8 = 10;

/// What the stream carries, as negotiated ([`SdpAnswer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegConfig {
    /// The codec.
    pub law: Law,
    /// Its payload type, both ways (RFC 3264 §6.1).
    pub payload_type: u8,
    /// The telephone-event payload type, if the peer offered RFC 4733.
    pub telephone_event: Option<u8>,
}

impl From<&SdpAnswer> for LegConfig {
    fn from(a: &SdpAnswer) -> Self {
        LegConfig { law: a.law, payload_type: a.payload_type, telephone_event: a.telephone_event }
    }
}

/// Counts of one [`Leg`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegStats {
    /// Packets received and used (audio or telephone-event).
    pub packets_in: u64,
    /// Packets sent.
    pub packets_out: u64,
    /// Audio packets that came after a later one (by sequence number): dropped, there is no
    /// jitter buffer.
    pub late: u64,
    /// Datagrams that were not RTP, or of another payload type.
    pub ignored: u64,
    /// Times the peer's SSRC changed (each new source is followed).
    pub ssrc_changes: u64,
    /// Keys dropped: the send or receive queue was full, or the peer takes no telephone-events.
    pub keys_dropped: u64,
}

/// One call's RTP stream, sans-IO: datagrams in ([`receive`](Self::receive)) become 20 ms
/// frames ([`pop_frame`](Self::pop_frame)) and keys ([`poll_key`](Self::poll_key)); each tick,
/// [`transmit`](Self::transmit) turns the frame the call hears into one datagram, or into a
/// telephone-event packet while keys are being sent (RFC 4733 §2.5.1: events replace the audio).
///
/// The peer's latest source is followed (a new SSRC is counted and restarts the sequence
/// order); audio older than the newest packet of its source is dropped as late (RFC 3550
/// sequence order, modulo 2^16).
#[derive(Debug)]
pub struct Leg {
    config: LegConfig,
    // Sending (RFC 3550 §5.1: random initial sequence and timestamp, chosen by the caller).
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    started: bool,
    to_send: VecDeque<char>,
    sending: Option<(DtmfSender, u32)>,
    gap: u32,
    // Receiving.
    peer: Option<u32>,
    newest: Option<u16>,
    framer: Framer,
    dtmf: DtmfReceiver,
    keys: VecDeque<char>,
    pcm: Vec<i16>,
    payload: Vec<u8>,
    stats: LegStats,
}

impl Leg {
    /// A stream sending as `ssrc` from `sequence` and `timestamp` (pick them at random, RFC
    /// 3550 §5.1).
    pub fn new(config: LegConfig, ssrc: u32, sequence: u16, timestamp: u32) -> Self {
        Leg {
            config,
            ssrc,
            sequence,
            timestamp,
            started: false,
            to_send: VecDeque::new(),
            sending: None,
            gap: 0,
            peer: None,
            newest: None,
            framer: Framer::new(),
            dtmf: DtmfReceiver::new(),
            keys: VecDeque::new(),
            pcm: Vec::with_capacity(FRAME_SAMPLES * 2),
            payload: Vec::with_capacity(FRAME_SAMPLES),
            stats: LegStats::default(),
        }
    }

    /// What it carries.
    pub fn config(&self) -> LegConfig {
        self.config
    }

    /// Its counts.
    pub fn stats(&self) -> LegStats {
        self.stats
    }

    /// Takes one datagram from the peer.
    ///
    /// # Errors
    /// The [`RtpError`] of a datagram that is not RTP (it is also counted as ignored).
    pub fn receive(&mut self, datagram: &[u8]) -> Result<(), RtpError> {
        let packet = match RtpPacket::parse(datagram) {
            Ok(p) => p,
            Err(e) => {
                self.stats.ignored += 1;
                return Err(e);
            }
        };
        let h = packet.header;
        // RTCP sharing the port (RFC 5761 §4: packet types 200–207 read as payload types
        // 72–79) and payload types not negotiated are not the stream.
        let is_event = Some(h.payload_type) == self.config.telephone_event;
        if !is_event && h.payload_type != self.config.payload_type {
            self.stats.ignored += 1;
            return Ok(());
        }
        if self.peer.replace(h.ssrc).is_some_and(|old| old != h.ssrc) {
            // The peer started another source (a restarted stream, a media server switching
            // what it plays): follow it, its sequence numbers afresh (RFC 3550 §8.2).
            self.stats.ssrc_changes += 1;
            self.newest = None;
        }
        if is_event {
            let Ok(ev) = TelephoneEvent::parse(packet.payload) else {
                self.stats.ignored += 1;
                return Ok(());
            };
            self.stats.packets_in += 1;
            if let Some(key) = self.dtmf.receive(&h, &ev) {
                self.push_key(key);
            }
            return Ok(());
        }
        if let Some(newest) = self.newest
            && (h.sequence.wrapping_sub(newest) as i16) <= 0
        {
            self.stats.late += 1;
            return Ok(());
        }
        self.newest = Some(h.sequence);
        self.stats.packets_in += 1;
        self.pcm.clear();
        self.config.law.decode(packet.payload, &mut self.pcm);
        self.framer.push(&self.pcm);
        Ok(())
    }

    /// The next 20 ms the peer said, in arrival order.
    pub fn pop_frame(&mut self) -> Option<Frame> {
        self.framer.pop()
    }

    /// The next key the peer pressed (each once, RFC 4733 §2.5.2).
    pub fn poll_key(&mut self) -> Option<char> {
        self.keys.pop_front()
    }

    /// The stream ended (BYE): a key whose end packets were all lost is reported now.
    pub fn close(&mut self) {
        if let Some(key) = self.dtmf.flush() {
            self.push_key(key);
        }
    }

    /// Queues keys to send as telephone-events (`0-9*#A-D`; `w` pauses 0.5 s, `W` 1 s; other
    /// characters are skipped). Without a negotiated telephone-event payload type nothing is
    /// sent and the keys count as dropped.
    pub fn send_digits(&mut self, digits: &str) {
        for c in digits.chars().filter(|c| matches!(c, 'w' | 'W') || key_event(*c).is_some()) {
            if self.config.telephone_event.is_none() || self.to_send.len() >= MAX_KEYS {
                self.stats.keys_dropped += 1;
            } else {
                self.to_send.push_back(c);
            }
        }
    }

    /// Whether keys are still being sent.
    pub fn is_sending_keys(&self) -> bool {
        self.sending.is_some() || !self.to_send.is_empty()
    }

    /// This tick's datagram into `out` (cleared first): `frame` as audio, or the key being
    /// sent. The RTP timestamp advances 160 a tick either way.
    pub fn transmit(&mut self, frame: &Frame, out: &mut Vec<u8>) {
        out.clear();
        let now = self.timestamp;
        self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES as u32);
        self.sequence = self.sequence.wrapping_add(1);
        self.stats.packets_out += 1;
        self.payload.clear();
        let (marker, payload_type, timestamp) = match self.next_event(now) {
            Some((marker, ev, start, te)) => {
                ev.write(&mut self.payload);
                (marker, te, start)
            }
            None => {
                self.config.law.encode(frame, &mut self.payload);
                (!std::mem::replace(&mut self.started, true), self.config.payload_type, now)
            }
        };
        RtpHeader { marker, payload_type, sequence: self.sequence, timestamp, ssrc: self.ssrc }
            .write(&self.payload, out);
    }

    /// The telephone-event to send this tick, if a key is being sent: its marker bit, payload,
    /// the event's start timestamp and the telephone-event payload type. Starts the next key
    /// (or pause) when the last is done.
    fn next_event(&mut self, now: u32) -> Option<(bool, TelephoneEvent, u32, u8)> {
        // Keys are queued only when telephone-events were negotiated.
        let te = self.config.telephone_event?;
        loop {
            if let Some((sender, start)) = &mut self.sending {
                if let Some((marker, ev)) = sender.next_payload() {
                    return Some((marker, ev, *start, te));
                }
                self.sending = None;
                self.gap = KEY_GAP_TICKS;
            }
            if self.gap > 0 {
                self.gap -= 1;
                return None;
            }
            match self.to_send.pop_front()? {
                'w' => self.gap = 25,
                'W' => self.gap = 50,
                key => self.sending = DtmfSender::new(key, KEY_MS, KEY_VOLUME).map(|s| (s, now)),
            }
        }
    }

    fn push_key(&mut self, key: char) {
        if self.keys.len() >= MAX_KEYS {
            self.stats.keys_dropped += 1;
        } else {
            self.keys.push_back(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::mix::SILENCE;

    const PCMU: LegConfig = LegConfig { law: Law::Pcmu, payload_type: 0, telephone_event: Some(101) };

    fn pair() -> (Leg, Leg) {
        (Leg::new(PCMU, 1, 100, 1000), Leg::new(PCMU, 2, 65_530, u32::MAX - 200))
    }

    #[test]
    fn audio_crosses_both_ways_and_late_packets_are_dropped() {
        let (mut a, mut b) = pair();
        let mut loud = SILENCE;
        loud.iter_mut().enumerate().for_each(|(i, s)| *s = if i % 2 == 0 { 4000 } else { -4000 });
        let mut d = Vec::new();
        let mut old = Vec::new();
        let mut frames = Vec::new();
        for i in 0..10 {
            b.transmit(&loud, &mut d);
            if i == 3 {
                old = d.clone();
            }
            a.receive(&d).unwrap();
            frames.extend(a.pop_frame());
        }
        a.receive(&old).unwrap();
        assert_eq!(a.stats().late, 1);
        assert_eq!(a.stats().packets_in, 10, "the sequence wrapped at 65,535 without loss");
        assert_eq!(frames.len(), 10);
        assert!(a.pop_frame().is_none(), "the late packet gave no frame");
        assert!(frames.iter().flatten().all(|&s| (i32::from(s.unsigned_abs()) - 4000).abs() < 200));
        a.transmit(&SILENCE, &mut d);
        b.receive(&d).unwrap();
        assert!(b.pop_frame().is_some_and(|f| f.iter().all(|&s| s.abs() < 10)));
    }

    #[test]
    fn keys_sent_are_received_once_each_with_pauses() {
        let (mut a, mut b) = pair();
        a.send_digits("12w#x");
        let mut d = Vec::new();
        let mut ticks = 0;
        while a.is_sending_keys() {
            a.transmit(&SILENCE, &mut d);
            b.receive(&d).unwrap();
            ticks += 1;
            assert!(ticks < 1000);
        }
        let keys: String = std::iter::from_fn(|| b.poll_key()).collect();
        assert_eq!(keys, "12#");
        // Three keys of 10 packets; 2 audio ticks after '1', 2 + 25 (the pause) after '2', and
        // the tick after '#' on which the sender finds it is done.
        assert_eq!(ticks, 3 * 10 + 2 + (2 + 25) + 1);
        assert_eq!(
            (b.stats().packets_in, b.stats().late, b.stats().ignored),
            (60, 0, 0),
            "events and the audio between"
        );
    }

    #[test]
    fn without_telephone_event_keys_are_dropped_and_a_new_source_is_followed() {
        let mut a = Leg::new(LegConfig { telephone_event: None, ..PCMU }, 1, 0, 0);
        a.send_digits("123");
        assert!(!a.is_sending_keys());
        assert_eq!(a.stats().keys_dropped, 3);
        let (mut b, mut c) = (Leg::new(PCMU, 2, 0, 0), Leg::new(PCMU, 3, 0, 0));
        let mut d = Vec::new();
        b.transmit(&SILENCE, &mut d);
        b.transmit(&SILENCE, &mut d);
        a.receive(&d).unwrap();
        // c's sequence starts below b's: as a new source it is not late.
        c.transmit(&SILENCE, &mut d);
        a.receive(&d).unwrap();
        assert_eq!((a.stats().packets_in, a.stats().late, a.stats().ssrc_changes), (2, 0, 1));
        assert!(a.receive(&[0x80]).is_err());
        assert_eq!(a.stats().ignored, 1);
        // An RTCP receiver report on the same port (PT byte 201): ignored, the source kept.
        let rtcp =
            [0x81, 201, 0, 7, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        a.receive(&rtcp).unwrap();
        assert_eq!((a.stats().ignored, a.stats().ssrc_changes), (2, 1));
    }
}
