//! One sound: a stretch of silence, a tone (or a train of them), or PCM samples.

use std::sync::Arc;

use super::{SAMPLE_RATE, samples_in_ms};

/// A sine tone switched on and off `count` times: `on_ms` of tone, then `off_ms` of silence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tone {
    /// Frequency, Hz.
    pub frequency_hz: f32,
    /// Peak amplitude (of 32,767).
    pub amplitude: i16,
    /// Tone, ms.
    pub on_ms: u32,
    /// Silence after each tone, ms.
    pub off_ms: u32,
    /// How many times.
    pub count: u32,
}

/// One beep of `beep:N` (`enterSound`, `exitSound`, `playBeep`): 1 kHz for 400 ms, then 100 ms
/// of silence, peaking at −9 dBFS (−12 dBFS RMS). Plivo does not publish its beep; this one takes the 0.5 s the
/// simulated media gives a beep ([`MediaTiming`](crate::media::MediaTiming)), so a flow lasts
/// as long on real audio as in `run`.
pub const BEEP: Tone = Tone { frequency_hz: 1000.0, amplitude: 11_600, on_ms: 400, off_ms: 100, count: 1 };

impl Tone {
    /// The same tone `count` times.
    pub const fn times(self, count: u32) -> Tone {
        Tone { count, ..self }
    }

    fn period(&self) -> u64 {
        samples_in_ms(u64::from(self.on_ms)).saturating_add(samples_in_ms(u64::from(self.off_ms)))
    }

    fn sample(&self, at: u64) -> i16 {
        let period = self.period();
        let within = if period == 0 { 0 } else { at % period };
        if within >= samples_in_ms(u64::from(self.on_ms)) {
            return 0;
        }
        let t = within as f64 / f64::from(SAMPLE_RATE);
        let v = f64::from(self.amplitude) * (2.0 * std::f64::consts::PI * f64::from(self.frequency_hz) * t).sin();
        v as i16
    }
}

/// One sound of a media operation. Cheap to clone: PCM is shared.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Silence for this many samples (`<Wait>`, a `w` in digits).
    Silence(u64),
    /// A tone train (beeps).
    Tone(Tone),
    /// Samples at [`SAMPLE_RATE`]: decoded `<Play>` audio or synthesised `<Speak>` speech.
    Pcm(Arc<[i16]>),
}

impl Source {
    /// `ms` milliseconds of silence.
    pub fn silence_ms(ms: u64) -> Source {
        Source::Silence(samples_in_ms(ms))
    }

    /// `count` beeps ([`BEEP`]).
    pub fn beeps(count: u8) -> Source {
        Source::Tone(BEEP.times(u32::from(count)))
    }

    /// Its length in samples.
    pub fn len(&self) -> u64 {
        match self {
            Source::Silence(n) => *n,
            Source::Tone(t) => t.period().saturating_mul(u64::from(t.count)),
            Source::Pcm(pcm) => pcm.len() as u64,
        }
    }

    /// Whether it holds no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes its samples from sample `from` on into `out`, as many as fit and as it has;
    /// returns how many it wrote (0 once `from` reaches [`len`](Self::len)).
    pub fn render(&self, from: u64, out: &mut [i16]) -> usize {
        let left = self.len().saturating_sub(from);
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(out.len());
        let Some(out) = out.get_mut(..n) else { return 0 };
        match self {
            Source::Silence(_) => out.fill(0),
            Source::Tone(t) => {
                for (i, s) in out.iter_mut().enumerate() {
                    *s = t.sample(from + i as u64);
                }
            }
            Source::Pcm(pcm) => {
                let start = usize::try_from(from).unwrap_or(usize::MAX);
                if let Some(src) = pcm.get(start..start.saturating_add(n)) {
                    out.copy_from_slice(src);
                }
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::mix::{goertzel_power, rms_dbfs};

    #[test]
    fn a_beep_is_a_kilohertz_tone_then_silence() {
        let beep = Source::beeps(1);
        assert_eq!(beep.len(), 4000);
        let mut out = vec![1i16; 4000];
        assert_eq!(beep.render(0, &mut out), 4000);
        let (tone, gap) = out.split_at(3200);
        assert!(goertzel_power(tone, 1000.0, 8000) > 0.02);
        assert!(goertzel_power(tone, 500.0, 8000) < 0.0001);
        assert!((rms_dbfs(tone) + 12.0).abs() < 1.0, "{}", rms_dbfs(tone));
        assert!(gap.iter().all(|&s| s == 0));
        assert_eq!(Source::beeps(2).len(), 8000);
    }

    #[test]
    fn render_stops_at_the_end_and_resumes_where_asked() {
        let pcm: Arc<[i16]> = (1..=10).collect::<Vec<i16>>().into();
        let s = Source::Pcm(pcm);
        let mut out = [0i16; 4];
        assert_eq!(s.render(8, &mut out), 2);
        assert_eq!(out[..2], [9, 10]);
        assert_eq!(s.render(10, &mut out), 0);
        assert_eq!(s.render(u64::MAX, &mut out), 0);
        assert_eq!(Source::silence_ms(20).len(), 160);
    }
}
