//! `sightline bench pipeline VIDEO`: where a frame's CPU time goes, and how close the pipeline
//! comes to what this machine allows.
//!
//! (b) runs first — the full pipeline on the whole video, detection on every frame — so its peak
//! RSS is not inflated by the frames the stage measurements hold. (a) then measures each stage
//! alone on the same first frames: decode, detection (letterbox + model, the same workers),
//! drawing, encoding of every rendition. Stage costs are process CPU time per frame, which counts
//! every thread (x264's and ONNX Runtime's included); `limit fps = cores ÷ sum of stage costs`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use ractor::ActorRef;
use sightline_actors::detect::{letterbox_i420, DetectParams, Detection, InputShape, Letterbox, YuvMatrix};
use sightline_actors::frame::{Frame, I420Layout};
use sightline_actors::hls::ladder;
use sightline_actors::job::{EngineSettings, JobKind, JobOptions, JobProgress, JobSpec, Preset, RenderOptions};
use sightline_actors::media::{probe, Decoder, Encoder, EncoderConfig, Input};
use sightline_actors::pipeline::run_job;
use sightline_actors::render::label::label;
use sightline_actors::render::{DrawItem, Painter, RenderStyle};
use sightline_actors::store::{Store, VideoRecord};
use sightline_actors::workers::{detect, spawn_local, DetectRequest, DetectorMsg};

use super::usage::{cpu_time, peak_rss_mib};
use crate::model_args::ModelArgs;
use crate::value_parsers;

#[derive(Args)]
pub struct PipelineBenchArgs {
    /// The video to measure with.
    video: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// Local detector workers.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    workers: u16,
    /// Intra-op threads per worker.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: u16,
    /// Frames (from the start) each stage is measured on.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(10..=100_000))]
    frames: u32,
    /// Credit window of the full pipeline.
    #[arg(long, default_value_t = 8, value_parser = value_parsers::window)]
    window: usize,
    /// x264 speed preset: ultrafast, superfast, veryfast, faster, fast or medium.
    #[arg(long, default_value_t = Preset::default(), value_parser = value_parsers::preset)]
    preset: Preset,
    /// Skip the per-stage measurements (only the full pipeline and its memory).
    #[arg(long)]
    pipeline_only: bool,
}

/// CPU and wall time of one measured section.
struct Cost {
    cpu: Duration,
    wall: Duration,
}

fn measure<T>(f: impl FnOnce() -> T) -> (T, Cost) {
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    let out = f();
    let cost = Cost {
        cpu: cpu_time().saturating_sub(cpu0),
        wall: wall0.elapsed(),
    };
    (out, cost)
}

pub async fn run(args: PipelineBenchArgs) -> anyhow::Result<ExitCode> {
    let video = probe(&args.video, Duration::from_secs(15))?;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let (workers, info) = spawn_local(&args.model.detector_config(args.threads.into()), args.workers.into())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let renditions = ladder(video.width, video.height, video.fps);
    let names: Vec<&str> = renditions.iter().map(|r| r.name.as_str()).collect();
    println!(
        "{}: {}x{} @ {:.2} fps, {:.1} s; {} renditions ({}); {cores} cores; {} workers × {} thread(s); preset {}",
        args.video.display(),
        video.width,
        video.height,
        video.fps,
        video.duration_ms as f64 / 1000.0,
        renditions.len(),
        names.join(", "),
        args.workers,
        args.threads,
        args.preset
    );

    // (b) The full pipeline.
    let scratch = tempfile::tempdir().context("temp dir")?;
    let store = Store::open(&scratch.path().join("store"))?;
    let record = store.create_video(VideoRecord::queued(
        "bench".into(),
        0,
        &video,
        info.path.display().to_string(),
        info.names.clone(),
        JobOptions::default(),
    ))?;
    let settings = EngineSettings {
        window: args.window,
        request_timeout: Duration::from_secs(60),
        preset: args.preset,
        ..EngineSettings::default()
    };
    let spec = JobSpec::new(
        &record,
        JobKind::Process,
        &RenderOptions::default(),
        Input::File(args.video.clone()),
        scratch.path().join("out"),
        &info,
        &settings,
    );
    let (tx, _rx) = tokio::sync::watch::channel(JobProgress::default());
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    let outcome = run_job(spec, store, tx, None).await;
    let (pipe_cpu, pipe_wall) = (cpu_time().saturating_sub(cpu0), wall0.elapsed());
    if let Some(e) = outcome.error {
        anyhow::bail!("the pipeline failed: {e}");
    }
    let pipeline_rss = peak_rss_mib();
    let pipe_frames = outcome.frames.max(1) as f64;
    let pipe_fps = pipe_frames / pipe_wall.as_secs_f64();
    let realtime = video.duration_ms as f64 / 1000.0 / pipe_wall.as_secs_f64();

    println!();
    println!(
        "full pipeline    {:>7.1} fps  {:>5.2}× real time  {:>6.1} CPU ms/frame  {} frames in {:.1} s",
        pipe_fps,
        realtime,
        pipe_cpu.as_secs_f64() * 1000.0 / pipe_frames,
        outcome.frames,
        pipe_wall.as_secs_f64()
    );
    println!("peak RSS         {pipeline_rss:>7.1} MiB (process, after the full pipeline)");
    if args.pipeline_only {
        return Ok(ExitCode::SUCCESS);
    }

    // (a) Each stage alone on the same frames.
    let (frames, decode) = measure(|| decode_first(&args.video, args.frames as usize));
    let frames = frames?;
    let n = frames.len() as f64;
    // Letterboxing is part of the detect stage; measured alone here to show what it costs.
    let ((), letterbox) = measure(|| {
        for f in &frames {
            let lb = info.input.letterbox(f.layout.width, f.layout.height);
            let matrix = YuvMatrix::for_height(f.layout.height);
            std::hint::black_box(letterbox_i420(&f.data, f.layout, &lb, matrix));
        }
    });
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    let detections = detect_all(&workers, &frames, info.input).await?;
    let detect = Cost {
        cpu: cpu_time().saturating_sub(cpu0),
        wall: wall0.elapsed(),
    };
    let mut frames = frames;
    let (drawn, draw) = measure(|| draw_all(&mut frames, &detections, &info.names));
    drawn?;
    let out = scratch.path().join("encode-stage");
    let (encoded, encode) = measure(|| encode_all(frames, &out, args.preset, video.fps));
    encoded?;

    println!();
    println!("stage (alone, first {} frames)      CPU ms/frame   wall fps", n as u64);
    // (name, cost, counted in the sum): letterboxing is already inside detection's cost.
    let stages = [
        ("decode (+ the one copy)", &decode, true),
        ("detect (letterbox + model)", &detect, true),
        ("  of which letterbox (1 thread)", &letterbox, false),
        ("draw boxes and labels", &draw, true),
        ("encode all renditions", &encode, true),
    ];
    let mut sum = 0.0;
    for (name, c, counted) in stages {
        let ms = c.cpu.as_secs_f64() * 1000.0 / n;
        if counted {
            sum += ms;
        }
        println!("{name:<36} {ms:>12.2} {:>10.1}", n / c.wall.as_secs_f64().max(1e-9));
    }
    let limit = cores as f64 * 1000.0 / sum;
    println!("{:<36} {sum:>12.2}", "sum");
    println!();
    println!("limit            {limit:>7.1} fps  ({cores} cores ÷ {sum:.2} CPU ms/frame)");
    println!(
        "full pipeline    {pipe_fps:>7.1} fps  = {:.2} of the limit",
        pipe_fps / limit
    );
    println!(
        "bare detection   {:>7.1} fps  ({} workers, wall)",
        n / detect.wall.as_secs_f64(),
        args.workers
    );
    for w in workers {
        w.stop(None);
    }
    Ok(ExitCode::SUCCESS)
}

fn decode_first(path: &std::path::Path, count: usize) -> anyhow::Result<Vec<Frame>> {
    let mut decoder = Decoder::open(path)?;
    let mut frames = Vec::with_capacity(count);
    while frames.len() < count {
        match decoder.next_frame(Duration::from_secs(30))? {
            Some(f) => frames.push(f),
            None => break,
        }
    }
    Ok(frames)
}

/// Letterbox and detect every frame, spreading frames over the workers, one request in flight
/// per worker; boxes mapped back to frame pixels.
async fn detect_all(
    workers: &[ActorRef<DetectorMsg>],
    frames: &[Frame],
    model: InputShape,
) -> anyhow::Result<Vec<Vec<Detection>>> {
    let mut tasks = Vec::new();
    for (w, worker) in workers.iter().enumerate() {
        let mine: Vec<(usize, Letterbox, Vec<u8>, I420Layout)> = frames
            .iter()
            .enumerate()
            .filter(|(i, _)| i % workers.len() == w)
            .map(|(i, f)| {
                let lb = model.letterbox(f.layout.width, f.layout.height);
                (i, lb, f.data.clone(), f.layout)
            })
            .collect();
        let worker = worker.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for (i, lb, data, layout) in mine {
                let image = letterbox_i420(&data, layout, &lb, YuvMatrix::for_height(layout.height));
                let request = DetectRequest {
                    image,
                    params: DetectParams::default(),
                };
                let dets = detect(&worker.get_cell(), request, Duration::from_secs(60))
                    .await
                    .map_err(anyhow::Error::msg)?;
                let dets = dets
                    .into_iter()
                    .map(|d| Detection {
                        bbox: lb.to_source(&d.bbox),
                        ..d
                    })
                    .collect::<Vec<_>>();
                out.push((i, dets));
            }
            anyhow::Ok(out)
        }));
    }
    let mut all = vec![Vec::new(); frames.len()];
    for t in tasks {
        for (i, dets) in t.await?? {
            all[i] = dets;
        }
    }
    Ok(all)
}

fn draw_all(frames: &mut [Frame], detections: &[Vec<Detection>], names: &[String]) -> anyhow::Result<()> {
    let Some(first) = frames.first() else { return Ok(()) };
    let mut painter = Painter::new(RenderStyle::default(), first.layout.height)?;
    for (f, dets) in frames.iter_mut().zip(detections) {
        let items: Vec<DrawItem> = dets
            .iter()
            .map(|d| DrawItem {
                bbox: d.bbox,
                class_id: d.class_id,
                label: label(names, d.class_id, d.confidence, None),
            })
            .collect();
        painter.draw(&mut f.data, f.layout, &items)?;
    }
    Ok(())
}

fn encode_all(frames: Vec<Frame>, out: &std::path::Path, preset: Preset, fps: f64) -> anyhow::Result<()> {
    let Some(first) = frames.first() else { return Ok(()) };
    let config = EncoderConfig {
        out_dir: out.to_path_buf(),
        renditions: ladder(first.layout.width, first.layout.height, fps),
        segment_seconds: 2.0,
        fps,
        preset,
        audio: false,
        live: None,
    };
    let mut encoder = Encoder::start(config, first.layout)?;
    for f in frames {
        encoder.push(f, Duration::from_secs(60))?;
    }
    encoder.finish(Duration::from_secs(120))?;
    Ok(())
}
