//! `radlens [view] [PATH...]`: the viewer window, on the given studies or the embedded demo.

use std::path::PathBuf;

use anyhow::{Result, anyhow};

#[derive(Debug, clap::Args)]
pub struct ViewArgs {
    /// DICOM files and/or folders; none opens the embedded demo study.
    pub paths: Vec<PathBuf>,
    /// TorchScript model (`M.pt` with `M.toml` beside it) to run on the slice on screen.
    #[arg(long)]
    pub model: Option<PathBuf>,
}

pub fn run(paths: Vec<PathBuf>, model: Option<PathBuf>) -> Result<()> {
    crate::app::run(paths, model).map_err(|e| anyhow!("cannot open the viewer window ({e})"))
}
