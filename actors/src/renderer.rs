//! Renderer: puts frames back in order, tracks objects across them, burns boxes and labels in,
//! and passes the frames to the writer and their boxes to the stats aggregator.
//!
//! Frames arrive out of order (several workers, and frames skipped by `every` overtake detected
//! ones). The reorder buffer is bounded by the credit window: no more frames than the window can
//! be in flight, so none can pile up here. Tracking happens here because it needs frame order:
//! a detected frame updates the tracker, a skipped frame gets the tracker's predicted boxes, so
//! boxes move between detections instead of freezing.

use std::collections::BTreeMap;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use ractor_cluster::RactorMessage;

use crate::detect::Detection;
use crate::frame::Frame;
use crate::hls_writer::WriterMsg;
use crate::render::{DrawItem, Painter, RenderStyle};
use crate::stats_aggregator::{FrameBox, StatsMsg};
use crate::track::{TrackedBox, Tracker, TrackerConfig};

/// What is known about a frame's objects when it reaches the renderer.
pub enum FrameBoxes {
    /// The detector's output for this frame: tracked here, then stored and drawn.
    Detected(Vec<Detection>),
    /// Not sent to detection: the tracker predicts where the objects are.
    Skipped,
    /// Already tracked and stored (a re-render): drawn as they are, nothing stored.
    Stored(Vec<TrackedBox>),
}

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

pub struct RendererArgs {
    pub writer: ActorRef<WriterMsg>,
    pub stats: ActorRef<StatsMsg>,
    pub style: RenderStyle,
    pub class_names: Vec<String>,
    /// Classes drawn (`None`: all). Detection may keep more classes than are drawn.
    pub draw_classes: Option<Vec<bool>>,
    pub tracker: TrackerConfig,
}

pub struct RendererState {
    args: RendererArgs,
    painter: Option<Painter>,
    tracker: Tracker,
    waiting: BTreeMap<u64, (Frame, FrameBoxes)>,
    next: u64,
    end: Option<u64>,
}

pub struct Renderer;

impl Actor for Renderer {
    type Msg = RendererMsg;
    type State = RendererState;
    type Arguments = RendererArgs;

    async fn pre_start(&self, _: ActorRef<Self::Msg>, args: RendererArgs) -> Result<Self::State, ActorProcessingErr> {
        args.style.validate()?;
        Ok(RendererState {
            tracker: Tracker::new(args.tracker.clone())?,
            args,
            painter: None,
            waiting: BTreeMap::new(),
            next: 0,
            end: None,
        })
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RendererMsg::Frame { frame, boxes } => {
                state.waiting.insert(frame.index, (frame, boxes));
            }
            RendererMsg::End { frames } => state.end = Some(frames),
        }
        while let Some((frame, boxes)) = state.waiting.remove(&state.next) {
            let boxes = track(state, &frame, boxes).await?;
            let frame = draw(state, frame, &boxes)?;
            state.args.writer.cast(WriterMsg::Frame(frame))?;
            state.next += 1;
        }
        if let Some(total) = state.end {
            if state.next == total {
                state.args.writer.cast(WriterMsg::End)?;
                state.end = None;
            } else if state.next > total || state.waiting.len() as u64 > total {
                return Err(format!("frames lost: {} of {total} rendered", state.next).into());
            }
        }
        Ok(())
    }
}

/// Runs the tracker for one frame (in order), sends what is to be stored, and returns the boxes
/// to draw: confirmed tracks only, so a one-frame false positive never flashes on screen.
async fn track(
    state: &mut RendererState,
    frame: &Frame,
    boxes: FrameBoxes,
) -> Result<Vec<TrackedBox>, ActorProcessingErr> {
    let (drawn, stored) = match boxes {
        FrameBoxes::Stored(tracked) => return Ok(tracked),
        FrameBoxes::Detected(dets) => {
            let tracked = state.tracker.update(&dets);
            // The tracker reports a matched detection with that detection's own box.
            let stored = dets
                .iter()
                .map(|d| FrameBox {
                    detection: *d,
                    track_id: tracked
                        .iter()
                        .find(|t| t.bbox == d.bbox && t.class_id == d.class_id)
                        .map(|t| t.track_id),
                    predicted: false,
                })
                .collect();
            (tracked, stored)
        }
        FrameBoxes::Skipped => {
            let predicted = state.tracker.predict();
            let stored = predicted.iter().map(frame_box).collect();
            (predicted, stored)
        }
    };
    let (index, pts_ns, width, height) = (frame.index, frame.pts_ns, frame.layout.width, frame.layout.height);
    ractor::call!(state.args.stats, |ack| StatsMsg::Detections {
        index,
        pts_ns,
        width,
        height,
        detections: stored,
        ack,
    })?;
    Ok(drawn)
}

fn frame_box(t: &TrackedBox) -> FrameBox {
    FrameBox {
        detection: Detection {
            class_id: t.class_id,
            confidence: t.confidence,
            bbox: t.bbox,
        },
        track_id: Some(t.track_id),
        predicted: t.predicted,
    }
}

fn draw(state: &mut RendererState, mut frame: Frame, boxes: &[TrackedBox]) -> Result<Frame, ActorProcessingErr> {
    let painter = match &mut state.painter {
        Some(p) => p,
        None => state
            .painter
            .insert(Painter::new(state.args.style, frame.layout.height)?),
    };
    let names = &state.args.class_names;
    let keep = state.args.draw_classes.as_ref();
    let items: Vec<DrawItem> = boxes
        .iter()
        .filter(|b| keep.is_none_or(|k| k.get(b.class_id as usize).copied().unwrap_or(false)))
        .map(|b| DrawItem {
            bbox: b.bbox,
            class_id: b.class_id,
            label: label(names, b.class_id, b.confidence, Some(b.track_id)),
        })
        .collect();
    painter.draw(&mut frame.data, frame.layout, &items)?;
    Ok(frame)
}

/// `person 0.87 #12`
pub fn label(names: &[String], class_id: u16, confidence: f32, track: Option<u64>) -> String {
    let name = names
        .get(class_id as usize)
        .cloned()
        .unwrap_or_else(|| format!("class{class_id}"));
    match track {
        Some(id) => format!("{name} {confidence:.2} #{id}"),
        None => format!("{name} {confidence:.2}"),
    }
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn labels_name_confidence_and_track() {
        let names = vec!["person".to_string()];
        assert_eq!(label(&names, 0, 0.871, Some(12)), "person 0.87 #12");
        assert_eq!(label(&names, 0, 0.5, None), "person 0.50");
        assert_eq!(label(&names, 7, 0.5, None), "class7 0.50");
    }
}
