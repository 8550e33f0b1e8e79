//! A video's rules evaluated over its stored tracked boxes: no decoding, no detector. Used when
//! rules are set on a processed video, and when the job of a video that has rules ends.

use std::sync::Mutex;
use std::time::Instant;

use crate::analytics::{Analyzer, Event, Rules, Sighting};
use crate::store::{RulesRecord, Store, StoreError, VideoId, VideoStatus};
use crate::telemetry;

/// One writer of rules at a time: a job's end and a user's new rules must not interleave, or
/// the older rules' events could land last.
static WRITER: Mutex<()> = Mutex::new(());

/// Sets a video's rules (validated against its class names): evaluated at once over its stored
/// tracked boxes when it is ready; otherwise kept, and evaluated when its job ends ready.
pub fn set_rules(store: &Store, id: VideoId, rules: Rules) -> Result<RulesRecord, StoreError> {
    let _writer = WRITER.lock().unwrap_or_else(|p| p.into_inner());
    let video = store.get_video(id)?.ok_or(StoreError::NotFound(id))?;
    if video.status != VideoStatus::Ready {
        return store.replace_analytics(id, rules, None, 0);
    }
    evaluate_stored(store, id, rules, &video.class_names)
}

/// Evaluates the video's rules again, if it has any (its job has just ended ready).
pub fn analyse_again(store: &Store, id: VideoId) -> Result<Option<RulesRecord>, StoreError> {
    let _writer = WRITER.lock().unwrap_or_else(|p| p.into_inner());
    let (Some(record), Some(video)) = (store.get_rules(id)?, store.get_video(id)?) else {
        return Ok(None);
    };
    evaluate_stored(store, id, record.rules, &video.class_names).map(Some)
}

fn evaluate_stored(store: &Store, id: VideoId, rules: Rules, names: &[String]) -> Result<RulesRecord, StoreError> {
    let started = Instant::now();
    let mut analyzer = Analyzer::new(&rules, names);
    let mut events: Vec<Event> = Vec::new();
    let mut boxes = 0u64;
    // Stored in time order, which is frame order: what the analyzer needs.
    for d in store.detections_iter(id) {
        let d = d?;
        let Some(track_id) = d.track_id else {
            continue;
        };
        boxes += 1;
        let sighting = Sighting {
            frame: d.frame,
            time_ms: d.pts_ms,
            track_id,
            class_id: d.class_id,
            bbox: d.bbox,
            predicted: d.predicted,
        };
        analyzer.observe(&sighting, &mut events);
    }
    events.sort_by_key(|e| (e.time_ms, e.frame));
    for e in &events {
        metrics::counter!(telemetry::ANALYTICS_EVENTS_TOTAL, "kind" => e.kind.as_str()).increment(1);
    }
    let took_ms = started.elapsed().as_millis() as u64;
    let record = store.replace_analytics(id, rules, Some(&events), took_ms)?;
    tracing::info!(
        video = %id,
        boxes,
        tracks = analyzer.tracks(),
        events = events.len(),
        took_ms,
        "rules evaluated over stored tracks"
    );
    Ok(record)
}
