//! Runs a queued job, or a live source: reads its record, prepares its output folder, builds its
//! spec and hands it to the engine.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sightline_actors::detect::ModelInfo;
use sightline_actors::hls::LivePosition;
use sightline_actors::job::{
    analyse_if_owed, record_status, EngineSettings, EventSink, JobKind, JobOutcome, JobProgress, JobSpec, RenderOptions,
};
use sightline_actors::media::{Input, LiveInput};
use sightline_actors::pipeline::run_job;
use sightline_actors::store::{Store, StoreError, VideoId, VideoStatus};
use tokio::sync::watch;

use crate::disk::DiskGuard;
use crate::heap_trim;
use crate::job_key::JobKey;
use crate::notifier::Notifier;
use crate::repairs::Repairs;

/// What every job of this server shares.
pub struct JobRunner {
    pub disk: DiskGuard,
    pub repairs: Arc<Repairs>,
    pub store: Store,
    pub model: ModelInfo,
    pub settings: EngineSettings,
    pub uploads: PathBuf,
    pub streams: PathBuf,
    /// Where the events of a job's rules go beside the store.
    pub notifier: Arc<Notifier>,
}

impl JobRunner {
    pub async fn run(&self, key: JobKey, progress: watch::Sender<JobProgress>) -> JobOutcome {
        let id = key.video;
        let record = match self.store.get_video(id) {
            Ok(Some(r)) => r,
            // Deleted while it waited in the queue.
            _ => return JobOutcome::failed("the video no longer exists"),
        };
        let (drawing, out_dir) = match key.kind {
            JobKind::Process => (RenderOptions::default(), self.streams.join(id.to_string())),
            JobKind::Render(n) => match self.store.get_render(id, n) {
                Ok(Some(r)) => (r.options, render_dir(&self.streams, id, n)),
                _ => return JobOutcome::failed("the rendering no longer exists"),
            },
        };
        if let Err(why) = self.fresh_folder(&out_dir) {
            return self.fail(key, why);
        }
        let input = Input::File(upload_path(&self.uploads, id));
        // Processing evaluates (and draws) the video's rules; renderings draw them if asked.
        let with_rules = match key.kind {
            JobKind::Process => true,
            JobKind::Render(_) => drawing.rules,
        };
        let rules = with_rules
            .then(|| self.store.get_rules(id).ok().flatten().map(|r| r.rules))
            .flatten();
        let spec =
            JobSpec::new(&record, key.kind, &drawing, input, out_dir, &self.model, &self.settings).with_rules(rules);
        let sink: Arc<dyn EventSink> = self.notifier.clone();
        let outcome = run_job(spec, self.store.clone(), progress, Some(sink)).await;
        if key.kind == JobKind::Process && outcome.status == VideoStatus::Ready {
            self.analyse_if_owed(id).await;
        }
        if !self.recorded(key, outcome.status) {
            tracing::error!(video = %id, status = %outcome.status, "the store did not take the job's end; it is kept in memory until it does");
            self.repairs.remember(key, outcome.status, outcome.error.clone());
        }
        // What the job's decoders, encoders and detectors freed goes back to the system.
        heap_trim::soon();
        outcome
    }

    /// Runs live source `id` once, until it is stopped or a stage fails. Like an upload's job,
    /// with the source as its input; a source started again goes on from `input.continues`
    /// (where its playlists ended: the caller takes the furthest of [`JobRunner::live_position`]
    /// and the runs before), and its stored detections, events and stats stay. How the run ended is for the caller to record
    /// (see `live`): a failure it runs again after is not the source's end.
    pub async fn run_live(&self, id: VideoId, input: LiveInput) -> JobOutcome {
        let record = match self.store.get_video(id) {
            Ok(Some(r)) => r,
            Ok(None) => return JobOutcome::failed("the live source no longer exists"),
            Err(e) => return JobOutcome::failed(&format!("the live source's record could not be read: {e}")),
        };
        let out_dir = self.streams.join(id.to_string());
        // The floor before the folder is emptied: a run that cannot start leaves the playlists
        // the next one goes on from.
        if let Err(low) = self.disk.check() {
            return JobOutcome::failed(&low.to_string());
        }
        if let Err(why) = self.fresh_folder(&out_dir) {
            return JobOutcome::failed(&why);
        }
        let rules = self.store.get_rules(id).ok().flatten().map(|r| r.rules);
        let spec = JobSpec::new(
            &record,
            JobKind::Process,
            &RenderOptions::default(),
            Input::Live(input),
            out_dir,
            &self.model,
            &self.settings,
        )
        .with_rules(rules);
        // Nobody follows a live source's progress: its figures are in its monitor.
        let (progress, _) = watch::channel(JobProgress::default());
        let sink: Arc<dyn EventSink> = self.notifier.clone();
        run_job(spec, self.store.clone(), progress, Some(sink)).await
    }

    /// Where live source `id`'s playlists end now (`None`: it has none).
    pub fn live_position(&self, id: VideoId) -> Option<LivePosition> {
        live_position(&self.streams.join(id.to_string()))
    }

    /// Records how live source `id`'s last run ended, for good: `failed` with `reason`, or as
    /// the run itself recorded it (stopped: `ready`). Kept in memory when the store refuses it.
    pub fn record_live_end(&self, id: VideoId, outcome: &JobOutcome, reason: Option<&str>) {
        let (status, error) = match reason {
            Some(why) => (VideoStatus::Failed, Some(why.to_string())),
            None => (outcome.status, outcome.error.clone()),
        };
        self.record_live(id, status, error);
    }

    /// Records that live source `id` was stopped by a user: an ended source, not a failed one,
    /// even when its last run failed on its way out (a stop is how it ended).
    pub fn record_live_stopped(&self, id: VideoId) {
        self.record_live(id, VideoStatus::Ready, None);
    }

    fn record_live(&self, id: VideoId, status: VideoStatus, error: Option<String>) {
        let key = JobKey::process(id);
        let recorded = record_status(&self.store, id, JobKind::Process, status, error.clone(), None);
        match recorded {
            Ok(()) | Err(StoreError::NotFound(_)) => self.repairs.forget(key),
            Err(e) => {
                tracing::error!(video = %id, %status, "the store did not take the live source's end ({e}); it is kept in memory until it does");
                self.repairs.remember(key, status, error);
            }
        }
    }

    /// Records that live source `id` runs again after a failure (`reason`): still `processing`,
    /// the failure as its error until the next run starts. Not kept when the store refuses it
    /// (the next run's start records it anyway), and no earlier end is kept for it either:
    /// written later, a `failed` would stop the server from resuming a source that came back.
    pub fn record_live_retry(&self, id: VideoId, reason: &str) {
        self.repairs.forget(JobKey::process(id));
        let recorded = record_status(
            &self.store,
            id,
            JobKind::Process,
            VideoStatus::Processing,
            Some(reason.to_string()),
            None,
        );
        if let Err(e) = recorded {
            tracing::debug!(video = %id, "the store did not take the live source's retry: {e}");
        }
    }

    /// Empties (or makes) a job's output folder: old segments must not mix with new ones. (A
    /// video's renders live inside its folder but are only ever made once it is ready.) A job
    /// that would fill the disk fails before it starts, saying why.
    fn fresh_folder(&self, out_dir: &Path) -> Result<(), String> {
        let _ = std::fs::remove_dir_all(out_dir);
        self.disk.check().map_err(|low| low.to_string())?;
        std::fs::create_dir_all(out_dir).map_err(|e| format!("cannot create {}: {e}", out_dir.display()))
    }

    /// Rules set while the job ran (its own run evaluated the ones it started with) evaluated
    /// over the tracks it stored; their events sent on as if the job had raised them.
    async fn analyse_if_owed(&self, id: VideoId) {
        let (store, notifier) = (self.store.clone(), self.notifier.clone());
        let analysed = tokio::task::spawn_blocking(move || {
            let Some(record) = analyse_if_owed(&store, id)? else {
                return Ok(());
            };
            if let Some(video) = store.get_video(id)? {
                notifier.raised(&video, &store.all_events(id)?);
                notifier.analysed(&video, &record);
            }
            Ok::<(), StoreError>(())
        })
        .await;
        match analysed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(video = %id, "the video's rules could not be evaluated: {e}"),
            Err(e) => tracing::warn!(video = %id, "the video's rules could not be evaluated: {e}"),
        }
    }

    /// Ends a job that could not start: recorded, or remembered when the store refuses.
    fn fail(&self, key: JobKey, why: String) -> JobOutcome {
        let failed = VideoStatus::Failed;
        if record_status(&self.store, key.video, key.kind, failed, Some(why.clone()), None).is_err() {
            self.repairs.remember(key, failed, Some(why.clone()));
        }
        JobOutcome::failed(&why)
    }

    /// Whether the store holds the status a job ended with.
    fn recorded(&self, key: JobKey, status: VideoStatus) -> bool {
        let stored = match key.kind {
            JobKind::Process => self.store.get_video(key.video).map(|r| r.map(|r| r.status)),
            JobKind::Render(n) => self.store.get_render(key.video, n).map(|r| r.map(|r| r.status)),
        };
        match stored {
            Ok(Some(s)) => s == status,
            // Deleted meanwhile: nothing to record.
            Ok(None) => true,
            Err(_) => false,
        }
    }
}

/// Where the upload of video `id` is kept.
pub fn upload_path(uploads: &Path, id: VideoId) -> PathBuf {
    uploads.join(format!("{id}.video"))
}

/// Where rendering `number` of video `id` is written.
fn render_dir(streams: &Path, id: VideoId, number: u32) -> PathBuf {
    streams.join(id.to_string()).join("renders").join(number.to_string())
}

/// Where the live playlists an earlier run left in `out_dir` ended (the furthest of its
/// renditions), so a player holding one never sees the numbers go back.
fn live_position(out_dir: &Path) -> Option<LivePosition> {
    let renditions = std::fs::read_dir(out_dir).ok()?;
    renditions
        .flatten()
        .filter_map(|r| std::fs::read_to_string(r.path().join("index.m3u8")).ok())
        .filter_map(|text| LivePosition::after(&text))
        .fold(None, |a, b| furthest(a, Some(b)))
}

/// The further of two playlist positions, each number on its own.
pub fn furthest(a: Option<LivePosition>, b: Option<LivePosition>) -> Option<LivePosition> {
    match (a, b) {
        (Some(a), Some(b)) => Some(LivePosition {
            segments: a.segments.max(b.segments),
            discontinuities: a.discontinuities.max(b.discontinuities),
        }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_furthest_position_takes_each_number_at_its_highest() {
        let at = |segments, discontinuities| LivePosition {
            segments,
            discontinuities,
        };
        assert_eq!(furthest(Some(at(10, 1)), Some(at(7, 2))), Some(at(10, 2)));
        assert_eq!(furthest(None, Some(at(3, 0))), Some(at(3, 0)));
        assert_eq!(furthest(Some(at(3, 0)), None), Some(at(3, 0)));
        assert_eq!(furthest(None, None), None);
    }
}
