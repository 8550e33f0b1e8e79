//! Label text: DejaVu Sans Bold rasterised once per character and kept as coverage bitmaps.
//!
//! The cache holds one slot per printable ASCII character; anything else is drawn as '?', so it
//! can never grow beyond 95 glyphs whatever the labels contain.

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};

use super::style::RenderError;

const FIRST: char = ' ';
const LAST: char = '~';
const FALLBACK: char = '?';
/// How many glyphs the cache can hold at most.
pub const GLYPH_SLOTS: usize = LAST as usize - FIRST as usize + 1;

/// One character's coverage bitmap, positioned relative to the pen on the baseline.
#[derive(Debug)]
pub struct Glyph {
    /// Offset of the bitmap's left column from the pen.
    pub left: i32,
    /// Offset of the bitmap's top row from the baseline (negative: above it).
    pub top: i32,
    pub width: usize,
    pub height: usize,
    /// Row-major coverage, 0 (none) ..= 255 (full).
    pub coverage: Box<[u8]>,
    /// How far the pen moves after this glyph, in (fractional) pixels.
    pub advance: f32,
}

/// Rasterised glyphs of one font size, filled on first use.
pub struct GlyphCache {
    font: FontRef<'static>,
    scale: PxScale,
    slots: Vec<Option<Glyph>>,
}

impl GlyphCache {
    /// A cache for text `px` pixels tall (ascent to descent).
    pub fn new(px: f32) -> Result<Self, RenderError> {
        let font = FontRef::try_from_slice(dejavu::sans::bold()).map_err(|_| RenderError::Font)?;
        Ok(Self {
            font,
            scale: PxScale::from(px),
            slots: (0..GLYPH_SLOTS).map(|_| None).collect(),
        })
    }

    /// The glyph for `ch`, rasterising it on first use; characters outside printable ASCII map to
    /// the fallback '?'.
    pub fn glyph(&mut self, ch: char) -> &Glyph {
        let ch = if (FIRST..=LAST).contains(&ch) { ch } else { FALLBACK };
        let slot = ch as usize - FIRST as usize;
        let (font, scale) = (&self.font, self.scale);
        self.slots[slot].get_or_insert_with(|| rasterise(font, scale, ch))
    }

    /// How many glyphs are cached now.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }
}

fn rasterise(font: &FontRef<'static>, scale: PxScale, ch: char) -> Glyph {
    let id = font.glyph_id(ch);
    let advance = font.as_scaled(scale).h_advance(id);
    let glyph = id.with_scale_and_position(scale, point(0.0, 0.0));
    let Some(outlined) = font.outline_glyph(glyph) else {
        // Blank glyphs (space) have no outline.
        return Glyph {
            left: 0,
            top: 0,
            width: 0,
            height: 0,
            coverage: Box::new([]),
            advance,
        };
    };
    let bounds = outlined.px_bounds();
    let (width, height) = (bounds.width() as usize, bounds.height() as usize);
    let mut coverage = vec![0u8; width * height].into_boxed_slice();
    outlined.draw(|x, y, c| {
        if let Some(p) = coverage.get_mut(y as usize * width + x as usize) {
            *p = (c.clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    });
    Glyph {
        left: bounds.min.x as i32,
        top: bounds.min.y as i32,
        width,
        height,
        coverage,
        advance,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyphs_have_ink_and_spaces_do_not() {
        let mut cache = GlyphCache::new(18.0).unwrap();
        let a = cache.glyph('A');
        assert!(a.width > 5 && a.height > 8, "{}x{}", a.width, a.height);
        assert!(a.top < 0, "capitals sit above the baseline");
        assert!(a.coverage.contains(&255));
        let space = cache.glyph(' ');
        assert_eq!(space.coverage.len(), 0);
        assert!(space.advance > 2.0);
    }

    #[test]
    fn cache_stays_bounded() {
        let mut cache = GlyphCache::new(14.0).unwrap();
        for ch in (0u32..0x3000).filter_map(char::from_u32) {
            cache.glyph(ch);
        }
        assert_eq!(cache.len(), GLYPH_SLOTS);
        assert_eq!(GLYPH_SLOTS, 95);
    }

    #[test]
    fn unknown_characters_fall_back_to_question_mark() {
        let mut cache = GlyphCache::new(14.0).unwrap();
        let q = cache.glyph('?').coverage.clone();
        assert_eq!(cache.glyph('é').coverage, q);
        assert_eq!(cache.glyph('\n').coverage, q);
        assert_eq!(cache.len(), 1);
    }
}
