//! Optimal assignment: the Hungarian algorithm (shortest augmenting paths with potentials, the
//! Jonker-Volgenant formulation, O(n² m) for n ≤ m) and the gated matching the tracker uses.

/// A dense rows × cols cost matrix, row-major. `f64::INFINITY` (or any non-finite value) marks a
/// pair that may never be matched.
#[derive(Debug, Clone)]
pub struct CostMatrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl CostMatrix {
    #[cfg(test)]
    /// A matrix with every pair forbidden.
    pub fn forbidden(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![f64::INFINITY; rows * cols],
        }
    }

    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> f64) -> Self {
        let mut data = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            for c in 0..cols {
                data.push(f(r, c));
            }
        }
        Self { rows, cols, data }
    }

    #[cfg(test)]
    pub fn rows(&self) -> usize {
        self.rows
    }

    #[cfg(test)]
    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn get(&self, r: usize, c: usize) -> f64 {
        self.data[r * self.cols + c]
    }

    #[cfg(test)]
    pub fn set(&mut self, r: usize, c: usize, v: f64) {
        self.data[r * self.cols + c] = v;
    }
}

/// The result of a gated matching: matched (row, col) pairs and what was left over, each sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matching {
    pub pairs: Vec<(usize, usize)>,
    pub unmatched_rows: Vec<usize>,
    pub unmatched_cols: Vec<usize>,
}

/// Minimum-cost assignment of a rectangular matrix whose entries are all finite. Returns, for each
/// row, its column; with more rows than columns, `rows - cols` rows get `None`.
pub fn hungarian(cost: &CostMatrix) -> Vec<Option<usize>> {
    let (n, m) = (cost.rows, cost.cols);
    if n == 0 || m == 0 {
        return vec![None; n];
    }
    if n > m {
        // Solve the transpose (the algorithm wants rows ≤ columns) and invert the answer.
        let t = CostMatrix::from_fn(m, n, |r, c| cost.get(c, r));
        let mut out = vec![None; n];
        for (col, row) in hungarian(&t).into_iter().enumerate() {
            if let Some(row) = row {
                out[row] = Some(col);
            }
        }
        return out;
    }
    // 1-based with a virtual column 0, as in the classic presentation: p[j] is the row holding
    // column j (0 = free), u/v are the dual potentials, way[j] the previous column on the path.
    let mut u = vec![0.0f64; n + 1];
    let mut v = vec![0.0f64; m + 1];
    let mut p = vec![0usize; m + 1];
    let mut way = vec![0usize; m + 1];
    let mut minv = vec![0.0f64; m + 1];
    let mut used = vec![false; m + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0usize;
        minv.iter_mut().for_each(|x| *x = f64::INFINITY);
        used.iter_mut().for_each(|x| *x = false);
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0usize;
            for j in 1..=m {
                if used[j] {
                    continue;
                }
                let cur = cost.get(i0 - 1, j - 1) - u[i0] - v[j];
                if cur < minv[j] {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if minv[j] < delta {
                    delta = minv[j];
                    j1 = j;
                }
            }
            if j1 == 0 {
                // Only reachable with non-finite costs, which callers must not pass; bail out
                // with a partial answer rather than loop forever.
                debug_assert!(false, "hungarian() needs finite costs");
                break;
            }
            for j in 0..=m {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        // Flip the augmenting path.
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut out = vec![None; n];
    for j in 1..=m {
        if p[j] != 0 {
            out[p[j] - 1] = Some(j - 1);
        }
    }
    out
}

/// Matches rows to columns, using only pairs with cost `< max_cost`, minimising
/// `Σ matched cost + max_cost/2 × (unmatched rows + unmatched cols)`: the `cost_limit` rule of
/// lapjv that ByteTrack uses. A pair is worth taking only if it beats leaving both ends alone, so
/// one excellent match is not traded for two mediocre ones (a max-cardinality rule would do that).
///
/// Rows and columns are first split into connected components of the allowed-pair graph, so a
/// crowd of well-separated objects costs a handful of tiny problems, not one big cubic one.
pub fn gated_assignment(cost: &CostMatrix, max_cost: f64) -> Matching {
    let (n, m) = (cost.rows, cost.cols);
    let allowed = |r: usize, c: usize| {
        let x = cost.get(r, c);
        x.is_finite() && x < max_cost
    };

    // Union-find over rows (0..n) and columns (n..n+m).
    let mut parent: Vec<usize> = (0..n + m).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    let mut has_edge = vec![false; n + m];
    for r in 0..n {
        for c in 0..m {
            if allowed(r, c) {
                has_edge[r] = true;
                has_edge[n + c] = true;
                let (a, b) = (find(&mut parent, r), find(&mut parent, n + c));
                if a != b {
                    parent[a] = b;
                }
            }
        }
    }

    let mut out = Matching::default();
    // Group by component root; isolated nodes are unmatched outright.
    let mut comp_rows: std::collections::HashMap<usize, (Vec<usize>, Vec<usize>)> = Default::default();
    for (r, &linked) in has_edge.iter().enumerate().take(n) {
        if linked {
            let root = find(&mut parent, r);
            comp_rows.entry(root).or_default().0.push(r);
        } else {
            out.unmatched_rows.push(r);
        }
    }
    for c in 0..m {
        if has_edge[n + c] {
            let root = find(&mut parent, n + c);
            comp_rows.entry(root).or_default().1.push(c);
        } else {
            out.unmatched_cols.push(c);
        }
    }

    for (rows, cols) in comp_rows.into_values() {
        if rows.len() == 1 && cols.len() == 1 {
            out.pairs.push((rows[0], cols[0]));
            continue;
        }
        // Allowed pairs cost (c - max_cost) < 0, forbidden ones 0. A full row (or column)
        // assignment of this matrix, with its zero-cost pairs dropped, is an optimal partial
        // matching: any partial matching extends to a full one without raising its cost, and the
        // objective above equals Σ (c - max_cost) over matched pairs plus a constant.
        let sub = CostMatrix::from_fn(rows.len(), cols.len(), |i, j| {
            if allowed(rows[i], cols[j]) {
                cost.get(rows[i], cols[j]) - max_cost
            } else {
                0.0
            }
        });
        let assigned = hungarian(&sub);
        let mut col_taken = vec![false; cols.len()];
        for (i, a) in assigned.into_iter().enumerate() {
            match a {
                Some(j) if allowed(rows[i], cols[j]) => {
                    col_taken[j] = true;
                    out.pairs.push((rows[i], cols[j]));
                }
                _ => out.unmatched_rows.push(rows[i]),
            }
        }
        out.unmatched_cols
            .extend(cols.iter().zip(col_taken).filter(|(_, t)| !t).map(|(c, _)| *c));
    }
    out.pairs.sort_unstable();
    out.unmatched_rows.sort_unstable();
    out.unmatched_cols.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::track::testkit::XorShift;

    fn total(cost: &CostMatrix, a: &[Option<usize>]) -> f64 {
        a.iter()
            .enumerate()
            .filter_map(|(r, c)| c.map(|c| cost.get(r, c)))
            .sum()
    }

    /// Minimum over all injective maps of the smaller side into the larger.
    fn brute_force(cost: &CostMatrix) -> f64 {
        fn rec(cost: &CostMatrix, r: usize, used: &mut Vec<bool>, transpose: bool) -> f64 {
            let (n, m) = if transpose {
                (cost.cols(), cost.rows())
            } else {
                (cost.rows(), cost.cols())
            };
            if r == n {
                return 0.0;
            }
            let mut best = f64::INFINITY;
            for c in 0..m {
                if !used[c] {
                    used[c] = true;
                    let x = if transpose { cost.get(c, r) } else { cost.get(r, c) };
                    best = best.min(x + rec(cost, r + 1, used, transpose));
                    used[c] = false;
                }
            }
            best
        }
        let transpose = cost.rows() > cost.cols();
        let m = cost.rows().max(cost.cols());
        rec(cost, 0, &mut vec![false; m], transpose)
    }

    /// Best gated objective over every partial matching of allowed pairs.
    fn brute_force_gated(cost: &CostMatrix, max_cost: f64) -> f64 {
        fn rec(cost: &CostMatrix, max_cost: f64, r: usize, used: &mut Vec<bool>) -> f64 {
            if r == cost.rows() {
                return 0.0;
            }
            // Leave row r unmatched…
            let mut best = rec(cost, max_cost, r + 1, used);
            // …or give it any free allowed column.
            for c in 0..cost.cols() {
                let x = cost.get(r, c);
                if !used[c] && x.is_finite() && x < max_cost {
                    used[c] = true;
                    best = best.min(x - max_cost + rec(cost, max_cost, r + 1, used));
                    used[c] = false;
                }
            }
            best
        }
        rec(cost, max_cost, 0, &mut vec![false; cost.cols()])
    }

    #[test]
    fn hungarian_matches_brute_force_on_random_rectangular_matrices() {
        let mut rng = XorShift::new(0x5eed);
        for _ in 0..2000 {
            let n = 1 + rng.below(6);
            let m = 1 + rng.below(6);
            // Small integers make ties common, which is where broken implementations show.
            let integer = rng.below(2) == 0;
            let cost = CostMatrix::from_fn(n, m, |_, _| {
                if integer {
                    rng.below(5) as f64
                } else {
                    rng.uniform(-3.0, 10.0) as f64
                }
            });
            let a = hungarian(&cost);
            assert_eq!(a.len(), n);
            let assigned: Vec<usize> = a.iter().flatten().copied().collect();
            assert_eq!(assigned.len(), n.min(m), "every row (or column) is assigned");
            let mut dedup = assigned.clone();
            dedup.sort_unstable();
            dedup.dedup();
            assert_eq!(dedup.len(), assigned.len(), "no column used twice");
            let want = brute_force(&cost);
            assert!(
                (total(&cost, &a) - want).abs() < 1e-9,
                "{n}x{m}: got {} want {want}",
                total(&cost, &a)
            );
        }
    }

    #[test]
    fn gated_assignment_matches_brute_force_over_partial_matchings() {
        let mut rng = XorShift::new(42);
        for _ in 0..2000 {
            let n = rng.below(7);
            let m = rng.below(7);
            let cost = CostMatrix::from_fn(n, m, |_, _| {
                if rng.below(3) == 0 {
                    f64::INFINITY
                } else {
                    rng.uniform(0.0, 1.0) as f64
                }
            });
            let max_cost = 0.8;
            let got = gated_assignment(&cost, max_cost);
            let value: f64 = got.pairs.iter().map(|&(r, c)| cost.get(r, c) - max_cost).sum();
            assert!((value - brute_force_gated(&cost, max_cost)).abs() < 1e-9);
            for &(r, c) in &got.pairs {
                assert!(cost.get(r, c) < max_cost);
            }
            // Every row and column is accounted for exactly once.
            let mut rows: Vec<usize> = got
                .pairs
                .iter()
                .map(|p| p.0)
                .chain(got.unmatched_rows.clone())
                .collect();
            let mut cols: Vec<usize> = got
                .pairs
                .iter()
                .map(|p| p.1)
                .chain(got.unmatched_cols.clone())
                .collect();
            rows.sort_unstable();
            cols.sort_unstable();
            assert_eq!(rows, (0..n).collect::<Vec<_>>());
            assert_eq!(cols, (0..m).collect::<Vec<_>>());
        }
    }

    #[test]
    fn one_good_match_beats_two_mediocre_ones() {
        // Row 0 fits column 0 very well; the alternative pairs both rows mediocrely.
        let mut cost = CostMatrix::forbidden(2, 2);
        cost.set(0, 0, 0.1);
        cost.set(0, 1, 0.7);
        cost.set(1, 0, 0.75);
        let got = gated_assignment(&cost, 0.8);
        assert_eq!(got.pairs, vec![(0, 0)]);
        assert_eq!(got.unmatched_rows, vec![1]);
        assert_eq!(got.unmatched_cols, vec![1]);
    }

    #[test]
    fn empty_inputs() {
        assert_eq!(hungarian(&CostMatrix::forbidden(3, 0)), vec![None; 3]);
        let got = gated_assignment(&CostMatrix::forbidden(0, 4), 0.5);
        assert!(got.pairs.is_empty() && got.unmatched_cols == vec![0, 1, 2, 3]);
    }
}
