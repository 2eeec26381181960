//! Loading studies on a named background thread: scan, then decode one series, with progress and
//! cancel. Every message is followed by a repaint request so the UI notices at once.

use std::path::PathBuf;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::dicom::{self, LoadControl, ScanReport, Series, Volume};

/// What the loader reports.
pub enum LoadEvent {
    /// Headers read: the series found (the chosen one is being decoded now).
    Scanned {
        report: Box<ScanReport>,
        chosen: usize,
    },
    Loaded {
        volume: Box<Volume>,
        series_index: usize,
        /// Region-of-interest mask per slice, from the study's segmentations.
        masks: Vec<Option<Vec<u8>>>,
    },
    Failed(String),
}

/// A running load: poll `events`, show `progress()`, `cancel()` to stop.
pub struct LoadJob {
    pub events: Receiver<LoadEvent>,
    pub control: LoadControl,
    /// Slices to decode, once known.
    pub total_slices: usize,
    pub label: String,
}

impl LoadJob {
    /// Fraction done in `[0, 1]` (0 while scanning).
    #[must_use]
    pub fn progress(&self) -> f32 {
        if self.total_slices == 0 {
            0.0
        } else {
            self.control.slices_done() as f32 / self.total_slices as f32
        }
    }

    pub fn cancel(&self) {
        self.control.cancel();
    }
}

/// Reports an event to the UI; false when nobody listens any more (the job was dropped).
type Reply<'a> = &'a dyn Fn(LoadEvent) -> bool;

/// Scans `paths` and loads their first image series (CT/MR preferred over SEG and others).
pub fn open_paths(paths: Vec<PathBuf>, ctx: egui::Context) -> Result<LoadJob, String> {
    let label = paths
        .first()
        .map(|p| {
            p.file_name()
                .unwrap_or(p.as_os_str())
                .to_string_lossy()
                .into_owned()
        })
        .unwrap_or_default();
    spawn(label, ctx, move |send, control| {
        let report = match dicom::scan(&paths) {
            Ok(report) => report,
            Err(err) => return send(LoadEvent::Failed(err.to_string())),
        };
        let chosen = preferred_series(&report.series);
        let series = report.series[chosen].clone();
        let segmentations: Vec<Series> = dicom::segmentations_for(&series, &report.series)
            .into_iter()
            .cloned()
            .collect();
        let report = Box::new(report);
        send(LoadEvent::Scanned { report, chosen })
            && decode(&series, chosen, &segmentations, send, control)
    })
}

/// Loads one series of an earlier scan, with the segmentations to show on it.
pub fn load_series(
    series: Series,
    series_index: usize,
    segmentations: Vec<Series>,
    ctx: egui::Context,
) -> Result<LoadJob, String> {
    let label = series.id.clone();
    spawn(label, ctx, move |send, control| {
        decode(&series, series_index, &segmentations, send, control)
    })
}

fn decode(
    series: &Series,
    series_index: usize,
    segmentations: &[Series],
    send: Reply<'_>,
    control: &LoadControl,
) -> bool {
    match dicom::load_series(series, control) {
        Ok(volume) => {
            // A segmentation that fails to load only costs its outline, not the study.
            let seg_volumes: Vec<Volume> = segmentations
                .iter()
                .filter_map(
                    |seg| match dicom::load_series(seg, &LoadControl::default()) {
                        Ok(v) => Some(v),
                        Err(e) => {
                            tracing::warn!("segmentation not shown: {e}");
                            None
                        }
                    },
                )
                .collect();
            let masks = dicom::masks_for(&volume, &seg_volumes);
            send(LoadEvent::Loaded {
                volume: Box::new(volume),
                series_index,
                masks,
            })
        }
        Err(dicom::DicomError::Cancelled) => false,
        Err(err) => send(LoadEvent::Failed(err.to_string())),
    }
}

fn spawn(
    label: String,
    ctx: egui::Context,
    work: impl FnOnce(Reply<'_>, &LoadControl) -> bool + Send + 'static,
) -> Result<LoadJob, String> {
    let (tx, rx): (Sender<LoadEvent>, Receiver<LoadEvent>) = bounded(4);
    let control = LoadControl::default();
    let worker_control = control.clone();
    std::thread::Builder::new()
        .name("radlens-loader".to_owned())
        .spawn(move || {
            // A send fails only when the UI dropped the job (another study was opened): stop then.
            let send = |event: LoadEvent| {
                let delivered = tx.send(event).is_ok();
                ctx.request_repaint();
                delivered
            };
            if !work(&send, &worker_control) {
                tracing::debug!("load finished without a listener or was cancelled");
            }
        })
        .map_err(|e| format!("cannot start the loader thread ({e})"))?;
    Ok(LoadJob {
        events: rx,
        control,
        total_slices: 0,
        label,
    })
}

/// The series a radiologist most likely wants first: the largest CT/MR volume, else the first.
#[must_use]
pub fn preferred_series(series: &[Series]) -> usize {
    let rank = |s: &Series| {
        let image = matches!(s.modality(), "CT" | "MR" | "PT" | "CR" | "DX" | "US");
        (image, s.slices.len())
    };
    series
        .iter()
        .enumerate()
        .max_by_key(|(i, s)| (rank(s), std::cmp::Reverse(*i)))
        .map_or(0, |(i, _)| i)
}
