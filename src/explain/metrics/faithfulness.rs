//! Faithfulness: deletion and insertion curves (Petsiuk et al. 2018, RISE). Pixels of the model
//! input are replaced by a baseline (deletion) or revealed over it (insertion) in order of
//! decreasing attribution; the target's score after each step traces a curve whose area says
//! how well the map ranks what the model uses: low deletion AUC and high insertion AUC are good.

use std::sync::atomic::{AtomicBool, Ordering};

use tch::{Device, Kind, Tensor};

use super::MetricError;
use crate::explain::{ExplainError, Heatmap};
use crate::model::Model;

/// What a removed pixel becomes (in model-input units, all channels of the pixel at once).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Baseline {
    /// The input blurred by a Gaussian of this σ in model-input pixels (reflecting borders):
    /// removes detail, keeps the overall intensity, so fewer out-of-distribution inputs.
    Blur { sigma_px: f32 },
    /// Each channel's mean over the input.
    Mean,
    /// A constant value.
    Constant { value: f32 },
}

impl Default for Baseline {
    fn default() -> Self {
        Self::Blur { sigma_px: 5.0 }
    }
}

/// What the curve measures for the target class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreKind {
    /// Softmax probability (as RISE): curves and AUCs in `[0, 1]`.
    #[default]
    Probability,
    /// The raw logit.
    Logit,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct FaithfulnessParams {
    /// Steps from nothing to everything changed: `steps + 1` points per curve (at least 2).
    pub steps: usize,
    pub baseline: Baseline,
    pub score: ScoreKind,
    /// Inputs per forward pass.
    pub batch_size: usize,
}

impl Default for FaithfulnessParams {
    fn default() -> Self {
        Self {
            steps: 32,
            baseline: Baseline::default(),
            score: ScoreKind::default(),
            batch_size: 16,
        }
    }
}

/// A perturbation curve: the score after changing `fractions[i]` of the input's pixels.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Curve {
    /// From 0 to 1, increasing.
    pub fractions: Vec<f64>,
    pub scores: Vec<f64>,
    /// Trapezoidal area under `scores` over `fractions`.
    pub auc: f64,
}

/// Both curves of one map.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Faithfulness {
    pub deletion: Curve,
    pub insertion: Curve,
    pub score: ScoreKind,
    /// The class whose score the curves follow (the heatmap's target).
    pub target: usize,
    pub baseline: Baseline,
}

/// Trapezoidal area under `y` over `x` (0 for fewer than two points).
#[must_use]
pub fn auc(x: &[f64], y: &[f64]) -> f64 {
    x.windows(2)
        .zip(y.windows(2))
        .map(|(x, y)| (x[1] - x[0]) * (y[0] + y[1]) / 2.0)
        .sum()
}

/// Pixel indices by decreasing attribution (most positive first); ties keep pixel order, so the
/// order is deterministic.
#[must_use]
pub fn perturbation_order(values: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    order
}

/// A heatmap's values on the model's input grid `h × w`: as is when the grids match, else area
/// averages when shrinking (adaptive average pooling) and bilinear interpolation when growing.
pub fn map_on_input_grid(heatmap: &Heatmap, h: usize, w: usize) -> Result<Vec<f32>, MetricError> {
    if heatmap.values.len() != heatmap.rows * heatmap.cols {
        return Err(MetricError::Shape {
            expected: heatmap.rows * heatmap.cols,
            found: heatmap.values.len(),
        });
    }
    if (heatmap.rows, heatmap.cols) == (h, w) {
        return Ok(heatmap.values.clone());
    }
    let t = Tensor::from_slice(&heatmap.values).f_reshape([
        1,
        1,
        heatmap.rows as i64,
        heatmap.cols as i64,
    ]);
    let resized = t.and_then(|t| {
        if heatmap.rows >= h && heatmap.cols >= w {
            t.f_adaptive_avg_pool2d([h as i64, w as i64])
        } else {
            t.f_upsample_bilinear2d([h as i64, w as i64], false, None, None)
        }
    });
    resized
        .and_then(|t| t.f_flatten(0, -1))
        .and_then(|t| Vec::<f32>::try_from(&t))
        .map_err(|e| torch(heatmap, &e))
}

/// Deletion and insertion curves of `heatmap` for the model input `x` `[1, C, H, W]` (the input
/// the heatmap explains), following the heatmap's target class. Step `i` of `n` changes
/// `round(i·H·W/n)` pixels. `progress` gets the fraction done; `cancel` stops between batches.
pub fn deletion_insertion(
    model: &Model,
    x: &Tensor,
    heatmap: &Heatmap,
    params: &FaithfulnessParams,
    progress: &dyn Fn(f32),
    cancel: &AtomicBool,
) -> Result<Faithfulness, MetricError> {
    if params.steps < 2 || params.batch_size == 0 {
        return Err(MetricError::Parameter(format!(
            "steps must be >= 2 and batch size >= 1 (are {} and {})",
            params.steps, params.batch_size
        )));
    }
    let size = x.size();
    if size != model.input_size() {
        return Err(ExplainError::Input {
            reason: format!(
                "input shape {size:?}, the model takes {:?}",
                model.input_size()
            ),
        }
        .into());
    }
    let (h, w) = (size[2] as usize, size[3] as usize);
    let map = map_on_input_grid(heatmap, h, w)?;
    super::check_finite(&map)?;
    let torch = |e: tch::TchError| torch(heatmap, &e);
    let x = x
        .f_to_kind(Kind::Float)
        .and_then(|t| t.f_to_device(model.device))
        .map_err(torch)?
        .detach();
    let baseline = baseline_for(&x, params.baseline).map_err(torch)?;
    // rank[p]: when pixel p changes (0 = first).
    let mut rank = vec![0_usize; h * w];
    for (r, p) in perturbation_order(&map).into_iter().enumerate() {
        rank[p] = r;
    }
    let counts: Vec<usize> = (0..=params.steps)
        .map(|i| ((i * h * w) as f64 / params.steps as f64).round() as usize)
        .collect();
    let fractions: Vec<f64> = counts.iter().map(|&c| c as f64 / (h * w) as f64).collect();
    let total = 2 * counts.len();
    let mut done = 0;
    let mut curve = |from: &Tensor, to: &Tensor| -> Result<Curve, MetricError> {
        let mut scores = Vec::with_capacity(counts.len());
        for batch in counts.chunks(params.batch_size) {
            if cancel.load(Ordering::Relaxed) {
                return Err(ExplainError::Cancelled.into());
            }
            // m = 1 where the pixel has changed: from · (1 − m) + to · m
            let mut mask = vec![0.0_f32; batch.len() * h * w];
            for (i, &count) in batch.iter().enumerate() {
                for (m, &r) in mask[i * h * w..(i + 1) * h * w].iter_mut().zip(&rank) {
                    *m = f32::from(u8::from(r < count));
                }
            }
            let inputs = Tensor::from_slice(&mask)
                .f_reshape([batch.len() as i64, 1, h as i64, w as i64])
                .and_then(|m| m.f_to_device(model.device))
                .and_then(|m| {
                    from.f_mul(&m.f_neg()?.f_add_scalar(1.0)?)?
                        .f_add(&to.f_mul(&m)?)
                })
                .map_err(torch)?;
            let logits = tch::no_grad(|| model.forward(&inputs))?;
            let column = match params.score {
                ScoreKind::Probability => logits.f_softmax(-1, Kind::Float),
                ScoreKind::Logit => Ok(logits),
            }
            .and_then(|t| t.f_select(1, heatmap.provenance.target as i64))
            .and_then(|t| t.f_to_device(Device::Cpu))
            .and_then(|t| Vec::<f32>::try_from(&t))
            .map_err(torch)?;
            if column.len() != batch.len() || column.iter().any(|v| !v.is_finite()) {
                return Err(MetricError::NonFinite);
            }
            scores.extend(column.into_iter().map(f64::from));
            done += batch.len();
            progress(done as f32 / total as f32);
        }
        Ok(Curve {
            auc: auc(&fractions, &scores),
            fractions: fractions.clone(),
            scores,
        })
    };
    let deletion = curve(&x, &baseline)?;
    let insertion = curve(&baseline, &x)?;
    Ok(Faithfulness {
        deletion,
        insertion,
        score: params.score,
        target: heatmap.provenance.target,
        baseline: params.baseline,
    })
}

/// The baseline input `[1, C, H, W]` for `x`.
fn baseline_for(x: &Tensor, baseline: Baseline) -> Result<Tensor, tch::TchError> {
    match baseline {
        Baseline::Constant { value } => x.f_full_like(f64::from(value)),
        Baseline::Mean => x
            .f_mean_dim([2, 3].as_slice(), true, Kind::Float)?
            .f_expand_as(x),
        Baseline::Blur { sigma_px } => gaussian_blur(x, sigma_px),
    }
}

/// Separable Gaussian blur (radius 3σ, clipped to the image) with reflected borders.
fn gaussian_blur(x: &Tensor, sigma_px: f32) -> Result<Tensor, tch::TchError> {
    if sigma_px <= 0.0 || !sigma_px.is_finite() {
        return Ok(x.shallow_clone());
    }
    let size = x.size();
    let (c, h, w) = (size[1], size[2], size[3]);
    let radius = ((3.0 * sigma_px).ceil() as i64).min(h.min(w) - 1).max(0);
    let taps: Vec<f32> = (-radius..=radius)
        .map(|i| (-((i * i) as f32) / (2.0 * sigma_px * sigma_px)).exp())
        .collect();
    let sum: f32 = taps.iter().sum();
    let taps: Vec<f32> = taps.iter().map(|t| t / sum).collect();
    let len = taps.len() as i64;
    let kernel = Tensor::from_slice(&taps)
        .f_to_device(x.device())?
        .f_to_kind(x.kind())?;
    let horizontal = kernel.f_reshape([1, 1, 1, len])?.f_repeat([c, 1, 1, 1])?;
    let vertical = kernel.f_reshape([1, 1, len, 1])?.f_repeat([c, 1, 1, 1])?;
    let padded = x.f_reflection_pad2d([radius, radius, 0, 0])?;
    let x = padded.f_conv2d(&horizontal, None::<Tensor>, [1, 1], [0, 0], [1, 1], c)?;
    let padded = x.f_reflection_pad2d([0, 0, radius, radius])?;
    padded.f_conv2d(&vertical, None::<Tensor>, [1, 1], [0, 0], [1, 1], c)
}

fn torch(heatmap: &Heatmap, e: &tch::TchError) -> MetricError {
    ExplainError::Torch {
        method: heatmap.provenance.method.name(),
        cause: crate::model::first_line(e),
        path: heatmap.provenance.model_path.clone(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trapezoid_area_by_hand() {
        // (0,1) → (0.5, 0) → (1, 0): 0.5·(1+0)/2 = 0.25
        assert!((auc(&[0.0, 0.5, 1.0], &[1.0, 0.0, 0.0]) - 0.25).abs() < 1e-12);
        assert!((auc(&[0.0, 1.0], &[0.3, 0.3]) - 0.3).abs() < 1e-12);
        assert!(auc(&[0.0], &[1.0]).abs() < f64::EPSILON);
    }

    #[test]
    fn most_positive_pixels_go_first_and_ties_keep_pixel_order() {
        assert_eq!(
            perturbation_order(&[0.0, 3.0, -1.0, 3.0, 2.0]),
            [1, 3, 4, 0, 2]
        );
    }

    #[test]
    fn blur_keeps_a_constant_image_and_the_mean_of_a_spike_row() {
        let flat = Tensor::full([1, 1, 8, 8], 2.0, (Kind::Float, Device::Cpu));
        let blurred = gaussian_blur(&flat, 1.5).unwrap();
        assert!(blurred.allclose(&flat, 1e-5, 1e-6, false));
        let mut v = vec![0.0_f32; 64];
        v[3 * 8 + 3] = 1.0;
        let spike = Tensor::from_slice(&v).reshape([1, 1, 8, 8]);
        let b = gaussian_blur(&spike, 1.0).unwrap();
        assert!(b.double_value(&[0, 0, 3, 3]) < 0.5);
        assert!(b.double_value(&[0, 0, 3, 4]) > 0.0);
    }
}
