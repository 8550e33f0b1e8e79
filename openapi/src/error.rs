//! Why the server could not start or stopped serving.

use std::path::PathBuf;

use crate::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot use the data folder {0}: {1}")]
    DataDir(PathBuf, String),
    #[error(transparent)]
    Store(#[from] sightline_actors::store::StoreError),
    #[error("cannot start the detector: {0}")]
    Engine(String),
    #[error("metrics: {0}")]
    Metrics(String),
    #[error(transparent)]
    Cluster(#[from] sightline_cluster::ClusterError),
    #[error("cannot listen on {0}: {1}")]
    Listen(std::net::SocketAddr, String),
}
