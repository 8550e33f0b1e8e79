//! `sightline bench remote`: what a detection costs when it crosses nodes. A coordinator in this
//! process, one local detector worker, and a `sightline worker` process joined over loopback; the
//! same letterboxed image goes to each in turn, one request at a time, so neither queues.

use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use ractor::{Actor, ActorCell};
use sightline_actors::detect::DetectParams;
use sightline_actors::wire::Checked;
use sightline_actors::workers::WorkerLedger;
use sightline_actors::workers::{detect, DetectRequest, DetectorWorker, DETECTORS_GROUP};
use sightline_cluster::{Coordinator, CoordinatorConfig};

use super::detect::{mean_ms, model_input, percentile_ms};
use crate::model_args::ModelArgs;

#[derive(Args)]
pub struct RemoteBenchArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Image the model runs on (letterboxed once, as the pipeline does).
    #[arg(long, default_value = ".cache/media/dog.jpg")]
    image: PathBuf,
    /// Requests to each worker.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    frames: u32,
}

pub async fn run(args: RemoteBenchArgs) -> anyhow::Result<ExitCode> {
    let input = model_input(&args.model, &args.image)?;
    let request = DetectRequest {
        image: input,
        params: DetectParams::default(),
    };
    let listen = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let cookie = format!("bench-{}", std::process::id());
    let _coordinator = Coordinator::start(
        CoordinatorConfig {
            listen,
            cookie: cookie.clone(),
            tls: None,
            model: args.model.model.clone(),
            heartbeat: Duration::from_millis(500),
            drop_after: Duration::from_secs(30),
        },
        WorkerLedger::global(),
    )
    .await?;
    let (local, _) = Actor::spawn(None, DetectorWorker, args.model.detector_config(1)).await?;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args([
            "worker",
            "--join",
            &listen.to_string(),
            "--cookie",
            &cookie,
            "--name",
            "bench-remote",
        ])
        .arg("--model")
        .arg(&args.model.model)
        .arg("--ort-lib")
        .arg(&args.model.ort_lib)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start the worker process")?;
    let measured = measure(&local.get_cell(), &request, args.frames as usize).await;
    // SIGTERM: the worker leaves the cluster cleanly rather than vanishing.
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a child's pid and a valid signal has no memory effects.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let _ = child.wait();
    let (local_times, remote_times) = measured?;

    let bytes = Checked::encoded(&request).len();
    println!(
        "one {}x{} letterboxed image per request ({bytes} bytes on the wire), {} requests each, one at a time",
        request.image.width, request.image.height, args.frames
    );
    println!();
    println!("{:<30} {:>10} {:>10} {:>10}", "worker", "mean ms", "p50 ms", "p90 ms");
    for (name, times) in [
        ("local (same process)", &local_times),
        ("remote (loopback, 2nd process)", &remote_times),
    ] {
        println!(
            "{:<30} {:>10.2} {:>10.2} {:>10.2}",
            name,
            mean_ms(times),
            percentile_ms(times, 0.5),
            percentile_ms(times, 0.9)
        );
    }
    println!();
    println!(
        "remote − local: {:.2} ms per frame (p50), {:.2} ms (mean)",
        percentile_ms(&remote_times, 0.5) - percentile_ms(&local_times, 0.5),
        mean_ms(&remote_times) - mean_ms(&local_times)
    );
    Ok(ExitCode::SUCCESS)
}

/// Waits for the remote worker to be admitted, warms both up, then alternates requests.
async fn measure(
    local: &ActorCell,
    request: &DetectRequest,
    n: usize,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let started = Instant::now();
    let remote = loop {
        let ledger = WorkerLedger::global();
        let found = ractor::pg::get_members(&DETECTORS_GROUP.to_string())
            .into_iter()
            .find(|m| !m.get_id().is_local() && ledger.admits(m.get_id()));
        if let Some(cell) = found {
            break cell;
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the worker process did not join within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let deadline = Duration::from_secs(60);
    let (mut local_times, mut remote_times) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for round in 0..n + 3 {
        for (cell, times) in [(local, &mut local_times), (&remote, &mut remote_times)] {
            let t = Instant::now();
            detect(cell, request.clone(), deadline)
                .await
                .map_err(anyhow::Error::msg)?;
            // The first rounds warm both sessions up.
            if round >= 3 {
                times.push(t.elapsed());
            }
        }
    }
    Ok((local_times, remote_times))
}
