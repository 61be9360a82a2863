//! The element table: every element name Plivo knows (`Kind`), the nesting matrix
//! (`Kind::children`) and what each does with its body (`Kind::body`).

use crate::xml::ast::*;

/// Every element name Plivo knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Response,
    Speak,
    Play,
    Wait,
    Dtmf,
    GetDigits,
    GetInput,
    Record,
    Dial,
    Number,
    User,
    Redirect,
    Hangup,
    PreAnswer,
    Conference,
    MultiPartyCall,
    Message,
    Stream,
    AgentHoldMusic,
    CustomerHoldMusic,
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

/// What an element does with text inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Body {
    /// The text is the element's argument (URL, room, number, …).
    Text,
    /// Text mixed with SSML children, kept as written.
    Mixed,
    /// The text is ignored (warning).
    Ignored,
    /// Text is an error (`<Response>`).
    Forbidden,
}

use Kind as K;

const VERBS: &[Kind] = &[
    K::Conference,
    K::Dial,
    K::Dtmf,
    K::GetDigits,
    K::GetInput,
    K::Hangup,
    K::Message,
    K::Play,
    K::PreAnswer,
    K::Record,
    K::Redirect,
    K::Speak,
    K::Wait,
    K::MultiPartyCall,
    K::Stream,
];
const PROMPTS: &[Kind] = &[K::Speak, K::Play, K::Wait];
const SSML_ALL: &[Kind] = &[K::Break, K::Emphasis, K::Lang, K::P, K::Phoneme, K::Prosody, K::S, K::SayAs, K::Sub, K::W];
const SSML_IN_EMPHASIS: &[Kind] = &[K::Break, K::Emphasis, K::Lang, K::Phoneme, K::Prosody, K::SayAs, K::Sub, K::W];
const SSML_IN_W: &[Kind] = &[K::Break, K::Emphasis, K::Phoneme, K::Prosody, K::SayAs, K::Sub];

/// Every kind, in declaration order: Plivo's elements, then SSML's.
pub(super) const ALL: [Kind; 30] = [
    K::Response,
    K::Speak,
    K::Play,
    K::Wait,
    K::Dtmf,
    K::GetDigits,
    K::GetInput,
    K::Record,
    K::Dial,
    K::Number,
    K::User,
    K::Redirect,
    K::Hangup,
    K::PreAnswer,
    K::Conference,
    K::MultiPartyCall,
    K::Message,
    K::Stream,
    K::AgentHoldMusic,
    K::CustomerHoldMusic,
    K::Break,
    K::Emphasis,
    K::Lang,
    K::P,
    K::Phoneme,
    K::Prosody,
    K::S,
    K::SayAs,
    K::Sub,
    K::W,
];

/// [`Kind::children`] as bits (bit `c` of entry `k`: kind `c` may be a child of kind `k`).
const ALLOWED: [u32; 30] = {
    let mut table = [0; 30];
    let mut i = 0;
    while i < ALL.len() {
        let children = ALL[i].children();
        let mut j = 0;
        while j < children.len() {
            table[ALL[i] as usize] |= 1 << children[j] as u32;
            j += 1;
        }
        i += 1;
    }
    table
};

impl Kind {
    pub(super) fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "Response" => K::Response,
            "Speak" => K::Speak,
            "Play" => K::Play,
            "Wait" => K::Wait,
            "DTMF" => K::Dtmf,
            "GetDigits" => K::GetDigits,
            "GetInput" => K::GetInput,
            "Record" => K::Record,
            "Dial" => K::Dial,
            "Number" => K::Number,
            "User" => K::User,
            "Redirect" => K::Redirect,
            "Hangup" => K::Hangup,
            "PreAnswer" => K::PreAnswer,
            "Conference" => K::Conference,
            "MultiPartyCall" => K::MultiPartyCall,
            "Message" => K::Message,
            "Stream" => K::Stream,
            "AgentHoldMusic" => K::AgentHoldMusic,
            "CustomerHoldMusic" => K::CustomerHoldMusic,
            "break" => K::Break,
            "emphasis" => K::Emphasis,
            "lang" => K::Lang,
            "p" => K::P,
            "phoneme" => K::Phoneme,
            "prosody" => K::Prosody,
            "s" => K::S,
            "say-as" => K::SayAs,
            "sub" => K::Sub,
            "w" => K::W,
            _ => return None,
        })
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            K::Response => "Response",
            K::Speak => Speak::ELEMENT,
            K::Play => Play::ELEMENT,
            K::Wait => Wait::ELEMENT,
            K::Dtmf => Dtmf::ELEMENT,
            K::GetDigits => GetDigits::ELEMENT,
            K::GetInput => GetInput::ELEMENT,
            K::Record => Record::ELEMENT,
            K::Dial => Dial::ELEMENT,
            K::Number => Number::ELEMENT,
            K::User => User::ELEMENT,
            K::Redirect => Redirect::ELEMENT,
            K::Hangup => Hangup::ELEMENT,
            K::PreAnswer => PreAnswer::ELEMENT,
            K::Conference => Conference::ELEMENT,
            K::MultiPartyCall => MultiPartyCall::ELEMENT,
            K::Message => Message::ELEMENT,
            K::Stream => Stream::ELEMENT,
            K::AgentHoldMusic => AgentHoldMusic::ELEMENT,
            K::CustomerHoldMusic => CustomerHoldMusic::ELEMENT,
            K::Break => Break::ELEMENT,
            K::Emphasis => Emphasis::ELEMENT,
            K::Lang => Lang::ELEMENT,
            K::P => Paragraph::ELEMENT,
            K::Phoneme => Phoneme::ELEMENT,
            K::Prosody => Prosody::ELEMENT,
            K::S => Sentence::ELEMENT,
            K::SayAs => SayAs::ELEMENT,
            K::Sub => Sub::ELEMENT,
            K::W => Word::ELEMENT,
        }
    }

    /// Whether `child` may be a child of `self` ([`Kind::children`] holds it), by one bit.
    pub(super) fn allows(self, child: Kind) -> bool {
        ALLOWED.get(self as usize).is_some_and(|m| m & 1 << child as u32 != 0)
    }

    /// The nesting matrix (spec §1.1): the union of the docs' and the SDKs' rules.
    pub(super) const fn children(self) -> &'static [Kind] {
        match self {
            K::Response => VERBS,
            K::GetDigits | K::GetInput | K::AgentHoldMusic | K::CustomerHoldMusic => PROMPTS,
            // The Go SDK (7.20+) writes hold music as children after the name.
            K::MultiPartyCall => &[K::AgentHoldMusic, K::CustomerHoldMusic],
            K::Dial => &[K::Number, K::User],
            K::PreAnswer => &[K::Speak, K::Play, K::Wait, K::GetDigits, K::Redirect, K::Message, K::Dtmf],
            K::Speak | K::Lang | K::Prosody => SSML_ALL,
            K::P => &[K::Break, K::Emphasis, K::Lang, K::Phoneme, K::Prosody, K::SayAs, K::Sub, K::S, K::W],
            K::Emphasis | K::S => SSML_IN_EMPHASIS,
            K::W => SSML_IN_W,
            _ => &[],
        }
    }

    pub(super) fn body(self) -> Body {
        match self {
            K::Response => Body::Forbidden,
            K::Play
            | K::Dtmf
            | K::Redirect
            | K::Conference
            | K::MultiPartyCall
            | K::Message
            | K::Stream
            | K::Number
            | K::User => Body::Text,
            K::Speak | K::Emphasis | K::Lang | K::P | K::Phoneme | K::Prosody | K::S | K::SayAs | K::Sub | K::W => {
                Body::Mixed
            }
            K::Wait
            | K::GetDigits
            | K::GetInput
            | K::Record
            | K::Dial
            | K::Hangup
            | K::PreAnswer
            | K::Break
            | K::AgentHoldMusic
            | K::CustomerHoldMusic => Body::Ignored,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bits_are_the_nesting_matrix() {
        for (i, parent) in ALL.iter().enumerate() {
            assert_eq!(*parent as usize, i);
            for child in ALL {
                assert_eq!(parent.allows(child), parent.children().contains(&child), "{parent:?} {child:?}");
            }
        }
    }

    #[test]
    fn ssml_kinds_are_mixed() {
        for k in SSML_ALL {
            if *k != K::Break {
                assert_eq!(k.body(), Body::Mixed);
            }
        }
    }
}
