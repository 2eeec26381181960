//! The CAM pipeline shared by Grad-CAM, Grad-CAM++ and Score-CAM (pytorch-grad-cam's `BaseCAM`):
//! activations `A = features(x)`, the target's gradient with respect to them through `head`,
//! per-channel weights (the one step each method defines), then `ReLU(Σ_k w_k A_k)` on the
//! feature grid. Upsampling to the slice happens once, in [`super::explain`].

use std::collections::BTreeMap;

use tch::{Kind, Tensor};

use super::run::Run;
use super::{Attribution, ExplainError};
use crate::model::Model;

/// `A[1, D, h, w]` (detached) and `d score / d A` (same shape); for a transformer, its tokens
/// and their gradient mapped to the grid (`head` is differentiated on the tokens as returned).
///
/// Differentiates with respect to `features(x).detach().set_requires_grad(true)` fed to `head`:
/// differentiating through an activation that a TorchScript `forward` returned breaks on the
/// second call (STACK.md).
pub(super) fn activations_and_gradients(
    run: &mut Run<'_>,
) -> Result<(Tensor, Tensor), ExplainError> {
    run.check_cancel()?;
    let (a, logits) = match run.cam_pass.take() {
        Some(pass) => pass,
        None => cam_pass(run.model, run.input)?,
    };
    let score = run
        .target_column(&logits, 1)?
        .f_sum(Kind::Float)
        .map_err(|e| run.torch(&e))?;
    let gradient = run.gradient(&score, &a)?;
    run.count(1);
    // Tokens (or channels-last maps) to `[1, D, h, w]`, the gradient the same way.
    let model = run.model;
    Ok((model.to_grid(&a.detach())?, model.to_grid(&gradient)?))
}

/// The gradient CAMs' [`super::Explainer::logits`]: their own `features → head` pass picks the
/// target and stays in the run for [`activations_and_gradients`] (one pass, where
/// pytorch-grad-cam runs `forward` first).
pub(super) fn logits_of_own_pass(run: &mut Run<'_>) -> Result<Tensor, ExplainError> {
    let (a, logits) = cam_pass(run.model, run.input)?;
    let detached = logits.detach();
    run.cam_pass = Some((a, logits));
    Ok(detached)
}

/// `A = features(x)`, detached and requiring grad, and `head(A)` (the logits, differentiable with
/// respect to `A`; the model contract makes them equal `forward(x)`).
fn cam_pass(model: &Model, x: &Tensor) -> Result<(Tensor, Tensor), ExplainError> {
    let a = tch::no_grad(|| model.features(x))?
        .detach()
        .set_requires_grad(true);
    let logits = model.head(&a)?;
    Ok((a, logits))
}

/// `ReLU(Σ_k w_k A_k)` as `[h, w]`, for weights `[1, D]`.
pub(super) fn combine(a: &Tensor, weights: &Tensor) -> Result<Tensor, tch::TchError> {
    let size = a.size();
    weights
        .f_reshape([1, size[1], 1, 1])?
        .f_mul(a)?
        .f_sum_dim_intlist([1i64].as_slice(), false, Kind::Float)?
        .f_relu()?
        .f_reshape([size[2], size[3]])
}

/// A gradient-weighted CAM: `weights(A, dS/dA) -> [1, D]`.
pub(super) fn gradient_cam(
    run: &mut Run<'_>,
    weights: impl FnOnce(&Tensor, &Tensor) -> Result<Tensor, tch::TchError>,
) -> Result<Attribution, ExplainError> {
    run.plan(1);
    let (a, gradient) = activations_and_gradients(run)?;
    let map = weights(&a, &gradient)
        .and_then(|w| combine(&a, &w))
        .map_err(|e| run.torch(&e))?;
    Ok(Attribution {
        map,
        parameters: feature_grid(run.model, &a),
    })
}

/// The activations' size, recorded in the provenance, and for a transformer how its tokens
/// were mapped to that grid.
pub(super) fn feature_grid(model: &Model, a: &Tensor) -> BTreeMap<String, serde_json::Value> {
    let size = a.size();
    let mut parameters = BTreeMap::from([
        ("feature_channels".to_owned(), size[1].into()),
        (
            "feature_grid".to_owned(),
            serde_json::json!([size[2], size[3]]),
        ),
    ]);
    if let Some(tokens) = model.token_layout() {
        parameters.insert("token_layout".to_owned(), tokens.describe().into());
    }
    parameters
}
