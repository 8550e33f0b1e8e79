//! Writing where a job stands: a processing job's status lives in its video's record, a
//! re-render's in its render record. Every status change of a job goes through here.

use super::spec::JobKind;
use crate::store::{Progress, Store, StoreError, VideoId, VideoStatus};

/// Records `status` (and `error`, cleared when `None`) for the job `kind` on `video`. A processing
/// job that ends `ready` also records its final frame count as its progress.
pub fn record_status(
    store: &Store,
    video: VideoId,
    kind: JobKind,
    status: VideoStatus,
    error: Option<String>,
    frames: Option<u64>,
) -> Result<(), StoreError> {
    match kind {
        JobKind::Render(n) => store.set_render_status(video, n, status, error),
        JobKind::Process => store
            .update_video(video, |v| {
                v.status = status;
                v.error = error.clone();
                if let (VideoStatus::Ready, Some(frames)) = (status, frames) {
                    v.progress = Progress::new(frames, Some(frames));
                }
            })
            .map(|_| ()),
    }
}
