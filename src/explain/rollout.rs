//! Attention rollout (Abnar & Zuidema 2020), as jacobgil's `vit_explain` (the recipe
//! pytorch-grad-cam points to for ViTs): per block the heads' attention `[T, T]` is fused (mean,
//! max or min over heads), optionally its lowest `discard_ratio` entries are zeroed (never the
//! class token's attention to itself), then `0.5·A + 0.5·I` with each row renormalised to sum 1;
//! the blocks' matrices are multiplied in order (`R = A_L · … · A_1`), and the class token's row
//! of `R` over the patch tokens, on the patch grid, is the map.
//!
//! Rollout is **class-agnostic**: it follows how information flows to the class token, whatever
//! class is asked for (the target only names the class in the provenance). The class-specific
//! maps of a transformer are the CAMs on its tokens and the model-agnostic methods.

use std::collections::BTreeMap;

use tch::{Kind, Tensor};

use super::run::Run;
use super::{Attribution, ExplainError, ExplainParams, Explainer, MethodInfo};
use crate::model::Capability;

pub(super) const METHOD: MethodInfo = MethodInfo {
    name: "rollout",
    needs: &[Capability::Attention],
    signed: false,
    stochastic: false,
    long: false,
    samples: None,
    explainer: &Rollout,
};

struct Rollout;

/// How the heads of one block are fused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadFusion {
    #[default]
    Mean,
    Max,
    Min,
}

impl HeadFusion {
    pub const ALL: [Self; 3] = [Self::Mean, Self::Max, Self::Min];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Mean => "mean",
            Self::Max => "max",
            Self::Min => "min",
        }
    }
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// Rollout's knobs, saved under `rollout_head_fusion` and `rollout_discard_ratio` (left out of a
/// saved file when they are the defaults, so files of the other methods keep their keys).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RolloutParams {
    #[serde(rename = "rollout_head_fusion", skip_serializing_if = "is_default")]
    pub head_fusion: HeadFusion,
    /// Fraction of each fused block's entries (lowest first) set to 0, in `[0, 1)`.
    #[serde(rename = "rollout_discard_ratio", skip_serializing_if = "is_default")]
    pub discard_ratio: f32,
}

impl Explainer for Rollout {
    fn check(&self, params: &ExplainParams) -> Result<(), String> {
        let ratio = params.rollout.discard_ratio;
        if (0.0..1.0).contains(&ratio) {
            Ok(())
        } else {
            Err(format!("discard ratio must be in [0, 1), is {ratio}"))
        }
    }

    fn attribute(&self, run: &mut Run<'_>) -> Result<Attribution, ExplainError> {
        run.check_cancel()?;
        let model = run.model;
        let tokens = model.token_layout().ok_or_else(|| ExplainError::Input {
            reason: "rollout needs the manifest's `[cam] tokens` layout".to_owned(),
        })?;
        let attention = tch::no_grad(|| model.attention(run.input))?;
        let params = &run.params.rollout;
        let [h, w] = tokens.grid.map(i64::from);
        let prefix = i64::from(tokens.prefix);
        let map = tch::no_grad(|| rollout(&attention, params, prefix, [h, w]))
            .map_err(|e| run.torch(&e))?;
        run.count(1);
        let layers = attention.size().get(1).copied().unwrap_or(0);
        let heads = attention.size().get(2).copied().unwrap_or(0);
        Ok(Attribution {
            map,
            parameters: BTreeMap::from([
                ("head_fusion".to_owned(), params.head_fusion.name().into()),
                (
                    "discard_ratio".to_owned(),
                    f64::from(params.discard_ratio).into(),
                ),
                ("layers".to_owned(), layers.into()),
                ("heads".to_owned(), heads.into()),
                ("token_layout".to_owned(), tokens.describe().into()),
                ("class_agnostic".to_owned(), true.into()),
            ]),
        })
    }
}

/// The rollout of `attention[1, L, H, T, T]`: the class token's row over the patches, `[h, w]`.
fn rollout(
    attention: &Tensor,
    params: &RolloutParams,
    prefix: i64,
    [h, w]: [i64; 2],
) -> Result<Tensor, tch::TchError> {
    let size = attention.size();
    let (layers, t) = (size[1], size[3]);
    let attention = attention.f_to_kind(Kind::Float)?;
    let identity = Tensor::f_eye(t, (Kind::Float, attention.device()))?;
    let mut result = identity.shallow_clone();
    for layer in 0..layers {
        let block = attention.f_select(0, 0)?.f_select(0, layer)?;
        let fused = match params.head_fusion {
            HeadFusion::Mean => block.f_mean_dim([0i64].as_slice(), false, Kind::Float)?,
            HeadFusion::Max => block.f_amax([0i64].as_slice(), false)?,
            HeadFusion::Min => block.f_amin([0i64].as_slice(), false)?,
        };
        let fused = discard(&fused, params.discard_ratio, t)?;
        let a = fused.f_add(&identity)?.f_mul_scalar(0.5)?;
        let rows = a.f_sum_dim_intlist([1i64].as_slice(), true, Kind::Float)?;
        let a = a.f_div(&rows)?;
        result = a.f_matmul(&result)?;
    }
    result
        .f_select(0, 0)?
        .f_narrow(0, prefix, h * w)?
        .f_reshape([h, w])
}

/// `fused[T, T]` with its lowest `ratio · T²` entries set to 0, except entry 0 (the class token
/// to itself), as `vit_explain` discards.
fn discard(fused: &Tensor, ratio: f32, t: i64) -> Result<Tensor, tch::TchError> {
    let count = (f64::from(ratio) * (t * t) as f64).floor() as i64;
    if count == 0 {
        return Ok(fused.shallow_clone());
    }
    let flat = fused.f_reshape([t * t])?;
    let (_, lowest) = flat.f_topk(count, 0, false, true)?;
    let keep_first = lowest.f_ne(0)?;
    let lowest = lowest.f_masked_select(&keep_first)?;
    let zeros = Tensor::f_zeros(lowest.size(), (Kind::Float, fused.device()))?;
    flat.f_index_put(&[Some(lowest)], &zeros, false)?
        .f_reshape([t, t])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `[1, L, 1, T, T]` from row-major `T × T` blocks.
    fn attention(blocks: &[Vec<f32>], t: i64) -> Tensor {
        let flat: Vec<f32> = blocks.iter().flatten().copied().collect();
        Tensor::from_slice(&flat).reshape([1, blocks.len() as i64, 1, t, t])
    }

    #[test]
    fn one_block_is_half_attention_half_identity_renormalised() {
        // T = 3 (class + 2 patches): the class token attends 0.2 to itself, 0.8 to patch 2.
        let block = vec![0.2, 0.0, 0.8, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let map = rollout(
            &attention(&[block], 3),
            &RolloutParams::default(),
            1,
            [1, 2],
        )
        .unwrap();
        let values: Vec<f32> = Vec::try_from(map.flatten(0, -1)).unwrap();
        // Row 0 of 0.5·A + 0.5·I is [0.6, 0, 0.4] (sums to 1).
        assert!((values[0] - 0.0).abs() < 1e-6 && (values[1] - 0.4).abs() < 1e-6);
    }

    #[test]
    fn blocks_multiply_in_order() {
        // Block 1: patch 1 takes everything from patch 2; block 2: class reads patch 1 only.
        let first = vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0];
        let second = vec![0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let map = rollout(
            &attention(&[first, second], 3),
            &RolloutParams::default(),
            1,
            [1, 2],
        )
        .unwrap();
        let values: Vec<f32> = Vec::try_from(map.flatten(0, -1)).unwrap();
        // A1 = [[1,0,0],[0,.5,.5],[0,0,1]], A2 = [[.5,.5,0],[0,1,0],[0,0,1]];
        // (A2·A1) row 0 = [.5, .25, .25].
        assert!((values[0] - 0.25).abs() < 1e-6, "{values:?}");
        assert!((values[1] - 0.25).abs() < 1e-6, "{values:?}");
    }

    #[test]
    fn discarding_zeroes_the_lowest_entries_but_never_the_class_tokens_own() {
        let fused = Tensor::from_slice(&[0.0f32, 0.5, 0.1, 0.3]).reshape([2, 2]);
        let kept: Vec<f32> =
            Vec::try_from(discard(&fused, 0.5, 2).unwrap().flatten(0, -1)).unwrap();
        assert_eq!(kept, [0.0, 0.5, 0.0, 0.3]);
    }
}
