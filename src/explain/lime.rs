//! LIME for images (Ribeiro et al. 2016), as `lime_image.LimeImageExplainer`: superpixels are the
//! features; sample 0 keeps them all, each other sample switches each one off with probability ½;
//! "off" superpixels take their own mean value (`hide_color=None`). Samples are weighted by
//! `sqrt(exp(−d² / width²))` of their cosine distance `d` to the all-on sample (width 0.25), and
//! a weighted ridge regression (`alpha = 1`, with intercept) of the target's logit on the on/off
//! flags gives each superpixel's coefficient. Superpixels come from SLIC on the intensity (the
//! reference's default is quickshift, which needs colour). Flags come from a ChaCha8 generator
//! seeded with the run's seed.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::run::Run;
use super::surrogate::{self, Design, Sampler};
use super::{Attribution, ExplainError, ExplainParams, Explainer, MethodInfo};

pub(super) const METHOD: MethodInfo = MethodInfo {
    name: "lime",
    needs: &[],
    signed: true,
    stochastic: true,
    long: true,
    samples: Some(DEFAULT_SAMPLES),
    explainer: &Lime,
};

struct Lime;

/// `lime_image`'s `num_samples`.
const DEFAULT_SAMPLES: usize = 1000;

/// LIME's own knobs (the superpixels are [`ExplainParams::superpixels`], shared with KernelSHAP).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LimeParams {
    /// Width of the exponential kernel on the cosine distance.
    pub kernel_width: f64,
    /// Ridge penalty of the surrogate.
    pub ridge_alpha: f64,
}

impl Default for LimeParams {
    fn default() -> Self {
        Self {
            kernel_width: 0.25,
            ridge_alpha: 1.0,
        }
    }
}

impl Explainer for Lime {
    fn check(&self, params: &ExplainParams) -> Result<(), String> {
        surrogate::check(params)?;
        let LimeParams {
            kernel_width,
            ridge_alpha,
        } = params.lime;
        if !(kernel_width > 0.0 && ridge_alpha >= 0.0) {
            return Err(format!(
                "kernel width must be > 0 and ridge alpha >= 0, are {kernel_width} and {ridge_alpha}"
            ));
        }
        Ok(())
    }

    fn attribute(&self, run: &mut Run<'_>) -> Result<Attribution, ExplainError> {
        let LimeParams {
            kernel_width,
            ridge_alpha,
        } = run.params.lime;
        let (fitted, mut attribution) = surrogate::attribute(run, |run, segments| {
            Ok(Design {
                sampler: LimeSampler {
                    features: segments.count,
                    drawn: 0,
                    kernel_width,
                },
                fill: surrogate::segment_means(run, segments)?,
                alpha: ridge_alpha,
            })
        })?;
        attribution.parameters.extend([
            ("kernel_width".to_owned(), kernel_width.into()),
            ("ridge_alpha".to_owned(), ridge_alpha.into()),
            ("fill".to_owned(), "superpixel mean".into()),
            ("surrogate_r2".to_owned(), fitted.r_squared.into()),
        ]);
        Ok(attribution)
    }
}

/// Sample 0 keeps every superpixel, each other switches each off with probability ½; weights
/// are the exponential kernel on the cosine distance to sample 0.
struct LimeSampler {
    features: usize,
    drawn: usize,
    kernel_width: f64,
}

impl Sampler for LimeSampler {
    fn next(&mut self, rng: &mut ChaCha8Rng, count: usize) -> (Vec<bool>, Vec<f64>) {
        let m = self.features;
        let mut rows = Vec::with_capacity(count * m);
        for _ in 0..count {
            if self.drawn == 0 {
                rows.extend(std::iter::repeat_n(true, m));
            } else {
                rows.extend((0..m).map(|_| rng.random_bool(0.5)));
            }
            self.drawn += 1;
        }
        let width = self.kernel_width;
        let weights = rows
            .chunks(m)
            .map(|row| {
                let d = cosine_distance_to_all_on(row);
                (-(d * d) / (width * width)).exp().sqrt()
            })
            .collect();
        (rows, weights)
    }
}

/// Cosine distance between an on/off row and the all-on row: `1 − k/√(k·m)`; an all-off row
/// (zero vector) is at distance 1, as scikit-learn's `pairwise_distances` makes it.
fn cosine_distance_to_all_on(row: &[bool]) -> f64 {
    let k = row.iter().filter(|&&on| on).count() as f64;
    if k == 0.0 {
        1.0
    } else {
        1.0 - (k / row.len() as f64).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::cosine_distance_to_all_on;

    #[test]
    fn cosine_distance_of_on_off_rows() {
        assert!(cosine_distance_to_all_on(&[true; 4]).abs() < 1e-12);
        assert!((cosine_distance_to_all_on(&[true, false, false, false]) - 0.5).abs() < 1e-12);
        assert!((cosine_distance_to_all_on(&[false; 3]) - 1.0).abs() < 1e-12);
    }
}
