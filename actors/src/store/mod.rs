//! The embedded store: videos, their detections and their stats, in one sled database.
//!
//! Trees (all keys start with the video id, 8 bytes big-endian):
//! - `videos`: id → JSON [`VideoRecord`] ([`video`]).
//! - `detections`: id ‖ pts_ms ‖ seq → 40-byte binary [`StoredDetection`] ([`detection`]), so a
//!   time window is one range scan ([`query`]).
//! - `stats`: id → JSON [`VideoStats`] ([`stats`]).
//! - `rules`, `events`: a video's analytics rules and the events they gave ([`analytics`]).
//! - `webhooks`, `deliveries`, `outbox`, `delivery_index`: where events are sent, and how that
//!   went ([`webhooks`]).
//!
//! `Store` is a bundle of sled handles: cheap to clone, `Send + Sync`, and every method is a
//! short synchronous call (microseconds to a few ms). Async callers may call it directly for
//! single operations and should use `spawn_blocking` for scans over a whole video.
//!
//! Durability: sled writes to its log in the background (every 500 ms by default) and its log is
//! crash-consistent, so a crash loses at most the latest unflushed writes and never leaves the
//! store unreadable. [`Store::flush`] is the durable point: when it returns, everything written
//! before it has been written out and fsynced by sled. That is not a promise about the whole file
//! system on power loss (disk caches, FS metadata are out of sled's hands), but it is what
//! "stored" means in Sightline: the API reports something as stored only after a flush.

mod analytics;
mod detection;
mod id;
mod query;
mod render;
mod stats;
mod video;
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub use crate::clock::now_ms;
pub use analytics::{EventPage, EventQuery, RulesRecord};
pub use detection::{DetectionIter, EntryError, StoredDetection};
pub use id::{ParseVideoIdError, VideoId};
pub use query::{
    Cursor, CursorError, DetectionPage, DetectionQuery, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, MAX_SCAN_PER_PAGE,
};
pub use render::RenderRecord;
pub use stats::{histogram, Bin, HistogramError, StatsAccumulator, TrackSummary, VideoStats, MAX_HISTOGRAM_BINS};
pub use video::{LiveSettings, Progress, VideoPage, VideoRecord, VideoStatus, MAX_LIST_LIMIT};
pub use webhooks::{
    Attempt, AttemptOutcome, BodyFor, Delivery, DeliveryState, DueBatch, Enqueued, Outgoing, WebhookRecord,
    MAX_LOGGED_DELIVERIES,
};

/// Everything the store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database couldn't be opened: locked by another process, not a sled database, no access…
    #[error("cannot open the store at {}: {reason}", path.display())]
    Open {
        path: PathBuf,
        reason: String,
        #[source]
        source: sled::Error,
    },
    /// A non-empty directory without a sled database: refused rather than written into.
    #[error("cannot open the store at {}: the directory is not empty and holds no sled database", path.display())]
    NotAStore { path: PathBuf },
    #[error("store error: {0}")]
    Sled(#[from] sled::Error),
    #[error("video {0} not found")]
    NotFound(VideoId),
    /// Stored bytes that can't be read back (never a panic).
    #[error("corrupt {what} at {key}: {reason}")]
    Corrupt {
        what: &'static str,
        key: String,
        reason: String,
    },
    #[error("cannot encode {what}: {reason}")]
    Encode { what: &'static str, reason: String },
    #[error("invalid detection: {0}")]
    InvalidDetection(String),
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    #[error("invalid cursor: {0}")]
    Cursor(#[from] CursorError),
    /// Between closing a failed database and opening it again.
    #[error("the store is being reopened after an I/O error")]
    Closed,
    #[error("the store could not be reopened: calls still used it after {0:?}")]
    Busy(Duration),
}

/// sled page cache: enough for the working set of window queries on several long videos.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// One open of the database: its handle and its trees.
pub(crate) struct Trees {
    pub(crate) db: sled::Db,
    pub(crate) videos: sled::Tree,
    pub(crate) detections: sled::Tree,
    pub(crate) stats: sled::Tree,
    pub(crate) renders: sled::Tree,
    pub(crate) rules: sled::Tree,
    pub(crate) events: sled::Tree,
    pub(crate) webhooks: sled::Tree,
    pub(crate) deliveries: sled::Tree,
    pub(crate) outbox: sled::Tree,
    pub(crate) delivery_index: sled::Tree,
}

/// The store: cheap to clone, every clone sees the same database, reopened in place if need be.
#[derive(Clone)]
pub struct Store {
    dir: PathBuf,
    /// `None` only between closing a database that failed and opening it again.
    current: Arc<RwLock<Option<Arc<Trees>>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// How long `reopen` waits for calls still using the failed database.
const REOPEN_WAIT: Duration = Duration::from_secs(10);

impl Store {
    /// Opens (or creates) the database in `dir`, which should be the store's own directory (e.g.
    /// `<data dir>/store`): a non-empty directory without a sled database is refused. Only one
    /// process may hold it: a second open fails with a message saying the store is in use.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let trees = open_trees(dir)?;
        Ok(Store {
            dir: dir.to_path_buf(),
            current: Arc::new(RwLock::new(Some(Arc::new(trees)))),
        })
    }

    /// The database as it is open now.
    pub(crate) fn trees(&self) -> Result<Arc<Trees>, StoreError> {
        let slot = self.current.read().unwrap_or_else(|p| p.into_inner());
        slot.clone().ok_or(StoreError::Closed)
    }

    /// Closes the database and opens it again. sled remembers an I/O error (a full disk, say) and
    /// answers every later call with it, even once the cause is gone; a new open starts clean
    /// from what sled made durable. sled locks its files per open, so the old database must be
    /// closed first: this waits (up to 10 s) for calls still using it, holding new ones back.
    pub fn reopen(&self) -> Result<(), StoreError> {
        let mut slot = self.current.write().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = slot.take() {
            let started = Instant::now();
            while Arc::strong_count(&old) > 1 && started.elapsed() < REOPEN_WAIT {
                std::thread::sleep(Duration::from_millis(10));
            }
            if Arc::strong_count(&old) > 1 {
                *slot = Some(old);
                return Err(StoreError::Busy(REOPEN_WAIT));
            }
        }
        // sled's flusher lets go of the file lock a moment after the last handle is dropped.
        let started = Instant::now();
        let trees = loop {
            match open_trees(&self.dir) {
                Ok(trees) => break trees,
                Err(StoreError::Open {
                    source: sled::Error::Io(e),
                    ..
                }) if e.to_string().contains("could not acquire lock") && started.elapsed() < REOPEN_WAIT => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e),
            }
        };
        *slot = Some(Arc::new(trees));
        tracing::info!(dir = %self.dir.display(), "store reopened");
        Ok(())
    }
}

impl Store {
    /// Runs `op`; if sled answers with an I/O error (the one it keeps after a full disk, say),
    /// reopens the store and runs `op` once more. For writes a user asks for right after freeing
    /// space, which should not wait for a background reopen.
    pub fn retry_after_reopen<T>(&self, op: impl Fn(&Store) -> Result<T, StoreError>) -> Result<T, StoreError> {
        match op(self) {
            Err(StoreError::Sled(sled::Error::Io(e))) => {
                tracing::warn!("the store answered with an I/O error ({e}); reopening it and trying again");
                self.reopen()?;
                op(self)
            }
            other => other,
        }
    }
}

/// Opens the database in `dir` and its trees.
fn open_trees(dir: &Path) -> Result<Trees, StoreError> {
    {
        let open_error = |source: sled::Error| {
            let reason = match &source {
                sled::Error::Io(e) if e.to_string().contains("could not acquire lock") => {
                    "it is locked by another process (is another sightline running with this data dir?)".to_string()
                }
                sled::Error::Io(e) => format!("I/O error: {e}"),
                sled::Error::Corruption { .. } => "the files there are corrupt or not a sled database".to_string(),
                sled::Error::Unsupported(msg) => format!("not a compatible sled database: {msg}"),
                other => other.to_string(),
            };
            StoreError::Open {
                path: dir.to_path_buf(),
                reason,
                source,
            }
        };
        if !looks_like_a_store(dir) {
            return Err(StoreError::NotAStore {
                path: dir.to_path_buf(),
            });
        }
        // sled's page cache defaults to 1 GiB and fills as detections accumulate; a fixed, modest
        // cap keeps the server's memory independent of how much it has stored.
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(CACHE_BYTES)
            .open()
            .map_err(open_error)?;
        let videos = db.open_tree("videos").map_err(open_error)?;
        let detections = db.open_tree("detections").map_err(open_error)?;
        let stats = db.open_tree("stats").map_err(open_error)?;
        let renders = db.open_tree("renders").map_err(open_error)?;
        let rules = db.open_tree("rules").map_err(open_error)?;
        let events = db.open_tree("events").map_err(open_error)?;
        let webhooks = db.open_tree("webhooks").map_err(open_error)?;
        let deliveries = db.open_tree("deliveries").map_err(open_error)?;
        let outbox = db.open_tree("outbox").map_err(open_error)?;
        let delivery_index = db.open_tree("delivery_index").map_err(open_error)?;
        tracing::debug!(dir = %dir.display(), recovered = db.was_recovered(), "store opened");
        Ok(Trees {
            db,
            videos,
            detections,
            stats,
            renders,
            rules,
            events,
            webhooks,
            deliveries,
            outbox,
            delivery_index,
        })
    }
}

impl Store {
    /// Durable point: blocks until everything written so far is on disk (see the module docs for
    /// what that does and doesn't promise). Returns the bytes flushed.
    pub fn flush(&self) -> Result<usize, StoreError> {
        Ok(self.trees()?.db.flush()?)
    }

    /// Whether the store takes writes now: a small write to the default tree, made durable. A
    /// full disk or an I/O error shows here before a job trips on it.
    pub fn check_writable(&self) -> Result<(), StoreError> {
        self.trees()?.db.insert("writable", &now_ms().to_be_bytes())?;
        self.flush().map(|_| ())
    }

    /// [`Store::flush`] without blocking an async runtime thread.
    pub async fn flush_async(&self) -> Result<usize, StoreError> {
        let trees = self.trees()?;
        Ok(trees.db.flush_async().await?)
    }
}

/// sled happily creates its files in any directory, so pointing the data dir at, say, a home
/// folder would scatter them there. Missing, empty, or holding sled's `conf`: fine.
fn looks_like_a_store(dir: &Path) -> bool {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none() || dir.join("conf").is_file(),
        // Missing, or not a directory: sled's own error says it best.
        Err(_) => true,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use detection::tests::det;
    use video::tests::sample_record;

    pub(crate) fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn reopening_keeps_what_was_stored_and_every_clone_follows() {
        let (_dir, store) = temp_store();
        let clone = store.clone();
        let id = store.create_video(sample_record()).unwrap().id;
        store.insert_detections(id, &[det(0, 0, 0.5)]).unwrap();
        store.flush().unwrap();
        store.reopen().expect("reopens");
        let video = clone.get_video(id).unwrap().expect("still there, seen through a clone");
        assert_eq!(video.id, id);
        assert_eq!(clone.detections_iter(id).count(), 1);
        clone.check_writable().expect("takes writes");
        // A call holding the database makes the reopen wait, then give up rather than block.
        let held = store.trees().unwrap();
        let started = std::time::Instant::now();
        assert!(matches!(store.reopen(), Err(StoreError::Busy(_))));
        assert!(started.elapsed() >= REOPEN_WAIT);
        drop(held);
        store.reopen().expect("reopens once nothing holds it");
    }

    /// sled's background flusher lets go of the file lock a moment after the last handle is
    /// dropped, so an immediate re-open in the same process may still find it locked.
    pub(crate) fn reopen(dir: &Path) -> Store {
        for _ in 0..100 {
            match Store::open(dir) {
                Ok(store) => return store,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
        Store::open(dir).unwrap()
    }

    pub(crate) fn temp_store_with_video() -> (tempfile::TempDir, Store, VideoId) {
        let (dir, store) = temp_store();
        let id = store.create_video(sample_record()).unwrap().id;
        (dir, store, id)
    }

    #[test]
    fn store_is_shareable() {
        fn check<T: Clone + Send + Sync + 'static>() {}
        check::<Store>();
    }

    #[test]
    fn a_second_open_is_refused_clearly() {
        let (dir, _store) = temp_store();
        let err = Store::open(dir.path()).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, StoreError::Open { .. }));
        assert!(message.contains("locked by another process"), "{message}");
        assert!(message.contains(&dir.path().display().to_string()), "{message}");
    }

    #[test]
    fn a_file_is_not_a_store() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"hello").unwrap();
        let err = Store::open(&file).unwrap_err();
        assert!(matches!(err, StoreError::Open { .. }), "{err}");
    }

    #[test]
    fn garbage_files_are_not_a_store() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("conf"), b"this is not a sled config").unwrap();
        std::fs::write(dir.path().join("db"), vec![0xAB; 4096]).unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Open { .. }), "{err}");
    }

    #[test]
    fn a_non_empty_foreign_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("holiday.mp4"), b"precious").unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // A directory that doesn't exist yet is created.
        let fresh = dir.path().join("a/b/store");
        Store::open(&fresh).unwrap();
        assert!(fresh.join("conf").is_file());
    }

    #[test]
    fn delete_removes_everything_and_only_that() {
        let (_dir, store, a) = temp_store_with_video();
        let b = store.create_video(sample_record()).unwrap().id;
        // Ids from generate_id are adjacent: the prefix scan must stop exactly at the boundary.
        assert_eq!(b.as_u64(), a.as_u64() + 1);
        let dets: Vec<_> = (0..25_000u64).map(|i| det(i * 10, (i % 3) as u16, 0.5)).collect();
        store.insert_detections(a, &dets).unwrap();
        store.insert_detections(a, &[det(u64::MAX, 0, 0.5)]).unwrap();
        store.insert_detections(b, &[det(0, 0, 0.5), det(1, 1, 0.5)]).unwrap();
        store.put_stats(a, &VideoStats::default()).unwrap();
        store
            .put_stats(
                b,
                &VideoStats {
                    total_detections: 2,
                    ..Default::default()
                },
            )
            .unwrap();

        store.delete_video(a).unwrap();
        assert_eq!(store.get_video(a).unwrap(), None);
        assert_eq!(store.count_detections(a).unwrap(), 0);
        assert_eq!(store.get_stats(a).unwrap(), None);
        assert!(matches!(store.delete_video(a), Err(StoreError::NotFound(_))));

        assert!(store.get_video(b).unwrap().is_some());
        assert_eq!(store.count_detections(b).unwrap(), 2);
        assert_eq!(store.get_stats(b).unwrap().unwrap().total_detections, 2);
        // Writes for a deleted video are refused, so a late batch can't resurrect it.
        assert!(matches!(
            store.insert_detections(a, &dets[..1]),
            Err(StoreError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn flush_async_works() {
        let (_dir, store, _) = temp_store_with_video();
        store.flush_async().await.unwrap();
        store.flush().unwrap();
    }
}
