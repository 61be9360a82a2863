//! Property: for every valid generated AST `d`, `parse(write(d)) == d` with no diagnostics.
//!
//! Attributes are drawn from a shared pool of spellings, keeping, per attribute, the ones
//! that attribute accepts; bodies and `<Speak>` content (text with nested SSML, respecting the
//! nesting matrix) are generated with awkward characters (`& < > " '`, tabs, newlines, é).

use plivo_flow::xml::values::Url;
use plivo_flow::xml::*;
use proptest::prelude::*;
use proptest::sample::Index;

/// Candidate spellings; each attribute keeps those it accepts.
const POOL: &[&str] = &[
    "true",
    "false",
    "True",
    "FALSE",
    "0",
    "1",
    "2",
    "3",
    "5",
    "10",
    "15",
    "20",
    "32",
    "60",
    "85",
    "300",
    "1800",
    "14400",
    "GET",
    "POST",
    "",
    "none",
    "beep:1",
    "beep:2",
    "#",
    "*",
    "5#",
    "123",
    "1234567890*#",
    "https://app.example.com/a?x=1&y=\"2\"",
    "http://h.example:8080/p",
    "mp3",
    "wav",
    "mono",
    "stereo",
    "auto",
    "hybrid",
    "manual",
    "compact",
    "full",
    "json",
    "dtmf",
    "speech",
    "dtmf speech",
    "default",
    "phone_call",
    "rejected",
    "busy",
    "voice",
    "whatsapp",
    "agent",
    "Supervisor",
    "customer",
    "ai-agent",
    "mpc-state-changes,participant-speak-events",
    "sms",
    "inbound",
    "outbound",
    "both",
    "audio/x-mulaw;rate=8000",
    "WOMAN",
    "MAN",
    "Polly.Joey",
    "en-US",
    "fr-FR",
    "real",
    "a=1,b2=x",
    "1,23,#9",
    "+14155550100",
    "Alice & Bob <ops>",
    "tab\there",
    "line\nbreak",
    "500ms",
    "strong",
    "x-weak",
    "moderate",
    "ipa",
    "təˈmeɪtoʊ",
    "+6dB",
    "slow",
    "80%",
    "-10%",
    "telephone",
    "mdy",
    "amazon:VB",
    "W3C alias",
    "password123",
    "rfc2833",
];

/// Spellings that stress escaping, used for free-text attributes.
const FREE_TEXT: &[&str] = &["Alice & Bob <ops>", "tab\there", "line\nbreak", "q\"uote' &amp;", "plain", "é ü"];

/// Attributes whose empty value is a setting; elsewhere an empty value means "unset" (W0103).
const EMPTY_HAS_MEANING: &[&str] = &["finishOnKey", "enterSound", "exitSound"];

fn accepted<E: Attrs>(name: &str) -> Vec<&'static str> {
    // Accepted without a warning (a relative URL would carry W0106).
    let ok = |v: &&str| {
        (!v.is_empty() || EMPTY_HAS_MEANING.contains(&name)) && matches!(E::default().set_attr(name, v), Some(Ok(None)))
    };
    let all: Vec<&'static str> = POOL.iter().copied().filter(ok).collect();
    if all.len() == POOL.len() - 1 {
        // A free-text attribute: draw from the hard cases.
        FREE_TEXT.iter().copied().filter(ok).collect()
    } else {
        all
    }
}

/// An element of type `E` with a random set of valid attributes written.
fn attrs<E: Attrs + Clone + std::fmt::Debug + 'static>() -> BoxedStrategy<E> {
    let table: Vec<(&'static str, Vec<&'static str>)> =
        E::NAMES.iter().map(|n| (*n, accepted::<E>(n))).filter(|(_, v)| !v.is_empty()).collect();
    if table.is_empty() {
        return Just(E::default()).boxed();
    }
    let len = table.len();
    prop::collection::vec((any::<Index>(), any::<Index>()), 0..=len.min(10))
        .prop_map(move |picks| {
            let mut e = E::default();
            for (a, v) in picks {
                let (name, vals) = &table[a.index(len)];
                let r = e.set_attr(name, vals[v.index(vals.len())]);
                assert!(matches!(r, Some(Ok(None))));
            }
            e
        })
        .boxed()
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9&<>\"' é\n\t.,!?-]{0,16}"
}

fn body() -> impl Strategy<Value = String> {
    text().prop_map(|t| {
        let t = t.trim_matches([' ', '\t', '\n', '\r']).to_owned();
        if t.is_empty() { "room 1".to_owned() } else { t }
    })
}

fn url() -> impl Strategy<Value = Url> {
    prop::sample::select(vec![
        "https://cdn.example.com/a.mp3",
        "http://h.example:8080/x?y=1&z=<2>",
        "HTTPS://UPPER.example/é",
    ])
    .prop_map(|u| values::FromXml::from_xml(u).expect("valid url"))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tag {
    Break,
    Emphasis,
    Lang,
    P,
    Phoneme,
    Prosody,
    S,
    SayAs,
    Sub,
    W,
}

/// The SSML nesting matrix (spec §1.1), as the test's own model.
fn children(parent: Option<Tag>) -> &'static [Tag] {
    use Tag::*;
    const ALL: &[Tag] = &[Break, Emphasis, Lang, P, Phoneme, Prosody, S, SayAs, Sub, W];
    match parent {
        None | Some(Lang) | Some(Prosody) => ALL,
        Some(P) => &[Break, Emphasis, Lang, Phoneme, Prosody, SayAs, Sub, S, W],
        Some(Emphasis) | Some(S) => &[Break, Emphasis, Lang, Phoneme, Prosody, SayAs, Sub, W],
        Some(W) => &[Break, Emphasis, Phoneme, Prosody, SayAs, Sub],
        Some(Break) | Some(Phoneme) | Some(SayAs) | Some(Sub) => &[],
    }
}

fn ssml(tag: Tag, depth: u32) -> BoxedStrategy<Ssml> {
    let inner = content(Some(tag), depth);
    match tag {
        Tag::Break => attrs::<Break>().prop_map(Ssml::Break).boxed(),
        Tag::Emphasis => (attrs::<Emphasis>(), inner)
            .prop_map(|(mut e, c)| {
                e.content = c;
                Ssml::Emphasis(e)
            })
            .boxed(),
        Tag::Lang => (attrs::<Lang>(), inner)
            .prop_map(|(mut e, c)| {
                e.content = c;
                Ssml::Lang(e)
            })
            .boxed(),
        Tag::P => (attrs::<Paragraph>(), inner)
            .prop_map(|(mut e, c)| {
                e.content = c;
                Ssml::P(e)
            })
            .boxed(),
        Tag::Phoneme => (attrs::<Phoneme>(), inner)
            .prop_map(|(mut e, c)| {
                e.content = c;
                Ssml::Phoneme(e)
            })
            .boxed(),
        Tag::Prosody => (attrs::<Prosody>(), inner)
            .prop_map(|(mut e, c)| {
                e.content = c;
                Ssml::Prosody(e)
            })
            .boxed(),
        Tag::S => (attrs::<Sentence>(), inner)
            .prop_map(|(mut e, c)| {
                e.content = c;
                Ssml::S(e)
            })
            .boxed(),
        Tag::SayAs => (attrs::<SayAs>(), inner)
            .prop_map(|(mut e, c)| {
                e.content = c;
                Ssml::SayAs(e)
            })
            .boxed(),
        Tag::Sub => (attrs::<Sub>(), inner)
            .prop_map(|(mut e, c)| {
                e.content = c;
                Ssml::Sub(e)
            })
            .boxed(),
        Tag::W => (attrs::<Word>(), inner)
            .prop_map(|(mut e, c)| {
                e.content = c;
                Ssml::W(e)
            })
            .boxed(),
    }
}

/// Mixed content under `parent`, normalized the way the parser builds it: adjacent text
/// merged, no empty text nodes.
fn content(parent: Option<Tag>, depth: u32) -> BoxedStrategy<Vec<SpeakNode>> {
    let kids = children(parent);
    let node: BoxedStrategy<SpeakNode> = if depth == 0 || kids.is_empty() {
        text().prop_map(|t| SpeakNode::Text(t.into())).boxed()
    } else {
        let ssml_node =
            prop::sample::select(kids.to_vec()).prop_flat_map(move |t| ssml(t, depth - 1)).prop_map(SpeakNode::Ssml);
        prop_oneof![2 => text().prop_map(|t| SpeakNode::Text(t.into())), 1 => ssml_node].boxed()
    };
    prop::collection::vec(node, 0..4).prop_map(normalize).boxed()
}

fn normalize(nodes: Vec<SpeakNode>) -> Vec<SpeakNode> {
    let mut out: Vec<SpeakNode> = Vec::new();
    for n in nodes {
        match (out.last_mut(), n) {
            (_, SpeakNode::Text(t)) if t.is_empty() => {}
            (Some(SpeakNode::Text(prev)), SpeakNode::Text(t)) => *prev = format!("{prev}{t}").into(),
            (_, n) => out.push(n),
        }
    }
    out
}

fn speak() -> impl Strategy<Value = Speak> {
    (attrs::<Speak>(), content(None, 3)).prop_map(|(mut s, c)| {
        let mut c = c;
        // <Speak> content is trimmed at both ends.
        if let Some(SpeakNode::Text(t)) = c.first_mut() {
            *t = t.trim_start_matches([' ', '\t', '\n', '\r']).into();
        }
        if let Some(SpeakNode::Text(t)) = c.last_mut() {
            *t = t.trim_end_matches([' ', '\t', '\n', '\r']).into();
        }
        s.content = normalize(c).into();
        s
    })
}

fn play() -> impl Strategy<Value = Play> {
    (attrs::<Play>(), url()).prop_map(|(mut p, u)| {
        p.url = Some(u);
        p
    })
}

fn wait() -> impl Strategy<Value = Wait> {
    attrs::<Wait>().prop_map(|mut w| {
        // Keep clear of the documented conflicts (tested elsewhere).
        if w.silence
            && (u64::from(w.min_silence) >= u64::from(w.length) * 1000 || w.beep != values::WaitBeep::Bool(false))
        {
            w.silence = false;
        }
        w
    })
}

fn prompt() -> impl Strategy<Value = Prompt> {
    prop_oneof![speak().prop_map(Prompt::Speak), play().prop_map(Prompt::Play), wait().prop_map(Prompt::Wait)]
}

fn target() -> impl Strategy<Value = DialTarget> {
    prop_oneof![
        (attrs::<Number>(), prop::sample::select(vec!["14155550100", "+442071234567"])).prop_map(|(mut n, b)| {
            n.number = values::FromXml::from_xml(b).ok();
            DialTarget::Number(n)
        }),
        (attrs::<User>(), prop::sample::select(vec!["sip:alice@phone.example.com", "sips:b@x"])).prop_map(
            |(mut u, b)| {
                u.uri = values::FromXml::from_xml(b).ok();
                DialTarget::User(u)
            }
        ),
    ]
}

fn simple_verb() -> impl Strategy<Value = Verb> {
    prop_oneof![
        speak().prop_map(Verb::Speak),
        play().prop_map(Verb::Play),
        wait().prop_map(Verb::Wait),
        (attrs::<Dtmf>(), prop::sample::select(vec!["1", "12w#*W", "A9"])).prop_map(|(mut d, b)| {
            d.digits = values::FromXml::from_xml(b).ok();
            Verb::Dtmf(d)
        }),
        (attrs::<GetDigits>(), prop::collection::vec(prompt(), 0..3)).prop_map(|(mut g, p)| {
            g.prompts = p;
            Verb::GetDigits(g)
        }),
        (attrs::<Redirect>(), url()).prop_map(|(mut r, u)| {
            r.url = Some(u);
            Verb::Redirect(r)
        }),
        (attrs::<Message>(), body()).prop_map(|(mut m, t)| {
            m.text = t.into();
            Verb::Message(m)
        }),
    ]
}

fn verb() -> impl Strategy<Value = Verb> {
    prop_oneof![
        simple_verb(),
        (attrs::<GetInput>(), prop::collection::vec(prompt(), 0..3), url()).prop_map(|(mut g, p, u)| {
            g.prompts = p;
            // Required attributes.
            g.set_attr("action", u.as_str());
            if !g.written.contains("inputType") {
                g.set_attr("inputType", "speech");
            }
            Verb::GetInput(Box::new(g))
        }),
        attrs::<Record>().prop_map(Verb::Record),
        (attrs::<Dial>(), prop::collection::vec(target(), 1..4)).prop_map(|(mut d, t)| {
            d.targets = t;
            Verb::Dial(Box::new(d))
        }),
        attrs::<Hangup>().prop_map(Verb::Hangup),
        (attrs::<PreAnswer>(), prop::collection::vec(simple_verb(), 0..4)).prop_map(|(mut p, v)| {
            p.verbs = v;
            Verb::PreAnswer(p)
        }),
        (attrs::<Conference>(), body()).prop_map(|(mut c, room)| {
            c.room = room.into();
            Verb::Conference(Box::new(c))
        }),
        (
            attrs::<MultiPartyCall>(),
            body(),
            prop::option::of(prop::collection::vec(prompt(), 0..3)),
            prop::option::of(prop::collection::vec(prompt(), 0..3)),
        )
            .prop_map(|(mut m, name, agent, customer)| {
                m.name = name.into();
                // The Go SDK's hold-music children.
                m.agent_hold_music = agent.map(|prompts| AgentHoldMusic { prompts, ..AgentHoldMusic::default() });
                m.customer_hold_music =
                    customer.map(|prompts| CustomerHoldMusic { prompts, ..CustomerHoldMusic::default() });
                if m.role.is_none() {
                    m.set_attr("role", "agent");
                }
                Verb::MultiPartyCall(Box::new(m))
            }),
        (attrs::<Stream>(), prop::sample::select(vec!["wss://s.example/a?x=1&y=2", "ws://h:1/"])).prop_map(
            |(mut s, u)| {
                s.url = values::FromXml::from_xml(u).ok();
                if s.bidirectional {
                    s.audio_track = values::AudioTrack::Inbound;
                }
                Verb::Stream(s)
            }
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn parse_of_write_is_identity(verbs in prop::collection::vec(verb(), 0..6)) {
        let doc = Document { verbs };
        let xml = write(&doc);
        let parsed = parse(&xml);
        prop_assert!(parsed.diagnostics.is_empty(), "{:#?}\n{}", parsed.diagnostics, xml);
        prop_assert_eq!(&parsed.document, &doc, "{}", xml);
    }

    #[test]
    fn json_round_trips(verbs in prop::collection::vec(verb(), 0..4)) {
        let doc = Document { verbs };
        let json = serde_json::to_string(&doc).expect("serialize");
        let back: Document = serde_json::from_str(&json).expect("deserialize");
        prop_assert_eq!(back, doc);
    }
}
