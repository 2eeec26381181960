//! PyRadiomics' `firstorder` class: statistics of the intensities inside the region.
//!
//! Which inputs each feature reads follows PyRadiomics 3.1.4: Energy, TotalEnergy and
//! RootMeanSquared use the values shifted by `voxelArrayShift` (`c`); Entropy and Uniformity use
//! the histogram of the discretised gray levels; everything else the raw values. Percentiles are
//! numpy's default (linear interpolation between order statistics), Kurtosis is not excess
//! kurtosis (IBSI's is 3 lower), Variance and StandardDeviation divide by `Np` (not `Np - 1`).

use super::types::{ClassValues, Discretized, FeatureDef, Roi};

const fn feature(name: &'static str, deprecated: bool) -> FeatureDef {
    FeatureDef { name, deprecated }
}

/// The class's features, in PyRadiomics' (alphabetical) order.
pub const FEATURES: &[FeatureDef] = &[
    feature("10Percentile", false),
    feature("90Percentile", false),
    feature("Energy", false),
    feature("Entropy", false),
    feature("InterquartileRange", false),
    feature("Kurtosis", false),
    feature("Maximum", false),
    feature("Mean", false),
    feature("MeanAbsoluteDeviation", false),
    feature("Median", false),
    feature("Minimum", false),
    feature("Range", false),
    feature("RobustMeanAbsoluteDeviation", false),
    feature("RootMeanSquared", false),
    feature("Skewness", false),
    feature("StandardDeviation", true),
    feature("TotalEnergy", false),
    feature("Uniformity", false),
    feature("Variance", false),
];

/// numpy's `spacing(1)`, the `ε` in Entropy.
const EPS: f64 = f64::EPSILON;

/// Mean, `NaN` for no values.
fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// `k`-th central moment `1/Np Σ (X(i) − X̄)^k`.
fn central_moment(xs: &[f64], mu: f64, k: i32) -> f64 {
    xs.iter().map(|&x| (x - mu).powi(k)).sum::<f64>() / xs.len() as f64
}

/// Mean absolute deviation `1/N Σ |X(i) − X̄|`.
fn mean_abs_deviation(xs: &[f64]) -> f64 {
    let mu = mean(xs);
    xs.iter().map(|&x| (x - mu).abs()).sum::<f64>() / xs.len() as f64
}

/// The `q`-th percentile of ascending `sorted` values, numpy's default `linear` method: virtual
/// index `(n − 1) q / 100`, interpolated as numpy's `_lerp` does (from the upper neighbour when
/// the fraction is ≥ ½), so ties with numpy are bit-exact. `NaN` for no values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return f64::NAN;
    };
    let virtual_index = last as f64 * (q / 100.0);
    let below = (virtual_index.floor() as usize).min(last);
    let above = (below + 1).min(last);
    let t = virtual_index - below as f64;
    let (a, b) = (sorted[below], sorted[above]);
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Median (mean of the two middle values for an even count), `NaN` for no values.
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => f64::midpoint(sorted[n / 2 - 1], sorted[n / 2]),
    }
}

/// `p(i)`: the normalised histogram of the discretised levels inside the region (only levels
/// that occur).
fn level_probabilities(roi: &Roi, d: &Discretized) -> Vec<f64> {
    let mut counts = vec![0_u64; d.n_levels as usize + 1];
    let mut total = 0_u64;
    for (&level, _) in d
        .levels
        .iter()
        .zip(&roi.inside)
        .filter(|&(_, &inside)| inside)
    {
        let level = level as usize;
        if level >= counts.len() {
            counts.resize(level + 1, 0);
        }
        counts[level] += 1;
        total += 1;
    }
    // PyRadiomics guards the division with a sum of 1 for an empty region.
    let total = total.max(1) as f64;
    counts
        .into_iter()
        .filter(|&c| c > 0)
        .map(|c| c as f64 / total)
        .collect()
}

/// All first-order features of the region, in [`FEATURES`] order. `voxel_array_shift` is
/// PyRadiomics' `voxelArrayShift` (`c`).
///
/// Never panics: an empty region gives `NaN` for the statistics, 0 for the energies and RMS
/// (PyRadiomics' own empty-array result for RMS).
#[must_use]
pub fn compute(roi: &Roi, d: &Discretized, voxel_array_shift: f64) -> ClassValues {
    let xs = roi.inside_values();
    let n = xs.len() as f64;
    let mut sorted = xs.clone();
    sorted.sort_by(f64::total_cmp);
    let (min, max) = match (sorted.first(), sorted.last()) {
        (Some(&lo), Some(&hi)) => (lo, hi),
        _ => (f64::NAN, f64::NAN),
    };
    let mu = mean(&xs);
    let p10 = percentile(&sorted, 10.0);
    let p90 = percentile(&sorted, 90.0);
    // Energy = Σ (X(i) + c)².
    let energy: f64 = xs.iter().map(|&x| (x + voxel_array_shift).powi(2)).sum();
    let voxel_volume: f64 = roi.spacing_mm.iter().product();
    let std_dev = central_moment(&xs, mu, 2).sqrt();
    // Flat region: PyRadiomics divides by 1 instead of μ₂ = 0.
    let m2 = Some(central_moment(&xs, mu, 2))
        .filter(|&m| m != 0.0)
        .unwrap_or(1.0);
    let p = level_probabilities(roi, d);
    // rMAD: MAD of the values in [P10, P90].
    let robust: Vec<f64> = xs
        .iter()
        .copied()
        .filter(|&x| x >= p10 && x <= p90)
        .collect();

    FEATURES
        .iter()
        .map(|f| {
            let value = match f.name {
                "10Percentile" => p10,
                "90Percentile" => p90,
                "Energy" => energy,
                // Entropy = −Σ p(i) log₂(p(i) + ε).
                "Entropy" => -p.iter().map(|&pi| pi * (pi + EPS).log2()).sum::<f64>(),
                "InterquartileRange" => percentile(&sorted, 75.0) - percentile(&sorted, 25.0),
                // Kurtosis = μ₄ / σ⁴ (not excess).
                "Kurtosis" => central_moment(&xs, mu, 4) / m2.powi(2),
                "Maximum" => max,
                "Mean" => mu,
                "MeanAbsoluteDeviation" => mean_abs_deviation(&xs),
                "Median" => median(&sorted),
                "Minimum" => min,
                "Range" => max - min,
                "RobustMeanAbsoluteDeviation" => mean_abs_deviation(&robust),
                // RMS = sqrt(1/Np Σ (X(i) + c)²); 0 for an empty region as in PyRadiomics.
                "RootMeanSquared" => {
                    if xs.is_empty() {
                        0.0
                    } else {
                        (energy / n).sqrt()
                    }
                }
                // Skewness = μ₃ / σ³.
                "Skewness" => central_moment(&xs, mu, 3) / m2.powf(1.5),
                "StandardDeviation" => std_dev,
                // Total energy = V_voxel Σ (X(i) + c)².
                "TotalEnergy" => energy * voxel_volume,
                // Uniformity = Σ p(i)².
                "Uniformity" => p.iter().map(|&pi| pi * pi).sum(),
                // Variance = σ² (numpy squares its own std).
                _ => std_dev * std_dev,
            };
            (f.name, value)
        })
        .collect()
}

#[cfg(test)]
// PyRadiomics' values are pasted exactly as it prints them.
#[allow(clippy::unreadable_literal)]
mod tests {
    use super::*;

    /// 1e-6 relative, 1e-9 absolute near 0.
    fn assert_close(name: &str, got: f64, want: f64) {
        let ok = if want.abs() < 1e-9 {
            (got - want).abs() < 1e-9
        } else {
            ((got - want) / want).abs() < 1e-6
        };
        assert!(ok, "{name}: got {got}, want {want}");
    }

    fn value(values: &ClassValues, name: &str) -> f64 {
        values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, v)| v)
            .expect(name)
    }

    /// A 1×1×n ROI of `values`, all inside except those given as `None`; levels `level(v)`.
    fn row(
        values: &[Option<f64>],
        spacing: [f64; 3],
        level: impl Fn(f64) -> u32,
    ) -> (Roi, Discretized) {
        let dims = [1, 1, values.len()];
        let roi = Roi {
            values: values.iter().map(|v| v.unwrap_or(100.0)).collect(),
            inside: values.iter().map(Option::is_some).collect(),
            dims,
            spacing_mm: spacing,
        };
        let levels: Vec<u32> = values.iter().map(|v| v.map_or(0, &level)).collect();
        let n_levels = levels.iter().copied().max().unwrap_or(0);
        (
            roi,
            Discretized {
                levels,
                dims,
                spacing_mm: spacing,
                n_levels,
            },
        )
    }

    #[test]
    fn feature_list_is_pyradiomics() {
        assert_eq!(FEATURES.len(), 19);
        assert_eq!(FEATURES.iter().filter(|f| f.deprecated).count(), 1);
        assert!(
            FEATURES
                .iter()
                .any(|f| f.name == "StandardDeviation" && f.deprecated)
        );
    }

    /// Values 1, 2, 3, 4, 10 (one more voxel outside the region), every value its own level.
    /// By hand: mean 4, deviations −3 −2 −1 0 6, Σd² = 50, Σd³ = 180, Σd⁴ = 1394; percentiles at
    /// virtual index 4q/100 (P10 = 1 + 0.4·1, P90 = 10 − 0.4·6 = 7.6, P25 = 2, P75 = 4); rMAD
    /// over {2, 3, 4}.
    #[test]
    fn five_values_by_hand() {
        let xs = [Some(1.0), Some(2.0), None, Some(3.0), Some(4.0), Some(10.0)];
        let (roi, d) = row(&xs, [2.0, 1.5, 0.5], |v| v as u32);
        let got = compute(&roi, &d, 0.0);
        assert_eq!(got.len(), FEATURES.len());
        let want = [
            ("10Percentile", 1.4),
            ("90Percentile", 7.6),
            ("Energy", 130.0),
            ("Entropy", 5.0_f64.log2()),
            ("InterquartileRange", 2.0),
            ("Kurtosis", 278.8 / 100.0),
            ("Maximum", 10.0),
            ("Mean", 4.0),
            ("MeanAbsoluteDeviation", 2.4),
            ("Median", 3.0),
            ("Minimum", 1.0),
            ("Range", 9.0),
            ("RobustMeanAbsoluteDeviation", 2.0 / 3.0),
            ("RootMeanSquared", 26.0_f64.sqrt()),
            ("Skewness", 36.0 / 10.0_f64.powf(1.5)),
            ("StandardDeviation", 10.0_f64.sqrt()),
            ("TotalEnergy", 130.0 * 1.5),
            ("Uniformity", 0.2),
            ("Variance", 10.0),
        ];
        for (name, w) in want {
            assert_close(name, value(&got, name), w);
        }
    }

    /// voxelArrayShift only moves Energy, TotalEnergy and RMS: Σ(x + 10)² = 1030.
    #[test]
    fn shift_applies_to_energy_and_rms_only() {
        let xs = [Some(1.0), Some(2.0), Some(3.0), Some(4.0), Some(10.0)];
        let (roi, d) = row(&xs, [1.0, 1.0, 2.0], |v| v as u32);
        let plain = compute(&roi, &d, 0.0);
        let shifted = compute(&roi, &d, 10.0);
        assert_close("Energy", value(&shifted, "Energy"), 1030.0);
        assert_close("TotalEnergy", value(&shifted, "TotalEnergy"), 2060.0);
        assert_close(
            "RootMeanSquared",
            value(&shifted, "RootMeanSquared"),
            206.0_f64.sqrt(),
        );
        for (name, v) in &plain {
            if !matches!(*name, "Energy" | "TotalEnergy" | "RootMeanSquared") {
                assert_close(name, value(&shifted, name), *v);
            }
        }
    }

    /// A flat region: PyRadiomics returns 0 skewness and kurtosis (it divides by 1, not by 0).
    #[test]
    fn flat_region_has_zero_moments() {
        let xs = [Some(7.0); 4];
        let (roi, d) = row(&xs, [1.0; 3], |_| 1);
        let got = compute(&roi, &d, 0.0);
        for name in ["Skewness", "Kurtosis", "Variance", "Range", "Entropy"] {
            assert_close(name, value(&got, name), 0.0);
        }
        assert_close("Uniformity", value(&got, "Uniformity"), 1.0);
        assert_close("Median", value(&got, "Median"), 7.0);
    }

    #[test]
    fn empty_region_does_not_panic() {
        let (roi, d) = row(&[None, None], [1.0; 3], |_| 1);
        let got = compute(&roi, &d, 0.0);
        assert_eq!(got.len(), FEATURES.len());
        assert_close("RootMeanSquared", value(&got, "RootMeanSquared"), 0.0);
        assert!(value(&got, "Mean").is_nan());
        let nothing = Roi {
            values: vec![],
            inside: vec![],
            dims: [0, 0, 0],
            spacing_mm: [1.0; 3],
        };
        let d = Discretized {
            levels: vec![],
            dims: [0, 0, 0],
            spacing_mm: [1.0; 3],
            n_levels: 0,
        };
        assert_eq!(compute(&nothing, &d, 0.0).len(), FEATURES.len());
    }

    /// The 6×9×8 mask and integer values (z, y, x row-major, one z slice per line).
    const MASK_3D: &str = "
    011101001011000011101011010011110101110101000111000001010110010111110101
    000111011110001111100001001101110000001011010101111011100101110110111111
    000011110011000010100110101111001001101001101110101101110110111111010110
    000101010101100011000000001001111111001010011001101000110000110111010000
    000001111010100100110010010100000110110101001101110001110111000110110010
    111000101110100011010110110011010011101111011100100111010111010010111110";
    const VALUES_3D: &str = "
    172900769087071789436006354490308961293106151417361469146286725570401316
    100123387301031151701050375588744948838397696178619245471553809565289620
    588161013636538677000924428779005425025495068174519394689233203860273728
    015243895388551342855266295369101151659915864389712078513607460751144814
    661228493985623101270138214339917262114833849532808137618433731792904993
    519562900592584856203321489952934499542582718229413677110962443889853370";

    /// PyRadiomics 3.1.4 on the mask and values above, spacing (z, y, x) = (2.5, 0.7, 0.8): the
    /// first `extract` of the script in the docs of `shape`'s tests (`mask`, `values`,
    /// `RadiomicsFeatureExtractor(binWidth=1, voxelArrayShift=3)`, every firstorder feature,
    /// StandardDeviation included). The mask touches all six faces, so the extractor's crop is
    /// the whole box; with binWidth 1 and minimum 0 the gray level of value `v` is `v + 1`.
    #[test]
    fn matches_pyradiomics_on_irregular_mask() {
        let digits = |s: &str| {
            s.chars()
                .filter(char::is_ascii_digit)
                .map(|c| c as u8 - b'0')
                .collect::<Vec<_>>()
        };
        let values: Vec<f64> = digits(VALUES_3D).into_iter().map(f64::from).collect();
        let inside: Vec<bool> = digits(MASK_3D).into_iter().map(|m| m == 1).collect();
        let dims = [6, 9, 8];
        let spacing = [2.5, 0.7, 0.8];
        let levels = values
            .iter()
            .zip(&inside)
            .map(|(&v, &i)| if i { v as u32 + 1 } else { 0 })
            .collect();
        let roi = Roi {
            values,
            inside,
            dims,
            spacing_mm: spacing,
        };
        let d = Discretized {
            levels,
            dims,
            spacing_mm: spacing,
            n_levels: 10,
        };
        let got = compute(&roi, &d, 3.0);
        let want = [
            ("10Percentile", 1.0),
            ("90Percentile", 9.0),
            ("Energy", 15260.0),
            ("Entropy", 3.3059973374562515),
            ("InterquartileRange", 5.0),
            ("Kurtosis", 1.7081992823757992),
            ("Maximum", 9.0),
            ("Mean", 4.591304347826087),
            ("MeanAbsoluteDeviation", 2.582986767485822),
            ("Median", 5.0),
            ("Minimum", 0.0),
            ("Range", 9.0),
            ("RobustMeanAbsoluteDeviation", 2.326366154621002),
            ("RootMeanSquared", 8.14541749003429),
            ("Skewness", -0.0022423895025086896),
            ("StandardDeviation", 2.9529518088911084),
            ("TotalEnergy", 21364.0),
            ("Uniformity", 0.10223062381852552),
            ("Variance", 8.71992438563327),
        ];
        assert_eq!(got.len(), want.len());
        for (name, w) in want {
            assert_close(name, value(&got, name), w);
        }
    }

    /// numpy's linear percentile, including its upper-neighbour form for fractions ≥ ½.
    #[test]
    fn percentile_is_numpys_linear() {
        let xs = [0.0, 1.0, 10.0];
        // numpy.percentile([0, 1, 10], [0, 30, 50, 80, 100]) = [0, 0.6, 1, 6.4, 10]
        for (q, want) in [
            (0.0, 0.0),
            (30.0, 0.6),
            (50.0, 1.0),
            (80.0, 6.4),
            (100.0, 10.0),
        ] {
            assert_close("percentile", percentile(&xs, q), want);
        }
        assert!(percentile(&[], 50.0).is_nan());
        assert_close("median", median(&[1.0, 2.0, 4.0, 8.0]), 3.0);
    }
}
