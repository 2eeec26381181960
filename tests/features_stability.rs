//! `radlens features --cohort … --stability N` as a user runs it: the stability table beside
//! the features, one row per feature (handcrafted and deep), reproducible from its seed, and its
//! outputs protected like `--out`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fmt::Write;
use std::path::{Path, PathBuf};

use common::{os, radlens, stderr_text};
use radlens::features::cohort::Table;

fn rdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/radiomics")
        .join(name)
}

fn run_cohort(cases: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        os("features"),
        os("--cohort"),
        os(cases),
        os("--out"),
        os(out),
    ];
    args.extend(extra.iter().map(os));
    radlens(&args)
}

/// The feature columns of a features CSV (after the cohort and diagnostics columns).
fn feature_columns(features: &Path) -> Vec<String> {
    let table = Table::read(features).unwrap();
    table
        .header
        .iter()
        .filter(|h| h.starts_with("original_") || h.starts_with("deep_"))
        .cloned()
        .collect()
}

fn cell<'a>(table: &'a Table, row: &'a [String], column: &str) -> &'a str {
    let c = table.header.iter().position(|h| h == column).unwrap();
    &row[c]
}

/// The five prostate spheres of cohort20.csv (small ROIs on one small series), with absolute paths.
fn prostate_spheres(dir: &Path) -> PathBuf {
    let cases = dir.join("spheres.csv");
    let image = common::data("dicom/series/mr_prostate_adc_20sl");
    let mask = rdata("cohort20_prostate_spheres.nii.gz");
    let mut text = "Image,Mask,Label\n".to_owned();
    for label in 1..=5 {
        writeln!(text, "{},{},{label}", image.display(), mask.display()).unwrap();
    }
    std::fs::write(&cases, text).unwrap();
    cases
}

#[test]
fn stability_table_has_one_row_per_feature_and_voxel_volume_is_stable() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("F.csv");
    let run = run_cohort(
        &rdata("cohort.csv"),
        &out,
        &["--stability", "3", "--jobs", "2"],
    );
    let err = stderr_text(&run);
    assert!(run.status.success(), "{err}");
    let path = dir.path().join("F.stability.csv");
    assert!(err.contains("F.stability.csv"), "{err}");
    let table = Table::read(&path).unwrap();
    assert_eq!(
        table.header,
        [
            "feature",
            "class",
            "icc",
            "ci_low",
            "ci_high",
            "n_cases",
            "n_measurements",
            "unstable"
        ]
    );
    let features: Vec<&str> = table.rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        features,
        feature_columns(&out),
        "one row per feature, in order"
    );
    assert_eq!(features.len(), 107);
    for row in &table.rows {
        let value = |c: &str| cell(&table, row, c).parse::<f64>().unwrap();
        let (icc, low, high) = (value("icc"), value("ci_low"), value("ci_high"));
        for v in [icc, low, high] {
            assert!((-1.0..=1.0).contains(&v), "{row:?}");
        }
        assert!(low <= icc && icc <= high, "{row:?}");
        assert_eq!(cell(&table, row, "n_measurements"), "4", "{row:?}");
        assert_eq!(cell(&table, row, "n_cases"), "7", "{row:?}");
        assert_eq!(cell(&table, row, "unstable"), (icc < 0.75).to_string());
        let class = row[0].split('_').nth(1).unwrap();
        assert_eq!(cell(&table, row, "class"), class);
    }
    let volume = table
        .rows
        .iter()
        .find(|r| r[0] == "original_shape_VoxelVolume")
        .unwrap();
    let icc: f64 = cell(&table, volume, "icc").parse().unwrap();
    assert!(icc > 0.9, "VoxelVolume ICC {icc}");
    // The sidecar lists each case's perturbations with their parameters.
    let sidecar: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("F.stability.json")).unwrap(),
    )
    .unwrap();
    let cases = sidecar["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 7);
    for case in cases {
        let perturbations = case["perturbations"].as_array().unwrap();
        assert_eq!(perturbations.len(), 3);
        for p in perturbations {
            let kind = p["kind"].as_str().unwrap();
            assert!(
                ["erode", "dilate", "translate", "rotate", "noise"].contains(&kind),
                "{p}"
            );
            if kind == "noise" {
                assert!(p["sigma"].as_f64().unwrap() > 0.0, "{p}");
            }
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_files_and_deep_features_are_rated_too() {
    let dir = tempfile::tempdir().unwrap();
    let cases = prostate_spheres(dir.path());
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo/model/lesion.pt");
    let run = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        let run = run_cohort(
            &cases,
            &out,
            &[
                "--stability",
                "4",
                "--stability-seed",
                seed,
                "--model",
                model.to_str().unwrap(),
            ],
        );
        assert!(run.status.success(), "{}", stderr_text(&run));
        let stem = name.trim_end_matches(".csv");
        (
            std::fs::read(dir.path().join(format!("{stem}.stability.csv"))).unwrap(),
            std::fs::read(dir.path().join(format!("{stem}.stability.json"))).unwrap(),
        )
    };
    let first = run("a.csv", "11");
    let again = run("b.csv", "11");
    assert_eq!(first.0, again.0, "same seed, same table");
    let json = |bytes: &[u8]| {
        let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        v["features"] = serde_json::Value::Null; // the features file's name differs
        v
    };
    assert_eq!(
        json(&first.1),
        json(&again.1),
        "same seed, same perturbations"
    );
    let other = run("c.csv", "12");
    assert_ne!(
        json(&first.1)["cases"],
        json(&other.1)["cases"],
        "another seed, other perturbations"
    );
    let table = Table::read(&dir.path().join("a.stability.csv")).unwrap();
    let deep = table.rows.iter().filter(|r| r[1] == "deep").count();
    assert_eq!(
        table.rows.len(),
        feature_columns(&dir.path().join("a.csv")).len()
    );
    assert!(deep > 0, "deep features are in the table");
    assert!(table.rows.iter().all(|r| r[5] == "5" && r[6] == "5"));
}

#[test]
fn stability_outputs_are_protected_like_out() {
    let dir = tempfile::tempdir().unwrap();
    let cases = prostate_spheres(dir.path());
    let out = dir.path().join("F.csv");
    let table = dir.path().join("F.stability.csv");
    std::fs::write(&table, "keep me\n").unwrap();
    let run = run_cohort(&cases, &out, &["--stability", "2"]);
    let err = stderr_text(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("F.stability.csv") && err.contains("--force"),
        "{err}"
    );
    assert!(!out.exists(), "nothing ran");
    assert_eq!(std::fs::read_to_string(&table).unwrap(), "keep me\n");
    // The whole cohort is needed: no shards, no resume.
    let run = run_cohort(&cases, &out, &["--stability", "2", "--shard", "0/2"]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr_text(&run));
    let run = run_cohort(&cases, &out, &["--stability", "0"]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr_text(&run));
}

#[test]
fn a_perturbation_that_empties_the_roi_leaves_only_that_case_out() {
    use radlens::features::perturb::{Perturbation, draw};
    let dir = tempfile::tempdir().unwrap();
    let dims = [1, 16, 16];
    let image =
        ndarray::Array3::from_shape_fn(dims, |(_, y, x)| ((y * 16 + x) * 7919 % 97) as f32 + 100.0);
    let image_path = dir.path().join("image.npy");
    ndarray_npy::write_npy(&image_path, &image).unwrap();
    // Case 0: a bar two voxels high, which an in-plane 3×3 erosion empties; cases 1 and 2:
    // squares that survive it.
    let masks = [(5..7, 3..13), (3..9, 3..9), (4..12, 4..12)];
    let mut text = "Image,Mask\n".to_owned();
    for (i, (rows, cols)) in masks.iter().enumerate() {
        let mask = ndarray::Array3::from_shape_fn(dims, |(_, y, x)| {
            u8::from(rows.contains(&y) && cols.contains(&x))
        });
        let path = dir.path().join(format!("mask{i}.npy"));
        ndarray_npy::write_npy(&path, &mask).unwrap();
        writeln!(text, "{},{}", image_path.display(), path.display()).unwrap();
    }
    let cases = dir.path().join("cases.csv");
    std::fs::write(&cases, text).unwrap();
    // A seed under which case 0 is eroded (every case gets one contour change in 4).
    let seed = (0..100u64)
        .find(|&s| draw(s, 0, 4).contains(&Perturbation::Erode))
        .unwrap();
    let out = dir.path().join("F.csv");
    let run = run_cohort(
        &cases,
        &out,
        &["--stability", "4", "--stability-seed", &seed.to_string()],
    );
    let err = stderr_text(&run);
    assert!(run.status.success(), "{err}");
    assert!(
        err.contains("ok, 4 perturbations (1 failed: the mask is empty"),
        "the progress line says so: {err}"
    );
    let sidecar: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("F.stability.json")).unwrap(),
    )
    .unwrap();
    let eroded = sidecar["cases"][0]["perturbations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "erode")
        .unwrap();
    assert!(
        eroded["error"].as_str().unwrap().contains("empty"),
        "{eroded}"
    );
    let table = Table::read(&dir.path().join("F.stability.csv")).unwrap();
    assert!(!table.rows.is_empty());
    for row in &table.rows {
        assert_eq!(cell(&table, row, "n_cases"), "2", "{row:?}");
        assert_eq!(cell(&table, row, "n_measurements"), "5", "{row:?}");
    }
}
