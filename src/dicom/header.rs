//! What a slice file says about itself, read from its header (no pixel data): identity, geometry,
//! pixel format, display window, and the flat tag list the tag browser shows.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dicom_core::Tag;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_dictionary_std::{StandardDataDictionary, tags};
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::{DefaultDicomObject, InMemDicomObject, mem::InMemElement};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::error::DicomError;
use crate::imaging::Window;

/// One element as the tag browser lists it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TagEntry {
    /// `(group, element)`.
    pub tag: (u16, u16),
    /// Dictionary keyword, or empty for private/unknown tags.
    pub name: String,
    pub vr: String,
    /// Value as text, shortened; binary values are summarised by their size.
    pub value: String,
    /// Nesting level inside sequences (0 = top level).
    pub depth: u8,
}

/// The header of one image file (single- or multi-frame).
#[derive(Clone, Debug)]
pub struct FileHeader {
    pub path: PathBuf,
    pub study_uid: String,
    pub series_uid: String,
    pub sop_instance_uid: String,
    pub modality: String,
    pub series_description: String,
    pub transfer_syntax_uid: String,
    pub rows: u32,
    pub cols: u32,
    pub frames: u32,
    pub samples_per_pixel: u16,
    pub bits_allocated: u16,
    pub photometric: String,
    pub instance_number: Option<i32>,
    /// `[between rows, between columns]` (DICOM PixelSpacing order).
    pub pixel_spacing_mm: Option<[f64; 2]>,
    pub slice_thickness_mm: Option<f64>,
    pub spacing_between_slices_mm: Option<f64>,
    /// ImageOrientationPatient: direction of a row (increasing column), then of a column.
    pub orientation: Option<[f64; 6]>,
    /// ImagePositionPatient of each frame (one entry per frame).
    pub frame_positions_mm: Vec<Option<[f64; 3]>>,
    pub window: Option<Window>,
    /// Rescale slope/intercept of the root dataset (absent: identity or functional groups).
    pub rescale: Option<(f64, f64)>,
    /// Enhanced objects: each frame's rescale from its Pixel Value Transformation functional group
    /// (per-frame, else shared; identity where neither has one). Empty for classic images.
    pub frame_rescale: Vec<(f64, f64)>,
    pub tags: Arc<[TagEntry]>,
}

const SHARED_GROUPS: Tag = tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE;
const PER_FRAME_GROUPS: Tag = tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE;

impl FileHeader {
    /// The Pixel Data is native (uncompressed) in a transfer syntax this build knows.
    #[must_use]
    pub fn is_native(&self) -> bool {
        TransferSyntaxRegistry
            .get(self.transfer_syntax_uid.trim_end_matches(['\0', ' ']))
            .is_some_and(|ts| !ts.is_encapsulated_pixel_data())
    }

    /// Reads the header fields of an opened file. Fails when the file is not an image.
    pub fn from_object(obj: &DefaultDicomObject, path: &Path) -> Result<Self, DicomError> {
        let (Some(rows), Some(cols)) = (int(obj, tags::ROWS), int(obj, tags::COLUMNS)) else {
            return Err(DicomError::NoPixelData {
                path: path.to_owned(),
            });
        };
        if rows <= 0 || cols <= 0 {
            return Err(DicomError::Malformed {
                reason: format!("image size {rows}x{cols}"),
                path: path.to_owned(),
            });
        }
        let frames = int(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1) as u32;
        let groups = FunctionalGroups::of(obj);
        let orientation = groups
            .find(
                tags::PLANE_ORIENTATION_SEQUENCE,
                tags::IMAGE_ORIENTATION_PATIENT,
            )
            .and_then(|v| <[f64; 6]>::try_from(v.get(..6)?).ok());
        let pixel_spacing_mm = groups
            .find(tags::PIXEL_MEASURES_SEQUENCE, tags::PIXEL_SPACING)
            // Projection radiographs give the detector spacing instead.
            .or_else(|| floats(obj, tags::IMAGER_PIXEL_SPACING))
            .and_then(|v| <[f64; 2]>::try_from(v.get(..2)?).ok())
            .filter(|s| s.iter().all(|x| x.is_finite() && *x > 0.0));
        let positive = |v: Vec<f64>| v.first().copied().filter(|s| s.is_finite() && *s > 0.0);
        let slice_thickness_mm = groups
            .find(tags::PIXEL_MEASURES_SEQUENCE, tags::SLICE_THICKNESS)
            .and_then(positive);
        let spacing_between_slices_mm = groups
            .find(tags::PIXEL_MEASURES_SEQUENCE, tags::SPACING_BETWEEN_SLICES)
            .and_then(positive);
        let frame_positions_mm = match groups.per_frame {
            Some(items) if frames > 1 => (0..frames as usize)
                .map(|i| {
                    let item = items.get(i);
                    functional(
                        item,
                        tags::PLANE_POSITION_SEQUENCE,
                        tags::IMAGE_POSITION_PATIENT,
                    )
                    .and_then(|v| position(&v))
                })
                .collect(),
            _ => {
                let root = groups
                    .find(tags::PLANE_POSITION_SEQUENCE, tags::IMAGE_POSITION_PATIENT)
                    .and_then(|v| position(&v));
                vec![root; frames as usize]
            }
        };

        let window = window_from(obj)
            .or_else(|| window_from_functional(groups.shared))
            .or_else(|| window_from_functional(groups.per_frame.and_then(<[_]>::first)));
        let rescale = match (
            float(obj, tags::RESCALE_SLOPE),
            float(obj, tags::RESCALE_INTERCEPT),
        ) {
            (None, None) => None,
            (slope, intercept) => Some((slope.unwrap_or(1.0), intercept.unwrap_or(0.0))),
        };

        let frame_rescale = if groups.shared.is_some() || groups.per_frame.is_some() {
            (0..frames as usize)
                .map(|i| groups.frame_rescale(i))
                .collect()
        } else {
            Vec::new()
        };

        Ok(Self {
            path: path.to_owned(),
            study_uid: text(obj, tags::STUDY_INSTANCE_UID),
            series_uid: text(obj, tags::SERIES_INSTANCE_UID),
            sop_instance_uid: text(obj, tags::SOP_INSTANCE_UID),
            modality: text(obj, tags::MODALITY),
            series_description: text(obj, tags::SERIES_DESCRIPTION),
            transfer_syntax_uid: obj
                .meta()
                .transfer_syntax()
                .trim_end_matches(['\0', ' '])
                .to_owned(),
            rows: rows as u32,
            cols: cols as u32,
            frames,
            samples_per_pixel: int(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1) as u16,
            bits_allocated: int(obj, tags::BITS_ALLOCATED).unwrap_or(16) as u16,
            photometric: text(obj, tags::PHOTOMETRIC_INTERPRETATION),
            instance_number: int(obj, tags::INSTANCE_NUMBER),
            pixel_spacing_mm,
            slice_thickness_mm,
            spacing_between_slices_mm,
            orientation,
            frame_positions_mm,
            window,
            rescale,
            frame_rescale,
            tags: tag_entries(obj).into(),
        })
    }
}

/// Where enhanced multi-frame objects keep what classic images have at the top level.
struct FunctionalGroups<'a> {
    root: &'a InMemDicomObject,
    shared: Option<&'a InMemDicomObject>,
    per_frame: Option<&'a [InMemDicomObject]>,
}

impl<'a> FunctionalGroups<'a> {
    fn of(root: &'a InMemDicomObject) -> Self {
        Self {
            root,
            shared: first_item(root, SHARED_GROUPS),
            per_frame: root.get(PER_FRAME_GROUPS).and_then(InMemElement::items),
        }
    }

    /// `attribute` at the top level, else in the shared functional group's `macro_seq`, else in
    /// the first frame's.
    fn find(&self, macro_seq: Tag, attribute: Tag) -> Option<Vec<f64>> {
        floats(self.root, attribute)
            .or_else(|| functional(self.shared, macro_seq, attribute))
            .or_else(|| functional(self.per_frame.and_then(<[_]>::first), macro_seq, attribute))
    }

    /// Frame `index`'s rescale slope and intercept: its own Pixel Value Transformation group, else
    /// the shared one, else identity.
    fn frame_rescale(&self, index: usize) -> (f64, f64) {
        let of = |item: Option<&InMemDicomObject>, tag| {
            functional(item, tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE, tag)
                .and_then(|v| v.first().copied())
        };
        let own = self.per_frame.and_then(|items| items.get(index));
        let pick = |tag| of(own, tag).or_else(|| of(self.shared, tag));
        (
            pick(tags::RESCALE_SLOPE).unwrap_or(1.0),
            pick(tags::RESCALE_INTERCEPT).unwrap_or(0.0),
        )
    }
}

/// The text value of `tag` in `obj`, padding and surrounding blanks removed; empty when absent.
#[must_use]
pub fn text(obj: &InMemDicomObject, tag: Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).trim().to_owned())
        .unwrap_or_default()
}

fn int(obj: &InMemDicomObject, tag: Tag) -> Option<i32> {
    obj.get(tag).and_then(|e| e.to_int::<i32>().ok())
}

fn float(obj: &InMemDicomObject, tag: Tag) -> Option<f64> {
    obj.get(tag)
        .and_then(|e| e.to_float64().ok())
        .filter(|x| x.is_finite())
}

fn floats(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<f64>> {
    obj.get(tag)
        .and_then(|e| e.to_multi_float64().ok())
        .filter(|v| !v.is_empty() && v.iter().all(|x| x.is_finite()))
}

fn first_item(obj: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    obj.get(tag)
        .and_then(InMemElement::items)
        .and_then(<[_]>::first)
}

/// `functional group item → macro sequence → attribute`, as in enhanced multi-frame objects.
fn functional(
    group: Option<&InMemDicomObject>,
    macro_seq: Tag,
    attribute: Tag,
) -> Option<Vec<f64>> {
    first_item(group?, macro_seq).and_then(|item| floats(item, attribute))
}

fn position(v: &[f64]) -> Option<[f64; 3]> {
    <[f64; 3]>::try_from(v.get(..3)?).ok()
}

fn window_from(obj: &InMemDicomObject) -> Option<Window> {
    let center = floats(obj, tags::WINDOW_CENTER)?.first().copied()?;
    let width = floats(obj, tags::WINDOW_WIDTH)?.first().copied()?;
    (width > 0.0).then_some(Window {
        center: center as f32,
        width: width as f32,
    })
}

fn window_from_functional(group: Option<&InMemDicomObject>) -> Option<Window> {
    first_item(group?, tags::FRAME_VOILUT_SEQUENCE).and_then(window_from)
}

const MAX_VALUE_CHARS: usize = 160;
const MAX_SEQUENCE_DEPTH: u8 = 3;
/// Enhanced objects repeat their functional groups per frame; the browser needs the first few.
const MAX_TAG_ENTRIES: usize = 2000;

/// Flattens a dataset (without pixel data) into browser rows; sequences are followed a few levels deep.
pub fn tag_entries(obj: &InMemDicomObject) -> Vec<TagEntry> {
    let mut out = Vec::new();
    push_entries(obj, 0, &mut out);
    out
}

fn push_entries(obj: &InMemDicomObject, depth: u8, out: &mut Vec<TagEntry>) {
    for elem in obj {
        if out.len() >= MAX_TAG_ENTRIES {
            return;
        }
        let tag = elem.tag();
        if tag == tags::PIXEL_DATA {
            continue;
        }
        let name = StandardDataDictionary
            .by_tag(tag)
            .map(|e| e.alias().to_owned())
            .unwrap_or_default();
        let vr = elem.vr().to_string().to_owned();
        let value = match elem.value() {
            Value::Sequence(seq) => format!("<sequence, {} item(s)>", seq.items().len()),
            Value::PixelSequence(seq) => {
                format!("<encapsulated, {} fragment(s)>", seq.fragments().len())
            }
            Value::Primitive(p)
                if matches!(vr.as_str(), "OB" | "OW" | "OF" | "OD" | "OL" | "OV" | "UN") =>
            {
                format!("<binary, {} bytes>", p.calculate_byte_len())
            }
            Value::Primitive(p) => shorten(&p.to_str()),
        };
        out.push(TagEntry {
            tag: (tag.group(), tag.element()),
            name,
            vr,
            value,
            depth,
        });
        if depth < MAX_SEQUENCE_DEPTH
            && let Value::Sequence(seq) = elem.value()
        {
            for item in seq.items() {
                push_entries(item, depth + 1, out);
            }
        }
    }
}

fn shorten(text: &str) -> String {
    let text = text.trim_end_matches(['\0', ' ']);
    if text.chars().count() <= MAX_VALUE_CHARS {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(MAX_VALUE_CHARS).collect();
        short.push('…');
        short
    }
}
