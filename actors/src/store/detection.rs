//! Detections: the `detections` tree, its key layout and its compact value encoding.
//!
//! Key (20 bytes): video id (u64 BE) ‖ pts_ms (u64 BE) ‖ seq (u32 BE). Big-endian makes byte
//! order equal numeric order, so one video's detections are contiguous and sorted by time, and a
//! time window is one range scan. `seq` is the detection's index within its frame.
//!
//! Value (40 bytes, version 1; all integers and floats big-endian):
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 1 | version (= 1) |
//! | 1 | 1 | flags: bit 0 = has track id, bit 1 = predicted by the tracker; other bits 0 |
//! | 2 | 2 | class_id u16 |
//! | 4 | 4 | confidence f32 |
//! | 8 | 16 | bbox x1, y1, x2, y2 f32, normalised 0..=1 |
//! | 24 | 8 | frame u64 |
//! | 32 | 8 | track_id u64 (0 when the flag is clear) |
//!
//! pts_ms lives in the key only.

use std::collections::HashMap;
use std::ops::Bound;

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, VideoId};

pub(crate) const KEY_LEN: usize = 20;
const VALUE_LEN: usize = 40;
const VERSION: u8 = 1;
const FLAG_TRACK: u8 = 0b01;
const FLAG_PREDICTED: u8 = 0b10;

/// One stored detection. `bbox` is (x1, y1, x2, y2) normalised to the frame size.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredDetection {
    pub frame: u64,
    pub pts_ms: u64,
    /// Index into the video's `class_names`.
    pub class_id: u16,
    pub confidence: f32,
    pub bbox: [f32; 4],
    pub track_id: Option<u64>,
    /// Filled in by the tracker on a frame that wasn't run through the detector (`every` > 1).
    pub predicted: bool,
}

/// Why stored detection bytes could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("detection key has {0} bytes, expected {KEY_LEN}")]
    KeyLength(usize),
    #[error("detection value has {0} bytes, expected {VALUE_LEN}")]
    ValueLength(usize),
    #[error("detection value has unknown version {0}")]
    Version(u8),
    #[error("detection value has unknown flags {0:#04x}")]
    Flags(u8),
    #[error("detection value has a track id without the track flag")]
    StrayTrackId,
    #[error("detection value has a non-finite or out-of-range number")]
    BadNumber,
}

pub(crate) fn detection_key(id: VideoId, pts_ms: u64, seq: u32) -> [u8; KEY_LEN] {
    let mut key = [0u8; KEY_LEN];
    key[..8].copy_from_slice(&id.to_be_bytes());
    key[8..16].copy_from_slice(&pts_ms.to_be_bytes());
    key[16..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// The 16-byte prefix shared by every detection of one frame.
fn frame_prefix(id: VideoId, pts_ms: u64) -> [u8; 16] {
    let mut prefix = [0u8; 16];
    prefix[..8].copy_from_slice(&id.to_be_bytes());
    prefix[8..].copy_from_slice(&pts_ms.to_be_bytes());
    prefix
}

/// Splits a key into (video id, pts_ms, seq).
pub(crate) fn parse_key(key: &[u8]) -> Result<(VideoId, u64, u32), EntryError> {
    let key: &[u8; KEY_LEN] = key.try_into().map_err(|_| EntryError::KeyLength(key.len()))?;
    let mut id = [0u8; 8];
    let mut pts = [0u8; 8];
    let mut seq = [0u8; 4];
    id.copy_from_slice(&key[..8]);
    pts.copy_from_slice(&key[8..16]);
    seq.copy_from_slice(&key[16..]);
    Ok((
        VideoId::from_u64(u64::from_be_bytes(id)),
        u64::from_be_bytes(pts),
        u32::from_be_bytes(seq),
    ))
}

fn valid_unit(x: f32) -> bool {
    (0.0..=1.0).contains(&x)
}

impl StoredDetection {
    /// Encodes the value (see the module docs). Refuses NaN/infinite numbers; clamps confidence
    /// and box to 0..=1, since a detector's box may poke a hair outside the frame.
    pub fn encode_value(&self) -> Result<[u8; VALUE_LEN], StoreError> {
        if !self.confidence.is_finite() || self.bbox.iter().any(|v| !v.is_finite()) {
            return Err(StoreError::InvalidDetection(format!(
                "non-finite confidence or box in frame {}: {} {:?}",
                self.frame, self.confidence, self.bbox
            )));
        }
        let mut out = [0u8; VALUE_LEN];
        out[0] = VERSION;
        let mut flags = 0;
        if self.track_id.is_some() {
            flags |= FLAG_TRACK;
        }
        if self.predicted {
            flags |= FLAG_PREDICTED;
        }
        out[1] = flags;
        out[2..4].copy_from_slice(&self.class_id.to_be_bytes());
        out[4..8].copy_from_slice(&self.confidence.clamp(0.0, 1.0).to_be_bytes());
        for (i, v) in self.bbox.iter().enumerate() {
            let at = 8 + 4 * i;
            out[at..at + 4].copy_from_slice(&v.clamp(0.0, 1.0).to_be_bytes());
        }
        out[24..32].copy_from_slice(&self.frame.to_be_bytes());
        out[32..40].copy_from_slice(&self.track_id.unwrap_or(0).to_be_bytes());
        Ok(out)
    }

    /// Decodes a stored (key, value) pair. Checks every length, the version, the flags and the
    /// numbers; corrupt bytes give an error, never a panic.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<(VideoId, u32, Self), EntryError> {
        let (id, pts_ms, seq) = parse_key(key)?;
        let v: &[u8; VALUE_LEN] = value.try_into().map_err(|_| EntryError::ValueLength(value.len()))?;
        if v[0] != VERSION {
            return Err(EntryError::Version(v[0]));
        }
        let flags = v[1];
        if flags & !(FLAG_TRACK | FLAG_PREDICTED) != 0 {
            return Err(EntryError::Flags(flags));
        }
        let u16_at = |at: usize| u16::from_be_bytes([v[at], v[at + 1]]);
        let f32_at = |at: usize| f32::from_be_bytes([v[at], v[at + 1], v[at + 2], v[at + 3]]);
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&v[at..at + 8]);
            u64::from_be_bytes(b)
        };
        let confidence = f32_at(4);
        let bbox = [f32_at(8), f32_at(12), f32_at(16), f32_at(20)];
        if !valid_unit(confidence) || !bbox.iter().all(|x| valid_unit(*x)) {
            return Err(EntryError::BadNumber);
        }
        let raw_track = u64_at(32);
        let track_id = if flags & FLAG_TRACK != 0 {
            Some(raw_track)
        } else if raw_track != 0 {
            return Err(EntryError::StrayTrackId);
        } else {
            None
        };
        let detection = Self {
            frame: u64_at(24),
            pts_ms,
            class_id: u16_at(2),
            confidence,
            bbox,
            track_id,
            predicted: flags & FLAG_PREDICTED != 0,
        };
        Ok((id, seq, detection))
    }
}

/// Streams one video's detections in time order straight from sled, without loading them all.
/// Yields an error (and keeps going) for an entry that can't be decoded.
pub struct DetectionIter {
    /// `Err` once: the store was closed (being reopened) when the iteration began.
    inner: Result<sled::Iter, Option<StoreError>>,
}

impl Iterator for DetectionIter {
    type Item = Result<StoredDetection, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = match &mut self.inner {
            Ok(iter) => iter.next()?,
            Err(e) => return e.take().map(Err),
        };
        Some(
            entry
                .map_err(StoreError::from)
                .and_then(|(key, value)| decode_entry(&key, &value)),
        )
    }
}

pub(crate) fn decode_entry(key: &[u8], value: &[u8]) -> Result<StoredDetection, StoreError> {
    StoredDetection::decode(key, value)
        .map(|(_, _, d)| d)
        .map_err(|e| StoreError::Corrupt {
            what: "detection",
            key: hex_key(key),
            reason: e.to_string(),
        })
}

fn hex_key(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Stores detections for `id` as one atomic sled batch and returns how many were written.
    ///
    /// Contract: a call carries *whole frames*. Each detection's key is (id, pts_ms, index among
    /// this call's detections with the same pts_ms), and whatever was stored before at a pts this
    /// call mentions is replaced, so re-sending a frame (a re-dispatch, a resumed job) overwrites
    /// instead of duplicating, even when it now has fewer detections. Refused for an unknown video
    /// (so a job racing a delete can't leave orphans behind) and for NaN/infinite numbers.
    pub fn insert_detections(&self, id: VideoId, detections: &[StoredDetection]) -> Result<usize, StoreError> {
        if detections.is_empty() {
            return Ok(0);
        }
        if !self.video_exists(id)? {
            return Err(StoreError::NotFound(id));
        }
        let mut batch = sled::Batch::default();
        let mut per_pts: HashMap<u64, u32> = HashMap::new();
        for d in detections {
            let value = d.encode_value()?;
            let seq = per_pts.entry(d.pts_ms).or_insert(0);
            batch.insert(&detection_key(id, d.pts_ms, *seq)[..], &value[..]);
            *seq = seq
                .checked_add(1)
                .ok_or_else(|| StoreError::InvalidDetection("too many in one frame".into()))?;
        }
        // Drop what a previous, larger version of these frames left beyond the new count.
        for (pts, count) in &per_pts {
            for key in self.trees()?.detections.scan_prefix(frame_prefix(id, *pts)).keys() {
                let key = key?;
                match parse_key(&key) {
                    Ok((_, _, seq)) if seq < *count => {}
                    _ => batch.remove(key),
                }
            }
        }
        self.trees()?.detections.apply_batch(batch)?;
        Ok(detections.len())
    }

    /// All of a video's detections in time order, streamed (for CSV/JSONL export, re-renders).
    pub fn detections_iter(&self, id: VideoId) -> DetectionIter {
        DetectionIter {
            inner: self
                .trees()
                .map(|t| t.detections.scan_prefix(id.to_be_bytes()))
                .map_err(Some),
        }
    }

    /// Counts a video's detections by walking its keys: O(n), meant for checks and recovery.
    /// The `detections` field of the record is the cheap running figure.
    pub fn count_detections(&self, id: VideoId) -> Result<u64, StoreError> {
        let mut n = 0u64;
        for key in self.trees()?.detections.scan_prefix(id.to_be_bytes()).keys() {
            key?;
            n += 1;
        }
        Ok(n)
    }

    /// Removes up to `max` of video `id`'s detections from before `before_ms`, oldest first, in
    /// one batch (a live source's retention: bounded work per pass). Returns how many.
    pub fn remove_detections_before(&self, id: VideoId, before_ms: u64, max: usize) -> Result<usize, StoreError> {
        let tree = &self.trees()?.detections;
        let mut batch = sled::Batch::default();
        let mut n = 0;
        let range = detection_key(id, 0, 0).to_vec()..detection_key(id, before_ms, 0).to_vec();
        for key in tree.range(range).keys().take(max) {
            batch.remove(key?);
            n += 1;
        }
        tree.apply_batch(batch)?;
        Ok(n)
    }

    /// Removes every detection of `id` in bounded batches (so a long video doesn't build one
    /// huge batch in memory). Returns how many were removed.
    pub(crate) fn remove_detections(&self, id: VideoId) -> Result<u64, StoreError> {
        const CHUNK: usize = 10_000;
        let mut removed = 0u64;
        // Each round resumes after the last key removed: rescanning from the prefix would walk
        // the emptied leaves again and again (quadratic in a long video).
        let mut from = Bound::Included(detection_key(id, 0, 0).to_vec());
        let prefix = id.to_be_bytes();
        loop {
            let mut batch = sled::Batch::default();
            let mut last = None;
            let mut n = 0usize;
            for key in self.trees()?.detections.range((from.clone(), Bound::Unbounded)).keys() {
                let key = key?;
                if !key.starts_with(&prefix) || n == CHUNK {
                    break;
                }
                batch.remove(key.clone());
                last = Some(key);
                n += 1;
            }
            let Some(last) = last else {
                return Ok(removed);
            };
            self.trees()?.detections.apply_batch(batch)?;
            removed += n as u64;
            from = Bound::Excluded(last.to_vec());
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::tests::{temp_store, temp_store_with_video};

    pub(crate) fn det(pts_ms: u64, class_id: u16, confidence: f32) -> StoredDetection {
        StoredDetection {
            frame: pts_ms / 40,
            pts_ms,
            class_id,
            confidence,
            bbox: [0.1, 0.2, 0.3, 0.4],
            track_id: None,
            predicted: false,
        }
    }

    #[test]
    fn value_round_trip() {
        let id = VideoId::from_u64(7);
        for d in [
            det(0, 0, 0.5),
            StoredDetection {
                frame: u64::MAX,
                pts_ms: u64::MAX,
                class_id: u16::MAX,
                confidence: 1.0,
                bbox: [0.0, 0.0, 1.0, 1.0],
                track_id: Some(u64::MAX),
                predicted: true,
            },
            StoredDetection {
                track_id: Some(0),
                ..det(123_456, 79, 0.25)
            },
        ] {
            let key = detection_key(id, d.pts_ms, 3);
            let value = d.encode_value().unwrap();
            assert_eq!(value.len(), VALUE_LEN);
            assert_eq!(StoredDetection::decode(&key, &value), Ok((id, 3, d)));
        }
    }

    #[test]
    fn key_sorts_by_video_then_time_then_seq() {
        let a = detection_key(VideoId::from_u64(1), 999, 7);
        let b = detection_key(VideoId::from_u64(1), 1000, 0);
        let c = detection_key(VideoId::from_u64(1), 1000, 1);
        let d = detection_key(VideoId::from_u64(2), 0, 0);
        assert!(a < b && b < c && c < d);
        assert_eq!(parse_key(&c), Ok((VideoId::from_u64(1), 1000, 1)));
    }

    #[test]
    fn encode_clamps_and_refuses_nan() {
        let d = StoredDetection {
            bbox: [-0.01, 0.5, 1.02, 0.9],
            confidence: 1.5,
            ..det(0, 0, 0.0)
        };
        let (_, _, back) =
            StoredDetection::decode(&detection_key(VideoId::from_u64(1), 0, 0), &d.encode_value().unwrap()).unwrap();
        assert_eq!(back.bbox, [0.0, 0.5, 1.0, 0.9]);
        assert_eq!(back.confidence, 1.0);
        assert!(StoredDetection {
            confidence: f32::NAN,
            ..d
        }
        .encode_value()
        .is_err());
        assert!(StoredDetection {
            bbox: [0.0, f32::INFINITY, 0.0, 0.0],
            ..d
        }
        .encode_value()
        .is_err());
    }

    #[test]
    fn corrupt_bytes_are_errors_not_panics() {
        let key = detection_key(VideoId::from_u64(1), 40, 0);
        let good = StoredDetection {
            track_id: Some(9),
            ..det(40, 2, 0.9)
        }
        .encode_value()
        .unwrap();
        assert_eq!(
            StoredDetection::decode(&key, &good[..39]),
            Err(EntryError::ValueLength(39))
        );
        assert_eq!(StoredDetection::decode(&key, &[]), Err(EntryError::ValueLength(0)));
        assert_eq!(
            StoredDetection::decode(&key[..19], &good),
            Err(EntryError::KeyLength(19))
        );
        let mut longer = good.to_vec();
        longer.push(0);
        assert_eq!(StoredDetection::decode(&key, &longer), Err(EntryError::ValueLength(41)));
        let mut bad = good;
        bad[0] = 2;
        assert_eq!(StoredDetection::decode(&key, &bad), Err(EntryError::Version(2)));
        let mut bad = good;
        bad[1] = 0x80;
        assert_eq!(StoredDetection::decode(&key, &bad), Err(EntryError::Flags(0x80)));
        let mut bad = good;
        bad[1] = 0;
        assert_eq!(StoredDetection::decode(&key, &bad), Err(EntryError::StrayTrackId));
        let mut bad = good;
        bad[4..8].copy_from_slice(&f32::NAN.to_be_bytes());
        assert_eq!(StoredDetection::decode(&key, &bad), Err(EntryError::BadNumber));
        let mut bad = good;
        bad[12..16].copy_from_slice(&7.0f32.to_be_bytes());
        assert_eq!(StoredDetection::decode(&key, &bad), Err(EntryError::BadNumber));

        // Every single-byte flip and every truncation: Ok or Err, never a panic.
        for i in 0..VALUE_LEN {
            for bit in 0..8 {
                let mut v = good;
                v[i] ^= 1 << bit;
                let _ = StoredDetection::decode(&key, &v);
            }
            let _ = StoredDetection::decode(&key, &good[..i]);
        }
    }

    #[test]
    fn corrupt_entry_in_the_tree_surfaces_as_an_error() {
        let (_dir, store, id) = temp_store_with_video();
        store.insert_detections(id, &[det(0, 0, 0.5), det(40, 0, 0.5)]).unwrap();
        store
            .trees()
            .expect("open")
            .detections
            .insert(detection_key(id, 20, 0), &[1u8, 2, 3][..])
            .unwrap();
        let items: Vec<_> = store.detections_iter(id).collect();
        assert_eq!(items.len(), 3);
        assert!(items[0].is_ok());
        assert!(matches!(items[1], Err(StoreError::Corrupt { .. })));
        assert!(items[2].is_ok());
    }

    #[test]
    fn insert_iter_count() {
        let (_dir, store, id) = temp_store_with_video();
        let dets = vec![det(80, 1, 0.5), det(0, 0, 0.9), det(0, 2, 0.8), det(40, 0, 0.7)];
        assert_eq!(store.insert_detections(id, &dets).unwrap(), 4);
        let back: Vec<_> = store.detections_iter(id).map(Result::unwrap).collect();
        // Time order; within a frame, the order they were given in.
        assert_eq!(back, vec![dets[1], dets[2], dets[3], dets[0]]);
        assert_eq!(store.count_detections(id).unwrap(), 4);
    }

    #[test]
    fn reinserting_a_frame_overwrites() {
        let (_dir, store, id) = temp_store_with_video();
        let frame = [det(40, 0, 0.9), det(40, 1, 0.8), det(40, 2, 0.7)];
        store.insert_detections(id, &frame).unwrap();
        store.insert_detections(id, &frame).unwrap();
        assert_eq!(store.count_detections(id).unwrap(), 3);
        // The frame again, now with fewer detections: the extra one must go.
        let fewer = [det(40, 5, 0.6), det(40, 6, 0.5)];
        store.insert_detections(id, &[det(0, 0, 0.1)]).unwrap();
        store.insert_detections(id, &fewer).unwrap();
        let back: Vec<_> = store.detections_iter(id).map(Result::unwrap).collect();
        assert_eq!(back, vec![det(0, 0, 0.1), fewer[0], fewer[1]]);
    }

    #[test]
    fn insert_for_unknown_video_is_refused() {
        let (_dir, store) = temp_store();
        let err = store
            .insert_detections(VideoId::from_u64(77), &[det(0, 0, 0.5)])
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)));
        assert_eq!(store.count_detections(VideoId::from_u64(77)).unwrap(), 0);
    }

    #[test]
    fn a_bad_detection_fails_the_whole_batch() {
        let (_dir, store, id) = temp_store_with_video();
        let err = store
            .insert_detections(id, &[det(0, 0, 0.5), det(40, 0, f32::NAN)])
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidDetection(_)));
        assert_eq!(store.count_detections(id).unwrap(), 0);
    }
}
