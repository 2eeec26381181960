//! File → Export: the annotated slice as displayed (window, heatmap of pane 1 with its colormap,
//! opacity and threshold, ROI outline, legend), previewed in a window, written as PNG + JSON
//! sidecar or DICOM Secondary Capture (de-identified unless the user keeps identity) for the slice
//! on screen or every slice of the series. The writing runs on the inference worker (each slice is
//! explained there) with progress and cancel; files are written atomically and never over an
//! existing file or a source.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::dicom::Volume;
use crate::explain::{ExplainInput, ExplainParams, Heatmap, explain};
use crate::export::{
    AnnotatedImage, DicomExport, DicomInfo, DicomOptions, DisplayedSlice, FileHash, Legend, Scale,
    Sidecar, SourceImage, WritePolicy, annotate, derivation_description, sidecar_path,
    viewer_heat_params, write_png, write_sidecar,
};
use crate::imaging::{Colormap, ShadeParams, Window};
use crate::model::{JobContext, Model, preprocess_slice};

use super::{RadlensApp, inference::Output, menus::Dialog};
use crate::ui;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    Dicom,
}

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
    let [slices, rows, cols] = volume.shape;
    let displayed = DisplayedSlice {
        values,
        rows,
        cols,
        shade: ShadeParams {
            window: display.window,
            invert: display.invert,
            heat: heatmap.map(|h| viewer_heat_params(h, display.threshold, display.opacity)),
        },
        colormap: display.colormap,
        heat: heatmap.map(|h| h.values.as_slice()),
        mask,
    };
    let legend = Legend {
        slice: Some((slice, slices)),
        position_mm: position_mm(volume, slice),
        verdict,
        ..heatmap.map_or_else(Legend::default, |h| Legend::for_heatmap(h, probability))
    };
    (displayed, legend)
}

fn position_mm(volume: &Volume, slice: usize) -> Option<f64> {
    let normal = volume.geometry.slice_direction;
    volume
        .slices
        .get(slice)?
        .position_mm
        .map(|p| p.iter().zip(normal).map(|(a, b)| a * b).sum::<f64>())
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
}

impl ExportRequest {
    /// The reviewer's verdict (and note) on `heatmap` of slice `index`, if there is one.
    fn verdict_for(&self, heatmap: &Heatmap, index: usize) -> Option<String> {
        let key = super::review::EntryKey::of(heatmap, index);
        self.verdicts
            .iter()
            .find(|entry| key.matches(entry))
            .map(|entry| {
                if entry.note.trim().is_empty() {
                    entry.verdict.name().to_owned()
                } else {
                    format!("{}: {}", entry.verdict.name(), entry.note.trim())
                }
            })
    }

    /// Where slice `index` goes.
    fn path_for(&self, index: usize) -> PathBuf {
        if self.slices.len() == 1 {
            return self.destination.clone();
        }
        let extension = match self.format {
            Format::Png => "png",
            Format::Dicom => "dcm",
        };
        self.destination
            .join(format!("slice_{:03}.{extension}", index + 1))
    }

    /// The worker job: explain, render and write every slice, reporting progress per slice.
    #[must_use]
    pub fn into_job(self) -> crate::model::Job<Output> {
        Box::new(move |model: &Model, ctx: &JobContext<'_>| self.run(model, ctx))
    }

    fn run(&self, model: &Model, ctx: &JobContext<'_>) -> Result<Output, String> {
        let sources: Vec<PathBuf> = self.volume.slices.iter().map(|s| s.path.clone()).collect();
        let policy = WritePolicy::protecting(sources);
        let outputs: Vec<PathBuf> = self.slices.iter().map(|&i| self.path_for(i)).collect();
        for path in &outputs {
            policy.check(path).map_err(|e| e.to_string())?;
            policy
                .check(&sidecar_path(path))
                .map_err(|e| e.to_string())?;
        }
        // Hashed once: the model does not change during an export.
        let model_hashes =
            vec![FileHash::of(&model.path, "model", true).map_err(|e| e.to_string())?];
        let mut dicom = DicomExport::new(DicomOptions {
            keep_identity: self.keep_identity,
            ..DicomOptions::default()
        });
        let [_, rows, cols] = self.volume.shape;
        for (done, (&index, path)) in self.slices.iter().zip(&outputs).enumerate() {
            if ctx.is_cancelled() {
                return Err(format!("export cancelled after {done} slices"));
            }
            let mut values = vec![0.0; rows * cols];
            self.volume.slice_f32_into(index, &mut values);
            let input = ExplainInput::from_slice(&values, rows, cols, &model.manifest)
                .map_err(|e| e.to_string())?;
            let prediction = preprocess_slice(&values, rows, cols, &model.manifest)
                .and_then(|t| model.predict(&t))
                .ok();
            let mut panes = Vec::new();
            for display in &self.displays {
                let heatmap = explain(
                    model,
                    &input,
                    &display.params,
                    &|_| {},
                    &AtomicBool::new(false),
                )
                .map_err(|e| e.to_string())?;
                let probability = prediction
                    .as_ref()
                    .and_then(|p| p.probabilities.get(heatmap.provenance.target).copied());
                panes.push((display, heatmap, probability));
            }
            let mask = self.masks.get(index).and_then(Option::as_deref);
            self.write_one(
                &model_hashes,
                index,
                &values,
                path,
                mask,
                &panes,
                &mut dicom,
                &policy,
            )?;
            ctx.progress((done + 1) as f32 / self.slices.len() as f32);
        }
        let identity = match (self.format, self.keep_identity) {
            (Format::Dicom, true) => " (patient identity KEPT)",
            (Format::Dicom, false) => " (de-identified)",
            (Format::Png, _) => "",
        };
        Ok(Output::Exported(format!(
            "exported {} slice(s){identity} to {}",
            self.slices.len(),
            self.destination.display()
        )))
    }

    #[allow(clippy::too_many_arguments, clippy::too_many_lines)] // one slice, start to end
    fn write_one(
        &self,
        model_hashes: &[FileHash],
        index: usize,
        values: &[f32],
        path: &Path,
        mask: Option<&[u8]>,
        panes: &[(&Display, Heatmap, Option<f32>)],
        dicom: &mut DicomExport,
        policy: &WritePolicy,
    ) -> Result<(), String> {
        let mut first = None;
        let mut images = Vec::new();
        for (display, heatmap, probability) in panes {
            let verdict = self.verdict_for(heatmap, index);
            let (displayed, legend) = picture(
                &self.volume,
                index,
                values,
                mask,
                Some(heatmap),
                *probability,
                display,
                verdict,
            );
            images.push(annotate(&displayed, &legend, self.scale).map_err(|e| e.to_string())?);
            first.get_or_insert((*display, heatmap, displayed, legend));
        }
        let (display, heatmap, displayed, legend) =
            first.ok_or_else(|| "nothing to export".to_owned())?;
        let image = crate::export::side_by_side(images).map_err(|e| e.to_string())?;
        let source = &self.volume.slices[index];
        let format_name = match self.format {
            Format::Png => "png",
            Format::Dicom => "dicom",
        };
        let mut sidecar = Sidecar::describe(format_name, &image, &displayed, &legend)
            .with_explanation(heatmap, &display.params)
            .with_inputs(std::slice::from_ref(&source.path))
            .map_err(|e| e.to_string())?;
        sidecar.model = model_hashes.to_vec();
        if panes.len() > 1 {
            sidecar.layout = panes
                .iter()
                .map(|(display, heatmap, probability)| {
                    serde_json::json!({
                        "explanation": heatmap.provenance,
                        "explain_params": display.params,
                        "probability": probability,
                        "colormap": display.colormap.name(),
                        "threshold": display.threshold,
                        "opacity": display.opacity,
                    })
                })
                .collect();
        }
        match self.format {
            Format::Png => write_png(path, &image, policy).map_err(|e| e.to_string())?,
            Format::Dicom => {
                let derivation = derivation_description(
                    Some(&heatmap.provenance),
                    &displayed.shade,
                    display.colormap,
                );
                let written = dicom
                    .write(
                        path,
                        &image,
                        &SourceImage {
                            path: source.path.clone(),
                            // 1-based frame number, for multi-frame sources only.
                            frame: self
                                .volume
                                .slices
                                .iter()
                                .any(|o| o.path == source.path && o.frame != source.frame)
                                .then_some(source.frame + 1),
                        },
                        &derivation,
                        u32::try_from(index + 1).unwrap_or(u32::MAX),
                        policy,
                    )
                    .map_err(|e| e.to_string())?;
                sidecar.dicom = Some(DicomInfo {
                    sop_instance_uid: written.sop_instance_uid,
                    series_instance_uid: written.series_instance_uid,
                    deidentified: written.deidentified,
                });
            }
        }
        write_sidecar(&sidecar_path(path), &sidecar, policy).map_err(|e| e.to_string())
    }
}

impl RadlensApp {
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
        let request = ExportRequest {
            volume: Arc::clone(&study.volume),
            slices,
            masks: study.masks.clone(),
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
        };
        if let Some(session) = &mut self.model
            && let Err(e) = session.export(request.into_job())
        {
            self.error = Some(e);
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
                if e.format == Format::Dicom {
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
                        ui.label("De-identified (DICOM PS3.15 Basic Profile), new UIDs.");
                    }
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
                            ask = Some(if e.all_slices {
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
