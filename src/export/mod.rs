//! Exports of what a reader reviewed: the slice as displayed with its heatmap, ROI outline,
//! colorbar and legend burned in, as an 8-bit RGB PNG with a JSON sidecar that says how to
//! reproduce it, or as a DICOM Secondary Capture (de-identified by default).
//!
//! Dependency rule: `export/` uses [`crate::imaging`] (the shader's CPU reference draws the
//! image), [`crate::explain`]'s result types (heatmap, provenance, parameters) and
//! [`crate::dicom`] (opening source files) plus dicom-rs to write; it runs no model and knows
//! nothing about the UI. Every write goes through [`crate::output`]: a temporary file in the
//! target folder and a rename; an existing file is replaced only when asked, and a source file
//! never.
//!
//! The GUI's export dialog and `radlens export` run the same per-slice pipeline,
//! [`ExportPlan::export_slice`]: explain (the caller's callback) → [`annotate`] →
//! [`side_by_side`] → [`write_png`] or [`DicomExport::write`] → [`write_sidecar`]; then, for the
//! DICOM result objects, [`write_result_objects`]: the explained slices' heatmaps as a
//! Parametric Map, their ROIs as a Segmentation, the review as a TID 1500 Structured Report, all
//! through the one [`DicomExport`] (one de-identification, one UID map).

mod annotate;
mod deid;
mod instance;
mod parametric_map;
mod pipeline;
mod report;
mod results;
mod secondary_capture;
mod segmentation;
mod sidecar;
mod text;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use annotate::{
    AnnotatedImage, DisplayedSlice, Legend, Scale, annotate, side_by_side, viewer_heat_params,
};
pub use deid::{Action, DeidOptions, DeidReport, PROFILE, UidMap, action_for, deidentify, new_uid};
pub use instance::{
    Code, DEVICE_UID, DicomExport, DicomOptions, IMPLEMENTATION_CLASS_UID, ObjectKind,
    PRIVATE_SCHEME, SourceFrame, SourceImage, WrittenInstance, decimal_string, source_frames,
};
pub use parametric_map::{HEATMAP_LABEL, map_description};
pub use pipeline::{
    ExplainPane, Explained, ExportPlan, Format, Look, Pane, SliceToExport, dicom_options,
    hash_files, picture,
};
pub use report::{
    FrameReference, Measurement, Report, ReportedRegion, SegmentReference, codes as report_codes,
};
pub use results::{
    ExplainedSlice, HEATMAP_SEGMENTATION_FILE, LISTING_FILE, ListedFile, Listing,
    PARAMETRIC_MAP_FILE, REPORT_FILE, ResultObjects, SEGMENTATION_FILE, map_measurements,
    roi_features, write_result_objects,
};
pub use secondary_capture::derivation_description;
pub use segmentation::{Segment, SegmentAlgorithm, SegmentationType, fractional, pack_bits};
pub use sidecar::{
    DicomInfo, DisplayInfo, FileHash, OutputInfo, Sidecar, SliceInfo, sha256_file, sidecar_path,
};

use crate::output::write_atomically;
pub use crate::output::{OutputError, WritePolicy};

/// Export failures; messages end with the path concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Not written: exists, would replace a source, or the write failed ([`crate::output`]).
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("cannot read ({source}): {}", path.display())]
    Read {
        source: std::io::Error,
        path: PathBuf,
    },
    #[error("cannot encode {what} ({reason}): {}", path.display())]
    Encode {
        what: &'static str,
        reason: String,
        path: PathBuf,
    },
    #[error("source image not usable for a DICOM export ({reason}): {}", path.display())]
    Source { reason: String, path: PathBuf },
    #[error(transparent)]
    Dicom(#[from] crate::dicom::DicomError),
    #[error("invalid export: {reason}")]
    Invalid { reason: String },
    #[error("explanation failed: {reason}")]
    Explain { reason: String },
    #[error("export cancelled")]
    Cancelled,
}

/// Writes the image as an 8-bit RGB PNG.
pub fn write_png(
    path: &Path,
    image: &AnnotatedImage,
    policy: &WritePolicy,
) -> Result<(), ExportError> {
    use image::ImageEncoder;
    let encode_error = |reason: String| ExportError::Encode {
        what: "PNG",
        reason,
        path: path.to_owned(),
    };
    let width = u32::try_from(image.width).map_err(|e| encode_error(e.to_string()))?;
    let height = u32::try_from(image.height).map_err(|e| encode_error(e.to_string()))?;
    Ok(write_atomically(path, policy, |out| {
        image::codecs::png::PngEncoder::new(out).write_image(
            &image.rgb,
            width,
            height,
            image::ExtendedColorType::Rgb8,
        )
    })?)
}

/// Writes the sidecar as pretty-printed JSON.
pub fn write_sidecar(
    path: &Path,
    sidecar: &Sidecar,
    policy: &WritePolicy,
) -> Result<(), ExportError> {
    Ok(write_atomically(path, policy, |out| {
        serde_json::to_writer_pretty(&mut *out, sidecar).map_err(|e| e.to_string())?;
        out.write_all(b"\n").map_err(|e| e.to_string())
    })?)
}
