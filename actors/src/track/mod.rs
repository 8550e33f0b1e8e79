//! Multi-object tracking: gives detections stable IDs across frames (ByteTrack-style, pure logic).
//!
//! Per detected frame ([`Tracker::update`]):
//! 1. every track's constant-velocity Kalman filter (cx, cy, w/h, h and their velocities; noise
//!    scaled by box height) advances one frame;
//! 2. high-confidence detections (≥ `high_thresh`) are matched to confirmed tracks, lost ones
//!    included, by `1 - IoU` against the predicted box, optimally (Hungarian) under a gate;
//! 3. low-confidence detections (`low_thresh` ≤ c < `high_thresh`) are matched, under a stricter
//!    gate, to confirmed tracks still unmatched that were tracked in the previous detected frame;
//! 4. leftover high detections are matched to tentative tracks; the rest start tentative tracks;
//! 5. a tentative track is confirmed, and only then given the next ID (1, 2, 3…), after
//!    `min_hits` consecutive matched detected frames, or at once in the first detected frame; a
//!    tentative track missed once is dropped, so a one-frame false positive costs no ID;
//! 6. a confirmed track unmatched for `max_age` frames is forgotten.
//!
//! Tracks never match across classes. Frames not sent to detection go through
//! [`Tracker::predict`], which advances the filters and reports their boxes.
//!
//! ```
//! use sightline_actors::detect::{BBox, Detection};
//! use sightline_actors::track::{Tracker, TrackerConfig};
//!
//! let mut tracker = Tracker::new(TrackerConfig::default()).unwrap();
//! let person = Detection { class_id: 0, confidence: 0.9, bbox: BBox::new(10.0, 10.0, 50.0, 110.0) };
//! let boxes = tracker.update(&[person]);
//! assert_eq!(boxes[0].track_id, 1);
//! let between = tracker.predict(); // a frame the detector skipped
//! assert!(between[0].predicted);
//! ```

mod assignment;
mod config;
mod id_block;
mod kalman;
mod tracker;

// MOT metrics judge the tracker in tests; the product never computes them.
#[cfg(test)]
mod metrics;
#[cfg(test)]
mod scenarios;
#[cfg(test)]
mod testkit;

use serde::{Deserialize, Serialize};

use crate::detect::BBox;

pub use config::{TrackerConfig, TrackerConfigError};
pub use id_block::IdReservation;
pub use tracker::Tracker;

/// One confirmed track in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrackedBox {
    /// Stable for the object's life in this video; 1, 2, 3… in order of confirmation.
    pub track_id: u64,
    pub class_id: u16,
    /// Confidence of the last detection matched to this track.
    pub confidence: f32,
    /// On detected frames, the matched detection's box; on predicted frames, the filter's box.
    pub bbox: BBox,
    /// True on frames that were not sent to detection.
    pub predicted: bool,
}
