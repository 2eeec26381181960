//! Complexity: how concentrated a map is.

use super::{MetricError, check_finite};

/// Sparseness (Chalasani et al. 2020, as Quantus `Sparseness`): the Gini index of `|values|`,
/// `Σᵢ (2i − n − 1)·aᵢ / (n·Σ aᵢ)` over the absolute values sorted ascending (`i` from 1).
/// 0: every pixel equally important; `(n − 1)/n`: one pixel carries everything.
/// An all-zero map counts as uniform (0), as Quantus's `+1e-7` makes it; an empty map is an error.
pub fn sparseness(values: &[f32]) -> Result<f64, MetricError> {
    check_finite(values)?;
    if values.is_empty() {
        return Err(MetricError::Empty);
    }
    let mut a: Vec<f64> = values.iter().map(|v| f64::from(v.abs())).collect();
    a.sort_by(f64::total_cmp);
    let total: f64 = a.iter().sum();
    if total == 0.0 {
        return Ok(0.0);
    }
    let n = a.len() as f64;
    let weighted: f64 = a
        .iter()
        .enumerate()
        .map(|(i, v)| (2.0 * (i as f64 + 1.0) - n - 1.0) * v)
        .sum();
    Ok(weighted / (n * total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn one_hot_map_is_maximally_sparse() {
        // sorted [0, 0, 0, 1]: (−3·0 − 1·0 + 1·0 + 3·1) / (4·1) = 0.75 = (n − 1)/n
        assert!(close(sparseness(&[0.0, 1.0, 0.0, 0.0]).unwrap(), 0.75));
    }

    #[test]
    fn uniform_map_has_zero_sparseness() {
        assert!(close(sparseness(&[2.0; 5]).unwrap(), 0.0));
    }

    #[test]
    fn sign_is_ignored() {
        // |[-1, 2, 3]| sorted [1, 2, 3]: (−2·1 + 0·2 + 2·3) / (3·6) = 4/18
        assert!(close(sparseness(&[-1.0, 3.0, 2.0]).unwrap(), 4.0 / 18.0));
        assert!(close(
            sparseness(&[-1.0, 3.0, 2.0]).unwrap(),
            sparseness(&[1.0, -3.0, 2.0]).unwrap()
        ));
    }

    #[test]
    fn all_zero_map_is_uniform_and_empty_map_is_an_error() {
        assert!(close(sparseness(&[0.0; 4]).unwrap(), 0.0));
        assert!(matches!(sparseness(&[]), Err(MetricError::Empty)));
        assert!(matches!(
            sparseness(&[1.0, f32::NAN]),
            Err(MetricError::NonFinite)
        ));
    }
}
