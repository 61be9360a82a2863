//! [`Transcript`]: what calls, rooms and the API did, one readable [`Line`] per happening.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::engine::{
    CallEvent, CallId, Command, DialEvent, EndReason, HttpRequest, Input, MediaId, MemberId, MemberMedia, Purpose,
    RecordMode, Reply, RoomEvent, RoomSound, VerbOutcome,
};
use crate::xml::{Document, Verb};

/// One transcript line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// Time in milliseconds (virtual time in a simulation, since the start in `serve`).
    pub at_ms: u64,
    /// The call's name (its id unless named), `room NAME`, or `api`.
    pub who: String,
    /// What it is about.
    pub kind: LineKind,
    /// The readable text.
    pub text: String,
    /// Request parameters (for `request` lines), all of them: the text leaves out the
    /// standard ones (`CallUUID`, `From`, `To`, …), these do not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<(String, String)>,
    /// Rendered diagnostics (for `invalid-document` lines), rustc style.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<String>,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.at_ms / 1000;
        if s >= 3600 {
            write!(f, "{}:{:02}:{:02}.{:03} ", s / 3600, s / 60 % 60, s % 60, self.at_ms % 1000)?;
        } else {
            write!(f, "{:02}:{:02}.{:03} ", s / 60, s % 60, self.at_ms % 1000)?;
        }
        write!(f, "{}  {}", self.who, self.text)?;
        for d in &self.diagnostics {
            write!(f, "\n{}", d.trim_end())?;
        }
        Ok(())
    }
}

/// What a transcript [`Line`] is about: a stable kind, written as in the table of
/// `docs/scenarios.md` (`spoke`, `request`, `room-ended`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum LineKind {
    /// `call`
    Call,
    /// `error`
    Error,
    /// `ignored`
    Ignored,
    /// `input`
    Input,
    /// `api`
    Api,
    /// `answered`
    Answered,
    /// `preanswered`
    Preanswered,
    /// `spoke`
    Spoke,
    /// `played`
    Played,
    /// `beep`
    Beep,
    /// `sounds`
    Sounds,
    /// `dtmf`
    Dtmf,
    /// `listen`
    Listen,
    /// `record`
    Record,
    /// `dial`
    Dial,
    /// `room-sound`
    RoomSound,
    /// `message`
    Message,
    /// `stream`
    Stream,
    /// `request`
    Request,
    /// `reply`
    Reply,
    /// `document`
    Document,
    /// `verb`
    Verb,
    /// `fetch-failed`
    FetchFailed,
    /// `invalid-document`
    InvalidDocument,
    /// `hangup`
    Hangup,
    /// `joined`
    Joined,
    /// `refused`
    Refused,
    /// `started`
    Started,
    /// `left`
    Left,
    /// `muted`
    Muted,
    /// `deaf`
    Deaf,
    /// `hold`
    Hold,
    /// `floor`
    Floor,
    /// `room-media`
    RoomMedia,
    /// `room-record`
    RoomRecord,
    /// `room-ended`
    RoomEnded,
}

impl LineKind {
    /// Every kind.
    pub const ALL: [LineKind; 36] = [
        LineKind::Call,
        LineKind::Error,
        LineKind::Ignored,
        LineKind::Input,
        LineKind::Api,
        LineKind::Answered,
        LineKind::Preanswered,
        LineKind::Spoke,
        LineKind::Played,
        LineKind::Beep,
        LineKind::Sounds,
        LineKind::Dtmf,
        LineKind::Listen,
        LineKind::Record,
        LineKind::Dial,
        LineKind::RoomSound,
        LineKind::Message,
        LineKind::Stream,
        LineKind::Request,
        LineKind::Reply,
        LineKind::Document,
        LineKind::Verb,
        LineKind::FetchFailed,
        LineKind::InvalidDocument,
        LineKind::Hangup,
        LineKind::Joined,
        LineKind::Refused,
        LineKind::Started,
        LineKind::Left,
        LineKind::Muted,
        LineKind::Deaf,
        LineKind::Hold,
        LineKind::Floor,
        LineKind::RoomMedia,
        LineKind::RoomRecord,
        LineKind::RoomEnded,
    ];

    /// The kind as written (`room-ended`).
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Call => "call",
            LineKind::Error => "error",
            LineKind::Ignored => "ignored",
            LineKind::Input => "input",
            LineKind::Api => "api",
            LineKind::Answered => "answered",
            LineKind::Preanswered => "preanswered",
            LineKind::Spoke => "spoke",
            LineKind::Played => "played",
            LineKind::Beep => "beep",
            LineKind::Sounds => "sounds",
            LineKind::Dtmf => "dtmf",
            LineKind::Listen => "listen",
            LineKind::Record => "record",
            LineKind::Dial => "dial",
            LineKind::RoomSound => "room-sound",
            LineKind::Message => "message",
            LineKind::Stream => "stream",
            LineKind::Request => "request",
            LineKind::Reply => "reply",
            LineKind::Document => "document",
            LineKind::Verb => "verb",
            LineKind::FetchFailed => "fetch-failed",
            LineKind::InvalidDocument => "invalid-document",
            LineKind::Hangup => "hangup",
            LineKind::Joined => "joined",
            LineKind::Refused => "refused",
            LineKind::Started => "started",
            LineKind::Left => "left",
            LineKind::Muted => "muted",
            LineKind::Deaf => "deaf",
            LineKind::Hold => "hold",
            LineKind::Floor => "floor",
            LineKind::RoomMedia => "room-media",
            LineKind::RoomRecord => "room-record",
            LineKind::RoomEnded => "room-ended",
        }
    }
}

impl fmt::Display for LineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for LineKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Parameters every request carries; transcripts leave them out.
pub(crate) const STD_PARAMS: &[&str] =
    &["CallUUID", "From", "To", "CallStatus", "Direction", "CallerName", "ALegUUID", "ALegRequestUUID", "RequestUUID"];

/// Writes [`Line`]s for what the engine and its media do: commands, requests, call events,
/// room events, inputs and API operations. It keeps every line until they are taken
/// ([`Transcript::take`]).
#[derive(Debug, Default)]
pub struct Transcript {
    /// Call names (a call without one is named by its id).
    names: HashMap<CallId, String>,
    /// Display names of documents by URL (file paths), for diagnostics.
    documents: HashMap<String, String>,
    /// MultiPartyCall hold music playing, by call and media: the one looping sound whose stop
    /// the transcript shows (unhold, leaving or hanging up while held).
    hold_music: HashMap<(CallId, MediaId), &'static str>,
    lines: Vec<Line>,
}

impl Transcript {
    /// An empty transcript.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names `call` `name` in its lines.
    pub fn set_name(&mut self, call: &CallId, name: &str) {
        self.names.insert(call.clone(), name.to_owned());
    }

    /// The name of `call` in the lines: the one given, else its id.
    pub fn name(&self, call: &CallId) -> String {
        self.names.get(call).cloned().unwrap_or_else(|| call.as_str().to_owned())
    }

    /// Names the document served at `url` (e.g. its file path) in diagnostics.
    pub fn name_document(&mut self, url: &str, name: &str) {
        self.documents.insert(strip_fragment(url).to_owned(), name.to_owned());
    }

    /// Forgets what is kept of an ended call (its name, its hold music).
    pub fn forget(&mut self, call: &CallId) {
        self.names.remove(call);
        // Only calls still holding music have entries (a few): the scan is short.
        self.hold_music.retain(|(c, _), _| c != call);
    }

    /// The lines not taken yet.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// Takes the lines written so far.
    pub fn take(&mut self) -> Vec<Line> {
        std::mem::take(&mut self.lines)
    }

    /// Writes a line.
    pub fn line(&mut self, now: Duration, who: &str, kind: LineKind, text: String) {
        self.lines.push(Line {
            at_ms: u64::try_from(now.as_millis()).unwrap_or(u64::MAX),
            who: who.to_owned(),
            kind,
            text,
            params: Vec::new(),
            diagnostics: Vec::new(),
        });
    }

    /// The line of an input handed to a call (`pressed 1#`, `hangs up`, …); nothing for inputs
    /// that are not the caller's or the far end's (media completions, replies).
    pub fn input(&mut self, now: Duration, call: &CallId, input: &Input) {
        if let Some(text) = describe_input(input) {
            let name = self.name(call);
            self.line(now, &name, LineKind::Input, text);
        }
    }

    /// The line of a command of `call`, if it shows.
    pub fn command(&mut self, now: Duration, call: &CallId, c: &Command) {
        // Most commands of a step write no line: name the call only for those that do.
        let silent = match c {
            Command::StopCollect(_)
            | Command::StopRecording(_)
            | Command::JoinConference { .. }
            | Command::LeaveConference { .. }
            | Command::Hangup { .. } => true,
            Command::StartCollect { collect, .. } => !collect.speech,
            Command::StopMedia(m) => !self.hold_music.contains_key(&(call.clone(), *m)),
            _ => false,
        };
        if silent {
            return;
        }
        let name = self.name(call);
        let name = name.as_str();
        match c {
            Command::Answer => self.line(now, name, LineKind::Answered, "answered".to_owned()),
            Command::PreAnswer => self.line(now, name, LineKind::Preanswered, "early media (pre-answer)".to_owned()),
            Command::Speak { speak, .. } => {
                let (text, voice, lang, loops) = match speak.speak() {
                    Some(s) => (one_line(&s.text()), s.voice.to_string(), s.language.to_string(), s.loop_),
                    None => (String::new(), String::new(), String::new(), 1),
                };
                let extra = match loops {
                    1 => String::new(),
                    0 => ", looping".to_owned(),
                    n => format!(", {n} times"),
                };
                self.line(now, name, LineKind::Spoke, format!("spoke \"{text}\" ({voice}, {lang}{extra})"));
            }
            Command::Play { play, .. } => {
                let (url, loops) = match play.play() {
                    Some(p) => (p.url.as_ref().map_or(String::new(), |u| u.as_str().to_owned()), p.loop_),
                    None => (String::new(), 1),
                };
                let extra = match loops {
                    1 => String::new(),
                    0 => " (looping)".to_owned(),
                    n => format!(" ({n} times)"),
                };
                self.line(now, name, LineKind::Played, format!("played {url}{extra}"));
            }
            Command::Beep { count, .. } => {
                self.line(
                    now,
                    name,
                    LineKind::Beep,
                    if *count == 1 { "beep".to_owned() } else { format!("beep ×{count}") },
                );
            }
            Command::PlaySounds { media, sounds, looped, what, .. } => {
                let items = describe_sounds(sounds);
                let looping = if *looped { ", looping" } else { "" };
                let text = match *what {
                    crate::engine::API_PLAY => format!("playing {items} (API{looping})"),
                    crate::engine::API_SPEAK => format!("speaking {items} (API{looping})"),
                    _ => format!("playing {what}: {items}{}", if *looped { " (looping)" } else { "" }),
                };
                self.line(now, name, LineKind::Sounds, text);
                if *looped && what.ends_with("HoldMusic") {
                    self.hold_music.insert((call.clone(), *media), what);
                }
            }
            Command::StopMedia(m) => {
                if let Some(what) = self.hold_music.remove(&(call.clone(), *m)) {
                    self.line(now, name, LineKind::Sounds, format!("stopped {what}"));
                }
            }
            Command::SendDigits { digits, .. } => self.line(now, name, LineKind::Dtmf, format!("sent tones {digits}")),
            Command::StartCollect { collect, .. } => {
                if collect.speech {
                    self.line(now, name, LineKind::Listen, format!("listening for speech ({})", collect.language));
                }
            }
            Command::StartRecording { mode, format, recording, .. } => {
                let text = format!("recording ({}, {}) to {}", format, record_mode(*mode), recording.url);
                self.line(now, name, LineKind::Record, text);
            }
            Command::Dial { dial, .. } => {
                let targets: Vec<String> = dial
                    .targets
                    .iter()
                    .map(|t| match t {
                        crate::xml::DialTarget::Number(n) => {
                            n.number.as_ref().map_or(String::new(), |x| x.as_str().to_owned())
                        }
                        crate::xml::DialTarget::User(u) => {
                            u.uri.as_ref().map_or(String::new(), |x| x.as_str().to_owned())
                        }
                    })
                    .collect();
                self.line(now, name, LineKind::Dial, format!("dialing {}", targets.join(", ")));
            }
            Command::CancelDial(_) => self.line(now, name, LineKind::Dial, "dial canceled".to_owned()),
            Command::HangupCallee(_) => self.line(now, name, LineKind::Dial, "hung up the dialed party".to_owned()),
            Command::RoomSound { room, sound, what, .. } => {
                let text = match sound {
                    RoomSound::Beeps(1) => "beep".to_owned(),
                    RoomSound::Beeps(n) => format!("beep ×{n}"),
                    RoomSound::Sounds(doc) => describe_sounds(doc),
                };
                self.line(
                    now,
                    &format!("room {room}"),
                    LineKind::RoomSound,
                    format!("hears {text} ({what} of {name})"),
                );
            }
            Command::SendMessage { dst, text, .. } => {
                let to = dst.as_deref().unwrap_or_default();
                self.line(now, name, LineKind::Message, format!("sent SMS to {to}: \"{}\"", one_line(text)));
            }
            Command::StartStream { stream, .. } => {
                let url = stream.url.as_ref().map_or("", |u| u.as_str());
                self.line(now, name, LineKind::Stream, format!("streaming {} audio to {url}", stream.audio_track));
            }
            Command::StopStream(_) => self.line(now, name, LineKind::Stream, "stream stopped".to_owned()),
            Command::StopCollect(_)
            | Command::StopRecording(_)
            | Command::JoinConference { .. }
            | Command::LeaveConference { .. }
            | Command::Hangup { .. } => {}
        }
    }

    /// The line of a request (`call` is `None` for the rooms' own): its text leaves out the
    /// standard parameters every request carries, its `params` hold them all.
    pub fn request(&mut self, now: Duration, call: Option<&CallId>, req: &HttpRequest) {
        let who = call.map_or_else(|| "room".to_owned(), |c| self.name(c));
        let shown: Vec<String> = req
            .params
            .iter()
            .filter(|(k, _)| !STD_PARAMS.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let text = format!(
            "{} {} ({}){}{}",
            req.method,
            req.url,
            purpose_text(req),
            if shown.is_empty() { "" } else { " " },
            shown.join(" ")
        );
        self.line(now, &who, LineKind::Request, text);
        if let Some(l) = self.lines.last_mut() {
            l.params = req.params.clone();
        }
    }

    /// The line of a call event, if it shows.
    pub fn call_event(&mut self, now: Duration, call: &CallId, e: &CallEvent) {
        // Every step starts and finishes a verb; those events show no line.
        if matches!(e, CallEvent::VerbStarted { .. } | CallEvent::VerbFinished { outcome: VerbOutcome::Done, .. }) {
            return;
        }
        let name = self.name(call);
        match e {
            CallEvent::DocumentLoaded { verbs, .. } => {
                let text = format!("got document ({verbs} verb{})", if *verbs == 1 { "" } else { "s" });
                self.line(now, &name, LineKind::Document, text);
            }
            CallEvent::VerbStarted { .. } => {}
            // Plain completions are implied by the next line; the others say how it ended.
            CallEvent::VerbFinished { outcome: VerbOutcome::Done, .. } => {}
            CallEvent::VerbFinished { verb, outcome, .. } => {
                self.line(now, &name, LineKind::Verb, format!("<{verb}> {outcome}"))
            }
            CallEvent::FetchFailed { url, reason } => {
                self.line(now, &name, LineKind::FetchFailed, format!("fetch of {url} failed: {reason}"))
            }
            CallEvent::InvalidDocument { url, diagnostics, body } => {
                let errors = diagnostics.iter().filter(|d| d.is_error()).count();
                let text = format!("invalid document from {url}: {errors} error{}", if errors == 1 { "" } else { "s" });
                self.line(now, &name, LineKind::InvalidDocument, text);
                let file = self.documents.get(strip_fragment(url)).map_or(url.as_str(), String::as_str);
                let idx = crate::diagnostic::LineIndex::new(body);
                let rendered: Vec<String> =
                    diagnostics.iter().map(|d| crate::diagnostic::render_with(file, &idx, d)).collect();
                if let Some(l) = self.lines.last_mut() {
                    l.diagnostics = rendered;
                }
            }
            CallEvent::Ended { cause, source } => {
                self.line(now, &name, LineKind::Hangup, format!("hung up: {cause} ({source})"));
            }
        }
    }

    /// The line of a room event.
    pub fn room_event(&mut self, now: Duration, ev: &RoomEvent) {
        match ev {
            RoomEvent::Joined { call, room, member_id, started, first, .. } => {
                let mut text = format!("joined room {room} as member {member_id}");
                if *first {
                    text.push_str(" (first member)");
                }
                if !started {
                    text.push_str(", waiting for the room to start");
                }
                self.call_line(now, call, LineKind::Joined, text);
            }
            RoomEvent::Refused { call, room, max_members } => {
                let text = format!("could not join room {room}: full ({max_members} members)");
                self.call_line(now, call, LineKind::Refused, text);
            }
            RoomEvent::Started { call, room } => {
                self.call_line(now, call, LineKind::Started, format!("room {room} started"))
            }
            RoomEvent::Left { call, room, member_id, reason, .. } => {
                self.call_line(now, call, LineKind::Left, format!("left room {room} as member {member_id}: {reason}"));
            }
            RoomEvent::Muted { call, member_id, muted, .. } => {
                let text = format!("member {member_id} {}", if *muted { "muted" } else { "unmuted" });
                self.call_line(now, call, LineKind::Muted, text);
            }
            RoomEvent::Deafened { call, member_id, deaf, .. } => {
                let text = format!("member {member_id} {}", if *deaf { "deafened" } else { "undeafened" });
                self.call_line(now, call, LineKind::Deaf, text);
            }
            RoomEvent::Held { call, member_id, held, .. } => {
                let text = if *held { "put on hold" } else { "taken off hold" };
                self.call_line(now, call, LineKind::Hold, format!("member {member_id} {text}"));
            }
            RoomEvent::Floor { call, member_id, .. } => {
                self.call_line(now, call, LineKind::Floor, format!("member {member_id} has the floor"));
            }
            RoomEvent::Media { room, members, media } => {
                let ids: Vec<String> = members.iter().map(MemberId::to_string).collect();
                let what = match &**media {
                    MemberMedia::Play { url } => format!("play {url}"),
                    MemberMedia::StopPlay => "stop playing".to_owned(),
                    MemberMedia::Speak { text, .. } => format!("speak \"{}\"", one_line(text)),
                    MemberMedia::StopSpeak => "stop speaking".to_owned(),
                };
                self.line(
                    now,
                    &format!("room {room}"),
                    LineKind::RoomMedia,
                    format!("{what} to members {}", ids.join(",")),
                );
            }
            RoomEvent::RecordingStarted { room, recording, .. } => self.line(
                now,
                &format!("room {room}"),
                LineKind::RoomRecord,
                format!("recording started: {}", recording.url),
            ),
            RoomEvent::RecordingFinished { room, recording, ended_at, .. } => {
                let len = ended_at.saturating_sub(recording.started_at);
                let text = format!("recording finished: {} ({})", recording.url, fmt_duration(len));
                self.line(now, &format!("room {room}"), LineKind::RoomRecord, text);
            }
            RoomEvent::Ended { room, reason, .. } => {
                let why = match reason {
                    EndReason::Empty => "the last member left",
                    EndReason::Api => "ended through the API",
                    EndReason::EndOnExit => "a member with endConferenceOnExit left",
                    EndReason::TimeLimit => "time limit reached",
                    EndReason::StayAlone => "the last member would have been alone",
                };
                self.line(now, &format!("room {room}"), LineKind::RoomEnded, format!("ended: {why}"));
            }
        }
    }

    fn call_line(&mut self, now: Duration, call: &CallId, kind: LineKind, text: String) {
        let name = self.name(call);
        self.line(now, &name, kind, text);
    }
}

/// The text of an input the caller or the far end makes; `None` for the others.
pub(crate) fn describe_input(input: &Input) -> Option<String> {
    Some(match input {
        Input::Digits(d) => format!("pressed {d}"),
        Input::Speech { text, .. } => format!("said \"{}\"", one_line(text)),
        Input::Hangup { .. } => "hangs up".to_owned(),
        Input::Dial(DialEvent::Answered { to, .. }) => format!("{to} answered"),
        Input::Dial(DialEvent::Busy) => "dialed party is busy".to_owned(),
        Input::Dial(DialEvent::NoAnswer) => "dialed party does not answer".to_owned(),
        Input::Dial(DialEvent::Failed) => "dial failed".to_owned(),
        Input::Dial(DialEvent::CalleeDigits(d)) => format!("dialed party pressed {d}"),
        Input::Dial(DialEvent::CalleeHangup) => "dialed party hangs up".to_owned(),
        Input::Dial(DialEvent::Ringing) => "dialed party rings".to_owned(),
        Input::Transfer { url, .. } => format!("transferred to {url}"),
        Input::End { cause, .. } => format!("ended by the network: {cause}"),
        _ => return None,
    })
}

fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) { format!("{} s", ms / 1000) } else { format!("{:.1} s", ms as f64 / 1000.0) }
}

fn record_mode(mode: RecordMode) -> &'static str {
    match mode {
        RecordMode::Foreground => "foreground",
        RecordMode::Session => "whole session",
        RecordMode::Bridge => "bridged call",
        RecordMode::Api => "API",
    }
}

/// Text as one transcript line: every run of whitespace (newlines, indentation) becomes one
/// space, as a voice reads it, and the ends are trimmed.
pub(crate) fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// `url` without its `#…` fragment (the HTTP layer's options).
pub(crate) fn strip_fragment(url: &str) -> &str {
    url.split_once('#').map_or(url, |(u, _)| u)
}

/// What a request is for, as transcripts say it (`answer`, `GetDigits action`, `hangup`, …).
pub(crate) fn purpose_text(req: &HttpRequest) -> String {
    match req.purpose {
        Purpose::Answer => "answer".to_owned(),
        Purpose::Fallback => "fallback".to_owned(),
        Purpose::Redirect => "redirect".to_owned(),
        Purpose::Transfer => "transfer".to_owned(),
        Purpose::Action(v) => {
            if req.reply == Reply::Execute {
                format!("{v} action")
            } else {
                format!("{v} action, reply ignored")
            }
        }
        Purpose::Callback(what) => format!("{what} callback"),
        Purpose::Sound(what) => what.to_owned(),
        Purpose::Hangup => "hangup".to_owned(),
    }
}

fn describe_sounds(doc: &Arc<Document>) -> String {
    let parts: Vec<String> = doc
        .verbs
        .iter()
        .filter_map(|v| match v {
            Verb::Speak(s) => Some(format!("\"{}\"", one_line(&s.text()))),
            Verb::Play(p) => p.url.as_ref().map(|u| u.as_str().to_owned()),
            Verb::Wait(w) => Some(format!("{} s of silence", w.length)),
            _ => None,
        })
        .collect();
    parts.join(", ")
}
