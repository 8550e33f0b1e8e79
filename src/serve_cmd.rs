//! `sightline serve`: the HTTP server with its job queue and local detector workers.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use sightline_openapi::ServerConfig;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    bind: Option<String>,
    /// Data folder (store, uploads, streams) [default: data].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Config file [default: sightline.toml, if present].
    #[arg(long)]
    config: Option<PathBuf>,
    /// Process this video on a first start with an empty store.
    #[arg(long)]
    sample: Option<PathBuf>,
}

/// The server's settings: defaults, then the config file, the environment and the flags.
pub fn config(args: ServeArgs) -> anyhow::Result<ServerConfig> {
    let mut flags = toml::Table::new();
    if let Some(b) = args.bind {
        flags.insert("bind".into(), toml::Value::String(b));
    }
    if let Some(d) = args.data {
        flags.insert("data_dir".into(), toml::Value::String(d.to_string_lossy().into_owned()));
    }
    if let Some(s) = args.sample {
        flags.insert(
            "sample_video".into(),
            toml::Value::String(s.to_string_lossy().into_owned()),
        );
    }
    crate::config::load(args.config.as_deref(), std::env::vars(), flags)
}

pub async fn run(config: ServerConfig) -> anyhow::Result<ExitCode> {
    sightline_openapi::serve(config, crate::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
