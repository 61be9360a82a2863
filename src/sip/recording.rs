//! `serve --sip`'s recording files: the samples of each running recording gathered while it
//! runs, then written as a WAV (8 kHz mono 16-bit, [`audio_file::encode_wav`]) into the
//! server's store ([`RecordingFiles`]) when it ends.
//!
//! The shell takes every running recording's samples from the media every
//! [`TAKE_EVERY_TICKS`] ticks (1 s; [`AudioMedia::take_recorded`], so the media's own buffer
//! stays far below its 60 s [`crate::media::MAX_RECORDED_SAMPLES`]) and appends them here; on
//! [`Work::RecordingDone`](crate::media::Work) it takes the last ones, begins the file in the
//! store (on the driver task, so that a download after the recording's action or callback
//! finds it) and encodes it on a blocking thread.
//!
//! The file holds every sample the recording took: `RecordingDurationMs` × 8 of them (the
//! media counts 20 ms frames; the `<Record timeout>`'s silent tail is part of the recording,
//! as the engine reports it), unless some were lost at a bound:
//! - [`MAX_FILE_SAMPLES`] (one hour) per file: beyond, the file is cut there;
//! - [`MAX_PENDING_SAMPLES`] over all running recordings: samples that would pass it are
//!   dropped, the new ones (the files already gathered keep what they have).
//!
//! A recording that lost samples either way takes no more, so its file is always the
//! recording's beginning, without a gap, shorter than the duration by what was lost (counted in
//! [`Buffers::samples_lost`], logged when the file is written).

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use axum::body::Bytes;
use tokio::sync::Semaphore;

use super::audio_file;
use crate::engine::{CallId, MediaId, RecordingId};
use crate::media::AudioMedia;
use crate::server::recording_files::RecordingFiles;
use crate::xml::values::FileFormat;

/// How often the shell takes the running recordings' samples from the media: every 50 ticks
/// (1 s at 20 ms a tick).
pub const TAKE_EVERY_TICKS: u64 = 50;

/// Most samples of one file: an hour at 8 kHz (28.8 million samples, a 57.6 MB WAV).
pub const MAX_FILE_SAMPLES: usize = 3_600 * 8_000;

/// Most samples held over all running recordings: 64 Mi (128 MiB; 2.3 hours at 8 kHz).
pub const MAX_PENDING_SAMPLES: usize = 64 << 20;

/// One running recording's samples so far.
#[derive(Debug, Default)]
struct Buffer {
    samples: Vec<i16>,
    /// It lost samples at a bound and takes no more.
    full: bool,
}

/// The running recordings' samples, by call and media id (a call has at most
/// [`crate::media::MAX_RECORDINGS_PER_CALL`]); bounded as the module says.
#[derive(Debug, Default)]
pub struct Buffers {
    running: HashMap<CallId, Vec<(MediaId, Buffer)>>,
    /// Samples held in all.
    pending: usize,
    /// Samples lost at [`MAX_FILE_SAMPLES`].
    cut: u64,
    /// Samples lost at [`MAX_PENDING_SAMPLES`].
    dropped: u64,
}

impl Buffers {
    /// Appends what `media`'s recording of `call` recorded since last time, within the bounds.
    pub fn append(&mut self, call: &CallId, media: MediaId, samples: &[i16]) {
        if samples.is_empty() {
            return;
        }
        let of_call = self.running.entry(call.clone()).or_default();
        let i = match of_call.iter().position(|(m, _)| *m == media) {
            Some(i) => i,
            None => {
                of_call.push((media, Buffer::default()));
                of_call.len() - 1
            }
        };
        let Some((_, buffer)) = of_call.get_mut(i) else { return };
        if buffer.full {
            self.dropped += samples.len() as u64;
            return;
        }
        let file_room = MAX_FILE_SAMPLES.saturating_sub(buffer.samples.len());
        let pending_room = MAX_PENDING_SAMPLES.saturating_sub(self.pending);
        let take = samples.len().min(file_room).min(pending_room);
        buffer.samples.extend_from_slice(samples.get(..take).unwrap_or_default());
        self.pending += take;
        let lost = (samples.len() - take) as u64;
        if lost > 0 {
            buffer.full = true;
            if take == file_room {
                self.cut += lost;
            } else {
                self.dropped += lost;
            }
        }
    }

    /// Takes every running recording's samples from the media (those of the calls in
    /// `calls`).
    pub fn take_from<'a>(&mut self, media: &mut AudioMedia, calls: impl Iterator<Item = &'a CallId>) {
        for call in calls {
            let running: Vec<MediaId> = media.recordings_of(call).collect();
            for m in running {
                let samples = media.take_recorded(call, m);
                self.append(call, m, &samples);
            }
        }
    }

    /// The whole recording of `media`'s recording of `call`, which ended with `last` samples
    /// still in the media: it leaves the buffers.
    pub fn finish(&mut self, call: &CallId, media: MediaId, last: &[i16]) -> Vec<i16> {
        self.append(call, media, last);
        let Some(of_call) = self.running.get_mut(call) else { return Vec::new() };
        let Some(i) = of_call.iter().position(|(m, _)| *m == media) else { return Vec::new() };
        let (_, buffer) = of_call.swap_remove(i);
        if of_call.is_empty() {
            self.running.remove(call);
        }
        self.pending -= buffer.samples.len();
        buffer.samples
    }

    /// Takes every running room recording's samples from the media; each is kept under
    /// [`room_key`] as media 0.
    pub fn take_rooms_from(&mut self, media: &mut AudioMedia) {
        let running: Vec<RecordingId> = media.room_recordings().cloned().collect();
        for id in running {
            let samples = media.take_room_recorded(&id);
            self.append(&room_key(&id), MediaId(0), &samples);
        }
    }

    /// Drops what `call`'s recordings still hold (a forgotten call: its recordings' ends
    /// were handled, so nothing is normally left).
    pub fn forget(&mut self, call: &CallId) {
        for (_, b) in self.running.remove(call).unwrap_or_default() {
            self.pending -= b.samples.len();
        }
    }

    /// Samples held over all running recordings.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Samples lost so far: `(cut at MAX_FILE_SAMPLES, dropped at MAX_PENDING_SAMPLES)`.
    pub fn samples_lost(&self) -> (u64, u64) {
        (self.cut, self.dropped)
    }
}

/// Most recording files encoded at once (WAV and MP3); the others wait, their downloads
/// waiting with them (up to `FILE_WAIT`).
pub const MAX_ENCODES: usize = 4;

/// Longest the MP3 encoder may take over one recording's file (LAME encodes 8 kHz mono at
/// hundreds of times real time: an hour takes seconds).
pub const MP3_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Why a recording's MP3 file was not written (its WAV file still is).
#[derive(Debug, thiserror::Error)]
pub enum Mp3Error {
    /// The encoder could not be started (not installed: Debian's `lame`).
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// It failed, timed out ([`MP3_TIMEOUT`]) or wrote nothing.
    #[error("{program} failed: {why}")]
    Failed {
        /// The program.
        program: String,
        /// Its standard error, cut at 300 characters, or "timed out".
        why: String,
    },
}

/// Where [`Buffers`] keeps a room recording's samples: a key no call has (U+0001 is in no
/// `CallUUID`), from its `RecordingID`.
pub fn room_key(recording: &RecordingId) -> CallId {
    CallId::from(format!("\u{1}room recording {recording}"))
}

/// The store's key of a recording's file: `{RecordingID}.{wav|mp3}`, the last segment of
/// its URL.
pub fn file_key(recording: &str, extension: &str) -> String {
    format!("{recording}.{extension}")
}

/// Writes a finished recording's files: the WAV always, and the MP3 when its `fileFormat` is
/// mp3 and `mp3` names an encoder. Both are begun in `files` now (a download waits for
/// them), encoded off the driver task and handed in once written. `duration_ms` is the
/// engine's `RecordingDurationMs`; a file shorter than it (samples lost at a bound) is logged.
pub fn write_file(
    files: &RecordingFiles,
    encodes: &Arc<Semaphore>,
    recording: &RecordingId,
    format: FileFormat,
    mp3: Option<&Path>,
    samples: Vec<i16>,
    duration_ms: u64,
) {
    let expected = duration_ms.saturating_mul(8);
    if (samples.len() as u64) < expected {
        tracing::warn!(
            recording = %recording,
            "recording file cut: {} of {expected} samples kept (MAX_FILE_SAMPLES or MAX_PENDING_SAMPLES)",
            samples.len()
        );
    }
    let wav_key = file_key(recording.as_str(), "wav");
    let mp3_key = (format == FileFormat::Mp3).then(|| mp3.map(|p| (file_key(recording.as_str(), "mp3"), p.to_owned())));
    files.begin(&wav_key);
    if let Some(Some((key, _))) = &mp3_key {
        files.begin(key);
    }
    let (files, encodes) = (files.clone(), encodes.clone());
    tokio::spawn(async move {
        // At most MAX_ENCODES at once: 500 recordings ending together wait their turn rather
        // than start 500 threads and encoders.
        let Ok(_turn) = encodes.acquire_owned().await else { return };
        let Ok(wav) = tokio::task::spawn_blocking(move || Bytes::from(audio_file::encode_wav(&samples))).await else {
            files.remove(&wav_key);
            if let Some(Some((key, _))) = &mp3_key {
                files.remove(key);
            }
            return;
        };
        if let Err(e) = files.finish(&wav_key, wav.clone()) {
            tracing::debug!(recording = %wav_key, "recording file not kept: {e}");
        }
        let Some(Some((key, program))) = mp3_key else { return };
        match encode_mp3(&program, wav).await {
            Ok(mp3) => {
                if let Err(e) = files.finish(&key, Bytes::from(mp3)) {
                    tracing::debug!(recording = %key, "recording file not kept: {e}");
                }
            }
            Err(e) => {
                tracing::warn!(recording = %key, "no MP3 file: {e}");
                files.remove(&key);
            }
        }
    });
}

/// `wav` as MP3 by `program` (LAME's command line: `lame --quiet -b 32 - -`, the WAV on its
/// standard input, the MP3 on its output; 8 kHz mono is MPEG-2.5 layer III, here at 32 kbit/s,
/// 4 KB a second). An MP3 decodes about 0.2 s longer than its samples: LAME's encoder delay
/// and decoder delay (1,105 samples) and the padding of its last 576-sample frame, which no
/// tag tells decoders to trim (LAME writes its tag only into a file it can seek).
///
/// # Errors
/// [`Mp3Error::Spawn`] when it cannot start, [`Mp3Error::Failed`] when it fails, writes
/// nothing, or takes longer than [`MP3_TIMEOUT`].
pub async fn encode_mp3(program: &Path, wav: Bytes) -> Result<Vec<u8>, Mp3Error> {
    use tokio::io::AsyncWriteExt;
    let name = program.display().to_string();
    let failed = |why: String| Mp3Error::Failed { program: name.clone(), why };
    let mut child = tokio::process::Command::new(program)
        .args(["--quiet", "-b", "32", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| Mp3Error::Spawn { program: name.clone(), source })?;
    let mut stdin = child.stdin.take().ok_or_else(|| failed("no standard input".into()))?;
    // Written beside the read of its output, so that neither pipe fills up and blocks.
    let feed = async move {
        let _ = stdin.write_all(&wav).await;
        // Dropped here: the encoder sees the end of its input.
    };
    let run = async { tokio::join!(feed, child.wait_with_output()).1 };
    let out = tokio::time::timeout(MP3_TIMEOUT, run)
        .await
        .map_err(|_| failed("timed out".into()))?
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() || out.stdout.is_empty() {
        return Err(failed(String::from_utf8_lossy(&out.stderr).chars().take(300).collect()));
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(n: &str) -> CallId {
        CallId::from(n)
    }

    #[tokio::test]
    async fn an_mp3_is_made_by_lame_and_a_missing_encoder_is_a_spawn_error() {
        let missing = encode_mp3(Path::new("/nonexistent/lame"), Bytes::from_static(b"RIFF")).await;
        assert!(matches!(missing, Err(Mp3Error::Spawn { .. })), "{missing:?}");
        let refused = encode_mp3(Path::new("false"), Bytes::from_static(b"RIFF")).await;
        assert!(matches!(refused, Err(Mp3Error::Failed { .. })), "{refused:?}");
        if std::process::Command::new("lame").arg("--version").output().is_err() {
            assert!(std::env::var_os("PLIVO_FLOW_REQUIRE_PEERS").is_none(), "needs lame (.ci/run installs it)");
            return;
        }
        // A second of a 1 kHz tone.
        let tone: Vec<i16> = (0..8_000)
            .map(|i| (8_000.0 * (std::f64::consts::TAU * 1_000.0 * i as f64 / 8_000.0).sin()) as i16)
            .collect();
        let mp3 = encode_mp3(Path::new("lame"), Bytes::from(audio_file::encode_wav(&tone))).await.expect("an MP3");
        let hint = audio_file::Hint { extension: Some("mp3".into()), media_type: None };
        let back = audio_file::decode(&mp3, &hint).expect("it decodes");
        assert!(back.len().abs_diff(8_000) <= 1_600, "{} samples", back.len());
        let power = crate::media::mix::goertzel_power(back.get(2_000..6_000).unwrap_or_default(), 1_000.0, 8_000);
        assert!(power > 0.01, "the tone survives: {power}");
    }

    #[test]
    fn samples_gather_per_recording_and_leave_with_it() {
        let mut b = Buffers::default();
        b.append(&call("a"), MediaId(1), &[1, 2]);
        b.append(&call("b"), MediaId(1), &[9]);
        b.append(&call("a"), MediaId(1), &[3]);
        assert_eq!(b.pending(), 4);
        assert_eq!(b.finish(&call("a"), MediaId(1), &[4]), [1, 2, 3, 4]);
        assert_eq!(b.pending(), 1);
        assert_eq!(b.finish(&call("a"), MediaId(2), &[]), Vec::<i16>::new(), "never gathered: empty");
        b.forget(&call("b"));
        assert_eq!(b.pending(), 0);
        assert_eq!(b.finish(&call("b"), MediaId(1), &[]), Vec::<i16>::new());
    }

    #[test]
    fn a_file_is_cut_at_an_hour_and_takes_no_more() {
        let mut b = Buffers::default();
        let second = vec![7i16; 8_000];
        for _ in 0..3_600 {
            b.append(&call("a"), MediaId(1), &second);
        }
        assert_eq!((b.pending(), b.samples_lost()), (MAX_FILE_SAMPLES, (0, 0)));
        b.append(&call("a"), MediaId(1), &[1, 2, 3]);
        assert_eq!(b.samples_lost(), (3, 0));
        b.append(&call("a"), MediaId(1), &[4]);
        assert_eq!(b.samples_lost(), (3, 1), "a full file takes nothing more");
        let file = b.finish(&call("a"), MediaId(1), &[5]);
        assert_eq!(file.len(), MAX_FILE_SAMPLES);
        assert!(file.iter().all(|&s| s == 7), "the beginning is kept");
        assert_eq!(b.pending(), 0);
    }

    #[test]
    fn past_the_pending_bound_the_new_samples_are_dropped() {
        let mut b = Buffers::default();
        let minute = vec![1i16; 60 * 8_000];
        // Two recordings of an hour (57.6 M samples), then a third that passes 64 Mi in all.
        for m in 0..2 {
            for _ in 0..60 {
                b.append(&call("a"), MediaId(m), &minute);
            }
        }
        assert_eq!(b.samples_lost(), (0, 0));
        for _ in 0..20 {
            b.append(&call("b"), MediaId(0), &minute);
        }
        let room = MAX_PENDING_SAMPLES - 2 * MAX_FILE_SAMPLES;
        assert_eq!(b.pending(), MAX_PENDING_SAMPLES);
        assert_eq!(b.samples_lost(), (0, (20 * minute.len() - room) as u64));
        // The third keeps its beginning and takes no more, even once room is freed.
        assert_eq!(b.finish(&call("a"), MediaId(0), &[]).len(), MAX_FILE_SAMPLES);
        b.append(&call("b"), MediaId(0), &minute);
        assert_eq!(b.samples_lost(), (0, (21 * minute.len() - room) as u64));
        assert_eq!(b.finish(&call("b"), MediaId(0), &[9]).len(), room);
        assert_eq!(b.finish(&call("a"), MediaId(1), &[]).len(), MAX_FILE_SAMPLES);
        assert_eq!(b.pending(), 0);
    }
}
