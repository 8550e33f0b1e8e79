//! What every request handler shares: the store, the job queue, the engine and the settings.

use std::path::PathBuf;
use std::sync::Arc;

use sightline_actors::detect::ModelInfo;
use sightline_actors::job::JobQueue;
use sightline_actors::store::{Store, VideoId};
use sightline_cluster::Coordinator;

use crate::config::ServerConfig;
use crate::disk::DiskGuard;
use crate::job_key::JobKey;
use crate::job_runner::upload_path;
use crate::live::LiveSources;
use crate::notifier::Notifier;
use crate::repairs::Repairs;

pub struct AppState {
    pub config: ServerConfig,
    pub store: Store,
    pub jobs: JobQueue<JobKey>,
    pub model: ModelInfo,
    pub uploads: PathBuf,
    pub streams: PathBuf,
    /// `None` when `cluster_enabled` is off.
    pub cluster: Option<Coordinator>,
    /// The data folder's free-space floor.
    pub disk: DiskGuard,
    /// Job ends the store has not taken yet.
    pub repairs: Arc<Repairs>,
    /// Where events and counts go beside the store (webhooks, MQTT).
    pub notifier: Arc<Notifier>,
    /// The live sources running (or run) since the server started.
    pub live: Arc<LiveSources>,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    pub fn upload_path(&self, id: VideoId) -> PathBuf {
        upload_path(&self.uploads, id)
    }

    pub fn stream_dir(&self, id: VideoId) -> PathBuf {
        self.streams.join(id.to_string())
    }

    /// Segments every rendition of video `id` lists on disk (what a player can fetch once no job
    /// runs): the fewest `#EXTINF` entries over the master's variants.
    pub fn segments_on_disk(&self, id: VideoId) -> u64 {
        let dir = self.stream_dir(id);
        let Ok(master) = std::fs::read_to_string(dir.join("master.m3u8")) else {
            return 0;
        };
        master
            .lines()
            .filter(|l| l.ends_with(".m3u8") && !l.starts_with('#'))
            .map(|uri| {
                let text = std::fs::read_to_string(dir.join(uri)).unwrap_or_default();
                text.matches("#EXTINF").count() as u64
            })
            .min()
            .unwrap_or(0)
    }

    /// The name a client passes as `model`: the model file's stem.
    pub fn model_name(&self) -> String {
        self.model
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}
