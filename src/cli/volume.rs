//! `radlens volume PATH... --out FILE.npy [--series ID]`: one series as a float32 `.npy` array.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use ndarray::{ArrayView3, ArrayView4};
use ndarray_npy::WriteNpyExt;

use super::Inputs;
use crate::dicom::{self, Voxels};

#[derive(Debug, clap::Args)]
pub struct VolumeArgs {
    #[command(flatten)]
    pub inputs: Inputs,
    /// Output file (.npy); written atomically, never over an input.
    #[arg(long)]
    pub out: PathBuf,
    /// Series id or SeriesInstanceUID (see `radlens info`); needed when the paths hold several.
    #[arg(long)]
    pub series: Option<String>,
}

pub fn run(args: &VolumeArgs) -> Result<()> {
    refuse_to_overwrite_input(&args.out, &args.inputs.paths)?;
    let (volume, report) = dicom::load(&args.inputs.paths, args.series.as_deref())?;
    for skipped in &report.skipped {
        tracing::warn!("skipped {}: {}", skipped.path.display(), skipped.reason);
    }
    for warning in &volume.warnings {
        tracing::warn!("series {}: {warning}", volume.series_id);
    }
    let values = volume.to_f32_vec();
    let [s, r, c] = volume.shape;
    write_atomically(&args.out, |file| {
        if matches!(volume.voxels, Voxels::Rgb8(_)) {
            ArrayView4::from_shape((s, r, c, 3), &values)?.write_npy(file)?;
        } else {
            ArrayView3::from_shape((s, r, c), &values)?.write_npy(file)?;
        }
        Ok(())
    })
}

/// Sources are never modified: refuse an output path that is one of the input files.
pub(crate) fn refuse_to_overwrite_input(out: &Path, inputs: &[PathBuf]) -> Result<()> {
    let Ok(out_abs) = std::path::absolute(out) else {
        return Ok(());
    };
    let out_real = out_abs.canonicalize().unwrap_or(out_abs);
    for input in inputs {
        let Ok(input_real) = input.canonicalize() else {
            continue;
        };
        if out_real == input_real {
            bail!("refusing to overwrite an input file: {}", out.display());
        }
    }
    Ok(())
}

/// Writes through a temporary file in the destination folder, then renames it into place, so a
/// failed or interrupted write never leaves a partial file.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> Result<()>,
) -> Result<()> {
    let failed = |cause: &dyn std::fmt::Display| {
        anyhow!("cannot write output ({cause}): {}", path.display())
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| failed(&e))?;
    {
        let mut writer = std::io::BufWriter::new(tmp.as_file());
        write(&mut writer).map_err(|e| failed(&e))?;
        std::io::Write::flush(&mut writer).map_err(|e| failed(&e))?;
    }
    tmp.as_file().sync_all().map_err(|e| failed(&e))?;
    tmp.persist(path).map_err(|e| failed(&e.error))?;
    Ok(())
}
