//! `<Speak>` on real audio: espeak-ng as a subprocess, its WAV resampled to 8 kHz.
//!
//! Another synthesiser plugs in the same way: anything that turns an
//! [`AudioRequest::Speak`](crate::media::AudioRequest::Speak) into 8 kHz mono PCM and hands it
//! to [`AudioMedia::provide_audio`](crate::media::AudioMedia::provide_audio).

use std::path::Path;
use std::process::Stdio;

use super::audio_file::{self, AudioFileError, Hint};
use crate::xml::values::{Language, Voice};

/// Longest text handed to the synthesiser, in characters: Plivo's cap on `<Speak>` (3,000);
/// the rest is cut.
pub const MAX_TEXT_CHARS: usize = 3_000;

/// Largest WAV read back from the synthesiser, [`audio_file::MAX_AUDIO_BYTES`] (about 4.5
/// minutes at 22,050 Hz; 3,000 characters of speech take about 3.5): beyond, it is cut.
pub const MAX_WAV_BYTES: usize = audio_file::MAX_AUDIO_BYTES;

/// Longest a synthesiser run may take before it is killed.
pub const SPEECH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

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
    /// Its output is not audio that [`audio_file::decode`] takes (a WAV at a rate of
    /// [`audio_file::AUDIO_RATES`]), or its resampling failed.
    #[error("{0}")]
    Audio(#[from] AudioFileError),
    /// The blocking thread that decodes and resamples the output was lost (it panicked or
    /// the runtime is shutting down).
    #[error("decoding thread lost: {0}")]
    Blocking(String),
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
                return tokio::task::spawn_blocking(move || speech_to_8k(&wav))
                    .await
                    .map_err(|e| SpeechError::Blocking(e.to_string()))?;
            }
            Err(e @ SpeechError::Spawn { .. }) => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or(SpeechError::Audio(AudioFileError::NotAudio)))
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

/// espeak-ng's WAV at [`SAMPLE_RATE`](crate::media::mix::SAMPLE_RATE), by
/// [`audio_file::decode`] (its streamed header's bogus `data` size read to the end).
fn speech_to_8k(wav: &[u8]) -> Result<Vec<i16>, SpeechError> {
    let hint = Hint { extension: Some("wav".into()), media_type: Some("audio/wav".into()) };
    Ok(audio_file::decode(wav, &hint)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(rate: u32, samples: &[i16], claimed: u32) -> Vec<u8> {
        audio_file::wav_claiming(rate, samples, claimed)
    }

    #[test]
    fn a_streamed_wav_is_read_to_its_end_and_resampled_to_8k() {
        let tone: Vec<i16> = (0..22_050)
            .map(|i| (10_000.0 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / 22_050.0).sin()) as i16)
            .collect();
        let pcm = speech_to_8k(&wav(22_050, &tone, 0x7fff_f000)).unwrap();
        assert!((7_900..=8_100).contains(&pcm.len()), "{}", pcm.len());
        assert!(crate::media::mix::goertzel_power(&pcm[1000..7000], 440.0, 8000) > 0.01);
        assert!(matches!(speech_to_8k(b"RIFF....WAVEjunk"), Err(SpeechError::Audio(AudioFileError::NotAudio))));
        assert!(speech_to_8k(&wav(8000, &[1, 2], 4)[..30]).is_err());
        assert!(speech_to_8k(&wav(0, &[1, 2], 4)).is_err(), "a rate of 0 is refused");
        assert!(speech_to_8k(&wav(4_000_000, &[1, 2], 4)).is_err());
    }

    #[test]
    fn voices_map_to_espeak_ng() {
        assert_eq!(espeak_voice(&Voice::Woman, &Language::en_us()), "en-us+f3");
        assert_eq!(espeak_voice(&Voice::Man, &Language::en_us()), "en-us");
    }
}
