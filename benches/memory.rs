//! Heap figures, measured with a counting global allocator (so kept apart from the timed
//! benches): allocations per engine step in steady state, and heap bytes per live call parked
//! in a conference. Prints `figure: NAME VALUE` lines that `benches/run.sh` collects.
//!
//! `cargo bench --bench memory`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::time::Duration;

mod common;
use common::{loaded_call, long_document, steps};
use plivo_flow::engine::{AccountId, CallSetup, Engine, EngineConfig, EngineOutput, FetchReply, Input, Output};
use plivo_flow::xml::{self, Document};

/// Counts allocations and live heap bytes.
struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
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
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_per_step() {
    let doc = long_document();
    // Allocations per step in steady state: steps 100..900 of a call.
    let (mut call, media) = loaded_call(&doc);
    let mut t = 0;
    let media = steps(&mut call, media, 100, &mut t).expect("warm");
    let before = ALLOCS.load(Ordering::Relaxed);
    let _ = steps(&mut call, media, 800, &mut t).expect("steady");
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    println!("figure: step_allocations_per_step {:.3}", allocs as f64 / 800.0);
}

/// Heap bytes per live call parked in a conference (100,000 calls, 20 per room), beyond the
/// one shared document; measured through the whole `Engine` (call state and membership).
fn memory_per_call() {
    const CALLS: usize = 100_000;
    let doc = Arc::new(
        xml::parse(r#"<Response><Conference maxMembers="20" callbackUrl="https://app.example/conference">Room</Conference><Speak>Goodbye</Speak></Response>"#)
            .into_result()
            .expect("valid"),
    );
    // The documents are shared (one per room of 20, as a cache would hold them) and are made
    // before measuring: only what each call adds is counted.
    let room_docs: Vec<Arc<Document>> = (0..CALLS / 20)
        .map(|r| {
            let verbs = doc
                .verbs
                .iter()
                .map(|v| match v {
                    xml::Verb::Conference(c) => {
                        let mut c = c.clone();
                        c.room = format!("Room {r}").into();
                        xml::Verb::Conference(c)
                    }
                    v => v.clone(),
                })
                .collect();
            Arc::new(Document { verbs })
        })
        .collect();
    let mut engine = Engine::new(EngineConfig::default());
    // One account shared by every call, as a `Runtime` (and so `serve`) gives it.
    let account = AccountId::from("MABENCH");
    let base = LIVE.load(Ordering::Relaxed);
    let mut pending = Vec::new();
    for i in 0..CALLS {
        let mut setup = CallSetup::inbound(
            format!("{i:08x}-0000-4000-8000-000000000000"),
            "+14155550100",
            "+14155550199",
            "https://app.example/answer",
        );
        setup.account = account.clone();
        let id = engine.start_call(Duration::ZERO, setup).expect("start");
        while let Some(out) = engine.poll_output() {
            if let EngineOutput::Call { output: Output::Request(req), .. } = out {
                pending.push((id.clone(), req.id));
            }
        }
        for (id, request) in pending.drain(..) {
            let reply = FetchReply::Document(room_docs[i / 20].clone());
            let _ = engine.handle_input(Duration::ZERO, &id, Input::Fetched { request, reply });
            while engine.poll_output().is_some() {}
        }
    }
    let live = LIVE.load(Ordering::Relaxed) - base;
    assert_eq!(engine.rooms().len(), CALLS / 20);
    println!("figure: bytes_per_live_call {:.0}", live as f64 / CALLS as f64);
    black_box(engine);
}

fn main() {
    allocations_per_step();
    memory_per_call();
}
