//! Growth curves: time and memory per call against the number of calls, so a reader sees at a
//! glance whether the cost of one call depends on how many there are (it must not).
//!
//! - `run`: a `Simulation` of N calls, 10 ms apart, each answered with
//!   `<Response><Speak>hi</Speak></Response>` (what `plivo-flow run` does with such a
//!   scenario); wall time per call, and peak heap per call.
//! - `engine`: N calls started through `Engine` at once, all live together (each speaking),
//!   then each one's speech finished (it hangs up, 4010) and the call removed; time per call,
//!   and heap per live call at the peak.
//! - `serve`: `plivo-flow serve --speed 0` in process; N calls set up through `POST /sim/Call/`
//!   (8 concurrent clients) and parked in rooms of 20 (a room's 20 calls are answered the same
//!   body, so they share one parsed document); call set-ups per second, and resident memory
//!   (RSS) per live call. Then the calls are ended through the API
//!   (`DELETE Conference/`) and the RSS per ended call (the server's history) is printed.
//!
//! Prints `figure: growth_<series>_<what>_<N> VALUE` lines for `benches/run.sh`, and draws the
//! curves into `benches/growth.svg` (plotters). `cargo bench --bench growth`; set
//! `GROWTH_MAX=10000` for a quick run, and `GROWTH_SERIES=serve` (a comma-separated list of
//! `run`, `engine`, `serve`, `hostile`; an unknown name is an error) to run only some series; the
//! chart is drawn only when `run`, `engine` and `serve` all ran (`hostile` is not charted).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use plivo_flow::engine::{CallSetup, Command, Engine, EngineConfig, EngineOutput, FetchReply, Input, Output};
use plivo_flow::server::{self, ServerConfig};
use plivo_flow::sim::Simulation;
use plivo_flow::xml;
use plotters::prelude::*;

/// Counts live heap bytes and their peak.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

fn grow(by: isize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        grow(layout.size() as isize);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        grow(new_size as isize - layout.size() as isize);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Resets the peak to the current live bytes; returns the current live bytes.
fn reset_peak() -> isize {
    let now = LIVE.load(Ordering::Relaxed);
    PEAK.store(now, Ordering::Relaxed);
    now
}

/// Resident set size of this process in bytes (Linux `/proc/self/statm`).
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// One measured point.
#[derive(Debug, Clone, Copy)]
struct Point {
    calls: usize,
    ns_per_call: f64,
    bytes_per_call: f64,
}

const SPEAK: &str = "<Response><Speak>hi</Speak></Response>";

fn run_scenario(n: usize) -> Point {
    let base = reset_peak();
    let start = Instant::now();
    let mut sim = Simulation::new();
    sim.serve("https://app.example/answer", SPEAK);
    for i in 0..n {
        let name = format!("c{i}");
        let setup = sim.setup(&name, "https://app.example/answer", plivo_flow::engine::Direction::Inbound);
        sim.start_call_with(Duration::from_millis(10 * i as u64), &name, setup);
    }
    sim.run();
    let elapsed = start.elapsed();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    let ended = sim.transcript().iter().filter(|l| l.text.starts_with("hung up")).count();
    assert_eq!(ended, n, "every call ends");
    drop(sim);
    Point { calls: n, ns_per_call: elapsed.as_nanos() as f64 / n as f64, bytes_per_call: peak as f64 / n as f64 }
}

fn run_engine(n: usize) -> Point {
    let doc = Arc::new(xml::parse(SPEAK).into_result().expect("valid"));
    let ids: Vec<String> = (0..n).map(|i| format!("{i:08x}-0000-4000-8000-000000000000")).collect();
    let base = reset_peak();
    let start = Instant::now();
    let mut engine = Engine::new(EngineConfig::default());
    let t = Duration::ZERO;
    let mut media = Vec::with_capacity(n);
    let mut pending = Vec::new();
    for id in &ids {
        let setup = CallSetup::inbound(id.as_str(), "+14155550100", "+14155550199", "https://app.example/answer");
        let call = engine.start_call(t, setup).expect("start");
        while let Some(out) = engine.poll_output() {
            if let EngineOutput::Call { output: Output::Request(req), .. } = out {
                pending.push(req.id);
            }
        }
        for request in pending.drain(..) {
            let reply = FetchReply::Document(doc.clone());
            engine.handle_input(t, &call, Input::Fetched { request, reply }).expect("fetched");
        }
        while let Some(out) = engine.poll_output() {
            if let EngineOutput::Call { output: Output::Command(Command::Speak { media: m, .. }), .. } = out {
                media.push((call.clone(), m));
            }
        }
    }
    let live = LIVE.load(Ordering::Relaxed) - base;
    assert_eq!(media.len(), n, "every call speaks");
    for (call, m) in media {
        engine.handle_input(Duration::from_secs(1), &call, Input::MediaFinished(m)).expect("finished");
        while engine.poll_output().is_some() {}
        engine.remove_call(&call);
    }
    let elapsed = start.elapsed();
    assert_eq!(engine.calls().count(), 0, "every call ended and was removed");
    Point { calls: n, ns_per_call: elapsed.as_nanos() as f64 / n as f64, bytes_per_call: live as f64 / n as f64 }
}

const ID: &str = "MAGROWTHXXXXXXXXXXXX";
const TOKEN: &str = "growth-token";
const CLIENTS: usize = 8;

/// The server both `serve` series start: loopback, port 0, instant media, a fixed seed.
fn bench_server() -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        auth_id: ID.to_owned(),
        auth_token: TOKEN.to_owned(),
        speed: 0.0,
        seed: 7,
        ..ServerConfig::default()
    }
}

/// Sets up `n` calls through `POST /sim/Call/`; returns the wall time.
async fn set_up(client: &reqwest::Client, sim_url: &str, app: &str, from: usize, n: usize) -> Duration {
    let next = Arc::new(AtomicUsize::new(from));
    let end = from + n;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (client, sim_url, app, next) = (client.clone(), sim_url.to_owned(), app.to_owned(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    break;
                }
                let body = [
                    ("from", format!("+1555{i:07}")),
                    ("to", "+15559990000".to_owned()),
                    ("answer_url", format!("{app}/answer/{}", i / 20)),
                ];
                let r = client.post(&sim_url).basic_auth(ID, Some(TOKEN)).form(&body).send().await.expect("call");
                assert_eq!(r.status(), StatusCode::CREATED, "call {i} set up");
            }
        }));
    }
    for t in tasks {
        t.await.expect("client");
    }
    start.elapsed()
}

/// Live members in all rooms, from `GET Conference/` and each room.
async fn members(client: &reqwest::Client, api: &str) -> usize {
    let r = client.get(format!("{api}/Conference/")).basic_auth(ID, Some(TOKEN)).send().await.expect("list");
    let v: serde_json::Value = r.json().await.unwrap_or_default();
    let rooms: Vec<String> = v["conferences"]
        .as_array()
        .map(|a| a.iter().filter_map(|r| r.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let mut total = 0;
    for room in rooms {
        let r = client.get(format!("{api}/Conference/{room}/")).basic_auth(ID, Some(TOKEN)).send().await.expect("room");
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        total += v["members"].as_array().map_or(0, Vec::len);
    }
    total
}

/// Points of the `serve` series: set-up time per call (ns) and RSS per live call; plus the
/// RSS per ended call and the set-up rate with 10,000 live calls.
fn run_serve(sizes: &[usize]) -> (Vec<Point>, Option<f64>, Option<f64>) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let app = Router::new().route(
            "/answer/{room}",
            post(|axum::extract::Path(room): axum::extract::Path<u32>| async move {
                format!("<Response><Conference>Growth-{room}</Conference></Response>")
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let app_addr = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::Client::builder().pool_max_idle_per_host(CLIENTS).build().expect("client");

        let mut points = Vec::new();
        let mut ended_rss = None;
        let mut rate_at_10k = None;
        for &n in sizes {
            // Above the default cap of 10,000 live calls: this run parks 12,020.
            let config = ServerConfig { max_calls: 20_000, ..bench_server() };
            let running = server::start(config).await.expect("server");
            let sim_url = format!("http://{}/sim/Call/", running.addr);
            let api = format!("http://{}/v1/Account/{ID}", running.addr);
            // Warm up the connections and the allocator.
            set_up(&client, &sim_url, &app_addr, 0, 20).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            let before = rss().unwrap_or(0);
            let heap_before = LIVE.load(Ordering::Relaxed);
            let took = set_up(&client, &sim_url, &app_addr, 20, n).await;
            let mut live = 0;
            for _ in 0..600 {
                live = members(&client, &api).await;
                if live >= n + 20 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert!(live >= n + 20, "{live} of {} calls in their rooms", n + 20);
            let after = rss().unwrap_or(0);
            // The live heap beside the RSS: what the difference leaves is the allocator's. Signed
            // (`isize`), so a heap that shrank shows as negative rather than wrapping.
            let heap = LIVE.load(Ordering::Relaxed).saturating_sub(heap_before);
            println!("figure: growth_serve_heap_per_call_{n} {:.0}", heap as f64 / n as f64);
            points.push(Point {
                calls: n,
                ns_per_call: took.as_nanos() as f64 / n as f64,
                bytes_per_call: after.saturating_sub(before) as f64 / n as f64,
            });
            if n == 10_000 {
                // Set-ups per second while 10,000 calls are live.
                let more = set_up(&client, &sim_url, &app_addr, 20 + n, 2_000).await;
                rate_at_10k = Some(2_000.0 / more.as_secs_f64());
                // End every call; what stays is the history of ended calls.
                let r = client.delete(format!("{api}/Conference/")).basic_auth(ID, Some(TOKEN)).send().await;
                assert!(r.is_ok_and(|r| r.status() == StatusCode::NO_CONTENT));
                for _ in 0..600 {
                    if members(&client, &api).await == 0 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                let ended = rss().unwrap_or(0);
                ended_rss = Some(ended.saturating_sub(before) as f64 / (n + 2_000) as f64);
            }
            running.stop().await.expect("server stopped");
        }
        (points, ended_rss, rate_at_10k)
    })
}

/// Peak RSS growth of `serve` over idle while it handles one hostile answer document:
/// `<Response>`, 4,000 unknown `<Foo/>` elements on one line, `</Response>` (issue 9's
/// reproduction; it once cost ~450 MB). Sampled every 2 ms until the call has ended.
fn run_hostile() -> Option<u64> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let hostile = format!("<Response>{}</Response>", "<Foo/>".repeat(4000));
        let app = Router::new().route("/answer", post(move || async move { hostile.clone() }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let app_addr = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let config = bench_server();
        let running = server::start(config).await.expect("server");
        let client = reqwest::Client::new();
        let api = format!("http://{}/v1/Account/{ID}", running.addr);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let idle = rss()?;
        let body = [
            ("from", "+15550001".to_owned()),
            ("to", "+15559990000".to_owned()),
            ("answer_url", format!("{app_addr}/answer")),
        ];
        let r = client
            .post(format!("http://{}/sim/Call/", running.addr))
            .basic_auth(ID, Some(TOKEN))
            .form(&body)
            .send()
            .await;
        assert!(r.is_ok_and(|r| r.status() == StatusCode::CREATED));
        let mut peak = idle;
        for _ in 0..1500 {
            peak = peak.max(rss()?);
            let live = client.get(format!("{api}/Call/?status=live")).basic_auth(ID, Some(TOKEN)).send().await;
            let v: serde_json::Value = match live {
                Ok(r) => r.json().await.unwrap_or_default(),
                Err(_) => serde_json::Value::Null,
            };
            if v["calls"].as_array().is_some_and(Vec::is_empty) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        peak = peak.max(rss()?);
        running.stop().await.expect("server stopped");
        Some(peak.saturating_sub(idle))
    })
}

fn chart(path: &str, series: &[(&str, &[Point])]) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (960, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(480);
    let max_n = series.iter().flat_map(|(_, p)| p.iter().map(|p| p.calls)).max().unwrap_or(1) as f64;
    let min_n = series.iter().flat_map(|(_, p)| p.iter().map(|p| p.calls)).min().unwrap_or(1) as f64;
    let colors = [RED, BLUE, GREEN, MAGENTA];
    for (area, title, pick, unit) in
        [(&left, "time per call", 0usize, "µs per call"), (&right, "memory per call", 1usize, "bytes per call")]
    {
        let value = |p: &Point| if pick == 0 { p.ns_per_call / 1000.0 } else { p.bytes_per_call };
        let max_v = series.iter().flat_map(|(_, p)| p.iter().map(value)).fold(1.0f64, f64::max) * 2.0;
        let min_v = series.iter().flat_map(|(_, p)| p.iter().map(value)).fold(f64::INFINITY, f64::min).max(0.01) / 2.0;
        let mut c = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d((min_n * 0.8..max_n * 1.25).log_scale(), (min_v..max_v).log_scale())?;
        c.configure_mesh()
            .x_desc("calls")
            .y_desc(unit)
            .x_label_formatter(&|x| format!("{}", *x as u64))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .light_line_style(WHITE)
            .draw()?;
        for (i, (name, points)) in series.iter().enumerate() {
            let color = colors[i % colors.len()];
            let data: Vec<(f64, f64)> = points.iter().map(|p| (p.calls as f64, value(p))).collect();
            c.draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
            c.draw_series(data.into_iter().map(|xy| Circle::new(xy, 3, color.filled())))?;
        }
        c.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;
    }
    root.present()?;
    Ok(())
}

fn print(series: &str, points: &[Point]) {
    for p in points {
        println!("figure: growth_{series}_ns_per_call_{} {:.0}", p.calls, p.ns_per_call);
        println!("figure: growth_{series}_bytes_per_call_{} {:.0}", p.calls, p.bytes_per_call);
    }
}

/// The series `GROWTH_SERIES` may name.
const SERIES: [&str; 4] = ["run", "engine", "serve", "hostile"];

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the command line.
    let max: usize = std::env::var("GROWTH_MAX").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let only = std::env::var("GROWTH_SERIES").ok();
    if let Some(o) = only.as_deref()
        && let Some(bad) = o.split(',').map(str::trim).find(|s| !SERIES.contains(s))
    {
        eprintln!("GROWTH_SERIES: unknown series {bad:?}; the series are {}", SERIES.join(", "));
        std::process::exit(2);
    }
    let wanted = |series: &str| only.as_deref().is_none_or(|o| o.split(',').any(|s| s.trim() == series));
    let sizes: Vec<usize> = [1_000, 10_000, 100_000].into_iter().filter(|&n| n <= max).collect();
    let mut run = Vec::new();
    if wanted("run") {
        // Warm up the code paths once.
        let _ = run_scenario(100);
        run = sizes.iter().map(|&n| run_scenario(n)).collect();
        print("run", &run);
    }
    let mut engine = Vec::new();
    if wanted("engine") {
        let _ = run_engine(100);
        engine = sizes.iter().map(|&n| run_engine(n)).collect();
        print("engine", &engine);
    }
    let mut serve = Vec::new();
    if wanted("serve") {
        let serve_sizes: Vec<usize> = sizes.iter().copied().filter(|&n| n <= 10_000).collect();
        let (points, ended, rate) = run_serve(&serve_sizes);
        serve = points;
        print("serve", &serve);
        if let Some(b) = ended {
            println!("figure: growth_serve_rss_per_ended_call {b:.0}");
        }
        if let Some(r) = rate {
            println!("figure: growth_serve_setups_per_s_at_10k_live {r:.0}");
        }
    }
    if wanted("hostile")
        && let Some(b) = run_hostile()
    {
        println!("figure: serve_hostile_document_peak_rss {b}");
    }
    if !["run", "engine", "serve"].into_iter().all(wanted) {
        return;
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/growth.svg");
    match chart(path, &[("run (scenario)", &run), ("engine", &engine), ("serve (set-up; RSS)", &serve)]) {
        Ok(()) => println!("chart: {path}"),
        Err(e) => eprintln!("chart not drawn: {e}"),
    }
}
