//! Class-aware non-maximum suppression.

use super::output::Candidate;

/// Keeps the best-scoring box of each cluster of boxes of the same class overlapping by more than
/// `iou`. Boxes of different classes never suppress each other. At most `max_out` survive, best
/// first; only the `max_in` best candidates are considered, which bounds the quadratic work on
/// a pathological output.
pub fn nms(mut candidates: Vec<Candidate>, iou: f32, max_in: usize, max_out: usize) -> Vec<Candidate> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    candidates.truncate(max_in);
    let mut kept: Vec<Candidate> = Vec::new();
    for c in candidates {
        if kept.len() == max_out {
            break;
        }
        let suppressed = kept
            .iter()
            .any(|k| k.class_id == c.class_id && k.bbox.iou(&c.bbox) > iou);
        if !suppressed {
            kept.push(c);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::geometry::BBox;

    fn cand(class_id: usize, score: f32, x: f32) -> Candidate {
        Candidate {
            class_id,
            score,
            bbox: BBox::new(x, 0.0, x + 10.0, 10.0),
        }
    }

    #[test]
    fn overlapping_boxes_of_one_class_keep_the_best() {
        let out = nms(
            vec![cand(0, 0.5, 1.0), cand(0, 0.9, 0.0), cand(0, 0.7, 2.0)],
            0.45,
            100,
            100,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].score, 0.9);
    }

    #[test]
    fn overlapping_boxes_of_different_classes_both_stay() {
        let out = nms(vec![cand(0, 0.9, 0.0), cand(1, 0.8, 0.0)], 0.45, 100, 100);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn threshold_is_respected() {
        // IoU of boxes shifted by 5 of 10 is 1/3: kept at 0.45, suppressed at 0.3.
        let input = vec![cand(0, 0.9, 0.0), cand(0, 0.8, 5.0)];
        assert_eq!(nms(input.clone(), 0.45, 100, 100).len(), 2);
        assert_eq!(nms(input, 0.3, 100, 100).len(), 1);
    }

    #[test]
    fn output_is_sorted_and_capped() {
        let input: Vec<_> = (0..10).map(|i| cand(0, i as f32 / 10.0, i as f32 * 100.0)).collect();
        let out = nms(input, 0.45, 100, 3);
        let scores: Vec<f32> = out.iter().map(|c| c.score).collect();
        assert_eq!(scores, vec![0.9, 0.8, 0.7]);
    }
}
