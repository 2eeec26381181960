//! The study's review in the app: the reviewer's verdict, note and ROI per explanation on screen,
//! kept in a [`Review`] that is saved (atomically, never beside the sources) to the review folder
//! and restored when the same study (by StudyInstanceUID) is opened again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::dicom::Volume;
use crate::explain::{ExplainParams, Heatmap, Method, Target};
use crate::review::{Review, ReviewEntry, Roi, Verdict};

use super::RadlensApp;

/// Which explanation an entry is about: the slice, the method, the explained class and the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryKey {
    pub slice_index: usize,
    pub method: Method,
    pub target: usize,
    pub model_name: String,
}

impl EntryKey {
    #[must_use]
    pub fn of(heatmap: &Heatmap, slice_index: usize) -> Self {
        let p = &heatmap.provenance;
        Self {
            slice_index,
            method: p.method,
            target: p.target,
            model_name: p.model_name.clone(),
        }
    }

    /// Whether `entry` is about this explanation.
    #[must_use]
    pub fn matches(&self, entry: &ReviewEntry) -> bool {
        entry.slice_index == self.slice_index
            && entry.params.method == self.method
            && entry.params.target == Target::Index(self.target)
            && entry.model_name == self.model_name
    }
}

/// The open study's review file.
pub struct ReviewSession {
    /// Where the file lives.
    pub path: PathBuf,
    pub review: Review,
    /// Changed since the last save.
    pub dirty: bool,
    /// The last save's outcome, for the panel ("saved to …" or the error).
    pub status: Option<Result<String, String>>,
}

/// The review folder: `$RADLENS_REVIEW_DIR`, else the one chosen in the settings, else the
/// user's data folder ([`crate::review::default_dir`]).
#[must_use]
pub fn review_dir(chosen: Option<&Path>) -> Option<PathBuf> {
    let from_env = std::env::var_os("RADLENS_REVIEW_DIR").filter(|v| !v.is_empty());
    if from_env.is_some() {
        return crate::review::default_dir();
    }
    chosen
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .or_else(crate::review::default_dir)
}

impl ReviewSession {
    /// The review of `volume`'s study in `dir` (a new one when there is none yet). A study
    /// without a StudyInstanceUID is reviewed under its SeriesInstanceUID.
    pub fn open(dir: &Path, volume: &Volume) -> Result<Self, String> {
        let study = volume
            .study_uid()
            .map_or_else(|| volume.series_uid.clone(), str::to_owned);
        let mut review = Review::load_or_new(dir, &study).map_err(|e| e.to_string())?;
        if review.series_instance_uid.is_none() && !volume.series_uid.is_empty() {
            review.series_instance_uid = Some(volume.series_uid.clone());
        }
        Ok(Self {
            path: Review::path_in(dir, &study),
            review,
            dirty: false,
            status: None,
        })
    }

    /// The entry about the explanation `key`, if reviewed.
    #[must_use]
    pub fn entry(&self, key: &EntryKey) -> Option<&ReviewEntry> {
        self.review.entries.iter().find(|e| key.matches(e))
    }

    fn entry_mut(&mut self, key: &EntryKey) -> Option<&mut ReviewEntry> {
        self.review.entries.iter_mut().find(|e| key.matches(e))
    }

    /// Records `verdict` (with `note` and `roi`) for `heatmap` on `slice_index`, replacing an
    /// earlier verdict on the same explanation.
    pub fn set_verdict(
        &mut self,
        heatmap: &Heatmap,
        slice_index: usize,
        sop_instance_uid: Option<String>,
        verdict: Verdict,
        note: &str,
        roi: Option<Roi>,
    ) {
        let key = EntryKey::of(heatmap, slice_index);
        let fresh = ReviewEntry::new(
            heatmap,
            &ExplainParams::new(heatmap.provenance.method),
            slice_index,
            sop_instance_uid,
            verdict,
        );
        let entry = if let Some(entry) = self.entry_mut(&key) {
            entry.verdict = verdict;
            entry.reviewed_at_unix_s = fresh.reviewed_at_unix_s;
            entry
        } else {
            self.review.entries.push(fresh);
            let last = self.review.entries.len() - 1;
            &mut self.review.entries[last]
        };
        note.clone_into(&mut entry.note);
        entry.roi = roi;
        self.dirty = true;
    }

    /// Changes the note of an explanation already reviewed; false when it has no entry yet.
    pub fn set_note(&mut self, key: &EntryKey, note: &str) -> bool {
        let Some(entry) = self.entry_mut(key) else {
            return false;
        };
        if entry.note != note {
            note.clone_into(&mut entry.note);
            self.dirty = true;
        }
        true
    }

    /// Writes the file if anything changed.
    pub fn save(&mut self) -> Result<(), String> {
        if !self.dirty {
            return Ok(());
        }
        let result = self.review.save(&self.path).map_err(|e| e.to_string());
        self.status = Some(match &result {
            Ok(()) => Ok(format!("saved to {}", self.path.display())),
            Err(e) => Err(e.clone()),
        });
        if result.is_ok() {
            self.dirty = false;
        }
        result
    }
}

/// The review entries a radlens Structured Report carries (its `REVIEWENTRY` items), with the
/// verdict and note the report codes (what a reader of the SR sees) taking precedence.
pub fn entries_from_report(
    findings: &[crate::dicom::ReportedFinding],
) -> Result<Vec<ReviewEntry>, String> {
    findings
        .iter()
        .filter_map(|finding| finding.entry_json.as_ref().map(|json| (finding, json)))
        .map(|(finding, json)| {
            let mut entry: ReviewEntry = serde_json::from_str(json).map_err(|e| {
                format!(
                    "review entry of '{}' not readable: {e}",
                    finding.tracking_id
                )
            })?;
            entry.verdict = match finding.verdict.as_deref() {
                Some("plausible") => Verdict::Plausible,
                Some("implausible") => Verdict::Implausible,
                Some(_) => Verdict::Unsure,
                None => entry.verdict,
            };
            entry.note.clone_from(&finding.note);
            Ok(entry)
        })
        .collect()
}

impl ReviewSession {
    /// Restores the entries of a radlens report into this review: an entry about the same
    /// explanation (method, parameters, slice) is replaced, others are added. Returns how many.
    pub fn restore(&mut self, entries: Vec<ReviewEntry>) -> usize {
        let count = entries.len();
        for entry in entries {
            match self
                .review
                .entries
                .iter_mut()
                .find(|e| e.slice_index == entry.slice_index && e.params == entry.params)
            {
                Some(existing) => *existing = entry,
                None => self.review.entries.push(entry),
            }
        }
        self.dirty |= count > 0;
        count
    }
}

impl RadlensApp {
    /// The review folder in use: [`Self::set_review_dir`]'s, else `$RADLENS_REVIEW_DIR`, else
    /// the settings', else the user's data folder.
    #[must_use]
    pub fn review_dir(&self) -> Option<PathBuf> {
        self.review_dir
            .clone()
            .or_else(|| review_dir(self.settings.review_dir.as_deref()))
    }

    /// Keeps review files in `dir` from now on (the open study's review is reloaded from there).
    pub fn set_review_dir(&mut self, dir: PathBuf) {
        self.review_dir = Some(dir);
        if let Some(volume) = self.study.as_ref().map(|s| Arc::clone(&s.volume)) {
            self.open_review(&volume);
        }
    }

    /// Saves the current review, then opens `volume`'s study's review from the review folder
    /// (its ROIs come back on their slices).
    pub(super) fn open_review(&mut self, volume: &Volume) {
        self.save_review();
        self.review = None;
        let Some(dir) = self.review_dir() else {
            return;
        };
        match ReviewSession::open(&dir, volume) {
            Ok(session) => {
                for entry in &session.review.entries {
                    // Drawn shapes come back on their slices; a study mask is the study's own.
                    if let Some(roi) = entry.roi.clone().filter(|r| !matches!(r, Roi::Mask { .. }))
                    {
                        self.rois.add(entry.slice_index, roi);
                    }
                }
                self.review = Some(session);
            }
            Err(e) => self.error = Some(format!("review not opened: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::explain::Provenance;

    fn heatmap(method: Method) -> Heatmap {
        Heatmap {
            values: vec![0.0, 1.0],
            rows: 1,
            cols: 2,
            provenance: Provenance {
                method,
                parameters: BTreeMap::new(),
                target: 1,
                target_name: "present".to_owned(),
                score: 0.0,
                model_name: "demo".to_owned(),
                model_path: PathBuf::from("m.pt"),
                input_size: [1, 2],
                forward_passes: 1,
                signed: false,
                elapsed_ms: 0.0,
            },
        }
    }

    #[test]
    fn a_second_verdict_on_the_same_explanation_replaces_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut session = ReviewSession {
            path: dir.path().join("r.json"),
            review: Review::new("1.2"),
            dirty: false,
            status: None,
        };
        let gradcam = heatmap(Method::GradCam);
        session.set_verdict(&gradcam, 2, None, Verdict::Unsure, "", None);
        session.set_verdict(&gradcam, 2, None, Verdict::Plausible, "fine", None);
        session.set_verdict(
            &heatmap(Method::Occlusion),
            2,
            None,
            Verdict::Implausible,
            "",
            None,
        );
        assert_eq!(session.review.entries.len(), 2);
        let key = EntryKey::of(&gradcam, 2);
        assert_eq!(session.entry(&key).unwrap().verdict, Verdict::Plausible);
        assert!(session.set_note(&key, "edited"));
        assert!(!session.set_note(&EntryKey::of(&gradcam, 3), "no entry"));
        session.save().unwrap();
        assert!(!session.dirty);
        let loaded = Review::load(&session.path).unwrap();
        assert_eq!(loaded.entries[0].note, "edited");
    }
}
