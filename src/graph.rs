//! A document's flow as a graph: its elements, the ways out of each (branches), the URLs it
//! fetches, drawn as Graphviz DOT or Mermaid, optionally marked with what a replay covered.
//!
//! Sans-IO and dependency-free: [`Graph::new`] reads a [`Document`]; [`Graph::to_dot`] and
//! [`Graph::to_mermaid`] write text. Branch names are the ones [`VerbOutcome::branch`](crate::engine::VerbOutcome::branch) gives the
//! engine's `VerbFinished` outcomes, so coverage (`runtime::Coverage`) maps what ran onto the
//! graph exactly.
//!
//! Branches per element:
//! - `<GetDigits>`/`<GetInput>`: `input` (→ the action, or the next element), `no input`
//!   (→ next, after the retries), `invalid` (only with `invalidDigitsSound`, the engine's one
//!   trace of a key outside `validDigits`; without it such a key is a failed attempt);
//! - `<Dial>`: `completed`, `busy`, `no-answer`, `failed` (→ the action, or next);
//! - `<Conference>`: `kicked`, `room ended`, `time limit`, `room full`, `hangup on star` (with
//!   `hangupOnStar`), `left alone` (with `stayAlone="false"`) → the action or next, and
//!   `member hung up` → end; `<MultiPartyCall>` the same but `hangup on star`, its action is
//!   `onExitActionUrl`;
//! - `<Record>` in the foreground: `recorded` (→ the action, or next).
//!
//! An action with `redirect="true"` replaces the document (the edge goes to the URL);
//! `redirect="false"` notifies it (a dotted edge) and goes on with the next element.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::xml::{Document, Verb};

/// Where an element sits: its index in `<Response>`, and inside `<PreAnswer>` when nested.
pub type Pos = (usize, Option<usize>);

/// What a node stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// Where the call enters the document.
    Start,
    /// An element of the document.
    Element(Pos),
    /// A fetched URL (action or `<Redirect>`).
    Url(String),
    /// The call ends (`<Hangup>`, the end of the document, a member hangup).
    End,
}

/// A node of a [`Graph`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// A stable identifier (`start`, `e3`, `e3_1`, `u0`, `ended`: `end` is a Mermaid keyword).
    pub id: String,
    /// What it stands for.
    pub kind: NodeKind,
    /// Its label.
    pub label: String,
}

/// An edge of a [`Graph`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// Source node index.
    pub from: usize,
    /// Target node index.
    pub to: usize,
    /// Its label (the branch name, `redirect`, `notify`, or empty for "next").
    pub label: String,
    /// The branch it stands for, when it is one.
    pub branch: Option<&'static str>,
    /// A `redirect="false"` notification: the call does not go there.
    pub notify: bool,
}

/// A document's flow.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Graph {
    /// Start, elements in document order, URLs, end.
    pub nodes: Vec<Node>,
    /// Edges in document order.
    pub edges: Vec<Edge>,
}

/// What ran of one document: elements and branches (see `runtime::Coverage`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Covered {
    /// Elements that started.
    pub elements: BTreeSet<Pos>,
    /// Branches taken, by element.
    pub branches: BTreeSet<(Pos, &'static str)>,
}

impl Covered {
    /// Adds what `other` covered.
    pub fn merge(&mut self, other: &Covered) {
        self.elements.extend(other.elements.iter().copied());
        self.branches.extend(other.branches.iter().copied());
    }
}

/// The branches an element has, in drawing order, each with whether it ends the call.
pub fn branches(verb: &Verb) -> Vec<(&'static str, bool)> {
    match verb {
        Verb::GetDigits(g) => {
            let mut b = vec![("input", false), ("no input", false)];
            if g.invalid_digits_sound.is_some() {
                b.push(("invalid", false));
            }
            b
        }
        Verb::GetInput(_) => vec![("input", false), ("no input", false)],
        Verb::Dial(_) => vec![("completed", false), ("busy", false), ("no-answer", false), ("failed", false)],
        Verb::Conference(c) => {
            let mut b = vec![("kicked", false), ("room ended", false), ("time limit", false), ("room full", false)];
            if c.hangup_on_star {
                b.push(("hangup on star", false));
            }
            if !c.stay_alone {
                b.push(("left alone", false));
            }
            b.push(("member hung up", true));
            b
        }
        Verb::MultiPartyCall(m) => {
            let mut b = vec![("kicked", false), ("room ended", false), ("time limit", false), ("room full", false)];
            if !m.stay_alone {
                b.push(("left alone", false));
            }
            b.push(("member hung up", true));
            b
        }
        Verb::Record(r) if !r.record_session && !r.start_on_dial_answer => vec![("recorded", false)],
        _ => Vec::new(),
    }
}

/// The element at `pos`.
pub fn element(doc: &Document, pos: Pos) -> Option<&Verb> {
    let v = doc.verbs.get(pos.0)?;
    match (pos.1, v) {
        (Some(i), Verb::PreAnswer(p)) => p.verbs.get(i),
        (Some(_), _) => None,
        (None, v) => Some(v),
    }
}

/// Every element position in document order (a `<PreAnswer>`, then its children).
pub fn positions(doc: &Document) -> Vec<Pos> {
    let mut out = Vec::new();
    for (i, v) in doc.verbs.iter().enumerate() {
        out.push((i, None));
        if let Verb::PreAnswer(p) = v {
            out.extend((0..p.verbs.len()).map(|j| (i, Some(j))));
        }
    }
    out
}

/// Every branch of the document, by element, in document order.
pub fn all_branches(doc: &Document) -> Vec<(Pos, &'static str)> {
    positions(doc)
        .into_iter()
        .filter_map(|p| element(doc, p).map(|v| (p, v)))
        .flat_map(|(p, v)| branches(v).into_iter().map(move |(b, _)| (p, b)))
        .collect()
}

/// The action of an element: its URL and whether it replaces the document.
fn action(verb: &Verb) -> Option<(String, bool)> {
    let (url, redirect) = match verb {
        Verb::GetDigits(g) => (g.action.as_ref()?, g.redirect),
        Verb::GetInput(g) => (g.action.as_ref()?, g.redirect),
        Verb::Record(r) => (r.action.as_ref()?, r.redirect),
        Verb::Dial(d) => (d.action.as_ref()?, d.redirect),
        Verb::Conference(c) => (c.action.as_ref()?, c.redirect),
        Verb::MultiPartyCall(m) => (m.on_exit_action_url.as_ref()?, true),
        _ => return None,
    };
    Some((url.as_str().to_owned(), redirect))
}

fn short(s: &str, max: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= max {
        s
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn label(pos: Pos, verb: &Verb) -> String {
    let at = match pos.1 {
        Some(j) => format!("{}.{}", pos.0, j),
        None => pos.0.to_string(),
    };
    let detail = match verb {
        Verb::Speak(s) => format!("\"{}\"", short(&s.text(), 32)),
        Verb::Play(p) => p.url.as_ref().map(|u| short(u.as_str(), 40)).unwrap_or_default(),
        Verb::Dial(d) => format!("{} target(s)", d.targets.len()),
        Verb::Conference(c) => short(&c.room, 32),
        Verb::MultiPartyCall(m) => short(&m.name, 32),
        Verb::GetDigits(g) => format!("{} prompt(s)", g.prompts.len()),
        Verb::GetInput(g) => format!("{} prompt(s)", g.prompts.len()),
        _ => String::new(),
    };
    if detail.is_empty() { format!("{at} {}", verb.name()) } else { format!("{at} {}: {detail}", verb.name()) }
}

impl Graph {
    /// The flow of `doc`.
    pub fn new(doc: &Document) -> Graph {
        let mut g = Graph::default();
        g.nodes.push(Node { id: "start".into(), kind: NodeKind::Start, label: "start".into() });
        let order = positions(doc);
        let mut index = BTreeMap::new();
        for &p in &order {
            let Some(v) = element(doc, p) else { continue };
            let id = match p.1 {
                Some(j) => format!("e{}_{}", p.0, j),
                None => format!("e{}", p.0),
            };
            index.insert(p, g.nodes.len());
            g.nodes.push(Node { id, kind: NodeKind::Element(p), label: label(p, v) });
        }
        // Targets before the URL and end nodes exist: `Err(url)` or `Ok(None)` for the end.
        type To = Result<Option<usize>, String>;
        let mut edges: Vec<(usize, To, &str, Option<&'static str>, bool)> = Vec::new();
        // The element after `p` in execution order (`None`: the end of the document).
        let next = |p: Pos| -> Option<Pos> {
            match (p.1, doc.verbs.get(p.0)) {
                (None, Some(Verb::PreAnswer(pa))) if !pa.verbs.is_empty() => Some((p.0, Some(0))),
                (Some(j), Some(Verb::PreAnswer(pa))) if j + 1 < pa.verbs.len() => Some((p.0, Some(j + 1))),
                _ => (p.0 + 1 < doc.verbs.len()).then_some((p.0 + 1, None)),
            }
        };
        let at = |p: Option<Pos>| -> To { Ok(p.map(|p| index[&p])) };
        edges.push((0, at(order.first().copied()), "", None, false));
        for &p in &order {
            let Some(v) = element(doc, p) else { continue };
            let me = index[&p];
            let after = at(next(p));
            let act = action(v);
            // Where a way out goes: the action that replaces the document, or the next element.
            let out = match &act {
                Some((u, true)) => Err(u.clone()),
                _ => after.clone(),
            };
            match v {
                Verb::Redirect(r) => {
                    let url = r.url.as_ref().map_or("", |u| u.as_str()).to_owned();
                    edges.push((me, Err(url), "redirect", None, false));
                }
                Verb::Hangup(h) if h.schedule == 0 => edges.push((me, Ok(None), "hangup", None, false)),
                _ => {
                    let bs = branches(v);
                    if bs.is_empty() {
                        edges.push((me, out.clone(), "", None, false));
                    }
                    for (b, ends) in bs {
                        let to = if ends {
                            Ok(None)
                        } else if b == "invalid" {
                            Ok(Some(me))
                        } else if b == "no input" {
                            after.clone()
                        } else {
                            out.clone()
                        };
                        edges.push((me, to, b, Some(b), false));
                    }
                    if let Some((u, false)) = &act {
                        edges.push((me, Err(u.clone()), "notify", None, true));
                    }
                }
            }
        }
        let mut urls: BTreeMap<String, usize> = BTreeMap::new();
        for (_, to, ..) in &edges {
            if let Err(u) = to
                && !urls.contains_key(u)
            {
                urls.insert(u.clone(), g.nodes.len());
                let id = format!("u{}", urls.len() - 1);
                g.nodes.push(Node { id, kind: NodeKind::Url(u.clone()), label: short(u, 60) });
            }
        }
        // The end node, when something leads there.
        let end = g.nodes.len();
        if edges.iter().any(|e| e.1 == Ok(None)) {
            g.nodes.push(Node { id: "ended".into(), kind: NodeKind::End, label: "end".into() });
        }
        for (from, to, label, branch, notify) in edges {
            let to = match to {
                Ok(Some(n)) => n,
                Ok(None) => end,
                Err(u) => urls[&u],
            };
            g.edges.push(Edge { from, to, label: label.to_owned(), branch, notify });
        }
        g
    }

    /// Whether an edge was taken, given what ran; `None` without coverage.
    fn edge_covered(&self, e: &Edge, cov: Option<&Covered>) -> Option<bool> {
        let cov = cov?;
        let ran = |n: usize| match &self.nodes[n].kind {
            NodeKind::Element(p) => cov.elements.contains(p),
            NodeKind::Start => !cov.elements.is_empty(),
            _ => true,
        };
        Some(match (e.branch, &self.nodes[e.from].kind) {
            (Some(b), NodeKind::Element(p)) => cov.branches.contains(&(*p, b)),
            _ => ran(e.from) && ran(e.to),
        })
    }

    fn node_covered(&self, n: &Node, cov: Option<&Covered>) -> Option<bool> {
        match (&n.kind, cov) {
            (NodeKind::Element(p), Some(c)) => Some(c.elements.contains(p)),
            _ => None,
        }
    }

    /// Graphviz DOT; with `cov`, covered elements and edges green, uncovered ones red and
    /// dashed.
    pub fn to_dot(&self, cov: Option<&Covered>) -> String {
        let q = |s: &str| {
            let mut o = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => o.push_str("\\\""),
                    '\\' => o.push_str("\\\\"),
                    '\n' | '\r' => o.push(' '),
                    c => o.push(c),
                }
            }
            o.push('"');
            o
        };
        let mut s = String::from(
            "digraph flow {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n",
        );
        for n in &self.nodes {
            let shape = match n.kind {
                NodeKind::Start | NodeKind::End => "shape=circle",
                NodeKind::Element(_) => "shape=box, style=\"rounded,filled\"",
                NodeKind::Url(_) => "shape=note, style=filled, fillcolor=\"#eeeeff\"",
            };
            let fill = match self.node_covered(n, cov) {
                Some(true) => ", fillcolor=\"#ccffcc\"",
                Some(false) => ", fillcolor=\"#ffd6d6\"",
                None if matches!(n.kind, NodeKind::Element(_)) => ", fillcolor=\"#f4f4f4\"",
                None => "",
            };
            let _ = writeln!(s, "  {} [label={}, {shape}{fill}];", n.id, q(&n.label));
        }
        for e in &self.edges {
            let mut attrs = Vec::new();
            if !e.label.is_empty() {
                attrs.push(format!("label={}", q(&e.label)));
            }
            match self.edge_covered(e, cov) {
                Some(true) => attrs.push("color=\"#1a8f1a\", penwidth=2".into()),
                Some(false) => attrs.push("color=\"#cc2222\", style=dashed".into()),
                None if e.notify => attrs.push("style=dotted".into()),
                None => {}
            }
            if e.notify && cov.is_some() {
                attrs.push("arrowhead=empty".into());
            }
            let a = if attrs.is_empty() { String::new() } else { format!(" [{}]", attrs.join(", ")) };
            let _ = writeln!(s, "  {} -> {}{a};", self.nodes[e.from].id, self.nodes[e.to].id);
        }
        s.push_str("}\n");
        s
    }

    /// Mermaid `flowchart`; with `cov`, classes `covered`/`uncovered` on elements and
    /// `linkStyle` on edges.
    pub fn to_mermaid(&self, cov: Option<&Covered>) -> String {
        let q = |s: &str| {
            let mut o = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => o.push_str("#quot;"),
                    '\n' | '\r' => o.push(' '),
                    c => o.push(c),
                }
            }
            o.push('"');
            o
        };
        let mut s = String::from("flowchart TD\n");
        for n in &self.nodes {
            let l = q(&n.label);
            let _ = match n.kind {
                NodeKind::Start | NodeKind::End => writeln!(s, "  {}(({l}))", n.id),
                NodeKind::Element(_) => writeln!(s, "  {}[{l}]", n.id),
                NodeKind::Url(_) => writeln!(s, "  {}[/{l}/]", n.id),
            };
        }
        let mut styles = Vec::new();
        for (i, e) in self.edges.iter().enumerate() {
            let arrow = if e.notify { "-.->" } else { "-->" };
            let (from, to) = (&self.nodes[e.from].id, &self.nodes[e.to].id);
            if e.label.is_empty() {
                let _ = writeln!(s, "  {from} {arrow} {to}");
            } else {
                let _ = writeln!(s, "  {from} {arrow}|{}| {to}", q(&e.label));
            }
            match self.edge_covered(e, cov) {
                Some(true) => styles.push(format!("  linkStyle {i} stroke:#1a8f1a,stroke-width:2px")),
                Some(false) => styles.push(format!("  linkStyle {i} stroke:#cc2222,stroke-dasharray:4 3")),
                None => {}
            }
        }
        if cov.is_some() {
            s.push_str(
                "  classDef covered fill:#ccffcc,stroke:#1a8f1a\n  classDef uncovered fill:#ffd6d6,stroke:#cc2222\n",
            );
            for n in &self.nodes {
                if let Some(c) = self.node_covered(n, cov) {
                    let _ = writeln!(s, "  class {} {}", n.id, if c { "covered" } else { "uncovered" });
                }
            }
        }
        for l in styles {
            s.push_str(&l);
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_follow_the_engine_outcomes() {
        use crate::engine::{DialStatus, LeaveReason, VerbOutcome as O};
        let cases: [(O, &str, Option<&str>); 11] = [
            (O::Digits("42".into()), "digits 42", Some("input")),
            (O::Speech("yes".into()), "speech \"yes\"", Some("input")),
            (O::NoInput, "no input", Some("no input")),
            (
                O::Dialed { status: DialStatus::Completed, why: Some("time limit") },
                "completed (time limit)",
                Some("completed"),
            ),
            (O::Dialed { status: DialStatus::NoAnswer, why: None }, "no-answer", Some("no-answer")),
            (
                O::LeftRoom { room: "a: b".into(), reason: LeaveReason::Kicked },
                "left room a: b: kicked",
                Some("kicked"),
            ),
            (
                O::LeftRoom { room: "r".into(), reason: LeaveReason::HangupOnStar },
                "left room r: hangupOnStar",
                Some("hangup on star"),
            ),
            (O::LeftRoom { room: "r".into(), reason: LeaveReason::CallHungUp }, "left room r: call hung up", None),
            (
                O::RoomFull { room: "r".into(), max_members: 2 },
                "not joined: room r is full (2 members)",
                Some("room full"),
            ),
            (O::Recorded { duration_ms: 3000, digits: String::new() }, "recorded 3000 ms", Some("recorded")),
            (O::Done, "done", None),
        ];
        for (outcome, text, branch) in cases {
            assert_eq!(outcome.to_string(), text);
            assert_eq!(outcome.branch(), branch, "{text}");
        }
    }

    #[test]
    fn a_menu_graph() {
        let doc = crate::xml::parse(
            r#"<Response><GetDigits action="https://a.example/x" invalidDigitsSound="https://a.example/i.mp3"><Speak>Hi</Speak></GetDigits><Dial redirect="false" action="https://a.example/d"><Number>123</Number></Dial><Hangup/></Response>"#,
        )
        .document;
        let g = Graph::new(&doc);
        let ids: Vec<_> = g.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, ["start", "e0", "e1", "e2", "u0", "u1", "ended"]);
        let edges: Vec<_> =
            g.edges.iter().map(|e| format!("{}-{}-{}", g.nodes[e.from].id, e.label, g.nodes[e.to].id)).collect();
        assert_eq!(
            edges,
            [
                "start--e0",
                "e0-input-u0",
                "e0-no input-e1",
                "e0-invalid-e0",
                "e1-completed-e2",
                "e1-busy-e2",
                "e1-no-answer-e2",
                "e1-failed-e2",
                "e1-notify-u1",
                "e2-hangup-ended"
            ]
        );
    }
}
