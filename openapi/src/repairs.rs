//! Job ends the store could not record (a full disk, an I/O error). Such a job is over, and the
//! API says so from here at once; a background task reopens the store once the disk has room
//! again (sled keeps failing after an I/O error until it is reopened) and writes each one (a restart would find the record `processing` and mark it interrupted anyway).
//! Without this a job whose end could not be written stayed `processing` for good, and so could
//! be neither deleted nor retried.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use sightline_actors::job::record_status;
use sightline_actors::store::{RenderRecord, Store, VideoRecord, VideoStatus};

use crate::disk::DiskGuard;
use crate::job_key::JobKey;

/// How often unrecorded ends are written again.
const RETRY_EVERY: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct Repairs {
    pending: Mutex<HashMap<JobKey, (VideoStatus, Option<String>)>>,
}

impl Repairs {
    fn lock(&self) -> MutexGuard<'_, HashMap<JobKey, (VideoStatus, Option<String>)>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers how job `key` ended, since the store did not take it.
    pub fn remember(&self, key: JobKey, status: VideoStatus, error: Option<String>) {
        self.lock().insert(key, (status, error));
    }

    /// Forgets job `key` (its video was deleted, or its job runs again).
    pub fn forget(&self, key: JobKey) {
        self.lock().remove(&key);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// A video record as it really stands.
    pub fn video(&self, mut record: VideoRecord) -> VideoRecord {
        if let Some((status, error)) = self.lock().get(&JobKey::process(record.id)) {
            record.status = *status;
            record.error = error.clone();
        }
        record
    }

    /// A render record as it really stands.
    pub fn render(&self, mut record: RenderRecord) -> RenderRecord {
        let key = JobKey {
            video: record.video,
            kind: sightline_actors::job::JobKind::Render(record.number),
        };
        if let Some((status, error)) = self.lock().get(&key) {
            record.status = *status;
            record.error = error.clone();
        }
        record
    }

    /// Writes what it can; keeps the rest for the next try.
    pub fn write(&self, store: &Store) {
        let pending: Vec<_> = self.lock().iter().map(|(k, v)| (*k, v.clone())).collect();
        for (key, (status, error)) in pending {
            let written =
                record_status(store, key.video, key.kind, status, error, None).and_then(|_| store.flush().map(|_| ()));
            match written {
                Ok(()) => {
                    tracing::info!(video = %key.video, "recorded the job's end that the store had refused");
                    self.forget(key);
                }
                // Deleted meanwhile: nothing left to repair.
                Err(sightline_actors::store::StoreError::NotFound(_)) => self.forget(key),
                Err(_) => {}
            }
        }
    }

    /// For the server's life: reopens a store that stopped taking writes once the data folder
    /// has room again, and writes the job ends it did not take.
    pub fn keep_writing(self: std::sync::Arc<Self>, store: Store, disk: DiskGuard) {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RETRY_EVERY).await;
                let (repairs, store, disk) = (self.clone(), store.clone(), disk.clone());
                let _ = tokio::task::spawn_blocking(move || {
                    if store.check_writable().is_err() && disk.check().is_ok() {
                        if let Err(e) = store.reopen() {
                            tracing::warn!("the store does not take writes and could not be reopened: {e}");
                        }
                    }
                    if repairs.len() > 0 {
                        repairs.write(&store);
                    }
                })
                .await;
            }
        });
    }
}
