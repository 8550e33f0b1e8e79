//! `sightline bench accuracy`: the accuracy gate. A candidate model (a quantised or otherwise
//! cheaper one) runs beside the reference on the same pictures, decoded and letterboxed as the
//! pipeline does; their boxes are matched, and the person tracks each gives on the video counted.
//! With `--gate` it exits 1 when the candidate falls below the thresholds a default model must
//! reach.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use sightline_actors::detect::agreement::{Agreement, ClassAgreement, THRESHOLDS};
use sightline_actors::detect::{
    default_library_path, letterbox, letterbox_frame, DetectParams, Detection, Detector, DetectorConfig, FrameRef,
    Letterbox, LetterboxedImage, PixelFormat,
};
use sightline_actors::media::Decoder;
use sightline_actors::track::{Tracker, TrackerConfig};

use crate::model_args::{DEFAULT_MODEL, REFERENCE_MODEL};

/// Recall and precision a candidate must reach at each of `THRESHOLDS`.
const GATE_AGREEMENT: [f64; 2] = [0.95, 0.98];
/// How far its person track count may be from the reference's.
const GATE_TRACKS: f64 = 0.10;

#[derive(Args)]
pub struct AccuracyBenchArgs {
    /// The model checked: by default the one the other commands use.
    #[arg(long, env = "SIGHTLINE_MODEL", default_value = DEFAULT_MODEL)]
    candidate: PathBuf,
    /// The model it is checked against.
    #[arg(long, default_value = REFERENCE_MODEL)]
    reference: PathBuf,
    /// The video: boxes compared on every `stride`-th frame, tracks counted over every frame.
    #[arg(long, default_value = ".cache/media/vtest.avi")]
    video: PathBuf,
    /// Read only the first N frames of the video.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    frames: Option<u64>,
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    stride: u64,
    /// Photos whose boxes are compared too (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = ".cache/media/dog.jpg,.cache/media/person.jpg,.cache/media/horses.jpg,.cache/media/giraffe.jpg,.cache/media/kite.jpg"
    )]
    photos: Vec<PathBuf>,
    /// Intra-op threads of each model's session.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: u16,
    /// Exit 1 when the candidate is below the gate.
    #[arg(long)]
    gate: bool,
    /// ONNX Runtime shared library (libonnxruntime.so.1.31.1).
    #[arg(long = "ort-lib", env = "ORT_DYLIB_PATH", default_value_os_t = default_library_path())]
    ort_lib: PathBuf,
}

/// One model with what it has seen so far.
struct Side {
    detector: Detector,
    tracker: Tracker,
    persons: HashSet<u64>,
    busy: Duration,
    runs: u32,
}

impl Side {
    fn load(args: &AccuracyBenchArgs, model: &Path) -> anyhow::Result<Side> {
        let detector = Detector::load(&DetectorConfig {
            model: model.to_path_buf(),
            names: None,
            ort_library: args.ort_lib.clone(),
            threads: args.threads.into(),
        })?;
        Ok(Side {
            detector,
            tracker: Tracker::new(TrackerConfig::default())?,
            persons: HashSet::new(),
            busy: Duration::ZERO,
            runs: 0,
        })
    }

    /// A picture of `width`×`height` letterboxed as this model takes it (`draw` fills the image),
    /// its boxes mapped back to the picture. Only the model's run is timed.
    fn detect(
        &mut self,
        (width, height): (u32, u32),
        draw: impl Fn(&Letterbox) -> LetterboxedImage,
    ) -> anyhow::Result<Vec<Detection>> {
        let lb = self.detector.info().input.letterbox(width, height);
        let image = draw(&lb);
        let started = Instant::now();
        let mut boxes = self.detector.detect_letterboxed(&image, &DetectParams::default())?;
        self.busy += started.elapsed();
        self.runs += 1;
        for d in &mut boxes {
            d.bbox = lb.to_source(&d.bbox);
        }
        Ok(boxes)
    }

    /// A video frame's boxes, tracked.
    fn track(&mut self, boxes: &[Detection], person: Option<u16>) {
        for t in self.tracker.update(boxes) {
            if Some(t.class_id) == person {
                self.persons.insert(t.track_id);
            }
        }
    }

    fn ms_per_run(&self) -> f64 {
        self.busy.as_secs_f64() * 1000.0 / f64::from(self.runs.max(1))
    }
}

pub async fn run(args: AccuracyBenchArgs) -> anyhow::Result<ExitCode> {
    let mut reference = Side::load(&args, &args.reference)?;
    let mut candidate = Side::load(&args, &args.candidate)?;
    let info = reference.detector.info().clone();
    anyhow::ensure!(
        candidate.detector.info().names == info.names,
        "the two models name their classes differently"
    );
    let person = info.names.iter().position(|n| n == "person").map(|i| i as u16);
    let mut agreement = Agreement::default();

    let mut decoder = Decoder::open(&args.video)?;
    let mut frames = 0u64;
    let mut compared = 0u64;
    while args.frames.is_none_or(|n| frames < n) {
        let Some(frame) = decoder.next_frame(Duration::from_secs(30))? else {
            break;
        };
        let size = (frame.layout.width, frame.layout.height);
        let draw = |lb: &Letterbox| letterbox_frame(&frame, lb);
        let (r, c) = (reference.detect(size, draw)?, candidate.detect(size, draw)?);
        if frame.index % args.stride == 0 {
            agreement.add(&r, &c);
            compared += 1;
        }
        reference.track(&r, person);
        candidate.track(&c, person);
        frames += 1;
    }
    for photo in &args.photos {
        let img = image::open(photo)
            .with_context(|| format!("cannot read {}", photo.display()))?
            .to_rgb8();
        let frame = FrameRef::packed(img.as_raw(), img.width(), img.height(), PixelFormat::Rgb)
            .context("decoded image buffer is smaller than its size")?;
        let size = (img.width(), img.height());
        let draw = |lb: &Letterbox| letterbox(&frame, lb);
        agreement.add(&reference.detect(size, draw)?, &candidate.detect(size, draw)?);
    }

    println!("reference {}", args.reference.display());
    println!("candidate {}", args.candidate.display());
    println!(
        "pictures: {compared} frames of {} (every {}th of {frames}) and {} photos",
        args.video.display(),
        args.stride,
        args.photos.len()
    );
    println!();
    println!(
        "{:<16} {:>8} {:>10} {:>10} {:>8} {:>10} {:>10}",
        "class", "ref≥0.25", "recall", "precision", "ref≥0.5", "recall", "precision"
    );
    for (class, a) in &agreement.classes {
        print_row(&info.names.get(*class as usize).cloned().unwrap_or_default(), a);
    }
    let pooled = agreement.pooled();
    print_row("all", &pooled);
    println!();
    let (r_tracks, c_tracks) = (reference.persons.len() as f64, candidate.persons.len() as f64);
    let track_change = if r_tracks > 0.0 { c_tracks / r_tracks - 1.0 } else { 0.0 };
    println!(
        "person tracks over {frames} frames: reference {r_tracks}, candidate {c_tracks} ({:+.1}%)",
        track_change * 100.0
    );
    println!(
        "detect ms per picture ({} thread(s)): reference {:.1}, candidate {:.1} ({:.2}×)",
        args.threads,
        reference.ms_per_run(),
        candidate.ms_per_run(),
        candidate.ms_per_run() / reference.ms_per_run()
    );
    let passes = pooled.reaches(GATE_AGREEMENT) && track_change.abs() <= GATE_TRACKS;
    println!(
        "gate (recall and precision ≥ {} at {}, ≥ {} at {}; person tracks within ±{}%): {}",
        GATE_AGREEMENT[0],
        THRESHOLDS[0],
        GATE_AGREEMENT[1],
        THRESHOLDS[1],
        GATE_TRACKS * 100.0,
        if passes { "PASS" } else { "FAIL" }
    );
    if args.gate && !passes {
        eprintln!(
            "{} is below the accuracy gate against {}",
            args.candidate.display(),
            args.reference.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_row(name: &str, a: &ClassAgreement) {
    println!(
        "{:<16} {:>8} {:>10.3} {:>10.3} {:>8} {:>10.3} {:>10.3}",
        name,
        a.recall[0].total,
        a.recall[0].ratio(),
        a.precision[0].ratio(),
        a.recall[1].total,
        a.recall[1].ratio(),
        a.precision[1].ratio()
    );
}
