//! The cohort view's data and maths, no UI: a features CSV written by `radlens features
//! --cohort` read back as numeric columns (handcrafted, deep, and the cases file's numeric
//! ground truth) with its cases and the stability and signatures tables beside it; Spearman
//! correlations ordered by hierarchical clustering, univariable AUCs, and a case's nearest
//! neighbours in deep-feature space.
//!
//! Row numbers in messages are the file's lines as a spreadsheet shows them (the header is row
//! 1, the first case row 2), as in [`super::cohort`].

// Allowed crate-wide in Cargo.toml's [lints] already; repeated here so that a command-line
// `-W clippy::pedantic` stays clean too (counts become f64 exactly far beyond any cohort).
#![allow(
    clippy::cast_precision_loss,
    clippy::missing_errors_doc,
    clippy::doc_markdown
)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

/// `diagnostics_Deep_Input`: `slice` or `patch (margin …)`.
const DEEP_INPUT_COLUMN: &str = "diagnostics_Deep_Input";

/// PyRadiomics' feature classes (`<image type>_<class>_<feature>`).
const HANDCRAFTED_CLASSES: [&str; 8] = [
    "shape",
    "shape2D",
    "firstorder",
    "glcm",
    "glrlm",
    "glszm",
    "gldm",
    "ngtdm",
];

/// Column names (lower case, without `_`, `-` and spaces) that name a case.
const ID_COLUMNS: [&str; 6] = ["caseid", "case", "id", "patientid", "subjectid", "subject"];

/// Header names listed in an error at most.
const NAMES_SHOWN: usize = 8;

/// Why a features table, or a question put to it, cannot be answered: one line.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// The features CSV cannot be used.
    #[error("{cause}: {}", path.display())]
    Table { path: PathBuf, cause: String },
    /// A column asked for as an outcome is missing or not binary.
    #[error("outcome {column}: {cause}: {}", path.display())]
    Outcome {
        path: PathBuf,
        column: String,
        cause: String,
    },
    /// [`nearest`] has nothing to compare.
    #[error("{cause}: {}", path.display())]
    Query { path: PathBuf, cause: String },
}

fn table_error(path: &Path, cause: impl Into<String>) -> AnalysisError {
    AnalysisError::Table {
        path: path.to_owned(),
        cause: cause.into(),
    }
}

/// What a numeric column is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `<image type>_<class>_<feature>` (`original_glcm_Contrast`): `class` is `glcm`.
    Handcrafted { class: String },
    /// `deep_*`.
    Deep,
    /// A numeric column of the cases file other than Image, Mask and Label (ground truth such
    /// as `diameter_mm`).
    Passthrough,
}

/// One numeric column, a value per case.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
    /// By case, as [`FeatureTable::cases`]; `None` where the cell is empty, `nan`, `inf` or
    /// `-inf`.
    pub values: Vec<Option<f64>>,
}

/// A column of the cases file (other than Image, Mask and Label) as text, numeric or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextColumn {
    pub name: String,
    /// By case, trimmed.
    pub cells: Vec<String>,
}

/// One row of the features CSV.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CohortCase {
    /// 0-based data row.
    pub row: usize,
    /// Resolved against the features CSV's folder (it is written beside the cases file, whose
    /// folder the paths are relative to).
    pub image: PathBuf,
    pub mask: PathBuf,
    pub label: Option<u32>,
    /// `diagnostics_error`: why the case failed (its feature cells are empty).
    pub error: Option<String>,
    /// A short name: the cases file's `case_id`, `case`, `id`, `PatientID`… cell if there is
    /// one, else the image path as written.
    pub id: String,
}

/// A feature's ICC(1,1) from `F.stability.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct Stability {
    pub feature: String,
    /// NaN where it could not be measured.
    pub icc: f64,
    /// The 95 % confidence interval.
    pub low: f64,
    pub high: f64,
    pub n_cases: Option<usize>,
}

impl Stability {
    /// Below [`super::stability::STABLE_ICC`], or not measurable (the rule `F.stability.csv`'s `unstable`
    /// column was written with).
    #[must_use]
    pub fn unstable(&self) -> bool {
        super::stability::is_unstable(self.icc)
    }
}

/// One row of `F.signatures.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct SignatureRow {
    /// `handcrafted`, `deep` or `both`.
    pub signature: String,
    pub features: usize,
    pub cases: usize,
    pub positives: usize,
    pub auc: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// A features CSV read for the cohort view.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureTable {
    pub path: PathBuf,
    pub cases: Vec<CohortCase>,
    /// Numeric columns in file order: passthrough, handcrafted and deep.
    pub columns: Vec<Column>,
    /// The cases file's columns other than Image, Mask and Label, as text, in file order.
    pub case_columns: Vec<TextColumn>,
    /// Cases-file columns usable as a binary outcome: every value given is 0/1 or true/false
    /// (any case), and both classes occur.
    pub outcomes: Vec<String>,
    /// `diagnostics_Model_Hash` (the first when rows disagree; a warning says so).
    pub model_hash: Option<String>,
    /// `diagnostics_Deep_Input`.
    pub deep_input: Option<String>,
    /// `F.stability.csv` beside the table, if there is one that reads.
    pub stability: Option<Vec<Stability>>,
    /// `F.signatures.csv` beside the table, if there is one that reads.
    pub signatures: Option<Vec<SignatureRow>>,
    /// What was odd but not fatal (a sidecar table that does not read, labels that are not
    /// numbers, rows that disagree on the model), one line each.
    pub warnings: Vec<String>,
}

/// What a header name is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Role {
    Image,
    Mask,
    Label,
    Diagnostics,
    Feature(Kind),
    /// Any other column: from the cases file.
    Case,
}

fn role(name: &str) -> Role {
    match name {
        "Image" => Role::Image,
        "Mask" => Role::Mask,
        "Label" => Role::Label,
        _ if name.starts_with("diagnostics_") => Role::Diagnostics,
        _ => feature_kind(name).map_or(Role::Case, Role::Feature),
    }
}

/// The kind of a feature column's name. Handcrafted names need one of PyRadiomics' image types
/// in front, so that a cases-file column such as `lesion_shape_score` is not taken for a
/// feature (and then refused for holding text).
fn feature_kind(name: &str) -> Option<Kind> {
    if name.starts_with("deep_") {
        return Some(Kind::Deep);
    }
    let mut parts = name.splitn(3, '_');
    let (Some(image_type), Some(class), Some(feature)) = (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let known_type = matches!(
        image_type,
        "original" | "square" | "squareroot" | "logarithm" | "exponential" | "gradient"
    ) || ["wavelet", "log-sigma", "lbp-"]
        .iter()
        .any(|p| image_type.starts_with(p));
    (known_type && !feature.is_empty() && HANDCRAFTED_CLASSES.contains(&class)).then(|| {
        Kind::Handcrafted {
            class: class.to_owned(),
        }
    })
}

/// A numeric cell: `Ok(None)` for empty, `nan` and infinities, `Err` for text.
fn number(cell: &str) -> Result<Option<f64>, ()> {
    let cell = cell.trim();
    if cell.is_empty() {
        return Ok(None);
    }
    cell.parse::<f64>()
        .map(|v| v.is_finite().then_some(v))
        .map_err(|_| ())
}

/// An outcome cell: `Ok(None)` for empty or `nan`, `Err` for anything but 0/1 and true/false.
fn binary(cell: &str) -> Result<Option<bool>, ()> {
    let cell = cell.trim();
    if cell.is_empty() || cell.eq_ignore_ascii_case("nan") {
        Ok(None)
    } else if cell.eq_ignore_ascii_case("true") {
        Ok(Some(true))
    } else if cell.eq_ignore_ascii_case("false") {
        Ok(Some(false))
    } else {
        // `1.0` and `0.0` too: pandas writes integer columns with gaps that way.
        match cell.parse::<f64>() {
            Ok(v) if v.abs() < f64::MIN_POSITIVE => Ok(Some(false)),
            Ok(v) if (v - 1.0).abs() < f64::EPSILON => Ok(Some(true)),
            _ => Err(()),
        }
    }
}

/// A CSV file's header (trimmed) and rows; every row as long as the header.
fn read_csv(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(path)
        .map_err(|e| format!("cannot open ({e})"))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("not a CSV text file ({e})"))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    if header.iter().all(String::is_empty) {
        return Err("empty: no header row".into());
    }
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let row = index + 2;
        let record = record.map_err(|e| match e.kind() {
            csv::ErrorKind::UnequalLengths { len, .. } => {
                format!("row {row} has {len} cells, the header {}", header.len())
            }
            csv::ErrorKind::Utf8 { .. } => format!("row {row} is not text; not a CSV file?"),
            _ => format!("row {row}: {e}"),
        })?;
        rows.push(record.iter().map(|c| c.trim().to_owned()).collect());
    }
    Ok((header, rows))
}

/// At most [`NAMES_SHOWN`] names, then how many there are.
fn some_names(names: &[String]) -> String {
    if names.is_empty() {
        return "no columns".into();
    }
    let mut text = names
        .iter()
        .take(NAMES_SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > NAMES_SHOWN {
        text = format!("{text}, … {} in all", names.len());
    }
    text
}

impl FeatureTable {
    /// Reads a features CSV and, when they are beside it, its `.stability.csv` and
    /// `.signatures.csv` (a sidecar that does not read is a warning, not an error).
    pub fn read(path: &Path) -> Result<Self, AnalysisError> {
        let (header, rows) = read_csv(path).map_err(|cause| table_error(path, cause))?;
        let mut table = Self::from_rows(path, &header, &rows)?;
        let (stability_path, _) = super::cohort::stability_paths(path);
        match read_sidecar(&stability_path, stability_row) {
            Ok(stability) => table.stability = stability,
            Err(w) => table.warnings.push(w),
        }
        match read_sidecar(
            &super::cohort::derived_path(path, "signatures"),
            signature_row,
        ) {
            Ok(signatures) => table.signatures = signatures,
            Err(w) => table.warnings.push(w),
        }
        Ok(table)
    }

    /// The table of `header` and `rows` (all as long as the header), read from `path`.
    fn from_rows(
        path: &Path,
        header: &[String],
        rows: &[Vec<String>],
    ) -> Result<Self, AnalysisError> {
        let roles: Vec<Role> = header.iter().map(|h| role(h)).collect();
        let find = |r: &Role| roles.iter().position(|x| x == r);
        let (Some(image), Some(mask)) = (find(&Role::Image), find(&Role::Mask)) else {
            return Err(table_error(
                path,
                format!(
                    "not a features CSV: it has no Image/Mask columns (it has {})",
                    some_names(header)
                ),
            ));
        };
        let mut warnings = Vec::new();
        let mut seen = HashSet::new();
        let mut columns = Vec::new();
        let mut case_columns = Vec::new();
        for (c, (name, role)) in header.iter().zip(&roles).enumerate() {
            if !seen.insert(name.as_str()) {
                warnings.push(format!(
                    "column {name} appears more than once; the first is used"
                ));
                continue;
            }
            let cells = || rows.iter().map(move |r| r[c].as_str());
            match role {
                Role::Feature(kind) => columns.push(feature_column(path, name, kind, cells())?),
                Role::Case => {
                    columns.extend(passthrough_column(name, cells()));
                    case_columns.push(TextColumn {
                        name: name.clone(),
                        cells: cells().map(str::to_owned).collect(),
                    });
                }
                _ => {}
            }
        }
        let error_column = header.iter().position(|h| h == super::ERROR_COLUMN);
        if !columns.iter().any(|c| c.kind != Kind::Passthrough) {
            let errors: Vec<&str> = error_column.map_or_else(Vec::new, |e| {
                rows.iter()
                    .map(|r| r[e].as_str())
                    .filter(|e| !e.is_empty())
                    .collect()
            });
            let cause = match errors.first() {
                Some(first) if errors.len() == rows.len() => format!(
                    "no feature columns: all {} cases failed (the first: {first})",
                    rows.len()
                ),
                _ => "not a features CSV: it has no feature columns (original_*, deep_*)".into(),
            };
            return Err(table_error(path, cause));
        }
        let layout = Layout {
            image,
            mask,
            label: find(&Role::Label),
            error: error_column,
        };
        let cases = cases(path, rows, &layout, &case_columns, &mut warnings);
        let outcomes = case_columns
            .iter()
            .filter(|c| is_outcome(&c.cells))
            .map(|c| c.name.clone())
            .collect();
        let model_hash = common_value(header, rows, super::MODEL_COLUMN, &mut warnings);
        let deep_input = common_value(header, rows, DEEP_INPUT_COLUMN, &mut warnings);
        Ok(Self {
            path: path.to_owned(),
            cases,
            columns,
            case_columns,
            outcomes,
            model_hash,
            deep_input,
            stability: None,
            signatures: None,
            warnings,
        })
    }

    /// The numeric column called `name`.
    #[must_use]
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Indices into [`Self::columns`] of the columns of one kind, in file order.
    fn of_kind(&self, wanted: impl Fn(&Kind) -> bool) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|&i| wanted(&self.columns[i].kind))
            .collect()
    }

    /// The `deep_*` columns.
    #[must_use]
    pub fn deep(&self) -> Vec<usize> {
        self.of_kind(|k| *k == Kind::Deep)
    }

    /// The handcrafted (`original_*`, …) columns.
    #[must_use]
    pub fn handcrafted(&self) -> Vec<usize> {
        self.of_kind(|k| matches!(k, Kind::Handcrafted { .. }))
    }

    /// The cases file's numeric columns.
    #[must_use]
    pub fn passthrough(&self) -> Vec<usize> {
        self.of_kind(|k| *k == Kind::Passthrough)
    }

    /// Cases-file column `name` as a binary outcome by case (`None` where empty or `nan`):
    /// 1/true is the positive class, as `F.signatures.csv` takes the larger value. One class
    /// only is not an error here ([`auc`] answers `None` for it).
    pub fn outcome(&self, name: &str) -> Result<Vec<Option<bool>>, AnalysisError> {
        let error = |cause: String| AnalysisError::Outcome {
            path: self.path.clone(),
            column: name.to_owned(),
            cause,
        };
        let Some(column) = self.case_columns.iter().find(|c| c.name == name) else {
            return Err(error(format!(
                "not a column of the cases file (those are {})",
                some_names(
                    &self
                        .case_columns
                        .iter()
                        .map(|c| c.name.clone())
                        .collect::<Vec<_>>()
                )
            )));
        };
        column
            .cells
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                binary(cell).map_err(|()| {
                    error(format!("row {}: '{cell}' is not 0/1 or true/false", i + 2))
                })
            })
            .collect()
    }

    /// `feature`'s row of the stability table, if there is one.
    #[must_use]
    pub fn stability_of(&self, feature: &str) -> Option<&Stability> {
        self.stability
            .as_ref()?
            .iter()
            .find(|s| s.feature == feature)
    }
}

/// A feature column's values; a cell that is text is an error.
fn feature_column<'a>(
    path: &Path,
    name: &str,
    kind: &Kind,
    cells: impl Iterator<Item = &'a str>,
) -> Result<Column, AnalysisError> {
    let values = cells
        .enumerate()
        .map(|(i, cell)| {
            number(cell).map_err(|()| {
                table_error(
                    path,
                    format!("column {name} row {}: '{cell}' is not a number", i + 2),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Column {
        name: name.to_owned(),
        kind: kind.clone(),
        values,
    })
}

/// A cases-file column as numbers, if every cell is one (or empty) and one at least is finite.
fn passthrough_column<'a>(name: &str, cells: impl Iterator<Item = &'a str>) -> Option<Column> {
    let values: Vec<Option<f64>> = cells.map(number).collect::<Result<_, _>>().ok()?;
    values.iter().any(Option::is_some).then(|| Column {
        name: name.to_owned(),
        kind: Kind::Passthrough,
        values,
    })
}

/// Every given value 0/1 or true/false, and both classes there.
fn is_outcome(cells: &[String]) -> bool {
    let Ok(values) = cells
        .iter()
        .map(|c| binary(c))
        .collect::<Result<Vec<_>, _>>()
    else {
        return false;
    };
    values.contains(&Some(true)) && values.contains(&Some(false))
}

/// Where a case's own cells are.
struct Layout {
    image: usize,
    mask: usize,
    label: Option<usize>,
    error: Option<usize>,
}

/// The cases of `rows`.
fn cases(
    path: &Path,
    rows: &[Vec<String>],
    layout: &Layout,
    case_columns: &[TextColumn],
    warnings: &mut Vec<String>,
) -> Vec<CohortCase> {
    let base = path.parent().unwrap_or(Path::new(""));
    let normalised = |name: &str| {
        name.chars()
            .filter(|c| !matches!(c, '_' | '-' | ' '))
            .collect::<String>()
            .to_lowercase()
    };
    // The id column: the first of ID_COLUMNS' names the file has.
    let id_column = ID_COLUMNS
        .iter()
        .find_map(|id| case_columns.iter().find(|c| normalised(&c.name) == *id));
    let mut bad_labels = Vec::new();
    let cases = rows
        .iter()
        .enumerate()
        .map(|(row, cells)| {
            let label_text = layout.label.map_or("", |l| cells[l].as_str());
            let label = if label_text.is_empty() {
                None
            } else {
                let parsed = label_text.parse::<u32>().ok();
                if parsed.is_none() {
                    bad_labels.push((row + 2, label_text));
                }
                parsed
            };
            let id = id_column
                .map(|c| c.cells[row].clone())
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| cells[layout.image].clone());
            CohortCase {
                row,
                image: base.join(&cells[layout.image]),
                mask: base.join(&cells[layout.mask]),
                label,
                error: layout
                    .error
                    .map(|e| cells[e].clone())
                    .filter(|e| !e.is_empty()),
                id,
            }
        })
        .collect();
    if let Some((row, text)) = bad_labels.first() {
        warnings.push(format!(
            "{} Label cells are not whole numbers and were left out (row {row}: '{text}')",
            bad_labels.len()
        ));
    }
    cases
}

/// The value column `name` has in every row that gives one; the first, with a warning, when
/// rows disagree.
fn common_value(
    header: &[String],
    rows: &[Vec<String>],
    name: &str,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let c = header.iter().position(|h| h == name)?;
    let mut values: Vec<&str> = Vec::new();
    for row in rows {
        if !row[c].is_empty() && !values.contains(&row[c].as_str()) {
            values.push(&row[c]);
        }
    }
    if values.len() > 1 {
        warnings.push(format!(
            "rows disagree on {name} ({} values); the first is shown",
            values.len()
        ));
    }
    values.first().map(|v| (*v).to_owned())
}

/// A row of a sidecar table, its cells looked up by column name.
struct Cells<'a> {
    header: &'a [String],
    row: &'a [String],
}

impl<'a> Cells<'a> {
    fn get(&self, name: &str) -> Option<&'a str> {
        let c = self.header.iter().position(|h| h == name)?;
        Some(self.row[c].as_str())
    }

    fn text(&self, name: &str) -> Result<&'a str, String> {
        self.get(name).ok_or_else(|| format!("no column {name}"))
    }

    /// A number (`nan` allowed: an ICC that could not be measured).
    fn number(&self, name: &str) -> Result<f64, String> {
        let text = self.text(name)?;
        text.parse()
            .map_err(|_| format!("{name} '{text}' is not a number"))
    }

    fn count(&self, name: &str) -> Result<usize, String> {
        let text = self.text(name)?;
        text.parse()
            .map_err(|_| format!("{name} '{text}' is not a count"))
    }
}

/// A sidecar table (`None` if there is no such file), each row through `parse`; a file that
/// does not read is a one-line warning naming it.
fn read_sidecar<T>(
    path: &Path,
    parse: impl Fn(&Cells<'_>) -> Result<T, String>,
) -> Result<Option<Vec<T>>, String> {
    if !path.exists() {
        return Ok(None);
    }
    let warning = |cause: String| format!("ignored, {cause}: {}", path.display());
    let (header, rows) = read_csv(path).map_err(warning)?;
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let cells = Cells {
                header: &header,
                row,
            };
            parse(&cells).map_err(|cause| warning(format!("row {}: {cause}", i + 2)))
        })
        .collect::<Result<Vec<T>, String>>()
        .map(Some)
}

/// A row of `F.stability.csv` (`feature, class, icc, ci_low, ci_high, n_cases, …`).
fn stability_row(cells: &Cells<'_>) -> Result<Stability, String> {
    Ok(Stability {
        feature: cells.text("feature")?.to_owned(),
        icc: cells.number("icc")?,
        low: cells.number("ci_low")?,
        high: cells.number("ci_high")?,
        n_cases: cells.get("n_cases").and_then(|n| n.parse().ok()),
    })
}

/// A row of `F.signatures.csv` (`signature,features,cases,positives,auc,ci_low,ci_high`).
fn signature_row(cells: &Cells<'_>) -> Result<SignatureRow, String> {
    Ok(SignatureRow {
        signature: cells.text("signature")?.to_owned(),
        features: cells.count("features")?,
        cases: cells.count("cases")?,
        positives: cells.count("positives")?,
        auc: cells.number("auc")?,
        ci_low: cells.number("ci_low")?,
        ci_high: cells.number("ci_high")?,
    })
}

/// The ranks of `values`, centred and scaled to length 1, so that Spearman's ρ of two columns
/// over the same cases is the dot product; `None` when fewer than 3 or all tied.
fn unit_ranks(values: &[f64]) -> Option<Vec<f64>> {
    if values.len() < 3 {
        return None;
    }
    let mut r = crate::explain::metrics::average_ranks(values);
    let mean = (values.len() + 1) as f64 / 2.0;
    for v in &mut r {
        *v -= mean;
    }
    let norm = r.iter().map(|v| v * v).sum::<f64>().sqrt();
    if norm > 0.0 {
        for v in &mut r {
            *v /= norm;
        }
        Some(r)
    } else {
        None
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    // Four at a time: the crate's own code runs unoptimised in dev builds, where each step of
    // an iterator is a call, and this is the inner loop of every heatmap.
    let n = a.len().min(b.len());
    let (xs, ys) = (a[..n].chunks_exact(4), b[..n].chunks_exact(4));
    let tail: f64 = xs
        .remainder()
        .iter()
        .zip(ys.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut sums = [0.0; 4];
    for (x, y) in xs.zip(ys) {
        sums[0] += x[0] * y[0];
        sums[1] += x[1] * y[1];
        sums[2] += x[2] * y[2];
        sums[3] += x[3] * y[3];
    }
    sums[0] + sums[1] + sums[2] + sums[3] + tail
}

/// Spearman's ρ over the cases where both `x` and `y` have a finite value (pairs up to the
/// shorter slice), ties given average ranks (so ρ is Pearson's r of the ranks), with the number
/// of pairs used; `None` when fewer than 3 pairs or one side is constant over them.
#[must_use]
pub fn spearman(x: &[Option<f64>], y: &[Option<f64>]) -> (Option<f64>, usize) {
    let (xs, ys): (Vec<f64>, Vec<f64>) = x
        .iter()
        .zip(y)
        .filter_map(|(&a, &b)| Some((a?, b?)))
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .unzip();
    let rho = unit_ranks(&xs)
        .zip(unit_ranks(&ys))
        .map(|(rx, ry)| dot(&rx, &ry).clamp(-1.0, 1.0));
    (rho, xs.len())
}

/// Missing-value patterns up to which [`prepare`] ranks every column once per pattern; beyond,
/// pairs are ranked one by one ([`spearman`]).
const MAX_PATTERNS: usize = 8;

/// A column ready for many Spearman pairs. The cases a pair has in common depend only on the
/// two columns' missing-value patterns, and a cohort has few of those (a failed case misses
/// every feature; a feature that fails on small ROIs misses the same cases each time): with
/// each column's ranks over every pattern's cases computed once, ρ of any pair is a dot
/// product instead of two sorts.
struct Ranked<'a> {
    values: &'a [Option<f64>],
    /// Index into [`Prepared::counts`]' patterns.
    pattern: usize,
    /// Per pattern `p`: the ranks over the cases this column and `p` both have (in case
    /// order), centred and of length 1; `None` when fewer than 3 or all tied. Empty beyond
    /// [`MAX_PATTERNS`].
    over: Vec<Option<Vec<f64>>>,
}

struct Prepared<'a> {
    columns: HashMap<usize, Ranked<'a>>,
    /// Cases two patterns have in common, `[p][q]`.
    counts: Vec<Vec<usize>>,
}

fn prepare<'a>(table: &'a FeatureTable, indices: &[usize]) -> Prepared<'a> {
    let mut patterns: Vec<Vec<bool>> = Vec::new();
    let mut columns = HashMap::new();
    for &i in indices {
        let values = &table.columns[i].values;
        let present: Vec<bool> = values
            .iter()
            .map(|v| v.is_some_and(f64::is_finite))
            .collect();
        let pattern = patterns
            .iter()
            .position(|p| *p == present)
            .unwrap_or_else(|| {
                patterns.push(present);
                patterns.len() - 1
            });
        columns.entry(i).or_insert(Ranked {
            values,
            pattern,
            over: Vec::new(),
        });
    }
    let both = |p: &[bool], q: &[bool]| p.iter().zip(q).filter(|&(&a, &b)| a && b).count();
    let counts = patterns
        .iter()
        .map(|p| patterns.iter().map(|q| both(p, q)).collect())
        .collect();
    if patterns.len() <= MAX_PATTERNS {
        columns.par_iter_mut().for_each(|(_, column)| {
            let own = &patterns[column.pattern];
            column.over = patterns
                .iter()
                .map(|other| {
                    let given: Vec<f64> = (0..own.len())
                        .filter(|&c| own[c] && other.get(c).copied().unwrap_or(false))
                        .filter_map(|c| column.values[c])
                        .collect();
                    unit_ranks(&given)
                })
                .collect();
        });
    }
    Prepared { columns, counts }
}

impl Prepared<'_> {
    /// ρ and n of columns `a` and `b` (both prepared).
    fn rho(&self, a: usize, b: usize) -> (Option<f64>, usize) {
        let (Some(x), Some(y)) = (self.columns.get(&a), self.columns.get(&b)) else {
            return (None, 0);
        };
        let (Some(Some(xs)), Some(Some(ys))) = (x.over.get(y.pattern), y.over.get(x.pattern))
        else {
            if x.over.is_empty() {
                return spearman(x.values, y.values);
            }
            return (None, self.counts[x.pattern][y.pattern]);
        };
        (
            Some(dot(xs, ys).clamp(-1.0, 1.0)),
            self.counts[x.pattern][y.pattern],
        )
    }
}

/// Spearman's ρ between columns (rows × columns of a heatmap).
#[derive(Clone, Debug, PartialEq)]
pub struct Correlation {
    /// Indices into [`FeatureTable::columns`], in display order.
    pub rows: Vec<usize>,
    pub cols: Vec<usize>,
    /// `rows.len() × cols.len()`, row-major in display order.
    pub r: Vec<Option<f64>>,
    /// The cases each ρ is over.
    pub n: Vec<usize>,
}

impl Correlation {
    /// ρ and n at display row `i`, column `j` (`(None, 0)` outside the matrix).
    #[must_use]
    pub fn get(&self, i: usize, j: usize) -> (Option<f64>, usize) {
        if i >= self.rows.len() || j >= self.cols.len() {
            return (None, 0);
        }
        let k = i * self.cols.len() + j;
        (self.r[k], self.n[k])
    }
}

/// Spearman's ρ of every `rows` × `cols` pair of columns (indices into
/// [`FeatureTable::columns`]; ones out of range are left out), rows and columns each ordered
/// so that related features sit together: the leaf order of an average-linkage clustering with
/// distance 1 − |ρ| between the features themselves (not between their heatmap rows: against
/// two or three ground-truth columns those rows are too short to tell features apart), ties in
/// file order, the same answer every time.
#[must_use]
pub fn correlation(table: &FeatureTable, rows: &[usize], cols: &[usize]) -> Correlation {
    correlation_with(table, rows, cols, true)
}

/// [`correlation`] with rows and columns in the order given.
#[must_use]
pub fn correlation_unordered(table: &FeatureTable, rows: &[usize], cols: &[usize]) -> Correlation {
    correlation_with(table, rows, cols, false)
}

fn correlation_with(
    table: &FeatureTable,
    rows: &[usize],
    cols: &[usize],
    clustered: bool,
) -> Correlation {
    let valid = |v: &[usize]| -> Vec<usize> {
        v.iter()
            .copied()
            .filter(|&i| i < table.columns.len())
            .collect()
    };
    let (rows, cols) = (valid(rows), valid(cols));
    let all: Vec<usize> = rows.iter().chain(&cols).copied().collect();
    let prepared = prepare(table, &all);
    let rho = |a: usize, b: usize| prepared.rho(a, b);
    let (rows, cols) = if clustered {
        (
            permute(&rows, &cluster_order(&rows, &rho)),
            permute(&cols, &cluster_order(&cols, &rho)),
        )
    } else {
        (rows, cols)
    };
    let width = cols.len();
    let (r, n) = (0..rows.len() * width)
        .into_par_iter()
        .map(|k| rho(rows[k / width], cols[k % width]))
        .unzip();
    Correlation { rows, cols, r, n }
}

fn permute(items: &[usize], order: &[usize]) -> Vec<usize> {
    order.iter().map(|&k| items[k]).collect()
}

/// The display order (positions into `items`) of an average-linkage (UPGMA) clustering of
/// `items` with distance 1 − |ρ| (1 where ρ is undefined), in the dendrogram's leaf order.
///
/// The distance is between the features themselves, not between their rows of the heatmap:
/// a heatmap against a few ground-truth columns (`diameter_mm`, `contrast_hu`) gives each row a
/// profile of two or three numbers, too few to tell features apart, and the order would change
/// whenever the other axis does. |ρ| rather than ρ puts a feature next to its mirror image
/// (volume and sphericity carry the same information with opposite signs).
///
/// Deterministic: the closest pair is the first in original order on a tie, the merged cluster
/// takes the earlier one's place, and its leaves are the earlier cluster's, then the later's.
fn cluster_order(
    items: &[usize],
    rho: &(dyn Fn(usize, usize) -> (Option<f64>, usize) + Sync),
) -> Vec<usize> {
    let m = items.len();
    if m <= 2 {
        return (0..m).collect();
    }
    let distances: Vec<f64> = (0..m * m)
        .into_par_iter()
        .map(|k| {
            let (i, j) = (k / m, k % m);
            if i < j {
                rho(items[i], items[j]).0.map_or(1.0, |r| 1.0 - r.abs())
            } else {
                0.0
            }
        })
        .collect();
    average_linkage_order(m, distances)
}

/// UPGMA on an `m × m` matrix of which the upper triangle (`i < j`) is read; leaf order.
fn average_linkage_order(m: usize, mut dist: Vec<f64>) -> Vec<usize> {
    // Keep the matrix symmetric so that the Lance–Williams update can read either half.
    for i in 0..m {
        for j in 0..i {
            dist[i * m + j] = dist[j * m + i];
        }
    }
    let mut leaves: Vec<Vec<usize>> = (0..m).map(|i| vec![i]).collect();
    // Slots of the live clusters, ascending: slot = the smallest original index in it.
    let mut active: Vec<usize> = (0..m).collect();
    while active.len() > 1 {
        let mut best: Option<(f64, usize, usize)> = None;
        for (a, &i) in active.iter().enumerate() {
            for &j in &active[a + 1..] {
                let here = dist[i * m + j];
                if best.is_none_or(|(closest, _, _)| here < closest) {
                    best = Some((here, i, j));
                }
            }
        }
        let Some((_, keep, gone)) = best else { break };
        let size = |slot: usize| leaves[slot].len() as f64;
        let (n_keep, n_gone) = (size(keep), size(gone));
        for &other in &active {
            if other != keep && other != gone {
                let merged = (n_keep * dist[keep * m + other] + n_gone * dist[gone * m + other])
                    / (n_keep + n_gone);
                dist[keep * m + other] = merged;
                dist[other * m + keep] = merged;
            }
        }
        let later = std::mem::take(&mut leaves[gone]);
        leaves[keep].extend(later);
        active.retain(|&slot| slot != gone);
    }
    active
        .first()
        .map(|&slot| std::mem::take(&mut leaves[slot]))
        .unwrap_or_default()
}

/// The univariable ROC AUC of `values` for `outcome` over the cases that have both (true is
/// the positive class; below 0.5 when low values go with it); `None` if a class is missing.
#[must_use]
pub fn auc(values: &[Option<f64>], outcome: &[Option<bool>]) -> Option<f64> {
    let (scores, labels): (Vec<f64>, Vec<bool>) = values
        .iter()
        .zip(outcome)
        .filter_map(|(&v, &o)| Some((v.filter(|v| v.is_finite())?, o?)))
        .unzip();
    if !(labels.contains(&true) && labels.contains(&false)) {
        return None;
    }
    let a = super::signatures::auc(&scores, &labels);
    a.is_finite().then_some(a)
}

/// A case near the query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Neighbour {
    /// Index into [`FeatureTable::cases`].
    pub case: usize,
    /// Cosine similarity of the standardised deep features, −1…1.
    pub similarity: f64,
}

/// One deep column of a [`nearest`] search: the cohort's mean and SD, the query's z-score.
struct Axis {
    column: usize,
    mean: f64,
    sd: f64,
    query: f64,
}

/// The `k` cases most similar to `query` in deep-feature space, most similar first (ties by
/// case order): the deep columns `query` names (with a finite value), each standardised with
/// the cohort's mean and SD over the cases that have it (columns with SD 0 are left out, as they
/// tell no case apart), compared by cosine similarity. Failed cases, cases missing a value in a
/// column used, and `exclude` (the query case itself) are never returned.
pub fn nearest(
    table: &FeatureTable,
    query: &[(String, f64)],
    k: usize,
    exclude: Option<usize>,
) -> Result<Vec<Neighbour>, AnalysisError> {
    let fail = |cause: String| AnalysisError::Query {
        path: table.path.clone(),
        cause,
    };
    let usable = |c: usize| table.cases[c].error.is_none();
    let deep: HashMap<&str, usize> = table
        .deep()
        .into_iter()
        .map(|i| (table.columns[i].name.as_str(), i))
        .collect();
    let mut used = HashSet::new();
    let mut axes = Vec::new();
    let mut shared = 0;
    for (name, value) in query {
        let Some(&column) = deep.get(name.as_str()) else {
            continue;
        };
        if !used.insert(column) {
            continue;
        }
        shared += 1;
        let given: Vec<f64> = (0..table.cases.len())
            .filter(|&c| usable(c))
            .filter_map(|c| table.columns[column].values[c])
            .collect();
        if !value.is_finite() || given.len() < 2 {
            continue;
        }
        let n = given.len() as f64;
        let mean = given.iter().sum::<f64>() / n;
        let sd = (given.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        if sd.is_finite() && sd > 0.0 {
            axes.push(Axis {
                column,
                mean,
                sd,
                query: (value - mean) / sd,
            });
        }
    }
    if shared == 0 {
        return Err(fail(format!(
            "the query shares no deep feature with the table ({} named, {} deep columns)",
            query.len(),
            deep.len()
        )));
    }
    let query_norm = axes.iter().map(|a| a.query * a.query).sum::<f64>().sqrt();
    if axes.is_empty() || query_norm <= 0.0 {
        return Err(fail(format!(
            "none of the {shared} deep features the query shares with the table tells it from the cohort's mean"
        )));
    }
    let mut neighbours: Vec<Neighbour> = (0..table.cases.len())
        .into_par_iter()
        .filter(|&c| Some(c) != exclude && usable(c))
        .filter_map(|c| {
            let z: Vec<f64> = axes
                .iter()
                .map(|a| table.columns[a.column].values[c].map(|v| (v - a.mean) / a.sd))
                .collect::<Option<_>>()?;
            let norm = z.iter().map(|v| v * v).sum::<f64>().sqrt();
            let along: f64 = z.iter().zip(&axes).map(|(v, a)| v * a.query).sum();
            // A case exactly at the cohort's mean has no direction: unrelated, not an error.
            let similarity = if norm > 0.0 {
                (along / (norm * query_norm)).clamp(-1.0, 1.0)
            } else {
                0.0
            };
            Some(Neighbour {
                case: c,
                similarity,
            })
        })
        .collect();
    neighbours.sort_by(|a, b| {
        b.similarity
            .total_cmp(&a.similarity)
            .then(a.case.cmp(&b.case))
    });
    neighbours.truncate(k);
    Ok(neighbours)
}

/// The deep feature values `case` has (name, value), for "cases similar to this one"; empty
/// for a case out of range or one that failed.
#[must_use]
pub fn case_features(table: &FeatureTable, case: usize) -> Vec<(String, f64)> {
    table
        .deep()
        .into_iter()
        .filter_map(|i| {
            let column = &table.columns[i];
            Some((column.name.clone(), (*column.values.get(case)?)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A CSV of `header` and `rows` (cells joined by commas).
    fn csv(header: &[&str], rows: &[Vec<String>]) -> String {
        let mut text = header.join(",") + "\n";
        for row in rows {
            text.push_str(&row.join(","));
            text.push('\n');
        }
        text
    }

    /// Reproducible noise in [-0.5, 0.5) (SplitMix64).
    fn noise(seed: u64) -> f64 {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }

    /// A features CSV of `n` cases with deep columns `deep(case, k)` for k < `width`.
    fn deep_table(
        dir: &Path,
        n: usize,
        width: usize,
        deep: impl Fn(usize, usize) -> String,
    ) -> FeatureTable {
        let names: Vec<String> = (0..width).map(|k| format!("deep_mean_{k}")).collect();
        let mut header = vec!["Image", "Mask", "diagnostics_error"];
        header.extend(names.iter().map(String::as_str));
        let rows: Vec<Vec<String>> = (0..n)
            .map(|c| {
                let mut row = vec![
                    format!("img{c}.nii.gz"),
                    format!("mask{c}.nii.gz"),
                    String::new(),
                ];
                row.extend((0..width).map(|k| deep(c, k)));
                row
            })
            .collect();
        FeatureTable::read(&write(dir, "F.csv", &csv(&header, &rows))).unwrap()
    }

    #[test]
    fn spearman_gives_ties_their_average_rank_over_complete_pairs() {
        // Complete pairs: x = 1, 2, 2, 3 → ranks 1, 2.5, 2.5, 4; y = 1, 2, 3, 4. Centred:
        // (−1.5, 0, 0, 1.5)·(−1.5, −0.5, 0.5, 1.5) = 4.5; |x|² = 4.5, |y|² = 5 → ρ = √0.9.
        // (The no-ties shortcut 1 − 6Σd²/(n(n²−1)) would give 0.95.)
        let x = [Some(1.0), Some(2.0), None, Some(2.0), Some(3.0), Some(9.0)];
        let y = [
            Some(1.0),
            Some(2.0),
            Some(100.0),
            Some(3.0),
            Some(4.0),
            None,
        ];
        let (r, n) = spearman(&x, &y);
        assert_eq!(n, 4);
        assert!((r.unwrap() - 0.9_f64.sqrt()).abs() < 1e-12, "{r:?}");
    }

    #[test]
    fn spearman_is_undefined_for_a_constant_side_or_under_three_pairs() {
        let x = [Some(1.0), Some(2.0), Some(3.0)];
        assert_eq!(spearman(&x, &[Some(5.0); 3]), (None, 3));
        assert_eq!(spearman(&x[..2], &x[..2]), (None, 2));
        assert_eq!(
            spearman(&x, &[Some(3.0), Some(1.0), Some(f64::NAN)]),
            (None, 2)
        );
    }

    #[test]
    fn ordering_puts_each_block_of_correlated_features_together() {
        // Two latent variables, four noisy copies each, interleaved: even columns follow a,
        // odd ones b. One cell is missing so that some pairs take the pairwise path.
        let dir = tempfile::tempdir().unwrap();
        let n = 40;
        let table = deep_table(dir.path(), n, 8, |c, k| {
            if (c, k) == (3, 5) {
                return String::new();
            }
            let latent = noise(c as u64 * 2 + (k % 2) as u64);
            format!("{}", latent + 0.1 * noise(1000 + (c * 8 + k) as u64))
        });
        let deep = table.deep();
        let corr = correlation(&table, &deep, &deep);
        for order in [&corr.rows, &corr.cols] {
            let blocks: Vec<usize> = order.iter().map(|&i| i % 2).collect();
            let changes = blocks.windows(2).filter(|w| w[0] != w[1]).count();
            assert_eq!(changes, 1, "blocks {blocks:?} of order {order:?}");
        }
        // The matrix follows the order, pair by pair.
        for i in 0..corr.rows.len() {
            for j in 0..corr.cols.len() {
                let (r, count) = corr.get(i, j);
                let (want, want_n) = spearman(
                    &table.columns[corr.rows[i]].values,
                    &table.columns[corr.cols[j]].values,
                );
                assert_eq!(count, want_n);
                assert!((r.unwrap() - want.unwrap()).abs() < 1e-12);
            }
        }
        assert_eq!(corr.get(0, 0).1, if corr.rows[0] == 5 { n - 1 } else { n });
        // Same answer every time (the lead's heatmap must not shuffle between frames).
        assert_eq!(correlation(&table, &deep, &deep), corr);
    }

    #[test]
    fn correlation_is_pairwise_complete_however_many_missing_patterns() {
        // Column k misses case k: 3 patterns (ranked once per pattern) or 10 (more than
        // MAX_PATTERNS: ranked pair by pair); the answer is the same.
        let dir = tempfile::tempdir().unwrap();
        for width in [3, 10] {
            let table = deep_table(dir.path(), 12, width, |c, k| {
                if c == k {
                    String::new()
                } else {
                    format!("{}", noise((c * 16 + k) as u64))
                }
            });
            let deep = table.deep();
            let corr = correlation_unordered(&table, &deep, &deep);
            for i in 0..width {
                for j in 0..width {
                    let (r, n) = corr.get(i, j);
                    assert_eq!(n, if i == j { 11 } else { 10 });
                    let (want, _) = spearman(&table.columns[i].values, &table.columns[j].values);
                    assert!((r.unwrap() - want.unwrap()).abs() < 1e-12, "{i} {j}");
                }
            }
        }
    }

    #[test]
    fn unordered_correlation_keeps_the_given_order() {
        let dir = tempfile::tempdir().unwrap();
        let table = deep_table(dir.path(), 10, 3, |c, k| {
            format!("{}", noise((c * 3 + k) as u64))
        });
        let corr = correlation_unordered(&table, &[2, 0], &[1, 7]);
        assert_eq!(
            (corr.rows.clone(), corr.cols.clone()),
            (vec![2, 0], vec![1])
        );
        assert_eq!(corr.r.len(), 2);
        assert_eq!(corr.get(2, 0), (None, 0));
    }

    #[test]
    fn auc_of_a_perfect_separator_is_one() {
        let values = [
            Some(1.0),
            Some(2.0),
            None,
            Some(3.0),
            Some(10.0),
            Some(11.0),
        ];
        let outcome = [
            Some(false),
            Some(false),
            Some(true),
            Some(false),
            Some(true),
            None,
        ];
        assert_eq!(auc(&values, &outcome), Some(1.0));
        let reversed: Vec<Option<f64>> = values.iter().map(|v| v.map(|v| -v)).collect();
        assert_eq!(auc(&reversed, &outcome), Some(0.0));
        assert_eq!(auc(&values, &[Some(true); 6]), None);
    }

    #[test]
    fn nearest_returns_the_exact_duplicate_first_and_never_the_query() {
        let dir = tempfile::tempdir().unwrap();
        // Case 7 repeats case 2; case 4 misses a value; case 5 failed (written below).
        let value = |c: usize, k: usize| {
            let source = if c == 7 { 2 } else { c };
            if (c, k) == (4, 1) {
                String::new()
            } else {
                format!("{}", noise((source * 4 + k) as u64))
            }
        };
        let table = deep_table(dir.path(), 12, 4, value);
        let mut text = std::fs::read_to_string(&table.path).unwrap();
        text = text.replace(
            "img5.nii.gz,mask5.nii.gz,,",
            "img5.nii.gz,mask5.nii.gz,ROI empty,",
        );
        let table = FeatureTable::read(&write(dir.path(), "F.csv", &text)).unwrap();
        assert_eq!(table.cases[5].error.as_deref(), Some("ROI empty"));
        let query = case_features(&table, 2);
        assert_eq!(query.len(), 4);
        let found = nearest(&table, &query, 20, Some(2)).unwrap();
        assert_eq!(found[0].case, 7);
        assert!((found[0].similarity - 1.0).abs() < 1e-12, "{found:?}");
        let cases: Vec<usize> = found.iter().map(|n| n.case).collect();
        for never in [2, 4, 5] {
            assert!(!cases.contains(&never), "{cases:?}");
        }
        assert_eq!(found.len(), 12 - 3);
        assert!(found.windows(2).all(|w| w[0].similarity >= w[1].similarity));
        assert_eq!(nearest(&table, &query, 2, Some(2)).unwrap().len(), 2);
    }

    #[test]
    fn nearest_refuses_a_query_without_a_deep_feature_in_common() {
        let dir = tempfile::tempdir().unwrap();
        let table = deep_table(dir.path(), 5, 2, |c, k| {
            format!("{}", noise((c * 2 + k) as u64))
        });
        let message = nearest(&table, &[("deep_max_9".into(), 1.0)], 3, None)
            .unwrap_err()
            .to_string();
        assert!(message.contains("shares no deep feature"), "{message}");
    }

    #[test]
    fn read_sorts_columns_by_kind_and_resolves_paths_beside_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let header = [
            "Image",
            "Mask",
            "Label",
            "case_id",
            "present",
            "diameter_mm",
            "site",
            "malignant",
            "diagnostics_Case_Index",
            "diagnostics_Model_Hash",
            "diagnostics_error",
            "original_shape_VoxelVolume",
            "original_glcm_Contrast",
            "deep_mean_0",
            "deep_largest_max_3",
        ];
        let rows = [
            "ct/a,a.npy,1,p1,1,12.5,liver,true,0,abc,,100,0.5,1.25,nan",
            "ct/b,b.npy,,p2,0,,lung,FALSE,1,abc,,200,inf,2,3",
            "/data/c,c.npy,2,,1,7,,,2,abc,cannot read,,,,",
        ];
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r.split(',').map(str::to_owned).collect())
            .collect();
        let path = write(dir.path(), "F.csv", &csv(&header, &rows));
        let table = FeatureTable::read(&path).unwrap();
        let names = |indices: Vec<usize>| -> Vec<&str> {
            indices
                .iter()
                .map(|&i| table.columns[i].name.as_str())
                .collect()
        };
        assert_eq!(names(table.passthrough()), ["present", "diameter_mm"]);
        assert_eq!(
            names(table.handcrafted()),
            ["original_shape_VoxelVolume", "original_glcm_Contrast"]
        );
        assert_eq!(names(table.deep()), ["deep_mean_0", "deep_largest_max_3"]);
        assert_eq!(
            table.columns[table.handcrafted()[1]].kind,
            Kind::Handcrafted {
                class: "glcm".into()
            }
        );
        assert_eq!(
            table.column("original_glcm_Contrast").unwrap().values,
            [Some(0.5), None, None]
        );
        assert_eq!(
            table.column("diameter_mm").unwrap().values,
            [Some(12.5), None, Some(7.0)]
        );
        assert_eq!(table.outcomes, ["present", "malignant"]);
        assert_eq!(
            table.outcome("malignant").unwrap(),
            [Some(true), Some(false), None]
        );
        assert_eq!(table.model_hash.as_deref(), Some("abc"));
        let c = &table.cases;
        assert_eq!(
            (c[0].id.as_str(), c[1].id.as_str(), c[2].id.as_str()),
            ("p1", "p2", "/data/c")
        );
        assert_eq!(c[0].image, dir.path().join("ct/a"));
        assert_eq!(c[2].image, PathBuf::from("/data/c"));
        assert_eq!(
            (c[0].label, c[1].label, c[2].label),
            (Some(1), None, Some(2))
        );
        assert_eq!(c[2].error.as_deref(), Some("cannot read"));
        assert!(table.stability.is_none() && table.signatures.is_none());
        assert!(table.warnings.is_empty(), "{:?}", table.warnings);
        assert!(case_features(&table, 2).is_empty());
    }

    #[test]
    fn a_table_without_image_and_mask_is_refused_with_its_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "F.csv",
            "feature,value\noriginal_shape_Volume,3\n",
        );
        let message = FeatureTable::read(&path).unwrap_err().to_string();
        assert!(
            message.starts_with(
                "not a features CSV: it has no Image/Mask columns (it has feature, value)"
            ),
            "{message}"
        );
        assert!(message.ends_with("F.csv"), "{message}");
    }

    #[test]
    fn a_table_without_feature_columns_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "F.csv", "Image,Mask,diameter_mm\na,b,3\n");
        let message = FeatureTable::read(&path).unwrap_err().to_string();
        assert!(message.contains("no feature columns"), "{message}");
    }

    #[test]
    fn a_cohort_where_every_case_failed_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "F.csv",
            "Image,Mask,diagnostics_error\na,b,the ROI is empty\nc,d,cannot read c\n",
        );
        let message = FeatureTable::read(&path).unwrap_err().to_string();
        assert!(
            message.starts_with(
                "no feature columns: all 2 cases failed (the first: the ROI is empty)"
            ),
            "{message}"
        );
    }

    #[test]
    fn text_in_a_feature_cell_is_refused_naming_column_and_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "F.csv",
            "Image,Mask,note,deep_mean_0\na,b,fine,1\nc,d,odd,abc\n",
        );
        let message = FeatureTable::read(&path).unwrap_err().to_string();
        assert!(
            message.starts_with("column deep_mean_0 row 3: 'abc' is not a number"),
            "{message}"
        );
    }

    #[test]
    fn a_ragged_row_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "F.csv", "Image,Mask,deep_mean_0\na,b,1\nc,d\n");
        let message = FeatureTable::read(&path).unwrap_err().to_string();
        assert!(
            message.starts_with("row 3 has 2 cells, the header 3"),
            "{message}"
        );
    }

    #[test]
    fn an_outcome_that_is_not_binary_is_refused_with_a_bad_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "F.csv",
            "Image,Mask,diameter_mm,deep_mean_0\na,b,0,1\nc,d,2.5,2\ne,f,1,3\n",
        );
        let table = FeatureTable::read(&path).unwrap();
        assert!(table.outcomes.is_empty());
        let message = table.outcome("diameter_mm").unwrap_err().to_string();
        assert!(
            message.starts_with("outcome diameter_mm: row 3: '2.5' is not 0/1 or true/false"),
            "{message}"
        );
        assert!(table.outcome("deep_mean_0").is_err());
    }

    #[test]
    fn the_stability_table_beside_is_read_and_low_icc_is_unstable() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "F.csv",
            "Image,Mask,original_glszm_ZoneEntropy,deep_mean_0\na,b,1,2\nc,d,3,4\n",
        );
        write(
            dir.path(),
            "F.stability.csv",
            "feature,class,icc,ci_low,ci_high,n_cases,n_measurements,unstable\n\
             original_glszm_ZoneEntropy,glszm,0.62,0.41,0.8,20,6,true\n\
             deep_mean_0,deep,0.97,0.93,0.99,20,6,false\n\
             deep_max_0,deep,nan,nan,nan,20,6,true\n",
        );
        write(
            dir.path(),
            "F.signatures.csv",
            "signature,features,cases,positives,auc,ci_low,ci_high\ndeep,244,60,40,0.9880,0.9620,1.0000\n",
        );
        let table = FeatureTable::read(&path).unwrap();
        let zone = table.stability_of("original_glszm_ZoneEntropy").unwrap();
        assert_eq!(
            (zone.icc, zone.low, zone.high, zone.n_cases),
            (0.62, 0.41, 0.8, Some(20))
        );
        assert!(zone.unstable());
        assert!(!table.stability_of("deep_mean_0").unwrap().unstable());
        assert!(table.stability_of("deep_max_0").unwrap().unstable());
        assert!(table.stability_of("deep_mean_1").is_none());
        let signatures = table.signatures.unwrap();
        assert_eq!(
            (signatures[0].signature.as_str(), signatures[0].features),
            ("deep", 244)
        );
        assert!((signatures[0].auc - 0.988).abs() < 1e-12);
    }

    #[test]
    fn a_broken_stability_table_is_a_warning_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "F.csv", "Image,Mask,deep_mean_0\na,b,1\n");
        write(
            dir.path(),
            "F.stability.csv",
            "feature,icc\ndeep_mean_0,high\n",
        );
        let table = FeatureTable::read(&path).unwrap();
        assert!(table.stability.is_none());
        assert_eq!(table.warnings.len(), 1);
        assert!(
            table.warnings[0].contains("'high' is not a number"),
            "{:?}",
            table.warnings
        );
        assert!(
            table.warnings[0].ends_with("F.stability.csv"),
            "{:?}",
            table.warnings
        );
    }
}
