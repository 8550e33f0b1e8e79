//! Constant-velocity Kalman filter for one box, in the SORT/ByteTrack state space.
//!
//! State (8): centre x, centre y, aspect ratio (w / h), height, and their per-frame velocities.
//! Measurement (4): the first four. Process and measurement noise scale with the box height, so a
//! 400 px person and a 20 px car are equally "surprised" by the same relative motion. Arithmetic is
//! f64 and fixed-size so one step allocates nothing.

// Small fixed-size matrix algebra reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

use crate::detect::BBox;

/// Position noise per unit of box height (the usual SORT/ByteTrack weight).
const STD_POSITION: f64 = 1.0 / 20.0;
/// Velocity noise per unit of box height (the usual SORT/ByteTrack weight).
const STD_VELOCITY: f64 = 1.0 / 160.0;
/// Boxes never shrink below this many pixels a side when read back out of the filter.
const MIN_SIDE: f64 = 1.0;

type Vec4 = [f64; 4];
type Mat8 = [[f64; 8]; 8];

/// A box's measurement vector: (cx, cy, w / h, h). The caller guarantees h > 0.
fn measurement(b: &BBox) -> Vec4 {
    let (x1, y1, x2, y2) = (b.x1 as f64, b.y1 as f64, b.x2 as f64, b.y2 as f64);
    let h = y2 - y1;
    [(x1 + x2) / 2.0, (y1 + y2) / 2.0, (x2 - x1) / h, h]
}

#[derive(Debug, Clone)]
pub(crate) struct KalmanBox {
    mean: [f64; 8],
    cov: Mat8,
}

impl KalmanBox {
    /// A new filter at `b`, velocity unknown (zero mean, wide variance).
    pub(crate) fn new(b: &BBox) -> Self {
        let z = measurement(b);
        let h = z[3].abs().max(MIN_SIDE);
        let (p, v) = (STD_POSITION * h, STD_VELOCITY * h);
        let std = [2.0 * p, 2.0 * p, 1e-2, 2.0 * p, 10.0 * v, 10.0 * v, 1e-5, 10.0 * v];
        let mut cov = [[0.0; 8]; 8];
        for i in 0..8 {
            cov[i][i] = std[i] * std[i];
        }
        Self {
            mean: [z[0], z[1], z[2], z[3], 0.0, 0.0, 0.0, 0.0],
            cov,
        }
    }

    /// Advances one frame. `freeze_height` zeroes the height velocity first: a track that is not
    /// being observed should not keep growing or shrinking (ByteTrack does the same for lost tracks).
    pub(crate) fn predict(&mut self, freeze_height: bool) {
        if freeze_height {
            self.mean[7] = 0.0;
        }
        let h = self.mean[3].abs().max(MIN_SIDE);
        let (p, v) = (STD_POSITION * h, STD_VELOCITY * h);
        let q = [p, p, 1e-2, p, v, v, 1e-5, v];
        for i in 0..4 {
            self.mean[i] += self.mean[i + 4];
        }
        // P <- F P F^T + Q with F = [[I, I], [0, I]], done as two block row/column additions.
        let c = &mut self.cov;
        for i in 0..4 {
            for j in 0..8 {
                c[i][j] += c[i + 4][j];
            }
        }
        for row in c.iter_mut() {
            for j in 0..4 {
                row[j] += row[j + 4];
            }
        }
        for i in 0..8 {
            c[i][i] += q[i] * q[i];
        }
    }

    /// Corrects with an observed box. A numerically broken filter (non-SPD innovation) restarts
    /// at the observation rather than poisoning the track with NaNs.
    pub(crate) fn update(&mut self, b: &BBox) {
        let z = measurement(b);
        let h = self.mean[3].abs().max(MIN_SIDE);
        let p = STD_POSITION * h;
        let r = [p * p, p * p, 1e-1 * 1e-1, p * p];
        let mut s = [[0.0; 4]; 4];
        for i in 0..4 {
            for j in 0..4 {
                s[i][j] = self.cov[i][j];
            }
            s[i][i] += r[i];
        }
        let Some(l) = cholesky4(&s) else {
            *self = Self::new(b);
            return;
        };
        let innovation = [
            z[0] - self.mean[0],
            z[1] - self.mean[1],
            z[2] - self.mean[2],
            z[3] - self.mean[3],
        ];
        // K = P H^T S^-1 with H = [I 0], so P H^T is P's first four columns.
        let s_inv_y = chol_solve(&l, &innovation);
        // X = S^-1 P[0..4, :]; then P <- P - P[:, 0..4] X  (= P - K S K^T).
        let mut x = [[0.0; 8]; 4];
        for j in 0..8 {
            let col = chol_solve(&l, &[self.cov[0][j], self.cov[1][j], self.cov[2][j], self.cov[3][j]]);
            for k in 0..4 {
                x[k][j] = col[k];
            }
        }
        let mut new_cov = self.cov;
        for i in 0..8 {
            self.mean[i] += (0..4).map(|k| self.cov[i][k] * s_inv_y[k]).sum::<f64>();
            for j in 0..8 {
                new_cov[i][j] -= (0..4).map(|k| self.cov[i][k] * x[k][j]).sum::<f64>();
            }
        }
        // Keep it exactly symmetric so rounding cannot accumulate into asymmetry.
        for i in 0..8 {
            for j in (i + 1)..8 {
                let m = 0.5 * (new_cov[i][j] + new_cov[j][i]);
                new_cov[i][j] = m;
                new_cov[j][i] = m;
            }
        }
        if self.mean.iter().all(|v| v.is_finite()) && new_cov.iter().flatten().all(|v| v.is_finite()) {
            self.cov = new_cov;
        } else {
            *self = Self::new(b);
        }
    }

    /// The filter's current box (at least `MIN_SIDE` a side).
    pub(crate) fn bbox(&self) -> BBox {
        let h = self.mean[3].max(MIN_SIDE);
        let w = (self.mean[2] * h).max(MIN_SIDE);
        BBox::from_cxcywh(self.mean[0] as f32, self.mean[1] as f32, w as f32, h as f32)
    }

    /// Per-frame centre velocity, (vx, vy).
    #[cfg(test)]
    pub(crate) fn velocity(&self) -> (f64, f64) {
        (self.mean[4], self.mean[5])
    }
}

/// Lower-triangular L with L L^T = S, or None when S is not positive definite.
fn cholesky4(s: &[[f64; 4]; 4]) -> Option<[[f64; 4]; 4]> {
    let mut l = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..=i {
            let sum: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = s[i][i] - sum;
                if d <= 0.0 || !d.is_finite() {
                    return None;
                }
                l[i][j] = d.sqrt();
            } else {
                l[i][j] = (s[i][j] - sum) / l[j][j];
            }
        }
    }
    Some(l)
}

/// Solves L L^T x = b.
fn chol_solve(l: &[[f64; 4]; 4], b: &Vec4) -> Vec4 {
    let mut y = [0.0; 4];
    for i in 0..4 {
        y[i] = (b[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = [0.0; 4];
    for i in (0..4).rev() {
        x[i] = (y[i] - ((i + 1)..4).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_constant_velocity_and_extrapolates_it() {
        let truth = |t: f32| BBox::from_cxcywh(100.0 + 4.0 * t, 200.0 - 2.0 * t, 40.0, 80.0);
        let mut kf = KalmanBox::new(&truth(0.0));
        for t in 1..30 {
            kf.predict(false);
            kf.update(&truth(t as f32));
        }
        let (vx, vy) = kf.velocity();
        // 30 noiseless observations: the velocity should be known to well under a pixel per frame.
        assert!(
            (vx - 4.0).abs() < 0.2 && (vy + 2.0).abs() < 0.2,
            "velocity ({vx}, {vy})"
        );
        for t in 30..40 {
            kf.predict(false);
            let b = kf.bbox();
            let want = truth(t as f32);
            // Ten blind frames at a ≤0.2 px/frame velocity error: ≤2 px drift, allow 3.
            assert!(((b.x1 + b.x2) / 2.0 - (want.x1 + want.x2) / 2.0).abs() < 3.0);
            assert!(((b.y1 + b.y2) / 2.0 - (want.y1 + want.y2) / 2.0).abs() < 3.0);
            assert!((b.height() - 80.0).abs() < 1.0 && (b.width() - 40.0).abs() < 1.0);
        }
    }

    #[test]
    fn covariance_stays_finite_and_symmetric_over_many_steps() {
        let mut kf = KalmanBox::new(&BBox::new(0.0, 0.0, 10.0, 20.0));
        for t in 0..10_000 {
            kf.predict(t % 7 == 0);
            if t % 3 == 0 {
                kf.update(&BBox::new(t as f32 * 0.1, 0.0, t as f32 * 0.1 + 10.0, 20.0));
            }
        }
        for i in 0..8 {
            assert!(kf.mean[i].is_finite());
            for j in 0..8 {
                assert!(kf.cov[i][j].is_finite());
                assert!((kf.cov[i][j] - kf.cov[j][i]).abs() <= 1e-9 * kf.cov[i][j].abs().max(1.0));
            }
        }
    }
}
