//! The app's model session: loading a model off the UI thread, the inference worker, the
//! prediction for the slice on screen (resubmitted whenever the slice changes; stale requests are
//! dropped by the worker), and explanations computed on the same worker with progress and cancel.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::Receiver;

use crate::dicom::{Volume, Voxels};
use crate::explain::{ExplainInput, ExplainParams, Heatmap, Method, Target, explain};
use crate::model::{
    CamSupport, JobContext, Manifest, Model, Prediction, Reply, Worker, preprocess_slice,
};

/// What the worker computes for the app.
pub enum Output {
    Prediction(Prediction),
    Heatmap(Box<Heatmap>),
}

/// What the model card shows (copied before the model moves into its worker).
#[derive(Clone, Debug)]
pub struct ModelCard {
    pub path: PathBuf,
    pub manifest: Manifest,
    pub cam: CamSupport,
    pub device: String,
}

/// A loaded model and its latest answers.
pub struct ModelSession {
    pub card: ModelCard,
    worker: Worker<Output>,
    /// `(slice, prediction)` for the slice on screen, or the error for it.
    pub prediction: Option<(usize, Result<Prediction, String>)>,
    /// What was last submitted: (volume identity, slice).
    submitted: Option<(usize, usize)>,
    /// Request id → slice it was for.
    pending: Vec<(u64, usize)>,
    pub explanation: Explanation,
}

/// The explanation of the slice on screen: what to compute, the running job, the last result.
pub struct Explanation {
    pub method: Method,
    pub target: Target,
    /// Recompute when the slice changes.
    pub follow: bool,
    /// `(volume identity, slice)` and the heatmap (or why there is none).
    pub result: Option<(SliceKey, Result<Arc<Heatmap>, String>)>,
    pub running: Option<Running>,
}

/// An explanation being computed.
pub struct Running {
    pub id: u64,
    pub key: SliceKey,
    pub method: Method,
    pub fraction: f32,
    pub cancel: Arc<AtomicBool>,
}

/// The view that asks for predictions, and the one that asks for explanations: each keeps only its
/// newest request.
const PREDICTION_VIEW: u32 = 0;
const EXPLANATION_VIEW: u32 = 1;

/// Identity of a volume's slice (volume address, slice index) for matching answers to the screen.
pub type SliceKey = (usize, usize);

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
            cam: model.cam.clone(),
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
            explanation: Explanation {
                method: Method::GradCam,
                target: Target::Top,
                follow: false,
                result: None,
                running: None,
            },
        })
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

    /// Starts explaining `slice` of `volume` with the chosen method and target (a running
    /// explanation is cancelled first).
    pub fn explain(&mut self, volume: &Arc<Volume>, slice: usize) -> Result<(), String> {
        self.cancel_explanation();
        let key = slice_key(volume, slice);
        let method = self.explanation.method;
        if matches!(volume.voxels, Voxels::Rgb8(_)) {
            self.explanation.result = Some((key, Err("colour images are not model input".into())));
            return Ok(());
        }
        let [_, rows, cols] = volume.shape;
        let mut values = vec![0.0; rows * cols];
        volume.slice_f32_into(slice, &mut values);
        let mut params = ExplainParams::new(method);
        params.target = self.explanation.target.clone();
        let job = Box::new(move |model: &Model, ctx: &JobContext<'_>| {
            let input = ExplainInput::from_slice(&values, rows, cols, &model.manifest)
                .map_err(|e| e.to_string())?;
            explain(model, &input, &params, &|f| ctx.progress(f), ctx.cancel)
                .map(|h| Output::Heatmap(Box::new(h)))
                .map_err(|e| e.to_string())
        });
        let (id, cancel) = self.worker.submit(EXPLANATION_VIEW, job)?;
        self.explanation.running = Some(Running {
            id,
            key,
            method,
            fraction: 0.0,
            cancel,
        });
        Ok(())
    }

    /// Stops the running explanation (it ends at its next batch; its answer is ignored).
    pub fn cancel_explanation(&mut self) {
        if let Some(running) = self.explanation.running.take() {
            running.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// With "follow slice" on, explains the slice on screen when its explanation is missing.
    pub fn follow(&mut self, volume: &Arc<Volume>, slice: usize) -> Result<(), String> {
        let key = slice_key(volume, slice);
        let e = &self.explanation;
        let current = e.running.as_ref().map(|r| r.key) == Some(key)
            || e.result.as_ref().is_some_and(|(k, _)| *k == key);
        if e.follow && !current {
            self.explain(volume, slice)?;
        }
        Ok(())
    }

    /// The heatmap for `slice` of `volume`, if that is what the last explanation was of.
    #[must_use]
    pub fn heatmap_for(&self, volume: &Arc<Volume>, slice: usize) -> Option<&Arc<Heatmap>> {
        match &self.explanation.result {
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
                            Output::Heatmap(_) => Err("unexpected answer".to_owned()),
                        });
                        self.prediction = Some((slice, prediction));
                    } else if let Some(running) = &self.explanation.running
                        && running.id == id
                    {
                        let key = running.key;
                        self.explanation.running = None;
                        let heatmap = result.and_then(|output| match output {
                            Output::Heatmap(h) => Ok(Arc::new(*h)),
                            Output::Prediction(_) => Err("unexpected answer".to_owned()),
                        });
                        self.explanation.result = Some((key, heatmap));
                    }
                }
                Reply::Progress { id, fraction, .. } => {
                    if let Some(running) = &mut self.explanation.running
                        && running.id == id
                    {
                        running.fraction = fraction;
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

    /// True while a request is being computed.
    #[must_use]
    pub fn busy(&self) -> bool {
        !self.pending.is_empty()
    }
}
