//! Renderer: puts frames back in order, burns boxes and labels in, and passes them to the writer.
//!
//! Frames arrive out of order (several workers, and frames skipped by `every` overtake detected
//! ones). The reorder buffer is bounded by the credit window: no more frames than the window can
//! be in flight, so none can pile up here.

use std::collections::BTreeMap;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use ractor_cluster::RactorMessage;

use crate::detect::Detection;
use crate::frame::Frame;
use crate::hls_writer::WriterMsg;
use crate::render::{DrawItem, Painter, RenderStyle};

#[derive(RactorMessage)]
pub enum RendererMsg {
    /// A frame with its detections, or `None` for a frame that was not sent to detection (the
    /// last detections are drawn again).
    Frame {
        frame: Frame,
        detections: Option<Vec<Detection>>,
    },
    /// Every frame has been sent; `frames` of them.
    End { frames: u64 },
}

pub struct RendererArgs {
    pub writer: ActorRef<WriterMsg>,
    pub style: RenderStyle,
    pub class_names: Vec<String>,
    /// Classes drawn (`None`: all). Detection may keep more classes than are drawn.
    pub draw_classes: Option<Vec<bool>>,
}

pub struct RendererState {
    args: RendererArgs,
    painter: Option<Painter>,
    waiting: BTreeMap<u64, (Frame, Option<Vec<Detection>>)>,
    next: u64,
    last: Vec<Detection>,
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
            args,
            painter: None,
            waiting: BTreeMap::new(),
            next: 0,
            last: Vec::new(),
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
            RendererMsg::Frame { frame, detections } => {
                state.waiting.insert(frame.index, (frame, detections));
            }
            RendererMsg::End { frames } => state.end = Some(frames),
        }
        while let Some((frame, dets)) = state.waiting.remove(&state.next) {
            let frame = draw(state, frame, dets)?;
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

fn draw(
    state: &mut RendererState,
    mut frame: Frame,
    dets: Option<Vec<Detection>>,
) -> Result<Frame, ActorProcessingErr> {
    if let Some(d) = dets {
        state.last = d;
    }
    let painter = match &mut state.painter {
        Some(p) => p,
        None => state
            .painter
            .insert(Painter::new(state.args.style, frame.layout.height)?),
    };
    let names = &state.args.class_names;
    let items: Vec<DrawItem> = state
        .last
        .iter()
        .filter(|d| {
            let keep = state.args.draw_classes.as_ref();
            keep.is_none_or(|k| k.get(d.class_id as usize).copied().unwrap_or(false))
        })
        .map(|d| DrawItem {
            bbox: d.bbox,
            class_id: d.class_id,
            label: label(names, d),
        })
        .collect();
    painter.draw(&mut frame.data, frame.layout, &items)?;
    Ok(frame)
}

/// `person 0.87`
pub fn label(names: &[String], d: &Detection) -> String {
    match names.get(d.class_id as usize) {
        Some(n) => format!("{n} {:.2}", d.confidence),
        None => format!("class{} {:.2}", d.class_id, d.confidence),
    }
}
