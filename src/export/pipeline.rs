//! One slice's export, start to end, for the viewer's File → Export and `radlens export` alike:
//! explain each pane (through the caller's callback, so `export/` stays model-free) → the slice as
//! displayed with heatmap, ROI outline, colorbar and legend → panes side by side → PNG or DICOM
//! Secondary Capture → the JSON sidecar. Both front ends build an [`ExportPlan`] and call
//! [`ExportPlan::export_slice`] per slice; what they share is decided here once (docs/EXPORT.md):
//! files of a folder export are numbered by slice index from 0 ([`Format::file_name`]),
//! every model file is hashed ([`hash_files`]), sources and model files are never written, the
//! DICOM series is described by the method, each pane's colormap/threshold/opacity is recorded,
//! a failed prediction fails the slice, and cancelling stops inside a slice too.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::{
    DicomExport, DicomInfo, DicomOptions, ExportError, FileHash, Legend, Scale, Sidecar,
    SourceImage, WritePolicy, annotate, derivation_description, side_by_side, sidecar_path,
    viewer_heat_params, write_png, write_sidecar,
};
use crate::explain::{ExplainParams, Heatmap};
use crate::export::DisplayedSlice;
use crate::imaging::{Colormap, ShadeParams, Window};

/// The file format of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// 8-bit RGB PNG + `.json` sidecar.
    Png,
    /// DICOM Secondary Capture + `.json` sidecar.
    Dicom,
}

impl Format {
    /// The sidecar's name for it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Dicom => "dicom",
        }
    }

    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Dicom => "dcm",
        }
    }

    /// The file of slice `index` in a folder export: `slice_NNN.png` / `.dcm`, `NNN` the 0-based
    /// slice index (as `--slice` counts).
    #[must_use]
    pub fn file_name(self, index: usize) -> String {
        format!("slice_{index:03}.{}", self.extension())
    }
}

/// One pane: what to explain and how its heatmap is drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct Pane {
    pub params: ExplainParams,
    pub colormap: Colormap,
    /// Heatmap threshold and opacity in [0, 1], as in the viewer.
    pub threshold: f32,
    pub opacity: f32,
}

/// A pane explained by the caller: the map, and the model's probability for its target class.
pub struct Explained {
    pub heatmap: Heatmap,
    pub probability: f32,
}

impl Explained {
    /// A `(map, probability)` result (as `explain::explain_scored` gives it) for the pipeline.
    pub fn from_scored<E: std::fmt::Display>(
        result: Result<(Heatmap, f32), E>,
    ) -> Result<Self, String> {
        result
            .map(|(heatmap, probability)| Self {
                heatmap,
                probability,
            })
            .map_err(|e| e.to_string())
    }
}

/// The caller's explanation of one pane of a slice (the model runs there, not in `export/`). It
/// should stop with an error when `cancel` is set.
pub type ExplainPane<'a> =
    dyn FnMut(&[f32], &ExplainParams, &AtomicBool) -> Result<Explained, String> + 'a;

/// One slice to export: its values and where it came from.
pub struct SliceToExport<'a> {
    /// Index in position order, and the number of slices in the series.
    pub index: usize,
    pub count: usize,
    pub values: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub mask: Option<&'a [u8]>,
    /// Its file (and frame) for the DICOM references; `.path` also goes into the sidecar.
    pub source: SourceImage,
    /// Position along the slice normal, mm (legend).
    pub position_mm: Option<f64>,
}

/// Everything an export of one or many slices shares.
#[derive(Clone, Copy)]
pub struct ExportPlan<'a> {
    pub format: Format,
    pub scale: Scale,
    pub window: Window,
    /// MONOCHROME1 (or the viewer's invert): displayed inverted.
    pub invert: bool,
    /// One pane, or the comparison layout side by side.
    pub panes: &'a [Pane],
    /// The model's files, hashed ([`hash_files`]), for the sidecar.
    pub model_files: &'a [FileHash],
    pub policy: &'a WritePolicy,
}

impl ExportPlan<'_> {
    /// Fails before any work when an output (or its sidecar) may not be written.
    pub fn check(&self, outputs: &[PathBuf]) -> Result<(), ExportError> {
        for path in outputs {
            self.policy.check(path)?;
            self.policy.check(&sidecar_path(path))?;
        }
        Ok(())
    }

    /// Explains each pane of `slice` (the caller's `explain`), stopping when `cancel` is set.
    pub fn explain_slice(
        &self,
        slice: &SliceToExport<'_>,
        explain: &mut ExplainPane<'_>,
        cancel: &AtomicBool,
    ) -> Result<Vec<Explained>, ExportError> {
        let mut explained = Vec::with_capacity(self.panes.len());
        for pane in self.panes {
            if cancel.load(Ordering::Relaxed) {
                return Err(ExportError::Cancelled);
            }
            let result = explain(slice.values, &pane.params, cancel)
                .map_err(|reason| ExportError::Explain { reason })?;
            explained.push(result);
        }
        Ok(explained)
    }

    /// Explains, draws and writes `slice` to `path` (+ its sidecar) in the plan's format, and
    /// returns the panes' explanations. `verdict` gives the reviewer's verdict on a pane's map,
    /// printed in its legend.
    pub fn export_slice(
        &self,
        slice: &SliceToExport<'_>,
        path: &Path,
        explain: &mut ExplainPane<'_>,
        verdict: &dyn Fn(&Heatmap) -> Option<String>,
        dicom: &mut DicomExport,
        cancel: &AtomicBool,
    ) -> Result<Vec<Explained>, ExportError> {
        let explained = self.explain_slice(slice, explain, cancel)?;
        self.write_picture(self.format, slice, &explained, path, verdict, dicom)?;
        Ok(explained)
    }

    /// Draws the explained panes of `slice` side by side and writes them to `path` as `format`
    /// (+ its sidecar).
    pub fn write_picture(
        &self,
        format: Format,
        slice: &SliceToExport<'_>,
        explained: &[Explained],
        path: &Path,
        verdict: &dyn Fn(&Heatmap) -> Option<String>,
        dicom: &mut DicomExport,
    ) -> Result<(), ExportError> {
        let mut images = Vec::with_capacity(explained.len());
        let mut first = None;
        for (pane, result) in self.panes.iter().zip(explained) {
            let look = Look {
                window: self.window,
                invert: self.invert,
                colormap: pane.colormap,
                threshold: pane.threshold,
                opacity: pane.opacity,
            };
            let heatmap = &result.heatmap;
            let (displayed, legend) = picture(
                slice,
                &look,
                Some(heatmap),
                Some(result.probability),
                verdict(heatmap),
            );
            images.push(annotate(&displayed, &legend, self.scale)?);
            first.get_or_insert((pane, result, displayed, legend));
        }
        let (pane, result, displayed, legend) = first.ok_or_else(|| ExportError::Invalid {
            reason: "no pane to export".to_owned(),
        })?;
        let image = side_by_side(images)?;
        let mut sidecar = Sidecar::describe(format.name(), &image, &displayed, &legend)
            .with_explanation(&result.heatmap, &pane.params)
            .with_inputs(std::slice::from_ref(&slice.source.path))?;
        sidecar.model = self.model_files.to_vec();
        if self.panes.len() > 1 {
            sidecar.layout = self
                .panes
                .iter()
                .zip(explained)
                .map(|(pane, result)| {
                    serde_json::json!({
                        "explanation": result.heatmap.provenance,
                        "explain_params": pane.params,
                        "probability": result.probability,
                        "colormap": pane.colormap.name(),
                        "threshold": pane.threshold,
                        "opacity": pane.opacity,
                    })
                })
                .collect();
        }
        match format {
            Format::Png => write_png(path, &image, self.policy)?,
            Format::Dicom => {
                let derivation = derivation_description(
                    Some(&result.heatmap.provenance),
                    &displayed.shade,
                    pane.colormap,
                );
                let written = dicom.write(
                    path,
                    &image,
                    &slice.source,
                    &derivation,
                    u32::try_from(slice.index + 1).unwrap_or(u32::MAX),
                    self.policy,
                )?;
                sidecar.dicom = Some(DicomInfo {
                    sop_instance_uid: written.sop_instance_uid,
                    series_instance_uid: written.series_instance_uid,
                    deidentified: written.deidentified,
                });
            }
        }
        write_sidecar(&sidecar_path(path), &sidecar, self.policy)
    }
}

/// How a slice is drawn: its window and the heatmap's colormap, threshold and opacity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Look {
    pub window: Window,
    pub invert: bool,
    pub colormap: Colormap,
    pub threshold: f32,
    pub opacity: f32,
}

/// What the picture of `slice` shows, as the viewer draws it: the displayed slice (with
/// `heatmap`, if any) and the legend (with the reviewer's `verdict`, if any). The viewer's export
/// preview and [`ExportPlan::export_slice`] both draw through here.
#[must_use]
pub fn picture<'a>(
    slice: &SliceToExport<'a>,
    look: &Look,
    heatmap: Option<&'a Heatmap>,
    probability: Option<f32>,
    verdict: Option<String>,
) -> (DisplayedSlice<'a>, Legend) {
    let displayed = DisplayedSlice {
        values: slice.values,
        rows: slice.rows,
        cols: slice.cols,
        shade: ShadeParams {
            window: look.window,
            invert: look.invert,
            heat: heatmap.map(|h| viewer_heat_params(h, look.threshold, look.opacity)),
        },
        colormap: look.colormap,
        heat: heatmap.map(|h| h.values.as_slice()),
        mask: slice.mask,
    };
    let legend = Legend {
        slice: Some((slice.index, slice.count)),
        position_mm: slice.position_mm,
        verdict,
        ..heatmap.map_or_else(Legend::default, |h| Legend::for_heatmap(h, probability))
    };
    (displayed, legend)
}

/// The DICOM options of an export of `panes`: identity kept or de-identified (with or without
/// the Retain UIDs Option), the series described by the first pane's method.
#[must_use]
pub fn dicom_options(panes: &[Pane], keep_identity: bool, retain_uids: bool) -> DicomOptions {
    let method = panes
        .first()
        .map_or("explanation", |p| p.params.method.name());
    DicomOptions {
        keep_identity,
        retain_uids,
        series_description: format!("radlens {method}"),
        ..DicomOptions::default()
    }
}

/// Hashes `files` (role, path) for the sidecar, once per export.
pub fn hash_files(files: &[(&'static str, PathBuf)]) -> Result<Vec<FileHash>, ExportError> {
    files
        .iter()
        .map(|(role, path)| FileHash::of(path, role, true))
        .collect()
}
