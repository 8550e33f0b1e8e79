//! Which renditions to encode: the source size, plus each standard size below it.

/// Standard sizes offered below the source, as the picture's short side (its height when
/// landscape, its width when portrait, so a phone's 1080×1920 clip gets 720×1280, not 405×720);
/// never above the source (no upscaling).
pub const LADDER_SIDES: [u32; 3] = [720, 480, 360];

/// Bits per pixel per frame the bitrate is derived from; enough for a clean picture with x264's
/// faster presets on surveillance-like footage without wasting bandwidth.
const BITS_PER_PIXEL: f64 = 0.08;
const MIN_KBPS: u32 = 150;
const MAX_KBPS: u32 = 12_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Rendition {
    /// Folder and label, the short side: `576p`.
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
}

/// Renditions for a `width`×`height` (upright) source at `fps`: the source size first, then the
/// smaller standard sizes, the long side keeping the aspect ratio, every side even (x264 needs it).
pub fn ladder(width: u32, height: u32, fps: f64) -> Vec<Rendition> {
    let (width, height) = (even(width), even(height));
    let mut out = vec![rendition(width, height, fps)];
    let short = width.min(height);
    for target in LADDER_SIDES {
        if target < short {
            // Nearest even long side keeping the aspect ratio.
            let long = |side: u32| ((side as f64 * target as f64 / short as f64 / 2.0).round() as u32 * 2).max(2);
            let (w, h) = if width >= height {
                (long(width), target)
            } else {
                (target, long(height))
            };
            out.push(rendition(w, h, fps));
        }
    }
    out
}

fn even(n: u32) -> u32 {
    (n & !1).max(2)
}

fn rendition(width: u32, height: u32, fps: f64) -> Rendition {
    let fps = if fps.is_finite() && fps > 0.0 {
        fps.min(120.0)
    } else {
        25.0
    };
    let kbps = (width as f64 * height as f64 * fps * BITS_PER_PIXEL / 1000.0).round() as u32;
    Rendition {
        name: format!("{}p", width.min(height)),
        width,
        height,
        bitrate_kbps: kbps.clamp(MIN_KBPS, MAX_KBPS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(r: &[Rendition]) -> Vec<(u32, u32)> {
        r.iter().map(|r| (r.width, r.height)).collect()
    }

    #[test]
    fn pal_source_gets_three_renditions() {
        let r = ladder(768, 576, 10.0);
        assert_eq!(sizes(&r), vec![(768, 576), (640, 480), (480, 360)]);
        assert_eq!(r[0].name, "576p");
    }

    #[test]
    fn never_upscales() {
        assert_eq!(sizes(&ladder(640, 272, 25.0)), vec![(640, 272)]);
        assert_eq!(
            sizes(&ladder(1280, 720, 30.0)),
            vec![(1280, 720), (854, 480), (640, 360)]
        );
        assert_eq!(ladder(1920, 1080, 30.0).len(), 4);
    }

    #[test]
    fn portrait_sources_step_down_by_their_width() {
        let r = ladder(1080, 1920, 30.0);
        assert_eq!(sizes(&r), vec![(1080, 1920), (720, 1280), (480, 854), (360, 640)]);
        assert_eq!(r[1].name, "720p");
        assert_eq!(sizes(&ladder(272, 640, 25.0)), vec![(272, 640)]);
        assert_eq!(ladder(272, 640, 25.0)[0].name, "272p");
    }

    #[test]
    fn odd_sizes_become_even_and_bitrate_scales_with_pixels() {
        let r = ladder(641, 361, 25.0);
        assert_eq!(sizes(&r)[0], (640, 360));
        // An odd side just over a standard size never gives two renditions of one name.
        assert_eq!(
            sizes(&ladder(1281, 721, 25.0)),
            vec![(1280, 720), (854, 480), (640, 360)]
        );
        let big = ladder(1920, 1080, 30.0);
        assert!(big[0].bitrate_kbps > big[1].bitrate_kbps);
        assert!(big.iter().all(|r| (MIN_KBPS..=MAX_KBPS).contains(&r.bitrate_kbps)));
    }
}
