//! `plivo-flow run` transcripts (issue 10): one line per happening, ignored inputs, the answer
//! a `<Dial>` brings, scenario defaults and SSML pauses.

use std::path::PathBuf;
use std::process::Command;

/// Writes `toml` as a scenario in a fresh folder and returns `plivo-flow run`'s stdout.
fn run_scenario(tag: &str, toml: &str) -> String {
    let dir = std::env::temp_dir().join(format!("plivo-flow-cli-replay-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path: PathBuf = dir.join("scenario.toml");
    std::fs::write(&path, toml).expect("write scenario");
    let out = Command::new(env!("CARGO_BIN_EXE_plivo-flow")).arg("run").arg(&path).output().expect("run");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn scenario(xml: &str, rest: &str) -> String {
    format!(
        "[[call]]\nname = \"alice\"\nanswer = \"https://app.example/answer\"\n\n[documents]\n\"https://app.example/answer\" = {{ xml = '''{xml}''' }}\n\n{rest}"
    )
}

#[track_caller]
fn assert_one_line_per_happening(text: &str) {
    for line in text.lines() {
        let time = line.split(' ').next().unwrap_or("");
        assert!(
            time.len() >= 9 && time.chars().all(|c| c.is_ascii_digit() || c == ':' || c == '.'),
            "not a happening: {line:?} in\n{text}"
        );
    }
}

#[test]
fn a_speak_body_with_newlines_is_one_transcript_line() {
    let text = run_scenario(
        "newlines",
        &scenario(
            "<Response><Speak>\n    Hello there,\n    caller.\n  </Speak><Message dst=\"+1555\">line one\nline two</Message></Response>",
            "",
        ),
    );
    assert_one_line_per_happening(&text);
    assert_eq!(
        text,
        "\
00:00.000 alice  inbound call started
00:00.000 alice  POST https://app.example/answer (answer)
00:00.000 alice  got document (2 verbs)
00:00.000 alice  answered
00:00.000 alice  spoke \"Hello there, caller.\" (WOMAN, en-US)
00:01.200 alice  sent SMS to +1555: \"line one line two\"
00:01.200 alice  <Message> sent
00:01.200 alice  hung up: 4010 End Of XML Instructions (Plivo)
"
    );
}

#[test]
fn keys_and_hangups_scripted_after_the_end_are_shown_as_ignored() {
    let text = run_scenario(
        "ignored",
        &scenario(
            "<Response><Speak>hi</Speak></Response>",
            "[[event]]\nat = \"5s\"\naction = \"digits\"\ncall = \"alice\"\nkeys = \"12#\"\n\n[[event]]\nat = \"6s\"\naction = \"hangup\"\ncall = \"alice\"\n",
        ),
    );
    assert_eq!(
        text,
        "\
00:00.000 alice  inbound call started
00:00.000 alice  POST https://app.example/answer (answer)
00:00.000 alice  got document (1 verb)
00:00.000 alice  answered
00:00.000 alice  spoke \"hi\" (WOMAN, en-US)
00:01.000 alice  hung up: 4010 End Of XML Instructions (Plivo)
00:05.000 alice  pressed 12# (ignored: the call has ended)
00:06.000 alice  hangs up (ignored: the call has ended)
"
    );
}

#[test]
fn keys_scripted_before_the_call_starts_are_shown_as_ignored() {
    let text = run_scenario(
        "early",
        "[[call]]\nname = \"alice\"\nanswer = \"https://app.example/answer\"\nat = \"10s\"\n\n[documents]\n\"https://app.example/answer\" = { xml = \"<Response><Wait length='1'/></Response>\" }\n\n[[event]]\nat = \"2s\"\naction = \"digits\"\ncall = \"alice\"\nkeys = \"1\"\n",
    );
    assert!(text.starts_with("00:02.000 alice  pressed 1 (ignored: the call has not started)\n"), "{text}");
}

#[test]
fn a_dial_as_the_first_element_answers_the_caller_when_the_callee_answers() {
    let text = run_scenario(
        "dial-first",
        &scenario(
            "<Response><Dial><Number>+15550100</Number></Dial></Response>",
            "[dial]\ndefault = \"answer\"\nanswer_after = \"3s\"\ntalk = \"10s\"\n",
        ),
    );
    assert_eq!(
        text,
        "\
00:00.000 alice  inbound call started
00:00.000 alice  POST https://app.example/answer (answer)
00:00.000 alice  got document (1 verb)
00:00.000 alice  dialing +15550100
00:03.000 alice  +15550100 answered
00:03.000 alice  answered
00:13.000 alice  dialed party hangs up
00:13.000 alice  <Dial> completed (callee hung up)
00:13.000 alice  hung up: 4010 End Of XML Instructions (Plivo)
"
    );
}

#[test]
fn a_dial_table_without_default_answers() {
    let text = run_scenario(
        "dial-no-default",
        &scenario(
            "<Response><Dial><Number>+15550100</Number></Dial></Response>",
            "[dial]\nanswer_after = \"2s\"\ntalk = \"4s\"\n",
        ),
    );
    assert!(text.contains("00:02.000 alice  +15550100 answered\n"), "{text}");
    assert!(text.contains("00:06.000 alice  dialed party hangs up\n"), "{text}");
}

#[test]
fn an_ssml_break_adds_its_time_to_the_speech() {
    // "hi" alone lasts the 1 s minimum; the breaks add 2 s and 250 ms (time) and 1 s (strong).
    let text = run_scenario(
        "break",
        &scenario(
            "<Response><Speak>hi<break time=\"2s\"/><s>there<break time=\"250ms\"/></s><break strength=\"strong\"/></Speak></Response>",
            "",
        ),
    );
    assert!(text.contains("00:00.000 alice  spoke \"hi there\" (WOMAN, en-US)\n"), "{text}");
    assert!(text.contains("00:04.250 alice  hung up: 4010 End Of XML Instructions (Plivo)\n"), "{text}");
}

#[test]
fn the_scenario_sets_the_transcription_text() {
    let text = run_scenario(
        "transcription",
        &format!(
            "transcription = \"Call me back\"\n{}",
            scenario(
                "<Response><Record playBeep=\"false\" timeout=\"1\" transcriptionType=\"auto\" transcriptionUrl=\"https://app.example/tr\"/></Response>",
                ""
            )
        ),
    );
    assert!(
        text.contains("(transcription callback) transcription_charge=0.00000 transcription=Call me back duration=5 "),
        "{text}"
    );
}

#[test]
fn a_document_in_a_declared_latin1_encoding_runs_with_its_text_decoded() {
    let out = Command::new(env!("CARGO_BIN_EXE_plivo-flow"))
        .args(["run", "tests/corpus/realworld/vm_04_latin1.xml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    // The warning's source line and the spoken text are decoded from ISO-8859-1, not replaced.
    assert!(stdout.contains("<Record action=\"/messagerie/enregistré\""), "{stdout}");
    assert!(stdout.contains("spoke \"Vous êtes sur la messagerie de Renée."), "{stdout}");
    assert!(!stdout.contains('\u{FFFD}'), "{stdout}");
}
