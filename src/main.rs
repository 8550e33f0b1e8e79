//! The `sightline` command: thin wiring of the engine crates behind a CLI.

mod allocator;
mod bench;
mod caches;
mod config;
mod detect_cmd;
mod limit_args;
mod logging;
mod model_args;
mod process_cmd;
mod serve_cmd;
mod value_parsers;
mod worker_cmd;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sightline",
    version,
    about = "Server-side video analytics: decode, detect, track, render, stream."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    log: logging::LogArgs,
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
    /// Print a shell completion script: `sightline completions bash > /etc/bash_completion.d/sightline`.
    Completions { shell: clap_complete::Shell },
    /// Write man pages (sightline.1 and one per command) into a folder.
    Man {
        /// The folder, created if missing.
        #[arg(default_value = "man")]
        out: std::path::PathBuf,
    },
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

/// A command ready to run: the server's settings are read before anything starts.
enum Ready {
    Detect(detect_cmd::DetectArgs),
    Process(process_cmd::ProcessArgs),
    Serve(Box<sightline_openapi::ServerConfig>),
    Worker(worker_cmd::WorkerArgs),
    Bench(bench::BenchCommand),
}

fn main() -> ExitCode {
    allocator::configure();
    let cli = Cli::parse();
    // The server tells operators what it is doing; the one-shot commands stay quiet.
    let default_log = if matches!(cli.command, Command::Serve(_) | Command::Worker(_)) {
        "info"
    } else {
        "warn"
    };
    // Still one thread: the last moment the environment may change (see `caches`).
    let ready = match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "sightline", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Command::Man { out } => return man_pages(&out).map_or_else(fail, |()| ExitCode::SUCCESS),
        Command::Serve(args) => match serve_cmd::config(args) {
            Ok(config) => {
                caches::keep_in(&config.data_dir);
                Ready::Serve(Box::new(config))
            }
            Err(e) => return fail(e),
        },
        Command::Process(args) => {
            caches::keep_in(args.data_dir());
            Ready::Process(args)
        }
        Command::Detect(args) => Ready::Detect(args),
        Command::Worker(args) => Ready::Worker(args),
        Command::Bench(cmd) => Ready::Bench(cmd),
    };
    // The server's config may choose the log format; a flag or SIGHTLINE_LOG_FORMAT still wins.
    let format = match &ready {
        Ready::Serve(config) => Some(config.log_format),
        _ => None,
    };
    logging::init(&cli.log, default_log, format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(e.into()),
    };
    let result = runtime.block_on(async {
        match ready {
            Ready::Detect(args) => detect_cmd::run(args),
            Ready::Process(args) => process_cmd::run(args).await,
            Ready::Serve(config) => serve_cmd::run(*config).await,
            Ready::Worker(args) => worker_cmd::run(args).await,
            Ready::Bench(cmd) => bench::run(cmd).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

/// `sightline.1` and `sightline-<command>.1` for each command, from the same definitions as
/// `--help`.
fn man_pages(out: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    let cli = Cli::command();
    let mut pages = vec![("sightline".to_string(), cli.clone())];
    for sub in cli.get_subcommands() {
        let name = format!("sightline-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().display_name(name)));
    }
    for (name, command) in pages {
        let path = out.join(format!("{name}.1"));
        let mut file = std::fs::File::create(&path)?;
        clap_mangen::Man::new(command).render(&mut file)?;
        println!("{}", path.display());
    }
    Ok(())
}

fn fail(e: anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::FAILURE
}
