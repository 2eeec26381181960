//! `radlens predict --model M.pt INPUT [--slice N] [--series ID] [--json]`: class probabilities
//! for one slice.
//!
//! INPUT is a DICOM file or series folder (`--slice` indexes position order, default the middle
//! slice), a PNG/JPEG (grey values 0–255), or a `.npy` float32 `[C, H, W]` taken as the model input
//! as is (no preprocessing); see [`crate::input`].

use std::io::Write;

use anyhow::Result;

use super::args::{InputArgs, ModelArg, warn_on_modality};
use crate::model::Prediction;

#[derive(Debug, clap::Args)]
pub struct PredictArgs {
    #[command(flatten)]
    pub model: ModelArg,
    #[command(flatten)]
    pub input: InputArgs,
    /// Print `{"classes":[..],"probabilities":[..],"top":K,"defaulted_preprocessing":[..]}`.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &PredictArgs, out: &mut impl Write) -> Result<()> {
    let model = args.model.load()?;
    let input = args.input.read(false)?;
    warn_on_modality(&model, &input);
    let index = input.slice_index(args.input.slice)?;
    let prediction = model.predict(&input.model_input(index, &model.manifest)?)?;
    write_prediction(
        &prediction,
        &model.manifest.defaulted_preprocessing(),
        args.json,
        out,
    )
}

fn write_prediction(
    prediction: &Prediction,
    defaulted: &[&str],
    json: bool,
    out: &mut impl Write,
) -> Result<()> {
    if json {
        let mut value = serde_json::to_value(prediction)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("defaulted_preprocessing".to_owned(), defaulted.into());
        }
        serde_json::to_writer(&mut *out, &value)?;
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
