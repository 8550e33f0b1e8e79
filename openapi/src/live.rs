//! The live sources this server runs: at most `max_live_sources` at once, beside the job queue
//! (a live source never ends on its own, so it cannot take a job's slot). Each runs as jobs of
//! its own (`JobRunner::run_live`), one after another, with one monitor the API reads over them
//! all: a run that fails for a cause that may pass (a full disk, an encoder or store error) is
//! run again after a back-off, the source `reconnecting` with the reason meanwhile, until it
//! works again or is stopped; one that fails for good leaves it `failed` (`live::recovery`
//! decides which). Sources not stopped by a user are started again when the server starts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sightline_actors::job::{record_status, JobKind, JobOutcome};
use sightline_actors::live::{Decision, LiveMonitor, LiveReport, LiveState, LiveUrl, Recovery, RunFacts};
use sightline_actors::media::LiveInput;
use sightline_actors::store::{Store, StoreError, VideoId, VideoRecord, VideoStatus};

use crate::config::ServerConfig;
use crate::job_runner::JobRunner;

/// Ended runs whose figures are kept in memory, at most.
const ENDED_KEPT: usize = 64;
/// How often a source waiting to run again looks whether it was stopped meanwhile.
const STOP_POLL: Duration = Duration::from_millis(100);

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
        let (runner, id) = (self.runner.clone(), record.id);
        let driving = Driving {
            running: run.running.clone(),
            monitor: run.monitor.clone(),
        };
        tracing::info!(video = %id, url = %input.url, "live source starting");
        tokio::spawn(async move {
            drive(&runner, id, input).await;
            drop(driving);
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

    /// Starts every live source of `store` that a user has not stopped and that has not failed
    /// for good (one waiting to run again after a failure is `processing`, and is started):
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
                    Err(e) => {
                        // Left as it was, it would read `connecting` with nothing running it.
                        let why = format!("not started with the server: {e}");
                        tracing::warn!(video = %record.id, "live source {why}");
                        let failed = VideoStatus::Failed;
                        if let Err(e) = record_status(store, record.id, JobKind::Process, failed, Some(why), None) {
                            tracing::warn!(video = %record.id, "could not record it: {e}");
                        }
                    }
                }
            }
            match page.next_after {
                Some(a) => after = Some(a),
                None => return Ok(()),
            }
        }
    }
}

/// A source's driving task, running. Dropped however the task ends, a panic included, so a
/// source is never left counted as running (unstartable, undeletable) by a task that is gone.
struct Driving {
    running: Arc<AtomicBool>,
    monitor: Arc<LiveMonitor>,
}

impl Drop for Driving {
    fn drop(&mut self) {
        if !matches!(self.monitor.state(), LiveState::Stopped | LiveState::Failed) {
            self.monitor.ended(
                LiveState::Failed,
                Some("the live source's run stopped unexpectedly; start it again".into()),
            );
        }
        self.running.store(false, Ordering::Relaxed);
    }
}

/// Runs source `id` until it is stopped or fails for good: run after run, with a wait between
/// (see `live::recovery`), each run going on from where the one before left its playlists.
async fn drive(runner: &JobRunner, id: VideoId, mut input: LiveInput) {
    let (monitor, stop) = (input.monitor.clone(), input.stop.clone());
    let mut recovery = Recovery::default();
    loop {
        // Remembered across runs: one that failed before writing a playlist (or found the disk
        // full) must not make the next start its numbers from 0 again.
        input.continues = crate::job_runner::furthest(input.continues, runner.live_position(id));
        let started = Instant::now();
        let outcome = runner.run_live(id, input.clone()).await;
        let facts = facts(runner, id, &outcome, &monitor, &stop);
        match recovery.decide(facts.end(), started.elapsed(), spread()) {
            Decision::Stop => {
                runner.record_live_stopped(id);
                tracing::info!(video = %id, "live source stopped");
                monitor.ended(LiveState::Stopped, None);
                return;
            }
            Decision::Fail { reason } => {
                runner.record_live_end(id, &outcome, Some(&reason));
                tracing::warn!(video = %id, "live source failed: {reason}");
                monitor.ended(LiveState::Failed, Some(reason));
                return;
            }
            Decision::Retry { wait, attempt, reason } => {
                tracing::warn!(video = %id, attempt, "live source's run failed: {reason}; running it again in {wait:?}");
                runner.record_live_retry(id, &reason);
                monitor.retrying(&reason, attempt);
                if !wait_unless_stopped(wait, &stop).await {
                    // Stopped while waiting: a user's stop, whatever the last run's failure was.
                    runner.record_live_stopped(id);
                    tracing::info!(video = %id, "live source stopped");
                    monitor.ended(LiveState::Stopped, None);
                    return;
                }
            }
        }
    }
}

/// What is known of source `id` once a run has ended.
fn facts(runner: &JobRunner, id: VideoId, outcome: &JobOutcome, monitor: &LiveMonitor, stop: &AtomicBool) -> RunFacts {
    // An unreadable record (a store that refuses reads after an I/O error) is not a deleted one.
    let record = runner.store.get_video(id);
    let exists = !matches!(record, Ok(None));
    let url_ok = match &record {
        Ok(Some(r)) => r.live.as_ref().is_some_and(|l| LiveUrl::parse(&l.url).is_ok()),
        _ => true,
    };
    let gave_up = monitor.has_given_up();
    // The source's own words ("401 Unauthorized") rather than the stage's wrapping of them.
    let error = match gave_up {
        true => monitor.report().reason.or_else(|| outcome.error.clone()),
        false => outcome.error.clone(),
    };
    RunFacts {
        stop_asked: stop.load(Ordering::Relaxed),
        exists,
        url_ok,
        gave_up,
        low_space: runner.disk.check().err().map(|low| low.to_string()),
        error: error.filter(|_| outcome.status == VideoStatus::Failed),
    }
}

/// Waits `wait`; false if the source was asked to stop meanwhile.
async fn wait_unless_stopped(wait: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + wait;
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        tokio::time::sleep(STOP_POLL.min(until.saturating_duration_since(Instant::now()))).await;
    }
    !stop.load(Ordering::Relaxed)
}

/// A draw in 0..1 to spread the waits of sources that failed together.
fn spread() -> f64 {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_micros());
    f64::from(micros % 1000) / 1000.0
}
