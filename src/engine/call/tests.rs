//! Per-verb unit tests: a [`Call`] driven directly (no `Simulation`), its outputs compared
//! exactly, one short line per output.

use std::sync::Arc;
use std::time::Duration;

use super::timers::{Timer, Timers};
use super::{Call, CallConfig, CallSetup};
use crate::engine::ids::{CallId, MediaId};
use crate::engine::io::{CallEvent, Command, DialEvent, FetchReply, Input, MediaEvent, Output};
use crate::engine::rooms::{LeaveReason, RoomEvent};

const ANSWER_URL: &str = "https://app.example/answer";

fn at(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn drain(call: &mut Call) -> Vec<Output> {
    std::iter::from_fn(|| call.poll_output()).collect()
}

/// One output as a short line: commands by name, requests as purpose, method, URL and their
/// non-standard parameters, trace events as `> Verb` / `< Verb: outcome`.
fn show(o: &Output) -> String {
    match o {
        Output::Command(c) => match c {
            Command::Speak { media, speak } => {
                format!("speak {media:?} {}", speak.speak().map(|s| s.text()).unwrap_or_default())
            }
            Command::Play { media, .. } => format!("play {media:?}"),
            Command::PlaySounds { media, what, to, looped, .. } => {
                format!("sounds {media:?} {what} to {to:?} looped {looped}")
            }
            Command::StartCollect { media, collect } => format!(
                "collect {media:?} dtmf {} speech {} max {} timeout {:?} gap {:?} attempts {}",
                collect.dtmf,
                collect.speech,
                collect.max_digits,
                collect.timeout,
                collect.digit_timeout,
                collect.attempts
            ),
            Command::StartRecording { media, mode, max_length, silence_timeout, .. } => {
                format!("record {media:?} {mode:?} max {max_length:?} silence {silence_timeout:?}")
            }
            Command::Dial { media, .. } => format!("dial {media:?}"),
            Command::JoinConference { request, .. } => format!("join {}", request.room),
            Command::LeaveConference { reason } => format!("leave {reason:?}"),
            Command::Hangup { cause } => format!("hangup {}", cause.code()),
            other => format!("{other:?}"),
        },
        Output::Request(r) => {
            let params: Vec<String> = r
                .params
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "CallUUID" | "From" | "To" | "Direction"))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("{:?} {:?} {} {:?} {}", r.purpose, r.method, r.url, r.reply, params.join(" "))
        }
        Output::Event(e) => match e {
            CallEvent::DocumentLoaded { verbs, .. } => format!("loaded {verbs}"),
            CallEvent::VerbStarted { verb, .. } => format!("> {verb}"),
            CallEvent::VerbFinished { verb, outcome, .. } => format!("< {verb}: {outcome}"),
            CallEvent::Ended { cause, .. } => format!("ended {}", cause.code()),
            other => format!("{other:?}"),
        },
    }
}

fn lines(outs: &[Output]) -> Vec<String> {
    outs.iter().map(show).collect()
}

/// An inbound call `c1` from +15550001 to +15550002 whose answer URL returned `xml`; returns
/// it and its outputs after the document loaded.
fn call_with(xml: &str) -> (Call, Vec<String>) {
    let setup = CallSetup::inbound("c1", "+15550001", "+15550002", ANSWER_URL);
    let mut call = Call::new(setup, CallConfig::default(), Duration::ZERO);
    call.start(Duration::ZERO);
    let outs = drain(&mut call);
    let [Output::Request(req)] = outs.as_slice() else {
        panic!("expected only the answer request, got {:?}", lines(&outs));
    };
    assert_eq!(req.url, ANSWER_URL);
    call.handle_input(Duration::ZERO, Input::Fetched { request: req.id, reply: FetchReply::Body(xml.to_owned()) });
    let outs = lines(&drain(&mut call));
    (call, outs)
}

fn step(call: &mut Call, now: Duration, input: Input) -> Vec<String> {
    call.handle_input(now, input);
    lines(&drain(call))
}

fn tick(call: &mut Call, now: Duration) -> Vec<String> {
    call.handle_timeout(now);
    lines(&drain(call))
}

const END_4010: [&str; 2] = ["hangup 4010", "ended 4010"];

// ---------------------------------------------------------------------- gather

#[test]
fn getdigits_collects_keys_barges_in_and_submits() {
    let (mut call, outs) = call_with(
        r#"<Response><GetDigits action="https://app.example/digits" numDigits="2" timeout="5" digitTimeout="3"><Speak>Enter the code</Speak></GetDigits></Response>"#,
    );
    assert_eq!(
        outs,
        [
            "loaded 1",
            "> GetDigits",
            "Answer",
            "collect MediaId(2) dtmf true speech false max 2 timeout 5s gap 3s attempts 1",
            "speak MediaId(3) Enter the code",
        ]
    );
    assert_eq!(call.current_verb(), Some("GetDigits"));
    // The first key stops the prompt (barge-in) and arms the digit timeout.
    assert_eq!(step(&mut call, at(1), Input::Digits("1".into())), ["StopMedia(MediaId(3))"]);
    assert_eq!(call.poll_timeout(), Some(at(4)));
    // The prompt's late completion is stale and ignored.
    assert!(step(&mut call, at(1), Input::MediaFinished(MediaId(3))).is_empty());
    // The second key reaches numDigits: collection stops and the action replaces the document.
    assert_eq!(
        step(&mut call, at(2), Input::Digits("2".into())),
        [
            "StopCollect(MediaId(2))",
            "< GetDigits: digits 12",
            "Action(\"GetDigits\") Post https://app.example/digits Execute CallStatus=in-progress Digits=12",
        ]
    );
    assert_eq!(call.poll_timeout(), None);
    assert_eq!(call.current_verb(), None);
}

#[test]
fn getdigits_retries_then_falls_through_without_a_request() {
    let (mut call, outs) = call_with(
        r#"<Response><GetDigits action="/digits" retries="2" timeout="4"><Speak>Hi</Speak></GetDigits></Response>"#,
    );
    assert_eq!(outs[4], "speak MediaId(3) Hi");
    assert!(step(&mut call, at(1), Input::MediaFinished(MediaId(3))).is_empty());
    assert_eq!(call.poll_timeout(), Some(at(5)));
    // No input: the second attempt plays the prompts again.
    assert_eq!(tick(&mut call, at(5)), ["speak MediaId(4) Hi"]);
    assert!(step(&mut call, at(6), Input::MediaFinished(MediaId(4))).is_empty());
    // The finish key with nothing typed fails the last attempt: no action request.
    let mut expected = vec!["StopCollect(MediaId(2))".to_owned(), "< GetDigits: no input".to_owned()];
    expected.extend(END_4010.map(str::to_owned));
    assert_eq!(step(&mut call, at(7), Input::Digits("#".into())), expected);
}

#[test]
fn getinput_speech_submits_the_four_fields() {
    let (mut call, outs) = call_with(
        r#"<Response><GetInput action="https://app.example/input" inputType="speech" redirect="false"><Speak>Say it</Speak></GetInput></Response>"#,
    );
    assert_eq!(outs[3], "collect MediaId(2) dtmf false speech true max 32 timeout 15s gap 5s attempts 1");
    // Keys are not listened for.
    assert!(step(&mut call, at(1), Input::Digits("5".into())).is_empty());
    let mut expected = vec![
        "StopMedia(MediaId(3))".to_owned(),
        "StopCollect(MediaId(2))".to_owned(),
        "Action(\"GetInput\") Post https://app.example/input Ignore CallStatus=in-progress InputType=speech Digits= Speech=yes please SpeechConfidenceScore=0.90".to_owned(),
        "< GetInput: speech \"yes please\"".to_owned(),
    ];
    expected.extend(END_4010.map(str::to_owned));
    assert_eq!(step(&mut call, at(2), Input::Speech { text: "yes please".into(), confidence: 0.9 }), expected);
}

// ---------------------------------------------------------------------- record

#[test]
fn record_times_are_epoch_ms_when_the_clock_has_an_epoch() {
    let config = CallConfig {
        clock_epoch: Duration::from_millis(1_700_000_000_123),
        recording_url_base: "http://127.0.0.1:8765/v1/Account/MA1/Recording".into(),
        ..CallConfig::default()
    };
    let setup = CallSetup::inbound("c1", "+15550001", "+15550002", ANSWER_URL);
    let mut call = Call::new(setup, config, Duration::ZERO);
    call.start(Duration::ZERO);
    let outs = drain(&mut call);
    let [Output::Request(req)] = outs.as_slice() else { panic!("{:?}", lines(&outs)) };
    let xml = r#"<Response><Record action="https://app.example/rec" playBeep="false" redirect="false"/></Response>"#;
    call.handle_input(at(1), Input::Fetched { request: req.id, reply: FetchReply::Body(xml.to_owned()) });
    drain(&mut call);
    let outs = drain_after(&mut call, at(3), Input::RecordingFinished { media: MediaId(2), duration_ms: 2000 });
    let Some(Output::Request(req)) = outs.first() else { panic!("{:?}", lines(&outs)) };
    let param = |k: &str| req.params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let id = param("RecordingID");
    assert_eq!(param("RecordUrl"), format!("http://127.0.0.1:8765/v1/Account/MA1/Recording/{id}.mp3"));
    // Started at 1 s on the call's clock: the epoch + 1000 ms.
    assert_eq!(param("RecordingStartMs"), "1700000001123");
    assert_eq!(param("RecordingEndMs"), "1700000003123");
    assert_eq!(param("RecordingDurationMs"), "2000");
}

#[test]
fn record_stops_on_finish_key_and_sends_the_file_to_its_action() {
    let (mut call, outs) = call_with(
        r#"<Response><Record action="https://app.example/rec" playBeep="false" maxLength="10" timeout="3" redirect="false"/></Response>"#,
    );
    assert_eq!(outs, ["loaded 1", "> Record", "Answer", "record MediaId(2) Foreground max Some(10s) silence Some(3s)"]);
    assert_eq!(call.poll_timeout(), Some(at(10)));
    // Not the finish key: nothing happens.
    assert!(step(&mut call, at(1), Input::Digits("5".into())).is_empty());
    assert_eq!(step(&mut call, at(2), Input::Digits("#".into())), ["StopRecording(MediaId(2))"]);
    let outs = drain_after(&mut call, at(2), Input::RecordingFinished { media: MediaId(2), duration_ms: 2000 });
    let Some(Output::Request(req)) = outs.first() else { panic!("{:?}", lines(&outs)) };
    let param = |k: &str| req.params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let id = param("RecordingID");
    assert_eq!(param("RecordUrl"), format!("https://media.plivo-flow.invalid/recordings/{id}.mp3"));
    let mut expected = vec![
        format!(
            "Action(\"Record\") Post https://app.example/rec Ignore CallStatus=in-progress RecordUrl={} RecordingID={id} RecordingDuration=2 RecordingDurationMs=2000 RecordingStartMs=0 RecordingEndMs=2000 Digits=#",
            param("RecordUrl")
        ),
        "< Record: recorded 2000 ms, ended by #".to_owned(),
    ];
    expected.extend(END_4010.map(str::to_owned));
    assert_eq!(lines(&outs), expected);
}

fn drain_after(call: &mut Call, now: Duration, input: Input) -> Vec<Output> {
    call.handle_input(now, input);
    drain(call)
}

#[test]
fn record_max_length_stops_the_recording() {
    let (mut call, _) = call_with(r#"<Response><Record maxLength="5"/></Response>"#);
    // playBeep defaults to true: the recording starts after the beep.
    assert_eq!(
        step(&mut call, at(1), Input::MediaFinished(MediaId(2))),
        ["record MediaId(2) Foreground max Some(5s) silence Some(15s)"]
    );
    assert_eq!(call.poll_timeout(), Some(at(6)));
    assert_eq!(tick(&mut call, at(6)), ["StopRecording(MediaId(2))"]);
}

// ---------------------------------------------------------------------- dial

const DIAL: &str = r#"<Response><Dial action="https://app.example/dial" callbackUrl="https://app.example/dialcb" hangupOnStar="true" timeLimit="60"><Number>+15550003</Number></Dial></Response>"#;

fn answered(call: &mut Call) -> Vec<String> {
    step(call, at(1), Input::Dial(DialEvent::Answered { b_leg: CallId::from("b1".to_owned()), to: "+15550003".into() }))
}

#[test]
fn dial_bridges_answers_the_caller_and_ends_on_star() {
    let (mut call, outs) = call_with(DIAL);
    // A caller who reaches the <Dial> unanswered is answered when the callee is.
    assert_eq!(outs, ["loaded 1", "> Dial", "dial MediaId(2)"]);
    assert_eq!(
        answered(&mut call),
        [
            "Answer",
            "Callback(Dial) Post https://app.example/dialcb Ignore CallStatus=in-progress DialAction=answer DialALegUUID=c1 DialBLegUUID=b1 DialBLegTo=+15550003 DialBLegFrom=+15550001 DialBLegStatus=answer",
            "Callback(Dial) Post https://app.example/dialcb Ignore CallStatus=in-progress DialAction=connected DialALegUUID=c1 DialBLegUUID=b1 DialBLegTo=+15550003 DialBLegFrom=+15550001 DialBLegStatus=connected",
        ]
    );
    assert_eq!(call.poll_timeout(), Some(at(61)));
    // Bridged, `leg=bleg` tones go to the callee.
    let digits = super::CallOp::SendDigits { digits: "9".into(), b_leg: true };
    assert_eq!(
        call.call_op(at(2), digits).map(|_| lines(&drain(&mut call))),
        Ok(vec!["SendDigits { media: MediaId(5), digits: \"9\", to: Callee }".to_owned()])
    );
    assert_eq!(
        step(&mut call, at(5), Input::Digits("*".into())),
        [
            "HangupCallee(MediaId(2))",
            "Callback(Dial) Post https://app.example/dialcb Ignore CallStatus=in-progress DialAction=hangup DialALegUUID=c1 DialBLegUUID=b1 DialBLegTo=+15550003 DialBLegFrom=+15550001 DialBLegStatus=hangup DialBLegDuration=4 DialBLegBillDuration=4 DialBLegHangupCauseName=Normal Hangup DialBLegHangupCauseCode=4000",
            "< Dial: completed (caller pressed *)",
            "Action(\"Dial\") Post https://app.example/dial Execute CallStatus=in-progress DialStatus=completed DialRingStatus=true DialHangupCause=NORMAL_CLEARING DialALegUUID=c1 DialBLegUUID=b1",
        ]
    );
}

#[test]
fn dial_with_confirm_key_sends_answer_then_connected_on_confirmation() {
    let (mut call, _) = call_with(
        r#"<Response><Dial callbackUrl="https://app.example/dialcb" confirmKey="5"><Number>+15550003</Number></Dial></Response>"#,
    );
    let dial_events = |outs: &[String]| -> Vec<String> {
        outs.iter()
            .filter(|l| l.starts_with("Callback(Dial)"))
            .filter_map(|l| l.split(' ').nth(5).map(str::to_owned))
            .collect()
    };
    assert_eq!(dial_events(&answered(&mut call)), ["DialAction=answer"]);
    let confirmed = step(&mut call, at(2), Input::Dial(DialEvent::CalleeDigits("5".into())));
    assert_eq!(dial_events(&confirmed), ["DialAction=connected"]);
    assert!(confirmed.iter().any(|l| l.ends_with("DialBLegStatus=connected")), "{confirmed:?}");
}

#[test]
fn an_outbound_call_sends_its_request_uuid_and_its_callee_hangs_up() {
    let setup = CallSetup::outbound("c1", "+15550001", "+15550002", super::Webhook::post(ANSWER_URL))
        .with_request_uuid("req-1")
        .with_hangup(super::Webhook::post("https://app.example/hangup"));
    let mut call = Call::new(setup, CallConfig::default(), Duration::ZERO);
    call.start(Duration::ZERO);
    call.handle_input(Duration::ZERO, Input::Answered);
    let outs = drain(&mut call);
    let Some(Output::Request(answer)) = outs.iter().find(|o| matches!(o, Output::Request(_))) else {
        panic!("no answer request: {outs:?}");
    };
    let param = |k: &str| answer.params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(param("CallUUID"), Some("c1"));
    assert_eq!(param("ALegUUID"), Some("c1"));
    assert_eq!(param("ALegRequestUUID"), Some("req-1"));
    assert_eq!(param("RequestUUID"), Some("req-1"));
    let request = answer.id;
    let body = r#"<Response><Wait length="10"/></Response>"#.to_owned();
    call.handle_input(at(1), Input::Fetched { request, reply: FetchReply::Body(body) });
    drain(&mut call);
    // The phone party of an outbound call is the called one: Plivo says `Callee`.
    call.handle_input(at(2), Input::Hangup { source: crate::engine::HangupSource::Caller });
    let outs = drain(&mut call);
    let hangup = outs
        .iter()
        .find_map(|o| match o {
            Output::Request(r) if r.url.ends_with("/hangup") => Some(r),
            _ => None,
        })
        .expect("hangup request");
    let source = hangup.params.iter().find(|(n, _)| n == "HangupSource").map(|(_, v)| v.as_str());
    assert_eq!(source, Some("Callee"));
    assert_eq!(call.ended().map(|e| e.source), Some(crate::engine::HangupSource::Callee));
}

#[test]
fn dial_time_limit_hangs_up_the_callee() {
    let (mut call, _) = call_with(DIAL);
    answered(&mut call);
    let outs = tick(&mut call, at(61));
    assert_eq!(outs[0], "HangupCallee(MediaId(2))");
    assert_eq!(outs[2], "< Dial: completed (time limit)");
    assert_eq!(outs.len(), 4);
}

#[test]
fn dial_busy_goes_to_the_action_without_a_hangup_callback() {
    let (mut call, _) = call_with(DIAL);
    assert_eq!(
        step(&mut call, at(1), Input::Dial(DialEvent::Busy)),
        [
            "< Dial: busy",
            "Action(\"Dial\") Post https://app.example/dial Execute CallStatus=ringing DialStatus=busy DialRingStatus=false DialHangupCause=USER_BUSY DialALegUUID=c1 DialBLegUUID=",
        ]
    );
}

// ---------------------------------------------------------------------- conference

#[test]
fn conference_enter_kick_exit_then_next_element() {
    let (mut call, outs) = call_with(
        r#"<Response><Conference callbackUrl="https://app.example/conf" action="https://app.example/after" redirect="false" hangupOnStar="true">room1</Conference></Response>"#,
    );
    assert_eq!(outs, ["loaded 1", "> Conference", "Answer", "join room1"]);
    let joined = RoomEvent::Joined {
        call: CallId::from("c1".to_owned()),
        room: Arc::from("room1"),
        uuid: "u1".into(),
        member_id: crate::engine::MemberId(7),
        started: true,
        first: true,
        muted: false,
        held: false,
    };
    assert_eq!(
        step(&mut call, at(1), Input::Conference(joined)),
        [
            "Callback(ConferenceEnter) Post https://app.example/conf Ignore CallStatus=in-progress ConferenceAction=enter Event=ConferenceEnter ConferenceName=room1 ConferenceUUID=u1 ConferenceMemberID=7 ConferenceFirstMember=true"
        ]
    );
    // hangupOnStar asks the room to let the member go; the verb ends when it has.
    assert_eq!(step(&mut call, at(2), Input::Digits("*".into())), ["leave HangupOnStar"]);
    let left = RoomEvent::Left {
        call: CallId::from("c1".to_owned()),
        room: Arc::from("room1"),
        uuid: "u1".into(),
        member_id: crate::engine::MemberId(7),
        reason: LeaveReason::Kicked,
        last: true,
        recording: None,
    };
    let mut expected = vec![
        "Callback(ConferenceExit) Post https://app.example/conf Ignore CallStatus=in-progress ConferenceAction=exit Event=ConferenceExit ConferenceName=room1 ConferenceUUID=u1 ConferenceMemberID=7 ConferenceLastMember=true".to_owned(),
        "Action(\"Conference\") Post https://app.example/after Ignore CallStatus=in-progress ConferenceName=room1 ConferenceUUID=u1 ConferenceMemberID=7".to_owned(),
        format!("< Conference: left room room1: {}", LeaveReason::Kicked),
    ];
    expected.extend(END_4010.map(str::to_owned));
    assert_eq!(step(&mut call, at(3), Input::Conference(left)), expected);
}

#[test]
fn conference_hangup_fires_the_exit_callback_once() {
    let (mut call, _) =
        call_with(r#"<Response><Conference callbackUrl="https://app.example/conf">r</Conference></Response>"#);
    let joined = RoomEvent::Joined {
        call: CallId::from("c1".to_owned()),
        room: Arc::from("r"),
        uuid: "u".into(),
        member_id: crate::engine::MemberId(1),
        started: true,
        first: true,
        muted: false,
        held: false,
    };
    step(&mut call, at(1), Input::Conference(joined));
    let outs = step(&mut call, at(2), Input::Hangup { source: crate::engine::HangupSource::Caller });
    assert_eq!(outs[0], "leave CallHungUp");
    assert!(outs[1].starts_with("Callback(ConferenceExit)"), "{outs:?}");
    // Alone, the call cannot know whether the room is empty now: the engine sets it.
    assert!(outs[1].contains("Event=ConferenceExit") && outs[1].ends_with("ConferenceLastMember=false"), "{outs:?}");
    assert_eq!(outs.iter().filter(|l| l.contains("Callback(ConferenceExit)")).count(), 1);
    assert!(call.is_ended());
}

// ---------------------------------------------------------------------- sounds

#[test]
fn speak_wait_dtmf_play_run_in_order() {
    let (mut call, outs) = call_with(
        r#"<Response><Speak>Hi</Speak><Wait length="5" silence="true"/><DTMF>12</DTMF><Play>https://app.example/a.mp3</Play></Response>"#,
    );
    assert_eq!(outs, ["loaded 4", "> Speak", "Answer", "speak MediaId(2) Hi"]);
    assert_eq!(step(&mut call, at(1), Input::MediaFinished(MediaId(2))), ["< Speak: done", "> Wait"]);
    assert_eq!(call.poll_timeout(), Some(at(6)));
    // A beep does not end a <Wait> that listens for silence; silence does.
    assert!(step(&mut call, at(2), Input::MediaEvent(MediaEvent::Beep)).is_empty());
    assert_eq!(
        step(&mut call, at(2), Input::MediaEvent(MediaEvent::Silence)),
        [
            "< Wait: silence detected",
            "> DTMF",
            "SendDigits { media: MediaId(3), digits: \"12\", to: Caller }",
            "< DTMF: sent",
            "> Play",
            "play MediaId(4)",
        ]
    );
    let mut expected = vec!["< Play: done".to_owned()];
    expected.extend(END_4010.map(str::to_owned));
    assert_eq!(step(&mut call, at(3), Input::MediaFinished(MediaId(4))), expected);
}

#[test]
fn wait_ends_on_its_timer() {
    let (mut call, outs) = call_with(r#"<Response><Wait length="3"/></Response>"#);
    assert_eq!(outs, ["loaded 1", "> Wait"]);
    assert!(tick(&mut call, at(2)).is_empty());
    let mut expected = vec!["< Wait: done".to_owned()];
    expected.extend(END_4010.map(str::to_owned));
    assert_eq!(tick(&mut call, at(3)), expected);
}

// ---------------------------------------------------------------------- timers

#[test]
fn scheduled_hangup_outlives_the_verb_that_set_it() {
    let (mut call, outs) = call_with(r#"<Response><Hangup schedule="5"/><Wait length="60"/></Response>"#);
    assert_eq!(outs, ["loaded 2", "> Hangup", "< Hangup: scheduled in 5 s", "> Wait"]);
    assert_eq!(call.poll_timeout(), Some(at(5)));
    assert_eq!(tick(&mut call, at(5)), ["hangup 4000", "ended 4000"]);
    assert_eq!(call.poll_timeout(), None);
}

#[test]
fn timers_table_fires_each_slot_once() {
    let mut t = Timers::default();
    assert_eq!(t.next(), None);
    t.set(Timer::ScheduledHangup, at(9));
    t.set(Timer::DialLimit, at(4));
    t.set(Timer::Verb, at(6));
    assert_eq!(t.next(), Some(at(4)));
    t.clear_verb();
    assert_eq!(t.next(), Some(at(9)));
    t.clear(Timer::ScheduledHangup);
    assert_eq!(t.next(), None);
    // Slots keep nanoseconds exactly; a deadline past 584 years is held there, not wrapped.
    t.set(Timer::Verb, Duration::new(7, 123_456_789));
    assert_eq!(t.next(), Some(Duration::new(7, 123_456_789)));
    t.set(Timer::Verb, Duration::MAX);
    assert_eq!(t.next(), Some(Duration::from_nanos(u64::MAX - 1)));
}

// ---------------------------------------------------------------------- the Call API

#[test]
fn call_api_sounds_play_over_the_verb_replace_each_other_and_stop() {
    use super::{CallLegs, CallOp, CallOpError};
    let (mut call, outs) = call_with(r#"<Response><Wait length="60"/></Response>"#);
    assert_eq!(outs, ["loaded 1", "> Wait"]);
    let doc = Arc::new(crate::xml::parse("<Response><Play>https://m.example/a.mp3</Play></Response>").document);
    let play = |looped| CallOp::Play { sounds: doc.clone(), legs: CallLegs::ALeg, looped };
    let op = |call: &mut Call, now, op| call.call_op(now, op).map(|_| lines(&drain(call)));
    assert_eq!(
        op(&mut call, at(1), play(true)),
        Ok(vec!["sounds MediaId(2) API play to Caller looped true".to_owned()])
    );
    // A second play replaces the first; the verb goes on beneath both.
    assert_eq!(
        op(&mut call, at(2), play(true)),
        Ok(vec!["StopMedia(MediaId(2))".to_owned(), "sounds MediaId(3) API play to Caller looped true".to_owned()])
    );
    assert_eq!(call.current_verb(), Some("Wait"));
    assert_eq!(op(&mut call, at(3), CallOp::StopPlay), Ok(vec!["StopMedia(MediaId(3))".to_owned()]));
    assert_eq!(op(&mut call, at(3), CallOp::StopPlay), Err(CallOpError::NotPlaying(CallId::from("c1"))));
    // A play that finished by itself is not stopped.
    op(&mut call, at(4), play(false)).expect("play");
    assert!(step(&mut call, at(5), Input::MediaFinished(MediaId(4))).is_empty(), "the Wait does not end");
    assert_eq!(op(&mut call, at(5), CallOp::StopPlay), Err(CallOpError::NotPlaying(CallId::from("c1"))));
    assert_eq!(op(&mut call, at(5), CallOp::StopSpeak), Err(CallOpError::NotSpeaking(CallId::from("c1"))));
    // No B leg outside a bridged <Dial>; `both` is then the call alone.
    let b = CallOp::Play { sounds: doc.clone(), legs: CallLegs::BLeg, looped: false };
    assert_eq!(op(&mut call, at(5), b), Err(CallOpError::NoBLeg(CallId::from("c1"))));
    let digits = CallOp::SendDigits { digits: "1".into(), b_leg: true };
    assert_eq!(op(&mut call, at(5), digits), Err(CallOpError::NoBLeg(CallId::from("c1"))));
    let both = CallOp::Play { sounds: doc.clone(), legs: CallLegs::Both, looped: true };
    assert_eq!(op(&mut call, at(5), both), Ok(vec!["sounds MediaId(5) API play to Caller looped true".to_owned()]));
    let digits = CallOp::SendDigits { digits: "12".into(), b_leg: false };
    assert_eq!(
        op(&mut call, at(6), digits),
        Ok(vec!["SendDigits { media: MediaId(6), digits: \"12\", to: Caller }".to_owned()])
    );
    // The call's end stops what the API left playing.
    let end = step(&mut call, at(7), Input::Hangup { source: crate::engine::HangupSource::Caller });
    assert!(end.contains(&"StopMedia(MediaId(5))".to_owned()), "{end:?}");
    assert_eq!(op(&mut call, at(8), play(false)), Err(CallOpError::NotLive(CallId::from("c1"))));
}

#[test]
fn call_api_recordings_stop_at_their_limit_or_when_asked_and_call_back() {
    use super::{CallOp, CallOpError};
    use crate::xml::values::{FileFormat, FromXml, Method, Url};
    let (mut call, _) = call_with(r#"<Response><Wait length="60"/></Response>"#);
    let cb = Some((Url::from_xml("https://app.example/rec").expect("url"), Method::Post));
    let start = |limit| CallOp::StartRecording {
        format: FileFormat::Wav,
        time_limit: at(limit),
        callback: cb.clone(),
        transcription: None,
    };
    let rec = call.call_op(at(1), start(5)).expect("start").expect("a recording");
    assert!(rec.url.ends_with(&format!("{}.wav", rec.id)), "{rec:?}");
    assert_eq!(lines(&drain(&mut call)), ["record MediaId(2) Api max Some(5s) silence None"]);
    assert_eq!(call.poll_timeout(), Some(at(6)), "the time limit comes before the Wait's end");
    assert_eq!(tick(&mut call, at(6)), ["StopRecording(MediaId(2))"]);
    assert_eq!(
        call.call_op(at(7), CallOp::StopRecording { url: None }),
        Err(CallOpError::NotRecording(CallId::from("c1")))
    );
    let file = step(&mut call, at(7), Input::RecordingFinished { media: MediaId(2), duration_ms: 5000 });
    assert_eq!(file.len(), 1, "{file:?}");
    assert!(file[0].starts_with("Callback(Recording) Post https://app.example/rec Ignore "), "{file:?}");
    assert!(file[0].contains(&format!("RecordUrl={}", rec.url)), "{file:?}");
    assert!(file[0].contains(&format!("RecordingID={}", rec.id)) && file[0].contains("RecordingDurationMs=5000"));
    // Stopped by the API, by its URL; another URL is refused.
    let rec = call.call_op(at(8), start(600)).expect("start").expect("a recording");
    drain(&mut call);
    let other = CallOp::StopRecording { url: Some("https://elsewhere/x.wav".into()) };
    assert!(matches!(call.call_op(at(9), other), Err(CallOpError::NotRecordingTo { .. })));
    assert_eq!(call.call_op(at(9), CallOp::StopRecording { url: Some(rec.url.clone()) }), Ok(None));
    assert_eq!(lines(&drain(&mut call)), ["StopRecording(MediaId(4))"]);
    // The call's end does not stop it twice; its file still calls back after the end.
    let end = step(&mut call, at(10), Input::Hangup { source: crate::engine::HangupSource::Caller });
    assert!(!end.iter().any(|l| l.starts_with("StopRecording")), "{end:?}");
    let file = step(&mut call, at(11), Input::RecordingFinished { media: MediaId(4), duration_ms: 1000 });
    assert!(file.iter().any(|l| l.starts_with("Callback(Recording)")), "{file:?}");
}

#[test]
fn the_network_ends_an_unanswered_call_quietly_and_hangs_up_an_answered_one() {
    use crate::engine::{HangupCause, HangupSource};
    let outbound = || {
        let setup = CallSetup::outbound("c1", "+15550001", "+15550002", super::Webhook::post(ANSWER_URL))
            .with_hangup(super::Webhook::post("https://app.example/hangup"));
        let mut call = Call::new(setup, CallConfig::default(), Duration::ZERO);
        call.start(Duration::ZERO);
        drain(&mut call);
        call
    };
    let hangup_cause = |outs: &[Output]| {
        outs.iter().find_map(|o| match o {
            Output::Request(r) if r.url.ends_with("/hangup") => r.param("HangupCauseCode").map(str::to_owned),
            _ => None,
        })
    };
    let mut call = outbound();
    call.handle_input(at(5), Input::End { cause: HangupCause::Busy, source: HangupSource::Callee });
    let outs = drain(&mut call);
    assert!(call.is_ended());
    assert_eq!(hangup_cause(&outs).as_deref(), Some("3010"));
    assert!(!outs.iter().any(|o| matches!(o, Output::Command(Command::Hangup { .. }))), "{outs:?}");
    assert!(!outs.iter().any(|o| matches!(o, Output::Request(r) if r.url == ANSWER_URL)), "never answered");

    let mut call = outbound();
    call.handle_input(at(1), Input::Answered);
    drain(&mut call);
    call.handle_input(at(9), Input::End { cause: HangupCause::TimeLimit, source: HangupSource::Plivo });
    let outs = drain(&mut call);
    assert_eq!(hangup_cause(&outs).as_deref(), Some("9030"));
    assert!(outs.iter().any(|o| matches!(o, Output::Command(Command::Hangup { .. }))), "{outs:?}");
    // A late network end of an ended call changes nothing.
    call.handle_input(at(10), Input::End { cause: HangupCause::Busy, source: HangupSource::Callee });
    assert!(drain(&mut call).is_empty());
}

// ---------------------------------------------------------------------- memory

#[test]
fn a_call_keeps_its_output_queue_only_while_it_waits_on_media() {
    // Waiting on a media completion (the step loop): the drained queue keeps its capacity, so
    // the next step allocates nothing.
    let (mut call, outs) = call_with("<Response><Speak>Hello</Speak><Wait length=\"60\"/></Response>");
    assert!(outs.iter().any(|l| l.starts_with("speak")), "{outs:?}");
    assert!(call.out.capacity() > 0);
    // Waiting on anything else (here a 60 s <Wait>; a room, a dial, the app): the drained
    // queue's memory goes back.
    let speak = outs.iter().find_map(|l| l.strip_prefix("speak MediaId(")?.split(')').next()?.parse().ok());
    let outs = step(&mut call, at(1), Input::MediaFinished(MediaId(speak.unwrap_or(0))));
    assert_eq!(outs, ["< Speak: done", "> Wait"]);
    assert_eq!(call.out.capacity(), 0);
}

#[test]
fn digits_kept_for_digits_match_are_bounded_by_the_longest_pattern() {
    use super::dial::KeyTail;
    use crate::xml::values::{DigitPatterns, FromXml};
    let patterns = DigitPatterns::from_xml("123,*9").ok();
    let mut keys = KeyTail::default();
    // Ten thousand keys that never match keep at most three (the longest pattern).
    for _ in 0..10_000 {
        assert_eq!(keys.press('5', patterns.as_ref()), None);
    }
    assert_eq!(keys.kept(), "555");
    // A match is still found at the end of the noise, and the keys start over.
    assert_eq!(keys.press('1', patterns.as_ref()), None);
    assert_eq!(keys.press('2', patterns.as_ref()), None);
    assert_eq!(keys.press('3', patterns.as_ref()).as_deref(), Some("123"));
    assert_eq!(keys.kept(), "");
    assert_eq!(keys.press('*', patterns.as_ref()), None);
    assert_eq!(keys.press('9', patterns.as_ref()).as_deref(), Some("*9"));
    // Without patterns nothing is kept.
    let mut keys = KeyTail::default();
    for _ in 0..100 {
        assert_eq!(keys.press('7', None), None);
    }
    assert_eq!(keys.kept(), "");
    assert!(!keys.allocated(), "no buffer without patterns");
}
