//! [`AudioMedia`]: the media contract on real audio frames, sans-IO.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use super::Media;

mod bridge;
mod room;
use super::mix::{FRAME_SAMPLES, Frame, MemberAudio, MemberKey, PlayQueue, Recorder, SILENCE, Source};
use crate::engine::{CallId, Command, Input, Listener, MediaId, MemberId, RecordMode, RecordingId, RoomEvent};
use crate::xml::values::{FileFormat, Language, Voice};
use crate::xml::{Dial, Document, Verb};
use room::{Overlay, Room};

/// One tick: the 20 ms of a frame.
pub const TICK: Duration = Duration::from_millis(20);

/// Most frames a call's [`AudioMedia::poll_heard`] queue holds (200 ms): a shell that does not
/// take them loses the oldest ones, counted in [`AudioMedia::frames_dropped`].
pub const MAX_HEARD: usize = 10;

/// Most frames of what a caller said that wait for their ticks (160 ms: a burst of packets
/// after jitter, or two frames out of one 30 ms packet): each tick takes one; beyond, the
/// oldest are dropped, counted in [`AudioMedia::frames_dropped`].
pub const MAX_SAID: usize = 8;

/// Most samples a running recording holds until [`AudioMedia::take_recorded`] takes them
/// (60 s): beyond, the oldest are dropped and counted in [`AudioMedia::frames_dropped`].
pub const MAX_RECORDED_SAMPLES: usize = 60 * 8_000;

/// Most recordings one call holds (a `<Record>`, `recordSession`, the Record API and a
/// bridge's, running or ended with samples not yet taken). A further `StartRecording` drops
/// the oldest ended one (its samples counted in [`AudioMedia::frames_dropped`]) or, when all
/// are running, finishes at once, empty.
pub const MAX_RECORDINGS_PER_CALL: usize = 4;

/// Most room recordings running at once (the Conference API's `Record` and `<Conference
/// record>`, one a room); a further one records nothing (its `RoomRecordingDone` is empty).
pub const MAX_ROOM_RECORDINGS: usize = 1_000;

/// Most ticks [`Media::poll_input`] catches up on when the shell calls it late (1 s); older
/// ones are skipped (nothing plays in them) and counted in [`AudioMedia::ticks_skipped`].
pub const MAX_CATCH_UP_TICKS: u32 = 50;

/// Sound a shell renders for the media: synthesised speech or a fetched, decoded file, as
/// 8 kHz mono 16-bit PCM, handed back with [`AudioMedia::provide_audio`].
#[derive(Debug, Clone, PartialEq)]
pub enum AudioRequest {
    /// `<Speak>` text (SSML markup dropped) in `voice` and `language`.
    Speak {
        /// The text.
        text: String,
        /// `WOMAN`, `MAN` or `Polly.<Name>`.
        voice: Voice,
        /// Language tag.
        language: Language,
    },
    /// `<Play>` of this URL (WAV or MP3).
    Play {
        /// The audio URL.
        url: String,
    },
}

/// What only the shell can do: signalling and rendering. Taken with [`AudioMedia::poll_work`].
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    /// Answer the call (SIP 200 OK).
    Answer(CallId),
    /// Open early media (SIP 183).
    PreAnswer(CallId),
    /// Hang the call up (SIP BYE).
    Hangup(CallId),
    /// Render `request` and hand it back with [`AudioMedia::provide_audio`]`(call, media,
    /// part, …)`; the operation plays once every part of it is in.
    Render {
        /// The call.
        call: CallId,
        /// The media operation.
        media: MediaId,
        /// Which of its sounds.
        part: u32,
        /// What to render.
        request: AudioRequest,
    },
    /// Send these keys to the far end as RFC 4733 telephone-events (`w`: 0.5 s pause, `W`: 1 s).
    SendDigits {
        /// The call.
        call: CallId,
        /// The keys.
        digits: String,
    },
    /// A recording ended: take its last samples ([`AudioMedia::take_recorded`]) and write the
    /// file. It holds `duration_ms` × 8 samples in all (whole 20 ms frames), counting those
    /// taken while it ran, unless some were dropped ([`AudioMedia::frames_dropped`]).
    RecordingDone {
        /// The call.
        call: CallId,
        /// The recording's media id.
        media: MediaId,
        /// Its `RecordingID` (the id of its `RecordUrl` and of the Recording API), from its
        /// [`Command::StartRecording`].
        recording: RecordingId,
        /// Its `fileFormat` (the extension of its `RecordUrl`).
        format: FileFormat,
        /// Its length, ms (`RecordingDurationMs`).
        duration_ms: u64,
    },
    /// A room's recording ended (Conference API `Record`, `<Conference record>`): `last` is
    /// what the media still held of the room's whole mix
    /// ([`Mixer::total`](crate::media::mix::Mixer::total): every member not
    /// muted, and the room's sounds), after what
    /// [`take_room_recorded`](AudioMedia::take_room_recorded) took while it ran.
    RoomRecordingDone {
        /// The room.
        room: Arc<str>,
        /// Its `RecordingID`.
        recording: RecordingId,
        /// Its format.
        format: FileFormat,
        /// Its length as the engine counts it (from its start to its end), ms: the samples
        /// may be a tick more or less.
        duration_ms: u64,
        /// The samples not yet taken.
        last: Vec<i16>,
    },
    /// Ring the `<Dial>`'s parties at once (`<User>` SIP URIs, `<Number>`s through a
    /// gateway) and report what they do with [`AudioMedia::dial_progress`]`(call, media, …)`;
    /// the first to answer is the B leg, the others stop ringing.
    Dial {
        /// The caller.
        call: CallId,
        /// The dial's media id.
        media: MediaId,
        /// The `<Dial>` (its targets, `callerId` and `sipHeaders` go into the INVITEs).
        dial: Box<Dial>,
    },
    /// Stop ringing the parties of `call`'s dial `media` (SIP CANCEL) and hang up the one
    /// that answered (BYE): the dial was cancelled, timed out, or its caller left.
    EndDial {
        /// The caller.
        call: CallId,
        /// The dial's media id.
        media: MediaId,
    },
}

impl Work {
    /// The call it is for (none for a room's).
    pub fn call(&self) -> Option<&CallId> {
        match self {
            Work::Answer(call) | Work::PreAnswer(call) | Work::Hangup(call) => Some(call),
            Work::Render { call, .. }
            | Work::SendDigits { call, .. }
            | Work::RecordingDone { call, .. }
            | Work::Dial { call, .. }
            | Work::EndDial { call, .. } => Some(call),
            Work::RoomRecordingDone { .. } => None,
        }
    }
}

/// A media operation waiting for its rendered parts before it plays.
#[derive(Debug)]
struct Waiting {
    media: MediaId,
    parts: Vec<Option<Source>>,
    plays: Option<u32>,
}

#[derive(Debug)]
struct Running {
    media: MediaId,
    /// Its `RecordingID` and `fileFormat`, for [`Work::RecordingDone`].
    recording: RecordingId,
    format: FileFormat,
    foreground: bool,
    recorder: Recorder,
    samples: VecDeque<i16>,
}

#[derive(Debug, Default)]
struct CallAudio {
    queue: PlayQueue,
    /// Operations waiting to be rendered, in command order: the head goes to `queue` when
    /// complete, so nothing overtakes a `<Speak>` that is still being synthesised.
    waiting: VecDeque<Waiting>,
    said: VecDeque<Frame>,
    heard: VecDeque<Frame>,
    /// How it takes part in its room: its own flags, kept apart so that unholding restores
    /// what it was (the mixer gets muted = muted or held, deaf = deaf or held).
    flags: MemberFlags,
    recordings: Vec<Running>,
    room: Option<(Arc<str>, MemberKey)>,
    /// Its member id in an engine's room (not in a dial's bridge).
    member: Option<MemberId>,
    /// REST play/speak to it as a room member, mixed over what it hears.
    overlay: Option<Box<Overlay>>,
    /// Inputs of this call still in `AudioMedia::inputs`.
    pending: u32,
    ended: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct MemberFlags {
    muted: bool,
    deaf: bool,
    held: bool,
}

impl MemberFlags {
    fn audio(self) -> MemberAudio {
        MemberAudio { muted: self.muted || self.held, deaf: self.deaf || self.held }
    }
}

/// The media contract on real audio: 20 ms frames of 8 kHz PCM in and out of every call, the
/// rooms mixed N−1, sans-IO.
///
/// # Drive contract
/// The shell owns the legs (RTP sockets, codecs) and the renderers (TTS, HTTP):
/// - each 20 ms it hands in what a caller said ([`handle_frame`](Self::handle_frame)) and the
///   keys it pressed ([`handle_key`](Self::handle_key), from RFC 4733 events);
/// - after every runtime step it sends what each call hears ([`poll_heard`](Self::poll_heard))
///   and does the work asked of it ([`poll_work`](Self::poll_work): answer, hang up, render a
///   sound and [`provide_audio`](Self::provide_audio) it, send keys, write a recording's
///   samples from [`take_recorded`](Self::take_recorded)).
///
/// Time advances in ticks of [`TICK`] while any call is known: [`Media::poll_timeout`] is the
/// next tick, and [`Media::poll_input`] plays the ticks due by `now`, reporting what ended in
/// them (speech, playback, recordings) at the tick's time.
///
/// `<Dial>`: the shell rings the parties ([`Work::Dial`]) and reports their progress
/// ([`dial_progress`](Self::dial_progress)); the party that answered is a leg of its own
/// (frames, keys and heard frames under its `b_leg` id) bridged to the caller as a room of
/// two, once connected (at the answer, or at its `confirmKey`).
///
/// Rooms: each member hears the others' mix, the room's sounds (`enterSound`, `exitSound`,
/// rendered like any `<Speak>`/`<Play>`), and what REST play/speak sends it, on an overlay
/// of its own (see `room.rs`).
///
/// Not yet on real audio: `<Stream>` and speech recognition.
#[derive(Debug, Default)]
pub struct AudioMedia {
    calls: BTreeMap<CallId, CallAudio>,
    rooms: HashMap<Arc<str>, Room>,
    inputs: VecDeque<(Duration, CallId, Input)>,
    work: VecDeque<Work>,
    next_tick: Option<Duration>,
    /// The latest time the media has been told or has reached: inputs are stamped no
    /// earlier, so they leave in time order and never go back before what the engine saw.
    latest: Duration,
    /// Media ids of the media's own handed out so far (room and REST member sounds).
    own_media: u64,
    /// The room sounds waiting for a render, to their room.
    room_renders: HashMap<MediaId, Arc<str>>,
    /// The REST sounds to several members waiting for their one render, to those members
    /// (an entry per REST request, gone when its render comes).
    member_renders: HashMap<MediaId, Vec<CallId>>,
    /// The rooms' running recordings (at most [`MAX_ROOM_RECORDINGS`]).
    room_recordings: HashMap<RecordingId, room::RoomRecording>,
    frames_dropped: u64,
    ticks_skipped: u64,
    ticks: u64,
    /// The calls' `<Dial>`s in progress.
    dials: HashMap<CallId, bridge::Dialing>,
    /// The B leg of each answered dial, to its caller.
    callees: HashMap<CallId, CallId>,
}

impl AudioMedia {
    /// Media with no calls.
    pub fn new() -> Self {
        Self::default()
    }

    /// 20 ms that `call` said (decoded from its leg's RTP), in order: each tick takes the
    /// oldest waiting (at most [`MAX_SAID`] wait); a tick with none counts as silence.
    ///
    /// A call the media does not know (not answered yet, or a dial's B leg whose bridge has
    /// ended) is not listened to: its frames are dropped, so that a late packet cannot bring
    /// a forgotten call back.
    pub fn handle_frame(&mut self, now: Duration, call: &CallId, frame: &Frame) {
        self.saw(now);
        let Some(audio) = self.calls.get_mut(call) else { return };
        if audio.said.len() >= MAX_SAID {
            audio.said.pop_front();
            self.frames_dropped += 1;
        }
        audio.said.push_back(*frame);
    }

    /// `call` pressed `key` (`0-9*#A-D`, from an RFC 4733 event): reported to the call at once.
    pub fn handle_key(&mut self, now: Duration, call: &CallId, key: char) {
        self.saw(now);
        if self.caller_of(call).is_some() {
            self.callee_key(now, call, key);
            return;
        }
        self.report(now, call, Input::Digits(key.to_string()));
    }

    /// The next frame `call` hears (up to [`MAX_HEARD`] wait), oldest first.
    pub fn poll_heard(&mut self, call: &CallId) -> Option<Frame> {
        self.calls.get_mut(call)?.heard.pop_front()
    }

    /// The next thing only the shell can do.
    pub fn poll_work(&mut self) -> Option<Work> {
        self.work.pop_front()
    }

    /// Hands in a rendered part of `media` ([`Work::Render`]): 8 kHz mono PCM, or `None` when
    /// it could not be rendered (it then plays as nothing, as Plivo skips a `<Play>` it cannot
    /// fetch). Returns false when no such operation waits (it was stopped, or the call ended).
    pub fn provide_audio(&mut self, call: &CallId, media: MediaId, part: u32, pcm: Option<Arc<[i16]>>) -> bool {
        let source = pcm.map_or(Source::Silence(0), Source::Pcm);
        if self.room_renders.contains_key(&media) {
            return self.provide_room_audio(media, part, source);
        }
        if self.member_renders.contains_key(&media) {
            return self.provide_member_audio(media, part, source);
        }
        let Some(audio) = self.calls.get_mut(call) else { return false };
        if let Some(slot) =
            audio.waiting.iter_mut().find(|w| w.media == media).and_then(|w| w.parts.get_mut(part as usize))
        {
            *slot = Some(source);
            let refused = audio.flush();
            self.refused(call, refused);
            return true;
        }
        audio.overlay.as_mut().is_some_and(|o| o.provide(media, part, source))
    }

    /// The media ids of `call`'s running recordings (not those ended, whose
    /// [`Work::RecordingDone`] is on its way): a shell takes their samples with
    /// [`take_recorded`](Self::take_recorded) while they run, so that none waits long.
    pub fn recordings_of(&self, call: &CallId) -> impl Iterator<Item = MediaId> + '_ {
        self.calls
            .get(call)
            .into_iter()
            .flat_map(|a| a.recordings.iter().filter(|r| r.recorder.ended().is_none()).map(|r| r.media))
    }

    /// Takes the samples a running (or just ended) recording of `call` holds.
    pub fn take_recorded(&mut self, call: &CallId, media: MediaId) -> Vec<i16> {
        let Some(audio) = self.calls.get_mut(call) else { return Vec::new() };
        let Some(i) = audio.recordings.iter().position(|r| r.media == media) else { return Vec::new() };
        let Some(r) = audio.recordings.get_mut(i) else { return Vec::new() };
        let samples = r.samples.drain(..).collect();
        if r.recorder.ended().is_some() || audio.ended {
            audio.recordings.remove(i);
        }
        samples
    }

    /// Ticks played so far: a shell moves heard frames only when this changed.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Frames lost because the shell did not take them in time (heard frames and recorded
    /// samples, in frames), or because more than [`MAX_SAID`] waited.
    pub fn frames_dropped(&self) -> u64 {
        self.frames_dropped
    }

    /// Ticks skipped because the shell called more than [`MAX_CATCH_UP_TICKS`] late.
    pub fn ticks_skipped(&self) -> u64 {
        self.ticks_skipped
    }

    fn start_ticking(&mut self, now: Duration) {
        if self.next_tick.is_none() {
            self.next_tick = Some(now + TICK);
        }
    }

    fn saw(&mut self, now: Duration) {
        self.latest = self.latest.max(now);
    }

    /// Queues `input` for `call` at `at`, or at the latest time already seen if that is
    /// later: the queue stays in time order.
    fn report(&mut self, at: Duration, call: &CallId, input: Input) {
        let at = at.max(self.latest);
        self.latest = at;
        if let Some(audio) = self.calls.get_mut(call) {
            audio.pending += 1;
        }
        self.inputs.push_back((at, call.clone(), input));
    }

    fn enqueue(&mut self, now: Duration, call: &CallId, media: MediaId, parts: Vec<Part>, plays: Option<u32>) {
        self.start_ticking(now);
        let sources = self.render_parts(call, media, parts);
        let audio = self.calls.entry(call.clone()).or_default();
        audio.waiting.push_back(Waiting { media, parts: sources, plays });
        let refused = audio.flush();
        self.refused(call, refused);
    }

    /// Reports the operations of `call` its full queue refused as finished, now.
    fn refused(&mut self, call: &CallId, refused: Vec<MediaId>) {
        for media in refused {
            self.report(self.latest, call, Input::MediaFinished(media));
        }
    }

    fn start_recording(&mut self, now: Duration, call: &CallId, media: MediaId, command: &Command) {
        let Command::StartRecording { mode, max_length, silence_timeout, recording, format, .. } = command else {
            return;
        };
        self.start_ticking(now);
        let audio = self.calls.entry(call.clone()).or_default();
        if audio.recordings.len() >= MAX_RECORDINGS_PER_CALL {
            // Make room by dropping the oldest ended recording whose samples were not taken.
            match audio.recordings.iter().position(|r| r.recorder.ended().is_some()) {
                Some(i) => {
                    let gone = audio.recordings.remove(i);
                    self.frames_dropped += (gone.samples.len() / FRAME_SAMPLES) as u64;
                }
                None => {
                    self.recording_done(now, call, media, (recording.id.clone(), *format), 0);
                    return;
                }
            }
        }
        let foreground = *mode == RecordMode::Foreground;
        let silence = if foreground { *silence_timeout } else { None };
        audio.recordings.push(Running {
            media,
            recording: recording.id.clone(),
            format: *format,
            foreground,
            recorder: Recorder::new(*max_length, silence),
            samples: VecDeque::new(),
        });
    }

    /// Reports the end of `media`'s recording, as long as its entry says.
    fn finish_recording(&mut self, now: Duration, call: &CallId, media: MediaId) {
        let Some((recording, duration_ms)) = self
            .calls
            .get(call)
            .and_then(|a| a.recordings.iter().find(|r| r.media == media))
            .map(|r| ((r.recording.clone(), r.format), r.recorder.duration_ms()))
        else {
            return;
        };
        self.recording_done(now, call, media, recording, duration_ms);
    }

    /// Reports the end of a recording (also one refused at the bound, which has no entry).
    fn recording_done(
        &mut self,
        now: Duration,
        call: &CallId,
        media: MediaId,
        (recording, format): (RecordingId, FileFormat),
        duration_ms: u64,
    ) {
        self.work.push_back(Work::RecordingDone { call: call.clone(), media, recording, format, duration_ms });
        self.report(now, call, Input::RecordingFinished { media, duration_ms });
    }

    /// Plays one tick ending at `at`.
    fn tick(&mut self, at: Duration) {
        self.saw(at);
        self.ticks += 1;
        // What each member said goes into its room's mix first.
        for room in self.rooms.values_mut() {
            for (call, key) in &room.members {
                let said = self.calls.get(call).and_then(|a| a.said.front()).unwrap_or(&SILENCE);
                if let Ok(input) = room.mixer.input_mut(*key) {
                    *input = *said;
                }
            }
            let mut done = Vec::new();
            room.mixer.mix(&mut done);
        }
        self.record_rooms();
        let mut finished = Vec::new();
        let mut recorded = Vec::new();
        for (call, audio) in self.calls.iter_mut().filter(|(_, a)| !a.ended) {
            let mut frame = SILENCE;
            let mut done = Vec::new();
            audio.queue.next_frame(&mut frame, &mut done);
            if let Some((name, key)) = &audio.room
                && let Some(mix) = self.rooms.get(name).and_then(|r| r.mixer.output(*key).ok())
            {
                for (s, &m) in frame.iter_mut().zip(mix.iter()) {
                    *s = s.saturating_add(m);
                }
            }
            if let Some(overlay) = &mut audio.overlay
                && !overlay.mix_into(&mut frame)
            {
                audio.overlay = None;
            }
            let said = audio.said.pop_front().unwrap_or(SILENCE);
            for r in audio.recordings.iter_mut().filter(|r| r.recorder.ended().is_none()) {
                // A `<Record>` takes the caller's voice; the background ones the whole call.
                let mut take = said;
                if !r.foreground {
                    for (t, &h) in take.iter_mut().zip(frame.iter()) {
                        *t = t.saturating_add(h);
                    }
                }
                if r.samples.len() + FRAME_SAMPLES > MAX_RECORDED_SAMPLES {
                    r.samples.drain(..FRAME_SAMPLES);
                    self.frames_dropped += 1;
                }
                r.samples.extend(take);
                if r.recorder.push(&take).is_some() {
                    recorded.push((call.clone(), r.media));
                }
            }
            if audio.heard.len() >= MAX_HEARD {
                audio.heard.pop_front();
                self.frames_dropped += 1;
            }
            audio.heard.push_back(frame);
            finished.extend(done.into_iter().map(|m| (call.clone(), m)));
        }
        for (call, media) in finished {
            // What the callee heard (confirmSound) is its caller's media.
            let call = self.caller_of(&call).cloned().unwrap_or(call);
            self.report(at, &call, Input::MediaFinished(media));
        }
        for (call, media) in recorded {
            self.finish_recording(at, &call, media);
        }
    }

    /// The sounds of a sound document (`waitSound`, `enterSound`, `dialMusic`, …).
    fn sound_parts(doc: &Document) -> Vec<Part> {
        let mut parts = Vec::new();
        for verb in &doc.verbs {
            match verb {
                Verb::Speak(s) => {
                    let request = speak_request(s);
                    parts.extend(std::iter::repeat_with(|| Part::Render(request.clone())).take(plays_of(s.loop_)));
                }
                Verb::Play(p) => {
                    let url = p.url.as_ref().map_or(String::new(), |u| u.as_str().to_owned());
                    let request = AudioRequest::Play { url };
                    parts.extend(std::iter::repeat_with(|| Part::Render(request.clone())).take(plays_of(p.loop_)));
                }
                Verb::Wait(w) => parts.push(Part::Ready(Source::silence_ms(u64::from(w.length) * 1000))),
                _ => {}
            }
        }
        parts
    }
}

/// A sound document plays each `<Speak>`/`<Play>` `loop` times, at least once (`loop="0"` in
/// a sound list plays once) and at most 10 times.
fn plays_of(loop_: u32) -> usize {
    loop_.clamp(1, 10) as usize
}

fn speak_request(s: &crate::xml::Speak) -> AudioRequest {
    AudioRequest::Speak { text: s.text(), voice: s.voice.clone(), language: s.language.clone() }
}

/// `loop` as the play count of a [`PlayQueue`]: 0 is forever.
fn plays(loop_: u32) -> Option<u32> {
    (loop_ != 0).then_some(loop_)
}

enum Part {
    Ready(Source),
    Render(AudioRequest),
}

impl CallAudio {
    /// Moves the complete operations at the head of `waiting` into the play queue.
    /// Returns the operations the full queue refused: they play as nothing, and are to be
    /// reported finished at once (a verb must not wait for a sound that never plays).
    fn flush(&mut self) -> Vec<MediaId> {
        flush(&mut self.waiting, &mut self.queue)
    }
}

/// Moves the complete operations at the head of `waiting` into `queue`, in order. Returns
/// those the queue refused, full ([`MAX_QUEUED`](super::mix::MAX_QUEUED) operations: a flood
/// of REST `Play`/`Speak` to a call); each plays as nothing.
fn flush(waiting: &mut VecDeque<Waiting>, queue: &mut PlayQueue) -> Vec<MediaId> {
    let mut refused = Vec::new();
    while waiting.front().is_some_and(|w| w.parts.iter().all(Option::is_some)) {
        let Some(w) = waiting.pop_front() else { break };
        let sources = w.parts.into_iter().flatten().collect();
        if queue.push(w.media, sources, w.plays).is_err() {
            refused.push(w.media);
        }
    }
    refused
}

impl Media for AudioMedia {
    fn handle_command(&mut self, now: Duration, call: &CallId, command: &Command) {
        self.saw(now);
        match command {
            Command::Answer => {
                // From the answer on the call hears a frame every tick, silence or not.
                self.start_ticking(now);
                self.calls.entry(call.clone()).or_default();
                self.work.push_back(Work::Answer(call.clone()));
            }
            Command::PreAnswer => self.work.push_back(Work::PreAnswer(call.clone())),
            Command::Hangup { .. } => self.work.push_back(Work::Hangup(call.clone())),
            Command::Speak { media, speak } => {
                let (parts, loop_) = match speak.speak() {
                    Some(s) => (vec![Part::Render(speak_request(s))], s.loop_),
                    None => (Vec::new(), 1),
                };
                self.enqueue(now, call, *media, parts, plays(loop_));
            }
            Command::Play { media, play } => {
                let (parts, loop_) = match play.play() {
                    Some(p) => {
                        let url = p.url.as_ref().map_or(String::new(), |u| u.as_str().to_owned());
                        (vec![Part::Render(AudioRequest::Play { url })], p.loop_)
                    }
                    None => (Vec::new(), 1),
                };
                self.enqueue(now, call, *media, parts, plays(loop_));
            }
            Command::Beep { media, count } => {
                self.enqueue(now, call, *media, vec![Part::Ready(Source::beeps(*count))], Some(1));
            }
            Command::PlaySounds { media, sounds, looped, to, .. } => {
                let parts = Self::sound_parts(sounds);
                let plays = if *looped { None } else { Some(1) };
                match to {
                    // The callee's sounds (confirmSound) go to the party that answered.
                    Listener::Callee => match self.callee_of(call).cloned() {
                        Some(b) => self.enqueue(now, &b, *media, parts, plays),
                        None => self.report(now, call, Input::MediaFinished(*media)),
                    },
                    Listener::Caller => self.enqueue(now, call, *media, parts, plays),
                }
            }
            Command::SendDigits { media, digits, to } => {
                let ms: u64 = digits
                    .chars()
                    .map(|c| match c {
                        'w' => 500,
                        'W' => 1000,
                        _ => 250,
                    })
                    .sum();
                // `leg=bleg`: the party the dial bridged hears them (none: nobody does).
                let target = match to {
                    Listener::Caller => Some(call.clone()),
                    Listener::Callee => self.callee_of(call).cloned(),
                };
                if let Some(target) = target {
                    self.work.push_back(Work::SendDigits { call: target, digits: digits.clone() });
                }
                self.enqueue(now, call, *media, vec![Part::Ready(Source::silence_ms(ms))], Some(1));
            }
            Command::StopMedia(media) => {
                if let Some(audio) = self.calls.get_mut(call) {
                    audio.waiting.retain(|w| w.media != *media);
                    audio.queue.stop(*media);
                    let refused = audio.flush();
                    self.refused(call, refused);
                }
            }
            Command::StartRecording { media, .. } => self.start_recording(now, call, *media, command),
            Command::StopRecording(media) => {
                let running = self
                    .calls
                    .get(call)
                    .is_some_and(|a| a.recordings.iter().any(|r| r.media == *media && r.recorder.ended().is_none()));
                if running {
                    self.finish_recording(now, call, *media);
                    if let Some(r) =
                        self.calls.get_mut(call).and_then(|a| a.recordings.iter_mut().find(|r| r.media == *media))
                    {
                        // Ended: it takes no more frames, and goes with its last samples.
                        r.recorder.stop();
                    }
                }
            }
            Command::Dial { media, dial } => self.start_dial(call, *media, dial),
            Command::CancelDial(media) | Command::HangupCallee(media) => self.stop_dial(call, Some(*media)),
            Command::RoomSound { room, sound, .. } => {
                let parts = match sound {
                    crate::engine::RoomSound::Beeps(n) => vec![Part::Ready(Source::beeps(*n))],
                    crate::engine::RoomSound::Sounds(doc) => Self::sound_parts(doc),
                };
                self.room_sound(call, room, parts);
            }
            Command::StartCollect { .. }
            | Command::StopCollect(_)
            | Command::JoinConference { .. }
            | Command::LeaveConference { .. }
            | Command::StartStream { .. }
            | Command::StopStream(_)
            | Command::SendMessage { .. } => {}
        }
    }

    fn handle_room_event(&mut self, now: Duration, event: &RoomEvent) {
        self.saw(now);
        if matches!(event, RoomEvent::Joined { .. }) {
            self.start_ticking(now);
        }
        self.room_event(now, event);
    }

    fn call_ended(&mut self, call: &CallId) {
        self.stop_dial(call, None);
        self.leave_room(call);
        let now = self.latest;
        let Some(audio) = self.calls.get_mut(call) else { return };
        audio.ended = true;
        audio.overlay = None;
        audio.queue.clear();
        audio.waiting.clear();
        audio.heard.clear();
        let running: Vec<MediaId> =
            audio.recordings.iter().filter(|r| r.recorder.ended().is_none()).map(|r| r.media).collect();
        for r in audio.recordings.iter_mut() {
            r.recorder.stop();
        }
        for media in running {
            self.finish_recording(now, call, media);
        }
    }

    fn has_pending(&self, call: &CallId) -> bool {
        self.calls.get(call).is_some_and(|a| a.pending > 0)
    }

    fn forget(&mut self, call: &CallId) {
        self.stop_dial(call, None);
        self.leave_room(call);
        self.calls.remove(call);
        if self.calls.is_empty() {
            self.next_tick = None;
        }
    }

    fn poll_timeout(&self) -> Option<Duration> {
        match (self.inputs.front().map(|(t, ..)| *t), self.next_tick) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn poll_input(&mut self, now: Duration) -> Option<(CallId, Input)> {
        // A shell that stalled does not make up for more than the last second.
        if let Some(tick) = self.next_tick {
            let behind = now.saturating_sub(tick).as_nanos() / TICK.as_nanos();
            let skip = behind.saturating_sub(u128::from(MAX_CATCH_UP_TICKS));
            if skip > 0 {
                let skip = u32::try_from(skip).unwrap_or(u32::MAX);
                self.ticks_skipped += u64::from(skip);
                self.next_tick = Some(tick.saturating_add(TICK.saturating_mul(skip)));
            }
        }
        loop {
            if let Some((t, ..)) = self.inputs.front()
                && *t <= now
            {
                let (_, call, input) = self.inputs.pop_front()?;
                if let Some(a) = self.calls.get_mut(&call) {
                    a.pending = a.pending.saturating_sub(1);
                }
                return Some((call, input));
            }
            let tick = self.next_tick.filter(|t| *t <= now)?;
            self.tick(tick);
            self.next_tick = Some(tick + TICK);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{RecordingId, RecordingRef};
    use crate::xml::values::FileFormat;

    fn call() -> CallId {
        CallId::from("c".to_owned())
    }

    fn record(media: u64) -> Command {
        Command::StartRecording {
            media: MediaId(media),
            mode: RecordMode::Session,
            format: FileFormat::Wav,
            max_length: None,
            silence_timeout: None,
            recording: Box::new(RecordingRef { id: RecordingId::from(format!("rec-{media}")), url: String::new() }),
        }
    }

    fn run_ticks(m: &mut AudioMedia, ticks: u32) -> Vec<Input> {
        let mut inputs = Vec::new();
        for _ in 0..ticks {
            let Some(t) = m.poll_timeout() else { break };
            while let Some((_, i)) = m.poll_input(t) {
                inputs.push(i);
            }
        }
        inputs
    }

    #[test]
    fn an_answered_call_hears_a_frame_every_tick_though_nothing_plays() {
        let mut m = AudioMedia::new();
        m.handle_command(Duration::ZERO, &call(), &Command::Answer);
        assert_eq!(m.poll_work(), Some(Work::Answer(call())));
        assert_eq!(m.poll_timeout(), Some(TICK));
        run_ticks(&mut m, 3);
        let frames = std::iter::from_fn(|| m.poll_heard(&call())).count();
        assert_eq!((frames, m.ticks()), (3, 3));
    }

    #[test]
    fn an_operation_the_full_queue_refuses_is_reported_finished_at_once() {
        let mut m = AudioMedia::new();
        m.handle_command(Duration::ZERO, &call(), &Command::Answer);
        let bound = crate::media::mix::MAX_QUEUED as u64;
        for i in 0..=bound {
            m.handle_command(Duration::ZERO, &call(), &Command::Beep { media: MediaId(i), count: 1 });
        }
        let first = m.poll_input(Duration::ZERO).map(|(_, i)| i);
        assert!(matches!(first, Some(Input::MediaFinished(MediaId(m))) if m == bound), "{first:?}");
    }

    #[test]
    fn frames_of_a_call_the_media_does_not_know_are_dropped() {
        let mut m = AudioMedia::new();
        m.handle_frame(Duration::ZERO, &call(), &SILENCE);
        assert_eq!(m.poll_timeout(), None, "no call: nothing ticks");
        assert!(m.poll_heard(&call()).is_none());
    }

    #[test]
    fn heard_frames_not_taken_are_bounded_and_counted() {
        let mut m = AudioMedia::new();
        m.handle_command(Duration::ZERO, &call(), &Command::Answer);
        m.handle_frame(Duration::ZERO, &call(), &SILENCE);
        run_ticks(&mut m, 25);
        assert_eq!(m.frames_dropped(), 15);
        let mut n = 0;
        while m.poll_heard(&call()).is_some() {
            n += 1;
        }
        assert_eq!(n, MAX_HEARD);
    }

    #[test]
    fn inputs_leave_in_time_order_and_never_before_what_was_seen() {
        let mut m = AudioMedia::new();
        m.handle_command(Duration::ZERO, &call(), &record(1));
        m.handle_command(Duration::ZERO, &call(), &Command::Beep { media: MediaId(2), count: 1 });
        // A key comes between ticks, before the 20 ms tick has run.
        m.handle_key(Duration::from_millis(25), &call(), '5');
        // The call ends (the caller's BYE) at 27 ms: its running recording is reported then.
        m.handle_key(Duration::from_millis(27), &call(), '6');
        m.call_ended(&call());
        let mut last = Duration::ZERO;
        while let Some(t) = m.poll_timeout().filter(|t| *t < Duration::from_millis(100)) {
            let Some(_) = m.poll_input(t) else { continue };
            assert!(t >= last, "{t:?} after {last:?}");
            last = t;
        }
        assert!(last >= Duration::from_millis(27), "nothing was stamped before what the media saw");
    }

    #[test]
    fn said_frames_wait_their_ticks_one_each() {
        let mut m = AudioMedia::new();
        let mut loud = SILENCE;
        loud[0] = 1000;
        m.handle_command(Duration::ZERO, &call(), &record(1));
        // Two frames out of one 30 ms packet, then nothing.
        m.handle_frame(Duration::ZERO, &call(), &loud);
        m.handle_frame(Duration::ZERO, &call(), &loud);
        run_ticks(&mut m, 3);
        let samples = m.take_recorded(&call(), MediaId(1));
        let loud_frames = samples.chunks(FRAME_SAMPLES).filter(|f| f[0] == 1000).count();
        assert_eq!((samples.len() / FRAME_SAMPLES, loud_frames), (3, 2), "both frames recorded, one a tick");
        for _ in 0..MAX_SAID + 3 {
            m.handle_frame(Duration::ZERO, &call(), &loud);
        }
        assert_eq!(m.frames_dropped(), 3);
    }

    #[test]
    fn unholding_restores_a_members_own_mute() {
        let mut m = AudioMedia::new();
        let room: Arc<str> = Arc::from("r");
        let joined = RoomEvent::Joined {
            call: call(),
            room: room.clone(),
            uuid: "u".into(),
            member_id: crate::engine::MemberId(1),
            started: true,
            first: true,
            muted: true,
            held: false,
        };
        m.handle_room_event(Duration::ZERO, &joined);
        let held =
            |held| RoomEvent::Held { call: call(), room: room.clone(), member_id: crate::engine::MemberId(1), held };
        let audio = |m: &AudioMedia| {
            let (name, key) = m.calls.get(&call()).and_then(|a| a.room.clone()).expect("in the room");
            m.rooms.get(&name).and_then(|r| r.mixer.audio(key).ok()).expect("in the mix")
        };
        m.handle_room_event(Duration::ZERO, &held(true));
        assert_eq!(audio(&m), MemberAudio { muted: true, deaf: true });
        m.handle_room_event(Duration::ZERO, &held(false));
        assert_eq!(audio(&m), MemberAudio { muted: true, deaf: false }, "still muted, as it joined");
    }

    #[test]
    fn a_late_shell_skips_ticks_beyond_a_second() {
        let mut m = AudioMedia::new();
        m.handle_command(Duration::ZERO, &call(), &Command::Answer);
        m.handle_frame(Duration::ZERO, &call(), &SILENCE);
        let late = Duration::from_secs(10);
        assert!(m.poll_input(late).is_none());
        // Ticks were due at 20 ms, 40 ms, …, 10 s: 500 of them; the last 51 (9 s to 10 s) ran.
        assert_eq!(m.ticks_skipped(), 500 - 1 - u64::from(MAX_CATCH_UP_TICKS));
        assert_eq!(m.poll_timeout(), Some(late + TICK));
    }

    #[test]
    fn recordings_per_call_are_bounded_and_stop_reports_once() {
        let mut m = AudioMedia::new();
        for i in 0..MAX_RECORDINGS_PER_CALL as u64 {
            m.handle_command(Duration::ZERO, &call(), &record(i));
        }
        m.handle_command(Duration::ZERO, &call(), &record(99));
        // The refused one's end is reported first (at 0), then 4 ticks play.
        let inputs = run_ticks(&mut m, 5);
        assert!(
            matches!(inputs.as_slice(), [Input::RecordingFinished { media: MediaId(99), duration_ms: 0 }]),
            "{inputs:?}"
        );
        m.handle_command(Duration::ZERO, &call(), &Command::StopRecording(MediaId(0)));
        m.handle_command(Duration::ZERO, &call(), &Command::StopRecording(MediaId(0)));
        let inputs = run_ticks(&mut m, 1);
        assert!(
            matches!(inputs.as_slice(), [Input::RecordingFinished { media: MediaId(0), duration_ms: 80 }]),
            "{inputs:?}"
        );
        // The stopped one makes room for a new recording; its samples are dropped, counted.
        m.handle_command(Duration::ZERO, &call(), &record(100));
        assert_eq!(m.frames_dropped(), 4);
        let done: Vec<_> = std::iter::from_fn(|| m.poll_work())
            .filter_map(|w| match w {
                Work::RecordingDone { media, recording, duration_ms, .. } => Some((media, recording, duration_ms)),
                _ => None,
            })
            .collect();
        let rec = |s: &str| RecordingId::from(s.to_owned());
        assert_eq!(done, [(MediaId(99), rec("rec-99"), 0), (MediaId(0), rec("rec-0"), 80)], "each names its id");
        let running: Vec<MediaId> = m.recordings_of(&call()).collect();
        assert_eq!(running, [MediaId(1), MediaId(2), MediaId(3), MediaId(100)], "the stopped one is not running");
        assert_eq!(m.recordings_of(&CallId::from("other".to_owned())).count(), 0);
        assert_eq!(m.take_recorded(&call(), MediaId(0)), Vec::<i16>::new());
        assert_eq!(
            m.take_recorded(&call(), MediaId(1)).len(),
            4 * FRAME_SAMPLES,
            "the 1-tick run took the report, not a tick"
        );
    }
}
