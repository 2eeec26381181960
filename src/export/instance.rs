//! What every DICOM object radlens writes shares: the source's patient and study (de-identified
//! unless identity is kept), SOP Common and series attributes, references to the source images
//! (their UIDs remapped through the export's one [`UidMap`], so the Secondary Capture, Parametric
//! Map, Segmentation and Structured Report of one export still reference each other and the same
//! mapped source), the source geometry of each frame, and the atomic write with a file meta group.
//!
//! One [`DicomExport`] is one export: each object kind gets its own new series (a series holds one
//! modality), all in the source's (possibly remapped) study.

pub(super) use crate::dicom::text;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;

use super::deid::{DeidOptions, UidMap, deidentify, new_uid};
use super::{ExportError, WritePolicy};
use crate::dicom::{FileHeader, ReadExtent, open};
use crate::output::write_atomically;

/// radlens' implementation class UID (a fixed 2.25 UUID), written in every file meta group.
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.294066074612005751873174033607284407570";

/// radlens' device UID (a fixed 2.25 UUID): the Device Observer UID of its reports.
pub const DEVICE_UID: &str = "2.25.118034577367155270390573049413880135713";

/// The private coding scheme of what no standard code names (docs/EXPORT.md lists its codes).
pub const PRIVATE_SCHEME: &str = "99RADLENS";

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
];

/// How DICOM exports treat identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DicomOptions {
    /// Copy patient and study identity as they are (for an in-house PACS). Off by default: the
    /// Basic Application Level Confidentiality Profile is applied.
    pub keep_identity: bool,
    /// The profile's Retain UIDs Option: study UID and the references to the source keep their
    /// values while identity is removed.
    pub retain_uids: bool,
    pub series_description: String,
    /// The Secondary Capture's series number; the Parametric Map, Segmentation and report series
    /// follow it (+1, +2, +3).
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
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub series_instance_uid: String,
    pub study_instance_uid: String,
    /// The ReferencedSOPInstanceUIDs of the source images, as written (the source's, or their
    /// replacements), one per frame.
    pub referenced_sop_instance_uids: Vec<String>,
    pub deidentified: bool,
}

/// The kinds of object an export writes, each in its own series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    SecondaryCapture,
    ParametricMap,
    Segmentation,
    Report,
}

impl ObjectKind {
    fn series_offset(self) -> i32 {
        match self {
            Self::SecondaryCapture => 0,
            Self::ParametricMap => 1,
            Self::Segmentation => 2,
            Self::Report => 3,
        }
    }

    fn series_suffix(self) -> &'static str {
        match self {
            Self::SecondaryCapture => "",
            Self::ParametricMap => " heatmap",
            Self::Segmentation => " ROI",
            Self::Report => " report",
        }
    }
}

/// A coded concept: code value, coding scheme designator, code meaning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Code {
    pub value: String,
    pub scheme: String,
    pub meaning: String,
}

impl Code {
    #[must_use]
    pub fn new(value: &str, scheme: &str, meaning: &str) -> Self {
        Self {
            value: value.to_owned(),
            scheme: scheme.to_owned(),
            meaning: meaning.to_owned(),
        }
    }

    /// A code of radlens' private scheme ([`PRIVATE_SCHEME`]).
    #[must_use]
    pub fn private(value: &str, meaning: &str) -> Self {
        Self::new(value, PRIVATE_SCHEME, meaning)
    }

    /// As a code sequence item.
    #[must_use]
    pub fn item(&self) -> InMemDicomObject {
        code_item(&self.value, &self.scheme, &self.meaning)
    }
}

/// One frame of the source as the result objects reference and place it.
#[derive(Clone, Debug)]
pub struct SourceFrame {
    pub path: PathBuf,
    pub sop_class_uid: String,
    /// The source's own UIDs (not yet remapped).
    pub sop_instance_uid: String,
    pub series_instance_uid: String,
    pub frame_of_reference_uid: String,
    pub frame: Option<u32>,
    pub rows: usize,
    pub cols: usize,
    pub position: [f64; 3],
    pub orientation: [f64; 6],
    /// `[between rows, between columns]`.
    pub pixel_spacing: [f64; 2],
    pub slice_thickness: Option<f64>,
    pub modality: String,
}

/// One DICOM export: a new series per object kind; UIDs remapped consistently across its objects.
#[derive(Debug)]
pub struct DicomExport {
    pub(super) options: DicomOptions,
    pub(super) uids: UidMap,
    series: BTreeMap<ObjectKind, String>,
}

impl DicomExport {
    #[must_use]
    pub fn new(options: DicomOptions) -> Self {
        Self {
            options,
            uids: UidMap::new(),
            series: BTreeMap::new(),
        }
    }

    #[must_use]
    pub fn options(&self) -> &DicomOptions {
        &self.options
    }

    /// The new series of `kind` (made on first use).
    pub fn series_instance_uid(&mut self, kind: ObjectKind) -> String {
        self.series.entry(kind).or_insert_with(new_uid).clone()
    }

    /// A source UID as the export writes it: itself when identity or UIDs are kept, else its
    /// replacement (the same one every time).
    pub fn source_uid(&mut self, uid: &str) -> String {
        if self.options.keep_identity || self.options.retain_uids {
            uid.to_owned()
        } else {
            self.uids.map(uid)
        }
    }

    /// The source's patient and study attributes ([`COPIED`]), de-identified unless identity is
    /// kept, with the type 2 attributes present and a study UID.
    pub(super) fn patient_and_study(&mut self, header: &InMemDicomObject) -> InMemDicomObject {
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
                "DCM",
                "Basic Application Confidentiality Profile",
            )];
            if self.options.retain_uids {
                method.push_str(", Retain UIDs");
                codes.push(code_item("113110", "DCM", "Retain UIDs Option"));
            }
            put_str(
                &mut obj,
                tags::DEIDENTIFICATION_METHOD,
                VR::LO,
                &truncate(&method, 64),
            );
            put_seq(&mut obj, tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE, codes);
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

    /// A new instance of `kind` for the source `header`: patient and study, SOP Common, General
    /// Series (its own series), General Equipment, instance number, content date and time.
    /// Returns it with its new SOP Instance UID.
    pub(super) fn new_instance(
        &mut self,
        header: &InMemDicomObject,
        kind: ObjectKind,
        sop_class_uid: &str,
        modality: &str,
        instance_number: u32,
    ) -> (InMemDicomObject, String) {
        let mut obj = self.patient_and_study(header);
        let sop_uid = new_uid();
        let series_uid = self.series_instance_uid(kind);
        let series_number = (self.options.series_number + kind.series_offset()).to_string();
        let description = truncate(
            &format!(
                "{}{}",
                self.options.series_description,
                kind.series_suffix()
            ),
            64,
        );
        let (date, time) = now();
        for (tag, vr, value) in [
            (tags::SOP_CLASS_UID, VR::UI, sop_class_uid),
            (tags::SOP_INSTANCE_UID, VR::UI, sop_uid.as_str()),
            (tags::MODALITY, VR::CS, modality),
            (tags::SERIES_INSTANCE_UID, VR::UI, series_uid.as_str()),
            (tags::SERIES_NUMBER, VR::IS, &series_number),
            (tags::SERIES_DESCRIPTION, VR::LO, &description),
            (tags::MANUFACTURER, VR::LO, "radlens"),
            (tags::INSTANCE_NUMBER, VR::IS, &instance_number.to_string()),
            (tags::CONTENT_DATE, VR::DA, &date),
            (tags::CONTENT_TIME, VR::TM, &time),
        ] {
            put_str(&mut obj, tag, vr, value);
        }
        // General Series' Laterality (type 2C): the Secondary Capture and Parametric Map IODs
        // want it present (empty where the source does not say); the Segmentation and SR ones
        // want it absent.
        match kind {
            ObjectKind::SecondaryCapture | ObjectKind::ParametricMap => {
                if obj.get(tags::LATERALITY).is_none() {
                    obj.put(DataElement::empty(tags::LATERALITY, VR::CS));
                }
            }
            ObjectKind::Segmentation | ObjectKind::Report => {
                obj.remove_element(tags::LATERALITY);
            }
        }
        // radlens' private codes, identified (SOP Common), where the object uses them.
        if kind == ObjectKind::SecondaryCapture {
            return (obj, sop_uid);
        }
        let scheme = InMemDicomObject::from_element_iter([
            DataElement::new(tags::CODING_SCHEME_DESIGNATOR, VR::SH, PRIVATE_SCHEME),
            DataElement::new(
                tags::CODING_SCHEME_NAME,
                VR::ST,
                "radlens explainable radiomics codes (docs/EXPORT.md)",
            ),
            DataElement::new(
                tags::CODING_SCHEME_RESPONSIBLE_ORGANIZATION,
                VR::ST,
                "radlens",
            ),
        ]);
        put_seq(
            &mut obj,
            tags::CODING_SCHEME_IDENTIFICATION_SEQUENCE,
            vec![scheme],
        );
        (obj, sop_uid)
    }

    /// Enhanced General Equipment (the enhanced IODs want all four, type 1).
    pub(super) fn put_enhanced_equipment(obj: &mut InMemDicomObject) {
        for (tag, value) in [
            (tags::MANUFACTURER_MODEL_NAME, "radlens"),
            (tags::DEVICE_SERIAL_NUMBER, "1"),
            (tags::SOFTWARE_VERSIONS, env!("CARGO_PKG_VERSION")),
        ] {
            put_str(obj, tag, VR::LO, value);
        }
    }

    /// Frame of Reference module: the source's frame of reference (remapped like every UID).
    pub(super) fn put_frame_of_reference(
        &mut self,
        obj: &mut InMemDicomObject,
        frame: &SourceFrame,
    ) {
        let uid = self.source_uid(&frame.frame_of_reference_uid);
        put_str(obj, tags::FRAME_OF_REFERENCE_UID, VR::UI, &uid);
        obj.put(DataElement::empty(
            tags::POSITION_REFERENCE_INDICATOR,
            VR::LO,
        ));
    }

    /// A reference to a source frame: class, (mapped) instance, frame number, and the purpose of
    /// the reference when `purpose` is given (code value, meaning).
    pub(super) fn source_reference(
        &mut self,
        frame: &SourceFrame,
        purpose: Option<(&str, &str)>,
    ) -> InMemDicomObject {
        let instance = self.source_uid(&frame.sop_instance_uid);
        let mut item = InMemDicomObject::from_element_iter([
            DataElement::new(
                tags::REFERENCED_SOP_CLASS_UID,
                VR::UI,
                frame.sop_class_uid.as_str(),
            ),
            DataElement::new(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, instance.as_str()),
        ]);
        if let Some(number) = frame.frame {
            put_str(
                &mut item,
                tags::REFERENCED_FRAME_NUMBER,
                VR::IS,
                &number.to_string(),
            );
        }
        if let Some((value, meaning)) = purpose {
            put_seq(
                &mut item,
                tags::PURPOSE_OF_REFERENCE_CODE_SEQUENCE,
                vec![code_item(value, "DCM", meaning)],
            );
        }
        item
    }

    /// Common Instance Reference module: the source series and instances `frames` come from.
    pub(super) fn put_common_instance_reference(
        &mut self,
        obj: &mut InMemDicomObject,
        frames: &[SourceFrame],
    ) {
        let mut series: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for frame in frames {
            let instances = series
                .entry(self.source_uid(&frame.series_instance_uid))
                .or_default();
            let instance = self.source_uid(&frame.sop_instance_uid);
            if !instances.iter().any(|(_, i)| *i == instance) {
                instances.push((frame.sop_class_uid.clone(), instance));
            }
        }
        let items = series
            .into_iter()
            .map(|(series_uid, instances)| {
                let mut item = InMemDicomObject::new_empty();
                put_str(&mut item, tags::SERIES_INSTANCE_UID, VR::UI, &series_uid);
                put_seq(
                    &mut item,
                    tags::REFERENCED_INSTANCE_SEQUENCE,
                    instances
                        .iter()
                        .map(|(class, instance)| sop_reference(class, instance))
                        .collect(),
                );
                item
            })
            .collect();
        put_seq(obj, tags::REFERENCED_SERIES_SEQUENCE, items);
    }

    /// A frame's own functional groups, shared by the Parametric Map and the Segmentation:
    /// Frame Content (`index_values`), Plane Position and a Derivation Image referencing the
    /// source frame (derived by `code`). Returns it with the source instance it references.
    pub(super) fn frame_groups(
        &mut self,
        frame: &SourceFrame,
        index_values: &[u32],
        code: (&str, &str, &str),
        description: &str,
    ) -> (InMemDicomObject, String) {
        let source = self.source_reference(
            frame,
            Some(("121322", "Source image for image processing operation")),
        );
        let referenced = text(&source, tags::REFERENCED_SOP_INSTANCE_UID);
        let mut item = InMemDicomObject::new_empty();
        put_seq(
            &mut item,
            tags::FRAME_CONTENT_SEQUENCE,
            vec![frame_content(index_values)],
        );
        put_seq(
            &mut item,
            tags::PLANE_POSITION_SEQUENCE,
            vec![plane_position(frame)],
        );
        put_seq(
            &mut item,
            tags::DERIVATION_IMAGE_SEQUENCE,
            vec![derivation_image(source, code, description)],
        );
        (item, referenced)
    }

    /// Writes the finished `obj` of `kind` to `path` and says what was written.
    pub(super) fn finish(
        &mut self,
        obj: InMemDicomObject,
        kind: ObjectKind,
        sop_class_uid: &str,
        referenced_sop_instance_uids: Vec<String>,
        path: &Path,
        policy: &WritePolicy,
    ) -> Result<WrittenInstance, ExportError> {
        let written = WrittenInstance {
            sop_class_uid: sop_class_uid.to_owned(),
            sop_instance_uid: text(&obj, tags::SOP_INSTANCE_UID),
            series_instance_uid: self.series_instance_uid(kind),
            study_instance_uid: text(&obj, tags::STUDY_INSTANCE_UID),
            referenced_sop_instance_uids,
            deidentified: !self.options.keep_identity,
        };
        Self::write_file(obj, path, policy)?;
        Ok(written)
    }

    /// Writes `obj` to `path` (explicit VR little endian, atomically, as `policy` allows).
    pub(super) fn write_file(
        obj: InMemDicomObject,
        path: &Path,
        policy: &WritePolicy,
    ) -> Result<(), ExportError> {
        policy.check(path)?;
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
        Ok(write_atomically(path, policy, |out| {
            file.write_all(out).map_err(|e| e.to_string())
        })?)
    }
}

/// Reads the header of each source image (each file once) and what the result objects need of
/// it: references, frame of reference, position, orientation and pixel spacing. All frames must
/// share one grid and orientation (one series, as the viewer shows it).
pub fn source_frames(
    sources: &[SourceImage],
) -> Result<(InMemDicomObject, Vec<SourceFrame>), ExportError> {
    let mut headers: HashMap<PathBuf, (InMemDicomObject, FileHeader)> = HashMap::new();
    let mut frames = Vec::with_capacity(sources.len());
    let mut first = None;
    for source in sources {
        let path = &source.path;
        let source_error = |reason: String| ExportError::Source {
            reason,
            path: path.clone(),
        };
        if !headers.contains_key(path) {
            let object = open(path, ReadExtent::Header)?;
            let header = FileHeader::from_object(&object, path)?;
            headers.insert(path.clone(), (object.into_inner(), header));
        }
        let (object, header) = &headers[path];
        let index = source.frame.map_or(0, |f| f.saturating_sub(1) as usize);
        let position = header
            .frame_positions_mm
            .get(index)
            .copied()
            .flatten()
            .ok_or_else(|| source_error("no Image Position (Patient) for the slice".into()))?;
        let orientation = header
            .orientation
            .ok_or_else(|| source_error("no Image Orientation (Patient)".into()))?;
        let pixel_spacing = header
            .pixel_spacing_mm
            .ok_or_else(|| source_error("no Pixel Spacing".into()))?;
        let frame_of_reference_uid = text(object, tags::FRAME_OF_REFERENCE_UID);
        let sop_class_uid = text(object, tags::SOP_CLASS_UID);
        if frame_of_reference_uid.is_empty() {
            return Err(source_error("no Frame of Reference UID".into()));
        }
        if sop_class_uid.is_empty() || header.sop_instance_uid.is_empty() {
            return Err(source_error(
                "no SOP Class/Instance UID to reference".into(),
            ));
        }
        let frame = SourceFrame {
            path: path.clone(),
            sop_class_uid,
            sop_instance_uid: header.sop_instance_uid.clone(),
            series_instance_uid: header.series_uid.clone(),
            frame_of_reference_uid,
            frame: source.frame,
            rows: header.rows as usize,
            cols: header.cols as usize,
            position,
            orientation,
            pixel_spacing,
            slice_thickness: header.slice_thickness_mm,
            modality: header.modality.clone(),
        };
        let (rows, cols, orientation) = *first.get_or_insert((frame.rows, frame.cols, orientation));
        let same_orientation = orientation
            .iter()
            .zip(&frame.orientation)
            .all(|(a, b)| (a - b).abs() < 1e-4);
        if (frame.rows, frame.cols) != (rows, cols) || !same_orientation {
            return Err(source_error(
                "slices of different size or orientation in one export".into(),
            ));
        }
        frames.push(frame);
    }
    let first_path =
        sources
            .first()
            .map(|s| s.path.clone())
            .ok_or_else(|| ExportError::Invalid {
                reason: "no slice to export".to_owned(),
            })?;
    let (header, _) = headers
        .remove(&first_path)
        .ok_or_else(|| ExportError::Invalid {
            reason: "no slice to export".to_owned(),
        })?;
    Ok((header, frames))
}

/// Pixel Measures functional group of `frame`.
pub(super) fn pixel_measures(frame: &SourceFrame) -> InMemDicomObject {
    let mut item = InMemDicomObject::new_empty();
    put_ds(&mut item, tags::PIXEL_SPACING, &frame.pixel_spacing);
    if let Some(thickness) = frame.slice_thickness {
        put_ds(&mut item, tags::SLICE_THICKNESS, &[thickness]);
    }
    item
}

/// Plane Orientation (Patient) functional group.
pub(super) fn plane_orientation(frame: &SourceFrame) -> InMemDicomObject {
    let mut item = InMemDicomObject::new_empty();
    put_ds(
        &mut item,
        tags::IMAGE_ORIENTATION_PATIENT,
        &frame.orientation,
    );
    item
}

/// Plane Position (Patient) functional group.
pub(super) fn plane_position(frame: &SourceFrame) -> InMemDicomObject {
    let mut item = InMemDicomObject::new_empty();
    put_ds(&mut item, tags::IMAGE_POSITION_PATIENT, &frame.position);
    item
}

/// Frame Content functional group: the frame's dimension index values.
pub(super) fn frame_content(index_values: &[u32]) -> InMemDicomObject {
    InMemDicomObject::from_element_iter([DataElement::new(
        tags::DIMENSION_INDEX_VALUES,
        VR::UL,
        PrimitiveValue::U32(index_values.iter().copied().collect()),
    )])
}

/// Derivation Image functional group: `source` (a [`DicomExport::source_reference`] item) derived
/// by the process coded `(value, scheme, meaning)`.
pub(super) fn derivation_image(
    source: InMemDicomObject,
    code: (&str, &str, &str),
    description: &str,
) -> InMemDicomObject {
    let mut item = InMemDicomObject::new_empty();
    put_str(
        &mut item,
        tags::DERIVATION_DESCRIPTION,
        VR::ST,
        &truncate(description, 1024),
    );
    put_seq(
        &mut item,
        tags::DERIVATION_CODE_SEQUENCE,
        vec![code_item(code.0, code.1, code.2)],
    );
    put_seq(&mut item, tags::SOURCE_IMAGE_SEQUENCE, vec![source]);
    item
}

/// Multi-frame Dimension module: one organisation over `(index pointer, functional group
/// pointer, label)` dimensions.
pub(super) fn put_dimensions(obj: &mut InMemDicomObject, dimensions: &[(Tag, Tag, &str)]) {
    let organisation = new_uid();
    put_seq(
        obj,
        tags::DIMENSION_ORGANIZATION_SEQUENCE,
        vec![InMemDicomObject::from_element_iter([DataElement::new(
            tags::DIMENSION_ORGANIZATION_UID,
            VR::UI,
            organisation.as_str(),
        )])],
    );
    let items = dimensions
        .iter()
        .map(|&(pointer, group, label)| {
            InMemDicomObject::from_element_iter([
                DataElement::new(
                    tags::DIMENSION_ORGANIZATION_UID,
                    VR::UI,
                    organisation.as_str(),
                ),
                DataElement::new(
                    tags::DIMENSION_INDEX_POINTER,
                    VR::AT,
                    PrimitiveValue::Tags([pointer].into_iter().collect()),
                ),
                DataElement::new(
                    tags::FUNCTIONAL_GROUP_POINTER,
                    VR::AT,
                    PrimitiveValue::Tags([group].into_iter().collect()),
                ),
                DataElement::new(tags::DIMENSION_DESCRIPTION_LABEL, VR::LO, label),
            ])
        })
        .collect();
    put_seq(obj, tags::DIMENSION_INDEX_SEQUENCE, items);
}

/// The frames' rank along the slice normal, 1-based: the position dimension's index values.
pub(super) fn position_ranks(frames: &[SourceFrame]) -> Vec<u32> {
    let Some(normal) = frames
        .first()
        .and_then(|f| crate::dicom::slice_normal(&f.orientation))
    else {
        return (1..=frames.len() as u32).collect();
    };
    let along: Vec<f64> = frames
        .iter()
        .map(|f| f.position.iter().zip(&normal).map(|(p, n)| p * n).sum())
        .collect();
    let mut distinct = along.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup_by(|a, b| (*a - *b).abs() < 1e-3);
    along
        .iter()
        .map(|x| {
            let rank = distinct
                .iter()
                .position(|d| (d - x).abs() < 1e-3)
                .unwrap_or(0);
            u32::try_from(rank + 1).unwrap_or(u32::MAX)
        })
        .collect()
}

/// A `(ReferencedSOPClassUID, ReferencedSOPInstanceUID)` item.
pub(super) fn sop_reference(class: &str, instance: &str) -> InMemDicomObject {
    InMemDicomObject::from_element_iter([
        DataElement::new(tags::REFERENCED_SOP_CLASS_UID, VR::UI, class),
        DataElement::new(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, instance),
    ])
}

/// Today's date and the time, UTC, as DA and TM.
pub(super) fn now() -> (String, String) {
    let now = chrono::Utc::now();
    (
        now.format("%Y%m%d").to_string(),
        now.format("%H%M%S").to_string(),
    )
}

pub(super) fn put_str(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: &str) {
    obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
}

/// Several string values (CS, LO, …).
pub(super) fn put_strs(obj: &mut InMemDicomObject, tag: Tag, vr: VR, values: &[&str]) {
    obj.put(DataElement::new(
        tag,
        vr,
        PrimitiveValue::Strs(values.iter().map(|v| (*v).to_owned()).collect()),
    ));
}

/// Decimal strings of at most 16 characters each.
pub(super) fn put_ds(obj: &mut InMemDicomObject, tag: Tag, values: &[f64]) {
    obj.put(DataElement::new(
        tag,
        VR::DS,
        PrimitiveValue::Strs(values.iter().map(|&v| decimal_string(v)).collect()),
    ));
}

pub(super) fn put_us(obj: &mut InMemDicomObject, tag: Tag, value: u16) {
    obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
}

pub(super) fn put_seq(obj: &mut InMemDicomObject, tag: Tag, items: Vec<InMemDicomObject>) {
    obj.put(DataElement::new(tag, VR::SQ, DataSetSequence::from(items)));
}

/// A code sequence item.
pub(super) fn code_item(value: &str, scheme: &str, meaning: &str) -> InMemDicomObject {
    InMemDicomObject::from_element_iter([
        DataElement::new(tags::CODE_VALUE, VR::SH, value),
        DataElement::new(tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme),
        DataElement::new(tags::CODE_MEANING, VR::LO, truncate(meaning, 64)),
    ])
}

/// `value` as a DS: at most 16 characters, as precise as they allow.
#[must_use]
pub fn decimal_string(value: f64) -> String {
    if !value.is_finite() {
        return "0".to_owned();
    }
    for precision in (0..=10).rev() {
        let fixed = format!("{value:.precision$}");
        let fixed = if fixed.contains('.') {
            fixed.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            fixed
        };
        if fixed.len() <= 16 && (fixed.parse::<f64>().unwrap_or(f64::NAN) != 0.0 || value == 0.0) {
            return if fixed == "-0" { "0".to_owned() } else { fixed };
        }
    }
    for precision in (0..=9).rev() {
        let scientific = format!("{value:.precision$e}");
        if scientific.len() <= 16 {
            return scientific;
        }
    }
    "0".to_owned()
}

/// At most `max` characters (DICOM value lengths count bytes; our texts are ASCII).
pub(super) fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_fit_sixteen_characters() {
        for value in [
            0.0,
            -0.0,
            1.0,
            -235.199_997,
            0.810_547,
            1e-12,
            -3.25e20,
            123_456_789.123_456_78,
            std::f64::consts::PI,
        ] {
            let ds = decimal_string(value);
            assert!(ds.len() <= 16, "{value}: {ds}");
            let back: f64 = ds.parse().unwrap();
            assert!(
                (back - value).abs() <= value.abs() * 1e-6,
                "{value}: {ds} reads back as {back}"
            );
        }
        assert_eq!(decimal_string(-235.199_997), "-235.199997");
        assert_eq!(decimal_string(2.0), "2");
    }
}
