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
use crate::imaging::{Window, percentile_window};
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
    let input = read_input(&args.input, args.slice, &model)?;
    let prediction = model.predict(&input.tensor)?;
    write_prediction(&prediction, args.json, out)
}

/// INPUT as `predict` and `explain` read it: the model input and the slice it came from.
pub(crate) struct ModelInput {
    /// `[1, C, H, W]`, preprocessed as the manifest says (`.npy`: as given).
    pub tensor: tch::Tensor,
    /// The source slice's values, row-major (`.npy`: the input's first channel).
    pub slice: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
    /// How to display the slice: the manifest's window (or clip range), else the slice's own
    /// default (DICOM header or percentiles).
    pub window: Window,
}

/// Reads INPUT: a DICOM file or series folder (`slice` in position order, default the middle),
/// a PNG/JPEG (grey 0–255), or a `.npy` float32 `[C, H, W]` model input.
pub(crate) fn read_input(path: &Path, slice: Option<usize>, model: &Model) -> Result<ModelInput> {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let (values, rows, cols, default_window) = match extension.as_str() {
        "npy" => return npy_input(path),
        "png" | "jpg" | "jpeg" => {
            let image = image::open(path)
                .map_err(|e| anyhow!("cannot read image ({e}): {}", path.display()))?
                .into_luma8();
            let (w, h) = image.dimensions();
            let values: Vec<f32> = image.into_raw().into_iter().map(f32::from).collect();
            let window = Window {
                center: 127.5,
                width: 255.0,
            };
            (values, h as usize, w as usize, window)
        }
        _ => dicom_slice(path, slice)?,
    };
    let tensor = preprocess_slice(&values, rows, cols, &model.manifest)?;
    let p = &model.manifest.preprocess;
    let window = p
        .window
        .or_else(|| {
            p.clip.map(|[lo, hi]| Window {
                center: f32::midpoint(lo, hi),
                width: hi - lo,
            })
        })
        .unwrap_or(default_window);
    Ok(ModelInput {
        tensor,
        slice: values,
        rows,
        cols,
        window,
    })
}

fn npy_input(path: &Path) -> Result<ModelInput> {
    let file =
        std::fs::File::open(path).map_err(|e| anyhow!("cannot open ({e}): {}", path.display()))?;
    let array = Array3::<f32>::read_npy(file)
        .map_err(|e| anyhow!("not a float32 [C, H, W] .npy ({e}): {}", path.display()))?;
    let &[c, h, w] = array.shape() else {
        bail!("not a [C, H, W] array: {}", path.display());
    };
    let values: Vec<f32> = array.iter().copied().collect();
    let slice = values[..h * w].to_vec();
    let window = percentile_window(slice.iter().copied()).unwrap_or(Window {
        center: 0.5,
        width: 1.0,
    });
    Ok(ModelInput {
        tensor: tch::Tensor::from_slice(&values).reshape([1, c as i64, h as i64, w as i64]),
        slice,
        rows: h,
        cols: w,
        window,
    })
}

/// One greyscale slice of a DICOM file or series: values, rows, cols, default window.
fn dicom_slice(path: &Path, slice: Option<usize>) -> Result<(Vec<f32>, usize, usize, Window)> {
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
    Ok((values, rows, cols, volume.default_window))
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
