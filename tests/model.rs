//! The model contract: a TorchScript classifier traced here from a tiny `tch::nn` net, its manifest,
//! validation failures, and `radlens predict` on real data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use radlens::model::{Model, ModelError, Support};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use common::{MANIFEST, traced_cam_model, traced_model};

#[test]
fn traced_model_loads_validates_and_predicts() {
    let dir = tempfile::tempdir().unwrap();
    let path = traced_model(dir.path(), 2);
    std::fs::write(dir.path().join("tiny.toml"), MANIFEST).unwrap();
    let model = Model::load(&path).unwrap();
    assert_eq!(model.manifest.classes, ["absent", "present"]);
    assert!(
        matches!(&model.capabilities.cam, Support::Unavailable(reason) if reason.contains("features")),
        "{:?}",
        model.capabilities.cam
    );
    let input = Tensor::rand([1, 1, 32, 32], (Kind::Float, Device::Cpu));
    let prediction = model.predict(&input).unwrap();
    let sum: f32 = prediction.probabilities.iter().sum();
    assert!((sum - 1.0).abs() < 1e-5, "probabilities sum to {sum}");
    assert!(
        prediction.probabilities[prediction.top] >= prediction.probabilities[1 - prediction.top]
    );
}

#[test]
fn wrong_class_count_is_a_contract_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = traced_model(dir.path(), 3);
    std::fs::write(dir.path().join("tiny.toml"), MANIFEST).unwrap();
    let err = Model::load(&path).err().expect("3 logits for 2 classes");
    assert!(matches!(err, ModelError::Contract { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("[1, 3]") && message.ends_with("tiny.pt"),
        "{message}"
    );
}

#[test]
fn wrong_input_shape_in_the_manifest_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = traced_model(dir.path(), 2);
    std::fs::write(
        dir.path().join("tiny.toml"),
        MANIFEST.replace("channels = 1", "channels = 3"),
    )
    .unwrap();
    let err = Model::load(&path)
        .err()
        .expect("3-channel input into a 1-channel conv");
    assert!(
        err.to_string().contains("zero input of the declared shape"),
        "{err}"
    );
}

#[test]
fn missing_manifest_and_non_model_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = traced_model(dir.path(), 2);
    let err = Model::load(&path).err().unwrap();
    assert!(
        matches!(err, ModelError::ManifestRead { .. }) && err.to_string().ends_with("tiny.toml"),
        "{err}"
    );

    let fake = dir.path().join("fake.pt");
    std::fs::write(&fake, b"not a zip archive").unwrap();
    std::fs::write(dir.path().join("fake.toml"), MANIFEST).unwrap();
    let err = Model::load(&fake).err().unwrap();
    assert!(matches!(err, ModelError::Load { .. }), "{err}");
    assert!(!err.to_string().contains('\n'), "one line: {err}");
}

#[test]
fn predict_cli_on_a_real_ct_series_prints_probabilities() {
    let dir = tempfile::tempdir().unwrap();
    let path = traced_model(dir.path(), 2);
    std::fs::write(dir.path().join("tiny.toml"), MANIFEST).unwrap();
    let series = common::data("dicom/series/ct_3slice_with_seg/02.dcm");
    let out = Command::new(env!("CARGO_BIN_EXE_radlens"))
        .args(["predict", "--model"])
        .arg(&path)
        .arg(&series)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["classes"], serde_json::json!(["absent", "present"]));
    let p: Vec<f64> = doc["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-5);
    assert!(doc["top"].as_u64().unwrap() < 2);

    // A .npy of the wrong shape is refused with the shapes named.
    let npy = dir.path().join("wrong.npy");
    let array = ndarray::Array3::<f32>::zeros((1, 16, 16));
    ndarray_npy::WriteNpyExt::write_npy(&array, std::fs::File::create(&npy).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_radlens"))
        .args(["predict", "--model"])
        .arg(&path)
        .arg(&npy)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[1, 1, 16, 16]") && stderr.trim_end().lines().count() == 1,
        "{stderr}"
    );
}

mod worker {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    use radlens::model::{Job, JobContext, Model, Reply, Request, Worker, newest_per_view};

    use super::{MANIFEST, traced_model};
    use tch::{Device, Kind, Tensor};

    fn model() -> (tempfile::TempDir, Model) {
        let dir = tempfile::tempdir().unwrap();
        let path = traced_model(dir.path(), 2);
        std::fs::write(dir.path().join("tiny.toml"), MANIFEST).unwrap();
        let model = Model::load(&path).unwrap();
        (dir, model)
    }

    fn predict_job() -> Job {
        Box::new(|m: &Model, _: &JobContext<'_>| {
            let input = Tensor::rand([1, 1, 32, 32], (Kind::Float, Device::Cpu));
            m.predict(&input).map_err(|e| e.to_string())
        })
    }

    fn next(worker: &Worker) -> Reply {
        worker
            .replies
            .recv_timeout(Duration::from_secs(30))
            .expect("worker replies")
    }

    #[test]
    fn replies_carry_the_request_id_and_notify() {
        let (_dir, model) = model();
        let notified = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&notified);
        let mut worker = Worker::spawn(model, move || {
            counter.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
        let (id, _) = worker.submit(3, predict_job()).unwrap();
        match next(&worker) {
            Reply::Done {
                id: got,
                view,
                result,
            } => {
                assert_eq!((got, view), (id, 3));
                assert_eq!(result.unwrap().probabilities.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        // The worker notifies right after sending: the reply can arrive a moment before that.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while notified.load(Ordering::Relaxed) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "no notification after the reply"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn only_the_newest_request_per_view_survives_and_cancelled_ones_never_run() {
        let request = |id, view, cancelled: bool| Request {
            id,
            view,
            job: predict_job(),
            cancel: Arc::new(AtomicBool::new(cancelled)),
        };
        let kept = newest_per_view(vec![
            request(1, 0, false),
            request(2, 1, false),
            request(3, 0, false),
            request(4, 1, true),
        ]);
        let ids: Vec<u64> = kept.iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            [3],
            "view 0 keeps #3; view 1's newest (#4) was cancelled"
        );
    }

    #[test]
    fn rapid_requests_end_with_the_last_one_answered_in_order() {
        let (_dir, model) = model();
        let mut worker = Worker::spawn(model, || {}).unwrap();
        let mut last = 0;
        for _ in 0..30 {
            last = worker.submit(0, predict_job()).unwrap().0;
        }
        let mut seen = Vec::new();
        while seen.last() != Some(&last) {
            if let Reply::Done { id, .. } = next(&worker) {
                seen.push(id);
            }
        }
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    }

    #[test]
    fn a_long_job_reports_progress_and_stops_mid_way_when_cancelled() {
        let (_dir, model) = model();
        let mut worker = Worker::spawn(model, || {}).unwrap();
        let steps_run = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&steps_run);
        let job: Job = Box::new(move |m: &Model, ctx: &JobContext<'_>| {
            for step in 0..1000 {
                if ctx.is_cancelled() {
                    return Err("cancelled".to_owned());
                }
                counter.fetch_add(1, Ordering::Relaxed);
                let input = Tensor::rand([1, 1, 32, 32], (Kind::Float, Device::Cpu));
                m.predict(&input).map_err(|e| e.to_string())?;
                ctx.progress(step as f32 / 1000.0);
                std::thread::sleep(Duration::from_millis(5));
            }
            Err("ran to the end".to_owned())
        });
        let (id, cancel) = worker.submit(0, job).unwrap();
        let mut fractions = Vec::new();
        loop {
            match next(&worker) {
                Reply::Progress {
                    id: pid, fraction, ..
                } => {
                    assert_eq!(pid, id);
                    fractions.push(fraction);
                    if fractions.len() == 3 {
                        cancel.store(true, Ordering::Relaxed);
                    }
                }
                Reply::Done {
                    id: did, result, ..
                } => {
                    assert_eq!(did, id);
                    assert_eq!(result.unwrap_err(), "cancelled");
                    break;
                }
                other @ Reply::Restarted { .. } => panic!("{other:?}"),
            }
        }
        assert!(fractions.windows(2).all(|w| w[0] < w[1]), "{fractions:?}");
        let run = steps_run.load(Ordering::Relaxed);
        assert!(run < 1000, "the job ran all {run} steps despite the cancel");
    }

    #[test]
    fn a_crashing_job_is_an_error_and_the_worker_goes_on() {
        let (_dir, model) = model();
        let mut worker = Worker::spawn(model, || {}).unwrap();
        let (crash_id, _) = worker
            .submit(0, Box::new(|_: &Model, _: &JobContext<'_>| panic!("boom")))
            .unwrap();
        match next(&worker) {
            Reply::Done { id, result, .. } => {
                assert_eq!(id, crash_id);
                assert!(result.unwrap_err().contains("crashed"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(next(&worker), Reply::Restarted { ok: true, .. }));
        worker.submit(0, predict_job()).unwrap();
        assert!(matches!(next(&worker), Reply::Done { result: Ok(_), .. }));
    }
}

/// The Grad-CAM pattern through TorchScript (STACK.md): differentiate the class score w.r.t.
/// `features(x).detach().set_requires_grad(true)` through `head`. Traced here as two modules, since
/// tracing makes one module per function; 100 calls in a row must all give defined gradients.
#[test]
fn hundred_backward_calls_through_head_give_defined_gradients() {
    let dir = tempfile::tempdir().unwrap();
    let vs = nn::VarStore::new(Device::Cpu);
    let root = vs.root();
    let conv = nn::conv2d(&root / "conv", 1, 8, 3, nn::ConvConfig::default());
    let fc = nn::linear(&root / "fc", 8, 2, nn::LinearConfig::default());
    let mut vs = vs;
    vs.freeze();
    let x = Tensor::rand([1, 1, 32, 32], (Kind::Float, Device::Cpu));
    let mut features = |inputs: &[Tensor]| vec![conv.forward(&inputs[0]).relu()];
    let features = tch::CModule::create_by_tracing(
        "Features",
        "forward",
        std::slice::from_ref(&x),
        &mut features,
    )
    .unwrap();
    let a0 = features.forward_ts(&[&x]).unwrap();
    let mut head =
        |inputs: &[Tensor]| vec![fc.forward(&inputs[0].adaptive_avg_pool2d([1, 1]).flatten(1, -1))];
    let head =
        tch::CModule::create_by_tracing("Head", "forward", std::slice::from_ref(&a0), &mut head)
            .unwrap();
    features.save(dir.path().join("features.pt")).unwrap();
    head.save(dir.path().join("head.pt")).unwrap();
    let features = tch::CModule::load(dir.path().join("features.pt")).unwrap();
    let head = tch::CModule::load(dir.path().join("head.pt")).unwrap();
    for call in 0..100 {
        let a = features
            .forward_ts(&[&x])
            .unwrap()
            .detach()
            .set_requires_grad(true);
        let score = head
            .forward_ts(&[&a])
            .unwrap()
            .select(1, 1)
            .sum(Kind::Float);
        let grads = Tensor::f_run_backward(&[&score], &[&a], false, false).unwrap();
        assert!(grads[0].defined(), "call {call}: undefined gradient");
        assert_eq!(grads[0].size(), a.size());
    }
}

#[test]
fn features_and_head_from_cam_files_agree_with_forward() {
    let dir = tempfile::tempdir().unwrap();
    let path = traced_cam_model(dir.path(), 2);
    let model = Model::load(&path).unwrap();
    assert_eq!(model.capabilities.cam, Support::Available);
    let x = Tensor::rand([3, 1, 32, 32], (Kind::Float, Device::Cpu));
    let a = model.features(&x).unwrap();
    assert_eq!(a.size(), [3, 4, 30, 30]);
    let via_head = model.head(&a).unwrap();
    let direct = model.forward(&x).unwrap();
    assert!(via_head.allclose(&direct, 1e-5, 1e-6, false));

    // A head that disagrees with forward: CAM off with the reason, prediction still works.
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let other = traced_cam_model(&sub, 2);
    std::fs::copy(
        other.with_file_name("cam.head.pt"),
        dir.path().join("cam.head.pt"),
    )
    .unwrap();
    let model = Model::load(&path).unwrap();
    assert!(
        matches!(&model.capabilities.cam, Support::Unavailable(r) if r.contains("differs")),
        "{:?}",
        model.capabilities.cam
    );
    let err = model.features(&x).unwrap_err().to_string();
    assert!(err.contains("CAM methods need"), "{err}");

    // A declared file that is missing is a load error naming that file.
    std::fs::remove_file(dir.path().join("cam.head.pt")).unwrap();
    let err = Model::load(&path).err().unwrap().to_string();
    assert!(err.ends_with("cam.head.pt"), "{err}");
}
