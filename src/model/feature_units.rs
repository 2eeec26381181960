//! A model whose "classes" are its feature units: `forward(x)` = the `features(x)` map `[N, D,
//! h, w]` pooled over a region of the feature grid (weighted mean; the whole grid without one),
//! so that every explanation method explains *feature K pooled over the ROI* exactly as it
//! explains a class logit (`--target feature:K`). The pooling is a traced TorchScript head used
//! instead of the model's own, as the randomised copies do. Likewise a model whose classes are
//! the components of its `embed(x)` (`--target embed:K`), for the gradient and perturbation
//! methods (an embedding has no CAM layer of its own).

use std::path::Path;

use tch::{CModule, Kind, Tensor};

use super::capabilities::Support;
use super::error::{ModelError, first_line};
use super::runtime::Model;

impl Model {
    /// `(D, h, w)` of the `features` map for an input of the declared shape.
    pub fn feature_grid(&self) -> Result<(usize, usize, usize), ModelError> {
        self.zero_features().map(|(grid, _)| grid)
    }

    /// `features` of a zero input of the declared shape (as returned: tokens for a
    /// transformer), and the `(D, h, w)` of its grid.
    fn zero_features(&self) -> Result<((usize, usize, usize), Tensor), ModelError> {
        let zeros = Tensor::zeros(self.input_size(), (Kind::Float, self.device));
        let a = tch::no_grad(|| self.features(&zeros))?;
        match self.to_grid(&a)?.size().as_slice() {
            &[_, d, h, w] => Ok(((d as usize, h as usize, w as usize), a)),
            other => Err(ModelError::Contract {
                reason: format!("features(x) returned shape {other:?}, [N, D, h, w] expected"),
                path: self.path.clone(),
            }),
        }
    }

    /// A freshly loaded copy whose logits are the `D` feature units pooled with `weights` over
    /// the `h × w` feature grid (row-major; `None`: the plain spatial mean), and whose class
    /// names are `feature 0` … `feature D-1`.
    pub fn feature_units(&self, weights: Option<&[f32]>) -> Result<Model, ModelError> {
        let ((d, h, w), a0) = self.zero_features()?;
        let failed = |e: &tch::TchError| self.failed(e);
        let grid: Vec<f32> = match weights {
            Some(weights) if weights.len() == h * w => weights.to_vec(),
            Some(weights) => {
                return Err(ModelError::Input {
                    reason: format!("{} ROI weights for a {h}×{w} feature grid", weights.len()),
                });
            }
            None => vec![1.0; h * w],
        };
        let total: f32 = grid.iter().sum();
        if total <= 0.0 {
            return Err(ModelError::Input {
                reason: "the ROI does not touch the feature grid".into(),
            });
        }
        let weight = Tensor::from_slice(&grid.iter().map(|v| v / total).collect::<Vec<f32>>())
            .f_reshape([1, 1, h as i64, w as i64])
            .and_then(|t| t.f_to_device(self.device))
            .map_err(|e| failed(&e))?;
        // `head` gets what `features` returns: tokens go to the grid inside the traced pooling
        // (their shape was checked on `a0`, the input traced, so the mapping cannot fail here).
        let mut pool = |inputs: &[Tensor]| {
            let grid = self
                .to_grid(&inputs[0])
                .unwrap_or_else(|_| inputs[0].shallow_clone());
            vec![(&grid * &weight).sum_dim_intlist([2, 3].as_slice(), false, Kind::Float)]
        };
        let head = tch::no_grad(|| {
            CModule::create_by_tracing("FeatureUnits", "forward", &[a0], &mut pool)
        })
        .map_err(|e| failed(&e))?;
        let mut copy = self.reloaded()?;
        copy.manifest.classes = (0..d).map(|k| format!("feature {k}")).collect();
        copy.head_override = Some(head);
        copy.compose = true;
        Ok(copy)
    }

    /// A freshly loaded copy whose logits are the `E` components of `embed(x)` and whose class
    /// names are `embed 0` … `embed E-1`; CAM is unavailable on it (the embedding is not split
    /// into `features` and a head), gradients and perturbations work as on the model.
    pub fn embed_units(&self) -> Result<Model, ModelError> {
        let zeros = Tensor::zeros(self.input_size(), (Kind::Float, self.device));
        let embedding =
            tch::no_grad(|| self.embed(&zeros))?.ok_or_else(|| ModelError::Contract {
                reason: "the model has no embed(x) method: no embed components to explain".into(),
                path: self.path.clone(),
            })?;
        let components = embedding.size().get(1).copied().unwrap_or(0);
        let mut copy = self.reloaded()?;
        copy.manifest.classes = (0..components).map(|k| format!("embed {k}")).collect();
        copy.capabilities.cam = Support::Unavailable(
            "an embed component has no CAM layer (use a gradient or perturbation method)".into(),
        );
        copy.forward_embed = true;
        Ok(copy)
    }

    /// The same model loaded again (TorchScript modules cannot be cloned).
    pub(super) fn reloaded(&self) -> Result<Model, ModelError> {
        let load = |path: &Path| {
            CModule::load_on_device(path, self.device).map_err(|e| ModelError::Load {
                cause: first_line(&e),
                path: path.to_owned(),
            })
        };
        let (cam_files, attention_file) =
            super::runtime::load_parts(&self.manifest, &self.path, self.device)?;
        Ok(Model {
            manifest: self.manifest.clone(),
            path: self.path.clone(),
            capabilities: self.capabilities.clone(),
            device: self.device,
            module: load(&self.path)?,
            cam_files,
            attention_file,
            head_override: None,
            compose: false,
            forward_embed: false,
        })
    }
}
