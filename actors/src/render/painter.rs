//! Burns box outlines and labels into I420 frames, touching only the pixels they cover.

use super::canvas::{Alpha, Plane, Rect};
use super::colour::{class_colour, text_colour_for, Yuv, PALETTE_LEN};
use super::glyphs::GlyphCache;
use super::style::{RenderError, RenderStyle};
use super::{DrawItem, Shape};
use crate::detect::BBox;
use crate::frame::I420Layout;

/// Box coordinates are clamped to this magnitude before rounding, so arithmetic never overflows.
const COORD_LIMIT: f32 = 1.0e9;

/// Zones and lines are drawn in this colour (a yellow none of the classes uses).
const OVERLAY_RGB: [u8; 3] = [255, 221, 0];

/// A class colour and its label text colour, converted to YUV once.
#[derive(Debug, Clone, Copy)]
struct ClassPaint {
    fill: Yuv,
    text: Yuv,
}

/// Pixel sizes of a label, fixed per job by the font size.
#[derive(Debug, Clone, Copy)]
struct LabelMetrics {
    pad_x: i64,
    pad_y: i64,
    /// From the top of the text area to the baseline.
    ascent: i64,
    /// From the top of the text area to its bottom.
    line_height: i64,
}

/// Draws [`DrawItem`]s into frames of one job. Holds the rasterised glyphs and a scratch buffer,
/// so drawing a frame allocates nothing once the first labels have been drawn.
pub struct Painter {
    style: RenderStyle,
    alpha: Alpha,
    font_px: f32,
    glyphs: GlyphCache,
    paints: [ClassPaint; PALETTE_LEN],
    /// Zones and lines: one colour apart from the classes', drawn opaque.
    overlay: ClassPaint,
    metrics: LabelMetrics,
    /// Text coverage of the label being drawn, at luma resolution.
    scratch: Vec<u8>,
}

/// The three planes of the frame being drawn on.
struct Frame<'a> {
    y: Plane<'a>,
    u: Plane<'a>,
    v: Plane<'a>,
    width: i64,
    height: i64,
}

impl Painter {
    /// A painter for frames `frame_height` pixels tall; the label font size follows from it
    /// (`frame_height / 40`, between 12 and 72 pixels).
    pub fn new(style: RenderStyle, frame_height: u32) -> Result<Self, RenderError> {
        style.validate()?;
        let font_px = (frame_height / 40).clamp(12, 72) as f32;
        let mut glyphs = GlyphCache::new(font_px)?;
        // The text area spans ascenders to descenders of ordinary label text; taller marks
        // (brackets, accents) are clipped by a pixel or so rather than making every label taller.
        let ascent = "Hdl0#".chars().map(|c| -glyphs.glyph(c).top).max().unwrap_or(0).max(1);
        let descent = "gjpqy"
            .chars()
            .map(|c| glyphs.glyph(c).top + glyphs.glyph(c).height as i32)
            .max()
            .unwrap_or(0);
        let px = font_px as i64;
        let metrics = LabelMetrics {
            pad_x: (px / 4).max(2),
            pad_y: (px / 8).max(1),
            ascent: i64::from(ascent),
            line_height: i64::from(ascent) + i64::from(descent.max(0)),
        };
        let paints = std::array::from_fn(|i| {
            let rgb = class_colour(i as u16);
            ClassPaint {
                fill: Yuv::from_rgb(rgb),
                text: text_colour_for(rgb),
            }
        });
        Ok(Self {
            style,
            alpha: Alpha::from_opacity(style.opacity),
            font_px,
            glyphs,
            paints,
            overlay: ClassPaint {
                fill: Yuv::from_rgb(OVERLAY_RGB),
                text: text_colour_for(OVERLAY_RGB),
            },
            metrics,
            scratch: Vec::new(),
        })
    }

    pub fn style(&self) -> &RenderStyle {
        &self.style
    }

    /// The label font size in pixels.
    pub fn font_px(&self) -> f32 {
        self.font_px
    }

    /// How many glyphs are rasterised and cached (at most 95: printable ASCII).
    pub fn cached_glyphs(&self) -> usize {
        self.glyphs.len()
    }

    /// Draws `items` in order (later ones on top) into the tightly packed I420 frame `data`.
    /// Boxes may reach outside the frame or be degenerate: they are clipped or skipped.
    pub fn draw(&mut self, data: &mut [u8], layout: I420Layout, items: &[DrawItem]) -> Result<(), RenderError> {
        let mut frame = planes(data, layout)?;
        for item in items {
            self.draw_item(&mut frame, item);
        }
        Ok(())
    }

    /// Draws zones' and lines' shapes and labels, opaque, in the overlay colour.
    pub fn draw_shapes(&mut self, data: &mut [u8], layout: I420Layout, shapes: &[Shape]) -> Result<(), RenderError> {
        let mut frame = planes(data, layout)?;
        for shape in shapes {
            match shape {
                Shape::Segment { from, to } => self.draw_segment(&mut frame, *from, *to),
                Shape::Text { at, text } => {
                    let (x, y) = (at.0.round() as i64, at.1.round() as i64);
                    let paint = self.overlay;
                    let alpha = std::mem::replace(&mut self.alpha, Alpha::from_opacity(1.0));
                    self.draw_label(&mut frame, Rect::new(x, y, x + 1, y + 1), text, paint);
                    self.alpha = alpha;
                }
            }
        }
        Ok(())
    }

    /// A line `style.thickness` pixels wide: squares stamped one pixel apart along it.
    fn draw_segment(&mut self, frame: &mut Frame, from: (f32, f32), to: (f32, f32)) {
        let finite = [from.0, from.1, to.0, to.1]
            .iter()
            .all(|v| v.is_finite() && v.abs() < COORD_LIMIT);
        if !finite {
            return;
        }
        let t = i64::from(self.style.thickness);
        let steps = (to.0 - from.0).abs().max((to.1 - from.1).abs()).ceil().max(1.0) as i64;
        let opaque = Alpha::from_opacity(1.0);
        let paint = self.overlay.fill;
        for i in 0..=steps {
            let f = i as f32 / steps as f32;
            let x = (from.0 + (to.0 - from.0) * f).round() as i64 - t / 2;
            let y = (from.1 + (to.1 - from.1) * f).round() as i64 - t / 2;
            let square = Rect::new(x, y, x + t, y + t);
            frame.y.fill(square, paint.y, opaque);
            frame.u.fill(square.chroma_touched(), paint.u, opaque);
            frame.v.fill(square.chroma_touched(), paint.v, opaque);
        }
    }

    fn draw_item(&mut self, frame: &mut Frame, item: &DrawItem) {
        let Some(outer) = pixel_rect(&item.bbox) else { return };
        if outer.intersect(&Rect::new(0, 0, frame.width, frame.height)).is_empty() {
            return;
        }
        let paint = self.paints[item.class_id as usize % PALETTE_LEN];
        let t = i64::from(self.style.thickness);
        let hole = Rect::new(outer.x0 + t, outer.y0 + t, outer.x1 - t, outer.y1 - t);
        frame.y.fill_ring(outer, hole, paint.fill.y, self.alpha);
        // A chroma sample is painted when any luma pixel of its block is on the outline.
        let (outer_c, hole_c) = (outer.chroma_touched(), hole.chroma_inside());
        frame.u.fill_ring(outer_c, hole_c, paint.fill.u, self.alpha);
        frame.v.fill_ring(outer_c, hole_c, paint.fill.v, self.alpha);
        if self.style.labels && !item.label.is_empty() {
            self.draw_label(frame, outer, &item.label, paint);
        }
    }

    /// Where the label for a box with outline `outer` goes: above its top-left corner, moved
    /// inside the frame where it would not fit. Even-aligned, so chroma blocks map exactly.
    fn label_rect(&mut self, outer: Rect, text: &str, frame_width: i64) -> Rect {
        let m = self.metrics;
        let text_width: f32 = text.chars().map(|c| self.glyphs.glyph(c).advance).sum();
        let width = even_up(text_width.ceil() as i64 + 2 * m.pad_x).min(even_up(frame_width));
        let height = even_up(m.line_height + 2 * m.pad_y);
        let mut x = even_down(outer.x0.max(0));
        if x + width > frame_width {
            x = even_down(frame_width - width).max(0);
        }
        let y = if outer.y0 - height >= 0 {
            even_up(outer.y0 - height)
        } else {
            even_down(outer.y0.max(0))
        };
        Rect::new(x, y, x + width, y + height)
    }

    fn draw_label(&mut self, frame: &mut Frame, outer: Rect, text: &str, paint: ClassPaint) {
        let rect = self.label_rect(outer, text, frame.width);
        frame.y.fill(rect, paint.fill.y, self.alpha);
        let rect_c = rect.chroma_touched();
        frame.u.fill(rect_c, paint.fill.u, self.alpha);
        frame.v.fill(rect_c, paint.fill.v, self.alpha);

        let Self {
            glyphs,
            scratch,
            metrics,
            ..
        } = self;
        let (width, height) = ((rect.x1 - rect.x0) as usize, (rect.y1 - rect.y0) as usize);
        scratch.clear();
        scratch.resize(width * height, 0);
        let baseline = metrics.pad_y + metrics.ascent;
        let mut pen = metrics.pad_x as f32;
        for ch in text.chars() {
            if pen >= width as f32 {
                break;
            }
            let g = glyphs.glyph(ch);
            let gx = pen.round() as i64 + i64::from(g.left);
            let gy = baseline + i64::from(g.top);
            stamp(scratch, width, height, gx, gy, &g.coverage, g.width);
            pen += g.advance;
        }
        frame.y.blend_mask(rect.x0, rect.y0, scratch, width, paint.text.y);
        frame
            .u
            .blend_mask_2x2(rect_c.x0, rect_c.y0, scratch, width, paint.text.u);
        frame
            .v
            .blend_mask_2x2(rect_c.x0, rect_c.y0, scratch, width, paint.text.v);
    }
}

/// The planes of a tightly packed I420 frame, or why it is too short for its layout.
fn planes(data: &mut [u8], layout: I420Layout) -> Result<Frame<'_>, RenderError> {
    if data.len() < layout.len() {
        return Err(RenderError::FrameTooShort {
            width: layout.width,
            height: layout.height,
            expected: layout.len(),
            got: data.len(),
        });
    }
    let (y, u, v) = layout.planes_mut(data);
    let (w, h) = (layout.width as usize, layout.height as usize);
    let (cw, ch) = (layout.chroma_width(), layout.chroma_height());
    Ok(Frame {
        y: Plane::new(y, w, h),
        u: Plane::new(u, cw, ch),
        v: Plane::new(v, cw, ch),
        width: w as i64,
        height: h as i64,
    })
}

/// Adds a glyph's coverage into the label mask at (`x`, `y`), clipped to the mask.
fn stamp(mask: &mut [u8], mask_w: usize, mask_h: usize, x: i64, y: i64, glyph: &[u8], glyph_w: usize) {
    if glyph_w == 0 {
        return;
    }
    let glyph_h = glyph.len() / glyph_w;
    let (x0, x1) = (x.max(0), (x + glyph_w as i64).min(mask_w as i64));
    let (y0, y1) = (y.max(0), (y + glyph_h as i64).min(mask_h as i64));
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    for my in y0..y1 {
        let src = &glyph[(my - y) as usize * glyph_w..][(x0 - x) as usize..(x1 - x) as usize];
        let dst = &mut mask[my as usize * mask_w..][x0 as usize..x1 as usize];
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = d.saturating_add(s);
        }
    }
}

/// The luma pixels a box covers (corners rounded to the nearest pixel edge), or `None` for a box
/// that is not finite or has no area.
fn pixel_rect(b: &BBox) -> Option<Rect> {
    let q = |v: f32| v.is_finite().then(|| v.clamp(-COORD_LIMIT, COORD_LIMIT).round() as i64);
    let r = Rect::new(q(b.x1)?, q(b.y1)?, q(b.x2)?, q(b.y2)?);
    (!r.is_empty()).then_some(r)
}

fn even_down(v: i64) -> i64 {
    v.div_euclid(2) * 2
}

fn even_up(v: i64) -> i64 {
    even_down(v + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BG: Yuv = Yuv { y: 100, u: 128, v: 128 };

    fn frame(w: u32, h: u32) -> (Vec<u8>, I420Layout) {
        let layout = I420Layout::new(w, h);
        let mut data = vec![BG.u; layout.len()];
        data[..layout.y_len()].fill(BG.y);
        (data, layout)
    }

    fn item(x1: f32, y1: f32, x2: f32, y2: f32, class_id: u16, label: &str) -> DrawItem {
        DrawItem {
            bbox: BBox::new(x1, y1, x2, y2),
            class_id,
            label: label.to_string(),
        }
    }

    fn painter(thickness: u32, opacity: f32, labels: bool, h: u32) -> Painter {
        Painter::new(RenderStyle::new(thickness, opacity, labels).unwrap(), h).unwrap()
    }

    /// Checks every Y, U and V sample: on the outline of luma rect `r` (thickness `t`) it must be
    /// `on`, elsewhere untouched.
    fn assert_outline(data: &[u8], layout: I420Layout, r: Rect, t: i64, on: Yuv) {
        let (yp, up, vp) = layout.planes(data);
        let on_ring = |x: i64, y: i64| {
            let inside = |rx0, ry0, rx1, ry1| x >= rx0 && x < rx1 && y >= ry0 && y < ry1;
            inside(r.x0, r.y0, r.x1, r.y1) && !inside(r.x0 + t, r.y0 + t, r.x1 - t, r.y1 - t)
        };
        let w = layout.width as i64;
        for y in 0..layout.height as i64 {
            for x in 0..w {
                let want = if on_ring(x, y) { on.y } else { BG.y };
                assert_eq!(yp[(y * w + x) as usize], want, "Y at ({x},{y})");
            }
        }
        let cw = layout.chroma_width() as i64;
        for by in 0..layout.chroma_height() as i64 {
            for bx in 0..cw {
                let touched = (0..4).any(|k| on_ring(2 * bx + k % 2, 2 * by + k / 2));
                let i = (by * cw + bx) as usize;
                let (wu, wv) = if touched { (on.u, on.v) } else { (BG.u, BG.v) };
                assert_eq!((up[i], vp[i]), (wu, wv), "UV at block ({bx},{by})");
            }
        }
    }

    #[test]
    fn outline_lands_on_the_right_pixels() {
        let (mut data, layout) = frame(64, 48);
        let mut p = painter(2, 1.0, false, 48);
        p.draw(&mut data, layout, &[item(10.0, 8.0, 30.0, 24.0, 0, "x")])
            .unwrap();
        let red = Yuv::from_rgb(class_colour(0));
        assert_outline(&data, layout, Rect::new(10, 8, 30, 24), 2, red);
        let (yp, _, _) = layout.planes(&data);
        assert_eq!(yp[8 * 64 + 10], red.y, "top-left corner");
        assert_eq!(yp[23 * 64 + 29], red.y, "bottom-right corner, inside the box");
        assert_eq!(yp[12 * 64 + 15], BG.y, "interior untouched");
    }

    #[test]
    fn thickness_is_honoured_at_odd_positions() {
        for t in [1u32, 3, 5] {
            let (mut data, layout) = frame(48, 40);
            let mut p = painter(t, 1.0, false, 40);
            p.draw(&mut data, layout, &[item(3.4, 5.6, 40.2, 33.0, 7, "")]).unwrap();
            assert_outline(
                &data,
                layout,
                Rect::new(3, 6, 40, 33),
                i64::from(t),
                Yuv::from_rgb(class_colour(7)),
            );
        }
    }

    #[test]
    fn thick_outline_on_small_box_fills_it() {
        let (mut data, layout) = frame(32, 32);
        let mut p = painter(8, 1.0, false, 32);
        p.draw(&mut data, layout, &[item(4.0, 4.0, 14.0, 12.0, 3, "")]).unwrap();
        assert_outline(
            &data,
            layout,
            Rect::new(4, 4, 14, 12),
            8,
            Yuv::from_rgb(class_colour(3)),
        );
    }

    #[test]
    fn half_opacity_gives_the_midpoint() {
        let (mut data, layout) = frame(40, 40);
        let mut p = painter(4, 0.5, false, 40);
        p.draw(&mut data, layout, &[item(4.0, 4.0, 36.0, 36.0, 8, "")]).unwrap();
        let c = Yuv::from_rgb(class_colour(8));
        let mid = |a: u8, b: u8| (u16::from(a) + u16::from(b)).div_ceil(2) as u8;
        let (yp, up, vp) = layout.planes(&data);
        for (x, y) in [(4, 4), (7, 20), (35, 35), (20, 33)] {
            assert!(
                yp[y * 40 + x].abs_diff(mid(BG.y, c.y)) <= 1,
                "Y at ({x},{y}): {}",
                yp[y * 40 + x]
            );
            let i = (y / 2) * 20 + x / 2;
            assert!(up[i].abs_diff(mid(BG.u, c.u)) <= 1 && vp[i].abs_diff(mid(BG.v, c.v)) <= 1);
        }
        assert_eq!(yp[20 * 40 + 20], BG.y);
    }

    #[test]
    fn box_partly_outside_is_clipped() {
        let (mut data, layout) = frame(40, 30);
        let mut p = painter(2, 1.0, false, 30);
        p.draw(&mut data, layout, &[item(-10.0, -5.0, 20.0, 50.0, 1, "")])
            .unwrap();
        assert_outline(
            &data,
            layout,
            Rect::new(-10, -5, 20, 50),
            2,
            Yuv::from_rgb(class_colour(1)),
        );
    }

    #[test]
    fn hostile_boxes_and_frames_never_panic() {
        let boxes = [
            item(-100.0, -100.0, -50.0, -50.0, 0, "gone"),
            item(1e6, 1e6, 2e6, 2e6, 1, "far"),
            item(-1e30, -1e30, 1e30, 1e30, 2, "huge"),
            item(f32::NAN, 0.0, 10.0, 10.0, 3, "nan"),
            item(0.0, 0.0, f32::INFINITY, 10.0, 4, "inf"),
            item(5.0, 5.0, 5.0, 12.0, 5, "zero width"),
            item(5.0, 5.0, 12.0, 5.2, 6, "zero height"),
            item(12.0, 12.0, 4.0, 4.0, 7, "inverted"),
            item(0.0, 0.0, 1.0, 1.0, 8, "tiny"),
            item(
                30.0,
                14.0,
                33.0,
                17.0,
                9,
                "corner ünïcødé 🚀 label that is far wider than the frame",
            ),
            item(-3.0, 10.0, 40.0, 16.5, u16::MAX, ""),
        ];
        for (w, h) in [(33, 17), (1, 1), (2, 2), (3, 1), (1, 5), (0, 0), (0, 7), (64, 1)] {
            for (t, opacity) in [(1, 1.0), (32, 0.3), (3, 0.75)] {
                let (mut data, layout) = frame(w, h);
                let mut p = painter(t, opacity, true, h);
                p.draw(&mut data, layout, &boxes).unwrap();
            }
        }
    }

    #[test]
    fn short_buffer_is_an_error() {
        let layout = I420Layout::new(16, 16);
        let mut data = vec![0u8; layout.len() - 1];
        let err = painter(2, 1.0, true, 16).draw(&mut data, layout, &[item(1.0, 1.0, 8.0, 8.0, 0, "a")]);
        assert!(matches!(err, Err(RenderError::FrameTooShort { .. })));
    }

    #[test]
    fn invalid_style_is_rejected() {
        let bad = RenderStyle {
            thickness: 0,
            ..RenderStyle::default()
        };
        assert!(matches!(Painter::new(bad, 720), Err(RenderError::Thickness(0))));
    }

    #[test]
    fn font_size_follows_frame_height() {
        assert_eq!(painter(2, 1.0, true, 360).font_px(), 12.0);
        assert_eq!(painter(2, 1.0, true, 720).font_px(), 18.0);
        assert_eq!(painter(2, 1.0, true, 1080).font_px(), 27.0);
        assert_eq!(painter(2, 1.0, true, 0).font_px(), 12.0);
    }

    /// Draws one labelled box and returns the label rect and the frame.
    fn labelled(class_id: u16, bbox: (f32, f32, f32, f32), w: u32, h: u32) -> (Rect, Vec<u8>, I420Layout) {
        let (mut data, layout) = frame(w, h);
        let mut p = painter(2, 1.0, true, h);
        let it = item(bbox.0, bbox.1, bbox.2, bbox.3, class_id, "person 0.87 #12");
        p.draw(&mut data, layout, std::slice::from_ref(&it)).unwrap();
        let rect = p.label_rect(pixel_rect(&it.bbox).unwrap(), &it.label, i64::from(w));
        (rect, data, layout)
    }

    /// Counts label pixels near `text_y` and checks every pixel above the box is either untouched
    /// or inside the label rect.
    fn text_pixels(rect: Rect, data: &[u8], layout: I420Layout, box_top: i64, text_y: u8) -> usize {
        let w = layout.width as i64;
        let mut text = 0;
        for y in 0..box_top {
            for x in 0..w {
                let v = data[(y * w + x) as usize];
                let in_label = x >= rect.x0 && x < rect.x1 && y >= rect.y0 && y < rect.y1;
                if !in_label {
                    assert_eq!(v, BG.y, "({x},{y}) outside the label");
                } else if v.abs_diff(text_y) < 20 {
                    text += 1;
                }
            }
        }
        text
    }

    #[test]
    fn white_text_on_dark_label_above_the_box() {
        let (rect, data, layout) = labelled(8, (100.0, 100.0, 200.0, 200.0), 320, 240);
        assert!(rect.y1 >= 100 && rect.y1 <= 101 && rect.x0 == 100, "{rect:?}");
        assert!(rect.x1 - rect.x0 > 60, "label wide enough for its text: {rect:?}");
        let white = text_pixels(rect, &data, layout, 100, Yuv::WHITE.y);
        assert!(white > 60, "only {white} white text pixels");
        assert_eq!(text_pixels(rect, &data, layout, 100, Yuv::BLACK.y), 0);
        // The label's background carries the class colour.
        let (yp, up, _) = layout.planes(&data);
        let blue = Yuv::from_rgb(class_colour(8));
        assert_eq!(yp[(rect.y0 * 320 + rect.x0) as usize], blue.y);
        assert_eq!(up[((rect.y0 / 2) * 160 + rect.x0 / 2) as usize], blue.u);
        // Text pulls chroma towards neutral somewhere inside the label.
        let neutral = (rect.y0 / 2..rect.y1 / 2)
            .flat_map(|by| (rect.x0 / 2..rect.x1 / 2).map(move |bx| (by * 160 + bx) as usize))
            .filter(|&i| up[i].abs_diff(128) < blue.u.abs_diff(128) / 2)
            .count();
        assert!(neutral > 5, "{neutral}");
    }

    #[test]
    fn black_text_on_light_label() {
        let (rect, data, layout) = labelled(2, (50.0, 120.0, 90.0, 200.0), 320, 240);
        let black = text_pixels(rect, &data, layout, 120, Yuv::BLACK.y);
        assert!(black > 60, "only {black} black text pixels");
        assert_eq!(text_pixels(rect, &data, layout, 120, Yuv::WHITE.y), 0);
    }

    #[test]
    fn label_moves_inside_the_frame() {
        // No room above: the label goes inside, at the top.
        let (rect, _, _) = labelled(0, (20.0, 3.0, 120.0, 100.0), 320, 240);
        assert_eq!((rect.x0, rect.y0), (20, 2));
        // Box at the right edge: the label shifts left to stay whole.
        let (rect, _, _) = labelled(0, (300.0, 100.0, 319.0, 140.0), 320, 240);
        assert!(rect.x1 <= 320 && rect.x0 < 300, "{rect:?}");
        // Box partly off the left: the label starts at the frame edge.
        let (rect, _, _) = labelled(0, (-30.0, 100.0, 50.0, 140.0), 320, 240);
        assert_eq!(rect.x0, 0);
    }

    #[test]
    fn glyph_cache_stays_bounded_across_frames() {
        let (mut data, layout) = frame(320, 240);
        let mut p = painter(2, 1.0, true, 240);
        let all: String = (0u32..0x2000).filter_map(char::from_u32).collect();
        for _ in 0..3 {
            p.draw(&mut data, layout, &[item(10.0, 40.0, 300.0, 200.0, 4, &all)])
                .unwrap();
        }
        assert!(p.cached_glyphs() <= 95, "{}", p.cached_glyphs());
    }

    #[test]
    fn drawing_touches_a_small_part_of_the_frame() {
        let (mut data, layout) = frame(1280, 720);
        let before = data.clone();
        let items: Vec<DrawItem> = (0..20)
            .map(|i| {
                let (x, y) = ((i % 5) as f32 * 250.0 + 20.0, (i / 5) as f32 * 170.0 + 40.0);
                item(
                    x,
                    y,
                    x + 180.0,
                    y + 120.0,
                    i as u16,
                    &format!("person 0.{:02} #{i}", 50 + i),
                )
            })
            .collect();
        let mut p = painter(2, 1.0, true, 720);
        p.draw(&mut data, layout, &items).unwrap();
        let changed = data.iter().zip(&before).filter(|(a, b)| a != b).count();
        assert!(changed > 20 * 600, "boxes were drawn: {changed}");
        assert!(changed * 10 < data.len(), "{changed} of {} bytes changed", data.len());
    }

    #[test]
    fn segments_are_drawn_opaque_and_thick_even_at_half_opacity() {
        let (mut data, layout) = frame(64, 48);
        let mut p = painter(4, 0.5, true, 48);
        let shapes = [
            Shape::Segment {
                from: (8.0, 24.0),
                to: (56.0, 24.0),
            },
            Shape::Segment {
                from: (f32::NAN, 0.0),
                to: (1e30, 5.0),
            },
        ];
        p.draw_shapes(&mut data, layout, &shapes).unwrap();
        let (yp, _, _) = layout.planes(&data);
        let overlay = Yuv::from_rgb(OVERLAY_RGB).y;
        let at = |x: usize, y: usize| yp[y * 64 + x];
        // Four rows thick around y = 24, from x = 6 to 58; nothing far from it.
        for x in [8, 32, 56] {
            assert_eq!((at(x, 22), at(x, 25)), (overlay, overlay), "x = {x}");
            assert_eq!((at(x, 19), at(x, 28)), (BG.y, BG.y), "x = {x}");
        }
        assert_eq!(at(2, 24), BG.y);
        // A label for a line's counts goes where it is asked, inside the frame.
        let text = [Shape::Text {
            at: (60.0, 2.0),
            text: "door: in 3 out 2".into(),
        }];
        p.draw_shapes(&mut data, layout, &text).unwrap();
    }
}
