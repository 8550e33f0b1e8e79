//! Every message the pipeline's stages send each other, in one module that imports none of them.
//!
//! A stage names the stage it sends to only by that stage's message type, so stages depend on
//! this module and never on each other; the supervisor alone knows the stages themselves.
//!
//! ```text
//!  FrameExtractor ─PoolMsg─> DetectorPool | StoredDetections ─RendererMsg─> Renderer ─WriterMsg─> HlsWriter
//!        ^                                                                   │   │                  │
//!        └──────────────────────────── ExtractorMsg::Credit ─────────────────┼───┼──────────────────┤
//!                                              AnalyticsMsg (acknowledged)   │   │ StatsMsg (ack'd) │
//!                                              Analytics <───────────────────┘   v                  │
//!                                                                StatsAggregator <──────────────────┤
//!                                                                     SupervisorMsg::Encoded <──────┘
//! ```

use std::collections::BTreeMap;

use ractor::{ActorId, ActorRef, RpcReplyPort};
use ractor_cluster::RactorMessage;

use crate::analytics::Sighting;
use crate::detect::Detection;
use crate::frame::Frame;
use crate::media::encoder::EncodeSummary;
use crate::track::TrackedBox;

/// To the FrameExtractor.
#[derive(RactorMessage)]
pub enum ExtractorMsg {
    /// Begin decoding, sending frames to `pool`.
    Start { pool: ActorRef<PoolMsg> },
    /// A frame left the pipeline; one more may enter.
    Credit,
    /// Internal: decode the next frame if a credit allows.
    Pull,
}

/// To the detection source: the DetectorPool, or StoredDetections on a re-render.
#[derive(RactorMessage)]
pub enum PoolMsg {
    Frame(Frame),
    /// The extractor has sent every frame.
    End,
    /// Internal to the pool: a worker answered (or the request failed) for `index`.
    Detected {
        index: u64,
        worker: ActorId,
        result: Result<Vec<Detection>, String>,
    },
    /// Internal to the pool: try dispatching again (workers may have joined or freed up).
    Retry,
}

/// What is known about a frame's objects when it reaches the renderer.
pub enum FrameBoxes {
    /// The detector's output for this frame: tracked by the renderer, then stored and drawn.
    Detected(Vec<Detection>),
    /// Not sent to detection: the tracker predicts where the objects are.
    Skipped,
    /// Already tracked and stored (a re-render): drawn as they are, nothing stored.
    Stored(Vec<TrackedBox>),
}

/// To the Renderer.
#[derive(RactorMessage)]
pub enum RendererMsg {
    Frame {
        frame: Frame,
        boxes: FrameBoxes,
    },
    /// Every frame has been sent; `frames` of them.
    End {
        frames: u64,
    },
}

/// To the HlsWriter.
#[derive(RactorMessage)]
pub enum WriterMsg {
    Frame(Frame),
    End,
}

/// One box to store.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameBox {
    pub detection: Detection,
    pub track_id: Option<u64>,
    /// Predicted by the tracker on a frame that was not sent to detection.
    pub predicted: bool,
}

/// To the StatsAggregator. Every variant is answered, and senders wait for the answer, so this
/// mailbox never holds more than one message per sender (backpressure, not an unbounded queue).
#[derive(RactorMessage)]
pub enum StatsMsg {
    /// The boxes of one frame, in frame pixels, in frame order: a detected frame's detections
    /// (with the track each belongs to, if any) or a skipped frame's predicted track boxes.
    Detections {
        index: u64,
        pts_ns: u64,
        width: u32,
        height: u32,
        detections: Vec<FrameBox>,
        ack: RpcReplyPort<()>,
    },
    /// The writer has encoded `frames` frames and every rendition has `playable_segments`.
    Encoded {
        frames: u64,
        playable_segments: usize,
        ack: RpcReplyPort<()>,
    },
    /// Write out everything pending and answer with per-class totals.
    Flush(RpcReplyPort<Result<BTreeMap<u16, u64>, String>>),
}

/// To the Analytics, from the renderer. Every variant is answered, and the sender waits for the
/// answer (backpressure, as for the stats).
#[derive(RactorMessage)]
pub enum AnalyticsMsg {
    /// The tracked boxes of one frame that has some, in frame order, normalised: the boxes that
    /// are stored, so the events are the ones an evaluation over the stored tracks would give.
    Frame {
        sightings: Vec<Sighting>,
        ack: RpcReplyPort<()>,
    },
    /// Every frame has been seen: complete the results.
    Finish(RpcReplyPort<Result<(), String>>),
}

/// To the VideoSupervisor.
#[derive(RactorMessage)]
pub enum SupervisorMsg {
    /// A live source's picture, known from its first frame (a file's is probed before the job).
    Picture { width: u32, height: u32, fps: f64 },
    /// The writer has finished the stream.
    Encoded(EncodeSummary),
}
