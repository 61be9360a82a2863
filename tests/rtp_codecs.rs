//! Property tests of the sans-IO codecs of `media::rtp` (G.711, RTP, RFC 4733, SDP, framer),
//! and the SDP answers to the offers of the peers CI uses (SIPp, baresip).
#![cfg(feature = "rtp")]

use std::net::SocketAddr;

use plivo_flow::media::rtp::{
    Direction, DtmfReceiver, DtmfSender, FRAME_SAMPLES, Framer, Law, RtpHeader, RtpPacket, SdpError, SdpOffer,
    TelephoneEvent, answer, write_answer,
};
use proptest::prelude::*;

/// Every value the law decodes to, sorted.
fn levels(law: Law) -> Vec<i16> {
    let bytes: Vec<u8> = (0..=255).collect();
    let mut out = Vec::new();
    law.decode(&bytes, &mut out);
    out.sort_unstable();
    out.dedup();
    out
}

/// The quantisation step at `decoded` towards `x`: the gap to the next level on `x`'s side
/// (or the other side at the ends of the range).
fn step_towards(levels: &[i16], decoded: i16, x: i16) -> i32 {
    let i = levels.binary_search(&decoded).expect("a decoded value is a level");
    let below = i.checked_sub(1).and_then(|j| levels.get(j));
    let above = levels.get(i + 1);
    let side = if x >= decoded { above.or(below) } else { below.or(above) };
    (i32::from(*side.expect("more than one level")) - i32::from(decoded)).abs()
}

#[test]
fn g711_decode_then_encode_is_identity_for_all_256_bytes() {
    for law in [Law::Pcmu, Law::Pcma] {
        for byte in 0..=255u8 {
            let mut pcm = Vec::new();
            law.decode(&[byte], &mut pcm);
            let mut back = Vec::new();
            law.encode(&pcm, &mut back);
            // μ-law has two zeros: 0x7F (−0) decodes to 0 like 0xFF (+0), which 0 encodes to.
            let expected = if law == Law::Pcmu && byte == 0x7F { 0xFF } else { byte };
            assert_eq!(back, [expected], "{law:?} byte {byte:#04x} → {pcm:?}");
        }
    }
}

/// The baresip-like offer: Opus, G.722, PCMU, PCMA, telephone-event 101 (baresip 3's
/// defaults, with its extra attributes).
const BARESIP: &str = "v=0\r\n\
    o=- 3924118442 2411553346 IN IP4 127.0.0.1\r\n\
    s=-\r\n\
    c=IN IP4 127.0.0.1\r\n\
    t=0 0\r\n\
    m=audio 10000 RTP/AVP 96 9 0 8 101\r\n\
    b=AS:128\r\n\
    a=rtpmap:96 opus/48000/2\r\n\
    a=fmtp:96 stereo=1;sprop-stereo=1\r\n\
    a=rtpmap:9 G722/8000\r\n\
    a=rtpmap:0 PCMU/8000\r\n\
    a=rtpmap:8 PCMA/8000\r\n\
    a=rtpmap:101 telephone-event/8000\r\n\
    a=fmtp:101 0-15\r\n\
    a=sendrecv\r\n\
    a=label:1\r\n\
    a=ssrc:1559423476 cname:sip:alice@127.0.0.1\r\n\
    a=rtcp-mux\r\n\
    a=ptime:20\r\n";

/// SIPp's built-in `uac` scenario's offer (`-sn uac`, media port 6000).
const SIPP_UAC: &str = "v=0\r\n\
    o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
    s=-\r\n\
    c=IN IP4 127.0.0.1\r\n\
    t=0 0\r\n\
    m=audio 6000 RTP/AVP 0\r\n\
    a=rtpmap:0 PCMU/8000\r\n";

fn local() -> SocketAddr {
    "127.0.0.1:20000".parse().expect("address")
}

#[test]
fn sipps_offer_gets_pcmu_alone() {
    // RFC 3264 §6.1: the answer lists only formats the offer had: PT 0, no telephone-event.
    let a = answer(&SdpOffer::parse(SIPP_UAC).expect("offer")).expect("answer");
    assert_eq!((a.law, a.payload_type, a.telephone_event), (Law::Pcmu, 0, None));
    assert_eq!(a.remote, "127.0.0.1:6000".parse().expect("address"));
    assert_eq!(a.direction, Direction::SendRecv);
    let mut sdp = String::new();
    write_answer(&a, local(), 1, &mut sdp);
    assert!(sdp.contains("\r\nm=audio 20000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n"));
    assert!(!sdp.contains("telephone-event"), "{sdp}");
}

#[test]
fn baresips_offer_gets_its_first_g711_and_telephone_event() {
    let offer = SdpOffer::parse(BARESIP).expect("offer");
    assert_eq!(offer.formats, [96, 9, 0, 8, 101]);
    assert_eq!(offer.telephone_event, Some(101));
    assert_eq!(offer.ptime_ms, Some(20));
    let a = answer(&offer).expect("answer");
    assert_eq!((a.law, a.payload_type, a.telephone_event), (Law::Pcmu, 0, Some(101)));
    assert_eq!(a.remote, "127.0.0.1:10000".parse().expect("address"));
    let mut sdp = String::new();
    write_answer(&a, local(), 99, &mut sdp);
    assert_eq!(
        sdp,
        "v=0\r\no=- 99 99 IN IP4 127.0.0.1\r\ns=plivo-flow\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio 20000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
    );

    // The offerer's order of preference decides: PCMA before PCMU gives PCMA.
    let pcma_first = BARESIP.replace("96 9 0 8 101", "96 9 8 0 101");
    let a = answer(&SdpOffer::parse(&pcma_first).expect("offer")).expect("answer");
    assert_eq!(a.law, Law::Pcma);

    // A hold (sendonly) is answered recvonly.
    let hold = BARESIP.replace("a=sendrecv", "a=sendonly");
    let a = answer(&SdpOffer::parse(&hold).expect("offer")).expect("answer");
    assert_eq!(a.direction, Direction::RecvOnly);
}

#[test]
fn a_video_stream_is_refused_in_its_place() {
    // RFC 3264 §6: as many m= lines as the offer, the refused ones with port 0.
    let with_video = format!("{BARESIP}m=video 10002 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\n");
    let video_first = BARESIP.replacen("m=audio", "m=video 10002 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\nm=audio", 1);
    for (sdp, refused_first) in [(with_video, false), (video_first, true)] {
        let a = answer(&SdpOffer::parse(&sdp).expect("offer")).expect("answer");
        let mut out = String::new();
        write_answer(&a, local(), 1, &mut out);
        let m_lines: Vec<&str> = out.lines().filter(|l| l.starts_with("m=")).collect();
        let expected = if refused_first {
            ["m=video 0 RTP/AVP 97", "m=audio 20000 RTP/AVP 0 101"]
        } else {
            ["m=audio 20000 RTP/AVP 0 101", "m=video 0 RTP/AVP 97"]
        };
        assert_eq!(m_lines, expected, "{out}");
    }
}

#[test]
fn an_offer_without_g711_is_refused() {
    let opus_only = BARESIP.replace("96 9 0 8 101", "96 9 101");
    let offer = SdpOffer::parse(&opus_only).expect("offer");
    assert_eq!(answer(&offer), Err(SdpError::NoCommonCodec));
}

/// Sends `keys` with [`DtmfSender`], one event after another, as (header, event) packets.
fn dtmf_packets(keys: &[(char, u32)], start: u32, ssrc: u32) -> Vec<(RtpHeader, TelephoneEvent)> {
    let mut out = Vec::new();
    let mut timestamp = start;
    let mut sequence = 0u16;
    for &(key, ms) in keys {
        let mut tx = DtmfSender::new(key, ms, 10).expect("a DTMF key");
        while let Some((marker, ev)) = tx.next_payload() {
            let header = RtpHeader { marker, payload_type: 101, sequence, timestamp, ssrc };
            out.push((header, ev));
            sequence = sequence.wrapping_add(1);
        }
        // The next event starts after this one and a 20 ms gap.
        timestamp = timestamp.wrapping_add(u32::from(tx.duration()) + 160);
    }
    out
}

/// The packets of one of SIPp's `dtmf_2833_<key>.pcap` files (SIPp 3.6.1, as read from them):
/// one SSRC for all, the capture's timestamp, durations 0, 320, … 1920, then 2240 with the
/// end bit three times; the first packet has the marker.
fn sipp_dtmf_pcap(key: char, timestamp: u32) -> Vec<(RtpHeader, TelephoneEvent)> {
    let event = plivo_flow::media::rtp::key_event(key).expect("a key");
    let durations = (0..7).map(|i| (i * 320, false)).chain([(2240, true); 3]);
    durations
        .enumerate()
        .map(|(i, (duration, end))| {
            let header =
                RtpHeader { marker: i == 0, payload_type: 101, sequence: i as u16, timestamp, ssrc: 235_223_118 };
            (header, TelephoneEvent { event, end, volume: 10, duration })
        })
        .collect()
}

#[test]
fn sipps_dtmf_pcaps_give_each_key_once_in_any_order() {
    // Their timestamps: 1 → 13280, 9 → 67840, # → 92640. Step 6 plays 1 then #; 9 then 1
    // goes backwards in time and is still two keys.
    for (keys, expected) in [([('1', 13_280), ('#', 92_640)], "1#"), ([('9', 67_840), ('1', 13_280)], "91")] {
        let mut rx = DtmfReceiver::new();
        let mut heard = String::new();
        for (key, timestamp) in keys {
            for (h, e) in sipp_dtmf_pcap(key, timestamp) {
                heard.extend(rx.receive(&h, &e));
            }
        }
        heard.extend(rx.flush());
        assert_eq!(heard, expected);
    }
}

fn key() -> impl Strategy<Value = char> {
    prop::sample::select("0123456789*#ABCD".chars().collect::<Vec<_>>())
}

proptest! {
    #[test]
    fn g711_encode_then_decode_is_within_one_step(x in any::<i16>()) {
        for law in [Law::Pcmu, Law::Pcma] {
            let mut byte = Vec::new();
            law.encode(&[x], &mut byte);
            let mut back = Vec::new();
            law.decode(&byte, &mut back);
            prop_assert_eq!(back.len(), 1);
            let d = back[0];
            let step = step_towards(&levels(law), d, x);
            prop_assert!(
                (i32::from(x) - i32::from(d)).abs() <= step,
                "{:?}: {} → {} (step {})", law, x, d, step
            );
        }
    }

    #[test]
    fn rtp_write_then_parse_is_identity(
        marker in any::<bool>(),
        payload_type in 0u8..128,
        sequence in any::<u16>(),
        timestamp in any::<u32>(),
        ssrc in any::<u32>(),
        payload in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        let header = RtpHeader { marker, payload_type, sequence, timestamp, ssrc };
        let mut datagram = Vec::new();
        header.write(&payload, &mut datagram);
        let packet = RtpPacket::parse(&datagram).expect("a written packet parses");
        prop_assert_eq!(packet.header, header);
        prop_assert_eq!(packet.payload, &payload[..]);
    }

    #[test]
    fn rtp_parse_never_panics(
        first in any::<u8>(),
        rest in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        // The first byte's flags (version, padding, extension, CSRC count) drive the parse:
        // version 2 half the time, so the later checks are reached.
        let first = if rest.len() % 2 == 0 { first & 0x3F | 0x80 } else { first };
        let mut datagram = vec![first];
        datagram.extend_from_slice(&rest);
        if let Ok(packet) = RtpPacket::parse(&datagram) {
            prop_assert!(packet.payload.len() + 12 <= datagram.len());
            prop_assert!(packet.header.payload_type < 128);
        }
    }

    #[test]
    fn telephone_event_write_then_parse_is_identity(
        event in any::<u8>(), end in any::<bool>(), volume in 0u8..64, duration in any::<u16>(),
    ) {
        let ev = TelephoneEvent { event, end, volume, duration };
        let mut payload = Vec::new();
        ev.write(&mut payload);
        prop_assert_eq!(payload.len(), TelephoneEvent::LEN);
        prop_assert_eq!(TelephoneEvent::parse(&payload), Ok(ev));
    }

    #[test]
    fn dtmf_each_key_once_despite_repeats_reordering_and_a_loss(
        keys in prop::collection::vec((key(), 0u32..300), 1..6),
        start in any::<u32>(),
        ssrc in any::<u32>(),
        repeat in any::<Option<(prop::sample::Index, prop::sample::Index)>>(),
        swap in any::<Option<prop::sample::Index>>(),
        lose in any::<Option<prop::sample::Index>>(),
    ) {
        let mut packets = dtmf_packets(&keys, start, ssrc);
        if let Some((which, later)) = repeat {
            // A copy of one packet arrives again, at once or later.
            let i = which.index(packets.len());
            let copy = packets[i];
            let at = i + 1 + later.index(packets.len() - i);
            packets.insert(at, copy);
        }
        if let Some(i) = swap {
            let i = i.index(packets.len() - 1);
            packets.swap(i, i + 1);
        }
        if let Some(i) = lose {
            packets.remove(i.index(packets.len()));
        }
        let mut rx = DtmfReceiver::new();
        let mut heard: String = packets.iter().filter_map(|(h, e)| rx.receive(h, e)).collect();
        heard.extend(rx.flush());
        let sent: String = keys.iter().map(|(k, _)| *k).collect();
        prop_assert_eq!(heard, sent);
    }

    #[test]
    fn framer_conserves_samples_within_its_bound(
        ops in prop::collection::vec(prop_oneof![(0usize..2000).prop_map(Some), Just(None)], 0..40),
    ) {
        let mut framer = Framer::new();
        let mut next: u16 = 0;
        let (mut pushed, mut popped) = (0u64, 0u64);
        for op in ops {
            match op {
                Some(n) => {
                    let pcm: Vec<i16> = (0..n)
                        .map(|_| { next = next.wrapping_add(1); next as i16 })
                        .collect();
                    framer.push(&pcm);
                    pushed += n as u64;
                }
                None => {
                    while let Some(frame) = framer.pop() {
                        // A frame is consecutive samples: nothing inside it was dropped.
                        for pair in frame.windows(2) {
                            prop_assert_eq!(pair[1], pair[0].wrapping_add(1));
                        }
                        popped += FRAME_SAMPLES as u64;
                    }
                }
            }
            prop_assert!(framer.buffered() <= Framer::MAX_BUFFERED);
            prop_assert_eq!(pushed, popped + framer.buffered() as u64 + framer.dropped());
        }
    }

    #[test]
    fn sdp_parse_never_panics_on_text(text in "\\PC{0,600}") {
        if let Ok(offer) = SdpOffer::parse(&text) {
            let _ = answer(&offer);
        }
    }

    #[test]
    fn sdp_answers_reparse_to_what_was_negotiated(
        lines in sdp_lines(),
        lf_only in any::<bool>(),
    ) {
        let eol = if lf_only { "\n" } else { "\r\n" };
        let mut sdp = format!("v=0{eol}");
        for line in &lines {
            sdp.push_str(line);
            sdp.push_str(eol);
        }
        let Ok(offer) = SdpOffer::parse(&sdp) else { return Ok(()) };
        prop_assert!(offer.rtpmap.len() <= plivo_flow::media::rtp::MAX_FORMATS);
        let Ok(a) = answer(&offer) else { return Ok(()) };
        prop_assert!(offer.formats.contains(&a.payload_type));
        let mut written = String::new();
        write_answer(&a, local(), 5, &mut written);
        // The answer is itself SDP whose audio stream says what was negotiated.
        let back = SdpOffer::parse(&written).expect("our answer parses");
        let mut formats = vec![a.payload_type];
        formats.extend(a.telephone_event);
        prop_assert_eq!(&back.formats, &formats);
        prop_assert_eq!(back.telephone_event, a.telephone_event);
        prop_assert_eq!(back.direction, a.direction);
        prop_assert_eq!(back.other_media.len(), offer.other_media.len());
        let again = answer(&back).expect("our answer answers");
        prop_assert_eq!((again.law, again.payload_type), (a.law, a.payload_type));
    }
}

/// An SDP offer's lines after `v=0`: a session part, one to three media sections, and now and
/// then one line the parser refuses, somewhere.
fn sdp_lines() -> impl Strategy<Value = Vec<String>> {
    let connection = prop_oneof![
        3 => "c=IN IP4 (127\\.0\\.0\\.1|10\\.1\\.2\\.3)(/127)?",
        1 => "c=IN IP6 (::1|fe80::1)",
    ];
    let filler = "[b-ln-z]=[ -~]{0,20}";
    let attribute = prop_oneof![
        4 => "a=rtpmap:(0|8|96|101) (PCMU|pcma|PCMA|opus|telephone-event|G722)/(8000|8000|16000)(/2)?",
        2 => "a=(sendrecv|sendonly|recvonly|inactive|ptime:20|fmtp:101 0-15|rtcp-mux)",
        1 => filler,
    ];
    let media = "m=(audio|audio|audio|video) (0|6000|6000|8000/2) (RTP/AVP|RTP/AVP|RTP/AVP|RTP/SAVP)( (0|8|9|18|96|101|101|127)){1,6}";
    let section = (media, prop::option::of(connection.clone()), prop::collection::vec(attribute.clone(), 0..6));
    let bad = prop_oneof![
        "c=IN IP4 (1\\.2\\.3|::1|host)",
        "m=audio (70000|x) RTP/AVP( (128|x)){0,2}",
        "a=rtpmap:(128|x) PCMU/(x|)",
        "a=ptime:x",
        "[ -~]{0,10}",
    ];
    (
        prop::option::weighted(0.8, connection),
        prop::collection::vec(prop_oneof![attribute, filler], 0..3),
        prop::collection::vec(section, 1..4),
        prop::option::weighted(0.2, (any::<prop::sample::Index>(), bad)),
    )
        .prop_map(|(c, session, sections, bad)| {
            let mut lines: Vec<String> = c.into_iter().chain(session).collect();
            for (m, c, attributes) in sections {
                lines.push(m);
                lines.extend(c);
                lines.extend(attributes);
            }
            if let Some((at, line)) = bad {
                lines.insert(at.index(lines.len() + 1), line);
            }
            lines
        })
}
