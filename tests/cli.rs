//! The `plivo-flow` binary: output formats and exit statuses.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_plivo-flow"))
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = bin();
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut pipe = child.stdin.take().expect("stdin");
    pipe.write_all(stdin.unwrap_or("").as_bytes()).expect("write stdin");
    drop(pipe);
    child.wait_with_output().expect("wait")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const BAD: &str = "<Response>\n  <Conference maxMembers=\"25\">Room</Conference>\n  <Play></Play>\n</Response>\n";

#[test]
fn check_accepts_samples_and_corpus() {
    let mut args = vec!["check".to_owned()];
    for dir in ["samples", "tests/corpus/sdk"] {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for e in std::fs::read_dir(root).expect("dir") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "xml") {
                args.push(p.display().to_string());
            }
        }
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run(&refs, None);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout(&o), "");
}

#[test]
fn check_prints_rustc_style_diagnostics_and_exits_1() {
    let o = run(&["check", "-"], Some(BAD));
    assert_eq!(o.status.code(), Some(1));
    let expected = "\
<stdin>:2:27: error[E0302]: invalid value `25` for `maxMembers` on <Conference>: expected an integer from 1 to 20
  |
2 |   <Conference maxMembers=\"25\">Room</Conference>
  |                           ^^
<stdin>:3:4: error[E0206]: <Play> needs an audio URL as its body
  |
3 |   <Play></Play>
  |    ^^^^
";
    assert_eq!(stdout(&o), expected);
    assert!(String::from_utf8_lossy(&o.stderr).contains("2 errors"));
}

#[test]
fn check_json_prints_one_object_per_diagnostic() {
    let o = run(&["check", "--format", "json", "-"], Some(BAD));
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<serde_json::Value> =
        stdout(&o).lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(lines.len(), 2);
    let first = &lines[0];
    assert_eq!(first["file"], "<stdin>");
    assert_eq!(first["line"], 2);
    assert_eq!(first["column"], 27);
    assert_eq!(first["code"], "E0302");
    assert_eq!(first["severity"], "error");
    assert!(first["message"].as_str().is_some_and(|m| m.contains("maxMembers")));
    assert_eq!(lines[1]["code"], "E0206");
}

#[test]
fn warnings_alone_exit_0() {
    let o = run(&["check", "-"], Some("<Response><Wait lenght=\"2\"/></Response>"));
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("warning[W0101]: unknown attribute `lenght` on <Wait>"), "{}", stdout(&o));
}

#[test]
fn unreadable_files_exit_2_and_others_are_still_checked() {
    let o = run(&["check", "no/such/file.xml", "-"], Some(BAD));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no/such/file.xml: cannot read"));
    assert!(stdout(&o).contains("error[E0302]"));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["check"], None).status.code(), Some(2));
    assert_eq!(run(&["check", "--format", "yaml", "-"], None).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"], None).status.code(), Some(2));
}

#[test]
fn fmt_prints_the_canonical_form() {
    let src = "<?xml version=\"1.0\"?>\n<Response><Speak  voice=\"MAN\" >Hi &amp; bye</Speak><Wait length='3'></Wait></Response>";
    let o = run(&["fmt", "-"], Some(src));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "<Response>\n  <Speak voice=\"MAN\">Hi &amp; bye</Speak>\n  <Wait length=\"3\"/>\n</Response>\n"
    );
    let o = run(&["fmt", "-"], Some(BAD));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "");
}

#[test]
fn ast_prints_json() {
    let o = run(&["ast", "samples/conference-kick.xml"], None);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["verbs"][0]["verb"], "Conference");
    assert_eq!(v["verbs"][0]["room"], "MyConference");
    assert_eq!(v["verbs"][0]["enterSound"], "beep:1");
    assert_eq!(v["verbs"][0]["written"], serde_json::json!(["enterSound"]));
    assert_eq!(v["verbs"][1]["verb"], "Speak");
}

/// A fresh scratch folder under the target directory.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn run_replays_the_flagship_kick() {
    let o = run(&["run", "samples/conference-kick.toml"], None);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let text = stdout(&o);
    let kicked = text.find("01:00.000 alice  left room MyConference as member 1: kicked").expect(&text);
    let goodbye = text.find("alice  spoke \"Good bye. You have been kicked out of the conference\"").expect(&text);
    let end = text.find("alice  hung up: 4010 End Of XML Instructions").expect(&text);
    assert!(kicked < goodbye && goodbye < end, "{text}");
    assert!(!text.contains("01:00.000 bob  left"), "{text}");
}

#[test]
fn run_json_prints_one_object_per_line() {
    let o = run(&["run", "--json", "samples/conference-kick.toml"], None);
    assert_eq!(o.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert!(lines.len() > 10);
    let left = lines.iter().find(|l| l["kind"] == "left").expect("a left line");
    assert_eq!(left["who"], "alice");
    assert_eq!(left["at_ms"], 60_000);
    // A request's text leaves the standard parameters out; its params hold them all.
    let answer = lines.iter().find(|l| l["kind"] == "request").expect("a request line");
    let text = answer["text"].as_str().expect("text");
    assert!(!text.contains("From="), "{answer}");
    let params = answer["params"].as_array().expect("params: [name, value] pairs");
    let named = |k: &str| params.iter().any(|p| p[0] == k && p[1].as_str().is_some_and(|v| !v.is_empty()));
    for k in ["CallUUID", "From", "To", "CallStatus", "Direction"] {
        assert!(named(k), "{k} missing in {answer}");
    }
}

#[test]
fn run_reports_a_bad_document_like_check() {
    let dir = scratch("run-bad");
    let file = dir.join("bad.xml");
    std::fs::write(&file, "<Response>\n  <Conference></Conference>\n</Response>\n").expect("write");
    let o = run(&["run", file.to_str().expect("utf-8 path")], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains(":2:4: error[E0206]: <Conference> needs a room name as its body"), "{}", stdout(&o));
}

#[test]
fn test_command_passes_every_sample() {
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let n = std::fs::read_dir(&samples)
        .expect("samples")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "toml")))
        .count();
    let xml = std::fs::read_dir(&samples)
        .expect("samples")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "xml")))
        .count();
    assert!(n >= xml, "every sample needs a scenario: {n} scenarios for {xml} documents");
    let o = run(&["test", "samples"], None);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert_eq!(out.lines().last(), Some(format!("{n} passed, 0 failed").as_str()), "{out}");
}

#[test]
fn a_broken_expectation_shows_a_diff_and_fails() {
    let dir = scratch("broken");
    for f in ["conference-kick.toml", "conference-kick.xml", "conference-kick.expected"] {
        std::fs::copy(std::path::Path::new("samples").join(f), dir.join(f)).expect("copy");
    }
    let expected = dir.join("conference-kick.expected");
    let text = std::fs::read_to_string(&expected).expect("read");
    std::fs::write(&expected, text.replace("4010 End Of XML Instructions", "4000 Normal Hangup")).expect("write");
    let o = run(&["test", dir.to_str().expect("utf-8 path")], None);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("conference-kick.toml ... FAILED"), "{out}");
    assert!(out.contains("-01:03.120 alice  hung up: 4000 Normal Hangup (Plivo)"), "{out}");
    assert!(out.contains("+01:03.120 alice  hung up: 4010 End Of XML Instructions (Plivo)"), "{out}");
    assert_eq!(out.lines().last(), Some("0 passed, 1 failed"));
}

#[test]
fn bless_writes_missing_expectations() {
    let dir = scratch("bless");
    for f in ["conference-kick.toml", "conference-kick.xml"] {
        std::fs::copy(std::path::Path::new("samples").join(f), dir.join(f)).expect("copy");
    }
    let path = dir.to_str().expect("utf-8 path");
    let o = run(&["test", path], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("run with --bless"), "{}", stdout(&o));
    let o = run(&["test", "--bless", path], None);
    assert_eq!(o.status.code(), Some(0));
    let o = run(&["test", path], None);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(stdout(&o).lines().last(), Some("1 passed, 0 failed"));
}

#[test]
fn the_scenario_reference_example_runs() {
    let doc = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/scenarios.md"))
        .expect("docs");
    let start = doc.find("```toml\n").expect("a toml example") + "```toml\n".len();
    let end = start + doc[start..].find("```").expect("end of the example");
    let dir = scratch("doc-example");
    std::fs::write(dir.join("example.toml"), &doc[start..end]).expect("write");
    std::fs::write(
        dir.join("menu.xml"),
        r#"<Response><GetDigits action="https://app.example/route" numDigits="1"><Speak>Press 2</Speak></GetDigits></Response>"#,
    )
    .expect("write");
    std::fs::write(dir.join("agent.xml"), "<Response><Conference>Support</Conference></Response>").expect("write");
    let o = run(&["run", dir.join("example.toml").to_str().expect("utf-8 path")], None);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let text = stdout(&o);
    assert!(text.contains("01:00.000 alice  left room Support as member 2: kicked"), "{text}");
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A scenario with three mistakes: an answer URL nothing serves, a kick of an empty room, and
/// keys for a call that has hung up.
const BROKEN: &str = r#"
[[call]]
name = "alice"
answer = "https://app.example/missing"

[[call]]
name = "bob"
answer = "https://app.example/room"

[documents]
"https://app.example/room" = { xml = "<Response><Conference>MyConference</Conference></Response>" }

[[event]]
at = "1m"
action = "kick"
room = "NoSuchRoom"

[[event]]
at = "2m"
action = "hangup"
call = "bob"

[[event]]
at = "3m"
action = "digits"
call = "bob"
keys = "1"
"#;

fn broken_dir(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("broken.toml"), BROKEN).expect("write");
    dir
}

#[test]
fn run_prints_scenario_warnings_and_strict_fails_on_them() {
    let dir = broken_dir("warn-run");
    let file = dir.join("broken.toml");
    let file = file.to_str().expect("utf-8 path");
    let o = run(&["run", file], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(
            "scenario warning: call `alice` fetched `https://app.example/missing` which [documents] does not serve (7011)"
        ),
        "{err}"
    );
    assert!(
        err.contains("scenario warning: event at 1m: kick NoSuchRoom member all: conference `NoSuchRoom` not found"),
        "{err}"
    );
    assert!(err.contains("scenario warning: event at 3m: `bob` pressed 1 (ignored: the call has ended)"), "{err}");
    assert!(!stdout(&o).contains("scenario warning"), "warnings go to stderr");
    let o = run(&["run", "--strict", file], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("3 scenario warnings (--strict)"), "{}", stderr(&o));
    // A clean scenario passes --strict.
    let o = run(&["run", "--strict", "samples/conference-kick.toml"], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("scenario warning"), "{}", stderr(&o));
}

#[test]
fn test_strict_fails_and_bless_strict_refuses_to_write() {
    let dir = broken_dir("warn-test");
    let path = dir.to_str().expect("utf-8 path");
    let expected = dir.join("broken.expected");
    let o = run(&["test", "--bless", "--strict", path], None);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("broken.toml ... FAILED (not blessed)"), "{out}");
    assert!(out.contains("    scenario warning: event at 1m: kick NoSuchRoom"), "{out}");
    assert_eq!(out.lines().last(), Some("0 passed, 1 failed"));
    assert!(!expected.exists(), "--bless --strict wrote {}", expected.display());
    // Without --strict, bless writes and shows the warnings; test passes, --strict fails.
    let o = run(&["test", "--bless", path], None);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("    scenario warning: call `alice` fetched"), "{}", stdout(&o));
    assert!(expected.exists());
    let o = run(&["test", path], None);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("broken.toml ... ok\n    scenario warning:"), "{}", stdout(&o));
    let o = run(&["test", "--strict", path], None);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert_eq!(stdout(&o).lines().last(), Some("0 passed, 1 failed"));
    let o = run(&["test", "--strict", "samples"], None);
    assert_eq!(o.status.code(), Some(0), "the samples have no scenario warning: {}", stdout(&o));
}

#[test]
fn run_reads_stdin_and_tells_xml_from_toml_by_content() {
    let doc = "\u{feff}\n  <Response><Speak>Hi</Speak></Response>\n";
    let o = run(&["run", "-"], Some(doc));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("caller  spoke \"Hi\""), "{}", stdout(&o));
    let scenario = "[[call]]\nname = \"ann\"\nanswer = \"samples/conference-kick.xml\"\n";
    let o = run(&["run", "-"], Some(scenario));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("ann  joined room MyConference"), "{}", stdout(&o));
    // XML in a .txt file, and a scenario in a file without the .toml extension.
    let dir = scratch("by-content");
    std::fs::write(dir.join("flow.txt"), "<Response><Speak>Hello</Speak></Response>").expect("write");
    let o = run(&["run", dir.join("flow.txt").to_str().expect("utf-8 path")], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("caller  spoke \"Hello\""), "{}", stdout(&o));
    std::fs::write(dir.join("flow.xml"), "<Response><Speak>Hi</Speak></Response>").expect("write");
    std::fs::write(dir.join("scenario.conf"), "[[call]]\nname = \"ann\"\nanswer = \"flow.xml\"\n").expect("write");
    let o = run(&["run", dir.join("scenario.conf").to_str().expect("utf-8 path")], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("ann  spoke \"Hi\""), "{}", stdout(&o));
}

#[test]
fn check_of_a_missing_file_counts_it_as_unreadable() {
    let o = run(&["check", "no/such/file.xml"], None);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("no/such/file.xml: cannot read"), "{err}");
    assert!(err.contains("checked 1 file: 1 unreadable, 0 errors, 0 warnings"), "{err}");
}

#[test]
fn check_searches_folders_for_xml_in_sorted_order() {
    let dir = scratch("check-dir");
    std::fs::create_dir_all(dir.join("b/c")).expect("mkdir");
    std::fs::write(dir.join("b/c/z.xml"), "<Response><Play></Play></Response>").expect("write");
    std::fs::write(dir.join("a.xml"), "<Response><Play></Play></Response>").expect("write");
    std::fs::write(dir.join("b/notes.txt"), "<Response><Play></Play></Response>").expect("write");
    let o = run(&["check", "--format", "json", dir.to_str().expect("utf-8 path")], None);
    assert_eq!(o.status.code(), Some(1));
    let files: Vec<String> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["file"].as_str().unwrap_or("").to_owned())
        .collect();
    let a = dir.join("a.xml").display().to_string();
    let z = dir.join("b/c/z.xml").display().to_string();
    assert_eq!(files, vec![a, z]);
    let o = run(&["check", dir.join("b").to_str().expect("utf-8 path")], None);
    assert!(stderr(&o).contains("checked 1 file: 1 error, 0 warnings"), "{}", stderr(&o));
    let empty = scratch("check-empty");
    let o = run(&["check", empty.to_str().expect("utf-8 path")], None);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn unlisted_notifications_succeed_and_unlisted_documents_fail() {
    let dir = scratch("served-urls");
    let scenario = r#"
[[call]]
name = "alice"
answer = "https://app.example/menu"
hangup_url = "https://app.example/unlisted-hangup"

[documents]
"https://app.example/menu" = { xml = """<Response>
  <Record action="https://app.example/unlisted-record" redirect="false" maxLength="2"/>
  <Conference callbackUrl="https://app.example/failing-cb">Room</Conference>
</Response>""" }
"https://app.example/failing-cb" = { fail = "connection refused" }

[[call]]
name = "bob"
answer = "https://app.example/digits"

[documents."https://app.example/digits"]
xml = """<Response><GetDigits action="https://app.example/unlisted-route" numDigits="1"/></Response>"""

[[event]]
at = "1s"
action = "digits"
call = "bob"
keys = "5"

[[event]]
at = "1m"
action = "hangup"
call = "alice"
"#;
    std::fs::write(dir.join("s.toml"), scenario).expect("write");
    let o = run(&["run", dir.join("s.toml").to_str().expect("utf-8 path")], None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    // Notifications: recorded, answered as 200 OK (listed as failing or not listed at all).
    assert!(text.contains("alice  POST https://app.example/unlisted-record (Record action, reply ignored)"), "{text}");
    assert!(text.contains("alice  POST https://app.example/failing-cb (conference enter callback)"), "{text}");
    assert!(text.contains("alice  joined room Room as member 1"), "{text}");
    assert!(text.contains("alice  POST https://app.example/unlisted-hangup (hangup)"), "{text}");
    assert!(text.contains("alice  hung up: 4000 Normal Hangup (Caller)"), "{text}");
    // A document fetch of an unlisted URL fails, with a warning.
    assert!(text.contains("bob  fetch of https://app.example/unlisted-route failed"), "{text}");
    assert!(text.contains("bob  hung up: 7012 Error Reaching Action URL"), "{text}");
    let err = stderr(&o);
    assert_eq!(err.matches("scenario warning:").count(), 1, "{err}");
    assert!(
        err.contains("call `bob` fetched `https://app.example/unlisted-route` which [documents] does not serve (7012)"),
        "{err}"
    );
}

/// Every kind of transcript line is in the table of docs/scenarios.md, and the table has no
/// other.
#[test]
fn every_transcript_line_kind_is_documented() {
    use plivo_flow::runtime::LineKind;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/scenarios.md")).expect("docs");
    let table = &doc[doc.find("### Line kinds").expect("a line kinds section")..];
    let table = &table[..table[4..].find("\n#").map_or(table.len(), |i| i + 4)];
    let missing: Vec<&str> =
        LineKind::ALL.iter().map(|k| k.as_str()).filter(|k| !table.contains(&format!("| `{k}` |"))).collect();
    assert!(missing.is_empty(), "undocumented line kinds: {missing:?}");
    let documented: Vec<&str> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `")?.split('`').next())
        .filter(|k| !LineKind::ALL.iter().any(|x| x == k))
        .collect();
    assert!(documented.is_empty(), "the table names kinds that do not exist: {documented:?}");
}

#[test]
fn test_junit_writes_one_testcase_per_scenario_with_the_diff() {
    use quick_xml::events::Event;
    let dir = scratch("junit");
    for f in ["conference-kick.toml", "conference-kick.xml", "conference-kick.expected"] {
        std::fs::copy(std::path::Path::new("samples").join(f), dir.join(f)).expect("copy");
    }
    std::fs::copy(dir.join("conference-kick.toml"), dir.join("z-changed.toml")).expect("copy");
    let text = std::fs::read_to_string(dir.join("conference-kick.expected")).expect("read");
    std::fs::write(dir.join("z-changed.expected"), text.replace("4010 End Of XML Instructions", "4000 <Normal>"))
        .expect("write");
    let report = dir.join("report.xml");
    let o = run(&["test", "--junit", report.to_str().expect("utf-8 path"), dir.to_str().expect("utf-8 path")], None);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let xml = std::fs::read_to_string(&report).expect("a JUnit report");
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut cases, mut failures, mut in_failure) = (Vec::new(), Vec::new(), false);
    loop {
        match reader.read_event().expect("well-formed JUnit XML") {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == "testcase" => {
                let name = e.try_get_attribute("name").expect("attr").expect("a name");
                cases.push(name.normalized_value(quick_xml::XmlVersion::Implicit1_0).expect("value").into_owned());
            }
            Event::Start(e) if e.name().as_ref() == "failure" => {
                in_failure = true;
                failures.push(String::new());
            }
            Event::End(e) if e.name().as_ref() == "failure" => in_failure = false,
            Event::Text(t) if in_failure => {
                let last = failures.last_mut().expect("a failure");
                last.push_str(&t.xml10_content());
            }
            Event::GeneralRef(r) if in_failure => {
                let last = failures.last_mut().expect("a failure");
                last.push(match r.as_ref() {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    _ => '\'',
                });
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(cases.len(), 2, "{xml}");
    assert!(cases[0].ends_with("conference-kick.toml") && cases[1].ends_with("z-changed.toml"), "{cases:?}");
    assert_eq!(failures.len(), 1, "{xml}");
    assert!(failures[0].contains("-01:03.120 alice  hung up: 4000 <Normal> (Plivo)"), "{}", failures[0]);
    assert!(failures[0].contains("+01:03.120 alice  hung up: 4010 End Of XML Instructions (Plivo)"), "{}", failures[0]);
}

/// Output into a closed pipe (`plivo-flow run … | head`) ends the process as SIGPIPE does for
/// other Unix tools: no panic, nothing on stderr.
#[cfg(unix)]
#[test]
fn a_closed_stdout_pipe_ends_run_quietly() {
    use std::os::unix::process::ExitStatusExt;
    // 2,000 calls print far more than a pipe buffer holds, so `run` is still writing when the
    // reading end closes.
    let mut scenario =
        String::from("[documents]\n\"https://app.example/a\" = { xml = \"<Response><Speak>hi</Speak></Response>\" }\n");
    for i in 0..2000 {
        scenario.push_str(&format!("[[call]]\nname = \"c{i}\"\nanswer = \"https://app.example/a\"\n"));
    }
    let mut child = bin()
        .args(["run", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    child.stdin.take().expect("stdin").write_all(scenario.as_bytes()).expect("write scenario");
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    // 13 is SIGPIPE on Linux and the BSDs.
    assert_eq!(out.status.signal(), Some(13), "{:?}: {stderr}", out.status);
}

/// `serve` ignores SIGPIPE (a pipe of its own that closes early, the MP3 encoder's, is an
/// error of one write, not the end of every call), while the one-shot commands keep the
/// default (`plivo-flow test | head` ends quietly): read from `/proc/PID/status`.
#[cfg(target_os = "linux")]
#[test]
fn serve_ignores_sigpipe() {
    let mut child = bin()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve starts");
    let ignored = |pid: u32| {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let mask = status.lines().find_map(|l| l.strip_prefix("SigIgn:")).map(str::trim).unwrap_or("0");
        u64::from_str_radix(mask, 16).unwrap_or(0) & (1 << (13 - 1)) != 0
    };
    // The disposition is set first thing; give the process a moment to get there.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !ignored(child.id()) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let serve = ignored(child.id());
    let _ = child.kill();
    let _ = child.wait();
    assert!(serve, "serve ignores SIGPIPE");
    let mut check = bin().args(["check", "-"]).stdin(std::process::Stdio::piped()).spawn().expect("check starts");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let check_ignores = ignored(check.id());
    drop(check.stdin.take());
    let _ = check.wait();
    assert!(!check_ignores, "a one-shot command keeps SIGPIPE's default");
}
