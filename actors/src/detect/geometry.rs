//! Axis-aligned boxes and the overlap measure NMS and (later) tracking are built on.

use serde::{Deserialize, Serialize};

/// A box by its corners, in pixels of whatever image it belongs to (model input or source frame).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    pub fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        Self { x1, y1, x2, y2 }
    }

    /// From YOLO's centre/size form.
    pub fn from_cxcywh(cx: f32, cy: f32, w: f32, h: f32) -> Self {
        Self::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)
    }

    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }

    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }

    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    /// Intersection over union; 0 for disjoint or degenerate boxes.
    pub fn iou(&self, other: &BBox) -> f32 {
        let inter = BBox::new(
            self.x1.max(other.x1),
            self.y1.max(other.y1),
            self.x2.min(other.x2),
            self.y2.min(other.y2),
        )
        .area();
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }

    /// The box as fractions of a `width` × `height` image (how the store keeps it).
    pub fn to_normalised(&self, width: u32, height: u32) -> [f32; 4] {
        let (w, h) = (width.max(1) as f32, height.max(1) as f32);
        [self.x1 / w, self.y1 / h, self.x2 / w, self.y2 / h]
    }

    /// A box stored as fractions, in pixels of a `width` × `height` image.
    pub fn from_normalised([x1, y1, x2, y2]: [f32; 4], width: u32, height: u32) -> BBox {
        let (w, h) = (width as f32, height as f32);
        BBox::new(x1 * w, y1 * h, x2 * w, y2 * h)
    }

    /// Clamps the box into a `width` × `height` image.
    pub fn clamp_to(&self, width: f32, height: f32) -> BBox {
        BBox::new(
            self.x1.clamp(0.0, width),
            self.y1.clamp(0.0, height),
            self.x2.clamp(0.0, width),
            self.y2.clamp(0.0, height),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_and_back() {
        let b = BBox::new(64.0, 27.2, 320.0, 272.0);
        assert_eq!(b.to_normalised(640, 272), [0.1, 0.1, 0.5, 1.0]);
        assert_eq!(BBox::from_normalised(b.to_normalised(640, 272), 640, 272), b);
        // A zero-sized image divides by one rather than giving infinities.
        assert!(b.to_normalised(0, 0).iter().all(|v| v.is_finite()));
    }

    #[test]
    fn iou_of_identical_disjoint_and_half_overlapping_boxes() {
        let a = BBox::new(0.0, 0.0, 10.0, 10.0);
        assert_eq!(a.iou(&a), 1.0);
        assert_eq!(a.iou(&BBox::new(20.0, 20.0, 30.0, 30.0)), 0.0);
        // Shifted by half its width: intersection 50, union 150.
        let b = BBox::new(5.0, 0.0, 15.0, 10.0);
        assert!((a.iou(&b) - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn degenerate_boxes_do_not_divide_by_zero() {
        let p = BBox::new(1.0, 1.0, 1.0, 1.0);
        assert_eq!(p.iou(&p), 0.0);
    }

    #[test]
    fn centre_form_converts_to_corners() {
        let b = BBox::from_cxcywh(50.0, 40.0, 20.0, 10.0);
        assert_eq!(b, BBox::new(40.0, 35.0, 60.0, 45.0));
    }
}
