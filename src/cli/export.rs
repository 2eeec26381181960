//! `radlens export --model M.pt INPUT --method NAME [--slice N | --slices A..B] [--series ID]
//! [--target K] [--samples N] [--batch B]
//! (--png OUT.png | --dicom OUT.dcm | --out-dir DIR [--format png|dicom]) [--keep-identity]
//! [--seed S] [--force] [--scale 1|2|4|auto] [--verdict TEXT]`: the explained slice as the viewer
//! shows it, with colorbar and legend burned in, as PNG (+ `.json` sidecar) or DICOM Secondary
//! Capture (+ sidecar), de-identified unless `--keep-identity`.
//!
//! The per-slice work is [`crate::export::ExportPlan::export_slice`], the same the viewer runs.
//! One progress line per slice on stderr; all outputs are checked before anything is computed,
//! written atomically, never over an existing file without `--force`, never over a file this
//! command reads (INPUT's files and masks, the model's files).

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};

use super::args::{
    ExplainOptions, InputArgs, ModelArg, finite, fraction, model_files, positive, warn_on_modality,
    write_policy,
};
use crate::explain::{ExplainParams, Method, explain_scored};
use crate::export::{
    DicomExport, Explained, ExportError, ExportPlan, Format, Pane, Scale, SliceToExport,
    SourceImage, dicom_options, hash_files,
};
use crate::imaging::{Colormap, Window};
use crate::input::{Input, Kind};
use crate::model::Model;
use crate::output::OutputError;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("destination").required(true).args(["png", "dicom", "out_dir"])))]
pub struct ExportArgs {
    #[command(flatten)]
    pub model: ModelArg,
    /// INPUT (a DICOM file or series folder; PNG/JPEG/.npy inputs: `--png` only) and the one
    /// slice to export (default: the middle one).
    #[command(flatten)]
    pub input: InputArgs,
    /// gradcam, gradcam++, scorecam, ig, smoothgrad, occlusion, lime, kernelshap or rollout; a
    /// comma-separated list exports the comparison layout (one pane per method, side by side).
    #[arg(long)]
    pub method: String,
    /// A range of slices `A..B`, both ends included (position order, 0-based).
    #[arg(long, conflicts_with = "slice")]
    pub slices: Option<String>,
    #[command(flatten)]
    pub options: ExplainOptions,
    /// Write one PNG (+ OUT.png.json sidecar).
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// Write one DICOM Secondary Capture (+ OUT.dcm.json sidecar).
    #[arg(long)]
    pub dicom: Option<PathBuf>,
    /// Write one file per slice into DIR (`slice_NNN.png` or `.dcm`, NNN the 0-based slice index,
    /// each with a sidecar).
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// File format with `--out-dir`.
    #[arg(long, value_parser = ["png", "dicom"], default_value = "png")]
    pub format: String,
    /// Copy patient identity into DICOM exports (in-house PACS only); default: de-identify.
    #[arg(long)]
    pub keep_identity: bool,
    /// De-identify but keep UIDs (PS3.15 Retain UIDs Option): the export references the source.
    #[arg(long)]
    pub retain_uids: bool,
    /// Replace existing output files (never a file this command reads).
    #[arg(long)]
    pub force: bool,
    /// Slice magnification: 1, 2, 4 or auto (×4 up to 128 px, ×2 up to 256 px).
    #[arg(long, default_value = "auto")]
    pub scale: String,
    /// Heatmap colormap: jet, inferno, viridis, hot or diverging (viewer default: jet).
    #[arg(long, default_value = "jet")]
    pub colormap: String,
    /// Heatmap threshold in [0, 1] (viewer default).
    #[arg(long, default_value_t = 0.2, value_parser = fraction)]
    pub threshold: f32,
    /// Heatmap opacity in [0, 1] (viewer default).
    #[arg(long, default_value_t = 0.5, value_parser = fraction)]
    pub opacity: f32,
    /// Window centre (level) of the display, may be negative (lung: -600); default: the series'
    /// own, as the viewer opens it.
    #[arg(long, allow_negative_numbers = true, value_parser = finite)]
    pub window_center: Option<f32>,
    /// Window width of the display (> 0); default: the series' own.
    #[arg(long, allow_negative_numbers = true, value_parser = positive)]
    pub window_width: Option<f32>,
    /// The reader's verdict, printed in the legend.
    #[arg(long)]
    pub verdict: Option<String>,
}

/// The slices to export and where each goes.
struct Plan {
    format: Format,
    /// `(slice index, output path)`.
    jobs: Vec<(usize, PathBuf)>,
}

pub fn run(args: &ExportArgs, out: &mut impl Write) -> Result<()> {
    // One method, or several: the comparison layout, side by side in one image.
    let methods: Vec<Method> = args
        .method
        .split(',')
        .map(|m| Method::parse(m.trim()))
        .collect::<Result<_, _>>()?;
    let scale = Scale::parse(&args.scale)?;
    let colormap = Colormap::ALL
        .into_iter()
        .find(|c| c.name().eq_ignore_ascii_case(args.colormap.trim()))
        .ok_or_else(|| anyhow!("unknown colormap `{}`", args.colormap))?;
    let started = Instant::now();
    let model = args.model.load()?;
    let input = args.input.read(true)?;
    warn_on_modality(&model, &input);
    let plan = plan(args, &input)?;
    if plan.format == Format::Dicom && input.kind != Kind::Dicom {
        bail!(
            "a DICOM export needs a DICOM source: {}",
            args.input.input.display()
        );
    }
    let policy = write_policy(&input, Some(&model), args.force);
    let panes: Vec<Pane> = methods
        .iter()
        .map(|&method| Pane {
            params: args.options.params(method),
            colormap,
            threshold: args.threshold,
            opacity: args.opacity,
        })
        .collect();
    // Hashed once: the model does not change during an export.
    let model_hashes = hash_files(&model_files(&model))?;
    let export = ExportPlan {
        format: plan.format,
        scale,
        window: Window {
            center: args.window_center.unwrap_or(input.default_window.center),
            width: args.window_width.unwrap_or(input.default_window.width),
        },
        invert: input.invert,
        panes: &panes,
        model_files: &model_hashes,
        policy: &policy,
    };
    let outputs: Vec<PathBuf> = plan.jobs.iter().map(|(_, p)| p.clone()).collect();
    export.check(&outputs).map_err(|e| match e {
        ExportError::Output(OutputError::Exists { path }) => anyhow!(
            "output exists, left untouched (--force replaces it): {}",
            path.display()
        ),
        other => other.into(),
    })?;
    if plan.format == Format::Dicom {
        announce_identity(args);
    }
    let mut dicom = DicomExport::new(dicom_options(&panes, args.keep_identity, args.retain_uids));
    let total = plan.jobs.len();
    write_slices(
        &export,
        &plan,
        &input,
        &model,
        args.verdict.as_deref(),
        &mut dicom,
    )?;
    writeln!(
        out,
        "exported {total} slice(s) with {} in {:.2} s",
        args.method,
        started.elapsed().as_secs_f64()
    )?;
    Ok(())
}

/// Explains, draws and writes every slice of `plan`, one progress line each on stderr.
fn write_slices(
    export: &ExportPlan<'_>,
    plan: &Plan,
    input: &Input,
    model: &Model,
    verdict: Option<&str>,
    dicom: &mut DicomExport,
) -> Result<()> {
    let never = AtomicBool::new(false);
    let total = plan.jobs.len();
    let [count, rows, cols] = input.shape;
    for (k, &(index, ref path)) in plan.jobs.iter().enumerate() {
        let slice_started = Instant::now();
        let tensor = input.model_input(index, &model.manifest)?;
        let mut explain_pane = |_: &[f32], params: &ExplainParams, cancel: &AtomicBool| {
            Explained::from_scored(explain_scored(model, &tensor, [rows, cols], params, cancel))
        };
        let source = &input.slices[index];
        let slice = SliceToExport {
            index,
            count,
            values: input.slice(index),
            rows,
            cols,
            mask: input.masks.get(index).and_then(Option::as_deref),
            source: SourceImage {
                path: source.path.clone(),
                frame: source.frame,
            },
            position_mm: source.position_mm,
        };
        export.export_slice(
            &slice,
            path,
            &mut explain_pane,
            &|_| verdict.map(str::to_owned),
            dicom,
            &never,
        )?;
        eprintln!(
            "radlens: slice {}/{total} (index {index}) {:.1} ms -> {}",
            k + 1,
            slice_started.elapsed().as_secs_f64() * 1e3,
            path.display()
        );
    }
    Ok(())
}

/// One stderr line saying what happens to patient identity in a DICOM export.
fn announce_identity(args: &ExportArgs) {
    if args.keep_identity {
        eprintln!(
            "radlens: warning: --keep-identity: patient name, ID, dates and institution are \
             copied into the DICOM export; use it only for an in-house PACS"
        );
    } else {
        let option = if args.retain_uids {
            ", Retain UIDs Option"
        } else {
            ""
        };
        eprintln!(
            "radlens: de-identifying (PS3.15 Basic Application Level Confidentiality Profile{option})"
        );
    }
}

/// The slices and output paths the arguments ask for.
fn plan(args: &ExportArgs, input: &Input) -> Result<Plan> {
    let slices = input.shape[0];
    let indices: Vec<usize> = match (&args.slices, args.input.slice) {
        (Some(range), _) => parse_range(range)?.collect(),
        (None, Some(index)) => vec![index],
        (None, None) => vec![slices / 2],
    };
    if let Some(bad) = indices.iter().find(|&&i| i >= slices) {
        bail!(
            "slice {bad} is outside the series' {slices} slices (0..{}): {}",
            slices.saturating_sub(1),
            args.input.input.display()
        );
    }
    let single = |path: &PathBuf, format| -> Result<Plan> {
        if indices.len() != 1 {
            bail!("--png/--dicom write one slice; use --out-dir for a range");
        }
        Ok(Plan {
            format,
            jobs: vec![(indices[0], path.clone())],
        })
    };
    if let Some(path) = &args.png {
        return single(path, Format::Png);
    }
    if let Some(path) = &args.dicom {
        return single(path, Format::Dicom);
    }
    let Some(dir) = &args.out_dir else {
        bail!("one of --png, --dicom or --out-dir is needed");
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the output folder: {}", dir.display()))?;
    let format = if args.format == "dicom" {
        Format::Dicom
    } else {
        Format::Png
    };
    let jobs = indices
        .into_iter()
        .map(|i| (i, dir.join(format.file_name(i))))
        .collect();
    Ok(Plan { format, jobs })
}

/// `A..B` (or `A..=B`), both ends included.
fn parse_range(text: &str) -> Result<std::ops::RangeInclusive<usize>> {
    let bad = || anyhow!("--slices takes A..B (both included), not `{text}`");
    let (a, b) = text.trim().split_once("..").ok_or_else(bad)?;
    let b = b.strip_prefix('=').unwrap_or(b);
    let (a, b): (usize, usize) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a > b {
        return Err(bad());
    }
    Ok(a..=b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_include_both_ends() {
        assert_eq!(parse_range("3..5").unwrap().collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(parse_range("0..=0").unwrap().collect::<Vec<_>>(), [0]);
        assert!(parse_range("5..3").is_err());
        assert!(parse_range("3").is_err());
    }
}
