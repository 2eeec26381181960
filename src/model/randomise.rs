//! Randomised copies of a model, for the model parameter randomisation test (Adebayo et al.
//! 2018): a faithful explanation must change when the weights it explains are destroyed.
//!
//! What can be randomised depends on how the model was exported (docs/EVALUATE.md):
//! - TorchScript with **parameters** (`torch.jit.script`/`trace` of an `nn.Module`): cascading
//!   re-initialisation, layer by layer from the top (a layer is a parameter-name prefix such as
//!   `fc` or `layer4.1.conv2`), each parameter drawn from `U(−1/√fan_in, 1/√fan_in)` (PyTorch's
//!   default init for linear/conv layers) on a freshly loaded copy. With separate `[cam]` files
//!   the head file's layers come first, then the features file's, and the copy computes
//!   `forward = head ∘ features` so every method sees the same weights.
//! - TorchScript **traced by tch** from a closure (the demo model): weights are constants of the
//!   graph, not parameters, and cannot be changed. The one honest stage is then to replace the
//!   whole head by a random linear layer on globally average-pooled features
//!   (`U(±1/√D)` weights and bias, D = feature channels) — the classifier's weights are
//!   re-drawn, `features` stays the trained one.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{CModule, Kind, Tensor};

use super::error::ModelError;
use super::runtime::Model;

/// One step of cascading randomisation: what a randomised copy re-draws.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RandomisationStage {
    /// Layers re-drawn, top first (`head` for the random-head replacement).
    pub layers: Vec<String>,
    /// One line for people.
    pub description: String,
    #[serde(skip)]
    plan: Plan,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Plan {
    RandomHead,
    Layers(Vec<(Role, String)>),
}

/// Which TorchScript file a layer lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Module,
    Features,
    Head,
}

impl Role {
    fn label(self) -> &'static str {
        match self {
            Self::Module => "",
            Self::Features => "features:",
            Self::Head => "head:",
        }
    }
}

/// Parameter names → layer names (the name up to its last `.`), top first: the reverse of the
/// order in which layers first appear (TorchScript lists parameters in registration order).
#[must_use]
pub fn layers_top_first(parameter_names: &[String]) -> Vec<String> {
    let mut layers: Vec<String> = Vec::new();
    for name in parameter_names {
        let layer = name.rsplit_once('.').map_or(name.as_str(), |(l, _)| l);
        if !layers.iter().any(|l| l == layer) {
            layers.push(layer.to_owned());
        }
    }
    layers.reverse();
    layers
}

fn belongs(parameter: &str, layer: &str) -> bool {
    parameter
        .rsplit_once('.')
        .map_or(parameter, |(l, _)| l)
        .eq(layer)
}

impl Model {
    /// The cascade of randomisation stages this model allows, least randomised first: stage `i`
    /// re-draws the top `i + 1` layers. An error when neither parameters nor a `features`/`head`
    /// split are reachable.
    pub fn randomisation_stages(&self) -> Result<Vec<RandomisationStage>, ModelError> {
        let names = |m: &CModule| -> Result<Vec<String>, ModelError> {
            Ok(m.named_parameters()
                .map_err(|e| self.failed(&e))?
                .into_iter()
                .map(|(n, _)| n)
                .collect())
        };
        let mut ordered: Vec<(Role, String)> = Vec::new();
        if let Some((features, head)) = &self.cam_files {
            let head_layers = layers_top_first(&names(head)?);
            if !head_layers.is_empty() {
                ordered.extend(head_layers.into_iter().map(|l| (Role::Head, l)));
                let feature_layers = layers_top_first(&names(features)?);
                ordered.extend(feature_layers.into_iter().map(|l| (Role::Features, l)));
            }
        } else {
            let layers = layers_top_first(&names(&self.module)?);
            ordered.extend(layers.into_iter().map(|l| (Role::Module, l)));
        }
        if ordered.is_empty() {
            return if self.capabilities.cam.is_available() {
                Ok(vec![RandomisationStage {
                    layers: vec!["head".to_owned()],
                    description: "head replaced by a random linear layer on globally \
                                  average-pooled features (the weights are TorchScript \
                                  constants, not parameters)"
                        .to_owned(),
                    plan: Plan::RandomHead,
                }])
            } else {
                Err(ModelError::Contract {
                    reason: "nothing to randomise: the TorchScript file has no parameters and \
                             no features/head split"
                        .to_owned(),
                    path: self.path.clone(),
                })
            };
        }
        Ok((1..=ordered.len())
            .map(|n| {
                let layers: Vec<String> = ordered[..n]
                    .iter()
                    .map(|(role, l)| format!("{}{l}", role.label()))
                    .collect();
                RandomisationStage {
                    description: format!("re-initialised: {}", layers.join(", ")),
                    layers,
                    plan: Plan::Layers(ordered[..n].to_vec()),
                }
            })
            .collect())
    }

    /// A freshly loaded copy of this model with `stage`'s layers re-drawn from `seed` (the same
    /// seed and stage give the same weights).
    pub fn randomised(&self, stage: &RandomisationStage, seed: u64) -> Result<Model, ModelError> {
        let mut copy = self.reloaded()?;
        match &stage.plan {
            Plan::RandomHead => {
                copy.head_override = Some(self.random_head(seed)?);
                copy.compose = true;
            }
            Plan::Layers(layers) => {
                for (role, layer) in layers {
                    let module = match (role, &copy.cam_files) {
                        (Role::Module, _) => &copy.module,
                        (Role::Features, Some((features, _))) => features,
                        (Role::Head, Some((_, head))) => head,
                        (_, None) => continue,
                    };
                    copy.redraw(module, layer, seed)?;
                }
                copy.compose = copy.cam_files.is_some();
            }
        }
        // A separate attention file keeps the trained weights whatever was redrawn above: rollout
        // on the copy would pass the check without depending on them. Refuse it instead.
        if copy.attention_file.take().is_some() {
            copy.capabilities.attention = super::Support::Unavailable(
                "the attention file is not randomised with the model (rollout has no \
                 randomisation check)"
                    .to_owned(),
            );
        }
        Ok(copy)
    }

    /// Re-draws every parameter of `layer` in `module`, in place.
    fn redraw(&self, module: &CModule, layer: &str, seed: u64) -> Result<(), ModelError> {
        let failed = |e: &tch::TchError| self.failed(e);
        let parameters: Vec<(String, Tensor)> = module
            .named_parameters()
            .map_err(|e| failed(&e))?
            .into_iter()
            .filter(|(n, _)| belongs(n, layer))
            .collect();
        let fan_in = parameters
            .iter()
            .map(|(_, p)| p.size())
            .find(|s| s.len() >= 2)
            .map(|s| s[1..].iter().product::<i64>())
            .or_else(|| parameters.first().map(|(_, p)| p.numel() as i64))
            .unwrap_or(1)
            .max(1);
        let bound = 1.0 / (fan_in as f32).sqrt();
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ fnv1a(layer));
        for (_, mut p) in parameters {
            let values: Vec<f32> = (0..p.numel())
                .map(|_| rng.random_range(-bound..=bound))
                .collect();
            let fresh = Tensor::from_slice(&values)
                .f_reshape(p.size())
                .and_then(|t| t.f_to_kind(p.kind()))
                .and_then(|t| t.f_to_device(p.device()))
                .map_err(|e| failed(&e))?;
            tch::no_grad(|| p.f_copy_(&fresh)).map_err(|e| failed(&e))?;
        }
        Ok(())
    }

    /// `head(A) = W · mean_hw(A) + b` with `W[K, D]`, `b[K]` from `U(±1/√D)`, traced into a module.
    fn random_head(&self, seed: u64) -> Result<CModule, ModelError> {
        let failed = |e: &tch::TchError| self.failed(e);
        let zeros = Tensor::zeros(self.input_size(), (Kind::Float, self.device));
        let a0 = tch::no_grad(|| self.features(&zeros))?;
        let d = self.to_grid(&a0)?.size()[1];
        let classes = self.manifest.classes.len() as i64;
        let bound = 1.0 / (d as f32).sqrt();
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ fnv1a("head"));
        let mut draw =
            |n: i64| -> Vec<f32> { (0..n).map(|_| rng.random_range(-bound..=bound)).collect() };
        let weight = Tensor::from_slice(&draw(classes * d))
            .f_reshape([classes, d])
            .and_then(|t| t.f_to_device(self.device))
            .map_err(|e| failed(&e))?;
        let bias = Tensor::from_slice(&draw(classes))
            .f_to_device(self.device)
            .map_err(|e| failed(&e))?;
        // Tokens go to the grid inside the traced head (checked on `a0`, the input traced).
        let mut head = |inputs: &[Tensor]| {
            let grid = self
                .to_grid(&inputs[0])
                .unwrap_or_else(|_| inputs[0].shallow_clone());
            vec![
                grid.mean_dim([2, 3].as_slice(), false, Kind::Float)
                    .linear(&weight, Some(&bias)),
            ]
        };
        tch::no_grad(|| CModule::create_by_tracing("RandomHead", "forward", &[a0], &mut head))
            .map_err(|e| failed(&e))
    }
}

/// A stable 64-bit hash of a layer name (FNV-1a), to give each layer its own random stream.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_come_top_first_grouped_by_prefix() {
        let names: Vec<String> = [
            "b1.conv.weight",
            "b1.conv.bias",
            "b1.bn.weight",
            "b2.conv.weight",
            "fc.weight",
            "fc.bias",
            "scale",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            layers_top_first(&names),
            ["scale", "fc", "b2.conv", "b1.bn", "b1.conv"]
        );
        assert!(belongs("fc.bias", "fc") && !belongs("fc2.bias", "fc"));
        assert!(belongs("b1.conv.weight", "b1.conv") && !belongs("b1.conv.weight", "b1"));
    }
}
