//! `radlens export --model M.pt INPUT --method NAME [--slice N | --slices A..B] [--target K]
//! (--png OUT.png | --dicom OUT.dcm | --out-dir DIR [--format png|dicom]) [--keep-identity]
//! [--seed S] [--force] [--scale 1|2|4|auto] [--verdict TEXT]`: the explained slice as the viewer
//! shows it, with colorbar and legend burned in, as PNG (+ `.json` sidecar) or DICOM Secondary
//! Capture (+ sidecar), de-identified unless `--keep-identity`.
//!
//! One progress line per slice on stderr; all outputs are checked before anything is computed,
//! written atomically, never over an existing file without `--force`, never over a source.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};

use super::predict::read_input;
use crate::dicom::{self, LoadControl, Photometric, Voxels};
use crate::explain::{ExplainInput, ExplainParams, Heatmap, Method, Target, explain};
use crate::export::{
    DicomExport, DicomInfo, DicomOptions, DisplayedSlice, ExportError, FileHash, Legend, Scale,
    Sidecar, SourceImage, WritePolicy, annotate, derivation_description, side_by_side,
    sidecar_path, viewer_heat_params, write_png, write_sidecar,
};
use crate::imaging::{Colormap, ShadeParams, Window, percentile_window};
use crate::model::{Manifest, Model, preprocess_slice};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("destination").required(true).args(["png", "dicom", "out_dir"])))]
pub struct ExportArgs {
    /// TorchScript model (`M.pt`, with `M.toml` beside it).
    #[arg(long)]
    pub model: PathBuf,
    /// DICOM file or series folder (PNG/JPEG/.npy inputs: `--png` only).
    pub input: PathBuf,
    /// gradcam, gradcam++, scorecam, ig, smoothgrad, occlusion, lime or kernelshap; a
    /// comma-separated list exports the comparison layout (one pane per method, side by side).
    #[arg(long)]
    pub method: String,
    /// One slice, in position order (default: the middle one).
    #[arg(long, conflicts_with = "slices")]
    pub slice: Option<usize>,
    /// A range of slices `A..B`, both ends included (position order, 0-based).
    #[arg(long)]
    pub slices: Option<String>,
    /// Series id or SeriesInstanceUID when INPUT holds several image series.
    #[arg(long)]
    pub series: Option<String>,
    /// Class to explain, by index or manifest name (default: the top class).
    #[arg(long)]
    pub target: Option<String>,
    /// Write one PNG (+ OUT.png.json sidecar).
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// Write one DICOM Secondary Capture (+ OUT.dcm.json sidecar).
    #[arg(long)]
    pub dicom: Option<PathBuf>,
    /// Write one file per slice into DIR (`slice_NNN.png` or `.dcm`, each with a sidecar).
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
    /// Seed of the stochastic methods (smoothgrad, lime, kernelshap).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// IG steps, SmoothGrad noisy copies, LIME/KernelSHAP samples (default: the method's).
    #[arg(long)]
    pub samples: Option<usize>,
    /// Inputs per forward pass.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Replace existing output files (sources are never replaced).
    #[arg(long)]
    pub force: bool,
    /// Slice magnification: 1, 2, 4 or auto (×4 up to 128 px, ×2 up to 256 px).
    #[arg(long, default_value = "auto")]
    pub scale: String,
    /// Heatmap colormap: jet, inferno, viridis, hot or diverging (viewer default: jet).
    #[arg(long, default_value = "jet")]
    pub colormap: String,
    /// Heatmap threshold in [0, 1] (viewer default).
    #[arg(long, default_value_t = 0.2)]
    pub threshold: f32,
    /// Heatmap opacity in [0, 1] (viewer default).
    #[arg(long, default_value_t = 0.5)]
    pub opacity: f32,
    /// Window centre (level) of the display; default: the series' own, as the viewer opens it.
    #[arg(long)]
    pub window_center: Option<f32>,
    /// Window width of the display; default: the series' own.
    #[arg(long)]
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Png,
    Dicom,
}

/// INPUT, read once.
struct Source {
    /// `[slices, rows, cols]` greyscale values.
    values: Vec<f32>,
    shape: [usize; 3],
    /// The window the viewer opens the slice in.
    default_window: Window,
    invert: bool,
    masks: Vec<Option<Vec<u8>>>,
    /// Per slice: its file, its frame (multi-frame files), its position along the normal.
    files: Vec<(PathBuf, Option<u32>, Option<f64>)>,
    is_dicom: bool,
    /// A `.npy` INPUT is the model input as is (no preprocessing).
    model_input: Option<tch::Tensor>,
}

pub fn run(args: &ExportArgs, out: &mut impl Write) -> Result<()> {
    // One method, or several: the comparison layout, side by side in one image.
    let methods: Vec<Method> = args
        .method
        .split(',')
        .map(|m| Method::parse(m.trim()))
        .collect::<Result<_, _>>()?;
    let method = methods[0];
    let scale = Scale::parse(&args.scale)?;
    let colormap = Colormap::ALL
        .into_iter()
        .find(|c| c.name().eq_ignore_ascii_case(args.colormap.trim()))
        .ok_or_else(|| anyhow!("unknown colormap `{}`", args.colormap))?;
    if !(0.0..=1.0).contains(&args.threshold) || !(0.0..=1.0).contains(&args.opacity) {
        bail!("--threshold and --opacity must be in [0, 1]");
    }
    let started = Instant::now();
    let model = Model::load(&args.model)?;
    let source = read_source(args, &model)?;
    let plan = plan(args, &source)?;
    if plan.format == Format::Dicom && !source.is_dicom {
        bail!(
            "a DICOM export needs a DICOM source: {}",
            args.input.display()
        );
    }
    let model_files = model_files(&model);
    let policy = checked_policy(args, &source, &model_files, &plan)?;
    // Hashed once: the model does not change during an export.
    let model_hashes = model_files
        .iter()
        .map(|(role, path)| FileHash::of(path, role, true))
        .collect::<Result<Vec<_>, _>>()?;
    if plan.format == Format::Dicom {
        announce_identity(args);
    }
    let params: Vec<ExplainParams> = methods
        .iter()
        .map(|&method| ExplainParams {
            target: args
                .target
                .as_deref()
                .map(Target::parse)
                .unwrap_or_default(),
            seed: args.seed,
            samples: args.samples,
            batch_size: args.batch,
            ..ExplainParams::new(method)
        })
        .collect();
    let mut dicom = DicomExport::new(DicomOptions {
        keep_identity: args.keep_identity,
        retain_uids: args.retain_uids,
        series_description: format!("radlens {method}"),
        ..DicomOptions::default()
    });
    let exporter = SliceExporter {
        args,
        model: &model,
        model_hashes: &model_hashes,
        source: &source,
        params: &params,
        colormap,
        scale,
        policy: &policy,
    };
    let total = plan.jobs.len();
    for (k, (index, path)) in plan.jobs.iter().enumerate() {
        let slice_started = Instant::now();
        exporter.export_slice(*index, path, plan.format, &mut dicom)?;
        eprintln!(
            "radlens: slice {}/{total} (index {index}) {:.1} ms -> {}",
            k + 1,
            slice_started.elapsed().as_secs_f64() * 1e3,
            path.display()
        );
    }
    writeln!(
        out,
        "exported {total} slice(s) with {} in {:.2} s",
        args.method,
        started.elapsed().as_secs_f64()
    )?;
    Ok(())
}

/// Protects every source; fails before any work when an output may not be written.
fn checked_policy(
    args: &ExportArgs,
    source: &Source,
    model_files: &[(&'static str, PathBuf)],
    plan: &Plan,
) -> Result<WritePolicy> {
    let mut protected: Vec<PathBuf> = source.files.iter().map(|f| f.0.clone()).collect();
    protected.push(args.input.clone());
    protected.extend(model_files.iter().map(|(_, p)| p.clone()));
    let policy = WritePolicy {
        overwrite: args.force,
        protected,
    };
    for path in plan
        .jobs
        .iter()
        .flat_map(|(_, p)| [p.clone(), sidecar_path(p)])
    {
        match policy.check(&path) {
            Err(ExportError::Exists { path }) => bail!(
                "output exists, left untouched (--force replaces it): {}",
                path.display()
            ),
            other => other?,
        }
    }
    Ok(policy)
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

/// What every slice's export needs.
struct SliceExporter<'a> {
    args: &'a ExportArgs,
    model: &'a Model,
    model_hashes: &'a [FileHash],
    source: &'a Source,
    /// One per pane (several: the comparison layout).
    params: &'a [ExplainParams],
    colormap: Colormap,
    scale: Scale,
    policy: &'a WritePolicy,
}

impl SliceExporter<'_> {
    #[allow(clippy::too_many_lines)] // one slice: explain per pane, compose, write, describe
    fn export_slice(
        &self,
        index: usize,
        path: &Path,
        format: Format,
        dicom: &mut DicomExport,
    ) -> Result<()> {
        let [slices, rows, cols] = self.source.shape;
        let plane = rows * cols;
        let values = &self.source.values[index * plane..(index + 1) * plane];
        let tensor = match &self.source.model_input {
            Some(tensor) => tensor.shallow_clone(),
            None => preprocess_slice(values, rows, cols, &self.model.manifest)?,
        };
        let prediction = self.model.predict(&tensor)?;
        let heatmaps: Vec<Heatmap> = self
            .params
            .iter()
            .map(|params| self.explain(&tensor, rows, cols, params))
            .collect::<Result<_>>()?;
        let (file, frame, position_mm) = &self.source.files[index];
        let mut images = Vec::new();
        let mut first = None;
        for heatmap in &heatmaps {
            let probability = prediction
                .probabilities
                .get(heatmap.provenance.target)
                .copied();
            let shade = ShadeParams {
                window: Window {
                    center: self
                        .args
                        .window_center
                        .unwrap_or(self.source.default_window.center),
                    width: self
                        .args
                        .window_width
                        .unwrap_or(self.source.default_window.width),
                },
                invert: self.source.invert,
                heat: Some(viewer_heat_params(
                    heatmap,
                    self.args.threshold,
                    self.args.opacity,
                )),
            };
            let slice = DisplayedSlice {
                values,
                rows,
                cols,
                shade,
                colormap: self.colormap,
                heat: Some(&heatmap.values),
                mask: self.source.masks.get(index).and_then(Option::as_deref),
            };
            let legend = Legend {
                slice: Some((index, slices)),
                position_mm: *position_mm,
                verdict: self.args.verdict.clone(),
                ..Legend::for_heatmap(heatmap, probability)
            };
            images.push(annotate(&slice, &legend, self.scale)?);
            first.get_or_insert((slice, legend, probability));
        }
        let (slice, legend, _) = first.ok_or_else(|| anyhow!("no method to export"))?;
        let heatmap = &heatmaps[0];
        let image = side_by_side(images)?;
        let format_name = if format == Format::Png {
            "png"
        } else {
            "dicom"
        };
        let mut sidecar = Sidecar::describe(format_name, &image, &slice, &legend)
            .with_explanation(heatmap, &self.params[0])
            .with_inputs(std::slice::from_ref(file))?;
        sidecar.model = self.model_hashes.to_vec();
        if heatmaps.len() > 1 {
            sidecar.layout = heatmaps
                .iter()
                .zip(self.params)
                .map(|(h, params)| {
                    serde_json::json!({
                        "explanation": h.provenance,
                        "explain_params": params,
                        "probability": prediction.probabilities.get(h.provenance.target),
                    })
                })
                .collect();
        }
        match format {
            Format::Png => write_png(path, &image, self.policy)?,
            Format::Dicom => {
                let derivation =
                    derivation_description(Some(&heatmap.provenance), &slice.shade, self.colormap);
                let source = SourceImage {
                    path: file.clone(),
                    frame: *frame,
                };
                let written = dicom.write(
                    path,
                    &image,
                    &source,
                    &derivation,
                    u32::try_from(index + 1).unwrap_or(u32::MAX),
                    self.policy,
                )?;
                sidecar.dicom = Some(DicomInfo {
                    sop_instance_uid: written.sop_instance_uid,
                    series_instance_uid: written.series_instance_uid,
                    deidentified: written.deidentified,
                });
            }
        }
        write_sidecar(&sidecar_path(path), &sidecar, self.policy)?;
        Ok(())
    }

    fn explain(
        &self,
        tensor: &tch::Tensor,
        rows: usize,
        cols: usize,
        params: &ExplainParams,
    ) -> Result<Heatmap> {
        let input = ExplainInput {
            tensor: tensor.shallow_clone(),
            source_rows: rows,
            source_cols: cols,
        };
        Ok(explain(
            self.model,
            &input,
            params,
            &|_| {},
            &AtomicBool::new(false),
        )?)
    }
}

/// Reads INPUT: a DICOM series (all slices, masks from its SEG objects and `*.mask.npy`), or one
/// PNG/JPEG/`.npy` image.
fn read_source(args: &ExportArgs, model: &Model) -> Result<Source> {
    let extension = args
        .input
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if matches!(extension.as_str(), "png" | "jpg" | "jpeg" | "npy") {
        let input = read_input(&args.input, None, model)?;
        // As displayed: grey 0–255 for images, the robust range for a tensor.
        let default_window = if extension == "npy" {
            percentile_window(input.slice.iter().copied()).unwrap_or(input.window)
        } else {
            Window {
                center: 127.5,
                width: 255.0,
            }
        };
        return Ok(Source {
            default_window,
            model_input: (extension == "npy").then(|| input.tensor.shallow_clone()),
            shape: [1, input.rows, input.cols],
            values: input.slice,
            invert: false,
            masks: vec![None],
            files: vec![(args.input.clone(), None, None)],
            is_dicom: false,
        });
    }
    let paths = [args.input.clone()];
    let report = dicom::scan(&paths)?;
    // Without --series, the one image series (the SEG objects beside it are its ROIs).
    let images: Vec<&dicom::Series> = report
        .series
        .iter()
        .filter(|s| s.modality() != "SEG")
        .collect();
    let series = match (args.series.as_deref(), images.as_slice()) {
        (None, [only]) => *only,
        (wanted, _) => dicom::select_series(&report, wanted, &paths)?,
    };
    let volume = dicom::load_series(series, &LoadControl::default())?;
    if matches!(volume.voxels, Voxels::Rgb8(_)) {
        bail!(
            "colour images are not supported as model input: {}",
            args.input.display()
        );
    }
    let segmentations: Vec<dicom::Volume> = dicom::segmentations_for(series, &report.series)
        .into_iter()
        .filter_map(
            |seg| match dicom::load_series(seg, &LoadControl::default()) {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::warn!("segmentation not drawn: {e}");
                    None
                }
            },
        )
        .collect();
    let mut masks = dicom::masks_for(&volume, &segmentations);
    for warning in dicom::add_mask_files(&volume, &mut masks) {
        tracing::warn!("{warning}");
    }
    let normal = volume.geometry.slice_direction;
    let files = volume
        .slices
        .iter()
        .map(|s| {
            let multi_frame = volume.slices.iter().filter(|o| o.path == s.path).count() > 1;
            let position = s
                .position_mm
                .map(|p| p.iter().zip(normal).map(|(a, b)| a * b).sum::<f64>());
            (s.path.clone(), multi_frame.then_some(s.frame + 1), position)
        })
        .collect();
    Ok(Source {
        values: volume.to_f32_vec(),
        shape: volume.shape,
        default_window: volume.default_window,
        invert: volume.photometric == Photometric::Monochrome1,
        masks,
        files,
        is_dicom: true,
        model_input: None,
    })
}

/// The slices and output paths the arguments ask for.
fn plan(args: &ExportArgs, source: &Source) -> Result<Plan> {
    let slices = source.shape[0];
    let indices: Vec<usize> = match (&args.slices, args.slice) {
        (Some(range), _) => parse_range(range)?.collect(),
        (None, Some(index)) => vec![index],
        (None, None) => vec![slices / 2],
    };
    if let Some(bad) = indices.iter().find(|&&i| i >= slices) {
        bail!(
            "slice {bad} is outside the series' {slices} slices (0..{}): {}",
            slices.saturating_sub(1),
            args.input.display()
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
    let (format, extension) = if args.format == "dicom" {
        (Format::Dicom, "dcm")
    } else {
        (Format::Png, "png")
    };
    let jobs = indices
        .into_iter()
        .map(|i| (i, dir.join(format!("slice_{i:03}.{extension}"))))
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

/// The model's files with their roles: TorchScript, manifest, and the CAM split if any.
fn model_files(model: &Model) -> Vec<(&'static str, PathBuf)> {
    let mut files = vec![
        ("model", model.path.clone()),
        ("manifest", Manifest::path_for(&model.path)),
    ];
    if let Some(cam) = &model.manifest.cam {
        let dir = model.path.parent().unwrap_or(Path::new("."));
        files.push(("cam_features", dir.join(&cam.features)));
        files.push(("cam_head", dir.join(&cam.head)));
    }
    files
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
