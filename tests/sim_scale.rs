//! The simulation's cost per call stays flat as the number of calls grows (issue 14): work is
//! counted ([`Simulation::stats`]), never timed.

use std::time::Duration;

use plivo_flow::engine::{CallSetup, Direction, FetchReply};
use plivo_flow::runtime::{Runtime, RuntimeConfig};
use plivo_flow::sim::Simulation;

/// Steps taken and index entries visited.
#[derive(Debug, Clone, Copy)]
struct Work {
    steps: u64,
    visited: u64,
}

const ANSWER: &str = "https://app.example/answer";
const DOC: &str =
    "<Response><Speak>hi</Speak><Record recordSession=\"true\" redirect=\"false\"/><Wait length=\"1\"/></Response>";

/// `n` calls 10 ms apart, each speaking one line, recording the session and waiting (offline).
fn offline(n: u64) -> Work {
    let mut sim = Simulation::new();
    sim.serve(ANSWER, DOC);
    for i in 0..n {
        let name = format!("c{i}");
        let setup = sim.setup(&name, ANSWER, Direction::Inbound);
        sim.start_call_with(Duration::from_millis(i * 10), &name, setup);
    }
    sim.run();
    let text = sim.transcript_text();
    assert_eq!(text.matches("hung up: 4010").count() as u64, n, "every call ends");
    let stats = sim.stats();
    Work { steps: stats.steps, visited: stats.visited }
}

/// The same traffic as the server drives it: a [`Runtime`] on a clock, calls started now,
/// documents delivered, ended calls forgotten after every advance.
fn live(n: u64) -> Work {
    let mut rt = Runtime::new(RuntimeConfig::default());
    let mut ended = 0;
    let doc = std::sync::Arc::new(plivo_flow::xml::parse(DOC).document);
    for i in 0..n {
        let now = Duration::from_millis(i * 10);
        rt.handle_timeout(now);
        let setup = CallSetup::inbound(format!("c{i}"), "+1555", "+1666", ANSWER);
        rt.start_call(now, setup).expect("start");
        while let Some((call, req)) = rt.poll_request() {
            if let Some(call) = call
                && req.reply == plivo_flow::engine::Reply::Execute
            {
                rt.deliver(now, &call, req.id, FetchReply::Document(doc.clone()));
            }
        }
        rt.take_transcript();
        ended += rt.forget_ended_calls().len() as u64;
    }
    rt.handle_timeout(Duration::from_millis(n * 10) + Duration::from_secs(60));
    while rt.poll_request().is_some() {}
    ended += rt.forget_ended_calls().len() as u64;
    assert_eq!(ended, n, "every call ends and is forgotten");
    assert_eq!(rt.engine().calls().count(), 0);
    Work { steps: rt.steps(), visited: rt.media().visited() }
}

#[track_caller]
fn assert_flat(small: (u64, Work), large: (u64, Work)) {
    let per = |(n, s): (u64, Work)| (s.steps as f64 / n as f64, s.visited as f64 / n as f64);
    let (steps_s, visited_s) = per(small);
    let (steps_l, visited_l) = per(large);
    assert!(visited_s > 0.0, "the counter counts: {small:?}");
    assert!(steps_l <= 2.0 * steps_s, "steps per call grew: {small:?} → {large:?}");
    assert!(visited_l <= 2.0 * visited_s, "index entries visited per call grew: {small:?} → {large:?}");
}

#[test]
fn offline_work_per_call_is_flat_from_1000_to_100000_calls() {
    assert_flat((1000, offline(1000)), (100_000, offline(100_000)));
}

#[test]
fn live_work_per_call_is_flat_from_1000_to_100000_calls() {
    assert_flat((1000, live(1000)), (100_000, live(100_000)));
}
