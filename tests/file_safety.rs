//! Sources are never lost (issue: fuzz campaign, data loss): no command writes over a file it
//! read or will read — every slice of a folder INPUT, its masks, the model, its manifest and CAM
//! files — whether the output is named directly, through `..`/`.`, through a symlink or a hard
//! link, and `--force` never overrides that. Volume gaps are an error unless accepted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use common::{os, radlens, stderr_text as stderr};

/// A writable copy of the demo study (3 slices + `lesions.mask.npy`) and of the demo model.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
        for sub in ["ct_lesions", "model"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
            for entry in std::fs::read_dir(root.join(sub)).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name())).unwrap();
            }
        }
        Self { dir }
    }

    fn study(&self) -> PathBuf {
        self.dir.path().join("ct_lesions")
    }

    fn model(&self) -> PathBuf {
        self.dir.path().join("model/lesion.pt")
    }

    /// Every file of the fixture with its bytes.
    fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files: Vec<(PathBuf, Vec<u8>)> = walk(self.dir.path())
            .into_iter()
            .map(|p| {
                let bytes = std::fs::read(&p).unwrap();
                (p, bytes)
            })
            .collect();
        files.sort();
        files
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.is_symlink() {
            out.extend(walk(&path));
        } else if path.is_file() && !path.is_symlink() {
            out.push(path);
        }
    }
    out
}

fn refs(args: &[std::ffi::OsString]) -> Vec<&OsStr> {
    args.iter().map(std::ffi::OsString::as_os_str).collect()
}

/// Runs `args` (with and without `--force`) and checks it fails with the refusal and that no
/// file of the fixture changed.
fn refused(fixture: &Fixture, args: &[&OsStr]) {
    let before = fixture.snapshot();
    for force in [false, true] {
        let mut all = args.to_vec();
        if force {
            all.push(os("--force"));
        }
        let out = radlens(&all);
        let line = stderr(&out);
        assert!(!out.status.success(), "{all:?} succeeded");
        assert!(
            line.contains("refusing to overwrite a source file"),
            "{all:?}: {line}"
        );
        assert_eq!(fixture.snapshot(), before, "{all:?} changed a source");
    }
}

#[test]
fn volume_never_writes_over_a_slice_of_a_folder_input() {
    let f = Fixture::new();
    let study = f.study();
    refused(
        &f,
        &[
            os("volume"),
            os(&study),
            os("--out"),
            os(&study.join("01.dcm")),
        ],
    );
    let dotted = study.join("..").join("ct_lesions").join(".").join("01.dcm");
    refused(&f, &[os("volume"), os(&study), os("--out"), os(&dotted)]);
}

#[test]
fn volume_never_writes_over_the_mask_beside_the_series() {
    let f = Fixture::new();
    let study = f.study();
    refused(
        &f,
        &[
            os("volume"),
            os(&study),
            os("--out"),
            os(&study.join("lesions.mask.npy")),
        ],
    );
}

#[test]
fn a_symlink_or_hard_link_to_a_source_is_refused() {
    let f = Fixture::new();
    let study = f.study();
    let link_dir = f.dir.path().join("link");
    std::os::unix::fs::symlink(&study, &link_dir).unwrap();
    refused(
        &f,
        &[
            os("volume"),
            os(&study),
            os("--out"),
            os(&link_dir.join("02.dcm")),
        ],
    );
    let hard = f.dir.path().join("hard.dcm");
    std::fs::hard_link(study.join("03.dcm"), &hard).unwrap();
    refused(&f, &[os("volume"), os(&study), os("--out"), os(&hard)]);
}

#[test]
fn explain_never_writes_over_the_input_folder_or_the_model_files() {
    let f = Fixture::new();
    let (study, model) = (f.study(), f.model());
    let out = f.dir.path().join("h.npy");
    let explain = |target: &Path, overlay: Option<&Path>| -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = [
            os("explain"),
            os("--model"),
            os(&model),
            os(&study),
            os("--method"),
            os("gradcam"),
            os("--slice"),
            os("0"),
            os("--out"),
            os(target),
        ]
        .iter()
        .map(|a| a.to_os_string())
        .collect();
        if let Some(overlay) = overlay {
            args.push("--overlay".into());
            args.push(overlay.into());
        }
        args
    };
    refused(&f, &refs(&explain(&study.join("02.dcm"), None)));
    refused(&f, &refs(&explain(&out, Some(&study.join("01.dcm")))));
    for companion in [
        "lesion.pt",
        "lesion.toml",
        "lesion.features.pt",
        "lesion.head.pt",
    ] {
        let target = f.dir.path().join("model").join(companion);
        refused(&f, &refs(&explain(&target, None)));
    }
    // A new file beside the sources is fine.
    let ok = radlens(&refs(&explain(&study.join("h.npy"), None)));
    assert!(ok.status.success(), "{}", stderr(&ok));
}

#[test]
fn export_never_writes_over_a_source() {
    let f = Fixture::new();
    let (study, model) = (f.study(), f.model());
    for (flag, target) in [
        ("--dicom", study.join("01.dcm")),
        ("--png", f.dir.path().join("model/lesion.toml")),
    ] {
        refused(
            &f,
            &[
                os("export"),
                os("--model"),
                os(&model),
                os(&study),
                os("--method"),
                os("gradcam"),
                os("--slice"),
                os("0"),
                os(flag),
                os(&target),
            ],
        );
    }
}

#[test]
fn an_existing_output_needs_force() {
    let f = Fixture::new();
    let study = f.study();
    let out = f.dir.path().join("v.npy");
    std::fs::write(&out, b"an earlier result").unwrap();
    let args = [os("volume"), os(&study), os("--out"), os(&out)];
    let refused = radlens(&args);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("left untouched"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"an earlier result");
    let mut forced = args.to_vec();
    forced.push(os("--force"));
    let ok = radlens(&forced);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(std::fs::read(&out).unwrap().starts_with(b"\x93NUMPY"));
}

#[test]
fn outputs_get_the_umask_mode_not_0600() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    let out = f.dir.path().join("v.npy");
    let ok = radlens(&[os("volume"), os(&f.study()), os("--out"), os(&out)]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let plain = f.dir.path().join("plain");
    std::fs::write(&plain, b"x").unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&out), mode(&plain));
}

#[test]
fn a_slice_that_does_not_decode_fails_volume_unless_gaps_are_allowed() {
    let f = Fixture::new();
    let study = f.study();
    // Cut slice 02's pixel data short: its header still scans, its pixels do not decode.
    let broken = study.join("02.dcm");
    let bytes = std::fs::read(&broken).unwrap();
    std::fs::write(&broken, &bytes[..bytes.len() - 100_000]).unwrap();
    let out = f.dir.path().join("v.npy");
    let failed = radlens(&[os("volume"), os(&study), os("--out"), os(&out)]);
    assert!(!failed.status.success());
    let line = stderr(&failed);
    assert!(
        line.contains("could not be decoded") && line.ends_with("02.dcm"),
        "{line}"
    );
    assert!(!out.exists());

    let ok = radlens(&[
        os("volume"),
        os(&study),
        os("--out"),
        os(&out),
        os("--allow-gaps"),
    ]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let gaps: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.dir.path().join("v.npy.json")).unwrap()).unwrap();
    assert_eq!(gaps["series_slices"], 3);
    assert_eq!(gaps["shape"][0], 2);
    let gap_path = gaps["gaps"][0]["path"].as_str().unwrap();
    assert!(gap_path.ends_with("02.dcm"), "{gaps}");
}
