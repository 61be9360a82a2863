//! The run loop a telephony server writes around plivo-flow's sans-IO [`Engine`]: it owns the
//! clock, the media and the HTTP client; the engine only says what to do next.
//!
//! Here the "media" is a table of pending completions and the "HTTP client" a map of canned
//! documents, so the example runs on its own (`cargo run --example engine_loop`); a real server
//! puts RTP and reqwest in their places and sleeps on a real timer. Two callers join a room,
//! a REST kick (through [`Engine::room_ops`]) ends one member's `<Conference>`, and the call
//! goes on to the next element, as on Plivo.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use plivo_flow::engine::{
    CallEvent, CallId, CallSetup, Command, Engine, EngineConfig, EngineOutput, FetchReply, Input, MediaId, MemberId,
    MemberTarget, Output, Reply,
};

const ACCOUNT: &str = "MAXXXXXXXXXXXXXXXXXX";

/// What the server has to do besides the engine: media that finishes later, and replies to
/// document fetches.
#[derive(Default)]
struct World {
    /// When each running media operation finishes, by (time, call, media).
    media: BTreeMap<(Duration, String, MediaId), ()>,
    /// Documents by URL (a real server fetches them over HTTP).
    documents: HashMap<String, String>,
    /// Replies ready to hand back: (call, request, reply).
    replies: Vec<(CallId, plivo_flow::engine::RequestId, FetchReply)>,
    log: Vec<String>,
}

impl World {
    /// Carries out everything the engine asked for since the last call.
    fn drain(&mut self, engine: &mut Engine, now: Duration) {
        while let Some(out) = engine.poll_output() {
            match out {
                EngineOutput::Call { call, output: Output::Command(c) } => self.command(now, &call, c),
                EngineOutput::Call { call, output: Output::Request(req) } => {
                    // Notifications (callbacks, hangup_url) are fire-and-forget; document fetches
                    // are answered. A real server sends both with its HTTP client.
                    self.log.push(format!("{:>6?} {call}  {} {}", now, req.method, req.url));
                    if req.reply != Reply::Ignore {
                        let body = self.documents.get(&req.url).cloned();
                        let reply = body.map_or(FetchReply::Failed("404".into()), FetchReply::Body);
                        self.replies.push((call, req.id, reply));
                    }
                }
                EngineOutput::Call { call, output: Output::Event(CallEvent::Ended { cause, .. }) } => {
                    self.log.push(format!("{:>6?} {call}  ended: {cause}", now));
                }
                EngineOutput::Call { .. } => {}
                EngineOutput::Room(ev) => self.log.push(format!("{:>6?} room  {ev:?}", now)),
                EngineOutput::Request(req) => self.log.push(format!("{:>6?} room  {} {}", now, req.method, req.url)),
            }
        }
    }

    fn command(&mut self, now: Duration, call: &CallId, c: Command) {
        // Each media operation reports back with its MediaId when it is done; a stop cancels it.
        let done =
            |media: MediaId, after_ms: u64| ((now + Duration::from_millis(after_ms), call.to_string(), media), ());
        match c {
            Command::Speak { media, .. } => {
                self.log.push(format!("{:>6?} {call}  speaks", now));
                self.media.extend([done(media, 2_000)]);
            }
            Command::Beep { media, .. } => {
                self.media.extend([done(media, 500)]);
            }
            Command::Play { media, .. } | Command::PlaySounds { media, .. } => {
                self.media.extend([done(media, 5_000)]);
            }
            Command::StopMedia(m) => self.media.retain(|(_, c, id), ()| !(c == call.as_str() && *id == m)),
            Command::Answer => self.log.push(format!("{:>6?} {call}  answered", now)),
            // A real server carries out the others too: recordings, dials, streams, tones.
            _ => {}
        }
    }

    /// The earliest time something outside the engine is due.
    fn poll_timeout(&self) -> Option<Duration> {
        self.media.keys().next().map(|(t, _, _)| *t)
    }
}

fn main() {
    let log = run();
    for line in &log {
        println!("{line}");
    }
}

fn run() -> Vec<String> {
    let mut engine = Engine::new(EngineConfig::default());
    let mut world = World::default();
    world.documents.insert(
        "https://app.example/answer".into(),
        r#"<Response>
             <Conference enterSound="beep:1">MyConference</Conference>
             <Speak>Good bye. You have been kicked out of the conference</Speak>
           </Response>"#
            .into(),
    );
    let mut now = Duration::ZERO;
    for (id, from) in [("alice", "+15550001"), ("bob", "+15550002")] {
        let mut setup = CallSetup::inbound(id, from, "+15559990000", "https://app.example/answer");
        setup.account = ACCOUNT.into();
        engine.start_call(now, setup).expect("fresh ids");
    }
    let kick_at = Duration::from_secs(60);
    let mut kicked = false;
    loop {
        world.drain(&mut engine, now);
        // Hand back what came in (here: at once), then carry out what that caused.
        if !world.replies.is_empty() {
            for (call, request, reply) in std::mem::take(&mut world.replies) {
                let _ = engine.handle_input(now, &call, Input::Fetched { request, reply });
            }
            continue;
        }
        // Sleep until the engine's timers, the media or the REST request are due.
        let next =
            [engine.poll_timeout(), world.poll_timeout(), (!kicked).then_some(kick_at)].into_iter().flatten().min();
        let Some(next) = next else { break };
        now = next;
        if !kicked && now >= kick_at {
            // `POST …/Conference/MyConference/Member/1/Kick/`
            let kicked_ids = engine.room_ops(now).kick(ACCOUNT, "MyConference", &MemberTarget::Ids(vec![MemberId(1)]));
            world.log.push(format!("{:>6?} api   kick member 1: {kicked_ids:?}", now));
            kicked = true;
            continue;
        }
        let due: Vec<_> = world
            .media
            .range(..=(now, String::from("\u{10ffff}"), MediaId(u64::MAX)))
            .map(|(k, ())| k.clone())
            .collect();
        for key in due {
            world.media.remove(&key);
            let (_, call, media) = key;
            let _ = engine.handle_input(now, &CallId::from(call.as_str()), Input::MediaFinished(media));
        }
        engine.handle_timeout(now);
    }
    world.log
}

#[test]
fn the_kicked_member_hears_the_goodbye_and_hangs_up_and_the_other_stays() {
    let log = run().join("\n");
    assert!(log.contains("api   kick member 1: Ok([MemberId(1)])"), "{log}");
    let after_kick = &log[log.find("api   kick").expect("kick")..];
    assert!(after_kick.contains("alice  speaks"), "{log}");
    assert!(after_kick.contains("alice  ended: 4010 End Of XML Instructions"), "{log}");
    // bob stays until the room's time limit.
    assert!(!after_kick[..after_kick.find("alice  ended").expect("end")].contains("bob  ended"), "{log}");
}
