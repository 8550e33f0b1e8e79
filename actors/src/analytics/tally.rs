//! Running counts while frames go by, for drawing: crossings per line and direction so far, and
//! tracks inside each zone now. The same evaluation as the stored events, fed frame by frame.

use super::engine::{Analyzer, Event, EventKind, Sighting};
use super::rules::Rules;

pub struct Tally {
    analyzer: Analyzer,
    rules: Rules,
    /// Per line: [positive, negative] crossings so far.
    crossed: Vec<[u64; 2]>,
    /// Per zone: tracks inside now.
    inside: Vec<u64>,
    scratch: Vec<Event>,
}

impl Tally {
    /// `forget_after`: as for [`Analyzer::new`].
    pub fn new(rules: Rules, names: &[String], forget_after: u64) -> Self {
        Tally {
            analyzer: Analyzer::new(&rules, names, forget_after),
            crossed: vec![[0; 2]; rules.lines.len()],
            inside: vec![0; rules.zones.len()],
            rules,
            scratch: Vec::new(),
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// One frame's tracked boxes.
    pub fn observe(&mut self, sightings: &[Sighting]) {
        self.scratch.clear();
        for s in sightings {
            self.analyzer.observe(s, &mut self.scratch);
        }
        for e in &self.scratch {
            match e.kind {
                EventKind::LineCrossed => {
                    if let Some(i) = self.rules.lines.iter().position(|l| l.name == e.rule) {
                        let dir = usize::from(e.direction.as_deref() != Some(self.rules.lines[i].positive.as_str()));
                        self.crossed[i][dir] += 1;
                    }
                }
                EventKind::ZoneEntered | EventKind::ZoneLeft => {
                    if let Some(i) = self.rules.zones.iter().position(|z| z.name == e.rule) {
                        self.inside[i] = if e.kind == EventKind::ZoneEntered {
                            self.inside[i] + 1
                        } else {
                            self.inside[i].saturating_sub(1)
                        };
                    }
                }
                EventKind::DwellExceeded => {}
            }
        }
    }

    /// What line `i`'s label says: `door: in 3 out 2`.
    pub fn line_text(&self, i: usize) -> String {
        let (l, [p, n]) = (&self.rules.lines[i], self.crossed[i]);
        format!("{}: {} {p} {} {n}", l.name, l.positive, l.negative)
    }

    /// What zone `i`'s label says: `queue: 2 inside`.
    pub fn zone_text(&self, i: usize) -> String {
        format!("{}: {} inside", self.rules.zones[i].name, self.inside[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::rules::fixtures::{line, zone};

    #[test]
    fn counts_run_as_frames_go_by() {
        let rules = Rules {
            lines: vec![line("door", [0.1, 0.5], [0.9, 0.5])],
            zones: vec![zone("hall", vec![[0.0, 0.55], [1.0, 0.55], [1.0, 1.0], [0.0, 1.0]])],
            ..Rules::default()
        };
        let mut tally = Tally::new(rules, &["person".to_string()], 30);
        assert_eq!(
            (tally.line_text(0), tally.zone_text(0)),
            ("door: in 0 out 0".into(), "hall: 0 inside".into())
        );
        for i in 0..20u64 {
            let y = 0.3 + 0.4 * i as f32 / 19.0;
            tally.observe(&[Sighting {
                frame: i,
                time_ms: i * 40,
                track_id: 1,
                class_id: 0,
                bbox: [0.45, y - 0.2, 0.55, y],
                predicted: false,
            }]);
        }
        assert_eq!(
            (tally.line_text(0), tally.zone_text(0)),
            ("door: in 1 out 0".into(), "hall: 1 inside".into())
        );
    }
}
