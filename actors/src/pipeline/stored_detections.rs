//! StoredDetections: stands where the DetectorPool stands when a video is re-rendered. Each frame
//! gets the tracked boxes stored for its timestamp (detected or predicted), so a new rendering
//! never runs the model or the tracker.

use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::messages::{FrameBoxes, PoolMsg, RendererMsg};
use crate::detect::BBox;
use crate::store::{DetectionQuery, Store, VideoId, MAX_PAGE_LIMIT};
use crate::track::TrackedBox;

pub struct StoredDetections;

pub struct StoredArgs {
    pub store: Store,
    pub video: VideoId,
    pub renderer: ActorRef<RendererMsg>,
}

pub struct StoredState {
    args: StoredArgs,
    frames: u64,
}

impl Actor for StoredDetections {
    type Msg = PoolMsg;
    type State = StoredState;
    type Arguments = StoredArgs;

    async fn pre_start(&self, _: ActorRef<Self::Msg>, args: StoredArgs) -> Result<Self::State, ActorProcessingErr> {
        Ok(StoredState { args, frames: 0 })
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PoolMsg::Frame(frame) => {
                state.frames += 1;
                let (w, h) = (frame.layout.width, frame.layout.height);
                let boxes = lookup(&state.args, frame.index, frame.pts_ns, w, h)?;
                state.args.renderer.cast(RendererMsg::Frame {
                    frame,
                    boxes: FrameBoxes::Stored(boxes),
                })?;
            }
            PoolMsg::End => state.args.renderer.cast(RendererMsg::End { frames: state.frames })?,
            // Only the detector pool asks workers; nothing answers here.
            PoolMsg::Detected { .. } | PoolMsg::Retry => {}
        }
        Ok(())
    }
}

/// The tracked boxes stored for the frame at `pts_ns` (detected or predicted), in frame pixels.
/// Detections that never joined a confirmed track were not drawn the first time; nor are they now.
fn lookup(
    args: &StoredArgs,
    index: u64,
    pts_ns: u64,
    width: u32,
    height: u32,
) -> Result<Vec<TrackedBox>, ActorProcessingErr> {
    let pts_ms = pts_ns / 1_000_000;
    let query = DetectionQuery {
        start_ms: pts_ms,
        end_ms: Some(pts_ms + 1),
        limit: MAX_PAGE_LIMIT,
        ..DetectionQuery::default()
    };
    let page = args.store.query_detections(args.video, &query)?;
    Ok(page
        .items
        .into_iter()
        .filter(|d| d.frame == index)
        .filter_map(|d| {
            Some(TrackedBox {
                track_id: d.track_id?,
                class_id: d.class_id,
                confidence: d.confidence,
                bbox: BBox::from_normalised(d.bbox, width, height),
                predicted: d.predicted,
            })
        })
        .collect())
}
