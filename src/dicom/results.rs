//! Reading result objects back over the series they were made from: Parametric Maps as heatmap
//! layers (float or double float values, frames matched to the series' slices by position, as
//! [`super::masks_for`] matches SEG frames) and radlens' TID 1500 Structured Reports as the
//! regions they report (verdict, note, measurements, the review entry they carry).

use super::header::text;
use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;

use super::error::DicomError;
use super::header::FileHeader;
use super::volume::Volume;

/// SOP Class UID of the Parametric Map Storage.
pub const PARAMETRIC_MAP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.30";

/// A Parametric Map laid over a series.
#[derive(Clone, Debug, PartialEq)]
pub struct MapLayer {
    pub path: PathBuf,
    /// Content Label and Description (radlens writes `HEATMAP` and method, class, model).
    pub label: String,
    pub description: String,
    /// Per slice of the series, the map's values there (`None`: no frame on that slice).
    pub slices: Vec<Option<Vec<f32>>>,
    /// Frames in the file, and how many fell on a slice of the series.
    pub frames: usize,
    pub matched: usize,
}

impl MapLayer {
    /// radlens' own description `METHOD class K (NAME) of MODEL`: (method, class index, name).
    #[must_use]
    pub fn radlens_target(&self) -> Option<(String, usize, String)> {
        let (method, rest) = self.description.split_once(" class ")?;
        let (index, rest) = rest.split_once(" (")?;
        let (name, _) = rest
            .split_once(") of ")
            .unwrap_or((rest.trim_end_matches(')'), ""));
        Some((
            method.to_owned(),
            index.trim().parse().ok()?,
            name.to_owned(),
        ))
    }
}

/// Reads the Parametric Map at `path` over `target`: each frame on the slice at its position
/// (within half a slice spacing, on the same in-plane grid). Integer-valued maps are refused
/// with the reason (radlens writes float maps).
pub fn read_parametric_map(path: &Path, target: &Volume) -> Result<MapLayer, DicomError> {
    let object = super::open(path, super::ReadExtent::Full)?;
    let malformed = |reason: String| DicomError::Malformed {
        reason,
        path: path.to_owned(),
    };
    let class = text(&object, tags::SOP_CLASS_UID);
    if class != PARAMETRIC_MAP_CLASS {
        return Err(malformed(format!(
            "not a Parametric Map (SOP Class {class})"
        )));
    }
    let header = FileHeader::from_object(&object, path)?;
    let (rows, cols) = (header.rows as usize, header.cols as usize);
    let [_, target_rows, target_cols] = target.shape;
    if (rows, cols) != (target_rows, target_cols) {
        return Err(malformed(format!(
            "map is {rows}x{cols}, the series {target_rows}x{target_cols}"
        )));
    }
    let values: Vec<f32> = if let Some(e) = object.get(tags::FLOAT_PIXEL_DATA) {
        e.to_multi_float32()
            .map_err(|e| malformed(format!("Float Pixel Data unreadable: {e}")))?
    } else if let Some(e) = object.get(tags::DOUBLE_FLOAT_PIXEL_DATA) {
        e.to_multi_float64()
            .map_err(|e| malformed(format!("Double Float Pixel Data unreadable: {e}")))?
            .into_iter()
            .map(|v| v as f32)
            .collect()
    } else {
        return Err(malformed(
            "integer-valued Parametric Maps are not read (only float and double float)".into(),
        ));
    };
    let plane = rows * cols;
    let frames = header.frames as usize;
    if values.len() < frames * plane {
        return Err(malformed(format!(
            "{} values for {frames} frames of {rows}x{cols}",
            values.len()
        )));
    }
    let mut slices = vec![None; target.shape[0]];
    let mut matched = 0;
    for (frame, position) in header.frame_positions_mm.iter().enumerate().take(frames) {
        let Some(slice) = position.and_then(|p| super::seg::slice_at(target, p)) else {
            continue;
        };
        slices[slice] = Some(values[frame * plane..(frame + 1) * plane].to_vec());
        matched += 1;
    }
    Ok(MapLayer {
        path: path.to_owned(),
        label: text(&object, tags::CONTENT_LABEL),
        description: text(&object, tags::CONTENT_DESCRIPTION),
        slices,
        frames,
        matched,
    })
}

/// A numeric measurement of a reported region.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportedValue {
    pub code: String,
    pub meaning: String,
    pub value: f64,
    pub unit: String,
}

/// One measurement group of a report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportedFinding {
    pub tracking_id: String,
    pub method: String,
    /// The private verdict code's value, lower case (`plausible`, …).
    pub verdict: Option<String>,
    pub note: String,
    pub measurements: Vec<ReportedValue>,
    /// The review entry radlens stored (JSON).
    pub entry_json: Option<String>,
    /// `(SOP Instance UID, segment number)` of the referenced segment.
    pub segment: Option<(String, u16)>,
    /// `(SOP Instance UID, frame number)` of the referenced heatmap.
    pub heatmap: Option<(String, u32)>,
}

/// The measurement groups of the TID 1500 report at `path`.
pub fn read_report(path: &Path) -> Result<Vec<ReportedFinding>, DicomError> {
    let object = super::open(path, super::ReadExtent::Full)?;
    if text(&object, tags::MODALITY) != "SR" {
        return Err(DicomError::Malformed {
            reason: "not a Structured Report".into(),
            path: path.to_owned(),
        });
    }
    let mut findings = Vec::new();
    collect_groups(&object, &mut findings);
    Ok(findings)
}

fn collect_groups(item: &InMemDicomObject, out: &mut Vec<ReportedFinding>) {
    for child in items(item, tags::CONTENT_SEQUENCE) {
        if concept(child).0 == "125007" {
            out.push(finding(child));
        } else {
            collect_groups(child, out);
        }
    }
}

fn finding(group: &InMemDicomObject) -> ReportedFinding {
    let mut finding = ReportedFinding::default();
    for item in items(group, tags::CONTENT_SEQUENCE) {
        let (code, meaning) = concept(item);
        let value_type = text(item, tags::VALUE_TYPE);
        match (value_type.as_str(), code.as_str()) {
            ("TEXT", "112039") => finding.tracking_id = text(item, tags::TEXT_VALUE),
            ("TEXT", "METHOD") => finding.method = text(item, tags::TEXT_VALUE),
            ("TEXT", "121106") => finding.note = text(item, tags::TEXT_VALUE),
            ("TEXT", "REVIEWENTRY") => finding.entry_json = Some(text(item, tags::TEXT_VALUE)),
            ("CODE", "VERDICT") => {
                finding.verdict = items(item, tags::CONCEPT_CODE_SEQUENCE)
                    .first()
                    .map(|c| text(c, tags::CODE_VALUE).to_lowercase());
            }
            ("IMAGE", "121191" | "HEATMAP") => {
                let Some(reference) = items(item, tags::REFERENCED_SOP_SEQUENCE).first() else {
                    continue;
                };
                let uid = text(reference, tags::REFERENCED_SOP_INSTANCE_UID);
                if code == "121191" {
                    let number = int(reference, tags::REFERENCED_SEGMENT_NUMBER).unwrap_or(1);
                    finding.segment = Some((uid, u16::try_from(number).unwrap_or(1)));
                } else {
                    let number = int(reference, tags::REFERENCED_FRAME_NUMBER).unwrap_or(1);
                    finding.heatmap = Some((uid, u32::try_from(number).unwrap_or(1)));
                }
            }
            ("NUM", _) => {
                let Some(measured) = items(item, tags::MEASURED_VALUE_SEQUENCE).first() else {
                    continue;
                };
                let value = measured
                    .get(tags::FLOATING_POINT_VALUE)
                    .and_then(|e| e.to_float64().ok())
                    .or_else(|| text(measured, tags::NUMERIC_VALUE).parse().ok());
                let unit = items(measured, tags::MEASUREMENT_UNITS_CODE_SEQUENCE)
                    .first()
                    .map(|u| text(u, tags::CODE_VALUE))
                    .unwrap_or_default();
                if let Some(value) = value {
                    finding.measurements.push(ReportedValue {
                        code,
                        meaning,
                        value,
                        unit,
                    });
                }
            }
            _ => {}
        }
    }
    finding
}

fn items(obj: &InMemDicomObject, tag: dicom_core::Tag) -> &[InMemDicomObject] {
    obj.get(tag)
        .and_then(InMemElement::items)
        .unwrap_or_default()
}

/// `(code value, code meaning)` of an item's concept name.
fn concept(item: &InMemDicomObject) -> (String, String) {
    items(item, tags::CONCEPT_NAME_CODE_SEQUENCE)
        .first()
        .map(|c| (text(c, tags::CODE_VALUE), text(c, tags::CODE_MEANING)))
        .unwrap_or_default()
}

fn int(obj: &InMemDicomObject, tag: dicom_core::Tag) -> Option<i64> {
    obj.get(tag).and_then(|e| e.to_int::<i64>().ok())
}
