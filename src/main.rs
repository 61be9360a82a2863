//! The `plivo-flow` command-line tool.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use plivo_flow::cassette::{self, Cassette, ReplyLog};
use plivo_flow::diagnostic::{LineIndex, render_with};
use plivo_flow::runtime::CoverageReport;
use plivo_flow::scenario::{self, Scenario, ScenarioWarning};
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
        /// Files to check, or folders to search for `*.xml`; `-` reads standard input.
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
    /// Replay a scenario (TOML) or a bare document (XML: one inbound call, no events) in
    /// virtual time and print its transcript; scenario warnings go to standard error.
    Run {
        /// The scenario or document, told apart by content; `-` reads standard input.
        file: PathBuf,
        /// Print one JSON object per transcript line.
        #[arg(long)]
        json: bool,
        /// Exit 1 when the run shows a scenario warning.
        #[arg(long)]
        strict: bool,
        /// Request every URL the scenario's `[documents]` does not list from the real
        /// application over HTTP (signed, as `serve` does), in virtual time; as `live = true`.
        #[arg(long)]
        live: bool,
        /// The auth token live requests are signed with (default the development token
        /// plivo-flow-dev-token). Never printed.
        #[arg(long, value_name = "TOKEN")]
        auth_token: Option<String>,
        /// Write one cassette per call into DIR (`DIR/<call>.cassette.json`: setup, events,
        /// every request with the application's reply), for `plivo-flow test DIR` to replay
        /// with no application running. DIR is created if need be.
        #[arg(long, value_name = "DIR")]
        record: Option<PathBuf>,
    },
    /// Serve the Plivo-compatible REST API and run live calls against real webhooks.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = plivo_flow::server::DEFAULT_LISTEN)]
        listen: std::net::SocketAddr,
        /// Account id (with --auth-token; else the development id MADEVELOPMENT0000001).
        #[arg(long)]
        auth_id: Option<String>,
        /// Auth token (with --auth-id; else the development token plivo-flow-dev-token). Never
        /// printed.
        #[arg(long)]
        auth_token: Option<String>,
        /// Take the credentials from PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN (the flags still win).
        /// Without it the environment is never read, so that exported real credentials do not
        /// end up in use (or in logs) by accident.
        #[arg(long)]
        auth_from_env: bool,
        /// How fast the calls' clock runs: 1 = real time, 0.1 = ten times faster (every timer,
        /// media length and reported duration alike); 0 = media instant, timers in real time.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Seed for generated ids (0: from the clock).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The most document fetches, and the most notifications, on the wire at once.
        #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=65_536))]
        max_in_flight: u64,
        /// Total milliseconds of one webhook with its retries when its URL has no `#tt=`.
        #[arg(long, default_value_t = 55_000, value_parser = clap::value_parser!(u64).range(100..=55_000))]
        webhook_timeout_ms: u64,
        /// Milliseconds one slow notification of a call holds back the call's next ones.
        #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(0..=55_000))]
        notify_hold_ms: u64,
        /// The most calls alive at once; a request that would start more is answered 429.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        max_calls: u64,
        /// Write one cassette per call started through the API into DIR
        /// (`DIR/<CallUUID>.cassette.json`) when the call ends, for `plivo-flow test DIR` to
        /// replay with no application running. DIR is created if need be.
        #[arg(long, value_name = "DIR")]
        record: Option<PathBuf>,
        /// Answer SIP calls (UDP and TCP) on this address and run each call's XML from --answer-url on
        /// real audio (RTP, G.711, RFC 4733); the REST API (on --listen) controls them.
        #[arg(long, value_name = "ADDR", requires = "answer_url")]
        sip: Option<std::net::SocketAddr>,
        /// With --sip: the answer URL of every inbound call.
        #[arg(long, value_name = "URL", requires = "sip")]
        answer_url: Option<String>,
        /// With --sip: where every call's end is told (POST), as a Plivo application's
        /// hangup URL.
        #[arg(long, value_name = "URL", requires = "sip")]
        hangup_url: Option<String>,
        /// With --sip: the speech synthesiser for <Speak> (espeak-ng, or a program that takes
        /// the same `--stdout -v VOICE -- TEXT` arguments).
        #[arg(long, value_name = "PROGRAM", default_value = "espeak-ng")]
        espeak: PathBuf,
        /// With --sip: the MP3 encoder of recordings whose fileFormat is mp3 (LAME, or a
        /// program that takes `--quiet -b 32 - -`, a WAV in and an MP3 out, and answers `--version`);
        /// `none`, or one that does not run: WAV files only.
        #[arg(long, value_name = "PROGRAM", default_value = "lame")]
        lame: PathBuf,
        /// With --sip: the SIP gateway (UDP HOST:PORT) where <Dial>'s <Number>s are sent as
        /// sip:NUMBER@HOST:PORT; without it they fail. <User>sip:…</User> is rung directly.
        #[arg(long, value_name = "HOST:PORT", requires = "sip", value_parser = gateway_addr)]
        sip_gateway: Option<std::net::SocketAddr>,
    },
    /// Run every scenario under the paths and compare each transcript with the `.expected`
    /// file beside it, and replay every cassette (`*.cassette.json`) with no application
    /// running, comparing each request with the recorded one; ends with `N passed, M failed`.
    Test {
        /// Scenario or cassette files, or folders to search for `*.toml` and `*.cassette.json`.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Write the transcripts as the new expectations.
        #[arg(long)]
        bless: bool,
        /// Count a scenario with a scenario warning as failed (and do not bless it).
        #[arg(long)]
        strict: bool,
        /// Also write a JUnit XML report: one `<testcase>` per scenario.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// After the results, report which elements ran and which branches were taken, per
        /// document URL, summed over the scenarios.
        #[arg(long)]
        coverage: bool,
        /// Coverage as text, or as one JSON object on the last line.
        #[arg(long, value_enum, default_value_t = Format::Text, requires = "coverage")]
        coverage_format: Format,
        /// Exit 1 when elements and branches covered are below PCT percent of all of them.
        #[arg(long, value_name = "PCT", requires = "coverage")]
        fail_under: Option<f64>,
        /// Request every URL the scenario's `[documents]` does not list from the real
        /// application over HTTP (signed, as `serve` does), in virtual time; as `live = true`.
        #[arg(long)]
        live: bool,
        /// The auth token live requests are signed with (default the development token
        /// plivo-flow-dev-token). Never printed.
        #[arg(long, value_name = "TOKEN")]
        auth_token: Option<String>,
        /// Also write each scenario's cassettes into DIR/<scenario path>/ (as `run --record`).
        #[arg(long, value_name = "DIR")]
        record: Option<PathBuf>,
    },
    /// Draw a document's flow (elements, branches, fetched URLs) as Graphviz DOT, Mermaid or
    /// SVG (through Graphviz's `dot`); with --coverage, marks what the scenarios covered.
    Graph {
        /// The document; `-` reads standard input.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
        /// Scenario files or folders: run them and mark what ran of this document (at every
        /// URL that serves it).
        #[arg(long, value_name = "SCENARIO", num_args = 1..)]
        coverage: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
    /// SVG, drawn by Graphviz's `dot -Tsvg`.
    Svg,
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

/// Output into a closed pipe (`plivo-flow test … | head`) ends the process quietly, as for
/// other Unix tools, instead of a panic in `println!`: Rust ignores SIGPIPE by default.
/// `serve` ignores it again ([`ignore_sigpipe`]): a server writes into pipes of its own
/// (the MP3 encoder's), and one that closes early must not end every call.
#[cfg(unix)]
fn default_sigpipe() {
    // SAFETY: called first thing in `main`, before any other thread exists; `signal` with
    // `SIG_DFL` only restores the default disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Back to Rust's default for a long-running server: a write into a closed pipe is an
/// `EPIPE` error of that write, not the end of the process.
#[cfg(unix)]
fn ignore_sigpipe() {
    // SAFETY: `signal` with `SIG_IGN` only sets the disposition; called before the server's
    // runtime starts its threads.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

fn main() -> ExitCode {
    #[cfg(unix)]
    default_sigpipe();
    let cli = Cli::parse();
    let status = match cli.command {
        Command::Check { format, max_bytes, files } => check(&files, format, max_bytes),
        Command::Fmt { file } => with_document(&file, xml::write),
        Command::Run { file, json, strict, live, auth_token, record } => {
            run(&file, json, strict, &Live { on: live, token: auth_token, record })
        }
        Command::Serve {
            listen,
            auth_id,
            auth_token,
            auth_from_env,
            speed,
            seed,
            max_in_flight,
            webhook_timeout_ms,
            notify_hold_ms,
            max_calls,
            record,
            sip,
            answer_url,
            hangup_url,
            espeak,
            lame,
            sip_gateway,
        } => {
            #[cfg(unix)]
            ignore_sigpipe();
            // Cassettes are of simulated calls: checked before any folder is made.
            if sip.is_some() && record.is_some() {
                eprintln!("--record writes cassettes of simulated calls; it does not go with --sip");
                return ExitCode::from(UNREADABLE);
            }
            if let Some(dir) = &record
                && let Err(e) = std::fs::create_dir_all(dir)
            {
                eprintln!("{}: cannot create: {e}", dir.display());
                return ExitCode::from(UNREADABLE);
            }
            let config = plivo_flow::server::ServerConfig {
                listen,
                speed,
                seed,
                max_in_flight: usize::try_from(max_in_flight).unwrap_or(256),
                webhook_timeout: std::time::Duration::from_millis(webhook_timeout_ms),
                notify_hold: std::time::Duration::from_millis(notify_hold_ms),
                max_calls: usize::try_from(max_calls).unwrap_or(10_000),
                record,
                ..plivo_flow::server::ServerConfig::default()
            };
            let given = Credentials { id: auth_id, token: auth_token, from_env: auth_from_env };
            if let (Some(listen), Some(answer_url)) = (sip, answer_url) {
                let lame = (lame != std::path::Path::new("none")).then_some(lame);
                let sip =
                    plivo_flow::sip::SipConfig { listen, answer_url, hangup_url, espeak, lame, gateway: sip_gateway };
                return ExitCode::from(serve_sip(sip, config, given));
            }
            serve(config, given)
        }
        Command::Test {
            paths,
            bless,
            strict,
            junit,
            coverage,
            coverage_format,
            fail_under,
            live,
            auth_token,
            record,
        } => {
            let cov = coverage.then_some(CoverageArgs { format: coverage_format, fail_under });
            test(&paths, bless, strict, junit.as_deref(), cov, &Live { on: live, token: auth_token, record })
        }
        Command::Graph { file, format, coverage } => graph(&file, format, &coverage),
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
    if path.as_os_str() == "-" { "<stdin>".to_owned() } else { path.display().to_string() }
}

fn check(paths: &[PathBuf], format: Format, max_bytes: usize) -> u8 {
    let opts = ParseOptions { max_bytes, ..ParseOptions::default() };
    let mut status = OK;
    let (mut errors, mut warnings, mut unreadable) = (0usize, 0usize, 0usize);
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let before = files.len();
            walk(p, "xml", &mut files);
            if files.len() == before {
                eprintln!("{}: no *.xml file in this folder", p.display());
                status = UNREADABLE;
            }
        } else {
            files.push(p.clone());
        }
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for path in &files {
        let name = display_name(path);
        let bytes = match read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{name}: cannot read: {e}");
                status = UNREADABLE;
                unreadable += 1;
                continue;
            }
        };
        let parsed = xml::parse_bytes(&bytes, &opts);
        let src = xml::source_text(&bytes, &opts);
        let idx = LineIndex::new(&src);
        errors += parsed.suppressed_errors;
        warnings += parsed.suppressed - parsed.suppressed_errors;
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
        if parsed.suppressed > 0 {
            let more = match format {
                Format::Text => format!("{name}: {}\n", more_diagnostics(&parsed)),
                Format::Json => format!(
                    "{}\n",
                    serde_json::json!({
                        "file": name,
                        "suppressed": parsed.suppressed,
                        "suppressed_errors": parsed.suppressed_errors,
                    })
                ),
            };
            if out.write_all(more.as_bytes()).is_err() {
                return UNREADABLE;
            }
        }
        if parsed.has_errors() && status == OK {
            status = HAS_ERRORS;
        }
    }
    let _ = out.flush();
    if format == Format::Text {
        // An unreadable file is counted, so "0 errors" never reads as "all is well".
        let unread = if unreadable > 0 { format!("{unreadable} unreadable, ") } else { String::new() };
        eprintln!(
            "checked {} file{}: {unread}{errors} error{}, {warnings} warning{}",
            files.len(),
            plural(files.len()),
            plural(errors),
            plural(warnings)
        );
    }
    status
}

/// "… and N more diagnostics (E errors)": what the cap left out.
fn more_diagnostics(parsed: &Parsed) -> String {
    format!(
        "… and {} more diagnostic{} ({} error{}) not shown",
        parsed.suppressed,
        plural(parsed.suppressed),
        parsed.suppressed_errors,
        plural(parsed.suppressed_errors)
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Parses one file and prints `render(doc)`, or its diagnostics when it has errors.
fn with_document(path: &Path, render: impl Fn(&xml::Document) -> String) -> u8 {
    match load_document(path) {
        Ok(doc) => {
            print!("{}", render(&doc));
            OK
        }
        Err(status) => status,
    }
}

/// Reads and parses a document, printing its diagnostics; `Err(status)` when it cannot be
/// read or has errors.
fn load_document(path: &Path) -> Result<xml::Document, u8> {
    let name = display_name(path);
    let bytes = match read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{name}: cannot read: {e}");
            return Err(UNREADABLE);
        }
    };
    let opts = ParseOptions::default();
    let parsed: Parsed = xml::parse_bytes(&bytes, &opts);
    let src = xml::source_text(&bytes, &opts);
    let idx = LineIndex::new(&src);
    for d in &parsed.diagnostics {
        eprint!("{}", render_with(&name, &idx, d));
    }
    if parsed.suppressed > 0 {
        eprintln!("{name}: {}", more_diagnostics(&parsed));
    }
    if parsed.has_errors() {
        return Err(HAS_ERRORS);
    }
    Ok(parsed.document)
}

/// Whether `bytes` hold XML rather than a TOML scenario: after an optional byte order mark and
/// whitespace, XML starts with `<` (a TOML scenario never does).
fn looks_like_xml(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

/// Loads a scenario, or wraps a bare document in one (told apart by content, not extension;
/// `-` reads standard input); bad documents are reported like `check`.
fn load(path: &Path) -> Result<Scenario, u8> {
    let name = display_name(path);
    let bytes = read(path).map_err(|e| {
        eprintln!("{name}: cannot read: {e}");
        UNREADABLE
    })?;
    if looks_like_xml(&bytes) {
        let opts = ParseOptions::default();
        let parsed = xml::parse_bytes(&bytes, &opts);
        let src = xml::source_text(&bytes, &opts);
        let idx = LineIndex::new(&src);
        for d in &parsed.diagnostics {
            print!("{}", render_with(&name, &idx, d));
        }
        if parsed.suppressed > 0 {
            println!("{name}: {}", more_diagnostics(&parsed));
        }
        if parsed.has_errors() {
            return Err(HAS_ERRORS);
        }
        if path.as_os_str() == "-" {
            return Ok(Scenario::bare_text(&name, &src));
        }
        return Scenario::bare_document(path).map_err(|e| {
            eprintln!("{e}");
            UNREADABLE
        });
    }
    let scenario = if path.as_os_str() == "-" {
        // Relative document paths are read from the working directory.
        match std::str::from_utf8(&bytes) {
            Ok(text) => Scenario::from_toml(text, Path::new(&name)),
            Err(e) => {
                eprintln!("{name}: not UTF-8 text: {e}");
                return Err(UNREADABLE);
            }
        }
    } else {
        Scenario::load(path)
    };
    scenario.map_err(|e| {
        eprintln!("{e}");
        UNREADABLE
    })
}

/// `--live`, the token live requests are signed with, and `--record`.
struct Live {
    on: bool,
    token: Option<String>,
    record: Option<PathBuf>,
}

impl Live {
    /// Gives `scenario` the HTTP fetcher when `--live` or its `live = true` asks for it; with
    /// `log`, one that records each reply there too.
    fn apply(&self, scenario: &mut Scenario, log: Option<ReplyLog>) -> Result<(), String> {
        let log = log.filter(|_| self.record.is_some());
        if !(self.on || scenario.live) {
            return Ok(());
        }
        let token = self.token.as_deref().unwrap_or(plivo_flow::server::DEV_AUTH_TOKEN);
        let fetcher = plivo_flow::server::live::LiveFetcher::new(token)
            .map_err(|e| format!("cannot start the HTTP client for --live: {e}"))?;
        match log {
            Some(log) => {
                scenario.simulation.set_fetcher(Box::new(plivo_flow::server::live::RecordingFetcher::new(fetcher, log)))
            }
            None => scenario.simulation.set_fetcher(Box::new(fetcher)),
        }
        Ok(())
    }
}

fn run(path: &Path, json: bool, strict: bool, live: &Live) -> u8 {
    let mut scenario = match load(path) {
        Ok(s) => s,
        Err(status) => return status,
    };
    let log = ReplyLog::default();
    if let Err(e) = live.apply(&mut scenario, Some(log.clone())) {
        eprintln!("{e}");
        return UNREADABLE;
    }
    scenario.simulation.run();
    if let Some(dir) = &live.record
        && let Err(e) = record(dir, path, &scenario, &log)
    {
        eprintln!("{e}");
        return UNREADABLE;
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let text = if json {
        let mut s = String::new();
        for line in scenario.simulation.transcript() {
            s.push_str(&serde_json::to_string(line).unwrap_or_default());
            s.push('\n');
        }
        s
    } else {
        scenario.simulation.transcript_text()
    };
    if out.write_all(text.as_bytes()).is_err() {
        return UNREADABLE;
    }
    let _ = out.flush();
    let warnings = scenario::warnings(&scenario.simulation);
    for w in &warnings {
        eprintln!("scenario warning: {w}");
    }
    if strict && !warnings.is_empty() {
        eprintln!("{} scenario warning{} (--strict)", warnings.len(), plural(warnings.len()));
        return HAS_ERRORS;
    }
    OK
}

/// Writes the cassettes of the finished run of `scenario` (loaded from `path`; its live
/// replies in `log`) into `dir`.
fn record(dir: &Path, path: &Path, scenario: &Scenario, log: &ReplyLog) -> Result<(), String> {
    let replies = log.lock().map(|l| l.clone()).unwrap_or_default();
    // Unique per run, so that an older recording left in DIR never replays mixed with it.
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let recording = format!("run {} {secs} {}", display_name(path), std::process::id());
    let script = &scenario.script;
    let cassettes =
        cassette::from_simulation(&scenario.simulation, &recording, script.settings.clone(), &script.events, &replies);
    write_cassettes(dir, &cassettes)
}

/// Writes `cassettes` into `dir` (created if need be), one file each, and says so on
/// standard error.
fn write_cassettes(dir: &Path, cassettes: &[Cassette]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    for c in cassettes {
        let file = dir.join(c.file_name());
        std::fs::write(&file, c.to_json()).map_err(|e| format!("{}: cannot write: {e}", file.display()))?;
    }
    eprintln!("recorded {} cassette{} in {}", cassettes.len(), plural(cassettes.len()), dir.display());
    Ok(())
}

/// Whether `path` names a cassette (`*.cassette.json`).
fn is_cassette(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n.to_string_lossy().ends_with(cassette::SUFFIX))
}

/// Every `*.cassette.json` under `paths` (given files too), sorted, folders searched
/// recursively.
fn cassette_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut json = Vec::new();
            walk(p, "json", &mut json);
            out.extend(json.into_iter().filter(|f| is_cassette(f)));
        } else if is_cassette(p) {
            out.push(p.clone());
        }
    }
    out
}

/// Every file ending `.EXT` under `dir`, sorted, searched recursively.
fn walk(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, ext, out);
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

/// Every `*.toml` under `paths`, sorted, folders searched recursively.
fn scenarios(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, "toml", &mut out);
        } else if !is_cassette(p) {
            out.push(p.clone());
        }
    }
    out
}

/// One scenario's result for the JUnit report: its name and, when it failed, why and the details.
struct Case {
    name: String,
    failure: Option<(String, String)>,
}

/// A JUnit XML report: one `<testsuite>`, one `<testcase>` per scenario, the reason and the diff
/// (or warnings) of a failed one in `<failure>`.
fn junit_xml(cases: &[Case]) -> String {
    use quick_xml::escape::escape;
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str(&format!(
        "<testsuites tests=\"{n}\" failures=\"{failures}\">\n  <testsuite name=\"plivo-flow test\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\">\n",
        n = cases.len()
    ));
    for c in cases {
        let name = escape(c.name.as_str());
        match &c.failure {
            None => s.push_str(&format!("    <testcase name=\"{name}\" classname=\"scenario\"/>\n")),
            Some((message, details)) => s.push_str(&format!(
                "    <testcase name=\"{name}\" classname=\"scenario\">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                escape(message.as_str()),
                escape(details.as_str())
            )),
        }
    }
    s.push_str("  </testsuite>\n</testsuites>\n");
    s
}

/// `test --coverage` settings.
struct CoverageArgs {
    format: Format,
    fail_under: Option<f64>,
}

fn test(
    paths: &[PathBuf],
    bless: bool,
    strict: bool,
    junit: Option<&Path>,
    cov: Option<CoverageArgs>,
    live: &Live,
) -> u8 {
    let mut cases: Vec<Case> = Vec::new();
    let mut report = CoverageReport::default();
    let mut status = run_tests(paths, bless, strict, &mut cases, &mut report, live);
    if let Some(file) = junit
        && let Err(e) = std::fs::write(file, junit_xml(&cases))
    {
        eprintln!("{}: cannot write the JUnit report: {e}", file.display());
        return UNREADABLE;
    }
    if let Some(cov) = cov {
        match cov.format {
            Format::Text => print!("{}", coverage_text(&report)),
            Format::Json => println!("{}", coverage_json(&report)),
        }
        let pct = report.percent();
        if let Some(min) = cov.fail_under
            && pct < min
        {
            eprintln!("coverage {pct:.1}% is below --fail-under {min}%");
            status = status.max(HAS_ERRORS);
        }
    }
    status
}

fn percent(n: usize, of: usize) -> String {
    if of == 0 { "100.0%".to_owned() } else { format!("{:.1}%", 100.0 * n as f64 / of as f64) }
}

/// The `test --coverage` text: per document, then the totals.
fn coverage_text(report: &CoverageReport) -> String {
    let n = report.counted().count();
    let mut s = format!("coverage of {n} document{}\n", plural(n));
    for d in report.counted() {
        s.push_str(&format!(
            "  {}: elements {}/{}, branches {}/{}\n",
            d.url, d.elements_covered, d.elements_total, d.branches_covered, d.branches_total
        ));
        if !d.uncovered_elements.is_empty() {
            s.push_str(&format!("    not run: {}\n", d.uncovered_elements.join(", ")));
        }
        if !d.uncovered_branches.is_empty() {
            s.push_str(&format!("    not taken: {}\n", d.uncovered_branches.join(", ")));
        }
    }
    let ((ec, et), (bc, bt)) = report.totals();
    s.push_str(&format!(
        "coverage: elements {ec}/{et} ({}), branches {bc}/{bt} ({}), total {}/{} ({:.1}%)\n",
        percent(ec, et),
        percent(bc, bt),
        ec + bc,
        et + bt,
        report.percent()
    ));
    s
}

/// The `test --coverage-format json` object.
fn coverage_json(report: &CoverageReport) -> String {
    let ((ec, et), (bc, bt)) = report.totals();
    serde_json::json!({
        "documents": report.counted().collect::<Vec<_>>(),
        "elements_covered": ec,
        "elements_total": et,
        "branches_covered": bc,
        "branches_total": bt,
        "percent": (report.percent() * 10.0).round() / 10.0,
    })
    .to_string()
}

fn graph(file: &Path, format: GraphFormat, coverage: &[PathBuf]) -> u8 {
    let doc = match load_document(file) {
        Ok(d) => d,
        Err(status) => return status,
    };
    let g = plivo_flow::graph::Graph::new(&doc);
    let mut covered = None;
    if !coverage.is_empty() {
        let files = scenarios(coverage);
        if files.is_empty() {
            eprintln!("no scenario (*.toml) found under the --coverage paths");
            return HAS_ERRORS;
        }
        let mut c = plivo_flow::graph::Covered::default();
        let mut urls = Vec::new();
        for path in &files {
            let mut s = match Scenario::load(path) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{}: cannot load: {e}", path.display());
                    return HAS_ERRORS;
                }
            };
            s.simulation.run();
            for d in s.simulation.coverage().documents.into_iter().filter(|d| d.document == doc) {
                c.merge(&d.covered);
                urls.push(d.url);
            }
        }
        if urls.is_empty() {
            eprintln!("{}: no scenario serves this document; nothing of it is covered", display_name(file));
        }
        covered = Some(c);
    }
    let dot = g.to_dot(covered.as_ref());
    match format {
        GraphFormat::Dot => print!("{dot}"),
        GraphFormat::Mermaid => print!("{}", g.to_mermaid(covered.as_ref())),
        GraphFormat::Svg => match dot_to_svg(&dot) {
            Ok(svg) => {
                let _ = io::stdout().write_all(&svg);
            }
            Err(e) => {
                eprintln!("{e}");
                return UNREADABLE;
            }
        },
    }
    OK
}

/// Renders DOT with Graphviz (`dot -Tsvg`).
fn dot_to_svg(dot: &str) -> Result<Vec<u8>, String> {
    use std::process::{Command as Process, Stdio};
    let mut child = Process::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                "--format svg needs Graphviz's `dot` on PATH (Debian/Ubuntu: apt-get install graphviz); \
                 --format dot prints the graph for another renderer"
                    .to_owned()
            } else {
                format!("cannot run `dot`: {e}")
            }
        })?;
    let mut stdin = child.stdin.take().ok_or("cannot write to `dot`")?;
    let input = dot.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().map_err(|e| format!("`dot` failed: {e}"))?;
    let _ = writer.join();
    if !out.status.success() {
        return Err(format!("`dot -Tsvg` failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(out.stdout)
}

fn run_tests(
    paths: &[PathBuf],
    bless: bool,
    strict: bool,
    cases: &mut Vec<Case>,
    report: &mut CoverageReport,
    live: &Live,
) -> u8 {
    let files = scenarios(paths);
    let tapes = cassette_files(paths);
    if files.is_empty() && tapes.is_empty() {
        eprintln!("no scenario (*.toml) or cassette (*.cassette.json) found under the given paths");
        println!("0 passed, 0 failed");
        return HAS_ERRORS;
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    let total = files.len() + tapes.len();
    if tapes.is_empty() {
        println!("running {total} scenario{}", plural(total));
    } else {
        println!(
            "running {} scenario{} and {} cassette{}",
            files.len(),
            plural(files.len()),
            tapes.len(),
            plural(tapes.len())
        );
    }
    for (i, path) in files.iter().enumerate() {
        let expected_path = path.with_extension("expected");
        let name = path.display();
        let progress = format!("[{}/{total}]", i + 1);
        let mut fail = |message: String, details: String| {
            cases.push(Case { name: name.to_string(), failure: Some((message, details)) });
        };
        let log = ReplyLog::default();
        let (actual, warnings) = match Scenario::load(path).map_err(|e| e.to_string()).and_then(|mut s| {
            live.apply(&mut s, Some(log.clone()))?;
            Ok(s)
        }) {
            Ok(mut s) => {
                s.simulation.run();
                if let Some(dir) = &live.record {
                    // One folder per scenario: its path, made a safe name.
                    let flat: String = path
                        .with_extension("")
                        .display()
                        .to_string()
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() || "-_".contains(c) { c } else { '_' })
                        .collect();
                    if let Err(e) = record(&dir.join(flat), path, &s, &log) {
                        eprintln!("{e}");
                    }
                }
                report.merge(s.simulation.coverage());
                (s.simulation.transcript_text(), scenario::warnings(&s.simulation))
            }
            Err(e) => {
                println!("{progress} {name} ... FAILED");
                println!("    cannot load: {e}");
                fail("cannot load the scenario".to_owned(), e.to_string());
                failed += 1;
                continue;
            }
        };
        if strict && !warnings.is_empty() {
            let what = if bless { "FAILED (not blessed)" } else { "FAILED" };
            println!("{progress} {name} ... {what}");
            print_warnings(&warnings);
            println!("    {} scenario warning{} (--strict)", warnings.len(), plural(warnings.len()));
            let details: Vec<String> = warnings.iter().map(|w| format!("scenario warning: {w}")).collect();
            fail(
                format!("{} scenario warning{} (--strict)", warnings.len(), plural(warnings.len())),
                details.join("\n"),
            );
            failed += 1;
            continue;
        }
        if bless {
            match std::fs::write(&expected_path, &actual) {
                Ok(()) => {
                    println!("{progress} {name} ... blessed");
                    print_warnings(&warnings);
                    cases.push(Case { name: name.to_string(), failure: None });
                    passed += 1;
                }
                Err(e) => {
                    println!("{progress} {name} ... FAILED");
                    println!("    cannot write {}: {e}", expected_path.display());
                    fail("cannot write the expectation".to_owned(), e.to_string());
                    failed += 1;
                }
            }
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == actual => {
                println!("{progress} {name} ... ok");
                print_warnings(&warnings);
                cases.push(Case { name: name.to_string(), failure: None });
                passed += 1;
            }
            Ok(expected) => {
                println!("{progress} {name} ... FAILED");
                print_warnings(&warnings);
                let diff = similar::TextDiff::from_lines(&expected, &actual);
                let exp = expected_path.display().to_string();
                let diff = diff.unified_diff().context_radius(3).header(&exp, "actual transcript").to_string();
                print!("{diff}");
                fail("the transcript differs from the expectation".to_owned(), diff);
                failed += 1;
            }
            Err(e) => {
                println!("{progress} {name} ... FAILED");
                println!("    no expectation {}: {e}; run with --bless to write it", expected_path.display());
                fail("no expectation".to_owned(), format!("{}: {e}", expected_path.display()));
                failed += 1;
            }
        }
    }
    let (p, f) = replay_cassettes(&tapes, files.len(), total, cases);
    passed += p;
    failed += f;
    println!("{passed} passed, {failed} failed");
    if failed > 0 { HAS_ERRORS } else { OK }
}

/// Replays the cassettes at `tapes` (numbered from `done + 1` of `total` in the progress),
/// those of one recording together in one simulation; one case each. Returns (passed,
/// failed).
fn replay_cassettes(tapes: &[PathBuf], done: usize, total: usize, cases: &mut Vec<Case>) -> (usize, usize) {
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut n = done;
    // Loaded ones, grouped by recording in order of first appearance.
    let mut groups: Vec<(String, Vec<(PathBuf, Cassette)>)> = Vec::new();
    for path in tapes {
        let loaded = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|t| Cassette::from_json(&t).map_err(|e| e.to_string()));
        match loaded {
            Ok(c) => match groups.iter_mut().find(|(r, _)| *r == c.recording) {
                Some((_, g)) => g.push((path.clone(), c)),
                None => groups.push((c.recording.clone(), vec![(path.clone(), c)])),
            },
            Err(e) => {
                n += 1;
                println!("[{n}/{total}] {} ... FAILED", path.display());
                println!("    {e}");
                cases.push(Case {
                    name: path.display().to_string(),
                    failure: Some(("cannot load the cassette".to_owned(), e)),
                });
                failed += 1;
            }
        }
    }
    for (_, group) in groups {
        let cassettes: Vec<Cassette> = group.iter().map(|(_, c)| c.clone()).collect();
        let first = group.first().map(|(p, _)| p.clone()).unwrap_or_default();
        let fetcher = cassette::CassetteFetcher::new(&cassettes);
        let verdicts = match plivo_flow::scenario::replay_simulation(&first, &cassettes) {
            Ok(mut sim) => {
                sim.set_fetcher(Box::new(fetcher.clone()));
                sim.run();
                Ok(fetcher.verdicts())
            }
            Err(e) => Err(e.to_string()),
        };
        // Divergences of calls no cassette of the group holds go to its first cassette.
        let mut strays: Vec<String> = match &verdicts {
            Ok(v) => {
                let mut s: Vec<String> = v
                    .iter()
                    .filter(|(who, _)| !cassettes.iter().any(|c| c.who() == who.as_str()))
                    .filter_map(|(_, v)| v.divergence.clone())
                    .collect();
                s.sort();
                s
            }
            Err(_) => Vec::new(),
        };
        for (path, c) in &group {
            n += 1;
            let name = path.display().to_string();
            let mut problems: Vec<String> = match &verdicts {
                Ok(v) => v.get(c.who()).and_then(|v| v.divergence.clone()).into_iter().collect(),
                Err(e) => vec![format!("cannot replay: {e}")],
            };
            problems.append(&mut strays);
            if problems.is_empty() {
                let note = if c.truncated {
                    format!(" (truncated cassette: requests past the {} recorded were not checked)", c.requests.len())
                } else {
                    String::new()
                };
                println!("[{n}/{total}] {name} ... ok{note}");
                cases.push(Case { name, failure: None });
                passed += 1;
            } else {
                println!("[{n}/{total}] {name} ... FAILED");
                for p in &problems {
                    println!("    {p}");
                }
                let message = problems.first().cloned().unwrap_or_default();
                cases.push(Case { name, failure: Some((message, problems.join("\n"))) });
                failed += 1;
            }
        }
    }
    (passed, failed)
}

fn print_warnings(warnings: &[ScenarioWarning]) {
    for w in warnings {
        println!("    scenario warning: {w}");
    }
}

/// The credentials `serve` was asked for on its command line.
struct Credentials {
    id: Option<String>,
    token: Option<String>,
    from_env: bool,
}

/// Resolves the credentials of `serve`: the flags, else (with `--auth-from-env` only) the
/// environment, else the development pair. Returns the pair, where it came from (never the
/// token), and a note when PLIVO_AUTH_ID/PLIVO_AUTH_TOKEN are set but not used.
fn resolve_credentials(
    given: Credentials,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(String, String, String, Option<String>), String> {
    use plivo_flow::server::{DEV_AUTH_ID, DEV_AUTH_TOKEN};
    let (env_id, env_token) = (env("PLIVO_AUTH_ID"), env("PLIVO_AUTH_TOKEN"));
    let env_set = env_id.is_some() || env_token.is_some();
    if given.from_env {
        let id_flag = given.id.is_some();
        let token_flag = given.token.is_some();
        let id = given.id.or(env_id).ok_or("--auth-from-env: PLIVO_AUTH_ID is not set (nor --auth-id given)")?;
        let token =
            given.token.or(env_token).ok_or("--auth-from-env: PLIVO_AUTH_TOKEN is not set (nor --auth-token given)")?;
        let source = match (id_flag, token_flag) {
            (true, true) => "--auth-id/--auth-token",
            (false, false) => "the environment (PLIVO_AUTH_ID/PLIVO_AUTH_TOKEN, --auth-from-env)",
            _ => "--auth-id/--auth-token and the environment (--auth-from-env)",
        };
        let note = (id_flag && token_flag && env_set).then(|| {
            "note: PLIVO_AUTH_ID/PLIVO_AUTH_TOKEN are set but not used: --auth-id/--auth-token win".to_owned()
        });
        return Ok((id, token, source.to_owned(), note));
    }
    let note = env_set.then(|| {
        "note: PLIVO_AUTH_ID/PLIVO_AUTH_TOKEN are set in the environment but not used \
         (pass --auth-from-env to use them)"
            .to_owned()
    });
    match (given.id, given.token) {
        (Some(id), Some(token)) => Ok((id, token, "--auth-id/--auth-token".to_owned(), note)),
        (None, None) => Ok((
            DEV_AUTH_ID.to_owned(),
            DEV_AUTH_TOKEN.to_owned(),
            "the development pair (its token is in the README and in --help)".to_owned(),
            note,
        )),
        _ => Err("give both --auth-id and --auth-token (or --auth-from-env, or neither)".to_owned()),
    }
}

/// `serve --sip`: real calls (feature `sip`), with the REST API on `config.listen`.
/// `--sip-gateway`'s HOST:PORT, resolved once (the first address).
fn gateway_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    s.to_socket_addrs().map_err(|e| format!("{s}: {e}"))?.next().ok_or_else(|| format!("{s}: no address"))
}

fn serve_sip(sip: plivo_flow::sip::SipConfig, config: plivo_flow::server::ServerConfig, given: Credentials) -> u8 {
    init_logs();
    let Ok((auth_id, auth_token, source)) = credentials(given) else { return UNREADABLE };
    let config = plivo_flow::server::ServerConfig { auth_id, auth_token, ..config };
    let Ok(runtime) = tokio_runtime() else { return UNREADABLE };
    runtime.block_on(async move {
        let running = match plivo_flow::sip::start(sip.clone(), config.clone()).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("cannot listen on {} (SIP) and {} (REST API): {e}", sip.listen, config.listen);
                return UNREADABLE;
            }
        };
        println!(
            "plivo-flow serve: SIP on udp:{} answering with {}; REST API on http://{}/v1/Account/{}/ (plivo-flow {}; credentials from {source})",
            running.addr,
            sip.answer_url,
            running.http,
            config.auth_id,
            env!("CARGO_PKG_VERSION"),
        );
        let _ = io::stdout().flush();
        let _ = tokio::signal::ctrl_c().await;
        running.stop().await;
        OK
    })
}

/// The credentials `serve` runs with (id, token, where they came from), its note printed;
/// `Err` once the reason is printed.
fn credentials(given: Credentials) -> Result<(String, String, String), ()> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let (id, token, source, note) = resolve_credentials(given, env).map_err(|e| eprintln!("{e}"))?;
    if let Some(note) = note {
        eprintln!("{note}");
    }
    Ok((id, token, source))
}

/// A multi-threaded tokio runtime; `Err` once the reason is printed.
fn tokio_runtime() -> Result<tokio::runtime::Runtime, ()> {
    tokio::runtime::Runtime::new().map_err(|e| eprintln!("cannot start the runtime: {e}"))
}

fn init_logs() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn,rsipstack=warn"));
    // Colour only on a terminal: logs sent to a file or a pipe carry no escape codes.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .init();
}

fn serve(config: plivo_flow::server::ServerConfig, given: Credentials) -> u8 {
    use plivo_flow::server::{self, ServerConfig};
    init_logs();
    let Ok((auth_id, auth_token, source)) = credentials(given) else { return UNREADABLE };
    if !(config.speed.is_finite() && config.speed >= 0.0) {
        eprintln!("--speed must be a number of at least 0");
        return UNREADABLE;
    }
    let config = ServerConfig { auth_id, auth_token, ..config };
    let Ok(runtime) = tokio_runtime() else { return UNREADABLE };
    runtime.block_on(async move {
        let running = match server::start(config.clone()).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("cannot listen on {}: {e}", config.listen);
                return UNREADABLE;
            }
        };
        // Never the token: only where the credentials came from and the auth id.
        println!(
            "plivo-flow serve: http://{}/v1/Account/{}/ (plivo-flow {}; credentials from {source}; auth id {}), speed {}",
            running.addr,
            config.auth_id,
            env!("CARGO_PKG_VERSION"),
            config.auth_id,
            config.speed
        );
        let _ = io::stdout().flush();
        let _ = tokio::signal::ctrl_c().await;
        let _ = running.stop().await;
        OK
    })
}
