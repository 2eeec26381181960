//! A case's image and mask, read from DICOM, NIfTI or `.npy`, and the mask brought onto the
//! image's grid: exactly (axis permutations and flips only), never resampled, never shifted.

use std::path::{Path, PathBuf};

use ndarray::Array3;
use ndarray_npy::ReadNpyExt;

use crate::dicom::{self, LoadControl, Volume, Voxels};
use crate::imaging::grid::Grid;

/// Why a case's image or mask cannot be used: one line, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{cause}: {}", path.display())]
    Image { path: PathBuf, cause: String },
    #[error("mask {cause}: {}", path.display())]
    Mask { path: PathBuf, cause: String },
}

fn image_error(path: &Path, cause: impl std::fmt::Display) -> SourceError {
    SourceError::Image {
        path: path.to_owned(),
        cause: cause.to_string(),
    }
}

fn mask_error(path: &Path, cause: impl std::fmt::Display) -> SourceError {
    SourceError::Mask {
        path: path.to_owned(),
        cause: cause.to_string(),
    }
}

/// What the image file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Dicom,
    Nifti,
    Npy,
}

/// Format by file name: `.nii`/`.nii.gz` NIfTI, `.npy`, anything else (files and folders) DICOM.
#[must_use]
pub fn format_of(path: &Path) -> Format {
    let name = path.to_string_lossy().to_lowercase();
    let has = |suffix: &str| name.ends_with(suffix);
    if has(".nii") || has(".nii.gz") || has(".hdr") {
        Format::Nifti
    } else if has(".npy") {
        Format::Npy
    } else {
        Format::Dicom
    }
}

/// A case's image: values in `f64` (after the modality LUT / NIfTI scaling), its grid in patient
/// space, and where it came from.
pub struct CaseImage {
    pub path: PathBuf,
    pub format: Format,
    /// `[z, y, x]` row-major.
    pub values: Vec<f64>,
    pub grid: Grid,
    /// DICOM Modality, empty otherwise.
    pub modality: String,
    /// Every file read for it (none may be overwritten by an output).
    pub files: Vec<PathBuf>,
    pub warnings: Vec<String>,
    /// The DICOM volume, kept for mapping SEG masks by slice position.
    pub volume: Option<Volume>,
}

impl CaseImage {
    /// Reads `path`: a DICOM file or folder (`series` picks one of several), a NIfTI file, or a
    /// float `.npy` `[z, y, x]` (or `[y, x]`) with `npy_spacing` (`[z, y, x]` mm; 1 mm without).
    pub fn read(
        path: &Path,
        series: Option<&str>,
        npy_spacing: Option<[f64; 3]>,
    ) -> Result<Self, SourceError> {
        match format_of(path) {
            Format::Nifti => {
                let image = crate::nifti::read(path).map_err(|e| image_error(path, e.kind))?;
                Ok(Self {
                    path: path.to_owned(),
                    format: Format::Nifti,
                    values: image.values,
                    grid: image.grid,
                    modality: String::new(),
                    files: vec![path.to_owned()],
                    warnings: image.warnings,
                    volume: None,
                })
            }
            Format::Npy => Self::read_npy(path, npy_spacing),
            Format::Dicom => Self::read_dicom(path, series),
        }
    }

    fn read_npy(path: &Path, spacing: Option<[f64; 3]>) -> Result<Self, SourceError> {
        let (values, dims) = read_npy_f64(path).map_err(|cause| image_error(path, cause))?;
        let mut warnings = Vec::new();
        let spacing_mm = spacing.unwrap_or_else(|| {
            warnings.push(
                "no --spacing for a .npy image: 1 mm voxels assumed (shape and texture features \
                 depend on it)"
                    .to_owned(),
            );
            [1.0; 3]
        });
        Ok(Self {
            path: path.to_owned(),
            format: Format::Npy,
            values,
            grid: Grid {
                dims,
                spacing_mm,
                origin_mm: [0.0; 3],
                row_direction: [1.0, 0.0, 0.0],
                col_direction: [0.0, 1.0, 0.0],
                slice_direction: [0.0, 0.0, 1.0],
            },
            modality: String::new(),
            files: vec![path.to_owned()],
            warnings,
            volume: None,
        })
    }

    fn read_dicom(path: &Path, wanted: Option<&str>) -> Result<Self, SourceError> {
        let paths = [path.to_owned()];
        let report = dicom::scan(&paths).map_err(|e| image_error(path, strip_path(&e, path)))?;
        let images: Vec<&dicom::Series> = report
            .series
            .iter()
            .filter(|s| s.modality() != "SEG")
            .collect();
        let series = match (wanted, images.as_slice()) {
            (None, [only]) => *only,
            (wanted, _) => dicom::select_series(&report, wanted, &paths)
                .map_err(|e| image_error(path, strip_path(&e, path)))?,
        };
        let volume = dicom::load_series(series, &LoadControl::default())
            .map_err(|e| image_error(path, strip_path(&e, path)))?;
        let values: Vec<f64> = match &volume.voxels {
            Voxels::I16(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Voxels::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Voxels::Rgb8(_) => {
                return Err(image_error(
                    path,
                    "colour images have no radiomics features (greyscale only)",
                ));
            }
        };
        let g = &volume.geometry;
        let grid = Grid {
            dims: volume.shape,
            spacing_mm: [itk_slice_spacing(&volume), g.spacing_mm[1], g.spacing_mm[2]],
            origin_mm: g.origin_mm,
            row_direction: g.row_direction,
            col_direction: g.col_direction,
            slice_direction: g.slice_direction,
        };
        let mut files: Vec<PathBuf> = report.files().map(Path::to_path_buf).collect();
        files.push(path.to_owned());
        Ok(Self {
            path: path.to_owned(),
            format: Format::Dicom,
            values,
            grid,
            modality: volume.modality.clone(),
            files,
            warnings: volume.warnings.clone(),
            volume: Some(volume),
        })
    }

    /// Reads the label map at `path` onto this image's grid: NIfTI through both geometries
    /// (refused when they do not coincide), `.npy` `[z, y, x]` (or `[y, x]`) in this image's
    /// voxel order, or a DICOM SEG over a DICOM image (segment number `label` becomes label
    /// `label`; other segments are left out, since segments may overlap).
    pub fn read_mask(&self, path: &Path, label: u32) -> Result<Vec<u32>, SourceError> {
        let labels = match format_of(path) {
            Format::Nifti => {
                let (labels, grid) =
                    crate::nifti::read_labels(path).map_err(|e| mask_error(path, e.kind))?;
                let map = self.grid.mapping_from(&grid).map_err(|e| {
                    mask_error(
                        path,
                        format!(
                            "does not fit the image {}: {}",
                            self.path.display(),
                            e.named("mask", "image")
                        ),
                    )
                })?;
                map.try_apply(&labels).map_err(|e| mask_error(path, e))?
            }
            Format::Npy => {
                let (labels, dims) =
                    read_npy_labels(path).map_err(|cause| mask_error(path, cause))?;
                if dims != self.grid.dims {
                    return Err(mask_error(
                        path,
                        format!(
                            "shape {dims:?} (z, y, x) does not match the image's {:?}: {}",
                            self.grid.dims,
                            self.path.display()
                        ),
                    ));
                }
                labels
            }
            Format::Dicom => self.read_seg(path, label)?,
        };
        Ok(labels)
    }

    fn read_seg(&self, path: &Path, label: u32) -> Result<Vec<u32>, SourceError> {
        let Some(volume) = &self.volume else {
            return Err(mask_error(
                path,
                "is DICOM: a DICOM SEG mask needs a DICOM image (give NIfTI or .npy for this image)",
            ));
        };
        let paths = [path.to_owned()];
        let report = dicom::scan(&paths).map_err(|e| mask_error(path, strip_path(&e, path)))?;
        let segs: Vec<&dicom::Series> = report
            .series
            .iter()
            .filter(|s| s.modality() == "SEG")
            .collect();
        let [seg] = segs.as_slice() else {
            return Err(mask_error(
                path,
                format!("holds {} DICOM SEG series, not one", segs.len()),
            ));
        };
        let seg_volume = dicom::load_series(seg, &LoadControl::default())
            .map_err(|e| mask_error(path, strip_path(&e, path)))?;
        let segments =
            dicom::frame_segments(path).map_err(|e| mask_error(path, strip_path(&e, path)))?;
        let mut numbers: Vec<u16> = segments.clone();
        numbers.sort_unstable();
        numbers.dedup();
        let number = u16::try_from(label)
            .ok()
            .filter(|n| numbers.contains(n))
            .ok_or_else(|| {
                let present: Vec<String> = numbers.iter().map(u16::to_string).collect();
                mask_error(
                    path,
                    format!(
                        "has no segment {label} (segments: {}; --label picks one)",
                        present.join(", ")
                    ),
                )
            })?;
        let masks = dicom::segment_masks_for(volume, &seg_volume, &segments, number);
        if masks.iter().all(Option::is_none) {
            return Err(mask_error(
                path,
                format!(
                    "has no frame on the image's slices (another series or grid): {}",
                    self.path.display()
                ),
            ));
        }
        let plane = self.grid.dims[1] * self.grid.dims[2];
        let mut labels = Vec::with_capacity(plane * self.grid.dims[0]);
        for mask in masks {
            match mask {
                Some(m) => labels.extend(m.iter().map(|&v| if v > 0 { label } else { 0 })),
                None => labels.extend(std::iter::repeat_n(0, plane)),
            }
        }
        Ok(labels)
    }
}

/// The slice spacing as ITK's DICOM series reader (and so PyRadiomics) derives it: the distance
/// between the first and last slice positions over the number of steps, not the median step the
/// viewer uses (they differ in the last digits, 3e-6 relative on the prostate series: above the
/// tolerance features are compared at).
#[must_use]
pub fn itk_slice_spacing(volume: &Volume) -> f64 {
    let median = volume.geometry.spacing_mm[0];
    let positions: Vec<f64> = volume
        .slices
        .iter()
        .filter_map(|s| volume.position_along_normal_mm(s))
        .collect();
    match (positions.first(), positions.last()) {
        (Some(first), Some(last))
            if positions.len() == volume.slices.len() && positions.len() > 1 =>
        {
            let spacing = (last - first).abs() / (positions.len() - 1) as f64;
            // Only where the series is regular: with gaps the median is the honest step.
            if (spacing - median).abs() <= median * 0.01 {
                spacing
            } else {
                median
            }
        }
        _ => median,
    }
}

/// DICOM errors end with the path; the caller adds it once.
fn strip_path(error: &dicom::DicomError, path: &Path) -> String {
    let text = error.to_string();
    let suffix = format!(": {}", path.display());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

fn npy_dims(shape: &[usize]) -> Result<[usize; 3], String> {
    match *shape {
        [z, y, x] => Ok([z, y, x]),
        [y, x] => Ok([1, y, x]),
        _ => Err(format!(
            "a .npy of shape {shape:?}: [z, y, x] or [y, x] wanted"
        )),
    }
}

fn read_npy_f64(path: &Path) -> Result<(Vec<f64>, [usize; 3]), String> {
    macro_rules! try_type {
        ($($t:ty),*) => {$(
            let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
            if let Ok(array) = ndarray::ArrayD::<$t>::read_npy(file) {
                let dims = npy_dims(array.shape())?;
                #[allow(clippy::cast_lossless)]
                return Ok((array.iter().map(|&v| v as f64).collect(), dims));
            }
        )*};
    }
    try_type!(f64, f32, i16, u16, i32, u8, i8, u32, i64);
    Err("not a numeric .npy (float, or integer up to 64 bits)".into())
}

fn read_npy_labels(path: &Path) -> Result<(Vec<u32>, [usize; 3]), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    if let Ok(array) = ndarray::ArrayD::<bool>::read_npy(file) {
        let dims = npy_dims(array.shape())?;
        return Ok((array.iter().map(|&v| u32::from(v)).collect(), dims));
    }
    macro_rules! try_type {
        ($($t:ty),*) => {$(
            let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
            if let Ok(array) = ndarray::ArrayD::<$t>::read_npy(file) {
                let dims = npy_dims(array.shape())?;
                return array
                    .iter()
                    .map(|&v| u32::try_from(v).map_err(|_| format!("label value {v} is not a whole number ≥ 0")))
                    .collect::<Result<Vec<u32>, String>>()
                    .map(|labels| (labels, dims));
            }
        )*};
    }
    try_type!(u8, u16, u32, i8, i16, i32, i64, u64);
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    if let Ok(array) = Array3::<f32>::read_npy(file) {
        let dims = npy_dims(array.shape())?;
        return array
            .iter()
            .map(|&v| {
                if v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f32 {
                    Ok(v as u32)
                } else {
                    Err(format!("label value {v} is not a whole number ≥ 0"))
                }
            })
            .collect::<Result<Vec<u32>, String>>()
            .map(|labels| (labels, dims));
    }
    Err("not an integer or boolean .npy label map".into())
}
