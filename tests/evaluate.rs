//! Explanation metrics on models whose curves can be worked out by hand, the parameter
//! randomisation of traced models, and `radlens evaluate` on real slices and the demo study.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{os, radlens};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::AtomicBool;

use ndarray::Array2;
use ndarray_npy::WriteNpyExt;
use radlens::explain::metrics::{
    self, Baseline, FaithfulnessParams, RandomisationParams, ScoreKind,
};
use radlens::explain::{ExplainInput, ExplainParams, Heatmap, Method, Provenance, explain};
use radlens::model::Model;
use serde_json::Value;
use tch::{Device, Kind, Tensor};

// ---------------------------------------------------------------------------------------------
// Deletion and insertion on a model that sums a region

const SIDE: i64 = 4;
/// Pixels 0, 1, 4, 5: the top-left 2×2 block.
const REGION: [usize; 4] = [0, 1, 4, 5];

fn region_indicator() -> Vec<f32> {
    (0..(SIDE * SIDE) as usize)
        .map(|p| f32::from(u8::from(REGION.contains(&p))))
        .collect()
}

/// `logits = [0, Σ_region x]` on a 4×4 input.
fn region_sum_model(dir: &Path) -> Model {
    let r = Tensor::from_slice(&region_indicator()).reshape([1, 1, SIDE, SIDE]);
    let f = |x: &Tensor| {
        let s = (x * &r).sum_dim_intlist([1i64, 2, 3].as_slice(), false, Kind::Float);
        Tensor::stack(&[&s * 0.0, s], 1)
    };
    let x0 = Tensor::zeros([1, 1, SIDE, SIDE], (Kind::Float, Device::Cpu));
    let mut closure = |inputs: &[Tensor]| vec![f(&inputs[0])];
    let module = tch::CModule::create_by_tracing(
        "RegionSum",
        "forward",
        std::slice::from_ref(&x0),
        &mut closure,
    )
    .unwrap();
    let path = dir.join("sum.pt");
    module.save(&path).unwrap();
    std::fs::write(
        dir.join("sum.toml"),
        format!(
            "name = \"region sum\"\nclasses = [\"other\", \"region\"]\n\
             [input]\nchannels = 1\nheight = {SIDE}\nwidth = {SIDE}\n"
        ),
    )
    .unwrap();
    Model::load(&path).unwrap()
}

fn heatmap(values: Vec<f32>, side: usize) -> Heatmap {
    Heatmap {
        values,
        rows: side,
        cols: side,
        provenance: Provenance {
            method: Method::Occlusion,
            parameters: BTreeMap::new(),
            target: 1,
            target_name: "region".to_owned(),
            score: 0.0,
            model_name: "region sum".to_owned(),
            model_path: PathBuf::from("sum.pt"),
            input_size: [side, side],
            forward_passes: 0,
            signed: true,
            elapsed_ms: 0.0,
        },
    }
}

fn curves(
    model: &Model,
    x: &[f32],
    map: Vec<f32>,
    baseline: Baseline,
    score: ScoreKind,
) -> metrics::Faithfulness {
    let params = FaithfulnessParams {
        steps: 4,
        baseline,
        score,
        batch_size: 3,
    };
    metrics::deletion_insertion(
        model,
        &Tensor::from_slice(x).reshape([1, 1, SIDE, SIDE]),
        &heatmap(map, SIDE as usize),
        &params,
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap()
}

fn assert_close(actual: &[f64], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!((a - e).abs() < 1e-5, "{actual:?} vs {expected:?}");
    }
}

#[test]
fn deletion_of_the_right_pixels_kills_the_logit_at_the_first_step() {
    let dir = tempfile::tempdir().unwrap();
    let model = region_sum_model(dir.path());
    let zero = Baseline::Constant { value: 0.0 };
    // Input all ones: logit 4. Steps change 0, 4, 8, 12, 16 pixels.
    let good = curves(
        &model,
        &[1.0; 16],
        region_indicator(),
        zero,
        ScoreKind::Logit,
    );
    assert_close(&good.deletion.fractions, &[0.0, 0.25, 0.5, 0.75, 1.0]);
    assert_close(&good.deletion.scores, &[4.0, 0.0, 0.0, 0.0, 0.0]);
    assert_close(&good.insertion.scores, &[0.0, 4.0, 4.0, 4.0, 4.0]);
    // Trapezoids: 0.25·(4 + 0)/2 = 0.5; 0.25·(0 + 4)/2 + 0.75·4 = 3.5.
    assert_close(&[good.deletion.auc, good.insertion.auc], &[0.5, 3.5]);
    // The inverted map changes the region last: the AUCs swap.
    let inverted: Vec<f32> = region_indicator().iter().map(|v| 1.0 - v).collect();
    let bad = curves(&model, &[1.0; 16], inverted, zero, ScoreKind::Logit);
    assert_close(&bad.deletion.scores, &[4.0, 4.0, 4.0, 4.0, 0.0]);
    assert_close(&[bad.deletion.auc, bad.insertion.auc], &[3.5, 0.5]);
}

#[test]
fn probability_curves_follow_the_softmax_of_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let model = region_sum_model(dir.path());
    let zero = Baseline::Constant { value: 0.0 };
    let f = curves(
        &model,
        &[1.0; 16],
        region_indicator(),
        zero,
        ScoreKind::Probability,
    );
    // softmax([0, s])₁ = 1 / (1 + e^−s)
    let p4 = 1.0 / (1.0 + (-4.0_f64).exp());
    assert_close(&f.deletion.scores, &[p4, 0.5, 0.5, 0.5, 0.5]);
    assert_close(&[f.deletion.auc], &[0.25 * (p4 + 0.5) / 2.0 + 0.75 * 0.5]);
}

#[test]
fn mean_and_blur_baselines_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let model = region_sum_model(dir.path());
    // Region 2, elsewhere 0: mean 0.5, so deleting the region leaves 4 · 0.5 = 2.
    let x: Vec<f32> = region_indicator().iter().map(|v| 2.0 * v).collect();
    let mean = curves(
        &model,
        &x,
        region_indicator(),
        Baseline::Mean,
        ScoreKind::Logit,
    );
    assert_close(&mean.deletion.scores, &[8.0, 2.0, 2.0, 2.0, 2.0]);
    // A constant image blurs to itself: both curves stay at the original logit.
    let blur = curves(
        &model,
        &[1.0; 16],
        region_indicator(),
        Baseline::Blur { sigma_px: 1.0 },
        ScoreKind::Logit,
    );
    assert_close(&blur.deletion.scores, &[4.0; 5]);
    assert_close(&blur.insertion.scores, &[4.0; 5]);
}

// ---------------------------------------------------------------------------------------------
// Parameter randomisation of traced models

fn logits(model: &Model, x: &Tensor) -> Vec<f32> {
    let t = tch::no_grad(|| model.forward(x)).unwrap();
    Vec::<f32>::try_from(&t.flatten(0, -1)).unwrap()
}

#[test]
fn a_traced_cam_model_randomises_its_head_reproducibly() {
    let dir = tempfile::tempdir().unwrap();
    let model = Model::load(&common::traced_cam_model(dir.path(), 2)).unwrap();
    let stages = model.randomisation_stages().unwrap();
    assert_eq!(
        stages.len(),
        1,
        "tch-traced weights are constants: head only"
    );
    assert_eq!(stages[0].layers, ["head"]);
    let x = Tensor::randn([2, 1, 32, 32], (Kind::Float, Device::Cpu));
    let a = model.randomised(&stages[0], 1).unwrap();
    let again = model.randomised(&stages[0], 1).unwrap();
    let other = model.randomised(&stages[0], 2).unwrap();
    assert_eq!(
        logits(&a, &x),
        logits(&again, &x),
        "same seed, same weights"
    );
    assert_ne!(logits(&a, &x), logits(&other, &x));
    assert_ne!(logits(&a, &x), logits(&model, &x));
    // forward is head ∘ features on the copy, so every method sees the same random head.
    let composed = tch::no_grad(|| a.head(&a.features(&x).unwrap())).unwrap();
    assert_eq!(
        logits(&a, &x),
        Vec::<f32>::try_from(&composed.flatten(0, -1)).unwrap()
    );
    // The features are the trained ones.
    let features = |m: &Model| tch::no_grad(|| m.features(&x).unwrap());
    assert!(features(&a).equal(&features(&model)));
}

#[test]
fn a_model_with_neither_parameters_nor_cam_cannot_be_randomised() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::traced_model(dir.path(), 2);
    std::fs::write(dir.path().join("tiny.toml"), common::MANIFEST).unwrap();
    let model = Model::load(&path).unwrap();
    let err = model.randomisation_stages().unwrap_err().to_string();
    assert!(
        err.contains("nothing to randomise") && err.ends_with("tiny.pt"),
        "{err}"
    );
}

#[test]
fn the_randomisation_check_compares_each_stage_with_the_original_map() {
    let dir = tempfile::tempdir().unwrap();
    let model = Model::load(&common::traced_cam_model(dir.path(), 2)).unwrap();
    let input =
        ExplainInput::from_tensor(Tensor::randn([1, 1, 32, 32], (Kind::Float, Device::Cpu)))
            .unwrap();
    let params = ExplainParams::new(Method::Occlusion);
    let never = AtomicBool::new(false);
    let original = explain(&model, &input, &params, &|_| {}, &never).unwrap();
    let check = metrics::randomisation_check(
        &model,
        &input,
        &params,
        &original,
        &RandomisationParams::default(),
        &|_| {},
        &never,
    )
    .unwrap();
    assert_eq!(check.stages.len(), 1);
    let stage = &check.stages[0];
    // Recompute the stage's map and its similarity independently of the check.
    let copy = model.randomised(&stage.stage, 0).unwrap();
    let params = ExplainParams {
        target: radlens::explain::Target::Index(original.provenance.target),
        ..params
    };
    let map = explain(&copy, &input, &params, &|_| {}, &never).unwrap();
    let abs = |v: &[f32]| v.iter().map(|x| x.abs()).collect::<Vec<_>>();
    let rho = metrics::spearman(&abs(&original.values), &abs(&map.values)).unwrap();
    assert!((stage.similarity - rho).abs() < 1e-12);
    assert_eq!(check.flagged, rho >= 0.5);
}

// ---------------------------------------------------------------------------------------------
// `radlens evaluate`

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn one_error_line(out: &Output) -> String {
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr).trim_end().to_owned();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(!text.contains("panicked"), "{text}");
    text
}

/// A 512×512 mask with a filled rectangle, as `.npy` (uint8) and PNG.
fn write_masks(dir: &Path) -> (PathBuf, PathBuf, usize) {
    let mut mask = Array2::<u8>::zeros((512, 512));
    mask.slice_mut(ndarray::s![200..260, 300..340]).fill(1);
    let npy = dir.join("roi.npy");
    mask.write_npy(std::fs::File::create(&npy).unwrap())
        .unwrap();
    let png = dir.join("roi.png");
    image::GrayImage::from_fn(512, 512, |x, y| {
        image::Luma([mask[[y as usize, x as usize]] * 255])
    })
    .save(&png)
    .unwrap();
    (npy, png, 60 * 40)
}

#[test]
fn evaluate_reports_every_metric_per_method_and_agreement_per_pair() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::traced_cam_model(dir.path(), 2);
    let slice = common::data("dicom/series/ct_3slice_with_seg/02.dcm");
    let (npy, png, pixels) = write_masks(dir.path());
    let run = |mask: &Path| {
        json_of(&radlens(&[
            os("evaluate"),
            os("--model"),
            model.as_os_str(),
            slice.as_os_str(),
            os("--methods"),
            os("gradcam,gradcam,occlusion"),
            os("--mask"),
            mask.as_os_str(),
            os("--steps"),
            os("20"),
            os("--json"),
        ]))
    };
    let report = run(&npy);
    assert_eq!(report["mask_pixels"], pixels);
    let methods = report["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 3);
    for m in methods {
        let s = m["sparseness"].as_f64().unwrap();
        assert!((0.0..1.0).contains(&s), "{m}");
        for curve in ["deletion", "insertion"] {
            let c = &m["faithfulness"][curve];
            assert_eq!(c["fractions"].as_array().unwrap().len(), 21);
            let auc = c["auc"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&auc), "{c}");
        }
        let l = &m["localisation"];
        assert!(l["pointing_game"]["hit"].is_boolean(), "{l}");
        let stages = m["randomisation"]["stages"].as_array().unwrap();
        assert_eq!(stages[0]["stage"]["layers"][0], "head");
    }
    let pairs = report["agreement"].as_array().unwrap();
    assert_eq!(pairs.len(), 3, "3 methods, 3 pairs");
    // The same deterministic method twice agrees perfectly.
    assert_eq!(pairs[0]["a"], "gradcam");
    assert_eq!(pairs[0]["b"], "gradcam");
    assert!((pairs[0]["spearman"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    assert!((pairs[0]["top_k_iou"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    // The PNG of the same region gives the same localisation.
    let from_png = run(&png);
    for (a, b) in methods.iter().zip(from_png["methods"].as_array().unwrap()) {
        assert_eq!(a["localisation"], b["localisation"]);
    }
}

#[test]
fn evaluate_prints_a_table_without_json() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::traced_cam_model(dir.path(), 2);
    let slice = common::data("dicom/series/ct_3slice_with_seg/02.dcm");
    let out = radlens(&[
        os("evaluate"),
        os("--model"),
        model.as_os_str(),
        slice.as_os_str(),
        os("--methods"),
        os("gradcam,gradcam++"),
        os("--no-randomisation"),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("method") && lines[0].contains("insertion"));
    assert!(lines[1].starts_with("gradcam ") && lines[2].starts_with("gradcam++"));
    assert!(text.contains("gradcam / gradcam++"), "{text}");
}

#[test]
fn evaluate_takes_a_dicom_seg_as_the_region() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::traced_cam_model(dir.path(), 2);
    let series = common::data("dicom/series/ct_3slice_with_seg");
    let report = json_of(&radlens(&[
        os("evaluate"),
        os("--model"),
        model.as_os_str(),
        series.join("02.dcm").as_os_str(),
        os("--mask"),
        series.join("seg_liver.dcm").as_os_str(),
        os("--no-randomisation"),
        os("--json"),
    ]));
    // The liver covers a good part of an abdominal slice, not all of it.
    let pixels = report["mask_pixels"].as_u64().unwrap();
    assert!((2_000..200_000).contains(&pixels), "{pixels}");
    let mass = report["methods"][0]["localisation"]["relevance_mass_accuracy"]
        .as_f64()
        .unwrap();
    assert!((0.0..=1.0).contains(&mass));
}

#[test]
fn evaluate_errors_are_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::traced_cam_model(dir.path(), 2);
    let slice = common::data("dicom/series/ct_3slice_with_seg/02.dcm");
    let missing = dir.path().join("missing.npy");
    let small = dir.path().join("small.npy");
    Array2::<u8>::ones((8, 8))
        .write_npy(std::fs::File::create(&small).unwrap())
        .unwrap();
    for (mask, says) in [(&missing, "cannot open"), (&small, "mask is 8x8")] {
        let line = one_error_line(&radlens(&[
            os("evaluate"),
            os("--model"),
            model.as_os_str(),
            slice.as_os_str(),
            os("--mask"),
            mask.as_os_str(),
        ]));
        assert!(
            line.contains(says) && line.ends_with(&*mask.to_string_lossy()),
            "{line}"
        );
    }
    let line = one_error_line(&radlens(&[
        os("evaluate"),
        os("--model"),
        model.as_os_str(),
        slice.as_os_str(),
        os("--methods"),
        os("gradcam,magic"),
    ]));
    assert!(line.contains("magic"), "{line}");
}

/// Issue #6's acceptance check on the demo study, slice 0 (one lesion): re-drawing the head
/// changes Grad-CAM's map clearly (the similarity falls below the flag threshold).
#[test]
fn demo_study_gradcam_fails_without_the_trained_head() {
    let gradcam = demo_slice_0_gradcam();
    let stages = gradcam["randomisation"]["stages"].as_array().unwrap();
    let similarity = stages.last().unwrap()["similarity"].as_f64().unwrap();
    assert!(
        similarity < 0.5,
        "the map barely changes with a random head: {similarity}"
    );
}

/// The other half of issue #6's check: Grad-CAM's maximum lies in the ground-truth lesion.
#[test]
fn demo_study_gradcam_points_at_the_lesion() {
    let gradcam = demo_slice_0_gradcam();
    assert_eq!(
        gradcam["localisation"]["pointing_game"]["hit"], true,
        "Grad-CAM's maximum is outside the lesion: {}",
        gradcam["localisation"]
    );
}

fn demo_slice_0_gradcam() -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let report = json_of(&radlens(&[
        os("evaluate"),
        os("--model"),
        root.join("model/lesion.pt").as_os_str(),
        root.join("ct_lesions").as_os_str(),
        os("--slice"),
        os("0"),
        os("--mask"),
        root.join("ct_lesions/lesions.mask.npy").as_os_str(),
        os("--methods"),
        os("gradcam"),
        os("--json"),
    ]));
    let gradcam = report["methods"][0].clone();
    eprintln!(
        "demo slice 0 gradcam: localisation {} randomisation {}",
        gradcam["localisation"], gradcam["randomisation"]
    );
    gradcam
}
