//! The `sightline` command: thin wiring of the engine crates behind a CLI.

mod bench;
mod config;
mod detect_cmd;
mod model_args;
mod process_cmd;
mod serve_cmd;
mod value_parsers;
mod worker_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sightline",
    version,
    about = "Server-side video analytics: decode, detect, track, render, stream."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Detect objects in still images and print them as a table or JSON.
    Detect(detect_cmd::DetectArgs),
    /// Decode, detect, render and encode one video to adaptive HLS, storing its detections.
    Process(process_cmd::ProcessArgs),
    /// Run the HTTP server: API, HLS streams, metrics, job queue, local detector workers.
    Serve(serve_cmd::ServeArgs),
    /// Join a coordinator as a worker node, adding detection capacity to the cluster.
    Worker(worker_cmd::WorkerArgs),
    /// Measure performance and print the figures.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Resolves on Ctrl-C or SIGTERM, so services stop cleanly under a terminal and a supervisor alike.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The server tells operators what it is doing; the one-shot commands stay quiet.
    let default_log = if matches!(cli.command, Command::Serve(_) | Command::Worker(_)) {
        "info"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SIGHTLINE_LOG").unwrap_or_else(|_| default_log.into()),
        )
        .init();
    let result = match cli.command {
        Command::Detect(args) => detect_cmd::run(args),
        Command::Process(args) => process_cmd::run(args).await,
        Command::Serve(args) => serve_cmd::run(args).await,
        Command::Worker(args) => worker_cmd::run(args).await,
        Command::Bench(cmd) => bench::run(cmd).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
