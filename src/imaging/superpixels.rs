//! SLIC superpixels for one-channel intensity images (Achanta et al. 2012, as scikit-image's
//! `slic(image, n_segments, compactness, channel_axis=None)` computes them): k-means on
//! (intensity, row, column) with the search limited to a 2S×2S window around each centre, then
//! connectivity enforced by merging fragments into a neighbour. Used by LIME and KernelSHAP.

use std::collections::VecDeque;

/// A label per pixel, `0..count`, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Superpixels {
    pub labels: Vec<u32>,
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
}

/// k-means iterations (scikit-image's default `max_num_iter`).
const ITERATIONS: usize = 10;
/// Fragments smaller than this fraction of the mean segment size are merged into a neighbour
/// (scikit-image's `min_size_factor`).
const MIN_SIZE_FACTOR: f32 = 0.5;

/// Segments `image` (`rows × cols`, any range: scaled to `[0, 1]` first) into about `n_segments`
/// superpixels. `compactness` weighs space against intensity: the squared distance is
/// `Δintensity² + (Δposition / S)² · compactness²` with `S` the grid step, so with intensities in
/// `[0, 1]` values around 0.1 follow edges and values around 1 give near-square cells.
/// Deterministic; non-finite values count as the image minimum.
#[must_use]
pub fn slic(
    image: &[f32],
    rows: usize,
    cols: usize,
    n_segments: usize,
    compactness: f32,
) -> Superpixels {
    let n = rows * cols;
    if n == 0 || image.len() != n {
        return Superpixels {
            labels: Vec::new(),
            count: 0,
            rows,
            cols,
        };
    }
    let intensity = unit_range(image);
    let n_segments = n_segments.clamp(1, n);
    let step = ((n as f32) / n_segments as f32).sqrt().max(1.0);
    let grid_rows = ((rows as f32 / step).round() as usize).clamp(1, rows);
    let grid_cols = ((cols as f32 / step).round() as usize).clamp(1, cols);
    // Centres: (row, col, intensity) on a regular grid.
    let mut centres: Vec<[f32; 3]> = Vec::with_capacity(grid_rows * grid_cols);
    for i in 0..grid_rows {
        for j in 0..grid_cols {
            let r = (i as f32 + 0.5) * rows as f32 / grid_rows as f32;
            let c = (j as f32 + 0.5) * cols as f32 / grid_cols as f32;
            let at = (r as usize).min(rows - 1) * cols + (c as usize).min(cols - 1);
            centres.push([r, c, intensity[at]]);
        }
    }
    let spatial_weight = (compactness / step).powi(2);
    let reach = step.ceil() as isize;
    let mut labels = vec![u32::MAX; n];
    let mut distance = vec![f32::INFINITY; n];
    for _ in 0..ITERATIONS {
        distance.fill(f32::INFINITY);
        for (k, &[cr, cc, ci]) in centres.iter().enumerate() {
            let (r0, c0) = (cr as isize, cc as isize);
            let r_range =
                (r0 - reach).max(0) as usize..((r0 + reach + 1).max(0) as usize).min(rows);
            let c_range =
                (c0 - reach).max(0) as usize..((c0 + reach + 1).max(0) as usize).min(cols);
            for r in r_range {
                for c in c_range.clone() {
                    let p = r * cols + c;
                    let (dr, dc) = (r as f32 + 0.5 - cr, c as f32 + 0.5 - cc);
                    let di = intensity[p] - ci;
                    let d = di * di + (dr * dr + dc * dc) * spatial_weight;
                    if d < distance[p] {
                        distance[p] = d;
                        labels[p] = k as u32;
                    }
                }
            }
        }
        assign_unreached(&mut labels, &centres, cols);
        let mut sums = vec![[0.0_f64; 4]; centres.len()];
        for (p, &k) in labels.iter().enumerate() {
            let s = &mut sums[k as usize];
            s[0] += (p / cols) as f64 + 0.5;
            s[1] += (p % cols) as f64 + 0.5;
            s[2] += f64::from(intensity[p]);
            s[3] += 1.0;
        }
        for (centre, s) in centres.iter_mut().zip(&sums) {
            if s[3] > 0.0 {
                *centre = [
                    (s[0] / s[3]) as f32,
                    (s[1] / s[3]) as f32,
                    (s[2] / s[3]) as f32,
                ];
            }
        }
    }
    let min_size = ((MIN_SIZE_FACTOR * n as f32 / n_segments as f32) as usize).max(1);
    enforce_connectivity(&labels, rows, cols, min_size)
}

/// Values scaled to `[0, 1]` by their finite min and max (all zero when constant).
fn unit_range(image: &[f32]) -> Vec<f32> {
    let (lo, hi) = image
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let span = hi - lo;
    image
        .iter()
        .map(|&v| {
            if v.is_finite() && span > 0.0 {
                (v - lo) / span
            } else {
                0.0
            }
        })
        .collect()
}

/// Pixels no centre's window reached go to the spatially nearest centre.
fn assign_unreached(labels: &mut [u32], centres: &[[f32; 3]], cols: usize) {
    for (p, label) in labels.iter_mut().enumerate() {
        if *label != u32::MAX {
            continue;
        }
        let (r, c) = ((p / cols) as f32 + 0.5, (p % cols) as f32 + 0.5);
        let nearest = centres
            .iter()
            .map(|&[cr, cc, _]| (cr - r).powi(2) + (cc - c).powi(2))
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(0, |(k, _)| k);
        *label = nearest as u32;
    }
}

/// Relabels 4-connected components in raster order; a component smaller than `min_size` joins the
/// component of the pixel left of (or above) its first pixel, as scikit-image does.
fn enforce_connectivity(labels: &[u32], rows: usize, cols: usize, min_size: usize) -> Superpixels {
    let n = rows * cols;
    let mut out = vec![u32::MAX; n];
    let mut count: u32 = 0;
    let mut queue = VecDeque::new();
    let mut component = Vec::new();
    for start in 0..n {
        if out[start] != u32::MAX {
            continue;
        }
        let label = labels[start];
        component.clear();
        out[start] = count;
        queue.push_back(start);
        while let Some(p) = queue.pop_front() {
            component.push(p);
            let (r, c) = (p / cols, p % cols);
            let neighbours = [
                (r > 0).then(|| p - cols),
                (r + 1 < rows).then(|| p + cols),
                (c > 0).then(|| p - 1),
                (c + 1 < cols).then(|| p + 1),
            ];
            for q in neighbours.into_iter().flatten() {
                if out[q] == u32::MAX && labels[q] == label {
                    out[q] = count;
                    queue.push_back(q);
                }
            }
        }
        let adjacent = if start % cols > 0 {
            Some(out[start - 1])
        } else if start >= cols {
            Some(out[start - cols])
        } else {
            None
        };
        match adjacent {
            Some(adjacent) if component.len() < min_size => {
                for &p in &component {
                    out[p] = adjacent;
                }
            }
            _ => count += 1,
        }
    }
    Superpixels {
        labels: out,
        count: count as usize,
        rows,
        cols,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square_image() -> Vec<f32> {
        // 24×24, dark background, a bright 12×12 square at rows/cols 6..18.
        (0..24 * 24)
            .map(|p| {
                let (r, c) = (p / 24, p % 24);
                if (6..18).contains(&r) && (6..18).contains(&c) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect()
    }

    #[test]
    fn labels_are_consecutive_and_cover_the_image() {
        let s = slic(&square_image(), 24, 24, 16, 0.1);
        assert_eq!(s.labels.len(), 24 * 24);
        let mut seen = vec![false; s.count];
        for &l in &s.labels {
            seen[l as usize] = true;
        }
        assert!(
            seen.iter().all(|&x| x),
            "every label in 0..{} used",
            s.count
        );
    }

    #[test]
    fn segments_follow_a_strong_edge() {
        let image = square_image();
        let s = slic(&image, 24, 24, 16, 0.1);
        // No segment holds both bright and dark pixels.
        for label in 0..s.count as u32 {
            let values: Vec<f32> = s
                .labels
                .iter()
                .zip(&image)
                .filter(|(l, _)| **l == label)
                .map(|(_, v)| *v)
                .collect();
            assert!(
                values.iter().all(|&v| (v - values[0]).abs() < 1e-6),
                "segment {label} mixes the square and the background"
            );
        }
    }

    #[test]
    fn segments_are_connected() {
        let image: Vec<f32> = (0..32 * 32).map(|p| ((p * 7919) % 13) as f32).collect();
        let s = slic(&image, 32, 32, 20, 0.05);
        let relabelled = enforce_connectivity(&s.labels, 32, 32, 1);
        assert_eq!(relabelled.count, s.count, "one component per label");
    }

    #[test]
    fn about_the_requested_number_of_segments() {
        let image: Vec<f32> = (0..64 * 64).map(|p| (p % 64) as f32).collect();
        let s = slic(&image, 64, 64, 64, 1.0);
        assert!((40..=90).contains(&s.count), "{} segments", s.count);
    }
}
