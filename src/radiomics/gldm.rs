//! Gray Level Dependence Matrix features (PyRadiomics `gldm`, 14 features + 2 deprecated).
//!
//! How PyRadiomics builds the matrix, and so how this file does:
//! - a neighbour of a voxel is any ROI voxel at one of the bidirectional offsets of the requested
//!   `distances` (26 in 3D for distance 1, 8 with `force2D`); it is *dependent* when
//!   `|level − neighbour level| ≤ α` (`gldm_a`);
//! - `P(i,j)` counts the ROI voxels of gray level `i` with `j − 1` dependent neighbours (so the
//!   dependence `j` starts at 1, and a voxel without dependent neighbours has `j = 1`);
//! - absent gray levels are dropped, `i` stays the real level; no angles to average;
//! - `N_z = ΣP` is the number of voxels (1 when 0).
//!
//! Level differences are integers, so a fractional `α` acts as `⌊α⌋` and a negative one makes no
//! neighbour dependent (PyRadiomics takes only an integer `gldm_a`; a float raises a TypeError).

use super::angles::{GrayLevels, OUTSIDE, fold_pairs, generate_angles, is_well_formed};
use super::types::{ClassValues, Discretized, FeatureDef, TextureSettings};

const EPS: f64 = f64::EPSILON;

const fn def(name: &'static str) -> FeatureDef {
    FeatureDef {
        name,
        deprecated: false,
    }
}

const fn deprecated(name: &'static str) -> FeatureDef {
    FeatureDef {
        name,
        deprecated: true,
    }
}

/// Every GLDM feature, in PyRadiomics' (alphabetical) order.
pub const FEATURES: &[FeatureDef] = &[
    def("DependenceEntropy"),
    def("DependenceNonUniformity"),
    def("DependenceNonUniformityNormalized"),
    deprecated("DependencePercentage"),
    def("DependenceVariance"),
    def("GrayLevelNonUniformity"),
    deprecated("GrayLevelNonUniformityNormalized"),
    def("GrayLevelVariance"),
    def("HighGrayLevelEmphasis"),
    def("LargeDependenceEmphasis"),
    def("LargeDependenceHighGrayLevelEmphasis"),
    def("LargeDependenceLowGrayLevelEmphasis"),
    def("LowGrayLevelEmphasis"),
    def("SmallDependenceEmphasis"),
    def("SmallDependenceHighGrayLevelEmphasis"),
    def("SmallDependenceLowGrayLevelEmphasis"),
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
    let offsets = generate_angles(d.dims, &s.distances, true, s.force_2d, s.force_2d_dimension);
    if !is_well_formed(d) || gl.is_empty() || offsets.is_empty() {
        return [f64::NAN; N_FEATURES];
    }
    let dependence = dependent_neighbours(d, &offsets, s.gldm_a);
    let max_dep = offsets.len() + 1;
    let mut matrix = vec![0.0; gl.len() * max_dep];
    for (&row, &dep) in gl.rows.iter().zip(&dependence) {
        if row != OUTSIDE {
            matrix[row as usize * max_dep + dep as usize] += 1.0;
        }
    }
    features(&matrix, max_dep, &gl)
}

/// Per voxel, the number of ROI neighbours within `α` of its level (meaningless outside the ROI).
fn dependent_neighbours(d: &Discretized, offsets: &[[isize; 3]], alpha: f64) -> Vec<u32> {
    let mut dep = vec![0u32; d.levels.len()];
    // Level differences are integers, so `|Δ| ≤ α` is `|Δ| ≤ ⌊α⌋`; a negative (or NaN) α leaves
    // no neighbour dependent.
    if alpha >= 0.0 {
        let limit = alpha.floor().min(f64::from(u32::MAX)) as u32;
        fold_pairs(&d.levels, d.dims, offsets, &mut dep, |t, a, b| {
            *t += u32::from(b != 0) & u32::from(a.abs_diff(b) <= limit);
        });
    }
    dep
}

/// All features, in [`FEATURES`] order (PyRadiomics' formulas; `p(i,j) = P(i,j)/N_z`).
fn features(matrix: &[f64], max_dep: usize, gl: &GrayLevels) -> [f64; N_FEATURES] {
    let levels = gl.values();
    let mut pg = vec![0.0; levels.len()];
    let mut pd = vec![0.0; max_dep];
    let (mut ldhgle, mut ldlgle, mut sdhgle, mut sdlgle) = (0.0, 0.0, 0.0, 0.0);
    let mut cells = Vec::new();
    for (i, &li) in levels.iter().enumerate() {
        for (jj, &c) in matrix[i * max_dep..(i + 1) * max_dep].iter().enumerate() {
            if c == 0.0 {
                continue;
            }
            let (i2, j2) = (li * li, ((jj + 1) * (jj + 1)) as f64);
            pg[i] += c;
            pd[jj] += c;
            ldhgle += c * i2 * j2;
            ldlgle += c * j2 / i2;
            sdhgle += c * i2 / j2;
            sdlgle += c / (i2 * j2);
            cells.push(c);
        }
    }
    let n_voxels = pg.iter().sum::<f64>();
    let nz = if n_voxels == 0.0 { 1.0 } else { n_voxels };
    let sum_pd = |f: &dyn Fn(f64) -> f64| {
        pd.iter()
            .enumerate()
            .map(|(j, &c)| c * f((j + 1) as f64))
            .sum::<f64>()
    };
    let sum_pg =
        |f: &dyn Fn(f64) -> f64| pg.iter().zip(&levels).map(|(&c, &i)| c * f(i)).sum::<f64>();
    let gln = pg.iter().map(|c| c * c).sum::<f64>();
    let dn = pd.iter().map(|c| c * c).sum::<f64>();
    let mean_i = sum_pg(&|i| i) / nz;
    let mean_j = sum_pd(&|j| j) / nz;
    let entropy = -cells
        .iter()
        .map(|&c| (c / nz) * (c / nz + EPS).log2())
        .sum::<f64>();
    [
        // DependenceEntropy −Σ p(i,j) log₂(p(i,j) + ε)
        entropy,
        // DependenceNonUniformity Σⱼ(Σᵢ P(i,j))² / N_z
        dn / nz,
        // DependenceNonUniformityNormalized Σⱼ(Σᵢ P(i,j))² / N_z²
        dn / (nz * nz),
        // DependencePercentage (deprecated, PyRadiomics computes no value; always 1) N_z / N_p
        n_voxels / nz,
        // DependenceVariance Σ p(i,j)(j − μ)², μ = Σ p(i,j)·j
        sum_pd(&|j| (j - mean_j).powi(2)) / nz,
        // GrayLevelNonUniformity Σᵢ(Σⱼ P(i,j))² / N_z
        gln / nz,
        // GrayLevelNonUniformityNormalized (deprecated, PyRadiomics computes no value; equals
        // first order Uniformity) Σᵢ(Σⱼ P(i,j))² / N_z²
        gln / (nz * nz),
        // GrayLevelVariance Σ p(i,j)(i − μ)², μ = Σ p(i,j)·i
        sum_pg(&|i| (i - mean_i).powi(2)) / nz,
        // HighGrayLevelEmphasis Σ P(i,j)·i² / N_z
        sum_pg(&|i| i * i) / nz,
        // LargeDependenceEmphasis Σ P(i,j)·j² / N_z
        sum_pd(&|j| j * j) / nz,
        // LargeDependenceHighGrayLevelEmphasis Σ P(i,j)·i²j² / N_z
        ldhgle / nz,
        // LargeDependenceLowGrayLevelEmphasis Σ P(i,j)·j²/i² / N_z
        ldlgle / nz,
        // LowGrayLevelEmphasis Σ P(i,j)/i² / N_z
        sum_pg(&|i| 1.0 / (i * i)) / nz,
        // SmallDependenceEmphasis Σ P(i,j)/j² / N_z
        sum_pd(&|j| 1.0 / (j * j)) / nz,
        // SmallDependenceHighGrayLevelEmphasis Σ P(i,j)·i²/j² / N_z
        sdhgle / nz,
        // SmallDependenceLowGrayLevelEmphasis Σ P(i,j)/(i²j²) / N_z
        sdlgle / nz,
    ]
}

#[cfg(test)]
#[allow(clippy::unreadable_literal)] // PyRadiomics' values, pasted as Python prints them
mod tests {
    use super::*;

    use super::super::angles::fixtures::{assert_close, discretized, get};

    /// A 1×2×3 image, all inside, 8 in-plane neighbours, α = 0:
    /// ```text
    /// 1 1 2
    /// 2 1 2
    /// ```
    /// dependent neighbours: (0,0) level 1: (0,1), (1,1) → 2; (0,1) 1: (0,0), (1,1) → 2;
    /// (0,2) 2: (1,2) → 1; (1,0) 2: none → 0; (1,1) 1: (0,0), (0,1) → 2; (1,2) 2: (0,2) → 1.
    /// dependences j = count + 1: level 1: 3, 3, 3; level 2: 2, 1, 2.
    /// SDE = (3/9 + 1/4 + 1 + 1/4)/6 = (1/3 + 3/2)/6; LDE = (27 + 8 + 1)/6 = 6;
    /// DN = (3² + 2² + 1²)/6 = 14/6; GLN = (9 + 9)/6 = 3.
    /// With α = 1 every neighbour is dependent: (0,0): 3, (0,1): 5, (0,2): 3, (1,0): 3,
    /// (1,1): 5, (1,2): 3 neighbours → j = 4,6,4,4,6,4: LDE = (4·16 + 2·36)/6.
    #[test]
    fn hand_computed_2d() {
        let d = discretized(vec![1, 1, 2, 2, 1, 2], [1, 2, 3]);
        let v = compute(&d, &TextureSettings::default());
        assert_close(
            get(&v, "SmallDependenceEmphasis"),
            (1.0 / 3.0 + 1.5) / 6.0,
            "SDE",
        );
        assert_close(get(&v, "LargeDependenceEmphasis"), 6.0, "LDE");
        assert_close(get(&v, "DependenceNonUniformity"), 14.0 / 6.0, "DN");
        assert_close(get(&v, "GrayLevelNonUniformity"), 3.0, "GLN");
        assert_close(get(&v, "DependencePercentage"), 1.0, "DP");
        let s = TextureSettings {
            gldm_a: 1.0,
            ..TextureSettings::default()
        };
        let v = compute(&d, &s);
        assert_close(
            get(&v, "LargeDependenceEmphasis"),
            (64.0 + 72.0) / 6.0,
            "LDE α=1",
        );
    }

    #[test]
    fn flat_roi() {
        // Flat 3×3×3 cube: each voxel's dependence = its neighbour count + 1.
        let d = discretized(vec![1; 27], [3, 3, 3]);
        let v = compute(&d, &TextureSettings::default());
        assert!(get(&v, "GrayLevelVariance").abs() < 1e-12);
        assert_close(get(&v, "GrayLevelNonUniformity"), 27.0, "GLN");
        assert_close(get(&v, "LowGrayLevelEmphasis"), 1.0, "LGLE");
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

    // PyRadiomics 3.1.4 values for the shared fixtures; how they were made: see
    // `angles::fixtures` (script inline there). `PY_OPTIONS`: distances [1, 2],
    // symmetricalGLCM False, gldm_a 1.
    const PY_3D: &[(&str, f64)] = &[
        ("DependenceEntropy", 4.851901336941808),
        ("DependenceNonUniformity", 30.786666666666665),
        ("DependenceNonUniformityNormalized", 0.20524444444444445),
        ("DependenceVariance", 2.1288888888888886),
        ("GrayLevelNonUniformity", 25.706666666666667),
        ("GrayLevelVariance", 6.301155555555555),
        ("HighGrayLevelEmphasis", 26.133333333333333),
        ("LargeDependenceEmphasis", 10.733333333333333),
        ("LargeDependenceHighGrayLevelEmphasis", 280.62666666666667),
        ("LargeDependenceLowGrayLevelEmphasis", 2.719508796296296),
        ("LowGrayLevelEmphasis", 0.22228935185185184),
        ("SmallDependenceEmphasis", 0.2705795162509448),
        ("SmallDependenceHighGrayLevelEmphasis", 6.184752078609221),
        ("SmallDependenceLowGrayLevelEmphasis", 0.06444845856166541),
    ];

    const PY_FORCE_2D: &[(&str, f64)] = &[
        ("DependenceEntropy", 3.9150784227229143),
        ("DependenceNonUniformity", 61.57333333333333),
        ("DependenceNonUniformityNormalized", 0.4104888888888889),
        ("DependenceVariance", 0.47040000000000004),
        ("GrayLevelNonUniformity", 25.706666666666667),
        ("GrayLevelVariance", 6.301155555555555),
        ("HighGrayLevelEmphasis", 26.133333333333333),
        ("LargeDependenceEmphasis", 3.16),
        ("LargeDependenceHighGrayLevelEmphasis", 80.32),
        ("LargeDependenceLowGrayLevelEmphasis", 0.7178819444444445),
        ("LowGrayLevelEmphasis", 0.22228935185185184),
        ("SmallDependenceEmphasis", 0.5898611111111112),
        ("SmallDependenceHighGrayLevelEmphasis", 15.25912037037037),
        ("SmallDependenceLowGrayLevelEmphasis", 0.13324202674897118),
    ];

    const PY_FLAT: &[(&str, f64)] = &[
        ("DependenceEntropy", 1.6982458350160297),
        ("DependenceNonUniformity", 9.074074074074074),
        ("DependenceNonUniformityNormalized", 0.33607681755829905),
        ("DependenceVariance", 20.57887517146776),
        ("GrayLevelNonUniformity", 27.0),
        ("GrayLevelVariance", 0.0),
        ("HighGrayLevelEmphasis", 1.0),
        ("LargeDependenceEmphasis", 181.96296296296296),
        ("LargeDependenceHighGrayLevelEmphasis", 181.96296296296296),
        ("LargeDependenceLowGrayLevelEmphasis", 181.96296296296296),
        ("LowGrayLevelEmphasis", 1.0),
        ("SmallDependenceEmphasis", 0.008452725702382766),
        ("SmallDependenceHighGrayLevelEmphasis", 0.008452725702382766),
        ("SmallDependenceLowGrayLevelEmphasis", 0.008452725702382766),
    ];

    const PY_THIN: &[(&str, f64)] = &[
        ("DependenceEntropy", 3.345347827131155),
        ("DependenceNonUniformity", 12.419354838709678),
        ("DependenceNonUniformityNormalized", 0.4006243496357961),
        ("DependenceVariance", 0.48699271592091564),
        ("GrayLevelNonUniformity", 5.903225806451613),
        ("GrayLevelVariance", 7.196670135275754),
        ("HighGrayLevelEmphasis", 26.161290322580644),
        ("LargeDependenceEmphasis", 3.193548387096774),
        ("LargeDependenceHighGrayLevelEmphasis", 74.03225806451613),
        ("LargeDependenceLowGrayLevelEmphasis", 0.7586290322580644),
        ("LowGrayLevelEmphasis", 0.2431720430107527),
        ("SmallDependenceEmphasis", 0.5949820788530465),
        ("SmallDependenceHighGrayLevelEmphasis", 16.91756272401434),
        ("SmallDependenceLowGrayLevelEmphasis", 0.14174955197132616),
    ];

    const PY_OPTIONS: &[(&str, f64)] = &[
        ("DependenceEntropy", 6.2277855043730455),
        ("DependenceNonUniformity", 7.333333333333333),
        ("DependenceNonUniformityNormalized", 0.04888888888888889),
        ("DependenceVariance", 46.03715555555555),
        ("GrayLevelNonUniformity", 25.706666666666667),
        ("GrayLevelVariance", 6.301155555555555),
        ("HighGrayLevelEmphasis", 26.133333333333333),
        ("LargeDependenceEmphasis", 243.53333333333333),
        ("LargeDependenceHighGrayLevelEmphasis", 3893.766666666667),
        ("LargeDependenceLowGrayLevelEmphasis", 64.98733101851853),
        ("LowGrayLevelEmphasis", 0.22228935185185184),
        ("SmallDependenceEmphasis", 0.010530594875553023),
        ("SmallDependenceHighGrayLevelEmphasis", 0.3834810703654381),
        ("SmallDependenceLowGrayLevelEmphasis", 0.0016631383192570667),
    ];

    const PY_SPLIT: &[(&str, f64)] = &[
        ("DependenceEntropy", 3.3749999999999964),
        ("DependenceNonUniformity", 5.25),
        ("DependenceNonUniformityNormalized", 0.328125),
        ("DependenceVariance", 0.859375),
        ("GrayLevelNonUniformity", 3.625),
        ("GrayLevelVariance", 4.234375),
        ("HighGrayLevelEmphasis", 15.625),
        ("LargeDependenceEmphasis", 4.375),
        ("LargeDependenceHighGrayLevelEmphasis", 58.625),
        ("LargeDependenceLowGrayLevelEmphasis", 2.536388888888889),
        ("LowGrayLevelEmphasis", 0.3720833333333333),
        ("SmallDependenceEmphasis", 0.5403645833333334),
        ("SmallDependenceHighGrayLevelEmphasis", 7.689670138888889),
        ("SmallDependenceLowGrayLevelEmphasis", 0.14760609567901234),
    ];

    #[test]
    fn matches_pyradiomics() {
        super::super::angles::fixtures::check_reference(
            compute,
            [PY_3D, PY_FORCE_2D, PY_OPTIONS, PY_FLAT, PY_THIN, PY_SPLIT],
        );
    }
}
