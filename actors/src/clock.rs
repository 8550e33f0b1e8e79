//! The wall clock: record dates, and a live source's capture dates.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix milliseconds now (0 on a clock set before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
