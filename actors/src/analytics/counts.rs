//! Counts of a video's events: per line, crossings by direction and class, in total and per time
//! bin; per zone, entries, exits, dwell and occupancy over time.

use std::collections::BTreeMap;

use super::engine::{Event, EventKind};
use super::rules::Rules;

/// Crossings keyed by (direction, class id).
pub type Crossings = BTreeMap<(String, u16), u64>;

#[derive(Debug, Clone, PartialEq)]
pub struct LineCount {
    pub rule: String,
    pub totals: Crossings,
    /// (bin start in ms, crossings in it); bins without any are left out.
    pub bins: Vec<(u64, Crossings)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ZoneCount {
    pub rule: String,
    pub entries: u64,
    pub exits: u64,
    pub dwell_exceeded: u64,
    /// Over visits that ended (an exit); none before the first.
    pub mean_dwell_ms: Option<u64>,
    pub max_dwell_ms: Option<u64>,
    /// (bin start in ms, most tracks inside at once during it); empty bins are left out.
    pub occupancy: Vec<(u64, u64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Counts {
    pub bin_ms: u64,
    pub lines: Vec<LineCount>,
    pub zones: Vec<ZoneCount>,
}

/// `events` in time order; `end_ms`, the video's length, bounds occupancy of those still inside.
pub fn count(rules: &Rules, events: &[Event], bin_ms: u64, end_ms: u64) -> Counts {
    let bin_ms = bin_ms.max(1);
    let bin = |t: u64| t / bin_ms * bin_ms;
    let lines = rules
        .lines
        .iter()
        .map(|l| {
            let mut totals = Crossings::new();
            let mut bins: BTreeMap<u64, Crossings> = BTreeMap::new();
            for e in of(events, &l.name).filter(|e| e.kind == EventKind::LineCrossed) {
                let key = (e.direction.clone().unwrap_or_default(), e.class_id);
                *totals.entry(key.clone()).or_default() += 1;
                *bins.entry(bin(e.time_ms)).or_default().entry(key).or_default() += 1;
            }
            LineCount {
                rule: l.name.clone(),
                totals,
                bins: bins.into_iter().collect(),
            }
        })
        .collect();
    let zones = rules
        .zones
        .iter()
        .map(|z| {
            let count_of = |k: EventKind| of(events, &z.name).filter(|e| e.kind == k).count() as u64;
            let dwells: Vec<u64> = of(events, &z.name)
                .filter(|e| e.kind == EventKind::ZoneLeft)
                .filter_map(|e| e.dwell_ms)
                .collect();
            ZoneCount {
                rule: z.name.clone(),
                entries: count_of(EventKind::ZoneEntered),
                exits: count_of(EventKind::ZoneLeft),
                dwell_exceeded: count_of(EventKind::DwellExceeded),
                mean_dwell_ms: (!dwells.is_empty()).then(|| dwells.iter().sum::<u64>() / dwells.len() as u64),
                max_dwell_ms: dwells.iter().copied().max(),
                occupancy: occupancy(of(events, &z.name), bin_ms, end_ms),
            }
        })
        .collect();
    Counts { bin_ms, lines, zones }
}

fn of<'a>(events: &'a [Event], rule: &'a str) -> impl Iterator<Item = &'a Event> + 'a {
    events.iter().filter(move |e| e.rule == rule)
}

/// Most tracks inside at once per bin, from a zone's entries and exits in time order.
fn occupancy<'a>(events: impl Iterator<Item = &'a Event>, bin_ms: u64, end_ms: u64) -> Vec<(u64, u64)> {
    let mut out: BTreeMap<u64, u64> = BTreeMap::new();
    let mut note = |from: u64, to: u64, inside: u64| {
        if inside == 0 {
            return;
        }
        let mut b = from / bin_ms * bin_ms;
        while b <= to {
            let m = out.entry(b).or_default();
            *m = (*m).max(inside);
            b += bin_ms;
        }
    };
    let (mut inside, mut since) = (0u64, 0u64);
    for e in events {
        let change = match e.kind {
            EventKind::ZoneEntered => 1i64,
            EventKind::ZoneLeft => -1,
            _ => continue,
        };
        // Up to just before this event, at the level held since the last one.
        note(since, e.time_ms.saturating_sub(1).max(since), inside);
        inside = inside.saturating_add_signed(change);
        since = e.time_ms;
        note(since, since, inside);
    }
    note(since, end_ms.saturating_sub(1).max(since), inside);
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::rules::fixtures::{line, zone};

    fn event(
        kind: EventKind,
        rule: &str,
        track: u64,
        time_ms: u64,
        direction: Option<&str>,
        dwell: Option<u64>,
    ) -> Event {
        Event {
            kind,
            rule: rule.into(),
            track_id: track,
            class_id: 0,
            frame: time_ms / 40,
            time_ms,
            position: [0.5, 0.5],
            direction: direction.map(String::from),
            dwell_ms: dwell,
        }
    }

    #[test]
    fn lines_and_zones_are_counted_per_bin() {
        let rules = Rules {
            lines: vec![line("door", [0.1, 0.5], [0.9, 0.5])],
            zones: vec![zone("queue", vec![[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]])],
            ..Rules::default()
        };
        let events = vec![
            event(EventKind::LineCrossed, "door", 1, 1_000, Some("in"), None),
            event(EventKind::ZoneEntered, "queue", 2, 2_000, None, None),
            event(EventKind::LineCrossed, "door", 3, 4_000, Some("in"), None),
            event(EventKind::ZoneEntered, "queue", 4, 5_000, None, None),
            event(EventKind::ZoneLeft, "queue", 2, 12_000, None, Some(10_000)),
            event(EventKind::LineCrossed, "door", 1, 15_000, Some("out"), None),
        ];
        let c = count(&rules, &events, 10_000, 30_000);
        let door = &c.lines[0];
        assert_eq!(door.totals.get(&("in".to_string(), 0)), Some(&2));
        assert_eq!(door.totals.get(&("out".to_string(), 0)), Some(&1));
        assert_eq!(door.bins.iter().map(|(b, _)| *b).collect::<Vec<_>>(), [0, 10_000]);
        let queue = &c.zones[0];
        assert_eq!((queue.entries, queue.exits), (2, 1));
        assert_eq!((queue.mean_dwell_ms, queue.max_dwell_ms), (Some(10_000), Some(10_000)));
        // Two inside during the first two bins, one (still inside at the end) in the third.
        assert_eq!(queue.occupancy, [(0, 2), (10_000, 2), (20_000, 1)]);
    }
}
