//! Display windows (centre/width, DICOM PS3.3 C.11.2.1.2 linear function) and the robust automatic
//! window used when a series carries none.

/// A linear VOI window, in the units of the modality values (HU for CT).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    pub center: f32,
    pub width: f32,
}

impl Window {
    /// Lowest and highest value of the window.
    #[must_use]
    pub fn bounds(self) -> (f32, f32) {
        (
            self.center - self.width / 2.0,
            self.center + self.width / 2.0,
        )
    }
}

/// Fraction of values clipped at each end by the automatic window.
const AUTO_WINDOW_TAIL: f64 = 0.005;
/// The automatic window looks at no more than this many values (evenly strided).
const AUTO_WINDOW_SAMPLES: usize = 1 << 16;

/// The window spanning the 0.5th to 99.5th percentile of `values`, or `None` when there are no
/// finite values. A constant image gets a width of 1.
#[must_use]
pub fn percentile_window(values: impl ExactSizeIterator<Item = f32>) -> Option<Window> {
    let stride = values.len().div_ceil(AUTO_WINDOW_SAMPLES).max(1);
    let mut sample: Vec<f32> = values.step_by(stride).filter(|v| v.is_finite()).collect();
    if sample.is_empty() {
        return None;
    }
    let last = sample.len() - 1;
    let lo_index = ((last as f64) * AUTO_WINDOW_TAIL).round() as usize;
    let hi_index = ((last as f64) * (1.0 - AUTO_WINDOW_TAIL)).round() as usize;
    let (_, &mut hi, _) = sample.select_nth_unstable_by(hi_index, f32::total_cmp);
    let (_, &mut lo, _) = sample[..=hi_index].select_nth_unstable_by(lo_index, f32::total_cmp);
    let width = (hi - lo).max(1.0);
    Some(Window {
        center: lo + (hi - lo) / 2.0,
        width,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_window_ignores_outliers() {
        let mut values: Vec<f32> = (0..=1000).map(|v| v as f32).collect();
        values.push(1.0e6);
        values.push(-1.0e6);
        let window = percentile_window(values.into_iter()).unwrap();
        let (lo, hi) = window.bounds();
        assert!((0.0..=10.0).contains(&lo), "low bound {lo}");
        assert!((990.0..=1000.0).contains(&hi), "high bound {hi}");
    }

    #[test]
    fn constant_image_gets_unit_width() {
        let window = percentile_window(std::iter::repeat_n(7.0, 100)).unwrap();
        assert_eq!(
            window,
            Window {
                center: 7.0,
                width: 1.0
            }
        );
    }

    #[test]
    fn no_finite_values_no_window() {
        assert_eq!(
            percentile_window([f32::NAN, f32::INFINITY].into_iter()),
            None
        );
    }
}
