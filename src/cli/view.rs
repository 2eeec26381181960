//! `radlens [view] [PATH...]`: the viewer window, on the given studies or the embedded demo.

use std::path::PathBuf;

use anyhow::{Result, anyhow};

use crate::app::RadlensApp;

#[derive(Debug, clap::Args)]
pub struct ViewArgs {
    /// DICOM files and/or folders; none opens the embedded demo study.
    pub paths: Vec<PathBuf>,
    /// TorchScript model (`M.pt` with `M.toml` beside it) to run on the slice on screen.
    #[arg(long)]
    pub model: Option<PathBuf>,
}

pub fn run(paths: Vec<PathBuf>, model: Option<PathBuf>) -> Result<()> {
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
    .map_err(|e| anyhow!("cannot open the viewer window ({e})"))
}
