//! `radlens explain --model M.pt INPUT --method NAME [--slice N] [--target K] [--seed S]
//! [--samples N] [--batch B] --out H.npy [--overlay O.png] [--json]`: one explanation map.
//!
//! INPUT as in `predict`. `H.npy` holds the raw float32 map `[rows, cols]` on the slice's grid
//! (`[H, W]` for a `.npy` model input); the overlay is the slice in the manifest's window (or its
//! own) with the map blended by the viewer's colormaps. Both are written atomically and never over
//! an input. One summary line on stdout (or the provenance as JSON with `--json`); progress of
//! the long methods on stderr.

use std::cell::Cell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Result, anyhow};
use image::ImageEncoder;
use ndarray::ArrayView2;
use ndarray_npy::WriteNpyExt;

use super::predict::{ModelInput, read_input};
use super::volume::{refuse_to_overwrite_input, write_atomically};
use crate::explain::{
    ExplainInput, ExplainParams, Heatmap, Method, Normalisation, Target, explain,
};
use crate::imaging::{Colormap, HeatParams, ShadeParams, shade_slice};
use crate::model::Model;

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// TorchScript model (`M.pt`, with `M.toml` beside it).
    #[arg(long)]
    pub model: PathBuf,
    /// DICOM file or folder, PNG/JPEG image, or `.npy` float32 [C, H, W] model input.
    pub input: PathBuf,
    /// gradcam, gradcam++, scorecam, ig, smoothgrad, occlusion, lime or kernelshap.
    #[arg(long)]
    pub method: String,
    /// Slice of a series, in position order (default: the middle one).
    #[arg(long)]
    pub slice: Option<usize>,
    /// Class to explain, by index or manifest name (default: the top class).
    #[arg(long)]
    pub target: Option<String>,
    /// Seed of the stochastic methods (smoothgrad, lime, kernelshap).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// IG steps, SmoothGrad noisy copies, LIME/KernelSHAP samples (default: the method's).
    #[arg(long)]
    pub samples: Option<usize>,
    /// Inputs per forward pass.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Output .npy (float32 [rows, cols], raw values); written atomically, never over an input.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the slice with the map blended over it (PNG).
    #[arg(long)]
    pub overlay: Option<PathBuf>,
    /// Print the heatmap's provenance as JSON instead of the summary line.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ExplainArgs, out: &mut impl Write) -> Result<()> {
    let method = Method::parse(&args.method)?;
    let sources = [args.input.clone(), args.model.clone()];
    refuse_to_overwrite_input(&args.out, &sources)?;
    if let Some(overlay) = &args.overlay {
        refuse_to_overwrite_input(overlay, &sources)?;
    }
    let model = Model::load(&args.model)?;
    let input = read_input(&args.input, args.slice, &model)?;
    let params = ExplainParams {
        target: args
            .target
            .as_deref()
            .map(Target::parse)
            .unwrap_or_default(),
        seed: args.seed,
        samples: args.samples,
        batch_size: args.batch,
        ..ExplainParams::new(method)
    };
    let heatmap = explain_slice(&model, &input, &params)?;
    write_atomically(&args.out, |file| {
        ArrayView2::from_shape((heatmap.rows, heatmap.cols), &heatmap.values)?.write_npy(file)?;
        Ok(())
    })?;
    if let Some(path) = &args.overlay {
        write_overlay(path, &input, &heatmap)?;
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
fn explain_slice(model: &Model, input: &ModelInput, params: &ExplainParams) -> Result<Heatmap> {
    let explain_input = ExplainInput {
        tensor: input.tensor.shallow_clone(),
        source_rows: input.rows,
        source_cols: input.cols,
    };
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
        &explain_input,
        params,
        &progress,
        &AtomicBool::new(false),
    )?)
}

/// The slice in its window with the heatmap blended over it (half opacity, transparent below 5 %
/// of the range so the anatomy stays visible): signed maps on the diverging colormap centred on
/// zero, others on jet from their minimum to their maximum.
fn write_overlay(path: &Path, input: &ModelInput, heatmap: &Heatmap) -> Result<()> {
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
        &input.slice,
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
    write_atomically(path, |file| {
        image::codecs::png::PngEncoder::new(file).write_image(
            &rgba,
            width,
            height,
            image::ExtendedColorType::Rgba8,
        )?;
        Ok(())
    })
}
