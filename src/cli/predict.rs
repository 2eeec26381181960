//! `radlens predict --model M.pt INPUT [--slice N] [--json]`: class probabilities for one slice.
//!
//! INPUT is a DICOM file or series folder (`--slice` indexes position order, default the middle
//! slice), a PNG/JPEG (grey values 0–255), or a `.npy` float32 `[C, H, W]` taken as the model input
//! as is (no preprocessing).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use ndarray::Array3;
use ndarray_npy::ReadNpyExt;

use crate::dicom::{self, Voxels};
use crate::model::{Model, Prediction, preprocess_slice};

#[derive(Debug, clap::Args)]
pub struct PredictArgs {
    /// TorchScript model (`M.pt`, with `M.toml` beside it).
    #[arg(long)]
    pub model: PathBuf,
    /// DICOM file or folder, PNG/JPEG image, or `.npy` float32 [C, H, W] model input.
    pub input: PathBuf,
    /// Slice of a series, in position order (default: the middle one).
    #[arg(long)]
    pub slice: Option<usize>,
    /// Print `{"classes":[..],"probabilities":[..],"top":K}`.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &PredictArgs, out: &mut impl Write) -> Result<()> {
    let model = Model::load(&args.model)?;
    let extension = args
        .input
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let input = match extension.as_str() {
        "npy" => npy_input(&args.input)?,
        "png" | "jpg" | "jpeg" => {
            let image = image::open(&args.input)
                .map_err(|e| anyhow!("cannot read image ({e}): {}", args.input.display()))?
                .into_luma8();
            let (w, h) = image.dimensions();
            let values: Vec<f32> = image.into_raw().into_iter().map(f32::from).collect();
            preprocess_slice(&values, h as usize, w as usize, &model.manifest)?
        }
        _ => dicom_input(&args.input, args.slice, &model)?,
    };
    let prediction = model.predict(&input)?;
    write_prediction(&prediction, args.json, out)
}

fn npy_input(path: &Path) -> Result<tch::Tensor> {
    let file =
        std::fs::File::open(path).map_err(|e| anyhow!("cannot open ({e}): {}", path.display()))?;
    let array = Array3::<f32>::read_npy(file)
        .map_err(|e| anyhow!("not a float32 [C, H, W] .npy ({e}): {}", path.display()))?;
    let shape: Vec<i64> = array.shape().iter().map(|&d| d as i64).collect();
    let values: Vec<f32> = array.iter().copied().collect();
    Ok(tch::Tensor::from_slice(&values).reshape([1, shape[0], shape[1], shape[2]]))
}

fn dicom_input(path: &Path, slice: Option<usize>, model: &Model) -> Result<tch::Tensor> {
    let (volume, _) = dicom::load(&[path.to_owned()], None)?;
    if matches!(volume.voxels, Voxels::Rgb8(_)) {
        bail!(
            "colour images are not supported as model input: {}",
            path.display()
        );
    }
    let [slices, rows, cols] = volume.shape;
    let index = slice.unwrap_or(slices / 2);
    if index >= slices {
        bail!(
            "--slice {index} is outside the series' {slices} slices: {}",
            path.display()
        );
    }
    let mut values = vec![0.0; rows * cols];
    volume.slice_f32_into(index, &mut values);
    Ok(preprocess_slice(&values, rows, cols, &model.manifest)?)
}

fn write_prediction(prediction: &Prediction, json: bool, out: &mut impl Write) -> Result<()> {
    if json {
        serde_json::to_writer(&mut *out, prediction)?;
        writeln!(out)?;
    } else {
        for (i, (class, p)) in prediction
            .classes
            .iter()
            .zip(&prediction.probabilities)
            .enumerate()
        {
            let mark = if i == prediction.top { "*" } else { " " };
            writeln!(out, "{mark} {class:<24} {p:.4}")?;
        }
    }
    Ok(())
}
