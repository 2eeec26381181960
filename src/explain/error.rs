//! Explanation errors: one line each, cause first and the file last.

use std::path::PathBuf;

use crate::model::{Capability, ModelError};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExplainError {
    /// A method on a model that lacks a capability it needs (e.g. the CAM family on a model
    /// without usable `features`/`head`).
    #[error("{method} needs a model that {} ({reason}): {}", capability.requirement(), path.display())]
    Unsupported {
        method: &'static str,
        capability: Capability,
        reason: String,
        path: PathBuf,
    },
    #[error("unknown explanation method `{0}` (known: {known})", known = super::Method::names())]
    UnknownMethod(String),
    #[error("target class {target} does not exist: the model has {count} classes ({classes})")]
    Target {
        target: String,
        count: usize,
        classes: String,
    },
    #[error("invalid parameter for {method}: {reason}")]
    Parameter {
        method: &'static str,
        reason: String,
    },
    #[error("input does not fit the model ({reason})")]
    Input { reason: String },
    #[error("explanation cancelled")]
    Cancelled,
    #[error("{method} produced non-finite values (the model returned NaN or infinity): {}", path.display())]
    NonFinite { method: &'static str, path: PathBuf },
    #[error("{method} failed ({cause}): {}", path.display())]
    Torch {
        method: &'static str,
        cause: String,
        path: PathBuf,
    },
    #[error(transparent)]
    Model(#[from] ModelError),
}
