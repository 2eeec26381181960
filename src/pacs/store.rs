//! Where the PACS side keeps things on this machine: the configured servers (`pacs.toml`, a file
//! only its owner can read, since addresses may carry a password) and the retrieve cache (one
//! folder per series, complete or absent, the least recently opened dropped first when the cache
//! outgrows its cap). The cache touches nothing outside its own folder.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::{Pacs, PacsError, Retrieve, Server};
use crate::output::data_dir;

/// A server the user named.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NamedServer {
    pub name: String,
    /// As [`Server::parse`] reads it (may hold `user:password@`).
    pub address: String,
}

/// The configured servers, and radlens' own AE title for DIMSE (else `RADLENS_AET`, else
/// `RADLENS`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Servers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calling_aet: Option<String>,
    #[serde(default)]
    pub servers: Vec<NamedServer>,
}

impl Servers {
    /// `$RADLENS_PACS_CONFIG`, else `pacs.toml` in radlens' data folder.
    #[must_use]
    pub fn default_path() -> Option<PathBuf> {
        std::env::var_os("RADLENS_PACS_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| data_dir("pacs.toml"))
    }

    /// The servers in `path` (none when it does not exist).
    pub fn load(path: &Path) -> Result<Self, PacsError> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| PacsError::Write {
                cause: format!("not a radlens PACS list: {}", e.message()),
                path: path.to_owned(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(PacsError::Write {
                cause: format!("cannot read: {e}"),
                path: path.to_owned(),
            }),
        }
    }

    /// Writes the list atomically, readable by its owner only.
    pub fn save(&self, path: &Path) -> Result<(), PacsError> {
        let text = toml::to_string_pretty(self).map_err(|e| PacsError::Write {
            cause: e.to_string(),
            path: path.to_owned(),
        })?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| PacsError::Write {
                cause: e.to_string(),
                path: dir.to_owned(),
            })?;
        }
        // A temporary file is created 0600 in the same folder and renamed over the list: the
        // secret is never readable by others, and a crash leaves the old list whole.
        let write = || -> std::io::Result<()> {
            let dir = path.parent().unwrap_or_else(|| Path::new("."));
            let mut temp = tempfile::Builder::new().prefix(".pacs-").tempfile_in(dir)?;
            std::io::Write::write_all(&mut temp, text.as_bytes())?;
            temp.as_file().sync_all()?;
            temp.persist(path).map_err(|e| e.error)?;
            Ok(())
        };
        write().map_err(|e| PacsError::Write {
            cause: e.to_string(),
            path: path.to_owned(),
        })
    }

    /// `text` as a server: a configured name, else an address; DIMSE servers call with the
    /// configured AE title when there is one.
    pub fn resolve(&self, text: &str) -> Result<Server, PacsError> {
        let mut server = match self.servers.iter().find(|s| s.name == text) {
            Some(named) => Server::parse(&named.address)?,
            None => Server::parse(text)?,
        };
        if let (Server::Dimse { calling_aet, .. }, Some(aet)) = (&mut server, &self.calling_aet)
            && !aet.is_empty()
            && aet.len() <= 16
        {
            calling_aet.clone_from(aet);
        }
        Ok(server)
    }
}

/// The retrieve cache: `root/<server>/<study>/<series>/`, a series complete or absent.
#[derive(Clone, Debug)]
pub struct Cache {
    pub root: PathBuf,
    /// Bytes kept at most; the least recently used series go first.
    pub cap_bytes: u64,
}

/// What a cache folder is named after: letters, digits, dots and dashes only.
fn folder_name(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Cache {
    /// `$RADLENS_PACS_CACHE`, else `pacs-cache` in radlens' data folder; capped at
    /// `$RADLENS_PACS_CACHE_GB` gigabytes (default 20).
    #[must_use]
    pub fn default_location() -> Option<Self> {
        let root = std::env::var_os("RADLENS_PACS_CACHE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| data_dir("pacs-cache"))?;
        let gigabytes = std::env::var("RADLENS_PACS_CACHE_GB")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|g| g.is_finite() && *g > 0.0)
            .unwrap_or(20.0);
        Some(Self {
            root,
            cap_bytes: (gigabytes * 1e9) as u64,
        })
    }

    /// The folder of a series of `server`.
    #[must_use]
    pub fn series_dir(&self, server: &Server, study: &str, series: &str) -> PathBuf {
        self.root
            .join(folder_name(&server.name()))
            .join(folder_name(study))
            .join(folder_name(series))
    }

    /// The cached series' files, if it is in the cache (marks it as used).
    #[must_use]
    pub fn cached(&self, server: &Server, study: &str, series: &str) -> Option<Vec<PathBuf>> {
        let dir = self.series_dir(server, study, series);
        let files = dicom_files(&dir);
        if files.is_empty() {
            return None;
        }
        touch(&dir);
        Some(files)
    }

    /// The series from the cache, or retrieved into it (complete or not at all), then the cache
    /// trimmed to its cap (never the series just fetched).
    pub fn fetch(
        &self,
        client: &dyn Pacs,
        server: &Server,
        study: &str,
        series: &str,
        progress: &dyn Fn(usize),
        cancel: &AtomicBool,
    ) -> Result<Vec<PathBuf>, PacsError> {
        if let Some(files) = self.cached(server, study, series) {
            return Ok(files);
        }
        let dir = self.series_dir(server, study, series);
        let files = client.retrieve(
            &Retrieve {
                study_instance_uid: study.to_owned(),
                series_instance_uid: Some(series.to_owned()),
            },
            &dir,
            progress,
            cancel,
        )?;
        touch(&dir);
        self.trim(&dir);
        Ok(files)
    }

    /// Drops the least recently used series until the cache fits its cap; `keep` stays.
    pub fn trim(&self, keep: &Path) {
        let mut series: Vec<(std::time::SystemTime, u64, PathBuf)> = Vec::new();
        for entry in walkdir::WalkDir::new(&self.root)
            .min_depth(3)
            .max_depth(3)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_dir())
        {
            let size: u64 = walkdir::WalkDir::new(entry.path())
                .into_iter()
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len())
                .sum();
            let used = std::fs::metadata(entry.path().join(".used"))
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            series.push((used, size, entry.path().to_owned()));
        }
        let mut total: u64 = series.iter().map(|(_, s, _)| s).sum();
        series.sort();
        for (_, size, dir) in series {
            if total <= self.cap_bytes {
                break;
            }
            if dir == keep || !dir.starts_with(&self.root) {
                continue;
            }
            if std::fs::remove_dir_all(&dir).is_ok() {
                total = total.saturating_sub(size);
            }
        }
    }
}

fn dicom_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Marks a cached series as just used.
fn touch(dir: &Path) {
    let _ = std::fs::write(dir.join(".used"), b"");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_series_goes_first_and_nothing_outside_the_cache() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep.dcm"), vec![0u8; 5000]).unwrap();
        let cache = Cache {
            root: root.path().to_owned(),
            cap_bytes: 2500,
        };
        let server = Server::parse("dimse://A@h:1").unwrap();
        let mut dirs = Vec::new();
        for (i, series) in ["s1", "s2", "s3"].into_iter().enumerate() {
            let dir = cache.series_dir(&server, "st", series);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("x.dcm"), vec![i as u8; 1000]).unwrap();
            touch(&dir);
            std::thread::sleep(std::time::Duration::from_millis(20));
            dirs.push(dir);
        }
        // s1 is used again: s2 is now the oldest.
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(cache.cached(&server, "st", "s1").is_some());
        cache.trim(&dirs[2]);
        assert!(dirs[0].exists() && dirs[2].exists());
        assert!(
            !dirs[1].exists(),
            "the least recently used series is dropped"
        );
        assert!(outside.path().join("keep.dcm").exists());
    }

    #[test]
    fn named_servers_resolve_and_the_list_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pacs.toml");
        let servers = Servers {
            calling_aet: Some("WORKSTATION1".into()),
            servers: vec![NamedServer {
                name: "orthanc".into(),
                address: "http://u:pw@127.0.0.1:8042/dicom-web".into(),
            }],
        };
        servers.save(&path).unwrap();
        assert_eq!(Servers::load(&path).unwrap(), servers);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
        }
        assert_eq!(
            servers.resolve("orthanc").unwrap().name(),
            "http://127.0.0.1:8042/dicom-web"
        );
        let Server::Dimse { calling_aet, .. } = servers.resolve("dimse://X@h:1").unwrap() else {
            panic!("a DIMSE address");
        };
        assert_eq!(calling_aet, "WORKSTATION1");
        assert!(
            Servers::load(&dir.path().join("none.toml"))
                .unwrap()
                .servers
                .is_empty()
        );
    }
}
