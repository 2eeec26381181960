//! The menu bar, the settings window and the native file dialogs.

use super::RadlensApp;
use super::settings::Settings;

/// What a file dialog is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialog {
    Files,
    Folder,
    Model,
}

impl RadlensApp {
    /// Opens a native file dialog without blocking the UI (rfd's async dialog on its own thread).
    pub(super) fn ask_for_paths(&mut self, ctx: &egui::Context, kind: Dialog) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let ctx = ctx.clone();
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
            ui.menu_button("File", |ui| {
                if ui.button("Open file…").clicked() {
                    self.ask_for_paths(&ctx, Dialog::Files);
                }
                if ui.button("Open folder…").clicked() {
                    self.ask_for_paths(&ctx, Dialog::Folder);
                }
                if ui.button("Load model…").clicked() {
                    self.ask_for_paths(&ctx, Dialog::Model);
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
                            self.open(paths, &ctx);
                        }
                    }
                });
                if ui.button("Open demo study").clicked() {
                    self.open_demo(&ctx);
                }
            });
            ui.menu_button("View", |ui| {
                ui.checkbox(&mut self.settings.show_tags, "DICOM tag browser (t)");
                ui.checkbox(&mut self.settings.bilinear, "Smooth (bilinear) display");
                if ui.button("Settings…").clicked() {
                    self.show_settings = true;
                }
            });
        });
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
            });
        self.show_settings = open;
    }
}
