//! Model errors: one line each, cause first and the file last.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    #[error("cannot read model manifest ({cause}): {}", path.display())]
    ManifestRead { cause: String, path: PathBuf },
    #[error("invalid model manifest ({reason}): {}", path.display())]
    Manifest { reason: String, path: PathBuf },
    #[error("cannot load TorchScript model ({cause}): {}", path.display())]
    Load { cause: String, path: PathBuf },
    #[error("model does not fit its manifest ({reason}): {}", path.display())]
    Contract { reason: String, path: PathBuf },
    #[error("inference failed ({cause}): {}", path.display())]
    Inference { cause: String, path: PathBuf },
    #[error("model file does not match the sha256 in its manifest (expected {expected}, is {actual}; a corrupted or replaced file): {}", path.display())]
    Checksum {
        expected: String,
        actual: String,
        path: PathBuf,
    },
    #[error("input does not fit the model ({reason})")]
    Input { reason: String },
}

/// libtorch errors carry a C++ backtrace after the first line; keep the first line only (for
/// every error of `model/` and `explain/` that quotes libtorch).
pub(crate) fn first_line(err: &tch::TchError) -> String {
    err.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}
