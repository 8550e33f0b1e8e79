//! Decoded video frames as they travel between the pipeline's actors.
//!
//! Frames are planar I420 (what decoders produce and x264 consumes), tightly packed: the Y plane
//! then U then V, no row padding. Keeping one pixel format end to end means no full-frame colour
//! conversion anywhere in the pipeline; only the model-sized letterbox is converted to RGB.

/// Sizes and offsets of a tightly packed I420 image. Chroma planes are half size, rounded up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct I420Layout {
    pub width: u32,
    pub height: u32,
}

impl I420Layout {
    pub fn new(width: u32, height: u32) -> Self {
        Self { width, height }
    }

    pub fn chroma_width(&self) -> usize {
        self.width.div_ceil(2) as usize
    }

    pub fn chroma_height(&self) -> usize {
        self.height.div_ceil(2) as usize
    }

    pub fn y_len(&self) -> usize {
        self.width as usize * self.height as usize
    }

    pub fn chroma_len(&self) -> usize {
        self.chroma_width() * self.chroma_height()
    }

    pub fn u_offset(&self) -> usize {
        self.y_len()
    }

    pub fn v_offset(&self) -> usize {
        self.y_len() + self.chroma_len()
    }

    pub fn len(&self) -> usize {
        self.y_len() + 2 * self.chroma_len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The three planes of `data` (which must be at least `len()` bytes), mutably.
    pub fn planes_mut<'a>(&self, data: &'a mut [u8]) -> (&'a mut [u8], &'a mut [u8], &'a mut [u8]) {
        let (y, rest) = data.split_at_mut(self.y_len());
        let (u, rest) = rest.split_at_mut(self.chroma_len());
        let (v, _) = rest.split_at_mut(self.chroma_len());
        (y, u, v)
    }

    /// The three planes of `data`.
    pub fn planes<'a>(&self, data: &'a [u8]) -> (&'a [u8], &'a [u8], &'a [u8]) {
        let (y, rest) = data.split_at(self.y_len());
        let (u, rest) = rest.split_at(self.chroma_len());
        (y, u, &rest[..self.chroma_len()])
    }
}

/// A decoded frame in flight between the pipeline's actors.
pub struct Frame {
    pub index: u64,
    /// Presentation time, rebased so the video starts at 0.
    pub pts_ns: u64,
    pub duration_ns: u64,
    pub layout: I420Layout,
    pub data: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_and_odd_sizes() {
        let l = I420Layout::new(768, 576);
        assert_eq!(l.len(), 768 * 576 * 3 / 2);
        let odd = I420Layout::new(5, 3);
        assert_eq!((odd.chroma_width(), odd.chroma_height()), (3, 2));
        assert_eq!(odd.len(), 15 + 2 * 6);
        let mut buf = vec![0u8; odd.len()];
        let (y, u, v) = odd.planes_mut(&mut buf);
        assert_eq!((y.len(), u.len(), v.len()), (15, 6, 6));
    }
}
