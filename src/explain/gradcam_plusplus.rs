//! Grad-CAM++ (Chattopadhay et al. 2018), as pytorch-grad-cam's `GradCAMPlusPlus`: with `g` the
//! target's gradient and `A` the activations,
//! `α = g² / (2·g² + Σ_ij A · g³ + 1e-6)` (0 where `g = 0`) and `w_k = Σ_ij α · ReLU(g)`.
//! (The closed form assumes the score is an exponential of the logit, as the reference does.)

use tch::{Kind, Tensor};

use super::run::Run;
use super::{Attribution, ExplainError, Explainer, MethodInfo, cam};
use crate::model::Capability;

pub(super) const METHOD: MethodInfo = MethodInfo {
    name: "gradcam++",
    needs: &[Capability::Cam],
    signed: false,
    stochastic: false,
    long: false,
    samples: None,
    explainer: &GradCamPlusPlus,
};

struct GradCamPlusPlus;

/// The reference's ε in α's denominator.
const EPS: f64 = 1e-6;

impl Explainer for GradCamPlusPlus {
    fn logits(&self, run: &mut Run<'_>) -> Result<Tensor, ExplainError> {
        cam::logits_of_own_pass(run)
    }

    fn attribute(&self, run: &mut Run<'_>) -> Result<Attribution, ExplainError> {
        cam::gradient_cam(run, weights)
    }
}

fn weights(a: &Tensor, g: &Tensor) -> Result<Tensor, tch::TchError> {
    let hw = [2i64, 3].as_slice();
    let g2 = g.f_pow_tensor_scalar(2)?;
    let g3 = g2.f_mul(g)?;
    let sum_a = a.f_sum_dim_intlist(hw, true, Kind::Float)?;
    let denominator = g2
        .f_mul_scalar(2)?
        .f_add(&sum_a.f_mul(&g3)?)?
        .f_add_scalar(EPS)?;
    let alpha = g2.f_div(&denominator)?;
    let alpha = alpha.f_where_self(&g.f_ne(0)?, &alpha.f_zeros_like()?)?;
    alpha
        .f_mul(&g.f_relu()?)?
        .f_sum_dim_intlist(hw, false, Kind::Float)
}
