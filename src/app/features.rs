//! The features panel's glue: for the active region of the slice on screen it computes the
//! handcrafted radiomics features on a named background thread and the deep features on the
//! model worker (progress, cancel), each once per region and recomputed when the region
//! changes; it copies and exports the features as CSV, and turns "explain this unit" into a
//! comparison of feature-unit explanations.

use std::sync::Arc;

use super::RadlensApp;
use super::background::Background;
use super::metrics::RegionKey;
use crate::explain::{Method, Target};
use crate::features::DeepInput;
use crate::features::analysis;
use crate::radiomics::{self, Settings};
use crate::ui;
use crate::ui::compare::CompareLayout;
use crate::ui::features::{DeepBar, FeatureRow, FeaturesAction, FeaturesReport, SimilarCase};
use crate::ui::metrics::Progress;

/// What the features were computed for: the volume, the region, and how often the user asked
/// to recompute.
#[derive(Clone, Debug, PartialEq)]
struct FeatureKey {
    volume: usize,
    region: RegionKey,
    generation: u32,
    /// What the model is given (the open cohort's `diagnostics_Deep_Input`, else the slice).
    deep_input: String,
}

/// Similar cases asked for: the deep features (by identity), the table, the case excluded.
type SimilarKey = (usize, usize, Option<usize>);

/// Cases of the open cohort shown as similar.
const SIMILAR_CASES: usize = 6;

/// The slice and region the deep features are asked for.
#[derive(Clone, Copy)]
struct DeepSlice<'a> {
    volume: &'a crate::dicom::Volume,
    slice: usize,
    mask: &'a [bool],
    input: DeepInput,
}

/// Slice `slice` of `volume` as `f64`, row-major: copied only when a computation starts, not
/// on every frame the panel is open.
fn slice_values(volume: &crate::dicom::Volume, slice: usize) -> Vec<f64> {
    let [_, rows, cols] = volume.shape;
    let mut values = vec![0.0_f32; rows * cols];
    volume.slice_f32_into(slice, &mut values);
    values.into_iter().map(f64::from).collect()
}

/// Handcrafted features of a region and the extraction's warnings.
#[derive(Debug)]
pub struct Extracted {
    pub features: Vec<(String, f64)>,
    pub warnings: Vec<String>,
}

type Deep = Result<Arc<Vec<(String, f64)>>, String>;

/// The panel's state.
#[derive(Default)]
pub struct FeaturesPanel {
    pub open: bool,
    pub search: String,
    generation: u32,
    handcrafted: Option<Background<FeatureKey, Result<Arc<Extracted>, String>>>,
    /// The deep features asked of the worker: for what, and the request id.
    deep_request: Option<(FeatureKey, u64)>,
    deep: Option<(FeatureKey, Deep)>,
    /// The deep unit picked in the chart.
    pub selected: Option<usize>,
    /// The embed component picked in its chart.
    pub selected_embed: Option<usize>,
    /// The last copy/export's outcome.
    pub status: Option<String>,
    /// The open cohort's nearest cases for the deep features on screen.
    similar: Option<(SimilarKey, Result<Vec<analysis::Neighbour>, String>)>,
}

impl FeaturesPanel {
    /// Forgets what was computed (a new study); stays open or closed.
    pub fn reset(&mut self) {
        *self = Self {
            open: self.open,
            search: std::mem::take(&mut self.search),
            generation: self.generation,
            ..Self::default()
        };
    }

    /// The handcrafted features last computed, if any (tests, Copy/Export).
    #[must_use]
    pub fn handcrafted(&self) -> Option<Arc<Extracted>> {
        self.handcrafted
            .as_ref()
            .and_then(Background::value)
            .and_then(|r| r.as_ref().ok().cloned())
    }

    /// The deep features last computed, if any.
    #[must_use]
    pub fn deep(&self) -> Option<Arc<Vec<(String, f64)>>> {
        self.deep
            .as_ref()
            .and_then(|(_, r)| r.as_ref().ok().cloned())
    }
}

/// The handcrafted features of `mask` on one slice `[rows, cols]` with PyRadiomics' default
/// settings (the same as `radlens features` without a parameter file, so that a cohort case
/// opened in the viewer shows its CSV values).
fn extract_slice(
    values: &[f64],
    mask: &[bool],
    rows: usize,
    cols: usize,
    spacing_mm: [f64; 3],
) -> Result<Arc<Extracted>, String> {
    let labels: Vec<u32> = mask.iter().map(|&m| u32::from(m)).collect();
    let volume = radiomics::Volume {
        values,
        labels: &labels,
        dims: [1, rows, cols],
        spacing_mm,
    };
    let extraction =
        radiomics::extract(&volume, &Settings::default()).map_err(|e| e.to_string())?;
    Ok(Arc::new(Extracted {
        features: extraction.features,
        warnings: extraction.warnings,
    }))
}

/// Features as a two-column CSV (`feature,value`), handcrafted first.
fn features_csv(handcrafted: &[(String, f64)], deep: &[(String, f64)]) -> String {
    let mut text = String::from("feature,value\n");
    for (name, value) in handcrafted.iter().chain(deep) {
        text.push_str(name);
        text.push(',');
        text.push_str(&crate::features::format_value(*value));
        text.push('\n');
    }
    text
}

/// `original_<class>_<Feature>` → PyRadiomics' class and feature, and IBSI's name and unit
/// ([`radiomics::ibsi`]; units in the image's intensity unit, HU for CT).
fn feature_row(column: &str, value: f64, intensity_unit: &str, icc: Option<f64>) -> FeatureRow {
    let (class, feature, ibsi, unit) =
        if let Some((class, feature, ibsi)) = radiomics::ibsi::describe_column(column) {
            (
                class.name().to_owned(),
                feature.to_owned(),
                Some(ibsi.name.to_owned()),
                ibsi.unit.text(intensity_unit),
            )
        } else {
            let rest = column.strip_prefix("original_").unwrap_or(column);
            let (class, feature) = rest.split_once('_').unwrap_or(("other", rest));
            (class.to_owned(), feature.to_owned(), None, String::new())
        };
    FeatureRow {
        column: column.to_owned(),
        class,
        feature,
        ibsi,
        unit,
        value,
        icc,
    }
}

/// `deep_mean_K` columns as bars, in unit order.
fn deep_bars(deep: &[(String, f64)], icc: &dyn Fn(&str) -> Option<f64>) -> Vec<DeepBar> {
    bars_of("deep_mean_", deep, icc)
}

/// `{prefix}K` columns as bars, in unit order.
fn bars_of(
    prefix: &str,
    deep: &[(String, f64)],
    icc: &dyn Fn(&str) -> Option<f64>,
) -> Vec<DeepBar> {
    let mut bars: Vec<DeepBar> = deep
        .iter()
        .filter_map(|(name, value)| {
            let unit = name.strip_prefix(prefix)?.parse().ok()?;
            Some(DeepBar {
                unit,
                column: name.clone(),
                value: *value,
                icc: icc(name),
            })
        })
        .collect();
    bars.sort_by_key(|b| b.unit);
    bars
}

impl RadlensApp {
    /// The features panel (right), when open.
    pub(super) fn features_panel(&mut self, ui: &mut egui::Ui) {
        if !self.features.open {
            return;
        }
        let ctx = ui.ctx().clone();
        let report = self.features_report(&ctx);
        let mut actions = Vec::new();
        egui::Panel::right("features")
            .default_size(ui::theme::FEATURES_PANEL_WIDTH)
            .show(ui, |ui| {
                actions = ui::features::features_panel_ui(ui, &report, &mut self.features.search);
            });
        for action in &actions {
            self.apply_features(action, &ctx);
        }
    }

    /// Starts what the region needs and gathers what the panel shows.
    fn features_report(&mut self, ctx: &egui::Context) -> FeaturesReport {
        let mut report = FeaturesReport {
            status: self.features.status.clone(),
            selected: self.features.selected,
            selected_embed: self.features.selected_embed,
            ..FeaturesReport::default()
        };
        let Some(slice) = self.study.as_ref().map(|s| s.view.slice) else {
            return report;
        };
        report.region = self
            .active_region(slice)
            .map(|roi| super::roi::describe(&roi));
        let Some((region, Some(mask))) = self.region_mask(slice, ctx) else {
            if report.region.is_some() {
                report.handcrafted = Some(Progress::Running(0.0));
            }
            return report;
        };
        report.pixels = Some(mask.iter().filter(|&&m| m).count());
        let Some(study) = &self.study else {
            return report;
        };
        let volume = Arc::clone(&study.volume);
        let deep_input = self
            .cohort
            .table()
            .and_then(|t| t.deep_input.as_deref())
            .and_then(DeepInput::parse_described)
            .unwrap_or(DeepInput::Slice);
        let key = FeatureKey {
            volume: Arc::as_ptr(&volume) as usize,
            region,
            generation: self.features.generation,
            deep_input: deep_input.describe(),
        };
        let [_, rows, cols] = volume.shape;
        let g = &volume.geometry;
        let spacing_mm = [
            crate::features::source::itk_slice_spacing(&volume),
            g.spacing_mm[1],
            g.spacing_mm[2],
        ];

        let for_extraction = (Arc::clone(&volume), Arc::clone(&mask));
        let handcrafted = Background::get(
            &mut self.features.handcrafted,
            key.clone(),
            ctx,
            move || {
                let values = slice_values(&for_extraction.0, slice);
                extract_slice(&values, &for_extraction.1, rows, cols, spacing_mm)
            },
        );
        // From the open cohort's stability table, if it has one.
        let cohort = &self.cohort;
        let icc = |name: &str| cohort.icc(name);
        let intensity = if volume.modality == "CT" { "HU" } else { "" };
        report.handcrafted = Some(match handcrafted {
            None => Progress::Running(0.0),
            Some(Err(e)) => Progress::Done(Err(e)),
            Some(Ok(extracted)) => {
                report.warnings.clone_from(&extracted.warnings);
                Progress::Done(Ok(extracted
                    .features
                    .iter()
                    .map(|(name, value)| feature_row(name, *value, intensity, icc(name)))
                    .collect()))
            }
        });

        let slice_input = DeepSlice {
            volume: &volume,
            slice,
            mask: &mask,
            input: deep_input,
        };
        self.deep_report(&key, slice_input, &mut report);
        report.similar = self.similar_cases(ctx);
        report
    }

    /// The open cohort's cases nearest to the deep features on screen, with their previews.
    fn similar_cases(&mut self, ctx: &egui::Context) -> Option<Result<Vec<SimilarCase>, String>> {
        let deep = self.features.deep()?;
        let table = Arc::clone(self.cohort.table()?);
        let exclude = self.cohort_case_on_screen();
        let key = (
            Arc::as_ptr(&deep) as usize,
            Arc::as_ptr(&table) as usize,
            exclude,
        );
        if self
            .features
            .similar
            .as_ref()
            .is_none_or(|(k, _)| *k != key)
        {
            let found =
                analysis::nearest(&table, &deep, SIMILAR_CASES, exclude).map_err(|e| e.to_string());
            self.features.similar = Some((key, found));
        }
        let (_, found) = self.features.similar.as_ref()?;
        let neighbours = match found {
            Ok(n) => n.clone(),
            Err(e) => return Some(Err(e.clone())),
        };
        Some(Ok(neighbours
            .into_iter()
            .map(|n| {
                let (thumbnail, note) = match self.cohort.preview(n.case, ctx) {
                    super::cohort::PreviewState::Ready(t) => (Some(t), String::new()),
                    super::cohort::PreviewState::Loading => (None, String::new()),
                    super::cohort::PreviewState::Failed(e) => (None, e),
                };
                SimilarCase {
                    case: n.case,
                    id: table.cases[n.case].id.clone(),
                    similarity: n.similarity,
                    thumbnail,
                    note,
                }
            })
            .collect()))
    }

    /// Asks the worker for the region's deep features when they are not there or on their way,
    /// and puts what there is into `report` (with the cohort's ICCs).
    fn deep_report(&mut self, key: &FeatureKey, slice: DeepSlice<'_>, report: &mut FeaturesReport) {
        let cohort = &self.cohort;
        let icc = |name: &str| cohort.icc(name);
        if let Some(session) = &mut self.model {
            if let Some((id, result)) = session.deep_result.take()
                && let Some((for_key, _)) = self
                    .features
                    .deep_request
                    .take_if(|(_, asked)| *asked == id)
            {
                self.features.deep = Some((for_key, result.map(Arc::new)));
            }
            let current = self.features.deep.as_ref().is_some_and(|(k, _)| *k == *key)
                || self
                    .features
                    .deep_request
                    .as_ref()
                    .is_some_and(|(k, _)| *k == *key);
            if !current {
                let DeepSlice {
                    volume,
                    slice,
                    mask,
                    input,
                } = slice;
                let [_, rows, cols] = volume.shape;
                let values = slice_values(volume, slice);
                let labels: Vec<u32> = mask.iter().map(|&m| u32::from(m)).collect();
                match session.deep_features(values, [1, rows, cols], labels, input) {
                    Ok(id) => self.features.deep_request = Some((key.clone(), id)),
                    Err(e) => self.features.deep = Some((key.clone(), Err(e))),
                }
            }
            report.deep = Some(match (&self.features.deep, &session.deep) {
                (Some((k, Ok(deep))), _) if *k == *key => {
                    report.embed = bars_of("deep_embed_", deep, &icc);
                    Progress::Done(Ok(deep_bars(deep, &icc)))
                }
                (Some((k, Err(e))), _) if *k == *key => Progress::Done(Err(e.clone())),
                (_, Some(run)) => Progress::Running(run.fraction),
                _ => Progress::NotRun,
            });
        }
    }

    fn apply_features(&mut self, action: &FeaturesAction, ctx: &egui::Context) {
        match action {
            FeaturesAction::Cancel => {
                if let Some(session) = &mut self.model {
                    session.cancel_deep();
                }
                if let Some((key, _)) = self.features.deep_request.take() {
                    self.features.deep = Some((key, Err("cancelled".to_owned())));
                }
            }
            FeaturesAction::Recompute => {
                self.features.generation += 1;
            }
            FeaturesAction::CopyCsv => {
                let text = self.features_text();
                ctx.copy_text(text);
                self.features.status = Some("features copied as CSV".to_owned());
            }
            FeaturesAction::ExportCsv => {
                self.ask_for_paths(ctx, super::menus::Dialog::FeaturesCsv);
            }
            FeaturesAction::Select(unit) => self.features.selected = Some(*unit),
            FeaturesAction::ExplainUnit(unit) => self.explain_unit(*unit, ctx),
            FeaturesAction::SelectEmbed(k) => self.features.selected_embed = Some(*k),
            FeaturesAction::ExplainEmbed(k) => self.explain_embed(*k),
            FeaturesAction::Beside(case) => self.cohort.beside = Some(*case),
            FeaturesAction::OpenCase(case) => self.open_cohort_case(*case, ctx),
        }
    }

    /// The features on screen as CSV text.
    fn features_text(&self) -> String {
        let handcrafted = self.features.handcrafted();
        let deep = self.features.deep();
        features_csv(
            handcrafted.as_ref().map_or(&[][..], |h| &h.features),
            deep.as_ref().map_or(&[][..], |d| d.as_slice()),
        )
    }

    /// Writes the features on screen to `path` (atomically; never over a file the study read).
    pub(super) fn export_features_csv(&mut self, path: &std::path::Path) {
        let text = self.features_text();
        let result = crate::output::write_atomically(path, &self.write_policy(true), |w| {
            std::io::Write::write_all(w, text.as_bytes())
        });
        self.features.status = Some(match result {
            Ok(()) => format!("features written to {}", path.display()),
            Err(e) => format!("features not written: {e}"),
        });
    }

    /// Shows unit `unit` pooled over the active region in a three-pane comparison: Grad-CAM
    /// (at the `features` layer it is the unit's own activation map, rectified), Integrated
    /// Gradients and occlusion.
    pub fn explain_unit(&mut self, unit: usize, ctx: &egui::Context) {
        let Some(slice) = self.study.as_ref().map(|s| s.view.slice) else {
            return;
        };
        let roi = self.region_mask(slice, ctx).and_then(|(_, mask)| mask);
        let Some(session) = &mut self.model else {
            self.error = Some("explaining a feature unit needs a model".to_owned());
            return;
        };
        let s = &self.settings;
        session.ensure_panes(3, s.colormap, s.heat_opacity, s.heat_threshold);
        let cam = if session.card.capabilities.cam.is_available() {
            Method::GradCam
        } else {
            Method::SmoothGrad
        };
        for (pane, method) in [cam, Method::IntegratedGradients, Method::Occlusion]
            .into_iter()
            .enumerate()
        {
            // A running explanation of the old target would land after the change.
            session.cancel_explanation(pane);
            let explanation = &mut session.panes[pane];
            explanation.choice.method = method;
            explanation.choice.target = Target::feature(unit);
            explanation.feature_roi.clone_from(&roi);
            explanation.result = None;
        }
        self.compare = Some(CompareLayout {
            panes: 3,
            ..CompareLayout::default()
        });
        self.features.selected = Some(unit);
    }
}

impl RadlensApp {
    /// Shows component `k` of the model's `embed(x)` in a three-pane comparison: Integrated
    /// Gradients, SmoothGrad and occlusion (an embedding has no CAM layer).
    pub fn explain_embed(&mut self, k: usize) {
        let Some(session) = &mut self.model else {
            self.error = Some("explaining an embed component needs a model".to_owned());
            return;
        };
        let s = &self.settings;
        session.ensure_panes(3, s.colormap, s.heat_opacity, s.heat_threshold);
        for (pane, method) in [
            Method::IntegratedGradients,
            Method::SmoothGrad,
            Method::Occlusion,
        ]
        .into_iter()
        .enumerate()
        {
            session.cancel_explanation(pane);
            let explanation = &mut session.panes[pane];
            explanation.choice.method = method;
            explanation.choice.target = Target::embed(k);
            explanation.feature_roi = None;
            explanation.result = None;
        }
        self.compare = Some(CompareLayout {
            panes: 3,
            ..CompareLayout::default()
        });
        self.features.selected_embed = Some(k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_bars_are_the_mean_units_in_unit_order() {
        let deep = vec![
            ("deep_mean_10".to_owned(), 1.0),
            ("deep_max_0".to_owned(), 5.0),
            ("deep_mean_2".to_owned(), 3.0),
        ];
        let bars = deep_bars(&deep, &|name| (name == "deep_mean_2").then_some(0.5));
        let units: Vec<usize> = bars.iter().map(|b| b.unit).collect();
        assert_eq!(units, [2, 10]);
        assert_eq!(bars[0].icc, Some(0.5));
        assert_eq!(bars[1].icc, None);
    }

    #[test]
    fn csv_lists_handcrafted_then_deep_with_round_trip_values() {
        let text = features_csv(
            &[("original_firstorder_Mean".to_owned(), 0.1)],
            &[("deep_mean_0".to_owned(), f64::NAN)],
        );
        assert_eq!(
            text,
            "feature,value\noriginal_firstorder_Mean,0.1\ndeep_mean_0,nan\n"
        );
    }

    #[test]
    fn one_slice_region_gives_pyradiomics_shape_of_its_pixels() {
        // A 4×5 rectangle of 0.5 mm pixels, 2 mm slices: VoxelVolume = 20 · 0.5 · 0.5 · 2.
        let (rows, cols) = (12, 12);
        let mut mask = vec![false; rows * cols];
        for r in 3..7 {
            for c in 2..7 {
                mask[r * cols + c] = true;
            }
        }
        let values: Vec<f64> = (0..rows * cols).map(|i| (i % 7) as f64 * 10.0).collect();
        let extracted = extract_slice(&values, &mask, rows, cols, [2.0, 0.5, 0.5]).unwrap();
        let volume = extracted
            .features
            .iter()
            .find(|(n, _)| n == "original_shape_VoxelVolume")
            .unwrap()
            .1;
        assert!((volume - 10.0).abs() < 1e-9, "{volume}");
    }

    #[test]
    fn rows_carry_ibsi_names_and_units_in_the_images_unit() {
        let row = feature_row("original_firstorder_Variance", 4.0, "HU", None);
        assert_eq!(
            (row.class.as_str(), row.feature.as_str()),
            ("firstorder", "Variance")
        );
        assert_eq!(row.unit, "HU²");
        assert!(row.ibsi.is_some());
        let deep = feature_row("deep_mean_0", 1.0, "HU", None);
        assert_eq!((deep.ibsi, deep.unit), (None, String::new()));
    }
}
