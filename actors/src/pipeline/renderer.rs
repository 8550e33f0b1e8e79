//! Renderer: puts frames back in order, tracks objects across them, burns boxes and labels in,
//! and passes the frames to the writer and their boxes to the stats aggregator.
//!
//! Frames arrive out of order (several workers, and frames skipped by `every` overtake detected
//! ones). The reorder buffer is bounded by the credit window: no more frames than the window can
//! be in flight, so none can pile up here. Tracking happens here because it needs frame order:
//! a detected frame updates the tracker, a skipped frame gets the tracker's predicted boxes, so
//! boxes move between detections instead of freezing.
//!
//! The boxes that belong to tracks, as they are stored, also go to the Analytics (a processing
//! job with rules) and feed the running counts drawn with the rules, so the counts in the picture
//! are the counts the API gives.

use std::collections::BTreeMap;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use super::messages::{AnalyticsMsg, FrameBox, FrameBoxes, RendererMsg, StatsMsg, WriterMsg};
use crate::analytics::{Rules, Sighting, Tally};
use crate::detect::Detection;
use crate::frame::Frame;
use crate::render::label::label;
use crate::render::{DrawItem, Painter, RenderStyle, Shape};
use crate::store::{Store, VideoId};
use crate::track::{IdReservation, TrackedBox, Tracker, TrackerConfig};

pub struct RendererArgs {
    pub writer: ActorRef<WriterMsg>,
    pub stats: ActorRef<StatsMsg>,
    /// Where tracked boxes are evaluated against the rules, in a processing job that has some.
    pub analytics: Option<ActorRef<AnalyticsMsg>>,
    pub style: RenderStyle,
    pub class_names: Vec<String>,
    /// Classes drawn (`None`: all). Detection may keep more classes than are drawn.
    pub draw_classes: Option<Vec<bool>>,
    pub tracker: TrackerConfig,
    /// A live source's track IDs, reserved in the store ahead of use: new tracks are numbered
    /// after the reserved mark. `None` for an upload, whose tracks each run numbers from 1.
    pub track_ids: Option<TrackIds>,
    /// Zones and lines drawn, with their running counts.
    pub rules: Option<Rules>,
}

/// Where a live source's track ID reservation is kept.
pub struct TrackIds {
    pub store: Store,
    pub video: VideoId,
    pub reservation: IdReservation,
}

pub struct RendererState {
    args: RendererArgs,
    painter: Option<Painter>,
    tracker: Tracker,
    tally: Option<Tally>,
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
            tracker: Tracker::new(args.tracker.clone())?
                .continuing_after(args.track_ids.as_ref().map_or(0, |ids| ids.reservation.reserved())),
            tally: args
                .rules
                .clone()
                .map(|r| Tally::new(r, &args.class_names, args.tracker.gone_after())),
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
            let (drawn, tracked) = track(state, &frame, boxes).await?;
            let mut frame = draw(state, frame, &drawn)?;
            draw_overlay(state, &mut frame, &tracked)?;
            if let (Some(analytics), false) = (&state.args.analytics, tracked.is_empty()) {
                ractor::call!(analytics, |ack| AnalyticsMsg::Frame {
                    sightings: tracked,
                    ack
                })?;
            }
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

/// Runs the tracker for one frame (in order) and sends what is to be stored. Returns the boxes
/// to draw (confirmed tracks only, so a one-frame false positive never flashes on screen) and
/// the stored boxes that belong to tracks, normalised, for the rules.
async fn track(
    state: &mut RendererState,
    frame: &Frame,
    boxes: FrameBoxes,
) -> Result<(Vec<TrackedBox>, Vec<Sighting>), ActorProcessingErr> {
    let (drawn, stored): (_, Vec<FrameBox>) = match boxes {
        FrameBoxes::Stored(tracked) => {
            let stored: Vec<FrameBox> = tracked.iter().map(frame_box).collect();
            let sightings = sightings(frame, &stored);
            return Ok((tracked, sightings));
        }
        FrameBoxes::Detected(dets) => {
            let (tracked, joined) = state.tracker.update_joined(&dets);
            let stored = dets
                .iter()
                .zip(joined)
                .map(|(d, track_id)| FrameBox {
                    detection: *d,
                    track_id,
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
    if let Some(ids) = &mut state.args.track_ids {
        // Before any of this frame's new IDs leaves for the store, the rules or the picture.
        if let Some(mark) = ids.reservation.needed_for(state.tracker.ids_issued()) {
            ids.store.reserve_track_ids(ids.video, mark).await?;
            ids.reservation.stored(mark);
        }
    }
    let sightings = sightings(frame, &stored);
    let (index, pts_ns, width, height) = (frame.index, frame.pts_ns, frame.layout.width, frame.layout.height);
    ractor::call!(state.args.stats, |ack| StatsMsg::Detections {
        index,
        pts_ns,
        width,
        height,
        detections: stored,
        ack,
    })?;
    Ok((drawn, sightings))
}

/// The boxes of `frame` that belong to a track, as the rules see them.
fn sightings(frame: &Frame, boxes: &[FrameBox]) -> Vec<Sighting> {
    let (w, h) = (frame.layout.width, frame.layout.height);
    boxes
        .iter()
        .filter_map(|b| {
            Some(Sighting {
                frame: frame.index,
                time_ms: frame.pts_ns / 1_000_000,
                track_id: b.track_id?,
                class_id: b.detection.class_id,
                bbox: b.detection.bbox.to_normalised(w, h),
                predicted: b.predicted,
            })
        })
        .collect()
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

/// Zones and lines with their running counts, counted from the stored tracked boxes of this
/// frame on, as the Analytics count them.
fn draw_overlay(state: &mut RendererState, frame: &mut Frame, tracked: &[Sighting]) -> Result<(), ActorProcessingErr> {
    let Some(tally) = &mut state.tally else {
        return Ok(());
    };
    let (w, h) = (frame.layout.width as f32, frame.layout.height as f32);
    tally.observe(tracked);
    let px = |p: [f32; 2]| (p[0] * w, p[1] * h);
    let mut shapes = Vec::new();
    for (i, line) in tally.rules().lines.iter().enumerate() {
        shapes.push(Shape::Segment {
            from: px(line.from),
            to: px(line.to),
        });
        let (a, b) = (px(line.from), px(line.to));
        shapes.push(Shape::Text {
            at: ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0),
            text: tally.line_text(i),
        });
    }
    for (i, zone) in tally.rules().zones.iter().enumerate() {
        let n = zone.polygon.len();
        for k in 0..n {
            shapes.push(Shape::Segment {
                from: px(zone.polygon[k]),
                to: px(zone.polygon[(k + 1) % n]),
            });
        }
        shapes.push(Shape::Text {
            at: px(zone.polygon[0]),
            text: tally.zone_text(i),
        });
    }
    let painter = match &mut state.painter {
        Some(p) => p,
        None => state
            .painter
            .insert(Painter::new(state.args.style, frame.layout.height)?),
    };
    painter.draw_shapes(&mut frame.data, frame.layout, &shapes)?;
    Ok(())
}
