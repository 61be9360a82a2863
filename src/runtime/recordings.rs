//! [`Recordings`]: the recording files a runtime's calls and rooms made, for Plivo's Recording
//! API (<https://www.plivo.com/docs/voice/api/recording/>): a file is listed once it is in
//! (the media reported it finished), most recent first, until it is deleted or
//! [`MAX_RECORDINGS`] newer ones push it out.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use crate::engine::{CallId, MediaId, RecordingId};
use crate::xml::values::FileFormat;

/// The most finished recordings kept; the oldest is forgotten when another comes in.
pub const MAX_RECORDINGS: usize = 10_000;

/// The most recordings of one call running at once that are tracked; later ones still run
/// and call back, but are not listed.
pub const MAX_RUNNING_PER_CALL: usize = 64;

/// What a recording is of (Plivo's `recording_type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingSource {
    /// A call's: `<Record>`, `recordSession`, `startOnDialAnswer` or `POST Call/{uuid}/Record/`.
    Call {
        /// The call.
        call: CallId,
        /// Its `from`.
        from: String,
        /// Its `to`.
        to: String,
    },
    /// A conference's (`<Conference record>`, `POST Conference/{name}/Record/`).
    Conference {
        /// The room's name.
        name: Arc<str>,
        /// The room's UUID.
        uuid: String,
    },
}

/// One recording file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// `recording_id`.
    pub id: RecordingId,
    /// `recording_url`.
    pub url: String,
    /// mp3 or wav.
    pub format: FileFormat,
    /// Whose it is.
    pub source: RecordingSource,
    /// When it started (runtime time).
    pub started_at: Duration,
    /// When its file came in (runtime time; Plivo's `add_time`).
    pub added_at: Duration,
    /// Its length in milliseconds.
    pub duration_ms: u64,
}

impl Recording {
    /// Plivo's `recording_type`: `call` or `conference`.
    pub fn kind(&self) -> &'static str {
        match self.source {
            RecordingSource::Call { .. } => "call",
            RecordingSource::Conference { .. } => "conference",
        }
    }

    /// The call it is of, if a call's.
    pub fn call(&self) -> Option<&CallId> {
        match &self.source {
            RecordingSource::Call { call, .. } => Some(call),
            RecordingSource::Conference { .. } => None,
        }
    }
}

/// The recordings of a runtime: those running (by call and media id) and those finished.
#[derive(Debug, Default)]
pub struct Recordings {
    running: HashMap<CallId, Vec<(MediaId, Recording)>>,
    done: VecDeque<Recording>,
}

impl Recordings {
    /// A call's recording `media` started (its `duration_ms` and `added_at` are filled in
    /// when it finishes).
    pub(crate) fn started(&mut self, call: &CallId, media: MediaId, recording: Recording) {
        let list = self.running.entry(call.clone()).or_default();
        if list.len() < MAX_RUNNING_PER_CALL {
            list.push((media, recording));
        }
    }

    /// A call's recording `media` finished at `now`, `duration_ms` long: it is listed.
    pub(crate) fn finished(&mut self, now: Duration, call: &CallId, media: MediaId, duration_ms: u64) {
        let Some(list) = self.running.get_mut(call) else { return };
        let Some(pos) = list.iter().position(|(m, _)| *m == media) else { return };
        let (_, mut rec) = list.swap_remove(pos);
        if list.is_empty() {
            self.running.remove(call);
        }
        rec.added_at = now;
        rec.duration_ms = duration_ms;
        self.add(rec);
    }

    /// A finished recording (a room's) is listed.
    pub(crate) fn add(&mut self, recording: Recording) {
        if self.done.len() == MAX_RECORDINGS {
            self.done.pop_front();
        }
        self.done.push_back(recording);
    }

    /// `call` is forgotten: its recordings that never finished are dropped.
    pub(crate) fn forget(&mut self, call: &CallId) {
        self.running.remove(call);
    }

    /// The finished recordings, most recent first.
    pub fn iter(&self) -> impl Iterator<Item = &Recording> {
        self.done.iter().rev()
    }

    /// The finished recording `id`.
    pub fn get(&self, id: &str) -> Option<&Recording> {
        self.done.iter().find(|r| &*r.id == id)
    }

    /// Deletes the finished recording `id`; false when there is none.
    pub fn delete(&mut self, id: &str) -> bool {
        let before = self.done.len();
        self.done.retain(|r| &*r.id != id);
        self.done.len() != before
    }

    /// How many recordings are running and tracked.
    pub fn running(&self) -> usize {
        self.running.values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, call: &str) -> Recording {
        Recording {
            id: RecordingId::from(id),
            url: format!("https://media.example/{id}.mp3"),
            format: FileFormat::Mp3,
            source: RecordingSource::Call { call: CallId::from(call), from: "1".into(), to: "2".into() },
            started_at: Duration::ZERO,
            added_at: Duration::ZERO,
            duration_ms: 0,
        }
    }

    #[test]
    fn a_recording_is_listed_once_its_file_is_in_and_until_deleted() {
        let mut r = Recordings::default();
        let call = CallId::from("c1");
        r.started(&call, MediaId(1), rec("r1", "c1"));
        r.started(&call, MediaId(2), rec("r2", "c1"));
        assert_eq!(r.iter().count(), 0);
        r.finished(Duration::from_secs(3), &call, MediaId(2), 2500);
        r.finished(Duration::from_secs(4), &call, MediaId(1), 4000);
        r.finished(Duration::from_secs(5), &call, MediaId(1), 1);
        let ids: Vec<&str> = r.iter().map(|x| &*x.id).collect();
        assert_eq!(ids, ["r1", "r2"], "most recent first, each once");
        assert_eq!(r.get("r2").map(|x| (x.duration_ms, x.added_at)), Some((2500, Duration::from_secs(3))));
        assert_eq!(r.running(), 0);
        assert!(r.delete("r2") && !r.delete("r2"));
        assert!(r.get("r2").is_none());
    }

    #[test]
    fn the_lists_are_bounded() {
        let mut r = Recordings::default();
        for i in 0..MAX_RECORDINGS + 3 {
            r.add(rec(&format!("r{i}"), "c"));
        }
        assert_eq!(r.iter().count(), MAX_RECORDINGS);
        assert!(r.get("r0").is_none() && r.get("r3").is_some());
        let call = CallId::from("c");
        for i in 0..MAX_RUNNING_PER_CALL + 5 {
            r.started(&call, MediaId(i as u64), rec("x", "c"));
        }
        assert_eq!(r.running(), MAX_RUNNING_PER_CALL);
        r.forget(&call);
        assert_eq!(r.running(), 0);
    }
}
