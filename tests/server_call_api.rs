//! `serve`'s Call API (record, play, speak, DTMF, cancel), Recording API, list filters and
//! paging, and the named 404 of endpoints plivo-flow does not implement, over real sockets on
//! 127.0.0.1: a webhook application in the test serves XML and records every request.
//! The webhook application and the server come from `tests/common/` (shared harness).

mod common;

use axum::http::Method;
use common::{Harness, ID, TOKEN};
use serde_json::{Value, json};

impl Harness {
    /// Starts an outbound call through `POST Call/`: its request uuid.
    async fn make_call(&self, answer: &str, from: &str, to: &str) -> String {
        let body = json!({ "from": from, "to": to, "answer_url": self.url(answer) });
        let (status, v) = self.req(Method::POST, "/Call/", Some(body)).await;
        assert_eq!(status, 201, "{v}");
        v["request_uuid"].as_str().expect("uuid").to_owned()
    }

    async fn hangup(&self, uuid: &str) {
        let (status, v) = self.req(Method::DELETE, &format!("/sim/Call/{uuid}/"), None).await;
        assert_eq!(status, 204, "{v}");
    }

    /// Waits until `uuid` is a call record (ended and forgotten by the engine).
    async fn until_record(&self, uuid: &str) {
        for _ in 0..1000 {
            let (_, v) = self.req(Method::GET, &format!("/Call/{uuid}/"), None).await;
            if v["call_status"] == "completed" {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("{uuid} never became a call record");
    }

    async fn transcript(&self) -> String {
        let resp = self.http.get(format!("{}/sim/Transcript/", self.base)).basic_auth(ID, Some(TOKEN));
        resp.send().await.expect("send").text().await.unwrap_or_default()
    }
}

/// The `api_id` and `error` of an error answer are there.
fn is_error(v: &Value) -> bool {
    v["api_id"].as_str().is_some_and(|s| !s.is_empty()) && v["error"].as_str().is_some_and(|s| !s.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unimplemented_endpoint_is_a_404_that_says_so() {
    let h = Harness::start().await;
    let (s, v) = h.req(Method::POST, "/Number/", Some(json!({"numbers": "1"}))).await;
    assert_eq!(s, 404, "{v}");
    assert!(is_error(&v), "{v}");
    assert_eq!(v["error"], format!("POST /v1/Account/{ID}/Number/ is not implemented by plivo-flow"));
    let (s, v) = h.req(Method::GET, "/Call/abc/Stream/xyz", None).await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["error"], format!("GET /v1/Account/{ID}/Call/abc/Stream/xyz/ is not implemented by plivo-flow"));
    // A real miss on an implemented endpoint keeps its own message.
    let (s, v) = h.req(Method::GET, "/Call/no-such-call/", None).await;
    assert_eq!(s, 404, "{v}");
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("no call no-such-call") && !e.contains("implemented")),
        "{v}"
    );
    // A wrong method on a known path stays a 405.
    let (s, v) = h.req(Method::PUT, "/Call/", None).await;
    assert_eq!(s, 405, "{v}");
    // Outside the account: no such resource, with the path.
    let (s, v) = h.req(Method::GET, "/sim/Nothing/", None).await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["error"], "no such resource: GET /sim/Nothing/");
    h.server.stop().await.expect("stop");
}

impl Harness {
    /// The `CallUUID` of the call the API request `request` started (its answer webhook
    /// carries the request id as `ALegRequestUUID`).
    async fn call_of(&self, request: &str) -> String {
        for _ in 0..2000 {
            let found = self.hits().iter().find_map(|h| {
                (h.param("ALegRequestUUID") == Some(request)).then(|| h.param("CallUUID").unwrap_or("").to_owned())
            });
            if let Some(call) = found {
                return call;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("no webhook of the call requested as {request}");
    }

    /// `GET Call/?{query}`: status and answer.
    async fn list(&self, what: &str, query: &str) -> (u16, Value) {
        self.req(Method::GET, &format!("/{what}/?{query}"), None).await
    }
}

/// The `call_uuid`s of a list answer's objects.
fn uuids(v: &Value, key: &str) -> Vec<String> {
    v["objects"]
        .as_array()
        .map_or_else(Vec::new, |a| a.iter().filter_map(|o| o[key].as_str().map(str::to_owned)).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_records_are_filtered_and_paged_as_on_plivo() {
    let h = Harness::start().await;
    h.serve("/bye", "<Response><Speak>Bye</Speak></Response>");
    let mut inbound = Vec::new();
    for from in ["14155550101", "14155550102", "14155550103"] {
        inbound.push(h.sim_call("/bye", from, "14155550200").await);
    }
    let mut outbound = Vec::new();
    for to in ["14155550401", "14155550402"] {
        let request = h.make_call("/bye", "14155550300", to).await;
        outbound.push(h.call_of(&request).await);
    }
    for u in inbound.iter().chain(&outbound) {
        h.until_record(u).await;
    }
    // Direction, then paging over it: meta's links carry the filter.
    let (s, v) = h.list("Call", "call_direction=inbound").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["meta"]["total_count"], 3, "{v}");
    let mut got = uuids(&v, "call_uuid");
    got.sort();
    let mut want = inbound.clone();
    want.sort();
    assert_eq!(got, want);
    assert!(v["objects"].as_array().is_some_and(|o| o.iter().all(|c| c["call_direction"] == "inbound")), "{v}");
    let (_, v) = h.list("Call", "call_direction=inbound&limit=2").await;
    assert_eq!(v["objects"].as_array().map(Vec::len), Some(2), "{v}");
    assert_eq!(v["meta"]["next"], format!("/v1/Account/{ID}/Call/?limit=2&offset=2&call_direction=inbound"));
    assert_eq!(v["meta"]["previous"], Value::Null);
    let first_page = uuids(&v, "call_uuid");
    let (_, v) = h.list("Call", "call_direction=inbound&limit=2&offset=2").await;
    let second_page = uuids(&v, "call_uuid");
    assert_eq!(second_page.len(), 1, "{v}");
    assert!(!first_page.contains(&second_page[0]), "pages overlap: {first_page:?} {second_page:?}");
    assert_eq!(v["meta"]["next"], Value::Null);
    assert_eq!(v["meta"]["previous"], format!("/v1/Account/{ID}/Call/?limit=2&offset=0&call_direction=inbound"));
    assert_eq!((v["meta"]["limit"].clone(), v["meta"]["offset"].clone()), (json!(2), json!(2)));
    let (_, v) = h.list("Call", "call_direction=outbound").await;
    assert_eq!(v["meta"]["total_count"], 2, "{v}");
    // Numbers match exactly or by prefix.
    let (_, v) = h.list("Call", "from_number=1415555010").await;
    assert_eq!(v["meta"]["total_count"], 3, "{v}");
    let (_, v) = h.list("Call", "from_number=14155550102").await;
    assert_eq!(uuids(&v, "call_uuid"), vec![inbound[1].clone()]);
    let (_, v) = h.list("Call", "to_number=14155550402").await;
    assert_eq!(uuids(&v, "call_uuid"), vec![outbound[1].clone()]);
    // Billed seconds and end times, in their five forms.
    let (_, v) = h.list("Call", "bill_duration=0").await;
    assert_eq!(v["meta"]["total_count"], 5, "{v}");
    let (_, v) = h.list("Call", "bill_duration__gt=0").await;
    assert_eq!(v["meta"]["total_count"], 0, "{v}");
    let (_, v) = h.list("Call", "bill_duration__lte=0&call_direction=outbound").await;
    assert_eq!(v["meta"]["total_count"], 2, "{v}");
    let (_, v) = h.list("Call", "end_time__lt=2000-01-01 00:00").await;
    assert_eq!(v["meta"]["total_count"], 0, "{v}");
    let (_, v) = h.list("Call", "end_time__gte=2000-01-01 00:00").await;
    assert_eq!(v["meta"]["total_count"], 5, "{v}");
    let (_, one) = h.req(Method::GET, &format!("/Call/{}/", inbound[0]), None).await;
    let end = one["end_time"].as_str().expect("end_time").trim_end_matches("+00:00").to_owned();
    let (_, v) = h.list("Call", &format!("end_time={end}&from_number=14155550101")).await;
    assert_eq!(uuids(&v, "call_uuid"), vec![inbound[0].clone()], "end_time={end}: {v}");
    let (_, v) = h.list("Call", &format!("end_time__gt={end}&from_number=14155550101")).await;
    assert_eq!(v["meta"]["total_count"], 0, "{v}");
    // No call is queued or live now; records are not listed as either.
    let (_, v) = h.list("Call", "status=queued").await;
    assert_eq!(v["calls"], json!([]), "{v}");
    let (_, v) = h.list("Call", "status=live").await;
    assert_eq!(v["calls"], json!([]), "{v}");
    // Bad values are 400s.
    for q in [
        "limit=0",
        "limit=21",
        "limit=x",
        "offset=-1",
        "call_direction=sideways",
        "end_time__gt=yesterday",
        "bill_duration__lt=1.5",
        "status=ringing",
        "hangup_cause_code=x",
    ] {
        let (s, v) = h.list("Call", q).await;
        assert_eq!(s, 400, "{q}: {v}");
        assert!(is_error(&v), "{q}: {v}");
    }
    h.server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_calls_are_filtered_and_paged() {
    let h = Harness::start().await;
    h.serve("/room", "<Response><Conference>Lobby</Conference></Response>");
    let a = h.sim_call("/room", "14155550111", "14155550200").await;
    let b = h.sim_call("/room", "14155550112", "14155550200").await;
    let request = h.make_call("/room", "14155550300", "14155550499").await;
    let c = h.call_of(&request).await;
    h.settle().await;
    let (s, v) = h.list("Call", "status=live").await;
    assert_eq!(s, 200, "{v}");
    let mut all = vec![a.clone(), b.clone(), c.clone()];
    all.sort();
    assert_eq!(v["calls"], json!(all), "{v}");
    let (_, v) = h.list("Call", "status=live&call_direction=outbound").await;
    assert_eq!(v["calls"], json!([c]), "{v}");
    let (_, v) = h.list("Call", "status=live&from_number=14155550112").await;
    assert_eq!(v["calls"], json!([b]), "{v}");
    let (_, v) = h.list("Call", "status=live&to_number=14155550499").await;
    assert_eq!(v["calls"], json!([c]), "{v}");
    let (_, v) = h.list("Call", "status=live&limit=1&offset=1").await;
    assert_eq!(v["calls"], json!([all[1]]), "{v}");
    // Answered calls are live, not queued; a live call is no call record.
    let (_, v) = h.list("Call", "status=queued").await;
    assert_eq!(v["calls"], json!([]), "{v}");
    let (_, v) = h.list("Call", "").await;
    assert_eq!(v["meta"]["total_count"], 0, "{v}");
    let (s, v) = h.list("Call", "status=live&limit=50").await;
    assert_eq!(s, 400, "{v}");
    h.server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recording_api_lists_filters_gets_and_deletes_recordings() {
    let h = Harness::start().await;
    h.serve("/wav", r#"<Response><Record fileFormat="wav" playBeep="false" callbackUrl="/rec-cb"/><Speak>Thanks</Speak></Response>"#);
    h.serve("/mp3", r#"<Response><Record playBeep="false"/><Speak>Thanks</Speak></Response>"#);
    h.serve("/room", "<Response><Conference>Rec Room</Conference></Response>");
    let a = h.sim_call("/wav", "14155550121", "14155550200").await;
    let b = h.sim_call("/mp3", "14155550122", "14155550201").await;
    let c = h.sim_call("/room", "14155550199", "14155550202").await;
    h.settle().await;
    let (s, v) = h.req(Method::POST, "/Conference/Rec Room/Record/", None).await;
    assert_eq!(s, 202, "{v}");
    let room_rec = v["recording_id"].as_str().expect("recording_id").to_owned();
    let (s, v) = h.req(Method::DELETE, "/Conference/Rec Room/Record/", None).await;
    assert_eq!(s, 204, "{v}");
    h.settle().await;

    let (s, v) = h.list("Recording", "").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["meta"]["total_count"], 3, "{v}");
    assert_eq!(v["objects"][0]["recording_id"], room_rec.as_str(), "most recent first: {v}");
    assert_eq!(v["objects"][0]["recording_type"], "conference");
    assert_eq!(v["objects"][0]["conference_name"], "Rec Room");
    let (_, v) = h.list("Recording", &format!("call_uuid={a}")).await;
    assert_eq!(v["meta"]["total_count"], 1, "{v}");
    let rec = v["objects"][0].clone();
    assert_eq!((rec["call_uuid"].as_str(), rec["recording_type"].as_str()), (Some(a.as_str()), Some("call")), "{rec}");
    assert_eq!(rec["recording_format"], "wav");
    assert_eq!(rec["from_number"], "14155550121");
    assert_eq!(rec["to_number"], "14155550200");
    assert!(rec["recording_url"].as_str().is_some_and(|u| u.ends_with(".wav")), "{rec}");
    let id = rec["recording_id"].as_str().expect("id").to_owned();
    assert_eq!(rec["resource_uri"], format!("/v1/Account/{ID}/Recording/{id}/"));
    assert!(rec["add_time"].as_str().is_some_and(|t| t.len() == 32 && t.ends_with("+00:00")), "{rec}");
    // The recording's id and URL are those the <Record> callback reported.
    let hits = h.hits();
    let callback = hits.iter().find(|x| x.path == "/rec-cb").expect("the recording callback");
    assert_eq!(callback.param("RecordingID"), Some(id.as_str()));
    assert_eq!(callback.param("RecordUrl"), rec["recording_url"].as_str());
    let (_, v) = h.list("Recording", "conference_name=Rec Room").await;
    assert_eq!(uuids(&v, "recording_id"), vec![room_rec.clone()]);
    let (_, v) = h.list("Recording", "from_number=1415555012").await;
    assert_eq!(v["meta"]["total_count"], 2, "{v}");
    let (_, v) = h.list("Recording", "to_number=14155550201").await;
    assert_eq!(uuids(&v, "call_uuid"), vec![b.clone()]);
    let (_, v) = h.list("Recording", "limit=1").await;
    assert_eq!(v["objects"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["meta"]["next"], format!("/v1/Account/{ID}/Recording/?limit=1&offset=1"));
    let (_, v) = h.list("Recording", "limit=1&offset=2").await;
    assert_eq!(v["meta"]["next"], Value::Null);
    assert_eq!(v["meta"]["previous"], format!("/v1/Account/{ID}/Recording/?limit=1&offset=1"));
    let (_, v) = h.list("Recording", "add_time__gte=2000-01-01 00:00").await;
    assert_eq!(v["meta"]["total_count"], 3, "{v}");
    let (_, v) = h.list("Recording", "add_time__lt=2000-01-01 00:00:00.5").await;
    assert_eq!(v["meta"]["total_count"], 0, "{v}");
    let added = rec["add_time"].as_str().expect("add_time").trim_end_matches("+00:00").to_owned();
    let (_, v) = h.list("Recording", &format!("add_time={added}&call_uuid={a}")).await;
    assert_eq!(v["meta"]["total_count"], 1, "add_time={added}: {v}");
    let (_, v) = h.list("Recording", &format!("add_time__gt={added}&call_uuid={a}")).await;
    assert_eq!(v["meta"]["total_count"], 0, "{v}");
    let (_, v) = h.list("Recording", "subaccount=SAXXXXXXXXXXXXXXXXXX").await;
    assert_eq!(v["meta"]["total_count"], 0, "{v}");
    for q in ["limit=25", "offset=x", "add_time__gt=soon", "recording_storage_duration__lt=a"] {
        let (s, v) = h.list("Recording", q).await;
        assert_eq!(s, 400, "{q}: {v}");
        assert!(is_error(&v), "{v}");
    }

    let (s, v) = h.req(Method::GET, &format!("/Recording/{id}/"), None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["recording_id"].as_str(), v["call_uuid"].as_str()), (Some(id.as_str()), Some(a.as_str())));
    assert!(v["api_id"].as_str().is_some_and(|x| !x.is_empty()), "{v}");
    let resp =
        h.http.delete(format!("{}/Recording/{id}/", h.api)).basic_auth(ID, Some(TOKEN)).send().await.expect("send");
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(resp.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"));
    let (s, v) = h.req(Method::GET, &format!("/Recording/{id}/"), None).await;
    assert_eq!(s, 404, "{v}");
    assert!(is_error(&v) && v["error"].as_str().is_some_and(|e| e.contains(&id)), "{v}");
    let (s, _) = h.req(Method::DELETE, &format!("/Recording/{id}/"), None).await;
    assert_eq!(s, 404);
    let (_, v) = h.list("Recording", "").await;
    assert_eq!(v["meta"]["total_count"], 2, "{v}");
    h.hangup(&c).await;
    h.server.stop().await.expect("stop");
}

/// Whether the transcript has the line `who  text`.
fn has_line(transcript: &str, who: &str, text: &str) -> bool {
    transcript.lines().any(|l| l.contains(&format!("{who}  {text}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn play_speak_and_dtmf_act_on_a_live_call() {
    let h = Harness::start().await;
    h.serve("/room", "<Response><Conference>API Room</Conference></Response>");
    let a = h.sim_call("/room", "14155550131", "14155550200").await;
    h.settle().await;
    let call = |what: &str| format!("/Call/{a}/{what}/");

    // Play, looping until stopped; a stop with nothing playing is a 404 that says so.
    let (s, v) =
        h.req(Method::POST, &call("Play"), Some(json!({"urls": "https://media.example/x.mp3", "loop": true}))).await;
    assert_eq!((s, v["message"].as_str()), (202, Some("play started")), "{v}");
    assert!(v["api_id"].as_str().is_some_and(|x| !x.is_empty()), "{v}");
    h.settle().await;
    let t = h.transcript().await;
    assert!(has_line(&t, &a, "playing https://media.example/x.mp3 (API, looping)"), "{t}");
    assert!(has_line(&t, "api", &format!("play https://media.example/x.mp3 (aleg, looping) on {a}: ok")), "{t}");
    let (s, v) = h.req(Method::DELETE, &call("Play"), None).await;
    assert_eq!(s, 204, "{v}");
    let (s, v) = h.req(Method::DELETE, &call("Play"), None).await;
    assert_eq!(s, 404, "{v}");
    assert!(v["error"].as_str().is_some_and(|e| e.contains("is not playing")), "{v}");
    // Two URLs, once: the play ends by itself (media is instant here), so there is nothing to stop.
    let urls = "https://media.example/a.mp3,https://media.example/b.wav";
    let (s, v) = h.req(Method::POST, &call("Play"), Some(json!({"urls": urls, "mix": "false", "length": 5}))).await;
    assert_eq!(s, 202, "{v}");
    h.settle().await;
    assert!(has_line(
        &h.transcript().await,
        &a,
        "playing https://media.example/a.mp3, https://media.example/b.wav (API)"
    ));
    let (s, _) = h.req(Method::DELETE, &call("Play"), None).await;
    assert_eq!(s, 404, "a play that ended is not stopped");

    // Speak.
    let body = json!({"text": "Hello <world>", "voice": "MAN", "language": "en-GB", "loop": "true"});
    let (s, v) = h.req(Method::POST, &call("Speak"), Some(body)).await;
    assert_eq!((s, v["message"].as_str()), (202, Some("speak started")), "{v}");
    h.settle().await;
    assert!(has_line(&h.transcript().await, &a, "speaking \"Hello <world>\" (API, looping)"));
    let (s, _) = h.req(Method::DELETE, &call("Speak"), None).await;
    assert_eq!(s, 204);
    let (s, v) = h.req(Method::DELETE, &call("Speak"), None).await;
    assert_eq!(s, 404, "{v}");
    assert!(v["error"].as_str().is_some_and(|e| e.contains("is not speaking")), "{v}");

    // DTMF.
    let (s, v) = h.req(Method::POST, &call("DTMF"), Some(json!({"digits": "12w#"}))).await;
    assert_eq!((s, v["message"].as_str()), (202, Some("digits sent")), "{v}");
    h.settle().await;
    assert!(has_line(&h.transcript().await, &a, "sent tones 12w#"));

    // Mistakes are 400s (the bridged party only exists inside a <Dial>); unknown calls 404s.
    let eleven = ["https://m.example/x.mp3"; 11].join(",");
    let bad: [(&str, Value); 13] = [
        ("Play", json!({"urls": eleven})),
        ("DTMF", json!({"digits": "1".repeat(101)})),
        ("Play", json!({})),
        ("Play", json!({"urls": "not a url"})),
        ("Play", json!({"urls": "https://m.example/x.mp3", "legs": "bleg"})),
        ("Play", json!({"urls": "https://m.example/x.mp3", "legs": "cleg"})),
        ("Play", json!({"urls": "https://m.example/x.mp3", "loop": "maybe"})),
        ("Play", json!({"urls": "https://m.example/x.mp3", "length": 0})),
        ("Speak", json!({})),
        ("Speak", json!({"text": "hi", "voice": "ROBOT"})),
        ("DTMF", json!({"digits": "12x"})),
        ("DTMF", json!({"digits": "1", "leg": "bleg"})),
        ("DTMF", json!({"digits": "1", "leg": "cleg"})),
    ];
    for (what, body) in bad {
        let (s, v) = h.req(Method::POST, &call(what), Some(body.clone())).await;
        assert_eq!(s, 400, "{what} {body}: {v}");
        assert!(is_error(&v), "{v}");
    }
    for (method, what, body) in [
        (Method::POST, "Play", Some(json!({"urls": "https://m.example/x.mp3"}))),
        (Method::POST, "Speak", Some(json!({"text": "hi"}))),
        (Method::POST, "DTMF", Some(json!({"digits": "1"}))),
        (Method::POST, "Record", None),
        (Method::DELETE, "Record", None),
    ] {
        let (s, v) = h.req(method, &format!("/Call/no-such-call/{what}/"), body).await;
        assert_eq!(s, 404, "{what}: {v}");
        assert!(v["error"].as_str().is_some_and(|e| e.contains("no live call no-such-call")), "{v}");
    }
    h.hangup(&a).await;
    h.server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_call_record_api_starts_stops_and_calls_back() {
    let h = Harness::start().await;
    h.serve("/room", "<Response><Conference>Rec API Room</Conference></Response>");
    let a = h.sim_call("/room", "14155550141", "14155550200").await;
    let b = h.sim_call("/room", "14155550142", "14155550200").await;
    h.settle().await;
    let body = json!({"file_format": "wav", "time_limit": 120, "callback_url": h.url("/rec-a")});
    let (s, v) = h.req(Method::POST, &format!("/Call/{a}/Record/"), Some(body)).await;
    assert_eq!((s, v["message"].as_str()), (202, Some("call recording started")), "{v}");
    let id = v["recording_id"].as_str().expect("recording_id").to_owned();
    let url = v["url"].as_str().expect("url").to_owned();
    assert!(url.ends_with(&format!("{id}.wav")), "{v}");
    h.settle().await;
    assert!(has_line(&h.transcript().await, &a, &format!("recording (wav, API) to {url}")));
    let (s, _) = h.req(Method::GET, &format!("/Recording/{id}/"), None).await;
    assert_eq!(s, 404, "a recording is listed once its file is in");
    let (s, v) = h.req(Method::DELETE, &format!("/Call/{a}/Record/"), None).await;
    assert_eq!(s, 204, "{v}");
    let (s, v) = h.req(Method::DELETE, &format!("/Call/{a}/Record/"), None).await;
    assert_eq!(s, 404, "{v}");
    assert!(v["error"].as_str().is_some_and(|e| e.contains("is not recording")), "{v}");
    h.settle().await;
    let hits = h.hits();
    let cb = hits.iter().find(|x| x.path == "/rec-a").expect("the recording callback");
    assert_eq!((cb.param("RecordingID"), cb.param("RecordUrl")), (Some(id.as_str()), Some(url.as_str())));
    assert_eq!(cb.param("CallUUID"), Some(a.as_str()));
    let (s, v) = h.req(Method::GET, &format!("/Recording/{id}/"), None).await;
    assert_eq!(
        (s, v["call_uuid"].as_str(), v["recording_format"].as_str()),
        (200, Some(a.as_str()), Some("wav")),
        "{v}"
    );

    // A recording stops at its time limit by itself, and when the call hangs up.
    let body = json!({"time_limit": 1, "callback_url": h.url("/rec-limit")});
    let (s, v) = h.req(Method::POST, &format!("/Call/{a}/Record/"), Some(body)).await;
    assert_eq!(s, 202, "{v}");
    let mut limited = false;
    for _ in 0..400 {
        if h.hits().iter().any(|x| x.path == "/rec-limit") {
            limited = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(limited, "the 1 s recording never called back");
    let (s, _) = h.req(Method::DELETE, &format!("/Call/{a}/Record/"), None).await;
    assert_eq!(s, 404, "a recording past its limit is not running");
    let (s, v) =
        h.req(Method::POST, &format!("/Call/{b}/Record/"), Some(json!({"callback_url": h.url("/rec-b")}))).await;
    assert_eq!(s, 202, "{v}");
    let b_id = v["recording_id"].as_str().expect("id").to_owned();
    assert!(v["url"].as_str().is_some_and(|u| u.ends_with(".mp3")), "{v}");
    h.hangup(&b).await;
    h.settle().await;
    let hits = h.hits();
    let cb = hits.iter().find(|x| x.path == "/rec-b").expect("the hung-up call's recording callback");
    assert_eq!(cb.param("RecordingID"), Some(b_id.as_str()));
    let (s, v) = h.req(Method::POST, &format!("/Call/{b}/Record/"), None).await;
    assert_eq!(s, 404, "{v}");

    for body in [
        json!({"time_limit": 0}),
        json!({"time_limit": "x"}),
        json!({"file_format": "ogg"}),
        json!({"callback_url": "nope"}),
    ] {
        let (s, v) = h.req(Method::POST, &format!("/Call/{a}/Record/"), Some(body.clone())).await;
        assert_eq!(s, 400, "{body}: {v}");
    }
    h.hangup(&a).await;
    h.server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_refuses_requests_that_are_not_waiting() {
    let h = Harness::start().await;
    h.serve("/room", "<Response><Conference>Cancel Room</Conference></Response>");
    let request = h.make_call("/room", "14155550300", "14155550151").await;
    let uuid = h.call_of(&request).await;
    h.settle().await;
    // The simulated callee answers at once: the request is no longer waiting.
    let (s, v) = h.req(Method::DELETE, &format!("/Request/{request}/"), None).await;
    assert_eq!(s, 404, "{v}");
    assert!(v["error"].as_str().is_some_and(|e| e.contains("was answered") && e.contains(&uuid)), "{v}");
    let (s, v) = h.req(Method::DELETE, "/Request/no-such-request/", None).await;
    assert_eq!(s, 404, "{v}");
    assert!(v["error"].as_str().is_some_and(|e| e.contains("no queued or ringing request no-such-request")), "{v}");
    let (s, v) = h.req(Method::DELETE, &format!("/Call/{uuid}/"), None).await;
    assert_eq!(s, 204, "{v}");
    h.server.stop().await.expect("stop");
}
