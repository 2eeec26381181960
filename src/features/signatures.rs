//! What deep features add: the cross-validated AUC of three signatures (handcrafted only, deep
//! only, both) for a binary outcome of a features table. Stratified 5-fold cross-validation,
//! features standardised inside each training fold, L2-regularised logistic regression
//! (`linfa-logistic`), AUC of the pooled out-of-fold predictions with a bootstrap 95 % interval.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray16::{Array1, Array2};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::cohort::Table;

/// Folds of the cross-validation.
pub const FOLDS: usize = 5;
/// Bootstrap resamples of the AUC interval.
pub const BOOTSTRAP: usize = 1000;
/// L2 penalty of the logistic regression (on standardised features).
pub const ALPHA: f64 = 1.0;

/// The seed of the folds and the bootstrap of `radlens features --outcome` (and of the viewer's
/// phantom cohort): the same table gives the same AUCs.
pub const SEED: u64 = 20_261_202;

/// The three signatures of the features table `out` for `outcome`, written to
/// `F.signatures.csv` beside it (atomically, under `policy`).
pub fn write_beside(
    out: &std::path::Path,
    outcome: &str,
    policy: &crate::output::WritePolicy,
) -> anyhow::Result<Vec<SignatureAuc>> {
    use anyhow::Context;
    let table = Table::read(out)?;
    let results = signature_aucs(&table, outcome, SEED)
        .with_context(|| format!("--outcome {outcome}: {}", out.display()))?;
    as_table(&results).write(&super::cohort::derived_path(out, "signatures"), policy)?;
    Ok(results)
}

/// One signature's result.
#[derive(Clone, Debug, PartialEq)]
pub struct SignatureAuc {
    /// `handcrafted`, `deep` or `both`.
    pub signature: &'static str,
    /// Feature columns used (finite in every case, not constant).
    pub features: usize,
    pub cases: usize,
    pub positives: usize,
    pub auc: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// Why the signatures cannot be computed (one line).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SignatureError(String);

/// The AUCs of the signatures that have columns in `table`, for outcome column `outcome` (two
/// distinct values; the larger one, in numeric order when both are numbers, is the positive
/// class). Failed rows (non-empty `diagnostics_error`) and rows without an outcome are left out.
pub fn signature_aucs(
    table: &Table,
    outcome: &str,
    seed: u64,
) -> Result<Vec<SignatureAuc>, SignatureError> {
    let column = |name: &str| table.header.iter().position(|h| h == name);
    let outcome_col = column(outcome).ok_or_else(|| {
        SignatureError(format!(
            "no outcome column {outcome:?} in the features table"
        ))
    })?;
    let error_col = column(super::ERROR_COLUMN);
    let rows: Vec<&Vec<String>> = table
        .rows
        .iter()
        .filter(|r| error_col.is_none_or(|c| r[c].is_empty()))
        .filter(|r| !r[outcome_col].trim().is_empty())
        .collect();
    let labels = binary_labels(rows.iter().map(|r| r[outcome_col].trim()), outcome)?;
    let positives = labels.iter().filter(|&&l| l).count();
    if positives < FOLDS || labels.len() - positives < FOLDS {
        return Err(SignatureError(format!(
            "outcome {outcome:?} needs at least {FOLDS} cases of each class for {FOLDS}-fold \
             cross-validation ({positives} positive, {} negative)",
            labels.len() - positives
        )));
    }
    let pick = |prefix: &str| -> Vec<usize> {
        table
            .header
            .iter()
            .enumerate()
            .filter(|(_, h)| h.starts_with(prefix))
            .map(|(i, _)| i)
            .collect()
    };
    let handcrafted = pick("original_");
    let deep = pick("deep_");
    // "both" only when there are two kinds to combine.
    let both: Vec<usize> = if handcrafted.is_empty() || deep.is_empty() {
        Vec::new()
    } else {
        handcrafted.iter().chain(&deep).copied().collect()
    };
    let mut results = Vec::new();
    for (signature, columns) in [("handcrafted", handcrafted), ("deep", deep), ("both", both)] {
        let matrix = usable_columns(&rows, &columns);
        if matrix.is_empty() {
            continue;
        }
        let scores = out_of_fold_scores(&matrix, &labels, seed)?;
        let auc = auc(&scores, &labels);
        let (ci_low, ci_high) = bootstrap_interval(&scores, &labels, seed);
        results.push(SignatureAuc {
            signature,
            features: matrix.len(),
            cases: labels.len(),
            positives,
            auc,
            ci_low,
            ci_high,
        });
    }
    if results.is_empty() {
        return Err(SignatureError(
            "the table has no feature columns (original_* or deep_*)".into(),
        ));
    }
    Ok(results)
}

/// Outcome cells as booleans: exactly two distinct values, the larger positive.
fn binary_labels<'a>(
    cells: impl Iterator<Item = &'a str>,
    outcome: &str,
) -> Result<Vec<bool>, SignatureError> {
    let cells: Vec<&str> = cells.collect();
    let mut distinct: Vec<&str> = cells.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != 2 {
        return Err(SignatureError(format!(
            "outcome {outcome:?} must have two values, it has {} ({})",
            distinct.len(),
            distinct
                .iter()
                .take(5)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let positive = match (distinct[0].parse::<f64>(), distinct[1].parse::<f64>()) {
        (Ok(a), Ok(b)) if a > b => distinct[0],
        _ => distinct[1],
    };
    Ok(cells.iter().map(|&c| c == positive).collect())
}

/// The columns (as per-case values) that are finite everywhere and not constant.
fn usable_columns(rows: &[&Vec<String>], columns: &[usize]) -> Vec<Vec<f64>> {
    columns
        .iter()
        .filter_map(|&c| {
            let values: Option<Vec<f64>> = rows
                .iter()
                .map(|r| r[c].parse::<f64>().ok().filter(|v| v.is_finite()))
                .collect();
            let values = values?;
            let first = values[0];
            values
                .iter()
                .any(|&v| (v - first).abs() > 0.0)
                .then_some(values)
        })
        .collect()
}

/// Stratified folds: each class shuffled (seeded) and dealt round-robin.
fn folds(labels: &[bool], seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut fold = vec![0; labels.len()];
    for class in [false, true] {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        members.shuffle(&mut rng);
        for (k, i) in members.into_iter().enumerate() {
            fold[i] = k % FOLDS;
        }
    }
    fold
}

/// Out-of-fold predicted probabilities of the positive class.
fn out_of_fold_scores(
    columns: &[Vec<f64>],
    labels: &[bool],
    seed: u64,
) -> Result<Vec<f64>, SignatureError> {
    let n = labels.len();
    let fold = folds(labels, seed);
    let mut scores = vec![0.0; n];
    for k in 0..FOLDS {
        let train: Vec<usize> = (0..n).filter(|&i| fold[i] != k).collect();
        let test: Vec<usize> = (0..n).filter(|&i| fold[i] == k).collect();
        // Standardise with the training fold's mean and SD only.
        let stats: Vec<(f64, f64)> = columns
            .iter()
            .map(|values| {
                let m = train.iter().map(|&i| values[i]).sum::<f64>() / train.len() as f64;
                let var = train.iter().map(|&i| (values[i] - m).powi(2)).sum::<f64>()
                    / train.len() as f64;
                (m, if var > 0.0 { var.sqrt() } else { 1.0 })
            })
            .collect();
        let matrix = |cases: &[usize]| {
            Array2::from_shape_fn((cases.len(), columns.len()), |(r, c)| {
                (columns[c][cases[r]] - stats[c].0) / stats[c].1
            })
        };
        let targets: Array1<usize> = train.iter().map(|&i| usize::from(labels[i])).collect();
        let dataset = Dataset::new(matrix(&train), targets);
        let model = LogisticRegression::default()
            .alpha(ALPHA)
            .max_iterations(500)
            .fit(&dataset)
            .map_err(|e| SignatureError(format!("logistic regression failed: {e}")))?;
        let probabilities = model.predict_probabilities(&matrix(&test));
        for (&i, &p) in test.iter().zip(probabilities.iter()) {
            scores[i] = p;
        }
    }
    Ok(scores)
}

/// Area under the ROC curve: the probability that a positive scores above a negative (ties
/// count half), i.e. the Mann–Whitney U statistic over the pair count.
#[must_use]
pub fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    let positives: Vec<f64> = scores
        .iter()
        .zip(labels)
        .filter_map(|(&s, &l)| l.then_some(s))
        .collect();
    let negatives: Vec<f64> = scores
        .iter()
        .zip(labels)
        .filter_map(|(&s, &l)| (!l).then_some(s))
        .collect();
    if positives.is_empty() || negatives.is_empty() {
        return f64::NAN;
    }
    let mut wins = 0.0;
    for &p in &positives {
        for &q in &negatives {
            wins += if p > q {
                1.0
            } else if (p - q).abs() <= 0.0 {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (positives.len() * negatives.len()) as f64
}

/// Percentile 95 % interval of the AUC over bootstrap resamples of the cases (resamples with one
/// class only are drawn again).
fn bootstrap_interval(scores: &[f64], labels: &[bool], seed: u64) -> (f64, f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_B007);
    let n = scores.len();
    let mut aucs = Vec::with_capacity(BOOTSTRAP);
    while aucs.len() < BOOTSTRAP {
        let picks: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
        let s: Vec<f64> = picks.iter().map(|&i| scores[i]).collect();
        let l: Vec<bool> = picks.iter().map(|&i| labels[i]).collect();
        let value = auc(&s, &l);
        if value.is_finite() {
            aucs.push(value);
        }
    }
    aucs.sort_by(f64::total_cmp);
    let at = |q: f64| aucs[((q * (BOOTSTRAP - 1) as f64).round() as usize).min(BOOTSTRAP - 1)];
    (at(0.025), at(0.975))
}

/// The results as CSV rows (`signature,features,cases,positives,auc,ci_low,ci_high`).
#[must_use]
pub fn as_table(results: &[SignatureAuc]) -> Table {
    Table {
        header: [
            "signature",
            "features",
            "cases",
            "positives",
            "auc",
            "ci_low",
            "ci_high",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: results
            .iter()
            .map(|r| {
                vec![
                    r.signature.to_owned(),
                    r.features.to_string(),
                    r.cases.to_string(),
                    r.positives.to_string(),
                    format!("{:.4}", r.auc),
                    format!("{:.4}", r.ci_low),
                    format!("{:.4}", r.ci_high),
                ]
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_is_the_share_of_correctly_ordered_pairs() {
        // positives 0.9, 0.4; negatives 0.5, 0.1: pairs (0.9>0.5, 0.9>0.1, 0.4<0.5, 0.4>0.1) = 3/4
        let auc = auc(&[0.9, 0.4, 0.5, 0.1], &[true, true, false, false]);
        assert!((auc - 0.75).abs() < 1e-12);
        // a tie counts half
        assert!((super::auc(&[0.5, 0.5], &[true, false]) - 0.5).abs() < 1e-12);
    }

    fn table(rows: &[(f64, f64, &str)]) -> Table {
        Table {
            header: ["case", "original_a", "deep_b", "y", "diagnostics_error"]
                .map(str::to_owned)
                .to_vec(),
            rows: rows
                .iter()
                .enumerate()
                .map(|(i, (a, b, y))| {
                    vec![
                        i.to_string(),
                        a.to_string(),
                        b.to_string(),
                        (*y).to_owned(),
                        String::new(),
                    ]
                })
                .collect(),
        }
    }

    #[test]
    fn a_separating_feature_scores_high_and_noise_near_half() {
        // original_a separates the classes perfectly; deep_b is unrelated to them.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let rows: Vec<(f64, f64, &str)> = (0..60)
            .map(|i| {
                let positive = i % 2 == 0;
                let a = if positive { 10.0 } else { 0.0 } + rng.random_range(0.0..1.0);
                (
                    a,
                    rng.random_range(0.0..1.0),
                    if positive { "1" } else { "0" },
                )
            })
            .collect();
        let results = signature_aucs(&table(&rows), "y", 7).unwrap();
        let by = |name: &str| results.iter().find(|r| r.signature == name).unwrap();
        assert!(by("handcrafted").auc > 0.99, "{results:?}");
        assert!((by("deep").auc - 0.5).abs() < 0.25, "{results:?}");
        assert!(by("both").auc > 0.9, "{results:?}");
        let h = by("handcrafted");
        assert!(h.ci_low <= h.auc && h.auc <= h.ci_high);
        assert_eq!((h.cases, h.positives, h.features), (60, 30, 1));
    }

    #[test]
    fn outcomes_that_cannot_be_cross_validated_are_refused() {
        let three: Vec<(f64, f64, &str)> = (0..30)
            .map(|i| (f64::from(i), 0.0, ["a", "b", "c"][i as usize % 3]))
            .collect();
        let message = signature_aucs(&table(&three), "y", 1)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("must have two values, it has 3"),
            "{message}"
        );
        let few: Vec<(f64, f64, &str)> = (0..12)
            .map(|i| (f64::from(i), 0.0, if i < 3 { "1" } else { "0" }))
            .collect();
        let message = signature_aucs(&table(&few), "y", 1)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("at least 5 cases of each class"),
            "{message}"
        );
        let message = signature_aucs(&table(&few), "nope", 1)
            .unwrap_err()
            .to_string();
        assert!(message.contains("no outcome column"), "{message}");
    }
}
