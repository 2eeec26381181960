//! Kernel SHAP (Lundberg & Lee 2017), as Captum's `KernelShap` with a superpixel feature mask:
//! the first two samples switch every superpixel on, then off (weight 10⁶ each, pinning the
//! surrogate's ends to `f(x)` and `f(baseline)`); every other sample first draws how many
//! superpixels are on, `k ∈ 1..M−1` with probability ∝ `(M−1) / (k(M−k))` (the Shapley kernel),
//! then which `k`, uniformly, and has weight 1. "Off" superpixels take the baseline value
//! (default 0, Captum's). An unregularised weighted linear regression with intercept gives the
//! Shapley value estimates. Uses the same SLIC superpixels as LIME and a ChaCha8 generator seeded
//! with the run's seed.

use rand::Rng;

use super::run::Run;
use super::surrogate::{self, Design};
use super::{Attribution, ExplainError, ExplainParams, Explainer, MethodInfo};

pub(super) const METHOD: MethodInfo = MethodInfo {
    name: "kernelshap",
    needs: &[],
    signed: true,
    stochastic: true,
    long: true,
    samples: Some(DEFAULT_SAMPLES),
    explainer: &KernelShap,
};

struct KernelShap;

/// Samples by default (Captum's `n_samples` default of 25 is meant for a few tabular features;
/// superpixel explanations need about as many as LIME's).
const DEFAULT_SAMPLES: usize = 1000;

/// Captum's weight for the all-on and all-off samples.
const END_WEIGHT: f64 = 1e6;

/// KernelSHAP's own knob (the superpixels are [`ExplainParams::superpixels`], shared with LIME),
/// saved under the key `shap_baseline`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct KernelShapParams {
    /// The value a superpixel that is "off" takes.
    #[serde(rename = "shap_baseline")]
    pub baseline: f32,
}

impl Explainer for KernelShap {
    fn check(&self, params: &ExplainParams) -> Result<(), String> {
        surrogate::check(params)
    }

    fn attribute(&self, run: &mut Run<'_>) -> Result<Attribution, ExplainError> {
        let baseline = run.params.kernel_shap.baseline;
        let (fitted, mut attribution) =
            surrogate::attribute(run, |run, segments, samples, rng| {
                let m = segments.count;
                let rows = sample_rows(m, samples, rng);
                let weights = rows
                    .chunks(m)
                    .map(|row| {
                        let k = row.iter().filter(|&&on| on).count();
                        if k == 0 || k == m { END_WEIGHT } else { 1.0 }
                    })
                    .collect();
                let fill = run
                    .input
                    .f_full_like(f64::from(baseline))
                    .map_err(|e| run.torch(&e))?;
                Ok(Design {
                    rows,
                    weights,
                    fill,
                    alpha: 0.0,
                })
            })?;
        attribution.parameters.extend([
            ("baseline".to_owned(), baseline.into()),
            (
                "sum_of_attributions".to_owned(),
                fitted.fit.coefficients.iter().sum::<f64>().into(),
            ),
        ]);
        Ok(attribution)
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
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

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
