//! Command-line values checked by the same rules as the API and the config file: each parser
//! reads the number, then lets the typed options' own `validate` judge it, so a bad value is a
//! usage error (exit 2) saying what the API would say.

use sightline_actors::job::{EngineSettings, JobOptions, Preset};

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("'{s}' is not a number"))
}

/// Reads a number, puts it into the default job options with `set`, and lets them judge it.
fn job_option<T: std::str::FromStr + Copy>(s: &str, set: fn(&mut JobOptions, T)) -> Result<T, String> {
    let value = number(s)?;
    let mut options = JobOptions::default();
    set(&mut options, value);
    options.validate(&[]).map(|_| value).map_err(|e| e.message)
}

/// The same for the engine's settings.
fn engine_setting<T: std::str::FromStr + Copy>(s: &str, set: fn(&mut EngineSettings, T)) -> Result<T, String> {
    let value = number(s)?;
    let mut settings = EngineSettings::default();
    set(&mut settings, value);
    settings.validate().map(|_| value).map_err(|e| e.message)
}

/// `--conf`: minimum confidence.
pub fn confidence(s: &str) -> Result<f32, String> {
    job_option(s, |o, v| o.confidence = v)
}

/// `--iou`: NMS overlap.
pub fn iou(s: &str) -> Result<f32, String> {
    job_option(s, |o, v| o.iou = v)
}

/// `--every`: detection cadence.
pub fn every(s: &str) -> Result<u64, String> {
    job_option(s, |o, v| o.every = v)
}

/// `--segment-seconds`: HLS segment length.
pub fn segment_seconds(s: &str) -> Result<f64, String> {
    engine_setting(s, |e, v| e.segment_seconds = v)
}

/// `--window`: frames in flight between decoder and encoder.
pub fn window(s: &str) -> Result<usize, String> {
    engine_setting(s, |e, v| e.window = v)
}

/// `--preset`: x264 speed preset.
pub fn preset(s: &str) -> Result<Preset, String> {
    s.parse().map_err(|e: sightline_actors::job::OptionError| e.message)
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
