//! What LIME and KernelSHAP share: SLIC superpixels of the input as the interpretable features
//! and their parameters, scoring inputs in which the "off" superpixels take a fill image, fitting
//! the weighted linear surrogate, painting each superpixel with its coefficient, and the
//! parameters both record. Each method only designs its samples ([`Design`]).

use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

use super::regression::{LinearFit, NormalEquations};
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

/// A method's samples, drawn batch by batch from the run's generator: each call continues where
/// the last stopped, so the draws do not depend on the batch size.
pub(super) trait Sampler {
    /// The next `count` samples: `count × superpixels` on/off flags (row-major) and one weight
    /// per sample.
    fn next(&mut self, rng: &mut ChaCha8Rng, count: usize) -> (Vec<bool>, Vec<f64>);
}

/// A method's design: its [`Sampler`], the image "off" pixels take (`[1, C, H, W]`), and the
/// ridge penalty of the fit.
pub(super) struct Design<S> {
    pub sampler: S,
    pub fill: Tensor,
    pub alpha: f64,
}

/// A fitted surrogate and its weighted R² on the samples it was fitted on.
pub(super) struct Surrogate {
    pub fit: LinearFit,
    pub r_squared: f64,
}

/// The shared pipeline: superpixels, the method's `design`, its samples (drawn from the run's
/// generator) scored and folded into the regression's sums batch by batch, the fit, the
/// coefficient map, and the parameters both methods record (the method adds its own).
pub(super) fn attribute<S: Sampler>(
    run: &mut Run<'_>,
    design: impl FnOnce(&Run<'_>, &Superpixels) -> Result<Design<S>, ExplainError>,
) -> Result<(Surrogate, Attribution), ExplainError> {
    let samples = run.samples();
    let segments = superpixels(run)?;
    let mut rng = run.rng();
    let Design {
        mut sampler,
        fill,
        alpha,
    } = design(run, &segments)?;
    let sums = folded_scores(run, &segments, samples, &fill, |count| {
        sampler.next(&mut rng, count)
    })?;
    let fit = sums.fit(alpha).ok_or_else(|| {
        run.invalid("the surrogate regression has no solution (non-finite scores?)")
    })?;
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
    let r_squared = sums.r_squared(&fit);
    Ok((
        Surrogate { fit, r_squared },
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

/// Scores `n` samples that `draw(count)` makes batch by batch (see [`Sampler::next`]) and folds
/// each sample's flags, score and weight into the regression's sums, so only one batch of rows
/// is ever held. Pixels of "on" superpixels keep the input, the others take `fill`
/// (`[1, C, H, W]`).
#[allow(clippy::many_single_char_names)] // m, n, h, w, x: the usual tensor names
fn folded_scores(
    run: &mut Run<'_>,
    segments: &Superpixels,
    n: usize,
    fill: &Tensor,
    mut draw: impl FnMut(usize) -> (Vec<bool>, Vec<f64>),
) -> Result<NormalEquations, ExplainError> {
    let m = segments.count;
    let [_, h, w] = run.input_chw();
    let x = run.input.shallow_clone();
    let labels: Vec<i64> = segments.labels.iter().map(|&l| i64::from(l)).collect();
    let labels = Tensor::from_slice(&labels)
        .f_to_device(x.device())
        .map_err(|e| run.torch(&e))?;
    let mut sums = NormalEquations::new(m);
    let mut features = vec![0.0; m];
    run.plan(n);
    for range in run.batches(n) {
        let len = range.len();
        let (rows, weights) = draw(len);
        debug_assert_eq!((rows.len(), weights.len()), (len * m, len));
        let scores = run.score_batch(len, || {
            let flags: Vec<f32> = rows.iter().map(|&on| if on { 1.0 } else { 0.0 }).collect();
            let mask = Tensor::from_slice(&flags)
                .f_to_device(x.device())?
                .f_reshape([len as i64, m as i64])?
                .f_index_select(1, &labels)?
                .f_reshape([len as i64, 1, h, w])?;
            // x · m + fill · (1 − m)
            x.f_mul(&mask)?
                .f_add(&fill.f_mul(&mask.f_neg()?.f_add_scalar(1.0)?)?)
        })?;
        for ((row, &score), &weight) in rows.chunks(m).zip(&scores).zip(&weights) {
            for (f, &on) in features.iter_mut().zip(row) {
                *f = if on { 1.0 } else { 0.0 };
            }
            sums.add(&features, f64::from(score), weight);
        }
    }
    Ok(sums)
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
