//! Helpers shared by the engine benches: a long document and a call driven through it.

use std::sync::Arc;
use std::time::Duration;

use plivo_flow::engine::{Call, CallConfig, CallSetup, Command, FetchReply, Input, MediaId, Output};
use plivo_flow::xml::{self, Document};

pub const STEPS: usize = 1000;

/// 1,000 verbs alternating Speak and Play: every step is one media completion.
pub fn long_document() -> Arc<Document> {
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
pub fn loaded_call(doc: &Arc<Document>) -> (Call, MediaId) {
    loaded_call_with(doc, CallConfig::default())
}

/// [`loaded_call`] with `config`.
pub fn loaded_call_with(doc: &Arc<Document>, config: CallConfig) -> (Call, MediaId) {
    let mut call = Call::new(
        CallSetup::inbound("bench-call", "+15550001", "+15550002", "https://app.example/answer"),
        config,
        Duration::ZERO,
    );
    call.start(Duration::ZERO);
    let Some(Output::Request(req)) = call.poll_output() else { panic!("answer request") };
    call.handle_input(Duration::ZERO, Input::Fetched { request: req.id, reply: FetchReply::Document(doc.clone()) });
    let media = drain(&mut call).expect("first media");
    (call, media)
}

/// Drains outputs; returns the media id of the speech or playback started.
pub fn drain(call: &mut Call) -> Option<MediaId> {
    let mut media = None;
    while let Some(out) = call.poll_output() {
        if let Output::Command(Command::Speak { media: m, .. } | Command::Play { media: m, .. }) = out {
            media = Some(m);
        }
    }
    media
}

/// Runs `n` steps; returns the last media id (None when the document ended).
pub fn steps(call: &mut Call, mut media: MediaId, n: usize, t: &mut u64) -> Option<MediaId> {
    for _ in 0..n {
        *t += 1;
        call.handle_input(Duration::from_millis(*t), Input::MediaFinished(media));
        media = drain(call)?;
    }
    Some(media)
}
