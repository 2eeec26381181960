//! An explanation with the model's probability for the class it explains: what an export prints
//! in its legend beside the map.

use std::sync::atomic::AtomicBool;

use super::{ExplainError, ExplainInput, ExplainParams, Heatmap, explain};
use crate::model::Model;

/// Explains `params` for the model input `tensor` `[1, C, H, W]` (the map on the `[rows, cols]`
/// slice grid) and returns the map with the softmax probability of its target class. A failed
/// prediction fails the call.
pub fn explain_scored(
    model: &Model,
    tensor: &tch::Tensor,
    [rows, cols]: [usize; 2],
    params: &ExplainParams,
    cancel: &AtomicBool,
) -> Result<(Heatmap, f32), ExplainError> {
    let prediction = model.predict(tensor)?;
    let input = ExplainInput {
        tensor: tensor.shallow_clone(),
        source_rows: rows,
        source_cols: cols,
    };
    let heatmap = explain(model, &input, params, &|_| {}, cancel)?;
    let probability = prediction
        .probabilities
        .get(heatmap.provenance.target)
        .copied()
        .unwrap_or(f32::NAN);
    Ok((heatmap, probability))
}
