//! The `radlens` command line as scripts use it: exit codes, one-line errors, JSON and .npy output.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::unreadable_literal)]

mod common;

use std::path::Path;
use std::process::Output;

use common::{data, load, os, radlens};
use ndarray::{Array3, Array4};
use ndarray_npy::ReadNpyExt;

fn stderr_line(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        text.trim_end().lines().count(),
        1,
        "one line on stderr: {text}"
    );
    assert!(!text.contains("panicked"), "{text}");
    text.trim_end().to_owned()
}

#[test]
fn info_json_describes_a_series() {
    let dir = data("dicom/series/mr_brain_t1_sag_35sl");
    let out = radlens(&[os("info"), dir.as_os_str(), os("--json")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let series = doc["series"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    let s = &series[0];
    assert_eq!(s["modality"], "MR");
    assert_eq!(s["rows"], 256);
    assert_eq!(s["cols"], 256);
    assert_eq!(s["slices"], 35);
    assert_eq!(
        s["series_uid"],
        "1.3.12.2.1107.5.2.43.67060.2022040715044210837860713.0.0.0"
    );
    let spacing: Vec<f64> = s["spacing_mm"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        (spacing[0] - 4.8).abs() < 1e-3 && (spacing[1] - 1.015625).abs() < 1e-9,
        "{spacing:?}"
    );
    assert_eq!(s["orientation"].as_array().unwrap().len(), 6);
    assert_eq!(s["transfer_syntaxes"][0], "1.2.840.10008.1.2.1");
    assert!(s["window"]["width"].as_f64().unwrap() > 0.0);
    assert!(doc["skipped"].as_array().unwrap().is_empty());
}

#[test]
fn info_text_lists_skipped_files() {
    let out = radlens(&[os("info"), data("dicom/single").as_os_str()]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("skipped"), "{text}");
    assert!(text.contains("same SOP Instance UID"), "{text}");
}

#[test]
fn volume_writes_the_series_as_float32_npy() {
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("prostate.npy");
    let series = data("dicom/series/mr_prostate_adc_20sl");
    let out = radlens(&[
        os("volume"),
        series.as_os_str(),
        os("--out"),
        npy.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let array = Array3::<f32>::read_npy(std::fs::File::open(&npy).unwrap()).unwrap();
    let volume = load(&series);
    assert_eq!(array.shape(), &volume.shape);
    assert_eq!(array.as_slice().unwrap(), volume.to_f32_vec().as_slice());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left behind");
}

#[test]
fn colour_volume_has_a_channel_axis() {
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("us.npy");
    let file = data("dicom/single/us_pdd_HTJ2K_08_RGB.dcm");
    let out = radlens(&[os("volume"), file.as_os_str(), os("--out"), npy.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let array = Array4::<f32>::read_npy(std::fs::File::open(&npy).unwrap()).unwrap();
    assert_eq!(array.shape(), &[1, 480, 640, 3]);
    assert!(
        array
            .iter()
            .all(|v| (0.0..=255.0).contains(v) && v.fract() == 0.0)
    );
}

#[test]
fn several_series_need_a_choice() {
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("x.npy");
    let folder = data("dicom/series/ct_3slice_with_seg");
    let out = radlens(&[
        os("volume"),
        folder.as_os_str(),
        os("--out"),
        npy.as_os_str(),
    ]);
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("--series"));
    assert!(!npy.exists());

    let uid = radlens(&[os("info"), folder.as_os_str(), os("--json")]);
    let doc: serde_json::Value = serde_json::from_slice(&uid.stdout).unwrap();
    let ct = doc["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["modality"] == "CT")
        .unwrap();
    let id = ct["id"].as_str().unwrap();
    let out = radlens(&[
        os("volume"),
        folder.as_os_str(),
        os("--out"),
        npy.as_os_str(),
        os("--series"),
        os(id),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let array = Array3::<f32>::read_npy(std::fs::File::open(&npy).unwrap()).unwrap();
    assert_eq!(array.shape(), &[3, 512, 512]);
}

#[test]
fn missing_path_is_one_line_naming_the_path_last() {
    let out = radlens(&[os("info"), os("/no/such/study")]);
    assert!(!out.status.success());
    assert!(stderr_line(&out).ends_with("/no/such/study"));
}

#[test]
fn undecodable_file_is_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = data("dicom/single/mr_wg04_MR1_JPLY.dcm");
    let out = radlens(&[
        os("volume"),
        file.as_os_str(),
        os("--out"),
        dir.path().join("x.npy").as_os_str(),
    ]);
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(line.ends_with(&file.display().to_string()), "{line}");
}

#[test]
fn not_dicom_is_reported_as_such() {
    let file = data("README.md");
    let out = radlens(&[os("info"), file.as_os_str()]);
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("not a DICOM file"));
}

#[test]
fn output_never_overwrites_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("slice.dcm");
    std::fs::copy(data("dicom/single/ct_wg04_CT2_UNC.dcm"), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    let out = radlens(&[
        os("volume"),
        input.as_os_str(),
        os("--out"),
        input.as_os_str(),
    ]);
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("refusing"));
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

#[test]
fn unwritable_output_leaves_nothing_behind() {
    let out = radlens(&[
        os("volume"),
        data("dicom/single/ct_wg04_CT2_UNC.dcm").as_os_str(),
        os("--out"),
        Path::new("/no/such/dir/x.npy").as_os_str(),
    ]);
    assert!(!out.status.success());
    assert!(stderr_line(&out).ends_with("/no/such/dir/x.npy"));
}
