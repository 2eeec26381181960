//! Explanation cost on the shipped demo model (CPU, release), per slice: every method with its
//! defaults (batch 16) explaining class 1 ("present") on slice 0 of the demo study (512² CT →
//! 1×1×128×128 model input; the map goes back to the 512² grid, as in the app), and the raw
//! batched throughput of the model that the batched methods are compared with (batches of 16
//! copies of the input: the forward pass without autograd, and forward and backward to the input).
//! Issue #5's goals: Grad-CAM at most 30 ms and no slower than pytorch-grad-cam; LIME at least 2×
//! faster than `lime`; batched methods at least 80 % of the raw batched throughput.
//!
//! `cargo bench --bench explain` (1–2 min), then `benches/explain_reference.py` for the Python
//! references on the same TorchScript files and the same input: this bench writes the preprocessed
//! input to `target/explain_bench_input.npy`, each method's map on the input grid to
//! `target/explain_bench_maps/METHOD.npy` and its summary to `target/explain_bench_rust.json`,
//! which the script reads (so run this bench first).
//!
//! Threads: libtorch runs with **one** intra-op thread (`tch::set_num_threads(1)`), as the
//! Python script's `torch.set_num_threads(1)`: on a small shared machine libtorch's OpenMP threads
//! fight rayon and other processes (docs/EXPLAIN.md). `RADLENS_BENCH_THREADS=N` sets another
//! count, `0` keeps libtorch's default. After criterion, a table per method: the best time per
//! call over criterion's samples (ms per slice), inputs run, inputs/s and the share of the raw
//! throughput.
//!
//! Allocator: glibc's malloc gives large activation buffers back to the OS and faults them in again
//! depending on the process's history (its dynamic mmap threshold), so the same forward pass runs
//! up to ~1.5× slower in one process than another. For steady numbers, run both this bench and the
//! script with `MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=1073741824`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use radlens::explain::{ExplainInput, ExplainParams, Heatmap, Method, Provenance, Target, explain};
use radlens::model::Model;
use tch::{Kind, Tensor};

/// The inputs of one raw batch: `ExplainParams`' default batch size.
const BATCH: i64 = 16;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    root().join("target")
}

/// `RADLENS_BENCH_THREADS` (default 1; 0: libtorch's default), applied before any torch op.
fn set_threads() {
    let threads = std::env::var("RADLENS_BENCH_THREADS")
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
        .unwrap_or(1);
    if threads > 0 {
        tch::set_num_threads(threads);
    }
}

fn params(method: Method) -> ExplainParams {
    let mut params = ExplainParams::new(method);
    params.target = Target::Index(1);
    params
}

fn run(model: &Model, input: &ExplainInput, method: Method) -> Heatmap {
    explain(
        model,
        input,
        &params(method),
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap()
}

/// The methods the demo model can run (attention rollout needs a transformer: benches/transformer.rs).
fn methods(model: &Model) -> Vec<Method> {
    Method::ALL
        .into_iter()
        .filter(|m| model.capabilities.missing(m.needs()).is_none())
        .collect()
}

/// `BATCH` copies of the input, scored without autograd (what `scores` in explain/ runs).
fn raw_forward(model: &Model, batch: &Tensor) -> Tensor {
    tch::no_grad(|| model.forward(batch)).unwrap()
}

/// `BATCH` copies of the input, the target's summed logit differentiated to the input (what
/// IG's and SmoothGrad's batches run).
fn raw_forward_backward(model: &Model, batch: &Tensor) -> Tensor {
    tch::with_grad(|| {
        let x = batch.detach().set_requires_grad(true);
        let score = model.forward(&x).unwrap().select(1, 1).sum(Kind::Float);
        Tensor::run_backward(&[score], &[x], false, false)
            .pop()
            .unwrap()
    })
}

/// The best mean time per call over criterion's samples (warm-up included), in ms, by name.
#[derive(Default)]
struct Best(RefCell<BTreeMap<String, f64>>);

impl Best {
    /// A criterion routine that runs `f` and keeps its best per-call time under `name`.
    fn routine<T>(&self, name: &str, mut f: impl FnMut() -> T) -> impl FnMut(u64) -> Duration {
        move |iters| {
            let started = Instant::now();
            for _ in 0..iters {
                std::hint::black_box(f());
            }
            let elapsed = started.elapsed();
            let ms = elapsed.as_secs_f64() * 1e3 / iters as f64;
            let mut best = self.0.borrow_mut();
            let entry = best.entry(name.to_owned()).or_insert(f64::INFINITY);
            *entry = entry.min(ms);
            elapsed
        }
    }

    fn ms(&self, name: &str) -> f64 {
        self.0.borrow()[name]
    }
}

/// The model files, whose SHA-256 the summary records (the Python script checks it ran the same).
const MODEL_FILES: [&str; 3] = ["lesion.pt", "lesion.features.pt", "lesion.head.pt"];

struct Fixture {
    model: Model,
    /// SHA-256 of each of `MODEL_FILES`, taken just before loading them.
    model_sha256: BTreeMap<&'static str, String>,
    /// Slice 0 of the demo study, heatmaps on its 512² grid.
    input: ExplainInput,
    batch: Tensor,
}

fn fixture() -> Fixture {
    set_threads();
    let dir = root().join("assets/demo/model");
    let model_sha256 = MODEL_FILES
        .map(|file| {
            (
                file,
                radlens::export::sha256_file(&dir.join(file)).unwrap().0,
            )
        })
        .into();
    let model = Model::load(&dir.join("lesion.pt")).unwrap();
    let (volume, _) = radlens::dicom::load(&[root().join("assets/demo/ct_lesions")], None).unwrap();
    let [_, rows, cols] = volume.shape;
    let mut values = vec![0.0; rows * cols];
    volume.slice_f32_into(0, &mut values);
    let input = ExplainInput::from_slice(&values, rows, cols, &model.manifest).unwrap();
    let batch = input.tensor.repeat([BATCH, 1, 1, 1]);
    Fixture {
        model,
        model_sha256,
        input,
        batch,
    }
}

/// The input and each method's map on the input grid, for `benches/explain_reference.py`; returns
/// each method's provenance (the number of inputs run is the same on any output grid).
fn write_reference_files(f: &Fixture) -> HashMap<Method, Provenance> {
    let dir = target_dir();
    f.input
        .tensor
        .write_npy(dir.join("explain_bench_input.npy"))
        .unwrap();
    let maps = dir.join("explain_bench_maps");
    std::fs::create_dir_all(&maps).unwrap();
    let on_input_grid = ExplainInput::from_tensor(f.input.tensor.shallow_clone()).unwrap();
    methods(&f.model)
        .into_iter()
        .map(|method| {
            let heatmap = run(&f.model, &on_input_grid, method);
            Tensor::from_slice(&heatmap.values)
                .reshape([heatmap.rows as i64, heatmap.cols as i64])
                .write_npy(maps.join(format!("{}.npy", method.name())))
                .unwrap();
            (method, heatmap.provenance)
        })
        .collect()
}

const RAW_FORWARD: &str = "raw_forward_batch16";
const RAW_FORWARD_BACKWARD: &str = "raw_forward_backward_batch16";

fn bench(c: &mut Criterion) {
    let f = fixture();
    let provenance = write_reference_files(&f);
    let best = Best::default();
    let mut group = c.benchmark_group("explain_demo_slice");
    // The slow methods (LIME: ~3 s a call) get ten single calls, criterion's minimum, which it
    // warns about ("Unable to complete 10 samples"); that keeps the bench near 2 minutes.
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for method in methods(&f.model) {
        group.bench_function(method.name(), |b| {
            b.iter_custom(best.routine(method.name(), || run(&f.model, &f.input, method)));
        });
    }
    group.bench_function(RAW_FORWARD, |b| {
        b.iter_custom(best.routine(RAW_FORWARD, || raw_forward(&f.model, &f.batch)));
    });
    group.bench_function(RAW_FORWARD_BACKWARD, |b| {
        b.iter_custom(best.routine(RAW_FORWARD_BACKWARD, || {
            raw_forward_backward(&f.model, &f.batch)
        }));
    });
    group.finish();
    summary(&f, &best, &provenance);
}

/// Per method: the best time per slice, inputs run, and the throughput against the raw batches'
/// (forward for the scoring methods, forward + backward for IG and SmoothGrad); also written to
/// `target/explain_bench_rust.json`.
fn summary(f: &Fixture, best: &Best, provenance: &HashMap<Method, Provenance>) {
    let forward_per_s = BATCH as f64 / best.ms(RAW_FORWARD) * 1e3;
    let backward_per_s = BATCH as f64 / best.ms(RAW_FORWARD_BACKWARD) * 1e3;
    println!(
        "\nexplain, demo slice 0 (512² → 1×1×128×128), target 1, defaults, batch {BATCH}, \
         libtorch intra-op threads {}",
        tch::get_num_threads()
    );
    println!("raw forward (no_grad), batch {BATCH}: {forward_per_s:.0} inputs/s");
    println!("raw forward + backward to the input, batch {BATCH}: {backward_per_s:.0} inputs/s\n");
    println!(
        "| method | ms/slice (best) | forward inputs | inputs/s | % of raw |\n\
         |---|---|---|---|---|"
    );
    let mut rows = Vec::new();
    for method in methods(&f.model) {
        let ms = best.ms(method.name());
        let inputs = provenance[&method].forward_passes;
        let per_s = inputs as f64 / ms * 1e3;
        let raw = match method {
            Method::ScoreCam | Method::Occlusion | Method::Lime | Method::KernelShap => {
                Some(forward_per_s)
            }
            Method::IntegratedGradients | Method::SmoothGrad => Some(backward_per_s),
            _ => None,
        };
        let share = raw.map_or_else(|| "–".to_owned(), |r| format!("{:.0} %", per_s / r * 1e2));
        println!(
            "| {} | {ms:.2} | {inputs} | {per_s:.0} | {share} |",
            method.name()
        );
        rows.push(serde_json::json!({"method": method.name(), "ms": ms, "inputs": inputs}));
    }
    let timings = serde_json::json!({
        "threads": tch::get_num_threads(),
        "model_sha256": f.model_sha256,
        "raw_forward_per_s": forward_per_s,
        "raw_forward_backward_per_s": backward_per_s,
        "methods": rows,
    });
    let json = target_dir().join("explain_bench_rust.json");
    std::fs::write(&json, timings.to_string()).unwrap();
    println!(
        "\nwrote {} (with explain_bench_input.npy and explain_bench_maps/) for \
         benches/explain_reference.py",
        json.display()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
