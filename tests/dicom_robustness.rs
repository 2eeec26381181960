//! Broken input never panics: truncated and bit-flipped copies of every real file, junk in folders.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::unreadable_literal)]

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use common::{data, manifest};
use radlens::dicom;

fn dicom_files() -> Vec<PathBuf> {
    manifest()
        .iter()
        .filter(|r| r.is_dicom())
        .map(|r| data(r.relpath()))
        .collect()
}

/// Loads a path, turning a panic into a test failure message.
fn load_without_panic(path: &Path) -> Result<Result<(), String>, String> {
    catch_unwind(AssertUnwindSafe(|| {
        dicom::load(&[path.to_owned()], None)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }))
    .map_err(|_| format!("panicked on {}", path.display()))
}

#[test]
fn truncated_copies_of_every_file_give_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let mut panics = Vec::new();
    let mut accepted = Vec::new();
    for (i, file) in dicom_files().iter().enumerate() {
        let bytes = std::fs::read(file).unwrap();
        for keep in [bytes.len() / 2, bytes.len() * 9 / 10, 300.min(bytes.len())] {
            let copy = dir.path().join(format!("{i}_{keep}.dcm"));
            std::fs::write(&copy, &bytes[..keep]).unwrap();
            match load_without_panic(&copy) {
                Err(p) => panics.push(format!("{p} (from {})", file.display())),
                Ok(Ok(())) => accepted.push(format!("{} cut to {keep} bytes", file.display())),
                Ok(Err(message)) => assert!(
                    message.ends_with(&copy.display().to_string())
                        || message.contains(&copy.display().to_string()),
                    "{message}"
                ),
            }
            std::fs::remove_file(&copy).unwrap();
        }
    }
    assert!(panics.is_empty(), "{}", panics.join("\n"));
    assert!(
        accepted.is_empty(),
        "truncated files loaded as if whole:\n{}",
        accepted.join("\n")
    );
}

#[test]
fn bit_flipped_copies_of_every_file_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut panics = Vec::new();
    for (i, file) in dicom_files().iter().enumerate() {
        let bytes = std::fs::read(file).unwrap();
        // Flip bits in the header region and throughout the file (deterministic positions).
        let positions: Vec<usize> = (0..24)
            .map(|k| (k * 7919 + 131 + k * k * 104_729) % bytes.len())
            .collect();
        for (n, chunk) in positions.chunks(4).enumerate() {
            let mut flipped = bytes.clone();
            for &p in chunk {
                flipped[p] ^= 1 << (p % 8);
            }
            let copy = dir.path().join(format!("{i}_{n}.dcm"));
            std::fs::write(&copy, &flipped).unwrap();
            if let Err(p) = load_without_panic(&copy) {
                panics.push(format!("{p} (from {})", file.display()));
            }
            std::fs::remove_file(&copy).unwrap();
        }
    }
    assert!(panics.is_empty(), "{}", panics.join("\n"));
}

#[test]
fn folder_loads_what_it_can_and_reports_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let series = data("dicom/series/mr_prostate_adc_20sl");
    let mut copied = 0;
    for entry in std::fs::read_dir(&series).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        copied += 1;
    }
    // A truncated slice, a file with no pixel data's worth of bytes, and plain junk.
    let whole = std::fs::read(series.join("000003.dcm")).unwrap();
    std::fs::write(dir.path().join("000003.dcm"), &whole[..whole.len() / 2]).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not an image").unwrap();
    let cr = std::fs::read(data("dicom/single/ct_wg04_CT2_UNC.dcm")).unwrap();
    std::fs::write(dir.path().join("other_series.dcm"), cr).unwrap();

    let report = dicom::scan(&[dir.path().to_owned()]).unwrap();
    assert_eq!(report.series.len(), 2, "prostate + the stray CT");
    assert_eq!(
        report.ignored.len(),
        1 + usize::from(copied > 20),
        "{:?}",
        report.ignored
    );
    let prostate = report.series.iter().find(|s| s.modality() == "MR").unwrap();
    let volume = dicom::load_series(prostate, &dicom::LoadControl::default()).unwrap();
    assert_eq!(volume.shape[0], 19, "the truncated slice is left out");
    assert_eq!(volume.skipped.len(), 1);
    assert!(
        volume.skipped[0].path.ends_with("000003.dcm"),
        "{:?}",
        volume.skipped
    );
    assert!(
        volume.warnings.iter().any(|w| w.contains("left out")),
        "{:?}",
        volume.warnings
    );
}

#[test]
fn cancelled_load_stops_with_cancelled() {
    let report = dicom::scan(&[data("dicom/series/mr_brain_t1_sag_35sl")]).unwrap();
    let control = dicom::LoadControl::default();
    control.cancel();
    let err = dicom::load_series(&report.series[0], &control).unwrap_err();
    assert!(matches!(err, dicom::DicomError::Cancelled));
}
