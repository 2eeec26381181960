//! The headless command line: one file per subcommand. This is a contract other tools rely on:
//! keep the names, flags and JSON fields stable.

pub mod args;
pub mod demo;
pub mod evaluate;
pub mod explain;
pub mod export;
pub mod features;
pub mod info;
pub mod pacs;
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
    /// Radiomics features per ROI (PyRadiomics-compatible handcrafted, and a model's deep
    /// features) for one image and mask or a cohort CSV; `merge` joins shard outputs.
    Features(features::FeaturesArgs),
    /// Demonstration data from the shared real slices: `cohort` writes a phantom cohort with
    /// known lesions (DICOM, masks, cases.csv with the ground truth).
    Demo(demo::DemoArgs),
    /// Find, retrieve and store studies on a PACS (DICOMweb or DIMSE): echo, find, get, store.
    Pacs(pacs::PacsArgs),
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

/// The subcommands, for "did you mean" hints.
const SUBCOMMANDS: [&str; 10] = [
    "info", "volume", "predict", "explain", "evaluate", "export", "features", "demo", "pacs",
    "view",
];

/// Before the viewer starts: every path must exist (a mistyped subcommand such as `radlens
/// orthanc store` is not a list of studies), and there must be a display to open a window on.
pub fn check_viewer_start(paths: &[PathBuf]) -> anyhow::Result<()> {
    for path in paths {
        if std::fs::symlink_metadata(path).is_err() {
            let word = path.to_string_lossy();
            let hint = closest_subcommand(&word)
                .map_or_else(String::new, |s| format!(" (did you mean `radlens {s}`?)"));
            anyhow::bail!(
                "no such command or file{hint}: {}",
                crate::dicom::quote(&word)
            );
        }
    }
    let has_display = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if cfg!(all(unix, not(target_os = "macos")))
        && !has_display("DISPLAY")
        && !has_display("WAYLAND_DISPLAY")
    {
        anyhow::bail!(
            "the viewer needs a display (neither DISPLAY nor WAYLAND_DISPLAY is set); the \
             commands {} run without one",
            SUBCOMMANDS[..8].join(", ")
        );
    }
    Ok(())
}

/// The subcommand nearest to `word` by edit distance, if it is near enough to be a typo.
fn closest_subcommand(word: &str) -> Option<&'static str> {
    let word = word.to_ascii_lowercase();
    SUBCOMMANDS
        .into_iter()
        .map(|s| (edit_distance(&word, s), s))
        .filter(|&(d, s)| d <= s.len() / 2)
        .min_by_key(|&(d, _)| d)
        .map(|(_, s)| s)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_point_to_the_nearest_subcommand() {
        assert_eq!(closest_subcommand("exlpain"), Some("explain"));
        assert_eq!(closest_subcommand("infoo"), Some("info"));
        assert_eq!(closest_subcommand("orthanc"), None);
        assert_eq!(closest_subcommand("pacz"), Some("pacs"));
    }
}
