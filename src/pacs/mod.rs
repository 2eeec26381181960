//! PACS: find, retrieve and store studies on a DICOM server, over DICOMweb (QIDO-RS, WADO-RS,
//! STOW-RS; [`dicomweb`]) or DIMSE (C-ECHO, C-FIND, C-GET, C-MOVE, C-STORE with dicom-ul;
//! [`dimse`]).
//!
//! A [`Server`] is parsed from what the user types (`http(s)://[user:password@]host[:port]/…`,
//! `dimse://AET@host:port`); [`connect`] gives the [`Pacs`] that speaks its transport. Every
//! failure is one [`PacsError`] line naming the server (never its password) and the cause.
//! Retrieves write into a temporary folder beside the destination and move the files in only
//! when every instance arrived: an interrupted retrieve leaves nothing that looks complete.
//!
//! Dependency rule: `pacs/` uses [`crate::dicom`] (reading headers of what it stores and
//! receives) and [`crate::output`]; it knows nothing about the UI, models or exports.

pub mod dicomweb;
pub mod dimse;
pub mod multipart;
mod server;
pub mod store;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use server::{Auth, DEFAULT_AET, Server};
pub use store::{Cache, NamedServer, Servers};

/// A PACS failure: which server, and why (one line; credentials never appear).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PacsError {
    #[error("{server}: {cause}")]
    Failed { server: String, cause: String },
    #[error("{server}: cancelled")]
    Cancelled { server: String },
    #[error("not a PACS address ({reason}): {text}")]
    Address { reason: String, text: String },
    #[error("cannot write ({cause}): {}", path.display())]
    Write { cause: String, path: PathBuf },
}

/// How long radlens waits for a server's answer (each read, and each DIMSE or HTTP response):
/// `RADLENS_PACS_TIMEOUT` seconds, default 60. Connecting waits at most 10 s of it.
#[must_use]
pub fn timeout() -> Duration {
    std::env::var("RADLENS_PACS_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(Duration::from_mins(1), Duration::from_secs_f64)
}

/// Whether `error` (or what caused it) is a socket read that ran past [`timeout`].
pub(crate) fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            )
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The cause of a [`timed_out`] failure, as the user reads it.
pub(crate) fn timed_out_cause() -> String {
    format!(
        "timed out (no answer in {:.0} s; RADLENS_PACS_TIMEOUT sets it)",
        timeout().as_secs_f64()
    )
}

/// A study search. Empty fields do not constrain; `patient_name` may hold `*` and `?`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    pub patient_id: Option<String>,
    pub patient_name: Option<String>,
    pub modality: Option<String>,
    /// `YYYYMMDD-YYYYMMDD` (either end may be empty), or one date.
    pub date: Option<String>,
    pub accession_number: Option<String>,
    pub description: Option<String>,
    /// Paging (DICOMweb `limit`/`offset`; DIMSE truncates the answer).
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

/// A study found.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StudyRow {
    pub study_instance_uid: String,
    pub patient_id: String,
    pub patient_name: String,
    pub study_date: String,
    pub study_description: String,
    pub accession_number: String,
    pub modalities: Vec<String>,
    pub series: Option<u32>,
    pub instances: Option<u32>,
}

/// A series found.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SeriesRow {
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    pub modality: String,
    pub series_description: String,
    pub series_number: Option<i32>,
    pub instances: Option<u32>,
}

/// What became of one instance sent to the server.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Stored {
    pub file: PathBuf,
    pub sop_instance_uid: String,
    /// `Ok` or the server's reason.
    pub outcome: Result<(), String>,
}

/// What to retrieve: a study, or one of its series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retrieve {
    pub study_instance_uid: String,
    pub series_instance_uid: Option<String>,
}

/// A server, spoken to in its transport.
pub trait Pacs: Send {
    /// Whether the server answers (C-ECHO; for DICOMweb a QIDO request for nothing).
    fn echo(&self) -> Result<(), PacsError>;
    fn find_studies(&self, query: &Query) -> Result<Vec<StudyRow>, PacsError>;
    fn find_series(&self, study_instance_uid: &str) -> Result<Vec<SeriesRow>, PacsError>;
    /// Retrieves into `dir` (one `<SOPInstanceUID>.dcm` per instance, complete or absent);
    /// `progress` gets the instances received so far; `cancel` stops between chunks.
    fn retrieve(
        &self,
        what: &Retrieve,
        dir: &Path,
        progress: &dyn Fn(usize),
        cancel: &AtomicBool,
    ) -> Result<Vec<PathBuf>, PacsError>;
    /// Sends `files` (DICOM Part 10) and says per instance how it went; fails as a whole only
    /// when the server cannot be reached.
    fn store(&self, files: &[PathBuf]) -> Result<Vec<Stored>, PacsError>;
}

/// The client for `server`'s transport.
pub fn connect(server: &Server) -> Result<Box<dyn Pacs>, PacsError> {
    Ok(match server {
        Server::DicomWeb { .. } => Box::new(dicomweb::DicomWeb::new(server)?),
        Server::Dimse { .. } => Box::new(dimse::Dimse::new(server)),
    })
}

/// Moves the `received` files (in a staging folder) to `dir`, each named `<SOPInstanceUID>.dcm`
/// (read from its header), only once all arrived; none replaces an existing file.
pub(crate) fn publish(
    received: &[PathBuf],
    dir: &Path,
    server: &str,
) -> Result<Vec<PathBuf>, PacsError> {
    let failed = |cause: String| PacsError::Failed {
        server: server.to_owned(),
        cause,
    };
    let mut moves = Vec::with_capacity(received.len());
    for path in received {
        let header = crate::dicom::open(path, crate::dicom::ReadExtent::Header)
            .map_err(|e| failed(format!("received a file that is not DICOM ({e})")))?;
        let uid = Some(crate::dicom::text(
            &header,
            dicom_dictionary_std::tags::SOP_INSTANCE_UID,
        ))
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| failed("received an instance without a valid SOP Instance UID".into()))?;
        let target = dir.join(format!("{uid}.dcm"));
        if target.exists() {
            return Err(PacsError::Write {
                cause: "exists, left untouched".to_owned(),
                path: target,
            });
        }
        moves.push((path.clone(), target));
    }
    let mut done = Vec::with_capacity(moves.len());
    for (from, to) in moves {
        std::fs::rename(&from, &to).map_err(|e| PacsError::Write {
            cause: e.to_string(),
            path: to.clone(),
        })?;
        done.push(to);
    }
    Ok(done)
}

/// A temporary folder for a retrieve into `dir` (created if missing), removed with its content
/// when dropped.
pub(crate) fn staging_dir(dir: &Path) -> Result<tempfile::TempDir, PacsError> {
    std::fs::create_dir_all(dir).map_err(|e| PacsError::Write {
        cause: e.to_string(),
        path: dir.to_owned(),
    })?;
    tempfile::Builder::new()
        .prefix(".radlens-retrieve-")
        .tempdir_in(dir)
        .map_err(|e| PacsError::Write {
            cause: e.to_string(),
            path: dir.to_owned(),
        })
}
