//! The `plivo-flow` command-line tool.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use plivo_flow::diagnostic::{LineIndex, render_with};
use plivo_flow::xml::{self, ParseOptions, Parsed};

#[derive(Parser)]
#[command(name = "plivo-flow", version, about = "Runs Plivo XML call flows")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate documents; exit 0 when none has an error, 1 when any has, 2 when a file cannot be read.
    Check {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Largest accepted document in bytes.
        #[arg(long, default_value_t = ParseOptions::default().max_bytes)]
        max_bytes: usize,
        /// Files to check; `-` reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the canonical form of a document.
    Fmt {
        /// The document; `-` reads standard input.
        file: PathBuf,
    },
    /// Print the JSON AST of a document.
    Ast {
        /// The document; `-` reads standard input.
        file: PathBuf,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// rustc-style text with the source line and a caret.
    Text,
    /// One JSON object per diagnostic, one per line.
    Json,
}

/// Exit statuses.
const OK: u8 = 0;
const HAS_ERRORS: u8 = 1;
const UNREADABLE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let status = match cli.command {
        Command::Check {
            format,
            max_bytes,
            files,
        } => check(&files, format, max_bytes),
        Command::Fmt { file } => with_document(&file, xml::write),
        Command::Ast { file } => with_document(&file, |doc| {
            let mut s = serde_json::to_string_pretty(doc).unwrap_or_default();
            s.push('\n');
            s
        }),
    };
    ExitCode::from(status)
}

fn read(path: &Path) -> io::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        io::stdin().read_to_end(&mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(path)
    }
}

fn display_name(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    }
}

fn check(files: &[PathBuf], format: Format, max_bytes: usize) -> u8 {
    let opts = ParseOptions {
        max_bytes,
        ..ParseOptions::default()
    };
    let mut status = OK;
    let (mut errors, mut warnings) = (0usize, 0usize);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for path in files {
        let name = display_name(path);
        let bytes = match read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{name}: cannot read: {e}");
                status = UNREADABLE;
                continue;
            }
        };
        let parsed = xml::parse_bytes(&bytes, &opts);
        let src = String::from_utf8_lossy(&bytes);
        let idx = LineIndex::new(&src);
        for d in &parsed.diagnostics {
            if d.is_error() {
                errors += 1;
            } else {
                warnings += 1;
            }
            let line = match format {
                Format::Text => render_with(&name, &idx, d),
                Format::Json => {
                    let v = serde_json::json!({
                        "file": name,
                        "line": d.line,
                        "column": d.column,
                        "code": d.code,
                        "severity": d.severity,
                        "message": d.message,
                        "span": d.span,
                    });
                    format!("{v}\n")
                }
            };
            if out.write_all(line.as_bytes()).is_err() {
                return UNREADABLE;
            }
        }
        if parsed.has_errors() && status == OK {
            status = HAS_ERRORS;
        }
    }
    let _ = out.flush();
    if format == Format::Text {
        eprintln!(
            "checked {} file{}: {errors} error{}, {warnings} warning{}",
            files.len(),
            plural(files.len()),
            plural(errors),
            plural(warnings)
        );
    }
    status
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Parses one file and prints `render(doc)`, or its diagnostics when it has errors.
fn with_document(path: &Path, render: impl Fn(&xml::Document) -> String) -> u8 {
    let name = display_name(path);
    let bytes = match read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{name}: cannot read: {e}");
            return UNREADABLE;
        }
    };
    let parsed: Parsed = xml::parse_bytes(&bytes, &ParseOptions::default());
    let src = String::from_utf8_lossy(&bytes);
    let idx = LineIndex::new(&src);
    for d in &parsed.diagnostics {
        eprint!("{}", render_with(&name, &idx, d));
    }
    if parsed.has_errors() {
        return HAS_ERRORS;
    }
    print!("{}", render(&parsed.document));
    OK
}
