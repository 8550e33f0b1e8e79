//! The wall clock, for a live source's capture dates.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix milliseconds now (0 on a clock set before 1970).
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
