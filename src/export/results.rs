//! The result objects of an export, after its slices are explained: the heatmaps as one
//! Parametric Map, the ROIs (and on request the thresholded heatmap) as Segmentations, and the
//! review as a Structured Report that references both — written in that order, through one
//! [`DicomExport`] so every UID is remapped the same way in all of them, into one folder with one
//! listing ([`Listing`], `export.json`) of everything written.

use std::path::{Path, PathBuf};

use super::instance::Code;
use super::report::{FrameReference, Measurement, Report, ReportedRegion, SegmentReference};
use super::segmentation::{Segment, SegmentationType};
use super::{DicomExport, ExportError, SourceImage, WritePolicy, WrittenInstance};
use crate::explain::{Heatmap, metrics};
use crate::output::{sha256_file, write_atomically};

/// File names of the result objects in the export folder.
pub const PARAMETRIC_MAP_FILE: &str = "heatmap_pm.dcm";
pub const SEGMENTATION_FILE: &str = "roi_seg.dcm";
pub const HEATMAP_SEGMENTATION_FILE: &str = "heatmap_seg.dcm";
pub const REPORT_FILE: &str = "report_sr.dcm";
/// The listing of one export folder.
pub const LISTING_FILE: &str = "export.json";

/// Which result objects to write (independent choices, hence the bools).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)]
pub struct ResultObjects {
    pub parametric_map: bool,
    /// The ROIs, binary.
    pub segmentation: bool,
    /// The heatmap above the pane's threshold, fractional.
    pub heatmap_segmentation: bool,
    pub report: bool,
}

impl ResultObjects {
    #[must_use]
    pub fn any(self) -> bool {
        self.parametric_map || self.segmentation || self.heatmap_segmentation || self.report
    }

    /// The files they go to in `dir`.
    #[must_use]
    pub fn outputs(self, dir: &Path) -> Vec<PathBuf> {
        [
            (self.parametric_map, PARAMETRIC_MAP_FILE),
            (self.segmentation, SEGMENTATION_FILE),
            (self.heatmap_segmentation, HEATMAP_SEGMENTATION_FILE),
            (self.report, REPORT_FILE),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| dir.join(name))
        .collect()
    }
}

/// One explained slice, kept for the result objects.
#[derive(Clone, Debug)]
pub struct ExplainedSlice {
    pub index: usize,
    pub source: SourceImage,
    /// The (first pane's) map, on the slice grid.
    pub heatmap: Heatmap,
    pub probability: f32,
    /// The ROI on this slice (0/1), if any.
    pub mask: Option<Vec<u8>>,
    pub measurements: Vec<Measurement>,
    pub verdict: Option<String>,
    pub note: String,
    /// The review entry (JSON), when the slice comes from a review.
    pub entry_json: Option<String>,
}

/// A file an export wrote.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ListedFile {
    /// `png`, `sc`, `pmap`, `seg`, `sr`, or `sidecar`.
    pub format: String,
    /// Relative to the listing's folder.
    pub file: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sop_class_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sop_instance_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series_instance_uid: Option<String>,
}

/// What one export folder holds (`export.json`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Listing {
    pub radlens_version: String,
    pub deidentified: bool,
    pub files: Vec<ListedFile>,
}

impl Listing {
    #[must_use]
    pub fn new(deidentified: bool) -> Self {
        Self {
            radlens_version: env!("CARGO_PKG_VERSION").to_owned(),
            deidentified,
            files: Vec::new(),
        }
    }

    /// Adds `path` (hashed now) as `format`, with its DICOM identity if it is one.
    pub fn add(
        &mut self,
        dir: &Path,
        path: &Path,
        format: &str,
        instance: Option<&WrittenInstance>,
    ) -> Result<(), ExportError> {
        let (sha256, bytes) = sha256_file(path).map_err(|source| ExportError::Read {
            source,
            path: path.to_owned(),
        })?;
        self.files.push(ListedFile {
            format: format.to_owned(),
            file: path.strip_prefix(dir).unwrap_or(path).to_owned(),
            sha256,
            bytes,
            sop_class_uid: instance.map(|i| i.sop_class_uid.clone()),
            sop_instance_uid: instance.map(|i| i.sop_instance_uid.clone()),
            series_instance_uid: instance.map(|i| i.series_instance_uid.clone()),
        });
        Ok(())
    }

    /// Writes the listing to `dir/export.json`.
    pub fn write(&self, dir: &Path, policy: &WritePolicy) -> Result<PathBuf, ExportError> {
        let path = dir.join(LISTING_FILE);
        write_atomically(&path, policy, |out| {
            serde_json::to_writer_pretty(&mut *out, self).map_err(|e| e.to_string())?;
            std::io::Write::write_all(out, b"\n").map_err(|e| e.to_string())
        })?;
        Ok(path)
    }
}

/// The metrics radlens computes on a map without running the model: sparseness and, with a
/// region, the localisation metrics; `faithfulness` adds the deletion/insertion AUCs the caller
/// measured with the model.
#[must_use]
pub fn map_measurements(
    heatmap: &Heatmap,
    mask: Option<&[u8]>,
    faithfulness: Option<(f64, f64)>,
) -> Vec<Measurement> {
    let code = Code::private;
    let mut out = Vec::new();
    if let Some((deletion, insertion)) = faithfulness {
        out.push(Measurement::unitless(
            code("DELAUC", "Deletion AUC"),
            deletion,
        ));
        out.push(Measurement::unitless(
            code("INSAUC", "Insertion AUC"),
            insertion,
        ));
    }
    if let Ok(value) = metrics::sparseness(&heatmap.values) {
        out.push(Measurement::unitless(
            code("SPARSENESS", "Sparseness (Gini index)"),
            value,
        ));
    }
    if let Some(mask) = mask {
        let inside: Vec<bool> = mask.iter().map(|&v| v > 0).collect();
        if let Ok(game) = metrics::pointing_game(&heatmap.values, &inside) {
            out.push(Measurement::unitless(
                code("POINTGAME", "Pointing game hit"),
                f64::from(u8::from(game.hit)),
            ));
        }
        if let Ok(value) = metrics::relevance_mass_accuracy(&heatmap.values, &inside) {
            out.push(Measurement::unitless(
                code("RELMASS", "Relevance mass accuracy"),
                value,
            ));
        }
        if let Ok(value) = metrics::relevance_rank_accuracy(&heatmap.values, &inside) {
            out.push(Measurement::unitless(
                code("RELRANK", "Relevance rank accuracy"),
                value,
            ));
        }
    }
    out
}

/// The handcrafted radiomics features of `mask` on the slice `values` (`rows × cols`, from
/// `source`, whose pixel spacing and slice thickness give the voxel size), with PyRadiomics'
/// default settings as the features panel computes them. Each is coded by its IBSI identifier
/// (scheme `99IBSI`) where IBSI defines one, else by radlens' private code `RFnnn`, the meaning
/// the PyRadiomics column; units are UCUM (`[hnsf'U]` for CT intensities, `[arb'U]` otherwise).
pub fn roi_features(
    values: &[f32],
    mask: &[u8],
    rows: usize,
    cols: usize,
    source: &SourceImage,
) -> Result<Vec<Measurement>, ExportError> {
    use crate::radiomics::{self, Settings, ibsi::Unit};
    let (_, frames) = super::source_frames(std::slice::from_ref(source))?;
    let frame = &frames[0];
    let spacing_mm = [
        frame.slice_thickness.unwrap_or(1.0),
        frame.pixel_spacing[0],
        frame.pixel_spacing[1],
    ];
    let values: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
    let labels: Vec<u32> = mask.iter().map(|&m| u32::from(m > 0)).collect();
    let volume = radiomics::Volume {
        values: &values,
        labels: &labels,
        dims: [1, rows, cols],
        spacing_mm,
    };
    let extraction =
        radiomics::extract(&volume, &Settings::default()).map_err(|e| ExportError::Invalid {
            reason: format!("radiomics features of the ROI: {e}"),
        })?;
    let intensity = if frame.modality == "CT" {
        ("[hnsf'U]", "Hounsfield unit")
    } else {
        ("[arb'U]", "arbitrary unit")
    };
    Ok(extraction
        .features
        .iter()
        .enumerate()
        .filter(|(_, (_, value))| value.is_finite())
        .map(|(index, (column, value))| {
            let described = radiomics::ibsi::describe_column(column);
            let concept = match described.and_then(|(_, _, ibsi)| ibsi.code) {
                Some(code) => Code::new(code, "99IBSI", column),
                None => Code::private(&format!("RF{index:03}"), column),
            };
            let (unit, meaning) = match described.map_or(Unit::None, |(_, _, i)| i.unit) {
                Unit::None => ("1".to_owned(), "no units".to_owned()),
                Unit::Intensity => (intensity.0.to_owned(), intensity.1.to_owned()),
                Unit::IntensitySquared => (
                    format!("{}2", intensity.0),
                    format!("{} squared", intensity.1),
                ),
                Unit::IntensitySquaredMm3 => (
                    format!("{}2.mm3", intensity.0),
                    format!("{} squared cubic millimetre", intensity.1),
                ),
                Unit::Mm => ("mm".to_owned(), "millimeter".to_owned()),
                Unit::Mm2 => ("mm2".to_owned(), "square millimeter".to_owned()),
                Unit::Mm3 => ("mm3".to_owned(), "cubic millimeter".to_owned()),
                Unit::PerMm => ("/mm".to_owned(), "per millimeter".to_owned()),
            };
            Measurement {
                concept,
                value: *value,
                unit: Code::new(&unit, "UCUM", &meaning),
            }
        })
        .collect())
}

/// Writes the result objects `which` of `slices` into `dir` and returns what was written, in
/// order (PM, SEG, heatmap SEG, SR). `threshold` is the heatmap segmentation's (the pane's).
pub fn write_result_objects(
    dicom: &mut DicomExport,
    dir: &Path,
    which: ResultObjects,
    slices: &[ExplainedSlice],
    threshold: f32,
    model_name: &str,
    policy: &WritePolicy,
) -> Result<Vec<(&'static str, PathBuf, WrittenInstance)>, ExportError> {
    // Checked before anything is written: no half an export.
    if which.segmentation && slices.iter().all(|s| s.mask.is_none()) {
        return Err(ExportError::Invalid {
            reason: "a Segmentation needs a region: draw an ROI, or give --mask (or a study SEG)"
                .to_owned(),
        });
    }
    let sources: Vec<SourceImage> = slices.iter().map(|s| s.source.clone()).collect();
    let mut written = Vec::new();
    let mut map = None;
    if which.parametric_map {
        let path = dir.join(PARAMETRIC_MAP_FILE);
        let frames: Vec<(SourceImage, &Heatmap)> = slices
            .iter()
            .map(|s| (s.source.clone(), &s.heatmap))
            .collect();
        let instance = dicom.write_parametric_map(&path, &frames, policy)?;
        map = Some(instance.clone());
        written.push(("pmap", path, instance));
    }
    let mut segmentation = None;
    if which.segmentation {
        let path = dir.join(SEGMENTATION_FILE);
        let segment = Segment::roi("ROI", slices.iter().map(|s| s.mask.clone()).collect());
        let instance = dicom.write_segmentation(
            &path,
            &sources,
            &[segment],
            SegmentationType::Binary,
            policy,
        )?;
        segmentation = Some(instance.clone());
        written.push(("seg", path, instance));
    }
    if which.heatmap_segmentation {
        let path = dir.join(HEATMAP_SEGMENTATION_FILE);
        let maps: Vec<&Heatmap> = slices.iter().map(|s| &s.heatmap).collect();
        let segment = Segment::heatmap_region(&maps, threshold);
        let instance = dicom.write_segmentation(
            &path,
            &sources,
            &[segment],
            SegmentationType::Fractional,
            policy,
        )?;
        written.push(("seg", path, instance));
    }
    if which.report {
        let path = dir.join(REPORT_FILE);
        let regions = slices
            .iter()
            .enumerate()
            .map(|(frame, s)| {
                let method = s.heatmap.provenance.method.name().to_owned();
                ReportedRegion {
                    tracking_id: format!("{method} slice {}", s.index),
                    source: s.source.clone(),
                    method,
                    segment: segmentation
                        .as_ref()
                        .filter(|_| s.mask.is_some())
                        .map(|seg| SegmentReference {
                            sop_class_uid: seg.sop_class_uid.clone(),
                            sop_instance_uid: seg.sop_instance_uid.clone(),
                            segment_number: 1,
                        }),
                    heatmap: map.as_ref().map(|pm| FrameReference {
                        sop_class_uid: pm.sop_class_uid.clone(),
                        sop_instance_uid: pm.sop_instance_uid.clone(),
                        frame_number: u32::try_from(frame + 1).unwrap_or(u32::MAX),
                    }),
                    probability: Some(f64::from(s.probability)),
                    measurements: s.measurements.clone(),
                    verdict: s.verdict.clone(),
                    note: s.note.clone(),
                    entry_json: s.entry_json.clone(),
                }
            })
            .collect();
        let report = Report {
            model_name: model_name.to_owned(),
            regions,
            evidence: written.iter().map(|(_, _, i)| i.clone()).collect(),
        };
        let instance = dicom.write_report(&path, &report, policy)?;
        written.push(("sr", path, instance));
    }
    Ok(written)
}
