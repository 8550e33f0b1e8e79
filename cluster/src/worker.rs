//! A worker node: connects to the coordinator, joins with its model's digest, runs detector workers
//! in `sightline.detectors`, sends heartbeats, and on shutdown drains what it holds and leaves.
//!
//! The worker fetches nothing: its model is a local file, and the coordinator refuses it unless the
//! file's sha256 is the coordinator's. A refusal (cookie, model, release) ends the worker with the
//! coordinator's reason.

use std::future::Future;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorCell, ActorRef};
use ractor_cluster::node::{NodeConnectionMode, NodeServerSessionInformation};
use ractor_cluster::{NodeEventSubscription, NodeServer, NodeServerMessage};
use rustls::pki_types::ServerName;
use sightline_actors::detect::DetectorConfig;
use sightline_actors::detector_worker::{spawn_local, DetectorMsg, DETECTORS_GROUP};
use sightline_actors::wire::Checked;
use tokio::sync::watch;
use tokio_rustls::TlsConnector;

use crate::digest::model_sha256;
use crate::protocol::{Beat, CoordinatorMsg, JoinReply, JoinRequest, Leave, COORDINATOR_GROUP};
use crate::{ClusterError, RELEASE};

/// How long to wait for the handshake and for the coordinator's gate to show up.
const HANDSHAKE: Duration = Duration::from_secs(15);
/// Time for requests already sent to arrive once the coordinator knows this node is leaving.
const IN_TRANSIT: Duration = Duration::from_millis(250);
/// With no heartbeat answered for this long, the coordinator is taken as gone.
const COORDINATOR_SILENCE: Duration = Duration::from_secs(10);

pub struct WorkerOptions {
    /// The coordinator's cluster address, `host:port`.
    pub join: String,
    pub cookie: String,
    /// Unique in the cluster.
    pub name: String,
    pub workers: usize,
    pub detector: DetectorConfig,
    pub tls: Option<(TlsConnector, ServerName<'static>)>,
}

/// The link to the coordinator as node events tell it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Link {
    Connecting,
    Authenticated,
    Closed,
}

struct LinkEvents(watch::Sender<Link>);

impl NodeEventSubscription for LinkEvents {
    fn node_session_opened(&self, _: NodeServerSessionInformation) {}
    fn node_session_authenticated(&self, _: NodeServerSessionInformation) {
        self.0.send_replace(Link::Authenticated);
    }
    fn node_session_disconnected(&self, _: NodeServerSessionInformation) {
        self.0.send_replace(Link::Closed);
    }
}

/// Runs the worker node until `shutdown` resolves (then drains and leaves) or the coordinator goes.
pub async fn run(options: WorkerOptions, shutdown: impl Future<Output = ()>) -> Result<(), ClusterError> {
    let sha = model_sha256(&options.detector.model)?;
    let mut link = connect(&options).await?;
    let gate = find_gate().await?;
    let heartbeat = join(&gate, &options, sha).await?;
    let (workers, _) = match spawn_local(&options.detector, options.workers).await {
        Ok(w) => w,
        Err(e) => {
            leave(&gate, &options.name).await;
            return Err(ClusterError::Start(format!("cannot start the detectors: {e}")));
        }
    };
    tracing::info!(
        "joined the cluster at {} as {} with {} detector worker(s)",
        options.join,
        options.name,
        workers.len()
    );

    let outcome = tokio::select! {
        _ = shutdown => Ok(()),
        gone = beat(&gate, &options.name, heartbeat) => Err(gone),
        _ = link.wait_for(|l| *l == Link::Closed) => {
            Err(ClusterError::Lost("the connection to the coordinator closed".into()))
        }
    };
    drain_and_leave(&gate, &options.name, &workers).await;
    outcome
}

/// Starts this node's server, connects to the coordinator and waits for the handshake; the link's
/// state keeps coming through the returned receiver.
async fn connect(options: &WorkerOptions) -> Result<watch::Receiver<Link>, ClusterError> {
    let server = NodeServer::new(
        0,
        options.cookie.clone(),
        options.name.clone(),
        "localhost".into(),
        None,
        Some(NodeConnectionMode::Isolated),
    )
    .with_listen_addr(std::net::Ipv4Addr::LOCALHOST.into());
    let (node_server, _) = Actor::spawn(None, server, ())
        .await
        .map_err(|e| ClusterError::Start(e.to_string()))?;
    let (link_tx, mut link) = watch::channel(Link::Connecting);
    node_server
        .cast(NodeServerMessage::SubscribeToEvents {
            id: "sightline-worker".into(),
            subscription: Box::new(LinkEvents(link_tx)),
        })
        .map_err(|e| ClusterError::Start(e.to_string()))?;

    let connected = match options.tls.clone() {
        None => ractor_cluster::client_connect(&node_server, options.join.as_str()).await,
        Some((connector, name)) => {
            ractor_cluster::client_connect_enc(&node_server, options.join.as_str(), connector, name).await
        }
    };
    connected.map_err(|e| ClusterError::Connect(options.join.clone(), connect_reason(&e)))?;

    // ractor_cluster's connect succeeds before the handshake: a refused cookie shows as a close.
    let handshake = tokio::time::timeout(HANDSHAKE, link.wait_for(|l| *l != Link::Connecting)).await;
    match handshake.map(|r| r.map(|l| *l)) {
        Ok(Ok(Link::Authenticated)) => Ok(link),
        Ok(_) => Err(ClusterError::Refused(format!(
            "authentication failed: the coordinator closed the connection during the handshake; check the \
             cookie, that no other node uses the name '{}', and whether the coordinator expects TLS (--tls-ca)",
            options.name
        ))),
        Err(_) => Err(ClusterError::Connect(
            options.join.clone(),
            "no handshake within 15 s".into(),
        )),
    }
}

/// Asks to join; returns the heartbeat interval the coordinator wants.
async fn join(gate: &ActorRef<CoordinatorMsg>, options: &WorkerOptions, sha: String) -> Result<Duration, ClusterError> {
    let request = JoinRequest {
        name: options.name.clone(),
        release: RELEASE.to_string(),
        model_sha256: sha,
        workers: options.workers as u32,
    };
    match ractor::call_t!(gate, |r| CoordinatorMsg::Join(Checked::new(request), r), 10_000) {
        Ok(Checked(Ok(JoinReply::Accepted { heartbeat }))) => Ok(heartbeat),
        Ok(Checked(Ok(JoinReply::Refused(why)))) => Err(ClusterError::Refused(why)),
        Ok(Checked(Err(bad))) => Err(ClusterError::Refused(format!("unreadable answer to the join: {bad}"))),
        Err(e) => Err(ClusterError::Connect(
            options.join.clone(),
            format!("the join went unanswered: {e}"),
        )),
    }
}

fn connect_reason(e: &ractor_cluster::ClientConnectErr) -> String {
    match e {
        ractor_cluster::ClientConnectErr::Socket(io) => io.to_string(),
        ractor_cluster::ClientConnectErr::Encryption(io) => format!("TLS handshake failed: {io}"),
        other => other.to_string(),
    }
}

/// The coordinator's gate, once the process groups have been exchanged.
async fn find_gate() -> Result<ActorRef<CoordinatorMsg>, ClusterError> {
    let started = Instant::now();
    loop {
        let remote = ractor::pg::get_members(&COORDINATOR_GROUP.to_string())
            .into_iter()
            .find(|c| !c.get_id().is_local());
        if let Some(cell) = remote {
            return Ok(ActorRef::from(cell));
        }
        if started.elapsed() > HANDSHAKE {
            return Err(ClusterError::Refused(
                "the peer accepted the cookie but runs no Sightline coordinator".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends heartbeats until the coordinator stops answering or no longer knows this node.
async fn beat(gate: &ActorRef<CoordinatorMsg>, name: &str, every: Duration) -> ClusterError {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_answer = Instant::now();
    let mut seq = 0u64;
    loop {
        tick.tick().await;
        seq += 1;
        let beat = Beat {
            name: name.to_string(),
            seq,
        };
        let deadline = every.max(Duration::from_millis(200));
        match ractor::call_t!(
            gate,
            |r| CoordinatorMsg::Heartbeat(Checked::new(beat), r),
            deadline.as_millis() as u64
        ) {
            Ok(Checked(Ok(reply))) if reply.known => last_answer = Instant::now(),
            Ok(Checked(Ok(_))) => {
                return ClusterError::Lost(
                    "the coordinator no longer counts this node (it was silent too long, or the coordinator restarted)"
                        .into(),
                )
            }
            _ if last_answer.elapsed() > COORDINATOR_SILENCE => {
                return ClusterError::Lost(format!(
                    "the coordinator answered no heartbeat for {} s",
                    COORDINATOR_SILENCE.as_secs()
                ))
            }
            _ => {}
        }
    }
}

async fn leave(gate: &ActorRef<CoordinatorMsg>, name: &str) {
    let leave = Leave { name: name.to_string() };
    let _ = ractor::call_t!(gate, |r| CoordinatorMsg::Leave(Checked::new(leave), r), 2000);
}

/// Stops taking requests, tells the coordinator (which sends elsewhere what is still on its way),
/// answers every request already received, then stops the detectors.
async fn drain_and_leave(gate: &ActorRef<CoordinatorMsg>, name: &str, workers: &[ActorRef<DetectorMsg>]) {
    let cells: Vec<ActorCell> = workers.iter().map(|w| w.get_cell()).collect();
    ractor::pg::leave(DETECTORS_GROUP.to_string(), cells);
    leave(gate, name).await;
    // A request the coordinator dispatched just before our leave closed its gate may still be on
    // the wire; let it land in a mailbox before the drain marker goes in behind it.
    tokio::time::sleep(IN_TRANSIT).await;
    for w in workers {
        // The mailbox is first in, first out: the answer comes after every earlier request's.
        let _ = ractor::call_t!(w, DetectorMsg::Drain, 60_000);
        w.stop(None);
    }
    tracing::info!("left the cluster");
}
