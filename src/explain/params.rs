//! How to explain: the method, the class, the knobs every method shares, and each method's own
//! typed parameters (declared in the method's file).

use super::{
    ExplainError, IgParams, KernelShapParams, LimeParams, Method, OcclusionParams, RolloutParams,
    SmoothGradParams, SuperpixelParams,
};

/// A deep feature explained instead of a class logit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeepUnit {
    /// Channel `k` of the `features` map pooled over the region.
    Feature(usize),
    /// Component `k` of `embed(x)` (of the whole input).
    Embed(usize),
}

impl std::fmt::Display for DeepUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Feature(k) => write!(f, "feature {k}"),
            Self::Embed(k) => write!(f, "embed {k}"),
        }
    }
}

/// Which class to explain. The score explained is always that class's logit.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Target {
    /// The class with the highest logit for this input.
    #[default]
    Top,
    Index(usize),
    /// A class name from the manifest (exact, else case-insensitive).
    Name(String),
}

impl Target {
    /// `"3"` → index 3, anything else → a class name.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        text.trim()
            .parse()
            .map_or_else(|_| Self::Name(text.trim().to_owned()), Self::Index)
    }

    /// Feature unit `k` of the model's `features` map pooled over a region (`feature:K`), as
    /// the CLI's `--target` and the features panel ask for it.
    #[must_use]
    pub fn feature(k: usize) -> Self {
        Self::Name(format!("feature:{k}"))
    }

    /// The unit of a [`Self::feature`] target.
    #[must_use]
    pub fn feature_unit(&self) -> Option<usize> {
        match self.deep_unit()? {
            DeepUnit::Feature(k) => Some(k),
            DeepUnit::Embed(_) => None,
        }
    }

    /// Component `k` of the model's `embed(x)` (`embed:K`).
    #[must_use]
    pub fn embed(k: usize) -> Self {
        Self::Name(format!("embed:{k}"))
    }

    /// The deep feature a `feature:K` or `embed:K` target names.
    #[must_use]
    pub fn deep_unit(&self) -> Option<DeepUnit> {
        let Self::Name(name) = self else { return None };
        if let Some(k) = name.strip_prefix("feature:") {
            return k.trim().parse().ok().map(DeepUnit::Feature);
        }
        name.strip_prefix("embed:")?
            .trim()
            .parse()
            .ok()
            .map(DeepUnit::Embed)
    }

    pub(super) fn resolve(
        &self,
        classes: &[String],
        logits: &[f32],
    ) -> Result<usize, ExplainError> {
        // Feature-unit models have one "class" per unit: name the first few, not all.
        let listed = match classes {
            [first @ .., _] if classes.len() > 8 => format!(
                "{}, …, {}",
                first[..6].join(", "),
                classes[classes.len() - 1]
            ),
            _ => classes.join(", "),
        };
        let missing = |target: String| ExplainError::Target {
            target,
            count: classes.len(),
            classes: listed.clone(),
        };
        match self {
            Self::Top => Ok(logits
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i)),
            Self::Index(i) if *i < classes.len() => Ok(*i),
            Self::Index(i) => Err(missing(i.to_string())),
            Self::Name(name) => classes
                .iter()
                .position(|c| c == name)
                .or_else(|| classes.iter().position(|c| c.eq_ignore_ascii_case(name)))
                .ok_or_else(|| missing(format!("`{name}`"))),
        }
    }
}

/// How to explain: the method, the class, the knobs every method shares, and one typed struct per
/// method family (each method reads only its own). Defaults follow the reference implementations
/// (docs/EXPLAIN.md).
///
/// Serialised flat, as review files and export sidecars have always stored it: the method
/// structs' fields carry the old key names (`ig_rule`, `occlusion_window`, `superpixels`, …), so
/// files written before and after read the same; missing keys take their defaults.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ExplainParams {
    pub method: Method,
    pub target: Target,
    /// Inputs per forward pass (every long method batches its forward passes).
    pub batch_size: usize,
    /// Seed of the ChaCha8 generator of the stochastic methods (SmoothGrad, LIME, KernelSHAP).
    pub seed: u64,
    /// IG steps, SmoothGrad noisy copies, LIME/KernelSHAP samples; `None`: the method's default
    /// ([`Method::default_samples`]).
    pub samples: Option<usize>,
    #[serde(flatten)]
    pub ig: IgParams,
    #[serde(flatten)]
    pub smoothgrad: SmoothGradParams,
    #[serde(flatten)]
    pub occlusion: OcclusionParams,
    /// LIME's and KernelSHAP's superpixels.
    #[serde(flatten)]
    pub superpixels: SuperpixelParams,
    #[serde(flatten)]
    pub lime: LimeParams,
    #[serde(flatten)]
    pub kernel_shap: KernelShapParams,
    #[serde(flatten)]
    pub rollout: RolloutParams,
}

impl Default for ExplainParams {
    fn default() -> Self {
        Self {
            method: Method::GradCam,
            target: Target::Top,
            batch_size: 16,
            seed: 0,
            samples: None,
            ig: IgParams::default(),
            smoothgrad: SmoothGradParams::default(),
            occlusion: OcclusionParams::default(),
            superpixels: SuperpixelParams::default(),
            lime: LimeParams::default(),
            kernel_shap: KernelShapParams::default(),
            rollout: RolloutParams::default(),
        }
    }
}

impl ExplainParams {
    /// Defaults for `method`.
    #[must_use]
    pub fn new(method: Method) -> Self {
        Self {
            method,
            ..Self::default()
        }
    }

    /// `samples`, else the method's default (0 for a method that takes no sample count).
    #[must_use]
    pub fn sample_count(&self) -> usize {
        self.samples
            .or(self.method.default_samples())
            .unwrap_or_default()
    }

    pub(super) fn invalid(&self, reason: impl Into<String>) -> ExplainError {
        ExplainError::Parameter {
            method: self.method.name(),
            reason: reason.into(),
        }
    }

    /// The shared knobs, then the method's own.
    pub(super) fn check(&self) -> Result<(), ExplainError> {
        if !(1..=MAX_BATCH).contains(&self.batch_size) {
            return Err(self.invalid(format!(
                "batch size must be 1 to {MAX_BATCH}, is {}",
                self.batch_size
            )));
        }
        if self.samples == Some(0) {
            return Err(self.invalid("samples must be at least 1"));
        }
        if let Some(samples) = self.samples.filter(|&s| s > MAX_SAMPLES) {
            return Err(self.invalid(format!(
                "samples must be at most {MAX_SAMPLES}, is {samples}"
            )));
        }
        self.method
            .info()
            .explainer
            .check(self)
            .map_err(|reason| self.invalid(reason))
    }
}

/// The most samples/steps a method may be asked for: LIME at 100 000 samples already takes hours
/// on a CPU (and its surrogate ~100 MB); beyond that is a typo, not a plan.
pub const MAX_SAMPLES: usize = 100_000;

/// The most inputs per forward pass.
pub const MAX_BATCH: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::IgRule;

    /// Every key a review file or export sidecar has stored (values exact in f32).
    const SAVED: &str = r#"{
        "method": "ig", "target": {"Index": 1}, "batch_size": 8, "seed": 3, "samples": 20,
        "ig_baseline": -1.0, "ig_rule": "riemann_trapezoid", "noise_fraction": 0.25,
        "occlusion_window": 4, "occlusion_stride": null, "occlusion_baseline": 0.5,
        "superpixels": 50, "compactness": 0.5, "kernel_width": 0.3, "ridge_alpha": 2.0,
        "shap_baseline": 0.25
    }"#;

    #[test]
    fn saved_params_read_into_the_typed_structs_and_serialise_to_the_same_keys() {
        let params: ExplainParams = serde_json::from_str(SAVED).unwrap();
        assert_eq!(params.method, Method::IntegratedGradients);
        assert_eq!(params.target, Target::Index(1));
        assert_eq!(
            (params.batch_size, params.seed, params.samples),
            (8, 3, Some(20))
        );
        assert_eq!(
            params.ig,
            IgParams {
                baseline: -1.0,
                rule: IgRule::RiemannTrapezoid
            }
        );
        assert!((params.smoothgrad.noise_fraction - 0.25).abs() < f32::EPSILON);
        assert_eq!(params.occlusion.window, Some(4));
        assert_eq!(params.occlusion.stride, None);
        assert_eq!(params.superpixels.count, 50);
        assert!((params.lime.ridge_alpha - 2.0).abs() < f64::EPSILON);
        assert!((params.kernel_shap.baseline - 0.25).abs() < f32::EPSILON);
        let saved: serde_json::Value = serde_json::from_str(SAVED).unwrap();
        assert_eq!(serde_json::to_value(&params).unwrap(), saved);
    }

    #[test]
    fn missing_keys_take_the_defaults() {
        let params: ExplainParams = serde_json::from_str(r#"{"method": "lime"}"#).unwrap();
        assert_eq!(params, ExplainParams::new(Method::Lime));
        assert_eq!(params.batch_size, 16);
        assert_eq!(params.superpixels.count, 100);
        assert_eq!(params.sample_count(), 1000);
    }
}
