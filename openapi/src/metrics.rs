//! Prometheus metrics: the recorder, the `/metrics` endpoint, and HTTP request metrics.

use std::time::Instant;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poem::{handler, web::Data, Endpoint, IntoResponse, Request, Response};
use sightline_actors::store::VideoStatus;
use sightline_actors::telemetry;

use crate::http::route_template;
use crate::state::SharedState;

/// Buckets for latencies in seconds: from a fast API call to a slow inference.
const SECONDS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.15, 0.3, 0.6, 1.2, 2.5, 5.0, 10.0,
];

/// Installs the process-wide recorder (once; later calls get the same handle).
pub fn install() -> Result<PrometheusHandle, String> {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())?;
    telemetry::describe_all();
    telemetry::zero_all();
    Ok(HANDLE.get_or_init(|| handle).clone())
}

#[handler]
pub async fn render(Data(state): Data<&SharedState>, Data(handle): Data<&PrometheusHandle>) -> Response {
    refresh_gauges(state);
    handle
        .render()
        .with_content_type("text/plain; version=0.0.4; charset=utf-8")
        .into_response()
}

/// Gauges that describe the present rather than count events, computed at scrape time.
fn refresh_gauges(state: &SharedState) {
    let mut counts = [0u64; 5];
    let mut after = None;
    while let Ok(page) = state.store.list_videos(after, 1000) {
        for v in page.items.iter().cloned() {
            counts[status_index(state.repairs.video(v).status)] += 1;
        }
        match page.next_after {
            Some(a) => after = Some(a),
            None => break,
        }
    }
    for s in [
        VideoStatus::Queued,
        VideoStatus::Processing,
        VideoStatus::Ready,
        VideoStatus::Failed,
        VideoStatus::Interrupted,
    ] {
        metrics::gauge!(telemetry::JOBS, "status" => s.as_str()).set(counts[status_index(s)] as f64);
    }
    let workers = sightline_actors::workers::WorkerLedger::global().available();
    metrics::gauge!(telemetry::DETECTOR_WORKERS).set(workers as f64);
    metrics::gauge!(telemetry::JOBS_WAITING).set(state.jobs.waiting() as f64);
}

fn status_index(s: VideoStatus) -> usize {
    match s {
        VideoStatus::Queued => 0,
        VideoStatus::Processing => 1,
        VideoStatus::Ready => 2,
        VideoStatus::Failed => 3,
        VideoStatus::Interrupted => 4,
    }
}

/// Counts requests by method, route template and status, and times them.
pub async fn track<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let method = req.method().to_string();
    let route = route_template(req.uri().path());
    let started = Instant::now();
    let resp = match next.call(req).await {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    };
    let status = resp.status().as_u16().to_string();
    metrics::counter!(telemetry::HTTP_REQUESTS_TOTAL, "method" => method.clone(), "route" => route, "status" => status)
        .increment(1);
    metrics::histogram!(telemetry::HTTP_REQUEST_DURATION_SECONDS, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    Ok(resp)
}
