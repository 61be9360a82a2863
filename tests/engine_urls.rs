//! Relative URLs at run time (resolved against the URL of the document that holds them, RFC
//! 3986 §5.2; Plivo's 70x2–70x4 causes where there is no base) and the fallback for an
//! invalid answer document. Each test pins the whole transcript.

use std::time::Duration;

use plivo_flow::engine::Direction;
use plivo_flow::sim::Simulation;

const ANSWER: &str = "https://app.example/ivr/answer.xml";

#[test]
fn relative_action_and_redirect_urls_resolve_against_the_document_url() {
    let mut sim = Simulation::new();
    sim.serve(
        ANSWER,
        r#"<Response><GetDigits action="menu.php?step=2" numDigits="1"><Speak>Press one</Speak></GetDigits></Response>"#,
    );
    // Resolved against .../ivr/answer.xml: a sibling path, then an absolute path.
    sim.serve("https://app.example/ivr/menu.php?step=2", "<Response><Redirect>/done/</Redirect></Response>");
    sim.serve("https://app.example/done/", "<Response><Speak>Bye</Speak></Response>");
    sim.start_call("alice", ANSWER);
    sim.at(Duration::from_secs(1)).digits("alice", "1");
    sim.run();
    assert_eq!(
        sim.transcript_text(),
        "00:00.000 alice  inbound call started
00:00.000 alice  POST https://app.example/ivr/answer.xml (answer)
00:00.000 alice  got document (1 verb)
00:00.000 alice  answered
00:00.000 alice  spoke \"Press one\" (WOMAN, en-US)
00:01.000 alice  pressed 1
00:01.000 alice  <GetDigits> digits 1
00:01.000 alice  POST https://app.example/ivr/menu.php?step=2 (GetDigits action) Digits=1
00:01.000 alice  got document (1 verb)
00:01.000 alice  <Redirect> to /done/
00:01.000 alice  POST https://app.example/done/ (redirect)
00:01.000 alice  got document (1 verb)
00:01.000 alice  spoke \"Bye\" (WOMAN, en-US)
00:02.000 alice  hung up: 4010 End Of XML Instructions (Plivo)
"
    );
}

#[test]
fn a_relative_action_with_no_http_base_ends_the_call_7022() {
    let mut sim = Simulation::new();
    // A document served at a file: URL gives relative references no http(s) base.
    sim.serve("file:menu.xml", r#"<Response><GetDigits action="next.php" numDigits="1"/></Response>"#);
    sim.start_call("alice", "file:menu.xml");
    sim.at(Duration::from_secs(1)).digits("alice", "5");
    sim.run();
    let text = sim.transcript_text();
    assert!(
        text.contains(
            "alice  fetch of next.php failed: a relative URL with no http(s) document URL to resolve it against"
        ),
        "{text}"
    );
    assert!(text.contains("alice  hung up: 7022 Invalid Action URL (Error)"), "{text}");
    assert!(!text.contains("POST next.php"), "nothing is requested: {text}");
}

#[test]
fn a_relative_redirect_with_no_http_base_ends_the_call_7024() {
    let mut sim = Simulation::new();
    sim.serve("file:r.xml", "<Response><Redirect>step2.xml</Redirect></Response>");
    sim.start_call("alice", "file:r.xml");
    sim.run();
    let text = sim.transcript_text();
    assert!(text.contains("alice  hung up: 7024 Invalid Redirect URL (Error)"), "{text}");
}

#[test]
fn relative_callback_urls_resolve_too() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, r#"<Response><Conference callbackUrl="../events" enterSound="">Room</Conference></Response>"#);
    sim.start_call("alice", ANSWER);
    sim.at(Duration::from_secs(5)).hangup("alice");
    sim.run();
    let requests: Vec<&str> = sim.requests().iter().map(|(_, _, r)| r.url.as_str()).collect();
    assert!(requests.contains(&"https://app.example/events"), "{requests:?}");
}

#[test]
fn an_invalid_answer_document_goes_to_the_fallback_url() {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, "<html><body>502 Bad Gateway</body></html>");
    sim.serve("https://app.example/fallback", "<Response><Speak>fallback</Speak></Response>");
    let mut setup = sim.setup("alice", ANSWER, Direction::Inbound);
    setup.fallback_url = Some("https://app.example/fallback".to_owned());
    sim.start_call_with(Duration::ZERO, "alice", setup);
    // Without a fallback the same document ends the call with 8011.
    sim.start_call("bob", ANSWER);
    sim.run();
    let text = sim.transcript_text();
    let alice: Vec<&str> = text.lines().filter(|l| l.contains(" alice ")).map(|l| &l[10..]).collect();
    assert_eq!(
        alice,
        [
            "alice  inbound call started",
            "alice  POST https://app.example/ivr/answer.xml (answer)",
            "alice  invalid document from https://app.example/ivr/answer.xml: 1 error",
            "alice  POST https://app.example/fallback (fallback)",
            "alice  got document (1 verb)",
            "alice  answered",
            "alice  spoke \"fallback\" (WOMAN, en-US)",
            "alice  hung up: 4010 End Of XML Instructions (Plivo)",
        ],
        "{text}"
    );
    assert!(text.contains("bob  hung up: 8011 Invalid Answer XML (Error)"), "{text}");
}
