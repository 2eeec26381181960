//! Grad-CAM (Selvaraju et al. 2017), as pytorch-grad-cam's `GradCAM`: each activation channel is
//! weighted by the spatial mean of the target's gradient over it.

use tch::{Kind, Tensor};

use super::run::Run;
use super::{Attribution, ExplainError, Explainer, MethodInfo, cam};
use crate::model::Capability;

pub(super) const METHOD: MethodInfo = MethodInfo {
    name: "gradcam",
    needs: &[Capability::Cam],
    signed: false,
    stochastic: false,
    long: false,
    samples: None,
    explainer: &GradCam,
};

struct GradCam;

impl Explainer for GradCam {
    fn logits(&self, run: &mut Run<'_>) -> Result<Tensor, ExplainError> {
        cam::logits_of_own_pass(run)
    }

    fn attribute(&self, run: &mut Run<'_>) -> Result<Attribution, ExplainError> {
        cam::gradient_cam(run, |_, gradient| {
            gradient.f_mean_dim([2i64, 3].as_slice(), false, Kind::Float)
        })
    }
}
