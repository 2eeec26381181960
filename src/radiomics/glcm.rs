//! Gray Level Co-occurrence Matrix features (PyRadiomics `glcm`, 24 features + 4 deprecated).
//!
//! How PyRadiomics builds the matrix, and so how this file does:
//! - one matrix per angle (13 in 3D, 4 with `force2D`, per distance; see [`super::angles`]);
//!   `P(i,j)` counts the voxels of level `i` whose neighbour at the angle's offset has level `j`,
//!   both voxels inside the ROI;
//! - gray levels absent from the ROI are dropped, but `i` and `j` in the formulas stay the real
//!   gray levels, and `N_g` (used by IDMN, IDN and the ranges of `k`) is the highest level present;
//! - with `symmetricalGLCM` the matrix is summed with its transpose (`P + Pᵀ`);
//! - angles without any pair are deleted (when there is more than one angle); a lone empty angle
//!   makes every feature NaN;
//! - each feature is computed on each angle's normalised matrix `p = P / ΣP` and the class value
//!   is the `nanmean` over the angles.
//!
//! `ε` is `numpy.spacing(1)` = 2.2·10⁻¹⁶, added inside every logarithm as PyRadiomics does.

use rayon::prelude::*;

use super::angles::{
    GrayLevels, OUTSIDE, for_each_pair, generate_angles, is_well_formed, nan_mean,
};
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

/// Every GLCM feature, in PyRadiomics' (alphabetical) order.
pub const FEATURES: &[FeatureDef] = &[
    def("Autocorrelation"),
    def("ClusterProminence"),
    def("ClusterShade"),
    def("ClusterTendency"),
    def("Contrast"),
    def("Correlation"),
    def("DifferenceAverage"),
    def("DifferenceEntropy"),
    def("DifferenceVariance"),
    deprecated("Dissimilarity"),
    deprecated("Homogeneity1"),
    deprecated("Homogeneity2"),
    def("Id"),
    def("Idm"),
    def("Idmn"),
    def("Idn"),
    def("Imc1"),
    def("Imc2"),
    def("InverseVariance"),
    def("JointAverage"),
    def("JointEnergy"),
    def("JointEntropy"),
    def("MCC"),
    def("MaximumProbability"),
    def("SumAverage"),
    def("SumEntropy"),
    def("SumSquares"),
    deprecated("SumVariance"),
];

const N_FEATURES: usize = 28;
const MCC: usize = 22;

/// All [`FEATURES`] of the ROI, in order. NaN throughout for an empty ROI, a box too small for
/// any angle (PyRadiomics raises there) or a lone angle without pairs.
#[must_use]
pub fn compute(d: &Discretized, s: &TextureSettings) -> ClassValues {
    let values = feature_values(d, s);
    FEATURES
        .iter()
        .zip(values)
        .map(|(f, v)| (f.name, v))
        .collect()
}

/// Above this many matrix cells (levels present squared; 2²⁶ cells = 512 MiB per matrix)
/// the class gives NaN instead of trying to allocate matrices no machine here holds.
const MAX_CELLS: usize = 1 << 26;

fn feature_values(d: &Discretized, s: &TextureSettings) -> [f64; N_FEATURES] {
    let mut out = [f64::NAN; N_FEATURES];
    let gl = GrayLevels::new(&d.levels);
    let angles = generate_angles(
        d.dims,
        &s.distances,
        false,
        s.force_2d,
        s.force_2d_dimension,
    );
    let n = gl.len();
    if !is_well_formed(d) || n == 0 || angles.is_empty() || n.saturating_mul(n) > MAX_CELLS {
        return out;
    }
    let slots = Slots::new(&gl);
    let lone_angle = angles.len() == 1;
    // Each angle's matrix is built, reduced to its features and dropped on its own thread, so
    // only one matrix per thread is alive at a time.
    let per_angle: Vec<Option<[f64; N_FEATURES]>> = angles
        .par_iter()
        .map(|&offset| {
            let mut m = vec![0.0; n * n];
            for_each_pair(d.dims, offset, |i, j| {
                let (ri, rj) = (gl.rows[i], gl.rows[j]);
                if ri != OUTSIDE && rj != OUTSIDE {
                    m[ri as usize * n + rj as usize] += 1.0;
                }
            });
            if s.symmetrical_glcm {
                symmetrise(&mut m, n);
            }
            // PyRadiomics deletes angles without pairs, unless it is the only angle.
            let empty = m.iter().all(|&c| c == 0.0);
            (lone_angle || !empty).then(|| angle_features(m, &gl, &slots))
        })
        .collect();
    for (f, value) in out.iter_mut().enumerate() {
        *value = nan_mean(per_angle.iter().flatten().map(|a| a[f]));
    }
    // PyRadiomics returns 1 for MCC when only one gray level is left (its matrices are 1×1),
    // checked after numpy's eigvals, which fails (→ NaN) on a lone empty (NaN) matrix.
    let lone_empty = lone_angle && per_angle.iter().flatten().all(|a| a[0].is_nan());
    if n < 2 && !lone_empty {
        out[MCC] = 1.0;
    }
    out
}

/// `P ← P + Pᵀ` in place.
fn symmetrise(m: &mut [f64], n: usize) {
    for i in 0..n {
        for j in i..n {
            let v = m[i * n + j] + m[j * n + i];
            m[i * n + j] = v;
            m[j * n + i] = v;
        }
    }
}

/// Where `p_{x+y}(k)` and `p_{x−y}(k)` keep each `k`. PyRadiomics sums over every
/// `k = 2..=2N_g` and `k = 0..N_g`; the `k`s no pair of present levels reaches carry 0 and add 0
/// to every feature, so a compact list of the reachable `k`s gives the same values. For the usual
/// level counts the slot is `k` itself (a dense array); for absurdly high levels it is the
/// position among the sorted reachable `k`s.
enum Slots {
    Dense { max_level: usize },
    Sparse { sums: Vec<u64>, diffs: Vec<u64> },
}

impl Slots {
    fn new(gl: &GrayLevels) -> Self {
        let max_level = gl.max_level() as usize;
        if max_level <= (1 << 20) {
            return Self::Dense { max_level };
        }
        let mut sums = Vec::new();
        let mut diffs = Vec::new();
        for &a in &gl.present {
            for &b in &gl.present {
                sums.push(u64::from(a) + u64::from(b));
                diffs.push(u64::from(a.abs_diff(b)));
            }
        }
        for v in [&mut sums, &mut diffs] {
            v.sort_unstable();
            v.dedup();
        }
        Self::Sparse { sums, diffs }
    }

    /// The `k` of every slot: `(sum ks, difference ks)`.
    fn ks(&self) -> (Vec<f64>, Vec<f64>) {
        match self {
            Self::Dense { max_level } => (
                (2..=2 * max_level).map(|k| k as f64).collect(),
                (0..*max_level).map(|k| k as f64).collect(),
            ),
            Self::Sparse { sums, diffs } => (
                sums.iter().map(|&k| k as f64).collect(),
                diffs.iter().map(|&k| k as f64).collect(),
            ),
        }
    }

    /// Slots of `i + j` and `|i − j|` for the levels `a`, `b`.
    fn of(&self, a: u32, b: u32) -> (usize, usize) {
        let (sum, diff) = (u64::from(a) + u64::from(b), u64::from(a.abs_diff(b)));
        match self {
            Self::Dense { .. } => ((sum - 2) as usize, diff as usize),
            Self::Sparse { sums, diffs } => (
                sums.binary_search(&sum).unwrap_or(0),
                diffs.binary_search(&diff).unwrap_or(0),
            ),
        }
    }
}

/// The marginals and sums every feature draws on, for one angle's normalised matrix.
struct Coefficients {
    /// Normalised matrix `p(i,j)`, row-major over the present levels.
    p: Vec<f64>,
    /// The real gray level of each row/column.
    levels: Vec<f64>,
    px: Vec<f64>,
    py: Vec<f64>,
    ux: f64,
    uy: f64,
    /// `p_{x+y}(k)` per slot, and each slot's `k`.
    p_sum: Vec<f64>,
    k_sum: Vec<f64>,
    /// `p_{x−y}(k)` per slot, and each slot's `k`.
    p_diff: Vec<f64>,
    k_diff: Vec<f64>,
    /// `N_g`: the highest gray level present.
    ng: f64,
    /// `HXY = −Σ p(i,j) log₂(p(i,j) + ε)`.
    hxy: f64,
}

impl Coefficients {
    /// Normalises `counts` in place into `p` and gathers the coefficients.
    fn new(mut p: Vec<f64>, gl: &GrayLevels, slots: &Slots) -> Self {
        let n = gl.len();
        let total: f64 = p.iter().sum();
        // PyRadiomics divides by NaN where the sum is 0, so an empty lone angle is all NaN.
        let total = if total == 0.0 { f64::NAN } else { total };
        for c in &mut p {
            *c /= total;
        }
        let levels = gl.values();
        let (k_sum, k_diff) = slots.ks();
        let (mut px, mut py) = (vec![0.0; n], vec![0.0; n]);
        let (mut p_sum, mut p_diff) = (vec![0.0; k_sum.len()], vec![0.0; k_diff.len()]);
        let (mut ux, mut uy, mut hxy) = (0.0, 0.0, 0.0);
        for i in 0..n {
            for j in 0..n {
                let v = p[i * n + j];
                px[i] += v;
                py[j] += v;
                ux += levels[i] * v;
                uy += levels[j] * v;
                if v != 0.0 {
                    // a zero cell adds 0·log₂(ε) = 0: skipping its logarithm changes nothing
                    hxy -= v * (v + EPS).log2();
                }
                let (sum, diff) = slots.of(gl.present[i], gl.present[j]);
                p_sum[sum] += v;
                p_diff[diff] += v;
            }
        }
        let ng = f64::from(gl.max_level());
        Self {
            p,
            levels,
            px,
            py,
            ux,
            uy,
            p_sum,
            k_sum,
            p_diff,
            k_diff,
            ng,
            hxy,
        }
    }

    fn n(&self) -> usize {
        self.levels.len()
    }

    /// `Σᵢⱼ p(i,j)·f(i, j)` over the real levels `i`, `j`.
    fn joint_sum(&self, f: impl Fn(f64, f64) -> f64) -> f64 {
        let n = self.n();
        let mut acc = 0.0;
        for (i, &li) in self.levels.iter().enumerate() {
            for (j, &lj) in self.levels.iter().enumerate() {
                acc += self.p[i * n + j] * f(li, lj);
            }
        }
        acc
    }

    /// `Σₖ p_{x−y}(k)·f(k)`, `k = 0..N_g`.
    fn diff_sum(&self, f: impl Fn(f64) -> f64) -> f64 {
        self.p_diff
            .iter()
            .zip(&self.k_diff)
            .map(|(&v, &k)| v * f(k))
            .sum()
    }

    /// `Σₖ p_{x+y}(k)·f(k)`, `k = 2..=2N_g`.
    fn sum_sum(&self, f: impl Fn(f64) -> f64) -> f64 {
        self.p_sum
            .iter()
            .zip(&self.k_sum)
            .map(|(&v, &k)| v * f(k))
            .sum()
    }
}

/// `−Σ v·log₂(v + ε)`.
fn entropy(values: &[f64]) -> f64 {
    -values.iter().map(|&v| v * (v + EPS).log2()).sum::<f64>()
}

/// All features of one angle, in [`FEATURES`] order.
fn angle_features(counts: Vec<f64>, gl: &GrayLevels, slots: &Slots) -> [f64; N_FEATURES] {
    let c = Coefficients::new(counts, gl, slots);
    let (ux, uy, ng) = (c.ux, c.uy, c.ng);
    let cluster = |power: i32| c.joint_sum(|i, j| (i + j - ux - uy).powi(power));
    let difference_average = c.diff_sum(|k| k);
    let sum_average = c.sum_sum(|k| k);
    let id = c.diff_sum(|k| 1.0 / (1.0 + k));
    let idm = c.diff_sum(|k| 1.0 / (1.0 + k * k));
    [
        // Autocorrelation Σ p(i,j)·i·j
        c.joint_sum(|i, j| i * j),
        // ClusterProminence Σ (i + j − μx − μy)⁴ p(i,j)
        cluster(4),
        // ClusterShade Σ (i + j − μx − μy)³ p(i,j)
        cluster(3),
        // ClusterTendency Σ (i + j − μx − μy)² p(i,j)
        cluster(2),
        // Contrast Σ (i − j)² p(i,j)
        c.joint_sum(|i, j| (i - j) * (i - j)),
        // Correlation (Σ p(i,j)·i·j − μx μy) / (σx σy)
        correlation(&c),
        // DifferenceAverage DA = Σₖ k p_{x−y}(k)
        difference_average,
        // DifferenceEntropy −Σₖ p_{x−y}(k) log₂(p_{x−y}(k) + ε)
        entropy(&c.p_diff),
        // DifferenceVariance Σₖ (k − DA)² p_{x−y}(k)
        c.diff_sum(|k| (k - difference_average).powi(2)),
        // Dissimilarity (deprecated) Σ |i − j| p(i,j) = DifferenceAverage
        difference_average,
        // Homogeneity1 (deprecated) Σ p(i,j) / (1 + |i − j|) = Id
        id,
        // Homogeneity2 (deprecated) Σ p(i,j) / (1 + |i − j|²) = Idm
        idm,
        // Id Σₖ p_{x−y}(k) / (1 + k)
        id,
        // Idm Σₖ p_{x−y}(k) / (1 + k²)
        idm,
        // Idmn Σₖ p_{x−y}(k) / (1 + k²/N_g²)
        c.diff_sum(|k| 1.0 / (1.0 + k * k / (ng * ng))),
        // Idn Σₖ p_{x−y}(k) / (1 + k/N_g)
        c.diff_sum(|k| 1.0 / (1.0 + k / ng)),
        // Imc1 (HXY − HXY1) / max(HX, HY)
        imc1(&c),
        // Imc2 √(1 − e^{−2(HXY2 − HXY)})
        imc2(&c),
        // InverseVariance Σ_{k≥1} p_{x−y}(k) / k² (k = 0 skipped: it would divide by 0)
        c.diff_sum(|k| if k == 0.0 { 0.0 } else { 1.0 / (k * k) }),
        // JointAverage μx = Σ p(i,j)·i
        ux,
        // JointEnergy Σ p(i,j)²
        c.p.iter().map(|v| v * v).sum(),
        // JointEntropy HXY
        c.hxy,
        // MCC √(second largest eigenvalue of Q)
        mcc(&c),
        // MaximumProbability max p(i,j)
        c.p.iter().copied().fold(f64::NEG_INFINITY, nan_max),
        // SumAverage SA = Σₖ k p_{x+y}(k)
        sum_average,
        // SumEntropy −Σₖ p_{x+y}(k) log₂(p_{x+y}(k) + ε)
        entropy(&c.p_sum),
        // SumSquares Σ (i − μx)² p(i,j)
        c.joint_sum(|i, _| (i - ux).powi(2)),
        // SumVariance (deprecated) Σₖ (k − SA)² p_{x+y}(k) = ClusterTendency
        c.sum_sum(|k| (k - sum_average).powi(2)),
    ]
}

/// `numpy.amax` semantics: NaN wins.
fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Correlation `(Σ p(i,j)·i·j − μx·μy) / (σx·σy)`, computed as PyRadiomics does:
/// `Σ p (i−μx)(j−μy) / (σx σy + ε)`, and 1 where `σx σy = 0` (flat region).
fn correlation(c: &Coefficients) -> f64 {
    let (ux, uy) = (c.ux, c.uy);
    let sigx = c.joint_sum(|i, _| (i - ux).powi(2)).sqrt();
    let sigy = c.joint_sum(|_, j| (j - uy).powi(2)).sqrt();
    let corm = c.joint_sum(|i, j| (i - ux) * (j - uy));
    if sigx * sigy == 0.0 {
        1.0
    } else {
        corm / (sigx * sigy + EPS)
    }
}

/// IMC1 `(HXY − HXY1) / max(HX, HY)`, 0 where both marginal entropies are 0.
fn imc1(c: &Coefficients) -> f64 {
    let hx = entropy(&c.px);
    let hy = entropy(&c.py);
    let n = c.n();
    let mut hxy1 = 0.0;
    for i in 0..n {
        for j in 0..n {
            let v = c.p[i * n + j];
            if v != 0.0 {
                hxy1 -= v * (c.px[i] * c.py[j] + EPS).log2();
            }
        }
    }
    let div = if hx.is_nan() {
        hy
    } else if hy.is_nan() {
        hx
    } else {
        hx.max(hy)
    };
    if div == 0.0 {
        0.0
    } else {
        (c.hxy - hxy1) / div
    }
}

/// IMC2 `√(1 − e^{−2(HXY2 − HXY)})`, 0 where `HXY2 = HXY`; NaN (skipped by the angle mean) where
/// rounding makes `HXY > HXY2`, as in PyRadiomics.
#[allow(clippy::float_cmp)] // PyRadiomics tests `HXY2 == HXY` exactly
fn imc2(c: &Coefficients) -> f64 {
    let mut hxy2 = 0.0;
    for &px in &c.px {
        for &py in &c.py {
            let v = px * py;
            if v != 0.0 {
                hxy2 -= v * (v + EPS).log2();
            }
        }
    }
    if hxy2 == c.hxy {
        0.0
    } else {
        (1.0 - std::f64::consts::E.powf(-2.0 * (hxy2 - c.hxy))).sqrt()
    }
}

/// Maximal Correlation Coefficient: √ of the second largest eigenvalue of
/// `Q(i,j) = Σₖ p(i,k)·p(j,k) / (p_x(i)·p_y(k))`.
///
/// `Q = Dx⁻¹ P Dy⁻¹ Pᵀ` is similar to the symmetric positive semi-definite
/// `S = (Dx^{-½} P Dy^{-½})(Dx^{-½} P Dy^{-½})ᵀ`, so its eigenvalues come from a symmetric solver
/// (PyRadiomics runs a general one, numpy's `eigvals`, on `Q` with `ε` added to the
/// denominators). Levels with a zero marginal give zero rows and columns in `Q`, i.e. eigenvalue
/// 0, which is what a zero row of `S` gives too. Rounding can leave a true 0 slightly negative;
/// it is clamped to 0.
fn mcc(c: &Coefficients) -> f64 {
    let n = c.n();
    if n < 2 || c.p.iter().any(|v| v.is_nan()) {
        return f64::NAN;
    }
    let scale = |v: f64| if v > 0.0 { 1.0 / v.sqrt() } else { 0.0 };
    let sx: Vec<f64> = c.px.iter().map(|&v| scale(v)).collect();
    let sy: Vec<f64> = c.py.iter().map(|&v| scale(v)).collect();
    let mut scaled = vec![0.0; n * n];
    for row in 0..n {
        for col in 0..n {
            scaled[row * n + col] = c.p[row * n + col] * sx[row] * sy[col];
        }
    }
    let mut gram = vec![0.0; n * n];
    for row in 0..n {
        let r1 = &scaled[row * n..(row + 1) * n];
        for other in 0..=row {
            let r2 = &scaled[other * n..(other + 1) * n];
            let v = dot(r1, r2);
            gram[row * n + other] = v;
            gram[other * n + row] = v;
        }
    }
    let Some(mut eig) = symmetric_eigenvalues(&mut gram, n) else {
        return f64::NAN;
    };
    eig.sort_by(f64::total_cmp);
    eig[n - 2].max(0.0).sqrt()
}

/// Eigenvalues of the symmetric `n×n` matrix `a` (row-major; overwritten): Householder reduction
/// to tridiagonal form, then the implicit QL algorithm (Numerical Recipes' `tred2` / `tqli`,
/// eigenvalues only). `None` if QL does not converge.
fn symmetric_eigenvalues(a: &mut [f64], n: usize) -> Option<Vec<f64>> {
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n];
    tridiagonalise(a, n, &mut d, &mut e);
    tridiagonal_ql(&mut d, &mut e)?;
    Some(d)
}

/// Householder tridiagonalisation: diagonal into `d`, sub-diagonal into `e[1..]`.
///
/// Numerical Recipes' `tred2` (eigenvalues only), but keeping the whole symmetric matrix up to
/// date instead of its lower triangle, so that every inner loop runs along a contiguous row.
#[allow(clippy::many_single_char_names)] // the textbook's names, to check it against the book
fn tridiagonalise(a: &mut [f64], n: usize, d: &mut [f64], e: &mut [f64]) {
    let mut u = vec![0.0; n];
    for i in (1..n).rev() {
        let l = i - 1;
        let mut h = 0.0;
        let row_i = i * n;
        if l > 0 {
            let scale: f64 = a[row_i..=row_i + l].iter().map(|v| v.abs()).sum();
            if scale == 0.0 {
                e[i] = a[row_i + l];
            } else {
                for k in 0..=l {
                    a[row_i + k] /= scale;
                    h += a[row_i + k] * a[row_i + k];
                }
                let f = a[row_i + l];
                let g = if f >= 0.0 { -h.sqrt() } else { h.sqrt() };
                e[i] = scale * g;
                h -= f * g;
                a[row_i + l] = f - g;
                u[..=l].copy_from_slice(&a[row_i..=row_i + l]);
                // p = A·u / h, and K = uᵀp / 2h
                let mut f = 0.0;
                for j in 0..=l {
                    e[j] = dot(&a[j * n..=j * n + l], &u[..=l]) / h;
                    f += e[j] * u[j];
                }
                let hh = f / (h + h);
                // q = p − K·u, then A ← A − u·qᵀ − q·uᵀ (both triangles)
                for j in 0..=l {
                    e[j] -= hh * u[j];
                }
                for j in 0..=l {
                    let (uj, qj) = (u[j], e[j]);
                    for ((x, &qk), &uk) in
                        a[j * n..=j * n + l].iter_mut().zip(&e[..=l]).zip(&u[..=l])
                    {
                        *x -= uj * qk + qj * uk;
                    }
                }
            }
        } else {
            e[i] = a[row_i + l];
        }
        d[i] = h;
    }
    for i in 0..n {
        d[i] = a[i * n + i];
    }
}

/// `Σ aᵢbᵢ` with four running sums, so the loop vectorises.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Implicit QL with Wilkinson shifts on the tridiagonal matrix (`d` diagonal, `e[1..]`
/// sub-diagonal); eigenvalues left in `d`.
#[allow(clippy::many_single_char_names)] // the textbook's names, to check it against the book
fn tridiagonal_ql(d: &mut [f64], e: &mut [f64]) -> Option<()> {
    let n = d.len();
    if n == 0 {
        return Some(());
    }
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    for l in 0..n {
        let mut iterations = 0;
        loop {
            let mut m = l;
            while m + 1 < n {
                let dd = d[m].abs() + d[m + 1].abs();
                if e[m].abs() <= f64::EPSILON * dd {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            iterations += 1;
            if iterations > 60 {
                return None;
            }
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = g.hypot(1.0);
            g = d[m] - d[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0, 1.0, 0.0);
            let mut underflow = false;
            for i in (l..m).rev() {
                let f = s * e[i];
                let b = c * e[i];
                r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    underflow = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
            }
            if underflow {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
    Some(())
}

#[cfg(test)]
#[allow(clippy::unreadable_literal)] // PyRadiomics' values, pasted as Python prints them
mod tests {
    use super::*;

    use super::super::angles::fixtures::{assert_close, discretized, get};

    #[test]
    fn features_match_the_list() {
        assert_eq!(FEATURES.len(), N_FEATURES);
        assert_eq!(FEATURES[MCC].name, "MCC");
        assert_eq!(FEATURES.iter().filter(|f| !f.deprecated).count(), 24);
    }

    #[test]
    fn eigenvalues_of_a_known_matrix() {
        // [[2,1,0],[1,2,1],[0,1,2]] has eigenvalues 2−√2, 2, 2+√2.
        let mut a = vec![2.0, 1.0, 0.0, 1.0, 2.0, 1.0, 0.0, 1.0, 2.0];
        let mut e = symmetric_eigenvalues(&mut a, 3).unwrap();
        e.sort_by(f64::total_cmp);
        let r2 = 2f64.sqrt();
        for (got, want) in e.iter().zip([2.0 - r2, 2.0, 2.0 + r2]) {
            assert!((got - want).abs() < 1e-14, "{got} vs {want}");
        }
        let mut one = vec![5.0];
        assert_eq!(symmetric_eigenvalues(&mut one, 1).unwrap(), vec![5.0]);
    }

    /// A 1×2×3 image, all inside, force2D (4 angles of which (0,1,1), (0,1,0), (0,1,−1), (0,0,1)):
    /// ```text
    /// 1 1 2
    /// 2 1 2
    /// ```
    /// angle (0,0,1): pairs (1,1) (1,2) (2,1) (1,2) → P = [[1,2],[1,0]], symmetric
    /// P+Pᵀ = [[2,3],[3,0]], total 8: p = [[.25,.375],[.375,0]].
    /// Contrast = 2·.375 = 0.75; JointEnergy = .0625 + 2·.140625 = 0.34375;
    /// JointAverage = 1·(.625) + 2·(.375) = 1.375; MaximumProbability = .375;
    /// Id = .25 + .75/2 = .625; Idm = .25 + .75/2 = .625; DifferenceAverage = .75.
    /// angle (0,1,0): pairs (1,2) (1,1) (2,2) → P+Pᵀ = [[2,1],[1,2]], total 6:
    /// Contrast = 2/6; JointEnergy = (4+1+1+4)/36 = 10/36; JointAverage = 1.5; MaxProb = 1/3;
    /// Id = 4/6 + (2/6)/2 = 5/6.
    /// angle (0,1,1): pairs (1,1) (1,2) → P+Pᵀ = [[2,1],[1,0]], total 4: Contrast = .5,
    /// JointEnergy = (4+1+1)/16 = .375, JointAverage = 1.25, MaxProb = .5, Id = .5 + .25 = .75.
    /// angle (0,1,−1): pairs (1,2) (2,1) → P+Pᵀ = [[0,2],[2,0]], total 4: Contrast = 1,
    /// JointEnergy = .5, JointAverage = 1.5, MaxProb = .5, Id = .5.
    #[test]
    fn hand_computed_2d() {
        let d = discretized(vec![1, 1, 2, 2, 1, 2], [1, 2, 3]);
        let s = TextureSettings {
            force_2d: true,
            ..TextureSettings::default()
        };
        let v = compute(&d, &s);
        assert_eq!(v.len(), 28);
        let mean4 = |a: f64, b: f64, c: f64, e: f64| (a + b + c + e) / 4.0;
        assert_close(
            get(&v, "Contrast"),
            mean4(0.75, 2.0 / 6.0, 0.5, 1.0),
            "Contrast",
        );
        assert_close(
            get(&v, "JointEnergy"),
            mean4(0.34375, 10.0 / 36.0, 0.375, 0.5),
            "JE",
        );
        assert_close(get(&v, "JointAverage"), mean4(1.375, 1.5, 1.25, 1.5), "JA");
        assert_close(
            get(&v, "MaximumProbability"),
            mean4(0.375, 1.0 / 3.0, 0.5, 0.5),
            "MP",
        );
        assert_close(get(&v, "Id"), mean4(0.625, 5.0 / 6.0, 0.75, 0.5), "Id");
        assert_close(get(&v, "Homogeneity1"), get(&v, "Id"), "Homogeneity1");
        assert_close(
            get(&v, "DifferenceAverage"),
            mean4(0.75, 2.0 / 6.0, 0.5, 1.0),
            "DA",
        );
        assert_close(get(&v, "SumAverage"), 2.0 * get(&v, "JointAverage"), "SA");
    }

    #[test]
    fn flat_roi() {
        // PyRadiomics on a flat 3×3×3 cube: Correlation 1, Imc1 0, Imc2 0, MCC 1, IDMN 1 …
        let d = discretized(vec![1; 27], [3, 3, 3]);
        let v = compute(&d, &TextureSettings::default());
        let expect = [
            ("Autocorrelation", 1.0),
            ("ClusterProminence", 0.0),
            ("Contrast", 0.0),
            ("Correlation", 1.0),
            ("DifferenceEntropy", 0.0),
            ("Id", 1.0),
            ("Idmn", 1.0),
            ("Imc1", 0.0),
            ("Imc2", 0.0),
            ("InverseVariance", 0.0),
            ("JointAverage", 1.0),
            ("JointEnergy", 1.0),
            ("MCC", 1.0),
            ("MaximumProbability", 1.0),
            ("SumAverage", 2.0),
            ("SumSquares", 0.0),
        ];
        for (name, want) in expect {
            let got = get(&v, name);
            assert!((got - want).abs() < 1e-9, "{name}: {got}");
        }
        assert!(get(&v, "JointEntropy").abs() < 1e-9);
    }

    /// Levels far apart take the sparse paths (no level-sized tables): a 1×1×2 ROI `1 2000001`,
    /// one angle, symmetric p = [[0, ½], [½, 0]]: Contrast = (2·10⁶)², DifferenceAverage = 2·10⁶,
    /// JointAverage = 1000001, SumAverage = 2000002, Idn = 1 / (1 + 2·10⁶/2000001).
    #[test]
    fn huge_levels() {
        let d = discretized(vec![1, 2_000_001], [1, 1, 2]);
        let v = compute(&d, &TextureSettings::default());
        assert_close(get(&v, "Contrast"), 4e12, "Contrast");
        assert_close(get(&v, "DifferenceAverage"), 2e6, "DA");
        assert_close(get(&v, "JointAverage"), 1_000_001.0, "JA");
        assert_close(get(&v, "SumAverage"), 2_000_002.0, "SA");
        assert_close(get(&v, "Idn"), 1.0 / (1.0 + 2e6 / 2_000_001.0), "Idn");
    }

    #[test]
    fn degenerate_inputs_give_nan_without_panicking() {
        let single = discretized(vec![0, 3, 0], [1, 1, 3]);
        let v = compute(&single, &TextureSettings::default());
        assert!(get(&v, "Contrast").is_nan());
        let malformed = discretized(vec![1, 2, 1], [2, 2, 2]);
        assert!(
            compute(&malformed, &TextureSettings::default())
                .iter()
                .all(|(_, v)| v.is_nan())
        );
        let empty = discretized(vec![0; 8], [2, 2, 2]);
        assert!(
            compute(&empty, &TextureSettings::default())
                .iter()
                .all(|(_, v)| v.is_nan())
        );
        let no_distance = TextureSettings {
            distances: vec![],
            ..TextureSettings::default()
        };
        let d = discretized(vec![1, 2, 1, 2], [1, 2, 2]);
        assert!(compute(&d, &no_distance).iter().all(|(_, v)| v.is_nan()));
    }

    // PyRadiomics 3.1.4 values for the shared fixtures; how they were made: see
    // `angles::fixtures` (script inline there). `PY_OPTIONS`: distances [1, 2],
    // symmetricalGLCM False, gldm_a 1.
    const PY_3D: &[(&str, f64)] = &[
        ("Autocorrelation", 18.910019037786086),
        ("ClusterProminence", 348.54884365377006),
        ("ClusterShade", 3.3872143444046574),
        ("ClusterTendency", 12.1662903957442),
        ("Contrast", 13.074049539526339),
        ("Correlation", -0.03516398390311433),
        ("DifferenceAverage", 2.907776037635096),
        ("DifferenceEntropy", 2.862490511554901),
        ("DifferenceVariance", 4.575960285354556),
        ("Id", 0.3910695517128114),
        ("Idm", 0.30003511833546515),
        ("Idmn", 0.8562338464343912),
        ("Idn", 0.7622339209788968),
        ("Imc1", -0.07109079511632611),
        ("Imc2", 0.5446609083193795),
        ("InverseVariance", 0.22142313258064059),
        ("JointAverage", 4.3723160741548845),
        ("JointEnergy", 0.03603534688082319),
        ("JointEntropy", 4.929097614051784),
        ("MCC", 0.3519704119800646),
        ("MaximumProbability", 0.060944386400041885),
        ("SumAverage", 8.744632148309769),
        ("SumEntropy", 3.564249200074286),
        ("SumSquares", 6.310084983817635),
    ];

    const PY_FORCE_2D: &[(&str, f64)] = &[
        ("Autocorrelation", 19.521437828497373),
        ("ClusterProminence", 310.45706766170076),
        ("ClusterShade", 0.22854860741974425),
        ("ClusterTendency", 11.09148126213739),
        ("Contrast", 13.736790580675354),
        ("Correlation", -0.10678267693897209),
        ("DifferenceAverage", 3.0106183400532798),
        ("DifferenceEntropy", 2.8909208093296845),
        ("DifferenceVariance", 4.658129422274701),
        ("Id", 0.3778760622593591),
        ("Idm", 0.2850045831398666),
        ("Idmn", 0.8498736940750777),
        ("Idn", 0.7551509392869911),
        ("Imc1", -0.0661713715488528),
        ("Imc2", 0.5325692345433695),
        ("InverseVariance", 0.21985039866619843),
        ("JointAverage", 4.491732103643171),
        ("JointEnergy", 0.03528957879588448),
        ("JointEntropy", 4.957102980377302),
        ("MCC", 0.35794617630389713),
        ("MaximumProbability", 0.061569519943840446),
        ("SumAverage", 8.983464207286342),
        ("SumEntropy", 3.5094656038731937),
        ("SumSquares", 6.207067960703186),
    ];

    const PY_FLAT: &[(&str, f64)] = &[
        ("Autocorrelation", 1.0),
        ("ClusterProminence", 0.0),
        ("ClusterShade", 0.0),
        ("ClusterTendency", 0.0),
        ("Contrast", 0.0),
        ("Correlation", 1.0),
        ("DifferenceAverage", 0.0),
        ("DifferenceEntropy", -3.2034265038149176e-16),
        ("DifferenceVariance", 0.0),
        ("Id", 1.0),
        ("Idm", 1.0),
        ("Idmn", 1.0),
        ("Idn", 1.0),
        ("Imc1", 0.0),
        ("Imc2", 0.0),
        ("InverseVariance", 0.0),
        ("JointAverage", 1.0),
        ("JointEnergy", 1.0),
        ("JointEntropy", -3.2034265038149176e-16),
        ("MCC", 1.0),
        ("MaximumProbability", 1.0),
        ("SumAverage", 2.0),
        ("SumEntropy", -3.2034265038149176e-16),
        ("SumSquares", 0.0),
    ];

    const PY_THIN: &[(&str, f64)] = &[
        ("Autocorrelation", 17.23343515037594),
        ("ClusterProminence", 383.79677190922274),
        ("ClusterShade", 8.242851830073679),
        ("ClusterTendency", 12.12254723978279),
        ("Contrast", 18.071963763575603),
        ("Correlation", -0.19853545221706598),
        ("DifferenceAverage", 3.510168650793651),
        ("DifferenceEntropy", 2.6666786581753725),
        ("DifferenceVariance", 5.58246285615245),
        ("Id", 0.35662451018419067),
        ("Idm", 0.26252702883411083),
        ("Idmn", 0.812450851135828),
        ("Idn", 0.7278707157388234),
        ("Imc1", -0.23850485491863824),
        ("Imc2", 0.8091971236688312),
        ("InverseVariance", 0.16724909186645276),
        ("JointAverage", 4.319007153299916),
        ("JointEnergy", 0.06518803921342187),
        ("JointEntropy", 4.151695897630508),
        ("MCC", 0.5822222710147635),
        ("MaximumProbability", 0.1054328529657477),
        ("SumAverage", 8.638014306599832),
        ("SumEntropy", 3.0574002543244387),
        ("SumSquares", 7.548627750839598),
    ];

    const PY_OPTIONS: &[(&str, f64)] = &[
        ("Autocorrelation", 18.680985305519116),
        ("ClusterProminence", 355.7465895313521),
        ("ClusterShade", 5.382826144504881),
        ("ClusterTendency", 12.317499560894012),
        ("Contrast", 13.010940249670512),
        ("Correlation", -0.021547829636963025),
        ("DifferenceAverage", 2.8985512443459593),
        ("DifferenceEntropy", 2.8248180075093776),
        ("DifferenceVariance", 4.530728271233168),
        ("Id", 0.3895136917011359),
        ("Idm", 0.29825089734467614),
        ("Idmn", 0.8572515982585893),
        ("Idn", 0.7626629663287787),
        ("Imc1", -0.18730510890213184),
        ("Imc2", 0.7674528971716925),
        ("InverseVariance", 0.22618419436434897),
        ("JointAverage", 4.301309519016467),
        ("JointEnergy", 0.047189810957001546),
        ("JointEntropy", 4.575938811702524),
        ("MCC", 0.5219076216471552),
        ("MaximumProbability", 0.08518679538015202),
        ("SumAverage", 8.678044553524446),
        ("SumEntropy", 3.4917137816987642),
        ("SumSquares", 6.616339176183831),
    ];

    const PY_SPLIT: &[(&str, f64)] = &[
        ("Autocorrelation", 12.226190476190476),
        ("ClusterProminence", 162.89744543650795),
        ("ClusterShade", 0.4064153439153557),
        ("ClusterTendency", 8.482142857142858),
        ("Contrast", 8.380952380952381),
        ("Correlation", -0.006880593818283707),
        ("DifferenceAverage", 2.333333333333333),
        ("DifferenceEntropy", 1.8924454617860005),
        ("DifferenceVariance", 2.1567460317460316),
        ("Id", 0.43204365079365076),
        ("Idm", 0.3469510881275587),
        ("Idmn", 0.8401266268069547),
        ("Idn", 0.7517457740672027),
        ("Imc1", -0.5413146536638248),
        ("Imc2", 0.9199074745474506),
        ("InverseVariance", 0.27200066137566137),
        ("JointAverage", 3.488095238095238),
        ("JointEnergy", 0.1375248015873016),
        ("JointEntropy", 3.042830357657966),
        ("MCC", 0.8828200050224831),
        ("MaximumProbability", 0.16666666666666669),
        ("SumAverage", 6.976190476190476),
        ("SumEntropy", 2.178159747500286),
        ("SumSquares", 4.215773809523809),
    ];

    #[test]
    fn matches_pyradiomics() {
        super::super::angles::fixtures::check_reference(
            compute,
            [PY_3D, PY_FORCE_2D, PY_OPTIONS, PY_FLAT, PY_THIN, PY_SPLIT],
        );
    }

    #[test]
    fn deprecated_features_equal_their_replacements() {
        // PyRadiomics computes no value for these; they are the features they duplicate.
        let v = compute(&fixtures_random(), &TextureSettings::default());
        for (old, new) in [
            ("Dissimilarity", "DifferenceAverage"),
            ("Homogeneity1", "Id"),
            ("Homogeneity2", "Idm"),
            ("SumVariance", "ClusterTendency"),
        ] {
            let (a, b) = (get(&v, old), get(&v, new));
            assert!(
                (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                "{old} {a} vs {new} {b}"
            );
        }
    }

    fn fixtures_random() -> Discretized {
        super::super::angles::fixtures::random()
    }
}
