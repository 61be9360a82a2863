//! AST → XML text, in a canonical layout.
//!
//! Invariant: for every document `d` the parser accepts, `parse(&write(&d)).document == d`.
//! Only written attributes are emitted (in declaration order); verbs go one per line with
//! two-space indentation; `<Speak>` content is written inline exactly, so its spacing survives.

use super::ast::*;

/// Writes `doc` as a Plivo XML document (no XML declaration, trailing newline).
pub fn write(doc: &Document) -> String {
    let mut w = Writer { out: String::with_capacity(256) };
    if doc.verbs.is_empty() {
        w.out.push_str("<Response/>\n");
        return w.out;
    }
    w.out.push_str("<Response>\n");
    for v in &doc.verbs {
        w.verb(v, 1);
    }
    w.out.push_str("</Response>\n");
    w.out
}

struct Writer {
    out: String,
}

impl Writer {
    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }

    fn open<E: Attrs>(&mut self, el: &E) {
        self.out.push('<');
        self.out.push_str(E::ELEMENT);
        let out = &mut self.out;
        el.write_attrs(&mut |name, value| {
            out.push(' ');
            out.push_str(name);
            out.push_str("=\"");
            escape_into(out, value, true);
            out.push('"');
        });
    }

    fn close<E: Attrs>(&mut self) {
        self.out.push_str("</");
        self.out.push_str(E::ELEMENT);
        self.out.push('>');
    }

    /// An element with a text body (or none), on one line.
    fn leaf<E: Attrs>(&mut self, el: &E, body: &str, depth: usize) {
        self.indent(depth);
        self.open(el);
        if body.is_empty() {
            self.out.push_str("/>\n");
        } else {
            self.out.push('>');
            escape_into(&mut self.out, body, false);
            self.close::<E>();
            self.out.push('\n');
        }
    }

    /// An element with element children, one per line.
    fn parent<E: Attrs>(&mut self, el: &E, depth: usize, n: usize, mut child: impl FnMut(&mut Self, usize)) {
        self.indent(depth);
        self.open(el);
        if n == 0 {
            self.out.push_str("/>\n");
            return;
        }
        self.out.push_str(">\n");
        for i in 0..n {
            child(self, i);
        }
        self.indent(depth);
        self.close::<E>();
        self.out.push('\n');
    }

    fn verb(&mut self, v: &Verb, depth: usize) {
        match v {
            Verb::Speak(s) => self.speak(s, depth),
            Verb::Play(p) => self.leaf(p, p.url.as_ref().map_or("", |u| u.as_str()), depth),
            Verb::Wait(w) => self.leaf(w, "", depth),
            Verb::Dtmf(d) => self.leaf(d, d.digits.as_ref().map_or("", |t| t.as_str()), depth),
            Verb::GetDigits(g) => self.parent(g, depth, g.prompts.len(), |w, i| {
                if let Some(p) = g.prompts.get(i) {
                    w.prompt(p, depth + 1);
                }
            }),
            Verb::GetInput(g) => self.parent(&**g, depth, g.prompts.len(), |w, i| {
                if let Some(p) = g.prompts.get(i) {
                    w.prompt(p, depth + 1);
                }
            }),
            Verb::Record(r) => self.leaf(r, "", depth),
            Verb::Dial(d) => self.parent(&**d, depth, d.targets.len(), |w, i| match d.targets.get(i) {
                Some(DialTarget::Number(n)) => w.leaf(n, n.number.as_ref().map_or("", |x| x.as_str()), depth + 1),
                Some(DialTarget::User(u)) => w.leaf(u, u.uri.as_ref().map_or("", |x| x.as_str()), depth + 1),
                None => {}
            }),
            Verb::Redirect(r) => self.leaf(r, r.url.as_ref().map_or("", |u| u.as_str()), depth),
            Verb::Hangup(h) => self.leaf(h, "", depth),
            Verb::PreAnswer(p) => self.parent(p, depth, p.verbs.len(), |w, i| {
                if let Some(v) = p.verbs.get(i) {
                    w.verb(v, depth + 1);
                }
            }),
            Verb::Conference(c) => self.leaf(&**c, &c.room, depth),
            Verb::MultiPartyCall(m) if m.agent_hold_music.is_none() && m.customer_hold_music.is_none() => {
                self.leaf(&**m, &m.name, depth)
            }
            Verb::MultiPartyCall(m) => {
                // The name, then the hold-music children, as the Go SDK writes them.
                self.indent(depth);
                self.open(&**m);
                self.out.push('>');
                escape_into(&mut self.out, &m.name, false);
                self.out.push('\n');
                if let Some(h) = &m.agent_hold_music {
                    self.hold(h, &h.prompts, depth + 1);
                }
                if let Some(h) = &m.customer_hold_music {
                    self.hold(h, &h.prompts, depth + 1);
                }
                self.indent(depth);
                self.close::<MultiPartyCall>();
                self.out.push('\n');
            }
            Verb::Message(m) => self.leaf(m, &m.text, depth),
            Verb::Stream(s) => self.leaf(s, s.url.as_ref().map_or("", |u| u.as_str()), depth),
        }
    }

    fn hold<E: Attrs>(&mut self, el: &E, prompts: &[Prompt], depth: usize) {
        self.parent(el, depth, prompts.len(), |w, i| {
            if let Some(p) = prompts.get(i) {
                w.prompt(p, depth + 1);
            }
        });
    }

    fn prompt(&mut self, p: &Prompt, depth: usize) {
        match p {
            Prompt::Speak(s) => self.speak(s, depth),
            Prompt::Play(p) => self.leaf(p, p.url.as_ref().map_or("", |u| u.as_str()), depth),
            Prompt::Wait(w) => self.leaf(w, "", depth),
        }
    }

    fn speak(&mut self, s: &Speak, depth: usize) {
        self.indent(depth);
        self.open(s);
        if s.content.is_empty() {
            self.out.push_str("/>\n");
            return;
        }
        self.out.push('>');
        self.content(&s.content);
        self.close::<Speak>();
        self.out.push('\n');
    }

    fn content(&mut self, nodes: &[SpeakNode]) {
        for n in nodes {
            match n {
                SpeakNode::Text(t) => escape_into(&mut self.out, t, false),
                SpeakNode::Ssml(s) => self.ssml(s),
            }
        }
    }

    fn ssml(&mut self, s: &Ssml) {
        match s {
            Ssml::Break(b) => {
                self.open(b);
                self.out.push_str("/>");
            }
            Ssml::Emphasis(e) => self.ssml_el(e, &e.content),
            Ssml::Lang(e) => self.ssml_el(e, &e.content),
            Ssml::P(e) => self.ssml_el(e, &e.content),
            Ssml::Phoneme(e) => self.ssml_el(e, &e.content),
            Ssml::Prosody(e) => self.ssml_el(e, &e.content),
            Ssml::S(e) => self.ssml_el(e, &e.content),
            Ssml::SayAs(e) => self.ssml_el(e, &e.content),
            Ssml::Sub(e) => self.ssml_el(e, &e.content),
            Ssml::W(e) => self.ssml_el(e, &e.content),
        }
    }

    fn ssml_el<E: Attrs>(&mut self, el: &E, content: &[SpeakNode]) {
        self.open(el);
        if content.is_empty() {
            self.out.push_str("/>");
        } else {
            self.out.push('>');
            self.content(content);
            self.close::<E>();
        }
    }
}

/// `s` escaped for XML text (`attr` false) or a double-quoted attribute value (`attr` true), as
/// [`escape_into`] does; for documents built as text (the REST Play and Speak of a call).
#[cfg(feature = "server")]
pub(crate) fn escape(s: &str, attr: bool) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s, attr);
    out
}

/// Escapes text for XML. In attributes, quotes and whitespace other than space are escaped
/// too, so attribute-value normalization gives the same string back.
fn escape_into(out: &mut String, s: &str, attr: bool) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            '\n' if attr => out.push_str("&#10;"),
            '\t' if attr => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}
