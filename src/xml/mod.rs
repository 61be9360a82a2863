//! Plivo XML: the typed AST, the parser and the writer.
//!
//! ```
//! use plivo_flow::xml::{self, Verb};
//!
//! let parsed = xml::parse(r#"<Response>
//!   <Conference enterSound="beep:1">MyConference</Conference>
//!   <Speak>Good bye. You have been kicked out of the conference</Speak>
//! </Response>"#);
//! assert!(!parsed.has_errors());
//! let Verb::Conference(conf) = &parsed.document.verbs[0] else { panic!() };
//! assert_eq!(conf.room, "MyConference");
//! assert!(conf.start_conference_on_enter); // Plivo's default, applied
//! assert!(conf.written.contains("enterSound") && !conf.written.contains("muted"));
//! // The writer reproduces the document.
//! assert_eq!(xml::parse(&xml::write(&parsed.document)).document, parsed.document);
//! ```

mod ast;
mod parse;
pub mod values;
mod write;
#[cfg(feature = "server")]
pub(crate) use write::escape;

pub use ast::*;
pub use parse::{ParseOptions, Parsed, decode, parse, parse_bytes, parse_with, source_text};
pub use write::write;
