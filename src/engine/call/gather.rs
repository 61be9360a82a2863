//! `<GetDigits>` / `<GetInput>`.

use super::*;

#[derive(Debug)]
pub(super) struct Gather {
    pub(super) attempt: u32,
    pub(super) phase: GatherPhase,
    pub(super) prompt: usize,
    pub(super) media: Option<MediaId>,
    pub(super) digits: String,
    /// The collection started for the verb (stopped when it ends).
    pub(super) recognition: Option<MediaId>,
    /// Interim speech results sent so far (`SequenceNumber`).
    pub(super) partials: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GatherPhase {
    Prompts,
    Beep,
    Listen,
    Invalid,
}

impl Call {
    /// Plays prompt `g.prompt`, or moves past the prompts.
    pub(super) fn gather_prompt(&mut self, now: Duration) {
        let prompts = match self.verb_here() {
            Some(Verb::GetDigits(v)) => v.prompts.len(),
            Some(Verb::GetInput(v)) => v.prompts.len(),
            _ => return,
        };
        let State::Running(Run::Gather(g)) = &self.state else {
            return;
        };
        let i = g.prompt;
        if i >= prompts {
            let beep = matches!(self.verb_here(), Some(Verb::GetDigits(v)) if v.play_beep);
            if beep {
                let media = self.media_id();
                self.emit(Command::Beep { media, count: 1 });
                if let State::Running(Run::Gather(g)) = &mut self.state {
                    g.phase = GatherPhase::Beep;
                    g.media = Some(media);
                }
            } else {
                self.gather_listen(now);
            }
            return;
        }
        let prompt = match self.verb_here() {
            Some(Verb::GetDigits(v)) => v.prompts.get(i),
            Some(Verb::GetInput(v)) => v.prompts.get(i),
            _ => None,
        };
        match prompt {
            Some(Prompt::Wait(w)) => {
                self.timers[T_VERB] = Some(now + secs(w.length));
                if let State::Running(Run::Gather(g)) = &mut self.state {
                    g.media = None;
                }
            }
            Some(p) => {
                let is_speak = matches!(p, Prompt::Speak(_));
                let media = self.media_id();
                let Some(r) = self.verb_ref(Some(i)) else {
                    return;
                };
                self.emit(if is_speak { Command::Speak { media, speak: r } } else { Command::Play { media, play: r } });
                if let State::Running(Run::Gather(g)) = &mut self.state {
                    g.media = Some(media);
                }
            }
            None => {}
        }
    }

    /// What the media layer listens for during a `<GetDigits>` / `<GetInput>`.
    pub(super) fn collect_settings(&self, verb: &Verb) -> Collect {
        match verb {
            Verb::GetInput(v) => Collect {
                dtmf: matches!(v.input_type, Some(InputType::Dtmf | InputType::DtmfSpeech)),
                speech: matches!(v.input_type, Some(InputType::Speech | InputType::DtmfSpeech)),
                language: v.language.as_str().to_owned(),
                hints: v.hints.clone(),
                max_digits: v.num_digits,
                finish_on_key: v.finish_on_key,
                valid_digits: None,
                timeout: secs(v.execution_timeout),
                digit_timeout: match v.digit_end_timeout {
                    xml::values::EndTimeout::Auto => self.config.auto_digit_end_timeout,
                    xml::values::EndTimeout::Secs(n) => secs(n),
                },
                attempts: v.retries,
            },
            Verb::GetDigits(v) => Collect {
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
            _ => Collect::default(),
        }
    }

    pub(super) fn gather_listen(&mut self, now: Duration) {
        let wait = match self.verb_here() {
            Some(Verb::GetDigits(v)) => secs(v.timeout),
            Some(Verb::GetInput(v)) => secs(v.execution_timeout),
            _ => return,
        };
        if let State::Running(Run::Gather(g)) = &mut self.state {
            g.phase = GatherPhase::Listen;
            self.timers[T_VERB] = Some(now + wait);
        }
    }

    /// Stops the prompt or beep in progress (barge-in).
    pub(super) fn gather_barge_in(&mut self) {
        if let State::Running(Run::Gather(g)) = &mut self.state {
            if let Some(m) = g.media.take() {
                self.out.push_back(Output::Command(Command::StopMedia(m)));
            }
            if g.phase != GatherPhase::Listen {
                self.timers[T_VERB] = None;
            }
            g.phase = GatherPhase::Listen;
        }
    }

    pub(super) fn gather_key(&mut self, now: Duration, key: char) {
        #[derive(Clone, Copy)]
        struct Keys {
            finish: FinishOnKey,
            valid: Option<xml::values::KeySet>,
            invalid_sound: bool,
            max: u32,
            gap: Duration,
            dtmf: bool,
        }
        let keys = match self.verb_here() {
            Some(Verb::GetDigits(v)) => Keys {
                finish: v.finish_on_key,
                valid: Some(v.valid_digits),
                invalid_sound: v.invalid_digits_sound.is_some(),
                max: v.num_digits,
                gap: secs(v.digit_timeout),
                dtmf: true,
            },
            Some(Verb::GetInput(v)) => Keys {
                finish: v.finish_on_key,
                valid: None,
                invalid_sound: false,
                max: v.num_digits,
                gap: match v.digit_end_timeout {
                    xml::values::EndTimeout::Auto => self.config.auto_digit_end_timeout,
                    xml::values::EndTimeout::Secs(n) => secs(n),
                },
                dtmf: matches!(v.input_type, Some(InputType::Dtmf | InputType::DtmfSpeech)),
            },
            _ => return,
        };
        if !keys.dtmf {
            return;
        }
        if matches!(&self.state, State::Running(Run::Gather(g)) if g.phase == GatherPhase::Invalid) {
            return;
        }
        self.gather_barge_in();
        let State::Running(Run::Gather(g)) = &mut self.state else {
            return;
        };
        if keys.finish.ends_on(key) {
            if g.digits.is_empty() {
                self.gather_failed(now);
            } else {
                let digits = std::mem::take(&mut g.digits);
                self.gather_submit(now, Some(digits), None);
            }
            return;
        }
        if keys.valid.is_some_and(|v| !v.contains(key)) {
            g.digits.clear();
            if keys.invalid_sound {
                g.phase = GatherPhase::Invalid;
                self.timers[T_VERB] = None;
                if let Some(Verb::GetDigits(v)) = self.verb_here()
                    && let Some(url) = v.invalid_digits_sound.clone()
                {
                    let media = self.media_id();
                    let sounds = Arc::new(Document {
                        verbs: vec![Verb::Play(xml::Play { url: Some(url), ..Default::default() })],
                    });
                    self.emit(Command::PlaySounds {
                        media,
                        sounds,
                        to: Listener::Caller,
                        looped: false,
                        what: "invalidDigitsSound",
                    });
                    if let State::Running(Run::Gather(g)) = &mut self.state {
                        g.media = Some(media);
                    }
                }
            } else {
                self.gather_failed(now);
            }
            return;
        }
        g.digits.push(key);
        if g.digits.chars().count() >= keys.max as usize {
            let digits = std::mem::take(&mut g.digits);
            self.gather_submit(now, Some(digits), None);
        } else {
            self.timers[T_VERB] = Some(now + keys.gap);
        }
    }

    pub(super) fn on_speech(&mut self, now: Duration, text: String, confidence: f32) {
        let speech = matches!(
            self.verb_here(),
            Some(Verb::GetInput(v)) if matches!(v.input_type, Some(InputType::Speech | InputType::DtmfSpeech))
        );
        if speech && matches!(self.state, State::Running(Run::Gather(_))) {
            self.gather_barge_in();
            self.gather_submit(now, None, Some((text, confidence)));
        }
    }

    pub(super) fn on_speech_partial(&mut self, stable: String, unstable: String, stability: f32) {
        let State::Running(Run::Gather(g)) = &mut self.state else {
            return;
        };
        g.partials += 1;
        let sequence = g.partials;
        let Some(Verb::GetInput(v)) = self.verb_here() else {
            return;
        };
        let Some(url) = v.interim_speech_results_callback.clone() else {
            return;
        };
        let method = v.interim_speech_results_callback_method;
        self.notify(
            &url,
            method,
            "interim speech",
            vec![
                ("StableSpeech".to_owned(), stable),
                ("UnstableSpeech".to_owned(), unstable),
                ("Stability".to_owned(), format!("{stability:.2}")),
                ("SequenceNumber".to_owned(), sequence.to_string()),
            ],
        );
    }

    /// This attempt got no (valid) input: retry, or fall through without a request.
    pub(super) fn gather_failed(&mut self, now: Duration) {
        let retries = match self.verb_here() {
            Some(Verb::GetDigits(v)) => v.retries,
            Some(Verb::GetInput(v)) => v.retries,
            _ => return,
        };
        let State::Running(Run::Gather(g)) = &mut self.state else {
            return;
        };
        if g.attempt < retries {
            g.attempt += 1;
            g.prompt = 0;
            g.phase = GatherPhase::Prompts;
            g.digits.clear();
            self.timers[T_VERB] = None;
            self.gather_prompt(now);
            return;
        }
        if let Some(m) = g.recognition.take() {
            self.emit(Command::StopCollect(m));
        }
        self.complete(now, "no input");
    }

    pub(super) fn gather_submit(&mut self, now: Duration, digits: Option<String>, speech: Option<(String, f32)>) {
        if let State::Running(Run::Gather(g)) = &mut self.state
            && let Some(m) = g.recognition.take()
        {
            self.out.push_back(Output::Command(Command::StopCollect(m)));
        }
        let (action, verb) = match self.verb_here() {
            Some(Verb::GetDigits(v)) => (v.action.clone().map(|u| (u, v.method, v.redirect)), "GetDigits"),
            Some(Verb::GetInput(v)) => (v.action.clone().map(|u| (u, v.method, v.redirect)), "GetInput"),
            _ => return,
        };
        let mut params = Vec::new();
        let outcome;
        match (digits, speech) {
            (Some(d), _) if verb == "GetDigits" => {
                outcome = format!("digits {d}");
                params.push(("Digits".to_owned(), d));
            }
            // <GetInput> always sends the same four fields; the ones that do not apply are empty.
            (Some(d), _) => {
                outcome = format!("digits {d}");
                params.push(("InputType".to_owned(), "dtmf".to_owned()));
                params.push(("Digits".to_owned(), d));
                params.push(("Speech".to_owned(), String::new()));
                params.push(("SpeechConfidenceScore".to_owned(), String::new()));
            }
            (None, Some((text, conf))) => {
                outcome = format!("speech \"{text}\"");
                params.push(("InputType".to_owned(), "speech".to_owned()));
                params.push(("Digits".to_owned(), String::new()));
                params.push(("Speech".to_owned(), text));
                params.push(("SpeechConfidenceScore".to_owned(), format!("{conf:.2}")));
            }
            (None, None) => outcome = "no input".to_owned(),
        }
        self.complete_with_action(now, outcome, action, verb, params);
    }

    // ------------------------------------------------------------------ record
}
