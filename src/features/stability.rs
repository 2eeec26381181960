//! Feature stability as ICC(1,1): one-way random effects, single measurement (Shrout & Fleiss
//! 1979, case 1; Koo & Li 2016), over cases each measured on the original image and on its
//! perturbations ([`super::perturb`]). Pure maths, no I/O.

use statrs::distribution::{ContinuousCDF, FisherSnedecor};

/// Features with an ICC below this are called unstable (Koo & Li's "moderate" below 0.75).
pub const STABLE_ICC: f64 = 0.75;

/// The one rule for "unstable": an ICC below [`STABLE_ICC`], or none measurable (NaN).
#[must_use]
pub fn is_unstable(icc: f64) -> bool {
    icc.is_nan() || icc < STABLE_ICC
}

/// ICC(1,1) of a table, with its 95 % confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Icc {
    pub icc: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// Cases (rows) used.
    pub n_cases: usize,
    /// Measurements per case (columns).
    pub n_measurements: usize,
}

impl Icc {
    /// Unstable: below [`STABLE_ICC`], or not measurable (NaN).
    #[must_use]
    pub fn unstable(&self) -> bool {
        is_unstable(self.icc)
    }
}

/// ICC(1,1) of `rows` (one per case, each with the same number k of measurements):
///
/// MSB = k Σᵢ (x̄ᵢ − x̄)² / (n − 1), MSW = Σᵢ Σⱼ (xᵢⱼ − x̄ᵢ)² / (n (k − 1)),
/// ICC = (MSB − MSW) / (MSB + (k − 1) MSW);
///
/// 95 % interval from F₀ = MSB / MSW with F(n − 1, n (k − 1)):
/// F_L = F₀ / F₀.₉₇₅(n − 1, n(k − 1)), F_U = F₀ · F₀.₉₇₅(n(k − 1), n − 1),
/// low = (F_L − 1) / (F_L + k − 1), high = (F_U − 1) / (F_U + k − 1).
///
/// NaN everywhere when there are fewer than 2 rows, fewer than 2 measurements, rows of unequal
/// length, or no variance at all; 1 (interval 1…1) when the rows differ but their measurements
/// agree exactly.
#[must_use]
pub fn icc_1_1(rows: &[Vec<f64>]) -> Icc {
    let n = rows.len();
    let k = rows.first().map_or(0, Vec::len);
    let nan = Icc {
        icc: f64::NAN,
        ci_low: f64::NAN,
        ci_high: f64::NAN,
        n_cases: n,
        n_measurements: k,
    };
    if n < 2 || k < 2 || rows.iter().any(|r| r.len() != k) {
        return nan;
    }
    let (nf, kf) = (n as f64, k as f64);
    let means: Vec<f64> = rows.iter().map(|r| r.iter().sum::<f64>() / kf).collect();
    let grand = means.iter().sum::<f64>() / nf;
    let msb = kf * means.iter().map(|m| (m - grand).powi(2)).sum::<f64>() / (nf - 1.0);
    let ssw: f64 = rows
        .iter()
        .zip(&means)
        .map(|(r, m)| r.iter().map(|x| (x - m).powi(2)).sum::<f64>())
        .sum();
    let msw = ssw / (nf * (kf - 1.0));
    if !(msb.is_finite() && msw.is_finite()) || msb + msw == 0.0 {
        return nan;
    }
    if msw == 0.0 {
        return Icc {
            icc: 1.0,
            ci_low: 1.0,
            ci_high: 1.0,
            ..nan
        };
    }
    let icc = (msb - msw) / (msb + (kf - 1.0) * msw);
    let f0 = msb / msw;
    let (df_between, df_within) = (nf - 1.0, nf * (kf - 1.0));
    let quantile =
        |d1: f64, d2: f64| FisherSnedecor::new(d1, d2).map_or(f64::NAN, |f| f.inverse_cdf(0.975));
    let f_low = f0 / quantile(df_between, df_within);
    let f_high = f0 * quantile(df_within, df_between);
    Icc {
        icc,
        ci_low: (f_low - 1.0) / (f_low + kf - 1.0),
        ci_high: (f_high - 1.0) / (f_high + kf - 1.0),
        ..nan
    }
}

/// A case's measurements of every feature: the original row first, then one per perturbation
/// (`None` where that perturbation failed).
pub type CaseMeasurements = Vec<Option<Vec<(String, f64)>>>;

/// One feature's stability.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureStability {
    pub feature: String,
    /// `shape`, `glcm`, … for `original_<class>_<name>`; `deep` for `deep_*`.
    pub class: String,
    pub icc: Icc,
}

/// The class a feature column belongs to.
#[must_use]
pub fn feature_class(name: &str) -> String {
    if name.starts_with("deep_") {
        return "deep".into();
    }
    let mut parts = name.splitn(3, '_');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(class), Some(_)) => class.to_owned(),
        _ => String::new(),
    }
}

/// ICC(1,1) of each feature of `features` over `cases`: a case takes part in a feature's ICC
/// only when all its measurements of that feature exist and are finite (a failed perturbation
/// leaves the case out; `n_cases` counts those left in).
#[must_use]
pub fn feature_stability(features: &[String], cases: &[CaseMeasurements]) -> Vec<FeatureStability> {
    features
        .iter()
        .map(|feature| {
            let rows: Vec<Vec<f64>> = cases
                .iter()
                .filter_map(|measurements| {
                    measurements
                        .iter()
                        .map(|m| {
                            m.as_ref()?
                                .iter()
                                .find(|(n, _)| n == feature)
                                .map(|(_, v)| *v)
                                .filter(|v| v.is_finite())
                        })
                        .collect::<Option<Vec<f64>>>()
                })
                .collect();
            let mut icc = icc_1_1(&rows);
            if rows.is_empty() {
                icc.n_measurements = cases.first().map_or(0, Vec::len);
            }
            FeatureStability {
                feature: feature.clone(),
                class: feature_class(feature),
                icc,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges.
    fn shrout_fleiss() -> Vec<Vec<f64>> {
        vec![
            vec![9.0, 2.0, 5.0, 8.0],
            vec![6.0, 1.0, 3.0, 2.0],
            vec![8.0, 4.0, 6.0, 8.0],
            vec![7.0, 1.0, 2.0, 6.0],
            vec![10.0, 5.0, 6.0, 9.0],
            vec![6.0, 2.0, 4.0, 7.0],
        ]
    }

    #[test]
    fn icc_of_shrout_and_fleiss_table_by_hand() {
        // Row means 6, 3, 6.5, 4, 7.5, 4.75; grand mean 127/24.
        // MSB = 4 · 14.0520833… / 5 = 11.2416667; SSW = 30 + 14 + 11 + 26 + 17 + 14.75 = 112.75,
        // MSW = 112.75 / 18 = 6.2638889; ICC = (11.2416667 − 6.2638889) / (11.2416667 + 3 · 6.2638889)
        // = 4.9777778 / 30.0333333 = 0.1657425 (S&F report 0.17).
        let icc = icc_1_1(&shrout_fleiss());
        assert!((icc.icc - 0.165_742_5).abs() < 1e-6, "{icc:?}");
        assert_eq!((icc.n_cases, icc.n_measurements), (6, 4));
        // F0 = 1.7946785 on (5, 18) df; F.975(5, 18) = 3.38197, F.975(18, 5) = 6.36188 (found by
        // bisecting a numerically integrated F density, independently of statrs):
        // F_L = 0.530663, low = −0.469337 / 3.530663 = −0.13293; F_U = 11.41751,
        // high = 10.41751 / 14.41751 = 0.72256 (R's psych::ICC on this table: −0.13, 0.72).
        assert!((icc.ci_low + 0.13293).abs() < 5e-5, "{icc:?}");
        assert!((icc.ci_high - 0.72256).abs() < 5e-5, "{icc:?}");
        assert!(icc.unstable());
    }

    #[test]
    fn identical_measurements_give_one_and_pure_noise_near_zero() {
        let same: Vec<Vec<f64>> = (0..5).map(|i| vec![f64::from(i); 3]).collect();
        let icc = icc_1_1(&same);
        assert_eq!((icc.icc, icc.ci_low, icc.ci_high), (1.0, 1.0, 1.0));
        assert!(!icc.unstable());
        // Cases equal, measurements differing: all variance is within → ICC = −1/(k − 1).
        let within: Vec<Vec<f64>> = (0..5).map(|_| vec![1.0, 2.0, 3.0]).collect();
        assert!((icc_1_1(&within).icc + 0.5).abs() < 1e-12);
        assert!(icc_1_1(&[vec![1.0, 2.0]]).icc.is_nan());
        assert!(icc_1_1(&[vec![1.0, 1.0], vec![1.0, 1.0]]).icc.is_nan());
    }

    #[test]
    fn a_failed_perturbation_leaves_its_case_out_of_the_feature() {
        let row = |a: f64, b: f64| {
            Some(vec![
                ("original_shape_A".to_owned(), a),
                ("deep_x_0".to_owned(), b),
            ])
        };
        let cases: Vec<CaseMeasurements> = vec![
            vec![row(1.0, 5.0), row(1.1, 5.0), row(0.9, f64::NAN)],
            vec![row(3.0, 7.0), None, row(3.1, 7.0)],
            vec![row(5.0, 9.0), row(5.1, 9.1), row(4.9, 9.0)],
            vec![row(7.0, 1.0), row(7.1, 1.0), row(6.9, 1.1)],
        ];
        let out = feature_stability(&["original_shape_A".into(), "deep_x_0".into()], &cases);
        assert_eq!(out[0].class, "shape");
        assert_eq!(out[1].class, "deep");
        assert_eq!(out[0].icc.n_cases, 3);
        assert_eq!(out[1].icc.n_cases, 2);
        assert_eq!(out[0].icc.n_measurements, 3);
        assert!(out[0].icc.icc > 0.99);
    }
}
