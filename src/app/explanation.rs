//! One pane's explanation of the slice on screen: what the user chose (method, class, display),
//! the explanation being computed, the last result, and the model-dependent metrics of the shown
//! heatmap as worker jobs with progress and cancel. [`super::inference`] runs the jobs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::explain::metrics::{Faithfulness, RandomisationCheck};
use crate::explain::{Heatmap, Method, Target};
use crate::imaging::Colormap;
use crate::model::Capabilities;
use crate::ui::explanation::{ExplanationChoice, ExplanationStatus};

/// Identity of a volume's slice (volume address, slice index) for matching answers to the screen.
pub type SliceKey = (usize, usize);

/// The explanation of the slice on screen in one pane: what to compute, how to show it, the
/// running job, the last result.
pub struct Explanation {
    /// What the user chose; the widgets edit it through [`Explanation::edit`].
    pub choice: ExplanationChoice,
    /// `(volume identity, slice)` and the heatmap (or why there is none).
    pub result: Option<(SliceKey, Result<Arc<Heatmap>, String>)>,
    pub running: Option<Running>,
    /// Deletion/insertion curves of the shown heatmap (computed on the worker).
    pub faithfulness: MetricJob<Faithfulness>,
    /// The randomisation sanity check of the shown heatmap's method (on request; long).
    pub randomisation: MetricJob<RandomisationCheck>,
    /// The region (slice grid) a feature-unit target is pooled over.
    pub feature_roi: Option<Arc<Vec<bool>>>,
}

/// A model-dependent metric of one heatmap, computed on the worker with progress and cancel.
pub struct MetricJob<T> {
    /// The heatmap it is (being) computed for; results of another heatmap are not shown.
    pub heatmap: Option<Arc<Heatmap>>,
    /// Request id, fraction done, cancel flag.
    pub running: Option<(u64, f32, Arc<AtomicBool>)>,
    pub result: Option<Result<T, String>>,
}

impl<T> Default for MetricJob<T> {
    fn default() -> Self {
        Self {
            heatmap: None,
            running: None,
            result: None,
        }
    }
}

impl<T> MetricJob<T> {
    /// True when this job is (or was) about `heatmap`.
    #[must_use]
    pub fn is_for(&self, heatmap: &Arc<Heatmap>) -> bool {
        self.heatmap
            .as_ref()
            .is_some_and(|h| Arc::ptr_eq(h, heatmap))
    }

    /// The result for `heatmap`, if that is what was computed.
    #[must_use]
    pub fn result_for(&self, heatmap: &Arc<Heatmap>) -> Option<&Result<T, String>> {
        self.result.as_ref().filter(|_| self.is_for(heatmap))
    }

    /// The fraction done while computing for `heatmap`.
    #[must_use]
    pub fn progress_for(&self, heatmap: &Arc<Heatmap>) -> Option<f32> {
        self.running
            .as_ref()
            .filter(|_| self.is_for(heatmap))
            .map(|(_, f, _)| *f)
    }

    /// Stops the running computation; `why` becomes the result (so it is not restarted by
    /// itself).
    pub(super) fn cancel(&mut self, why: &str) {
        if let Some((_, _, cancel)) = self.running.take() {
            cancel.store(true, Ordering::Relaxed);
            self.result = Some(Err(why.to_owned()));
        }
    }
}

/// An explanation being computed.
pub struct Running {
    pub id: u64,
    pub key: SliceKey,
    pub method: Method,
    pub fraction: f32,
    pub cancel: Arc<AtomicBool>,
}

impl Explanation {
    /// Grad-CAM of the top class (or an occlusion map when the model has no CAM layer).
    #[must_use]
    pub fn new(
        capabilities: &Capabilities,
        colormap: Colormap,
        opacity: f32,
        threshold: f32,
    ) -> Self {
        Self {
            choice: ExplanationChoice {
                method: if capabilities.cam.is_available() {
                    Method::GradCam
                } else {
                    Method::Occlusion
                },
                target: Target::Top,
                follow: false,
                colormap,
                opacity,
                threshold,
            },
            result: None,
            running: None,
            faithfulness: MetricJob::default(),
            randomisation: MetricJob::default(),
            feature_roi: None,
        }
    }

    /// Lets a widget change what the user chooses, showing it how the work goes. A new method or
    /// class drops the result: it explained something else.
    pub fn edit<R>(
        &mut self,
        widget: impl FnOnce(&mut ExplanationChoice, &ExplanationStatus<'_>) -> R,
    ) -> R {
        let before = self.choice.clone();
        let status = ExplanationStatus {
            running: self.running.as_ref().map(|r| (r.method, r.fraction)),
            error: match &self.result {
                Some((_, Err(e))) => Some(e.as_str()),
                _ => None,
            },
        };
        let answer = widget(&mut self.choice, &status);
        if !self.choice.explains_the_same(&before) {
            self.result = None;
        }
        answer
    }
}
