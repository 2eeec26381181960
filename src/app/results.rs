//! File → Open result objects over this series: DICOM objects radlens (or another tool) wrote
//! about the series on screen, read back — a Parametric Map becomes pane 1's heatmap on the slices
//! it covers, a Segmentation the study's ROI, a radlens Structured Report restores the review.
//! Frames are placed by position (as the study's own SEGs are), so de-identified exports with new
//! UIDs open over their source too.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::RadlensApp;
use super::study::MapOverlay;
use crate::dicom::{MapLayer, PARAMETRIC_MAP_CLASS, ReadExtent};
use crate::explain::{Heatmap, Method, Provenance};

/// The heatmaps of a Parametric Map radlens wrote (its Content Description names method, class
/// and model). Maps of other tools are refused with the reason: radlens cannot say which method
/// made them.
pub fn overlay_of(layer: &MapLayer, rows: usize, cols: usize) -> Result<MapOverlay, String> {
    let refuse = |why: &str| format!("{why}: {}", layer.path.display());
    let (method, target, target_name) = layer.radlens_target().ok_or_else(|| {
        refuse(&format!(
            "not a radlens explanation map (description '{}')",
            layer.description
        ))
    })?;
    let method = Method::parse(&method).map_err(|e| refuse(&e.to_string()))?;
    if layer.matched == 0 {
        return Err(refuse("no frame of the map lies on a slice of this series"));
    }
    let model_name = layer
        .description
        .split_once(") of ")
        .map(|(_, m)| m.to_owned())
        .unwrap_or_default();
    let heatmaps = layer
        .slices
        .iter()
        .map(|values| {
            values.as_ref().map(|values| {
                Arc::new(Heatmap {
                    values: values.clone(),
                    rows,
                    cols,
                    provenance: Provenance {
                        method,
                        parameters: std::collections::BTreeMap::from([(
                            "file".to_owned(),
                            serde_json::Value::String(layer.path.display().to_string()),
                        )]),
                        target,
                        target_name: target_name.clone(),
                        score: f32::NAN,
                        model_name: model_name.clone(),
                        model_path: layer.path.clone(),
                        input_size: [rows, cols],
                        forward_passes: 0,
                        signed: values.iter().any(|v| *v < 0.0),
                        elapsed_ms: 0.0,
                    },
                })
            })
        })
        .collect();
    Ok(MapOverlay {
        name: file_name(&layer.path),
        heatmaps,
    })
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

impl RadlensApp {
    /// Opens each of `paths` over the series on screen (see the module documentation); a file
    /// that cannot be opened is reported with its reason, the others still open.
    pub fn open_results(&mut self, paths: &[PathBuf]) {
        let mut opened = Vec::new();
        let mut failed = Vec::new();
        for path in paths {
            match self.open_result(path) {
                Ok(what) => opened.push(what),
                Err(e) => failed.push(e),
            }
        }
        if !failed.is_empty() {
            self.error = Some(failed.join("\n"));
        }
        if !opened.is_empty() {
            tracing::info!("opened over the series: {}", opened.join(", "));
        }
    }

    fn open_result(&mut self, path: &Path) -> Result<String, String> {
        let study = self
            .study
            .as_mut()
            .ok_or("open a series first: result objects open over it")?;
        let header = crate::dicom::open(path, ReadExtent::Header).map_err(|e| e.to_string())?;
        let class = crate::dicom::text(&header, dicom_dictionary_std::tags::SOP_CLASS_UID);
        let modality = crate::dicom::text(&header, dicom_dictionary_std::tags::MODALITY);
        let [_, rows, cols] = study.volume.shape;
        if class == PARAMETRIC_MAP_CLASS {
            let layer = crate::dicom::read_parametric_map(path, &study.volume)
                .map_err(|e| e.to_string())?;
            let overlay = overlay_of(&layer, rows, cols)?;
            let covered = overlay.heatmaps.iter().flatten().count();
            let name = overlay.name.clone();
            study.map_layer = Some(overlay);
            // Pane 1 starts following the map on the first slice it covers.
            if let Some(first) = study
                .map_layer
                .as_ref()
                .and_then(|l| l.heatmaps.iter().position(Option::is_some))
                && study
                    .map_layer
                    .as_ref()
                    .is_some_and(|l| l.heatmaps[study.view.slice].is_none())
            {
                study.view.slice = first;
            }
            return Ok(format!("{name}: heatmap on {covered} slices"));
        }
        if modality == "SEG" {
            let (seg, _) =
                crate::dicom::load(&[path.to_owned()], None).map_err(|e| e.to_string())?;
            let masks = crate::dicom::masks_for(&study.volume, &[seg]);
            let covered = masks.iter().flatten().count();
            if covered == 0 {
                return Err(format!(
                    "no frame of the segmentation lies on a slice of this series: {}",
                    path.display()
                ));
            }
            study.set_masks(masks);
            return Ok(format!("{}: ROI on {covered} slices", file_name(path)));
        }
        if modality == "SR" {
            self.restore_review_from(path);
            return Ok(format!("{}: review", file_name(path)));
        }
        Err(format!(
            "not a Parametric Map, Segmentation or Structured Report (modality {modality}): {}",
            path.display()
        ))
    }
}
