//! Explanation cost on the transformer demo model (`assets/demo/hybrid/hybrid.pt`: CNN stem,
//! 16×16 patch tokens, two transformer blocks), CPU, release, per slice: Grad-CAM on the tokens
//! and attention rollout explaining class 1 on slice 0 of the demo study (512² CT → 1×1×128×128
//! input, the map back to 512²), beside the raw forward pass.
//!
//! `cargo bench --bench transformer`, then `benches/transformer_reference.py` for pytorch-grad-cam
//! (`GradCAM` with `reshape_transform`) and jacobgil's rollout on the same TorchScript files and
//! the same input: this bench writes the input to `target/transformer_bench_input.npy`, its maps
//! on the input grid to `target/transformer_bench_maps/METHOD.npy` and its timings to
//! `target/transformer_bench_rust.json`. One intra-op thread, as `benches/explain.rs` (same
//! reasons, same `RADLENS_BENCH_THREADS` and malloc settings).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use radlens::explain::{ExplainInput, ExplainParams, Heatmap, Method, Target, explain};
use radlens::model::Model;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    root().join("target")
}

fn set_threads() {
    let threads = std::env::var("RADLENS_BENCH_THREADS")
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
        .unwrap_or(1);
    if threads > 0 {
        tch::set_num_threads(threads);
    }
}

fn run(model: &Model, input: &ExplainInput, method: Method) -> Heatmap {
    let mut params = ExplainParams::new(method);
    params.target = Target::Index(1);
    explain(model, input, &params, &|_| {}, &AtomicBool::new(false)).unwrap()
}

/// The demo study's slice 0 as the hybrid's input.
fn fixture() -> (Model, ExplainInput) {
    let model = Model::load(&root().join("assets/demo/hybrid/hybrid.pt")).unwrap();
    let (volume, _) = radlens::dicom::load(&[root().join("assets/demo/ct_lesions")], None).unwrap();
    let [_, rows, cols] = volume.shape;
    let mut values = vec![0.0; rows * cols];
    volume.slice_f32_into(0, &mut values);
    let input = ExplainInput::from_slice(&values, rows, cols, &model.manifest).unwrap();
    (model, input)
}

/// Best time per call over `runs` calls after one warm-up, in ms.
fn best_ms<T>(runs: usize, mut f: impl FnMut() -> T) -> f64 {
    std::hint::black_box(f());
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(f());
            started.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

fn bench(c: &mut Criterion) {
    set_threads();
    let (model, input) = fixture();
    let mut group = c.benchmark_group("transformer");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    for method in [Method::GradCam, Method::Rollout] {
        group.bench_function(method.name(), |b| b.iter(|| run(&model, &input, method)));
    }
    group.bench_function("forward", |b| {
        b.iter(|| tch::no_grad(|| model.forward(&input.tensor)).unwrap());
    });
    group.finish();

    // For the Python reference: the input, radlens' maps on the input grid, the best times.
    let maps = target_dir().join("transformer_bench_maps");
    std::fs::create_dir_all(&maps).unwrap();
    input
        .tensor
        .squeeze_dim(0)
        .write_npy(target_dir().join("transformer_bench_input.npy"))
        .unwrap();
    let grid_input = ExplainInput::from_tensor(input.tensor.shallow_clone()).unwrap();
    let mut times = BTreeMap::new();
    for method in [Method::GradCam, Method::Rollout] {
        let map = run(&model, &grid_input, method);
        let values = tch::Tensor::from_slice(&map.values).reshape([128, 128]);
        values
            .write_npy(maps.join(format!("{}.npy", method.name())))
            .unwrap();
        times.insert(
            method.name().to_owned(),
            best_ms(20, || run(&model, &input, method)),
        );
    }
    times.insert(
        "forward".to_owned(),
        best_ms(20, || {
            tch::no_grad(|| model.forward(&input.tensor)).unwrap()
        }),
    );
    std::fs::write(
        target_dir().join("transformer_bench_rust.json"),
        serde_json::to_string_pretty(&times).unwrap(),
    )
    .unwrap();
    println!("radlens, best of 20, ms per slice: {times:?}");
}

criterion_group!(benches, bench);
criterion_main!(benches);
