//! The process-wide book of detector workers: which may be used, how busy each is, what each did.
//!
//! Every job's DetectorPool dispatches through it, so the limit of K requests in flight holds per
//! worker across all jobs, and a worker that keeps failing is benched for every job at once. The
//! Among workers with room, remote ones come first: this node's cores also decode, letterbox, draw
//! and encode, so a frame detected elsewhere leaves them to the pipeline. Then the least busy, then
//! the one answering fastest lately.
//! The cluster side opens and closes the gate of a remote node: a remote worker is used only while its
//! node has joined (cookie, model and version checked) and answers its heartbeats. Workers on this
//! node are always admitted.
//!
//! Metrics: `sightline_worker_frames_total{node,worker}` (answers used), and
//! `sightline_worker_request_seconds{node,worker}` (dispatch to answer, error or deadline).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use metrics::{Counter, Histogram};
use ractor::{ActorCell, ActorId};

use super::detector_worker::DETECTORS_GROUP;
use crate::telemetry;

/// The name this node's own workers are listed under.
const LOCAL_NODE: &str = "local";
/// Failures in a row that bench a worker.
const BENCH_AFTER: u32 = 3;
/// Weight of the newest answer time in a worker's recent figure.
const RECENT_WEIGHT: f64 = 0.2;
/// How long a benched worker sits out.
const BENCH_FOR: Duration = Duration::from_secs(10);

/// A remote node as the pool sees it.
#[derive(Debug, Clone)]
struct NodeGate {
    name: String,
    open: bool,
}

struct WorkerEntry {
    node: String,
    in_flight: usize,
    frames: u64,
    errors: u64,
    failures_in_row: u32,
    benched_until: Option<Instant>,
    latency_total: Duration,
    answers: u64,
    /// Recent answer time in ms (exponentially weighted); `None` until the first answer.
    recent_ms: Option<f64>,
    frames_metric: Counter,
    latency_metric: Histogram,
}

/// One worker's figures, for the cluster API.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerView {
    pub id: ActorId,
    pub node: String,
    pub in_flight: usize,
    /// Detections this worker produced that a job used (re-sent duplicates not counted).
    pub frames: u64,
    pub errors: u64,
    pub benched: bool,
    pub mean_latency_ms: Option<f64>,
}

#[derive(Default)]
struct Book {
    nodes: HashMap<u64, NodeGate>,
    workers: HashMap<ActorId, WorkerEntry>,
}

#[derive(Default)]
pub struct WorkerLedger {
    book: Mutex<Book>,
}

impl WorkerLedger {
    /// The ledger every pool of this process shares.
    pub fn global() -> &'static WorkerLedger {
        static LEDGER: OnceLock<WorkerLedger> = OnceLock::new();
        LEDGER.get_or_init(WorkerLedger::default)
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        // A panic while holding the lock leaves plain counters behind: still usable.
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens (or closes) the gate of remote node `node`, known to operators as `name`.
    pub fn set_node(&self, node: u64, name: &str, open: bool) {
        self.book().nodes.insert(
            node,
            NodeGate {
                name: name.to_string(),
                open,
            },
        );
    }

    /// Forgets a node and its workers' figures (the node is long gone).
    pub fn forget_node(&self, node: u64) {
        let mut book = self.book();
        book.nodes.remove(&node);
        book.workers.retain(|id, _| id.node() != node);
    }

    /// Whether requests may go to this worker now (its node admitted and answering).
    pub fn admits(&self, worker: ActorId) -> bool {
        admits(&self.book(), worker)
    }

    /// Workers in `sightline.detectors` that pools may use now.
    pub fn available(&self) -> usize {
        let members = ractor::pg::get_members(&DETECTORS_GROUP.to_string());
        let book = self.book();
        members.iter().filter(|m| admits(&book, m.get_id())).count()
    }

    /// Picks a usable worker with room (fewer than `limit` in flight) — remote before local, then
    /// least busy, then fastest lately — and counts the request against it. `remote_ok` is false
    /// when the request is too large to cross nodes.
    pub fn acquire(&self, candidates: &[ActorCell], limit: usize, remote_ok: bool) -> Option<ActorCell> {
        let mut book = self.book();
        let now = Instant::now();
        let mut best: Option<((bool, usize, f64), &ActorCell)> = None;
        for cell in candidates {
            let id = cell.get_id();
            if !admits(&book, id) || (!remote_ok && !id.is_local()) {
                continue;
            }
            let entry = entry(&mut book, id);
            if entry.benched_until.is_some_and(|t| t > now) || entry.in_flight >= limit.max(1) {
                continue;
            }
            let key = (id.is_local(), entry.in_flight, entry.recent_ms.unwrap_or(0.0));
            if best.is_none_or(|(b, _)| key < b) {
                best = Some((key, cell));
            }
        }
        let (_, cell) = best?;
        let cell = cell.clone();
        entry(&mut book, cell.get_id()).in_flight += 1;
        Some(cell)
    }

    /// A request to `worker` ended after `took`: answered (`ok`) or failed (error, deadline, gone).
    pub fn release(&self, worker: ActorId, ok: bool, took: Duration) {
        let mut book = self.book();
        let entry = entry(&mut book, worker);
        entry.in_flight = entry.in_flight.saturating_sub(1);
        entry.latency_metric.record(took.as_secs_f64());
        if ok {
            entry.failures_in_row = 0;
            entry.latency_total += took;
            entry.answers += 1;
            let ms = took.as_secs_f64() * 1000.0;
            entry.recent_ms = Some(entry.recent_ms.map_or(ms, |r| r + RECENT_WEIGHT * (ms - r)));
        } else {
            entry.errors += 1;
            entry.failures_in_row += 1;
            if entry.failures_in_row >= BENCH_AFTER {
                entry.failures_in_row = 0;
                entry.benched_until = Some(Instant::now() + BENCH_FOR);
                metrics::counter!(telemetry::WORKER_BENCHED_TOTAL).increment(1);
                tracing::warn!(worker = %worker, node = %entry.node, "worker failed {BENCH_AFTER} times in a row; benched for {BENCH_FOR:?}");
            }
        }
    }

    /// A job used this worker's answer for one frame.
    pub fn count_frame(&self, worker: ActorId) {
        let mut book = self.book();
        let entry = entry(&mut book, worker);
        entry.frames += 1;
        entry.frames_metric.increment(1);
    }

    /// Every worker seen, with its figures, and the group's members not used yet.
    pub fn workers(&self) -> Vec<WorkerView> {
        let members = ractor::pg::get_members(&DETECTORS_GROUP.to_string());
        let book = self.book();
        let now = Instant::now();
        let mut views: Vec<WorkerView> = book
            .workers
            .iter()
            .map(|(id, e)| WorkerView {
                id: *id,
                node: e.node.clone(),
                in_flight: e.in_flight,
                frames: e.frames,
                errors: e.errors,
                benched: e.benched_until.is_some_and(|t| t > now),
                mean_latency_ms: (e.answers > 0).then(|| e.latency_total.as_secs_f64() * 1000.0 / e.answers as f64),
            })
            .collect();
        for id in members.iter().map(ActorCell::get_id) {
            if !book.workers.contains_key(&id) {
                views.push(WorkerView {
                    id,
                    node: node_name(&book, id),
                    in_flight: 0,
                    frames: 0,
                    errors: 0,
                    benched: false,
                    mean_latency_ms: None,
                });
            }
        }
        views.sort_by_key(|v| v.id);
        views
    }
}

fn admits(book: &Book, worker: ActorId) -> bool {
    worker.is_local() || book.nodes.get(&worker.node()).is_some_and(|g| g.open)
}

fn node_name(book: &Book, id: ActorId) -> String {
    match book.nodes.get(&id.node()) {
        _ if id.is_local() => LOCAL_NODE.to_string(),
        Some(gate) => gate.name.clone(),
        None => format!("node-{}", id.node()),
    }
}

fn entry(book: &mut Book, id: ActorId) -> &mut WorkerEntry {
    let node = node_name(book, id);
    book.workers.entry(id).or_insert_with(|| {
        let worker = format!("{node}/{}", id.pid());
        WorkerEntry {
            frames_metric: metrics::counter!(telemetry::WORKER_FRAMES_TOTAL, "node" => node.clone(), "worker" => worker.clone()),
            latency_metric: metrics::histogram!(telemetry::WORKER_REQUEST_SECONDS, "node" => node.clone(), "worker" => worker),
            node,
            in_flight: 0,
            frames: 0,
            errors: 0,
            failures_in_row: 0,
            benched_until: None,
            latency_total: Duration::ZERO,
            answers: 0,
            recent_ms: None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REMOTE: ActorId = ActorId::Remote { node_id: 7, pid: 3 };

    #[test]
    fn remote_workers_need_an_open_gate() {
        let ledger = WorkerLedger::default();
        assert!(ledger.admits(ActorId::Local(1)));
        assert!(!ledger.admits(REMOTE));
        ledger.set_node(7, "worker-a", true);
        assert!(ledger.admits(REMOTE));
        ledger.set_node(7, "worker-a", false);
        assert!(!ledger.admits(REMOTE));
        ledger.set_node(7, "worker-a", true);
        ledger.release(REMOTE, true, Duration::from_millis(5));
        ledger.forget_node(7);
        assert!(!ledger.admits(REMOTE));
        assert!(ledger.workers().iter().all(|w| w.id != REMOTE));
    }

    struct Idle;

    impl ractor::Actor for Idle {
        type Msg = ();
        type State = ();
        type Arguments = ();
        async fn pre_start(&self, _: ractor::ActorRef<()>, _: ()) -> Result<(), ractor::ActorProcessingErr> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn acquire_picks_the_least_busy_with_room_and_skips_the_benched() {
        let ledger = WorkerLedger::default();
        let (a, _) = ractor::Actor::spawn(None, Idle, ()).await.expect("a");
        let (b, _) = ractor::Actor::spawn(None, Idle, ()).await.expect("b");
        let cells = [a.get_cell(), b.get_cell()];
        let picks: Vec<ActorId> = (0..4)
            .filter_map(|_| ledger.acquire(&cells, 2, true))
            .map(|c| c.get_id())
            .collect();
        assert_eq!(picks, [a.get_id(), b.get_id(), a.get_id(), b.get_id()]);
        assert!(ledger.acquire(&cells, 2, true).is_none(), "both are full");
        for _ in 0..2 {
            ledger.release(a.get_id(), true, Duration::from_millis(40));
        }
        ledger.release(b.get_id(), true, Duration::from_millis(10));
        // a is idle, b has one in flight: a goes first although b answered faster.
        assert_eq!(ledger.acquire(&cells, 2, true).map(|c| c.get_id()), Some(a.get_id()));
        // Three failures bench b: only a is used, until it is full.
        ledger.release(b.get_id(), false, Duration::ZERO);
        for _ in 0..3 {
            ledger.acquire(&cells, 2, true);
            ledger.release(b.get_id(), false, Duration::ZERO);
        }
        assert!(ledger.workers().iter().any(|w| w.id == b.get_id() && w.benched));
        while let Some(c) = ledger.acquire(&cells, 2, true) {
            assert_eq!(c.get_id(), a.get_id());
        }
        a.stop(None);
        b.stop(None);
    }

    #[test]
    fn failures_in_a_row_bench_a_worker_and_a_success_resets_them() {
        let ledger = WorkerLedger::default();
        let id = ActorId::Local(9);
        ledger.release(id, false, Duration::ZERO);
        ledger.release(id, false, Duration::ZERO);
        ledger.release(id, true, Duration::from_millis(10));
        ledger.release(id, false, Duration::ZERO);
        assert!(!ledger.workers()[0].benched);
        ledger.release(id, false, Duration::ZERO);
        ledger.release(id, false, Duration::ZERO);
        let view = &ledger.workers()[0];
        assert!(view.benched);
        assert_eq!(view.errors, 5);
        assert_eq!(view.mean_latency_ms, Some(10.0));
    }
}
