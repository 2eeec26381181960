//! The explanation engine: which pixels of a slice drove a model's score for one class.
//!
//! One file per method, each behind [`Explainer`]; the steps they share are written once:
//! target scoring, batching, progress and cancellation ([`run`]), resizing the map back to the
//! slice ([`explain`]), the CAM pipeline ([`cam`]), the superpixel surrogate of LIME and
//! KernelSHAP ([`surrogate`]) and its weighted linear regression ([`regression`]).
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
mod regression;
mod run;
mod scorecam;
mod smoothgrad;
mod surrogate;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use tch::{Device, Kind, Tensor};

pub use error::ExplainError;
pub use heatmap::{Heatmap, Normalisation, Provenance};
pub use integrated_gradients::IgRule;

use crate::model::{CamSupport, Manifest, Model, preprocess_slice};
use run::Run;

/// The explanation methods (CLI names in brackets).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Method {
    /// `gradcam`: pytorch-grad-cam `GradCAM`.
    #[serde(rename = "gradcam")]
    GradCam,
    /// `gradcam++`: pytorch-grad-cam `GradCAMPlusPlus`.
    #[serde(rename = "gradcam++")]
    GradCamPlusPlus,
    /// `scorecam`: pytorch-grad-cam `ScoreCAM`.
    #[serde(rename = "scorecam")]
    ScoreCam,
    /// `ig`: Captum `IntegratedGradients`.
    #[serde(rename = "ig")]
    IntegratedGradients,
    /// `smoothgrad`: Captum `NoiseTunnel(Saliency)`, smoothgrad.
    #[serde(rename = "smoothgrad")]
    SmoothGrad,
    /// `occlusion`: Captum `Occlusion`.
    #[serde(rename = "occlusion")]
    Occlusion,
    /// `lime`: `lime_image` on SLIC superpixels.
    #[serde(rename = "lime")]
    Lime,
    /// `kernelshap`: Captum `KernelShap` on SLIC superpixels.
    #[serde(rename = "kernelshap")]
    KernelShap,
}

impl Method {
    pub const ALL: [Self; 8] = [
        Self::GradCam,
        Self::GradCamPlusPlus,
        Self::ScoreCam,
        Self::IntegratedGradients,
        Self::SmoothGrad,
        Self::Occlusion,
        Self::Lime,
        Self::KernelShap,
    ];

    /// The CLI name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::GradCam => "gradcam",
            Self::GradCamPlusPlus => "gradcam++",
            Self::ScoreCam => "scorecam",
            Self::IntegratedGradients => "ig",
            Self::SmoothGrad => "smoothgrad",
            Self::Occlusion => "occlusion",
            Self::Lime => "lime",
            Self::KernelShap => "kernelshap",
        }
    }

    /// All CLI names, comma-separated (for messages).
    #[must_use]
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }

    /// The method called `name` (CLI name, case-insensitive).
    pub fn parse(name: &str) -> Result<Self, ExplainError> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| ExplainError::UnknownMethod(name.to_owned()))
    }

    /// Needs the model's `features`/`head` split (the CAM family).
    #[must_use]
    pub fn needs_cam(self) -> bool {
        matches!(self, Self::GradCam | Self::GradCamPlusPlus | Self::ScoreCam)
    }

    /// Uses random numbers (reproducible with [`ExplainParams::seed`]).
    #[must_use]
    pub fn is_stochastic(self) -> bool {
        matches!(self, Self::SmoothGrad | Self::Lime | Self::KernelShap)
    }

    /// Runs many forward passes: worth a progress display.
    #[must_use]
    pub fn is_long(self) -> bool {
        !matches!(self, Self::GradCam | Self::GradCamPlusPlus)
    }

    fn explainer(self) -> &'static dyn Explainer {
        match self {
            Self::GradCam => &gradcam::GradCam,
            Self::GradCamPlusPlus => &gradcam_plusplus::GradCamPlusPlus,
            Self::ScoreCam => &scorecam::ScoreCam,
            Self::IntegratedGradients => &integrated_gradients::IntegratedGradients,
            Self::SmoothGrad => &smoothgrad::SmoothGrad,
            Self::Occlusion => &occlusion::Occlusion,
            Self::Lime => &lime::Lime,
            Self::KernelShap => &kernel_shap::KernelShap,
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
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

    fn resolve(&self, classes: &[String], logits: &[f32]) -> Result<usize, ExplainError> {
        let missing = |target: String| ExplainError::Target {
            target,
            count: classes.len(),
            classes: classes.join(", "),
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

/// How to explain: the method, the class, and the knobs. Defaults follow the reference
/// implementations (docs/EXPLAIN.md); each method reads only its own fields.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ExplainParams {
    pub method: Method,
    pub target: Target,
    /// Inputs per forward pass (every method batches its forward passes).
    pub batch_size: usize,
    /// Seed of the ChaCha8 generator of the stochastic methods (SmoothGrad, LIME, KernelSHAP).
    pub seed: u64,
    /// IG steps, SmoothGrad noisy copies, LIME/KernelSHAP samples; `None`: the method's default.
    pub samples: Option<usize>,
    /// IG: the baseline's value (the baseline is a constant tensor shaped like the input).
    pub ig_baseline: f32,
    pub ig_rule: IgRule,
    /// SmoothGrad: noise σ as a fraction of the input's value range.
    pub noise_fraction: f32,
    /// Occlusion: window side in input pixels (`None`: 1/8 of each side).
    pub occlusion_window: Option<usize>,
    /// Occlusion: stride (`None`: half the window).
    pub occlusion_stride: Option<usize>,
    /// Occlusion: the value an occluded window takes.
    pub occlusion_baseline: f32,
    /// LIME/KernelSHAP: SLIC's requested number of superpixels.
    pub superpixels: usize,
    /// LIME/KernelSHAP: SLIC compactness (intensities scaled to [0, 1]).
    pub compactness: f32,
    /// LIME: width of the exponential kernel on the cosine distance.
    pub kernel_width: f64,
    /// LIME: ridge penalty of the surrogate.
    pub ridge_alpha: f64,
    /// KernelSHAP: the value a superpixel that is "off" takes.
    pub shap_baseline: f32,
}

impl Default for ExplainParams {
    fn default() -> Self {
        Self {
            method: Method::GradCam,
            target: Target::Top,
            batch_size: 16,
            seed: 0,
            samples: None,
            ig_baseline: 0.0,
            ig_rule: IgRule::GaussLegendre,
            noise_fraction: 0.15,
            occlusion_window: None,
            occlusion_stride: None,
            occlusion_baseline: 0.0,
            superpixels: 100,
            compactness: 0.1,
            kernel_width: 0.25,
            ridge_alpha: 1.0,
            shap_baseline: 0.0,
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

    fn invalid(&self, reason: impl Into<String>) -> ExplainError {
        ExplainError::Parameter {
            method: self.method.name(),
            reason: reason.into(),
        }
    }

    fn check(&self) -> Result<(), ExplainError> {
        if self.batch_size == 0 {
            return Err(self.invalid("batch size must be at least 1"));
        }
        if self.samples == Some(0) {
            return Err(self.invalid("samples must be at least 1"));
        }
        if !(self.noise_fraction.is_finite() && self.noise_fraction >= 0.0) {
            return Err(self.invalid(format!(
                "noise fraction must be >= 0, is {}",
                self.noise_fraction
            )));
        }
        if self.superpixels == 0 {
            return Err(self.invalid("superpixels must be at least 1"));
        }
        if !(self.kernel_width > 0.0 && self.ridge_alpha >= 0.0 && self.compactness > 0.0) {
            return Err(self.invalid("kernel width and compactness must be > 0, ridge alpha >= 0"));
        }
        Ok(())
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

/// One method: turns the run's input into a raw attribution map.
trait Explainer: Sync {
    fn attribute(&self, run: &mut Run<'_>) -> Result<Attribution, ExplainError>;
}

/// A method's result before resizing: a map `[h, w]` (the feature grid for CAMs, the input grid
/// otherwise) and the parameters it actually used.
struct Attribution {
    map: Tensor,
    parameters: BTreeMap<String, serde_json::Value>,
}

/// Explains `params.target`'s score for `input` with `params.method`. `progress` receives the
/// fraction done in `[0, 1]`; setting `cancel` stops at the next batch with
/// [`ExplainError::Cancelled`]. Runs with autograd on whatever the caller's grad mode is.
pub fn explain(
    model: &Model,
    input: &ExplainInput,
    params: &ExplainParams,
    progress: &dyn Fn(f32),
    cancel: &AtomicBool,
) -> Result<Heatmap, ExplainError> {
    let started = Instant::now();
    params.check()?;
    let method = params.method;
    if method.needs_cam()
        && let CamSupport::Unavailable(reason) = &model.cam
    {
        return Err(ExplainError::CamUnavailable {
            method: method.name(),
            reason: reason.clone(),
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
    // Gradient CAMs read the target off their own features → head pass instead of running the
    // model twice (as pytorch-grad-cam does); the others score the input with `forward`.
    let cam_pass = if matches!(method, Method::GradCam | Method::GradCamPlusPlus) {
        Some(tch::with_grad(|| cam::cam_pass(model, &x))?)
    } else {
        None
    };
    let logits = match &cam_pass {
        Some((_, logits)) => logits.detach(),
        None => tch::no_grad(|| model.forward(&x))?,
    };
    let logits = to_vec(&logits).map_err(torch)?;
    let target = params.target.resolve(&model.manifest.classes, &logits)?;
    let score = logits[target];
    let (attribution, forward_passes) = tch::with_grad(|| {
        let mut run = Run::new(model, &x, target, params, progress, cancel);
        run.cam_pass = cam_pass;
        let attribution = method.explainer().attribute(&mut run)?;
        Ok::<_, ExplainError>((attribution, run.forward_passes()))
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
    progress(1.0);
    Ok(Heatmap {
        values,
        rows: input.source_rows,
        cols: input.source_cols,
        provenance: Provenance {
            method,
            parameters: attribution.parameters,
            target,
            target_name: model.manifest.classes[target].clone(),
            score,
            model_name: model.manifest.name.clone(),
            model_path: model.path.clone(),
            input_size: [expected[2] as usize, expected[3] as usize],
            forward_passes,
            signed: !matches!(
                method,
                Method::GradCam | Method::GradCamPlusPlus | Method::ScoreCam | Method::SmoothGrad
            ),
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
