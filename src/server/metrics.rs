//! `GET /metrics`: the server's figures in the Prometheus text format (exposition format
//! 0.0.4), through the `metrics` facade and `metrics-exporter-prometheus`'s recorder.
//!
//! The recorder is the process's global one, installed by the first server ([`install`]);
//! servers in one process (tests) share its counters. Gauges (live calls, rooms, members) are
//! read from the driver when the page is asked for; counters and histograms are updated where
//! things happen: a call forgotten (by hangup cause), a webhook done (its time, by kind) or
//! failed (by kind and cause), an RTP packet in, out or late (`serve --sip`).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Gauge: calls alive now (not yet forgotten).
pub const CALLS_LIVE: &str = "plivo_flow_calls_live";
/// Gauge: live rooms (conferences and multiparty calls).
pub const ROOMS_LIVE: &str = "plivo_flow_rooms_live";
/// Gauge: members of all live rooms.
pub const ROOM_MEMBERS: &str = "plivo_flow_room_members";
/// Counter: calls ended, by `hangup_cause` (Plivo's name of the cause).
pub const CALLS_ENDED: &str = "plivo_flow_calls_ended_total";
/// Histogram: seconds from when a webhook may go on the wire to its last answer (retries
/// included), by `kind` (`document`: answer, action and redirect URLs; `notification`:
/// callbacks and the hangup URL).
pub const WEBHOOK_SECONDS: &str = "plivo_flow_webhook_seconds";
/// Counter: webhooks that failed after their retries, by `kind` and `cause` (`status`,
/// `timed_out`, `total_timeout`, `connect`, `transfer`, `local`).
pub const WEBHOOK_FAILURES: &str = "plivo_flow_webhook_failures_total";
/// Counter: RTP packets received and used (`direction="in"`) and sent (`direction="out"`).
pub const RTP_PACKETS: &str = "plivo_flow_rtp_packets_total";
/// Counter: RTP audio packets that came after a later one and were dropped.
pub const RTP_LATE: &str = "plivo_flow_rtp_packets_late_total";

/// The webhook histogram's buckets, in seconds: from a local app's milliseconds to Plivo's
/// 55 s total timeout.
const WEBHOOK_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 55.0];

/// How often the recorder's upkeep runs: histogram samples are buffered at most this long.
pub const UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder as the process's global `metrics` recorder, once; the
/// handle that renders it. `None` when the recorder could not be built or another recorder
/// was installed first (then `GET /metrics` answers 404 and nothing is recorded here).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(WEBHOOK_SECONDS.to_owned()), WEBHOOK_BUCKETS)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            // The recorder keeps histogram samples until upkeep folds them in: every
            // [`UPKEEP`] on the runtime that installed it (and before each page).
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let h = handle.clone();
                rt.spawn(async move {
                    let mut every = tokio::time::interval(UPKEEP);
                    loop {
                        every.tick().await;
                        h.run_upkeep();
                    }
                });
            }
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    metrics::describe_gauge!(CALLS_LIVE, "Calls alive now.");
    metrics::describe_gauge!(ROOMS_LIVE, "Live rooms (conferences and multiparty calls).");
    metrics::describe_gauge!(ROOM_MEMBERS, "Members of all live rooms.");
    metrics::describe_counter!(CALLS_ENDED, "Calls ended, by hangup cause.");
    metrics::describe_histogram!(WEBHOOK_SECONDS, metrics::Unit::Seconds, "Webhook time, retries included, by kind.");
    metrics::describe_counter!(WEBHOOK_FAILURES, "Webhooks failed after their retries, by kind and cause.");
    metrics::describe_counter!(RTP_PACKETS, "RTP packets received and used (in) and sent (out).");
    metrics::describe_counter!(RTP_LATE, "RTP audio packets dropped for coming after a later one.");
}

/// The live figures the driver reports for the gauges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Live {
    /// Calls alive.
    pub calls: usize,
    /// Live rooms.
    pub rooms: usize,
    /// Members of all live rooms.
    pub members: usize,
}

/// The page: the gauges set from `live`, then everything rendered.
pub fn render(handle: &PrometheusHandle, live: Live) -> String {
    metrics::gauge!(CALLS_LIVE).set(live.calls as f64);
    metrics::gauge!(ROOMS_LIVE).set(live.rooms as f64);
    metrics::gauge!(ROOM_MEMBERS).set(live.members as f64);
    handle.run_upkeep();
    handle.render()
}
