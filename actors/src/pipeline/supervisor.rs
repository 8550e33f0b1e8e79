//! VideoSupervisor: one per job. Spawns the stage actors as linked children, wires them, and owns
//! the job's state machine (`processing` → `ready` | `failed`).
//!
//! A failing child ends the job as `failed` with the child's own reason; the other children are
//! stopped, which drops their GStreamer pipelines (set to Null). The store is only ever told
//! what has happened, so it stays consistent whichever way the job ends.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::sync::{oneshot, watch};

use super::analytics::{Analytics, AnalyticsArgs};
use super::detector_pool::{DetectorPool, PoolArgs};
use super::frame_extractor::{ExtractorArgs, FrameExtractor};
use super::hls_writer::{HlsWriter, WriterArgs};
use super::messages::{AnalyticsMsg, ExtractorMsg, StatsMsg, SupervisorMsg};
use super::renderer::{Renderer, RendererArgs, TrackIds};
use super::stats_aggregator::{StatsAggregator, StatsArgs};
use super::stored_detections::{StoredArgs, StoredDetections};
use crate::job::event_sink::EventSink;
use crate::job::outcome::JobOutcome;
use crate::job::progress::JobProgress;
use crate::job::spec::{JobKind, JobSpec};
use crate::job::status::record_status;
use crate::media::encoder::EncodeSummary;
use crate::store::{StatsAccumulator, Store, StoreError, VideoId, VideoStatus};
use crate::track::IdReservation;

pub struct SupervisorArgs {
    pub spec: JobSpec,
    pub store: Store,
    pub progress: watch::Sender<JobProgress>,
    /// Who hears of the events the job's rules raise, beside the store.
    pub sink: Option<Arc<dyn EventSink>>,
    pub done: oneshot::Sender<JobOutcome>,
}

pub struct SupervisorState {
    spec: JobSpec,
    store: Store,
    done: Option<oneshot::Sender<JobOutcome>>,
    stages: HashMap<ActorId, &'static str>,
    stats: Option<ActorRef<StatsMsg>>,
    analytics: Option<ActorRef<AnalyticsMsg>>,
    started: Instant,
    progress: Option<watch::Sender<JobProgress>>,
    sink: Option<Arc<dyn EventSink>>,
}

pub struct VideoSupervisor;

impl Actor for VideoSupervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(&self, _: ActorRef<Self::Msg>, args: SupervisorArgs) -> Result<Self::State, ActorProcessingErr> {
        Ok(SupervisorState {
            spec: args.spec,
            store: args.store,
            done: Some(args.done),
            stages: HashMap::new(),
            stats: None,
            analytics: None,
            started: Instant::now(),
            progress: Some(args.progress),
            sink: args.sink,
        })
    }

    async fn post_start(&self, myself: ActorRef<Self::Msg>, state: &mut Self::State) -> Result<(), ActorProcessingErr> {
        if let Err(e) = wire(&myself, state).await {
            finish(&myself, state, Err(e.to_string()), None).await;
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::Picture { width, height, fps } => {
                let (store, video) = (state.store.clone(), state.spec.video);
                let recorded = tokio::task::spawn_blocking(move || {
                    store.update_video(video, |v| (v.width, v.height, v.fps) = (width, height, fps))
                })
                .await?;
                if let Err(e) = recorded {
                    tracing::warn!(%video, "the live source's picture size could not be recorded: {e}");
                }
            }
            SupervisorMsg::Encoded(summary) => finish(&myself, state, Ok(()), Some(summary)).await,
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let stage = |cell: &ActorCell| state.stages.get(&cell.get_id()).copied().unwrap_or("a stage");
        let failure = match &event {
            SupervisionEvent::ActorFailed(cell, err) => Some(format!("{} failed: {err}", stage(cell))),
            SupervisionEvent::ActorTerminated(cell, _, reason) if state.done.is_some() => Some(format!(
                "{} stopped unexpectedly{}",
                stage(cell),
                reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default()
            )),
            _ => None,
        };
        if let Some(why) = failure {
            finish(&myself, state, Err(why), None).await;
        }
        Ok(())
    }
}

/// What a live source started again goes on from: its stats, rebuilt from the detections the
/// store holds, and its track ID reservation, which covers every ID an earlier run may have
/// handed out (a crash may have lost the last detections, not the reservation of their IDs).
async fn resume_live(store: &Store, video: VideoId) -> Result<(StatsAccumulator, TrackIds), ActorProcessingErr> {
    let rebuilding = store.clone();
    let stats = tokio::task::spawn_blocking(move || rebuilding.rebuild_stats(video)).await??;
    let last_stored = stats.stats().tracks.keys().next_back().copied().unwrap_or(0);
    let record = store.get_video(video)?.ok_or(StoreError::NotFound(video))?;
    let reserved = record.live.map_or(0, |l| l.track_ids_reserved);
    let ids = TrackIds {
        store: store.clone(),
        video,
        reservation: IdReservation::new(last_stored.max(reserved)),
    };
    Ok((stats, ids))
}

/// Spawns the stages from the end of the pipeline back, so each knows where to send.
async fn wire(myself: &ActorRef<SupervisorMsg>, state: &mut SupervisorState) -> Result<(), ActorProcessingErr> {
    let spec = state.spec.clone();
    record_status(&state.store, spec.video, spec.kind, VideoStatus::Processing, None, None)?;
    let progress = state.progress.take().ok_or("job wired twice")?;

    let extractor = ExtractorArgs {
        input: spec.input.clone(),
        window: spec.settings.window,
        declared_ms: spec.duration_ms,
    };
    let extractor = stage(myself, state, "the frame extractor", FrameExtractor, extractor).await?;
    let (resumed, track_ids) = match spec.input.live() {
        Some(_) => {
            let (stats, ids) = resume_live(&state.store, spec.video).await?;
            (Some(stats), Some(ids))
        }
        None => (None, None),
    };
    let stats = StatsArgs {
        store: state.store.clone(),
        video: spec.video,
        progress,
        resumed,
        retention: spec.input.live().and_then(|l| l.retention),
    };
    let stats = stage(myself, state, "the stats aggregator", StatsAggregator, stats).await?;
    state.stats = Some(stats.clone());
    let writer = WriterArgs {
        out_dir: spec.out_dir.clone(),
        segment_seconds: spec.settings.segment_seconds,
        fps: spec.fps,
        preset: spec.settings.preset,
        sound: spec
            .has_audio
            .then(|| spec.input.sound_file().map(|p| (p.to_path_buf(), spec.duration_ms)))
            .flatten(),
        live: spec.input.live().cloned(),
        extractor: extractor.clone(),
        stats: stats.clone(),
        supervisor: myself.clone(),
    };
    let writer = stage(myself, state, "the HLS writer", HlsWriter, writer).await?;
    // Rules are evaluated as frames go by when the video is processed; a re-render only draws.
    let analytics = match (&spec.rules, spec.kind) {
        (Some(rules), JobKind::Process) => {
            let args = AnalyticsArgs {
                store: state.store.clone(),
                video: spec.video,
                rules: rules.clone(),
                forget_after: spec.settings.tracker.gone_after(),
                sink: state.sink.clone(),
            };
            Some(stage(myself, state, "the analytics", Analytics, args).await?)
        }
        _ => None,
    };
    state.analytics = analytics.clone();
    let renderer = RendererArgs {
        writer,
        stats,
        analytics,
        tracker: spec.settings.tracker.clone(),
        track_ids,
        style: spec.style,
        class_names: spec.class_names.clone(),
        draw_classes: spec.draw_classes.clone(),
        rules: spec.rules.clone(),
    };
    let renderer = stage(myself, state, "the renderer", Renderer, renderer).await?;
    let source = "the detection source";
    let pool = match spec.kind {
        JobKind::Process => {
            let args = PoolArgs {
                renderer,
                params: spec.options.detect_params(),
                every: spec.options.every,
                model_input: spec.model_input,
                per_worker: spec.settings.per_worker,
                request_timeout: spec.settings.request_timeout,
                live: spec.input.live().map(|l| l.monitor.clone()),
            };
            stage(myself, state, source, DetectorPool, args).await?
        }
        JobKind::Render(_) => {
            let args = StoredArgs {
                store: state.store.clone(),
                video: spec.video,
                renderer,
            };
            stage(myself, state, source, StoredDetections, args).await?
        }
    };
    extractor.cast(ExtractorMsg::Start { pool })?;
    Ok(())
}

/// Spawns one stage linked to the supervisor, known in failure messages as `name`.
async fn stage<A: Actor>(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    name: &'static str,
    actor: A,
    args: A::Arguments,
) -> Result<ActorRef<A::Msg>, ActorProcessingErr> {
    let (stage, _) = Actor::spawn_linked(None, actor, args, myself.get_cell()).await?;
    state.stages.insert(stage.get_id(), name);
    Ok(stage)
}

/// Ends the job once: records the outcome in the store, stops every stage, tells the caller.
async fn finish(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    result: Result<(), String>,
    summary: Option<EncodeSummary>,
) {
    let Some(done) = state.done.take() else { return };
    let mut class_counts = BTreeMap::new();
    let mut result = result;
    // A re-render stores nothing: its detections are the ones already stored.
    if result.is_ok() && state.spec.kind == JobKind::Process {
        // Everything detected must be stored before the job may say `ready`.
        match &state.stats {
            Some(stats) => match ractor::call!(stats, StatsMsg::Flush) {
                Ok(Ok(counts)) => class_counts = counts,
                Ok(Err(e)) => result = Err(format!("storing detections failed: {e}")),
                Err(e) => result = Err(format!("the stats aggregator is gone: {e}")),
            },
            None => result = Err("the job never started".into()),
        }
        // Its events are complete once every frame's boxes have been seen.
        if let (Ok(()), Some(analytics)) = (&result, &state.analytics) {
            match ractor::call!(analytics, AnalyticsMsg::Finish) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(format!("storing the rules' events failed: {e}")),
                Err(e) => result = Err(format!("the analytics are gone: {e}")),
            }
        }
    }
    myself.stop_children(None);
    let frames = summary.as_ref().map_or(0, |s| s.frames);
    let (status, error) = match result {
        Ok(()) => (VideoStatus::Ready, None),
        Err(e) => (VideoStatus::Failed, Some(e)),
    };
    let (store, spec) = (&state.store, &state.spec);
    let warnings = summary.as_ref().map(|s| s.warnings.clone()).unwrap_or_default();
    for w in &warnings {
        tracing::warn!(video = %spec.video, "{w}");
    }
    let stored = record_status(store, spec.video, spec.kind, status, error.clone(), Some(frames)).and_then(|_| {
        // A processing job's warnings replace the last run's; a re-render adds any new one.
        match spec.kind {
            JobKind::Process => store.update_video(spec.video, |v| v.warnings = warnings.clone()),
            JobKind::Render(_) if !warnings.is_empty() => store.update_video(spec.video, |v| {
                for w in &warnings {
                    if !v.warnings.contains(w) {
                        v.warnings.push(w.clone());
                    }
                }
            }),
            JobKind::Render(_) => return Ok(()),
        }
        .map(|_| ())
    });
    if let Err(e) = stored.and_then(|_| store.flush().map(|_| ())) {
        tracing::error!(video = %state.spec.video, "could not record the job's end: {e}");
    }
    let _ = done.send(JobOutcome {
        status,
        error,
        warnings,
        frames,
        segments: summary.map_or(0, |s| s.segments),
        class_counts,
        wall: state.started.elapsed(),
    });
    myself.stop(None);
}

/// Runs one job to its end: spawns its supervisor and waits for the outcome. The events its rules
/// raise go to `sink` as they happen.
pub async fn run_job(
    spec: JobSpec,
    store: Store,
    progress: watch::Sender<JobProgress>,
    sink: Option<Arc<dyn EventSink>>,
) -> JobOutcome {
    let (video, kind) = (spec.video, spec.kind);
    let (done_tx, done_rx) = oneshot::channel();
    let args = SupervisorArgs {
        spec,
        store: store.clone(),
        progress,
        sink,
        done: done_tx,
    };
    let failed = |error: String| {
        let _ = record_status(&store, video, kind, VideoStatus::Failed, Some(error.clone()), None);
        JobOutcome::failed(&error)
    };
    match Actor::spawn(None, VideoSupervisor, args).await {
        Ok((_, handle)) => {
            let outcome = done_rx.await;
            let _ = handle.await;
            outcome.unwrap_or_else(|_| failed("the job's supervisor stopped without an outcome".into()))
        }
        Err(e) => failed(format!("the job could not start: {e}")),
    }
}
