//! A video's analytics rules: zones and lines on the upright picture, checked before use.

use serde::{Deserialize, Serialize};

use super::geometry::{self, Point};

/// Zones and lines together, at most this many: each costs a little on every tracked box.
pub const MAX_RULES: usize = 32;
/// Points of one zone's polygon, at most.
pub const MAX_POLYGON_POINTS: usize = 64;
/// Frames an anchor must stay on a side (or in or out of a zone) before that counts.
pub const DEFAULT_HYSTERESIS_FRAMES: u32 = 3;
pub const MAX_HYSTERESIS_FRAMES: u32 = 60;

/// Which point of a box stands for the object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// Where a person's feet or a car's wheels meet the ground: right for lines on the floor.
    #[default]
    BottomCenter,
    Center,
}

impl Anchor {
    /// The anchor of an `[x1, y1, x2, y2]` box.
    pub fn of(self, bbox: [f32; 4]) -> Point {
        let x = (bbox[0] + bbox[2]) / 2.0;
        match self {
            Anchor::BottomCenter => [x, bbox[3]],
            Anchor::Center => [x, (bbox[1] + bbox[3]) / 2.0],
        }
    }
}

/// An area of the picture: who enters it, who leaves, how long they stay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Zone {
    pub name: String,
    /// At least 3 points, 0..1, edges not crossing; concave is fine.
    pub polygon: Vec<Point>,
    /// Class names it applies to; empty: every class.
    #[serde(default)]
    pub classes: Vec<String>,
    /// Seconds inside after which a `dwell_exceeded` event is raised, once per visit.
    #[serde(default)]
    pub min_dwell_s: Option<f64>,
    #[serde(default)]
    pub anchor: Anchor,
}

/// A line drawn from `from` to `to`: who crosses it, which way. Crossing from its left to its
/// right (as seen in the picture, looking from `from` to `to`) is the `positive` direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub name: String,
    pub from: Point,
    pub to: Point,
    #[serde(default = "default_positive")]
    pub positive: String,
    #[serde(default = "default_negative")]
    pub negative: String,
    #[serde(default)]
    pub classes: Vec<String>,
    #[serde(default)]
    pub anchor: Anchor,
}

fn default_positive() -> String {
    "in".into()
}

fn default_negative() -> String {
    "out".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    #[serde(default)]
    pub zones: Vec<Zone>,
    #[serde(default)]
    pub lines: Vec<Line>,
    /// Frames an anchor must hold a side before a crossing (or an entry or exit) counts.
    #[serde(default = "default_hysteresis")]
    pub hysteresis_frames: u32,
}

fn default_hysteresis() -> u32 {
    DEFAULT_HYSTERESIS_FRAMES
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            zones: Vec::new(),
            lines: Vec::new(),
            hysteresis_frames: DEFAULT_HYSTERESIS_FRAMES,
        }
    }
}

/// What is wrong with a set of rules, in a sentence that names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(pub String);

fn check_point(what: &str, p: Point) -> Result<(), RuleError> {
    let ok = p.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v));
    if ok {
        Ok(())
    } else {
        Err(RuleError(format!(
            "{what}: point ({}, {}) is outside the picture (coordinates are 0..1)",
            p[0], p[1]
        )))
    }
}

fn check_classes(what: &str, classes: &[String], names: &[String]) -> Result<(), RuleError> {
    match classes.iter().find(|c| !names.contains(c)) {
        Some(c) => Err(RuleError(format!("{what}: unknown class '{c}'"))),
        None => Ok(()),
    }
}

fn check_name(what: &str, name: &str) -> Result<(), RuleError> {
    if name.trim().is_empty() || name.chars().count() > 64 {
        return Err(RuleError(format!("{what}: a name is 1 to 64 characters")));
    }
    Ok(())
}

impl Rules {
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty() && self.lines.is_empty()
    }

    /// Every rule is usable with a model that knows `names`.
    pub fn validate(&self, names: &[String]) -> Result<(), RuleError> {
        let count = self.zones.len() + self.lines.len();
        if count > MAX_RULES {
            return Err(RuleError(format!(
                "at most {MAX_RULES} rules (zones and lines), got {count}"
            )));
        }
        if !(1..=MAX_HYSTERESIS_FRAMES).contains(&self.hysteresis_frames) {
            return Err(RuleError(format!(
                "hysteresis_frames {} is outside 1..{MAX_HYSTERESIS_FRAMES}",
                self.hysteresis_frames
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for name in self
            .zones
            .iter()
            .map(|z| &z.name)
            .chain(self.lines.iter().map(|l| &l.name))
        {
            if !seen.insert(name.as_str()) {
                return Err(RuleError(format!("two rules are named '{name}': names must differ")));
            }
        }
        for z in &self.zones {
            let what = format!("zone '{}'", z.name);
            check_name(&what, &z.name)?;
            if z.polygon.len() < 3 || z.polygon.len() > MAX_POLYGON_POINTS {
                return Err(RuleError(format!(
                    "{what}: a polygon has 3 to {MAX_POLYGON_POINTS} points, got {}",
                    z.polygon.len()
                )));
            }
            for p in &z.polygon {
                check_point(&what, *p)?;
            }
            if let Some((i, j)) = geometry::self_crossing(&z.polygon) {
                return Err(RuleError(format!(
                    "{what}: the polygon crosses itself (edges {i} and {j})"
                )));
            }
            if let Some(d) = z.min_dwell_s {
                if !(d.is_finite() && d > 0.0) {
                    return Err(RuleError(format!(
                        "{what}: min_dwell_s must be a number of seconds > 0"
                    )));
                }
            }
            check_classes(&what, &z.classes, names)?;
        }
        for l in &self.lines {
            let what = format!("line '{}'", l.name);
            check_name(&what, &l.name)?;
            check_point(&what, l.from)?;
            check_point(&what, l.to)?;
            let (dx, dy) = (l.to[0] - l.from[0], l.to[1] - l.from[1]);
            if (dx * dx + dy * dy).sqrt() < 0.01 {
                return Err(RuleError(format!("{what}: its two points are (almost) the same")));
            }
            if l.positive.trim().is_empty() || l.negative.trim().is_empty() || l.positive == l.negative {
                return Err(RuleError(format!(
                    "{what}: the positive and negative directions need two different names"
                )));
            }
            check_classes(&what, &l.classes, names)?;
        }
        Ok(())
    }
}

/// Rules for tests: a line with the default directions, a zone of every class.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub fn line(name: &str, from: Point, to: Point) -> Line {
        Line {
            name: name.into(),
            from,
            to,
            positive: "in".into(),
            negative: "out".into(),
            classes: vec![],
            anchor: Anchor::BottomCenter,
        }
    }

    pub fn zone(name: &str, polygon: Vec<Point>) -> Zone {
        Zone {
            name: name.into(),
            polygon,
            classes: vec![],
            min_dwell_s: None,
            anchor: Anchor::BottomCenter,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["person".into(), "car".into()]
    }

    fn zone(polygon: Vec<Point>) -> Zone {
        fixtures::zone("z", polygon)
    }

    fn line(from: Point, to: Point) -> Line {
        fixtures::line("l", from, to)
    }

    fn refused(rules: Rules) -> String {
        rules.validate(&names()).expect_err("refused").0
    }

    #[test]
    fn bad_rules_are_refused_with_the_problem_named() {
        let triangle = vec![[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]];
        let with_zone = |z: Zone| Rules {
            zones: vec![z],
            ..Rules::default()
        };
        assert!(refused(with_zone(zone(vec![[0.1, 0.1], [0.9, 0.1]]))).contains("3 to 64 points, got 2"));
        let bow = vec![[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]];
        assert!(refused(with_zone(zone(bow))).contains("crosses itself"));
        assert!(refused(with_zone(zone(vec![[0.1, 0.1], [1.2, 0.1], [0.5, 0.9]]))).contains("(1.2, 0.1) is outside"));
        let unicorns = Zone {
            classes: vec!["unicorn".into()],
            ..zone(triangle.clone())
        };
        assert!(refused(with_zone(unicorns)).contains("unknown class 'unicorn'"));
        let too_many = Rules {
            lines: (0..40)
                .map(|i| Line {
                    name: format!("l{i}"),
                    ..line([0.1, 0.5], [0.9, 0.5])
                })
                .collect(),
            ..Rules::default()
        };
        assert!(refused(too_many).contains("at most 32 rules"));
        let twins = Rules {
            zones: vec![zone(triangle.clone())],
            lines: vec![Line {
                name: "z".into(),
                ..line([0.1, 0.5], [0.9, 0.5])
            }],
            ..Rules::default()
        };
        assert!(refused(twins).contains("two rules are named 'z'"));
        let dot = Rules {
            lines: vec![line([0.5, 0.5], [0.5, 0.5])],
            ..Rules::default()
        };
        assert!(refused(dot).contains("the same"));
        let fine = Rules {
            zones: vec![zone(triangle)],
            lines: vec![line([0.1, 0.5], [0.9, 0.5])],
            ..Rules::default()
        };
        assert_eq!(fine.validate(&names()), Ok(()));
    }

    #[test]
    fn rules_read_with_their_defaults() {
        let r: Rules =
            serde_json::from_str(r#"{"lines":[{"name":"door","from":[0.1,0.5],"to":[0.9,0.5]}]}"#).expect("parses");
        assert_eq!(r.hysteresis_frames, DEFAULT_HYSTERESIS_FRAMES);
        assert_eq!(
            (r.lines[0].positive.as_str(), r.lines[0].anchor),
            ("in", Anchor::BottomCenter)
        );
    }
}
