//! What a user chooses per job: detection options per upload, drawing options per re-render,
//! and the x264 preset an operator picks. Typed from the HTTP form or CLI flag to the stored
//! record and back; each kind's ranges live in its one `validate`, which the API, the CLI, the
//! server's config and the benches all call.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::detect::DetectParams;
use crate::render::{RenderError, RenderStyle};

/// Detection on every N-th frame at most this sparse.
pub const MAX_EVERY: u64 = 1000;

/// An option that is out of range or unknown. `field` is the name the API form, the CLI and the
/// config file all use; `message` is a whole sentence that names it too.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct OptionError {
    pub field: &'static str,
    pub message: String,
}

impl OptionError {
    fn new(field: &'static str, message: String) -> Self {
        Self { field, message }
    }
}

/// An upload's detection options, stored with its video record. Fields missing from a stored
/// record read as the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobOptions {
    /// Minimum confidence of a detection kept, 0..=1.
    pub confidence: f32,
    /// IoU above which NMS merges two boxes of one class, 0..=1.
    pub iou: f32,
    /// Class names kept; empty keeps every class the model knows.
    pub classes: Vec<String>,
    /// Detect every N-th frame (1..=1000); the tracker predicts the frames between.
    pub every: u64,
}

impl Default for JobOptions {
    fn default() -> Self {
        let d = DetectParams::default();
        Self {
            confidence: d.confidence,
            iou: d.iou,
            classes: d.classes,
            every: 1,
        }
    }
}

impl JobOptions {
    /// Checks every range, and the class names against the model's `known` names.
    pub fn validate(&self, known: &[String]) -> Result<(), OptionError> {
        unit_interval("confidence", self.confidence)?;
        unit_interval("iou", self.iou)?;
        if !(1..=MAX_EVERY).contains(&self.every) {
            return Err(OptionError::new(
                "every",
                format!("every {} is outside 1..{MAX_EVERY}", self.every),
            ));
        }
        check_classes(&self.classes, known)
    }

    /// What each detection request carries.
    pub fn detect_params(&self) -> DetectParams {
        DetectParams {
            confidence: self.confidence,
            iou: self.iou,
            classes: self.classes.clone(),
        }
    }
}

/// How a video is drawn: the defaults for an upload, a user's choice for a re-render. Stored
/// with the render record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RenderOptions {
    /// Class names drawn; empty draws every class detected.
    pub classes: Vec<String>,
    /// Opacity of outlines and label backgrounds, (0, 1].
    pub opacity: f32,
    /// Outline thickness in pixels, 1..=32.
    pub thickness: u32,
    /// Whether each box gets a text label.
    pub labels: bool,
    /// Whether the video's zones and lines are drawn, with their running counts.
    pub rules: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        let d = RenderStyle::default();
        Self {
            classes: Vec::new(),
            opacity: d.opacity,
            thickness: d.thickness,
            labels: d.labels,
            rules: false,
        }
    }
}

impl RenderOptions {
    /// Checks the style's ranges (kept by [`RenderStyle::validate`]) and the class names.
    pub fn validate(&self, known: &[String]) -> Result<(), OptionError> {
        self.style()?;
        check_classes(&self.classes, known)
    }

    /// The drawing style these options ask for.
    pub fn style(&self) -> Result<RenderStyle, OptionError> {
        RenderStyle::new(self.thickness, self.opacity, self.labels).map_err(|e| {
            let field = match e {
                RenderError::Thickness(_) => "thickness",
                _ => "opacity",
            };
            OptionError::new(field, e.to_string())
        })
    }
}

/// x264's speed presets offered: slower ones cost more CPU per frame than detection leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    Ultrafast,
    Superfast,
    #[default]
    Veryfast,
    Faster,
    Fast,
    Medium,
}

impl Preset {
    pub const ALL: [Preset; 6] = [
        Preset::Ultrafast,
        Preset::Superfast,
        Preset::Veryfast,
        Preset::Faster,
        Preset::Fast,
        Preset::Medium,
    ];

    /// The name x264enc's `speed-preset` property takes.
    pub const fn as_str(self) -> &'static str {
        match self {
            Preset::Ultrafast => "ultrafast",
            Preset::Superfast => "superfast",
            Preset::Veryfast => "veryfast",
            Preset::Faster => "faster",
            Preset::Fast => "fast",
            Preset::Medium => "medium",
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Preset {
    type Err = OptionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preset::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = Preset::ALL.iter().map(|p| p.as_str()).collect();
            OptionError::new("preset", format!("'{s}' is not one of {}", names.join(", ")))
        })
    }
}

fn unit_interval(field: &'static str, value: f32) -> Result<(), OptionError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(OptionError::new(field, format!("{field} {value} is outside 0..1")))
    }
}

fn check_classes(classes: &[String], known: &[String]) -> Result<(), OptionError> {
    match classes.iter().find(|c| !known.contains(c)) {
        Some(name) => Err(OptionError::new(
            "classes",
            format!("unknown class '{name}'; the model knows: {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["person".into(), "car".into()]
    }

    #[test]
    fn each_bad_option_names_its_field() {
        let field = |o: JobOptions| o.validate(&names()).map_err(|e| e.field);
        assert_eq!(field(JobOptions::default()), Ok(()));
        let bad = |f: fn(&mut JobOptions)| {
            let mut o = JobOptions::default();
            f(&mut o);
            field(o)
        };
        assert_eq!(bad(|o| o.confidence = 1.5), Err("confidence"));
        assert_eq!(bad(|o| o.confidence = f32::NAN), Err("confidence"));
        assert_eq!(bad(|o| o.iou = -0.1), Err("iou"));
        assert_eq!(bad(|o| o.every = 0), Err("every"));
        assert_eq!(bad(|o| o.every = MAX_EVERY + 1), Err("every"));
        assert_eq!(bad(|o| o.classes = vec!["zebra".into()]), Err("classes"));
        let e = JobOptions {
            classes: vec!["zebra".into()],
            ..JobOptions::default()
        }
        .validate(&names())
        .unwrap_err();
        assert_eq!(e.to_string(), "unknown class 'zebra'; the model knows: person, car");
    }

    #[test]
    fn render_options_check_the_style_and_classes() {
        let field = |o: RenderOptions| o.validate(&names()).map_err(|e| e.field);
        assert_eq!(field(RenderOptions::default()), Ok(()));
        let thick = RenderOptions {
            thickness: 0,
            ..RenderOptions::default()
        };
        assert_eq!(field(thick), Err("thickness"));
        let faint = RenderOptions {
            opacity: 0.0,
            ..RenderOptions::default()
        };
        assert_eq!(field(faint), Err("opacity"));
        let classes = RenderOptions {
            classes: vec!["car".into(), "boat".into()],
            ..RenderOptions::default()
        };
        assert_eq!(field(classes), Err("classes"));
    }

    #[test]
    fn presets_parse_and_print_alike() {
        for p in Preset::ALL {
            assert_eq!(p.as_str().parse::<Preset>(), Ok(p));
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{p}\""));
        }
        let e = "placebo".parse::<Preset>().unwrap_err();
        assert_eq!(e.field, "preset");
        assert!(e.message.contains("'placebo' is not one of ultrafast"), "{e}");
    }

    #[test]
    fn thresholds_are_stored_as_written() {
        // f32 fields print their shortest form: 0.45, never 0.44999998807907104.
        let o = JobOptions {
            iou: 0.45,
            confidence: 0.3,
            ..JobOptions::default()
        };
        let json = serde_json::to_string(&o).unwrap();
        assert_eq!(json, r#"{"confidence":0.3,"iou":0.45,"classes":[],"every":1}"#);
    }
}
