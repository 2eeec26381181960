//! The explanation engine: which pixels of a slice drove a model's score for one class.
//!
//! One file per method. Each declares a `METHOD: MethodInfo`: its CLI/serde name, the model
//! capabilities it needs, whether its map is signed, whether it is stochastic or long, its default
//! sample count, and its [`Explainer`] (parameter check and attribution); its typed parameters
//! are a field of [`ExplainParams`]. `methods!` below registers it, one line per method, and
//! makes [`Method`] from the list. The steps methods share are written once: parameter and
//! capability checks, target scoring and resizing the map back to the slice ([`explain`]),
//! batching, progress, cancellation and the seeded generator ([`run`]), the CAM pipeline
//! ([`cam`]), the superpixel surrogate of LIME and KernelSHAP ([`surrogate`]) and its weighted
//! linear regression ([`regression`]). docs/EXPLAIN.md says how to add a method.
//!
//! Dependency rule: `explain/` uses tch, [`crate::model`] and [`crate::imaging`] only; it takes
//! tensors and plain arrays, never DICOM objects, and knows nothing about the UI.
//!
//! The GUI calls [`explain`] from its worker thread with a progress callback and a cancel flag;
//! the CLI (`radlens explain`) does the same on the main thread.

mod cam;
mod error;
mod gradcam;
mod gradcam_plusplus;
mod heatmap;
mod integrated_gradients;
mod kernel_shap;
mod lime;
pub mod metrics;
mod occlusion;
mod params;
mod regression;
mod rollout;
mod run;
mod scorecam;
mod scored;
mod smoothgrad;
mod surrogate;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use tch::{Device, Kind, Tensor};

pub use error::ExplainError;
pub use heatmap::{Heatmap, Normalisation, Provenance};
pub use integrated_gradients::{IgParams, IgRule};
pub use kernel_shap::KernelShapParams;
pub use lime::LimeParams;
pub use occlusion::OcclusionParams;
pub use params::{DeepUnit, ExplainParams, MAX_BATCH, MAX_SAMPLES, Target};
pub use rollout::{HeadFusion, RolloutParams};
pub use scored::explain_scored;
pub use smoothgrad::SmoothGradParams;
pub use surrogate::SuperpixelParams;

use crate::model::{Capability, Manifest, Model, preprocess_slice};
use run::Run;

/// Everything about one method, declared once in its file as `METHOD`.
struct MethodInfo {
    /// The CLI and serde name. Review files, export sidecars and JSON outputs store it: never
    /// rename one.
    name: &'static str,
    /// What the model must offer ([`explain`] refuses with the missing one's reason).
    needs: &'static [Capability],
    /// The map carries a sign (positive: for the class); otherwise it is >= 0.
    signed: bool,
    /// Draws from the run's seeded generator ([`Run::rng`]); the provenance records the seed.
    stochastic: bool,
    /// Runs many inputs in batches: worth a progress display; the provenance records the batch
    /// size.
    long: bool,
    /// Default of [`ExplainParams::samples`]; `None`: the method ignores it.
    samples: Option<usize>,
    explainer: &'static dyn Explainer,
}

/// Registers the methods, in menu order: `Variant => module` (the module's `METHOD` says the
/// rest). Makes [`Method`], [`Method::ALL`] and the lookup of each method's [`MethodInfo`].
macro_rules! methods {
    ($($(#[$doc:meta])* $variant:ident => $module:ident,)+) => {
        /// The explanation methods. Serialised and parsed by their CLI names ([`Method::name`]).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Method {
            $($(#[$doc])* $variant,)+
        }

        impl Method {
            pub const ALL: [Self; [$(stringify!($variant)),+].len()] = [$(Self::$variant),+];

            /// Every CLI name, in [`Self::ALL`]'s order.
            const NAMES: [&'static str; Self::ALL.len()] = [$($module::METHOD.name),+];

            fn info(self) -> &'static MethodInfo {
                match self {
                    $(Self::$variant => &$module::METHOD,)+
                }
            }
        }
    };
}

methods! {
    /// `gradcam`: pytorch-grad-cam `GradCAM`.
    GradCam => gradcam,
    /// `gradcam++`: pytorch-grad-cam `GradCAMPlusPlus`.
    GradCamPlusPlus => gradcam_plusplus,
    /// `scorecam`: pytorch-grad-cam `ScoreCAM`.
    ScoreCam => scorecam,
    /// `ig`: Captum `IntegratedGradients`.
    IntegratedGradients => integrated_gradients,
    /// `smoothgrad`: Captum `NoiseTunnel(Saliency)`, smoothgrad.
    SmoothGrad => smoothgrad,
    /// `occlusion`: Captum `Occlusion`.
    Occlusion => occlusion,
    /// `lime`: `lime_image` on SLIC superpixels.
    Lime => lime,
    /// `kernelshap`: Captum `KernelShap` on SLIC superpixels.
    KernelShap => kernel_shap,
    /// `rollout`: attention rollout (Abnar & Zuidema 2020, as jacobgil's `vit_explain`).
    Rollout => rollout,
}

impl Method {
    /// The CLI name.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// All CLI names, comma-separated (for messages).
    #[must_use]
    pub fn names() -> String {
        Self::NAMES.join(", ")
    }

    /// The method called `name` (CLI name, case-insensitive).
    pub fn parse(name: &str) -> Result<Self, ExplainError> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| ExplainError::UnknownMethod(name.to_owned()))
    }

    /// The model capabilities the method needs.
    #[must_use]
    pub fn needs(self) -> &'static [Capability] {
        self.info().needs
    }

    /// Needs the model's `features`/`head` split (the CAM family).
    #[must_use]
    pub fn needs_cam(self) -> bool {
        self.needs().contains(&Capability::Cam)
    }

    /// The same map whatever class is asked for (attention rollout): the UI says so beside it.
    #[must_use]
    pub fn is_class_agnostic(self) -> bool {
        matches!(self, Self::Rollout)
    }

    /// Values carry a sign (positive: for the class, negative: against it); otherwise >= 0.
    #[must_use]
    pub fn is_signed(self) -> bool {
        self.info().signed
    }

    /// Uses random numbers (reproducible with [`ExplainParams::seed`]).
    #[must_use]
    pub fn is_stochastic(self) -> bool {
        self.info().stochastic
    }

    /// Runs many forward passes: worth a progress display.
    #[must_use]
    pub fn is_long(self) -> bool {
        self.info().long
    }

    /// What [`ExplainParams::samples`] `None` means for this method (IG steps, noisy copies,
    /// surrogate samples); `None`: the method takes no sample count.
    #[must_use]
    pub fn default_samples(self) -> Option<usize> {
        self.info().samples
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Method {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Method {
    /// The exact CLI name, as the former `#[serde(rename)]`s matched it.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <String as serde::Deserialize>::deserialize(deserializer)?;
        Self::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| serde::de::Error::unknown_variant(&name, &Self::NAMES))
    }
}

/// What to explain: the model input `[1, C, H, W]` and the slice grid the heatmap goes back to.
pub struct ExplainInput {
    pub tensor: Tensor,
    /// Rows and columns of the source slice: the heatmap is resized (bilinear) to this grid.
    pub source_rows: usize,
    pub source_cols: usize,
}

impl ExplainInput {
    /// A slice's values, preprocessed as the manifest says; the heatmap comes back on its grid.
    pub fn from_slice(
        values: &[f32],
        rows: usize,
        cols: usize,
        manifest: &Manifest,
    ) -> Result<Self, ExplainError> {
        Ok(Self {
            tensor: preprocess_slice(values, rows, cols, manifest)?,
            source_rows: rows,
            source_cols: cols,
        })
    }

    /// A ready model input `[1, C, H, W]`; the heatmap comes back as `[H, W]`.
    pub fn from_tensor(tensor: Tensor) -> Result<Self, ExplainError> {
        let size = tensor.size();
        let [1, _, h, w] = size[..] else {
            return Err(ExplainError::Input {
                reason: format!("input shape {size:?}, expected [1, C, H, W]"),
            });
        };
        Ok(Self {
            tensor,
            source_rows: h as usize,
            source_cols: w as usize,
        })
    }
}

/// One method's code: its parameter check, how it scores the input to pick the target, and the
/// attribution.
trait Explainer: Sync {
    /// Checks the method's own parameters (the common ones are checked before); `Err` is the
    /// reason.
    fn check(&self, _params: &ExplainParams) -> Result<(), String> {
        Ok(())
    }

    /// The logits `[1, K]` that pick the target: `forward(x)` without autograd, unless the method
    /// keeps a pass of its own for [`Self::attribute`] (the gradient CAMs).
    fn logits(&self, run: &mut Run<'_>) -> Result<Tensor, ExplainError> {
        Ok(tch::no_grad(|| run.model.forward(run.input))?)
    }

    /// The raw map for [`Run::target`].
    fn attribute(&self, run: &mut Run<'_>) -> Result<Attribution, ExplainError>;
}

/// A method's result before resizing: a map `[h, w]` (the feature grid for CAMs, the input grid
/// otherwise) and the parameters it actually used (the batch size, seed and generator are added
/// for the methods whose [`MethodInfo`] says they use them).
struct Attribution {
    map: Tensor,
    parameters: BTreeMap<String, serde_json::Value>,
}

/// Explains `params.target`'s score for `input` with `params.method`. `progress` receives the
/// fraction done in `[0, 1]`; setting `cancel` stops at the next batch with
/// [`ExplainError::Cancelled`]. Runs with autograd whatever the caller's grad mode is.
pub fn explain(
    model: &Model,
    input: &ExplainInput,
    params: &ExplainParams,
    progress: &dyn Fn(f32),
    cancel: &AtomicBool,
) -> Result<Heatmap, ExplainError> {
    let started = Instant::now();
    let method = params.method;
    let info = method.info();
    params.check()?;
    if let Some((capability, reason)) = model.capabilities.missing(info.needs) {
        return Err(ExplainError::Unsupported {
            method: info.name,
            capability,
            reason: reason.to_owned(),
            path: model.path.clone(),
        });
    }
    let expected = model.input_size();
    if input.tensor.size() != expected {
        return Err(ExplainError::Input {
            reason: format!(
                "input shape {:?}, the model takes {expected:?}",
                input.tensor.size()
            ),
        });
    }
    if input.source_rows == 0 || input.source_cols == 0 {
        return Err(ExplainError::Input {
            reason: format!(
                "empty source grid {}x{}",
                input.source_rows, input.source_cols
            ),
        });
    }
    let torch = |e: tch::TchError| torch_error(method, model, &e);
    let x = input
        .tensor
        .f_to_kind(Kind::Float)
        .and_then(|t| t.f_to_device(model.device))
        .map_err(torch)?
        .detach();
    let (attribution, target, score, forward_passes) = tch::with_grad(|| {
        let mut run = Run::new(model, &x, params, progress, cancel);
        let logits = info.explainer.logits(&mut run)?;
        let logits = to_vec(&logits).map_err(torch)?;
        run.target = params.target.resolve(&model.manifest.classes, &logits)?;
        let attribution = info.explainer.attribute(&mut run)?;
        let forward_passes = run.forward_passes();
        Ok::<_, ExplainError>((attribution, run.target, logits[run.target], forward_passes))
    })?;
    let values = to_source_grid(&attribution.map, expected, input)
        .and_then(|t| to_vec(&t))
        .map_err(torch)?;
    if values.iter().any(|v| !v.is_finite()) {
        return Err(ExplainError::NonFinite {
            method: method.name(),
            path: model.path.clone(),
        });
    }
    let mut parameters = attribution.parameters;
    if info.long {
        parameters.insert("batch_size".to_owned(), params.batch_size.into());
    }
    if info.stochastic {
        parameters.insert("seed".to_owned(), params.seed.into());
        parameters.insert("rng".to_owned(), run::RNG.into());
    }
    progress(1.0);
    Ok(Heatmap {
        values,
        rows: input.source_rows,
        cols: input.source_cols,
        provenance: Provenance {
            method,
            parameters,
            target,
            target_name: model.manifest.classes[target].clone(),
            score,
            model_name: model.manifest.name.clone(),
            model_path: model.path.clone(),
            input_size: [expected[2] as usize, expected[3] as usize],
            forward_passes,
            signed: info.signed,
            elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
        },
    })
}

/// The map `[h, w]` → the input grid `[H, W]` → the source grid, bilinear each time
/// (`align_corners = false`, as preprocessing resizes), skipping resizes to the same size.
fn to_source_grid(
    map: &Tensor,
    input_size: [i64; 4],
    input: &ExplainInput,
) -> Result<Tensor, tch::TchError> {
    let resize = |t: Tensor, size: [i64; 2]| -> Result<Tensor, tch::TchError> {
        let [_, _, h, w] = t.size()[..] else {
            return Ok(t);
        };
        if [h, w] == size {
            Ok(t)
        } else {
            t.f_upsample_bilinear2d(size, false, None, None)
        }
    };
    let [h, w] = map.size()[..] else {
        return Err(tch::TchError::Shape(format!(
            "attribution map of shape {:?}, expected [h, w]",
            map.size()
        )));
    };
    let map = map
        .f_to_device(Device::Cpu)?
        .f_to_kind(Kind::Float)?
        .f_reshape([1, 1, h, w])?;
    let map = resize(map, [input_size[2], input_size[3]])?;
    resize(map, [input.source_rows as i64, input.source_cols as i64])
}

/// A tensor's values, flattened, on the CPU.
fn to_vec(t: &Tensor) -> Result<Vec<f32>, tch::TchError> {
    let flat = t
        .f_to_device(Device::Cpu)?
        .f_to_kind(Kind::Float)?
        .f_contiguous()?
        .f_flatten(0, -1)?;
    Vec::<f32>::try_from(&flat)
}

fn torch_error(method: Method, model: &Model, e: &tch::TchError) -> ExplainError {
    ExplainError::Torch {
        method: method.name(),
        cause: crate::model::first_line(e),
        path: model.path.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_method_names_still_read_back() {
        // Review files, sidecars and JSON outputs hold these names.
        let saved = [
            "gradcam",
            "gradcam++",
            "scorecam",
            "ig",
            "smoothgrad",
            "occlusion",
            "lime",
            "kernelshap",
        ];
        for name in saved {
            let method: Method = serde_json::from_value(name.into()).unwrap();
            assert_eq!(method.name(), name);
        }
        assert!(serde_json::from_value::<Method>("GradCAM".into()).is_err());
    }

    #[test]
    fn every_method_has_its_own_name_and_serialises_by_it() {
        for method in Method::ALL {
            assert_eq!(serde_json::to_value(method).unwrap(), method.name());
            assert_eq!(Method::parse(method.name()).unwrap(), method);
        }
        let mut names = Method::NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Method::ALL.len());
    }
}
