//! StoredDetections: stands where the DetectorPool stands when a video is re-rendered. Each frame
//! gets the detections stored for its timestamp, so a new rendering never runs the model.

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::detect::{BBox, Detection};
use crate::detector_pool::PoolMsg;
use crate::renderer::RendererMsg;
use crate::store::{DetectionQuery, Store, VideoId, MAX_PAGE_LIMIT};

pub struct StoredDetections;

pub struct StoredArgs {
    pub store: Store,
    pub video: VideoId,
    pub renderer: ActorRef<RendererMsg>,
    /// Frames were detected every N-th; the others had no detections stored and redraw the last.
    pub every: u64,
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
                let detections = if frame.index % state.args.every.max(1) == 0 {
                    Some(lookup(
                        &state.args,
                        frame.index,
                        frame.pts_ns,
                        frame.layout.width,
                        frame.layout.height,
                    )?)
                } else {
                    None
                };
                state.args.renderer.cast(RendererMsg::Frame { frame, detections })?;
            }
            PoolMsg::End => state.args.renderer.cast(RendererMsg::End { frames: state.frames })?,
            // Only the detector pool asks workers; nothing answers here.
            PoolMsg::Detected { .. } | PoolMsg::Retry => {}
        }
        Ok(())
    }
}

/// The detections stored for the frame at `pts_ns`, in frame pixels.
fn lookup(
    args: &StoredArgs,
    index: u64,
    pts_ns: u64,
    width: u32,
    height: u32,
) -> Result<Vec<Detection>, ActorProcessingErr> {
    let pts_ms = pts_ns / 1_000_000;
    let query = DetectionQuery {
        start_ms: pts_ms,
        end_ms: Some(pts_ms + 1),
        limit: MAX_PAGE_LIMIT,
        ..DetectionQuery::default()
    };
    let page = args.store.query_detections(args.video, &query)?;
    let (w, h) = (width as f32, height as f32);
    Ok(page
        .items
        .into_iter()
        .filter(|d| d.frame == index)
        .map(|d| Detection {
            class_id: d.class_id,
            confidence: d.confidence,
            bbox: BBox::new(d.bbox[0] * w, d.bbox[1] * h, d.bbox[2] * w, d.bbox[3] * h),
        })
        .collect())
}
