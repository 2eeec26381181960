//! `radlens info PATH... [--json]`: what series the paths hold, read from headers only.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use super::Inputs;
use crate::dicom::{ScanReport, Series, SliceOrder, scan};
use crate::imaging::Window;

#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub inputs: Inputs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The `--json` document.
#[derive(Debug, Serialize)]
pub struct InfoJson {
    pub series: Vec<SeriesJson>,
    pub skipped: Vec<SkippedJson>,
    /// Files in the scanned folders that are not DICOM.
    pub ignored: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct SeriesJson {
    /// Pass to `radlens volume --series`; equals `series_uid` unless one UID held several volumes.
    pub id: String,
    pub series_uid: String,
    pub study_uid: String,
    pub modality: String,
    pub description: String,
    pub rows: u32,
    pub cols: u32,
    /// Slices, or frames of a multi-frame object.
    pub slices: usize,
    pub files: usize,
    /// `[between slices, between rows, between columns]`, matching the `.npy` axes.
    pub spacing_mm: [f64; 3],
    /// ImageOrientationPatient (row direction, column direction), if present.
    pub orientation: Option<[f64; 6]>,
    pub photometric: String,
    pub samples_per_pixel: u16,
    pub transfer_syntaxes: Vec<String>,
    /// From the DICOM header; `null` means the viewer computes one from percentiles on load.
    pub window: Option<Window>,
    pub order: SliceOrder,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct SkippedJson {
    pub path: String,
    pub reason: String,
}

impl SeriesJson {
    fn new(s: &Series) -> Self {
        let first = &s.files[0];
        Self {
            id: s.id.clone(),
            series_uid: s.series_uid().to_owned(),
            study_uid: first.study_uid.clone(),
            modality: s.modality().to_owned(),
            description: first.series_description.clone(),
            rows: s.rows(),
            cols: s.cols(),
            slices: s.slices.len(),
            files: s.files.len(),
            spacing_mm: s.spacing_mm,
            orientation: s.orientation(),
            photometric: s.photometric().to_owned(),
            samples_per_pixel: s.samples_per_pixel(),
            transfer_syntaxes: s
                .transfer_syntaxes()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            window: s.window(),
            order: s.order,
            warnings: s.warnings.clone(),
        }
    }
}

impl InfoJson {
    #[must_use]
    pub fn new(report: &ScanReport) -> Self {
        Self {
            series: report.series.iter().map(SeriesJson::new).collect(),
            skipped: report
                .skipped
                .iter()
                .map(|s| SkippedJson {
                    path: s.path.display().to_string(),
                    reason: s.reason.clone(),
                })
                .collect(),
            ignored: report
                .ignored
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        }
    }
}

pub fn run(args: &InfoArgs, out: &mut impl Write) -> Result<()> {
    let report = scan(&args.inputs.paths)?;
    let doc = InfoJson::new(&report);
    if args.json {
        serde_json::to_writer(&mut *out, &doc)?;
        writeln!(out)?;
    } else {
        write_text(&doc, out)?;
    }
    Ok(())
}

fn write_text(doc: &InfoJson, out: &mut impl Write) -> std::io::Result<()> {
    let mut studies: Vec<&str> = doc.series.iter().map(|s| s.study_uid.as_str()).collect();
    studies.dedup();
    writeln!(
        out,
        "{} series in {} study(ies)",
        doc.series.len(),
        studies.len()
    )?;
    for s in &doc.series {
        writeln!(out)?;
        writeln!(out, "series {}", s.id)?;
        if !s.description.is_empty() {
            writeln!(out, "  description     {}", s.description)?;
        }
        writeln!(out, "  modality        {}", s.modality)?;
        writeln!(
            out,
            "  size            {} slices x {} rows x {} cols ({} files)",
            s.slices, s.rows, s.cols, s.files
        )?;
        let [ds, dr, dc] = s.spacing_mm;
        writeln!(
            out,
            "  spacing (mm)    slice {ds:.4}, row {dr:.4}, col {dc:.4}"
        )?;
        match s.orientation {
            Some(o) => writeln!(out, "  orientation     {o:?}")?,
            None => writeln!(out, "  orientation     (none)")?,
        }
        writeln!(
            out,
            "  photometric     {} ({} sample(s)/pixel)",
            s.photometric, s.samples_per_pixel
        )?;
        writeln!(out, "  transfer syntax {}", s.transfer_syntaxes.join(", "))?;
        match s.window {
            Some(w) => writeln!(
                out,
                "  window          centre {} width {}",
                w.center, w.width
            )?,
            None => writeln!(out, "  window          (none in header: automatic on load)")?,
        }
        writeln!(out, "  slice order     {:?}", s.order)?;
        for w in &s.warnings {
            writeln!(out, "  warning         {w}")?;
        }
    }
    if !doc.skipped.is_empty() {
        writeln!(out)?;
        writeln!(out, "skipped {} file(s):", doc.skipped.len())?;
        for s in &doc.skipped {
            writeln!(out, "  {}: {}", s.reason, s.path)?;
        }
    }
    if !doc.ignored.is_empty() {
        writeln!(out)?;
        writeln!(out, "ignored {} non-DICOM file(s)", doc.ignored.len())?;
    }
    Ok(())
}
