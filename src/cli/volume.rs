//! `radlens volume PATH... --out FILE.npy [--series ID] [--allow-gaps] [--force]`: one series as a
//! float32 `.npy` array.
//!
//! A slice that fails to decode is an error (naming the file and the cause): leaving it out would
//! shift every later slice index. `--allow-gaps` accepts the gaps and records them in
//! `FILE.npy.json` beside the volume (index in the series, file, reason).

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use ndarray::{ArrayView3, ArrayView4};
use ndarray_npy::WriteNpyExt;

use super::Inputs;
use crate::dicom::{self, LoadControl, Voxels};
use crate::output::{WritePolicy, sidecar_path, write_atomically};

#[derive(Debug, clap::Args)]
pub struct VolumeArgs {
    #[command(flatten)]
    pub inputs: Inputs,
    /// Output file (.npy); written atomically, never over a file this command reads.
    #[arg(long)]
    pub out: PathBuf,
    /// Series id or SeriesInstanceUID (see `radlens info`); needed when the paths hold several.
    #[arg(long)]
    pub series: Option<String>,
    /// Write the slices that decode even when some do not, listing the gaps in FILE.npy.json.
    #[arg(long)]
    pub allow_gaps: bool,
    /// Replace an existing output (never a file this command reads).
    #[arg(long)]
    pub force: bool,
}

/// The gaps sidecar: which slices of the series are missing from the volume, and why.
#[derive(Debug, serde::Serialize)]
struct GapReport<'a> {
    series_uid: &'a str,
    /// Shape of the written volume `[slices, rows, cols]`.
    shape: [usize; 3],
    /// Slices in the series (written + missing).
    series_slices: usize,
    gaps: Vec<Gap<'a>>,
}

#[derive(Debug, serde::Serialize)]
struct Gap<'a> {
    path: &'a Path,
    reason: &'a str,
}

pub fn run(args: &VolumeArgs) -> Result<()> {
    let paths = &args.inputs.paths;
    let report = dicom::scan(paths)?;
    let policy = WritePolicy::protecting(
        report
            .files()
            .map(Path::to_path_buf)
            .chain(paths.iter().cloned()),
    )
    .with_overwrite(args.force);
    let gaps_path = sidecar_path(&args.out);
    policy.check(&args.out)?;
    if args.allow_gaps {
        policy.check(&gaps_path)?;
    }
    for skipped in &report.skipped {
        tracing::warn!("skipped {}: {}", skipped.path.display(), skipped.reason);
    }
    let series = dicom::select_series(&report, args.series.as_deref(), paths)?;
    let volume = dicom::load_series(series, &LoadControl::default())?;
    if let Some(first) = volume.skipped.first()
        && !args.allow_gaps
    {
        bail!(
            "{} of the series' {} slices could not be decoded (first: {}; --allow-gaps writes the \
             rest and lists the gaps): {}",
            volume.skipped.len(),
            series.slices.len(),
            first.reason,
            first.path.display()
        );
    }
    for warning in &volume.warnings {
        tracing::warn!("series {}: {warning}", volume.series_id);
    }
    let values = volume.to_f32_vec();
    let [s, r, c] = volume.shape;
    write_atomically(&args.out, &policy, |file| {
        if matches!(volume.voxels, Voxels::Rgb8(_)) {
            ArrayView4::from_shape((s, r, c, 3), &values)?.write_npy(file)?;
        } else {
            ArrayView3::from_shape((s, r, c), &values)?.write_npy(file)?;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    if args.allow_gaps {
        let gaps = GapReport {
            series_uid: &volume.series_uid,
            shape: volume.shape,
            series_slices: series.slices.len(),
            gaps: volume
                .skipped
                .iter()
                .map(|g| Gap {
                    path: &g.path,
                    reason: &g.reason,
                })
                .collect(),
        };
        write_atomically(&gaps_path, &policy, |file| {
            serde_json::to_writer_pretty(file, &gaps)
        })?;
    }
    Ok(())
}
