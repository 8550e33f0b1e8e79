//! DetectorPool: sends each frame to be detected (or every N-th, with `every`) to the detector
//! workers of the process group `sightline.detectors`, at most K requests per worker in flight.
//!
//! Frames are letterboxed here, before dispatch, so a worker receives a compact model-sized image.
//! Results are keyed by frame index: a request that times out or fails is sent again (to any
//! worker), and whichever answer comes first is used once; late duplicates are ignored.
//!
//! Metrics: `sightline_frames_total{stage="detected"}` per answer accepted,
//! `sightline_detection_request_seconds` per request from dispatch to its outcome (an answer, an
//! error or the deadline; queueing in the worker's mailbox included), and
//! `sightline_detection_retries_total` per failed request put back to be sent again.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use metrics::{Counter, Histogram};
use ractor::rpc::CallResult;
use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef};
use ractor_cluster::RactorMessage;

use crate::detect::{letterbox_i420, DetectParams, Detection, Letterbox, LetterboxedImage, YuvMatrix};
use crate::detector_worker::{DetectorMsg, DETECTORS_GROUP};
use crate::frame::Frame;
use crate::renderer::{FrameBoxes, RendererMsg};

/// Attempts per frame before the job fails: covers a timeout or two and a lost worker.
const MAX_ATTEMPTS: u32 = 4;
/// How often to look again for workers when none has room.
const RETRY_EVERY: Duration = Duration::from_millis(200);
/// With no worker at all for this long, the job fails instead of waiting for ever.
const NO_WORKER_LIMIT: Duration = Duration::from_secs(30);

#[derive(RactorMessage)]
pub enum PoolMsg {
    Frame(Frame),
    /// The extractor has sent every frame.
    End,
    /// Internal: a worker answered (or the request failed) for `index`.
    Detected {
        index: u64,
        worker: ActorId,
        result: Result<Vec<Detection>, String>,
    },
    /// Internal: try dispatching again (workers may have joined or freed up).
    Retry,
}

pub struct PoolArgs {
    pub renderer: ActorRef<RendererMsg>,
    pub params: DetectParams,
    pub every: u64,
    pub model_input: (u32, u32),
    pub per_worker: usize,
    pub request_timeout: Duration,
}

struct Pending {
    frame: Frame,
    letterbox: Letterbox,
    image: LetterboxedImage,
    attempts: u32,
}

pub struct PoolState {
    args: PoolArgs,
    pending: HashMap<u64, Pending>,
    waiting: VecDeque<u64>,
    in_flight: HashMap<ActorId, usize>,
    frames_seen: u64,
    ended: bool,
    retry_scheduled: bool,
    no_worker_since: Option<std::time::Instant>,
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
        metrics::describe_histogram!(
            "sightline_detection_request_seconds",
            "Detection request from dispatch to answer, error or deadline, worker queueing included."
        );
        metrics::describe_counter!(
            "sightline_detection_retries_total",
            "Detection requests that failed or timed out and were sent again."
        );
        Ok(PoolState {
            args,
            pending: HashMap::new(),
            waiting: VecDeque::new(),
            in_flight: HashMap::new(),
            frames_seen: 0,
            ended: false,
            retry_scheduled: false,
            no_worker_since: None,
            detected: metrics::counter!("sightline_frames_total", "stage" => "detected"),
            retries: metrics::counter!("sightline_detection_retries_total"),
            request_seconds: metrics::histogram!("sightline_detection_request_seconds"),
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
                    state.args.renderer.cast(RendererMsg::Frame {
                        frame,
                        boxes: FrameBoxes::Skipped,
                    })?;
                } else {
                    let (mw, mh) = state.args.model_input;
                    let lb = Letterbox::new(frame.layout.width, frame.layout.height, mw, mh);
                    let image = letterbox_i420(
                        &frame.data,
                        frame.layout,
                        &lb,
                        YuvMatrix::for_height(frame.layout.height),
                    );
                    state.waiting.push_back(frame.index);
                    state.pending.insert(
                        frame.index,
                        Pending {
                            frame,
                            letterbox: lb,
                            image,
                            attempts: 0,
                        },
                    );
                }
            }
            PoolMsg::End => state.ended = true,
            PoolMsg::Detected { index, worker, result } => {
                if let Some(n) = state.in_flight.get_mut(&worker) {
                    *n = n.saturating_sub(1);
                }
                match result {
                    Ok(dets) => {
                        // A duplicate answer to a re-sent request finds nothing pending: ignored.
                        if let Some(p) = state.pending.remove(&index) {
                            state.detected.increment(1);
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
                        if let Some(p) = state.pending.get(&index) {
                            tracing::warn!(frame = index, attempt = p.attempts, "detection failed: {why}");
                            if p.attempts >= MAX_ATTEMPTS {
                                return Err(
                                    format!("detection of frame {index} failed {MAX_ATTEMPTS} times: {why}").into()
                                );
                            }
                            if !state.waiting.contains(&index) {
                                state.retries.increment(1);
                                state.waiting.push_front(index);
                            }
                        }
                    }
                }
            }
            PoolMsg::Retry => state.retry_scheduled = false,
        }
        dispatch(&myself, state)?;
        if state.ended && state.pending.is_empty() {
            state.args.renderer.cast(RendererMsg::End {
                frames: state.frames_seen,
            })?;
            state.ended = false;
        }
        Ok(())
    }
}

/// Sends waiting frames to the least busy workers that have room.
fn dispatch(myself: &ActorRef<PoolMsg>, state: &mut PoolState) -> Result<(), ActorProcessingErr> {
    if state.waiting.is_empty() {
        return Ok(());
    }
    let workers = ractor::pg::get_members(&DETECTORS_GROUP.to_string());
    if workers.is_empty() {
        let since = *state.no_worker_since.get_or_insert_with(std::time::Instant::now);
        if since.elapsed() > NO_WORKER_LIMIT {
            return Err(format!("no detector worker has been available for {NO_WORKER_LIMIT:?}").into());
        }
    } else {
        state.no_worker_since = None;
    }
    state
        .in_flight
        .retain(|id, n| *n > 0 || workers.iter().any(|w| w.get_id() == *id));
    while let Some(&index) = state.waiting.front() {
        let Some(worker) = least_busy(&workers, &state.in_flight, state.args.per_worker) else {
            break;
        };
        state.waiting.pop_front();
        let Some(p) = state.pending.get_mut(&index) else {
            continue;
        };
        p.attempts += 1;
        *state.in_flight.entry(worker.get_id()).or_default() += 1;
        send(
            myself.clone(),
            worker,
            index,
            p.image.clone(),
            state.args.params.clone(),
            state.args.request_timeout,
            state.request_seconds.clone(),
        );
    }
    if !state.waiting.is_empty() && !state.retry_scheduled {
        state.retry_scheduled = true;
        myself.send_after(RETRY_EVERY, || PoolMsg::Retry);
    }
    Ok(())
}

fn least_busy(workers: &[ActorCell], in_flight: &HashMap<ActorId, usize>, limit: usize) -> Option<ActorCell> {
    workers
        .iter()
        .map(|w| (in_flight.get(&w.get_id()).copied().unwrap_or(0), w))
        .filter(|(n, _)| *n < limit.max(1))
        .min_by_key(|(n, _)| *n)
        .map(|(_, w)| w.clone())
}

/// One request with a deadline, answered back to the pool as a message.
fn send(
    pool: ActorRef<PoolMsg>,
    worker: ActorCell,
    index: u64,
    image: LetterboxedImage,
    params: DetectParams,
    timeout: Duration,
    latency: Histogram,
) {
    tokio::spawn(async move {
        let id = worker.get_id();
        let started = Instant::now();
        let request = |reply| DetectorMsg::Detect { image, params, reply };
        let result = match ractor::rpc::call(&worker, request, Some(timeout)).await {
            Ok(CallResult::Success(reply)) => reply,
            Ok(CallResult::Timeout) => Err(format!("no answer within {timeout:?}")),
            Ok(CallResult::SenderError) => Err("the worker dropped the request".to_string()),
            Err(e) => Err(format!("the worker is gone: {e}")),
        };
        latency.record(started.elapsed().as_secs_f64());
        let _ = pool.cast(PoolMsg::Detected {
            index,
            worker: id,
            result,
        });
    });
}
