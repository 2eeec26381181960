//! From a whole image and a label map to the ROI the feature classes see, in PyRadiomics' order:
//! normalise the whole image, select the label, check the ROI, resegment, crop to the bounding
//! box, discretise.

use super::settings::{Binning, ResegmentMode, Settings};
use super::types::{Discretized, Roi};

/// An image and its label map on the same grid, `[z, y, x]` row-major.
#[derive(Clone, Copy, Debug)]
pub struct Volume<'a> {
    pub values: &'a [f64],
    pub labels: &'a [u32],
    /// `[z, y, x]`.
    pub dims: [usize; 3],
    /// `[z, y, x]`, mm.
    pub spacing_mm: [f64; 3],
}

/// Why no features can be computed for a region (one line; the caller names the files).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RoiError {
    #[error("image has {image} voxels but the mask has {mask}")]
    SizeMismatch { image: usize, mask: usize },
    #[error("the mask is empty (no voxel is labelled)")]
    EmptyMask,
    #[error("label {label} is not in the mask (labels present: {present})")]
    LabelAbsent { label: u32, present: String },
    #[error(
        "the ROI spans {found} dimension(s) (bounding box {size_zyx:?} voxels, z×y×x), fewer than minimumROIDimensions = {required}"
    )]
    TooFewDimensions {
        found: usize,
        required: usize,
        size_zyx: [usize; 3],
    },
    /// PyRadiomics refuses a ROI of exactly `minimumROISize` voxels too.
    #[error("the ROI has {found} voxels, not more than minimumROISize = {required}")]
    TooSmall { found: usize, required: usize },
    #[error("resegmentation kept {kept} voxel(s) of label {label}; at least 2 are needed")]
    ResegmentedAway { label: u32, kept: usize },
    #[error("the image has non-finite values (NaN or infinity) inside the ROI")]
    NonFinite,
}

/// The ROI's bounding box, inclusive, `[z, y, x]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoundingBox {
    pub lower: [usize; 3],
    pub upper: [usize; 3],
}

impl BoundingBox {
    #[must_use]
    pub fn size(&self) -> [usize; 3] {
        std::array::from_fn(|a| self.upper[a] - self.lower[a] + 1)
    }
}

/// What the feature classes get, plus what the diagnostics columns report.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The label's region before resegmentation, cropped (the shape classes' input).
    pub shape: Roi,
    /// The region after resegmentation, cropped (first order and texture).
    pub roi: Roi,
    /// Box of the region the crop used (after resegmentation, as PyRadiomics).
    pub bounding_box: BoundingBox,
    /// Box of the label's region before resegmentation.
    pub original_box: BoundingBox,
    /// Voxels of the label before resegmentation.
    pub voxel_count: usize,
    /// Voxels after resegmentation.
    pub resegmented_count: usize,
}

/// Applies the settings' normalisation, label selection, checks, resegmentation and crop.
pub fn prepare(volume: &Volume<'_>, settings: &Settings) -> Result<Prepared, RoiError> {
    let len = volume.dims.iter().product::<usize>();
    if volume.values.len() != len || volume.labels.len() != len {
        return Err(RoiError::SizeMismatch {
            image: volume.values.len(),
            mask: volume.labels.len(),
        });
    }
    let label = settings.label;
    let inside: Vec<bool> = volume.labels.iter().map(|&l| l == label).collect();
    let voxel_count = inside.iter().filter(|&&v| v).count();
    if voxel_count == 0 {
        return Err(label_error(volume.labels, label));
    }
    let bounding_box = check(&inside, volume.dims, voxel_count, settings)?;

    let normalised;
    let values = if settings.normalize {
        normalised = normalise(volume.values, settings);
        &normalised[..]
    } else {
        volume.values
    };

    let mut region = inside.clone();
    let mut resegmented_count = voxel_count;
    let mut crop_box = bounding_box;
    if let Some(range) = &settings.resegment_range {
        resegmented_count = resegment(values, &mut region, range, settings.resegment_mode);
        if resegmented_count <= 1 {
            return Err(RoiError::ResegmentedAway {
                label,
                kept: resegmented_count,
            });
        }
        crop_box = check(&region, volume.dims, resegmented_count, settings)?;
    }

    let shape = crop(values, &inside, volume.dims, volume.spacing_mm, crop_box);
    let roi = crop(values, &region, volume.dims, volume.spacing_mm, crop_box);
    if roi
        .values
        .iter()
        .zip(&roi.inside)
        .any(|(v, &i)| i && !v.is_finite())
    {
        return Err(RoiError::NonFinite);
    }
    Ok(Prepared {
        shape,
        roi,
        bounding_box: crop_box,
        original_box: bounding_box,
        voxel_count,
        resegmented_count,
    })
}

fn label_error(labels: &[u32], label: u32) -> RoiError {
    let mut present: Vec<u32> = labels.iter().copied().filter(|&l| l != 0).collect();
    present.sort_unstable();
    present.dedup();
    if present.is_empty() {
        return RoiError::EmptyMask;
    }
    let shown: Vec<String> = present.iter().take(20).map(u32::to_string).collect();
    let more = if present.len() > 20 { ", …" } else { "" };
    RoiError::LabelAbsent {
        label,
        present: format!("{}{more}", shown.join(", ")),
    }
}

/// Bounding box, `minimumROIDimensions` and `minimumROISize` (PyRadiomics' `checkMask`).
fn check(
    inside: &[bool],
    dims: [usize; 3],
    count: usize,
    settings: &Settings,
) -> Result<BoundingBox, RoiError> {
    let mut lower = dims;
    let mut upper = [0; 3];
    for z in 0..dims[0] {
        for y in 0..dims[1] {
            let row = (z * dims[1] + y) * dims[2];
            for x in 0..dims[2] {
                if inside[row + x] {
                    for (a, i) in [z, y, x].into_iter().enumerate() {
                        lower[a] = lower[a].min(i);
                        upper[a] = upper[a].max(i);
                    }
                }
            }
        }
    }
    let bounding_box = BoundingBox { lower, upper };
    let size = bounding_box.size();
    let spanned = size.iter().filter(|&&s| s > 1).count();
    if spanned < settings.minimum_roi_dimensions {
        return Err(RoiError::TooFewDimensions {
            found: spanned,
            required: settings.minimum_roi_dimensions,
            size_zyx: size,
        });
    }
    if let Some(required) = settings.minimum_roi_size
        && count <= required
    {
        return Err(RoiError::TooSmall {
            found: count,
            required,
        });
    }
    Ok(bounding_box)
}

/// z-score over the whole image with the sample standard deviation (SimpleITK's `Normalize`,
/// which PyRadiomics uses), outliers clipped before the scale is applied.
fn normalise(values: &[f64], settings: &Settings) -> Vec<f64> {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    let sigma = variance.sqrt();
    let scale = if sigma > 0.0 { 1.0 / sigma } else { 1.0 };
    values
        .iter()
        .map(|&v| {
            let mut z = (v - mean) * scale;
            if let Some(limit) = settings.remove_outliers {
                z = z.clamp(-limit, limit);
            }
            z * settings.normalize_scale
        })
        .collect()
}

/// Keeps the region's voxels whose value lies within the thresholds; returns how many remain.
fn resegment(values: &[f64], region: &mut [bool], range: &[f64], mode: ResegmentMode) -> usize {
    let selected = || {
        values
            .iter()
            .zip(region.iter())
            .filter_map(|(&v, &r)| r.then_some(v))
    };
    let mut thresholds = range.to_vec();
    thresholds.sort_by(f64::total_cmp);
    match mode {
        ResegmentMode::Absolute => {}
        ResegmentMode::Relative => {
            let max = selected().fold(f64::NEG_INFINITY, f64::max);
            for t in &mut thresholds {
                *t *= max;
            }
        }
        ResegmentMode::Sigma => {
            let (n, sum) = selected().fold((0.0, 0.0), |(n, s), v| (n + 1.0, s + v));
            let mean = sum / n;
            let sd = (selected().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
            for t in &mut thresholds {
                *t = mean + sd * *t;
            }
        }
    }
    let lower = thresholds[0];
    let upper = thresholds.get(1).copied().unwrap_or(f64::INFINITY);
    let mut kept = 0;
    for (r, &v) in region.iter_mut().zip(values) {
        if *r {
            *r = v >= lower && v <= upper;
            kept += usize::from(*r);
        }
    }
    kept
}

fn crop(
    values: &[f64],
    inside: &[bool],
    dims: [usize; 3],
    spacing_mm: [f64; 3],
    bounding_box: BoundingBox,
) -> Roi {
    let size = bounding_box.size();
    let mut cropped_values = Vec::with_capacity(size.iter().product());
    let mut cropped_inside = Vec::with_capacity(size.iter().product());
    for z in bounding_box.lower[0]..=bounding_box.upper[0] {
        for y in bounding_box.lower[1]..=bounding_box.upper[1] {
            let row = (z * dims[1] + y) * dims[2];
            let span = row + bounding_box.lower[2]..=row + bounding_box.upper[2];
            cropped_values.extend_from_slice(&values[span.clone()]);
            cropped_inside.extend_from_slice(&inside[span]);
        }
    }
    Roi {
        values: cropped_values,
        inside: cropped_inside,
        dims: size,
        spacing_mm,
    }
}

/// The bin edges PyRadiomics' `getBinEdges` gives for these ROI values (numpy's `arange` /
/// `histogram` arithmetic reproduced, so that values on an edge fall in the same bin).
#[must_use]
pub fn bin_edges(values: &[f64], binning: Binning) -> Vec<f64> {
    let (min, max) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    match binning {
        Binning::Count(count) => {
            // np.histogram(values, count): equal bins over [min, max] (±0.5 when flat), then
            // the top edge raised by one so that digitize puts the maximum in the last bin.
            let (lo, hi) = if min >= max {
                (min - 0.5, max + 0.5)
            } else {
                (min, max)
            };
            let step = (hi - lo) / count as f64;
            let mut edges: Vec<f64> = (0..=count).map(|i| i as f64 * step + lo).collect();
            edges[count] = hi + 1.0;
            edges
        }
        Binning::Width(width) => {
            // Python's modulo takes the divisor's sign: the low bound is the multiple of the
            // width at or below the minimum.
            let low = min - min.rem_euclid(width);
            let high = max + 2.0 * width;
            // np.arange(low, high, width): ceil((high - low) / width) values low + i·delta with
            // delta = (low + width) - low.
            let len = ((high - low) / width).ceil().max(0.0) as usize;
            let delta = (low + width) - low;
            let mut edges: Vec<f64> = (0..len).map(|i| low + i as f64 * delta).collect();
            if edges.len() == 1 {
                edges = vec![edges[0] - 0.5, edges[0] + 0.5];
            }
            edges
        }
    }
}

/// Gray level of each ROI voxel: `np.digitize(value, edges)` (the number of edges ≤ the value),
/// 0 outside the region.
#[must_use]
pub fn discretize(roi: &Roi, binning: Binning) -> Discretized {
    let values = roi.inside_values();
    let edges = bin_edges(&values, binning);
    let levels = roi
        .values
        .iter()
        .zip(&roi.inside)
        .map(|(&v, &inside)| {
            if inside {
                edges.partition_point(|&e| e <= v) as u32
            } else {
                0
            }
        })
        .collect();
    Discretized {
        levels,
        dims: roi.dims,
        spacing_mm: roi.spacing_mm,
        n_levels: edges.len().saturating_sub(1) as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roi(values: Vec<f64>) -> Roi {
        let n = values.len();
        Roi {
            inside: vec![true; n],
            values,
            dims: [1, 1, n],
            spacing_mm: [1.0; 3],
        }
    }

    #[test]
    fn bin_width_edges_follow_numpy() {
        // numpy: np.arange(-50 - (-50 % 25), 60 + 50, 25) = [-50, -25, 0, 25, 50, 75, 100]
        assert_eq!(
            bin_edges(&[-50.0, 10.0, 60.0], Binning::Width(25.0)),
            vec![-50.0, -25.0, 0.0, 25.0, 50.0, 75.0, 100.0]
        );
        // minimum -37: -37 % 25 = 13 in Python, low bound -50
        assert!((bin_edges(&[-37.0, 0.0], Binning::Width(25.0))[0] + 50.0).abs() < 1e-12);
        // flat region on an edge: np.arange(50, 100, 25) = [50, 75], one bin
        assert_eq!(bin_edges(&[50.0], Binning::Width(25.0)), vec![50.0, 75.0]);
    }

    #[test]
    fn digitize_counts_edges_at_or_below() {
        let d = discretize(
            &roi(vec![-50.0, -25.0, -24.9, 0.0, 60.0]),
            Binning::Width(25.0),
        );
        assert_eq!(d.levels, vec![1, 2, 2, 3, 5]);
        // binCount 4 over [0, 8]: edges 0, 2, 4, 6, 9; the maximum lands in bin 4
        let d = discretize(&roi(vec![0.0, 1.9, 2.0, 7.0, 8.0]), Binning::Count(4));
        assert_eq!(d.levels, vec![1, 1, 2, 4, 4]);
        assert_eq!(d.n_levels, 4);
    }

    #[test]
    fn checks_and_resegmentation() {
        let values: Vec<f64> = (0..27).map(f64::from).collect();
        let mut labels = vec![0u32; 27];
        let volume = |labels: &[u32]| {
            prepare(
                &Volume {
                    values: &values,
                    labels,
                    dims: [3, 3, 3],
                    spacing_mm: [1.0; 3],
                },
                &Settings::default(),
            )
        };
        assert_eq!(volume(&labels).unwrap_err(), RoiError::EmptyMask);
        labels[13] = 2;
        assert!(matches!(
            volume(&labels).unwrap_err(),
            RoiError::LabelAbsent { label: 1, .. }
        ));
        labels[13] = 1;
        assert!(matches!(
            volume(&labels).unwrap_err(),
            RoiError::TooFewDimensions { found: 0, .. }
        ));
        labels[12] = 1;
        labels[10] = 1;
        let prepared = volume(&labels).unwrap();
        assert_eq!(prepared.bounding_box.size(), [1, 2, 2]);
        // voxels 9..=13 of the box: (1,0,0) is outside, 10, 12, 13 inside
        assert_eq!(prepared.roi.inside, vec![false, true, true, true]);
        assert_eq!(prepared.roi.values, vec![9.0, 10.0, 12.0, 13.0]);

        let settings = Settings {
            resegment_range: Some(vec![12.5]),
            ..Settings::default()
        };
        let err = prepare(
            &Volume {
                values: &values,
                labels: &labels,
                dims: [3, 3, 3],
                spacing_mm: [1.0; 3],
            },
            &settings,
        )
        .unwrap_err();
        assert_eq!(err, RoiError::ResegmentedAway { label: 1, kept: 1 });
    }

    #[test]
    fn normalisation_uses_the_sample_deviation() {
        // SimpleITK: Normalize(arange(24)) → first value −1.6263456 (numpy std with ddof=1)
        let values: Vec<f64> = (0..24).map(f64::from).collect();
        let z = normalise(&values, &Settings::default());
        assert!((z[0] + 1.626_345_6).abs() < 1e-7, "{}", z[0]);
    }
}
