//! When a recording ends: its `maxLength`, and the silence of `<Record timeout>`.

use std::time::Duration;

use super::{FRAME_SAMPLES, Frame, rms_dbfs, samples_in_ms};

/// Why a recording ended by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordEnd {
    /// It reached its `maxLength`.
    MaxLength,
    /// The caller was silent for its `timeout` (`<Record timeout>`: "seconds of silence
    /// before considering the recording complete", counted from the start too, so a caller
    /// who never speaks is recorded for `timeout`).
    Silence,
    /// It was stopped ([`Recorder::stop`]: `StopRecording`, a key, the call's end).
    Stopped,
}

/// The level below which a frame counts as silence: −45 dBFS RMS, about the noise floor of a
/// quiet G.711 line (μ-law's smallest step is about −78 dBFS; speech sits near −20).
pub const SILENCE_THRESHOLD_DBFS: f64 = -45.0;

/// Follows one recording frame by frame and says when it ends by itself. It keeps no samples:
/// the shell writes each frame it pushes (to a WAV file, say), so a recording costs the same
/// memory whatever its length.
#[derive(Debug, Clone)]
pub struct Recorder {
    samples: u64,
    max_samples: Option<u64>,
    silence_samples: Option<u64>,
    silent_run: u64,
    ended: Option<RecordEnd>,
}

impl Recorder {
    /// A recording of at most `max_length` (none: until stopped) that ends after
    /// `silence_timeout` of silence (none: silence does not end it).
    pub fn new(max_length: Option<Duration>, silence_timeout: Option<Duration>) -> Self {
        let to_samples = |d: Duration| samples_in_ms(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Recorder {
            samples: 0,
            max_samples: max_length.map(to_samples),
            silence_samples: silence_timeout.map(to_samples),
            silent_run: 0,
            ended: None,
        }
    }

    /// Takes the next 20 ms. Returns why the recording ended, once, on the frame that ends it
    /// (that frame is part of the recording); frames pushed after that are ignored.
    pub fn push(&mut self, frame: &Frame) -> Option<RecordEnd> {
        if self.ended.is_some() {
            return None;
        }
        self.samples += FRAME_SAMPLES as u64;
        if rms_dbfs(frame) < SILENCE_THRESHOLD_DBFS {
            self.silent_run += FRAME_SAMPLES as u64;
        } else {
            self.silent_run = 0;
        }
        let end = if self.max_samples.is_some_and(|max| self.samples >= max) {
            Some(RecordEnd::MaxLength)
        } else if self.silence_samples.is_some_and(|s| self.silent_run >= s) {
            Some(RecordEnd::Silence)
        } else {
            None
        };
        self.ended = end;
        end
    }

    /// Ends it now (if it has not ended); frames pushed after this are ignored.
    pub fn stop(&mut self) {
        self.ended.get_or_insert(RecordEnd::Stopped);
    }

    /// Whether it has ended, and why.
    pub fn ended(&self) -> Option<RecordEnd> {
        self.ended
    }

    /// Its length so far, ms (`RecordingDuration` is this over 1,000).
    pub fn duration_ms(&self) -> u64 {
        self.samples / (super::SAMPLE_RATE as u64 / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::mix::SILENCE;

    const SPEECH: Frame = {
        let mut f = [0i16; FRAME_SAMPLES];
        let mut i = 0;
        while i < FRAME_SAMPLES {
            f[i] = if i % 2 == 0 { 3000 } else { -3000 };
            i += 1;
        }
        f
    };

    fn frames_until_end(
        r: &mut Recorder,
        pattern: impl Fn(usize) -> Frame,
        limit: usize,
    ) -> Option<(usize, RecordEnd)> {
        (0..limit).find_map(|i| r.push(&pattern(i)).map(|e| (i + 1, e)))
    }

    #[test]
    fn silence_ends_it_after_timeout_counted_from_the_last_speech() {
        let mut r = Recorder::new(Some(Duration::from_secs(60)), Some(Duration::from_secs(2)));
        // 1 s of speech, then silence: 2 s of it (100 frames) end the recording at 3 s.
        let end = frames_until_end(&mut r, |i| if i < 50 { SPEECH } else { SILENCE }, 1000);
        assert_eq!(end, Some((150, RecordEnd::Silence)));
        assert_eq!(r.duration_ms(), 3000);
        assert_eq!(r.push(&SPEECH), None, "an ended recording takes nothing more");
        assert_eq!(r.duration_ms(), 3000);
        r.stop();
        assert_eq!(r.ended(), Some(RecordEnd::Silence), "stopping an ended one keeps why it ended");
        let mut r = Recorder::new(None, None);
        r.push(&SPEECH);
        r.stop();
        assert_eq!((r.ended(), r.push(&SPEECH), r.duration_ms()), (Some(RecordEnd::Stopped), None, 20));
    }

    #[test]
    fn a_silent_caller_is_recorded_for_the_timeout() {
        let mut r = Recorder::new(None, Some(Duration::from_secs(1)));
        assert_eq!(frames_until_end(&mut r, |_| SILENCE, 1000), Some((50, RecordEnd::Silence)));
    }

    #[test]
    fn max_length_ends_a_talkative_one_and_no_limit_never_ends() {
        let mut r = Recorder::new(Some(Duration::from_millis(500)), Some(Duration::from_secs(1)));
        assert_eq!(frames_until_end(&mut r, |_| SPEECH, 1000), Some((25, RecordEnd::MaxLength)));
        let mut r = Recorder::new(None, None);
        assert_eq!(frames_until_end(&mut r, |_| SILENCE, 10_000), None);
        assert_eq!(r.duration_ms(), 200_000);
    }
}
