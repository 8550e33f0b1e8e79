//! The coordinator's side of the cluster: ractor_cluster's NodeServer, fed by our listener on the
//! configured address, the gate actor that worker nodes join through, and a heartbeat watchdog.
//!
//! ractor_cluster authenticates sessions with the cookie but does not notice a frozen peer (its
//! socket stays open), so workers send a heartbeat every interval and a node silent for
//! [`MISSED_BEATS`] intervals becomes suspect: its gate in the worker ledger closes, so pools stop
//! sending it frames and re-send what it holds. A heartbeat reopens it. A node still silent after
//! the drop deadline, or a session that has not joined by then, is disconnected: a frozen node does
//! not stay suspect for ever, and a woken one reconnects and joins again.
//!
//! Logs say every change; metrics: `sightline_cluster_nodes{state}`,
//! `sightline_cluster_events_total{event}`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_cluster::node::NodeServerSessionInformation;
use ractor_cluster::{NodeEventSubscription, NodeServerMessage, NodeSessionMessage};
use sightline_actors::telemetry;
use sightline_actors::wire::Checked;
use sightline_actors::workers::{WorkerLedger, WorkerView};
use tokio_rustls::TlsAcceptor;

use crate::membership::{Change, Event, Membership, NodeState, Requirements};
use crate::protocol::{BeatReply, CoordinatorMsg, JoinReply, JoinRequest, COORDINATOR_GROUP};
use crate::{listener, node_server};
use crate::{model_sha256, ClusterError, RELEASE};

/// Heartbeat intervals a node may miss before it is suspect.
const MISSED_BEATS: u32 = 3;
/// How long a node refused at join keeps its session: time for the refusal to reach it (it then
/// leaves on its own); one that stays is disconnected.
const REFUSED_GRACE: Duration = Duration::from_secs(2);
/// The coordinator's node name in the cluster.
const NODE_NAME: &str = "coordinator";

pub struct CoordinatorConfig {
    pub listen: SocketAddr,
    pub cookie: String,
    pub tls: Option<TlsAcceptor>,
    /// The model file a worker's must equal, byte for byte.
    pub model: PathBuf,
    /// How often workers send a heartbeat.
    pub heartbeat: Duration,
    /// How long a silent node stays suspect before it is disconnected.
    pub drop_after: Duration,
}

struct Shared {
    membership: Mutex<Membership>,
    ledger: &'static WorkerLedger,
    /// Open incoming sessions, authenticated or not, to close those that are dropped: the node
    /// server lists only authenticated ones.
    sessions: Mutex<HashMap<u64, ActorRef<NodeSessionMessage>>>,
}

impl Shared {
    fn membership(&self) -> MutexGuard<'_, Membership> {
        self.membership.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<u64, ActorRef<NodeSessionMessage>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Logs, counts and gates each change, then refreshes the per-state gauges.
    fn apply(&self, changes: Vec<Change>) {
        for c in &changes {
            match &c.event {
                // Bookkeeping, not a cluster event: no count, no log above debug.
                Event::Forgotten => self.ledger.forget_node(c.node_id),
                event => {
                    metrics::counter!(telemetry::CLUSTER_EVENTS_TOTAL, "event" => event.label()).increment(1);
                    self.ledger.set_node(c.node_id, &c.name, event.opens_gate());
                }
            }
            let (name, address) = (&c.name, &c.address);
            match &c.event {
                Event::AuthFailed => tracing::warn!(
                    "cluster: the node at {address} failed authentication (wrong cookie, or a name already in use); refused"
                ),
                Event::Joined => tracing::info!("cluster: node {name} ({address}) joined; its workers get frames"),
                Event::Refused(why) => {
                    tracing::warn!("cluster: node {name} ({address}) refused: {why}");
                    if let Some(session) = self.sessions().remove(&c.node_id) {
                        let why = why.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(REFUSED_GRACE).await;
                            session.stop(Some(why));
                        });
                    }
                }
                Event::Suspect(silent) => tracing::warn!(
                    "cluster: node {name} sent no heartbeat for {} ms; suspect, its frames go elsewhere",
                    silent.as_millis()
                ),
                Event::Recovered => tracing::info!("cluster: node {name} answers heartbeats again; back up"),
                Event::Lost => tracing::warn!("cluster: node {name} ({address}) lost: the connection closed"),
                Event::Left => tracing::info!("cluster: node {name} left"),
                Event::Dropped(why) => {
                    tracing::warn!("cluster: node {name} ({address}) dropped: {why}");
                    // Its requests were already sent elsewhere when it went suspect.
                    if let Some(session) = self.sessions().remove(&c.node_id) {
                        session.stop(Some(why.clone()));
                    }
                }
                Event::Forgotten => tracing::debug!("cluster: forgot node {name}"),
            }
        }
        let membership = self.membership();
        for state in NodeState::ALL {
            metrics::gauge!(telemetry::CLUSTER_NODES, "state" => state.as_str()).set(membership.count(state) as f64);
        }
    }
}

/// A running coordinator. Dropping it closes the cluster port and stops the watchdog; the node
/// server, and the sessions already open, live with the process.
pub struct Coordinator {
    shared: Arc<Shared>,
    listen: SocketAddr,
    tls: bool,
    /// Accepting connections, and the heartbeat watchdog.
    tasks: [tokio::task::JoinHandle<()>; 2],
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Coordinator {
    pub async fn start(config: CoordinatorConfig, ledger: &'static WorkerLedger) -> Result<Coordinator, ClusterError> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| ClusterError::Listen(config.listen, e.to_string()))?;
        let requirements = Requirements {
            release: RELEASE.to_string(),
            model_sha256: model_sha256(&config.model)?,
            model_name: config.model.display().to_string(),
        };
        let shared = Arc::new(Shared {
            membership: Mutex::new(Membership::new(config.heartbeat * MISSED_BEATS, config.drop_after)),
            ledger,
            sessions: Mutex::new(HashMap::new()),
        });
        shared.apply(Vec::new());
        // Exported from the start, so dashboards and alerts see zeros rather than nothing.
        for event in Event::LABELS.into_iter().chain(["tls_failed"]) {
            metrics::counter!(telemetry::CLUSTER_EVENTS_TOTAL, "event" => event).increment(0);
        }
        let tls = config.tls.is_some();
        // Nodes connect through our listener (see `listener`).
        let node_server = node_server::start(
            config.cookie,
            NODE_NAME.to_string(),
            config.listen.ip().to_string(),
            config.tls.clone(),
            ("sightline-membership", Box::new(Events(shared.clone()))),
        )
        .await?;
        let gate = Gate {
            shared: shared.clone(),
            node_server: node_server.clone(),
            requirements,
            heartbeat: config.heartbeat,
        };
        Actor::spawn(None, gate, ())
            .await
            .map_err(|e| ClusterError::Start(e.to_string()))?;
        let accepting = tokio::spawn(listener::serve(listener, config.tls, node_server.clone()));
        let watchdog = tokio::spawn(watch(shared.clone(), config.heartbeat / 2));
        Ok(Coordinator {
            shared,
            listen: config.listen,
            tls,
            tasks: [accepting, watchdog],
        })
    }

    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// Nodes with their workers, this one first.
    pub fn view(&self) -> ClusterView {
        let now = Instant::now();
        let workers = self.shared.ledger.workers();
        let mut nodes = vec![local_node(&workers, Some(self.listen))];
        for n in self.shared.membership().nodes() {
            nodes.push(NodeView {
                name: n.name.clone().unwrap_or_else(|| format!("node-{}", n.node_id)),
                address: n.address.clone(),
                state: n.state,
                local: false,
                seconds_in_state: Some(now.saturating_duration_since(n.since).as_secs_f64()),
                last_heartbeat_ms_ago: n
                    .last_heartbeat
                    .map(|t| now.saturating_duration_since(t).as_millis() as u64),
                reason: n.reason.clone(),
                release: n.release.clone(),
                workers: workers
                    .iter()
                    .filter(|w| !w.id.is_local() && w.id.node() == n.node_id)
                    .cloned()
                    .collect(),
            });
        }
        ClusterView {
            listen: Some(self.listen),
            tls: self.tls,
            nodes,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClusterView {
    /// `None` when this server takes no worker nodes.
    pub listen: Option<SocketAddr>,
    pub tls: bool,
    pub nodes: Vec<NodeView>,
}

impl ClusterView {
    /// A server that takes no worker nodes: just its own workers.
    pub fn single(ledger: &WorkerLedger) -> ClusterView {
        ClusterView {
            listen: None,
            tls: false,
            nodes: vec![local_node(&ledger.workers(), None)],
        }
    }
}

fn local_node(workers: &[WorkerView], listen: Option<SocketAddr>) -> NodeView {
    NodeView {
        name: NODE_NAME.to_string(),
        address: listen.map(|l| l.to_string()).unwrap_or_default(),
        state: NodeState::Up,
        local: true,
        seconds_in_state: None,
        last_heartbeat_ms_ago: None,
        reason: None,
        release: Some(RELEASE.to_string()),
        workers: workers.iter().filter(|w| w.id.is_local()).cloned().collect(),
    }
}

#[derive(Debug, Clone)]
pub struct NodeView {
    pub name: String,
    pub address: String,
    pub state: NodeState,
    /// The coordinator itself.
    pub local: bool,
    pub seconds_in_state: Option<f64>,
    pub last_heartbeat_ms_ago: Option<u64>,
    pub reason: Option<String>,
    pub release: Option<String>,
    pub workers: Vec<WorkerView>,
}

async fn watch(shared: Arc<Shared>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let changes = shared.membership().sweep(Instant::now());
        if !changes.is_empty() {
            shared.apply(changes);
        }
    }
}

/// Node events arrive inside the node server's actor: only quick bookkeeping here.
struct Events(Arc<Shared>);

impl NodeEventSubscription for Events {
    fn node_session_opened(&self, ses: NodeServerSessionInformation) {
        if ses.is_server {
            self.0.sessions().insert(ses.node_id, ses.actor);
            self.0.membership().opened(ses.node_id, ses.peer_addr, Instant::now());
        }
    }

    fn node_session_authenticated(&self, ses: NodeServerSessionInformation) {
        let name = ses.peer_name.map(|p| node_name(&p.name).to_string());
        self.0.membership().authenticated(ses.node_id, name, Instant::now());
    }

    fn node_session_disconnected(&self, ses: NodeServerSessionInformation) {
        self.0.sessions().remove(&ses.node_id);
        let changes = self.0.membership().closed(ses.node_id, Instant::now());
        self.0.apply(changes);
    }
}

/// ractor_cluster names a peer `name@host`.
fn node_name(full: &str) -> &str {
    full.split('@').next().unwrap_or(full)
}

/// The actor worker nodes talk to.
struct Gate {
    shared: Arc<Shared>,
    node_server: ActorRef<NodeServerMessage>,
    requirements: Requirements,
    heartbeat: Duration,
}

impl Gate {
    /// The session of the node called `name`, from the node server's list.
    async fn session_of(&self, name: &str) -> Option<u64> {
        let sessions = ractor::call_t!(self.node_server, NodeServerMessage::GetSessions, 2000).ok()?;
        sessions
            .into_iter()
            .find(|(_, s)| s.peer_name.as_ref().is_some_and(|p| node_name(&p.name) == name))
            .map(|(id, _)| id)
    }

    async fn join(&self, request: JoinRequest, reply: RpcReplyPort<Checked<JoinReply>>) {
        let answer = match self.session_of(&request.name).await {
            None => JoinReply::Refused(format!("no authenticated session carries the name {}", request.name)),
            Some(node_id) => {
                let changes = self
                    .shared
                    .membership()
                    .join(node_id, &request, &self.requirements, Instant::now());
                let answer = match changes.first().map(|c| &c.event) {
                    Some(Event::Refused(why)) => JoinReply::Refused(why.clone()),
                    _ => JoinReply::Accepted {
                        heartbeat: self.heartbeat,
                    },
                };
                self.shared.apply(changes);
                answer
            }
        };
        let _ = reply.send(Checked::new(answer));
    }
}

impl Actor for Gate {
    type Msg = CoordinatorMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, myself: ActorRef<Self::Msg>, _: ()) -> Result<(), ActorProcessingErr> {
        ractor::pg::join(COORDINATOR_GROUP.to_string(), vec![myself.get_cell()]);
        Ok(())
    }

    async fn handle(&self, _: ActorRef<Self::Msg>, msg: Self::Msg, _: &mut ()) -> Result<(), ActorProcessingErr> {
        match msg {
            CoordinatorMsg::Join(Checked(Ok(request)), reply) => self.join(request, reply).await,
            CoordinatorMsg::Join(Checked(Err(bad)), reply) => {
                let _ = reply.send(Checked::new(JoinReply::Refused(format!(
                    "malformed join request: {bad}"
                ))));
            }
            CoordinatorMsg::Heartbeat(Checked(Ok(beat)), reply) => {
                let (known, change) = self.shared.membership().heartbeat(&beat.name, Instant::now());
                self.shared.apply(change.into_iter().collect());
                let _ = reply.send(Checked::new(BeatReply { known }));
            }
            CoordinatorMsg::Heartbeat(Checked(Err(_)), reply) => {
                let _ = reply.send(Checked::new(BeatReply { known: false }));
            }
            CoordinatorMsg::Leave(leave, reply) => {
                if let Checked(Ok(leave)) = leave {
                    let changes = self.shared.membership().left(&leave.name, Instant::now());
                    self.shared.apply(changes);
                }
                let _ = reply.send(());
            }
        }
        Ok(())
    }
}
