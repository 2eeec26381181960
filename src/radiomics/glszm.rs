//! Gray Level Size Zone Matrix features (PyRadiomics `glszm`, 16 features).
//!
//! How PyRadiomics builds the matrix, and so how this file does:
//! - a zone is a connected set of ROI voxels of one gray level; voxels connect through every
//!   offset of distance 1 (26-connectivity in 3D, 8 in-plane with `force2D`, fewer where the box
//!   is thinner than 2 voxels on an axis); `distances` is not used;
//! - `P(i,j)` counts the zones of gray level `i` and size `j` voxels; absent gray levels are
//!   dropped, `i` stays the real level; there are no angles to average;
//! - `N_z` is the number of zones and `N_p` the number of voxels (both set to 1 when 0).
//!
//! The zones are found by flood fill, the gray levels split over threads. The matrix is kept
//! sparse (one entry per occurring `(level, size)` pair): its dense form, levels × largest zone,
//! can run to hundreds of megabytes for a large homogeneous ROI.

use rayon::prelude::*;

use super::angles::{GrayLevels, OUTSIDE, generate_angles, is_well_formed};
use super::types::{ClassValues, Discretized, FeatureDef, TextureSettings};

const EPS: f64 = f64::EPSILON;

const fn def(name: &'static str) -> FeatureDef {
    FeatureDef {
        name,
        deprecated: false,
    }
}

/// Every GLSZM feature, in PyRadiomics' (alphabetical) order.
pub const FEATURES: &[FeatureDef] = &[
    def("GrayLevelNonUniformity"),
    def("GrayLevelNonUniformityNormalized"),
    def("GrayLevelVariance"),
    def("HighGrayLevelZoneEmphasis"),
    def("LargeAreaEmphasis"),
    def("LargeAreaHighGrayLevelEmphasis"),
    def("LargeAreaLowGrayLevelEmphasis"),
    def("LowGrayLevelZoneEmphasis"),
    def("SizeZoneNonUniformity"),
    def("SizeZoneNonUniformityNormalized"),
    def("SmallAreaEmphasis"),
    def("SmallAreaHighGrayLevelEmphasis"),
    def("SmallAreaLowGrayLevelEmphasis"),
    def("ZoneEntropy"),
    def("ZonePercentage"),
    def("ZoneVariance"),
];

const N_FEATURES: usize = 16;

/// All [`FEATURES`] of the ROI, in order. NaN throughout for an empty ROI or a box too small for
/// any neighbour offset (PyRadiomics raises there).
#[must_use]
pub fn compute(d: &Discretized, s: &TextureSettings) -> ClassValues {
    let values = feature_values(d, s);
    FEATURES
        .iter()
        .zip(values)
        .map(|(f, v)| (f.name, v))
        .collect()
}

fn feature_values(d: &Discretized, s: &TextureSettings) -> [f64; N_FEATURES] {
    let gl = GrayLevels::new(&d.levels);
    let offsets = generate_angles(d.dims, &[1], true, s.force_2d, s.force_2d_dimension);
    if !is_well_formed(d) || gl.is_empty() || offsets.is_empty() {
        return [f64::NAN; N_FEATURES];
    }
    let zones = zones(d, &gl, &offsets);
    features(&zone_matrix(zones, gl.len()), &gl)
}

/// Every zone as `(level row, size)`. Zones of different gray levels never touch, so the level
/// rows are dealt out over the threads (row `r` to part `r mod parts`) and each part is filled
/// independently.
fn zones(d: &Discretized, gl: &GrayLevels, offsets: &[[isize; 3]]) -> Vec<(u32, usize)> {
    let parts = rayon::current_num_threads().clamp(1, gl.len().max(1)) as u32;
    (0..parts)
        .into_par_iter()
        .map(|part| zones_of_part(d.dims, &gl.rows, offsets, part, parts))
        .reduce(Vec::new, |mut a, mut b| {
            a.append(&mut b);
            a
        })
}

/// The zones of the level rows `r` with `r mod parts = part`, by flood fill from each unvisited
/// voxel.
///
/// The fill runs on a copy of the rows padded by one voxel of [`OUTSIDE`] on every side (and with
/// the other parts' rows blanked out), so a neighbour is always `k + delta` with no bounds check;
/// the copy doubles as the "visited" mark (a voxel is set to [`OUTSIDE`] once it joins a zone).
/// The offsets have distance 1, so one voxel of padding is enough.
fn zones_of_part(
    dims: [usize; 3],
    rows: &[u32],
    offsets: &[[isize; 3]],
    part: u32,
    parts: u32,
) -> Vec<(u32, usize)> {
    let [sz, sy, sx] = dims;
    let (py, px) = (sy + 2, sx + 2);
    let mut open = vec![OUTSIDE; (sz + 2) * py * px];
    for z in 0..sz {
        for y in 0..sy {
            let src = (z * sy + y) * sx;
            let dst = ((z + 1) * py + y + 1) * px + 1;
            for (o, &r) in open[dst..dst + sx].iter_mut().zip(&rows[src..src + sx]) {
                if r != OUTSIDE && r % parts == part {
                    *o = r;
                }
            }
        }
    }
    let deltas: Vec<isize> = offsets
        .iter()
        .map(|o| (o[0] * py as isize + o[1]) * px as isize + o[2])
        .collect();
    let mut stack = Vec::new();
    let mut out = Vec::new();
    for start in 0..open.len() {
        let level = open[start];
        if level == OUTSIDE {
            continue;
        }
        open[start] = OUTSIDE;
        stack.push(start);
        let mut size = 0;
        while let Some(k) = stack.pop() {
            size += 1;
            for &delta in &deltas {
                let j = k.wrapping_add_signed(delta);
                if open[j] == level {
                    open[j] = OUTSIDE;
                    stack.push(j);
                }
            }
        }
        out.push((level, size));
    }
    out
}

/// The sparse GLSZM: `(level row, zone size, count)`, by row then size. Small zones (the many)
/// are counted in a dense table, the few large ones sorted.
fn zone_matrix(zones: Vec<(u32, usize)>, n_rows: usize) -> Vec<(usize, usize, f64)> {
    const SMALL: usize = 64;
    let mut small = vec![0u32; n_rows * SMALL];
    let mut large: Vec<(u32, usize)> = Vec::new();
    for (row, size) in zones {
        if size <= SMALL {
            small[row as usize * SMALL + size - 1] += 1;
        } else {
            large.push((row, size));
        }
    }
    large.sort_unstable();
    let mut cells: Vec<(usize, usize, f64)> = Vec::new();
    let mut large = large.into_iter().peekable();
    for row in 0..n_rows {
        for (s, &c) in small[row * SMALL..(row + 1) * SMALL].iter().enumerate() {
            if c > 0 {
                cells.push((row, s + 1, f64::from(c)));
            }
        }
        while let Some((_, size)) = large.next_if(|&(r, _)| r as usize == row) {
            match cells.last_mut() {
                Some(last) if last.0 == row && last.1 == size => last.2 += 1.0,
                _ => cells.push((row, size, 1.0)),
            }
        }
    }
    cells
}

/// All features, in [`FEATURES`] order (PyRadiomics' formulas; `p(i,j) = P(i,j)/N_z`).
fn features(cells: &[(usize, usize, f64)], gl: &GrayLevels) -> [f64; N_FEATURES] {
    let levels = gl.values();
    let max_size = cells.iter().map(|c| c.1).max().unwrap_or(1);
    let mut pg = vec![0.0; levels.len()];
    let mut ps = vec![0.0; max_size];
    for &(i, size, c) in cells {
        pg[i] += c;
        ps[size - 1] += c;
    }
    let nz = match pg.iter().sum::<f64>() {
        0.0 => 1.0,
        v => v,
    };
    let np = match ps
        .iter()
        .enumerate()
        .map(|(j, c)| c * (j + 1) as f64)
        .sum::<f64>()
    {
        0.0 => 1.0,
        v => v,
    };
    let joint = |f: &dyn Fn(f64, f64) -> f64| {
        cells
            .iter()
            .map(|&(i, size, c)| c * f(levels[i], size as f64))
            .sum::<f64>()
            / nz
    };
    let sum_ps = |f: &dyn Fn(f64) -> f64| {
        ps.iter()
            .enumerate()
            .map(|(j, &c)| c * f((j + 1) as f64))
            .sum::<f64>()
    };
    let sum_pg =
        |f: &dyn Fn(f64) -> f64| pg.iter().zip(&levels).map(|(&c, &i)| c * f(i)).sum::<f64>();
    let gln = pg.iter().map(|c| c * c).sum::<f64>();
    let szn = ps.iter().map(|c| c * c).sum::<f64>();
    let mean_i = sum_pg(&|i| i) / nz;
    let mean_j = sum_ps(&|j| j) / nz;
    let entropy = -cells
        .iter()
        .map(|&(_, _, c)| {
            let p = c / nz;
            p * (p + EPS).log2()
        })
        .sum::<f64>();
    [
        // GrayLevelNonUniformity Σᵢ(Σⱼ P(i,j))² / N_z
        gln / nz,
        // GrayLevelNonUniformityNormalized Σᵢ(Σⱼ P(i,j))² / N_z²
        gln / (nz * nz),
        // GrayLevelVariance Σ p(i,j)(i − μ)², μ = Σ p(i,j)·i
        sum_pg(&|i| (i - mean_i).powi(2)) / nz,
        // HighGrayLevelZoneEmphasis Σ P(i,j)·i² / N_z
        sum_pg(&|i| i * i) / nz,
        // LargeAreaEmphasis Σ P(i,j)·j² / N_z
        sum_ps(&|j| j * j) / nz,
        // LargeAreaHighGrayLevelEmphasis Σ P(i,j)·i²j² / N_z
        joint(&|i, j| i * i * j * j),
        // LargeAreaLowGrayLevelEmphasis Σ P(i,j)·j²/i² / N_z
        joint(&|i, j| j * j / (i * i)),
        // LowGrayLevelZoneEmphasis Σ P(i,j)/i² / N_z
        sum_pg(&|i| 1.0 / (i * i)) / nz,
        // SizeZoneNonUniformity Σⱼ(Σᵢ P(i,j))² / N_z
        szn / nz,
        // SizeZoneNonUniformityNormalized Σⱼ(Σᵢ P(i,j))² / N_z²
        szn / (nz * nz),
        // SmallAreaEmphasis Σ P(i,j)/j² / N_z
        sum_ps(&|j| 1.0 / (j * j)) / nz,
        // SmallAreaHighGrayLevelEmphasis Σ P(i,j)·i²/j² / N_z
        joint(&|i, j| i * i / (j * j)),
        // SmallAreaLowGrayLevelEmphasis Σ P(i,j)/(i²j²) / N_z
        joint(&|i, j| 1.0 / (i * i * j * j)),
        // ZoneEntropy −Σ p(i,j) log₂(p(i,j) + ε)
        entropy,
        // ZonePercentage N_z / N_p
        nz / np,
        // ZoneVariance Σ p(i,j)(j − μ)², μ = Σ p(i,j)·j
        sum_ps(&|j| (j - mean_j).powi(2)) / nz,
    ]
}

#[cfg(test)]
#[allow(clippy::unreadable_literal)] // PyRadiomics' values, pasted as Python prints them
mod tests {
    use super::*;

    use super::super::angles::fixtures::{assert_close, discretized, get};

    /// A 1×4×4 image (0 = outside), 8-connectivity in-plane:
    /// ```text
    /// 1 1 2 2
    /// 1 0 0 2
    /// 3 0 1 0
    /// 3 3 0 1
    /// ```
    /// Zones: level 1 {(0,0),(0,1),(1,0)} size 3; level 2 {(0,2),(0,3),(1,3)} size 3;
    /// level 3 {(2,0),(3,0),(3,1)} size 3; level 1 {(2,2),(3,3)} size 2 (diagonal neighbours).
    /// N_z = 4, N_p = 11: ZonePercentage = 4/11; SAE = (3/9 + 1/4)/4; LAE = (27 + 4)/4;
    /// GLN = (2² + 1 + 1)/4 = 1.5; SZN = (3² + 1)/4 = 2.5; LGLZE = (2 + 1/4 + 1/9)/4;
    /// the four zones fill four distinct cells (1,3), (2,3), (3,3), (1,2), so
    /// ZoneEntropy = −4·¼·log₂¼ = 2.
    #[test]
    fn hand_computed_2d() {
        #[rustfmt::skip]
        let levels = vec![
            1, 1, 2, 2,
            1, 0, 0, 2,
            3, 0, 1, 0,
            3, 3, 0, 1,
        ];
        let d = discretized(levels, [1, 4, 4]);
        let v = compute(&d, &TextureSettings::default());
        assert_close(get(&v, "ZonePercentage"), 4.0 / 11.0, "ZP");
        assert_close(
            get(&v, "SmallAreaEmphasis"),
            (3.0 / 9.0 + 0.25) / 4.0,
            "SAE",
        );
        assert_close(get(&v, "LargeAreaEmphasis"), 31.0 / 4.0, "LAE");
        assert_close(get(&v, "GrayLevelNonUniformity"), 1.5, "GLN");
        assert_close(get(&v, "SizeZoneNonUniformity"), 2.5, "SZN");
        assert_close(
            get(&v, "LowGrayLevelZoneEmphasis"),
            (2.0 + 0.25 + 1.0 / 9.0) / 4.0,
            "LGLZE",
        );
        assert_close(get(&v, "ZoneEntropy"), 2.0, "ZE");
    }

    #[test]
    fn flat_roi_is_one_zone() {
        let d = discretized(vec![2; 27], [3, 3, 3]);
        let v = compute(&d, &TextureSettings::default());
        assert_close(get(&v, "ZonePercentage"), 1.0 / 27.0, "ZP");
        assert_close(get(&v, "LargeAreaEmphasis"), 729.0, "LAE");
        assert_close(get(&v, "HighGrayLevelZoneEmphasis"), 4.0, "HGLZE");
        assert!(get(&v, "ZoneVariance").abs() < 1e-12);
        assert!(get(&v, "GrayLevelVariance").abs() < 1e-12);
        let malformed = discretized(vec![1, 2, 1], [2, 2, 2]);
        assert!(
            compute(&malformed, &TextureSettings::default())
                .iter()
                .all(|(_, v)| v.is_nan())
        );
        let one = discretized(vec![2], [1, 1, 1]);
        assert!(
            compute(&one, &TextureSettings::default())
                .iter()
                .all(|(_, v)| v.is_nan())
        );
    }

    #[test]
    fn force_2d_splits_slices() {
        // Two slices of level 1: one zone in 3D, two zones with force2D.
        let d = discretized(vec![1; 8], [2, 2, 2]);
        let v3 = compute(&d, &TextureSettings::default());
        assert_close(get(&v3, "ZonePercentage"), 1.0 / 8.0, "ZP 3D");
        let s = TextureSettings {
            force_2d: true,
            ..TextureSettings::default()
        };
        let v2 = compute(&d, &s);
        assert_close(get(&v2, "ZonePercentage"), 2.0 / 8.0, "ZP 2D");
    }

    // PyRadiomics 3.1.4 values for the shared fixtures; how they were made: see
    // `angles::fixtures` (script inline there). `PY_OPTIONS`: distances [1, 2],
    // symmetricalGLCM False, gldm_a 1.
    const PY_3D: &[(&str, f64)] = &[
        ("GrayLevelNonUniformity", 8.148936170212766),
        ("GrayLevelNonUniformityNormalized", 0.1733816206428248),
        ("GrayLevelVariance", 5.048438207333635),
        ("HighGrayLevelZoneEmphasis", 22.617021276595743),
        ("LargeAreaEmphasis", 25.74468085106383),
        ("LargeAreaHighGrayLevelEmphasis", 671.2765957446809),
        ("LargeAreaLowGrayLevelEmphasis", 8.214519799054374),
        ("LowGrayLevelZoneEmphasis", 0.20790484633569742),
        ("SizeZoneNonUniformity", 14.02127659574468),
        ("SizeZoneNonUniformityNormalized", 0.2983250339520145),
        ("SmallAreaEmphasis", 0.5546618217092069),
        ("SmallAreaHighGrayLevelEmphasis", 10.881414191128165),
        ("SmallAreaLowGrayLevelEmphasis", 0.14710464828981204),
        ("ZoneEntropy", 4.2303584057727885),
        ("ZonePercentage", 0.31333333333333335),
        ("ZoneVariance", 15.559076505205972),
    ];

    const PY_FORCE_2D: &[(&str, f64)] = &[
        ("GrayLevelNonUniformity", 17.679611650485437),
        ("GrayLevelNonUniformityNormalized", 0.17164671505325668),
        ("GrayLevelVariance", 6.0556131586388915),
        ("HighGrayLevelZoneEmphasis", 26.174757281553397),
        ("LargeAreaEmphasis", 2.7766990291262137),
        ("LargeAreaHighGrayLevelEmphasis", 70.25242718446601),
        ("LargeAreaLowGrayLevelEmphasis", 0.6482975997842503),
        ("LowGrayLevelZoneEmphasis", 0.21990628371089538),
        ("SizeZoneNonUniformity", 54.0873786407767),
        ("SizeZoneNonUniformityNormalized", 0.5251201809784145),
        ("SmallAreaEmphasis", 0.7513996763754046),
        ("SmallAreaHighGrayLevelEmphasis", 19.34606526429342),
        ("SmallAreaLowGrayLevelEmphasis", 0.16962227409954453),
        ("ZoneEntropy", 3.748797825718268),
        ("ZonePercentage", 0.6866666666666666),
        ("ZoneVariance", 0.6558582335752663),
    ];

    const PY_FLAT: &[(&str, f64)] = &[
        ("GrayLevelNonUniformity", 1.0),
        ("GrayLevelNonUniformityNormalized", 1.0),
        ("GrayLevelVariance", 0.0),
        ("HighGrayLevelZoneEmphasis", 1.0),
        ("LargeAreaEmphasis", 729.0),
        ("LargeAreaHighGrayLevelEmphasis", 729.0),
        ("LargeAreaLowGrayLevelEmphasis", 729.0),
        ("LowGrayLevelZoneEmphasis", 1.0),
        ("SizeZoneNonUniformity", 1.0),
        ("SizeZoneNonUniformityNormalized", 1.0),
        ("SmallAreaEmphasis", 0.0013717421124828531),
        ("SmallAreaHighGrayLevelEmphasis", 0.0013717421124828531),
        ("SmallAreaLowGrayLevelEmphasis", 0.0013717421124828531),
        ("ZoneEntropy", -3.203426503814917e-16),
        ("ZonePercentage", 0.037037037037037035),
        ("ZoneVariance", 0.0),
    ];

    const PY_THIN: &[(&str, f64)] = &[
        ("GrayLevelNonUniformity", 3.9523809523809526),
        ("GrayLevelNonUniformityNormalized", 0.18820861678004536),
        ("GrayLevelVariance", 6.712018140589569),
        ("HighGrayLevelZoneEmphasis", 28.047619047619047),
        ("LargeAreaEmphasis", 2.9047619047619047),
        ("LargeAreaHighGrayLevelEmphasis", 67.38095238095238),
        ("LargeAreaLowGrayLevelEmphasis", 0.685026455026455),
        ("LowGrayLevelZoneEmphasis", 0.24430224867724867),
        ("SizeZoneNonUniformity", 11.380952380952381),
        ("SizeZoneNonUniformityNormalized", 0.5419501133786848),
        ("SmallAreaEmphasis", 0.763558201058201),
        ("SmallAreaHighGrayLevelEmphasis", 22.347883597883598),
        ("SmallAreaLowGrayLevelEmphasis", 0.18165757275132274),
        ("ZoneEntropy", 3.196154780932864),
        ("ZonePercentage", 0.6774193548387096),
        ("ZoneVariance", 0.7256235827664398),
    ];

    const PY_OPTIONS: &[(&str, f64)] = &[
        ("GrayLevelNonUniformity", 8.148936170212766),
        ("GrayLevelNonUniformityNormalized", 0.1733816206428248),
        ("GrayLevelVariance", 5.048438207333635),
        ("HighGrayLevelZoneEmphasis", 22.617021276595743),
        ("LargeAreaEmphasis", 25.74468085106383),
        ("LargeAreaHighGrayLevelEmphasis", 671.2765957446809),
        ("LargeAreaLowGrayLevelEmphasis", 8.214519799054374),
        ("LowGrayLevelZoneEmphasis", 0.20790484633569742),
        ("SizeZoneNonUniformity", 14.02127659574468),
        ("SizeZoneNonUniformityNormalized", 0.2983250339520145),
        ("SmallAreaEmphasis", 0.5546618217092069),
        ("SmallAreaHighGrayLevelEmphasis", 10.881414191128165),
        ("SmallAreaLowGrayLevelEmphasis", 0.14710464828981204),
        ("ZoneEntropy", 4.2303584057727885),
        ("ZonePercentage", 0.31333333333333335),
        ("ZoneVariance", 15.559076505205972),
    ];

    const PY_SPLIT: &[(&str, f64)] = &[
        ("GrayLevelNonUniformity", 2.0),
        ("GrayLevelNonUniformityNormalized", 0.2),
        ("GrayLevelVariance", 3.4399999999999995),
        ("HighGrayLevelZoneEmphasis", 15.0),
        ("LargeAreaEmphasis", 3.6),
        ("LargeAreaHighGrayLevelEmphasis", 52.8),
        ("LargeAreaLowGrayLevelEmphasis", 1.8199999999999998),
        ("LowGrayLevelZoneEmphasis", 0.2857777777777778),
        ("SizeZoneNonUniformity", 5.2),
        ("SizeZoneNonUniformityNormalized", 0.52),
        ("SmallAreaEmphasis", 0.742361111111111),
        ("SmallAreaHighGrayLevelEmphasis", 9.83125),
        ("SmallAreaLowGrayLevelEmphasis", 0.18655864197530864),
        ("ZoneEntropy", 2.92192809488736),
        ("ZonePercentage", 0.625),
        ("ZoneVariance", 1.04),
    ];

    #[test]
    fn matches_pyradiomics() {
        super::super::angles::fixtures::check_reference(
            compute,
            [PY_3D, PY_FORCE_2D, PY_OPTIONS, PY_FLAT, PY_THIN, PY_SPLIT],
        );
    }
}
