//! A worker node: connects to the coordinator, joins with its model's digest, runs detector workers
//! in `sightline.detectors`, sends heartbeats, and on shutdown drains what it holds and leaves.
//!
//! The worker fetches nothing: its model is a local file, and the coordinator refuses it unless the
//! file's sha256 is the coordinator's. A refusal (cookie, model, release) ends the worker with the
//! coordinator's reason. Once joined, a lost coordinator (closed connection, unanswered heartbeats,
//! or a restart that forgot this node) is reconnected to until it takes the node back; only a
//! refusal of the model or release then ends the worker.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ractor::{ActorCell, ActorRef};
use ractor_cluster::node::NodeServerSessionInformation;
use ractor_cluster::{NodeEventSubscription, NodeServerMessage, NodeSessionMessage};
use rustls::pki_types::ServerName;
use sightline_actors::detect::DetectorConfig;
use sightline_actors::wire::Checked;
use sightline_actors::workers::{spawn_local, DetectorMsg, DETECTORS_GROUP};
use tokio::sync::watch;
use tokio_rustls::TlsConnector;

use crate::digest::model_sha256;
use crate::protocol::{Beat, CoordinatorMsg, JoinReply, JoinRequest, Leave, COORDINATOR_GROUP};
use crate::{node_server, ClusterError, RELEASE};

/// How long to wait for the handshake and for the coordinator's gate to show up.
const HANDSHAKE: Duration = Duration::from_secs(15);
/// Time for requests already sent to arrive once the coordinator knows this node is leaving.
const IN_TRANSIT: Duration = Duration::from_millis(250);
/// With no heartbeat answered for this long, the coordinator is taken as gone.
const COORDINATOR_SILENCE: Duration = Duration::from_secs(10);
/// The first pause before joining a lost coordinator again; it doubles with each attempt.
const RECONNECT_FIRST: Duration = Duration::from_millis(500);
const RECONNECT_MAX: Duration = Duration::from_secs(10);
/// A link that lasted this long starts the pauses over: one that keeps failing (two workers under
/// one name evicting each other, say) settles at the longest pause instead of flapping.
const STABLE_AFTER: Duration = Duration::from_secs(60);

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

/// The link to the coordinator as its current session's events tell it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum LinkState {
    Connecting,
    Authenticated,
    Closed,
}

/// The session of the current connection attempt (a worker makes one at a time); events of any
/// earlier session, which may come late, are ignored.
type CurrentSession = Arc<Mutex<Option<(u64, ActorRef<NodeSessionMessage>)>>>;

struct LinkEvents {
    state: Arc<watch::Sender<LinkState>>,
    current: CurrentSession,
}

impl LinkEvents {
    fn is_current(&self, node_id: u64) -> bool {
        lock(&self.current).as_ref().is_some_and(|(id, _)| *id == node_id)
    }
}

impl NodeEventSubscription for LinkEvents {
    fn node_session_opened(&self, ses: NodeServerSessionInformation) {
        if ses.is_server {
            // Someone connected to this node's loopback port: a worker only connects out.
            ses.actor.stop(Some("a worker node takes no connections".into()));
            return;
        }
        *lock(&self.current) = Some((ses.node_id, ses.actor));
    }
    fn node_session_authenticated(&self, ses: NodeServerSessionInformation) {
        if self.is_current(ses.node_id) {
            self.state.send_replace(LinkState::Authenticated);
        }
    }
    fn node_session_disconnected(&self, ses: NodeServerSessionInformation) {
        let mut current = lock(&self.current);
        if current.as_ref().is_some_and(|(id, _)| *id == ses.node_id) {
            *current = None;
            self.state.send_replace(LinkState::Closed);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// This node's server and the state of its one session, to the coordinator.
struct Link {
    node_server: ActorRef<NodeServerMessage>,
    state: watch::Receiver<LinkState>,
    set: Arc<watch::Sender<LinkState>>,
    current: CurrentSession,
}

/// Runs the worker node until `shutdown` resolves (then drains and leaves). The detectors load
/// first (a model that does not load fails before any connection). A coordinator lost after the
/// first join is reconnected to, with growing pauses, keeping the detectors; a first connection
/// that fails, or a refusal of this node (its model or release), ends the worker.
pub async fn run(options: WorkerOptions, shutdown: impl Future<Output = ()>) -> Result<(), ClusterError> {
    let sha = model_sha256(&options.detector.model)?;
    let (workers, _) = spawn_local(&options.detector, options.workers)
        .await
        .map_err(|e| ClusterError::Start(format!("cannot start the detectors: {e}")))?;
    let mut link = Link::start(&options).await?;
    let (mut gate, mut heartbeat) = match link.join(&options, &sha).await {
        Ok(joined) => joined,
        Err(e) => {
            stop(&workers);
            return Err(e);
        }
    };
    tracing::info!(
        "joined the cluster at {} as {} with {} detector worker(s)",
        options.join,
        options.name,
        workers.len()
    );

    tokio::pin!(shutdown);
    let mut pause = RECONNECT_FIRST;
    loop {
        let joined_at = Instant::now();
        let lost = tokio::select! {
            _ = &mut shutdown => break,
            gone = beat(&gate, &options.name, heartbeat) => gone,
            _ = link.closed() => ClusterError::Lost("the connection to the coordinator closed".into()),
        };
        tracing::warn!("{lost}; reconnecting");
        if joined_at.elapsed() > STABLE_AFTER {
            pause = RECONNECT_FIRST;
        }
        let rejoined = tokio::select! {
            _ = &mut shutdown => None,
            rejoined = link.rejoin(&options, &sha, &mut pause) => Some(rejoined),
        };
        match rejoined {
            Some(Ok(joined)) => {
                (gate, heartbeat) = joined;
                tracing::info!("joined the cluster at {} again as {}", options.join, options.name);
            }
            Some(Err(refused)) => {
                stop(&workers);
                return Err(refused);
            }
            None => {
                link.disconnect();
                stop(&workers);
                tracing::info!("stopped while reconnecting");
                return Ok(());
            }
        }
    }
    drain_and_leave(&gate, &options.name, &workers).await;
    Ok(())
}

impl Link {
    /// Starts this node's server, subscribed to its session events.
    async fn start(options: &WorkerOptions) -> Result<Link, ClusterError> {
        let (tx, state) = watch::channel(LinkState::Closed);
        let set = Arc::new(tx);
        let current = CurrentSession::default();
        let events = LinkEvents {
            state: set.clone(),
            current: current.clone(),
        };
        let node_server = node_server::start(
            options.cookie.clone(),
            options.name.clone(),
            "localhost".into(),
            None,
            ("sightline-worker", Box::new(events)),
        )
        .await?;
        Ok(Link {
            node_server,
            state,
            set,
            current,
        })
    }

    /// Connects, waits for the coordinator's gate and joins; returns the gate and the heartbeat
    /// interval the coordinator wants.
    async fn join(
        &mut self,
        options: &WorkerOptions,
        sha: &str,
    ) -> Result<(ActorRef<CoordinatorMsg>, Duration), ClusterError> {
        self.connect(options).await?;
        let gate = find_gate(&options.join).await?;
        let heartbeat = join(&gate, options, sha).await?;
        Ok((gate, heartbeat))
    }

    /// After losing the coordinator: closes what is left of the session, then joins again,
    /// pausing before each attempt, twice as long each time up to [`RECONNECT_MAX`]. Only a
    /// refusal of this node ends it: a coordinator that restarts may be unreachable, or still hold
    /// the old session under this name, for a while.
    async fn rejoin(
        &mut self,
        options: &WorkerOptions,
        sha: &str,
        pause: &mut Duration,
    ) -> Result<(ActorRef<CoordinatorMsg>, Duration), ClusterError> {
        loop {
            self.disconnect();
            tokio::time::sleep(*pause).await;
            *pause = (*pause * 2).min(RECONNECT_MAX);
            match self.join(options, sha).await {
                Err(ClusterError::Refused(why)) => return Err(ClusterError::Refused(why)),
                Err(e) => tracing::warn!("{e}; trying again in {:.1} s", pause.as_secs_f32()),
                joined => return joined,
            }
        }
    }

    /// Resolves once the session to the coordinator has closed.
    async fn closed(&mut self) {
        let _ = self.state.wait_for(|s| *s == LinkState::Closed).await;
    }

    /// Closes the current session, if any (a coordinator that stopped answering, or an attempt
    /// that did not finish); its events are ignored from now on.
    fn disconnect(&mut self) {
        if let Some((_, session)) = lock(&self.current).take() {
            session.stop(Some("reconnecting".into()));
        }
        self.set.send_replace(LinkState::Closed);
    }

    /// Connects to the coordinator and waits for the handshake, [`HANDSHAKE`] at most.
    async fn connect(&mut self, options: &WorkerOptions) -> Result<(), ClusterError> {
        let unreachable = |why: String| ClusterError::Connect(options.join.clone(), why);
        self.set.send_replace(LinkState::Connecting);
        let connecting = async {
            match options.tls.clone() {
                None => ractor_cluster::client_connect(&self.node_server, options.join.as_str()).await,
                Some((connector, name)) => {
                    ractor_cluster::client_connect_enc(&self.node_server, options.join.as_str(), connector, name).await
                }
            }
        };
        let connected = match tokio::time::timeout(HANDSHAKE, connecting).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(unreachable(connect_reason(&e))),
            Err(_) => Err(unreachable(format!("no connection within {} s", HANDSHAKE.as_secs()))),
        };
        // ractor_cluster's connect succeeds before the handshake: a refused cookie shows as a close.
        let handshake = match connected {
            Ok(()) => tokio::time::timeout(HANDSHAKE, self.state.wait_for(|s| *s != LinkState::Connecting))
                .await
                .map(|r| r.map(|s| *s)),
            Err(e) => {
                self.disconnect();
                return Err(e);
            }
        };
        match handshake {
            Ok(Ok(LinkState::Authenticated)) => Ok(()),
            Ok(_) => {
                self.disconnect();
                Err(ClusterError::AuthFailed(format!(
                    "authentication failed: the coordinator closed the connection during the handshake; check the \
                     cookie, that no other node uses the name '{}', and whether the coordinator expects TLS \
                     (--tls-ca) or a client certificate (--tls-cert, --tls-key)",
                    options.name
                )))
            }
            Err(_) => {
                self.disconnect();
                Err(unreachable(format!("no handshake within {} s", HANDSHAKE.as_secs())))
            }
        }
    }
}

/// Asks to join; returns the heartbeat interval the coordinator wants.
async fn join(gate: &ActorRef<CoordinatorMsg>, options: &WorkerOptions, sha: &str) -> Result<Duration, ClusterError> {
    let request = JoinRequest {
        name: options.name.clone(),
        release: RELEASE.to_string(),
        model_sha256: sha.to_string(),
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
async fn find_gate(join: &str) -> Result<ActorRef<CoordinatorMsg>, ClusterError> {
    let started = Instant::now();
    loop {
        let remote = ractor::pg::get_members(&COORDINATOR_GROUP.to_string())
            .into_iter()
            .find(|c| !c.get_id().is_local());
        if let Some(cell) = remote {
            return Ok(ActorRef::from(cell));
        }
        if started.elapsed() > HANDSHAKE {
            return Err(ClusterError::Connect(
                join.to_string(),
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
    }
    stop(workers);
    tracing::info!("left the cluster");
}

fn stop(workers: &[ActorRef<DetectorMsg>]) {
    for w in workers {
        w.stop(None);
    }
}
