//! Agreement between two maps of the same grid: rank correlation and overlap of their top pixels.

use super::{MetricError, check_pair};

/// Ranks from 1 (smallest) to n; tied values share the average of the ranks they span.
#[must_use]
pub fn average_ranks<T: PartialOrd + Copy>(values: &[T]) -> Vec<f64> {
    // Finite values only (maps and table columns are checked before): then `partial_cmp` is a
    // total order in which -0.0 and 0.0 tie, as `==` has them.
    let order_of = |a: T, b: T| a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal);
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| order_of(values[a], values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && order_of(values[order[end]], values[order[start]]).is_eq() {
            end += 1;
        }
        // Positions start..end hold ranks start+1 ..= end: their mean.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Spearman's rank correlation: the Pearson correlation of the average ranks (ties share their
/// mean rank). Undefined — [`MetricError::ConstantMap`] — when either map is constant.
pub fn spearman(a: &[f32], b: &[f32]) -> Result<f64, MetricError> {
    check_pair(a, b)?;
    pearson(&average_ranks(a), &average_ranks(b)).ok_or(MetricError::ConstantMap)
}

fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// The pixels in a map's top `k_percent` % by value (most positive first): the `⌈k·n/100⌉`-th
/// largest value is the cut and every pixel at or above it is in, so ties at the cut are all
/// included (the set can exceed k %; a constant map's set is the whole map).
pub fn top_k_set(values: &[f32], k_percent: f64) -> Result<Vec<bool>, MetricError> {
    if !(k_percent > 0.0 && k_percent <= 100.0) {
        return Err(MetricError::Parameter(format!(
            "top-k must be in (0, 100] %, is {k_percent}"
        )));
    }
    super::check_finite(values)?;
    if values.is_empty() {
        return Err(MetricError::Empty);
    }
    let n = values.len();
    let count = ((k_percent / 100.0 * n as f64).ceil() as usize).clamp(1, n);
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let cut = sorted[count - 1];
    Ok(values.iter().map(|&v| v >= cut).collect())
}

/// Intersection over union of the two maps' [`top_k_set`]s.
pub fn top_k_iou(a: &[f32], b: &[f32], k_percent: f64) -> Result<f64, MetricError> {
    check_pair(a, b)?;
    let (sa, sb) = (top_k_set(a, k_percent)?, top_k_set(b, k_percent)?);
    let both = sa.iter().zip(&sb).filter(|(x, y)| **x && **y).count();
    let either = sa.iter().zip(&sb).filter(|(x, y)| **x || **y).count();
    // Each set holds at least one pixel, so the union is never empty.
    Ok(both as f64 / either as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn ties_share_their_average_rank() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 10.0, 5.0]),
            [2.5, 4.0, 2.5, 1.0]
        );
    }

    #[test]
    fn spearman_of_monotone_maps_is_one_and_of_reversed_is_minus_one() {
        let a = [1.0, 2.0, 3.0, 4.0];
        assert!(close(spearman(&a, &[1.0, 4.0, 9.0, 16.0]).unwrap(), 1.0));
        assert!(close(spearman(&a, &[4.0, 3.0, 2.0, 1.0]).unwrap(), -1.0));
    }

    #[test]
    fn spearman_with_ties_by_hand() {
        // ranks a = [1, 2, 3, 4], b = [1.5, 1.5, 3, 4]; means 2.5 and 2.5
        // Σdx·dy = (−1.5)(−1) + (−0.5)(−1) + 0.5·0.5 + 1.5·1.5 = 1.5 + 0.5 + 0.25 + 2.25 = 4.5
        // Σdx² = 5, Σdy² = 1 + 1 + 0.25 + 2.25 = 4.5 → ρ = 4.5 / √22.5
        let rho = spearman(&[1.0, 2.0, 3.0, 4.0], &[7.0, 7.0, 8.0, 9.0]).unwrap();
        assert!(close(rho, 4.5 / 22.5_f64.sqrt()), "{rho}");
    }

    #[test]
    fn spearman_of_a_constant_map_is_undefined() {
        assert!(matches!(
            spearman(&[1.0, 2.0, 3.0], &[0.0; 3]),
            Err(MetricError::ConstantMap)
        ));
        assert!(matches!(
            spearman(&[1.0, 2.0], &[1.0, 2.0, 3.0]),
            Err(MetricError::Shape { .. })
        ));
    }

    #[test]
    fn top_k_iou_by_hand() {
        // 10 pixels, k = 20 % → 2 each: a's top {0, 1}, b's top {1, 2} → 1 / 3
        let a = [9.0, 8.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let b = [1.0, 9.0, 8.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        assert!(close(top_k_iou(&a, &b, 20.0).unwrap(), 1.0 / 3.0));
        assert!(close(top_k_iou(&a, &a, 20.0).unwrap(), 1.0));
    }

    #[test]
    fn top_k_includes_ties_at_the_cut() {
        // k = 25 % of 4 → 1 pixel, but two share the top value: both are in.
        assert_eq!(
            top_k_set(&[5.0, 5.0, 1.0, 0.0], 25.0).unwrap(),
            [true, true, false, false]
        );
        // A constant map's top set is everything: IoU with any map is |top(b)| / n.
        let iou = top_k_iou(&[0.0; 4], &[4.0, 3.0, 2.0, 1.0], 25.0).unwrap();
        assert!(close(iou, 0.25));
        assert!(top_k_set(&[1.0], 0.0).is_err());
    }
}
