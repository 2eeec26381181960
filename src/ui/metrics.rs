//! The metrics & review panel: per explanation on screen its deletion/insertion curves and AUCs,
//! sparseness, localisation against the active region, the randomisation sanity check, and the
//! reviewer's verdict and note; the agreement between comparison panes; the review file.

use egui::RichText;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use crate::explain::metrics::{Curve, Faithfulness, PointingGame, RandomisationCheck, ScoreKind};
use crate::review::Verdict;

use super::roi::RoiSource;
use super::theme;

/// Which model-dependent metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    Faithfulness,
    Randomisation,
}

/// The share of pixels compared by the top-k IoU agreement, in percent (the panel's column
/// heading; the app computes the agreement with it).
pub const TOP_K_PERCENT: f64 = 10.0;

/// Localisation of one map against the active region (docs/EVALUATE.md).
#[derive(Clone, Debug)]
pub struct Localisation {
    pub pointing: Result<PointingGame, String>,
    pub mass: Result<f64, String>,
    pub rank: Result<f64, String>,
}

/// How much two panes' maps agree.
#[derive(Clone, Debug)]
pub struct Agreement {
    /// Pane indices (0-based), `a < b`.
    pub a: usize,
    pub b: usize,
    pub spearman: Result<f64, String>,
    pub top_k_iou: Result<f64, String>,
}

/// A model-dependent metric's state.
#[derive(Clone, Debug)]
pub enum Progress<T> {
    NotRun,
    /// Fraction done.
    Running(f32),
    Done(Result<T, String>),
}

/// What the panel shows for one explanation on screen.
#[derive(Clone, Debug)]
pub struct PaneReport {
    /// 0-based pane index.
    pub pane: usize,
    /// What is explained ("Grad-CAM for present, slice 3"); `None` while there is no heatmap.
    pub title: String,
    pub waiting: bool,
    pub faithfulness: Progress<Faithfulness>,
    pub randomisation: Progress<RandomisationCheck>,
    pub sparseness: Progress<f64>,
    /// `None` without an active region.
    pub localisation: Option<Progress<Localisation>>,
    pub verdict: Option<Verdict>,
    /// The region stored with the verdict.
    pub roi: Option<String>,
}

impl PaneReport {
    /// A pane whose explanation has not arrived (or was not asked for).
    #[must_use]
    pub fn waiting(pane: usize, method: &str) -> Self {
        Self {
            pane,
            title: format!("{method}: no explanation of this slice yet"),
            waiting: true,
            faithfulness: Progress::NotRun,
            randomisation: Progress::NotRun,
            sparseness: Progress::NotRun,
            localisation: None,
            verdict: None,
            roi: None,
        }
    }
}

/// The region the localisation uses.
#[derive(Clone, Debug)]
pub struct RegionInfo {
    pub source: RoiSource,
    pub description: Option<String>,
    pub pixels: Option<usize>,
    /// The study has a mask (DICOM SEG or `*.mask.npy`) on some slice.
    pub has_mask: bool,
}

/// The review file.
#[derive(Clone, Debug)]
pub struct ReviewInfo {
    pub path: Option<String>,
    pub dirty: bool,
    pub status: Option<Result<String, String>>,
    pub entries: usize,
}

#[derive(Clone, Debug)]
pub struct PanelReport {
    /// A model is loaded.
    pub model: bool,
    pub panes: Vec<PaneReport>,
    /// Pane indices (0-based) and their agreement, `None` while computing.
    pub agreement: Vec<(usize, usize, Option<Agreement>)>,
    pub region: RegionInfo,
    pub review: ReviewInfo,
}

/// What the reviewer asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanelAction {
    /// (Re)compute a metric of pane `usize`'s heatmap.
    Evaluate(usize, MetricKind),
    /// Stop pane `usize`'s metric computations.
    Cancel(usize),
    Verdict(usize, Verdict),
    /// The note of pane `usize` was edited (the text is in the note buffer).
    NoteChanged(usize),
    /// A note field lost focus: time to save.
    NoteFinished,
    Source(RoiSource),
    Save,
}

/// The panel; `notes[i]` is pane `i`'s note field.
pub fn metrics_panel_ui(
    ui: &mut egui::Ui,
    report: &PanelReport,
    mut notes: Vec<&mut String>,
) -> Vec<PanelAction> {
    let mut actions = Vec::new();
    ui.heading("Metrics & review");
    region_ui(ui, &report.region, &mut actions);
    ui.separator();
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            if !report.model {
                ui.label("Load a model to explain and evaluate (File menu).");
            }
            for pane in &report.panes {
                let Some(note) = notes.get_mut(pane.pane) else {
                    continue;
                };
                pane_ui(ui, pane, note, &mut actions);
                ui.separator();
            }
            if !report.agreement.is_empty() {
                agreement_ui(ui, &report.agreement);
                ui.separator();
            }
            review_ui(ui, &report.review, &mut actions);
        });
    actions
}

fn region_ui(ui: &mut egui::Ui, region: &RegionInfo, actions: &mut Vec<PanelAction>) {
    ui.horizontal_wrapped(|ui| {
        ui.label("Region");
        let mut source = region.source;
        ui.selectable_value(&mut source, RoiSource::Drawn, "drawn ROI")
            .on_hover_text("The latest ROI drawn on this slice (tools: o, b, p)");
        ui.add_enabled_ui(region.has_mask, |ui| {
            ui.selectable_value(&mut source, RoiSource::StudyMask, "study mask")
                .on_hover_text("The study's segmentation (DICOM SEG, *.mask.npy), this slice")
                .on_disabled_hover_text("The study has no segmentation");
        });
        if source != region.source {
            actions.push(PanelAction::Source(source));
        }
    });
    match (&region.description, region.pixels) {
        (Some(d), Some(n)) => ui.label(format!("{d}, {n} pixels")),
        (Some(d), None) => ui.label(d.clone()),
        (None, _) => ui.label(match region.source {
            RoiSource::Drawn => "No ROI on this slice: draw one (o ellipse, b box, p polygon).",
            RoiSource::StudyMask => "The study mask does not cover this slice.",
        }),
    };
}

fn pane_ui(
    ui: &mut egui::Ui,
    pane: &PaneReport,
    note: &mut String,
    actions: &mut Vec<PanelAction>,
) {
    let n = pane.pane;
    ui.label(RichText::new(format!("{} {}", n + 1, pane.title)).strong());
    if pane.waiting {
        return;
    }
    faithfulness_ui(ui, n, &pane.faithfulness, actions);
    match &pane.sparseness {
        Progress::Done(value) => {
            ui.label(format!(
                "Sparseness (Gini) {}",
                number(value.as_ref().map(|v| format!("{v:.3}")))
            ));
        }
        Progress::Running(_) => {
            ui.label("Sparseness (Gini) computing...");
        }
        Progress::NotRun => {}
    }
    match &pane.localisation {
        Some(Progress::Done(Ok(l))) => localisation_ui(ui, l),
        Some(Progress::Done(Err(e))) => {
            ui.colored_label(theme::ERROR_TEXT, e);
        }
        Some(_) => {
            ui.label("Localisation computing...");
        }
        None => {}
    }
    randomisation_ui(ui, n, &pane.randomisation, actions);
    verdict_ui(ui, pane, note, actions);
}

fn faithfulness_ui(
    ui: &mut egui::Ui,
    pane: usize,
    state: &Progress<Faithfulness>,
    actions: &mut Vec<PanelAction>,
) {
    match state {
        Progress::NotRun => {
            ui.horizontal(|ui| {
                ui.label("Faithfulness");
                if ui.button("Compute").clicked() {
                    actions.push(PanelAction::Evaluate(pane, MetricKind::Faithfulness));
                }
            });
        }
        Progress::Running(fraction) => {
            ui.horizontal(|ui| {
                ui.add(
                    egui::ProgressBar::new(*fraction)
                        .desired_width(180.0)
                        .text(format!("deletion/insertion {:.0}%", fraction * 100.0)),
                );
                if ui.button("Cancel").clicked() {
                    actions.push(PanelAction::Cancel(pane));
                }
            });
        }
        Progress::Done(Err(e)) => {
            ui.horizontal_wrapped(|ui| {
                ui.colored_label(theme::ERROR_TEXT, format!("Faithfulness: {e}"));
                if ui.button("Retry").clicked() {
                    actions.push(PanelAction::Evaluate(pane, MetricKind::Faithfulness));
                }
            });
        }
        Progress::Done(Ok(f)) => {
            ui.label(format!(
                "Deletion AUC {:.3} (lower is better)",
                f.deletion.auc
            ));
            ui.label(format!(
                "Insertion AUC {:.3} (higher is better)",
                f.insertion.auc
            ));
            curves_plot(ui, pane, f);
        }
    }
}

fn curves_plot(ui: &mut egui::Ui, pane: usize, f: &Faithfulness) {
    let points = |c: &Curve| -> PlotPoints<'static> {
        c.fractions
            .iter()
            .zip(&c.scores)
            .map(|(x, y)| [*x, *y])
            .collect()
    };
    let score = match f.score {
        ScoreKind::Probability => "probability",
        ScoreKind::Logit => "logit",
    };
    let mut plot = Plot::new(("faithfulness curves", pane))
        .height(theme::CURVE_PLOT_HEIGHT)
        .legend(Legend::default())
        .x_axis_label("fraction of pixels changed")
        .y_axis_label(score)
        .include_x(0.0)
        .include_x(1.0)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false);
    if f.score == ScoreKind::Probability {
        plot = plot.include_y(0.0).include_y(1.0);
    }
    plot.show(ui, |plot_ui| {
        plot_ui.line(
            Line::new("deletion", points(&f.deletion))
                .color(theme::DELETION_CURVE)
                .width(2.0),
        );
        plot_ui.line(
            Line::new("insertion", points(&f.insertion))
                .color(theme::INSERTION_CURVE)
                .width(2.0),
        );
    });
}

fn localisation_ui(ui: &mut egui::Ui, l: &Localisation) {
    let pointing = match &l.pointing {
        Ok(p) if p.maxima > 1 => format!(
            "{} ({} of {} maxima inside)",
            if p.hit { "hit" } else { "miss" },
            p.maxima_inside,
            p.maxima
        ),
        Ok(p) => (if p.hit { "hit" } else { "miss" }).to_owned(),
        Err(e) => format!("n/a ({e})"),
    };
    ui.label(format!("Pointing game {pointing}"));
    ui.label(format!(
        "Relevance mass {}  rank {}",
        number(l.mass.as_ref().map(|v| format!("{v:.3}"))),
        number(l.rank.as_ref().map(|v| format!("{v:.3}")))
    ));
}

fn randomisation_ui(
    ui: &mut egui::Ui,
    pane: usize,
    state: &Progress<RandomisationCheck>,
    actions: &mut Vec<PanelAction>,
) {
    let run = |ui: &mut egui::Ui, label: &str, actions: &mut Vec<PanelAction>| {
        if ui
            .button(label)
            .on_hover_text(
                "Explain again with the model's top layers re-drawn at random and compare \
                 (Adebayo et al. 2018); slow",
            )
            .clicked()
        {
            actions.push(PanelAction::Evaluate(pane, MetricKind::Randomisation));
        }
    };
    match state {
        Progress::NotRun => {
            ui.horizontal(|ui| run(ui, "Randomisation check", actions));
        }
        Progress::Running(fraction) => {
            ui.horizontal(|ui| {
                ui.add(
                    egui::ProgressBar::new(*fraction)
                        .desired_width(180.0)
                        .text(format!("randomisation {:.0}%", fraction * 100.0)),
                );
                if ui.button("Cancel").clicked() {
                    actions.push(PanelAction::Cancel(pane));
                }
            });
        }
        Progress::Done(Err(e)) => {
            ui.horizontal_wrapped(|ui| {
                ui.colored_label(theme::ERROR_TEXT, format!("Randomisation: {e}"));
                run(ui, "Retry", actions);
            });
        }
        Progress::Done(Ok(check)) => {
            for stage in &check.stages {
                ui.label(format!(
                    "{}: similarity {:.3}{}",
                    stage.stage.description,
                    stage.similarity,
                    if stage.constant {
                        " (constant map)"
                    } else {
                        ""
                    }
                ));
            }
            if check.flagged {
                ui.colored_label(
                    theme::ERROR_TEXT,
                    format!(
                        "Flagged: the map barely depends on the weights (similarity >= {:.2})",
                        check.threshold
                    ),
                );
            } else {
                ui.colored_label(theme::GOOD_TEXT, "Passes: the map changes with the weights");
            }
        }
    }
}

fn verdict_ui(
    ui: &mut egui::Ui,
    pane: &PaneReport,
    note: &mut String,
    actions: &mut Vec<PanelAction>,
) {
    let n = pane.pane;
    ui.horizontal(|ui| {
        ui.label("Verdict");
        for (verdict, label) in [
            (Verdict::Plausible, "Plausible"),
            (Verdict::Implausible, "Implausible"),
            (Verdict::Unsure, "Unsure"),
        ] {
            if ui
                .selectable_label(pane.verdict == Some(verdict), label)
                .clicked()
            {
                actions.push(PanelAction::Verdict(n, verdict));
            }
        }
    });
    let response = ui.add(
        egui::TextEdit::multiline(note)
            .id_salt(("review note", n))
            .hint_text("note")
            .desired_rows(2)
            .desired_width(f32::INFINITY),
    );
    if response.changed() {
        actions.push(PanelAction::NoteChanged(n));
    }
    if response.lost_focus() {
        actions.push(PanelAction::NoteFinished);
    }
    match (&pane.verdict, &pane.roi) {
        (Some(_), Some(roi)) => {
            ui.label(format!("reviewed with ROI: {roi}"));
        }
        (Some(_), None) => {
            ui.label("reviewed without ROI");
        }
        (None, _) => {
            ui.label("not reviewed yet (the note is kept with the verdict)");
        }
    }
}

fn agreement_ui(ui: &mut egui::Ui, agreement: &[(usize, usize, Option<Agreement>)]) {
    ui.label(RichText::new("Agreement between panes").strong());
    egui::Grid::new("agreement").striped(true).show(ui, |ui| {
        ui.label("panes");
        ui.label("Spearman");
        ui.label(format!("top {TOP_K_PERCENT:.0}% IoU"));
        ui.end_row();
        for (a, b, value) in agreement {
            ui.label(format!("{} vs {}", a + 1, b + 1));
            if let Some(v) = value {
                ui.label(number(v.spearman.as_ref().map(|v| format!("{v:.3}"))));
                ui.label(number(v.top_k_iou.as_ref().map(|v| format!("{v:.3}"))));
            } else {
                ui.label("computing...");
                ui.label("");
            }
            ui.end_row();
        }
    });
}

fn review_ui(ui: &mut egui::Ui, review: &ReviewInfo, actions: &mut Vec<PanelAction>) {
    ui.horizontal(|ui| {
        if ui
            .add_enabled(review.path.is_some(), egui::Button::new("Save review"))
            .on_hover_text("Ctrl+S; verdicts are saved as they are given")
            .clicked()
        {
            actions.push(PanelAction::Save);
        }
        ui.label(format!(
            "{} reviewed{}",
            review.entries,
            if review.dirty {
                ", unsaved changes"
            } else {
                ""
            }
        ));
    });
    match (&review.status, &review.path) {
        (Some(Err(e)), _) => {
            ui.colored_label(theme::ERROR_TEXT, e);
        }
        (Some(Ok(message)), _) => {
            ui.small(message);
        }
        (None, Some(path)) => {
            ui.small(format!("review file: {path}"));
        }
        (None, None) => {
            ui.small("no review folder (set one in Settings)");
        }
    }
}

/// A value, or "n/a (why)".
fn number(value: Result<String, &String>) -> String {
    value.unwrap_or_else(|e| format!("n/a ({e})"))
}
