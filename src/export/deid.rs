//! De-identification after DICOM PS3.15 Annex E, the Basic Application Level Confidentiality
//! Profile (Table E.1-1), applied to a dataset and recursively to its sequence items.
//!
//! Where the profile offers a choice (`X/Z`, `X/D`, `Z/D`, `X/Z/D`), we take the least revealing
//! choice that keeps an IOD valid for a Secondary Capture: `X/Z` → Z, `X/D` → X, `Z/D` → Z,
//! `X/Z/D` → X. Besides the table: every private attribute (odd group) is removed, as are curve
//! (`50xx`) and overlay (`60xx`) groups, whose data and comments may carry burned-in text.
//! Attributes the table does not list are kept (the profile's rule).
//!
//! UIDs marked `U` are replaced through a [`UidMap`]: within one map the same source UID always
//! becomes the same new UID, so the exports of one study still share a study and frame of
//! reference, and references between them still resolve.

use std::collections::HashMap;

use dicom_core::value::Value;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

/// What the profile does with an attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Action {
    /// `X`: remove.
    Remove,
    /// `Z`: replace with a zero-length value.
    Empty,
    /// `D`: replace with a non-zero-length dummy value of the same VR.
    Dummy,
    /// `U`: replace the UID with a new one, consistently within the export.
    Remap,
}

impl Action {
    /// The profile's letter.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Remove => "X",
            Self::Empty => "Z",
            Self::Dummy => "D",
            Self::Remap => "U",
        }
    }
}

use Action::{Dummy, Empty, Remap, Remove};

/// The profile's table (PS3.15 Table E.1-1, Basic Profile column), compound actions resolved as
/// the module documentation says. `docs/EXPORT.md` lists the same rows (a test checks it).
/// Retired attributes are listed too: old files still carry them.
#[allow(deprecated)]
pub const PROFILE: &[(Tag, Action)] = &[
    // Patient
    (tags::PATIENT_NAME, Empty),
    (tags::PATIENT_ID, Empty),
    (tags::PATIENT_BIRTH_DATE, Empty),
    (tags::PATIENT_SEX, Empty),
    (tags::PATIENT_BIRTH_TIME, Remove),
    (tags::PATIENT_AGE, Remove),
    (tags::PATIENT_SIZE, Remove),
    (tags::PATIENT_WEIGHT, Remove),
    (tags::PATIENT_ADDRESS, Remove),
    (tags::OTHER_PATIENT_I_DS, Remove),
    (tags::OTHER_PATIENT_NAMES, Remove),
    (tags::OTHER_PATIENT_I_DS_SEQUENCE, Remove),
    (tags::PATIENT_BIRTH_NAME, Remove),
    (tags::PATIENT_MOTHER_BIRTH_NAME, Remove),
    (tags::MEDICAL_RECORD_LOCATOR, Remove),
    (tags::ISSUER_OF_PATIENT_ID, Remove),
    (tags::ISSUER_OF_PATIENT_ID_QUALIFIERS_SEQUENCE, Remove),
    (tags::PATIENT_COMMENTS, Remove),
    (tags::ETHNIC_GROUP, Remove),
    (tags::OCCUPATION, Remove),
    (tags::ADDITIONAL_PATIENT_HISTORY, Remove),
    (tags::PATIENT_TELEPHONE_NUMBERS, Remove),
    (tags::PATIENT_TELECOM_INFORMATION, Remove),
    (tags::MILITARY_RANK, Remove),
    (tags::BRANCH_OF_SERVICE, Remove),
    (tags::COUNTRY_OF_RESIDENCE, Remove),
    (tags::REGION_OF_RESIDENCE, Remove),
    (tags::PATIENT_INSURANCE_PLAN_CODE_SEQUENCE, Remove),
    (tags::INSURANCE_PLAN_IDENTIFICATION, Remove),
    (tags::PATIENT_PRIMARY_LANGUAGE_CODE_SEQUENCE, Remove),
    (
        tags::PATIENT_PRIMARY_LANGUAGE_MODIFIER_CODE_SEQUENCE,
        Remove,
    ),
    (tags::MEDICAL_ALERTS, Remove),
    (tags::ALLERGIES, Remove),
    (tags::SMOKING_STATUS, Remove),
    (tags::PREGNANCY_STATUS, Remove),
    (tags::LAST_MENSTRUAL_DATE, Remove),
    (tags::PATIENT_RELIGIOUS_PREFERENCE, Remove),
    (tags::RESPONSIBLE_PERSON, Remove),
    (tags::RESPONSIBLE_ORGANIZATION, Remove),
    (tags::PATIENT_SIZE_CODE_SEQUENCE, Remove),
    (tags::REFERENCED_PATIENT_PHOTO_SEQUENCE, Remove),
    (tags::REFERENCED_PATIENT_SEQUENCE, Remove),
    (tags::REFERENCED_PATIENT_ALIAS_SEQUENCE, Remove),
    (tags::PATIENT_STATE, Remove),
    (tags::PATIENT_INSTITUTION_RESIDENCE, Remove),
    (tags::SPECIAL_NEEDS, Remove),
    (
        tags::CONFIDENTIALITY_CONSTRAINT_ON_PATIENT_DATA_DESCRIPTION,
        Remove,
    ),
    // Study, visit, request
    (tags::STUDY_INSTANCE_UID, Remap),
    (tags::STUDY_DATE, Empty),
    (tags::STUDY_TIME, Empty),
    (tags::REFERRING_PHYSICIAN_NAME, Empty),
    (tags::STUDY_ID, Empty),
    (tags::ACCESSION_NUMBER, Empty),
    (tags::ISSUER_OF_ACCESSION_NUMBER_SEQUENCE, Remove),
    (tags::STUDY_DESCRIPTION, Remove),
    (tags::STUDY_COMMENTS, Remove),
    (tags::STUDY_ID_ISSUER, Remove),
    (tags::PHYSICIANS_OF_RECORD, Remove),
    (tags::PHYSICIANS_OF_RECORD_IDENTIFICATION_SEQUENCE, Remove),
    (tags::NAME_OF_PHYSICIANS_READING_STUDY, Remove),
    (
        tags::PHYSICIANS_READING_STUDY_IDENTIFICATION_SEQUENCE,
        Remove,
    ),
    (tags::REFERRING_PHYSICIAN_ADDRESS, Remove),
    (tags::REFERRING_PHYSICIAN_TELEPHONE_NUMBERS, Remove),
    (tags::REFERRING_PHYSICIAN_IDENTIFICATION_SEQUENCE, Remove),
    (tags::CONSULTING_PHYSICIAN_NAME, Remove),
    (tags::CONSULTING_PHYSICIAN_IDENTIFICATION_SEQUENCE, Remove),
    (tags::ADMITTING_DIAGNOSES_DESCRIPTION, Remove),
    (tags::ADMITTING_DIAGNOSES_CODE_SEQUENCE, Remove),
    (tags::ADMISSION_ID, Remove),
    (tags::ISSUER_OF_ADMISSION_ID_SEQUENCE, Remove),
    (tags::ADMITTING_DATE, Remove),
    (tags::ADMITTING_TIME, Remove),
    (tags::DISCHARGE_DIAGNOSIS_DESCRIPTION, Remove),
    (tags::SERVICE_EPISODE_ID, Remove),
    (tags::SERVICE_EPISODE_DESCRIPTION, Remove),
    (tags::ISSUER_OF_SERVICE_EPISODE_ID_SEQUENCE, Remove),
    (tags::VISIT_COMMENTS, Remove),
    (tags::CURRENT_PATIENT_LOCATION, Remove),
    (tags::REASON_FOR_STUDY, Remove),
    (tags::REQUESTING_PHYSICIAN, Remove),
    (tags::REQUESTING_PHYSICIAN_IDENTIFICATION_SEQUENCE, Remove),
    (tags::REQUESTING_SERVICE, Remove),
    (tags::REQUESTING_SERVICE_CODE_SEQUENCE, Remove),
    (tags::REQUESTED_PROCEDURE_DESCRIPTION, Remove),
    (tags::REQUESTED_PROCEDURE_CODE_SEQUENCE, Remove),
    (tags::REQUESTED_PROCEDURE_ID, Remove),
    (tags::REQUESTED_PROCEDURE_LOCATION, Remove),
    (tags::REQUESTED_PROCEDURE_COMMENTS, Remove),
    (tags::REASON_FOR_THE_REQUESTED_PROCEDURE, Remove),
    (tags::REQUESTED_CONTRAST_AGENT, Remove),
    (tags::REQUEST_ATTRIBUTES_SEQUENCE, Remove),
    (tags::REFERENCED_STUDY_SEQUENCE, Remove),
    (tags::REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE, Remove),
    (tags::PERFORMED_PROCEDURE_STEP_ID, Remove),
    (tags::PERFORMED_PROCEDURE_STEP_DESCRIPTION, Remove),
    (tags::PERFORMED_PROCEDURE_STEP_START_DATE, Remove),
    (tags::PERFORMED_PROCEDURE_STEP_START_TIME, Remove),
    (tags::PERFORMED_PROCEDURE_STEP_END_DATE, Remove),
    (tags::PERFORMED_PROCEDURE_STEP_END_TIME, Remove),
    (tags::COMMENTS_ON_THE_PERFORMED_PROCEDURE_STEP, Remove),
    (tags::PERFORMED_LOCATION, Remove),
    (tags::PERFORMED_STATION_AE_TITLE, Remove),
    (tags::PERFORMED_STATION_NAME, Remove),
    (tags::SCHEDULED_PROCEDURE_STEP_ID, Remove),
    (tags::SCHEDULED_PROCEDURE_STEP_DESCRIPTION, Remove),
    (tags::SCHEDULED_PROCEDURE_STEP_START_DATE, Remove),
    (tags::SCHEDULED_PROCEDURE_STEP_START_TIME, Remove),
    (tags::SCHEDULED_PROCEDURE_STEP_END_DATE, Remove),
    (tags::SCHEDULED_PROCEDURE_STEP_END_TIME, Remove),
    (tags::SCHEDULED_PERFORMING_PHYSICIAN_NAME, Remove),
    (tags::SCHEDULED_PROCEDURE_STEP_LOCATION, Remove),
    (tags::SCHEDULED_STATION_AE_TITLE, Remove),
    (tags::SCHEDULED_STATION_NAME, Remove),
    (tags::ORDER_ENTERED_BY, Remove),
    (tags::ORDER_ENTERER_LOCATION, Remove),
    (tags::ORDER_CALLBACK_PHONE_NUMBER, Remove),
    (tags::PLACER_ORDER_NUMBER_IMAGING_SERVICE_REQUEST, Remove),
    (tags::FILLER_ORDER_NUMBER_IMAGING_SERVICE_REQUEST, Remove),
    (tags::IMAGING_SERVICE_REQUEST_COMMENTS, Remove),
    (tags::REASON_FOR_THE_IMAGING_SERVICE_REQUEST, Remove),
    (tags::PATIENT_TRANSPORT_ARRANGEMENTS, Remove),
    (tags::NAMES_OF_INTENDED_RECIPIENTS_OF_RESULTS, Remove),
    (tags::PRE_MEDICATION, Remove),
    // Series, image, dates and times
    (tags::SERIES_INSTANCE_UID, Remap),
    (tags::SERIES_DATE, Remove),
    (tags::SERIES_TIME, Remove),
    (tags::SERIES_DESCRIPTION, Remove),
    (tags::SERIES_DESCRIPTION_CODE_SEQUENCE, Remove),
    (tags::ACQUISITION_DATE, Empty),
    (tags::ACQUISITION_TIME, Empty),
    (tags::ACQUISITION_DATE_TIME, Remove),
    (tags::CONTENT_DATE, Empty),
    (tags::CONTENT_TIME, Empty),
    (tags::INSTANCE_CREATION_DATE, Remove),
    (tags::INSTANCE_CREATION_TIME, Remove),
    (tags::INSTANCE_COERCION_DATE_TIME, Remove),
    (tags::OVERLAY_DATE, Remove),
    (tags::OVERLAY_TIME, Remove),
    (tags::CURVE_DATE, Remove),
    (tags::CURVE_TIME, Remove),
    (tags::TIMEZONE_OFFSET_FROM_UTC, Remove),
    (tags::START_ACQUISITION_DATE_TIME, Remove),
    (tags::END_ACQUISITION_DATE_TIME, Remove),
    (tags::PROTOCOL_NAME, Remove),
    (tags::BODY_PART_EXAMINED, Remove),
    (tags::CONTRAST_BOLUS_AGENT, Empty),
    (tags::OPERATORS_NAME, Remove),
    (tags::OPERATOR_IDENTIFICATION_SEQUENCE, Remove),
    (tags::PERFORMING_PHYSICIAN_NAME, Remove),
    (tags::PERFORMING_PHYSICIAN_IDENTIFICATION_SEQUENCE, Remove),
    (tags::IMAGE_COMMENTS, Remove),
    (tags::FRAME_COMMENTS, Remove),
    (tags::IMAGE_PRESENTATION_COMMENTS, Remove),
    (tags::DERIVATION_DESCRIPTION, Remove),
    (tags::ACQUISITION_COMMENTS, Remove),
    (tags::ACQUISITION_DEVICE_PROCESSING_DESCRIPTION, Remove),
    (tags::ACQUISITION_PROTOCOL_DESCRIPTION, Remove),
    (tags::IDENTIFYING_COMMENTS, Remove),
    (tags::ICON_IMAGE_SEQUENCE, Remove),
    (tags::MODIFIED_IMAGE_DESCRIPTION, Remove),
    // Equipment and institution
    (tags::INSTITUTION_NAME, Remove),
    (tags::INSTITUTION_ADDRESS, Remove),
    (tags::INSTITUTION_CODE_SEQUENCE, Remove),
    (tags::INSTITUTIONAL_DEPARTMENT_NAME, Remove),
    (tags::STATION_NAME, Remove),
    (tags::DEVICE_SERIAL_NUMBER, Remove),
    (tags::DETECTOR_ID, Remove),
    (tags::PLATE_ID, Remove),
    (tags::GANTRY_ID, Remove),
    (tags::CASSETTE_ID, Remove),
    (tags::GENERATOR_ID, Remove),
    (tags::SOURCE_SERIAL_NUMBER, Remove),
    (tags::MODIFYING_DEVICE_ID, Remove),
    (tags::DEVICE_DESCRIPTION, Remove),
    (tags::SOFTWARE_VERSIONS, Remove),
    // Observers, reports, annotations, signatures
    (tags::PERSON_NAME, Dummy),
    (tags::VERIFYING_OBSERVER_NAME, Dummy),
    (tags::VERIFYING_ORGANIZATION, Remove),
    (tags::PERSON_ADDRESS, Remove),
    (tags::PERSON_TELEPHONE_NUMBERS, Remove),
    (tags::PERSON_IDENTIFICATION_CODE_SEQUENCE, Remove),
    (tags::HUMAN_PERFORMER_NAME, Remove),
    (tags::HUMAN_PERFORMER_ORGANIZATION, Remove),
    (tags::ACTUAL_HUMAN_PERFORMERS_SEQUENCE, Remove),
    (tags::PARTICIPANT_SEQUENCE, Remove),
    (tags::AUTHOR_OBSERVER_SEQUENCE, Remove),
    (tags::CUSTODIAL_ORGANIZATION_SEQUENCE, Remove),
    (tags::CONTENT_SEQUENCE, Remove),
    (tags::GRAPHIC_ANNOTATION_SEQUENCE, Remove),
    (tags::TEXT_STRING, Remove),
    (tags::TEXT_COMMENTS, Remove),
    (tags::TEXT_VALUE, Remove),
    (tags::INTERPRETATION_TEXT, Remove),
    (tags::INTERPRETATION_DIAGNOSIS_DESCRIPTION, Remove),
    (tags::INTERPRETATION_AUTHOR, Remove),
    (tags::INTERPRETATION_RECORDER, Remove),
    (tags::INTERPRETATION_TRANSCRIBER, Remove),
    (tags::PHYSICIAN_APPROVING_INTERPRETATION, Remove),
    (tags::RESULTS_COMMENTS, Remove),
    (tags::IMPRESSIONS, Remove),
    (tags::DISTRIBUTION_NAME, Remove),
    (tags::DISTRIBUTION_ADDRESS, Remove),
    (tags::DIGITAL_SIGNATURES_SEQUENCE, Remove),
    (tags::MAC, Remove),
    (tags::ORIGINAL_ATTRIBUTES_SEQUENCE, Remove),
    (tags::MODIFIED_ATTRIBUTES_SEQUENCE, Remove),
    (tags::DATA_SET_TRAILING_PADDING, Remove),
    // UIDs
    (tags::SOP_INSTANCE_UID, Remap),
    (tags::REFERENCED_SOP_INSTANCE_UID, Remap),
    (tags::FRAME_OF_REFERENCE_UID, Remap),
    (tags::SYNCHRONIZATION_FRAME_OF_REFERENCE_UID, Remap),
    (tags::REFERENCED_FRAME_OF_REFERENCE_UID, Remap),
    (tags::RELATED_FRAME_OF_REFERENCE_UID, Remap),
    (tags::INSTANCE_CREATOR_UID, Remap),
    (tags::IRRADIATION_EVENT_UID, Remap),
    (tags::STORAGE_MEDIA_FILE_SET_UID, Remap),
    (tags::DEVICE_UID, Remap),
    (tags::DIMENSION_ORGANIZATION_UID, Remap),
    (tags::CONCATENATION_UID, Remap),
    (tags::FIDUCIAL_UID, Remap),
    (tags::UID, Remap),
    (tags::TRANSACTION_UID, Remap),
    (tags::DOSE_REFERENCE_UID, Remap),
    (tags::TEMPLATE_EXTENSION_CREATOR_UID, Remap),
    (tags::TEMPLATE_EXTENSION_ORGANIZATION_UID, Remap),
];

/// The profile's action for `tag`, including the group rules (private, curves, overlays).
#[must_use]
pub fn action_for(tag: Tag) -> Option<Action> {
    let group = tag.group();
    if group % 2 == 1 || group & 0xFF00 == 0x5000 || group & 0xFF00 == 0x6000 {
        return Some(Remove);
    }
    PROFILE.iter().find(|(t, _)| *t == tag).map(|&(_, a)| a)
}

/// Source UID → new UID, for one export. Same source, same replacement.
#[derive(Clone, Debug, Default)]
pub struct UidMap {
    map: HashMap<String, String>,
}

impl UidMap {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The replacement of `uid` (trailing NUL/space padding ignored), made on first use.
    pub fn map(&mut self, uid: &str) -> String {
        let key = uid.trim_end_matches(['\0', ' ']).trim().to_owned();
        self.map.entry(key).or_insert_with(new_uid).clone()
    }

    /// How many UIDs were replaced.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// A new UID in the `2.25.<UUID as a decimal integer>` form (ITU-T X.667, PS3.5 B.2), from a
/// random (version 4) UUID.
#[must_use]
pub fn new_uid() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness (never seen on our platforms): fall back to time and process id,
        // which are still unique per call in practice.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let counter = u128::from(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let mixed = nanos ^ (u128::from(std::process::id()) << 96) ^ (counter << 64);
        bytes = mixed.to_be_bytes();
    }
    bytes[6] = (bytes[6] & 0x0F) | 0x40;
    bytes[8] = (bytes[8] & 0x3F) | 0x80;
    format!("2.25.{}", u128::from_be_bytes(bytes))
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Options of the profile that relax it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeidOptions {
    /// The profile's Retain UIDs Option: `U` attributes keep their values.
    pub retain_uids: bool,
}

/// What [`deidentify`] did, counted over the dataset and its sequence items.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeidReport {
    pub removed: usize,
    pub emptied: usize,
    pub dummied: usize,
    pub remapped: usize,
}

/// Applies the profile to `obj` and, recursively, to the items of its sequences. UIDs are
/// replaced through `uids`. Does not add PatientIdentityRemoved / DeidentificationMethod: the
/// writer of the new object does, once it has its own attributes.
pub fn deidentify(
    obj: &mut InMemDicomObject,
    uids: &mut UidMap,
    options: DeidOptions,
) -> DeidReport {
    let mut report = DeidReport::default();
    deidentify_into(obj, uids, options, &mut report);
    report
}

fn deidentify_into(
    obj: &mut InMemDicomObject,
    uids: &mut UidMap,
    options: DeidOptions,
    report: &mut DeidReport,
) {
    let present: Vec<Tag> = obj.tags().collect();
    for tag in present {
        match action_for(tag) {
            Some(Remove) => {
                obj.remove_element(tag);
                report.removed += 1;
            }
            Some(Empty) => {
                let vr = obj.get(tag).map_or(VR::UN, DataElement::vr);
                obj.put(DataElement::empty(tag, vr));
                report.emptied += 1;
            }
            Some(Dummy) => {
                let vr = obj.get(tag).map_or(VR::UN, DataElement::vr);
                obj.put(DataElement::new(tag, vr, dummy_value(vr)));
                report.dummied += 1;
            }
            Some(Remap) if !options.retain_uids => {
                let Some(elem) = obj.get(tag) else { continue };
                let vr = elem.vr();
                let Ok(values) = elem.value().to_multi_str() else {
                    continue;
                };
                let mapped: Vec<String> = values.iter().map(|uid| uids.map(uid)).collect();
                obj.put(DataElement::new(
                    tag,
                    vr,
                    PrimitiveValue::Strs(mapped.into_iter().collect()),
                ));
                report.remapped += 1;
            }
            Some(Remap) | None => {
                if let Some(elem) = obj.get(tag)
                    && matches!(elem.value(), Value::Sequence(_))
                    && let Ok(mut elem) = obj.take_element(tag)
                {
                    if let Some(items) = elem.items_mut() {
                        for item in items.iter_mut() {
                            deidentify_into(item, uids, options, report);
                        }
                    }
                    obj.put(elem);
                }
            }
        }
    }
}

/// The dummy of the profile's `D` action for a VR.
fn dummy_value(vr: VR) -> PrimitiveValue {
    match vr {
        VR::PN => PrimitiveValue::from("ANONYMOUS"),
        VR::DA => PrimitiveValue::from("19000101"),
        VR::TM => PrimitiveValue::from("000000"),
        VR::DT => PrimitiveValue::from("19000101000000"),
        VR::IS | VR::DS => PrimitiveValue::from("0"),
        _ => PrimitiveValue::from("ANONYMIZED"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
        obj.get(tag)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
    }

    fn sample() -> InMemDicomObject {
        let item = InMemDicomObject::from_element_iter([
            DataElement::new(
                tags::REFERENCED_SOP_CLASS_UID,
                VR::UI,
                "1.2.840.10008.5.1.4.1.1.2",
            ),
            DataElement::new(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, "1.2.3.4.5"),
            DataElement::new(tags::ACCESSION_NUMBER, VR::SH, "ACC123"),
        ]);
        InMemDicomObject::from_element_iter([
            DataElement::new(tags::PATIENT_NAME, VR::PN, "Doe^Jane"),
            DataElement::new(tags::PATIENT_ID, VR::LO, "P-0042"),
            DataElement::new(tags::PATIENT_BIRTH_DATE, VR::DA, "19700101"),
            DataElement::new(tags::PATIENT_ADDRESS, VR::LO, "1 Main Street"),
            DataElement::new(tags::INSTITUTION_NAME, VR::LO, "General Hospital"),
            DataElement::new(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.3.4"),
            DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4.5"),
            DataElement::new(tags::MODALITY, VR::CS, "CT"),
            DataElement::new(Tag(0x0029, 0x1010), VR::LO, "private note"),
            DataElement::new(
                tags::REFERENCED_IMAGE_SEQUENCE,
                VR::SQ,
                dicom_core::value::DataSetSequence::from(vec![item]),
            ),
        ])
    }

    #[test]
    fn identity_is_emptied_or_removed_and_the_rest_kept() {
        let mut obj = sample();
        deidentify(&mut obj, &mut UidMap::new(), DeidOptions::default());
        assert_eq!(text(&obj, tags::PATIENT_NAME).as_deref(), Some(""));
        assert_eq!(text(&obj, tags::PATIENT_ID).as_deref(), Some(""));
        assert_eq!(text(&obj, tags::PATIENT_BIRTH_DATE).as_deref(), Some(""));
        assert!(obj.get(tags::PATIENT_ADDRESS).is_none());
        assert!(obj.get(tags::INSTITUTION_NAME).is_none());
        assert!(
            obj.get(Tag(0x0029, 0x1010)).is_none(),
            "private attributes go"
        );
        assert_eq!(text(&obj, tags::MODALITY).as_deref(), Some("CT"));
    }

    #[test]
    fn uids_are_remapped_consistently_including_inside_sequences() {
        let mut obj = sample();
        let mut uids = UidMap::new();
        deidentify(&mut obj, &mut uids, DeidOptions::default());
        let sop = text(&obj, tags::SOP_INSTANCE_UID).unwrap();
        assert!(sop.starts_with("2.25.") && sop != "1.2.3.4.5", "{sop}");
        let item = &obj
            .get(tags::REFERENCED_IMAGE_SEQUENCE)
            .unwrap()
            .items()
            .unwrap()[0];
        assert_eq!(text(item, tags::REFERENCED_SOP_INSTANCE_UID).unwrap(), sop);
        assert_eq!(
            text(item, tags::REFERENCED_SOP_CLASS_UID).as_deref(),
            Some("1.2.840.10008.5.1.4.1.1.2"),
            "class UIDs are not identifying"
        );
        assert_eq!(text(item, tags::ACCESSION_NUMBER).as_deref(), Some(""));
        assert_eq!(
            uids.map("1.2.3.4"),
            text(&obj, tags::STUDY_INSTANCE_UID).unwrap()
        );
    }

    #[test]
    fn retain_uids_keeps_them() {
        let mut obj = sample();
        deidentify(
            &mut obj,
            &mut UidMap::new(),
            DeidOptions { retain_uids: true },
        );
        assert_eq!(
            text(&obj, tags::STUDY_INSTANCE_UID).as_deref(),
            Some("1.2.3.4")
        );
        assert_eq!(text(&obj, tags::PATIENT_NAME).as_deref(), Some(""));
    }

    #[test]
    fn new_uids_are_valid_and_distinct() {
        let a = new_uid();
        let b = new_uid();
        assert_ne!(a, b);
        for uid in [a, b] {
            assert!(uid.len() <= 64, "{uid}");
            assert!(uid.starts_with("2.25."));
            let number = &uid[5..];
            assert!(!number.starts_with('0') && number.bytes().all(|c| c.is_ascii_digit()));
        }
    }

    #[test]
    fn profile_table_has_no_duplicates() {
        let mut seen = std::collections::HashSet::new();
        for (tag, _) in PROFILE {
            assert!(seen.insert(*tag), "{tag} listed twice");
        }
    }
}
