//! `radlens volume PATH... --out FILE.npy [--series ID] [--allow-gaps] [--force]`: one series as a
//! float32 `.npy` array.
//!
//! A slice that fails to decode is an error (naming the file and the cause): leaving it out would
//! shift every later slice index. `--allow-gaps` accepts the gaps and records them in
//! `FILE.npy.json` beside the volume (index in the series, file, reason).

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::Inputs;
use crate::dicom::{self, LoadControl, Volume, Voxels};
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

/// Writes `volume` as a float32 `.npy` (`[slices, rows, cols]`, colour `[.., 3]`) in 64 KiB
/// pieces: no float copy of the volume is held (a 1000-slice CT would need 1 GB for it).
fn write_f32_npy(out: &mut impl std::io::Write, volume: &Volume) -> std::io::Result<()> {
    let [slices, rows, cols] = volume.shape;
    let shape = if matches!(volume.voxels, Voxels::Rgb8(_)) {
        format!("({slices}, {rows}, {cols}, 3)")
    } else {
        format!("({slices}, {rows}, {cols})")
    };
    // NPY 1.0: magic, version, header length, then the header dict padded with spaces and ended
    // by a newline so that the data starts at a multiple of 64 bytes.
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let header_len = u16::try_from(header.len()).map_err(std::io::Error::other)?;
    out.write_all(b"\x93NUMPY\x01\x00")?;
    out.write_all(&header_len.to_le_bytes())?;
    out.write_all(header.as_bytes())?;
    // 64 KiB at a time, straight from the stored values.
    let mut bytes = Vec::with_capacity(1 << 16);
    let mut flush = |values: &mut dyn Iterator<Item = f32>| -> std::io::Result<()> {
        loop {
            bytes.clear();
            bytes.extend(values.take(1 << 14).flat_map(f32::to_le_bytes));
            if bytes.is_empty() {
                return Ok(());
            }
            out.write_all(&bytes)?;
        }
    };
    match &volume.voxels {
        Voxels::I16(v) => flush(&mut v.iter().map(|&x| f32::from(x))),
        Voxels::F32(v) => flush(&mut v.iter().copied()),
        Voxels::Rgb8(v) => flush(&mut v.iter().map(|&x| f32::from(x))),
    }
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
    write_atomically(&args.out, &policy, |file| write_f32_npy(file, &volume))?;
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
