//! NIfTI-1 input: a single 3D volume (`.nii`, `.nii.gz`, or a `.hdr`/`.img` pair) read into a
//! `[z, y, x]` array of `f64` with its voxel grid in DICOM patient coordinates (LPS), so that a
//! NIfTI label map can be laid over a DICOM series (or another NIfTI) through
//! [`Grid::mapping_from`](crate::imaging::grid::Grid::mapping_from) without guessing.
//!
//! The header is parsed by the `nifti` crate; the voxel bytes are read here, from `vox_offset`,
//! because `nifti` 0.18's `read_file` starts reading voxels right after the extensions and so
//! silently shifts files whose `vox_offset` leaves padding (checked: a file with 16 padding bytes
//! reads the padding as voxels).
//!
//! Owns the `nifti` (and `flate2`) dependency; the rest of radlens sees only [`NiftiImage`],
//! [`NiftiLabels`] and [`NiftiError`]. Never panics on any input.

mod geometry;
mod source;
mod voxels;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::imaging::grid::Grid;

/// One NIfTI volume.
#[derive(Clone, Debug, PartialEq)]
pub struct NiftiImage {
    /// Voxel values, scaled by `scl_slope`/`scl_inter`, row-major `[z, y, x]`: NIfTI's `i` index
    /// is x (fastest), `j` is y, `k` is z — the file's own order.
    pub values: Vec<f64>,
    /// Where the voxels are, in DICOM LPS (NIfTI's RAS+ with x and y negated).
    pub grid: Grid,
    /// Things worth telling the user that did not stop the read (geometry from pixdim only,
    /// sform and qform disagreeing, a fixed-up `vox_offset`…).
    pub warnings: Vec<String>,
}

/// A NIfTI label map: one non-negative integer label per voxel, `[z, y, x]` like [`NiftiImage`].
#[derive(Clone, Debug, PartialEq)]
pub struct NiftiLabels {
    pub labels: Vec<u32>,
    pub grid: Grid,
    pub warnings: Vec<String>,
}

/// Why a NIfTI file could not be read. `Display` is one line: the file, then the cause.
#[derive(Clone, Debug, PartialEq)]
pub struct NiftiError {
    pub path: PathBuf,
    pub kind: NiftiErrorKind,
}

/// The cause of a [`NiftiError`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum NiftiErrorKind {
    NotFound,
    /// Any other failure to open or read the file (message from the OS).
    Io(String),
    /// Not a NIfTI-1 file at all (too short, wrong header size, no magic).
    NotNifti(String),
    /// A NIfTI-2 file (540-byte header), which this reader does not handle.
    Nifti2,
    /// The gzip stream is corrupt or ends early.
    Gzip(String),
    /// The file ends before all the voxels the header promises.
    Truncated {
        expected_bytes: u64,
        found_bytes: u64,
    },
    /// A `.hdr` (or `ni1` header) whose `.img`/`.img.gz` is missing.
    MissingImageFile(PathBuf),
    UnsupportedDatatype(String),
    /// `dim` is malformed (zero, negative, more than 7 dimensions).
    BadDims(String),
    /// More than one 3D volume (4D+ with `dim[4..] > 1`).
    SeveralVolumes(u64),
    /// A zero, negative or NaN voxel spacing.
    BadSpacing(String),
    /// Unusable orientation (non-finite sform, invalid quaternion…).
    BadGeometry(String),
    /// The dimensions cannot be held in memory.
    TooLarge(String),
    /// A label map with a value that is not a non-negative integer.
    NotLabels(String),
}

impl fmt::Display for NiftiErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("file not found"),
            Self::Io(m) => write!(f, "cannot read the file: {m}"),
            Self::NotNifti(m) => write!(f, "not a NIfTI-1 file: {m}"),
            Self::Nifti2 => f.write_str("NIfTI-2 files are not supported (540-byte header)"),
            Self::Gzip(m) => write!(f, "unreadable gzip data: {m}"),
            Self::Truncated {
                expected_bytes,
                found_bytes,
            } => write!(
                f,
                "truncated: the header promises {expected_bytes} bytes of voxel data, \
                 the file holds {found_bytes}"
            ),
            Self::MissingImageFile(p) => {
                write!(
                    f,
                    "header-only file, and its image file {} is missing",
                    p.display()
                )
            }
            Self::UnsupportedDatatype(m) => write!(f, "unsupported datatype {m}"),
            Self::BadDims(m) => write!(f, "invalid dimensions: {m}"),
            Self::SeveralVolumes(n) => {
                write!(f, "holds {n} volumes; only a single 3D volume can be read")
            }
            Self::BadSpacing(m) => write!(f, "invalid voxel spacing: {m}"),
            Self::BadGeometry(m) => write!(f, "invalid geometry: {m}"),
            Self::TooLarge(m) => write!(f, "too large to load: {m}"),
            Self::NotLabels(m) => write!(f, "not a label map: {m}"),
        }
    }
}

impl fmt::Display for NiftiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.kind)
    }
}

impl std::error::Error for NiftiError {}

/// Reads a NIfTI-1 volume: all integer and float datatypes (u/int 8–64, float32/64),
/// `scl_slope`/`scl_inter` applied (a slope of 0 or non-finite means no scaling, as in nibabel),
/// 3D or 4D+ with a single volume. Geometry from the sform when `sform_code > 0`, else the qform
/// when `qform_code > 0`, else pixdim alone (with a warning), converted from RAS+ to LPS.
pub fn read(path: &Path) -> Result<NiftiImage, NiftiError> {
    let fail = |kind| NiftiError {
        path: path.to_path_buf(),
        kind,
    };
    let raw = source::read_raw(path).map_err(fail)?;
    let mut warnings = raw.warnings;
    let grid = geometry::grid(&raw.header, raw.dims, &mut warnings).map_err(fail)?;
    let values =
        voxels::to_f64(&raw.data, raw.datatype, &raw.header, &mut warnings).map_err(fail)?;
    Ok(NiftiImage {
        values,
        grid,
        warnings,
    })
}

/// Reads a NIfTI label map (any datatype, as [`read`]) and refuses it unless every value, after
/// scaling, is an integer in `0..=u32::MAX`. Returns the labels (`[z, y, x]`) and their grid;
/// [`read_labels_with_warnings`] also gives the reader's warnings.
pub fn read_labels(path: &Path) -> Result<(Vec<u32>, Grid), NiftiError> {
    read_labels_with_warnings(path).map(|l| (l.labels, l.grid))
}

/// [`read_labels`], keeping the warnings (e.g. geometry from pixdim only).
pub fn read_labels_with_warnings(path: &Path) -> Result<NiftiLabels, NiftiError> {
    let image = read(path)?;
    let labels = voxels::to_labels(&image.values, image.grid.dims).map_err(|kind| NiftiError {
        path: path.to_path_buf(),
        kind,
    })?;
    Ok(NiftiLabels {
        labels,
        grid: image.grid,
        warnings: image.warnings,
    })
}

#[cfg(test)]
mod tests;
