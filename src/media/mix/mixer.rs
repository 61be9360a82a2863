//! A room's mix: every member hears the sum of the others (N−1) and the room's sounds.

use thiserror::Error;

use super::{FRAME_SAMPLES, Frame, PlayQueue, SILENCE};
use crate::engine::MediaId;

/// Most members one [`Mixer`] holds. Plivo caps a `<Conference>` at 20 members
/// (`maxMembers`) and plivoframework at 200; [`Mixer::add`] refuses beyond this.
pub const MAX_MEMBERS: usize = 256;

/// Why a [`Mixer`] call failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MixerError {
    /// [`MAX_MEMBERS`] members are in the mix already.
    #[error("the mix holds {MAX_MEMBERS} members already")]
    Full,
    /// The key names no member (it left, or came from another mixer).
    #[error("no such member in the mix")]
    NoMember,
}

/// How a member takes part (`<Conference muted deaf>`, REST `Mute`/`Deaf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemberAudio {
    /// The others do not hear it.
    pub muted: bool,
    /// It hears nothing of the room.
    pub deaf: bool,
}

/// Names a member of one [`Mixer`]; stale once the member is removed (a later member in the
/// same slot gets another generation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberKey {
    index: u32,
    generation: u32,
}

#[derive(Debug)]
struct Slot {
    generation: u32,
    member: Option<Member>,
}

#[derive(Debug)]
struct Member {
    audio: MemberAudio,
    input: Frame,
    output: Frame,
}

/// The N−1 mix of one room, one 20 ms tick at a time.
///
/// Each tick the shell writes what every member said into [`input_mut`](Self::input_mut)
/// (a member whose packet did not come says nothing: inputs are silent again after each
/// [`mix`](Self::mix)), calls `mix`, and sends each member its [`output`](Self::output). A
/// member hears the sum of the other members that are not muted, plus the room's sounds
/// ([`room_mut`](Self::room_mut): enter/exit sounds, REST `Play`/`Speak` to the room), clipped
/// to 16 bits; a deaf member hears silence. The cost is linear in the members.
#[derive(Debug)]
pub struct Mixer {
    slots: Vec<Slot>,
    free: Vec<u32>,
    members: usize,
    room: PlayQueue,
    /// The last tick's whole mix: every member not muted, and the room's sounds.
    total: Frame,
}

impl Default for Mixer {
    fn default() -> Self {
        Mixer { slots: Vec::new(), free: Vec::new(), members: 0, room: PlayQueue::new(), total: SILENCE }
    }
}

impl Mixer {
    /// An empty mix.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many members it holds.
    pub fn len(&self) -> usize {
        self.members
    }

    /// Whether it holds no member.
    pub fn is_empty(&self) -> bool {
        self.members == 0
    }

    /// Adds a member, silent until its first input.
    ///
    /// # Errors
    /// [`MixerError::Full`] at [`MAX_MEMBERS`].
    pub fn add(&mut self, audio: MemberAudio) -> Result<MemberKey, MixerError> {
        if self.members >= MAX_MEMBERS {
            return Err(MixerError::Full);
        }
        let member = Some(Member { audio, input: SILENCE, output: SILENCE });
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot { generation: 0, member: None });
                u32::try_from(self.slots.len() - 1).map_err(|_| MixerError::Full)?
            }
        };
        let slot = self.slots.get_mut(index as usize).ok_or(MixerError::Full)?;
        slot.member = member;
        self.members += 1;
        Ok(MemberKey { index, generation: slot.generation })
    }

    /// Takes a member out of the mix (it left or was kicked): from the next tick nobody hears
    /// it.
    ///
    /// # Errors
    /// [`MixerError::NoMember`] for a stale key.
    pub fn remove(&mut self, key: MemberKey) -> Result<(), MixerError> {
        let slot = self.slot_mut(key)?;
        slot.member = None;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(key.index);
        self.members -= 1;
        Ok(())
    }

    /// Changes how a member takes part.
    ///
    /// # Errors
    /// [`MixerError::NoMember`] for a stale key.
    pub fn set_audio(&mut self, key: MemberKey, audio: MemberAudio) -> Result<(), MixerError> {
        self.member_mut(key)?.audio = audio;
        Ok(())
    }

    /// How a member takes part.
    ///
    /// # Errors
    /// [`MixerError::NoMember`] for a stale key.
    pub fn audio(&self, key: MemberKey) -> Result<MemberAudio, MixerError> {
        Ok(self.member(key)?.audio)
    }

    /// What the member says this tick.
    ///
    /// # Errors
    /// [`MixerError::NoMember`] for a stale key.
    pub fn input_mut(&mut self, key: MemberKey) -> Result<&mut Frame, MixerError> {
        Ok(&mut self.member_mut(key)?.input)
    }

    /// What the member hears, as of the last [`mix`](Self::mix).
    ///
    /// # Errors
    /// [`MixerError::NoMember`] for a stale key.
    pub fn output(&self, key: MemberKey) -> Result<&Frame, MixerError> {
        Ok(&self.member(key)?.output)
    }

    /// The sounds played into the room: every member that is not deaf hears them.
    pub fn room_mut(&mut self) -> &mut PlayQueue {
        &mut self.room
    }

    /// Mixes one tick. Room sounds that ended in it are pushed onto `finished`.
    pub fn mix(&mut self, finished: &mut Vec<MediaId>) {
        let mut room = SILENCE;
        self.room.next_frame(&mut room, finished);
        let mut total = [0i32; FRAME_SAMPLES];
        for (t, &r) in total.iter_mut().zip(room.iter()) {
            *t = i32::from(r);
        }
        for m in self.slots.iter().filter_map(|s| s.member.as_ref()) {
            if !m.audio.muted {
                for (t, &s) in total.iter_mut().zip(m.input.iter()) {
                    *t += i32::from(s);
                }
            }
        }
        for m in self.slots.iter_mut().filter_map(|s| s.member.as_mut()) {
            if m.audio.deaf {
                m.output = SILENCE;
            } else if m.audio.muted {
                for (o, &t) in m.output.iter_mut().zip(total.iter()) {
                    *o = saturate(t);
                }
            } else {
                for ((o, &t), &own) in m.output.iter_mut().zip(total.iter()).zip(m.input.iter()) {
                    *o = saturate(t - i32::from(own));
                }
            }
            m.input = SILENCE;
        }
        for (o, &t) in self.total.iter_mut().zip(total.iter()) {
            *o = saturate(t);
        }
    }

    /// The last [`mix`](Self::mix)'s whole room: every member that is not muted and the
    /// room's sounds, clipped to 16 bits (what a conference recording takes).
    pub fn total(&self) -> &Frame {
        &self.total
    }

    fn slot_mut(&mut self, key: MemberKey) -> Result<&mut Slot, MixerError> {
        match self.slots.get_mut(key.index as usize) {
            Some(slot) if slot.generation == key.generation && slot.member.is_some() => Ok(slot),
            _ => Err(MixerError::NoMember),
        }
    }

    fn member_mut(&mut self, key: MemberKey) -> Result<&mut Member, MixerError> {
        self.slot_mut(key)?.member.as_mut().ok_or(MixerError::NoMember)
    }

    fn member(&self, key: MemberKey) -> Result<&Member, MixerError> {
        match self.slots.get(key.index as usize) {
            Some(slot) if slot.generation == key.generation => slot.member.as_ref().ok_or(MixerError::NoMember),
            _ => Err(MixerError::NoMember),
        }
    }
}

fn saturate(v: i32) -> i16 {
    v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::mix::{Source, goertzel_power};

    fn tone(freq: f64, tick: usize) -> Frame {
        let mut f = SILENCE;
        for (i, s) in f.iter_mut().enumerate() {
            let t = (tick * FRAME_SAMPLES + i) as f64 / 8000.0;
            *s = (8000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16;
        }
        f
    }

    /// Mixes `ticks` ticks where member i says a tone of `freqs[i]`; returns what each heard.
    fn run(m: &mut Mixer, keys: &[MemberKey], freqs: &[f64], ticks: usize) -> Vec<Vec<i16>> {
        let mut heard = vec![Vec::new(); keys.len()];
        let mut done = Vec::new();
        for tick in 0..ticks {
            for (k, f) in keys.iter().zip(freqs) {
                *m.input_mut(*k).unwrap() = tone(*f, tick);
            }
            m.mix(&mut done);
            for (h, k) in heard.iter_mut().zip(keys) {
                h.extend_from_slice(m.output(*k).unwrap());
            }
        }
        heard
    }

    fn hears(pcm: &[i16], freq: f64) -> bool {
        goertzel_power(pcm, freq, 8000) > 0.005
    }

    const FREQS: [f64; 3] = [440.0, 880.0, 1320.0];

    #[test]
    fn each_member_hears_the_others_but_not_itself() {
        let mut m = Mixer::new();
        let keys: Vec<_> = (0..3).map(|_| m.add(MemberAudio::default()).unwrap()).collect();
        let heard = run(&mut m, &keys, &FREQS, 10);
        for (i, h) in heard.iter().enumerate() {
            for (j, f) in FREQS.iter().enumerate() {
                assert_eq!(hears(h, *f), i != j, "member {i} and the tone of {j}");
            }
        }
    }

    #[test]
    fn muted_is_not_heard_deaf_hears_nothing() {
        let mut m = Mixer::new();
        let keys: Vec<_> = (0..3).map(|_| m.add(MemberAudio::default()).unwrap()).collect();
        m.set_audio(keys[0], MemberAudio { muted: true, deaf: false }).unwrap();
        m.set_audio(keys[1], MemberAudio { muted: false, deaf: true }).unwrap();
        let heard = run(&mut m, &keys, &FREQS, 10);
        assert!(!hears(&heard[2], 440.0) && hears(&heard[2], 880.0));
        assert!(hears(&heard[0], 880.0) && hears(&heard[0], 1320.0), "a muted member still hears");
        assert!(heard[1].iter().all(|&s| s == 0));
    }

    #[test]
    fn a_removed_member_is_gone_from_the_next_tick_and_its_key_goes_stale() {
        let mut m = Mixer::new();
        let keys: Vec<_> = (0..2).map(|_| m.add(MemberAudio::default()).unwrap()).collect();
        m.remove(keys[0]).unwrap();
        assert_eq!(m.remove(keys[0]), Err(MixerError::NoMember));
        let again = m.add(MemberAudio::default()).unwrap();
        assert_ne!(again, keys[0]);
        assert_eq!(m.output(keys[0]), Err(MixerError::NoMember));
        let heard = run(&mut m, &[again, keys[1]], &FREQS[..2], 5);
        assert!(hears(&heard[1], 440.0));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn room_sounds_reach_all_but_the_deaf_and_loud_sums_clip() {
        let mut m = Mixer::new();
        let a = m.add(MemberAudio::default()).unwrap();
        let b = m.add(MemberAudio { muted: false, deaf: true }).unwrap();
        m.room_mut().push(MediaId(9), vec![Source::beeps(1)], Some(1)).unwrap();
        let mut done = Vec::new();
        m.mix(&mut done);
        assert!(hears(m.output(a).unwrap(), 1000.0));
        assert_eq!(m.output(b).unwrap(), &SILENCE);
        let c = m.add(MemberAudio::default()).unwrap();
        *m.input_mut(b).unwrap() = [i16::MAX; FRAME_SAMPLES];
        *m.input_mut(c).unwrap() = [i16::MAX; FRAME_SAMPLES];
        m.room_mut().clear();
        m.mix(&mut done);
        assert_eq!(m.output(a).unwrap(), &[i16::MAX; FRAME_SAMPLES]);
        assert!(done.is_empty());
        for _ in 0..30 {
            m.room_mut().push(MediaId(10), vec![Source::silence_ms(10)], Some(1)).unwrap();
            m.mix(&mut done);
        }
        assert_eq!(done.len(), 30, "room sounds report when they end");
    }

    #[test]
    fn the_mix_is_bounded() {
        let mut m = Mixer::new();
        for _ in 0..MAX_MEMBERS {
            m.add(MemberAudio::default()).unwrap();
        }
        assert_eq!(m.add(MemberAudio::default()), Err(MixerError::Full));
    }
}
