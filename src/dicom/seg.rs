//! DICOM Segmentation objects as regions of interest on the series they segment: each SEG frame is
//! matched to the target slice at its position (within half a slice spacing) and all segments are
//! united into one 0/1 mask per slice. No resampling: frames on another pixel grid are ignored.

use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::mem::InMemElement;

use super::error::DicomError;
use super::series::{Series, dot};
use super::volume::{Volume, Voxels};

/// SEG series of the same study whose frames share the target's image size.
#[must_use]
pub fn segmentations_for<'a>(target: &Series, candidates: &'a [Series]) -> Vec<&'a Series> {
    let study = &target.files[0].study_uid;
    candidates
        .iter()
        .filter(|s| s.modality() == "SEG" && s.rows() == target.rows() && s.cols() == target.cols())
        .filter(|s| &s.files[0].study_uid == study)
        .collect()
}

/// One mask per slice of `target` (`None` where no segment touches the slice).
#[must_use]
pub fn masks_for(target: &Volume, segmentations: &[Volume]) -> Vec<Option<Vec<u8>>> {
    masks_where(target, segmentations, &|_| true)
}

/// The segment number of each frame of a SEG file (Referenced Segment Number in the frame's
/// Segment Identification Sequence), in file frame order.
pub fn frame_segments(path: &Path) -> Result<Vec<u16>, DicomError> {
    let object = super::open(path, super::ReadExtent::Header)?;
    let frames = object
        .get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .and_then(InMemElement::items)
        .unwrap_or_default();
    frames
        .iter()
        .map(|frame| {
            frame
                .get(tags::SEGMENT_IDENTIFICATION_SEQUENCE)
                .and_then(InMemElement::items)
                .and_then(|items| items.first())
                .and_then(|item| item.get(tags::REFERENCED_SEGMENT_NUMBER))
                .and_then(|e| e.to_int::<u16>().ok())
                .ok_or_else(|| DicomError::Malformed {
                    reason: "a SEG frame without a Referenced Segment Number".into(),
                    path: path.to_owned(),
                })
        })
        .collect()
}

/// One mask per slice of `target` from the frames of `segmentation` that belong to segment
/// `number` (`frame_segments` of its file).
#[must_use]
pub fn segment_masks_for(
    target: &Volume,
    segmentation: &Volume,
    frame_segments: &[u16],
    number: u16,
) -> Vec<Option<Vec<u8>>> {
    masks_where(target, std::slice::from_ref(segmentation), &|frame| {
        frame_segments.get(frame as usize) == Some(&number)
    })
}

/// [`masks_for`] with the SEG frames (by file frame index) that `take` accepts.
fn masks_where(
    target: &Volume,
    segmentations: &[Volume],
    take: &dyn Fn(u32) -> bool,
) -> Vec<Option<Vec<u8>>> {
    let [slices, rows, cols] = target.shape;
    let plane = rows * cols;
    let mut masks: Vec<Option<Vec<u8>>> = vec![None; slices];
    for seg in segmentations {
        if seg.shape[1] != rows || seg.shape[2] != cols {
            continue;
        }
        for (frame, meta) in seg.slices.iter().enumerate() {
            if !take(meta.frame) {
                continue;
            }
            let Some(slice) = meta.position_mm.and_then(|p| slice_at(target, p)) else {
                continue;
            };
            let mask = masks[slice].get_or_insert_with(|| vec![0; plane]);
            let range = frame * plane..(frame + 1) * plane;
            match &seg.voxels {
                Voxels::I16(v) => mask
                    .iter_mut()
                    .zip(&v[range])
                    .for_each(|(m, &x)| *m |= u8::from(x > 0)),
                Voxels::F32(v) => mask
                    .iter_mut()
                    .zip(&v[range])
                    .for_each(|(m, &x)| *m |= u8::from(x > 0.0)),
                Voxels::Rgb8(_) => {}
            }
        }
    }
    masks
}

/// The slice of `target` a frame at `position` (its top left corner, mm) lies on: on the same
/// in-plane grid (within half a pixel) and within half a slice spacing of the slice.
pub(super) fn slice_at(target: &Volume, position: [f64; 3]) -> Option<usize> {
    let normal = target.geometry.slice_direction;
    let half_step = target.geometry.spacing_mm[0] / 2.0;
    let pixel_mm = target.geometry.spacing_mm[1].min(target.geometry.spacing_mm[2]);
    let origin = target.geometry.origin_mm;
    let offset = [
        position[0] - origin[0],
        position[1] - origin[1],
        position[2] - origin[2],
    ];
    let along = dot(offset, normal);
    let in_plane = [
        offset[0] - along * normal[0],
        offset[1] - along * normal[1],
        offset[2] - along * normal[2],
    ];
    if dot(in_plane, in_plane).sqrt() > pixel_mm / 2.0 {
        return None;
    }
    let depth = dot(position, normal);
    let (slice, distance) = target
        .slices
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.position_mm.map(|p| (i, (dot(p, normal) - depth).abs())))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    (distance <= half_step.max(1e-3)).then_some(slice)
}

/// Mask files beside a series: `NAME.mask.npy`, `uint8` or `bool` `[slices, rows, cols]` in the
/// series' position order (as the demo study's ground truth is written), non-zero inside. Their
/// masks are united into `masks`; a file that does not fit the series is left out with a warning.
pub fn add_mask_files(target: &Volume, masks: &mut [Option<Vec<u8>>]) -> Vec<String> {
    let files = mask_files_for(target);
    let [slices, rows, cols] = target.shape;
    let mut warnings = Vec::new();
    for file in files {
        let values = match read_mask(&file) {
            Ok(v) if v.dim() == (slices, rows, cols) => v,
            Ok(v) => {
                warnings.push(format!(
                    "mask shape {:?} does not fit the series' [{slices}, {rows}, {cols}]: {}",
                    v.shape(),
                    file.display()
                ));
                continue;
            }
            Err(cause) => {
                warnings.push(format!("mask not read ({cause}): {}", file.display()));
                continue;
            }
        };
        for (slice, mask) in masks.iter_mut().enumerate().take(slices) {
            let plane = values.index_axis(ndarray::Axis(0), slice);
            if plane.iter().all(|&v| v == 0) {
                continue;
            }
            let target = mask.get_or_insert_with(|| vec![0; rows * cols]);
            for (t, &v) in target.iter_mut().zip(plane.iter()) {
                *t |= u8::from(v != 0);
            }
        }
    }
    warnings
}

/// The `*.mask.npy` files beside a series' first slice (what [`add_mask_files`] reads), sorted.
#[must_use]
pub fn mask_files_for(target: &Volume) -> Vec<std::path::PathBuf> {
    let Some(dir) = target.slices.first().and_then(|s| s.path.parent()) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".mask.npy"))
        .collect();
    files.sort();
    files
}

fn read_mask(path: &std::path::Path) -> Result<ndarray::Array3<u8>, String> {
    use ndarray_npy::ReadNpyExt;
    let open = || std::fs::File::open(path).map_err(|e| e.to_string());
    match ndarray::Array3::<u8>::read_npy(open()?) {
        Ok(v) => Ok(v),
        Err(first) => ndarray::Array3::<bool>::read_npy(open()?)
            .map(|v| v.mapv(u8::from))
            .map_err(|_| format!("not a uint8/bool [slices, rows, cols] .npy: {first}")),
    }
}
