//! Retention of live sources: their detections and events older than `retention_days` are deleted
//! in the background, at most `PER_PASS` of each per source and pass, so the store stays bounded
//! over a long run and no pass holds the store for long. A running source's stats forget as it
//! goes; those of a source that is not running (stopped, failed) are made to forget here. (Their
//! HLS beyond the DVR window is deleted by the encoder as segments leave it.)

use std::time::Duration;

use sightline_actors::store::{now_ms, Store, StoreError, VideoStatus};

/// Detections (and, apart, events) one source may lose in one pass.
const PER_PASS: usize = 20_000;

/// Sweeps every tenth of the retention period, at least every minute and at most every second.
pub fn spawn(store: Store, keep: Duration) {
    let every = (keep / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let store = store.clone();
            match tokio::task::spawn_blocking(move || sweep(&store, keep)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::debug!(removed = n, "retention: removed old live detections and events"),
                Ok(Err(e)) => tracing::warn!("retention pass failed: {e}"),
                Err(e) => tracing::warn!("retention pass failed: {e}"),
            }
        }
    });
}

/// One pass over every live source; returns how many detections and events went.
pub fn sweep(store: &Store, keep: Duration) -> Result<usize, StoreError> {
    let now = now_ms();
    let keep_ms = keep.as_millis() as u64;
    let mut removed = 0;
    let mut after = None;
    loop {
        let page = store.list_videos(after, 1000)?;
        for video in &page.items {
            let Some(live) = &video.live else { continue };
            // Detection times count from the source's epoch.
            let cutoff = now.saturating_sub(live.epoch_ms).saturating_sub(keep_ms);
            if cutoff == 0 {
                continue;
            }
            let detections = store.remove_detections_before(video.id, cutoff, PER_PASS)?;
            removed += detections + store.remove_events_before(video.id, cutoff, PER_PASS)?;
            let running = !live.stopped && video.status != VideoStatus::Failed;
            if detections > 0 && !running {
                store.forget_stats_before(video.id, cutoff)?;
            }
        }
        match page.next_after {
            Some(a) => after = Some(a),
            None => return Ok(removed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_actors::job::JobOptions;
    use sightline_actors::store::{LiveSettings, StatsAccumulator, StoredDetection, VideoRecord};

    #[test]
    fn a_stopped_sources_old_detections_go_and_its_stats_forget_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("store");
        let hour_ms = 3_600_000;
        let settings = LiveSettings {
            url: "rtsp://camera/stream".into(),
            username: None,
            password: None,
            epoch_ms: now_ms() - 2 * hour_ms,
            stopped: true,
            track_ids_reserved: 0,
        };
        let names = vec!["person".to_string()];
        let record = VideoRecord::live("cam".into(), settings, "m".into(), names, JobOptions::default());
        let id = store.create_video(record).expect("created").id;
        // One sighting 2 h ago and one 30 min ago (stream times: since the epoch).
        let seen = |pts_ms: u64, track: u64| StoredDetection {
            frame: pts_ms / 100,
            pts_ms,
            class_id: 0,
            confidence: 0.9,
            bbox: [0.1, 0.1, 0.2, 0.3],
            track_id: Some(track),
            predicted: false,
        };
        let (old, new) = (seen(0, 1), seen(90 * 60_000, 2));
        let mut acc = StatsAccumulator::new();
        for d in [old, new] {
            store.insert_detections(id, &[d]).expect("stored");
            acc.ingest(d.pts_ms, &[d]);
        }
        store.put_stats(id, acc.stats()).expect("stats");

        assert_eq!(sweep(&store, Duration::from_secs(3600)).expect("swept"), 1);
        assert_eq!(store.count_detections(id).expect("count"), 1);
        let stats = store.get_stats(id).expect("read").expect("stats");
        assert_eq!(stats.total_detections, 1);
        assert_eq!(stats.tracks.keys().copied().collect::<Vec<_>>(), [2]);
    }
}
