//! `POST Call/` ("Make a call") over SIP: the call is an INVITE to its `to` — a `sip:` URI
//! as given, a number at `sip:{number}@{--sip-gateway}` — whose Call-ID is the call's
//! `CallUUID`. It rings until the far end answers (the call then fetches its answer URL, as
//! Plivo's does) or refuses: busy (486, 600: 3010 Busy), declined (603: 3020 Rejected), not
//! answered (408, 480: 9020 Ring Timeout), anything else 2010 Destination Out Of Service.
//! `ring_timeout` (from the INVITE), `hangup_on_ring` (from the first 180/183, or the answer
//! when none came) and `time_limit` (from the answer) are kept by timers of their own;
//! `send_digits` goes as RFC 4733 events once answered. Plivo's page:
//! <https://www.plivo.com/docs/voice/api/call/make-a-call/>.

use std::time::Duration;

use rsipstack::dialog::DialogId;
use rsipstack::dialog::invite_dialog::InviteDialog;
use tokio::net::UdpSocket;

use super::dial::InviteOutcome;
use super::{Event, LiveCall, SipShell, receive_rtp};
use crate::engine::{CallId, CallSetup, Direction, HangupCause, HangupSource, Input};
use crate::media::AudioMedia;
use crate::media::rtp::{Leg, LegConfig, SdpOffer, answer};
use crate::runtime::{OutboundPlan, Runtime};
use crate::server::StartRefused;

/// An outbound call still ringing.
pub(super) struct Ringing {
    dialog: InviteDialog,
    socket: std::sync::Arc<UdpSocket>,
    send_digits: Option<String>,
    time_limit: Option<Duration>,
    /// `hangup_on_ring`, until it is started: at the first 180/183, or at the answer of a
    /// far end that sent neither (Plivo: "after the call starts ringing").
    hangup_on_ring: Option<Duration>,
}

/// The call ends by one of its limits.
fn end(cause: HangupCause) -> Input {
    Input::End { cause, source: HangupSource::Plivo }
}

impl SipShell {
    /// Starts `setup` as an INVITE (see the module doc).
    ///
    /// # Errors
    /// [`StartRefused::NotSupported`] for an inbound call (they come from INVITEs) or a
    /// number without `--sip-gateway`; [`StartRefused::Engine`] when the engine refuses it.
    pub(super) fn start_outbound(
        &mut self,
        rt: &mut Runtime<AudioMedia>,
        now: Duration,
        setup: CallSetup,
        plan: &OutboundPlan,
    ) -> Result<CallId, StartRefused> {
        if setup.direction != Direction::Outbound {
            return Err(StartRefused::NotSupported(
                "serve --sip simulates no inbound calls (/sim/Call/): they come from SIP INVITEs",
            ));
        }
        let to = if setup.to.starts_with("sip:") {
            setup.to.to_string()
        } else {
            let Some(gateway) = self.dialer.gateway else {
                return Err(StartRefused::NotSupported(
                    "serve --sip calls a number through its SIP gateway: start it with --sip-gateway HOST:PORT",
                ));
            };
            format!("sip:{}@{gateway}", setup.to)
        };
        let from = setup.from.to_string();
        let id = rt.start_ringing(now, setup)?;
        match self.send_invite(&id, &from, &to, &[]) {
            Ok((dialog, socket)) => {
                let call = Ringing {
                    dialog,
                    socket,
                    send_digits: plan.send_digits.clone(),
                    time_limit: plan.time_limit,
                    hangup_on_ring: plan.hangup_on_ring,
                };
                self.ringing_out.insert(id.clone(), call);
                self.limit(&id, plan.ring_timeout, HangupCause::RingTimeout);
            }
            Err(e) => {
                tracing::warn!(parent: &crate::server::call_span(Some(&id)), "INVITE to {to} not sent: {e}");
                let _ = rt.handle_input(now, &id, end(HangupCause::DestinationOutOfService));
            }
        }
        Ok(id)
    }

    /// Ends `call` with `cause` after `after`, if it is still live then ([`Event::Limit`]).
    /// The timer goes when the call is forgotten ([`Self::forget_limits`]), so a call's
    /// timers (at most three) never outlive it.
    fn limit(&mut self, call: &CallId, after: Duration, cause: HangupCause) {
        let (events, id) = (self.events.clone(), call.clone());
        let timer = tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = events.send(Event::Limit { call: id, cause }).await;
        });
        self.limits.entry(call.clone()).or_default().push(timer.abort_handle());
    }

    /// Stops `call`'s limit timers.
    pub(super) fn forget_limits(&mut self, call: &CallId) {
        for timer in self.limits.remove(call).into_iter().flatten() {
            timer.abort();
        }
    }

    /// A 180/183 to the outbound call `call`: it rings, and its `hangup_on_ring` starts.
    pub(super) fn outbound_ringing(&mut self, call: &CallId) {
        let Some(after) = self.ringing_out.get_mut(call).and_then(|r| r.hangup_on_ring.take()) else { return };
        self.limit(call, after, HangupCause::HangupOnRing);
    }

    /// Whether `call` is an outbound call still ringing.
    pub(super) fn is_ringing_out(&self, call: &CallId) -> bool {
        self.ringing_out.contains_key(call)
    }

    /// The INVITE of the outbound call `call` ended.
    pub(super) fn outbound_invited(
        &mut self,
        rt: &mut Runtime<AudioMedia>,
        now: Duration,
        call: CallId,
        outcome: InviteOutcome,
    ) {
        let Some(ringing) = self.ringing_out.remove(&call) else { return };
        let input = match outcome {
            InviteOutcome::Answered(id, body) => {
                let negotiated =
                    std::str::from_utf8(&body).ok().and_then(|b| SdpOffer::parse(b).ok()).and_then(|o| answer(&o).ok());
                if let Some(n) = negotiated {
                    if let Some(after) = ringing.hangup_on_ring {
                        // Answered without a 180/183: it rang until now.
                        self.limit(&call, after, HangupCause::HangupOnRing);
                    }
                    let gone = self.dialer.is_gone(&id);
                    self.answered_out(call.clone(), ringing, id.clone(), LegConfig::from(&n), n.remote);
                    let _ = rt.handle_input(now, &call, Input::Answered);
                    if !gone {
                        return;
                    }
                    // Its BYE came before its answer reached us: the callee hung up at once.
                    self.by_dialog.remove(&id);
                    Input::Hangup { source: HangupSource::Callee }
                } else {
                    let dialog = ringing.dialog;
                    tokio::spawn(async move {
                        let _ = dialog.hangup().await;
                    });
                    end(HangupCause::DestinationOutOfService)
                }
            }
            InviteOutcome::Refused(status) => {
                let cause = match u16::from(status) {
                    486 | 600 => HangupCause::Busy,
                    603 => HangupCause::Rejected,
                    408 | 480 => HangupCause::RingTimeout,
                    _ => HangupCause::DestinationOutOfService,
                };
                let source = if cause == HangupCause::DestinationOutOfService {
                    HangupSource::Plivo
                } else {
                    HangupSource::Callee
                };
                Input::End { cause, source }
            }
            InviteOutcome::Unreachable(_) => {
                // Our transaction gave up while the far end may still ring: CANCEL it.
                let dialog = ringing.dialog;
                tokio::spawn(async move {
                    let _ = dialog.hangup().await;
                });
                end(HangupCause::DestinationOutOfService)
            }
        };
        let _ = rt.handle_input(now, &call, input);
    }

    /// The far end of an outbound call answered: its leg is live.
    fn answered_out(
        &mut self,
        call: CallId,
        ringing: Ringing,
        id: DialogId,
        leg: LegConfig,
        remote: std::net::SocketAddr,
    ) {
        let span = crate::server::call_span(Some(&call));
        tracing::debug!(parent: &span, %remote, "outbound call answered");
        let reader = receive_rtp(ringing.socket.clone(), remote, call.clone(), self.events.clone());
        let receiver = tokio::spawn(tracing::Instrument::instrument(reader, span));
        let seed = u32::from(ringing.socket.local_addr().map_or(0, |a| a.port()));
        let mut leg = Leg::new(leg, seed.wrapping_mul(2_654_435_761), seed as u16, seed.wrapping_mul(40_503));
        if let Some(digits) = &ringing.send_digits {
            leg.send_digits(digits);
        }
        if let Some(after) = ringing.time_limit {
            self.limit(&call, after, HangupCause::TimeLimit);
        }
        self.by_dialog.insert(id.clone(), call.clone());
        self.calls.insert(
            call,
            LiveCall {
                dialog: ringing.dialog,
                dialog_id: id,
                leg,
                socket: ringing.socket,
                remote,
                answer_sdp: String::new(),
                answered: true,
                receiver,
                caller: None,
            },
        );
    }

    /// A limit of `call` ran out ([`Self::limit`]): a ringing call is cancelled; an answered
    /// one ends by its `time_limit` or `hangup_on_ring` (`ring_timeout` no longer applies).
    pub(super) fn limit_reached(
        &mut self,
        rt: &mut Runtime<AudioMedia>,
        now: Duration,
        call: &CallId,
        cause: HangupCause,
    ) {
        if let Some(ringing) = self.ringing_out.remove(call) {
            tokio::spawn(async move {
                let _ = ringing.dialog.hangup().await;
            });
        } else if cause == HangupCause::RingTimeout || !self.calls.contains_key(call) {
            return;
        }
        if rt.engine().call(call).is_some_and(|c| !c.is_ended()) {
            let _ = rt.handle_input(now, call, end(cause));
        }
    }

    /// The API hung up an outbound call that still rings: its INVITE is cancelled.
    pub(super) fn cancel_outbound(&mut self, call: &CallId) {
        if let Some(ringing) = self.ringing_out.remove(call) {
            tokio::spawn(async move {
                let _ = ringing.dialog.hangup().await;
            });
        }
    }
}
