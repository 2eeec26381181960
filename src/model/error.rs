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
/// every error of `model/` and `explain/` that quotes libtorch). libtorch's internals are put in
/// words a user can act on: a TorchScript traceback gives its own cause (its last `…Error:`
/// line), an internal assertion says what radlens expects of the model.
pub(crate) fn first_line(err: &tch::TchError) -> String {
    explain_torch_text(&err.to_string())
}

fn explain_torch_text(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default().trim();
    if text.contains("The following operation failed in the TorchScript interpreter") {
        let cause = text
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.contains("Error: "))
            .unwrap_or(first);
        return format!(
            "the model's own TorchScript code failed: {cause}; check that the model takes the \
             input its manifest declares"
        );
    }
    if let Some(at) = first.find("INTERNAL ASSERT FAILED") {
        let check = first[..at].trim();
        return format!(
            "libtorch refused the model's result (internal check `{check}`): forward must return \
             one logits tensor [N, classes], features and head one tensor each"
        );
    }
    first.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torchscript_internals_are_put_in_words() {
        let assert = "isTuple() INTERNAL ASSERT FAILED at \"/pytorch/aten/src/ATen/core/ivalue_inl.h\":2014, please report a bug to PyTorch. Expected Tuple but got Tensor\nException raised from toTuple at ...";
        let line = explain_torch_text(assert);
        assert!(
            line.contains("`isTuple()`") && line.contains("forward must return"),
            "{line}"
        );
        assert!(!line.contains("report a bug"), "{line}");
        let traceback = "The following operation failed in the TorchScript interpreter.\nTraceback of TorchScript, serialized code (most recent call last):\n  File \"code/__torch__.py\", line 9\n    x = torch.view(input, [-1, 100])\nRuntimeError: shape '[-1, 100]' is invalid for input of size 64\n";
        let line = explain_torch_text(traceback);
        assert!(
            line.contains("RuntimeError: shape '[-1, 100]' is invalid"),
            "{line}"
        );
        assert!(!line.contains('\n'));
        assert_eq!(explain_torch_text("plain error\nbacktrace"), "plain error");
    }
}
