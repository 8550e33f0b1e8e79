//! The live sources this server runs: at most `max_live_sources` at once, beside the job queue
//! (a live source never ends on its own, so it cannot take a job's slot). Each runs as a job of
//! its own (`JobRunner::run_live`) with a monitor the API reads; sources not stopped by a user
//! are started again when the server starts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sightline_actors::live::{LiveMonitor, LiveReport, LiveState, LiveUrl};
use sightline_actors::media::LiveInput;
use sightline_actors::store::{Store, StoreError, VideoId, VideoRecord, VideoStatus};

use crate::config::ServerConfig;
use crate::job_runner::JobRunner;

/// Ended runs whose figures are kept in memory, at most.
const ENDED_KEPT: usize = 64;

/// A source started by this server, running or ended.
struct Run {
    monitor: Arc<LiveMonitor>,
    stop: Arc<AtomicBool>,
    /// Cleared when its job has ended.
    running: Arc<AtomicBool>,
}

pub struct LiveSources {
    runner: Arc<JobRunner>,
    max: usize,
    window_segments: usize,
    max_attempts: u32,
    retention: Option<Duration>,
    runs: Mutex<HashMap<VideoId, Run>>,
}

/// Why a source could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0} live sources are running, the most this server takes (max_live_sources); stop one first")]
    Full(usize),
    #[error("video {0} is not a live source")]
    NotLive(VideoId),
    #[error("live source {0} is still stopping; try again in a moment")]
    Stopping(VideoId),
    #[error("{0}")]
    BadUrl(String),
}

impl LiveSources {
    pub fn new(runner: Arc<JobRunner>, config: &ServerConfig) -> Self {
        LiveSources {
            runner,
            max: config.max_live_sources,
            window_segments: config.live_dvr_segments,
            max_attempts: config.live_max_attempts,
            retention: config.retention(),
            runs: Mutex::new(HashMap::new()),
        }
    }

    fn runs(&self) -> std::sync::MutexGuard<'_, HashMap<VideoId, Run>> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sources running now.
    pub fn running(&self) -> usize {
        self.runs()
            .values()
            .filter(|r| r.running.load(Ordering::Relaxed))
            .count()
    }

    /// Whether source `id` is running.
    pub fn is_running(&self, id: VideoId) -> bool {
        self.runs().get(&id).is_some_and(|r| r.running.load(Ordering::Relaxed))
    }

    /// Whether source `id` runs and has not been asked to stop.
    pub fn is_active(&self, id: VideoId) -> bool {
        self.runs()
            .get(&id)
            .is_some_and(|r| r.running.load(Ordering::Relaxed) && !r.stop.load(Ordering::Relaxed))
    }

    /// Starts the source `record` describes.
    pub fn start(&self, record: &VideoRecord) -> Result<(), StartError> {
        let settings = record.live.as_ref().ok_or(StartError::NotLive(record.id))?;
        let url = LiveUrl::parse(&settings.url).map_err(StartError::BadUrl)?;
        let mut runs = self.runs();
        if runs.get(&record.id).is_some_and(|r| r.running.load(Ordering::Relaxed)) {
            return Err(StartError::Stopping(record.id));
        }
        let running = runs.values().filter(|r| r.running.load(Ordering::Relaxed)).count();
        if running >= self.max {
            return Err(StartError::Full(self.max));
        }
        let run = Run {
            monitor: Arc::new(LiveMonitor::new()),
            stop: Arc::new(AtomicBool::new(false)),
            running: Arc::new(AtomicBool::new(true)),
        };
        let credentials = settings.username.clone().zip(settings.password.clone());
        let input = LiveInput {
            url,
            credentials,
            epoch_ms: settings.epoch_ms,
            max_attempts: self.max_attempts,
            window_segments: self.window_segments,
            continues: None,
            retention: self.retention,
            monitor: run.monitor.clone(),
            stop: run.stop.clone(),
        };
        let (runner, id, store) = (self.runner.clone(), record.id, self.runner.store.clone());
        let (monitor, running) = (run.monitor.clone(), run.running.clone());
        tracing::info!(video = %id, url = %input.url, "live source starting");
        tokio::spawn(async move {
            let outcome = runner.run_live(id, input).await;
            match outcome.status {
                VideoStatus::Failed => {
                    // The source's own words ("401 Unauthorized") rather than the stage's wrapping.
                    let why = monitor
                        .report()
                        .reason
                        .or(outcome.error)
                        .unwrap_or_else(|| "the live source failed".into());
                    tracing::warn!(video = %id, "live source failed: {why}");
                    let _ = store.update_video(id, |v| v.error = Some(why.clone()));
                    monitor.ended(LiveState::Failed, Some(why));
                }
                _ => {
                    tracing::info!(video = %id, "live source stopped");
                    monitor.ended(LiveState::Stopped, None);
                }
            }
            running.store(false, Ordering::Relaxed);
        });
        runs.insert(record.id, run);
        // Ended runs are kept so their figures stay readable, but not without limit: sources
        // added and stopped over months would otherwise grow this map. One forgotten falls back
        // to what its record says (state, reason), as after a restart.
        let ended: Vec<VideoId> = runs
            .iter()
            .filter(|(_, r)| !r.running.load(Ordering::Relaxed))
            .map(|(id, _)| *id)
            .collect();
        for id in ended.iter().skip(ENDED_KEPT) {
            runs.remove(id);
        }
        Ok(())
    }

    /// Starts source `record` once its run asked to stop has ended (it ends its stream first,
    /// usually within a second or two), waiting at most `wait`. Done too when another request
    /// started it meanwhile.
    pub async fn start_when_stopped(&self, record: &VideoRecord, wait: Duration) -> Result<(), StartError> {
        let asked = Instant::now();
        loop {
            if self.is_active(record.id) {
                return Ok(());
            }
            match self.start(record) {
                Err(StartError::Stopping(_)) if asked.elapsed() < wait => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                done => return done,
            }
        }
    }

    /// Asks source `id` to stop; its job then ends its stream. False if it was not running.
    pub fn stop(&self, id: VideoId) -> bool {
        match self.runs().get(&id) {
            Some(run) if run.running.load(Ordering::Relaxed) => {
                run.stop.store(true, Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }

    /// Forgets source `id` (deleted).
    pub fn forget(&self, id: VideoId) {
        if let Some(run) = self.runs().remove(&id) {
            run.stop.store(true, Ordering::Relaxed);
        }
    }

    /// Source `id`'s figures: live ones while this server has run it, else what its record says.
    pub fn report(&self, record: &VideoRecord) -> LiveReport {
        if let Some(run) = self.runs().get(&record.id) {
            let mut report = run.monitor.report();
            // Asked to stop, still finishing its last segment.
            if run.stop.load(Ordering::Relaxed) && run.running.load(Ordering::Relaxed) {
                report.state = LiveState::Stopped;
            }
            return report;
        }
        let stopped = record.live.as_ref().is_some_and(|l| l.stopped);
        let state = match record.status {
            VideoStatus::Failed => LiveState::Failed,
            _ if stopped => LiveState::Stopped,
            _ => LiveState::Connecting,
        };
        LiveReport::idle(state, record.error.clone())
    }

    /// Starts every live source of `store` that a user has not stopped and that has not failed:
    /// those an earlier run of the server was running.
    pub fn resume_all(&self, store: &Store) -> Result<(), StoreError> {
        let mut after = None;
        loop {
            let page = store.list_videos(after, 1000)?;
            for record in page.items.iter().rev() {
                let Some(live) = &record.live else { continue };
                if live.stopped || record.status == VideoStatus::Failed {
                    continue;
                }
                match self.start(record) {
                    Ok(()) => tracing::info!(video = %record.id, "live source resumed"),
                    Err(e) => tracing::warn!(video = %record.id, "live source not resumed: {e}"),
                }
            }
            match page.next_after {
                Some(a) => after = Some(a),
                None => return Ok(()),
            }
        }
    }
}
