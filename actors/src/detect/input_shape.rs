//! The picture sizes a model takes, and the one a frame is letterboxed to.
//!
//! A model with a fixed input gets every frame padded to that size. A model whose height and
//! width are open (a fully convolutional network with its grids sized at run time) takes any
//! multiple of its stride: a frame is then scaled as it would be for the size the model was made
//! for, and placed on the model's grid where the full-size letterbox would put it, modulo the
//! stride, with only as much padding around it as the grid needs. A 16:9 frame in a 416×416 model
//! becomes 416×288 instead of 416×416: 31% less of the network to compute, and what it skips is
//! flat grey that holds nothing to detect.
//!
//! Keeping the picture's offset on the grid is what keeps the detections: the network's cells
//! then see the same pixels as in the full-size input. Centred in 416×256 instead, the 1280×720
//! sample moved 2.5 cells of the coarse grid, and dog.jpg's bicycle box moved to IoU 0.87 with the
//! full-size one; on the grid it is the same box.

use std::fmt;

use super::letterbox::Letterbox;

/// The input sizes a model accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputShape {
    /// The size the model was made for: its fixed input, or the scale an open one is fed at.
    pub width: u32,
    pub height: u32,
    /// Set when the height and width are open: each must be a multiple of this, at most `width`
    /// and `height` rounded up to it.
    pub stride: Option<u32>,
}

impl InputShape {
    pub fn fixed(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            stride: None,
        }
    }

    /// Where a `src_w`×`src_h` frame goes in the model's input. Sizes must be non-zero.
    pub fn letterbox(&self, src_w: u32, src_h: u32) -> Letterbox {
        let full = Letterbox::new(src_w, src_h, self.width, self.height);
        match self.stride {
            None => full,
            Some(stride) => {
                // at the scale of the size the model was made for, padded to the grid
                let stride = stride.max(1);
                let (pad_x, pad_y) = (full.pad_x % stride, full.pad_y % stride);
                Letterbox {
                    dst_w: round_up(pad_x + full.new_w, stride),
                    dst_h: round_up(pad_y + full.new_h, stride),
                    pad_x,
                    pad_y,
                    ..full
                }
            }
        }
    }

    /// Whether an image of `width`×`height` can be fed to the model.
    pub fn accepts(&self, width: u32, height: u32) -> bool {
        match self.stride {
            None => (width, height) == (self.width, self.height),
            Some(stride) => {
                let fits = |side: u32, made_for: u32| {
                    side > 0 && side.is_multiple_of(stride) && side <= self.max_side(made_for)
                };
                fits(width, self.width) && fits(height, self.height)
            }
        }
    }

    /// The largest side an open input takes: the size it was made for, rounded up to the stride.
    fn max_side(&self, made_for: u32) -> u32 {
        self.stride.map_or(made_for, |stride| round_up(made_for, stride))
    }
}

impl fmt::Display for InputShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.stride {
            None => write!(f, "{}×{}", self.width, self.height),
            Some(stride) => write!(
                f,
                "multiples of {stride} up to {}×{}",
                self.max_side(self.width),
                self.max_side(self.height)
            ),
        }
    }
}

fn round_up(side: u32, stride: u32) -> u32 {
    side.div_ceil(stride.max(1)) * stride.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: InputShape = InputShape {
        width: 416,
        height: 416,
        stride: Some(32),
    };

    #[test]
    fn a_fixed_input_pads_every_frame_to_its_size() {
        let shape = InputShape::fixed(416, 416);
        let lb = shape.letterbox(1280, 720);
        assert_eq!(
            (lb.dst_w, lb.dst_h, lb.new_w, lb.new_h, lb.pad_y),
            (416, 416, 416, 234, 91)
        );
        assert!(shape.accepts(416, 416));
        assert!(!shape.accepts(416, 256));
        assert_eq!(shape.to_string(), "416×416");
    }

    #[test]
    fn an_open_input_pads_only_to_the_next_multiple_of_the_stride() {
        // 16:9, 4:3, a portrait phone clip, a wide clip, a square photo
        for (src, want) in [
            ((1280, 720), (416, 288)),
            ((768, 576), (416, 352)),
            ((720, 1280), (288, 416)),
            ((640, 272), (416, 224)),
            ((500, 500), (416, 416)),
        ] {
            let lb = OPEN.letterbox(src.0, src.1);
            assert_eq!((lb.dst_w, lb.dst_h), want, "{src:?}");
            // at the scale the model was made for, and at the same place on its grid: the same
            // picture as in the square input
            let square = InputShape::fixed(416, 416).letterbox(src.0, src.1);
            assert_eq!((lb.new_w, lb.new_h), (square.new_w, square.new_h), "{src:?}");
            assert_eq!((lb.pad_x % 32, lb.pad_y % 32), (square.pad_x % 32, square.pad_y % 32));
            assert!(lb.pad_x < 32 && lb.pad_y < 32, "{src:?}: {lb:?}");
            assert!(OPEN.accepts(lb.dst_w, lb.dst_h), "{src:?}");
        }
        let lb = OPEN.letterbox(1280, 720);
        assert_eq!((lb.new_h, lb.pad_x, lb.pad_y), (234, 0, 27));
    }

    #[test]
    fn an_open_input_refuses_sizes_off_the_grid_or_over_the_bound() {
        assert!(OPEN.accepts(32, 416));
        assert!(!OPEN.accepts(416, 250), "not a multiple of the stride");
        assert!(!OPEN.accepts(448, 256), "wider than the model was made for");
        assert!(!OPEN.accepts(0, 256));
        assert_eq!(OPEN.to_string(), "multiples of 32 up to 416×416");
        // made for a size off the stride: the bound is rounded up to it
        let odd = InputShape {
            width: 420,
            height: 420,
            stride: Some(32),
        };
        let lb = odd.letterbox(840, 420);
        assert_eq!(
            (lb.new_w, lb.new_h, lb.dst_w, lb.dst_h, lb.pad_y),
            (420, 210, 448, 224, 9)
        );
        assert!(odd.accepts(448, 448));
    }
}
