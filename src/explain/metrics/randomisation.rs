//! The model parameter randomisation test (Adebayo et al. 2018, "Sanity checks for saliency
//! maps"): explain the same input with copies of the model whose top layers are re-drawn at
//! random, more layers each stage, and compare each map with the original. A method whose map
//! barely changes explains the input (edges, intensities), not the model.

use std::sync::atomic::AtomicBool;

use super::{MetricError, spearman};
use crate::explain::{ExplainInput, ExplainParams, Heatmap, Target, explain};
use crate::model::{Model, RandomisationStage};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RandomisationParams {
    /// Seed of the re-drawn weights.
    pub seed: u64,
    /// Stages to run at most, spread over the cascade (always the first and the last).
    pub max_stages: usize,
    /// A method is flagged when the most randomised stage's similarity is at least this.
    pub threshold: f64,
}

impl Default for RandomisationParams {
    fn default() -> Self {
        Self {
            seed: 0,
            max_stages: 3,
            threshold: 0.5,
        }
    }
}

/// One stage's map compared with the original.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StageResult {
    pub stage: RandomisationStage,
    /// Spearman correlation of the absolute maps (Adebayo's main measure; insensitive to sign
    /// flips). 0 when the randomised map is constant: all structure is gone.
    pub similarity: f64,
    /// Spearman correlation of the raw maps (`None` when the randomised map is constant).
    pub spearman_raw: Option<f64>,
    /// The randomised model's map is constant (e.g. Grad-CAM's ReLU cut everything).
    pub constant: bool,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RandomisationCheck {
    pub stages: Vec<StageResult>,
    pub threshold: f64,
    /// The most randomised stage's similarity is still `>= threshold`: the map barely depends on
    /// the model's weights.
    pub flagged: bool,
}

/// Which of `n` cascade stages to run: at most `max` (at least 1), spread evenly, always the
/// first (least randomised) and the last (most).
#[must_use]
pub fn stages_to_run(n: usize, max: usize) -> Vec<usize> {
    let max = max.max(1).min(n);
    if max <= 1 {
        return if n == 0 { Vec::new() } else { vec![n - 1] };
    }
    let mut picked: Vec<usize> = (0..max)
        .map(|i| ((i * (n - 1)) as f64 / (max - 1) as f64).round() as usize)
        .collect();
    picked.dedup();
    picked
}

/// Runs `params.method` on randomised copies of `model` and compares each map with `original`
/// (the same method's map for `input` on the unmodified model; its target class is kept).
/// `progress` gets the fraction of stages done.
pub fn randomisation_check(
    model: &Model,
    input: &ExplainInput,
    params: &ExplainParams,
    original: &Heatmap,
    check: &RandomisationParams,
    progress: &dyn Fn(f32),
    cancel: &AtomicBool,
) -> Result<RandomisationCheck, MetricError> {
    let absolute = |v: &[f32]| v.iter().map(|x| x.abs()).collect::<Vec<f32>>();
    let original_abs = absolute(&original.values);
    if super::is_constant(&original_abs) {
        return Err(MetricError::ConstantMap);
    }
    let all = model.randomisation_stages()?;
    let picked = stages_to_run(all.len(), check.max_stages);
    let params = ExplainParams {
        target: Target::Index(original.provenance.target),
        ..params.clone()
    };
    let mut stages = Vec::with_capacity(picked.len());
    for (done, &i) in picked.iter().enumerate() {
        let stage = &all[i];
        let copy = model.randomised(stage, check.seed)?;
        let fraction = |f: f32| progress((done as f32 + f) / picked.len() as f32);
        let map = explain(&copy, input, &params, &fraction, cancel)?;
        let map_abs = absolute(&map.values);
        let constant = super::is_constant(&map_abs);
        let similarity = match spearman(&original_abs, &map_abs) {
            Err(MetricError::ConstantMap) if constant => 0.0,
            other => other?,
        };
        stages.push(StageResult {
            stage: stage.clone(),
            similarity,
            spearman_raw: spearman(&original.values, &map.values).ok(),
            constant,
        });
    }
    progress(1.0);
    let flagged = stages
        .last()
        .is_some_and(|s| s.similarity >= check.threshold);
    Ok(RandomisationCheck {
        stages,
        threshold: check.threshold,
        flagged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_spread_over_the_cascade_with_both_ends() {
        assert_eq!(stages_to_run(1, 3), [0]);
        assert_eq!(stages_to_run(2, 3), [0, 1]);
        assert_eq!(stages_to_run(10, 3), [0, 5, 9]);
        assert_eq!(stages_to_run(10, 1), [9]);
        assert!(stages_to_run(0, 3).is_empty());
    }
}
