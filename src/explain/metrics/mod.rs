//! Metrics of explanation quality (docs/EVALUATE.md): faithfulness (deletion/insertion curves),
//! complexity (sparseness), agreement between two maps (Spearman, top-k IoU), localisation against
//! a region (pointing game, relevance mass and rank accuracy), and the model parameter
//! randomisation sanity check.
//!
//! Maps are the raw [`super::Heatmap`] values (row-major, any grid), regions are boolean masks on
//! the same grid. The pure metrics take slices; the model-dependent ones take a [`Model`].
//! Undefined cases (constant maps, empty masks, no positive attribution) are errors, never NaN.
//!
//! [`Model`]: crate::model::Model

mod agreement;
mod complexity;
mod faithfulness;
mod localisation;
mod randomisation;

pub use agreement::{average_ranks, spearman, top_k_iou, top_k_set};
pub use complexity::sparseness;
pub use faithfulness::{
    Baseline, Curve, Faithfulness, FaithfulnessParams, ScoreKind, auc, deletion_insertion,
    map_on_input_grid, perturbation_order,
};
pub use localisation::{
    PointingGame, pointing_game, relevance_mass_accuracy, relevance_rank_accuracy,
};
pub use randomisation::{
    RandomisationCheck, RandomisationParams, StageResult, randomisation_check, stages_to_run,
};

use super::ExplainError;
use crate::model::ModelError;

/// Why a metric has no value. One line each.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricError {
    #[error("sizes differ: {expected} values, {found} to compare with")]
    Shape { expected: usize, found: usize },
    #[error("the map is empty")]
    Empty,
    #[error("the map holds NaN or infinite values")]
    NonFinite,
    #[error("the region is empty")]
    EmptyMask,
    #[error("the map is constant (it ranks nothing and has no single maximum)")]
    ConstantMap,
    #[error("the map has no positive attribution")]
    NoPositive,
    #[error("invalid metric parameter: {0}")]
    Parameter(String),
    #[error(transparent)]
    Explain(#[from] ExplainError),
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// Every value equals the first (exactly: ties are exact equality throughout the metrics).
#[allow(clippy::float_cmp)]
fn is_constant(values: &[f32]) -> bool {
    values.iter().all(|&v| v == values[0])
}

fn check_finite(values: &[f32]) -> Result<(), MetricError> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(MetricError::NonFinite)
    }
}

/// Two maps to compare: same length, not empty, finite.
fn check_pair(a: &[f32], b: &[f32]) -> Result<(), MetricError> {
    if a.len() != b.len() {
        return Err(MetricError::Shape {
            expected: a.len(),
            found: b.len(),
        });
    }
    if a.is_empty() {
        return Err(MetricError::Empty);
    }
    check_finite(a)?;
    check_finite(b)
}
