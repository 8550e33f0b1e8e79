//! Starting the server's engine: the data folders and the store, this node's detector workers,
//! the cluster's coordinator, the job queue with jobs left over from an earlier run, and the
//! webhook deliverer with the deliveries an earlier run left, the MQTT publisher, and the live
//! sources an earlier run was running.

use std::sync::Arc;

use sightline_actors::detect::{Detector, DetectorConfig, ModelInfo};
use sightline_actors::job::{JobKind, JobQueue, JobRunner as RunJob};
use sightline_actors::store::{Store, VideoStatus};
use sightline_actors::workers::{spawn_local, WorkerLedger};
use sightline_cluster::{cookie, tls, Coordinator, CoordinatorConfig};

use crate::config::ServerConfig;
use crate::disk::DiskGuard;
use crate::error::ServeError;
use crate::job_key::JobKey;
use crate::job_runner::JobRunner;
use crate::live::LiveSources;
use crate::mqtt::Publisher;
use crate::notifier::Notifier;
use crate::repairs::Repairs;
use crate::state::{AppState, SharedState};
use crate::{retention, webhooks};

/// Opens the store, starts the detector workers and the job queue, and turns jobs left
/// `processing` by an earlier run into `interrupted`.
pub async fn start(config: ServerConfig) -> Result<SharedState, ServeError> {
    let uploads = config.data_dir.join("uploads");
    let streams = config.data_dir.join("streams");
    let spool = config.data_dir.join("tmp");
    // Whatever an earlier run left half-written there is of no use now.
    let _ = std::fs::remove_dir_all(&spool);
    for dir in [&uploads, &streams, &spool] {
        std::fs::create_dir_all(dir).map_err(|e| ServeError::DataDir(dir.clone(), e.to_string()))?;
    }
    spool_in(&spool);
    let store = Store::open(&config.data_dir.join("store"))?;
    let interrupted = store.interrupt_unfinished()?;
    for id in &interrupted {
        // Live sources are started again below; only uploads wait for a retry.
        if store.get_video(*id).ok().flatten().is_some_and(|v| v.live.is_some()) {
            continue;
        }
        tracing::warn!(video = %id, "job was processing when the server stopped; now interrupted (POST /api/videos/{id}/retry runs it again)");
    }
    let detector = DetectorConfig {
        model: config.model.clone(),
        names: config.names.clone(),
        ort_library: config.ort_lib.clone(),
        threads: config.threads,
    };
    let model = start_detectors(&detector, config.workers).await?;

    let cluster = if config.cluster_enabled {
        Some(start_cluster(&config).await?)
    } else {
        None
    };

    let disk = DiskGuard::new(&config.data_dir, config.min_free_mb);
    let repairs = Arc::new(Repairs::default());
    repairs.clone().keep_writing(store.clone(), disk.clone());
    let notifier = Arc::new(Notifier {
        store: store.clone(),
        outbox_max: config.webhook_outbox_max,
        mqtt: config.mqtt_url.as_deref().map(Publisher::start),
    });
    let runner = Arc::new(JobRunner {
        disk: disk.clone(),
        repairs: repairs.clone(),
        store: store.clone(),
        model: model.clone(),
        settings: config.engine_settings(),
        uploads: uploads.clone(),
        streams: streams.clone(),
        notifier: notifier.clone(),
    });
    let live = Arc::new(LiveSources::new(runner.clone(), &config));
    let run: RunJob<JobKey> = Arc::new(move |key, progress| {
        let runner = runner.clone();
        Box::pin(async move { runner.run(key, progress).await })
    });
    let jobs = JobQueue::start(config.max_jobs, config.queue_limit, run);
    webhooks::spawn(store.clone(), &config);
    requeue(&store, &jobs)?;
    live.resume_all(&store)?;
    if let Some(keep) = config.retention() {
        retention::spawn(store.clone(), keep);
    }
    Ok(Arc::new(AppState {
        config,
        store,
        jobs,
        model,
        uploads,
        streams,
        cluster,
        disk,
        repairs,
        notifier,
        live,
    }))
}

/// Upload bodies are spooled (by the multipart parser, through `tempfile`) under the data folder,
/// so they count against its disk and its limits, not the system's temp folder. The override is
/// process-wide and can be set once: a second server in the same process keeps the first's.
fn spool_in(dir: &std::path::Path) {
    if let Err(first) = tempfile::env::override_temp_dir(dir) {
        if first != dir {
            tracing::warn!(
                "uploads spool in {}, set by an earlier start in this process",
                first.display()
            );
        }
    }
}

/// Jobs accepted but not started by an earlier run go back in the queue, oldest first, and
/// renderings left running are marked interrupted.
fn requeue(store: &Store, jobs: &JobQueue<JobKey>) -> Result<(), ServeError> {
    let mut after = None;
    loop {
        let page = store.list_videos(after, 1000)?;
        for v in page.items.iter().rev() {
            if v.status == VideoStatus::Queued && jobs.submit(JobKey::process(v.id)).is_err() {
                tracing::warn!(video = %v.id, "queue full at start-up; the job stays queued");
            }
        }
        match page.next_after {
            Some(a) => after = Some(a),
            None => break,
        }
    }
    for r in store.recover_renders()? {
        let key = JobKey {
            video: r.video,
            kind: JobKind::Render(r.number),
        };
        if jobs.submit(key).is_err() {
            tracing::warn!(video = %r.video, render = r.number, "queue full at start-up; the rendering stays queued");
        }
    }
    Ok(())
}

/// Starts this node's detector workers (actors in the `sightline.detectors` group: no handle is
/// kept) and returns the model's description. With none, detection is left to worker nodes, but
/// the model is still loaded once: its input size and class names drive every job, and a model
/// that does not load should stop the start, not the first job.
async fn start_detectors(detector: &DetectorConfig, workers: usize) -> Result<ModelInfo, ServeError> {
    let engine = |e: &dyn std::fmt::Display| ServeError::Engine(e.to_string());
    if workers > 0 {
        return spawn_local(detector, workers)
            .await
            .map(|(_, model)| model)
            .map_err(|e| engine(&e));
    }
    let detector = detector.clone();
    let model = tokio::task::spawn_blocking(move || Detector::load(&detector).map(|d| d.info().clone()))
        .await
        .map_err(|e| engine(&e))?
        .map_err(|e| engine(&e))?;
    tracing::info!("no local detector workers (workers = 0): jobs are detected by worker nodes once they join");
    Ok(model)
}

/// Starts the coordinator's side of the cluster and tells operators how a worker joins.
async fn start_cluster(config: &ServerConfig) -> Result<Coordinator, ServeError> {
    // The cookie, and how a worker's operator passes it.
    let (cookie, cookie_hint) = match &config.cluster_cookie {
        Some(c) => (c.clone(), "--cookie <cluster_cookie>".to_string()),
        None => {
            let path = config.data_dir.join(cookie::COOKIE_FILE);
            let (cookie, created) = cookie::load_or_create(&path)?;
            if created {
                tracing::info!("cluster: generated the cookie {cookie} into {}", path.display());
            }
            (cookie, format!("--cookie-file {}", path.display()))
        }
    };
    let tls = match (&config.cluster_tls_cert, &config.cluster_tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key, config.cluster_tls_client_ca.as_deref())?),
        _ => None,
    };
    let coordinator = Coordinator::start(
        CoordinatorConfig {
            listen: config.cluster_listen,
            cookie,
            tls,
            model: config.model.clone(),
            heartbeat: std::time::Duration::from_millis(config.cluster_heartbeat_ms),
            drop_after: std::time::Duration::from_secs(config.cluster_drop_after_s),
        },
        WorkerLedger::global(),
    )
    .await?;
    tracing::info!(
        "cluster: listening on {}{}; add a worker node with `sightline worker --join {} {cookie_hint}`",
        config.cluster_listen,
        match (&config.cluster_tls_cert, &config.cluster_tls_client_ca) {
            (Some(_), Some(_)) => " (TLS, workers present certificates)",
            (Some(_), None) => " (TLS)",
            _ => "",
        },
        config.cluster_listen,
    );
    Ok(coordinator)
}
