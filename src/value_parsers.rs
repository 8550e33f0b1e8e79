//! Command-line values checked by the same rules as the API and the config file: each parser
//! reads the number, then lets the typed options' own `validate` judge it, so a bad value is a
//! usage error (exit 2) saying what the API would say.

use sightline_actors::job::{EngineSettings, JobOptions, Preset};

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("'{s}' is not a number"))
}

fn judged<T>(value: T, options: JobOptions) -> Result<T, String> {
    options.validate(&[]).map(|_| value).map_err(|e| e.message)
}

/// `--conf`: minimum confidence.
pub fn confidence(s: &str) -> Result<f32, String> {
    let confidence = number(s)?;
    judged(
        confidence,
        JobOptions {
            confidence,
            ..JobOptions::default()
        },
    )
}

/// `--iou`: NMS overlap.
pub fn iou(s: &str) -> Result<f32, String> {
    let iou = number(s)?;
    judged(
        iou,
        JobOptions {
            iou,
            ..JobOptions::default()
        },
    )
}

/// `--every`: detection cadence.
pub fn every(s: &str) -> Result<u64, String> {
    let every = number(s)?;
    judged(
        every,
        JobOptions {
            every,
            ..JobOptions::default()
        },
    )
}

/// `--preset`: x264 speed preset.
pub fn preset(s: &str) -> Result<Preset, String> {
    s.parse().map_err(|e: sightline_actors::job::OptionError| e.message)
}

fn settled<T>(value: T, settings: EngineSettings) -> Result<T, String> {
    settings.validate().map(|_| value).map_err(|e| e.message)
}

/// `--segment-seconds`: HLS segment length.
pub fn segment_seconds(s: &str) -> Result<f64, String> {
    let segment_seconds = number(s)?;
    settled(
        segment_seconds,
        EngineSettings {
            segment_seconds,
            ..EngineSettings::default()
        },
    )
}

/// `--window`: frames in flight between decoder and encoder.
pub fn window(s: &str) -> Result<usize, String> {
    let window = number(s)?;
    settled(
        window,
        EngineSettings {
            window,
            ..EngineSettings::default()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_judged_like_api_options() {
        assert_eq!(confidence("0.3"), Ok(0.3));
        assert_eq!(confidence("1.5"), Err("confidence 1.5 is outside 0..1".into()));
        assert_eq!(iou("x"), Err("'x' is not a number".into()));
        assert_eq!(every("0"), Err("every 0 is outside 1..1000".into()));
        assert_eq!(preset("fast"), Ok(Preset::Fast));
        assert!(preset("placebo").unwrap_err().contains("is not one of"));
        assert!(segment_seconds("31").is_err());
        assert_eq!(window("0"), Err("window 0 is outside 1..256".into()));
    }
}
