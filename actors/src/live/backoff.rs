//! How long to wait before reconnecting: doubling from one second up to a ceiling, with a
//! little spread so that cameras that dropped together do not all knock at once.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    ceiling: Duration,
    /// Failed attempts since the source last delivered a frame.
    failures: u32,
}

impl Backoff {
    pub fn new(first: Duration, ceiling: Duration) -> Self {
        Self {
            first,
            ceiling: ceiling.max(first),
            failures: 0,
        }
    }

    /// Records a failed attempt and says how long to wait before the next; `spread` in 0..1
    /// (a random draw) lengthens it by up to a fifth.
    pub fn failed(&mut self, spread: f64) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let doubled = self.first.saturating_mul(1u32 << (self.failures - 1).min(16));
        doubled.min(self.ceiling).mul_f64(1.0 + spread.clamp(0.0, 1.0) * 0.2)
    }

    /// The source works again: the next failure waits the shortest time.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Failed attempts in a row.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_ceiling_and_starts_again_after_success() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(10));
        let waits: Vec<u64> = (0..6).map(|_| b.failed(0.0).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        assert_eq!(b.failures(), 6);
        b.reset();
        assert_eq!(b.failed(1.0), Duration::from_millis(1200));
        // Many failures never overflow.
        for _ in 0..100 {
            assert!(b.failed(0.5) <= Duration::from_secs(12));
        }
    }
}
