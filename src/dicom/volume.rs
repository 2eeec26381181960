//! The decoded volume: compact voxel storage, patient geometry, display defaults and per-slice
//! metadata.

use std::path::PathBuf;

use rayon::prelude::*;
use std::sync::Arc;

use super::header::TagEntry;
use super::series::{Skipped, SliceOrder, cross};
use crate::imaging::Window;

/// Voxel values after the modality LUT, `[slices, rows, cols]` row-major (`[.., 3]` for colour).
#[derive(Clone, Debug, PartialEq)]
pub enum Voxels {
    /// Exact integers that fit 16 bits (most CT in HU, most MR).
    I16(Vec<i16>),
    /// Everything else (fractional rescale, values beyond 16 bits).
    F32(Vec<f32>),
    /// Colour, interleaved RGB (palette colour is expanded through its LUT).
    Rgb8(Vec<u8>),
}

impl Voxels {
    /// Bytes held.
    #[must_use]
    pub fn byte_len(&self) -> usize {
        match self {
            Self::I16(v) => v.len() * 2,
            Self::F32(v) => v.len() * 4,
            Self::Rgb8(v) => v.len(),
        }
    }
}

/// How the stored values are meant to be displayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Photometric {
    /// Low values dark.
    Monochrome2,
    /// Low values bright: display inverted.
    Monochrome1,
    Rgb,
}

/// Where the default window came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowSource {
    /// WindowCenter/WindowWidth in the DICOM header.
    Dicom,
    /// 0.5th–99.5th percentile of the values.
    Percentiles,
}

/// Where a volume sits in patient space (LPS, millimetres).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geometry {
    /// `[between slices, between rows, between columns]`.
    pub spacing_mm: [f64; 3],
    /// Patient position of the centre of voxel (0, 0, 0).
    pub origin_mm: [f64; 3],
    /// Unit direction of increasing column index (first triplet of ImageOrientationPatient).
    pub row_direction: [f64; 3],
    /// Unit direction of increasing row index (second triplet).
    pub col_direction: [f64; 3],
    /// Unit direction of increasing slice index.
    pub slice_direction: [f64; 3],
}

impl Geometry {
    /// Axis-aligned identity geometry (used when a series has no orientation).
    #[must_use]
    pub fn identity(spacing_mm: [f64; 3]) -> Self {
        Self {
            spacing_mm,
            origin_mm: [0.0; 3],
            row_direction: [1.0, 0.0, 0.0],
            col_direction: [0.0, 1.0, 0.0],
            slice_direction: [0.0, 0.0, 1.0],
        }
    }

    /// Builds the geometry from orientation, first-slice position and spacing; the slice direction
    /// is the plane normal, flipped if the slices run the other way.
    #[must_use]
    pub fn from_dicom(
        orientation: [f64; 6],
        origin_mm: [f64; 3],
        spacing_mm: [f64; 3],
        slice_step_mm: Option<[f64; 3]>,
    ) -> Self {
        let row_direction = [orientation[0], orientation[1], orientation[2]];
        let col_direction = [orientation[3], orientation[4], orientation[5]];
        let mut slice_direction = cross(row_direction, col_direction);
        if let Some(step) = slice_step_mm
            && super::series::dot(step, slice_direction) < 0.0
        {
            slice_direction = slice_direction.map(|v| -v);
        }
        Self {
            spacing_mm,
            origin_mm,
            row_direction,
            col_direction,
            slice_direction,
        }
    }

    /// Patient position (mm) of a voxel given as continuous `(col, row, slice)` indices.
    #[must_use]
    pub fn patient_from_voxel(&self, voxel: [f64; 3]) -> [f64; 3] {
        let [col, row, slice] = voxel;
        let [ds, dr, dc] = self.spacing_mm;
        std::array::from_fn(|i| {
            self.origin_mm[i]
                + col * dc * self.row_direction[i]
                + row * dr * self.col_direction[i]
                + slice * ds * self.slice_direction[i]
        })
    }

    /// The same transform as a 4×4 homogeneous matrix acting on `(col, row, slice, 1)`.
    #[must_use]
    pub fn patient_from_voxel_matrix(&self) -> [[f64; 4]; 4] {
        let [ds, dr, dc] = self.spacing_mm;
        std::array::from_fn(|i| match i {
            3 => [0.0, 0.0, 0.0, 1.0],
            _ => [
                self.row_direction[i] * dc,
                self.col_direction[i] * dr,
                self.slice_direction[i] * ds,
                self.origin_mm[i],
            ],
        })
    }
}

/// What the viewer and tag browser need to know about one slice.
#[derive(Clone, Debug)]
pub struct SliceMeta {
    pub path: PathBuf,
    pub frame: u32,
    pub instance_number: Option<i32>,
    pub position_mm: Option<[f64; 3]>,
    /// Shared by all frames of one file.
    pub tags: Arc<[TagEntry]>,
}

impl SliceMeta {
    /// A top-level element's value as text (trimmed of padding), `None` when absent or empty.
    #[must_use]
    pub fn tag_text(&self, tag: (u16, u16)) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.depth == 0 && t.tag == tag)
            .map(|t| {
                t.value
                    .trim_matches(|c: char| c == '\0' || c.is_whitespace())
            })
            .filter(|v| !v.is_empty())
    }

    /// SOP Instance UID (0008,0018).
    #[must_use]
    pub fn sop_instance_uid(&self) -> Option<&str> {
        self.tag_text((0x0008, 0x0018))
    }
}

/// A decoded series.
#[derive(Clone, Debug)]
pub struct Volume {
    pub series_id: String,
    pub series_uid: String,
    pub modality: String,
    pub description: String,
    /// `[slices, rows, cols]`.
    pub shape: [usize; 3],
    pub voxels: Voxels,
    pub geometry: Geometry,
    pub photometric: Photometric,
    pub default_window: Window,
    pub window_source: WindowSource,
    pub order: SliceOrder,
    pub slices: Vec<SliceMeta>,
    pub warnings: Vec<String>,
    /// Slices whose files failed to decode, left out of the volume.
    pub skipped: Vec<Skipped>,
}

impl Volume {
    /// Study Instance UID (0020,000D) of the series, from its first slice's header.
    #[must_use]
    pub fn study_uid(&self) -> Option<&str> {
        self.slices.first()?.tag_text((0x0020, 0x000D))
    }

    /// The 1-based frame number of `slice` in its file, as DICOM references it (Referenced Frame
    /// Number); `None` for a single-frame file.
    #[must_use]
    pub fn frame_number(&self, slice: &SliceMeta) -> Option<u32> {
        self.slices
            .iter()
            .any(|o| o.path == slice.path && o.frame != slice.frame)
            .then_some(slice.frame + 1)
    }

    /// Position of `slice` along the slice normal (mm): the projection of its Image Position
    /// (Patient) on the normal, as the viewer's legend shows it.
    #[must_use]
    pub fn position_along_normal_mm(&self, slice: &SliceMeta) -> Option<f64> {
        let normal = self.geometry.slice_direction;
        slice
            .position_mm
            .map(|p| p.iter().zip(normal).map(|(a, b)| a * b).sum())
    }

    /// Number of values in one slice (times 3 for colour).
    #[must_use]
    pub fn slice_len(&self) -> usize {
        let plane = self.shape[1] * self.shape[2];
        if matches!(self.voxels, Voxels::Rgb8(_)) {
            plane * 3
        } else {
            plane
        }
    }

    /// The greyscale value at `(slice, row, col)`, or `None` outside the volume or for colour.
    #[must_use]
    pub fn value(&self, slice: usize, row: usize, col: usize) -> Option<f32> {
        let [slices, rows, cols] = self.shape;
        if slice >= slices || row >= rows || col >= cols {
            return None;
        }
        let i = (slice * rows + row) * cols + col;
        match &self.voxels {
            Voxels::I16(v) => v.get(i).map(|&x| f32::from(x)),
            Voxels::F32(v) => v.get(i).copied(),
            Voxels::Rgb8(_) => None,
        }
    }

    /// Copies one slice as `f32` into `out` (which must hold [`Self::slice_len`] values).
    pub fn slice_f32_into(&self, slice: usize, out: &mut [f32]) {
        let len = self.slice_len();
        let range = slice * len..(slice + 1) * len;
        match &self.voxels {
            Voxels::I16(v) => out
                .iter_mut()
                .zip(&v[range])
                .for_each(|(o, &x)| *o = f32::from(x)),
            Voxels::F32(v) => out.copy_from_slice(&v[range]),
            Voxels::Rgb8(v) => out
                .iter_mut()
                .zip(&v[range])
                .for_each(|(o, &x)| *o = f32::from(x)),
        }
    }

    /// All values as `f32`, in storage order (the `.npy` export).
    #[must_use]
    pub fn to_f32_vec(&self) -> Vec<f32> {
        match &self.voxels {
            Voxels::I16(v) => v.par_iter().map(|&x| f32::from(x)).collect(),
            Voxels::F32(v) => v.clone(),
            Voxels::Rgb8(v) => v.par_iter().map(|&x| f32::from(x)).collect(),
        }
    }

    /// Smallest and largest greyscale value (or channel value for colour).
    #[must_use]
    pub fn min_max(&self) -> Option<(f32, f32)> {
        fn fold<T: Copy>(values: &[T], to_f32: impl Fn(T) -> f32) -> Option<(f32, f32)> {
            values
                .iter()
                .map(|&v| to_f32(v))
                .fold(None, |acc, v| match acc {
                    None => Some((v, v)),
                    Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
                })
        }
        match &self.voxels {
            Voxels::I16(v) => fold(v, f32::from),
            Voxels::F32(v) => fold(v, |x| x),
            Voxels::Rgb8(v) => fold(v, f32::from),
        }
    }
}

/// A zero-filled axis-aligned int16 volume of `shape` with 1 mm spacing, for unit tests.
#[cfg(test)]
pub(crate) fn test_volume(shape: [usize; 3]) -> Volume {
    Volume {
        series_id: "test".to_owned(),
        series_uid: "1.2.3".to_owned(),
        modality: "CT".to_owned(),
        description: String::new(),
        shape,
        voxels: Voxels::I16(vec![0; shape.iter().product()]),
        geometry: Geometry::identity([1.0; 3]),
        photometric: Photometric::Monochrome2,
        default_window: Window {
            center: 0.0,
            width: 100.0,
        },
        window_source: WindowSource::Dicom,
        order: SliceOrder::Position,
        slices: Vec::new(),
        warnings: Vec::new(),
        skipped: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patient_from_voxel_follows_orientation_and_spacing() {
        // Sagittal: rows run anterior→posterior (+y), columns run head→feet (−z).
        let g = Geometry::from_dicom(
            [0.0, 1.0, 0.0, 0.0, 0.0, -1.0],
            [10.0, -130.0, 130.0],
            [4.8, 2.0, 1.0],
            Some([4.8, 0.0, 0.0]),
        );
        let close = |a: [f64; 3], b: [f64; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9);
        assert!(close(g.slice_direction, [1.0, 0.0, 0.0]));
        assert!(close(
            g.patient_from_voxel([3.0, 5.0, 2.0]),
            [19.6, -127.0, 120.0]
        ));
        let m = g.patient_from_voxel_matrix();
        let p: [f64; 3] =
            std::array::from_fn(|i| m[i][0] * 3.0 + m[i][1] * 5.0 + m[i][2] * 2.0 + m[i][3]);
        assert!(close(p, [19.6, -127.0, 120.0]));
    }
}
