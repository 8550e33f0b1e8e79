//! Video records: the `videos` tree (id → JSON `VideoRecord`).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{now_ms, Store, StoreError, VideoId};
use crate::job::options::JobOptions;
use crate::media::probe::VideoProbe;

/// Where a job stands. Serialized lowercase (`"processing"`), as the API shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoStatus {
    Queued,
    Processing,
    Ready,
    Failed,
    /// Found `processing` at start-up: the server stopped mid-job. Can be resumed or re-run.
    Interrupted,
}

impl VideoStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
        }
    }

    /// No job is working on it (nor will, without a user asking).
    pub const fn is_settled(self) -> bool {
        matches!(self, Self::Ready | Self::Failed | Self::Interrupted)
    }
}

impl fmt::Display for VideoStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Progress of a job. `frames_total` is an estimate (duration × fps) and may be off, or unknown.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub frames_done: u64,
    pub frames_total: Option<u64>,
    /// 0.0 ..= 1.0.
    pub fraction: f32,
}

impl Progress {
    /// Fraction clamped to 0..=1 because the total is only an estimate.
    pub fn new(frames_done: u64, frames_total: Option<u64>) -> Self {
        let fraction = match frames_total {
            Some(total) if total > 0 => (frames_done as f64 / total as f64).clamp(0.0, 1.0) as f32,
            _ => 0.0,
        };
        Self {
            frames_done,
            frames_total,
            fraction,
        }
    }
}

/// One uploaded video and the state of its job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VideoRecord {
    /// Assigned by [`Store::create_video`]; whatever the caller puts here is replaced.
    pub id: VideoId,
    /// The name the user uploaded it under. Display only: never used to build a path.
    pub filename: String,
    pub size_bytes: u64,
    pub duration_ms: u64,
    pub fps: f64,
    pub width: u32,
    pub height: u32,
    /// The file has a sound track (records from before sound was kept read `false`).
    #[serde(default)]
    pub has_audio: bool,
    pub model: String,
    /// The model's class names; detections store indexes into this list.
    pub class_names: Vec<String>,
    /// The job's detection options. Records written before options were typed call this
    /// `config`; its keys were the same.
    #[serde(alias = "config", deserialize_with = "null_as_default")]
    pub options: JobOptions,
    pub status: VideoStatus,
    pub progress: Progress,
    pub error: Option<String>,
    /// What the last job did without, though it ended `ready` (e.g. a sound track it could not read).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Detections stored so far (kept by the StatsAggregator; `count_detections` is the slow truth).
    pub detections: u64,
    /// Unix milliseconds.
    pub created_at: u64,
    /// Unix milliseconds; bumped by every `update_video`.
    pub updated_at: u64,
    /// A live source's settings; `None` for an upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveSettings>,
}

/// How a live source is reached and whether it should run. Kept in the store so sources come back
/// when the server restarts; the password is the server's to keep and never shown by the API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveSettings {
    /// The URL as given, credentials included.
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Unix milliseconds at stream time 0 (when the source was added): a detection's time is
    /// this plus its `pts_ms`.
    pub epoch_ms: u64,
    /// Stopped by a user: not started again with the server.
    #[serde(default)]
    pub stopped: bool,
    /// The highest track ID its runs may have handed out (reserved a block ahead of use): a run
    /// numbers its tracks after this.
    #[serde(default)]
    pub track_ids_reserved: u64,
}

impl VideoRecord {
    /// A new record for a probed video, queued; [`Store::create_video`] gives it its id and times.
    pub fn queued(
        filename: String,
        size_bytes: u64,
        video: &VideoProbe,
        model: String,
        class_names: Vec<String>,
        options: JobOptions,
    ) -> Self {
        let frames_total = (video.fps > 0.0).then(|| (video.duration_ms as f64 / 1000.0 * video.fps).round() as u64);
        VideoRecord {
            id: VideoId::from_u64(0),
            filename,
            size_bytes,
            duration_ms: video.duration_ms,
            fps: video.fps,
            width: video.width,
            height: video.height,
            has_audio: video.has_audio,
            model,
            class_names,
            options,
            status: VideoStatus::Queued,
            progress: Progress::new(0, frames_total),
            error: None,
            warnings: Vec::new(),
            detections: 0,
            created_at: 0,
            updated_at: 0,
            live: None,
        }
    }

    /// A new record for a live source named `name`; `epoch_ms` is its stream time 0.
    pub fn live(
        name: String,
        settings: LiveSettings,
        model: String,
        class_names: Vec<String>,
        options: JobOptions,
    ) -> Self {
        VideoRecord {
            id: VideoId::from_u64(0),
            filename: name,
            size_bytes: 0,
            duration_ms: 0,
            fps: 0.0,
            width: 0,
            height: 0,
            has_audio: false,
            model,
            class_names,
            options,
            status: VideoStatus::Queued,
            progress: Progress::default(),
            error: None,
            warnings: Vec::new(),
            detections: 0,
            created_at: 0,
            updated_at: 0,
            live: Some(settings),
        }
    }
}

/// Reads `null` (written by benches before options were typed) as the default options.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// Why a job found `processing` at start-up is `interrupted`.
pub const INTERRUPTED: &str = "the server stopped while it was processing";

/// One page of [`Store::list_videos`].
#[derive(Clone, Debug, PartialEq)]
pub struct VideoPage {
    pub items: Vec<VideoRecord>,
    /// Pass as `after` to get the next (older) page; `None` on the last page.
    pub next_after: Option<VideoId>,
}

/// Upper bound on a `list_videos` page, whatever the caller asks.
pub const MAX_LIST_LIMIT: usize = 1000;

fn decode_record(id: VideoId, bytes: &[u8]) -> Result<VideoRecord, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what: "video record",
        key: id.to_string(),
        reason: e.to_string(),
    })
}

fn encode_record(record: &VideoRecord) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record).map_err(|e| StoreError::Encode {
        what: "video record",
        reason: e.to_string(),
    })
}

impl Store {
    /// Stores a new record under a fresh id (sled's monotonic `generate_id`) and returns it with
    /// `id`, `created_at` and `updated_at` filled in.
    pub fn create_video(&self, mut record: VideoRecord) -> Result<VideoRecord, StoreError> {
        record.id = VideoId::from_u64(self.trees()?.db.generate_id()?);
        let now = now_ms();
        record.created_at = now;
        record.updated_at = now;
        let bytes = encode_record(&record)?;
        // A fresh id can't exist; the CAS makes that an error instead of a silent overwrite.
        match self
            .trees()?
            .videos
            .compare_and_swap(record.id.to_be_bytes(), None::<&[u8]>, Some(bytes))?
        {
            Ok(()) => Ok(record),
            Err(_) => Err(StoreError::Encode {
                what: "video id",
                reason: format!("id {} already in use", record.id),
            }),
        }
    }

    pub fn get_video(&self, id: VideoId) -> Result<Option<VideoRecord>, StoreError> {
        match self.trees()?.videos.get(id.to_be_bytes())? {
            Some(bytes) => decode_record(id, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Stores, durably, that live source `id` may hand out track IDs up to `mark` (it never goes
    /// down). Returns once flushed, so no ID up to `mark` is reused after a crash.
    pub async fn reserve_track_ids(&self, id: VideoId, mark: u64) -> Result<(), StoreError> {
        self.update_video(id, |r| {
            if let Some(live) = &mut r.live {
                live.track_ids_reserved = live.track_ids_reserved.max(mark);
            }
        })?;
        self.flush_async().await.map(|_| ())
    }

    pub(crate) fn video_exists(&self, id: VideoId) -> Result<bool, StoreError> {
        Ok(self.trees()?.videos.contains_key(id.to_be_bytes())?)
    }

    /// Applies `change` atomically (compare-and-swap loop: `change` may run more than once under
    /// contention, so it must only mutate the record it is given) and returns the stored result.
    /// `id` and `created_at` can't be changed; `updated_at` is set to now.
    pub fn update_video<F>(&self, id: VideoId, mut change: F) -> Result<VideoRecord, StoreError>
    where
        F: FnMut(&mut VideoRecord),
    {
        let key = id.to_be_bytes();
        loop {
            let old = self.trees()?.videos.get(key)?.ok_or(StoreError::NotFound(id))?;
            let mut record = decode_record(id, &old)?;
            let created_at = record.created_at;
            change(&mut record);
            record.id = id;
            record.created_at = created_at;
            record.updated_at = now_ms().max(record.updated_at);
            let new = encode_record(&record)?;
            match self.trees()?.videos.compare_and_swap(key, Some(&old), Some(new))? {
                Ok(()) => return Ok(record),
                // Someone else wrote (or deleted) in between: re-read and re-apply.
                Err(_) => continue,
            }
        }
    }

    /// Newest first. `after` is the `next_after` of the previous page (exclusive); `limit` is
    /// clamped to 1..=[`MAX_LIST_LIMIT`]. Ids grow monotonically, so key order is creation order
    /// and a page never repeats or skips a record even while new videos are uploaded (new ones
    /// show up on the first page, not in the middle). Unreadable records are logged and skipped
    /// so that one bad record can't hide the library.
    pub fn list_videos(&self, after: Option<VideoId>, limit: usize) -> Result<VideoPage, StoreError> {
        let limit = limit.clamp(1, MAX_LIST_LIMIT);
        let iter = match after {
            Some(after) => self.trees()?.videos.range(..after.to_be_bytes()),
            None => self.trees()?.videos.iter(),
        };
        let mut items = Vec::with_capacity(limit.min(64));
        let mut next_after = None;
        for entry in iter.rev() {
            let (key, value) = entry?;
            let Some(id) = VideoId::from_be_slice(&key) else {
                tracing::warn!(key = ?key, "skipping a videos entry with a malformed key");
                continue;
            };
            if items.len() == limit {
                // There is at least one more: the page ends at the last one we return.
                next_after = items.last().map(|r: &VideoRecord| r.id);
                break;
            }
            match decode_record(id, &value) {
                Ok(record) => items.push(record),
                Err(e) => tracing::warn!(%id, error = %e, "skipping an unreadable video record"),
            }
        }
        Ok(VideoPage { items, next_after })
    }

    /// Removes the record, its detections and its stats. Returns `NotFound` if there is no record.
    ///
    /// Detections go first and the record last, so a crash half-way leaves a record that can be
    /// deleted again rather than orphaned detections nobody can reach. The job must be stopped
    /// before: writes racing a delete are refused only once the record is gone.
    pub fn delete_video(&self, id: VideoId) -> Result<(), StoreError> {
        if !self.video_exists(id)? {
            return Err(StoreError::NotFound(id));
        }
        let removed = self.remove_detections(id)?;
        self.remove_renders(id)?;
        self.remove_analytics(id)?;
        self.trees()?.stats.remove(id.to_be_bytes())?;
        self.trees()?.videos.remove(id.to_be_bytes())?;
        tracing::debug!(%id, removed, "deleted video");
        Ok(())
    }

    /// Start-up recovery: every `processing` record becomes `interrupted` (its job died with the
    /// previous process). Returns their ids. `queued` records are left alone: whoever owns the
    /// queue decides whether to re-admit them.
    pub fn interrupt_unfinished(&self) -> Result<Vec<VideoId>, StoreError> {
        let mut interrupted = Vec::new();
        for entry in self.trees()?.videos.iter() {
            let (key, value) = entry?;
            let Some(id) = VideoId::from_be_slice(&key) else {
                continue;
            };
            let Ok(record) = decode_record(id, &value) else {
                tracing::warn!(%id, "skipping an unreadable video record during recovery");
                continue;
            };
            if record.status != VideoStatus::Processing {
                continue;
            }
            let mut changed = false;
            let result = self.update_video(id, |r| {
                changed = r.status == VideoStatus::Processing;
                if changed {
                    r.status = VideoStatus::Interrupted;
                    r.error = Some(INTERRUPTED.to_string());
                }
            });
            match result {
                Ok(_) if changed => interrupted.push(id),
                Ok(_) | Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(interrupted)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::tests::temp_store;

    pub(crate) fn sample_record() -> VideoRecord {
        VideoRecord {
            id: VideoId::from_u64(0),
            filename: "../bikes clip (1).mp4".into(),
            size_bytes: 1_234_567,
            duration_ms: 10_000,
            fps: 25.0,
            width: 640,
            height: 272,
            has_audio: false,
            model: "yolov4-tiny".into(),
            class_names: vec!["person".into(), "bicycle".into(), "car".into()],
            options: JobOptions {
                classes: vec!["person".into(), "car".into()],
                every: 2,
                ..JobOptions::default()
            },
            status: VideoStatus::Queued,
            progress: Progress::new(0, Some(250)),
            error: None,
            warnings: Vec::new(),
            detections: 0,
            created_at: 0,
            updated_at: 0,
            live: None,
        }
    }

    #[test]
    fn status_serializes_lowercase() {
        for (status, text) in [
            (VideoStatus::Queued, "queued"),
            (VideoStatus::Processing, "processing"),
            (VideoStatus::Ready, "ready"),
            (VideoStatus::Failed, "failed"),
            (VideoStatus::Interrupted, "interrupted"),
        ] {
            assert_eq!(serde_json::to_string(&status).unwrap(), format!("\"{text}\""));
            assert_eq!(status.to_string(), text);
            assert_eq!(
                serde_json::from_str::<VideoStatus>(&format!("\"{text}\"")).unwrap(),
                status
            );
        }
        assert!(serde_json::from_str::<VideoStatus>("\"Ready\"").is_err());
    }

    #[test]
    fn progress_fraction_is_clamped() {
        assert_eq!(Progress::new(5, Some(10)).fraction, 0.5);
        assert_eq!(Progress::new(15, Some(10)).fraction, 1.0);
        assert_eq!(Progress::new(5, None).fraction, 0.0);
        assert_eq!(Progress::new(5, Some(0)).fraction, 0.0);
    }

    #[test]
    fn create_get_round_trip() {
        let (_dir, store) = temp_store();
        let created = store.create_video(sample_record()).unwrap();
        assert!(created.created_at > 0);
        assert_eq!(created.created_at, created.updated_at);
        let got = store.get_video(created.id).unwrap().unwrap();
        assert_eq!(got, created);
        let second = store.create_video(sample_record()).unwrap();
        assert_ne!(second.id, created.id);
        assert_eq!(store.get_video(VideoId::from_u64(u64::MAX)).unwrap(), None);
    }

    #[test]
    fn record_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let created = {
            let store = Store::open(dir.path()).unwrap();
            let created = store.create_video(sample_record()).unwrap();
            store.flush().unwrap();
            created
        };
        let store = crate::store::tests::reopen(dir.path());
        assert_eq!(store.get_video(created.id).unwrap(), Some(created.clone()));
        // Ids keep growing across restarts, so list order stays creation order.
        let next = store.create_video(sample_record()).unwrap();
        assert!(next.id > created.id);
    }

    #[tokio::test]
    async fn a_track_id_reservation_is_durable_and_never_goes_down() {
        let dir = tempfile::tempdir().unwrap();
        let settings = LiveSettings {
            url: "rtsp://camera/stream".into(),
            username: None,
            password: None,
            epoch_ms: 1,
            stopped: false,
            track_ids_reserved: 0,
        };
        let live = VideoRecord {
            live: Some(settings),
            ..sample_record()
        };
        let id = {
            let store = Store::open(dir.path()).unwrap();
            let id = store.create_video(live).unwrap().id;
            store.reserve_track_ids(id, 128).await.unwrap();
            store.reserve_track_ids(id, 64).await.unwrap();
            id
        };
        let store = crate::store::tests::reopen(dir.path());
        let record = store.get_video(id).unwrap().unwrap();
        assert_eq!(record.live.unwrap().track_ids_reserved, 128);
        // Records stored before reservations existed read 0.
        let old: LiveSettings =
            serde_json::from_str(r#"{"url":"u","username":null,"password":null,"epoch_ms":1}"#).unwrap();
        assert_eq!(old.track_ids_reserved, 0);
    }

    #[test]
    fn update_is_applied_and_protects_identity() {
        let (_dir, store) = temp_store();
        let created = store.create_video(sample_record()).unwrap();
        let updated = store
            .update_video(created.id, |r| {
                r.status = VideoStatus::Failed;
                r.error = Some("decoder said no".into());
                r.id = VideoId::from_u64(999);
                r.created_at = 1;
            })
            .unwrap();
        assert_eq!(updated.id, created.id);
        assert_eq!(updated.created_at, created.created_at);
        assert!(updated.updated_at >= created.updated_at);
        assert_eq!(updated.status, VideoStatus::Failed);
        assert_eq!(store.get_video(created.id).unwrap(), Some(updated));
        assert!(matches!(
            store.update_video(VideoId::from_u64(12345), |_| {}),
            Err(StoreError::NotFound(id)) if id == VideoId::from_u64(12345)
        ));
    }

    #[test]
    fn concurrent_updates_are_not_lost() {
        let (_dir, store) = temp_store();
        let id = store.create_video(sample_record()).unwrap().id;
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..250 {
                        store.update_video(id, |r| r.detections += 1).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(store.get_video(id).unwrap().unwrap().detections, 1000);
    }

    #[test]
    fn list_pages_newest_first() {
        let (_dir, store) = temp_store();
        let ids: Vec<VideoId> = (0..7)
            .map(|_| store.create_video(sample_record()).unwrap().id)
            .collect();
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store.list_videos(after, 3).unwrap();
            assert!(page.items.len() <= 3);
            seen.extend(page.items.iter().map(|r| r.id));
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let mut expected = ids.clone();
        expected.reverse();
        assert_eq!(seen, expected);
        // Exactly a full last page: no dangling cursor to an empty page.
        let page = store.list_videos(Some(ids[6]), 6).unwrap();
        assert_eq!(page.items.len(), 6);
        assert_eq!(page.next_after, None);
        assert!(store.list_videos(Some(ids[0]), 10).unwrap().items.is_empty());
    }

    #[test]
    fn list_skips_unreadable_records() {
        let (_dir, store) = temp_store();
        let good = store.create_video(sample_record()).unwrap();
        store
            .trees()
            .expect("open")
            .videos
            .insert(VideoId::from_u64(1 << 40).to_be_bytes(), &b"{not json"[..])
            .unwrap();
        let page = store.list_videos(None, 10).unwrap();
        assert_eq!(page.items, vec![good]);
        assert!(matches!(
            store.get_video(VideoId::from_u64(1 << 40)),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn interrupt_unfinished_only_touches_processing() {
        let (_dir, store) = temp_store();
        let mut ids = Vec::new();
        for status in [
            VideoStatus::Queued,
            VideoStatus::Processing,
            VideoStatus::Ready,
            VideoStatus::Processing,
            VideoStatus::Failed,
        ] {
            let id = store.create_video(sample_record()).unwrap().id;
            store.update_video(id, |r| r.status = status).unwrap();
            ids.push(id);
        }
        let interrupted = store.interrupt_unfinished().unwrap();
        assert_eq!(interrupted, vec![ids[1], ids[3]]);
        let why = store.get_video(ids[1]).unwrap().unwrap().error;
        assert_eq!(why.as_deref(), Some(INTERRUPTED), "an interrupted job says why");
        let statuses: Vec<_> = ids
            .iter()
            .map(|id| store.get_video(*id).unwrap().unwrap().status)
            .collect();
        assert_eq!(
            statuses,
            [
                VideoStatus::Queued,
                VideoStatus::Interrupted,
                VideoStatus::Ready,
                VideoStatus::Interrupted,
                VideoStatus::Failed
            ]
        );
        assert!(store.interrupt_unfinished().unwrap().is_empty());
    }
}
