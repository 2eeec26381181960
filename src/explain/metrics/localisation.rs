//! Localisation: does a map point at a region (a boolean mask on the same grid, `true` inside)?
//!
//! Conventions shared by all three: the mask must not be empty ([`MetricError::EmptyMask`]) and the
//! map must not be constant ([`MetricError::ConstantMap`]: a constant map — all-zero included —
//! points nowhere); values are compared exactly (`==`) for ties.

use super::{MetricError, check_finite};

/// The pointing game (Zhang et al. 2018, as Quantus `PointingGame`): is the map's maximum inside?
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct PointingGame {
    /// At least one pixel holding the maximum lies inside (Quantus's rule for ties).
    pub hit: bool,
    /// Pixels holding the maximum value (more than one: a tie).
    pub maxima: usize,
    /// Of those, inside the region. `maxima_inside / maxima` is the hit rate a random
    /// tie-break would give.
    pub maxima_inside: usize,
}

#[allow(clippy::float_cmp)] // a tie is an exactly equal value
pub fn pointing_game(values: &[f32], mask: &[bool]) -> Result<PointingGame, MetricError> {
    check(values, mask)?;
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (mut maxima, mut maxima_inside) = (0, 0);
    for (&v, &inside) in values.iter().zip(mask) {
        if v == max {
            maxima += 1;
            maxima_inside += usize::from(inside);
        }
    }
    Ok(PointingGame {
        hit: maxima_inside > 0,
        maxima,
        maxima_inside,
    })
}

/// Relevance mass accuracy (Arras et al. 2022): the share of the positive attribution that lies
/// inside, `Σ_inside max(v, 0) / Σ max(v, 0)`. A map without positive values is
/// [`MetricError::NoPositive`].
pub fn relevance_mass_accuracy(values: &[f32], mask: &[bool]) -> Result<f64, MetricError> {
    check(values, mask)?;
    let (mut inside, mut total) = (0.0_f64, 0.0_f64);
    for (&v, &m) in values.iter().zip(mask) {
        let p = f64::from(v.max(0.0));
        total += p;
        if m {
            inside += p;
        }
    }
    if total <= 0.0 {
        return Err(MetricError::NoPositive);
    }
    Ok(inside / total)
}

/// Relevance rank accuracy (Arras et al. 2022): with `K` pixels inside, the share of the map's
/// `K` highest pixels that lie inside. Ties at the cut get fractional credit: when `E` pixels
/// share the `K`-th largest value and only `s` of the `K` places are left for them, each counts
/// `s / E` — the expected score over random tie-breaks, so the result does not depend on pixel
/// order.
#[allow(clippy::float_cmp)] // a tie is an exactly equal value
pub fn relevance_rank_accuracy(values: &[f32], mask: &[bool]) -> Result<f64, MetricError> {
    check(values, mask)?;
    let k = mask.iter().filter(|m| **m).count();
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let cut = sorted[k - 1];
    let (mut above, mut above_inside, mut at, mut at_inside) = (0_usize, 0_usize, 0_usize, 0_usize);
    for (&v, &m) in values.iter().zip(mask) {
        if v > cut {
            above += 1;
            above_inside += usize::from(m);
        } else if v == cut {
            at += 1;
            at_inside += usize::from(m);
        }
    }
    let places_left = (k - above) as f64;
    let credit = above_inside as f64 + places_left * at_inside as f64 / at as f64;
    Ok(credit / k as f64)
}

/// Same length, finite values, a non-empty mask, a non-constant map.
fn check(values: &[f32], mask: &[bool]) -> Result<(), MetricError> {
    if values.len() != mask.len() {
        return Err(MetricError::Shape {
            expected: values.len(),
            found: mask.len(),
        });
    }
    check_finite(values)?;
    if values.is_empty() {
        return Err(MetricError::Empty);
    }
    if !mask.iter().any(|m| *m) {
        return Err(MetricError::EmptyMask);
    }
    if super::is_constant(values) {
        return Err(MetricError::ConstantMap);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    const MASK: [bool; 6] = [false, true, true, false, false, false];

    #[test]
    fn pointing_game_hits_when_the_maximum_is_inside() {
        let hit = pointing_game(&[0.0, 1.0, 5.0, 2.0, 0.0, 0.0], &MASK).unwrap();
        assert_eq!(
            hit,
            PointingGame {
                hit: true,
                maxima: 1,
                maxima_inside: 1
            }
        );
        let miss = pointing_game(&[9.0, 1.0, 5.0, 2.0, 0.0, 0.0], &MASK).unwrap();
        assert!(!miss.hit);
    }

    #[test]
    fn pointing_game_tie_counts_as_a_hit_if_any_maximum_is_inside() {
        let tie = pointing_game(&[5.0, 1.0, 5.0, 5.0, 0.0, 0.0], &MASK).unwrap();
        assert_eq!(
            tie,
            PointingGame {
                hit: true,
                maxima: 3,
                maxima_inside: 1
            }
        );
    }

    #[test]
    fn relevance_mass_counts_only_positive_attribution() {
        // positive: 2 (out), 3 + 1 (in), negatives ignored → 4 / 6
        let v = [2.0, 3.0, 1.0, -7.0, 0.0, -1.0];
        assert!(close(
            relevance_mass_accuracy(&v, &MASK).unwrap(),
            4.0 / 6.0
        ));
        assert!(matches!(
            relevance_mass_accuracy(&[-1.0, -2.0, 0.0, 0.0, 0.0, 0.0], &MASK),
            Err(MetricError::NoPositive)
        ));
    }

    #[test]
    fn relevance_rank_accuracy_by_hand() {
        // K = 2; top-2 pixels are 0 (out) and 2 (in) → 1/2
        let v = [9.0, 1.0, 8.0, 0.0, 0.0, 0.0];
        assert!(close(relevance_rank_accuracy(&v, &MASK).unwrap(), 0.5));
        let v = [1.0, 9.0, 8.0, 0.0, 0.0, 0.0];
        assert!(close(relevance_rank_accuracy(&v, &MASK).unwrap(), 1.0));
    }

    #[test]
    fn relevance_rank_ties_at_the_cut_get_fractional_credit() {
        // K = 2: pixel 1 (in) is above the cut; pixels 0, 2, 3 tie at the cut for 1 place,
        // one of them (2) inside → 1 + 1·(1/3) = 4/3 of 2 → 2/3
        let v = [4.0, 9.0, 4.0, 4.0, 0.0, 0.0];
        assert!(close(
            relevance_rank_accuracy(&v, &MASK).unwrap(),
            2.0 / 3.0
        ));
    }

    #[test]
    fn empty_masks_and_constant_maps_are_errors() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let empty = [false; 6];
        assert!(matches!(
            pointing_game(&v, &empty),
            Err(MetricError::EmptyMask)
        ));
        assert!(matches!(
            relevance_mass_accuracy(&v, &empty),
            Err(MetricError::EmptyMask)
        ));
        assert!(matches!(
            relevance_rank_accuracy(&v, &empty),
            Err(MetricError::EmptyMask)
        ));
        for f in [
            |v: &[f32], m: &[bool]| pointing_game(v, m).map(|_| 0.0),
            relevance_mass_accuracy,
            relevance_rank_accuracy,
        ] {
            assert!(matches!(f(&[0.0; 6], &MASK), Err(MetricError::ConstantMap)));
        }
        assert!(matches!(
            pointing_game(&v, &[true; 5]),
            Err(MetricError::Shape { .. })
        ));
    }
}
