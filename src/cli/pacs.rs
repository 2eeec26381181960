//! `radlens pacs echo|find|get|store SERVER …`: the PACS from the command line. SERVER is a name
//! from the servers file (`pacs.toml` in radlens' data folder, or `RADLENS_PACS_CONFIG`) or an
//! address: DICOMweb
//! (`http(s)://[user:password@]host[:port]/…/dicom-web`, a bearer token from
//! `RADLENS_PACS_TOKEN`) or DIMSE (`dimse://AET@host:port`, radlens' AE title from `RADLENS_AET`,
//! default `RADLENS`). Errors are one line naming the server and the cause; passwords never
//! appear.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Result, bail};

use crate::pacs::{self, Query, Retrieve, Server, Servers};

#[derive(Debug, clap::Args)]
pub struct PacsArgs {
    #[command(subcommand)]
    pub action: PacsAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum PacsAction {
    /// Whether the server answers (C-ECHO, or a QIDO request).
    Echo { server: String },
    /// Studies matching the keys (or, with --study, that study's series).
    Find(FindArgs),
    /// Retrieve a study or one series into DIR, one `<SOPInstanceUID>.dcm` per instance.
    Get(GetArgs),
    /// Send DICOM files (folders are searched) to the server.
    Store {
        server: String,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
pub struct FindArgs {
    pub server: String,
    #[arg(long)]
    pub patient_id: Option<String>,
    /// Wildcards `*` and `?` allowed.
    #[arg(long)]
    pub patient_name: Option<String>,
    #[arg(long)]
    pub modality: Option<String>,
    /// `YYYYMMDD-YYYYMMDD` (either end may be left empty) or one date.
    #[arg(long)]
    pub date: Option<String>,
    #[arg(long)]
    pub accession: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// List this study's series instead.
    #[arg(long)]
    pub study: Option<String>,
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long)]
    pub offset: Option<usize>,
    /// The rows as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    pub server: String,
    #[arg(long)]
    pub study: String,
    #[arg(long)]
    pub series: Option<String>,
    #[arg(long)]
    pub out: PathBuf,
    /// DIMSE only: C-MOVE instead of C-GET, receiving on this port (the server must know radlens'
    /// AE title with this host and port).
    #[arg(long)]
    pub move_port: Option<u16>,
}

/// A configured server's name (`pacs.toml`, see `RADLENS_PACS_CONFIG`) or an address.
fn resolve(text: &str) -> Result<Server> {
    let servers = match Servers::default_path() {
        Some(path) => Servers::load(&path)?,
        None => Servers::default(),
    };
    Ok(servers.resolve(text)?)
}

pub fn run(args: &PacsArgs, out: &mut impl Write) -> Result<()> {
    match &args.action {
        PacsAction::Echo { server } => {
            let server = resolve(server)?;
            let started = Instant::now();
            pacs::connect(&server)?.echo()?;
            writeln!(
                out,
                "{} answers ({:.0} ms)",
                server.name(),
                started.elapsed().as_secs_f64() * 1e3
            )?;
        }
        PacsAction::Find(find) => run_find(find, out)?,
        PacsAction::Get(get) => {
            let server = resolve(&get.server)?;
            let client = pacs::connect(&server)?;
            let started = Instant::now();
            let never = AtomicBool::new(false);
            let what = Retrieve {
                study_instance_uid: get.study.clone(),
                series_instance_uid: get.series.clone(),
            };
            let progress = |n: usize| eprint!("\rradlens: {n} instance(s) received");
            let files = match (get.move_port, &server) {
                (Some(port), Server::Dimse { .. }) => pacs::dimse::Dimse::new(&server)
                    .retrieve_by_move(&what, &get.out, port, &progress, &never)?,
                (Some(_), _) => bail!("--move-port is for DIMSE servers (dimse://AET@host:port)"),
                (None, _) => client.retrieve(&what, &get.out, &progress, &never)?,
            };
            eprintln!();
            let bytes: u64 = files
                .iter()
                .filter_map(|f| std::fs::metadata(f).ok())
                .map(|m| m.len())
                .sum();
            let seconds = started.elapsed().as_secs_f64();
            writeln!(
                out,
                "retrieved {} instance(s), {:.1} MB in {seconds:.2} s ({:.1} MB/s) into {}",
                files.len(),
                bytes as f64 / 1e6,
                bytes as f64 / 1e6 / seconds.max(1e-9),
                get.out.display()
            )?;
        }
        PacsAction::Store { server, paths } => {
            let server = resolve(server)?;
            let mut files = Vec::new();
            for path in paths {
                if path.is_dir() {
                    for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
                        let entry = entry?;
                        if entry.file_type().is_file()
                            && crate::dicom::open(entry.path(), crate::dicom::ReadExtent::Header)
                                .is_ok()
                        {
                            files.push(entry.path().to_owned());
                        }
                    }
                } else {
                    files.push(path.clone());
                }
            }
            if files.is_empty() {
                bail!("no DICOM file to send in the paths given");
            }
            let outcomes = pacs::connect(&server)?.store(&files)?;
            let failed = outcomes.iter().filter(|o| o.outcome.is_err()).count();
            for o in &outcomes {
                match &o.outcome {
                    Ok(()) => {
                        writeln!(out, "stored {} ({})", o.sop_instance_uid, o.file.display())?;
                    }
                    Err(e) => writeln!(
                        out,
                        "FAILED {} ({}): {e}",
                        o.sop_instance_uid,
                        o.file.display()
                    )?,
                }
            }
            if failed > 0 {
                bail!(
                    "{}: {failed} of {} instance(s) not stored",
                    server.name(),
                    outcomes.len()
                );
            }
        }
    }
    Ok(())
}

fn run_find(find: &FindArgs, out: &mut impl Write) -> Result<()> {
    let server = resolve(&find.server)?;
    let client = pacs::connect(&server)?;
    if let Some(study) = &find.study {
        let series = client.find_series(study)?;
        if find.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&series)?)?;
        } else {
            for s in &series {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{} instance(s)\t{}",
                    s.series_instance_uid,
                    s.modality,
                    s.series_number.map_or_else(String::new, |n| n.to_string()),
                    s.instances
                        .map_or_else(|| "?".to_owned(), |n| n.to_string()),
                    s.series_description
                )?;
            }
        }
        return Ok(());
    }
    let query = Query {
        patient_id: find.patient_id.clone(),
        patient_name: find.patient_name.clone(),
        modality: find.modality.clone(),
        date: find.date.clone(),
        accession_number: find.accession.clone(),
        description: find.description.clone(),
        limit: find.limit,
        offset: find.offset,
    };
    let studies = client.find_studies(&query)?;
    if find.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&studies)?)?;
    } else {
        for s in &studies {
            writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}\t{} series\t{}",
                s.study_instance_uid,
                s.patient_id,
                s.patient_name,
                s.study_date,
                s.modalities.join("\\"),
                s.series.map_or_else(|| "?".to_owned(), |n| n.to_string()),
                s.study_description
            )?;
        }
    }
    Ok(())
}
