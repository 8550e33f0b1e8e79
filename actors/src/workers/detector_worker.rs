//! DetectorWorker: an actor that owns one ONNX Runtime session and answers detection requests.
//!
//! Workers join the process group [`DETECTORS_GROUP`], where the detector pool finds them.
//! Inference runs on tokio's blocking pool so that a 40–80 ms model run never stalls the actors
//! sharing the async worker threads; the actor itself handles one request at a time (the session
//! is not shareable), so requests beyond the one running wait in the mailbox.
//!
//! Its messages cross nodes (a worker node's detectors are called by the coordinator's pools), so
//! they derive `RactorClusterMessage` and carry [`Checked`] payloads: a malformed request gets an
//! error reply, never a panic or silence.
//!
//! Metrics: `sightline_inference_seconds`, the time of each model run on the blocking pool
//! (tensor fill, inference, decoding and NMS).

use std::time::{Duration, Instant};

use metrics::Histogram;
use ractor::rpc::CallResult;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster::RactorClusterMessage;

use super::request::{DetectReply, DetectRequest};
use crate::detect::{Detector, DetectorConfig, ModelInfo};
use crate::telemetry;
use crate::wire::Checked;

/// The process group of every detector worker, local or remote.
pub const DETECTORS_GROUP: &str = "sightline.detectors";

/// Variants are matched by name across nodes: renaming one breaks mixed-release clusters.
#[derive(RactorClusterMessage)]
pub enum DetectorMsg {
    /// Detect objects in an image letterboxed to the model's input size.
    #[rpc]
    Detect(Checked<DetectRequest>, RpcReplyPort<Checked<DetectReply>>),
    /// What the worker's model is (input size, layout, class names).
    #[rpc]
    Info(RpcReplyPort<Checked<ModelInfo>>),
    /// Answered once every request queued before it has been answered (used to drain on leave).
    #[rpc]
    Drain(RpcReplyPort<()>),
}

pub struct DetectorWorker;

pub struct WorkerState {
    /// Taken while a request runs on the blocking pool, put back when it returns.
    detector: Option<Detector>,
    info: ModelInfo,
    inference_seconds: Histogram,
}

impl Actor for DetectorWorker {
    type Msg = DetectorMsg;
    type State = WorkerState;
    type Arguments = DetectorConfig;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        config: DetectorConfig,
    ) -> Result<Self::State, ActorProcessingErr> {
        let detector = tokio::task::spawn_blocking(move || {
            let mut detector = Detector::load(&config)?;
            detector.warm_up()?;
            Ok::<_, crate::detect::DetectError>(detector)
        })
        .await??;
        ractor::pg::join(DETECTORS_GROUP.to_string(), vec![myself.get_cell()]);
        Ok(WorkerState {
            info: detector.info().clone(),
            detector: Some(detector),
            inference_seconds: metrics::histogram!(telemetry::INFERENCE_SECONDS),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            DetectorMsg::Detect(Checked(Err(bad)), reply) => {
                let _ = reply.send(Checked::new(Err(format!("malformed request: {bad}"))));
            }
            DetectorMsg::Detect(Checked(Ok(DetectRequest { image, params })), reply) => {
                let mut detector = state
                    .detector
                    .take()
                    .ok_or("detector lost by an earlier failed request")?;
                let (detector, result, took) = tokio::task::spawn_blocking(move || {
                    let started = Instant::now();
                    let result = detector.detect_letterboxed(&image, &params);
                    (detector, result, started.elapsed())
                })
                .await?;
                state.detector = Some(detector);
                state.inference_seconds.record(took.as_secs_f64());
                // A bad request is the caller's problem, not a reason for the worker to die.
                let _ = reply.send(Checked::new(result.map_err(|e| e.to_string())));
            }
            DetectorMsg::Info(reply) => {
                let _ = reply.send(Checked::new(state.info.clone()));
            }
            DetectorMsg::Drain(reply) => {
                let _ = reply.send(());
            }
        }
        Ok(())
    }
}

/// One request to `worker`, local or remote, with a deadline. Every way of not getting a usable
/// answer (an error reply, a malformed reply, the deadline, a worker gone) is an `Err` saying why.
pub async fn detect(worker: &ActorCell, request: DetectRequest, deadline: Duration) -> DetectReply {
    let message = |reply| DetectorMsg::Detect(Checked::new(request), reply);
    match ractor::rpc::call(worker, message, Some(deadline)).await {
        Ok(CallResult::Success(Checked(Ok(reply)))) => reply,
        Ok(CallResult::Success(Checked(Err(bad)))) => Err(format!("malformed reply: {bad}")),
        Ok(CallResult::Timeout) => Err(format!("no answer within {deadline:?}")),
        // A remote call whose deadline passes may also end this way: either means no answer.
        Ok(CallResult::SenderError) => Err("the worker dropped the request".to_string()),
        Err(e) => Err(format!("the worker is gone: {e}")),
    }
}

/// Starts `count` local workers (each with its own session) and returns them with the model's
/// description, asked of the first.
pub async fn spawn_local(
    config: &DetectorConfig,
    count: usize,
) -> Result<(Vec<ActorRef<DetectorMsg>>, ModelInfo), ActorProcessingErr> {
    let mut workers = Vec::with_capacity(count);
    for _ in 0..count.max(1) {
        let (worker, _) = Actor::spawn(None, DetectorWorker, config.clone()).await?;
        workers.push(worker);
    }
    let info = ractor::call!(workers[0], DetectorMsg::Info)?.0?;
    Ok((workers, info))
}
