//! Single-slice prediction latency (CPU, release) for a demo-sized CNN on a 64×64 input, directly
//! and through the inference worker (submit → reply), to show the worker's overhead.
//!
//! `cargo bench --bench predict`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use radlens::model::{Model, Reply, Worker};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

const MANIFEST: &str = r#"
name = "bench cnn"
classes = ["absent", "present"]
[input]
channels = 1
height = 64
width = 64
[preprocess]
window = { center = 40.0, width = 400.0 }
"#;

/// conv(16) → pool → conv(32) → pool → conv(64) → global pool → linear(2), traced to TorchScript.
fn model(dir: &std::path::Path) -> Model {
    let vs = nn::VarStore::new(Device::Cpu);
    let r = vs.root();
    let conv = |name: &str, i, o| {
        nn::conv2d(
            &r / name,
            i,
            o,
            3,
            nn::ConvConfig {
                padding: 1,
                ..Default::default()
            },
        )
    };
    let net = nn::seq()
        .add(conv("c1", 1, 16))
        .add_fn(|x| x.relu().max_pool2d_default(2))
        .add(conv("c2", 16, 32))
        .add_fn(|x| x.relu().max_pool2d_default(2))
        .add(conv("c3", 32, 64))
        .add_fn(|x| x.relu().adaptive_avg_pool2d([1, 1]).flatten(1, -1))
        .add(nn::linear(&r / "fc", 64, 2, nn::LinearConfig::default()));
    let mut vs = vs;
    vs.freeze();
    let mut forward = |inputs: &[Tensor]| vec![net.forward(&inputs[0])];
    let module = tch::CModule::create_by_tracing(
        "BenchNet",
        "forward",
        &[Tensor::zeros([1, 1, 64, 64], (Kind::Float, Device::Cpu))],
        &mut forward,
    )
    .unwrap();
    let path = dir.join("bench.pt");
    module.save(&path).unwrap();
    std::fs::write(dir.join("bench.toml"), MANIFEST).unwrap();
    Model::load(&path).unwrap()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let input = Tensor::rand([1, 1, 64, 64], (Kind::Float, Device::Cpu));
    let mut group = c.benchmark_group("predict_64x64_cnn");
    group.measurement_time(Duration::from_secs(5));
    let mut worker = Worker::spawn(model(dir.path()), || {}).unwrap();
    group.bench_function("through_worker", |b| {
        b.iter(|| {
            let input = input.shallow_clone();
            worker
                .submit(
                    0,
                    Box::new(move |m: &Model| m.predict(&input).map_err(|e| e.to_string())),
                )
                .unwrap();
            match worker.replies.recv().unwrap() {
                Reply::Done { result, .. } => result.unwrap(),
                Reply::Restarted { reason, .. } => panic!("{reason}"),
            }
        });
    });
    let direct = model(dir.path());
    group.bench_function("direct", |b| b.iter(|| direct.predict(&input).unwrap()));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
