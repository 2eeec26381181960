//! Neighbouring Gray Tone Difference Matrix features (PyRadiomics `ngtdm`, 5 features).
//!
//! How PyRadiomics builds the matrix, and so how this file does:
//! - the neighbourhood of a voxel is the ROI voxels at the bidirectional offsets of the requested
//!   `distances` (26 in 3D for distance 1, 8 with `force2D`); the centre voxel is left out;
//! - for gray level `i`, `n_i` counts **all** ROI voxels of that level — voxels without any ROI
//!   neighbour included, with a difference of 0 (IBSI leaves them out) — and
//!   `s_i = Σ |i − Ā_i|` sums the absolute differences to the neighbourhood means `Ā_i`;
//! - `N_{v,p} = Σ n_i`, `p_i = n_i / N_{v,p}`; absent levels are dropped and `i` stays the real
//!   level; `N_{g,p}` is the number of levels present.

use super::angles::{GrayLevels, fold_pairs, generate_angles, is_well_formed};
use super::types::{ClassValues, Discretized, FeatureDef, TextureSettings};

const fn def(name: &'static str) -> FeatureDef {
    FeatureDef {
        name,
        deprecated: false,
    }
}

/// Every NGTDM feature, in PyRadiomics' (alphabetical) order.
pub const FEATURES: &[FeatureDef] = &[
    def("Busyness"),
    def("Coarseness"),
    def("Complexity"),
    def("Contrast"),
    def("Strength"),
];

const N_FEATURES: usize = 5;

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
    let (counts, sums) = neighbourhoods(d, &offsets);
    let mut n = vec![0.0; gl.len()];
    let mut s_i = vec![0.0; gl.len()];
    for (k, &level) in d.levels.iter().enumerate() {
        if level == 0 {
            continue;
        }
        let (count, sum) = (counts[k], sums[k]);
        let diff = if count == 0 {
            0.0
        } else {
            (f64::from(level) - sum as f64 / f64::from(count)).abs()
        };
        let i = gl.rows[k] as usize;
        n[i] += 1.0;
        s_i[i] += diff;
    }
    features(&n, &s_i, &gl)
}

/// Per voxel, the number of ROI neighbours and the sum of their levels (meaningless outside the
/// ROI). Two passes of one kind each, so that both vectorise.
fn neighbourhoods(d: &Discretized, offsets: &[[isize; 3]]) -> (Vec<u32>, Vec<u64>) {
    let mut count = vec![0u32; d.levels.len()];
    let mut sum = vec![0u64; d.levels.len()];
    fold_pairs(&d.levels, d.dims, offsets, &mut count, |t, _, b| {
        *t += u32::from(b != 0);
    });
    // outside neighbours have level 0 and add nothing
    fold_pairs(&d.levels, d.dims, offsets, &mut sum, |t, _, b| {
        *t += u64::from(b);
    });
    (count, sum)
}

/// The five features from `n_i` and `s_i` (PyRadiomics' formulas and its guards against 0).
fn features(n: &[f64], s: &[f64], gl: &GrayLevels) -> [f64; N_FEATURES] {
    let nvp: f64 = n.iter().sum();
    let p: Vec<f64> = n.iter().map(|c| c / nvp).collect();
    let levels = gl.values();
    let ngp = p.iter().filter(|&&v| v > 0.0).count() as f64;
    let sum_s: f64 = s.iter().sum();
    let ps: Vec<f64> = p.iter().zip(s).map(|(a, b)| a * b).collect();
    let sum_ps: f64 = ps.iter().sum();
    let (mut contrast_sum, mut absdiff, mut complexity, mut strength) = (0.0, 0.0, 0.0, 0.0);
    for (a, &i) in levels.iter().enumerate() {
        for (b, &j) in levels.iter().enumerate() {
            let d2 = (i - j) * (i - j);
            contrast_sum += p[a] * p[b] * d2;
            absdiff += (i * p[a] - j * p[b]).abs();
            let divisor = p[a] + p[b];
            let divisor = if divisor == 0.0 { 1.0 } else { divisor };
            complexity += (i - j).abs() * (ps[a] + ps[b]) / divisor;
            strength += (p[a] + p[b]) * d2;
        }
    }
    // Coarseness 1 / Σ pᵢsᵢ (10⁶ where the sum is 0)
    let coarseness = if sum_ps == 0.0 { 1e6 } else { 1.0 / sum_ps };
    // Contrast [Σᵢⱼ pᵢpⱼ(i − j)² / (N_gp(N_gp − 1))]·[Σ sᵢ / N_vp] (0 where N_gp = 1)
    let div = ngp * (ngp - 1.0);
    let contrast = if div == 0.0 {
        0.0
    } else {
        contrast_sum * sum_s / nvp / div
    };
    // Busyness Σ pᵢsᵢ / Σᵢⱼ |i·pᵢ − j·pⱼ| (0 where the denominator is 0)
    let busyness = if absdiff == 0.0 {
        0.0
    } else {
        sum_ps / absdiff
    };
    // Strength Σᵢⱼ (pᵢ + pⱼ)(i − j)² / Σ sᵢ (0 where Σ sᵢ = 0)
    let strength = if sum_s == 0.0 { 0.0 } else { strength / sum_s };
    // Complexity Σᵢⱼ |i − j|·(pᵢsᵢ + pⱼsⱼ)/(pᵢ + pⱼ) / N_vp
    let complexity = complexity / nvp;
    [busyness, coarseness, complexity, contrast, strength]
}

#[cfg(test)]
#[allow(clippy::unreadable_literal)] // PyRadiomics' values, pasted as Python prints them
mod tests {
    use super::*;

    use super::super::angles::fixtures::{assert_close, discretized, get};

    /// A 1×1×3 row `1 2 1`, all inside: the only offsets are x ± 1.
    /// voxel 0 (1): neighbours {2} → |1 − 2| = 1; voxel 1 (2): {1, 1} → 1; voxel 2 (1): {2} → 1.
    /// n = (2, 1), p = (2/3, 1/3), s = (2, 1), N_vp = 3, N_gp = 2.
    /// Coarseness = 1 / (2/3·2 + 1/3·1) = 3/5.
    /// Contrast = [2·(2/3·1/3·1)]·(s₁ + s₂)/N_vp / (2·1) = (4/9)·1/2 = 2/9.
    /// Busyness = (5/3) / (2·|1·2/3 − 2·1/3|) = (5/3)/0 → 0 (absdiff is 0).
    /// Complexity = 2·|1 − 2|·(4/3 + 1/3)/(2/3 + 1/3) / 3 = 10/9.
    /// Strength = 2·(1)·1 / 3 = 2/3.
    #[test]
    fn hand_computed_row() {
        let d = discretized(vec![1, 2, 1], [1, 1, 3]);
        let v = compute(&d, &TextureSettings::default());
        assert_close(get(&v, "Coarseness"), 0.6, "Coarseness");
        assert_close(get(&v, "Contrast"), 2.0 / 9.0, "Contrast");
        assert!(get(&v, "Busyness").abs() < 1e-12);
        assert_close(get(&v, "Complexity"), 10.0 / 9.0, "Complexity");
        assert_close(get(&v, "Strength"), 2.0 / 3.0, "Strength");
    }

    #[test]
    fn flat_roi() {
        // Flat: every s_i is 0 → Coarseness 10⁶, everything else 0 (PyRadiomics' guards).
        let d = discretized(vec![3; 27], [3, 3, 3]);
        let v = compute(&d, &TextureSettings::default());
        assert_close(get(&v, "Coarseness"), 1e6, "Coarseness");
        for name in ["Busyness", "Complexity", "Contrast", "Strength"] {
            assert!(get(&v, name).abs() < 1e-12, "{name}");
        }
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
        ("Busyness", 3.0142076350392086),
        ("Coarseness", 0.015708435045440703),
        ("Complexity", 45.675839917485376),
        ("Contrast", 0.9926260052824036),
        ("Strength", 0.4126647742025562),
    ];

    const PY_FORCE_2D: &[(&str, f64)] = &[
        ("Busyness", 3.403179864117363),
        ("Coarseness", 0.013913012752490819),
        ("Complexity", 50.830233509127886),
        ("Contrast", 1.1276868040917105),
        ("Strength", 0.3632407374558011),
    ];

    const PY_FLAT: &[(&str, f64)] = &[
        ("Busyness", 0.0),
        ("Coarseness", 1000000.0),
        ("Complexity", 0.0),
        ("Contrast", 0.0),
        ("Strength", 0.0),
    ];

    const PY_THIN: &[(&str, f64)] = &[
        ("Busyness", 0.8452214219020941),
        ("Coarseness", 0.05136803897974079),
        ("Complexity", 64.26233998379159),
        ("Contrast", 1.4690714197800228),
        ("Strength", 1.6482222745467392),
    ];

    const PY_OPTIONS: &[(&str, f64)] = &[
        ("Busyness", 2.951750465943149),
        ("Coarseness", 0.016040815575294902),
        ("Complexity", 44.844103885021575),
        ("Contrast", 0.9692852783662654),
        ("Strength", 0.42260188561603634),
    ];

    const PY_SPLIT: &[(&str, f64)] = &[
        ("Busyness", 0.6500416666666666),
        ("Coarseness", 0.12306903403627974),
        ("Complexity", 26.568047288359786),
        ("Contrast", 0.8704728190104166),
        ("Strength", 2.333417785659995),
    ];

    #[test]
    fn matches_pyradiomics() {
        super::super::angles::fixtures::check_reference(
            compute,
            [PY_3D, PY_FORCE_2D, PY_OPTIONS, PY_FLAT, PY_THIN, PY_SPLIT],
        );
    }
}
