//! `serve`'s scriptable far end (`/sim/FarEnd/`) and the options of `POST Call/`
//! (`ring_timeout`, `hangup_on_ring`, `time_limit`, `send_digits`, `machine_detection`, bulk
//! `to`, refused options), over real sockets on 127.0.0.1: a webhook application in the test
//! serves XML and records every request.
//! The webhook application and the server come from `tests/common/` (shared harness).

mod common;

use axum::http::Method;
use common::{Harness, Hit, ID, TOKEN};
use serde_json::{Value, json};

impl Harness {
    /// Scripts the far end: `POST /sim/FarEnd/` with `body`.
    async fn far_end(&self, body: Value) {
        let (status, v) = self.req(Method::POST, "/sim/FarEnd/", Some(body)).await;
        assert_eq!(status, 201, "{v}");
    }

    /// `POST Call/` to `to` with the answer URL `/answer`, the hangup URL `/hangup` and
    /// `extra` options: the answer.
    async fn create(&self, to: &str, extra: Value) -> (u16, Value) {
        let mut body = json!({
            "from": "+14155550100", "to": to,
            "answer_url": self.url("/answer"), "hangup_url": self.url("/hangup"),
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        self.req(Method::POST, "/Call/", Some(body)).await
    }

    /// The hangup webhook of the call requested as `request`, once the server has settled.
    async fn hangup_of(&self, request: &str) -> Hit {
        self.settle().await;
        self.hits()
            .into_iter()
            .find(|h| h.path == "/hangup" && h.param("RequestUUID") == Some(request))
            .unwrap_or_else(|| panic!("no hangup webhook for {request}: {:#?}", self.hits()))
    }

    /// The hangup webhook of `request`, waiting for it for up to 10 s (a real-time limit).
    async fn hangup_within(&self, request: &str) -> Hit {
        for _ in 0..1000 {
            let found =
                self.hits().into_iter().find(|h| h.path == "/hangup" && h.param("RequestUUID") == Some(request));
            if let Some(hit) = found {
                return hit;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("no hangup webhook for {request}: {:#?}", self.hits());
    }

    fn answered(&self, request: &str) -> bool {
        self.hits().iter().any(|h| h.path == "/answer" && h.param("RequestUUID") == Some(request))
    }

    async fn transcript(&self) -> String {
        let resp = self.http.get(format!("{}/sim/Transcript/", self.base)).basic_auth(ID, Some(TOKEN)).send().await;
        resp.expect("send").text().await.unwrap_or_default()
    }
}

fn request_of(v: &Value) -> String {
    v["request_uuid"].as_str().unwrap_or_else(|| panic!("no request_uuid in {v}")).to_owned()
}

const CALLEE: &str = "+14155550199";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_callee_ends_the_call_with_busy_line_and_the_hangup_webhook() {
    let h = Harness::start().await;
    h.serve("/answer", "<Response><Speak>hi</Speak></Response>");
    h.far_end(json!({ "number": CALLEE, "answer": "busy" })).await;
    let (status, v) = h.create(CALLEE, json!({})).await;
    assert_eq!(status, 201, "{v}");
    let request = request_of(&v);
    let hangup = h.hangup_of(&request).await;
    assert_eq!(hangup.param("HangupCauseCode"), Some("3010"));
    assert_eq!(hangup.param("HangupCauseName"), Some("Busy Line"));
    assert_eq!(hangup.param("HangupCause"), Some("USER_BUSY"));
    assert_eq!(hangup.param("HangupSource"), Some("Callee"));
    assert_eq!(hangup.param("BillDuration"), Some("0"));
    assert!(!h.answered(&request), "a busy callee never answers: {:#?}", h.hits());
    // Another number is not scripted: its call is answered at once.
    let (_, v) = h.create("+14155550111", json!({})).await;
    let other = request_of(&v);
    h.settle().await;
    assert!(h.answered(&other), "{:#?}", h.hits());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_callee_is_out_of_service_and_a_silent_one_reaches_the_ring_timeout() {
    let h = Harness::start().await;
    h.serve("/answer", "<Response><Speak>hi</Speak></Response>");
    h.far_end(json!({ "number": CALLEE, "answer": "failed" })).await;
    h.far_end(json!({ "number": "+14155550122", "answer": "no-answer" })).await;
    let (_, v) = h.create(CALLEE, json!({})).await;
    let failed = h.hangup_of(&request_of(&v)).await;
    assert_eq!(failed.param("HangupCauseCode"), Some("2010"), "{failed:?}");
    assert_eq!(failed.param("HangupCauseName"), Some("Destination Out Of Service"));
    let (_, v) = h.create("+14155550122", json!({ "ring_timeout": 30 })).await;
    let silent = h.hangup_of(&request_of(&v)).await;
    assert_eq!(silent.param("HangupCauseCode"), Some("9020"), "{silent:?}");
    assert_eq!(silent.param("HangupCauseName"), Some("Ring Timeout Reached"));
    assert_eq!(silent.param("HangupSource"), Some("Plivo"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_after_the_ring_timeout_is_no_answer_and_before_it_an_answer() {
    let h = Harness::start().await;
    h.serve("/answer", "<Response><Speak>hi</Speak></Response>");
    h.far_end(json!({ "number": CALLEE, "answer_after": 10 })).await;
    let (_, v) = h.create(CALLEE, json!({ "ring_timeout": 5 })).await;
    let late = request_of(&v);
    let hangup = h.hangup_of(&late).await;
    assert_eq!(hangup.param("HangupCauseCode"), Some("9020"), "{hangup:?}");
    assert!(!h.answered(&late));
    let (_, v) = h.create(CALLEE, json!({ "ring_timeout": 15 })).await;
    let in_time = request_of(&v);
    let hangup = h.hangup_of(&in_time).await;
    assert!(h.answered(&in_time), "{:#?}", h.hits());
    assert_eq!(hangup.param("HangupCauseCode"), Some("4010"), "the document ran out: {hangup:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hangup_on_ring_ends_a_call_that_rings_longer() {
    let h = Harness::start().await;
    h.serve("/answer", "<Response><Speak>hi</Speak></Response>");
    h.far_end(json!({ "number": CALLEE, "answer_after": 10 })).await;
    let (_, v) = h.create(CALLEE, json!({ "hangup_on_ring": 3 })).await;
    let request = request_of(&v);
    let hangup = h.hangup_of(&request).await;
    assert_eq!(hangup.param("HangupCauseCode"), Some("9040"), "{hangup:?}");
    assert_eq!(hangup.param("HangupCauseName"), Some("Hangup On Ring"));
    assert!(!h.answered(&request));
    // 0: hung up as soon as it rings, even by a callee that answers at once.
    let (status, v) = h.create("+14155550144", json!({ "hangup_on_ring": 0 })).await;
    assert_eq!(status, 201, "{v}");
    let request = request_of(&v);
    let hangup = h.hangup_of(&request).await;
    assert_eq!(hangup.param("HangupCauseCode"), Some("9040"), "{hangup:?}");
    assert!(!h.answered(&request));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_limit_hangs_up_an_answered_call() {
    let h = Harness::start().await;
    // The document never ends by itself: only the time limit ends the call.
    h.serve("/answer", "<Response><Conference>limit-room</Conference></Response>");
    let (status, v) = h.create(CALLEE, json!({ "time_limit": 1 })).await;
    assert_eq!(status, 201, "{v}");
    let request = request_of(&v);
    let hangup = h.hangup_within(&request).await;
    assert!(h.answered(&request));
    assert_eq!(hangup.param("HangupCauseCode"), Some("9030"), "{hangup:?}");
    assert_eq!(hangup.param("HangupCauseName"), Some("Time Limit Reached"));
    assert_eq!(hangup.param("HangupSource"), Some("Plivo"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_far_end_talks_then_hangs_up_and_presses_keys() {
    let h = Harness::start().await;
    h.serve("/answer", r#"<Response><GetDigits action="/keys" numDigits="2" timeout="30"/></Response>"#);
    h.serve("/keys", "<Response><Conference>talk-room</Conference></Response>");
    // After the answer, the callee's times are real time: its keys wait for the document.
    h.far_end(json!({ "number": CALLEE, "digits": "42", "digits_after": 0.5, "talk": 1 })).await;
    let (_, v) = h.create(CALLEE, json!({})).await;
    let request = request_of(&v);
    let hangup = h.hangup_within(&request).await;
    let keys = h.hits().into_iter().find(|h| h.path == "/keys").expect("the keys' action");
    assert_eq!(keys.param("Digits"), Some("42"));
    assert_eq!(hangup.param("HangupCauseCode"), Some("4000"), "the callee hung up: {hangup:?}");
    assert_eq!(hangup.param("HangupSource"), Some("Callee"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_to_starts_one_call_per_number_each_with_its_far_end() {
    let h = Harness::start().await;
    h.serve("/answer", "<Response><Speak>hi</Speak></Response>");
    h.far_end(json!({ "number": "+14155550001", "answer": "busy" })).await;
    let (status, v) = h.create("+14155550001<+14155550002<+14155550003", json!({})).await;
    assert_eq!(status, 201, "{v}");
    let requests: Vec<String> = v["request_uuid"]
        .as_array()
        .expect("a list for a bulk call")
        .iter()
        .filter_map(|r| r.as_str())
        .map(str::to_owned)
        .collect();
    assert_eq!(requests.len(), 3, "{v}");
    h.settle().await;
    let causes: Vec<String> = requests
        .iter()
        .map(|r| {
            let hits = h.hits();
            let hit = hits.iter().find(|x| x.path == "/hangup" && x.param("RequestUUID") == Some(r.as_str()));
            hit.and_then(|x| x.param("HangupCauseCode")).unwrap_or("none").to_owned()
        })
        .collect();
    assert_eq!(causes, ["3010", "4010", "4010"]);
    let tos: Vec<String> =
        h.hits().iter().filter(|x| x.path == "/answer").filter_map(|x| x.param("To")).map(str::to_owned).collect();
    assert_eq!(tos.len(), 2, "{tos:?}");
    assert!(tos.contains(&"+14155550002".to_owned()) && tos.contains(&"+14155550003".to_owned()), "{tos:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_digits_are_sent_once_answered_and_caller_name_is_sent() {
    let h = Harness::start().await;
    h.serve("/answer", "<Response><Speak>hi</Speak></Response>");
    let (status, v) = h.create(CALLEE, json!({ "send_digits": "12w#", "caller_name": "Desk" })).await;
    assert_eq!(status, 201, "{v}");
    let request = request_of(&v);
    h.hangup_of(&request).await;
    let answer = h.hits().into_iter().find(|x| x.path == "/answer").expect("answered");
    assert_eq!(answer.param("CallerName"), Some("Desk"));
    let transcript = h.transcript().await;
    assert!(transcript.contains("send digits 12w# (aleg)"), "{transcript}");
    let (status, v) = h.create(CALLEE, json!({ "send_digits": "12x" })).await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().is_some_and(|e| e.contains("send_digits")), "{v}");
    // The DTMF API's bound holds here too: at most 100 tones and pauses.
    let (status, v) = h.create(CALLEE, json!({ "send_digits": "1".repeat(101) })).await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().is_some_and(|e| e.contains("`send_digits` holds more than 100")), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machine_detection_tells_its_url_or_hangs_up_on_a_machine() {
    let h = Harness::start().await;
    h.serve("/answer", "<Response><Conference>md-room</Conference></Response>");
    h.far_end(json!({ "number": CALLEE, "machine": true })).await;
    let (status, v) = h.create(CALLEE, json!({ "machine_detection": "hangup", "machine_detection_time": 2000 })).await;
    assert_eq!(status, 201, "{v}");
    let hangup = h.hangup_of(&request_of(&v)).await;
    assert_eq!(hangup.param("HangupCauseCode"), Some("9050"), "{hangup:?}");
    assert_eq!(hangup.param("HangupCauseName"), Some("Machine Detected"));
    let md = json!({ "machine_detection": "true", "machine_detection_url": h.url("/machine") });
    let (_, v) = h.create("+14155550133", md).await;
    let human = request_of(&v);
    h.settle().await;
    let hit = h.hits().into_iter().find(|x| x.path == "/machine").expect("the machine detection callback");
    assert_eq!(hit.param("Machine"), Some("false"));
    assert_eq!(hit.param("RequestUUID"), Some(human.as_str()));
    assert!(hit.param("CallUUID").is_some());
    let (status, v) = h.create(CALLEE, json!({ "machine_detection": "true" })).await;
    assert_eq!(status, 400, "asynchronous only: {v}");
    assert!(v["error"].as_str().is_some_and(|e| e.contains("machine_detection_url")), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_plivo_flow_cannot_honour_are_refused_by_name() {
    let h = Harness::start().await;
    for (extra, name) in [
        (json!({ "sip_headers": "a=b" }), "sip_headers"),
        (json!({ "callback_url": "https://app.example/cb" }), "callback_url"),
        (json!({ "send_on_preanswer": true }), "send_on_preanswer"),
        (json!({ "machine_detection": "maybe" }), "machine_detection"),
        (json!({ "machine_detection": "hangup", "machine_detection_time": 50 }), "machine_detection_time"),
        (json!({ "time_limit": 0 }), "time_limit"),
        (json!({ "ring_timeout": "soon" }), "ring_timeout"),
        (json!({ "hangup_on_ring": -1 }), "hangup_on_ring"),
        (json!({ "send_digits": "12@1000" }), "send_digits"),
    ] {
        let (status, v) = h.create(CALLEE, extra.clone()).await;
        assert_eq!(status, 400, "{extra}: {v}");
        assert!(v["error"].as_str().is_some_and(|e| e.contains(name)), "{extra}: {v}");
    }
    h.settle().await;
    assert!(h.hits().is_empty(), "no call started: {:#?}", h.hits());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dial_to_a_busy_number_goes_to_its_action_with_dial_status_busy() {
    let h = Harness::start().await;
    h.serve(
        "/dial",
        &format!(r#"<Response><Dial action="{}"><Number>+14155550177</Number></Dial></Response>"#, h.url("/dialed")),
    );
    h.serve("/dialed", "<Response><Hangup/></Response>");
    h.far_end(json!({ "number": "+14155550177", "answer": "busy" })).await;
    h.sim_call("/dial", "+14155550100", "+14155550200").await;
    h.settle().await;
    let action = h.hits().into_iter().find(|x| x.path == "/dialed").expect("the dial action");
    assert_eq!(action.param("DialStatus"), Some("busy"), "{action:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn far_end_keys_drive_confirm_key_and_a_call_s_entry_beats_the_number_s() {
    let h = Harness::start().await;
    let dial = |action: &str| {
        format!(
            r#"<Response><Dial action="{}" confirmKey="5" confirmTimeout="30"><Number>+14155550188</Number></Dial></Response>"#,
            h.url(action)
        )
    };
    h.serve("/dial", &dial("/dialed"));
    h.serve("/dialed", "<Response><Hangup/></Response>");
    h.far_end(json!({ "number": "+14155550188", "digits": "5", "digits_after": 1, "talk": 5 })).await;
    h.sim_call("/dial", "+14155550100", "+14155550200").await;
    h.settle().await;
    let action = h.hits().into_iter().find(|x| x.path == "/dialed").expect("the dial action");
    assert_eq!(action.param("DialStatus"), Some("completed"), "confirmed with 5, bridged: {action:?}");
    let transcript = h.transcript().await;
    assert!(transcript.contains("dialed party pressed 5"), "{transcript}");

    // The second call first waits for a key, so that its own entry is in before it dials.
    h.serve(
        "/wait",
        &format!(r#"<Response><GetDigits action="{}" numDigits="1" timeout="30"/></Response>"#, h.url("/dial2")),
    );
    h.serve("/dial2", &dial("/dialed2"));
    h.serve("/dialed2", "<Response><Hangup/></Response>");
    let call = h.sim_call("/wait", "+14155550100", "+14155550200").await;
    h.settle().await;
    h.far_end(json!({ "call_uuid": call, "answer": "busy" })).await;
    let (status, v) = h.req(Method::POST, &format!("/sim/Call/{call}/Digits/"), Some(json!({ "digits": "1" }))).await;
    assert_eq!(status, 202, "{v}");
    h.settle().await;
    let action = h.hits().into_iter().find(|x| x.path == "/dialed2").expect("the second dial action");
    assert_eq!(action.param("DialStatus"), Some("busy"), "{action:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_far_end_table_is_listed_checked_and_reset() {
    let h = Harness::start().await;
    h.far_end(json!({ "answer": "no-answer" })).await;
    h.far_end(json!({ "number": CALLEE, "answer": "answer", "answer_after": 2.5, "machine": true })).await;
    let (status, v) = h.req(Method::GET, "/sim/FarEnd/", None).await;
    assert_eq!(status, 200, "{v}");
    let list = v["far_ends"].as_array().expect("far_ends");
    assert_eq!(list.len(), 2, "{v}");
    assert_eq!(list[0]["default"], true);
    assert_eq!(list[0]["answer"], "no-answer");
    assert_eq!(list[1]["number"], CALLEE);
    assert_eq!(list[1]["answer_after"], 2.5);
    assert_eq!(list[1]["machine"], true);
    for (body, name) in [
        (json!({ "answer": "maybe" }), "answer"),
        (json!({ "answer_after": "-3" }), "answer_after"),
        (json!({ "talk": 100000 }), "talk"),
        (json!({ "digits": "12a" }), "digits"),
        (json!({ "machine": "yes" }), "machine"),
        (json!({ "number": CALLEE, "call_uuid": "x" }), "call_uuid"),
    ] {
        let (status, v) = h.req(Method::POST, "/sim/FarEnd/", Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {v}");
        assert!(v["error"].as_str().is_some_and(|e| e.contains(name)), "{body}: {v}");
    }
    let (status, _) = h.req(Method::DELETE, "/sim/FarEnd/", Some(json!({ "number": CALLEE }))).await;
    assert_eq!(status, 204);
    let (_, v) = h.req(Method::GET, "/sim/FarEnd/", None).await;
    assert_eq!(v["far_ends"].as_array().map(Vec::len), Some(1), "{v}");
    let (status, _) = h.req(Method::DELETE, "/sim/FarEnd/", None).await;
    assert_eq!(status, 204);
    let (_, v) = h.req(Method::GET, "/sim/FarEnd/", None).await;
    assert_eq!(v["far_ends"], json!([]), "{v}");
    // The default applies to numbers without an entry of their own.
    h.far_end(json!({ "answer": "busy" })).await;
    h.serve("/answer", "<Response><Speak>hi</Speak></Response>");
    let (_, v) = h.create("+14155550999", json!({})).await;
    let hangup = h.hangup_of(&request_of(&v)).await;
    assert_eq!(hangup.param("HangupCauseCode"), Some("3010"));
}

/// `DELETE Request/{request_uuid}/` of a call still ringing hangs it up at once, in the
/// driver's one step (it cannot be answered in between): 204, `HangupSource` `API Request`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ringing_call_is_cancelled_by_its_request_uuid() {
    // Real time: the callee would ring for the default 120 s.
    let h = Harness::start_with(1.0, 7).await;
    h.serve("/answer", "<Response><Speak>hi</Speak></Response>");
    h.far_end(json!({ "number": CALLEE, "answer": "no-answer" })).await;
    let (_, v) = h.create(CALLEE, json!({})).await;
    let request = request_of(&v);
    let (status, v) = h.req(Method::DELETE, &format!("/Request/{request}/"), None).await;
    assert_eq!(status, 204, "{v}");
    let hangup = h.hangup_within(&request).await;
    assert_eq!(hangup.param("HangupSource"), Some("API Request"), "{hangup:?}");
    assert!(!h.answered(&request));
    // Gone now: a second cancel finds nothing.
    let (status, v) = h.req(Method::DELETE, &format!("/Request/{request}/"), None).await;
    assert_eq!(status, 404, "{v}");
}
