//! DICOM Secondary Capture (SOP Class 1.2.840.10008.5.1.4.1.1.7) of an annotated image: RGB,
//! 8 bits, `BurnedInAnnotation YES`, explicit VR little endian with a full file meta group, in a
//! new series of the source's study, referencing the source image.
//!
//! Patient and study attributes come from the source header; unless identity is kept they go
//! through the confidentiality profile ([`super::deidentify`]) before the new object's own
//! attributes are added. One [`DicomExport`] is one export: its images share a new series and
//! one UID map, so the same source UID always becomes the same new UID.

use std::path::{Path, PathBuf};

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;

use super::deid::{DeidOptions, UidMap, deidentify, new_uid};
use super::{AnnotatedImage, ExportError, WritePolicy};
use crate::dicom::{ReadExtent, open};
use crate::explain::Provenance;
use crate::imaging::{Colormap, ShadeParams};
use crate::output::write_atomically;

/// radlens' implementation class UID (a fixed 2.25 UUID), written in every file meta group.
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.294066074612005751873174033607284407570";

/// Source attributes carried into the export: patient, study and a few series facts. Everything
/// else of the source header is left behind.
#[allow(deprecated)]
const COPIED: &[Tag] = &[
    tags::SPECIFIC_CHARACTER_SET,
    tags::PATIENT_NAME,
    tags::PATIENT_ID,
    tags::ISSUER_OF_PATIENT_ID,
    tags::PATIENT_BIRTH_DATE,
    tags::PATIENT_SEX,
    tags::PATIENT_AGE,
    tags::PATIENT_SIZE,
    tags::PATIENT_WEIGHT,
    tags::OTHER_PATIENT_I_DS,
    tags::OTHER_PATIENT_NAMES,
    tags::PATIENT_COMMENTS,
    tags::PATIENT_IDENTITY_REMOVED,
    tags::DEIDENTIFICATION_METHOD,
    tags::STUDY_INSTANCE_UID,
    tags::STUDY_DATE,
    tags::STUDY_TIME,
    tags::REFERRING_PHYSICIAN_NAME,
    tags::STUDY_ID,
    tags::ACCESSION_NUMBER,
    tags::STUDY_DESCRIPTION,
    tags::INSTITUTION_NAME,
    tags::INSTITUTION_ADDRESS,
    tags::BODY_PART_EXAMINED,
    tags::LATERALITY,
];

/// Type 2 attributes of the Patient and General Study modules: present, possibly empty.
const REQUIRED_EMPTY: &[(Tag, VR)] = &[
    (tags::PATIENT_NAME, VR::PN),
    (tags::PATIENT_ID, VR::LO),
    (tags::PATIENT_BIRTH_DATE, VR::DA),
    (tags::PATIENT_SEX, VR::CS),
    (tags::STUDY_DATE, VR::DA),
    (tags::STUDY_TIME, VR::TM),
    (tags::REFERRING_PHYSICIAN_NAME, VR::PN),
    (tags::STUDY_ID, VR::SH),
    (tags::ACCESSION_NUMBER, VR::SH),
    (tags::PATIENT_ORIENTATION, VR::CS),
    // General Series, type 2C; dciodvfy wants it present whenever the source does not say.
    (tags::LATERALITY, VR::CS),
];

/// How DICOM exports treat identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DicomOptions {
    /// Copy patient and study identity as they are (for an in-house PACS). Off by default: the
    /// Basic Application Level Confidentiality Profile is applied.
    pub keep_identity: bool,
    /// The profile's Retain UIDs Option: study UID and the reference to the source keep their
    /// values while identity is removed.
    pub retain_uids: bool,
    pub series_description: String,
    pub series_number: i32,
}

impl Default for DicomOptions {
    fn default() -> Self {
        Self {
            keep_identity: false,
            retain_uids: false,
            series_description: "radlens explanation".to_owned(),
            series_number: 9000,
        }
    }
}

/// The source image an export was made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceImage {
    pub path: PathBuf,
    /// 1-based frame number in a multi-frame source (referenced as ReferencedFrameNumber).
    pub frame: Option<u32>,
}

/// What was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenInstance {
    pub sop_instance_uid: String,
    pub series_instance_uid: String,
    pub study_instance_uid: String,
    /// The ReferencedSOPInstanceUID written (the source's, or its replacement).
    pub referenced_sop_instance_uid: String,
    pub deidentified: bool,
}

/// One DICOM export: a new series; UIDs remapped consistently across its images.
#[derive(Debug)]
pub struct DicomExport {
    options: DicomOptions,
    uids: UidMap,
    series_uid: String,
}

impl DicomExport {
    #[must_use]
    pub fn new(options: DicomOptions) -> Self {
        Self {
            options,
            uids: UidMap::new(),
            series_uid: new_uid(),
        }
    }

    #[must_use]
    pub fn options(&self) -> &DicomOptions {
        &self.options
    }

    #[must_use]
    pub fn series_instance_uid(&self) -> &str {
        &self.series_uid
    }

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
        let mut obj = self.patient_and_study(&header);
        let study_uid = text(&obj, tags::STUDY_INSTANCE_UID);
        let referenced = if self.options.keep_identity || self.options.retain_uids {
            source_instance
        } else {
            self.uids.map(&source_instance)
        };
        let sop_uid = new_uid();
        let modality = match text(&header, tags::MODALITY) {
            m if m.is_empty() => "OT".to_owned(),
            m => m,
        };
        self.put_series_and_image(&mut obj, &sop_uid, &modality, instance_number, derivation);
        let reference = || {
            let mut item = InMemDicomObject::from_element_iter([
                DataElement::new(
                    tags::REFERENCED_SOP_CLASS_UID,
                    VR::UI,
                    source_class.as_str(),
                ),
                DataElement::new(
                    tags::REFERENCED_SOP_INSTANCE_UID,
                    VR::UI,
                    referenced.as_str(),
                ),
            ]);
            if let Some(frame) = source.frame {
                item.put(DataElement::new(
                    tags::REFERENCED_FRAME_NUMBER,
                    VR::IS,
                    frame.to_string(),
                ));
            }
            DataSetSequence::from(vec![item])
        };
        obj.put(DataElement::new(
            tags::REFERENCED_IMAGE_SEQUENCE,
            VR::SQ,
            reference(),
        ));
        obj.put(DataElement::new(
            tags::SOURCE_IMAGE_SEQUENCE,
            VR::SQ,
            reference(),
        ));
        put_pixels(&mut obj, &image.rgb, rows, cols);
        let written = WrittenInstance {
            sop_instance_uid: sop_uid,
            series_instance_uid: self.series_uid.clone(),
            study_instance_uid: study_uid,
            referenced_sop_instance_uid: referenced,
            deidentified: !self.options.keep_identity,
        };
        Ok((obj, written))
    }

    /// The source's patient and study attributes ([`COPIED`]), de-identified unless identity is
    /// kept, with the type 2 attributes present and a study UID.
    fn patient_and_study(&mut self, header: &InMemDicomObject) -> InMemDicomObject {
        let mut obj = InMemDicomObject::new_empty();
        for &tag in COPIED {
            if let Some(elem) = header.get(tag) {
                obj.put(elem.clone());
            }
        }
        if !self.options.keep_identity {
            deidentify(
                &mut obj,
                &mut self.uids,
                DeidOptions {
                    retain_uids: self.options.retain_uids,
                },
            );
            put_str(&mut obj, tags::PATIENT_IDENTITY_REMOVED, VR::CS, "YES");
            // LO holds 64 characters: the code sequence below carries the exact profile.
            let mut method = format!(
                "radlens {}: PS3.15 Basic Profile",
                env!("CARGO_PKG_VERSION")
            );
            let mut codes = vec![code_item(
                "113100",
                "Basic Application Confidentiality Profile",
            )];
            if self.options.retain_uids {
                method.push_str(", Retain UIDs");
                codes.push(code_item("113110", "Retain UIDs Option"));
            }
            put_str(
                &mut obj,
                tags::DEIDENTIFICATION_METHOD,
                VR::LO,
                &truncate(&method, 64),
            );
            obj.put(DataElement::new(
                tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
                VR::SQ,
                DataSetSequence::from(codes),
            ));
        }
        for &(tag, vr) in REQUIRED_EMPTY {
            if obj.get(tag).is_none() {
                obj.put(DataElement::empty(tag, vr));
            }
        }
        // An empty Specific Character Set is the default repertoire, which its absence says too;
        // present and empty, it breaks the type 1C rule.
        if text(&obj, tags::SPECIFIC_CHARACTER_SET).is_empty() {
            obj.remove_element(tags::SPECIFIC_CHARACTER_SET);
        }
        if text(&obj, tags::STUDY_INSTANCE_UID).is_empty() {
            put_str(&mut obj, tags::STUDY_INSTANCE_UID, VR::UI, &new_uid());
        }
        obj
    }

    /// SOP Common, General Series, SC Equipment, General Image and SC Image attributes.
    fn put_series_and_image(
        &self,
        obj: &mut InMemDicomObject,
        sop_uid: &str,
        modality: &str,
        instance_number: u32,
        derivation: &str,
    ) {
        let version = env!("CARGO_PKG_VERSION");
        let series_number = self.options.series_number.to_string();
        let series_description = truncate(&self.options.series_description, 64);
        let instance_number = instance_number.to_string();
        let derivation = truncate(derivation, 1024);
        for (tag, vr, value) in [
            (
                tags::SOP_CLASS_UID,
                VR::UI,
                uids::SECONDARY_CAPTURE_IMAGE_STORAGE,
            ),
            (tags::SOP_INSTANCE_UID, VR::UI, sop_uid),
            (tags::MODALITY, VR::CS, modality),
            (tags::SERIES_INSTANCE_UID, VR::UI, &self.series_uid),
            (tags::SERIES_NUMBER, VR::IS, &series_number),
            (tags::SERIES_DESCRIPTION, VR::LO, &series_description),
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
                version,
            ),
            (tags::INSTANCE_NUMBER, VR::IS, &instance_number),
            (tags::DERIVATION_DESCRIPTION, VR::ST, &derivation),
            (tags::BURNED_IN_ANNOTATION, VR::CS, "YES"),
            (tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00"),
        ] {
            put_str(obj, tag, vr, value);
        }
        obj.put(DataElement::new(
            tags::IMAGE_TYPE,
            VR::CS,
            PrimitiveValue::Strs(["DERIVED".to_owned(), "SECONDARY".to_owned()].into()),
        ));
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
        let encode_error = |reason: String| ExportError::Encode {
            what: "DICOM",
            reason,
            path: path.to_owned(),
        };
        let version_name = truncate(&format!("RADLENS_{}", env!("CARGO_PKG_VERSION")), 16);
        let file = obj
            .with_meta(
                FileMetaTableBuilder::new()
                    .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
                    .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
                    .implementation_version_name(version_name),
            )
            .map_err(|e| encode_error(e.to_string()))?;
        write_atomically(path, policy, |out| {
            file.write_all(out).map_err(|e| e.to_string())
        })?;
        Ok(written)
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

fn text(obj: &InMemDicomObject, tag: Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).trim().to_owned())
        .unwrap_or_default()
}

fn put_str(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: &str) {
    obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
}

fn code_item(value: &str, meaning: &str) -> InMemDicomObject {
    InMemDicomObject::from_element_iter([
        DataElement::new(tags::CODE_VALUE, VR::SH, value),
        DataElement::new(tags::CODING_SCHEME_DESIGNATOR, VR::SH, "DCM"),
        DataElement::new(tags::CODE_MEANING, VR::LO, meaning),
    ])
}

/// At most `max` characters (DICOM value lengths count bytes; our texts are ASCII).
fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
