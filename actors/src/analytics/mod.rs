//! Zones, lines and dwell over tracked boxes (pure logic, no ractor): the rules and their checks,
//! the geometry, the evaluation that turns tracked boxes into events, and counts of those events.

mod counts;
mod engine;
pub mod geometry;
mod rules;
mod tally;

pub use counts::{count, Counts, Crossings, LineCount, ZoneCount};
pub use engine::{evaluate, Analyzer, Event, EventKind, Sighting};
#[cfg(test)]
pub(crate) use rules::fixtures;
pub use rules::{Anchor, Line, RuleError, Rules, Zone, DEFAULT_HYSTERESIS_FRAMES, MAX_RULES};
pub use tally::Tally;
