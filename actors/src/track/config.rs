//! Tracker settings, with ByteTrack's published defaults where it has one.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackerConfig {
    /// Detections at or above this confidence are "high": they can revive lost tracks and start
    /// new ones.
    pub high_thresh: f32,
    /// Detections below this are ignored; those in `[low_thresh, high_thresh)` may only extend a
    /// track that was tracked in the previous detected frame (ByteTrack's second association).
    pub low_thresh: f32,
    /// Largest `1 - IoU` for a high detection to match a confirmed (tracked or lost) track.
    /// 0.8 = IoU > 0.2, ByteTrack's default: loose, because a lost track's prediction drifts.
    pub match_thresh: f32,
    /// Largest `1 - IoU` for a low detection to match a tracked track. 0.5 = IoU > 0.5, as in
    /// ByteTrack: low-confidence boxes are where false positives live, so they must sit squarely
    /// on the prediction to count.
    pub low_match_thresh: f32,
    /// Largest `1 - IoU` for a high detection to match a tentative track. 0.7 = IoU > 0.3, as in
    /// ByteTrack: a tentative track has seen one or two boxes, so its velocity is still a guess.
    pub tentative_match_thresh: f32,
    /// Consecutive matched detected frames before a track is confirmed and gets an ID.
    pub min_hits: u32,
    /// Frames (detected or predicted) without a match after which a track is forgotten.
    pub max_age: u32,
    /// Live tracks (tentative included) never exceed this; births beyond it are refused.
    pub max_tracks: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            high_thresh: 0.5,
            low_thresh: 0.1,
            match_thresh: 0.8,
            low_match_thresh: 0.5,
            tentative_match_thresh: 0.7,
            min_hits: 3,
            max_age: 30,
            max_tracks: 1000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid tracker setting {field}: {reason}")]
pub struct TrackerConfigError {
    pub field: &'static str,
    pub reason: String,
}

impl TrackerConfig {
    /// Frames after a track's last box beyond which it cannot come back: the tracker has dropped
    /// it (`max_age` frames unmatched) and never reuses its id.
    pub fn gone_after(&self) -> u64 {
        u64::from(self.max_age) + 1
    }

    pub fn validate(&self) -> Result<(), TrackerConfigError> {
        let bad = |field, reason: String| Err(TrackerConfigError { field, reason });
        for (field, v) in [("high_thresh", self.high_thresh), ("low_thresh", self.low_thresh)] {
            if !(0.0..=1.0).contains(&v) {
                return bad(field, format!("{v} is not a confidence in [0, 1]"));
            }
        }
        if self.low_thresh > self.high_thresh {
            return bad(
                "low_thresh",
                format!("{} is above high_thresh {}", self.low_thresh, self.high_thresh),
            );
        }
        for (field, v) in [
            ("match_thresh", self.match_thresh),
            ("low_match_thresh", self.low_match_thresh),
            ("tentative_match_thresh", self.tentative_match_thresh),
        ] {
            // A gate of 0 would match nothing; above 1 would match boxes that do not even touch.
            if !(v > 0.0 && v <= 1.0) {
                return bad(field, format!("{v} is not a 1 - IoU cost gate in (0, 1]"));
            }
        }
        if self.min_hits == 0 {
            return bad("min_hits", "must be at least 1".into());
        }
        if self.max_age == 0 {
            return bad("max_age", "must be at least 1".into());
        }
        if self.max_tracks == 0 {
            return bad("max_tracks", "must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        TrackerConfig::default().validate().unwrap();
        type Case = (fn(&mut TrackerConfig), &'static str);
        let cases: [Case; 7] = [
            (|c| c.high_thresh = 1.5, "high_thresh"),
            (|c| c.low_thresh = f32::NAN, "low_thresh"),
            (|c| c.low_thresh = 0.7, "low_thresh"),
            (|c| c.match_thresh = 0.0, "match_thresh"),
            (|c| c.min_hits = 0, "min_hits"),
            (|c| c.max_age = 0, "max_age"),
            (|c| c.max_tracks = 0, "max_tracks"),
        ];
        for (mutate, field) in cases {
            let mut c = TrackerConfig::default();
            mutate(&mut c);
            assert_eq!(c.validate().unwrap_err().field, field);
        }
    }

    #[test]
    fn partial_config_fills_defaults_and_rejects_unknown_keys() {
        let c: TrackerConfig = serde_json::from_str(r#"{"max_age": 10}"#).unwrap();
        assert_eq!(
            c,
            TrackerConfig {
                max_age: 10,
                ..Default::default()
            }
        );
        assert!(serde_json::from_str::<TrackerConfig>(r#"{"max_agee": 10}"#).is_err());
    }
}
