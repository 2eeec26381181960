//! `radlens features`: handcrafted (PyRadiomics-compatible) and deep features per ROI.
//!
//! ```text
//! radlens features IMAGE --mask MASK [--label N] [--params P.yaml] [--model M.pt] [--json | --out F.csv]
//! radlens features --cohort CASES.csv --out FEATURES.csv [--params P.yaml] [--model M.pt]
//!                  [--jobs N] [--shard I/N|auto] [--resume] [--stability N [--stability-seed S]]
//! radlens features merge FEATURES.csv SHARD.csv...
//! ```
//! A cohort run that completes with failed cases (their rows carry `diagnostics_error`) exits
//! with status 2 ([`CasesFailed`]); any other error with 1.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::features::cohort::{self, Cohort, RunOptions, Shard};
use crate::features::{CaseRow, DeepInput, DeepModel, Extractor, format_value};
use crate::output::WritePolicy;
use crate::radiomics::Settings;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct FeaturesArgs {
    #[command(subcommand)]
    pub command: Option<FeaturesCommand>,
    /// Image: DICOM file or series folder, NIfTI (`.nii`, `.nii.gz`), or `.npy` `[z, y, x]`.
    #[arg(required_unless_present_any = ["cohort"], conflicts_with = "cohort")]
    pub image: Option<PathBuf>,
    /// Mask: NIfTI label map (mapped through both geometries), `.npy` on the image's voxels, or
    /// a DICOM SEG over a DICOM image (its segments as label 1).
    #[arg(long, required_unless_present_any = ["cohort"], conflicts_with = "cohort")]
    pub mask: Option<PathBuf>,
    /// The mask value of the region (default: the parameter file's `label`, else 1).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "cohort")]
    pub label: Option<u32>,
    /// A cohort in PyRadiomics' batch format: columns Image, Mask, optional Label, others
    /// copied to the output. Relative paths are relative to the file.
    #[arg(long)]
    pub cohort: Option<PathBuf>,
    /// PyRadiomics parameter file (YAML: `setting:`, `imageType:`, `featureClass:`).
    #[arg(long)]
    pub params: Option<PathBuf>,
    /// TorchScript model with a `[cam]` split: adds its `features` pooled over the ROI (and
    /// `embed`, if the model has it).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// What the model sees of each ROI slice: the whole `slice`, or a square `patch` around the ROI.
    #[arg(long, default_value = "slice", value_parser = ["slice", "patch"])]
    pub deep_input: String,
    /// Margin of `--deep-input patch` on each side, as a fraction of the ROI box's longer side.
    #[arg(long, default_value_t = 0.25, value_parser = super::args::fraction)]
    pub patch_margin: f32,
    /// ROI slices per forward pass.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub batch: u32,
    /// Voxel spacing of `.npy` images, mm: `Z,Y,X`.
    #[arg(long, value_parser = spacing)]
    pub spacing: Option<[f64; 3]>,
    /// Series id or SeriesInstanceUID when a DICOM folder holds several image series.
    #[arg(long)]
    pub series: Option<String>,
    /// Print one JSON object (single case).
    #[arg(long, conflicts_with_all = ["out", "cohort"])]
    pub json: bool,
    /// Write a CSV (one row per case); required with `--cohort`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Cases run in parallel (cohort).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: u32,
    /// Take every N-th case from I (`I/N`, 0-based), or `auto` from Slurm / Kubernetes.
    #[arg(long, value_parser = Shard::parse, requires = "cohort")]
    pub shard: Option<Shard>,
    /// Keep the cases already in `--out` (made with the same settings and model), run the rest.
    #[arg(long, requires = "cohort")]
    pub resume: bool,
    /// A binary outcome column of CASES.csv: also write `F.signatures.csv`, the cross-validated
    /// AUC (stratified 5-fold, L2 logistic regression, bootstrap 95 % CI) of the handcrafted,
    /// deep and combined features.
    #[arg(long, requires = "cohort")]
    pub outcome: Option<String>,
    /// Also extract every case on N perturbations of its image and mask (contour, translation,
    /// rotation, noise) and write each feature's ICC(1,1) to `F.stability.csv` beside `--out`
    /// `F.csv`, the perturbations used to `F.stability.json` (whole cohort: no --shard/--resume).
    #[arg(long, requires = "cohort", conflicts_with_all = ["shard", "resume"],
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub stability: Option<u32>,
    /// Seed the perturbations are drawn from (same seed, same perturbations).
    #[arg(long, requires = "stability", default_value_t = cohort::DEFAULT_STABILITY_SEED)]
    pub stability_seed: u64,
    /// Replace an existing `--out` (and its stability files) (never an input).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum FeaturesCommand {
    /// Join shard files of one cohort (same settings and model) into one CSV, in cohort order.
    Merge {
        /// The merged CSV to write.
        out: PathBuf,
        /// The shard CSVs.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Replace an existing output.
        #[arg(long)]
        force: bool,
    },
}

/// A cohort run finished, but some cases failed (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} cases failed (their rows say why in diagnostics_error): {}", out.display())]
pub struct CasesFailed {
    pub failed: usize,
    pub total: usize,
    pub out: PathBuf,
}

fn spacing(text: &str) -> Result<[f64; 3], String> {
    let parts: Vec<f64> = text
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("`{text}`: three numbers Z,Y,X (mm)"))?;
    match parts[..] {
        [z, y, x] if [z, y, x].iter().all(|v| v.is_finite() && *v > 0.0) => Ok([z, y, x]),
        _ => Err(format!("`{text}`: three positive numbers Z,Y,X (mm)")),
    }
}

pub fn run(args: &FeaturesArgs, out: &mut impl Write) -> Result<()> {
    if let Some(FeaturesCommand::Merge {
        out: path,
        shards,
        force,
    }) = &args.command
    {
        let policy = WritePolicy::protecting(shards.iter().cloned()).with_overwrite(*force);
        let rows = cohort::merge(path, shards, &policy)?;
        eprintln!(
            "merged {rows} cases from {} files into {}",
            shards.len(),
            path.display()
        );
        return Ok(());
    }
    let extractor = extractor(args)?;
    let mut policy =
        WritePolicy::protecting(args.params.iter().cloned()).with_overwrite(args.force);
    if let Some(deep) = &extractor.deep {
        let model = deep
            .model
            .lock()
            .map_err(|_| anyhow::anyhow!("model lock"))?;
        policy.protect(
            model
                .manifest
                .files(&model.path)
                .into_iter()
                .map(|(_, p)| p),
        );
    }
    if let Some(cases) = &args.cohort {
        return run_cohort(args, cases, &extractor, policy);
    }
    let (Some(image), Some(mask)) = (&args.image, &args.mask) else {
        bail!("give IMAGE and --mask, or --cohort CASES.csv");
    };
    let row = extractor.case(image, mask, args.label);
    if let Some(error) = &row.error {
        bail!("{error}");
    }
    for warning in row
        .diagnostics
        .iter()
        .filter(|(n, v)| n == "diagnostics_Warnings" && !v.is_empty())
    {
        tracing::warn!("{}", warning.1);
    }
    if args.json {
        let mut object = serde_json::Map::new();
        object.insert("image".into(), image.display().to_string().into());
        object.insert("mask".into(), mask.display().to_string().into());
        let diagnostics: serde_json::Map<String, serde_json::Value> = row
            .diagnostics
            .iter()
            .map(|(n, v)| (n.clone(), v.clone().into()))
            .collect();
        object.insert("diagnostics".into(), diagnostics.into());
        let features: serde_json::Map<String, serde_json::Value> = row
            .features
            .iter()
            .map(|(n, v)| {
                let value = serde_json::Number::from_f64(*v)
                    .map_or_else(|| format_value(*v).into(), serde_json::Value::Number);
                (n.clone(), value)
            })
            .collect();
        object.insert("features".into(), features.into());
        serde_json::to_writer(&mut *out, &object)?;
        writeln!(out)?;
        return Ok(());
    }
    if let Some(path) = &args.out {
        policy.protect(row.files.iter().cloned());
        let columns = vec!["Image".to_owned(), "Mask".to_owned()];
        let cells = vec![image.display().to_string(), mask.display().to_string()];
        let row_features = row.features.len();
        let table = cohort::table(&columns, &[(cells, row)]);
        table.write(path, &policy)?;
        eprintln!("wrote {} features: {}", row_features, path.display());
        return Ok(());
    }
    write_listing(&row, out)
}

fn write_listing(row: &CaseRow, out: &mut impl Write) -> Result<()> {
    let width = row.features.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, value) in &row.features {
        writeln!(out, "{name:<width$}  {}", format_value(*value))?;
    }
    Ok(())
}

fn extractor(args: &FeaturesArgs) -> Result<Extractor> {
    let settings = match &args.params {
        Some(path) => Settings::read(path)?,
        None => Settings::default(),
    };
    let deep = match &args.model {
        None => None,
        Some(path) => {
            let input = match args.deep_input.as_str() {
                // Through the text: 0.1 stays 0.1, not f32's 0.10000000149…
                "patch" => DeepInput::Patch {
                    margin: args.patch_margin.to_string().parse().unwrap_or(0.25),
                },
                _ => DeepInput::Slice,
            };
            Some(DeepModel::open(path, input, args.batch as usize)?)
        }
    };
    Ok(Extractor {
        settings,
        deep,
        npy_spacing: args.spacing,
        series: args.series.clone(),
    })
}

fn run_cohort(
    args: &FeaturesArgs,
    cases: &std::path::Path,
    extractor: &Extractor,
    mut policy: WritePolicy,
) -> Result<()> {
    let Some(out) = &args.out else {
        bail!("--cohort needs --out FEATURES.csv");
    };
    let cohort = Cohort::read(cases)?;
    if let Some(outcome) = &args.outcome
        && !cohort.columns.iter().any(|c| c == outcome)
    {
        bail!(
            "--outcome: no outcome column {outcome:?} in the cases file (it has {}): {}",
            cohort.columns.join(", "),
            cases.display()
        );
    }
    policy.protect(cohort.inputs());
    if !args.resume && !args.force && out.exists() {
        bail!(
            "{} exists: --resume to continue it, --force to replace it",
            out.display()
        );
    }
    let stability = args.stability.map(|count| cohort::Stability {
        count: count as usize,
        seed: args.stability_seed,
    });
    if stability.is_some() {
        let (table, sidecar) = cohort::stability_paths(out);
        for path in [&table, &sidecar] {
            // Checked before any case runs: a refused output is not found out hours later.
            if !args.force && path.exists() {
                bail!("{} exists: --force to replace it", path.display());
            }
            policy.check(path)?;
        }
    }
    let shard = args.shard.unwrap_or(Shard::ALL);
    let policy_for_derived = policy.clone();
    let progress = |line: &str| eprintln!("{line}");
    let summary = cohort::run(
        &cohort,
        extractor,
        &RunOptions {
            out,
            shard,
            resume: args.resume,
            jobs: args.jobs as usize,
            policy,
            progress: &progress,
            stability,
        },
    )?;
    eprintln!(
        "{} cases: {} extracted, {} failed, {} kept from the earlier run: {}",
        summary.total,
        summary.done - summary.failed,
        summary.failed,
        summary.skipped,
        out.display()
    );
    if let Some(outcome) = &args.outcome {
        write_signatures(out, outcome, args.force || args.resume, &policy_for_derived)?;
    }
    if stability.is_some() {
        let (table, sidecar) = cohort::stability_paths(out);
        eprintln!(
            "feature stability: {} (perturbations: {})",
            table.display(),
            sidecar.display()
        );
    }
    if summary.failed > 0 {
        return Err(CasesFailed {
            failed: summary.failed,
            total: summary.total,
            out: out.clone(),
        }
        .into());
    }
    Ok(())
}

fn write_signatures(
    out: &std::path::Path,
    outcome: &str,
    overwrite: bool,
    policy: &WritePolicy,
) -> Result<()> {
    let mut policy = policy.clone();
    policy.overwrite = overwrite;
    let results = crate::features::signatures::write_beside(out, outcome, &policy)?;
    let path = crate::features::cohort::derived_path(out, "signatures");
    eprintln!(
        "signature     features  cases  AUC (95 % CI), outcome {outcome}, stratified 5-fold CV"
    );
    for r in &results {
        eprintln!(
            "{:<12}  {:>8}  {:>5}  {:.3} ({:.3}–{:.3})",
            r.signature, r.features, r.cases, r.auc, r.ci_low, r.ci_high
        );
    }
    eprintln!("wrote {}", path.display());
    Ok(())
}
