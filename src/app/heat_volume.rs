//! "Explain the series": pane 1's method and target over every slice, one job on the worker
//! (progress across the slices, cancel between and within them), the maps stacked into a heat
//! volume that the three MPR planes show with one display range, so planes and slices compare.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::dicom::mpr::Voxel;
use crate::dicom::{Volume, Voxels};
use crate::explain::{ExplainInput, ExplainParams, Heatmap, Method, explain};
use crate::imaging::HeatParams;
use crate::model::{JobContext, Model};

use super::inference::{ModelSession, Output, WorkerRun};

/// The worker view of series explanations (the newest request replaces an older one).
const SERIES_VIEW: u32 = 500;

/// One heatmap per slice of a volume, at the model's grid, with one display range.
pub struct HeatVolume {
    /// The volume explained (its `Arc` identity).
    pub volume_key: usize,
    pub method: Method,
    pub heatmaps: Vec<Heatmap>,
    /// The display range over every slice: `(low, high)` raw values, and whether it is signed.
    pub range: (f32, f32),
    pub signed: bool,
}

impl HeatVolume {
    fn new(volume_key: usize, heatmaps: Vec<Heatmap>) -> Self {
        let (low, high) = heatmaps
            .iter()
            .map(Heatmap::range)
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), (l, h)| {
                (lo.min(l), hi.max(h))
            });
        let (low, high) = if low > high { (0.0, 0.0) } else { (low, high) };
        let signed = heatmaps.first().is_some_and(|h| h.provenance.signed);
        let method = heatmaps
            .first()
            .map_or(Method::GradCam, |h| h.provenance.method);
        Self {
            volume_key,
            method,
            heatmaps,
            range: if signed {
                (0.0, low.abs().max(high.abs()))
            } else {
                (low, high)
            },
            signed,
        }
    }

    /// How the shader shows it with a pane's `threshold` and `opacity`.
    #[must_use]
    pub fn params(&self, threshold: f32, opacity: f32) -> HeatParams {
        HeatParams {
            low: self.range.0,
            high: self.range.1,
            threshold,
            opacity,
            signed: self.signed,
        }
    }

    /// The map's value at `voxel` of a volume of `shape` (nearest sample of its slice's grid).
    #[must_use]
    pub fn value(&self, voxel: Voxel, shape: [usize; 3]) -> f32 {
        let [s, r, c] = voxel;
        let Some(map) = self.heatmaps.get(s) else {
            return 0.0;
        };
        let row = (r * map.rows / shape[1].max(1)).min(map.rows.saturating_sub(1));
        let col = (c * map.cols / shape[2].max(1)).min(map.cols.saturating_sub(1));
        map.values.get(row * map.cols + col).copied().unwrap_or(0.0)
    }
}

/// The series explanation running on the worker.
pub struct SeriesRun {
    pub run: WorkerRun,
    pub volume_key: usize,
}

fn volume_key(volume: &Arc<Volume>) -> usize {
    Arc::as_ptr(volume) as usize
}

impl ModelSession {
    /// Starts explaining every slice of `volume` with pane 1's method and target (a running
    /// series explanation is cancelled first).
    pub fn explain_series(&mut self, volume: &Arc<Volume>) -> Result<(), String> {
        self.cancel_series();
        let Some(pane) = self.panes.first() else {
            return Err("no explanation pane".to_owned());
        };
        if matches!(volume.voxels, Voxels::Rgb8(_)) {
            return Err("colour images are not model input".to_owned());
        }
        let mut params = ExplainParams::new(pane.choice.method);
        params.target = pane.choice.target.clone();
        if params.target.deep_unit().is_some() {
            return Err(
                "a deep-feature target explains one slice's region: pick a class to explain the series"
                    .to_owned(),
            );
        }
        let key = volume_key(volume);
        let volume = Arc::clone(volume);
        let job = Box::new(move |model: &Model, ctx: &JobContext<'_>| {
            let [slices, rows, cols] = volume.shape;
            let mut values = vec![0.0; rows * cols];
            let mut heatmaps = Vec::with_capacity(slices);
            for slice in 0..slices {
                if ctx.cancel.load(Ordering::Relaxed) {
                    return Err("cancelled".to_owned());
                }
                volume.slice_f32_into(slice, &mut values);
                let input = ExplainInput::from_slice(&values, rows, cols, &model.manifest)
                    .map_err(|e| e.to_string())?;
                let progress = |f: f32| ctx.progress((slice as f32 + f) / slices as f32);
                let heatmap = explain(model, &input, &params, &progress, ctx.cancel)
                    .map_err(|e| format!("slice {}: {e}", slice + 1))?;
                heatmaps.push(heatmap);
            }
            Ok(Output::Series(heatmaps))
        });
        let (id, cancel) = self.worker.submit(SERIES_VIEW, job)?;
        self.series = Some(SeriesRun {
            run: WorkerRun {
                id,
                fraction: 0.0,
                cancel,
            },
            volume_key: key,
        });
        self.series_result = None;
        Ok(())
    }

    /// Stops the series explanation (within the slice it is explaining).
    pub fn cancel_series(&mut self) {
        if let Some(series) = self.series.take() {
            series.run.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// Files the worker's answer `id` when it is the series explanation's.
    pub(super) fn series_done(&mut self, id: u64, result: Result<Output, String>) {
        let Some(series) = self.series.take_if(|s| s.run.id == id) else {
            return;
        };
        self.series_result = Some(result.and_then(|output| match output {
            Output::Series(heatmaps) => Ok(Arc::new(HeatVolume::new(series.volume_key, heatmaps))),
            _ => Err("unexpected answer".to_owned()),
        }));
    }

    /// The heat volume of `volume`, when the last series explanation was of it.
    #[must_use]
    pub fn heat_volume(&self, volume: &Arc<Volume>) -> Option<&Arc<HeatVolume>> {
        match &self.series_result {
            Some(Ok(heat)) if heat.volume_key == volume_key(volume) => Some(heat),
            _ => None,
        }
    }
}
