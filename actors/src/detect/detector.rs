//! One YOLO model in one ONNX Runtime session: introspection at load, then letterboxed image in,
//! detections out.

use std::path::{Path, PathBuf};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;

use super::input_shape::InputShape;
use super::layout::OutputLayout;
use super::letterbox::{letterbox, FrameRef, LetterboxedImage};
use super::output::{decode_output, OutputParams};
use super::{names, nms, runtime, DetectError, Detection};

/// Bounds on NMS work and output, far above what a real frame holds.
const MAX_CANDIDATES: usize = 10_000;
const MAX_DETECTIONS: usize = 300;

/// What it takes to load a detector.
#[derive(Debug, Clone)]
pub struct DetectorConfig {
    pub model: PathBuf,
    /// A names file that overrides the model's own `names` metadata.
    pub names: Option<PathBuf>,
    pub ort_library: PathBuf,
    /// Intra-op threads of the session; parallelism across frames comes from several workers.
    pub threads: usize,
}

/// Per-request thresholds and class selection.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectParams {
    pub confidence: f32,
    pub iou: f32,
    /// Class names to keep; empty keeps every class.
    pub classes: Vec<String>,
}

impl Default for DetectParams {
    fn default() -> Self {
        Self {
            confidence: 0.25,
            iou: 0.45,
            classes: Vec::new(),
        }
    }
}

/// What was learnt about a model when it was loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub input_name: String,
    pub input: InputShape,
    pub layout: OutputLayout,
    pub names: Vec<String>,
}

impl ModelInfo {
    /// The class name of `class_id`, or its number for a model with fewer names than classes.
    pub fn class_name(&self, class_id: usize) -> String {
        names::class_name(&self.names, class_id)
    }

    /// Validates class names against the model and turns them into a keep-mask.
    pub fn class_mask(&self, classes: &[String]) -> Result<Option<Vec<bool>>, DetectError> {
        if classes.is_empty() {
            return Ok(None);
        }
        let mut mask = vec![false; self.layout.classes()];
        for name in classes {
            let id = self
                .names
                .iter()
                .position(|n| n == name)
                .ok_or_else(|| DetectError::UnknownClass {
                    name: name.clone(),
                    known: self.names.join(", "),
                })?;
            mask[id] = true;
        }
        Ok(Some(mask))
    }
}

pub struct Detector {
    session: Session,
    info: ModelInfo,
    /// The model's float input, kept from run to run: a fresh one per frame was a megabyte of new
    /// pages for the kernel to map and zero each time.
    tensor: Vec<f32>,
}

impl Detector {
    pub fn load(config: &DetectorConfig) -> Result<Self, DetectError> {
        let env = runtime::environment(&config.ort_library)?;
        if !config.model.is_file() {
            return Err(DetectError::ModelMissing {
                path: config.model.clone(),
            });
        }
        let load_err = |e: &dyn std::fmt::Display| DetectError::ModelLoad {
            path: config.model.clone(),
            message: e.to_string(),
        };
        let session = Session::builder(&env)
            .and_then(|b| Ok(b.with_optimization_level(GraphOptimizationLevel::All)?))
            .and_then(|b| Ok(b.with_intra_threads(config.threads.max(1))?))
            .and_then(|b| Ok(b.with_inter_threads(1)?))
            .and_then(|mut b| b.commit_from_file(&config.model))
            .map_err(|e| load_err(&e))?;
        let info = inspect(&session, config)?;
        Ok(Self {
            session,
            info,
            tensor: Vec::new(),
        })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Runs the model once on a grey image. ONNX Runtime sizes its buffers on a session's first
    /// run, which takes longer than the ones after; a worker does it before it takes requests so
    /// that the first frames of the first job do not wait for it.
    pub fn warm_up(&mut self) -> Result<(), DetectError> {
        let InputShape { width, height, .. } = self.info.input;
        let grey = LetterboxedImage {
            width,
            height,
            rgb: vec![114; width as usize * height as usize * 3],
        };
        self.detect_letterboxed(&grey, &DetectParams::default()).map(drop)
    }

    /// Runs the model on an image already letterboxed to a size the model takes
    /// (`InputShape::letterbox`). Boxes come back in model-input pixels, after NMS;
    /// `Letterbox::to_source` maps them to the frame.
    pub fn detect_letterboxed(
        &mut self,
        image: &LetterboxedImage,
        params: &DetectParams,
    ) -> Result<Vec<Detection>, DetectError> {
        let (w, h) = (image.width, image.height);
        if !self.info.input.accepts(w, h) || image.rgb.len() != w as usize * h as usize * 3 {
            return Err(DetectError::InputSize {
                expected: self.info.input.to_string(),
                got: (w, h),
            });
        }
        let decode_params = OutputParams {
            confidence: params.confidence,
            allowed: self.info.class_mask(&params.classes)?,
        };
        to_chw(image, &mut self.tensor);
        let input = TensorRef::from_array_view(([1usize, 3, h as usize, w as usize], self.tensor.as_slice()))
            .map_err(|e| DetectError::Inference(e.to_string()))?;
        let outputs = self
            .session
            .run(ort::inputs![self.info.input_name.as_str() => input])
            .map_err(|e| DetectError::Inference(e.to_string()))?;
        let (shape, data) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| DetectError::Inference(e.to_string()))?;
        // Check the concrete shape too: a model may declare dynamic dimensions.
        let layout = OutputLayout::infer(shape, Some(self.info.layout.classes()))?;
        let candidates = decode_output(data, layout, &decode_params);
        let kept = nms::nms(candidates, params.iou, MAX_CANDIDATES, MAX_DETECTIONS);
        Ok(kept
            .into_iter()
            .map(|c| Detection {
                class_id: c.class_id as u16,
                confidence: c.score,
                bbox: c.bbox,
            })
            .collect())
    }

    /// Letterboxes `frame`, detects, and maps boxes back to the frame's pixels.
    pub fn detect_frame(&mut self, frame: &FrameRef<'_>, params: &DetectParams) -> Result<Vec<Detection>, DetectError> {
        let lb = self.info.input.letterbox(frame.width, frame.height);
        let image = letterbox(frame, &lb);
        let mut dets = self.detect_letterboxed(&image, params)?;
        for d in &mut dets {
            d.bbox = lb.to_source(&d.bbox);
        }
        Ok(dets)
    }
}

/// RGB u8 interleaved → planar float in 0..1, the input YOLO exports expect.
fn to_chw(image: &LetterboxedImage, out: &mut Vec<f32>) {
    let plane = (image.width * image.height) as usize;
    out.resize(plane * 3, 0.0);
    for (i, px) in image.rgb.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * plane + i] = px[c] as f32 * (1.0 / 255.0);
        }
    }
}

/// Reads input size, output layout and class names off a loaded session.
fn inspect(session: &Session, config: &DetectorConfig) -> Result<ModelInfo, DetectError> {
    let bad_model = |message: String| DetectError::ModelShape {
        path: config.model.clone(),
        message,
    };
    let [model_input] = session.inputs() else {
        return Err(bad_model(format!(
            "expected one input, found {}",
            session.inputs().len()
        )));
    };
    let dims: Vec<i64> = model_input
        .dtype()
        .tensor_shape()
        .map(|s| s.to_vec())
        .unwrap_or_default();
    let metadata = session.metadata().ok();
    let imgsz = metadata
        .as_ref()
        .and_then(|m| m.custom("imgsz"))
        .and_then(|s| parse_imgsz(&s));
    // A model's own stride, for one whose height and width are both open (Ultralytics' metadata)
    let stride = metadata
        .as_ref()
        .and_then(|m| m.custom("stride"))
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|s| (1..=MAX_INPUT_SIDE).contains(s));
    let input = match dims.as_slice() {
        [_, 3, h, w] if *h > 0 && *w > 0 => {
            let (height, width) = input_size(*h, *w)
                .ok_or_else(|| bad_model(format!("input size {h}×{w} is over {MAX_INPUT_SIDE} pixels a side")))?;
            InputShape::fixed(width, height)
        }
        [_, 3, h, w] => {
            let (height, width) =
                imgsz.ok_or_else(|| bad_model("input size is dynamic and no imgsz metadata says it".into()))?;
            InputShape {
                width,
                height,
                stride: stride.filter(|_| *h <= 0 && *w <= 0),
            }
        }
        _ => return Err(bad_model(format!("input shape {dims:?} is not [1, 3, H, W]"))),
    };
    let names = match &config.names {
        Some(path) => read_names_file(path)?,
        None => metadata
            .as_ref()
            .and_then(|m| m.custom("names"))
            .and_then(|s| names::parse_metadata(&s))
            .unwrap_or_default(),
    };
    let output = session
        .outputs()
        .first()
        .ok_or_else(|| bad_model("the model has no output".into()))?;
    let out_dims: Vec<i64> = output.dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default();
    let known = (!names.is_empty()).then_some(names.len());
    let layout = OutputLayout::infer(&out_dims, known)?;
    Ok(ModelInfo {
        path: config.model.clone(),
        input_name: model_input.name().to_string(),
        input,
        layout,
        names,
    })
}

/// `imgsz` metadata: `[640, 640]` (height, width) or a single number.
/// The largest model input side accepted. YOLO models take 320 to 1280; a larger claim is a
/// broken file, and every request's image (3 bytes a pixel) is sized by it.
const MAX_INPUT_SIDE: u32 = 4096;

/// A model input of `h`×`w`, when both sides are within 1..=`MAX_INPUT_SIDE`.
fn input_size(h: i64, w: i64) -> Option<(u32, u32)> {
    let side = |v: i64| (1..=i64::from(MAX_INPUT_SIDE)).contains(&v).then_some(v as u32);
    Some((side(h)?, side(w)?))
}

fn parse_imgsz(s: &str) -> Option<(u32, u32)> {
    let nums: Vec<u32> = s
        .trim_matches(|c| c == '[' || c == ']' || c == '(' || c == ')')
        .split(',')
        .map(|n| n.trim().parse().ok())
        .collect::<Option<_>>()?;
    match nums.as_slice() {
        [n] => input_size(i64::from(*n), i64::from(*n)),
        [h, w] => input_size(i64::from(*h), i64::from(*w)),
        _ => None,
    }
}

fn read_names_file(path: &Path) -> Result<Vec<String>, DetectError> {
    let text = std::fs::read_to_string(path).map_err(|e| DetectError::NamesFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let names = names::parse_file(&text);
    if names.is_empty() {
        return Err(DetectError::NamesFile {
            path: path.to_path_buf(),
            message: "it holds no class names".into(),
        });
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imgsz_forms() {
        assert_eq!(parse_imgsz("[416, 416]"), Some((416, 416)));
        assert_eq!(parse_imgsz("[384, 640]"), Some((384, 640)));
        assert_eq!(parse_imgsz("640"), Some((640, 640)));
        assert_eq!(parse_imgsz("[0, 1]"), None);
        assert_eq!(parse_imgsz("big"), None);
        assert_eq!(parse_imgsz("[5000, 640]"), None, "over the largest side accepted");
        assert_eq!(input_size(4096, 1), Some((4096, 1)));
        assert_eq!(input_size(4097, 416), None);
        assert_eq!(input_size(416, i64::MAX), None);
    }

    #[test]
    fn chw_planes_are_scaled() {
        let img = LetterboxedImage {
            width: 2,
            height: 1,
            rgb: vec![255, 0, 51, 0, 255, 102],
        };
        let want = [1.0, 0.0, 0.0, 1.0, 0.2, 0.4];
        let mut out = vec![7.0; 100];
        to_chw(&img, &mut out);
        assert_eq!(out.len(), 6);
        for (got, want) in out.iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{got} != {want}");
        }
    }
}
