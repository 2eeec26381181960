//! SmoothGrad (Smilkov et al. 2017), as Captum's `NoiseTunnel(Saliency(model))` with
//! `nt_type="smoothgrad"`: the mean of `|∂f/∂x|` (Saliency's `abs=True`) over `n` copies of the
//! input with Gaussian noise `σ = noise_fraction · (max − min)` added (the paper's 15 %; Captum's
//! `stdevs` is absolute). Channels are summed into one map. Noise comes from a ChaCha8 generator
//! seeded with the run's seed, drawn in input order, so batch size does not change it.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use tch::{Kind, Tensor};

use super::run::Run;
use super::{Attribution, ExplainError, Explainer};

pub(super) struct SmoothGrad;

/// Noisy copies (the SmoothGrad paper's recommendation; Captum's `nt_samples` default is 5).
pub(super) const DEFAULT_SAMPLES: usize = 50;

impl Explainer for SmoothGrad {
    #[allow(clippy::many_single_char_names)] // x, c, h, w, z: the usual tensor names
    fn attribute(&self, run: &mut Run<'_>) -> Result<Attribution, ExplainError> {
        let params = run.params;
        let samples = params.samples.unwrap_or(DEFAULT_SAMPLES);
        let x = run.input.shallow_clone();
        let torch = |e: &tch::TchError| run.torch(e);
        let span = x
            .f_max()
            .and_then(|max| max.f_sub(&x.f_min()?))
            .and_then(|s| s.f_double_value(&[]))
            .map_err(|e| torch(&e))?;
        let sigma = f64::from(params.noise_fraction) * span;
        let [c, h, w] = run.input_chw();
        let per_input = (c * h * w) as usize;
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let mut total = x.f_zeros_like().map_err(|e| torch(&e))?;
        run.plan(samples);
        run.input_gradients(
            samples,
            |range| {
                let len = range.len();
                let noise: Vec<f32> = (0..len * per_input)
                    .map(|_| {
                        let z: f64 = StandardNormal.sample(&mut rng);
                        (z * sigma) as f32
                    })
                    .collect();
                Tensor::from_slice(&noise)
                    .f_to_device(x.device())?
                    .f_reshape([len as i64, c, h, w])?
                    .f_add(&x)
            },
            |_, gradient| {
                let summed =
                    gradient
                        .f_abs()?
                        .f_sum_dim_intlist([0i64].as_slice(), true, Kind::Float)?;
                total = total.f_add(&summed)?;
                Ok(())
            },
        )?;
        let map = total
            .f_div_scalar(samples as f64)
            .and_then(|m| m.f_sum_dim_intlist([0i64, 1].as_slice(), false, Kind::Float))
            .map_err(|e| run.torch(&e))?;
        let parameters = BTreeMap::from([
            ("samples".to_owned(), samples.into()),
            ("noise_fraction".to_owned(), params.noise_fraction.into()),
            ("sigma".to_owned(), sigma.into()),
            ("seed".to_owned(), params.seed.into()),
            ("batch_size".to_owned(), params.batch_size.into()),
            ("rng".to_owned(), "ChaCha8".into()),
        ]);
        Ok(Attribution { map, parameters })
    }
}
