//! `<Dial>` over SIP: the shell's side of [`Work::Dial`](crate::media::Work::Dial).
//!
//! Every party of the `<Dial>` is rung at once (Plivo rings a `<Dial>`'s numbers
//! simultaneously): an INVITE with an SDP offer (PCMU, PCMA, telephone-event 101) from an RTP
//! socket of its own. `<User>sip:…</User>` is sent to its URI; `<Number>` to
//! `sip:{number}@{gateway}` when `serve --sip-gateway` names one, and fails otherwise. The
//! Call-ID of each INVITE is the party's `DialBLegUUID`. The first party to answer (2xx with
//! an SDP answer we can take) is the B leg; the others are cancelled (CANCEL, or BYE for a
//! late 2xx). When nobody answers, the dial's outcome is `busy` if a party said so (486,
//! 600, 603), else `no-answer` if one timed out or was unavailable (408, 480, 487), else
//! `failed` (RFC 3261 §21 classes as Plivo's `DialStatus`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rsipstack::dialog::DialogId;
use rsipstack::dialog::dialog::DialogStateSender;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Header, StatusCode, Uri};
use tokio::net::UdpSocket;

use super::{Event, LiveCall, SipShell, receive_rtp};
use crate::engine::{CallId, DialEvent, MediaId};
use crate::media::AudioMedia;
use crate::media::rtp::{Leg, LegConfig, SdpOffer, answer, write_offer};
use crate::runtime::Runtime;
use crate::xml::{Dial, DialTarget};

/// Most parties one `<Dial>` rings (Plivo's limit for simultaneous dialing is 10); the
/// others are not rung.
pub const MAX_DIAL_PARTIES: usize = 10;

/// What the shell needs to place outbound INVITEs.
pub(super) struct Dialer {
    pub(super) dialogs: Arc<DialogLayer>,
    pub(super) states: DialogStateSender,
    pub(super) contact: Uri,
    pub(super) ip: IpAddr,
    /// The SIP address (the From of our INVITEs).
    pub(super) addr: SocketAddr,
    /// Where `<Number>`s go (`--sip-gateway`).
    pub(super) gateway: Option<SocketAddr>,
    /// Ringing parties, by their B-leg id (their INVITE's Call-ID).
    ringing: HashMap<CallId, Party>,
    /// Each caller's dial in progress.
    dials: HashMap<CallId, Parties>,
}

/// A party being rung.
struct Party {
    caller: CallId,
    to: String,
    dialog: InviteDialog,
    socket: Arc<UdpSocket>,
    send_digits: Option<String>,
}

/// A caller's dial: its parties still ringing, whether one rang or answered, and what those
/// that gave up said.
struct Parties {
    media: MediaId,
    ringing: usize,
    rang: bool,
    answered: bool,
    busy: bool,
    no_answer: bool,
}

/// How an INVITE ended, for [`Event::Invited`].
pub enum InviteOutcome {
    /// 2xx: the dialog's confirmed id and the SDP answer.
    Answered(DialogId, Vec<u8>),
    /// A final failure response.
    Refused(StatusCode),
    /// No final response (timeout, transport error).
    Unreachable(String),
}

impl Dialer {
    pub(super) fn new(
        dialogs: Arc<DialogLayer>,
        states: DialogStateSender,
        contact: Uri,
        addr: SocketAddr,
        gateway: Option<SocketAddr>,
    ) -> Self {
        Dialer {
            dialogs,
            states,
            contact,
            ip: addr.ip(),
            addr,
            gateway,
            ringing: HashMap::new(),
            dials: HashMap::new(),
        }
    }

    /// Whether the dialog `id` has ended: rsipstack's layer no longer holds it (its
    /// `Terminated` came, [`super::states`]) or it is terminated and about to go. An answered
    /// party's BYE may come before its answer's [`Event::Invited`] is handled.
    pub(super) fn is_gone(&self, id: &DialogId) -> bool {
        self.dialogs.get_dialog(id).is_none_or(|d| d.state().is_terminated())
    }

    /// Hangs up the dialog `id` if the layer holds it (a BYE; nothing for one that ended).
    pub(super) fn hang_up(&self, id: &DialogId) {
        if let Some(rsipstack::dialog::dialog::Dialog::Invite(d)) = self.dialogs.get_dialog(id) {
            tokio::spawn(async move {
                let _ = d.hangup().await;
            });
        }
    }

    /// Whether `b_leg` is a party still ringing.
    pub(super) fn is_ringing(&self, b_leg: &CallId) -> bool {
        self.ringing.contains_key(b_leg)
    }
}

/// Where a target is rung: its request URI, its `DialBLegTo` (the URI, or the number) and its
/// `sendDigits`; `None` without a URI, or for a number without a gateway.
fn target_uri(target: &DialTarget, gateway: Option<SocketAddr>) -> Option<(String, String, Option<String>)> {
    match target {
        DialTarget::User(u) => {
            let uri = u.uri.as_ref()?.as_str().to_owned();
            Some((uri.clone(), uri, u.send_digits.as_ref().map(|d| d.as_str().to_owned())))
        }
        DialTarget::Number(n) => {
            let number = n.number.as_ref()?.as_str();
            let gateway = gateway?;
            let digits = n.send_digits.as_ref().map(|d| d.as_str().to_owned());
            Some((format!("sip:{number}@{gateway}"), number.to_owned(), digits))
        }
    }
}

impl SipShell {
    /// [`Work::Dial`](crate::media::Work::Dial): rings every party of `dial` for `call`
    /// (at most [`MAX_DIAL_PARTIES`]); with none to ring, the dial fails at once.
    pub(super) fn dial(
        &mut self,
        rt: &mut Runtime<AudioMedia>,
        now: Duration,
        call: CallId,
        media: MediaId,
        dial: &Dial,
    ) {
        let from = rt.engine().call(&call).map(|c| c.setup().from.to_string()).unwrap_or_default();
        let from = dial.caller_id.as_ref().map_or(from, |c| c.as_str().to_owned());
        let headers: Vec<Header> = dial
            .sip_headers
            .iter()
            .flat_map(|h| h.pairs())
            .map(|(k, v)| Header::Other(format!("X-PH-{}", k.as_str()), v.as_str().to_owned()))
            .collect();
        let mut parties = Parties { media, ringing: 0, rang: false, answered: false, busy: false, no_answer: false };
        for target in dial.targets.iter().take(MAX_DIAL_PARTIES) {
            let Some((uri, to, send_digits)) = target_uri(target, self.dialer.gateway) else {
                tracing::debug!("a <Dial> party without a SIP URI or gateway is not rung");
                continue;
            };
            let b_leg = CallId::from(rt.new_uuid());
            match self.send_invite(&b_leg, &from, &uri, &headers) {
                Ok((dialog, socket)) => {
                    parties.ringing += 1;
                    self.dialer.ringing.insert(b_leg, Party { caller: call.clone(), to, dialog, socket, send_digits });
                }
                Err(e) => tracing::warn!("<Dial> to {uri} not sent: {e}"),
            }
        }
        if parties.ringing == 0 {
            rt.media_mut().dial_progress(now, &call, media, DialEvent::Failed);
            return;
        }
        self.dialer.dials.insert(call, parties);
    }

    /// Sends one INVITE (its RTP socket bound first), its outcome coming back as
    /// [`Event::Invited`].
    pub(super) fn send_invite(
        &mut self,
        b_leg: &CallId,
        from: &str,
        to: &str,
        headers: &[Header],
    ) -> Result<(InviteDialog, Arc<UdpSocket>), String> {
        let callee = Uri::try_from(to).map_err(|e| e.to_string())?;
        let std_socket = std::net::UdpSocket::bind(SocketAddr::new(self.dialer.ip, 0)).map_err(|e| e.to_string())?;
        std_socket.set_nonblocking(true).map_err(|e| e.to_string())?;
        let socket = Arc::new(UdpSocket::from_std(std_socket).map_err(|e| e.to_string())?);
        let local = socket.local_addr().map_err(|e| e.to_string())?;
        let mut offer = String::new();
        write_offer(local, u64::from(local.port()), &mut offer);
        let user = if from.is_empty() { "plivo-flow" } else { from };
        let caller = Uri::try_from(format!("sip:{user}@{}", self.dialer.addr).as_str()).map_err(|e| e.to_string())?;
        let option = InviteOption {
            caller,
            callee,
            contact: self.dialer.contact.clone(),
            content_type: Some("application/sdp".into()),
            offer: Some(offer.into_bytes()),
            call_id: Some(b_leg.as_str().to_owned()),
            headers: (!headers.is_empty()).then(|| headers.to_vec()),
            ..Default::default()
        };
        let (dialog, handle) =
            self.dialer.dialogs.do_invite_async(option, self.dialer.states.clone()).map_err(|e| e.to_string())?;
        let events = self.events.clone();
        let b_leg = b_leg.clone();
        tokio::spawn(async move {
            let outcome = match handle.await {
                Ok(Ok((id, Some(resp)))) if resp.status_code.kind() == rsipstack::sip::StatusCodeKind::Successful => {
                    InviteOutcome::Answered(id, resp.body)
                }
                Ok(Ok((_, Some(resp)))) => InviteOutcome::Refused(resp.status_code),
                Ok(Ok((_, None))) => InviteOutcome::Unreachable("no final response".into()),
                Ok(Err(e)) => InviteOutcome::Unreachable(e.to_string()),
                Err(e) => InviteOutcome::Unreachable(e.to_string()),
            };
            let _ = events.send(Event::Invited { b_leg, outcome }).await;
        });
        Ok((dialog, socket))
    }

    /// A 180/183 from a ringing party: the dial rang.
    pub(super) fn dial_ringing(&mut self, rt: &mut Runtime<AudioMedia>, now: Duration, b_leg: &CallId) {
        let Some(party) = self.dialer.ringing.get(b_leg) else { return };
        let Some(d) = self.dialer.dials.get_mut(&party.caller) else { return };
        if !d.rang && !d.answered {
            d.rang = true;
            rt.media_mut().dial_progress(now, &party.caller, d.media, DialEvent::Ringing);
        }
    }

    /// A party's INVITE ended.
    pub(super) fn invited(
        &mut self,
        rt: &mut Runtime<AudioMedia>,
        now: Duration,
        b_leg: CallId,
        outcome: InviteOutcome,
    ) {
        // A party no longer ringing was hung up (`Dialog::hangup`: a CANCEL while it rang,
        // which makes rsipstack BYE a 2xx crossing it; a BYE if its 2xx came first).
        let Some(party) = self.dialer.ringing.remove(&b_leg) else {
            // Its hangup may have lost a race with the 2xx (checked outside rsipstack's state
            // lock): whatever answered a call we gave up on is hung up (no-op once ended).
            if let InviteOutcome::Answered(id, _) = outcome {
                self.dialer.hang_up(&id);
            }
            return;
        };
        let caller = party.caller.clone();
        let Some(d) = self.dialer.dials.get_mut(&caller) else { return };
        d.ringing = d.ringing.saturating_sub(1);
        let media = d.media;
        match outcome {
            InviteOutcome::Answered(id, body) => {
                let negotiated =
                    std::str::from_utf8(&body).ok().and_then(|b| SdpOffer::parse(b).ok()).and_then(|o| answer(&o).ok());
                match negotiated {
                    Some(n) if !d.answered => {
                        d.answered = true;
                        self.cancel_others(&caller);
                        self.bridge(rt, now, b_leg, party, id, LegConfig::from(&n), n.remote, media);
                    }
                    _ => {
                        // A second answer, or one with no audio we can take: hung up.
                        let dialog = party.dialog;
                        tokio::spawn(async move {
                            let _ = dialog.hangup().await;
                        });
                        if !d.answered {
                            self.settle(rt, now, &caller);
                        }
                    }
                }
            }
            InviteOutcome::Refused(status) => {
                let code = u16::from(status);
                if matches!(code, 486 | 600 | 603) {
                    d.busy = true;
                } else if matches!(code, 408 | 480 | 487) {
                    d.no_answer = true;
                }
                tracing::debug!(to = %party.to, code, "<Dial> party refused");
                self.settle(rt, now, &caller);
            }
            InviteOutcome::Unreachable(why) => {
                d.no_answer = true;
                tracing::debug!(to = %party.to, why, "<Dial> party unreachable");
                // Our transaction gave up (a timeout) while the far end may still ring:
                // CANCEL it (nothing is sent for a dialog that already ended).
                let dialog = party.dialog;
                tokio::spawn(async move {
                    let _ = dialog.hangup().await;
                });
                self.settle(rt, now, &caller);
            }
        }
    }

    /// Reports the dial's outcome once no party rings and none answered.
    fn settle(&mut self, rt: &mut Runtime<AudioMedia>, now: Duration, caller: &CallId) {
        let Some(d) = self.dialer.dials.get(caller) else { return };
        if d.ringing > 0 || d.answered {
            return;
        }
        let event = if d.busy {
            DialEvent::Busy
        } else if d.no_answer {
            DialEvent::NoAnswer
        } else {
            DialEvent::Failed
        };
        let media = d.media;
        self.dialer.dials.remove(caller);
        rt.media_mut().dial_progress(now, caller, media, event);
    }

    /// Hangs up the parties of `caller`'s dial that still ring (CANCEL; BYE for one whose 2xx
    /// is on its way to us).
    fn cancel_others(&mut self, caller: &CallId) {
        let others: Vec<CallId> =
            self.dialer.ringing.iter().filter(|(_, p)| &p.caller == caller).map(|(b, _)| b.clone()).collect();
        for b in others {
            if let Some(p) = self.dialer.ringing.remove(&b) {
                tokio::spawn(async move {
                    let _ = p.dialog.hangup().await;
                });
            }
        }
    }

    /// The party that answered becomes the B leg: its RTP flows, and the media bridges it.
    #[allow(clippy::too_many_arguments)]
    fn bridge(
        &mut self,
        rt: &mut Runtime<AudioMedia>,
        now: Duration,
        b_leg: CallId,
        party: Party,
        id: DialogId,
        leg: LegConfig,
        remote: SocketAddr,
        media: MediaId,
    ) {
        let span = crate::server::call_span(Some(&party.caller));
        tracing::debug!(parent: &span, to = %party.to, %remote, b_leg = b_leg.as_str(), "<Dial> answered");
        let reader = receive_rtp(party.socket.clone(), remote, b_leg.clone(), self.events.clone());
        let receiver = tokio::spawn(tracing::Instrument::instrument(reader, span));
        let seed = u32::from(party.socket.local_addr().map_or(0, |a| a.port()));
        let mut leg = Leg::new(leg, seed.wrapping_mul(2_654_435_761), seed as u16, seed.wrapping_mul(40_503));
        if let Some(digits) = &party.send_digits {
            leg.send_digits(digits);
        }
        let answered = rt.media_mut().dial_progress(
            now,
            &party.caller,
            media,
            DialEvent::Answered { b_leg: b_leg.clone(), to: party.to.clone() },
        );
        if !answered {
            let dialog = party.dialog;
            tokio::spawn(async move {
                let _ = dialog.hangup().await;
            });
            receiver.abort();
            return;
        }
        let gone = self.dialer.is_gone(&id);
        self.by_dialog.insert(id.clone(), b_leg.clone());
        self.calls.insert(
            b_leg.clone(),
            LiveCall {
                dialog: party.dialog,
                dialog_id: id,
                leg,
                socket: party.socket,
                remote,
                answer_sdp: String::new(),
                answered: true,
                receiver,
                caller: Some((party.caller, media)),
            },
        );
        if gone {
            // Its BYE came before its answer reached us: it hung up at once.
            if let Some(live) = self.calls.get(&b_leg) {
                self.by_dialog.remove(&live.dialog_id);
            }
            self.callee_gone(rt, now, &b_leg);
        }
    }

    /// [`Work::EndDial`](crate::media::Work::EndDial): stops ringing `caller`'s parties and
    /// hangs up the one that answered.
    pub(super) fn end_dial(&mut self, caller: &CallId) {
        self.cancel_others(caller);
        self.dialer.dials.remove(caller);
        let b_legs: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| c.caller.as_ref().is_some_and(|(a, _)| a == caller))
            .map(|(b, _)| b.clone())
            .collect();
        for b in b_legs {
            if let Some(live) = self.calls.remove(&b) {
                self.by_dialog.remove(&live.dialog_id);
                let dialog = live.dialog.clone();
                tokio::spawn(async move {
                    let _ = dialog.hangup().await;
                });
            }
        }
    }

    /// The B leg's dialog ended (its BYE): the caller's dial hears the callee's hangup.
    pub(super) fn callee_gone(&mut self, rt: &mut Runtime<AudioMedia>, now: Duration, b_leg: &CallId) {
        let Some(live) = self.calls.remove(b_leg) else { return };
        if let Some((caller, media)) = &live.caller {
            self.dialer.dials.remove(caller);
            rt.media_mut().dial_progress(now, caller, *media, DialEvent::CalleeHangup);
        }
    }

    /// Ends every call's dial state of `caller` (forgotten).
    pub(super) fn forget_dial(&mut self, caller: &CallId) {
        self.end_dial(caller);
    }
}
