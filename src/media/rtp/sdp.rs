//! SDP (RFC 8866) offer/answer (RFC 3264) for one G.711 audio stream.
//!
//! Only what a voice call negotiates is read: `v=`, `c=`, `m=`, and the `a=rtpmap`,
//! `a=ptime` and direction attributes; every other line must be well formed (`<letter>=…`)
//! and is skipped.

use std::fmt::{self, Write as _};
use std::net::{IpAddr, SocketAddr};

use super::g711::{Law, SAMPLE_RATE};

/// The longest SDP body read, in bytes. A voice offer is a few hundred bytes; a softphone's
/// with video and ICE a few thousand; SIP over UDP keeps the whole message under ~1,300.
pub const MAX_SDP_LEN: usize = 16 * 1024;

/// The most lines read in one SDP body.
pub const MAX_SDP_LINES: usize = 512;

/// The most formats on one `m=` line and `a=rtpmap` lines in one media section: payload types
/// are 7 bits, so no valid offer lists more than 128 once each.
pub const MAX_FORMATS: usize = 128;

/// The most `m=` lines (media streams) in one offer.
pub const MAX_MEDIA: usize = 16;

/// The transport this module speaks: RTP over UDP, audio/video profile (RFC 3551).
const RTP_AVP: &str = "RTP/AVP";

/// A stream's direction attribute (RFC 8866 §6.7), `sendrecv` when none is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// `a=sendrecv`: both ways.
    #[default]
    SendRecv,
    /// `a=sendonly`: the writer of the SDP only sends.
    SendOnly,
    /// `a=recvonly`: the writer only receives.
    RecvOnly,
    /// `a=inactive`: neither (a call on hold).
    Inactive,
}

impl Direction {
    /// The attribute's name: `"sendrecv"`, `"sendonly"`, `"recvonly"`, `"inactive"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The answer's direction to an offer's (RFC 3264 §6.1): `sendonly` ↔ `recvonly`, the
    /// other two unchanged.
    pub fn mirrored(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        }
    }

    fn from_attribute(name: &str) -> Option<Direction> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
}

/// An offered `m=` line besides the chosen audio one (video, a second audio, SRTP, port 0):
/// what the answer needs to refuse it with port 0 (RFC 3264 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaLine {
    /// The media type: `audio`, `video`, `application`, …
    pub media: String,
    /// The transport, e.g. `RTP/SAVPF`.
    pub proto: String,
    /// The first offered format, echoed in the refusal.
    pub format: String,
}

/// The audio stream of an SDP offer (RFC 8866 §5): the first `m=audio` line with a nonzero
/// port and transport `RTP/AVP`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpOffer {
    /// Where to send RTP: the stream's `c=` address, else the session's.
    pub connection: IpAddr,
    /// The stream's RTP port.
    pub port: u16,
    /// The payload types of the `m=` line, in the offerer's order of preference.
    pub formats: Vec<u8>,
    /// The stream's `a=rtpmap` lines: payload type, encoding name, clock rate in Hz (any
    /// channel count is not kept). At most [`MAX_FORMATS`].
    pub rtpmap: Vec<(u8, String, u32)>,
    /// The payload type mapped to `telephone-event/8000` (RFC 4733 §7.1.1) and listed in
    /// `formats`, if any.
    pub telephone_event: Option<u8>,
    /// `a=ptime`, the packet duration the offerer wants to receive, in ms.
    pub ptime_ms: Option<u32>,
    /// The stream's direction attribute, else the session's, else `sendrecv`.
    pub direction: Direction,
    /// The offer's other `m=` lines, in order (at most [`MAX_MEDIA`] − 1).
    pub other_media: Vec<MediaLine>,
    /// The audio line's position among all the offer's `m=` lines (0-based).
    pub audio_index: usize,
}

/// The negotiated audio stream: what the answer says and where media goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpAnswer {
    /// The codec chosen.
    pub law: Law,
    /// The payload type the offer gave it (0 or 8, or a dynamic one mapped by `a=rtpmap`),
    /// used both ways (RFC 3264 §6.1).
    pub payload_type: u8,
    /// The offer's telephone-event payload type, kept.
    pub telephone_event: Option<u8>,
    /// The answer's direction: the offer's mirrored.
    pub direction: Direction,
    /// The offerer's RTP address and port.
    pub remote: SocketAddr,
    /// The offer's other `m=` lines, refused with port 0 in the answer.
    pub other_media: Vec<MediaLine>,
    /// The audio line's position among the `m=` lines.
    pub audio_index: usize,
}

/// Why an SDP body gives no audio stream to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// Longer than [`MAX_SDP_LEN`] bytes or [`MAX_SDP_LINES`] lines.
    #[error("the SDP is longer than {MAX_SDP_LEN} bytes or {MAX_SDP_LINES} lines")]
    TooLong,
    /// A line (1-based) is not `<letter>=<value>`, the first is not `v=0`, or a `c=`, `m=`,
    /// `a=rtpmap` or `a=ptime` value is malformed (a `c=` host name counts: nothing here
    /// resolves names).
    #[error("SDP line {line} is malformed")]
    BadLine {
        /// 1-based line number.
        line: usize,
    },
    /// An `m=` line lists more than [`MAX_FORMATS`] formats, or a section has more
    /// `a=rtpmap` lines.
    #[error("an SDP media section has more than {MAX_FORMATS} formats or rtpmap lines")]
    TooManyFormats,
    /// More than [`MAX_MEDIA`] `m=` lines.
    #[error("the SDP has more than {MAX_MEDIA} media streams")]
    TooManyMedia,
    /// No `m=audio` line with a nonzero port over `RTP/AVP`.
    #[error("the SDP offers no RTP/AVP audio stream")]
    NoAudio,
    /// The audio stream has no `c=` line, nor does the session.
    #[error("the SDP audio stream has no connection address")]
    NoConnection,
    /// The audio stream offers neither PCMU nor PCMA at 8,000 Hz.
    #[error("the SDP audio stream offers neither PCMU nor PCMA")]
    NoCommonCodec,
}

/// One media section while it is read.
#[derive(Debug)]
struct Section {
    media: String,
    port: u16,
    proto: String,
    first_format: String,
    formats: Vec<u8>,
    connection: Option<IpAddr>,
    rtpmap: Vec<(u8, String, u32)>,
    ptime_ms: Option<u32>,
    direction: Option<Direction>,
}

impl Section {
    fn is_audio(&self) -> bool {
        self.media == "audio" && self.port != 0 && self.proto == RTP_AVP
    }
}

impl SdpOffer {
    /// Reads an SDP offer (RFC 8866 §5) and its audio stream. Lines end with CRLF or LF; the
    /// first must be `v=0`; empty lines are allowed only at the end.
    ///
    /// # Errors
    /// [`SdpError`]: too long, a malformed line, too many formats or streams, no audio
    /// stream or no address for it.
    pub fn parse(sdp: &str) -> Result<Self, SdpError> {
        if sdp.len() > MAX_SDP_LEN {
            return Err(SdpError::TooLong);
        }
        let body = sdp.trim_end_matches(['\r', '\n']);
        let mut session_connection = None;
        let mut session_direction = None;
        let mut sections: usize = 0;
        let mut current: Option<Section> = None;
        let mut audio: Option<(usize, Section)> = None;
        let mut other_media = Vec::new();
        for (i, raw) in body.split('\n').enumerate() {
            let n = i + 1;
            if n > MAX_SDP_LINES {
                return Err(SdpError::TooLong);
            }
            let bad = SdpError::BadLine { line: n };
            let text = raw.strip_suffix('\r').unwrap_or(raw);
            let (kind, value) = split_line(text).ok_or(bad)?;
            if n == 1 && (kind, value) != (b'v', "0") {
                return Err(bad);
            }
            match kind {
                b'm' => {
                    if let Some(done) = current.take() {
                        finish(done, sections - 1, &mut audio, &mut other_media);
                    }
                    sections += 1;
                    if sections > MAX_MEDIA {
                        return Err(SdpError::TooManyMedia);
                    }
                    current = Some(media_line(value).map_err(|e| e.at(n))?);
                }
                b'c' => {
                    let addr = connection(value).ok_or(bad)?;
                    match current.as_mut() {
                        Some(s) => s.connection = Some(addr),
                        None => session_connection = Some(addr),
                    }
                }
                b'a' => {
                    let (name, arg) = value.split_once(':').unwrap_or((value, ""));
                    if let Some(d) = Direction::from_attribute(name) {
                        match current.as_mut() {
                            Some(s) => s.direction = Some(d),
                            None => session_direction = Some(d),
                        }
                    } else if let Some(s) = current.as_mut() {
                        match name {
                            "rtpmap" => {
                                if s.rtpmap.len() >= MAX_FORMATS {
                                    return Err(SdpError::TooManyFormats);
                                }
                                s.rtpmap.push(rtpmap(arg).ok_or(bad)?);
                            }
                            "ptime" => s.ptime_ms = Some(arg.parse().map_err(|_| bad)?),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(done) = current.take() {
            finish(done, sections.saturating_sub(1), &mut audio, &mut other_media);
        }
        let (audio_index, s) = audio.ok_or(SdpError::NoAudio)?;
        let connection = s.connection.or(session_connection).ok_or(SdpError::NoConnection)?;
        let telephone_event = s.formats.iter().copied().find(|&pt| {
            s.rtpmap
                .iter()
                .any(|(p, enc, clock)| *p == pt && enc.eq_ignore_ascii_case("telephone-event") && *clock == SAMPLE_RATE)
        });
        Ok(SdpOffer {
            connection,
            port: s.port,
            formats: s.formats,
            rtpmap: s.rtpmap,
            telephone_event,
            ptime_ms: s.ptime_ms,
            direction: s.direction.or(session_direction).unwrap_or_default(),
            other_media,
            audio_index,
        })
    }
}

/// A finished section becomes the audio stream (the first that qualifies) or another line.
fn finish(s: Section, index: usize, audio: &mut Option<(usize, Section)>, others: &mut Vec<MediaLine>) {
    if audio.is_none() && s.is_audio() {
        *audio = Some((index, s));
    } else {
        others.push(MediaLine { media: s.media, proto: s.proto, format: s.first_format });
    }
}

/// `<type>=<value>` with a lowercase letter type (RFC 8866 §5).
fn split_line(text: &str) -> Option<(u8, &str)> {
    match text.as_bytes() {
        [kind @ b'a'..=b'z', b'=', ..] => Some((*kind, text.get(2..)?)),
        _ => None,
    }
}

/// A malformed `m=` line or one with too many formats.
enum MediaLineError {
    Bad,
    TooManyFormats,
}

impl MediaLineError {
    fn at(self, line: usize) -> SdpError {
        match self {
            MediaLineError::Bad => SdpError::BadLine { line },
            MediaLineError::TooManyFormats => SdpError::TooManyFormats,
        }
    }
}

/// `m=<media> <port>[/<count>] <proto> <fmt> …` (RFC 8866 §5.14). Formats are read as payload
/// types only on an `RTP/AVP` line.
fn media_line(value: &str) -> Result<Section, MediaLineError> {
    let mut words = value.split(' ');
    let (Some(media), Some(port), Some(proto)) = (words.next(), words.next(), words.next()) else {
        return Err(MediaLineError::Bad);
    };
    let port = port.split_once('/').map_or(port, |(p, _)| p);
    let port: u16 = port.parse().map_err(|_| MediaLineError::Bad)?;
    if media.is_empty() || proto.is_empty() {
        return Err(MediaLineError::Bad);
    }
    let mut first_format = None;
    let mut formats = Vec::new();
    for (count, word) in words.enumerate() {
        if count >= MAX_FORMATS {
            return Err(MediaLineError::TooManyFormats);
        }
        if word.is_empty() {
            return Err(MediaLineError::Bad);
        }
        if proto == RTP_AVP {
            formats.push(payload_type(word).ok_or(MediaLineError::Bad)?);
        }
        first_format.get_or_insert(word);
    }
    let first_format = first_format.ok_or(MediaLineError::Bad)?.to_owned();
    Ok(Section {
        media: media.to_owned(),
        port,
        proto: proto.to_owned(),
        first_format,
        formats,
        connection: None,
        rtpmap: Vec::new(),
        ptime_ms: None,
        direction: None,
    })
}

/// A payload type: decimal 0..=127.
fn payload_type(word: &str) -> Option<u8> {
    word.parse::<u8>().ok().filter(|pt| *pt <= 127)
}

/// `c=IN IP4 <address>[/<ttl>]` or `c=IN IP6 <address>` (RFC 8866 §5.7), numeric only.
fn connection(value: &str) -> Option<IpAddr> {
    let mut words = value.split(' ');
    let (Some("IN"), Some(family), Some(address), None) = (words.next(), words.next(), words.next(), words.next())
    else {
        return None;
    };
    let address = address.split_once('/').map_or(address, |(a, _)| a);
    let ip: IpAddr = address.parse().ok()?;
    match (family, ip) {
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => Some(ip),
        _ => None,
    }
}

/// `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]` (RFC 8866 §6.6).
fn rtpmap(arg: &str) -> Option<(u8, String, u32)> {
    let (pt, rest) = arg.split_once(' ')?;
    let mut parts = rest.split('/');
    let (Some(encoding), Some(clock)) = (parts.next(), parts.next()) else {
        return None;
    };
    if encoding.is_empty() || parts.clone().count() > 1 {
        return None;
    }
    if let Some(channels) = parts.next() {
        channels.parse::<u8>().ok()?;
    }
    Some((payload_type(pt)?, encoding.to_owned(), clock.parse().ok()?))
}

/// Answers an offer (RFC 3264 §6.1): the first of its formats that is PCMU or PCMA (a static
/// type 0 or 8 without `a=rtpmap`, or any type whose `a=rtpmap` names one at 8,000 Hz), its
/// telephone-event kept if offered, the direction mirrored, the other streams refused.
///
/// # Errors
/// [`SdpError::NoCommonCodec`] when no format is G.711.
pub fn answer(offer: &SdpOffer) -> Result<SdpAnswer, SdpError> {
    let chosen = offer.formats.iter().find_map(|&pt| {
        let law = match offer.rtpmap.iter().find(|(p, ..)| *p == pt) {
            Some((_, encoding, clock)) => Law::from_encoding_name(encoding).filter(|_| *clock == SAMPLE_RATE),
            None => Law::from_payload_type(pt),
        };
        law.map(|law| (law, pt))
    });
    let (law, payload_type) = chosen.ok_or(SdpError::NoCommonCodec)?;
    Ok(SdpAnswer {
        law,
        payload_type,
        telephone_event: offer.telephone_event.filter(|pt| offer.formats.contains(pt)),
        direction: offer.direction.mirrored(),
        remote: SocketAddr::new(offer.connection, offer.port),
        other_media: offer.other_media.clone(),
        audio_index: offer.audio_index,
    })
}

/// Appends one line and its CRLF (RFC 8866 §5). Writing into a `String` cannot fail.
fn line(out: &mut String, args: fmt::Arguments<'_>) {
    let _ = out.write_fmt(args);
    out.push_str("\r\n");
}

/// The session part: `v=`, `o=`, `s=`, `c=`, `t=` (RFC 8866 §5.1–5.9).
fn write_session(local: SocketAddr, session_id: u64, out: &mut String) {
    let family = if local.is_ipv4() { "IP4" } else { "IP6" };
    let ip = local.ip();
    line(out, format_args!("v=0"));
    line(out, format_args!("o=- {session_id} {session_id} IN {family} {ip}"));
    line(out, format_args!("s=plivo-flow"));
    line(out, format_args!("c=IN {family} {ip}"));
    line(out, format_args!("t=0 0"));
}

/// The telephone-event lines: `a=rtpmap:<pt> telephone-event/8000`, `a=fmtp:<pt> 0-15`
/// (RFC 4733 §7.1.1: the 16 DTMF events).
fn write_telephone_event(pt: u8, out: &mut String) {
    line(out, format_args!("a=rtpmap:{pt} telephone-event/8000"));
    line(out, format_args!("a=fmtp:{pt} 0-15"));
}

/// Appends the answer's SDP body to `out` (CRLF lines): `v=`, `o=- <session_id> <session_id>
/// IN IP4|IP6 <local ip>`, `s=`, `c=`, `t=0 0`, then the `m=` lines in the offer's order:
/// `m=audio <local port> RTP/AVP <law PT> [<te PT>]` with its `a=rtpmap` lines, `a=fmtp:<te>
/// 0-15`, `a=ptime:20` and the direction; each other stream as `m=<media> 0 <proto> <fmt>`
/// (refused, RFC 3264 §6).
pub fn write_answer(answer: &SdpAnswer, local: SocketAddr, session_id: u64, out: &mut String) {
    write_session(local, session_id, out);
    let (before, after) = answer.other_media.split_at(answer.audio_index.min(answer.other_media.len()));
    for m in before {
        write_refused(m, out);
    }
    let pt = answer.payload_type;
    let port = local.port();
    match answer.telephone_event {
        Some(te) => line(out, format_args!("m=audio {port} {RTP_AVP} {pt} {te}")),
        None => line(out, format_args!("m=audio {port} {RTP_AVP} {pt}")),
    }
    let name = answer.law.encoding_name();
    line(out, format_args!("a=rtpmap:{pt} {name}/{SAMPLE_RATE}"));
    if let Some(te) = answer.telephone_event {
        write_telephone_event(te, out);
    }
    line(out, format_args!("a=ptime:20"));
    line(out, format_args!("a={}", answer.direction.as_str()));
    for m in after {
        write_refused(m, out);
    }
}

fn write_refused(m: &MediaLine, out: &mut String) {
    line(out, format_args!("m={} 0 {} {}", m.media, m.proto, m.format));
}

/// Appends an offer's SDP body for an outbound INVITE to `out`: the session lines as in
/// [`write_answer`], then `m=audio <local port> RTP/AVP 0 8 101` (PCMU, PCMA,
/// telephone-event 101), their `a=rtpmap` lines, `a=fmtp:101 0-15`, `a=ptime:20`,
/// `a=sendrecv`.
pub fn write_offer(local: SocketAddr, session_id: u64, out: &mut String) {
    /// The dynamic payload type offered for telephone-events (the common choice).
    const TELEPHONE_EVENT: u8 = 101;
    write_session(local, session_id, out);
    let port = local.port();
    line(out, format_args!("m=audio {port} {RTP_AVP} 0 8 {TELEPHONE_EVENT}"));
    for law in [Law::Pcmu, Law::Pcma] {
        let (pt, name) = (law.payload_type(), law.encoding_name());
        line(out, format_args!("a=rtpmap:{pt} {name}/{SAMPLE_RATE}"));
    }
    write_telephone_event(TELEPHONE_EVENT, out);
    line(out, format_args!("a=ptime:20"));
    line(out, format_args!("a=sendrecv"));
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIPP: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n\
        c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

    #[test]
    fn reads_sipps_offer() {
        let offer = SdpOffer::parse(SIPP).unwrap();
        assert_eq!(offer.connection, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(offer.port, 6000);
        assert_eq!(offer.formats, [0]);
        assert_eq!(offer.rtpmap, [(0, "PCMU".to_owned(), 8000)]);
        assert_eq!(offer.telephone_event, None);
        assert_eq!(offer.direction, Direction::SendRecv);
        assert!(offer.other_media.is_empty());
    }

    #[test]
    fn media_level_overrides_session_level() {
        let sdp = "v=0\nc=IN IP4 10.0.0.1\na=sendonly\nt=0 0\n\
            m=audio 4000 RTP/AVP 8\nc=IN IP6 ::1\na=inactive\na=ptime:30\n";
        let offer = SdpOffer::parse(sdp).unwrap();
        assert_eq!(offer.connection, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(offer.direction, Direction::Inactive);
        assert_eq!(offer.ptime_ms, Some(30));
        let session_only = "v=0\nc=IN IP4 10.0.0.1\na=sendonly\nm=audio 4000 RTP/AVP 8\n";
        let offer = SdpOffer::parse(session_only).unwrap();
        assert_eq!(offer.direction, Direction::SendOnly);
        assert_eq!(answer(&offer).unwrap().direction, Direction::RecvOnly);
    }

    #[test]
    fn names_the_bad_line() {
        assert_eq!(SdpOffer::parse("v=1\r\n"), Err(SdpError::BadLine { line: 1 }));
        let no_equals = "v=0\r\ns -\r\n";
        assert_eq!(SdpOffer::parse(no_equals), Err(SdpError::BadLine { line: 2 }));
        let bad_c = "v=0\r\nc=IN IP4 host.example\r\n";
        assert_eq!(SdpOffer::parse(bad_c), Err(SdpError::BadLine { line: 2 }));
        let bad_pt = "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0 128\r\n";
        assert_eq!(SdpOffer::parse(bad_pt), Err(SdpError::BadLine { line: 3 }));
        let bad_map = "v=0\r\nm=audio 1 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n";
        assert_eq!(SdpOffer::parse(bad_map), Err(SdpError::BadLine { line: 3 }));
        let blank = "v=0\r\n\r\nc=IN IP4 1.2.3.4\r\n";
        assert_eq!(SdpOffer::parse(blank), Err(SdpError::BadLine { line: 2 }));
    }

    #[test]
    fn bounds_hold() {
        let long = format!("v=0\r\na={}\r\n", "x".repeat(MAX_SDP_LEN));
        assert_eq!(SdpOffer::parse(&long), Err(SdpError::TooLong));
        let many = format!("v=0\r\n{}", "a=x\r\n".repeat(MAX_SDP_LINES));
        assert_eq!(SdpOffer::parse(&many), Err(SdpError::TooLong));
        let formats: String = (0..=MAX_FORMATS).map(|i| format!(" {}", i % 128)).collect();
        let wide = format!("v=0\r\nm=audio 1 RTP/AVP{formats}\r\n");
        assert_eq!(SdpOffer::parse(&wide), Err(SdpError::TooManyFormats));
        let maps = format!("v=0\r\nm=audio 1 RTP/AVP 0\r\n{}", "a=rtpmap:0 PCMU/8000\r\n".repeat(MAX_FORMATS + 1));
        assert_eq!(SdpOffer::parse(&maps), Err(SdpError::TooManyFormats));
        let streams = format!("v=0\r\n{}", "m=video 0 RTP/AVP 96\r\n".repeat(MAX_MEDIA + 1));
        assert_eq!(SdpOffer::parse(&streams), Err(SdpError::TooManyMedia));
    }

    #[test]
    fn needs_audio_an_address_and_g711() {
        let video = "v=0\r\nc=IN IP4 1.2.3.4\r\nm=video 5000 RTP/AVP 96\r\n";
        assert_eq!(SdpOffer::parse(video), Err(SdpError::NoAudio));
        let rejected = "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 0 RTP/AVP 0\r\n";
        assert_eq!(SdpOffer::parse(rejected), Err(SdpError::NoAudio));
        let srtp = "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/SAVP 0\r\n";
        assert_eq!(SdpOffer::parse(srtp), Err(SdpError::NoAudio));
        let nowhere = "v=0\r\nm=audio 5000 RTP/AVP 0\r\n";
        assert_eq!(SdpOffer::parse(nowhere), Err(SdpError::NoConnection));
        let g722 = "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 9 96\r\na=rtpmap:96 PCMU/16000\r\n";
        let offer = SdpOffer::parse(g722).unwrap();
        assert_eq!(answer(&offer), Err(SdpError::NoCommonCodec));
    }

    #[test]
    fn a_dynamic_pcma_keeps_its_payload_type() {
        let sdp = "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 96 0\r\na=rtpmap:96 pcma/8000\r\n";
        let a = answer(&SdpOffer::parse(sdp).unwrap()).unwrap();
        assert_eq!((a.law, a.payload_type), (Law::Pcma, 96));
        let mut out = String::new();
        write_answer(&a, "127.0.0.1:7000".parse().unwrap(), 1, &mut out);
        assert!(out.contains("m=audio 7000 RTP/AVP 96\r\na=rtpmap:96 PCMA/8000\r\n"), "{out}");
    }

    #[test]
    fn answers_sipp_in_rfc_3264s_shape() {
        let a = answer(&SdpOffer::parse(SIPP).unwrap()).unwrap();
        let mut out = String::new();
        write_answer(&a, "127.0.0.1:7000".parse().unwrap(), 42, &mut out);
        assert_eq!(
            out,
            "v=0\r\no=- 42 42 IN IP4 127.0.0.1\r\ns=plivo-flow\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio 7000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n"
        );
    }

    #[test]
    fn the_offer_we_write_is_one_we_answer() {
        let mut out = String::new();
        write_offer("[::1]:9000".parse().unwrap(), 7, &mut out);
        assert!(out.starts_with("v=0\r\no=- 7 7 IN IP6 ::1\r\n"), "{out}");
        let offer = SdpOffer::parse(&out).unwrap();
        assert_eq!(offer.formats, [0, 8, 101]);
        assert_eq!(offer.telephone_event, Some(101));
        let a = answer(&offer).unwrap();
        assert_eq!((a.law, a.payload_type, a.telephone_event), (Law::Pcmu, 0, Some(101)));
        assert_eq!(a.remote, "[::1]:9000".parse().unwrap());
    }
}
