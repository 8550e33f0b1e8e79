//! `sightline bench detect`: the detector alone, sessions and worker actors.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use ractor::{Actor, ActorRef};
use sightline_actors::detect::{letterbox, DetectParams, Detector, FrameRef, LetterboxedImage, PixelFormat};
use sightline_actors::workers::{detect, DetectRequest, DetectorMsg, DetectorWorker};

use crate::model_args::ModelArgs;

#[derive(Args)]
pub struct DetectBenchArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Image the model runs on (any size: it is letterboxed once, as the pipeline does).
    #[arg(long, default_value = ".cache/media/dog.jpg")]
    image: PathBuf,
    /// Inferences per measurement.
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    frames: u32,
}

/// `image` letterboxed to the model's input size, as the pipeline sends it to a worker.
pub(super) fn model_input(model: &ModelArgs, image: &std::path::Path) -> anyhow::Result<LetterboxedImage> {
    let img = image::open(image)
        .with_context(|| format!("cannot read {}", image.display()))?
        .to_rgb8();
    let probe = Detector::load(&model.detector_config(1))?;
    let frame = FrameRef::packed(img.as_raw(), img.width(), img.height(), PixelFormat::Rgb)
        .context("decoded image buffer is smaller than its size")?;
    Ok(letterbox(
        &frame,
        &probe.info().input.letterbox(img.width(), img.height()),
    ))
}

pub async fn run(args: DetectBenchArgs) -> anyhow::Result<ExitCode> {
    let input = model_input(&args.model, &args.image)?;
    let (mw, mh) = (input.width, input.height);
    let n = args.frames as usize;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);

    println!(
        "model {} ({mw}x{mh}), {n} inferences per row, {cores} cores",
        args.model.model.display()
    );
    println!();
    println!(
        "{:<28} {:>10} {:>10} {:>10}",
        "single session", "mean ms", "p50 ms", "p90 ms"
    );
    for threads in [1, 2] {
        let times = time_session(&args.model, threads, &input, n)?;
        println!(
            "{:<28} {:>10.1} {:>10.1} {:>10.1}",
            format!("{threads} thread{}", if threads > 1 { "s" } else { "" }),
            mean_ms(&times),
            percentile_ms(&times, 0.5),
            percentile_ms(&times, 0.9)
        );
    }
    println!();
    println!("{:<28} {:>10} {:>10}", "workers (actors)", "frames/s", "ms/frame");
    let mut fps = Vec::new();
    for (workers, threads) in [(2usize, 1usize), (1, 2)] {
        let f = workers_fps(&args.model, workers, threads, &input, n * 2).await?;
        println!(
            "{:<28} {:>10.2} {:>10.1}",
            format!("{workers} × {threads} thread(s)"),
            f,
            1000.0 / f
        );
        fps.push(f);
    }
    println!();
    println!("2 workers × 1 thread ÷ 1 worker × 2 threads = {:.2}", fps[0] / fps[1]);
    Ok(ExitCode::SUCCESS)
}

/// Per-inference wall times of one session run back to back, after a warm-up.
fn time_session(
    model: &ModelArgs,
    threads: usize,
    input: &LetterboxedImage,
    n: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut detector = Detector::load(&model.detector_config(threads))?;
    let params = DetectParams::default();
    for _ in 0..3 {
        detector.detect_letterboxed(input, &params)?;
    }
    (0..n)
        .map(|_| {
            let t = Instant::now();
            detector.detect_letterboxed(input, &params)?;
            Ok(t.elapsed())
        })
        .collect()
}

/// Throughput of `workers` DetectorWorker actors sharing `frames` requests, each worker kept busy
/// by its own request loop (so one request is always queued behind the one running).
async fn workers_fps(
    model: &ModelArgs,
    workers: usize,
    threads: usize,
    input: &LetterboxedImage,
    frames: usize,
) -> anyhow::Result<f64> {
    let mut actors: Vec<ActorRef<DetectorMsg>> = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (actor, handle) = Actor::spawn(None, DetectorWorker, model.detector_config(threads)).await?;
        actors.push(actor);
        handles.push(handle);
    }
    // Warm up every session before the clock starts.
    for a in &actors {
        detect_via(a, input).await?;
    }
    let start = Instant::now();
    let per_worker = frames / workers;
    let loops: Vec<_> = actors
        .iter()
        .cloned()
        .map(|a| {
            let input = input.clone();
            tokio::spawn(async move {
                for _ in 0..per_worker {
                    detect_via(&a, &input).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for l in loops {
        l.await??;
    }
    let fps = (per_worker * workers) as f64 / start.elapsed().as_secs_f64();
    for a in actors {
        a.stop(None);
    }
    for h in handles {
        h.await?;
    }
    Ok(fps)
}

async fn detect_via(actor: &ActorRef<DetectorMsg>, input: &LetterboxedImage) -> anyhow::Result<()> {
    let request = DetectRequest {
        image: input.clone(),
        params: DetectParams::default(),
    };
    detect(&actor.get_cell(), request, Duration::from_secs(60))
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(())
}

pub(super) fn mean_ms(times: &[Duration]) -> f64 {
    times.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / times.len() as f64
}

pub(super) fn percentile_ms(times: &[Duration], q: f64) -> f64 {
    let mut sorted: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1000.0).collect();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}
