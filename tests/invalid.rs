//! Table-driven tests of invalid (and warning-producing) documents: every case names the
//! diagnostic code it must produce and the exact line:column it must be reported at.
//!
//! Position rules (1-based line, column counted in characters):
//! * attribute value errors point at the first character of the value, inside the quotes;
//! * unknown / duplicate attributes point at the attribute name;
//! * element errors (unknown, not allowed, root not Response, missing attribute, missing
//!   child, conflict) point at the element name, the character after `<`;
//! * a missing body points at the element name;
//! * an invalid body value points at the first non-blank character of the body;
//! * text errors point at the first non-blank character of the text;
//! * malformed XML is reported where quick-xml detects the problem (pinned per case).

use plivo_flow::diagnostic::Code;
use plivo_flow::diagnostic::Severity;
use plivo_flow::xml::{self, ParseOptions};

struct Case {
    name: &'static str,
    xml: &'static str,
    code: &'static str,
    line: u32,
    column: u32,
    /// The expected diagnostic may follow other diagnostics (otherwise it must come first).
    not_first: bool,
}

/// A case whose diagnostic must be the first one reported.
const fn case(name: &'static str, xml: &'static str, code: &'static str, line: u32, column: u32) -> Case {
    Case { name, xml, code, line, column, not_first: false }
}

impl Case {
    /// Lets the expected diagnostic come after others.
    const fn not_first(self) -> Case {
        Case { not_first: true, ..self }
    }
}

const CASES: &[Case] = &[
    // ---------------------------------------------------------------- E0101 malformed XML
    // quick-xml does not report unclosed elements at end of input; the parser must. The
    // position follows quick-xml's own convention for unterminated constructs (`<Play` at
    // EOF, unterminated comment): the `<` that opens the unclosed element.
    case("unclosed root element at end of input", "<Response>\n  <Speak>Hi</Speak>\n", "E0101", 1, 1),
    case("unclosed Speak at end of input", "<Response>\n  <Speak>Hi</Speak>\n  <Speak>there\n", "E0101", 3, 3),
    case("tag not closed at end of input", "<Response>\n  <Speak>Hi</Speak>\n  <Play", "E0101", 3, 3),
    case("start tag missing its `>`", "<Response>\n  <Speak\n</Response>", "E0101", 2, 3),
    case("mismatched end tag", "<Response>\n  <Speak>Hi</Play>\n</Response>", "E0101", 2, 12),
    case("end tag of a closed element", "<Response>\n  <Speak>a</Speak>\n</Speak>\n", "E0101", 3, 1),
    case("stray end tag after root", "<Response>\n  <Speak>a</Speak>\n</Response></Response>", "E0101", 3, 12),
    case("bare ampersand in text", "<Response>\n  <Speak>Tom & Jerry</Speak>\n</Response>", "E0101", 2, 14),
    case(
        "unquoted attribute value",
        "<Response>\n  <Play loop=2>https://a.example/a.mp3</Play>\n</Response>",
        "E0101",
        2,
        14,
    ),
    // quick-xml reports the unquoted value at offset 50 of the tag, i.e. line 3; the tag's `<`
    // is on another line, so the error must point at the value itself.
    case(
        "unquoted attribute value in a multi-line tag",
        "<Response>\n  <MultiPartyCall role=\"agent\"\n      maxParticipants=5>Team</MultiPartyCall>\n</Response>",
        "E0101",
        3,
        23,
    ),
    case("unterminated comment", "<Response>\n  <!-- unterminated\n</Response>", "E0101", 2, 3),
    case("text before the root", "hello <Response/>", "E0101", 1, 1),
    // XML 1.0 allows no C0 control character but tab, LF and CR: each is E0101 at its byte.
    case("NUL in Speak text", "<Response>\n  <Speak>Hi\u{0}there</Speak>\n</Response>", "E0101", 2, 12),
    case(
        "NUL in an attribute value",
        "<Response>\n  <Speak voice=\"WO\u{0}MAN\">x</Speak>\n</Response>",
        "E0101",
        2,
        19,
    )
    .not_first(),
    case("BEL after non-ASCII text", "<Response><Speak>ééé\u{7}</Speak></Response>", "E0101", 1, 21),
    case(
        "escape character in a URL body",
        "<Response>\n<Play>https://a.example/\u{1b}a.mp3</Play>\n</Response>",
        "E0101",
        2,
        25,
    )
    .not_first(),
    case("unit separator in a comment", "<Response><!-- \u{1f} --></Response>", "E0101", 1, 16),
    case(
        "form feed after a tag name",
        "<Response><Play\u{c}loop=\"1\">https://a.example/a</Play></Response>",
        "E0101",
        1,
        16,
    )
    .not_first(),
    // ---------------------------------------------------------------- E0102 DOCTYPE
    case("doctype", "<!DOCTYPE Response>\n<Response/>", "E0102", 1, 1),
    case(
        "doctype after declaration",
        "<?xml version=\"1.0\"?>\n<!DOCTYPE Response [\n  <!ENTITY x \"y\">\n]>\n<Response>\n</Response>",
        "E0102",
        2,
        1,
    ),
    // ---------------------------------------------------------------- E0105 references
    case("unknown entity nbsp", "<Response>\n  <Speak>Hello&nbsp;world</Speak>\n</Response>", "E0105", 2, 15),
    case(
        "unknown entity after non-ASCII text",
        "<Response>\n  <Speak>Grüße&nbsp;x</Speak>\n</Response>",
        "E0105",
        2,
        15,
    ),
    case("character reference to NUL", "<Response><Speak>&#0;</Speak></Response>", "E0105", 1, 18),
    case(
        "unknown entity in an attribute",
        "<Response>\n  <Message src=\"&foo;\" dst=\"1\">x</Message>\n</Response>",
        "E0105",
        2,
        17,
    ),
    // ---------------------------------------------------------------- E0106 no root
    case("empty document", "", "E0106", 1, 1),
    case("whitespace-only document", "   \n  ", "E0106", 2, 3),
    case("comment-only document", "<!-- nothing -->", "E0106", 1, 17),
    // ---------------------------------------------------------------- E0107 after root
    case("second root", "<Response>\n</Response>\n<Response>\n</Response>", "E0107", 3, 2),
    case("text after root", "<Response>\n</Response>\n  trailing", "E0107", 3, 3),
    case("verb after root", "<Response>\n  <Speak>a</Speak>\n</Response>\n<!-- c -->\n<Hangup/>", "E0107", 5, 2),
    // ---------------------------------------------------------------- E0108 declaration
    case("declaration after a comment", "<!-- c -->\n<?xml version=\"1.0\"?>\n<Response/>", "E0108", 2, 1),
    case("declaration inside the root", "<Response>\n<?xml version=\"1.0\"?>\n</Response>", "E0108", 2, 1),
    // ---------------------------------------------------------------- E0201 root
    case("root is Speak", "<Speak>Hello</Speak>", "E0201", 1, 2),
    case(
        "root is lower-case response",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n</response>",
        "E0201",
        2,
        2,
    ),
    // ---------------------------------------------------------------- E0202 Response attribute
    case("attribute on Response", "<Response version=\"1\">\n</Response>", "E0202", 1, 11),
    case("attribute on Response on its own line", "<Response\n    xmlns=\"urn:x\">\n</Response>", "E0202", 2, 5),
    // ---------------------------------------------------------------- E0203 text in Response
    case("text inside Response", "<Response>\n  Hello\n  <Speak>Hi</Speak>\n</Response>", "E0203", 2, 3),
    case("text in Response with CRLF line ends", "<Response>\r\n  oops\r\n</Response>\r\n", "E0203", 2, 3),
    case("text in Response after non-ASCII", "<Response><Speak>Ça va</Speak> stray</Response>", "E0203", 1, 32),
    // ---------------------------------------------------------------- E0204 unknown element
    case("Say is not a Plivo verb", "<Response>\n  <Say>Hello</Say>\n</Response>", "E0204", 2, 4),
    case("lower-case speak", "<Response>\n\t<speak>hi</speak>\n</Response>", "E0204", 2, 3),
    case(
        "unsupported SSML amazon:effect",
        "<Response>\n  <Speak voice=\"Polly.Joey\"><amazon:effect name=\"whispered\">psst</amazon:effect></Speak>\n</Response>",
        "E0204",
        2,
        30,
    ),
    // ---------------------------------------------------------------- E0205 not allowed here
    case("Number at top level", "<Response>\n  <Number>15551234567</Number>\n</Response>", "E0205", 2, 4),
    case(
        "Record inside GetDigits",
        "<Response>\n  <GetDigits action=\"https://a.example/d\">\n    <Record/>\n  </GetDigits>\n</Response>",
        "E0205",
        3,
        6,
    ),
    case(
        "Speak inside Dial",
        "<Response>\n  <Dial>\n    <Speak>Connecting</Speak>\n    <Number>15551234567</Number>\n  </Dial>\n</Response>",
        "E0205",
        3,
        6,
    ),
    case(
        "Play inside Conference",
        "<Response>\n  <Conference>Room<Play>https://a.example/a.mp3</Play></Conference>\n</Response>",
        "E0205",
        2,
        20,
    ),
    case(
        "SSML p inside w",
        "<Response>\n  <Speak voice=\"Polly.Joey\"><w role=\"amazon:NN\"><p>x</p></w></Speak>\n</Response>",
        "E0205",
        2,
        50,
    ),
    case(
        "Dial inside PreAnswer",
        "<Response>\n  <PreAnswer>\n    <Dial><Number>15551234567</Number></Dial>\n  </PreAnswer>\n</Response>",
        "E0205",
        3,
        6,
    ),
    case("child inside break", "<Response>\n  <Speak>a<break><s>x</s></break></Speak>\n</Response>", "E0205", 2, 19),
    // ---------------------------------------------------------------- E0206 missing body
    case("empty Conference room", "<Response>\n  <Conference>   </Conference>\n</Response>", "E0206", 2, 4),
    case("self-closing Conference", "<Response>\n  <Conference muted=\"true\"/>\n</Response>", "E0206", 2, 4),
    case("empty Play", "<Response>\n  <Play/>\n</Response>", "E0206", 2, 4),
    case("empty Redirect", "<Response>\n  <Redirect method=\"GET\"></Redirect>\n</Response>", "E0206", 2, 4),
    case("empty Number", "<Response>\n  <Dial>\n    <Number> </Number>\n  </Dial>\n</Response>", "E0206", 3, 6),
    case("empty DTMF", "<Response><DTMF></DTMF></Response>", "E0206", 1, 12),
    case(
        "empty MultiPartyCall after another element",
        "<Response>\n  <Message>hi</Message><MultiPartyCall role=\"agent\"/>\n</Response>",
        "E0206",
        2,
        25,
    ),
    case("empty Stream after non-ASCII", "<Response><Speak>日本語</Speak><Stream/></Response>", "E0206", 1, 30),
    // ---------------------------------------------------------------- E0207 missing attribute
    case(
        "GetInput without action",
        "<Response>\n  <GetInput inputType=\"speech\">\n    <Speak>Say something</Speak>\n  </GetInput>\n</Response>",
        "E0207",
        2,
        4,
    ),
    case(
        "GetInput with an empty action",
        "<Response>\n  <GetInput action=\"\" inputType=\"speech\"/>\n</Response>",
        "E0207",
        2,
        21,
    ),
    case(
        "MultiPartyCall with an empty role",
        "<Response>\n  <MultiPartyCall role=\" \">Team</MultiPartyCall>\n</Response>",
        "E0207",
        2,
        25,
    ),
    case(
        "MultiPartyCall without role",
        "<Response>\n  <MultiPartyCall>Team</MultiPartyCall>\n</Response>",
        "E0207",
        2,
        4,
    ),
    // ---------------------------------------------------------------- E0208 missing child
    case("Dial without Number or User", "<Response>\n  <Dial timeout=\"20\">\n  </Dial>\n</Response>", "E0208", 2, 4),
    case(
        "Dial whose only child is unknown",
        "<Response>\n  <Dial>\n    <Numbr>123</Numbr>\n  </Dial>\n</Response>",
        "E0208",
        2,
        4,
    )
    .not_first(),
    // ---------------------------------------------------------------- E0301 not an integer
    case(
        "GetDigits timeout abc",
        "<Response>\n  <GetDigits action=\"https://a.example/d\" timeout=\"abc\">\n  </GetDigits>\n</Response>",
        "E0301",
        2,
        52,
    ),
    case("blank integer value", "<Response>\n  <Record timeout=\" 1 0\"/>\n</Response>", "E0301", 2, 20),
    case(
        "Play loop zwei after non-ASCII",
        "<Response><Speak>ünïcödé</Speak><Play loop=\"zwei\">https://a.example/a.mp3</Play></Response>",
        "E0301",
        1,
        45,
    ),
    case("Speak loop 1.5", "<Response>\n  <Speak loop='1.5'>x</Speak>\n</Response>", "E0301", 2, 16),
    // ---------------------------------------------------------------- E0302 out of range
    case(
        "Conference maxMembers 25",
        "<Response>\n  <Conference maxMembers=\"25\">Room</Conference>\n</Response>",
        "E0302",
        2,
        27,
    ),
    case("Play loop -1", "<Response>\n  <Play loop=\"-1\">https://a.example/a.mp3</Play>\n</Response>", "E0302", 2, 15),
    case(
        "GetInput executionTimeout 3",
        "<Response>\n  <GetInput action=\"https://a.example/in\" inputType=\"dtmf\" executionTimeout=\"3\"/>\n</Response>",
        "E0302",
        2,
        78,
    ),
    case(
        "MultiPartyCall maxParticipants 11",
        "<Response>\n  <MultiPartyCall role=\"agent\" maxParticipants=\"11\">Team</MultiPartyCall>\n</Response>",
        "E0302",
        2,
        49,
    ),
    case("Hangup schedule -5", "<Response>\n  <Hangup schedule=\"-5\"/>\n</Response>", "E0302", 2, 21),
    // ---------------------------------------------------------------- E0303 not in enum
    case("Record fileFormat ogg", "<Response>\n  <Record fileFormat=\"ogg\"/>\n</Response>", "E0303", 2, 23),
    case(
        "Stream audioTrack left",
        "<Response>\n  <Stream audioTrack=\"left\">wss://s.example/a</Stream>\n</Response>",
        "E0303",
        2,
        23,
    ),
    case(
        "MultiPartyCall role boss",
        "<Response>\n  <MultiPartyCall role=\"boss\">Team</MultiPartyCall>\n</Response>",
        "E0303",
        2,
        25,
    ),
    case("Hangup reason later", "<Response>\n  <Hangup reason=\"later\"/>\n</Response>", "E0303", 2, 19),
    // ---------------------------------------------------------------- E0304 method
    case(
        "Redirect method PUT",
        "<Response>\n  <Redirect method=\"PUT\">https://a.example/next</Redirect>\n</Response>",
        "E0304",
        2,
        21,
    ),
    case(
        "lower-case get",
        "<Response>\n  <GetDigits method=\"get\" action=\"https://a.example/x\"/>\n</Response>",
        "E0304",
        2,
        22,
    ),
    // ---------------------------------------------------------------- E0305 URL
    case(
        "mailto action",
        "<Response>\n  <GetDigits action=\"mailto:ops@a.example\">\n    <Speak>Press 1</Speak>\n  </GetDigits>\n</Response>",
        "E0305",
        2,
        22,
    ),
    case("URL with a space", "<Response>\n  <Redirect>next step.xml</Redirect>\n</Response>", "E0305", 2, 13),
    case("ftp Play body", "<Response>\n  <Play>\n    ftp://a.example/a.mp3\n  </Play>\n</Response>", "E0305", 3, 5),
    case(
        "https Stream body",
        "<Response>\n  <Stream bidirectional=\"false\">https://s.example/audio</Stream>\n</Response>",
        "E0305",
        2,
        33,
    ),
    case("body after a character reference", "<Response>\n  <Play>&#32; ftp://x</Play>\n</Response>", "E0305", 2, 15),
    case(
        "ftp Play body in CDATA",
        "<Response>\n  <Speak><![CDATA[ x ]]></Speak><Play><![CDATA[  ftp://x ]]></Play>\n</Response>",
        "E0305",
        2,
        50,
    ),
    case(
        "ftp Play body with CRLF line ends",
        "<Response>\r\n  <Play>\r\n    ftp://a.example/a.mp3\r\n  </Play>\r\n</Response>\r\n",
        "E0305",
        3,
        5,
    ),
    case(
        "ftp statusCallbackUrl",
        "<Response>\n  <Stream statusCallbackUrl=\"ftp://x/y\">wss://a.example/s</Stream>\n</Response>",
        "E0305",
        2,
        30,
    ),
    // ---------------------------------------------------------------- E0306 duplicate
    case(
        "duplicate loop",
        "<Response>\n  <Play loop=\"2\" loop=\"3\">https://a.example/a.mp3</Play>\n</Response>",
        "E0306",
        2,
        18,
    ),
    case(
        "duplicate on another line",
        "<Response>\n  <Conference muted=\"true\"\n              muted=\"false\">Room</Conference>\n</Response>",
        "E0306",
        3,
        15,
    ),
    // ---------------------------------------------------------------- E0307 boolean
    case(
        "Conference muted yes",
        "<Response>\n  <Conference muted=\"yes\">Room</Conference>\n</Response>",
        "E0307",
        2,
        22,
    ),
    case("spaces around =", "<Response>\n  <Conference  muted = \"yes\" >R</Conference>\n</Response>", "E0307", 2, 25),
    case("DTMF async 1", "<Response>\n  <DTMF async=\"1\">12</DTMF>\n</Response>", "E0307", 2, 16),
    // ---------------------------------------------------------------- E0308 bad value
    case(
        "enterSound beep:3",
        "<Response>\n  <Conference enterSound=\"beep:3\">Room</Conference>\n</Response>",
        "E0308",
        2,
        27,
    ),
    case(
        "validDigits 12a",
        "<Response>\n  <GetDigits action=\"https://a.example/d\" validDigits=\"12a\"/>\n</Response>",
        "E0308",
        2,
        56,
    ),
    case("DTMF body with x", "<Response>\n  <DTMF>12x4</DTMF>\n</Response>", "E0308", 2, 9),
    case("User body not sip", "<Response>\n  <Dial><User>alice@example.com</User></Dial>\n</Response>", "E0308", 2, 15),
    case("Speak voice Robot", "<Response>\n  <Speak voice=\"Robot\">x</Speak>\n</Response>", "E0308", 2, 17),
    case("break time fast", "<Response>\n  <Speak><break time=\"fast\"/></Speak>\n</Response>", "E0308", 2, 23),
    // ---------------------------------------------------------------- E0309 conflict
    case(
        "Wait minSilence not below length",
        "<Response>\n  <Wait length=\"2\" silence=\"true\" minSilence=\"2000\"/>\n</Response>",
        "E0309",
        2,
        4,
    ),
    case(
        "bidirectional Stream with both tracks",
        "<Response>\n  <Stream bidirectional=\"true\" audioTrack=\"both\">wss://s.example/a</Stream>\n</Response>",
        "E0309",
        2,
        4,
    ),
    // ---------------------------------------------------------------- W0101 unknown attribute
    case(
        "unknown attribute colour",
        "<Response>\n  <Speak voice=\"WOMAN\" colour=\"red\">Hi</Speak>\n</Response>",
        "W0101",
        2,
        24,
    ),
    case(
        "unknown attribute after non-ASCII value",
        "<Response>\n  <Message src=\"1\" dst=\"2\" note=\"ünï\" x=\"y\">x</Message>\n</Response>",
        "W0101",
        2,
        39,
    )
    .not_first(),
    // ---------------------------------------------------------------- W0102 ignored text
    case("text inside Wait", "<Response>\n  <Wait length=\"2\">  two seconds</Wait>\n</Response>", "W0102", 2, 22),
    case("text inside Hangup", "<Response>\n  <Hangup>\n    bye\n  </Hangup>\n</Response>", "W0102", 3, 5),
    case("text inside Record", "<Response><Record>é</Record></Response>", "W0102", 1, 19),
    // ---------------------------------------------------------------- W0103 empty optional value
    case(
        "empty Dial callbackUrl",
        "<Response>\n  <Dial callbackUrl=\"\"><Number>15550001</Number></Dial>\n</Response>",
        "W0103",
        2,
        22,
    ),
    case("empty Record timeout", "<Response>\n  <Record timeout=\"\"/>\n</Response>", "W0103", 2, 20),
    case(
        "blank Speak voice after é",
        "<Response><Speak>é</Speak><Speak voice=\"  \">x</Speak></Response>",
        "W0103",
        1,
        41,
    ),
    case(
        "empty GetInput inputType",
        "<Response>\n  <GetInput action=\"https://a.example/in\" inputType=\"\"/>\n</Response>",
        "W0103",
        2,
        54,
    )
    .not_first(),
    // ---------------------------------------------------------------- W0104 space before declaration
    case("declaration after a newline", "\n<?xml version=\"1.0\"?>\n<Response/>", "W0104", 1, 1),
    case("declaration after spaces", "  <?xml version=\"1.0\"?><Response/>", "W0104", 1, 1),
    // ---------------------------------------------------------------- W0105 key separators
    case(
        "validDigits with commas",
        "<Response>\n  <GetDigits action=\"https://a.example/d\" validDigits=\"1,2,3\"/>\n</Response>",
        "W0105",
        2,
        56,
    ),
    case("Record finishOnKey with spaces", "<Response>\n  <Record finishOnKey=\"# *\"/>\n</Response>", "W0105", 2, 24),
    // ---------------------------------------------------------------- W0106 relative URL
    case(
        "relative action",
        "<Response>\n  <GetDigits action=\"/digits\">\n    <Speak>Press 1</Speak>\n  </GetDigits>\n</Response>",
        "W0106",
        2,
        22,
    ),
    case("relative php action", "<Response>\n  <Record action=\"next.php\"/>\n</Response>", "W0106", 2, 19),
    case("relative Redirect body", "<Response>\n  <Redirect>\n    /menu/\n  </Redirect>\n</Response>", "W0106", 3, 5),
    case("relative Play body", "<Response><Play>audio/hello.mp3</Play></Response>", "W0106", 1, 17),
    case(
        "relative waitSound",
        "<Response>\n  <Conference waitSound=\"hold.xml\">Room</Conference>\n</Response>",
        "W0106",
        2,
        26,
    ),
    case(
        "relative dialMusic",
        "<Response>\n  <Dial dialMusic=\"ring.xml\"><Number>1555</Number></Dial>\n</Response>",
        "W0106",
        2,
        20,
    ),
    // ---------------------------------------------------------------- W0107 ignored beep
    case(
        "Wait beep without silence false",
        "<Response>\n  <Wait length=\"5\" silence=\"true\" beep=\"true\"/>\n</Response>",
        "W0107",
        2,
        4,
    ),
    // ---------------------------------------------------------------- W0108 default inputType
    case(
        "GetInput without inputType",
        "<Response>\n  <GetInput action=\"https://a.example/in\"/>\n</Response>",
        "W0108",
        2,
        4,
    ),
];

fn show(diags: &[plivo_flow::diagnostic::Diagnostic]) -> String {
    if diags.is_empty() {
        return "      (no diagnostics)\n".to_owned();
    }
    diags.iter().map(|d| format!("      {} {}:{} {}\n", d.code, d.line, d.column, d.message)).collect()
}

#[test]
fn every_case_reports_its_diagnostic() {
    let mut failures = Vec::new();
    for c in CASES {
        let parsed = xml::parse(c.xml);
        let diags = &parsed.diagnostics;
        let severity = if c.code.starts_with('W') { Severity::Warning } else { Severity::Error };
        let found = diags
            .iter()
            .any(|d| d.code.as_str() == c.code && d.line == c.line && d.column == c.column && d.severity == severity);
        let first_ok = c.not_first || diags.first().is_some_and(|d| d.code.as_str() == c.code);
        if !found || !first_ok {
            let why = if !found { "expected diagnostic missing" } else { "expected diagnostic is not the first" };
            failures.push(format!(
                "  {}: want {} at {}:{} ({why})\n    xml: {:?}\n    got:\n{}",
                c.name,
                c.code,
                c.line,
                c.column,
                c.xml,
                show(diags)
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}

#[test]
fn case_names_are_unique_and_codes_exist() {
    let mut seen = std::collections::HashSet::new();
    for c in CASES {
        assert!(seen.insert(c.name), "duplicate case name `{}`", c.name);
        assert!(Code::from_code(c.code).is_some(), "case `{}`: unknown code {}", c.name, c.code);
    }
    assert!(CASES.len() >= 50, "only {} cases", CASES.len());
}

#[test]
fn every_code_is_covered() {
    // E0103 and E0104 need options or generated input; they have their own tests below.
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !matches!(*c, "E0103" | "E0104"))
        .filter(|c| !CASES.iter().any(|k| k.code == *c))
        .collect();
    assert!(missing.is_empty(), "codes without a case: {missing:?}");
}

#[test]
fn too_large() {
    let src = "<Response>\n  <Speak>This document is longer than thirty-two bytes.</Speak>\n</Response>";
    let opts = ParseOptions { max_bytes: 32, ..ParseOptions::default() };
    let parsed = xml::parse_with(src, &opts);
    let d = parsed.diagnostics.first().unwrap_or_else(|| panic!("no diagnostic"));
    assert_eq!((d.code, d.line, d.column), (Code::TooLarge, 1, 1), "{}", show(&parsed.diagnostics));
    assert_eq!(parsed.diagnostics.len(), 1, "{}", show(&parsed.diagnostics));
    // At the limit exactly it is accepted.
    let ok = xml::parse_with("<Response/>", &ParseOptions { max_bytes: 11, ..ParseOptions::default() });
    assert!(ok.diagnostics.is_empty(), "{}", show(&ok.diagnostics));
}

#[test]
fn too_deep() {
    // <Response> (depth 1) > <Speak> (depth 2) > <prosody> × 31: prosody number k is at depth
    // 2 + k, so the 31st (depth 33) breaks the default limit of 32. Each <prosody> is on its
    // own line without indentation: prosody k is on line 2 + k, so the 31st is on line 33.
    let mut src = String::from("<Response>\n<Speak>\n");
    for _ in 0..31 {
        src.push_str("<prosody rate=\"slow\">\n");
    }
    src.push_str("deep");
    for _ in 0..31 {
        src.push_str("</prosody>");
    }
    src.push_str("</Speak>\n</Response>");
    assert_eq!(ParseOptions::default().max_depth, 32);
    let parsed = xml::parse(&src);
    let errors: Vec<_> = parsed.errors().collect();
    assert_eq!(errors.len(), 1, "{}", show(&parsed.diagnostics));
    // Reported at the name of the first tag past the limit (column 2 of line 33).
    assert_eq!(
        (errors[0].code, errors[0].line, errors[0].column),
        (Code::TooDeep, 33, 2),
        "{}",
        show(&parsed.diagnostics)
    );

    // One level less is fine.
    let ok = src.replacen("<prosody rate=\"slow\">\n", "", 1).replacen("</prosody>", "", 1);
    let parsed = xml::parse(&ok);
    assert!(!parsed.has_errors(), "{}", show(&parsed.diagnostics));

    // A small limit: depth 3 is the first <prosody>; its name is at 3:6.
    let small = "<Response>\n  <Speak>\n    <prosody rate=\"slow\">x</prosody>\n  </Speak>\n</Response>";
    let parsed = xml::parse_with(small, &ParseOptions { max_depth: 2, ..ParseOptions::default() });
    let d = parsed.diagnostics.first().unwrap_or_else(|| panic!("no diagnostic"));
    assert_eq!((d.code, d.line, d.column), (Code::TooDeep, 3, 6), "{}", show(&parsed.diagnostics));
}

/// A value that is present but invalid is reported once, as invalid: the attribute is not
/// also "missing".
#[test]
fn invalid_required_attribute_is_not_also_missing() {
    let cases = [
        "<Response>\n  <MultiPartyCall role=\"boss\">Team</MultiPartyCall>\n</Response>",
        "<Response>\n  <GetInput action=\"/rel\" inputType=\"speech\"/>\n</Response>",
        "<Response>\n  <GetInput action=\"https://a.example/in\" inputType=\"voice\"/>\n</Response>",
    ];
    let mut failures = Vec::new();
    for src in cases {
        let parsed = xml::parse(src);
        if parsed.diagnostics.iter().any(|d| d.code == Code::MissingAttribute) {
            failures.push(format!("  {src:?}\n{}", show(&parsed.diagnostics)));
        }
    }
    assert!(failures.is_empty(), "spurious E0207 for a present attribute:\n{}", failures.join("\n"));
}

/// One minimal valid document per element; `{}` is where the attribute under test goes.
/// Attributes the template already spells (required ones) are not tested through it.
fn templates() -> Vec<(&'static str, &'static [&'static str], &'static str)> {
    use xml::*;
    vec![
        ("Speak", Speak::NAMES, "<Response><Speak {}>x</Speak></Response>"),
        ("Play", Play::NAMES, "<Response><Play {}>https://a.example/a.mp3</Play></Response>"),
        ("Wait", Wait::NAMES, "<Response><Wait length=\"5\" {}/></Response>"),
        ("DTMF", Dtmf::NAMES, "<Response><DTMF {}>12</DTMF></Response>"),
        ("GetDigits", GetDigits::NAMES, "<Response><GetDigits {}/></Response>"),
        ("GetInput", GetInput::NAMES, "<Response><GetInput action=\"https://a.example/in\" {}/></Response>"),
        ("Record", Record::NAMES, "<Response><Record {}/></Response>"),
        ("Dial", Dial::NAMES, "<Response><Dial {}><Number>1555</Number></Dial></Response>"),
        ("Number", Number::NAMES, "<Response><Dial><Number {}>1555</Number></Dial></Response>"),
        ("User", User::NAMES, "<Response><Dial><User {}>sip:a@b.example</User></Dial></Response>"),
        ("Redirect", Redirect::NAMES, "<Response><Redirect {}>https://a.example/x</Redirect></Response>"),
        ("Hangup", Hangup::NAMES, "<Response><Hangup {}/></Response>"),
        ("Conference", Conference::NAMES, "<Response><Conference {}>Room</Conference></Response>"),
        (
            "MultiPartyCall",
            MultiPartyCall::NAMES,
            "<Response><MultiPartyCall role=\"agent\" {}>T</MultiPartyCall></Response>",
        ),
        ("Message", Message::NAMES, "<Response><Message {}>hi</Message></Response>"),
        ("Stream", Stream::NAMES, "<Response><Stream {}>wss://s.example/a</Stream></Response>"),
        ("break", Break::NAMES, "<Response><Speak><break {}/></Speak></Response>"),
        ("emphasis", Emphasis::NAMES, "<Response><Speak><emphasis {}>x</emphasis></Speak></Response>"),
        ("lang", Lang::NAMES, "<Response><Speak><lang {}>x</lang></Speak></Response>"),
        ("phoneme", Phoneme::NAMES, "<Response><Speak><phoneme {}>x</phoneme></Speak></Response>"),
        ("prosody", Prosody::NAMES, "<Response><Speak><prosody {}>x</prosody></Speak></Response>"),
        ("say-as", SayAs::NAMES, "<Response><Speak><say-as {}>x</say-as></Speak></Response>"),
        ("sub", Sub::NAMES, "<Response><Speak><sub {}>x</sub></Speak></Response>"),
        ("w", Word::NAMES, "<Response><Speak><w {}>x</w></Speak></Response>"),
    ]
}

/// Every attribute of every element in its template, except those the template spells.
fn each_attribute() -> Vec<(&'static str, &'static str, &'static str)> {
    let mut out = Vec::new();
    for (element, names, template) in templates() {
        for name in names {
            if !template.contains(&format!(" {name}=")) {
                out.push((element, *name, template));
            }
        }
    }
    assert!(out.len() > 150, "{}", out.len());
    out
}

fn with_attr(template: &str, name: &str, value: &str) -> String {
    template.replacen("{}", &format!("{name}=\"{value}\""), 1)
}

/// Attributes whose empty value is a documented setting rather than "unset".
const EMPTY_HAS_MEANING: &[&str] = &["finishOnKey", "enterSound", "exitSound"];

/// For EVERY optional attribute an empty (or blank) value means "absent": no error, warning
/// W0103 at the value, and the AST of the document without the attribute.
#[test]
fn every_empty_optional_attribute_means_unset() {
    let mut failures = Vec::new();
    for (element, name, template) in each_attribute() {
        let without = xml::parse(&template.replacen("{}", "", 1));
        assert!(!without.has_errors(), "{template}: {}", show(&without.diagnostics));
        for empty in ["", "  "] {
            let src = with_attr(template, name, empty);
            let parsed = xml::parse(&src);
            let warned = parsed.diagnostics.iter().any(|d| d.code == Code::EmptyValue);
            let ok = if EMPTY_HAS_MEANING.contains(&name) {
                !parsed.has_errors()
            } else {
                !parsed.has_errors() && warned && parsed.document == without.document
            };
            if !ok {
                failures.push(format!("  <{element} {name}={empty:?}>\n{}", show(&parsed.diagnostics)));
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// Every URL-valued attribute, and only those, takes a relative reference with W0106.
#[test]
fn every_url_attribute_accepts_a_relative_url() {
    const URL_ATTRS: &[&str] = &[
        "action",
        "agentHoldMusicUrl",
        "callbackUrl",
        "confirmSound",
        "customerHoldMusicUrl",
        "dialMusic",
        "enterSound",
        "exitSound",
        "interimSpeechResultsCallback",
        "invalidDigitsSound",
        "onExitActionUrl",
        "recordingCallbackUrl",
        "startRecordingAudio",
        "statusCallbackUrl",
        "stopRecordingAudio",
        "transcriptionUrl",
        "waitMusicUrl",
        "waitSound",
    ];
    let mut failures = Vec::new();
    for (element, name, template) in each_attribute() {
        for rel in ["next.xml", "/menu/", "../a/b.php?x=1"] {
            let parsed = xml::parse(&with_attr(template, name, rel));
            let relative = parsed.diagnostics.iter().filter(|d| d.code == Code::RelativeUrl).count();
            let ok = if URL_ATTRS.contains(&name) { !parsed.has_errors() && relative == 1 } else { relative == 0 };
            if !ok {
                failures.push(format!("  <{element} {name}={rel:?}>\n{}", show(&parsed.diagnostics)));
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// Every spelled value is accepted in any case, like booleans, and means the same.
#[test]
fn every_spelled_value_ignores_case() {
    const SPELLINGS: &[&str] = &[
        "mp3",
        "wav",
        "mono",
        "stereo",
        "auto",
        "hybrid",
        "manual",
        "dtmf",
        "speech",
        "dtmf speech",
        "default",
        "phone_call",
        "command_and_search",
        "rejected",
        "busy",
        "voice",
        "whatsapp",
        "agent",
        "supervisor",
        "customer",
        "ai-agent",
        "sms",
        "inbound",
        "outbound",
        "both",
        "strong",
        "x-weak",
        "moderate",
        "reduced",
        "ipa",
        "x-sampa",
        "none",
        "real",
        "beep:1",
        "audio/x-mulaw;rate=8000",
        "true",
        "false",
    ];
    let mut failures = Vec::new();
    let mut checked = 0;
    for (element, name, template) in each_attribute() {
        // Free text keeps its case: not a spelled value.
        if xml::parse(&with_attr(template, name, "zz-not-a-value")).diagnostics.is_empty() {
            continue;
        }
        for lower in SPELLINGS {
            let base = xml::parse(&with_attr(template, name, lower));
            if !base.diagnostics.is_empty() {
                continue;
            }
            for other in
                [lower.to_uppercase(), lower.get(..1).unwrap_or("").to_uppercase() + lower.get(1..).unwrap_or("")]
            {
                checked += 1;
                let parsed = xml::parse(&with_attr(template, name, &other));
                if parsed.has_errors() || parsed.document != base.document {
                    failures.push(format!("  <{element} {name}={other:?}>\n{}", show(&parsed.diagnostics)));
                }
            }
        }
    }
    assert!(checked > 100, "{checked}");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

/// A misspelt attribute or element gets a "did you mean".
#[test]
fn typos_get_a_suggestion() {
    let cases = [
        (
            "<Response><Dial callback_url=\"https://a.example/c\"><Number>1</Number></Dial></Response>",
            "did you mean `callbackUrl`?",
        ),
        (
            "<Response><Dial CallbackURL=\"https://a.example/c\"><Number>1</Number></Dial></Response>",
            "did you mean `callbackUrl`?",
        ),
        ("<Response><GetDigits numDigit=\"3\"/></Response>", "did you mean `numDigits`?"),
        ("<Response><Record maxLenght=\"3\"/></Response>", "did you mean `maxLength`?"),
        (
            "<Response><Conference wait_sound=\"https://a.example/w\">R</Conference></Response>",
            "did you mean `waitSound`?",
        ),
        ("<Response><Dial><Numbr>1</Numbr></Dial></Response>", "did you mean <Number>?"),
        ("<Response><Getdigits/></Response>", "did you mean <GetDigits>?"),
        ("<Response><Say>x</Say></Response>", "did you mean <Speak>?"),
    ];
    for (src, hint) in cases {
        let parsed = xml::parse(src);
        assert!(parsed.diagnostics.iter().any(|d| d.message.contains(hint)), "{src}\n{}", show(&parsed.diagnostics));
    }
    // No far-fetched suggestion.
    let parsed = xml::parse("<Response><Dial colour=\"red\"><Number>1</Number></Dial></Response>");
    assert!(
        parsed.diagnostics.first().is_some_and(|d| !d.message.contains("did you mean")),
        "{}",
        show(&parsed.diagnostics)
    );
}

/// A document declaring ISO-8859-1 (or windows-1252) and encoded so is decoded; positions
/// are those of the original bytes (one byte per character).
#[test]
fn declared_single_byte_encodings_are_decoded() {
    for label in ["ISO-8859-1", "windows-1252", "latin1"] {
        let mut bytes = format!("<?xml version=\"1.0\" encoding=\"{label}\"?>\n<Response><Speak>Caf").into_bytes();
        bytes.push(0xE9); // é in Latin-1
        bytes.extend_from_slice(b"</Speak><Foo/></Response>");
        let parsed = xml::parse_bytes(&bytes, &ParseOptions::default());
        let d = parsed.diagnostics.first().unwrap_or_else(|| panic!("{label}: no diagnostic"));
        // `<Response><Speak>Café</Speak><` is 30 characters: Foo is at column 31.
        assert_eq!((d.code, d.line, d.column), (Code::UnknownElement, 2, 31), "{label}: {}", show(&parsed.diagnostics));
        let foo = bytes.windows(3).position(|w| w == b"Foo").unwrap_or(0);
        assert_eq!((d.span.start, d.span.end), (foo, foo + 3), "{label}: span in original bytes");
        assert_eq!(parsed.diagnostics.len(), 1, "{}", show(&parsed.diagnostics));
        let Some(xml::Verb::Speak(s)) = parsed.document.verbs.first() else { panic!("{label}: no Speak") };
        assert_eq!(s.text(), "Café");
        // The rendering text has the same lines and columns.
        let text = xml::source_text(&bytes, &ParseOptions::default());
        let out = plivo_flow::diagnostic::render("f.xml", &text, d);
        assert!(out.contains("<Response><Speak>Café</Speak><Foo/></Response>"), "{out}");
        assert!(out.ends_with(&format!("{}^^^\n", " ".repeat(30))), "{out}");
    }
    // The size limit is on the bytes: 60,000 Latin-1 `é` (120,000 bytes of UTF-8) pass.
    let mut bytes = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><Response><Speak>".to_vec();
    bytes.extend(std::iter::repeat_n(0xE9u8, 60_000));
    bytes.extend_from_slice(b"</Speak></Response>");
    let parsed = xml::parse_bytes(&bytes, &ParseOptions::default());
    assert!(parsed.diagnostics.is_empty(), "{}", show(&parsed.diagnostics));
    // Without the declaration the same bytes are invalid UTF-8.
    let mut bytes = b"<Response><Speak>Caf".to_vec();
    bytes.push(0xE9);
    bytes.extend_from_slice(b"</Speak></Response>");
    let parsed = xml::parse_bytes(&bytes, &ParseOptions::default());
    assert_eq!(parsed.diagnostics.first().map(|d| (d.code, d.column)), Some((Code::Malformed, 21)));
}
