//! The ByteTrack-style tracker: per-frame association, track birth, confirmation and death.

use super::assignment::{gated_assignment, CostMatrix};
use super::config::{TrackerConfig, TrackerConfigError};
use super::kalman::KalmanBox;
use super::TrackedBox;
use crate::detect::{BBox, Detection};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Born, not yet `min_hits` consecutive matches; no ID, never shown.
    Tentative,
    /// Confirmed and matched in the latest detected frame.
    Tracked,
    /// Confirmed, missed in the latest detected frame; kept for re-identification until `max_age`.
    Lost,
}

#[derive(Debug, Clone)]
struct Track {
    kf: KalmanBox,
    class_id: u16,
    /// Confidence of the last matched detection.
    confidence: f32,
    /// The last matched detection's box (what `update` reports).
    det_box: BBox,
    /// Index, in the latest `update`'s input, of the detection this track last matched.
    det_index: usize,
    state: State,
    /// Assigned at confirmation.
    id: Option<u64>,
    /// Consecutive detected frames matched (only meaningful while tentative).
    hits: u32,
    /// Frames, detected or predicted, since the last match.
    since_match: u32,
}

/// Multi-object tracker for one video. See the module docs for the per-frame algorithm.
#[derive(Debug, Clone)]
pub struct Tracker {
    config: TrackerConfig,
    tracks: Vec<Track>,
    next_id: u64,
    /// Whether `update` has run yet: tracks born in the first detected frame are confirmed at once.
    seen_update: bool,
}

/// A detection that passed input checks, with its index into the caller's slice.
#[derive(Clone, Copy)]
struct Det {
    index: usize,
    det: Detection,
}

impl Tracker {
    /// A tracker with no tracks. Fails when `config` does not validate.
    pub fn new(config: TrackerConfig) -> Result<Self, TrackerConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            tracks: Vec::new(),
            next_id: 1,
            seen_update: false,
        })
    }

    /// Hands out IDs after `last` (a live source started again: its stored tracks keep theirs).
    pub fn continuing_after(mut self, last: u64) -> Self {
        self.next_id = self.next_id.max(last.saturating_add(1));
        self
    }

    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// Live tracks, tentative and lost included (for metrics and tests).
    pub fn live_tracks(&self) -> usize {
        self.tracks.len()
    }

    /// The highest confirmed ID handed out so far.
    pub fn ids_issued(&self) -> u64 {
        self.next_id - 1
    }

    /// Advances one frame that went through detection, with that frame's detections.
    ///
    /// Returns the confirmed tracks matched in this frame, sorted by track ID, each with the
    /// *detection's* box (what the detector saw in this frame; the filtered box lags on
    /// accelerating objects) and `predicted: false`. Confirmed tracks that were missed are not
    /// returned: drawing a guess on a frame the detector looked at and found nothing would show
    /// users a box the detector contradicts.
    ///
    /// Detections with non-finite values, zero or negative size, or confidence below
    /// `low_thresh` are ignored.
    pub fn update(&mut self, detections: &[Detection]) -> Vec<TrackedBox> {
        let first_frame = !self.seen_update;
        self.seen_update = true;
        self.step_filters();

        let cfg = self.config.clone();
        let (high, low): (Vec<Det>, Vec<Det>) = detections
            .iter()
            .enumerate()
            .filter(|(_, d)| usable(d) && d.confidence >= cfg.low_thresh)
            .map(|(index, d)| Det { index, det: *d })
            .partition(|d| d.det.confidence >= cfg.high_thresh);

        let mut matched = vec![false; self.tracks.len()];

        // Stage 1: high detections against every confirmed track, lost ones included, so an object
        // that reappears after a gap gets its old ID back.
        let confirmed: Vec<usize> = (0..self.tracks.len())
            .filter(|&t| self.tracks[t].state != State::Tentative)
            .collect();
        let left_high = self.associate(&confirmed, &high, cfg.match_thresh, &mut matched);

        // Stage 2: low detections only against tracks seen in the previous detected frame. This
        // is ByteTrack's idea: a partly occluded object's confidence drops, and the low box
        // keeps its track alive, but low boxes never revive lost tracks or start new ones.
        let tracked_left: Vec<usize> = confirmed
            .iter()
            .copied()
            .filter(|&t| !matched[t] && self.tracks[t].state == State::Tracked)
            .collect();
        self.associate(&tracked_left, &low, cfg.low_match_thresh, &mut matched);

        // Stage 3: leftover high detections against tentative tracks.
        let tentative: Vec<usize> = (0..self.tracks.len())
            .filter(|&t| self.tracks[t].state == State::Tentative)
            .collect();
        let mut births = self.associate(&tentative, &left_high, cfg.tentative_match_thresh, &mut matched);

        // Misses: tentative tracks must be matched every detected frame or they are dropped (a
        // one-frame false positive dies here without ever costing an ID); confirmed ones go lost.
        for (t, track) in self.tracks.iter_mut().enumerate() {
            if !matched[t] {
                track.hits = 0;
                if track.state == State::Tracked {
                    track.state = State::Lost;
                }
            }
        }
        let max_age = cfg.max_age;
        let mut t = 0;
        self.tracks.retain(|track| {
            let keep = matched[t] || (track.state != State::Tentative && track.since_match < max_age);
            t += 1;
            keep
        });

        // Births: strongest first, so the cap (if ever reached) keeps the most credible ones.
        births.sort_by(|a, b| {
            b.det
                .confidence
                .total_cmp(&a.det.confidence)
                .then(a.index.cmp(&b.index))
        });
        for d in births {
            if self.tracks.len() >= cfg.max_tracks {
                break;
            }
            let mut track = Track {
                kf: KalmanBox::new(&d.det.bbox),
                class_id: d.det.class_id,
                confidence: d.det.confidence,
                det_box: d.det.bbox,
                det_index: d.index,
                state: State::Tentative,
                id: None,
                hits: 1,
                since_match: 0,
            };
            if first_frame || cfg.min_hits <= 1 {
                self.confirm(&mut track);
            }
            self.tracks.push(track);
        }

        let mut out: Vec<TrackedBox> = self
            .tracks
            .iter()
            .filter(|t| t.state == State::Tracked && t.since_match == 0)
            .filter_map(|t| {
                Some(TrackedBox {
                    track_id: t.id?,
                    class_id: t.class_id,
                    confidence: t.confidence,
                    bbox: t.det_box,
                    predicted: false,
                })
            })
            .collect();
        out.sort_by_key(|b| b.track_id);
        out
    }

    /// [`update`](Self::update), also telling for each of `detections`, by its index, the
    /// confirmed track it joined in this frame (`None`: ignored, unmatched, or its track is
    /// still tentative). Boxes are never compared: two detections with equal boxes stay apart.
    pub fn update_joined(&mut self, detections: &[Detection]) -> (Vec<TrackedBox>, Vec<Option<u64>>) {
        let boxes = self.update(detections);
        let mut joined = vec![None; detections.len()];
        for t in self
            .tracks
            .iter()
            .filter(|t| t.state == State::Tracked && t.since_match == 0)
        {
            if let (Some(id), Some(slot)) = (t.id, joined.get_mut(t.det_index)) {
                *slot = Some(id);
            }
        }
        (boxes, joined)
    }

    /// Advances one frame that was not sent to detection (with `every = N`, the N - 1 frames in
    /// between). Returns the Kalman-predicted boxes of the confirmed tracks that were matched in
    /// the latest detected frame, sorted by track ID, with `predicted: true`. Lost tracks stay
    /// hidden, as on detected frames, so a box does not flicker in and out between the two.
    pub fn predict(&mut self) -> Vec<TrackedBox> {
        self.step_filters();
        let max_age = self.config.max_age;
        self.tracks
            .retain(|t| t.state == State::Tentative || t.since_match < max_age);
        let mut out: Vec<TrackedBox> = self
            .tracks
            .iter()
            .filter(|t| t.state == State::Tracked)
            .filter_map(|t| {
                Some(TrackedBox {
                    track_id: t.id?,
                    class_id: t.class_id,
                    confidence: t.confidence,
                    bbox: t.kf.bbox(),
                    predicted: true,
                })
            })
            .collect();
        out.sort_by_key(|b| b.track_id);
        out
    }

    fn step_filters(&mut self) {
        for t in &mut self.tracks {
            t.kf.predict(t.state == State::Lost);
            t.since_match = t.since_match.saturating_add(1);
        }
    }

    fn confirm(&mut self, track: &mut Track) {
        track.state = State::Tracked;
        if track.id.is_none() {
            track.id = Some(self.next_id);
            self.next_id += 1;
        }
    }

    /// Matches `dets` to the tracks at indices `rows` (same class only, gate `max_cost` on
    /// 1 - IoU against the predicted box), applies the matches, and returns the detections left.
    fn associate(&mut self, rows: &[usize], dets: &[Det], max_cost: f32, matched: &mut [bool]) -> Vec<Det> {
        if rows.is_empty() || dets.is_empty() {
            return dets.to_vec();
        }
        let predicted: Vec<BBox> = rows.iter().map(|&t| self.tracks[t].kf.bbox()).collect();
        let cost = CostMatrix::from_fn(rows.len(), dets.len(), |r, c| {
            let track = &self.tracks[rows[r]];
            if track.class_id != dets[c].det.class_id {
                return f64::INFINITY;
            }
            1.0 - predicted[r].iou(&dets[c].det.bbox) as f64
        });
        let m = gated_assignment(&cost, max_cost as f64);
        for &(r, c) in &m.pairs {
            let t = rows[r];
            matched[t] = true;
            let d = dets[c].det;
            let min_hits = self.config.min_hits;
            let mut track = self.tracks[t].clone();
            track.kf.update(&d.bbox);
            track.confidence = d.confidence;
            track.det_box = d.bbox;
            track.det_index = dets[c].index;
            track.since_match = 0;
            track.hits = track.hits.saturating_add(1);
            match track.state {
                State::Tentative if track.hits >= min_hits => self.confirm(&mut track),
                State::Tentative => {}
                State::Tracked | State::Lost => track.state = State::Tracked,
            }
            self.tracks[t] = track;
        }
        m.unmatched_cols.into_iter().map(|c| dets[c]).collect()
    }
}

/// Whether a detection from outside is fit to track: finite, positive size, finite confidence.
fn usable(d: &Detection) -> bool {
    let b = &d.bbox;
    [b.x1, b.y1, b.x2, b.y2, d.confidence].iter().all(|v| v.is_finite()) && b.x2 > b.x1 && b.y2 > b.y1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(class_id: u16, confidence: f32, x: f32) -> Detection {
        Detection {
            class_id,
            confidence,
            bbox: BBox::new(x, 100.0, x + 40.0, 180.0),
        }
    }

    fn cfg() -> TrackerConfig {
        TrackerConfig::default()
    }

    #[test]
    fn invalid_config_is_refused() {
        assert!(Tracker::new(TrackerConfig { min_hits: 0, ..cfg() }).is_err());
    }

    #[test]
    fn first_frame_confirms_at_once_later_births_wait_for_min_hits() {
        let mut tr = Tracker::new(cfg()).unwrap();
        let out = tr.update(&[det(0, 0.9, 0.0)]);
        assert_eq!(out.iter().map(|b| b.track_id).collect::<Vec<_>>(), vec![1]);
        // A newcomer in frame 2 needs frames 2, 3, 4 (min_hits = 3) before it is shown.
        for frame in 2..=4 {
            let out = tr.update(&[det(0, 0.9, 0.0), det(0, 0.9, 500.0)]);
            let ids: Vec<u64> = out.iter().map(|b| b.track_id).collect();
            if frame < 4 {
                assert_eq!(ids, vec![1], "frame {frame}");
            } else {
                assert_eq!(ids, vec![1, 2], "frame {frame}");
            }
        }
    }

    #[test]
    fn a_tracker_continuing_after_an_id_numbers_new_tracks_after_it() {
        let mut tr = Tracker::new(cfg()).unwrap().continuing_after(41);
        let out = tr.update(&[det(0, 0.9, 0.0), det(0, 0.9, 500.0)]);
        assert_eq!(out.iter().map(|b| b.track_id).collect::<Vec<_>>(), vec![42, 43]);
        assert_eq!(tr.ids_issued(), 43);
    }

    #[test]
    fn update_reports_the_detection_box_and_its_confidence() {
        let mut tr = Tracker::new(cfg()).unwrap();
        tr.update(&[det(3, 0.9, 0.0)]);
        let d = det(3, 0.77, 2.0);
        let out = tr.update(&[d]);
        assert_eq!(
            out,
            vec![TrackedBox {
                track_id: 1,
                class_id: 3,
                confidence: 0.77,
                bbox: d.bbox,
                predicted: false
            }]
        );
    }

    #[test]
    fn low_score_detections_extend_tracked_tracks_but_never_start_or_revive_them() {
        let mut tr = Tracker::new(cfg()).unwrap();
        tr.update(&[det(0, 0.9, 0.0)]);
        // Low box on the track: extends it.
        assert_eq!(tr.update(&[det(0, 0.3, 0.0)]).len(), 1);
        // Low box elsewhere: starts nothing.
        tr.update(&[det(0, 0.9, 0.0), det(0, 0.3, 600.0)]);
        assert_eq!(tr.live_tracks(), 1);
        // Lose the track, then a low box where it was: not revived.
        assert!(tr.update(&[]).is_empty());
        assert!(tr.update(&[det(0, 0.3, 0.0)]).is_empty());
        // A high box revives it with the same ID.
        assert_eq!(tr.update(&[det(0, 0.9, 0.0)])[0].track_id, 1);
        // Below low_thresh: ignored outright.
        assert!(tr.update(&[det(0, 0.05, 0.0)]).is_empty());
    }

    #[test]
    fn tracks_die_after_max_age_frames_and_a_return_gets_a_new_id() {
        let mut tr = Tracker::new(TrackerConfig {
            max_age: 5,
            min_hits: 1,
            ..cfg()
        })
        .unwrap();
        tr.update(&[det(0, 0.9, 0.0)]);
        for _ in 0..4 {
            tr.update(&[]);
        }
        assert_eq!(tr.live_tracks(), 1, "4 misses < max_age 5: still remembered");
        assert_eq!(tr.update(&[det(0, 0.9, 0.0)])[0].track_id, 1);
        for _ in 0..5 {
            tr.predict();
        }
        assert_eq!(
            tr.live_tracks(),
            0,
            "5 frames unmatched (predicted frames count): forgotten"
        );
        assert_eq!(tr.update(&[det(0, 0.9, 0.0)])[0].track_id, 2);
    }

    #[test]
    fn unusable_detections_are_ignored_without_panicking() {
        let mut tr = Tracker::new(cfg()).unwrap();
        let bad = [
            Detection {
                class_id: 0,
                confidence: f32::NAN,
                bbox: BBox::new(0.0, 0.0, 10.0, 10.0),
            },
            Detection {
                class_id: 0,
                confidence: 0.9,
                bbox: BBox::new(f32::INFINITY, 0.0, 10.0, 10.0),
            },
            Detection {
                class_id: 0,
                confidence: 0.9,
                bbox: BBox::new(10.0, 0.0, 10.0, 10.0),
            },
            Detection {
                class_id: 0,
                confidence: 0.9,
                bbox: BBox::new(0.0, 10.0, 10.0, 0.0),
            },
        ];
        assert!(tr.update(&bad).is_empty());
        assert_eq!(tr.live_tracks(), 0);
    }

    #[test]
    fn live_tracks_are_capped() {
        let mut tr = Tracker::new(TrackerConfig {
            max_tracks: 10,
            ..cfg()
        })
        .unwrap();
        let crowd: Vec<Detection> = (0..50)
            .map(|i| det(0, 0.5 + i as f32 / 100.0, i as f32 * 100.0))
            .collect();
        let out = tr.update(&crowd);
        assert_eq!(tr.live_tracks(), 10);
        // The strongest ten won the slots.
        assert!(out.iter().all(|b| b.confidence >= 0.9));
        for _ in 0..5 {
            tr.update(&crowd);
            assert_eq!(tr.live_tracks(), 10);
        }
    }

    #[test]
    fn predict_before_any_detection_is_empty() {
        let mut tr = Tracker::new(cfg()).unwrap();
        assert!(tr.predict().is_empty());
    }

    #[test]
    fn equal_boxes_join_their_own_tracks() {
        // NMS keeps two same-class boxes apart when their IoU is under its threshold, and two
        // classes may share a box exactly: each detection must report the track it joined, not
        // the first track whose box compares equal.
        let mut t = Tracker::new(TrackerConfig::default()).unwrap();
        let a = det(0, 0.9, 10.0);
        let b = Detection { class_id: 1, ..a };
        let (boxes, joined) = t.update_joined(&[a, b, det(0, 0.05, 300.0)]);
        assert_eq!(boxes.len(), 2);
        assert_eq!(
            joined,
            vec![Some(1), Some(2), None],
            "the too-faint third joins nothing"
        );
        let (_, joined) = t.update_joined(&[b, a]);
        assert_eq!(joined, vec![Some(2), Some(1)]);
    }
}
