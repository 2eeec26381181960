//! Kernel SHAP (Lundberg & Lee 2017), as Captum's `KernelShap` with a superpixel feature mask:
//! the first two samples switch every superpixel on, then off (weight 10⁶ each, pinning the
//! surrogate's ends to `f(x)` and `f(baseline)`); every other sample first draws how many
//! superpixels are on, `k ∈ 1..M−1` with probability ∝ `(M−1) / (k(M−k))` (the Shapley kernel),
//! then which `k`, uniformly, and has weight 1. "Off" superpixels take the baseline value
//! (default 0, Captum's). An unregularised weighted linear regression with intercept gives the
//! Shapley value estimates. Uses the same SLIC superpixels as LIME and a ChaCha8 generator seeded
//! with the run's seed.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::run::Run;
use super::{Attribution, ExplainError, Explainer, surrogate};

pub(super) struct KernelShap;

/// Samples by default (Captum's `n_samples` default of 25 is meant for a few tabular features;
/// superpixel explanations need about as many as LIME's).
pub(super) const DEFAULT_SAMPLES: usize = 1000;

/// Captum's weight for the all-on and all-off samples.
const END_WEIGHT: f64 = 1e6;

impl Explainer for KernelShap {
    fn attribute(&self, run: &mut Run<'_>) -> Result<Attribution, ExplainError> {
        let params = run.params;
        let samples = params.samples.unwrap_or(DEFAULT_SAMPLES);
        if samples < 2 {
            return Err(run.invalid("KernelSHAP needs at least 2 samples"));
        }
        let segments = surrogate::superpixels(run)?;
        let m = segments.count;
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let rows = sample_rows(m, samples, &mut rng);
        let weights: Vec<f64> = rows
            .chunks(m)
            .map(|row| {
                let k = row.iter().filter(|&&on| on).count();
                if k == 0 || k == m { END_WEIGHT } else { 1.0 }
            })
            .collect();
        let fill = run
            .input
            .f_full_like(f64::from(params.shap_baseline))
            .map_err(|e| run.torch(&e))?;
        let scores = surrogate::perturbed_scores(run, &segments, &rows, &fill)?;
        let fit = surrogate::fit(run, &rows, &scores, &weights, m, 0.0)?;
        let map = surrogate::coefficient_map(run, &segments, &fit.coefficients)?;
        let parameters = BTreeMap::from([
            ("samples".to_owned(), samples.into()),
            (
                "superpixels_requested".to_owned(),
                params.superpixels.into(),
            ),
            ("superpixels".to_owned(), m.into()),
            ("compactness".to_owned(), params.compactness.into()),
            ("baseline".to_owned(), params.shap_baseline.into()),
            ("seed".to_owned(), params.seed.into()),
            ("rng".to_owned(), "ChaCha8".into()),
            ("batch_size".to_owned(), params.batch_size.into()),
            ("intercept".to_owned(), fit.intercept.into()),
            (
                "sum_of_attributions".to_owned(),
                fit.coefficients.iter().sum::<f64>().into(),
            ),
        ]);
        Ok(Attribution { map, parameters })
    }
}

/// `samples × m` on/off flags: all on, all off, then Shapley-kernel draws.
fn sample_rows(m: usize, samples: usize, rng: &mut impl Rng) -> Vec<bool> {
    let mut rows = Vec::with_capacity(samples * m);
    rows.extend(std::iter::repeat_n(true, m));
    rows.extend(std::iter::repeat_n(false, m));
    // P(k) ∝ (M − 1) / (k (M − k)) for k in 1..M; cumulative for inverse-CDF sampling.
    let mut cumulative: Vec<f64> = (1..m)
        .map(|k| (m - 1) as f64 / (k * (m - k)) as f64)
        .scan(0.0, |sum, p| {
            *sum += p;
            Some(*sum)
        })
        .collect();
    if let Some(&total) = cumulative.last() {
        for c in &mut cumulative {
            *c /= total;
        }
    }
    let mut order: Vec<usize> = (0..m).collect();
    for _ in 2..samples {
        if cumulative.is_empty() {
            // One superpixel: only the two ends exist; repeat them.
            rows.extend(std::iter::repeat_n(rng.random_bool(0.5), m));
            continue;
        }
        let u: f64 = rng.random();
        let k = 1 + cumulative.partition_point(|&c| c < u).min(m - 2);
        // The first k of a partial Fisher–Yates shuffle are a uniform k-subset.
        for i in 0..k {
            let j = rng.random_range(i..m);
            order.swap(i, j);
        }
        let start = rows.len();
        rows.extend(std::iter::repeat_n(false, m));
        for &f in &order[..k] {
            rows[start + f] = true;
        }
    }
    rows.truncate(samples * m);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_start_with_both_ends_and_follow_the_shapley_kernel() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let m = 6;
        let rows = sample_rows(m, 20_002, &mut rng);
        assert!(rows[..m].iter().all(|&on| on));
        assert!(rows[m..2 * m].iter().all(|&on| !on));
        let mut histogram = [0usize; 7];
        for row in rows.chunks(m).skip(2) {
            histogram[row.iter().filter(|&&on| on).count()] += 1;
        }
        assert_eq!(histogram[0] + histogram[6], 0, "no ends among the draws");
        // (M−1)/(k(M−k)) for M = 6: 1, 5/8, 5/9, 5/8, 1 → normalised.
        let p: Vec<f64> = (1..6).map(|k| 5.0 / f64::from(k * (6 - k))).collect();
        let total: f64 = p.iter().sum();
        for k in 1..6 {
            let expected = p[k - 1] / total;
            let observed = histogram[k] as f64 / 20_000.0;
            assert!(
                (observed - expected).abs() < 0.015,
                "k={k}: {observed} vs {expected}"
            );
        }
    }
}
