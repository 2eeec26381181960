//! `radlens features` as a user runs it: one case (listing, JSON, CSV), a cohort (parallel,
//! sharded and merged, resumed, with a failing case), deep features of the demo model, and the
//! one-line errors for bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::{os, radlens, stderr_text};
use radlens::features::cohort::Table;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rdata(name: &str) -> PathBuf {
    root().join("tests/data/radiomics").join(name)
}

fn demo_study() -> PathBuf {
    root().join("assets/demo/ct_lesions")
}

fn demo_mask() -> PathBuf {
    demo_study().join("lesions.mask.npy")
}

fn expected_features(case: &str) -> serde_json::Map<String, serde_json::Value> {
    let path = rdata(&format!("expected/{case}.json"));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["features"].as_object().unwrap().clone()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()) || (a - b).abs() <= 1e-9
}

/// Runs `radlens features ARGS`, expecting failure with one line naming `names` and `cause`.
fn refused(args: &[&std::ffi::OsStr], names: &str, cause: &str) {
    let mut all = vec![os("features")];
    all.extend_from_slice(args);
    let output = radlens(&all);
    let err = stderr_text(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(err.contains(names), "{err:?} does not name {names}");
    assert!(err.contains(cause), "{err:?} does not say {cause:?}");
    assert!(!err.contains("panicked"), "{err}");
}

fn write_npy_u8(path: &Path, shape: [usize; 3], fill: impl Fn(usize) -> u8) {
    let n = shape.iter().product();
    let array = ndarray::Array3::from_shape_vec(shape, (0..n).map(fill).collect()).unwrap();
    ndarray_npy::write_npy(path, &array).unwrap();
}

#[test]
fn bad_inputs_get_one_line_naming_the_file_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.npy");
    write_npy_u8(&empty, [3, 512, 512], |_| 0);
    refused(
        &[os(&demo_study()), os("--mask"), os(&empty)],
        "empty.npy",
        "the mask is empty",
    );
    refused(
        &[
            os(&common::data("dicom/series/mr_brain_t1_sag_35sl")),
            os("--mask"),
            os(&rdata("brain_mask.nii.gz")),
            os("--label"),
            os("7"),
        ],
        "brain_mask.nii.gz",
        "label 7 is not in the mask (labels present: 1, 2)",
    );
    let small = dir.path().join("small.npy");
    write_npy_u8(&small, [3, 256, 256], |_| 1);
    refused(
        &[os(&demo_study()), os("--mask"), os(&small)],
        "small.npy",
        "does not match the image's [3, 512, 512]",
    );
    let garbage = dir.path().join("broken.nii.gz");
    std::fs::write(&garbage, b"\x1f\x8bthis is not gzip at all").unwrap();
    refused(
        &[os(&demo_study()), os("--mask"), os(&garbage)],
        "broken.nii.gz",
        "mask",
    );
    refused(
        &[os(&garbage), os("--mask"), os(&demo_mask())],
        "broken.nii.gz",
        "gzip",
    );
    let unknown = dir.path().join("unknown.yaml");
    std::fs::write(&unknown, "setting:\n  binwidth: 10\n").unwrap();
    refused(
        &[
            os(&demo_study()),
            os("--mask"),
            os(&demo_mask()),
            os("--params"),
            os(&unknown),
        ],
        "unknown.yaml",
        "unknown field `binwidth`",
    );
    let negative = dir.path().join("negative.yaml");
    std::fs::write(&negative, "setting:\n  binWidth: -5\n").unwrap();
    refused(
        &[
            os(&demo_study()),
            os("--mask"),
            os(&demo_mask()),
            os("--params"),
            os(&negative),
        ],
        "negative.yaml",
        "binWidth must be a positive number, got -5",
    );
    // A SEG mask: --label picks a segment.
    refused(
        &[
            os(&common::data("dicom/series/ct_3slice_with_seg")),
            os("--mask"),
            os(&common::data(
                "dicom/series/ct_3slice_with_seg/seg_partial_overlaps.dcm",
            )),
            os("--label"),
            os("9"),
        ],
        "seg_partial_overlaps.dcm",
        "has no segment 9 (segments: 1, 2, 3, 4, 5",
    );
    // A NIfTI mask on another grid: refused, never resampled.
    refused(
        &[
            os(&demo_study()),
            os("--mask"),
            os(&rdata("brain_mask.nii.gz")),
        ],
        "brain_mask.nii.gz",
        "does not match image grid",
    );
}

#[test]
fn each_segment_of_a_multi_segment_seg_is_its_own_region() {
    let ct = common::data("dicom/series/ct_3slice_with_seg");
    let seg = common::data("dicom/series/ct_3slice_with_seg/seg_partial_overlaps.dcm");
    let voxels = |label: &str| {
        let output = radlens(&[
            os("features"),
            os(&ct),
            os("--mask"),
            os(&seg),
            os("--label"),
            os(label),
            os("--json"),
        ]);
        assert!(output.status.success(), "{}", stderr_text(&output));
        let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        v["diagnostics"]["diagnostics_Mask-original_VoxelNum"]
            .as_str()
            .unwrap()
            .parse::<usize>()
            .unwrap()
    };
    let counts: Vec<usize> = ["1", "2", "3"].iter().map(|l| voxels(l)).collect();
    assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
    assert!(
        counts[0] != counts[1] || counts[1] != counts[2],
        "segments differ: {counts:?}"
    );
}

#[test]
fn one_case_as_listing_json_and_csv_agree_with_pyradiomics() {
    let expected = expected_features("demo_lesions");
    let listing = radlens(&[
        os("features"),
        os(&demo_study()),
        os("--mask"),
        os(&demo_mask()),
    ]);
    assert!(listing.status.success(), "{}", stderr_text(&listing));
    let text = String::from_utf8(listing.stdout).unwrap();
    assert_eq!(text.lines().count(), expected.len());

    let json = radlens(&[
        os("features"),
        os(&demo_study()),
        os("--mask"),
        os(&demo_mask()),
        os("--json"),
    ]);
    assert!(json.status.success(), "{}", stderr_text(&json));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let features = v["features"].as_object().unwrap();
    assert_eq!(features.len(), expected.len());
    for (name, value) in &expected {
        let ours = features[name].as_f64().unwrap();
        assert!(
            close(ours, value.as_f64().unwrap()),
            "{name}: {ours} vs {value}"
        );
    }
    assert_eq!(
        v["diagnostics"]["diagnostics_Mask-original_VoxelNum"],
        "990"
    );

    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("one.csv");
    let run = radlens(&[
        os("features"),
        os(&demo_study()),
        os("--mask"),
        os(&demo_mask()),
        os("--out"),
        os(&csv),
    ]);
    assert!(run.status.success(), "{}", stderr_text(&run));
    let table = Table::read(&csv).unwrap();
    assert_eq!(table.rows.len(), 1);
    let column = |name: &str| table.header.iter().position(|h| h == name).unwrap();
    let energy: f64 = table.rows[0][column("original_firstorder_Energy")]
        .parse()
        .unwrap();
    assert!(close(
        energy,
        expected["original_firstorder_Energy"].as_f64().unwrap()
    ));
    // Written once: a second run does not replace it without --force.
    let again = radlens(&[
        os("features"),
        os(&demo_study()),
        os("--mask"),
        os(&demo_mask()),
        os("--out"),
        os(&csv),
    ]);
    assert_eq!(again.status.code(), Some(1));
}

/// The rows of a features CSV by `case_id`, as column → cell.
fn rows_by_case(path: &Path) -> HashMap<String, HashMap<String, String>> {
    let table = Table::read(path).unwrap();
    let case = table.header.iter().position(|h| h == "case_id").unwrap();
    table
        .rows
        .iter()
        .map(|row| {
            (
                row[case].clone(),
                table
                    .header
                    .iter()
                    .cloned()
                    .zip(row.iter().cloned())
                    .collect(),
            )
        })
        .collect()
}

fn run_cohort(cases: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        os("features"),
        os("--cohort"),
        os(cases),
        os("--out"),
        os(out),
    ];
    args.extend(extra.iter().map(os));
    radlens(&args)
}

#[test]
fn cohort_in_parallel_matches_pyradiomics_case_by_case() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("features.csv");
    let run = run_cohort(&rdata("cohort.csv"), &out, &["--jobs", "2"]);
    let err = stderr_text(&run);
    assert!(run.status.success(), "{err}");
    assert!(err.contains("case 7/7"), "progress lines: {err}");
    assert!(err.contains("ETA"), "{err}");
    let table = Table::read(&out).unwrap();
    assert_eq!(
        table.header[..6],
        [
            "Image",
            "Mask",
            "Label",
            "case_id",
            "outcome",
            "diagnostics_Case_Index"
        ]
    );
    let rows = rows_by_case(&out);
    assert_eq!(rows.len(), 7);
    for (case, row) in &rows {
        assert_eq!(row["diagnostics_error"], "", "{case}");
        for (name, value) in expected_features(case) {
            let ours: f64 = row[&name].parse().unwrap();
            assert!(
                close(ours, value.as_f64().unwrap()),
                "{case} {name}: {ours} vs {value}"
            );
        }
    }
    // Cohort order, whatever order the two jobs finished in.
    let indices: Vec<String> = table.rows.iter().map(|r| r[5].clone()).collect();
    assert_eq!(indices, ["0", "1", "2", "3", "4", "5", "6"]);
}

#[test]
fn shards_merge_into_the_whole_run_and_resume_finishes_a_partial_one() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.csv");
    assert!(
        run_cohort(&rdata("cohort.csv"), &whole, &[])
            .status
            .success()
    );
    let shard = |i: usize| dir.path().join(format!("shard{i}.csv"));
    for i in 0..2 {
        let run = run_cohort(
            &rdata("cohort.csv"),
            &shard(i),
            &["--shard", &format!("{i}/2")],
        );
        assert!(run.status.success(), "{}", stderr_text(&run));
    }
    assert_eq!(Table::read(&shard(0)).unwrap().rows.len(), 4);
    assert_eq!(Table::read(&shard(1)).unwrap().rows.len(), 3);
    let merged = dir.path().join("merged.csv");
    let merge = radlens(&[
        os("features"),
        os("merge"),
        os(&merged),
        os(&shard(0)),
        os(&shard(1)),
    ]);
    assert!(merge.status.success(), "{}", stderr_text(&merge));
    assert_eq!(Table::read(&merged).unwrap(), Table::read(&whole).unwrap());
    // A shard made with other settings is refused.
    let params = dir.path().join("p.yaml");
    std::fs::write(&params, "setting:\n  binWidth: 10\n").unwrap();
    let other = dir.path().join("other.csv");
    let run = run_cohort(
        &rdata("cohort.csv"),
        &other,
        &["--shard", "1/2", "--params", params.to_str().unwrap()],
    );
    assert!(run.status.success(), "{}", stderr_text(&run));
    let refused = radlens(&[
        os("features"),
        os("merge"),
        os(&dir.path().join("bad.csv")),
        os(&shard(0)),
        os(&other),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr_text(&refused).contains("another configuration"),
        "{}",
        stderr_text(&refused)
    );
    assert!(!dir.path().join("bad.csv").exists());

    // An interrupted run: only the first shard's rows are there; --resume adds the rest.
    let partial = dir.path().join("partial.csv");
    std::fs::copy(shard(0), &partial).unwrap();
    let resume = run_cohort(&rdata("cohort.csv"), &partial, &["--resume"]);
    let err = stderr_text(&resume);
    assert!(resume.status.success(), "{err}");
    assert!(err.contains("4 kept from the earlier run"), "{err}");
    assert_eq!(Table::read(&partial).unwrap(), Table::read(&whole).unwrap());
    // Without --resume or --force an existing output is left alone.
    let again = run_cohort(&rdata("cohort.csv"), &partial, &[]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr_text(&again).contains("--resume"),
        "{}",
        stderr_text(&again)
    );
    // Resuming with other settings is refused.
    let other_settings = run_cohort(
        &rdata("cohort.csv"),
        &partial,
        &["--resume", "--params", params.to_str().unwrap()],
    );
    assert_eq!(other_settings.status.code(), Some(1));
}

#[test]
fn a_failing_case_becomes_a_row_and_the_status_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases.csv");
    let study = demo_study();
    let mask = demo_mask();
    std::fs::write(
        &cases,
        format!(
            "Image,Mask,patient\n{},{},good\n{},missing_mask.nii.gz,bad\n",
            study.display(),
            mask.display(),
            study.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("out.csv");
    let run = run_cohort(&cases, &out, &[]);
    let err = stderr_text(&run);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.contains("1 of 2 cases failed"), "{err}");
    let table = Table::read(&out).unwrap();
    let error = table
        .header
        .iter()
        .position(|h| h == "diagnostics_error")
        .unwrap();
    assert_eq!(table.rows[0][error], "");
    assert!(
        table.rows[1][error].contains("missing_mask.nii.gz"),
        "{:?}",
        table.rows[1]
    );
    let energy = table
        .header
        .iter()
        .position(|h| h == "original_firstorder_Energy")
        .unwrap();
    assert!(!table.rows[0][energy].is_empty());
    assert!(table.rows[1][energy].is_empty());
}

#[test]
fn deep_features_of_the_demo_model_are_deterministic_per_input_mode() {
    let model = root().join("assets/demo/model/lesion.pt");
    let (study, mask) = (demo_study(), demo_mask());
    let run = |extra: &[&str]| {
        let mut args = vec![
            os("features"),
            os(&study),
            os("--mask"),
            os(&mask),
            os("--model"),
            os(&model),
            os("--json"),
        ];
        args.extend(extra.iter().map(os));
        let output = radlens(&args);
        assert!(output.status.success(), "{}", stderr_text(&output));
        let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        v
    };
    let slice = run(&[]);
    let again = run(&["--batch", "1"]);
    assert_eq!(
        slice["features"], again["features"],
        "batching changes nothing"
    );
    let features = slice["features"].as_object().unwrap();
    let deep: Vec<&String> = features.keys().filter(|k| k.starts_with("deep_")).collect();
    assert!(!deep.is_empty());
    for prefix in [
        "deep_mean_",
        "deep_max_",
        "deep_largest_mean_",
        "deep_largest_max_",
    ] {
        let count = deep.iter().filter(|k| k.starts_with(prefix)).count();
        assert!(count > 0, "no {prefix} columns");
    }
    // mean ≤ max for every channel (both over the cells the ROI touches).
    for key in deep.iter().filter(|k| k.starts_with("deep_largest_mean_")) {
        let max_key = key.replace("_mean_", "_max_");
        assert!(
            features[key.as_str()].as_f64().unwrap() <= features[&max_key].as_f64().unwrap() + 1e-9
        );
    }
    assert_eq!(
        slice["diagnostics"]["diagnostics_Deep_Input"], "slice",
        "{:?}",
        slice["diagnostics"]
    );
    assert_eq!(
        slice["diagnostics"]["diagnostics_Model_Hash"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    let patch = run(&["--deep-input", "patch"]);
    assert_ne!(
        patch["features"]["deep_mean_0"], slice["features"]["deep_mean_0"],
        "a patch around the lesion is not the whole slice"
    );
    // The handcrafted columns do not depend on the model.
    assert_eq!(
        patch["features"]["original_glcm_Contrast"],
        slice["features"]["original_glcm_Contrast"]
    );
}

#[test]
fn deep_mean_over_a_whole_slice_roi_is_the_plain_channel_mean() {
    use radlens::features::{CaseImage, DeepInput, deep_features};
    use radlens::model::{Model, preprocess_slice};
    let model = Model::load(&root().join("assets/demo/model/lesion.pt")).unwrap();
    let image = CaseImage::read(&demo_study(), None, None).unwrap();
    let [slices, rows, cols] = image.grid.dims;
    let plane = rows * cols;
    // ROI = all of slice 1, nothing elsewhere.
    let labels: Vec<u32> = (0..slices * plane)
        .map(|i| u32::from(i / plane == 1))
        .collect();
    let columns = deep_features(
        &model,
        &image.values,
        image.grid.dims,
        &labels,
        1,
        DeepInput::Slice,
        4,
    )
    .unwrap();
    let values: Vec<f32> = image.values[plane..2 * plane]
        .iter()
        .map(|&v| v as f32)
        .collect();
    let x = preprocess_slice(&values, rows, cols, &model.manifest).unwrap();
    let maps = tch::no_grad(|| model.features(&x)).unwrap();
    let means: Vec<f64> = Vec::try_from(
        maps.mean_dim([2i64, 3].as_slice(), false, tch::Kind::Double)
            .flatten(0, -1),
    )
    .unwrap();
    let maxima: Vec<f64> = Vec::try_from(
        maps.amax([2i64, 3].as_slice(), false)
            .to_kind(tch::Kind::Double)
            .flatten(0, -1),
    )
    .unwrap();
    let get = |name: &str| {
        columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .unwrap()
    };
    for (k, (mean, max)) in means.iter().zip(&maxima).enumerate() {
        assert!(
            (get(&format!("deep_mean_{k}")) - mean).abs() < 1e-5 * mean.abs().max(1.0),
            "channel {k}"
        );
        assert!(
            (get(&format!("deep_max_{k}")) - max).abs() < 1e-6 * max.abs().max(1.0),
            "channel {k}"
        );
        // One ROI slice: the largest slice is that slice.
        assert!(
            (get(&format!("deep_largest_mean_{k}")) - get(&format!("deep_mean_{k}"))).abs() < 1e-12
        );
    }
}

#[test]
fn deep_features_run_on_the_model_worker_as_directly() {
    use radlens::features::{CaseImage, DeepInput, deep_features, deep_features_job};
    use radlens::model::{Model, Reply, Worker};
    let path = root().join("assets/demo/model/lesion.pt");
    let image = CaseImage::read(&demo_study(), None, None).unwrap();
    let labels = image.read_mask(&demo_mask(), 1).unwrap();
    let direct = deep_features(
        &Model::load(&path).unwrap(),
        &image.values,
        image.grid.dims,
        &labels,
        1,
        DeepInput::Slice,
        8,
    )
    .unwrap();
    let mut worker = Worker::spawn(Model::load(&path).unwrap(), || {}).unwrap();
    worker
        .submit(
            0,
            deep_features_job(
                image.values.clone(),
                image.grid.dims,
                labels,
                1,
                DeepInput::Slice,
                8,
            ),
        )
        .unwrap();
    let on_worker = loop {
        match worker.replies.recv().unwrap() {
            Reply::Done { result, .. } => break result.unwrap(),
            Reply::Progress { .. } => {}
            Reply::Restarted { reason, .. } => panic!("{reason}"),
        }
    };
    assert_eq!(on_worker, direct);
}

#[test]
fn outcome_gives_the_three_signatures_cross_validated_auc() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.csv");
    let model = root().join("assets/demo/model/lesion.pt");
    let run = run_cohort(
        &rdata("cohort20.csv"),
        &out,
        &[
            "--jobs",
            "2",
            "--model",
            model.to_str().unwrap(),
            "--outcome",
            "outcome",
        ],
    );
    let err = stderr_text(&run);
    assert!(run.status.success(), "{err}");
    let table = Table::read(&dir.path().join("f.signatures.csv")).unwrap();
    let names: Vec<&str> = table.rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["handcrafted", "deep", "both"], "{err}");
    for row in &table.rows {
        let auc: f64 = row[4].parse().unwrap();
        let (low, high): (f64, f64) = (row[5].parse().unwrap(), row[6].parse().unwrap());
        assert!(
            (0.0..=1.0).contains(&auc) && low <= auc && auc <= high,
            "{row:?}"
        );
        assert_eq!(row[2], "20");
    }
    assert_eq!(table.rows[0][1], "107");
    // An outcome that is not in the cases file: one clear line.
    let bad = run_cohort(
        &rdata("cohort20.csv"),
        &dir.path().join("g.csv"),
        &["--outcome", "survival"],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr_text(&bad).contains("no outcome column \"survival\""),
        "{}",
        stderr_text(&bad)
    );
}

#[test]
fn a_cohort_output_never_lands_on_a_file_a_case_read() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("study");
    std::fs::create_dir(&study).unwrap();
    for entry in std::fs::read_dir(demo_study()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, study.join(path.file_name().unwrap())).unwrap();
    }
    let source = study.join("01.dcm");
    let before = std::fs::read(&source).unwrap();
    let cases = dir.path().join("cases.csv");
    std::fs::write(&cases, "Image,Mask\nstudy,study/lesions.mask.npy\n").unwrap();
    let run = run_cohort(&cases, &source, &["--force"]);
    let err = stderr_text(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(err.contains("01.dcm"), "{err}");
    assert_eq!(
        std::fs::read(&source).unwrap(),
        before,
        "the source was modified"
    );
}
