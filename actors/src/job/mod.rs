//! Jobs: the options users choose, the spec the engine runs, how a job ends, and the queue that
//! admits jobs with bounded concurrency.

pub mod analysis;
pub mod event_sink;
pub mod options;
pub mod outcome;
pub mod progress;
pub mod queue;
pub mod spec;
pub mod status;

pub use analysis::{analyse_if_owed, set_rules, JobAnalysis};
pub use event_sink::EventSink;
pub use options::{JobOptions, OptionError, Preset, RenderOptions};
pub use outcome::JobOutcome;
pub use progress::JobProgress;
pub use queue::{JobQueue, JobRunner, SubmitError};
pub use spec::{EngineSettings, JobKind, JobSpec};
pub use status::record_status;
