//! How a job ended.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::store::VideoStatus;

#[derive(Debug, Clone)]
pub struct JobOutcome {
    pub status: VideoStatus,
    pub error: Option<String>,
    /// What a `ready` job did without (e.g. a sound track it could not read).
    pub warnings: Vec<String>,
    pub frames: u64,
    pub segments: usize,
    /// Detections stored, per class id.
    pub class_counts: BTreeMap<u16, u64>,
    pub wall: Duration,
}

impl JobOutcome {
    /// A job that failed before it could start.
    pub fn failed(error: &str) -> Self {
        JobOutcome {
            status: VideoStatus::Failed,
            error: Some(error.to_string()),
            warnings: Vec::new(),
            frames: 0,
            segments: 0,
            class_counts: BTreeMap::new(),
            wall: Duration::ZERO,
        }
    }
}
