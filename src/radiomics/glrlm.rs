//! Gray Level Run Length Matrix features (PyRadiomics `glrlm`, 16 features).
//!
//! How PyRadiomics builds the matrix, and so how this file does:
//! - one matrix per angle (13 in 3D, 4 with `force2D`; always distance 1, `distances` is not
//!   used); `P(i,j)` counts the runs of gray level `i` and length `j` along the angle's lines; a
//!   voxel outside the ROI ends a run;
//! - an angle in which no line holds more than one ROI voxel is cleared (the ROI is flat in that
//!   direction), and empty angles are deleted when there is more than one angle; a lone empty
//!   angle makes every feature NaN;
//! - absent gray levels are dropped, `i` stays the real gray level;
//! - every feature is computed per angle with `N_r(θ)` = that angle's number of runs and
//!   `N_p(θ) = Σ P(i,j)·j`, and the class value is the `nanmean` over the angles.

use rayon::prelude::*;

use super::angles::{GrayLevels, OUTSIDE, Offset, generate_angles, is_well_formed, nan_mean};
use super::types::{ClassValues, Discretized, FeatureDef, TextureSettings};

const EPS: f64 = f64::EPSILON;

const fn def(name: &'static str) -> FeatureDef {
    FeatureDef {
        name,
        deprecated: false,
    }
}

/// Every GLRLM feature, in PyRadiomics' (alphabetical) order.
pub const FEATURES: &[FeatureDef] = &[
    def("GrayLevelNonUniformity"),
    def("GrayLevelNonUniformityNormalized"),
    def("GrayLevelVariance"),
    def("HighGrayLevelRunEmphasis"),
    def("LongRunEmphasis"),
    def("LongRunHighGrayLevelEmphasis"),
    def("LongRunLowGrayLevelEmphasis"),
    def("LowGrayLevelRunEmphasis"),
    def("RunEntropy"),
    def("RunLengthNonUniformity"),
    def("RunLengthNonUniformityNormalized"),
    def("RunPercentage"),
    def("RunVariance"),
    def("ShortRunEmphasis"),
    def("ShortRunHighGrayLevelEmphasis"),
    def("ShortRunLowGrayLevelEmphasis"),
];

const N_FEATURES: usize = 16;

/// All [`FEATURES`] of the ROI, in order. NaN throughout for an empty ROI, a box too small for
/// any angle, or a lone angle without runs.
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
    let angles = generate_angles(d.dims, &[1], false, s.force_2d, s.force_2d_dimension);
    if !is_well_formed(d) || gl.is_empty() || angles.is_empty() {
        return [f64::NAN; N_FEATURES];
    }
    // Each angle's matrix is built, reduced to its features and dropped on its own thread;
    // PyRadiomics deletes angles without runs, unless it is the only angle.
    let lone_angle = angles.len() == 1;
    let per_angle: Vec<[f64; N_FEATURES]> = angles
        .par_iter()
        .filter_map(|&offset| {
            let m = RunMatrix::along(d.dims, &gl, offset);
            (lone_angle || m.runs > 0.0).then(|| angle_features(&m, &gl))
        })
        .collect();
    let mut out = [f64::NAN; N_FEATURES];
    for (f, value) in out.iter_mut().enumerate() {
        *value = nan_mean(per_angle.iter().map(|a| a[f]));
    }
    out
}

/// One angle's run-length matrix, `counts[i * max_len + (j − 1)]` for present level index `i`
/// and run length `j`.
struct RunMatrix {
    counts: Vec<f64>,
    max_len: usize,
    /// `N_r(θ)`, the number of runs.
    runs: f64,
}

impl RunMatrix {
    /// The runs along `offset` (a distance-1 offset): every line starts at a voxel whose
    /// predecessor (`voxel − offset`) lies outside the box, and is walked to the far side.
    fn along(dims: [usize; 3], gl: &GrayLevels, offset: Offset) -> Self {
        let max_len = dims.iter().copied().max().unwrap_or(1).max(1);
        let mut counts = vec![0.0; gl.len() * max_len];
        // whether coordinate c (on an axis of length size) has a predecessor along the offset
        let has_pred =
            |c: usize, o: isize, size: usize| c.checked_add_signed(-o).is_some_and(|v| v < size);
        let mut multi_element = false;
        for z in 0..dims[0] {
            let pz = has_pred(z, offset[0], dims[0]);
            for y in 0..dims[1] {
                let py = pz && has_pred(y, offset[1], dims[1]);
                for x in 0..dims[2] {
                    if py && has_pred(x, offset[2], dims[2]) {
                        continue;
                    }
                    let elements = walk_line(dims, gl, [z, y, x], offset, &mut counts, max_len);
                    multi_element |= elements > 1;
                }
            }
        }
        if !multi_element {
            // PyRadiomics: "Segmentation is 2D for this angle, remove it."
            counts.fill(0.0);
        }
        let runs = counts.iter().sum();
        Self {
            counts,
            max_len,
            runs,
        }
    }
}

/// Walks one line from `start` along `offset` (a distance-1 offset), adding its runs to
/// `counts`; returns the number of ROI voxels on the line.
fn walk_line(
    dims: [usize; 3],
    gl: &GrayLevels,
    start: [usize; 3],
    offset: Offset,
    counts: &mut [f64],
    max_len: usize,
) -> usize {
    // Voxels on the line: one more than the steps left before the first axis runs out.
    let steps = (0..3)
        .filter_map(|axis| match offset[axis] {
            0 => None,
            o if o > 0 => Some(dims[axis] - 1 - start[axis]),
            _ => Some(start[axis]),
        })
        .min()
        .unwrap_or(0);
    let delta = (offset[0] * dims[1] as isize + offset[1]) * dims[2] as isize + offset[2];
    let first = (start[0] * dims[1] + start[1]) * dims[2] + start[2];
    let mut elements = 0;
    // The current stretch of equal rows; a stretch of OUTSIDE is no run and is not counted.
    let (mut current, mut len) = (OUTSIDE, 0usize);
    for step in 0..=steps {
        let row = gl.rows[first.wrapping_add_signed(delta * step as isize)];
        elements += usize::from(row != OUTSIDE);
        if row == current {
            len += 1;
        } else {
            if current != OUTSIDE {
                counts[current as usize * max_len + len - 1] += 1.0;
            }
            (current, len) = (row, 1);
        }
    }
    if current != OUTSIDE {
        counts[current as usize * max_len + len - 1] += 1.0;
    }
    elements
}

/// All features of one angle, in [`FEATURES`] order (PyRadiomics' formulas, `N_r` the number of
/// runs, `p(i,j) = P(i,j)/N_r`).
fn angle_features(m: &RunMatrix, gl: &GrayLevels) -> [f64; N_FEATURES] {
    let nr = if m.runs == 0.0 { f64::NAN } else { m.runs };
    let n = gl.len();
    let levels = gl.values();
    let mut pg = vec![0.0; n];
    let mut pr = vec![0.0; m.max_len];
    // Σ over the matrix of P·w for the four joint weightings, and the entropy.
    let (mut srlgle, mut srhgle, mut lrlgle, mut lrhgle, mut entropy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &li) in levels.iter().enumerate() {
        let i2 = li * li;
        for (jj, &c) in m.counts[i * m.max_len..(i + 1) * m.max_len]
            .iter()
            .enumerate()
        {
            if c == 0.0 {
                continue;
            }
            let j = (jj + 1) as f64;
            let j2 = j * j;
            pg[i] += c;
            pr[jj] += c;
            srlgle += c / (i2 * j2);
            srhgle += c * i2 / j2;
            lrlgle += c * j2 / i2;
            lrhgle += c * j2 * i2;
            let p = c / nr;
            entropy -= p * (p + EPS).log2();
        }
    }
    let lengths = (1..=m.max_len).map(|j| j as f64);
    let sum_pr = |f: &dyn Fn(f64) -> f64| {
        pr.iter()
            .zip(lengths.clone())
            .map(|(&c, j)| c * f(j))
            .sum::<f64>()
    };
    let sum_pg =
        |f: &dyn Fn(f64) -> f64| pg.iter().zip(&levels).map(|(&c, &i)| c * f(i)).sum::<f64>();
    let np = sum_pr(&|j| j);
    let gln = pg.iter().map(|c| c * c).sum::<f64>();
    let rln = pr.iter().map(|c| c * c).sum::<f64>();
    let mean_i = sum_pg(&|i| i) / nr;
    let mean_j = np / nr;
    [
        // GrayLevelNonUniformity Σᵢ(Σⱼ P(i,j))² / N_r
        gln / nr,
        // GrayLevelNonUniformityNormalized Σᵢ(Σⱼ P(i,j))² / N_r²
        gln / (nr * nr),
        // GrayLevelVariance Σ p(i,j)(i − μ)², μ = Σ p(i,j)·i
        sum_pg(&|i| (i - mean_i).powi(2)) / nr,
        // HighGrayLevelRunEmphasis Σ P(i,j)·i² / N_r
        sum_pg(&|i| i * i) / nr,
        // LongRunEmphasis Σ P(i,j)·j² / N_r
        sum_pr(&|j| j * j) / nr,
        // LongRunHighGrayLevelEmphasis Σ P(i,j)·i²j² / N_r
        lrhgle / nr,
        // LongRunLowGrayLevelEmphasis Σ P(i,j)·j²/i² / N_r
        lrlgle / nr,
        // LowGrayLevelRunEmphasis Σ P(i,j)/i² / N_r
        sum_pg(&|i| 1.0 / (i * i)) / nr,
        // RunEntropy −Σ p(i,j) log₂(p(i,j) + ε)
        entropy,
        // RunLengthNonUniformity Σⱼ(Σᵢ P(i,j))² / N_r
        rln / nr,
        // RunLengthNonUniformityNormalized Σⱼ(Σᵢ P(i,j))² / N_r²
        rln / (nr * nr),
        // RunPercentage N_r / N_p
        nr / np,
        // RunVariance Σ p(i,j)(j − μ)², μ = Σ p(i,j)·j
        sum_pr(&|j| (j - mean_j).powi(2)) / nr,
        // ShortRunEmphasis Σ P(i,j)/j² / N_r
        sum_pr(&|j| 1.0 / (j * j)) / nr,
        // ShortRunHighGrayLevelEmphasis Σ P(i,j)·i²/j² / N_r
        srhgle / nr,
        // ShortRunLowGrayLevelEmphasis Σ P(i,j)/(i²j²) / N_r
        srlgle / nr,
    ]
}

#[cfg(test)]
#[allow(clippy::unreadable_literal)] // PyRadiomics' values, pasted as Python prints them
mod tests {
    use super::*;

    use super::super::angles::fixtures::{assert_close, discretized, get};

    /// A 1×2×3 image, all inside, force2D:
    /// ```text
    /// 1 1 2
    /// 2 1 2
    /// ```
    /// (0,0,1) rows `1 1 2`, `2 1 2`: runs of lengths 2,1 | 1,1,1 → 5 runs, SRE = (¼ + 4)/5 = 0.85,
    ///   LRE = (4 + 4)/5 = 1.6.
    /// (0,1,0) columns `1 2`, `1 1`, `2 2`: lengths 1,1 | 2 | 2 → 4 runs, SRE = (2 + ½)/4 = 0.625,
    ///   LRE = (1 + 1 + 4 + 4)/4 = 2.5.
    /// (0,1,1) lines start where `(y−1, x−1)` leaves the box: (0,0)→(1,1) `1 1`; (0,1)→(1,2)
    ///   `1 2`; (0,2) `2`; (1,0) `2` → lengths 2,1,1,1,1: SRE 0.85, LRE 1.6.
    /// (0,1,−1): (0,0) `1`; (0,1)→(1,0) `1 2`; (0,2)→(1,1) `2 1`; (1,2) `2` → 6 runs of 1.
    /// RunPercentage = N_r / 6 per angle.
    #[test]
    fn hand_computed_2d() {
        let d = discretized(vec![1, 1, 2, 2, 1, 2], [1, 2, 3]);
        let s = TextureSettings {
            force_2d: true,
            ..TextureSettings::default()
        };
        let v = compute(&d, &s);
        assert_close(
            get(&v, "ShortRunEmphasis"),
            (0.85 + 0.625 + 0.85 + 1.0) / 4.0,
            "SRE",
        );
        assert_close(
            get(&v, "RunPercentage"),
            (5.0 + 4.0 + 5.0 + 6.0) / 24.0,
            "RP",
        );
        assert_close(
            get(&v, "LongRunEmphasis"),
            (1.6 + 2.5 + 1.6 + 1.0) / 4.0,
            "LRE",
        );
    }

    #[test]
    fn flat_and_degenerate() {
        // A flat 3×3×3 cube of level 4: every line is one run.
        let d = discretized(vec![4; 27], [3, 3, 3]);
        let v = compute(&d, &TextureSettings::default());
        assert_close(get(&v, "GrayLevelNonUniformityNormalized"), 1.0, "GLNN");
        assert!(get(&v, "GrayLevelVariance").abs() < 1e-12);
        assert_close(get(&v, "HighGrayLevelRunEmphasis"), 16.0, "HGLRE");
        // A single voxel cannot hold any angle: NaN, no panic.
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
        // Two voxels on one line, separated by an outside voxel: the line holds 2 ROI voxels, so
        // PyRadiomics keeps the angle, with two runs of length 1.
        let gap = discretized(vec![1, 0, 1], [1, 1, 3]);
        let v = compute(&gap, &TextureSettings::default());
        assert_close(get(&v, "ShortRunEmphasis"), 1.0, "SRE gap");
    }

    // PyRadiomics 3.1.4 values for the shared fixtures; how they were made: see
    // `angles::fixtures` (script inline there). `PY_OPTIONS`: distances [1, 2],
    // symmetricalGLCM False, gldm_a 1.
    const PY_3D: &[(&str, f64)] = &[
        ("GrayLevelNonUniformity", 23.78251618356599),
        ("GrayLevelNonUniformityNormalized", 0.1712956164697543),
        ("GrayLevelVariance", 6.25988100058853),
        ("HighGrayLevelRunEmphasis", 26.086483868915465),
        ("LongRunEmphasis", 1.2558072868405612),
        ("LongRunHighGrayLevelEmphasis", 32.98754639268044),
        ("LongRunLowGrayLevelEmphasis", 0.2832142686600665),
        ("LowGrayLevelRunEmphasis", 0.2206378873350529),
        ("RunEntropy", 2.9230270851902156),
        ("RunLengthNonUniformity", 119.74537219789464),
        ("RunLengthNonUniformityNormalized", 0.861783935934289),
        ("RunPercentage", 0.9256410256410257),
        ("RunVariance", 0.08719987335938877),
        ("ShortRunEmphasis", 0.9432294381079357),
        ("ShortRunHighGrayLevelEmphasis", 24.587963281680473),
        ("ShortRunLowGrayLevelEmphasis", 0.20706730216056934),
    ];

    const PY_FORCE_2D: &[(&str, f64)] = &[
        ("GrayLevelNonUniformity", 23.687280874388634),
        ("GrayLevelNonUniformityNormalized", 0.1716465360830413),
        ("GrayLevelVariance", 6.262808875799665),
        ("HighGrayLevelRunEmphasis", 26.17442805357814),
        ("LongRunEmphasis", 1.274190871121837),
        ("LongRunHighGrayLevelEmphasis", 33.091552494395756),
        ("LongRunLowGrayLevelEmphasis", 0.2854065624009037),
        ("LowGrayLevelRunEmphasis", 0.2221230953962997),
        ("RunEntropy", 2.9446720062757805),
        ("RunLengthNonUniformity", 117.35815867891485),
        ("RunLengthNonUniformityNormalized", 0.8494010715661985),
        ("RunPercentage", 0.9199999999999999),
        ("RunVariance", 0.09030304336406605),
        ("ShortRunEmphasis", 0.9376310915898395),
        ("ShortRunHighGrayLevelEmphasis", 24.537112700233106),
        ("ShortRunLowGrayLevelEmphasis", 0.2086951491822773),
    ];

    const PY_FLAT: &[(&str, f64)] = &[
        ("GrayLevelNonUniformity", 14.846153846153847),
        ("GrayLevelNonUniformityNormalized", 1.0),
        ("GrayLevelVariance", 0.0),
        ("HighGrayLevelRunEmphasis", 1.0),
        ("LongRunEmphasis", 4.559514170040486),
        ("LongRunHighGrayLevelEmphasis", 4.559514170040486),
        ("LongRunLowGrayLevelEmphasis", 4.559514170040486),
        ("LowGrayLevelRunEmphasis", 1.0),
        ("RunEntropy", 1.0616396509593051),
        ("RunLengthNonUniformity", 7.5004048582995955),
        ("RunLengthNonUniformityNormalized", 0.5511953974003836),
        ("RunPercentage", 0.5498575498575498),
        ("RunVariance", 0.36585552951203926),
        ("ShortRunEmphasis", 0.48708951866846595),
        ("ShortRunHighGrayLevelEmphasis", 0.48708951866846595),
        ("ShortRunLowGrayLevelEmphasis", 0.48708951866846595),
    ];

    const PY_THIN: &[(&str, f64)] = &[
        ("GrayLevelNonUniformity", 5.333333333333334),
        ("GrayLevelNonUniformityNormalized", 0.18703703703703703),
        ("GrayLevelVariance", 7.098772290809327),
        ("HighGrayLevelRunEmphasis", 26.487037037037034),
        ("LongRunEmphasis", 1.2722222222222221),
        ("LongRunHighGrayLevelEmphasis", 32.63148148148148),
        ("LongRunLowGrayLevelEmphasis", 0.30890406378600826),
        ("LowGrayLevelRunEmphasis", 0.24340444958847735),
        ("RunEntropy", 2.781350433438214),
        ("RunLengthNonUniformity", 24.125925925925927),
        ("RunLengthNonUniformityNormalized", 0.8415775034293553),
        ("RunPercentage", 0.9193548387096775),
        ("RunVariance", 0.07921124828532235),
        ("ShortRunEmphasis", 0.9319444444444445),
        ("ShortRunHighGrayLevelEmphasis", 24.950925925925926),
        ("ShortRunLowGrayLevelEmphasis", 0.22702954603909467),
    ];

    const PY_OPTIONS: &[(&str, f64)] = &[
        ("GrayLevelNonUniformity", 23.78251618356599),
        ("GrayLevelNonUniformityNormalized", 0.1712956164697543),
        ("GrayLevelVariance", 6.25988100058853),
        ("HighGrayLevelRunEmphasis", 26.086483868915465),
        ("LongRunEmphasis", 1.2558072868405612),
        ("LongRunHighGrayLevelEmphasis", 32.98754639268044),
        ("LongRunLowGrayLevelEmphasis", 0.2832142686600665),
        ("LowGrayLevelRunEmphasis", 0.2206378873350529),
        ("RunEntropy", 2.9230270851902156),
        ("RunLengthNonUniformity", 119.74537219789464),
        ("RunLengthNonUniformityNormalized", 0.861783935934289),
        ("RunPercentage", 0.9256410256410257),
        ("RunVariance", 0.08719987335938877),
        ("ShortRunEmphasis", 0.9432294381079357),
        ("ShortRunHighGrayLevelEmphasis", 24.587963281680473),
        ("ShortRunLowGrayLevelEmphasis", 0.20706730216056934),
    ];

    const PY_SPLIT: &[(&str, f64)] = &[
        ("GrayLevelNonUniformity", 3.3263605442176867),
        ("GrayLevelNonUniformityNormalized", 0.2215037860382248),
        ("GrayLevelVariance", 4.135904802397149),
        ("HighGrayLevelRunEmphasis", 15.700510204081635),
        ("LongRunEmphasis", 1.2122448979591838),
        ("LongRunHighGrayLevelEmphasis", 18.79030612244898),
        ("LongRunLowGrayLevelEmphasis", 0.4806298185941043),
        ("LowGrayLevelRunEmphasis", 0.35729648526077096),
        ("RunEntropy", 2.452023077668438),
        ("RunLengthNonUniformity", 13.263945578231292),
        ("RunLengthNonUniformityNormalized", 0.8772659540006478),
        ("RunPercentage", 0.9375),
        ("RunVariance", 0.06136702299967606),
        ("ShortRunEmphasis", 0.9469387755102041),
        ("ShortRunHighGrayLevelEmphasis", 14.928061224489797),
        ("ShortRunLowGrayLevelEmphasis", 0.32646315192743763),
    ];

    #[test]
    fn matches_pyradiomics() {
        super::super::angles::fixtures::check_reference(
            compute,
            [PY_3D, PY_FORCE_2D, PY_OPTIONS, PY_FLAT, PY_THIN, PY_SPLIT],
        );
    }
}
