//! Plane geometry on normalised picture coordinates (0..1, y down): which side of a line a point
//! is on, whether it is inside a polygon, whether a polygon's edges cross.

pub type Point = [f32; 2];

/// Twice the signed area of (a, b, p): positive when p is to the right of a→b as seen in the
/// picture (y grows downwards), negative to its left, 0 on the line.
pub fn cross(a: Point, b: Point, p: Point) -> f32 {
    (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
}

/// Where p's projection falls along a→b: 0 at a, 1 at b.
pub fn along(a: Point, b: Point, p: Point) -> f32 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    if len2 == 0.0 {
        return 0.0;
    }
    ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2
}

/// Even-odd rule: right for concave polygons too.
pub fn inside(polygon: &[Point], p: Point) -> bool {
    let mut inside = false;
    let mut j = polygon.len().wrapping_sub(1);
    for (i, &a) in polygon.iter().enumerate() {
        let b = polygon[j];
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1]);
            if p[0] < x {
                inside = !inside;
            }
        }
        j = i;
    }
    inside
}

/// Whether segments p1p2 and q1q2 cross or touch.
fn segments_meet(p1: Point, p2: Point, q1: Point, q2: Point) -> bool {
    let d1 = cross(q1, q2, p1);
    let d2 = cross(q1, q2, p2);
    let d3 = cross(p1, p2, q1);
    let d4 = cross(p1, p2, q2);
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0)) && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0)) {
        return true;
    }
    let on = |a: Point, b: Point, p: Point, d: f32| {
        d == 0.0 && p[0] >= a[0].min(b[0]) && p[0] <= a[0].max(b[0]) && p[1] >= a[1].min(b[1]) && p[1] <= a[1].max(b[1])
    };
    on(q1, q2, p1, d1) || on(q1, q2, p2, d2) || on(p1, p2, q1, d3) || on(p1, p2, q2, d4)
}

/// The first two edges of a closed polygon that cross (edge i runs from point i to point i+1),
/// if any. Neighbouring edges share a point and are not counted as crossing.
pub fn self_crossing(polygon: &[Point]) -> Option<(usize, usize)> {
    let n = polygon.len();
    let edge = |i: usize| (polygon[i], polygon[(i + 1) % n]);
    for i in 0..n {
        for j in i + 1..n {
            let neighbours = j == i + 1 || (i == 0 && j == n - 1);
            if neighbours {
                continue;
            }
            let ((a, b), (c, d)) = (edge(i), edge(j));
            if segments_meet(a, b, c, d) {
                return Some((i, j));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_follow_the_picture() {
        // A line drawn left to right: below it (larger y) is its right-hand side.
        assert!(cross([0.0, 0.5], [1.0, 0.5], [0.5, 0.6]) > 0.0);
        assert!(cross([0.0, 0.5], [1.0, 0.5], [0.5, 0.4]) < 0.0);
        assert_eq!(along([0.0, 0.5], [1.0, 0.5], [0.25, 0.9]), 0.25);
    }

    #[test]
    fn concave_polygons_have_their_notch_outside() {
        // A "U": the notch between its arms is outside.
        let u = [
            [0.1, 0.1],
            [0.3, 0.1],
            [0.3, 0.6],
            [0.7, 0.6],
            [0.7, 0.1],
            [0.9, 0.1],
            [0.9, 0.9],
            [0.1, 0.9],
        ];
        assert!(inside(&u, [0.2, 0.3]));
        assert!(inside(&u, [0.8, 0.3]));
        assert!(inside(&u, [0.5, 0.8]));
        assert!(!inside(&u, [0.5, 0.3]));
        assert!(!inside(&u, [0.95, 0.5]));
        assert_eq!(self_crossing(&u), None);
    }

    #[test]
    fn a_bow_tie_crosses_itself() {
        let bow = [[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]];
        assert_eq!(self_crossing(&bow), Some((0, 2)));
        assert_eq!(self_crossing(&[[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]), None);
    }
}
