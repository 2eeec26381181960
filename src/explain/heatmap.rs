//! The result of an explanation: raw attribution values on the source slice's grid, with where
//! they came from. Display scaling is a separate, explicit step: the raw values are never changed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::Method;

/// Raw attributions, row-major `rows × cols` (the source slice's grid), and their provenance.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Heatmap {
    /// Raw values in the method's own units (score units for IG/occlusion/LIME/KernelSHAP).
    #[serde(skip)]
    pub values: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
    pub provenance: Provenance,
}

/// What produced a heatmap.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Provenance {
    pub method: Method,
    /// The parameters the method used, defaults filled in, plus derived facts (e.g. IG's
    /// convergence delta, the number of superpixels).
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// Explained class: index and manifest name.
    pub target: usize,
    pub target_name: String,
    /// The target's logit for the unperturbed input.
    pub score: f32,
    pub model_name: String,
    pub model_path: PathBuf,
    /// The model's input grid `[H, W]` the attribution was computed on.
    pub input_size: [usize; 2],
    /// Inputs the model was run on (each batch counts its size).
    pub forward_passes: usize,
    /// Values carry a sign (positive: for the class, negative: against it); otherwise >= 0.
    pub signed: bool,
    pub elapsed_ms: f64,
}

/// How raw values map to `[0, 1]` (or `[-1, 1]`) for display.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Normalisation {
    /// `(v - min) / (max - min)` → `[0, 1]`.
    #[default]
    MinMax,
    /// Like `MinMax` between two percentiles (in `[0, 100]`), clamped: robust to outliers.
    Percentile { low: f32, high: f32 },
    /// `v / max|v|` → `[-1, 1]`: keeps zero at zero, for signed maps.
    MaxAbs,
}

impl Heatmap {
    /// Smallest and largest raw value (`(0, 0)` when empty).
    #[must_use]
    pub fn range(&self) -> (f32, f32) {
        let (lo, hi) = self
            .values
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        if lo > hi { (0.0, 0.0) } else { (lo, hi) }
    }

    /// The `(low, high)` raw values that `normalisation` maps to its ends.
    #[must_use]
    pub fn display_range(&self, normalisation: Normalisation) -> (f32, f32) {
        match normalisation {
            Normalisation::MinMax => self.range(),
            Normalisation::Percentile { low, high } => {
                let mut sorted = self.values.clone();
                sorted.sort_by(f32::total_cmp);
                let at = |p: f32| {
                    let Some(last) = sorted.len().checked_sub(1) else {
                        return 0.0;
                    };
                    let i = ((p.clamp(0.0, 100.0) / 100.0) * last as f32).round() as usize;
                    sorted[i.min(last)]
                };
                (at(low), at(high))
            }
            Normalisation::MaxAbs => {
                let (lo, hi) = self.range();
                let m = lo.abs().max(hi.abs());
                (-m, m)
            }
        }
    }

    /// A normalised copy for display; the heatmap's raw values stay as they are.
    #[must_use]
    pub fn normalised(&self, normalisation: Normalisation) -> Vec<f32> {
        let (lo, hi) = self.display_range(normalisation);
        match normalisation {
            Normalisation::MaxAbs => {
                let m = hi.max(f32::MIN_POSITIVE);
                self.values.iter().map(|v| v / m).collect()
            }
            Normalisation::MinMax | Normalisation::Percentile { .. } => {
                let span = hi - lo;
                self.values
                    .iter()
                    .map(|v| {
                        if span > 0.0 {
                            ((v - lo) / span).clamp(0.0, 1.0)
                        } else {
                            0.0
                        }
                    })
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heatmap(values: Vec<f32>) -> Heatmap {
        Heatmap {
            rows: 1,
            cols: values.len(),
            values,
            provenance: Provenance {
                method: Method::Occlusion,
                parameters: BTreeMap::new(),
                target: 0,
                target_name: "a".to_owned(),
                score: 0.0,
                model_name: "m".to_owned(),
                model_path: PathBuf::from("m.pt"),
                input_size: [1, 1],
                forward_passes: 0,
                signed: true,
                elapsed_ms: 0.0,
            },
        }
    }

    #[test]
    fn normalising_returns_a_copy_and_keeps_the_raw_values() {
        let h = heatmap(vec![-2.0, 0.0, 2.0, 6.0]);
        assert_eq!(h.normalised(Normalisation::MinMax), [0.0, 0.25, 0.5, 1.0]);
        assert_eq!(
            h.normalised(Normalisation::MaxAbs),
            [-2.0 / 6.0, 0.0, 2.0 / 6.0, 1.0]
        );
        assert_eq!(h.values, [-2.0, 0.0, 2.0, 6.0]);
    }

    #[test]
    fn percentiles_clip_outliers() {
        let mut values: Vec<f32> = (0..=100).map(|v| v as f32).collect();
        values.push(1e6);
        let h = heatmap(values);
        let (lo, hi) = h.display_range(Normalisation::Percentile {
            low: 1.0,
            high: 99.0,
        });
        assert!(
            (0.0..=2.0).contains(&lo) && (98.0..=101.0).contains(&hi),
            "{lo} {hi}"
        );
        let n = h.normalised(Normalisation::Percentile {
            low: 1.0,
            high: 99.0,
        });
        assert!((n[101] - 1.0).abs() < f32::EPSILON);
    }

    #[test]
    fn a_constant_map_normalises_to_zero() {
        let h = heatmap(vec![3.0; 4]);
        assert_eq!(h.normalised(Normalisation::MinMax), [0.0; 4]);
    }

    #[test]
    fn metadata_serialises_without_the_values() {
        let json = serde_json::to_value(heatmap(vec![1.0, 2.0])).unwrap();
        assert_eq!(json["provenance"]["method"], "occlusion");
        assert!(json.get("values").is_none());
    }
}
