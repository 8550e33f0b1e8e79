//! Fitting a frame into the model's input while keeping its aspect ratio, and mapping boxes back.
//!
//! The letterboxed image is the model-sized RGB u8 picture that a detector worker receives (also
//! across nodes, which is why it stays u8 and compact rather than a float tensor).

use super::geometry::BBox;
use crate::frame::{Frame, I420Layout};

/// Grey used for the padding bands; the value YOLO models are commonly trained with.
pub const PAD_VALUE: u8 = 114;

/// Where the resized frame sits inside the model input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub src_w: u32,
    pub src_h: u32,
    pub dst_w: u32,
    pub dst_h: u32,
    /// Size of the frame once resized, before padding.
    pub new_w: u32,
    pub new_h: u32,
    /// Left and top padding.
    pub pad_x: u32,
    pub pad_y: u32,
}

impl Letterbox {
    /// Geometry for a `src_w`×`src_h` frame in a `dst_w`×`dst_h` input. Sizes must be non-zero.
    pub fn new(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> Self {
        let scale = (dst_w as f64 / src_w as f64).min(dst_h as f64 / src_h as f64);
        let new_w = ((src_w as f64 * scale).round() as u32).clamp(1, dst_w);
        let new_h = ((src_h as f64 * scale).round() as u32).clamp(1, dst_h);
        Self {
            src_w,
            src_h,
            dst_w,
            dst_h,
            new_w,
            new_h,
            pad_x: (dst_w - new_w) / 2,
            pad_y: (dst_h - new_h) / 2,
        }
    }

    fn scale_x(&self) -> f32 {
        self.new_w as f32 / self.src_w as f32
    }

    fn scale_y(&self) -> f32 {
        self.new_h as f32 / self.src_h as f32
    }

    /// A box in source pixels → the same box in model-input pixels.
    pub fn to_model(&self, b: &BBox) -> BBox {
        let (sx, sy) = (self.scale_x(), self.scale_y());
        let (px, py) = (self.pad_x as f32, self.pad_y as f32);
        BBox::new(b.x1 * sx + px, b.y1 * sy + py, b.x2 * sx + px, b.y2 * sy + py)
    }

    /// A box in model-input pixels → source pixels, clipped to the source frame.
    pub fn to_source(&self, b: &BBox) -> BBox {
        let (sx, sy) = (self.scale_x(), self.scale_y());
        let (px, py) = (self.pad_x as f32, self.pad_y as f32);
        BBox::new((b.x1 - px) / sx, (b.y1 - py) / sy, (b.x2 - px) / sx, (b.y2 - py) / sy)
            .clamp_to(self.src_w as f32, self.src_h as f32)
    }
}

/// A model-sized, tightly packed RGB u8 image.
#[derive(Debug, Clone, PartialEq)]
pub struct LetterboxedImage {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

/// Pixel layout of a source frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    Rgb,
    Rgba,
}

impl PixelFormat {
    pub fn channels(self) -> usize {
        match self {
            PixelFormat::Rgb => 3,
            PixelFormat::Rgba => 4,
        }
    }
}

/// A borrowed source frame: `stride` bytes per row (GStreamer rows may be padded).
#[derive(Debug, Clone, Copy)]
pub struct FrameRef<'a> {
    pub data: &'a [u8],
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub format: PixelFormat,
}

impl<'a> FrameRef<'a> {
    /// A tightly packed frame; `None` when `data` is too short for the size claimed.
    pub fn packed(data: &'a [u8], width: u32, height: u32, format: PixelFormat) -> Option<Self> {
        let stride = width as usize * format.channels();
        (width > 0 && height > 0 && data.len() >= stride * height as usize).then_some(Self {
            data,
            width,
            height,
            stride,
            format,
        })
    }
}

/// One source coordinate and its bilinear weight pair, precomputed per output column or row.
#[derive(Clone, Copy)]
struct Tap {
    i0: usize,
    i1: usize,
    w1: f32,
}

/// Half-pixel-centred bilinear taps for resizing `src` samples to `dst`.
fn taps(src: u32, dst: u32) -> Vec<Tap> {
    let ratio = src as f32 / dst as f32;
    let last = src as usize - 1;
    (0..dst)
        .map(|d| {
            let s = ((d as f32 + 0.5) * ratio - 0.5).max(0.0);
            let i0 = (s.floor() as usize).min(last);
            Tap {
                i0,
                i1: (i0 + 1).min(last),
                w1: s - i0 as f32,
            }
        })
        .collect()
}

/// Resizes `frame` bilinearly into a padded model-sized image described by `lb`.
pub fn letterbox(frame: &FrameRef<'_>, lb: &Letterbox) -> LetterboxedImage {
    let (dw, dh) = (lb.dst_w as usize, lb.dst_h as usize);
    let mut out = vec![PAD_VALUE; dw * dh * 3];
    let xs = taps(lb.src_w, lb.new_w);
    let ys = taps(lb.src_h, lb.new_h);
    let ch = frame.format.channels();
    for (oy, ty) in ys.iter().enumerate() {
        let row0 = &frame.data[ty.i0 * frame.stride..];
        let row1 = &frame.data[ty.i1 * frame.stride..];
        let dst_row = (oy + lb.pad_y as usize) * dw;
        for (ox, tx) in xs.iter().enumerate() {
            let dst = (dst_row + ox + lb.pad_x as usize) * 3;
            let (a, b) = (tx.i0 * ch, tx.i1 * ch);
            for c in 0..3 {
                let top = row0[a + c] as f32 * (1.0 - tx.w1) + row0[b + c] as f32 * tx.w1;
                let bot = row1[a + c] as f32 * (1.0 - tx.w1) + row1[b + c] as f32 * tx.w1;
                out[dst + c] = to_u8(top * (1.0 - ty.w1) + bot * ty.w1);
            }
        }
    }
    LetterboxedImage {
        width: lb.dst_w,
        height: lb.dst_h,
        rgb: out,
    }
}

/// The YUV→RGB matrix of a video (limited range). GStreamer's own guess for video that does not
/// say: BT.709 above 576 lines, BT.601 up to SD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YuvMatrix {
    Bt601,
    Bt709,
}

impl YuvMatrix {
    pub fn for_height(height: u32) -> Self {
        if height > 576 {
            YuvMatrix::Bt709
        } else {
            YuvMatrix::Bt601
        }
    }

    /// (V→R, U→G, V→G, U→B) coefficients, applied to samples centred on 128.
    fn coefficients(self) -> (f32, f32, f32, f32) {
        match self {
            YuvMatrix::Bt601 => (1.596, 0.391, 0.813, 2.018),
            YuvMatrix::Bt709 => (1.793, 0.213, 0.533, 2.112),
        }
    }
}

/// The nearest byte to `value`, clamped to 0..=255. `f32::round` is a libm call per value here,
/// which took a quarter of the letterbox's time; adding a half and truncating rounds halves up
/// as `round` does for these non-negative values.
#[inline]
fn to_u8(value: f32) -> u8 {
    (value.clamp(0.0, 255.0) + 0.5) as u8
}

/// A decoded frame letterboxed as `lb` says (`InputShape::letterbox`), as the pipeline sends it to
/// detection.
pub fn letterbox_frame(frame: &Frame, lb: &Letterbox) -> LetterboxedImage {
    letterbox_i420(
        &frame.data,
        frame.layout,
        lb,
        YuvMatrix::for_height(frame.layout.height),
    )
}

/// Letterboxes a packed I420 frame straight into the model's RGB input: luma is sampled
/// bilinearly, chroma from the nearest half-resolution sample, and only the model-sized output is
/// converted to RGB, so the full frame never goes through a colour conversion.
pub fn letterbox_i420(data: &[u8], layout: I420Layout, lb: &Letterbox, matrix: YuvMatrix) -> LetterboxedImage {
    let (dw, dh) = (lb.dst_w as usize, lb.dst_h as usize);
    let mut out = vec![PAD_VALUE; dw * dh * 3];
    let (yp, up, vp) = layout.planes(data);
    let (w, cw) = (layout.width as usize, layout.chroma_width());
    let xs = taps(lb.src_w, lb.new_w);
    let ys = taps(lb.src_h, lb.new_h);
    let (vr, ug, vg, ub) = matrix.coefficients();
    for (oy, ty) in ys.iter().enumerate() {
        let (row0, row1) = (&yp[ty.i0 * w..], &yp[ty.i1 * w..]);
        let crow = (ty.i0 + usize::from(ty.w1 >= 0.5)) / 2 * cw;
        let dst_row = (oy + lb.pad_y as usize) * dw;
        for (ox, tx) in xs.iter().enumerate() {
            let top = row0[tx.i0] as f32 * (1.0 - tx.w1) + row0[tx.i1] as f32 * tx.w1;
            let bot = row1[tx.i0] as f32 * (1.0 - tx.w1) + row1[tx.i1] as f32 * tx.w1;
            let luma = 1.164 * ((top * (1.0 - ty.w1) + bot * ty.w1) - 16.0);
            let c = crow + (tx.i0 + usize::from(tx.w1 >= 0.5)) / 2;
            let (u, v) = (up[c] as f32 - 128.0, vp[c] as f32 - 128.0);
            let dst = (dst_row + ox + lb.pad_x as usize) * 3;
            out[dst] = to_u8(luma + vr * v);
            out[dst + 1] = to_u8(luma - ug * u - vg * v);
            out[dst + 2] = to_u8(luma + ub * u);
        }
    }
    LetterboxedImage {
        width: lb.dst_w,
        height: lb.dst_h,
        rgb: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BT.601 limited-range RGB→I420, chroma from the top-left pixel of each 2×2 block.
    fn to_i420(rgb: &[u8], w: u32, h: u32) -> Vec<u8> {
        let l = I420Layout::new(w, h);
        let mut out = vec![0u8; l.len()];
        let (y, u, v) = l.planes_mut(&mut out);
        for py in 0..h as usize {
            for px in 0..w as usize {
                let i = (py * w as usize + px) * 3;
                let (r, g, b) = (rgb[i] as f32, rgb[i + 1] as f32, rgb[i + 2] as f32);
                y[py * w as usize + px] = (16.0 + 0.257 * r + 0.504 * g + 0.098 * b).round() as u8;
                if py % 2 == 0 && px % 2 == 0 {
                    let c = py / 2 * l.chroma_width() + px / 2;
                    u[c] = (128.0 - 0.148 * r - 0.291 * g + 0.439 * b).round() as u8;
                    v[c] = (128.0 + 0.439 * r - 0.368 * g - 0.071 * b).round() as u8;
                }
            }
        }
        out
    }

    #[test]
    fn i420_letterbox_matches_the_rgb_one() {
        // A smooth gradient frame with odd width, so chroma rounding is exercised.
        let (w, h) = (97u32, 60u32);
        let rgb: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).flat_map(move |x| [(x * 2) as u8, (y * 4) as u8, ((x + y) % 256) as u8]))
            .collect();
        let lb = Letterbox::new(w, h, 64, 64);
        let frame = FrameRef::packed(&rgb, w, h, PixelFormat::Rgb).expect("frame");
        let want = letterbox(&frame, &lb);
        let got = letterbox_i420(&to_i420(&rgb, w, h), I420Layout::new(w, h), &lb, YuvMatrix::Bt601);
        assert_eq!(got.rgb.len(), want.rgb.len());
        let worst = got
            .rgb
            .iter()
            .zip(&want.rgb)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap_or(0);
        // Chroma subsampling and rounding: a few levels, never a different picture.
        assert!(worst <= 8, "largest channel difference {worst}");
        assert_eq!(&got.rgb[..3], &[PAD_VALUE; 3]);
    }

    #[test]
    fn wide_frame_is_padded_top_and_bottom() {
        let lb = Letterbox::new(768, 576, 416, 416);
        assert_eq!((lb.new_w, lb.new_h), (416, 312));
        assert_eq!((lb.pad_x, lb.pad_y), (0, 52));
    }

    #[test]
    fn tall_frame_is_padded_left_and_right() {
        let lb = Letterbox::new(272, 640, 416, 416);
        assert_eq!(lb.new_h, 416);
        assert_eq!(lb.new_w, 177);
        assert_eq!(lb.pad_x, (416 - 177) / 2);
    }

    #[test]
    fn boxes_round_trip_through_model_space() {
        for (w, h) in [(768, 576), (640, 272), (1280, 720), (300, 900), (416, 416)] {
            let lb = Letterbox::new(w, h, 416, 416);
            let b = BBox::new(10.5, 20.25, w as f32 * 0.7, h as f32 * 0.9);
            let back = lb.to_source(&lb.to_model(&b));
            for (p, q) in [(b.x1, back.x1), (b.y1, back.y1), (b.x2, back.x2), (b.y2, back.y2)] {
                assert!((p - q).abs() < 1e-3, "{w}x{h}: {b:?} came back as {back:?}");
            }
        }
    }

    #[test]
    fn boxes_in_the_padding_are_clipped_to_the_frame() {
        let lb = Letterbox::new(768, 576, 416, 416);
        let back = lb.to_source(&BBox::new(-5.0, 0.0, 420.0, 416.0));
        assert_eq!(back, BBox::new(0.0, 0.0, 768.0, 576.0));
    }

    #[test]
    fn letterbox_keeps_flat_colour_and_pads_with_grey() {
        let (w, h) = (64u32, 32u32);
        let data: Vec<u8> = std::iter::repeat_n([10u8, 200, 30, 255], (w * h) as usize)
            .flatten()
            .collect();
        let frame = FrameRef::packed(&data, w, h, PixelFormat::Rgba).expect("frame");
        let lb = Letterbox::new(w, h, 32, 32);
        let img = letterbox(&frame, &lb);
        assert_eq!(img.rgb.len(), 32 * 32 * 3);
        // First row is padding, the centre row is the source colour.
        assert_eq!(&img.rgb[0..3], &[PAD_VALUE; 3]);
        let centre = (16 * 32 + 16) * 3;
        assert_eq!(&img.rgb[centre..centre + 3], &[10, 200, 30]);
    }

    #[test]
    fn strided_rows_are_respected() {
        // 2x2 RGB frame with 2 bytes of row padding; each pixel a distinct colour.
        let data = [1, 1, 1, 2, 2, 2, 0, 0, 3, 3, 3, 4, 4, 4, 0, 0];
        let frame = FrameRef {
            data: &data,
            width: 2,
            height: 2,
            stride: 8,
            format: PixelFormat::Rgb,
        };
        let img = letterbox(&frame, &Letterbox::new(2, 2, 2, 2));
        assert_eq!(img.rgb, vec![1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
    }

    #[test]
    fn short_buffers_are_refused() {
        assert!(FrameRef::packed(&[0; 11], 2, 2, PixelFormat::Rgb).is_none());
        assert!(FrameRef::packed(&[0; 12], 2, 2, PixelFormat::Rgb).is_some());
    }
}
