//! Voxel grids placed in patient space (DICOM LPS, millimetres) and the exact voxel-for-voxel
//! mapping between two grids, so that a label map stored in one voxel order (a NIfTI mask, often
//! RAS-ordered, sometimes sagittal stored as axial) can be laid over an image stored in another
//! (a DICOM series) without ever being silently flipped, transposed or shifted.
//!
//! A mapping is only an axis permutation plus per-axis reversals: no resampling, no interpolation.
//! Grids whose voxel centres do not coincide one-to-one are refused with a [`GridMismatch`] that
//! names both grids and says what differs.
//!
//! Pure maths: no I/O, depends on nothing else in the crate.

use std::fmt;

/// Two axis directions are taken as parallel when every component of the (sign-adjusted) unit
/// vectors differs by at most this much (about 0.006°): far tighter than any real rotation, loose
/// enough for directions stored as `f32` (NIfTI) or as 6-decimal strings (DICOM).
pub const DIRECTION_TOLERANCE: f64 = 1e-4;

/// Voxel centres coincide when they lie within this fraction of the smallest voxel spacing of the
/// two grids (1 %: 0.01 mm for 1 mm voxels).
pub const POSITION_TOLERANCE_FRACTION: f64 = 0.01;

/// Spacings of matched axes are equal when they differ by at most this fraction of the larger.
/// (Small differences that still add up along the extent are caught by the position check.)
pub const SPACING_TOLERANCE_FRACTION: f64 = 1e-4;

/// Array axis names, in `[z, y, x]` order: the slice axis (z), the row axis (y, the row index
/// increases along it) and the column axis (x).
const AXIS_NAMES: [&str; 3] = ["slice", "row", "column"];

/// A regular voxel grid in patient space, with the same convention as radlens' DICOM
/// `Geometry` (LPS; `patient = origin + col·dc·row_direction + row·dr·col_direction +
/// slice·ds·slice_direction`), plus its extent.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    /// Voxel counts `[slices, rows, cols]` = `[z, y, x]`, the shape of a row-major array.
    pub dims: [usize; 3],
    /// Centre-to-centre distances `[between slices, between rows, between columns]` (mm).
    pub spacing_mm: [f64; 3],
    /// Patient position (LPS, mm) of the centre of voxel `[0, 0, 0]`.
    pub origin_mm: [f64; 3],
    /// Unit direction of increasing column (x) index.
    pub row_direction: [f64; 3],
    /// Unit direction of increasing row (y) index.
    pub col_direction: [f64; 3],
    /// Unit direction of increasing slice (z) index.
    pub slice_direction: [f64; 3],
}

impl Grid {
    /// Patient position (LPS, mm) of a voxel given as continuous `(col, row, slice)` indices — the
    /// same argument order as `dicom::Geometry::patient_from_voxel`.
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

    /// Patient position of the centre of the voxel at array index `[z, y, x]`.
    #[must_use]
    pub fn patient_from_index(&self, index: [usize; 3]) -> [f64; 3] {
        let [z, y, x] = index;
        self.patient_from_voxel([x as f64, y as f64, z as f64])
    }

    /// Number of voxels, `None` if the product overflows `usize`.
    #[must_use]
    pub fn voxel_count(&self) -> Option<usize> {
        self.dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
    }

    /// Direction of increasing index along array axis `axis` (0 = z, 1 = y, 2 = x).
    fn axis_direction(&self, axis: usize) -> [f64; 3] {
        match axis {
            0 => self.slice_direction,
            1 => self.col_direction,
            _ => self.row_direction,
        }
    }

    /// Why this grid cannot take part in a mapping, if it cannot.
    fn problem(&self) -> Option<String> {
        if self.dims.contains(&0) {
            return Some("has an empty axis".to_owned());
        }
        if self.voxel_count().is_none() {
            return Some("has more voxels than memory can address".to_owned());
        }
        if let Some(axis) = (0..3).find(|&a| {
            let s = self.spacing_mm[a];
            !(s.is_finite() && s > 0.0)
        }) {
            return Some(format!(
                "has a {} spacing of {} mm",
                AXIS_NAMES[axis], self.spacing_mm[axis]
            ));
        }
        if !self.origin_mm.iter().all(|v| v.is_finite()) {
            return Some("has a non-finite origin".to_owned());
        }
        if let Some(axis) = (0..3).find(|&a| {
            let n = norm(self.axis_direction(a));
            !(n.is_finite() && (n - 1.0).abs() <= 1e-3)
        }) {
            return Some(format!(
                "has a {} direction that is not a unit vector",
                AXIS_NAMES[axis]
            ));
        }
        let det = determinant([self.slice_direction, self.col_direction, self.row_direction]);
        if det.abs() < 1e-3 {
            return Some("has linearly dependent axis directions".to_owned());
        }
        None
    }

    /// The mapping that takes every voxel of `source` onto the voxel of `self` (the destination)
    /// whose centre is at the same patient position.
    ///
    /// Accepted: any axis permutation and any per-axis reversal (LPS vs RAS storage, reversed
    /// slice order, sagittal stored as axial), provided that, axis by axis, the directions are
    /// parallel within [`DIRECTION_TOLERANCE`], the voxel counts are identical, the spacings
    /// agree within [`SPACING_TOLERANCE_FRACTION`] (not checked along an axis with a single
    /// voxel, where it moves no centre), and every source voxel centre lies within
    /// [`POSITION_TOLERANCE_FRACTION`] of the smallest spacing of its destination voxel centre.
    /// Everything else (oblique to each other, cropped, resampled, shifted) is refused.
    // The error carries both grids so that its message can name them; it is built once per
    // mask load, so its size does not matter.
    #[allow(clippy::result_large_err)]
    pub fn mapping_from(&self, source: &Grid) -> Result<GridMap, GridMismatch> {
        let refuse = |reason| GridMismatch {
            source: source.clone(),
            destination: self.clone(),
            reason,
            source_name: "source",
            destination_name: "destination",
        };
        if let Some(problem) = source.problem() {
            return Err(refuse(MismatchReason::InvalidGrid {
                side: Side::Source,
                problem,
            }));
        }
        if let Some(problem) = self.problem() {
            return Err(refuse(MismatchReason::InvalidGrid {
                side: Side::Destination,
                problem,
            }));
        }
        let (source_axis, flipped) = match_axes(self, source).map_err(refuse)?;
        check_extent_and_spacing(self, source, source_axis).map_err(refuse)?;
        let map = GridMap {
            source_dims: source.dims,
            dims: self.dims,
            source_axis,
            flipped,
        };
        check_positions(self, source, &map).map_err(refuse)?;
        Ok(map)
    }
}

/// For each destination axis, the source axis parallel to it and whether it runs the other way.
// Axis numbers index several per-axis arrays at once; a range loop says that most plainly.
#[allow(clippy::needless_range_loop)]
fn match_axes(
    destination: &Grid,
    source: &Grid,
) -> Result<([usize; 3], [bool; 3]), MismatchReason> {
    let mut source_axis = [0; 3];
    let mut flipped = [false; 3];
    let mut used = [false; 3];
    for d in 0..3 {
        let want = unit(destination.axis_direction(d));
        let mut best: Option<(usize, bool, f64)> = None;
        let mut nearest = (d, f64::INFINITY);
        for s in 0..3 {
            let have = unit(source.axis_direction(s));
            let cos = dot(want, have);
            let angle = cos.abs().clamp(0.0, 1.0).acos().to_degrees();
            if angle < nearest.1 {
                nearest = (s, angle);
            }
            let flip = cos < 0.0;
            let sign = if flip { -1.0 } else { 1.0 };
            let deviation = (0..3)
                .map(|i| (want[i] - sign * have[i]).abs())
                .fold(0.0, f64::max);
            if !used[s]
                && deviation <= DIRECTION_TOLERANCE
                && best.is_none_or(|(_, _, b)| deviation < b)
            {
                best = Some((s, flip, deviation));
            }
        }
        let Some((s, flip, _)) = best else {
            return Err(MismatchReason::DirectionsDiffer {
                axis: d,
                nearest_source_axis: nearest.0,
                angle_deg: nearest.1,
            });
        };
        used[s] = true;
        source_axis[d] = s;
        flipped[d] = flip;
    }
    Ok((source_axis, flipped))
}

#[allow(clippy::needless_range_loop)]
fn check_extent_and_spacing(
    destination: &Grid,
    source: &Grid,
    source_axis: [usize; 3],
) -> Result<(), MismatchReason> {
    for d in 0..3 {
        let s = source_axis[d];
        if source.dims[s] != destination.dims[d] {
            return Err(MismatchReason::ExtentDiffers {
                axis: d,
                source_voxels: source.dims[s],
                destination_voxels: destination.dims[d],
            });
        }
    }
    for d in 0..3 {
        let s = source_axis[d];
        let (a, b) = (source.spacing_mm[s], destination.spacing_mm[d]);
        if destination.dims[d] > 1 && (a - b).abs() > SPACING_TOLERANCE_FRACTION * a.max(b) {
            return Err(MismatchReason::SpacingDiffers {
                axis: d,
                source_mm: a,
                destination_mm: b,
            });
        }
    }
    Ok(())
}

/// The error between mapped voxel centres is affine in the index, so it is largest at a corner
/// of the index box: checking the 8 corners checks every voxel.
fn check_positions(destination: &Grid, source: &Grid, map: &GridMap) -> Result<(), MismatchReason> {
    let smallest = source
        .spacing_mm
        .iter()
        .chain(&destination.spacing_mm)
        .copied()
        .fold(f64::INFINITY, f64::min);
    let tolerance = POSITION_TOLERANCE_FRACTION * smallest;
    let offset_at = |index: [usize; 3]| {
        let here = source.patient_from_index(index);
        let there = destination.patient_from_index(map.destination_of(index));
        sub(here, there)
    };
    let origin_offset = offset_at([0, 0, 0]);
    if norm(origin_offset) > tolerance {
        // Components along the destination's own axes, in [slice, row, column] order.
        let along: [f64; 3] =
            std::array::from_fn(|d| dot(origin_offset, unit(destination.axis_direction(d))));
        return Err(MismatchReason::Shifted {
            along_mm: along,
            tolerance_mm: tolerance,
        });
    }
    let mut worst = 0.0_f64;
    for corner in 0..8_usize {
        let index: [usize; 3] = std::array::from_fn(|a| {
            if corner >> a & 1 == 1 {
                source.dims[a] - 1
            } else {
                0
            }
        });
        worst = worst.max(norm(offset_at(index)));
    }
    if worst > tolerance {
        return Err(MismatchReason::Drift {
            worst_mm: worst,
            tolerance_mm: tolerance,
        });
    }
    Ok(())
}

/// How the voxels of a source grid land on a destination grid: destination axis `d` reads source
/// axis `source_axis[d]`, reversed when `flipped[d]`. Made by [`Grid::mapping_from`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridMap {
    source_dims: [usize; 3],
    dims: [usize; 3],
    source_axis: [usize; 3],
    flipped: [bool; 3],
}

/// A source array whose length does not match the grid the map was made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LengthMismatch {
    pub expected: usize,
    pub got: usize,
}

impl fmt::Display for LengthMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "array of {} values given for a grid of {} voxels",
            self.got, self.expected
        )
    }
}

impl std::error::Error for LengthMismatch {}

impl GridMap {
    /// True when the source is already stored in the destination's voxel order.
    #[must_use]
    pub fn is_identity(&self) -> bool {
        self.source_axis == [0, 1, 2] && self.flipped == [false; 3]
    }

    /// For each destination axis (`[z, y, x]`), the source axis it reads.
    #[must_use]
    pub fn source_axis(&self) -> [usize; 3] {
        self.source_axis
    }

    /// For each destination axis, whether the source runs the other way along it.
    #[must_use]
    pub fn flipped(&self) -> [bool; 3] {
        self.flipped
    }

    /// Destination `[z, y, x]` index of the source voxel at `source_index` (which must be inside
    /// the source grid).
    fn destination_of(&self, source_index: [usize; 3]) -> [usize; 3] {
        std::array::from_fn(|d| {
            let i = source_index[self.source_axis[d]];
            if self.flipped[d] {
                self.dims[d] - 1 - i
            } else {
                i
            }
        })
    }

    /// Destination `[z, y, x]` index of a source voxel, `None` outside the source grid.
    #[must_use]
    pub fn destination_index(&self, source_index: [usize; 3]) -> Option<[usize; 3]> {
        (0..3)
            .all(|a| source_index[a] < self.source_dims[a])
            .then(|| self.destination_of(source_index))
    }

    /// Reorders a row-major `[z, y, x]` source array onto the destination grid (same length).
    /// `source` must hold the source grid's voxel count, as the array read together with that
    /// grid does; any other length gives an empty `Vec` (use [`GridMap::try_apply`] to be told).
    #[must_use]
    pub fn apply<T: Copy>(&self, source: &[T]) -> Vec<T> {
        self.try_apply(source).unwrap_or_default()
    }

    /// [`GridMap::apply`], refusing a source of the wrong length.
    pub fn try_apply<T: Copy>(&self, source: &[T]) -> Result<Vec<T>, LengthMismatch> {
        let [_, sy, sx] = self.source_dims;
        let expected = self.source_dims.iter().product();
        if source.len() != expected {
            return Err(LengthMismatch {
                expected,
                got: source.len(),
            });
        }
        let source_stride = [sy * sx, sx, 1];
        // Source offset = base + Σ_d index_d · step_d, walking the destination in row-major order.
        let mut base = 0_usize;
        let mut step = [0_isize; 3];
        for d in 0..3 {
            let stride = source_stride[self.source_axis[d]];
            if self.flipped[d] {
                base += (self.dims[d] - 1) * stride;
                step[d] = -(stride as isize);
            } else {
                step[d] = stride as isize;
            }
        }
        let mut out = Vec::with_capacity(expected);
        let [nz, ny, nx] = self.dims;
        for z in 0..nz {
            let oz = base as isize + z as isize * step[0];
            for y in 0..ny {
                let oy = oz + y as isize * step[1];
                out.extend((0..nx).map(|x| source[(oy + x as isize * step[2]) as usize]));
            }
        }
        Ok(out)
    }
}

impl fmt::Display for GridMap {
    /// e.g. "same voxel order" or "slice ← source slice reversed, row ← source column, …".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_identity() {
            return f.write_str("same voxel order");
        }
        for d in 0..3 {
            let sep = if d == 0 { "" } else { ", " };
            let rev = if self.flipped[d] { " reversed" } else { "" };
            write!(
                f,
                "{sep}{} ← source {}{rev}",
                AXIS_NAMES[d], AXIS_NAMES[self.source_axis[d]]
            )?;
        }
        Ok(())
    }
}

/// Which grid of a mapping is at fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Source,
    Destination,
}

/// What keeps two grids from mapping voxel for voxel. Axes are destination array axes
/// (0 = slice, 1 = row, 2 = column).
#[derive(Clone, Debug, PartialEq)]
pub enum MismatchReason {
    /// A grid with an empty axis, a non-positive or NaN spacing, or unusable directions.
    InvalidGrid { side: Side, problem: String },
    /// No source axis is parallel to destination axis `axis`; the nearest is
    /// `nearest_source_axis`, `angle_deg` away.
    DirectionsDiffer {
        axis: usize,
        nearest_source_axis: usize,
        angle_deg: f64,
    },
    ExtentDiffers {
        axis: usize,
        source_voxels: usize,
        destination_voxels: usize,
    },
    SpacingDiffers {
        axis: usize,
        source_mm: f64,
        destination_mm: f64,
    },
    /// Source voxel `[0,0,0]` sits this far from its destination voxel, measured along the
    /// destination's `[slice, row, column]` directions.
    Shifted {
        along_mm: [f64; 3],
        tolerance_mm: f64,
    },
    /// The origins agree but the centres drift apart across the extent.
    Drift { worst_mm: f64, tolerance_mm: f64 },
}

/// Two grids whose voxel centres do not coincide one-to-one. `Display` is one line naming both.
#[derive(Clone, Debug, PartialEq)]
pub struct GridMismatch {
    pub source: Grid,
    pub destination: Grid,
    pub reason: MismatchReason,
    source_name: &'static str,
    destination_name: &'static str,
}

impl GridMismatch {
    /// Names the two grids in the message (default "source" and "destination"), e.g.
    /// `.named("mask", "image")`.
    #[must_use]
    pub fn named(mut self, source: &'static str, destination: &'static str) -> Self {
        self.source_name = source;
        self.destination_name = destination;
        self
    }

    fn write_reason(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (src, dst) = (self.source_name, self.destination_name);
        match &self.reason {
            MismatchReason::InvalidGrid { side, problem } => {
                let which = if *side == Side::Source { src } else { dst };
                write!(f, "the {which} grid {problem}")
            }
            MismatchReason::DirectionsDiffer {
                axis,
                nearest_source_axis,
                angle_deg,
            } => {
                if axis == nearest_source_axis {
                    write!(
                        f,
                        "{} directions differ by {angle_deg:.2}°",
                        AXIS_NAMES[*axis]
                    )
                } else {
                    write!(
                        f,
                        "the {dst} {} axis is {angle_deg:.2}° from the nearest {src} axis ({})",
                        AXIS_NAMES[*axis], AXIS_NAMES[*nearest_source_axis]
                    )
                }
            }
            MismatchReason::ExtentDiffers {
                axis,
                source_voxels,
                destination_voxels,
            } => write!(
                f,
                "extent differs along the {dst} {} axis: {src} has {source_voxels} voxels, \
                 {dst} has {destination_voxels}",
                AXIS_NAMES[*axis]
            ),
            MismatchReason::SpacingDiffers {
                axis,
                source_mm,
                destination_mm,
            } => write!(
                f,
                "spacing differs along the {dst} {} axis: {src} {} mm, {dst} {} mm",
                AXIS_NAMES[*axis],
                num(*source_mm, 4),
                num(*destination_mm, 4)
            ),
            MismatchReason::Shifted {
                along_mm,
                tolerance_mm,
            } => self.write_shift(f, *along_mm, *tolerance_mm),
            MismatchReason::Drift {
                worst_mm,
                tolerance_mm,
            } => write!(
                f,
                "{src} voxel centres drift up to {} mm from the {dst}'s across the extent \
                 (tolerance {} mm)",
                num(*worst_mm, 4),
                num(*tolerance_mm, 4)
            ),
        }
    }

    fn write_shift(
        &self,
        f: &mut fmt::Formatter<'_>,
        along_mm: [f64; 3],
        tolerance_mm: f64,
    ) -> fmt::Result {
        write!(f, "{} is shifted by ", self.source_name)?;
        let parts: Vec<String> = (0..3)
            .filter(|&d| along_mm[d].abs() > tolerance_mm / 2.0)
            .map(|d| {
                let voxels = along_mm[d] / self.destination.spacing_mm[d];
                format!(
                    "{} mm ({} voxel) along the {} {} axis",
                    signed(along_mm[d], 3),
                    signed(voxels, 2),
                    self.destination_name,
                    AXIS_NAMES[d]
                )
            })
            .collect();
        if parts.is_empty() {
            // Only possible for strongly non-orthogonal grids; give the raw distance.
            return write!(f, "{} mm", num(norm(along_mm), 3));
        }
        f.write_str(&parts.join(" and "))
    }
}

impl fmt::Display for GridMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} grid {} does not match {} grid {}: ",
            self.source_name, self.source, self.destination_name, self.destination
        )?;
        self.write_reason(f)
    }
}

impl std::error::Error for GridMismatch {}

impl fmt::Display for Grid {
    /// e.g. "256×256×35 at 1.02×1.02×4.8 mm, origin (-120, -130.5, 42) mm, axes LPS": sizes and
    /// spacings in x×y×z (column×row×slice) order, axes as the patient direction (L/R, P/A, S/I)
    /// each index runs toward, "~" marking an oblique one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [nz, ny, nx] = self.dims;
        let [sz, sy, sx] = self.spacing_mm;
        let [ox, oy, oz] = self.origin_mm;
        write!(
            f,
            "{nx}×{ny}×{nz} at {}×{}×{} mm, origin ({}, {}, {}) mm, axes ",
            num(sx, 3),
            num(sy, 3),
            num(sz, 3),
            num(ox, 2),
            num(oy, 2),
            num(oz, 2)
        )?;
        for axis in [2, 1, 0] {
            f.write_str(&direction_letter(self.axis_direction(axis)))?;
        }
        Ok(())
    }
}

/// The LPS letter of the patient direction `v` points most toward, prefixed by "~" if oblique.
fn direction_letter(v: [f64; 3]) -> String {
    let u = unit(v);
    let Some(i) = (0..3).max_by(|&a, &b| u[a].abs().total_cmp(&u[b].abs())) else {
        return "?".to_owned();
    };
    let letters = [['L', 'R'], ['P', 'A'], ['S', 'I']];
    let letter = letters[i][usize::from(u[i] < 0.0)];
    if u[i].abs() >= 1.0 - DIRECTION_TOLERANCE {
        letter.to_string()
    } else if u[i].is_finite() {
        format!("~{letter}")
    } else {
        "?".to_owned()
    }
}

/// `v` rounded to `decimals`, trailing zeros dropped ("1.02", "4.8", "256", "-0" → "0").
fn num(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    if s == "-0" { "0".to_owned() } else { s }
}

/// [`num`] with an explicit "+" on positive values.
fn signed(v: f64, decimals: usize) -> String {
    let s = num(v, decimals);
    if s.starts_with('-') || s == "0" {
        s
    } else {
        format!("+{s}")
    }
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

fn unit(a: [f64; 3]) -> [f64; 3] {
    let n = norm(a);
    [a[0] / n, a[1] / n, a[2] / n]
}

fn determinant(m: [[f64; 3]; 3]) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small axial grid: 3 slices × 4 rows × 5 columns, distinct spacings so that a wrong
    /// permutation cannot pass by accident.
    fn axial() -> Grid {
        Grid {
            dims: [3, 4, 5],
            spacing_mm: [2.5, 0.8, 0.7],
            origin_mm: [-10.0, 20.0, 30.0],
            row_direction: [1.0, 0.0, 0.0],
            col_direction: [0.0, 1.0, 0.0],
            slice_direction: [0.0, 0.0, 1.0],
        }
    }

    fn iota(g: &Grid) -> Vec<usize> {
        (0..g.voxel_count().unwrap()).collect()
    }

    fn index_of(g: &Grid, flat: usize) -> [usize; 3] {
        let [_, ny, nx] = g.dims;
        [flat / (ny * nx), flat / nx % ny, flat % nx]
    }

    /// Independent oracle: place each source voxel by its patient position, found by inverting
    /// the (orthonormal) destination affine and rounding.
    fn by_position(destination: &Grid, source: &Grid, values: &[usize]) -> Vec<usize> {
        let mut out = vec![usize::MAX; values.len()];
        for (flat, &v) in values.iter().enumerate() {
            let p = sub(
                source.patient_from_index(index_of(source, flat)),
                destination.origin_mm,
            );
            let idx: [usize; 3] = std::array::from_fn(|d| {
                let t = dot(p, destination.axis_direction(d)) / destination.spacing_mm[d];
                assert!((t - t.round()).abs() < 1e-6, "not on a voxel centre");
                t.round() as usize
            });
            let [_, ny, nx] = destination.dims;
            out[(idx[0] * ny + idx[1]) * nx + idx[2]] = v;
        }
        out
    }

    fn neg(v: [f64; 3]) -> [f64; 3] {
        [-v[0], -v[1], -v[2]]
    }

    #[test]
    fn patient_from_voxel_matches_dicom_geometry() {
        // Same case as dicom::volume's test: sagittal, rows run +y, columns run −z.
        let g = Grid {
            dims: [1, 1, 1],
            spacing_mm: [4.8, 2.0, 1.0],
            origin_mm: [10.0, -130.0, 130.0],
            row_direction: [0.0, 1.0, 0.0],
            col_direction: [0.0, 0.0, -1.0],
            slice_direction: [1.0, 0.0, 0.0],
        };
        let p = g.patient_from_voxel([3.0, 5.0, 2.0]);
        let q = g.patient_from_index([2, 5, 3]);
        for (a, b) in [(p, [19.6, -127.0, 120.0]), (q, [19.6, -127.0, 120.0])] {
            assert!(norm(sub(a, b)) < 1e-9, "{a:?}");
        }
    }

    #[test]
    fn identity_maps_onto_itself() {
        let g = axial();
        let map = g.mapping_from(&g).unwrap();
        assert!(map.is_identity());
        assert_eq!(map.to_string(), "same voxel order");
        assert_eq!(map.apply(&iota(&g)), iota(&g));
    }

    #[test]
    fn reversed_slice_order_is_flipped_back() {
        let dst = axial();
        let src = Grid {
            origin_mm: dst.patient_from_index([2, 0, 0]),
            slice_direction: neg(dst.slice_direction),
            ..dst.clone()
        };
        let map = dst.mapping_from(&src).unwrap();
        assert_eq!(map.source_axis(), [0, 1, 2]);
        assert_eq!(map.flipped(), [true, false, false]);
        let out = map.apply(&iota(&src));
        assert_eq!(out, by_position(&dst, &src, &iota(&src)));
        // Hand check: source voxel [0, 1, 2] (flat 7) is destination [2, 1, 2] (flat 47).
        assert_eq!(out[47], 7);
        assert_eq!(map.destination_index([0, 1, 2]), Some([2, 1, 2]));
        assert_eq!(map.destination_index([3, 0, 0]), None);
    }

    #[test]
    fn ras_stored_copy_has_x_and_y_flipped() {
        // A NIfTI in RAS voxel order seen from LPS: x and y indices run the other way.
        let dst = axial();
        let src = Grid {
            origin_mm: dst.patient_from_index([0, 3, 4]),
            row_direction: neg(dst.row_direction),
            col_direction: neg(dst.col_direction),
            ..dst.clone()
        };
        let map = dst.mapping_from(&src).unwrap();
        assert_eq!(map.flipped(), [false, true, true]);
        let out = map.apply(&iota(&src));
        assert_eq!(out, by_position(&dst, &src, &iota(&src)));
        // Source [1, 0, 0] (flat 20) lands on destination [1, 3, 4] (flat 39).
        assert_eq!(out[39], 20);
    }

    #[test]
    fn sagittal_stored_as_axial_is_transposed() {
        // Destination: a sagittal series (slices along +x, rows run −z, columns run +y).
        let dst = Grid {
            dims: [5, 3, 4],
            spacing_mm: [0.7, 2.5, 0.8],
            origin_mm: [-10.0, 20.0, 35.0],
            row_direction: [0.0, 1.0, 0.0],
            col_direction: [0.0, 0.0, -1.0],
            slice_direction: [1.0, 0.0, 0.0],
        };
        // Source: the same voxels stored axially (z slices, y rows, x columns), z ascending.
        let src = Grid {
            dims: [3, 4, 5],
            spacing_mm: [2.5, 0.8, 0.7],
            origin_mm: dst.patient_from_index([0, 2, 0]),
            row_direction: [1.0, 0.0, 0.0],
            col_direction: [0.0, 1.0, 0.0],
            slice_direction: [0.0, 0.0, 1.0],
        };
        let map = dst.mapping_from(&src).unwrap();
        assert_eq!(map.source_axis(), [2, 0, 1]);
        assert_eq!(map.flipped(), [false, true, false]);
        assert_eq!(
            map.to_string(),
            "slice ← source column, row ← source slice reversed, column ← source row"
        );
        let out = map.apply(&iota(&src));
        assert_eq!(out, by_position(&dst, &src, &iota(&src)));
        // Source [z=0, y=1, x=3] (flat 8) is destination [slice 3, row 2, col 1] (flat 3·12+2·4+1).
        assert_eq!(out[45], 8);
    }

    #[test]
    fn sub_tolerance_noise_is_accepted() {
        // f32-stored geometry: 1e-6 direction noise and a 0.001 mm offset (tolerance 0.007 mm).
        let dst = axial();
        let mut src = dst.clone();
        src.origin_mm[0] += 0.001;
        src.row_direction = unit([1.0, 1e-6, 0.0]);
        src.spacing_mm[2] *= 1.0 + 1e-7;
        assert!(dst.mapping_from(&src).unwrap().is_identity());
    }

    #[test]
    fn oblique_copy_is_refused() {
        let dst = axial();
        let (s, c) = 5f64.to_radians().sin_cos();
        let src = Grid {
            row_direction: [c, s, 0.0],
            col_direction: [-s, c, 0.0],
            ..dst.clone()
        };
        let err = dst.mapping_from(&src).unwrap_err().named("mask", "image");
        assert_eq!(
            err.reason,
            MismatchReason::DirectionsDiffer {
                axis: 1,
                nearest_source_axis: 1,
                angle_deg: err_angle(&err)
            }
        );
        assert!((err_angle(&err) - 5.0).abs() < 1e-9);
        let text = err.to_string();
        assert!(text.contains("row directions differ by 5.00°"), "{text}");
        assert!(text.starts_with("mask grid 5×4×3 at 0.7×0.8×2.5 mm, origin (-10, 20, 30) mm, axes ~L~PS does not match image grid 5×4×3 at 0.7×0.8×2.5 mm, origin (-10, 20, 30) mm, axes LPS: "), "{text}");
        assert!(!text.contains('\n'));
    }

    fn err_angle(e: &GridMismatch) -> f64 {
        match e.reason {
            MismatchReason::DirectionsDiffer { angle_deg, .. } => angle_deg,
            _ => f64::NAN,
        }
    }

    #[test]
    fn different_extent_is_refused() {
        let dst = axial();
        let src = Grid {
            dims: [4, 4, 5],
            ..dst.clone()
        };
        let err = dst.mapping_from(&src).unwrap_err().named("mask", "image");
        assert_eq!(
            err.reason,
            MismatchReason::ExtentDiffers {
                axis: 0,
                source_voxels: 4,
                destination_voxels: 3
            }
        );
        assert!(err.to_string().ends_with(
            "extent differs along the image slice axis: mask has 4 voxels, image has 3"
        ));
    }

    #[test]
    fn different_spacing_is_refused() {
        let dst = axial();
        let src = Grid {
            spacing_mm: [2.5, 0.8, 0.75],
            ..dst.clone()
        };
        let err = dst.mapping_from(&src).unwrap_err();
        assert!(matches!(
            err.reason,
            MismatchReason::SpacingDiffers { axis: 2, .. }
        ));
        assert!(err.to_string().ends_with(
            "spacing differs along the destination column axis: source 0.75 mm, destination 0.7 mm"
        ));
    }

    #[test]
    fn shifted_copy_is_refused_with_the_shift() {
        let dst = axial();
        let mut src = dst.clone();
        src.origin_mm[2] += 1.25; // half a slice
        let err = dst.mapping_from(&src).unwrap_err().named("mask", "image");
        let MismatchReason::Shifted { along_mm, .. } = err.reason else {
            panic!("{err}")
        };
        assert!(norm(sub(along_mm, [1.25, 0.0, 0.0])) < 1e-12);
        assert!(
            err.to_string()
                .ends_with("mask is shifted by +1.25 mm (+0.5 voxel) along the image slice axis"),
            "{err}"
        );
        // Just over tolerance (0.007 mm) is refused too; a whole voxel shift with equal extent is
        // also a shift, not a crop.
        src.origin_mm[2] = dst.origin_mm[2] + 0.008;
        assert!(dst.mapping_from(&src).is_err());
        src.origin_mm[2] = dst.origin_mm[2] - 2.5;
        assert!(
            dst.mapping_from(&src)
                .unwrap_err()
                .to_string()
                .contains("-2.5 mm (-1 voxel)")
        );
    }

    #[test]
    fn drift_across_the_extent_is_refused() {
        // Spacing within 1e-4 but a wide grid: 9999 columns × 1e-5 mm drifts 0.09 mm.
        let dst = Grid {
            dims: [1, 1, 10_000],
            spacing_mm: [1.0, 1.0, 1.0],
            ..axial()
        };
        let src = Grid {
            spacing_mm: [1.0, 1.0, 1.0 + 0.9e-5],
            ..dst.clone()
        };
        let err = dst.mapping_from(&src).unwrap_err();
        assert!(matches!(err.reason, MismatchReason::Drift { .. }), "{err}");
    }

    #[test]
    fn invalid_grids_are_refused_not_panicked_on() {
        let dst = axial();
        for src in [
            Grid {
                spacing_mm: [0.0, 0.8, 0.7],
                ..dst.clone()
            },
            Grid {
                spacing_mm: [f64::NAN, 0.8, 0.7],
                ..dst.clone()
            },
            Grid {
                spacing_mm: [-2.5, 0.8, 0.7],
                ..dst.clone()
            },
            Grid {
                dims: [0, 4, 5],
                ..dst.clone()
            },
            Grid {
                dims: [usize::MAX, 4, 5],
                ..dst.clone()
            },
            Grid {
                origin_mm: [f64::INFINITY, 0.0, 0.0],
                ..dst.clone()
            },
            Grid {
                row_direction: [0.0; 3],
                ..dst.clone()
            },
            Grid {
                row_direction: [0.0, 1.0, 0.0],
                ..dst.clone()
            },
        ] {
            let err = dst.mapping_from(&src).unwrap_err();
            assert!(
                matches!(
                    err.reason,
                    MismatchReason::InvalidGrid {
                        side: Side::Source,
                        ..
                    }
                ),
                "{err}"
            );
            let err = src.mapping_from(&dst).unwrap_err();
            assert!(err.to_string().contains("the destination grid "), "{err}");
        }
    }

    #[test]
    fn apply_refuses_a_wrong_length() {
        let g = axial();
        let map = g.mapping_from(&g).unwrap();
        assert_eq!(
            map.try_apply(&[0u8; 3]),
            Err(LengthMismatch {
                expected: 60,
                got: 3
            })
        );
        assert!(map.apply(&[0u8; 61]).is_empty());
        assert_eq!(map.try_apply(&[7u8; 60]), Ok(vec![7u8; 60]));
    }
}
