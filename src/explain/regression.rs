//! Weighted linear least squares with an intercept and an optional ridge penalty: the surrogate
//! model of LIME (scikit-learn `Ridge(alpha=1)`) and KernelSHAP (`LinearRegression`, i.e.
//! `alpha = 0`). Minimises `Σ w_i (y_i − b − x_i·β)² + α‖β‖²` by centring on the weighted means
//! and solving the normal equations by Cholesky, in f64.

/// Coefficients per feature and the intercept.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct LinearFit {
    pub coefficients: Vec<f64>,
    pub intercept: f64,
}

/// `x` is `n × m` row-major (`m = features`), `y` and `w` have `n` entries. When the system is
/// singular (fewer samples than features, constant columns; `alpha = 0`), a tiny ridge of 1e-9
/// times the mean diagonal is added, which gives the least-norm solution's limit as
/// `lstsq` would. `None` only for empty or non-finite input.
#[allow(clippy::many_single_char_names)] // the maths' names
pub(super) fn weighted_ridge(
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
    let mean_diagonal = (0..m).map(|a| gram[a * m + a]).sum::<f64>() / m.max(1) as f64;
    let mut jitter = 0.0;
    for attempt in 0..8 {
        let mut system = gram.clone();
        for a in 0..m {
            system[a * m + a] += alpha + jitter;
        }
        if let Some(beta) = cholesky_solve(&mut system, &rhs, m)
            && beta.iter().all(|b| b.is_finite())
        {
            let intercept = y_mean - beta.iter().zip(&x_mean).map(|(b, x)| b * x).sum::<f64>();
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
mod tests {
    use super::*;

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
