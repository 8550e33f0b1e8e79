//! The rules a client sends for a video or a live source: zones and lines in the picture's
//! normalised coordinates, as JSON (`setRules`, a live source's `rules`) or as an upload's form
//! field, turned into the engine's [`Rules`] and checked against the video's class names.

use poem_openapi::types::ParseFromJSON;
use poem_openapi::{Enum, Object};
use sightline_actors::analytics::{self, Anchor, Rules};

use super::error::ApiError;
use super::models::round4;

/// A point of the upright picture, normalised: (0, 0) top left, (1, 1) bottom right.
#[derive(Debug, Clone, Copy, Object)]
pub struct Point {
    #[oai(validator(minimum(value = "0"), maximum(value = "1")))]
    pub x: f64,
    #[oai(validator(minimum(value = "0"), maximum(value = "1")))]
    pub y: f64,
}

impl From<Point> for [f32; 2] {
    fn from(p: Point) -> Self {
        [p.x as f32, p.y as f32]
    }
}

impl From<[f32; 2]> for Point {
    fn from(p: [f32; 2]) -> Self {
        Point {
            x: round4(p[0]),
            y: round4(p[1]),
        }
    }
}

/// Which point of a box stands for the object; `bottom_center` when a rule does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum AnchorPoint {
    /// The middle of the box's bottom edge: where feet or wheels meet the floor.
    BottomCenter,
    /// The middle of the box.
    Center,
}

impl From<AnchorPoint> for Anchor {
    fn from(a: AnchorPoint) -> Self {
        match a {
            AnchorPoint::BottomCenter => Anchor::BottomCenter,
            AnchorPoint::Center => Anchor::Center,
        }
    }
}

impl From<Anchor> for AnchorPoint {
    fn from(a: Anchor) -> Self {
        match a {
            Anchor::BottomCenter => AnchorPoint::BottomCenter,
            Anchor::Center => AnchorPoint::Center,
        }
    }
}

/// An area: who enters it, who leaves, how long they stay.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ZoneRule {
    pub name: String,
    /// 3 to 64 points; edges must not cross (concave is fine).
    pub polygon: Vec<Point>,
    /// Class names it applies to; empty or absent: every class.
    #[oai(default)]
    pub classes: Vec<String>,
    /// Seconds inside after which `dwell_exceeded` is raised, once per visit.
    pub min_dwell_s: Option<f64>,
    // No doc comments on enum fields: poem-openapi would wrap the `$ref` in an `allOf`, which
    // client generators cannot take for an enum. The anchor's default is in the type's doc.
    pub anchor: Option<AnchorPoint>,
}

/// A line from `from` to `to`: crossing it from its left to its right (looking from `from` to
/// `to` in the picture) is the `positive` direction, the other way `negative`.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LineRule {
    pub name: String,
    pub from: Point,
    pub to: Point,
    /// The positive direction's name; default `in`.
    pub positive: Option<String>,
    /// The negative direction's name; default `out`.
    pub negative: Option<String>,
    #[oai(default)]
    pub classes: Vec<String>,
    pub anchor: Option<AnchorPoint>,
}

/// A video's rules: at most 32 zones and lines together.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RulesBody {
    #[oai(default)]
    pub zones: Vec<ZoneRule>,
    #[oai(default)]
    pub lines: Vec<LineRule>,
    /// Frames an anchor must hold a side of a line (or stay in or out of a zone) before that
    /// counts: 1..60, default 3. Higher resists jittering boxes, lower catches quick crossings.
    pub hysteresis_frames: Option<u32>,
}

impl RulesBody {
    /// The rules, checked against the video's class names.
    pub fn into_rules(self, names: &[String]) -> Result<Rules, ApiError> {
        let d = Rules::default();
        let rules = Rules {
            zones: self
                .zones
                .into_iter()
                .map(|z| analytics::Zone {
                    name: z.name,
                    polygon: z.polygon.into_iter().map(Into::into).collect(),
                    classes: z.classes,
                    min_dwell_s: z.min_dwell_s,
                    anchor: z.anchor.map_or(Anchor::default(), Into::into),
                })
                .collect(),
            lines: self
                .lines
                .into_iter()
                .map(|l| analytics::Line {
                    name: l.name,
                    from: l.from.into(),
                    to: l.to.into(),
                    positive: l.positive.unwrap_or_else(|| "in".into()),
                    negative: l.negative.unwrap_or_else(|| "out".into()),
                    classes: l.classes,
                    anchor: l.anchor.map_or(Anchor::default(), Into::into),
                })
                .collect(),
            hysteresis_frames: self.hysteresis_frames.unwrap_or(d.hysteresis_frames),
        };
        rules
            .validate(names)
            .map_err(|e| ApiError::bad_request(format!("rules: {e}")))?;
        Ok(rules)
    }

    /// An upload's `rules` field: the same JSON as `setRules`' body.
    pub fn parse_form_field(text: &str, names: &[String]) -> Result<Rules, ApiError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ApiError::bad_request(format!("rules: not JSON: {e}")))?;
        let body = RulesBody::parse_from_json(Some(value))
            .map_err(|e| ApiError::bad_request(format!("rules: {}", e.into_message())))?;
        body.into_rules(names)
    }
}
