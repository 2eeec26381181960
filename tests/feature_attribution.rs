//! Feature-unit attribution (`--target feature:K`) on a model whose feature units read known
//! regions: unit 0 is the input's left half, unit 1 its right half. Every method must put the
//! attribution of unit 1 on the right half only, and `feature_units` must pool exactly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use radlens::explain::{ExplainInput, ExplainParams, Method, Target, explain};
use radlens::model::Model;
use tch::{Device, Kind, Tensor};

/// `features(x) = [x · left, x · right]` (32 × 32, no weights), `head(A) = spatial mean, summed`.
fn halves_model(dir: &Path) -> PathBuf {
    let left = Tensor::cat(
        &[
            Tensor::ones([1, 1, 32, 16], (Kind::Float, Device::Cpu)),
            Tensor::zeros([1, 1, 32, 16], (Kind::Float, Device::Cpu)),
        ],
        3,
    );
    let right = Tensor::ones([1, 1, 32, 32], (Kind::Float, Device::Cpu)) - &left;
    let features = move |x: &Tensor| Tensor::cat(&[x * &left, x * &right], 1);
    let head = |a: &Tensor| {
        let m = a.mean_dim([2i64, 3].as_slice(), false, Kind::Float);
        Tensor::cat(
            &[
                m.sum_dim_intlist([1i64].as_slice(), true, Kind::Float),
                -m.sum_dim_intlist([1i64].as_slice(), true, Kind::Float),
            ],
            1,
        )
    };
    let x0 = Tensor::zeros([1, 1, 32, 32], (Kind::Float, Device::Cpu));
    let a0 = features(&x0);
    let trace = |name: &str, input: &Tensor, f: &dyn Fn(&Tensor) -> Tensor, file: &str| {
        let mut closure = |inputs: &[Tensor]| vec![f(&inputs[0])];
        let module = tch::CModule::create_by_tracing(
            name,
            "forward",
            std::slice::from_ref(input),
            &mut closure,
        )
        .unwrap();
        let path = dir.join(file);
        module.save(&path).unwrap();
        path
    };
    let path = trace("Halves", &x0, &|x| head(&features(x)), "halves.pt");
    trace("HalvesFeatures", &x0, &features, "halves.features.pt");
    trace("HalvesHead", &a0, &head, "halves.head.pt");
    std::fs::write(
        dir.join("halves.toml"),
        format!(
            "{}\n[cam]\nfeatures = \"halves.features.pt\"\nhead = \"halves.head.pt\"\n",
            common::MANIFEST
        ),
    )
    .unwrap();
    path
}

/// A 32 × 32 input that is positive everywhere (so both halves respond).
fn input() -> ExplainInput {
    let values: Vec<f32> = (0..32 * 32).map(|i| 1.0 + (i % 7) as f32 / 7.0).collect();
    ExplainInput {
        tensor: Tensor::from_slice(&values).reshape([1, 1, 32, 32]),
        source_rows: 32,
        source_cols: 32,
    }
}

#[test]
fn feature_units_pool_exactly_over_the_roi() {
    let dir = tempfile::tempdir().unwrap();
    let model = Model::load(&halves_model(dir.path())).unwrap();
    assert_eq!(model.feature_grid().unwrap(), (2, 32, 32));
    let x = input().tensor;
    // Whole grid: unit 1 = mean of x over the right half × 1/2 of the cells.
    let units = model.feature_units(None).unwrap();
    assert_eq!(units.manifest.classes, ["feature 0", "feature 1"]);
    let pooled: Vec<f32> =
        Vec::try_from(tch::no_grad(|| units.forward(&x)).unwrap().flatten(0, -1)).unwrap();
    let values: Vec<f32> = Vec::try_from(x.flatten(0, -1)).unwrap();
    let right_sum: f32 = (0..32 * 32)
        .filter(|i| i % 32 >= 16)
        .map(|i| values[i])
        .sum();
    assert!((pooled[1] - right_sum / 1024.0).abs() < 1e-5, "{pooled:?}");
    // ROI = the top-right quadrant: unit 1 is the mean of x there, unit 0 is 0.
    let roi: Vec<f32> = (0..32 * 32)
        .map(|i| f32::from(u8::from(i / 32 < 16 && i % 32 >= 16)))
        .collect();
    let units = model.feature_units(Some(&roi)).unwrap();
    let pooled: Vec<f32> =
        Vec::try_from(tch::no_grad(|| units.forward(&x)).unwrap().flatten(0, -1)).unwrap();
    let quadrant: Vec<f32> = (0..32 * 32)
        .filter(|&i| roi[i] > 0.0)
        .map(|i| values[i])
        .collect();
    let mean = quadrant.iter().sum::<f32>() / quadrant.len() as f32;
    assert!(
        pooled[0].abs() < 1e-6 && (pooled[1] - mean).abs() < 1e-5,
        "{pooled:?} vs {mean}"
    );
    assert!(
        model.feature_units(Some(&[0.0; 1024])).is_err(),
        "an empty ROI is refused"
    );
}

#[test]
fn every_family_attributes_a_right_half_unit_to_the_right_half() {
    let dir = tempfile::tempdir().unwrap();
    let model = Model::load(&halves_model(dir.path())).unwrap();
    let units = model.feature_units(None).unwrap();
    for method in [
        Method::GradCam,
        Method::IntegratedGradients,
        Method::Occlusion,
    ] {
        let mut params = ExplainParams::new(method);
        params.target = Target::Index(1);
        let heatmap = explain(&units, &input(), &params, &|_| {}, &AtomicBool::new(false)).unwrap();
        let (mut left, mut right) = (0.0f64, 0.0f64);
        for (i, v) in heatmap.values.iter().enumerate() {
            let v = f64::from(v.abs());
            if i % 32 < 16 { left += v } else { right += v }
        }
        // Occlusion patches straddle the middle: a small spill-over is allowed there.
        assert!(
            right > 0.0 && left <= 0.1 * right,
            "{method}: left {left} right {right}"
        );
        assert_eq!(heatmap.provenance.target_name, "feature 1");
    }
}

#[test]
fn the_cli_explains_a_feature_unit_and_refuses_one_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let model = halves_model(dir.path());
    let study = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo/ct_lesions");
    let out = dir.path().join("h.npy");
    let ok = common::radlens(&[
        common::os("explain"),
        common::os("--model"),
        common::os(&model),
        common::os(&study),
        common::os("--slice"),
        common::os("0"),
        common::os("--method"),
        common::os("gradcam"),
        common::os("--target"),
        common::os("feature:1"),
        common::os("--out"),
        common::os(&out),
    ]);
    assert!(ok.status.success(), "{}", common::stderr_text(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("(feature 1)"));
    let bad = common::radlens(&[
        common::os("explain"),
        common::os("--model"),
        common::os(&model),
        common::os(&study),
        common::os("--method"),
        common::os("gradcam"),
        common::os("--target"),
        common::os("feature:5"),
        common::os("--out"),
        common::os(&dir.path().join("g.npy")),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        common::stderr_text(&bad).contains("target class 5 does not exist"),
        "{}",
        common::stderr_text(&bad)
    );
}
