//! Detector workers, local or on worker nodes: the actor that owns an ONNX Runtime session, the
//! requests it answers (and their encodings for the wire), and the process-wide ledger through
//! which every job's detector pool picks a worker.

pub mod detector_worker;
pub mod ledger;
pub mod request;

pub use detector_worker::{detect, spawn_local, DetectorMsg, DetectorWorker, DETECTORS_GROUP};
pub use ledger::{WorkerLedger, WorkerView};
pub use request::{DetectReply, DetectRequest};
