//! DICOM Segmentation (SOP Class 1.2.840.10008.5.1.4.1.1.66.4) of the regions a review used: the
//! ROIs as a BINARY segmentation (1 bit per pixel, frames packed back to back as PS3.5 8.1.1
//! says), or a thresholded heatmap as a FRACTIONAL one (8 bits, PROBABILITY, the map scaled to
//! 0–255). One frame per slice a segment touches, on the source grid, with the functional groups
//! that place it and the source image it derives from; each segment coded (SCT "Lesion" for a
//! drawn ROI, radlens' private code for a heatmap region) with its algorithm.

use std::path::Path;

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;

use super::instance::{
    Code, ObjectKind, pixel_measures, plane_orientation, position_ranks, put_dimensions, put_seq,
    put_str, put_strs, put_us, source_frames, truncate,
};
use super::{DicomExport, ExportError, SourceImage, WritePolicy, WrittenInstance};
use crate::explain::Heatmap;

/// DCM 113076: a segmentation derived from an image.
const SEGMENTATION_CODE: (&str, &str, &str) = ("113076", "DCM", "Segmentation");

/// BINARY (masks) or FRACTIONAL (probabilities scaled to 0–255).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentationType {
    Binary,
    Fractional,
}

/// How a segment was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentAlgorithm {
    /// Drawn by the reader.
    Manual,
    /// Computed by radlens: the method's name and its parameters (JSON).
    Automatic { name: String, parameters: String },
}

/// One segment: what it is and, per source frame, its pixels (0/1 for binary, 0–255 for
/// fractional; `None` where it does not touch the slice).
#[derive(Clone, Debug)]
pub struct Segment {
    pub label: String,
    pub category: Code,
    pub kind: Code,
    pub algorithm: SegmentAlgorithm,
    pub frames: Vec<Option<Vec<u8>>>,
}

impl Segment {
    /// A drawn or chosen region: SCT "Morphologically abnormal structure" / "Lesion", manual.
    #[must_use]
    pub fn roi(label: &str, frames: Vec<Option<Vec<u8>>>) -> Self {
        Self {
            label: label.to_owned(),
            category: Code::new("49755003", "SCT", "Morphologically abnormal structure"),
            kind: Code::new("52988006", "SCT", "Lesion"),
            algorithm: SegmentAlgorithm::Manual,
            frames,
        }
    }

    /// The region a heatmap points at: each map scaled to 0–255 from the viewer's range, zero
    /// below `threshold` (normalised, as the viewer's overlay threshold).
    #[must_use]
    pub fn heatmap_region(heatmaps: &[&Heatmap], threshold: f32) -> Self {
        let first = heatmaps.first().map(|h| &h.provenance);
        let name = first.map_or("explanation", |p| p.method.name());
        let parameters = first
            .and_then(|p| serde_json::to_string(&p.parameters).ok())
            .unwrap_or_default();
        Self {
            label: truncate(&format!("{name} heatmap"), 64),
            category: Code::private("ATTRREGION", "Attributed region"),
            kind: Code::private("HEATMAPREGION", "Heatmap region above threshold"),
            algorithm: SegmentAlgorithm::Automatic {
                name: format!("radlens {name}"),
                parameters,
            },
            frames: heatmaps
                .iter()
                .map(|h| Some(fractional(h, threshold)))
                .collect(),
        }
    }
}

/// `heatmap` as 0–255 occupancy: the viewer's normalisation, zero below `threshold`.
#[must_use]
pub fn fractional(heatmap: &Heatmap, threshold: f32) -> Vec<u8> {
    let heat = super::viewer_heat_params(heatmap, threshold, 1.0);
    let span = (heat.high - heat.low).max(f32::MIN_POSITIVE);
    heatmap
        .values
        .iter()
        .map(|&v| {
            let v = if heat.signed { v.abs() } else { v };
            let t = ((v - heat.low) / span).clamp(0.0, 1.0);
            if t.is_nan() || t < threshold {
                0
            } else {
                (t * 255.0).round() as u8
            }
        })
        .collect()
}

impl DicomExport {
    /// Writes `segments` over the slices `sources` as one Segmentation to `path`.
    pub fn write_segmentation(
        &mut self,
        path: &Path,
        sources: &[SourceImage],
        segments: &[Segment],
        kind: SegmentationType,
        policy: &WritePolicy,
    ) -> Result<WrittenInstance, ExportError> {
        policy.check(path)?;
        let (header, geometry) = source_frames(sources)?;
        let invalid = |reason: String| ExportError::Invalid { reason };
        let first = geometry
            .first()
            .cloned()
            .ok_or_else(|| invalid("no slice to segment".to_owned()))?;
        let frames = frames_to_write(segments, geometry.len(), first.rows * first.cols)?;
        let (mut obj, _) = self.new_instance(
            &header,
            ObjectKind::Segmentation,
            uids::SEGMENTATION_STORAGE,
            "SEG",
            1,
        );
        Self::put_enhanced_equipment(&mut obj);
        self.put_frame_of_reference(&mut obj, &first);
        put_segmentation_image(&mut obj, segments, kind, &first, frames.len());
        let mut shared = InMemDicomObject::new_empty();
        put_seq(
            &mut shared,
            tags::PIXEL_MEASURES_SEQUENCE,
            vec![pixel_measures(&first)],
        );
        put_seq(
            &mut shared,
            tags::PLANE_ORIENTATION_SEQUENCE,
            vec![plane_orientation(&first)],
        );
        put_seq(
            &mut obj,
            tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
            vec![shared],
        );
        let (per_frame, referenced) = self.per_frame_groups(&geometry, &frames);
        put_seq(
            &mut obj,
            tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
            per_frame,
        );
        put_dimensions(
            &mut obj,
            &[
                (
                    tags::REFERENCED_SEGMENT_NUMBER,
                    tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                    "Referenced Segment Number",
                ),
                (
                    tags::IMAGE_POSITION_PATIENT,
                    tags::PLANE_POSITION_SEQUENCE,
                    "Image Position Patient",
                ),
            ],
        );
        self.put_common_instance_reference(&mut obj, &geometry);
        let data = pixel_data(kind, &frames);
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            PrimitiveValue::from(data),
        ));
        self.finish(
            obj,
            ObjectKind::Segmentation,
            uids::SEGMENTATION_STORAGE,
            referenced,
            path,
            policy,
        )
    }

    /// Each frame's functional groups (frame content, plane position, derivation image, segment
    /// identification) and the source instance it references.
    fn per_frame_groups(
        &mut self,
        geometry: &[super::instance::SourceFrame],
        frames: &[Frame<'_>],
    ) -> (Vec<InMemDicomObject>, Vec<String>) {
        let ranks = position_ranks(geometry);
        let mut per_frame = Vec::with_capacity(frames.len());
        let mut referenced = Vec::with_capacity(frames.len());
        for &(number, index, _) in frames {
            let (mut item, source) = self.frame_groups(
                &geometry[index],
                &[u32::from(number), ranks[index]],
                SEGMENTATION_CODE,
                "radlens segmentation",
            );
            referenced.push(source);
            let mut identification = InMemDicomObject::new_empty();
            put_us(&mut identification, tags::REFERENCED_SEGMENT_NUMBER, number);
            put_seq(
                &mut item,
                tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                vec![identification],
            );
            per_frame.push(item);
        }
        (per_frame, referenced)
    }
}

/// A frame to write: segment number, index of the source frame, its pixels.
type Frame<'a> = (u16, usize, &'a [u8]);

/// The Pixel Data of `frames`: bit-packed (binary) or one byte per pixel (fractional), of even
/// length.
fn pixel_data(kind: SegmentationType, frames: &[Frame<'_>]) -> Vec<u8> {
    match kind {
        SegmentationType::Binary => pack_bits(frames.iter().map(|(_, _, m)| *m)),
        SegmentationType::Fractional => {
            let mut data: Vec<u8> = frames
                .iter()
                .flat_map(|(_, _, m)| m.iter().copied())
                .collect();
            if data.len() % 2 == 1 {
                data.push(0);
            }
            data
        }
    }
}

/// `(segment number, source frame index, pixels)` of each frame to write: every slice a segment
/// has a pixel on, segment by segment; checked against the `slices` and their `pixels`.
fn frames_to_write(
    segments: &[Segment],
    slices: usize,
    pixels: usize,
) -> Result<Vec<Frame<'_>>, ExportError> {
    let invalid = |reason: String| ExportError::Invalid { reason };
    let mut frames = Vec::new();
    for (number, segment) in (1u16..).zip(segments) {
        if segment.frames.len() != slices {
            return Err(invalid(format!(
                "segment '{}' has {} frames for {slices} slices",
                segment.label,
                segment.frames.len(),
            )));
        }
        for (index, mask) in segment.frames.iter().enumerate() {
            let Some(mask) = mask else { continue };
            if mask.len() != pixels {
                return Err(invalid(format!(
                    "segment '{}' is not on the slice grid ({} pixels, not {pixels})",
                    segment.label,
                    mask.len()
                )));
            }
            if mask.iter().any(|&v| v > 0) {
                frames.push((number, index, mask.as_slice()));
            }
        }
    }
    if frames.is_empty() {
        return Err(invalid(
            "the region is empty: no segment has a pixel to write".to_owned(),
        ));
    }
    Ok(frames)
}

/// Segmentation Image, Image Pixel and Multi-frame Functional Groups attributes, and the
/// Segment Sequence.
fn put_segmentation_image(
    obj: &mut InMemDicomObject,
    segments: &[Segment],
    kind: SegmentationType,
    first: &super::instance::SourceFrame,
    frames: usize,
) {
    put_strs(obj, tags::IMAGE_TYPE, VR::CS, &["DERIVED", "PRIMARY"]);
    let (label, bits, type_name) = match kind {
        SegmentationType::Binary => ("ROI", 1, "BINARY"),
        SegmentationType::Fractional => ("HEATMAP", 8, "FRACTIONAL"),
    };
    for (tag, vr, value) in [
        (tags::CONTENT_LABEL, VR::CS, label),
        (tags::CONTENT_DESCRIPTION, VR::LO, "radlens review regions"),
        (tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        (tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00"),
        (tags::SEGMENTATION_TYPE, VR::CS, type_name),
        (tags::NUMBER_OF_FRAMES, VR::IS, &frames.to_string()),
    ] {
        put_str(obj, tag, vr, value);
    }
    if kind == SegmentationType::Fractional {
        put_str(
            obj,
            tags::SEGMENTATION_FRACTIONAL_TYPE,
            VR::CS,
            "PROBABILITY",
        );
        put_us(obj, tags::MAXIMUM_FRACTIONAL_VALUE, 255);
    }
    obj.put(DataElement::empty(tags::CONTENT_CREATOR_NAME, VR::PN));
    put_us(obj, tags::SAMPLES_PER_PIXEL, 1);
    put_us(obj, tags::ROWS, first.rows as u16);
    put_us(obj, tags::COLUMNS, first.cols as u16);
    put_us(obj, tags::BITS_ALLOCATED, bits);
    put_us(obj, tags::BITS_STORED, bits);
    put_us(obj, tags::HIGH_BIT, bits - 1);
    put_us(obj, tags::PIXEL_REPRESENTATION, 0);
    let items = (1u16..)
        .zip(segments)
        .map(|(number, segment)| segment_item(number, segment))
        .collect();
    put_seq(obj, tags::SEGMENT_SEQUENCE, items);
}

/// One item of the Segment Sequence.
fn segment_item(number: u16, segment: &Segment) -> InMemDicomObject {
    let mut item = InMemDicomObject::new_empty();
    put_us(&mut item, tags::SEGMENT_NUMBER, number);
    put_str(
        &mut item,
        tags::SEGMENT_LABEL,
        VR::LO,
        &truncate(&segment.label, 64),
    );
    put_seq(
        &mut item,
        tags::SEGMENTED_PROPERTY_CATEGORY_CODE_SEQUENCE,
        vec![segment.category.item()],
    );
    put_seq(
        &mut item,
        tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE,
        vec![segment.kind.item()],
    );
    match &segment.algorithm {
        SegmentAlgorithm::Manual => {
            put_str(&mut item, tags::SEGMENT_ALGORITHM_TYPE, VR::CS, "MANUAL");
        }
        SegmentAlgorithm::Automatic { name, parameters } => {
            put_str(&mut item, tags::SEGMENT_ALGORITHM_TYPE, VR::CS, "AUTOMATIC");
            put_str(
                &mut item,
                tags::SEGMENT_ALGORITHM_NAME,
                VR::LO,
                &truncate(name, 64),
            );
            let mut algorithm = InMemDicomObject::new_empty();
            put_seq(
                &mut algorithm,
                tags::ALGORITHM_FAMILY_CODE_SEQUENCE,
                vec![Code::private("ATTRIBUTION", "Attribution map").item()],
            );
            put_str(
                &mut algorithm,
                tags::ALGORITHM_NAME,
                VR::LO,
                &truncate(name, 64),
            );
            put_str(
                &mut algorithm,
                tags::ALGORITHM_VERSION,
                VR::LO,
                env!("CARGO_PKG_VERSION"),
            );
            if !parameters.is_empty() {
                put_str(
                    &mut algorithm,
                    tags::ALGORITHM_PARAMETERS,
                    VR::LT,
                    parameters,
                );
            }
            put_seq(
                &mut item,
                tags::SEGMENTATION_ALGORITHM_IDENTIFICATION_SEQUENCE,
                vec![algorithm],
            );
        }
    }
    item
}

/// Frames of 0/non-0 pixels packed 1 bit per pixel, least significant bit first, frames back to
/// back, padded to an even length.
#[must_use]
pub fn pack_bits<'a>(frames: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut bit = 0usize;
    for frame in frames {
        for &v in frame {
            if bit.is_multiple_of(8) {
                out.push(0);
            }
            if v > 0 {
                *out.last_mut().expect("pushed above") |= 1 << (bit % 8);
            }
            bit += 1;
        }
    }
    if out.len() % 2 == 1 {
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_pack_least_significant_first_across_frames() {
        let a = [1u8, 0, 0, 1, 0];
        let b = [0u8, 1, 1, 0, 0];
        // bits 0..10: 1 0 0 1 0 | 0 1 1 0 0 -> byte0 = 0b1100_1001, byte1 = 0b0000_0000
        assert_eq!(
            pack_bits([&a[..], &b[..]].into_iter()),
            vec![0b1100_1001, 0]
        );
        assert_eq!(pack_bits([&[1u8; 9][..]].into_iter()), vec![0xff, 0x01]);
    }
}
