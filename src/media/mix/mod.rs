//! Real audio, sans-IO: what a call hears and what a room mixes, in 20 ms frames of 8 kHz
//! linear PCM (the G.711 rate of RFC 3551 §4.5.14; the codecs are in `media::rtp`).
//!
//! Nothing here reads a clock or a socket: a shell (or a test in virtual time) calls
//! [`PlayQueue::next_frame`], [`Mixer::mix`] and [`Recorder::push`] once per 20 ms tick and
//! moves the frames to and from RTP itself.
//!
//! - [`Source`]: one sound — silence, a tone, a beep train, or decoded/synthesised PCM;
//! - [`PlayQueue`]: a call's queue of media operations (`<Speak>`, `<Play>`, beeps, sound
//!   lists), each with its [`MediaId`](crate::engine::MediaId), reported when it ends;
//! - [`Mixer`]: a room's N−1 mix (every member hears the others; `muted` members are not
//!   heard, `deaf` members hear nothing) plus sounds played into the room;
//! - [`Recorder`]: a recording's samples, bounded by its `maxLength`, with the silence
//!   detection of `<Record timeout>`;
//! - `level`: energy and tone measures (RMS in dBFS, Goertzel power) used by silence
//!   detection and by the tests.

mod level;
mod mixer;
mod queue;
mod recorder;
mod source;

pub use level::{goertzel_power, rms_dbfs};
pub use mixer::{MAX_MEMBERS, MemberAudio, MemberKey, Mixer, MixerError};
pub use queue::{MAX_QUEUED, PlayQueue, QueueError};
pub use recorder::{RecordEnd, Recorder, SILENCE_THRESHOLD_DBFS};
pub use source::{BEEP, Source, Tone};

/// Samples per second.
pub const SAMPLE_RATE: u32 = 8_000;

/// Samples in one 20 ms frame at [`SAMPLE_RATE`] (RFC 3551 §4.5: the default packetization
/// of G.711 is 20 ms).
pub const FRAME_SAMPLES: usize = 160;

/// One 20 ms frame of 16-bit linear PCM.
pub type Frame = [i16; FRAME_SAMPLES];

/// A frame of silence.
pub const SILENCE: Frame = [0; FRAME_SAMPLES];

/// Samples in `ms` milliseconds at [`SAMPLE_RATE`] (saturating).
pub const fn samples_in_ms(ms: u64) -> u64 {
    ms.saturating_mul(SAMPLE_RATE as u64) / 1000
}
