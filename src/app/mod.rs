//! The eframe application: app state, background jobs, and the glue between `ui/` and the
//! library modules. Widgets live in `ui/`; this file decides what happens.
//!
//! Dependency rule: `app/` may use everything; nothing but `main.rs` and tests uses `app/`.

mod demo;
pub mod export;
pub mod inference;
mod loader;
mod menus;
pub mod metrics;
pub mod review;
pub mod roi;
pub mod settings;
pub mod view;

use std::path::PathBuf;
use std::sync::Arc;

use crossbeam_channel::Receiver;

use crate::dicom::{ScanReport, Volume, Voxels};
use crate::imaging::{Colormap, HeatParams, Window};
use crate::render::{Frame, HeatLayer, MaskLayer, SliceImage};
use crate::review::Roi;
use crate::ui;
use crate::ui::model_card::ExplainAction;
pub use demo::{demo_model, demo_study};
use loader::{LoadEvent, LoadJob};
use menus::Dialog;
use settings::Settings;
use view::ViewState;

/// What the pointer is over.
#[derive(Clone, Debug, PartialEq)]
pub struct Hover {
    pub col: usize,
    pub row: usize,
    pub slice: usize,
    /// Modality value (HU for CT); `None` for colour images.
    pub value: Option<f32>,
    pub patient_mm: [f64; 3],
}

/// A loaded series and how it is being looked at.
pub struct Study {
    pub volume: Arc<Volume>,
    pub series_index: usize,
    pub view: ViewState,
    /// The current slice's pixels, rebuilt only when the slice changes.
    image: Option<(usize, Arc<SliceImage>)>,
    /// Region-of-interest mask per slice (from DICOM SEG objects of the study).
    pub masks: Vec<Option<Vec<u8>>>,
    /// The current slice's mask for the GPU, rebuilt only when the slice changes.
    mask_layer: Option<(usize, Option<Arc<MaskLayer>>)>,
    /// Each pane's heatmap on screen for the GPU, rebuilt only when the heatmap changes.
    heat_layers: [Option<(usize, Arc<HeatLayer>)>; inference::MAX_PANES],
    /// The comparison layout's difference view, rebuilt only when either heatmap changes.
    difference: Option<((usize, usize), Arc<HeatLayer>)>,
    pub hover: Option<Hover>,
    pub image_rect: Option<egui::Rect>,
}

impl Study {
    /// The current slice's pixels for the GPU (rebuilt only when the slice changes).
    fn slice_image(&mut self, slice: usize) -> Arc<SliceImage> {
        match &self.image {
            Some((s, image)) if *s == slice => Arc::clone(image),
            _ => {
                let image = Arc::new(slice_image(
                    &self.volume,
                    slice,
                    crate::render::next_generation(),
                ));
                self.image = Some((slice, Arc::clone(&image)));
                image
            }
        }
    }

    /// The current slice's region of interest for the GPU, if it has one.
    fn mask_layer(&mut self, slice: usize) -> Option<Arc<MaskLayer>> {
        match &self.mask_layer {
            Some((s, layer)) if *s == slice => layer.clone(),
            _ => {
                let [_, rows, cols] = self.volume.shape;
                let layer = self
                    .masks
                    .get(slice)
                    .and_then(Option::as_ref)
                    .map(|values| {
                        Arc::new(MaskLayer {
                            generation: crate::render::next_generation(),
                            width: cols as u32,
                            height: rows as u32,
                            values: values.clone(),
                        })
                    });
                self.mask_layer = Some((slice, layer.clone()));
                layer
            }
        }
    }

    /// What the status bar says about the pixel `(col, row)` under the pointer.
    fn set_hover(&mut self, pixel: Option<(usize, usize)>) {
        let slice = self.view.slice;
        self.hover = pixel.map(|(col, row)| Hover {
            col,
            row,
            slice,
            value: self.volume.value(slice, row, col),
            patient_mm: self.volume.geometry.patient_from_voxel([
                col as f64,
                row as f64,
                slice as f64,
            ]),
        });
    }
}

/// The radlens window.
pub struct RadlensApp {
    pub settings: Settings,
    pub study: Option<Study>,
    pub scan: Option<ScanReport>,
    /// One per series of the scan, filled in as the loader renders them.
    thumbnails: Vec<Option<egui::TextureHandle>>,
    opened: Vec<PathBuf>,
    job: Option<LoadJob>,
    pub error: Option<String>,
    dialog: Option<Receiver<(Dialog, Option<Vec<PathBuf>>)>>,
    model_loading: Option<Receiver<Result<crate::model::Model, String>>>,
    pub model: Option<inference::ModelSession>,
    tag_filter: String,
    show_settings: bool,
    /// The comparison layout, when shown (needs a model).
    pub compare: Option<CompareLayout>,
    /// File → Export: annotated slices as PNG or DICOM Secondary Capture.
    pub export: export::ExportDialog,
    gpu: bool,
    /// Regions of interest drawn on the study's slices, and the drawing tool.
    pub rois: roi::RoiEditor,
    /// The metrics & review panel.
    pub metrics: metrics::MetricsPanel,
    /// The open study's review file (verdicts, notes, ROIs).
    pub review: Option<review::ReviewSession>,
    /// A review folder that overrides `$RADLENS_REVIEW_DIR` and the settings (tests).
    review_dir: Option<PathBuf>,
}

impl RadlensApp {
    /// Opens `paths`, or the embedded demo study when there are none.
    #[must_use]
    pub fn new(cc: &eframe::CreationContext<'_>, paths: Vec<PathBuf>) -> Self {
        let settings: Settings = cc
            .storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        let gpu = cc.wgpu_render_state.as_ref().is_some_and(|rs| {
            crate::render::install(rs);
            true
        });
        let mut app = Self {
            settings,
            study: None,
            scan: None,
            thumbnails: Vec::new(),
            opened: Vec::new(),
            job: None,
            error: None,
            dialog: None,
            model_loading: None,
            model: None,
            tag_filter: String::new(),
            show_settings: false,
            compare: None,
            export: export::ExportDialog::default(),
            gpu,
            rois: roi::RoiEditor::default(),
            metrics: metrics::MetricsPanel::default(),
            review: None,
            review_dir: None,
        };
        if paths.is_empty() {
            app.open_demo(&cc.egui_ctx);
        } else {
            app.open(paths, &cc.egui_ctx);
        }
        app
    }

    /// Opens the embedded demo study, and the demo model unless a model is loaded or loading.
    pub fn open_demo(&mut self, ctx: &egui::Context) {
        match demo_study() {
            Ok(dir) => self.open(vec![dir], ctx),
            Err(e) => self.error = Some(format!("cannot unpack the demo study ({e})")),
        }
        if self.model.is_none() && self.model_loading.is_none() {
            match demo_model() {
                Ok(path) => self.open_model(path, ctx),
                Err(e) => self.error = Some(format!("cannot unpack the demo model ({e})")),
            }
        }
    }

    /// Series thumbnails rendered so far.
    #[must_use]
    pub fn thumbnail_count(&self) -> usize {
        self.thumbnails.iter().flatten().count()
    }

    /// True when no background job runs at all (thumbnails included).
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.job.is_none()
    }

    /// True while a scan or decode runs.
    #[must_use]
    pub fn is_loading(&self) -> bool {
        self.job.as_ref().is_some_and(|j| !j.series_loaded)
    }

    /// Starts loading `paths`, replacing whatever was loading.
    pub fn open(&mut self, paths: Vec<PathBuf>, ctx: &egui::Context) {
        if let Some(job) = self.job.take() {
            job.cancel();
        }
        self.opened.clone_from(&paths);
        match loader::open_paths(paths, ctx.clone()) {
            Ok(job) => self.job = Some(job),
            Err(e) => self.error = Some(e),
        }
    }

    fn load_series(&mut self, index: usize, ctx: &egui::Context) {
        let Some(series) = self.scan.as_ref().and_then(|r| r.series.get(index)) else {
            return;
        };
        if let Some(job) = self.job.take() {
            job.cancel();
        }
        let total = series.slices.len();
        let segmentations = self
            .scan
            .as_ref()
            .map(|r| {
                crate::dicom::segmentations_for(series, &r.series)
                    .into_iter()
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        match loader::load_series(series.clone(), index, segmentations, ctx.clone()) {
            Ok(mut job) => {
                job.total_slices = total;
                self.job = Some(job);
            }
            Err(e) => self.error = Some(e),
        }
    }

    fn poll_job(&mut self, ctx: &egui::Context) {
        let Some(job) = &mut self.job else { return };
        ctx.request_repaint_after(std::time::Duration::from_millis(50));
        let mut finished = false;
        let mut loaded = false;
        loop {
            let event = match job.events.try_recv() {
                Ok(event) => event,
                Err(crossbeam_channel::TryRecvError::Empty) => break,
                // The loader stopped without a word (it was cancelled): the job is over.
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    finished = true;
                    break;
                }
            };
            match event {
                LoadEvent::Scanned { report, chosen } => {
                    job.total_slices = report.series[chosen].slices.len();
                    self.thumbnails = vec![None; report.series.len()];
                    self.scan = Some(*report);
                }
                LoadEvent::Thumbnail {
                    series_index,
                    image,
                } => {
                    if let Some(slot) = self.thumbnails.get_mut(series_index) {
                        *slot = Some(ctx.load_texture(
                            format!("series thumbnail {series_index}"),
                            image,
                            egui::TextureOptions::LINEAR,
                        ));
                    }
                }
                LoadEvent::Loaded {
                    volume,
                    series_index,
                    masks,
                } => {
                    job.series_loaded = true;
                    self.settings.remember(&self.opened);
                    tracing::info!(
                        "loaded series {} ({} slices, {})",
                        series_index,
                        volume.shape[0],
                        volume.modality
                    );
                    let view = ViewState::for_volume(&volume);
                    loaded = true;
                    self.study = Some(Study {
                        volume: Arc::from(volume),
                        series_index,
                        view,
                        image: None,
                        masks,
                        mask_layer: None,
                        heat_layers: Default::default(),
                        difference: None,
                        hover: None,
                        image_rect: None,
                    });
                }
                LoadEvent::Failed(message) => {
                    finished = true;
                    self.error = Some(message);
                }
            }
        }
        if finished {
            self.job = None;
        }
        if loaded && let Some(volume) = self.study.as_ref().map(|s| Arc::clone(&s.volume)) {
            // A new series starts with no ROIs and no cached metrics.
            self.rois = roi::RoiEditor::default();
            self.metrics.reset();
            self.open_review(&volume);
        }
    }

    /// The review folder in use: [`Self::set_review_dir`]'s, else `$RADLENS_REVIEW_DIR`, else
    /// the settings', else the user's data folder.
    #[must_use]
    pub fn review_dir(&self) -> Option<PathBuf> {
        self.review_dir
            .clone()
            .or_else(|| review::review_dir(self.settings.review_dir.as_deref()))
    }

    /// Keeps review files in `dir` from now on (the open study's review is reloaded from there).
    pub fn set_review_dir(&mut self, dir: PathBuf) {
        self.review_dir = Some(dir);
        if let Some(volume) = self.study.as_ref().map(|s| Arc::clone(&s.volume)) {
            self.open_review(&volume);
        }
    }

    /// Saves the current review, then opens `volume`'s study's review from the review folder
    /// (its ROIs come back on their slices).
    fn open_review(&mut self, volume: &Volume) {
        self.save_review();
        self.review = None;
        let Some(dir) = self.review_dir() else {
            return;
        };
        match review::ReviewSession::open(&dir, volume) {
            Ok(session) => {
                for entry in &session.review.entries {
                    // Drawn shapes come back on their slices; a study mask is the study's own.
                    if let Some(roi) = entry.roi.clone().filter(|r| !matches!(r, Roi::Mask { .. }))
                    {
                        self.rois.add(entry.slice_index, roi);
                    }
                }
                self.review = Some(session);
            }
            Err(e) => self.error = Some(format!("review not opened: {e}")),
        }
    }

    fn poll_dialog(&mut self, ctx: &egui::Context) {
        let Some(rx) = &self.dialog else { return };
        if let Ok((kind, choice)) = rx.try_recv() {
            self.dialog = None;
            match (kind, choice.filter(|p| !p.is_empty())) {
                (Dialog::Model, Some(paths)) => {
                    if let Some(path) = paths.into_iter().next() {
                        self.open_model(path, ctx);
                    }
                }
                (Dialog::ExportCsv, Some(paths)) => {
                    if let Some(path) = paths.into_iter().next() {
                        self.export_review_csv(&path);
                    }
                }
                (Dialog::ExportImage(_) | Dialog::ExportFolder, Some(paths)) => {
                    if let Some(path) = paths.into_iter().next() {
                        self.start_export(path);
                    }
                }
                (_, Some(paths)) => self.open(paths, ctx),
                (_, None) => {}
            }
        }
    }

    /// Loads a TorchScript model (with its `.toml` manifest) off the UI thread.
    pub fn open_model(&mut self, path: PathBuf, ctx: &egui::Context) {
        match inference::load_model(path, ctx.clone()) {
            Ok(rx) => self.model_loading = Some(rx),
            Err(e) => self.error = Some(e),
        }
    }

    /// True while a model is being loaded.
    #[must_use]
    pub fn is_loading_model(&self) -> bool {
        self.model_loading.is_some()
    }

    /// Model arrival, worker replies, and a new request when the slice changed.
    fn poll_model(&mut self, ctx: &egui::Context) {
        if let Some(rx) = &self.model_loading
            && let Ok(result) = rx.try_recv()
        {
            self.model_loading = None;
            match result.and_then(|model| inference::ModelSession::start(model, ctx)) {
                Ok(mut session) => {
                    let s = &self.settings;
                    session.ensure_panes(1, s.colormap, s.heat_opacity, s.heat_threshold);
                    self.model = Some(session);
                }
                Err(e) => self.error = Some(e),
            }
        }
        let Some(session) = &mut self.model else {
            return;
        };
        if let Some(message) = session.poll() {
            self.error = Some(message);
        }
        let (shown, always) = match self.compare {
            Some(layout) => {
                let s = &self.settings;
                session.ensure_panes(layout.panes, s.colormap, s.heat_opacity, s.heat_threshold);
                // The difference pane explains nothing itself.
                (layout.panes - usize::from(layout.difference), true)
            }
            None => (1, false),
        };
        if let Some(study) = &self.study
            && let Err(e) = session
                .request(&study.volume, study.view.slice)
                .and_then(|()| session.follow(&study.volume, study.view.slice, shown, always))
        {
            self.error = Some(e);
        }
    }
}

/// The GPU layer and display parameters of `heatmap` (cached in `cache` by the heatmap's
/// identity): raw values uploaded as they are, the display range their min–max (±max |v| when
/// signed), threshold and opacity from the pane.
fn heat_layer(
    cache: &mut Option<(usize, Arc<HeatLayer>)>,
    heatmap: Option<&Arc<crate::explain::Heatmap>>,
    pane: &inference::Explanation,
) -> Option<(Arc<HeatLayer>, HeatParams)> {
    let heatmap = heatmap?;
    let key = Arc::as_ptr(heatmap) as usize;
    let layer = match cache {
        Some((k, layer)) if *k == key => Arc::clone(layer),
        _ => {
            let layer = Arc::new(HeatLayer {
                generation: crate::render::next_generation(),
                width: heatmap.cols as u32,
                height: heatmap.rows as u32,
                values: heatmap.values.clone(),
            });
            *cache = Some((key, Arc::clone(&layer)));
            layer
        }
    };
    // The same display parameters an export uses, so the two pictures agree.
    let params = crate::export::viewer_heat_params(heatmap, pane.threshold, pane.opacity);
    Some((layer, params))
}

/// The pixels of one slice for the GPU.
fn slice_image(volume: &Volume, slice: usize, generation: u64) -> SliceImage {
    let [_, rows, cols] = volume.shape;
    let pixels = if let Voxels::Rgb8(rgb) = &volume.voxels {
        let plane = rows * cols * 3;
        let part = &rgb[slice * plane..(slice + 1) * plane];
        Frame::Rgba(
            part.chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect(),
        )
    } else {
        let mut values = vec![0.0; rows * cols];
        volume.slice_f32_into(slice, &mut values);
        Frame::Grey(values)
    };
    SliceImage {
        generation,
        width: cols as u32,
        height: rows as u32,
        pixels,
    }
}

impl eframe::App for RadlensApp {
    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }

    fn on_exit(&mut self) {
        self.save_review();
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.poll_job(&ctx);
        self.poll_dialog(&ctx);
        self.poll_model(&ctx);
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        if !dropped.is_empty() {
            self.open(dropped, &ctx);
        }

        self.review_keys(&ctx);
        self.bars_ui(ui);
        self.side_panels_ui(ui, &ctx);
        self.metrics_panel(ui);
        self.viewport_ui(ui, &ctx);
        self.settings_window(&ctx);
        self.export_window(&ctx);
    }
}

impl RadlensApp {
    /// Menu, error message and status bar (laid out before the side panels and viewport).
    fn bars_ui(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("menu").show(ui, |ui| self.menu_ui(ui));
        if let Some(message) = self.error.clone() {
            egui::Panel::top("error").show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.colored_label(ui::theme::ERROR_TEXT, &message);
                    if ui.button("Dismiss").clicked() {
                        self.error = None;
                    }
                });
            });
        }

        // Status bar first so the viewport gets what is left.
        let status = self.study.as_ref().map_or_else(String::new, |s| {
            ui::status::status_text(
                s.hover.as_ref(),
                &s.volume.modality,
                s.view.window,
                s.view.zoom,
            )
        });
        let loading = self
            .job
            .as_ref()
            .filter(|j| !j.series_loaded)
            .map(|j| (j.label.clone(), j.progress()));
        egui::Panel::bottom("status").show(ui, |ui| {
            let cancel =
                ui::status::status_ui(ui, &status, loading.as_ref().map(|(l, p)| (l.as_str(), *p)));
            if cancel && let Some(job) = self.job.take() {
                job.cancel();
            }
        });
    }

    /// The series list and the tag browser.
    fn side_panels_ui(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        if let Some(report) = &self.scan {
            let loaded = self.study.as_ref().map(|s| s.series_index);
            let mut clicked = None;
            egui::Panel::left("series")
                .default_size(ui::theme::SIDE_PANEL_WIDTH)
                .show(ui, |ui| {
                    if let Some(session) = &mut self.model {
                        let mut action = None;
                        egui::Panel::bottom("model card").show(ui, |ui| {
                            ui::model_card::model_card_ui(
                                ui,
                                &session.card,
                                session.prediction.as_ref(),
                                session.busy(),
                            );
                            let on_screen = self
                                .study
                                .as_ref()
                                .and_then(|s| session.heatmap_for(0, &s.volume, s.view.slice))
                                .cloned();
                            if self.compare.is_none()
                                && let Some(pane) = session.panes.first_mut()
                            {
                                let card = session.card.clone();
                                action = ui::model_card::explanation_ui(
                                    ui,
                                    &card,
                                    pane,
                                    on_screen.as_deref(),
                                );
                            }
                        });
                        match (action, &self.study) {
                            (Some(ExplainAction::Start), Some(study)) => {
                                if let Err(e) = session.explain(0, &study.volume, study.view.slice)
                                {
                                    self.error = Some(e);
                                }
                            }
                            (Some(ExplainAction::Cancel), _) => session.cancel_explanation(0),
                            _ => {}
                        }
                    }
                    clicked = ui::panels::series_list_ui(ui, report, loaded, &self.thumbnails);
                });
            if let Some(index) = clicked {
                self.load_series(index, ctx);
            }
        }
        if !ctx.egui_wants_keyboard_input() && ctx.input(|i| i.key_pressed(egui::Key::T)) {
            self.settings.show_tags = !self.settings.show_tags;
        }
        if !ctx.egui_wants_keyboard_input()
            && self.model.is_some()
            && ctx.input(|i| i.key_pressed(egui::Key::C))
        {
            self.compare = match self.compare {
                Some(_) => None,
                None => Some(CompareLayout::default()),
            };
        }
        if let Some(study) = self.study.as_ref().filter(|_| self.settings.show_tags) {
            let tags = study
                .volume
                .slices
                .get(study.view.slice)
                .map(|s| Arc::clone(&s.tags));
            egui::Panel::right("tags")
                .default_size(ui::theme::TAG_PANEL_WIDTH)
                .show(ui, |ui| {
                    ui::panels::tag_browser_ui(
                        ui,
                        tags.as_deref().unwrap_or(&[]),
                        &mut self.tag_filter,
                    );
                });
        }
    }

    /// The slice viewport in the remaining space: one view, or the comparison layout.
    #[allow(clippy::too_many_lines)] // one layout pass; the pieces are in `ui::compare`
    fn viewport_ui(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        let bilinear = self.settings.bilinear;
        let gpu = self.gpu;
        let presets: Vec<Window> = match &self.study {
            Some(s) if s.volume.modality == "CT" => {
                self.settings.ct_presets.iter().map(|p| p.window).collect()
            }
            _ => Vec::new(),
        };
        let compare = self.compare.filter(|_| self.model.is_some());
        egui::CentralPanel::default().show(ui, |ui| {
            let Some(study) = &mut self.study else {
                ui.centered_and_justified(|ui| {
                    ui.label(if self.job.is_some() {
                        "Loading…"
                    } else {
                        "Open a DICOM file or folder (File menu, or drop it here)"
                    });
                });
                return;
            };
            ui::viewer::viewer_keys(ctx, &mut study.view, &study.volume, &presets);
            let slice = study.view.slice;
            let image = study.slice_image(slice);
            let mask = study.mask_layer(slice);
            let rois = self.rois.rois(slice).to_vec();
            let draft = self.rois.draft(slice);
            let active_roi = rois
                .len()
                .checked_sub(1)
                .filter(|_| self.rois.source == roi::RoiSource::Drawn);
            let drawing = self.rois.tool.is_some();
            let mut roi_events = Vec::new();
            let Some(layout) = compare else {
                let pane = self.model.as_ref().and_then(|m| m.panes.first());
                let heat = pane.and_then(|pane| {
                    let heatmap = self
                        .model
                        .as_ref()
                        .and_then(|m| m.heatmap_for(0, &study.volume, slice));
                    heat_layer(&mut study.heat_layers[0], heatmap, pane)
                });
                let input = ui::viewer::ViewerInput {
                    volume: &study.volume,
                    image: &image,
                    heat: heat.as_ref().map(|(layer, params)| (layer, *params)),
                    mask: mask.as_ref(),
                    colormap: pane.map_or(Colormap::Jet, |p| p.colormap),
                    bilinear,
                    gpu,
                    view_id: 0,
                    crosshair: None,
                    rois: &rois,
                    active_roi,
                    draft: draft.as_ref(),
                    drawing,
                };
                let output = ui::viewer::viewer_ui(ui, &input, &mut study.view);
                study.image_rect = output.image_rect;
                study.set_hover(output.hovered_pixel);
                for event in output.roi_events {
                    self.rois.pointer(slice, event);
                }
                return;
            };
            let Some(session) = &mut self.model else {
                return;
            };
            // The layout may have been switched on this frame, after the model was polled.
            let s = &self.settings;
            session.ensure_panes(layout.panes, s.colormap, s.heat_opacity, s.heat_threshold);
            let crosshair = study.hover.as_ref().map(|h| (h.col, h.row));
            let rects = pane_rects(ui.available_rect_before_wrap(), layout.panes);
            let mut hovered = None;
            let mut actions = Vec::new();
            for (pane, rect) in rects.into_iter().enumerate() {
                let difference = layout.difference && pane + 1 == layout.panes;
                let mut child = ui.new_child(egui::UiBuilder::new().max_rect(rect.shrink(2.0)));
                // Controls wider than a narrow pane must not spill into the next one.
                child.set_clip_rect(rect.shrink(1.0));
                let (heat, colormap, title) = if difference {
                    child.label("difference: pane 1 − pane 2 (each scaled to its max |value|)");
                    let a = session.heatmap_for(0, &study.volume, slice).cloned();
                    let b = session.heatmap_for(1, &study.volume, slice).cloned();
                    let heat = difference_layer(&mut study.difference, a.as_ref(), b.as_ref());
                    (heat, Colormap::Diverging, "difference".to_owned())
                } else {
                    let card = session.card.clone();
                    let explanation = &mut session.panes[pane];
                    child.horizontal_wrapped(|ui| {
                        ui.label(format!("{}", pane + 1));
                        if let Some(action) =
                            ui::compare::method_controls_ui(ui, &card, explanation, pane + 1)
                        {
                            actions.push((pane, action));
                        }
                    });
                    child.horizontal_wrapped(|ui| {
                        ui::compare::display_controls_ui(ui, explanation, pane + 1);
                    });
                    let title = explanation.method.name().to_owned();
                    let colormap = explanation.colormap;
                    let heatmap = session.heatmap_for(pane, &study.volume, slice);
                    let heat =
                        heat_layer(&mut study.heat_layers[pane], heatmap, &session.panes[pane]);
                    (heat, colormap, title)
                };
                let input = ui::viewer::ViewerInput {
                    volume: &study.volume,
                    image: &image,
                    heat: heat.as_ref().map(|(layer, params)| (layer, *params)),
                    mask: mask.as_ref(),
                    colormap,
                    bilinear,
                    gpu,
                    view_id: pane as u64 + 1,
                    crosshair,
                    rois: &rois,
                    active_roi,
                    draft: draft.as_ref(),
                    drawing,
                };
                let output = ui::viewer::viewer_ui(&mut child, &input, &mut study.view);
                if let Some((_, params)) = &heat {
                    let viewport = child.min_rect();
                    let (low, high) = if params.signed {
                        (-params.high, params.high)
                    } else {
                        (params.low, params.high)
                    };
                    ui::compare::colorbar(
                        &child.painter_at(viewport),
                        viewport,
                        colormap,
                        low,
                        high,
                        &title,
                    );
                }
                if pane == 0 {
                    study.image_rect = output.image_rect;
                }
                hovered = hovered.or(output.hovered_pixel);
                roi_events.extend(output.roi_events);
            }
            study.set_hover(hovered);
            for event in roi_events {
                self.rois.pointer(slice, event);
            }
            for (pane, action) in actions {
                let result = match action {
                    ExplainAction::Start => session.explain(pane, &study.volume, slice),
                    ExplainAction::Cancel => {
                        session.cancel_explanation(pane);
                        Ok(())
                    }
                };
                if let Err(e) = result {
                    self.error = Some(e);
                }
            }
        });
    }
}

/// Which panes the comparison layout shows and whether the last one is a difference view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompareLayout {
    /// 2–4 panes.
    pub panes: usize,
    /// The last pane shows pane 1 − pane 2 instead of an explanation of its own.
    pub difference: bool,
}

impl Default for CompareLayout {
    fn default() -> Self {
        Self {
            panes: 3,
            difference: false,
        }
    }
}

/// `n` pane rectangles filling `area`: side by side for 2 and 3, a 2×2 grid for 4.
fn pane_rects(area: egui::Rect, n: usize) -> Vec<egui::Rect> {
    let (columns, rows) = if n >= 4 { (2, 2) } else { (n.max(1), 1) };
    let size = egui::vec2(area.width() / columns as f32, area.height() / rows as f32);
    (0..n.min(4))
        .map(|i| {
            let (c, r) = (i % columns, i / columns);
            egui::Rect::from_min_size(
                area.min + egui::vec2(c as f32 * size.x, r as f32 * size.y),
                size,
            )
        })
        .collect()
}

/// The signed difference of two heatmaps of the same grid, each scaled to its largest magnitude
/// (raw units of different methods are not comparable), cached by the pair's identity.
fn difference_layer(
    cache: &mut Option<((usize, usize), Arc<HeatLayer>)>,
    a: Option<&Arc<crate::explain::Heatmap>>,
    b: Option<&Arc<crate::explain::Heatmap>>,
) -> Option<(Arc<HeatLayer>, HeatParams)> {
    let (a, b) = (a?, b?);
    if (a.rows, a.cols) != (b.rows, b.cols) {
        return None;
    }
    let key = (Arc::as_ptr(a) as usize, Arc::as_ptr(b) as usize);
    let layer = match cache {
        Some((k, layer)) if *k == key => Arc::clone(layer),
        _ => {
            let max_abs = crate::explain::Normalisation::MaxAbs;
            let values = a
                .normalised(max_abs)
                .iter()
                .zip(b.normalised(max_abs))
                .map(|(x, y)| x - y)
                .collect();
            let layer = Arc::new(HeatLayer {
                generation: crate::render::next_generation(),
                width: a.cols as u32,
                height: a.rows as u32,
                values,
            });
            *cache = Some((key, Arc::clone(&layer)));
            layer
        }
    };
    let params = HeatParams {
        low: 0.0,
        high: 1.0,
        threshold: 0.05,
        opacity: 0.7,
        signed: true,
    };
    Some((layer, params))
}
