//! Kernel SHAP (Lundberg & Lee 2017), as Captum's `KernelShap` with a superpixel feature mask:
//! the first two samples switch every superpixel on, then off (weight 10⁶ each, pinning the
//! surrogate's ends to `f(x)` and `f(baseline)`); every other sample first draws how many
//! superpixels are on, `k ∈ 1..M−1` with probability ∝ `(M−1) / (k(M−k))` (the Shapley kernel),
//! then which `k`, uniformly, and has weight 1. "Off" superpixels take the baseline value
//! (default 0, Captum's). An unregularised weighted linear regression with intercept gives the
//! Shapley value estimates. Uses the same SLIC superpixels as LIME and a ChaCha8 generator seeded
//! with the run's seed.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::run::Run;
use super::surrogate::{self, Design, Sampler};
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
        let (fitted, mut attribution) = surrogate::attribute(run, |run, segments| {
            let fill = run
                .input
                .f_full_like(f64::from(baseline))
                .map_err(|e| run.torch(&e))?;
            Ok(Design {
                sampler: ShapleySampler::new(segments.count),
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

/// All on, all off, then Shapley-kernel draws; the ends weigh [`END_WEIGHT`], the draws 1.
struct ShapleySampler {
    features: usize,
    drawn: usize,
    /// P(k) ∝ (M − 1) / (k (M − k)) for k in 1..M, cumulative for inverse-CDF sampling; empty
    /// for one superpixel.
    cumulative: Vec<f64>,
    /// The partial Fisher–Yates shuffle carries on from draw to draw.
    order: Vec<usize>,
}

impl ShapleySampler {
    fn new(m: usize) -> Self {
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
        Self {
            features: m,
            drawn: 0,
            cumulative,
            order: (0..m).collect(),
        }
    }

    /// Appends the next sample's `m` flags to `rows`.
    fn next_row(&mut self, rng: &mut impl Rng, rows: &mut Vec<bool>) {
        let m = self.features;
        let drawn = self.drawn;
        self.drawn += 1;
        if drawn < 2 {
            rows.extend(std::iter::repeat_n(drawn == 0, m));
            return;
        }
        if self.cumulative.is_empty() {
            // One superpixel: only the two ends exist; repeat them.
            rows.extend(std::iter::repeat_n(rng.random_bool(0.5), m));
            return;
        }
        let u: f64 = rng.random();
        let k = 1 + self.cumulative.partition_point(|&c| c < u).min(m - 2);
        // The first k of a partial Fisher–Yates shuffle are a uniform k-subset.
        for i in 0..k {
            let j = rng.random_range(i..m);
            self.order.swap(i, j);
        }
        let start = rows.len();
        rows.extend(std::iter::repeat_n(false, m));
        for &f in &self.order[..k] {
            rows[start + f] = true;
        }
    }
}

impl Sampler for ShapleySampler {
    fn next(&mut self, rng: &mut ChaCha8Rng, count: usize) -> (Vec<bool>, Vec<f64>) {
        let m = self.features;
        let mut rows = Vec::with_capacity(count * m);
        for _ in 0..count {
            self.next_row(rng, &mut rows);
        }
        let weights = rows
            .chunks(m)
            .map(|row| {
                let k = row.iter().filter(|&&on| on).count();
                if k == 0 || k == m { END_WEIGHT } else { 1.0 }
            })
            .collect();
        (rows, weights)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn rows_start_with_both_ends_and_follow_the_shapley_kernel() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let m = 6;
        let (rows, _) = ShapleySampler::new(m).next(&mut rng, 20_002);
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
