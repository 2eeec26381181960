//! The menu bar, the settings window and the native file dialogs.

use super::RadlensApp;
use super::settings::Settings;
use crate::ui;
use crate::ui::roi::RoiAction;

/// Unpacks an embedded demo model and gives its `M.pt`.
type DemoModel = fn() -> std::io::Result<std::path::PathBuf>;

/// What a file dialog is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialog {
    Files,
    Folder,
    Model,
    /// Where to write the review as CSV.
    ExportCsv,
    /// Where to write one annotated slice (PNG, or DICOM when `true`).
    ExportImage(bool),
    /// The folder for a series of annotated slices.
    ExportFolder,
    /// The folder for the review as DICOM (Parametric Map, SEG, SR).
    ExportReviewDicom,
    /// A radlens Structured Report to restore the review from.
    RestoreReview,
    /// Parametric Maps, SEGs and SRs to open over the series on screen.
    OpenResults,
    /// Where to write the features panel's features as CSV.
    FeaturesCsv,
    /// A cohort's features CSV for the cohort view.
    CohortCsv,
}

impl RadlensApp {
    /// Opens a native file dialog without blocking the UI (rfd's async dialog on its own thread).
    #[allow(clippy::too_many_lines)] // one arm per dialog
    pub(super) fn ask_for_paths(&mut self, ctx: &egui::Context, kind: Dialog) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let ctx = ctx.clone();
        let csv_name = self.review.as_ref().map_or_else(
            || "review.csv".to_owned(),
            |r| {
                crate::review::Review::file_name(&r.review.study_instance_uid)
                    .replace(".json", ".csv")
            },
        );
        let spawned = std::thread::Builder::new()
            .name("radlens-file-dialog".to_owned())
            .spawn(move || {
                let dialog = rfd::AsyncFileDialog::new();
                let picked = match kind {
                    Dialog::Folder => {
                        pollster::block_on(dialog.set_title("Open DICOM folder").pick_folder())
                            .map(|f| vec![f.path().to_path_buf()])
                    }
                    Dialog::Files => {
                        pollster::block_on(dialog.set_title("Open DICOM files").pick_files())
                            .map(|fs| fs.iter().map(|f| f.path().to_path_buf()).collect())
                    }
                    Dialog::Model => pollster::block_on(
                        dialog
                            .set_title("Load TorchScript model")
                            .add_filter("TorchScript", &["pt", "pth"])
                            .pick_file(),
                    )
                    .map(|f| vec![f.path().to_path_buf()]),
                    Dialog::ExportCsv => pollster::block_on(
                        dialog
                            .set_title("Export review as CSV")
                            .add_filter("CSV", &["csv"])
                            .set_file_name(&csv_name)
                            .save_file(),
                    )
                    .map(|f| vec![f.path().to_path_buf()]),
                    Dialog::ExportImage(dicom) => {
                        let (name, extension) = if dicom {
                            ("DICOM Secondary Capture", "dcm")
                        } else {
                            ("PNG", "png")
                        };
                        pollster::block_on(
                            dialog
                                .set_title("Export annotated slice")
                                .add_filter(name, &[extension])
                                .set_file_name(format!("radlens_export.{extension}"))
                                .save_file(),
                        )
                        .map(|f| vec![f.path().to_path_buf()])
                    }
                    Dialog::FeaturesCsv => pollster::block_on(
                        dialog
                            .set_title("Export features as CSV")
                            .add_filter("CSV", &["csv"])
                            .set_file_name("features.csv")
                            .save_file(),
                    )
                    .map(|f| vec![f.path().to_path_buf()]),
                    Dialog::CohortCsv => pollster::block_on(
                        dialog
                            .set_title("Open cohort features (radlens features --cohort)")
                            .add_filter("CSV", &["csv"])
                            .pick_file(),
                    )
                    .map(|f| vec![f.path().to_path_buf()]),
                    Dialog::ExportFolder => pollster::block_on(
                        dialog
                            .set_title("Export annotated slices into folder")
                            .pick_folder(),
                    )
                    .map(|f| vec![f.path().to_path_buf()]),
                    Dialog::OpenResults => pollster::block_on(
                        dialog
                            .set_title("Open Parametric Maps, SEGs, SRs over this series")
                            .add_filter("DICOM", &["dcm"])
                            .pick_files(),
                    )
                    .map(|files| files.iter().map(|f| f.path().to_path_buf()).collect()),
                    Dialog::RestoreReview => pollster::block_on(
                        dialog
                            .set_title("Restore the review from a radlens Structured Report")
                            .add_filter("DICOM", &["dcm"])
                            .pick_file(),
                    )
                    .map(|f| vec![f.path().to_path_buf()]),
                    Dialog::ExportReviewDicom => pollster::block_on(
                        dialog
                            .set_title("Export the review as DICOM into folder")
                            .pick_folder(),
                    )
                    .map(|f| vec![f.path().to_path_buf()]),
                };
                if tx.send((kind, picked)).is_err() {
                    tracing::debug!("file dialog answered after the app stopped listening");
                }
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => self.dialog = Some(rx),
            Err(e) => self.error = Some(format!("cannot open a file dialog ({e})")),
        }
    }

    pub(super) fn menu_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| self.file_menu_ui(ui, &ctx));
            ui.menu_button("View", |ui| {
                ui.checkbox(&mut self.settings.show_tags, "DICOM tag browser (t)");
                ui.checkbox(&mut self.settings.bilinear, "Smooth (bilinear) display");
                ui.checkbox(&mut self.metrics.open, "Metrics & review (v)");
                ui.checkbox(&mut self.features.open, "Features (f)");
                ui.checkbox(&mut self.cohort.open, "Cohort view (k)");
                let mut mpr = self.study.as_ref().is_some_and(|s| s.mpr.is_some());
                if ui
                    .add_enabled(
                        self.study.is_some(),
                        egui::Checkbox::new(&mut mpr, "Three planes, MPR (x)"),
                    )
                    .clicked()
                {
                    self.toggle_mpr();
                }
                ui.separator();
                ui::compare::compare_controls_ui(ui, &mut self.compare, self.model.is_some());
                if ui.button("Settings…").clicked() {
                    self.show_settings = true;
                }
            });
            ui.separator();
            let slice = self.study.as_ref().map(|s| s.view.slice);
            match ui::roi::roi_tools_ui(ui, self.rois.tool) {
                Some(RoiAction::Tool(tool)) => self.rois.toggle_tool(tool),
                Some(RoiAction::Undo) => {
                    self.rois.undo();
                }
                Some(RoiAction::Clear) => {
                    if let Some(slice) = slice {
                        self.rois.clear(slice);
                    }
                }
                None => {}
            }
            ui.separator();
            ui.toggle_value(&mut self.metrics.open, "Metrics")
                .on_hover_text("Metrics & review panel (v)");
            ui.toggle_value(&mut self.features.open, "Features")
                .on_hover_text("Radiomics and deep features of the active region (f)");
        });
    }

    #[allow(clippy::too_many_lines)] // one item per entry of the menu
    fn file_menu_ui(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        if ui.button("Open file…").clicked() {
            self.ask_for_paths(ctx, Dialog::Files);
        }
        if ui.button("Open folder…").clicked() {
            self.ask_for_paths(ctx, Dialog::Folder);
        }
        ui.menu_button("Load demo model", |ui| self.demo_models_ui(ui, ctx));
        if ui.button("Load model…").clicked() {
            self.ask_for_paths(ctx, Dialog::Model);
        }
        ui.menu_button("Recent", |ui| {
            let recent = self.settings.recent.clone();
            if recent.is_empty() {
                ui.label("(none yet)");
            }
            for paths in recent {
                let label = paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                if ui.button(label).clicked() {
                    self.open(paths, ctx);
                }
            }
        });
        if ui.button("Open demo study").clicked() {
            self.open_demo(ctx);
        }
        ui.separator();
        if ui.button("Open cohort features…").clicked() {
            self.ask_for_paths(ctx, Dialog::CohortCsv);
        }
        if ui
            .button("Open phantom cohort (demo)")
            .on_hover_text(
                "60 real CT slices with synthetic lesions of known size and contrast: \
                     made, measured with the demo model and opened in the cohort view",
            )
            .clicked()
        {
            self.open_phantom_cohort(ctx);
        }
        if ui.button("PACS… (Ctrl+P)").clicked() {
            self.pacs.open = true;
        }
        ui.separator();
        let reviewing = self.review.is_some();
        if ui
            .add_enabled(reviewing, egui::Button::new("Save review (Ctrl+S)"))
            .clicked()
        {
            self.save_review();
        }
        if ui
            .add_enabled(reviewing, egui::Button::new("Export review as CSV…"))
            .clicked()
        {
            self.ask_for_paths(ctx, Dialog::ExportCsv);
        }
        if ui
            .add_enabled(
                reviewing && self.model.is_some(),
                egui::Button::new("Export review as DICOM (map, SEG, SR)…"),
            )
            .on_hover_text("each entry explained again, with its ROI, verdict and note")
            .clicked()
        {
            self.ask_for_paths(ctx, Dialog::ExportReviewDicom);
        }
        if ui
            .add_enabled(
                reviewing,
                egui::Button::new("Restore review from DICOM SR…"),
            )
            .on_hover_text("verdicts and notes of a report radlens exported for this study")
            .clicked()
        {
            self.ask_for_paths(ctx, Dialog::RestoreReview);
        }
        if ui
            .add_enabled(
                self.study.is_some(),
                egui::Button::new("Open result objects over this series…"),
            )
            .on_hover_text(
                "a Parametric Map as pane 1's heatmap, a SEG as the ROI, a radlens SR restores \
                 the review",
            )
            .clicked()
        {
            self.ask_for_paths(ctx, Dialog::OpenResults);
        }
        ui.separator();
        if ui
            .add_enabled(
                self.model.is_some() && self.study.is_some(),
                egui::Button::new("Export annotated slices… (Ctrl+E)"),
            )
            .clicked()
        {
            self.export.open = true;
        }
    }

    /// File > Load demo model: each shipped model as the model, or beside it as the
    /// comparison's second model.
    fn demo_models_ui(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        let demos: [(&str, &str, DemoModel); 2] = [
            (
                "CNN (lesion)",
                "4 conv blocks and a lesion map; the default",
                super::demo_model,
            ),
            (
                "Transformer hybrid",
                "CNN stem, 16x16 patch tokens, two transformer blocks; Grad-CAM on tokens and \
                 attention rollout",
                super::demo_hybrid_model,
            ),
        ];
        for (name, about, unpack) in demos {
            if ui.button(name).on_hover_text(about).clicked() {
                match unpack() {
                    Ok(path) => self.open_model(path, ctx),
                    Err(e) => self.error = Some(format!("cannot unpack the demo model ({e})")),
                }
            }
        }
        ui.separator();
        for (name, _, unpack) in demos {
            if ui
                .button(format!("{name} beside"))
                .on_hover_text(
                    "as the second model: the comparison's last pane explains with it, \
                     beside the first model's panes",
                )
                .clicked()
            {
                match unpack() {
                    Ok(path) => self.open_second_model(path, ctx),
                    Err(e) => self.error = Some(format!("cannot unpack the demo model ({e})")),
                }
            }
        }
    }

    pub(super) fn settings_window(&mut self, ctx: &egui::Context) {
        let mut open = self.show_settings;
        egui::Window::new("Settings")
            .open(&mut open)
            .show(ctx, |ui| {
                ui.heading("CT window presets (keys 1–6)");
                egui::Grid::new("presets").show(ui, |ui| {
                    ui.label("Name");
                    ui.label("Width (HU)");
                    ui.label("Level (HU)");
                    ui.end_row();
                    for preset in &mut self.settings.ct_presets {
                        ui.text_edit_singleline(&mut preset.name);
                        ui.add(egui::DragValue::new(&mut preset.window.width).range(1.0..=8000.0));
                        ui.add(
                            egui::DragValue::new(&mut preset.window.center).range(-3000.0..=5000.0),
                        );
                        ui.end_row();
                    }
                });
                if ui.button("Restore defaults").clicked() {
                    self.settings.ct_presets = Settings::default().ct_presets;
                }
                ui.separator();
                ui.checkbox(&mut self.settings.bilinear, "Smooth (bilinear) display");
                ui.separator();
                self.review_folder_ui(ui);
                ui.separator();
                ui::compare::compare_controls_ui(ui, &mut self.compare, self.model.is_some());
            });
        self.show_settings = open;
    }

    /// The review folder setting: empty = the user's data folder.
    fn review_folder_ui(&mut self, ui: &mut egui::Ui) {
        ui.label("Review folder (empty: the user's data folder)");
        let mut text = self
            .settings
            .review_dir
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let response = ui.text_edit_singleline(&mut text);
        if response.changed() {
            let text = text.trim();
            self.settings.review_dir = (!text.is_empty()).then(|| text.into());
        }
        if response.lost_focus()
            && let Some(volume) = self
                .study
                .as_ref()
                .map(|s| std::sync::Arc::clone(&s.volume))
        {
            self.open_review(&volume);
        }
        if std::env::var_os("RADLENS_REVIEW_DIR").is_some() {
            ui.small("RADLENS_REVIEW_DIR is set and takes precedence.");
        }
        if let Some(dir) = self.review_dir() {
            ui.small(format!("in use: {}", dir.display()));
        }
    }
}
