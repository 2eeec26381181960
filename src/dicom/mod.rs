//! DICOM input: find series in files and folders, order their slices, decode them into volumes.
//!
//! Dependency rule: `dicom/` uses dicom-rs and `imaging/` only; nothing here knows about the UI,
//! rendering or models. Everything returns [`DicomError`], whose message ends with the file's path.

mod convert;
mod decode;
mod error;
mod header;
mod lengths;
pub mod mpr;
mod open;
mod palette;
mod results;
mod seg;
mod series;
mod study;
mod volume;

pub use decode::{LoadControl, load_series};
pub use error::{DicomError, quote};
pub use header::{FileHeader, TagEntry, text};
pub use open::{ReadExtent, open};
pub use results::{
    MapLayer, PARAMETRIC_MAP_CLASS, ReportedFinding, ReportedValue, read_parametric_map,
    read_report,
};
pub use seg::{
    add_mask_files, frame_segments, mask_files_for, masks_for, segment_masks_for, segmentations_for,
};
pub use series::{ScanReport, Series, Skipped, SliceOrder, SliceRef, scan, slice_normal};
pub use study::{LoadedSeries, load_with_masks};
pub use volume::{Geometry, Photometric, SliceMeta, Volume, Voxels, WindowSource};

/// Scans `paths` and loads the one series they hold, or the one whose id or UID is `series`.
pub fn load(
    paths: &[std::path::PathBuf],
    series: Option<&str>,
) -> Result<(Volume, ScanReport), DicomError> {
    let report = scan(paths)?;
    let chosen = select_series(&report, series, paths)?;
    let volume = load_series(chosen, &LoadControl::default())?;
    Ok((volume, report))
}

/// Picks a series by id (exact) or SeriesInstanceUID (if unambiguous); with no choice given, the
/// scan must have found exactly one.
pub fn select_series<'a>(
    report: &'a ScanReport,
    wanted: Option<&str>,
    paths: &[std::path::PathBuf],
) -> Result<&'a Series, DicomError> {
    let path = paths.first().cloned().unwrap_or_default();
    match wanted {
        Some(id) => {
            let by_uid: Vec<&Series> = report
                .series
                .iter()
                .filter(|s| s.series_uid() == id)
                .collect();
            report
                .series
                .iter()
                .find(|s| s.id == id)
                .or(match by_uid.as_slice() {
                    [only] => Some(*only),
                    _ => None,
                })
                .ok_or_else(|| DicomError::SeriesChoice {
                    reason: if by_uid.len() > 1 {
                        format!(
                            "series {id} holds {} images of different sizes; choose by id ({}…)",
                            by_uid.len(),
                            by_uid[0].id
                        )
                    } else {
                        format!("no series {id} among the {} found", report.series.len())
                    },
                    path,
                })
        }
        None => match report.series.as_slice() {
            [only] => Ok(only),
            many => Err(DicomError::SeriesChoice {
                reason: format!(
                    "{} series found, choose one with --series (ids from `radlens info`)",
                    many.len()
                ),
                path,
            }),
        },
    }
}
