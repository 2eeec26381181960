//! The app's model session: loading a model off the UI thread, the inference worker, the
//! prediction for the slice on screen (resubmitted whenever the slice changes; stale requests are
//! dropped by the worker), and explanations computed on the same worker with progress and cancel.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::Receiver;

use crate::dicom::{Volume, Voxels};
use crate::explain::metrics::{
    Faithfulness, FaithfulnessParams, RandomisationCheck, RandomisationParams, deletion_insertion,
    randomisation_check,
};
use crate::explain::{ExplainInput, ExplainParams, Heatmap, Method, explain};
use crate::imaging::Colormap;
use crate::model::{Job, JobContext, Model, Prediction, Reply, Worker, preprocess_slice};
use crate::ui::metrics::MetricKind;
use crate::ui::model_card::ModelCard;

use super::explanation::{Explanation, Running, SliceKey};

/// What the worker computes for the app.
pub enum Output {
    Prediction(Prediction),
    Heatmap(Box<Heatmap>),
    /// Deletion and insertion curves of a heatmap.
    Faithfulness(Box<Faithfulness>),
    /// The model parameter randomisation check of a heatmap's method.
    Randomisation(Box<RandomisationCheck>),
    /// An export of annotated slices finished: what was written.
    Exported(String),
    /// The deep features of a region (the features panel).
    DeepFeatures(Vec<(String, f64)>),
    /// Every slice's heatmap of a series ("Explain the series").
    Series(Vec<Heatmap>),
}

/// Named deep features of a region, or why there are none.
pub type DeepAnswer = Result<Vec<(String, f64)>, String>;

/// A job on the worker whose answer one caller waits for, with progress and cancel (an export,
/// the features panel's deep features).
pub struct WorkerRun {
    pub id: u64,
    pub fraction: f32,
    pub cancel: Arc<AtomicBool>,
}

/// A loaded model and its latest answers.
pub struct ModelSession {
    pub card: ModelCard,
    pub(super) worker: Worker<Output>,
    /// `(slice, prediction)` for the slice on screen, or the error for it.
    pub prediction: Option<(usize, Result<Prediction, String>)>,
    /// What was last submitted: (volume identity, slice).
    submitted: Option<(usize, usize)>,
    /// Request id → slice it was for.
    pending: Vec<(u64, usize)>,
    /// One explanation per pane: pane 0 is the single view's; the comparison layout shows 2–4.
    pub panes: Vec<Explanation>,
    pub export: Option<WorkerRun>,
    /// The last export's summary or error.
    pub export_result: Option<Result<String, String>>,
    /// The features panel's deep features being computed, and the last answer with its id.
    pub deep: Option<WorkerRun>,
    pub deep_result: Option<(u64, DeepAnswer)>,
    /// "Explain the series" running, and its last answer.
    pub series: Option<super::heat_volume::SeriesRun>,
    pub series_result: Option<Result<Arc<super::heat_volume::HeatVolume>, String>>,
}

/// Most panes of the comparison layout.
pub const MAX_PANES: usize = 4;

/// The view that asks for predictions; explanation pane `i` asks as view `EXPLANATION_VIEW + i`.
/// The worker keeps only the newest request per view.
const PREDICTION_VIEW: u32 = 0;
const EXPLANATION_VIEW: u32 = 1;
/// Pane `i`'s faithfulness and randomisation jobs ask as these views plus `i`.
const FAITHFULNESS_VIEW: u32 = 100;
const RANDOMISATION_VIEW: u32 = 200;
const EXPORT_VIEW: u32 = 300;
const FEATURES_VIEW: u32 = 400;

fn slice_key(volume: &Arc<Volume>, slice: usize) -> SliceKey {
    (Arc::as_ptr(volume) as usize, slice)
}

/// Loads `path` on a named thread; the receiver yields the model or the error message.
pub fn load_model(
    path: PathBuf,
    ctx: egui::Context,
) -> Result<Receiver<Result<Model, String>>, String> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::Builder::new()
        .name("radlens-model-loader".to_owned())
        .spawn(move || {
            let result = Model::load(&path).map_err(|e| e.to_string());
            if tx.send(result).is_err() {
                tracing::debug!("model loaded after the app stopped waiting");
            }
            ctx.request_repaint();
        })
        .map_err(|e| format!("cannot start the model loader ({e})"))?;
    Ok(rx)
}

impl ModelSession {
    /// Hands `model` to a new worker thread.
    pub fn start(model: Model, ctx: &egui::Context) -> Result<Self, String> {
        let card = ModelCard {
            path: model.path.clone(),
            manifest: model.manifest.clone(),
            capabilities: model.capabilities.clone(),
            verified: model.manifest.is_verified(&model.path),
            device: format!("{:?}", model.device),
        };
        let ctx = ctx.clone();
        let worker = Worker::spawn(model, move || ctx.request_repaint())
            .map_err(|e| format!("cannot start the inference worker ({e})"))?;
        Ok(Self {
            card,
            worker,
            prediction: None,
            submitted: None,
            pending: Vec::new(),
            panes: Vec::new(),
            export: None,
            export_result: None,
            deep: None,
            deep_result: None,
            series: None,
            series_result: None,
        })
    }

    /// Makes sure there are `n` panes (new ones explain with the next method in the list, so a
    /// fresh comparison shows different methods).
    pub fn ensure_panes(&mut self, n: usize, colormap: Colormap, opacity: f32, threshold: f32) {
        while self.panes.len() < n.min(MAX_PANES) {
            let mut pane = Explanation::new(&self.card.capabilities, colormap, opacity, threshold);
            let usable: Vec<Method> = Method::ALL
                .into_iter()
                .filter(|m| self.card.capabilities.missing(m.needs()).is_none())
                .collect();
            // Fast, different methods first: Grad-CAM, occlusion, SmoothGrad, IG, then the rest.
            let preferred = [
                Method::GradCam,
                Method::Occlusion,
                Method::SmoothGrad,
                Method::IntegratedGradients,
            ];
            let order: Vec<Method> = preferred
                .into_iter()
                .filter(|m| usable.contains(m))
                .chain(usable.iter().copied().filter(|m| !preferred.contains(m)))
                .collect();
            pane.choice.method = order[self.panes.len() % order.len().max(1)];
            self.panes.push(pane);
        }
    }

    /// Asks for the prediction of `slice` of `volume` unless that is what was last asked.
    pub fn request(&mut self, volume: &Arc<Volume>, slice: usize) -> Result<(), String> {
        let key = slice_key(volume, slice);
        if self.submitted == Some(key) {
            return Ok(());
        }
        self.submitted = Some(key);
        if matches!(volume.voxels, Voxels::Rgb8(_)) {
            self.prediction = Some((slice, Err("colour images are not model input".to_owned())));
            return Ok(());
        }
        let [_, rows, cols] = volume.shape;
        let mut values = vec![0.0; rows * cols];
        volume.slice_f32_into(slice, &mut values);
        let job = Box::new(move |model: &Model, _: &JobContext<'_>| {
            let input = preprocess_slice(&values, rows, cols, &model.manifest)
                .map_err(|e| e.to_string())?;
            model
                .predict(&input)
                .map(Output::Prediction)
                .map_err(|e| e.to_string())
        });
        let (id, _cancel) = self.worker.submit(PREDICTION_VIEW, job)?;
        self.pending.push((id, slice));
        Ok(())
    }

    /// Starts explaining `slice` of `volume` in `pane` with its method and target (its running
    /// explanation is cancelled first).
    pub fn explain(
        &mut self,
        pane: usize,
        volume: &Arc<Volume>,
        slice: usize,
    ) -> Result<(), String> {
        self.cancel_explanation(pane);
        self.cancel_metrics(pane);
        let key = slice_key(volume, slice);
        let Some(explanation) = self.panes.get_mut(pane) else {
            return Ok(());
        };
        let method = explanation.choice.method;
        if matches!(volume.voxels, Voxels::Rgb8(_)) {
            explanation.result = Some((key, Err("colour images are not model input".into())));
            return Ok(());
        }
        let [_, rows, cols] = volume.shape;
        let mut values = vec![0.0; rows * cols];
        volume.slice_f32_into(slice, &mut values);
        let mut params = ExplainParams::new(method);
        params.target = explanation.choice.target.clone();
        let unit = params.target.deep_unit();
        // A feature unit is pooled over the region it was picked for (the whole map without).
        let roi: Option<Vec<f32>> = explanation
            .feature_roi
            .as_ref()
            .filter(|_| unit.is_some())
            .map(|mask| mask.iter().map(|&m| f32::from(u8::from(m))).collect());
        let job = Box::new(move |model: &Model, ctx: &JobContext<'_>| {
            let input = ExplainInput::from_slice(&values, rows, cols, &model.manifest)
                .map_err(|e| e.to_string())?;
            let units;
            let model = match unit {
                Some(unit) => {
                    let k;
                    (units, k) =
                        crate::features::deep::unit_model(model, unit, roi.as_deref(), rows, cols)
                            .map_err(|e| e.to_string())?;
                    params.target = crate::explain::Target::Index(k);
                    &units
                }
                None => model,
            };
            explain(model, &input, &params, &|f| ctx.progress(f), ctx.cancel)
                .map(|h| Output::Heatmap(Box::new(h)))
                .map_err(|e| e.to_string())
        });
        let (id, cancel) = self.worker.submit(EXPLANATION_VIEW + pane as u32, job)?;
        self.panes[pane].running = Some(Running {
            id,
            key,
            method,
            fraction: 0.0,
            cancel,
        });
        Ok(())
    }

    /// Stops `pane`'s running explanation (it ends at its next batch; its answer is ignored).
    pub fn cancel_explanation(&mut self, pane: usize) {
        if let Some(running) = self.panes.get_mut(pane).and_then(|p| p.running.take()) {
            running.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// Starts computing `kind` for `pane`'s heatmap of `slice` (a running one of the same kind
    /// is cancelled first). Nothing happens when the pane shows no heatmap of that slice.
    pub fn evaluate(
        &mut self,
        pane: usize,
        kind: MetricKind,
        volume: &Arc<Volume>,
        slice: usize,
    ) -> Result<(), String> {
        let Some(heatmap) = self.heatmap_for(pane, volume, slice).cloned() else {
            return Ok(());
        };
        let [_, rows, cols] = volume.shape;
        let mut values = vec![0.0; rows * cols];
        volume.slice_f32_into(slice, &mut values);
        let for_job = Arc::clone(&heatmap);
        let (view, job): (u32, Job<Output>) = match kind {
            MetricKind::Faithfulness => (
                FAITHFULNESS_VIEW,
                Box::new(move |model: &Model, ctx: &JobContext<'_>| {
                    let input = ExplainInput::from_slice(&values, rows, cols, &model.manifest)
                        .map_err(|e| e.to_string())?;
                    let params = FaithfulnessParams::default();
                    deletion_insertion(
                        model,
                        &input.tensor,
                        &for_job,
                        &params,
                        &|f| ctx.progress(f),
                        ctx.cancel,
                    )
                    .map(|f| Output::Faithfulness(Box::new(f)))
                    .map_err(|e| e.to_string())
                }),
            ),
            MetricKind::Randomisation => (
                RANDOMISATION_VIEW,
                Box::new(move |model: &Model, ctx: &JobContext<'_>| {
                    let input = ExplainInput::from_slice(&values, rows, cols, &model.manifest)
                        .map_err(|e| e.to_string())?;
                    let params = ExplainParams::new(for_job.provenance.method);
                    randomisation_check(
                        model,
                        &input,
                        &params,
                        &for_job,
                        &RandomisationParams::default(),
                        &|f| ctx.progress(f),
                        ctx.cancel,
                    )
                    .map(|r| Output::Randomisation(Box::new(r)))
                    .map_err(|e| e.to_string())
                }),
            ),
        };
        let (id, cancel) = self.worker.submit(view + pane as u32, job)?;
        let Some(explanation) = self.panes.get_mut(pane) else {
            return Ok(());
        };
        let metric = match kind {
            MetricKind::Faithfulness => {
                explanation.faithfulness.cancel("replaced");
                explanation.faithfulness.result = None;
                explanation.faithfulness.heatmap = Some(heatmap);
                &mut explanation.faithfulness.running
            }
            MetricKind::Randomisation => {
                explanation.randomisation.cancel("replaced");
                explanation.randomisation.result = None;
                explanation.randomisation.heatmap = Some(heatmap);
                &mut explanation.randomisation.running
            }
        };
        *metric = Some((id, 0.0, cancel));
        Ok(())
    }

    /// Runs an export job on the worker (progress and cancel as for explanations).
    pub fn export(&mut self, job: Job<Output>) -> Result<(), String> {
        self.cancel_export();
        let (id, cancel) = self.worker.submit(EXPORT_VIEW, job)?;
        self.export = Some(WorkerRun {
            id,
            fraction: 0.0,
            cancel,
        });
        self.export_result = None;
        Ok(())
    }

    /// Stops the running export after the slice it is writing.
    pub fn cancel_export(&mut self) {
        if let Some(run) = self.export.take() {
            run.cancel.store(true, Ordering::Relaxed);
            self.export_result = Some(Err("export cancelled".to_owned()));
        }
    }

    /// Starts the deep features of `labels == 1` in `values` `[z, y, x]` (a running one is
    /// cancelled); returns the request id its answer in [`Self::deep_result`] will carry.
    pub fn deep_features(
        &mut self,
        values: Vec<f64>,
        dims: [usize; 3],
        labels: Vec<u32>,
        input: crate::features::DeepInput,
    ) -> Result<u64, String> {
        self.cancel_deep();
        let features = crate::features::deep_features_job(values, dims, labels, 1, input, 8);
        let job = Box::new(move |model: &Model, ctx: &JobContext<'_>| {
            features(model, ctx).map(Output::DeepFeatures)
        });
        let (id, cancel) = self.worker.submit(FEATURES_VIEW, job)?;
        self.deep = Some(WorkerRun {
            id,
            fraction: 0.0,
            cancel,
        });
        Ok(id)
    }

    /// Stops the running deep features (the answer is ignored).
    pub fn cancel_deep(&mut self) {
        if let Some(run) = self.deep.take() {
            run.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// Stops `pane`'s running metric computations (their results say "cancelled").
    pub fn cancel_metrics(&mut self, pane: usize) {
        if let Some(explanation) = self.panes.get_mut(pane) {
            explanation.faithfulness.cancel("cancelled");
            explanation.randomisation.cancel("cancelled");
        }
    }

    /// Panes that follow the slice (the first `shown` ones, all when `always`, else those with
    /// "follow slice" on) explain the slice on screen when theirs is missing; work for another
    /// slice is cancelled.
    pub fn follow(
        &mut self,
        volume: &Arc<Volume>,
        slice: usize,
        shown: usize,
        always: bool,
    ) -> Result<(), String> {
        let key = slice_key(volume, slice);
        for pane in 0..shown.min(self.panes.len()) {
            let e = &self.panes[pane];
            let current = e.running.as_ref().map(|r| r.key) == Some(key)
                || e.result.as_ref().is_some_and(|(k, _)| *k == key);
            if (e.choice.follow || always) && !current {
                self.explain(pane, volume, slice)?;
            }
        }
        Ok(())
    }

    /// Shows `heatmap` (read from a file) as `pane`'s explanation of `slice`, instead of computing
    /// one; a running explanation of the pane is cancelled.
    pub fn show_heatmap(
        &mut self,
        pane: usize,
        volume: &Arc<Volume>,
        slice: usize,
        heatmap: &Arc<Heatmap>,
    ) {
        let key = slice_key(volume, slice);
        let current = self.panes.get(pane).is_some_and(|e| {
            e.result.as_ref().is_some_and(|(k, r)| {
                *k == key && r.as_ref().is_ok_and(|h| Arc::ptr_eq(h, heatmap))
            })
        });
        if current || pane >= self.panes.len() {
            return;
        }
        self.cancel_explanation(pane);
        self.cancel_metrics(pane);
        self.panes[pane].result = Some((key, Ok(Arc::clone(heatmap))));
    }

    /// `pane`'s heatmap for `slice` of `volume`, if that is what its last explanation was of.
    #[must_use]
    pub fn heatmap_for(
        &self,
        pane: usize,
        volume: &Arc<Volume>,
        slice: usize,
    ) -> Option<&Arc<Heatmap>> {
        match &self.panes.get(pane)?.result {
            Some((key, Ok(heatmap))) if *key == slice_key(volume, slice) => Some(heatmap),
            _ => None,
        }
    }

    /// Takes the worker's replies; returns a message to show when something went wrong.
    pub fn poll(&mut self) -> Option<String> {
        let mut message = None;
        while let Ok(reply) = self.worker.replies.try_recv() {
            match reply {
                Reply::Done { id, result, .. } => {
                    if let Some(index) = self.pending.iter().position(|(p, _)| *p == id) {
                        let (_, slice) = self.pending[index];
                        // Older requests were dropped as stale; forget them too.
                        self.pending.drain(..=index);
                        let prediction = result.and_then(|output| match output {
                            Output::Prediction(p) => Ok(p),
                            _ => Err("unexpected answer".to_owned()),
                        });
                        self.prediction = Some((slice, prediction));
                    } else if let Some(pane) = self
                        .panes
                        .iter_mut()
                        .find(|p| p.running.as_ref().is_some_and(|r| r.id == id))
                    {
                        let key = pane.running.take().map(|r| r.key).unwrap_or_default();
                        let heatmap = result.and_then(|output| match output {
                            Output::Heatmap(h) => Ok(Arc::new(*h)),
                            _ => Err("unexpected answer".to_owned()),
                        });
                        pane.result = Some((key, heatmap));
                    } else if self.deep.as_ref().is_some_and(|d| d.id == id) {
                        self.deep = None;
                        self.deep_result = Some((
                            id,
                            result.and_then(|output| match output {
                                Output::DeepFeatures(f) => Ok(f),
                                _ => Err("unexpected answer".to_owned()),
                            }),
                        ));
                    } else if self.export.as_ref().is_some_and(|e| e.id == id) {
                        self.export = None;
                        self.export_result = Some(result.and_then(|output| match output {
                            Output::Exported(summary) => Ok(summary),
                            _ => Err("unexpected answer".to_owned()),
                        }));
                    } else if self.series.as_ref().is_some_and(|s| s.run.id == id) {
                        self.series_done(id, result);
                    } else {
                        self.metric_done(id, result);
                    }
                }
                Reply::Progress { id, fraction, .. } => {
                    if let Some(run) = self.export.as_mut().filter(|e| e.id == id) {
                        run.fraction = fraction;
                    }
                    if let Some(run) = self.deep.as_mut().filter(|d| d.id == id) {
                        run.fraction = fraction;
                    }
                    if let Some(series) = self.series.as_mut().filter(|s| s.run.id == id) {
                        series.run.fraction = fraction;
                    }
                    for pane in &mut self.panes {
                        if let Some(running) = pane.running.as_mut().filter(|r| r.id == id) {
                            running.fraction = fraction;
                        }
                        for (running_id, done, _) in [
                            pane.faithfulness.running.as_mut(),
                            pane.randomisation.running.as_mut(),
                        ]
                        .into_iter()
                        .flatten()
                        {
                            if *running_id == id {
                                *done = fraction;
                            }
                        }
                    }
                }
                Reply::Restarted { reason, ok } => {
                    message = Some(if ok {
                        format!("the model crashed and was reloaded ({reason})")
                    } else {
                        format!("the model crashed and could not be reloaded ({reason})")
                    });
                }
            }
        }
        message
    }

    /// Files a metric job's answer with the pane that asked (answers nobody waits for are
    /// dropped).
    fn metric_done(&mut self, id: u64, result: Result<Output, String>) {
        let is = |running: &Option<(u64, f32, Arc<AtomicBool>)>| {
            running.as_ref().is_some_and(|(r, _, _)| *r == id)
        };
        for pane in &mut self.panes {
            if is(&pane.faithfulness.running) {
                pane.faithfulness.running = None;
                pane.faithfulness.result = Some(result.and_then(|output| match output {
                    Output::Faithfulness(f) => Ok(*f),
                    _ => Err("unexpected answer".to_owned()),
                }));
                return;
            }
            if is(&pane.randomisation.running) {
                pane.randomisation.running = None;
                pane.randomisation.result = Some(result.and_then(|output| match output {
                    Output::Randomisation(r) => Ok(*r),
                    _ => Err("unexpected answer".to_owned()),
                }));
                return;
            }
        }
    }

    /// True while a request is being computed.
    #[must_use]
    pub fn busy(&self) -> bool {
        !self.pending.is_empty()
    }
}
