//! Loading a TorchScript model with its manifest, checking it keeps the contract, predicting.

use std::path::{Path, PathBuf};

use tch::{CModule, Device, Kind, Tensor};

use super::capabilities::{Capabilities, Support};
use super::error::{ModelError, first_line};
use super::manifest::Manifest;
use super::manifest::{TokenLayout, TokenOrder};

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
    /// What the model offers beyond `forward`, checked at load.
    pub capabilities: Capabilities,
    pub device: Device,
    pub(super) module: CModule,
    /// `features`/`head` as separate files (manifest `[cam]`), else methods of `module`.
    pub(super) cam_files: Option<(CModule, CModule)>,
    /// `attention` as a separate file (manifest `[cam] attention`), else a method of `module`.
    pub(super) attention_file: Option<CModule>,
    /// A head used instead of the model's own (a randomised copy, see `randomise.rs`).
    pub(super) head_override: Option<CModule>,
    /// `forward(x)` computes `head(features(x))` instead of running `module` (randomised copies,
    /// whose `module` keeps the original weights).
    pub(super) compose: bool,
    /// `forward(x)` is the model's `embed(x)`: its components are the "classes" (see
    /// `feature_units.rs`).
    pub(super) forward_embed: bool,
}

impl Model {
    /// Loads `M.pt` and `M.toml` beside it, then checks the contract: `forward` on a zero input of
    /// the declared shape gives finite logits `[1, classes]`. Then the capabilities: CAM when
    /// `head(features(x))` matches, gradients when the logits depend on the input through
    /// autograd (each unavailable with the reason otherwise).
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let manifest = Manifest::read(&Manifest::path_for(path))?;
        manifest.verify_files(path)?;
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
        let zeros = Tensor::f_zeros(
            [
                1,
                i64::from(shape.channels),
                i64::from(shape.height),
                i64::from(shape.width),
            ],
            (Kind::Float, device),
        )
        .map_err(|e| {
            contract(format!(
                "cannot allocate a zero input of the declared shape: {}",
                first_line(&e)
            ))
        })?;
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
        let (cam_files, attention_file) = load_parts(&manifest, path, device)?;
        let mut model = Self {
            manifest,
            path: path.to_owned(),
            capabilities: Capabilities {
                cam: Support::Available,
                gradients: Support::Available,
                attention: Support::Available,
            },
            device,
            module,
            cam_files,
            attention_file,
            head_override: None,
            compose: false,
            forward_embed: false,
        };
        model.capabilities = Capabilities {
            cam: model.cam_support(&zeros, &logits)?,
            gradients: model.gradient_support(&zeros),
            attention: model.attention_support(&zeros),
        };
        Ok(model)
    }

    /// The input size `[1, C, H, W]` the manifest declares.
    #[must_use]
    pub fn input_size(&self) -> [i64; 4] {
        let shape = self.manifest.input;
        [
            1,
            i64::from(shape.channels),
            i64::from(shape.height),
            i64::from(shape.width),
        ]
    }

    /// Logits `[N, K]` for a batch `[N, C, H, W]` (moved to the model's device). Runs with autograd
    /// as the caller has it: wrap in `tch::no_grad` when no gradient is wanted.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        let x = x.f_to_device(self.device).map_err(|e| self.failed(&e))?;
        if self.forward_embed {
            return self.embed(&x)?.ok_or_else(|| ModelError::Contract {
                reason: "the model has no embed(x) method".into(),
                path: self.path.clone(),
            });
        }
        if self.compose {
            return self.head(&self.features(&x)?);
        }
        self.module.forward_ts(&[&x]).map_err(|e| self.failed(&e))
    }

    /// Activations `A[N, D, h, w]` of the CAM layer; an error when CAM is unavailable.
    pub fn features(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        self.require_cam()?;
        let x = x.f_to_device(self.device).map_err(|e| self.failed(&e))?;
        self.run_features(&x).map_err(|e| self.failed(&e))
    }

    /// The `features` of `x` on their grid `[N, D, h, w]`: as returned, or the declared tokens
    /// mapped to it ([`Self::to_grid`]).
    pub fn feature_maps(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        self.to_grid(&self.features(x)?)
    }

    /// `features`' output (or its gradient) as `[N, D, h, w]`: unchanged without a token
    /// layout; `[N, T, D]` tokens without their prefix, reshaped to the grid; `[N, h, w, D]`
    /// permuted. Differentiable (the CAMs map the gradient the same way).
    pub fn to_grid(&self, a: &Tensor) -> Result<Tensor, ModelError> {
        let Some(tokens) = self.token_layout() else {
            return Ok(a.shallow_clone());
        };
        let [rows, cols] = tokens.grid.map(i64::from);
        let patches = rows * cols;
        let size = a.size();
        let mapped = match (tokens.layout, size.as_slice()) {
            // `-1` for the batch: traced inside a head (feature units, the random head), a
            // number here would fix the batch size of the traced module.
            (TokenOrder::Tokens, &[_, count, dim])
                if count == i64::from(tokens.prefix) + patches =>
            {
                a.f_narrow(1, i64::from(tokens.prefix), patches)
                    .and_then(|p| p.f_transpose(1, 2))
                    .and_then(|p| p.f_reshape([-1, dim, rows, cols]))
            }
            (TokenOrder::ChannelsLast, &[_, grid_rows, grid_cols, _])
                if grid_rows == rows && grid_cols == cols =>
            {
                a.f_permute([0, 3, 1, 2])
            }
            _ => {
                let reason = match (tokens.layout, size.as_slice()) {
                    (TokenOrder::Tokens, &[_, count, _]) => format!(
                        "`features` returns {count} tokens ({size:?}), the manifest's `[cam] \
                         tokens` declares {} = {} tokens",
                        tokens.describe(),
                        i64::from(tokens.prefix) + patches
                    ),
                    _ => format!(
                        "`features` returns shape {size:?}, the manifest's `[cam] tokens` \
                         declares {}",
                        tokens.describe()
                    ),
                };
                return Err(ModelError::Contract {
                    reason,
                    path: self.path.clone(),
                });
            }
        };
        mapped.map_err(|e| self.failed(&e))
    }

    /// The manifest's `[cam] tokens`, if `features` returns tokens.
    #[must_use]
    pub fn token_layout(&self) -> Option<TokenLayout> {
        self.manifest.cam.as_ref()?.tokens
    }

    /// The model's attention `[N, L, H, T, T]` (softmaxed, per block and head) for `x`.
    pub fn attention(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        if let Support::Unavailable(reason) = &self.capabilities.attention {
            return Err(ModelError::Contract {
                reason: format!("attention rollout needs `attention(x)`: {reason}"),
                path: self.path.clone(),
            });
        }
        let x = x.f_to_device(self.device).map_err(|e| self.failed(&e))?;
        self.run_attention(&x).map_err(|e| self.failed(&e))
    }

    fn run_attention(&self, x: &Tensor) -> Result<Tensor, tch::TchError> {
        match &self.attention_file {
            Some(attention) => attention.forward_ts(&[x]),
            None => self.module.method_ts("attention", &[x]),
        }
    }

    /// Logits from activations: `head(features(x)) == forward(x)`.
    pub fn head(&self, a: &Tensor) -> Result<Tensor, ModelError> {
        self.require_cam()?;
        if let Some(head) = &self.head_override {
            return head.forward_ts(&[a]).map_err(|e| self.failed(&e));
        }
        self.run_head(a).map_err(|e| self.failed(&e))
    }

    /// The model's embedding `[N, E]` of a batch, from its optional `embed(x)` method (see
    /// docs/MODELS.md); `None` when the model has no such method.
    pub fn embed(&self, x: &Tensor) -> Result<Option<Tensor>, ModelError> {
        let x = x.f_to_device(self.device).map_err(|e| self.failed(&e))?;
        match self.module.method_ts("embed", &[&x]) {
            Ok(e) if e.dim() == 2 => Ok(Some(e)),
            Ok(e) => Err(ModelError::Contract {
                reason: format!("embed(x) returned shape {:?}, [N, E] expected", e.size()),
                path: self.path.clone(),
            }),
            // libtorch: "Method 'embed' is not defined."
            Err(e) if e.to_string().contains("'embed' is not defined") => Ok(None),
            Err(e) => Err(self.failed(&e)),
        }
    }

    /// `features` where the model keeps it: a `[cam]` sidecar file or a method of `M.pt`.
    fn run_features(&self, x: &Tensor) -> Result<Tensor, tch::TchError> {
        match &self.cam_files {
            Some((features, _)) => features.forward_ts(&[x]),
            None => self.module.method_ts("features", &[x]),
        }
    }

    /// `head` where the model keeps it (see [`Self::run_features`]).
    fn run_head(&self, a: &Tensor) -> Result<Tensor, tch::TchError> {
        match &self.cam_files {
            Some((_, head)) => head.forward_ts(&[a]),
            None => self.module.method_ts("head", &[a]),
        }
    }

    fn require_cam(&self) -> Result<(), ModelError> {
        match &self.capabilities.cam {
            Support::Available => Ok(()),
            Support::Unavailable(reason) => Err(ModelError::Contract {
                reason: format!("CAM methods need `features` and `head`: {reason}"),
                path: self.path.clone(),
            }),
        }
    }

    pub(super) fn failed(&self, e: &tch::TchError) -> ModelError {
        ModelError::Inference {
            cause: first_line(e),
            path: self.path.clone(),
        }
    }

    /// Probabilities (softmax of the logits) for an input `[1, C, H, W]` of the declared shape.
    pub fn predict(&self, input: &Tensor) -> Result<Prediction, ModelError> {
        let expected = self.input_size();
        if input.size() != expected {
            return Err(ModelError::Input {
                reason: format!(
                    "input shape {:?}, the model takes {expected:?}",
                    input.size()
                ),
            });
        }
        let failed = |e: &tch::TchError| self.failed(e);
        let logits = tch::no_grad(|| self.forward(input))?;
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

/// The `[cam]` files of `manifest` beside `path`: the `features`/`head` split and the attention.
/// The `features`/`head` files and the attention file, as loaded.
pub(super) type Parts = (Option<(CModule, CModule)>, Option<CModule>);

pub(super) fn load_parts(
    manifest: &Manifest,
    path: &Path,
    device: Device,
) -> Result<Parts, ModelError> {
    let Some(cam) = &manifest.cam else {
        return Ok((None, None));
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let load = |file: &Path| {
        let file = dir.join(file);
        CModule::load_on_device(&file, device).map_err(|e| ModelError::Load {
            cause: first_line(&e),
            path: file,
        })
    };
    let split = match cam.split() {
        Some((features, head)) => Some((load(features)?, load(head)?)),
        None => None,
    };
    let attention = cam.attention.as_deref().map(load).transpose()?;
    Ok((split, attention))
}

impl Model {
    /// `features`/`head` present and agreeing with `forward`? A declared token layout that
    /// `features` does not have is a load error (naming both).
    fn cam_support(&self, zeros: &Tensor, logits: &Tensor) -> Result<Support, ModelError> {
        let features = tch::no_grad(|| self.run_features(zeros));
        let Ok(features) = features else {
            return Ok(Support::Unavailable(
                "the model exports no `features` method".to_owned(),
            ));
        };
        if self.token_layout().is_some() {
            // Checks the declared layout against the tokens: a mismatch is the manifest's error.
            let _on_grid = self.to_grid(&features)?;
        } else if features.dim() == 3 {
            return Ok(Support::Unavailable(format!(
                "`features` returns tokens {:?}: declare their grid, `[cam] tokens = {{ grid = \
                 [h, w], prefix = … }}`",
                features.size()
            )));
        } else if features.dim() != 4 {
            return Ok(Support::Unavailable(format!(
                "`features` returns {} dimensions, CAM needs [N, D, h, w]",
                features.dim()
            )));
        }
        let head = tch::no_grad(|| self.run_head(&features));
        let Ok(head) = head else {
            return Ok(Support::Unavailable(
                "the model exports no `head` method".to_owned(),
            ));
        };
        let agree = head.f_allclose(logits, 1e-4, 1e-5, false).unwrap_or(false);
        Ok(if agree {
            Support::Available
        } else {
            Support::Unavailable("head(features(x)) differs from forward(x)".to_owned())
        })
    }

    /// `attention(x)` present, `[N, L, H, T, T]` over the declared tokens, with a class token
    /// whose row rollout reads?
    fn attention_support(&self, zeros: &Tensor) -> Support {
        let Ok(attention) = tch::no_grad(|| self.run_attention(zeros)) else {
            return Support::Unavailable("the model exports no `attention` method".to_owned());
        };
        let Some(tokens) = self.token_layout() else {
            return Support::Unavailable(
                "attention needs the token layout: `[cam] tokens = { grid = [h, w], prefix = 1 }`"
                    .to_owned(),
            );
        };
        let [rows, cols] = tokens.grid.map(i64::from);
        let count = i64::from(tokens.prefix) + rows * cols;
        match attention.size().as_slice() {
            _ if tokens.layout != TokenOrder::Tokens || tokens.prefix == 0 => Support::Unavailable(
                "attention rollout reads the class token's row: it needs `prefix` >= 1".to_owned(),
            ),
            &[_, _, _, from, to] if from == count && to == count => Support::Available,
            other => Support::Unavailable(format!(
                "`attention` returns shape {other:?}, [N, L, H, {count}, {count}] expected for {}",
                tokens.describe()
            )),
        }
    }

    /// Does `forward(x)` reach `x` through autograd? (A model that detaches its input or runs
    /// under `no_grad` inside cannot be explained by gradients.)
    fn gradient_support(&self, zeros: &Tensor) -> Support {
        let unavailable =
            || Support::Unavailable("forward(x) does not depend on x through autograd".to_owned());
        let x = zeros.detach().set_requires_grad(true);
        let gradient = tch::with_grad(|| {
            let score = self.module.forward_ts(&[&x])?.f_sum(Kind::Float)?;
            // libtorch crashes (instead of failing) differentiating a score without a graph.
            if !score.requires_grad() {
                return Ok(None);
            }
            Tensor::f_run_backward(&[score], &[&x], false, false).map(Some)
        });
        match gradient {
            Ok(Some(g)) if g.first().is_some_and(Tensor::defined) => Support::Available,
            Ok(_) => unavailable(),
            Err(e) => {
                Support::Unavailable(format!("no gradient through forward ({})", first_line(&e)))
            }
        }
    }
}
