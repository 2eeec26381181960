//! Multiplanar reformatting (MPR): the volume cut along each of its three index axes. The
//! acquired plane is shown as stored; the two reformatted planes are turned to the radiological
//! convention of the anatomical plane they are closest to (axial: patient left on the right,
//! anterior up; coronal: patient left on the right, superior up; sagittal: anterior on the left,
//! superior up). A plane's pixels are cut on the CPU when its position changes, never per frame.

use super::{Geometry, Volume, Voxels};

/// A voxel index `[slice, row, column]` of the volume.
pub type Voxel = [usize; 3];

/// The anatomical plane a cut is closest to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anatomy {
    Axial,
    Coronal,
    Sagittal,
}

impl Anatomy {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Axial => "axial",
            Self::Coronal => "coronal",
            Self::Sagittal => "sagittal",
        }
    }
}

/// One image axis of a plane: the volume axis it walks along, and whether it walks backwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Axis {
    volume_axis: usize,
    reversed: bool,
}

/// How a plane's image maps onto the volume.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plane {
    /// The volume axis held fixed (0: the acquired slices, 1: a row, 2: a column).
    pub fixed_axis: usize,
    horizontal: Axis,
    vertical: Axis,
    /// Positions along the fixed axis, image rows and image columns.
    pub shape: [usize; 3],
    /// The plane as a stack of images: spacing `[between planes, between rows, between columns]`
    /// and the patient directions of its columns and rows (orientation letters, aspect).
    pub geometry: Geometry,
    pub anatomy: Anatomy,
}

/// The patient direction of increasing index along each volume axis.
fn axis_direction(geometry: &Geometry, axis: usize) -> [f64; 3] {
    match axis {
        0 => geometry.slice_direction,
        1 => geometry.col_direction,
        _ => geometry.row_direction,
    }
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn anatomy_of(normal: [f64; 3]) -> Anatomy {
    let [x, y, z] = normal.map(f64::abs);
    if z >= x && z >= y {
        Anatomy::Axial
    } else if y >= x {
        Anatomy::Coronal
    } else {
        Anatomy::Sagittal
    }
}

impl Plane {
    /// The cut holding `fixed_axis` of `volume` fixed.
    #[must_use]
    pub fn new(volume: &Volume, fixed_axis: usize) -> Self {
        let geometry = &volume.geometry;
        let fixed_axis = fixed_axis.min(2);
        let anatomy = anatomy_of(axis_direction(geometry, fixed_axis));
        let (horizontal, vertical) = if fixed_axis == 0 {
            // As stored: columns across, rows down.
            let forward = |volume_axis| Axis {
                volume_axis,
                reversed: false,
            };
            (forward(2), forward(1))
        } else {
            // LPS: the screen's right and down for the plane's convention.
            let (right, down) = match anatomy {
                Anatomy::Axial => ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0]),
                Anatomy::Coronal => ([1.0, 0.0, 0.0], [0.0, 0.0, -1.0]),
                Anatomy::Sagittal => ([0.0, 1.0, 0.0], [0.0, 0.0, -1.0]),
            };
            let in_plane = match fixed_axis {
                1 => [0, 2],
                _ => [0, 1],
            };
            let along = |axis: usize, screen: [f64; 3]| dot(axis_direction(geometry, axis), screen);
            // The in-plane axis closer to the screen's horizontal goes across.
            let [across, down_axis] =
                if along(in_plane[0], right).abs() >= along(in_plane[1], right).abs() {
                    in_plane
                } else {
                    [in_plane[1], in_plane[0]]
                };
            (
                Axis {
                    volume_axis: across,
                    reversed: along(across, right) < 0.0,
                },
                Axis {
                    volume_axis: down_axis,
                    reversed: along(down_axis, down) < 0.0,
                },
            )
        };
        let sign = |axis: Axis| {
            let direction = axis_direction(geometry, axis.volume_axis);
            if axis.reversed {
                direction.map(|v| -v)
            } else {
                direction
            }
        };
        let shape = [
            volume.shape[fixed_axis],
            volume.shape[vertical.volume_axis],
            volume.shape[horizontal.volume_axis],
        ];
        let spacing = geometry.spacing_mm;
        Self {
            fixed_axis,
            horizontal,
            vertical,
            shape,
            geometry: Geometry {
                spacing_mm: [
                    spacing[fixed_axis],
                    spacing[vertical.volume_axis],
                    spacing[horizontal.volume_axis],
                ],
                origin_mm: geometry.origin_mm,
                row_direction: sign(horizontal),
                col_direction: sign(vertical),
                slice_direction: axis_direction(geometry, fixed_axis),
            },
            anatomy,
        }
    }

    /// The three cuts: acquired, through a row, through a column.
    #[must_use]
    pub fn all(volume: &Volume) -> [Self; 3] {
        [0, 1, 2].map(|axis| Self::new(volume, axis))
    }

    /// The voxel under image pixel `(col, row)` of the plane at `position`.
    #[must_use]
    pub fn voxel(&self, position: usize, col: usize, row: usize) -> Voxel {
        let walk = |axis: Axis, i: usize, n: usize| if axis.reversed { n - 1 - i } else { i };
        let mut voxel = [0; 3];
        voxel[self.fixed_axis] = position;
        voxel[self.horizontal.volume_axis] = walk(self.horizontal, col, self.shape[2]);
        voxel[self.vertical.volume_axis] = walk(self.vertical, row, self.shape[1]);
        voxel
    }

    /// Where `voxel` lies in this plane: `(position, col, row)` (the inverse of [`Plane::voxel`]).
    #[must_use]
    pub fn pixel(&self, voxel: Voxel) -> (usize, usize, usize) {
        let walk = |axis: Axis, n: usize| {
            let i = voxel[axis.volume_axis].min(n - 1);
            if axis.reversed { n - 1 - i } else { i }
        };
        (
            voxel[self.fixed_axis],
            walk(self.horizontal, self.shape[2]),
            walk(self.vertical, self.shape[1]),
        )
    }

    /// Index into `[slices, rows, cols]` storage of each of the plane's pixels, row by row.
    fn for_each_index(&self, volume_shape: [usize; 3], position: usize, mut f: impl FnMut(usize)) {
        let [_, rows, cols] = volume_shape;
        for row in 0..self.shape[1] {
            for col in 0..self.shape[2] {
                let [s, r, c] = self.voxel(position, col, row);
                f((s * rows + r) * cols + c);
            }
        }
    }

    /// `value` of each of the plane's voxels at `position`, row by row (e.g. a heat volume's).
    #[must_use]
    pub fn sample(&self, position: usize, mut value: impl FnMut(Voxel) -> f32) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.shape[1] * self.shape[2]);
        for row in 0..self.shape[1] {
            for col in 0..self.shape[2] {
                out.push(value(self.voxel(position, col, row)));
            }
        }
        out
    }

    /// The plane's greyscale values at `position` (modality values; colour as its mean).
    #[must_use]
    pub fn grey(&self, volume: &Volume, position: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.shape[1] * self.shape[2]);
        match &volume.voxels {
            Voxels::I16(v) => {
                self.for_each_index(volume.shape, position, |i| out.push(f32::from(v[i])));
            }
            Voxels::F32(v) => self.for_each_index(volume.shape, position, |i| out.push(v[i])),
            Voxels::Rgb8(v) => self.for_each_index(volume.shape, position, |i| {
                let p = &v[i * 3..i * 3 + 3];
                out.push((f32::from(p[0]) + f32::from(p[1]) + f32::from(p[2])) / 3.0);
            }),
        }
        out
    }

    /// The plane's RGBA8 pixels at `position` of a colour volume.
    #[must_use]
    pub fn rgba(&self, volume: &Volume, position: usize) -> Option<Vec<u8>> {
        let Voxels::Rgb8(v) = &volume.voxels else {
            return None;
        };
        let mut out = Vec::with_capacity(self.shape[1] * self.shape[2] * 4);
        self.for_each_index(volume.shape, position, |i| {
            out.extend_from_slice(&v[i * 3..i * 3 + 3]);
            out.push(255);
        });
        Some(out)
    }

    /// The plane at `position` of per-slice masks (`rows × cols` each, absent = empty), the
    /// `layers` combined (a voxel is in when any layer has it), or `None` when nothing of it is in.
    #[must_use]
    pub fn mask(
        &self,
        volume_shape: [usize; 3],
        layers: &[&[Option<Vec<u8>>]],
        position: usize,
    ) -> Option<Vec<u8>> {
        let [_, rows, cols] = volume_shape;
        let plane = rows * cols;
        let mut out = Vec::with_capacity(self.shape[1] * self.shape[2]);
        let mut any = false;
        self.for_each_index(volume_shape, position, |i| {
            let value = layers
                .iter()
                .filter_map(|masks| masks.get(i / plane)?.as_ref())
                .fold(0, |v, m| v | m[i % plane]);
            any |= value != 0;
            out.push(value);
        });
        any.then_some(out)
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // spacings and directions are copied, never computed
mod tests {
    use super::*;
    use crate::dicom::volume::test_volume;

    /// An axial stack: columns to the patient's left, rows to posterior, slices to superior.
    fn axial(shape: [usize; 3], spacing: [f64; 3]) -> Volume {
        let mut volume = test_volume(shape);
        volume.geometry = Geometry {
            spacing_mm: spacing,
            origin_mm: [0.0; 3],
            row_direction: [1.0, 0.0, 0.0],
            col_direction: [0.0, 1.0, 0.0],
            slice_direction: [0.0, 0.0, 1.0],
        };
        volume
    }

    #[test]
    fn an_axial_stack_reformats_to_coronal_and_sagittal_with_superior_up() {
        let volume = axial([4, 3, 5], [2.5, 0.7, 0.8]);
        let [acquired, coronal, sagittal] = Plane::all(&volume);
        assert_eq!(acquired.anatomy, Anatomy::Axial);
        assert_eq!(acquired.shape, [4, 3, 5]);
        assert_eq!(coronal.anatomy, Anatomy::Coronal);
        assert_eq!(coronal.shape, [3, 4, 5]);
        assert_eq!(coronal.geometry.spacing_mm, [0.7, 2.5, 0.8]);
        assert_eq!(sagittal.anatomy, Anatomy::Sagittal);
        assert_eq!(sagittal.shape, [5, 4, 3]);
        assert_eq!(sagittal.geometry.spacing_mm, [0.8, 2.5, 0.7]);
        // Superior (the last slice) is the top image row.
        assert_eq!(coronal.voxel(1, 2, 0), [3, 1, 2]);
        assert_eq!(sagittal.voxel(4, 0, 0), [3, 0, 4]);
        assert_eq!(coronal.geometry.col_direction, [0.0, 0.0, -1.0]);
        assert_eq!(sagittal.geometry.row_direction, [0.0, 1.0, 0.0]);
    }

    #[test]
    fn pixel_inverts_voxel_on_every_plane() {
        // A sagittal acquisition (as the shared MR): columns posterior, rows inferior.
        let mut volume = test_volume([3, 4, 5]);
        volume.geometry.row_direction = [0.0, 1.0, 0.0];
        volume.geometry.col_direction = [0.0, 0.0, -1.0];
        volume.geometry.slice_direction = [-1.0, 0.0, 0.0];
        let planes = Plane::all(&volume);
        assert_eq!(planes[0].anatomy, Anatomy::Sagittal);
        assert_eq!(planes[1].anatomy, Anatomy::Axial);
        assert_eq!(planes[2].anatomy, Anatomy::Coronal);
        for plane in planes {
            for s in 0..3 {
                for r in 0..4 {
                    for c in 0..5 {
                        let (position, col, row) = plane.pixel([s, r, c]);
                        assert_eq!(plane.voxel(position, col, row), [s, r, c], "{plane:?}");
                    }
                }
            }
        }
        // Axial from a sagittal stack: patient left (the first slice here) on the right.
        let axial = planes[1];
        assert_eq!(axial.shape, [4, 5, 3]);
        assert_eq!(axial.voxel(0, 2, 0), [0, 0, 0]);
    }

    #[test]
    fn grey_and_mask_cut_the_values_of_the_plane() {
        let mut volume = axial([2, 2, 3], [1.0; 3]);
        volume.voxels = Voxels::I16((0..12).collect());
        let coronal = Plane::new(&volume, 1);
        // Row 1 of each slice, superior (slice 1) on top.
        assert_eq!(coronal.grey(&volume, 1), [9.0, 10.0, 11.0, 3.0, 4.0, 5.0]);
        let masks = vec![None, Some(vec![0, 0, 0, 1, 0, 0])];
        assert_eq!(
            coronal.mask(volume.shape, &[&masks], 1),
            Some(vec![1, 0, 0, 0, 0, 0])
        );
        assert_eq!(coronal.mask(volume.shape, &[&masks], 0), None);
        // A second layer (drawn ROIs) adds to the first.
        let drawn = vec![Some(vec![0, 0, 0, 0, 0, 1])];
        assert_eq!(
            coronal.mask(volume.shape, &[&masks, &drawn], 1),
            Some(vec![1, 0, 0, 0, 0, 1])
        );
    }
}
