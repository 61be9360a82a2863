//! Energy and tone measures over PCM samples.

/// Root-mean-square level of `pcm` in dBFS (0 dBFS = a full-scale square wave; a full-scale
/// sine is about −3 dBFS). Silence, and an empty slice, give `f64::NEG_INFINITY`.
pub fn rms_dbfs(pcm: &[i16]) -> f64 {
    if pcm.is_empty() {
        return f64::NEG_INFINITY;
    }
    let sum: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (sum / pcm.len() as f64).sqrt();
    if rms == 0.0 { f64::NEG_INFINITY } else { 20.0 * (rms / 32768.0).log10() }
}

/// The power of `pcm` at `frequency` Hz (sampled at `sample_rate` Hz), by the Goertzel
/// algorithm, normalised so that a full-scale sine exactly at `frequency` gives about 0.25 and
/// silence gives 0. Used to tell which tones a listener hears.
pub fn goertzel_power(pcm: &[i16], frequency: f64, sample_rate: u32) -> f64 {
    if pcm.is_empty() || sample_rate == 0 {
        return 0.0;
    }
    let w = 2.0 * std::f64::consts::PI * frequency / f64::from(sample_rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in pcm {
        let s0 = f64::from(x) / 32768.0 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let n = pcm.len() as f64;
    power / (n * n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amplitude: f64, n: usize) -> Vec<i16> {
        (0..n).map(|i| (amplitude * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin()) as i16).collect()
    }

    #[test]
    fn rms_of_silence_and_full_scale() {
        assert_eq!(rms_dbfs(&[0; 160]), f64::NEG_INFINITY);
        assert_eq!(rms_dbfs(&[]), f64::NEG_INFINITY);
        let full = rms_dbfs(&sine(1000.0, 32767.0, 800));
        assert!((full + 3.01).abs() < 0.1, "{full}");
        let quiet = rms_dbfs(&sine(1000.0, 327.67, 800));
        assert!((quiet + 43.01).abs() < 0.1, "{quiet}");
    }

    #[test]
    fn goertzel_tells_tones_apart() {
        let a = sine(440.0, 16000.0, 1600);
        let at = goertzel_power(&a, 440.0, 8000);
        let off = goertzel_power(&a, 880.0, 8000);
        assert!(at > 0.05, "{at}");
        assert!(off < at / 1000.0, "{off} vs {at}");
        assert_eq!(goertzel_power(&[0; 160], 440.0, 8000), 0.0);
    }
}
