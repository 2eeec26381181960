//! The shipped demo model and demo study: the held-out numbers in the manifest are what the model
//! really scores, the study's lesions are where its mask says, and the model finds them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use radlens::model::{Model, Support, preprocess_slice};
use radlens::training;
use tch::{Kind, Tensor};

fn asset(relpath: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("assets/demo")
        .join(relpath)
}

fn metric(model: &Model, key: &str) -> f64 {
    let value = &model.manifest.provenance.metrics[key];
    value
        .as_float()
        .or_else(|| value.as_integer().map(|i| i as f64))
        .unwrap_or_else(|| panic!("metric {key} is not a number"))
}

#[test]
fn held_out_metrics_in_the_manifest_are_what_the_model_scores() {
    let model = Model::load(&asset("model/lesion.pt")).unwrap();
    assert_eq!(model.capabilities.cam, Support::Available);
    check_held_out_metrics(&model);
}

#[test]
fn the_transformer_demo_scores_what_its_manifest_says_and_offers_cam_and_rollout() {
    let model = Model::load(&asset("hybrid/hybrid.pt")).unwrap();
    assert_eq!(model.capabilities.cam, Support::Available);
    assert_eq!(model.capabilities.attention, Support::Available);
    assert_eq!(model.feature_grid().unwrap(), (32, 16, 16));
    check_held_out_metrics(&model);
}

/// Recomputes the held-out AUC and accuracy from the shipped files; they must be the manifest's.
fn check_held_out_metrics(model: &Model) {
    assert_eq!(
        metric(model, "held_out_samples") as usize,
        training::HELD_OUT_SAMPLES
    );
    assert_eq!(
        metric(model, "held_out_seed") as u64,
        training::HELD_OUT_SEED
    );
    let held = training::load_slices(&common::data_dir(), &training::HELD_OUT).unwrap();
    let set = training::held_out_set(&held, &model.manifest).unwrap();
    let mut scores = Vec::new();
    for chunk in set.inputs.split(100, 0) {
        let logits = tch::no_grad(|| model.forward(&chunk)).unwrap();
        let p = logits.softmax(-1, Kind::Float).select(1, 1);
        scores.extend(Vec::<f32>::try_from(&p).unwrap());
    }
    let auc = training::roc_auc(&scores, &set.labels).unwrap();
    let accuracy = scores
        .iter()
        .zip(&set.labels)
        .filter(|(s, l)| (**s >= 0.5) == (**l == 1))
        .count() as f64
        / scores.len() as f64;
    let reported = metric(model, "held_out_auc");
    assert!(
        (auc - reported).abs() < 0.002,
        "held-out AUC {auc:.4}, manifest says {reported:.4}"
    );
    let reported = metric(model, "held_out_accuracy");
    assert!(
        (accuracy - reported).abs() < 0.002,
        "held-out accuracy {accuracy:.4}, manifest says {reported:.4}"
    );
}

#[test]
fn demo_study_has_its_lesions_where_the_mask_says_and_sources_are_new_instances() {
    let (study, _) = radlens::dicom::load(&[asset("ct_lesions")], None).unwrap();
    let source = common::load(&common::data("dicom/series/ct_3slice_with_seg/01.dcm"));
    let [slices, rows, cols] = study.shape;
    assert_eq!((slices, rows, cols), (3, 512, 512));
    assert_eq!(study.modality, "CT");
    assert_ne!(study.series_uid, source.series_uid);
    let mut masks = vec![None; slices];
    let warnings = radlens::dicom::add_mask_files(&study, &mut masks);
    assert!(warnings.is_empty(), "{warnings:?}");
    let original = radlens::dicom::load(
        &[common::data("dicom/series/ct_3slice_with_seg")],
        training::DEMO_SOURCE.series,
    )
    .unwrap()
    .0;
    for (index, mask) in masks.iter().enumerate() {
        let mut lesioned = vec![0.0; rows * cols];
        let mut clean = vec![0.0; rows * cols];
        study.slice_f32_into(index, &mut lesioned);
        original.slice_f32_into(index, &mut clean);
        let changed = lesioned
            .iter()
            .zip(&clean)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        let Some(mask) = mask else {
            assert_eq!(changed, 0, "slice {index} has no lesion but changed");
            continue;
        };
        let inside: Vec<usize> = (0..mask.len()).filter(|&i| mask[i] != 0).collect();
        assert!(
            inside.len() > 50,
            "slice {index}: {} mask pixels",
            inside.len()
        );
        // Every changed pixel lies inside or at the soft edge of a lesion (within the mask's
        // bounding box grown by its size), and inside the mask the change is large.
        let mean_change = inside
            .iter()
            .map(|&i| (lesioned[i] - clean[i]).abs())
            .sum::<f32>()
            / inside.len() as f32;
        assert!(
            mean_change > 20.0,
            "slice {index}: mean change {mean_change} HU"
        );
        assert!(
            changed < inside.len() * 3,
            "slice {index}: {changed} changed pixels"
        );
    }
    assert!(masks[0].is_some() && masks[1].is_some() && masks[2].is_none());
}

#[test]
fn demo_model_says_present_on_the_lesion_slices_and_absent_on_the_clean_one() {
    let model = Model::load(&asset("model/lesion.pt")).unwrap();
    let (study, _) = radlens::dicom::load(&[asset("ct_lesions")], None).unwrap();
    let [slices, rows, cols] = study.shape;
    let present: Vec<f32> = (0..slices)
        .map(|index| {
            let mut values = vec![0.0; rows * cols];
            study.slice_f32_into(index, &mut values);
            let input: Tensor = preprocess_slice(&values, rows, cols, &model.manifest).unwrap();
            model.predict(&input).unwrap().probabilities[1]
        })
        .collect();
    assert!(
        present[0] > 0.5 && present[1] > 0.5 && present[2] < 0.5,
        "P(present) per slice: {present:?}"
    );
}

/// Issue #5's check on the demo model: Grad-CAM, LIME and occlusion maps peak inside the lesion
/// (pointing game) on the demo study's lesion slices (ground truth: `lesions.mask.npy`). The rate
/// on held-out positives (other series, exact masks) is printed too (`--nocapture`), not asserted:
/// the demo model is weak out of its training domain (docs/MODELS.md).
#[test]
fn gradcam_lime_and_occlusion_point_at_the_lesion_on_the_demo_slices() {
    use radlens::explain::metrics::pointing_game;
    use radlens::explain::{ExplainInput, ExplainParams, Method, explain};
    use std::sync::atomic::AtomicBool;

    type Case = (Vec<f32>, usize, usize, Vec<bool>);
    let model = Model::load(&asset("model/lesion.pt")).unwrap();
    let held = training::load_slices(&common::data_dir(), &training::HELD_OUT).unwrap();
    let held_out: Vec<Case> = (0..training::HELD_OUT_SAMPLES)
        .map(|i| {
            training::sample(
                &mut training::sample_rng(training::HELD_OUT_SEED, i),
                &held,
                1.0,
            )
        })
        .filter_map(|s| s.mask.map(|m| (s.values, s.rows, s.cols, m)))
        .take(12)
        .collect();
    let (study, _) = radlens::dicom::load(&[asset("ct_lesions")], None).unwrap();
    let mut masks = vec![None; study.shape[0]];
    radlens::dicom::add_mask_files(&study, &mut masks);
    let [_, rows, cols] = study.shape;
    let demo: Vec<Case> = masks
        .iter()
        .enumerate()
        .filter_map(|(index, mask)| {
            let mask = mask.as_ref()?;
            let mut values = vec![0.0; rows * cols];
            study.slice_f32_into(index, &mut values);
            Some((values, rows, cols, mask.iter().map(|&m| m != 0).collect()))
        })
        .collect();
    assert_eq!(demo.len(), 2);
    let cancel = AtomicBool::new(false);
    let mut rates = Vec::new();
    for method in [Method::GradCam, Method::Lime, Method::Occlusion] {
        let mut params = ExplainParams::new(method);
        params.target = radlens::explain::Target::Index(1);
        if method == Method::Lime {
            params.samples = Some(300);
        }
        let hits = |cases: &[Case]| {
            cases
                .iter()
                .filter(|(values, rows, cols, mask)| {
                    let input =
                        ExplainInput::from_slice(values, *rows, *cols, &model.manifest).unwrap();
                    let heatmap = explain(&model, &input, &params, &|_| {}, &cancel).unwrap();
                    // A constant map (e.g. Grad-CAM all zero after its ReLU) points nowhere.
                    pointing_game(&heatmap.values, mask).is_ok_and(|p| p.hit)
                })
                .count()
        };
        let (on_demo, on_held_out) = (hits(&demo), hits(&held_out));
        println!(
            "pointing game {}: demo slices {on_demo}/{}, held-out positives {on_held_out}/{}",
            method.name(),
            demo.len(),
            held_out.len()
        );
        rates.push((method, on_demo));
    }
    for (method, on_demo) in rates {
        assert!(
            on_demo * 2 > demo.len(),
            "{} peaks inside the lesion on {on_demo}/{} demo slices",
            method.name(),
            demo.len()
        );
    }
}

#[test]
fn every_method_runs_unchanged_on_the_transformer_demo() {
    use radlens::explain::{ExplainInput, ExplainParams, Method, Target, explain};
    let model = Model::load(&asset("hybrid/hybrid.pt")).unwrap();
    let (study, _) = radlens::dicom::load(&[asset("ct_lesions")], None).unwrap();
    let [_, rows, cols] = study.shape;
    let mut values = vec![0.0; rows * cols];
    study.slice_f32_into(0, &mut values);
    let input = ExplainInput::from_slice(&values, rows, cols, &model.manifest).unwrap();
    for method in Method::ALL {
        let mut params = ExplainParams::new(method);
        params.target = Target::Index(1);
        // Fewer surrogate samples than the defaults: this checks that they run, not their maps.
        if matches!(method, Method::Lime | Method::KernelShap) {
            params.samples = Some(100);
        }
        let map = explain(
            &model,
            &input,
            &params,
            &|_| {},
            &std::sync::atomic::AtomicBool::new(false),
        )
        .unwrap_or_else(|e| panic!("{method}: {e}"));
        assert_eq!(map.values.len(), rows * cols, "{method}");
        assert!(map.values.iter().all(|v| v.is_finite()), "{method}");
        assert!(map.values.iter().any(|v| *v != 0.0), "{method}: all zero");
    }
}
