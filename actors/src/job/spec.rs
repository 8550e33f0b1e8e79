//! A job as the engine runs it, put together in one place ([`JobSpec::new`]) from the video's
//! stored record, the drawing options, the model and the engine's settings.

use std::path::PathBuf;
use std::time::Duration;

use super::options::{JobOptions, OptionError, Preset, RenderOptions};
use crate::analytics::Rules;
use crate::detect::{InputShape, ModelInfo};
use crate::media::source::Input;
use crate::render::RenderStyle;
use crate::store::{VideoId, VideoRecord};
use crate::track::TrackerConfig;

/// What a job does to its video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Detect, track, draw and encode the upload; detections and stats are stored.
    Process,
    /// Draw rendering `n` again from the stored tracked boxes: no model runs, and the video's
    /// own record and stats are left as they are.
    Render(u32),
}

/// Settings the operator applies to every job (server config or CLI flags), beside the options
/// each job carries.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSettings {
    /// Credit window: frames in flight between decoder and encoder.
    pub window: usize,
    /// Detection requests in flight per worker.
    pub per_worker: usize,
    /// How long a detection request may take before it is sent again.
    pub request_timeout: Duration,
    pub segment_seconds: f64,
    pub preset: Preset,
    pub tracker: TrackerConfig,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            window: 8,
            per_worker: 2,
            request_timeout: Duration::from_secs(30),
            segment_seconds: 2.0,
            preset: Preset::default(),
            tracker: TrackerConfig::default(),
        }
    }
}

impl EngineSettings {
    /// Checks the window (1..=256 frames) and the segment length (0.5..=30 s).
    pub fn validate(&self) -> Result<(), OptionError> {
        if !(1..=256).contains(&self.window) {
            return Err(OptionError {
                field: "window",
                message: format!("window {} is outside 1..256", self.window),
            });
        }
        if !(0.5..=30.0).contains(&self.segment_seconds) {
            return Err(OptionError {
                field: "segment_seconds",
                message: format!("segment_seconds {} is outside 0.5..30", self.segment_seconds),
            });
        }
        Ok(())
    }
}

/// Everything one job needs to know.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub video: VideoId,
    pub kind: JobKind,
    /// What the frames are read from.
    pub input: Input,
    /// Where the HLS set goes.
    pub out_dir: PathBuf,
    pub options: JobOptions,
    /// Classes drawn; `None` draws every class detected.
    pub draw_classes: Option<Vec<bool>>,
    pub style: RenderStyle,
    pub settings: EngineSettings,
    /// Frame rate and duration the container declares (0 when it does not).
    pub fps: f64,
    pub duration_ms: u64,
    /// The input has a sound track, kept in the output.
    pub has_audio: bool,
    pub model_input: InputShape,
    pub class_names: Vec<String>,
    /// The video's zones and lines, if any: drawn into the frames with their running counts, and
    /// in a processing job evaluated into events as the frames go by.
    pub rules: Option<Rules>,
}

impl JobSpec {
    /// The job `kind` on the video of `record`, drawn as `drawing` says (the defaults for an
    /// upload). Options were validated when they were accepted; a class the model no longer
    /// knows draws nothing of it.
    pub fn new(
        record: &VideoRecord,
        kind: JobKind,
        drawing: &RenderOptions,
        input: Input,
        out_dir: PathBuf,
        model: &ModelInfo,
        settings: &EngineSettings,
    ) -> Self {
        JobSpec {
            video: record.id,
            kind,
            input,
            out_dir,
            options: record.options.clone(),
            draw_classes: model.class_mask(&drawing.classes).ok().flatten(),
            style: drawing.style().unwrap_or_default(),
            settings: settings.clone(),
            fps: record.fps,
            duration_ms: record.duration_ms,
            has_audio: record.has_audio,
            model_input: model.input,
            class_names: model.names.clone(),
            rules: None,
        }
    }

    /// The same job with `rules` (when there are any).
    pub fn with_rules(self, rules: Option<Rules>) -> Self {
        JobSpec {
            rules: rules.filter(|r| !r.is_empty()),
            ..self
        }
    }
}
