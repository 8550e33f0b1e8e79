//! `sightline detect IMAGE...`: the detector on still images.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use serde::Serialize;
use sightline_actors::detect::{BBox, DetectParams, Detector, FrameRef, ModelInfo, PixelFormat};

use crate::model_args::ModelArgs;
use crate::value_parsers;

#[derive(Args, Debug)]
pub struct DetectArgs {
    /// Images to run the detector on (JPEG or PNG).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
    /// Minimum confidence of a detection, 0..1.
    #[arg(long, default_value_t = 0.25, value_parser = value_parsers::confidence)]
    conf: f32,
    /// IoU above which NMS merges boxes of one class, 0..1.
    #[arg(long, default_value_t = 0.45, value_parser = value_parsers::iou)]
    iou: f32,
    /// Keep only these classes (comma-separated names, e.g. person,car).
    #[arg(long, value_delimiter = ',')]
    classes: Vec<String>,
    /// Intra-op threads for the ONNX Runtime session.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: u16,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct ImageResult {
    image: String,
    width: u32,
    height: u32,
    detections: Vec<Found>,
}

#[derive(Serialize)]
struct Found {
    class: String,
    class_id: u16,
    confidence: f32,
    #[serde(rename = "box")]
    bbox: BBox,
}

pub fn run(args: DetectArgs) -> anyhow::Result<ExitCode> {
    // Check every image before paying for the model load, so a typo fails fast.
    let images = args
        .images
        .iter()
        .map(|p| load_rgb(p).map(|img| (p, img)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut detector = Detector::load(&args.model.detector_config(args.threads.into()))?;
    let params = DetectParams {
        confidence: args.conf,
        iou: args.iou,
        classes: args.classes.clone(),
    };
    detector.info().class_mask(&params.classes)?;
    let mut results = Vec::with_capacity(images.len());
    for (path, img) in &images {
        let (width, height) = img.dimensions();
        let frame = FrameRef::packed(img.as_raw(), width, height, PixelFormat::Rgb)
            .context("decoded image buffer is smaller than its size")?;
        let detections = detector
            .detect_frame(&frame, &params)?
            .into_iter()
            .map(|d| Found {
                class: detector.info().class_name(d.class_id.into()),
                class_id: d.class_id,
                confidence: d.confidence,
                bbox: d.bbox,
            })
            .collect();
        results.push(ImageResult {
            image: path.display().to_string(),
            width,
            height,
            detections,
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        print_table(&results, detector.info());
    }
    Ok(ExitCode::SUCCESS)
}

fn load_rgb(path: &Path) -> anyhow::Result<image::RgbImage> {
    if !path.exists() {
        bail!("{}: no such file", path.display());
    }
    let reader = image::ImageReader::open(path)
        .with_context(|| format!("cannot open {}", path.display()))?
        .with_guessed_format()
        .with_context(|| format!("cannot read {}", path.display()))?;
    match reader.decode() {
        Ok(img) => Ok(img.to_rgb8()),
        Err(e) => bail!("{} is not an image we can read (JPEG or PNG): {e}", path.display()),
    }
}

fn print_table(results: &[ImageResult], info: &ModelInfo) {
    let model = info.path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    for r in results {
        println!(
            "{} ({}x{}): {} objects [{model}]",
            r.image,
            r.width,
            r.height,
            r.detections.len()
        );
        if r.detections.is_empty() {
            continue;
        }
        println!(
            "  {:<16} {:>6} {:>7} {:>7} {:>7} {:>7}",
            "class", "conf", "x1", "y1", "x2", "y2"
        );
        for d in &r.detections {
            let b = d.bbox;
            println!(
                "  {:<16} {:>6.3} {:>7.1} {:>7.1} {:>7.1} {:>7.1}",
                d.class, d.confidence, b.x1, b.y1, b.x2, b.y2
            );
        }
    }
}
