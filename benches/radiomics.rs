//! Radiomics speed, side by side with PyRadiomics 3.1.4 in the same run:
//!
//! (a) one 3-D ROI of 249,017 voxels (`tests/data/radiomics/bench_mask.nii.gz` on the brain MR
//!     series), every default class, extraction only (image and mask in memory), median of 3;
//! (b) the 20-case cohort `tests/data/radiomics/cohort20.csv` end to end (reading included) with
//!     `--jobs 2`, as `radlens features --cohort` runs it;
//! (c) deep features of the demo model for the same 20 cases (the ROI slices through
//!     `features`, pooled), against the raw batched `features` forward pass of the same inputs.
//!
//! PyRadiomics runs through `tests/data/radiomics/benches_reference.py` with the Python in
//! `RADLENS_PYTHON` (default `../pyref/bin/python`, else `python3`); without it, radlens' numbers
//! are printed alone and the comparison says why it is missing.
//!
//! `cargo bench --bench radiomics`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Instant;

use radlens::features::cohort::{self, Cohort, RunOptions, Shard};
use radlens::features::{CaseImage, DeepInput, Extractor, deep_features};
use radlens::model::{Model, preprocess_slice};
use radlens::output::WritePolicy;
use radlens::radiomics::{self, Settings};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn roi_seconds() -> (f64, usize) {
    let image = CaseImage::read(
        &root().join("../shared/data/dicom/series/mr_brain_t1_sag_35sl"),
        None,
        None,
    )
    .unwrap();
    let labels = image
        .read_mask(&root().join("tests/data/radiomics/bench_mask.nii.gz"), 1)
        .unwrap();
    let settings = Settings::default();
    let volume = radiomics::Volume {
        values: &image.values,
        labels: &labels,
        dims: image.grid.dims,
        spacing_mm: image.grid.spacing_mm,
    };
    let mut times = Vec::new();
    let mut voxels = 0;
    for _ in 0..3 {
        let start = Instant::now();
        let extraction = radiomics::extract(&volume, &settings).unwrap();
        times.push(start.elapsed().as_secs_f64());
        voxels = extraction.voxel_count;
    }
    (median(times), voxels)
}

fn cohort_seconds(jobs: usize) -> f64 {
    let cohort = Cohort::read(&root().join("tests/data/radiomics/cohort20.csv")).unwrap();
    let extractor = Extractor {
        settings: Settings::default(),
        deep: None,
        npy_spacing: None,
        series: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("features.csv");
    let start = Instant::now();
    let summary = cohort::run(
        &cohort,
        &extractor,
        &RunOptions {
            out: &out,
            shard: Shard::ALL,
            resume: false,
            jobs,
            policy: WritePolicy::default(),
            progress: &|_| {},
            stability: None,
        },
    )
    .unwrap();
    assert_eq!(summary.failed, 0);
    start.elapsed().as_secs_f64()
}

/// (slices, seconds through `deep_features`, seconds of the bare batched forward pass).
fn deep_seconds() -> (usize, f64, f64) {
    let model = Model::load(&root().join("assets/demo/model/lesion.pt")).unwrap();
    let cohort = Cohort::read(&root().join("tests/data/radiomics/cohort20.csv")).unwrap();
    let cases: Vec<(CaseImage, Vec<u32>, u32)> = cohort
        .cases
        .iter()
        .map(|c| {
            let image = CaseImage::read(&c.image, None, None).unwrap();
            let labels = image.read_mask(&c.mask, c.label.unwrap_or(1)).unwrap();
            (image, labels, c.label.unwrap_or(1))
        })
        .collect();
    // The same ROI slices, preprocessed, for the bare forward pass.
    let mut inputs = Vec::new();
    for (image, labels, label) in &cases {
        let [slices, rows, cols] = image.grid.dims;
        let plane = rows * cols;
        for z in 0..slices {
            if labels[z * plane..(z + 1) * plane].contains(label) {
                let values: Vec<f32> = image.values[z * plane..(z + 1) * plane]
                    .iter()
                    .map(|&v| v as f32)
                    .collect();
                inputs.push(preprocess_slice(&values, rows, cols, &model.manifest).unwrap());
            }
        }
    }
    let batch = 16;
    let raw = || {
        let start = Instant::now();
        tch::no_grad(|| {
            for chunk in inputs.chunks(batch) {
                let x = tch::Tensor::cat(chunk, 0);
                let maps = model.features(&x).unwrap();
                let _: Vec<f32> = Vec::try_from(maps.flatten(0, -1)).unwrap();
            }
        });
        start.elapsed().as_secs_f64()
    };
    let ours = || {
        let start = Instant::now();
        for (image, labels, label) in &cases {
            deep_features(
                &model,
                &image.values,
                image.grid.dims,
                labels,
                *label,
                DeepInput::Slice,
                batch,
            )
            .unwrap();
        }
        start.elapsed().as_secs_f64()
    };
    raw(); // warm-up
    let raw_times: Vec<f64> = (0..3).map(|_| raw()).collect();
    let our_times: Vec<f64> = (0..3).map(|_| ours()).collect();
    (inputs.len(), median(our_times), median(raw_times))
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("RADLENS_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = root().join("../pyref/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

fn pyradiomics() -> Result<serde_json::Value, String> {
    let python = python();
    let output = std::process::Command::new(&python)
        .arg(root().join("tests/data/radiomics/benches_reference.py"))
        .current_dir(root())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("BENCH_JSON "))
        .ok_or_else(|| {
            format!(
                "{} printed no BENCH_JSON (is PyRadiomics installed? pip install pyradiomics-bhklab): {}",
                python.display(),
                String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or("")
            )
        })?;
    serde_json::from_str(line).map_err(|e| e.to_string())
}

fn main() {
    println!(
        "radlens radiomics benchmark (release, {} threads)",
        rayon::current_num_threads()
    );
    let (roi, voxels) = roi_seconds();
    println!("(a) ROI {voxels} voxels, all default classes: {roi:.3} s (median of 3)");
    let cohort2 = cohort_seconds(2);
    println!("(b) cohort20 --jobs 2, reading included: {cohort2:.3} s");
    let (slices, deep, raw) = deep_seconds();
    println!(
        "(c) deep features, demo model, {slices} ROI slices: {deep:.3} s vs raw batched forward {raw:.3} s \
         = {:.0} % of the raw throughput",
        100.0 * raw / deep
    );
    match pyradiomics() {
        Ok(reference) => {
            let py_roi = reference["roi_seconds_median"].as_f64().unwrap_or(f64::NAN);
            let py_cohort = reference["cohort20_jobs2_wall_seconds"]
                .as_f64()
                .unwrap_or(f64::NAN);
            println!(
                "PyRadiomics {}: (a) {py_roi:.3} s → radlens {:.1}× faster; (b) {py_cohort:.3} s → radlens {:.1}× faster",
                reference["pyradiomics"].as_str().unwrap_or("?"),
                py_roi / roi,
                py_cohort / cohort2
            );
        }
        Err(why) => println!("PyRadiomics not run: {why}"),
    }
}
