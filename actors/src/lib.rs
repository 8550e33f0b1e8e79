//! Sightline's processing engine.

pub mod detect;
pub mod detector_pool;
mod detector_wire;
pub mod detector_worker;
pub mod extractor;
pub mod frame;
pub mod hls;
pub mod hls_writer;
pub mod job_queue;
pub mod probe;
pub mod render;
pub mod renderer;
pub mod stats_aggregator;
pub mod store;
pub mod stored_detections;
pub mod track;
pub mod video_supervisor;
pub mod wire;
pub mod worker_ledger;
