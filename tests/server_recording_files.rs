//! `serve` reports recordings as Plivo does: `RecordingStartMs`/`RecordingEndMs` in Unix
//! epoch milliseconds, and a `RecordUrl` on the server itself that downloads, without
//! credentials, a WAV file exactly `RecordingDurationMs` long — until the recording is
//! deleted. Over real sockets on 127.0.0.1, with a webhook application in the test.
//! The webhook application and the server come from `tests/common/` (shared harness).

mod common;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use common::{Harness, ID, TOKEN};
use serde_json::{Value, json};

impl Harness {
    /// Starts an inbound call on the simulated phone running the document at `answer`.
    async fn call(&self, answer: &str) {
        let body = json!({ "from": "14155550100", "to": "14155550200", "answer_url": self.url(answer) });
        let (status, v) = self.req(axum::http::Method::POST, "/sim/Call/", Some(body)).await;
        assert_eq!(status, 201, "{v}");
    }

    /// The parameters of the first request to `path`, waiting for it (at most a minute).
    async fn hit(&self, path: &str) -> HashMap<String, String> {
        for _ in 0..6000 {
            if let Some(h) = self.hits().into_iter().find(|h| h.path == path) {
                return h.params.into_iter().collect();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no request to {path}");
    }

    async fn api(&self, method: reqwest::Method, path: &str) -> (u16, Value) {
        let url = format!("{}/v1/Account/{ID}{path}", self.base);
        let resp = self.http.request(method, url).basic_auth(ID, Some(TOKEN)).send().await.expect("send");
        let status = resp.status().as_u16();
        (status, serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or(Value::Null))
    }

    /// GET `url` without credentials: status, content type, content length and body.
    async fn download(&self, url: &str) -> (u16, String, Option<u64>, Bytes) {
        let resp = self.http.get(url).send().await.expect("send");
        let status = resp.status().as_u16();
        let ctype = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let len = resp.content_length();
        (status, ctype, len, resp.bytes().await.expect("body"))
    }
}

fn now_ms() -> i128 {
    i128::try_from(SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis()).expect("ms")
}

fn int(params: &HashMap<String, String>, k: &str) -> i128 {
    params.get(k).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{k} in {params:?}"))
}

/// The duration in ms of a WAV file, checked to be 8 kHz 16-bit mono PCM.
fn wav_ms(bytes: &[u8]) -> i128 {
    let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).expect("a WAV file");
    let spec = reader.spec();
    assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (1, 8000, 16));
    assert_eq!(reader.len(), reader.duration(), "mono: one sample per frame");
    let samples = reader.into_samples::<i16>().count();
    i128::try_from(samples).expect("count") / 8
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_action_gets_epoch_ms_and_a_record_url_that_downloads_its_wav() {
    // At a tenth of real time the caller talks 5 s into the recording, on the call's clock
    // (0.5 s of wall time; README "The REST server": one clock).
    let h = Harness::start_with(0.1, 11).await;
    h.serve("/wav", r#"<Response><Record action="/done" fileFormat="wav" playBeep="false" timeout="1" redirect="false"/></Response>"#);
    let before = now_ms();
    h.call("/wav").await;
    let p = h.hit("/done").await;
    let after = now_ms();
    let (start, end, duration) =
        (int(&p, "RecordingStartMs"), int(&p, "RecordingEndMs"), int(&p, "RecordingDurationMs"));
    // Epoch ms, not ms since the server started: the server's start on the wall clock plus
    // the call's clock, which runs 10× faster, so at most 9× the wall time elapsed ahead.
    let ahead = 9 * (after - before) + 100;
    assert!(start >= before - 5_000 && start <= after + ahead, "{start} not in {before}..{after}+{ahead}");
    assert_eq!(end - start, duration);
    assert_eq!(duration, 5000);
    assert_eq!(int(&p, "RecordingDuration"), 5);
    let id = &p["RecordingID"];
    let url = &p["RecordUrl"];
    assert_eq!(*url, format!("{}/v1/Account/{ID}/Recording/{id}.wav", h.base));

    // The file needs no credentials, and lasts exactly the reported duration.
    let (status, ctype, len, body) = h.download(url).await;
    assert_eq!(status, 200);
    assert_eq!(ctype, "audio/wav");
    assert_eq!(len, Some(body.len() as u64));
    assert_eq!(wav_ms(&body), duration);

    // The Recording API agrees: the same URL, the same epoch ms.
    let (s, v) = h.api(reqwest::Method::GET, &format!("/Recording/{id}/")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["recording_url"], url.as_str());
    assert_eq!(v["recording_start_ms"], format!("{start}.00000"));
    assert_eq!(v["recording_end_ms"], format!("{end}.00000"));
    assert_eq!(v["recording_duration_ms"], format!("{duration}.00000"));

    // The file of another format, or of no recording, is not there.
    let (status, _, _, _) = h.download(&url.replace(".wav", ".mp3")).await;
    assert_eq!(status, 404);
    let (status, _, _, body) = h.download(&format!("{}/v1/Account/{ID}/Recording/nope.wav", h.base)).await;
    assert_eq!(status, 404);
    let v: Value = serde_json::from_slice(&body).expect("json");
    assert!(v["error"].as_str().is_some_and(|e| e.contains("nope.wav")), "{v}");

    // Deleted: the file is gone.
    let (s, _) = h.api(reqwest::Method::DELETE, &format!("/Recording/{id}/")).await;
    assert_eq!(s, 204);
    let (status, _, _, _) = h.download(url).await;
    assert_eq!(status, 404);
    h.server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mp3_recording_downloads_as_wav_bytes_of_its_duration() {
    let h = Harness::start_with(0.2, 11).await;
    h.serve("/mp3", r#"<Response><Record callbackUrl="/file" playBeep="false" timeout="1"/></Response>"#);
    h.call("/mp3").await;
    let p = h.hit("/file").await;
    let duration = int(&p, "RecordingDurationMs");
    assert_eq!(duration, 5000, "5 s of talk on the call's clock (1 s of wall time at speed 0.2)");
    let url = &p["RecordUrl"];
    assert!(url.starts_with(&h.base) && url.ends_with(".mp3"), "{url}");
    let (status, ctype, _, body) = h.download(url).await;
    assert_eq!(status, 200);
    // Plivo's default format, served as WAV and said so.
    assert_eq!(ctype, "audio/wav");
    assert_eq!(wav_ms(&body), duration);
    assert_eq!(int(&p, "RecordingEndMs") - int(&p, "RecordingStartMs"), duration);
    // A HEAD tells the length without the audio.
    let resp = h.http.head(url).send().await.expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers().get("content-length").and_then(|v| v.to_str().ok()),
        Some(body.len().to_string().as_str())
    );
    h.server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conference_recording_reports_epoch_ms_and_its_file_downloads() {
    let h = Harness::start_with(0.0, 11).await;
    h.serve("/room", "<Response><Conference>File Room</Conference></Response>");
    h.call("/room").await;
    // The room exists once the call has joined it.
    for _ in 0..6000 {
        if h.api(reqwest::Method::GET, "/Conference/File Room/").await.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cb = format!("{}/room-rec", h.app_base);
    let url = format!("{}/v1/Account/{ID}/Conference/File Room/Record/", h.base);
    let form = [("file_format", "wav"), ("callback_url", cb.as_str())];
    let resp = h.http.post(&url).basic_auth(ID, Some(TOKEN)).form(&form).send().await.expect("send");
    assert_eq!(resp.status().as_u16(), 202);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (s, _) = h.api(reqwest::Method::DELETE, "/Conference/File Room/Record/").await;
    assert_eq!(s, 204);
    let p = h.hit("/room-rec").await;
    assert_eq!(p["ConferenceAction"], "record");
    let (start, end, duration) =
        (int(&p, "RecordingStartMs"), int(&p, "RecordingEndMs"), int(&p, "RecordingDurationMs"));
    assert_eq!(end - start, duration);
    assert!(duration >= 200, "{duration}");
    assert!((now_ms() - 60_000..=now_ms()).contains(&start), "{start}");
    let rec_url = &p["RecordUrl"];
    assert_eq!(*rec_url, format!("{}/v1/Account/{ID}/Recording/{}.wav", h.base, p["RecordingID"]));
    let (status, _, _, body) = h.download(rec_url).await;
    assert_eq!(status, 200);
    assert_eq!(wav_ms(&body), duration);
    h.server.stop().await.expect("stop");
}
