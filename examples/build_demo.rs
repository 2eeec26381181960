//! Builds radlens' demo model and demo study from `../shared/data`, reproducibly (fixed seeds):
//!
//! ```text
//! cargo run --release --example build_demo -- [--data ../shared/data] [--out assets/demo] [--steps 2000]
//! ```
//!
//! 1. Trains a small CNN (lesion present vs absent, 1×128×128, CT window 40/400) with tch on real
//!    slices from permissively licensed series into which synthetic lesions are inserted
//!    (`radlens::training`), on the CPU.
//! 2. Measures it on held-out series never seen in training (`training::HELD_OUT`).
//! 3. Exports TorchScript by tracing: `lesion.pt` (forward), `lesion.features.pt` and
//!    `lesion.head.pt` (tch traces one function per module), and writes `lesion.toml` with the
//!    held-out metrics.
//! 4. Writes the demo study: the abdominal CT with new inserted lesions as new DICOM instances
//!    (new UIDs, DERIVED), and their ground-truth mask as `lesions.mask.npy`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use radlens::imaging::{Lesion, LesionRanges};
use radlens::model::Manifest;
use radlens::training;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::nn::{self, ModuleT, OptimizerConfig};
use tch::{Device, Kind, Tensor};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "../shared/data")]
    data: PathBuf,
    #[arg(long, default_value = "assets/demo")]
    out: PathBuf,
    #[arg(long, default_value_t = 2000)]
    steps: usize,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Only write this many training inputs as PNGs into `--out` (to look at them), then stop.
    #[arg(long)]
    dump: Option<usize>,
}

const MODEL_NAME: &str = "lesion";

/// The feature grid (input 128 / 4): one cell is 16 pixels of a 512² slice, ~11 mm at CT's usual
/// spacing, finer than the smallest lesion (15 mm), so a map on it can point inside a lesion.
const GRID: i64 = 32;

fn manifest_text(metrics: &str, sha256: &str) -> String {
    format!(
        r#"name = "radlens demo: lesion present vs absent (CT, 128x128)"
classes = ["absent", "present"]
description = """A small CNN (4 conv blocks, a 1x1-conv lesion map, max pooling) that says whether a \
CT slice shows a focal soft-tissue lesion. Trained on synthetic lesions inserted into real slices; \
a demonstration of radlens, not a clinical tool."""
modality = "CT"
sha256 = {{ {sha256} }}

[input]
channels = 1
height = 128
width = 128

[preprocess]
window = {{ center = 40.0, width = 400.0 }}
mean = [0.5]
std = [0.25]

[cam]
features = "{MODEL_NAME}.features.pt"
head = "{MODEL_NAME}.head.pt"

[provenance]
training_data = "Real slices of permissively licensed series in radlens' shared test data (CT: the 3 abdominal slices of dcmqi ct-3slice, which the demo study is also made from; MR mapped to pseudo-HU: brain T1, prostate ADC, dcm_qa_ts, pylibjpeg-data) with synthetic lesions (15-40 mm, 50-150 HU from the tissue, irregular, soft-edged, textured) inserted; held out: the head CT of pylibjpeg-data TOSHIBA and pydicom-data enhanced CT, and mr_4sl_jpeg_lossless. Built by `cargo run --release --example build_demo`."
licence = "Same as radlens (weights); training images keep their licences, see assets/README.md"
metrics = {{ {metrics} }}
"#
    )
}

/// `features` (4 conv blocks, two max-pools → [N, 64, 32, 32]) and `head` (a 1×1 conv lesion map, its maximum
/// `z`, logits `[-z/2, z/2]`).
struct Net {
    features: nn::SequentialT,
    /// A 1×1 conv on the features: the lesion evidence per cell. Supervised densely with the exact
    /// masks during training and pooled (max) into the classification, so the map the classifier
    /// reads is the map that finds lesions — and Grad-CAM, whose weights are the spatial mean of the
    /// gradients, recovers it exactly (up to a positive factor) for any such pooling.
    locate: nn::Conv2D,
}

impl Net {
    fn new(vs: &nn::Path) -> Self {
        let block = |p: nn::Path, cin: i64, cout: i64| {
            let conv = nn::ConvConfig {
                padding: 1,
                ..Default::default()
            };
            nn::seq_t()
                .add(nn::conv2d(&p / "conv", cin, cout, 3, conv))
                .add(nn::batch_norm2d(
                    &p / "bn",
                    cout,
                    nn::BatchNormConfig::default(),
                ))
                .add_fn(Tensor::relu)
        };
        let features = nn::seq_t()
            .add(block(vs / "b1", 1, 16))
            .add_fn(|x| x.max_pool2d_default(2))
            .add(block(vs / "b2", 16, 32))
            .add_fn(|x| x.max_pool2d_default(2))
            .add(block(vs / "b3", 32, 64))
            .add(block(vs / "b4", 64, 64));
        let locate = nn::conv2d(vs / "locate", 64, 1, 1, nn::ConvConfig::default());
        Self { features, locate }
    }

    fn features(&self, x: &Tensor, train: bool) -> Tensor {
        self.features.forward_t(x, train)
    }

    /// The lesion map's maximum `z` as the evidence for "present", `-z` for "absent" (halved, so
    /// that the softmax is the sigmoid of `z`). Neither class has a constant share of the features,
    /// which a free linear head would be allowed to carry and Grad-CAM would show.
    fn head(&self, a: &Tensor) -> Tensor {
        let z = self.lesion_map(a).amax([1, 2, 3].as_slice(), false) * 0.5;
        Tensor::stack(&[-&z, z], 1)
    }

    /// Lesion evidence per feature cell, `[N, 1, h, w]` (logits).
    fn lesion_map(&self, a: &Tensor) -> Tensor {
        a.apply(&self.locate)
    }

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        self.head(&self.features(x, train))
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    tch::manual_seed(args.seed as i64);
    let manifest = Manifest::parse(&manifest_text("", "")).map_err(anyhow::Error::msg)?;
    let train_slices = training::load_slices(&args.data, &training::TRAINING)?;
    let held_slices = training::load_slices(&args.data, &training::HELD_OUT)?;
    for source in training::TRAINING.iter().chain(&training::HELD_OUT) {
        let count = train_slices
            .iter()
            .chain(&held_slices)
            .filter(|s| s.source.starts_with(source.relpath))
            .count();
        println!("  {count:>3} slices from {}", source.relpath);
    }
    println!(
        "training on {} slices, holding out {} slices",
        train_slices.len(),
        held_slices.len()
    );

    if let Some(n) = args.dump {
        std::fs::create_dir_all(&args.out)?;
        let batch = training::batch(args.seed, n, &train_slices, &manifest, 1.0, GRID)?;
        let (x, y) = (batch.inputs, batch.labels);
        for i in 0..n {
            let v = Vec::<f32>::try_from(&(x.get(i as i64) * 0.25 + 0.5).flatten(0, -1))?;
            let grey: Vec<u8> = v
                .iter()
                .map(|p| (p.clamp(0.0, 1.0) * 255.0) as u8)
                .collect();
            let label = y.int64_value(&[i as i64]);
            image::GrayImage::from_raw(128, 128, grey)
                .context("image size")?
                .save(args.out.join(format!("sample{i:02}_label{label}.png")))?;
        }
        return Ok(());
    }

    let vs = nn::VarStore::new(Device::Cpu);
    let net = Net::new(&vs.root());
    let mut opt = nn::Adam::default().build(&vs, 2e-3)?;
    let started = Instant::now();
    let mut running = 0.0;
    for step in 0..args.steps {
        if step == args.steps * 6 / 10 {
            opt.set_lr(5e-4);
        }
        if step == args.steps * 9 / 10 {
            opt.set_lr(1e-4);
        }
        let seed = args.seed * 1_000_000_007 + step as u64;
        // Curriculum: lesion contrast ×2 at the start, realistic (×1) from 40 % of the steps on.
        let boost = 1.0 + (1.0 - step as f32 / (args.steps as f32 * 0.4)).max(0.0);
        let batch = training::batch(seed, args.batch, &train_slices, &manifest, boost, GRID)?;
        let a = net.features(&batch.inputs, true);
        let classification = net.head(&a).cross_entropy_for_logits(&batch.labels);
        let location = net
            .lesion_map(&a)
            .binary_cross_entropy_with_logits::<Tensor>(
                &training::centre_target(&batch.coverage, GRID),
                None,
                Some(Tensor::from(8.0f32)),
                tch::Reduction::Mean,
            );
        let loss = &classification + 0.5 * &location;
        opt.backward_step(&loss);
        running = 0.95 * running + 0.05 * classification.double_value(&[]);
        if step % 50 == 49 {
            println!(
                "step {:>5}/{}  classification loss {running:.4}  {:.0} s",
                step + 1,
                args.steps,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let training_seconds = started.elapsed().as_secs_f64();

    let (auc, accuracy, ct_auc) =
        training::held_out_metrics(&|x| net.forward(x, false), &held_slices, &manifest)?;
    println!("held out: AUC {auc:.4}, accuracy {accuracy:.4}, CT-only AUC {ct_auc:.4}");

    let model_dir = args.out.join("model");
    std::fs::create_dir_all(&model_dir)?;
    let mut vs = vs;
    vs.freeze();
    export(&net, &model_dir)?;
    let metrics = format!(
        "held_out_auc = {auc:.4}, held_out_accuracy = {accuracy:.4}, held_out_ct_auc = {ct_auc:.4}, \
         held_out_samples = {}, held_out_seed = {}, training_steps = {}, training_batch = {}, \
         training_seconds = {training_seconds:.0}, seed = {}",
        training::HELD_OUT_SAMPLES,
        training::HELD_OUT_SEED,
        args.steps,
        args.batch,
        args.seed
    );
    let files = ["pt", "features.pt", "head.pt"].map(|e| format!("{MODEL_NAME}.{e}"));
    let sha256 = training::checksums(&model_dir, &files)?;
    let text = manifest_text(&metrics, &sha256);
    Manifest::parse(&text).map_err(anyhow::Error::msg)?;
    std::fs::write(model_dir.join(format!("{MODEL_NAME}.toml")), text)?;

    write_demo_study(&args.data, &args.out.join("ct_lesions"))?;
    println!("done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn export(net: &Net, dir: &Path) -> Result<()> {
    let x0 = Tensor::zeros([1, 1, 128, 128], (Kind::Float, Device::Cpu));
    let a0 = tch::no_grad(|| net.features(&x0, false));
    let trace = |name: &str, input: &Tensor, f: &dyn Fn(&Tensor) -> Tensor, file: String| {
        training::trace_to(&dir.join(file), name, input, f)
    };
    trace(
        "LesionNet",
        &x0,
        &|x| net.forward(x, false),
        format!("{MODEL_NAME}.pt"),
    )?;
    trace(
        "LesionFeatures",
        &x0,
        &|x| net.features(x, false),
        format!("{MODEL_NAME}.features.pt"),
    )?;
    trace(
        "LesionHead",
        &a0,
        &|a| net.head(a),
        format!("{MODEL_NAME}.head.pt"),
    )?;
    Ok(())
}

/// The demo source's abdominal CT with lesions in its first two slices (one, then two), the third left
/// as a negative; new instances beside their ground-truth mask.
#[allow(clippy::too_many_lines)] // one linear recipe: read, insert, re-encode, write
fn write_demo_study(data: &Path, out: &Path) -> Result<()> {
    let source = data.join(training::DEMO_SOURCE.relpath);
    let (volume, _) =
        radlens::dicom::load(std::slice::from_ref(&source), training::DEMO_SOURCE.series)?;
    let [n, rows, cols] = volume.shape;
    let spacing = [
        volume.geometry.spacing_mm[1] as f32,
        volume.geometry.spacing_mm[2] as f32,
    ];
    std::fs::create_dir_all(out)?;
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let series_uid = random_uid(&mut rng);
    let mut masks = vec![0u8; n * rows * cols];
    for index in 0..n {
        let mut values = vec![0.0; rows * cols];
        volume.slice_f32_into(index, &mut values);
        let lesions = [1, 2, 0][index.min(2)];
        // Bigger, clearly visible lesions for the demo (12–30 mm, 40–90 HU).
        let ranges = LesionRanges {
            diameter_mm: [12.0, 30.0],
            contrast: [40.0, 90.0],
            ..LesionRanges::ct()
        };
        let mask = &mut masks[index * rows * cols..(index + 1) * rows * cols];
        for _ in 0..lesions {
            let lesion = Lesion::random(&mut rng, &values, rows, cols, spacing, &ranges)
                .context("no place for a demo lesion")?;
            for (m, inside) in mask
                .iter_mut()
                .zip(lesion.insert(&mut rng, &mut values, rows, cols))
            {
                *m |= u8::from(inside);
            }
        }
        let meta = &volume.slices[index];
        let mut obj = dicom_object::open_file(&meta.path)
            .with_context(|| format!("{}", meta.path.display()))?;
        let slope = obj
            .element(tags::RESCALE_SLOPE)
            .ok()
            .and_then(|e| e.to_float64().ok())
            .unwrap_or(1.0);
        let intercept = obj
            .element(tags::RESCALE_INTERCEPT)
            .ok()
            .and_then(|e| e.to_float64().ok())
            .unwrap_or(0.0);
        let signed = obj
            .element(tags::PIXEL_REPRESENTATION)
            .ok()
            .and_then(|e| e.to_int::<u16>().ok())
            == Some(1);
        let mut bytes = Vec::with_capacity(values.len() * 2);
        for v in &values {
            let stored = ((f64::from(*v) - intercept) / slope).round();
            let word = if signed {
                (stored.clamp(-32768.0, 32767.0) as i16).to_le_bytes()
            } else {
                (stored.clamp(0.0, 65535.0) as u16).to_le_bytes()
            };
            bytes.extend_from_slice(&word);
        }
        let sop_uid = random_uid(&mut rng);
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U8(bytes.into()),
        ));
        obj.put(DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from(sop_uid.as_str()),
        ));
        obj.put(DataElement::new(
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from(series_uid.as_str()),
        ));
        obj.put(DataElement::new(
            tags::SERIES_DESCRIPTION,
            VR::LO,
            PrimitiveValue::from("radlens demo: synthetic lesions"),
        ));
        obj.put(DataElement::new(
            tags::IMAGE_TYPE,
            VR::CS,
            PrimitiveValue::Strs(["DERIVED", "SECONDARY"].map(String::from).into()),
        ));
        obj.put(DataElement::new(
            tags::DERIVATION_DESCRIPTION,
            VR::ST,
            PrimitiveValue::from("Synthetic lesions inserted by radlens build_demo (seed 2026)"),
        ));
        obj.update_meta(|meta| meta.media_storage_sop_instance_uid.clone_from(&sop_uid));
        let file = out.join(format!("{:02}.dcm", index + 1));
        obj.write_to_file(&file)
            .with_context(|| format!("{}", file.display()))?;
    }
    let mask = ndarray::Array3::from_shape_vec((n, rows, cols), masks)?;
    let file = std::fs::File::create(out.join("lesions.mask.npy"))?;
    ndarray_npy::WriteNpyExt::write_npy(&mask, file)?;
    std::fs::copy(
        source.join("../../../licenses/dcmqi_LICENSE.txt"),
        out.join("LICENSE.txt"),
    )
    .or_else(|_| std::fs::copy("assets/demo/ct_3slice/LICENSE.txt", out.join("LICENSE.txt")))?;
    Ok(())
}

/// A UID under the `2.25` root (a random 128-bit integer, as ISO/IEC 9834-8 allows).
fn random_uid(rng: &mut impl Rng) -> String {
    format!("2.25.{}", rng.random::<u128>() >> 1)
}
