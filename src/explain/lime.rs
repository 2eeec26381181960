//! LIME for images (Ribeiro et al. 2016), as `lime_image.LimeImageExplainer`: superpixels are the
//! features; sample 0 keeps them all, each other sample switches each one off with probability ½;
//! "off" superpixels take their own mean value (`hide_color=None`). Samples are weighted by
//! `sqrt(exp(−d² / width²))` of their cosine distance `d` to the all-on sample (width 0.25), and
//! a weighted ridge regression (`alpha = 1`, with intercept) of the target's logit on the on/off
//! flags gives each superpixel's coefficient. Superpixels come from SLIC on the intensity (the
//! reference's default is quickshift, which needs colour). Flags come from a ChaCha8 generator
//! seeded with the run's seed.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::run::Run;
use super::{Attribution, ExplainError, Explainer, surrogate};

pub(super) struct Lime;

/// `lime_image`'s `num_samples`.
pub(super) const DEFAULT_SAMPLES: usize = 1000;

impl Explainer for Lime {
    fn attribute(&self, run: &mut Run<'_>) -> Result<Attribution, ExplainError> {
        let params = run.params;
        let samples = params.samples.unwrap_or(DEFAULT_SAMPLES);
        if samples < 2 {
            return Err(run.invalid("LIME needs at least 2 samples"));
        }
        let segments = surrogate::superpixels(run)?;
        let m = segments.count;
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let mut rows = vec![true; m];
        rows.extend((m..samples * m).map(|_| rng.random_bool(0.5)));
        let fill = surrogate::segment_means(run, &segments)?;
        let scores = surrogate::perturbed_scores(run, &segments, &rows, &fill)?;
        let weights: Vec<f64> = rows
            .chunks(m)
            .map(|row| {
                let d = cosine_distance_to_all_on(row);
                (-(d * d) / (params.kernel_width * params.kernel_width))
                    .exp()
                    .sqrt()
            })
            .collect();
        let fit = surrogate::fit(run, &rows, &scores, &weights, m, params.ridge_alpha)?;
        let r2 = surrogate::r_squared(&fit, &rows, &scores, &weights);
        let map = surrogate::coefficient_map(run, &segments, &fit.coefficients)?;
        let parameters = BTreeMap::from([
            ("samples".to_owned(), samples.into()),
            (
                "superpixels_requested".to_owned(),
                params.superpixels.into(),
            ),
            ("superpixels".to_owned(), m.into()),
            ("compactness".to_owned(), params.compactness.into()),
            ("kernel_width".to_owned(), params.kernel_width.into()),
            ("ridge_alpha".to_owned(), params.ridge_alpha.into()),
            ("fill".to_owned(), "superpixel mean".into()),
            ("seed".to_owned(), params.seed.into()),
            ("rng".to_owned(), "ChaCha8".into()),
            ("batch_size".to_owned(), params.batch_size.into()),
            ("intercept".to_owned(), fit.intercept.into()),
            ("surrogate_r2".to_owned(), r2.into()),
        ]);
        Ok(Attribution { map, parameters })
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
