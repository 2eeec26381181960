//! The controls every explanation has, in the single view and above each comparison pane: method
//! and class pickers, "Explain"/"Cancel" with progress, colormap, opacity and threshold; and the
//! single view's explanation block under the model card. They edit an [`ExplanationChoice`] and
//! return an [`ExplainAction`]; the app runs the explanation.

use crate::explain::{DeepUnit, Heatmap, Method, Target};
use crate::imaging::Colormap;

use super::model_card::ModelCard;
use super::theme;

/// What the user asked for in the explanation controls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExplainAction {
    Start,
    Cancel,
}

/// What the user chooses about one explanation: what to compute and how to show it.
#[derive(Clone, Debug, PartialEq)]
pub struct ExplanationChoice {
    pub method: Method,
    pub target: Target,
    /// Recompute when the slice changes.
    pub follow: bool,
    pub colormap: Colormap,
    pub opacity: f32,
    /// Normalised level below which the overlay is transparent.
    pub threshold: f32,
}

impl ExplanationChoice {
    /// True when both ask for the same explanation (method and class); a result of one is a
    /// result of the other.
    #[must_use]
    pub fn explains_the_same(&self, other: &Self) -> bool {
        self.method == other.method && self.target == other.target
    }
}

/// What the UI says beside an attention rollout map.
pub const CLASS_AGNOSTIC: &str = "rollout is class-agnostic: the same map for every class (for a \
     class-specific map: Grad-CAM on the tokens, or IG, occlusion, LIME)";

/// How the explanation's work goes, for the controls to show.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExplanationStatus<'a> {
    /// The method being computed and the fraction done.
    pub running: Option<(Method, f32)>,
    /// Why the last explanation has no heatmap.
    pub error: Option<&'a str>,
}

/// Method and class pickers with "Explain"/"Cancel" and progress: the controls every explanation
/// has, in the single view and in each comparison pane.
pub fn method_controls_ui(
    ui: &mut egui::Ui,
    card: &ModelCard,
    choice: &mut ExplanationChoice,
    status: &ExplanationStatus<'_>,
    salt: usize,
) -> Option<ExplainAction> {
    let mut action = None;
    egui::ComboBox::from_id_salt(("method", salt))
        .selected_text(choice.method.name())
        .width(100.0)
        .show_ui(ui, |ui| {
            for method in Method::ALL {
                let missing = card.capabilities.missing(method.needs());
                let response = ui.add_enabled(
                    missing.is_none(),
                    egui::Button::selectable(choice.method == method, method.name()),
                );
                let response = match missing {
                    Some((_, reason)) => response.on_disabled_hover_text(reason),
                    None => response,
                };
                if response.clicked() {
                    choice.method = method;
                }
            }
        })
        .response
        .on_hover_text("Explanation method");
    let classes = &card.manifest.classes;
    let unit = choice.target.deep_unit();
    let target_text = match (&choice.target, unit) {
        (_, Some(unit)) => unit.to_string(),
        (Target::Index(i), _) => classes.get(*i).cloned().unwrap_or_default(),
        _ => "top class".to_owned(),
    };
    egui::ComboBox::from_id_salt(("target", salt))
        .selected_text(target_text)
        .width(90.0)
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut choice.target, Target::Top, "top class");
            for (i, class) in classes.iter().enumerate() {
                ui.selectable_value(&mut choice.target, Target::Index(i), class);
            }
            // A feature unit is chosen in the features panel; it stays selectable here.
            if let Some(unit) = unit {
                let target = match unit {
                    DeepUnit::Feature(k) => Target::feature(k),
                    DeepUnit::Embed(k) => Target::embed(k),
                };
                ui.selectable_value(&mut choice.target, target, unit.to_string());
            }
        })
        .response
        .on_hover_text("Class (or deep feature unit, from the features panel) to explain");
    match status.running {
        Some((method, fraction)) => {
            ui.add(
                egui::ProgressBar::new(fraction)
                    .desired_width(110.0)
                    .text(format!("{} {:.0}%", method.name(), fraction * 100.0)),
            );
            if ui.button("Cancel").on_hover_text("Esc").clicked() {
                action = Some(ExplainAction::Cancel);
            }
        }
        None => {
            if ui.button("Explain").on_hover_text("e").clicked() {
                action = Some(ExplainAction::Start);
            }
        }
    }
    action
}

/// Colormap, opacity and threshold of one pane (compact: panes can be narrow).
pub fn display_controls_ui(ui: &mut egui::Ui, choice: &mut ExplanationChoice, salt: usize) {
    egui::ComboBox::from_id_salt(("colormap", salt))
        .selected_text(choice.colormap.name())
        .width(70.0)
        .show_ui(ui, |ui| {
            for colormap in Colormap::ALL {
                ui.selectable_value(&mut choice.colormap, colormap, colormap.name());
            }
        })
        .response
        .on_hover_text("Heatmap colormap");
    ui.spacing_mut().slider_width = 50.0;
    ui.add(egui::Slider::new(&mut choice.opacity, 0.0..=1.0).fixed_decimals(2))
        .on_hover_text("Overlay opacity");
    ui.add(egui::Slider::new(&mut choice.threshold, 0.0..=1.0).fixed_decimals(2))
        .on_hover_text("Threshold: normalised values below it are transparent");
}

/// The single view's explanation: method/class pickers, "Explain"/"Cancel" with progress, "follow
/// slice", display controls, and what the shown heatmap is. Keyboard: `e` explains the slice on
/// screen, `Esc` cancels.
pub fn explanation_ui(
    ui: &mut egui::Ui,
    card: &ModelCard,
    choice: &mut ExplanationChoice,
    status: &ExplanationStatus<'_>,
    on_screen: Option<&Heatmap>,
) -> Option<ExplainAction> {
    ui.separator();
    let before = choice.clone();
    let mut action = None;
    ui.horizontal_wrapped(|ui| {
        ui.label("Explain");
        action = method_controls_ui(ui, card, choice, status, 0);
        ui.checkbox(&mut choice.follow, "follow slice");
    });
    ui.horizontal_wrapped(|ui| display_controls_ui(ui, choice, 0));
    if let Some(heatmap) = on_screen {
        let p = &heatmap.provenance;
        let (lo, hi) = heatmap.range();
        ui.label(format!(
            "{} for {} (logit {:.3}) · raw {lo:.3e} … {hi:.3e} · {:.0} ms",
            p.method.name(),
            p.target_name,
            p.score,
            p.elapsed_ms
        ));
        if p.method.is_class_agnostic() {
            ui.small(CLASS_AGNOSTIC);
        }
    } else if let Some(e) = status.error.filter(|_| choice.explains_the_same(&before)) {
        // A new method or class has no error yet: the app drops the old result.
        ui.colored_label(theme::ERROR_TEXT, e);
    }
    if !ui.ctx().egui_wants_keyboard_input() {
        let (explain, cancel) = ui.input(|i| {
            (
                i.key_pressed(egui::Key::E),
                i.key_pressed(egui::Key::Escape),
            )
        });
        if explain && status.running.is_none() {
            action = Some(ExplainAction::Start);
        } else if cancel && status.running.is_some() {
            action = Some(ExplainAction::Cancel);
        }
    }
    action
}
