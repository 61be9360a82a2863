//! `<GetDigits>` / `<GetInput>`: prompts, key and speech collection, retries.

use crate::engine::Callback;
use std::sync::Arc;
use std::time::Duration;

use super::parameters::{Ctx, Params};
use super::timers::Timer;
use super::{Action, Call, Flow, Run, State, Step, secs};
use crate::engine::ids::MediaId;
use crate::engine::io::{Collect, Command, Listener, VerbRef};
use crate::xml::values::{EndTimeout, InputType, Method, Url};
use crate::xml::{self, Document, Prompt, Verb};

/// A running gather: its settings, computed once when it starts, and how far it got.
#[derive(Debug)]
pub(super) struct Gather {
    settings: Box<GatherSettings>,
    attempt: u32,
    phase: GatherPhase,
    prompt: usize,
    media: Option<MediaId>,
    digits: String,
    /// The collection started for the verb (stopped when it ends).
    recognition: Option<MediaId>,
    /// Interim speech results sent so far (`SequenceNumber`).
    partials: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GatherPhase {
    Prompts,
    Beep,
    Listen,
    Invalid,
}

/// What a gather needs of its element, read once when it starts.
#[derive(Debug)]
struct GatherSettings {
    /// `GetDigits` or `GetInput`.
    verb: &'static str,
    /// The element (its prompts are played through it).
    at: VerbRef,
    prompts: Vec<PromptKind>,
    /// `<GetDigits playBeep>`.
    beep: bool,
    /// What is listened for (also sent as `StartCollect`).
    collect: Collect,
    /// `<GetDigits invalidDigitsSound>`.
    invalid_sound: Option<Url>,
    action: Option<Action>,
    /// `<GetInput interimSpeechResultsCallback>`.
    interim: Option<(Url, Method)>,
}

#[derive(Debug, Clone, Copy)]
enum PromptKind {
    Speak,
    Play,
    Wait(Duration),
}

fn prompt_kinds(prompts: &[Prompt]) -> Vec<PromptKind> {
    prompts
        .iter()
        .map(|p| match p {
            Prompt::Speak(_) => PromptKind::Speak,
            Prompt::Play(_) => PromptKind::Play,
            Prompt::Wait(w) => PromptKind::Wait(secs(w.length)),
        })
        .collect()
}

impl GatherSettings {
    fn of(verb: &Verb, at: VerbRef, auto_digit_end_timeout: Duration) -> Option<Self> {
        Some(match verb {
            Verb::GetInput(v) => GatherSettings {
                verb: "GetInput",
                at,
                prompts: prompt_kinds(&v.prompts),
                beep: false,
                collect: Collect {
                    dtmf: matches!(v.input_type, Some(InputType::Dtmf | InputType::DtmfSpeech)),
                    speech: matches!(v.input_type, Some(InputType::Speech | InputType::DtmfSpeech)),
                    language: v.language.as_str().to_owned(),
                    hints: v.hints.as_ref().map(|h| h.to_string()),
                    max_digits: v.num_digits,
                    finish_on_key: v.finish_on_key,
                    valid_digits: None,
                    timeout: secs(v.execution_timeout),
                    digit_timeout: match v.digit_end_timeout {
                        EndTimeout::Auto => auto_digit_end_timeout,
                        EndTimeout::Secs(n) => secs(n),
                    },
                    attempts: v.retries,
                },
                invalid_sound: None,
                action: v.action.clone().map(|u| (u, v.method, v.redirect)),
                interim: v
                    .interim_speech_results_callback
                    .clone()
                    .map(|u| (u, v.interim_speech_results_callback_method)),
            },
            Verb::GetDigits(v) => GatherSettings {
                verb: "GetDigits",
                at,
                prompts: prompt_kinds(&v.prompts),
                beep: v.play_beep,
                collect: Collect {
                    dtmf: true,
                    speech: false,
                    language: String::new(),
                    hints: None,
                    max_digits: v.num_digits,
                    finish_on_key: v.finish_on_key,
                    valid_digits: Some(v.valid_digits),
                    timeout: secs(v.timeout),
                    digit_timeout: secs(v.digit_timeout),
                    attempts: v.retries,
                },
                invalid_sound: v.invalid_digits_sound.clone(),
                action: v.action.clone().map(|u| (u, v.method, v.redirect)),
                interim: None,
            },
            _ => return None,
        })
    }
}

impl Call {
    /// Starts a `<GetDigits>` / `<GetInput>`: the collection, then the first prompt.
    pub(super) fn start_gather(&mut self, now: Duration, verb: &Verb) -> Flow {
        self.ensure_answered(now);
        let Some(at) = self.verb_ref(None) else {
            return Flow::Stop;
        };
        let Some(settings) = GatherSettings::of(verb, at, self.config.auto_digit_end_timeout) else {
            return Flow::Stop;
        };
        let gather = Gather::start(&mut self.cx(), now, settings);
        self.state = State::Running(Run::Gather(gather));
        Flow::Wait
    }

    pub(super) fn on_speech(&mut self, now: Duration, text: String, confidence: f32) {
        if let (State::Running(Run::Gather(g)), mut cx) = self.parts() {
            let step = g.on_speech(&mut cx, text, confidence);
            self.apply(now, step);
        }
    }

    pub(super) fn on_speech_partial(&mut self, stable: String, unstable: String, stability: f32) {
        if let (State::Running(Run::Gather(g)), mut cx) = self.parts() {
            g.on_speech_partial(&mut cx, stable, unstable, stability);
        }
    }
}

impl Gather {
    fn start(cx: &mut Ctx<'_>, now: Duration, settings: GatherSettings) -> Gather {
        let media = cx.media_id();
        cx.emit(Command::StartCollect { media, collect: Box::new(settings.collect.clone()) });
        let mut g = Gather {
            settings: Box::new(settings),
            attempt: 1,
            phase: GatherPhase::Prompts,
            prompt: 0,
            media: None,
            digits: String::new(),
            recognition: Some(media),
            partials: 0,
        };
        g.play_prompt(cx, now);
        g
    }

    /// Plays prompt `self.prompt`, or moves past the prompts (beep, then listen).
    fn play_prompt(&mut self, cx: &mut Ctx<'_>, now: Duration) {
        let Some(&kind) = self.settings.prompts.get(self.prompt) else {
            if self.settings.beep {
                let media = cx.media_id();
                cx.emit(Command::Beep { media, count: 1 });
                self.phase = GatherPhase::Beep;
                self.media = Some(media);
            } else {
                self.listen(cx, now);
            }
            return;
        };
        match kind {
            PromptKind::Wait(length) => {
                cx.timers.set(Timer::Verb, now + length);
                self.media = None;
            }
            PromptKind::Speak | PromptKind::Play => {
                let media = cx.media_id();
                let r = VerbRef { prompt: Some(self.prompt), ..self.settings.at.clone() };
                cx.emit(match kind {
                    PromptKind::Speak => Command::Speak { media, speak: r },
                    _ => Command::Play { media, play: r },
                });
                self.media = Some(media);
            }
        }
    }

    fn listen(&mut self, cx: &mut Ctx<'_>, now: Duration) {
        self.phase = GatherPhase::Listen;
        cx.timers.set(Timer::Verb, now + self.settings.collect.timeout);
    }

    /// Stops the prompt or beep in progress (barge-in).
    fn barge_in(&mut self, cx: &mut Ctx<'_>) {
        if let Some(m) = self.media.take() {
            cx.emit(Command::StopMedia(m));
        }
        if self.phase != GatherPhase::Listen {
            cx.timers.clear(Timer::Verb);
        }
        self.phase = GatherPhase::Listen;
    }

    /// A prompt, the beep or the invalid-digits sound finished.
    pub(super) fn on_media_finished(&mut self, cx: &mut Ctx<'_>, now: Duration, m: MediaId) -> Step {
        if self.media != Some(m) {
            return Step::Stay;
        }
        self.media = None;
        match self.phase {
            GatherPhase::Prompts => {
                self.prompt += 1;
                self.play_prompt(cx, now);
            }
            GatherPhase::Beep => self.listen(cx, now),
            GatherPhase::Invalid => return self.failed(cx, now),
            GatherPhase::Listen => {}
        }
        Step::Stay
    }

    /// The verb timer: a `<Wait>` prompt ended, or the caller stopped (or never started) typing.
    pub(super) fn on_timer(&mut self, cx: &mut Ctx<'_>, now: Duration) -> Step {
        match self.phase {
            GatherPhase::Prompts => {
                self.prompt += 1;
                self.play_prompt(cx, now);
                Step::Stay
            }
            GatherPhase::Listen if self.digits.is_empty() => self.failed(cx, now),
            GatherPhase::Listen => {
                let digits = std::mem::take(&mut self.digits);
                self.submit(cx, Some(digits), None)
            }
            GatherPhase::Beep | GatherPhase::Invalid => Step::Stay,
        }
    }

    pub(super) fn on_key(&mut self, cx: &mut Ctx<'_>, now: Duration, key: char) -> Step {
        if !self.settings.collect.dtmf || self.phase == GatherPhase::Invalid {
            return Step::Stay;
        }
        self.barge_in(cx);
        let collect = &self.settings.collect;
        if collect.finish_on_key.ends_on(key) {
            if self.digits.is_empty() {
                return self.failed(cx, now);
            }
            let digits = std::mem::take(&mut self.digits);
            return self.submit(cx, Some(digits), None);
        }
        if collect.valid_digits.is_some_and(|v| !v.contains(key)) {
            self.digits.clear();
            let Some(url) = self.settings.invalid_sound.clone() else {
                return self.failed(cx, now);
            };
            self.phase = GatherPhase::Invalid;
            cx.timers.clear(Timer::Verb);
            let media = cx.media_id();
            let sounds =
                Arc::new(Document { verbs: vec![Verb::Play(xml::Play { url: Some(url), ..Default::default() })] });
            cx.emit(Command::PlaySounds {
                media,
                sounds,
                to: Listener::Caller,
                looped: false,
                what: "invalidDigitsSound",
            });
            self.media = Some(media);
            return Step::Stay;
        }
        self.digits.push(key);
        if self.digits.chars().count() >= collect.max_digits as usize {
            let digits = std::mem::take(&mut self.digits);
            self.submit(cx, Some(digits), None)
        } else {
            cx.timers.set(Timer::Verb, now + collect.digit_timeout);
            Step::Stay
        }
    }

    pub(super) fn on_speech(&mut self, cx: &mut Ctx<'_>, text: String, confidence: f32) -> Step {
        if !self.settings.collect.speech {
            return Step::Stay;
        }
        self.barge_in(cx);
        self.submit(cx, None, Some((text, confidence)))
    }

    pub(super) fn on_speech_partial(&mut self, cx: &mut Ctx<'_>, stable: String, unstable: String, stability: f32) {
        self.partials += 1;
        let Some((url, method)) = &self.settings.interim else {
            return;
        };
        let params = vec![
            ("StableSpeech".to_owned(), stable),
            ("UnstableSpeech".to_owned(), unstable),
            ("Stability".to_owned(), format!("{stability:.2}")),
            ("SequenceNumber".to_owned(), self.partials.to_string()),
        ];
        cx.notify(url, *method, Callback::InterimSpeech, params);
    }

    /// This attempt got no (valid) input: retry, or fall through without a request.
    fn failed(&mut self, cx: &mut Ctx<'_>, now: Duration) -> Step {
        if self.attempt < self.settings.collect.attempts {
            self.attempt += 1;
            self.prompt = 0;
            self.phase = GatherPhase::Prompts;
            self.digits.clear();
            cx.timers.clear(Timer::Verb);
            self.play_prompt(cx, now);
            return Step::Stay;
        }
        if let Some(m) = self.recognition.take() {
            cx.emit(Command::StopCollect(m));
        }
        Step::Done(super::Outcome::NoInput)
    }

    fn submit(&mut self, cx: &mut Ctx<'_>, digits: Option<String>, speech: Option<(String, f32)>) -> Step {
        if let Some(m) = self.recognition.take() {
            cx.emit(Command::StopCollect(m));
        }
        let verb = self.settings.verb;
        let mut params = Params::new();
        let outcome;
        match (digits, speech) {
            (Some(d), _) if verb == "GetDigits" => {
                outcome = super::Outcome::Digits(d.clone());
                params.push(("Digits".to_owned(), d));
            }
            // <GetInput> always sends the same four fields; the ones that do not apply are empty.
            (Some(d), _) => {
                outcome = super::Outcome::Digits(d.clone());
                params.push(("InputType".to_owned(), "dtmf".to_owned()));
                params.push(("Digits".to_owned(), d));
                params.push(("Speech".to_owned(), String::new()));
                params.push(("SpeechConfidenceScore".to_owned(), String::new()));
            }
            (None, Some((text, conf))) => {
                outcome = super::Outcome::Speech(text.clone());
                params.push(("InputType".to_owned(), "speech".to_owned()));
                params.push(("Digits".to_owned(), String::new()));
                params.push(("Speech".to_owned(), text));
                params.push(("SpeechConfidenceScore".to_owned(), format!("{conf:.2}")));
            }
            (None, None) => outcome = super::Outcome::NoInput,
        }
        Step::Action { outcome, action: self.settings.action.clone(), verb, params }
    }

    /// Stops what the gather holds (hangup, transfer).
    pub(super) fn abort(self, cx: &mut Ctx<'_>) {
        if let Some(m) = self.media {
            cx.emit(Command::StopMedia(m));
        }
        if let Some(m) = self.recognition {
            cx.emit(Command::StopCollect(m));
        }
    }
}
