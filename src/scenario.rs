//! Scenario files: a TOML description of calls, served documents, timing and scripted events,
//! loaded into a [`Simulation`]. The format is documented in `docs/scenarios.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::engine::{DialEvent, Direction, HangupSource, Input, MediaEvent, MemberMedia, MemberTarget, Webhook};
use crate::media::DialDefault;
use crate::runtime::{LineKind, RoomOp};
use crate::sim::{Fault, FaultKind, NOT_SERVED, Simulation};
use crate::xml::values::Method;

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The TOML is malformed or does not match the format.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// The scenario file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The scenario is well-formed but inconsistent (unknown call, bad duration, …).
    #[error("{path}: {message}")]
    Invalid {
        /// The scenario file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A duration written as `90`, `1.5s`, `250ms`, `2m` or `1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Float(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(Dur(Duration::from_secs(n))),
            Raw::Float(f) => {
                parse_seconds(f).map(Dur).ok_or_else(|| serde::de::Error::custom("a duration must be positive"))
            }
            Raw::Text(s) => parse_duration(&s).map(Dur).ok_or_else(|| {
                serde::de::Error::custom(format!("invalid duration `{s}`: expected e.g. 90, 1.5s, 250ms, 2m or 1h"))
            }),
        }
    }
}

fn parse_seconds(f: f64) -> Option<Duration> {
    (f.is_finite() && (0.0..1e9).contains(&f)).then(|| Duration::from_secs_f64(f))
}

/// Parses `90`, `1.5s`, `250ms`, `2m`, `1h`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num.trim().parse().ok()?;
    let scale = match unit.trim() {
        "ms" => 0.001,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    parse_seconds(n * scale)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    live: bool,
    #[serde(default)]
    transcription: Option<String>,
    #[serde(default, rename = "call")]
    calls: Vec<CallSpec>,
    #[serde(default)]
    documents: BTreeMap<String, DocSpec>,
    #[serde(default)]
    timing: Option<TimingSpec>,
    #[serde(default)]
    dial: Option<DialSpec>,
    #[serde(default, rename = "event")]
    events: Vec<EventSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallSpec {
    name: String,
    answer: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    caller_name: Option<String>,
    #[serde(default)]
    direction: Option<String>,
    #[serde(default)]
    at: Dur,
    #[serde(default)]
    answer_method: Option<String>,
    #[serde(default)]
    fallback_url: Option<String>,
    #[serde(default)]
    hangup_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DocSpec {
    /// A file path, relative to the scenario.
    Path(String),
    Table(DocTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DocTable {
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    xml: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    fail: Option<String>,
    /// `timeout` or `refused`.
    #[serde(default)]
    fault: Option<String>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    redirect: Option<String>,
    #[serde(default)]
    delay: Option<Dur>,
    #[serde(default)]
    times: Option<u32>,
}

impl DocTable {
    /// Whether the entry injects a fault (anything but a plain document or `fail`).
    fn is_fault(&self) -> bool {
        self.fault.is_some()
            || self.status.is_some()
            || self.redirect.is_some()
            || self.delay.is_some()
            || self.times.is_some()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimingSpec {
    #[serde(default)]
    speak_per_char: Option<Dur>,
    #[serde(default)]
    speak_min: Option<Dur>,
    #[serde(default)]
    play_default: Option<Dur>,
    #[serde(default)]
    caller_talks: Option<Dur>,
    #[serde(default)]
    play: BTreeMap<String, Dur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DialSpec {
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    answer_after: Option<Dur>,
    #[serde(default)]
    talk: Option<Dur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventSpec {
    at: Dur,
    action: String,
    #[serde(default)]
    call: Option<String>,
    #[serde(default)]
    keys: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    confidence: Option<f32>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    room: Option<String>,
    #[serde(default)]
    member: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    voice: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    duration: Option<Dur>,
}

/// Reads an XML document file as the runtimes read a fetched body: in the single-byte encoding
/// its declaration names, else UTF-8 (invalid sequences replaced; the parser then sees U+FFFD).
fn read_document(path: &Path) -> Result<String, ScenarioError> {
    let bytes = std::fs::read(path).map_err(|source| ScenarioError::Io { path: path.to_owned(), source })?;
    Ok(match crate::xml::decode(&bytes) {
        Some(text) => text.into_owned(),
        None => String::from_utf8_lossy(&bytes).into_owned(),
    })
}

/// A loaded scenario, ready to run.
#[derive(Debug)]
pub struct Scenario {
    /// The scenario's own description.
    pub description: Option<String>,
    /// The simulation, with calls, documents and events in place.
    pub simulation: Simulation,
    /// `live = true`: the URLs `[documents]` does not list are to be requested from the real
    /// application (the CLI then sets a [`crate::sim::Fetcher`]; the scenario itself does no
    /// I/O).
    pub live: bool,
    /// The settings and events as written, for `run --record` cassettes.
    pub script: Script,
}

/// What a cassette recording keeps of a scenario ([`crate::cassette::from_simulation`]).
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// `seed`, `timing`, `dial` and `transcription` as written, as one JSON object.
    pub settings: serde_json::Value,
    /// Each `[[event]]` table (without `at`) as a JSON object, with its time.
    pub events: Vec<(Duration, serde_json::Value)>,
}

/// The keys of a scenario that shape a replay besides its calls and events.
const SETTINGS: &[&str] = &["seed", "timing", "dial", "transcription"];

/// The settings table of a cassette or scenario as a [`File`] with nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    transcription: Option<String>,
    #[serde(default)]
    timing: Option<TimingSpec>,
    #[serde(default)]
    dial: Option<DialSpec>,
}

impl Scenario {
    /// Loads a scenario file (`.toml`), reading the documents it names relative to it.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ScenarioError::Io { path: path.to_owned(), source })?;
        Self::from_toml(&text, path)
    }

    /// A scenario that runs one bare XML document: one inbound call `caller`, answered with
    /// the document, no scripted events.
    pub fn bare_document(path: &Path) -> Result<Scenario, ScenarioError> {
        let xml = read_document(path)?;
        // Named by file name only, so transcripts do not depend on where they are run from.
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        Ok(Self::bare_text(&name, &xml))
    }

    /// [`Scenario::bare_document`] for a document already read (e.g. from standard input),
    /// served as `file:NAME`.
    pub fn bare_text(name: &str, xml: &str) -> Scenario {
        let mut sim = Simulation::new();
        let url = format!("file:{name}");
        sim.serve_named(&url, name, xml);
        sim.start_call("caller", &url);
        Scenario { description: None, simulation: sim, live: false, script: Script::default() }
    }

    /// Parses scenario text; `path` locates relative files and names errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let file: File = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |sp| line_col(text, sp.start));
            ScenarioError::Syntax { path: path.to_owned(), line, column, message: e.message().to_owned() }
        })?;
        let invalid = |message: String| ScenarioError::Invalid { path: path.to_owned(), message };
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut sim = Simulation::with_seed(file.seed.unwrap_or(1));
        configure(&mut sim, file.transcription.as_deref(), file.timing.as_ref(), file.dial.as_ref())
            .map_err(&invalid)?;

        // Documents are named as the scenario writes them (relative to it), so transcripts do not
        // depend on where they are run from.
        let read = |rel: &str| -> Result<(String, String), ScenarioError> {
            let p = dir.join(rel);
            let text = read_document(&p)?;
            Ok((rel.to_owned(), text))
        };
        for (url, spec) in &file.documents {
            match spec {
                DocSpec::Path(rel) => {
                    let (name, xml) = read(rel)?;
                    sim.serve_named(url, &name, &xml);
                }
                DocSpec::Table(t) if t.is_fault() => {
                    let fault = fault_of(t, url).map_err(invalid)?;
                    let fault = match (&t.file, fault) {
                        (Some(rel), fault) => {
                            let (name, xml) = read(rel)?;
                            sim.name_document(url, &name);
                            Fault { body: Some(xml), ..fault }
                        }
                        (None, fault) => fault,
                    };
                    sim.inject_fault(url, fault);
                }
                DocSpec::Table(t) => match (&t.file, &t.xml, &t.body, &t.fail) {
                    (Some(rel), None, None, None) => {
                        let (name, xml) = read(rel)?;
                        sim.serve_named(url, &name, &xml);
                    }
                    (None, Some(xml), None, None) | (None, None, Some(xml), None) => sim.serve(url, xml),
                    (None, None, None, Some(reason)) => sim.serve_failure(url, reason),
                    _ => {
                        return Err(invalid(format!(
                            "[documents] `{url}`: give exactly one of file, xml, body or fail"
                        )));
                    }
                },
            }
        }

        if file.calls.is_empty() {
            return Err(invalid("a scenario needs at least one [[call]]".to_owned()));
        }
        let mut names = std::collections::HashSet::new();
        for c in &file.calls {
            if !names.insert(c.name.as_str()) {
                return Err(invalid(format!("two calls are named `{}`", c.name)));
            }
            // The answer document: a served URL, or a file beside the scenario.
            let answer = if c.answer.contains("://") {
                c.answer.clone()
            } else {
                let url = format!("file:{}", c.answer);
                let (name, xml) = read(&c.answer)?;
                sim.serve_named(&url, &name, &xml);
                url
            };
            let direction = match c.direction.as_deref() {
                None | Some("inbound") => Direction::Inbound,
                Some("outbound") => Direction::Outbound,
                Some(other) => {
                    return Err(invalid(format!(
                        "call `{}`: direction `{other}`: expected inbound or outbound",
                        c.name
                    )));
                }
            };
            let mut setup = sim.setup(&c.name, &answer, direction);
            if let Some(f) = &c.from {
                setup.from = f.as_str().into();
            }
            if let Some(t) = &c.to {
                setup.to = t.as_str().into();
            }
            if let Some(n) = &c.caller_name {
                setup.caller_name = n.as_str().into();
            }
            if let Some(m) = &c.answer_method {
                let method = method(m).map_err(|e| invalid(format!("call `{}`: {e}", c.name)))?;
                setup.answer = Webhook::new(setup.answer.url(), method);
            }
            setup.fallback = c.fallback_url.clone().map(Webhook::post);
            setup.hangup = c.hangup_url.clone().map(Webhook::post);
            sim.start_call_with(c.at.0, &c.name, setup);
        }

        add_events(&mut sim, file.events.iter().enumerate().map(|(i, e)| (i + 1, e)), path)?;
        let script = script_of(text, &file);
        Ok(Scenario { description: file.description, simulation: sim, live: file.live, script })
    }
}

/// Applies a scenario's `transcription`, `[timing]` and `[dial]` to `sim`; the message says
/// what is wrong.
fn configure(
    sim: &mut Simulation,
    transcription: Option<&str>,
    timing: Option<&TimingSpec>,
    dial: Option<&DialSpec>,
) -> Result<(), String> {
    if let Some(text) = transcription {
        sim.set_transcription_text(text);
    }

    if let Some(t) = timing {
        let timing = sim.timing_mut();
        if let Some(d) = t.speak_per_char {
            timing.speak_per_char = d.0;
        }
        if let Some(d) = t.speak_min {
            timing.speak_min = d.0;
        }
        if let Some(d) = t.play_default {
            timing.play_default = d.0;
        }
        if let Some(d) = t.caller_talks {
            timing.caller_talks = d.0;
        }
        for (url, d) in &t.play {
            timing.play.insert(url.clone(), d.0);
        }
    }
    if let Some(d) = dial {
        let default = match d.default.as_deref().unwrap_or("answer") {
            "answer" => DialDefault::Answer {
                after: d.answer_after.map_or(Duration::from_secs(5), |x| x.0),
                talk: d.talk.map_or(Duration::from_secs(30), |x| x.0),
            },
            "busy" => DialDefault::Busy,
            "no-answer" => DialDefault::NoAnswer,
            "failed" => DialDefault::Failed,
            "scripted" => DialDefault::Scripted,
            other => {
                return Err(format!("[dial] default `{other}`: expected answer, busy, no-answer, failed or scripted"));
            }
        };
        sim.set_dial_default(default);
    }

    Ok(())
}

/// Schedules the `[[event]]`s (numbered `n` in messages) in `sim`.
fn add_events<'a>(
    sim: &mut Simulation,
    events: impl Iterator<Item = (usize, &'a EventSpec)>,
    path: &Path,
) -> Result<(), ScenarioError> {
    let invalid = |message: String| ScenarioError::Invalid { path: path.to_owned(), message };
    for (n, e) in events {
        let at = e.at.0;
        let need = |v: &Option<String>, what: &str| -> Result<String, ScenarioError> {
            v.clone().ok_or_else(|| invalid(format!("event {n} ({}): `{what}` is required", e.action)))
        };
        let call = |sim: &Simulation| -> Result<String, ScenarioError> {
            let c = need(&e.call, "call")?;
            if sim.call_id(&c).is_none() {
                return Err(invalid(format!("event {n} ({}): no call named `{c}`", e.action)));
            }
            Ok(c)
        };
        let room = || need(&e.room, "room");
        let member = || -> Result<MemberTarget, ScenarioError> {
            let written = e.member.as_deref().unwrap_or("all");
            written.parse().map_err(|err| invalid(format!("event {n} ({}): `member`: {err}", e.action)))
        };
        match e.action.as_str() {
            "digits" => {
                let (c, keys) = (call(sim)?, need(&e.keys, "keys")?);
                sim.at(at).digits(&c, &keys);
            }
            "speech" => {
                let (c, text) = (call(sim)?, need(&e.text, "text")?);
                sim.at(at).speech(&c, &text, e.confidence.unwrap_or(0.9));
            }
            "speech-partial" => {
                let (c, text) = (call(sim)?, need(&e.text, "text")?);
                let stable = e.keys.clone().unwrap_or_default();
                let input = Input::SpeechPartial { stable, unstable: text, stability: e.confidence.unwrap_or(0.5) };
                sim.at(at).send(&c, input);
            }
            "hangup" => {
                let c = call(sim)?;
                sim.at(at).hangup(&c);
            }
            "api-hangup" => {
                let c = call(sim)?;
                sim.at(at).send(&c, Input::Hangup { source: HangupSource::ApiRequest });
            }
            "transfer" => {
                let (c, url) = (call(sim)?, need(&e.url, "url")?);
                let m =
                    method(e.method.as_deref().unwrap_or("POST")).map_err(|x| invalid(format!("event {n}: {x}")))?;
                sim.at(at).send(&c, Input::Transfer { url, method: m });
            }
            "silence" => {
                let c = call(sim)?;
                sim.at(at).send(&c, Input::MediaEvent(MediaEvent::Silence));
            }
            "beep-detected" => {
                let c = call(sim)?;
                sim.at(at).send(&c, Input::MediaEvent(MediaEvent::Beep));
            }
            "dial-ringing" | "dial-answered" | "dial-busy" | "dial-no-answer" | "dial-failed" | "callee-hangup"
            | "callee-digits" => {
                let c = call(sim)?;
                let ev = match e.action.as_str() {
                    "dial-ringing" => DialEvent::Ringing,
                    "dial-answered" => {
                        let to = e.to.clone().unwrap_or_else(|| "callee".to_owned());
                        let b_leg = crate::engine::CallId::from(format!("{c}-callee-{n}"));
                        DialEvent::Answered { b_leg, to }
                    }
                    "dial-busy" => DialEvent::Busy,
                    "dial-no-answer" => DialEvent::NoAnswer,
                    "dial-failed" => DialEvent::Failed,
                    "callee-hangup" => DialEvent::CalleeHangup,
                    _ => DialEvent::CalleeDigits(need(&e.keys, "keys")?),
                };
                sim.at(at).dial(&c, ev);
            }
            "recording-finished" => {
                let c = call(sim)?;
                let ms = e.duration.map_or(0, |d| u64::try_from(d.0.as_millis()).unwrap_or(u64::MAX));
                sim.at(at).finish_recording(&c, ms);
            }
            "stream-ended" => {
                let c = call(sim)?;
                sim.at(at).end_stream(&c);
            }
            "kick" => {
                let op = RoomOp::Kick { room: room()?, target: member()? };
                sim.at(at).room_op(op);
            }
            "mute" | "unmute" => {
                let op = RoomOp::Mute { room: room()?, target: member()?, on: e.action == "mute" };
                sim.at(at).room_op(op);
            }
            "hold" | "unhold" => {
                let op = RoomOp::Hold { room: room()?, target: member()?, on: e.action == "hold" };
                sim.at(at).room_op(op);
            }
            "deaf" | "undeaf" => {
                let op = RoomOp::Deaf { room: room()?, target: member()?, on: e.action == "deaf" };
                sim.at(at).room_op(op);
            }
            "play" => {
                let media = MemberMedia::Play { url: need(&e.url, "url")? };
                sim.at(at).room_op(RoomOp::Media { room: room()?, target: member()?, media });
            }
            "stop-play" => {
                sim.at(at).room_op(RoomOp::Media { room: room()?, target: member()?, media: MemberMedia::StopPlay });
            }
            "speak" => {
                let media = MemberMedia::Speak {
                    text: need(&e.text, "text")?,
                    voice: e.voice.clone().unwrap_or_else(|| "WOMAN".to_owned()),
                    language: e.language.clone().unwrap_or_else(|| "en-US".to_owned()),
                };
                sim.at(at).room_op(RoomOp::Media { room: room()?, target: member()?, media });
            }
            "stop-speak" => {
                sim.at(at).room_op(RoomOp::Media { room: room()?, target: member()?, media: MemberMedia::StopSpeak });
            }
            "hangup-member" => {
                sim.at(at).room_op(RoomOp::HangupMember { room: room()?, target: member()? });
            }
            "end-room" => {
                sim.at(at).room_op(RoomOp::End { room: room()? });
            }
            "end-all-rooms" => {
                sim.at(at).room_op(RoomOp::EndAll);
            }
            "start-recording" => {
                sim.at(at).room_op(RoomOp::StartRecording {
                    room: room()?,
                    spec: crate::engine::RecordSpec { format: crate::xml::values::FileFormat::Mp3, callback: None },
                });
            }
            "stop-recording" => {
                sim.at(at).room_op(RoomOp::StopRecording { room: room()? });
            }
            other => return Err(invalid(format!("event {n}: unknown action `{other}` (see docs/scenarios.md)"))),
        }
    }
    Ok(())
}

/// The settings and events of scenario `text` as JSON ([`Script`]); `file` is its parse.
fn script_of(text: &str, file: &File) -> Script {
    let table: toml::Table = text.parse().unwrap_or_default();
    let mut settings = serde_json::Map::new();
    for k in SETTINGS {
        if let Some(v) = table.get(*k)
            && let Ok(j) = serde_json::to_value(v)
        {
            settings.insert((*k).to_owned(), j);
        }
    }
    let raw = table.get("event").and_then(|e| e.as_array()).cloned().unwrap_or_default();
    let events = file
        .events
        .iter()
        .zip(raw)
        .map(|(spec, v)| {
            let mut j = serde_json::to_value(v).unwrap_or_default();
            if let Some(o) = j.as_object_mut() {
                o.remove("at");
            }
            (spec.at.0, j)
        })
        .collect();
    Script { settings: serde_json::Value::Object(settings), events }
}

/// The simulation that replays `cassettes` (of one recording; `path` names errors): the
/// first one's settings and speed, every call started at its recorded time with its
/// recorded setup (in recorded order, so seeded ids come out the same), and every event once
/// (by `seq`) at its time. Documents are not served: a
/// [`crate::cassette::CassetteFetcher`] is to answer every request.
///
/// # Errors
/// [`ScenarioError::Invalid`] when a setting, call or event cannot be replayed.
pub fn replay_simulation(path: &Path, cassettes: &[crate::cassette::Cassette]) -> Result<Simulation, ScenarioError> {
    let invalid = |message: String| ScenarioError::Invalid { path: path.to_owned(), message };
    let first = cassettes.first().ok_or_else(|| invalid("no cassette to replay".to_owned()))?;
    // A cassette written by hand may leave `settings` out (null): no settings then.
    let raw = match &first.settings {
        serde_json::Value::Null => serde_json::json!({}),
        v => v.clone(),
    };
    let settings: Settings =
        serde_json::from_value(raw).map_err(|e| invalid(format!("the cassette's settings: {e}")))?;
    let mut sim = Simulation::with_seed(settings.seed.unwrap_or(1));
    configure(&mut sim, settings.transcription.as_deref(), settings.timing.as_ref(), settings.dial.as_ref())
        .map_err(&invalid)?;
    if let Some(speed) = first.speed {
        sim.set_speed(speed);
    }
    let mut calls: Vec<&crate::cassette::RecordedCall> = cassettes.iter().filter_map(|c| c.call.as_ref()).collect();
    calls.sort_by_key(|c| c.index);
    for c in calls {
        let direction = match c.direction.as_str() {
            "inbound" => Direction::Inbound,
            "outbound" => Direction::Outbound,
            other => return Err(invalid(format!("call `{}`: direction `{other}`", c.name))),
        };
        let hook = |h: &Option<(String, String)>| -> Result<Option<Webhook>, ScenarioError> {
            h.as_ref()
                .map(|(u, m)| {
                    method(m).map(|m| Webhook::new(u, m)).map_err(|e| invalid(format!("call `{}`: {e}", c.name)))
                })
                .transpose()
        };
        let mut setup = sim.setup(&c.name, &c.answer_url, direction);
        setup.from = c.from.as_str().into();
        setup.to = c.to.as_str().into();
        setup.caller_name = c.caller_name.as_str().into();
        let m = method(&c.answer_method).map_err(|e| invalid(format!("call `{}`: {e}", c.name)))?;
        setup.answer = Webhook::new(&c.answer_url, m);
        setup.fallback = hook(&c.fallback)?;
        setup.hangup = hook(&c.hangup)?;
        setup.ring = hook(&c.ring)?;
        setup.request_uuid = c.request_uuid.as_deref().map(Into::into);
        sim.start_call_with(Duration::from_millis(c.at_ms), &c.name, setup);
    }
    let mut seen = std::collections::HashSet::new();
    let mut events: Vec<&crate::cassette::RecordedEvent> =
        cassettes.iter().flat_map(|c| &c.events).filter(|e| seen.insert(e.seq)).collect();
    events.sort_by_key(|e| (e.at_ms, e.seq));
    let mut specs = Vec::with_capacity(events.len());
    for e in &events {
        let mut v = e.event.clone();
        if let Some(o) = v.as_object_mut() {
            o.insert("at".to_owned(), serde_json::Value::from(0));
        }
        let mut spec: EventSpec =
            serde_json::from_value(v).map_err(|err| invalid(format!("event {}: {err}", e.seq + 1)))?;
        spec.at = Dur(Duration::from_millis(e.at_ms));
        specs.push((usize::try_from(e.seq).unwrap_or(usize::MAX).saturating_add(1), spec));
    }
    add_events(&mut sim, specs.iter().map(|(n, s)| (*n, s)), path)?;
    Ok(sim)
}

/// What a transcript shows went wrong with the scenario itself rather than with the flow: a
/// document fetched from a URL nothing serves, a REST operation the engine refused, or an
/// event for a call that has ended. `plivo-flow run` and `test` print these (`--strict` fails on
/// them); see docs/scenarios.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioWarning {
    /// Virtual time of the transcript line it comes from, in milliseconds.
    pub at_ms: u64,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScenarioWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A time as a scenario writes it: `90s`, `2m`, `1.5s`, `1h`.
fn scenario_time(ms: u64) -> String {
    if ms > 0 && ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms > 0 && ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms as f64 / 1000.0)
    }
}

/// The scenario problems a run's transcript shows (see [`ScenarioWarning`]), in transcript order.
pub fn warnings(sim: &Simulation) -> Vec<ScenarioWarning> {
    let lines = sim.transcript();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let message = match l.kind {
            LineKind::FetchFailed => {
                let Some(rest) = l.text.strip_prefix("fetch of ") else { continue };
                let Some((url, tail)) = rest.split_once(&format!(" failed: {NOT_SERVED}")) else { continue };
                // A redirect on purpose to a URL nothing serves names that URL.
                let url = match tail.strip_prefix(" (redirected to ").and_then(|t| t.strip_suffix(')')) {
                    Some(to) => to,
                    None if tail.is_empty() => url,
                    None => continue,
                };
                // The cause, when this failure (and any fallback's) ended the call.
                let cause = lines[i + 1..]
                    .iter()
                    .filter(|n| n.who == l.who)
                    .find(|n| !matches!(n.kind, LineKind::Request | LineKind::FetchFailed))
                    .filter(|n| n.kind == LineKind::Hangup)
                    .and_then(|n| n.text.strip_prefix("hung up: "))
                    .and_then(|t| t.split_whitespace().next())
                    .map_or_else(String::new, |code| format!(" ({code})"));
                format!("call `{}` fetched `{url}` which [documents] does not serve{cause}", l.who)
            }
            LineKind::Api => match l.text.split_once(": error: ") {
                Some((op, err)) => format!("event at {}: {op}: {err}", scenario_time(l.at_ms)),
                None => continue,
            },
            LineKind::Ignored => format!("event at {}: `{}` {}", scenario_time(l.at_ms), l.who, l.text),
            LineKind::Error => format!("event at {}: `{}`: {}", scenario_time(l.at_ms), l.who, l.text),
            _ => continue,
        };
        out.push(ScenarioWarning { at_ms: l.at_ms, message });
    }
    out
}

/// The [`Fault`] of a `[documents]` entry with `fault`, `status`, `redirect`, `delay` or
/// `times` (its `file`, if any, is read by the caller), or what is wrong with it.
fn fault_of(t: &DocTable, url: &str) -> Result<Fault, String> {
    let bad = |why: &str| Err(format!("[documents] `{url}`: {why}"));
    if t.fail.is_some() {
        return bad(
            "`fail` cannot be combined with fault, status, redirect, delay or times (write `fault = \"refused\"`)",
        );
    }
    if [t.file.is_some(), t.xml.is_some(), t.body.is_some()].iter().filter(|x| **x).count() > 1 {
        return bad("give at most one of file, xml or body");
    }
    if [t.fault.is_some(), t.status.is_some(), t.redirect.is_some()].iter().filter(|x| **x).count() > 1 {
        return bad("give at most one of fault, status or redirect");
    }
    let kind = match (&t.fault, t.status, &t.redirect) {
        (Some(f), _, _) => match f.as_str() {
            "timeout" => Some(FaultKind::Timeout),
            "refused" => Some(FaultKind::Refused),
            other => return bad(&format!("fault `{other}`: expected timeout or refused")),
        },
        (_, Some(s), _) if (400..=599).contains(&s) => Some(FaultKind::Status(s)),
        (_, Some(s), _) => return bad(&format!("status {s}: expected 400–599 (a redirect is `redirect = \"URL\"`)")),
        (_, _, Some(to)) if to.contains("://") => Some(FaultKind::Redirect(to.clone())),
        (_, _, Some(to)) => return bad(&format!("redirect `{to}`: expected an absolute URL")),
        _ => None,
    };
    if t.delay.is_some() && matches!(kind, Some(FaultKind::Timeout | FaultKind::Refused)) {
        return bad("a `delay` means nothing with fault = timeout or refused");
    }
    if t.times == Some(0) {
        return bad("`times` must be at least 1");
    }
    Ok(Fault {
        kind,
        delay: t.delay.map_or(Duration::ZERO, |d| d.0),
        times: t.times,
        body: t.xml.clone().or_else(|| t.body.clone()),
    })
}

fn method(s: &str) -> Result<Method, String> {
    match s {
        "GET" => Ok(Method::Get),
        "POST" => Ok(Method::Post),
        other => Err(format!("method `{other}`: expected GET or POST")),
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description.as_deref().unwrap_or("scenario"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("3 fortnights"), None);
    }

    #[test]
    fn errors_are_located() {
        let err =
            Scenario::from_toml("[[call]]\nname = \"a\"\nanswr = \"x.xml\"\n", Path::new("s.toml")).expect_err("bad");
        let ScenarioError::Syntax { line, .. } = err else { panic!("{err}") };
        assert_eq!(line, 3);
        let err = Scenario::from_toml(
            "[[call]]\nname = \"a\"\nanswer = \"https://x.example/a\"\n[[event]]\nat = \"1s\"\naction = \"kick\"\n",
            Path::new("s.toml"),
        )
        .expect_err("no room");
        assert_eq!(err.to_string(), "s.toml: event 1 (kick): `room` is required");
        let err = Scenario::from_toml(
            "[[call]]\nname = \"a\"\nanswer = \"https://x.example/a\"\n[[event]]\nat = \"soon\"\naction = \"hangup\"\ncall = \"a\"\n",
            Path::new("s.toml"),
        )
        .expect_err("bad duration");
        assert!(err.to_string().contains("invalid duration `soon`"), "{err}");
    }
}
