//! The eframe application: the window's state, the background jobs, and the glue between the
//! widgets of `ui/` and the library modules. Widgets draw and say what the user asked for; `app/`
//! decides what happens. One idea per file:
//!
//! - `mod.rs`: [`RadlensApp`], its start-up, the order of one frame, and [`run`] (the window).
//! - `study.rs`: the loaded series, its view and its GPU layers (cached per slice/heatmap).
//! - `jobs.rs`: starting and polling the loader, the file dialogs and the model.
//! - `panels.rs`, `viewport.rs`: the frame's layout around the viewport, and the viewport.
//! - `menus.rs`: the menu bar, the settings window, the native file dialogs.
//! - [`inference`]: the model session (worker, predictions, explanation and metric jobs);
//!   [`explanation`]: one pane's explanation (choice, running job, result, metric jobs).
//! - [`metrics`], [`review`], [`roi`]: the metrics & review panel, the review file, the ROI editor;
//!   [`features`]: the features panel; [`cohort`]: the cohort view, `phantom.rs` the phantom
//!   cohort it opens in one click; `background.rs`: values computed off the UI thread.
//! - [`export`]: File → Export; [`settings`]: persistent settings; `loader.rs`, `demo.rs`: study
//!   loading and the embedded demo.
//!
//! Dependency rule: `app/` may use everything, `ui/` included (never the other way round);
//! nothing but `main.rs`, `cli/view.rs` and tests uses `app/`.

mod background;
pub mod cohort;
mod demo;
pub mod explanation;
pub mod export;
pub mod features;
pub mod heat_volume;
pub mod inference;
mod jobs;
mod loader;
mod menus;
pub mod metrics;
pub mod mpr;
pub mod pacs;
mod panels;
mod phantom;
mod results;
pub mod review;
pub mod roi;
pub mod settings;
pub mod study;
mod viewport;

use std::path::PathBuf;

use crossbeam_channel::Receiver;

use crate::dicom::ScanReport;
use crate::ui::compare::CompareLayout;
pub use demo::{demo_hybrid_model, demo_model, demo_study};
use loader::LoadJob;
use menus::Dialog;
use settings::Settings;
pub use study::Study;

/// The radlens window.
pub struct RadlensApp {
    pub settings: Settings,
    pub study: Option<Study>,
    pub scan: Option<ScanReport>,
    /// One per series of the scan, filled in as the loader renders them.
    thumbnails: Vec<Option<egui::TextureHandle>>,
    opened: Vec<PathBuf>,
    job: Option<LoadJob>,
    /// The middle slice of the series being decoded, shown until the whole series is loaded.
    pub preview: Option<study::Preview>,
    /// An artificially slow decoder (tests of progressive display): a wait per slice.
    decode_delay: Option<std::time::Duration>,
    pub error: Option<String>,
    dialog: Option<Receiver<(Dialog, Option<Vec<PathBuf>>)>>,
    model_loading: Option<Receiver<Result<crate::model::Model, String>>>,
    pub model: Option<inference::ModelSession>,
    /// The comparison layout's second model (its last pane), and its loading.
    pub second_model: Option<inference::ModelSession>,
    second_loading: Option<Receiver<Result<crate::model::Model, String>>>,
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
    /// The features panel (radiomics and deep features of the active region).
    pub features: features::FeaturesPanel,
    /// The cohort view (a features CSV of many cases).
    pub cohort: cohort::CohortView,
    /// File → PACS…: search, retrieve into the cache, open.
    pub pacs: pacs::PacsWindow,
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
            preview: None,
            decode_delay: None,
            error: None,
            dialog: None,
            model_loading: None,
            model: None,
            second_model: None,
            second_loading: None,
            tag_filter: String::new(),
            show_settings: false,
            compare: None,
            export: export::ExportDialog::default(),
            gpu,
            rois: roi::RoiEditor::default(),
            metrics: metrics::MetricsPanel::default(),
            features: features::FeaturesPanel::default(),
            cohort: cohort::CohortView::default(),
            pacs: pacs::PacsWindow::default(),
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
        self.poll_second_model(&ctx);
        self.poll_cohort();
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
        self.features_panel(ui);
        self.viewport_ui(ui, &ctx);
        self.settings_window(&ctx);
        self.export_window(&ctx);
        self.cohort_window(&ctx);
        self.pacs_window(&ctx);
    }
}

/// Opens the viewer window on `paths` (the embedded demo when empty), with `model` loaded if
/// given, and runs it until the window is closed.
pub fn run(paths: Vec<PathBuf>, model: Option<PathBuf>) -> eframe::Result {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("radlens")
            .with_inner_size([1400.0, 900.0])
            .with_min_inner_size([640.0, 400.0])
            .with_drag_and_drop(true),
        renderer: eframe::Renderer::Wgpu,
        ..Default::default()
    };
    eframe::run_native(
        "radlens",
        options,
        Box::new(|cc| {
            let mut app = RadlensApp::new(cc, paths);
            if let Some(model) = model {
                app.open_model(model, &cc.egui_ctx);
            }
            Ok(Box::new(app))
        }),
    )
}
