//! Live sources (cameras and live streams): how one is reached, why it could not be, its shared
//! figures, when to try again after it drops, and what becomes of it when a run fails. Pure:
//! `media::live_source`, the pipeline's stages and `openapi`'s live sources drive it.

pub mod backoff;
pub mod failure;
pub mod monitor;
pub mod recovery;
pub mod url;

pub use backoff::Backoff;
pub use failure::{ErrorKind, Reach, StreamError};
pub use monitor::{Gap, LiveMonitor, LiveReport, LiveState};
pub use recovery::{Decision, FailureCause, Recovery, RunEnd, RunFacts};
pub use url::LiveUrl;
