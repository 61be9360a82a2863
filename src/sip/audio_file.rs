//! Audio files for real calls: `<Play>`'s WAV and MP3 decoded to 8 kHz mono PCM, and
//! recordings written as WAV.
//!
//! [`decode`] probes the bytes by their content (symphonia: RIFF WAVE with PCM 8/16/24/32-bit
//! integer or 32/64-bit float, A-law or μ-law; MPEG-1/2 audio layer III), mixes every channel
//! down to one by averaging, and resamples to [`SAMPLE_RATE`] with rubato's FFT resampler, a
//! chunk at a time so that only the 8 kHz result is kept. [`encode_wav`] writes 8 kHz mono
//! 16-bit PCM with hound, the format Plivo's recording files are served in
//! (<https://www.plivo.com/docs/voice/xml/record>).

use std::io::Cursor;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint as ProbeHint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use crate::media::mix::SAMPLE_RATE;

/// Largest audio file decoded, in bytes (12 MiB: about 4.5 minutes of 22,050 Hz 16-bit mono
/// WAV, or 50 minutes of 32 kbit/s MP3): a larger one is refused with
/// [`AudioFileError::TooLarge`] before any decoding.
pub const MAX_AUDIO_BYTES: usize = 12 * 1024 * 1024;

/// Most samples [`decode`] gives, at 8 kHz mono: 10 minutes (4,800,000 samples, 9.6 MB). A
/// longer file is cut there: decoding stops at the bound and its first 10 minutes are
/// returned, so a long hold-music file still plays and a small, highly compressed file (12 MiB
/// of 8 kbit/s MP3 is over 3 hours) costs no more memory or CPU than 10 minutes of audio.
pub const MAX_DECODED_SAMPLES: usize = 10 * 60 * SAMPLE_RATE as usize;

/// The sample rates decoded, in Hz; a file at another rate is refused
/// ([`AudioFileError::UnsupportedRate`]) rather than resampled.
pub const AUDIO_RATES: std::ops::RangeInclusive<u32> = 8_000..=96_000;

/// Input frames per resampler chunk (at the file's rate).
const RESAMPLE_CHUNK: usize = 1_024;

/// What the file is said to be besides its bytes: a `<Play>` URL's extension and the
/// response's `Content-Type`. Only a first guess: the bytes decide (symphonia 0.6 probes by
/// content), so a wrong hint does no harm.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hint {
    /// The URL path's extension, lower case, without the dot (`mp3`, `wav`).
    pub extension: Option<String>,
    /// The media type of the `Content-Type`, lower case, without parameters (`audio/mpeg`).
    pub media_type: Option<String>,
}

impl Hint {
    /// The hint of a `<Play>` URL (`https://h/a/b.MP3?x=1` → extension `mp3`; a path without a
    /// dot in its last segment, or an extension over 8 characters, gives none) and its
    /// response's `Content-Type` (`audio/mpeg; charset=x` → `audio/mpeg`).
    pub fn of_url(url: &str, content_type: Option<&str>) -> Self {
        let extension = url::Url::parse(url).ok().and_then(|u| {
            let last = u.path_segments()?.next_back()?.to_owned();
            let (_, ext) = last.rsplit_once('.')?;
            (!ext.is_empty() && ext.len() <= 8 && ext.bytes().all(|b| b.is_ascii_alphanumeric()))
                .then(|| ext.to_ascii_lowercase())
        });
        let media_type = content_type
            .and_then(|c| c.split(';').next())
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty());
        Hint { extension, media_type }
    }

    fn to_probe(&self) -> ProbeHint {
        let mut hint = ProbeHint::new();
        if let Some(ext) = &self.extension {
            hint.with_extension(ext);
        }
        if let Some(media_type) = &self.media_type {
            hint.mime_type(media_type);
        }
        hint
    }
}

/// Why an audio file could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum AudioFileError {
    /// The file is over [`MAX_AUDIO_BYTES`].
    #[error("audio file of {bytes} bytes is over the {max} bytes read", max = MAX_AUDIO_BYTES)]
    TooLarge {
        /// Its size in bytes.
        bytes: usize,
    },
    /// No supported container was found in the bytes (an HTML error page, an Ogg or AAC file,
    /// noise).
    #[error("not a WAV or MP3 file")]
    NotAudio,
    /// The container holds no audio track.
    #[error("the file has no audio track")]
    NoAudioTrack,
    /// The track's codec has no decoder here (only PCM in WAV and MPEG layer III are built).
    #[error("unsupported codec: {0}")]
    UnsupportedCodec(String),
    /// The track's sample rate is unknown or outside [`AUDIO_RATES`] (Hz).
    #[error("sample rate {0:?} Hz is not within 8,000 to 96,000")]
    UnsupportedRate(Option<u32>),
    /// The demuxer or decoder failed before any audio came out (a header that lies, a
    /// decoder that gave up).
    #[error("malformed audio file: {0}")]
    Malformed(String),
    /// The resampler refused its parameters or a chunk.
    #[error("resampling failed: {0}")]
    Resample(String),
}

/// An audio file's samples: 8 kHz mono 16-bit, at most [`MAX_DECODED_SAMPLES`] (a longer file
/// is cut there). Any channel count is mixed down by averaging; any rate in [`AUDIO_RATES`]
/// is resampled (rubato `Fft`, its start-up delay trimmed). A WAV whose `data` size claims
/// more than the file holds (espeak-ng's streamed `--stdout` claims 0x7ffff000 bytes) is read
/// to the end of the bytes; a packet that fails to decode is skipped, and a file cut short
/// ends where its bytes end.
///
/// # Errors
/// [`AudioFileError`]: too large, not WAV or MP3, no audio track, unsupported codec or rate,
/// nothing decodable, or a resampler failure. Never panics on hostile bytes: a panic inside
/// the decoder is caught and reported as [`AudioFileError::Malformed`].
pub fn decode(bytes: &[u8], hint: &Hint) -> Result<Vec<i16>, AudioFileError> {
    if bytes.len() > MAX_AUDIO_BYTES {
        return Err(AudioFileError::TooLarge { bytes: bytes.len() });
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode_at_most(bytes, hint, MAX_DECODED_SAMPLES)))
        .unwrap_or_else(|_| Err(AudioFileError::Malformed("the decoder panicked".into())))
}

/// [`decode`] without the size check, cut at `max` samples.
fn decode_at_most(bytes: &[u8], hint: &Hint, max: usize) -> Result<Vec<i16>, AudioFileError> {
    let source = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
    let mut format = symphonia::default::get_probe()
        .probe(&hint.to_probe(), source, FormatOptions::default(), MetadataOptions::default())
        .map_err(|e| match e {
            SymphoniaError::Unsupported(_) | SymphoniaError::IoError(_) => AudioFileError::NotAudio,
            e => AudioFileError::Malformed(e.to_string()),
        })?;
    let track = format.default_track(TrackType::Audio).ok_or(AudioFileError::NoAudioTrack)?;
    let track_id = track.id;
    let params = track.codec_params.as_ref().and_then(|p| p.audio()).ok_or(AudioFileError::NoAudioTrack)?;
    let rate = params.sample_rate.filter(|r| AUDIO_RATES.contains(r));
    let rate = rate.ok_or(AudioFileError::UnsupportedRate(params.sample_rate))?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| AudioFileError::UnsupportedCodec(e.to_string()))?;
    let mut out = To8k::new(rate, max)?;
    let mut interleaved: Vec<f32> = Vec::new();
    let mut mono: Vec<f32> = Vec::new();
    let mut last_error = None;
    let mut decoded_any = false;
    while !out.is_full() {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            // The end, or bytes that end early (a streamed WAV's claimed size, a cut download).
            Ok(None) | Err(SymphoniaError::IoError(_)) => break,
            Err(e) => {
                last_error = Some(e);
                break;
            }
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = match decoder.decode(&packet) {
            Ok(buf) => buf,
            Err(e @ (SymphoniaError::DecodeError(_) | SymphoniaError::IoError(_))) => {
                last_error = Some(e);
                continue;
            }
            Err(e) => {
                last_error = Some(e);
                break;
            }
        };
        // A stream that changes rate midway (a broken MP3) has those packets skipped.
        let channels = buf.spec().channels().count();
        if buf.spec().rate() != rate || channels == 0 {
            continue;
        }
        decoded_any = true;
        buf.copy_to_vec_interleaved(&mut interleaved);
        mono.clear();
        mono.extend(interleaved.chunks_exact(channels).map(|frame| frame.iter().sum::<f32>() / channels as f32));
        out.push(&mono)?;
    }
    match (decoded_any, last_error) {
        (false, Some(e)) => Err(AudioFileError::Malformed(e.to_string())),
        _ => out.finish(),
    }
}

/// Mono samples at the file's rate in, 8 kHz 16-bit out, at most `max`.
struct To8k {
    max: usize,
    /// `None` when the file is already at 8 kHz.
    resampler: Option<Fft<f32>>,
    /// Input not yet resampled (less than one chunk after each push).
    pending: Vec<f32>,
    /// Input frames taken in all.
    taken: usize,
    /// Output frames of the resampler's start-up delay still to drop.
    delay: usize,
    out: Vec<i16>,
}

impl To8k {
    fn new(rate: u32, max: usize) -> Result<Self, AudioFileError> {
        let resampler = if rate == SAMPLE_RATE {
            None
        } else {
            let r = Fft::<f32>::new(rate as usize, SAMPLE_RATE as usize, RESAMPLE_CHUNK, 1, FixedSync::Input)
                .map_err(|e| AudioFileError::Resample(e.to_string()))?;
            Some(r)
        };
        let delay = resampler.as_ref().map_or(0, |r| r.output_delay());
        Ok(To8k { max, resampler, pending: Vec::new(), taken: 0, delay, out: Vec::new() })
    }

    fn is_full(&self) -> bool {
        self.out.len() >= self.max
    }

    fn push(&mut self, mono: &[f32]) -> Result<(), AudioFileError> {
        self.taken += mono.len();
        let Some(resampler) = self.resampler.as_mut() else {
            let room = self.max.saturating_sub(self.out.len());
            self.out.extend(mono.iter().take(room).map(|&s| to_i16(s)));
            return Ok(());
        };
        self.pending.extend_from_slice(mono);
        let mut at = 0;
        while self.pending.len() - at >= resampler.input_frames_next() && self.out.len() < self.max {
            let n = resampler.input_frames_next();
            let chunk = self.pending.get(at..at + n).unwrap_or(&[]);
            let produced = run(resampler, chunk, None)?;
            at += n;
            emit(&mut self.out, &mut self.delay, &produced, self.max);
        }
        self.pending.drain(..at);
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<i16>, AudioFileError> {
        let Some(resampler) = self.resampler.as_mut() else {
            return Ok(self.out);
        };
        let expected = ((self.taken as f64 * resampler.resample_ratio()).ceil() as usize).min(self.max);
        if !self.pending.is_empty() && self.out.len() < expected {
            let n = self.pending.len();
            self.pending.resize(resampler.input_frames_next().max(n), 0.0);
            let produced = run(resampler, &self.pending, Some(n))?;
            emit(&mut self.out, &mut self.delay, &produced, self.max);
        }
        // The delay holds the last input back: pump silence until it is out.
        while self.out.len() < expected {
            let zeros = vec![0.0; resampler.input_frames_next()];
            let produced = run(resampler, &zeros, Some(0))?;
            if produced.is_empty() {
                break;
            }
            emit(&mut self.out, &mut self.delay, &produced, self.max);
        }
        self.out.truncate(expected);
        Ok(self.out)
    }
}

fn run(resampler: &mut Fft<f32>, chunk: &[f32], partial: Option<usize>) -> Result<Vec<f32>, AudioFileError> {
    let fail = |e: &dyn std::fmt::Display| AudioFileError::Resample(e.to_string());
    let input = InterleavedSlice::new(chunk, 1, chunk.len()).map_err(|e| fail(&e))?;
    let indexing = Indexing { input_offset: 0, output_offset: 0, partial_len: partial, active_channels_mask: None };
    let out = resampler.process(&input, Some(&indexing)).map_err(|e| fail(&e))?;
    Ok(out.take_data())
}

fn emit(out: &mut Vec<i16>, delay: &mut usize, produced: &[f32], max: usize) {
    let skip = (*delay).min(produced.len());
    *delay -= skip;
    let room = max.saturating_sub(out.len());
    out.extend(produced.iter().skip(skip).take(room).map(|&s| to_i16(s)));
}

fn to_i16(s: f32) -> i16 {
    (s * 32768.0).clamp(-32768.0, 32767.0) as i16
}

/// An 8 kHz mono 16-bit PCM WAV file of `samples` (44-byte header, then the samples little
/// endian), written with hound: the format of Plivo's recording files.
pub fn encode_wav(samples: &[i16]) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut file = Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    // Writing into memory fails only once the data passes WAV's 4 GiB size field (over 37
    // hours at 8 kHz): the file then ends at the last sample that fitted.
    if let Ok(mut writer) = hound::WavWriter::new(&mut file, spec) {
        for &s in samples {
            if writer.write_sample(s).is_err() {
                break;
            }
        }
        let _ = writer.finalize();
    }
    file.into_inner()
}

/// A 16-bit mono PCM WAV at `rate` whose RIFF and `data` sizes claim `claimed` bytes, whatever
/// follows (espeak-ng's `--stdout` claims 0x7fff_f000): for the tests here and in `speech`.
#[cfg(test)]
pub(crate) fn wav_claiming(rate: u32, samples: &[i16], claimed: u32) -> Vec<u8> {
    let mut w = b"RIFF\xff\xff\xff\xffWAVEfmt ".to_vec();
    w.extend(16u32.to_le_bytes());
    w.extend(1u16.to_le_bytes());
    w.extend(1u16.to_le_bytes());
    w.extend(rate.to_le_bytes());
    w.extend((rate * 2).to_le_bytes());
    w.extend(2u16.to_le_bytes());
    w.extend(16u16.to_le_bytes());
    w.extend(b"data");
    w.extend(claimed.to_le_bytes());
    for s in samples {
        w.extend(s.to_le_bytes());
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::mix::{goertzel_power, rms_dbfs};

    const MP3_22050: &[u8] = include_bytes!("../../tests/fixtures/audio/tone-1khz-0.5s-22050.mp3");
    const MP3_44100_STEREO: &[u8] = include_bytes!("../../tests/fixtures/audio/tone-1khz-0.5s-44100-stereo.mp3");

    fn sine(freq: f64, rate: u32, n: usize, amplitude: f64) -> impl Iterator<Item = f64> {
        (0..n).map(move |i| amplitude * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
    }

    fn hound_wav(spec: hound::WavSpec, write: impl FnOnce(&mut hound::WavWriter<&mut Cursor<Vec<u8>>>)) -> Vec<u8> {
        let mut file = Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut file, spec).unwrap();
        write(&mut writer);
        writer.finalize().unwrap();
        file.into_inner()
    }

    /// Energy at 1 kHz dominates: well above 500 and 2,000 Hz, and the level is a tone's.
    fn assert_1khz(pcm: &[i16]) {
        let body = &pcm[400..pcm.len() - 400];
        let at = goertzel_power(body, 1000.0, SAMPLE_RATE);
        let off = goertzel_power(body, 500.0, SAMPLE_RATE).max(goertzel_power(body, 2000.0, SAMPLE_RATE));
        assert!(at > 0.01, "power at 1 kHz {at}");
        assert!(off < at / 100.0, "off-tone power {off} vs {at}");
        let level = rms_dbfs(body);
        assert!((-15.0..-3.0).contains(&level), "{level} dBFS");
    }

    /// 0.5 s = 4,000 samples, plus at most LAME's encoder delay (1,105 samples at 22,050 Hz:
    /// 401 at 8 kHz) and one MPEG-2 frame of padding (576: 209), when no LAME tag says them.
    fn assert_half_a_second_untrimmed(pcm: &[i16]) {
        assert!((3_995..=4_000 + 401 + 209).contains(&pcm.len()), "{}", pcm.len());
    }

    #[test]
    fn an_mpeg2_mp3_decodes_to_half_a_second_of_1khz_at_8k() {
        let pcm = decode(MP3_22050, &Hint::of_url("http://h/tone.mp3", Some("audio/mpeg"))).unwrap();
        assert_half_a_second_untrimmed(&pcm);
        assert_1khz(&pcm);
    }

    #[test]
    fn an_mpeg1_joint_stereo_mp3_is_mixed_down_and_decodes_to_1khz() {
        // The hint is wrong: the bytes decide.
        let pcm = decode(MP3_44100_STEREO, &Hint::of_url("http://h/tone.wav", Some("audio/wav"))).unwrap();
        // Its LAME tag gives the encoder delay and padding: trimmed, 0.5 s exactly.
        assert!((3_995..=4_005).contains(&pcm.len()), "{}", pcm.len());
        assert_1khz(&pcm);
    }

    #[test]
    fn an_id3v2_tag_before_the_mp3_is_skipped() {
        let mut tagged = b"ID3\x03\x00\x00".to_vec();
        tagged.extend([0, 0, 0x20, 0]); // syncsafe size: 4,096 bytes of padding
        tagged.extend([0u8; 4096]);
        tagged.extend_from_slice(MP3_22050);
        let pcm = decode(&tagged, &Hint::default()).unwrap();
        assert_half_a_second_untrimmed(&pcm);
        assert_1khz(&pcm);
    }

    #[test]
    fn a_stereo_44k1_float_wav_is_averaged_to_mono_at_8k() {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        // Left 1 kHz, right its inverse plus 500 Hz: the average is the 500 Hz tone alone.
        let wav = hound_wav(spec, |w| {
            for (tone, low) in sine(1000.0, 44_100, 44_100, 0.5).zip(sine(500.0, 44_100, 44_100, 0.6)) {
                w.write_sample(tone as f32).unwrap();
                w.write_sample((low - tone) as f32).unwrap();
            }
        });
        let pcm = decode(&wav, &Hint::of_url("http://h/a/b.WAV?x=1", None)).unwrap();
        assert!((7_990..=8_010).contains(&pcm.len()), "{}", pcm.len());
        let body = &pcm[400..7600];
        let low = goertzel_power(body, 500.0, SAMPLE_RATE);
        let tone = goertzel_power(body, 1000.0, SAMPLE_RATE);
        assert!(low > 0.02, "{low}");
        assert!(tone < low / 1000.0, "{tone} vs {low}: the channels were not averaged");
    }

    #[test]
    fn every_pcm_width_decodes() {
        for (bits, format) in [
            (8, hound::SampleFormat::Int),
            (16, hound::SampleFormat::Int),
            (24, hound::SampleFormat::Int),
            (32, hound::SampleFormat::Int),
            (32, hound::SampleFormat::Float),
        ] {
            let spec =
                hound::WavSpec { channels: 1, sample_rate: 16_000, bits_per_sample: bits, sample_format: format };
            let wav = hound_wav(spec, |w| {
                for s in sine(1000.0, 16_000, 8_000, 0.4) {
                    match (bits, format) {
                        (_, hound::SampleFormat::Float) => w.write_sample(s as f32).unwrap(),
                        (8, _) => w.write_sample((s * 127.0) as i8).unwrap(),
                        (16, _) => w.write_sample((s * 32767.0) as i16).unwrap(),
                        (24, _) => w.write_sample((s * 8_388_607.0) as i32).unwrap(),
                        _ => w.write_sample((s * 2_147_483_647.0) as i32).unwrap(),
                    }
                }
            });
            let pcm = decode(&wav, &Hint::default()).unwrap();
            assert!((3_990..=4_010).contains(&pcm.len()), "{bits}-bit: {}", pcm.len());
            assert_1khz(&pcm);
        }
    }

    #[test]
    fn encode_then_decode_gives_the_samples_back() {
        let samples: Vec<i16> = (0..4_000i32).map(|i| ((i * 37) % 65_536 - 32_768) as i16).collect();
        let wav = encode_wav(&samples);
        assert_eq!(wav.len(), 44 + 2 * samples.len());
        let reader = hound::WavReader::new(Cursor::new(&wav)).unwrap();
        assert_eq!(
            reader.spec(),
            hound::WavSpec {
                channels: 1,
                sample_rate: 8_000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int
            }
        );
        assert_eq!(decode(&wav, &Hint::default()).unwrap(), samples);
        assert_eq!(decode(&encode_wav(&[]), &Hint::default()).unwrap(), Vec::<i16>::new());
    }

    /// espeak-ng's `--stdout` header: RIFF and `data` sizes that claim far more than follows.
    fn streamed_wav(rate: u32, samples: &[i16]) -> Vec<u8> {
        wav_claiming(rate, samples, 0x7fff_f000)
    }

    #[test]
    fn a_streamed_wav_is_read_to_the_end_of_its_bytes() {
        let tone: Vec<i16> = sine(1000.0, 22_050, 11_025, 10_000.0).map(|s| s as i16).collect();
        let pcm = decode(&streamed_wav(22_050, &tone), &Hint::default()).unwrap();
        assert!((3_990..=4_010).contains(&pcm.len()), "{}", pcm.len());
        assert_1khz(&pcm);
        // At 8 kHz nothing is resampled: every sample comes back, to the last.
        let direct: Vec<i16> = (0..1_001).map(|i| i as i16).collect();
        assert_eq!(decode(&streamed_wav(8_000, &direct), &Hint::default()).unwrap(), direct);
    }

    #[test]
    fn decoding_stops_at_max_decoded_samples() {
        // 10 minutes and 2 seconds of 8 kHz silence, the header written by hand (hound would
        // do, slowly): the first 10 minutes come back.
        let n = MAX_DECODED_SAMPLES + 16_000;
        let mut wav = encode_wav(&[]);
        wav.resize(44 + 2 * n, 0);
        let data = (2 * n) as u32;
        wav[4..8].copy_from_slice(&(36 + data).to_le_bytes());
        wav[40..44].copy_from_slice(&data.to_le_bytes());
        let pcm = decode(&wav, &Hint::default()).unwrap();
        assert_eq!(pcm.len(), MAX_DECODED_SAMPLES);
        // Resampled input is cut the same way (a smaller bound, for a quick test): 2 s of
        // 1 kHz at 11,025 Hz, and 1,100 copies of the 0.5 s MP3 (2.5 MB that hold over 10
        // minutes, the case the bound is for).
        let tone: Vec<i16> = sine(1000.0, 11_025, 22_050, 10_000.0).map(|s| s as i16).collect();
        let pcm = decode_at_most(&streamed_wav(11_025, &tone), &Hint::default(), 12_000).unwrap();
        assert_eq!(pcm.len(), 12_000);
        let pcm = decode_at_most(&streamed_wav(11_025, &tone), &Hint::default(), 4_000).unwrap();
        assert_eq!(pcm.len(), 4_000);
        assert_1khz(&pcm);
        let pcm = decode_at_most(&MP3_22050.repeat(1_100), &Hint::default(), 40_000).unwrap();
        assert_eq!(pcm.len(), 40_000);
        assert_1khz(&pcm[36_000..]);
    }

    #[test]
    fn too_large_and_not_audio_are_refused_by_cause() {
        let big = vec![0u8; MAX_AUDIO_BYTES + 1];
        assert!(
            matches!(decode(&big, &Hint::default()), Err(AudioFileError::TooLarge { bytes }) if bytes == MAX_AUDIO_BYTES + 1)
        );
        let html = b"<html><body>404 Not Found</body></html>".repeat(20);
        assert!(matches!(
            decode(&html, &Hint::of_url("http://h/x.mp3", Some("text/html"))),
            Err(AudioFileError::NotAudio)
        ));
        assert!(matches!(decode(&[], &Hint::default()), Err(AudioFileError::NotAudio)));
        assert!(matches!(
            decode(&streamed_wav(4_000, &[0; 100]), &Hint::default()),
            Err(AudioFileError::UnsupportedRate(Some(4_000)))
        ));
        // IEEE float with 16 bits: a codec no decoder takes.
        let mut odd = streamed_wav(8_000, &[0; 100]);
        odd[20..22].copy_from_slice(&3u16.to_le_bytes());
        assert!(decode(&odd, &Hint::default()).is_err());
    }

    #[test]
    fn truncated_and_random_bytes_never_panic() {
        let inputs = [
            MP3_22050.to_vec(),
            MP3_44100_STEREO.to_vec(),
            streamed_wav(22_050, &[1_000; 2_000]),
            encode_wav(&[5; 1_000]),
        ];
        for input in &inputs {
            for cut in (0..input.len()).step_by(97) {
                let _ = decode(&input[..cut], &Hint::default());
            }
        }
        // xorshift: deterministic noise, alone and after real headers.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut noise = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect()
        };
        for round in 0..64 {
            let mut bytes = match round % 4 {
                0 => Vec::new(),
                1 => MP3_22050[..64].to_vec(),
                2 => streamed_wav(16_000, &[])[..44].to_vec(),
                _ => b"ID3\x04\x00\x00\x00\x00\x01\x00".to_vec(),
            };
            bytes.extend(noise(1 + round * 61));
            let out = decode(&bytes, &Hint::default());
            if let Ok(pcm) = out {
                assert!(pcm.len() <= MAX_DECODED_SAMPLES);
            }
        }
        // Flipped bytes inside a real file.
        for round in 0..32 {
            let mut bytes = MP3_44100_STEREO.to_vec();
            for (k, b) in noise(8).into_iter().enumerate() {
                let at = (round * 101 + k * 397) % bytes.len();
                bytes[at] ^= b | 1;
            }
            let _ = decode(&bytes, &Hint::default());
        }
    }

    #[test]
    fn hints_of_urls() {
        assert_eq!(
            Hint::of_url("https://h/a/B.MP3?x=1.wav#y", Some("Audio/MPEG; charset=x")),
            Hint { extension: Some("mp3".into()), media_type: Some("audio/mpeg".into()) }
        );
        assert_eq!(Hint::of_url("https://h/a/", None), Hint::default());
        assert_eq!(Hint::of_url("https://h/play", Some("")), Hint::default());
        assert_eq!(Hint::of_url("not a url.mp3", None).extension, None);
        assert_eq!(Hint::of_url("https://h/a.b/c", None).extension, None);
    }
}
