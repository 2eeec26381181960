//! `radlens evaluate --model M.pt INPUT --methods gradcam,lime,… [--slice N] [--series ID]
//! [--target K] [--mask MASK] [--seed S] [--samples N] [--batch B] [--steps N] [--baseline blur|mean|zero] [--logit] [--top-k P]
//! [--no-randomisation] [--json]`: the quality metrics of each method's map (docs/EVALUATE.md).
//!
//! INPUT as in `predict`. Per method: sparseness, deletion/insertion AUCs (and curves in JSON),
//! the parameter randomisation check, and with `--mask` the localisation metrics; per pair of
//! methods: Spearman and top-k IoU. MASK is a DICOM SEG of INPUT's series, a `.npy` bool/uint8
//! `[rows, cols]` or `[slices, rows, cols]` (the `--slice` plane, default the middle one), or a
//! PNG (non-zero inside), on the slice's grid. A metric that is undefined for a map (a constant
//! map, an empty region…) is reported with its reason, not as a failure.

use std::fmt::Display;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, anyhow, bail};
use ndarray::{Array2, Array3};
use ndarray_npy::ReadNpyExt;

use super::args::{ExplainOptions, InputArgs, ModelArg, warn_on_modality};
use crate::dicom;
use crate::explain::metrics::{
    self, Baseline, Faithfulness, FaithfulnessParams, PointingGame, RandomisationCheck,
    RandomisationParams, ScoreKind,
};
use crate::explain::{ExplainInput, ExplainParams, Heatmap, Method, explain};
use crate::model::Model;

#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub model: ModelArg,
    /// INPUT; `--slice` is also the mask's plane.
    #[command(flatten)]
    pub input: InputArgs,
    /// Comma-separated methods: gradcam, gradcam++, scorecam, ig, smoothgrad, occlusion, lime,
    /// kernelshap.
    #[arg(long, value_delimiter = ',', default_value = "gradcam")]
    pub methods: Vec<String>,
    /// The explanation knobs; `--seed` also seeds the randomised weights, `--batch` the curves.
    #[command(flatten)]
    pub options: ExplainOptions,
    /// Region for the localisation metrics: DICOM SEG, .npy (bool/uint8) or PNG.
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Steps of the deletion/insertion curves (steps + 1 points; 1 to 10000).
    #[arg(long, default_value_t = 32, allow_negative_numbers = true, value_parser = steps)]
    pub steps: usize,
    /// What deleted pixels become: blur (Gaussian, σ = 5 input pixels), mean, or zero.
    #[arg(long, default_value = "blur")]
    pub baseline: String,
    /// Curves follow the target's logit instead of its softmax probability.
    #[arg(long)]
    pub logit: bool,
    /// Top-k percentage for the IoU of two maps, in (0, 100].
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true, value_parser = percent)]
    pub top_k: f64,
    /// Skip the model parameter randomisation check.
    #[arg(long)]
    pub no_randomisation: bool,
    /// Print the report as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

fn steps(text: &str) -> Result<usize, String> {
    match text.trim().parse::<i64>() {
        Ok(v) if (1..=10_000).contains(&v) => Ok(v as usize),
        _ => Err(format!(
            "`{}` is not a step count (1 to 10000)",
            text.trim()
        )),
    }
}

fn percent(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 100.0 => Ok(v),
        _ => Err(format!("`{}` is not a percentage in (0, 100]", text.trim())),
    }
}

/// A metric's value, or why it has none (`{"error": "…"}` in JSON).
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum Outcome<T> {
    Value(T),
    Undefined { error: String },
}

impl<T, E: Display> From<Result<T, E>> for Outcome<T> {
    fn from(result: Result<T, E>) -> Self {
        match result {
            Ok(v) => Self::Value(v),
            Err(e) => Self::Undefined {
                error: e.to_string(),
            },
        }
    }
}

impl<T> Outcome<T> {
    fn show(&self, f: impl Fn(&T) -> String) -> String {
        match self {
            Self::Value(v) => f(v),
            Self::Undefined { .. } => "n/a".to_owned(),
        }
    }
}

#[derive(Debug, serde::Serialize)]
pub struct Localisation {
    pub pointing_game: Outcome<PointingGame>,
    pub relevance_mass_accuracy: Outcome<f64>,
    pub relevance_rank_accuracy: Outcome<f64>,
}

#[derive(Debug, serde::Serialize)]
pub struct MethodReport {
    pub method: Method,
    /// The map's provenance (target, score, parameters, timing).
    pub heatmap: Heatmap,
    pub sparseness: Outcome<f64>,
    pub faithfulness: Outcome<Faithfulness>,
    pub localisation: Option<Localisation>,
    pub randomisation: Option<Outcome<RandomisationCheck>>,
}

#[derive(Debug, serde::Serialize)]
pub struct PairReport {
    pub a: Method,
    pub b: Method,
    pub spearman: Outcome<f64>,
    pub top_k_iou: Outcome<f64>,
    pub top_k_percent: f64,
}

#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub model: PathBuf,
    pub input: PathBuf,
    pub slice: Option<usize>,
    pub mask: Option<PathBuf>,
    /// Pixels inside the region.
    pub mask_pixels: Option<usize>,
    pub faithfulness_params: FaithfulnessParams,
    pub randomisation_params: RandomisationParams,
    pub methods: Vec<MethodReport>,
    pub agreement: Vec<PairReport>,
}

pub fn run(args: &EvaluateArgs, out: &mut impl Write) -> Result<()> {
    let methods = args
        .methods
        .iter()
        .filter(|m| !m.trim().is_empty())
        .map(|m| Method::parse(m))
        .collect::<Result<Vec<_>, _>>()?;
    if methods.is_empty() {
        bail!("--methods names no method (known: {})", Method::names());
    }
    let baseline = match args.baseline.to_ascii_lowercase().as_str() {
        "blur" => Baseline::default(),
        "mean" => Baseline::Mean,
        "zero" => Baseline::Constant { value: 0.0 },
        other => bail!("unknown --baseline `{other}` (blur, mean or zero)"),
    };
    let faithfulness_params = FaithfulnessParams {
        steps: args.steps,
        baseline,
        score: if args.logit {
            ScoreKind::Logit
        } else {
            ScoreKind::Probability
        },
        batch_size: args.options.batch,
    };
    let randomisation_params = RandomisationParams {
        seed: args.options.seed,
        ..RandomisationParams::default()
    };
    let model = args.model.load()?;
    let input = args.input.read(false)?;
    warn_on_modality(&model, &input);
    let index = input.slice_index(args.input.slice)?;
    let [_, rows, cols] = input.shape;
    let explain_input = ExplainInput {
        tensor: input.model_input(index, &model.manifest)?,
        source_rows: rows,
        source_cols: cols,
    };
    let mask = args
        .mask
        .as_deref()
        .map(|m| read_mask(m, &args.input.input, args.input.slice, rows, cols))
        .transpose()?;
    let mut reports = Vec::with_capacity(methods.len());
    for method in methods {
        let params = args.options.params(method);
        reports.push(evaluate_method(
            &model,
            &explain_input,
            &params,
            mask.as_deref(),
            &faithfulness_params,
            (!args.no_randomisation).then_some(&randomisation_params),
        )?);
    }
    let agreement = agreement(&reports, args.top_k);
    let report = Report {
        model: args.model.model.clone(),
        input: args.input.input.clone(),
        slice: args.input.slice,
        mask: args.mask.clone(),
        mask_pixels: mask.as_ref().map(|m| m.iter().filter(|v| **v).count()),
        faithfulness_params,
        randomisation_params,
        methods: reports,
        agreement,
    };
    if args.json {
        serde_json::to_writer(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        write_tables(&report, out)?;
    }
    Ok(())
}

/// One method's map and its metrics; only the explanation itself may fail the command.
fn evaluate_method(
    model: &Model,
    explain_input: &ExplainInput,
    params: &ExplainParams,
    mask: Option<&[bool]>,
    faithfulness_params: &FaithfulnessParams,
    randomisation_params: Option<&RandomisationParams>,
) -> Result<MethodReport> {
    let never = AtomicBool::new(false);
    let quiet = |_: f32| {};
    let heatmap = explain(model, explain_input, params, &quiet, &never)?;
    let faithfulness = metrics::deletion_insertion(
        model,
        &explain_input.tensor,
        &heatmap,
        faithfulness_params,
        &quiet,
        &never,
    );
    let localisation = mask.map(|mask| Localisation {
        pointing_game: metrics::pointing_game(&heatmap.values, mask).into(),
        relevance_mass_accuracy: metrics::relevance_mass_accuracy(&heatmap.values, mask).into(),
        relevance_rank_accuracy: metrics::relevance_rank_accuracy(&heatmap.values, mask).into(),
    });
    let randomisation = randomisation_params.map(|check| {
        metrics::randomisation_check(
            model,
            explain_input,
            params,
            &heatmap,
            check,
            &quiet,
            &never,
        )
        .into()
    });
    Ok(MethodReport {
        method: params.method,
        sparseness: metrics::sparseness(&heatmap.values).into(),
        faithfulness: faithfulness.into(),
        localisation,
        randomisation,
        heatmap,
    })
}

/// Spearman and top-k IoU for every pair of maps, in the order the methods were given.
fn agreement(reports: &[MethodReport], top_k: f64) -> Vec<PairReport> {
    let mut pairs = Vec::new();
    for (i, a) in reports.iter().enumerate() {
        for b in &reports[i + 1..] {
            let (va, vb) = (&a.heatmap.values, &b.heatmap.values);
            pairs.push(PairReport {
                a: a.method,
                b: b.method,
                spearman: metrics::spearman(va, vb).into(),
                top_k_iou: metrics::top_k_iou(va, vb, top_k).into(),
                top_k_percent: top_k,
            });
        }
    }
    pairs
}

fn write_tables(report: &Report, out: &mut impl Write) -> Result<()> {
    let score = match report.faithfulness_params.score {
        ScoreKind::Probability => "probability",
        ScoreKind::Logit => "logit",
    };
    writeln!(
        out,
        "{:<11} {:>6} {:>8} {:>10} {:>10} {:>7} {:>6} {:>6} {:>11}",
        "method",
        "target",
        "sparse",
        "deletion",
        "insertion",
        "point",
        "mass",
        "rank",
        "randomised"
    )?;
    for m in &report.methods {
        let p = &m.heatmap.provenance;
        let f3 = |v: &f64| format!("{v:.3}");
        let (deletion, insertion) = match &m.faithfulness {
            Outcome::Value(f) => (f3(&f.deletion.auc), f3(&f.insertion.auc)),
            Outcome::Undefined { .. } => ("n/a".to_owned(), "n/a".to_owned()),
        };
        let (point, mass, rank) = m.localisation.as_ref().map_or_else(
            || ("-".to_owned(), "-".to_owned(), "-".to_owned()),
            |l| {
                (
                    l.pointing_game
                        .show(|g| if g.hit { "hit" } else { "miss" }.to_owned()),
                    l.relevance_mass_accuracy.show(f3),
                    l.relevance_rank_accuracy.show(f3),
                )
            },
        );
        let randomised = m.randomisation.as_ref().map_or_else(
            || "-".to_owned(),
            |r| {
                r.show(|c| {
                    let last = c.stages.last().map_or(f64::NAN, |s| s.similarity);
                    format!("{last:.3}{}", if c.flagged { " FLAG" } else { "" })
                })
            },
        );
        writeln!(
            out,
            "{:<11} {:>6} {:>8} {:>10} {:>10} {:>7} {:>6} {:>6} {:>11}",
            m.method.name(),
            p.target,
            m.sparseness.show(f3),
            deletion,
            insertion,
            point,
            mass,
            rank,
            randomised
        )?;
    }
    writeln!(
        out,
        "deletion/insertion: AUC of the target's {score} ({} steps); randomised: Spearman of |map| \
         with the most randomised model's (FLAG: >= {})",
        report.faithfulness_params.steps, report.randomisation_params.threshold
    )?;
    if !report.agreement.is_empty() {
        writeln!(out)?;
        writeln!(out, "{:<23} {:>9} {:>10}", "pair", "spearman", "top-k IoU")?;
        for pair in &report.agreement {
            writeln!(
                out,
                "{:<23} {:>9} {:>10}",
                format!("{} / {}", pair.a, pair.b),
                pair.spearman.show(|v| format!("{v:.3}")),
                pair.top_k_iou.show(|v| format!("{v:.3}"))
            )?;
        }
    }
    Ok(())
}

/// The region on the slice's `rows × cols` grid.
pub(super) fn read_mask(
    path: &Path,
    input: &Path,
    slice: Option<usize>,
    rows: usize,
    cols: usize,
) -> Result<Vec<bool>> {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mask = match extension.as_str() {
        "npy" => npy_mask(path, slice)?,
        "png" => {
            let image = image::open(path)
                .map_err(|e| anyhow!("cannot read mask image ({e}): {}", path.display()))?
                .into_luma8();
            let (w, h) = image.dimensions();
            let values = image.into_raw().into_iter().map(|v| v != 0).collect();
            (values, h as usize, w as usize)
        }
        _ => seg_mask(path, input, slice)?,
    };
    let (values, h, w) = mask;
    if (h, w) != (rows, cols) {
        bail!(
            "mask is {h}x{w}, the slice is {rows}x{cols}: {}",
            path.display()
        );
    }
    Ok(values)
}

/// A `.npy` bool/uint8 mask, `[rows, cols]` or `[slices, rows, cols]`.
fn npy_mask(path: &Path, slice: Option<usize>) -> Result<(Vec<bool>, usize, usize)> {
    let open =
        || std::fs::File::open(path).map_err(|e| anyhow!("cannot open ({e}): {}", path.display()));
    let planes: Array3<u8> = if let Ok(a) = Array2::<u8>::read_npy(open()?) {
        a.insert_axis(ndarray::Axis(0))
    } else if let Ok(a) = Array2::<bool>::read_npy(open()?) {
        a.mapv(u8::from).insert_axis(ndarray::Axis(0))
    } else if let Ok(a) = Array3::<u8>::read_npy(open()?) {
        a
    } else {
        Array3::<bool>::read_npy(open()?)
            .map_err(|_| {
                anyhow!(
                    "not a bool/uint8 [rows, cols] or [slices, rows, cols] .npy: {}",
                    path.display()
                )
            })?
            .mapv(u8::from)
    };
    let (slices, rows, cols) = planes.dim();
    let index = if slices == 1 {
        0
    } else {
        slice.unwrap_or(slices / 2)
    };
    if index >= slices {
        bail!(
            "--slice {index} is outside the mask's {slices} planes: {}",
            path.display()
        );
    }
    let plane = planes.index_axis(ndarray::Axis(0), index);
    Ok((plane.iter().map(|&v| v != 0).collect(), rows, cols))
}

/// A DICOM SEG's segments on INPUT's slice (all segments united), matched by position.
fn seg_mask(path: &Path, input: &Path, slice: Option<usize>) -> Result<(Vec<bool>, usize, usize)> {
    let (seg, _) = dicom::load(&[path.to_owned()], None)
        .with_context(|| format!("mask not readable: {}", path.display()))?;
    if seg.modality != "SEG" {
        bail!(
            "mask is neither .npy, .png nor a DICOM SEG (modality {}): {}",
            seg.modality,
            path.display()
        );
    }
    let (target, _) = dicom::load(&[input.to_owned()], None)
        .map_err(|e| anyhow!("a SEG mask needs a DICOM INPUT ({e})"))?;
    let [slices, rows, cols] = target.shape;
    let index = slice.unwrap_or(slices / 2);
    let masks = dicom::masks_for(&target, &[seg]);
    let Some(plane) = masks.get(index) else {
        bail!("--slice {index} is outside the series: {}", input.display());
    };
    let values = plane.as_ref().map_or_else(
        || vec![false; rows * cols],
        |m| m.iter().map(|&v| v != 0).collect(),
    );
    Ok((values, rows, cols))
}
