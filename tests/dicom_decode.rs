//! Decoding every real file of ../shared/data against pydicom's results (MANIFEST.tsv).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::unreadable_literal)]

mod common;

use common::{data, load, manifest};
use radlens::dicom::{self, DicomError, Photometric, Voxels};

/// Enhanced multi-frame objects carry their modality LUT in functional groups, which pydicom's
/// `apply_modality_lut` ignores (MANIFEST's slope/intercept columns are empty for them). Values read
/// with pydicom from SharedFunctionalGroupsSequence › PixelValueTransformationSequence.
const FUNCTIONAL_GROUP_RESCALE: &[(&str, (f64, f64))] =
    &[("mf_pdd_eCT_Supplemental.dcm", (1.0, -1024.0))];

#[test]
fn every_decodable_file_matches_pydicom_shape_and_range() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for row in manifest().iter().filter(|r| r.is_dicom() && r.decodes()) {
        let path = data(row.relpath());
        let volume = match dicom::load(std::slice::from_ref(&path), None) {
            Ok((v, _)) => v,
            Err(e) => {
                failures.push(format!("{}: {e}", row.relpath()));
                continue;
            }
        };
        checked += 1;
        let shape = row.shape();
        let palette = row.get("photometric") == "PALETTE COLOR";
        let expected_shape: Vec<usize> = match shape.as_slice() {
            [r, c] if palette => vec![1, *r, *c, 3],
            [r, c] => vec![1, *r, *c],
            [r, c, 3] => vec![1, *r, *c, 3],
            [f, r, c] => vec![*f, *r, *c],
            other => panic!("unexpected shape {other:?}"),
        };
        let mut got_shape = volume.shape.to_vec();
        if matches!(volume.voxels, Voxels::Rgb8(_)) {
            got_shape.push(3);
        }
        if got_shape != expected_shape {
            failures.push(format!(
                "{}: shape {got_shape:?}, pydicom {expected_shape:?}",
                row.relpath()
            ));
            continue;
        }
        if palette {
            // pydicom reports palette indices; we expand them to RGB (checked in its own test).
            continue;
        }
        let file_name = row.relpath().rsplit('/').next().unwrap_or_default();
        let (slope, intercept) = FUNCTIONAL_GROUP_RESCALE
            .iter()
            .find(|(name, _)| *name == file_name)
            .map_or_else(|| row.rescale(), |(_, r)| *r);
        let (raw_min, raw_max) = row.raw_min_max();
        let (lo, hi) = (raw_min * slope + intercept, raw_max * slope + intercept);
        let (min, max) = volume.min_max().expect("values");
        let close = |a: f64, b: f32| (a - f64::from(b)).abs() <= 1e-3 * a.abs().max(1.0);
        if !close(lo.min(hi), min) || !close(lo.max(hi), max) {
            failures.push(format!(
                "{}: range {min}..{max}, pydicom {lo}..{hi}",
                row.relpath()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 100, "only {checked} files checked");
}

#[test]
fn the_nine_qats_transfer_syntaxes_decode_identically() {
    let rows = manifest();
    let qats: Vec<_> = rows
        .iter()
        .filter(|r| r.relpath().contains("mr_qats_"))
        .collect();
    assert_eq!(qats.len(), 9);
    let reference = load(&data(qats[0].relpath()));
    for row in &qats[1..] {
        let volume = load(&data(row.relpath()));
        assert_eq!(volume.shape, reference.shape, "{}", row.relpath());
        assert!(
            volume.voxels == reference.voxels,
            "{} differs from {}",
            row.relpath(),
            qats[0].relpath()
        );
    }
}

#[test]
fn lossless_ct_wg04_variants_are_identical() {
    let names = ["UNC", "RLE", "JPLL", "JLSL", "J2KR"];
    let reference = load(&data("dicom/single/ct_wg04_CT1_UNC.dcm"));
    assert!(
        matches!(reference.voxels, Voxels::I16(_)),
        "CT in HU fits i16 exactly"
    );
    for name in &names[1..] {
        let volume = load(&data(&format!("dicom/single/ct_wg04_CT1_{name}.dcm")));
        assert!(
            volume.voxels == reference.voxels,
            "CT1_{name} differs from CT1_UNC"
        );
    }
}

#[test]
fn ct_values_are_hounsfield_units_after_rescale() {
    // Stored -2000..2278 with intercept -1024.
    let volume = load(&data("dicom/single/ct_wg04_CT1_UNC.dcm"));
    assert_eq!(volume.min_max(), Some((-3024.0, 1254.0)));
}

#[test]
fn fractional_rescale_is_kept_as_float() {
    let volume = load(&data("dicom/single/mr_wg04_MR4_UNC.dcm"));
    assert!(matches!(volume.voxels, Voxels::F32(_)));
}

#[test]
fn values_beyond_i16_after_rescale_fall_back_to_float() {
    // Stored values span the full int16 range; with intercept -1024 they no longer fit.
    let volume = load(&data("dicom/single/ct_ljd_JPEGLossless_signed_bad.dcm"));
    assert!(matches!(volume.voxels, Voxels::F32(_)));
    assert_eq!(volume.min_max(), Some((-33792.0, 31743.0)));
}

#[test]
fn monochrome1_is_marked_for_inverted_display() {
    let volume = load(&data("dicom/single/cr_wg04_RG3_J2KI_monochrome1.dcm"));
    assert_eq!(volume.photometric, Photometric::Monochrome1);
}

#[test]
fn palette_colour_is_expanded_to_rgb() {
    let volume = load(&data("dicom/single/us_pdd_OBXXXX1A_rle_palette.dcm"));
    let Voxels::Rgb8(rgb) = &volume.voxels else {
        panic!("palette image should become RGB");
    };
    assert_eq!(volume.photometric, Photometric::Rgb);
    let coloured = rgb
        .chunks_exact(3)
        .filter(|p| p[0] != p[1] || p[1] != p[2])
        .count();
    assert!(
        coloured > 100,
        "a palette ultrasound has colour pixels, found {coloured}"
    );
}

#[test]
fn multi_frame_gives_one_slice_per_frame() {
    let volume = load(&data("dicom/single/mf_pdd_emri_small.dcm"));
    assert_eq!(volume.shape, [10, 64, 64]);
    assert_eq!(volume.slices.len(), 10);
    assert_eq!(volume.slices[9].frame, 9);
}

#[test]
fn segmentation_bits_decode_to_zero_and_one() {
    let volume = load(&data("dicom/series/ct_3slice_with_seg/seg_liver.dcm"));
    assert_eq!(volume.shape, [3, 512, 512]);
    assert_eq!(volume.min_max(), Some((0.0, 1.0)));
}

#[test]
fn files_pydicom_cannot_decode_give_clear_errors() {
    for row in manifest().iter().filter(|r| r.is_dicom() && !r.decodes()) {
        let path = data(row.relpath());
        let err = dicom::load(std::slice::from_ref(&path), None).expect_err(row.relpath());
        let message = err.to_string();
        assert!(
            matches!(
                err,
                DicomError::Decode { .. } | DicomError::UnsupportedTransferSyntax { .. }
            ),
            "{message}"
        );
        assert!(
            message.ends_with(&path.display().to_string()),
            "path last: {message}"
        );
        assert!(!message.contains('\n'), "one line: {message}");
    }
}
