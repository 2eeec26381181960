//! The demo model's data: which real series it learns from and which it is tested on, synthetic
//! lesion samples drawn from them (each positive with its exact mask), and the held-out metrics.
//!
//! Used by `examples/build_demo.rs` (training, export, demo study) and by the tests that check the
//! shipped model's reported numbers. Dependency rule: `dicom` for loading, `imaging` for lesions,
//! `model` for preprocessing; nothing of the UI.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
use tch::Tensor;

use crate::dicom::{self, Voxels};
use crate::imaging::{Lesion, LesionRanges, percentile_window};
use crate::model::{Manifest, ModelError, preprocess_slice};

/// A series (or file) in `../shared/data`, all permissively licensed (never the AGPL phantom).
#[derive(Clone, Copy, Debug)]
pub struct Source {
    pub relpath: &'static str,
    /// The image series' UID where the folder holds others too (segmentations).
    pub series: Option<&'static str>,
    pub ct: bool,
}

/// The abdominal CT the demo study is made from (its only permissively licensed abdominal CT).
pub const DEMO_SOURCE: Source = Source {
    relpath: "dicom/series/ct_3slice_with_seg",
    series: Some("1.2.392.200103.20080913.113635.1.2009.6.22.21.43.10.23430.1"),
    ct: true,
};

/// What the demo model learns from: the demo study's three abdominal CT slices (the demo's
/// lesions are new, but its anatomy is seen in training: see docs/MODELS.md), plus MR slices mapped
/// to pseudo-HU for more anatomy and texture.
pub const TRAINING: [Source; 5] = [
    DEMO_SOURCE,
    Source {
        relpath: "dicom/series/mr_brain_t1_sag_35sl",
        series: None,
        ct: false,
    },
    Source {
        relpath: "dicom/series/mr_prostate_adc_20sl",
        series: None,
        ct: false,
    },
    Source {
        relpath: "dicom/single/mr_qats_1_explicit_le.dcm",
        series: None,
        ct: false,
    },
    Source {
        relpath: "dicom/single/mr_ljd_JPEGLossless_P14_1024.dcm",
        series: None,
        ct: false,
    },
];

/// Never seen in training: the other permissively licensed CT (head and skull base) and a small
/// MR series.
pub const HELD_OUT: [Source; 3] = [
    Source {
        relpath: "dicom/single/ct_ljd_TOSHIBA_J2K_SIZ0_PixRep1.dcm",
        series: None,
        ct: true,
    },
    Source {
        relpath: "dicom/single/mf_pdd_eCT_Supplemental.dcm",
        series: None,
        ct: true,
    },
    Source {
        relpath: "dicom/series/mr_4sl_jpeg_lossless_dicom2nifti",
        series: None,
        ct: false,
    },
];

/// One real slice in HU (CT) or pseudo-HU (MR: its 1st–99.5th percentile mapped to −160…240, the
/// demo window's range).
#[derive(Clone, Debug)]
pub struct BaseSlice {
    pub values: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
    /// (row, col) pixel spacing, mm.
    pub spacing_mm: [f32; 2],
    pub ct: bool,
    pub source: String,
}

/// Loads every slice of `sources` from `data_dir`; slices that are nearly all background are left
/// out (no place for a lesion).
pub fn load_slices(data_dir: &Path, sources: &[Source]) -> anyhow::Result<Vec<BaseSlice>> {
    let mut slices = Vec::new();
    for source in sources {
        let path = data_dir.join(source.relpath);
        let (volume, _) = dicom::load(&[path], source.series)?;
        if matches!(volume.voxels, Voxels::Rgb8(_)) {
            anyhow::bail!(
                "colour series cannot train the demo model: {}",
                source.relpath
            );
        }
        let [n, rows, cols] = volume.shape;
        let spacing = volume.geometry.spacing_mm;
        for index in 0..n {
            let mut values = vec![0.0; rows * cols];
            volume.slice_f32_into(index, &mut values);
            if !source.ct {
                to_pseudo_hu(&mut values);
            }
            let tissue = values
                .iter()
                .filter(|v| (-100.0..=200.0).contains(*v))
                .count();
            if tissue * 10 < values.len() {
                tracing::debug!("{}#{index}: too little tissue, left out", source.relpath);
                continue;
            }
            slices.push(BaseSlice {
                values,
                rows,
                cols,
                spacing_mm: [spacing[1] as f32, spacing[2] as f32],
                ct: source.ct,
                source: format!("{}#{index}", source.relpath),
            });
        }
    }
    Ok(slices)
}

fn to_pseudo_hu(values: &mut [f32]) {
    let Some(window) = percentile_window(values.iter().copied()) else {
        return;
    };
    let (lo, hi) = window.bounds();
    for v in values {
        *v = ((*v - lo) / (hi - lo)).clamp(0.0, 1.0) * 400.0 - 160.0;
    }
}

/// Lesion ranges for a base slice: CT soft tissue, or the pseudo-HU of MR tissue.
#[must_use]
pub fn ranges_for(base: &BaseSlice) -> LesionRanges {
    let ct = LesionRanges::ct();
    if base.ct {
        ct
    } else {
        LesionRanges {
            tissue: [-100.0, 180.0],
            ..ct
        }
    }
}

/// One training/evaluation example: an augmented slice, with a lesion when `label == 1`.
#[derive(Clone, Debug)]
pub struct Sample {
    pub values: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
    pub mask: Option<Vec<bool>>,
    pub label: i64,
    /// Drawn from a CT slice (else MR in pseudo-HU).
    pub ct: bool,
}

/// Share of samples drawn from CT slices when there are both CT and MR ones (CT is what the demo
/// model is for, but the permissively licensed CT slices are few).
pub const CT_SHARE: f32 = 0.5;

/// Draws one sample: a random base slice (CT with probability [`CT_SHARE`]), cropped (75–100 % per side), flipped/transposed,
/// intensity-jittered, and with probability ½ a lesion (redrawn on another slice where none fits;
/// after 200 misses the sample stays negative, which only slices without tissue can cause).
///
/// `boost` multiplies the lesion contrast (1 = the realistic ranges; training starts higher so the
/// network finds the lesions before it must find the faint ones).
pub fn sample(rng: &mut impl Rng, bases: &[BaseSlice], boost: f32) -> Sample {
    let mut positive = rng.random::<f32>() < 0.5;
    for attempt in 0.. {
        if attempt == 200 {
            tracing::warn!("no place for a lesion in 200 tries; the sample stays negative");
            positive = false;
        }
        let base = pick(rng, bases);
        let (mut values, rows, cols) = augment(rng, base);
        if !positive {
            return Sample {
                values,
                rows,
                cols,
                mask: None,
                label: 0,
                ct: base.ct,
            };
        }
        let mut ranges = ranges_for(base);
        ranges.contrast = ranges.contrast.map(|c| c * boost);
        if let Some(lesion) = Lesion::random(rng, &values, rows, cols, base.spacing_mm, &ranges) {
            let mask = lesion.insert(rng, &mut values, rows, cols);
            return Sample {
                values,
                rows,
                cols,
                mask: Some(mask),
                label: 1,
                ct: base.ct,
            };
        }
    }
    unreachable!("the loop returns by attempt 200")
}

fn pick<'a>(rng: &mut impl Rng, bases: &'a [BaseSlice]) -> &'a BaseSlice {
    let want_ct = rng.random::<f32>() < CT_SHARE;
    let matching = bases.iter().filter(|b| b.ct == want_ct).count();
    if matching == 0 {
        return &bases[rng.random_range(0..bases.len())];
    }
    let k = rng.random_range(0..matching);
    bases
        .iter()
        .filter(|b| b.ct == want_ct)
        .nth(k)
        .unwrap_or(&bases[0])
}

/// A random view of `base`: a window of 75–100 % of each side, flipped and/or transposed, then
/// intensity gain (0.9–1.1 about 40 HU), offset (±15 HU) and noise (σ up to 8 HU).
fn augment(rng: &mut impl Rng, base: &BaseSlice) -> (Vec<f32>, usize, usize) {
    let crop_rows = (base.rows as f32 * rng.random_range(0.75..=1.0)) as usize;
    let crop_cols = (base.cols as f32 * rng.random_range(0.75..=1.0)) as usize;
    let r0 = rng.random_range(0..=base.rows - crop_rows);
    let c0 = rng.random_range(0..=base.cols - crop_cols);
    let (flip_r, flip_c, transpose) = (
        rng.random::<bool>(),
        rng.random::<bool>(),
        rng.random::<bool>(),
    );
    let (rows, cols) = if transpose {
        (crop_cols, crop_rows)
    } else {
        (crop_rows, crop_cols)
    };
    let offset = rng.random_range(-15.0f32..=15.0);
    let gain = rng.random_range(0.9f32..=1.1);
    let noise = Normal::new(0.0f32, rng.random_range(0.0f32..=8.0)).ok();
    let mut values = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        for c in 0..cols {
            let (mut sr, mut sc) = if transpose { (c, r) } else { (r, c) };
            if flip_r {
                sr = crop_rows - 1 - sr;
            }
            if flip_c {
                sc = crop_cols - 1 - sc;
            }
            let v = base.values[(r0 + sr) * base.cols + c0 + sc];
            let n = noise.map_or(0.0, |d| d.sample(rng));
            values.push((v - 40.0) * gain + 40.0 + offset + n);
        }
    }
    (values, rows, cols)
}

/// A batch `[n, C, H, W]` and labels `[n]` for the model in `manifest`; sample `i` is drawn from
/// its own generator seeded by `(seed, i)`, so batches are reproducible and built in parallel.
/// The lesion coverage is measured on a `grid × grid` raster (the model's feature grid).
pub fn batch(
    seed: u64,
    n: usize,
    bases: &[BaseSlice],
    manifest: &Manifest,
    boost: f32,
    grid: i64,
) -> Result<Batch, ModelError> {
    let grid = grid.max(1);
    let items: Vec<(Tensor, i64, Tensor)> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut rng = sample_rng(seed, i);
            let s = sample(&mut rng, bases, boost);
            let input = preprocess_slice(&s.values, s.rows, s.cols, manifest)?;
            let coverage = match &s.mask {
                Some(mask) => {
                    let values: Vec<f32> = mask.iter().map(|&m| f32::from(u8::from(m))).collect();
                    Tensor::from_slice(&values)
                        .reshape([1, 1, s.rows as i64, s.cols as i64])
                        .adaptive_avg_pool2d([grid, grid])
                }
                None => Tensor::zeros([1, 1, grid, grid], (tch::Kind::Float, tch::Device::Cpu)),
            };
            Ok((input, s.label, coverage))
        })
        .collect::<Result<_, ModelError>>()?;
    let labels: Vec<i64> = items.iter().map(|(_, l, _)| *l).collect();
    let (inputs, coverage): (Vec<Tensor>, Vec<Tensor>) =
        items.into_iter().map(|(t, _, c)| (t, c)).unzip();
    Ok(Batch {
        inputs: Tensor::cat(&inputs, 0),
        labels: Tensor::from_slice(&labels),
        coverage: Tensor::cat(&coverage, 0),
    })
}

/// A training batch: inputs `[n, C, H, W]`, labels `[n]`, and the share of each cell of a
/// `grid × grid` raster the lesion covers `[n, 1, grid, grid]` (dense supervision for the features).
pub struct Batch {
    pub inputs: Tensor,
    pub labels: Tensor,
    pub coverage: Tensor,
}

/// How the held-out metrics in the demo manifest are measured: this many samples, this seed.
pub const HELD_OUT_SAMPLES: usize = 600;
pub const HELD_OUT_SEED: u64 = 20_261_127;

/// The held-out evaluation set: inputs `[n, C, H, W]`, labels, and which samples are CT.
pub struct HeldOutSet {
    pub inputs: Tensor,
    pub labels: Vec<i64>,
    pub ct: Vec<bool>,
}

/// Draws the held-out set from the held-out slices (`HELD_OUT`), reproducibly.
pub fn held_out_set(held: &[BaseSlice], manifest: &Manifest) -> Result<HeldOutSet, ModelError> {
    let samples: Vec<(Tensor, i64, bool)> = (0..HELD_OUT_SAMPLES)
        .into_par_iter()
        .map(|i| {
            let s = sample(&mut sample_rng(HELD_OUT_SEED, i), held, 1.0);
            preprocess_slice(&s.values, s.rows, s.cols, manifest).map(|t| (t, s.label, s.ct))
        })
        .collect::<Result<_, _>>()?;
    let labels = samples.iter().map(|s| s.1).collect();
    let ct = samples.iter().map(|s| s.2).collect();
    let tensors: Vec<Tensor> = samples.into_iter().map(|s| s.0).collect();
    Ok(HeldOutSet {
        inputs: Tensor::cat(&tensors, 0),
        labels,
        ct,
    })
}

/// The generator of sample `i` of a set drawn with `seed`.
#[must_use]
pub fn sample_rng(seed: u64, i: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(i as u64);
    rng
}

/// Area under the ROC curve of `scores` for binary `labels` (the Mann–Whitney U statistic; tied
/// scores count ½). `None` when either class is absent.
#[must_use]
pub fn roc_auc(scores: &[f32], labels: &[i64]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Average ranks (1-based) over ties.
    let mut ranks = vec![0.0f64; scores.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]].total_cmp(&scores[order[i]]).is_eq() {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    let positives = labels.iter().filter(|&&l| l == 1).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let rank_sum: f64 = (0..labels.len())
        .filter(|&k| labels[k] == 1)
        .map(|k| ranks[k])
        .sum();
    let u = rank_sum - (positives * (positives + 1)) as f64 / 2.0;
    Some(u / (positives * negatives) as f64)
}

/// Held-out ROC AUC and accuracy (threshold ½) of the model whose logits `forward` gives, over
/// [`held_out_set`], and the AUC on its CT samples alone: the numbers of a demo manifest.
pub fn held_out_metrics(
    forward: &dyn Fn(&Tensor) -> Tensor,
    held: &[BaseSlice],
    manifest: &Manifest,
) -> anyhow::Result<(f64, f64, f64)> {
    use anyhow::Context;
    let set = held_out_set(held, manifest)?;
    let scores: Vec<f32> = tch::no_grad(|| {
        let p = forward(&set.inputs)
            .softmax(-1, tch::Kind::Float)
            .select(1, 1);
        Vec::<f32>::try_from(&p)
    })?;
    let auc = roc_auc(&scores, &set.labels).context("one class only")?;
    let correct = scores
        .iter()
        .zip(&set.labels)
        .filter(|(s, l)| (**s >= 0.5) == (**l == 1))
        .count();
    let ct: Vec<usize> = (0..scores.len()).filter(|&i| set.ct[i]).collect();
    let ct_auc = roc_auc(
        &ct.iter().map(|&i| scores[i]).collect::<Vec<_>>(),
        &ct.iter().map(|&i| set.labels[i]).collect::<Vec<_>>(),
    )
    .context("one class only among CT samples")?;
    Ok((auc, correct as f64 / scores.len() as f64, ct_auc))
}

/// The dense target for a lesion map on a `grid × grid` raster, from the lesion's coverage of
/// each cell `[N, 1, grid, grid]`: a Gaussian (σ = 1 cell) around the coverage's centroid, zero
/// without a lesion (every training sample has at most one). The map then peaks on the cell at
/// the lesion's centre, not on a well-covered edge cell.
pub fn centre_target(coverage: &Tensor, grid: i64) -> Tensor {
    use tch::{Device, Kind};
    let dims = [2i64, 3].as_slice();
    let total = coverage.sum_dim_intlist(dims, true, Kind::Float);
    let index = Tensor::arange(grid, (Kind::Float, Device::Cpu));
    let (ys, xs) = (index.view([1, 1, grid, 1]), index.view([1, 1, 1, grid]));
    let weight = total.clamp_min(1e-6);
    let cy = (coverage * &ys).sum_dim_intlist(dims, true, Kind::Float) / &weight;
    let cx = (coverage * &xs).sum_dim_intlist(dims, true, Kind::Float) / &weight;
    let d2 = (ys - cy).square() + (xs - cx).square();
    (d2 * -0.5).exp() * total.gt(0.0).to_kind(Kind::Float)
}

/// A demo manifest's `sha256` entries (`"name" = "hex"`, comma-separated) for `names` in `dir`:
/// radlens refuses a model whose files do not match.
pub fn checksums(dir: &Path, names: &[String]) -> anyhow::Result<String> {
    let entries = names
        .iter()
        .map(|name| -> anyhow::Result<String> {
            let (hex, _) = crate::output::sha256_file(&dir.join(name))?;
            Ok(format!("\"{name}\" = \"{hex}\""))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(entries.join(", "))
}

/// Traces `f` on `input` into a TorchScript module of class `name` whose `forward` is `f`, saved
/// at `path` (tch traces one function per module: each part of a demo model is its own file).
pub fn trace_to(
    path: &Path,
    name: &str,
    input: &Tensor,
    f: &dyn Fn(&Tensor) -> Tensor,
) -> anyhow::Result<()> {
    let mut closure = |inputs: &[Tensor]| vec![f(&inputs[0])];
    let module = tch::CModule::create_by_tracing(
        name,
        "forward",
        std::slice::from_ref(input),
        &mut closure,
    )?;
    module.save(path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_hand_made_cases() {
        assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &[0, 0, 1, 1]), Some(1.0));
        assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &[0, 0, 1, 1]), Some(0.0));
        // One of four positive/negative pairs misordered.
        assert_eq!(roc_auc(&[0.1, 0.5, 0.4, 0.9], &[0, 0, 1, 1]), Some(0.75));
        // A tie between a positive and a negative counts half.
        assert_eq!(roc_auc(&[0.1, 0.5, 0.5, 0.9], &[0, 0, 1, 1]), Some(0.875));
        assert_eq!(roc_auc(&[0.1, 0.5], &[1, 1]), None);
    }

    #[test]
    fn samples_are_reproducible_and_positives_carry_their_mask() {
        let base = BaseSlice {
            values: (0..256 * 256)
                .map(|i| {
                    if (i / 256 + i % 256) % 7 == 0 {
                        60.0
                    } else {
                        30.0
                    }
                })
                .collect(),
            rows: 256,
            cols: 256,
            spacing_mm: [0.5, 0.5],
            ct: true,
            source: "test".to_owned(),
        };
        let bases = [base];
        let mut positives = 0;
        for i in 0..40 {
            let a = sample(&mut sample_rng(9, i), &bases, 1.0);
            let b = sample(&mut sample_rng(9, i), &bases, 1.0);
            assert_eq!(a.values, b.values);
            assert_eq!(a.label, i64::from(a.mask.is_some()));
            if let Some(mask) = &a.mask {
                positives += 1;
                assert_eq!(mask.len(), a.rows * a.cols);
                assert!(mask.iter().any(|&m| m));
            }
        }
        assert!((10..=30).contains(&positives), "{positives} of 40");
    }
}
