//! Drawing boxes and labels into I420 frames: the pure logic behind the Renderer actor.
//!
//! A [`Painter`] is made once per job from a [`RenderStyle`] and the frame height (which sets the
//! label font size). For each frame, [`Painter::draw`] burns a list of [`DrawItem`]s into the
//! frame's planes in place: an outline in the class colour ([`class_colour`]) and, above it, a
//! filled label with white or black text, whichever reads better on that colour.
//!
//! Colours are converted to BT.601 limited-range YUV once. Luma is drawn at full resolution and
//! chroma at half: outlines and label backgrounds paint every chroma sample whose 2×2 block they
//! touch; text blends each chroma sample by the mean coverage of its block. Only pixels under
//! outlines and labels are read or written, and drawing allocates nothing per frame.

mod canvas;
mod colour;
mod glyphs;
pub mod label;
mod painter;
mod style;

pub use colour::{class_colour, Yuv, PALETTE_LEN};
pub use glyphs::GLYPH_SLOTS;
pub use painter::Painter;
pub use style::{RenderError, RenderStyle, MAX_THICKNESS};

use crate::detect::BBox;

/// A zone's or line's part to draw, in source-frame pixels.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Segment {
        from: (f32, f32),
        to: (f32, f32),
    },
    /// A label whose bottom-left corner is at `at` (moved inside the frame where it would not fit).
    Text {
        at: (f32, f32),
        text: String,
    },
}

/// One box to draw, in source-frame pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct DrawItem {
    pub bbox: BBox,
    pub class_id: u16,
    /// Label text, e.g. `person 0.87` or `person 0.87 #12`; empty for no label. Characters outside
    /// printable ASCII are drawn as '?'.
    pub label: String,
}
