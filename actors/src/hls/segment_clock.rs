//! Where segments start: the first frame at or after each boundary. Boundaries are the multiples
//! of the segment duration, and before the first of them a quarter and a half of it, so that the
//! first segments are ¼, ¼ and ½ of the usual length. splitmuxsink closes a segment only once the
//! GOP after it is complete, so the stream becomes playable when the second segment's last frame
//! is encoded: half a segment in instead of two whole ones.
//!
//! Deciding from timestamps, not frame counts, keeps boundaries on the wall-clock grid when a
//! file's declared frame rate is wrong or its frame rate varies; and since every rendition is fed
//! the same frames, forcing a keyframe on the chosen frame aligns all of them.

#[derive(Debug, Clone)]
pub struct SegmentClock {
    segment_ns: u64,
    next_boundary: Option<u64>,
    segments: usize,
}

impl SegmentClock {
    pub fn new(segment_ns: u64) -> Self {
        Self {
            segment_ns: segment_ns.max(4),
            next_boundary: None,
            segments: 0,
        }
    }

    /// Records a frame; true when it opens a new segment (the first frame always does).
    pub fn frame(&mut self, pts_ns: u64) -> bool {
        let opens = self.next_boundary.is_none_or(|b| pts_ns >= b);
        if opens {
            self.segments += 1;
            let s = self.segment_ns;
            self.next_boundary = Some(match pts_ns {
                p if p < s / 4 => s / 4,
                p if p < s / 2 => s / 2,
                p => (p / s + 1) * s,
            });
        }
        opens
    }

    /// Opens a segment on this frame whatever the boundaries say (the first frame after a gap in
    /// a live source: the segment before it must not span the gap).
    pub fn open_at(&mut self, pts_ns: u64) {
        self.next_boundary = Some(0);
        self.frame(pts_ns);
    }

    /// Segments opened so far.
    pub fn segments(&self) -> usize {
        self.segments
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn constant_rate_splits_on_the_grid_after_shorter_first_segments() {
        let mut c = SegmentClock::new(2000 * MS);
        let opened: Vec<u64> = (0..50).filter(|i| c.frame(i * 100 * MS)).collect();
        assert_eq!(opened, vec![0, 5, 10, 20, 40]);
    }

    /// Segment lengths (frames × period) at `fps`, for 20 s of video and 2 s segments.
    fn lengths_at(fps: f64) -> Vec<f64> {
        let mut c = SegmentClock::new(2000 * MS);
        let period_ns = 1e9 / fps;
        let frames = (20.0 * fps) as u64;
        let starts: Vec<u64> = (0..frames)
            .map(|i| (i as f64 * period_ns) as u64)
            .filter(|&p| c.frame(p))
            .collect();
        let end = (frames as f64 * period_ns) as u64;
        starts
            .windows(2)
            .map(|w| (w[1] - w[0]) as f64 / 1e9)
            .chain(starts.last().map(|l| (end - l) as f64 / 1e9))
            .collect()
    }

    #[test]
    fn every_segment_keeps_its_length_within_a_frame_at_any_rate() {
        for fps in [1.0, 5.0, 8.0, 1000.0, 29.97, 0.7] {
            let lengths = lengths_at(fps);
            let (last, rest) = lengths.split_last().expect("segments");
            assert!(*last > 0.0);
            let wanted = [0.5, 0.5, 1.0].into_iter().chain(std::iter::repeat(2.0));
            for (l, w) in rest.iter().zip(wanted) {
                assert!((l - w).abs() <= 1.0 / fps + 1e-6, "{fps} fps: {lengths:?}");
            }
            assert_eq!(lengths.iter().sum::<f64>().round(), 20.0, "{fps} fps covers the video");
        }
    }

    #[test]
    fn variable_rate_still_follows_timestamps() {
        let mut c = SegmentClock::new(2000 * MS);
        // 30 fps for 1.5 s, then 5 fps.
        let mut pts = Vec::new();
        let mut t = 0;
        while t < 1500 * MS {
            pts.push(t);
            t += 33 * MS;
        }
        while t < 6000 * MS {
            pts.push(t);
            t += 200 * MS;
        }
        let starts: Vec<u64> = pts.iter().copied().filter(|&p| c.frame(p)).collect();
        let boundaries = [0, 500 * MS, 1000 * MS, 2000 * MS, 4000 * MS];
        assert_eq!(starts.len(), boundaries.len(), "{starts:?}");
        for (s, b) in starts.iter().zip(boundaries) {
            assert!(*s >= b && *s < b + 200 * MS, "{starts:?}");
        }
    }

    #[test]
    fn a_gap_longer_than_a_segment_opens_one_segment_not_several() {
        let mut c = SegmentClock::new(2000 * MS);
        assert!(c.frame(0));
        assert!(c.frame(7000 * MS));
        assert!(!c.frame(7900 * MS));
        assert!(c.frame(8000 * MS));
        assert_eq!(c.segments(), 3);
    }

    #[test]
    fn a_forced_segment_keeps_the_grid_after_it() {
        let mut c = SegmentClock::new(2000 * MS);
        assert!(c.frame(10_000 * MS));
        c.open_at(10_700 * MS);
        assert_eq!(c.segments(), 2);
        assert!(!c.frame(11_900 * MS));
        assert!(c.frame(12_000 * MS));
    }
}
