//! The explanation engine against what each method's definition says, on small models whose
//! answers can be worked out by hand (traced here from closures over constant tensors), and
//! `radlens explain` on a real CT slice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::needless_range_loop)]

mod common;

use common::{os, radlens};

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use ndarray::Array2;
use ndarray_npy::ReadNpyExt;
use radlens::explain::{
    ExplainError, ExplainInput, ExplainParams, Heatmap, Method, Target, explain,
};
use radlens::model::Model;
use tch::{Device, Kind, Tensor};

// ---------------------------------------------------------------------------------------------
// Tracing analytic models

fn trace(dir: &Path, file: &str, example: &Tensor, f: &dyn Fn(&Tensor) -> Tensor) -> PathBuf {
    let mut closure = |inputs: &[Tensor]| vec![f(&inputs[0])];
    let module = tch::CModule::create_by_tracing(
        "Analytic",
        "forward",
        std::slice::from_ref(example),
        &mut closure,
    )
    .unwrap();
    let path = dir.join(file);
    module.save(&path).unwrap();
    path
}

fn manifest(size: i64, cam: Option<&str>) -> String {
    use std::fmt::Write as _;
    let mut text = format!(
        "name = \"analytic\"\nclasses = [\"other\", \"region\"]\n\
         [input]\nchannels = 1\nheight = {size}\nwidth = {size}\n"
    );
    if let Some(stem) = cam {
        write!(
            text,
            "[cam]\nfeatures = \"{stem}.features.pt\"\nhead = \"{stem}.head.pt\"\n"
        )
        .unwrap();
    }
    text
}

/// A model `forward(x) -> logits[N, 2]` on a `size × size` one-channel input, without CAM.
fn analytic_model(dir: &Path, stem: &str, size: i64, f: &dyn Fn(&Tensor) -> Tensor) -> Model {
    let x0 = Tensor::zeros([1, 1, size, size], (Kind::Float, Device::Cpu));
    let path = trace(dir, &format!("{stem}.pt"), &x0, f);
    std::fs::write(dir.join(format!("{stem}.toml")), manifest(size, None)).unwrap();
    Model::load(&path).unwrap()
}

/// The GAP-linear CAM model on 8×8 inputs: `features(x) = [ReLU(x), ReLU(0.5 − x), x²]` (same
/// grid as the input, so no resizing), `head(A) = W · mean_hw(A) + b`.
const SIDE: i64 = 8;
const W: [[f32; 3]; 2] = [[1.0, -2.0, 0.5], [-1.0, 0.5, 2.0]];
const B: [f32; 2] = [0.1, -0.2];

fn cam_features(x: &Tensor) -> Tensor {
    Tensor::cat(&[x.relu(), (x.neg() + 0.5).relu(), x * x], 1)
}

/// `W · mean_hw(A) + b`. The constants are made before tracing: a tensor made with `from_slice`
/// inside a traced function comes out as zeros in the saved module.
fn cam_head(a: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
    a.mean_dim([2i64, 3].as_slice(), false, Kind::Float)
        .matmul(&w.tr())
        + b
}

fn gap_linear_model(dir: &Path) -> Model {
    let x0 = Tensor::zeros([1, 1, SIDE, SIDE], (Kind::Float, Device::Cpu));
    let w = Tensor::from_slice(&W.concat()).reshape([2, 3]);
    let b = Tensor::from_slice(&B);
    let head = |a: &Tensor| cam_head(a, &w, &b);
    let path = trace(dir, "gap.pt", &x0, &|x| head(&cam_features(x)));
    trace(dir, "gap.features.pt", &x0, &cam_features);
    trace(dir, "gap.head.pt", &cam_features(&x0), &head);
    std::fs::write(dir.join("gap.toml"), manifest(SIDE, Some("gap"))).unwrap();
    let model = Model::load(&path).unwrap();
    assert_eq!(model.capabilities.cam, radlens::model::Support::Available);
    model
}

/// The same maths in plain Rust, for the expected values.
fn features_by_hand(x: &[f32]) -> [Vec<f32>; 3] {
    [
        x.iter().map(|v| v.max(0.0)).collect(),
        x.iter().map(|v| (0.5 - v).max(0.0)).collect(),
        x.iter().map(|v| v * v).collect(),
    ]
}

fn logit_by_hand(x: &[f32], class: usize) -> f32 {
    let a = features_by_hand(x);
    let n = x.len() as f32;
    B[class]
        + (0..3)
            .map(|k| W[class][k] * a[k].iter().sum::<f32>() / n)
            .sum::<f32>()
}

/// `ReLU(Σ_k w_k A_k)`.
fn combine_by_hand(a: &[Vec<f32>; 3], w: [f32; 3]) -> Vec<f32> {
    (0..a[0].len())
        .map(|p| (0..3).map(|k| w[k] * a[k][p]).sum::<f32>().max(0.0))
        .collect()
}

/// A fixed 8×8 input with values in about [-0.5, 1.5].
fn cam_input() -> Vec<f32> {
    (0..SIDE * SIDE)
        .map(|p| ((p * 37) % 64) as f32 / 32.0 - 0.5)
        .collect()
}

fn input_of(values: &[f32], size: i64) -> ExplainInput {
    ExplainInput::from_tensor(Tensor::from_slice(values).reshape([1, 1, size, size])).unwrap()
}

fn run(model: &Model, input: &ExplainInput, params: &ExplainParams) -> Heatmap {
    explain(model, input, params, &|_| {}, &AtomicBool::new(false)).unwrap()
}

fn params(method: Method, target: usize) -> ExplainParams {
    ExplainParams {
        target: Target::Index(target),
        ..ExplainParams::new(method)
    }
}

fn assert_close(actual: &[f32], expected: &[f32], tolerance: f32) {
    assert_eq!(actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tolerance * (1.0 + e.abs()),
            "pixel {i}: {a} vs {e}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The CAM family

#[test]
fn gradcam_on_a_gap_linear_head_is_the_class_activation_map() {
    let dir = tempfile::tempdir().unwrap();
    let model = gap_linear_model(dir.path());
    let x = cam_input();
    let a = features_by_hand(&x);
    for class in 0..2 {
        let heatmap = run(&model, &input_of(&x, SIDE), &params(Method::GradCam, class));
        // d logit / d A_k(i, j) = W[c][k] / (h·w) everywhere, so its spatial mean is that too.
        let hw = (SIDE * SIDE) as f32;
        let expected = combine_by_hand(&a, W[class].map(|w| w / hw));
        assert_eq!((heatmap.rows, heatmap.cols), (8, 8));
        assert_close(&heatmap.values, &expected, 1e-5);
        assert!(heatmap.values.iter().any(|&v| v > 0.0), "class {class}");
        assert!((heatmap.provenance.score - logit_by_hand(&x, class)).abs() < 1e-5);
    }
}

#[test]
fn gradcam_plus_plus_matches_its_alpha_worked_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let model = gap_linear_model(dir.path());
    let x = cam_input();
    let a = features_by_hand(&x);
    let hw = (SIDE * SIDE) as f32;
    for class in 0..2 {
        // Constant gradient g_k = W[c][k]/(h·w) per channel: α_k = g²/(2g² + Σ_ij A_k · g³ + ε),
        // the same at every pixel, and w_k = Σ_ij α_k · ReLU(g_k) = h·w · α_k · ReLU(g_k).
        let weights: [f32; 3] = std::array::from_fn(|k| {
            let g = f64::from(W[class][k] / hw);
            let sum_a: f64 = a[k].iter().map(|&v| f64::from(v)).sum();
            let alpha = g * g / (2.0 * g * g + sum_a * g * g * g + 1e-6);
            (f64::from(hw) * alpha * g.max(0.0)) as f32
        });
        let expected = combine_by_hand(&a, weights);
        let heatmap = run(
            &model,
            &input_of(&x, SIDE),
            &params(Method::GradCamPlusPlus, class),
        );
        assert_close(&heatmap.values, &expected, 1e-4);
        assert!(heatmap.values.iter().any(|&v| v > 0.0), "class {class}");
    }
}

#[test]
fn scorecam_weights_are_the_softmax_of_masked_input_scores_worked_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let model = gap_linear_model(dir.path());
    let x = cam_input();
    let a = features_by_hand(&x);
    for class in 0..2 {
        // Each channel, min–max normalised, masks the input; softmax of those scores = weights.
        let scores: Vec<f32> = a
            .iter()
            .map(|channel| {
                let lo = channel.iter().copied().fold(f32::INFINITY, f32::min);
                let hi = channel.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let masked: Vec<f32> = x
                    .iter()
                    .zip(channel)
                    .map(|(v, m)| v * (m - lo) / (hi - lo + 1e-8))
                    .collect();
                logit_by_hand(&masked, class)
            })
            .collect();
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
        let total: f32 = exp.iter().sum();
        let weights: [f32; 3] = std::array::from_fn(|k| exp[k] / total);
        let expected = combine_by_hand(&a, weights);
        let heatmap = run(
            &model,
            &input_of(&x, SIDE),
            &params(Method::ScoreCam, class),
        );
        assert_close(&heatmap.values, &expected, 1e-4);
    }
}

#[test]
fn cam_methods_on_a_model_without_features_say_so_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::traced_model(dir.path(), 2);
    std::fs::write(dir.path().join("tiny.toml"), common::MANIFEST).unwrap();
    let model = Model::load(&path).unwrap();
    let input =
        ExplainInput::from_tensor(Tensor::zeros([1, 1, 32, 32], (Kind::Float, Device::Cpu)))
            .unwrap();
    for method in [Method::GradCam, Method::GradCamPlusPlus, Method::ScoreCam] {
        let err = explain(
            &model,
            &input,
            &ExplainParams::new(method),
            &|_| {},
            &AtomicBool::new(false),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                ExplainError::Unsupported {
                    capability: radlens::model::Capability::Cam,
                    ..
                }
            ),
            "{err}"
        );
        let message = err.to_string();
        assert!(
            message.starts_with(method.name()) && message.ends_with("tiny.pt"),
            "{message}"
        );
        assert!(!message.contains('\n'));
    }
}

#[test]
fn gradient_methods_on_a_model_that_detaches_its_input_say_so_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let model = analytic_model(dir.path(), "detached", SIDE, &|x| {
        let s = x
            .detach()
            .sum_dim_intlist([1i64, 2, 3].as_slice(), false, Kind::Float);
        Tensor::stack(&[s.zeros_like(), s], 1)
    });
    assert!(
        matches!(
            model.capabilities.gradients,
            radlens::model::Support::Unavailable(_)
        ),
        "{:?}",
        model.capabilities
    );
    let input = input_of(&cam_input(), SIDE);
    let never = AtomicBool::new(false);
    for method in [Method::IntegratedGradients, Method::SmoothGrad] {
        let err = explain(&model, &input, &ExplainParams::new(method), &|_| {}, &never);
        let Err(ExplainError::Unsupported { capability, .. }) = &err else {
            panic!("{method}: {:?}", err.map(|h| h.provenance));
        };
        assert_eq!(*capability, radlens::model::Capability::Gradients);
        let message = err.unwrap_err().to_string();
        let requirement = "needs a model that is differentiable with respect to its input (";
        assert!(
            message.starts_with(&format!("{method} {requirement}"))
                && message.ends_with("detached.pt"),
            "{message}"
        );
    }
    // Occlusion only runs `forward`.
    let heatmap = run(&model, &input, &params(Method::Occlusion, 1));
    assert!(heatmap.values.iter().any(|&v| v != 0.0));
}

#[test]
fn cam_maps_come_back_on_the_source_slice_grid() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::traced_cam_model(dir.path(), 2);
    let model = Model::load(&path).unwrap();
    // A 48×40 slice: resized to 32×32 for the model, features 30×30, heatmap back to 48×40.
    let slice: Vec<f32> = (0..48 * 40)
        .map(|p| ((p * 13) % 400) as f32 - 160.0)
        .collect();
    let input = ExplainInput::from_slice(&slice, 48, 40, &model.manifest).unwrap();
    let heatmap = run(&model, &input, &ExplainParams::new(Method::GradCam));
    assert_eq!((heatmap.rows, heatmap.cols), (48, 40));
    assert_eq!(heatmap.values.len(), 48 * 40);
    assert_eq!(heatmap.provenance.input_size, [32, 32]);
    assert_eq!(
        heatmap.provenance.parameters["feature_grid"],
        serde_json::json!([30, 30])
    );
    assert!(heatmap.values.iter().all(|v| v.is_finite() && *v >= 0.0));
}

// ---------------------------------------------------------------------------------------------
// Gradient methods

/// A smooth non-linear model on 8×8: logit 1 = Σ tanh(2x − 0.5)·v + (mean x)², logit 0 = −mean x.
fn nonlinear(x: &Tensor) -> Tensor {
    let v = Tensor::arange(SIDE * SIDE, (Kind::Float, Device::Cpu))
        .remainder(5)
        .f_sub_scalar(2.0)
        .unwrap()
        .reshape([1, 1, SIDE, SIDE]);
    let mean = x.mean_dim([1i64, 2, 3].as_slice(), false, Kind::Float);
    let region =
        ((x * 2.0 - 0.5).tanh() * v).sum_dim_intlist([1i64, 2, 3].as_slice(), false, Kind::Float)
            + &mean * &mean;
    Tensor::stack(&[mean.neg(), region], 1)
}

fn nonlinear_input() -> Vec<f32> {
    (0..SIDE * SIDE)
        .map(|p| ((p * 29) % 17) as f32 / 8.0 - 0.6)
        .collect()
}

fn logits(model: &Model, x: &[f32]) -> Vec<f32> {
    let t = Tensor::from_slice(x).reshape([1, 1, SIDE, SIDE]);
    let l = tch::no_grad(|| model.forward(&t)).unwrap();
    Vec::<f32>::try_from(&l.flatten(0, -1)).unwrap()
}

#[test]
fn integrated_gradients_are_complete_on_a_nonlinear_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = analytic_model(dir.path(), "nonlinear", SIDE, &nonlinear);
    let x = nonlinear_input();
    let difference = logits(&model, &x)[1] - logits(&model, &vec![0.0; x.len()])[1];
    assert!(difference.abs() > 1.0, "a test that can fail: {difference}");
    let heatmap = run(
        &model,
        &input_of(&x, SIDE),
        &params(Method::IntegratedGradients, 1),
    );
    let total: f32 = heatmap.values.iter().sum();
    assert!(
        (total - difference).abs() <= 0.01 * difference.abs(),
        "Σ attributions {total} vs f(x) − f(0) {difference}"
    );
    let delta = heatmap.provenance.parameters["convergence_delta"]
        .as_f64()
        .unwrap();
    assert!(
        (delta - f64::from(total - difference)).abs() < 1e-3,
        "{delta}"
    );
    assert_eq!(heatmap.provenance.parameters["steps"], 50);
}

#[test]
fn integrated_gradients_of_a_linear_model_are_input_times_weight() {
    // f(x) = Σ v·x: IG = (x − 0)·v exactly, whatever the rule.
    let dir = tempfile::tempdir().unwrap();
    let v: Vec<f32> = (0..SIDE * SIDE).map(|p| (p % 7) as f32 - 3.0).collect();
    let weights = Tensor::from_slice(&v).reshape([1, 1, SIDE, SIDE]);
    let model = analytic_model(dir.path(), "linear", SIDE, &|x| {
        let s = (x * &weights).sum_dim_intlist([1i64, 2, 3].as_slice(), false, Kind::Float);
        Tensor::stack(&[s.zeros_like(), s], 1)
    });
    let x = nonlinear_input();
    let expected: Vec<f32> = x.iter().zip(&v).map(|(a, b)| a * b).collect();
    for rule in [
        radlens::explain::IgRule::GaussLegendre,
        radlens::explain::IgRule::RiemannTrapezoid,
    ] {
        let p = ExplainParams {
            ig: radlens::explain::IgParams {
                rule,
                ..Default::default()
            },
            samples: Some(7),
            ..params(Method::IntegratedGradients, 1)
        };
        let heatmap = run(&model, &input_of(&x, SIDE), &p);
        assert_close(&heatmap.values, &expected, 1e-5);
    }
}

#[test]
fn smoothgrad_without_noise_is_the_absolute_gradient() {
    let dir = tempfile::tempdir().unwrap();
    let model = analytic_model(dir.path(), "nonlinear", SIDE, &nonlinear);
    let x = nonlinear_input();
    // d/dx of Σ tanh(2x − 0.5)·v + (mean x)² = 2v(1 − tanh²) + 2·mean/n.
    let n = x.len() as f32;
    let mean = x.iter().sum::<f32>() / n;
    let expected: Vec<f32> = x
        .iter()
        .enumerate()
        .map(|(p, &xi)| {
            let v = (p % 5) as f32 - 2.0;
            let t = (2.0 * xi - 0.5).tanh();
            (2.0 * v * (1.0 - t * t) + 2.0 * mean / n).abs()
        })
        .collect();
    let p = ExplainParams {
        smoothgrad: radlens::explain::SmoothGradParams {
            noise_fraction: 0.0,
        },
        samples: Some(3),
        ..params(Method::SmoothGrad, 1)
    };
    let heatmap = run(&model, &input_of(&x, SIDE), &p);
    assert_close(&heatmap.values, &expected, 1e-5);
    // With noise the map changes but stays a mean of magnitudes.
    let noisy = run(&model, &input_of(&x, SIDE), &params(Method::SmoothGrad, 1));
    assert_ne!(noisy.values, heatmap.values);
    assert!(noisy.values.iter().all(|&v| v >= 0.0));
}

// ---------------------------------------------------------------------------------------------
// Perturbation methods

/// Reads only the square `rows 8..16 × cols 16..24` of a 32×32 input: logit 1 = Σ x² there.
const REGION: (std::ops::Range<usize>, std::ops::Range<usize>) = (8..16, 16..24);

fn region_model(dir: &Path) -> Model {
    analytic_model(dir, "region", 32, &|x| {
        let s = x
            .narrow(2, REGION.0.start as i64, REGION.0.len() as i64)
            .narrow(3, REGION.1.start as i64, REGION.1.len() as i64)
            .square()
            .sum_dim_intlist([1i64, 2, 3].as_slice(), false, Kind::Float);
        Tensor::stack(&[s.zeros_like(), s], 1)
    })
}

fn in_region(p: usize, side: usize) -> bool {
    REGION.0.contains(&(p / side)) && REGION.1.contains(&(p % side))
}

/// Dark background, the region a horizontal ramp from 0.5 to 1.
fn region_input() -> Vec<f32> {
    (0..32 * 32)
        .map(|p| {
            if in_region(p, 32) {
                0.5 + 0.5 * (p % 32 - REGION.1.start) as f32 / 7.0
            } else {
                0.0
            }
        })
        .collect()
}

#[test]
fn occlusion_is_nonzero_exactly_where_windows_overlap_the_region() {
    let dir = tempfile::tempdir().unwrap();
    let model = region_model(dir.path());
    let x = vec![1.0; 32 * 32];
    // Default window: 1/8 of the side (4), stride 2; placements at 0, 2, …, 28.
    let heatmap = run(&model, &input_of(&x, 32), &params(Method::Occlusion, 1));
    assert_eq!(
        heatmap.provenance.parameters["window"],
        serde_json::json!([4, 4])
    );
    let starts: Vec<usize> = (0..15).map(|i| i * 2).collect();
    let overlaps = |range: &std::ops::Range<usize>, at: usize| {
        // Some window covering `at` along this axis reaches into `range`.
        starts
            .iter()
            .any(|&s| (s..s + 4).contains(&at) && s < range.end && range.start < s + 4)
    };
    for p in 0..32 * 32 {
        let (r, c) = (p / 32, p % 32);
        let expected = overlaps(&REGION.0, r) && overlaps(&REGION.1, c);
        let v = heatmap.values[p];
        assert_eq!(v.abs() > 1e-6, expected, "pixel ({r}, {c}) = {v}");
        assert!(v >= 0.0, "occluding only lowers this score");
    }
}

#[test]
fn lime_ranks_the_region_superpixel_first() {
    let dir = tempfile::tempdir().unwrap();
    let model = region_model(dir.path());
    let heatmap = run(
        &model,
        &input_of(&region_input(), 32),
        &params(Method::Lime, 1),
    );
    assert_top_in_region(&heatmap);
}

#[test]
fn kernelshap_ranks_the_region_superpixel_first_and_sums_to_the_score_change() {
    let dir = tempfile::tempdir().unwrap();
    let model = region_model(dir.path());
    let x = region_input();
    let heatmap = run(&model, &input_of(&x, 32), &params(Method::KernelShap, 1));
    assert_top_in_region(&heatmap);
    // Efficiency: the Shapley values add up to f(x) − f(baseline = 0) = Σ_region x².
    let expected: f64 = x.iter().map(|&v| f64::from(v * v)).sum();
    let sum = heatmap.provenance.parameters["sum_of_attributions"]
        .as_f64()
        .unwrap();
    assert!(
        (sum - expected).abs() < 0.01 * expected,
        "{sum} vs {expected}"
    );
}

fn assert_top_in_region(heatmap: &Heatmap) {
    let (top, &best) = heatmap
        .values
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap();
    assert!(in_region(top, 32), "top pixel {top} outside the region");
    let outside = (0..32 * 32)
        .filter(|&p| !in_region(p, 32))
        .map(|p| heatmap.values[p])
        .fold(f32::NEG_INFINITY, f32::max);
    assert!(
        best > 0.0 && best > 2.0 * outside.abs(),
        "{best} vs {outside}"
    );
}

// ---------------------------------------------------------------------------------------------
// Reproducibility, batching, progress, cancellation, targets

#[test]
fn the_same_seed_gives_the_same_map_and_another_seed_another() {
    let dir = tempfile::tempdir().unwrap();
    let model = region_model(dir.path());
    let input = input_of(&region_input(), 32);
    for method in [Method::SmoothGrad, Method::Lime, Method::KernelShap] {
        let p = |seed| ExplainParams {
            seed,
            samples: Some(200),
            ..params(method, 1)
        };
        let a = run(&model, &input, &p(3));
        let b = run(&model, &input, &p(3));
        let c = run(&model, &input, &p(4));
        assert_eq!(a.values, b.values, "{method}");
        assert_ne!(a.values, c.values, "{method}");
    }
}

#[test]
fn batch_size_does_not_change_any_map() {
    let dir = tempfile::tempdir().unwrap();
    let cam = gap_linear_model(dir.path());
    let region = region_model(dir.path());
    let cam_input = input_of(&cam_input(), SIDE);
    let region_input = input_of(&region_input(), 32);
    // Rollout runs no batches (one `attention(x)` call); tests/transformer.rs tests it.
    for method in Method::ALL.into_iter().filter(|m| *m != Method::Rollout) {
        let (model, input) = if method.needs_cam() {
            (&cam, &cam_input)
        } else {
            (&region, &region_input)
        };
        let p = |batch_size| ExplainParams {
            batch_size,
            samples: Some(60),
            ..params(method, 1)
        };
        let one = run(model, input, &p(1));
        let seven = run(model, input, &p(7));
        let all = run(model, input, &p(256));
        assert_close(&seven.values, &one.values, 1e-4);
        assert_close(&all.values, &one.values, 1e-4);
        assert!(one.values.iter().any(|&v| v != 0.0), "{method}: empty map");
    }
}

#[test]
fn progress_rises_to_one_and_cancel_stops_with_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let model = region_model(dir.path());
    let input = input_of(&region_input(), 32);
    let seen = std::sync::Mutex::new(Vec::new());
    let p = ExplainParams {
        samples: Some(100),
        batch_size: 10,
        ..params(Method::Lime, 1)
    };
    explain(
        &model,
        &input,
        &p,
        &|f| seen.lock().unwrap().push(f),
        &AtomicBool::new(false),
    )
    .unwrap();
    let seen = seen.into_inner().unwrap();
    assert!(seen.len() >= 10, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&1.0));

    let cancel = AtomicBool::new(false);
    let err = explain(
        &model,
        &input,
        &p,
        &|f| {
            if f > 0.3 {
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        },
        &cancel,
    )
    .unwrap_err();
    assert!(matches!(err, ExplainError::Cancelled), "{err}");
}

#[test]
fn target_by_name_index_or_top() {
    let dir = tempfile::tempdir().unwrap();
    let model = gap_linear_model(dir.path());
    let input = input_of(&cam_input(), SIDE);
    let by_name = run(
        &model,
        &input,
        &ExplainParams {
            target: Target::parse("Region"),
            ..ExplainParams::new(Method::GradCam)
        },
    );
    assert_eq!(by_name.provenance.target, 1);
    assert_eq!(by_name.provenance.target_name, "region");
    let top = run(&model, &input, &ExplainParams::new(Method::GradCam));
    let x = cam_input();
    let expected_top = usize::from(logit_by_hand(&x, 1) > logit_by_hand(&x, 0));
    assert_eq!(top.provenance.target, expected_top);
    let err = explain(
        &model,
        &input,
        &ExplainParams {
            target: Target::parse("7"),
            ..ExplainParams::new(Method::GradCam)
        },
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap_err();
    assert!(err.to_string().contains("2 classes"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// `radlens explain`

#[test]
fn explain_cli_writes_the_slice_shaped_map_and_an_overlay_for_a_real_ct_slice() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::traced_cam_model(dir.path(), 2);
    let series = common::data("dicom/series/ct_3slice_with_seg/02.dcm");
    for method in ["gradcam", "occlusion"] {
        let npy = dir.path().join(format!("{method}.npy"));
        let png = dir.path().join(format!("{method}.png"));
        let out = radlens(&[
            os("explain"),
            os("--model"),
            model.as_os_str(),
            series.as_os_str(),
            os("--method"),
            os(method),
            os("--out"),
            npy.as_os_str(),
            os("--overlay"),
            png.as_os_str(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(method) && stdout.contains("score") && stdout.lines().count() == 1,
            "{stdout}"
        );
        let map = Array2::<f32>::read_npy(std::fs::File::open(&npy).unwrap()).unwrap();
        assert_eq!(map.shape(), &[512, 512]);
        assert!(map.iter().all(|v| v.is_finite()));
        assert!(map.iter().any(|&v| v != 0.0));
        let overlay = image::open(&png).unwrap();
        assert_eq!((overlay.width(), overlay.height()), (512, 512));
    }
    let leftovers = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with(".tmp")
        })
        .count();
    assert_eq!(leftovers, 0, "no temporary files left behind");
}

#[test]
fn explain_cli_gradcam_without_cam_is_one_line_and_keeps_the_old_output() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::traced_model(dir.path(), 2);
    std::fs::write(dir.path().join("tiny.toml"), common::MANIFEST).unwrap();
    let npy = dir.path().join("previous.npy");
    std::fs::write(&npy, b"an earlier result").unwrap();
    let out = radlens(&[
        os("explain"),
        os("--model"),
        model.as_os_str(),
        common::data("dicom/series/ct_3slice_with_seg/02.dcm").as_os_str(),
        os("--method"),
        os("gradcam"),
        os("--out"),
        npy.as_os_str(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("gradcam") && stderr.trim_end().ends_with("tiny.pt"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&npy).unwrap(), b"an earlier result");
}

#[test]
fn explain_cli_refuses_to_overwrite_its_input_and_unknown_methods() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::traced_cam_model(dir.path(), 2);
    let npy = dir.path().join("input.npy");
    let array = ndarray::Array3::<f32>::zeros((1, 32, 32));
    ndarray_npy::WriteNpyExt::write_npy(&array, std::fs::File::create(&npy).unwrap()).unwrap();
    let before = std::fs::read(&npy).unwrap();
    let out = radlens(&[
        os("explain"),
        os("--model"),
        model.as_os_str(),
        npy.as_os_str(),
        os("--method"),
        os("ig"),
        os("--out"),
        npy.as_os_str(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing"));
    assert_eq!(std::fs::read(&npy).unwrap(), before);

    let out = radlens(&[
        os("explain"),
        os("--model"),
        model.as_os_str(),
        npy.as_os_str(),
        os("--method"),
        os("gradcam+"),
        os("--out"),
        dir.path().join("x.npy").as_os_str(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("gradcam++") && stderr.trim_end().lines().count() == 1,
        "{stderr}"
    );
}

#[test]
fn explain_cli_on_a_model_input_npy_writes_the_input_grid() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::traced_cam_model(dir.path(), 2);
    let npy = dir.path().join("input.npy");
    let array = ndarray::Array3::<f32>::from_shape_fn((1, 32, 32), |(_, r, c)| {
        ((r * 32 + c) % 11) as f32 / 10.0
    });
    ndarray_npy::WriteNpyExt::write_npy(&array, std::fs::File::create(&npy).unwrap()).unwrap();
    let out_npy = dir.path().join("lime.npy");
    let out = radlens(&[
        os("explain"),
        os("--model"),
        model.as_os_str(),
        npy.as_os_str(),
        os("--method"),
        os("lime"),
        os("--samples"),
        os("100"),
        os("--seed"),
        os("5"),
        os("--target"),
        os("present"),
        os("--out"),
        out_npy.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let map = Array2::<f32>::read_npy(std::fs::File::open(&out_npy).unwrap()).unwrap();
    assert_eq!(map.shape(), &[32, 32]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("present"));
}
