//! Finding series: walk the given paths, read every file's header (in parallel, headers only),
//! group by SeriesInstanceUID and image size, and put slices in patient-position order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::error::DicomError;
use super::header::FileHeader;
use super::open::{ReadExtent, open};
use crate::imaging::Window;

/// One image plane of a series: a single-frame file, or one frame of a multi-frame file.
#[derive(Clone, Debug)]
pub struct SliceRef {
    /// Index into [`Series::files`].
    pub file: usize,
    pub frame: u32,
    pub position_mm: Option<[f64; 3]>,
}

/// How the slices were put in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SliceOrder {
    /// ImagePositionPatient projected on the slice normal, ascending.
    Position,
    /// InstanceNumber, ascending (positions missing or unusable).
    InstanceNumber,
    /// As stored in the (multi-frame) file.
    FrameOrder,
}

/// A series ready to decode: its files' headers, its slices in order, and what was odd about it.
#[derive(Clone, Debug)]
pub struct Series {
    /// Unique within a scan: the SeriesInstanceUID, suffixed `#2`, `#3`… when one UID holds images
    /// that cannot share a volume (other sizes, several multi-frame objects).
    pub id: String,
    pub files: Vec<FileHeader>,
    pub slices: Vec<SliceRef>,
    pub order: SliceOrder,
    /// `[between slices, between rows, between columns]`, matching `[slices, rows, cols]` arrays.
    pub spacing_mm: [f64; 3],
    /// Uneven spacing, gaps, duplicate positions, fallbacks taken.
    pub warnings: Vec<String>,
}

impl Series {
    fn first(&self) -> &FileHeader {
        &self.files[0]
    }
    #[must_use]
    pub fn series_uid(&self) -> &str {
        &self.first().series_uid
    }
    #[must_use]
    pub fn modality(&self) -> &str {
        &self.first().modality
    }
    #[must_use]
    pub fn rows(&self) -> u32 {
        self.first().rows
    }
    #[must_use]
    pub fn cols(&self) -> u32 {
        self.first().cols
    }
    #[must_use]
    pub fn samples_per_pixel(&self) -> u16 {
        self.first().samples_per_pixel
    }
    #[must_use]
    pub fn photometric(&self) -> &str {
        &self.first().photometric
    }
    #[must_use]
    pub fn orientation(&self) -> Option<[f64; 6]> {
        self.first().orientation
    }
    /// The window stored in the first file, if any.
    #[must_use]
    pub fn window(&self) -> Option<Window> {
        self.first().window
    }
    /// Distinct transfer syntax UIDs, in first-seen order.
    #[must_use]
    pub fn transfer_syntaxes(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for f in &self.files {
            if !out.contains(&f.transfer_syntax_uid.as_str()) {
                out.push(&f.transfer_syntax_uid);
            }
        }
        out
    }
    /// True when the images are colour (RGB/YBR or palette) rather than greyscale values.
    #[must_use]
    pub fn is_colour(&self) -> bool {
        self.samples_per_pixel() == 3 || self.photometric() == "PALETTE COLOR"
    }
}

/// A file that was not loaded, and why.
#[derive(Clone, Debug)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// Everything a scan found.
#[derive(Clone, Debug, Default)]
pub struct ScanReport {
    pub series: Vec<Series>,
    /// DICOM files (or files that claimed to be) that could not be used.
    pub skipped: Vec<Skipped>,
    /// Files in scanned folders that are not DICOM at all (licences, READMEs, NIfTI…).
    pub ignored: Vec<PathBuf>,
}

impl ScanReport {
    /// Every file the scan opened: the series' files, the skipped and the ignored ones. Outputs
    /// must never replace any of them ([`crate::output::WritePolicy`]).
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.series
            .iter()
            .flat_map(|s| s.files.iter().map(|f| f.path.as_path()))
            .chain(self.skipped.iter().map(|s| s.path.as_path()))
            .chain(self.ignored.iter().map(PathBuf::as_path))
    }
}

/// Scans files and folders (recursively) for image series, reading headers only.
///
/// A path that does not exist is an error. A single file given explicitly that is not usable is an
/// error too; inside folders, unusable files are reported in [`ScanReport::skipped`] (or
/// [`ScanReport::ignored`] when not DICOM) and the rest still loads. An empty result is an error.
pub fn scan(paths: &[PathBuf]) -> Result<ScanReport, DicomError> {
    let mut files: Vec<PathBuf> = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|source| DicomError::Io {
            source,
            path: path.clone(),
        })?;
        if metadata.is_dir() {
            let mut found: Vec<PathBuf> = walkdir::WalkDir::new(path)
                .follow_links(true)
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(walkdir::DirEntry::into_path)
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    let headers: Vec<Result<FileHeader, DicomError>> = files
        .par_iter()
        .map(|path| {
            let obj = open(path, ReadExtent::Header)?;
            FileHeader::from_object(&obj, path)
        })
        .collect();

    let mut report = ScanReport::default();
    let mut good = Vec::new();
    let mut first_error = None;
    for (path, result) in files.iter().zip(headers) {
        match result {
            Ok(header) => good.push(header),
            Err(DicomError::NotDicom { path }) => {
                first_error.get_or_insert(DicomError::NotDicom { path: path.clone() });
                report.ignored.push(path);
            }
            Err(err) => {
                report.skipped.push(Skipped {
                    path: path.clone(),
                    reason: err.cause(),
                });
                first_error.get_or_insert(err);
            }
        }
    }
    report.series = group(good, &mut report.skipped);
    if report.series.is_empty() {
        // With nothing to show, the one precise reason beats a generic one.
        return Err(match first_error {
            Some(err) if files.len() == 1 => err,
            _ => DicomError::NoSeries {
                path: paths.first().cloned().unwrap_or_default(),
            },
        });
    }
    Ok(report)
}

/// Groups headers into series and orders each one.
fn group(headers: Vec<FileHeader>, skipped: &mut Vec<Skipped>) -> Vec<Series> {
    // Key: UID, image size and sample count; a multi-frame object is a volume of its own.
    let mut groups: BTreeMap<(String, u32, u32, u16, String), Vec<FileHeader>> = BTreeMap::new();
    for header in headers {
        let own = if header.frames > 1 {
            header.sop_instance_uid.clone()
        } else {
            String::new()
        };
        let key = (
            header.series_uid.clone(),
            header.rows,
            header.cols,
            header.samples_per_pixel,
            own,
        );
        groups.entry(key).or_default().push(header);
    }
    let mut per_uid: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for ((uid, ..), files) in groups {
        let files = drop_duplicates(files, skipped);
        let count = per_uid.entry(uid.clone()).or_insert(0);
        *count += 1;
        let id = if *count == 1 {
            uid
        } else {
            format!("{uid}#{count}")
        };
        out.push(order(id, files));
    }
    out
}

/// The same SOP instance twice (copies, or one image in several transfer syntaxes) is one slice.
fn drop_duplicates(files: Vec<FileHeader>, skipped: &mut Vec<Skipped>) -> Vec<FileHeader> {
    let mut kept: Vec<FileHeader> = Vec::with_capacity(files.len());
    for file in files {
        let duplicate_of = kept
            .iter()
            .find(|k| !k.sop_instance_uid.is_empty() && k.sop_instance_uid == file.sop_instance_uid)
            .map(|k| k.path.display().to_string());
        match duplicate_of {
            Some(original) => skipped.push(Skipped {
                reason: format!("same SOP Instance UID as {original}"),
                path: file.path,
            }),
            None => kept.push(file),
        }
    }
    kept
}

/// Relative tolerance for "evenly spaced".
const SPACING_TOLERANCE: f64 = 0.01;

fn order(id: String, files: Vec<FileHeader>) -> Series {
    let mut warnings = Vec::new();
    let mut slices: Vec<SliceRef> = files
        .iter()
        .enumerate()
        .flat_map(|(file, header)| {
            (0..header.frames).map(move |frame| SliceRef {
                file,
                frame,
                position_mm: header
                    .frame_positions_mm
                    .get(frame as usize)
                    .copied()
                    .flatten(),
            })
        })
        .collect();
    let normal = files[0].orientation.and_then(|o| slice_normal(&o));
    let multi_frame = files.len() == 1 && files[0].frames > 1;
    let projections: Option<Vec<f64>> = normal.and_then(|n| {
        slices
            .iter()
            .map(|s| s.position_mm.map(|p| dot(p, n)))
            .collect()
    });

    let order = if multi_frame {
        SliceOrder::FrameOrder
    } else if let Some(proj) = &projections {
        let mut indexed: Vec<(f64, SliceRef)> = proj.iter().copied().zip(slices).collect();
        indexed.sort_by(|a, b| a.0.total_cmp(&b.0));
        slices = indexed.into_iter().map(|(_, s)| s).collect();
        SliceOrder::Position
    } else {
        if slices.len() > 1 {
            warnings.push(
                "slice positions or orientation missing: ordered by InstanceNumber".to_owned(),
            );
        }
        slices.sort_by_key(|s| (files[s.file].instance_number.unwrap_or(i32::MAX), s.file));
        SliceOrder::InstanceNumber
    };

    let steps: Vec<f64> = match normal {
        Some(n) => slices
            .windows(2)
            .filter_map(|w| Some(dot(w[1].position_mm?, n) - dot(w[0].position_mm?, n)))
            .collect(),
        None => Vec::new(),
    };
    let header = &files[0];
    // A segmentation's frames are per segment, not a volume: repeated positions are expected.
    let segmentation = header.modality == "SEG";
    let slice_spacing = if steps.len() + 1 == slices.len() && !steps.is_empty() && !segmentation {
        check_steps(&steps, &mut warnings)
    } else {
        None
    }
    .or(header.spacing_between_slices_mm)
    .or(header.slice_thickness_mm.filter(|t| *t > 0.0))
    .unwrap_or(1.0);
    let [row_spacing, col_spacing] = header.pixel_spacing_mm.unwrap_or_else(|| {
        warnings.push("PixelSpacing missing: assuming 1 mm".to_owned());
        [1.0, 1.0]
    });

    Series {
        id,
        files,
        slices,
        order,
        spacing_mm: [slice_spacing, row_spacing, col_spacing],
        warnings,
    }
}

/// Median step between consecutive slices (mm), after reporting uneven spacing, gaps and
/// duplicate positions. Steps are signed: multi-frame objects may run against the normal.
fn check_steps(steps: &[f64], warnings: &mut Vec<String>) -> Option<f64> {
    let mut sorted: Vec<f64> = steps.iter().map(|s| s.abs()).collect();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let duplicates = sorted.iter().filter(|s| **s < 1e-3).count();
    if duplicates > 0 {
        warnings.push(format!(
            "{duplicates} slice(s) share a position with a neighbour"
        ));
    }
    if median < 1e-3 {
        return None;
    }
    let tolerance = (median * SPACING_TOLERANCE).max(0.01);
    let gaps: Vec<String> = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.abs() > median * 1.5)
        .map(|(i, s)| format!("{:.2} mm after slice {}", s.abs(), i + 1))
        .collect();
    if !gaps.is_empty() {
        warnings.push(format!(
            "gap in slice positions (missing slices?): {} (usual step {median:.2} mm)",
            gaps.join(", ")
        ));
    } else if sorted
        .iter()
        .any(|s| *s >= 1e-3 && (s - median).abs() > tolerance)
    {
        warnings.push(format!(
            "uneven slice spacing: steps from {:.3} to {:.3} mm",
            sorted
                .iter()
                .find(|s| **s >= 1e-3)
                .copied()
                .unwrap_or(median),
            sorted[sorted.len() - 1]
        ));
    }
    Some(median)
}

/// Unit normal of the image plane (row direction × column direction).
#[must_use]
pub fn slice_normal(orientation: &[f64; 6]) -> Option<[f64; 3]> {
    let r = [orientation[0], orientation[1], orientation[2]];
    let c = [orientation[3], orientation[4], orientation[5]];
    let n = cross(r, c);
    let len = dot(n, n).sqrt();
    (len > 1e-6).then(|| [n[0] / len, n[1] / len, n[2] / len])
}

pub(crate) fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

pub(crate) fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axial_normal_points_head_wards() {
        assert_eq!(
            slice_normal(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
            Some([0.0, 0.0, 1.0])
        );
    }

    #[test]
    fn even_steps_give_no_warning() {
        let mut warnings = Vec::new();
        assert_eq!(check_steps(&[2.5, 2.5, 2.5], &mut warnings), Some(2.5));
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn missing_slice_is_reported_as_gap() {
        let mut warnings = Vec::new();
        assert_eq!(check_steps(&[1.0, 1.0, 2.0, 1.0], &mut warnings), Some(1.0));
        assert!(warnings.iter().any(|w| w.contains("gap")), "{warnings:?}");
    }

    #[test]
    fn uneven_spacing_is_reported() {
        let mut warnings = Vec::new();
        check_steps(&[1.0, 1.2, 1.0, 1.0], &mut warnings);
        assert!(
            warnings.iter().any(|w| w.contains("uneven")),
            "{warnings:?}"
        );
    }

    #[test]
    fn duplicate_positions_are_reported() {
        let mut warnings = Vec::new();
        check_steps(&[1.0, 0.0, 1.0], &mut warnings);
        assert!(
            warnings.iter().any(|w| w.contains("share a position")),
            "{warnings:?}"
        );
    }
}
