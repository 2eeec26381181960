//! Weighted linear least squares with an intercept and an optional ridge penalty: the surrogate
//! model of LIME (scikit-learn `Ridge(alpha=1)`) and KernelSHAP (`LinearRegression`, i.e.
//! `alpha = 0`). Minimises `Σ w_i (y_i − b − x_i·β)² + α‖β‖²` by centring on the weighted means
//! and solving the normal equations by Cholesky, in f64. Samples are folded one at a time into
//! running sums ([`NormalEquations`]), so memory is `O(m²)` however many samples there are.

/// Coefficients per feature and the intercept.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct LinearFit {
    pub coefficients: Vec<f64>,
    pub intercept: f64,
}

/// The sufficient statistics of a weighted linear fit of `m` features: `Σw`, `Σw·x`, `Σw·y`,
/// `Σw·y²`, `Σw·x·xᵀ` and `Σw·x·y`, over the samples folded in by [`Self::add`].
///
/// The sums are taken about the first sample (`x − x₀`, `y − y₀`): centring is the same for any
/// shift, and sums about a point inside the data lose far fewer digits to cancellation than sums
/// about zero when the means are large next to the spread (scores of 100 ± 0.01).
#[derive(Clone, Debug)]
pub(super) struct NormalEquations {
    features: usize,
    /// `x₀` and `y₀`; `None` until the first sample.
    shift: Option<(Vec<f64>, f64)>,
    weight: f64,
    wx: Vec<f64>,
    wy: f64,
    wyy: f64,
    /// `Σw·x·xᵀ`, `m × m` row-major; only the upper triangle is summed.
    wxx: Vec<f64>,
    wxy: Vec<f64>,
}

impl NormalEquations {
    pub fn new(features: usize) -> Self {
        Self {
            features,
            shift: None,
            weight: 0.0,
            wx: vec![0.0; features],
            wy: 0.0,
            wyy: 0.0,
            wxx: vec![0.0; features * features],
            wxy: vec![0.0; features],
        }
    }

    /// Folds in one sample: features `x` (`m` values), target `y`, weight `w`.
    #[allow(clippy::similar_names)] // wx, wy, wxx, wxy: the sums' names
    pub fn add(&mut self, x: &[f64], y: f64, w: f64) {
        let m = self.features;
        debug_assert_eq!(x.len(), m, "a sample of {} features for {m}", x.len());
        let (x0, y0) = self.shift.get_or_insert_with(|| (x.to_vec(), y));
        let y = y - *y0;
        self.weight += w;
        self.wy += w * y;
        self.wyy += w * y * y;
        for a in 0..m {
            let xa = x[a] - x0[a];
            // On/off rows are mostly unchanged from x₀: skip what adds zero.
            if xa == 0.0 {
                continue;
            }
            let wa = w * xa;
            self.wx[a] += wa;
            self.wxy[a] += wa * y;
            for b in a..m {
                self.wxx[a * m + b] += wa * (x[b] - x0[b]);
            }
        }
    }

    /// Solves the centred normal equations `(Xcᵀ W Xc + αI) β = Xcᵀ W yc` (`Xc = X − x̄`), centred
    /// algebraically: `Xcᵀ W Xc = Σw·x·xᵀ − (Σw·x)(Σw·x)ᵀ / Σw`, `Xcᵀ W yc = Σw·x·y −
    /// (Σw·x)(Σw·y) / Σw`; see [`solve`]. `None` without samples of positive, finite total weight.
    pub fn fit(&self, alpha: f64) -> Option<LinearFit> {
        let m = self.features;
        let total = self.weight;
        let Some((x0, y0)) = &self.shift else {
            return None;
        };
        if !(total > 0.0 && total.is_finite()) {
            return None;
        }
        let x_mean: Vec<f64> = x0
            .iter()
            .zip(&self.wx)
            .map(|(x0, s)| x0 + s / total)
            .collect();
        let y_mean = y0 + self.wy / total;
        let mut gram = vec![0.0; m * m];
        for a in 0..m {
            for b in a..m {
                let c = self.wxx[a * m + b] - self.wx[a] * self.wx[b] / total;
                gram[a * m + b] = c;
                gram[b * m + a] = c;
            }
        }
        let rhs: Vec<f64> = (0..m)
            .map(|a| self.wxy[a] - self.wx[a] * self.wy / total)
            .collect();
        solve(&gram, &rhs, &x_mean, y_mean, alpha)
    }

    /// Weighted R² of `fit` on the folded samples, `1 − SS_res / SS_tot` (1 when the scores do not
    /// vary). With `d = x − x₀`, `e = y − y₀` and `c = y₀ − b − x₀·β`, the residual is `e − d·β + c`:
    /// `SS_res = Σw e² − 2 βᵀ Σw d e + βᵀ (Σw d dᵀ) β + 2c (Σw e − βᵀ Σw d) + c² Σw`, and
    /// `SS_tot = Σw e² − (Σw e)² / Σw`.
    pub fn r_squared(&self, fit: &LinearFit) -> f64 {
        let m = self.features;
        let Some((x0, y0)) = &self.shift else {
            return 1.0;
        };
        let beta = &fit.coefficients;
        let c = y0 - fit.intercept - beta.iter().zip(x0).map(|(b, x)| b * x).sum::<f64>();
        let mut quadratic = 0.0;
        for a in 0..m {
            quadratic += beta[a] * beta[a] * self.wxx[a * m + a];
            for b in a + 1..m {
                quadratic += 2.0 * beta[a] * beta[b] * self.wxx[a * m + b];
            }
        }
        let linear_xy: f64 = beta.iter().zip(&self.wxy).map(|(b, s)| b * s).sum();
        let linear_x: f64 = beta.iter().zip(&self.wx).map(|(b, s)| b * s).sum();
        // Rounding may take a near-perfect fit's sum a hair below zero.
        let residual = (self.wyy - 2.0 * linear_xy
            + quadratic
            + 2.0 * c * (self.wy - linear_x)
            + c * c * self.weight)
            .max(0.0);
        let spread = self.wyy - self.wy * self.wy / self.weight;
        if spread > 0.0 {
            1.0 - residual / spread
        } else {
            1.0
        }
    }

    /// Entries held, whatever the number of samples.
    #[cfg(test)]
    fn held(&self) -> usize {
        let shift = self.shift.as_ref().map_or(0, |(x0, _)| x0.capacity());
        self.wx.capacity() + self.wxx.capacity() + self.wxy.capacity() + shift
    }
}

/// Solves the centred normal equations `(gram + αI) β = rhs` (`gram` is `m × m`) and puts the
/// intercept through the means. When the system is singular (fewer samples than features,
/// constant columns; `alpha = 0`), a tiny ridge of 1e-9 times the mean diagonal is added, which
/// gives the least-norm solution's limit as `lstsq` would. `None` for non-finite input.
fn solve(gram: &[f64], rhs: &[f64], x_mean: &[f64], y_mean: f64, alpha: f64) -> Option<LinearFit> {
    let m = rhs.len();
    let mean_diagonal = (0..m).map(|a| gram[a * m + a]).sum::<f64>() / m.max(1) as f64;
    let mut jitter = 0.0;
    for attempt in 0..8 {
        let mut system = gram.to_vec();
        for a in 0..m {
            system[a * m + a] += alpha + jitter;
        }
        if let Some(beta) = cholesky_solve(&mut system, rhs, m)
            && beta.iter().all(|b| b.is_finite())
        {
            let intercept = y_mean - beta.iter().zip(x_mean).map(|(b, x)| b * x).sum::<f64>();
            return Some(LinearFit {
                coefficients: beta,
                intercept,
            });
        }
        jitter = mean_diagonal.max(1e-12) * 1e-9 * 100f64.powi(attempt);
    }
    None
}

/// Solves `A β = b` for symmetric positive definite `A` (`m × m`, overwritten by its factor).
#[allow(clippy::many_single_char_names)]
fn cholesky_solve(a: &mut [f64], b: &[f64], m: usize) -> Option<Vec<f64>> {
    // A pivot this small relative to the largest diagonal entry means "singular" in f64.
    let tiny = (0..m).map(|j| a[j * m + j].abs()).fold(0.0, f64::max) * 1e-12;
    for j in 0..m {
        let mut d = a[j * m + j];
        for k in 0..j {
            d -= a[j * m + k] * a[j * m + k];
        }
        if d.is_nan() || d <= tiny {
            return None;
        }
        let d = d.sqrt();
        a[j * m + j] = d;
        for i in j + 1..m {
            let mut s = a[i * m + j];
            for k in 0..j {
                s -= a[i * m + k] * a[j * m + k];
            }
            a[i * m + j] = s / d;
        }
    }
    // L z = b, then Lᵀ β = z.
    let mut z = b.to_vec();
    for i in 0..m {
        for k in 0..i {
            z[i] -= a[i * m + k] * z[k];
        }
        z[i] /= a[i * m + i];
    }
    for i in (0..m).rev() {
        for k in i + 1..m {
            z[i] -= a[k * m + i] * z[k];
        }
        z[i] /= a[i * m + i];
    }
    Some(z)
}

#[cfg(test)]
#[allow(clippy::many_single_char_names)] // the maths' names
mod tests {
    use super::*;

    /// The in-memory fit the streamed one replaced, as the reference: `x` is `n × m` row-major,
    /// `y` and `w` have `n` entries; two passes (means, then centred sums).
    fn in_memory_ridge(
        x: &[f64],
        y: &[f64],
        w: &[f64],
        features: usize,
        alpha: f64,
    ) -> Option<LinearFit> {
        let n = y.len();
        let m = features;
        if n == 0 || w.len() != n || x.len() != n * m {
            return None;
        }
        let total: f64 = w.iter().sum();
        if !(total > 0.0 && total.is_finite()) {
            return None;
        }
        let mut x_mean = vec![0.0; m];
        let mut y_mean = 0.0;
        for i in 0..n {
            for (mean, v) in x_mean.iter_mut().zip(&x[i * m..(i + 1) * m]) {
                *mean += w[i] * v;
            }
            y_mean += w[i] * y[i];
        }
        for v in &mut x_mean {
            *v /= total;
        }
        y_mean /= total;
        // Normal equations on centred data: (Xcᵀ W Xc + αI) β = Xcᵀ W yc.
        let mut gram = vec![0.0; m * m];
        let mut rhs = vec![0.0; m];
        let mut centred = vec![0.0; m];
        for i in 0..n {
            if w[i] == 0.0 {
                continue;
            }
            for (c, (v, mean)) in centred
                .iter_mut()
                .zip(x[i * m..(i + 1) * m].iter().zip(&x_mean))
            {
                *c = v - mean;
            }
            let yc = y[i] - y_mean;
            for a in 0..m {
                let wa = w[i] * centred[a];
                if wa == 0.0 {
                    continue;
                }
                rhs[a] += wa * yc;
                for b in a..m {
                    gram[a * m + b] += wa * centred[b];
                }
            }
        }
        for a in 0..m {
            for b in 0..a {
                gram[a * m + b] = gram[b * m + a];
            }
        }
        solve(&gram, &rhs, &x_mean, y_mean, alpha)
    }

    /// The same rows folded one by one.
    fn folded(x: &[f64], y: &[f64], w: &[f64], features: usize) -> NormalEquations {
        let mut sums = NormalEquations::new(features);
        for ((row, &y), &w) in x.chunks(features).zip(y).zip(w) {
            sums.add(row, y, w);
        }
        sums
    }

    fn weighted_ridge(
        x: &[f64],
        y: &[f64],
        w: &[f64],
        features: usize,
        alpha: f64,
    ) -> Option<LinearFit> {
        folded(x, y, w, features).fit(alpha)
    }

    /// `n × m` on/off flags, weights in (0, 1] with a few of 10⁶ (KernelSHAP's ends), and scores
    /// far from zero (a logit near 40) that depend on the flags plus noise.
    fn random_problem(n: usize, m: usize, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let truth: Vec<f64> = (0..m).map(|_| rng.random_range(-1.0..1.0)).collect();
        let x: Vec<f64> = (0..n * m)
            .map(|_| if rng.random_bool(0.5) { 1.0 } else { 0.0 })
            .collect();
        let y = x
            .chunks(m)
            .map(|row| {
                40.0 + row.iter().zip(&truth).map(|(x, t)| x * t).sum::<f64>()
                    + rng.random_range(-0.1..0.1)
            })
            .collect();
        let w = (0..n)
            .map(|i| {
                if i < 2 {
                    1e6
                } else {
                    rng.random_range(0.01..1.0)
                }
            })
            .collect();
        (x, y, w)
    }

    #[test]
    fn streamed_sums_fit_as_the_in_memory_regression() {
        // Fewer samples than features with α = 0 is singular: the 1e-9 jitter leaves a condition
        // number near 1e9 there, which turns rounding differences of 1e-16 into 1e-7, so that
        // case is held to 1e-5.
        for (n, m, alpha, tolerance) in [
            (500, 20, 0.0, 1e-9),
            (500, 20, 1.0, 1e-9),
            (30, 50, 1.0, 1e-9),
            (30, 50, 0.0, 1e-5),
        ] {
            let (x, y, w) = random_problem(n, m, n as u64 + m as u64);
            let streamed = weighted_ridge(&x, &y, &w, m, alpha).unwrap();
            let reference = in_memory_ridge(&x, &y, &w, m, alpha).unwrap();
            let scale = reference
                .coefficients
                .iter()
                .fold(1.0, |s: f64, c| s.max(c.abs()));
            for (s, r) in streamed.coefficients.iter().zip(&reference.coefficients) {
                assert!(
                    (s - r).abs() < tolerance * scale,
                    "n={n} m={m} α={alpha}: {s} vs {r}"
                );
            }
            assert!(
                (streamed.intercept - reference.intercept).abs() < tolerance * scale,
                "n={n} m={m} α={alpha}: {streamed:?} vs {reference:?}"
            );
        }
    }

    #[test]
    fn r_squared_from_the_sums_is_the_weighted_r_squared_of_the_residuals() {
        let (m, n) = (8, 300);
        let (x, y, w) = random_problem(n, m, 11);
        let sums = folded(&x, &y, &w, m);
        // Any coefficients, not only the optimum.
        for fit in [
            sums.fit(1.0).unwrap(),
            LinearFit {
                coefficients: vec![0.3; m],
                intercept: 39.0,
            },
        ] {
            let total: f64 = w.iter().sum();
            let mean = y.iter().zip(&w).map(|(y, w)| y * w).sum::<f64>() / total;
            let (mut residual, mut spread) = (0.0, 0.0);
            for ((row, y), w) in x.chunks(m).zip(&y).zip(&w) {
                let predicted = fit.intercept
                    + row
                        .iter()
                        .zip(&fit.coefficients)
                        .map(|(x, c)| x * c)
                        .sum::<f64>();
                residual += w * (y - predicted).powi(2);
                spread += w * (y - mean).powi(2);
            }
            let direct = 1.0 - residual / spread;
            let streamed = sums.r_squared(&fit);
            assert!((streamed - direct).abs() < 1e-9, "{streamed} vs {direct}");
        }
    }

    #[test]
    fn the_sums_hold_the_same_entries_for_ten_and_ten_thousand_samples() {
        let m = 16;
        let held = |n| {
            let (x, y, w) = random_problem(n, m, 3);
            folded(&x, &y, &w, m).held()
        };
        // Σw·x·xᵀ, Σw·x, Σw·x·y and the shift x₀.
        assert_eq!(held(10), m * m + 3 * m);
        assert_eq!(held(10_000), m * m + 3 * m);
    }

    #[test]
    fn no_samples_or_no_weight_has_no_fit() {
        assert_eq!(NormalEquations::new(3).fit(0.0), None);
        let sums = folded(&[1.0, 0.0, 1.0], &[2.0], &[0.0], 3);
        assert_eq!(sums.fit(0.0), None);
    }

    #[test]
    fn recovers_an_exact_linear_relation() {
        // y = 1 + 2·x0 − 3·x1 on a few points, unequal weights.
        let x = [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 1.0];
        let y: Vec<f64> = x.chunks(2).map(|r| 1.0 + 2.0 * r[0] - 3.0 * r[1]).collect();
        let w = [1.0, 0.5, 2.0, 1.0, 0.1];
        let fit = weighted_ridge(&x, &y, &w, 2, 0.0).unwrap();
        assert!((fit.coefficients[0] - 2.0).abs() < 1e-9, "{fit:?}");
        assert!((fit.coefficients[1] + 3.0).abs() < 1e-9, "{fit:?}");
        assert!((fit.intercept - 1.0).abs() < 1e-9, "{fit:?}");
    }

    #[test]
    fn ridge_shrinks_like_the_closed_form() {
        // One feature, x ∈ {0, 1}, y = x, unit weights: centred Sxx = Sxy = 0.5 for two points,
        // so β = 0.5 / (0.5 + α).
        let fit = weighted_ridge(&[0.0, 1.0], &[0.0, 1.0], &[1.0, 1.0], 1, 1.0).unwrap();
        assert!((fit.coefficients[0] - 0.5 / 1.5).abs() < 1e-12, "{fit:?}");
    }

    #[test]
    fn singular_systems_still_solve() {
        // Two identical columns: the least-norm split is half each.
        let x = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0];
        let fit = weighted_ridge(&x, &[0.0, 2.0, 4.0], &[1.0; 3], 2, 0.0).unwrap();
        assert!((fit.coefficients[0] - 1.0).abs() < 1e-4, "{fit:?}");
        assert!((fit.coefficients[1] - 1.0).abs() < 1e-4, "{fit:?}");
    }
}
