//! Real multi-slice series: grouping, ordering, geometry, and agreement with dicom2nifti.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::unreadable_literal)]

mod common;

use std::io::Read;

use common::{data, load};
use radlens::dicom::{self, SliceOrder, Voxels, slice_normal};

#[test]
fn series_sorted_by_position_not_filename() {
    let volume = load(&data("dicom/series/mr_prostate_adc_20sl"));
    assert_eq!(volume.shape, [20, 256, 256]);
    assert_eq!(volume.order, SliceOrder::Position);
    let names: Vec<String> = volume
        .slices
        .iter()
        .map(|s| s.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut by_name = names.clone();
    by_name.sort();
    assert_ne!(
        names, by_name,
        "this series' file names are not in slice order"
    );
    let normal = slice_normal(&[
        0.999981,
        0.00479144,
        0.0038759,
        -0.00540165,
        0.984755,
        0.173861,
    ])
    .unwrap();
    let along: Vec<f64> = volume
        .slices
        .iter()
        .map(|s| {
            let p = s.position_mm.unwrap();
            p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2]
        })
        .collect();
    assert!(
        along.windows(2).all(|w| w[1] > w[0]),
        "positions ascend along the normal: {along:?}"
    );
    let instances: Vec<i32> = volume
        .slices
        .iter()
        .map(|s| s.instance_number.unwrap())
        .collect();
    assert_eq!(instances, (1..=20).collect::<Vec<_>>());
}

#[test]
fn sagittal_brain_series_has_its_geometry() {
    let volume = load(&data("dicom/series/mr_brain_t1_sag_35sl"));
    assert_eq!(volume.shape, [35, 256, 256]);
    let [ds, dr, dc] = volume.geometry.spacing_mm;
    assert!((ds - 4.8).abs() < 1e-3, "slice spacing {ds}");
    assert!((dr - 1.015625).abs() < 1e-9 && (dc - 1.015625).abs() < 1e-9);
    assert!(volume.warnings.is_empty(), "{:?}", volume.warnings);
    // Voxel (0,0,k) sits at slice k's ImagePositionPatient.
    let last = volume.slices.last().unwrap().position_mm.unwrap();
    let mapped = volume.geometry.patient_from_voxel([0.0, 0.0, 34.0]);
    for i in 0..3 {
        assert!((mapped[i] - last[i]).abs() < 1e-3, "{mapped:?} vs {last:?}");
    }
}

#[test]
fn series_without_file_meta_loads() {
    let volume = load(&data("dicom/series/ct_phantom_egsnrc_10sl_nometa"));
    assert_eq!(volume.shape, [10, 512, 512]);
    assert_eq!(volume.modality, "CT");
    assert_eq!(volume.order, SliceOrder::Position);
}

#[test]
fn folder_with_segmentations_lists_each_series() {
    let report = dicom::scan(&[data("dicom/series/ct_3slice_with_seg")]).unwrap();
    let mut modalities: Vec<&str> = report
        .series
        .iter()
        .map(radlens::dicom::Series::modality)
        .collect();
    modalities.sort_unstable();
    assert_eq!(modalities, ["CT", "SEG", "SEG"]);
    let ct = report.series.iter().find(|s| s.modality() == "CT").unwrap();
    assert_eq!(ct.slices.len(), 3);
    assert_eq!(
        report.ignored.len(),
        1,
        "the licence text is ignored: {:?}",
        report.ignored
    );
}

#[test]
fn same_position_in_many_files_is_reported() {
    // The nine qats files are one image transcoded (new SOP Instance UIDs, same position).
    let report = dicom::scan(&[data("dicom/single")]).unwrap();
    let qats = report
        .series
        .iter()
        .find(|s| s.series_uid() == "1.3.12.2.1107.5.2.32.35131.2014031012481958900586557.0.0.0")
        .unwrap();
    assert_eq!(qats.slices.len(), 9);
    assert!(
        qats.warnings.iter().any(|w| w.contains("share a position")),
        "{:?}",
        qats.warnings
    );
}

#[test]
fn copies_of_one_instance_are_one_image() {
    // The enhanced MR sample in four transfer syntaxes keeps its SOP Instance UID.
    let report = dicom::scan(&[data("dicom/single")]).unwrap();
    let duplicates: Vec<_> = report
        .skipped
        .iter()
        .filter(|s| s.reason.contains("same SOP Instance UID"))
        .collect();
    assert_eq!(duplicates.len(), 3, "{duplicates:?}");
    assert!(
        duplicates
            .iter()
            .all(|s| s.path.to_string_lossy().contains("mf_pdd_emri_small_"))
    );
}

/// dicom2nifti's volume of the 4-slice series, read from the .nii.gz (NIfTI-1, uint16, no scaling).
fn read_nifti_u16(path: &std::path::Path) -> ([usize; 3], Vec<u16>) {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    let i16_at = |o: usize| i16::from_le_bytes([bytes[o], bytes[o + 1]]);
    assert_eq!(
        i32::from_le_bytes(bytes[0..4].try_into().unwrap()),
        348,
        "NIfTI-1 little endian"
    );
    assert_eq!(i16_at(70), 512, "datatype uint16");
    let dims = [
        i16_at(42) as usize,
        i16_at(44) as usize,
        i16_at(46) as usize,
    ];
    let vox_offset = f32::from_le_bytes(bytes[108..112].try_into().unwrap()) as usize;
    let values = bytes[vox_offset..]
        .chunks_exact(2)
        .take(dims.iter().product())
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    (dims, values)
}

/// Axis correspondence (documented in docs/DICOM.md): NIfTI `[i, j, k]` = volume
/// `[slices - 1 - k, j, i]`: columns are i, rows are j, and dicom2nifti's slice axis runs against
/// our ascending-along-the-normal order.
#[test]
fn four_slice_series_equals_dicom2nifti_up_to_axis_order() {
    let dir = data("dicom/series/mr_4sl_jpeg_lossless_dicom2nifti");
    let volume = load(&dir);
    let (dims, nifti) = read_nifti_u16(&dir.join("001_ground_truth.nii.gz"));
    let [s, r, c] = volume.shape;
    assert_eq!(dims, [c, r, s]);
    let Voxels::I16(ours) = &volume.voxels else {
        panic!("uint16 MR fits i16")
    };
    for k in 0..s {
        for j in 0..r {
            for i in 0..c {
                let theirs = nifti[i + c * (j + r * k)];
                let mine = ours[((s - 1 - k) * r + j) * c + i];
                assert_eq!(
                    i32::from(theirs),
                    i32::from(mine),
                    "at nifti [{i}, {j}, {k}]"
                );
            }
        }
    }
}

#[test]
fn liver_segmentation_lands_on_the_liver() {
    let report = dicom::scan(&[data("dicom/series/ct_3slice_with_seg")]).unwrap();
    let ct_series = report.series.iter().find(|s| s.modality() == "CT").unwrap();
    let segs = dicom::segmentations_for(ct_series, &report.series);
    assert_eq!(segs.len(), 2, "both SEG objects of the study apply");
    let control = dicom::LoadControl::default();
    let ct = dicom::load_series(ct_series, &control).unwrap();
    let liver = segs
        .iter()
        .find(|s| s.files[0].series_description.contains("Liver"))
        .unwrap();
    let liver = dicom::load_series(liver, &control).unwrap();
    let masks = dicom::masks_for(&ct, std::slice::from_ref(&liver));
    assert_eq!(masks.len(), 3);
    for (slice, mask) in masks.iter().enumerate() {
        let mask = mask
            .as_ref()
            .unwrap_or_else(|| panic!("slice {slice} has no liver mask"));
        let inside: Vec<f32> = mask
            .iter()
            .enumerate()
            .filter(|(_, m)| **m != 0)
            .map(|(i, _)| ct.value(slice, i / 512, i % 512).unwrap())
            .collect();
        assert!(
            inside.len() > 5000,
            "slice {slice}: {} liver pixels",
            inside.len()
        );
        // Liver parenchyma on CT is roughly 40–70 HU; the mask must sit on soft tissue, not air.
        let mean = inside.iter().sum::<f32>() / inside.len() as f32;
        assert!(
            (20.0..120.0).contains(&mean),
            "slice {slice}: mean {mean} HU inside the liver mask"
        );
    }
}
