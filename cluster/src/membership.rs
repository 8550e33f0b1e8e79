//! The coordinator's view of the nodes that connected to it: a small state machine per session,
//! driven by ractor_cluster's node events, join requests and heartbeats, apart from any actor.
//!
//! ```text
//! connecting ──authenticated──> authenticated ──join ok──> up <──heartbeat── suspect
//!     │                              │    └──join refused──> refused         │ ▲
//!     └─closed: authentication failed─┘ (refused)        up ──deadline──────┘ │
//! up / suspect ──closed──> lost        up / suspect ──leave──> left          (heartbeat)
//! suspect ──silent past the drop deadline──> lost (dropped: the driver closes its session)
//! connecting / authenticated ──not joined by the drop deadline──> refused (dropped)
//! ```
//!
//! Every change is returned as a [`Change`], so the driver can log it, count it and open or close
//! the node's gate in the worker ledger. Gone nodes (refused, lost, left) are kept for operators to
//! see, the oldest forgotten beyond a limit.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::protocol::JoinRequest;

/// Gone nodes remembered for the cluster API.
const KEEP_GONE: usize = 32;
/// The least time a new session has to authenticate and join, however short the drop deadline.
const JOIN_AT_LEAST: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Session open, handshake not finished.
    Connecting,
    /// Cookie accepted, no join yet.
    Authenticated,
    /// Joined and answering heartbeats: its workers get frames.
    Up,
    /// Missed its heartbeat deadline: no new frames, its requests are sent elsewhere.
    Suspect,
    Refused,
    Lost,
    Left,
}

impl NodeState {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Connecting => "connecting",
            NodeState::Authenticated => "authenticated",
            NodeState::Up => "up",
            NodeState::Suspect => "suspect",
            NodeState::Refused => "refused",
            NodeState::Lost => "lost",
            NodeState::Left => "left",
        }
    }

    pub const ALL: [NodeState; 7] = [
        NodeState::Connecting,
        NodeState::Authenticated,
        NodeState::Up,
        NodeState::Suspect,
        NodeState::Refused,
        NodeState::Lost,
        NodeState::Left,
    ];

    fn gone(self) -> bool {
        matches!(self, NodeState::Refused | NodeState::Lost | NodeState::Left)
    }
}

#[derive(Debug, Clone)]
pub struct NodeRecord {
    pub node_id: u64,
    pub name: Option<String>,
    pub address: String,
    pub state: NodeState,
    pub since: Instant,
    pub last_heartbeat: Option<Instant>,
    pub release: Option<String>,
    /// Why it was refused, lost or suspected.
    pub reason: Option<String>,
}

impl NodeRecord {
    fn new(node_id: u64, address: String, state: NodeState, now: Instant) -> Self {
        NodeRecord {
            node_id,
            name: None,
            address,
            state,
            since: now,
            last_heartbeat: None,
            release: None,
            reason: None,
        }
    }
}

/// A state change, for logs, metrics and the ledger's gates.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub node_id: u64,
    pub name: String,
    pub address: String,
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    AuthFailed,
    Joined,
    Refused(String),
    Suspect(Duration),
    Recovered,
    Lost,
    Left,
    /// Silent (or not joined) too long, and why: the driver must close the node's session.
    Dropped(String),
    /// Forgotten to bound memory: its figures can be dropped.
    Forgotten,
}

impl Event {
    /// Every label [`Event::label`] gives but `forgotten` (bookkeeping, not a cluster event).
    pub const LABELS: [&'static str; 8] = [
        "auth_failed",
        "joined",
        "refused",
        "suspect",
        "recovered",
        "lost",
        "left",
        "dropped",
    ];

    pub fn label(&self) -> &'static str {
        match self {
            Event::AuthFailed => "auth_failed",
            Event::Joined => "joined",
            Event::Refused(_) => "refused",
            Event::Suspect(_) => "suspect",
            Event::Recovered => "recovered",
            Event::Lost => "lost",
            Event::Left => "left",
            Event::Dropped(_) => "dropped",
            Event::Forgotten => "forgotten",
        }
    }

    /// Whether the node's workers may get frames after this change.
    pub fn opens_gate(&self) -> bool {
        matches!(self, Event::Joined | Event::Recovered)
    }
}

/// What the coordinator requires of a joining node.
#[derive(Debug, Clone)]
pub struct Requirements {
    pub release: String,
    pub model_sha256: String,
    pub model_name: String,
}

#[derive(Debug)]
pub struct Membership {
    nodes: BTreeMap<u64, NodeRecord>,
    suspect_after: Duration,
    drop_after: Duration,
}

impl Membership {
    /// `suspect_after`: how long a node may go without a heartbeat before it is suspect;
    /// `drop_after`: how long before it is dropped, and how long a session may take to join
    /// (at least [`JOIN_AT_LEAST`]).
    pub fn new(suspect_after: Duration, drop_after: Duration) -> Self {
        Membership {
            nodes: BTreeMap::new(),
            suspect_after,
            drop_after,
        }
    }

    pub fn nodes(&self) -> impl Iterator<Item = &NodeRecord> {
        self.nodes.values()
    }

    pub fn opened(&mut self, node_id: u64, address: String, now: Instant) {
        self.nodes
            .insert(node_id, NodeRecord::new(node_id, address, NodeState::Connecting, now));
    }

    pub fn authenticated(&mut self, node_id: u64, name: Option<String>, now: Instant) {
        if let Some(n) = self.nodes.get_mut(&node_id) {
            n.name = name.or(n.name.take());
            set(n, NodeState::Authenticated, now);
        }
    }

    /// The session closed. Returns the change, and any records forgotten to make room.
    pub fn closed(&mut self, node_id: u64, now: Instant) -> Vec<Change> {
        let Some(n) = self.nodes.get_mut(&node_id) else {
            return Vec::new();
        };
        let event = match n.state {
            NodeState::Connecting => {
                n.reason = Some(
                    "authentication failed: the node's cookie (or name) was not accepted; check that it \
                     uses the coordinator's cookie and a name no other node has"
                        .into(),
                );
                set(n, NodeState::Refused, now);
                Event::AuthFailed
            }
            NodeState::Authenticated | NodeState::Up | NodeState::Suspect => {
                n.reason = Some("the connection closed".into());
                set(n, NodeState::Lost, now);
                Event::Lost
            }
            NodeState::Refused | NodeState::Lost | NodeState::Left => return Vec::new(),
        };
        let mut changes = vec![change(n, event)];
        changes.extend(self.forget_oldest_gone());
        changes
    }

    /// A join request from the node called `request.name`, on session `node_id`. The first change
    /// is the answer (joined or refused); a refusal may make room by forgetting old gone nodes.
    pub fn join(&mut self, node_id: u64, request: &JoinRequest, wanted: &Requirements, now: Instant) -> Vec<Change> {
        let n = self
            .nodes
            .entry(node_id)
            .or_insert_with(|| NodeRecord::new(node_id, String::new(), NodeState::Authenticated, now));
        n.name = Some(request.name.clone());
        n.release = Some(request.release.clone());
        let refusal = if request.release != wanted.release {
            Some(format!(
                "release mismatch: the worker runs Sightline {}, the coordinator {}",
                request.release, wanted.release
            ))
        } else if request.model_sha256 != wanted.model_sha256 {
            Some(format!(
                "model mismatch: the worker's model file has sha256 {}, the coordinator's model {} has {}; \
                 give the worker a copy of the coordinator's model file",
                request.model_sha256, wanted.model_name, wanted.model_sha256
            ))
        } else if request.workers == 0 {
            Some("the worker offers no detector workers".into())
        } else {
            None
        };
        match refusal {
            Some(why) => {
                n.reason = Some(why.clone());
                set(n, NodeState::Refused, now);
                let mut changes = vec![change(n, Event::Refused(why))];
                changes.extend(self.forget_oldest_gone());
                changes
            }
            None => {
                n.reason = None;
                n.last_heartbeat = Some(now);
                set(n, NodeState::Up, now);
                vec![change(n, Event::Joined)]
            }
        }
    }

    /// A heartbeat from the node called `name`. Returns whether it is known, and a change when a
    /// suspect node recovered. The newest session under that name counts: a node that rejoined
    /// may be heard before its old session's close.
    pub fn heartbeat(&mut self, name: &str, now: Instant) -> (bool, Option<Change>) {
        let Some(n) = self
            .nodes
            .values_mut()
            .rev()
            .find(|n| n.name.as_deref() == Some(name) && matches!(n.state, NodeState::Up | NodeState::Suspect))
        else {
            return (false, None);
        };
        n.last_heartbeat = Some(now);
        if n.state == NodeState::Suspect {
            n.reason = None;
            set(n, NodeState::Up, now);
            return (true, Some(change(n, Event::Recovered)));
        }
        (true, None)
    }

    /// The node called `name` is leaving on purpose.
    pub fn left(&mut self, name: &str, now: Instant) -> Vec<Change> {
        let Some(n) = self
            .nodes
            .values_mut()
            .rev()
            .find(|n| n.name.as_deref() == Some(name) && !n.state.gone())
        else {
            return Vec::new();
        };
        n.reason = Some("left on its own (shut down)".into());
        set(n, NodeState::Left, now);
        let mut changes = vec![change(n, Event::Left)];
        changes.extend(self.forget_oldest_gone());
        changes
    }

    /// Nodes up whose last heartbeat is older than the suspect deadline become suspect; suspect
    /// nodes silent past the drop deadline, and sessions that have not joined by then, are dropped.
    pub fn sweep(&mut self, now: Instant) -> Vec<Change> {
        let (suspect_after, drop_after) = (self.suspect_after, self.drop_after);
        let join_within = drop_after.max(JOIN_AT_LEAST);
        let mut changes = Vec::new();
        for n in self.nodes.values_mut() {
            let silent = n
                .last_heartbeat
                .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
            let waiting = now.saturating_duration_since(n.since);
            match n.state {
                NodeState::Up if silent > suspect_after => {
                    n.reason = Some(format!("no heartbeat for {} ms", silent.as_millis()));
                    set(n, NodeState::Suspect, now);
                    changes.push(change(n, Event::Suspect(silent)));
                }
                NodeState::Suspect if silent > drop_after => {
                    let why = format!("no heartbeat for {} s; disconnected", silent.as_secs());
                    n.reason = Some(why.clone());
                    set(n, NodeState::Lost, now);
                    changes.push(change(n, Event::Dropped(why)));
                }
                NodeState::Connecting | NodeState::Authenticated if waiting > join_within => {
                    let why = format!("did not join within {} s; disconnected", join_within.as_secs());
                    n.reason = Some(why.clone());
                    set(n, NodeState::Refused, now);
                    changes.push(change(n, Event::Dropped(why)));
                }
                _ => {}
            }
        }
        if !changes.is_empty() {
            changes.extend(self.forget_oldest_gone());
        }
        changes
    }

    pub fn count(&self, state: NodeState) -> usize {
        self.nodes.values().filter(|n| n.state == state).count()
    }

    fn forget_oldest_gone(&mut self) -> Vec<Change> {
        let mut gone: Vec<(Instant, u64)> = self
            .nodes
            .values()
            .filter(|n| n.state.gone())
            .map(|n| (n.since, n.node_id))
            .collect();
        if gone.len() <= KEEP_GONE {
            return Vec::new();
        }
        gone.sort();
        gone[..gone.len() - KEEP_GONE]
            .iter()
            .filter_map(|(_, id)| self.nodes.remove(id))
            .map(|n| change(&n, Event::Forgotten))
            .collect()
    }
}

fn set(n: &mut NodeRecord, state: NodeState, now: Instant) {
    n.state = state;
    n.since = now;
}

fn change(n: &NodeRecord, event: Event) -> Change {
    Change {
        node_id: n.node_id,
        name: n.name.clone().unwrap_or_else(|| format!("node-{}", n.node_id)),
        address: n.address.clone(),
        event,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted() -> Requirements {
        Requirements {
            release: "1.0".into(),
            model_sha256: "aa".into(),
            model_name: "m.onnx".into(),
        }
    }

    fn request(name: &str, sha: &str) -> JoinRequest {
        JoinRequest {
            name: name.into(),
            release: "1.0".into(),
            model_sha256: sha.into(),
            workers: 1,
        }
    }

    /// A node that connected on session `id` and joined as `name` at `t`.
    fn joined(m: &mut Membership, id: u64, name: &str, t: Instant) {
        m.opened(id, format!("127.0.0.1:{id}"), t);
        assert_eq!(m.join(id, &request(name, "aa"), &wanted(), t)[0].event, Event::Joined);
    }

    fn state(m: &Membership, id: u64) -> NodeState {
        m.nodes().find(|n| n.node_id == id).expect("node").state
    }

    #[test]
    fn a_session_closed_before_authentication_is_a_refused_cookie() {
        let mut m = Membership::new(Duration::from_millis(1500), Duration::from_secs(10));
        let t = Instant::now();
        m.opened(1, "127.0.0.1:5000".into(), t);
        let changes = m.closed(1, t);
        assert_eq!(changes[0].event, Event::AuthFailed);
        assert_eq!(state(&m, 1), NodeState::Refused);
        assert!(m
            .nodes()
            .next()
            .and_then(|n| n.reason.clone())
            .unwrap_or_default()
            .contains("cookie"));
    }

    #[test]
    fn join_checks_the_model_and_the_release() {
        let mut m = Membership::new(Duration::from_millis(1500), Duration::from_secs(10));
        let t = Instant::now();
        m.opened(1, "a".into(), t);
        m.authenticated(1, Some("w1".into()), t);
        let c = &m.join(1, &request("w1", "bb"), &wanted(), t)[0];
        assert!(matches!(&c.event, Event::Refused(why) if why.contains("model mismatch") && why.contains("bb")));
        assert_eq!(state(&m, 1), NodeState::Refused);
        m.opened(2, "b".into(), t);
        let mut old = request("w2", "aa");
        old.release = "0.9".into();
        assert!(matches!(&m.join(2, &old, &wanted(), t)[0].event, Event::Refused(why) if why.contains("release")));
        joined(&mut m, 3, "w3", t);
        assert_eq!(m.count(NodeState::Up), 1);
    }

    #[test]
    fn silence_makes_a_node_suspect_and_a_heartbeat_brings_it_back() {
        let mut m = Membership::new(Duration::from_millis(1500), Duration::from_secs(10));
        let t = Instant::now();
        joined(&mut m, 1, "w1", t);
        assert!(m.sweep(t + Duration::from_millis(1000)).is_empty());
        let changes = m.sweep(t + Duration::from_millis(1600));
        assert!(matches!(changes[0].event, Event::Suspect(_)));
        assert!(!changes[0].event.opens_gate());
        assert!(m.sweep(t + Duration::from_millis(3000)).is_empty(), "reported once");
        let (known, change) = m.heartbeat("w1", t + Duration::from_millis(3100));
        assert!(known);
        assert_eq!(change.map(|c| c.event), Some(Event::Recovered));
        assert!(!m.heartbeat("nobody", t).0);
    }

    #[test]
    fn a_node_silent_past_the_drop_deadline_or_never_joining_is_dropped() {
        let mut m = Membership::new(Duration::from_millis(1500), Duration::from_secs(10));
        let t = Instant::now();
        joined(&mut m, 1, "w1", t);
        m.opened(2, "127.0.0.1:2".into(), t);
        m.authenticated(2, Some("idle".into()), t);
        assert!(matches!(
            m.sweep(t + Duration::from_secs(2))[0].event,
            Event::Suspect(_)
        ));
        assert!(m.sweep(t + Duration::from_secs(9)).is_empty());
        let changes = m.sweep(t + Duration::from_secs(11));
        let events: Vec<(&str, &str)> = changes.iter().map(|c| (c.name.as_str(), c.event.label())).collect();
        assert_eq!(events, [("w1", "dropped"), ("idle", "dropped")]);
        assert!(matches!(&changes[0].event, Event::Dropped(why) if why.contains("no heartbeat for 11 s")));
        assert!(matches!(&changes[1].event, Event::Dropped(why) if why.contains("did not join")));
        assert_eq!((state(&m, 1), state(&m, 2)), (NodeState::Lost, NodeState::Refused));
        assert!(
            !m.heartbeat("w1", t + Duration::from_secs(12)).0,
            "a dropped node must join again"
        );
        assert!(
            m.closed(1, t + Duration::from_secs(12)).is_empty(),
            "its session closing changes nothing"
        );
        assert!(m.sweep(t + Duration::from_secs(60)).is_empty(), "dropped once");
    }

    #[test]
    fn a_rejoined_node_is_heard_on_its_new_session() {
        let mut m = Membership::new(Duration::from_millis(1500), Duration::from_secs(10));
        let t = Instant::now();
        joined(&mut m, 1, "w1", t);
        // Joined again before the old session's close was seen.
        joined(&mut m, 2, "w1", t + Duration::from_secs(1));
        assert!(m.heartbeat("w1", t + Duration::from_secs(2)).0);
        let changes = m.sweep(t + Duration::from_millis(3200));
        assert_eq!(changes.len(), 1, "only the old session goes suspect: {changes:?}");
        assert_eq!((state(&m, 1), state(&m, 2)), (NodeState::Suspect, NodeState::Up));
    }

    #[test]
    fn closing_and_leaving_end_a_node() {
        let mut m = Membership::new(Duration::from_millis(1500), Duration::from_secs(10));
        let t = Instant::now();
        joined(&mut m, 1, "w1", t);
        assert_eq!(m.closed(1, t)[0].event, Event::Lost);
        assert!(!m.heartbeat("w1", t).0, "a lost node is not known");
        joined(&mut m, 2, "w2", t);
        assert_eq!(m.left("w2", t)[0].event, Event::Left);
        assert!(m.closed(2, t).is_empty(), "closing after leaving changes nothing");
    }

    #[test]
    fn gone_nodes_are_bounded() {
        let mut m = Membership::new(Duration::from_millis(1500), Duration::from_secs(10));
        let t = Instant::now();
        let mut forgotten = 0;
        for id in 0..(KEEP_GONE as u64 + 5) {
            m.opened(id, "x".into(), t + Duration::from_millis(id));
            forgotten += m
                .closed(id, t + Duration::from_millis(id))
                .iter()
                .filter(|c| c.event == Event::Forgotten)
                .count();
        }
        assert_eq!(forgotten, 5);
        assert_eq!(m.nodes().count(), KEEP_GONE);
        // Refused joins count as gone too, without waiting for their sessions to close.
        let start = KEEP_GONE as u64 + 5;
        for id in start..start + 3 {
            let at = t + Duration::from_millis(id);
            m.opened(id, "y".into(), at);
            let changes = m.join(id, &request(&format!("w{id}"), "bb"), &wanted(), at);
            assert!(changes.iter().any(|c| c.event == Event::Forgotten), "{changes:?}");
        }
        assert_eq!(m.nodes().count(), KEEP_GONE);
    }
}
