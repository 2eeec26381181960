//! Integrated Gradients (Sundararajan et al. 2017), as Captum's `IntegratedGradients`:
//! `(x − b) · ∫₀¹ ∂f(b + α(x − b))/∂x dα`, the integral by Gauss–Legendre quadrature on `[0, 1]`
//! (Captum's default, 50 steps) or the trapezoid rule. The baseline `b` is a constant tensor
//! (default zeros). Completeness: the attributions sum to `f(x) − f(b)` up to the quadrature
//! error, reported as `convergence_delta` (Captum's `return_convergence_delta`). Channels are
//! summed into one map (which keeps completeness).

use std::collections::BTreeMap;

use tch::{Kind, Tensor};

use super::run::Run;
use super::{Attribution, ExplainError, ExplainParams, Explainer, MethodInfo};
use crate::model::Capability;

pub(super) const METHOD: MethodInfo = MethodInfo {
    name: "ig",
    needs: &[Capability::Gradients],
    signed: true,
    stochastic: false,
    long: true,
    samples: Some(DEFAULT_STEPS),
    explainer: &IntegratedGradients,
};

struct IntegratedGradients;

/// Captum's default `n_steps`.
const DEFAULT_STEPS: usize = 50;

/// Integrated Gradients' knobs (the steps are [`ExplainParams::samples`]). Saved under the keys
/// `ig_baseline` and `ig_rule`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct IgParams {
    /// The baseline's value (the baseline is a constant tensor shaped like the input, in the
    /// model's normalised input space as Captum's zeros are).
    #[serde(rename = "ig_baseline")]
    pub baseline: f32,
    #[serde(rename = "ig_rule")]
    pub rule: IgRule,
}

/// How the path integral is approximated (Captum's `method`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum IgRule {
    /// `gausslegendre`: nodes and weights of the n-point Gauss–Legendre rule mapped to `[0, 1]`.
    #[default]
    #[serde(rename = "gausslegendre")]
    GaussLegendre,
    /// `riemann_trapezoid`: n evenly spaced points including both ends, end weights halved.
    #[serde(rename = "riemann_trapezoid")]
    RiemannTrapezoid,
}

impl IgRule {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::GaussLegendre => "gausslegendre",
            Self::RiemannTrapezoid => "riemann_trapezoid",
        }
    }

    /// `(α_i, w_i)` with `Σ w_i g(α_i) ≈ ∫₀¹ g`.
    #[must_use]
    pub fn nodes(self, n: usize) -> (Vec<f64>, Vec<f64>) {
        match self {
            Self::GaussLegendre => {
                let (x, w) = gauss_legendre(n);
                (
                    x.iter().map(|x| 0.5 * (1.0 + x)).collect(),
                    w.iter().map(|w| 0.5 * w).collect(),
                )
            }
            Self::RiemannTrapezoid => {
                if n < 2 {
                    return (vec![0.5; n], vec![1.0; n]);
                }
                let h = 1.0 / (n - 1) as f64;
                let alphas = (0..n).map(|i| i as f64 * h).collect();
                let weights = (0..n)
                    .map(|i| if i == 0 || i == n - 1 { h / 2.0 } else { h })
                    .collect();
                (alphas, weights)
            }
        }
    }
}

/// Nodes (ascending, in `[-1, 1]`) and weights of the n-point Gauss–Legendre rule: the roots of
/// the Legendre polynomial `P_n` by Newton's method from Tricomi's initial guesses.
fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut nodes = vec![0.0; n];
    let mut weights = vec![0.0; n];
    let nf = n as f64;
    for i in 0..n.div_ceil(2) {
        let mut z = (std::f64::consts::PI * (i as f64 + 0.75) / (nf + 0.5)).cos();
        let mut derivative = 1.0;
        for _ in 0..100 {
            // P_n(z) by the three-term recurrence, and P_n'(z).
            let (mut p0, mut p1) = (1.0, z);
            for k in 2..=n {
                let k = k as f64;
                let p2 = ((2.0 * k - 1.0) * z * p1 - (k - 1.0) * p0) / k;
                p0 = p1;
                p1 = p2;
            }
            let pn = if n == 0 { 1.0 } else { p1 };
            let pn_1 = if n == 1 { 1.0 } else { p0 };
            derivative = nf * (z * pn - pn_1) / (z * z - 1.0);
            let step = pn / derivative;
            z -= step;
            if step.abs() < 1e-15 {
                break;
            }
        }
        let w = 2.0 / ((1.0 - z * z) * derivative * derivative);
        nodes[i] = -z;
        nodes[n - 1 - i] = z;
        weights[i] = w;
        weights[n - 1 - i] = w;
    }
    (nodes, weights)
}

impl Explainer for IntegratedGradients {
    fn check(&self, params: &ExplainParams) -> Result<(), String> {
        if params.ig.rule == IgRule::RiemannTrapezoid && params.sample_count() < 2 {
            return Err("the trapezoid rule needs at least 2 steps".to_owned());
        }
        Ok(())
    }

    fn attribute(&self, run: &mut Run<'_>) -> Result<Attribution, ExplainError> {
        let params = &run.params.ig;
        let steps = run.samples();
        let (alphas, weights) = params.rule.nodes(steps);
        let x = run.input.shallow_clone();
        let torch = |e: &tch::TchError| run.torch(e);
        let baseline = x
            .f_full_like(f64::from(params.baseline))
            .map_err(|e| torch(&e))?;
        let difference = x.f_sub(&baseline).map_err(|e| torch(&e))?;
        let mut integral = x.f_zeros_like().map_err(|e| torch(&e))?;
        run.plan(steps + 2);
        run.input_gradients(
            steps,
            |range| {
                let len = range.len() as i64;
                let a: Vec<f32> = alphas[range].iter().map(|&a| a as f32).collect();
                Tensor::from_slice(&a)
                    .f_to_device(x.device())?
                    .f_reshape([len, 1, 1, 1])?
                    .f_mul(&difference)?
                    .f_add(&baseline)
            },
            |range, gradient| {
                let len = range.len() as i64;
                let w: Vec<f32> = weights[range].iter().map(|&w| w as f32).collect();
                let weighted = Tensor::from_slice(&w)
                    .f_to_device(gradient.device())?
                    .f_reshape([len, 1, 1, 1])?
                    .f_mul(gradient)?
                    .f_sum_dim_intlist([0i64].as_slice(), true, Kind::Float)?;
                integral = integral.f_add(&weighted)?;
                Ok(())
            },
        )?;
        let torch = |e: &tch::TchError| run.torch(e);
        let attributions = difference.f_mul(&integral).map_err(|e| torch(&e))?;
        let [_, _, h, w] = attributions.size()[..] else {
            return Err(run.invalid("input is not [1, C, H, W]"));
        };
        let map = attributions
            .f_sum_dim_intlist([0i64, 1].as_slice(), false, Kind::Float)
            .and_then(|m| m.f_reshape([h, w]))
            .map_err(|e| torch(&e))?;
        let total = f64::from(
            map.f_sum(Kind::Float)
                .and_then(|s| s.f_double_value(&[]))
                .map_err(|e| torch(&e))? as f32,
        );
        let ends = run.scores(2, |range| {
            Tensor::f_cat(&[&x, &baseline], 0)?.f_narrow(0, range.start as i64, range.len() as i64)
        })?;
        let delta = total - (f64::from(ends[0]) - f64::from(ends[1]));
        let parameters = BTreeMap::from([
            ("steps".to_owned(), steps.into()),
            ("rule".to_owned(), params.rule.name().into()),
            ("baseline".to_owned(), params.baseline.into()),
            ("convergence_delta".to_owned(), delta.into()),
            (
                "score_difference".to_owned(),
                (f64::from(ends[0]) - f64::from(ends[1])).into(),
            ),
        ]);
        Ok(Attribution { map, parameters })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_legendre_integrates_polynomials_exactly() {
        // n points integrate degree 2n-1 exactly: ∫₀¹ t^9 = 0.1 with 5 points.
        let (alphas, weights) = IgRule::GaussLegendre.nodes(5);
        let integral: f64 = alphas
            .iter()
            .zip(&weights)
            .map(|(a, w)| w * a.powi(9))
            .sum();
        assert!((integral - 0.1).abs() < 1e-12, "{integral}");
        let (alphas, weights) = IgRule::GaussLegendre.nodes(50);
        assert!((weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(alphas.windows(2).all(|w| w[0] < w[1]));
        assert!(alphas[0] > 0.0 && alphas[49] < 1.0);
    }

    #[test]
    fn trapezoid_includes_both_ends_with_half_weights() {
        let (alphas, weights) = IgRule::RiemannTrapezoid.nodes(5);
        assert_eq!(alphas, [0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(weights, [0.125, 0.25, 0.25, 0.25, 0.125]);
    }
}
