//! A call's queue of media operations, played one after the other into its frames.

use std::collections::VecDeque;

use thiserror::Error;

use super::{FRAME_SAMPLES, Frame, Source};
use crate::engine::MediaId;

/// Most media operations a [`PlayQueue`] holds at once. The engine runs one at a time per
/// call (a `<Speak>` waits for its end before the next verb), so a full queue means a shell
/// bug or a flood of REST `Play`/`Speak`; [`PlayQueue::push`] refuses the rest.
pub const MAX_QUEUED: usize = 32;

/// Why [`PlayQueue::push`] refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QueueError {
    /// [`MAX_QUEUED`] operations are queued already.
    #[error("the play queue holds {MAX_QUEUED} operations already")]
    Full,
}

#[derive(Debug)]
struct Item {
    media: MediaId,
    sources: Vec<Source>,
    /// Plays left, counting the current one; `None`: forever (`loop="0"`).
    plays_left: Option<u32>,
    /// Where it is: which source, which sample of it.
    source: usize,
    position: u64,
}

impl Item {
    fn total(&self) -> u64 {
        self.sources.iter().map(Source::len).fold(0, u64::saturating_add)
    }

    fn is_done(&self) -> bool {
        self.plays_left == Some(0)
    }

    /// Moves past exhausted sources and finished plays, so that the item either is done or
    /// stands on a sample to play (or on nothing, when it loops forever without a sample).
    fn settle(&mut self) {
        loop {
            match self.sources.get(self.source) {
                Some(s) if self.position < s.len() => return,
                Some(_) => {
                    self.source += 1;
                    self.position = 0;
                }
                None if self.is_done() => return,
                None if self.total() == 0 => {
                    // Nothing to play: a counted item ends now (instead of looping `plays`
                    // times over nothing); one played forever stays, silent, until stopped.
                    if self.plays_left.is_some() {
                        self.plays_left = Some(0);
                    }
                    return;
                }
                None => {
                    self.plays_left = self.plays_left.map(|n| n.saturating_sub(1));
                    self.source = 0;
                    self.position = 0;
                }
            }
        }
    }

    /// Fills `out` from where the item is; returns how many samples it wrote, fewer than
    /// `out.len()` only when it is done.
    fn fill(&mut self, out: &mut [i16]) -> usize {
        let mut written = 0;
        loop {
            self.settle();
            if self.is_done() || written == out.len() {
                return written;
            }
            let Some(rest) = out.get_mut(written..) else { return written };
            match self.sources.get(self.source) {
                Some(source) => {
                    let n = source.render(self.position, rest);
                    written += n;
                    self.position += n as u64;
                }
                None => {
                    rest.fill(0);
                    return out.len();
                }
            }
        }
    }
}

/// What a call plays: media operations in order, each a list of [`Source`]s played
/// `plays` times, reported by their [`MediaId`] when they end (never for one played forever,
/// nor for one stopped).
#[derive(Debug, Default)]
pub struct PlayQueue {
    items: VecDeque<Item>,
}

impl PlayQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `sources` under `media`, to play `plays` times (`None`: until stopped, Plivo's
    /// `loop="0"`; `Some(0)` ends at the next frame without a sound).
    ///
    /// # Errors
    /// [`QueueError::Full`] when [`MAX_QUEUED`] operations are queued.
    pub fn push(&mut self, media: MediaId, sources: Vec<Source>, plays: Option<u32>) -> Result<(), QueueError> {
        if self.items.len() >= MAX_QUEUED {
            return Err(QueueError::Full);
        }
        self.items.push_back(Item { media, sources, plays_left: plays, source: 0, position: 0 });
        Ok(())
    }

    /// Drops `media` wherever it is in the queue (barge-in, `StopMedia`); it is not reported.
    /// Returns whether it was there.
    pub fn stop(&mut self, media: MediaId) -> bool {
        let before = self.items.len();
        self.items.retain(|i| i.media != media);
        self.items.len() != before
    }

    /// Drops everything (the call ended).
    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// Whether nothing is queued.
    pub fn is_idle(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether `media` is queued or playing.
    pub fn contains(&self, media: MediaId) -> bool {
        self.items.iter().any(|i| i.media == media)
    }

    /// The next 20 ms: the queue's sound (silence where it has none), gapless from one
    /// operation to the next. Each operation that ended in it is pushed onto `finished`, in
    /// order.
    pub fn next_frame(&mut self, out: &mut Frame, finished: &mut Vec<MediaId>) {
        let mut written = 0;
        while written < FRAME_SAMPLES {
            let Some(item) = self.items.front_mut() else { break };
            written += item.fill(&mut out[written..]);
            if item.is_done() {
                finished.push(item.media);
                self.items.pop_front();
            }
        }
        out[written..].fill(0);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::media::mix::SILENCE;

    fn pcm(n: usize, v: i16) -> Source {
        Source::Pcm(Arc::from(vec![v; n]))
    }

    #[test]
    fn operations_play_gaplessly_and_report_in_order() {
        let mut q = PlayQueue::new();
        q.push(MediaId(1), vec![pcm(100, 5)], Some(1)).unwrap();
        q.push(MediaId(2), vec![pcm(30, 7), pcm(10, 9)], Some(2)).unwrap();
        let (mut f, mut done) = (SILENCE, Vec::new());
        q.next_frame(&mut f, &mut done);
        assert_eq!(done, vec![MediaId(1)]);
        assert!(f[..100].iter().all(|&s| s == 5));
        assert!(f[100..130].iter().all(|&s| s == 7) && f[130..140].iter().all(|&s| s == 9));
        assert!(f[140..].iter().all(|&s| s == 7), "the second play starts at once");
        q.next_frame(&mut f, &mut done);
        assert_eq!(done, vec![MediaId(1), MediaId(2)]);
        assert!(f[..10].iter().all(|&s| s == 7) && f[10..20].iter().all(|&s| s == 9));
        assert!(f[20..].iter().all(|&s| s == 0));
        assert!(q.is_idle());
    }

    #[test]
    fn forever_is_never_reported_and_stop_is_silent() {
        let mut q = PlayQueue::new();
        q.push(MediaId(3), vec![pcm(50, 1)], None).unwrap();
        let (mut f, mut done) = (SILENCE, Vec::new());
        for _ in 0..20 {
            q.next_frame(&mut f, &mut done);
            assert!(f.iter().all(|&s| s == 1));
        }
        assert!(done.is_empty());
        assert!(q.stop(MediaId(3)));
        assert!(!q.stop(MediaId(3)));
        q.next_frame(&mut f, &mut done);
        assert_eq!(f, SILENCE);
        assert!(done.is_empty());
    }

    #[test]
    fn empty_operations_end_at_once_and_an_empty_loop_does_not_spin() {
        let mut q = PlayQueue::new();
        q.push(MediaId(4), vec![], Some(3)).unwrap();
        q.push(MediaId(5), vec![pcm(0, 1)], Some(0)).unwrap();
        q.push(MediaId(6), vec![Source::Silence(0)], None).unwrap();
        let (mut f, mut done) = (SILENCE, Vec::new());
        q.next_frame(&mut f, &mut done);
        assert_eq!(done, vec![MediaId(4), MediaId(5)]);
        assert_eq!(f, SILENCE);
        assert!(q.contains(MediaId(6)));
    }

    #[test]
    fn an_operation_ending_on_a_frame_boundary_is_reported_in_that_frame() {
        let mut q = PlayQueue::new();
        q.push(MediaId(7), vec![pcm(80, 2)], Some(2)).unwrap();
        let (mut f, mut done) = (SILENCE, Vec::new());
        q.next_frame(&mut f, &mut done);
        assert_eq!(done, vec![MediaId(7)]);
        assert!(f.iter().all(|&s| s == 2));
    }

    #[test]
    fn the_queue_is_bounded() {
        let mut q = PlayQueue::new();
        for i in 0..MAX_QUEUED as u64 {
            q.push(MediaId(i), vec![], Some(1)).unwrap();
        }
        assert_eq!(q.push(MediaId(99), vec![], Some(1)), Err(QueueError::Full));
    }
}
