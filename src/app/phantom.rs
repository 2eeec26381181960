//! File > Open phantom cohort: the demo cohort made from the embedded source slices, measured
//! as `radlens features --cohort … --model <demo> --stability 3 --outcome present` would, in a
//! scratch folder renamed into place when complete, then read for the cohort view.

use std::path::Path;

use super::cohort::Reporter;
use crate::features::analysis::FeatureTable;
use crate::features::cohort::{self as cohort_run, Cohort, RunOptions, Shard};
use crate::features::{DeepInput, DeepModel, Extractor};
use crate::output::WritePolicy;

/// Perturbations per case when the app makes the phantom cohort (`--stability 3`).
const PHANTOM_STABILITY: usize = 3;
/// The outcome the phantom cohort's signatures are for.
const PHANTOM_OUTCOME: &str = "present";
/// Slices per forward pass of the phantom's deep features (`radlens features --batch`'s default).
const PHANTOM_BATCH: usize = 16;

/// `case 3/60 (…)` → 3/60.
fn progress_fraction(line: &str) -> Option<f32> {
    let rest = line.strip_prefix("case ")?;
    let (done, rest) = rest.split_once('/')?;
    let total: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let (done, total) = (done.parse::<f32>().ok()?, total.parse::<f32>().ok()?);
    (total > 0.0).then(|| done / total)
}

/// Makes the phantom cohort (or finds the one made before) and reads its features table.
/// Progress lines go to `send`.
pub(super) fn phantom_cohort(base: &Path, send: &Reporter) -> Result<FeatureTable, String> {
    std::fs::create_dir_all(base)
        .map_err(|e| format!("cannot make the folder {} ({e})", base.display()))?;
    let done = base.join("phantom");
    let features = done.join("features.csv");
    if !features.exists() {
        let data = super::demo::phantom_sources()
            .map_err(|e| format!("cannot unpack the phantom's source slices ({e})"))?;
        let scratch = tempfile::Builder::new()
            .prefix(".phantom-")
            .tempdir_in(base)
            .map_err(|e| format!("cannot make a folder in {} ({e})", base.display()))?;
        send.progress("Making the phantom cases…".to_owned(), None);
        let options = crate::phantom::CohortOptions::default();
        crate::phantom::generate(&data, scratch.path(), &options, &|line| {
            send.progress(format!("Making phantom cases: {line}"), None);
        })
        .map_err(|e| e.to_string())?;
        measure_cohort(scratch.path(), send)?;
        // Whole or absent: the finished folder appears in one rename.
        let made = scratch.keep();
        if let Err(e) = std::fs::rename(&made, &done) {
            // Another radlens finished first: use its cohort, drop ours.
            if !features.exists() {
                return Err(format!(
                    "cannot move the cohort to {} ({e})",
                    done.display()
                ));
            }
            if let Err(e) = std::fs::remove_dir_all(&made) {
                tracing::warn!("cannot remove {} ({e})", made.display());
            }
        }
    }
    send.progress("Reading the features table…".to_owned(), None);
    FeatureTable::read(&features).map_err(|e| e.to_string())
}

/// `radlens features --cohort cases.csv --model demo --stability 3 --outcome present --out
/// features.csv` inside `dir`.
fn measure_cohort(dir: &Path, send: &Reporter) -> Result<(), String> {
    let cases = dir.join("cases.csv");
    let out = dir.join("features.csv");
    let cohort = Cohort::read(&cases).map_err(|e| e.to_string())?;
    let model_path = super::demo_model().map_err(|e| format!("demo model: {e}"))?;
    let deep =
        DeepModel::open(&model_path, DeepInput::Slice, PHANTOM_BATCH).map_err(|e| e.to_string())?;
    let extractor = Extractor {
        settings: crate::radiomics::Settings::default(),
        deep: Some(deep),
        npy_spacing: None,
        series: None,
    };
    let policy = WritePolicy::protecting(cohort.inputs());
    let report = |line: &str| {
        send.progress(
            format!("Measuring features: {line}"),
            progress_fraction(line),
        );
    };
    let jobs = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    cohort_run::run(
        &cohort,
        &extractor,
        &RunOptions {
            out: &out,
            shard: Shard::ALL,
            resume: false,
            jobs,
            policy: policy.clone(),
            progress: &report,
            stability: Some(cohort_run::Stability {
                count: PHANTOM_STABILITY,
                seed: cohort_run::DEFAULT_STABILITY_SEED,
            }),
        },
    )
    .map_err(|e| e.to_string())?;
    send.progress("Cross-validating signatures…".to_owned(), None);
    crate::features::signatures::write_beside(&out, PHANTOM_OUTCOME, &policy)
        .map(|_| ())
        .map_err(|e| format!("signatures: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_give_the_fraction_of_cases_done() {
        assert_eq!(
            progress_fraction("case 3/60 (row 5, a): ok in 0.1 s; ETA 2 s"),
            Some(0.05)
        );
        assert_eq!(progress_fraction("case 3/0 (row 5"), None);
        assert_eq!(progress_fraction("[1/60] case_001"), None);
    }
}
