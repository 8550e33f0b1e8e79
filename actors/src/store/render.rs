//! Re-renderings of a video from its stored detections: one record per rendering, keyed by
//! video id ‖ render number (big-endian), JSON values.

use serde::{Deserialize, Serialize};

use super::video::INTERRUPTED;
use super::{now_ms, Store, StoreError, VideoId, VideoStatus};
use crate::job::options::RenderOptions;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RenderRecord {
    pub video: VideoId,
    /// 1, 2, … per video.
    pub number: u32,
    pub status: VideoStatus,
    /// The style and class filter asked for.
    #[serde(deserialize_with = "super::video::null_as_default")]
    pub options: RenderOptions,
    pub error: Option<String>,
    pub created_at: u64,
    pub updated_at: u64,
}

fn key(video: VideoId, number: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&video.to_be_bytes());
    k[8..].copy_from_slice(&number.to_be_bytes());
    k
}

fn corrupt(key: &[u8], e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what: "render record",
        key: key.iter().map(|b| format!("{b:02x}")).collect(),
        reason: e.to_string(),
    }
}

impl Store {
    /// Records a new rendering of `video` as queued and returns it with its number.
    pub fn create_render(&self, video: VideoId, options: RenderOptions) -> Result<RenderRecord, StoreError> {
        if self.get_video(video)?.is_none() {
            return Err(StoreError::NotFound(video));
        }
        let number = self.list_renders(video)?.last().map_or(1, |r| r.number + 1);
        let now = now_ms();
        let record = RenderRecord {
            video,
            number,
            status: VideoStatus::Queued,
            options,
            error: None,
            created_at: now,
            updated_at: now,
        };
        self.put_render(&record)?;
        Ok(record)
    }

    pub fn put_render(&self, record: &RenderRecord) -> Result<(), StoreError> {
        let k = key(record.video, record.number);
        let value = serde_json::to_vec(record).map_err(|e| corrupt(&k, e))?;
        self.trees()?.renders.insert(k, value)?;
        Ok(())
    }

    pub fn get_render(&self, video: VideoId, number: u32) -> Result<Option<RenderRecord>, StoreError> {
        let k = key(video, number);
        match self.trees()?.renders.get(k)? {
            Some(v) => serde_json::from_slice(&v).map(Some).map_err(|e| corrupt(&k, e)),
            None => Ok(None),
        }
    }

    /// Updates a rendering's status (and error), stamping the time.
    pub fn set_render_status(
        &self,
        video: VideoId,
        number: u32,
        status: VideoStatus,
        error: Option<String>,
    ) -> Result<(), StoreError> {
        let mut r = self.get_render(video, number)?.ok_or(StoreError::NotFound(video))?;
        r.status = status;
        r.error = error;
        r.updated_at = now_ms();
        self.put_render(&r)
    }

    /// Every rendering of `video`, oldest first.
    pub fn list_renders(&self, video: VideoId) -> Result<Vec<RenderRecord>, StoreError> {
        self.trees()?
            .renders
            .scan_prefix(video.to_be_bytes())
            .map(|entry| {
                let (k, v) = entry?;
                serde_json::from_slice(&v).map_err(|e| corrupt(&k, e))
            })
            .collect()
    }

    /// Renderings left `processing` by a server that stopped are `interrupted`, with the reason;
    /// returns those still `queued`, oldest first, for the job queue to take again.
    pub fn recover_renders(&self) -> Result<Vec<RenderRecord>, StoreError> {
        let mut queued = Vec::new();
        for entry in self.trees()?.renders.iter() {
            let (k, v) = entry?;
            let Ok(mut r) = serde_json::from_slice::<RenderRecord>(&v) else {
                tracing::warn!(key = ?k, "skipping an unreadable render record during recovery");
                continue;
            };
            match r.status {
                VideoStatus::Processing => {
                    r.status = VideoStatus::Interrupted;
                    r.error = Some(INTERRUPTED.to_string());
                    r.updated_at = now_ms();
                    self.put_render(&r)?;
                }
                VideoStatus::Queued => queued.push(r),
                _ => {}
            }
        }
        queued.sort_by_key(|r| r.created_at);
        Ok(queued)
    }

    pub(crate) fn remove_renders(&self, video: VideoId) -> Result<(), StoreError> {
        for entry in self.trees()?.renders.scan_prefix(video.to_be_bytes()) {
            let (k, _) = entry?;
            self.trees()?.renders.remove(k)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::temp_store;
    use super::*;

    #[test]
    fn renders_are_numbered_per_video_and_go_with_it() {
        let (_dir, store) = temp_store();
        let video = store
            .create_video(super::super::video::tests::sample_record())
            .expect("video");
        assert!(store
            .create_render(VideoId::from_u64(999), RenderOptions::default())
            .is_err());
        let r1 = store
            .create_render(
                video.id,
                RenderOptions {
                    opacity: 0.5,
                    ..RenderOptions::default()
                },
            )
            .expect("render");
        let r2 = store.create_render(video.id, RenderOptions::default()).expect("render");
        assert_eq!((r1.number, r2.number), (1, 2));
        store
            .set_render_status(video.id, 2, VideoStatus::Ready, None)
            .expect("status");
        assert_eq!(
            store.get_render(video.id, 2).expect("get").map(|r| r.status),
            Some(VideoStatus::Ready)
        );
        assert_eq!(store.list_renders(video.id).expect("list").len(), 2);
        store.delete_video(video.id).expect("delete");
        assert!(store.list_renders(video.id).expect("list").is_empty());
    }

    #[test]
    fn a_restart_interrupts_running_renders_and_hands_back_queued_ones() {
        let (_dir, store) = temp_store();
        let video = store
            .create_video(super::super::video::tests::sample_record())
            .expect("video");
        for _ in 0..3 {
            store.create_render(video.id, RenderOptions::default()).expect("render");
        }
        store
            .set_render_status(video.id, 1, VideoStatus::Processing, None)
            .expect("status");
        store
            .set_render_status(video.id, 2, VideoStatus::Ready, None)
            .expect("status");
        let queued = store.recover_renders().expect("recovers");
        assert_eq!(queued.iter().map(|r| r.number).collect::<Vec<_>>(), vec![3]);
        let first = store.get_render(video.id, 1).expect("get").expect("there");
        assert_eq!(first.status, VideoStatus::Interrupted);
        assert_eq!(first.error.as_deref(), Some(INTERRUPTED));
        let second = store.get_render(video.id, 2).expect("get").expect("there");
        assert_eq!(second.status, VideoStatus::Ready, "finished renders are left alone");
    }
}
