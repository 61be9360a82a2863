//! Real calls against a real SIP peer: SIPp (Debian's `sip-tester`) calls `plivo-flow`'s SIP
//! shell, which runs the app's XML on real audio (espeak-ng speech, G.711, RFC 4733). The
//! test owns the app and the RTP sink where plivo-flow's audio arrives, and measures its
//! energy per window. Loopback only, bounded in time. `.ci/run` installs SIPp and espeak-ng;
//! where either is missing the test says so and passes without running.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::App;
use plivo_flow::media::mix::{goertzel_power, rms_dbfs};
use plivo_flow::media::rtp::{Law, RtpPacket};
use plivo_flow::server::ServerConfig;
use plivo_flow::sip::{SipConfig, start};

const PCAPS: &str = "/usr/share/sip-tester";

fn have(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}

/// What the RTP sink heard: (arrival, decoded samples) per packet.
type Heard = Arc<Mutex<Vec<(Instant, Vec<i16>)>>>;

async fn sink() -> (SocketAddr, Heard) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind sink");
    let addr = socket.local_addr().expect("addr");
    let heard: Heard = Arc::default();
    let h = heard.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        while let Ok((n, _)) = socket.recv_from(&mut buf).await {
            let Some(p) = buf.get(..n).and_then(|d| RtpPacket::parse(d).ok()) else { continue };
            if let Some(law) = Law::from_payload_type(p.header.payload_type) {
                let mut pcm = Vec::new();
                law.decode(p.payload, &mut pcm);
                h.lock().expect("lock").push((Instant::now(), pcm));
            }
        }
    });
    (addr, heard)
}

/// The samples that arrived between `from` and `to`.
fn window(heard: &Heard, from: Instant, to: Instant) -> Vec<i16> {
    let h = heard.lock().expect("lock");
    h.iter().filter(|(t, _)| *t >= from && *t < to).flat_map(|(_, p)| p.clone()).collect()
}

/// The level of what arrived between `from` and `to`.
fn level(heard: &Heard, from: Instant, to: Instant) -> f64 {
    rms_dbfs(&window(heard, from, to))
}

/// Whether a peer is missing (the test then says so and passes without running), unless
/// `PLIVO_FLOW_REQUIRE_PEERS` is set (`.ci/run` sets it), where a missing peer fails.
fn missing_peers() -> bool {
    missing_peers_and(&[])
}

/// [`missing_peers`], and these programs too.
fn missing_peers_and(programs: &[&str]) -> bool {
    let missing = !have("sipp")
        || !have("espeak-ng")
        || !Path::new(PCAPS).join("dtmf_2833_1.pcap").exists()
        || !programs.iter().all(|p| have(p));
    if missing {
        let what =
            format!("needs sipp (sip-tester), its pcaps in {PCAPS}, espeak-ng and {programs:?}; .ci/run installs them");
        assert!(std::env::var_os("PLIVO_FLOW_REQUIRE_PEERS").is_none(), "{what}");
        eprintln!("skipped: {what}");
    }
    missing
}

/// The Goertzel power at `hz` of what arrived between `from` and `to`.
fn power_at(heard: &Heard, from: Instant, to: Instant, hz: f64) -> f64 {
    goertzel_power(&window(heard, from, to), hz, 8000)
}

/// When the first packet reached a sink (about when the call was answered).
fn first_packet(heard: &Heard) -> Instant {
    heard.lock().expect("lock").first().map(|(t, _)| *t).expect("plivo-flow sent RTP")
}

/// `serve --sip` on free ports (SIP and the REST API), answering with `{base}/answer`.
async fn sip_shell(base: &str) -> plivo_flow::sip::RunningSip {
    sip_shell_with(base, None).await
}

/// [`sip_shell`] sending `<Number>`s to `gateway`.
async fn sip_shell_with(base: &str, gateway: Option<SocketAddr>) -> plivo_flow::sip::RunningSip {
    let sip = SipConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        answer_url: format!("{base}/answer"),
        hangup_url: Some(format!("{base}/hangup")),
        espeak: "espeak-ng".into(),
        lame: Some("lame".into()),
        gateway,
    };
    let server = ServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        auth_token: "test-token".into(),
        seed: 7,
        ..ServerConfig::default()
    };
    start(sip, server).await.expect("SIP starts")
}

/// A free UDP port of loopback.
fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Runs SIPp once with `scenario` (its RTP sink port filled in) against `target`; panics
/// unless the scenario passed.
async fn sipp(scenario: &str, sink: SocketAddr, target: SocketAddr) {
    run_sipp(scenario, sink, Some(target), free_port()).await;
}

/// [`sipp`] over TCP (`-t t1`: one connection), its Contact asking for TCP as a UA on TCP
/// does, so that our in-dialog requests come over it too.
async fn sipp_tcp(scenario: &str, sink: SocketAddr, target: SocketAddr) {
    let scenario = scenario.replace(
        "Contact: sip:sipp@[local_ip]:[local_port]",
        "Contact: <sip:sipp@[local_ip]:[local_port];transport=tcp>",
    );
    run_sipp_with(&scenario, sink, Some(target), free_port(), &["-t", "t1"]).await;
}

/// Runs SIPp once with `scenario` on SIP port `port`, calling `target` (a UAC) or waiting to
/// be called (a UAS, without one); panics unless the scenario passed.
async fn run_sipp(scenario: &str, sink: SocketAddr, target: Option<SocketAddr>, port: u16) {
    run_sipp_with(scenario, sink, target, port, &[]).await;
}

/// [`run_sipp`] with more SIPp arguments.
async fn run_sipp_with(scenario: &str, sink: SocketAddr, target: Option<SocketAddr>, port: u16, args: &[&str]) {
    let dir = std::env::temp_dir().join(format!("plivo-flow-sip-{}-{}", std::process::id(), sink.port()));
    std::fs::create_dir_all(&dir).expect("scenario dir");
    let scenario = scenario.replace("SINK_PORT", &sink.port().to_string()).replace("PCAP_DIR", PCAPS);
    let file = dir.join("scenario.xml");
    std::fs::write(&file, scenario).expect("write scenario");
    // Ports of its own for SIP and media, so that tests running at once do not meet.
    let (port, media_port) = (port.to_string(), free_port().to_string());
    let sipp = tokio::process::Command::new("sipp")
        .args(["-nostdin", "-m", "1", "-timeout", "40s", "-timeout_error", "-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .args(["-p", &port, "-mp", &media_port])
        .args(args)
        .arg("-sf")
        .arg(&file)
        .args(target.map(|t| t.to_string()))
        .current_dir(&dir)
        .kill_on_drop(true)
        .output();
    let out =
        tokio::time::timeout(Duration::from_secs(50), sipp).await.expect("SIPp ends by itself").expect("SIPp runs");
    let _ = std::fs::remove_dir_all(&dir);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "SIPp's call failed: {stdout}{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_presses_1_the_app_gets_digits_and_hears_speech_then_silence_then_bye() {
    if missing_peers() {
        return;
    }
    presses_1(false).await;
}

/// The same call with its SIP over TCP (the RTP stays UDP).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tcp_sipp_presses_1_the_app_gets_digits_and_hears_speech_then_silence_then_bye() {
    if missing_peers() {
        return;
    }
    presses_1(true).await;
}

async fn presses_1(tcp: bool) {
    let (app, base) = App::spawn().await;
    let docs = [
        (
            "/answer",
            format!(
                r#"<Response><GetDigits action="{base}/digits" numDigits="1" timeout="10"><Speak>Please press one now.</Speak></GetDigits></Response>"#
            ),
        ),
        (
            "/digits",
            r#"<Response><Wait length="2"/><Speak>Thank you. Good bye.</Speak><Hangup/></Response>"#.to_owned(),
        ),
    ];
    for (path, xml) in docs {
        app.docs.lock().expect("lock").insert(path.to_owned(), xml);
    }
    let sip = sip_shell(&base).await;
    let (sink_addr, heard) = sink().await;
    if tcp {
        sipp_tcp(include_str!("sip/caller_presses_1.xml"), sink_addr, sip.addr).await;
    } else {
        sipp(include_str!("sip/caller_presses_1.xml"), sink_addr, sip.addr).await;
    }

    // The app: the answer URL with the INVITE's user parts, then the key, exactly as pressed.
    let hits = app.hits.lock().expect("lock").clone();
    let answer = hits.iter().find(|h| h.path == "/answer").expect("the answer URL is fetched");
    assert_eq!((answer.param("From"), answer.param("To")), (Some("sipp"), Some("service")));
    assert!(answer.param("CallUUID").is_some_and(|u| u.len() == 36));
    let digits: Vec<_> = hits.iter().filter(|h| h.path == "/digits").collect();
    assert_eq!(digits.len(), 1, "{hits:?}");
    assert_eq!(digits[0].param("Digits"), Some("1"));

    // The audio: speech where the flow speaks, silence where it waits. The action document
    // (fetched when the key came) waits 2 s, then says "Thank you. Good bye.".
    let first = first_packet(&heard);
    let prompt = level(&heard, first, first + Duration::from_millis(1500));
    assert!(prompt > -35.0, "the prompt is speech: {prompt:.1} dBFS");
    let key = digits[0].at;
    let wait = level(&heard, key + Duration::from_millis(600), key + Duration::from_millis(1800));
    assert!(wait < -60.0, "the wait is silence: {wait:.1} dBFS");
    let bye = level(&heard, key + Duration::from_millis(2100), key + Duration::from_millis(3300));
    let packets = heard.lock().expect("lock").len();
    eprintln!("{packets} RTP packets; prompt {prompt:.1} dBFS, wait {wait:.1} dBFS, goodbye {bye:.1} dBFS");
    assert!(bye > -35.0, "the goodbye is speech: {bye:.1} dBFS");
    stop_idle(sip).await;
}

/// An INVITE offering no G.711 is refused (488) before any call starts: no webhook, and its
/// dialog does not stay in the stack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_without_g711_is_refused_with_488_and_leaves_nothing_behind() {
    if missing_peers() {
        return;
    }
    let (app, base) = App::spawn().await;
    let sip = sip_shell(&base).await;
    let (sink_addr, _) = sink().await;
    // The scenario fails unless the answer is a 488.
    sipp(include_str!("sip/caller_offers_no_g711.xml"), sink_addr, sip.addr).await;
    assert!(app.hits.lock().expect("lock").is_empty(), "no call started");
    stop_idle(sip).await;
}

/// A re-INVITE of a dialog that has ended (its BYE done, the dialog gone from the stack) is
/// answered 481 Call/Transaction Does Not Exist, not 500, and starts no call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reinvite_of_an_ended_dialog_gets_481() {
    if missing_peers() {
        return;
    }
    let (app, sip) = speaking_until_hung_up().await;
    let (sink_addr, _) = sink().await;
    // The scenario fails unless the re-INVITE gets 481.
    sipp(include_str!("sip/caller_reinvites_ended_dialog.xml"), sink_addr, sip.addr).await;
    let answers = app.hits.lock().expect("lock").iter().filter(|h| h.path == "/answer").count();
    assert_eq!(answers, 1, "the re-INVITE started no call");
    stop_idle(sip).await;
}

/// An app whose calls speak until the caller hangs up, and `serve --sip` of it.
async fn speaking_until_hung_up() -> (App, plivo_flow::sip::RunningSip) {
    let (app, base) = App::spawn().await;
    let forever = r#"<Response><Speak loop="0">This goes on until the caller hangs up.</Speak></Response>"#;
    app.docs.lock().expect("lock").insert("/answer".into(), forever.into());
    let sip = sip_shell(&base).await;
    (app, sip)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_bye_mid_speak_ends_the_call_with_one_hangup_webhook() {
    if missing_peers() {
        return;
    }
    let (app, sip) = speaking_until_hung_up().await;
    let (sink_addr, heard) = sink().await;
    sipp(include_str!("sip/caller_hangs_up.xml"), sink_addr, sip.addr).await;
    // The hangup webhook may trail SIPp's exit by the time of one request.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !app.hits.lock().expect("lock").iter().any(|h| h.path == "/hangup") {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hits = app.hits.lock().expect("lock").clone();
    let hangups: Vec<_> = hits.iter().filter(|h| h.path == "/hangup").collect();
    assert_eq!(hangups.len(), 1, "exactly one hangup webhook: {hits:?}");
    assert_eq!(hangups[0].param("HangupSource"), Some("Caller"));
    assert_eq!(hangups[0].param("HangupCause"), Some("NORMAL_CLEARING"));
    assert_eq!(hangups[0].param("CallStatus"), Some("completed"));
    let first = first_packet(&heard);
    let speech = level(&heard, first, first + Duration::from_millis(1500));
    assert!(speech > -35.0, "it was speaking: {speech:.1} dBFS");
    stop_idle(sip).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sip_callers_in_a_conference_hear_each_other_and_star_takes_one_out_audibly() {
    if missing_peers() {
        return;
    }
    let (app, base) = App::spawn().await;
    let room = r#"<Response><Conference hangupOnStar="true" record="true" recordFileFormat="wav">MyConference</Conference><Speak>Good bye. You have been kicked out of the conference</Speak></Response>"#;
    app.docs.lock().expect("lock").insert("/answer".into(), room.into());
    let sip = sip_shell(&base).await;
    let (talker_sink, talker_heard) = sink().await;
    let (listener_sink, listener_heard) = sink().await;
    let talker = sipp(include_str!("sip/member_talks_then_leaves.xml"), talker_sink, sip.addr);
    let listener = sipp(include_str!("sip/member_listens_and_stays.xml"), listener_sink, sip.addr);
    // Both scenarios pass: member 1 got its BYE after leaving, member 2 none before its own.
    tokio::join!(talker, listener);

    // Each SIPp scenario's pauses start at its 200 OK, when our RTP starts: member 1 talks
    // from 1.5 s to 8.5 s and presses * at 9.5 s; member 2 hangs up at 14 s.
    let (t1, t2) = (first_packet(&talker_heard), first_packet(&listener_heard));
    let at = |t: Instant, ms: u64| t + Duration::from_millis(ms);
    let heard_talk = level(&listener_heard, at(t1, 2500), at(t1, 8000));
    let own_echo = level(&talker_heard, at(t1, 2500), at(t1, 8000));
    let goodbye = level(&talker_heard, at(t1, 10_000), at(t1, 12_000));
    let after = level(&listener_heard, at(t2, 11_000), at(t2, 13_500));
    let timeline: Vec<String> =
        (0..30).map(|i| format!("{:.0}", level(&talker_heard, at(t1, i * 500), at(t1, i * 500 + 500)))).collect();
    eprintln!("member 1 per 500 ms: {}", timeline.join(" "));
    eprintln!(
        "member 2 hears member 1: {heard_talk:.1} dBFS; member 1 hears itself: {own_echo:.1}; goodbye {goodbye:.1}; member 2 after: {after:.1}"
    );
    assert!(heard_talk > -35.0, "member 2 hears member 1");
    assert!(own_echo < -60.0, "member 1 does not hear itself (N-1)");
    assert!(goodbye > -35.0, "member 1, out of the room, hears the next element");
    assert!(after < -60.0, "member 2, alone, hears nobody");
    let hangups = app.hits.lock().expect("lock").iter().filter(|h| h.path == "/hangup").count();
    assert_eq!(hangups, 2, "each call told its end once");

    // `record="true"`: the room's whole mix from the first join to the last member's end,
    // listed by the Recording API and served at its URL.
    let (status, page) = rest(&sip, reqwest::Method::GET, "Recording/", None).await;
    assert_eq!(status, 200, "{page}");
    let rec = page["objects"]
        .as_array()
        .and_then(|o| o.iter().find(|r| r["conference_name"] == "MyConference"))
        .cloned()
        .unwrap_or_else(|| panic!("the conference's recording is listed: {page}"));
    let duration_ms: f64 = rec["recording_duration_ms"].as_str().and_then(|d| d.parse().ok()).expect("a duration");
    let url = rec["recording_url"].as_str().expect("a URL").to_owned();
    assert!(url.ends_with(".wav"), "{url}");
    let wav = reqwest::get(&url).await.expect("the file downloads").bytes().await.expect("a body");
    let reader = hound::WavReader::new(std::io::Cursor::new(&wav[..])).expect("a WAV file");
    let samples: Vec<i16> = reader.into_samples::<i16>().map(|s| s.expect("a sample")).collect();
    let span = |from: u64, to: u64| samples.get((from * 8) as usize..(to * 8) as usize).unwrap_or_default();
    let (talk, alone) = (rms_dbfs(span(2_500, 8_000)), rms_dbfs(span(10_500, 13_000)));
    eprintln!(
        "conference recording: {} ms for {duration_ms} ms; member 1 talking {talk:.1} dBFS, member 2 alone {alone:.1}",
        samples.len() / 8
    );
    assert_eq!(samples.len() as f64, duration_ms * 8.0, "exactly the listed duration");
    assert!((13_000.0..=16_000.0).contains(&duration_ms), "from the joins to member 2's end at 14 s: {duration_ms}");
    assert!(talk > -35.0, "the room's recording holds member 1's voice: {talk:.1} dBFS");
    assert!(alone < -60.0, "and silence once member 2 is alone: {alone:.1} dBFS");
    stop_idle(sip).await;
}

/// Stops `sip` once every SIP dialog has left the stack (within 5 s of the last call's end):
/// none may stay behind its call.
async fn stop_idle(sip: plivo_flow::sip::RunningSip) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while sip.dialogs() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sip.dialogs(), 0, "every dialog ended with its call");
    sip.stop().await;
}

/// `{method} {path}` on the REST API of `sip` (the development account, the test's token),
/// with a JSON body: the status and the JSON answer. A `path` starting with `/` is taken from
/// the server's root, any other from the account's (`/v1/Account/{auth_id}/`).
async fn rest(
    sip: &plivo_flow::sip::RunningSip,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let id = plivo_flow::server::DEV_AUTH_ID;
    let url = if path.starts_with('/') {
        format!("http://{}{path}", sip.http)
    } else {
        format!("http://{}/v1/Account/{id}/{path}", sip.http)
    };
    let mut req = reqwest::Client::new().request(method, url).basic_auth(id, Some("test-token"));
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("the REST API answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

/// The seed's flagship on real calls: two SIP callers in `MyConference` hear each other (and
/// not themselves); the REST kick of member 1 takes it out of the mix, fires its exit
/// callback once, and its call goes on with the next element — it hears "Good bye. You have
/// been kicked out of the conference" and then gets plivo-flow's BYE — while member 2 stays
/// connected (its scenario fails on a BYE before its own at 24 s) and hears nobody, until a
/// REST Speak to member 2 says something to it alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_kick_of_a_sip_member_ends_its_conference_and_its_call_goes_on_audibly() {
    if missing_peers() {
        return;
    }
    let (app, base) = App::spawn().await;
    let room = format!(
        r#"<Response><Conference enterSound="beep:1" callbackUrl="{base}/conf">MyConference</Conference><Speak>Good bye. You have been kicked out of the conference</Speak></Response>"#
    );
    app.docs.lock().expect("lock").insert("/answer".into(), room);
    let sip = sip_shell(&base).await;
    let (sink1, heard1) = sink().await;
    let (sink2, heard2) = sink().await;
    let member1 = sipp(include_str!("sip/member_talks_then_is_kicked.xml"), sink1, sip.addr);
    let member2 = sipp(include_str!("sip/member_talks_first_and_stays.xml"), sink2, sip.addr);
    let kick = async {
        // Member 1 talks from 9.5 s to 16.5 s after its answer; it is kicked at 17.5 s.
        let deadline = Instant::now() + Duration::from_secs(10);
        while heard1.lock().expect("lock").is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let t1 = first_packet(&heard1);
        tokio::time::sleep_until((t1 + Duration::from_millis(17_500)).into()).await;
        let (status, room) = rest(&sip, reqwest::Method::GET, "Conference/MyConference/", None).await;
        assert_eq!(status, 200, "{room}");
        let members = room["members"].as_array().cloned().unwrap_or_default();
        assert_eq!(members.len(), 2, "{room}");
        let one = members.iter().find(|m| m["from"] == "member1").expect("member 1 is in the room");
        let (member, call) = (one["member_id"].as_str().expect("id").to_owned(), one["call_uuid"].clone());
        let (status, kicked) =
            rest(&sip, reqwest::Method::POST, &format!("Conference/MyConference/Member/{member}/Kick/"), None).await;
        let at = Instant::now();
        assert_eq!(status, 202, "{kicked}");
        assert_eq!((kicked["message"].as_str(), kicked["member_id"].as_str()), (Some("kicked"), Some(member.as_str())));
        assert!(kicked["api_id"].is_string(), "{kicked}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (_, room) = rest(&sip, reqwest::Method::GET, "Conference/MyConference/", None).await;
        let left: Vec<_> = room["members"].as_array().into_iter().flatten().map(|m| m["from"].clone()).collect();
        assert_eq!(left, vec![serde_json::json!("member2")], "{room}");
        let two = room["members"][0]["member_id"].as_str().expect("id").to_owned();
        tokio::time::sleep_until((at + Duration::from_millis(2500)).into()).await;
        let text = serde_json::json!({ "text": "Hello member two, this is for you" });
        let path = format!("Conference/MyConference/Member/{two}/Speak/");
        let (status, spoke) = rest(&sip, reqwest::Method::POST, &path, Some(text)).await;
        assert_eq!(status, 202, "{spoke}");
        assert_eq!(spoke["message"], "speak queued into conference", "{spoke}");
        (at, call, Instant::now())
    };
    // Both scenarios pass: member 1 got its BYE after the kick, member 2 none before its own.
    let ((), (), (kicked, call1, spoken)) = tokio::join!(member1, member2, kick);

    let (t1, t2) = (first_packet(&heard1), first_packet(&heard2));
    let at = |t: Instant, ms: u64| t + Duration::from_millis(ms);
    let levels = [
        ("member 1 hears member 2", level(&heard1, at(t1, 2500), at(t1, 8000))),
        ("member 2 hears itself", level(&heard2, at(t2, 2500), at(t2, 8000))),
        ("member 2 hears member 1", level(&heard2, at(t2, 10_500), at(t2, 16_000))),
        ("member 1 hears itself", level(&heard1, at(t1, 10_500), at(t1, 16_000))),
        (
            "member 1 after the kick",
            level(&heard1, kicked + Duration::from_millis(300), kicked + Duration::from_millis(2300)),
        ),
        ("member 2 after the kick", level(&heard2, kicked + Duration::from_millis(1000), at(kicked, 2400))),
        ("member 2 told by REST Speak", level(&heard2, at(spoken, 200), at(spoken, 1700))),
    ];
    // The second to come in rang `enterSound="beep:1"` (1 kHz) into the room, for both.
    let beep = [&heard1, &heard2].map(|h| {
        let t = first_packet(h);
        let (on, off) = (power_at(h, t, at(t, 1500), 1000.0), power_at(h, t, at(t, 1500), 600.0));
        (level(h, t, at(t, 1500)), on / off.max(f64::MIN_POSITIVE))
    });
    eprintln!("{levels:.1?}; enter beep (dBFS, 1 kHz/600 Hz power): {beep:.1?}");
    assert!(beep.iter().all(|(l, ratio)| *l > -45.0 && *ratio > 100.0), "both hear the enter beep: {beep:.1?}");
    let [talk1, echo2, talk2, echo1, goodbye, alone, told] = levels.map(|(_, l)| l);
    assert!(talk1 > -35.0, "member 1 hears member 2: {levels:.1?}");
    assert!(talk2 > -35.0, "member 2 hears member 1: {levels:.1?}");
    assert!(echo1 < -60.0 && echo2 < -60.0, "nobody hears itself (N-1): {levels:.1?}");
    assert!(goodbye > -35.0, "member 1, kicked, hears the next element: {levels:.1?}");
    assert!(alone < -60.0, "member 2, alone, hears nobody: {levels:.1?}");
    assert!(told > -35.0, "member 2 hears what REST Speak said to it: {levels:.1?}");

    let hits = app.hits.lock().expect("lock").clone();
    let exits = hits
        .iter()
        .filter(|h| h.path == "/conf" && h.param("ConferenceAction") == Some("exit"))
        .filter(|h| call1.as_str().is_some_and(|c| h.param("CallUUID") == Some(c)))
        .count();
    assert_eq!(exits, 1, "member 1's exit callback fired once: {hits:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && app.hits.lock().expect("lock").iter().filter(|h| h.path == "/hangup").count() < 2
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hangups = app.hits.lock().expect("lock").iter().filter(|h| h.path == "/hangup").count();
    assert_eq!(hangups, 2, "each call told its end once");

    // `GET /metrics` counted the RTP both ways (each member sent a 7 s capture in 30 ms
    // packets, 233 each; each heard about 20 s in 20 ms packets).
    let page = reqwest::get(format!("http://{}/metrics", sip.http)).await.expect("answers").text().await.expect("text");
    let count = |key: &str| {
        page.lines()
            .find_map(|l| l.strip_prefix(key)?.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{key}: {page}"))
    };
    assert!(count(r#"plivo_flow_rtp_packets_total{direction="in"}"#) >= 466.0, "{page}");
    assert!(count(r#"plivo_flow_rtp_packets_total{direction="out"}"#) >= 1500.0, "{page}");
    stop_idle(sip).await;
}

/// What `serve --sip` cannot do is refused with a 4xx and a reason, never a 5xx: a call to
/// a number without `--sip-gateway`, a simulated inbound call, and the simulated far-end table
/// (the far ends are real).
#[tokio::test]
async fn serve_sip_without_a_gateway_refuses_numbers_simulated_calls_and_the_far_end_table_with_a_4xx() {
    let (_app, base) = App::spawn().await;
    let sip = sip_shell(&base).await;
    let call = serde_json::json!({ "from": "1000", "to": "2000", "answer_url": format!("{base}/answer") });
    let (status, body) = rest(&sip, reqwest::Method::POST, "Call/", Some(call.clone())).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().is_some_and(|e| e.contains("--sip-gateway")), "{body}");
    assert!(body["api_id"].is_string(), "{body}");
    let (status, body) = rest(&sip, reqwest::Method::POST, "/sim/Call/", Some(call)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("INVITE")), "{body}");
    let (status, body) = rest(&sip, reqwest::Method::GET, "/sim/FarEnd/", None).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().is_some_and(|e| e.contains("far-end")), "{body}");
    stop_idle(sip).await;
}

// <Dial>

/// `<Dial><User>sip:…</User></Dial>` between two SIP user agents (SIPp both): plivo-flow
/// rings the callee (an INVITE with its SDP offer), answers the caller when the callee
/// answers, and bridges them: each hears the other and not itself. The callee's BYE ends the
/// dial (`DialStatus=completed`, it rang), the flow goes on to its next element, audibly,
/// and ends the caller's call with a BYE and one hangup webhook.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dial_to_a_sip_user_bridges_both_ways_and_the_callee_hangup_goes_on_to_the_next_element() {
    if missing_peers() {
        return;
    }
    let (app, base) = App::spawn().await;
    let callee_port = free_port();
    let flow = format!(
        r#"<Response><Dial action="{base}/dialed" redirect="false" callbackUrl="{base}/dial-events"><User>sip:callee@127.0.0.1:{callee_port}</User></Dial><Speak>The other party has hung up. Good bye.</Speak><Hangup/></Response>"#
    );
    app.docs.lock().expect("lock").insert("/answer".into(), flow);
    let sip = sip_shell(&base).await;
    let (caller_sink, caller_heard) = sink().await;
    let (callee_sink, callee_heard) = sink().await;
    let callee = run_sipp(include_str!("sip/callee_answers_talks_hangs_up.xml"), callee_sink, None, callee_port);
    let caller = async {
        // The callee's SIPp listens first.
        tokio::time::sleep(Duration::from_millis(300)).await;
        sipp(include_str!("sip/caller_dials.xml"), caller_sink, sip.addr).await;
    };
    tokio::join!(callee, caller);

    let (ta, tb) = (first_packet(&caller_heard), first_packet(&callee_heard));
    let at = |t: Instant, ms: u64| t + Duration::from_millis(ms);
    let levels = [
        ("the callee hears the caller", level(&callee_heard, at(tb, 2500), at(tb, 8000))),
        ("the caller hears itself", level(&caller_heard, at(ta, 2500), at(ta, 8000))),
        ("the caller hears the callee", level(&caller_heard, at(ta, 10_500), at(ta, 16_000))),
        ("the callee hears itself", level(&callee_heard, at(tb, 10_500), at(tb, 16_000))),
        ("the caller after the callee's BYE", level(&caller_heard, at(ta, 18_500), at(ta, 20_500))),
    ];
    eprintln!("{levels:.1?}; caller answered {:?} after the callee", ta.saturating_duration_since(tb));
    let [heard_b, echo_a, heard_a, echo_b, after] = levels.map(|(_, l)| l);
    assert!(heard_b > -35.0 && heard_a > -35.0, "each hears the other: {levels:.1?}");
    assert!(echo_a < -60.0 && echo_b < -60.0, "nobody hears itself: {levels:.1?}");
    assert!(after > -35.0, "the caller hears the next element: {levels:.1?}");
    assert!(ta.saturating_duration_since(tb) < Duration::from_millis(500), "the caller is answered with the callee");

    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !app.hits.lock().expect("lock").iter().any(|h| h.path == "/hangup") {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hits = app.hits.lock().expect("lock").clone();
    let dialed: Vec<_> = hits.iter().filter(|h| h.path == "/dialed").collect();
    assert_eq!(dialed.len(), 1, "{hits:?}");
    let d = dialed[0];
    assert_eq!(d.param("DialStatus"), Some("completed"), "{d:?}");
    assert_eq!(d.param("DialRingStatus"), Some("true"), "{d:?}");
    let b_leg = d.param("DialBLegUUID").expect("DialBLegUUID");
    assert_eq!(b_leg.len(), 36, "{d:?}");
    let events: Vec<_> =
        hits.iter().filter(|h| h.path == "/dial-events").filter_map(|h| h.param("DialAction")).collect();
    assert_eq!(events, ["answer", "connected", "hangup"], "{hits:?}");
    assert_eq!(hits.iter().filter(|h| h.path == "/hangup").count(), 1, "one call, one hangup webhook: {hits:?}");
    stop_idle(sip).await;
}

/// A busy `<User>` (486) gives `DialStatus=busy` and the flow goes on, unanswered, to a
/// `<Number>` rung through `--sip-gateway` (`sip:15550001@gateway`, `sipHeaders` as `X-PH-`
/// headers); the caller is answered when the gateway answers, and its `*` (RFC 4733) with
/// `hangupOnStar` sends the gateway a BYE and the caller on to the next element.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_user_then_a_number_through_the_gateway_hung_up_by_the_callers_star() {
    if missing_peers() {
        return;
    }
    let (app, base) = App::spawn().await;
    let (busy_port, gateway_port) = (free_port(), free_port());
    let flow = format!(
        r#"<Response><Dial action="{base}/busy" redirect="false"><User>sip:busy@127.0.0.1:{busy_port}</User></Dial><Dial action="{base}/dialed" redirect="false" hangupOnStar="true" sipHeaders="Case=dial-test" callbackUrl="{base}/dial-events"><Number>15550001</Number></Dial><Speak>You hung up on them.</Speak><Hangup/></Response>"#
    );
    app.docs.lock().expect("lock").insert("/answer".into(), flow);
    let gateway: SocketAddr = format!("127.0.0.1:{gateway_port}").parse().expect("addr");
    let sip = sip_shell_with(&base, Some(gateway)).await;
    let (caller_sink, caller_heard) = sink().await;
    let (busy_sink, _) = sink().await;
    let (gateway_sink, gateway_heard) = sink().await;
    let busy = run_sipp(include_str!("sip/callee_busy.xml"), busy_sink, None, busy_port);
    let number = run_sipp(include_str!("sip/gateway_answers_until_bye.xml"), gateway_sink, None, gateway_port);
    let caller = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sipp(include_str!("sip/caller_dials_then_presses_star.xml"), caller_sink, sip.addr).await;
    };
    // Each scenario passes: 486 and its ACK; the number's INVITE, and our BYE; the caller's
    // answer, its star, and our BYE after the next element.
    tokio::join!(busy, number, caller);

    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !app.hits.lock().expect("lock").iter().any(|h| h.path == "/hangup") {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hits = app.hits.lock().expect("lock").clone();
    let status = |path: &str| hits.iter().filter(|h| h.path == path).map(|h| h.param("DialStatus")).collect::<Vec<_>>();
    assert_eq!(status("/busy"), [Some("busy")], "{hits:?}");
    assert_eq!(status("/dialed"), [Some("completed")], "{hits:?}");
    let answer = hits.iter().find(|h| h.path == "/dial-events").expect("the dial's answer event");
    assert_eq!(
        (answer.param("DialAction"), answer.param("DialBLegTo")),
        (Some("answer"), Some("15550001")),
        "{answer:?}"
    );
    let ta = first_packet(&caller_heard);
    let tb = first_packet(&gateway_heard);
    assert!(ta.saturating_duration_since(tb) < Duration::from_millis(500), "answered with the number");
    // The star comes 3 s after the answer; the next element speaks after it.
    let after = level(&caller_heard, ta + Duration::from_millis(3600), ta + Duration::from_millis(5000));
    let before = level(&caller_heard, ta + Duration::from_millis(500), ta + Duration::from_millis(2500));
    eprintln!("the caller before its star {before:.1} dBFS, after {after:.1}");
    assert!(
        before < -60.0 && after > -35.0,
        "the gateway is silent, the next element is heard: {before:.1} {after:.1}"
    );
    assert_eq!(hits.iter().filter(|h| h.path == "/hangup").count(), 1, "{hits:?}");
    stop_idle(sip).await;
}

/// The bridge ends from the caller's side too: `timeLimit` hangs up the callee (a BYE to the
/// gateway) and the caller goes on; the caller's BYE mid-bridge ends its call (one hangup
/// webhook, `HangupSource=Caller`) and BYEs the callee.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dial_time_limit_and_a_caller_bye_mid_bridge_hang_up_the_callee() {
    if missing_peers() {
        return;
    }
    let (app, base) = App::spawn().await;
    let gateway_port = free_port();
    let gateway: SocketAddr = format!("127.0.0.1:{gateway_port}").parse().expect("addr");
    let sip = sip_shell_with(&base, Some(gateway)).await;
    let dial = |limit: &str| {
        format!(
            r#"<Response><Dial action="{base}/dialed" redirect="false" sipHeaders="Case=dial-test"{limit}><Number>15550001</Number></Dial><Speak>Time is up.</Speak><Hangup/></Response>"#
        )
    };
    for (limit, caller) in [
        (r#" timeLimit="2""#, include_str!("sip/caller_dials_then_presses_star.xml")),
        ("", include_str!("sip/caller_hangs_up.xml")),
    ] {
        app.hits.lock().expect("lock").clear();
        app.docs.lock().expect("lock").insert("/answer".into(), dial(limit));
        let (caller_sink, _) = sink().await;
        let (gateway_sink, _) = sink().await;
        let number = run_sipp(include_str!("sip/gateway_answers_until_bye.xml"), gateway_sink, None, gateway_port);
        let call = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            sipp(caller, caller_sink, sip.addr).await;
        };
        // The gateway's scenario passes only if our BYE reaches it.
        tokio::join!(number, call);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !app.hits.lock().expect("lock").iter().any(|h| h.path == "/hangup") {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let hits = app.hits.lock().expect("lock").clone();
        let hangups: Vec<_> = hits.iter().filter(|h| h.path == "/hangup").collect();
        assert_eq!(hangups.len(), 1, "{limit}: {hits:?}");
        // After `timeLimit` the flow's own `<Hangup/>` ends the call.
        let source = if limit.is_empty() { "Caller" } else { "Answer XML" };
        assert_eq!(hangups[0].param("HangupSource"), Some(source), "{limit}: {hits:?}");
        if !limit.is_empty() {
            let dialed: Vec<_> = hits.iter().filter(|h| h.path == "/dialed").collect();
            assert_eq!(
                dialed.iter().map(|h| h.param("DialStatus")).collect::<Vec<_>>(),
                [Some("completed")],
                "{hits:?}"
            );
            let answer = hits.iter().find(|h| h.path == "/answer").expect("answered");
            let bridged = dialed[0].at.saturating_duration_since(answer.at);
            assert!(bridged >= Duration::from_secs(2) && bridged < Duration::from_secs(3), "timeLimit=2: {bridged:?}");
        }
    }
    stop_idle(sip).await;
}

/// baresip (Debian's `baresip-core`, headless) as the dialed party: it answers by itself
/// (`answermode=auto`) and plays a 400 Hz tone from a WAV file (`aufile`); its `sndfile`
/// module writes what it heard. The caller (SIPp) hears the tone, baresip hears the caller's
/// speech, and `timeLimit` ends the bridge with our BYE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dial_to_baresip_bridges_its_tone_and_the_callers_speech() {
    if missing_peers_and(&["baresip"]) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("plivo-flow-baresip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("baresip dir");
    let tone = dir.join("tone.wav");
    let spec =
        hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(&tone, spec).expect("tone file");
    for i in 0..8000 * 20 {
        let s = 8000.0 * (std::f64::consts::TAU * 400.0 * f64::from(i) / 8000.0).sin();
        w.write_sample(s as i16).expect("write");
    }
    w.finalize().expect("tone written");
    let port = free_port();
    let config = format!(
        "poll_method poll\nsip_listen 127.0.0.1:{port}\naudio_player aubridge,nul\naudio_source aufile,{}\n\
         audio_alert aubridge,nul\naudio_channels 1\naudio_srate 8000\nmodule_path /usr/lib/baresip/modules\n\
         module account.so\nmodule g711.so\nmodule aufile.so\nmodule aubridge.so\nmodule sndfile.so\n\
         snd_path {}\n",
        tone.display(),
        dir.display()
    );
    std::fs::write(dir.join("config"), config).expect("config");
    std::fs::write(dir.join("accounts"), "<sip:callee@127.0.0.1>;regint=0;answermode=auto;audio_codecs=PCMA,PCMU\n")
        .expect("accounts");
    let mut baresip = tokio::process::Command::new("baresip")
        .arg("-f")
        .arg(&dir)
        .args(["-n", "127.0.0.1", "-t", "30"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("baresip runs");

    let (app, base) = App::spawn().await;
    let flow = format!(
        r#"<Response><Dial action="{base}/dialed" redirect="false" timeLimit="10"><User>sip:callee@127.0.0.1:{port}</User></Dial><Speak>Time is up.</Speak><Hangup/></Response>"#
    );
    app.docs.lock().expect("lock").insert("/answer".into(), flow);
    let sip = sip_shell(&base).await;
    let (caller_sink, caller_heard) = sink().await;
    // baresip listens within a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sipp(include_str!("sip/caller_dials.xml"), caller_sink, sip.addr).await;
    baresip.kill().await.expect("baresip stops");

    let ta = first_packet(&caller_heard);
    let at = |ms: u64| ta + Duration::from_millis(ms);
    let (tone_on, tone_off) =
        (power_at(&caller_heard, at(500), at(6000), 400.0), power_at(&caller_heard, at(500), at(6000), 1000.0));
    let tone_level = level(&caller_heard, at(500), at(6000));
    let after = level(&caller_heard, at(10_500), at(11_500));
    // What baresip heard, from the start of its call.
    let dump = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .expect("baresip dumped what it heard");
    let heard: Vec<i16> =
        hound::WavReader::open(&dump).expect("a WAV").samples::<i16>().filter_map(Result::ok).collect();
    let part = |from: usize, to: usize| rms_dbfs(heard.get(from * 8..to * 8).unwrap_or(&[]));
    let (quiet, speech) = (part(0, 1200), part(2500, 8000));
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "the caller hears baresip's tone at {tone_level:.1} dBFS ({:.0} dB more power at 400 Hz than at 1 kHz), the next element at {after:.1}; baresip hears {quiet:.1} before the caller talks, {speech:.1} while it talks",
        10.0 * (tone_on / tone_off.max(1e-30)).log10()
    );
    assert!(tone_level > -35.0 && tone_on > 100.0 * tone_off, "the caller hears the callee's tone");
    assert!(speech > -35.0 && quiet < -50.0, "baresip hears the caller's speech, and only then");
    assert!(after > -35.0, "after timeLimit the caller hears the next element");
    let hits = app.hits.lock().expect("lock").clone();
    let dialed: Vec<_> = hits.iter().filter(|h| h.path == "/dialed").map(|h| h.param("DialStatus")).collect();
    assert_eq!(dialed, [Some("completed")], "{hits:?}");
    stop_idle(sip).await;
}

// Outbound calls

/// `POST Call/` places a SIP call: a number through `--sip-gateway` (SIPp as the gateway)
/// rings, is answered, fetches its answer URL (`Direction=outbound`), speaks into the call,
/// and `time_limit` ends it with a BYE (9030); a busy `sip:` URI ends the call unanswered
/// (3010, source `Callee`) without fetching its answer URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_calls_ring_through_the_gateway_speak_and_end_by_time_limit_or_busy() {
    if missing_peers() {
        return;
    }
    let (app, base) = App::spawn().await;
    let (gateway_port, busy_port, ringer_port) = (free_port(), free_port(), free_port());
    let gateway: SocketAddr = format!("127.0.0.1:{gateway_port}").parse().expect("addr");
    let sip = sip_shell_with(&base, Some(gateway)).await;
    app.docs
        .lock()
        .expect("lock")
        .insert("/answer".into(), r#"<Response><Speak loop="0">Hello from plivo-flow.</Speak></Response>"#.into());
    // The gateway scenario without its check of <Dial sipHeaders> (POST Call/ sends none).
    let scenario = include_str!("sip/gateway_answers_until_bye.xml")
        .replace(
            r#"<ereg regexp="dial-test" search_in="hdr" header="X-PH-Case:" check_it="true" assign_to="case"/>"#,
            "",
        )
        .replace(r#"variables="ruri,case""#, r#"variables="ruri""#);
    let (gateway_sink, heard) = sink().await;
    let (busy_sink, _) = sink().await;
    let number = run_sipp(&scenario, gateway_sink, None, gateway_port);
    let busy = run_sipp(include_str!("sip/callee_busy.xml"), busy_sink, None, busy_port);
    // A far end that takes 1.5 s to ring, then rings until cancelled.
    let late_ringer = include_str!("sip/callee_rings_until_cancel.xml").replacen(
        "</recv>",
        "</recv>\n  <pause milliseconds=\"1500\"/>",
        1,
    );
    let (ringer_sink, _) = sink().await;
    let ringer = run_sipp(&late_ringer, ringer_sink, None, ringer_port);
    let mut rang_at = None;
    let calls = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let call = serde_json::json!({
            "from": "15551234", "to": "15550001", "answer_url": format!("{base}/answer"),
            "hangup_url": format!("{base}/hangup"), "time_limit": 2,
        });
        let (status, body) = rest(&sip, reqwest::Method::POST, "Call/", Some(call)).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["message"], "call fired", "{body}");
        let busy = serde_json::json!({
            "from": "15551234", "to": format!("sip:busy@127.0.0.1:{busy_port}"),
            "answer_url": format!("{base}/busy-answer"), "hangup_url": format!("{base}/busy-hangup"),
        });
        let (status, body) = rest(&sip, reqwest::Method::POST, "Call/", Some(busy)).await;
        assert_eq!(status, 201, "{body}");
        let ringing = serde_json::json!({
            "from": "15551234", "to": format!("sip:ringer@127.0.0.1:{ringer_port}"),
            "answer_url": format!("{base}/ring-answer"), "hangup_url": format!("{base}/ring-hangup"),
            "hangup_on_ring": 1, "ring_timeout": 10,
        });
        rang_at = Some(Instant::now());
        let (status, body) = rest(&sip, reqwest::Method::POST, "Call/", Some(ringing)).await;
        assert_eq!(status, 201, "{body}");
    };
    tokio::join!(number, busy, ringer, calls);
    let deadline = Instant::now() + Duration::from_secs(5);
    let ended = |hits: &[common::Hit]| {
        ["/hangup", "/busy-hangup", "/ring-hangup"].iter().all(|p| hits.iter().any(|h| h.path == *p))
    };
    while Instant::now() < deadline && !ended(&app.hits.lock().expect("lock")) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hits = app.hits.lock().expect("lock").clone();
    let t = first_packet(&heard);
    let speech = level(&heard, t, t + Duration::from_millis(1500));
    eprintln!("the callee hears the outbound call's speech at {speech:.1} dBFS");
    assert!(speech > -35.0, "the answered call speaks to the callee: {speech:.1}");
    let answer = hits.iter().find(|h| h.path == "/answer").expect("the answer URL was fetched");
    assert_eq!((answer.param("Direction"), answer.param("To")), (Some("outbound"), Some("15550001")), "{answer:?}");
    let hangup = hits.iter().find(|h| h.path == "/hangup").expect("hangup");
    assert_eq!(hangup.param("HangupCauseCode"), Some("9030"), "time_limit: {hangup:?}");
    assert_eq!(hangup.param("CallUUID"), answer.param("CallUUID"));
    let lasted = hangup.at.saturating_duration_since(answer.at);
    assert!(lasted >= Duration::from_millis(1900) && lasted < Duration::from_secs(3), "time_limit=2: {lasted:?}");
    assert!(!hits.iter().any(|h| h.path == "/busy-answer"), "a busy callee's call fetches no answer URL: {hits:?}");
    let busy = hits.iter().find(|h| h.path == "/busy-hangup").expect("busy hangup");
    assert_eq!((busy.param("HangupCauseCode"), busy.param("HangupSource")), (Some("3010"), Some("Callee")), "{busy:?}");
    // `hangup_on_ring=1` counts from the 180 (1.5 s after the INVITE), not from the INVITE.
    let rang = hits.iter().find(|h| h.path == "/ring-hangup").expect("the ringing call's hangup");
    assert_eq!(rang.param("HangupCauseCode"), Some("9040"), "hangup_on_ring: {rang:?}");
    let after = rang.at.saturating_duration_since(rang_at.expect("posted"));
    eprintln!("hangup_on_ring=1 with a 180 at 1.5 s: hung up {after:?} after the POST");
    assert!(after >= Duration::from_millis(2400) && after < Duration::from_secs(4), "{after:?}");
    stop_idle(sip).await;
}

/// The ways a `<Dial>` waits: a party that only rings is CANCELled at the `<Dial timeout>`
/// (`DialStatus=no-answer`, `DialRingStatus=true`), and the caller, still unanswered, goes on
/// to a `<Dial confirmKey>` whose party hears `confirmSound` and is connected only when it
/// presses the key (RFC 4733): then the caller is answered and the two hear each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ringing_party_is_cancelled_at_the_timeout_and_a_confirm_key_connects_the_next() {
    if missing_peers() {
        return;
    }
    let (app, base) = App::spawn().await;
    let (ringer_port, confirmer_port) = (free_port(), free_port());
    let flow = format!(
        r#"<Response><Dial timeout="2" action="{base}/unanswered" redirect="false"><User>sip:ringer@127.0.0.1:{ringer_port}</User></Dial><Dial confirmKey="5" confirmSound="{base}/confirm" timeLimit="5" action="{base}/dialed" redirect="false" callbackUrl="{base}/dial-events"><User>sip:confirmer@127.0.0.1:{confirmer_port}</User></Dial><Speak>Good bye.</Speak><Hangup/></Response>"#
    );
    let confirm = r#"<Response><Speak>You have a call. Press five to take it.</Speak></Response>"#;
    app.docs.lock().expect("lock").insert("/answer".into(), flow);
    app.docs.lock().expect("lock").insert("/confirm".into(), confirm.into());
    let sip = sip_shell(&base).await;
    let (caller_sink, caller_heard) = sink().await;
    let (ringer_sink, _) = sink().await;
    let (confirmer_sink, confirmer_heard) = sink().await;
    let ringer = run_sipp(include_str!("sip/callee_rings_until_cancel.xml"), ringer_sink, None, ringer_port);
    let confirmer = run_sipp(include_str!("sip/callee_confirms_with_5.xml"), confirmer_sink, None, confirmer_port);
    let caller = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sipp(include_str!("sip/caller_dials.xml"), caller_sink, sip.addr).await;
    };
    tokio::join!(ringer, confirmer, caller);

    let hits = app.hits.lock().expect("lock").clone();
    let unanswered = hits.iter().find(|h| h.path == "/unanswered").expect("the first dial's action");
    assert_eq!(
        (unanswered.param("DialStatus"), unanswered.param("DialRingStatus")),
        (Some("no-answer"), Some("true")),
        "{unanswered:?}"
    );
    let dialed = hits.iter().find(|h| h.path == "/dialed").expect("the second dial's action");
    assert_eq!(dialed.param("DialStatus"), Some("completed"), "{dialed:?}");
    let events: Vec<_> =
        hits.iter().filter(|h| h.path == "/dial-events").filter_map(|h| h.param("DialAction")).collect();
    assert_eq!(events, ["answer", "connected", "hangup"], "{hits:?}");
    let connected = hits.iter().find(|h| h.param("DialAction") == Some("connected")).expect("connected").at;
    let tb = first_packet(&confirmer_heard);
    let ta = first_packet(&caller_heard);
    let prompt = level(&confirmer_heard, tb + Duration::from_millis(200), tb + Duration::from_millis(1500));
    let connect_ms = ta.saturating_duration_since(tb).as_millis();
    // The caller is answered at the key; it talks from 1.5 s after its ACK.
    let talk = level(&confirmer_heard, ta + Duration::from_millis(2000), ta + Duration::from_millis(4500));
    eprintln!(
        "the party hears confirmSound at {prompt:.1} dBFS, is connected {connect_ms} ms after its answer, then hears the caller at {talk:.1}"
    );
    assert!(prompt > -35.0, "confirmSound reaches the party: {prompt:.1}");
    assert!((2400..4500).contains(&connect_ms), "connected at the key, 2.5 s after the answer: {connect_ms} ms");
    let apart = connected.saturating_duration_since(ta).max(ta.saturating_duration_since(connected));
    assert!(apart < Duration::from_millis(500), "the caller is answered at the key: {apart:?} apart");
    assert!(talk > -35.0, "connected, the party hears the caller: {talk:.1}");
    stop_idle(sip).await;
}

/// `<Record>` on a real call: SIPp talks (its 7 s PCMA capture from 0.5 s after the ACK), then
/// falls silent; the recording ends after `timeout` (2 s) of silence, and its `RecordUrl`
/// (from the action's parameters) downloads a WAV of what the caller said, exactly as long as
/// `RecordingDurationMs`: speech where SIPp talked, digital silence in the silent tail. The
/// `fileFormat` is Plivo's default, mp3: the `RecordUrl` is an MP3 (LAME) of the same audio,
/// and the `.wav` beside it the exact samples; `DELETE Recording/{id}/` removes both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_on_a_real_call_downloads_the_callers_speech_as_a_wav_of_its_duration() {
    if missing_peers_and(&["lame"]) {
        return;
    }
    let (app, base) = App::spawn().await;
    let record = format!(
        r#"<Response><Record action="{base}/recorded" maxLength="20" timeout="2" playBeep="false"/></Response>"#
    );
    app.docs.lock().expect("lock").insert("/answer".into(), record);
    app.docs.lock().expect("lock").insert("/recorded".into(), "<Response><Hangup/></Response>".into());
    let sip = sip_shell(&base).await;
    let (sink_addr, _) = sink().await;
    sipp(include_str!("sip/caller_talks_into_record.xml"), sink_addr, sip.addr).await;

    let hits = app.hits.lock().expect("lock").clone();
    let action = hits.iter().find(|h| h.path == "/recorded").expect("the Record's action");
    let url = action.param("RecordUrl").expect("RecordUrl").to_owned();
    let id = action.param("RecordingID").expect("RecordingID").to_owned();
    let duration_ms: u64 = action.param("RecordingDurationMs").and_then(|d| d.parse().ok()).expect("a duration");
    assert_eq!(url, format!("http://{}/v1/Account/{}/Recording/{id}.mp3", sip.http, plivo_flow::server::DEV_AUTH_ID));
    assert_eq!(action.param("RecordingDuration"), Some((duration_ms / 1000).to_string().as_str()));
    // 0.5 s + the capture's 7.1 s + the 2 s of silence that end it, give or take the answer.
    assert!((9_000..=11_000).contains(&duration_ms), "{duration_ms} ms");

    let http = reqwest::Client::new();
    let resp = http.get(&url).send().await.expect("the MP3 downloads");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("audio/mpeg"));
    let mp3 = resp.bytes().await.expect("the body");
    let hint = plivo_flow::sip::audio_file::Hint { extension: Some("mp3".into()), media_type: None };
    let decoded = plivo_flow::sip::audio_file::decode(&mp3, &hint).expect("an MP3 file");
    let mp3_ms = decoded.len() as u64 / 8;
    let mp3_speech = rms_dbfs(decoded.get(1_500 * 8..6_500 * 8).unwrap_or_default());
    eprintln!("the MP3: {} bytes, {mp3_ms} ms decoded, speech (1.5-6.5 s) {mp3_speech:.1} dBFS", mp3.len());
    // LAME adds its encoder and decoder delay (138 ms) and pads the last 72 ms frame.
    assert!(
        (duration_ms..=duration_ms + 250).contains(&mp3_ms),
        "the MP3 lasts the duration: {mp3_ms} ms for {duration_ms}"
    );
    assert!(mp3_speech > -40.0, "what the caller said is in the MP3: {mp3_speech:.1} dBFS");

    let url = url.replace(".mp3", ".wav");
    let resp = http.get(&url).send().await.expect("the WAV downloads");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("audio/wav"));
    let wav = resp.bytes().await.expect("the body");
    let reader = hound::WavReader::new(std::io::Cursor::new(&wav[..])).expect("a WAV file");
    let spec = reader.spec();
    assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (1, 8000, 16));
    assert_eq!(spec.sample_format, hound::SampleFormat::Int);
    let samples: Vec<i16> = reader.into_samples::<i16>().map(|s| s.expect("a sample")).collect();
    let file_ms = samples.len() as u64 / 8;
    let at = |ms: u64| samples.get((ms * 8) as usize..).unwrap_or_default();
    let span = |from: u64, to: u64| at(from).get(..((to - from) * 8) as usize).unwrap_or_default();
    let speech = rms_dbfs(span(1_500, 6_500));
    let tail = rms_dbfs(span(file_ms.saturating_sub(1_500), file_ms));
    let timeline: Vec<String> =
        (0..file_ms / 500).map(|i| format!("{:.0}", rms_dbfs(span(i * 500, i * 500 + 500)))).collect();
    eprintln!(
        "recording {file_ms} ms in the file, RecordingDurationMs {duration_ms}; speech (1.5-6.5 s) {speech:.1} dBFS, last 1.5 s {tail:.1} dBFS; per 500 ms: {}",
        timeline.join(" ")
    );
    assert!(file_ms.abs_diff(duration_ms) <= 20, "the file lasts the duration: {file_ms} ms for {duration_ms}");
    assert!(speech > -40.0, "what the caller said is in the file: {speech:.1} dBFS");
    assert!(tail < -60.0, "the silent tail is silence: {tail:.1} dBFS");

    let (status, _) = rest(&sip, reqwest::Method::DELETE, &format!("Recording/{id}/"), None).await;
    assert_eq!(status, 204);
    for url in [url.clone(), url.replace(".wav", ".mp3")] {
        let gone = http.get(&url).send().await.expect("an answer");
        assert_eq!(gone.status().as_u16(), 404, "deleted, the file is gone: {url}");
        let body: serde_json::Value = gone.json().await.expect("a JSON 404");
        assert!(body["error"].is_string() && body["api_id"].is_string(), "{body}");
    }
    stop_idle(sip).await;
}
