//! Writing outputs without losing anything: the one place every file radlens writes goes through
//! (exports, sidecars, `.npy` volumes and heatmaps, overlays, review files).
//!
//! - **Sources are sacred.** A [`WritePolicy`] holds the files this command read or will read
//!   (every slice of every input series, masks, the model and its companions); no output may be
//!   one of them, compared after resolving `..`, `.` and symlinks (and, on Unix, by device and
//!   inode, so a hard link is caught too). Overwriting an existing output never overrides that.
//! - **Writes are atomic.** Data goes to a temporary file in the destination folder, is flushed and
//!   synced, then renamed into place: an interrupted write leaves the old file (or nothing).
//!   Without `overwrite` the rename itself refuses an existing file, so one appearing meanwhile is
//!   safe too.
//! - **Outputs get the user's mode.** The temporary file is created with mode 0666 minus the umask
//!   (as `open(2)` would create the output), not the 0600 of a private temporary file.
//!
//! Dependency rule: std, `tempfile` and `sha2` only; every other module may use this one.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// Why an output was not written; messages end with the path concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    #[error("output exists and was left untouched: {}", path.display())]
    Exists { path: PathBuf },
    #[error("refusing to overwrite a source file (one this command reads): {}", path.display())]
    WouldOverwriteSource { path: PathBuf },
    #[error("cannot write output ({source}): {}", path.display())]
    Write {
        source: std::io::Error,
        path: PathBuf,
    },
}

/// How a write treats what is already on disk.
#[derive(Clone, Debug, Default)]
pub struct WritePolicy {
    /// Replace an existing output (never a protected file).
    pub overwrite: bool,
    /// Protected files, resolved ([`resolve`]).
    protected: HashSet<PathBuf>,
    /// (device, inode) of the protected files that exist (Unix).
    identities: HashSet<(u64, u64)>,
}

impl WritePolicy {
    /// Refuses to overwrite anything; protects `sources`.
    #[must_use]
    pub fn protecting(sources: impl IntoIterator<Item = PathBuf>) -> Self {
        let mut policy = Self::default();
        policy.protect(sources);
        policy
    }

    /// Also replaces existing outputs (protected files stay protected).
    #[must_use]
    pub fn with_overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// Adds `sources` to the protected files. A folder protects nothing by itself: name the
    /// files read from it.
    pub fn protect(&mut self, sources: impl IntoIterator<Item = PathBuf>) {
        for source in sources {
            if let Some(id) = identity(&source) {
                self.identities.insert(id);
            }
            self.protected.insert(resolve(&source));
        }
    }

    /// Whether `path` is (resolves to, or is a hard link of) a protected file.
    #[must_use]
    pub fn is_protected(&self, path: &Path) -> bool {
        self.protected.contains(&resolve(path))
            || identity(path).is_some_and(|id| self.identities.contains(&id))
    }

    /// Fails early when `path` may not be written: a protected file, or an existing file when
    /// overwriting is off. (The final rename checks again, atomically.)
    pub fn check(&self, path: &Path) -> Result<(), OutputError> {
        if self.is_protected(path) {
            return Err(OutputError::WouldOverwriteSource {
                path: path.to_owned(),
            });
        }
        if !self.overwrite && std::fs::symlink_metadata(path).is_ok() {
            return Err(OutputError::Exists {
                path: path.to_owned(),
            });
        }
        Ok(())
    }
}

/// radlens' folder `name` in the user's data folder (`$XDG_DATA_HOME/radlens/name`, else
/// `~/.local/share/radlens/name`; `~/Library/Application Support/radlens/name` on macOS,
/// `%APPDATA%\\radlens\\name` on Windows); `None` without a home.
#[must_use]
pub fn data_dir(name: &str) -> Option<PathBuf> {
    let var = |key: &str| {
        std::env::var_os(key)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let data = if cfg!(windows) {
        var("APPDATA")
    } else if cfg!(target_os = "macos") {
        var("HOME").map(|h| h.join("Library/Application Support"))
    } else {
        var("XDG_DATA_HOME").or_else(|| var("HOME").map(|h| h.join(".local/share")))
    };
    data.map(|d| d.join("radlens").join(name))
}

/// `path` made absolute with `.`, `..` and symlinks resolved as far as it exists: an existing
/// file resolves to its real path, a new one to its real folder plus its name.
#[must_use]
pub fn resolve(path: &Path) -> PathBuf {
    let Ok(absolute) = std::path::absolute(path) else {
        return path.to_owned();
    };
    if let Ok(real) = absolute.canonicalize() {
        return real;
    }
    // Not there (yet): resolve the folder, keep the name. `..` after a missing folder is
    // resolved lexically, which is what the folder would be once created.
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => resolve(parent).join(name),
        _ => lexical(&absolute),
    }
}

fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Where a sidecar goes: `OUT.png` → `OUT.png.json` (exports, volume gaps).
#[must_use]
pub fn sidecar_path(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// The SHA-256 of a file (lower-case hex) and its size in bytes, read in 64 KiB blocks. Export
/// sidecars record it; model manifests are verified with it.
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    use sha2::Digest;
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        bytes += n as u64;
    }
    let hex = hasher
        .finalize()
        .iter()
        .flat_map(|b| [b >> 4, b & 0x0F])
        .map(|nibble| char::from(b"0123456789abcdef"[usize::from(nibble)]))
        .collect();
    Ok((hex, bytes))
}

#[cfg(unix)]
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(_path: &Path) -> Option<(u64, u64)> {
    None
}

/// Writes `path` through a temporary file in its folder, then renames it into place, as
/// `policy` allows. `write` gets a buffered writer; its error (any displayable) fails the write
/// and leaves nothing behind.
pub fn write_atomically<E: std::fmt::Display>(
    path: &Path,
    policy: &WritePolicy,
    write: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> Result<(), E>,
) -> Result<(), OutputError> {
    policy.check(path)?;
    let failed = |source: std::io::Error| OutputError::Write {
        source,
        path: path.to_owned(),
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".radlens-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // open(2) applies the umask to this mode, as it would for a plain File::create.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let tmp = builder.tempfile_in(dir).map_err(failed)?;
    {
        let mut writer = std::io::BufWriter::new(tmp.as_file());
        write(&mut writer).map_err(|e| failed(std::io::Error::other(e.to_string())))?;
        writer.flush().map_err(failed)?;
    }
    tmp.as_file().sync_all().map_err(failed)?;
    let persisted = if policy.overwrite {
        tmp.persist(path)
    } else {
        tmp.persist_noclobber(path)
    };
    match persisted {
        Ok(_) => Ok(()),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Err(OutputError::Exists {
            path: path.to_owned(),
        }),
        Err(e) => Err(failed(e.error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, policy: &WritePolicy, bytes: &[u8]) -> Result<(), OutputError> {
        write_atomically(path, policy, |w| w.write_all(bytes))
    }

    #[test]
    fn existing_output_is_left_untouched_without_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, b"before").unwrap();
        let err = write(&path, &WritePolicy::default(), b"after").unwrap_err();
        assert!(matches!(err, OutputError::Exists { .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"before");
        write(
            &path,
            &WritePolicy::default().with_overwrite(true),
            b"after",
        )
        .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"after");
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file left behind");
    }

    #[test]
    fn a_source_is_never_overwritten_even_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("src.dcm");
        std::fs::write(&source, b"source").unwrap();
        let policy = WritePolicy::protecting([source.clone()]).with_overwrite(true);
        let err = write(&source, &policy, b"x").unwrap_err();
        assert!(
            matches!(err, OutputError::WouldOverwriteSource { .. }),
            "{err}"
        );
        assert_eq!(std::fs::read(&source).unwrap(), b"source");
    }

    #[test]
    fn a_source_is_found_through_dot_dot_symlinks_and_hard_links() {
        let dir = tempfile::tempdir().unwrap();
        let study = dir.path().join("study");
        std::fs::create_dir(&study).unwrap();
        let source = study.join("01.dcm");
        std::fs::write(&source, b"source").unwrap();
        let policy = WritePolicy::protecting([source.clone()]).with_overwrite(true);
        let dotted = study.join("..").join("study").join(".").join("01.dcm");
        assert!(policy.is_protected(&dotted));
        let link_dir = dir.path().join("link");
        std::os::unix::fs::symlink(&study, &link_dir).unwrap();
        assert!(policy.is_protected(&link_dir.join("01.dcm")));
        let file_link = dir.path().join("file-link.dcm");
        std::os::unix::fs::symlink(&source, &file_link).unwrap();
        assert!(policy.is_protected(&file_link));
        let hard = dir.path().join("hard.dcm");
        std::fs::hard_link(&source, &hard).unwrap();
        assert!(policy.is_protected(&hard));
        assert!(!policy.is_protected(&study.join("02.dcm")));
        for path in [dotted, link_dir.join("01.dcm"), file_link, hard] {
            assert!(write(&path, &policy, b"x").is_err(), "{}", path.display());
        }
        assert_eq!(std::fs::read(&source).unwrap(), b"source");
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.png");
        let err = write_atomically(&path, &WritePolicy::default(), |_| Err("boom"));
        assert!(err.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn outputs_get_the_mode_the_umask_gives() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let written = dir.path().join("out.npy");
        write(&written, &WritePolicy::default(), b"x").unwrap();
        let created = dir.path().join("plain");
        std::fs::write(&created, b"x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // Equal to what File::create gives under this umask (0644 under the usual 022).
        assert_eq!(mode(&written), mode(&created));
    }
}
