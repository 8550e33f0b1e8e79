//! Command-line options shared by every command that loads a model.

use std::path::PathBuf;

use clap::Args;
use sightline_actors::detect::{default_library_path, DetectorConfig};

/// The model used when none is named: yolov4-tiny quantised to INT8 by setup, which passes the
/// accuracy gate (`sightline bench accuracy`) against the FP32 model, [`REFERENCE_MODEL`].
pub const DEFAULT_MODEL: &str = ".cache/models/yolov4-tiny-int8.onnx";
pub const REFERENCE_MODEL: &str = ".cache/models/yolov4-tiny.onnx";

#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// YOLO model in ONNX format ([1,N,5+C] or [1,4+C,N] output).
    #[arg(long, env = "SIGHTLINE_MODEL", default_value = DEFAULT_MODEL)]
    pub model: PathBuf,
    /// Class names file, one per line; overrides the model's own `names` metadata.
    #[arg(long)]
    pub names: Option<PathBuf>,
    /// ONNX Runtime shared library (libonnxruntime.so.1.31.1).
    #[arg(long = "ort-lib", env = "ORT_DYLIB_PATH", default_value_os_t = default_library_path())]
    pub ort_lib: PathBuf,
}

impl ModelArgs {
    pub fn detector_config(&self, threads: usize) -> DetectorConfig {
        DetectorConfig {
            model: self.model.clone(),
            names: self.names.clone(),
            ort_library: self.ort_lib.clone(),
            threads,
        }
    }
}
