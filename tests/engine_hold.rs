//! `<MultiPartyCall>` hold: a participant put on hold through the rooms operation
//! (`Conferences::set_hold`, Plivo MPC "Update participant state" with `hold`) hears its role's
//! hold music, looped, and is neither heard by the others nor hears them; unhold stops the
//! music. Driven through the simulation; whole transcripts where practical.

use std::time::Duration;

use plivo_flow::engine::{ConferenceError, MemberTarget, Purpose};
use plivo_flow::sim::{ACCOUNT, Simulation};

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

const AGENT: &str = "https://app.example/agent";
const CUSTOMER: &str = "https://app.example/customer";

/// An agent whose `<AgentHoldMusic>` child plays one looping file.
const AGENT_CHILD: &str = r#"<Response><MultiPartyCall role="agent" enterSound="none" exitSound="none">support<AgentHoldMusic><Play>https://cdn.example/agent-hold.mp3</Play><Speak>Still on hold</Speak></AgentHoldMusic></MultiPartyCall><Speak>Bye agent</Speak></Response>"#;

/// A customer whose hold music comes from `customerHoldMusicUrl`.
const CUSTOMER_URL: &str = r#"<Response><MultiPartyCall role="customer" stayAlone="true" enterSound="none" exitSound="none" customerHoldMusicUrl="https://app.example/customer-hold" customerHoldMusicMethod="POST" agentHoldMusicUrl="https://app.example/agent-hold">support</MultiPartyCall><Speak>Bye customer</Speak></Response>"#;

const CUSTOMER_HOLD_DOC: &str =
    r#"<Response><Play>https://cdn.example/customer-hold.mp3</Play><Hangup/><Wait length="3"/></Response>"#;

fn sim_with(agent: &str, customer: &str) -> Simulation {
    let mut sim = Simulation::new();
    sim.serve(AGENT, agent);
    sim.serve(CUSTOMER, customer);
    sim.serve("https://app.example/customer-hold", CUSTOMER_HOLD_DOC);
    sim.serve("https://app.example/agent-hold", "<Response><Speak>agent url music</Speak></Response>");
    sim.start_call("customer", CUSTOMER);
    sim.at(s(1)).start_call("agent", AGENT);
    sim
}

/// The transcript from the first line that contains `from` on (the start-up lines carry
/// random UUIDs and numbers that these tests do not care about).
fn tail(sim: &Simulation, from: &str) -> String {
    let text = sim.transcript_text();
    let start = text.find(from).unwrap_or_else(|| panic!("`{from}` not in:\n{text}"));
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    text[line_start..].to_owned()
}

fn count(sim: &Simulation, needle: &str) -> usize {
    sim.transcript_text().matches(needle).count()
}

#[test]
fn hold_plays_the_agents_child_hold_music_looped_and_unhold_stops_it() {
    let mut sim = sim_with(AGENT_CHILD, CUSTOMER_URL);
    sim.at(s(10)).hold("support", "2", true);
    sim.at(s(40)).hold("support", "2", false);
    sim.at(s(60)).hangup("agent");
    sim.at(s(61)).hangup("customer");
    sim.run();
    let want = "\
00:10.000 api  hold support member 2: held 2
00:10.000 agent  member 2 put on hold
00:10.000 agent  playing agentHoldMusic: https://cdn.example/agent-hold.mp3, \"Still on hold\" (looping)
00:40.000 api  unhold support member 2: unheld 2
00:40.000 agent  member 2 taken off hold
00:40.000 agent  stopped agentHoldMusic
01:00.000 agent  hangs up
01:00.000 agent  hung up: 4000 Normal Hangup (Caller)
01:00.000 agent  left room support as member 2: call hung up
01:01.000 customer  hangs up
01:01.000 customer  hung up: 4000 Normal Hangup (Caller)
01:01.000 customer  left room support as member 1: call hung up
01:01.000 room support  ended: the last member left
";
    assert_eq!(tail(&sim, "hold support member 2"), want);
    // The music is stopped exactly at unhold: no media of the agent runs on afterwards.
    let agent = sim.call_id("agent").unwrap().clone();
    assert!(sim.engine().call(&agent).unwrap().is_ended());
    assert_eq!(count(&sim, "playing agentHoldMusic"), 1);
}

#[test]
fn customer_role_plays_customer_hold_music_url_with_its_method() {
    let mut sim = sim_with(AGENT_CHILD, CUSTOMER_URL);
    sim.at(s(10)).hold("support", "1", true);
    sim.at(s(20)).hold("support", "1", false);
    sim.at(s(30)).hangup("agent");
    sim.at(s(31)).hangup("customer");
    sim.run();
    let want = "\
00:10.000 api  hold support member 1: held 1
00:10.000 customer  member 1 put on hold
00:10.000 customer  POST https://app.example/customer-hold (customerHoldMusicUrl)
00:10.000 customer  playing customerHoldMusic: https://cdn.example/customer-hold.mp3, 3 s of silence (looping)
00:20.000 api  unhold support member 1: unheld 1
00:20.000 customer  member 1 taken off hold
00:20.000 customer  stopped customerHoldMusic
";
    let got = tail(&sim, "hold support member 1");
    assert!(got.starts_with(want), "got:\n{got}");
    // The customer's role decides: the agent hold music URL is never fetched.
    assert!(!sim.transcript_text().contains("agent-hold"), "{}", sim.transcript_text());
    let fetched: Vec<_> = sim
        .requests()
        .iter()
        .filter(|(_, who, r)| who == "customer" && r.purpose == Purpose::Sound("customerHoldMusicUrl"))
        .collect();
    assert_eq!(fetched.len(), 1);
}

#[test]
fn the_child_element_wins_over_the_attribute() {
    let agent = r#"<Response><MultiPartyCall role="agent" enterSound="none" exitSound="none" agentHoldMusicUrl="https://app.example/agent-hold">support<AgentHoldMusic><Speak>child music</Speak></AgentHoldMusic></MultiPartyCall></Response>"#;
    let mut sim = sim_with(agent, CUSTOMER_URL);
    sim.at(s(10)).hold("support", "2", true);
    sim.at(s(20)).hangup("agent");
    sim.run();
    let text = sim.transcript_text();
    assert!(text.contains("00:10.000 agent  playing agentHoldMusic: \"child music\" (looping)\n"), "{text}");
    assert!(!text.contains("agentHoldMusicUrl"), "the attribute must not be fetched:\n{text}");
}

#[test]
fn an_empty_child_falls_back_to_the_attribute() {
    let agent = r#"<Response><MultiPartyCall role="agent" enterSound="none" exitSound="none" agentHoldMusicUrl="https://app.example/agent-hold">support<AgentHoldMusic></AgentHoldMusic></MultiPartyCall></Response>"#;
    let mut sim = sim_with(agent, CUSTOMER_URL);
    sim.at(s(10)).hold("support", "2", true);
    sim.at(s(20)).hangup("agent");
    sim.run();
    let text = sim.transcript_text();
    assert!(text.contains("00:10.000 agent  GET https://app.example/agent-hold (agentHoldMusicUrl)\n"), "{text}");
    assert!(text.contains("00:10.000 agent  playing agentHoldMusic: \"agent url music\" (looping)\n"), "{text}");
}

#[test]
fn a_supervisor_hears_the_agent_hold_music() {
    let sup = r#"<Response><MultiPartyCall role="supervisor" enterSound="none" exitSound="none" agentHoldMusicUrl="https://app.example/agent-hold" customerHoldMusicUrl="https://app.example/customer-hold">support</MultiPartyCall></Response>"#;
    let mut sim = sim_with(sup, CUSTOMER_URL);
    sim.at(s(10)).hold("support", "2", true);
    sim.at(s(20)).hangup("agent");
    sim.run();
    let text = sim.transcript_text();
    assert!(text.contains("00:10.000 agent  playing agentHoldMusic: \"agent url music\" (looping)\n"), "{text}");
    assert!(!text.contains("customerHoldMusic"), "{text}");
}

#[test]
fn without_hold_music_nothing_plays_but_the_participant_is_held() {
    let agent = r#"<Response><MultiPartyCall role="agent" enterSound="none" exitSound="none">support</MultiPartyCall></Response>"#;
    let mut sim = sim_with(agent, CUSTOMER_URL);
    sim.at(s(10)).hold("support", "2", true);
    sim.run_until(s(11));
    let snap = sim.engine().rooms().get_multi_party(s(11), ACCOUNT, "support").unwrap();
    assert!(snap.members.iter().any(|m| m.member_id == 2 && m.held));
    assert_eq!(count(&sim, "playing agentHoldMusic"), 0);
    assert_eq!(count(&sim, "HoldMusicUrl"), 0);
}

#[test]
fn hanging_up_while_held_stops_the_music_and_exits_once() {
    let agent = r#"<Response><MultiPartyCall role="agent" enterSound="none" exitSound="none" statusCallbackUrl="https://app.example/mpc-ev" onExitActionUrl="https://app.example/exit">support<AgentHoldMusic><Play>https://cdn.example/agent-hold.mp3</Play></AgentHoldMusic></MultiPartyCall></Response>"#;
    let mut sim = sim_with(agent, CUSTOMER_URL);
    sim.at(s(10)).hold("support", "2", true);
    sim.at(s(30)).hangup("agent");
    sim.run_until(s(31));
    let exits: Vec<_> = sim
        .requests()
        .iter()
        .filter(|(_, who, r)| who == "agent" && r.param("EventName") == Some("ParticipantExit"))
        .collect();
    assert_eq!(exits.len(), 1, "{}", sim.transcript_text());
    // The looping music stops with the call, before the exit callback.
    let got = tail(&sim, "00:30.000 agent  hangs up");
    let lines: Vec<&str> = got.lines().map(|l| l.split_once("  ").map_or(l, |(_, rest)| rest)).collect();
    assert_eq!(lines.first(), Some(&"hangs up"), "{got}");
    assert_eq!(lines.get(1), Some(&"stopped agentHoldMusic"), "{got}");
    assert!(lines.get(2).is_some_and(|l| l.contains("EventName=ParticipantExit")), "{got}");
    assert!(got.contains("agent  left room support as member 2: call hung up"), "{got}");
    assert_eq!(count(&sim, "stopped agentHoldMusic"), 1);
    // The room forgot the hold with the member.
    let snap = sim.engine().rooms().get_multi_party(sim.now(), ACCOUNT, "support").unwrap();
    assert_eq!(snap.members.iter().map(|m| m.member_id).collect::<Vec<_>>(), [1]);
}

#[test]
fn left_alone_while_held_stops_the_music_and_goes_on_with_one_exit() {
    let mut sim = sim_with(AGENT_CHILD, CUSTOMER_URL);
    sim.at(s(10)).hold("support", "2", true);
    sim.at(s(20)).hangup("customer");
    sim.run();
    // The customer left; the agent, held and alone (stayAlone=false), is torn down and goes
    // on to its next element: the hold music stops first.
    let got = tail(&sim, "left room support as member 2: left alone");
    assert!(got.contains("agent  <MultiPartyCall> left room support: left alone"), "{got}");
    assert!(got.contains("agent  spoke \"Bye agent\""), "{got}");
    let stop = got.find("agent  stopped agentHoldMusic").expect("hold music stopped");
    assert!(stop < got.find("<MultiPartyCall> left room").unwrap_or(0), "{got}");
    assert_eq!(count(&sim, "playing agentHoldMusic"), 1);
    assert_eq!(count(&sim, "agent  <MultiPartyCall> left room"), 1);
}

#[test]
fn hold_of_an_unknown_member_is_an_error_naming_the_id() {
    let mut sim = sim_with(AGENT_CHILD, CUSTOMER_URL);
    sim.run_until(s(5));
    let err = sim
        .engine_mut()
        .conference(s(5), |rooms| rooms.set_hold(ACCOUNT, "support", &MemberTarget::Ids(vec![2, 7]), true));
    assert_eq!(err, Err(ConferenceError::MembersNotFound { room: "support".to_owned(), ids: vec![7] }));
    assert!(err.unwrap_err().to_string().contains('7'));
    // Nothing changed: member 2 is not held.
    let snap = sim.engine().rooms().get_multi_party(s(5), ACCOUNT, "support").unwrap();
    assert!(snap.members.iter().all(|m| !m.held && !m.muted));
    // Through the simulation the error is a transcript line.
    sim.at(s(6)).hold("support", "9", true);
    sim.run_until(s(7));
    assert!(
        sim.transcript_text().contains("00:06.000 api  hold support member 9: error: member 9 not found"),
        "{}",
        sim.transcript_text()
    );
    assert_eq!(count(&sim, "put on hold"), 0);
}

#[test]
fn hold_of_an_unknown_mpc_or_a_conference_is_an_error() {
    let mut sim = Simulation::new();
    sim.serve(AGENT, r#"<Response><Conference>support</Conference></Response>"#);
    sim.start_call("agent", AGENT);
    sim.run_until(s(1));
    // A <Conference> of the same name is another name space: not an MPC.
    let err = sim.engine_mut().conference(s(1), |rooms| rooms.set_hold(ACCOUNT, "support", &MemberTarget::All, true));
    assert_eq!(err, Err(ConferenceError::MultiPartyCallNotFound { name: "support".to_owned() }));
}

#[test]
fn a_held_member_is_muted_and_deaf_for_the_others_and_unhold_restores_its_own_flags() {
    let mut sim = sim_with(AGENT_CHILD, CUSTOMER_URL);
    sim.run_until(s(5));
    let rooms = |sim: &Simulation, at| sim.engine().rooms().get_multi_party(s(at), ACCOUNT, "support").unwrap();
    let flags = |snap: &plivo_flow::engine::RoomSnapshot, id| {
        let m = snap.members.iter().find(|m| m.member_id == id).unwrap();
        (m.held, m.muted, m.deaf)
    };
    assert_eq!(flags(&rooms(&sim, 5), 2), (false, false, false));
    let held = sim.engine_mut().conference(s(5), |r| r.set_hold(ACCOUNT, "support", &"all".parse().unwrap(), true));
    assert_eq!(held, Ok(vec![1, 2]));
    assert_eq!(flags(&rooms(&sim, 5), 1), (true, true, true));
    assert_eq!(flags(&rooms(&sim, 5), 2), (true, true, true));
    let unheld =
        sim.engine_mut().conference(s(6), |r| r.set_hold(ACCOUNT, "support", &MemberTarget::Ids(vec![2]), false));
    assert_eq!(unheld, Ok(vec![2]));
    assert_eq!(flags(&rooms(&sim, 6), 2), (false, false, false));
    assert_eq!(flags(&rooms(&sim, 6), 1), (true, true, true));
    // Holding a held member again changes nothing and says nothing.
    let again =
        sim.engine_mut().conference(s(7), |r| r.set_hold(ACCOUNT, "support", &MemberTarget::Ids(vec![1]), true));
    assert_eq!(again, Ok(vec![1]));
    sim.run_until(s(8));
    assert_eq!(count(&sim, "member 1 put on hold"), 1);
    assert_eq!(count(&sim, "playing customerHoldMusic"), 1);
}

#[test]
fn joining_with_hold_true_starts_held_with_music_instead_of_wait_music() {
    let customer = r#"<Response><MultiPartyCall role="customer" hold="true" startMpcOnEnter="false" waitMusicUrl="https://app.example/wait" enterSound="none">support<CustomerHoldMusic><Speak>held from the start</Speak></CustomerHoldMusic></MultiPartyCall></Response>"#;
    let mut sim = Simulation::new();
    sim.serve(CUSTOMER, customer);
    sim.serve("https://app.example/wait", "<Response><Speak>wait music</Speak></Response>");
    sim.start_call("customer", CUSTOMER);
    sim.at(s(10)).hold("support", "1", false);
    sim.at(s(20)).hangup("customer");
    sim.run();
    let got = tail(&sim, "playing customerHoldMusic");
    let want = "\
00:00.000 customer  playing customerHoldMusic: \"held from the start\" (looping)
00:10.000 api  unhold support member 1: unheld 1
00:10.000 customer  member 1 taken off hold
00:10.000 customer  stopped customerHoldMusic
00:10.000 customer  GET https://app.example/wait (waitSound)
00:10.000 customer  playing waitSound: \"wait music\" (looping)
00:20.000 customer  hangs up
00:20.000 customer  hung up: 4000 Normal Hangup (Caller)
00:20.000 customer  left room support as member 1: call hung up
00:20.000 room support  ended: the last member left
";
    assert_eq!(got, want);
    assert_eq!(count(&sim, "waitSound"), 2, "wait music only after unhold:\n{}", sim.transcript_text());
}
