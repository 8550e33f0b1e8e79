//! Turning a raw YOLO output tensor into scored candidate boxes (model-input pixels).

use super::geometry::BBox;
use super::layout::OutputLayout;

/// A box that passed the confidence threshold, before NMS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub class_id: usize,
    pub score: f32,
    pub bbox: BBox,
}

/// Thresholds and class selection applied while decoding.
#[derive(Debug, Clone)]
pub struct OutputParams {
    pub confidence: f32,
    /// `allowed[c]` says whether class `c` is kept; `None` keeps all.
    pub allowed: Option<Vec<bool>>,
}

impl OutputParams {
    fn keeps(&self, class_id: usize) -> bool {
        self.allowed
            .as_ref()
            .is_none_or(|a| a.get(class_id).copied().unwrap_or(false))
    }
}

/// Index and value of the largest of `scores(i)` for `i` in `0..n`.
fn best_class(n: usize, score: impl Fn(usize) -> f32) -> (usize, f32) {
    (0..n).fold((0, f32::MIN), |best, i| {
        let s = score(i);
        if s > best.1 {
            (i, s)
        } else {
            best
        }
    })
}

/// Decodes `data` (the whole output tensor, row-major, batch of one) laid out as `layout`.
/// The score of a box is objectness × best class score for the first layout, and the best
/// class score for the second. Boxes below `params.confidence` or of excluded classes are dropped.
pub fn decode_output(data: &[f32], layout: OutputLayout, params: &OutputParams) -> Vec<Candidate> {
    let per_box = layout.values_per_box();
    let classes = layout.classes();
    let n = data.len() / per_box;
    let mut out = Vec::new();
    let mut push = |class_id: usize, score: f32, cx: f32, cy: f32, w: f32, h: f32| {
        if score >= params.confidence && params.keeps(class_id) && w > 0.0 && h > 0.0 {
            out.push(Candidate {
                class_id,
                score,
                bbox: BBox::from_cxcywh(cx, cy, w, h),
            });
        }
    };
    match layout {
        OutputLayout::RowsWithObjectness { .. } => {
            for row in data.chunks_exact(per_box) {
                let obj = row[4];
                // Cheap early exit: the score can never beat the objectness.
                if obj < params.confidence {
                    continue;
                }
                let (c, s) = best_class(classes, |i| row[5 + i]);
                push(c, obj * s, row[0], row[1], row[2], row[3]);
            }
        }
        OutputLayout::ColumnsNoObjectness { .. } => {
            let at = |channel: usize, i: usize| data[channel * n + i];
            for i in 0..n {
                let (c, s) = best_class(classes, |k| at(4 + k, i));
                push(c, s, at(0, i), at(1, i), at(2, i), at(3, i));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(confidence: f32) -> OutputParams {
        OutputParams {
            confidence,
            allowed: None,
        }
    }

    /// Two boxes of a 3-class model in the objectness layout.
    fn rows() -> Vec<f32> {
        vec![
            50.0, 60.0, 20.0, 40.0, 0.9, 0.1, 0.8, 0.2, // class 1, score 0.72
            10.0, 10.0, 4.0, 4.0, 0.2, 0.9, 0.0, 0.0, // score 0.18
        ]
    }

    /// The same predictions in the transposed, objectness-folded layout.
    fn columns() -> Vec<f32> {
        let r = rows();
        let (a, b) = (&r[..8], &r[8..]);
        let mut out = Vec::new();
        for ch in 0..4 {
            out.extend([a[ch], b[ch]]);
        }
        for k in 0..3 {
            out.extend([a[4] * a[5 + k], b[4] * b[5 + k]]);
        }
        out
    }

    #[test]
    fn decodes_objectness_rows() {
        let got = decode_output(&rows(), OutputLayout::RowsWithObjectness { classes: 3 }, &all(0.25));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].class_id, 1);
        assert!((got[0].score - 0.72).abs() < 1e-6);
        assert_eq!(got[0].bbox, BBox::new(40.0, 40.0, 60.0, 80.0));
    }

    #[test]
    fn both_layouts_agree() {
        let a = decode_output(&rows(), OutputLayout::RowsWithObjectness { classes: 3 }, &all(0.1));
        let b = decode_output(&columns(), OutputLayout::ColumnsNoObjectness { classes: 3 }, &all(0.1));
        assert_eq!(a.len(), 2);
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.class_id, y.class_id);
            assert!((x.score - y.score).abs() < 1e-6);
            assert_eq!(x.bbox, y.bbox);
        }
    }

    #[test]
    fn class_filter_drops_other_classes() {
        let params = OutputParams {
            confidence: 0.1,
            allowed: Some(vec![true, false, false]),
        };
        let got = decode_output(&rows(), OutputLayout::RowsWithObjectness { classes: 3 }, &params);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].class_id, 0);
    }

    #[test]
    fn degenerate_boxes_are_dropped() {
        let data = vec![5.0, 5.0, 0.0, 3.0, 0.99, 1.0];
        assert!(decode_output(&data, OutputLayout::RowsWithObjectness { classes: 1 }, &all(0.1)).is_empty());
    }
}
