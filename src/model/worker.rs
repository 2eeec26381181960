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

/// Work for the model: any computation on it with an output `T` (a prediction, an explanation).
pub type Job<T = Prediction> = Box<dyn FnOnce(&Model, &JobContext<'_>) -> Result<T, String> + Send>;

/// What a running job sees of its request: the cancel flag and a progress reporter.
pub struct JobContext<'a> {
    pub cancel: &'a AtomicBool,
    progress: &'a dyn Fn(f32),
}

impl<'a> JobContext<'a> {
    /// A context outside the worker (tests, a headless caller running a job itself).
    #[must_use]
    pub fn new(cancel: &'a AtomicBool, progress: &'a dyn Fn(f32)) -> Self {
        Self { cancel, progress }
    }

    /// Reports the fraction done (`0..=1`) to the UI; cheap, call it as often as convenient.
    pub fn progress(&self, fraction: f32) {
        (self.progress)(fraction);
    }

    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// One request: `id` increases with every request; `view` says which view it is for.
pub struct Request<T = Prediction> {
    pub id: u64,
    pub view: u32,
    pub job: Job<T>,
    pub cancel: Arc<AtomicBool>,
}

/// What comes back.
#[derive(Debug)]
pub enum Reply<T = Prediction> {
    Done {
        id: u64,
        view: u32,
        result: Result<T, String>,
    },
    /// A long job's progress (sent when it moved by at least 1 %; dropped when the queue is full).
    Progress { id: u64, view: u32, fraction: f32 },
    /// The model was reloaded after a crash (`reason`), or could not be (`ok == false`).
    Restarted { reason: String, ok: bool },
}

/// The UI's end of the worker.
pub struct Worker<T = Prediction> {
    /// `None` once dropped (the worker thread then ends after its job).
    requests: Option<Sender<Request<T>>>,
    pub replies: Receiver<Reply<T>>,
    next_id: u64,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The cancel flags of jobs submitted and not yet finished (as far as anyone holds them).
    outstanding: Vec<std::sync::Weak<AtomicBool>>,
}

/// Dropping the worker cancels its jobs and waits for its thread: a libtorch job still running
/// while the process exits would race libtorch's own teardown (a crash at exit, seen in the
/// tests).
impl<T> Drop for Worker<T> {
    fn drop(&mut self) {
        for cancel in self.outstanding.drain(..).filter_map(|w| w.upgrade()) {
            cancel.store(true, Ordering::Relaxed);
        }
        drop(self.requests.take());
        // Disconnects the replies too, so a reply the thread is sending cannot block it.
        drop(std::mem::replace(
            &mut self.replies,
            crossbeam_channel::never(),
        ));
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!("the inference worker panicked while stopping");
        }
    }
}

const QUEUE: usize = 64;

impl<T: Send + 'static> Worker<T> {
    /// Starts the worker thread with an already loaded model; `notify` runs after every reply.
    pub fn spawn(model: Model, notify: impl Fn() + Send + 'static) -> std::io::Result<Self> {
        let (request_tx, request_rx) = bounded::<Request<T>>(QUEUE);
        let (reply_tx, reply_rx) = bounded::<Reply<T>>(QUEUE);
        let thread = std::thread::Builder::new()
            .name("radlens-inference".to_owned())
            .spawn(move || serve(model, &request_rx, &reply_tx, &notify))?;
        Ok(Self {
            requests: Some(request_tx),
            replies: reply_rx,
            next_id: 0,
            thread: Some(thread),
            outstanding: Vec::new(),
        })
    }

    /// Queues `job` for `view`; returns its id and cancel flag. Fails only if the worker is gone.
    pub fn submit(&mut self, view: u32, job: Job<T>) -> Result<(u64, Arc<AtomicBool>), String> {
        self.next_id += 1;
        let cancel = Arc::new(AtomicBool::new(false));
        let request = Request {
            id: self.next_id,
            view,
            job,
            cancel: Arc::clone(&cancel),
        };
        self.requests
            .as_ref()
            .ok_or_else(|| "the inference worker has stopped".to_owned())?
            .send(request)
            .map_err(|_| "the inference worker has stopped".to_owned())?;
        self.outstanding.retain(|w| w.strong_count() > 0);
        self.outstanding.push(Arc::downgrade(&cancel));
        Ok((self.next_id, cancel))
    }
}

/// Keeps, per view, only the newest of `requests` that is not cancelled (in arrival order).
#[must_use]
pub fn newest_per_view<T>(requests: Vec<Request<T>>) -> Vec<Request<T>> {
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

fn serve<T>(
    mut model: Model,
    requests: &Receiver<Request<T>>,
    replies: &Sender<Reply<T>>,
    notify: &dyn Fn(),
) {
    let reply = |r: Reply<T>| {
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
            let Request {
                id,
                view,
                job,
                cancel,
            } = request;
            let last = std::cell::Cell::new(-1.0f32);
            let progress = |fraction: f32| {
                if (fraction - last.get()).abs() >= 0.01 {
                    last.set(fraction);
                    if replies
                        .try_send(Reply::Progress { id, view, fraction })
                        .is_ok()
                    {
                        notify();
                    }
                }
            };
            let context = JobContext {
                cancel: &cancel,
                progress: &progress,
            };
            let outcome = catch_unwind(AssertUnwindSafe(|| job(&model, &context)));
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
