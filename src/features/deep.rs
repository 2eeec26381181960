//! Deep features of a region: the model's `features(x) -> [N, D, h, w]` map pooled over the ROI
//! (the mask brought to the feature grid by area, then a weighted mean and a max over the cells
//! the ROI touches), and `embed(x) -> [N, E]` where the model has it. The input is each ROI slice
//! whole (as the explanations see it) or a square patch around the ROI resampled to the model's
//! input (as foundation-model pipelines crop around a lesion). A 3-D ROI gives one vector per
//! slice; they are aggregated as the mean over the ROI's slices and as the slice with the
//! largest ROI area, each named in its column.

use tch::{Kind, Tensor};

use crate::model::{Job, JobContext, Model, ModelError, preprocess_slice};

/// What the model sees of each ROI slice.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DeepInput {
    /// The whole slice.
    Slice,
    /// A square around the ROI's bounding box in the slice, widened by `margin` (a fraction of
    /// the box's longer side on each side), padded with the slice's minimum where it leaves the
    /// image.
    Patch { margin: f64 },
}

impl DeepInput {
    /// The name in the `diagnostics_Deep_Input` column.
    #[must_use]
    pub fn describe(self) -> String {
        match self {
            Self::Slice => "slice".into(),
            Self::Patch { margin } => format!("patch (margin {margin})"),
        }
    }

    /// The input a `diagnostics_Deep_Input` cell names ([`Self::describe`] read back).
    #[must_use]
    pub fn parse_described(text: &str) -> Option<Self> {
        let text = text.trim();
        if text == "slice" {
            return Some(Self::Slice);
        }
        let margin = text
            .strip_prefix("patch (margin ")?
            .strip_suffix(')')?
            .parse::<f64>()
            .ok()
            .filter(|m| m.is_finite() && *m >= 0.0)?;
        Some(Self::Patch { margin })
    }
}

/// One slice's model input and its ROI at the same pixels.
struct SliceInput {
    input: Tensor,
    /// The ROI over the input's pixels (rows × cols of the values given to the model).
    mask: Vec<f32>,
    rows: usize,
    cols: usize,
    area: usize,
}

/// The pooled vectors of one slice.
struct Pooled {
    mean: Vec<f64>,
    max: Vec<f64>,
    embed: Option<Vec<f64>>,
}

/// Deep features of the ROI (`labels == label`) of an image `[z, y, x]`, batched `batch` slices
/// per forward pass, deterministic (no dropout: TorchScript models run in eval mode as saved).
pub fn deep_features(
    model: &Model,
    values: &[f64],
    dims: [usize; 3],
    labels: &[u32],
    label: u32,
    input: DeepInput,
    batch: usize,
) -> Result<Vec<(String, f64)>, ModelError> {
    deep_features_with(model, values, dims, labels, label, input, batch, &|_| true)
}

/// [`deep_features`] as a job for the model worker (the viewer's thread that owns the model):
/// progress per batch, cancelled between batches.
#[must_use]
pub fn deep_features_job(
    values: Vec<f64>,
    dims: [usize; 3],
    labels: Vec<u32>,
    label: u32,
    input: DeepInput,
    batch: usize,
) -> Job<Vec<(String, f64)>> {
    Box::new(move |model: &Model, context: &JobContext<'_>| {
        let keep_going = |fraction: f32| {
            context.progress(fraction);
            !context.is_cancelled()
        };
        deep_features_with(
            model,
            &values,
            dims,
            &labels,
            label,
            input,
            batch,
            &keep_going,
        )
        .map_err(|e| e.to_string())
    })
}

/// The work of [`deep_features`]; `keep_going(fraction done)` is asked before each batch and
/// stops the job when it answers `false`.
#[allow(clippy::too_many_arguments)]
fn deep_features_with(
    model: &Model,
    values: &[f64],
    dims: [usize; 3],
    labels: &[u32],
    label: u32,
    input: DeepInput,
    batch: usize,
    keep_going: &dyn Fn(f32) -> bool,
) -> Result<Vec<(String, f64)>, ModelError> {
    let [slices, rows, cols] = dims;
    let plane = rows * cols;
    let mut inputs = Vec::new();
    for z in 0..slices {
        let mask: Vec<f32> = labels[z * plane..(z + 1) * plane]
            .iter()
            .map(|&l| f32::from(u8::from(l == label)))
            .collect();
        let area = mask.iter().filter(|&&m| m > 0.0).count();
        if area == 0 {
            continue;
        }
        let slice: Vec<f32> = values[z * plane..(z + 1) * plane]
            .iter()
            .map(|&v| v as f32)
            .collect();
        inputs.push(slice_input(model, &slice, mask, rows, cols, area, input)?);
    }
    if inputs.is_empty() {
        return Err(ModelError::Input {
            reason: "the ROI is empty".into(),
        });
    }
    let mut pooled = Vec::with_capacity(inputs.len());
    let mut has_embed = true;
    for chunk in inputs.chunks(batch.max(1)) {
        if !keep_going(pooled.len() as f32 / inputs.len() as f32) {
            return Err(ModelError::Input {
                reason: "cancelled".into(),
            });
        }
        let x = Tensor::cat(&chunk.iter().map(|s| &s.input).collect::<Vec<_>>(), 0);
        let (maps, embeds) = tch::no_grad(|| -> Result<_, ModelError> {
            let maps = model.feature_maps(&x)?;
            let embeds = if has_embed { model.embed(&x)? } else { None };
            Ok((maps, embeds))
        })?;
        has_embed = embeds.is_some();
        pooled.extend(pool_batch(&maps, embeds.as_ref(), chunk)?);
    }
    Ok(columns(&inputs, &pooled))
}

fn slice_input(
    model: &Model,
    slice: &[f32],
    mask: Vec<f32>,
    rows: usize,
    cols: usize,
    area: usize,
    input: DeepInput,
) -> Result<SliceInput, ModelError> {
    match input {
        DeepInput::Slice => Ok(SliceInput {
            input: preprocess_slice(slice, rows, cols, &model.manifest)?,
            mask,
            rows,
            cols,
            area,
        }),
        DeepInput::Patch { margin } => {
            let (r0, r1, c0, c1) = bounding_box(&mask, rows, cols);
            let side = ((r1 - r0 + 1).max(c1 - c0 + 1) as f64 * (1.0 + 2.0 * margin))
                .ceil()
                .max(2.0) as usize;
            let centre_r = (r0 + r1) as f64 / 2.0;
            let centre_c = (c0 + c1) as f64 / 2.0;
            let top = (centre_r - (side as f64 - 1.0) / 2.0).round() as i64;
            let left = (centre_c - (side as f64 - 1.0) / 2.0).round() as i64;
            let fill = slice.iter().copied().fold(f32::INFINITY, f32::min);
            let mut patch = vec![fill; side * side];
            let mut patch_mask = vec![0.0; side * side];
            for pr in 0..side {
                let r = top + pr as i64;
                if r < 0 || r >= rows as i64 {
                    continue;
                }
                for pc in 0..side {
                    let c = left + pc as i64;
                    if c < 0 || c >= cols as i64 {
                        continue;
                    }
                    let source = r as usize * cols + c as usize;
                    patch[pr * side + pc] = slice[source];
                    patch_mask[pr * side + pc] = mask[source];
                }
            }
            Ok(SliceInput {
                input: preprocess_slice(&patch, side, side, &model.manifest)?,
                mask: patch_mask,
                rows: side,
                cols: side,
                area,
            })
        }
    }
}

/// Inclusive `(row0, row1, col0, col1)` of the non-zero mask pixels (the mask is not empty).
fn bounding_box(mask: &[f32], rows: usize, cols: usize) -> (usize, usize, usize, usize) {
    let mut b = (rows, 0, cols, 0);
    for r in 0..rows {
        for c in 0..cols {
            if mask[r * cols + c] > 0.0 {
                b = (b.0.min(r), b.1.max(r), b.2.min(c), b.3.max(c));
            }
        }
    }
    b
}

/// Overlap of source pixel `s` (of `n`) with target cell `t` (of `m`) along one axis, in
/// target-cell units: both cover the same physical extent.
fn overlap_weights(sources: usize, cells: usize) -> Vec<Vec<(usize, f64)>> {
    let scale = cells as f64 / sources as f64;
    (0..cells)
        .map(|cell| {
            let (lo, hi) = (cell as f64, cell as f64 + 1.0);
            let first = ((lo / scale).floor() as usize).min(sources - 1);
            let last = (((hi / scale).ceil() as usize).max(1) - 1).min(sources - 1);
            (first..=last)
                .filter_map(|source| {
                    let start = source as f64 * scale;
                    let end = (source as f64 + 1.0) * scale;
                    let weight = end.min(hi) - start.max(lo);
                    (weight > 1e-12).then_some((source, weight))
                })
                .collect()
        })
        .collect()
}

/// `model` as a model whose classes are its feature units pooled over the ROI `mask` (`rows ×
/// cols` on the slice, brought to the feature grid by area; the whole grid without one): what
/// `--target feature:K` and the features panel explain.
pub fn feature_units_over(
    model: &Model,
    mask: Option<&[f32]>,
    rows: usize,
    cols: usize,
) -> Result<Model, ModelError> {
    let weights: Option<Vec<f32>> = match mask {
        Some(mask) => {
            let (_, h, w) = model.feature_grid()?;
            Some(
                mask_on_grid(mask, rows, cols, h, w)
                    .into_iter()
                    .map(|v| v as f32)
                    .collect(),
            )
        }
        None => None,
    };
    model.feature_units(weights.as_deref())
}

/// The model whose class `k` is the deep feature `unit`, and `k`: a `features` channel pooled
/// over the ROI `mask` ([`feature_units_over`]), or an `embed` component (of the whole input;
/// the ROI does not enter an embedding).
pub fn unit_model(
    model: &Model,
    unit: crate::explain::DeepUnit,
    mask: Option<&[f32]>,
    rows: usize,
    cols: usize,
) -> Result<(Model, usize), ModelError> {
    match unit {
        crate::explain::DeepUnit::Feature(k) => {
            Ok((feature_units_over(model, mask, rows, cols)?, k))
        }
        crate::explain::DeepUnit::Embed(k) => Ok((model.embed_units()?, k)),
    }
}

/// The fraction of each `h × w` feature cell covered by the ROI (area-weighted downsampling).
#[must_use]
pub fn mask_on_grid(mask: &[f32], rows: usize, cols: usize, h: usize, w: usize) -> Vec<f64> {
    let wy = overlap_weights(rows, h);
    let wx = overlap_weights(cols, w);
    let mut cells = vec![0.0; h * w];
    for (i, row_weights) in wy.iter().enumerate() {
        for (j, col_weights) in wx.iter().enumerate() {
            let mut covered = 0.0;
            let mut total = 0.0;
            for &(r, a) in row_weights {
                for &(c, b) in col_weights {
                    covered += a * b * f64::from(mask[r * cols + c]);
                    total += a * b;
                }
            }
            cells[i * w + j] = if total > 0.0 { covered / total } else { 0.0 };
        }
    }
    cells
}

fn to_vec(t: &Tensor) -> Result<Vec<f64>, ModelError> {
    let flat = t
        .f_to_kind(Kind::Double)
        .and_then(|t| t.f_flatten(0, -1))
        .map_err(|e| ModelError::Input {
            reason: crate::model::first_line(&e),
        })?;
    Vec::<f64>::try_from(&flat).map_err(|e| ModelError::Input {
        reason: crate::model::first_line(&e),
    })
}

fn pool_batch(
    maps: &Tensor,
    embeds: Option<&Tensor>,
    chunk: &[SliceInput],
) -> Result<Vec<Pooled>, ModelError> {
    let size = maps.size();
    let &[n, d, h, w] = size.as_slice() else {
        return Err(ModelError::Input {
            reason: format!("features(x) returned shape {size:?}, [N, D, h, w] expected"),
        });
    };
    let (n, d, h, w) = (n as usize, d as usize, h as usize, w as usize);
    if n != chunk.len() {
        return Err(ModelError::Input {
            reason: format!("features(x) returned {n} maps for {} inputs", chunk.len()),
        });
    }
    let values = to_vec(&maps.to_device(tch::Device::Cpu))?;
    let embed_values = embeds
        .map(|e| to_vec(&e.to_device(tch::Device::Cpu)))
        .transpose()?;
    let embed_len = embed_values.as_ref().map_or(0, |e| e.len() / n.max(1));
    let mut out = Vec::with_capacity(n);
    for (k, slice) in chunk.iter().enumerate() {
        let weights = mask_on_grid(&slice.mask, slice.rows, slice.cols, h, w);
        let total: f64 = weights.iter().sum();
        let mut mean = vec![0.0; d];
        let mut max = vec![f64::NEG_INFINITY; d];
        for channel in 0..d {
            let map = &values[(k * d + channel) * h * w..(k * d + channel + 1) * h * w];
            let mut sum = 0.0;
            for (&a, &wgt) in map.iter().zip(&weights) {
                if wgt > 0.0 {
                    sum += a * wgt;
                    max[channel] = max[channel].max(a);
                }
            }
            mean[channel] = if total > 0.0 { sum / total } else { f64::NAN };
        }
        let embed = embed_values
            .as_ref()
            .map(|e| e[k * embed_len..(k + 1) * embed_len].to_vec());
        out.push(Pooled { mean, max, embed });
    }
    Ok(out)
}

fn columns(inputs: &[SliceInput], pooled: &[Pooled]) -> Vec<(String, f64)> {
    let n = pooled.len() as f64;
    let largest = inputs
        .iter()
        .enumerate()
        .max_by_key(|(i, s)| (s.area, std::cmp::Reverse(*i)))
        .map_or(0, |(i, _)| i);
    let mut out = Vec::new();
    let mut push = |prefix: &str, pick: &dyn Fn(&Pooled) -> Option<&Vec<f64>>| {
        let Some(first) = pick(&pooled[0]) else {
            return;
        };
        for k in 0..first.len() {
            let mean = pooled
                .iter()
                .filter_map(|p| pick(p).map(|v| v[k]))
                .sum::<f64>()
                / n;
            out.push((format!("deep_{prefix}_{k}"), mean));
        }
        if let Some(v) = pick(&pooled[largest]) {
            for (k, &value) in v.iter().enumerate() {
                out.push((format!("deep_largest_{prefix}_{k}"), value));
            }
        }
    };
    push("mean", &|p| Some(&p.mean));
    push("max", &|p| Some(&p.max));
    push("embed", &|p| p.embed.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn described_inputs_read_back() {
        for input in [DeepInput::Slice, DeepInput::Patch { margin: 0.25 }] {
            assert_eq!(DeepInput::parse_described(&input.describe()), Some(input));
        }
        assert_eq!(DeepInput::parse_described("patch (margin -1)"), None);
        assert_eq!(DeepInput::parse_described("volume"), None);
    }

    #[test]
    fn mask_on_grid_is_area_weighted() {
        // 4×4 mask, top-left 2×2 set: on a 2×2 grid the top-left cell is full, the rest empty.
        let mut mask = vec![0.0; 16];
        for (r, c) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            mask[r * 4 + c] = 1.0;
        }
        assert_eq!(mask_on_grid(&mask, 4, 4, 2, 2), vec![1.0, 0.0, 0.0, 0.0]);
        // One pixel of a 3×3 image on a 2×2 grid: the centre pixel covers a quarter of each
        // cell's area by half a cell in each direction → 0.25·(1.5·1.5)… computed exactly:
        // cell (0,0) spans source [0, 1.5)²; the centre pixel [1, 2)² overlaps [1, 1.5)² = 0.25
        // of 2.25 → 1/9.
        let mut centre = vec![0.0; 9];
        centre[4] = 1.0;
        let cells = mask_on_grid(&centre, 3, 3, 2, 2);
        for c in cells {
            assert!((c - 1.0 / 9.0).abs() < 1e-12, "{c}");
        }
    }
}
