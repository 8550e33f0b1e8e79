//! Sightline's cluster: worker nodes add detection capacity to a coordinator.
//!
//! The coordinator ([`coordinator::Coordinator`]) runs ractor_cluster's NodeServer; a worker node
//! ([`worker::run`]) connects with the shared cookie (optionally over TLS), joins with its model's
//! digest, and runs detector workers in the `sightline.detectors` process group, where the
//! coordinator's detector pools find them next to their local ones. Membership, heartbeats and
//! refusals live here; the pools only see which workers the ledger admits.

pub mod cookie;
pub mod coordinator;
mod digest;
mod listener;
mod membership;
mod node_server;
mod protocol;
pub mod tls;
pub mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use coordinator::{ClusterView, Coordinator, CoordinatorConfig, NodeView};
pub use digest::model_sha256;
pub use membership::NodeState;
pub use worker::WorkerOptions;

/// This build's release; nodes of other releases are refused (message encodings may differ).
pub const RELEASE: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cluster cookie {0}: {1}")]
    Cookie(PathBuf, String),
    #[error("cannot read the model {0}: {1}")]
    Model(PathBuf, String),
    #[error("cluster TLS: {0}")]
    Tls(String),
    #[error("cannot listen for cluster nodes on {0}: {1}")]
    Listen(SocketAddr, String),
    #[error("cannot start the cluster node: {0}")]
    Start(String),
    #[error("cannot reach the coordinator at {0}: {1}")]
    Connect(String, String),
    #[error("the coordinator refused this worker: {0}")]
    Refused(String),
    /// The handshake failed: a wrong cookie or TLS setting, or the name still in use.
    #[error("the coordinator refused this worker: {0}")]
    AuthFailed(String),
    #[error("lost the coordinator: {0}")]
    Lost(String),
}
