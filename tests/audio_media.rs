//! Plivo XML on real audio frames, in virtual time: `Runtime<AudioMedia>` with a stand-in
//! synthesiser (each text is a tone), frames handed in and taken out every 20 ms, and what
//! each caller hears measured (Goertzel power per 100 ms window).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use plivo_flow::engine::{CallId, CallSetup, FetchReply, HttpRequest, MemberId, MemberMedia, MemberTarget, Reply};
use plivo_flow::media::mix::{FRAME_SAMPLES, Frame, SILENCE, goertzel_power, rms_dbfs};
use plivo_flow::media::rtp::{Leg, LegConfig, SdpOffer, answer};
use plivo_flow::media::{AudioMedia, AudioRequest, TICK, Work};
use plivo_flow::runtime::{RoomOp, Runtime, RuntimeConfig};

/// The stand-in synthesiser: a text's tone frequency, by its first word.
fn tone_of(text: &str) -> f64 {
    match text.split_whitespace().next().unwrap_or("") {
        "Hello" => 440.0,
        "Press" => 660.0,
        "Good" => 1320.0,
        _ => 2000.0,
    }
}

fn tone(freq: f64, ms: u64, from_sample: u64) -> Vec<i16> {
    (0..ms * 8)
        .map(|i| {
            let t = (from_sample + i) as f64 / 8000.0;
            (8000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
        })
        .collect()
}

struct Rig {
    rt: Runtime<AudioMedia>,
    now: Duration,
    docs: HashMap<String, String>,
    calls: Vec<CallId>,
    heard: HashMap<CallId, Vec<i16>>,
    requests: Vec<HttpRequest>,
    work: Vec<Work>,
    /// What each caller says, by tick: its tone, if any.
    says: HashMap<CallId, f64>,
    ticks: u64,
    /// Calls carried over RTP: the caller's leg and ours. Without one, frames are handed over
    /// as they are.
    legs: HashMap<CallId, (Leg, Leg)>,
}

impl Rig {
    fn new(docs: &[(&str, &str)]) -> Rig {
        Rig {
            rt: Runtime::with_media(RuntimeConfig::default(), AudioMedia::new()),
            now: Duration::ZERO,
            docs: docs.iter().map(|(u, x)| (u.to_string(), x.to_string())).collect(),
            calls: Vec::new(),
            heard: HashMap::new(),
            requests: Vec::new(),
            work: Vec::new(),
            says: HashMap::new(),
            ticks: 0,
            legs: HashMap::new(),
        }
    }

    fn call(&mut self, id: &str) -> CallId {
        let setup = CallSetup::inbound(id, "+15550001", "+15550002", "https://app.example/answer");
        let call = self.rt.start_call(self.now, setup).expect("call starts");
        self.calls.push(call.clone());
        self.service();
        call
    }

    /// Does what the shell does after a step: requests, work, heard frames.
    fn service(&mut self) {
        loop {
            let mut busy = false;
            while let Some((call, req)) = self.rt.poll_request() {
                busy = true;
                if req.reply != Reply::Ignore
                    && let Some(call) = call
                {
                    let url = req.url.split('?').next().unwrap_or("").to_owned();
                    let reply = match self.docs.get(&url) {
                        Some(xml) => FetchReply::Document(Arc::new(plivo_flow::xml::parse(xml).document)),
                        None => FetchReply::Failed("not served".into()),
                    };
                    self.rt.deliver(self.now, &call, req.id, reply);
                }
                self.requests.push(req);
            }
            while let Some(w) = self.rt.media_mut().poll_work() {
                busy = true;
                if let Work::Render { call, media, part, request } = &w {
                    let pcm: Option<Arc<[i16]>> = match request {
                        AudioRequest::Speak { text, .. } => Some(tone(tone_of(text), 500, 0).into()),
                        // `…/tone-<Hz>.wav`: that tone; anything else cannot be fetched.
                        AudioRequest::Play { url } => url
                            .strip_prefix("https://app.example/tone-")
                            .and_then(|u| u.strip_suffix(".wav"))
                            .and_then(|hz| hz.parse().ok())
                            .map(|hz| tone(hz, 500, 0).into()),
                    };
                    assert!(self.rt.media_mut().provide_audio(call, *media, *part, pcm));
                }
                if let Work::SendDigits { call, digits } = &w
                    && let Some((_, ours)) = self.legs.get_mut(call)
                {
                    ours.send_digits(digits);
                }
                self.work.push(w);
            }
            if !busy {
                break;
            }
        }
        let mut datagram = Vec::new();
        for call in &self.calls {
            while let Some(mut f) = self.rt.media_mut().poll_heard(call) {
                if let Some((far, ours)) = self.legs.get_mut(call) {
                    ours.transmit(&f, &mut datagram);
                    far.receive(&datagram).expect("our RTP parses");
                    f = far.pop_frame().expect("a 20 ms packet is a frame");
                }
                self.heard.entry(call.clone()).or_default().extend_from_slice(&f);
            }
        }
    }

    /// Runs the world for `ms`: each tick every caller says its tone (or nothing), then
    /// everything due runs.
    fn run(&mut self, ms: u64) {
        let end = self.now + Duration::from_millis(ms);
        while self.now < end {
            self.now += TICK;
            for call in self.calls.clone() {
                let mut frame: Frame = SILENCE;
                if let Some(f) = self.says.get(&call) {
                    let pcm = tone(*f, 20, self.ticks * FRAME_SAMPLES as u64);
                    frame.copy_from_slice(&pcm);
                }
                if let Some((far, ours)) = self.legs.get_mut(&call) {
                    let mut datagram = Vec::new();
                    far.transmit(&frame, &mut datagram);
                    ours.receive(&datagram).expect("the caller's RTP parses");
                    while let Some(key) = ours.poll_key() {
                        self.rt.media_mut().handle_key(self.now, &call, key);
                    }
                    let Some(f) = ours.pop_frame() else { continue };
                    frame = f;
                }
                self.rt.media_mut().handle_frame(self.now, &call, &frame);
            }
            self.ticks += 1;
            while let Some(t) = self.rt.poll_timeout().filter(|t| *t <= self.now) {
                self.rt.handle_timeout(t);
                self.service();
            }
            self.service();
        }
    }

    /// What `call` heard in `[from_ms, to_ms)` of its heard audio.
    fn heard(&self, call: &CallId, from_ms: u64, to_ms: u64) -> &[i16] {
        let h = self.heard.get(call).map(Vec::as_slice).unwrap_or(&[]);
        let a = ((from_ms * 8) as usize).min(h.len());
        let b = ((to_ms * 8) as usize).min(h.len());
        &h[a..b]
    }

    fn request(&self, url: &str) -> Option<&HttpRequest> {
        self.requests.iter().find(|r| r.url.starts_with(url))
    }
}

fn hears(pcm: &[i16], freq: f64) -> bool {
    goertzel_power(pcm, freq, 8000) > 0.003
}

fn silent(pcm: &[i16]) -> bool {
    rms_dbfs(pcm) < -60.0
}

#[test]
fn speech_is_heard_where_the_flow_speaks_and_silence_where_it_waits() {
    let mut rig = Rig::new(&[(
        "https://app.example/answer",
        r#"<Response><Speak>Hello there</Speak><Wait length="1"/><Hangup/></Response>"#,
    )]);
    let call = rig.call("c1");
    rig.run(2000);
    assert!(matches!(rig.work.first(), Some(Work::Answer(c)) if *c == call), "{:?}", rig.work);
    // The heard audio starts at the first tick after the document came (at once here).
    assert!(hears(rig.heard(&call, 0, 480), 440.0), "the speech");
    assert!(silent(rig.heard(&call, 520, 1480)), "the wait");
    assert!(rig.work.iter().any(|w| matches!(w, Work::Hangup(c) if *c == call)));
    let ended = rig.rt.engine().call(&call).and_then(|c| c.ended().copied());
    assert!(ended.is_some(), "the call ended after speech and wait");
    let heard_ms = rig.heard.get(&call).map_or(0, |h| h.len() / 8);
    assert!((1480..=1560).contains(&heard_ms), "the call lasted speech + wait: {heard_ms} ms");
}

#[test]
fn keys_reach_get_digits_and_barge_in_stops_the_prompt() {
    let mut rig = Rig::new(&[
        (
            "https://app.example/answer",
            r#"<Response><GetDigits action="https://app.example/digits" numDigits="2" timeout="5"><Speak>Press two keys</Speak></GetDigits></Response>"#,
        ),
        ("https://app.example/digits", r#"<Response><Speak>Good bye</Speak></Response>"#),
    ]);
    let call = rig.call("c1");
    rig.run(200);
    assert!(hears(rig.heard(&call, 0, 200), 660.0), "the prompt plays");
    rig.rt.media_mut().handle_key(rig.now, &call, '4');
    rig.run(200);
    assert!(silent(rig.heard(&call, 240, 400)), "the first key stopped the prompt");
    rig.rt.media_mut().handle_key(rig.now, &call, '2');
    rig.run(600);
    let digits = rig.request("https://app.example/digits").expect("the action is fetched");
    assert_eq!(digits.param("Digits"), Some("42"));
    assert!(hears(rig.heard(&call, 420, 900), 1320.0), "the action's document speaks");
}

#[test]
fn a_conference_mixes_n_minus_one_and_a_kicked_member_hears_the_next_element() {
    let room = r#"<Response><Conference>MyConference</Conference><Speak>Good bye. You have been kicked out of the conference</Speak></Response>"#;
    let mut rig = Rig::new(&[("https://app.example/answer", room)]);
    let a = rig.call("a");
    let b = rig.call("b");
    rig.says.insert(a.clone(), 440.0);
    rig.says.insert(b.clone(), 880.0);
    rig.run(1000);
    let (ha, hb) = (rig.heard(&a, 500, 1000), rig.heard(&b, 500, 1000));
    assert!(hears(ha, 880.0) && !hears(ha, 440.0), "a hears b, not itself");
    assert!(hears(hb, 440.0) && !hears(hb, 880.0), "b hears a, not itself");

    let kicked_at = rig.heard.get(&a).map_or(0, |h| h.len() / 8) as u64;
    let kick = RoomOp::Kick { room: "MyConference".into(), target: MemberTarget::Ids(vec![MemberId(1)]) };
    rig.rt.room_op(rig.now, &kick).expect("kick");
    rig.service();
    rig.run(1000);
    let after = rig.heard(&a, kicked_at + 40, kicked_at + 460);
    assert!(hears(after, 1320.0), "the kicked member hears the next element");
    assert!(!hears(after, 880.0), "and no longer the room");
    let hb = rig.heard(&b, kicked_at + 40, kicked_at + 460);
    assert!(silent(hb), "the member left alone hears nobody: {}", rms_dbfs(hb));
    assert!(rig.rt.engine().call(&b).is_some_and(|c| !c.is_ended()), "b stays");
}

#[test]
fn record_ends_on_the_callers_silence_and_hands_over_the_samples() {
    let mut rig = Rig::new(&[(
        "https://app.example/answer",
        r#"<Response><Record action="https://app.example/rec" timeout="2" maxLength="60" playBeep="false"/></Response>"#,
    )]);
    let call = rig.call("c1");
    rig.says.insert(call.clone(), 440.0);
    rig.run(1000);
    rig.says.remove(&call);
    rig.run(3000);
    let done = rig.work.iter().find_map(|w| match w {
        Work::RecordingDone { call: c, media, recording, format, duration_ms } if *c == call => {
            Some((*media, recording.clone(), *format, *duration_ms))
        }
        _ => None,
    });
    let (media, recording, format, duration_ms) = done.expect("the recording ended by itself");
    assert_eq!(format, plivo_flow::xml::values::FileFormat::Mp3, "Plivo's default fileFormat");
    assert!((2900..=3100).contains(&duration_ms), "1 s of speech + 2 s of silence: {duration_ms} ms");
    let samples = rig.rt.media_mut().take_recorded(&call, media);
    assert_eq!(samples.len() as u64, duration_ms * 8);
    assert!(hears(&samples[..8000], 440.0) && silent(&samples[9000..]));
    let action = rig.request("https://app.example/rec").expect("the action is told");
    assert_eq!(action.param("RecordingDuration"), Some("3"));
    assert_eq!(action.param("RecordingID"), Some(recording.as_str()), "the work names the action's recording");
}

#[test]
fn a_muted_member_is_not_heard_and_the_enter_beep_reaches_the_room() {
    let mut rig = Rig::new(&[
        ("https://app.example/answer", r#"<Response><Conference muted="true">r</Conference></Response>"#),
        ("https://app.example/second", r#"<Response><Conference enterSound="beep:1">r</Conference></Response>"#),
    ]);
    let a = rig.call("a");
    rig.says.insert(a.clone(), 440.0);
    rig.run(200);
    let setup = CallSetup::inbound("b", "+15550003", "+15550002", "https://app.example/second");
    let b = rig.rt.start_call(rig.now, setup).expect("b starts");
    rig.calls.push(b.clone());
    rig.service();
    rig.says.insert(b.clone(), 880.0);
    rig.run(1000);
    let ha = rig.heard(&a, 200, 600);
    assert!(hears(ha, 1000.0), "the enter beep plays into the room");
    assert!(hears(ha, 880.0), "a muted member still hears");
    let hb = rig.heard(&b, 0, 1000);
    assert!(!hears(hb, 440.0), "nobody hears a muted member");
}

#[test]
fn rest_play_and_speak_reach_the_named_member_only_and_stop_on_demand() {
    let room = r#"<Response><Conference>MyConference</Conference></Response>"#;
    let mut rig = Rig::new(&[("https://app.example/answer", room)]);
    let a = rig.call("a");
    let b = rig.call("b");
    rig.says.insert(b.clone(), 880.0);
    rig.run(200);
    let member = |id| MemberTarget::Ids(vec![MemberId(id)]);
    let op = |media| RoomOp::Media { room: "MyConference".into(), target: member(1), media };
    let speak = MemberMedia::Speak { text: "Hello member".into(), voice: "WOMAN".into(), language: "en-US".into() };
    rig.rt.room_op(rig.now, &op(speak)).expect("speak to member 1");
    rig.service();
    rig.run(500);
    let (ha, hb) = (rig.heard(&a, 240, 680), rig.heard(&b, 240, 680));
    assert!(hears(ha, 440.0), "member 1 hears the speech");
    assert!(hears(ha, 880.0), "over the room: it still hears member 2");
    assert!(!hears(hb, 440.0), "member 2 does not hear what was said to member 1");

    // A file (1.5 kHz, 0.5 s) to every member, stopped at once for member 2.
    let play = MemberMedia::Play { url: "https://app.example/tone-1500.wav".into() };
    let all = RoomOp::Media { room: "MyConference".into(), target: MemberTarget::All, media: play };
    rig.rt.room_op(rig.now, &all).expect("play to all");
    rig.service();
    rig.run(100);
    let stop = RoomOp::Media { room: "MyConference".into(), target: member(2), media: MemberMedia::StopPlay };
    rig.rt.room_op(rig.now, &stop).expect("stop play to member 2");
    rig.service();
    rig.run(500);
    let at = 700;
    assert!(hears(rig.heard(&a, at + 140, at + 480), 1500.0), "member 1 hears the file to its end");
    assert!(hears(rig.heard(&b, at, at + 80), 1500.0), "member 2 heard its start");
    assert!(!hears(rig.heard(&b, at + 140, at + 480), 1500.0), "and nothing of it after the stop");
    let after = rig.heard(&a, at + 560, at + 600);
    assert!(!hears(after, 1500.0) && !hears(after, 440.0), "the sounds end by themselves");
    assert!(hears(after, 880.0), "while the room goes on");
}

#[test]
fn an_enter_sound_document_is_rendered_and_played_into_the_room() {
    let mut rig = Rig::new(&[
        ("https://app.example/answer", r#"<Response><Conference>r</Conference></Response>"#),
        (
            "https://app.example/second",
            r#"<Response><Conference enterSound="https://app.example/enter">r</Conference></Response>"#,
        ),
        ("https://app.example/enter", r#"<Response><Play>https://app.example/tone-1500.wav</Play></Response>"#),
    ]);
    let a = rig.call("a");
    rig.run(200);
    let setup = CallSetup::inbound("b", "+15550003", "+15550002", "https://app.example/second");
    let b = rig.rt.start_call(rig.now, setup).expect("b starts");
    rig.calls.push(b.clone());
    rig.service();
    rig.run(1000);
    let played = (200..1000).step_by(20).find(|ms| hears(rig.heard(&a, *ms, ms + 100), 1500.0));
    let played = played.expect("the first member hears the rendered enter sound");
    assert!(!hears(rig.heard(&a, played + 600, played + 800), 1500.0), "once");
    assert!(
        rig.work
            .iter()
            .any(|w| matches!(w, Work::Render { call, request: AudioRequest::Play { .. }, .. } if *call == b))
    );
}

#[test]
fn a_conference_recording_takes_the_whole_room_until_it_is_stopped() {
    let room = r#"<Response><Conference record="true" recordFileFormat="wav">r</Conference></Response>"#;
    let mut rig = Rig::new(&[("https://app.example/answer", room)]);
    let a = rig.call("a");
    let b = rig.call("b");
    rig.says.insert(a.clone(), 440.0);
    rig.run(500);
    rig.says.insert(b.clone(), 880.0);
    rig.run(500);
    rig.rt.room_op(rig.now, &RoomOp::StopRecording { room: "r".into() }).expect("stop recording");
    rig.service();
    let done = rig.work.iter().find_map(|w| match w {
        Work::RoomRecordingDone { room, format, duration_ms, last, .. } => Some((room, *format, *duration_ms, last)),
        _ => None,
    });
    let (name, format, duration_ms, samples) = done.expect("the recording is handed over");
    assert_eq!((name.as_ref(), format), ("r", plivo_flow::xml::values::FileFormat::Wav));
    assert!((960..=1000).contains(&duration_ms), "from the first join to the stop: {duration_ms} ms");
    assert!(samples.len().abs_diff(duration_ms as usize * 8) <= FRAME_SAMPLES, "{} samples", samples.len());
    let first = samples.get(..3_200).unwrap_or_default();
    assert!(hears(first, 440.0) && !hears(first, 880.0), "a alone at first");
    let both = samples.get(4_800..7_200).unwrap_or_default();
    assert!(hears(both, 440.0) && hears(both, 880.0), "then both members");
    rig.run(200);
    assert_eq!(rig.work.iter().filter(|w| matches!(w, Work::RoomRecordingDone { .. })).count(), 1, "once");
}

/// A baresip-like offer: Opus, G.722, PCMU, PCMA and telephone-events.
const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
    m=audio 10000 RTP/AVP 96 9 0 8 101\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:9 G722/8000\r\n\
    a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
    a=fmtp:101 0-15\r\na=sendrecv\r\na=ptime:20\r\n";

#[test]
fn over_rtp_the_callers_keys_arrive_as_rfc_4733_and_speech_crosses_g711() {
    let mut rig = Rig::new(&[
        (
            "https://app.example/answer",
            r#"<Response><GetDigits action="https://app.example/digits" numDigits="2"><Speak>Press two keys</Speak></GetDigits></Response>"#,
        ),
        ("https://app.example/digits", r#"<Response><Speak>Good bye</Speak><Wait length="1"/></Response>"#),
    ]);
    let offer = SdpOffer::parse(OFFER).expect("the offer parses");
    let negotiated = LegConfig::from(&answer(&offer).expect("G.711 is offered"));
    assert_eq!(
        negotiated,
        LegConfig { law: plivo_flow::media::rtp::Law::Pcmu, payload_type: 0, telephone_event: Some(101) }
    );
    let call = rig.call("c1");
    rig.legs.insert(call.clone(), (Leg::new(negotiated, 7, 1, 10), Leg::new(negotiated, 8, 60_000, 99)));
    rig.run(300);
    assert!(hears(rig.heard(&call, 0, 300), 660.0), "the prompt reaches the caller through μ-law");
    rig.legs.get_mut(&call).expect("legs").0.send_digits("42");
    rig.run(700);
    let digits = rig.request("https://app.example/digits").expect("the action is fetched");
    assert_eq!(digits.param("Digits"), Some("42"), "each key once, from telephone-events");
    rig.run(1500);
    let heard = rig.heard.get(&call).map_or(0, |h| h.len() / 8) as u64;
    // The action's document: half a second of speech, then a second of silence.
    let spoke = (600..heard).step_by(20).find(|ms| hears(rig.heard(&call, *ms, ms + 100), 1320.0));
    let spoke = spoke.expect("the action's speech is heard");
    assert!(silent(rig.heard(&call, spoke + 600, spoke + 1400)), "the wait is silence");
    let stats = rig.legs.get(&call).expect("legs").1.stats();
    assert_eq!((stats.late, stats.ignored, stats.keys_dropped), (0, 0, 0));
}
