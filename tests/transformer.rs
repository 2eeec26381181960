//! Transformers and hybrids: a tiny ViT and a CNN + transformer hybrid, built and traced here
//! with tch. Grad-CAM on their tokens must equal Grad-CAM on the same features given as a grid
//! by the model itself; attention rollout must follow a known attention; a token grid that does
//! not match the tokens is a load error; the model-agnostic methods run unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use radlens::explain::{ExplainInput, ExplainParams, Method, Target, explain};
use radlens::model::Model;
use tch::{Device, Kind, Tensor};

const D: i64 = 8;
/// 32 × 32 input, 8 × 8 patches: a 4 × 4 grid.
const GRID: i64 = 4;
const PATCH: i64 = 8;

fn cpu() -> (Kind, Device) {
    (Kind::Float, Device::Cpu)
}

/// Seeded weights, scaled to keep activations moderate. Drawn from a generator of their own, not
/// libtorch's global one, which tests running in parallel would reseed under each other.
fn weights(shape: &[i64], seed: i64) -> Tensor {
    use rand::SeedableRng;
    use rand_distr::Distribution;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed.unsigned_abs());
    let normal = rand_distr::StandardNormal;
    let count: i64 = shape.iter().product();
    let values: Vec<f32> = (0..count)
        .map(|_| 0.3 * Distribution::<f32>::sample(&normal, &mut rng))
        .collect();
    Tensor::from_slice(&values).reshape(shape)
}

/// One self-attention block with a residual: `x + softmax(q kᵀ / √D) v Wo` on `[N, T, D]`;
/// its softmaxed attention `[N, T, T]` too.
struct Block {
    q: Tensor,
    k: Tensor,
    v: Tensor,
    o: Tensor,
}

impl Block {
    fn new(seed: i64) -> Self {
        Self {
            q: weights(&[D, D], seed),
            k: weights(&[D, D], seed + 1),
            v: weights(&[D, D], seed + 2),
            o: weights(&[D, D], seed + 3),
        }
    }

    fn attention(&self, x: &Tensor) -> Tensor {
        let q = x.matmul(&self.q);
        let k = x.matmul(&self.k);
        (q.matmul(&k.transpose(1, 2)) / (D as f64).sqrt()).softmax(-1, Kind::Float)
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let v = x.matmul(&self.v);
        x + self.attention(x).matmul(&v).matmul(&self.o)
    }
}

/// The parts of a tiny model: patch tokens `[N, h·w, D]` from the input, and what follows.
struct Parts {
    patch: Tensor,
    cls: Tensor,
    pos: Tensor,
    first: Block,
    second: Block,
    out: Tensor,
}

impl Parts {
    fn new() -> Self {
        Self {
            patch: weights(&[D, 1, PATCH, PATCH], 1),
            cls: weights(&[1, 1, D], 2),
            pos: weights(&[1, 1 + GRID * GRID, D], 3),
            first: Block::new(10),
            second: Block::new(20),
            out: weights(&[2, D], 4),
        }
    }

    /// Patch embedding as a grid `[N, D, h, w]` (a conv with stride = patch).
    fn stem(&self, x: &Tensor) -> Tensor {
        x.conv2d(
            &self.patch,
            None::<Tensor>,
            [PATCH, PATCH],
            [0, 0],
            [1, 1],
            1,
        )
    }

    /// `[N, D, h, w]` → `[N, h·w, D]`.
    fn tokens_of(grid: &Tensor) -> Tensor {
        grid.flatten(2, 3).transpose(1, 2)
    }

    /// `[N, h·w, D]` → `[N, D, h, w]` (batch size left to the tensor: traced, it stays free).
    fn grid_of(tokens: &Tensor) -> Tensor {
        tokens.transpose(1, 2).reshape([-1, D, GRID, GRID])
    }

    /// The patch tokens entering the blocks: patch embedding + their positions.
    fn patch_tokens(&self, x: &Tensor) -> Tensor {
        Self::tokens_of(&self.stem(x)) + self.pos.narrow(1, 1, GRID * GRID)
    }

    /// ViT: class token (+ its position) before the patch tokens. The class token is built
    /// from the batch (`0 · patch + cls`) so that a traced model takes any batch size.
    fn vit_tokens(&self, patches: &Tensor) -> Tensor {
        let cls = patches.narrow(1, 0, 1) * 0.0 + &self.cls + self.pos.narrow(1, 0, 1);
        Tensor::cat(&[cls, patches.shallow_clone()], 1)
    }

    /// ViT head on the tokens: two blocks, then the class token → logits.
    fn vit_head(&self, tokens: &Tensor) -> Tensor {
        let x = self.second.forward(&self.first.forward(tokens));
        x.select(1, 0).matmul(&self.out.transpose(0, 1))
    }

    /// Hybrid head on patch tokens (no class token): one block, mean over tokens → logits.
    fn hybrid_head(&self, patches: &Tensor) -> Tensor {
        let x = self.first.forward(patches);
        x.mean_dim([1i64].as_slice(), false, Kind::Float)
            .matmul(&self.out.transpose(0, 1))
    }
}

fn trace(dir: &Path, file: &str, input: &Tensor, f: &dyn Fn(&Tensor) -> Tensor) -> PathBuf {
    let mut closure = |inputs: &[Tensor]| vec![f(&inputs[0])];
    let module = tch::CModule::create_by_tracing(
        "Tiny",
        "forward",
        std::slice::from_ref(input),
        &mut closure,
    )
    .unwrap();
    let path = dir.join(file);
    module.save(&path).unwrap();
    path
}

/// Writes `name.pt`, `name.features.pt`, `name.head.pt` and the manifest with `cam_extra`.
fn save_split(
    dir: &Path,
    name: &str,
    features: &dyn Fn(&Tensor) -> Tensor,
    head: &dyn Fn(&Tensor) -> Tensor,
    cam_extra: &str,
) -> PathBuf {
    let x0 = Tensor::zeros([1, 1, 32, 32], cpu());
    let a0 = tch::no_grad(|| features(&x0));
    let path = trace(dir, &format!("{name}.pt"), &x0, &|x| head(&features(x)));
    trace(dir, &format!("{name}.features.pt"), &x0, features);
    trace(dir, &format!("{name}.head.pt"), &a0, head);
    std::fs::write(
        dir.join(format!("{name}.toml")),
        format!(
            "{}\n[cam]\nfeatures = \"{name}.features.pt\"\nhead = \"{name}.head.pt\"\n{cam_extra}",
            common::MANIFEST
        ),
    )
    .unwrap();
    path
}

fn input() -> ExplainInput {
    let values: Vec<f32> = (0..32 * 32)
        .map(|i| ((i * 37 % 101) as f32 / 101.0) - 0.3)
        .collect();
    ExplainInput {
        tensor: Tensor::from_slice(&values).reshape([1, 1, 32, 32]),
        source_rows: 32,
        source_cols: 32,
    }
}

fn heatmap(model: &Model, method: Method) -> radlens::explain::Heatmap {
    let mut params = ExplainParams::new(method);
    params.target = Target::Index(1);
    explain(model, &input(), &params, &|_| {}, &AtomicBool::new(false))
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

fn assert_same_map(a: &radlens::explain::Heatmap, b: &radlens::explain::Heatmap, what: &str) {
    let top = b.values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(top > 0.0, "{what}: the reference map is empty");
    let worst = a
        .values
        .iter()
        .zip(&b.values)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= 1e-4 * top,
        "{what}: differs by {worst} (max {top})"
    );
}

#[test]
fn grad_cam_on_vit_tokens_equals_grad_cam_on_the_same_features_as_a_grid() {
    let dir = tempfile::tempdir().unwrap();
    let parts = Parts::new();
    // Tokens: `features` = class token + patches entering the blocks, `[N, 1 + 16, D]`.
    let tokens = save_split(
        dir.path(),
        "vit",
        &|x| parts.vit_tokens(&parts.patch_tokens(x)),
        &|t| parts.vit_head(t),
        "tokens = { grid = [4, 4], prefix = 1 }\n",
    );
    // The same network split as a grid: `features` = the patch tokens as a grid, `head` puts
    // the class token in front itself.
    let grid = save_split(
        dir.path(),
        "vit_grid",
        &|x| Parts::grid_of(&parts.patch_tokens(x)),
        &|g| parts.vit_head(&parts.vit_tokens(&Parts::tokens_of(g))),
        "",
    );
    let tokens = Model::load(&tokens).unwrap();
    let grid = Model::load(&grid).unwrap();
    assert!(
        tokens.capabilities.cam.is_available(),
        "{:?}",
        tokens.capabilities.cam
    );
    assert_eq!(tokens.feature_grid().unwrap(), (8, 4, 4));
    for method in [Method::GradCam, Method::GradCamPlusPlus, Method::ScoreCam] {
        let on_tokens = heatmap(&tokens, method);
        let on_grid = heatmap(&grid, method);
        assert_same_map(&on_tokens, &on_grid, method.name());
        assert_eq!(
            on_tokens.provenance.parameters["token_layout"],
            "tokens [N, 1+4x4, D]"
        );
    }
}

#[test]
fn a_hybrid_works_with_tokens_and_channels_last_features() {
    let dir = tempfile::tempdir().unwrap();
    let parts = Parts::new();
    let grid = save_split(
        dir.path(),
        "hybrid_grid",
        &|x| parts.stem(x).relu(),
        &|g| parts.hybrid_head(&Parts::tokens_of(g)),
        "",
    );
    let tokens = save_split(
        dir.path(),
        "hybrid_tokens",
        &|x| Parts::tokens_of(&parts.stem(x).relu()),
        &|t| parts.hybrid_head(t),
        "tokens = { grid = [4, 4] }\n",
    );
    let channels_last = save_split(
        dir.path(),
        "hybrid_nhwc",
        &|x| parts.stem(x).relu().permute([0, 2, 3, 1]),
        &|a| parts.hybrid_head(&Parts::tokens_of(&a.permute([0, 3, 1, 2]))),
        "tokens = { grid = [4, 4], layout = \"channels_last\" }\n",
    );
    let reference = heatmap(&Model::load(&grid).unwrap(), Method::GradCam);
    for (path, what) in [(tokens, "tokens"), (channels_last, "channels last")] {
        let model = Model::load(&path).unwrap();
        assert_same_map(&heatmap(&model, Method::GradCam), &reference, what);
    }
    // A check on grid_of: the grid model's own features, as tokens and back, are unchanged.
    let x = input().tensor;
    let g = parts.stem(&x);
    let back = Parts::grid_of(&Parts::tokens_of(&g));
    assert!(f64::try_from((back - g).abs().max()).unwrap() < 1e-7);
}

#[test]
fn a_token_grid_that_does_not_match_the_tokens_is_a_load_error_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let parts = Parts::new();
    let path = save_split(
        dir.path(),
        "vit",
        &|x| parts.vit_tokens(&parts.patch_tokens(x)),
        &|t| parts.vit_head(t),
        "tokens = { grid = [5, 5], prefix = 1 }\n",
    );
    let message = Model::load(&path).err().expect("a load error").to_string();
    assert!(
        message.contains("17") && message.contains("1+5x5") && message.contains("26"),
        "{message}"
    );
    assert!(!message.contains('\n'), "one line: {message}");
}

#[test]
fn rollout_follows_a_class_token_that_attends_to_one_known_patch() {
    let dir = tempfile::tempdir().unwrap();
    let parts = Parts::new();
    let path = save_split(
        dir.path(),
        "vit",
        &|x| parts.vit_tokens(&parts.patch_tokens(x)),
        &|t| parts.vit_head(t),
        "tokens = { grid = [4, 4], prefix = 1 }\nattention = \"vit.attention.pt\"\n",
    );
    // Two blocks, two heads: every token attends to itself, except the class token, which
    // attends to patch 9 (grid row 2, column 1) with 0.9 and to itself with 0.1.
    let t = 1 + GRID * GRID;
    let known = 9;
    let mut block = vec![0.0f32; (t * t) as usize];
    for i in 0..t {
        block[(i * t + i) as usize] = 1.0;
    }
    block[0] = 0.1;
    block[(1 + known) as usize] = 0.9;
    let constant = Tensor::from_slice(&block)
        .reshape([1, 1, 1, t, t])
        .repeat([1, 2, 2, 1, 1]);
    let x0 = Tensor::zeros([1, 1, 32, 32], cpu());
    // It depends on x (by 0·x) so that tracing keeps the input.
    trace(dir.path(), "vit.attention.pt", &x0, &|x| {
        &constant + x.sum(Kind::Float) * 0.0
    });
    let model = Model::load(&path).unwrap();
    assert!(
        model.capabilities.attention.is_available(),
        "{:?}",
        model.capabilities.attention
    );
    let map = heatmap(&model, Method::Rollout);
    let peak = map
        .values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    let (row, col) = (peak / 32, peak % 32);
    assert_eq!(
        (row / 8, col / 8),
        (2, 1),
        "peak at pixel ({row}, {col}) should be in patch 9"
    );
    let p = &map.provenance.parameters;
    assert_eq!(p["head_fusion"], "mean");
    assert_eq!(p["class_agnostic"], true);
    assert_eq!(p["layers"], 2);
    // Without an attention export the method is refused with the reason.
    let plain = save_split(
        dir.path(),
        "plain",
        &|x| parts.vit_tokens(&parts.patch_tokens(x)),
        &|t| parts.vit_head(t),
        "tokens = { grid = [4, 4], prefix = 1 }\n",
    );
    let plain = Model::load(&plain).unwrap();
    let mut params = ExplainParams::new(Method::Rollout);
    params.target = Target::Index(1);
    let message = explain(&plain, &input(), &params, &|_| {}, &AtomicBool::new(false))
        .expect_err("refused")
        .to_string();
    assert!(message.contains("attention"), "{message}");
}

#[test]
fn model_agnostic_methods_run_unchanged_on_a_vit() {
    let dir = tempfile::tempdir().unwrap();
    let parts = Parts::new();
    let path = save_split(
        dir.path(),
        "vit",
        &|x| parts.vit_tokens(&parts.patch_tokens(x)),
        &|t| parts.vit_head(t),
        "tokens = { grid = [4, 4], prefix = 1 }\n",
    );
    let model = Model::load(&path).unwrap();
    for method in [
        Method::IntegratedGradients,
        Method::SmoothGrad,
        Method::Occlusion,
        Method::Lime,
        Method::KernelShap,
    ] {
        let mut params = ExplainParams::new(method);
        params.target = Target::Index(1);
        params.samples = match method {
            Method::Lime | Method::KernelShap => Some(64),
            _ => None,
        };
        params.superpixels.count = 16;
        let map = explain(&model, &input(), &params, &|_| {}, &AtomicBool::new(false))
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        assert_eq!(map.values.len(), 32 * 32);
        assert!(
            map.values.iter().any(|v| *v != 0.0),
            "{method}: an all-zero map"
        );
    }
}

#[test]
fn the_cli_runs_rollout_with_its_head_fusion_and_refuses_a_bad_discard_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let parts = Parts::new();
    let model = save_split(
        dir.path(),
        "vit",
        &|x| parts.vit_tokens(&parts.patch_tokens(x)),
        &|t| parts.vit_head(t),
        "tokens = { grid = [4, 4], prefix = 1 }\nattention = \"vit.attention.pt\"\n",
    );
    // The model's own attention: the softmaxed attention of its two blocks, one head each.
    let x0 = Tensor::zeros([1, 1, 32, 32], cpu());
    trace(dir.path(), "vit.attention.pt", &x0, &|x| {
        let tokens = parts.vit_tokens(&parts.patch_tokens(x));
        let first = parts.first.attention(&tokens);
        let second = parts.second.attention(&parts.first.forward(&tokens));
        Tensor::stack(&[first, second], 1).unsqueeze(2)
    });
    let study = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo/ct_lesions");
    let run = |extra: &[&str], out: &Path| {
        let mut args = vec![
            common::os("explain"),
            common::os("--model"),
            common::os(&model),
            common::os(&study),
            common::os("--slice"),
            common::os("0"),
            common::os("--method"),
            common::os("rollout"),
            common::os("--out"),
            common::os(out),
        ];
        args.extend(extra.iter().map(common::os));
        common::radlens(&args)
    };
    let out = dir.path().join("r.npy");
    let ok = run(&["--head-fusion", "max", "--discard-ratio", "0.2"], &out);
    assert!(ok.status.success(), "{}", common::stderr_text(&ok));
    let map: ndarray::Array2<f32> = ndarray_npy::read_npy(&out).unwrap();
    assert_eq!(map.dim(), (512, 512));
    assert!(map.iter().all(|v| v.is_finite() && *v >= 0.0));
    assert!(map.iter().any(|v| *v > 0.0));
    let bad = run(&["--discard-ratio", "1.5"], &dir.path().join("s.npy"));
    assert_eq!(bad.status.code(), Some(1), "{}", common::stderr_text(&bad));
    assert!(
        common::stderr_text(&bad).contains("discard ratio must be in [0, 1)"),
        "{}",
        common::stderr_text(&bad)
    );
}

#[test]
fn randomised_and_feature_unit_copies_of_a_vit_take_batches() {
    let dir = tempfile::tempdir().unwrap();
    let parts = Parts::new();
    let path = save_split(
        dir.path(),
        "vit",
        &|x| parts.vit_tokens(&parts.patch_tokens(x)),
        &|t| parts.vit_head(t),
        "tokens = { grid = [4, 4], prefix = 1 }\n",
    );
    let model = Model::load(&path).unwrap();
    // The traced heads map tokens to the grid inside: a batch of 16 (occlusion's) must pass.
    let stages = model.randomisation_stages().unwrap();
    let random = model.randomised(&stages[0], 7).unwrap();
    let units = model.feature_units(None).unwrap();
    for (copy, what) in [(&random, "randomised"), (&units, "feature units")] {
        let mut params = ExplainParams::new(Method::Occlusion);
        params.target = Target::Index(1);
        explain(copy, &input(), &params, &|_| {}, &AtomicBool::new(false))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
    }
}

#[test]
fn a_non_square_token_grid_works() {
    let dir = tempfile::tempdir().unwrap();
    let parts = Parts::new();
    // The 16 patch tokens read as a 2 × 8 grid (row-major), against the same features given as a
    // [N, D, 2, 8] map by the model itself.
    let tokens = save_split(
        dir.path(),
        "wide_tokens",
        &|x| Parts::tokens_of(&parts.stem(x).relu()),
        &|t| parts.hybrid_head(t),
        "tokens = { grid = [2, 8] }\n",
    );
    let grid = save_split(
        dir.path(),
        "wide_grid",
        &|x| {
            Parts::tokens_of(&parts.stem(x).relu())
                .transpose(1, 2)
                .reshape([-1, D, 2, 8])
        },
        &|g| parts.hybrid_head(&g.flatten(2, 3).transpose(1, 2)),
        "",
    );
    let tokens = Model::load(&tokens).unwrap();
    assert_eq!(tokens.feature_grid().unwrap(), (D as usize, 2, 8));
    let reference = heatmap(&Model::load(&grid).unwrap(), Method::GradCam);
    assert_same_map(&heatmap(&tokens, Method::GradCam), &reference, "2 x 8");
}
