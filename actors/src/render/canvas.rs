//! Clipped fills and blends on one plane of an I420 frame.
//!
//! Everything here works on rectangles in the plane's own pixel grid (luma, or chroma at half
//! resolution), clips them to the plane, and touches only the pixels inside them.

/// A half-open rectangle `[x0, x1) × [y0, y1)`; may be empty or reach outside the plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x0: i64,
    pub y0: i64,
    pub x1: i64,
    pub y1: i64,
}

impl Rect {
    pub fn new(x0: i64, y0: i64, x1: i64, y1: i64) -> Self {
        Self { x0, y0, x1, y1 }
    }

    pub fn is_empty(&self) -> bool {
        self.x0 >= self.x1 || self.y0 >= self.y1
    }

    pub fn intersect(&self, other: &Rect) -> Rect {
        Rect::new(
            self.x0.max(other.x0),
            self.y0.max(other.y0),
            self.x1.min(other.x1),
            self.y1.min(other.y1),
        )
    }

    /// The 2×2 chroma blocks this luma rectangle touches at all.
    pub fn chroma_touched(&self) -> Rect {
        Rect::new(
            self.x0.div_euclid(2),
            self.y0.div_euclid(2),
            (self.x1 + 1).div_euclid(2),
            (self.y1 + 1).div_euclid(2),
        )
    }

    /// The 2×2 chroma blocks lying wholly inside this luma rectangle.
    pub fn chroma_inside(&self) -> Rect {
        Rect::new(
            (self.x0 + 1).div_euclid(2),
            (self.y0 + 1).div_euclid(2),
            self.x1.div_euclid(2),
            self.y1.div_euclid(2),
        )
    }
}

/// Opacity in 1/256ths; 256 is opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alpha(u16);

impl Alpha {
    /// From an opacity in (0, 1]; anything outside is clamped.
    pub fn from_opacity(opacity: f32) -> Alpha {
        let a = (opacity * 256.0).round();
        Alpha(if a.is_nan() { 256 } else { a.clamp(1.0, 256.0) as u16 })
    }

    fn is_opaque(self) -> bool {
        self.0 >= 256
    }

    /// `dst` moved towards `src` by this alpha, rounded.
    fn blend(self, dst: u8, src: u8) -> u8 {
        let a = u32::from(self.0);
        ((u32::from(dst) * (256 - a) + u32::from(src) * a + 128) >> 8) as u8
    }
}

/// `dst` moved towards `src` by `coverage` / 255, rounded.
fn blend_coverage(dst: u8, src: u8, coverage: u32) -> u8 {
    let (d, s) = (i32::from(dst), i32::from(src));
    let c = coverage.min(255) as i32;
    (d + ((s - d) * c + if s >= d { 127 } else { -127 }) / 255) as u8
}

/// One plane of a frame.
pub struct Plane<'a> {
    data: &'a mut [u8],
    width: usize,
    height: usize,
}

impl<'a> Plane<'a> {
    /// `data` must hold at least `width * height` bytes; the caller guarantees it (the frame
    /// layout's split does).
    pub fn new(data: &'a mut [u8], width: usize, height: usize) -> Self {
        debug_assert!(data.len() >= width * height);
        Self { data, width, height }
    }

    fn bounds(&self) -> Rect {
        Rect::new(0, 0, self.width as i64, self.height as i64)
    }

    /// Row `y`, columns `[x0, x1)`, of a rectangle already clipped to the plane.
    fn span(&mut self, y: i64, x0: i64, x1: i64) -> &mut [u8] {
        let start = y as usize * self.width;
        &mut self.data[start + x0 as usize..start + x1 as usize]
    }

    /// Paints `rect` (clipped) with `value` at `alpha`.
    pub fn fill(&mut self, rect: Rect, value: u8, alpha: Alpha) {
        let r = rect.intersect(&self.bounds());
        if r.is_empty() {
            return;
        }
        for y in r.y0..r.y1 {
            let span = self.span(y, r.x0, r.x1);
            if alpha.is_opaque() {
                span.fill(value);
            } else {
                for p in span {
                    *p = alpha.blend(*p, value);
                }
            }
        }
    }

    /// Paints the pixels of `outer` that are not in `hole` (both clipped), each exactly once.
    pub fn fill_ring(&mut self, outer: Rect, hole: Rect, value: u8, alpha: Alpha) {
        let hole = hole.intersect(&outer);
        if hole.is_empty() {
            self.fill(outer, value, alpha);
            return;
        }
        self.fill(Rect::new(outer.x0, outer.y0, outer.x1, hole.y0), value, alpha);
        self.fill(Rect::new(outer.x0, hole.y1, outer.x1, outer.y1), value, alpha);
        self.fill(Rect::new(outer.x0, hole.y0, hole.x0, hole.y1), value, alpha);
        self.fill(Rect::new(hole.x1, hole.y0, outer.x1, hole.y1), value, alpha);
    }

    /// Blends `value` into the plane by a coverage mask placed at (`at_x`, `at_y`), clipped.
    /// `mask` is `mask_width` wide, row-major, 0..=255 per pixel.
    pub fn blend_mask(&mut self, at_x: i64, at_y: i64, mask: &[u8], mask_width: usize, value: u8) {
        let Some(r) = self.mask_rect(at_x, at_y, mask.len(), mask_width) else {
            return;
        };
        for y in r.y0..r.y1 {
            let row = &mask[(y - at_y) as usize * mask_width..][..mask_width];
            let cov = &row[(r.x0 - at_x) as usize..(r.x1 - at_x) as usize];
            for (p, &c) in self.span(y, r.x0, r.x1).iter_mut().zip(cov) {
                if c != 0 {
                    *p = blend_coverage(*p, value, u32::from(c));
                }
            }
        }
    }

    /// Like [`Plane::blend_mask`] for a chroma plane: `mask` is at luma resolution and each chroma
    /// sample is blended by the mean coverage of its 2×2 block. `at_x`, `at_y` are in chroma
    /// samples; `mask_width` and the mask's height must be even.
    pub fn blend_mask_2x2(&mut self, at_x: i64, at_y: i64, mask: &[u8], mask_width: usize, value: u8) {
        debug_assert!(mask_width.is_multiple_of(2) && (mask.len() / mask_width.max(1)).is_multiple_of(2));
        let Some(r) = self.mask_rect(at_x, at_y, mask.len() / 4, mask_width / 2) else {
            return;
        };
        for y in r.y0..r.y1 {
            let top = &mask[2 * (y - at_y) as usize * mask_width..][..2 * mask_width];
            let (upper, lower) = top.split_at(mask_width);
            let bx0 = (r.x0 - at_x) as usize;
            let blocks = upper[2 * bx0..].chunks_exact(2).zip(lower[2 * bx0..].chunks_exact(2));
            for (p, (a, b)) in self.span(y, r.x0, r.x1).iter_mut().zip(blocks) {
                let sum = u32::from(a[0]) + u32::from(a[1]) + u32::from(b[0]) + u32::from(b[1]);
                if sum != 0 {
                    *p = blend_coverage(*p, value, (sum + 2) / 4);
                }
            }
        }
    }

    /// The part of the plane a `mask_len`-sized, `mask_width`-wide mask at (`x`, `y`) lands on.
    fn mask_rect(&self, x: i64, y: i64, mask_len: usize, mask_width: usize) -> Option<Rect> {
        if mask_width == 0 {
            return None;
        }
        let mask_height = (mask_len / mask_width) as i64;
        let r = Rect::new(x, y, x + mask_width as i64, y + mask_height).intersect(&self.bounds());
        (!r.is_empty()).then_some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chroma_rects() {
        let r = Rect::new(3, 4, 8, 9);
        assert_eq!(r.chroma_touched(), Rect::new(1, 2, 4, 5));
        assert_eq!(r.chroma_inside(), Rect::new(2, 2, 4, 4));
        let neg = Rect::new(-3, -1, 1, 1);
        assert_eq!(neg.chroma_touched(), Rect::new(-2, -1, 1, 1));
    }

    #[test]
    fn alpha_blends() {
        assert_eq!(Alpha::from_opacity(0.5).blend(0, 200), 100);
        assert_eq!(Alpha::from_opacity(0.5).blend(200, 0), 100);
        assert!(Alpha::from_opacity(1.0).is_opaque());
        assert_eq!(Alpha::from_opacity(0.0001).blend(50, 250), 51);
        assert_eq!(blend_coverage(16, 235, 255), 235);
        assert_eq!(blend_coverage(235, 16, 255), 16);
        assert_eq!(blend_coverage(100, 200, 0), 100);
    }

    #[test]
    fn ring_paints_each_pixel_once() {
        let mut buf = vec![0u8; 10 * 8];
        let mut plane = Plane::new(&mut buf, 10, 8);
        plane.fill_ring(
            Rect::new(-2, 1, 7, 12),
            Rect::new(1, 3, 5, 6),
            200,
            Alpha::from_opacity(0.5),
        );
        for y in 0..8 {
            for x in 0..10 {
                let in_outer = x < 7 && y >= 1;
                let in_hole = (1..5).contains(&x) && (3..6).contains(&y);
                let want = if in_outer && !in_hole { 100 } else { 0 };
                assert_eq!(buf[y * 10 + x], want, "({x},{y})");
            }
        }
    }

    #[test]
    fn masks_clip() {
        let mut buf = vec![10u8; 6 * 4];
        let mask = [255u8; 4 * 4];
        let mut plane = Plane::new(&mut buf, 6, 4);
        plane.blend_mask(4, -2, &mask, 4, 250);
        plane.blend_mask(-10, 0, &mask, 4, 250);
        let changed: Vec<usize> = (0..24).filter(|&i| buf[i] != 10).collect();
        assert_eq!(changed, vec![4, 5, 10, 11]);

        let mut chroma = vec![128u8; 3 * 2];
        let mut plane = Plane::new(&mut chroma, 3, 2);
        let mut half = [0u8; 4 * 4];
        half[0] = 255; // one of four pixels of block (0, 0)
        half[2..4].copy_from_slice(&[255, 255]);
        half[6..8].copy_from_slice(&[255, 255]); // all of block (1, 0)
        plane.blend_mask_2x2(2, 0, &half, 4, 16);
        plane.blend_mask_2x2(0, 1, &half, 4, 16);
        assert_eq!(chroma, vec![128, 128, 100, 100, 16, 128]);
    }
}
