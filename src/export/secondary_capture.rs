//! DICOM Secondary Capture (SOP Class 1.2.840.10008.5.1.4.1.1.7) of an annotated image: RGB,
//! 8 bits, `BurnedInAnnotation YES`, explicit VR little endian with a full file meta group, in a
//! new series of the source's study, referencing the source image.
//!
//! Patient and study attributes come from the source header; unless identity is kept they go
//! through the confidentiality profile ([`super::deidentify`]) before the new object's own
//! attributes are added ([`super::instance`]). One [`DicomExport`] is one export: its images share
//! a new series and one UID map, so the same source UID always becomes the same new UID.

use std::path::Path;

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;

use super::instance::{ObjectKind, put_seq, put_str, put_strs, text, truncate};
use super::{AnnotatedImage, DicomExport, ExportError, SourceImage, WritePolicy, WrittenInstance};
use crate::dicom::{ReadExtent, open};
use crate::explain::Provenance;
use crate::imaging::{Colormap, ShadeParams};

impl DicomExport {
    /// Builds the Secondary Capture dataset of `image` for `source`.
    pub fn build(
        &mut self,
        image: &AnnotatedImage,
        source: &SourceImage,
        derivation: &str,
        instance_number: u32,
    ) -> Result<(InMemDicomObject, WrittenInstance), ExportError> {
        let path = &source.path;
        let header = open(path, ReadExtent::Header)?;
        let source_error = |reason: &str| ExportError::Source {
            reason: reason.to_owned(),
            path: path.clone(),
        };
        let source_class = text(&header, tags::SOP_CLASS_UID);
        let source_instance = text(&header, tags::SOP_INSTANCE_UID);
        if source_class.is_empty() || source_instance.is_empty() {
            return Err(source_error("no SOP Class/Instance UID to reference"));
        }
        let (Ok(rows), Ok(cols)) = (u16::try_from(image.height), u16::try_from(image.width)) else {
            return Err(source_error("exported image larger than 65535 pixels"));
        };
        let modality = match text(&header, tags::MODALITY) {
            m if m.is_empty() => "OT".to_owned(),
            m => m,
        };
        let (mut obj, sop_uid) = self.new_instance(
            &header,
            ObjectKind::SecondaryCapture,
            uids::SECONDARY_CAPTURE_IMAGE_STORAGE,
            &modality,
            instance_number,
        );
        let study_uid = text(&obj, tags::STUDY_INSTANCE_UID);
        let referenced = self.source_uid(&source_instance);
        put_sc_image(&mut obj, derivation);
        let reference = || {
            let mut item = super::instance::sop_reference(&source_class, &referenced);
            if let Some(frame) = source.frame {
                put_str(
                    &mut item,
                    tags::REFERENCED_FRAME_NUMBER,
                    VR::IS,
                    &frame.to_string(),
                );
            }
            vec![item]
        };
        put_seq(&mut obj, tags::REFERENCED_IMAGE_SEQUENCE, reference());
        put_seq(&mut obj, tags::SOURCE_IMAGE_SEQUENCE, reference());
        put_pixels(&mut obj, &image.rgb, rows, cols);
        let written = WrittenInstance {
            sop_class_uid: uids::SECONDARY_CAPTURE_IMAGE_STORAGE.to_owned(),
            sop_instance_uid: sop_uid,
            series_instance_uid: self.series_instance_uid(ObjectKind::SecondaryCapture),
            study_instance_uid: study_uid,
            referenced_sop_instance_uids: vec![referenced],
            deidentified: !self.options.keep_identity,
        };
        Ok((obj, written))
    }

    /// Builds the Secondary Capture and writes it to `path` (atomically, as `policy` allows).
    pub fn write(
        &mut self,
        path: &Path,
        image: &AnnotatedImage,
        source: &SourceImage,
        derivation: &str,
        instance_number: u32,
        policy: &WritePolicy,
    ) -> Result<WrittenInstance, ExportError> {
        policy.check(path)?;
        let (obj, written) = self.build(image, source, derivation, instance_number)?;
        Self::write_file(obj, path, policy)?;
        Ok(written)
    }
}

/// SC Equipment, General Image and SC Image attributes.
fn put_sc_image(obj: &mut InMemDicomObject, derivation: &str) {
    let derivation = truncate(derivation, 1024);
    for (tag, vr, value) in [
        (tags::CONVERSION_TYPE, VR::CS, "WSD"),
        (
            tags::SECONDARY_CAPTURE_DEVICE_MANUFACTURER,
            VR::LO,
            "radlens",
        ),
        (
            tags::SECONDARY_CAPTURE_DEVICE_MANUFACTURER_MODEL_NAME,
            VR::LO,
            "radlens",
        ),
        (
            tags::SECONDARY_CAPTURE_DEVICE_SOFTWARE_VERSIONS,
            VR::LO,
            env!("CARGO_PKG_VERSION"),
        ),
        (tags::DERIVATION_DESCRIPTION, VR::ST, &derivation),
        (tags::BURNED_IN_ANNOTATION, VR::CS, "YES"),
        (tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00"),
    ] {
        put_str(obj, tag, vr, value);
    }
    put_strs(obj, tags::IMAGE_TYPE, VR::CS, &["DERIVED", "SECONDARY"]);
    // General Image's Patient Orientation (type 2C): present, empty (dciodvfy wants it).
    if obj.get(tags::PATIENT_ORIENTATION).is_none() {
        obj.put(DataElement::empty(tags::PATIENT_ORIENTATION, VR::CS));
    }
}

/// The Derivation Description of an explanation export: method, class, model and display.
#[must_use]
pub fn derivation_description(
    provenance: Option<&Provenance>,
    shade: &ShadeParams,
    colormap: Colormap,
) -> String {
    let mut text = format!("radlens {}:", env!("CARGO_PKG_VERSION"));
    if let Some(p) = provenance {
        let heat = shade.heat.map_or_else(String::new, |h| {
            format!(
                ", blended with colormap {} (threshold {:.2}, opacity {:.2}, raw {}..{})",
                colormap.name(),
                h.threshold,
                h.opacity,
                h.low,
                h.high
            )
        });
        text = format!(
            "{text} {} attribution map for class {} ({}) of model '{}' on a {}x{} input{heat} over",
            p.method, p.target, p.target_name, p.model_name, p.input_size[0], p.input_size[1]
        );
    }
    format!(
        "{text} the source slice windowed W {} L {}; colorbar and legend burned in",
        shade.window.width, shade.window.center
    )
}

/// Image Pixel module: interleaved RGB, 8 bits (padded to an even length).
fn put_pixels(obj: &mut InMemDicomObject, rgb: &[u8], rows: u16, cols: u16) {
    for (tag, value) in [
        (tags::SAMPLES_PER_PIXEL, 3),
        (tags::PLANAR_CONFIGURATION, 0),
        (tags::ROWS, rows),
        (tags::COLUMNS, cols),
        (tags::BITS_ALLOCATED, 8),
        (tags::BITS_STORED, 8),
        (tags::HIGH_BIT, 7),
        (tags::PIXEL_REPRESENTATION, 0),
    ] {
        obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
    }
    put_str(obj, tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "RGB");
    let mut pixels = rgb.to_vec();
    if pixels.len() % 2 == 1 {
        pixels.push(0);
    }
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::from(pixels),
    ));
}
