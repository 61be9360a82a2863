//! Every SDK corpus document and every sample parses cleanly and survives the writer.

use std::fs;
use std::path::{Path, PathBuf};

use plivo_flow::xml::{self, Document, Verb};

fn xml_files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    files
}

fn corpus() -> Vec<PathBuf> {
    let files = xml_files("tests/corpus/sdk");
    assert!(files.len() >= 24, "the SDK corpus went missing: {}", files.len());
    files
}

fn samples() -> Vec<PathBuf> {
    let files = xml_files("samples");
    assert!(files.len() >= 8, "samples went missing: {}", files.len());
    files
}

fn parse_clean(path: &Path) -> Document {
    let src = fs::read_to_string(path).expect("read");
    let parsed = xml::parse(&src);
    assert!(
        parsed.diagnostics.is_empty(),
        "{}: expected no diagnostics, got {:#?}",
        path.display(),
        parsed.diagnostics
    );
    assert!(!parsed.document.verbs.is_empty(), "{}: no verbs", path.display());
    parsed.document
}

#[test]
fn sdk_corpus_has_no_diagnostics() {
    for path in corpus() {
        parse_clean(&path);
    }
}

#[test]
fn samples_have_no_diagnostics() {
    for path in samples() {
        parse_clean(&path);
    }
}

#[test]
fn writer_round_trips_every_document() {
    for path in corpus().into_iter().chain(samples()) {
        let doc = parse_clean(&path);
        let written = xml::write(&doc);
        let again = xml::parse(&written);
        assert!(again.diagnostics.is_empty(), "{}: {:#?}\n{written}", path.display(), again.diagnostics);
        assert_eq!(again.document, doc, "{}: round trip changed the AST\n{written}", path.display());
        // The canonical form is a fixed point.
        assert_eq!(xml::write(&again.document), written, "{}", path.display());
    }
}

#[test]
fn json_round_trips_every_document() {
    for path in corpus().into_iter().chain(samples()) {
        let doc = parse_clean(&path);
        let json = serde_json::to_string(&doc).expect("serialize");
        let back: Document = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, doc, "{}", path.display());
    }
}

#[test]
fn sdk_details_are_read_as_the_sdk_meant() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/sdk");
    let doc = parse_clean(&dir.join("11_speak_ssml.xml"));
    let Some(Verb::Speak(s)) = doc.verbs.first() else { panic!("expected Speak") };
    assert!(s.has_ssml());
    // Inner spacing is kept, the end is trimmed.
    assert!(s.text().starts_with("Welcome to the SSML demo."), "{}", s.text());
    assert!(s.text().ends_with("read and some continued text"), "{}", s.text());

    // The SDK writes recordWhenAlone="True": booleans are case-insensitive.
    let found = corpus().iter().any(|p| {
        let src = fs::read_to_string(p).expect("read");
        src.contains("recordWhenAlone=\"True\"")
            && parse_clean(p)
                .verbs
                .iter()
                .any(|v| matches!(v, Verb::Conference(c) if c.record_when_alone == Some(true)))
    });
    assert!(found, "no corpus document exercised recordWhenAlone=\"True\"");
}

#[test]
fn defaults_apply_and_written_attributes_are_remembered() {
    let doc = xml::parse(r#"<Response><Conference enterSound="beep:1">MyConference</Conference><GetDigits action="https://a.example/x"/></Response>"#)
        .into_result()
        .expect("valid");
    let Some(Verb::Conference(c)) = doc.verbs.first() else { panic!() };
    assert_eq!(c.room, "MyConference");
    assert_eq!(c.max_members, 20);
    assert_eq!(c.time_limit, 86400);
    assert!(c.stay_alone && c.start_conference_on_enter && !c.end_conference_on_exit);
    assert_eq!(c.written.names().collect::<Vec<_>>(), ["enterSound"]);
    let Some(Verb::GetDigits(g)) = doc.verbs.get(1) else { panic!() };
    assert_eq!((g.timeout, g.digit_timeout, g.num_digits, g.retries), (5, 2, 99, 1));
    assert!(g.finish_on_key.ends_on('#') && g.redirect && g.valid_digits.contains('*'));
    // Only the written attribute comes back out.
    assert!(xml::write(&doc).contains(r#"<GetDigits action="https://a.example/x"/>"#));
}

/// The Go SDK (7.20+) writes hold music as `<AgentHoldMusic>`/`<CustomerHoldMusic>` children
/// of `<MultiPartyCall>`, after the name, each holding Play/Wait/Speak prompts.
#[test]
fn go_sdk_hold_music_children_are_typed() {
    let src = "<Response><MultiPartyCall role=\"Agent\">support_queue<AgentHoldMusic><Play loop=\"2\">https://media.example/agent-hold.mp3</Play><Wait length=\"3\"></Wait></AgentHoldMusic><CustomerHoldMusic><Speak>Please hold</Speak><Play>https://media.example/customer-hold.wav</Play></CustomerHoldMusic></MultiPartyCall></Response>";
    let parsed = xml::parse(src);
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    let Some(Verb::MultiPartyCall(m)) = parsed.document.verbs.first() else { panic!("expected MultiPartyCall") };
    assert_eq!(m.name, "support_queue");
    let agent = m.agent_hold_music.as_ref().expect("agent hold music");
    let customer = m.customer_hold_music.as_ref().expect("customer hold music");
    assert_eq!(agent.urls().map(|u| u.as_str()).collect::<Vec<_>>(), ["https://media.example/agent-hold.mp3"]);
    assert_eq!(customer.urls().map(|u| u.as_str()).collect::<Vec<_>>(), ["https://media.example/customer-hold.wav"]);
    assert_eq!((agent.prompts.len(), customer.prompts.len()), (2, 2));
    // Writer and JSON round trips keep them.
    let written = xml::write(&parsed.document);
    let again = xml::parse(&written);
    assert!(again.diagnostics.is_empty(), "{:#?}\n{written}", again.diagnostics);
    assert_eq!(again.document, parsed.document, "{written}");
    let json = serde_json::to_string(&parsed.document).expect("serialize");
    assert!(json.contains("\"agent_hold_music\""), "{json}");
    let back: Document = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, parsed.document);
    // Only inside <MultiPartyCall>, and only prompts inside them.
    let bad = xml::parse("<Response><AgentHoldMusic/></Response>");
    assert_eq!(bad.diagnostics.first().map(|d| d.code.as_str()), Some("E0205"));
    let bad = xml::parse(
        "<Response><MultiPartyCall role=\"agent\">x<AgentHoldMusic><Dial/></AgentHoldMusic></MultiPartyCall></Response>",
    );
    assert_eq!(bad.diagnostics.first().map(|d| d.code.as_str()), Some("E0205"));
}

/// Documents in the shape the Go SDK writes (attribute spellings from its `plivoxml.go`,
/// values ours): its odd spellings are warnings, never errors.
#[test]
fn go_sdk_shaped_output_has_no_errors() {
    let src = "<Response><MultiPartyCall role=\"Agent\" maxDuration=\"14400\" maxParticipants=\"10\" waitMusicMethod=\"GET\" agentHoldMusicMethod=\"GET\" customerHoldMusicMethod=\"GET\" record=\"false\" recordFileFormat=\"mp3\" statusCallbackEvents=\"mpc-state-changes,participant-state-changes\" stayAlone=\"false\" coachMode=\"true\" enterSound=\"beep:1\" exitSound=\"beep:2\" relayDtmfInputs=\"false\" StartRecordingAudio=\"https://media.example/start.mp3\" StartRecordingAudioMethod=\"GET\" transcript=\"true\" transcriptionUrl=\"transcripts\">Lagos</MultiPartyCall></Response>";
    let parsed = xml::parse(src);
    assert!(!parsed.has_errors(), "{:#?}", parsed.diagnostics);
    let codes: Vec<&str> = parsed.diagnostics.iter().map(|d| d.code.as_str()).collect();
    // relayDtmfInputs and the capitalised StartRecordingAudio* are not Plivo's spellings (the
    // hint names the right ones); `transcripts` is a relative URL.
    assert_eq!(codes, ["W0101", "W0101", "W0101", "W0106"], "{:#?}", parsed.diagnostics);
    assert!(
        parsed.diagnostics[0].message.contains("did you mean `relayDTMFInputs`?"),
        "{}",
        parsed.diagnostics[0].message
    );
    assert!(
        parsed.diagnostics[1].message.contains("did you mean `startRecordingAudio`?"),
        "{}",
        parsed.diagnostics[1].message
    );
}
