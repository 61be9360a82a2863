//! Real calls under load: SIPp places CALLS concurrent G.711 calls on `plivo-flow serve --sip`
//! (the release binary), each hearing speech for the whole call (`<Speak loop="0">`); a sink
//! in this process receives every call's RTP and counts late packets. Prints `figure:` lines
//! for `benches/run.sh`.
//!
//! `cargo bench --bench sip_load` (needs `sipp` and `espeak-ng`; says so and exits otherwise).
//! Loopback only; it ends by itself (SIPp's `-timeout`).

use std::collections::HashMap;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use plivo_flow::media::rtp::RtpPacket;

/// Concurrent calls (the issue's target: one core holds ≥ 500 with < 1 % late packets).
const CALLS: u32 = 500;
/// New calls per second while ramping up.
const RATE: u32 = 100;
/// How long each call lasts, ms: the ramp, then the measured window, then the BYEs.
const HOLD_MS: u64 = 15_000;
/// A packet is late when it arrives more than this after its place in its stream (first
/// packet's arrival + 20 ms × its sequence offset): a one-packet jitter buffer. (A late first
/// packet moves the stream's whole schedule; the window starts a second after the ramp, so
/// every stream has run a while by then.)
const LATE: Duration = Duration::from_millis(20);

/// A child process killed when dropped.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have(program: &str) -> bool {
    Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port()).expect("a free port")
}

/// utime + stime of `pid`, in seconds (`/proc/PID/stat`, clock ticks of 100 Hz).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // After the command: state is field 0, utime 11, stime 12.
    (tick(11) + tick(12)) / 100.0
}

#[derive(Default)]
struct Stream {
    first: Option<(Instant, u16)>,
    packets: u64,
    late: u64,
    /// Sequence offsets (from the first packet) of the first and last packet in the window.
    window_seq: Option<(u32, u32)>,
}

#[derive(Default)]
struct Sink {
    streams: HashMap<u32, Stream>,
    /// Each stream's first packet by its source port (the RTP port of our SDP answer), as
    /// seconds since the epoch (to set beside SIPp's message trace).
    first_by_port: HashMap<u16, f64>,
}

fn epoch_seconds() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// `YYYY-MM-DD HH:MM:SS.micros` (SIPp's trace stamp, UTC: SIPp runs with `TZ=UTC`) as
/// seconds since the epoch (days from the civil date, Howard Hinnant's algorithm).
fn stamp_seconds(date: &str, time: &str) -> Option<f64> {
    let mut d = date.split('-').map(|v| v.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':');
    let (h, min, sec) =
        (t.next()?.parse::<f64>().ok()?, t.next()?.parse::<f64>().ok()?, t.next()?.parse::<f64>().ok()?);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 * 86_400.0 + h * 3_600.0 + min * 60.0 + sec)
}

/// SIPp's message trace (`-trace_msg`): for each Call-ID, when its first INVITE was sent and
/// the audio port of the 200 OK's SDP. A message starts with a line of dashes and its
/// stamp.
fn invites_and_ports(trace: &str) -> HashMap<String, (f64, Option<u16>)> {
    let mut calls: HashMap<String, (f64, Option<u16>)> = HashMap::new();
    for message in trace.split("-----------------------------------------------").skip(1) {
        let mut lines = message.lines();
        let stamp: Vec<&str> = lines.next().map(|l| l.split_whitespace().collect()).unwrap_or_default();
        let Some(at) = stamp.get(..2).and_then(|s| stamp_seconds(s.first()?, s.get(1)?)) else { continue };
        let text: Vec<&str> = lines.collect();
        let header = |name: &str| text.iter().find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_owned()));
        let Some(call_id) = header("Call-ID:") else { continue };
        let sent = text.first().is_some_and(|l| l.contains("message sent"));
        let first_line = text.iter().map(|l| l.trim()).find(|l| !l.is_empty() && !l.contains("message"));
        if sent && first_line.is_some_and(|l| l.starts_with("INVITE ")) {
            calls.entry(call_id).or_insert((at, None));
        } else if !sent && first_line.is_some_and(|l| l.starts_with("SIP/2.0 200")) {
            let port = header("m=audio").and_then(|v| v.split_whitespace().next()?.parse().ok());
            if let Some(c) = calls.get_mut(&call_id) {
                c.1 = c.1.or(port);
            }
        }
    }
    calls
}

/// `plivo_flow_webhook_seconds` for documents (the answer URL here) from `GET /metrics` at
/// `addr`: (mean ms, count).
fn document_fetch_ms(addr: std::net::SocketAddr) -> Option<(f64, f64)> {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    tcp.write_all(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n").ok()?;
    let mut page = String::new();
    tcp.read_to_string(&mut page).ok()?;
    let value = |key: &str| page.lines().find_map(|l| l.strip_prefix(key)?.trim().parse::<f64>().ok());
    let sum = value(r#"plivo_flow_webhook_seconds_sum{kind="document"}"#)?;
    let count = value(r#"plivo_flow_webhook_seconds_count{kind="document"}"#)?;
    Some((sum * 1000.0 / count.max(1.0), count))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if !have("sipp") || !have("espeak-ng") {
        eprintln!("sip_load: skipped (needs sipp from sip-tester and espeak-ng)");
        return;
    }
    // The app: every call speaks for its whole length.
    let app_port = {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind app");
                tx.send(listener.local_addr().expect("addr").port()).expect("send");
                let xml = r#"<Response><Speak loop="0">Thank you for calling. All our agents are busy. Please stay on the line.</Speak></Response>"#;
                let router = axum::Router::new().fallback(move || async move { xml });
                let _ = axum::serve(listener, router).await;
            });
        });
        rx.recv().expect("app port")
    };
    let (sip_port, http_port) = (free_port(), free_port());
    let http: std::net::SocketAddr = format!("127.0.0.1:{http_port}").parse().expect("addr");
    let serve = Command::new(env!("CARGO_BIN_EXE_plivo-flow"))
        .args(["serve", "--sip", &format!("127.0.0.1:{sip_port}"), "--listen", &http.to_string()])
        .args(["--answer-url", &format!("http://127.0.0.1:{app_port}/answer")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("plivo-flow serve --sip starts");
    // Killed however this ends (a panic included): no stray server is left behind.
    let serve = Killed(serve);
    // SIPp retransmits an INVITE that finds nobody yet, so this is a head start, not a race.
    std::thread::sleep(Duration::from_millis(500));

    // The measuring end must not be what loses packets: a 4 MiB receive buffer (the kernel's
    // usual `rmem_max`) holds about a second of all the calls' packets.
    let sink = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).expect("socket");
    let _ = sink.set_recv_buffer_size(4 << 20);
    sink.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().expect("addr").into()).expect("bind sink");
    let sink: UdpSocket = sink.into();
    let sink_port = sink.local_addr().expect("addr").port();
    sink.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let state = Arc::new(Mutex::new(Sink::default()));
    let window = Arc::new(Mutex::new(None::<(Instant, Instant)>));
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (state, window, done) = (state.clone(), window.clone(), done.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !done.load(Ordering::Relaxed) {
                let Ok((n, from)) = sink.recv_from(&mut buf) else { continue };
                let now = Instant::now();
                let Some(p) = buf.get(..n).and_then(|d| RtpPacket::parse(d).ok()) else { continue };
                let counting = window.lock().expect("lock").is_some_and(|(a, b)| now >= a && now < b);
                let mut s = state.lock().expect("lock");
                s.first_by_port.entry(from.port()).or_insert_with(epoch_seconds);
                let st = s.streams.entry(p.header.ssrc).or_default();
                let (t0, seq0) = *st.first.get_or_insert((now, p.header.sequence));
                let offset = u32::from(p.header.sequence.wrapping_sub(seq0));
                let due = t0 + Duration::from_millis(20) * offset;
                if counting {
                    let (lo, hi) = st.window_seq.get_or_insert((offset, offset));
                    *lo = (*lo).min(offset);
                    *hi = (*hi).max(offset);
                    st.packets += 1;
                    if now > due + LATE {
                        st.late += 1;
                    }
                }
            }
        })
    };

    let dir = std::env::temp_dir().join(format!("plivo-flow-sip-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let scenario = include_str!("../tests/sip/load_caller.xml")
        .replace("SINK_PORT", &sink_port.to_string())
        .replace("HOLD_MS", &HOLD_MS.to_string());
    std::fs::write(dir.join("load.xml"), scenario).expect("scenario");
    let started = Instant::now();
    let ramp = Duration::from_millis(u64::from(CALLS) * 1000 / u64::from(RATE));
    let from = started + ramp + Duration::from_secs(1);
    let to = started + Duration::from_millis(HOLD_MS) - Duration::from_millis(500);
    *window.lock().expect("lock") = Some((from, to));
    let mut sipp = Command::new("sipp")
        .args(["-nostdin", "-sf", "load.xml", "-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .args(["-p", &free_port().to_string(), "-mp", &free_port().to_string()])
        .args(["-r", &RATE.to_string(), "-l", &CALLS.to_string(), "-m", &CALLS.to_string()])
        .args(["-timeout", "60s", "-trace_rtt", "-rtt_freq", "1", "-trace_msg"])
        .arg(format!("127.0.0.1:{sip_port}"))
        .current_dir(&dir)
        .env("TZ", "UTC")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("SIPp starts");
    let wait = from.saturating_duration_since(Instant::now());
    std::thread::sleep(wait);
    let cpu_from = cpu_seconds(serve.0.id());
    std::thread::sleep(to.saturating_duration_since(Instant::now()));
    let cpu = cpu_seconds(serve.0.id()) - cpu_from;
    let seconds = (to - from).as_secs_f64();
    let fetch = document_fetch_ms(http);
    let status = sipp.wait().expect("SIPp ends");
    done.store(true, Ordering::Relaxed);
    let _ = reader.join();
    drop(serve);
    if !status.success() {
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!("sip_load: SIPp's calls failed ({status}); no figures");
        std::process::exit(1);
    }

    // SIPp's per-call response times: INVITE sent → 200 OK received (`rtd`), ms.
    let mut setup_ms = Vec::new();
    let mut invites = HashMap::new();
    for entry in std::fs::read_dir(&dir).expect("dir").flatten() {
        if entry.file_name().to_string_lossy().ends_with("_messages.log") {
            invites.extend(invites_and_ports(&std::fs::read_to_string(entry.path()).unwrap_or_default()));
        }
        if entry.file_name().to_string_lossy().ends_with("_rtt.csv") {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            for line in text.lines().skip(1) {
                // `Date_ms;response_time_ms;rtd_no`.
                if let Some(ms) = line.split(';').nth(1).and_then(|v| v.trim().parse::<f64>().ok()) {
                    setup_ms.push(ms);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    setup_ms.sort_by(f64::total_cmp);
    let s = state.lock().expect("lock");
    let streams = s.streams.values().filter(|st| st.packets > 0).count();
    let packets: u64 = s.streams.values().map(|st| st.packets).sum();
    let late: u64 = s.streams.values().map(|st| st.late).sum();
    // Packets sent in the window (by their sequence numbers) that never arrived.
    let sent: u64 = s.streams.values().filter_map(|st| st.window_seq).map(|(lo, hi)| u64::from(hi - lo + 1)).sum();
    let lost_pct = if sent == 0 { f64::NAN } else { sent.saturating_sub(packets) as f64 * 100.0 / sent as f64 };
    let late_pct = if packets == 0 { f64::NAN } else { late as f64 * 100.0 / packets as f64 };
    let expected = seconds * 50.0 * f64::from(CALLS);
    let median = setup_ms.get(setup_ms.len() / 2).copied().unwrap_or(f64::NAN);
    let p99 = setup_ms.get(setup_ms.len() * 99 / 100).copied().unwrap_or(f64::NAN);
    // INVITE sent (SIPp's clock) → the first RTP packet of its answer's port at the sink.
    let mut first_rtp_ms: Vec<f64> =
        invites.values().filter_map(|(at, port)| Some((s.first_by_port.get(&(*port)?)? - at) * 1000.0)).collect();
    first_rtp_ms.sort_by(f64::total_cmp);
    let rtp_median = first_rtp_ms.get(first_rtp_ms.len() / 2).copied().unwrap_or(f64::NAN);
    let rtp_p99 = first_rtp_ms.get(first_rtp_ms.len() * 99 / 100).copied().unwrap_or(f64::NAN);
    let (fetch_ms, fetches) = fetch.unwrap_or((f64::NAN, 0.0));
    println!("sip_load: {streams} streams in the window of {seconds:.1} s");
    println!("figure: sip_calls {CALLS}");
    println!("figure: sip_streams_measured {streams}");
    println!("figure: sip_packets {packets}");
    println!("figure: sip_packets_expected {expected:.0}");
    println!("figure: sip_late_pct {late_pct:.3}");
    println!("figure: sip_packets_sent_in_window {sent}");
    println!("figure: sip_lost_pct {lost_pct:.3}");
    println!("figure: sip_cpu_cores {:.3}", cpu / seconds);
    println!("figure: sip_cpu_per_call_pct {:.4}", cpu / seconds * 100.0 / f64::from(CALLS));
    println!("figure: sip_setup_ms_median {median:.1}");
    println!("figure: sip_setup_ms_p99 {p99:.1}");
    println!("figure: sip_first_rtp_calls {}", first_rtp_ms.len());
    println!("figure: sip_first_rtp_ms_median {rtp_median:.1}");
    println!("figure: sip_first_rtp_ms_p99 {rtp_p99:.1}");
    println!("figure: sip_answer_fetch_ms_mean {fetch_ms:.2}");
    println!("figure: sip_answer_fetches {fetches:.0}");
}
