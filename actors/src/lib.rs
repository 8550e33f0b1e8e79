//! Sightline's processing engine.
//!
//! ```text
//! pipeline/   the actors of one job, one file each, and `messages` (imports none of them):
//!             supervisor, frame_extractor, detector_pool | stored_detections, renderer,
//!             hls_writer, stats_aggregator
//! job/        what a job is: options (typed, validated), spec (built in one place), kind,
//!             outcome, progress, status writes, and the bounded queue that admits jobs
//! workers/    detector workers (an ONNX Runtime session each, local or on worker nodes), their
//!             requests, and the ledger through which pools pick them
//! media/      GStreamer glue: probe, decoder and live source (behind the `source` seam), HLS
//!             encoder
//! live/       no GStreamer, no ractor: a live source's URL, reconnect back-off, and the figures
//!             its stages share
//! detect/     pure: model loading and running, letterbox, YOLO output decoding, NMS, class names
//! track/      pure: the multi-object tracker
//! render/     pure: boxes and labels drawn into I420 frames
//! hls/        pure: rendition ladder, segment clock, playlists, codec strings
//! analytics/  pure: zones and lines, their events over tracked boxes, counts
//! store/      sled: video and render records, detections, stats, rules and their events
//! frame.rs    the decoded frame every stage passes on; wire.rs: validated cross-node encodings;
//! telemetry.rs: every metric's name and help text; clock.rs: Unix time now
//! ```
//!
//! Pure modules never import `pipeline/` or ractor; the actors drive them.

pub mod analytics;
pub mod clock;
pub mod detect;
pub mod frame;
pub mod hls;
pub mod job;
pub mod live;
pub mod media;
pub mod pipeline;
pub mod render;
pub mod store;
pub mod telemetry;
pub mod track;
pub mod wire;
pub mod workers;
