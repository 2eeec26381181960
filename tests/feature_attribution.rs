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

/// The halves model with an `embed(x)` method added to its TorchScript: `embed(x) = [mean of the
/// left half, mean of the right half]`. Tracing records `forward` only, so the method is written
/// into the archive's TorchScript source (`code/__torch__.py`, compiled by libtorch on load; the
/// source-range debug file is left out, as it would no longer match).
fn halves_with_embed(dir: &Path) -> PathBuf {
    use std::io::{Read, Write};
    let path = halves_model(dir);
    let bytes = std::fs::read(&path).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut patched = false;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().to_owned();
        if name.ends_with("code/__torch__.py.debug_pkl") {
            continue;
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if name.ends_with("code/__torch__.py") {
            let mut code = String::from_utf8(data).unwrap();
            assert!(code.contains("class Halves(Module):"), "{code}");
            code.push_str(
                "  def embed(self: __torch__.Halves,\n    x: Tensor) -> Tensor:\n    \
                 left = torch.mean(torch.slice(x, 3, 0, 16), [1, 2, 3])\n    \
                 right = torch.mean(torch.slice(x, 3, 16, 32), [1, 2, 3])\n    \
                 return torch.stack([left, right], 1)\n",
            );
            data = code.into_bytes();
            patched = true;
        }
        out.start_file(name, stored).unwrap();
        out.write_all(&data).unwrap();
    }
    assert!(patched, "no TorchScript source in {}", path.display());
    let written = out.finish().unwrap().into_inner();
    let embed_path = dir.join("halves.pt");
    std::fs::write(&embed_path, written).unwrap();
    embed_path
}

#[test]
fn embed_components_are_explained_like_classes_by_gradient_and_perturbation_methods() {
    let dir = tempfile::tempdir().unwrap();
    let model = Model::load(&halves_with_embed(dir.path())).unwrap();
    let x = input().tensor;
    let embedding: Vec<f32> = Vec::try_from(
        tch::no_grad(|| model.embed(&x))
            .unwrap()
            .expect("the patched model has embed(x)")
            .flatten(0, -1),
    )
    .unwrap();
    let values: Vec<f32> = Vec::try_from(x.flatten(0, -1)).unwrap();
    let right_mean = (0..32 * 32)
        .filter(|i| i % 32 >= 16)
        .map(|i| values[i])
        .sum::<f32>()
        / 512.0;
    assert!((embedding[1] - right_mean).abs() < 1e-5, "{embedding:?}");

    let (units, k) = radlens::features::deep::unit_model(
        &model,
        Target::embed(1).deep_unit().unwrap(),
        None,
        32,
        32,
    )
    .unwrap();
    assert_eq!(k, 1);
    assert_eq!(units.manifest.classes, ["embed 0", "embed 1"]);
    for method in [
        Method::IntegratedGradients,
        Method::SmoothGrad,
        Method::Occlusion,
    ] {
        let mut params = ExplainParams::new(method);
        params.target = Target::Index(k);
        let heatmap = explain(&units, &input(), &params, &|_| {}, &AtomicBool::new(false)).unwrap();
        let (mut left, mut right) = (0.0f64, 0.0f64);
        for (i, v) in heatmap.values.iter().enumerate() {
            let v = f64::from(v.abs());
            if i % 32 < 16 { left += v } else { right += v }
        }
        assert!(
            right > 0.0 && left <= 0.1 * right,
            "{method}: left {left} right {right}"
        );
        assert_eq!(heatmap.provenance.target_name, "embed 1");
    }
    // Grad-CAM needs a CAM layer, which an embedding does not have: refused, not faked.
    let mut params = ExplainParams::new(Method::GradCam);
    params.target = Target::Index(1);
    let refused = explain(&units, &input(), &params, &|_| {}, &AtomicBool::new(false));
    let message = refused
        .expect_err("no Grad-CAM of an embed component")
        .to_string();
    assert!(message.contains("embed"), "{message}");
    // A model without embed(x) says so.
    let plain_dir = dir.path().join("plain");
    std::fs::create_dir(&plain_dir).unwrap();
    let plain = Model::load(&halves_model(&plain_dir)).unwrap();
    let message = plain.embed_units().err().unwrap().to_string();
    assert!(message.contains("no embed(x) method"), "{message}");
}
