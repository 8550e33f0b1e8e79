//! The actors of one job, one file each, and the messages they pass (`messages`, which imports
//! none of them). The supervisor spawns and links the rest; [`run_job`] runs one job to its end.

pub mod analytics;
pub mod detector_pool;
pub mod frame_extractor;
pub mod hls_writer;
pub mod messages;
pub mod renderer;
pub mod stats_aggregator;
pub mod stored_detections;
pub mod supervisor;

pub use supervisor::run_job;
