//! A slice's values → the model's input tensor `[1, C, H, W]`, as the manifest says.

use tch::{Kind, Tensor};

use super::error::{ModelError, first_line};
use super::manifest::Manifest;

/// A ready model input: `values` of shape `[C, H, W]` as the tensor `[1, C, H, W]`, as is.
pub fn input_tensor(values: &[f32], [c, h, w]: [usize; 3]) -> Result<Tensor, ModelError> {
    if values.len() != c * h * w || values.is_empty() {
        return Err(ModelError::Input {
            reason: format!("{} values for a [{c}, {h}, {w}] input", values.len()),
        });
    }
    Tensor::from_slice(values)
        .f_reshape([1, c as i64, h as i64, w as i64])
        .map_err(|e| ModelError::Input {
            reason: first_line(&e),
        })
}

/// Scales to `[0, 1]` (window, clip range, or the slice's own range), resizes bilinearly to the
/// model's input size, normalises per channel and repeats a single channel to the model's count.
pub fn preprocess_slice(
    values: &[f32],
    rows: usize,
    cols: usize,
    manifest: &Manifest,
) -> Result<Tensor, ModelError> {
    if values.len() != rows * cols || values.is_empty() {
        return Err(ModelError::Input {
            reason: format!("{} values for a {rows}x{cols} slice", values.len()),
        });
    }
    let p = &manifest.preprocess;
    let (lo, hi) = if let Some(w) = p.window {
        w.bounds()
    } else if let Some([lo, hi]) = p.clip {
        (lo, hi)
    } else {
        let (lo, hi) = values
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        (lo, if hi > lo { hi } else { lo + 1.0 })
    };
    let scaled: Vec<f32> = values
        .iter()
        .map(|&v| ((v - lo) / (hi - lo)).clamp(0.0, 1.0))
        .collect();
    let shape = manifest.input;
    let (c, h, w) = (
        i64::from(shape.channels),
        i64::from(shape.height),
        i64::from(shape.width),
    );
    let tch_error = |e: &tch::TchError| ModelError::Input {
        reason: first_line(e),
    };
    let image = Tensor::from_slice(&scaled)
        .f_reshape([1, 1, rows as i64, cols as i64])
        .map_err(|e| tch_error(&e))?
        .f_upsample_bilinear2d([h, w], false, None, None)
        .map_err(|e| tch_error(&e))?
        .f_repeat([1, c, 1, 1])
        .map_err(|e| tch_error(&e))?;
    let per_channel = |v: &[f32], default: f32| -> Tensor {
        let values: Vec<f32> = (0..c as usize)
            .map(|i| *v.get(i).or(v.first()).unwrap_or(&default))
            .collect();
        Tensor::from_slice(&values).reshape([1, c, 1, 1])
    };
    let mean = per_channel(&p.mean, 0.0);
    let std = per_channel(&p.std, 1.0);
    ((image - mean) / std)
        .f_to_kind(Kind::Float)
        .map_err(|e| tch_error(&e))
}
