//! `sightline process VIDEO`: the whole pipeline on one node, with a progress bar and a summary.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use sightline_actors::job::{EngineSettings, JobKind, JobOptions, JobProgress, JobSpec, Preset, RenderOptions};
use sightline_actors::media::{probe, Input};
use sightline_actors::pipeline::run_job;
use sightline_actors::store::{Store, VideoRecord, VideoStatus};
use sightline_actors::workers::spawn_local;

use crate::limit_args::LimitArgs;
use crate::model_args::ModelArgs;
use crate::value_parsers;

#[derive(Args, Debug)]
pub struct ProcessArgs {
    /// The video to process.
    video: PathBuf,
    /// Output folder for master.m3u8 and one folder per rendition [default: out/<video id>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Data folder; the store (video records, detections, stats) lives in its `store/`.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    limits: LimitArgs,
    /// Minimum confidence of a detection, 0..1.
    #[arg(long, default_value_t = 0.25, value_parser = value_parsers::confidence)]
    conf: f32,
    /// IoU above which NMS merges boxes of one class, 0..1.
    #[arg(long, default_value_t = 0.45, value_parser = value_parsers::iou)]
    iou: f32,
    /// Keep only these classes (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    classes: Vec<String>,
    /// Detect every N-th frame; frames in between reuse the last boxes.
    #[arg(long, default_value_t = 1, value_parser = value_parsers::every)]
    every: u64,
    /// Local detector workers (one ONNX Runtime session each).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    workers: u16,
    /// Intra-op threads per worker.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: u16,
    /// HLS segment duration in seconds.
    #[arg(long, default_value_t = 2.0, value_parser = value_parsers::segment_seconds)]
    segment_seconds: f64,
    /// Frames in flight between decoder and encoder (memory is bounded by this × frame size).
    #[arg(long, default_value_t = 8, value_parser = value_parsers::window)]
    window: usize,
    /// x264 speed preset: ultrafast, superfast, veryfast, faster, fast or medium.
    #[arg(long, default_value_t = Preset::default(), value_parser = value_parsers::preset)]
    preset: Preset,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Summary {
    video_id: String,
    status: VideoStatus,
    error: Option<String>,
    /// What a `ready` job did without, e.g. a sound track it could not read.
    warnings: Vec<String>,
    master: PathBuf,
    frames: u64,
    segments: usize,
    detections: u64,
    detections_by_class: std::collections::BTreeMap<String, u64>,
    wall_seconds: f64,
    fps: f64,
    realtime_factor: f64,
}

impl ProcessArgs {
    /// The data folder, where the store (and the libraries' caches) go.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data
    }
}

pub async fn run(args: ProcessArgs) -> anyhow::Result<ExitCode> {
    let limits = args.limits.limits().map_err(anyhow::Error::msg)?;
    let video = probe(&args.video, Duration::from_secs(15))?;
    limits
        .check(&video)
        .with_context(|| format!("{} is over an input limit", args.video.display()))?;
    let store = Store::open(&args.data.join("store"))?;
    let (workers, info) = spawn_local(&args.model.detector_config(args.threads.into()), args.workers.into())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let options = JobOptions {
        confidence: args.conf,
        iou: args.iou,
        classes: args.classes.clone(),
        every: args.every,
    };
    options.validate(&info.names)?;

    let record = store.create_video(VideoRecord::queued(
        args.video
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::fs::metadata(&args.video).map(|m| m.len()).unwrap_or(0),
        &video,
        info.path.display().to_string(),
        info.names.clone(),
        options,
    ))?;
    let frames_total = record.progress.frames_total;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(record.id.to_string()));
    prepare_out_dir(&out)?;

    let settings = EngineSettings {
        window: args.window,
        segment_seconds: args.segment_seconds,
        preset: args.preset,
        ..EngineSettings::default()
    };
    let spec = JobSpec::new(
        &record,
        JobKind::Process,
        &RenderOptions::default(),
        Input::File(args.video.clone()),
        out.clone(),
        &info,
        &settings,
    );
    let (progress_tx, progress_rx) = tokio::sync::watch::channel(JobProgress {
        frames_total,
        ..JobProgress::default()
    });
    let bar = progress_bar(frames_total);
    let watcher = tokio::spawn(follow(progress_rx, bar.clone()));
    let outcome = run_job(spec, store.clone(), progress_tx, None).await;
    watcher.abort();
    bar.finish_and_clear();
    for w in workers {
        w.stop(None);
    }

    let wall = outcome.wall.as_secs_f64().max(1e-6);
    let summary = Summary {
        video_id: record.id.to_string(),
        status: outcome.status,
        error: outcome.error.clone(),
        warnings: outcome.warnings.clone(),
        master: out.join("master.m3u8"),
        frames: outcome.frames,
        segments: outcome.segments,
        detections: outcome.class_counts.values().sum(),
        detections_by_class: outcome
            .class_counts
            .iter()
            .map(|(id, n)| (info.class_name(*id as usize), *n))
            .collect(),
        wall_seconds: wall,
        fps: outcome.frames as f64 / wall,
        realtime_factor: video.duration_ms as f64 / 1000.0 / wall,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&args.video, &summary);
    }
    match outcome.status {
        VideoStatus::Ready => Ok(ExitCode::SUCCESS),
        _ => bail!(
            "processing {} failed: {}",
            args.video.display(),
            outcome.error.unwrap_or_else(|| "unknown reason".into())
        ),
    }
}

/// The output folder must be new or empty: we never delete or overwrite a user's files.
fn prepare_out_dir(out: &std::path::Path) -> anyhow::Result<()> {
    if out.exists() {
        let mut entries = std::fs::read_dir(out).with_context(|| format!("cannot read {}", out.display()))?;
        if entries.next().is_some() {
            bail!(
                "output folder {} is not empty; choose another with --out",
                out.display()
            );
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))
}

fn progress_bar(total: Option<u64>) -> ProgressBar {
    let bar = ProgressBar::new(total.unwrap_or(0));
    let template = "{bar:40} {pos}/{len} frames  {per_sec}  ETA {eta}  {msg}";
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

async fn follow(mut rx: tokio::sync::watch::Receiver<JobProgress>, bar: ProgressBar) {
    while rx.changed().await.is_ok() {
        let p = rx.borrow_and_update().clone();
        if let Some(total) = p.frames_total {
            bar.set_length(total.max(p.frames_encoded));
        }
        bar.set_position(p.frames_encoded);
        bar.set_message(format!("{} detections", p.detections));
    }
}

fn print_summary(input: &std::path::Path, s: &Summary) {
    println!("{} → {}", input.display(), s.master.display());
    println!("video id      {}", s.video_id);
    println!("status        {}", s.status);
    for w in &s.warnings {
        println!("warning       {w}");
    }
    if s.status != VideoStatus::Ready {
        return;
    }
    println!("frames        {} in {} segments", s.frames, s.segments);
    let by_class: Vec<String> = s.detections_by_class.iter().map(|(c, n)| format!("{c} {n}")).collect();
    println!("detections    {} ({})", s.detections, by_class.join(", "));
    println!("wall time     {:.1} s", s.wall_seconds);
    println!("speed         {:.1} fps, {:.2}× real time", s.fps, s.realtime_factor);
}
