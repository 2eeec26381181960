//! The loader's one error type. Every message names the cause first and the file last, so a CLI can
//! print it as one line.

use std::path::PathBuf;

/// Why a DICOM file or series could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DicomError {
    #[error("cannot read file ({source}): {}", path.display())]
    Io {
        source: std::io::Error,
        path: PathBuf,
    },
    #[error("not a DICOM file: {}", path.display())]
    NotDicom { path: PathBuf },
    #[error("malformed DICOM ({}): {}", quote(reason), path.display())]
    Malformed { reason: String, path: PathBuf },
    #[error("no pixel data: {}", path.display())]
    NoPixelData { path: PathBuf },
    #[error("unsupported transfer syntax {} ({}): {}", quote(uid), quote(name), path.display())]
    UnsupportedTransferSyntax {
        uid: String,
        name: String,
        path: PathBuf,
    },
    #[error("unsupported image ({}): {}", quote(reason), path.display())]
    Unsupported { reason: String, path: PathBuf },
    #[error("cannot decode pixel data ({}): {}", quote(reason), path.display())]
    Decode { reason: String, path: PathBuf },
    #[error("slice does not match its series ({}): {}", quote(reason), path.display())]
    Inconsistent { reason: String, path: PathBuf },
    #[error("no DICOM series found: {}", path.display())]
    NoSeries { path: PathBuf },
    #[error("{reason}: {}", path.display())]
    SeriesChoice { reason: String, path: PathBuf },
    #[error("loading cancelled")]
    Cancelled,
}

impl DicomError {
    /// The file (or folder) the error is about, if any.
    #[must_use]
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Self::Io { path, .. }
            | Self::NotDicom { path }
            | Self::Malformed { path, .. }
            | Self::NoPixelData { path }
            | Self::UnsupportedTransferSyntax { path, .. }
            | Self::Unsupported { path, .. }
            | Self::Decode { path, .. }
            | Self::Inconsistent { path, .. }
            | Self::NoSeries { path }
            | Self::SeriesChoice { path, .. } => Some(path),
            Self::Cancelled => None,
        }
    }

    /// The cause alone, without the path (for lists that show the path in a column of their own).
    #[must_use]
    pub fn cause(&self) -> String {
        let full = self.to_string();
        match self.path() {
            Some(path) => full
                .strip_suffix(&format!(": {}", path.display()))
                .unwrap_or(&full)
                .to_owned(),
            None => full,
        }
    }
}

/// Why one slice was not written into its volume: a real error, or a value that needs the wider
/// `f32` volume (the decoder retries then). Used by the decoder and the value converters.
pub(super) enum SliceError {
    Dicom(DicomError),
    /// A value is fractional or beyond `i16`: the volume needs `f32`.
    NotI16,
}

impl SliceError {
    pub(super) fn into_dicom(self) -> DicomError {
        match self {
            Self::Dicom(err) => err,
            // Only write_i16 asks for a wider type, and its caller retries with f32.
            Self::NotI16 => DicomError::Decode {
                reason: "values do not fit 16 bits".to_owned(),
                path: std::path::PathBuf::new(),
            },
        }
    }
}

impl From<DicomError> for SliceError {
    fn from(err: DicomError) -> Self {
        Self::Dicom(err)
    }
}

/// The longest run of untrusted text an error line shows.
const QUOTE_MAX_CHARS: usize = 160;

/// Untrusted text (values read from a file, a codec's message quoting them) made safe for one
/// error line on a terminal: printable ASCII only (anything else, control characters and escape
/// sequences included, becomes `?`), cut to [`QUOTE_MAX_CHARS`] with a `...` mark.
#[must_use]
pub fn quote(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(QUOTE_MAX_CHARS)
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect();
    if text.chars().nth(QUOTE_MAX_CHARS).is_some() {
        out.push_str("...");
    }
    out
}

/// Turns a multi-line error chain from a dependency into one line.
pub(crate) fn one_line(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_is_printable_ascii_and_short() {
        let hostile = format!("1.2.840\u{1b}[31mred\u{7}\n{}", "9".repeat(40_000));
        let quoted = quote(&hostile);
        assert!(quoted.chars().all(|c| c == ' ' || c.is_ascii_graphic()));
        assert!(quoted.len() <= QUOTE_MAX_CHARS + 3, "{}", quoted.len());
        assert!(quoted.starts_with("1.2.840?[31mred??"), "{quoted}");
        assert!(quoted.ends_with("..."));
        let err = DicomError::UnsupportedTransferSyntax {
            uid: hostile,
            name: "x".to_owned(),
            path: PathBuf::from("a.dcm"),
        };
        let line = err.to_string();
        assert!(!line.contains('\u{1b}') && line.len() < 400 && line.ends_with("a.dcm"));
    }
}
