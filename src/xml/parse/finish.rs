//! Checks on a finished element (`Parser::finish`): its body text as a value, required
//! children, and conflicts between attributes.

use super::kind::Kind;
use super::{Node, Parser, clip, is_space};
use crate::diagnostic::{Code, Span};
use crate::xml::ast::*;
use crate::xml::values::{
    AudioTrack, FromXml, Noted, PhoneNumber, SipUri, Source, Text, Tones, Url, ValueError, WaitBeep, WsUrl,
};

impl Parser<'_> {
    /// Checks the body, required attributes and conflicts of a finished element.
    pub(super) fn finish(&mut self, kind: Kind, node: &mut Node, body: &str, body_span: Span, start: usize) {
        let tag_span = Span::new(start + 1, start + 1 + kind.name().len());
        match node {
            Node::Verb(v) => match v {
                Verb::Speak(s) => trim_speak(&mut s.content),
                Verb::Play(p) => p.url = self.body_value(kind, body, body_span, "an audio URL", Url::from_xml_in),
                Verb::Dtmf(d) => {
                    d.digits = self.body_value(kind, body, body_span, "digits to send", Tones::from_xml_in)
                }
                Verb::Redirect(r) => r.url = self.body_value(kind, body, body_span, "a URL", Url::from_xml_in),
                Verb::Stream(s) => {
                    s.url = self.body_value(kind, body, body_span, "a wss:// URL", WsUrl::from_xml_in);
                    if s.bidirectional && s.audio_track != AudioTrack::Inbound {
                        self.report(
                            Code::Conflict,
                            tag_span,
                            format!(
                                "a bidirectional <Stream> can only fork the inbound track, not `{}`",
                                s.audio_track
                            ),
                        );
                    }
                }
                Verb::Conference(c) => {
                    c.room = self.body_text(kind, body, body_span, "a room name");
                }
                Verb::MultiPartyCall(m) => m.name = self.body_text(kind, body, body_span, "a name"),
                Verb::Message(m) => m.text = self.body_text(kind, body, body_span, "the message text"),
                Verb::Dial(d) => {
                    if d.targets.is_empty() {
                        self.report(
                            Code::MissingChild,
                            tag_span,
                            "<Dial> needs at least one <Number> or <User>".to_owned(),
                        );
                    }
                }
                Verb::Wait(w) => {
                    if w.silence && u64::from(w.min_silence) >= u64::from(w.length) * 1000 {
                        self.report(
                            Code::Conflict,
                            tag_span,
                            format!("minSilence ({} ms) must be shorter than length ({} s)", w.min_silence, w.length),
                        );
                    }
                    if w.silence && w.beep != WaitBeep::Bool(false) {
                        self.report(
                            Code::IgnoredBeep,
                            tag_span,
                            "`beep` on <Wait> is ignored with silence=\"true\"; silence detection applies".to_owned(),
                        );
                    }
                }
                Verb::GetDigits(_) | Verb::GetInput(_) | Verb::Record(_) | Verb::Hangup(_) | Verb::PreAnswer(_) => {}
            },
            Node::Target(DialTarget::Number(n)) => {
                n.number = self.body_value(kind, body, body_span, "a phone number", PhoneNumber::from_xml_in);
            }
            Node::Target(DialTarget::User(u)) => {
                u.uri = self.body_value(kind, body, body_span, "a sip: URI", SipUri::from_xml_in);
            }
            Node::Ssml(_) | Node::Response(_) | Node::Skip | Node::AgentHold(_) | Node::CustomerHold(_) => {}
        }
    }

    fn body_text(&mut self, kind: Kind, body: &str, span: Span, what: &str) -> Text {
        if body.is_empty() {
            self.report(Code::MissingBody, span, format!("<{}> needs {what} as its body", kind.name()));
        }
        self.shared.text(body)
    }

    fn body_value<T: Noted>(
        &mut self,
        kind: Kind,
        body: &str,
        span: Span,
        what: &str,
        parse: fn(&str, &Source) -> Result<T, ValueError>,
    ) -> Option<T> {
        if body.is_empty() {
            self.report(Code::MissingBody, span, format!("<{}> needs {what} as its body", kind.name()));
            return None;
        }
        match parse(body, self.shared) {
            Ok(v) => {
                if let Some(code) = v.note() {
                    self.report_with(code, span, || match code {
                        Code::RelativeUrl => format!(
                            "relative URL `{}` as the body of <{}>: resolved against the document's own URL at run time",
                            clip(body),
                            kind.name()
                        ),
                        _ => format!("body of <{}>: {}", kind.name(), clip(body)),
                    });
                }
                Some(v)
            }
            Err(err) => {
                self.report(err.code(), span, format!("invalid body `{}` of <{}>: {err}", clip(body), kind.name()));
                None
            }
        }
    }
}

/// Trims XML whitespace off both ends of a `<Speak>`'s content, dropping emptied text nodes.
fn trim_speak(content: &mut SpeakContent) {
    // The texts are cut where they lie (XML space is ASCII, so on character boundaries),
    // not copied; the ends are found byte by byte.
    if let Some(SpeakNode::Text(t)) = content.first_mut() {
        let blanks = t.bytes().position(|b| !is_space(b)).unwrap_or(t.len());
        if blanks > 0 {
            *t = t.slice(blanks..).unwrap_or_default();
        }
        if t.is_empty() {
            content.remove(0);
        }
    }
    if let Some(SpeakNode::Text(t)) = content.last_mut() {
        let end = t.as_bytes().iter().rposition(|&b| !is_space(b)).map_or(0, |i| i + 1);
        if end < t.len() {
            *t = t.slice(..end).unwrap_or_default();
        }
        if t.is_empty() {
            content.pop();
        }
    }
}
