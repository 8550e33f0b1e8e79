//! `process`'s input limits: the server's settings as flags, each defaulting to the server's
//! default, so a file the server would refuse is refused here too, with the same sentence.

use clap::Args;
use sightline_actors::media::InputLimits;

#[derive(Args, Debug, Clone, Default)]
pub struct LimitArgs {
    /// Widest picture accepted, in pixels, upright [default: 4096].
    #[arg(long)]
    max_width: Option<u32>,
    /// Highest picture accepted, in pixels, upright [default: 4096].
    #[arg(long)]
    max_height: Option<u32>,
    /// Most pixels per frame [default: 8847360, 4096×2160].
    #[arg(long)]
    max_pixels: Option<u64>,
    /// Longest side over shortest side [default: 8].
    #[arg(long)]
    max_aspect_ratio: Option<f64>,
    /// Lowest declared frame rate [default: 0.5].
    #[arg(long)]
    min_fps: Option<f64>,
    /// Highest declared frame rate [default: 240].
    #[arg(long)]
    max_fps: Option<f64>,
    /// Longest video, in seconds [default: 14400].
    #[arg(long)]
    max_duration_s: Option<u64>,
}

impl LimitArgs {
    /// The defaults with the flags given laid over them, checked like the server's settings.
    pub fn limits(&self) -> Result<InputLimits, String> {
        let d = InputLimits::default();
        let limits = InputLimits {
            max_width: self.max_width.unwrap_or(d.max_width),
            max_height: self.max_height.unwrap_or(d.max_height),
            max_pixels: self.max_pixels.unwrap_or(d.max_pixels),
            max_aspect_ratio: self.max_aspect_ratio.unwrap_or(d.max_aspect_ratio),
            min_fps: self.min_fps.unwrap_or(d.min_fps),
            max_fps: self.max_fps.unwrap_or(d.max_fps),
            max_duration_s: self.max_duration_s.unwrap_or(d.max_duration_s),
        };
        limits
            .validate()
            .map_err(|e| format!("--{}: {}", e.key.replace('_', "-"), e.message))?;
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_lay_over_the_defaults_and_are_checked() {
        assert_eq!(LimitArgs::default().limits(), Ok(InputLimits::default()));
        let args = LimitArgs {
            max_width: Some(640),
            ..LimitArgs::default()
        };
        assert_eq!(args.limits().map(|l| l.max_width), Ok(640));
        let args = LimitArgs {
            max_fps: Some(0.1),
            ..LimitArgs::default()
        };
        assert!(args.limits().unwrap_err().starts_with("--max-fps:"));
    }
}
