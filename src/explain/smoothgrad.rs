//! SmoothGrad (Smilkov et al. 2017), as Captum's `NoiseTunnel(Saliency(model))` with
//! `nt_type="smoothgrad"`: the mean of `|∂f/∂x|` (Saliency's `abs=True`) over `n` copies of the
//! input with Gaussian noise `σ = noise_fraction · (max − min)` added (the paper's 15 %; Captum's
//! `stdevs` is absolute). Channels are summed into one map. Noise comes from a ChaCha8 generator
//! seeded with the run's seed, drawn in input order, so batch size does not change it.

use std::collections::BTreeMap;

use rand_distr::{Distribution, StandardNormal};
use tch::{Kind, Tensor};

use super::run::Run;
use super::{Attribution, ExplainError, ExplainParams, Explainer, MethodInfo};
use crate::model::Capability;

pub(super) const METHOD: MethodInfo = MethodInfo {
    name: "smoothgrad",
    needs: &[Capability::Gradients],
    signed: false,
    stochastic: true,
    long: true,
    samples: Some(DEFAULT_SAMPLES),
    explainer: &SmoothGrad,
};

struct SmoothGrad;

/// Noisy copies (the SmoothGrad paper's recommendation; Captum's `nt_samples` default is 5).
const DEFAULT_SAMPLES: usize = 50;

/// SmoothGrad's knob (the copies are [`ExplainParams::samples`], the noise's seed
/// [`ExplainParams::seed`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SmoothGradParams {
    /// Noise σ as a fraction of the input's value range.
    pub noise_fraction: f32,
}

impl Default for SmoothGradParams {
    fn default() -> Self {
        Self {
            noise_fraction: 0.15,
        }
    }
}

impl Explainer for SmoothGrad {
    fn check(&self, params: &ExplainParams) -> Result<(), String> {
        let fraction = params.smoothgrad.noise_fraction;
        if !(fraction.is_finite() && fraction >= 0.0) {
            return Err(format!("noise fraction must be >= 0, is {fraction}"));
        }
        Ok(())
    }

    #[allow(clippy::many_single_char_names)] // x, c, h, w, z: the usual tensor names
    fn attribute(&self, run: &mut Run<'_>) -> Result<Attribution, ExplainError> {
        let params = &run.params.smoothgrad;
        let samples = run.samples();
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
        let mut rng = run.rng();
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
        ]);
        Ok(Attribution { map, parameters })
    }
}
