//! `<Stream>`.

use super::*;

/// The longest a `<Stream>` runs, whatever its `streamTimeout` says (24 h, Plivo's default).
pub(super) const MAX_STREAM_SECS: u32 = 86_400;

impl Call {
    /// `StopStream` to the running `<Stream>`'s `statusCallbackUrl`, if it has one.
    pub(super) fn stream_stopped_callback(&mut self) {
        if let Some(Verb::Stream(s)) = self.verb_here()
            && let Some(url) = s.status_callback_url.clone()
        {
            let method = s.status_callback_method;
            self.notify(&url, method, "stream", vec![("Event".to_owned(), "StopStream".to_owned())]);
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
                    self.emit(Command::StopStream(media));
                    if let Some((url, method)) = callback {
                        self.notify(&url, method, "stream", vec![("Event".to_owned(), "StopStream".to_owned())]);
                    }
                }
                b => self.background.push(b),
            }
        }
    }

    pub(super) fn on_stream_ended(&mut self, now: Duration, m: MediaId) {
        if matches!(self.state, State::Running(Run::Stream(id)) if id == m) {
            self.stream_stopped_callback();
            self.complete(now, "stream ended");
            return;
        }
        let pos = self.background.iter().position(|b| matches!(b, Background::Stream { media, .. } if *media == m));
        if let Some(pos) = pos
            && let Background::Stream { callback: Some((url, method)), .. } = self.background.remove(pos)
        {
            self.notify(&url, method, "stream", vec![("Event".to_owned(), "StopStream".to_owned())]);
        }
    }

    // ------------------------------------------------------------------ fetches
}
