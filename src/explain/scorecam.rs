//! Score-CAM (Wang et al. 2020), as pytorch-grad-cam's `ScoreCAM`: each activation channel,
//! upsampled to the input (bilinear, `align_corners = true` like its `UpsamplingBilinear2d`) and
//! min–max normalised (`+ 1e-8`), masks the input; the target's logits for the `D` masked inputs,
//! softmaxed over the channels, are the channel weights. No gradients.

use tch::{Kind, Tensor};

use super::run::Run;
use super::{Attribution, ExplainError, Explainer, MethodInfo, cam};
use crate::model::Capability;

pub(super) const METHOD: MethodInfo = MethodInfo {
    name: "scorecam",
    needs: &[Capability::Cam],
    signed: false,
    stochastic: false,
    long: true,
    samples: None,
    explainer: &ScoreCam,
};

struct ScoreCam;

/// The reference's ε in the min–max normalisation.
const EPS: f64 = 1e-8;

impl Explainer for ScoreCam {
    fn attribute(&self, run: &mut Run<'_>) -> Result<Attribution, ExplainError> {
        run.check_cancel()?;
        let a = tch::no_grad(|| run.model.feature_maps(run.input))?.detach();
        let channels = a.size()[1];
        let masks = normalised_masks(&a, run.input_chw()).map_err(|e| run.torch(&e))?;
        run.plan(channels as usize);
        let input = run.input.shallow_clone();
        let scores = run.scores(channels as usize, |range| {
            masks
                .f_narrow(0, range.start as i64, range.len() as i64)?
                .f_mul(&input)
        })?;
        let map = Tensor::from_slice(&scores)
            .f_to_device(a.device())
            .and_then(|s| s.f_reshape([1, channels]))
            .and_then(|s| s.f_softmax(-1, Kind::Float))
            .and_then(|w| cam::combine(&a, &w))
            .map_err(|e| run.torch(&e))?;
        Ok(Attribution {
            map,
            parameters: cam::feature_grid(run.model, &a),
        })
    }
}

/// `A[1, D, h, w]` → masks `[D, 1, H, W]` in `[0, 1]`.
fn normalised_masks(a: &Tensor, [_, h, w]: [i64; 3]) -> Result<Tensor, tch::TchError> {
    let channels = a.size()[1];
    let up = a
        .f_upsample_bilinear2d([h, w], true, None, None)?
        .f_reshape([channels, 1, h, w])?;
    let flat = up.f_reshape([channels, h * w])?;
    let max = flat
        .f_amax([1i64].as_slice(), false)?
        .f_reshape([channels, 1, 1, 1])?;
    let min = flat
        .f_amin([1i64].as_slice(), false)?
        .f_reshape([channels, 1, 1, 1])?;
    up.f_sub(&min)?.f_div(&max.f_sub(&min)?.f_add_scalar(EPS)?)
}
