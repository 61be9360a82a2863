//! `<Stream>` ends: `streamTimeout`, the far end closing, and the call ending (issue 10 item 8).

use std::time::Duration;

use plivo_flow::sim::Simulation;

const ANSWER: &str = "https://app.example/answer";

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn transcript(xml: &str, script: impl FnOnce(&mut Simulation)) -> String {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, xml);
    sim.start_call("alice", ANSWER);
    script(&mut sim);
    sim.run();
    sim.transcript_text()
}

#[test]
fn keep_call_alive_stream_stops_at_its_timeout_and_the_next_element_runs() {
    let text = transcript(
        r#"<Response><Stream keepCallAlive="true" streamTimeout="10" statusCallbackUrl="https://app.example/st">wss://ws.example/a</Stream><Speak>after</Speak></Response>"#,
        |_| {},
    );
    assert_eq!(
        text,
        "\
00:00.000 alice  inbound call started
00:00.000 alice  POST https://app.example/answer (answer)
00:00.000 alice  got document (2 verbs)
00:00.000 alice  answered
00:00.000 alice  streaming inbound audio to wss://ws.example/a
00:00.000 alice  POST https://app.example/st (stream callback) Event=StartStream
00:10.000 alice  stream stopped
00:10.000 alice  POST https://app.example/st (stream callback) Event=StopStream
00:10.000 alice  <Stream> stream timed out
00:10.000 alice  spoke \"after\" (WOMAN, en-US)
00:11.000 alice  hung up: 4010 End Of XML Instructions (Plivo)
"
    );
}

#[test]
fn the_far_end_closing_first_ends_the_stream_once_and_the_timeout_never_fires() {
    let text = transcript(
        r#"<Response><Stream keepCallAlive="true" streamTimeout="10" statusCallbackUrl="https://app.example/st">wss://ws.example/a</Stream><Wait length="20"/></Response>"#,
        |sim| {
            sim.at(s(4)).end_stream("alice");
        },
    );
    assert_eq!(
        text,
        "\
00:00.000 alice  inbound call started
00:00.000 alice  POST https://app.example/answer (answer)
00:00.000 alice  got document (2 verbs)
00:00.000 alice  answered
00:00.000 alice  streaming inbound audio to wss://ws.example/a
00:00.000 alice  POST https://app.example/st (stream callback) Event=StartStream
00:04.000 alice  stream ended
00:04.000 alice  POST https://app.example/st (stream callback) Event=StopStream
00:04.000 alice  <Stream> stream ended
00:24.000 alice  hung up: 4010 End Of XML Instructions (Plivo)
"
    );
}

#[test]
fn a_background_stream_stops_at_its_timeout_while_the_flow_goes_on() {
    let text = transcript(
        r#"<Response><Stream streamTimeout="5" statusCallbackUrl="https://app.example/st">wss://ws.example/a</Stream><Wait length="8"/></Response>"#,
        |_| {},
    );
    assert_eq!(
        text,
        "\
00:00.000 alice  inbound call started
00:00.000 alice  POST https://app.example/answer (answer)
00:00.000 alice  got document (2 verbs)
00:00.000 alice  answered
00:00.000 alice  streaming inbound audio to wss://ws.example/a
00:00.000 alice  POST https://app.example/st (stream callback) Event=StartStream
00:00.000 alice  <Stream> streaming in the background
00:05.000 alice  stream stopped
00:05.000 alice  POST https://app.example/st (stream callback) Event=StopStream
00:08.000 alice  hung up: 4010 End Of XML Instructions (Plivo)
"
    );
}

#[test]
fn a_stopped_stream_cannot_be_ended_again_by_the_script() {
    let text = transcript(
        r#"<Response><Stream streamTimeout="5" statusCallbackUrl="https://app.example/st">wss://ws.example/a</Stream><Wait length="8"/></Response>"#,
        |sim| {
            sim.at(s(6)).end_stream("alice");
        },
    );
    assert!(text.contains("00:06.000 alice  no stream is running"), "{text}");
    assert_eq!(text.matches("Event=StopStream").count(), 1, "{text}");
}

#[test]
fn a_kept_alive_stream_without_a_timeout_ends_after_a_day_not_never() {
    let text = transcript(r#"<Response><Stream keepCallAlive="true">wss://ws.example/a</Stream></Response>"#, |_| {});
    assert!(text.contains("24:00:00.000 alice  <Stream> stream timed out"), "{text}");
    assert!(text.contains("24:00:00.000 alice  hung up: 4010 End Of XML Instructions (Plivo)"), "{text}");
}

#[test]
fn a_huge_stream_timeout_is_capped_at_a_day() {
    let text = transcript(
        r#"<Response><Stream keepCallAlive="true" streamTimeout="999999999">wss://ws.example/a</Stream></Response>"#,
        |_| {},
    );
    assert!(text.contains("24:00:00.000 alice  hung up: 4010"), "{text}");
}
