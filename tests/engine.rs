//! The call engine and conference rooms, driven through the deterministic simulation
//! (virtual time that jumps to the next happening; no sleeps, no sockets).
//!
//! Each test asserts an ordered sequence of transcript lines (commands, requests with their
//! parameters, room events, hangups), and, where it matters, the exact requests sent.

use std::collections::HashMap;
use std::time::Duration;

use plivo_flow::engine::{DialEvent, Input, Purpose, Reply};
use plivo_flow::sim::{DialDefault, RoomOp, Simulation};

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

fn two_in_my_conference() -> Simulation {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, KICK_XML);
    sim.start_call("alice", ANSWER);
    sim.at(s(1)).start_call("bob", ANSWER);
    sim
}

// ---------------------------------------------------------------------- the kick

#[test]
fn kicked_member_hears_the_goodbye_and_hangs_up_while_the_other_stays() {
    let mut sim = two_in_my_conference();
    sim.at(s(60)).kick("MyConference", "1");
    sim.run_until(s(3600));
    assert_in_order(
        &sim,
        &[
            "00:00.000 alice  answered",
            "00:00.000 alice  joined room MyConference as member 1 (first member)",
            "00:00.000 room MyConference  hears beep (enterSound of alice)",
            "00:01.000 bob  joined room MyConference as member 2",
            "00:01.000 room MyConference  hears beep (enterSound of bob)",
            "01:00.000 api  kick MyConference member 1: kicked 1",
            "01:00.000 alice  left room MyConference as member 1: kicked",
            "01:00.000 alice  <Conference> left room MyConference: kicked",
            "01:00.000 alice  spoke \"Good bye. You have been kicked out of the conference\" (WOMAN, en-US)",
            "01:03.120 alice  hung up: 4010 End Of XML Instructions (Plivo)",
        ],
    );
    // Bob is still in the room, and the room still exists.
    assert_absent(&sim, "bob  left room");
    assert_absent(&sim, "bob  hung up");
    let room = sim.engine().rooms().get(s(3600), plivo_flow::sim::ACCOUNT, "MyConference").expect("room lives");
    assert_eq!(room.members.len(), 1);
    assert_eq!(room.members[0].member_id, 2);
    assert_eq!(sim.engine().rooms().room_of(sim.call_id("alice").expect("alice")), None);
}

#[test]
fn kick_all_sends_every_member_to_the_next_element() {
    let mut sim = two_in_my_conference();
    sim.at(s(30)).kick("MyConference", "all");
    sim.run();
    assert_in_order(
        &sim,
        &[
            "00:30.000 api  kick MyConference member all: kicked 1,2",
            "00:30.000 alice  left room MyConference as member 1: kicked",
            "00:30.000 bob  left room MyConference as member 2: kicked",
            "00:30.000 room MyConference  ended: the last member left",
            "00:33.120 alice  hung up: 4010 End Of XML Instructions (Plivo)",
            "00:33.120 bob  hung up: 4010 End Of XML Instructions (Plivo)",
        ],
    );
    assert!(sim.engine().rooms().is_empty());
}

#[test]
fn kick_list_with_an_unknown_id_names_it_and_changes_nothing() {
    let mut sim = two_in_my_conference();
    sim.at(s(10)).kick("MyConference", "1,2,9");
    sim.at(s(20)).kick("NoSuchRoom", "1");
    sim.at(s(30)).kick("MyConference", "2,1");
    sim.run();
    assert_in_order(
        &sim,
        &[
            "00:10.000 api  kick MyConference member 1,2,9: error: member 9 not found in conference `MyConference`",
            "00:20.000 api  kick NoSuchRoom member 1: error: conference `NoSuchRoom` not found",
            "00:30.000 api  kick MyConference member 2,1: kicked 1,2",
        ],
    );
    // Nothing happened at 10 s.
    assert_absent(&sim, "00:10.000 alice  left");
    assert_absent(&sim, "00:10.000 bob  left");
}

#[test]
fn kick_with_action_and_redirect_true_replaces_the_document() {
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
    assert_absent(&sim, "never spoken");
    let exits = requests(&sim, "alice", Purpose::Callback("conference exit"));
    assert_eq!(exits.len(), 1);
    let action = requests(&sim, "alice", Purpose::Action("Conference"));
    assert_eq!(action.len(), 1);
    let a = action[0];
    assert_eq!(a.url, "https://app.example/after-conf");
    assert_eq!(a.method.to_string(), "GET");
    assert_eq!(a.reply, Reply::Execute);
    assert_eq!(a.param("ConferenceName"), Some("Sales"));
    assert_eq!(a.param("ConferenceMemberID"), Some("1"));
    assert_eq!(a.param("ConferenceUUID"), exits[0].param("ConferenceUUID"));
    assert_eq!(a.param("CallUUID"), sim.call_id("alice").map(|c| c.as_str()));
    assert_in_order(
        &sim,
        &[
            "00:05.000 alice  left room Sales as member 1: kicked",
            "00:05.000 alice  <Conference> left room Sales: kicked",
            "00:05.000 alice  got document (1 verb)",
            "00:05.000 alice  spoke \"Back from the conference\" (WOMAN, en-US)",
            "00:06.440 alice  hung up: 4010 End Of XML Instructions (Plivo)",
        ],
    );
}

#[test]
fn kick_with_action_and_redirect_false_notifies_and_continues() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response><Conference action="https://app.example/after-conf" redirect="false">Sales</Conference><Speak>Next element</Speak></Response>"#,
    );
    sim.start_call("alice", ANSWER);
    sim.at(s(5)).kick("Sales", "1");
    sim.run();
    let action = requests(&sim, "alice", Purpose::Action("Conference"));
    assert_eq!(action.len(), 1);
    assert_eq!(action[0].reply, Reply::Ignore);
    assert_in_order(&sim, &["00:05.000 alice  spoke \"Next element\" (WOMAN, en-US)"]);
}

#[test]
fn the_same_call_can_join_a_second_conference_after_a_kick() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response>
  <Conference callbackUrl="https://app.example/ev">RoomA</Conference>
  <Conference callbackUrl="https://app.example/ev">RoomB</Conference>
  <Speak>done</Speak>
</Response>"#,
    );
    sim.start_call("alice", ANSWER);
    sim.at(s(5)).kick("RoomA", "1");
    sim.at(s(9)).kick("RoomB", "2");
    sim.run();
    assert_in_order(
        &sim,
        &[
            "00:00.000 alice  joined room RoomA as member 1 (first member)",
            "00:05.000 alice  left room RoomA as member 1: kicked",
            "00:05.000 alice  joined room RoomB as member 2 (first member)",
            "00:09.000 alice  left room RoomB as member 2: kicked",
            "00:09.000 alice  spoke \"done\" (WOMAN, en-US)",
        ],
    );
    let enters = requests(&sim, "alice", Purpose::Callback("conference enter"));
    let exits = requests(&sim, "alice", Purpose::Callback("conference exit"));
    assert_eq!(enters.len(), 2);
    assert_eq!(exits.len(), 2);
    assert_eq!(exits[0].param("ConferenceName"), Some("RoomA"));
    assert_eq!(exits[1].param("ConferenceName"), Some("RoomB"));
    assert_ne!(exits[0].param("ConferenceUUID"), exits[1].param("ConferenceUUID"));
}

// ---------------------------------------------------------------------- every way out of a room

/// Every member that got an enter callback gets exactly one exit callback (calls still in a
/// room at the end are left out).
#[track_caller]
fn assert_enter_exit_balanced(sim: &Simulation) {
    let mut balance: HashMap<(String, String), i32> = HashMap::new();
    for (_, who, r) in sim.requests() {
        let in_room = sim.call_id(who).is_some_and(|id| sim.engine().rooms().room_of(id).is_some());
        if in_room {
            continue;
        }
        let key = (who.clone(), r.param("ConferenceMemberID").unwrap_or("").to_owned());
        match r.purpose {
            Purpose::Callback("conference enter") => *balance.entry(key).or_default() += 1,
            Purpose::Callback("conference exit") => *balance.entry(key).or_default() -= 1,
            _ => {}
        }
    }
    assert!(!balance.is_empty(), "no conference callbacks at all");
    for (k, v) in balance {
        assert_eq!(v, 0, "{k:?}: enter/exit imbalance {v}\n{}", sim.transcript_text());
    }
}

const ROOM_WITH_CALLBACKS: &str = r#"<Response>
  <Conference callbackUrl="https://app.example/ev" hangupOnStar="true" digitsMatch="12,#9">Room</Conference>
  <Speak>after</Speak>
</Response>"#;

#[test]
fn hangup_on_star_leaves_the_room_and_continues() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, ROOM_WITH_CALLBACKS);
    sim.start_call("alice", ANSWER);
    sim.start_call("bob", ANSWER);
    sim.at(s(3)).digits("alice", "12");
    sim.at(s(4)).digits("alice", "*");
    sim.run_until(s(100));
    assert_in_order(
        &sim,
        &[
            "00:03.000 alice  pressed 12",
            "00:03.000 alice  POST https://app.example/ev (conference digits callback) ConferenceAction=digits ConferenceName=Room ConferenceUUID=975835de-56ce-4c97-bfc8-46100bfc1e42 ConferenceMemberID=1 ConferenceDigitsMatch=12",
            "00:04.000 alice  pressed *",
            "00:04.000 alice  left room Room as member 1: hangupOnStar",
            "00:04.000 alice  spoke \"after\" (WOMAN, en-US)",
        ],
    );
    assert_absent(&sim, "bob  left");
    assert_enter_exit_balanced(&sim);
}

#[test]
fn ending_the_room_removes_everyone_and_their_flows_continue() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, ROOM_WITH_CALLBACKS);
    sim.start_call("alice", ANSWER);
    sim.start_call("bob", ANSWER);
    sim.at(s(7)).end_room("Room");
    sim.run();
    assert_in_order(
        &sim,
        &[
            "00:07.000 api  end Room: ended",
            "00:07.000 alice  left room Room as member 1: room ended",
            "00:07.000 bob  left room Room as member 2: room ended",
            "00:07.000 room Room  ended: ended through the API",
            "00:07.000 alice  spoke \"after\" (WOMAN, en-US)",
            "00:07.000 bob  spoke \"after\" (WOMAN, en-US)",
        ],
    );
    assert_enter_exit_balanced(&sim);
}

#[test]
fn time_limit_closes_the_room_and_members_continue() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, r#"<Response><Conference timeLimit="600" callbackUrl="https://app.example/ev">Timed</Conference><Speak>time is up</Speak></Response>"#);
    sim.start_call("alice", ANSWER);
    sim.at(s(100)).start_call("bob", ANSWER);
    sim.run();
    assert_in_order(
        &sim,
        &[
            "10:00.000 alice  left room Timed as member 1: time limit",
            "10:00.000 bob  left room Timed as member 2: time limit",
            "10:00.000 room Timed  ended: time limit reached",
            "10:00.000 alice  spoke \"time is up\" (WOMAN, en-US)",
            "10:00.000 bob  spoke \"time is up\" (WOMAN, en-US)",
        ],
    );
    assert_enter_exit_balanced(&sim);
}

#[test]
fn end_conference_on_exit_removes_the_others() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, r#"<Response><Conference callbackUrl="https://app.example/ev">Room</Conference><Speak>after</Speak></Response>"#);
    sim.serve("https://app.example/host", r#"<Response><Conference endConferenceOnExit="true" callbackUrl="https://app.example/ev">Room</Conference></Response>"#);
    sim.start_call("host", "https://app.example/host");
    sim.start_call("alice", ANSWER);
    sim.start_call("bob", ANSWER);
    sim.at(s(20)).hangup("host");
    sim.run();
    assert_in_order(
        &sim,
        &[
            "00:20.000 host  hangs up",
            "00:20.000 host  hung up: 4000 Normal Hangup (Caller)",
            "00:20.000 host  left room Room as member 1: call hung up",
            "00:20.000 alice  left room Room as member 2: room ended",
            "00:20.000 bob  left room Room as member 3: room ended",
            "00:20.000 room Room  ended: a member with endConferenceOnExit left",
            "00:20.000 alice  spoke \"after\" (WOMAN, en-US)",
        ],
    );
    assert_enter_exit_balanced(&sim);
}

#[test]
fn stay_alone_false_tears_down_the_lone_member() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, r#"<Response><Conference stayAlone="false" callbackUrl="https://app.example/ev">Pair</Conference><Speak>alone now</Speak></Response>"#);
    sim.start_call("alice", ANSWER);
    sim.start_call("bob", ANSWER);
    sim.at(s(15)).kick("Pair", "2");
    sim.run();
    assert_in_order(
        &sim,
        &[
            "00:15.000 bob  left room Pair as member 2: kicked",
            "00:15.000 alice  left room Pair as member 1: left alone",
            "00:15.000 room Pair  ended: the last member would have been alone",
            "00:15.000 bob  spoke \"alone now\" (WOMAN, en-US)",
            "00:15.000 alice  spoke \"alone now\" (WOMAN, en-US)",
        ],
    );
    assert_enter_exit_balanced(&sim);
}

#[test]
fn caller_hangup_in_a_room_fires_exit_once_then_the_hangup_url_and_nothing_else() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response><Conference callbackUrl="https://app.example/ev" action="https://app.example/after">Room</Conference><Speak>never</Speak></Response>"#,
    );
    let mut setup = sim.setup("alice", ANSWER, plivo_flow::engine::Direction::Inbound);
    setup.hangup_url = Some("https://app.example/hangup".to_owned());
    sim.start_call_with(s(0), "alice", setup);
    sim.start_call("bob", ANSWER);
    sim.at(s(42)).hangup("alice");
    sim.run_until(s(100));
    let exits = requests(&sim, "alice", Purpose::Callback("conference exit"));
    assert_eq!(exits.len(), 1, "{}", sim.transcript_text());
    // No action for a dead call, nothing spoken.
    assert!(requests(&sim, "alice", Purpose::Action("Conference")).is_empty());
    assert_absent(&sim, "never");
    let hangup = requests(&sim, "alice", Purpose::Hangup);
    assert_eq!(hangup.len(), 1);
    let h = hangup[0];
    assert_eq!(h.param("HangupCauseCode"), Some("4000"));
    assert_eq!(h.param("HangupSource"), Some("Caller"));
    assert_eq!(h.param("CallStatus"), Some("completed"));
    assert_eq!(h.param("Duration"), Some("42"));
    // The exit callback goes out before the hangup notification.
    let order: Vec<Purpose> =
        sim.requests().iter().filter(|(_, w, _)| w == "alice").map(|(_, _, r)| r.purpose).collect();
    let exit_at = order.iter().position(|p| *p == Purpose::Callback("conference exit"));
    let hangup_at = order.iter().position(|p| *p == Purpose::Hangup);
    assert!(exit_at < hangup_at, "{order:?}");
    assert_absent(&sim, "bob  left");
    assert_enter_exit_balanced(&sim);
}

#[test]
fn member_hangup_ends_the_call_with_one_exit() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, ROOM_WITH_CALLBACKS);
    sim.start_call("alice", ANSWER);
    sim.start_call("bob", ANSWER);
    sim.at(s(9)).hangup_member("Room", "1");
    sim.run_until(s(100));
    assert_in_order(
        &sim,
        &[
            "00:09.000 api  hang up Room member 1: hung up 1",
            "00:09.000 alice  left room Room as member 1: member hung up",
            "00:09.000 alice  hung up: 4000 Normal Hangup (API Request)",
        ],
    );
    assert_absent(&sim, "alice  spoke \"after\"");
    assert_absent(&sim, "bob  left");
    assert_enter_exit_balanced(&sim);
}

#[test]
fn a_full_room_refuses_and_the_flow_continues_without_callbacks() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, r#"<Response><Conference maxMembers="2" callbackUrl="https://app.example/ev">Small</Conference><Speak>room is full</Speak></Response>"#);
    sim.start_call("a", ANSWER);
    sim.start_call("b", ANSWER);
    sim.start_call("c", ANSWER);
    sim.run_until(s(30));
    assert_in_order(
        &sim,
        &[
            "00:00.000 c  could not join room Small: full (2 members)",
            "00:00.000 c  <Conference> not joined: room Small is full (2 members)",
            "00:00.000 c  spoke \"room is full\" (WOMAN, en-US)",
        ],
    );
    assert!(requests(&sim, "c", Purpose::Callback("conference enter")).is_empty());
    assert!(requests(&sim, "c", Purpose::Callback("conference exit")).is_empty());
}

#[test]
fn waiting_members_hear_wait_sound_until_a_moderator_starts_the_room() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response><Conference startConferenceOnEnter="false" waitSound="https://app.example/hold">Class</Conference></Response>"#,
    );
    sim.serve("https://app.example/hold", r#"<Response><Play>https://cdn.example/hold.mp3</Play><Speak>Please wait</Speak><Redirect>https://x.example/ignored</Redirect></Response>"#);
    sim.serve("https://app.example/teacher", r#"<Response><Conference>Class</Conference></Response>"#);
    sim.start_call("student", ANSWER);
    sim.at(s(30)).start_call("teacher", "https://app.example/teacher");
    sim.run_until(s(60));
    assert_in_order(
        &sim,
        &[
            "00:00.000 student  joined room Class as member 1 (first member), waiting for the room to start",
            "00:00.000 student  POST https://app.example/hold (waitSound)",
            "00:00.000 student  playing waitSound: https://cdn.example/hold.mp3, \"Please wait\" (looping)",
            "00:30.000 teacher  joined room Class as member 2",
            "00:30.000 student  room Class started",
        ],
    );
    assert_absent(&sim, "ignored");
}

#[test]
fn enter_and_exit_balance_over_a_mixed_run() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response>
  <Conference callbackUrl="https://app.example/ev" hangupOnStar="true">Big</Conference>
  <Conference callbackUrl="https://app.example/ev" stayAlone="false">Big</Conference>
  <Conference callbackUrl="https://app.example/ev" timeLimit="120">Other</Conference>
</Response>"#,
    );
    for (i, name) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
        sim.at(s(i as u64)).start_call(name, ANSWER);
    }
    sim.at(s(10)).kick("Big", "1,3");
    sim.at(s(11)).digits("b", "*");
    sim.at(s(12)).hangup("d");
    sim.at(s(13)).hangup_member("Big", "5");
    sim.at(s(20)).end_room("Big");
    sim.at(s(25)).kick("Big", "all");
    sim.run();
    assert_enter_exit_balanced(&sim);
    assert!(sim.engine().rooms().is_empty());
    assert!(sim.engine().calls().all(|c| c.is_ended()));
}

// ---------------------------------------------------------------------- verbs

#[test]
fn speak_play_and_wait_run_in_order_and_the_end_hangs_up_4010() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response><Wait length="2"/><Speak loop="2" voice="MAN" language="en-GB">Hello there</Speak><Play loop="3">https://cdn.example/a.mp3</Play></Response>"#,
    );
    sim.start_call("alice", ANSWER);
    sim.run();
    assert_in_order(
        &sim,
        &[
            "00:00.000 alice  got document (3 verbs)",
            // <Wait> first: not answered during the wait.
            "00:02.000 alice  answered",
            "00:02.000 alice  spoke \"Hello there\" (MAN, en-GB, 2 times)",
            "00:04.000 alice  played https://cdn.example/a.mp3 (3 times)",
            "00:19.000 alice  hung up: 4010 End Of XML Instructions (Plivo)",
        ],
    );
}

#[test]
fn an_empty_document_hangs_up_at_once() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, "<Response/>");
    sim.start_call("alice", ANSWER);
    sim.run();
    assert_in_order(
        &sim,
        &["00:00.000 alice  got document (0 verbs)", "00:00.000 alice  hung up: 4010 End Of XML Instructions (Plivo)"],
    );
    assert_absent(&sim, "answered");
}

#[test]
fn dtmf_async_continues_at_once_and_sync_waits() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, r#"<Response><DTMF>12</DTMF><DTMF async="false">1w2</DTMF><Speak>x</Speak></Response>"#);
    sim.start_call("alice", ANSWER);
    sim.run();
    assert_in_order(
        &sim,
        &[
            "00:00.000 alice  sent tones 12",
            "00:00.000 alice  sent tones 1w2",
            "00:01.000 alice  spoke \"x\" (WOMAN, en-US)",
        ],
    );
}

#[test]
fn get_digits_submits_on_num_digits_with_barge_in() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response><GetDigits action="https://app.example/digits" numDigits="3"><Speak>Enter your three digit code now please</Speak></GetDigits></Response>"#,
    );
    sim.serve("https://app.example/digits", "<Response><Speak>thanks</Speak></Response>");
    sim.start_call("alice", ANSWER);
    sim.at(ms(500)).digits("alice", "12");
    sim.at(s(1)).digits("alice", "3");
    sim.run();
    assert_in_order(
        &sim,
        &[
            "00:00.000 alice  spoke \"Enter your three digit code now please\" (WOMAN, en-US)",
            "00:00.500 alice  pressed 12",
            "00:01.000 alice  pressed 3",
            "00:01.000 alice  <GetDigits> digits 123",
            "00:01.000 alice  POST https://app.example/digits (GetDigits action) Digits=123",
            "00:01.000 alice  spoke \"thanks\" (WOMAN, en-US)",
        ],
    );
}

#[test]
fn get_digits_finish_key_digit_timeout_and_redirect_false() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response>
  <GetDigits action="https://app.example/one" redirect="false" finishOnKey="*"/>
  <GetDigits action="https://app.example/two" method="GET" digitTimeout="3"/>
  <Speak>end</Speak>
</Response>"#,
    );
    sim.start_call("alice", ANSWER);
    sim.at(s(1)).digits("alice", "42*");
    sim.at(s(2)).digits("alice", "7");
    sim.run();
    let one = requests(&sim, "alice", Purpose::Action("GetDigits"));
    assert_eq!(one.len(), 2, "{}", sim.transcript_text());
    assert_eq!(one[0].param("Digits"), Some("42"));
    assert_eq!(one[0].reply, Reply::Ignore);
    assert_eq!(one[1].param("Digits"), Some("7"));
    assert_eq!(one[1].reply, Reply::Execute);
    // The second submits 3 s after its last digit; its URL serves nothing: 7012.
    assert_in_order(
        &sim,
        &[
            "00:01.000 alice  <GetDigits> digits 42",
            "00:05.000 alice  <GetDigits> digits 7",
            "00:05.000 alice  GET https://app.example/two (GetDigits action) Digits=7",
            "00:05.000 alice  fetch of https://app.example/two failed: no document is served at this URL",
            "00:05.000 alice  hung up: 7012 Error Reaching Action URL (Error)",
        ],
    );
}

#[test]
fn get_digits_invalid_key_plays_the_sound_and_retries_then_falls_through() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response>
  <GetDigits action="https://app.example/menu" validDigits="12" retries="2" timeout="3" invalidDigitsSound="https://cdn.example/invalid.mp3" playBeep="true">
    <Play>https://cdn.example/menu.mp3</Play>
  </GetDigits>
  <Speak>No valid choice</Speak>
</Response>"#,
    );
    sim.start_call("alice", ANSWER);
    sim.at(s(6)).digits("alice", "9");
    sim.run();
    assert_in_order(
        &sim,
        &[
            "00:00.000 alice  played https://cdn.example/menu.mp3",
            "00:05.000 alice  beep",
            "00:06.000 alice  pressed 9",
            "00:06.000 alice  playing invalidDigitsSound: https://cdn.example/invalid.mp3",
            // Attempt 2 after the sound; then no input.
            "00:11.000 alice  played https://cdn.example/menu.mp3",
            "00:16.000 alice  beep",
            "00:19.500 alice  <GetDigits> no input",
            "00:19.500 alice  spoke \"No valid choice\" (WOMAN, en-US)",
        ],
    );
    assert!(requests(&sim, "alice", Purpose::Action("GetDigits")).is_empty());
}

#[test]
fn get_input_speech_posts_the_transcript() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response><GetInput action="https://app.example/speech" inputType="speech" interimSpeechResultsCallback="https://app.example/interim"><Speak>How can I help?</Speak></GetInput></Response>"#,
    );
    sim.serve("https://app.example/speech", "<Response><Hangup/></Response>");
    sim.start_call("alice", ANSWER);
    sim.at(s(2))
        .send("alice", Input::SpeechPartial { stable: "billing".into(), unstable: " quest".into(), stability: 0.5 });
    sim.at(s(3)).speech("alice", "billing question", 0.92);
    sim.run();
    let interim = requests(&sim, "alice", Purpose::Callback("interim speech"));
    assert_eq!(interim.len(), 1);
    assert_eq!(interim[0].param("StableSpeech"), Some("billing"));
    let act = requests(&sim, "alice", Purpose::Action("GetInput"));
    assert_eq!(act.len(), 1);
    assert_eq!(act[0].param("InputType"), Some("speech"));
    assert_eq!(act[0].param("Speech"), Some("billing question"));
    assert_eq!(act[0].param("SpeechConfidenceScore"), Some("0.92"));
    assert_in_order(
        &sim,
        &[
            "00:00.000 alice  listening for speech (en-US)",
            "00:03.000 alice  said \"billing question\"",
            "00:03.000 alice  <GetInput> speech \"billing question\"",
            "00:03.000 alice  hung up: 4000 Normal Hangup (Answer XML)",
        ],
    );
}

#[test]
fn get_input_without_input_falls_through_without_a_request() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, r#"<Response><GetInput action="https://app.example/x" inputType="dtmf speech" executionTimeout="5"/><Speak>fallthrough</Speak></Response>"#);
    sim.start_call("alice", ANSWER);
    sim.run();
    assert_in_order(
        &sim,
        &["00:05.000 alice  <GetInput> no input", "00:05.000 alice  spoke \"fallthrough\" (WOMAN, en-US)"],
    );
    assert!(requests(&sim, "alice", Purpose::Action("GetInput")).is_empty());
}

#[test]
fn record_foreground_until_silence_posts_the_recording() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, r#"<Response><Record action="https://app.example/rec" redirect="false" timeout="4" playBeep="false"/><Speak>saved</Speak></Response>"#);
    sim.start_call("alice", ANSWER);
    sim.run();
    let act = requests(&sim, "alice", Purpose::Action("Record"));
    assert_eq!(act.len(), 1, "{}", sim.transcript_text());
    let a = act[0];
    // The caller talks 5 s, then 4 s of silence end it.
    assert_eq!(a.param("RecordingDurationMs"), Some("5000"));
    assert_eq!(a.param("RecordingDuration"), Some("5"));
    assert_eq!(a.param("RecordingStartMs"), Some("0"));
    assert_eq!(a.param("Digits"), Some(""));
    assert!(a.param("RecordUrl").is_some_and(|u| u.ends_with(".mp3")));
    assert_in_order(
        &sim,
        &["00:09.000 alice  <Record> recorded 5000 ms", "00:09.000 alice  spoke \"saved\" (WOMAN, en-US)"],
    );
}

#[test]
fn record_max_length_stops_the_recording() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, r#"<Response><Record maxLength="3" playBeep="false" action="https://app.example/r" redirect="false"/></Response>"#);
    sim.start_call("alice", ANSWER);
    sim.run();
    let act = requests(&sim, "alice", Purpose::Action("Record"));
    assert_eq!(act.len(), 1);
    assert_eq!(act[0].param("RecordingDurationMs"), Some("3000"));
}

#[test]
fn record_session_fires_the_action_at_once_with_minus_one_and_the_callback_at_the_end() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response><Record recordSession="true" action="https://app.example/rec" redirect="false" callbackUrl="https://app.example/rec-ready"/><Speak>this call is recorded</Speak></Response>"#,
    );
    sim.start_call("alice", ANSWER);
    sim.run();
    let act = requests(&sim, "alice", Purpose::Action("Record"));
    assert_eq!(act.len(), 1);
    assert_eq!(act[0].param("RecordingDuration"), Some("-1"));
    assert_eq!(act[0].param("RecordingDurationMs"), Some("-1"));
    let ready = requests(&sim, "alice", Purpose::Callback("recording"));
    assert_eq!(ready.len(), 1, "{}", sim.transcript_text());
    assert_eq!(ready[0].param("RecordingID"), act[0].param("RecordingID"));
    assert_eq!(ready[0].param("RecordingDurationMs"), Some("1260"));
    assert_in_order(
        &sim,
        &[
            "00:00.000 alice  <Record> recording the session",
            "00:00.000 alice  spoke \"this call is recorded\" (WOMAN, en-US)",
            "00:01.260 alice  hung up: 4010 End Of XML Instructions (Plivo)",
        ],
    );
}

#[test]
fn dial_answered_then_callee_hangs_up_posts_completed() {
    let mut sim = Simulation::new();
    sim.set_dial_default(DialDefault::Scripted);
    sim.serve(
        ANSWER,
        r#"<Response>
  <Record startOnDialAnswer="true" redirect="false" callbackUrl="https://app.example/rec"/>
  <Dial action="https://app.example/dialed" callbackUrl="https://app.example/dial-ev" digitsMatch="99"><Number>14155550100</Number><User>sip:bob@phone.example.com</User></Dial>
</Response>"#,
    );
    sim.serve("https://app.example/dialed", "<Response><Speak>call over</Speak></Response>");
    sim.start_call("alice", ANSWER);
    sim.at(s(4)).dial("alice", DialEvent::Ringing);
    sim.at(s(6)).dial("alice", DialEvent::Answered { b_leg: "b-leg-1".into(), to: "14155550100".into() });
    sim.at(s(10)).digits("alice", "99");
    sim.at(s(66)).dial("alice", DialEvent::CalleeHangup);
    sim.run();
    let ev = requests(&sim, "alice", Purpose::Callback("dial"));
    let actions: Vec<&str> = ev.iter().filter_map(|r| r.param("DialAction")).collect();
    assert_eq!(actions, ["answer", "digits", "hangup"]);
    assert_eq!(ev[1].param("DialDigitsMatch"), Some("99"));
    assert_eq!(ev[1].param("DialDigitsPressedBy"), Some("ALeg"));
    assert_eq!(ev[2].param("DialBLegDuration"), Some("60"));
    let act = requests(&sim, "alice", Purpose::Action("Dial"));
    assert_eq!(act.len(), 1);
    assert_eq!(act[0].param("DialStatus"), Some("completed"));
    assert_eq!(act[0].param("DialRingStatus"), Some("true"));
    assert_eq!(act[0].param("DialBLegUUID"), Some("b-leg-1"));
    assert_in_order(
        &sim,
        &[
            "00:00.000 alice  <Record> armed for the next answered Dial",
            "00:00.000 alice  dialing 14155550100, sip:bob@phone.example.com",
            "00:06.000 alice  14155550100 answered",
            "01:06.000 alice  dialed party hangs up",
            "01:06.000 alice  <Dial> completed (callee hung up)",
            "01:06.000 alice  spoke \"call over\" (WOMAN, en-US)",
        ],
    );
    // The bridge recording started on answer and its file is announced after the call.
    assert!(sim.transcript_text().contains("00:06.000 alice  recording (mp3, bridged call)"));
    assert_eq!(requests(&sim, "alice", Purpose::Callback("recording")).len(), 1);
}

#[test]
fn dial_outcomes_busy_timeout_time_limit_and_confirm_key() {
    let mut sim = Simulation::new();
    sim.set_dial_default(DialDefault::Scripted);
    sim.serve(
        ANSWER,
        r#"<Response>
  <Dial action="https://app.example/d" redirect="false"><Number>1</Number></Dial>
  <Dial action="https://app.example/d" redirect="false" timeout="20"><Number>2</Number></Dial>
  <Dial action="https://app.example/d" redirect="false" timeLimit="30" confirmKey="5"><Number>3</Number></Dial>
</Response>"#,
    );
    sim.start_call("alice", ANSWER);
    sim.at(s(1)).dial("alice", DialEvent::Busy);
    // The second dial times out at 1 + 20 s.
    sim.at(s(30)).dial("alice", DialEvent::Answered { b_leg: "b3".into(), to: "3".into() });
    sim.at(s(32)).dial("alice", DialEvent::CalleeDigits("5".into()));
    sim.run();
    let statuses: Vec<&str> =
        requests(&sim, "alice", Purpose::Action("Dial")).iter().filter_map(|r| r.param("DialStatus")).collect();
    assert_eq!(statuses, ["busy", "no-answer", "completed"]);
    assert_in_order(
        &sim,
        &[
            "00:01.000 alice  <Dial> busy",
            "00:21.000 alice  dial canceled",
            "00:21.000 alice  <Dial> no-answer",
            "01:02.000 alice  hung up the dialed party",
            "01:02.000 alice  <Dial> completed (time limit)",
            "01:02.000 alice  hung up: 4010 End Of XML Instructions (Plivo)",
        ],
    );
}

#[test]
fn redirect_replaces_the_document_and_a_loop_is_capped() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response><Redirect method="GET">https://app.example/next</Redirect><Speak>never</Speak></Response>"#,
    );
    sim.serve("https://app.example/next", "<Response><Speak>next</Speak></Response>");
    sim.start_call("alice", ANSWER);
    sim.serve("https://app.example/loop", "<Response><Redirect>https://app.example/loop</Redirect></Response>");
    sim.start_call("looper", "https://app.example/loop");
    sim.run();
    assert_absent(&sim, "never");
    assert_in_order(
        &sim,
        &["00:00.000 alice  GET https://app.example/next (redirect)", "00:00.000 alice  spoke \"next\" (WOMAN, en-US)"],
    );
    assert_in_order(&sim, &["00:00.000 looper  hung up: 9010 Redirect Limit Reached (Plivo)"]);
    assert_eq!(requests(&sim, "looper", Purpose::Redirect).len(), 1000);
}

#[test]
fn hangup_reasons_and_schedule() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, r#"<Response><Hangup reason="busy"/></Response>"#);
    sim.serve(
        "https://app.example/sched",
        r#"<Response><Hangup schedule="10"/><Play loop="0">https://cdn.example/music.mp3</Play></Response>"#,
    );
    sim.start_call("busy", ANSWER);
    sim.start_call("sched", "https://app.example/sched");
    sim.run();
    assert_in_order(&sim, &["00:00.000 busy  hung up: 3010 Busy Line (Answer XML)"]);
    assert_absent(&sim, "busy  answered");
    assert_in_order(
        &sim,
        &[
            "00:00.000 sched  <Hangup> scheduled in 10 s",
            "00:00.000 sched  played https://cdn.example/music.mp3 (looping)",
            "00:10.000 sched  hung up: 4000 Normal Hangup (Answer XML)",
        ],
    );
}

#[test]
fn pre_answer_runs_children_before_answering() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, r#"<Response><PreAnswer><Speak>Early</Speak><Wait length="1"/></PreAnswer><Speak>Answered now</Speak></Response>"#);
    sim.start_call("alice", ANSWER);
    sim.run();
    assert_in_order(
        &sim,
        &[
            "00:00.000 alice  early media (pre-answer)",
            "00:00.000 alice  spoke \"Early\" (WOMAN, en-US)",
            "00:02.000 alice  answered",
            "00:02.000 alice  spoke \"Answered now\" (WOMAN, en-US)",
        ],
    );
    let text = sim.transcript_text();
    assert!(text.find("answered\n").unwrap_or(0) > text.find("Early").unwrap_or(usize::MAX), "{text}");
}

#[test]
fn message_and_stream_do_not_block() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response>
  <Message src="+15550001" dst="+15550002">Your code is 1234</Message>
  <Stream statusCallbackUrl="https://app.example/stream">wss://stream.example/a</Stream>
  <Stream keepCallAlive="true">wss://stream.example/b</Stream>
  <Speak>after the stream</Speak>
</Response>"#,
    );
    sim.start_call("alice", ANSWER);
    sim.run_until(s(10));
    assert_in_order(
        &sim,
        &[
            "00:00.000 alice  sent SMS to +15550002: \"Your code is 1234\"",
            "00:00.000 alice  streaming inbound audio to wss://stream.example/a",
            "00:00.000 alice  streaming inbound audio to wss://stream.example/b",
        ],
    );
    // keepCallAlive holds the call until the stream ends.
    assert_absent(&sim, "after the stream");
    assert_eq!(requests(&sim, "alice", Purpose::Callback("stream")).len(), 1);
}

#[test]
fn multiparty_call_leaves_to_on_exit_action_url() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response><MultiPartyCall role="customer" onExitActionUrl="https://app.example/mpc-exit" statusCallbackUrl="https://app.example/mpc-ev">support-1</MultiPartyCall><Speak>not reached</Speak></Response>"#,
    );
    sim.serve(
        "https://app.example/agent",
        r#"<Response><MultiPartyCall role="agent" endMpcOnExit="true">support-1</MultiPartyCall></Response>"#,
    );
    sim.serve("https://app.example/mpc-exit", "<Response><Speak>Thanks for calling</Speak></Response>");
    sim.start_call("customer", ANSWER);
    sim.at(s(2)).start_call("agent", "https://app.example/agent");
    sim.at(s(50)).hangup("agent");
    sim.run();
    let exit = requests(&sim, "customer", Purpose::Action("MultiPartyCall"));
    assert_eq!(exit.len(), 1);
    assert_eq!(exit[0].param("MPCFriendlyName"), Some("support-1"));
    assert_eq!(exit[0].param("ParticipantRole"), Some("customer"));
    assert_eq!(exit[0].param("ParticipantJoinTime"), Some("0"));
    assert_eq!(exit[0].param("ParticipantEndTime"), Some("50000"));
    let events: Vec<&str> = requests(&sim, "customer", Purpose::Callback("mpc status"))
        .iter()
        .filter_map(|r| r.param("EventName"))
        .collect();
    assert_eq!(events, ["ParticipantJoin", "ParticipantExit"]);
    assert_absent(&sim, "not reached");
    assert_in_order(
        &sim,
        &[
            "00:50.000 customer  left room support-1 as member 1: room ended",
            "00:50.000 customer  spoke \"Thanks for calling\" (WOMAN, en-US)",
        ],
    );
}

// ---------------------------------------------------------------------- errors and the end

#[test]
fn answer_url_failure_uses_the_fallback_then_hangs_up_7011() {
    let mut sim = Simulation::new();
    sim.serve_failure(ANSWER, "connection refused");
    sim.serve("https://app.example/fallback", "<Response><Speak>fallback</Speak></Response>");
    let mut setup = sim.setup("alice", ANSWER, plivo_flow::engine::Direction::Inbound);
    setup.fallback_url = Some("https://app.example/fallback".to_owned());
    sim.start_call_with(s(0), "alice", setup);
    sim.start_call("bob", ANSWER);
    sim.run();
    assert_in_order(
        &sim,
        &[
            "00:00.000 alice  fetch of https://app.example/answer failed: connection refused",
            "00:00.000 alice  POST https://app.example/fallback (fallback)",
            "00:00.000 alice  spoke \"fallback\" (WOMAN, en-US)",
        ],
    );
    assert_in_order(&sim, &["00:00.000 bob  hung up: 7011 Error Reaching Answer URL (Error)"]);
}

#[test]
fn invalid_documents_end_the_call_with_the_matching_cause() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, "<Response><Reject/></Response>");
    sim.serve("https://app.example/a", r#"<Response><GetDigits action="https://app.example/bad-action"/></Response>"#);
    sim.serve("https://app.example/bad-action", "OK");
    sim.serve("https://app.example/r", "<Response><Redirect>https://app.example/bad-redirect</Redirect></Response>");
    sim.serve("https://app.example/bad-redirect", "<Response><Speak>unclosed</Response>");
    sim.start_call("answer", ANSWER);
    sim.start_call("action", "https://app.example/a");
    sim.start_call("redirect", "https://app.example/r");
    sim.at(s(1)).digits("action", "1#");
    sim.run();
    assert_in_order(
        &sim,
        &[
            "00:00.000 answer  invalid document from https://app.example/answer: 1 error",
            "00:00.000 answer  hung up: 8011 Invalid Answer XML (Error)",
        ],
    );
    assert_in_order(&sim, &["00:01.000 action  hung up: 8012 Invalid Action XML (Error)"]);
    assert_in_order(&sim, &["00:00.000 redirect  hung up: 8014 Invalid Redirect XML (Error)"]);
    assert!(
        sim.diagnostics().iter().any(|d| d.contains("error[E0204]: unknown element <Reject>")),
        "{:?}",
        sim.diagnostics()
    );
}

#[test]
fn nothing_is_fetched_after_the_caller_hangs_up() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, r#"<Response><GetDigits action="https://app.example/x"><Play>https://cdn.example/long.mp3</Play></GetDigits></Response>"#);
    sim.start_call("alice", ANSWER);
    sim.at(s(1)).hangup("alice");
    sim.at(s(2)).digits("alice", "1#");
    sim.run();
    let after: Vec<_> = sim.requests().iter().filter(|(t, _, _)| *t > s(1)).collect();
    assert!(after.is_empty(), "{after:?}");
    assert_in_order(&sim, &["00:01.000 alice  hung up: 4000 Normal Hangup (Caller)"]);
}

#[test]
fn mute_deaf_play_and_speak_reach_the_targeted_members() {
    let mut sim = two_in_my_conference();
    sim.at(s(5)).mute("MyConference", "2", true);
    sim.at(s(6)).deaf("MyConference", "all", true);
    sim.at(s(7)).play("MyConference", "1", "https://cdn.example/notice.mp3");
    sim.at(s(8)).speak("MyConference", "all", "The meeting ends in five minutes");
    sim.at(s(9)).room_op(RoomOp::StartRecording {
        room: "MyConference".into(),
        spec: plivo_flow::engine::RecordSpec { format: plivo_flow::xml::values::FileFormat::Mp3, callback: None },
    });
    sim.at(s(19)).room_op(RoomOp::StopRecording { room: "MyConference".into() });
    sim.run_until(s(60));
    assert_in_order(
        &sim,
        &[
            "00:05.000 api  mute MyConference member 2: muted 2",
            "00:05.000 bob  member 2 muted",
            "00:06.000 api  deaf MyConference member all: deafened 1,2",
            "00:06.000 alice  member 1 deafened",
            "00:06.000 bob  member 2 deafened",
            "00:07.000 room MyConference  play https://cdn.example/notice.mp3 to members 1",
            "00:08.000 room MyConference  speak \"The meeting ends in five minutes\" to members 1,2",
        ],
    );
    let text = sim.transcript_text();
    assert!(text.contains("00:19.000 room MyConference  recording finished:") && text.contains("(10 s)"), "{text}");
    let room = sim.engine().rooms().get(s(60), plivo_flow::sim::ACCOUNT, "MyConference").expect("room");
    assert!(room.members.iter().all(|m| m.deaf));
    assert!(!room.members[0].muted && room.members[1].muted);
}

#[test]
fn floor_event_and_recorded_room_report_to_callback_and_action() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response><Conference floorEvent="true" record="true" recordFileFormat="wav" callbackUrl="https://app.example/ev" action="https://app.example/after" redirect="false">Rec</Conference></Response>"#,
    );
    sim.start_call("alice", ANSWER);
    sim.at(s(40)).kick("Rec", "1");
    sim.run();
    let floor = requests(&sim, "alice", Purpose::Callback("conference floor"));
    assert_eq!(floor.len(), 1, "{}", sim.transcript_text());
    assert_eq!(floor[0].param("ConferenceAction"), Some("floor"));
    let action = requests(&sim, "alice", Purpose::Action("Conference"));
    assert_eq!(action.len(), 1);
    let url = action[0].param("RecordUrl").expect("RecordUrl on the action");
    assert!(url.ends_with(".wav"), "{url}");
    assert!(action[0].param("RecordingID").is_some_and(|id| url.contains(id)));
    // The room's recording ends with the room and is reported to the callbackUrl.
    let record: Vec<_> =
        sim.requests().iter().filter(|(_, _, r)| r.purpose == Purpose::Callback("conference record")).collect();
    assert_eq!(record.len(), 1);
    let r = &record[0].2;
    assert_eq!(r.url, "https://app.example/ev");
    assert_eq!(r.param("ConferenceAction"), Some("record"));
    assert_eq!(r.param("RecordUrl"), Some(url));
    assert_eq!(r.param("RecordingDurationMs"), Some("40000"));
}

#[test]
fn enter_and_exit_sound_urls_are_fetched_and_played_to_the_room() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response><Conference enterSound="https://app.example/in" exitSound="beep:2">Snd</Conference></Response>"#,
    );
    sim.serve("https://app.example/in", "<Response><Speak>A caller joined</Speak></Response>");
    sim.start_call("alice", ANSWER);
    sim.start_call("bob", ANSWER);
    sim.at(s(5)).kick("Snd", "1");
    sim.run_until(s(30));
    assert_in_order(
        &sim,
        &[
            "00:00.000 alice  POST https://app.example/in (enterSound)",
            "00:00.000 room Snd  hears \"A caller joined\" (enterSound of alice)",
            "00:05.000 room Snd  hears beep ×2 (exitSound of alice)",
        ],
    );
}

#[test]
fn wait_ends_early_on_silence_only_when_asked() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, r#"<Response><Wait length="30" silence="true" minSilence="500"/><Wait length="10"/><Speak>x</Speak></Response>"#);
    sim.start_call("alice", ANSWER);
    sim.at(s(3)).send("alice", Input::MediaEvent(plivo_flow::engine::MediaEvent::Silence));
    sim.at(s(5)).send("alice", Input::MediaEvent(plivo_flow::engine::MediaEvent::Silence));
    sim.run();
    assert_in_order(
        &sim,
        &[
            "00:03.000 alice  <Wait> silence detected",
            "00:13.000 alice  answered",
            "00:13.000 alice  spoke \"x\" (WOMAN, en-US)",
        ],
    );
}

#[test]
fn transfer_out_of_a_room_fires_exit_once_and_runs_the_new_document() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, ROOM_WITH_CALLBACKS);
    sim.serve("https://app.example/transfer", "<Response><Speak>transferred</Speak></Response>");
    sim.start_call("alice", ANSWER);
    sim.start_call("bob", ANSWER);
    sim.at(s(8)).send(
        "alice",
        Input::Transfer { url: "https://app.example/transfer".into(), method: plivo_flow::xml::values::Method::Post },
    );
    sim.run_until(s(60));
    assert_in_order(
        &sim,
        &[
            "00:08.000 alice  transferred to https://app.example/transfer",
            "00:08.000 alice  POST https://app.example/transfer (transfer)",
            "00:08.000 alice  left room Room as member 1: transferred",
            "00:08.000 alice  spoke \"transferred\" (WOMAN, en-US)",
        ],
    );
    assert_eq!(requests(&sim, "alice", Purpose::Callback("conference exit")).len(), 1);
    assert_absent(&sim, "alice  spoke \"after\"");
}

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

// ---------------------------------------------------------------------- long-lived simulations (issue 16)

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
    let mut sim = Simulation::new();
    sim.set_external_fetch(true);
    let setup = CallSetup::inbound("c-1", "+1555", "+1666", ANSWER);
    let id = sim.start_call_now("alice", setup.clone()).expect("first start");
    let before = sim.transcript_text();
    let outbox = sim.take_outbox();
    assert_eq!(outbox.len(), 1, "the answer fetch");
    assert_eq!(sim.start_call_now("mallory", setup), Err(EngineError::DuplicateCall(id.clone())));
    assert_eq!(sim.transcript_text(), before, "no line for the refused start");
    assert!(sim.take_outbox().is_empty());
    assert_eq!(sim.call_id("alice"), Some(&id));
    assert_eq!(sim.call_id("mallory"), None);
    // The live call keeps its name.
    sim.input_now(&id, Input::Hangup { source: plivo_flow::engine::HangupSource::Caller }).expect("live");
    assert!(sim.transcript_text().contains("alice  hung up: 4000 Normal Hangup (Caller)"), "{}", sim.transcript_text());
}

#[test]
fn live_mode_keeps_no_diagnostics_beyond_the_transcript_lines() {
    use plivo_flow::engine::{CallSetup, FetchReply};
    let mut sim = Simulation::new();
    sim.set_external_fetch(true);
    let mut lines_with_diagnostics = 0;
    for i in 0..50 {
        let id = sim
            .start_call_now(&format!("c{i}"), CallSetup::inbound(format!("c-{i}"), "+1555", "+1666", ANSWER))
            .expect("start");
        for (_, req) in sim.take_outbox() {
            sim.deliver(&id, req.id, FetchReply::Body("<Response><Reject/></Response>".to_owned()));
        }
        sim.advance_to(ms(i * 10));
        for line in sim.take_transcript() {
            if line.kind == "invalid-document" {
                assert!(line.diagnostics.iter().any(|d| d.contains("unknown element <Reject>")), "{line:?}");
                lines_with_diagnostics += 1;
            }
        }
        sim.forget_ended_calls();
    }
    assert_eq!(lines_with_diagnostics, 50, "each invalid document is reported once, on its line");
    assert!(sim.diagnostics().is_empty(), "retained: {}", sim.diagnostics().len());
}

// ---------------------------------------------------------------------- transcription (issue 10 item 9)

#[test]
fn record_with_transcription_url_posts_plivo_s_transcription_parameters() {
    let mut sim = Simulation::new();
    sim.set_transcription_text("Please call me back");
    sim.serve(
        ANSWER,
        r#"<Response><Record transcriptionType="auto" transcriptionUrl="https://app.example/tr" callbackUrl="https://app.example/file" playBeep="false" timeout="2"/></Response>"#,
    );
    sim.start_call("alice", ANSWER);
    sim.run();
    let file = requests(&sim, "alice", Purpose::Callback("recording"));
    assert_eq!(file.len(), 1, "{}", sim.transcript_text());
    let tr = requests(&sim, "alice", Purpose::Callback("transcription"));
    assert_eq!(tr.len(), 1, "{}", sim.transcript_text());
    let t = tr[0];
    assert_eq!(t.url, "https://app.example/tr");
    assert_eq!(t.method, plivo_flow::xml::values::Method::Post);
    assert_eq!(t.reply, Reply::Ignore);
    assert_eq!(t.param("transcription"), Some("Please call me back"));
    assert_eq!(t.param("duration"), Some("5"), "the caller talks 5 s");
    assert_eq!(t.param("call_uuid"), sim.call_id("alice").map(|c| c.as_str()));
    assert_eq!(t.param("recording_id"), file[0].param("RecordingID"));
    assert_eq!(t.param("transcription_charge"), Some("0.00000"));
    assert_eq!(t.param("transcription_rate"), Some("0.00000"));
    assert_eq!(t.param("error"), None);
    // It follows the file, before the call moves on.
    let text = sim.transcript_text();
    let file_at = text.find("(recording callback)").expect("file line");
    let tr_at = text.find("(transcription callback)").expect("transcription line");
    let hangup_at = text.find("hung up: 4010").expect("hangup");
    assert!(file_at < tr_at && tr_at < hangup_at, "{text}");
}

#[test]
fn a_session_recording_is_transcribed_when_its_file_is_ready_even_after_the_hangup() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response><Record recordSession="true" redirect="false" transcriptionType="auto" transcriptionUrl="https://app.example/tr" transcriptionMethod="GET"/><Wait length="30"/></Response>"#,
    );
    sim.start_call("alice", ANSWER);
    sim.at(s(12)).hangup("alice");
    sim.run();
    let tr = requests(&sim, "alice", Purpose::Callback("transcription"));
    assert_eq!(tr.len(), 1, "{}", sim.transcript_text());
    assert_eq!(tr[0].method, plivo_flow::xml::values::Method::Get);
    assert_eq!(tr[0].param("transcription"), Some(plivo_flow::engine::DEFAULT_TRANSCRIPTION));
    assert_eq!(tr[0].param("duration"), Some("12"));
}

#[test]
fn a_recording_over_four_hours_is_not_transcribed_and_says_why() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response><Record recordSession="true" redirect="false" transcriptionUrl="https://app.example/tr"/><Wait length="20000"/></Response>"#,
    );
    sim.start_call("alice", ANSWER);
    sim.run();
    let tr = requests(&sim, "alice", Purpose::Callback("transcription"));
    assert_eq!(tr.len(), 1, "{}", sim.transcript_text());
    assert_eq!(tr[0].param("transcription"), Some(""));
    assert_eq!(tr[0].param("error"), Some("Recording duration too long for transcription"));
}

#[test]
fn without_a_transcription_url_nothing_is_sent() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, r#"<Response><Record transcriptionType="auto" playBeep="false" timeout="1"/></Response>"#);
    sim.start_call("alice", ANSWER);
    sim.run();
    assert!(requests(&sim, "alice", Purpose::Callback("transcription")).is_empty());
}

#[test]
fn words_with_newlines_are_one_transcript_line() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, r#"<Response><Wait length="3"/></Response>"#);
    sim.start_call("alice", ANSWER);
    sim.at(s(1)).speech("alice", "yes\n  please", 0.9);
    sim.run();
    assert_in_order(&sim, &["00:01.000 alice  said \"yes please\""]);
    assert_eq!(sim.transcript_text().lines().count(), sim.transcript().len());
}
