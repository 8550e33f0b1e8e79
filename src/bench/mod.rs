//! `sightline bench …`: figures printed from one run, so the ratios compare like with like.

mod accuracy;
mod detect;
mod pipeline;
mod remote;
mod store;
mod usage;

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// The accuracy gate: a candidate model's boxes matched against the reference's (same class,
    /// IoU ≥ 0.5) on video frames and photos, recall and precision per class at confidence 0.25
    /// and 0.5, and the person tracks each gives on the video.
    Accuracy(accuracy::AccuracyBenchArgs),
    /// Detector speed: ms per inference at 1 and 2 intra-op threads, and frames/s of
    /// 2 workers × 1 thread versus 1 worker × 2 threads.
    Detect(detect::DetectBenchArgs),
    /// Pipeline efficiency: each stage alone (CPU-seconds per frame), the limit they allow on this
    /// machine, the full pipeline against it, and peak memory.
    Pipeline(pipeline::PipelineBenchArgs),
    /// A detection's cost across nodes: the same request to a local worker and to a worker process
    /// joined over loopback, one at a time (ms per frame, and the difference).
    Remote(remote::RemoteBenchArgs),
    /// Detection store as the API uses it: window queries (plain and class-filtered) and stats on
    /// one long synthetic video, with the `wrk` commands to time the same over HTTP.
    Store(store::StoreBenchArgs),
}

pub async fn run(cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Accuracy(args) => accuracy::run(args).await,
        BenchCommand::Detect(args) => detect::run(args).await,
        BenchCommand::Pipeline(args) => pipeline::run(args).await,
        BenchCommand::Remote(args) => remote::run(args).await,
        BenchCommand::Store(args) => store::run(args).await,
    }
}
