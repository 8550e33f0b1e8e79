//! Per-video statistics: the pure accumulator and re-binning, and the `stats` tree (id → JSON).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::detection::StoredDetection;
use super::{Store, StoreError, VideoId};

/// What the stats endpoint and charts are built from. Every stored detection counts, tracker-
/// predicted ones included, so `total_detections` agrees with the detections tree.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoStats {
    /// Detections per class id.
    pub class_counts: BTreeMap<u16, u64>,
    /// Second of the video (pts_ms / 1000) → detections per class in that second.
    pub per_second: BTreeMap<u64, BTreeMap<u16, u32>>,
    /// Distinct track ids per class (a track seen under two classes counts once in each).
    pub unique_tracks: BTreeMap<u16, u64>,
    /// Frames with at least one detection.
    pub frames_detected: u64,
    pub total_detections: u64,
    /// Per track: its class, when it was first and last seen, and in how many frames.
    #[serde(default)]
    pub tracks: BTreeMap<u64, TrackSummary>,
}

/// One tracked object's life in the video.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackSummary {
    pub class_id: u16,
    pub first_ms: u64,
    pub last_ms: u64,
    /// Frames it appears in, detected or predicted.
    pub frames: u64,
    /// Of those, frames where the detector saw it.
    pub detected_frames: u64,
}

/// Builds [`VideoStats`] one frame at a time, so the StatsAggregator can keep live stats and
/// persist a snapshot now and then. Pure: no store, no clock. Each frame must be fed once.
#[derive(Clone, Debug, Default)]
pub struct StatsAccumulator {
    stats: VideoStats,
    /// (class, track) pairs seen so far: the only state the snapshot doesn't carry.
    tracks: HashSet<(u16, u64)>,
}

impl StatsAccumulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Goes on from stored stats. The tracker keeps a track's class, so the (class, track) pairs
    /// are those of `stats.tracks`.
    pub fn from_stats(stats: VideoStats) -> Self {
        let tracks = stats.tracks.iter().map(|(id, t)| (t.class_id, *id)).collect();
        Self { stats, tracks }
    }

    /// Adds one frame (its pts and all of its detections; an empty frame changes nothing).
    pub fn ingest(&mut self, pts_ms: u64, detections: &[StoredDetection]) {
        if detections.is_empty() {
            return;
        }
        let stats = &mut self.stats;
        stats.frames_detected += 1;
        let second = stats.per_second.entry(pts_ms / 1000).or_default();
        for d in detections {
            stats.total_detections += 1;
            *stats.class_counts.entry(d.class_id).or_insert(0) += 1;
            let n = second.entry(d.class_id).or_insert(0);
            *n = n.saturating_add(1);
            if let Some(track) = d.track_id {
                if self.tracks.insert((d.class_id, track)) {
                    *stats.unique_tracks.entry(d.class_id).or_insert(0) += 1;
                }
                let t = stats.tracks.entry(track).or_insert(TrackSummary {
                    class_id: d.class_id,
                    first_ms: pts_ms,
                    last_ms: pts_ms,
                    frames: 0,
                    detected_frames: 0,
                });
                t.last_ms = t.last_ms.max(pts_ms);
                t.frames += 1;
                t.detected_frames += u64::from(!d.predicted);
            }
        }
    }

    pub fn stats(&self) -> &VideoStats {
        &self.stats
    }

    /// Forgets what happened before `cutoff_ms` (a live source's retention): the seconds before
    /// it with their share of the class totals, and the tracks last seen before it, so the stats
    /// describe what the store still holds and stay bounded however long the source runs.
    /// `frames_detected` stays a running count.
    pub fn forget_before(&mut self, cutoff_ms: u64) {
        let stats = &mut self.stats;
        let kept = stats.per_second.split_off(&(cutoff_ms / 1000));
        for counts in std::mem::replace(&mut stats.per_second, kept).values() {
            for (class, n) in counts {
                let n = u64::from(*n);
                stats.total_detections = stats.total_detections.saturating_sub(n);
                if let Some(c) = stats.class_counts.get_mut(class) {
                    *c = c.saturating_sub(n);
                }
            }
        }
        stats.class_counts.retain(|_, n| *n > 0);
        let gone: HashSet<u64> = stats
            .tracks
            .iter()
            .filter(|(_, t)| t.last_ms < cutoff_ms)
            .map(|(id, _)| *id)
            .collect();
        if gone.is_empty() {
            return;
        }
        stats.tracks.retain(|id, _| !gone.contains(id));
        self.tracks.retain(|(class, track)| {
            let keep = !gone.contains(track);
            if !keep {
                if let Some(n) = stats.unique_tracks.get_mut(class) {
                    *n = n.saturating_sub(1);
                }
            }
            keep
        });
        stats.unique_tracks.retain(|_, n| *n > 0);
    }

    pub fn into_stats(self) -> VideoStats {
        self.stats
    }
}

/// One bar of a time histogram: `[start_s, start_s + bin_seconds)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bin {
    pub start_s: u64,
    /// Detections per class in the bin; empty for a bin with none.
    pub counts: BTreeMap<u16, u64>,
}

/// The most bins [`histogram`] will produce.
pub const MAX_HISTOGRAM_BINS: u64 = 10_000;

/// Why a histogram can't be made. The API answers these with 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistogramError {
    #[error("bin size must be at least 1 second")]
    ZeroBin,
    #[error("{bins} bins of {bin_seconds} s are too many (at most {max}); use wider bins")]
    TooManyBins { bins: u64, bin_seconds: u64, max: u64 },
}

/// Re-bins the per-second counts into bins of `bin_seconds`, aligned to multiples of it. Every
/// bin from the one holding the first detection to the one holding the last is present, empty
/// ones included, so a chart gets a continuous axis. No detections → no bins. More than
/// [`MAX_HISTOGRAM_BINS`] bins is refused rather than silently widened, so the caller always
/// gets the bin size it asked for.
pub fn histogram(stats: &VideoStats, bin_seconds: u64) -> Result<Vec<Bin>, HistogramError> {
    if bin_seconds == 0 {
        return Err(HistogramError::ZeroBin);
    }
    let (Some((&first, _)), Some((&last, _))) = (stats.per_second.first_key_value(), stats.per_second.last_key_value())
    else {
        return Ok(Vec::new());
    };
    let first_bin = first / bin_seconds;
    let bins = last / bin_seconds - first_bin + 1;
    if bins > MAX_HISTOGRAM_BINS {
        return Err(HistogramError::TooManyBins {
            bins,
            bin_seconds,
            max: MAX_HISTOGRAM_BINS,
        });
    }
    let mut out: Vec<Bin> = (0..bins)
        .map(|i| Bin {
            start_s: (first_bin + i) * bin_seconds,
            counts: BTreeMap::new(),
        })
        .collect();
    for (second, counts) in &stats.per_second {
        // In range by construction: first <= second <= last.
        let Some(bin) = usize::try_from(second / bin_seconds - first_bin)
            .ok()
            .and_then(|i| out.get_mut(i))
        else {
            continue;
        };
        for (class, n) in counts {
            *bin.counts.entry(*class).or_insert(0) += u64::from(*n);
        }
    }
    Ok(out)
}

impl Store {
    /// Replaces the stored stats of `id`; returns the bytes written. Refused for an unknown video
    /// (no orphans after a delete).
    pub fn put_stats(&self, id: VideoId, stats: &VideoStats) -> Result<usize, StoreError> {
        if !self.video_exists(id)? {
            return Err(StoreError::NotFound(id));
        }
        let bytes = serde_json::to_vec(stats).map_err(|e| StoreError::Encode {
            what: "stats",
            reason: e.to_string(),
        })?;
        let written = bytes.len();
        self.trees()?.stats.insert(id.to_be_bytes(), bytes)?;
        Ok(written)
    }

    /// The last stats stored for `id`, if any.
    pub fn get_stats(&self, id: VideoId) -> Result<Option<VideoStats>, StoreError> {
        let Some(bytes) = self.trees()?.stats.get(id.to_be_bytes())? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                what: "stats",
                key: id.to_string(),
                reason: e.to_string(),
            })
    }

    /// Makes `id`'s stored stats forget what happened before `cutoff_ms` (retention of a live
    /// source that is not running, whose stats no aggregator keeps). Cheap: no detection is read.
    pub fn forget_stats_before(&self, id: VideoId, cutoff_ms: u64) -> Result<(), StoreError> {
        let Some(stats) = self.get_stats(id)? else {
            return Ok(());
        };
        let mut acc = StatsAccumulator::from_stats(stats.clone());
        acc.forget_before(cutoff_ms);
        if *acc.stats() != stats {
            self.put_stats(id, acc.stats())?;
        }
        Ok(())
    }

    /// Recomputes `id`'s stats from its stored detections (after an interrupted job, or if the
    /// stored stats are lost) and returns the accumulator, ready to keep ingesting new frames.
    /// Streams the detections; they arrive grouped by pts, i.e. frame by frame.
    pub fn rebuild_stats(&self, id: VideoId) -> Result<StatsAccumulator, StoreError> {
        let mut acc = StatsAccumulator::new();
        let mut frame: Vec<StoredDetection> = Vec::new();
        for d in self.detections_iter(id) {
            let d = d?;
            if frame.first().is_some_and(|f| f.pts_ms != d.pts_ms) {
                acc.ingest(frame[0].pts_ms, &frame);
                frame.clear();
            }
            frame.push(d);
        }
        if let Some(first) = frame.first() {
            acc.ingest(first.pts_ms, &frame);
        }
        Ok(acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::detection::tests::det;
    use crate::store::tests::temp_store_with_video;

    fn tracked(pts_ms: u64, class_id: u16, track: u64) -> StoredDetection {
        StoredDetection {
            track_id: Some(track),
            ..det(pts_ms, class_id, 0.5)
        }
    }

    fn per_second(entries: &[(u64, &[(u16, u32)])]) -> VideoStats {
        let mut stats = VideoStats::default();
        for (s, counts) in entries {
            stats.per_second.insert(*s, counts.iter().copied().collect());
        }
        stats
    }

    #[test]
    fn accumulator_counts() {
        let mut acc = StatsAccumulator::new();
        acc.ingest(0, &[tracked(0, 0, 1), tracked(0, 0, 2), det(0, 2, 0.5)]);
        acc.ingest(40, &[]);
        acc.ingest(960, &[tracked(960, 0, 1)]);
        acc.ingest(
            1000,
            &[
                tracked(1000, 0, 1),
                tracked(1000, 2, 1),
                StoredDetection {
                    predicted: true,
                    ..tracked(1000, 0, 3)
                },
            ],
        );
        let stats = acc.into_stats();
        assert_eq!(stats.total_detections, 7);
        assert_eq!(stats.frames_detected, 3);
        assert_eq!(stats.class_counts, BTreeMap::from([(0, 5), (2, 2)]));
        assert_eq!(stats.unique_tracks, BTreeMap::from([(0, 3), (2, 1)]));
        assert_eq!(
            stats.per_second,
            BTreeMap::from([
                (0, BTreeMap::from([(0, 3), (2, 1)])),
                (1, BTreeMap::from([(0, 2), (2, 1)]))
            ])
        );
    }

    #[test]
    fn stats_round_trip_and_rebuild() {
        let (_dir, store, id) = temp_store_with_video();
        assert_eq!(store.get_stats(id).unwrap(), None);
        let frames = [
            vec![tracked(0, 0, 1), det(0, 1, 0.9)],
            vec![tracked(40, 0, 1)],
            vec![tracked(2500, 3, 7), tracked(2500, 0, 8)],
        ];
        let mut acc = StatsAccumulator::new();
        for f in &frames {
            store.insert_detections(id, f).unwrap();
            acc.ingest(f[0].pts_ms, f);
        }
        store.put_stats(id, acc.stats()).unwrap();
        assert_eq!(store.get_stats(id).unwrap().as_ref(), Some(acc.stats()));
        assert_eq!(store.rebuild_stats(id).unwrap().stats(), acc.stats());

        // Forgetting the start leaves what a rebuild from the later detections alone gives.
        let mut rebuilt = StatsAccumulator::new();
        rebuilt.ingest(2500, &frames[2]);
        let mut forgetting = acc.clone();
        forgetting.forget_before(2000);
        let mut resumed = StatsAccumulator::from_stats(acc.stats().clone());
        resumed.forget_before(2000);
        assert_eq!(
            resumed.stats(),
            forgetting.stats(),
            "stored stats forget as the live ones do"
        );
        store.forget_stats_before(id, 2000).unwrap();
        assert_eq!(store.get_stats(id).unwrap().as_ref(), Some(forgetting.stats()));
        let (f, r) = (forgetting.stats(), rebuilt.stats());
        assert_eq!(f.class_counts, r.class_counts);
        assert_eq!(f.total_detections, r.total_detections);
        assert_eq!(f.per_second, r.per_second);
        assert_eq!(f.unique_tracks, r.unique_tracks);
        assert_eq!(f.tracks, r.tracks);
        assert_eq!(f.frames_detected, 3, "a running count");

        let unknown = VideoId::from_u64(999_999);
        assert!(matches!(
            store.put_stats(unknown, acc.stats()),
            Err(StoreError::NotFound(_))
        ));
        store
            .trees()
            .expect("open")
            .stats
            .insert(id.to_be_bytes(), &b"[]"[..])
            .unwrap();
        assert!(matches!(store.get_stats(id), Err(StoreError::Corrupt { .. })));
    }

    #[test]
    fn histogram_rebins_and_fills_gaps() {
        let stats = per_second(&[(3, &[(0, 1)]), (4, &[(0, 2), (1, 1)]), (12, &[(1, 5)])]);
        let bins = histogram(&stats, 5).unwrap();
        assert_eq!(
            bins,
            vec![
                Bin {
                    start_s: 0,
                    counts: BTreeMap::from([(0, 3), (1, 1)])
                },
                Bin {
                    start_s: 5,
                    counts: BTreeMap::new()
                },
                Bin {
                    start_s: 10,
                    counts: BTreeMap::from([(1, 5)])
                },
            ]
        );
        let bins = histogram(&stats, 1).unwrap();
        assert_eq!(bins.len(), 10);
        assert_eq!(bins.first().unwrap().start_s, 3);
        assert_eq!(bins.last().unwrap().start_s, 12);
        assert!(bins[2..9].iter().all(|b| b.counts.is_empty()));
        let bins = histogram(&stats, 3600).unwrap();
        assert_eq!(
            bins,
            vec![Bin {
                start_s: 0,
                counts: BTreeMap::from([(0, 3), (1, 6)])
            }]
        );
        // Totals are preserved whatever the bin size.
        for bin_seconds in [1, 2, 3, 7, 100] {
            let total: u64 = histogram(&stats, bin_seconds)
                .unwrap()
                .iter()
                .flat_map(|b| b.counts.values())
                .sum();
            assert_eq!(total, 9);
        }
    }

    #[test]
    fn histogram_limits() {
        assert_eq!(histogram(&VideoStats::default(), 1), Ok(vec![]));
        assert_eq!(histogram(&VideoStats::default(), 0), Err(HistogramError::ZeroBin));
        let long = per_second(&[(0, &[(0, 1)]), (10_000, &[(0, 1)])]);
        assert_eq!(
            histogram(&long, 1),
            Err(HistogramError::TooManyBins {
                bins: 10_001,
                bin_seconds: 1,
                max: MAX_HISTOGRAM_BINS
            })
        );
        assert_eq!(histogram(&long, 2).unwrap().len(), 5001);
        let far = per_second(&[(u64::MAX, &[(0, 1)])]);
        assert_eq!(histogram(&far, u64::MAX).unwrap().len(), 1);
        assert_eq!(histogram(&far, 1).unwrap()[0].start_s, u64::MAX);
    }
}
