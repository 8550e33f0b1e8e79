//! What inputs a server accepts: size, shape, frame rate and length, checked on the probe's
//! answer before a job exists. The pixel limit is also what bounds a job's memory: every buffer
//! the pipeline holds (frames in flight, the encoders' lookahead) is a fixed count of frames.

use super::probe::VideoProbe;

/// The limits, each named as its configuration key so a refusal can say which one it hit.
#[derive(Debug, Clone, PartialEq)]
pub struct InputLimits {
    /// Widest picture accepted, in pixels (upright, after the rotation tag is applied).
    pub max_width: u32,
    pub max_height: u32,
    /// Most pixels a frame may have (width × height).
    pub max_pixels: u64,
    /// Longest side over shortest side.
    pub max_aspect_ratio: f64,
    /// Frame rate range, as the container declares it; a file that declares none (variable
    /// frame rate) is not checked against it.
    pub min_fps: f64,
    pub max_fps: f64,
    /// Longest video accepted, in seconds.
    pub max_duration_s: u64,
}

impl Default for InputLimits {
    /// Up to 4096×2160 (DCI 4K) either way up, 1:8 to 8:1, 0.5 to 240 fps, 4 hours.
    fn default() -> Self {
        Self {
            max_width: 4096,
            max_height: 4096,
            max_pixels: 4096 * 2160,
            max_aspect_ratio: 8.0,
            min_fps: 0.5,
            max_fps: 240.0,
            max_duration_s: 4 * 3600,
        }
    }
}

/// A file over one limit: which, and by what.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} ({limit} is {allowed})")]
pub struct LimitError {
    pub limit: &'static str,
    pub allowed: String,
    /// The file's value, in words.
    pub message: String,
}

/// A limit setting out of its own range: the key, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct LimitSettingError {
    pub key: &'static str,
    pub message: String,
}

/// The ceilings a setting may be raised to: what the pipeline was built and measured for.
const WIDEST: u32 = 16_384;
const MOST_PIXELS: u64 = 16_384 * 16_384;
const FASTEST: f64 = 1000.0;

impl InputLimits {
    /// Checks the settings themselves (at start, with the rest of the configuration).
    pub fn validate(&self) -> Result<(), LimitSettingError> {
        let err = |key, message: String| Err(LimitSettingError { key, message });
        for (key, v) in [("max_width", self.max_width), ("max_height", self.max_height)] {
            if !(16..=WIDEST).contains(&v) {
                return err(key, format!("{v} is outside 16..{WIDEST}"));
            }
        }
        if !(256..=MOST_PIXELS).contains(&self.max_pixels) {
            return err(
                "max_pixels",
                format!("{} is outside 256..{MOST_PIXELS}", self.max_pixels),
            );
        }
        if !(1.0..=64.0).contains(&self.max_aspect_ratio) {
            return err(
                "max_aspect_ratio",
                format!("{} is outside 1..64", self.max_aspect_ratio),
            );
        }
        if !(self.min_fps > 0.0 && self.min_fps <= FASTEST) {
            return err(
                "min_fps",
                format!("{} is outside 0 (excluded)..{FASTEST}", self.min_fps),
            );
        }
        if !(self.min_fps..=FASTEST).contains(&self.max_fps) {
            return err(
                "max_fps",
                format!("{} is outside {}..{FASTEST} (min_fps..)", self.max_fps, self.min_fps),
            );
        }
        if !(1..=7 * 24 * 3600).contains(&self.max_duration_s) {
            return err(
                "max_duration_s",
                format!("{} is outside 1..604800 (a week)", self.max_duration_s),
            );
        }
        Ok(())
    }

    /// The first limit the probed video is over, if any.
    pub fn check(&self, video: &VideoProbe) -> Result<(), LimitError> {
        let (w, h) = (video.width, video.height);
        let over = |limit, allowed: String, message: String| {
            Err(LimitError {
                limit,
                allowed,
                message,
            })
        };
        if w > self.max_width {
            return over(
                "max_width",
                self.max_width.to_string(),
                format!("the video is {w} pixels wide"),
            );
        }
        if h > self.max_height {
            return over(
                "max_height",
                self.max_height.to_string(),
                format!("the video is {h} pixels high"),
            );
        }
        let pixels = u64::from(w) * u64::from(h);
        if pixels > self.max_pixels {
            return over(
                "max_pixels",
                self.max_pixels.to_string(),
                format!("the video's frames are {w}×{h} = {pixels} pixels"),
            );
        }
        let aspect = f64::from(w.max(h)) / f64::from(w.min(h).max(1));
        if aspect > self.max_aspect_ratio {
            return over(
                "max_aspect_ratio",
                format!("{}:1", self.max_aspect_ratio),
                format!("the video is {w}×{h}, {aspect:.2}:1"),
            );
        }
        if video.fps > 0.0 && video.fps < self.min_fps {
            return over(
                "min_fps",
                self.min_fps.to_string(),
                format!("the video is {:.3} fps", video.fps),
            );
        }
        if video.fps > self.max_fps {
            return over(
                "max_fps",
                self.max_fps.to_string(),
                format!("the video is {:.3} fps", video.fps),
            );
        }
        if video.duration_ms > self.max_duration_s * 1000 {
            return over(
                "max_duration_s",
                self.max_duration_s.to_string(),
                format!("the video lasts {:.1} s", video.duration_ms as f64 / 1000.0),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(width: u32, height: u32, fps: f64, duration_ms: u64) -> VideoProbe {
        VideoProbe {
            width,
            height,
            fps,
            duration_ms,
            has_audio: false,
        }
    }

    fn hit(v: &VideoProbe) -> Option<&'static str> {
        InputLimits::default().check(v).err().map(|e| e.limit)
    }

    #[test]
    fn everyday_videos_pass_either_way_up() {
        assert_eq!(hit(&video(768, 576, 10.0, 79_000)), None);
        assert_eq!(hit(&video(3840, 2160, 30.0, 10_000)), None);
        assert_eq!(hit(&video(2160, 3840, 60.0, 10_000)), None);
        assert_eq!(hit(&video(4096, 2160, 24.0, 10_000)), None);
        // No declared frame rate (variable): not checked against the range.
        assert_eq!(hit(&video(640, 480, 0.0, 10_000)), None);
    }

    #[test]
    fn each_limit_is_named_with_the_files_value() {
        let cases = [
            (video(4100, 100, 25.0, 1000), "max_width"),
            (video(100, 4100, 25.0, 1000), "max_height"),
            (video(4096, 4096, 25.0, 1000), "max_pixels"),
            (video(8000, 64, 25.0, 1000), "max_width"),
            (video(2000, 64, 25.0, 1000), "max_aspect_ratio"),
            (video(640, 480, 0.2, 1000), "min_fps"),
            (video(640, 480, 1000.0, 1000), "max_fps"),
            (video(640, 480, 25.0, 5 * 3600 * 1000), "max_duration_s"),
        ];
        for (v, limit) in cases {
            let e = InputLimits::default().check(&v).expect_err(limit);
            assert_eq!(e.limit, limit, "{v:?}");
            assert!(e.to_string().contains(limit), "{e}");
        }
        let e = InputLimits::default()
            .check(&video(2000, 64, 25.0, 1000))
            .expect_err("aspect");
        assert_eq!(e.to_string(), "the video is 2000×64, 31.25:1 (max_aspect_ratio is 8:1)");
    }

    #[test]
    fn settings_out_of_range_are_named() {
        let bad = |f: fn(&mut InputLimits)| {
            let mut l = InputLimits::default();
            f(&mut l);
            l.validate().expect_err("refused").key
        };
        assert_eq!(bad(|l| l.max_width = 0), "max_width");
        assert_eq!(bad(|l| l.max_pixels = 1), "max_pixels");
        assert_eq!(bad(|l| l.max_aspect_ratio = 0.5), "max_aspect_ratio");
        assert_eq!(bad(|l| l.min_fps = 0.0), "min_fps");
        assert_eq!(bad(|l| l.max_fps = 0.1), "max_fps");
        assert_eq!(bad(|l| l.max_duration_s = 0), "max_duration_s");
        InputLimits::default().validate().expect("defaults are valid");
    }
}
