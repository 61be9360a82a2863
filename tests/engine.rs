//! The call engine driven through the deterministic simulation (virtual time that jumps to the
//! next happening; no sleeps, no sockets): what a transcript does not show.
//!
//! The engine's behaviour as transcripts lives in `tests/scenarios/engine/` (run by
//! `tests/engine_scenarios.rs`): one scenario per flow, compared whole with its `.expected`. The
//! tests here check what those transcripts cannot: the standard request parameters they leave
//! out, the [`Call`](plivo_flow::engine::Call) API on its own, stack depth, step limits, refused
//! starts and what a [`Runtime`](plivo_flow::runtime::Runtime) retains.

use std::time::Duration;

use plivo_flow::engine::{Callback, Input, Purpose, Reply};
use plivo_flow::sim::Simulation;

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Asserts that `expected` lines occur in the transcript in this order (other lines may be
/// interleaved). Each expected line must equal a whole transcript line.
#[track_caller]
fn assert_in_order(sim: &Simulation, expected: &[&str]) {
    let text = sim.transcript_text();
    let lines: Vec<&str> = text.lines().collect();
    let mut at = 0;
    for want in expected {
        match lines[at..].iter().position(|l| l == want) {
            Some(i) => at += i + 1,
            None => {
                let found = lines.iter().any(|l| l == want);
                panic!(
                    "expected line {}:\n  {want}\n{}\ntranscript:\n{text}",
                    if found { "out of order" } else { "missing" },
                    if found { "(it occurs earlier than the line before it)" } else { "" }
                );
            }
        }
    }
}

#[track_caller]
fn assert_absent(sim: &Simulation, needle: &str) {
    let text = sim.transcript_text();
    assert!(!text.contains(needle), "unexpected `{needle}` in:\n{text}");
}

/// Requests of one purpose for one call.
fn requests<'a>(sim: &'a Simulation, call: &str, purpose: Purpose) -> Vec<&'a plivo_flow::engine::HttpRequest> {
    sim.requests().iter().filter(|(_, who, r)| who == call && r.purpose == purpose).map(|(_, _, r)| r).collect()
}

const ANSWER: &str = "https://app.example/answer";

const KICK_XML: &str = r#"<Response>
  <Conference enterSound="beep:1">MyConference</Conference>
  <Speak>Good bye. You have been kicked out of the conference</Speak>
</Response>"#;

// ---------------------------------------------------------------------- what request lines leave out

// Transcript request lines omit the standard parameters (CallUUID, CallStatus, ...); these pin
// them for flows whose transcripts are scenarios.

/// Scenario `kick_with_action_and_redirect_true_replaces_the_document`.
#[test]
fn a_conference_action_carries_the_call_s_uuid() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response>
  <Conference callbackUrl="https://app.example/conf-events" action="https://app.example/after-conf" method="GET">Sales</Conference>
  <Speak>This is never spoken</Speak>
</Response>"#,
    );
    sim.serve("https://app.example/after-conf", "<Response><Speak>Back from the conference</Speak></Response>");
    sim.start_call("alice", ANSWER);
    sim.at(s(5)).kick("Sales", "1");
    sim.run();
    let action = requests(&sim, "alice", Purpose::Action("Conference"));
    assert_eq!(action.len(), 1, "{}", sim.transcript_text());
    assert_eq!(action[0].reply, Reply::Execute);
    assert_eq!(action[0].param("CallUUID"), sim.call_id("alice").map(|c| c.as_str()));
}

/// Scenario `caller_hangup_in_a_room_fires_exit_once_then_the_hangup_url_and_nothing_else`.
#[test]
fn the_hangup_notification_says_completed() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response><Conference callbackUrl="https://app.example/ev" action="https://app.example/after">Room</Conference><Speak>never</Speak></Response>"#,
    );
    let mut setup = sim.setup("alice", ANSWER, plivo_flow::engine::Direction::Inbound);
    setup.hangup = Some(plivo_flow::engine::Webhook::post("https://app.example/hangup"));
    sim.start_call_with(s(0), "alice", setup);
    sim.at(s(42)).hangup("alice");
    sim.run();
    let hangup = requests(&sim, "alice", Purpose::Hangup);
    assert_eq!(hangup.len(), 1, "{}", sim.transcript_text());
    assert_eq!(hangup[0].param("CallStatus"), Some("completed"));
    assert_eq!(hangup[0].param("CallUUID"), sim.call_id("alice").map(|c| c.as_str()));
}

/// Scenario `record_with_transcription_url_posts_plivo_s_transcription_parameters`.
#[test]
fn a_transcription_names_the_call_and_the_recording() {
    let mut sim = Simulation::new();
    sim.set_transcription_text("Please call me back");
    sim.serve(
        ANSWER,
        r#"<Response><Record transcriptionType="auto" transcriptionUrl="https://app.example/tr" callbackUrl="https://app.example/file" playBeep="false" timeout="2"/></Response>"#,
    );
    sim.start_call("alice", ANSWER);
    sim.run();
    let file = requests(&sim, "alice", Purpose::Callback(Callback::Recording));
    let tr = requests(&sim, "alice", Purpose::Callback(Callback::Transcription));
    assert_eq!((file.len(), tr.len()), (1, 1), "{}", sim.transcript_text());
    assert_eq!(tr[0].reply, Reply::Ignore);
    assert_eq!(tr[0].param("call_uuid"), sim.call_id("alice").map(|c| c.as_str()));
    assert_eq!(tr[0].param("recording_id"), file[0].param("RecordingID"));
}

// ---------------------------------------------------------------------- the Call API, depth, limits, live mode

#[test]
fn the_call_api_alone_drives_a_flow() {
    use plivo_flow::engine::{Call, CallConfig, CallSetup, Command, FetchReply, Output};
    let mut call = Call::new(
        CallSetup::inbound("c1", "+1555", "+1666", "https://a.example/answer"),
        CallConfig::default(),
        Duration::ZERO,
    );
    call.start(Duration::ZERO);
    let Some(Output::Request(answer)) = call.poll_output() else { panic!("answer request first") };
    assert_eq!(answer.param("CallStatus"), Some("ringing"));
    assert_eq!(answer.reply, Reply::Execute);
    call.handle_input(
        Duration::ZERO,
        Input::Fetched { request: answer.id, reply: FetchReply::Body(KICK_XML.to_owned()) },
    );
    let outs: Vec<Output> = std::iter::from_fn(|| call.poll_output()).collect();
    let join = outs.iter().find_map(|o| match o {
        Output::Command(Command::JoinConference { request, member }) => Some((request.clone(), member.clone())),
        _ => None,
    });
    let (req, member) = join.expect("join command");
    assert_eq!(req.room, "MyConference");
    assert!(req.start_on_enter && req.stay_alone && !req.end_on_exit && req.max_members == 20);
    assert_eq!(member.call.as_str(), "c1");
    assert_eq!(call.current_verb(), Some("Conference"));
    // A stale media completion is ignored.
    call.handle_input(Duration::from_secs(1), Input::MediaFinished(plivo_flow::engine::MediaId(999)));
    assert!(call.poll_output().is_none());
    assert_eq!(call.poll_timeout(), None);
}

/// `CallConfig::verb_events = false`: no per-verb trace, every other output the same.
#[test]
fn verb_events_can_be_switched_off_and_nothing_else_changes() {
    use plivo_flow::engine::{Call, CallConfig, CallSetup, Command, FetchReply, Output};
    let doc = r#"<Response><Speak>One</Speak><Wait length="2"/><Play>https://cdn.example/a.mp3</Play></Response>"#;
    let run = |verb_events: bool| -> Vec<String> {
        let config = CallConfig { verb_events, ..CallConfig::default() };
        let mut call = Call::new(CallSetup::inbound("c1", "+1555", "+1666", "https://a.example/answer"), config, s(0));
        call.start(s(0));
        let mut seen = Vec::new();
        let mut t = 0;
        let mut pending = None;
        loop {
            while let Some(out) = call.poll_output() {
                match &out {
                    Output::Request(r) if r.reply == Reply::Execute => pending = Some(r.id),
                    Output::Command(Command::Speak { media, .. } | Command::Play { media, .. }) => {
                        seen.push(format!("{out:?}"));
                        t += 1;
                        call.handle_input(s(t), Input::MediaFinished(*media));
                        continue;
                    }
                    _ => {}
                }
                seen.push(format!("{out:?}"));
            }
            if let Some(id) = pending.take() {
                call.handle_input(s(t), Input::Fetched { request: id, reply: FetchReply::Body(doc.to_owned()) });
            } else if let Some(at) = call.poll_timeout() {
                call.handle_timeout(at);
            } else {
                break;
            }
        }
        seen
    };
    let on = run(true);
    let off = run(false);
    let traced = |l: &String| l.contains("VerbStarted") || l.contains("VerbFinished");
    assert_eq!(on.iter().filter(|l| traced(l)).count(), 6, "{on:#?}");
    assert!(!off.iter().any(traced), "{off:#?}");
    assert_eq!(on.into_iter().filter(|l| !traced(l)).collect::<Vec<_>>(), off);
}

#[test]
fn thousands_of_instant_verbs_run_without_deep_recursion() {
    let mut body = String::from("<Response>");
    // 1,800 verbs: about 78 KB, under the 100 KB document limit.
    for i in 0..1800 {
        body.push_str(match i % 3 {
            0 => "<DTMF>1</DTMF>",
            1 => "<Message dst=\"+1555\">hi</Message>",
            _ => "<Record recordSession=\"true\" action=\"https://app.example/r\" redirect=\"false\"/>",
        });
    }
    body.push_str("</Response>");
    let mut sim = Simulation::new();
    sim.serve(ANSWER, &body);
    // Run on a small stack, as test threads and embedders may.
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            sim.start_call("alice", ANSWER);
            sim.run();
            sim.transcript_text()
        })
        .expect("spawn");
    let text = handle.join().expect("no stack overflow");
    assert_eq!(text.matches("sent tones 1").count(), 600);
    assert!(text.contains("alice  hung up: 4010 End Of XML Instructions"));
}

#[test]
fn the_step_limit_is_per_advance_so_a_long_lived_simulation_keeps_running() {
    let mut sim = Simulation::new();
    sim.set_step_limit(50);
    // Many idle advances, each taking a step: far more steps in total than the limit.
    for i in 1..=500 {
        sim.advance_to(ms(i));
    }
    sim.serve(ANSWER, r#"<Response><Wait length="2"/><Speak>still here</Speak></Response>"#);
    sim.start_call("alice", ANSWER);
    sim.advance_to(s(60));
    assert_in_order(
        &sim,
        &[
            "00:00.500 alice  inbound call started",
            "00:02.500 alice  spoke \"still here\" (WOMAN, en-US)",
            "00:03.500 alice  hung up: 4010 End Of XML Instructions (Plivo)",
        ],
    );
}

#[test]
fn the_step_limit_still_stops_one_runaway_advance() {
    let mut sim = Simulation::new();
    sim.set_step_limit(3);
    sim.serve(ANSWER, r#"<Response><Wait length="1"/><Wait length="1"/><Wait length="1"/><Wait length="1"/><Wait length="1"/><Wait length="1"/></Response>"#);
    sim.start_call("alice", ANSWER);
    sim.advance_to(s(60));
    assert_absent(&sim, "hung up");
    // The next advance has its own allowance and goes on from there.
    for _ in 0..10 {
        sim.advance_to(s(60));
    }
    assert_in_order(&sim, &["00:06.000 alice  hung up: 4010 End Of XML Instructions (Plivo)"]);
}

#[test]
fn a_duplicate_call_id_is_refused_and_changes_nothing() {
    use plivo_flow::engine::{CallSetup, EngineError};
    use plivo_flow::runtime::{Runtime, RuntimeConfig};
    let mut rt = Runtime::new(RuntimeConfig::default());
    let setup = CallSetup::inbound("c-1", "+1555", "+1666", ANSWER);
    let id = rt.start_call(ms(0), setup.clone()).expect("first start");
    rt.transcript_mut().set_name(&id, "alice");
    let before = rt.transcript().lines().to_vec();
    assert!(rt.poll_request().is_some(), "the answer fetch");
    assert!(rt.poll_request().is_none());
    assert_eq!(rt.start_call(ms(5), setup), Err(EngineError::DuplicateCall(id.clone())));
    assert_eq!(rt.transcript().lines(), before.as_slice(), "no line for the refused start");
    assert!(rt.poll_request().is_none(), "no request for the refused start");
    // The live call is untouched: it still hears its inputs under its own name.
    rt.handle_input(ms(10), &id, Input::Hangup { source: plivo_flow::engine::HangupSource::Caller }).expect("live");
    let last = rt.transcript().lines().last().expect("a line").to_string();
    assert_eq!(last, "00:00.010 alice  hung up: 4000 Normal Hangup (Caller)");
}

/// What `serve` runs keeps nothing per call once the lines are taken and the ended calls
/// forgotten: each invalid document's diagnostics are only on its own line.
#[test]
fn a_runtime_keeps_no_diagnostics_beyond_the_transcript_lines() {
    use plivo_flow::engine::{CallSetup, FetchReply};
    use plivo_flow::runtime::{LineKind, Runtime, RuntimeConfig};
    let mut rt = Runtime::new(RuntimeConfig::default());
    let mut lines_with_diagnostics = 0;
    for i in 0..50 {
        let now = ms(i * 10);
        rt.handle_timeout(now);
        let id = rt.start_call(now, CallSetup::inbound(format!("c-{i}"), "+1555", "+1666", ANSWER)).expect("start");
        while let Some((_, req)) = rt.poll_request() {
            rt.deliver(now, &id, req.id, FetchReply::Body("<Response><Reject/></Response>".to_owned()));
        }
        for line in rt.take_transcript() {
            if line.kind == LineKind::InvalidDocument {
                assert!(line.diagnostics.iter().any(|d| d.contains("unknown element <Reject>")), "{line:?}");
                lines_with_diagnostics += 1;
            }
        }
        rt.forget_ended_calls();
    }
    assert_eq!(lines_with_diagnostics, 50, "each invalid document is reported once, on its line");
    assert!(rt.transcript().lines().is_empty());
    assert_eq!(rt.engine().calls().count(), 0, "every call ended and was forgotten");
}
