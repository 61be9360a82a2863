//! Rooms on real audio: who is in which mix, the room's own sounds (`enterSound`,
//! `exitSound`, rendered when they are `<Speak>`/`<Play>` documents), the room's recordings
//! (its whole mix, [`Work::RoomRecordingDone`]), and REST play/speak to named members
//! (Plivo: Conference API "Play audio to member", "Speak text to member", and their stops).
//!
//! A member's REST sounds play on an overlay of its own, mixed over whatever else it hears
//! (its room, its call's own queue): they neither wait for nor stop the call's media, and
//! they end when it leaves the room, as a conference member's files end with the member in
//! the FreeSWITCH conference plivoframework drove.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use super::{
    AudioMedia, AudioRequest, FRAME_SAMPLES, Frame, MAX_RECORDED_SAMPLES, MAX_ROOM_RECORDINGS, MemberFlags, Part,
    Waiting, Work, flush,
};
use crate::engine::{CallId, MediaId, MemberId, MemberMedia, RecordingId, RoomEvent};
use crate::media::mix::{MAX_QUEUED, MemberKey, Mixer, PlayQueue, Source};
use crate::xml::values::{FromXml, Language, Voice};

/// A room's mix and its members.
#[derive(Debug, Default)]
pub(super) struct Room {
    pub(super) mixer: Mixer,
    pub(super) members: BTreeMap<CallId, MemberKey>,
    /// The room's members by their Plivo member id (rooms of the engine; a dial's bridge has
    /// none), for REST play/speak.
    by_member: BTreeMap<MemberId, CallId>,
    /// Room sounds waiting for their rendered parts, in order: the head goes to the room's
    /// queue when complete. At most [`MAX_QUEUED`]; beyond, a sound is dropped.
    waiting: VecDeque<Waiting>,
}

/// A room's running recording: its whole mix, tick by tick, until the shell takes it.
#[derive(Debug)]
pub(super) struct RoomRecording {
    room: Arc<str>,
    /// At most [`MAX_RECORDED_SAMPLES`]; beyond, the oldest go (counted as dropped frames).
    samples: VecDeque<i16>,
}

/// What a member plays on top of what it hears: REST play/speak.
#[derive(Debug, Default)]
pub(super) struct Overlay {
    queue: PlayQueue,
    waiting: VecDeque<Waiting>,
    /// The queued sounds and whether each is speech (`Speak`) or a file (`Play`), for the
    /// stops. At most [`MAX_QUEUED`].
    sounds: Vec<(MediaId, bool)>,
}

impl Overlay {
    /// Adds the overlay's next frame onto `frame`; returns whether anything is left.
    pub(super) fn mix_into(&mut self, frame: &mut Frame) -> bool {
        let mut own = [0; FRAME_SAMPLES];
        let mut done = Vec::new();
        self.queue.next_frame(&mut own, &mut done);
        for (s, &o) in frame.iter_mut().zip(own.iter()) {
            *s = s.saturating_add(o);
        }
        self.sounds.retain(|(m, _)| !done.contains(m));
        !self.sounds.is_empty()
    }

    /// Hands in a rendered part; false when no such sound waits.
    pub(super) fn provide(&mut self, media: MediaId, part: u32, source: Source) -> bool {
        let found = self.waiting.iter_mut().find(|w| w.media == media).and_then(|w| w.parts.get_mut(part as usize));
        let Some(slot) = found else { return false };
        *slot = Some(source);
        // Never refused: the queue holds at most the overlay's sounds, fewer than its bound.
        let _ = flush(&mut self.waiting, &mut self.queue);
        true
    }

    fn stop(&mut self, speech: bool) {
        for (media, _) in self.sounds.iter().filter(|(_, s)| *s == speech) {
            self.waiting.retain(|w| w.media != *media);
            self.queue.stop(*media);
        }
        self.sounds.retain(|(_, s)| *s != speech);
        let _ = flush(&mut self.waiting, &mut self.queue);
    }
}

impl AudioMedia {
    /// A media id of the media's own (room sounds, REST member sounds), never the engine's:
    /// counted down from `u64::MAX`, never reported to the engine.
    fn own_media(&mut self) -> MediaId {
        self.own_media += 1;
        MediaId(u64::MAX - self.own_media)
    }

    pub(super) fn room_event(&mut self, now: Duration, event: &RoomEvent) {
        match event {
            RoomEvent::Joined { call, room, muted, held, member_id, .. } => {
                self.join(call, room, MemberFlags { muted: *muted, deaf: false, held: *held });
                if let (Some(r), Some(audio)) = (self.rooms.get_mut(room), self.calls.get_mut(call))
                    && audio.room.is_some()
                {
                    r.by_member.insert(*member_id, call.clone());
                    audio.member = Some(*member_id);
                }
            }
            RoomEvent::Left { call, .. } => self.leave_room(call),
            RoomEvent::Muted { call, muted, .. } => self.set_member(call, |f| f.muted = *muted),
            RoomEvent::Deafened { call, deaf, .. } => self.set_member(call, |f| f.deaf = *deaf),
            RoomEvent::Held { call, held, .. } => self.set_member(call, |f| f.held = *held),
            RoomEvent::Media { room, members, media } => self.member_media(now, room, members, media),
            RoomEvent::RecordingStarted { room, recording, .. } if self.room_recordings.len() < MAX_ROOM_RECORDINGS => {
                let r = RoomRecording { room: room.clone(), samples: VecDeque::new() };
                self.room_recordings.insert(recording.id.clone(), r);
            }
            RoomEvent::RecordingFinished { room, recording, ended_at, .. } => {
                let last = self.room_recordings.remove(&recording.id).map(|r| Vec::from(r.samples)).unwrap_or_default();
                let ms = ended_at.saturating_sub(recording.started_at).as_millis();
                self.work.push_back(Work::RoomRecordingDone {
                    room: room.clone(),
                    recording: recording.id.clone(),
                    format: recording.format,
                    duration_ms: u64::try_from(ms).unwrap_or(u64::MAX),
                    last,
                });
            }
            _ => {}
        }
    }

    /// `call` takes part in `room`'s mix with `flags`.
    pub(super) fn join(&mut self, call: &CallId, room: &Arc<str>, flags: MemberFlags) {
        let audio = self.calls.entry(call.clone()).or_default();
        let r = self.rooms.entry(room.clone()).or_default();
        audio.flags = flags;
        if let Ok(key) = r.mixer.add(audio.flags.audio()) {
            r.members.insert(call.clone(), key);
            audio.room = Some((room.clone(), key));
        }
    }

    /// `call` leaves its room's mix, and its REST sounds end. The room goes with its last
    /// member, and its sounds still rendering with it.
    pub(super) fn leave_room(&mut self, call: &CallId) {
        let Some(audio) = self.calls.get_mut(call) else { return };
        audio.overlay = None;
        let member = audio.member.take();
        let Some((name, key)) = audio.room.take() else { return };
        let Some(room) = self.rooms.get_mut(&name) else { return };
        let _ = room.mixer.remove(key);
        room.members.remove(call);
        if let Some(id) = member {
            room.by_member.remove(&id);
        }
        if room.members.is_empty() {
            for w in &room.waiting {
                self.room_renders.remove(&w.media);
            }
            self.rooms.remove(&name);
        }
    }

    pub(super) fn set_member(&mut self, call: &CallId, change: impl FnOnce(&mut MemberFlags)) {
        let Some(audio) = self.calls.get_mut(call) else { return };
        change(&mut audio.flags);
        let Some((name, key)) = audio.room.clone() else { return };
        if let Some(room) = self.rooms.get_mut(&name) {
            let _ = room.mixer.set_audio(key, audio.flags.audio());
        }
    }

    /// Each running room recording takes its room's whole mix of this tick (nothing once the
    /// room is gone: its recording is about to finish).
    pub(super) fn record_rooms(&mut self) {
        for r in self.room_recordings.values_mut() {
            let Some(room) = self.rooms.get(&r.room) else { continue };
            if r.samples.len() + FRAME_SAMPLES > MAX_RECORDED_SAMPLES {
                r.samples.drain(..FRAME_SAMPLES);
                self.frames_dropped += 1;
            }
            r.samples.extend(room.mixer.total());
        }
    }

    /// The running room recordings, by `RecordingID`: a shell takes their samples with
    /// [`take_room_recorded`](Self::take_room_recorded) while they run.
    pub fn room_recordings(&self) -> impl Iterator<Item = &RecordingId> + '_ {
        self.room_recordings.keys()
    }

    /// Takes the samples the running room recording `recording` holds.
    pub fn take_room_recorded(&mut self, recording: &RecordingId) -> Vec<i16> {
        self.room_recordings.get_mut(recording).map(|r| r.samples.drain(..).collect()).unwrap_or_default()
    }

    /// A sound into `room` (everyone in it hears it once), asked by `call`'s `<Conference>`;
    /// the parts needing rendering are asked of the shell under `call`.
    pub(super) fn room_sound(&mut self, call: &CallId, room: &str, parts: Vec<Part>) {
        // No such room (its last member left), or a flood of sounds: not played.
        let open = self.rooms.get_key_value(room).filter(|(_, r)| r.waiting.len() < MAX_QUEUED);
        let Some(name) = open.map(|(name, _)| name.clone()) else { return };
        let media = self.own_media();
        let sources = self.render_parts(call, media, parts);
        if sources.iter().any(Option::is_none) {
            self.room_renders.insert(media, name.clone());
        }
        let Some(r) = self.rooms.get_mut(&name) else { return };
        r.waiting.push_back(Waiting { media, parts: sources, plays: Some(1) });
        // A room sound the full queue refuses is not played (nobody waits for it).
        let _ = flush(&mut r.waiting, r.mixer.room_mut());
    }

    /// Hands in a rendered part of a room sound; false when none waits.
    pub(super) fn provide_room_audio(&mut self, media: MediaId, part: u32, source: Source) -> bool {
        let Some(name) = self.room_renders.get(&media) else { return false };
        let Some(r) = self.rooms.get_mut(name) else {
            self.room_renders.remove(&media);
            return false;
        };
        let found = r.waiting.iter_mut().find(|w| w.media == media).and_then(|w| w.parts.get_mut(part as usize));
        let Some(slot) = found else { return false };
        *slot = Some(source);
        let before: Vec<MediaId> = r.waiting.iter().map(|w| w.media).collect();
        let _ = flush(&mut r.waiting, r.mixer.room_mut());
        // Every sound the flush moved leaves the map: this one, and those rendered earlier
        // that waited behind it.
        for m in before.into_iter().filter(|m| !r.waiting.iter().any(|w| w.media == *m)) {
            self.room_renders.remove(&m);
        }
        true
    }

    /// REST play/speak (or their stops) to `members` of `room`: each named member still in
    /// the room's mix hears the sound on its overlay; members that are gone are skipped.
    fn member_media(&mut self, now: Duration, room: &str, members: &[MemberId], media: &MemberMedia) {
        self.saw(now);
        let calls: Vec<CallId> = match self.rooms.get(room) {
            Some(r) => members.iter().filter_map(|m| r.by_member.get(m).cloned()).collect(),
            None => return,
        };
        let request = match media {
            MemberMedia::Play { url } => Some((AudioRequest::Play { url: url.clone() }, false)),
            MemberMedia::Speak { text, voice, language } => {
                // The API checked nothing of these: what the synthesiser cannot take is its
                // default, as an invalid `<Speak>` attribute would be.
                let voice = Voice::from_xml(voice).unwrap_or(Voice::Woman);
                let language = Language::from_xml(language).unwrap_or_else(|_| Language::en_us());
                Some((AudioRequest::Speak { text: text.clone(), voice, language }, true))
            }
            MemberMedia::StopPlay | MemberMedia::StopSpeak => None,
        };
        let Some((request, speech)) = request else {
            let speech = matches!(media, MemberMedia::StopSpeak);
            for call in calls {
                if let Some(overlay) = self.calls.get_mut(&call).and_then(|a| a.overlay.as_mut()) {
                    overlay.stop(speech);
                }
            }
            return;
        };
        // A flood of REST sounds to one member: this one is not played to it.
        let calls: Vec<CallId> = calls
            .into_iter()
            .filter(|c| self.calls.get(c).and_then(|a| a.overlay.as_ref()).is_none_or(|o| o.sounds.len() < MAX_QUEUED))
            .collect();
        let Some(first) = calls.first().cloned() else { return };
        // One render for every member (one fetch or synthesis of `all`), under one id.
        let id = self.own_media();
        let sources = self.render_parts(&first, id, vec![Part::Render(request)]);
        if calls.len() > 1 {
            self.member_renders.insert(id, calls.clone());
        }
        for call in calls {
            let Some(audio) = self.calls.get_mut(&call) else { continue };
            let overlay = audio.overlay.get_or_insert_with(Box::default);
            overlay.sounds.push((id, speech));
            overlay.waiting.push_back(Waiting { media: id, parts: sources.clone(), plays: Some(1) });
            let _ = flush(&mut overlay.waiting, &mut overlay.queue);
        }
    }

    /// Hands in the render of a REST sound to several members ([`Self::member_media`]) to
    /// each of them still waiting for it; false when none is.
    pub(super) fn provide_member_audio(&mut self, media: MediaId, part: u32, source: Source) -> bool {
        let mut any = false;
        for call in self.member_renders.remove(&media).unwrap_or_default() {
            if let Some(overlay) = self.calls.get_mut(&call).and_then(|a| a.overlay.as_mut()) {
                any |= overlay.provide(media, part, source.clone());
            }
        }
        any
    }

    /// The parts of `media` as sources: the ready ones at hand, the others asked of the
    /// shell ([`Work::Render`] under `call`) and `None` until they come.
    pub(super) fn render_parts(&mut self, call: &CallId, media: MediaId, parts: Vec<Part>) -> Vec<Option<Source>> {
        let mut sources = Vec::with_capacity(parts.len());
        for (i, part) in parts.into_iter().enumerate() {
            match part {
                Part::Ready(s) => sources.push(Some(s)),
                Part::Render(request) => {
                    sources.push(None);
                    let part = u32::try_from(i).unwrap_or(u32::MAX);
                    self.work.push_back(Work::Render { call: call.clone(), media, part, request });
                }
            }
        }
        sources
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{AudioMedia, AudioRequest, Work};
    use crate::engine::{CallId, Command, MediaId, MemberId, MemberMedia, RoomEvent, RoomSound};
    use crate::media::Media;
    use crate::media::mix::MAX_QUEUED;

    fn id(s: &str) -> CallId {
        CallId::from(s.to_owned())
    }

    fn joined(m: &mut AudioMedia, call: &str, member: u32) {
        m.handle_command(Duration::ZERO, &id(call), &Command::Answer);
        let event = RoomEvent::Joined {
            call: id(call),
            room: "r".into(),
            uuid: "u".into(),
            member_id: MemberId(member),
            started: true,
            first: member == 1,
            muted: false,
            held: false,
        };
        m.handle_room_event(Duration::ZERO, &event);
    }

    fn renders(m: &mut AudioMedia) -> Vec<(CallId, AudioRequest)> {
        std::iter::from_fn(|| m.poll_work())
            .filter_map(|w| match w {
                Work::Render { call, request, .. } => Some((call, request)),
                _ => None,
            })
            .collect()
    }

    /// An `enterSound` document that needs rendering.
    fn welcome() -> Command {
        let doc = crate::xml::parse("<Response><Speak>Welcome</Speak></Response>").document;
        Command::RoomSound {
            kind: crate::engine::RoomKind::Conference,
            room: "r".into(),
            sound: RoomSound::Sounds(std::sync::Arc::new(doc)),
            what: "enterSound",
        }
    }

    /// The renders asked of the shell, by call, media and part.
    fn render_ids(m: &mut AudioMedia) -> Vec<(CallId, MediaId, u32)> {
        std::iter::from_fn(|| m.poll_work())
            .filter_map(|w| match w {
                Work::Render { call, media, part, .. } => Some((call, media, part)),
                _ => None,
            })
            .collect()
    }

    fn speak_to(members: &[u32]) -> RoomEvent {
        let media = MemberMedia::Speak { text: "hi".into(), voice: "MAN".into(), language: "bad tag!".into() };
        let members = members.iter().map(|m| MemberId(*m)).collect();
        RoomEvent::Media { room: "r".into(), members, media: Box::new(media) }
    }

    #[test]
    fn rest_speech_is_rendered_for_the_named_members_present_only() {
        let mut m = AudioMedia::new();
        joined(&mut m, "a", 1);
        joined(&mut m, "b", 2);
        renders(&mut m);
        m.handle_room_event(Duration::ZERO, &speak_to(&[2, 7]));
        let asked = renders(&mut m);
        assert_eq!(asked.len(), 1, "member 7 is not in the room: {asked:?}");
        let Some((call, AudioRequest::Speak { voice, language, .. })) = asked.first() else {
            panic!("not speech: {asked:?}")
        };
        assert_eq!(call, &id("b"));
        assert_eq!((format!("{voice:?}"), language.as_str()), ("Man".to_owned(), "en-US"), "a bad tag: en-US");
    }

    #[test]
    fn one_render_serves_every_named_member() {
        let mut m = AudioMedia::new();
        joined(&mut m, "a", 1);
        joined(&mut m, "b", 2);
        renders(&mut m);
        m.handle_room_event(Duration::ZERO, &speak_to(&[1, 2]));
        let asked = render_ids(&mut m);
        let [(call, media, part)] = asked.as_slice() else { panic!("one render for both: {asked:?}") };
        assert!(m.provide_audio(call, *media, *part, Some(vec![1000; 160].into())));
        assert!(m.member_renders.is_empty(), "the entry goes with its render");
        for c in ["a", "b"] {
            let queued = m.calls.get(&id(c)).and_then(|a| a.overlay.as_ref()).is_some_and(|o| o.queue.contains(*media));
            assert!(queued, "{c} plays it");
        }
    }

    #[test]
    fn a_members_rest_sounds_are_bounded_and_end_when_it_leaves() {
        let mut m = AudioMedia::new();
        joined(&mut m, "a", 1);
        renders(&mut m);
        for _ in 0..MAX_QUEUED + 8 {
            m.handle_room_event(Duration::ZERO, &speak_to(&[1]));
        }
        assert_eq!(renders(&mut m).len(), MAX_QUEUED, "a flood beyond the bound is not played");
        let left = RoomEvent::Left {
            call: id("a"),
            room: "r".into(),
            uuid: "u".into(),
            member_id: MemberId(1),
            reason: crate::engine::LeaveReason::Kicked,
            last: true,
            recording: None,
        };
        m.handle_room_event(Duration::ZERO, &left);
        assert!(m.calls.get(&id("a")).is_some_and(|a| a.overlay.is_none() && a.member.is_none()));
        assert!(m.rooms.is_empty(), "the room went with its last member");
        m.handle_room_event(Duration::ZERO, &speak_to(&[1]));
        assert!(renders(&mut m).is_empty(), "no room, no sound");
    }

    #[test]
    fn room_sounds_rendered_out_of_order_play_in_order_and_leave_no_entry() {
        let mut m = AudioMedia::new();
        joined(&mut m, "a", 1);
        renders(&mut m);
        let sound = welcome();
        m.handle_command(Duration::ZERO, &id("a"), &sound);
        m.handle_command(Duration::ZERO, &id("a"), &sound);
        let asked = render_ids(&mut m);
        let [(c1, m1, p1), (c2, m2, p2)] = asked.as_slice() else { panic!("two renders: {asked:?}") };
        let pcm: std::sync::Arc<[i16]> = vec![1000; 160].into();
        assert!(m.provide_audio(c2, *m2, *p2, Some(pcm.clone())), "the second comes first");
        assert_eq!(m.room_renders.len(), 2, "it waits behind the first");
        assert!(m.provide_audio(c1, *m1, *p1, Some(pcm)));
        assert!(m.room_renders.is_empty(), "both moved to the room: no entry left");
    }

    #[test]
    fn room_sounds_waiting_for_a_render_are_bounded_and_go_with_the_room() {
        let mut m = AudioMedia::new();
        joined(&mut m, "a", 1);
        renders(&mut m);
        let sound = welcome();
        for _ in 0..MAX_QUEUED + 3 {
            m.handle_command(Duration::ZERO, &id("a"), &sound);
        }
        let asked = renders(&mut m);
        assert_eq!(asked.len(), MAX_QUEUED);
        assert_eq!(m.room_renders.len(), MAX_QUEUED);
        m.call_ended(&id("a"));
        assert!(m.rooms.is_empty() && m.room_renders.is_empty(), "nothing waits for a room that is gone");
    }
}
