//! Arguments several subcommands share (`--model`, INPUT with `--slice`/`--series`, the
//! explanation knobs), their value checks, and the write policy every command writes under.

use std::path::PathBuf;

use anyhow::Result;

use crate::explain::{
    ExplainParams, HeadFusion, MAX_BATCH, MAX_SAMPLES, Method, RolloutParams, Target,
};
use crate::input::Input;
use crate::model::Model;
use crate::output::WritePolicy;

/// `--model M.pt`.
#[derive(Debug, clap::Args)]
pub struct ModelArg {
    /// TorchScript model (`M.pt`, with `M.toml` beside it).
    #[arg(long)]
    pub model: PathBuf,
}

impl ModelArg {
    /// Loads the model; warns when its manifest leaves preprocessing to the defaults.
    pub fn load(&self) -> Result<Model> {
        let model = Model::load(&self.model)?;
        let defaulted = model.manifest.defaulted_preprocessing();
        if !defaulted.is_empty() {
            tracing::warn!(
                "the manifest leaves preprocessing to defaults ({}); the answers depend on them: {}",
                defaulted.join(", "),
                crate::model::Manifest::path_for(&self.model).display()
            );
        }
        Ok(model)
    }
}

/// Warns when INPUT's modality is not the one the model was trained on.
pub fn warn_on_modality(model: &Model, input: &Input) {
    if let Some(warning) = model.manifest.modality_warning(&input.modality) {
        tracing::warn!("{warning}: {}", input.path.display());
    }
}

/// INPUT, `--slice`, `--series`.
#[derive(Debug, clap::Args)]
pub struct InputArgs {
    /// DICOM file or folder, PNG/JPEG image, or `.npy` float32 [C, H, W] model input.
    pub input: PathBuf,
    /// Slice of a series, in position order, counted from 0 (default: the middle one).
    #[arg(long, allow_negative_numbers = true, value_parser = index)]
    pub slice: Option<usize>,
    /// Series id or SeriesInstanceUID when INPUT holds several image series (see `radlens info`).
    #[arg(long)]
    pub series: Option<String>,
}

impl InputArgs {
    /// Reads INPUT (every slice of the series; its masks decoded `with_masks`).
    pub fn read(&self, with_masks: bool) -> Result<Input> {
        let input = Input::read(&self.input, self.series.as_deref(), with_masks)?;
        for warning in &input.warnings {
            tracing::warn!("{warning}");
        }
        Ok(input)
    }
}

/// The knobs of an explanation.
#[derive(Debug, clap::Args)]
pub struct ExplainOptions {
    /// Class to explain, by index (from 0) or manifest name (default: the top class); with
    /// `explain`, also `feature:K`: unit K of the model's `features` map pooled over the slice's
    /// ROI (its SEG / `*.mask.npy`; the whole map without one), or `embed:K`: component K of the
    /// model's `embed(x)` (gradient and perturbation methods).
    #[arg(long, allow_negative_numbers = true, value_parser = target)]
    pub target: Option<Target>,
    /// Seed of the stochastic methods (smoothgrad, lime, kernelshap).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// IG steps, SmoothGrad noisy copies, LIME/KernelSHAP samples (default: the method's;
    /// at most 100000).
    #[arg(long, allow_negative_numbers = true, value_parser = samples)]
    pub samples: Option<usize>,
    /// Inputs per forward pass (1 to 4096).
    #[arg(long, default_value_t = 16, allow_negative_numbers = true, value_parser = batch)]
    pub batch: usize,
    /// Attention rollout: how each block's heads are fused (mean, max, min).
    #[arg(long, default_value = "mean", value_parser = head_fusion)]
    pub head_fusion: HeadFusion,
    /// Attention rollout: fraction of each block's lowest attention entries set to 0, in [0, 1).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub discard_ratio: f32,
}

fn head_fusion(text: &str) -> Result<HeadFusion, String> {
    HeadFusion::ALL
        .into_iter()
        .find(|f| f.name().eq_ignore_ascii_case(text.trim()))
        .ok_or_else(|| format!("{text:?} is not a head fusion (mean, max, min)"))
}

impl ExplainOptions {
    /// The parameters of `method` with these knobs (the method's defaults otherwise).
    #[must_use]
    pub fn params(&self, method: Method) -> ExplainParams {
        ExplainParams {
            target: self.target.clone().unwrap_or_default(),
            seed: self.seed,
            samples: self.samples,
            batch_size: self.batch,
            rollout: RolloutParams {
                head_fusion: self.head_fusion,
                discard_ratio: self.discard_ratio,
            },
            ..ExplainParams::new(method)
        }
    }
}

/// A 0-based index: a negative one gets a range error instead of clap's "unexpected argument".
pub fn index(text: &str) -> Result<usize, String> {
    bounded(text, 0, usize::MAX, "an index counted from 0")
}

fn samples(text: &str) -> Result<usize, String> {
    bounded(text, 1, MAX_SAMPLES, "a sample count")
}

fn batch(text: &str) -> Result<usize, String> {
    bounded(text, 1, MAX_BATCH, "a batch size")
}

fn bounded(text: &str, min: usize, max: usize, what: &str) -> Result<usize, String> {
    let text = text.trim();
    match text.parse::<i128>() {
        Ok(v) if v >= min as i128 && v <= max as i128 => Ok(v as usize),
        Ok(v) if max == usize::MAX => Err(format!("{v} is not {what} (must be {min} or more)")),
        Ok(v) => Err(format!("{v} is out of range for {what} ({min} to {max})")),
        Err(_) => Err(format!("`{text}` is not {what}")),
    }
}

/// A class index (from 0) or a class name; a negative number is a range error.
fn target(text: &str) -> Result<Target, String> {
    if text.trim().starts_with('-') && text.trim().parse::<i128>().is_ok() {
        return Err(format!(
            "{} is not a class index (classes count from 0)",
            text.trim()
        ));
    }
    Ok(Target::parse(text))
}

/// A finite number (window centre/level, may be negative).
pub fn finite(text: &str) -> Result<f32, String> {
    match text.trim().parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("`{}` is not a finite number", text.trim())),
    }
}

/// A finite number above zero (window width).
pub fn positive(text: &str) -> Result<f32, String> {
    match finite(text)? {
        v if v > 0.0 => Ok(v),
        v => Err(format!("{v} must be above 0")),
    }
}

/// A fraction in [0, 1] (threshold, opacity).
pub fn fraction(text: &str) -> Result<f32, String> {
    match finite(text)? {
        v if (0.0..=1.0).contains(&v) => Ok(v),
        v => Err(format!("{v} must be in [0, 1]")),
    }
}

/// The policy for this command's outputs: never over a file it read (INPUT's files, masks,
/// the model and its companions), and over an existing output only with `force`.
#[must_use]
pub fn write_policy(input: &Input, model: Option<&Model>, force: bool) -> WritePolicy {
    let mut policy =
        WritePolicy::protecting(input.files_read.iter().cloned()).with_overwrite(force);
    if let Some(model) = model {
        policy.protect(model_files(model).into_iter().map(|(_, p)| p));
    }
    policy
}

/// The model's files with their roles (TorchScript, manifest, CAM split).
#[must_use]
pub fn model_files(model: &Model) -> Vec<(&'static str, PathBuf)> {
    model.manifest.files(&model.path)
}
