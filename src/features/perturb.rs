//! Image perturbations for feature stability (Zwanenburg et al. 2019, "Assessing robustness of
//! radiomic features by image perturbation"): pure functions on an image and its label map
//! `[z, y, x]` row-major, no I/O. Every perturbation is in plane (per slice): clinical slices are
//! often several times thicker than their pixels, and a ROI of three slices survives them.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// One perturbation of a case, with its parameters.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Perturbation {
    /// The ROI loses every voxel with an in-plane 8-neighbour (3×3) outside it.
    Erode,
    /// The ROI gains every voxel with an in-plane 8-neighbour (3×3) inside it.
    Dilate,
    /// Image and mask move by whole voxels in plane; edge voxels are replicated.
    Translate { dy: i32, dx: i32 },
    /// Image (bilinear) and mask (nearest neighbour) turn in plane about the ROI's centroid.
    Rotate { degrees: f64 },
    /// Gaussian noise of the image's own noise level ([`noise_sigma`]), from this seed.
    Noise { seed: u64 },
}

/// The kinds a case's perturbations are drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Contour,
    Translate,
    Rotate,
    Noise,
}

/// `count` perturbations for case `case`, reproducible from `seed`: the four kinds (contour
/// erosion/dilation, translation, rotation, noise) in an order shuffled per case and taken in
/// turn, so that four or more perturbations cover every kind; then each kind's parameters:
/// erosion or dilation, a shift of −2…2 voxels per axis (not both 0), ±5°, a noise seed.
#[must_use]
pub fn draw(seed: u64, case: usize, count: usize) -> Vec<Perturbation> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // One stream per case: a case's draws do not depend on which other cases run (shards).
    rng.set_stream(case as u64);
    let mut kinds = [Kind::Contour, Kind::Translate, Kind::Rotate, Kind::Noise];
    kinds.shuffle(&mut rng);
    (0..count)
        .map(|i| match kinds[i % kinds.len()] {
            Kind::Contour => {
                if rng.random_bool(0.5) {
                    Perturbation::Erode
                } else {
                    Perturbation::Dilate
                }
            }
            Kind::Translate => loop {
                let dy = rng.random_range(-2..=2);
                let dx = rng.random_range(-2..=2);
                if (dy, dx) != (0, 0) {
                    break Perturbation::Translate { dy, dx };
                }
            },
            Kind::Rotate => Perturbation::Rotate {
                degrees: if rng.random_bool(0.5) { 5.0 } else { -5.0 },
            },
            Kind::Noise => Perturbation::Noise { seed: rng.random() },
        })
        .collect()
}

/// An image and its label map on one grid.
#[derive(Clone, Copy, Debug)]
pub struct Image<'a> {
    pub values: &'a [f64],
    pub labels: &'a [u32],
    /// `[z, y, x]`.
    pub dims: [usize; 3],
    /// `[z, y, x]`, mm.
    pub spacing_mm: [f64; 3],
}

/// A perturbed copy.
#[derive(Clone, Debug, PartialEq)]
pub struct Perturbed {
    pub values: Vec<f64>,
    pub labels: Vec<u32>,
    /// The noise level used, for [`Perturbation::Noise`].
    pub noise_sigma: Option<f64>,
}

/// Applies `perturbation` to the region `label` of `image` (erosion and dilation change only
/// that label; other labels are kept, or overwritten where the dilation reaches them).
#[must_use]
pub fn apply(perturbation: Perturbation, image: &Image<'_>, label: u32) -> Perturbed {
    let unchanged_values = || image.values.to_vec();
    match perturbation {
        Perturbation::Erode => Perturbed {
            values: unchanged_values(),
            labels: erode(image.labels, image.dims, label),
            noise_sigma: None,
        },
        Perturbation::Dilate => Perturbed {
            values: unchanged_values(),
            labels: dilate(image.labels, image.dims, label),
            noise_sigma: None,
        },
        Perturbation::Translate { dy, dx } => Perturbed {
            values: translate(image.values, image.dims, dy, dx),
            labels: translate(image.labels, image.dims, dy, dx),
            noise_sigma: None,
        },
        Perturbation::Rotate { degrees } => {
            let centre = roi_centre(image.labels, image.dims, label);
            Perturbed {
                values: rotate_linear(image.values, image.dims, image.spacing_mm, centre, degrees),
                labels: rotate_nearest(image.labels, image.dims, image.spacing_mm, centre, degrees),
                noise_sigma: None,
            }
        }
        Perturbation::Noise { seed } => {
            let sigma = noise_sigma(image.values, image.dims);
            Perturbed {
                values: add_noise(image.values, sigma, seed),
                labels: image.labels.to_vec(),
                noise_sigma: Some(sigma),
            }
        }
    }
}

/// Whether in-plane neighbour `(y + dy, x + dx)` of voxel `(z, y, x)` exists; its index if so.
fn neighbour(
    dims: [usize; 3],
    z: usize,
    y: usize,
    x: usize,
    dy: isize,
    dx: isize,
) -> Option<usize> {
    let ny = y.checked_add_signed(dy).filter(|&v| v < dims[1])?;
    let nx = x.checked_add_signed(dx).filter(|&v| v < dims[2])?;
    Some((z * dims[1] + ny) * dims[2] + nx)
}

const RING: [(isize, isize); 8] = [
    (-1, -1),
    (-1, 0),
    (-1, 1),
    (0, -1),
    (0, 1),
    (1, -1),
    (1, 0),
    (1, 1),
];

/// Erosion by the in-plane 3×3 square: a voxel of `label` stays only if all 8 in-plane
/// neighbours are `label` (outside the image counts as outside the ROI); the others become 0.
#[must_use]
pub fn erode(labels: &[u32], dims: [usize; 3], label: u32) -> Vec<u32> {
    let mut out = labels.to_vec();
    for z in 0..dims[0] {
        for y in 0..dims[1] {
            for x in 0..dims[2] {
                let i = (z * dims[1] + y) * dims[2] + x;
                if labels[i] != label {
                    continue;
                }
                let inner = RING.iter().all(|&(dy, dx)| {
                    neighbour(dims, z, y, x, dy, dx).is_some_and(|n| labels[n] == label)
                });
                if !inner {
                    out[i] = 0;
                }
            }
        }
    }
    out
}

/// Dilation by the in-plane 3×3 square: every voxel with an in-plane 8-neighbour of `label`
/// becomes `label`.
#[must_use]
pub fn dilate(labels: &[u32], dims: [usize; 3], label: u32) -> Vec<u32> {
    let mut out = labels.to_vec();
    for z in 0..dims[0] {
        for y in 0..dims[1] {
            for x in 0..dims[2] {
                let i = (z * dims[1] + y) * dims[2] + x;
                if labels[i] == label {
                    continue;
                }
                if RING.iter().any(|&(dy, dx)| {
                    neighbour(dims, z, y, x, dy, dx).is_some_and(|n| labels[n] == label)
                }) {
                    out[i] = label;
                }
            }
        }
    }
    out
}

/// Moves every slice by `(dy, dx)` whole voxels: `out[z][y][x] = in[z][y − dy][x − dx]`, with
/// indices clamped into the image (the edge rows and columns are replicated into the gap).
#[must_use]
pub fn translate<T: Copy>(values: &[T], dims: [usize; 3], dy: i32, dx: i32) -> Vec<T> {
    let clamp =
        |v: usize, d: i32, n: usize| (v as i64 - i64::from(d)).clamp(0, n as i64 - 1) as usize;
    let mut out = Vec::with_capacity(values.len());
    for z in 0..dims[0] {
        for y in 0..dims[1] {
            let sy = clamp(y, dy, dims[1]);
            for x in 0..dims[2] {
                let sx = clamp(x, dx, dims[2]);
                out.push(values[(z * dims[1] + sy) * dims[2] + sx]);
            }
        }
    }
    out
}

/// The centroid `(y, x)` (voxel indices) of the region `label`, over all its slices; the plane's
/// centre when the region is empty.
#[must_use]
pub fn roi_centre(labels: &[u32], dims: [usize; 3], label: u32) -> [f64; 2] {
    let (mut sum_y, mut sum_x, mut n) = (0.0, 0.0, 0usize);
    for (i, &l) in labels.iter().enumerate() {
        if l == label {
            sum_y += ((i / dims[2]) % dims[1]) as f64;
            sum_x += (i % dims[2]) as f64;
            n += 1;
        }
    }
    if n == 0 {
        return [(dims[1] as f64 - 1.0) / 2.0, (dims[2] as f64 - 1.0) / 2.0];
    }
    [sum_y / n as f64, sum_x / n as f64]
}

/// Where output voxel `(y, x)` samples the input, in voxel indices: the inverse rotation about
/// `centre`, in millimetres (so non-square pixels turn correctly). A positive angle turns the
/// image counter-clockwise as displayed (x right, y down). Coordinates within 1e-9 of a whole
/// number are snapped to it, so that multiples of 90° permute voxels exactly.
fn source_of(y: usize, x: usize, spacing_mm: [f64; 3], centre: [f64; 2], degrees: f64) -> [f64; 2] {
    let (sin, cos) = degrees.to_radians().sin_cos();
    let oy = (y as f64 - centre[0]) * spacing_mm[1];
    let ox = (x as f64 - centre[1]) * spacing_mm[2];
    // Inverse of (x, y) ↦ (x cos + y sin, −x sin + y cos), the counter-clockwise turn on screen.
    let sx = ox * cos - oy * sin;
    let sy = ox * sin + oy * cos;
    let snap = |v: f64| {
        let r = v.round();
        if (v - r).abs() < 1e-9 { r } else { v }
    };
    [
        snap(centre[0] + sy / spacing_mm[1]),
        snap(centre[1] + sx / spacing_mm[2]),
    ]
}

/// Rotation in plane with bilinear interpolation; samples outside the image take the nearest
/// edge voxel.
#[must_use]
pub fn rotate_linear(
    values: &[f64],
    dims: [usize; 3],
    spacing_mm: [f64; 3],
    centre: [f64; 2],
    degrees: f64,
) -> Vec<f64> {
    let plane = dims[1] * dims[2];
    let mut out = Vec::with_capacity(values.len());
    let max_y = dims[1] as f64 - 1.0;
    let max_x = dims[2] as f64 - 1.0;
    for z in 0..dims[0] {
        let slice = &values[z * plane..(z + 1) * plane];
        for y in 0..dims[1] {
            for x in 0..dims[2] {
                let [sy, sx] = source_of(y, x, spacing_mm, centre, degrees);
                let (sy, sx) = (sy.clamp(0.0, max_y), sx.clamp(0.0, max_x));
                let (y0, x0) = (sy.floor() as usize, sx.floor() as usize);
                let (y1, x1) = ((y0 + 1).min(dims[1] - 1), (x0 + 1).min(dims[2] - 1));
                let (fy, fx) = (sy - y0 as f64, sx - x0 as f64);
                let at = |yy: usize, xx: usize| slice[yy * dims[2] + xx];
                let top = at(y0, x0) * (1.0 - fx) + at(y0, x1) * fx;
                let bottom = at(y1, x0) * (1.0 - fx) + at(y1, x1) * fx;
                out.push(if fy == 0.0 {
                    top
                } else {
                    top * (1.0 - fy) + bottom * fy
                });
            }
        }
    }
    out
}

/// Rotation in plane of a label map, nearest neighbour (labels stay labels); samples outside the
/// image are background (0).
#[must_use]
pub fn rotate_nearest(
    labels: &[u32],
    dims: [usize; 3],
    spacing_mm: [f64; 3],
    centre: [f64; 2],
    degrees: f64,
) -> Vec<u32> {
    let plane = dims[1] * dims[2];
    let mut out = Vec::with_capacity(labels.len());
    for z in 0..dims[0] {
        for y in 0..dims[1] {
            for x in 0..dims[2] {
                let [sy, sx] = source_of(y, x, spacing_mm, centre, degrees);
                let (ry, rx) = (sy.round(), sx.round());
                let inside = ry >= 0.0
                    && rx >= 0.0
                    && ry <= dims[1] as f64 - 1.0
                    && rx <= dims[2] as f64 - 1.0;
                out.push(if inside {
                    labels[z * plane + ry as usize * dims[2] + rx as usize]
                } else {
                    0
                });
            }
        }
    }
    out
}

/// The image's noise level σ, robustly: Immerkær's (1996) Laplacian-difference mask
/// `[1 −2 1; −2 4 −2; 1 −2 1]` in plane, which cancels constant and linear structure and whose
/// response to white noise of σ has standard deviation 6σ (√(Σ k²) = √36). Over the voxels
/// "inside the body" — interior voxels whose whole 3×3 neighbourhood lies above the image's mean
/// (air, MR background, whose Rician noise is not Gaussian, and the flat padding outside the field
/// of view all lie below it) — σ = 1.4826 · MAD(response) / 6: the median absolute deviation
/// keeps edges, a minority of voxels, from inflating it. 0 for an image with no such voxel.
#[must_use]
pub fn noise_sigma(values: &[f64], dims: [usize; 3]) -> f64 {
    const MASK: [f64; 9] = [1.0, -2.0, 1.0, -2.0, 4.0, -2.0, 1.0, -2.0, 1.0];
    if dims[1] < 3 || dims[2] < 3 || values.is_empty() {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let mut responses = Vec::new();
    for z in 0..dims[0] {
        for y in 1..dims[1] - 1 {
            for x in 1..dims[2] - 1 {
                let at = |k: usize| {
                    let (yy, xx) = (y + k / 3 - 1, x + k % 3 - 1);
                    values[(z * dims[1] + yy) * dims[2] + xx]
                };
                if (0..9).all(|k| at(k) > mean) {
                    responses.push((0..9).map(|k| MASK[k] * at(k)).sum::<f64>());
                }
            }
        }
    }
    if responses.is_empty() {
        return 0.0;
    }
    let median = median_in_place(&mut responses);
    let mut deviations: Vec<f64> = responses.iter().map(|r| (r - median).abs()).collect();
    1.4826 * median_in_place(&mut deviations) / 6.0
}

fn median_in_place(values: &mut [f64]) -> f64 {
    let mid = values.len() / 2;
    let (_, m, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    *m
}

/// `values` plus independent Gaussian noise of standard deviation `sigma`, from `seed`.
#[must_use]
pub fn add_noise(values: &[f64], sigma: f64, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let Ok(normal) = Normal::new(0.0, sigma.max(0.0)) else {
        return values.to_vec();
    };
    values.iter().map(|v| v + normal.sample(&mut rng)).collect()
}

#[cfg(test)]
// Exact comparisons on purpose: whole-voxel moves and quarter turns copy values, they compute none.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    fn count(labels: &[u32], label: u32) -> usize {
        labels.iter().filter(|&&l| l == label).count()
    }

    /// A 5×5 square of label 1 in a 9×9 plane, on each of 3 slices.
    fn square() -> (Vec<u32>, [usize; 3]) {
        let dims = [3, 9, 9];
        let labels = (0..3 * 81)
            .map(|i| {
                let (y, x) = ((i / 9) % 9, i % 9);
                u32::from((2..7).contains(&y) && (2..7).contains(&x))
            })
            .collect();
        (labels, dims)
    }

    #[test]
    fn erosion_and_dilation_take_and_add_one_in_plane_ring() {
        let (labels, dims) = square();
        assert_eq!(count(&labels, 1), 3 * 25);
        // 5×5 → 3×3 and 7×7 on every slice: in plane only, the three slices stay.
        assert_eq!(count(&erode(&labels, dims, 1), 1), 3 * 9);
        assert_eq!(count(&dilate(&labels, dims, 1), 1), 3 * 49);
        // A ROI touching the image edge erodes there too (outside is not ROI).
        let full = vec![1; 81];
        assert_eq!(count(&erode(&full, [1, 9, 9], 1), 1), 49);
        // Other labels are left alone by erosion.
        let mut two = labels.clone();
        two[0] = 2;
        assert_eq!(erode(&two, dims, 1)[0], 2);
    }

    #[test]
    fn translation_moves_a_voxel_and_replicates_edges() {
        let dims = [2, 5, 6];
        let mut values = vec![0.0; 60];
        values[30 + 2 * 6 + 3] = 7.0; // z 1, y 2, x 3
        let moved = translate(&values, dims, 1, -2);
        assert_eq!(moved[30 + 3 * 6 + 1], 7.0);
        assert_eq!(moved.iter().filter(|&&v| v == 7.0).count(), 1);
        // Edge replication: a bright first column fills the gap a shift to the right leaves.
        let column: Vec<f64> = (0..30)
            .map(|i| if i % 6 == 0 { 1.0 } else { 0.0 })
            .collect();
        let shifted = translate(&column, [1, 5, 6], 0, 2);
        for y in 0..5 {
            assert_eq!(&shifted[y * 6..y * 6 + 4], &[1.0, 1.0, 1.0, 0.0]);
        }
    }

    #[test]
    fn rotation_by_zero_is_the_identity_and_by_ninety_permutes() {
        let dims = [2, 5, 5];
        let values: Vec<f64> = (0..50).map(f64::from).collect();
        let labels: Vec<u32> = (0..50).collect();
        let spacing = [3.0, 0.8, 0.8];
        let centre = [2.0, 2.0];
        assert_eq!(rotate_linear(&values, dims, spacing, centre, 0.0), values);
        assert_eq!(rotate_nearest(&labels, dims, spacing, centre, 0.0), labels);
        let turned = rotate_linear(&values, dims, spacing, centre, 90.0);
        let turned_labels = rotate_nearest(&labels, dims, spacing, centre, 90.0);
        for z in 0..2 {
            for y in 0..5 {
                for x in 0..5 {
                    // Counter-clockwise on screen: the top row (y 0) becomes the left column,
                    // read bottom to top, so out(y, x) = in(x, 4 − y).
                    let src = z * 25 + x * 5 + (4 - y);
                    assert_eq!(turned[z * 25 + y * 5 + x], values[src]);
                    assert_eq!(turned_labels[z * 25 + y * 5 + x], labels[src]);
                }
            }
        }
        // Four quarter turns give the image back.
        let mut back = values.clone();
        for _ in 0..4 {
            back = rotate_linear(&back, dims, spacing, centre, 90.0);
        }
        assert_eq!(back, values);
    }

    #[test]
    fn rotation_of_the_mask_turns_about_the_roi_centroid() {
        // A 1×3 bar centred at (4, 5) turns into a 3×1 bar at the same centre.
        let dims = [1, 9, 11];
        let mut labels = vec![0; 99];
        for x in 4..=6 {
            labels[4 * 11 + x] = 1;
        }
        let centre = roi_centre(&labels, dims, 1);
        assert_eq!(centre, [4.0, 5.0]);
        let turned = rotate_nearest(&labels, dims, [1.0; 3], centre, 90.0);
        let voxels: Vec<usize> = (0..99).filter(|&i| turned[i] == 1).collect();
        assert_eq!(voxels, vec![3 * 11 + 5, 4 * 11 + 5, 5 * 11 + 5]);
    }

    #[test]
    fn noise_has_the_requested_sigma_and_the_estimator_finds_it() {
        // A linear ramp: the Laplacian-difference mask cancels it, so only the noise is seen.
        let dims = [4, 128, 128];
        let ramp: Vec<f64> = (0..4 * 128 * 128)
            .map(|i| 100.0 + 0.5 * f64::from((i / 128) % 128) + 0.25 * f64::from(i % 128))
            .collect();
        assert!(noise_sigma(&ramp, dims) < 1e-9);
        let noisy = add_noise(&ramp, 5.0, 42);
        assert_eq!(noisy, add_noise(&ramp, 5.0, 42), "seeded");
        let residual: Vec<f64> = noisy.iter().zip(&ramp).map(|(a, b)| a - b).collect();
        let n = residual.len() as f64;
        let mean = residual.iter().sum::<f64>() / n;
        let sd = (residual.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        assert!((sd - 5.0).abs() < 0.05, "noise sd {sd}");
        assert!(mean.abs() < 0.05, "noise mean {mean}");
        let estimated = noise_sigma(&noisy, dims);
        assert!((estimated - 5.0).abs() < 0.15, "estimated σ {estimated}");
        // The flat padding around a body is not body: it does not pull the estimate to 0.
        let mut padded = vec![-1024.0; 4 * 128 * 128];
        for (i, v) in padded.iter_mut().enumerate() {
            if (i / 128) % 128 >= 32 {
                *v = noisy[i];
            }
        }
        let estimated = noise_sigma(&padded, dims);
        assert!(
            (estimated - 5.0).abs() < 0.2,
            "estimated σ with padding {estimated}"
        );
    }

    #[test]
    fn draws_are_reproducible_and_cover_every_kind() {
        let a = draw(7, 3, 8);
        assert_eq!(a, draw(7, 3, 8));
        assert_ne!(a, draw(7, 4, 8));
        assert_ne!(a, draw(8, 3, 8));
        let has = |f: fn(&Perturbation) -> bool| a.iter().filter(|p| f(p)).count();
        assert_eq!(
            has(|p| matches!(p, Perturbation::Erode | Perturbation::Dilate)),
            2
        );
        assert_eq!(has(|p| matches!(p, Perturbation::Translate { .. })), 2);
        assert_eq!(has(|p| matches!(p, Perturbation::Rotate { .. })), 2);
        assert_eq!(has(|p| matches!(p, Perturbation::Noise { .. })), 2);
        for p in &a {
            if let Perturbation::Translate { dy, dx } = p {
                assert!((-2..=2).contains(dy) && (-2..=2).contains(dx) && (*dy, *dx) != (0, 0));
            }
        }
    }
}
