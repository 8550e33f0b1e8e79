//! How the job queue names a job: a video, and what is done to it.

use sightline_actors::job::JobKind;
use sightline_actors::store::VideoId;

/// A job: processing a video, or re-rendering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobKey {
    pub video: VideoId,
    pub kind: JobKind,
}

/// As logs name it, with the video's id as the API writes it.
impl std::fmt::Display for JobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            JobKind::Process => write!(f, "video {}", self.video),
            JobKind::Render(n) => write!(f, "rendering {n} of video {}", self.video),
        }
    }
}

impl JobKey {
    /// Processing `video` (detection and all).
    pub fn process(video: VideoId) -> Self {
        JobKey {
            video,
            kind: JobKind::Process,
        }
    }
}
