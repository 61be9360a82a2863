//! Real-audio media cost per 20 ms tick: a room's N−1 mix, and `AudioMedia` playing speech to
//! many calls at once (the media work of a call, before codecs and sockets).
//!
//! `cargo bench --bench media`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use plivo_flow::engine::{CallId, CallSetup, FetchReply, MediaId};
use plivo_flow::media::mix::{FRAME_SAMPLES, MemberAudio, Mixer, SILENCE};
use plivo_flow::media::{AudioMedia, TICK, Work};
use plivo_flow::runtime::{Runtime, RuntimeConfig};

fn speech(samples: usize) -> Arc<[i16]> {
    (0..samples).map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16).collect::<Vec<_>>().into()
}

fn bench(c: &mut Criterion) {
    // A 50-member room where everyone speaks.
    let mut mixer = Mixer::new();
    let keys: Vec<_> = (0..50).map(|_| mixer.add(MemberAudio::default()).expect("room for 50")).collect();
    let voice = speech(FRAME_SAMPLES);
    let mut done: Vec<MediaId> = Vec::new();
    let mut g = c.benchmark_group("mix");
    g.bench_function("50 members, one tick", |b| {
        b.iter(|| {
            for k in &keys {
                if let Ok(input) = mixer.input_mut(*k) {
                    input.copy_from_slice(&voice);
                }
            }
            mixer.mix(&mut done);
            black_box(mixer.output(keys[0]).map(|f| f[0]).unwrap_or(0))
        })
    });
    g.finish();

    // 500 calls, each speaking a second of synthesised speech over and over (`loop="0"`, so
    // however many ticks criterion runs, every call is speaking): one tick of all of them,
    // frames handed in and taken out as a shell does.
    const CALLS: usize = 500;
    let mut rt = Runtime::with_media(RuntimeConfig::default(), AudioMedia::new());
    let doc = Arc::new(plivo_flow::xml::parse("<Response><Speak loop=\"0\">hello</Speak></Response>").document);
    let mut calls: Vec<CallId> = Vec::new();
    for i in 0..CALLS {
        let setup = CallSetup::inbound(format!("c{i}"), "+15550001", "+15550002", "https://app.example/answer");
        let call = rt.start_call(Duration::ZERO, setup).expect("call starts");
        let (_, req) = rt.poll_request().expect("answer URL");
        rt.deliver(Duration::ZERO, &call, req.id, FetchReply::Document(doc.clone()));
        calls.push(call);
    }
    let second = speech(8000);
    while let Some(w) = rt.media_mut().poll_work() {
        if let Work::Render { call, media, part, .. } = w {
            rt.media_mut().provide_audio(&call, media, part, Some(second.clone()));
        }
    }
    let mut now = Duration::ZERO;
    let mut g = c.benchmark_group("audio media");
    g.bench_function("500 calls speaking, one tick", |b| {
        b.iter(|| {
            now += TICK;
            for call in &calls {
                rt.media_mut().handle_frame(now, call, &SILENCE);
            }
            rt.handle_timeout(now);
            let mut n = 0;
            for call in &calls {
                while let Some(f) = rt.media_mut().poll_heard(call) {
                    n += usize::from(f[0] != 0);
                }
            }
            black_box(n)
        })
    });
    g.finish();
    let live = calls.iter().filter(|c| rt.engine().call(c).is_some_and(|c| !c.is_ended())).count();
    assert_eq!(live, CALLS, "every call was speaking throughout");
}

criterion_group!(benches, bench);
criterion_main!(benches);
