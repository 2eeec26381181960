//! The viewer's export and `radlens export` are one pipeline: the same slice, method and settings
//! give byte-equal PNGs and equal sidecars (apart from timing and fresh UIDs).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use common::{os, radlens};
use radlens::app::export::{Display, ExportRequest, Format};
use radlens::dicom::{self, LoadControl};
use radlens::explain::{ExplainParams, Method};
use radlens::export::Scale;
use radlens::imaging::Colormap;
use radlens::model::{JobContext, Model};

fn demo() -> (std::path::PathBuf, std::path::PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    (root.join("ct_lesions"), root.join("model/lesion.pt"))
}

/// The sidecar without what differs by nature between two runs: the explanation's timing.
fn comparable(path: &Path) -> serde_json::Value {
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    if let Some(explanation) = value["explanation"].as_object_mut() {
        explanation.remove("elapsed_ms");
    }
    value
}

#[test]
fn cli_and_gui_export_of_the_same_slice_are_equal() {
    let (study, model_path) = demo();
    let dir = tempfile::tempdir().unwrap();
    let cli_png = dir.path().join("cli.png");
    let out = radlens(&[
        os("export"),
        os("--model"),
        os(&model_path),
        os(&study),
        os("--method"),
        os("gradcam"),
        os("--slice"),
        os("1"),
        os("--png"),
        os(&cli_png),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let report = dicom::scan(std::slice::from_ref(&study)).unwrap();
    let series = report
        .series
        .iter()
        .find(|s| s.modality() != "SEG")
        .unwrap();
    let loaded = dicom::load_with_masks(series, &report.series, &LoadControl::default()).unwrap();
    let window = loaded.volume.default_window;
    let gui_png = dir.path().join("gui.png");
    let request = ExportRequest {
        volume: Arc::new(loaded.volume),
        slices: vec![1],
        masks: loaded.masks,
        displays: vec![Display {
            window,
            invert: false,
            colormap: Colormap::Jet,
            threshold: 0.2,
            opacity: 0.5,
            params: ExplainParams::new(Method::GradCam),
        }],
        format: Format::Png,
        scale: Scale::Auto,
        keep_identity: false,
        destination: gui_png.clone(),
        verdicts: Vec::new(),
        retain_uids: false,
        protected: Vec::new(),
        results: radlens::export::ResultObjects::default(),
        entries: Vec::new(),
    };
    let model = Model::load(&model_path).unwrap();
    let cancel = AtomicBool::new(false);
    let job = request.into_job();
    job(&model, &JobContext::new(&cancel, &|_| {})).unwrap();

    assert_eq!(
        std::fs::read(&cli_png).unwrap(),
        std::fs::read(&gui_png).unwrap(),
        "the CLI and the viewer wrote different pictures"
    );
    let (cli, gui) = (
        comparable(&dir.path().join("cli.png.json")),
        comparable(&dir.path().join("gui.png.json")),
    );
    for key in [
        "output",
        "inputs",
        "model",
        "explanation",
        "explain_params",
        "probability",
        "slice",
        "display",
        "layout",
    ] {
        assert_eq!(cli[key], gui[key], "sidecar field {key}");
    }
    assert_eq!(
        cli["model"].as_array().unwrap().len(),
        4,
        "M.pt, M.toml and the CAM files"
    );
}
