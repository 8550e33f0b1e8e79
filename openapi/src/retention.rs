//! Retention of live sources: their detections and events older than `retention_days` are deleted
//! in the background, at most `PER_PASS` of each per source and pass, so the store stays bounded
//! over a long run and no pass holds the store for long. (Their HLS beyond the DVR window is
//! deleted by the encoder as segments leave it.)

use std::time::Duration;

use sightline_actors::store::{now_ms, Store, StoreError};

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
            removed += store.remove_detections_before(video.id, cutoff, PER_PASS)?;
            removed += store.remove_events_before(video.id, cutoff, PER_PASS)?;
        }
        match page.next_after {
            Some(a) => after = Some(a),
            None => return Ok(removed),
        }
    }
}
