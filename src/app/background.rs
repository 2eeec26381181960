//! A value computed on a named background thread for one key, so that the UI never waits: the
//! metrics panel's rankings, the features panel's radiomics, the cohort view's statistics.

use crossbeam_channel::{Receiver, TryRecvError};

/// A value computed on a named background thread for one key (a heatmap, a region, a pair): the
/// UI never waits for a ranking of 512² values. Asking with another key starts over; the old
/// computation's answer is dropped.
pub struct Background<K, T> {
    key: K,
    value: Option<T>,
    pending: Option<Receiver<T>>,
}

impl<K: PartialEq, T: Clone + Send + 'static> Background<K, T> {
    /// The value for `key` when ready; starts computing it when `slot` holds another key.
    pub fn get(
        slot: &mut Option<Self>,
        key: K,
        ctx: &egui::Context,
        compute: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        if slot.as_ref().is_none_or(|s| s.key != key) {
            *slot = Some(Self::start(key, ctx, compute));
        }
        let cell = slot.as_mut()?;
        if let Some(rx) = &cell.pending {
            match rx.try_recv() {
                Ok(value) => {
                    cell.value = Some(value);
                    cell.pending = None;
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => {
                    tracing::warn!("a background computation stopped without an answer");
                    cell.pending = None;
                }
            }
        }
        cell.value.clone()
    }

    /// The value computed last, whatever key it was for.
    pub fn value(&self) -> Option<&T> {
        self.value.as_ref()
    }

    fn start(key: K, ctx: &egui::Context, compute: impl FnOnce() -> T + Send + 'static) -> Self {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("radlens-background".to_owned())
            .spawn(move || {
                if tx.send(compute()).is_err() {
                    tracing::debug!("computed after it was no longer needed");
                }
                ctx.request_repaint();
            });
        let pending = match spawned {
            Ok(_) => Some(rx),
            Err(e) => {
                tracing::warn!("cannot start a background thread ({e})");
                None
            }
        };
        Self {
            key,
            value: None,
            pending,
        }
    }
}
