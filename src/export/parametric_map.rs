//! DICOM Parametric Map (SOP Class 1.2.840.10008.5.1.4.1.1.30) of explanations: the raw heatmap
//! values as 32-bit floats on the source slice grid, one frame per explained slice, with the
//! per-frame functional groups a viewer needs to place each frame (plane position and
//! orientation, pixel measures, the source image it derives from), a Real World Value Mapping
//! (coded "no units", the LUT explanation naming method and target), Content Label `HEATMAP`, a
//! VOI window spanning the values, in the source's study and frame of reference and a new series.
//!
//! The values are written as they are: `radlens` reads them back bit-for-bit
//! ([`crate::dicom::read_parametric_map`]).

use std::path::Path;

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;

use super::instance::{
    ObjectKind, PRIVATE_SCHEME, SourceFrame, code_item, pixel_measures, plane_orientation,
    position_ranks, put_dimensions, put_ds, put_seq, put_str, put_strs, put_us, source_frames,
    truncate,
};
use super::{DicomExport, ExportError, SourceImage, WritePolicy, WrittenInstance};
use crate::explain::Heatmap;

/// The Content Label of radlens' Parametric Maps.
pub const HEATMAP_LABEL: &str = "HEATMAP";

/// The derivation of an attribution map (private: no standard code names it).
const ATTRIBUTION_CODE: (&str, &str, &str) = ("ATTRIBUTION", PRIVATE_SCHEME, "Attribution map");

/// The Content Description of a map: method, class and model, parseable back
/// ([`crate::dicom::MapDescription`]).
#[must_use]
pub fn map_description(heatmap: &Heatmap) -> String {
    let p = &heatmap.provenance;
    truncate(
        &format!(
            "{} class {} ({}) of {}",
            p.method.name(),
            p.target,
            p.target_name,
            p.model_name
        ),
        64,
    )
}

impl DicomExport {
    /// Writes the heatmaps of `frames` (each on its source slice's grid) as one multi-frame
    /// Parametric Map to `path`.
    pub fn write_parametric_map(
        &mut self,
        path: &Path,
        frames: &[(SourceImage, &Heatmap)],
        policy: &WritePolicy,
    ) -> Result<WrittenInstance, ExportError> {
        policy.check(path)?;
        let sources: Vec<SourceImage> = frames.iter().map(|(s, _)| s.clone()).collect();
        let (header, geometry) = source_frames(&sources)?;
        let first = geometry.first().ok_or_else(|| ExportError::Invalid {
            reason: "no heatmap to write as a Parametric Map".to_owned(),
        })?;
        for ((_, heatmap), frame) in frames.iter().zip(&geometry) {
            if (heatmap.rows, heatmap.cols) != (frame.rows, frame.cols) {
                return Err(ExportError::Source {
                    reason: format!(
                        "heatmap is {}x{}, the slice {}x{}",
                        heatmap.rows, heatmap.cols, frame.rows, frame.cols
                    ),
                    path: frame.path.clone(),
                });
            }
        }
        let heatmap = frames[0].1;
        let (mut obj, _) = self.new_instance(
            &header,
            ObjectKind::ParametricMap,
            uids::PARAMETRIC_MAP_STORAGE,
            // The modality of the maps is that of the images they were computed from.
            &first.modality.clone(),
            1,
        );
        Self::put_enhanced_equipment(&mut obj);
        let first = first.clone();
        self.put_frame_of_reference(&mut obj, &first);
        put_image_attributes(&mut obj, heatmap, &geometry, frames.len());
        let (low, high) = value_range(frames.iter().map(|(_, h)| *h));
        put_seq(
            &mut obj,
            tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
            vec![shared_groups(&first, heatmap, low, high)],
        );
        let ranks = position_ranks(&geometry);
        let mut per_frame = Vec::with_capacity(frames.len());
        let mut referenced = Vec::with_capacity(frames.len());
        let description = format!("radlens {}", map_description(heatmap));
        for (frame, rank) in geometry.iter().zip(ranks) {
            let (item, source) = self.frame_groups(frame, &[rank], ATTRIBUTION_CODE, &description);
            referenced.push(source);
            per_frame.push(item);
        }
        put_seq(
            &mut obj,
            tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
            per_frame,
        );
        put_dimensions(
            &mut obj,
            &[(
                tags::IMAGE_POSITION_PATIENT,
                tags::PLANE_POSITION_SEQUENCE,
                "Image Position Patient",
            )],
        );
        self.put_common_instance_reference(&mut obj, &geometry);
        let values: Vec<f32> = frames
            .iter()
            .flat_map(|(_, h)| h.values.iter().copied())
            .collect();
        obj.put(DataElement::new(
            tags::FLOAT_PIXEL_DATA,
            VR::OF,
            PrimitiveValue::F32(values.into_iter().collect()),
        ));
        self.finish(
            obj,
            ObjectKind::ParametricMap,
            uids::PARAMETRIC_MAP_STORAGE,
            referenced,
            path,
            policy,
        )
    }
}

/// Parametric Map Image, Image Pixel, Multi-frame Functional Groups and Acquisition Context.
fn put_image_attributes(
    obj: &mut InMemDicomObject,
    heatmap: &Heatmap,
    geometry: &[SourceFrame],
    frames: usize,
) {
    put_strs(
        obj,
        tags::IMAGE_TYPE,
        VR::CS,
        &["DERIVED", "PRIMARY", "VOLUME", "NONE"],
    );
    for (tag, vr, value) in [
        (tags::CONTENT_LABEL, VR::CS, HEATMAP_LABEL),
        (tags::CONTENT_DESCRIPTION, VR::LO, &map_description(heatmap)),
        (tags::CONTENT_QUALIFICATION, VR::CS, "RESEARCH"),
        (tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        (tags::PRESENTATION_LUT_SHAPE, VR::CS, "IDENTITY"),
        (tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00"),
        (tags::BURNED_IN_ANNOTATION, VR::CS, "NO"),
        (tags::RECOGNIZABLE_VISUAL_FEATURES, VR::CS, "NO"),
        (tags::NUMBER_OF_FRAMES, VR::IS, &frames.to_string()),
    ] {
        put_str(obj, tag, vr, value);
    }
    obj.put(DataElement::empty(tags::CONTENT_CREATOR_NAME, VR::PN));
    let (rows, cols) = geometry
        .first()
        .map_or((0, 0), |f| (f.rows as u16, f.cols as u16));
    put_us(obj, tags::SAMPLES_PER_PIXEL, 1);
    put_us(obj, tags::ROWS, rows);
    put_us(obj, tags::COLUMNS, cols);
    put_us(obj, tags::BITS_ALLOCATED, 32);
    put_seq(obj, tags::ACQUISITION_CONTEXT_SEQUENCE, Vec::new());
}

/// The functional groups every frame shares: pixel measures, orientation, the real world value
/// mapping, identity pixel value transformation, the VOI window and the frame type.
fn shared_groups(frame: &SourceFrame, heatmap: &Heatmap, low: f64, high: f64) -> InMemDicomObject {
    let p = &heatmap.provenance;
    let mut shared = InMemDicomObject::new_empty();
    put_seq(
        &mut shared,
        tags::PIXEL_MEASURES_SEQUENCE,
        vec![pixel_measures(frame)],
    );
    put_seq(
        &mut shared,
        tags::PLANE_ORIENTATION_SEQUENCE,
        vec![plane_orientation(frame)],
    );
    let mut mapping = InMemDicomObject::new_empty();
    for (tag, value) in [
        (tags::DOUBLE_FLOAT_REAL_WORLD_VALUE_FIRST_VALUE_MAPPED, low),
        (tags::DOUBLE_FLOAT_REAL_WORLD_VALUE_LAST_VALUE_MAPPED, high),
    ] {
        mapping.put(DataElement::new(tag, VR::FD, PrimitiveValue::from(value)));
    }
    put_ds(&mut mapping, tags::REAL_WORLD_VALUE_INTERCEPT, &[0.0]);
    put_ds(&mut mapping, tags::REAL_WORLD_VALUE_SLOPE, &[1.0]);
    put_str(
        &mut mapping,
        tags::LUT_EXPLANATION,
        VR::LO,
        &truncate(
            &format!(
                "{} attribution for class {}",
                p.method.name(),
                p.target_name
            ),
            64,
        ),
    );
    put_str(
        &mut mapping,
        tags::LUT_LABEL,
        VR::SH,
        &truncate(p.method.name(), 16),
    );
    put_seq(
        &mut mapping,
        tags::MEASUREMENT_UNITS_CODE_SEQUENCE,
        vec![code_item("1", "UCUM", "no units")],
    );
    put_seq(
        &mut shared,
        tags::REAL_WORLD_VALUE_MAPPING_SEQUENCE,
        vec![mapping],
    );
    let mut identity = InMemDicomObject::new_empty();
    put_ds(&mut identity, tags::RESCALE_INTERCEPT, &[0.0]);
    put_ds(&mut identity, tags::RESCALE_SLOPE, &[1.0]);
    put_str(&mut identity, tags::RESCALE_TYPE, VR::LO, "US");
    put_seq(
        &mut shared,
        tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE,
        vec![identity],
    );
    let mut voi = InMemDicomObject::new_empty();
    let (center, width) = window(low, high, p.signed);
    put_ds(&mut voi, tags::WINDOW_CENTER, &[center]);
    put_ds(&mut voi, tags::WINDOW_WIDTH, &[width]);
    // Attribution values are often far below 1: LINEAR_EXACT allows any positive width.
    put_str(&mut voi, tags::VOILUT_FUNCTION, VR::CS, "LINEAR_EXACT");
    put_seq(&mut shared, tags::FRAME_VOILUT_SEQUENCE, vec![voi]);
    let mut frame_type = InMemDicomObject::new_empty();
    put_strs(
        &mut frame_type,
        tags::FRAME_TYPE,
        VR::CS,
        &["DERIVED", "PRIMARY", "VOLUME", "NONE"],
    );
    put_seq(
        &mut shared,
        tags::PARAMETRIC_MAP_FRAME_TYPE_SEQUENCE,
        vec![frame_type],
    );
    shared
}

/// The smallest and largest finite value of the maps.
fn value_range<'a>(maps: impl Iterator<Item = &'a Heatmap>) -> (f64, f64) {
    let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in maps.flat_map(|h| h.values.iter()).filter(|v| v.is_finite()) {
        low = low.min(f64::from(*v));
        high = high.max(f64::from(*v));
    }
    if low > high { (0.0, 0.0) } else { (low, high) }
}

/// A window that shows the map as the viewer does: signed maps centred on 0 (±max |v|), others
/// from their smallest to their largest value.
fn window(low: f64, high: f64, signed: bool) -> (f64, f64) {
    let (center, width) = if signed {
        (0.0, 2.0 * low.abs().max(high.abs()))
    } else {
        (f64::midpoint(low, high), high - low)
    };
    (center, if width > 0.0 { width } else { 1.0 })
}
