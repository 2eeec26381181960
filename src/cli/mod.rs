//! The headless command line: one file per subcommand. This is a contract other tools rely on:
//! keep the names, flags and JSON fields stable.

pub mod evaluate;
pub mod explain;
pub mod export;
pub mod info;
pub mod predict;
pub mod view;
pub mod volume;

use std::path::PathBuf;

/// `radlens` command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "radlens",
    version,
    about = "Explainable deep radiomics workstation",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Studies to open in the viewer (files or folders); none opens the embedded demo study.
    pub paths: Vec<std::path::PathBuf>,
    /// TorchScript model to run in the viewer (`M.pt` with `M.toml` beside it).
    #[arg(long)]
    pub model: Option<std::path::PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the studies and series found in files and folders (headers only).
    Info(info::InfoArgs),
    /// Write one series as a float32 .npy volume, shape [slices, rows, cols] (colour: [.., 3]).
    Volume(volume::VolumeArgs),
    /// Class probabilities of a TorchScript model for one slice, image or input tensor.
    Predict(predict::PredictArgs),
    /// Explanation map (Grad-CAM, IG, LIME, …) of a model's score for one slice, as a .npy.
    Explain(explain::ExplainArgs),
    /// Quality metrics of explanation maps: faithfulness, sparseness, agreement, localisation
    /// against a mask, parameter randomisation check.
    Evaluate(evaluate::EvaluateArgs),
    /// The explained slice as displayed (heatmap, ROI, colorbar, legend) as PNG + sidecar or
    /// DICOM Secondary Capture (de-identified by default); one slice, a range, or a folder.
    Export(export::ExportArgs),
    /// Open the viewer on files/folders (the default when no subcommand is given).
    View(view::ViewArgs),
}

/// Paths given on the command line: at least one.
#[derive(Debug, clap::Args)]
pub struct Inputs {
    /// DICOM files and/or folders (searched recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}
