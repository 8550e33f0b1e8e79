//! What every request handler shares: the store, the job queue, the engine and the settings.

use std::path::PathBuf;
use std::sync::Arc;

use sightline_actors::detect::{DetectParams, Detector, DetectorConfig, ModelInfo};
use sightline_actors::detector_worker::spawn_local;
use sightline_actors::job_queue::{JobQueue, JobRunner};
use sightline_actors::render::RenderStyle;
use sightline_actors::store::{Store, VideoId, VideoRecord};
use sightline_actors::video_supervisor::{run_job, JobOutcome, JobSpec};
use sightline_actors::worker_ledger::WorkerLedger;
use sightline_cluster::{cookie, tls, Coordinator, CoordinatorConfig};

use crate::config::ServerConfig;
use crate::ServeError;

/// A job: processing a video, or re-rendering it (`render: Some(n)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobKey {
    pub video: VideoId,
    pub render: Option<u32>,
}

impl JobKey {
    pub fn video(video: VideoId) -> Self {
        JobKey { video, render: None }
    }
}

pub struct AppState {
    pub config: ServerConfig,
    pub store: Store,
    pub jobs: JobQueue<JobKey>,
    pub model: ModelInfo,
    pub uploads: PathBuf,
    pub streams: PathBuf,
    /// `None` when `cluster_enabled` is off.
    pub cluster: Option<Coordinator>,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    /// Opens the store, starts the detector workers and the job queue, and turns jobs left
    /// `processing` by an earlier run into `interrupted`.
    pub async fn start(config: ServerConfig) -> Result<SharedState, ServeError> {
        let uploads = config.data_dir.join("uploads");
        let streams = config.data_dir.join("streams");
        for dir in [&uploads, &streams] {
            std::fs::create_dir_all(dir).map_err(|e| ServeError::DataDir(dir.clone(), e.to_string()))?;
        }
        let store = Store::open(&config.data_dir.join("store"))?;
        let interrupted = store.interrupt_unfinished()?;
        for id in &interrupted {
            tracing::warn!(video = %id, "job was processing when the server stopped; now interrupted (POST /api/videos/{id}/retry runs it again)");
        }
        let detector = sightline_actors::detect::DetectorConfig {
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

        let runner_ctx = Arc::new(RunnerContext {
            config: config.clone(),
            store: store.clone(),
            model: model.clone(),
            uploads: uploads.clone(),
            streams: streams.clone(),
        });
        let runner: JobRunner<JobKey> = Arc::new(move |id, progress| {
            let ctx = runner_ctx.clone();
            Box::pin(async move { ctx.run(id, progress).await })
        });
        let jobs = JobQueue::start(config.max_jobs, config.queue_limit, runner);
        // Jobs accepted but not started by an earlier run go back in the queue.
        let mut after = None;
        loop {
            let page = store.list_videos(after, 1000)?;
            for v in page.items.iter().rev() {
                if v.status == sightline_actors::store::VideoStatus::Queued && jobs.submit(JobKey::video(v.id)).is_err()
                {
                    tracing::warn!(video = %v.id, "queue full at start-up; the job stays queued");
                }
            }
            match page.next_after {
                Some(a) => after = Some(a),
                None => break,
            }
        }
        Ok(Arc::new(AppState {
            config,
            store,
            jobs,
            model,
            uploads,
            streams,
            cluster,
        }))
    }

    pub fn upload_path(&self, id: VideoId) -> PathBuf {
        self.uploads.join(format!("{id}.video"))
    }

    pub fn stream_dir(&self, id: VideoId) -> PathBuf {
        self.streams.join(id.to_string())
    }

    /// The name a client passes as `model`: the model file's stem.
    pub fn model_name(&self) -> String {
        self.model
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
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

/// Builds and runs a job from its stored record.
struct RunnerContext {
    config: ServerConfig,
    store: Store,
    model: ModelInfo,
    uploads: PathBuf,
    streams: PathBuf,
}

fn render_dir(streams: &std::path::Path, id: VideoId, number: u32) -> PathBuf {
    streams.join(id.to_string()).join("renders").join(number.to_string())
}

impl RunnerContext {
    async fn run(
        &self,
        key: JobKey,
        progress: tokio::sync::watch::Sender<sightline_actors::stats_aggregator::JobProgress>,
    ) -> JobOutcome {
        let id = key.video;
        let record = match self.store.get_video(id) {
            Ok(Some(r)) => r,
            // Deleted while it waited in the queue.
            _ => return JobOutcome::failed("the video no longer exists"),
        };
        let out_dir = match key.render {
            Some(n) => render_dir(&self.streams, id, n),
            None => self.streams.join(id.to_string()),
        };
        // A retry starts from a clean folder: old segments must not mix with new ones. (A
        // video's renders live inside its folder but are only ever made once it is ready.)
        let _ = std::fs::remove_dir_all(&out_dir);
        let mut spec = self.spec(&record, out_dir.clone());
        if let Some(n) = key.render {
            match self.store.get_render(id, n) {
                Ok(Some(r)) => apply_render_options(&mut spec, &r.options, &self.model),
                _ => return JobOutcome::failed("the rendering no longer exists"),
            }
            spec.render = Some(n);
        }
        if let Err(e) = std::fs::create_dir_all(&out_dir) {
            let why = format!("cannot create {}: {e}", out_dir.display());
            let failed = sightline_actors::store::VideoStatus::Failed;
            let _ = match key.render {
                Some(n) => self.store.set_render_status(id, n, failed, Some(why.clone())),
                None => self
                    .store
                    .update_video(id, |v| {
                        v.status = failed;
                        v.error = Some(why.clone());
                    })
                    .map(|_| ()),
            };
            return JobOutcome::failed(&why);
        }
        run_job(spec, self.store.clone(), progress).await
    }

    fn spec(&self, record: &VideoRecord, out_dir: PathBuf) -> JobSpec {
        let opt = &record.config;
        let classes: Vec<String> = opt["classes"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c.as_str().map(String::from)).collect())
            .unwrap_or_default();
        JobSpec {
            params: DetectParams {
                confidence: opt["confidence"].as_f64().map_or(self.config.confidence, |c| c as f32),
                iou: opt["iou"].as_f64().map_or(self.config.iou, |c| c as f32),
                classes,
            },
            every: opt["every"].as_u64().unwrap_or(self.config.every),
            window: self.config.window,
            segment_seconds: self.config.segment_seconds,
            preset: self.config.preset.clone(),
            request_timeout: std::time::Duration::from_secs_f64(self.config.detect_deadline_s),
            ..JobSpec::new(
                record.id,
                self.uploads.join(format!("{}.video", record.id)),
                out_dir,
                &self.model,
                record.fps,
                record.duration_ms,
            )
        }
    }
}

/// A rendering's options (validated when it was requested) applied to its job.
fn apply_render_options(spec: &mut JobSpec, options: &serde_json::Value, model: &ModelInfo) {
    let classes: Vec<String> = options["classes"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c.as_str().map(String::from)).collect())
        .unwrap_or_default();
    spec.draw_classes = model.class_mask(&classes).ok().flatten();
    let d = RenderStyle::default();
    let style = RenderStyle::new(
        options["thickness"].as_u64().map_or(d.thickness, |t| t as u32),
        options["opacity"].as_f64().map_or(d.opacity, |o| o as f32),
        options["labels"].as_bool().unwrap_or(d.labels),
    );
    spec.style = style.unwrap_or(d);
}
