//! The JSON sidecar: everything needed to reproduce an export — which inputs (by SHA-256), which
//! model files, the explanation's provenance and parameters (seed, target), the display (window,
//! colormap, threshold, opacity), the magnification and the radlens version.
//!
//! Input files are recorded by hash and size only, never by path: folder and file names of
//! studies often carry patient names.

use std::path::{Path, PathBuf};

use super::ExportError;
use super::annotate::{AnnotatedImage, DisplayedSlice, Legend};
use crate::explain::{ExplainParams, Heatmap};
use crate::imaging::Window;

/// One file, identified by content.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileHash {
    /// What the file is (`source`, `model`, `manifest`, `cam_features`, `cam_head`).
    pub role: String,
    /// File name; `None` for sources (names may identify the patient).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub sha256: String,
    pub bytes: u64,
}

impl FileHash {
    /// Hashes `path`; `named` records its file name.
    pub fn of(path: &Path, role: &str, named: bool) -> Result<Self, ExportError> {
        let (sha256, bytes) = sha256_file(path)?;
        Ok(Self {
            role: role.to_owned(),
            name: named
                .then(|| path.file_name().map(|n| n.to_string_lossy().into_owned()))
                .flatten(),
            sha256,
            bytes,
        })
    }
}

/// SHA-256 (lowercase hex) and size of a file, read in chunks.
pub fn sha256_file(path: &Path) -> Result<(String, u64), ExportError> {
    crate::output::sha256_file(path).map_err(|source| ExportError::Read {
        source,
        path: path.to_owned(),
    })
}

pub use crate::output::sidecar_path;

/// The exported picture.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OutputInfo {
    /// `png` or `dicom`.
    pub format: String,
    pub width: usize,
    pub height: usize,
    /// The slice's region: `[x, y]` and `[width, height]`.
    pub image_origin: [usize; 2],
    pub image_size: [usize; 2],
    /// Nearest-neighbour magnification of the slice.
    pub scale: usize,
}

/// The display parameters (the viewer's shader's uniforms).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DisplayInfo {
    pub window: Window,
    pub invert: bool,
    pub colormap: String,
    /// Raw values at the ends of the colormap (`low` unused when signed).
    pub heat_low: Option<f32>,
    pub heat_high: Option<f32>,
    pub heat_threshold: Option<f32>,
    pub heat_opacity: Option<f32>,
    pub heat_signed: Option<bool>,
    /// A region-of-interest outline is drawn.
    pub roi_outline: bool,
}

/// The slice within its series.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SliceInfo {
    pub index: Option<usize>,
    pub count: Option<usize>,
    pub position_mm: Option<f64>,
}

/// The DICOM object written (DICOM exports only).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DicomInfo {
    pub sop_instance_uid: String,
    pub series_instance_uid: String,
    pub deidentified: bool,
}

/// Everything needed to reproduce one export.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Sidecar {
    pub radlens_version: String,
    pub output: OutputInfo,
    pub inputs: Vec<FileHash>,
    pub model: Vec<FileHash>,
    /// The heatmap's provenance: method, its parameters as used, target, score, model.
    pub explanation: Option<serde_json::Value>,
    /// The request: method, target, seed, batch size, samples, method knobs.
    pub explain_params: Option<ExplainParams>,
    /// The model's probability of the explained class.
    pub probability: Option<f32>,
    pub slice: SliceInfo,
    pub display: DisplayInfo,
    pub verdict: Option<String>,
    pub dicom: Option<DicomInfo>,
    /// A comparison-layout export: every pane's explanation and display, left to right (the
    /// fields above then describe the first pane).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layout: Vec<serde_json::Value>,
}

impl Sidecar {
    /// The facts the image itself shows: output size, display parameters, slice, verdict.
    #[must_use]
    pub fn describe(
        format: &str,
        image: &AnnotatedImage,
        slice: &DisplayedSlice<'_>,
        legend: &Legend,
    ) -> Self {
        let heat = slice.shade.heat.filter(|_| slice.heat.is_some());
        Self {
            radlens_version: env!("CARGO_PKG_VERSION").to_owned(),
            output: OutputInfo {
                format: format.to_owned(),
                width: image.width,
                height: image.height,
                image_origin: image.image_origin,
                image_size: image.image_size,
                scale: image.scale,
            },
            inputs: Vec::new(),
            model: Vec::new(),
            explanation: None,
            explain_params: None,
            layout: Vec::new(),
            probability: legend.probability,
            slice: SliceInfo {
                index: legend.slice.map(|(i, _)| i),
                count: legend.slice.map(|(_, n)| n),
                position_mm: legend.position_mm,
            },
            display: DisplayInfo {
                window: slice.shade.window,
                invert: slice.shade.invert,
                colormap: slice.colormap.name().to_owned(),
                heat_low: heat.map(|h| h.low),
                heat_high: heat.map(|h| h.high),
                heat_threshold: heat.map(|h| h.threshold),
                heat_opacity: heat.map(|h| h.opacity),
                heat_signed: heat.map(|h| h.signed),
                roi_outline: slice.mask.is_some(),
            },
            verdict: legend.verdict.clone(),
            dicom: None,
        }
    }

    /// Adds the heatmap's provenance and the request that produced it.
    #[must_use]
    pub fn with_explanation(mut self, heatmap: &Heatmap, params: &ExplainParams) -> Self {
        self.explanation = serde_json::to_value(&heatmap.provenance).ok();
        self.explain_params = Some(params.clone());
        self
    }

    /// Hashes the source files (recorded without their names).
    pub fn with_inputs(mut self, sources: &[PathBuf]) -> Result<Self, ExportError> {
        for path in sources {
            self.inputs.push(FileHash::of(path, "source", false)?);
        }
        Ok(self)
    }

    /// Hashes the model's files: `(role, path)` pairs, recorded with their names.
    pub fn with_model(mut self, files: &[(&str, PathBuf)]) -> Result<Self, ExportError> {
        for (role, path) in files {
            self.model.push(FileHash::of(path, role, true)?);
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_a_known_string() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        let (hex, bytes) = sha256_file(&path).unwrap();
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(bytes, 3);
    }

    #[test]
    fn sources_are_hashed_without_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Doe_Jane_CT.dcm");
        std::fs::write(&path, b"x").unwrap();
        let hash = FileHash::of(&path, "source", false).unwrap();
        let json = serde_json::to_string(&hash).unwrap();
        assert!(!json.contains("Doe"), "{json}");
    }

    #[test]
    fn sidecar_path_appends_json() {
        assert_eq!(
            sidecar_path(Path::new("out/a.png")),
            PathBuf::from("out/a.png.json")
        );
    }
}
