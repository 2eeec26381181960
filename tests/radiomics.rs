//! Handcrafted features on real data against PyRadiomics 3.1.4: every case in
//! `tests/data/radiomics/expected/` (made by `make_expected.py` there, see its README), through
//! the same path as `radlens features` (DICOM / NIfTI images, NIfTI / SEG / `.npy` masks).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use radlens::features::Extractor;
use radlens::radiomics::Settings;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn expected_text(case: &str) -> String {
    let path = root().join(format!("tests/data/radiomics/expected/{case}.json"));
    std::fs::read_to_string(&path).unwrap()
}

fn expected(case: &str) -> Value {
    serde_json::from_str(&expected_text(case)).unwrap()
}

/// The feature names in the order PyRadiomics wrote them (serde_json's map sorts its keys).
fn expected_order(case: &str) -> Vec<String> {
    let text = expected_text(case);
    let start = text.find("\"features\"").unwrap();
    let end = start + text[start..].find('}').unwrap();
    text[start..end]
        .split('"')
        .filter(|s| s.starts_with("original_"))
        .map(str::to_owned)
        .collect()
}

fn extractor(params: Option<&Path>) -> Extractor {
    Extractor {
        settings: params.map_or_else(Settings::default, |p| Settings::read(p).unwrap()),
        deep: None,
        npy_spacing: None,
        series: None,
    }
}

/// Relative difference, with an absolute floor near zero.
fn close(ours: f64, theirs: f64) -> bool {
    if ours.is_nan() || theirs.is_nan() {
        return ours.is_nan() && theirs.is_nan();
    }
    (ours - theirs).abs() <= 1e-6 * theirs.abs().max(ours.abs()) || (ours - theirs).abs() <= 1e-9
}

/// Features of `image` + `mask` (paths relative to the repository root) with the case's label
/// and parameter file, compared with PyRadiomics' values: same names, same order, 1e-6 relative.
fn check_against(case: &str, image: &Path, mask: &Path, skip: &[&str]) -> Vec<(String, f64)> {
    let e = expected(case);
    let params = e["params"].as_str().map(|p| root().join(p));
    let label = e["label"].as_u64().map(|l| l as u32);
    let row = extractor(params.as_deref()).case(image, mask, label);
    assert!(row.error.is_none(), "{case}: {:?}", row.error);
    let theirs = e["features"].as_object().unwrap();
    let names: Vec<&str> = row.features.iter().map(|(n, _)| n.as_str()).collect();
    let order = expected_order(case);
    let their_names: Vec<&str> = order.iter().map(String::as_str).collect();
    assert_eq!(names, their_names, "{case}: feature names or order differ");
    let mut wrong = Vec::new();
    for (name, ours) in &row.features {
        if skip.contains(&name.as_str()) {
            continue;
        }
        let value = &theirs[name];
        let theirs = value.as_f64().unwrap_or(f64::NAN);
        if !close(*ours, theirs) {
            wrong.push(format!("{name}: radlens {ours} PyRadiomics {theirs}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{case}: {} features differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    let diagnostics = &e["diagnostics"];
    let ours = |key: &str| {
        row.diagnostics
            .iter()
            .find(|(n, _)| n == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        ours("diagnostics_Mask-original_VoxelNum"),
        diagnostics["diagnostics_Mask-original_VoxelNum"].to_string(),
        "{case}"
    );
    let bbox: Vec<String> = diagnostics["diagnostics_Mask-original_BoundingBox"]
        .as_array()
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        ours("diagnostics_Mask-original_BoundingBox"),
        format!("({})", bbox.join(", ")),
        "{case}"
    );
    row.features
}

fn check(case: &str) -> Vec<(String, f64)> {
    let e = expected(case);
    let image = root().join(e["image"].as_str().unwrap());
    let mask = root().join(e["mask"].as_str().unwrap());
    check_against(case, &image, &mask, &[])
}

#[test]
fn brain_mr_label_1_matches_pyradiomics() {
    check("brain_l1");
}

#[test]
fn brain_mr_label_2_matches_pyradiomics() {
    check("brain_l2");
}

#[test]
fn prostate_adc_matches_pyradiomics() {
    check("prostate");
}

#[test]
fn ct_liver_matches_pyradiomics_from_nifti_and_from_the_dicom_seg() {
    check("ct_liver");
    // The same mask read from the study's own DICOM SEG.
    let e = expected("ct_liver");
    let image = root().join(e["image"].as_str().unwrap());
    let seg = common::data("dicom/series/ct_3slice_with_seg/seg_liver.dcm");
    check_against("ct_liver", &image, &seg, &[]);
}

#[test]
fn demo_lesions_match_pyradiomics_from_nifti_and_from_the_npy_mask() {
    check("demo_lesions");
    let e = expected("demo_lesions");
    let image = root().join(e["image"].as_str().unwrap());
    let npy = root().join("assets/demo/ct_lesions/lesions.mask.npy");
    check_against("demo_lesions", &image, &npy, &[]);
}

#[test]
fn custom_parameter_file_matches_pyradiomics() {
    check("brain_custom");
}

#[test]
fn force_2d_with_shape2d_matches_pyradiomics() {
    check("brain_slice_2d");
}

#[test]
fn cohort_spheres_match_pyradiomics() {
    for i in 1..=8 {
        check(&format!("cohort20_brain_sphere{i}"));
    }
    for i in 1..=5 {
        check(&format!("cohort20_prostate_sphere{i}"));
    }
}

/// PyRadiomics' marching-cubes mesh is not closed for irregular masks, so its mesh volume and
/// surface depend on the array's orientation (docs/RADIOMICS.md): over the DICOM series the
/// NIfTI mask is the same voxels, slices reversed, and PyRadiomics' own values differ there.
const ORIENTATION_DEPENDENT: [&str; 4] = [
    "original_shape_MeshVolume",
    "original_shape_SurfaceArea",
    "original_shape_Sphericity",
    "original_shape_SurfaceVolumeRatio",
];

#[test]
fn nifti_mask_over_the_dicom_series_equals_it_over_the_nifti_image() {
    let over_nifti = check("mr4_nifti");
    let over_dicom = check("mr4_dicom");
    assert_eq!(over_nifti.len(), over_dicom.len());
    for ((name, a), (_, b)) in over_nifti.iter().zip(&over_dicom) {
        if ORIENTATION_DEPENDENT.contains(&name.as_str()) {
            continue;
        }
        assert!(close(*a, *b), "{name}: over NIfTI {a}, over DICOM {b}");
    }
}
