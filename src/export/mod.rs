//! Exports of what a reader reviewed: the slice as displayed with its heatmap, ROI outline,
//! colorbar and legend burned in, as an 8-bit RGB PNG with a JSON sidecar that says how to
//! reproduce it, or as a DICOM Secondary Capture (de-identified by default).
//!
//! Dependency rule: `export/` uses [`crate::imaging`] (the shader's CPU reference draws the
//! image), [`crate::explain`]'s result types (heatmap, provenance, parameters) and
//! [`crate::dicom`] (opening source files) plus dicom-rs to write; it runs no model and knows
//! nothing about the UI. Every write goes through a temporary file in the target folder and a
//! rename; an existing file is replaced only when asked, and a source file never.
//!
//! The GUI's export dialog and `radlens export` call the same functions:
//! [`annotate`] → [`write_png`] + [`write_sidecar`], or [`annotate`] → [`DicomExport::write`].

mod annotate;
mod deid;
mod secondary_capture;
mod sidecar;
mod text;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use annotate::{
    AnnotatedImage, DisplayedSlice, Legend, Scale, annotate, side_by_side, viewer_heat_params,
};
pub use deid::{Action, DeidOptions, DeidReport, PROFILE, UidMap, action_for, deidentify, new_uid};
pub use secondary_capture::{
    DicomExport, DicomOptions, SourceImage, WrittenInstance, derivation_description,
};
pub use sidecar::{
    DicomInfo, DisplayInfo, FileHash, OutputInfo, Sidecar, SliceInfo, sha256_file, sidecar_path,
};

/// Export failures; messages end with the path concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error("output exists and was left untouched: {}", path.display())]
    Exists { path: PathBuf },
    #[error("refusing to overwrite a source file: {}", path.display())]
    WouldOverwriteSource { path: PathBuf },
    #[error("cannot write output ({source}): {}", path.display())]
    Write {
        source: std::io::Error,
        path: PathBuf,
    },
    #[error("cannot read ({source}): {}", path.display())]
    Read {
        source: std::io::Error,
        path: PathBuf,
    },
    #[error("cannot encode {what} ({reason}): {}", path.display())]
    Encode {
        what: &'static str,
        reason: String,
        path: PathBuf,
    },
    #[error("source image not usable for a DICOM export ({reason}): {}", path.display())]
    Source { reason: String, path: PathBuf },
    #[error(transparent)]
    Dicom(#[from] crate::dicom::DicomError),
    #[error("invalid export: {reason}")]
    Invalid { reason: String },
}

/// How a write treats what is already on disk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WritePolicy {
    /// Replace an existing output (never a protected file).
    pub overwrite: bool,
    /// Files that must never be written: the sources (DICOM slices, model files).
    pub protected: Vec<PathBuf>,
}

impl WritePolicy {
    /// Refuses to overwrite anything; protects `sources`.
    #[must_use]
    pub fn protecting(sources: Vec<PathBuf>) -> Self {
        Self {
            overwrite: false,
            protected: sources,
        }
    }

    /// Fails early when `path` may not be written: a protected file, or an existing file when
    /// overwriting is off. (The final rename checks again, atomically.)
    pub fn check(&self, path: &Path) -> Result<(), ExportError> {
        if let Ok(out) = std::path::absolute(path) {
            let out = out.canonicalize().unwrap_or(out);
            if self
                .protected
                .iter()
                .filter_map(|p| p.canonicalize().ok())
                .any(|p| p == out)
            {
                return Err(ExportError::WouldOverwriteSource {
                    path: path.to_owned(),
                });
            }
        }
        if !self.overwrite && std::fs::symlink_metadata(path).is_ok() {
            return Err(ExportError::Exists {
                path: path.to_owned(),
            });
        }
        Ok(())
    }
}

/// Writes `path` through a temporary file in its folder, then renames it into place: a failed
/// write leaves nothing behind, and without `policy.overwrite` an existing file is never replaced
/// (the rename itself refuses, so a file appearing meanwhile is safe too).
pub(crate) fn write_atomically(
    path: &Path,
    policy: &WritePolicy,
    write: impl FnOnce(&mut dyn Write) -> Result<(), String>,
) -> Result<(), ExportError> {
    policy.check(path)?;
    let failed = |source: std::io::Error| ExportError::Write {
        source,
        path: path.to_owned(),
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".radlens-export-")
        .tempfile_in(dir)
        .map_err(failed)?;
    {
        let mut writer = std::io::BufWriter::new(tmp.as_file());
        write(&mut writer).map_err(|reason| failed(std::io::Error::other(reason)))?;
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
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Err(ExportError::Exists {
            path: path.to_owned(),
        }),
        Err(e) => Err(failed(e.error)),
    }
}

/// Writes the image as an 8-bit RGB PNG.
pub fn write_png(
    path: &Path,
    image: &AnnotatedImage,
    policy: &WritePolicy,
) -> Result<(), ExportError> {
    use image::ImageEncoder;
    let encode_error = |reason: String| ExportError::Encode {
        what: "PNG",
        reason,
        path: path.to_owned(),
    };
    let width = u32::try_from(image.width).map_err(|e| encode_error(e.to_string()))?;
    let height = u32::try_from(image.height).map_err(|e| encode_error(e.to_string()))?;
    write_atomically(path, policy, |out| {
        image::codecs::png::PngEncoder::new(out)
            .write_image(&image.rgb, width, height, image::ExtendedColorType::Rgb8)
            .map_err(|e| e.to_string())
    })
}

/// Writes the sidecar as pretty-printed JSON.
pub fn write_sidecar(
    path: &Path,
    sidecar: &Sidecar,
    policy: &WritePolicy,
) -> Result<(), ExportError> {
    write_atomically(path, policy, |out| {
        serde_json::to_writer_pretty(&mut *out, sidecar).map_err(|e| e.to_string())?;
        out.write_all(b"\n").map_err(|e| e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existing_output_is_left_untouched_without_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, b"before").unwrap();
        let err = write_atomically(&path, &WritePolicy::default(), |w| {
            w.write_all(b"after").map_err(|e| e.to_string())
        })
        .unwrap_err();
        assert!(matches!(err, ExportError::Exists { .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"before");
        let overwrite = WritePolicy {
            overwrite: true,
            ..WritePolicy::default()
        };
        write_atomically(&path, &overwrite, |w| {
            w.write_all(b"after").map_err(|e| e.to_string())
        })
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
        let policy = WritePolicy {
            overwrite: true,
            protected: vec![source.clone()],
        };
        let err = write_atomically(&source, &policy, |_| Ok(())).unwrap_err();
        assert!(
            matches!(err, ExportError::WouldOverwriteSource { .. }),
            "{err}"
        );
        assert_eq!(std::fs::read(&source).unwrap(), b"source");
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.png");
        let err = write_atomically(&path, &WritePolicy::default(), |_| Err("boom".to_owned()));
        assert!(err.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
