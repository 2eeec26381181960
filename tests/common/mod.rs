//! Shared test helpers: where the shared data lives and what MANIFEST.tsv says about it.

#![allow(dead_code)]

pub mod front;
pub mod orthanc;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

/// Runs the `radlens` binary with `args`, capturing its output.
pub fn radlens(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_radlens"))
        .args(args)
        .output()
        .expect("radlens runs")
}

/// What a run printed on stderr, trimmed.
pub fn stderr_text(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).trim().to_owned()
}

/// Any path or string as a command-line argument for [`radlens`].
pub fn os<P: AsRef<std::ffi::OsStr> + ?Sized>(p: &P) -> &std::ffi::OsStr {
    p.as_ref()
}

/// `../shared/data`, relative to the package root (read-only: never write there).
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
}

pub fn data(relpath: &str) -> PathBuf {
    data_dir().join(relpath)
}

/// One MANIFEST.tsv row, by column name.
pub struct Row(pub HashMap<String, String>);

impl Row {
    pub fn get(&self, column: &str) -> &str {
        self.0.get(column).map_or("", String::as_str)
    }
    pub fn relpath(&self) -> &str {
        self.get("relpath")
    }
    /// `pydicom_decodes` says yes (possibly with a remark).
    pub fn decodes(&self) -> bool {
        self.get("pydicom_decodes").starts_with("yes")
    }
    pub fn is_dicom(&self) -> bool {
        self.relpath().starts_with("dicom/")
            && (self.decodes() || self.get("pydicom_decodes") == "no")
    }
    fn note(&self, key: &str) -> Option<&str> {
        let notes = self.get("notes");
        let start = notes.find(&format!("{key}="))? + key.len() + 1;
        let rest = &notes[start..];
        let end = if rest.starts_with('(') {
            rest.find(')')? + 1
        } else {
            rest.find([' ', ';']).unwrap_or(rest.len())
        };
        Some(&rest[..end])
    }
    /// pydicom's decoded array shape, e.g. `[512, 512]` or `[10, 64, 64]`.
    pub fn shape(&self) -> Vec<usize> {
        let text = self.note("shape").expect("shape in notes");
        text.trim_matches(['(', ')'])
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().parse().expect("shape number"))
            .collect()
    }
    /// pydicom's raw (stored) min and max.
    pub fn raw_min_max(&self) -> (f64, f64) {
        let min = self
            .note("min")
            .expect("min in notes")
            .parse()
            .expect("min number");
        let max = self
            .note("max")
            .expect("max in notes")
            .parse()
            .expect("max number");
        (min, max)
    }
    pub fn rescale(&self) -> (f64, f64) {
        let slope = self.get("slope").trim().parse().unwrap_or(1.0);
        let intercept = self.get("intercept").trim().parse().unwrap_or(0.0);
        (slope, intercept)
    }
}

pub fn manifest() -> Vec<Row> {
    let text = std::fs::read_to_string(data("MANIFEST.tsv")).expect("MANIFEST.tsv readable");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    lines
        .map(|line| {
            Row(header
                .iter()
                .zip(line.split('\t'))
                .map(|(k, v)| ((*k).to_owned(), v.to_owned()))
                .collect())
        })
        .collect()
}

/// Loads the single series a path holds.
pub fn load(path: &std::path::Path) -> radlens::dicom::Volume {
    radlens::dicom::load(&[path.to_owned()], None)
        .unwrap_or_else(|e| panic!("{e}"))
        .0
}

// A small CNN traced to TorchScript, and its manifest (model tests and GUI tests).

pub const MANIFEST: &str = r#"
name = "tiny test net"
classes = ["absent", "present"]
[input]
channels = 1
height = 32
width = 32
[preprocess]
window = { center = 40.0, width = 400.0 }
mean = [0.5]
std = [0.25]
"#;

/// Traces a small CNN (conv → relu → global pool → linear, 2 classes) into `dir/tiny.pt`.
pub fn traced_model(dir: &Path, classes: i64) -> PathBuf {
    let vs = nn::VarStore::new(Device::Cpu);
    let root = vs.root();
    let net = nn::seq()
        .add(nn::conv2d(
            &root / "conv",
            1,
            4,
            3,
            nn::ConvConfig::default(),
        ))
        .add_fn(|x| x.relu().adaptive_avg_pool2d([1, 1]).flatten(1, -1))
        .add(nn::linear(
            &root / "fc",
            4,
            classes,
            nn::LinearConfig::default(),
        ));
    // One optimiser step so the weights are not the initial ones (and tracing sees trained values).
    let mut opt = nn::Sgd::default().build(&vs, 0.1).unwrap();
    let x = Tensor::randn([4, 1, 32, 32], (Kind::Float, Device::Cpu));
    let y = Tensor::from_slice(&[0i64, 1, 0, 1]).remainder(classes);
    opt.backward_step(&net.forward(&x).cross_entropy_for_logits(&y));
    let mut vs = vs;
    vs.freeze();
    let mut forward = |inputs: &[Tensor]| vec![net.forward(&inputs[0])];
    let module = tch::CModule::create_by_tracing(
        "TinyNet",
        "forward",
        &[Tensor::zeros([1, 1, 32, 32], (Kind::Float, Device::Cpu))],
        &mut forward,
    )
    .unwrap();
    let path = dir.join("tiny.pt");
    module.save(&path).unwrap();
    path
}

/// The same kind of net, exported with CAM support: `cam.pt` (forward), `cam.features.pt` (conv →
/// relu, `[N, 4, 30, 30]`) and `cam.head.pt` (global average pool → linear), with `cam.toml`
/// naming them under `[cam]`. Returns the path of `cam.pt`.
pub fn traced_cam_model(dir: &Path, classes: i64) -> PathBuf {
    let vs = nn::VarStore::new(Device::Cpu);
    let root = vs.root();
    let conv = nn::conv2d(&root / "conv", 1, 4, 3, nn::ConvConfig::default());
    let fc = nn::linear(&root / "fc", 4, classes, nn::LinearConfig::default());
    let features = |x: &Tensor| x.apply(&conv).relu();
    let head = |a: &Tensor| a.adaptive_avg_pool2d([1, 1]).flatten(1, -1).apply(&fc);
    // Deterministic weights and training input (not the global RNG, which tests running in
    // parallel share): a random draw occasionally gave a net whose Grad-CAM is zero everywhere.
    // Nets made in different folders differ (a test compares two).
    let folder = dir.as_os_str().len() as f64;
    tch::no_grad(|| {
        for (name, mut var) in vs.variables() {
            let offset = name.len() as f64 + folder;
            let values = Tensor::arange(var.numel() as i64, (Kind::Float, Device::Cpu))
                .f_add_scalar(offset)
                .unwrap()
                .sin()
                .f_mul_scalar(0.5)
                .unwrap()
                .reshape(var.size());
            var.copy_(&values);
        }
    });
    let mut opt = nn::Sgd::default().build(&vs, 0.1).unwrap();
    let x = Tensor::arange(4 * 32 * 32, (Kind::Float, Device::Cpu))
        .f_mul_scalar(0.37)
        .unwrap()
        .sin()
        .reshape([4, 1, 32, 32]);
    let y = Tensor::from_slice(&[0i64, 1, 0, 1]).remainder(classes);
    opt.backward_step(&head(&features(&x)).cross_entropy_for_logits(&y));
    let mut vs = vs;
    vs.freeze();
    let x0 = Tensor::zeros([1, 1, 32, 32], (Kind::Float, Device::Cpu));
    let a0 = features(&x0);
    let trace = |name: &str, input: &Tensor, f: &dyn Fn(&Tensor) -> Tensor, file: &str| {
        let mut closure = |inputs: &[Tensor]| vec![f(&inputs[0])];
        let module = tch::CModule::create_by_tracing(
            name,
            "forward",
            std::slice::from_ref(input),
            &mut closure,
        )
        .unwrap();
        let path = dir.join(file);
        module.save(&path).unwrap();
        path
    };
    let path = trace("CamNet", &x0, &|x| head(&features(x)), "cam.pt");
    trace("CamFeatures", &x0, &features, "cam.features.pt");
    trace("CamHead", &a0, &head, "cam.head.pt");
    std::fs::write(
        dir.join("cam.toml"),
        format!("{MANIFEST}\n[cam]\nfeatures = \"cam.features.pt\"\nhead = \"cam.head.pt\"\n"),
    )
    .unwrap();
    path
}

/// `dciodvfy` (dicom3tools) on `file`: its error lines and its warning lines. A missing tool fails
/// the test with how to get it (packaging/setup.sh and .ci/run install it).
pub fn dciodvfy(file: &Path) -> (Vec<String>, Vec<String>) {
    let output = std::process::Command::new("dciodvfy")
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "dciodvfy cannot run ({e}): install dicom3tools (packaging/setup.sh does, or \
                 apt install dicom3tools)"
            )
        });
    // dciodvfy writes its findings to stderr, the module names to stdout.
    let report = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    let lines = |prefix: &str| -> Vec<String> {
        report
            .lines()
            .filter(|l| l.starts_with(prefix))
            .map(str::to_owned)
            .collect()
    };
    (lines("Error"), lines("Warning"))
}

/// Every primitive value of `obj` and its sequence items, as text, with its tag (pixel data left
/// out).
pub fn all_values(obj: &dicom_object::InMemDicomObject, out: &mut Vec<(dicom_core::Tag, String)>) {
    use dicom_core::header::Header;
    use dicom_dictionary_std::tags;
    for elem in obj {
        match elem.value() {
            dicom_core::value::Value::Sequence(seq) => {
                seq.items().iter().for_each(|i| all_values(i, out));
            }
            dicom_core::value::Value::Primitive(p)
                if ![tags::PIXEL_DATA, tags::FLOAT_PIXEL_DATA].contains(&elem.tag()) =>
            {
                out.push((
                    elem.tag(),
                    p.to_str().trim_end_matches(['\0', ' ']).trim().to_owned(),
                ));
            }
            _ => {}
        }
    }
}
