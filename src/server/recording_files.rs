//! The finished recording files of `serve --sip`: real audio, kept in memory by the last
//! segment of their URL (`{RecordingID}.wav`, and `{RecordingID}.mp3` for a recording of
//! `fileFormat` mp3) and served there ([`super::media_files`]).
//!
//! The SIP shell [`begin`](RecordingFiles::begin)s a file when a recording ends (on the driver
//! task, before the recording's action or callback goes out), encodes it (WAV, and MP3) off
//! the driver task and hands the bytes in with [`finish`](RecordingFiles::finish); a download that comes
//! meanwhile waits for them ([`RecordingFiles::wait`], at most [`FILE_WAIT`]).
//!
//! Bounded: at most [`MAX_FILES`] files (written or being written) and [`MAX_BYTES`] bytes of
//! written files; a file that would pass either bound makes room by dropping the oldest ones
//! (oldest begun first: at [`MAX_FILES`] the oldest of all, at [`MAX_BYTES`] the oldest written
//! ones), whose URLs then answer the JSON 404 of a missing file, counted in
//! [`RecordingFiles::dropped`]. `DELETE
//! Recording/{id}/` removes its file ([`RecordingFiles::remove`]). Plain `serve` has no store:
//! its files are a synthetic tone made on request.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use tokio::sync::Notify;

/// Most files kept (written or being written); beyond, the oldest goes. A recording of mp3
/// has two (`.wav` and `.mp3`), so this is 500 to 1,000 recordings.
pub const MAX_FILES: usize = 1_000;

/// Most bytes of written files kept (256 MiB: about 4.6 hours of 8 kHz 16-bit audio); beyond,
/// the oldest files go. One file is at most 57.6 MB (an hour, `sip::recording`'s bound).
pub const MAX_BYTES: usize = 256 << 20;

/// Longest a download waits for a file still being written before it answers 404.
pub const FILE_WAIT: Duration = Duration::from_secs(10);

/// What the store has of a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Its file (WAV or MP3, as its key's extension says).
    Ready(Bytes),
    /// Its file is being written.
    Writing,
    /// No file: never begun, dropped at a bound, deleted, or refused ([`FileRefused`]).
    Missing,
}

/// Why [`RecordingFiles::finish`] kept no file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FileRefused {
    /// The file was not begun, or was dropped or deleted while it was being written.
    #[error("the recording's file was dropped or deleted while it was written")]
    Gone,
    /// The file alone is larger than [`MAX_BYTES`].
    #[error("the recording's file ({0} bytes) is larger than the store ({MAX_BYTES} bytes)")]
    TooLarge(usize),
}

#[derive(Debug, Default)]
struct Files {
    /// By id: `None` while being written.
    files: HashMap<String, Option<Bytes>>,
    /// Ids, oldest begun first (each id once).
    order: VecDeque<String>,
    /// Bytes of the written files.
    bytes: usize,
    /// Files dropped at a bound.
    dropped: u64,
}

impl Files {
    fn drop_oldest(&mut self) -> bool {
        let Some(old) = self.order.pop_front() else { return false };
        if let Some(Some(b)) = self.files.remove(&old) {
            self.bytes -= b.len();
        }
        self.dropped += 1;
        true
    }

    fn remove(&mut self, id: &str) -> bool {
        let Some(file) = self.files.remove(id) else { return false };
        if let Some(b) = file {
            self.bytes -= b.len();
        }
        self.order.retain(|o| o != id);
        true
    }
}

/// The store of finished recording files, shared by the SIP shell (which writes them), the
/// media path (which serves them) and the driver's handle (which deletes them). Cloning gives
/// another handle to the same store.
#[derive(Debug, Clone, Default)]
pub struct RecordingFiles {
    inner: Arc<Mutex<Files>>,
    changed: Arc<Notify>,
}

impl RecordingFiles {
    /// An empty store.
    pub fn new() -> RecordingFiles {
        RecordingFiles::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Files> {
        // The store holds no invariant a panicking holder could break half-way that matters
        // more than serving on.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Marks `id`'s file as being written (a download waits for it). At [`MAX_FILES`], the
    /// oldest file goes. Beginning an id again starts its file over.
    pub fn begin(&self, id: &str) {
        let mut f = self.lock();
        f.remove(id);
        while f.files.len() >= MAX_FILES && f.drop_oldest() {}
        f.files.insert(id.to_owned(), None);
        f.order.push_back(id.to_owned());
        drop(f);
        self.changed.notify_waiters();
    }

    /// Hands in `id`'s written file; the oldest files go until it fits within [`MAX_BYTES`].
    ///
    /// # Errors
    /// [`FileRefused::Gone`] when `id` is not being written (never begun, dropped at a bound,
    /// or deleted meanwhile: the file is not kept), [`FileRefused::TooLarge`] when the file
    /// alone passes [`MAX_BYTES`] (the id is then missing).
    pub fn finish(&self, id: &str, wav: Bytes) -> Result<(), FileRefused> {
        let mut f = self.lock();
        let result = match f.files.get(id) {
            Some(None) if wav.len() > MAX_BYTES => {
                f.remove(id);
                Err(FileRefused::TooLarge(wav.len()))
            }
            Some(None) => {
                // The oldest written files go (those being written hold no bytes yet).
                while f.bytes + wav.len() > MAX_BYTES {
                    let Some(old) = f.order.iter().find(|o| f.files.get(*o).is_some_and(Option::is_some)).cloned()
                    else {
                        break;
                    };
                    f.remove(&old);
                    f.dropped += 1;
                }
                f.bytes += wav.len();
                f.files.insert(id.to_owned(), Some(wav));
                Ok(())
            }
            _ => Err(FileRefused::Gone),
        };
        drop(f);
        self.changed.notify_waiters();
        result
    }

    /// What the store has of `id`, now.
    pub fn get(&self, id: &str) -> Lookup {
        match self.lock().files.get(id) {
            Some(Some(b)) => Lookup::Ready(b.clone()),
            Some(None) => Lookup::Writing,
            None => Lookup::Missing,
        }
    }

    /// `id`'s file, waiting up to `within` while it is being written: [`Lookup::Writing`]
    /// only when it still is then.
    pub async fn wait(&self, id: &str, within: Duration) -> Lookup {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before looking, so that a change between the look and the wait
            // wakes it.
            changed.as_mut().enable();
            let found = self.get(id);
            if found != Lookup::Writing {
                return found;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.get(id);
            }
        }
    }

    /// Removes `id`'s file (written or being written); false when there was none.
    pub fn remove(&self, id: &str) -> bool {
        let removed = self.lock().remove(id);
        if removed {
            self.changed.notify_waiters();
        }
        removed
    }

    /// Files kept (written or being written) and bytes of the written ones.
    pub fn len_and_bytes(&self) -> (usize, usize) {
        let f = self.lock();
        (f.files.len(), f.bytes)
    }

    /// Files dropped at a bound so far.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(store: &RecordingFiles, id: &str, bytes: usize) {
        store.begin(id);
        assert_eq!(store.finish(id, Bytes::from(vec![0u8; bytes])), Ok(()));
    }

    #[test]
    fn at_max_files_the_oldest_goes() {
        let s = RecordingFiles::new();
        for i in 0..MAX_FILES {
            file(&s, &format!("r{i}"), 10);
        }
        assert_eq!(s.len_and_bytes(), (MAX_FILES, MAX_FILES * 10));
        s.begin("new");
        assert_eq!(s.get("r0"), Lookup::Missing, "the oldest went");
        assert_eq!(s.get("r1"), Lookup::Ready(Bytes::from(vec![0u8; 10])));
        assert_eq!(s.get("new"), Lookup::Writing);
        assert_eq!((s.len_and_bytes(), s.dropped()), ((MAX_FILES, (MAX_FILES - 1) * 10), 1));
    }

    #[test]
    fn at_max_bytes_the_oldest_go_until_the_new_one_fits() {
        let s = RecordingFiles::new();
        let third = MAX_BYTES / 3;
        file(&s, "a", third);
        file(&s, "b", third);
        file(&s, "c", third);
        assert_eq!(s.dropped(), 0);
        // A fourth third passes the bound by about a third: only the oldest goes.
        file(&s, "d", third);
        assert_eq!(s.get("a"), Lookup::Missing);
        assert!(matches!(s.get("b"), Lookup::Ready(_)));
        assert_eq!((s.len_and_bytes(), s.dropped()), ((3, 3 * third), 1));
        // Half the store: two more go.
        file(&s, "e", MAX_BYTES / 2);
        assert_eq!((s.get("b"), s.get("c")), (Lookup::Missing, Lookup::Missing));
        assert_eq!(s.len_and_bytes(), (2, third + MAX_BYTES / 2));
        assert!(s.len_and_bytes().1 <= MAX_BYTES);
    }

    #[test]
    fn a_file_begun_first_but_written_last_drops_the_written_ones_behind_it() {
        let s = RecordingFiles::new();
        s.begin("slow");
        file(&s, "x", MAX_BYTES / 2);
        file(&s, "y", MAX_BYTES / 4);
        assert_eq!(s.finish("slow", Bytes::from(vec![1u8; MAX_BYTES / 2])), Ok(()));
        assert_eq!(s.get("x"), Lookup::Missing);
        assert!(matches!(s.get("y"), Lookup::Ready(_)) && matches!(s.get("slow"), Lookup::Ready(_)));
        assert!(s.len_and_bytes().1 <= MAX_BYTES);
    }

    #[test]
    fn delete_removes_a_file_and_one_being_written_is_not_kept_after() {
        let s = RecordingFiles::new();
        file(&s, "a", 100);
        assert!(s.remove("a"));
        assert_eq!((s.get("a"), s.len_and_bytes()), (Lookup::Missing, (0, 0)));
        assert!(!s.remove("a"), "gone already");
        s.begin("b");
        assert!(s.remove("b"));
        assert_eq!(s.finish("b", Bytes::from_static(b"wav")), Err(FileRefused::Gone));
        assert_eq!(s.get("b"), Lookup::Missing, "deleted while written: not kept");
        assert_eq!(s.finish("never", Bytes::new()), Err(FileRefused::Gone));
        s.begin("big");
        assert_eq!(s.finish("big", Bytes::from(vec![0u8; MAX_BYTES + 1])), Err(FileRefused::TooLarge(MAX_BYTES + 1)));
        assert_eq!((s.get("big"), s.len_and_bytes()), (Lookup::Missing, (0, 0)));
    }

    #[tokio::test]
    async fn a_download_waits_for_a_file_being_written() {
        let s = RecordingFiles::new();
        s.begin("r");
        let writer = s.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = writer.finish("r", Bytes::from_static(b"RIFF"));
        });
        assert_eq!(s.wait("r", Duration::from_secs(5)).await, Lookup::Ready(Bytes::from_static(b"RIFF")));
        assert_eq!(s.wait("none", Duration::from_secs(5)).await, Lookup::Missing, "no wait for a missing file");
        s.begin("stuck");
        let started = std::time::Instant::now();
        assert_eq!(s.wait("stuck", Duration::from_millis(100)).await, Lookup::Writing);
        assert!(started.elapsed() >= Duration::from_millis(100));
    }
}
