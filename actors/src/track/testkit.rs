//! Deterministic synthetic scenes for the tracker's tests (no `rand`: a tiny xorshift).

use std::collections::HashMap;

use super::metrics::{MotEvaluator, MotSummary};
use super::{TrackedBox, Tracker, TrackerConfig};
use crate::detect::{BBox, Detection};

/// xorshift64* (Vigna): plenty for test noise, identical on every platform.
pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn new(seed: u64) -> Self {
        // Any non-zero state works; scramble so nearby seeds diverge at once.
        Self((seed ^ 0x9E37_79B9_7F4A_7C15).max(1))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    pub(crate) fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in 0..n (n > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub(crate) fn chance(&mut self, p: f32) -> bool {
        self.unit() < p
    }
}

/// An object moving at constant velocity.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mover {
    pub id: u64,
    pub class_id: u16,
    pub cx: f32,
    pub cy: f32,
    pub vx: f32,
    pub vy: f32,
    pub w: f32,
    pub h: f32,
}

impl Mover {
    pub(crate) fn at(&self, t: u32) -> BBox {
        BBox::from_cxcywh(
            self.cx + self.vx * t as f32,
            self.cy + self.vy * t as f32,
            self.w,
            self.h,
        )
    }
}

/// A detection of `b`, each corner moved by up to ±`jitter` px.
pub(crate) fn detect(rng: &mut XorShift, class_id: u16, b: BBox, jitter: f32, confidence: f32) -> Detection {
    let mut j = || {
        if jitter > 0.0 {
            rng.uniform(-jitter, jitter)
        } else {
            0.0
        }
    };
    Detection {
        class_id,
        confidence,
        bbox: BBox::new(b.x1 + j(), b.y1 + j(), b.x2 + j(), b.y2 + j()),
    }
}

/// Greedy per-class NMS at IoU 0.45, as a real detector's output would have had.
pub(crate) fn nms(mut dets: Vec<Detection>) -> Vec<Detection> {
    dets.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let mut kept: Vec<Detection> = Vec::new();
    for d in dets {
        if kept
            .iter()
            .all(|k| k.class_id != d.class_id || k.bbox.iou(&d.bbox) <= 0.45)
        {
            kept.push(d);
        }
    }
    kept
}

/// One frame of a scene: the truth and, on detected frames, the detections.
pub(crate) struct Frame {
    pub truth: Vec<(u64, BBox)>,
    pub detections: Vec<Detection>,
}

/// What a run produced, per frame, plus its CLEAR-MOT summary.
pub(crate) struct Run {
    pub summary: MotSummary,
    pub outputs: Vec<Vec<TrackedBox>>,
    /// Per frame, ground-truth id → matched track id (CLEAR-MOT correspondences).
    pub matches: Vec<HashMap<u64, u64>>,
    pub tracker: Tracker,
}

impl Run {
    /// Track IDs a ground-truth object was matched to, in order, consecutive repeats merged.
    pub(crate) fn ids_of(&self, gt: u64) -> Vec<u64> {
        let mut ids: Vec<u64> = Vec::new();
        for id in self.matches.iter().filter_map(|m| m.get(&gt)) {
            if ids.last() != Some(id) {
                ids.push(*id);
            }
        }
        ids
    }

    /// Class each output track ID carried (panics if one carried two).
    pub(crate) fn id_classes(&self) -> HashMap<u64, u16> {
        let mut m = HashMap::new();
        for b in self.outputs.iter().flatten() {
            let prev = m.insert(b.track_id, b.class_id);
            assert!(
                prev.is_none() || prev == Some(b.class_id),
                "track {} changed class",
                b.track_id
            );
        }
        m
    }
}

/// Runs `frames` frames; frame t is detected when `t % every == 0`, else predicted.
pub(crate) fn run(config: TrackerConfig, frames: u32, every: u32, mut scene: impl FnMut(u32) -> Frame) -> Run {
    let mut tracker = Tracker::new(config).expect("valid test config");
    let mut ev = MotEvaluator::new();
    let (mut outputs, mut matches) = (Vec::new(), Vec::new());
    for t in 0..frames {
        let f = scene(t);
        let out = if t % every == 0 {
            tracker.update(&f.detections)
        } else {
            tracker.predict()
        };
        ev.add_tracked(&f.truth, &out);
        outputs.push(out);
        matches.push(ev.latest_matches().clone());
    }
    Run {
        summary: ev.summary(),
        outputs,
        matches,
        tracker,
    }
}
