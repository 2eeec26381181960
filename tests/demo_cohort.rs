//! `radlens demo cohort`: a phantom cohort from the shared real CT slices whose ground truth the
//! handcrafted features must recover, written reproducibly and never over anything.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{data_dir, os, radlens, stderr_text};
use dicom_dictionary_std::tags;

const CASES: usize = 8;
const SEED: &str = "7";

fn generate(out: &Path, cases: usize, seed: &str, extra: &[&str]) -> std::process::Output {
    let cases = cases.to_string();
    let data = data_dir();
    let mut args = vec![
        os("demo"),
        os("cohort"),
        os("--out"),
        os(out),
        os("--cases"),
        os(&cases),
        os("--seed"),
        os(seed),
        os("--data"),
        os(&data),
    ];
    args.extend(extra.iter().map(os));
    radlens(&args)
}

/// The shared cohort (8 cases, seed 7) and its features, made once for all tests.
struct Shared {
    _dir: tempfile::TempDir,
    cohort: PathBuf,
    features: PathBuf,
    features_run: std::process::Output,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let cohort = dir.path().join("cohort");
        let made = generate(&cohort, CASES, SEED, &[]);
        assert!(made.status.success(), "{}", stderr_text(&made));
        let features = dir.path().join("features.csv");
        let features_run = radlens(&[
            os("features"),
            os("--cohort"),
            os(&cohort.join("cases.csv")),
            os("--out"),
            os(&features),
        ]);
        Shared {
            _dir: dir,
            cohort,
            features,
            features_run,
        }
    })
}

/// A CSV as rows of column → cell.
fn read_csv(path: &Path) -> (Vec<String>, Vec<HashMap<String, String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let columns: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            columns
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect();
    (columns, rows)
}

fn number(row: &HashMap<String, String>, column: &str) -> f64 {
    row.get(column)
        .unwrap_or_else(|| panic!("no column {column}"))
        .parse()
        .unwrap_or_else(|_| panic!("{column} = {:?}", row[column]))
}

/// Average ranks (ties share the mean rank).
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]].total_cmp(&values[order[i]]).is_eq() {
            j += 1;
        }
        for &k in &order[i..=j] {
            ranks[k] = (i + j) as f64 / 2.0;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman's rank correlation: Pearson's on the average ranks.
fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

/// Every file under `dir`, relative, with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(dir).unwrap().to_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn cases_csv_is_a_batch_file_with_one_row_per_case_and_the_ground_truth() {
    let shared = shared();
    let (columns, rows) = read_csv(&shared.cohort.join("cases.csv"));
    for wanted in [
        "Image",
        "Mask",
        "Label",
        "case_id",
        "present",
        "diameter_mm",
        "contrast_hu",
        "grain",
        "necrosis",
    ] {
        assert!(columns.iter().any(|c| c == wanted), "{wanted}: {columns:?}");
    }
    assert_eq!(rows.len(), CASES);
    let absent = rows.iter().filter(|r| r["present"] == "0").count();
    assert!(
        (2..=3).contains(&absent),
        "{absent} of {CASES} without a lesion"
    );
    for row in &rows {
        assert!(Path::new(&row["Image"]).is_relative(), "{row:?}");
        assert!(shared.cohort.join(&row["Image"]).is_dir(), "{row:?}");
        assert!(shared.cohort.join(&row["Mask"]).is_file(), "{row:?}");
        assert_eq!(row["Label"], "1");
        if row["present"] == "0" {
            assert_eq!(row["contrast_hu"], "0.0");
        } else {
            assert!(number(row, "contrast_hu").abs() >= 20.0, "{row:?}");
        }
    }
}

#[test]
fn features_run_on_every_case_without_a_failure() {
    let shared = shared();
    let run = &shared.features_run;
    assert!(run.status.success(), "{}", stderr_text(run));
    let (_, rows) = read_csv(&shared.features);
    assert_eq!(rows.len(), CASES);
    for row in &rows {
        assert_eq!(row["diagnostics_error"], "", "{}", row["case_id"]);
    }
}

#[test]
fn measured_size_grows_with_the_true_diameter() {
    let shared = shared();
    assert!(shared.features_run.status.success());
    let (_, rows) = read_csv(&shared.features);
    let lesions: Vec<&HashMap<String, String>> =
        rows.iter().filter(|r| r["present"] == "1").collect();
    assert!(lesions.len() >= 5);
    let truth: Vec<f64> = lesions.iter().map(|r| number(r, "diameter_mm")).collect();
    for feature in [
        "original_shape_Maximum2DDiameterSlice",
        "original_shape_VoxelVolume",
    ] {
        let measured: Vec<f64> = lesions.iter().map(|r| number(r, feature)).collect();
        let rho = spearman(&truth, &measured);
        assert!(rho >= 0.9, "{feature}: Spearman {rho:.3}");
    }
}

#[test]
fn lesion_free_regions_keep_the_source_values_and_lesions_shift_them_by_their_sign() {
    let shared = shared();
    assert!(shared.features_run.status.success());
    let (_, rows) = read_csv(&shared.features);
    for row in &rows {
        let shift = number(row, "original_firstorder_Mean") - number(row, "background_hu");
        let contrast = number(row, "contrast_hu");
        if row["present"] == "0" {
            // background_hu is written with two decimals.
            assert!(shift.abs() < 0.01, "{}: {shift}", row["case_id"]);
        } else {
            assert!(
                shift * contrast > 0.0,
                "{}: {shift} vs {contrast}",
                row["case_id"]
            );
        }
    }
}

#[test]
fn every_case_is_a_new_derived_study() {
    let shared = shared();
    let source =
        dicom_object::open_file(data_dir().join("dicom/series/ct_3slice_with_seg/01.dcm")).unwrap();
    let text = |obj: &dicom_object::DefaultDicomObject, tag| {
        obj.element(tag)
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches('\0')
            .to_owned()
    };
    let source_study = text(&source, tags::STUDY_INSTANCE_UID);
    let (_, rows) = read_csv(&shared.cohort.join("cases.csv"));
    let mut studies = std::collections::HashSet::new();
    for row in &rows {
        let file = shared.cohort.join(&row["Image"]).join("01.dcm");
        let obj = dicom_object::open_file(&file).unwrap();
        let study = text(&obj, tags::STUDY_INSTANCE_UID);
        assert_ne!(study, source_study);
        assert!(studies.insert(study), "one study per case");
        let image_type = obj
            .element(tags::IMAGE_TYPE)
            .unwrap()
            .to_multi_str()
            .unwrap();
        assert_eq!(&image_type[..2], ["DERIVED", "SECONDARY"]);
        assert!(text(&obj, tags::DERIVATION_DESCRIPTION).contains("radlens demo cohort"));
        assert_eq!(
            obj.meta()
                .media_storage_sop_instance_uid
                .trim_end_matches('\0'),
            text(&obj, tags::SOP_INSTANCE_UID)
        );
    }
}

#[test]
fn the_same_seed_gives_byte_identical_files_and_another_seed_does_not() {
    let shared = shared();
    let dir = tempfile::tempdir().unwrap();
    let again = dir.path().join("again");
    let made = generate(&again, CASES, SEED, &[]);
    assert!(made.status.success(), "{}", stderr_text(&made));
    let (first, second) = (files(&shared.cohort), files(&again));
    assert_eq!(
        first.iter().map(|f| &f.0).collect::<Vec<_>>(),
        second.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((path, a), (_, b)) in first.iter().zip(&second) {
        assert!(a == b, "{} differs", path.display());
    }
    let other = dir.path().join("other");
    let made = generate(&other, CASES, "8", &[]);
    assert!(made.status.success(), "{}", stderr_text(&made));
    assert_ne!(
        std::fs::read(other.join("cases.csv")).unwrap(),
        std::fs::read(shared.cohort.join("cases.csv")).unwrap()
    );
}

#[test]
fn a_non_empty_folder_is_refused_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("notes.txt");
    std::fs::write(&keep, b"mine").unwrap();
    let refused = generate(dir.path(), 1, SEED, &[]);
    assert!(!refused.status.success());
    let message = stderr_text(&refused);
    assert!(message.contains("not empty"), "{message}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    let forced = generate(dir.path(), 1, SEED, &["--force"]);
    assert!(forced.status.success(), "{}", stderr_text(&forced));
    assert!(dir.path().join("cases.csv").is_file());
    assert_eq!(std::fs::read(&keep).unwrap(), b"mine");
}
