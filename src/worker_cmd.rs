//! `sightline worker --join HOST:PORT`: a node that adds detection capacity to a coordinator.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use sightline_cluster::{cookie, tls, WorkerOptions};

use crate::model_args::ModelArgs;

#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// The coordinator's cluster address (its `cluster_listen` setting), HOST:PORT.
    #[arg(long)]
    join: String,
    /// The cluster cookie (the coordinator prints it, and keeps it in <data>/cluster.cookie).
    #[arg(
        long,
        env = "SIGHTLINE_CLUSTER_COOKIE",
        hide_env_values = true,
        conflicts_with = "cookie_file"
    )]
    cookie: Option<String>,
    /// A file holding the cluster cookie, e.g. a copy of the coordinator's <data>/cluster.cookie.
    #[arg(long)]
    cookie_file: Option<PathBuf>,
    /// Detector workers on this node (one ONNX Runtime session each).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    workers: u16,
    /// Intra-op threads per worker.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    threads: u16,
    /// This node's name in the cluster; must be unique [default: worker-<host>-<pid>].
    #[arg(long)]
    name: Option<String>,
    /// Connect over TLS, checking the coordinator's certificate against this CA (PEM).
    #[arg(long)]
    tls_ca: Option<PathBuf>,
    /// The name the coordinator's certificate carries [default: the host of --join].
    #[arg(long, requires = "tls_ca")]
    tls_server_name: Option<String>,
    /// This worker's certificate chain (PEM), for a coordinator that requires client certificates
    /// (its cluster_tls_client_ca).
    #[arg(long, requires_all = ["tls_ca", "tls_key"])]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
}

pub async fn run(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let cookie = match (&args.cookie, &args.cookie_file) {
        (Some(c), _) => c.trim().to_string(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the cookie file {}", path.display()))?
            .trim()
            .to_string(),
        (None, None) => bail!("a cluster cookie is required: pass --cookie, --cookie-file or SIGHTLINE_CLUSTER_COOKIE"),
    };
    let cookie = cookie::validate(&cookie).map_err(anyhow::Error::msg)?;
    let host = args.join.rsplit_once(':').map(|(h, _)| h).unwrap_or_default();
    if host.is_empty() {
        bail!("--join must be HOST:PORT, not '{}'", args.join);
    }
    let tls = match &args.tls_ca {
        None => None,
        Some(ca) => {
            let client = args.tls_cert.as_deref().zip(args.tls_key.as_deref());
            Some(tls::connector(
                ca,
                args.tls_server_name.as_deref().unwrap_or(host),
                client,
            )?)
        }
    };
    let name = args.name.clone().unwrap_or_else(default_name);
    let options = WorkerOptions {
        join: args.join.clone(),
        cookie,
        name,
        workers: usize::from(args.workers),
        detector: args.model.detector_config(usize::from(args.threads)),
        tls,
    };
    sightline_cluster::worker::run(options, crate::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

fn default_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let host = host.trim();
    let host = if host.is_empty() { "host" } else { host };
    format!("worker-{host}-{}", std::process::id())
}
