//! DetectorPool: sends each frame to be detected (or every N-th, with `every`) to the detector
//! workers of the process group `sightline.detectors`, at most K requests per worker in flight.
//!
//! Frames are letterboxed here, before dispatch, so a worker receives a compact model-sized image.
//! Workers are picked through the process-wide [`WorkerLedger`]: remote ones first (this node's
//! cores carry the rest of the pipeline), then the least busy, skipping benched workers and those
//! of remote nodes that are not (or no longer) admitted.
//! Results are keyed by frame index: a request that fails, misses its deadline, or whose worker's
//! node stops answering heartbeats is sent again (to any worker), and whichever answer comes first
//! is used once; late duplicates are ignored.
//!
//! A live source never lets frames queue behind detection: a frame still waiting for a worker
//! when a newer one is due is only tracked (the tracker predicts its boxes) and counted as a
//! dropped detection, so the newest frame is always the one detected and the cadence adapts to
//! the workers there are. A failed request, or one on a node that stopped answering, is not sent
//! again either: its frame is tracked instead.
//!
//! Metrics: `sightline_frames_total{stage="detected"}` per answer accepted,
//! `sightline_detection_request_seconds` per request from dispatch to its outcome (an answer, an
//! error or the deadline; queueing in the worker's mailbox included), and
//! `sightline_detection_retries_total` per failed request put back to be sent again.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics::{Counter, Histogram};
use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef};

use super::messages::{FrameBoxes, PoolMsg, RendererMsg};
use crate::detect::{letterbox_frame, DetectParams, Detection, InputShape, Letterbox, LetterboxedImage};
use crate::frame::Frame;
use crate::live::LiveMonitor;
use crate::telemetry;
use crate::workers::detector_worker::{detect, DETECTORS_GROUP};
use crate::workers::ledger::WorkerLedger;
use crate::workers::request::DetectRequest;

/// Attempts per frame before the job fails: covers timeouts, lost nodes and a failing worker.
const MAX_ATTEMPTS: u32 = 6;
/// ractor_cluster drops a whole session on an inbound frame over 16 MiB; larger requests stay local.
const MAX_REMOTE_BYTES: usize = 15 << 20;
/// How often to look again for workers when none has room.
const RETRY_EVERY: Duration = Duration::from_millis(200);
/// With no worker at all for this long, the job fails instead of waiting for ever.
const NO_WORKER_LIMIT: Duration = Duration::from_secs(30);

pub struct PoolArgs {
    pub renderer: ActorRef<RendererMsg>,
    pub params: DetectParams,
    pub every: u64,
    pub model_input: InputShape,
    pub per_worker: usize,
    pub request_timeout: Duration,
    /// A live source's figures: detections are dropped rather than queued (see the module comment).
    pub live: Option<Arc<LiveMonitor>>,
}

struct Pending {
    frame: Frame,
    letterbox: Letterbox,
    image: LetterboxedImage,
    attempts: u32,
    /// The worker of the latest attempt, while it runs.
    sent_to: Option<ActorId>,
}

pub struct PoolState {
    args: PoolArgs,
    ledger: &'static WorkerLedger,
    pending: HashMap<u64, Pending>,
    waiting: VecDeque<u64>,
    frames_seen: u64,
    ended: bool,
    retry_scheduled: bool,
    no_worker_since: Option<Instant>,
    detected: Counter,
    retries: Counter,
    request_seconds: Histogram,
}

pub struct DetectorPool;

impl Actor for DetectorPool {
    type Msg = PoolMsg;
    type State = PoolState;
    type Arguments = PoolArgs;

    async fn pre_start(&self, _: ActorRef<Self::Msg>, args: PoolArgs) -> Result<Self::State, ActorProcessingErr> {
        Ok(PoolState {
            args,
            ledger: WorkerLedger::global(),
            pending: HashMap::new(),
            waiting: VecDeque::new(),
            frames_seen: 0,
            ended: false,
            retry_scheduled: false,
            no_worker_since: None,
            detected: metrics::counter!(telemetry::FRAMES_TOTAL, "stage" => "detected"),
            retries: metrics::counter!(telemetry::DETECTION_RETRIES_TOTAL),
            request_seconds: metrics::histogram!(telemetry::DETECTION_REQUEST_SECONDS),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PoolMsg::Frame(frame) => {
                state.frames_seen += 1;
                if frame.index % state.args.every.max(1) != 0 {
                    track_only(state, frame)?;
                } else {
                    if state.args.live.is_some() {
                        drop_waiting(state)?;
                    }
                    let lb = state
                        .args
                        .model_input
                        .letterbox(frame.layout.width, frame.layout.height);
                    let image = letterbox_frame(&frame, &lb);
                    state.waiting.push_back(frame.index);
                    state.pending.insert(
                        frame.index,
                        Pending {
                            frame,
                            letterbox: lb,
                            image,
                            attempts: 0,
                            sent_to: None,
                        },
                    );
                }
            }
            PoolMsg::End => state.ended = true,
            PoolMsg::Detected { index, worker, result } => {
                match result {
                    Ok(dets) => {
                        // A duplicate answer to a re-sent request finds nothing pending: ignored.
                        if let Some(p) = state.pending.remove(&index) {
                            state.detected.increment(1);
                            state.ledger.count_frame(worker);
                            state.waiting.retain(|i| *i != index);
                            let dets: Vec<Detection> = dets
                                .into_iter()
                                .map(|d| Detection {
                                    bbox: p.letterbox.to_source(&d.bbox),
                                    ..d
                                })
                                .collect();
                            state.args.renderer.cast(RendererMsg::Frame {
                                frame: p.frame,
                                boxes: FrameBoxes::Detected(dets),
                            })?;
                        }
                    }
                    Err(why) => {
                        // Only the latest attempt's failure counts; an older one was already re-sent.
                        if let Some(p) = state.pending.get_mut(&index).filter(|p| p.sent_to == Some(worker)) {
                            tracing::warn!(frame = index, attempt = p.attempts, %worker, "detection failed: {why}");
                            if let Some(live) = &state.args.live {
                                // By the time it could be sent again, newer frames are due.
                                live.detection_dropped();
                                if let Some(p) = state.pending.remove(&index) {
                                    track_only(state, p.frame)?;
                                }
                                return finish_handling(&myself, state);
                            }
                            if p.attempts >= MAX_ATTEMPTS {
                                return Err(
                                    format!("detection of frame {index} failed {MAX_ATTEMPTS} times: {why}").into()
                                );
                            }
                            p.sent_to = None;
                            state.retries.increment(1);
                            state.waiting.push_front(index);
                        }
                    }
                }
            }
            PoolMsg::Retry => {
                state.retry_scheduled = false;
                resend_from_closed_nodes(state)?;
            }
        }
        finish_handling(&myself, state)
    }
}

/// Dispatches what waits, and passes the end on once nothing is pending.
fn finish_handling(myself: &ActorRef<PoolMsg>, state: &mut PoolState) -> Result<(), ActorProcessingErr> {
    dispatch(myself, state)?;
    if state.ended && state.pending.is_empty() {
        state.args.renderer.cast(RendererMsg::End {
            frames: state.frames_seen,
        })?;
        state.ended = false;
    }
    Ok(())
}

/// Live: the frames still waiting for a worker are tracked only, to make way for a newer one.
fn drop_waiting(state: &mut PoolState) -> Result<(), ActorProcessingErr> {
    while let Some(index) = state.waiting.pop_front() {
        if let Some(p) = state.pending.remove(&index) {
            if let Some(live) = &state.args.live {
                live.detection_dropped();
            }
            track_only(state, p.frame)?;
        }
    }
    Ok(())
}

/// Sends a frame on without detection: the renderer's tracker predicts its boxes.
fn track_only(state: &PoolState, frame: Frame) -> Result<(), ActorProcessingErr> {
    state.args.renderer.cast(RendererMsg::Frame {
        frame,
        boxes: FrameBoxes::Skipped,
    })?;
    Ok(())
}

/// Puts back requests whose worker's node stopped answering heartbeats or left: a frozen node
/// would otherwise hold them until their deadline. A live source tracks those frames instead:
/// newer ones are due by now.
fn resend_from_closed_nodes(state: &mut PoolState) -> Result<(), ActorProcessingErr> {
    let stranded: Vec<u64> = state
        .pending
        .iter()
        .filter(|(_, p)| p.sent_to.is_some_and(|w| !state.ledger.admits(w)))
        .map(|(index, _)| *index)
        .collect();
    for index in stranded {
        if let Some(live) = &state.args.live {
            tracing::warn!(
                frame = index,
                "the worker's node is not answering; the frame is tracked only"
            );
            live.detection_dropped();
            if let Some(p) = state.pending.remove(&index) {
                track_only(state, p.frame)?;
            }
        } else if let Some(p) = state.pending.get_mut(&index) {
            tracing::warn!(frame = index, worker = ?p.sent_to, "the worker's node is not answering; sending the frame elsewhere");
            p.sent_to = None;
            state.retries.increment(1);
            state.waiting.push_front(index);
        }
    }
    Ok(())
}

/// Sends waiting frames to the least busy workers that have room.
fn dispatch(myself: &ActorRef<PoolMsg>, state: &mut PoolState) -> Result<(), ActorProcessingErr> {
    if !state.waiting.is_empty() {
        let workers = ractor::pg::get_members(&DETECTORS_GROUP.to_string());
        if workers.iter().any(|w| state.ledger.admits(w.get_id())) || state.args.live.is_some() {
            // A live source keeps going on tracking alone until workers come back.
            state.no_worker_since = None;
        } else {
            let since = *state.no_worker_since.get_or_insert_with(Instant::now);
            if since.elapsed() > NO_WORKER_LIMIT {
                return Err(format!("no detector worker has been available for {NO_WORKER_LIMIT:?}").into());
            }
        }
        while let Some(&index) = state.waiting.front() {
            let Some(p) = state.pending.get_mut(&index) else {
                state.waiting.pop_front();
                continue;
            };
            let remote_ok = p.image.rgb.len() <= MAX_REMOTE_BYTES;
            let Some(worker) = state.ledger.acquire(&workers, state.args.per_worker, remote_ok) else {
                break;
            };
            state.waiting.pop_front();
            p.attempts += 1;
            p.sent_to = Some(worker.get_id());
            let request = DetectRequest {
                image: p.image.clone(),
                params: state.args.params.clone(),
            };
            send(
                myself.clone(),
                state.ledger,
                worker,
                index,
                request,
                state.args.request_timeout,
                state.request_seconds.clone(),
            );
        }
    }
    // While anything is waiting or in flight, look again now and then: workers free up or join,
    // and nodes stop answering.
    if !state.pending.is_empty() && !state.retry_scheduled {
        state.retry_scheduled = true;
        myself.send_after(RETRY_EVERY, || PoolMsg::Retry);
    }
    Ok(())
}

/// One request with a deadline, answered back to the pool as a message.
fn send(
    pool: ActorRef<PoolMsg>,
    ledger: &'static WorkerLedger,
    worker: ActorCell,
    index: u64,
    request: DetectRequest,
    deadline: Duration,
    latency: Histogram,
) {
    tokio::spawn(async move {
        let id = worker.get_id();
        let started = Instant::now();
        let result = detect(&worker, request, deadline).await;
        let took = started.elapsed();
        latency.record(took.as_secs_f64());
        ledger.release(id, result.is_ok(), took);
        let _ = pool.cast(PoolMsg::Detected {
            index,
            worker: id,
            result,
        });
    });
}
