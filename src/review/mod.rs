//! The review file: what a reviewer concluded about each explanation of a study — the
//! explanation (method, target, slice, parameters), a verdict, a note and the region used —
//! saved as one JSON file per study, restorable, exportable as CSV (docs/EVALUATE.md).
//!
//! Sources are never written to (they may be read-only): review files live in a folder the user
//! chooses, by default [`default_dir`] (the user's data folder), named after the
//! StudyInstanceUID ([`Review::file_name`]). Writes go through [`crate::output`] (atomic, never
//! over a protected file).
//!
//! Dependency rule: plain serde types and file I/O; uses `explain`'s parameter types, never the
//! UI, models or DICOM objects.

mod roi;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use roi::Roi;

use crate::explain::{ExplainParams, Heatmap, Target};
use crate::output::{OutputError, WritePolicy, write_atomically};

/// The format version this build writes; files of a newer version are refused.
pub const REVIEW_VERSION: u32 = 1;

/// A reviewer's judgement of one explanation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Plausible,
    Implausible,
    #[default]
    Unsure,
}

impl Verdict {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Plausible => "plausible",
            Self::Implausible => "implausible",
            Self::Unsure => "unsure",
        }
    }
}

/// One reviewed explanation.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReviewEntry {
    /// How to recompute the explanation: method, target (a class index once resolved), seed and
    /// every knob.
    pub params: ExplainParams,
    /// The explained class's manifest name.
    pub target_name: String,
    pub model_name: String,
    /// Slice index in the series' position order, and the slice's SOP Instance UID (robust to a
    /// changed sort order).
    pub slice_index: usize,
    #[serde(default)]
    pub sop_instance_uid: Option<String>,
    pub verdict: Verdict,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub roi: Option<Roi>,
    /// Seconds since 1970 (UTC) when the verdict was last changed.
    #[serde(default)]
    pub reviewed_at_unix_s: u64,
}

impl ReviewEntry {
    /// An entry for `heatmap`, made with `params` on slice `slice_index`: the target is stored as
    /// the class index the heatmap explained, so restoring recomputes the same class.
    #[must_use]
    pub fn new(
        heatmap: &Heatmap,
        params: &ExplainParams,
        slice_index: usize,
        sop_instance_uid: Option<String>,
        verdict: Verdict,
    ) -> Self {
        let p = &heatmap.provenance;
        Self {
            params: ExplainParams {
                method: p.method,
                target: Target::Index(p.target),
                ..params.clone()
            },
            target_name: p.target_name.clone(),
            model_name: p.model_name.clone(),
            slice_index,
            sop_instance_uid,
            verdict,
            note: String::new(),
            roi: None,
            reviewed_at_unix_s: now_unix_s(),
        }
    }
}

/// All reviews of one study.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Review {
    pub version: u32,
    pub study_instance_uid: String,
    #[serde(default)]
    pub series_instance_uid: Option<String>,
    #[serde(default)]
    pub entries: Vec<ReviewEntry>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReviewError {
    #[error("cannot read review file ({cause}): {}", path.display())]
    Read { cause: String, path: PathBuf },
    #[error("not a radlens review file ({cause}): {}", path.display())]
    Parse { cause: String, path: PathBuf },
    #[error("review file version {found} is newer than this radlens ({REVIEW_VERSION}): {}", path.display())]
    Version { found: u32, path: PathBuf },
    #[error(transparent)]
    Write(#[from] OutputError),
}

impl Review {
    #[must_use]
    pub fn new(study_instance_uid: &str) -> Self {
        Self {
            version: REVIEW_VERSION,
            study_instance_uid: study_instance_uid.to_owned(),
            series_instance_uid: None,
            entries: Vec::new(),
        }
    }

    /// `<StudyInstanceUID>.radlens-review.json`, with anything but `0-9 A-Z a-z . -` replaced
    /// by `_` (UIDs are digits and dots; the rule keeps odd ones safe as file names).
    #[must_use]
    pub fn file_name(study_instance_uid: &str) -> String {
        let safe: String = study_instance_uid
            .trim()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let safe = if safe.is_empty() {
            "unknown-study".to_owned()
        } else {
            safe
        };
        format!("{safe}.radlens-review.json")
    }

    /// The review file of a study in `dir`.
    #[must_use]
    pub fn path_in(dir: &Path, study_instance_uid: &str) -> PathBuf {
        dir.join(Self::file_name(study_instance_uid))
    }

    pub fn load(path: &Path) -> Result<Self, ReviewError> {
        #[derive(serde::Deserialize)]
        struct Versioned {
            version: u32,
        }
        let text = std::fs::read_to_string(path).map_err(|e| ReviewError::Read {
            cause: e.to_string(),
            path: path.to_owned(),
        })?;
        // Check the version before the fields, so a newer file says so instead of a field error.
        let parse = |e: serde_json::Error| ReviewError::Parse {
            cause: e.to_string(),
            path: path.to_owned(),
        };
        let Versioned { version } = serde_json::from_str(&text).map_err(parse)?;
        if version > REVIEW_VERSION {
            return Err(ReviewError::Version {
                found: version,
                path: path.to_owned(),
            });
        }
        serde_json::from_str(&text).map_err(parse)
    }

    /// The study's review in `dir`, or a new empty one when there is none yet.
    pub fn load_or_new(dir: &Path, study_instance_uid: &str) -> Result<Self, ReviewError> {
        let path = Self::path_in(dir, study_instance_uid);
        if path.exists() {
            Self::load(&path)
        } else {
            Ok(Self::new(study_instance_uid))
        }
    }

    /// Writes the review as pretty JSON, atomically (creating the folder if needed).
    pub fn save(&self, path: &Path) -> Result<(), ReviewError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| OutputError::Write {
                source,
                path: path.to_owned(),
            })?;
        }
        // The review file is radlens' own: each save replaces the last.
        let policy = WritePolicy::default().with_overwrite(true);
        Ok(write_atomically(path, &policy, |file| {
            serde_json::to_writer_pretty(&mut *file, self).map_err(std::io::Error::other)?;
            writeln!(file)
        })?)
    }

    /// One CSV row per entry (RFC 4180 quoting; ROI and parameters as compact JSON).
    #[must_use]
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "study_instance_uid,series_instance_uid,slice_index,sop_instance_uid,method,\
             target,target_name,model_name,verdict,note,roi_kind,roi,parameters,\
             reviewed_at_unix_s\r\n",
        );
        for e in &self.entries {
            let target = match &e.params.target {
                Target::Index(i) => i.to_string(),
                Target::Name(n) => n.clone(),
                Target::Top => "top".to_owned(),
            };
            let fields = [
                self.study_instance_uid.clone(),
                self.series_instance_uid.clone().unwrap_or_default(),
                e.slice_index.to_string(),
                e.sop_instance_uid.clone().unwrap_or_default(),
                e.params.method.name().to_owned(),
                target,
                e.target_name.clone(),
                e.model_name.clone(),
                e.verdict.name().to_owned(),
                e.note.clone(),
                e.roi.as_ref().map_or("", Roi::kind).to_owned(),
                e.roi.as_ref().map_or_else(String::new, compact_json),
                compact_json(&e.params),
                e.reviewed_at_unix_s.to_string(),
            ];
            let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            out.push_str(&row.join(","));
            out.push_str("\r\n");
        }
        out
    }

    /// Writes [`Self::to_csv`] atomically, as `policy` allows (the viewer protects the study's
    /// files and replaces a CSV the save dialog confirmed).
    pub fn export_csv(&self, path: &Path, policy: &WritePolicy) -> Result<(), ReviewError> {
        let csv = self.to_csv();
        Ok(write_atomically(path, policy, |file| {
            file.write_all(csv.as_bytes())
        })?)
    }
}

/// Compact JSON of a plain serialisable value (these types never fail to serialise).
fn compact_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A CSV field, quoted when it holds a comma, quote or line break (quotes doubled).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The default folder for review files: `$RADLENS_REVIEW_DIR` if set, else the user's data
/// folder (`$XDG_DATA_HOME/radlens/reviews` or `~/.local/share/radlens/reviews` on Linux,
/// `~/Library/Application Support/radlens/reviews` on macOS, `%APPDATA%\radlens\reviews` on
/// Windows). `None` when no home folder is known.
#[must_use]
pub fn default_dir() -> Option<PathBuf> {
    std::env::var_os("RADLENS_REVIEW_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| crate::output::data_dir("reviews"))
}

fn now_unix_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::explain::{Method, Provenance};

    fn heatmap() -> Heatmap {
        Heatmap {
            values: vec![0.0; 4],
            rows: 2,
            cols: 2,
            provenance: Provenance {
                method: Method::Lime,
                parameters: BTreeMap::new(),
                target: 1,
                target_name: "present".to_owned(),
                score: 2.0,
                model_name: "demo".to_owned(),
                model_path: PathBuf::from("m.pt"),
                input_size: [2, 2],
                forward_passes: 1,
                signed: true,
                elapsed_ms: 1.0,
            },
        }
    }

    fn review() -> Review {
        let mut review = Review::new("1.2.3.4");
        let mut entry = ReviewEntry::new(
            &heatmap(),
            &ExplainParams::new(Method::Lime),
            1,
            Some("1.2.3.4.5".to_owned()),
            Verdict::Implausible,
        );
        entry.note = "points at the table, \"not\" the lesion\nsecond line".to_owned();
        entry.roi = Some(Roi::Ellipse {
            center: [10.5, 20.0],
            radii: [3.0, 4.0],
        });
        review.entries.push(entry);
        review
    }

    #[test]
    fn an_entry_stores_the_resolved_target_so_restoring_explains_the_same_class() {
        let entry = ReviewEntry::new(
            &heatmap(),
            &ExplainParams::new(Method::GradCam),
            0,
            None,
            Verdict::Plausible,
        );
        assert_eq!(entry.params.method, Method::Lime);
        assert_eq!(entry.params.target, Target::Index(1));
    }

    #[test]
    fn save_then_load_restores_everything() {
        let dir = tempfile::tempdir().unwrap();
        let review = review();
        let path = Review::path_in(&dir.path().join("new/sub"), &review.study_instance_uid);
        review.save(&path).unwrap();
        assert_eq!(Review::load(&path).unwrap(), review);
        let again = Review::load_or_new(&dir.path().join("new/sub"), "1.2.3.4").unwrap();
        assert_eq!(again, review);
        let fresh = Review::load_or_new(dir.path(), "9.9").unwrap();
        assert!(fresh.entries.is_empty());
        // Only the review file is left: the temporary file was renamed.
        let files: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(files.len(), 1);
    }

    #[test]
    fn a_newer_file_is_refused_with_its_version_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(
            &path,
            r#"{"version": 99, "study_instance_uid": "1", "future": true}"#,
        )
        .unwrap();
        let err = Review::load(&path).unwrap_err().to_string();
        assert!(err.contains("99") && err.ends_with("r.json"), "{err}");
        std::fs::write(&path, "not json").unwrap();
        assert!(matches!(
            Review::load(&path),
            Err(ReviewError::Parse { .. })
        ));
    }

    #[test]
    fn csv_quotes_commas_quotes_and_line_breaks() {
        let csv = review().to_csv();
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert!(lines[0].starts_with("study_instance_uid,series_instance_uid,slice_index"));
        assert!(lines[1].starts_with("1.2.3.4,,1,1.2.3.4.5,lime,1,present,demo,implausible,"));
        assert!(
            lines[1].contains(r#""points at the table, ""not"" the lesion"#),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains(r#",ellipse,"{""kind"":""ellipse"",""center"":[10.5,20.0]"#));
        assert_eq!(lines.len(), 3, "header, one row, and the empty rest");
    }

    #[test]
    fn file_names_come_from_the_study_uid_and_stay_safe() {
        assert_eq!(
            Review::file_name("1.2.840.1"),
            "1.2.840.1.radlens-review.json"
        );
        assert_eq!(Review::file_name("../x y"), ".._x_y.radlens-review.json");
        assert_eq!(Review::file_name(" "), "unknown-study.radlens-review.json");
    }
}
