//! Media: what carries out a call's [`Command`]s for audio and
//! signalling, and reports back the [`Input`]s they cause.
//!
//! # The media contract (sans-IO)
//!
//! The engine asks for media through [`Output::Command`](crate::engine::Output::Command)s and
//! hears back through inputs to the call:
//!
//! | command | the media must report |
//! |---|---|
//! | `Speak`, `Play`, `Beep`, `PlaySounds`, `SendDigits` | [`Input::MediaFinished`] with the command's `media` when done (never for a `loop="0"` or looped sound), nothing after `StopMedia` |
//! | `StartRecording` | [`Input::RecordingFinished`] when the file is ready: by itself for a foreground recording that meets its silence `timeout`, after `StopRecording` otherwise |
//! | `Dial` | [`Input::Dial`] progress: answered, busy, no answer, failed, the callee's keys and hangup; nothing after `CancelDial`/`HangupCallee` |
//! | `StartStream` | [`Input::StreamEnded`] when the far end closes it |
//! | `StartCollect` | the caller's keys ([`Input::Digits`]) and speech (the call applies its own timeouts) |
//!
//! The contract is the [`Media`] trait. A media layer has the same drive contract as the
//! engine: every mutation takes `now`, and [`Media::poll_timeout`] says when it next has
//! something to report. When the call
//! ends ([`CallEvent::Ended`](crate::engine::CallEvent::Ended)) the media drops what it still
//! had for it, but recordings, whose files are still due.
//!
//! [`SimulatedMedia`] is the one of `run`, `test` and `serve`: nothing is heard, every media
//! operation lasts as the [timing rule](SimulatedMedia#timing-rule) says, and dialed parties
//! do as the far-end table ([`FarEnds`], `/sim/FarEnd/`) says, else as [`DialDefault`] says.
//! [`AudioMedia`] keeps the same contract on real audio: 20 ms frames of 8 kHz PCM in and out
//! of every call, rooms mixed N−1 ([`mix`]); the codecs that carry those frames over RTP are
//! in `rtp` (feature `rtp`; see `docs/sip-plan.md`).

mod audio;
mod far_end;
pub mod mix;
#[cfg(feature = "rtp")]
pub mod rtp;
mod simulated;

use std::fmt;
use std::time::Duration;

use crate::engine::{CallId, Command, Input, RoomEvent};

pub use audio::{
    AudioMedia, AudioRequest, MAX_CATCH_UP_TICKS, MAX_HEARD, MAX_RECORDED_SAMPLES, MAX_RECORDINGS_PER_CALL,
    MAX_ROOM_RECORDINGS, MAX_SAID, TICK, Work,
};
pub use far_end::{FarEnd, FarEndAnswer, FarEndError, FarEndKey, FarEnds, MAX_FAR_ENDS};
pub use simulated::{DialDefault, MediaTiming, SimulatedMedia};

/// The media contract (sans-IO): what a [`Runtime`](crate::runtime::Runtime) hands its media,
/// and what it asks of it. Two implementations: [`SimulatedMedia`] (virtual media, the one of
/// `run`, `test` and `serve`) and media on real audio frames ([`mix`]).
///
/// Every method takes the current time where time matters; none blocks. After any mutation
/// the runtime asks [`poll_timeout`](Media::poll_timeout) again and calls
/// [`poll_input`](Media::poll_input) when that time comes.
pub trait Media: fmt::Debug {
    /// Carries out one command of `call` (see the table above for what it must report).
    fn handle_command(&mut self, now: Duration, call: &CallId, command: &Command);

    /// A room changed (a member joined, left, was muted, made deaf, …): a media layer that
    /// mixes rooms follows membership here. The default does nothing.
    fn handle_room_event(&mut self, now: Duration, event: &RoomEvent) {
        let _ = (now, event);
    }

    /// `call` has ended: drop what is pending for it, but its recordings' files.
    fn call_ended(&mut self, call: &CallId);

    /// Whether an input to `call` is still due (a recording's file after the call ended): the
    /// runtime keeps an ended call until this is false.
    fn has_pending(&self, call: &CallId) -> bool;

    /// Forgets everything of an ended call.
    fn forget(&mut self, call: &CallId);

    /// When the next input is due.
    fn poll_timeout(&self) -> Option<Duration>;

    /// The next input due by `now`, with its call; `None` when nothing is due.
    fn poll_input(&mut self, now: Duration) -> Option<(CallId, Input)>;
}
