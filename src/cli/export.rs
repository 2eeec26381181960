//! `radlens export --model M.pt INPUT --method NAME [--slice N | --slices A..B] [--series ID]
//! [--target K] [--samples N] [--batch B]
//! (--png OUT.png | --dicom OUT.dcm | --out-dir DIR [--format png,sc,pmap,seg,sr]) [--mask MASK]
//! [--seg-heatmap] [--keep-identity] [--seed S] [--force] [--scale 1|2|4|auto] [--verdict TEXT]
//! [--note TEXT]`: the explained slice as the viewer shows it, with colorbar and legend burned
//! in, as PNG (+ `.json` sidecar) or DICOM Secondary Capture (+ sidecar), and the DICOM result
//! objects: the heatmaps as a Parametric Map, the ROI as a Segmentation, the findings as a TID
//! 1500 Structured Report; de-identified unless `--keep-identity`. An `--out-dir` export lists
//! everything it wrote in `DIR/export.json`.
//!
//! The per-slice work is [`crate::export::ExportPlan::export_slice`], the same the viewer runs.
//! One progress line per slice on stderr; all outputs are checked before anything is computed,
//! written atomically, never over an existing file without `--force`, never over a file this
//! command reads (INPUT's files and masks, the model's files).

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};

use super::args::{
    ExplainOptions, InputArgs, ModelArg, finite, fraction, model_files, positive, warn_on_modality,
    write_policy,
};
use super::evaluate::read_mask;
use crate::explain::metrics::{self, FaithfulnessParams};
use crate::explain::{ExplainParams, Method, explain_scored};
use crate::export::{
    DicomExport, Explained, ExplainedSlice, ExportError, ExportPlan, Format, LISTING_FILE, Listing,
    Pane, ResultObjects, Scale, SliceToExport, SourceImage, dicom_options, hash_files,
    map_measurements, roi_features, sidecar_path, write_result_objects,
};
use crate::imaging::{Colormap, Window};
use crate::input::{Input, Kind};
use crate::model::Model;
use crate::output::{OutputError, WritePolicy};

#[derive(Debug, clap::Args)]
#[allow(clippy::struct_excessive_bools)] // independent command-line switches
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
    /// Formats with `--out-dir`, comma-separated: png, sc (DICOM Secondary Capture; `dicom` says
    /// the same), pmap (Parametric Map of the heatmaps), seg (Segmentation of the ROI), sr
    /// (Structured Report).
    #[arg(long, default_value = "png")]
    pub format: String,
    /// The ROI for seg and sr (`.npy`, `.png` or a DICOM SEG, as `evaluate` takes it); default:
    /// the study's own SEG / `*.mask.npy`.
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// With seg: also the heatmap above `--threshold` as a FRACTIONAL Segmentation.
    #[arg(long)]
    pub seg_heatmap: bool,
    /// The reader's note, in the Structured Report.
    #[arg(long)]
    pub note: Option<String>,
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
    /// The pictures each slice is written as.
    pictures: Vec<Format>,
    results: ResultObjects,
    /// `--out-dir`, where the listing goes.
    dir: Option<PathBuf>,
    /// `(slice index, one output path per picture format)`.
    jobs: Vec<(usize, Vec<PathBuf>)>,
}

impl Plan {
    fn is_dicom(&self) -> bool {
        self.pictures.contains(&Format::Dicom) || self.results.any()
    }

    fn outputs(&self) -> Vec<PathBuf> {
        let mut outputs: Vec<PathBuf> = self.jobs.iter().flat_map(|(_, p)| p.clone()).collect();
        if let Some(dir) = &self.dir {
            outputs.extend(self.results.outputs(dir));
        }
        outputs
    }
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
    if plan.is_dicom() && input.kind != Kind::Dicom {
        bail!(
            "a DICOM export needs a DICOM source: {}",
            args.input.input.display()
        );
    }
    let mut policy = write_policy(&input, Some(&model), args.force);
    if let Some(mask) = &args.mask {
        policy.protect([mask.clone()]);
    }
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
        format: plan.pictures.first().copied().unwrap_or(Format::Png),
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
    let mut outputs = plan.outputs();
    if let Some(dir) = &plan.dir {
        outputs.push(dir.join(LISTING_FILE));
    }
    export.check(&outputs).map_err(|e| match e {
        ExportError::Output(OutputError::Exists { path }) => anyhow!(
            "output exists, left untouched (--force replaces it): {}",
            path.display()
        ),
        other => other.into(),
    })?;
    if plan.is_dicom() {
        announce_identity(args);
    }
    let mut dicom = DicomExport::new(dicom_options(&panes, args.keep_identity, args.retain_uids));
    let total = plan.jobs.len();
    let explained = write_slices(&export, &plan, args, &input, &model, &mut dicom)?;
    write_results_and_listing(&plan, args, &model, &policy, &mut dicom, &explained)?;
    writeln!(
        out,
        "exported {total} slice(s) with {} in {:.2} s",
        args.method,
        started.elapsed().as_secs_f64()
    )?;
    Ok(())
}

/// The DICOM result objects of the explained slices and the folder's `export.json`.
fn write_results_and_listing(
    plan: &Plan,
    args: &ExportArgs,
    model: &Model,
    policy: &WritePolicy,
    dicom: &mut DicomExport,
    explained: &[ExplainedSlice],
) -> Result<()> {
    let mut listing = Listing::new(!args.keep_identity);
    if let Some(dir) = &plan.dir {
        for (_, paths) in &plan.jobs {
            for (path, format) in paths.iter().zip(&plan.pictures) {
                let name = if *format == Format::Dicom {
                    "sc"
                } else {
                    "png"
                };
                listing.add(dir, path, name, None)?;
                listing.add(dir, &sidecar_path(path), "sidecar", None)?;
            }
        }
    }
    if plan.results.any() {
        let dir = plan
            .dir
            .as_deref()
            .context("result objects need --out-dir")?;
        let written = write_result_objects(
            dicom,
            dir,
            plan.results,
            explained,
            args.threshold,
            &model.manifest.name,
            policy,
        )?;
        for (format, path, instance) in &written {
            eprintln!("radlens: {format} -> {}", path.display());
            listing.add(dir, path, format, Some(instance))?;
        }
    }
    if let Some(dir) = &plan.dir {
        listing.write(dir, policy)?;
    }
    Ok(())
}

/// Explains every slice of `plan`, writes its pictures, and keeps what the result objects need;
/// one progress line per slice on stderr.
fn write_slices(
    export: &ExportPlan<'_>,
    plan: &Plan,
    args: &ExportArgs,
    input: &Input,
    model: &Model,
    dicom: &mut DicomExport,
) -> Result<Vec<ExplainedSlice>> {
    let never = AtomicBool::new(false);
    let total = plan.jobs.len();
    let [count, rows, cols] = input.shape;
    let verdict = args.verdict.as_deref();
    let mut kept = Vec::new();
    for (k, &(index, ref paths)) in plan.jobs.iter().enumerate() {
        let slice_started = Instant::now();
        let tensor = input.model_input(index, &model.manifest)?;
        let mut explain_pane = |_: &[f32], params: &ExplainParams, cancel: &AtomicBool| {
            Explained::from_scored(explain_scored(model, &tensor, [rows, cols], params, cancel))
        };
        let source = &input.slices[index];
        let mask: Option<Vec<u8>> = match &args.mask {
            Some(path) => Some(
                read_mask(path, &args.input.input, Some(index), rows, cols)?
                    .into_iter()
                    .map(u8::from)
                    .collect(),
            ),
            None => input.masks.get(index).cloned().flatten(),
        };
        let slice = SliceToExport {
            index,
            count,
            values: input.slice(index),
            rows,
            cols,
            mask: mask.as_deref(),
            source: SourceImage {
                path: source.path.clone(),
                frame: source.frame,
            },
            position_mm: source.position_mm,
        };
        let mut explained = export.explain_slice(&slice, &mut explain_pane, &never)?;
        for (path, &format) in paths.iter().zip(&plan.pictures) {
            export.write_picture(
                format,
                &slice,
                &explained,
                path,
                &|_| verdict.map(str::to_owned),
                dicom,
            )?;
        }
        if plan.results.any() {
            let first = explained.swap_remove(0);
            kept.push(keep_for_results(
                plan, args, model, input, &tensor, &slice, first,
            ));
        }
        eprintln!(
            "radlens: slice {}/{total} (index {index}) {:.1} ms{}",
            k + 1,
            slice_started.elapsed().as_secs_f64() * 1e3,
            paths.iter().fold(String::new(), |mut text, p| {
                let _ = write!(text, " -> {}", p.display());
                text
            })
        );
    }
    Ok(kept)
}

/// What the result objects need of an explained slice: its map, the metrics (deletion and
/// insertion with the model when a report is asked for), the ROI's radiomics features, the verdict
/// and note.
fn keep_for_results(
    plan: &Plan,
    args: &ExportArgs,
    model: &Model,
    input: &Input,
    tensor: &tch::Tensor,
    slice: &SliceToExport<'_>,
    first: Explained,
) -> ExplainedSlice {
    let never = AtomicBool::new(false);
    let mask = slice.mask.map(<[u8]>::to_vec);
    let index = slice.index;
    let (rows, cols) = (slice.rows, slice.cols);
    let verdict = args.verdict.as_deref();
    let faithfulness = plan.results.report.then(|| {
        metrics::deletion_insertion(
            model,
            tensor,
            &first.heatmap,
            &FaithfulnessParams::default(),
            &|_| {},
            &never,
        )
    });
    let faithfulness = match faithfulness {
        Some(Ok(f)) => Some((f.deletion.auc, f.insertion.auc)),
        Some(Err(e)) => {
            eprintln!("radlens: warning: no deletion/insertion AUC for slice {index}: {e}");
            None
        }
        None => None,
    };
    let known_verdict = verdict
        .map(|v| v.trim().to_lowercase())
        .filter(|v| ["plausible", "implausible", "unsure"].contains(&v.as_str()));
    let note = match (&known_verdict, verdict, &args.note) {
        (None, Some(v), Some(n)) => format!("verdict: {v}; {n}"),
        (None, Some(v), None) => format!("verdict: {v}"),
        (_, _, Some(n)) => n.clone(),
        _ => String::new(),
    };
    let mut measurements = map_measurements(&first.heatmap, mask.as_deref(), faithfulness);
    if let Some(mask) = mask.as_deref().filter(|_| plan.results.report) {
        match roi_features(input.slice(index), mask, rows, cols, &slice.source) {
            Ok(features) => measurements.extend(features),
            Err(e) => eprintln!("radlens: warning: slice {index}: {e}"),
        }
    }
    ExplainedSlice {
        index,
        source: slice.source.clone(),
        measurements,
        heatmap: first.heatmap,
        probability: first.probability,
        mask,
        verdict: known_verdict,
        note,
        entry_json: None,
    }
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
            pictures: vec![format],
            results: ResultObjects::default(),
            dir: None,
            jobs: vec![(indices[0], vec![path.clone()])],
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
    let (pictures, mut results) = parse_formats(&args.format)?;
    results.heatmap_segmentation = args.seg_heatmap;
    if args.seg_heatmap && !results.segmentation {
        bail!("--seg-heatmap comes with --format seg");
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the output folder: {}", dir.display()))?;
    let jobs = indices
        .into_iter()
        .map(|i| {
            (
                i,
                pictures.iter().map(|f| dir.join(f.file_name(i))).collect(),
            )
        })
        .collect();
    Ok(Plan {
        pictures,
        results,
        dir: Some(dir.clone()),
        jobs,
    })
}

/// `--format`: picture formats per slice and result objects of the whole export.
fn parse_formats(text: &str) -> Result<(Vec<Format>, ResultObjects)> {
    let mut pictures = Vec::new();
    let mut results = ResultObjects::default();
    for name in text.split(',').map(|f| f.trim().to_lowercase()) {
        match name.as_str() {
            "png" => pictures.push(Format::Png),
            "sc" | "dicom" => pictures.push(Format::Dicom),
            "pmap" => results.parametric_map = true,
            "seg" => results.segmentation = true,
            "sr" => results.report = true,
            other => bail!("unknown --format `{other}` (png, sc, pmap, seg or sr)"),
        }
    }
    pictures.dedup();
    Ok((pictures, results))
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
    fn formats_split_into_pictures_and_result_objects() {
        let (pictures, results) = parse_formats("png, SC,pmap,seg,sr").unwrap();
        assert_eq!(pictures, [Format::Png, Format::Dicom]);
        assert!(results.parametric_map && results.segmentation && results.report);
        assert!(!results.heatmap_segmentation);
        let (pictures, results) = parse_formats("pmap").unwrap();
        assert!(pictures.is_empty() && results.parametric_map && !results.report);
        assert!(parse_formats("png,tiff").is_err());
    }

    #[test]
    fn ranges_include_both_ends() {
        assert_eq!(parse_range("3..5").unwrap().collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(parse_range("0..=0").unwrap().collect::<Vec<_>>(), [0]);
        assert!(parse_range("5..3").is_err());
        assert!(parse_range("3").is_err());
    }
}
