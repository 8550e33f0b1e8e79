//! Every Prometheus metric Sightline emits: its name and its help text, in one place.
//!
//! Code that records a metric names it through these constants, so a name can't drift between
//! the recorder, the HELP text, the README and the dashboard. [`describe_all`] gives the
//! exporter every HELP text at once, once a recorder is installed.

/// Frames through each pipeline stage (`stage` = decoded, detected, rendered, encoded).
pub const FRAMES_TOTAL: &str = "sightline_frames_total";
pub const DECODE_SECONDS: &str = "sightline_decode_seconds";
pub const FRAMES_IN_FLIGHT: &str = "sightline_frames_in_flight";
pub const DETECTION_REQUEST_SECONDS: &str = "sightline_detection_request_seconds";
pub const DETECTION_RETRIES_TOTAL: &str = "sightline_detection_retries_total";
pub const INFERENCE_SECONDS: &str = "sightline_inference_seconds";
pub const ENCODE_PUSH_SECONDS: &str = "sightline_encode_push_seconds";
pub const DETECTIONS_TOTAL: &str = "sightline_detections_total";
pub const WORKER_FRAMES_TOTAL: &str = "sightline_worker_frames_total";
pub const WORKER_REQUEST_SECONDS: &str = "sightline_worker_request_seconds";
pub const WORKER_BENCHED_TOTAL: &str = "sightline_worker_benched_total";
pub const CLUSTER_BAD_MESSAGES_TOTAL: &str = "sightline_cluster_bad_messages_total";
pub const CLUSTER_NODES: &str = "sightline_cluster_nodes";
pub const CLUSTER_EVENTS_TOTAL: &str = "sightline_cluster_events_total";
pub const HTTP_REQUESTS_TOTAL: &str = "sightline_http_requests_total";
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "sightline_http_request_duration_seconds";
pub const HTTP_CONNECTIONS: &str = "sightline_http_connections";
pub const HTTP_CONNECTIONS_REFUSED_TOTAL: &str = "sightline_http_connections_refused_total";
pub const HTTP_CONNECTIONS_CUT_TOTAL: &str = "sightline_http_connections_cut_total";
pub const HTTP_HEALTH_PAST_CAPS_TOTAL: &str = "sightline_http_health_past_caps_total";
pub const JOBS: &str = "sightline_jobs";
pub const JOBS_WAITING: &str = "sightline_jobs_waiting";
pub const DETECTOR_WORKERS: &str = "sightline_detector_workers";
pub const UPLOADS_TOTAL: &str = "sightline_uploads_total";
/// Events the analytics rules raised (`kind` = line_crossed, zone_entered, zone_left, dwell_exceeded).
pub const ANALYTICS_EVENTS_TOTAL: &str = "sightline_analytics_events_total";
/// Webhook delivery attempts by outcome (delivered, retried, failed), and deliveries dropped.
pub const WEBHOOK_DELIVERIES_TOTAL: &str = "sightline_webhook_deliveries_total";
pub const WEBHOOK_OUTBOX: &str = "sightline_webhook_outbox";
/// MQTT messages acknowledged by the broker (`published`) or dropped while it was away.
pub const MQTT_MESSAGES_TOTAL: &str = "sightline_mqtt_messages_total";
/// Live sources running, by state (connecting, live, reconnecting).
pub const LIVE_SOURCES: &str = "sightline_live_sources";
/// Frames per second the running live sources send (`stage` = input) and that are encoded
/// (processed), summed over the sources.
pub const LIVE_FPS: &str = "sightline_live_fps";
/// From the capture of a live segment's first frame to its listing in the playlist.
pub const LIVE_LATENCY_SECONDS: &str = "sightline_live_latency_seconds";
/// What live sources gave up to keep latency bounded (`what` = frames, detections).
pub const LIVE_DROPPED_TOTAL: &str = "sightline_live_dropped_total";
pub const LIVE_RECONNECTS_TOTAL: &str = "sightline_live_reconnects_total";

/// The three kinds of metric the exporter knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One metric: name, kind and HELP text.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

const fn metric(name: &'static str, kind: Kind, help: &'static str) -> Metric {
    Metric { name, kind, help }
}

/// Every metric, with its HELP text.
pub const ALL: [Metric; 33] = [
    metric(
        FRAMES_TOTAL,
        Kind::Counter,
        "Frames through each pipeline stage: decoded, detected, rendered, encoded.",
    ),
    metric(
        DECODE_SECONDS,
        Kind::Histogram,
        "Time to pull one decoded frame from GStreamer.",
    ),
    metric(
        FRAMES_IN_FLIGHT,
        Kind::Gauge,
        "Frames between decoder and encoder, summed over running jobs (each bounded by its window).",
    ),
    metric(
        DETECTION_REQUEST_SECONDS,
        Kind::Histogram,
        "Detection request from dispatch to answer, error or deadline, worker queueing included.",
    ),
    metric(
        DETECTION_RETRIES_TOTAL,
        Kind::Counter,
        "Detection requests that failed or timed out and were sent again.",
    ),
    metric(
        INFERENCE_SECONDS,
        Kind::Histogram,
        "One detection on a worker: tensor fill, model run, decoding and NMS.",
    ),
    metric(
        ENCODE_PUSH_SECONDS,
        Kind::Histogram,
        "Time to hand one frame to the encoder, waiting for room included.",
    ),
    metric(
        DETECTIONS_TOTAL,
        Kind::Counter,
        "Objects detected, every job and class.",
    ),
    metric(
        WORKER_FRAMES_TOTAL,
        Kind::Counter,
        "Frames a detector worker detected for jobs (re-sent duplicates not counted).",
    ),
    metric(
        WORKER_REQUEST_SECONDS,
        Kind::Histogram,
        "Detection request per worker, dispatch to answer, error or deadline.",
    ),
    metric(
        WORKER_BENCHED_TOTAL,
        Kind::Counter,
        "Times a worker was benched after failing several requests in a row.",
    ),
    metric(
        CLUSTER_BAD_MESSAGES_TOTAL,
        Kind::Counter,
        "Cross-node payloads that did not decode, by message; answered with an error.",
    ),
    metric(
        CLUSTER_NODES,
        Kind::Gauge,
        "Nodes known to the coordinator, by state.",
    ),
    metric(
        CLUSTER_EVENTS_TOTAL,
        Kind::Counter,
        "Cluster membership changes (joined, refused, auth_failed, suspect, recovered, lost, left, dropped) and refused TLS handshakes (tls_failed).",
    ),
    metric(
        HTTP_REQUESTS_TOTAL,
        Kind::Counter,
        "HTTP requests by method, route and status.",
    ),
    metric(
        HTTP_REQUEST_DURATION_SECONDS,
        Kind::Histogram,
        "HTTP request handling time by method and route.",
    ),
    metric(HTTP_CONNECTIONS, Kind::Gauge, "HTTP connections open."),
    metric(
        HTTP_CONNECTIONS_REFUSED_TOTAL,
        Kind::Counter,
        "HTTP connections refused with a 503: every slot taken (full), the client network's share (per_network: an IPv4 /24, an IPv6 /64), or the client address's share (per_client).",
    ),
    metric(
        HTTP_HEALTH_PAST_CAPS_TOTAL,
        Kind::Counter,
        "Health checks (/healthz, /readyz) served on connections over a cap, which other requests are refused.",
    ),
    metric(
        HTTP_CONNECTIONS_CUT_TOTAL,
        Kind::Counter,
        "HTTP connections closed for silence: no byte either way for idle_timeout_s (idle).",
    ),
    metric(JOBS, Kind::Gauge, "Videos by job status."),
    metric(
        JOBS_WAITING,
        Kind::Gauge,
        "Jobs accepted and waiting for a free slot.",
    ),
    metric(
        DETECTOR_WORKERS,
        Kind::Gauge,
        "Detector workers in the sightline.detectors group.",
    ),
    metric(UPLOADS_TOTAL, Kind::Counter, "Uploads accepted."),
    metric(
        ANALYTICS_EVENTS_TOTAL,
        Kind::Counter,
        "Events raised by analytics rules, by kind (a re-analysis counts its events again).",
    ),
    metric(
        WEBHOOK_DELIVERIES_TOTAL,
        Kind::Counter,
        "Webhook delivery attempts by outcome (delivered, retried, failed) and deliveries dropped from a full outbox.",
    ),
    metric(
        WEBHOOK_OUTBOX,
        Kind::Gauge,
        "Webhook deliveries waiting in the outbox.",
    ),
    metric(
        MQTT_MESSAGES_TOTAL,
        Kind::Counter,
        "MQTT messages acknowledged by the broker (published) or dropped from a full queue (dropped).",
    ),
    metric(
        LIVE_SOURCES,
        Kind::Gauge,
        "Live sources running, by state: connecting, live, reconnecting.",
    ),
    metric(
        LIVE_FPS,
        Kind::Gauge,
        "Frames per second the running live sources send (input) and encode (processed), summed.",
    ),
    metric(
        LIVE_LATENCY_SECONDS,
        Kind::Histogram,
        "From the capture of a live segment's first frame to its listing in the playlist.",
    ),
    metric(
        LIVE_DROPPED_TOTAL,
        Kind::Counter,
        "What live sources gave up to keep latency bounded: frames not processed, detections replaced by tracking.",
    ),
    metric(
        LIVE_RECONNECTS_TOTAL,
        Kind::Counter,
        "Times a live source's stream was reopened after it had delivered frames.",
    ),
];

/// Hands every HELP text to the installed recorder (a no-op without one; repeating is harmless).
pub fn describe_all() {
    for m in ALL {
        match m.kind {
            Kind::Counter => metrics::describe_counter!(m.name, m.help),
            Kind::Gauge => metrics::describe_gauge!(m.name, m.help),
            Kind::Histogram if m.name.ends_with("_seconds") => {
                metrics::describe_histogram!(m.name, metrics::Unit::Seconds, m.help)
            }
            Kind::Histogram => metrics::describe_histogram!(m.name, m.help),
        }
    }
}

/// A label and every value it takes.
type KnownLabel = (&'static str, &'static [&'static str]);

/// The label values each counter and gauge takes where they are known before anything happens;
/// `(metric, label, values)`, or no label. Not here: metrics whose labels only exist later (a
/// worker's node and name, a route and status), and those their owner sets in full from the
/// start (the job gauges at every scrape, the cluster's node states and events when it starts).
const KNOWN_SERIES: [(&str, Option<KnownLabel>); 19] = [
    (
        FRAMES_TOTAL,
        Some(("stage", &["decoded", "detected", "rendered", "encoded"])),
    ),
    (DETECTION_RETRIES_TOTAL, None),
    (DETECTIONS_TOTAL, None),
    (WORKER_BENCHED_TOTAL, None),
    (UPLOADS_TOTAL, None),
    (
        // The cross-node messages' wire names (`Wire::NAME`).
        CLUSTER_BAD_MESSAGES_TOTAL,
        Some((
            "message",
            &[
                "detect_request",
                "detect_reply",
                "model_info",
                "join_request",
                "join_reply",
                "heartbeat",
                "heartbeat_reply",
                "leave",
            ],
        )),
    ),
    (
        HTTP_CONNECTIONS_REFUSED_TOTAL,
        Some(("reason", &["full", "per_network", "per_client"])),
    ),
    (HTTP_HEALTH_PAST_CAPS_TOTAL, None),
    (HTTP_CONNECTIONS_CUT_TOTAL, Some(("reason", &["idle"]))),
    (FRAMES_IN_FLIGHT, None),
    (HTTP_CONNECTIONS, None),
    (
        ANALYTICS_EVENTS_TOTAL,
        Some(("kind", &["line_crossed", "zone_entered", "zone_left", "dwell_exceeded"])),
    ),
    (
        WEBHOOK_DELIVERIES_TOTAL,
        Some(("outcome", &["delivered", "retried", "failed", "dropped"])),
    ),
    (WEBHOOK_OUTBOX, None),
    (MQTT_MESSAGES_TOTAL, Some(("outcome", &["published", "dropped"]))),
    (LIVE_SOURCES, Some(("state", &["connecting", "live", "reconnecting"]))),
    (LIVE_FPS, Some(("stage", &["input", "processed"]))),
    (LIVE_DROPPED_TOTAL, Some(("what", &["frames", "detections"]))),
    (LIVE_RECONNECTS_TOTAL, None),
];

/// Creates every series in [`KNOWN_SERIES`] at 0, so `increase()` and `rate()` count the first
/// event too (a counter that appears with its first increment reads as never having moved).
/// Call once, right after the recorder is installed.
pub fn zero_all() {
    let kind = |name: &str| ALL.iter().find(|m| m.name == name).map(|m| m.kind);
    for (name, labels) in KNOWN_SERIES {
        let series: Vec<Vec<(&str, &str)>> = match labels {
            Some((label, values)) => values.iter().map(|v| vec![(label, *v)]).collect(),
            None => vec![Vec::new()],
        };
        for labels in series {
            let labels: Vec<metrics::Label> = labels.iter().map(|(k, v)| metrics::Label::new(*k, *v)).collect();
            match kind(name) {
                Some(Kind::Counter) => metrics::counter!(name, labels).increment(0),
                Some(Kind::Gauge) => metrics::gauge!(name, labels).increment(0.0),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_zeroed_at_start_is_a_known_counter_or_gauge() {
        for (name, _) in KNOWN_SERIES {
            let kind = ALL.iter().find(|m| m.name == name).map(|m| m.kind);
            assert!(matches!(kind, Some(Kind::Counter | Kind::Gauge)), "{name}");
        }
    }

    #[test]
    fn names_are_unique_prefixed_and_suffixed_by_kind() {
        let mut names: Vec<&str> = ALL.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        for m in ALL {
            assert!(m.name.starts_with("sightline_"), "{}", m.name);
            assert_eq!(m.kind == Kind::Counter, m.name.ends_with("_total"), "{}", m.name);
            assert!(!m.help.is_empty());
        }
    }
}
