//! INPUT of the headless commands (`predict`, `explain`, `evaluate`, `export`), read once: a DICOM
//! file or series folder (every slice, with its masks), a PNG/JPEG (grey 0–255), or a `.npy`
//! float32 `[C, H, W]` taken as the model input as is. It gives each slice's values, its model
//! input, how the viewer would display it, where it came from, and every file read (which no
//! output may replace).
//!
//! Dependency rule: joins [`crate::dicom`] and [`crate::model`] (the model input) for the CLI;
//! no UI, no tch code of its own.

use std::path::{Path, PathBuf};

use ndarray::Array3;
use ndarray_npy::ReadNpyExt;

use crate::dicom::{self, DicomError, LoadControl, Photometric, Voxels};
use crate::imaging::{Window, percentile_window};
use crate::model::{Manifest, ModelError, input_tensor, preprocess_slice};

/// Why INPUT cannot be used; messages end with its path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    #[error(transparent)]
    Dicom(#[from] DicomError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("cannot read image ({cause}): {}", path.display())]
    Image { cause: String, path: PathBuf },
    #[error("not a float32 [C, H, W] .npy ({cause}): {}", path.display())]
    Npy { cause: String, path: PathBuf },
    #[error("colour images are not supported as model input: {}", path.display())]
    Colour { path: PathBuf },
    #[error("slice {index} is outside the series' {count} slices (0..{}): {}", count.saturating_sub(1), path.display())]
    SliceRange {
        index: usize,
        count: usize,
        path: PathBuf,
    },
}

/// What kind of file INPUT is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dicom,
    /// PNG or JPEG, grey values 0–255.
    Image,
    /// A model input `[C, H, W]`, used as is.
    Tensor,
}

/// One slice's origin.
#[derive(Clone, Debug)]
pub struct SliceSource {
    pub path: PathBuf,
    /// 1-based frame number in a multi-frame file.
    pub frame: Option<u32>,
    /// Position along the slice normal (mm), when the file has one.
    pub position_mm: Option<f64>,
}

/// INPUT, read.
pub struct Input {
    pub path: PathBuf,
    pub kind: Kind,
    /// DICOM Modality (`CT`, `MR`, …); empty for images and tensors.
    pub modality: String,
    /// `[slices, rows, cols]` greyscale values (a tensor: its first channel).
    pub values: Vec<f32>,
    pub shape: [usize; 3],
    /// The window the viewer opens the slice in (DICOM tags or percentiles; 0–255 for images).
    pub default_window: Window,
    /// MONOCHROME1: displayed inverted.
    pub invert: bool,
    /// Per slice: the region of interest (SEG objects, `*.mask.npy`), if any.
    pub masks: Vec<Option<Vec<u8>>>,
    pub slices: Vec<SliceSource>,
    /// Every file read for this input (series files, skipped and ignored files, masks).
    pub files_read: Vec<PathBuf>,
    /// Load warnings (a gap, a mask that does not fit…).
    pub warnings: Vec<String>,
    /// A `.npy` input: all its channels and their shape `[C, H, W]`.
    tensor: Option<(Vec<f32>, [usize; 3])>,
}

impl Input {
    /// Reads `path`; `series` picks one of several image series (id or SeriesInstanceUID). The
    /// masks are decoded only `with_masks` (an export draws them; a prediction does not need
    /// them), but their files are protected either way.
    pub fn read(path: &Path, series: Option<&str>, with_masks: bool) -> Result<Self, InputError> {
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        match extension.as_str() {
            "npy" => Self::read_npy(path),
            "png" | "jpg" | "jpeg" => Self::read_image(path),
            _ => Self::read_dicom(path, series, with_masks),
        }
    }

    /// Slice `index`, or the middle one.
    pub fn slice_index(&self, index: Option<usize>) -> Result<usize, InputError> {
        let count = self.shape[0];
        let index = index.unwrap_or(count / 2);
        if index >= count {
            return Err(InputError::SliceRange {
                index,
                count,
                path: self.path.clone(),
            });
        }
        Ok(index)
    }

    /// Slice `index`'s values, row-major.
    #[must_use]
    pub fn slice(&self, index: usize) -> &[f32] {
        let plane = self.shape[1] * self.shape[2];
        &self.values[index * plane..(index + 1) * plane]
    }

    /// The model input `[1, C, H, W]` of slice `index`: preprocessed as `manifest` says, or a
    /// `.npy` input as is.
    pub fn model_input(
        &self,
        index: usize,
        manifest: &Manifest,
    ) -> Result<tch::Tensor, InputError> {
        if let Some((values, shape)) = &self.tensor {
            return Ok(input_tensor(values, *shape)?);
        }
        let [_, rows, cols] = self.shape;
        Ok(preprocess_slice(self.slice(index), rows, cols, manifest)?)
    }

    /// The window the model sees the slice in (its manifest window or clip range), else the
    /// slice's own default.
    #[must_use]
    pub fn model_window(&self, manifest: &Manifest) -> Window {
        let p = &manifest.preprocess;
        p.window
            .or_else(|| {
                p.clip.map(|[lo, hi]| Window {
                    center: f32::midpoint(lo, hi),
                    width: hi - lo,
                })
            })
            .unwrap_or(self.default_window)
    }

    fn single(path: &Path, kind: Kind, values: Vec<f32>, rows: usize, cols: usize) -> Self {
        let default_window = match kind {
            Kind::Image => Window {
                center: 127.5,
                width: 255.0,
            },
            _ => percentile_window(values.iter().copied()).unwrap_or(Window {
                center: 0.5,
                width: 1.0,
            }),
        };
        Self {
            path: path.to_owned(),
            kind,
            modality: String::new(),
            values,
            shape: [1, rows, cols],
            default_window,
            invert: false,
            masks: vec![None],
            slices: vec![SliceSource {
                path: path.to_owned(),
                frame: None,
                position_mm: None,
            }],
            files_read: vec![path.to_owned()],
            warnings: Vec::new(),
            tensor: None,
        }
    }

    fn read_image(path: &Path) -> Result<Self, InputError> {
        let image = image::open(path)
            .map_err(|e| InputError::Image {
                cause: e.to_string(),
                path: path.to_owned(),
            })?
            .into_luma8();
        let (w, h) = image.dimensions();
        let values: Vec<f32> = image.into_raw().into_iter().map(f32::from).collect();
        Ok(Self::single(
            path,
            Kind::Image,
            values,
            h as usize,
            w as usize,
        ))
    }

    fn read_npy(path: &Path) -> Result<Self, InputError> {
        let npy_error = |cause: String| InputError::Npy {
            cause,
            path: path.to_owned(),
        };
        let file = std::fs::File::open(path).map_err(|e| npy_error(e.to_string()))?;
        let array = Array3::<f32>::read_npy(file).map_err(|e| npy_error(e.to_string()))?;
        let &[c, h, w] = array.shape() else {
            return Err(npy_error(format!("shape {:?}", array.shape())));
        };
        if c == 0 || h == 0 || w == 0 {
            return Err(npy_error(format!("empty shape [{c}, {h}, {w}]")));
        }
        let all: Vec<f32> = array.iter().copied().collect();
        let mut input = Self::single(path, Kind::Tensor, all[..h * w].to_vec(), h, w);
        input.tensor = Some((all, [c, h, w]));
        Ok(input)
    }

    fn read_dicom(path: &Path, wanted: Option<&str>, with_masks: bool) -> Result<Self, InputError> {
        let paths = [path.to_owned()];
        let report = dicom::scan(&paths)?;
        // Without --series, the one image series (the SEG objects beside it are its ROIs).
        let images: Vec<&dicom::Series> = report
            .series
            .iter()
            .filter(|s| s.modality() != "SEG")
            .collect();
        let series = match (wanted, images.as_slice()) {
            (None, [only]) => *only,
            (wanted, _) => dicom::select_series(&report, wanted, &paths)?,
        };
        let loaded = if with_masks {
            dicom::load_with_masks(series, &report.series, &LoadControl::default())?
        } else {
            dicom::LoadedSeries::without_masks(
                dicom::load_series(series, &LoadControl::default())?,
                series,
                &report.series,
            )
        };
        let volume = loaded.volume;
        if matches!(volume.voxels, Voxels::Rgb8(_)) {
            return Err(InputError::Colour {
                path: path.to_owned(),
            });
        }
        let mut files_read: Vec<PathBuf> = report.files().map(Path::to_path_buf).collect();
        files_read.push(path.to_owned());
        files_read.extend(loaded.mask_files);
        let slices = volume
            .slices
            .iter()
            .map(|s| SliceSource {
                path: s.path.clone(),
                frame: volume.frame_number(s),
                position_mm: volume.position_along_normal_mm(s),
            })
            .collect();
        Ok(Self {
            path: path.to_owned(),
            kind: Kind::Dicom,
            modality: volume.modality.clone(),
            values: volume.to_f32_vec(),
            shape: volume.shape,
            default_window: volume.default_window,
            invert: volume.photometric == Photometric::Monochrome1,
            masks: loaded.masks,
            slices,
            files_read,
            warnings: volume.warnings,
            tensor: None,
        })
    }
}
