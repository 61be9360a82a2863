//! plivo-flow runs Plivo XML call flows.
//!
//! The core is sans-IO: [`xml`] parses documents into a typed AST with located
//! [`diagnostic`]s and writes them back. It builds without default features (no tokio, no
//! CLI). See `ARCHITECTURE.md` for the map of the crate.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(unreachable_pub)]

#[cfg(feature = "cassette")]
pub mod cassette;
pub mod diagnostic;
pub mod engine;
pub mod graph;
pub mod media;
pub mod runtime;
#[cfg(feature = "scenario")]
pub mod scenario;
#[cfg(feature = "server")]
pub mod server;
pub mod sim;
#[cfg(feature = "sip")]
pub mod sip;
pub mod xml;

/// The README's Rust examples compile and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
