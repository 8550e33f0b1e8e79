//! YOLO object detection: pure pre/post-processing plus one ONNX Runtime session.

pub mod agreement;
mod detector;
mod geometry;
mod input_shape;
mod layout;
mod letterbox;
pub mod names;
mod nms;
mod output;
mod runtime;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use detector::{DetectParams, Detector, DetectorConfig, ModelInfo};
pub use geometry::BBox;
pub use input_shape::InputShape;
pub use layout::{OutputLayout, UnknownLayout};
pub use letterbox::{
    letterbox, letterbox_frame, letterbox_i420, FrameRef, Letterbox, LetterboxedImage, PixelFormat, YuvMatrix,
    PAD_VALUE,
};
pub use nms::nms;
pub use output::{decode_output, Candidate, OutputParams};
pub use runtime::{default_library_path, environment};

/// One detected object.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub class_id: u16,
    pub confidence: f32,
    pub bbox: BBox,
}

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error(
        "the ONNX Runtime library is not at {path}: run `make setup` (it extracts libonnxruntime.so.1.31.1 \
         from the onnxruntime 1.31.1 wheel), or point ORT_DYLIB_PATH or --ort-lib at a copy of it"
    )]
    RuntimeMissing { path: PathBuf },
    #[error("could not load the ONNX Runtime library {path}: {message}")]
    RuntimeLoad { path: PathBuf, message: String },
    #[error("model file {path} does not exist (run `make setup` for the default model, or pass --model)")]
    ModelMissing { path: PathBuf },
    #[error("could not load {path} as an ONNX model: {message}")]
    ModelLoad { path: PathBuf, message: String },
    #[error("{path} is not a YOLO model we can run: {message}")]
    ModelShape { path: PathBuf, message: String },
    #[error("the model's output is not a YOLO layout we know: {0}")]
    UnknownLayout(#[from] UnknownLayout),
    #[error("could not read names file {path}: {message}")]
    NamesFile { path: PathBuf, message: String },
    #[error("unknown class '{name}'; the model knows: {known}")]
    UnknownClass { name: String, known: String },
    #[error("image is {}×{} but the model takes {expected}", got.0, got.1)]
    InputSize { expected: String, got: (u32, u32) },
    #[error("inference failed: {0}")]
    Inference(String),
}
