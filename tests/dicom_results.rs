//! The DICOM result objects as a PACS and radlens itself read them: the Parametric Map, the
//! Segmentation and the TID 1500 report of a shared-data CT and MR export pass `dciodvfy` without
//! errors; the map holds the `.npy` heatmap bit for bit, the SEG the ROI masks; every reference
//! resolves to a written instance or to the source; reading them back over the source gives the
//! same heatmap, the same ROIs and the same verdict; de-identified objects carry none of the
//! source's identifying values, `--keep-identity` keeps them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{data, os, radlens, stderr_text};
use dicom_core::Tag;
use dicom_dictionary_std::tags;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use radlens::export::PROFILE;

const CT: &str = "dicom/series/ct_3slice_with_seg";
const MR: &str = "dicom/series/mr_brain_t1_sag_35sl";

fn demo_model() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo/model/lesion.pt")
}

/// A disc ROI on every plane of a `[slices, rows, cols]` series, as a `.npy` mask.
fn disc_mask(dir: &Path, shape: [usize; 3]) -> PathBuf {
    let [slices, rows, cols] = shape;
    let mask = ndarray::Array3::<u8>::from_shape_fn((slices, rows, cols), |(_, r, c)| {
        let (dr, dc) = (r as f64 - rows as f64 * 0.45, c as f64 - cols as f64 * 0.55);
        u8::from(dr * dr + dc * dc < (rows as f64 / 8.0).powi(2))
    });
    let path = dir.join("roi.mask.npy");
    mask.write_npy(std::fs::File::create(&path).unwrap())
        .unwrap();
    path
}

/// `radlens export` of `series` slices `range` into `out` with `extra` arguments.
fn export(series: &str, range: &str, out: &Path, extra: &[&std::ffi::OsStr]) {
    let (model, input) = (demo_model(), data(series));
    let mut args = vec![
        os("export"),
        os("--model"),
        os(model.as_os_str()),
        os(input.as_os_str()),
        os("--slices"),
        os(range),
        os("--method"),
        os("gradcam"),
        os("--out-dir"),
        os(out),
    ];
    args.extend_from_slice(extra);
    let made = radlens(&args);
    assert!(made.status.success(), "{series}: {}", stderr_text(&made));
}

/// The CT series without its SEGs.
fn ct_volume() -> (radlens::dicom::Volume, radlens::dicom::ScanReport) {
    let files: Vec<PathBuf> = ["01.dcm", "02.dcm", "03.dcm"]
        .iter()
        .map(|f| data(CT).join(f))
        .collect();
    radlens::dicom::load(&files, None).unwrap()
}

fn open(path: &Path) -> dicom_object::DefaultDicomObject {
    dicom_object::open_file(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn text(obj: &dicom_object::InMemDicomObject, tag: Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
        .unwrap_or_default()
}

/// Every value of `tag` anywhere in `obj` (sequences included).
fn values_of(obj: &dicom_object::InMemDicomObject, tag: Tag) -> Vec<String> {
    let mut all = Vec::new();
    common::all_values(obj, &mut all);
    all.into_iter()
        .filter(|(t, _)| *t == tag)
        .map(|(_, v)| v)
        .collect()
}

#[test]
fn parametric_map_segmentation_and_report_of_a_ct_and_an_mr_series_pass_dciodvfy() {
    let dir = tempfile::tempdir().unwrap();
    let mr_input = radlens::input::Input::read(&data(MR), None, false).unwrap();
    let mr_mask = disc_mask(dir.path(), mr_input.shape);
    for (series, range, mask) in [(CT, "0..2", None), (MR, "16..18", Some(&mr_mask))] {
        let out = dir.path().join(series.replace('/', "_"));
        let mut extra = vec![os("--format"), os("pmap,seg,sr"), os("--seg-heatmap")];
        if let Some(mask) = mask {
            extra.extend([os("--mask"), os(mask.as_os_str())]);
        }
        export(series, range, &out, &extra);
        for file in [
            "heatmap_pm.dcm",
            "roi_seg.dcm",
            "heatmap_seg.dcm",
            "report_sr.dcm",
        ] {
            let path = out.join(file);
            let (errors, warnings) = common::dciodvfy(&path);
            assert!(errors.is_empty(), "{series} {file}: {errors:#?}");
            // The warnings docs/EXPORT.md explains, and no other: a new one must be looked at.
            let known = [
                "needed to build DICOMDIR",
                "attribute <Laterality>",
                // radlens' private codes and IBSI's identifiers (99RADLENS, 99IBSI).
                "Unrecognized defined term <99",
            ];
            let unknown: Vec<&String> = warnings
                .iter()
                .filter(|w| !known.iter().any(|k| w.contains(k)))
                .collect();
            assert!(
                unknown.is_empty(),
                "{series} {file}: new dciodvfy warnings {unknown:#?}"
            );
        }
    }
}

#[test]
#[allow(clippy::too_many_lines)] // export once, then check each object against its source
fn result_objects_hold_the_heatmap_and_the_roi_exactly_and_read_back_over_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ct");
    export(
        CT,
        "0..2",
        &out,
        &[
            os("--format"),
            os("png,sc,pmap,seg,sr"),
            os("--keep-identity"),
            os("--verdict"),
            os("plausible"),
            os("--note"),
            os("liver edge, not the lesion"),
        ],
    );
    let input = radlens::input::Input::read(&data(CT), None, true).unwrap();
    let (volume, _) = ct_volume();

    // The map is the `.npy` heatmap of each slice, bit for bit.
    let layer = radlens::dicom::read_parametric_map(&out.join("heatmap_pm.dcm"), &volume).unwrap();
    assert_eq!((layer.frames, layer.matched), (3, 3));
    assert_eq!(layer.label, "HEATMAP");
    let (method, _, _) = layer.radlens_target().expect("radlens' own description");
    assert_eq!(method, "gradcam");
    for slice in 0..3 {
        let npy = dir.path().join(format!("{slice}.npy"));
        let (model, input) = (demo_model(), data(CT));
        let made = radlens(&[
            os("explain"),
            os("--model"),
            os(model.as_os_str()),
            os(input.as_os_str()),
            os("--slice"),
            os(&slice.to_string()),
            os("--method"),
            os("gradcam"),
            os("--out"),
            os(&npy),
        ]);
        assert!(made.status.success(), "{}", stderr_text(&made));
        let expected =
            ndarray::Array2::<f32>::read_npy(std::fs::File::open(&npy).unwrap()).unwrap();
        let got = layer.slices[slice]
            .as_ref()
            .expect("a frame on every slice");
        let same = expected
            .iter()
            .zip(got)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same && expected.len() == got.len(), "slice {slice} differs");
    }

    // The SEG holds the ROI (the study's own SEG, read as the viewer reads it).
    let (seg, _) = radlens::dicom::load(&[out.join("roi_seg.dcm")], None).unwrap();
    let masks = radlens::dicom::masks_for(&volume, &[seg]);
    assert_eq!(masks.len(), input.masks.len());
    let mut with_roi = 0;
    for (got, expected) in masks.iter().zip(&input.masks) {
        let binary = |m: &Option<Vec<u8>>| {
            m.as_ref()
                .filter(|m| m.iter().any(|&v| v > 0))
                .map(|m| m.iter().map(|&v| u8::from(v > 0)).collect::<Vec<u8>>())
        };
        assert_eq!(binary(got), binary(expected));
        with_roi += usize::from(binary(expected).is_some());
    }
    assert!(with_roi > 0, "the study SEG should mark at least one slice");

    // The verdict and note come back from the report, with the measurements.
    let findings = radlens::dicom::read_report(&out.join("report_sr.dcm")).unwrap();
    assert_eq!(findings.len(), 3);
    for finding in &findings {
        assert_eq!(finding.verdict.as_deref(), Some("plausible"));
        assert_eq!(finding.note, "liver edge, not the lesion");
        assert_eq!(finding.method, "gradcam");
        let codes: Vec<&str> = finding
            .measurements
            .iter()
            .map(|m| m.code.as_str())
            .collect();
        for code in ["PROB", "DELAUC", "INSAUC", "SPARSENESS"] {
            assert!(codes.contains(&code), "{code} missing from {codes:?}");
        }
        assert!(finding.heatmap.is_some());
    }
    assert!(findings.iter().any(|f| f.segment.is_some()));
    // Where the slice has a region, its radiomics features: the first-order mean is the mean of
    // the ROI's pixels.
    for (slice, finding) in findings.iter().enumerate() {
        let mean = finding
            .measurements
            .iter()
            .find(|m| m.meaning == "original_firstorder_Mean");
        let Some(mask) = input.masks[slice]
            .as_ref()
            .filter(|m| m.iter().any(|&v| v > 0))
        else {
            assert!(
                mean.is_none(),
                "slice {slice} has no region, so no features"
            );
            continue;
        };
        let values = input.slice(slice);
        let inside: Vec<f64> = values
            .iter()
            .zip(mask)
            .filter(|(_, m)| **m > 0)
            .map(|(v, _)| f64::from(*v))
            .collect();
        let expected = inside.iter().sum::<f64>() / inside.len() as f64;
        let mean = mean.expect("the ROI's first-order mean");
        assert!(
            (mean.value - expected).abs() < 1e-6 * expected.abs().max(1.0),
            "{mean:?} vs {expected}"
        );
        assert_eq!(mean.unit, "[hnsf'U]");
    }

    // Every reference resolves to a written instance or to the source.
    let listing: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("export.json")).unwrap()).unwrap();
    let mut known: BTreeSet<String> = listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["sop_instance_uid"].as_str().map(str::to_owned))
        .collect();
    let sc_uids: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.to_string_lossy().contains("slice_") && p.extension().is_some_and(|e| e == "dcm")
        })
        .map(|p| text(&open(&p), tags::SOP_INSTANCE_UID))
        .collect();
    assert_eq!(sc_uids.len(), 3);
    known.extend(sc_uids);
    let sources: BTreeSet<String> = volume
        .slices
        .iter()
        .map(|s| text(&open(&s.path), tags::SOP_INSTANCE_UID))
        .collect();
    for file in ["heatmap_pm.dcm", "roi_seg.dcm", "report_sr.dcm"] {
        let obj = open(&out.join(file));
        let references = values_of(&obj, tags::REFERENCED_SOP_INSTANCE_UID);
        assert!(!references.is_empty(), "{file} references nothing");
        for uid in references {
            assert!(
                known.contains(&uid) || sources.contains(&uid),
                "{file}: reference {uid} resolves to nothing written and to no source"
            );
        }
        assert_eq!(
            text(&obj, tags::STUDY_INSTANCE_UID),
            text(&open(&volume.slices[0].path), tags::STUDY_INSTANCE_UID)
        );
    }
}

#[test]
fn deidentified_result_objects_carry_no_identifying_value_and_reference_each_other_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("deid");
    export(CT, "0..2", &out, &[os("--format"), os("pmap,seg,sr")]);
    let (volume, _) = ct_volume();
    let mut identifying: Vec<(Tag, String)> = Vec::new();
    for slice in &volume.slices {
        let mut values = Vec::new();
        common::all_values(&open(&slice.path), &mut values);
        identifying.extend(values.into_iter().filter(|(tag, v)| {
            !v.is_empty() && (PROFILE.iter().any(|(t, _)| t == tag) || tag.group() % 2 == 1)
        }));
    }
    assert!(
        identifying.iter().any(|(t, _)| *t == tags::PATIENT_NAME),
        "the test needs a source with a patient name"
    );
    let objects: Vec<_> = ["heatmap_pm.dcm", "roi_seg.dcm", "report_sr.dcm"]
        .iter()
        .map(|f| (*f, open(&out.join(f))))
        .collect();
    for (file, obj) in &objects {
        let mut values = Vec::new();
        common::all_values(obj, &mut values);
        for (tag, value) in &identifying {
            for (t, v) in &values {
                assert!(
                    !(t == tag && v == value),
                    "{file}: {tag} keeps its source value `{value}`"
                );
                // Substrings count for text (a name inside a description); numbers and UIDs
                // only count equal (a source's `1\\0\\0` is in every orientation).
                let text_like = value.chars().any(char::is_alphabetic);
                assert!(
                    !text_like || value.len() < 6 || !v.contains(value.as_str()),
                    "{file}: source value `{value}` of {tag} appears in {t}"
                );
            }
        }
        assert_eq!(text(obj, tags::PATIENT_IDENTITY_REMOVED), "YES", "{file}");
    }
    // One UID map: the study, frame of reference and source references agree across objects.
    let study: BTreeSet<String> = objects
        .iter()
        .map(|(_, o)| text(o, tags::STUDY_INSTANCE_UID))
        .collect();
    assert_eq!(study.len(), 1, "{study:?}");
    let frame_of_reference: BTreeSet<String> = objects[..2]
        .iter()
        .map(|(_, o)| text(o, tags::FRAME_OF_REFERENCE_UID))
        .collect();
    assert_eq!(frame_of_reference.len(), 1, "{frame_of_reference:?}");
    let pm_sources: BTreeSet<String> = values_of(&objects[0].1, tags::REFERENCED_SOP_INSTANCE_UID)
        .into_iter()
        .collect();
    assert_eq!(pm_sources.len(), 3, "one mapped UID per source slice");
    for (file, obj) in &objects[1..] {
        let written: BTreeSet<String> = objects
            .iter()
            .map(|(_, o)| text(o, tags::SOP_INSTANCE_UID))
            .collect();
        for uid in values_of(obj, tags::REFERENCED_SOP_INSTANCE_UID) {
            assert!(
                pm_sources.contains(&uid) || written.contains(&uid),
                "{file}: {uid} is neither a mapped source nor a written object"
            );
        }
    }

    // --keep-identity keeps them.
    let kept = dir.path().join("kept");
    export(
        CT,
        "1..1",
        &kept,
        &[os("--format"), os("pmap,sr"), os("--keep-identity")],
    );
    let source = open(&volume.slices[1].path);
    for file in ["heatmap_pm.dcm", "report_sr.dcm"] {
        let obj = open(&kept.join(file));
        for tag in [
            tags::PATIENT_NAME,
            tags::PATIENT_ID,
            tags::STUDY_INSTANCE_UID,
        ] {
            assert_eq!(text(&obj, tag), text(&source, tag), "{file} {tag}");
        }
    }
}

#[test]
fn a_segmentation_without_a_region_is_refused_with_the_reason_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mr");
    let (model, input) = (demo_model(), data(MR));
    let made = radlens(&[
        os("export"),
        os("--model"),
        os(model.as_os_str()),
        os(input.as_os_str()),
        os("--slice"),
        os("17"),
        os("--method"),
        os("gradcam"),
        os("--out-dir"),
        os(&out),
        os("--format"),
        os("pmap,seg"),
    ]);
    assert!(!made.status.success());
    let message = stderr_text(&made);
    assert!(message.contains("needs a region"), "{message}");
    assert!(!out.join("roi_seg.dcm").exists());
    assert!(!out.join("heatmap_pm.dcm").exists(), "no half an export");
    assert!(!out.join("export.json").exists());
}

#[test]
#[allow(clippy::too_many_lines)] // a review made by hand, exported, read back
fn a_review_exported_as_dicom_restores_with_the_same_entries() {
    use radlens::explain::{ExplainParams, Heatmap, Method, Provenance};
    use radlens::export::{
        DicomExport, DicomOptions, ExplainedSlice, ResultObjects, SourceImage, WritePolicy,
        write_result_objects,
    };
    use radlens::review::{ReviewEntry, Roi, Verdict};

    let dir = tempfile::tempdir().unwrap();
    let (volume, _) = ct_volume();
    let [_, rows, cols] = volume.shape;
    let heatmap = |slice: usize, method: Method| Heatmap {
        values: (0..rows * cols)
            .map(|i| ((i % cols) as f32 * 0.01 + slice as f32).sin())
            .collect(),
        rows,
        cols,
        provenance: Provenance {
            method,
            parameters: std::collections::BTreeMap::default(),
            target: 1,
            target_name: "lesion".to_owned(),
            score: 0.5,
            model_name: "test model".to_owned(),
            model_path: PathBuf::from("model.pt"),
            input_size: [rows, cols],
            forward_passes: 1,
            signed: method == Method::IntegratedGradients,
            elapsed_ms: 1.0,
        },
    };
    let cases = [
        (0, Method::GradCam, Verdict::Plausible, "edge of the liver"),
        (2, Method::IntegratedGradients, Verdict::Implausible, ""),
    ];
    let mut entries = Vec::new();
    let mut slices = Vec::new();
    for (index, method, verdict, note) in cases {
        let map = heatmap(index, method);
        let mut entry = ReviewEntry::new(
            &map,
            &ExplainParams::new(method),
            index,
            Some(format!("1.2.3.{index}")),
            verdict,
        );
        entry.note = note.to_owned();
        entry.roi = Some(Roi::Ellipse {
            center: [200.0, 180.0],
            radii: [30.0, 20.0],
        });
        let mask: Vec<u8> = entry
            .roi
            .as_ref()
            .unwrap()
            .rasterise(rows, cols)
            .unwrap()
            .into_iter()
            .map(u8::from)
            .collect();
        let meta = &volume.slices[index];
        slices.push(ExplainedSlice {
            index,
            source: SourceImage {
                path: meta.path.clone(),
                frame: None,
            },
            heatmap: map,
            probability: 0.75,
            mask: Some(mask),
            measurements: radlens::export::map_measurements(&heatmap(index, method), None, None),
            verdict: Some(verdict.name().to_owned()),
            note: note.to_owned(),
            entry_json: Some(serde_json::to_string(&entry).unwrap()),
        });
        entries.push(entry);
    }
    let mut export = DicomExport::new(DicomOptions::default());
    let policy = WritePolicy::protecting(volume.slices.iter().map(|s| s.path.clone()));
    let which = ResultObjects {
        parametric_map: true,
        segmentation: true,
        heatmap_segmentation: false,
        report: true,
    };
    let written = write_result_objects(
        &mut export,
        dir.path(),
        which,
        &slices,
        0.2,
        "test model",
        &policy,
    )
    .unwrap();
    assert_eq!(written.len(), 3);
    for (_, path, _) in &written {
        let (errors, _) = common::dciodvfy(path);
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }

    let findings = radlens::dicom::read_report(&dir.path().join("report_sr.dcm")).unwrap();
    let restored = radlens::app::review::entries_from_report(&findings).unwrap();
    assert_eq!(restored, entries);

    // Same heatmaps and ROIs over the source.
    let layer =
        radlens::dicom::read_parametric_map(&dir.path().join("heatmap_pm.dcm"), &volume).unwrap();
    for slice in &slices {
        assert_eq!(
            layer.slices[slice.index].as_deref(),
            Some(slice.heatmap.values.as_slice())
        );
    }
    assert!(layer.slices[1].is_none());
    let (seg, _) = radlens::dicom::load(&[dir.path().join("roi_seg.dcm")], None).unwrap();
    let masks = radlens::dicom::masks_for(&volume, &[seg]);
    for slice in &slices {
        assert_eq!(masks[slice.index].as_ref(), slice.mask.as_ref());
    }
}
