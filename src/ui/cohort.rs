//! The cohort view: a features CSV of many cases as a Spearman correlation matrix (deep
//! features × handcrafted features and ground truth), the scatter plot of the pair picked in it
//! (one dot per case; a dot opens its case), the features' univariable AUCs for a chosen binary
//! outcome, the signatures' cross-validated AUCs and the features' stability.

use egui::{Color32, Pos2, Rect, RichText, Sense, Stroke, Vec2};

use super::theme;
use crate::features::analysis::SignatureRow;

/// The matrix as shown: names, values and marks in display order.
#[derive(Clone, Debug, Default)]
pub struct MatrixData {
    pub row_names: Vec<String>,
    pub col_names: Vec<String>,
    /// Group (feature class, "deep", "truth") of each column, an index into `groups`.
    pub col_groups: Vec<usize>,
    pub groups: Vec<String>,
    /// `rows × cols`, row-major.
    pub r: Vec<Option<f64>>,
    pub n: Vec<usize>,
    /// Below the stability threshold (or not measurable), per row and column.
    pub row_unstable: Vec<bool>,
    pub col_unstable: Vec<bool>,
}

impl MatrixData {
    fn get(&self, i: usize, j: usize) -> (Option<f64>, usize) {
        let k = i * self.col_names.len() + j;
        (
            self.r.get(k).copied().flatten(),
            self.n.get(k).copied().unwrap_or(0),
        )
    }
}

/// One case in the scatter plot.
#[derive(Clone, Debug)]
pub struct ScatterPoint {
    /// Index into the table's cases.
    pub case: usize,
    pub id: String,
    pub x: f64,
    pub y: f64,
    /// The outcome, when one is chosen.
    pub class: Option<bool>,
    /// The case open in the viewer.
    pub current: bool,
}

/// The pair picked in the matrix.
#[derive(Clone, Debug, Default)]
pub struct Scatter {
    pub x_name: String,
    pub y_name: String,
    pub rho: Option<f64>,
    pub n: usize,
    pub points: Vec<ScatterPoint>,
}

/// A feature's stability summarised by class.
#[derive(Clone, Debug)]
pub struct StabilityClass {
    pub class: String,
    pub features: usize,
    pub median_icc: Option<f64>,
    pub unstable: usize,
}

/// A feature's univariable AUC for the outcome.
#[derive(Clone, Debug)]
pub struct FeatureAuc {
    pub feature: String,
    pub auc: f64,
    pub unstable: bool,
}

/// Everything the view shows.
#[derive(Clone, Debug, Default)]
pub struct CohortReport<'a> {
    /// The features CSV shown.
    pub path: Option<String>,
    /// A table being read or a phantom cohort being made: what, and how far.
    pub busy: Option<(String, Option<f32>)>,
    /// Why the last file could not be opened.
    pub error: Option<String>,
    /// "60 cases, 0 failed, 256 deep and 105 handcrafted features, model …".
    pub summary: String,
    pub warnings: &'a [String],
    /// Row choices (deep feature families) and column choices (all, truth, classes).
    pub row_choices: Vec<String>,
    pub row_choice: usize,
    pub col_choices: Vec<String>,
    pub col_choice: usize,
    pub outcomes: &'a [String],
    pub outcome: Option<&'a str>,
    pub matrix: Option<&'a MatrixData>,
    pub selected: Option<(usize, usize)>,
    pub scatter: Option<Scatter>,
    pub aucs: &'a [FeatureAuc],
    pub signatures: Option<&'a [SignatureRow]>,
    pub stability: &'a [StabilityClass],
    /// Opening a case: what happened ("case_003 opened" or why not).
    pub case_status: Option<Result<String, String>>,
}

/// What the user asked for.
#[derive(Clone, Debug, PartialEq)]
pub enum CohortAction {
    OpenFile,
    OpenPhantom,
    Rows(usize),
    Columns(usize),
    Outcome(Option<String>),
    SelectCell(usize, usize),
    OpenCase(usize),
}

/// The accessible name of the matrix (tests click into it).
pub const MATRIX_LABEL: &str = "correlation matrix";

/// The accessible name of a case's dot in the scatter plot.
#[must_use]
pub fn dot_label(id: &str) -> String {
    format!("case {id}")
}

/// ρ as a colour: blue (−1) through the background grey (0) to red (+1).
fn rho_colour(rho: Option<f64>) -> Color32 {
    let Some(rho) = rho else {
        return theme::COHORT_MISSING;
    };
    let t = rho.clamp(-1.0, 1.0) as f32;
    let (end, t) = if t < 0.0 {
        (theme::COHORT_NEGATIVE_RHO, -t)
    } else {
        (theme::COHORT_POSITIVE_RHO, t)
    };
    let zero = theme::COHORT_ZERO_RHO;
    let mix = |a: u8, b: u8| (f32::from(a) + (f32::from(b) - f32::from(a)) * t).round() as u8;
    Color32::from_rgb(
        mix(zero.r(), end.r()),
        mix(zero.g(), end.g()),
        mix(zero.b(), end.b()),
    )
}

fn rho_text(rho: Option<f64>, n: usize) -> String {
    match rho {
        Some(r) => format!("rho = {r:+.3} (n = {n})"),
        None => format!("rho undefined (n = {n})"),
    }
}

/// The view's contents (inside a window).
pub fn cohort_ui(ui: &mut egui::Ui, report: &CohortReport<'_>) -> Vec<CohortAction> {
    let mut actions = Vec::new();
    ui.horizontal(|ui| {
        if ui.button("Open features CSV…").clicked() {
            actions.push(CohortAction::OpenFile);
        }
        if ui
            .button("Make phantom cohort")
            .on_hover_text(
                "60 real CT slices with synthetic lesions of known size and contrast, their \
                 radiomics and demo-model features, stability and signatures (about a minute)",
            )
            .clicked()
        {
            actions.push(CohortAction::OpenPhantom);
        }
        if let Some(path) = &report.path {
            ui.label(RichText::new(path).small());
        }
    });
    if let Some((what, fraction)) = &report.busy {
        match fraction {
            Some(f) => {
                ui.add(egui::ProgressBar::new(*f).text(what));
            }
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(what);
                });
            }
        }
    }
    if let Some(error) = &report.error {
        ui.colored_label(theme::ERROR_TEXT, error);
    }
    let Some(matrix) = report.matrix else {
        if report.busy.is_none() && report.error.is_none() {
            ui.label(
                "Open the features CSV of `radlens features --cohort` (with its Image and Mask \
                 columns), or make the phantom cohort.",
            );
        }
        return actions;
    };
    ui.label(&report.summary);
    for warning in report.warnings {
        ui.small(RichText::new(warning).color(theme::ERROR_TEXT));
    }
    controls_ui(ui, report, &mut actions);
    ui.separator();
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            let width = (ui.available_width() - theme::COHORT_SIDE_WIDTH).max(200.0);
            ui.set_max_width(width);
            matrix_ui(ui, matrix, report.selected, &mut actions);
        });
        ui.separator();
        ui.vertical(|ui| {
            ui.set_max_width(theme::COHORT_SIDE_WIDTH);
            egui::ScrollArea::vertical()
                .id_salt("cohort side")
                .show(ui, |ui| {
                    side_ui(ui, report, &mut actions);
                });
        });
    });
    actions
}

fn controls_ui(ui: &mut egui::Ui, report: &CohortReport<'_>, actions: &mut Vec<CohortAction>) {
    ui.horizontal(|ui| {
        let pick = |ui: &mut egui::Ui, label: &str, choices: &[String], chosen: usize| {
            let mut picked = None;
            let text = ui.label(label);
            egui::ComboBox::from_id_salt(label)
                .selected_text(choices.get(chosen).map_or("", String::as_str))
                .show_ui(ui, |ui| {
                    for (i, choice) in choices.iter().enumerate() {
                        if ui.selectable_label(i == chosen, choice).clicked() {
                            picked = Some(i);
                        }
                    }
                })
                .response
                .labelled_by(text.id);
            picked
        };
        if let Some(i) = pick(ui, "Rows", &report.row_choices, report.row_choice) {
            actions.push(CohortAction::Rows(i));
        }
        if let Some(i) = pick(ui, "Columns", &report.col_choices, report.col_choice) {
            actions.push(CohortAction::Columns(i));
        }
        let label = ui.label("Outcome");
        egui::ComboBox::from_id_salt("cohort outcome")
            .selected_text(report.outcome.unwrap_or("none"))
            .show_ui(ui, |ui| {
                if ui
                    .selectable_label(report.outcome.is_none(), "none")
                    .clicked()
                {
                    actions.push(CohortAction::Outcome(None));
                }
                for outcome in report.outcomes {
                    if ui
                        .selectable_label(report.outcome == Some(outcome.as_str()), outcome)
                        .clicked()
                    {
                        actions.push(CohortAction::Outcome(Some(outcome.clone())));
                    }
                }
            })
            .response
            .labelled_by(label.id);
    });
}

/// What the matrix shows, and how many of its rows have no ρ at all.
fn caption(matrix: &MatrixData) -> String {
    let (rows, cols) = (matrix.row_names.len(), matrix.col_names.len());
    let undefined = (0..rows)
        .filter(|&i| (0..cols).all(|j| matrix.get(i, j).0.is_none()))
        .count();
    let caption =
        format!("{rows} deep features (rows) x {cols} features (columns), Spearman rho, clustered");
    if undefined == 0 {
        caption
    } else {
        format!(
            "{caption}; {undefined} deep features are constant over the cohort (no rho, dark rows)"
        )
    }
}

/// The heatmap of ρ: one square per pair, a strip of class colours above the columns and red
/// marks beside unstable features; hover for the pair, click for its scatter plot.
fn matrix_ui(
    ui: &mut egui::Ui,
    matrix: &MatrixData,
    selected: Option<(usize, usize)>,
    actions: &mut Vec<CohortAction>,
) {
    let (rows, cols) = (matrix.row_names.len(), matrix.col_names.len());
    if rows == 0 || cols == 0 {
        ui.label("No pairs to show: the table has no deep or no other numeric columns here.");
        return;
    }
    let mark = theme::COHORT_MARK;
    let cell = ((ui.available_width() - mark - 2.0) / cols as f32)
        .floor()
        .clamp(theme::COHORT_CELL_MIN, theme::COHORT_CELL_MAX);
    ui.label(caption(matrix));
    // Strip of column classes, then the matrix with a mark column on its left.
    let size = Vec2::new(mark + cell * cols as f32, 2.0 * mark + cell * rows as f32);
    let (outer, _) = ui.allocate_exact_size(size, Sense::hover());
    let cells = Rect::from_min_size(
        outer.min + Vec2::new(mark, 2.0 * mark),
        Vec2::new(cell * cols as f32, cell * rows as f32),
    );
    let response = ui
        .interact(cells, ui.scope_id().with(MATRIX_LABEL), Sense::click())
        .on_hover_cursor(egui::CursorIcon::Crosshair);
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, MATRIX_LABEL));
    paint_matrix(&ui.painter_at(outer), matrix, outer, cells, cell, selected);
    let at = |p: Pos2| {
        let j = ((p.x - cells.left()) / cell) as usize;
        let i = ((p.y - cells.top()) / cell) as usize;
        (i < rows && j < cols).then_some((i, j))
    };
    let hovered = response.hover_pos().and_then(at);
    if let Some((i, j)) = hovered {
        let (rho, n) = matrix.get(i, j);
        let unstable = |flag: Option<&bool>| {
            if flag.copied().unwrap_or(false) {
                " (unstable)"
            } else {
                ""
            }
        };
        response.clone().on_hover_text(format!(
            "{}{} x {}{}\n{}",
            matrix.row_names[i],
            unstable(matrix.row_unstable.get(i)),
            matrix.col_names[j],
            unstable(matrix.col_unstable.get(j)),
            rho_text(rho, n)
        ));
    }
    if response.clicked()
        && let Some((i, j)) = response.interact_pointer_pos().and_then(at)
    {
        actions.push(CohortAction::SelectCell(i, j));
    }
    legend_ui(ui, matrix);
}

/// The cells, the class strip above, the stability marks, the selected cell's outline.
fn paint_matrix(
    painter: &egui::Painter,
    matrix: &MatrixData,
    outer: Rect,
    cells: Rect,
    cell: f32,
    selected: Option<(usize, usize)>,
) {
    let (rows, cols) = (matrix.row_names.len(), matrix.col_names.len());
    let mark = theme::COHORT_MARK;
    for j in 0..cols {
        let x = cells.left() + cell * j as f32;
        let group = matrix.col_groups.get(j).copied().unwrap_or(0);
        painter.rect_filled(
            Rect::from_min_size(Pos2::new(x, outer.top()), Vec2::new(cell, mark - 1.0)),
            0.0,
            theme::cohort_group(group),
        );
        if matrix.col_unstable.get(j).copied().unwrap_or(false) {
            painter.rect_filled(
                Rect::from_min_size(
                    Pos2::new(x, outer.top() + mark),
                    Vec2::new(cell, mark - 1.0),
                ),
                0.0,
                theme::ERROR_TEXT,
            );
        }
    }
    for i in 0..rows {
        let y = cells.top() + cell * i as f32;
        if matrix.row_unstable.get(i).copied().unwrap_or(false) {
            painter.rect_filled(
                Rect::from_min_size(Pos2::new(outer.left(), y), Vec2::new(mark - 1.0, cell)),
                0.0,
                theme::ERROR_TEXT,
            );
        }
        for j in 0..cols {
            let (rho, _) = matrix.get(i, j);
            let rect = Rect::from_min_size(
                Pos2::new(cells.left() + cell * j as f32, y),
                Vec2::splat(cell),
            );
            painter.rect_filled(rect, 0.0, rho_colour(rho));
        }
    }
    if let Some((i, j)) = selected.filter(|&(i, j)| i < rows && j < cols) {
        let rect = Rect::from_min_size(
            cells.min + Vec2::new(cell * j as f32, cell * i as f32),
            Vec2::splat(cell),
        );
        painter.rect_stroke(
            rect.expand(1.0),
            0.0,
            Stroke::new(2.0, theme::ROI_ACTIVE),
            egui::StrokeKind::Outside,
        );
    }
}

fn legend_ui(ui: &mut egui::Ui, matrix: &MatrixData) {
    ui.horizontal_wrapped(|ui| {
        ui.small("rho:");
        for rho in [-1.0, -0.5, 0.0, 0.5, 1.0] {
            let (rect, _) = ui.allocate_exact_size(Vec2::splat(10.0), Sense::hover());
            ui.painter().rect_filled(rect, 0.0, rho_colour(Some(rho)));
            ui.small(format!("{rho:+}"));
        }
        ui.small("  columns:");
        for (g, name) in matrix.groups.iter().enumerate() {
            let (rect, _) = ui.allocate_exact_size(Vec2::splat(10.0), Sense::hover());
            ui.painter().rect_filled(rect, 0.0, theme::cohort_group(g));
            ui.small(name);
        }
        let (rect, _) = ui.allocate_exact_size(Vec2::splat(10.0), Sense::hover());
        ui.painter().rect_filled(rect, 0.0, theme::ERROR_TEXT);
        ui.small("ICC < 0.75 (unstable)");
    });
}

fn side_ui(ui: &mut egui::Ui, report: &CohortReport<'_>, actions: &mut Vec<CohortAction>) {
    match &report.scatter {
        Some(scatter) => scatter_ui(ui, scatter, report.outcome, actions),
        None => {
            ui.label("Click a cell of the matrix for its scatter plot.");
        }
    }
    match &report.case_status {
        Some(Ok(text)) => {
            ui.label(text);
        }
        Some(Err(e)) => {
            ui.colored_label(theme::ERROR_TEXT, e);
        }
        None => {}
    }
    if let Some(outcome) = report.outcome {
        ui.separator();
        ui.strong(format!("Univariable AUC for {outcome}"))
            .on_hover_text(format!(
                "furthest from 0.5 first; below 0.5 low values go with {outcome} = 1"
            ));
        if report.aucs.is_empty() {
            ui.label("no feature has both classes");
        }
        egui::Grid::new("cohort aucs").striped(true).show(ui, |ui| {
            for auc in report.aucs.iter().take(theme::COHORT_AUCS_SHOWN) {
                ui.label(RichText::new(&auc.feature).small());
                ui.label(format!("{:.3}", auc.auc));
                if auc.unstable {
                    ui.colored_label(theme::ERROR_TEXT, "unstable");
                } else {
                    ui.label("");
                }
                ui.end_row();
            }
        });
    }
    if let Some(signatures) = report.signatures {
        ui.separator();
        ui.strong("Signatures (5-fold CV, L2 logistic regression)");
        egui::Grid::new("cohort signatures")
            .striped(true)
            .show(ui, |ui| {
                for text in ["signature", "features", "AUC", "95 % CI"] {
                    ui.label(RichText::new(text).small());
                }
                ui.end_row();
                for s in signatures {
                    ui.label(&s.signature);
                    ui.label(s.features.to_string());
                    ui.label(format!("{:.3}", s.auc));
                    ui.label(format!("{:.3}-{:.3}", s.ci_low, s.ci_high));
                    ui.end_row();
                }
            });
    }
    if !report.stability.is_empty() {
        ui.separator();
        ui.strong("Stability, ICC(1,1) over perturbations");
        egui::Grid::new("cohort stability")
            .striped(true)
            .show(ui, |ui| {
                for text in ["class", "features", "median", "unstable"] {
                    ui.label(RichText::new(text).small());
                }
                ui.end_row();
                for c in report.stability {
                    ui.label(&c.class);
                    ui.label(c.features.to_string());
                    ui.label(c.median_icc.map_or("-".to_owned(), |m| format!("{m:.3}")));
                    ui.label(c.unstable.to_string());
                    ui.end_row();
                }
            });
    }
}

/// Dots of the picked pair; each is a button named after its case (hover: values; click: open).
fn scatter_ui(
    ui: &mut egui::Ui,
    scatter: &Scatter,
    outcome: Option<&str>,
    actions: &mut Vec<CohortAction>,
) {
    ui.label(RichText::new(format!("{} (y) vs {} (x)", scatter.y_name, scatter.x_name)).small());
    ui.label(rho_text(scatter.rho, scatter.n));
    let size = Vec2::new(
        ui.available_width().max(160.0),
        theme::COHORT_SCATTER_HEIGHT,
    );
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    let plot = rect.shrink(theme::COHORT_DOT_RADIUS * 2.0);
    let range = |v: &mut dyn Iterator<Item = f64>| {
        let (lo, hi) = v.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
        if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, lo + 0.5)
        }
    };
    let (x0, x1) = range(&mut scatter.points.iter().map(|p| p.x));
    let (y0, y1) = range(&mut scatter.points.iter().map(|p| p.y));
    let to_screen = |x: f64, y: f64| {
        Pos2::new(
            plot.left() + ((x - x0) / (x1 - x0)) as f32 * plot.width(),
            plot.bottom() - ((y - y0) / (y1 - y0)) as f32 * plot.height(),
        )
    };
    let font = egui::FontId::proportional(10.0);
    let axis = ui.visuals().weak_text_color();
    painter.text(
        rect.left_bottom(),
        egui::Align2::LEFT_BOTTOM,
        format!("{x0:.3}"),
        font.clone(),
        axis,
    );
    painter.text(
        rect.right_bottom(),
        egui::Align2::RIGHT_BOTTOM,
        format!("{x1:.3}"),
        font.clone(),
        axis,
    );
    painter.text(
        rect.left_top(),
        egui::Align2::LEFT_TOP,
        format!("{y1:.3}"),
        font,
        axis,
    );
    for point in &scatter.points {
        let centre = to_screen(point.x, point.y);
        let colour = match point.class {
            Some(true) => theme::COHORT_POSITIVE,
            Some(false) => theme::COHORT_NEGATIVE,
            None => theme::COHORT_DOT,
        };
        let dot = Rect::from_center_size(centre, Vec2::splat(theme::COHORT_DOT_RADIUS * 3.0));
        let response = ui
            .interact(
                dot,
                ui.scope_id().with(("cohort dot", point.case)),
                Sense::click(),
            )
            .on_hover_cursor(egui::CursorIcon::PointingHand);
        response.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::Button, true, dot_label(&point.id))
        });
        let radius = if response.hovered() {
            theme::COHORT_DOT_RADIUS * 1.5
        } else {
            theme::COHORT_DOT_RADIUS
        };
        painter.circle_filled(centre, radius, colour);
        if point.current {
            painter.circle_stroke(centre, radius + 2.0, Stroke::new(1.5, theme::ROI_ACTIVE));
        }
        let class = match (outcome, point.class) {
            (Some(name), Some(c)) => format!("\n{name} = {}", u8::from(c)),
            _ => String::new(),
        };
        let response = response.on_hover_text(format!(
            "{}: x = {:.4}, y = {:.4}{class}\nclick to open",
            point.id, point.x, point.y
        ));
        if response.clicked() {
            actions.push(CohortAction::OpenCase(point.case));
        }
    }
    if let Some(name) = outcome {
        ui.horizontal(|ui| {
            ui.colored_label(theme::COHORT_POSITIVE, format!("{name} = 1"));
            ui.colored_label(theme::COHORT_NEGATIVE, format!("{name} = 0"));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rho_colours_run_from_blue_through_grey_to_red() {
        assert_eq!(rho_colour(Some(1.0)), theme::COHORT_POSITIVE_RHO);
        assert_eq!(rho_colour(Some(-1.0)), theme::COHORT_NEGATIVE_RHO);
        assert_eq!(rho_colour(Some(0.0)), theme::COHORT_ZERO_RHO);
        assert_eq!(rho_colour(Some(7.0)), theme::COHORT_POSITIVE_RHO);
        assert_eq!(rho_colour(None), theme::COHORT_MISSING);
        let half = rho_colour(Some(0.5));
        assert!(half.r() > theme::COHORT_ZERO_RHO.r() && half.r() < 255);
    }
}
