//! Occlusion (Zeiler & Fergus 2014), as Captum's `Occlusion`: a window slides over the input
//! (all channels at once) with a stride; each placement replaces the window with the baseline
//! value and records the score drop `f(x) − f(x occluded)`; a pixel's attribution is the mean
//! drop over the placements that cover it. Placements start at `0, s, 2s, …` for
//! `⌈(side − window)/s⌉ + 1` positions, the last one clipped at the border, as Captum counts them.

use std::collections::BTreeMap;

use tch::Tensor;

use super::run::Run;
use super::{Attribution, ExplainError, Explainer, MethodInfo};

pub(super) const METHOD: MethodInfo = MethodInfo {
    name: "occlusion",
    needs: &[],
    signed: true,
    stochastic: false,
    long: true,
    samples: None,
    explainer: &Occlusion,
};

struct Occlusion;

/// Occlusion's knobs, saved under the keys `occlusion_window`, `occlusion_stride` and
/// `occlusion_baseline`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct OcclusionParams {
    /// Window side in input pixels (`None`: 1/8 of each side).
    #[serde(rename = "occlusion_window")]
    pub window: Option<usize>,
    /// Stride (`None`: half the window).
    #[serde(rename = "occlusion_stride")]
    pub stride: Option<usize>,
    /// The value an occluded window takes.
    #[serde(rename = "occlusion_baseline")]
    pub baseline: f32,
}

/// Window start positions along one side (Captum's shift counts).
pub(super) fn positions(side: usize, window: usize, stride: usize) -> Vec<usize> {
    let count = (side - window).div_ceil(stride) + 1;
    (0..count).map(|i| i * stride).collect()
}

impl Explainer for Occlusion {
    fn attribute(&self, run: &mut Run<'_>) -> Result<Attribution, ExplainError> {
        let params = &run.params.occlusion;
        let [_, h, w] = run.input_chw();
        let (h, w) = (h as usize, w as usize);
        let window = params
            .window
            .map_or([(h / 8).max(1), (w / 8).max(1)], |s| [s, s]);
        let stride = params
            .stride
            .map_or([(window[0] / 2).max(1), (window[1] / 2).max(1)], |s| [s, s]);
        for (axis, side) in [(0, h), (1, w)] {
            if window[axis] == 0 || window[axis] > side {
                return Err(run.invalid(format!(
                    "window {} does not fit the input side {side}",
                    window[axis]
                )));
            }
            if stride[axis] == 0 || (stride[axis] > window[axis] && window[axis] < side) {
                return Err(run.invalid(format!(
                    "stride {} must be between 1 and the window {}",
                    stride[axis], window[axis]
                )));
            }
        }
        let rows = positions(h, window[0], stride[0]);
        let cols = positions(w, window[1], stride[1]);
        let placements: Vec<[usize; 4]> = rows
            .iter()
            .flat_map(|&r| {
                cols.iter()
                    .map(move |&c| [r, (r + window[0]).min(h), c, (c + window[1]).min(w)])
            })
            .collect();
        let x = run.input.shallow_clone();
        let baseline = f64::from(params.baseline);
        run.plan(placements.len() + 1);
        let original = run.scores(1, |_| Ok(x.shallow_clone()))?[0];
        let scores = run.scores(placements.len(), |range| {
            let len = range.len();
            let mut mask = vec![0.0_f32; len * h * w];
            for (i, &[r0, r1, c0, c1]) in placements[range].iter().enumerate() {
                for r in r0..r1 {
                    mask[(i * h + r) * w + c0..(i * h + r) * w + c1].fill(1.0);
                }
            }
            let mask = Tensor::from_slice(&mask)
                .f_to_device(x.device())?
                .f_reshape([len as i64, 1, h as i64, w as i64])?;
            // x · (1 − m) + baseline · m
            x.f_mul(&mask.f_neg()?.f_add_scalar(1.0)?)?
                .f_add(&mask.f_mul_scalar(baseline)?)
        })?;
        let mut total = vec![0.0_f64; h * w];
        let mut count = vec![0_u32; h * w];
        for (&[r0, r1, c0, c1], &score) in placements.iter().zip(&scores) {
            let drop = f64::from(original) - f64::from(score);
            for r in r0..r1 {
                for c in c0..c1 {
                    total[r * w + c] += drop;
                    count[r * w + c] += 1;
                }
            }
        }
        let map: Vec<f32> = total
            .iter()
            .zip(&count)
            .map(|(&t, &n)| {
                if n > 0 {
                    (t / f64::from(n)) as f32
                } else {
                    0.0
                }
            })
            .collect();
        let map = Tensor::from_slice(&map)
            .f_reshape([h as i64, w as i64])
            .map_err(|e| run.torch(&e))?;
        let parameters = BTreeMap::from([
            ("window".to_owned(), serde_json::json!(window)),
            ("stride".to_owned(), serde_json::json!(stride)),
            ("baseline".to_owned(), params.baseline.into()),
            ("placements".to_owned(), placements.len().into()),
        ]);
        Ok(Attribution { map, parameters })
    }
}

#[cfg(test)]
mod tests {
    use super::positions;

    #[test]
    fn placements_cover_the_side_like_captum() {
        assert_eq!(
            positions(32, 4, 2),
            (0..15).map(|i| i * 2).collect::<Vec<_>>()
        );
        // (10 − 4) / 4 rounds up: a third window at 8, clipped to 8..10.
        assert_eq!(positions(10, 4, 4), [0, 4, 8]);
        assert_eq!(positions(4, 4, 2), [0]);
    }
}
