//! StatsAggregator: stores detections in batches and keeps the job's live stats and progress.
//!
//! Detections are written every `BATCH_FRAMES` detected frames and at the end; the video record's
//! progress is refreshed at the same points, and the stats too unless they are large (see
//! [`STATS_BYTES_PER_SECOND`]), so what the store reports is never ahead of what it holds. A
//! live source's stats start from what the store holds of it (a source started again keeps its
//! history) and forget what is older than its retention as they go.
//!
//! Metrics: `sightline_detections_total`, the detections received (before they are batched).

use std::time::{Duration, Instant};

use metrics::Counter;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::watch;

use super::messages::StatsMsg;
use crate::job::progress::JobProgress;
use crate::store::{Progress, StatsAccumulator, Store, StoredDetection, VideoId};
use crate::telemetry;

const BATCH_FRAMES: usize = 25;

/// The stats are one JSON snapshot, rewritten whole. A live source's grows with its retention
/// window (a bin per second, an entry per track): about 6 MB a day of the sample street scene
/// (62 tracks and 124 busy seconds in 2 minutes), so a week's would be some 44 MB rewritten
/// every 25 frames. Snapshots are written at most at this rate on average: after one of N bytes,
/// the next waits N / rate (a 10 KB one none to speak of; a 44 MB one about three minutes,
/// meanwhile the stored stats lag behind the detections). The end of a job always writes them.
const STATS_BYTES_PER_SECOND: f64 = 256.0 * 1024.0;

pub struct StatsArgs {
    pub store: Store,
    pub video: VideoId,
    pub progress: watch::Sender<JobProgress>,
    /// Stats to start from: those of what the store holds of a live source started again.
    pub resumed: Option<StatsAccumulator>,
    /// How long detections are kept (a live source's retention; `None`: for ever).
    pub retention: Option<Duration>,
}

pub struct StatsState {
    args: StatsArgs,
    acc: StatsAccumulator,
    batch: Vec<StoredDetection>,
    batch_frames: usize,
    /// The latest frame's time: retention counts back from it.
    last_pts_ms: u64,
    /// When the stats may be written again (see [`STATS_BYTES_PER_SECOND`]).
    stats_due: Instant,
    detections_total: Counter,
}

pub struct StatsAggregator;

impl Actor for StatsAggregator {
    type Msg = StatsMsg;
    type State = StatsState;
    type Arguments = StatsArgs;

    async fn pre_start(&self, _: ActorRef<Self::Msg>, mut args: StatsArgs) -> Result<Self::State, ActorProcessingErr> {
        let acc = args.resumed.take().unwrap_or_default();
        Ok(StatsState {
            args,
            acc,
            last_pts_ms: 0,
            stats_due: Instant::now(),
            batch: Vec::new(),
            batch_frames: 0,
            detections_total: metrics::counter!(telemetry::DETECTIONS_TOTAL),
        })
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            StatsMsg::Detections {
                index,
                pts_ns,
                width,
                height,
                detections,
                ack,
            } => {
                state.detections_total.increment(detections.len() as u64);
                let pts_ms = pts_ns / 1_000_000;
                state.last_pts_ms = pts_ms;
                let stored: Vec<StoredDetection> = detections
                    .iter()
                    .map(|b| {
                        let d = &b.detection;
                        StoredDetection {
                            frame: index,
                            pts_ms,
                            class_id: d.class_id,
                            confidence: d.confidence,
                            bbox: d.bbox.to_normalised(width, height),
                            track_id: b.track_id,
                            predicted: b.predicted,
                        }
                    })
                    .collect();
                state.acc.ingest(pts_ms, &stored);
                state.batch.extend(stored);
                state.batch_frames += 1;
                if state.batch_frames >= BATCH_FRAMES {
                    persist(state, false)?;
                }
                let _ = ack.send(());
            }
            StatsMsg::Encoded {
                frames,
                playable_segments,
                ack,
            } => {
                state.args.progress.send_modify(|p| {
                    p.frames_encoded = frames;
                    p.playable_segments = playable_segments;
                });
                let _ = ack.send(());
            }
            StatsMsg::Flush(reply) => {
                let result = persist(state, true)
                    .and_then(|_| state.args.store.flush().map_err(|e| e.to_string()))
                    .map(|_| state.acc.stats().class_counts.clone());
                let _ = reply.send(result);
            }
        }
        Ok(())
    }
}

/// Writes the pending batch, then the stats (when due, or `finally`) and the progress that
/// describe it.
fn persist(state: &mut StatsState, finally: bool) -> Result<(), String> {
    let store = &state.args.store;
    let id = state.args.video;
    store.insert_detections(id, &state.batch).map_err(|e| e.to_string())?;
    state.batch.clear();
    state.batch_frames = 0;
    if let Some(keep) = state.args.retention {
        state
            .acc
            .forget_before(state.last_pts_ms.saturating_sub(keep.as_millis() as u64));
    }
    let stats = state.acc.stats();
    let now = Instant::now();
    if finally || now >= state.stats_due {
        let written = store.put_stats(id, stats).map_err(|e| e.to_string())?;
        state.stats_due = now + pause_after(written);
    }
    let (frames_detected, detections) = (stats.frames_detected, stats.total_detections);
    let encoded = state.args.progress.borrow().frames_encoded;
    let record = store
        .update_video(id, |v| {
            v.detections = detections;
            v.progress = Progress::new(encoded, v.progress.frames_total);
        })
        .map_err(|e| e.to_string())?;
    state.args.progress.send_modify(|p| {
        p.frames_detected = frames_detected;
        p.detections = detections;
        p.frames_total = record.progress.frames_total;
    });
    Ok(())
}

/// How long to wait before writing stats again after a snapshot of `bytes`.
fn pause_after(bytes: usize) -> Duration {
    Duration::from_secs_f64(bytes as f64 / STATS_BYTES_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_stats_are_written_less_often() {
        assert!(pause_after(10_000) < Duration::from_millis(40));
        assert_eq!(pause_after(256 * 1024), Duration::from_secs(1));
        assert_eq!(pause_after(50 << 20), Duration::from_secs(200));
    }
}
