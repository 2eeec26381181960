//! What every method shares: the input and target, batched scoring of many inputs, batched input
//! gradients, progress reports and cancellation between batches, the seeded generator.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

use super::{ExplainError, ExplainParams, Method};
use crate::model::Model;

/// The stochastic methods' generator, as the provenance names it.
pub(super) const RNG: &str = "ChaCha8";

/// One explanation in progress.
pub(super) struct Run<'a> {
    pub model: &'a Model,
    /// The model input `[1, C, H, W]`, on the model's device, detached.
    pub input: &'a Tensor,
    /// Explained class (index into the logits), resolved by [`super::explain`] from the method's
    /// [`super::Explainer::logits`] before [`super::Explainer::attribute`] runs.
    pub target: usize,
    pub params: &'a ExplainParams,
    progress: &'a dyn Fn(f32),
    cancel: &'a AtomicBool,
    /// Inputs the method plans to run, for the progress fraction.
    planned: usize,
    forward_passes: usize,
    /// Gradient CAMs: `A = features(x)` (requiring grad) and `head(A)`, run to pick the target and
    /// taken once by the CAM step instead of a second pass.
    pub cam_pass: Option<(Tensor, Tensor)>,
}

impl<'a> Run<'a> {
    pub fn new(
        model: &'a Model,
        input: &'a Tensor,
        params: &'a ExplainParams,
        progress: &'a dyn Fn(f32),
        cancel: &'a AtomicBool,
    ) -> Self {
        Self {
            model,
            input,
            target: 0,
            params,
            progress,
            cancel,
            planned: 0,
            forward_passes: 0,
            cam_pass: None,
        }
    }

    pub fn method(&self) -> Method {
        self.params.method
    }

    /// [`ExplainParams::samples`], else the method's default.
    pub fn samples(&self) -> usize {
        self.params.sample_count()
    }

    /// A fresh [`RNG`] seeded with the run's seed: the same seed gives the same draws.
    pub fn rng(&self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.params.seed)
    }

    /// Inputs run so far.
    pub fn forward_passes(&self) -> usize {
        self.forward_passes
    }

    /// The input's `[C, H, W]`.
    pub fn input_chw(&self) -> [i64; 3] {
        let size = self.input.size();
        [size[1], size[2], size[3]]
    }

    /// Converts a libtorch error into this method's error.
    pub fn torch(&self, e: &tch::TchError) -> ExplainError {
        super::torch_error(self.method(), self.model, e)
    }

    /// A parameter error for this method.
    pub fn invalid(&self, reason: impl Into<String>) -> ExplainError {
        self.params.invalid(reason)
    }

    /// Announces how many more inputs will be run (for the progress fraction).
    pub fn plan(&mut self, inputs: usize) {
        self.planned = self.forward_passes + inputs;
    }

    pub fn check_cancel(&self) -> Result<(), ExplainError> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(ExplainError::Cancelled)
        } else {
            Ok(())
        }
    }

    fn advance(&mut self, inputs: usize) {
        self.forward_passes += inputs;
        if self.planned > 0 {
            (self.progress)((self.forward_passes as f32 / self.planned as f32).min(1.0));
        }
    }

    /// `0..n` in batches of the configured size.
    pub fn batches(&self, n: usize) -> impl Iterator<Item = Range<usize>> + use<> {
        let size = self.params.batch_size.max(1);
        (0..n.div_ceil(size)).map(move |b| b * size..((b + 1) * size).min(n))
    }

    /// The target's logit for each of `n` inputs, which `make(range)` builds batch by batch as
    /// `[len, C, H, W]` (so memory stays at one batch). No autograd.
    pub fn scores(
        &mut self,
        n: usize,
        mut make: impl FnMut(Range<usize>) -> Result<Tensor, tch::TchError>,
    ) -> Result<Vec<f32>, ExplainError> {
        let mut scores = Vec::with_capacity(n);
        for range in self.batches(n) {
            let len = range.len();
            scores.extend(self.score_batch(len, || make(range))?);
        }
        Ok(scores)
    }

    /// The target's logit for each of the `len` inputs of one batch, which `make` builds as
    /// `[len, C, H, W]`; checks for cancellation first and counts the inputs. No autograd.
    pub fn score_batch(
        &mut self,
        len: usize,
        make: impl FnOnce() -> Result<Tensor, tch::TchError>,
    ) -> Result<Vec<f32>, ExplainError> {
        self.check_cancel()?;
        let batch = make().map_err(|e| self.torch(&e))?;
        let logits = tch::no_grad(|| self.model.forward(&batch))?;
        let column = self.target_column(&logits, len)?;
        let scores = super::to_vec(&column).map_err(|e| self.torch(&e))?;
        self.advance(len);
        Ok(scores)
    }

    /// The gradient of the target's logit with respect to each of `n` inputs built by `make`;
    /// `consume(range, gradient[len, C, H, W])` receives them batch by batch. Inputs of a batch
    /// are independent (the model is in eval mode), so the gradient of the batch's summed score
    /// is each input's own gradient.
    pub fn input_gradients(
        &mut self,
        n: usize,
        mut make: impl FnMut(Range<usize>) -> Result<Tensor, tch::TchError>,
        mut consume: impl FnMut(Range<usize>, &Tensor) -> Result<(), tch::TchError>,
    ) -> Result<(), ExplainError> {
        for range in self.batches(n) {
            self.check_cancel()?;
            let len = range.len();
            let batch = make(range.clone())
                .and_then(|b| b.f_to_device(self.model.device))
                .map_err(|e| self.torch(&e))?
                .detach()
                .set_requires_grad(true);
            let logits = self.model.forward(&batch)?;
            let score = self
                .target_column(&logits, len)?
                .f_sum(Kind::Float)
                .map_err(|e| self.torch(&e))?;
            let gradient = self.gradient(&score, &batch)?;
            consume(range, &gradient).map_err(|e| self.torch(&e))?;
            self.advance(len);
        }
        Ok(())
    }

    /// `d score / d wrt`; an error when `wrt` does not influence `score`.
    pub fn gradient(&self, score: &Tensor, wrt: &Tensor) -> Result<Tensor, ExplainError> {
        let no_gradient = || ExplainError::Torch {
            method: self.method().name(),
            cause: "the score does not depend on the input (no gradient)".to_owned(),
            path: self.model.path.clone(),
        };
        // libtorch crashes (instead of failing) differentiating a score without a graph.
        if !score.requires_grad() {
            return Err(no_gradient());
        }
        let mut grads =
            Tensor::f_run_backward(&[score], &[wrt], false, false).map_err(|e| self.torch(&e))?;
        match grads.pop() {
            Some(g) if g.defined() => Ok(g),
            _ => Err(no_gradient()),
        }
    }

    /// Logits `[len, K]` → the target's column `[len]`, checking the shape.
    pub fn target_column(&self, logits: &Tensor, len: usize) -> Result<Tensor, ExplainError> {
        let size = logits.size();
        let classes = self.model.manifest.classes.len() as i64;
        if size != [len as i64, classes] {
            return Err(ExplainError::Torch {
                method: self.method().name(),
                cause: format!("a batch of {len} gave logits of shape {size:?}"),
                path: self.model.path.clone(),
            });
        }
        logits
            .f_select(1, self.target as i64)
            .map_err(|e| self.torch(&e))
    }

    /// Counts inputs run outside [`Self::scores`]/[`Self::input_gradients`] (e.g. CAM's one pass).
    pub fn count(&mut self, inputs: usize) {
        self.advance(inputs);
    }
}
