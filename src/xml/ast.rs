//! The typed verb AST of a Plivo XML document.
//!
//! Every element is a struct whose attribute fields hold their *effective* value: the written one,
//! or Plivo's default when the attribute is absent. Each struct also carries a [`Written`] set
//! recording which attributes the document spelled out, so the writer reproduces the document
//! rather than inflating it with defaults.
//!
//! # JSON shape
//!
//! Documents serialize as `{"verbs": [...]}`. A verb is an object tagged by `"verb"` with the
//! element name (`"Conference"`, `"GetDigits"`, …); attribute fields use the XML attribute
//! names (`"enterSound"`, `"numDigits"`); booleans and integers are JSON booleans and numbers,
//! every other value is a string in its XML spelling; `"written"` lists the attribute names
//! present in the source. Body and children use the fields documented on each struct
//! (`"room"`, `"url"`, `"content"`, `"prompts"`, `"targets"`, …). Deserializing accepts
//! missing fields (they take Plivo's default).

use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::values::*;

/// The attribute table of one element type.
pub trait Attrs: Default {
    /// The element's XML name.
    const ELEMENT: &'static str;
    /// Attribute names in declaration order; bit `i` of [`Written`] stands for `NAMES[i]`.
    const NAMES: &'static [&'static str];

    /// Sets attribute `name` from its unescaped text and marks it written.
    /// `None` when the element has no such attribute; `Some(Ok(Some(code)))` when the value
    /// was accepted with a warning (see [`Noted`]).
    fn set_attr(&mut self, name: &str, raw: &str) -> Option<Result<Option<crate::diagnostic::Code>, ValueError>> {
        Self::index(name).map(|i| self.set_attr_at(i, raw, &Source::default()))
    }

    /// The position of attribute `name` in [`Attrs::NAMES`] (its bit in [`Written`]), or
    /// `None` when the element has no such attribute.
    fn index(name: &str) -> Option<usize>;

    /// [`Attrs::set_attr`] for the attribute at position `i` of [`Attrs::NAMES`]; an `i` past
    /// the table is refused as [`ValueError::Bad`] and sets nothing. Text kept from `raw` is
    /// a view of `src` when `raw` lies inside it ([`Source::text`]).
    fn set_attr_at(&mut self, i: usize, raw: &str, src: &Source)
    -> Result<Option<crate::diagnostic::Code>, ValueError>;

    /// Calls `out(name, value)` for every written attribute, in declaration order.
    fn write_attrs(&self, out: &mut dyn FnMut(&'static str, &str));

    /// Which attributes the source spelled out.
    fn written(&self) -> Written<Self>;
}

/// Const lookup of an attribute's bit index; used by the element macro.
pub(crate) const fn index_of(names: &[&str], name: &str) -> usize {
    let mut i = 0;
    while i < names.len() {
        let (a, b) = (names[i].as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("attribute name not in table")
}

/// The set of attributes an element spelled out in the source.
///
/// Serialized as the list of their XML names.
pub struct Written<E> {
    bits: u64,
    _e: PhantomData<fn() -> E>,
}

impl<E> Written<E> {
    /// No attribute written.
    pub const EMPTY: Self = Written { bits: 0, _e: PhantomData };

    /// Whether attribute number `i` was written.
    pub const fn has(&self, i: usize) -> bool {
        self.bits & (1 << i) != 0
    }

    /// Marks attribute number `i` as written.
    pub fn insert(&mut self, i: usize) {
        self.bits |= 1 << i;
    }

    /// Whether nothing was written.
    pub const fn is_empty(&self) -> bool {
        self.bits == 0
    }
}

impl<E: Attrs> Written<E> {
    /// Whether the attribute named `name` was written.
    pub fn contains(&self, name: &str) -> bool {
        E::NAMES.iter().position(|n| *n == name).is_some_and(|i| self.has(i))
    }

    /// The written attribute names in declaration order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        E::NAMES.iter().enumerate().filter(|(i, _)| self.has(*i)).map(|(_, n)| *n)
    }
}

impl<E> Clone for Written<E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E> Copy for Written<E> {}
impl<E> PartialEq for Written<E> {
    fn eq(&self, other: &Self) -> bool {
        self.bits == other.bits
    }
}
impl<E> Eq for Written<E> {}
impl<E> Default for Written<E> {
    fn default() -> Self {
        Self::EMPTY
    }
}
impl<E: Attrs> fmt::Debug for Written<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

impl<E: Attrs> Serialize for Written<E> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}

impl<'de, E: Attrs> Deserialize<'de> for Written<E> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        let mut w = Written::EMPTY;
        for n in names {
            let i = E::NAMES
                .iter()
                .position(|k| *k == n)
                .ok_or_else(|| serde::de::Error::custom(format!("`{n}` is not an attribute of <{}>", E::ELEMENT)))?;
            w.insert(i);
        }
        Ok(w)
    }
}

/// Declares an element struct: attribute fields with defaults and parsers, plus extra fields.
macro_rules! element {
    (
        $(#[$meta:meta])*
        $name:ident = $xml:literal {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $default:expr ; $attr:literal => $parse:expr ; )*
        }
        $( extra { $( $(#[$xmeta:meta])* $xfield:ident : $xty:ty ),* $(,)? } )?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            $( $(#[$fmeta])* #[serde(rename = $attr)] pub $field: $ty, )*
            $( $( $(#[$xmeta])* pub $xfield: $xty, )* )?
            /// The attributes the source spelled out.
            pub written: Written<$name>,
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    $( $field: $default, )*
                    $( $( $xfield: Default::default(), )* )?
                    written: Written::EMPTY,
                }
            }
        }

        impl Attrs for $name {
            const ELEMENT: &'static str = $xml;
            const NAMES: &'static [&'static str] = &[$($attr),*];

            fn index(name: &str) -> Option<usize> {
                // The parser tracks attributes by their bit in a u64 (`Written`, repeats):
                // an element with more than 64 would be misread, so it does not compile.
                const _: () = assert!(<$name as Attrs>::NAMES.len() <= 64);
                match name {
                    $( $attr => {
                        const I: usize = index_of(<$name as Attrs>::NAMES, $attr);
                        Some(I)
                    } )*
                    _ => None,
                }
            }

            #[allow(unused_variables)]
            fn set_attr_at(&mut self, i: usize, raw: &str, src: &Source) -> Result<Option<crate::diagnostic::Code>, ValueError> {
                $( {
                    const I: usize = index_of(<$name as Attrs>::NAMES, $attr);
                    if i == I {
                        let parse: fn(&str, &Source) -> Result<$ty, ValueError> = $parse;
                        return parse(raw, src).map(|v| {
                            let note = Noted::note(&v);
                            self.$field = v;
                            self.written.insert(I);
                            note
                        });
                    }
                } )*
                Err(ValueError::Bad("no such attribute"))
            }

            #[allow(unused_variables, non_upper_case_globals)]
            fn write_attrs(&self, out: &mut dyn FnMut(&'static str, &str)) {
                $(
                    const $field: usize = index_of(<$name as Attrs>::NAMES, $attr);
                    if self.written.has($field) {
                        out($attr, &ToXml::to_xml(&self.$field));
                    }
                )*
            }

            fn written(&self) -> Written<Self> {
                self.written
            }
        }
    };
}

fn int<const MIN: u32>(s: &str, _: &Source) -> Result<u32, ValueError> {
    int_in(s, MIN, None)
}

fn method(s: &str, _: &Source) -> Result<Method, ValueError> {
    Method::from_xml(s)
}

/// A whole document: the verbs of `<Response>`, in order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// The children of `<Response>`.
    pub verbs: Vec<Verb>,
}

/// A child of `<Response>`.
///
/// The four largest elements (`<GetInput>`, `<Dial>`, `<Conference>`, `<MultiPartyCall>`,
/// 144 to 352 bytes) are boxed, so a `Verb` is about the size of a `<GetDigits>` (104 bytes)
/// and cheap to move while a document is built. Serialized and printed as the element itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verb")]
#[allow(missing_docs)]
pub enum Verb {
    Speak(Speak),
    Play(Play),
    Wait(Wait),
    #[serde(rename = "DTMF")]
    Dtmf(Dtmf),
    GetDigits(GetDigits),
    GetInput(Box<GetInput>),
    Record(Record),
    Dial(Box<Dial>),
    Redirect(Redirect),
    Hangup(Hangup),
    PreAnswer(PreAnswer),
    Conference(Box<Conference>),
    MultiPartyCall(Box<MultiPartyCall>),
    Message(Message),
    Stream(Stream),
}

impl Verb {
    /// The element name, e.g. `"Conference"`.
    pub fn name(&self) -> &'static str {
        match self {
            Verb::Speak(_) => Speak::ELEMENT,
            Verb::Play(_) => Play::ELEMENT,
            Verb::Wait(_) => Wait::ELEMENT,
            Verb::Dtmf(_) => Dtmf::ELEMENT,
            Verb::GetDigits(_) => GetDigits::ELEMENT,
            Verb::GetInput(_) => GetInput::ELEMENT,
            Verb::Record(_) => Record::ELEMENT,
            Verb::Dial(_) => Dial::ELEMENT,
            Verb::Redirect(_) => Redirect::ELEMENT,
            Verb::Hangup(_) => Hangup::ELEMENT,
            Verb::PreAnswer(_) => PreAnswer::ELEMENT,
            Verb::Conference(_) => Conference::ELEMENT,
            Verb::MultiPartyCall(_) => MultiPartyCall::ELEMENT,
            Verb::Message(_) => Message::ELEMENT,
            Verb::Stream(_) => Stream::ELEMENT,
        }
    }
}

/// A prompt inside `<GetDigits>` or `<GetInput>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verb")]
#[allow(missing_docs)]
pub enum Prompt {
    Speak(Speak),
    Play(Play),
    Wait(Wait),
}

/// A party `<Dial>` rings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "target")]
#[allow(missing_docs)]
pub enum DialTarget {
    Number(Number),
    User(User),
}

/// The content of a `<Speak>`: its nodes in order, the first one inline.
pub type SpeakContent = smallvec::SmallVec<[SpeakNode; 1]>;

/// A piece of `<Speak>` content: text or an SSML element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpeakNode {
    /// Text, with entities decoded.
    Text(Text),
    /// An SSML element.
    Ssml(Ssml),
}

/// An SSML element inside `<Speak>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "tag")]
#[allow(missing_docs)]
pub enum Ssml {
    #[serde(rename = "break")]
    Break(Break),
    #[serde(rename = "emphasis")]
    Emphasis(Emphasis),
    #[serde(rename = "lang")]
    Lang(Lang),
    #[serde(rename = "p")]
    P(Paragraph),
    #[serde(rename = "phoneme")]
    Phoneme(Phoneme),
    #[serde(rename = "prosody")]
    Prosody(Prosody),
    #[serde(rename = "s")]
    S(Sentence),
    #[serde(rename = "say-as")]
    SayAs(SayAs),
    #[serde(rename = "sub")]
    Sub(Sub),
    #[serde(rename = "w")]
    W(Word),
}

impl Ssml {
    /// The content of the element (empty for `<break>`).
    pub fn content(&self) -> &[SpeakNode] {
        match self {
            Ssml::Break(_) => &[],
            Ssml::Emphasis(e) => &e.content,
            Ssml::Lang(e) => &e.content,
            Ssml::P(e) => &e.content,
            Ssml::Phoneme(e) => &e.content,
            Ssml::Prosody(e) => &e.content,
            Ssml::S(e) => &e.content,
            Ssml::SayAs(e) => &e.content,
            Ssml::Sub(e) => &e.content,
            Ssml::W(e) => &e.content,
        }
    }

    /// Mutable content; `None` for `<break>`.
    pub fn content_mut(&mut self) -> Option<&mut Vec<SpeakNode>> {
        match self {
            Ssml::Break(_) => None,
            Ssml::Emphasis(e) => Some(&mut e.content),
            Ssml::Lang(e) => Some(&mut e.content),
            Ssml::P(e) => Some(&mut e.content),
            Ssml::Phoneme(e) => Some(&mut e.content),
            Ssml::Prosody(e) => Some(&mut e.content),
            Ssml::S(e) => Some(&mut e.content),
            Ssml::SayAs(e) => Some(&mut e.content),
            Ssml::Sub(e) => Some(&mut e.content),
            Ssml::W(e) => Some(&mut e.content),
        }
    }

    /// The plain text this element speaks (its `alias` for `<sub>`).
    pub fn push_text(&self, out: &mut String) {
        match self {
            Ssml::Sub(s) if s.alias.is_some() => out.push_str(s.alias.as_deref().unwrap_or("")),
            _ => push_text(self.content(), out),
        }
    }
}

/// Appends the plain text of `nodes` to `out` (SSML markup dropped). Paragraphs, sentences
/// and breaks are separated from their neighbours by a space, as they are heard.
pub fn push_text(nodes: &[SpeakNode], out: &mut String) {
    let mut after_block = false;
    for n in nodes {
        match n {
            SpeakNode::Text(t) => {
                if after_block && !t.starts_with(char::is_whitespace) && !out.ends_with(char::is_whitespace) {
                    out.push(' ');
                }
                out.push_str(t);
                after_block = false;
            }
            SpeakNode::Ssml(s) => {
                let block = matches!(s, Ssml::P(_) | Ssml::S(_) | Ssml::Break(_));
                if (block || after_block) && !out.is_empty() && !out.ends_with(char::is_whitespace) {
                    out.push(' ');
                }
                s.push_text(out);
                after_block = block;
            }
        }
    }
}

element! {
    /// `<Speak>`: text to speech. Mixed content: text and SSML.
    Speak = "Speak" {
        /// `WOMAN`, `MAN` or `Polly.<Name>`.
        voice: Voice = Voice::Woman; "voice" => Voice::from_xml_in;
        /// Language tag.
        language: Language = Language::en_us(); "language" => Language::from_xml_in;
        /// Repetitions; 0 repeats until the call ends.
        loop_: u32 = 1; "loop" => int::<0>;
    }
    extra {
        /// Text and SSML, ends trimmed, inner spacing as written. Most `<Speak>`s hold one
        /// text, kept inline (no allocation); serialized as a list.
        content: SpeakContent,
    }
}

impl Speak {
    /// The text to speak, SSML markup dropped.
    pub fn text(&self) -> String {
        let mut s = String::new();
        push_text(&self.content, &mut s);
        let end = s.trim_end().len();
        s.truncate(end);
        s
    }

    /// Whether the content holds SSML elements.
    pub fn has_ssml(&self) -> bool {
        self.content.iter().any(|n| matches!(n, SpeakNode::Ssml(_)))
    }
}

element! {
    /// `<Play>`: play an audio file.
    Play = "Play" {
        /// Repetitions; 0 repeats until the call ends.
        loop_: u32 = 1; "loop" => int::<0>;
    }
    extra {
        /// The audio URL (the body).
        url: Option<Url>,
    }
}

element! {
    /// `<Wait>`: pause.
    Wait = "Wait" {
        /// Seconds to wait.
        length: u32 = 1; "length" => int::<1>;
        /// End early on `minSilence` ms of silence.
        silence: bool = false; "silence" => bool::from_xml_in;
        /// Milliseconds of silence that end the wait when `silence` is on.
        min_silence: u32 = 2000; "minSilence" => int::<1>;
        /// Wait for an answering-machine beep.
        beep: WaitBeep = WaitBeep::Bool(false); "beep" => WaitBeep::from_xml_in;
    }
}

element! {
    /// `<DTMF>`: send tones on the call.
    Dtmf = "DTMF" {
        /// Continue at once while the tones are sent.
        async_: bool = true; "async" => bool::from_xml_in;
    }
    extra {
        /// The tones (the body).
        digits: Option<Tones>,
    }
}

element! {
    /// `<GetDigits>`: collect key presses.
    GetDigits = "GetDigits" {
        /// Where the digits are sent.
        action: Option<Url> = None; "action" => opt::<Url>;
        /// Method for `action`.
        method: Method = Method::Post; "method" => method;
        /// Seconds to wait for the first digit.
        timeout: u32 = 5; "timeout" => int::<1>;
        /// Seconds allowed between digits.
        digit_timeout: u32 = 2; "digitTimeout" => int::<1>;
        /// Key that submits.
        finish_on_key: FinishOnKey = FinishOnKey::HASH; "finishOnKey" => |s, _| FinishOnKey::one(s);
        /// Digits that submit when reached.
        num_digits: u32 = 99; "numDigits" => int::<1>;
        /// Attempts when nothing is entered.
        retries: u32 = 1; "retries" => int::<1>;
        /// Replace the document with the action's reply.
        redirect: bool = true; "redirect" => bool::from_xml_in;
        /// Beep after the prompts.
        play_beep: bool = false; "playBeep" => bool::from_xml_in;
        /// Keys accepted.
        valid_digits: KeySet = KeySet::ALL; "validDigits" => KeySet::from_xml_in;
        /// Played on an invalid key.
        invalid_digits_sound: Option<Url> = None; "invalidDigitsSound" => opt::<Url>;
        /// Log the digits.
        log: bool = true; "log" => bool::from_xml_in;
    }
    extra {
        /// Prompts played while listening.
        prompts: Vec<Prompt>,
    }
}

element! {
    /// `<GetInput>`: collect speech and/or key presses.
    GetInput = "GetInput" {
        /// Where the result is sent (required).
        action: Option<Url> = None; "action" => opt::<Url>;
        /// Method for `action`.
        method: Method = Method::Post; "method" => method;
        /// `dtmf`, `speech` or `dtmf speech`. Absent: `dtmf speech` (both), with warning W0108;
        /// Plivo's docs mark only `action` required. Always `Some` after parsing.
        input_type: Option<InputType> = Some(InputType::DtmfSpeech); "inputType" => opt::<InputType>;
        /// Seconds of detection after the prompts (5–60).
        execution_timeout: u32 = 15; "executionTimeout" => |s, _| int_in(s, 5, Some(60));
        /// Gap between digits.
        digit_end_timeout: EndTimeout = EndTimeout::Auto; "digitEndTimeout" => EndTimeout::from_xml_in;
        /// Silence that ends speech.
        speech_end_timeout: EndTimeout = EndTimeout::Auto; "speechEndTimeout" => EndTimeout::from_xml_in;
        /// Key that submits.
        finish_on_key: FinishOnKey = FinishOnKey::HASH; "finishOnKey" => |s, _| FinishOnKey::one(s);
        /// Maximum digits (1–32).
        num_digits: u32 = 32; "numDigits" => |s, _| int_in(s, 1, Some(32));
        /// Recognition model.
        speech_model: SpeechModel = SpeechModel::Default; "speechModel" => SpeechModel::from_xml_in;
        /// Comma list of hint phrases.
        hints: Option<Text> = None; "hints" => |s, src| max_chars(s, src, 10_000, "hints are limited to 10000 characters").map(Some);
        /// Recognition language.
        language: Language = Language::en_us(); "language" => Language::from_xml_in;
        /// Receives partial results.
        interim_speech_results_callback: Option<Url> = None; "interimSpeechResultsCallback" => opt::<Url>;
        /// Method for the interim callback.
        interim_speech_results_callback_method: Method = Method::Post; "interimSpeechResultsCallbackMethod" => method;
        /// Log the input.
        log: bool = true; "log" => bool::from_xml_in;
        /// Replace the document with the action's reply.
        redirect: bool = true; "redirect" => bool::from_xml_in;
        /// Mask profanity in the transcript.
        profanity_filter: bool = false; "profanityFilter" => bool::from_xml_in;
        /// Seconds to wait for input to start.
        start_input_timeout: Option<u32> = None; "startInputTimeout" => |s, _| opt_int_in(s, 1, None);
        /// Attempts when nothing is detected.
        retries: u32 = 1; "retries" => int::<1>;
    }
    extra {
        /// Prompts played while listening.
        prompts: Vec<Prompt>,
    }
}

element! {
    /// `<Record>`: record the caller or the whole call.
    Record = "Record" {
        /// Receives the recording details.
        action: Option<Url> = None; "action" => opt::<Url>;
        /// Method for `action`.
        method: Method = Method::Post; "method" => method;
        /// mp3 or wav.
        file_format: FileFormat = FileFormat::Mp3; "fileFormat" => FileFormat::from_xml_in;
        /// Replace the document with the action's reply.
        redirect: bool = true; "redirect" => bool::from_xml_in;
        /// Seconds of silence that stop recording.
        timeout: u32 = 15; "timeout" => int::<1>;
        /// Longest recording in seconds.
        max_length: u32 = 60; "maxLength" => int::<2>;
        /// Beep before recording.
        play_beep: bool = true; "playBeep" => bool::from_xml_in;
        /// Keys that stop recording.
        finish_on_key: FinishOnKey = FinishOnKey::HASH; "finishOnKey" => FinishOnKey::from_xml_in;
        /// Record the whole call in the background.
        record_session: bool = false; "recordSession" => bool::from_xml_in;
        /// Record in the background once a later `<Dial>` is answered.
        start_on_dial_answer: bool = false; "startOnDialAnswer" => bool::from_xml_in;
        /// mono or stereo.
        record_channel_type: ChannelType = ChannelType::Stereo; "recordChannelType" => ChannelType::from_xml_in;
        /// Transcription kind.
        transcription_type: Option<TranscriptionType> = None; "transcriptionType" => opt::<TranscriptionType>;
        /// Receives the transcription.
        transcription_url: Option<Url> = None; "transcriptionUrl" => opt::<Url>;
        /// Method for `transcriptionUrl`.
        transcription_method: Method = Method::Post; "transcriptionMethod" => method;
        /// Transcript format. The docs list `full` and `compact` (default compact) but the
        /// Python SDK writes other values such as `json`, so any value is accepted.
        transcription_report_type: Option<Text> = None; "transcriptionReportType" => opt::<Text>;
        /// Notified when the file is ready.
        callback_url: Option<Url> = None; "callbackUrl" => opt::<Url>;
        /// Method for `callbackUrl`.
        callback_method: Method = Method::Post; "callbackMethod" => method;
    }
}

element! {
    /// `<Dial>`: bridge the call to one of several parties.
    Dial = "Dial" {
        /// Receives the dial result.
        action: Option<Url> = None; "action" => opt::<Url>;
        /// Method for `action`.
        method: Method = Method::Post; "method" => method;
        /// Seconds to ring.
        timeout: Option<u32> = None; "timeout" => |s, _| opt_int_in(s, 1, None);
        /// Longest bridge in seconds.
        time_limit: u32 = 14400; "timeLimit" => int::<1>;
        /// Caller id shown to the callee.
        caller_id: Option<PhoneNumber> = None; "callerId" => opt::<PhoneNumber>;
        /// Caller name shown to the callee (≤ 50 characters).
        caller_name: Option<Text> = None; "callerName" => |s, src| max_chars(s, src, 50, "callerName is limited to 50 characters").map(Some);
        /// `*` from the caller hangs up the callee.
        hangup_on_star: bool = false; "hangupOnStar" => bool::from_xml_in;
        /// XML played to the callee on answer.
        confirm_sound: Option<Url> = None; "confirmSound" => opt::<Url>;
        /// Key the callee presses to accept.
        confirm_key: Option<Key> = None; "confirmKey" => opt::<Key>;
        /// Seconds to wait for `confirmKey`.
        confirm_timeout: u32 = 120; "confirmTimeout" => int::<1>;
        /// Ringback for the caller.
        dial_music: Option<DialMusic> = None; "dialMusic" => opt::<DialMusic>;
        /// Replace the document with the action's reply.
        redirect: bool = true; "redirect" => bool::from_xml_in;
        /// Receives live dial events.
        callback_url: Option<Url> = None; "callbackUrl" => opt::<Url>;
        /// Method for `callbackUrl`.
        callback_method: Method = Method::Post; "callbackMethod" => method;
        /// Caller digit patterns reported to `callbackUrl`.
        digits_match: Option<DigitPatterns> = None; "digitsMatch" => opt::<DigitPatterns>;
        /// Callee digit patterns reported to `callbackUrl`.
        digits_match_b_leg: Option<DigitPatterns> = None; "digitsMatchBLeg" => opt::<DigitPatterns>;
        /// SIP headers for the callee.
        sip_headers: Option<Headers> = None; "sipHeaders" => opt::<Headers>;
        /// voice or whatsapp.
        call_type: CallType = CallType::Voice; "callType" => CallType::from_xml_in;
        /// Answering-machine detection mode.
        machine_detection: Option<Text> = None; "machineDetection" => opt::<Text>;
    }
    extra {
        /// The parties to ring at once (at least one).
        targets: Vec<DialTarget>,
    }
}

element! {
    /// `<Number>` inside `<Dial>`.
    Number = "Number" {
        /// Tones to send on answer.
        send_digits: Option<Tones> = None; "sendDigits" => opt::<Tones>;
        /// Send them during early media.
        send_on_preanswer: bool = false; "sendOnPreanswer" => bool::from_xml_in;
        /// How the tones are sent.
        send_digits_mode: Option<Text> = None; "sendDigitsMode" => opt::<Text>;
        /// SIP headers for this number.
        sip_headers: Option<Headers> = None; "sipHeaders" => opt::<Headers>;
        /// Per-number caller id.
        caller_id: Option<PhoneNumber> = None; "callerId" => opt::<PhoneNumber>;
        /// Per-number caller name.
        caller_name: Option<Text> = None; "callerName" => |s, src| max_chars(s, src, 50, "callerName is limited to 50 characters").map(Some);
    }
    extra {
        /// The number to ring (the body).
        number: Option<PhoneNumber>,
    }
}

element! {
    /// `<User>` inside `<Dial>`.
    User = "User" {
        /// Tones to send on answer.
        send_digits: Option<Tones> = None; "sendDigits" => opt::<Tones>;
        /// Send them during early media.
        send_on_preanswer: bool = false; "sendOnPreanswer" => bool::from_xml_in;
        /// SIP headers for this endpoint.
        sip_headers: Option<Headers> = None; "sipHeaders" => opt::<Headers>;
        /// Digest user name toward the endpoint.
        sip_auth_username: Option<Text> = None; "sipAuthUsername" => opt::<Text>;
        /// Digest password (8–128 characters).
        sip_auth_password: Option<Text> = None; "sipAuthPassword" => |s, src| {
            let n = s.chars().count();
            if (8..=128).contains(&n) { Ok(Some(src.text(s))) } else { Err(ValueError::Bad("sipAuthPassword must have 8 to 128 characters")) }
        };
        /// Per-endpoint caller id.
        caller_id: Option<PhoneNumber> = None; "callerId" => opt::<PhoneNumber>;
        /// Per-endpoint caller name.
        caller_name: Option<Text> = None; "callerName" => |s, src| max_chars(s, src, 50, "callerName is limited to 50 characters").map(Some);
    }
    extra {
        /// The SIP URI to ring (the body).
        uri: Option<SipUri>,
    }
}

element! {
    /// `<Redirect>`: replace the document with the one at a URL.
    Redirect = "Redirect" {
        /// Method for the URL.
        method: Method = Method::Post; "method" => method;
    }
    extra {
        /// The URL (the body).
        url: Option<Url>,
    }
}

element! {
    /// `<Hangup>`: end the call, now or later.
    Hangup = "Hangup" {
        /// Rejection or busy tone.
        reason: Option<HangupReason> = None; "reason" => opt::<HangupReason>;
        /// Seconds until the hangup; >0 continues with the next verb meanwhile.
        schedule: u32 = 0; "schedule" => int::<0>;
    }
}

element! {
    /// `<PreAnswer>`: early media before the call is answered.
    PreAnswer = "PreAnswer" {}
    extra {
        /// The verbs played before answer.
        verbs: Vec<Verb>,
    }
}

element! {
    /// `<Conference>`: join a named room.
    Conference = "Conference" {
        /// Join unable to speak.
        muted: bool = false; "muted" => bool::from_xml_in;
        /// Played to the room when this member joins.
        enter_sound: Sound = Sound::Empty; "enterSound" => Sound::from_xml_in;
        /// Played to the room when this member leaves.
        exit_sound: Sound = Sound::Empty; "exitSound" => Sound::from_xml_in;
        /// Joining starts the room.
        start_conference_on_enter: bool = true; "startConferenceOnEnter" => bool::from_xml_in;
        /// Leaving ends the room for everyone.
        end_conference_on_exit: bool = false; "endConferenceOnExit" => bool::from_xml_in;
        /// false: the room ends when fewer than two members remain.
        stay_alone: bool = true; "stayAlone" => bool::from_xml_in;
        /// XML of Play/Speak/Wait looped while waiting for the room to start.
        wait_sound: Option<Url> = None; "waitSound" => opt::<Url>;
        /// Room capacity (1–20), fixed by the first member.
        max_members: u32 = 20; "maxMembers" => |s, _| int_in(s, 1, Some(20));
        /// Longest room life in seconds.
        time_limit: u32 = 86400; "timeLimit" => int::<1>;
        /// `*` makes this member leave the room.
        hangup_on_star: bool = false; "hangupOnStar" => bool::from_xml_in;
        /// Record the room.
        record: bool = false; "record" => bool::from_xml_in;
        /// Recording format.
        record_file_format: FileFormat = FileFormat::Mp3; "recordFileFormat" => FileFormat::from_xml_in;
        /// Keep recording while one member is alone (SDK-only attribute).
        record_when_alone: Option<bool> = None; "recordWhenAlone" => opt::<bool>;
        /// Transcription kind.
        transcription_type: Option<TranscriptionType> = None; "transcriptionType" => opt::<TranscriptionType>;
        /// Receives the transcription.
        transcription_url: Option<Url> = None; "transcriptionUrl" => opt::<Url>;
        /// Method for `transcriptionUrl`.
        transcription_method: Method = Method::Post; "transcriptionMethod" => method;
        /// Requested when the member leaves.
        action: Option<Url> = None; "action" => opt::<Url>;
        /// Method for `action`.
        method: Method = Method::Post; "method" => method;
        /// Replace the document with the action's reply.
        redirect: bool = true; "redirect" => bool::from_xml_in;
        /// Receives room events.
        callback_url: Option<Url> = None; "callbackUrl" => opt::<Url>;
        /// Method for `callbackUrl`.
        callback_method: Method = Method::Post; "callbackMethod" => method;
        /// Digit patterns reported to `callbackUrl`.
        digits_match: Option<DigitPatterns> = None; "digitsMatch" => opt::<DigitPatterns>;
        /// Report when this member gets the floor.
        floor_event: bool = false; "floorEvent" => bool::from_xml_in;
        /// Pass this member's DTMF to the others.
        relay_dtmf: bool = true; "relayDTMF" => bool::from_xml_in;
        /// Tones sent on joining (SDK-only attribute).
        send_digits: Option<Tones> = None; "sendDigits" => opt::<Tones>;
        /// Legacy beep setting (Node SDK whitelist).
        beep: Option<Text> = None; "beep" => opt::<Text>;
    }
    extra {
        /// The room name (the body).
        room: Text,
    }
}

element! {
    /// `<MultiPartyCall>`: join a role-based conference.
    MultiPartyCall = "MultiPartyCall" {
        /// agent, supervisor, customer or ai-agent (required).
        role: Option<Role> = None; "role" => opt::<Role>;
        /// Longest call in seconds (300–28800).
        max_duration: u32 = 14400; "maxDuration" => |s, _| int_in(s, 300, Some(28800));
        /// Capacity (2–10).
        max_participants: u32 = 10; "maxParticipants" => |s, _| int_in(s, 2, Some(10));
        /// Members needed to record (1–2).
        record_min_member_count: u32 = 1; "recordMinMemberCount" => |s, _| int_in(s, 1, Some(2));
        /// Music while waiting.
        wait_music_url: Option<Url> = None; "waitMusicUrl" => opt::<Url>;
        /// Method for `waitMusicUrl`.
        wait_music_method: Method = Method::Get; "waitMusicMethod" => method;
        /// Music for an agent on hold.
        agent_hold_music_url: Option<Url> = None; "agentHoldMusicUrl" => opt::<Url>;
        /// Method for `agentHoldMusicUrl`.
        agent_hold_music_method: Method = Method::Get; "agentHoldMusicMethod" => method;
        /// Music for a customer on hold.
        customer_hold_music_url: Option<Url> = None; "customerHoldMusicUrl" => opt::<Url>;
        /// Method for `customerHoldMusicUrl`.
        customer_hold_music_method: Method = Method::Get; "customerHoldMusicMethod" => method;
        /// Seconds to wait for others (0–1800).
        wait_time: Option<u32> = None; "waitTime" => |s, _| opt_int_in(s, 0, Some(1800));
        /// Record the call.
        record: bool = false; "record" => bool::from_xml_in;
        /// Record each participant's track.
        record_participant_track: bool = false; "recordParticipantTrack" => bool::from_xml_in;
        /// Recording format.
        record_file_format: FileFormat = FileFormat::Mp3; "recordFileFormat" => FileFormat::from_xml_in;
        /// Notified of recordings.
        recording_callback_url: Option<Url> = None; "recordingCallbackUrl" => opt::<Url>;
        /// Method for `recordingCallbackUrl`.
        recording_callback_method: Method = Method::Post; "recordingCallbackMethod" => method;
        /// Events sent to `statusCallbackUrl`.
        status_callback_events: MpcEvents = MpcEvents::default_events(); "statusCallbackEvents" => MpcEvents::from_xml_in;
        /// Receives status events.
        status_callback_url: Option<Url> = None; "statusCallbackUrl" => opt::<Url>;
        /// Method for `statusCallbackUrl`.
        status_callback_method: Method = Method::Post; "statusCallbackMethod" => method;
        /// Keep the call when alone.
        stay_alone: bool = false; "stayAlone" => bool::from_xml_in;
        /// Supervisor speaks to agents only.
        coach_mode: bool = true; "coachMode" => bool::from_xml_in;
        /// Join muted.
        mute: bool = false; "mute" => bool::from_xml_in;
        /// Join on hold.
        hold: bool = false; "hold" => bool::from_xml_in;
        /// Joining starts the call.
        start_mpc_on_enter: bool = true; "startMpcOnEnter" => bool::from_xml_in;
        /// Leaving ends the call.
        end_mpc_on_exit: bool = false; "endMpcOnExit" => bool::from_xml_in;
        /// Sound when joining.
        enter_sound: Sound = Sound::Beep1; "enterSound" => Sound::from_xml_in;
        /// Method for an `enterSound` URL.
        enter_sound_method: Method = Method::Get; "enterSoundMethod" => method;
        /// Sound when leaving.
        exit_sound: Sound = Sound::Beep2; "exitSound" => Sound::from_xml_in;
        /// Method for an `exitSound` URL.
        exit_sound_method: Method = Method::Get; "exitSoundMethod" => method;
        /// Requested when this participant leaves.
        on_exit_action_url: Option<Url> = None; "onExitActionUrl" => opt::<Url>;
        /// Method for `onExitActionUrl`.
        on_exit_action_method: Method = Method::Post; "onExitActionMethod" => method;
        /// Relay DTMF to the others.
        relay_dtmf_inputs: bool = false; "relayDTMFInputs" => bool::from_xml_in;
        /// Requested when recording starts.
        start_recording_audio: Option<Url> = None; "startRecordingAudio" => opt::<Url>;
        /// Method for `startRecordingAudio`.
        start_recording_audio_method: Method = Method::Get; "startRecordingAudioMethod" => method;
        /// Requested when recording stops.
        stop_recording_audio: Option<Url> = None; "stopRecordingAudio" => opt::<Url>;
        /// Method for `stopRecordingAudio`.
        stop_recording_audio_method: Method = Method::Get; "stopRecordingAudioMethod" => method;
        /// Transcribe the call.
        transcript: bool = false; "transcript" => bool::from_xml_in;
        /// Receives the transcript.
        transcription_url: Option<Url> = None; "transcriptionUrl" => opt::<Url>;
        /// Wait for an agent before starting.
        wait_for_agent: Option<bool> = None; "waitForAgent" => opt::<bool>;
        /// Record the coach's voice.
        record_coach_voice: Option<bool> = None; "recordCoachVoice" => opt::<bool>;
    }
    extra {
        /// The call's friendly name (the body text).
        name: Text,
        /// `<AgentHoldMusic>` child (Go SDK 7.20+): what an agent on hold hears, looped.
        agent_hold_music: Option<AgentHoldMusic>,
        /// `<CustomerHoldMusic>` child (Go SDK 7.20+): what a customer on hold hears, looped.
        customer_hold_music: Option<CustomerHoldMusic>,
    }
}

element! {
    /// `<AgentHoldMusic>` inside `<MultiPartyCall>`: prompts (`<Play>` URLs, `<Speak>`,
    /// `<Wait>`) played to an agent on hold, in place of `agentHoldMusicUrl`.
    /// Source: plivo-go `xml/plivoxml.go` `AgentHoldMusicElement` (since 7.20).
    AgentHoldMusic = "AgentHoldMusic" {}
    extra {
        /// The prompts, in order.
        prompts: Vec<Prompt>,
    }
}

element! {
    /// `<CustomerHoldMusic>` inside `<MultiPartyCall>`: prompts played to a customer on hold,
    /// in place of `customerHoldMusicUrl`.
    /// Source: plivo-go `xml/plivoxml.go` `CustomerHoldMusicElement` (since 7.20).
    CustomerHoldMusic = "CustomerHoldMusic" {}
    extra {
        /// The prompts, in order.
        prompts: Vec<Prompt>,
    }
}

/// The `<Play>` URLs of a list of prompts, in order (hold music as URLs).
pub fn play_urls(prompts: &[Prompt]) -> impl Iterator<Item = &Url> {
    prompts.iter().filter_map(|p| match p {
        Prompt::Play(p) => p.url.as_ref(),
        _ => None,
    })
}

impl AgentHoldMusic {
    /// The hold-music audio URLs (the `<Play>` bodies), in order.
    pub fn urls(&self) -> impl Iterator<Item = &Url> {
        play_urls(&self.prompts)
    }
}

impl CustomerHoldMusic {
    /// The hold-music audio URLs (the `<Play>` bodies), in order.
    pub fn urls(&self) -> impl Iterator<Item = &Url> {
        play_urls(&self.prompts)
    }
}

element! {
    /// `<Message>`: send an SMS without blocking the call.
    Message = "Message" {
        /// Sender number.
        src: Option<PhoneNumber> = None; "src" => opt::<PhoneNumber>;
        /// Destination(s), several separated by `<`.
        dst: Option<Text> = None; "dst" => opt::<Text>;
        /// Message type.
        type_: MessageType = MessageType::Sms; "type" => MessageType::from_xml_in;
        /// Receives delivery reports.
        callback_url: Option<Url> = None; "callbackUrl" => opt::<Url>;
        /// Method for `callbackUrl`.
        callback_method: Method = Method::Post; "callbackMethod" => method;
    }
    extra {
        /// The message text (the body).
        text: Text,
    }
}

element! {
    /// `<Stream>`: fork the call's audio to a WebSocket.
    Stream = "Stream" {
        /// The service may send audio back.
        bidirectional: bool = false; "bidirectional" => bool::from_xml_in;
        /// Which leg is streamed.
        audio_track: AudioTrack = AudioTrack::Inbound; "audioTrack" => AudioTrack::from_xml_in;
        /// Longest stream in seconds.
        stream_timeout: u32 = 86400; "streamTimeout" => int::<1>;
        /// Receives stream events.
        status_callback_url: Option<Url> = None; "statusCallbackUrl" => opt::<Url>;
        /// Method for `statusCallbackUrl`.
        status_callback_method: Method = Method::Post; "statusCallbackMethod" => method;
        /// Audio encoding.
        content_type: StreamContentType = StreamContentType::L16At8k; "contentType" => StreamContentType::from_xml_in;
        /// Headers sent to the service (≤ 512 bytes).
        extra_headers: Option<Headers> = None; "extraHeaders" => |s, src| {
            if s.len() > 512 { Err(ValueError::Bad("extraHeaders is limited to 512 bytes")) } else { opt::<Headers>(s, src) }
        };
        /// Block the next verbs until the stream ends.
        keep_call_alive: bool = false; "keepCallAlive" => bool::from_xml_in;
        /// Reduce noise on the stream.
        noise_cancellation: bool = false; "noiseCancellation" => bool::from_xml_in;
        /// Noise reduction strength (60–100).
        noise_cancellation_level: u32 = 85; "noiseCancellationLevel" => |s, _| int_in(s, 60, Some(100));
    }
    extra {
        /// The WebSocket URL (the body).
        url: Option<WsUrl>,
    }
}

element! {
    /// `<break>`: a pause.
    Break = "break" {
        /// Pause strength.
        strength: Option<BreakStrength> = None; "strength" => opt::<BreakStrength>;
        /// Pause length, e.g. `500ms`.
        time: Option<SsmlValue> = None; "time" => SsmlValue::time_in;
    }
}

element! {
    /// `<emphasis>`.
    Emphasis = "emphasis" {
        /// Emphasis level.
        level: Option<EmphasisLevel> = None; "level" => opt::<EmphasisLevel>;
    }
    extra {
        /// Content.
        content: Vec<SpeakNode>,
    }
}

element! {
    /// `<lang>`: switch language for a span.
    Lang = "lang" {
        /// The language.
        xml_lang: Option<Language> = None; "xml:lang" => opt::<Language>;
    }
    extra {
        /// Content.
        content: Vec<SpeakNode>,
    }
}

element! {
    /// `<p>`: a paragraph.
    Paragraph = "p" {}
    extra {
        /// Content.
        content: Vec<SpeakNode>,
    }
}

element! {
    /// `<phoneme>`: a pronunciation.
    Phoneme = "phoneme" {
        /// ipa or x-sampa.
        alphabet: Option<PhoneticAlphabet> = None; "alphabet" => opt::<PhoneticAlphabet>;
        /// The phonetic string.
        ph: Option<Text> = None; "ph" => opt::<Text>;
    }
    extra {
        /// Content.
        content: Vec<SpeakNode>,
    }
}

element! {
    /// `<prosody>`: volume, rate and pitch.
    Prosody = "prosody" {
        /// Volume.
        volume: Option<SsmlValue> = None; "volume" => SsmlValue::volume_in;
        /// Rate.
        rate: Option<SsmlValue> = None; "rate" => SsmlValue::rate_in;
        /// Pitch.
        pitch: Option<SsmlValue> = None; "pitch" => SsmlValue::pitch_in;
    }
    extra {
        /// Content.
        content: Vec<SpeakNode>,
    }
}

element! {
    /// `<s>`: a sentence.
    Sentence = "s" {}
    extra {
        /// Content.
        content: Vec<SpeakNode>,
    }
}

element! {
    /// `<say-as>`: how to read the content.
    SayAs = "say-as" {
        /// characters, cardinal, date, telephone, …
        interpret_as: Option<Text> = None; "interpret-as" => opt::<Text>;
        /// Date format such as `mdy`.
        format: Option<Text> = None; "format" => opt::<Text>;
    }
    extra {
        /// Content.
        content: Vec<SpeakNode>,
    }
}

element! {
    /// `<sub>`: say `alias` instead of the content.
    Sub = "sub" {
        /// What to say.
        alias: Option<Text> = None; "alias" => opt::<Text>;
    }
    extra {
        /// Content.
        content: Vec<SpeakNode>,
    }
}

element! {
    /// `<w>`: a word with a part of speech.
    Word = "w" {
        /// Polly role such as `amazon:VB`.
        role: Option<Text> = None; "role" => opt::<Text>;
    }
    extra {
        /// Content.
        content: Vec<SpeakNode>,
    }
}
