//! DICOMweb (PS3.18): QIDO-RS searches, WADO-RS retrieves (multipart/related, streamed to disk)
//! and STOW-RS stores, over ureq (blocking, rustls). Basic auth from the URL or a bearer token,
//! a connect/read timeout, and up to three tries with backoff for the idempotent requests (GET)
//! when the server cannot be reached or answers 5xx.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use super::multipart::{self, PartSink};
use super::{Auth, Pacs, PacsError, Query, Retrieve, SeriesRow, Server, Stored, StudyRow};

const TRIES: u32 = 3;

/// A DICOMweb server.
pub struct DicomWeb {
    base: String,
    authorization: Option<String>,
    agent: ureq::Agent,
}

impl DicomWeb {
    pub fn new(server: &Server) -> Result<Self, PacsError> {
        let Server::DicomWeb { base, auth } = server else {
            return Err(PacsError::Address {
                reason: "not a DICOMweb server".to_owned(),
                text: server.name(),
            });
        };
        let authorization = match auth {
            Auth::None => None,
            Auth::Basic { user, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
            Auth::Bearer(token) => Some(format!("Bearer {token}")),
        };
        let wait = super::timeout();
        let mut config = ureq::Agent::config_builder()
            .timeout_connect(Some(wait.min(Duration::from_secs(10))))
            .timeout_recv_response(Some(wait))
            .timeout_per_read(Some(wait))
            .http_status_as_error(false);
        if let Some(roots) = trusted_roots(base)? {
            config = config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
                    .build(),
            );
        }
        let agent = config.build().into();
        Ok(Self {
            base: base.clone(),
            authorization,
            agent,
        })
    }

    fn failed(&self, cause: impl std::fmt::Display) -> PacsError {
        PacsError::Failed {
            server: self.base.clone(),
            cause: cause.to_string(),
        }
    }

    /// GET `path` (relative to the base) with `query` and `accept`, retried with backoff when
    /// the server cannot be reached or fails (5xx).
    fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        accept: &str,
    ) -> Result<ureq::http::Response<ureq::Body>, PacsError> {
        let url = format!("{}{path}", self.base);
        let mut last = None;
        for attempt in 0..TRIES {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(200 << attempt));
            }
            let mut request = self.agent.get(&url).header("Accept", accept);
            for (k, v) in query {
                request = request.query(k, v);
            }
            if let Some(auth) = &self.authorization {
                request = request.header("Authorization", auth);
            }
            match request.call() {
                Ok(response) if response.status().is_server_error() => {
                    last = Some(self.status_error(&response, &url));
                }
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => return Err(self.status_error(&response, &url)),
                Err(e) => last = Some(self.transport_error(&e)),
            }
        }
        Err(last.unwrap_or_else(|| self.failed("no answer")))
    }

    fn status_error(&self, response: &ureq::http::Response<ureq::Body>, url: &str) -> PacsError {
        let status = response.status();
        let what = match status.as_u16() {
            401 => "authentication failed (401): check the user and password or token".to_owned(),
            403 => "access denied (403)".to_owned(),
            404 => format!("not found (404): {}", url.trim_start_matches(&self.base)),
            code => format!(
                "HTTP {code} {}",
                status.canonical_reason().unwrap_or_default()
            ),
        };
        self.failed(what)
    }

    fn transport_error(&self, e: &ureq::Error) -> PacsError {
        let cause = match e {
            ureq::Error::Timeout(_) => super::timed_out_cause(),
            ureq::Error::HostNotFound => "host not found".to_owned(),
            ureq::Error::ConnectionFailed => "connection refused or failed".to_owned(),
            ureq::Error::Io(io) if io.kind() == io::ErrorKind::ConnectionRefused => {
                "connection refused (is the server running?)".to_owned()
            }
            other => other.to_string(),
        };
        self.failed(cause)
    }

    fn json(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<Value>, PacsError> {
        let mut response = self.get(path, query, "application/dicom+json")?;
        let text = response
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .map_err(|e| self.failed(format!("answer unreadable: {e}")))?;
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(items)) => Ok(items),
            Ok(_) => Err(self.failed("answer is not a DICOM JSON array")),
            Err(e) => Err(self.failed(format!("answer is not JSON: {e}"))),
        }
    }
}

/// The certificates of `RADLENS_PACS_CA` (a PEM file: a hospital's own CA, a self-signed
/// server), trusted instead of the public roots when it is set.
fn trusted_roots(server: &str) -> Result<Option<Vec<ureq::tls::Certificate<'static>>>, PacsError> {
    let Some(path) = std::env::var_os("RADLENS_PACS_CA").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = PathBuf::from(path);
    let failed = |cause: String| PacsError::Failed {
        server: server.to_owned(),
        cause,
    };
    let pem = std::fs::read(&path).map_err(|e| {
        failed(format!(
            "RADLENS_PACS_CA unreadable ({e}): {}",
            path.display()
        ))
    })?;
    let roots: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if roots.is_empty() {
        return Err(failed(format!(
            "RADLENS_PACS_CA holds no PEM certificate: {}",
            path.display()
        )));
    }
    Ok(Some(roots))
}

/// QIDO query parameters of a study search.
fn study_query(query: &Query) -> Vec<(&'static str, String)> {
    let mut q: Vec<(&'static str, String)> = [
        ("PatientID", &query.patient_id),
        ("PatientName", &query.patient_name),
        ("ModalitiesInStudy", &query.modality),
        ("StudyDate", &query.date),
        ("AccessionNumber", &query.accession_number),
        ("StudyDescription", &query.description),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().filter(|v| !v.is_empty()).map(|v| (k, v.clone())))
    .collect();
    for field in ["00081030", "00201206", "00201208", "00080061", "00080050"] {
        q.push(("includefield", field.to_owned()));
    }
    if let Some(limit) = query.limit {
        q.push(("limit", limit.to_string()));
    }
    if let Some(offset) = query.offset {
        q.push(("offset", offset.to_string()));
    }
    q
}

/// The values of DICOM JSON attribute `tag` (strings; PN as its alphabetic form).
fn values(item: &Value, tag: &str) -> Vec<String> {
    item.get(tag)
        .and_then(|a| a.get("Value"))
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    Value::Object(pn) => pn
                        .get("Alphabetic")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn first(item: &Value, tag: &str) -> String {
    values(item, tag).into_iter().next().unwrap_or_default()
}

fn number<T: std::str::FromStr>(item: &Value, tag: &str) -> Option<T> {
    first(item, tag).trim().parse().ok()
}

/// Writes each part of a WADO-RS answer to its own file in the staging folder.
struct Files<'a> {
    dir: &'a Path,
    current: Option<(PathBuf, std::fs::File)>,
    done: Vec<PathBuf>,
    progress: &'a dyn Fn(usize),
    cancel: &'a AtomicBool,
}

impl PartSink for Files<'_> {
    fn begin(&mut self, content_type: &str) -> io::Result<()> {
        if !content_type.is_empty() && !content_type.starts_with("application/dicom") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a part of type {content_type}, not application/dicom"),
            ));
        }
        let path = self.dir.join(format!("{:06}.part", self.done.len()));
        let file = std::fs::File::create(&path)?;
        self.current = Some((path, file));
        Ok(())
    }

    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
        }
        match &mut self.current {
            Some((_, file)) => file.write_all(data),
            None => Ok(()),
        }
    }

    fn end(&mut self) -> io::Result<()> {
        if let Some((path, file)) = self.current.take() {
            file.sync_all()?;
            self.done.push(path);
            (self.progress)(self.done.len());
        }
        Ok(())
    }
}

impl Pacs for DicomWeb {
    fn echo(&self) -> Result<(), PacsError> {
        self.json("/studies", &[("limit", "1".to_owned())])
            .map(|_| ())
    }

    fn find_studies(&self, query: &Query) -> Result<Vec<StudyRow>, PacsError> {
        let items = self.json("/studies", &study_query(query))?;
        Ok(items
            .iter()
            .map(|item| StudyRow {
                study_instance_uid: first(item, "0020000D"),
                patient_id: first(item, "00100020"),
                patient_name: first(item, "00100010"),
                study_date: first(item, "00080020"),
                study_description: first(item, "00081030"),
                accession_number: first(item, "00080050"),
                modalities: values(item, "00080061"),
                series: number(item, "00201206"),
                instances: number(item, "00201208"),
            })
            .collect())
    }

    fn find_series(&self, study_instance_uid: &str) -> Result<Vec<SeriesRow>, PacsError> {
        let query = [
            ("includefield", "0008103E".to_owned()),
            ("includefield", "00201209".to_owned()),
        ];
        let items = self.json(&format!("/studies/{study_instance_uid}/series"), &query)?;
        Ok(items
            .iter()
            .map(|item| SeriesRow {
                study_instance_uid: study_instance_uid.to_owned(),
                series_instance_uid: first(item, "0020000E"),
                modality: first(item, "00080060"),
                series_description: first(item, "0008103E"),
                series_number: number(item, "00200011"),
                instances: number(item, "00201209"),
            })
            .collect())
    }

    fn retrieve(
        &self,
        what: &Retrieve,
        dir: &Path,
        progress: &dyn Fn(usize),
        cancel: &AtomicBool,
    ) -> Result<Vec<PathBuf>, PacsError> {
        let path = match &what.series_instance_uid {
            Some(series) => format!("/studies/{}/series/{series}", what.study_instance_uid),
            None => format!("/studies/{}", what.study_instance_uid),
        };
        let response = self.get(&path, &[], r#"multipart/related; type="application/dicom""#)?;
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let boundary = multipart::boundary(&content_type).ok_or_else(|| {
            self.failed(format!(
                "not a multipart answer (Content-Type {content_type})"
            ))
        })?;
        let staging = super::staging_dir(dir)?;
        let mut files = Files {
            dir: staging.path(),
            current: None,
            done: Vec::new(),
            progress,
            cancel,
        };
        let body = response.into_body().into_reader();
        match multipart::split(body, &boundary, &mut files) {
            Ok(_) => {}
            Err(_) if cancel.load(Ordering::Relaxed) => {
                return Err(PacsError::Cancelled {
                    server: self.base.clone(),
                });
            }
            Err(e) => return Err(self.failed(format!("retrieve broken off ({e})"))),
        }
        if files.done.is_empty() {
            return Err(self.failed("the retrieve returned no instance"));
        }
        let received = std::mem::take(&mut files.done);
        super::publish(&received, dir, &self.base)
    }

    fn store(&self, files: &[PathBuf]) -> Result<Vec<Stored>, PacsError> {
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|e| self.failed(format!("no randomness: {e}")))?;
        let boundary = format!("radlens-{:032x}", u128::from_le_bytes(random));
        let mut uids = Vec::with_capacity(files.len());
        for path in files {
            let header = crate::dicom::open(path, crate::dicom::ReadExtent::Header)
                .map_err(|e| self.failed(e))?;
            uids.push(crate::dicom::text(
                &header,
                dicom_dictionary_std::tags::SOP_INSTANCE_UID,
            ));
        }
        // The body is streamed file by file (a study need not fit in memory).
        let body = multipart::Body::new(files.to_vec(), &boundary);
        let mut request = self
            .agent
            .post(format!("{}/studies", self.base))
            .header("Accept", "application/dicom+json")
            .content_type(format!(
                r#"multipart/related; type="application/dicom"; boundary={boundary}"#
            ));
        if let Some(auth) = &self.authorization {
            request = request.header("Authorization", auth);
        }
        let mut response = request
            .send(ureq::SendBody::from_owned_reader(body))
            .map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        if !status.is_success() && status.as_u16() != 202 && status.as_u16() != 409 {
            return Err(self.status_error(&response, &format!("{}/studies", self.base)));
        }
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let stored: Vec<String> = answer
            .get("00081199")
            .and_then(|s| s.get("Value"))
            .and_then(Value::as_array)
            .map(|items| items.iter().map(|i| first(i, "00081155")).collect())
            .unwrap_or_default();
        let failures: Vec<(String, String)> = answer
            .get("00081198")
            .and_then(|s| s.get("Value"))
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(|i| (first(i, "00081155"), first(i, "00081197")))
                    .collect()
            })
            .unwrap_or_default();
        Ok(files
            .iter()
            .zip(uids)
            .map(|(file, uid)| {
                let outcome = if stored.contains(&uid) {
                    Ok(())
                } else if let Some((_, reason)) = failures.iter().find(|(u, _)| *u == uid) {
                    Err(format!("refused (failure reason {reason})"))
                } else if status.is_success() && failures.is_empty() && stored.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "not in the server's answer (HTTP {})",
                        status.as_u16()
                    ))
                };
                Stored {
                    file: file.clone(),
                    sop_instance_uid: uid,
                    outcome,
                }
            })
            .collect())
    }
}
