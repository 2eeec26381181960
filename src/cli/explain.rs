//! `radlens explain --model M.pt INPUT --method NAME [--slice N] [--series ID] [--target K]
//! [--seed S] [--samples N] [--batch B] --out H.npy [--overlay O.png] [--force] [--json]`: one
//! explanation map.
//!
//! INPUT as in `predict`. `H.npy` holds the raw float32 map `[rows, cols]` on the slice's grid
//! (`[H, W]` for a `.npy` model input); the overlay is the slice in the manifest's window (or its
//! own) with the map blended by the viewer's colormaps. Both are written atomically, never over a
//! file this command reads (INPUT's files, its masks, the model's), and over an existing file only
//! with `--force`. One summary line on stdout (or the provenance as JSON with `--json`); progress of
//! the long methods on stderr.

use std::cell::Cell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Result, anyhow};
use image::ImageEncoder;
use ndarray::ArrayView2;
use ndarray_npy::WriteNpyExt;

use super::args::{ExplainOptions, InputArgs, ModelArg, warn_on_modality, write_policy};
use crate::explain::{
    ExplainInput, ExplainParams, Heatmap, Method, Normalisation, Target, explain,
};
use crate::imaging::{Colormap, HeatParams, ShadeParams, Window, shade_slice};
use crate::model::Model;
use crate::output::{OutputError, WritePolicy, write_atomically};

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub model: ModelArg,
    #[command(flatten)]
    pub input: InputArgs,
    /// gradcam, gradcam++, scorecam, ig, smoothgrad, occlusion, lime, kernelshap or rollout.
    #[arg(long)]
    pub method: String,
    #[command(flatten)]
    pub options: ExplainOptions,
    /// Output .npy (float32 [rows, cols], raw values); written atomically, never over a file this
    /// command reads.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the slice with the map blended over it (PNG).
    #[arg(long)]
    pub overlay: Option<PathBuf>,
    /// Replace existing outputs (never a file this command reads).
    #[arg(long)]
    pub force: bool,
    /// Print the heatmap's provenance as JSON instead of the summary line.
    #[arg(long)]
    pub json: bool,
}

/// The slice explained, as the overlay shows it.
struct Explained<'a> {
    slice: &'a [f32],
    rows: usize,
    cols: usize,
    window: Window,
}

pub fn run(args: &ExplainArgs, out: &mut impl Write) -> Result<()> {
    let method = Method::parse(&args.method)?;
    let model = args.model.load()?;
    let unit = args.options.target.as_ref().and_then(Target::deep_unit);
    // A feature unit is pooled over the slice's ROI (its SEG / mask file), so read the masks.
    let input = args
        .input
        .read(matches!(unit, Some(crate::explain::DeepUnit::Feature(_))))?;
    warn_on_modality(&model, &input);
    let policy = write_policy(&input, Some(&model), args.force);
    // A source is refused before the (long) explanation; an existing output when it is written
    // (so a failing explanation reports its own error first).
    for path in std::iter::once(&args.out).chain(&args.overlay) {
        if policy.is_protected(path) {
            return Err(OutputError::WouldOverwriteSource { path: path.clone() }.into());
        }
    }
    let index = input.slice_index(args.input.slice)?;
    let [_, rows, cols] = input.shape;
    let tensor = input.model_input(index, &model.manifest)?;
    let explain_input = ExplainInput {
        tensor,
        source_rows: rows,
        source_cols: cols,
    };
    let mut params = args.options.params(method);
    let units;
    let model = match unit {
        Some(unit) => {
            let mask: Option<Vec<f32>> = input.masks[index]
                .as_ref()
                .map(|mask| mask.iter().map(|&m| f32::from(m)).collect());
            let k;
            (units, k) =
                crate::features::deep::unit_model(&model, unit, mask.as_deref(), rows, cols)?;
            params.target = Target::Index(k);
            &units
        }
        None => &model,
    };
    let heatmap = explain_slice(model, &explain_input, &params)?;
    write_atomically(&args.out, &policy, |file| {
        ArrayView2::from_shape((heatmap.rows, heatmap.cols), &heatmap.values)?.write_npy(file)?;
        Ok::<_, anyhow::Error>(())
    })?;
    if let Some(path) = &args.overlay {
        let explained = Explained {
            slice: input.slice(index),
            rows,
            cols,
            window: input.model_window(&model.manifest),
        };
        write_overlay(path, &explained, &heatmap, &policy)?;
    }
    let p = &heatmap.provenance;
    if args.json {
        serde_json::to_writer(&mut *out, &heatmap)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{} target {} ({}) score {:.4} elapsed {:.1} ms, {} forward passes -> {}",
            p.method,
            p.target,
            p.target_name,
            p.score,
            p.elapsed_ms,
            p.forward_passes,
            args.out.display()
        )?;
    }
    Ok(())
}

/// Runs the method with progress in 10 % steps on stderr for the long ones.
fn explain_slice(model: &Model, input: &ExplainInput, params: &ExplainParams) -> Result<Heatmap> {
    let method = params.method;
    let reported = Cell::new(0);
    let progress = |fraction: f32| {
        let tenth = (fraction * 10.0).floor() as u32;
        if method.is_long() && tenth > reported.get() && tenth < 10 {
            reported.set(tenth);
            eprintln!("radlens: {method} {}%", tenth * 10);
        }
    };
    Ok(explain(
        model,
        input,
        params,
        &progress,
        &AtomicBool::new(false),
    )?)
}

/// The slice in its window with the heatmap blended over it (half opacity, transparent below 5 %
/// of the range so the anatomy stays visible): signed maps on the diverging colormap centred on
/// zero, others on jet from their minimum to their maximum.
fn write_overlay(
    path: &Path,
    input: &Explained<'_>,
    heatmap: &Heatmap,
    policy: &WritePolicy,
) -> Result<()> {
    let signed = heatmap.provenance.signed;
    let (colormap, normalisation) = if signed {
        (Colormap::Diverging, Normalisation::MaxAbs)
    } else {
        (Colormap::Jet, Normalisation::MinMax)
    };
    let (low, high) = heatmap.display_range(normalisation);
    let params = ShadeParams {
        window: input.window,
        invert: false,
        heat: Some(HeatParams {
            low,
            high,
            threshold: 0.05,
            opacity: 0.5,
            signed,
        }),
    };
    let rgba = shade_slice(
        input.slice,
        input.cols,
        input.rows,
        Some(&heatmap.values),
        None,
        &params,
        &colormap.lut(),
    );
    let (width, height) = (
        u32::try_from(input.cols).map_err(|e| anyhow!("{e}"))?,
        u32::try_from(input.rows).map_err(|e| anyhow!("{e}"))?,
    );
    Ok(write_atomically(path, policy, |file| {
        image::codecs::png::PngEncoder::new(file).write_image(
            &rgba,
            width,
            height,
            image::ExtendedColorType::Rgba8,
        )
    })?)
}
