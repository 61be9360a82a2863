//! REST kicks per second through the real server on loopback, beside a bare axum endpoint that
//! only answers 202 (the ceiling), with the same client and concurrency in the same run.
//!
//! There are 128 rooms with one member each; a member's document is 3,000 `<Conference>` verbs
//! naming its room, so a kicked member rejoins at once and every kick is a real one (202).
//! Kick j targets room `Bench-(j mod 128)`, member `all`. Requests go over keep-alive
//! connections from 8 concurrent clients; capacity is 384,000 kicks, and the bench fails if a
//! kick was not answered 202 (a member had run out of verbs: the figure would count 404s).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use plivo_flow::server::{self, ServerConfig};

const ID: &str = "MAXXXXXXXXXXXXXXXXXX";
const TOKEN: &str = "bench-token";
const ROOMS: u32 = 128;
const VERBS: usize = 3000;
const CONCURRENCY: usize = 8;
const BATCH: u32 = 1000;

/// Sends `BATCH` kicks from `CONCURRENCY` clients; `path(j)` is the path of kick j.
async fn load(client: &reqwest::Client, base: &str, next: &Arc<AtomicU32>, accepted: &Arc<AtomicUsize>) -> Duration {
    let start = Instant::now();
    let end = next.load(Ordering::Relaxed) + BATCH;
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, base, next, accepted) = (client.clone(), base.to_owned(), next.clone(), accepted.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let j = next.fetch_add(1, Ordering::Relaxed);
                if j >= end {
                    next.fetch_min(end, Ordering::Relaxed);
                    break;
                }
                let url = format!("{base}/Conference/Bench-{}/Member/all/Kick/", j % ROOMS);
                if let Ok(r) = client.post(url).basic_auth(ID, Some(TOKEN)).send().await
                    && r.status() == StatusCode::ACCEPTED
                {
                    accepted.fetch_add(1, Ordering::Relaxed);
                    let _ = r.bytes().await;
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let (api, bare) = rt.block_on(async {
        // The application: serves the answer document.
        let app = Router::new().route(
            "/answer/{room}",
            post(|axum::extract::Path(room): axum::extract::Path<u32>| async move {
                format!("<Response>{}</Response>", format!("<Conference>Bench-{room}</Conference>").repeat(VERBS))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let app_addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });

        // The ceiling: a bare endpoint that answers 202 with the same JSON.
        let bare = Router::new().route(
            "/v1/Account/{id}/Conference/{room}/Member/{m}/Kick/",
            post(|| async { (StatusCode::ACCEPTED, r#"{"message":"kicked","member_id":"1","api_id":"x"}"#) }),
        );
        let bare = bare.route("/health", get(|| async { "ok" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let bare_addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, bare).await });

        let config = ServerConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            auth_id: ID.to_owned(),
            auth_token: TOKEN.to_owned(),
            speed: 0.0,
            seed: 7,
            ..ServerConfig::default()
        };
        let running = server::start(config).await.expect("server");
        let sim = format!("http://{}/sim/Call/", running.addr);
        let client = reqwest::Client::new();
        for i in 0..ROOMS {
            let body = [
                ("from", format!("+1555{i:07}")),
                ("to", "+15559990000".to_owned()),
                ("answer_url", format!("http://{app_addr}/answer/{i}")),
            ];
            let r = client.post(&sim).basic_auth(ID, Some(TOKEN)).form(&body).send().await.expect("call");
            assert_eq!(r.status(), StatusCode::CREATED);
        }
        let api = format!("http://{}/v1/Account/{ID}", running.addr);
        // Wait until every call is in its room.
        for _ in 0..1000 {
            let r = client.get(format!("{api}/Conference/")).basic_auth(ID, Some(TOKEN)).send().await.expect("list");
            let v: serde_json::Value = r.json().await.unwrap_or_default();
            if v["conferences"].as_array().is_some_and(|m| m.len() == ROOMS as usize) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        std::mem::forget(running);
        (api, format!("http://{bare_addr}/v1/Account/{ID}"))
    });

    let client = reqwest::Client::builder().pool_max_idle_per_host(CONCURRENCY).build().expect("client");
    let mut g = c.benchmark_group("rest kicks");
    g.throughput(Throughput::Elements(u64::from(BATCH)));
    g.sample_size(10);
    let next = Arc::new(AtomicU32::new(1));
    let accepted = Arc::new(AtomicUsize::new(0));
    g.bench_function("plivo-flow server", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += rt.block_on(load(&client, &api, &next, &accepted));
            }
            total
        })
    });
    let sent = next.load(Ordering::Relaxed) - 1;
    let ok = accepted.load(Ordering::Relaxed);
    println!("figure: rest_kicks_accepted {ok} of {sent}");
    assert_eq!(ok, sent as usize, "every kick must be a real one (202): raise ROOMS");
    let next_bare = Arc::new(AtomicU32::new(1));
    let accepted_bare = Arc::new(AtomicUsize::new(0));
    g.bench_function("bare axum 202", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += rt.block_on(load(&client, &bare, &next_bare, &accepted_bare));
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
