//! `<Speak>` on real audio: espeak-ng as a subprocess, its WAV resampled to 8 kHz.
//!
//! Another synthesiser plugs in the same way: anything that turns an
//! [`AudioRequest::Speak`](crate::media::AudioRequest::Speak) into 8 kHz mono PCM and hands it
//! to [`AudioMedia::provide_audio`](crate::media::AudioMedia::provide_audio).

use std::path::Path;
use std::process::Stdio;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::media::mix::SAMPLE_RATE;
use crate::xml::values::{Language, Voice};

/// Longest text handed to the synthesiser, in characters: Plivo's cap on `<Speak>` (3,000);
/// the rest is cut.
pub const MAX_TEXT_CHARS: usize = 3_000;

/// Largest WAV read back from the synthesiser or a `<Play>` URL (about 4.5 minutes at
/// 22,050 Hz; 3,000 characters of speech take about 3.5): beyond, it is cut (speech) or
/// refused (`<Play>`).
pub const MAX_WAV_BYTES: usize = 12 * 1024 * 1024;

/// Longest a synthesiser run may take before it is killed.
pub const SPEECH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The sample rates accepted in a WAV (a rate outside is refused, not resampled).
pub const WAV_RATES: std::ops::RangeInclusive<u32> = 8_000..=96_000;

/// Why speech could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    /// The program could not be started (not installed?).
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The system's error.
        source: std::io::Error,
    },
    /// It ended with an error and no audio.
    #[error("{program} failed: {stderr}")]
    Failed {
        /// The program.
        program: String,
        /// What it said.
        stderr: String,
    },
    /// Its output is not a 16-bit mono PCM WAV file at a rate of [`WAV_RATES`].
    #[error("not a 16-bit mono PCM WAV at 8 to 96 kHz")]
    NotWav,
    /// Resampling failed.
    #[error("resampling failed: {0}")]
    Resample(String),
}

/// espeak-ng's voice for Plivo's `voice` and `language`: the language tag in lower case
/// (`en-US` → `en-us`), with the `+f3` variant for `WOMAN` (espeak-ng's voices are male by
/// default). `Polly.*` voices speak as `WOMAN`.
pub fn espeak_voice(voice: &Voice, language: &Language) -> String {
    let lang = language.as_str().to_ascii_lowercase();
    match voice {
        Voice::Man => lang,
        _ => format!("{lang}+f3"),
    }
}

/// Speaks `text` with espeak-ng (`program`, e.g. `espeak-ng`): 8 kHz mono PCM. An unknown
/// language falls back to its primary subtag (`es-mx` → `es`), then to `en-us`.
///
/// # Errors
/// [`SpeechError`] when the program cannot run or gives no WAV.
pub async fn speak(program: &Path, text: &str, voice: &Voice, language: &Language) -> Result<Vec<i16>, SpeechError> {
    let cut = text.char_indices().nth(MAX_TEXT_CHARS).map_or(text.len(), |(i, _)| i);
    let text = text.get(..cut).unwrap_or("");
    let full = espeak_voice(voice, language);
    let variant = full.split_once('+').map(|(_, v)| format!("+{v}")).unwrap_or_default();
    let primary = full.split(['-', '+']).next().unwrap_or("en").to_owned();
    let mut last = None;
    for v in [full.clone(), format!("{primary}{variant}"), format!("en-us{variant}")] {
        match run(program, text, &v).await {
            Ok(wav) => {
                // Resampling is CPU work: off the runtime's worker threads.
                return tokio::task::spawn_blocking(move || wav_to_8k(&wav))
                    .await
                    .map_err(|e| SpeechError::Resample(e.to_string()))?;
            }
            Err(e @ SpeechError::Spawn { .. }) => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or(SpeechError::NotWav))
}

async fn run(program: &Path, text: &str, voice: &str) -> Result<Vec<u8>, SpeechError> {
    let name = program.display().to_string();
    let run = tokio::process::Command::new(program)
        .args(["--stdout", "-v", voice, "--", text])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(SPEECH_TIMEOUT, run)
        .await
        .map_err(|_| SpeechError::Failed { program: name.clone(), stderr: "timed out".into() })?
        .map_err(|source| SpeechError::Spawn { program: name.clone(), source })?;
    if !out.status.success() || out.stdout.len() <= 44 {
        let stderr = String::from_utf8_lossy(&out.stderr).chars().take(300).collect();
        return Err(SpeechError::Failed { program: name, stderr });
    }
    let mut wav = out.stdout;
    wav.truncate(MAX_WAV_BYTES);
    Ok(wav)
}

/// The samples of a 16-bit mono PCM WAV and its rate. espeak-ng's streamed WAV claims a huge
/// `data` size; what follows the `data` header is read up to the end instead.
fn pcm_of_wav(wav: &[u8]) -> Result<(u32, Vec<i16>), SpeechError> {
    if wav.get(..4) != Some(b"RIFF") || wav.get(8..12) != Some(b"WAVE") {
        return Err(SpeechError::NotWav);
    }
    let mut at = 12;
    let mut rate = None;
    while let Some(head) = wav.get(at..at + 8) {
        let id = head.get(..4).ok_or(SpeechError::NotWav)?;
        let len = u32::from_le_bytes(head.get(4..8).and_then(|b| b.try_into().ok()).ok_or(SpeechError::NotWav)?);
        let body = at + 8;
        if id == b"fmt " {
            let fmt = wav.get(body..body + 16).ok_or(SpeechError::NotWav)?;
            let format = u16::from_le_bytes([fmt[0], fmt[1]]);
            let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
            let bits = u16::from_le_bytes([fmt[14], fmt[15]]);
            if format != 1 || channels != 1 || bits != 16 {
                return Err(SpeechError::NotWav);
            }
            let r = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
            if !WAV_RATES.contains(&r) {
                return Err(SpeechError::NotWav);
            }
            rate = Some(r);
        } else if id == b"data" {
            let rate = rate.ok_or(SpeechError::NotWav)?;
            let data = wav.get(body..).unwrap_or(&[]);
            let samples = data.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
            return Ok((rate, samples));
        }
        at = body.saturating_add(len as usize + (len as usize & 1));
    }
    Err(SpeechError::NotWav)
}

/// A WAV's samples at [`SAMPLE_RATE`] (rubato's FFT resampler).
pub(crate) fn wav_to_8k(wav: &[u8]) -> Result<Vec<i16>, SpeechError> {
    let (rate, pcm) = pcm_of_wav(wav)?;
    if rate == SAMPLE_RATE || pcm.is_empty() {
        return Ok(pcm);
    }
    let input: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32768.0).collect();
    let mut resampler = Fft::<f32>::new(rate as usize, SAMPLE_RATE as usize, 1024, 1, FixedSync::Input)
        .map_err(|e| SpeechError::Resample(e.to_string()))?;
    let adapter = InterleavedSlice::new(&input, 1, input.len()).map_err(|e| SpeechError::Resample(e.to_string()))?;
    let out = resampler.process_all(&adapter, input.len(), None).map_err(|e| SpeechError::Resample(e.to_string()))?;
    Ok(out.take_data().into_iter().map(|s| (s * 32767.0).clamp(-32768.0, 32767.0) as i16).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(rate: u32, samples: &[i16], claimed: u32) -> Vec<u8> {
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

    #[test]
    fn a_streamed_wav_is_read_to_its_end_and_resampled_to_8k() {
        let tone: Vec<i16> = (0..22_050)
            .map(|i| (10_000.0 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / 22_050.0).sin()) as i16)
            .collect();
        let pcm = wav_to_8k(&wav(22_050, &tone, 0x7fff_f000)).unwrap();
        assert!((7_900..=8_100).contains(&pcm.len()), "{}", pcm.len());
        assert!(crate::media::mix::goertzel_power(&pcm[1000..7000], 440.0, 8000) > 0.01);
        assert_eq!(
            pcm_of_wav(b"RIFF....WAVEjunk").map(|_| ()).unwrap_err().to_string(),
            SpeechError::NotWav.to_string()
        );
        assert!(pcm_of_wav(&wav(8000, &[1, 2], 4)[..30]).is_err());
        assert!(pcm_of_wav(&wav(0, &[1, 2], 4)).is_err(), "a rate of 0 is refused");
        assert!(pcm_of_wav(&wav(4_000_000, &[1, 2], 4)).is_err());
    }

    #[test]
    fn voices_map_to_espeak_ng() {
        assert_eq!(espeak_voice(&Voice::Woman, &Language::en_us()), "en-us+f3");
        assert_eq!(espeak_voice(&Voice::Man, &Language::en_us()), "en-us");
    }
}
