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
    let handle = HANDLE.get_or_init(|| handle).clone();
    spawn_upkeep(handle.clone());
    Ok(handle)
}

/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds histogram samples into their buckets on a timer. The recorder keeps every sample it is
/// given until a scrape or an upkeep folds them, so a server nobody scrapes grew by every
/// frame's stage latencies (some 1.4 KB a second for one live source at 30 fps, without end).
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            handle.run_upkeep();
        });
    if let Err(e) = spawned {
        tracing::warn!("histograms are folded only at scrapes: no upkeep thread ({e})");
    }
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
