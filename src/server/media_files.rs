//! Recording files, served by `serve` itself at the address its `RecordUrl`s and
//! `recording_url`s name: `http://{listen}/v1/Account/{auth_id}/Recording/{id}.{mp3|wav}`,
//! the path of Plivo's media URLs (`https://media.plivo.com/v1/Account/{auth_id}/Recording/{id}.mp3`)
//! on the server's own address.
//!
//! A file is downloadable without credentials, as Plivo's recording URLs are unless the
//! account turns on secure recordings (the Recording object's example `recording_url` is a
//! bare storage URL: docs voice/api/recordings). It exists once the recording finished and is
//! listed by the Recording API, and is gone (404) once `DELETE Recording/{id}/` removed it.
//!
//! The audio is made on request and streamed, never kept: a WAV file (RIFF, PCM 16-bit mono,
//! [`SAMPLE_RATE`] Hz) of a quiet [`TONE_HZ`] Hz tone, exactly the recording's
//! `recording_duration_ms` long ([`wav_samples`]), up to [`MAX_FILE_MS`]. The `.mp3` URLs
//! (Plivo's default `fileFormat`) get the same WAV bytes with an honest
//! `Content-Type: audio/wav`: no well-kept pure-Rust MP3 encoder exists, and an MP3 stream
//! can only end on a frame boundary (24 ms and more), so its length could not equal the
//! reported duration.
//!
//! Under `serve --sip` the driver has a store of the calls' real recordings
//! ([`RecordingFiles`]): a finished recording's `.wav` URL serves its WAV file (8 kHz mono
//! 16-bit, what was recorded, exactly `recording_duration_ms` long), whatever its
//! `fileFormat`; a recording of `fileFormat` mp3 is also at its `.mp3` URL, as LAME encoded it
//! (`sip::recording::encode_mp3`), or, without an encoder, the `.mp3` URL answers a JSON 404
//! naming the `.wav` one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::api::{ApiError, AppState, unavailable};
use super::recording_files::{FILE_WAIT, Lookup, RecordingFiles};

/// Samples per second of the served files (Plivo records calls at telephone rate).
pub const SAMPLE_RATE: u32 = 8000;

/// The frequency of the tone the files carry (a whole number of samples per period).
pub const TONE_HZ: u32 = 400;

/// The tone's peak, in 16-bit sample units (about -30 dBFS: quiet, but not silence).
const TONE_PEAK: f64 = 1000.0;

/// The longest file served, in ms: 24 hours, Plivo's longest call (`time_limit` at most
/// 86,400 s). A longer recording's file is cut there (its header says so); 24 h of
/// 8 kHz 16-bit audio is about 1.4 GB, within a RIFF file's 4 GiB.
pub const MAX_FILE_MS: u64 = 24 * 3600 * 1000;

/// Bytes of the canonical WAV header (RIFF, `fmt ` of PCM, `data`).
pub const WAV_HEADER_LEN: usize = 44;

/// Samples in one streamed chunk: one second, a whole number of tone periods, so every chunk
/// is the same and one copy serves every file.
const CHUNK_SAMPLES: usize = SAMPLE_RATE as usize;

/// Where `serve` listening on `listen` names the recordings of account `auth_id`:
/// `http://{listen}/v1/Account/{auth_id}/Recording`. An unspecified address (`0.0.0.0`,
/// `[::]`) is named by its loopback, which reaches it from the same machine.
pub fn url_base(listen: SocketAddr, auth_id: &str) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/v1/Account/{auth_id}/Recording", SocketAddr::new(ip, listen.port()))
}

/// The samples of the file of a recording `duration_ms` long: `SAMPLE_RATE` per second
/// (8 per ms, so the file lasts exactly the duration), at most [`MAX_FILE_MS`]'s.
pub fn wav_samples(duration_ms: u64) -> u32 {
    let samples = duration_ms.min(MAX_FILE_MS) * u64::from(SAMPLE_RATE) / 1000;
    u32::try_from(samples).unwrap_or(u32::MAX / 2)
}

/// The 44-byte header of a PCM 16-bit mono [`SAMPLE_RATE`] Hz WAV file of `samples` samples
/// (the canonical RIFF/WAVE layout of Microsoft's multimedia spec; RFC 2361 names it).
pub fn wav_header(samples: u32) -> [u8; WAV_HEADER_LEN] {
    let data_len = samples.saturating_mul(2);
    let mut h = [0u8; WAV_HEADER_LEN];
    let fields: [(usize, &[u8]); 13] = [
        (0, b"RIFF"),
        (4, &data_len.saturating_add(36).to_le_bytes()),
        (8, b"WAVE"),
        (12, b"fmt "),
        (16, &16u32.to_le_bytes()),
        (20, &1u16.to_le_bytes()), // PCM
        (22, &1u16.to_le_bytes()), // mono
        (24, &SAMPLE_RATE.to_le_bytes()),
        (28, &(SAMPLE_RATE * 2).to_le_bytes()), // bytes per second
        (32, &2u16.to_le_bytes()),              // bytes per frame
        (34, &16u16.to_le_bytes()),             // bits per sample
        (36, b"data"),
        (40, &data_len.to_le_bytes()),
    ];
    for (at, bytes) in fields {
        if let Some(slot) = h.get_mut(at..at + bytes.len()) {
            slot.copy_from_slice(bytes);
        }
    }
    h
}

/// One second of the tone, little-endian 16-bit samples, made once.
fn tone_chunk() -> &'static Bytes {
    static CHUNK: OnceLock<Bytes> = OnceLock::new();
    CHUNK.get_or_init(|| {
        let mut v = Vec::with_capacity(CHUNK_SAMPLES * 2);
        for n in 0..CHUNK_SAMPLES {
            let phase = std::f64::consts::TAU * f64::from(TONE_HZ) * n as f64 / f64::from(SAMPLE_RATE);
            let s = (TONE_PEAK * phase.sin()).round() as i16;
            v.extend_from_slice(&s.to_le_bytes());
        }
        Bytes::from(v)
    })
}

/// The bytes of one WAV file, made as they are sent: its header, then the tone one chunk
/// (one second, shared) at a time. It holds no audio of its own.
#[derive(Debug)]
pub struct WavFile {
    header: Option<Bytes>,
    /// Sample bytes still to send.
    left: u64,
}

impl WavFile {
    /// The file of a recording `duration_ms` long ([`wav_samples`]).
    pub fn new(duration_ms: u64) -> WavFile {
        let samples = wav_samples(duration_ms);
        WavFile { header: Some(Bytes::copy_from_slice(&wav_header(samples))), left: u64::from(samples) * 2 }
    }

    /// The bytes still to send: the whole file, header included, before the first chunk.
    pub fn len(&self) -> u64 {
        self.header.as_ref().map_or(0, |h| h.len() as u64) + self.left
    }

    /// Whether nothing is left to send.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next bytes, `None` at the end.
    pub fn next_chunk(&mut self) -> Option<Bytes> {
        if let Some(h) = self.header.take() {
            return Some(h);
        }
        if self.left == 0 {
            return None;
        }
        let chunk = tone_chunk();
        let n = usize::try_from(self.left).unwrap_or(usize::MAX).min(chunk.len());
        self.left -= n as u64;
        Some(chunk.slice(..n))
    }
}

impl http_body::Body for WavFile {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.get_mut().next_chunk().map(|b| Ok(http_body::Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.len())
    }
}

/// The recording a media path names: `(id, extension)` of
/// `/v1/Account/{auth_id}/Recording/{id}.{mp3|wav}` under this account, for GET and HEAD.
fn file_of<'a>(method: &Method, path: &'a str, auth_id: &str) -> Option<(&'a str, &'a str)> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let rest = path.strip_prefix("/v1/Account/")?.strip_prefix(auth_id)?.strip_prefix("/Recording/")?;
    let (id, ext) = rest.rsplit_once('.')?;
    (!id.is_empty() && !id.contains('/') && (ext == "mp3" || ext == "wav")).then_some((id, ext))
}

/// Middleware before authentication: answers a recording file's path with its WAV file
/// (`200`, `Content-Type: audio/wav`, exact `Content-Length`), or a JSON 404 when the
/// recording does not exist, is not finished, was deleted, or is not of that format; every
/// other request goes on to the API.
pub(crate) async fn download(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let Some((id, ext)) = file_of(req.method(), req.uri().path(), &app.auth_id) else {
        return next.run(req).await;
    };
    let found = match app.driver.recording(id.to_owned()).await {
        None => return unavailable().into_response(),
        Some(found) => found,
    };
    if let Some(files) = app.driver.recording_files() {
        return real_file(&app, files, id, ext, found.is_some()).await;
    }
    match found {
        Some(r) if r.format.to_string() == ext => {
            let mut resp = Body::new(WavFile::new(r.duration_ms)).into_response();
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
            resp
        }
        _ => ApiError::new(StatusCode::NOT_FOUND, format!("no recording file {id}.{ext}")).into_response(),
    }
}

/// `serve --sip`'s answer for `{id}.{ext}` of a recording the Recording API lists (`listed`)
/// or not: the stored file (waiting up to [`FILE_WAIT`] while it is written; `.wav` for every
/// recording, `.mp3` for those of `fileFormat` mp3 when an encoder ran), a JSON 404 with the
/// reason otherwise.
async fn real_file(app: &AppState, files: &RecordingFiles, id: &str, ext: &str, listed: bool) -> Response {
    let not_found = |why: String| ApiError::new(StatusCode::NOT_FOUND, why).into_response();
    if !listed {
        return not_found(format!("no recording file {id}.{ext}"));
    }
    let key = format!("{id}.{ext}");
    if files.get(&key) == Lookup::Missing {
        // The recording may have ended in the tick run for the look-up job, before the shell
        // saw it end; the driver serves the shell between two jobs, so one more round trip
        // lets it begin the file.
        if app.driver.recording(id.to_owned()).await.is_none() {
            return unavailable().into_response();
        }
    }
    let media_type = if ext == "mp3" { "audio/mpeg" } else { "audio/wav" };
    match files.wait(&key, FILE_WAIT).await {
        Lookup::Ready(bytes) => {
            let mut resp = Body::from(bytes).into_response();
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
            resp
        }
        Lookup::Writing => not_found(format!("no recording file {key} yet: it is still being written")),
        Lookup::Missing if ext == "mp3" => not_found(format!(
            "no recording file {key}: not recorded as mp3, no MP3 encoder ran (serve --sip --lame), or dropped at the bound of the files kept; every recording is also at {id}.wav"
        )),
        Lookup::Missing => {
            not_found(format!("no recording file {key}: dropped at the bound of the files kept in memory"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of(mut f: WavFile) -> Vec<u8> {
        let mut v = Vec::new();
        while let Some(b) = f.next_chunk() {
            v.extend_from_slice(&b);
        }
        v
    }

    #[test]
    fn the_file_is_a_pcm_wav_exactly_as_long_as_the_recording() {
        for ms in [0, 1, 999, 2_500, 61_001] {
            let file = WavFile::new(ms);
            let len = file.len();
            let bytes = bytes_of(file);
            assert_eq!(bytes.len() as u64, len, "{ms} ms");
            let reader = hound::WavReader::new(std::io::Cursor::new(&bytes)).expect("a WAV file");
            let spec = reader.spec();
            assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (1, 8000, 16));
            assert_eq!(spec.sample_format, hound::SampleFormat::Int);
            assert_eq!(u64::from(reader.duration()) * 1000 / 8000, ms, "{ms} ms");
            let samples: Vec<i16> = reader.into_samples::<i16>().map(|s| s.expect("sample")).collect();
            assert_eq!(samples.len() as u64, ms * 8);
            // A quiet tone, not silence (when there is a period of it).
            if ms >= 10 {
                let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
                assert!((900..=1000).contains(&peak), "peak {peak}");
            }
        }
    }

    #[test]
    fn files_stop_at_the_bound() {
        assert_eq!(wav_samples(MAX_FILE_MS + 5_000), wav_samples(MAX_FILE_MS));
        assert_eq!(WavFile::new(u64::MAX).len(), WAV_HEADER_LEN as u64 + u64::from(wav_samples(MAX_FILE_MS)) * 2);
    }

    #[test]
    fn media_paths_name_a_file_of_this_account() {
        let get = Method::GET;
        let p = "/v1/Account/MA1/Recording/abc-1.mp3";
        assert_eq!(file_of(&get, p, "MA1"), Some(("abc-1", "mp3")));
        assert_eq!(file_of(&Method::HEAD, "/v1/Account/MA1/Recording/x.wav", "MA1"), Some(("x", "wav")));
        assert_eq!(file_of(&Method::DELETE, p, "MA1"), None);
        assert_eq!(file_of(&get, p, "MA2"), None);
        for other in [
            "/v1/Account/MA1/Recording/abc",
            "/v1/Account/MA1/Recording/abc.ogg",
            "/v1/Account/MA1/Recording/.mp3",
            "/v1/Account/MA1/Recording/a/b.mp3",
            "/v1/Account/MA1/Call/abc.mp3",
        ] {
            assert_eq!(file_of(&get, other, "MA1"), None, "{other}");
        }
    }

    #[test]
    fn url_base_names_a_reachable_address() {
        let base = url_base("0.0.0.0:8765".parse().expect("addr"), "MA1");
        assert_eq!(base, "http://127.0.0.1:8765/v1/Account/MA1/Recording");
        assert_eq!(url_base("[::]:80".parse().expect("addr"), "MA1"), "http://[::1]:80/v1/Account/MA1/Recording");
        assert_eq!(url_base("10.1.2.3:9".parse().expect("addr"), "M"), "http://10.1.2.3:9/v1/Account/M/Recording");
    }
}
