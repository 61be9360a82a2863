//! Re-slicing received audio into 20 ms frames.

use std::collections::VecDeque;

use super::g711::{FRAME_SAMPLES, Frame};

/// Re-slices decoded samples of any packet size into 20 ms [`Frame`]s.
///
/// Peers choose their own packetization (`a=ptime`; SIPp's `g711a.pcap` sends 30 ms, 240
/// samples a packet); the mixer works in 20 ms ticks. Bounded: at most
/// [`Framer::MAX_BUFFERED`] samples wait; past that the oldest are dropped and counted
/// ([`Framer::dropped`]), so a peer that sends faster than it is read cannot grow memory.
/// Every sample pushed is, at any time, popped, buffered or dropped.
#[derive(Debug, Clone, Default)]
pub struct Framer {
    buf: VecDeque<i16>,
    dropped: u64,
}

impl Framer {
    /// The most samples held: 8 frames, 160 ms at 8 kHz (jitter a voice stream can have
    /// without the caller falling behind).
    pub const MAX_BUFFERED: usize = 8 * FRAME_SAMPLES;

    /// An empty framer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends samples; if more than [`Framer::MAX_BUFFERED`] would then wait, the oldest
    /// are dropped (and counted) first.
    pub fn push(&mut self, pcm: &[i16]) {
        let keep = if pcm.len() > Self::MAX_BUFFERED {
            self.drop_oldest(self.buf.len());
            let (old, kept) = pcm.split_at(pcm.len() - Self::MAX_BUFFERED);
            self.dropped += old.len() as u64;
            kept
        } else {
            let over = (self.buf.len() + pcm.len()).saturating_sub(Self::MAX_BUFFERED);
            self.drop_oldest(over);
            pcm
        };
        self.buf.extend(keep);
    }

    /// The next full 20 ms frame, oldest samples first; `None` while fewer than
    /// [`FRAME_SAMPLES`] wait.
    pub fn pop(&mut self) -> Option<Frame> {
        if self.buf.len() < FRAME_SAMPLES {
            return None;
        }
        let mut frame = [0; FRAME_SAMPLES];
        for (slot, sample) in frame.iter_mut().zip(self.buf.drain(..FRAME_SAMPLES)) {
            *slot = sample;
        }
        Some(frame)
    }

    /// Samples waiting (fewer than [`Framer::MAX_BUFFERED`] + 1).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Samples dropped since creation because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn drop_oldest(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
        self.dropped += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_30_ms_packets_make_two_20_ms_frames_in_order() {
        let mut f = Framer::new();
        let samples: Vec<i16> = (0..720).map(|i| i as i16).collect();
        let mut frames = Vec::new();
        for packet in samples.chunks(240) {
            f.push(packet);
            while let Some(frame) = f.pop() {
                frames.push(frame);
            }
        }
        // 720 samples: four and a half frames; the half waits.
        assert_eq!(frames.len(), 4);
        assert_eq!(f.buffered(), 80);
        let flat: Vec<i16> = frames.iter().flatten().copied().collect();
        assert_eq!(flat, samples[..640]);
        assert_eq!(f.dropped(), 0);
    }

    #[test]
    fn drops_the_oldest_past_the_bound() {
        let mut f = Framer::new();
        f.push(&[1; Framer::MAX_BUFFERED]);
        f.push(&[2; 10]);
        assert_eq!(f.buffered(), Framer::MAX_BUFFERED);
        assert_eq!(f.dropped(), 10);
        f.push(&vec![3; Framer::MAX_BUFFERED + 5]);
        assert_eq!(f.buffered(), Framer::MAX_BUFFERED);
        assert_eq!(f.dropped(), 10 + Framer::MAX_BUFFERED as u64 + 5);
        assert_eq!(f.pop().map(|fr| fr[0]), Some(3));
    }
}
