//! The neighbour offsets ("angles") the texture classes walk, as PyRadiomics' `generateAngles`
//! (C `build_angles`) makes them, and the few helpers every texture class shares: the gray levels
//! present in the ROI ([`GrayLevels`]), walks over voxel/neighbour pairs ([`for_each_pair`],
//! [`fold_pairs`]) and numpy's `nanmean`.
//!
//! An angle is an offset `[dz, dy, dx]` whose infinity norm is one of the requested `distances`.
//! PyRadiomics enumerates the offsets from `(+d, +d, +d)` downwards (the last axis changing
//! fastest), skips offsets that cannot fit in the ROI's bounding box (`|offset| >= size` on an
//! axis) and, with `force2D`, those that move along `force2Ddimension`. The mono-directional set
//! (GLCM, GLRLM) is the first half of that sequence — 13 angles in 3D, 4 in 2D for distance 1 —
//! and the bidirectional set (GLSZM, GLDM, NGTDM) is all of it (26 / 8).

use rayon::prelude::*;

use super::types::Discretized;

/// One neighbour offset `[dz, dy, dx]`.
pub type Offset = [isize; 3];

/// PyRadiomics' `generateAngles(size, distances, bidirectional, force2D, force2Ddimension)`.
///
/// Returns an empty list where PyRadiomics raises ("Error getting angle count"): a distance of 0,
/// no distance at all, or a box too small to hold any requested offset (e.g. a single voxel).
/// A distance listed twice yields its angles twice, as PyRadiomics' generator does.
#[must_use]
pub fn generate_angles(
    dims: [usize; 3],
    distances: &[usize],
    bidirectional: bool,
    force_2d: bool,
    force_2d_dimension: usize,
) -> Vec<Offset> {
    let skipped_axis = force_2d.then_some(force_2d_dimension);
    let Some(count) = angle_count(dims, distances, bidirectional, skipped_axis) else {
        return Vec::new();
    };
    let max_d = distances.iter().copied().max().unwrap_or(0) as isize;
    // PyRadiomics enumerates (dz, dy, dx) from (+d, +d, +d) down to (−d, −d, −d), dx fastest,
    // and keeps the valid offsets until it has `count`; it wraps around when a distance is
    // listed twice. Whole planes and rows that cannot fit are skipped here, so a large distance
    // on a thin box does not walk (2d+1)³ combinations.
    let axis_ok = |axis: usize, o: isize| {
        o.unsigned_abs() < dims[axis] && (o == 0 || Some(axis) != skipped_axis)
    };
    let mut one_cycle = Vec::new();
    for dz in (-max_d..=max_d).rev().filter(|&o| axis_ok(0, o)) {
        for dy in (-max_d..=max_d).rev().filter(|&o| axis_ok(1, o)) {
            for dx in (-max_d..=max_d).rev().filter(|&o| axis_ok(2, o)) {
                let norm = dz
                    .unsigned_abs()
                    .max(dy.unsigned_abs())
                    .max(dx.unsigned_abs());
                if norm > 0 && distances.contains(&norm) {
                    one_cycle.push([dz, dy, dx]);
                }
            }
        }
    }
    one_cycle.iter().copied().cycle().take(count).collect()
}

/// PyRadiomics' `get_angle_count`: per distance `d`, the offsets of infinity norm exactly `d` that
/// fit the box, `Π(2·min(d, s−1)+1) − Π(2·min(d−1, s−1)+1)` over the axes in use; halved unless
/// bidirectional. `None` where PyRadiomics errors out.
fn angle_count(
    dims: [usize; 3],
    distances: &[usize],
    bidirectional: bool,
    skipped_axis: Option<usize>,
) -> Option<usize> {
    let mut total = 0usize;
    for &d in distances {
        if d < 1 {
            return None;
        }
        let (mut outer, mut inner) = (1usize, 1usize);
        for (axis, &size) in dims.iter().enumerate() {
            if Some(axis) == skipped_axis {
                continue;
            }
            let size = size.max(1);
            // saturating: no distance, however absurd, may overflow (it then fits no box anyway)
            let (o, i) = if d < size {
                (d.saturating_mul(2).saturating_add(1), 2 * d - 1)
            } else {
                (2 * size - 1, 2 * size - 1)
            };
            outer = outer.saturating_mul(o);
            inner = inner.saturating_mul(i);
        }
        total = total.saturating_add(outer - inner);
    }
    let total = if bidirectional { total } else { total / 2 };
    (total > 0).then_some(total)
}

/// The coordinates `c` along one axis of length `size` for which `c + o` stays in `0..size`.
fn valid_range(size: usize, o: isize) -> std::ops::Range<usize> {
    let lo = if o < 0 { o.unsigned_abs() } else { 0 };
    let hi = if o > 0 {
        size.saturating_sub(o.unsigned_abs())
    } else {
        size
    };
    lo..hi.max(lo)
}

/// Calls `f(i, j)` for every pair of flat indices `i` and `j = i + offset` that both lie in the
/// box, in storage order of `i`. The loops run over the valid coordinate ranges, so no voxel is
/// bounds-checked (this is the inner loop of GLCM).
pub fn for_each_pair(dims: [usize; 3], offset: Offset, mut f: impl FnMut(usize, usize)) {
    let (zs, ys, xs) = (
        valid_range(dims[0], offset[0]),
        valid_range(dims[1], offset[1]),
        valid_range(dims[2], offset[2]),
    );
    let delta = (offset[0] * dims[1] as isize + offset[1]) * dims[2] as isize + offset[2];
    for z in zs {
        for y in ys.clone() {
            let row = (z * dims[1] + y) * dims[2];
            for x in xs.clone() {
                let i = row + x;
                f(i, i.wrapping_add_signed(delta));
            }
        }
    }
}

/// For every voxel `i` and every offset whose neighbour `j = i + offset` lies in the box, calls
/// `f(&mut out[i], levels[i], levels[j])` (`out` has one entry per voxel). Slices of `out` are
/// spread over threads; within a slice the pairs are walked as whole rows, contiguous in both `i`
/// and `j`, so that a simple `f` vectorises. The per-voxel neighbourhood pass of GLDM and NGTDM.
pub fn fold_pairs<T: Send>(
    levels: &[u32],
    dims: [usize; 3],
    offsets: &[Offset],
    out: &mut [T],
    f: impl Fn(&mut T, u32, u32) + Sync,
) {
    let slice = dims[1] * dims[2];
    if slice == 0 || levels.len() != out.len() {
        return;
    }
    out.par_chunks_mut(slice)
        .enumerate()
        .for_each(|(z, out_slice)| {
            for &o in offsets {
                let Some(zj) = z.checked_add_signed(o[0]).filter(|&v| v < dims[0]) else {
                    continue;
                };
                let xs = valid_range(dims[2], o[2]);
                let len = xs.len();
                for y in valid_range(dims[1], o[1]) {
                    let yj = y.wrapping_add_signed(o[1]);
                    let i0 = y * dims[2] + xs.start;
                    let j0 = (zj * dims[1] + yj) * dims[2] + xs.start.wrapping_add_signed(o[2]);
                    let own = &levels[z * slice + i0..z * slice + i0 + len];
                    let other = &levels[j0..j0 + len];
                    for ((t, &a), &b) in out_slice[i0..i0 + len].iter_mut().zip(own).zip(other) {
                        f(t, a, b);
                    }
                }
            }
        });
}

/// `GrayLevels::rows` of a voxel outside the ROI.
pub const OUTSIDE: u32 = u32::MAX;

/// The gray levels present in the ROI (PyRadiomics' `grayLevels`, ascending) and each voxel's
/// position among them. PyRadiomics drops the absent levels from its matrices, so the classes
/// index their matrices by this position ("row") while their formulas use the real level values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrayLevels {
    /// The levels present, ascending.
    pub present: Vec<u32>,
    /// Per voxel, the position of its level in `present`, or [`OUTSIDE`] (level 0).
    pub rows: Vec<u32>,
}

impl GrayLevels {
    /// Scans the levels (0 = outside the ROI).
    #[must_use]
    pub fn new(levels: &[u32]) -> Self {
        let max = levels.iter().copied().max().unwrap_or(0) as usize;
        // A level → row table when it is small next to the image; otherwise (absurdly high
        // levels) sort and search, so no input can ask for a huge allocation.
        if max <= 4 * levels.len() + (1 << 16) {
            let mut table = vec![OUTSIDE; max + 1];
            for &l in levels {
                table[l as usize] = 0;
            }
            let mut present = Vec::new();
            for (level, slot) in table.iter_mut().enumerate().skip(1) {
                if *slot == 0 {
                    *slot = present.len() as u32;
                    present.push(level as u32);
                }
            }
            table[0] = OUTSIDE;
            let rows = levels.iter().map(|&l| table[l as usize]).collect();
            Self { present, rows }
        } else {
            let mut present: Vec<u32> = levels.iter().copied().filter(|&l| l != 0).collect();
            present.sort_unstable();
            present.dedup();
            let rows = levels
                .iter()
                .map(|&l| match l {
                    0 => OUTSIDE,
                    _ => present.binary_search(&l).map_or(OUTSIDE, |p| p as u32),
                })
                .collect();
            Self { present, rows }
        }
    }

    /// PyRadiomics' `Ng`: the highest level present (0 for an empty ROI).
    #[must_use]
    pub fn max_level(&self) -> u32 {
        self.present.last().copied().unwrap_or(0)
    }

    /// Number of levels present.
    #[must_use]
    pub fn len(&self) -> usize {
        self.present.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.present.is_empty()
    }

    /// The present levels as `f64`, the `i` of the formulas.
    #[must_use]
    pub fn values(&self) -> Vec<f64> {
        self.present.iter().map(|&l| f64::from(l)).collect()
    }
}

/// Whether the levels fill the box exactly (`levels.len() = z·y·x`); the classes give NaN for
/// anything else rather than index out of bounds.
#[must_use]
pub fn is_well_formed(d: &Discretized) -> bool {
    d.dims.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n)) == Some(d.levels.len())
}

/// `nanmean` as numpy has it: the mean of the values that are not NaN, NaN when there are none.
#[must_use]
pub fn nan_mean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (sum, n) = values
        .into_iter()
        .filter(|v| !v.is_nan())
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

// Inputs and checks shared by the texture classes' tests.
#[cfg(test)]
pub(crate) mod fixtures {
    //! The expected values in the class tests were made with PyRadiomics 3.1.4
    //! (`/work/pyref/bin/python ref.py`, numpy 2.4.6), through
    //! `RadiomicsFeatureExtractor(binWidth=1)` on the integer image, so PyRadiomics'
    //! discretisation equals [`RANDOM_LEVELS`] (level = value − min + 1, checked by the script).
    //! Cases: `3d` (default settings), `2d` (`force2D=True`), `flat` (a 3×3×3 cube of one value,
    //! all inside), `thin` (the same image with only slice 2 of the mask: a one-voxel-thick ROI,
    //! cropped to 1×7×6, default 3D settings), `opts` (distances [1, 2], symmetricalGLCM False,
    //! gldm_a 1) and `split` (two slices whose ROIs never meet along z, so the z angle is empty
    //! for GLCM and 2D-only for GLRLM). The script:
    //!
    //! ```python
    //! # Reference values for the texture tests: PyRadiomics 3.1.4, binWidth=1 on an integer image.
    //! import sys, json, logging
    //! import numpy as np, SimpleITK as sitk
    //! from radiomics import featureextractor, imageoperations
    //! logging.getLogger('radiomics').setLevel(logging.ERROR)
    //!
    //! def arrays():
    //!     rng = np.random.default_rng(20261202)
    //!     img = rng.choice([1, 2, 3, 5, 6, 8], size=(5, 7, 6)).astype(np.int32)   # levels 1..8, 4 and 7 absent
    //!     mask = (rng.random((5, 7, 6)) < 0.7).astype(np.uint8)
    //!     # make the ROI box the whole array: one voxel on every face
    //!     mask[0, 3, 3] = mask[4, 3, 3] = mask[2, 0, 2] = mask[2, 6, 2] = mask[1, 2, 0] = mask[3, 4, 5] = 1
    //!     return img, mask
    //!
    //! def run(img, mask, **kw):
    //!     ex = featureextractor.RadiomicsFeatureExtractor(binWidth=1, **kw)
    //!     ex.disableAllFeatures()
    //!     for c in ['glcm', 'glrlm', 'glszm', 'gldm', 'ngtdm']:
    //!         ex.enableFeatureClassByName(c)
    //!     im = sitk.GetImageFromArray(img.astype(np.float64)); mk = sitk.GetImageFromArray(mask)
    //!     r = ex.execute(im, mk)
    //!     return {k[len('original_'):]: float(v) for k, v in r.items() if k.startswith('original_')}
    //!
    //! if __name__ == '__main__':
    //!     img, mask = arrays()
    //!     # discretisation check: binImage levels == value - min + 1 inside the mask
    //!     binned, _ = imageoperations.binImage(img.astype(np.float64), mask.astype(bool), binWidth=1)
    //!     m = mask.astype(bool)
    //!     assert (binned[m] == img[m] - img[m].min() + 1).all(), "binning differs"
    //!     print("min inside", img[m].min(), "max", img[m].max())
    //!     levels = np.where(m, img - img[m].min() + 1, 0)
    //!     out = {'levels': levels.ravel().tolist(), '3d': run(img, mask), '2d': run(img, mask, force2D=True)}
    //!     out['opts'] = run(img, mask, distances=[1, 2], symmetricalGLCM=False, gldm_a=1)
    //!     flat = np.full((3, 3, 3), 5, np.int32); fm = np.ones((3, 3, 3), np.uint8)
    //!     out['flat'] = run(flat, fm)
    //!     thin = np.zeros_like(mask); thin[2] = mask[2]
    //!     tl = levels.copy(); tl[:2] = 0; tl[3:] = 0
    //!     tm = tl[2] > 0
    //!     out['thin_levels'] = np.where(tm, img[2] - img[2][tm].min() + 1, 0).ravel().tolist()
    //!     out['thin'] = run(img, thin)
    //!     # two slices whose ROIs never overlap along z: the z angle has no pairs and only 1-voxel lines
    //!     split_img = img[:2, :4, :4].copy(); split = np.zeros((2, 4, 4), np.uint8)
    //!     split[0, :, :2] = 1; split[1, :, 2:] = 1
    //!     sm = split > 0
    //!     out['split_levels'] = np.where(sm, split_img - split_img[sm].min() + 1, 0).ravel().tolist()
    //!     out['split'] = run(split_img, split)
    //!     json.dump(out, open('ref.json', 'w'), indent=1)
    //! ```
    use super::super::types::{ClassValues, Discretized, TextureSettings};

    /// `[z, y, x]` of [`RANDOM_LEVELS`]; the ROI touches every face, so this is its box.
    pub const RANDOM_DIMS: [usize; 3] = [5, 7, 6];
    /// `[z, y, x]` of [`THIN_LEVELS`] (slice 2 of the random image, with its mask).
    pub const THIN_DIMS: [usize; 3] = [1, 7, 6];
    /// `[z, y, x]` of [`SPLIT_LEVELS`] (the random image's first 2×4×4, ROI x < 2 in slice 0 and
    /// x ≥ 2 in slice 1).
    pub const SPLIT_DIMS: [usize; 3] = [2, 4, 4];

    pub const RANDOM_LEVELS: [u32; 210] = [
        1, 3, 6, 1, 8, 0, 0, 6, 1, 0, 8, 3, 0, 1, 0, 6, 0, 5, 2, 0, 5, 3, 5, 6, 0, 8, 8, 0, 0, 8,
        1, 5, 2, 8, 0, 1, 5, 6, 6, 8, 6, 5, 2, 8, 6, 0, 3, 1, 0, 6, 1, 1, 0, 2, 3, 0, 0, 2, 1, 1,
        8, 0, 5, 0, 0, 8, 3, 0, 0, 3, 0, 0, 0, 0, 6, 0, 8, 0, 0, 1, 0, 1, 8, 3, 6, 8, 3, 0, 2, 8,
        8, 3, 5, 6, 8, 2, 1, 0, 0, 1, 8, 2, 3, 6, 8, 1, 0, 3, 0, 0, 2, 2, 0, 0, 5, 2, 0, 6, 1, 0,
        8, 2, 1, 8, 0, 6, 0, 8, 2, 0, 8, 5, 2, 2, 8, 3, 0, 3, 0, 5, 3, 0, 3, 0, 0, 5, 1, 3, 6, 0,
        2, 8, 0, 1, 0, 8, 8, 0, 6, 6, 6, 5, 0, 1, 8, 3, 2, 5, 0, 3, 6, 0, 6, 0, 3, 2, 6, 5, 2, 2,
        5, 0, 2, 3, 8, 3, 6, 8, 3, 8, 5, 1, 0, 5, 0, 6, 8, 0, 1, 3, 5, 2, 5, 6, 8, 6, 3, 6, 0, 8,
    ];
    pub const THIN_LEVELS: [u32; 42] = [
        6, 8, 3, 0, 2, 8, 8, 3, 5, 6, 8, 2, 1, 0, 0, 1, 8, 2, 3, 6, 8, 1, 0, 3, 0, 0, 2, 2, 0, 0,
        5, 2, 0, 6, 1, 0, 8, 2, 1, 8, 0, 6,
    ];
    pub const SPLIT_LEVELS: [u32; 32] = [
        1, 3, 0, 0, 5, 6, 0, 0, 6, 1, 0, 0, 2, 3, 0, 0, 0, 0, 6, 1, 0, 0, 1, 1, 0, 0, 5, 2, 0, 0,
        5, 6,
    ];

    /// Levels as given (1..=n inside, 0 outside), 1 mm voxels.
    pub fn discretized(levels: impl AsRef<[u32]>, dims: [usize; 3]) -> Discretized {
        let levels = levels.as_ref();
        let n_levels = levels.iter().copied().max().unwrap_or(0);
        Discretized {
            levels: levels.to_vec(),
            dims,
            spacing_mm: [1.0; 3],
            n_levels,
        }
    }

    /// A class's values on the six reference cases against PyRadiomics' `[3d, force2D, opts,
    /// flat, thin, split]` (see the module docs).
    pub fn check_reference(
        compute: fn(&Discretized, &TextureSettings) -> ClassValues,
        [py_3d, py_2d, py_options, py_flat, py_thin, py_split]: [&[(&str, f64)]; 6],
    ) {
        let s3 = TextureSettings::default();
        let s2 = TextureSettings {
            force_2d: true,
            ..TextureSettings::default()
        };
        let opts = TextureSettings {
            distances: vec![1, 2],
            symmetrical_glcm: false,
            gldm_a: 1.0,
            ..TextureSettings::default()
        };
        check(&compute(&random(), &s3), py_3d, "3D");
        check(&compute(&random(), &s2), py_2d, "force2D");
        check(&compute(&random(), &opts), py_options, "options");
        check(&compute(&flat(), &s3), py_flat, "flat");
        check(&compute(&thin(), &s3), py_thin, "thin");
        check(&compute(&split(), &s3), py_split, "split");
    }

    /// The value of feature `name` in a class's output.
    pub fn get(values: &ClassValues, name: &str) -> f64 {
        values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .unwrap()
    }

    /// 1e-6 relative (of at least 1e-3), NaN only where NaN is expected; names the value.
    pub fn assert_close(actual: f64, expected: f64, what: &str) {
        let ok = if expected.is_nan() {
            actual.is_nan()
        } else {
            (actual - expected).abs() <= 1e-6 * expected.abs().max(1e-3)
        };
        assert!(ok, "{what}: got {actual}, expected {expected}");
    }

    pub fn random() -> Discretized {
        discretized(RANDOM_LEVELS, RANDOM_DIMS)
    }

    pub fn thin() -> Discretized {
        discretized(THIN_LEVELS, THIN_DIMS)
    }

    pub fn split() -> Discretized {
        discretized(SPLIT_LEVELS, SPLIT_DIMS)
    }

    pub fn flat() -> Discretized {
        discretized([1; 27], [3, 3, 3])
    }

    /// Every expected feature is present and within 1e-6 relative (1e-9 absolute near 0).
    pub fn check(values: &ClassValues, expected: &[(&str, f64)], case: &str) {
        for &(name, want) in expected {
            let got = values
                .iter()
                .find(|(n, _)| *n == name)
                .map_or_else(|| panic!("{case}: {name} missing"), |(_, v)| *v);
            let ok = if want.is_nan() {
                got.is_nan()
            } else {
                (got - want).abs() <= (1e-6 * want.abs()).max(1e-9)
            };
            assert!(ok, "{case} {name}: got {got}, PyRadiomics {want}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirteen_angles_in_3d_in_pyradiomics_order() {
        // cMatrices.generate_angles(np.array([3,4,5]), np.array([1]), False, False, 0)
        let a = generate_angles([3, 4, 5], &[1], false, false, 0);
        let expected: Vec<Offset> = vec![
            [1, 1, 1],
            [1, 1, 0],
            [1, 1, -1],
            [1, 0, 1],
            [1, 0, 0],
            [1, 0, -1],
            [1, -1, 1],
            [1, -1, 0],
            [1, -1, -1],
            [0, 1, 1],
            [0, 1, 0],
            [0, 1, -1],
            [0, 0, 1],
        ];
        assert_eq!(a, expected);
        assert_eq!(generate_angles([3, 4, 5], &[1], true, false, 0).len(), 26);
    }

    #[test]
    fn force_2d_and_small_boxes() {
        // generate_angles([3,4,5], [1], False, True, 0)
        let a = generate_angles([3, 4, 5], &[1], false, true, 0);
        assert_eq!(a, vec![[0, 1, 1], [0, 1, 0], [0, 1, -1], [0, 0, 1]]);
        // force2Ddimension 2 leaves x out
        let a = generate_angles([3, 4, 5], &[1], false, true, 2);
        assert_eq!(a, vec![[1, 1, 0], [1, 0, 0], [1, -1, 0], [0, 1, 0]]);
        // generate_angles([1,4,5], [1,2], False, False, 0): a single slice gives in-plane angles
        let a = generate_angles([1, 4, 5], &[1, 2], false, false, 0);
        let expected: Vec<Offset> = vec![
            [0, 2, 2],
            [0, 2, 1],
            [0, 2, 0],
            [0, 2, -1],
            [0, 2, -2],
            [0, 1, 2],
            [0, 1, 1],
            [0, 1, 0],
            [0, 1, -1],
            [0, 1, -2],
            [0, 0, 2],
            [0, 0, 1],
        ];
        assert_eq!(a, expected);
        assert!(generate_angles([1, 1, 1], &[1], true, false, 0).is_empty());
        assert!(generate_angles([3, 3, 3], &[0], true, false, 0).is_empty());
        assert!(generate_angles([3, 3, 3], &[], true, false, 0).is_empty());
        // A distance listed twice doubles the count, and PyRadiomics' generator simply runs on:
        // generate_angles([3,4,5], [1,1], False, True, 0) gives the 8 in-plane offsets (both
        // directions); bidirectional, it wraps round and repeats them.
        let twice = generate_angles([3, 4, 5], &[1, 1], false, true, 0);
        assert_eq!(twice, generate_angles([3, 4, 5], &[1], true, true, 0));
        let wrapped = generate_angles([3, 4, 5], &[1, 1], true, true, 0);
        assert_eq!(wrapped[..8], wrapped[8..]);
        // a large distance on a thin box is quick (PyRadiomics walks all 6001³ combinations)
        let far = generate_angles([1, 1, 5000], &[3000], false, false, 0);
        assert_eq!(far, vec![[0, 0, 3000]]);
        assert_eq!(
            generate_angles([1, 1, 4], &[1], false, false, 0),
            vec![[0, 0, 1]]
        );
    }

    #[test]
    fn gray_levels_and_nan_mean() {
        let g = GrayLevels::new(&[0, 3, 1, 3, 0, 5]);
        assert_eq!(g.present, vec![1, 3, 5]);
        assert_eq!(g.rows, vec![OUTSIDE, 1, 0, 1, OUTSIDE, 2]);
        assert_eq!(g.max_level(), 5);
        // far-apart levels take the sorted path and give the same rows
        let sparse = GrayLevels::new(&[0, 3_000_000_000, 1, 3_000_000_000]);
        assert_eq!(sparse.present, vec![1, 3_000_000_000]);
        assert_eq!(sparse.rows, vec![OUTSIDE, 1, 0, 1]);
        assert!(GrayLevels::new(&[0, 0]).is_empty());
        assert!((nan_mean([1.0, f64::NAN, 3.0]) - 2.0).abs() < 1e-15);
        assert!(nan_mean([f64::NAN]).is_nan());
        let mut pairs = Vec::new();
        for_each_pair([1, 2, 3], [0, 1, -1], |i, j| pairs.push((i, j)));
        assert_eq!(pairs, vec![(1, 3), (2, 4)]);
        let mut n = 0;
        for_each_pair([1, 2, 3], [0, 2, 0], |_, _| n += 1);
        assert_eq!(n, 0);
    }
}
