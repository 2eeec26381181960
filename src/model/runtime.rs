//! Loading a TorchScript model with its manifest, checking it keeps the contract, predicting.

use std::path::{Path, PathBuf};

use tch::{CModule, Device, Kind, Tensor};

use super::error::{ModelError, first_line};
use super::manifest::Manifest;

/// Whether the CAM family of explanations can run on this model, and why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CamSupport {
    /// `features(x)` and `head(A)` exist and `head(features(x)) == forward(x)`.
    Available,
    Unavailable(String),
}

/// Class probabilities for one input.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Prediction {
    pub classes: Vec<String>,
    pub probabilities: Vec<f32>,
    /// Index of the most probable class.
    pub top: usize,
}

/// A validated model, ready to predict.
pub struct Model {
    pub manifest: Manifest,
    pub path: PathBuf,
    pub cam: CamSupport,
    pub device: Device,
    module: CModule,
}

impl Model {
    /// Loads `M.pt` and `M.toml` beside it, then checks the contract: `forward` on a zero input of
    /// the declared shape gives finite logits `[1, classes]`; `head(features(x))` matches when the
    /// module exports both (else CAM is unavailable, with the reason).
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let manifest = Manifest::read(&Manifest::path_for(path))?;
        let device = Device::cuda_if_available();
        let module = CModule::load_on_device(path, device).map_err(|e| ModelError::Load {
            cause: first_line(&e),
            path: path.to_owned(),
        })?;
        let contract = |reason: String| ModelError::Contract {
            reason,
            path: path.to_owned(),
        };
        let shape = manifest.input;
        let zeros = Tensor::zeros(
            [
                1,
                i64::from(shape.channels),
                i64::from(shape.height),
                i64::from(shape.width),
            ],
            (Kind::Float, device),
        );
        let logits = tch::no_grad(|| module.forward_ts(&[&zeros])).map_err(|e| {
            contract(format!(
                "forward fails on a zero input of the declared shape: {}",
                first_line(&e)
            ))
        })?;
        let expected = [1, manifest.classes.len() as i64];
        if logits.size() != expected {
            return Err(contract(format!(
                "forward returns shape {:?}, the manifest's {} classes need {expected:?}",
                logits.size(),
                manifest.classes.len()
            )));
        }
        if !all_finite(&logits) {
            return Err(contract(
                "forward returns NaN or infinite logits".to_owned(),
            ));
        }
        let cam = cam_support(&module, &zeros, &logits);
        Ok(Self {
            manifest,
            path: path.to_owned(),
            cam,
            device,
            module,
        })
    }

    /// Probabilities (softmax of the logits) for an input `[1, C, H, W]` of the declared shape.
    pub fn predict(&self, input: &Tensor) -> Result<Prediction, ModelError> {
        let shape = self.manifest.input;
        let expected = [
            1,
            i64::from(shape.channels),
            i64::from(shape.height),
            i64::from(shape.width),
        ];
        if input.size() != expected {
            return Err(ModelError::Input {
                reason: format!(
                    "input shape {:?}, the model takes {expected:?}",
                    input.size()
                ),
            });
        }
        let failed = |e: &tch::TchError| ModelError::Inference {
            cause: first_line(e),
            path: self.path.clone(),
        };
        let input = input.f_to_device(self.device).map_err(|e| failed(&e))?;
        let logits = tch::no_grad(|| self.module.forward_ts(&[&input])).map_err(|e| failed(&e))?;
        let probabilities: Vec<f32> = logits
            .f_softmax(-1, Kind::Float)
            .and_then(|p| p.f_flatten(0, -1))
            .and_then(|p| p.f_to_device(Device::Cpu))
            .and_then(|p| Vec::<f32>::try_from(&p))
            .map_err(|e| failed(&e))?;
        if probabilities.iter().any(|p| !p.is_finite()) {
            return Err(ModelError::Inference {
                cause: "the model returned NaN".to_owned(),
                path: self.path.clone(),
            });
        }
        let top = probabilities
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        Ok(Prediction {
            classes: self.manifest.classes.clone(),
            probabilities,
            top,
        })
    }
}

fn all_finite(t: &Tensor) -> bool {
    t.f_isfinite()
        .and_then(|f| f.f_all())
        .and_then(|a| a.f_int64_value(&[]))
        .is_ok_and(|v| v == 1)
}

/// `features`/`head` present and agreeing with `forward`?
fn cam_support(module: &CModule, zeros: &Tensor, logits: &Tensor) -> CamSupport {
    let Ok(features) = tch::no_grad(|| module.method_ts("features", &[zeros])) else {
        return CamSupport::Unavailable("the model exports no `features` method".to_owned());
    };
    if features.dim() != 4 {
        return CamSupport::Unavailable(format!(
            "`features` returns {} dimensions, CAM needs [N, D, h, w]",
            features.dim()
        ));
    }
    let Ok(head) = tch::no_grad(|| module.method_ts("head", &[&features])) else {
        return CamSupport::Unavailable("the model exports no `head` method".to_owned());
    };
    let agree = head.f_allclose(logits, 1e-4, 1e-5, false).unwrap_or(false);
    if agree {
        CamSupport::Available
    } else {
        CamSupport::Unavailable("head(features(x)) differs from forward(x)".to_owned())
    }
}
