//! Exports as a reader relies on them: the DICOM Secondary Capture reads back with the PNG's
//! pixels and the right references; de-identification removes every identifying value of real
//! files; nothing is overwritten without `--force`, sources never; a 35-slice series exports
//! slice by slice with progress.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{data, os, radlens};
use dicom_core::Tag;
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use radlens::export::{
    AnnotatedImage, DicomExport, DicomOptions, PROFILE, SourceImage, WritePolicy, sha256_file,
};

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn demo_model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo/model/lesion.pt")
}

fn text(obj: &InMemDicomObject, tag: Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).trim().to_owned())
        .unwrap_or_default()
}

fn first_item(obj: &InMemDicomObject, tag: Tag) -> &InMemDicomObject {
    &obj.get(tag).and_then(|e| e.items()).expect("a sequence")[0]
}

/// SHA-256 of every file under `dirs` (recursively), by path.
fn hashes(paths: &[PathBuf]) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    for p in paths {
        for entry in walkdir::WalkDir::new(p) {
            let entry = entry.unwrap();
            if entry.file_type().is_file() {
                out.insert(
                    entry.path().to_owned(),
                    sha256_file(entry.path()).unwrap().0,
                );
            }
        }
    }
    out
}

fn png_rgb(path: &Path) -> (u32, u32, Vec<u8>) {
    let image = image::open(path).unwrap();
    assert!(
        matches!(image, image::DynamicImage::ImageRgb8(_)),
        "8-bit RGB PNG"
    );
    let rgb = image.into_rgb8();
    (rgb.width(), rgb.height(), rgb.into_raw())
}

// ---------------------------------------------------------------------------------------------
// Round trip

#[test]
fn dicom_export_reads_back_with_the_png_pixels_and_references_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let series = data("dicom/series/ct_3slice_with_seg");
    let png = dir.path().join("slice.png");
    let dcm = dir.path().join("slice.dcm");
    let model = demo_model();
    for (flag, out) in [("--png", &png), ("--dicom", &dcm)] {
        let output = radlens(&[
            os("export"),
            os("--model"),
            model.as_os_str(),
            series.as_os_str(),
            os("--method"),
            os("gradcam"),
            os("--slice"),
            os("1"),
            os("--keep-identity"),
            os(flag),
            out.as_os_str(),
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
    }

    // radlens' own loader reads it, as RGB with the PNG's pixels.
    let (volume, _) = radlens::dicom::load(std::slice::from_ref(&dcm), None).unwrap();
    let (width, height, png_pixels) = png_rgb(&png);
    assert_eq!(volume.shape, [1, height as usize, width as usize]);
    let radlens::dicom::Voxels::Rgb8(dicom_pixels) = &volume.voxels else {
        panic!("not RGB: {:?}", volume.photometric);
    };
    assert!(*dicom_pixels == png_pixels, "DICOM and PNG pixels differ");

    // The attributes of an RGB Secondary Capture that references its source.
    let file = dicom_object::open_file(&dcm).unwrap();
    assert_eq!(
        file.meta().transfer_syntax().trim_end_matches('\0'),
        uids::EXPLICIT_VR_LITTLE_ENDIAN
    );
    assert_eq!(
        file.meta()
            .media_storage_sop_class_uid()
            .trim_end_matches('\0'),
        uids::SECONDARY_CAPTURE_IMAGE_STORAGE
    );
    assert_eq!(
        text(&file, tags::SOP_CLASS_UID),
        uids::SECONDARY_CAPTURE_IMAGE_STORAGE
    );
    assert_eq!(text(&file, tags::BURNED_IN_ANNOTATION), "YES");
    assert_eq!(text(&file, tags::PHOTOMETRIC_INTERPRETATION), "RGB");
    assert_eq!(text(&file, tags::SAMPLES_PER_PIXEL), "3");
    assert_eq!(text(&file, tags::PLANAR_CONFIGURATION), "0");
    assert_eq!(text(&file, tags::BITS_ALLOCATED), "8");
    assert!(text(&file, tags::SOP_INSTANCE_UID).starts_with("2.25."));
    assert!(text(&file, tags::SERIES_INSTANCE_UID).starts_with("2.25."));
    assert!(text(&file, tags::DERIVATION_DESCRIPTION).contains("gradcam"));

    let report = radlens::dicom::scan(std::slice::from_ref(&series)).unwrap();
    let ct = report.series.iter().find(|s| s.modality() == "CT").unwrap();
    let source = radlens::dicom::load_series(ct, &radlens::dicom::LoadControl::default()).unwrap();
    let source_file = dicom_object::open_file(&source.slices[1].path).unwrap();
    let reference = first_item(&file, tags::REFERENCED_IMAGE_SEQUENCE);
    assert_eq!(
        text(reference, tags::REFERENCED_SOP_INSTANCE_UID),
        text(&source_file, tags::SOP_INSTANCE_UID)
    );
    assert_eq!(
        text(reference, tags::REFERENCED_SOP_CLASS_UID),
        text(&source_file, tags::SOP_CLASS_UID)
    );
    assert_eq!(
        text(&file, tags::STUDY_INSTANCE_UID),
        text(&source_file, tags::STUDY_INSTANCE_UID),
        "same study when identity is kept"
    );
}

#[test]
fn png_sidecar_records_what_reproduces_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let series = data("dicom/series/ct_3slice_with_seg");
    let png = dir.path().join("slice.png");
    let model = demo_model();
    let output = radlens(&[
        os("export"),
        os("--model"),
        model.as_os_str(),
        series.as_os_str(),
        os("--method"),
        os("gradcam"),
        os("--slice"),
        os("2"),
        os("--target"),
        os("1"),
        os("--seed"),
        os("7"),
        os("--scale"),
        os("1"),
        os("--png"),
        png.as_os_str(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("slice.png.json")).unwrap()).unwrap();
    assert_eq!(sidecar["radlens_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(sidecar["explain_params"]["seed"], 7);
    assert_eq!(sidecar["explain_params"]["method"], "gradcam");
    assert_eq!(sidecar["explanation"]["target"], 1);
    assert_eq!(sidecar["output"]["scale"], 1);
    assert_eq!(sidecar["slice"]["index"], 2);
    assert!(sidecar["display"]["window"]["width"].as_f64().unwrap() > 0.0);
    assert!(sidecar["display"]["heat_high"].is_number());
    let (model_sha, _) = sha256_file(&model).unwrap();
    assert!(
        sidecar["model"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["role"] == "model" && f["sha256"] == model_sha.as_str())
    );
    // The source slice is recorded by hash, never by name (names may identify the patient).
    let sources: Vec<String> = hashes(&[series]).into_values().collect();
    let input = sidecar["inputs"][0]["sha256"].as_str().unwrap();
    assert!(sources.iter().any(|s| s == input));
    assert!(sidecar["inputs"][0].get("name").is_none());
}

#[test]
fn a_method_list_exports_the_comparison_layout_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let series = data("dicom/series/ct_3slice_with_seg");
    let model = demo_model();
    let export = |methods: &str, name: &str| {
        let png = dir.path().join(name);
        let output = radlens(&[
            os("export"),
            os("--model"),
            model.as_os_str(),
            series.as_os_str(),
            os("--method"),
            os(methods),
            os("--slice"),
            os("1"),
            os("--png"),
            png.as_os_str(),
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        png
    };
    let single = png_rgb(&export("gradcam", "one.png"));
    let layout_png = export("gradcam,occlusion,smoothgrad", "three.png");
    let layout = png_rgb(&layout_png);
    assert_eq!((layout.0, layout.1), (single.0 * 3, single.1));
    // The first pane is the single export, pixel for pixel.
    let row = |img: &(u32, u32, Vec<u8>), y: u32| {
        let w = img.0 as usize * 3;
        img.2[y as usize * w..y as usize * w + single.0 as usize * 3].to_vec()
    };
    for y in (0..single.1).step_by(37) {
        assert_eq!(row(&layout, y), row(&single, y), "row {y}");
    }
    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("three.png.json")).unwrap()).unwrap();
    let methods: Vec<&str> = sidecar["layout"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["explanation"]["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["gradcam", "occlusion", "smoothgrad"]);
}

// ---------------------------------------------------------------------------------------------
// De-identification

/// Every DICOM file of the shared data whose header opens.
fn shared_dicom_files() -> Vec<PathBuf> {
    common::manifest()
        .iter()
        .filter(|r| r.is_dicom())
        .map(|r| data(r.relpath()))
        .filter(|p| radlens::dicom::open(p, radlens::dicom::ReadExtent::Header).is_ok())
        .collect()
}

fn tiny_image() -> AnnotatedImage {
    AnnotatedImage {
        width: 4,
        height: 3,
        rgb: (0..36).collect(),
        image_origin: [0, 0],
        image_size: [4, 3],
        scale: 1,
    }
}

/// Exports `source` with `export` into `dir` and reads the file back.
fn export_and_read(
    export: &mut DicomExport,
    source: &Path,
    dir: &Path,
    n: usize,
) -> dicom_object::DefaultDicomObject {
    let out = dir.join(format!("{n}.dcm"));
    export
        .write(
            &out,
            &tiny_image(),
            &SourceImage {
                path: source.to_owned(),
                frame: None,
            },
            "test",
            1,
            &WritePolicy::protecting(vec![source.to_owned()]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    dicom_object::open_file(&out).unwrap()
}

#[test]
fn no_identifying_value_of_the_shared_data_survives_a_deidentified_export() {
    let files = shared_dicom_files();
    assert!(files.len() > 80, "only {} files", files.len());
    let dir = tempfile::tempdir().unwrap();
    let mut identifying_values = 0;
    let mut names_or_ids = 0;
    for (n, path) in files.iter().enumerate() {
        let source = radlens::dicom::open(path, radlens::dicom::ReadExtent::Header).unwrap();
        let mut source_values = Vec::new();
        common::all_values(&source, &mut source_values);
        let identifying: Vec<(Tag, String)> = source_values
            .into_iter()
            .filter(|(tag, v)| {
                !v.is_empty() && (PROFILE.iter().any(|(t, _)| t == tag) || tag.group() % 2 == 1)
            })
            .collect();
        identifying_values += identifying.len();
        names_or_ids += identifying
            .iter()
            .filter(|(t, _)| *t == tags::PATIENT_NAME || *t == tags::PATIENT_ID)
            .count();

        let mut export = DicomExport::new(DicomOptions::default());
        let exported = export_and_read(&mut export, path, dir.path(), n);
        let mut exported_values = Vec::new();
        common::all_values(&exported, &mut exported_values);
        for (tag, value) in &identifying {
            for (t, v) in &exported_values {
                assert!(
                    !(t == tag && v == value),
                    "{tag} keeps its source value `{value}`: {}",
                    path.display()
                );
                // Fresh `2.25.<random>` UIDs can contain any digit run by chance: they carry
                // nothing of the source, so only exact equality is checked for them.
                let fresh_uid = v.starts_with("2.25.");
                assert!(
                    value.len() < 6 || fresh_uid || !v.contains(value.as_str()),
                    "source value `{value}` of {tag} appears in {t}: {}",
                    path.display()
                );
            }
        }
        assert_eq!(text(&exported, tags::PATIENT_IDENTITY_REMOVED), "YES");
        assert!(text(&exported, tags::DEIDENTIFICATION_METHOD).contains("PS3.15"));
    }
    // The test has teeth only if the sources carry identity.
    assert!(
        names_or_ids > 50,
        "only {names_or_ids} names/IDs in the sources"
    );
    assert!(identifying_values > 500, "{identifying_values}");
}

#[test]
fn deidentify_clears_every_profile_attribute_of_a_whole_header() {
    for path in shared_dicom_files() {
        let mut obj = radlens::dicom::open(&path, radlens::dicom::ReadExtent::Header)
            .unwrap()
            .into_inner();
        let mut before = Vec::new();
        common::all_values(&obj, &mut before);
        radlens::export::deidentify(
            &mut obj,
            &mut radlens::export::UidMap::new(),
            radlens::export::DeidOptions::default(),
        );
        let mut after = Vec::new();
        common::all_values(&obj, &mut after);
        for (tag, value) in &before {
            let listed = radlens::export::action_for(*tag).is_some();
            if listed && !value.is_empty() {
                assert!(
                    !after.iter().any(|(t, v)| t == tag && v == value),
                    "{tag} `{value}` survives: {}",
                    path.display()
                );
            }
        }
        assert!(
            after.iter().all(|(t, _)| t.group() % 2 == 0),
            "private attribute left: {}",
            path.display()
        );
    }
}

#[test]
fn keep_identity_copies_the_identity_and_references_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let identity = [
        tags::PATIENT_NAME,
        tags::PATIENT_ID,
        tags::PATIENT_BIRTH_DATE,
        tags::PATIENT_SEX,
        tags::STUDY_DATE,
        tags::STUDY_TIME,
        tags::ACCESSION_NUMBER,
        tags::REFERRING_PHYSICIAN_NAME,
        tags::STUDY_ID,
        tags::STUDY_INSTANCE_UID,
        tags::INSTITUTION_NAME,
    ];
    let mut kept = 0;
    for (n, path) in shared_dicom_files().iter().enumerate() {
        let source = radlens::dicom::open(path, radlens::dicom::ReadExtent::Header).unwrap();
        let mut export = DicomExport::new(DicomOptions {
            keep_identity: true,
            ..DicomOptions::default()
        });
        let exported = export_and_read(&mut export, path, dir.path(), n);
        for tag in identity {
            let value = text(&source, tag);
            if !value.is_empty() {
                assert_eq!(text(&exported, tag), value, "{tag}: {}", path.display());
                kept += 1;
            }
        }
        assert_eq!(
            text(
                first_item(&exported, tags::REFERENCED_IMAGE_SEQUENCE),
                tags::REFERENCED_SOP_INSTANCE_UID
            ),
            text(&source, tags::SOP_INSTANCE_UID)
        );
        assert!(
            exported.get(tags::PATIENT_IDENTITY_REMOVED).is_none()
                || text(&source, tags::PATIENT_IDENTITY_REMOVED)
                    == text(&exported, tags::PATIENT_IDENTITY_REMOVED)
        );
    }
    assert!(kept > 200, "only {kept} identity values to compare");
}

#[test]
fn uids_are_remapped_consistently_within_one_export_only() {
    let dir = tempfile::tempdir().unwrap();
    let series = data("dicom/series/mr_prostate_adc_20sl");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&series)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
        .collect();
    files.sort();
    let mut export = DicomExport::new(DicomOptions::default());
    let exported: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(n, p)| export_and_read(&mut export, p, dir.path(), n))
        .collect();
    let sources: Vec<_> = files
        .iter()
        .map(|p| radlens::dicom::open(p, radlens::dicom::ReadExtent::Header).unwrap())
        .collect();
    let study = text(&exported[0], tags::STUDY_INSTANCE_UID);
    let series_uid = text(&exported[0], tags::SERIES_INSTANCE_UID);
    assert!(study.starts_with("2.25.") && study != text(&sources[0], tags::STUDY_INSTANCE_UID));
    let mut references = std::collections::HashSet::new();
    let mut instances = std::collections::HashSet::new();
    for (e, s) in exported.iter().zip(&sources) {
        assert_eq!(text(e, tags::STUDY_INSTANCE_UID), study, "one study");
        assert_eq!(text(e, tags::SERIES_INSTANCE_UID), series_uid, "one series");
        let reference = text(
            first_item(e, tags::REFERENCED_IMAGE_SEQUENCE),
            tags::REFERENCED_SOP_INSTANCE_UID,
        );
        assert_ne!(reference, text(s, tags::SOP_INSTANCE_UID));
        references.insert(reference);
        instances.insert(text(e, tags::SOP_INSTANCE_UID));
    }
    assert_eq!(
        references.len(),
        files.len(),
        "distinct sources, distinct references"
    );
    assert_eq!(instances.len(), files.len());

    // The same source again in the same export: the same replacement.
    let again = export_and_read(&mut export, &files[0], dir.path(), 999);
    assert_eq!(
        text(
            first_item(&again, tags::REFERENCED_IMAGE_SEQUENCE),
            tags::REFERENCED_SOP_INSTANCE_UID
        ),
        text(
            first_item(&exported[0], tags::REFERENCED_IMAGE_SEQUENCE),
            tags::REFERENCED_SOP_INSTANCE_UID
        ),
    );
    // Another export maps afresh (exports cannot be linked through their UIDs).
    let other = export_and_read(
        &mut DicomExport::new(DicomOptions::default()),
        &files[0],
        dir.path(),
        1000,
    );
    assert_ne!(text(&other, tags::STUDY_INSTANCE_UID), study);
}

// ---------------------------------------------------------------------------------------------
// Atomicity, no overwrite, sources untouched

#[test]
fn existing_output_is_untouched_without_force_and_sources_never_change() {
    let dir = tempfile::tempdir().unwrap();
    let series = data("dicom/series/ct_3slice_with_seg");
    let model = demo_model();
    let model_dir = model.parent().unwrap().to_owned();
    let before = hashes(&[series.clone(), model_dir.clone()]);
    let out = dir.path().join("out.dcm");
    std::fs::write(&out, b"precious").unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            os("export"),
            os("--model"),
            model.as_os_str(),
            series.as_os_str(),
            os("--method"),
            os("gradcam"),
            os("--dicom"),
            out.as_os_str(),
        ];
        args.extend(extra.iter().map(os));
        radlens(&args)
    };
    let refused = run(&[]);
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert_eq!(message.trim_end().lines().count(), 1, "one line: {message}");
    assert!(
        message.contains("--force") && message.trim_end().ends_with("out.dcm"),
        "{message}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing else written"
    );

    let forced = run(&["--force"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_ne!(std::fs::read(&out).unwrap(), b"precious");
    assert!(dicom_object::open_file(&out).is_ok());
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with(".radlens")),
        "temporary files left: {names:?}"
    );

    // Writing over a source is refused even with --force.
    let source_slice = series.join("01.dcm");
    let onto_source = radlens(&[
        os("export"),
        os("--model"),
        model.as_os_str(),
        series.as_os_str(),
        os("--method"),
        os("gradcam"),
        os("--force"),
        os("--dicom"),
        source_slice.as_os_str(),
    ]);
    assert!(!onto_source.status.success());
    assert!(
        stderr(&onto_source).contains("source"),
        "{}",
        stderr(&onto_source)
    );

    assert_eq!(
        hashes(&[series, model_dir]),
        before,
        "sources byte-identical"
    );
}

#[test]
fn keep_identity_is_announced_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let series = data("dicom/series/ct_3slice_with_seg");
    let out = dir.path().join("id.dcm");
    let model = demo_model();
    let output = radlens(&[
        os("export"),
        os("--model"),
        model.as_os_str(),
        series.as_os_str(),
        os("--method"),
        os("gradcam"),
        os("--keep-identity"),
        os("--dicom"),
        out.as_os_str(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("warning: --keep-identity"),
        "{}",
        stderr(&output)
    );
}

// ---------------------------------------------------------------------------------------------
// Batch export

#[test]
fn a_35_slice_series_exports_one_file_per_slice_with_progress() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::traced_cam_model(dir.path(), 2);
    let series = data("dicom/series/mr_brain_t1_sag_35sl");
    let out_dir = dir.path().join("out");
    let started = std::time::Instant::now();
    let output = radlens(&[
        os("export"),
        os("--model"),
        model.as_os_str(),
        series.as_os_str(),
        os("--method"),
        os("gradcam"),
        os("--slices"),
        os("0..34"),
        os("--out-dir"),
        out_dir.as_os_str(),
    ]);
    let elapsed = started.elapsed();
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    eprintln!("35-slice export (debug build, incl. startup): {elapsed:.2?}");
    let progress: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("radlens: slice "))
        .collect();
    assert_eq!(progress.len(), 35, "{err}");
    assert!(progress[0].contains("slice 1/35") && progress[34].contains("slice 35/35"));
    assert!(progress.iter().all(|l| l.contains(" ms -> ")), "{err}");
    for i in 0..35 {
        let png = out_dir.join(format!("slice_{i:03}.png"));
        let (w, h, _) = png_rgb(&png);
        assert!(
            w > 256 * 2 && h >= 256 * 2,
            "256² ×2 plus the panel: {w}x{h}"
        );
        assert!(out_dir.join(format!("slice_{i:03}.png.json")).exists());
    }
}

#[test]
fn a_dicom_range_export_is_one_new_series_of_the_same_study() {
    let dir = tempfile::tempdir().unwrap();
    let series = data("dicom/series/ct_3slice_with_seg");
    let model = demo_model();
    let out_dir = dir.path().join("sc");
    let output = radlens(&[
        os("export"),
        os("--model"),
        model.as_os_str(),
        series.as_os_str(),
        os("--method"),
        os("gradcam"),
        os("--slices"),
        os("0..2"),
        os("--out-dir"),
        out_dir.as_os_str(),
        os("--format"),
        os("dicom"),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let files: Vec<_> = (0..3)
        .map(|i| dicom_object::open_file(out_dir.join(format!("slice_{i:03}.dcm"))).unwrap())
        .collect();
    let (volume, _) = radlens::dicom::load(std::slice::from_ref(&out_dir), None).unwrap();
    assert_eq!(volume.shape[0], 3, "one series of three images");
    for f in &files {
        assert_eq!(
            text(f, tags::STUDY_INSTANCE_UID),
            text(&files[0], tags::STUDY_INSTANCE_UID)
        );
        assert_eq!(text(f, tags::PATIENT_IDENTITY_REMOVED), "YES");
        assert_eq!(text(f, tags::PATIENT_NAME), "");
    }
}

#[test]
fn docs_list_every_profile_row_with_its_action() {
    let docs =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/EXPORT.md"))
            .unwrap();
    for (tag, action) in PROFILE {
        let cell = format!("({:04X},{:04X})", tag.group(), tag.element());
        let row = docs
            .lines()
            .find(|l| l.contains(&cell))
            .unwrap_or_else(|| panic!("{cell} missing from docs/EXPORT.md"));
        assert!(
            row.contains(&format!("| {} ", action.code())),
            "{cell}: docs say `{row}`, code says {}",
            action.code()
        );
    }
}

#[test]
fn the_slice_is_shown_in_the_series_window_unless_one_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::traced_cam_model(dir.path(), 2);
    let series = data("dicom/series/mr_brain_t1_sag_35sl");
    let export = |name: &str, extra: &[&str]| -> serde_json::Value {
        let png = dir.path().join(name);
        let mut args = vec![
            os("export"),
            os("--model"),
            model.as_os_str(),
            series.as_os_str(),
            os("--method"),
            os("gradcam"),
            os("--png"),
            png.as_os_str(),
        ];
        args.extend(extra.iter().map(os));
        let output = radlens(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        serde_json::from_slice(&std::fs::read(dir.path().join(format!("{name}.json"))).unwrap())
            .unwrap()
    };
    let (volume, _) = radlens::dicom::load(std::slice::from_ref(&series), None).unwrap();
    let default = export("default.png", &[]);
    let window = &default["display"]["window"];
    assert!(
        (window["center"].as_f64().unwrap() - f64::from(volume.default_window.center)).abs() < 1e-3
            && (window["width"].as_f64().unwrap() - f64::from(volume.default_window.width)).abs()
                < 1e-3,
        "the viewer's window, not the model's preprocessing window: {window}"
    );
    let given = export(
        "given.png",
        &["--window-center", "300", "--window-width", "600"],
    );
    assert_eq!(given["display"]["window"]["center"], 300.0);
    assert_eq!(given["display"]["window"]["width"], 600.0);
}

#[test]
fn secondary_capture_of_a_ct_and_an_mr_series_passes_dciodvfy_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (series, slice) in [
        ("dicom/series/ct_3slice_with_seg", "0"),
        ("dicom/series/mr_brain_t1_sag_35sl", "17"),
    ] {
        let out = dir.path().join(format!("{}.dcm", series.replace('/', "_")));
        let made = radlens(&[
            os("export"),
            os("--model"),
            os(&demo_model()),
            os(&data(series)),
            os("--slice"),
            os(slice),
            os("--method"),
            os("gradcam"),
            os("--dicom"),
            os(&out),
        ]);
        assert!(made.status.success(), "{series}: {}", stderr(&made));
        let (errors, warnings) = common::dciodvfy(&out);
        assert!(errors.is_empty(), "{series}: {errors:#?}");
        // The warnings docs/EXPORT.md explains, and no other: a new one must be looked at.
        let known = ["needed to build DICOMDIR", "attribute <Laterality>"];
        let unknown: Vec<&String> = warnings
            .iter()
            .filter(|w| !known.iter().any(|k| w.contains(k)))
            .collect();
        assert!(
            unknown.is_empty(),
            "{series}: new dciodvfy warnings {unknown:#?}"
        );
    }
}
