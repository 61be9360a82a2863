//! The call's standard parameters, request building and URL resolution, and [`Ctx`]: what a
//! running verb borrows from its [`Call`](super::Call).

use crate::engine::Callback;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use thin_vec::ThinVec;

use super::setup::{CallConfig, CallSetup, CallStatus};
use super::sounds::SoundUse;
use super::timers::Timers;
use super::{Background, Call, State};
use crate::engine::cause::{HangupCause, HangupSource};
use crate::engine::ids::{MediaId, RequestId};
use crate::engine::io::{CallEvent, Command, FetchReply, HttpRequest, Output, Purpose, Reply};
use crate::engine::rooms::Direction;
use crate::xml;
use crate::xml::values::{Method, Url};

/// Request parameters, in order.
pub(super) type Params = Vec<(String, String)>;

/// The part of a [`Call`] a running verb touches while it handles an input: the output queue,
/// the timers, the id counter, the pending sound fetches, the background work, and what request
/// parameters are made of. Everything but the call's `State`, so that a verb's state and its
/// `Ctx` are borrowed at once, the way quinn-proto's `SendStream` borrows disjoint fields of
/// its `Connection`. Verb methods take `&mut Ctx` and return a [`Step`](super::Step): what the
/// call does next.
pub(super) struct Ctx<'a> {
    pub(super) setup: &'a CallSetup,
    pub(super) config: &'a CallConfig,
    pub(super) status: &'a mut CallStatus,
    pub(super) answered_at: &'a mut Option<Duration>,
    doc_url: Option<&'a str>,
    out: &'a mut VecDeque<Output>,
    pub(super) timers: &'a mut Timers,
    next_id: &'a mut u64,
    sounds: &'a mut ThinVec<(RequestId, SoundUse)>,
    pub(super) background: &'a mut ThinVec<Background>,
}

impl Call {
    /// The call's state and, beside it, everything else a verb may touch.
    pub(super) fn parts(&mut self) -> (&mut super::State, Ctx<'_>) {
        let cx = Ctx {
            setup: &self.setup,
            config: &self.config,
            status: &mut self.status,
            answered_at: &mut self.answered_at,
            doc_url: self.doc_url.as_deref(),
            out: &mut self.out,
            timers: &mut self.timers,
            next_id: &mut self.next_id,
            sounds: &mut self.sounds,
            background: &mut self.background,
        };
        (&mut self.state, cx)
    }

    /// [`Call::parts`] without the state.
    pub(super) fn cx(&mut self) -> Ctx<'_> {
        self.parts().1
    }

    pub(super) fn emit(&mut self, c: Command) {
        self.cx().emit(c);
    }

    pub(super) fn event(&mut self, e: CallEvent) {
        self.cx().event(e);
    }

    pub(super) fn media_id(&mut self) -> MediaId {
        self.cx().media_id()
    }

    pub(super) fn request(
        &mut self,
        url: &str,
        method: Method,
        purpose: Purpose,
        reply: Reply,
        extra: Params,
    ) -> RequestId {
        self.cx().request(url, method, purpose, reply, extra)
    }

    /// `url` as it is requested: resolved against the running document's URL when relative
    /// (Plivo accepts relative action and callback URLs); `None` when it cannot be.
    pub(super) fn absolute(&self, url: &str) -> Option<String> {
        xml::values::resolve(url, self.doc_url.as_deref().unwrap_or(""))
    }

    pub(super) fn notify(&mut self, url: &Url, method: Method, what: Callback, extra: Params) {
        self.cx().notify(url, method, what, extra);
    }

    pub(super) fn request_sound(&mut self, url: &Url, method: Method, use_: SoundUse, what: &'static str) {
        self.cx().request_sound(url, method, use_, what);
    }

    pub(super) fn mark_answered(&mut self, now: Duration) {
        self.cx().mark_answered(now);
    }
}

impl Ctx<'_> {
    pub(super) fn emit(&mut self, c: Command) {
        self.out.push_back(Output::Command(c));
    }

    pub(super) fn event(&mut self, e: CallEvent) {
        self.out.push_back(Output::Event(e));
    }

    pub(super) fn media_id(&mut self) -> MediaId {
        let id = MediaId(*self.next_id);
        *self.next_id += 1;
        id
    }

    /// The parameters every request carries.
    fn std_params(&self) -> Params {
        let mut p = vec![
            ("CallUUID".to_owned(), self.setup.id.as_str().to_owned()),
            ("From".to_owned(), self.setup.from.to_string()),
            ("To".to_owned(), self.setup.to.to_string()),
            ("CallStatus".to_owned(), self.status.as_str().to_owned()),
            ("Direction".to_owned(), self.setup.direction.as_str().to_owned()),
        ];
        if !self.setup.caller_name.is_empty() {
            p.push(("CallerName".to_owned(), self.setup.caller_name.to_string()));
        }
        if self.setup.direction == Direction::Outbound {
            p.push(("ALegUUID".to_owned(), self.setup.id.as_str().to_owned()));
            if let Some(request) = &self.setup.request_uuid {
                p.push(("ALegRequestUUID".to_owned(), request.to_string()));
                p.push(("RequestUUID".to_owned(), request.to_string()));
            }
        }
        p
    }

    /// Queues a request for `url` (resolved against the document's URL) with the standard
    /// parameters and `extra`.
    pub(super) fn request(
        &mut self,
        url: &str,
        method: Method,
        purpose: Purpose,
        reply: Reply,
        extra: Params,
    ) -> RequestId {
        let id = RequestId(*self.next_id);
        *self.next_id += 1;
        let Some(url) = xml::values::resolve(url, self.doc_url.unwrap_or("")) else {
            // A relative URL with no http(s) document URL to resolve it against: nothing can
            // be requested (a document fetch ends the call first, see `request_document`).
            self.event(CallEvent::FetchFailed {
                url: url.to_owned(),
                reason: "a relative URL with no http(s) document URL to resolve it against".to_owned(),
            });
            return id;
        };
        let mut params = self.std_params();
        params.extend(extra);
        self.out.push_back(Output::Request(HttpRequest { id, url, method, params, purpose, reply }));
        id
    }

    /// A fire-and-forget callback.
    pub(super) fn notify(&mut self, url: &Url, method: Method, what: Callback, extra: Params) {
        self.request(url.as_str(), method, Purpose::Callback(what), Reply::Ignore, extra);
    }

    /// Fetches a sound document; its reply is handled by `Call::on_sound` as `use_`.
    pub(super) fn request_sound(&mut self, url: &Url, method: Method, use_: SoundUse, what: &'static str) {
        let id = self.request(url.as_str(), method, Purpose::Sound(what), Reply::Sounds, Vec::new());
        self.sounds.push((id, use_));
    }

    pub(super) fn mark_answered(&mut self, now: Duration) {
        if self.answered_at.is_none() {
            *self.answered_at = Some(now);
            *self.status = CallStatus::InProgress;
        }
    }
}

impl Call {
    pub(super) fn request_document(
        &mut self,
        url: Arc<str>,
        method: Method,
        purpose: Purpose,
        extra: Vec<(String, String)>,
    ) {
        if !matches!(purpose, Purpose::Answer | Purpose::Fallback) {
            // The redirect cap: a document may replace the current one at most
            // `max_redirects` times, which stops redirect loops.
            self.redirects += 1;
            if self.redirects > self.config.max_redirects {
                self.end(self.clock, HangupCause::RedirectLimit, HangupSource::Plivo, true);
                return;
            }
        }
        let Some(absolute) = self.absolute(&url) else {
            // Plivo's runtime causes for a URL that cannot be fetched at all (70x2–70x4).
            let cause = match purpose {
                Purpose::Redirect => HangupCause::InvalidRedirectUrl,
                Purpose::Transfer => HangupCause::InvalidTransferUrl,
                _ => HangupCause::InvalidActionUrl,
            };
            self.event(CallEvent::FetchFailed {
                url: url.to_string(),
                reason: "a relative URL with no http(s) document URL to resolve it against".to_owned(),
            });
            self.end(self.clock, cause, HangupSource::Error, true);
            return;
        };
        // An absolute URL (the answer URL, most often) stays shared with where it came from.
        let url = if *absolute == *url { url } else { absolute.into() };
        let request = self.request(&url, method, purpose, Reply::Execute, extra);
        self.state = State::Fetching { request, purpose, url };
    }

    pub(super) fn fetch_answer(&mut self, purpose: Purpose) {
        let (url, method) = match purpose {
            Purpose::Fallback => match &self.setup.fallback {
                Some(f) => (f.shared_url(), f.method()),
                None => return,
            },
            _ => (self.setup.answer.shared_url(), self.setup.answer.method()),
        };
        self.request_document(url, method, purpose, Vec::new());
    }

    pub(super) fn on_fetched(&mut self, now: Duration, request: RequestId, reply: FetchReply) {
        if let Some(pos) = self.sounds.iter().position(|(id, _)| *id == request) {
            let (_, use_) = self.sounds.remove(pos);
            self.on_sound(use_, reply);
            return;
        }
        let State::Fetching { request: want, purpose, url } = &self.state else {
            return;
        };
        if *want != request {
            return;
        }
        let (purpose, url) = (*purpose, url.clone());
        let (unreachable, invalid) = match purpose {
            Purpose::Answer | Purpose::Fallback => (HangupCause::AnswerUrlUnreachable, HangupCause::InvalidAnswerXml),
            Purpose::Redirect => (HangupCause::RedirectUrlUnreachable, HangupCause::InvalidRedirectXml),
            Purpose::Transfer => (HangupCause::TransferUrlUnreachable, HangupCause::InvalidTransferXml),
            _ => (HangupCause::ActionUrlUnreachable, HangupCause::InvalidActionXml),
        };
        match reply {
            FetchReply::Document(doc) => self.load(now, doc, purpose, url),
            FetchReply::Body(body) => {
                let parsed = xml::parse(&body);
                if parsed.has_errors() {
                    self.event(CallEvent::InvalidDocument {
                        url: url.to_string(),
                        diagnostics: parsed.diagnostics,
                        body,
                    });
                    // Plivo: the fallback is used when the answer URL is unavailable *or its
                    // XML is invalid*.
                    if purpose == Purpose::Answer && self.setup.fallback.is_some() {
                        self.fetch_answer(Purpose::Fallback);
                    } else {
                        self.end(now, invalid, HangupSource::Error, true);
                    }
                } else {
                    self.load(now, Arc::new(parsed.document), purpose, url);
                }
            }
            FetchReply::Failed(reason) => {
                self.event(CallEvent::FetchFailed { url: url.to_string(), reason });
                if purpose == Purpose::Answer && self.setup.fallback.is_some() {
                    self.fetch_answer(Purpose::Fallback);
                } else {
                    self.end(now, unreachable, HangupSource::Error, true);
                }
            }
        }
    }
}
