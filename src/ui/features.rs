//! The features panel: for the active region, the handcrafted radiomics features grouped by
//! class (searchable, with IBSI names and units) and the deep features as a bar chart in which a
//! unit is picked to be explained.

use egui::{Color32, RichText, Sense, Stroke, Vec2};

use super::metrics::Progress;
use super::theme;
use crate::features::stability::{STABLE_ICC, is_unstable};

/// One handcrafted feature as the panel lists it.
#[derive(Clone, Debug)]
pub struct FeatureRow {
    /// The column name (`original_firstorder_Mean`): what Copy/Export write.
    pub column: String,
    /// PyRadiomics' class and feature names.
    pub class: String,
    pub feature: String,
    /// IBSI name, where the feature is an IBSI feature.
    pub ibsi: Option<String>,
    /// Unit text ("HU", "mm³"; empty: none).
    pub unit: String,
    pub value: f64,
    /// ICC(1,1) from the open cohort's stability file.
    pub icc: Option<f64>,
}

/// One deep feature unit (the pooled mean of channel `unit` of `features`).
#[derive(Clone, Debug)]
pub struct DeepBar {
    pub unit: usize,
    pub column: String,
    pub value: f64,
    pub icc: Option<f64>,
}

/// A case of the open cohort near the region in deep-feature space.
#[derive(Clone)]
pub struct SimilarCase {
    /// Index into the cohort's cases.
    pub case: usize,
    pub id: String,
    /// Cosine similarity of the standardised deep features.
    pub similarity: f64,
    pub thumbnail: Option<egui::TextureHandle>,
    /// Why there is no thumbnail (empty while it loads).
    pub note: String,
}

impl std::fmt::Debug for SimilarCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimilarCase")
            .field("case", &self.case)
            .field("id", &self.id)
            .field("similarity", &self.similarity)
            .finish_non_exhaustive()
    }
}

/// Everything the panel shows.
#[derive(Clone, Debug, Default)]
pub struct FeaturesReport {
    /// The active region, described; `None` without one.
    pub region: Option<String>,
    /// Pixels of the region on the slice.
    pub pixels: Option<usize>,
    pub handcrafted: Option<Progress<Vec<FeatureRow>>>,
    /// `None` without a model.
    pub deep: Option<Progress<Vec<DeepBar>>>,
    /// The components of the model's `embed(x)` (`deep_embed_K`), when it has one.
    pub embed: Vec<DeepBar>,
    /// The embed component picked for explanation.
    pub selected_embed: Option<usize>,
    /// Warnings of the extraction.
    pub warnings: Vec<String>,
    /// The deep unit picked for explanation.
    pub selected: Option<usize>,
    /// The last copy/export's outcome.
    pub status: Option<String>,
    /// The open cohort's nearest cases (`None` without a cohort or deep features).
    pub similar: Option<Result<Vec<SimilarCase>, String>>,
}

/// What the user asked for.
#[derive(Clone, Debug, PartialEq)]
pub enum FeaturesAction {
    Cancel,
    Recompute,
    CopyCsv,
    ExportCsv,
    Select(usize),
    /// Explain the selected unit pooled over the region (comparison: Grad-CAM, IG, occlusion).
    ExplainUnit(usize),
    SelectEmbed(usize),
    /// Explain the selected `embed` component (IG, SmoothGrad, occlusion: it has no CAM layer).
    ExplainEmbed(usize),
    /// Show a similar case of the cohort beside the study.
    Beside(usize),
    /// Open a similar case of the cohort in the viewer.
    OpenCase(usize),
}

/// The accessible name of a similar case's "beside" button.
#[must_use]
pub fn similar_label(id: &str) -> String {
    format!("similar case {id}")
}

fn value_text(value: f64) -> String {
    if value != 0.0 && (value.abs() >= 1e5 || value.abs() < 1e-3) {
        format!("{value:.3e}")
    } else {
        format!("{value:.4}")
    }
}

fn unstable_mark(ui: &mut egui::Ui, icc: Option<f64>) {
    if let Some(icc) = icc.filter(|&icc| is_unstable(icc)) {
        let why = if icc.is_finite() {
            format!("ICC(1,1) {icc:.2} < {STABLE_ICC} over the cohort's perturbations")
        } else {
            "ICC(1,1) not measurable over the cohort's perturbations".to_owned()
        };
        ui.colored_label(theme::ERROR_TEXT, "unstable")
            .on_hover_text(why);
    }
}

/// The panel; `search` filters the handcrafted features by any of their names.
pub fn features_panel_ui(
    ui: &mut egui::Ui,
    report: &FeaturesReport,
    search: &mut String,
) -> Vec<FeaturesAction> {
    let mut actions = Vec::new();
    ui.heading("Features");
    let Some(region) = &report.region else {
        ui.label("No region: draw an ROI (o, b, p) or show the study mask (m).");
        return actions;
    };
    ui.label(match report.pixels {
        Some(n) => format!("Region: {region}, {n} pixels"),
        None => format!("Region: {region}"),
    });
    let busy = matches!(report.handcrafted, Some(Progress::Running(_)))
        || matches!(report.deep, Some(Progress::Running(_)));
    ui.horizontal(|ui| {
        if busy {
            if ui.button("Cancel").clicked() {
                actions.push(FeaturesAction::Cancel);
            }
        } else if ui.button("Recompute").clicked() {
            actions.push(FeaturesAction::Recompute);
        }
        if ui.button("Copy CSV").clicked() {
            actions.push(FeaturesAction::CopyCsv);
        }
        if ui.button("Export CSV…").clicked() {
            actions.push(FeaturesAction::ExportCsv);
        }
    });
    if let Some(status) = &report.status {
        ui.small(status);
    }
    for warning in &report.warnings {
        ui.small(RichText::new(warning).color(theme::ERROR_TEXT));
    }
    ui.separator();
    deep_ui(ui, report, &mut actions);
    similar_ui(ui, report.similar.as_ref(), &mut actions);
    ui.separator();
    ui.horizontal(|ui| {
        let label = ui.label("Search");
        ui.text_edit_singleline(search).labelled_by(label.id);
    });
    egui::ScrollArea::vertical()
        .id_salt("handcrafted features")
        .show(ui, |ui| {
            handcrafted_ui(ui, report.handcrafted.as_ref(), search);
        });
    actions
}

/// The cohort's nearest cases: thumbnail, name, similarity; Beside and Open.
fn similar_ui(
    ui: &mut egui::Ui,
    similar: Option<&Result<Vec<SimilarCase>, String>>,
    actions: &mut Vec<FeaturesAction>,
) {
    let Some(similar) = similar else { return };
    ui.separator();
    let cases = match similar {
        Err(e) => {
            ui.colored_label(theme::ERROR_TEXT, format!("Similar cases: {e}"));
            return;
        }
        Ok(cases) => cases,
    };
    egui::CollapsingHeader::new(format!("Similar cases of the cohort ({})", cases.len()))
        .default_open(true)
        .show(ui, |ui| {
            if cases.is_empty() {
                ui.label("no case of the cohort has these deep features");
            }
            egui::ScrollArea::horizontal()
                .id_salt("similar cases")
                .show(ui, |ui| {
                    ui.horizontal(|ui| {
                        for case in cases {
                            ui.vertical(|ui| similar_case_ui(ui, case, actions));
                        }
                    });
                });
        });
}

fn similar_case_ui(ui: &mut egui::Ui, case: &SimilarCase, actions: &mut Vec<FeaturesAction>) {
    let size = Vec2::splat(theme::SIMILAR_THUMBNAIL);
    let response = if let Some(texture) = &case.thumbnail {
        ui.add(
            egui::Image::new((texture.id(), size))
                .sense(Sense::click())
                .fit_to_exact_size(size),
        )
    } else {
        let (rect, response) = ui.allocate_exact_size(size, Sense::click());
        ui.painter()
            .rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
        if case.note.is_empty() {
            egui::Spinner::new().paint_at(ui, rect.shrink(theme::SIMILAR_THUMBNAIL / 4.0));
        }
        response
    };
    let hover = if case.note.is_empty() {
        format!(
            "{}: similarity {:.3}; click to see it beside the study",
            case.id, case.similarity
        )
    } else {
        format!(
            "{}: similarity {:.3}; {}",
            case.id, case.similarity, case.note
        )
    };
    let response = response.on_hover_text(hover);
    response.widget_info(|| {
        egui::WidgetInfo::labeled(egui::Role::Button, true, similar_label(&case.id))
    });
    if response.clicked() {
        actions.push(FeaturesAction::Beside(case.case));
    }
    ui.small(&case.id);
    ui.small(format!("{:.2}", case.similarity));
    if ui
        .small_button("Open")
        .on_hover_text("open this case in the viewer")
        .clicked()
    {
        actions.push(FeaturesAction::OpenCase(case.case));
    }
}

fn handcrafted_ui(
    ui: &mut egui::Ui,
    handcrafted: Option<&Progress<Vec<FeatureRow>>>,
    search: &str,
) {
    let rows = match handcrafted {
        None | Some(Progress::NotRun) => {
            ui.label("Handcrafted features: not computed");
            return;
        }
        Some(Progress::Running(_)) => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Computing handcrafted features…");
            });
            return;
        }
        Some(Progress::Done(Err(e))) => {
            ui.colored_label(theme::ERROR_TEXT, format!("Handcrafted features: {e}"));
            return;
        }
        Some(Progress::Done(Ok(rows))) => rows,
    };
    let needle = search.trim().to_lowercase();
    let matches = |r: &FeatureRow| {
        needle.is_empty()
            || r.column.to_lowercase().contains(&needle)
            || r.ibsi
                .as_ref()
                .is_some_and(|n| n.to_lowercase().contains(&needle))
    };
    let mut classes: Vec<&str> = Vec::new();
    for row in rows {
        if !classes.contains(&row.class.as_str()) {
            classes.push(&row.class);
        }
    }
    for class in classes {
        let shown: Vec<&FeatureRow> = rows
            .iter()
            .filter(|r| r.class == class && matches(r))
            .collect();
        if shown.is_empty() {
            continue;
        }
        egui::CollapsingHeader::new(format!("{class} ({})", shown.len()))
            .default_open(!needle.is_empty() || class == "shape" || class == "firstorder")
            .show(ui, |ui| {
                egui::Grid::new(("features", class))
                    .striped(true)
                    .num_columns(3)
                    .show(ui, |ui| {
                        for row in shown {
                            let label = ui.label(&row.feature);
                            label.on_hover_text(match &row.ibsi {
                                Some(name) => format!("{} (IBSI: {name})", row.column),
                                None => format!("{} (not an IBSI feature)", row.column),
                            });
                            ui.label(format!("{} {}", value_text(row.value), row.unit));
                            unstable_mark(ui, row.icc);
                            ui.end_row();
                        }
                    });
            });
    }
}

fn deep_ui(ui: &mut egui::Ui, report: &FeaturesReport, actions: &mut Vec<FeaturesAction>) {
    let bars = match &report.deep {
        None => {
            ui.label("Deep features: load a model (File > Load model…)");
            return;
        }
        Some(Progress::NotRun) => {
            ui.label("Deep features: not computed");
            return;
        }
        Some(Progress::Running(fraction)) => {
            ui.add(egui::ProgressBar::new(*fraction).text("Deep features…"));
            return;
        }
        Some(Progress::Done(Err(e))) => {
            ui.colored_label(theme::ERROR_TEXT, format!("Deep features: {e}"));
            return;
        }
        Some(Progress::Done(Ok(bars))) => bars,
    };
    ui.label(format!(
        "Deep features: {} units (ROI mean of features); click a bar",
        bars.len()
    ));
    if let Some(unit) = bar_chart_ui(ui, bars, report.selected) {
        actions.push(FeaturesAction::Select(unit));
    }
    if let Some(bar) = report
        .selected
        .and_then(|k| bars.iter().find(|b| b.unit == k))
    {
        ui.horizontal(|ui| {
            ui.label(format!("{} = {}", bar.column, value_text(bar.value)));
            unstable_mark(ui, bar.icc);
        });
        if ui
            .button(format!("Explain unit {}", bar.unit))
            .on_hover_text(
                "Grad-CAM (its activation map), Integrated Gradients and occlusion of this unit \
                 pooled over the region, side by side",
            )
            .clicked()
        {
            actions.push(FeaturesAction::ExplainUnit(bar.unit));
        }
    }
    if !report.embed.is_empty() {
        ui.label(format!(
            "Embedding: {} components (embed(x) of the whole input); click a bar",
            report.embed.len()
        ));
        if let Some(k) = bar_chart_ui(ui, &report.embed, report.selected_embed) {
            actions.push(FeaturesAction::SelectEmbed(k));
        }
        if let Some(bar) = report
            .selected_embed
            .and_then(|k| report.embed.iter().find(|b| b.unit == k))
        {
            ui.horizontal(|ui| {
                ui.label(format!("{} = {}", bar.column, value_text(bar.value)));
                unstable_mark(ui, bar.icc);
            });
            if ui
                .button(format!("Explain embed {}", bar.unit))
                .on_hover_text(
                    "Integrated Gradients, SmoothGrad and occlusion of this component of the \
                     model's embedding, side by side (an embedding has no CAM layer)",
                )
                .clicked()
            {
                actions.push(FeaturesAction::ExplainEmbed(bar.unit));
            }
        }
    }
}

/// One bar per unit, scaled to the largest magnitude; returns the unit clicked.
fn bar_chart_ui(ui: &mut egui::Ui, bars: &[DeepBar], selected: Option<usize>) -> Option<usize> {
    let width = ui.available_width().max(100.0);
    let (rect, response) =
        ui.allocate_exact_size(Vec2::new(width, theme::DEEP_CHART_HEIGHT), Sense::click());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    let top = bars
        .iter()
        .map(|b| b.value.abs())
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let n = bars.len().max(1);
    let step = rect.width() / n as f32;
    let signed = bars.iter().any(|b| b.value < 0.0);
    let base = if signed {
        rect.center().y
    } else {
        rect.bottom()
    };
    let scale = (if signed {
        rect.height() / 2.0
    } else {
        rect.height()
    }) - 2.0;
    for (i, bar) in bars.iter().enumerate() {
        let x = rect.left() + step * i as f32;
        let h = (bar.value / top) as f32 * scale;
        let colour = if Some(bar.unit) == selected {
            theme::ROI_ACTIVE
        } else if bar.icc.is_some_and(is_unstable) {
            theme::ERROR_TEXT
        } else {
            theme::DEEP_BAR
        };
        let bar_rect = egui::Rect::from_two_pos(
            egui::pos2(x + step * 0.1, base),
            egui::pos2(x + step * 0.9, base - h),
        );
        painter.rect_filled(bar_rect, 0.0, colour);
    }
    painter.line_segment(
        [
            egui::pos2(rect.left(), base),
            egui::pos2(rect.right(), base),
        ],
        Stroke::new(1.0, Color32::GRAY),
    );
    let hovered = response
        .hover_pos()
        .map(|p| (((p.x - rect.left()) / step) as usize).min(n - 1));
    let response = match hovered.and_then(|i| bars.get(i)) {
        Some(bar) => response.on_hover_text(format!(
            "unit {}: {} ({})",
            bar.unit,
            value_text(bar.value),
            bar.column
        )),
        None => response,
    };
    response
        .clicked()
        .then_some(hovered)
        .flatten()
        .and_then(|i| bars.get(i))
        .map(|b| b.unit)
}
