//! Codecs for real calls, sans-IO: bytes in, bytes out, no sockets, no clock.
//!
//! What a SIP call's media needs, one file each:
//! - `g711`: [`Law`] (PCMU/PCMA, ITU-T G.711), [`SAMPLE_RATE`], [`FRAME_SAMPLES`], [`Frame`];
//! - `packet`: the RTP fixed header, [`RtpPacket::parse`] and [`RtpHeader::write`]
//!   (RFC 3550 §5.1);
//! - `dtmf`: RFC 4733 telephone-events: [`TelephoneEvent`], [`event_key`]/[`key_event`],
//!   [`DtmfReceiver`] (each key once) and [`DtmfSender`] (one key paced into packets);
//! - `sdp`: the audio stream of an SDP offer (RFC 8866), [`answer`] (RFC 3264),
//!   [`write_answer`] and [`write_offer`];
//! - `framer`: [`Framer`], any packet size re-sliced into 20 ms frames;
//! - `leg`: [`Leg`], one call's stream both ways: datagrams to frames and keys, frames and
//!   keys to datagrams.
//!
//! Every buffer that a peer's input can grow has a bound: [`MAX_SDP_LEN`], [`MAX_SDP_LINES`],
//! [`MAX_FORMATS`], [`MAX_MEDIA`], [`Framer::MAX_BUFFERED`], [`DtmfReceiver::RECENT_EVENTS`], [`MAX_KEYS`]. The plan they serve is
//! `docs/sip-plan.md`.

mod dtmf;
mod framer;
mod g711;
mod leg;
mod packet;
mod sdp;

pub use dtmf::{DtmfReceiver, DtmfSender, TelephoneEvent, TelephoneEventError, event_key, key_event};
pub use framer::Framer;
pub use g711::{FRAME_SAMPLES, Frame, Law, SAMPLE_RATE};
pub use leg::{KEY_GAP_TICKS, KEY_MS, KEY_VOLUME, Leg, LegConfig, LegStats, MAX_KEYS};
pub use packet::{HEADER_LEN, RtpError, RtpHeader, RtpPacket};
pub use sdp::{
    Direction, MAX_FORMATS, MAX_MEDIA, MAX_SDP_LEN, MAX_SDP_LINES, MediaLine, SdpAnswer, SdpError, SdpOffer, answer,
    write_answer, write_offer,
};
