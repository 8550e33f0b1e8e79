//! How closely a candidate model's detections agree with a reference model's on the same
//! pictures: boxes matched one to one (same class, IoU ≥ 0.5), then recall and precision at each
//! confidence threshold, per class. This is the accuracy gate a faster model must pass before it
//! may become the default.

use std::collections::BTreeMap;

use super::Detection;

/// Boxes of the same class overlapping at least this much are the same object.
pub const MATCH_IOU: f32 = 0.5;
/// The thresholds agreement is reported at: every box the detector keeps by default, and the
/// confident ones.
pub const THRESHOLDS: [f32; 2] = [0.25, 0.5];

/// `matched` of `total`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Share {
    pub matched: u64,
    pub total: u64,
}

impl Share {
    /// 1 when there is nothing to match: no box missed, none made up.
    pub fn ratio(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.matched as f64 / self.total as f64
        }
    }

    fn add(&mut self, matched: bool) {
        self.total += 1;
        self.matched += u64::from(matched);
    }

    fn merge(&mut self, other: Share) {
        self.total += other.total;
        self.matched += other.matched;
    }
}

/// One class's figures, at each of [`THRESHOLDS`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassAgreement {
    /// Reference boxes at or above the threshold that the candidate found.
    pub recall: [Share; 2],
    /// Candidate boxes at or above the threshold that the reference has.
    pub precision: [Share; 2],
}

impl ClassAgreement {
    fn merge(&mut self, other: &ClassAgreement) {
        for i in 0..THRESHOLDS.len() {
            self.recall[i].merge(other.recall[i]);
            self.precision[i].merge(other.precision[i]);
        }
    }

    /// Whether recall and precision reach `minimum[i]` at `THRESHOLDS[i]`.
    pub fn reaches(&self, minimum: [f64; 2]) -> bool {
        (0..THRESHOLDS.len()).all(|i| self.recall[i].ratio() >= minimum[i] && self.precision[i].ratio() >= minimum[i])
    }
}

/// Agreement summed over pictures.
#[derive(Debug, Clone, Default)]
pub struct Agreement {
    pub classes: BTreeMap<u16, ClassAgreement>,
}

impl Agreement {
    /// One picture's detections from both models (all of them, at the lowest threshold).
    pub fn add(&mut self, reference: &[Detection], candidate: &[Detection]) {
        let matched = match_boxes(reference, candidate);
        for (r, m) in reference.iter().zip(&matched.reference) {
            let class = self.classes.entry(r.class_id).or_default();
            for (i, t) in THRESHOLDS.iter().enumerate() {
                if r.confidence >= *t {
                    class.recall[i].add(*m);
                }
            }
        }
        for (c, m) in candidate.iter().zip(&matched.candidate) {
            let class = self.classes.entry(c.class_id).or_default();
            for (i, t) in THRESHOLDS.iter().enumerate() {
                if c.confidence >= *t {
                    class.precision[i].add(*m);
                }
            }
        }
    }

    /// Every class together.
    pub fn pooled(&self) -> ClassAgreement {
        let mut all = ClassAgreement::default();
        for c in self.classes.values() {
            all.merge(c);
        }
        all
    }
}

struct Matched {
    reference: Vec<bool>,
    candidate: Vec<bool>,
}

/// One-to-one matching, most overlapping pairs first, so a box can stand for one object only.
fn match_boxes(reference: &[Detection], candidate: &[Detection]) -> Matched {
    let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
    for (i, r) in reference.iter().enumerate() {
        for (j, c) in candidate.iter().enumerate() {
            let iou = r.bbox.iou(&c.bbox);
            if r.class_id == c.class_id && iou >= MATCH_IOU {
                pairs.push((iou, i, j));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
    let mut matched = Matched {
        reference: vec![false; reference.len()],
        candidate: vec![false; candidate.len()],
    };
    for (_, i, j) in pairs {
        if !matched.reference[i] && !matched.candidate[j] {
            matched.reference[i] = true;
            matched.candidate[j] = true;
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::BBox;

    fn det(class_id: u16, confidence: f32, x: f32) -> Detection {
        Detection {
            class_id,
            confidence,
            bbox: BBox::new(x, 0.0, x + 10.0, 10.0),
        }
    }

    #[test]
    fn boxes_match_one_to_one_by_class_and_overlap() {
        let mut a = Agreement::default();
        // The same two people; a dog the candidate calls a cat; a faint box only the candidate has.
        let reference = [det(0, 0.9, 0.0), det(0, 0.3, 100.0), det(16, 0.8, 200.0)];
        let candidate = [
            det(0, 0.85, 1.0),
            det(0, 0.28, 101.0),
            det(15, 0.8, 200.0),
            det(0, 0.3, 300.0),
        ];
        a.add(&reference, &candidate);
        let person = a.classes[&0];
        assert_eq!(person.recall[0], Share { matched: 2, total: 2 });
        assert_eq!(person.recall[1], Share { matched: 1, total: 1 });
        assert_eq!(person.precision[0], Share { matched: 2, total: 3 });
        assert_eq!(person.precision[1], Share { matched: 1, total: 1 });
        assert_eq!(a.classes[&16].recall[0].ratio(), 0.0, "a cat is not a dog");
        let all = a.pooled();
        assert_eq!((all.recall[0].total, all.precision[0].total), (3, 4));
        assert!(!all.reaches([0.95, 0.98]));

        // Two candidate boxes on one reference box: one matches, the other is extra.
        let mut twice = Agreement::default();
        twice.add(&[det(0, 0.9, 0.0)], &[det(0, 0.9, 0.0), det(0, 0.8, 1.0)]);
        assert_eq!(twice.pooled().precision[0], Share { matched: 1, total: 2 });
    }

    #[test]
    fn identical_detections_agree_fully() {
        let boxes = [det(0, 0.9, 0.0), det(2, 0.4, 50.0)];
        let mut a = Agreement::default();
        a.add(&boxes, &boxes);
        a.add(&[], &[]);
        assert!(a.pooled().reaches([1.0, 1.0]));
    }
}
