//! The engine's hot paths, timed with the system allocator: the per-verb step loop, and the
//! conference kick of `all` for N members. (Allocations and memory: `benches/memory.rs`.)
//!
//! `cargo bench --bench engine`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::{STEPS, loaded_call, loaded_call_with, long_document, steps};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use plivo_flow::engine::{CallConfig, CallId};
use plivo_flow::engine::{Conferences, Direction, JoinRequest, MemberInfo, MemberTarget, RoomKind};

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
    // The same, with the per-verb trace switched off (`CallConfig::verb_events`), as an
    // embedding telephony server would run it.
    g.bench_function("1000-verb document, verb events off", |b| {
        b.iter_batched(
            || loaded_call_with(&doc, CallConfig { verb_events: false, ..CallConfig::default() }),
            |(mut call, media)| {
                let mut t = 0;
                black_box(steps(&mut call, media, STEPS - 1, &mut t));
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// What the members' calls hold, as in an `Engine`: their ids (a kicked call lives on, at
/// its next element, so a kick never frees them) and their own from/to/caller name, shared
/// with their members (`Arc<str>`), so a departure drops reference counts, one call's each.
struct Calls {
    ids: Vec<CallId>,
    texts: Vec<(Arc<str>, Arc<str>, Arc<str>)>,
}

fn calls(n: usize) -> Calls {
    // An empty caller name is one text shared by every call, as `CallSetup` shares it.
    let none: Arc<str> = Arc::from("");
    Calls {
        ids: (0..n).map(|i| CallId::from(format!("call-{i:08}"))).collect(),
        texts: (0..n).map(|i| (Arc::from(format!("+1555{i:07}")), Arc::from("+15550002"), none.clone())).collect(),
    }
}

fn member(call: &CallId, (from, to, caller_name): &(Arc<str>, Arc<str>, Arc<str>)) -> MemberInfo {
    MemberInfo {
        call: call.clone(),
        from: from.clone(),
        to: to.clone(),
        caller_name: caller_name.clone(),
        direction: Direction::Inbound,
    }
}

fn join(room: &str) -> JoinRequest {
    JoinRequest {
        account: "MABENCH".into(),
        room: room.to_owned(),
        kind: RoomKind::Conference,
        muted: false,
        hold: false,
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
                    let texts = calls(n);
                    for (call, texts) in texts.ids.iter().zip(&texts.texts) {
                        rooms.join(Duration::ZERO, join("Bench"), member(call, texts)).expect("join");
                    }
                    while rooms.poll_event().is_some() {}
                    (rooms, texts)
                },
                |(mut rooms, texts)| {
                    let kicked =
                        rooms.kick(Duration::from_secs(1), "MABENCH", "Bench", &MemberTarget::All).expect("kick");
                    let mut events = 0;
                    while rooms.poll_event().is_some() {
                        events += 1;
                    }
                    black_box((kicked, events, rooms, texts))
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
