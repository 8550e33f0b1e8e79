//! CLEAR-MOT style evaluation of a tracker against ground truth: ID switches, fragmentations,
//! misses, false positives, MOTA.
//!
//! Per frame, ground-truth objects and tracker outputs are matched at IoU ≥ 0.5. As in CLEAR MOT
//! (Bernardin & Stiefelhagen, 2008), a pair matched in the previous frame is kept while it still
//! overlaps enough, and only the rest go through an optimal (Hungarian) matching on 1 - IoU;
//! otherwise two valid overlapping answers could trade places and count switches the tracker
//! never made.
//!
//! - ID switch: a ground-truth object matched to a track ID other than the one it was last
//!   matched to (in any earlier frame).
//! - Fragmentation: among the frames where a ground-truth object is present, its coverage goes
//!   from matched to unmatched and later resumes; each resumption counts once.

use std::collections::{HashMap, HashSet};

use super::assignment::{gated_assignment, CostMatrix};
use super::TrackedBox;
use crate::detect::BBox;

/// IoU at which an output box counts as finding a ground-truth object.
pub const MATCH_IOU: f32 = 0.5;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MotSummary {
    pub frames: u64,
    /// Ground-truth boxes seen, over all frames.
    pub ground_truth: u64,
    pub matches: u64,
    /// Ground-truth boxes with no output matched.
    pub misses: u64,
    /// Output boxes matched to no ground truth.
    pub false_positives: u64,
    pub id_switches: u64,
    pub fragmentations: u64,
    /// Distinct track IDs the tracker output.
    pub track_ids: u64,
}

impl MotSummary {
    /// 1 - (misses + false positives + ID switches) / ground truth.
    pub fn mota(&self) -> f64 {
        if self.ground_truth == 0 {
            return 1.0;
        }
        1.0 - (self.misses + self.false_positives + self.id_switches) as f64 / self.ground_truth as f64
    }
}

#[derive(Debug, Default, Clone)]
pub struct MotEvaluator {
    summary: MotSummary,
    /// Ground-truth id → track id it was most recently matched to.
    last_match: HashMap<u64, u64>,
    /// Correspondences of the previous frame.
    previous: HashMap<u64, u64>,
    /// Ground-truth id → whether it was matched the last frame it was present.
    last_covered: HashMap<u64, bool>,
    ever_covered: HashSet<u64>,
    seen_tracks: HashSet<u64>,
}

impl MotEvaluator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one frame given tracker outputs as `TrackedBox`es.
    pub fn add_tracked(&mut self, truth: &[(u64, BBox)], output: &[TrackedBox]) {
        let hyp: Vec<(u64, BBox)> = output.iter().map(|b| (b.track_id, b.bbox)).collect();
        self.add_frame(truth, &hyp);
    }

    /// Adds one frame: `(ground-truth id, box)` and `(track id, box)` pairs.
    pub fn add_frame(&mut self, truth: &[(u64, BBox)], output: &[(u64, BBox)]) {
        self.summary.frames += 1;
        self.summary.ground_truth += truth.len() as u64;
        for (id, _) in output {
            self.seen_tracks.insert(*id);
        }

        let mut gt_match: Vec<Option<usize>> = vec![None; truth.len()];
        let mut hyp_taken = vec![false; output.len()];
        // Keep last frame's pairs that still hold.
        for (g, (gid, gbox)) in truth.iter().enumerate() {
            let Some(&tid) = self.previous.get(gid) else { continue };
            if let Some(h) = (0..output.len()).find(|&h| !hyp_taken[h] && output[h].0 == tid) {
                if gbox.iou(&output[h].1) >= MATCH_IOU {
                    gt_match[g] = Some(h);
                    hyp_taken[h] = true;
                }
            }
        }
        // Optimal matching for the rest.
        let free_g: Vec<usize> = (0..truth.len()).filter(|&g| gt_match[g].is_none()).collect();
        let free_h: Vec<usize> = (0..output.len()).filter(|&h| !hyp_taken[h]).collect();
        let cost = CostMatrix::from_fn(free_g.len(), free_h.len(), |r, c| {
            let iou = truth[free_g[r]].1.iou(&output[free_h[c]].1);
            if iou >= MATCH_IOU {
                1.0 - iou as f64
            } else {
                f64::INFINITY
            }
        });
        // Gate just above 1 - MATCH_IOU: every allowed pair is already finite, the gate only
        // needs to let IoU == MATCH_IOU through.
        for (r, c) in gated_assignment(&cost, 1.0 - MATCH_IOU as f64 + 1e-9).pairs {
            gt_match[free_g[r]] = Some(free_h[c]);
            hyp_taken[free_h[c]] = true;
        }

        let mut current = HashMap::new();
        for (g, (gid, _)) in truth.iter().enumerate() {
            let covered = gt_match[g].is_some();
            if let Some(h) = gt_match[g] {
                let tid = output[h].0;
                self.summary.matches += 1;
                if let Some(prev) = self.last_match.insert(*gid, tid) {
                    if prev != tid {
                        self.summary.id_switches += 1;
                    }
                }
                current.insert(*gid, tid);
            } else {
                self.summary.misses += 1;
            }
            // A resumption: covered now, uncovered at the previous presence, covered before that.
            // (An object first found late is not a fragment: it was never covered earlier.)
            if covered && self.last_covered.get(gid) == Some(&false) && self.ever_covered.contains(gid) {
                self.summary.fragmentations += 1;
            }
            self.last_covered.insert(*gid, covered);
            if covered {
                self.ever_covered.insert(*gid);
            }
        }
        self.summary.false_positives += hyp_taken.iter().filter(|t| !**t).count() as u64;
        self.previous = current;
    }

    /// Ground-truth id → track id, for the latest frame's matches.
    pub fn latest_matches(&self) -> &HashMap<u64, u64> {
        &self.previous
    }

    pub fn summary(&self) -> MotSummary {
        MotSummary {
            track_ids: self.seen_tracks.len() as u64,
            ..self.summary
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: f32) -> BBox {
        BBox::new(x, 0.0, x + 10.0, 20.0)
    }

    #[test]
    fn perfect_tracking_scores_clean() {
        let mut ev = MotEvaluator::new();
        for t in 0..10 {
            let x = t as f32;
            ev.add_frame(&[(1, b(x)), (2, b(x + 100.0))], &[(7, b(x)), (8, b(x + 100.0))]);
        }
        let s = ev.summary();
        assert_eq!(
            (s.matches, s.misses, s.false_positives, s.id_switches, s.fragmentations),
            (20, 0, 0, 0, 0)
        );
        assert_eq!(s.track_ids, 2);
        assert_eq!(s.mota(), 1.0);
    }

    #[test]
    fn a_new_id_on_the_same_object_is_one_switch() {
        let mut ev = MotEvaluator::new();
        ev.add_frame(&[(1, b(0.0))], &[(5, b(0.0))]);
        ev.add_frame(&[(1, b(0.0))], &[(6, b(0.0))]);
        ev.add_frame(&[(1, b(0.0))], &[(6, b(0.0))]);
        assert_eq!(ev.summary().id_switches, 1);
    }

    #[test]
    fn a_gap_then_the_same_id_is_a_fragmentation_not_a_switch() {
        let mut ev = MotEvaluator::new();
        ev.add_frame(&[(1, b(0.0))], &[(5, b(0.0))]);
        ev.add_frame(&[(1, b(0.0))], &[]);
        ev.add_frame(&[(1, b(0.0))], &[]);
        ev.add_frame(&[(1, b(0.0))], &[(5, b(0.0))]);
        let s = ev.summary();
        assert_eq!((s.id_switches, s.fragmentations, s.misses), (0, 1, 2));
        // Returning under another ID is both.
        ev.add_frame(&[(1, b(0.0))], &[]);
        ev.add_frame(&[(1, b(0.0))], &[(9, b(0.0))]);
        let s = ev.summary();
        assert_eq!((s.id_switches, s.fragmentations), (1, 2));
    }

    #[test]
    fn found_late_is_not_a_fragment_and_absence_is_not_a_gap() {
        let mut ev = MotEvaluator::new();
        ev.add_frame(&[(1, b(0.0))], &[]);
        ev.add_frame(&[(1, b(0.0))], &[(5, b(0.0))]);
        // Object absent from the truth (left the scene) then back, covered throughout.
        ev.add_frame(&[], &[]);
        ev.add_frame(&[(1, b(0.0))], &[(5, b(0.0))]);
        assert_eq!(ev.summary().fragmentations, 0);
    }

    #[test]
    fn low_overlap_and_stray_outputs_are_misses_and_false_positives() {
        let mut ev = MotEvaluator::new();
        // IoU of b(0) and b(6) is 4/16 = 0.25 < 0.5.
        ev.add_frame(&[(1, b(0.0))], &[(5, b(6.0)), (6, b(300.0))]);
        let s = ev.summary();
        assert_eq!((s.matches, s.misses, s.false_positives), (0, 1, 2));
        assert_eq!(s.mota(), -2.0);
    }

    #[test]
    fn existing_correspondence_is_kept_over_a_slightly_better_newcomer() {
        let mut ev = MotEvaluator::new();
        ev.add_frame(&[(1, b(0.0))], &[(5, b(0.0))]);
        // Track 5 drifts a little (still IoU ≥ 0.5); a duplicate track 6 sits exactly on it.
        ev.add_frame(&[(1, b(0.0))], &[(5, b(2.0)), (6, b(0.0))]);
        let s = ev.summary();
        assert_eq!((s.id_switches, s.false_positives), (0, 1));
    }
}
