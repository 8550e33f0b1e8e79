//! Class colours and their conversion to the frame's colour space.
//!
//! Frames are I420 as decoders and x264 produce them: BT.601 coefficients, limited ("TV") range,
//! luma 16..=235 and chroma 16..=240 centred on 128.

/// Per-class colours, hand-picked so neighbours in the list are far apart and every pair is
/// clearly distinguishable (CIELAB distance above 20); class ids cycle through the list.
const PALETTE: [[u8; 3]; 23] = [
    [230, 40, 40],   // red
    [255, 140, 0],   // orange
    [255, 220, 0],   // yellow
    [160, 230, 30],  // lime
    [40, 180, 60],   // green
    [60, 230, 170],  // mint
    [0, 200, 230],   // cyan
    [60, 140, 255],  // sky blue
    [30, 50, 200],   // blue
    [140, 60, 230],  // violet
    [230, 50, 210],  // magenta
    [255, 120, 170], // pink
    [128, 0, 32],    // maroon
    [150, 90, 30],   // brown
    [120, 120, 0],   // olive
    [0, 100, 40],    // forest green
    [0, 120, 120],   // teal
    [0, 40, 110],    // navy
    [90, 0, 120],    // purple
    [150, 40, 100],  // plum
    [210, 180, 130], // tan
    [190, 170, 255], // lavender
    [250, 150, 120], // salmon
];

/// How many distinct class colours there are before they repeat.
pub const PALETTE_LEN: usize = PALETTE.len();

/// The RGB colour for a class: a fixed palette, cycling for class ids beyond its length.
pub fn class_colour(class_id: u16) -> [u8; 3] {
    PALETTE[class_id as usize % PALETTE_LEN]
}

/// A colour in the frame's colour space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Yuv {
    pub y: u8,
    pub u: u8,
    pub v: u8,
}

impl Yuv {
    /// Limited-range white and black.
    pub const WHITE: Yuv = Yuv { y: 235, u: 128, v: 128 };
    pub const BLACK: Yuv = Yuv { y: 16, u: 128, v: 128 };

    /// BT.601 limited range from full-range RGB.
    pub fn from_rgb([r, g, b]: [u8; 3]) -> Yuv {
        let (r, g, b) = (f32::from(r), f32::from(g), f32::from(b));
        let y = 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0;
        let u = 128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0;
        let v = 128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0;
        let q = |x: f32| x.round().clamp(0.0, 255.0) as u8;
        Yuv {
            y: q(y),
            u: q(u),
            v: q(v),
        }
    }
}

/// White or black, whichever contrasts more with `rgb` (WCAG contrast ratio).
pub fn text_colour_for(rgb: [u8; 3]) -> Yuv {
    let lin = |c: u8| {
        let c = f32::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2]);
    // Contrast with white (1.05 / (l + 0.05)) equals contrast with black ((l + 0.05) / 0.05)
    // where (l + 0.05)^2 = 0.0525.
    if (l + 0.05) * (l + 0.05) > 0.0525 {
        Yuv::BLACK
    } else {
        Yuv::WHITE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_colours_are_distinct() {
        let colours: Vec<[u8; 3]> = (0..20).map(class_colour).collect();
        for (i, a) in colours.iter().enumerate() {
            for (j, b) in colours.iter().enumerate().skip(i + 1) {
                let d2: i32 = a
                    .iter()
                    .zip(b)
                    .map(|(&x, &y)| (i32::from(x) - i32::from(y)).pow(2))
                    .sum();
                assert!(d2 >= 50 * 50, "classes {i} and {j} look alike: {a:?} {b:?}");
            }
        }
    }

    #[test]
    fn palette_cycles() {
        assert_eq!(class_colour(0), class_colour(PALETTE_LEN as u16));
        assert_eq!(class_colour(5), class_colour(5 + 2 * PALETTE_LEN as u16));
        let _ = class_colour(u16::MAX);
    }

    #[test]
    fn bt601_limited_range() {
        assert_eq!(Yuv::from_rgb([0, 0, 0]), Yuv::BLACK);
        assert_eq!(Yuv::from_rgb([255, 255, 255]), Yuv::WHITE);
        assert_eq!(Yuv::from_rgb([255, 0, 0]), Yuv { y: 81, u: 90, v: 240 });
        assert_eq!(Yuv::from_rgb([0, 255, 0]), Yuv { y: 145, u: 54, v: 34 });
        assert_eq!(Yuv::from_rgb([0, 0, 255]), Yuv { y: 41, u: 240, v: 110 });
    }

    #[test]
    fn text_contrasts_with_background() {
        assert_eq!(text_colour_for([0, 0, 0]), Yuv::WHITE);
        assert_eq!(text_colour_for([30, 50, 200]), Yuv::WHITE);
        assert_eq!(text_colour_for([128, 0, 32]), Yuv::WHITE);
        assert_eq!(text_colour_for([255, 255, 255]), Yuv::BLACK);
        assert_eq!(text_colour_for([255, 220, 0]), Yuv::BLACK);
        assert_eq!(text_colour_for([60, 230, 170]), Yuv::BLACK);
    }
}
