//! The cluster as the coordinator sees it: nodes, their workers, what each did.

use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi, Tags};
use sightline_actors::workers::{WorkerLedger, WorkerView};
use sightline_cluster::{ClusterView, NodeState, NodeView};

use crate::state::SharedState;

#[derive(Tags)]
enum ApiTags {
    /// Worker nodes and detector workers.
    Cluster,
}

pub struct ClusterApi {
    pub state: SharedState,
}

/// The cluster: this coordinator and the nodes that connected to it.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
struct ClusterInfo {
    /// Whether worker nodes may join.
    enabled: bool,
    /// Where worker nodes join (`sightline worker --join <listen>`).
    listen: Option<String>,
    /// Whether cluster links use TLS.
    tls: bool,
    /// Nodes usable now (this one included).
    nodes_up: u64,
    /// Detector workers usable now, across nodes.
    workers_available: u64,
    /// Detection requests in flight, across nodes.
    in_flight: u64,
    /// This coordinator first, then every node that connected (refused, lost and left ones too).
    nodes: Vec<ClusterNode>,
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
struct ClusterNode {
    name: String,
    /// Its address as seen by the coordinator.
    address: String,
    state: NodeStatus,
    /// The coordinator itself.
    local: bool,
    seconds_in_state: Option<f64>,
    /// Milliseconds since its last heartbeat.
    last_heartbeat_ms_ago: Option<u64>,
    /// Why it was refused, lost or is suspect.
    reason: Option<String>,
    release: Option<String>,
    /// Frames its workers detected for jobs (re-sent duplicates not counted).
    frames: u64,
    in_flight: u64,
    errors: u64,
    workers: Vec<ClusterWorker>,
}

/// Where a node stands with the coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
enum NodeStatus {
    /// Connected, handshake not finished.
    Connecting,
    /// Cookie accepted, not joined yet.
    Authenticated,
    /// Joined and answering heartbeats: its workers get frames.
    Up,
    /// Missed its heartbeat deadline: no new frames; its requests go elsewhere.
    Suspect,
    /// Not let in (`reason` says why).
    Refused,
    /// Stopped answering and was dropped.
    Lost,
    /// Left on its own.
    Left,
}

impl From<NodeState> for NodeStatus {
    fn from(s: NodeState) -> Self {
        match s {
            NodeState::Connecting => NodeStatus::Connecting,
            NodeState::Authenticated => NodeStatus::Authenticated,
            NodeState::Up => NodeStatus::Up,
            NodeState::Suspect => NodeStatus::Suspect,
            NodeState::Refused => NodeStatus::Refused,
            NodeState::Lost => NodeStatus::Lost,
            NodeState::Left => NodeStatus::Left,
        }
    }
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
struct ClusterWorker {
    /// The worker's actor id, `node.pid`.
    id: String,
    in_flight: u64,
    frames: u64,
    /// Failed requests: errors, deadlines missed, worker gone.
    errors: u64,
    /// Sitting out after failing several times in a row.
    benched: bool,
    mean_latency_ms: Option<f64>,
}

fn worker(w: &WorkerView) -> ClusterWorker {
    ClusterWorker {
        id: w.id.to_string(),
        in_flight: w.in_flight as u64,
        frames: w.frames,
        errors: w.errors,
        benched: w.benched,
        mean_latency_ms: w.mean_latency_ms.map(|ms| (ms * 100.0).round() / 100.0),
    }
}

fn node(n: &NodeView) -> ClusterNode {
    ClusterNode {
        name: n.name.clone(),
        address: n.address.clone(),
        state: n.state.into(),
        local: n.local,
        seconds_in_state: n.seconds_in_state.map(|s| (s * 10.0).round() / 10.0),
        last_heartbeat_ms_ago: n.last_heartbeat_ms_ago,
        reason: n.reason.clone(),
        release: n.release.clone(),
        frames: n.workers.iter().map(|w| w.frames).sum(),
        in_flight: n.workers.iter().map(|w| w.in_flight as u64).sum(),
        errors: n.workers.iter().map(|w| w.errors).sum(),
        workers: n.workers.iter().map(worker).collect(),
    }
}

#[OpenApi(tag = "ApiTags::Cluster")]
impl ClusterApi {
    /// The cluster as this coordinator sees it.
    ///
    /// Nodes (address, state, last heartbeat), their detector workers, requests in flight, frames each
    /// worker detected, and errors. A server without cluster links lists itself alone.
    #[oai(path = "/api/cluster", method = "get", operation_id = "getCluster")]
    async fn cluster(&self) -> Json<ClusterInfo> {
        let ledger = WorkerLedger::global();
        let view = match &self.state.cluster {
            Some(c) => c.view(),
            None => ClusterView::single(ledger),
        };
        let nodes: Vec<ClusterNode> = view.nodes.iter().map(node).collect();
        Json(ClusterInfo {
            enabled: view.listen.is_some(),
            listen: view.listen.map(|l| l.to_string()),
            tls: view.tls,
            nodes_up: nodes.iter().filter(|n| n.state == NodeStatus::Up).count() as u64,
            workers_available: ledger.available() as u64,
            in_flight: nodes.iter().map(|n| n.in_flight).sum(),
            nodes,
        })
    }
}
