//! DICOM Structured Report of a review (Comprehensive SR, SOP Class 1.2.840.10008.5.1.4.1.1.88.33)
//! following TID 1500 "Measurement Report": language, device observer context, the procedure
//! reported, an image library of the source slices, and per region one measurement group (TID 1411
//! "Volumetric ROI Measurements") that references its segment in the export's Segmentation and its
//! frame of the Parametric Map, with the model's probability, the explanation metrics, the ROI's
//! radiomics features, the reviewer's verdict and note. Concepts without a standard code use
//! radlens' private scheme `99RADLENS` (docs/EXPORT.md lists them); units are UCUM.
//!
//! A machine-readable copy of each review entry rides along as a TEXT item (`REVIEWENTRY`, JSON),
//! so radlens restores the review exactly from its own report.

use std::collections::BTreeMap;
use std::path::Path;

use dicom_core::{DataElement, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;

use super::instance::{
    Code, DEVICE_UID, ObjectKind, decimal_string, put_seq, put_str, sop_reference, source_frames,
    text, truncate,
};
use super::{DicomExport, ExportError, SourceImage, WritePolicy, WrittenInstance};

/// The private codes of a report's measurement group, shared with the reader.
pub mod codes {
    pub const PROBABILITY: (&str, &str) = ("PROB", "Model probability of the explained class");
    pub const VERDICT: (&str, &str) = ("VERDICT", "Reviewer verdict on the explanation");
    pub const METHOD: (&str, &str) = ("METHOD", "Explanation method");
    pub const HEATMAP: (&str, &str) = ("HEATMAP", "Explanation heatmap");
    pub const REVIEW_ENTRY: (&str, &str) = ("REVIEWENTRY", "radlens review entry (JSON)");
    /// Verdict values.
    pub const PLAUSIBLE: (&str, &str) = ("PLAUSIBLE", "Plausible");
    pub const IMPLAUSIBLE: (&str, &str) = ("IMPLAUSIBLE", "Implausible");
    pub const UNSURE: (&str, &str) = ("UNSURE", "Unsure");
}

/// A measurement of a region: what (coded), the value and its UCUM unit.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    pub concept: Code,
    pub value: f64,
    pub unit: Code,
}

impl Measurement {
    /// A unitless quantity (UCUM `1`).
    #[must_use]
    pub fn unitless(concept: Code, value: f64) -> Self {
        Self {
            concept,
            value,
            unit: Code::new("1", "UCUM", "no units"),
        }
    }
}

/// A reference to one segment of a written Segmentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentReference {
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub segment_number: u16,
}

/// A reference to one frame of a written Parametric Map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameReference {
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub frame_number: u32,
}

/// One reviewed region of the report.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportedRegion {
    /// Shown as the Tracking Identifier (e.g. "gradcam slice 12").
    pub tracking_id: String,
    /// The slice the region is on.
    pub source: SourceImage,
    pub method: String,
    pub segment: Option<SegmentReference>,
    pub heatmap: Option<FrameReference>,
    pub probability: Option<f64>,
    pub measurements: Vec<Measurement>,
    /// `plausible`, `implausible` or `unsure`.
    pub verdict: Option<String>,
    pub note: String,
    /// The review entry as JSON, for radlens to restore it.
    pub entry_json: Option<String>,
}

/// A review as a report: its regions and the other objects of the export they reference.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub model_name: String,
    pub regions: Vec<ReportedRegion>,
    /// The Parametric Maps and Segmentations written with it (evidence).
    pub evidence: Vec<WrittenInstance>,
}

impl DicomExport {
    /// Writes `report` as a TID 1500 Measurement Report to `path`.
    pub fn write_report(
        &mut self,
        path: &Path,
        report: &Report,
        policy: &WritePolicy,
    ) -> Result<WrittenInstance, ExportError> {
        policy.check(path)?;
        if report.regions.is_empty() {
            return Err(ExportError::Invalid {
                reason: "nothing to report: no reviewed region".to_owned(),
            });
        }
        let sources: Vec<SourceImage> = report.regions.iter().map(|r| r.source.clone()).collect();
        let (header, geometry) = source_frames(&sources)?;
        let modality = geometry
            .first()
            .map(|f| f.modality.clone())
            .unwrap_or_default();
        let (mut obj, _) = self.new_instance(
            &header,
            ObjectKind::Report,
            uids::COMPREHENSIVE_SR_STORAGE,
            "SR",
            1,
        );
        let study_uid = text(&obj, tags::STUDY_INSTANCE_UID);
        put_seq(
            &mut obj,
            tags::REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE,
            Vec::new(),
        );
        for (tag, value) in [
            (tags::COMPLETION_FLAG, "COMPLETE"),
            (tags::VERIFICATION_FLAG, "UNVERIFIED"),
        ] {
            put_str(&mut obj, tag, VR::CS, value);
        }
        put_seq(
            &mut obj,
            tags::PERFORMED_PROCEDURE_CODE_SEQUENCE,
            Vec::new(),
        );

        let source_refs = self.put_evidence(&mut obj, &geometry, report, &study_uid);

        let mut groups = Vec::with_capacity(report.regions.len());
        for (region, frame) in report.regions.iter().zip(&geometry) {
            let source_series = self.source_uid(&frame.series_instance_uid);
            groups.push(measurement_group(region, &source_series));
        }
        let content = content_tree(report, &modality, &source_refs, groups);
        put_str(&mut obj, tags::VALUE_TYPE, VR::CS, "CONTAINER");
        put_seq(
            &mut obj,
            tags::CONCEPT_NAME_CODE_SEQUENCE,
            vec![Code::new("126000", "DCM", "Imaging Measurement Report").item()],
        );
        put_str(&mut obj, tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE");
        let template = InMemDicomObject::from_element_iter([
            DataElement::new(tags::MAPPING_RESOURCE, VR::CS, "DCMR"),
            DataElement::new(tags::TEMPLATE_IDENTIFIER, VR::CS, "1500"),
        ]);
        put_seq(&mut obj, tags::CONTENT_TEMPLATE_SEQUENCE, vec![template]);
        put_seq(&mut obj, tags::CONTENT_SEQUENCE, content);

        self.finish(
            obj,
            ObjectKind::Report,
            uids::COMPREHENSIVE_SR_STORAGE,
            source_refs.into_iter().map(|(_, i, _)| i).collect(),
            path,
            policy,
        )
    }

    /// Current Requested Procedure Evidence: the source slices and the objects written with the
    /// report, by series. Returns the (remapped) source references, one per region.
    fn put_evidence(
        &mut self,
        obj: &mut InMemDicomObject,
        geometry: &[super::instance::SourceFrame],
        report: &Report,
        study_uid: &str,
    ) -> Vec<(String, String, Option<u32>)> {
        let mut evidence: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        let mut source_refs = Vec::with_capacity(geometry.len());
        for frame in geometry {
            let series = self.source_uid(&frame.series_instance_uid);
            let instance = self.source_uid(&frame.sop_instance_uid);
            source_refs.push((frame.sop_class_uid.clone(), instance.clone(), frame.frame));
            let list = evidence.entry(series).or_default();
            if !list.iter().any(|(_, i)| *i == instance) {
                list.push((frame.sop_class_uid.clone(), instance));
            }
        }
        for written in &report.evidence {
            evidence
                .entry(written.series_instance_uid.clone())
                .or_default()
                .push((
                    written.sop_class_uid.clone(),
                    written.sop_instance_uid.clone(),
                ));
        }
        let series_items = evidence
            .into_iter()
            .map(|(series, instances)| {
                let mut item = InMemDicomObject::new_empty();
                put_str(&mut item, tags::SERIES_INSTANCE_UID, VR::UI, &series);
                put_seq(
                    &mut item,
                    tags::REFERENCED_SOP_SEQUENCE,
                    instances.iter().map(|(c, i)| sop_reference(c, i)).collect(),
                );
                item
            })
            .collect();
        let mut study = InMemDicomObject::new_empty();
        put_str(&mut study, tags::STUDY_INSTANCE_UID, VR::UI, study_uid);
        put_seq(&mut study, tags::REFERENCED_SERIES_SEQUENCE, series_items);
        put_seq(
            obj,
            tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE,
            vec![study],
        );
        source_refs
    }
}

/// The report's content below the root: language, observer context, procedure, the image
/// library of `source_refs` and the measurement `groups`.
fn content_tree(
    report: &Report,
    modality: &str,
    source_refs: &[(String, String, Option<u32>)],
    groups: Vec<InMemDicomObject>,
) -> Vec<InMemDicomObject> {
    let mut content = vec![
        code_value(
            "HAS CONCEPT MOD",
            &Code::new("121049", "DCM", "Language of Content Item and Descendants"),
            &Code::new("en-US", "RFC5646", "English (United States)"),
        ),
        code_value(
            "HAS OBS CONTEXT",
            &Code::new("121005", "DCM", "Observer Type"),
            &Code::new("121007", "DCM", "Device"),
        ),
        uid_ref(
            "HAS OBS CONTEXT",
            &Code::new("121012", "DCM", "Device Observer UID"),
            DEVICE_UID,
        ),
        text_item(
            "HAS OBS CONTEXT",
            &Code::new("121013", "DCM", "Device Observer Name"),
            "radlens",
        ),
        text_item(
            "HAS OBS CONTEXT",
            &Code::new("121015", "DCM", "Device Observer Model Name"),
            &truncate(&report.model_name, 64),
        ),
        code_value(
            "HAS CONCEPT MOD",
            &Code::new("121058", "DCM", "Procedure reported"),
            &procedure(modality),
        ),
    ];
    let library: Vec<InMemDicomObject> = dedup(source_refs)
        .into_iter()
        .map(|(class, instance, frame)| image("CONTAINS", None, class, instance, frame, None))
        .collect();
    content.push(container(
        "CONTAINS",
        &Code::new("111028", "DCM", "Image Library"),
        vec![container(
            "CONTAINS",
            &Code::new("126200", "DCM", "Image Library Group"),
            library,
        )],
    ));
    content.push(container(
        "CONTAINS",
        &Code::new("126010", "DCM", "Imaging Measurements"),
        groups,
    ));
    content
}

/// One region's TID 1411 measurement group.
fn measurement_group(region: &ReportedRegion, source_series: &str) -> InMemDicomObject {
    let private = |(value, meaning): (&str, &str)| Code::private(value, meaning);
    let mut items = vec![
        text_item(
            "HAS OBS CONTEXT",
            &Code::new("112039", "DCM", "Tracking Identifier"),
            &truncate(&region.tracking_id, 64),
        ),
        uid_ref(
            "HAS OBS CONTEXT",
            &Code::new("112040", "DCM", "Tracking Unique Identifier"),
            &super::new_uid(),
        ),
        code_value(
            "CONTAINS",
            &Code::new("121071", "DCM", "Finding"),
            &Code::new("52988006", "SCT", "Lesion"),
        ),
    ];
    if let Some(segment) = &region.segment {
        items.push(image(
            "CONTAINS",
            Some(&Code::new("121191", "DCM", "Referenced Segment")),
            &segment.sop_class_uid,
            &segment.sop_instance_uid,
            None,
            Some(segment.segment_number),
        ));
        items.push(uid_ref(
            "CONTAINS",
            &Code::new("121232", "DCM", "Source series for segmentation"),
            source_series,
        ));
    }
    if let Some(map) = &region.heatmap {
        items.push(image(
            "CONTAINS",
            Some(&private(codes::HEATMAP)),
            &map.sop_class_uid,
            &map.sop_instance_uid,
            Some(map.frame_number),
            None,
        ));
    }
    items.push(text_item(
        "CONTAINS",
        &private(codes::METHOD),
        &truncate(&region.method, 64),
    ));
    if let Some(p) = region.probability {
        items.push(num(&Measurement::unitless(private(codes::PROBABILITY), p)));
    }
    items.extend(region.measurements.iter().map(num));
    if let Some(verdict) = &region.verdict {
        let value = match verdict.as_str() {
            "plausible" => codes::PLAUSIBLE,
            "implausible" => codes::IMPLAUSIBLE,
            _ => codes::UNSURE,
        };
        items.push(code_value(
            "CONTAINS",
            &private(codes::VERDICT),
            &private(value),
        ));
    }
    if !region.note.is_empty() {
        items.push(text_item(
            "CONTAINS",
            &Code::new("121106", "DCM", "Comment"),
            &region.note,
        ));
    }
    if let Some(json) = &region.entry_json {
        items.push(text_item("CONTAINS", &private(codes::REVIEW_ENTRY), json));
    }
    container(
        "CONTAINS",
        &Code::new("125007", "DCM", "Measurement Group"),
        items,
    )
}

/// SCT codes of the imaging procedure for a modality (CID 100 has no code for "other").
fn procedure(modality: &str) -> Code {
    match modality {
        "CT" => Code::new("77477000", "SCT", "Computed Tomography"),
        "MR" => Code::new("113091000", "SCT", "Magnetic Resonance Imaging"),
        "PT" => Code::new("82918005", "SCT", "Positron Emission Tomography"),
        _ => Code::new("363679005", "SCT", "Imaging"),
    }
}

fn dedup(refs: &[(String, String, Option<u32>)]) -> Vec<(&str, &str, Option<u32>)> {
    let mut out: Vec<(&str, &str, Option<u32>)> = Vec::new();
    for (class, instance, frame) in refs {
        let entry = (class.as_str(), instance.as_str(), *frame);
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    out
}

/// A content item: relationship (none for the root), value type and concept name.
fn content_item(relationship: &str, value_type: &str, concept: Option<&Code>) -> InMemDicomObject {
    let mut item = InMemDicomObject::new_empty();
    put_str(&mut item, tags::RELATIONSHIP_TYPE, VR::CS, relationship);
    put_str(&mut item, tags::VALUE_TYPE, VR::CS, value_type);
    if let Some(concept) = concept {
        put_seq(
            &mut item,
            tags::CONCEPT_NAME_CODE_SEQUENCE,
            vec![concept.item()],
        );
    }
    item
}

fn container(
    relationship: &str,
    concept: &Code,
    children: Vec<InMemDicomObject>,
) -> InMemDicomObject {
    let mut item = content_item(relationship, "CONTAINER", Some(concept));
    put_str(&mut item, tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE");
    put_seq(&mut item, tags::CONTENT_SEQUENCE, children);
    item
}

fn text_item(relationship: &str, concept: &Code, value: &str) -> InMemDicomObject {
    let mut item = content_item(relationship, "TEXT", Some(concept));
    put_str(&mut item, tags::TEXT_VALUE, VR::UT, value);
    item
}

fn code_value(relationship: &str, concept: &Code, value: &Code) -> InMemDicomObject {
    let mut item = content_item(relationship, "CODE", Some(concept));
    put_seq(&mut item, tags::CONCEPT_CODE_SEQUENCE, vec![value.item()]);
    item
}

fn uid_ref(relationship: &str, concept: &Code, uid: &str) -> InMemDicomObject {
    let mut item = content_item(relationship, "UIDREF", Some(concept));
    put_str(&mut item, tags::UID, VR::UI, uid);
    item
}

fn num(measurement: &Measurement) -> InMemDicomObject {
    let mut item = content_item("CONTAINS", "NUM", Some(&measurement.concept));
    let mut value = InMemDicomObject::new_empty();
    put_seq(
        &mut value,
        tags::MEASUREMENT_UNITS_CODE_SEQUENCE,
        vec![measurement.unit.item()],
    );
    put_str(
        &mut value,
        tags::NUMERIC_VALUE,
        VR::DS,
        &decimal_string(measurement.value),
    );
    value.put(DataElement::new(
        tags::FLOATING_POINT_VALUE,
        VR::FD,
        dicom_core::PrimitiveValue::from(measurement.value),
    ));
    put_seq(&mut item, tags::MEASURED_VALUE_SEQUENCE, vec![value]);
    item
}

fn image(
    relationship: &str,
    concept: Option<&Code>,
    class: &str,
    instance: &str,
    frame: Option<u32>,
    segment: Option<u16>,
) -> InMemDicomObject {
    let mut item = content_item(relationship, "IMAGE", concept);
    let mut reference = sop_reference(class, instance);
    if let Some(frame) = frame {
        put_str(
            &mut reference,
            tags::REFERENCED_FRAME_NUMBER,
            VR::IS,
            &frame.to_string(),
        );
    }
    if let Some(segment) = segment {
        super::instance::put_us(&mut reference, tags::REFERENCED_SEGMENT_NUMBER, segment);
    }
    put_seq(&mut item, tags::REFERENCED_SOP_SEQUENCE, vec![reference]);
    item
}
