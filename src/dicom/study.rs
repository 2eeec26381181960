//! One series loaded with its regions of interest: the image volume, a mask per slice from the
//! study's DICOM SEG objects and the `*.mask.npy` files beside it, and every file that went in.
//! The viewer's loader and the headless commands load a series through [`load_with_masks`].

use std::path::PathBuf;

use super::{DicomError, LoadControl, Series, Volume, load_series, seg};

/// A series with its masks.
pub struct LoadedSeries {
    /// Mask problems (a SEG that does not load, a mask file that does not fit) are added to its
    /// warnings: they cost the outline, not the study.
    pub volume: Volume,
    /// Per slice: 1 inside a region of interest, 0 outside; `None` where there is none.
    pub masks: Vec<Option<Vec<u8>>>,
    /// The segmentation and mask files read besides the series' own.
    pub mask_files: Vec<PathBuf>,
}

impl LoadedSeries {
    /// A loaded `volume` of `series` without its masks decoded; `mask_files` still names the
    /// segmentation and mask files there are (so they are protected all the same).
    #[must_use]
    pub fn without_masks(volume: Volume, series: &Series, candidates: &[Series]) -> Self {
        let mut mask_files: Vec<PathBuf> = seg::segmentations_for(series, candidates)
            .into_iter()
            .flat_map(|s| s.files.iter().map(|f| f.path.clone()))
            .collect();
        mask_files.extend(seg::mask_files_for(&volume));
        Self {
            masks: vec![None; volume.shape[0]],
            volume,
            mask_files,
        }
    }
}

/// Loads `series` and the masks for it among `candidates` (the other series of the scan).
pub fn load_with_masks(
    series: &Series,
    candidates: &[Series],
    control: &LoadControl,
) -> Result<LoadedSeries, DicomError> {
    let mut volume = load_series(series, control)?;
    let mut mask_files = Vec::new();
    let mut segmentations = Vec::new();
    for candidate in seg::segmentations_for(series, candidates) {
        mask_files.extend(candidate.files.iter().map(|f| f.path.clone()));
        match load_series(candidate, &LoadControl::default()) {
            Ok(v) => segmentations.push(v),
            Err(e) => volume.warnings.push(format!("segmentation not used: {e}")),
        }
    }
    let mut masks = seg::masks_for(&volume, &segmentations);
    mask_files.extend(seg::mask_files_for(&volume));
    let warnings = seg::add_mask_files(&volume, &mut masks);
    volume.warnings.extend(warnings);
    Ok(LoadedSeries {
        volume,
        masks,
        mask_files,
    })
}
