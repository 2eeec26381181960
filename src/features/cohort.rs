//! A cohort in PyRadiomics' batch format (`Image`, `Mask`, optional `Label`, any other columns
//! passed through), run case by case into one CSV row each: in parallel, in shards for array
//! jobs, resumable, and the shard files merged afterwards.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::stability::{self, CaseMeasurements};
use super::{
    CaseRow, ERROR_COLUMN, Extractor, MODEL_COLUMN, PerturbedRow, SETTINGS_COLUMN, format_value,
    perturb,
};
use crate::output::{self, WritePolicy};

/// A finished case: its cohort cells (with the case index) and its row, by case index.
type Finished = (usize, (Vec<String>, CaseRow));

/// Rows of an earlier run kept as text: cohort cells, then (column, value) pairs.
type KeptRows = HashMap<usize, (Vec<String>, Vec<(String, String)>)>;

/// The row's position in CASES.csv (0-based), so merged shards come back in cohort order.
pub const CASE_COLUMN: &str = "diagnostics_Case_Index";

/// Why a cohort file cannot be used: one line, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum CohortError {
    #[error("{cause}: {}", path.display())]
    File { path: PathBuf, cause: String },
    #[error(transparent)]
    Output(#[from] output::OutputError),
}

fn file_error(path: &Path, cause: impl std::fmt::Display) -> CohortError {
    CohortError::File {
        path: path.to_owned(),
        cause: cause.to_string(),
    }
}

/// One row of CASES.csv.
#[derive(Clone, Debug)]
pub struct Case {
    /// 0-based row in the file.
    pub index: usize,
    /// Resolved against the CSV's folder.
    pub image: PathBuf,
    pub mask: PathBuf,
    pub label: Option<u32>,
    /// Every cell of the row as written, in the file's column order.
    pub cells: Vec<String>,
}

/// CASES.csv, read.
#[derive(Clone, Debug)]
pub struct Cohort {
    pub path: PathBuf,
    pub columns: Vec<String>,
    pub cases: Vec<Case>,
}

impl Cohort {
    /// The files a run reads: the cases file and every case's image and mask (no output may
    /// replace one of them).
    #[must_use]
    pub fn inputs(&self) -> Vec<PathBuf> {
        std::iter::once(self.path.clone())
            .chain(
                self.cases
                    .iter()
                    .flat_map(|c| [c.image.clone(), c.mask.clone()]),
            )
            .collect()
    }

    /// Reads a PyRadiomics batch file; relative paths are relative to its folder.
    pub fn read(path: &Path) -> Result<Self, CohortError> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .from_path(path)
            .map_err(|e| file_error(path, format!("cannot read the cases file ({e})")))?;
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| file_error(path, format!("no header row ({e})")))?
            .iter()
            .map(|h| h.trim().to_owned())
            .collect();
        let find = |name: &str| columns.iter().position(|c| c == name);
        let (Some(image_col), Some(mask_col)) = (find("Image"), find("Mask")) else {
            return Err(file_error(
                path,
                format!(
                    "the cases file needs columns Image and Mask (it has {})",
                    columns.join(", ")
                ),
            ));
        };
        let label_col = find("Label");
        let base = path.parent().unwrap_or(Path::new(""));
        let mut cases = Vec::new();
        for (index, record) in reader.records().enumerate() {
            let record = record.map_err(|e| file_error(path, format!("row {}: {e}", index + 2)))?;
            let cells: Vec<String> = record.iter().map(str::to_owned).collect();
            let cell = |c: usize| cells.get(c).map_or("", |s| s.trim());
            if cell(image_col).is_empty() || cell(mask_col).is_empty() {
                return Err(file_error(
                    path,
                    format!("row {}: Image and Mask must not be empty", index + 2),
                ));
            }
            let label = match label_col.map(cell) {
                None | Some("") => None,
                Some(text) => {
                    Some(text.parse::<u32>().ok().filter(|&l| l > 0).ok_or_else(|| {
                        file_error(
                            path,
                            format!(
                                "row {}: Label {text:?} is not a positive whole number",
                                index + 2
                            ),
                        )
                    })?)
                }
            };
            cases.push(Case {
                index,
                image: base.join(cell(image_col)),
                mask: base.join(cell(mask_col)),
                label,
                cells,
            });
        }
        Ok(Self {
            path: path.to_owned(),
            columns,
            cases,
        })
    }
}

/// Which cases of the cohort this process takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 0-based.
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub const ALL: Self = Self { index: 0, count: 1 };

    /// `I/N` (0 ≤ I < N), or `auto`: Slurm's `SLURM_ARRAY_TASK_ID` (less
    /// `SLURM_ARRAY_TASK_MIN`) of `SLURM_ARRAY_TASK_COUNT`, or Kubernetes'
    /// `JOB_COMPLETION_INDEX` of `JOB_COMPLETIONS` (set it in the Job's env to its completions).
    pub fn parse(text: &str) -> Result<Self, String> {
        if text == "auto" {
            return Self::from_env(|name| std::env::var(name).ok());
        }
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| format!("--shard {text:?}: I/N (e.g. 0/4) or auto"))?;
        let parse = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| format!("--shard {text:?}: I/N with whole numbers"))
        };
        let shard = Self {
            index: parse(i)?,
            count: parse(n)?,
        };
        if shard.count == 0 || shard.index >= shard.count {
            return Err(format!("--shard {text:?}: need 0 ≤ I < N"));
        }
        Ok(shard)
    }

    /// `auto` from the environment `var` gives.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let number = |name: &str| -> Result<Option<usize>, String> {
            var(name)
                .map(|v| {
                    v.trim()
                        .parse::<usize>()
                        .map_err(|_| format!("{name}={v:?} is not a whole number"))
                })
                .transpose()
        };
        let (index, count) = if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
            let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let count = number("SLURM_ARRAY_TASK_COUNT")?.ok_or(
                "--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not",
            )?;
            (
                id.checked_sub(min)
                    .ok_or("--shard auto: SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN")?,
                count,
            )
        } else if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let count = number("JOB_COMPLETIONS")?.ok_or(
                "--shard auto: JOB_COMPLETION_INDEX is set but JOB_COMPLETIONS is not (set it in the Job's env to spec.completions)",
            )?;
            (index, count)
        } else {
            return Err(
                "--shard auto: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set".into(),
            );
        };
        if count == 0 || index >= count {
            return Err(format!(
                "--shard auto: task {index} of {count} is out of range"
            ));
        }
        Ok(Self { index, count })
    }

    /// Whether case `index` (0-based) belongs to this shard: every N-th from I.
    #[must_use]
    pub fn takes(self, index: usize) -> bool {
        index % self.count == self.index
    }
}

/// A features CSV in memory: header and rows of text cells.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn read(path: &Path) -> Result<Self, CohortError> {
        let mut reader = csv::ReaderBuilder::new()
            .from_path(path)
            .map_err(|e| file_error(path, format!("cannot read ({e})")))?;
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| file_error(path, e))?
            .iter()
            .map(str::to_owned)
            .collect();
        let rows = reader
            .records()
            .map(|r| {
                r.map(|r| r.iter().map(str::to_owned).collect())
                    .map_err(|e| file_error(path, e))
            })
            .collect::<Result<Vec<Vec<String>>, _>>()?;
        Ok(Self { header, rows })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The one value of column `name` over all rows (`None` if absent or empty everywhere).
    fn common(&self, name: &str, path: &Path) -> Result<Option<String>, CohortError> {
        let Some(c) = self.column(name) else {
            return Ok(None);
        };
        let values: HashSet<&str> = self.rows.iter().map(|r| r[c].as_str()).collect();
        match values.len() {
            0 => Ok(None),
            1 => Ok(values.into_iter().next().map(str::to_owned)),
            _ => Err(file_error(path, format!("rows disagree on {name}"))),
        }
    }

    pub fn write(&self, path: &Path, policy: &WritePolicy) -> Result<(), CohortError> {
        output::write_atomically(path, policy, |w| {
            let mut writer = csv::Writer::from_writer(w);
            writer.write_record(&self.header)?;
            for row in &self.rows {
                writer.write_record(row)?;
            }
            writer.flush()?;
            Ok::<(), csv::Error>(())
        })?;
        Ok(())
    }
}

/// Builds the output table: the cohort's columns, then the diagnostics, then the features, one
/// row per case in cohort order. Columns are the union over the rows in order of appearance
/// (a failed case leaves its feature cells empty).
#[must_use]
pub fn table(columns: &[String], rows: &[(Vec<String>, CaseRow)]) -> Table {
    let mut diagnostics: Vec<String> = Vec::new();
    let mut features: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for (_, row) in rows {
        for (name, _) in &row.diagnostics {
            if seen.insert(name.clone()) {
                diagnostics.push(name.clone());
            }
        }
        for (name, _) in &row.features {
            if seen.insert(name.clone()) {
                features.push(name.clone());
            }
        }
    }
    if !seen.contains(ERROR_COLUMN) {
        diagnostics.push(ERROR_COLUMN.to_owned());
    }
    let mut header: Vec<String> = columns.to_vec();
    header.extend(diagnostics.iter().cloned());
    header.extend(features.iter().cloned());
    let table_rows = rows
        .iter()
        .map(|(cells, row)| {
            let mut values: HashMap<&str, String> = row
                .diagnostics
                .iter()
                .map(|(n, v)| (n.as_str(), v.clone()))
                .collect();
            values.insert(ERROR_COLUMN, row.error.clone().unwrap_or_default());
            for (n, v) in &row.features {
                values.insert(n.as_str(), format_value(*v));
            }
            let mut out: Vec<String> = (0..columns.len())
                .map(|c| cells.get(c).cloned().unwrap_or_default())
                .collect();
            out.extend(
                diagnostics
                    .iter()
                    .chain(&features)
                    .map(|name| values.remove(name.as_str()).unwrap_or_default()),
            );
            out
        })
        .collect();
    Table {
        header,
        rows: table_rows,
    }
}

/// What a cohort run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub total: usize,
    pub done: usize,
    pub failed: usize,
    /// Cases already in the output (`--resume`).
    pub skipped: usize,
}

/// How a cohort run writes.
pub struct RunOptions<'a> {
    pub out: &'a Path,
    pub shard: Shard,
    pub resume: bool,
    pub jobs: usize,
    pub policy: WritePolicy,
    /// Progress lines (stderr in the CLI).
    pub progress: &'a (dyn Fn(&str) + Sync),
    /// Also measure each feature's stability under image perturbations.
    pub stability: Option<Stability>,
}

/// `--stability N`: every case is extracted again on `count` perturbations of its image and
/// mask (drawn from `seed`), and each feature's ICC(1,1) over the cases goes to
/// [`stability_paths`] of the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stability {
    pub count: usize,
    pub seed: u64,
}

/// The seed of `--stability-seed` when none is given.
pub const DEFAULT_STABILITY_SEED: u64 = 2019;

/// Where a run writing `out` (`F.csv`) puts its stability table (`F.stability.csv`) and the
/// perturbations it used (`F.stability.json`), next to it.
#[must_use]
pub fn stability_paths(out: &Path) -> (PathBuf, PathBuf) {
    let stem = out
        .file_stem()
        .map_or_else(|| "features".into(), |s| s.to_string_lossy().into_owned());
    let dir = out.parent().unwrap_or(Path::new(""));
    (
        dir.join(format!("{stem}.stability.csv")),
        dir.join(format!("{stem}.stability.json")),
    )
}

/// `F.csv` → `F.signatures.csv` (and the like for other derived tables).
#[must_use]
pub fn derived_path(out: &Path, what: &str) -> PathBuf {
    let stem = out
        .file_stem()
        .map_or_else(|| "features".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}.{what}.csv"))
}

/// A case's original row and its perturbed rows, for the stability table.
type Perturbations = (usize, Option<Vec<(String, f64)>>, Vec<PerturbedRow>);

/// Runs the cohort's cases of `shard` into `out`, rewriting it atomically as cases finish (at
/// most every 2 s, and at the end) so that an interrupted run loses little and `--resume` picks
/// up where it stopped.
pub fn run(
    cohort: &Cohort,
    extractor: &Extractor,
    options: &RunOptions<'_>,
) -> Result<Summary, CohortError> {
    let mut columns = cohort.columns.clone();
    columns.push(CASE_COLUMN.to_owned());
    let cases: Vec<&Case> = cohort
        .cases
        .iter()
        .filter(|c| options.shard.takes(c.index))
        .collect();
    let previous = if options.resume && options.out.exists() {
        previous_rows(options.out, extractor, &columns)?
    } else {
        HashMap::new()
    };
    let writer = Writer::new(options, &columns, &previous);
    let todo: Vec<&Case> = cases
        .iter()
        .copied()
        .filter(|c| !previous.contains_key(&c.index))
        .collect();
    let skipped = cases.len() - todo.len();
    let started = Instant::now();
    let finished = std::sync::atomic::AtomicUsize::new(0);
    let total = todo.len();
    let perturbed: Mutex<Vec<Perturbations>> = Mutex::new(Vec::new());
    let one_case = |case: &&Case| -> Result<(), CohortError> {
        let case_started = Instant::now();
        let (row, perturbations) = extract(extractor, case, options.stability);
        let n = finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let eta = started.elapsed().as_secs_f64() / n as f64 * (total - n) as f64;
        (options.progress)(&progress_line(
            case,
            &row,
            perturbations.as_ref().map(|(_, _, rows)| rows.as_slice()),
            (n, total),
            (case_started.elapsed().as_secs_f64(), eta),
        ));
        if let Some(p) = perturbations {
            perturbed
                .lock()
                .map_err(|_| file_error(options.out, "writer failed"))?
                .push(p);
        }
        let mut cells = case.cells.clone();
        cells.resize(cohort.columns.len(), String::new());
        cells.push(case.index.to_string());
        writer.finished(case.index, cells, row)
    };
    // One job: cases in turn, each using every core for its texture matrices; several: the
    // pool's threads share the cases and their inner work.
    if options.jobs <= 1 {
        todo.iter().try_for_each(one_case)?;
    } else {
        thread_pool(options.jobs, options.out)?
            .install(|| todo.par_iter().try_for_each(one_case))?;
    }
    writer.write(true)?;
    let (policy, done) = writer.into_parts()?;
    if let Some(s) = options.stability {
        let perturbed = perturbed
            .into_inner()
            .map_err(|_| file_error(options.out, "writer failed"))?;
        write_stability(options.out, s, perturbed, &policy)?;
    }
    let failed = done.iter().filter(|(_, (_, r))| r.error.is_some()).count();
    Ok(Summary {
        total: cases.len(),
        done: done.len(),
        failed,
        skipped,
    })
}

/// The output of a cohort run, rewritten as cases finish.
struct Writer<'a> {
    out: &'a Path,
    columns: &'a [String],
    previous: &'a KeptRows,
    /// Rows by case index (resumed rows are kept as text in `previous`).
    results: Mutex<Vec<Finished>>,
    /// For the first write (`--resume` replaces the old file), and for the later ones (the file
    /// is this run's own). Every file a case read is protected as the case finishes (a folder
    /// INPUT names its files only once they are read), so no write can land on a source.
    policies: Mutex<(WritePolicy, WritePolicy)>,
    written: std::sync::atomic::AtomicBool,
    last_write: Mutex<Instant>,
}

impl<'a> Writer<'a> {
    fn new(options: &'a RunOptions<'a>, columns: &'a [String], previous: &'a KeptRows) -> Self {
        let mut first = options.policy.clone();
        if options.resume {
            first.overwrite = true;
        }
        let later = options.policy.clone().with_overwrite(true);
        Self {
            out: options.out,
            columns,
            previous,
            results: Mutex::new(Vec::new()),
            policies: Mutex::new((first, later)),
            written: std::sync::atomic::AtomicBool::new(false),
            last_write: Mutex::new(Instant::now()),
        }
    }

    fn failed(&self) -> CohortError {
        file_error(self.out, "writer failed")
    }

    /// Records a finished case, protects what it read, and writes if 2 s have passed.
    fn finished(&self, index: usize, cells: Vec<String>, row: CaseRow) -> Result<(), CohortError> {
        if let Ok(mut policies) = self.policies.lock() {
            policies.0.protect(row.files.iter().cloned());
            policies.1.protect(row.files.iter().cloned());
        }
        self.results
            .lock()
            .map_err(|_| self.failed())?
            .push((index, (cells, row)));
        self.write(false)
    }

    /// Writes the table so far (`force`: whatever the time since the last write).
    fn write(&self, force: bool) -> Result<(), CohortError> {
        let mut last = self.last_write.lock().map_err(|_| self.failed())?;
        if !force && last.elapsed() < Duration::from_secs(2) {
            return Ok(());
        }
        let done = self.results.lock().map_err(|_| self.failed())?;
        let table = merged_table(self.columns, self.previous, &done);
        let policies = self.policies.lock().map_err(|_| self.failed())?;
        if self.written.load(std::sync::atomic::Ordering::SeqCst) {
            table.write(self.out, &policies.1)?;
        } else {
            table.write(self.out, &policies.0)?;
            self.written
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        *last = Instant::now();
        Ok(())
    }

    /// The first-write policy (with every source protected) and the finished rows.
    fn into_parts(self) -> Result<(WritePolicy, Vec<Finished>), CohortError> {
        let failed = self.failed();
        let policies = self.policies.into_inner().map_err(|_| failed)?;
        let done = self
            .results
            .into_inner()
            .map_err(|_| file_error(self.out, "writer failed"))?;
        Ok((policies.0, done))
    }
}

/// The pool `--jobs` cases run on.
fn thread_pool(jobs: usize, out: &Path) -> Result<rayon::ThreadPool, CohortError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| file_error(out, format!("cannot start {jobs} jobs: {e}")))
}

/// One case's row and, with `stability`, its perturbed rows.
fn extract(
    extractor: &Extractor,
    case: &Case,
    stability: Option<Stability>,
) -> (CaseRow, Option<Perturbations>) {
    let Some(s) = stability else {
        return (extractor.case(&case.image, &case.mask, case.label), None);
    };
    let perturbations = perturb::draw(s.seed, case.index, s.count);
    let (row, rows) = extractor.case_perturbed(&case.image, &case.mask, case.label, &perturbations);
    let original = row.error.is_none().then(|| row.features.clone());
    (row, Some((case.index, original, rows)))
}

/// `case n/total (row …, IMAGE): ok, 5 perturbations (1 failed: …) in … s; ETA …`.
fn progress_line(
    case: &Case,
    row: &CaseRow,
    perturbed: Option<&[PerturbedRow]>,
    (n, total): (usize, usize),
    (seconds, eta_seconds): (f64, f64),
) -> String {
    let mut status = row
        .error
        .as_ref()
        .map_or_else(|| "ok".to_owned(), |e| format!("FAILED: {e}"));
    if let Some(rows) = perturbed.filter(|rows| !rows.is_empty()) {
        let failed: Vec<&str> = rows
            .iter()
            .filter_map(|r| r.features.as_ref().err().map(String::as_str))
            .collect();
        status = format!("{status}, {} perturbations", rows.len());
        if let Some(first) = failed.first() {
            status = format!("{status} ({} failed: {first})", failed.len());
        }
    }
    format!(
        "case {n}/{total} (row {}, {}): {status} in {seconds:.1} s; ETA {}",
        case.index + 2,
        case.image.display(),
        eta_text(eta_seconds)
    )
}

/// Writes the stability table and its sidecar for the cases in `perturbed`.
fn write_stability(
    out: &Path,
    options: Stability,
    mut perturbed: Vec<Perturbations>,
    policy: &WritePolicy,
) -> Result<(), CohortError> {
    perturbed.sort_by_key(|(index, _, _)| *index);
    let (table_path, sidecar_path) = stability_paths(out);
    let mut features: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    let mut cases: Vec<CaseMeasurements> = Vec::new();
    for (_, original, rows) in &perturbed {
        let Some(original) = original else { continue };
        for (name, _) in original {
            if seen.insert(name.clone()) {
                features.push(name.clone());
            }
        }
        let mut measurements: CaseMeasurements = vec![Some(original.clone())];
        measurements.extend(rows.iter().map(|r| r.features.as_ref().ok().cloned()));
        cases.push(measurements);
    }
    let stabilities = stability::feature_stability(&features, &cases);
    let header = [
        "feature",
        "class",
        "icc",
        "ci_low",
        "ci_high",
        "n_cases",
        "n_measurements",
        "unstable",
    ];
    let table = Table {
        header: header.iter().map(|h| (*h).to_owned()).collect(),
        rows: stabilities
            .iter()
            .map(|f| {
                vec![
                    f.feature.clone(),
                    f.class.clone(),
                    format_value(f.icc.icc),
                    format_value(f.icc.ci_low),
                    format_value(f.icc.ci_high),
                    f.icc.n_cases.to_string(),
                    f.icc.n_measurements.to_string(),
                    f.icc.unstable().to_string(),
                ]
            })
            .collect(),
    };
    let case_entries: Vec<serde_json::Value> = perturbed
        .iter()
        .map(|(index, original, rows)| {
            let perturbations: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let mut entry =
                        serde_json::to_value(r.perturbation).unwrap_or(serde_json::Value::Null);
                    if let serde_json::Value::Object(map) = &mut entry {
                        if let Some(sigma) = r.noise_sigma {
                            map.insert("sigma".into(), sigma.into());
                        }
                        if let Err(e) = &r.features {
                            map.insert("error".into(), e.clone().into());
                        }
                    }
                    entry
                })
                .collect();
            serde_json::json!({
                "case_index": index,
                "extracted": original.is_some(),
                "perturbations": perturbations,
            })
        })
        .collect();
    let sidecar = serde_json::json!({
        "radlens": env!("CARGO_PKG_VERSION"),
        "features": out.file_name().map(|n| n.to_string_lossy().into_owned()),
        "icc": "ICC(1,1): one-way random effects, single measurement (Shrout & Fleiss 1979); 95 % interval from the F distribution",
        "unstable_below": stability::STABLE_ICC,
        "seed": options.seed,
        "perturbations_per_case": options.count,
        "cases": case_entries,
    });
    table.write(&table_path, policy)?;
    output::write_atomically(&sidecar_path, policy, |w| {
        serde_json::to_writer_pretty(&mut *w, &sidecar)?;
        writeln!(w).map_err(serde_json::Error::io)
    })?;
    Ok(())
}

fn eta_text(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{:.1} min", seconds / 60.0)
    }
}

/// Rows of an earlier run that succeeded, by case index; refuses an output made with other
/// settings or another model.
fn previous_rows(
    path: &Path,
    extractor: &Extractor,
    columns: &[String],
) -> Result<KeptRows, CohortError> {
    let table = Table::read(path)?;
    let fixed = extractor.fixed_diagnostics();
    for name in [SETTINGS_COLUMN, MODEL_COLUMN] {
        let ours = fixed
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone());
        let theirs = table.common(name, path)?;
        if table.rows.is_empty() || ours == theirs {
            continue;
        }
        return Err(file_error(
            path,
            format!(
                "--resume: the existing output was made with another {} ({} vs {})",
                if name == SETTINGS_COLUMN {
                    "configuration"
                } else {
                    "model"
                },
                theirs.unwrap_or_else(|| "none".into()),
                ours.unwrap_or_else(|| "none".into())
            ),
        ));
    }
    let (Some(case_col), Some(error_col)) = (table.column(CASE_COLUMN), table.column(ERROR_COLUMN))
    else {
        return Err(file_error(
            path,
            format!(
                "--resume: not a radlens features file (no {CASE_COLUMN} or {ERROR_COLUMN} column)"
            ),
        ));
    };
    let mut rows = HashMap::new();
    for row in &table.rows {
        if !row[error_col].is_empty() {
            continue; // failed cases are tried again
        }
        let Ok(index) = row[case_col].parse::<usize>() else {
            continue;
        };
        let cells = row[..columns.len().min(row.len())].to_vec();
        let rest = table.header[columns.len().min(row.len())..]
            .iter()
            .cloned()
            .zip(row[columns.len().min(row.len())..].iter().cloned())
            .collect();
        rows.insert(index, (cells, rest));
    }
    Ok(rows)
}

/// Resumed rows (as text) and new rows together, in cohort order.
fn merged_table(columns: &[String], previous: &KeptRows, done: &[Finished]) -> Table {
    let mut all: Vec<Finished> = previous
        .iter()
        .map(|(&index, (cells, named))| {
            // Text cells back to a row: diagnostics stay text, features parse as numbers.
            let mut row = CaseRow::default();
            for (name, value) in named {
                if name.starts_with("diagnostics_") {
                    if name == ERROR_COLUMN {
                        continue;
                    }
                    row.diagnostics.push((name.clone(), value.clone()));
                } else if !value.is_empty() {
                    row.features
                        .push((name.clone(), value.parse().unwrap_or(f64::NAN)));
                }
            }
            (index, (cells.clone(), row))
        })
        .collect();
    all.extend(done.iter().cloned());
    all.sort_by_key(|(index, _)| *index);
    let rows: Vec<(Vec<String>, CaseRow)> = all.into_iter().map(|(_, r)| r).collect();
    table(columns, &rows)
}

/// Joins shard files into `out`: same header, same settings and model hash in every file,
/// rows ordered by case index, each case once.
pub fn merge(out: &Path, shards: &[PathBuf], policy: &WritePolicy) -> Result<usize, CohortError> {
    let mut merged: Option<Table> = None;
    let mut reference: Vec<(String, Option<String>)> = Vec::new();
    for path in shards {
        let table = Table::read(path)?;
        let identity = [SETTINGS_COLUMN, MODEL_COLUMN]
            .into_iter()
            .map(|name| Ok((name.to_owned(), table.common(name, path)?)))
            .collect::<Result<Vec<_>, CohortError>>()?;
        match &mut merged {
            None => {
                reference = identity;
                merged = Some(table);
            }
            Some(m) => {
                for ((name, ours), (_, theirs)) in reference.iter().zip(&identity) {
                    if ours != theirs {
                        return Err(file_error(
                            path,
                            format!(
                                "made with another {} than {}",
                                if name == SETTINGS_COLUMN {
                                    "configuration"
                                } else {
                                    "model"
                                },
                                shards[0].display()
                            ),
                        ));
                    }
                }
                if m.header != table.header {
                    return Err(file_error(
                        path,
                        format!("its columns differ from {}'s", shards[0].display()),
                    ));
                }
                m.rows.extend(table.rows);
            }
        }
    }
    let Some(mut merged) = merged else {
        return Err(file_error(out, "nothing to merge: name the shard files"));
    };
    let case_col = merged.column(CASE_COLUMN).ok_or_else(|| {
        file_error(
            &shards[0],
            format!("not a radlens features file (no {CASE_COLUMN})"),
        )
    })?;
    let mut seen = HashSet::new();
    for row in &merged.rows {
        if !seen.insert(row[case_col].clone()) {
            return Err(file_error(
                out,
                format!("case {} is in more than one shard", row[case_col]),
            ));
        }
    }
    merged
        .rows
        .sort_by_key(|r| r[case_col].parse::<usize>().unwrap_or(usize::MAX));
    merged.write(out, policy)?;
    Ok(merged.rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_cohort_once() {
        let shards: Vec<Shard> = (0..3)
            .map(|i| Shard::parse(&format!("{i}/3")).unwrap())
            .collect();
        for case in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.takes(case)).count(), 1);
        }
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("1").is_err());
    }

    #[test]
    fn shard_auto_reads_slurm_and_kubernetes() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            Shard::from_env(env(&[
                ("SLURM_ARRAY_TASK_ID", "5"),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_COUNT", "8")
            ])),
            Ok(Shard { index: 4, count: 8 })
        );
        assert_eq!(
            Shard::from_env(env(&[
                ("JOB_COMPLETION_INDEX", "2"),
                ("JOB_COMPLETIONS", "4")
            ])),
            Ok(Shard { index: 2, count: 4 })
        );
        assert!(Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "2")])).is_err());
        assert!(Shard::from_env(env(&[])).is_err());
    }
}
