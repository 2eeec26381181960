//! The app's model session: loading a model off the UI thread, the inference worker, and the
//! prediction for the slice on screen (resubmitted whenever the slice changes; stale requests are
//! dropped by the worker).

use std::path::PathBuf;
use std::sync::Arc;

use crossbeam_channel::Receiver;

use crate::dicom::{Volume, Voxels};
use crate::model::{CamSupport, Manifest, Model, Prediction, Reply, Worker, preprocess_slice};

/// What the model card shows (copied before the model moves into its worker).
#[derive(Clone, Debug)]
pub struct ModelCard {
    pub path: PathBuf,
    pub manifest: Manifest,
    pub cam: CamSupport,
    pub device: String,
}

/// A loaded model and its latest answer.
pub struct ModelSession {
    pub card: ModelCard,
    worker: Worker,
    /// `(slice, prediction)` for the slice on screen, or the error for it.
    pub prediction: Option<(usize, Result<Prediction, String>)>,
    /// What was last submitted: (volume identity, slice).
    submitted: Option<(usize, usize)>,
    /// Request id → slice it was for.
    pending: Vec<(u64, usize)>,
}

/// The single view that asks for predictions (side-by-side views will use more).
const VIEW: u32 = 0;

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
        })
    }

    /// Asks for the prediction of `slice` of `volume` unless that is what was last asked.
    pub fn request(&mut self, volume: &Arc<Volume>, slice: usize) -> Result<(), String> {
        let key = (Arc::as_ptr(volume) as usize, slice);
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
        let job = Box::new(move |model: &Model| {
            let input = preprocess_slice(&values, rows, cols, &model.manifest)
                .map_err(|e| e.to_string())?;
            model.predict(&input).map_err(|e| e.to_string())
        });
        let (id, _cancel) = self.worker.submit(VIEW, job)?;
        self.pending.push((id, slice));
        Ok(())
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
                        self.prediction = Some((slice, result));
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
