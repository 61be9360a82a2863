//! Media: what carries out a call's [`Command`](crate::engine::Command)s for audio and
//! signalling, and reports back the [`Input`](crate::engine::Input)s they cause.
//!
//! # The media contract (sans-IO)
//!
//! The engine asks for media through [`Output::Command`](crate::engine::Output::Command)s and
//! hears back through inputs to the call:
//!
//! | command | the media must report |
//! |---|---|
//! | `Speak`, `Play`, `Beep`, `PlaySounds`, `SendDigits` | [`Input::MediaFinished`](crate::engine::Input::MediaFinished) with the command's `media` when done (never for a `loop="0"` or looped sound), nothing after `StopMedia` |
//! | `StartRecording` | [`Input::RecordingFinished`](crate::engine::Input::RecordingFinished) when the file is ready: by itself for a foreground recording that meets its silence `timeout`, after `StopRecording` otherwise |
//! | `Dial` | [`Input::Dial`](crate::engine::Input::Dial) progress: answered, busy, no answer, failed, the callee's keys and hangup; nothing after `CancelDial`/`HangupCallee` |
//! | `StartStream` | [`Input::StreamEnded`](crate::engine::Input::StreamEnded) when the far end closes it |
//! | `StartCollect` | the caller's keys ([`Input::Digits`](crate::engine::Input::Digits)) and speech (the call applies its own timeouts) |
//!
//! A media layer has the same drive contract as the engine: every mutation takes `now`, and
//! [`SimulatedMedia::poll_timeout`] says when it next has something to report. When the call
//! ends ([`CallEvent::Ended`](crate::engine::CallEvent::Ended)) the media drops what it still
//! had for it, but recordings, whose files are still due.
//!
//! [`SimulatedMedia`] is the one of `run`, `test` and `serve`: nothing is heard, every media
//! operation lasts as the [timing rule](SimulatedMedia#timing-rule) says, and dialed parties
//! do as the far-end table ([`FarEnds`], `/sim/FarEnd/`) says, else as [`DialDefault`] says. A media layer on real audio (RTP, see `docs/sip-plan.md`)
//! keeps the same contract.

pub mod mix;
mod far_end;
mod simulated;

pub use far_end::{FarEnd, FarEndAnswer, FarEndError, FarEndKey, FarEnds, MAX_FAR_ENDS};
pub use simulated::{DialDefault, MediaTiming, SimulatedMedia};
