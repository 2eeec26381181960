//! Single-slice prediction latency of the shipped demo model (CPU, release): preprocessing a real
//! 512² CT slice + forward, directly and through the inference worker (submit → reply), to show
//! the worker's overhead. Target: ≤ 20 ms per slice, worker overhead < 5 %.
//!
//! `cargo bench --bench predict`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use radlens::model::{JobContext, Model, Reply, Worker, preprocess_slice};

fn demo_model() -> Model {
    Model::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/model/lesion.pt")).unwrap()
}

fn bench(c: &mut Criterion) {
    let study = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/ct_lesions");
    let (volume, _) = radlens::dicom::load(&[study], None).unwrap();
    let [_, rows, cols] = volume.shape;
    let mut values = vec![0.0; rows * cols];
    volume.slice_f32_into(0, &mut values);
    let mut group = c.benchmark_group("predict_demo_model_512_slice");
    group.measurement_time(Duration::from_secs(5));
    // The worker first: in the app only the worker thread runs torch ops.
    let mut worker = Worker::spawn(demo_model(), || {}).unwrap();
    group.bench_function("through_worker", |b| {
        b.iter(|| {
            let values = values.clone();
            worker
                .submit(
                    0,
                    Box::new(move |m: &Model, _: &JobContext<'_>| {
                        let input = preprocess_slice(&values, rows, cols, &m.manifest)
                            .map_err(|e| e.to_string())?;
                        m.predict(&input).map_err(|e| e.to_string())
                    }),
                )
                .unwrap();
            loop {
                match worker.replies.recv().unwrap() {
                    Reply::Done { result, .. } => break result.unwrap(),
                    Reply::Progress { .. } => {}
                    Reply::Restarted { reason, .. } => panic!("{reason}"),
                }
            }
        });
    });
    let direct = demo_model();
    group.bench_function("direct", |b| {
        b.iter(|| {
            let input = preprocess_slice(&values, rows, cols, &direct.manifest).unwrap();
            direct.predict(&input).unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
