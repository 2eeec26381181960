//! The eframe application: app state, background jobs, and the glue between `ui/` and the
//! library modules. Widgets live in `ui/`; this file decides what happens.
//!
//! Dependency rule: `app/` may use everything; nothing but `main.rs` and tests uses `app/`.

mod demo;
pub mod inference;
mod loader;
mod menus;
pub mod settings;
pub mod view;

use std::path::PathBuf;
use std::sync::Arc;

use crossbeam_channel::Receiver;

use crate::dicom::{ScanReport, Volume, Voxels};
use crate::imaging::{HeatParams, Window};
use crate::render::{Frame, HeatLayer, MaskLayer, SliceImage};
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
    /// The heatmap on screen for the GPU, rebuilt only when the heatmap changes.
    heat_layer: Option<(usize, Arc<HeatLayer>)>,
    pub hover: Option<Hover>,
    pub image_rect: Option<egui::Rect>,
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
    gpu: bool,
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
            gpu,
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
                    self.study = Some(Study {
                        volume: Arc::from(volume),
                        series_index,
                        view,
                        image: None,
                        masks,
                        mask_layer: None,
                        heat_layer: None,
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
                Ok(session) => self.model = Some(session),
                Err(e) => self.error = Some(e),
            }
        }
        let Some(session) = &mut self.model else {
            return;
        };
        if let Some(message) = session.poll() {
            self.error = Some(message);
        }
        if let Some(study) = &self.study
            && let Err(e) = session
                .request(&study.volume, study.view.slice)
                .and_then(|()| session.follow(&study.volume, study.view.slice))
        {
            self.error = Some(e);
        }
    }
}

/// The GPU layer and display parameters of `heatmap` (cached in `cache` by the heatmap's
/// identity): raw values uploaded as they are, the display range their min–max (±max |v| when
/// signed), threshold and opacity from the settings.
fn heat_layer(
    cache: &mut Option<(usize, Arc<HeatLayer>)>,
    heatmap: Option<&Arc<crate::explain::Heatmap>>,
    (threshold, opacity): (f32, f32),
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
    let (lo, hi) = heatmap.range();
    let signed = heatmap.provenance.signed;
    let params = HeatParams {
        low: if signed { 0.0 } else { lo },
        high: if signed { lo.abs().max(hi.abs()) } else { hi },
        threshold,
        opacity,
        signed,
    };
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

        self.bars_ui(ui);
        self.side_panels_ui(ui, &ctx);
        self.viewport_ui(ui, &ctx);
        self.settings_window(&ctx);
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
                                .and_then(|s| session.heatmap_for(&s.volume, s.view.slice))
                                .cloned();
                            action = ui::model_card::explanation_ui(
                                ui,
                                &session.card,
                                &mut session.explanation,
                                on_screen.as_deref(),
                            );
                        });
                        match (action, &self.study) {
                            (Some(ExplainAction::Start), Some(study)) => {
                                if let Err(e) = session.explain(&study.volume, study.view.slice) {
                                    self.error = Some(e);
                                }
                            }
                            (Some(ExplainAction::Cancel), _) => session.cancel_explanation(),
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

    /// The slice viewport in the remaining space.
    fn viewport_ui(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        let bilinear = self.settings.bilinear;
        let colormap = self.settings.colormap;
        let heat_settings = (self.settings.heat_threshold, self.settings.heat_opacity);
        let gpu = self.gpu;
        let presets: Vec<Window> = match &self.study {
            Some(s) if s.volume.modality == "CT" => {
                self.settings.ct_presets.iter().map(|p| p.window).collect()
            }
            _ => Vec::new(),
        };
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
            let image = match &study.image {
                Some((s, image)) if *s == slice => Arc::clone(image),
                _ => {
                    let image = Arc::new(slice_image(
                        &study.volume,
                        slice,
                        crate::render::next_generation(),
                    ));
                    study.image = Some((slice, Arc::clone(&image)));
                    image
                }
            };
            let mask = match &study.mask_layer {
                Some((s, layer)) if *s == slice => layer.clone(),
                _ => {
                    let [_, rows, cols] = study.volume.shape;
                    let layer = study
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
                    study.mask_layer = Some((slice, layer.clone()));
                    layer
                }
            };
            let heat = heat_layer(
                &mut study.heat_layer,
                self.model
                    .as_ref()
                    .and_then(|m| m.heatmap_for(&study.volume, slice)),
                heat_settings,
            );
            let input = ui::viewer::ViewerInput {
                volume: &study.volume,
                image: &image,
                heat: heat.as_ref().map(|(layer, params)| (layer, *params)),
                mask: mask.as_ref(),
                colormap,
                bilinear,
                gpu,
            };
            let output = ui::viewer::viewer_ui(ui, &input, &mut study.view);
            study.image_rect = output.image_rect;
            study.hover = output.hovered_pixel.map(|(col, row)| Hover {
                col,
                row,
                slice: study.view.slice,
                value: study.volume.value(study.view.slice, row, col),
                patient_mm: study.volume.geometry.patient_from_voxel([
                    col as f64,
                    row as f64,
                    study.view.slice as f64,
                ]),
            });
        });
    }
}
