//! What LIME and KernelSHAP share: SLIC superpixels of the input as the interpretable features
//! and their parameters, scoring inputs in which the "off" superpixels take a fill image, fitting
//! the weighted linear surrogate, painting each superpixel with its coefficient, and the
//! parameters both record. Each method only designs its samples ([`Design`]).

use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

use super::regression::{LinearFit, weighted_ridge};
use super::run::Run;
use super::{Attribution, ExplainError, ExplainParams};
use crate::imaging::{Superpixels, slic};

/// The superpixels of LIME and KernelSHAP, saved under the keys `superpixels` and `compactness`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SuperpixelParams {
    /// SLIC's requested number of superpixels.
    #[serde(rename = "superpixels")]
    pub count: usize,
    /// SLIC compactness (intensities scaled to [0, 1]).
    pub compactness: f32,
}

impl Default for SuperpixelParams {
    fn default() -> Self {
        Self {
            count: 100,
            compactness: 0.1,
        }
    }
}

/// What both surrogate methods need: superpixels to make, and two samples to fit.
pub(super) fn check(params: &ExplainParams) -> Result<(), String> {
    let superpixels = &params.superpixels;
    if superpixels.count == 0 {
        return Err("superpixels must be at least 1".to_owned());
    }
    if !(superpixels.compactness.is_finite() && superpixels.compactness > 0.0) {
        return Err(format!(
            "compactness must be > 0, is {}",
            superpixels.compactness
        ));
    }
    if params.sample_count() < 2 {
        return Err(format!("{} needs at least 2 samples", params.method.name()));
    }
    Ok(())
}

/// A method's samples: `rows` is `samples × count` on/off flags (row-major), one weight per
/// sample, the image "off" pixels take (`[1, C, H, W]`), and the ridge penalty of the fit.
pub(super) struct Design {
    pub rows: Vec<bool>,
    pub weights: Vec<f64>,
    pub fill: Tensor,
    pub alpha: f64,
}

/// A fitted surrogate and what it was fitted on.
pub(super) struct Surrogate {
    pub rows: Vec<bool>,
    pub weights: Vec<f64>,
    pub scores: Vec<f32>,
    pub fit: LinearFit,
}

/// The shared pipeline: superpixels, the method's `design` of `samples` samples (drawn from the
/// run's generator), their scores, the fit, the coefficient map, and the parameters both methods
/// record (the method adds its own).
pub(super) fn attribute(
    run: &mut Run<'_>,
    design: impl FnOnce(&Run<'_>, &Superpixels, usize, &mut ChaCha8Rng) -> Result<Design, ExplainError>,
) -> Result<(Surrogate, Attribution), ExplainError> {
    let samples = run.samples();
    let segments = superpixels(run)?;
    let mut rng = run.rng();
    let Design {
        rows,
        weights,
        fill,
        alpha,
    } = design(run, &segments, samples, &mut rng)?;
    let scores = perturbed_scores(run, &segments, &rows, &fill)?;
    let fit = fit(run, &rows, &scores, &weights, segments.count, alpha)?;
    let map = coefficient_map(run, &segments, &fit.coefficients)?;
    let parameters = BTreeMap::from([
        ("samples".to_owned(), samples.into()),
        (
            "superpixels_requested".to_owned(),
            run.params.superpixels.count.into(),
        ),
        ("superpixels".to_owned(), segments.count.into()),
        (
            "compactness".to_owned(),
            run.params.superpixels.compactness.into(),
        ),
        ("intercept".to_owned(), fit.intercept.into()),
    ]);
    Ok((
        Surrogate {
            rows,
            weights,
            scores,
            fit,
        },
        Attribution { map, parameters },
    ))
}

/// SLIC on the input's channel mean (the model's grid), as configured.
fn superpixels(run: &Run<'_>) -> Result<Superpixels, ExplainError> {
    let [_, h, w] = run.input_chw();
    let image = run
        .input
        .f_mean_dim([0i64, 1].as_slice(), false, Kind::Float)
        .and_then(|m| super::to_vec(&m))
        .map_err(|e| run.torch(&e))?;
    let segments = slic(
        &image,
        h as usize,
        w as usize,
        run.params.superpixels.count,
        run.params.superpixels.compactness,
    );
    if segments.count == 0 {
        return Err(run.invalid("the input has no pixels to segment"));
    }
    Ok(segments)
}

/// The target's score for each sample: `rows` is `n × count` on/off flags (row-major); pixels of
/// "on" superpixels keep the input, the others take `fill` (`[1, C, H, W]`).
#[allow(clippy::many_single_char_names)] // m, n, h, w, x: the usual tensor names
fn perturbed_scores(
    run: &mut Run<'_>,
    segments: &Superpixels,
    rows: &[bool],
    fill: &Tensor,
) -> Result<Vec<f32>, ExplainError> {
    let m = segments.count;
    let n = rows.len() / m;
    let [_, h, w] = run.input_chw();
    let x = run.input.shallow_clone();
    let labels: Vec<i64> = segments.labels.iter().map(|&l| i64::from(l)).collect();
    let labels = Tensor::from_slice(&labels)
        .f_to_device(x.device())
        .map_err(|e| run.torch(&e))?;
    run.plan(n);
    run.scores(n, |range| {
        let len = range.len() as i64;
        let flags: Vec<f32> = rows[range.start * m..range.end * m]
            .iter()
            .map(|&on| if on { 1.0 } else { 0.0 })
            .collect();
        let mask = Tensor::from_slice(&flags)
            .f_to_device(x.device())?
            .f_reshape([len, m as i64])?
            .f_index_select(1, &labels)?
            .f_reshape([len, 1, h, w])?;
        // x · m + fill · (1 − m)
        x.f_mul(&mask)?
            .f_add(&fill.f_mul(&mask.f_neg()?.f_add_scalar(1.0)?)?)
    })
}

/// Fits `scores ≈ b + rows · β` with sample `weights`.
fn fit(
    run: &Run<'_>,
    rows: &[bool],
    scores: &[f32],
    weights: &[f64],
    features: usize,
    alpha: f64,
) -> Result<LinearFit, ExplainError> {
    let x: Vec<f64> = rows.iter().map(|&on| if on { 1.0 } else { 0.0 }).collect();
    let y: Vec<f64> = scores.iter().map(|&s| f64::from(s)).collect();
    weighted_ridge(&x, &y, weights, features, alpha)
        .ok_or_else(|| run.invalid("the surrogate regression has no solution (non-finite scores?)"))
}

impl Surrogate {
    /// Weighted R² of the fit (LIME's `score`).
    pub fn r_squared(&self) -> f64 {
        let Self {
            rows,
            weights,
            scores,
            fit,
        } = self;
        let m = fit.coefficients.len();
        let total: f64 = weights.iter().sum();
        let mean = scores
            .iter()
            .zip(weights)
            .map(|(&s, w)| f64::from(s) * w)
            .sum::<f64>()
            / total;
        let (mut residual, mut spread) = (0.0, 0.0);
        for (i, (&s, w)) in scores.iter().zip(weights).enumerate() {
            let predicted = fit.intercept
                + rows[i * m..(i + 1) * m]
                    .iter()
                    .zip(&fit.coefficients)
                    .filter(|(on, _)| **on)
                    .map(|(_, c)| c)
                    .sum::<f64>();
            residual += w * (f64::from(s) - predicted).powi(2);
            spread += w * (f64::from(s) - mean).powi(2);
        }
        if spread > 0.0 {
            1.0 - residual / spread
        } else {
            1.0
        }
    }
}

/// Each pixel gets its superpixel's coefficient: `[H, W]`.
fn coefficient_map(
    run: &Run<'_>,
    segments: &Superpixels,
    coefficients: &[f64],
) -> Result<Tensor, ExplainError> {
    let values: Vec<f32> = segments
        .labels
        .iter()
        .map(|&l| coefficients[l as usize] as f32)
        .collect();
    Tensor::from_slice(&values)
        .f_reshape([segments.rows as i64, segments.cols as i64])
        .map_err(|e| run.torch(&e))
}

/// The per-superpixel, per-channel mean of the input, as an image `[1, C, H, W]` (LIME's
/// `hide_color=None` fill).
pub(super) fn segment_means(run: &Run<'_>, segments: &Superpixels) -> Result<Tensor, ExplainError> {
    let [c, h, w] = run.input_chw();
    let values = super::to_vec(run.input).map_err(|e| run.torch(&e))?;
    let plane = (h * w) as usize;
    let mut sums = vec![0.0_f64; c as usize * segments.count];
    let mut counts = vec![0_u32; segments.count];
    for &l in &segments.labels {
        counts[l as usize] += 1;
    }
    for ch in 0..c as usize {
        for (p, &l) in segments.labels.iter().enumerate() {
            sums[ch * segments.count + l as usize] += f64::from(values[ch * plane + p]);
        }
    }
    let fill: Vec<f32> = (0..c as usize)
        .flat_map(|ch| {
            let sums = &sums;
            let counts = &counts;
            segments.labels.iter().map(move |&l| {
                let l = l as usize;
                (sums[ch * segments.count + l] / f64::from(counts[l].max(1))) as f32
            })
        })
        .collect();
    Tensor::from_slice(&fill)
        .f_reshape([1, c, h, w])
        .and_then(|t| t.f_to_device(run.input.device()))
        .map_err(|e| run.torch(&e))
}
