//! Unit-testing a call flow with plivo-flow's `Simulation`: load XML, script events, assert on
//! the transcript and on the requests your application would receive.
//!
//! `cargo run --example test_a_flow` prints the transcript; `cargo test --example test_a_flow`
//! runs the tests below (CI runs them as part of `cargo test`).

use std::time::Duration;

use plivo_flow::sim::Simulation;

const MENU: &str = r#"<Response>
  <GetDigits action="https://app.example/route" numDigits="1" retries="2" timeout="5">
    <Speak>Press 1 for sales or 2 for support.</Speak>
  </GetDigits>
  <Speak>We did not get your choice. Goodbye.</Speak>
</Response>"#;

const SUPPORT: &str = r#"<Response>
  <Conference enterSound="beep:1" callbackUrl="https://app.example/conference-events">Support</Conference>
  <Speak>Thanks for calling support.</Speak>
</Response>"#;

/// The flow under test: a caller picks support, waits in the room, and is kicked.
fn simulate() -> Simulation {
    let mut sim = Simulation::new();
    sim.serve("https://app.example/answer", MENU);
    sim.serve("https://app.example/route", SUPPORT);
    sim.start_call("alice", "https://app.example/answer");
    sim.at(Duration::from_secs(2)).digits("alice", "2");
    sim.at(Duration::from_secs(90)).kick("Support", "all");
    sim.run();
    sim
}

fn main() {
    print!("{}", simulate().transcript_text());
}

#[test]
fn choosing_support_reaches_the_room_and_a_kick_plays_the_goodbye() {
    let sim = simulate();
    let text = sim.transcript_text();
    assert!(text.contains("alice  POST https://app.example/route (GetDigits action) Digits=2"), "{text}");
    assert!(text.contains("alice  joined room Support as member 1"), "{text}");
    assert!(text.contains("01:30.000 alice  left room Support as member 1: kicked"), "{text}");
    assert!(text.contains("alice  spoke \"Thanks for calling support.\""), "{text}");
    assert!(text.contains("alice  hung up: 4010 End Of XML Instructions"), "{text}");
}

#[test]
fn the_application_gets_one_enter_and_one_exit() {
    use plivo_flow::engine::{Callback, Purpose};
    let sim = simulate();
    let count = |p: Purpose| sim.requests().iter().filter(|(_, who, r)| who == "alice" && r.purpose == p).count();
    assert_eq!(count(Purpose::Callback(Callback::ConferenceEnter)), 1);
    assert_eq!(count(Purpose::Callback(Callback::ConferenceExit)), 1);
}
