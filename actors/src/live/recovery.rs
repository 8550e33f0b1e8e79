//! What becomes of a live source when one of its runs ends: stopped, failed for good, or run
//! again after a wait. A run is the source's whole pipeline (connection, detection, drawing,
//! encoding, storing); it ends when a user (or the server's shutdown) stops it, or when any of its
//! stages fails. Pure: `openapi`'s live sources gather the facts and drive it.
//!
//! ```text
//!                 ┌────────── stopped ──────────> Stopped
//!   run ends ─────┼── a cause that cannot pass ──> Failed (reason)
//!      ^          └── a cause that may pass ─────> Reconnecting (reason)
//!      │                                                │ wait 1 s, 2, 4 … 30 s (+ up to 20 %)
//!      └──────────────── run again <────────────────────┘ (back to 1 s after a run of 60 s)
//! ```
//!
//! Causes that cannot pass: the source was deleted, its stored URL is one we do not take, or it
//! never delivered a frame in `live_max_attempts` attempts (wrong credentials, no such stream,
//! nothing listening: the configured attempts say when to stop trying). Anything else (a full
//! disk, an encoder or store error, a camera gone after it had worked) may pass, so the source
//! tries again by itself, and comes back `live` once the cause is gone.

use std::time::Duration;

use super::backoff::Backoff;

/// The first wait before a failed run is tried again.
pub const DEFAULT_RETRY_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between runs: what a cause that has passed may cost at most before the
/// source is back (plus a fifth of spread).
pub const DEFAULT_RETRY_CEILING: Duration = Duration::from_secs(30);
/// A run that lasted this long worked: the next failure waits the shortest time again.
pub const DEFAULT_STABLE_RUN: Duration = Duration::from_secs(60);

/// Why a run failed, as far as deciding what next needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureCause {
    /// The source's record is gone.
    Deleted,
    /// The stored URL is not one we take.
    BadUrl,
    /// The source never delivered a frame in the attempts it was given.
    Unreachable,
    /// The data folder is below its free-space floor.
    LowSpace,
    /// A stage failed (encoder, store, decoder …) for another reason.
    Stage,
}

impl FailureCause {
    /// Whether the cause may go away by itself, so that trying again makes sense.
    pub const fn may_pass(self) -> bool {
        matches!(self, Self::LowSpace | Self::Stage)
    }
}

/// What is known when a run has ended; see [`RunFacts::cause`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFacts {
    /// It was asked to stop (by a user, or the server shutting down).
    pub stop_asked: bool,
    /// Its record is still in the store.
    pub exists: bool,
    /// Its stored URL still parses.
    pub url_ok: bool,
    /// The source gave up connecting (see `LiveMonitor::gave_up`).
    pub gave_up: bool,
    /// The data folder's free-space floor is not met: the sentence that says so.
    pub low_space: Option<String>,
    /// The run's own reason (the failing stage's words, or the source's).
    pub error: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    Stopped,
    Failed { cause: FailureCause, reason: String },
}

impl RunFacts {
    /// How the run ended, with a reason in words an operator can act on.
    pub fn end(&self) -> RunEnd {
        // A run only ends without failing when it was asked to; one that failed on its way out
        // was still stopped.
        if self.stop_asked {
            return RunEnd::Stopped;
        }
        let error = self
            .error
            .clone()
            .unwrap_or_else(|| "the live source's run ended without a reason".into());
        let (cause, reason) = if !self.exists {
            (FailureCause::Deleted, "the live source was deleted".into())
        } else if !self.url_ok {
            (FailureCause::BadUrl, error)
        } else if self.gave_up {
            (FailureCause::Unreachable, error)
        } else if let Some(low) = &self.low_space {
            // The floor is the cause; what tripped on it, when not the floor itself, says where.
            let reason = match error.contains(low.as_str()) {
                true => error,
                false => format!("{low}; the run stopped: {error}"),
            };
            (FailureCause::LowSpace, reason)
        } else {
            (FailureCause::Stage, error)
        };
        RunEnd::Failed { cause, reason }
    }
}

/// What to do after a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Stopped on purpose: nothing more.
    Stop,
    /// Failed for good, for `reason`.
    Fail { reason: String },
    /// Run again after `wait`; `attempt` failed runs in a row so far.
    Retry {
        wait: Duration,
        attempt: u32,
        reason: String,
    },
}

/// One source's runs, one after another.
#[derive(Debug, Clone)]
pub struct Recovery {
    backoff: Backoff,
    stable_run: Duration,
}

impl Default for Recovery {
    fn default() -> Self {
        Self::new(DEFAULT_RETRY_FIRST, DEFAULT_RETRY_CEILING, DEFAULT_STABLE_RUN)
    }
}

impl Recovery {
    pub fn new(first: Duration, ceiling: Duration, stable_run: Duration) -> Self {
        Recovery {
            backoff: Backoff::new(first, ceiling),
            stable_run,
        }
    }

    /// A run that lasted `ran_for` ended as `end`; `spread` in 0..1 (a random draw) spaces out
    /// sources that failed together (a disk that filled under all of them).
    pub fn decide(&mut self, end: RunEnd, ran_for: Duration, spread: f64) -> Decision {
        match end {
            RunEnd::Stopped => Decision::Stop,
            RunEnd::Failed { cause, reason } if !cause.may_pass() => Decision::Fail { reason },
            RunEnd::Failed { reason, .. } => {
                // A run that worked for a while is a new trouble, not more of the old one: a
                // source that fails once a day should not wait 30 s each time.
                if ran_for >= self.stable_run {
                    self.backoff.reset();
                }
                let wait = self.backoff.failed(spread);
                Decision::Retry {
                    wait,
                    attempt: self.backoff.failures(),
                    reason,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> RunFacts {
        RunFacts {
            exists: true,
            url_ok: true,
            error: Some("the HLS writer failed: Error while writing to file".into()),
            ..RunFacts::default()
        }
    }

    #[test]
    fn each_fact_gives_its_cause_and_a_reason_in_words() {
        let failed = |f: RunFacts| match f.end() {
            RunEnd::Failed { cause, reason } => (cause, reason),
            RunEnd::Stopped => panic!("stopped: {f:?}"),
        };
        assert_eq!(failed(facts()).0, FailureCause::Stage);
        let low = RunFacts {
            low_space: Some("only 0 MiB are free in the data folder; 1 MiB must stay free (min_free_mb)".into()),
            ..facts()
        };
        let (cause, reason) = failed(low);
        assert_eq!(cause, FailureCause::LowSpace);
        assert!(reason.starts_with("only 0 MiB are free"), "{reason}");
        assert!(reason.contains("Error while writing"), "{reason}");
        let floor = "only 0 MiB are free in the data folder; 1 MiB must stay free (min_free_mb)";
        let refused_to_start = RunFacts {
            low_space: Some(floor.into()),
            error: Some(floor.into()),
            ..facts()
        };
        assert_eq!(failed(refused_to_start), (FailureCause::LowSpace, floor.into()));
        let gave_up = RunFacts {
            gave_up: true,
            error: Some("the source refused the credentials (401 Unauthorized)".into()),
            ..facts()
        };
        assert_eq!(
            failed(gave_up),
            (
                FailureCause::Unreachable,
                "the source refused the credentials (401 Unauthorized)".into()
            )
        );
        assert_eq!(
            failed(RunFacts {
                url_ok: false,
                ..facts()
            })
            .0,
            FailureCause::BadUrl
        );
        let deleted = RunFacts {
            exists: false,
            low_space: Some("full".into()),
            ..facts()
        };
        assert_eq!(
            failed(deleted),
            (FailureCause::Deleted, "the live source was deleted".into())
        );
        // Asked to stop, a failure on the way out is still a stop.
        let stopped = RunFacts {
            stop_asked: true,
            exists: false,
            ..facts()
        };
        assert_eq!(stopped.end(), RunEnd::Stopped);
        let quiet = RunFacts { error: None, ..facts() };
        assert_eq!(
            failed(quiet),
            (
                FailureCause::Stage,
                "the live source's run ended without a reason".into()
            )
        );
    }

    #[test]
    fn causes_that_may_pass_are_retried_with_doubling_waits_up_to_the_ceiling() {
        let mut r = Recovery::default();
        let stage = || RunEnd::Failed {
            cause: FailureCause::Stage,
            reason: "the encoder failed".into(),
        };
        let waits: Vec<(u64, u32)> = (0..7)
            .map(|_| match r.decide(stage(), Duration::from_secs(2), 0.0) {
                Decision::Retry { wait, attempt, .. } => (wait.as_secs(), attempt),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(waits, [(1, 1), (2, 2), (4, 3), (8, 4), (16, 5), (30, 6), (30, 7)]);
        // Spread lengthens a wait by a fifth at most.
        let Decision::Retry { wait, .. } = r.decide(stage(), Duration::ZERO, 1.0) else {
            panic!("not retried")
        };
        assert_eq!(wait, Duration::from_secs(36));
        // After a run that worked for a minute, the shortest wait again.
        let next = r.decide(stage(), DEFAULT_STABLE_RUN, 0.0);
        assert_eq!(
            next,
            Decision::Retry {
                wait: Duration::from_secs(1),
                attempt: 1,
                reason: "the encoder failed".into()
            }
        );
    }

    #[test]
    fn causes_that_cannot_pass_fail_and_a_stop_stops() {
        let mut r = Recovery::default();
        for cause in [FailureCause::Deleted, FailureCause::BadUrl, FailureCause::Unreachable] {
            let d = r.decide(
                RunEnd::Failed {
                    cause,
                    reason: "why".into(),
                },
                Duration::ZERO,
                0.0,
            );
            assert_eq!(d, Decision::Fail { reason: "why".into() }, "{cause:?}");
        }
        let d = r.decide(RunEnd::Stopped, Duration::ZERO, 0.0);
        assert_eq!(d, Decision::Stop);
    }
}
