//! The engine's hot paths, timed with the system allocator: the per-verb step loop, and the
//! conference kick of `all` for N members. (Allocations and memory: `benches/memory.rs`.)
//!
//! `cargo bench --bench engine`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use plivo_flow::engine::room::{Conferences, Direction, JoinRequest, MemberInfo, MemberTarget, RoomKind};
use plivo_flow::engine::{Call, CallConfig, CallId, CallSetup, Command, FetchReply, Input, MediaId, Output};
use plivo_flow::xml::{self, Document};

const STEPS: usize = 1000;

/// 1,000 verbs alternating Speak and Play: every step is one media completion.
fn long_document() -> Arc<Document> {
    let mut src = String::from("<Response>");
    for i in 0..STEPS {
        if i % 2 == 0 {
            src.push_str("<Speak>Step</Speak>");
        } else {
            src.push_str("<Play>https://cdn.example/a.mp3</Play>");
        }
    }
    src.push_str("</Response>");
    let parsed = xml::parse(&src);
    assert!(!parsed.has_errors());
    Arc::new(parsed.document)
}

/// A call that has loaded `doc` and is playing its first verb; returns it and the media id.
fn loaded_call(doc: &Arc<Document>) -> (Call, MediaId) {
    let mut call = Call::new(
        CallSetup::inbound("bench-call", "+15550001", "+15550002", "https://app.example/answer"),
        CallConfig::default(),
        Duration::ZERO,
    );
    call.start(Duration::ZERO);
    let Some(Output::Request(req)) = call.poll_output() else { panic!("answer request") };
    call.handle_input(Duration::ZERO, Input::Fetched { request: req.id, reply: FetchReply::Document(doc.clone()) });
    let media = drain(&mut call).expect("first media");
    (call, media)
}

/// Drains outputs; returns the media id of the speech or playback started.
fn drain(call: &mut Call) -> Option<MediaId> {
    let mut media = None;
    while let Some(out) = call.poll_output() {
        if let Output::Command(Command::Speak { media: m, .. } | Command::Play { media: m, .. }) = out {
            media = Some(m);
        }
    }
    media
}

/// Runs `n` steps; returns the last media id (None when the document ended).
fn steps(call: &mut Call, mut media: MediaId, n: usize, t: &mut u64) -> Option<MediaId> {
    for _ in 0..n {
        *t += 1;
        call.handle_input(Duration::from_millis(*t), Input::MediaFinished(media));
        media = drain(call)?;
    }
    Some(media)
}

fn bench_steps(c: &mut Criterion) {
    let doc = long_document();

    let mut g = c.benchmark_group("step");
    g.throughput(Throughput::Elements(STEPS as u64 - 1));
    g.bench_function("1000-verb document", |b| {
        b.iter_batched(
            || loaded_call(&doc),
            |(mut call, media)| {
                let mut t = 0;
                black_box(steps(&mut call, media, STEPS - 1, &mut t));
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn member(i: usize) -> MemberInfo {
    MemberInfo {
        call: CallId::from(format!("call-{i:08}")),
        from: "+15550001".to_owned(),
        to: "+15550002".to_owned(),
        caller_name: String::new(),
        direction: Direction::Inbound,
    }
}

fn join(room: &str) -> JoinRequest {
    JoinRequest {
        account: "MABENCH".to_owned(),
        room: room.to_owned(),
        kind: RoomKind::Conference,
        muted: false,
        start_on_enter: true,
        end_on_exit: false,
        stay_alone: true,
        max_members: u32::MAX,
        time_limit: None,
        record: None,
    }
}

fn bench_kick(c: &mut Criterion) {
    let mut g = c.benchmark_group("kick all");
    for n in [10usize, 1_000, 10_000] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("{n} members"), |b| {
            b.iter_batched(
                || {
                    let mut rooms = Conferences::new(Default::default());
                    for i in 0..n {
                        rooms.join(Duration::ZERO, join("Bench"), member(i)).expect("join");
                    }
                    while rooms.poll_event().is_some() {}
                    rooms
                },
                |mut rooms| {
                    let kicked =
                        rooms.kick(Duration::from_secs(1), "MABENCH", "Bench", &MemberTarget::All).expect("kick");
                    let mut events = 0;
                    while rooms.poll_event().is_some() {
                        events += 1;
                    }
                    black_box((kicked, events, rooms))
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn all(c: &mut Criterion) {
    bench_steps(c);
    bench_kick(c);
}

criterion_group!(benches, all);
criterion_main!(benches);
