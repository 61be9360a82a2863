//! `<Stream>`: kept-alive streams (the verb waits) and background ones.

use crate::engine::Callback;
use std::time::Duration;

use super::parameters::Ctx;
use super::timers::Timer;
use super::{Background, Call, Flow, Run, State, Step, secs};
use crate::engine::ids::MediaId;
use crate::engine::io::Command;
use crate::xml;
use crate::xml::values::{Method, Url};

/// The longest a `<Stream>` runs, whatever its `streamTimeout` says (24 h, Plivo's default).
const MAX_STREAM_SECS: u32 = 86_400;

/// A running `<Stream keepCallAlive="true">`.
#[derive(Debug)]
pub(super) struct StreamRun {
    media: MediaId,
    /// `statusCallbackUrl`.
    callback: Option<(Url, Method)>,
}

impl Ctx<'_> {
    /// `StopStream` to a stream's `statusCallbackUrl`.
    pub(super) fn stream_stopped(&mut self, callback: Option<&(Url, Method)>) {
        if let Some((url, method)) = callback {
            self.notify(url, *method, Callback::Stream, vec![("Event".to_owned(), "StopStream".to_owned())]);
        }
    }
}

impl StreamRun {
    /// `streamTimeout` reached.
    pub(super) fn on_timeout(&mut self, cx: &mut Ctx<'_>) -> Step {
        cx.emit(Command::StopStream(self.media));
        cx.stream_stopped(self.callback.as_ref());
        Step::Done(super::Outcome::StreamTimedOut)
    }

    /// Stops the stream (hangup, transfer).
    pub(super) fn abort(self, cx: &mut Ctx<'_>) {
        cx.emit(Command::StopStream(self.media));
        cx.stream_stopped(self.callback.as_ref());
    }
}

impl Call {
    pub(super) fn start_stream(&mut self, now: Duration, s: &xml::Stream) -> Flow {
        self.ensure_answered(now);
        let media = self.media_id();
        self.emit(Command::StartStream { media, stream: Box::new(s.clone()) });
        let callback = s.status_callback_url.clone().map(|u| (u, s.status_callback_method));
        if let Some((url, method)) = &callback {
            self.notify(url, *method, Callback::Stream, vec![("Event".to_owned(), "StartStream".to_owned())]);
        }
        // `streamTimeout` stops the stream (capped at 24 h, like `<Dial timeLimit>`), so a
        // kept-alive stream whose far end never closes cannot hold the call forever.
        let until = now + secs(s.stream_timeout.clamp(1, MAX_STREAM_SECS));
        if s.keep_call_alive {
            self.state = State::Running(Run::Stream(StreamRun { media, callback }));
            self.timers.set(Timer::Verb, until);
            Flow::Wait
        } else {
            self.background.push(Background::Stream { media, callback, until });
            Flow::Next(super::Outcome::Background("streaming in the background"))
        }
    }

    /// Stops the background streams whose `streamTimeout` has passed, with their callbacks.
    pub(super) fn stop_timed_out_streams(&mut self, now: Duration) {
        if !self.background.iter().any(|b| matches!(b, Background::Stream { until, .. } if *until <= now)) {
            return;
        }
        for b in std::mem::take(&mut self.background) {
            match b {
                Background::Stream { media, callback, until } if until <= now => {
                    let mut cx = self.cx();
                    cx.emit(Command::StopStream(media));
                    cx.stream_stopped(callback.as_ref());
                }
                b => self.background.push(b),
            }
        }
    }

    /// The far end closed a stream.
    pub(super) fn on_stream_ended(&mut self, now: Duration, m: MediaId) {
        if let (State::Running(Run::Stream(s)), mut cx) = self.parts()
            && s.media == m
        {
            cx.stream_stopped(s.callback.as_ref());
            self.complete(now, super::Outcome::StreamEnded);
            return;
        }
        let pos = self.background.iter().position(|b| matches!(b, Background::Stream { media, .. } if *media == m));
        if let Some(pos) = pos
            && let Background::Stream { callback, .. } = self.background.remove(pos)
        {
            self.cx().stream_stopped(callback.as_ref());
        }
    }
}
