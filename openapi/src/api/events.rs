//! The event stream of one video: progress while its job runs, its status when that changes.

use std::time::Duration;

use futures_util::stream::{self, Stream};
use sightline_actors::store::{VideoId, VideoStatus};

use super::models::{Event, Status};
use crate::state::SharedState;

/// How often to look again when no job is running yet (queued) or progress is quiet.
const POLL: Duration = Duration::from_millis(500);

struct Follow {
    state: SharedState,
    id: VideoId,
    last: Option<(VideoStatus, u64, u64)>,
    done: bool,
}

/// Events until the video's job has ended (or the video is deleted).
pub fn follow(state: SharedState, id: VideoId) -> impl Stream<Item = Event> + Send + 'static {
    let start = Follow {
        state,
        id,
        last: None,
        done: false,
    };
    stream::unfold(start, |mut f| async move {
        if f.done {
            return None;
        }
        loop {
            let record = match f.state.store.get_video(f.id) {
                Ok(Some(r)) => f.state.repairs.video(r),
                _ => return None,
            };
            let live = f
                .state
                .jobs
                .progress(crate::job_key::JobKey::process(f.id))
                .map(|rx| rx.borrow().clone());
            let frames = live.as_ref().map_or(record.progress.frames_done, |p| p.frames_encoded);
            let detections = live.as_ref().map_or(record.detections, |p| p.detections);
            let key = (record.status, frames, detections);
            let settled = matches!(
                record.status,
                VideoStatus::Ready | VideoStatus::Failed | VideoStatus::Interrupted
            );
            // Checked on every poll: the job may have ended after its last event was sent.
            if f.last == Some(key) && settled && live.is_none() {
                return None;
            }
            if f.last != Some(key) {
                let status_changed = f.last.map(|l| l.0) != Some(record.status);
                f.last = Some(key);
                f.done = settled && live.is_none();
                let total = record.progress.frames_total.filter(|t| *t > 0);
                let event = Event {
                    kind: if status_changed { "status" } else { "progress" }.into(),
                    status: Status::from(record.status),
                    progress: match (record.status, total) {
                        (VideoStatus::Ready, _) => 1.0,
                        (_, Some(t)) => (frames as f64 / t as f64).min(1.0) as f32,
                        _ => record.progress.fraction,
                    },
                    frames_done: frames,
                    detections,
                    // No job running: what the playlists on disk list, as `/stream` says.
                    playable_segments: live
                        .as_ref()
                        .map_or_else(|| f.state.segments_on_disk(f.id), |p| p.playable_segments as u64),
                    error: record.error.clone(),
                };
                return Some((event, f));
            }
            tokio::time::sleep(POLL).await;
        }
    })
}
