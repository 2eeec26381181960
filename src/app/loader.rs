//! Loading studies on a named background thread: scan, then decode one series, with progress and
//! cancel. Every message is followed by a repaint request so the UI notices at once.

use std::path::PathBuf;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::dicom::{self, LoadControl, Photometric, ScanReport, Series, Volume, Voxels};
use crate::imaging;

/// What the loader reports.
pub enum LoadEvent {
    /// Headers read: the series found (the chosen one is being decoded now).
    Scanned {
        report: Box<ScanReport>,
        chosen: usize,
    },
    /// The middle slice alone (decoded first), shown while the rest of the series decodes.
    Preview {
        slice: Box<Volume>,
        series_index: usize,
    },
    Loaded {
        volume: Box<Volume>,
        series_index: usize,
        /// Region-of-interest mask per slice, from the study's segmentations.
        masks: Vec<Option<Vec<u8>>>,
    },
    /// A small picture of one series' middle slice (sent after the chosen series is loaded).
    Thumbnail {
        series_index: usize,
        image: egui::ColorImage,
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
    /// The series is shown; the job only renders thumbnails now.
    pub series_loaded: bool,
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
pub fn open_paths(
    paths: Vec<PathBuf>,
    ctx: egui::Context,
    control: LoadControl,
) -> Result<LoadJob, String> {
    let label = paths
        .first()
        .map(|p| {
            p.file_name()
                .unwrap_or(p.as_os_str())
                .to_string_lossy()
                .into_owned()
        })
        .unwrap_or_default();
    spawn(label, ctx, control, move |send, control| {
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
        let all_series = report.series.clone();
        let report = Box::new(report);
        send(LoadEvent::Scanned { report, chosen })
            && decode(&series, chosen, &segmentations, send, control)
            && send_thumbnails(&all_series, send, control)
    })
}

/// Loads one series of an earlier scan, with the segmentations to show on it.
pub fn load_series(
    series: Series,
    series_index: usize,
    segmentations: Vec<Series>,
    ctx: egui::Context,
    control: LoadControl,
) -> Result<LoadJob, String> {
    let label = series.id.clone();
    spawn(label, ctx, control, move |send, control| {
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
    // The middle slice first, on its own: on screen while the whole series decodes.
    if series.slices.len() > 1 {
        let mut middle = series.clone();
        middle.slices = vec![series.slices[series.slices.len() / 2].clone()];
        if let Ok(slice) = dicom::load_series(&middle, &LoadControl::default())
            && !send(LoadEvent::Preview {
                slice: Box::new(slice),
                series_index,
            })
        {
            return false;
        }
    }
    // A segmentation that fails to load only costs its outline (a warning), not the study.
    match dicom::load_with_masks(series, segmentations, control) {
        Ok(loaded) => send(LoadEvent::Loaded {
            volume: Box::new(loaded.volume),
            series_index,
            masks: loaded.masks,
        }),
        Err(dicom::DicomError::Cancelled) => false,
        Err(err) => send(LoadEvent::Failed(err.to_string())),
    }
}

/// Decodes the middle slice of every series for the series list.
fn send_thumbnails(series: &[Series], send: Reply<'_>, control: &LoadControl) -> bool {
    for (series_index, s) in series.iter().enumerate() {
        if control.is_cancelled() {
            return false;
        }
        let mut middle = s.clone();
        middle.slices = vec![s.slices[s.slices.len() / 2].clone()];
        match dicom::load_series(&middle, &LoadControl::default()) {
            Ok(volume) => {
                if let Some(image) = thumbnail(&volume)
                    && !send(LoadEvent::Thumbnail {
                        series_index,
                        image,
                    })
                {
                    return false;
                }
            }
            Err(e) => tracing::debug!("no thumbnail for series {series_index}: {e}"),
        }
    }
    true
}

/// Side of the square series thumbnails, in pixels.
const THUMBNAIL_PIXELS: usize = 64;

/// The first slice of `volume`, shrunk and windowed on the CPU.
#[must_use]
pub fn thumbnail(volume: &Volume) -> Option<egui::ColorImage> {
    let [slices, rows, cols] = volume.shape;
    if slices == 0 || rows == 0 || cols == 0 {
        return None;
    }
    let size = THUMBNAIL_PIXELS;
    let invert = volume.photometric == Photometric::Monochrome1;
    let mut pixels = Vec::with_capacity(size * size);
    for y in 0..size {
        for x in 0..size {
            let (row, col) = (y * rows / size, x * cols / size);
            let colour = if let Voxels::Rgb8(rgb) = &volume.voxels {
                let i = (row * cols + col) * 3;
                rgb.get(i..i + 3).map_or(egui::Color32::BLACK, |p| {
                    egui::Color32::from_rgb(p[0], p[1], p[2])
                })
            } else {
                let v = volume.value(0, row, col).unwrap_or(0.0);
                egui::Color32::from_gray(
                    (imaging::window_grey(v, volume.default_window, invert) * 255.0).round() as u8,
                )
            };
            pixels.push(colour);
        }
    }
    Some(egui::ColorImage::new([size, size], pixels))
}

fn spawn(
    label: String,
    ctx: egui::Context,
    control: LoadControl,
    work: impl FnOnce(Reply<'_>, &LoadControl) -> bool + Send + 'static,
) -> Result<LoadJob, String> {
    let (tx, rx): (Sender<LoadEvent>, Receiver<LoadEvent>) = bounded(4);
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
        series_loaded: false,
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
