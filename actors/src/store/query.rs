//! Time-window queries over the `detections` tree, with filters and cursor paging.

use std::fmt;
use std::ops::Bound;
use std::str::FromStr;

use super::detection::{decode_entry, detection_key, StoredDetection, KEY_LEN};
use super::{Store, StoreError, VideoId};

/// Hard cap on `limit`, whatever the caller asks (the API's own cap is the same).
pub const MAX_PAGE_LIMIT: usize = 5000;
/// Page size when the caller doesn't say.
pub const DEFAULT_PAGE_LIMIT: usize = 1000;
/// Entries one page may walk past. A selective filter over a long window could otherwise make
/// one request scan the whole video; instead the page ends early (possibly short, even empty)
/// with a `next_cursor` to go on from.
pub const MAX_SCAN_PER_PAGE: usize = 200_000;

/// What to fetch. The window is half-open: `start_ms <= pts_ms < end_ms`, so adjacent windows
/// never share a detection.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectionQuery {
    pub start_ms: u64,
    /// Exclusive; `None` = to the end of the video.
    pub end_ms: Option<u64>,
    /// Empty = every class.
    pub class_ids: Vec<u16>,
    /// Inclusive lower bound.
    pub min_confidence: f32,
    /// Clamped to 1..=[`MAX_PAGE_LIMIT`].
    pub limit: usize,
    /// The previous page's `next_cursor`.
    pub cursor: Option<Cursor>,
}

impl Default for DetectionQuery {
    fn default() -> Self {
        Self {
            start_ms: 0,
            end_ms: None,
            class_ids: Vec::new(),
            min_confidence: 0.0,
            limit: DEFAULT_PAGE_LIMIT,
            cursor: None,
        }
    }
}

/// One page of results, in time order (then in-frame order).
#[derive(Clone, Debug, PartialEq)]
pub struct DetectionPage {
    pub items: Vec<StoredDetection>,
    /// `Some` while there may be more; keep asking with it until it is `None`. A page can be
    /// shorter than `limit` (even empty) and still have a cursor when the scan budget ran out.
    pub next_cursor: Option<Cursor>,
}

/// Where a page ended: the full 20-byte key of the last entry looked at. Opaque to clients, who
/// see 40 lowercase hex characters. It names its video, so it can't be replayed on another one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cursor([u8; KEY_LEN]);

/// Why a cursor is refused. The API answers these with 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("a cursor has exactly {expected} characters, got {0}", expected = KEY_LEN * 2)]
    Length(usize),
    #[error("a cursor is made of lowercase hex digits only")]
    NotHex,
    #[error("this cursor belongs to another video")]
    OtherVideo,
}

impl Cursor {
    pub fn video_id(&self) -> VideoId {
        let mut id = [0u8; 8];
        id.copy_from_slice(&self.0[..8]);
        VideoId::from_u64(u64::from_be_bytes(id))
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl FromStr for Cursor {
    type Err = CursorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != KEY_LEN * 2 {
            return Err(CursorError::Length(s.len()));
        }
        let digit = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(CursorError::NotHex),
        };
        let mut key = [0u8; KEY_LEN];
        for (out, pair) in key.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
            *out = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Ok(Self(key))
    }
}

impl Store {
    /// One page of `id`'s detections matching `query`. Walks the key range of the window once,
    /// filtering by class and confidence as it goes. Paging with `next_cursor` yields every match
    /// exactly once, in order, even while detections are being appended after the window.
    ///
    /// Errors: `InvalidQuery` for `start_ms > end_ms` or a NaN confidence, `Cursor(OtherVideo)`
    /// for a cursor from another video. An undecodable entry is logged and skipped.
    pub fn query_detections(&self, id: VideoId, query: &DetectionQuery) -> Result<DetectionPage, StoreError> {
        if query.min_confidence.is_nan() {
            return Err(StoreError::InvalidQuery("min_confidence is not a number".into()));
        }
        if let Some(end) = query.end_ms {
            if query.start_ms > end {
                return Err(StoreError::InvalidQuery(format!(
                    "start {} ms is after end {end} ms",
                    query.start_ms
                )));
            }
        }
        let limit = query.limit.clamp(1, MAX_PAGE_LIMIT);

        let window_start = detection_key(id, query.start_ms, 0);
        let lower = match query.cursor {
            Some(cursor) if cursor.video_id() != id => return Err(CursorError::OtherVideo.into()),
            // Resume just after the cursor, unless the window starts later than that anyway.
            Some(cursor) if cursor.0 >= window_start => Bound::Excluded(cursor.0),
            _ => Bound::Included(window_start),
        };
        let upper = match (query.end_ms, id.as_u64().checked_add(1)) {
            (Some(end), _) => Bound::Excluded(detection_key(id, end, 0)),
            // Up to the next video's first key, or to the end of the tree for the largest id.
            (None, Some(next)) => Bound::Excluded(detection_key(VideoId::from_u64(next), 0, 0)),
            (None, None) => Bound::Unbounded,
        };
        if let (Bound::Included(lo) | Bound::Excluded(lo), Bound::Excluded(hi)) = (&lower, &upper) {
            if lo >= hi {
                return Ok(DetectionPage {
                    items: Vec::new(),
                    next_cursor: None,
                });
            }
        }
        let iter = self.trees()?.detections.range((lower, upper));

        let mut items = Vec::with_capacity(limit.min(1024));
        let mut last_key = None;
        for (scanned, entry) in iter.enumerate() {
            let (key, value) = entry?;
            // Stopping here means one more entry exists in the window, so only now is a cursor
            // worth handing out (a page that ends exactly at the window's end gets none). Whether
            // that entry *matches* is left to the next page: a full page never scans further.
            if items.len() == limit || scanned == MAX_SCAN_PER_PAGE {
                return Ok(DetectionPage {
                    items,
                    next_cursor: last_key.map(Cursor),
                });
            }
            let Ok(key_array) = <[u8; KEY_LEN]>::try_from(key.as_ref()) else {
                tracing::warn!(%id, key = ?key, "skipping a detection with a malformed key");
                continue;
            };
            last_key = Some(key_array);
            let detection = match decode_entry(&key, &value) {
                Ok(detection) => detection,
                // One damaged entry must not make the rest of the video unqueryable.
                Err(e) => {
                    tracing::warn!(%id, error = %e, "skipping an unreadable detection");
                    continue;
                }
            };
            if detection.confidence >= query.min_confidence
                && (query.class_ids.is_empty() || query.class_ids.contains(&detection.class_id))
            {
                items.push(detection);
            }
        }
        Ok(DetectionPage {
            items,
            next_cursor: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::detection::tests::det;
    use crate::store::tests::temp_store_with_video;
    use crate::store::video::tests::sample_record;

    fn all_pages(store: &Store, id: VideoId, mut query: DetectionQuery) -> (Vec<StoredDetection>, usize) {
        let mut out = Vec::new();
        let mut pages = 0;
        loop {
            let page = store.query_detections(id, &query).unwrap();
            pages += 1;
            assert!(page.items.len() <= query.limit.clamp(1, MAX_PAGE_LIMIT));
            out.extend(page.items);
            match page.next_cursor {
                // Through the string form, as the API does.
                Some(c) => query.cursor = Some(c.to_string().parse().unwrap()),
                None => return (out, pages),
            }
        }
    }

    #[test]
    fn window_is_half_open() {
        let (_dir, store, id) = temp_store_with_video();
        let dets: Vec<_> = [0, 999, 1000, 1000, 1999, 2000, 2001]
            .iter()
            .map(|&t| det(t, 0, 0.5))
            .collect();
        store.insert_detections(id, &dets).unwrap();
        let pts = |q: DetectionQuery| -> Vec<u64> {
            store
                .query_detections(id, &q)
                .unwrap()
                .items
                .iter()
                .map(|d| d.pts_ms)
                .collect()
        };
        assert_eq!(
            pts(DetectionQuery {
                start_ms: 1000,
                end_ms: Some(2000),
                ..Default::default()
            }),
            [1000, 1000, 1999]
        );
        assert_eq!(
            pts(DetectionQuery {
                start_ms: 1001,
                end_ms: Some(2001),
                ..Default::default()
            }),
            [1999, 2000]
        );
        assert_eq!(
            pts(DetectionQuery {
                start_ms: 2000,
                ..Default::default()
            }),
            [2000, 2001]
        );
        assert_eq!(
            pts(DetectionQuery {
                end_ms: Some(1),
                ..Default::default()
            }),
            [0]
        );
        assert!(pts(DetectionQuery {
            start_ms: 1000,
            end_ms: Some(1000),
            ..Default::default()
        })
        .is_empty());
        assert!(pts(DetectionQuery {
            start_ms: 5000,
            ..Default::default()
        })
        .is_empty());
        assert!(matches!(
            store.query_detections(
                id,
                &DetectionQuery {
                    start_ms: 10,
                    end_ms: Some(5),
                    ..Default::default()
                }
            ),
            Err(StoreError::InvalidQuery(_))
        ));
    }

    #[test]
    fn class_and_confidence_filters() {
        let (_dir, store, id) = temp_store_with_video();
        let dets = [
            det(0, 0, 0.9),
            det(0, 1, 0.4),
            det(40, 2, 0.6),
            det(80, 0, 0.3),
            det(80, 2, 0.5),
        ];
        store.insert_detections(id, &dets).unwrap();
        let q = |class_ids: Vec<u16>, min_confidence: f32| {
            store
                .query_detections(
                    id,
                    &DetectionQuery {
                        class_ids,
                        min_confidence,
                        ..Default::default()
                    },
                )
                .unwrap()
                .items
        };
        assert_eq!(q(vec![], 0.0), dets);
        assert_eq!(q(vec![0], 0.0), [dets[0], dets[3]]);
        assert_eq!(q(vec![2, 1], 0.0), [dets[1], dets[2], dets[4]]);
        assert_eq!(q(vec![], 0.5), [dets[0], dets[2], dets[4]]);
        assert_eq!(q(vec![2], 0.55), [dets[2]]);
        assert!(q(vec![7], 0.0).is_empty());
        assert!(matches!(
            store.query_detections(
                id,
                &DetectionQuery {
                    min_confidence: f32::NAN,
                    ..Default::default()
                }
            ),
            Err(StoreError::InvalidQuery(_))
        ));
    }

    fn thousand(store: &Store, id: VideoId) -> Vec<StoredDetection> {
        // 250 frames at 25 fps, 4 detections each: classes 0..4, confidences varying.
        let mut all = Vec::new();
        for f in 0..250u64 {
            let frame: Vec<_> = (0..4u16)
                .map(|c| det(f * 40, c, ((f as usize * 7 + c as usize) % 10) as f32 / 10.0))
                .collect();
            store.insert_detections(id, &frame).unwrap();
            all.extend(frame);
        }
        all
    }

    #[test]
    fn paging_returns_everything_once_in_order() {
        let (_dir, store, id) = temp_store_with_video();
        let all = thousand(&store, id);
        assert_eq!(all.len(), 1000);

        let (got, pages) = all_pages(
            &store,
            id,
            DetectionQuery {
                limit: 7,
                ..Default::default()
            },
        );
        assert_eq!(got, all);
        assert_eq!(pages, 1000usize.div_ceil(7));

        // A limit that divides evenly: the last full page carries no cursor to an empty page.
        let (got, pages) = all_pages(
            &store,
            id,
            DetectionQuery {
                limit: 100,
                ..Default::default()
            },
        );
        assert_eq!(got, all);
        assert_eq!(pages, 10);

        // With a window and filters, pages of 3 equal the unpaged answer.
        let filtered = DetectionQuery {
            start_ms: 1000,
            end_ms: Some(7000),
            class_ids: vec![1, 3],
            min_confidence: 0.5,
            ..Default::default()
        };
        let expected: Vec<_> = all
            .iter()
            .filter(|d| (1000..7000).contains(&d.pts_ms) && [1, 3].contains(&d.class_id) && d.confidence >= 0.5)
            .copied()
            .collect();
        assert!(expected.len() > 20);
        let (got, _) = all_pages(
            &store,
            id,
            DetectionQuery {
                limit: 3,
                ..filtered.clone()
            },
        );
        assert_eq!(got, expected);
        let (got, pages) = all_pages(
            &store,
            id,
            DetectionQuery {
                limit: MAX_PAGE_LIMIT,
                ..filtered
            },
        );
        assert_eq!((got, pages), (expected, 1));
    }

    #[test]
    fn limit_is_clamped() {
        let (_dir, store, id) = temp_store_with_video();
        thousand(&store, id);
        let page = store
            .query_detections(
                id,
                &DetectionQuery {
                    limit: 0,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(page.items.len(), 1);
        let page = store
            .query_detections(
                id,
                &DetectionQuery {
                    limit: usize::MAX,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(page.items.len(), 1000);
        assert!(page.next_cursor.is_none());
    }

    #[test]
    fn cursor_before_the_window_starts_at_the_window() {
        let (_dir, store, id) = temp_store_with_video();
        let all = thousand(&store, id);
        let first = store
            .query_detections(
                id,
                &DetectionQuery {
                    limit: 1,
                    ..Default::default()
                },
            )
            .unwrap();
        let later = DetectionQuery {
            start_ms: 2000,
            end_ms: Some(2080),
            cursor: first.next_cursor,
            ..Default::default()
        };
        let page = store.query_detections(id, &later).unwrap();
        let expected: Vec<_> = all
            .iter()
            .filter(|d| (2000..2080).contains(&d.pts_ms))
            .copied()
            .collect();
        assert_eq!(page.items, expected);
    }

    #[test]
    fn cursor_from_another_video_is_rejected() {
        let (_dir, store, a) = temp_store_with_video();
        let b = store.create_video(sample_record()).unwrap().id;
        thousand(&store, a);
        thousand(&store, b);
        let page = store
            .query_detections(
                a,
                &DetectionQuery {
                    limit: 10,
                    ..Default::default()
                },
            )
            .unwrap();
        let cursor = page.next_cursor.unwrap();
        assert_eq!(cursor.video_id(), a);
        let err = store
            .query_detections(
                b,
                &DetectionQuery {
                    cursor: Some(cursor),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert!(matches!(err, StoreError::Cursor(CursorError::OtherVideo)));
    }

    #[test]
    fn garbage_cursors_are_rejected() {
        assert_eq!("".parse::<Cursor>(), Err(CursorError::Length(0)));
        assert_eq!("abcd".parse::<Cursor>(), Err(CursorError::Length(4)));
        assert_eq!("0".repeat(41).parse::<Cursor>(), Err(CursorError::Length(41)));
        assert_eq!("g".repeat(40).parse::<Cursor>(), Err(CursorError::NotHex));
        assert_eq!("A".repeat(40).parse::<Cursor>(), Err(CursorError::NotHex));
        assert_eq!(
            format!("{}é", "0".repeat(38)).parse::<Cursor>(),
            Err(CursorError::NotHex)
        );
        let ok = "0000000000000001000000000000002a00000003".parse::<Cursor>().unwrap();
        assert_eq!(ok.to_string(), "0000000000000001000000000000002a00000003");
        assert_eq!(ok.video_id(), VideoId::from_u64(1));
    }

    #[test]
    fn videos_do_not_bleed_into_each_other() {
        let (_dir, store, a) = temp_store_with_video();
        let b = store.create_video(sample_record()).unwrap().id;
        store
            .insert_detections(a, &[det(0, 0, 0.5), det(u64::MAX, 0, 0.5)])
            .unwrap();
        store.insert_detections(b, &[det(0, 1, 0.5)]).unwrap();
        let page = store.query_detections(a, &DetectionQuery::default()).unwrap();
        assert_eq!(page.items, [det(0, 0, 0.5), det(u64::MAX, 0, 0.5)]);
        let page = store.query_detections(b, &DetectionQuery::default()).unwrap();
        assert_eq!(page.items, [det(0, 1, 0.5)]);
    }

    #[test]
    fn a_corrupt_entry_is_skipped() {
        let (_dir, store, id) = temp_store_with_video();
        store.insert_detections(id, &[det(0, 0, 0.5), det(80, 0, 0.5)]).unwrap();
        store
            .trees()
            .expect("open")
            .detections
            .insert(detection_key(id, 40, 0), &[9u8; 40][..])
            .unwrap();
        let (got, _) = all_pages(
            &store,
            id,
            DetectionQuery {
                limit: 1,
                ..Default::default()
            },
        );
        assert_eq!(got, [det(0, 0, 0.5), det(80, 0, 0.5)]);
    }

    #[test]
    fn the_largest_video_id_is_queryable() {
        let (_dir, store, _) = temp_store_with_video();
        let id = VideoId::from_u64(u64::MAX);
        // Written directly: ids come from generate_id, which won't reach u64::MAX.
        let d = det(5, 0, 0.5);
        store
            .trees()
            .expect("open")
            .detections
            .insert(detection_key(id, 5, 0), &d.encode_value().unwrap()[..])
            .unwrap();
        let page = store.query_detections(id, &DetectionQuery::default()).unwrap();
        assert_eq!(page.items, [d]);
    }
}
