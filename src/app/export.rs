//! File → Export: the annotated slice as displayed (window, heatmap of pane 1 with its colormap,
//! opacity and threshold, ROI outline, legend), previewed in a window, written as PNG + JSON
//! sidecar or DICOM Secondary Capture (de-identified unless the user keeps identity) for the slice
//! on screen or every slice of the series, and on request the DICOM result objects (Parametric
//! Map, Segmentation, Structured Report) into the same folder. File → Export review as DICOM
//! writes the review's entries (each explained again with its parameters, its ROI, verdict and
//! note) as Parametric Map + SEG + SR. The writing runs on the inference worker (each slice is
//! explained there) with progress and cancel; files are written atomically and never over an
//! existing file or a source.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::dicom::Volume;
use crate::explain::{ExplainParams, Heatmap, explain_scored};
pub use crate::export::Format;
use crate::export::{
    AnnotatedImage, DicomExport, DisplayedSlice, Explained, ExplainedSlice, ExportPlan, Legend,
    Listing, Look, Pane, ResultObjects, Scale, SliceToExport, SourceImage, WritePolicy, annotate,
    dicom_options, hash_files, map_measurements, roi_features, sidecar_path, write_result_objects,
};
use crate::imaging::{Colormap, Window};
use crate::model::{JobContext, Model, preprocess_slice};
use crate::review::{ReviewEntry, Roi};

use super::{RadlensApp, inference::Output, menus::Dialog};
use crate::ui;

/// What the export window holds (its checkboxes are independent options, hence the bools).
#[allow(clippy::struct_excessive_bools)]
pub struct ExportDialog {
    pub open: bool,
    pub format: Format,
    pub scale: Scale,
    /// Every slice of the series instead of the one on screen.
    pub all_slices: bool,
    /// DICOM only: copy patient/study identity (in-house PACS); off = PS3.15 de-identification.
    pub keep_identity: bool,
    /// In the comparison layout: all explaining panes side by side (else pane 1 only).
    pub whole_layout: bool,
    /// DICOM, de-identified: keep the source's UIDs (PS3.15 Retain UIDs Option).
    pub retain_uids: bool,
    /// The DICOM result objects written beside the pictures (into the export folder).
    pub results: ResultObjects,
    /// Send the DICOM files of the export to the PACS window's server once written.
    pub send_to_pacs: bool,
    /// The export whose files are to be sent when it completes.
    send_pending: Option<PathBuf>,
    /// The preview's texture and what it shows (slice, heatmap identity, window).
    preview: Option<(PreviewKey, egui::TextureHandle)>,
}

type PreviewKey = (usize, usize, usize, [u32; 2], Scale);

impl Default for ExportDialog {
    fn default() -> Self {
        Self {
            open: false,
            format: Format::Png,
            scale: Scale::Auto,
            all_slices: false,
            keep_identity: false,
            whole_layout: true,
            retain_uids: false,
            results: ResultObjects::default(),
            send_to_pacs: false,
            send_pending: None,
            preview: None,
        }
    }
}

/// How the slice is displayed: what the export reproduces.
#[derive(Clone, Debug)]
pub struct Display {
    pub window: Window,
    pub invert: bool,
    pub colormap: Colormap,
    pub threshold: f32,
    pub opacity: f32,
    pub params: ExplainParams,
}

/// The annotated image of `slice` as displayed, with `heatmap` (if any) overlaid and the
/// reviewer's `verdict` (if any) in the legend.
#[allow(clippy::too_many_arguments)] // everything the picture shows
pub fn render(
    volume: &Volume,
    slice: usize,
    mask: Option<&[u8]>,
    heatmap: Option<&Heatmap>,
    probability: Option<f32>,
    display: &Display,
    scale: Scale,
    verdict: Option<String>,
) -> Result<AnnotatedImage, String> {
    let [_, rows, cols] = volume.shape;
    let mut values = vec![0.0; rows * cols];
    volume.slice_f32_into(slice, &mut values);
    let (displayed, legend) = picture(
        volume,
        slice,
        &values,
        mask,
        heatmap,
        probability,
        display,
        verdict,
    );
    annotate(&displayed, &legend, scale).map_err(|e| e.to_string())
}

/// What the picture of `slice` (its modality `values`) shows: the displayed slice and the legend.
#[allow(clippy::too_many_arguments)] // everything the picture shows
fn picture<'a>(
    volume: &Volume,
    slice: usize,
    values: &'a [f32],
    mask: Option<&'a [u8]>,
    heatmap: Option<&'a Heatmap>,
    probability: Option<f32>,
    display: &Display,
    verdict: Option<String>,
) -> (DisplayedSlice<'a>, Legend) {
    let [count, rows, cols] = volume.shape;
    let meta = volume.slices.get(slice);
    let to_export = SliceToExport {
        index: slice,
        count,
        values,
        rows,
        cols,
        mask,
        source: SourceImage {
            path: meta.map(|m| m.path.clone()).unwrap_or_default(),
            frame: meta.and_then(|m| volume.frame_number(m)),
        },
        position_mm: meta.and_then(|m| volume.position_along_normal_mm(m)),
    };
    crate::export::picture(&to_export, &display.look(), heatmap, probability, verdict)
}

impl Display {
    /// How the slice and its heatmap are drawn.
    #[must_use]
    pub fn look(&self) -> Look {
        Look {
            window: self.window,
            invert: self.invert,
            colormap: self.colormap,
            threshold: self.threshold,
            opacity: self.opacity,
        }
    }
}

impl ExportDialog {
    /// The preview texture of the slice on screen (re-rendered when the slice, the heatmap, the
    /// window or the scale change).
    pub fn preview(
        &mut self,
        ctx: &egui::Context,
        volume: &Volume,
        slice: usize,
        mask: Option<&[u8]>,
        heatmap: Option<&Arc<Heatmap>>,
        display: &Display,
    ) -> Result<egui::TextureHandle, String> {
        let key = (
            std::ptr::from_ref(volume) as usize,
            slice,
            heatmap.map_or(0, |h| Arc::as_ptr(h) as usize),
            [
                display.window.center.to_bits(),
                display.window.width.to_bits(),
            ],
            self.scale,
        );
        if let Some((k, texture)) = &self.preview
            && *k == key
        {
            return Ok(texture.clone());
        }
        let image = render(
            volume,
            slice,
            mask,
            heatmap.map(AsRef::as_ref),
            None,
            display,
            self.scale,
            None,
        )?;
        let colour = egui::ColorImage::from_rgb([image.width, image.height], &image.rgb);
        let texture = ctx.load_texture("export preview", colour, egui::TextureOptions::NEAREST);
        self.preview = Some((key, texture.clone()));
        Ok(texture)
    }
}

/// Everything an export job needs, moved to the worker.
pub struct ExportRequest {
    pub volume: Arc<Volume>,
    pub slices: Vec<usize>,
    pub masks: Vec<Option<Vec<u8>>>,
    /// One display per pane: a single pane, or the whole comparison layout side by side.
    pub displays: Vec<Display>,
    pub format: Format,
    pub scale: Scale,
    pub keep_identity: bool,
    /// A file (one slice) or a folder (several: `slice_001.png`, …).
    pub destination: PathBuf,
    /// The reviewer's verdicts (from the study's review file), printed in the legend of the
    /// explanation they are about.
    pub verdicts: Vec<crate::review::ReviewEntry>,
    /// De-identify but keep UIDs (PS3.15 Retain UIDs Option).
    pub retain_uids: bool,
    /// Files the study was read from (never written); the series' slices and the model's files
    /// are added by the job.
    pub protected: Vec<PathBuf>,
    /// The DICOM result objects to write into the destination folder.
    pub results: ResultObjects,
    /// Review export: one slice per entry, explained with the entry's parameters, its ROI the
    /// entry's; no pictures.
    pub entries: Vec<ReviewEntry>,
}

impl ExportRequest {
    /// The reviewer's verdict (and note) on `heatmap` of slice `index`, if there is one.
    fn verdict_for(&self, heatmap: &Heatmap, index: usize) -> Option<String> {
        self.entry_for(heatmap, index).map(|entry| {
            if entry.note.trim().is_empty() {
                entry.verdict.name().to_owned()
            } else {
                format!("{}: {}", entry.verdict.name(), entry.note.trim())
            }
        })
    }

    /// The entry the reviewer made about `heatmap` of slice `index`, if there is one.
    fn entry_for(&self, heatmap: &Heatmap, index: usize) -> Option<&ReviewEntry> {
        let key = super::review::EntryKey::of(heatmap, index);
        self.verdicts.iter().find(|entry| key.matches(entry))
    }

    /// Whether the destination is a folder (several slices, or result objects beside them).
    fn writes_into_folder(&self) -> bool {
        self.slices.len() != 1 || self.results.any()
    }

    /// Where slice `index` goes.
    fn path_for(&self, index: usize) -> PathBuf {
        if !self.writes_into_folder() {
            return self.destination.clone();
        }
        self.destination.join(self.format.file_name(index))
    }

    /// The worker job: explain, render and write every slice, reporting progress per slice.
    #[must_use]
    pub fn into_job(self) -> crate::model::Job<Output> {
        Box::new(move |model: &Model, ctx: &JobContext<'_>| self.run(model, ctx))
    }

    #[allow(clippy::too_many_lines)] // one export: slices, pictures, result objects, listing
    fn run(&self, model: &Model, ctx: &JobContext<'_>) -> Result<Output, String> {
        let model_files = model.manifest.files(&model.path);
        let mut policy = WritePolicy::protecting(self.protected.iter().cloned());
        policy.protect(self.volume.slices.iter().map(|s| s.path.clone()));
        policy.protect(model_files.iter().map(|(_, p)| p.clone()));
        let reviewing = !self.entries.is_empty();
        // (slice, the review entry it comes from).
        let items: Vec<(usize, Option<&ReviewEntry>)> = if reviewing {
            self.entries
                .iter()
                .map(|e| (e.slice_index, Some(e)))
                .collect()
        } else {
            self.slices.iter().map(|&i| (i, None)).collect()
        };
        let mut outputs: Vec<PathBuf> = if reviewing {
            Vec::new()
        } else {
            self.slices.iter().map(|&i| self.path_for(i)).collect()
        };
        if self.writes_into_folder() {
            outputs.extend(self.results.outputs(&self.destination));
            outputs.push(self.destination.join(crate::export::LISTING_FILE));
        }
        let panes: Vec<Pane> = self
            .displays
            .iter()
            .map(|d| Pane {
                params: d.params.clone(),
                colormap: d.colormap,
                threshold: d.threshold,
                opacity: d.opacity,
            })
            .collect();
        // Hashed once: the model does not change during an export.
        let model_hashes = hash_files(&model_files).map_err(|e| e.to_string())?;
        let first = self.displays.first().ok_or("nothing to export")?;
        let plan = ExportPlan {
            format: self.format,
            scale: self.scale,
            window: first.window,
            invert: first.invert,
            panes: &panes,
            model_files: &model_hashes,
            policy: &policy,
        };
        plan.check(&outputs).map_err(|e| e.to_string())?;
        let mut dicom =
            DicomExport::new(dicom_options(&panes, self.keep_identity, self.retain_uids));
        let [count, rows, cols] = self.volume.shape;
        let mut values = vec![0.0; rows * cols];
        let mut kept = Vec::new();
        let cancelled = |done: usize| format!("export cancelled after {done} slices");
        for (done, &(index, entry)) in items.iter().enumerate() {
            if ctx.is_cancelled() {
                return Err(cancelled(done));
            }
            if index >= count {
                return Err(format!(
                    "review entry on slice {index}: the series has {count}"
                ));
            }
            self.volume.slice_f32_into(index, &mut values);
            let tensor = preprocess_slice(&values, rows, cols, &model.manifest)
                .map_err(|e| e.to_string())?;
            let mut explain_pane = |_: &[f32], params: &ExplainParams, cancel: &AtomicBool| {
                Explained::from_scored(explain_scored(model, &tensor, [rows, cols], params, cancel))
            };
            let study_mask = self.masks.get(index).cloned().flatten();
            let mask = match entry.and_then(|e| e.roi.as_ref()) {
                Some(Roi::Mask { .. }) | None => study_mask,
                Some(shape) => shape
                    .rasterise(rows, cols)
                    .filter(|m| m.iter().any(|&v| v))
                    .map(|m| m.into_iter().map(u8::from).collect()),
            };
            let meta = &self.volume.slices[index];
            let slice = SliceToExport {
                index,
                count,
                values: &values,
                rows,
                cols,
                mask: mask.as_deref(),
                source: SourceImage {
                    path: meta.path.clone(),
                    frame: self.volume.frame_number(meta),
                },
                position_mm: self.volume.position_along_normal_mm(meta),
            };
            let entry_panes: Vec<Pane>;
            let item_plan = match entry {
                Some(entry) => {
                    entry_panes = vec![Pane {
                        params: entry.params.clone(),
                        ..panes[0].clone()
                    }];
                    ExportPlan {
                        panes: &entry_panes,
                        ..plan
                    }
                }
                None => plan,
            };
            let result = item_plan
                .explain_slice(&slice, &mut explain_pane, ctx.cancel)
                .and_then(|explained| {
                    if !reviewing {
                        item_plan.write_picture(
                            self.format,
                            &slice,
                            &explained,
                            &self.path_for(index),
                            &|heatmap| self.verdict_for(heatmap, index),
                            &mut dicom,
                        )?;
                    }
                    Ok(explained)
                });
            let mut explained = match result {
                Ok(explained) => explained,
                Err(_) if ctx.is_cancelled() => return Err(cancelled(done)),
                Err(e) => return Err(e.to_string()),
            };
            if self.results.any() {
                let first = explained.swap_remove(0);
                let faithfulness = crate::explain::metrics::deletion_insertion(
                    model,
                    &tensor,
                    &first.heatmap,
                    &crate::explain::metrics::FaithfulnessParams::default(),
                    &|_| {},
                    ctx.cancel,
                )
                .ok()
                .map(|f| (f.deletion.auc, f.insertion.auc));
                let entry = entry.or_else(|| self.entry_for(&first.heatmap, index));
                let mut measurements =
                    map_measurements(&first.heatmap, mask.as_deref(), faithfulness);
                if let Some(mask) = mask.as_deref().filter(|_| self.results.report) {
                    match roi_features(&values, mask, rows, cols, &slice.source) {
                        Ok(features) => measurements.extend(features),
                        Err(e) => tracing::warn!("slice {index}: {e}"),
                    }
                }
                kept.push(ExplainedSlice {
                    index,
                    source: slice.source.clone(),
                    measurements,
                    heatmap: first.heatmap,
                    probability: first.probability,
                    mask,
                    verdict: entry.map(|e| e.verdict.name().to_owned()),
                    note: entry.map(|e| e.note.clone()).unwrap_or_default(),
                    entry_json: entry.and_then(|e| serde_json::to_string(e).ok()),
                });
            }
            ctx.progress((done + 1) as f32 / items.len() as f32);
        }
        if self.writes_into_folder() {
            let dir = &self.destination;
            let mut listing = Listing::new(!self.keep_identity);
            let picture = if self.format == Format::Dicom {
                "sc"
            } else {
                "png"
            };
            let list_error = |e: crate::export::ExportError| e.to_string();
            if !reviewing {
                for &index in &self.slices {
                    let path = self.path_for(index);
                    listing.add(dir, &path, picture, None).map_err(list_error)?;
                    listing
                        .add(dir, &sidecar_path(&path), "sidecar", None)
                        .map_err(list_error)?;
                }
            }
            if self.results.any() {
                let written = write_result_objects(
                    &mut dicom,
                    dir,
                    self.results,
                    &kept,
                    first.threshold,
                    &model.manifest.name,
                    &policy,
                )
                .map_err(list_error)?;
                for (format, path, instance) in &written {
                    listing
                        .add(dir, path, format, Some(instance))
                        .map_err(list_error)?;
                }
            }
            listing.write(dir, &policy).map_err(list_error)?;
        }
        let dicom_written = self.format == Format::Dicom || self.results.any();
        let identity = match (dicom_written, self.keep_identity) {
            (true, true) => " (patient identity KEPT)",
            (true, false) => " (de-identified)",
            (false, _) => "",
        };
        let what = if reviewing {
            format!("{} review entries as DICOM", items.len())
        } else {
            format!("{} slice(s)", items.len())
        };
        Ok(Output::Exported(format!(
            "exported {what}{identity} to {}",
            self.destination.display()
        )))
    }
}

impl RadlensApp {
    /// Every file the open study was read from (scan: series, skipped and ignored files) and the
    /// model's: what no export or CSV may replace.
    #[must_use]
    pub fn read_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .scan
            .as_ref()
            .map(|scan| scan.files().map(Path::to_path_buf).collect())
            .unwrap_or_default();
        if let Some(study) = &self.study {
            files.extend(study.volume.slices.iter().map(|s| s.path.clone()));
            files.extend(crate::dicom::mask_files_for(&study.volume));
        }
        if let Some(session) = &self.model {
            let card = &session.card;
            files.extend(card.manifest.files(&card.path).into_iter().map(|(_, p)| p));
        }
        files
    }

    /// The policy for a file the viewer writes besides exports (the review's CSV): never over a
    /// file the study or the model was read from; over another file when `overwrite` (the save
    /// dialog asked).
    #[must_use]
    pub fn write_policy(&self, overwrite: bool) -> WritePolicy {
        WritePolicy::protecting(self.read_files()).with_overwrite(overwrite)
    }

    /// How the slice on screen is displayed in pane 1 (what an export reproduces).
    #[must_use]
    pub fn export_display(&self) -> Option<Display> {
        self.pane_display(0)
    }

    /// How the slice on screen is displayed in `pane`.
    #[must_use]
    pub fn pane_display(&self, pane: usize) -> Option<Display> {
        let study = self.study.as_ref()?;
        let pane = &self.model.as_ref()?.panes.get(pane)?.choice;
        let monochrome1 = study.volume.photometric == crate::dicom::Photometric::Monochrome1;
        let mut params = crate::explain::ExplainParams::new(pane.method);
        params.target = pane.target.clone();
        Some(Display {
            window: study.view.window,
            invert: study.view.invert != monochrome1,
            colormap: pane.colormap,
            threshold: pane.threshold,
            opacity: pane.opacity,
            params,
        })
    }

    /// Sends the export to the worker: the slice on screen to `destination` (a file), or every
    /// slice into `destination` (a folder).
    pub fn start_export(&mut self, destination: PathBuf) {
        let Some(study) = self.study.as_ref() else {
            return;
        };
        // The whole comparison layout (its explaining panes), or pane 1.
        let panes = match self.compare {
            Some(layout) if self.export.whole_layout => {
                layout.panes - usize::from(layout.difference)
            }
            _ => 1,
        };
        let displays: Vec<Display> = (0..panes).filter_map(|p| self.pane_display(p)).collect();
        if displays.is_empty() {
            return;
        }
        let slices = if self.export.all_slices {
            (0..study.volume.shape[0]).collect()
        } else {
            vec![study.view.slice]
        };
        // Each slice's region: the active one when it is a drawn ROI, else the study's mask;
        // outlined in the pictures, the Segmentation's and the report's region.
        let [_, rows, cols] = study.volume.shape;
        let masks = (0..study.volume.shape[0])
            .map(|slice| match self.active_region(slice) {
                Some(Roi::Mask { .. }) | None => study.masks.get(slice).cloned().flatten(),
                Some(shape) => shape
                    .rasterise(rows, cols)
                    .map(|m| m.into_iter().map(u8::from).collect()),
            })
            .collect();
        let request = ExportRequest {
            volume: Arc::clone(&study.volume),
            slices,
            masks,
            displays,
            format: self.export.format,
            scale: self.export.scale,
            keep_identity: self.export.keep_identity,
            destination,
            verdicts: self
                .review
                .as_ref()
                .map(|r| r.review.entries.clone())
                .unwrap_or_default(),
            retain_uids: self.export.retain_uids,
            protected: self.read_files(),
            results: self.export.results,
            entries: Vec::new(),
        };
        let dicom = request.format == Format::Dicom || request.results.any();
        self.export.send_pending =
            (self.export.send_to_pacs && dicom).then(|| request.destination.clone());
        if let Some(session) = &mut self.model
            && let Err(e) = session.export(request.into_job())
        {
            self.error = Some(e);
        }
    }

    /// File → Export review as DICOM: every entry of the open study's review, explained again
    /// with its parameters on its slice, as Parametric Map + Segmentation (where an entry has a
    /// region) + Structured Report into `dir`, on the worker with the export's progress and cancel.
    pub fn start_review_export(&mut self, dir: PathBuf) {
        let (Some(study), Some(review)) = (self.study.as_ref(), self.review.as_ref()) else {
            self.error = Some("no review to export: open a study first".to_owned());
            return;
        };
        let entries = review.review.entries.clone();
        if entries.is_empty() {
            self.error = Some("the review has no entries yet: give a verdict first".to_owned());
            return;
        }
        let Some(display) = self.pane_display(0) else {
            self.error = Some("no model loaded: the review's maps are computed again".to_owned());
            return;
        };
        let has_region = entries.iter().any(|e| {
            let index = e.slice_index;
            match &e.roi {
                Some(Roi::Mask { .. }) | None => {
                    study.masks.get(index).is_some_and(Option::is_some)
                }
                Some(_) => true,
            }
        });
        let request = ExportRequest {
            volume: Arc::clone(&study.volume),
            slices: entries.iter().map(|e| e.slice_index).collect(),
            masks: study.masks.clone(),
            displays: vec![display],
            format: Format::Dicom,
            scale: Scale::Native,
            keep_identity: self.export.keep_identity,
            destination: dir,
            verdicts: entries.clone(),
            retain_uids: self.export.retain_uids,
            protected: self.read_files(),
            results: ResultObjects {
                parametric_map: true,
                segmentation: has_region,
                heatmap_segmentation: false,
                report: true,
            },
            entries,
        };
        self.export.open = true;
        if let Some(session) = &mut self.model
            && let Err(e) = session.export(request.into_job())
        {
            self.error = Some(e);
        }
    }

    /// Once an export with "send to PACS" has written its files, sends its DICOM files (those
    /// `export.json` lists, or the one file) to the PACS window's server.
    fn send_finished_export(&mut self, ctx: &egui::Context) {
        let finished = self
            .model
            .as_ref()
            .is_some_and(|s| s.export.is_none() && s.export_result.is_some());
        if !finished {
            return;
        }
        let Some(destination) = self.export.send_pending.take() else {
            return;
        };
        if !matches!(
            self.model.as_ref().and_then(|s| s.export_result.as_ref()),
            Some(Ok(_))
        ) {
            return;
        }
        let files = exported_dicom_files(&destination);
        if files.is_empty() {
            self.pacs.stored = Some(Err("the export wrote no DICOM file".to_owned()));
        } else {
            self.pacs.store(ctx, files);
        }
    }

    /// The export window: options, a preview of the slice on screen, progress and cancel.
    #[allow(clippy::too_many_lines)] // one window, control by control
    pub(super) fn export_window(&mut self, ctx: &egui::Context) {
        if !ctx.egui_wants_keyboard_input()
            && ctx.input(|i| i.modifiers.command && i.key_pressed(egui::Key::E))
            && self.model.is_some()
        {
            self.export.open = true;
        }
        self.send_finished_export(ctx);
        if !self.export.open {
            return;
        }
        let display = self.export_display();
        let comparing = self.compare;
        let mut open = true;
        let mut ask = None;
        egui::Window::new("Export annotated slices")
            .open(&mut open)
            .default_width(440.0)
            .show(ctx, |ui| {
                let (Some(display), Some(study), Some(session)) =
                    (display, self.study.as_ref(), self.model.as_mut())
                else {
                    ui.label("Open a study and a model first.");
                    return;
                };
                let e = &mut self.export;
                ui.horizontal(|ui| {
                    ui.radio_value(&mut e.format, Format::Png, "PNG + JSON sidecar");
                    ui.radio_value(&mut e.format, Format::Dicom, "DICOM Secondary Capture");
                });
                ui.horizontal(|ui| {
                    ui.label("also, into the folder:");
                    ui.checkbox(&mut e.results.parametric_map, "Parametric Map")
                        .on_hover_text("the raw heatmaps as float values on the slice grid");
                    ui.checkbox(&mut e.results.segmentation, "Segmentation")
                        .on_hover_text("the ROI (drawn or the study's) as a DICOM SEG");
                    ui.checkbox(&mut e.results.report, "Structured Report")
                        .on_hover_text("TID 1500: prediction, metrics, verdict and note per slice");
                });
                ui.horizontal(|ui| {
                    ui.label("scale");
                    for (scale, name) in [
                        (crate::export::Scale::Auto, "auto"),
                        (crate::export::Scale::Native, "1x"),
                        (crate::export::Scale::X2, "2x"),
                        (crate::export::Scale::X4, "4x"),
                    ] {
                        ui.selectable_value(&mut e.scale, scale, name);
                    }
                });
                let slices = study.volume.shape[0];
                ui.checkbox(
                    &mut e.all_slices,
                    format!("all {slices} slices (each explained as the panes say)"),
                );
                if let Some(layout) = comparing {
                    ui.checkbox(
                        &mut e.whole_layout,
                        format!(
                            "whole comparison layout ({} panes side by side), else pane 1",
                            layout.panes - usize::from(layout.difference)
                        ),
                    );
                }
                if e.format == Format::Dicom || e.results.any() {
                    ui.checkbox(
                        &mut e.keep_identity,
                        "keep patient identity (in-house PACS)",
                    );
                    if e.keep_identity {
                        ui.colored_label(
                            ui::theme::ERROR_TEXT,
                            "Patient name, ID, dates and institution WILL be in the export.",
                        );
                    } else {
                        ui.checkbox(
                            &mut e.retain_uids,
                            "keep UIDs (the export references its source)",
                        );
                        ui.label(if e.retain_uids {
                            "De-identified (DICOM PS3.15 Basic Profile, Retain UIDs Option)."
                        } else {
                            "De-identified (DICOM PS3.15 Basic Profile), new UIDs."
                        });
                    }
                }
                if e.format == Format::Dicom || e.results.any() {
                    let server = self.pacs.server.trim().to_owned();
                    ui.add_enabled(
                        !server.is_empty(),
                        egui::Checkbox::new(
                            &mut e.send_to_pacs,
                            if server.is_empty() {
                                "send to PACS (choose a server in File > PACS first)".to_owned()
                            } else {
                                format!("send to PACS ({server})")
                            },
                        ),
                    );
                }
                match &self.pacs.stored {
                    Some(Ok(outcomes)) => {
                        let failed: Vec<&crate::pacs::Stored> =
                            outcomes.iter().filter(|o| o.outcome.is_err()).collect();
                        ui.label(format!(
                            "sent {} of {} instance(s) to the PACS",
                            outcomes.len() - failed.len(),
                            outcomes.len()
                        ));
                        for o in failed {
                            ui.colored_label(
                                ui::theme::ERROR_TEXT,
                                format!(
                                    "{}: {}",
                                    o.file.file_name().unwrap_or_default().to_string_lossy(),
                                    o.outcome.as_ref().err().map_or("", String::as_str)
                                ),
                            );
                        }
                    }
                    Some(Err(message)) => {
                        ui.colored_label(ui::theme::ERROR_TEXT, format!("not sent: {message}"));
                    }
                    None if self.pacs.is_busy() && e.send_pending.is_none() => {
                        ui.label("sending to the PACS…");
                    }
                    None => {}
                }
                let slice = study.view.slice;
                let heatmap = session.heatmap_for(0, &study.volume, slice).cloned();
                let mask = study.masks.get(slice).and_then(Option::as_deref);
                match e.preview(ctx, &study.volume, slice, mask, heatmap.as_ref(), &display) {
                    Ok(texture) => {
                        let size = texture.size_vec2();
                        let fit = (420.0 / size.x).min(1.0);
                        ui.image((texture.id(), size * fit));
                    }
                    Err(message) => {
                        ui.colored_label(ui::theme::ERROR_TEXT, message);
                    }
                }
                if heatmap.is_none() {
                    ui.label("No explanation on screen yet: the export computes it.");
                }
                match session.export.as_ref().map(|run| run.fraction) {
                    Some(fraction) => {
                        ui.horizontal(|ui| {
                            ui.add(
                                egui::ProgressBar::new(fraction)
                                    .show_percentage()
                                    .desired_width(300.0),
                            );
                            if ui.button("Cancel").clicked() {
                                session.cancel_export();
                            }
                        });
                    }
                    None => {
                        if ui.button("Export…").clicked() {
                            ask = Some(if e.all_slices || e.results.any() {
                                Dialog::ExportFolder
                            } else {
                                Dialog::ExportImage(e.format == Format::Dicom)
                            });
                        }
                    }
                }
                match &session.export_result {
                    Some(Ok(summary)) => {
                        ui.label(summary);
                    }
                    Some(Err(message)) => {
                        ui.colored_label(ui::theme::ERROR_TEXT, message);
                    }
                    None => {}
                }
            });
        self.export.open = open;
        if let Some(kind) = ask {
            self.ask_for_paths(ctx, kind);
        }
    }
}

/// The DICOM files an export wrote to `destination`: the file itself, or those its folder's
/// `export.json` lists.
fn exported_dicom_files(destination: &Path) -> Vec<PathBuf> {
    if destination.extension().is_some_and(|e| e == "dcm") {
        return vec![destination.to_owned()];
    }
    let listing = destination.join(crate::export::LISTING_FILE);
    let Ok(text) = std::fs::read_to_string(&listing) else {
        return Vec::new();
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    json["files"]
        .as_array()
        .map(|files| {
            files
                .iter()
                .filter(|f| {
                    ["sc", "pmap", "seg", "sr"].contains(&f["format"].as_str().unwrap_or(""))
                })
                .filter_map(|f| f["file"].as_str())
                .map(|name| destination.join(name))
                .collect()
        })
        .unwrap_or_default()
}
