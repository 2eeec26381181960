//! The inference worker: one named thread owns the model; the UI sends requests with ids and gets
//! replies through a bounded channel, with a notification (the UI's `request_repaint`) after each.
//!
//! - A newer request for the same view makes queued older ones stale: they are dropped unanswered.
//! - A panic inside a job becomes that job's error; the model is then reloaded from disk (the
//!   worker "restarts") and later requests are served as usual.
//! - Each request has a cancel flag; a cancelled request that has not started is dropped.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender, bounded};

use super::runtime::{Model, Prediction};

/// Work for the model: any computation on it (prediction now, explanations later).
pub type Job = Box<dyn FnOnce(&Model) -> Result<Prediction, String> + Send>;

/// One request: `id` increases with every request; `view` says which view it is for.
pub struct Request {
    pub id: u64,
    pub view: u32,
    pub job: Job,
    pub cancel: Arc<AtomicBool>,
}

/// What comes back.
#[derive(Debug)]
pub enum Reply {
    Done {
        id: u64,
        view: u32,
        result: Result<Prediction, String>,
    },
    /// The model was reloaded after a crash (`reason`), or could not be (`ok == false`).
    Restarted { reason: String, ok: bool },
}

/// The UI's end of the worker.
pub struct Worker {
    requests: Sender<Request>,
    pub replies: Receiver<Reply>,
    next_id: u64,
}

const QUEUE: usize = 64;

impl Worker {
    /// Starts the worker thread with an already loaded model; `notify` runs after every reply.
    pub fn spawn(model: Model, notify: impl Fn() + Send + 'static) -> std::io::Result<Self> {
        let (request_tx, request_rx) = bounded::<Request>(QUEUE);
        let (reply_tx, reply_rx) = bounded::<Reply>(QUEUE);
        std::thread::Builder::new()
            .name("radlens-inference".to_owned())
            .spawn(move || serve(model, &request_rx, &reply_tx, &notify))?;
        Ok(Self {
            requests: request_tx,
            replies: reply_rx,
            next_id: 0,
        })
    }

    /// Queues `job` for `view`; returns its id and cancel flag. Fails only if the worker is gone.
    pub fn submit(&mut self, view: u32, job: Job) -> Result<(u64, Arc<AtomicBool>), String> {
        self.next_id += 1;
        let cancel = Arc::new(AtomicBool::new(false));
        let request = Request {
            id: self.next_id,
            view,
            job,
            cancel: Arc::clone(&cancel),
        };
        self.requests
            .send(request)
            .map_err(|_| "the inference worker has stopped".to_owned())?;
        Ok((self.next_id, cancel))
    }
}

/// Keeps, per view, only the newest of `requests` that is not cancelled (in arrival order).
#[must_use]
pub fn newest_per_view(requests: Vec<Request>) -> Vec<Request> {
    let mut newest: HashMap<u32, u64> = HashMap::new();
    for r in &requests {
        let id = newest.entry(r.view).or_insert(r.id);
        *id = (*id).max(r.id);
    }
    requests
        .into_iter()
        .filter(|r| newest.get(&r.view) == Some(&r.id) && !r.cancel.load(Ordering::Relaxed))
        .collect()
}

fn serve(
    mut model: Model,
    requests: &Receiver<Request>,
    replies: &Sender<Reply>,
    notify: &dyn Fn(),
) {
    let reply = |r: Reply| {
        let delivered = replies.send(r).is_ok();
        notify();
        delivered
    };
    while let Ok(first) = requests.recv() {
        // Everything already queued competes with `first`: only the newest per view is computed.
        let mut batch = vec![first];
        // Empty or disconnected: either way nothing more is queued.
        while let Ok(r) = requests.try_recv() {
            batch.push(r);
        }
        for request in newest_per_view(batch) {
            if request.cancel.load(Ordering::Relaxed) {
                continue;
            }
            let Request { id, view, job, .. } = request;
            let outcome = catch_unwind(AssertUnwindSafe(|| job(&model)));
            let crashed = outcome.is_err();
            let result =
                outcome.unwrap_or_else(|_| Err("the model crashed on this input".to_owned()));
            if !reply(Reply::Done { id, view, result }) {
                return; // The UI dropped the worker.
            }
            if crashed {
                let path: PathBuf = model.path.clone();
                let restarted = match Model::load(&path) {
                    Ok(fresh) => {
                        model = fresh;
                        Reply::Restarted {
                            reason: "reloaded after a crash".to_owned(),
                            ok: true,
                        }
                    }
                    Err(e) => Reply::Restarted {
                        reason: e.to_string(),
                        ok: false,
                    },
                };
                if !reply(restarted) {
                    return;
                }
            }
        }
    }
}
