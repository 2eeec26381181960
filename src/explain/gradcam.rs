//! Grad-CAM (Selvaraju et al. 2017), as pytorch-grad-cam's `GradCAM`: each activation channel is
//! weighted by the spatial mean of the target's gradient over it.

use tch::Kind;

use super::run::Run;
use super::{Attribution, ExplainError, Explainer, cam};

pub(super) struct GradCam;

impl Explainer for GradCam {
    fn attribute(&self, run: &mut Run<'_>) -> Result<Attribution, ExplainError> {
        cam::gradient_cam(run, |_, gradient| {
            gradient.f_mean_dim([2i64, 3].as_slice(), false, Kind::Float)
        })
    }
}
