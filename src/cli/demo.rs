//! `radlens demo`: demonstration data made from the shared real slices.
//!
//! ```text
//! radlens demo cohort --out DIR [--cases N] [--seed S] [--data ../shared/data] [--force]
//! ```
//! `cohort` writes a phantom cohort ([`crate::phantom`]): one DICOM study and `.npy` mask per
//! case and `DIR/cases.csv` (PyRadiomics' batch format plus the ground truth), ready for
//! `radlens features --cohort DIR/cases.csv`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;

use crate::phantom::{self, CohortOptions};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    #[command(subcommand)]
    pub action: DemoAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum DemoAction {
    /// A reproducible phantom cohort: real CT slices with synthetic lesions of known diameter,
    /// contrast, texture grain and necrosis (a third of the cases without), as DICOM + masks +
    /// cases.csv.
    Cohort(CohortArgs),
}

#[derive(Debug, clap::Args)]
pub struct CohortArgs {
    /// Folder to write (created; refused when not empty, unless --force).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of cases.
    #[arg(long, default_value_t = phantom::DEFAULT_CASES as u32,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub cases: u32,
    /// Seed: the same seed and --cases give byte-identical files.
    #[arg(long, default_value_t = phantom::DEFAULT_SEED)]
    pub seed: u64,
    /// radlens' shared real data (the source CT slices).
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// Write into a non-empty folder, replacing files of the same names (others are left).
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: &DemoArgs) -> Result<()> {
    match &args.action {
        DemoAction::Cohort(cohort) => run_cohort(cohort),
    }
}

fn run_cohort(args: &CohortArgs) -> Result<()> {
    let started = Instant::now();
    let options = CohortOptions {
        cases: args.cases as usize,
        seed: args.seed,
        force: args.force,
    };
    let progress = |line: &str| eprintln!("{line}");
    let cases = phantom::generate(&args.data, &args.out, &options, &progress)?;
    let lesions = cases.iter().filter(|c| c.planned.present).count();
    eprintln!(
        "{} cases ({lesions} with a lesion) in {:.1} s: {}",
        cases.len(),
        started.elapsed().as_secs_f64(),
        args.out.join("cases.csv").display()
    );
    Ok(())
}
