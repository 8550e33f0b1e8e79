//! Live sources (cameras and live streams): how one is reached, its shared figures, and when to
//! try again after it drops. Pure: `media::live_source` and the pipeline's stages drive it.

pub mod backoff;
pub mod monitor;
pub mod url;

pub use backoff::Backoff;
pub use monitor::{Gap, LiveMonitor, LiveReport, LiveState};
pub use url::LiveUrl;
