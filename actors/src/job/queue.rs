//! JobManager's core: admits jobs with a bounded concurrency and a bounded queue. A job is named
//! by a key (a video, or a video's re-render).
//!
//! `submit` never blocks: a full queue is an answer ("try later"), not a wait. A dispatcher task
//! takes queued jobs in order as permits free up, runs each to its end, and keeps each running
//! job's progress receiver for whoever wants to follow it (server-sent events).

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch, Semaphore};

use super::outcome::JobOutcome;
use super::progress::JobProgress;

/// Runs one job given its progress sender; provided by whoever knows how to build the job.
pub type JobRunner<K> =
    Arc<dyn Fn(K, watch::Sender<JobProgress>) -> Pin<Box<dyn Future<Output = JobOutcome> + Send>> + Send + Sync>;

type Live<K> = Arc<Mutex<HashMap<K, watch::Receiver<JobProgress>>>>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubmitError {
    #[error("the job queue is full ({0} waiting); try again later")]
    QueueFull(usize),
    #[error("the job manager has stopped")]
    Stopped,
}

#[derive(Clone)]
pub struct JobQueue<K> {
    tx: mpsc::Sender<K>,
    queue_limit: usize,
    live: Live<K>,
}

impl<K: Copy + Eq + Hash + Display + Send + Sync + 'static> JobQueue<K> {
    /// Starts the dispatcher: at most `concurrency` jobs at once, at most `queue_limit` waiting.
    pub fn start(concurrency: usize, queue_limit: usize, runner: JobRunner<K>) -> Self {
        let (tx, mut rx) = mpsc::channel::<K>(queue_limit.max(1));
        let live: Live<K> = Arc::default();
        let permits = Arc::new(Semaphore::new(concurrency.max(1)));
        let running = live.clone();
        tokio::spawn(async move {
            // A slot first, then the next job: a job taken from the channel starts at once, so
            // the channel holds exactly the waiting jobs and its capacity is the queue's bound.
            while let Ok(permit) = permits.clone().acquire_owned().await {
                let Some(id) = rx.recv().await else {
                    break;
                };
                let (progress_tx, progress_rx) = watch::channel(JobProgress::default());
                if let Ok(mut l) = running.lock() {
                    l.insert(id, progress_rx);
                }
                let (runner, running) = (runner.clone(), running.clone());
                tokio::spawn(async move {
                    tracing::info!(job = %id, "job started");
                    let outcome = runner(id, progress_tx).await;
                    match &outcome.error {
                        None => tracing::info!(job = %id, status = %outcome.status, "job ended"),
                        Some(why) => tracing::warn!(job = %id, status = %outcome.status, error = %why, "job ended"),
                    }
                    if let Ok(mut l) = running.lock() {
                        l.remove(&id);
                    }
                    drop(permit);
                });
            }
        });
        Self { tx, queue_limit, live }
    }

    pub fn submit(&self, id: K) -> Result<(), SubmitError> {
        self.tx.try_send(id).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SubmitError::QueueFull(self.queue_limit),
            mpsc::error::TrySendError::Closed(_) => SubmitError::Stopped,
        })
    }

    /// Progress of a running job (`None` once it has ended or before it has started).
    pub fn progress(&self, id: K) -> Option<watch::Receiver<JobProgress>> {
        self.live.lock().ok()?.get(&id).cloned()
    }

    /// Whether any running job's key satisfies `f`.
    pub fn any_running(&self, f: impl Fn(&K) -> bool) -> bool {
        self.live.lock().map(|l| l.keys().any(f)).unwrap_or(false)
    }

    pub fn running(&self) -> usize {
        self.live.lock().map(|l| l.len()).unwrap_or(0)
    }

    pub fn waiting(&self) -> usize {
        self.queue_limit.saturating_sub(self.tx.capacity())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::VideoStatus;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn outcome() -> JobOutcome {
        JobOutcome {
            status: VideoStatus::Ready,
            error: None,
            warnings: Vec::new(),
            frames: 0,
            segments: 0,
            class_counts: Default::default(),
            wall: Duration::ZERO,
        }
    }

    #[tokio::test]
    async fn waits_exactly_queue_limit_jobs() {
        let gate = Arc::new(tokio::sync::Notify::new());
        let g = gate.clone();
        let runner: JobRunner<u64> = Arc::new(move |_, _| {
            let g = g.clone();
            Box::pin(async move {
                g.notified().await;
                outcome()
            })
        });
        let q = JobQueue::start(1, 1, runner);
        q.submit(1).expect("runs");
        while q.running() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        q.submit(2).expect("waits");
        assert_eq!(q.waiting(), 1);
        assert_eq!(
            q.submit(3),
            Err(SubmitError::QueueFull(1)),
            "one running, one waiting: full"
        );
        gate.notify_one();
        while q.running() == 0 || q.waiting() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(q.waiting(), 0, "job 2 started");
        q.submit(3).expect("room again");
        gate.notify_waiters();
    }

    #[tokio::test]
    async fn runs_at_most_n_at_once_and_refuses_past_the_queue() {
        let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (n, p) = (now.clone(), peak.clone());
        let runner: JobRunner<u64> = Arc::new(move |_, _| {
            let (n, p) = (n.clone(), p.clone());
            Box::pin(async move {
                let cur = n.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(cur, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                n.fetch_sub(1, Ordering::SeqCst);
                outcome()
            })
        });
        let q = JobQueue::start(2, 3, runner);
        let mut accepted = 0;
        let mut refused = 0;
        for i in 0..10 {
            match q.submit(i) {
                Ok(()) => accepted += 1,
                Err(SubmitError::QueueFull(3)) => refused += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(accepted >= 3 && refused > 0, "{accepted} accepted, {refused} refused");
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        assert_eq!(q.running(), 0);
    }
}
