//! Builds radlens' second demo model, a CNN + transformer hybrid, on the same data, seeds and
//! held-out set as the CNN of `build_demo`, so that the comparison layout can set a CNN's and a
//! transformer's explanations side by side on the demo study:
//!
//! ```text
//! cargo run --release --example build_demo_hybrid -- [--data ../shared/data] [--out assets/demo] [--steps 1500]
//! ```
//!
//! A CNN stem (3 conv blocks, 3 max-pools: 128 → 16) gives 16 × 16 patch tokens of width 32; a
//! class token and learned positions go in front of two pre-norm transformer blocks (2 heads,
//! MLP ×2); the class token after the last block is classified. Exported by tracing, split as
//! docs/MODELS.md says for a class-token model: `hybrid.features.pt` = the tokens *entering* the
//! last block (`[N, 1 + 256, 32]`), `hybrid.head.pt` = the last block and the classifier,
//! `hybrid.attention.pt` = both blocks' softmaxed attention (`[N, 2, 2, 257, 257]`, for rollout).
//! After the last block, a linear lesion map reads every patch token, supervised densely like the
//! CNN's; the logits are the class token's classifier plus the map's maximum (±z/2, as the CNN's
//! head). A class token read alone did not learn within the CNN's step budget (the loss stayed at
//! chance for 600 steps); the map's maximum gives the gradient a short path, as in the CNN.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use radlens::model::Manifest;
use radlens::training;
use tch::nn::{self, Module, ModuleT, OptimizerConfig};
use tch::{Device, Kind, Tensor};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "../shared/data")]
    data: PathBuf,
    #[arg(long, default_value = "assets/demo")]
    out: PathBuf,
    #[arg(long, default_value_t = 1500)]
    steps: usize,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

const MODEL_NAME: &str = "hybrid";
/// The patch grid (input 128 / 8).
const GRID: i64 = 16;
const TOKENS: i64 = 1 + GRID * GRID;
const WIDTH: i64 = 32;
const HEADS: i64 = 2;

fn manifest_text(metrics: &str, sha256: &str) -> String {
    format!(
        r#"name = "radlens demo: lesion present vs absent, CNN + transformer hybrid (CT, 128x128)"
classes = ["absent", "present"]
description = """A small hybrid: a CNN stem to 16x16 patch tokens, a class token and two transformer \
blocks; the class token is classified. Same task, data and held-out set as the CNN demo model. \
Trained on synthetic lesions inserted into real slices; a demonstration of radlens, not a clinical tool."""
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
tokens = {{ grid = [{GRID}, {GRID}], prefix = 1 }}
attention = "{MODEL_NAME}.attention.pt"

[provenance]
training_data = "The same as the CNN demo model (see its manifest and assets/README.md). Built by `cargo run --release --example build_demo_hybrid`."
licence = "Same as radlens (weights); training images keep their licences, see assets/README.md"
metrics = {{ {metrics} }}
"#
    )
}

/// A pre-norm transformer block: `x + attn(ln(x))`, then `x + mlp(ln(x))`.
struct Block {
    ln1: nn::LayerNorm,
    qkv: nn::Linear,
    proj: nn::Linear,
    ln2: nn::LayerNorm,
    fc1: nn::Linear,
    fc2: nn::Linear,
}

impl Block {
    fn new(p: &nn::Path) -> Self {
        let ln = |name: &str| nn::layer_norm(p / name, vec![WIDTH], nn::LayerNormConfig::default());
        let linear =
            |name: &str, i: i64, o: i64| nn::linear(p / name, i, o, nn::LinearConfig::default());
        Self {
            ln1: ln("ln1"),
            qkv: linear("qkv", WIDTH, 3 * WIDTH),
            proj: linear("proj", WIDTH, WIDTH),
            ln2: ln("ln2"),
            fc1: linear("fc1", WIDTH, 2 * WIDTH),
            fc2: linear("fc2", 2 * WIDTH, WIDTH),
        }
    }

    /// The softmaxed attention `[N, H, T, T]` and the attended values `[N, T, D]`.
    fn attend(&self, x: &Tensor) -> (Tensor, Tensor) {
        let dh = WIDTH / HEADS;
        let qkv = self
            .qkv
            .forward(&self.ln1.forward(x))
            .reshape([-1, TOKENS, 3, HEADS, dh])
            .permute([2, 0, 3, 1, 4]);
        let (q, k, v) = (qkv.get(0), qkv.get(1), qkv.get(2));
        let attention =
            (q.matmul(&k.transpose(-2, -1)) / (dh as f64).sqrt()).softmax(-1, Kind::Float);
        let out = attention
            .matmul(&v)
            .transpose(1, 2)
            .reshape([-1, TOKENS, WIDTH]);
        (attention, self.proj.forward(&out))
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let x = x + self.attend(x).1;
        let mlp = self
            .fc2
            .forward(&self.fc1.forward(&self.ln2.forward(&x)).gelu("none"));
        x + mlp
    }
}

struct Hybrid {
    stem: nn::SequentialT,
    cls: Tensor,
    pos: Tensor,
    first: Block,
    last: Block,
    norm: nn::LayerNorm,
    classify: nn::Linear,
    /// Lesion evidence per patch token after the last block.
    locate: nn::Linear,
}

impl Hybrid {
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
                .add_fn(|x| x.max_pool2d_default(2))
        };
        let stem = nn::seq_t()
            .add(block(vs / "s1", 1, 16))
            .add(block(vs / "s2", 16, 32))
            .add(block(vs / "s3", 32, WIDTH));
        Self {
            stem,
            cls: vs.randn("cls", &[1, 1, WIDTH], 0.0, 0.02),
            pos: vs.randn("pos", &[1, TOKENS, WIDTH], 0.0, 0.02),
            first: Block::new(&(vs / "block1")),
            last: Block::new(&(vs / "block2")),
            norm: nn::layer_norm(vs / "norm", vec![WIDTH], nn::LayerNormConfig::default()),
            classify: nn::linear(vs / "classify", WIDTH, 2, nn::LinearConfig::default()),
            locate: nn::linear(vs / "locate", WIDTH, 1, nn::LinearConfig::default()),
        }
    }

    /// Class token + patch tokens + positions, `[N, T, D]` (the class token built from the batch
    /// so that the traced model takes any batch size).
    fn tokens(&self, x: &Tensor, train: bool) -> Tensor {
        let patches = self.stem.forward_t(x, train).flatten(2, 3).transpose(1, 2);
        let cls = patches.narrow(1, 0, 1) * 0.0 + &self.cls;
        Tensor::cat(&[cls, patches], 1) + &self.pos
    }

    /// The tokens entering the last block.
    fn features(&self, x: &Tensor, train: bool) -> Tensor {
        self.first.forward(&self.tokens(x, train))
    }

    /// The last block, then the class token's logits plus the lesion map's maximum `z` as
    /// `[-z/2, z/2]`.
    fn head(&self, a: &Tensor) -> Tensor {
        let (logits, _) = self.head_and_map(a);
        logits
    }

    /// The logits and the lesion map `[N, 1, 16, 16]` they read.
    fn head_and_map(&self, a: &Tensor) -> (Tensor, Tensor) {
        let x = self.norm.forward(&self.last.forward(a));
        let map = self
            .locate
            .forward(&x.narrow(1, 1, GRID * GRID))
            .transpose(1, 2)
            .reshape([-1, 1, GRID, GRID]);
        let z = map.amax([1, 2, 3].as_slice(), false) * 0.5;
        let logits = self.classify.forward(&x.select(1, 0)) + Tensor::stack(&[-&z, z], 1);
        (logits, map)
    }

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        self.head(&self.features(x, train))
    }

    /// Both blocks' attention, `[N, 2, H, T, T]`.
    fn attention(&self, x: &Tensor) -> Tensor {
        let tokens = self.tokens(x, false);
        let (first, _) = self.first.attend(&tokens);
        let (last, _) = self.last.attend(&self.first.forward(&tokens));
        Tensor::stack(&[first, last], 1)
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    tch::manual_seed(args.seed as i64);
    let manifest = Manifest::parse(&manifest_text("", "")).map_err(anyhow::Error::msg)?;
    let train_slices = training::load_slices(&args.data, &training::TRAINING)?;
    let held_slices = training::load_slices(&args.data, &training::HELD_OUT)?;
    println!(
        "training on {} slices, holding out {} slices",
        train_slices.len(),
        held_slices.len()
    );
    let vs = nn::VarStore::new(Device::Cpu);
    let net = Hybrid::new(&vs.root());
    let mut opt = nn::AdamW::default().build(&vs, 1e-3)?;
    let started = Instant::now();
    let mut running = 0.0;
    for step in 0..args.steps {
        if step == args.steps * 6 / 10 {
            opt.set_lr(3e-4);
        }
        if step == args.steps * 9 / 10 {
            opt.set_lr(1e-4);
        }
        let seed = args.seed * 1_000_000_007 + step as u64;
        // The CNN's curriculum: lesion contrast ×2 at the start, realistic from 40 % on.
        let boost = 1.0 + (1.0 - step as f32 / (args.steps as f32 * 0.4)).max(0.0);
        let batch = training::batch(seed, args.batch, &train_slices, &manifest, boost, GRID)?;
        let a = net.features(&batch.inputs, true);
        let (logits, map) = net.head_and_map(&a);
        let classification = logits.cross_entropy_for_logits(&batch.labels);
        let location = map.binary_cross_entropy_with_logits::<Tensor>(
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

    let dir = args.out.join(MODEL_NAME);
    std::fs::create_dir_all(&dir)?;
    let mut vs = vs;
    vs.freeze();
    export(&net, &dir)?;
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
    let files =
        ["pt", "features.pt", "head.pt", "attention.pt"].map(|e| format!("{MODEL_NAME}.{e}"));
    let sha256 = training::checksums(&dir, &files)?;
    let text = manifest_text(&metrics, &sha256);
    Manifest::parse(&text).map_err(anyhow::Error::msg)?;
    std::fs::write(dir.join(format!("{MODEL_NAME}.toml")), text)?;
    println!("done in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn export(net: &Hybrid, dir: &Path) -> Result<()> {
    let x0 = Tensor::zeros([1, 1, 128, 128], (Kind::Float, Device::Cpu));
    let a0 = tch::no_grad(|| net.features(&x0, false));
    let trace = |name: &str, input: &Tensor, f: &dyn Fn(&Tensor) -> Tensor, file: String| {
        training::trace_to(&dir.join(file), name, input, f)
    };
    trace(
        "Hybrid",
        &x0,
        &|x| net.forward(x, false),
        format!("{MODEL_NAME}.pt"),
    )?;
    trace(
        "HybridFeatures",
        &x0,
        &|x| net.features(x, false),
        format!("{MODEL_NAME}.features.pt"),
    )?;
    trace(
        "HybridHead",
        &a0,
        &|a| net.head(a),
        format!("{MODEL_NAME}.head.pt"),
    )?;
    trace(
        "HybridAttention",
        &x0,
        &|x| net.attention(x),
        format!("{MODEL_NAME}.attention.pt"),
    )?;
    Ok(())
}
