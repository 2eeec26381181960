//! The model card (manifest, classes, input, device, CAM availability) and the prediction for the
//! slice on screen.

use crate::app::inference::{Explanation, ModelCard};
use crate::model::{Prediction, Support};

/// What the user asked for in the explanation controls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExplainAction {
    Start,
    Cancel,
}

pub fn model_card_ui(
    ui: &mut egui::Ui,
    card: &ModelCard,
    prediction: Option<&(usize, Result<Prediction, String>)>,
    busy: bool,
) {
    let m = &card.manifest;
    ui.heading("Model");
    ui.label(egui::RichText::new(&m.name).strong());
    if !m.description.is_empty() {
        ui.label(&m.description);
    }
    ui.label(format!(
        "input {}×{}×{} · {} · {}",
        m.input.channels,
        m.input.height,
        m.input.width,
        card.device,
        match &card.cam {
            Support::Available => "CAM available".to_owned(),
            Support::Unavailable(reason) => format!("CAM unavailable: {reason}"),
        }
    ));
    if !m.provenance.metrics.is_empty() {
        let metrics: Vec<String> = m
            .provenance
            .metrics
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        ui.label(format!("metrics: {}", metrics.join(", ")));
    }
    ui.separator();
    match prediction {
        Some((slice, Ok(p))) => {
            ui.label(format!(
                "Prediction, slice {}{}",
                slice + 1,
                if busy { " (updating…)" } else { "" }
            ));
            for (i, (class, prob)) in p.classes.iter().zip(&p.probabilities).enumerate() {
                let mut text = egui::RichText::new(format!("{class} {:.1}%", prob * 100.0));
                if i == p.top {
                    text = text.strong();
                }
                ui.add(egui::ProgressBar::new(*prob).text(text));
            }
        }
        Some((slice, Err(e))) => {
            ui.colored_label(
                super::theme::ERROR_TEXT,
                format!("slice {}: {e}", slice + 1),
            );
        }
        None => {
            ui.label(if busy {
                "Predicting…"
            } else {
                "No prediction yet"
            });
        }
    }
}

/// The single view's explanation: method/class pickers, "Explain"/"Cancel" with progress, "follow
/// slice", display controls, and what the shown heatmap is. Keyboard: `e` explains the slice on
/// screen, `Esc` cancels.
pub fn explanation_ui(
    ui: &mut egui::Ui,
    card: &ModelCard,
    explanation: &mut Explanation,
    on_screen: Option<&crate::explain::Heatmap>,
) -> Option<ExplainAction> {
    ui.separator();
    let mut action = None;
    ui.horizontal_wrapped(|ui| {
        ui.label("Explain");
        action = super::compare::method_controls_ui(ui, card, explanation, 0);
        ui.checkbox(&mut explanation.follow, "follow slice");
    });
    ui.horizontal_wrapped(|ui| super::compare::display_controls_ui(ui, explanation, 0));
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
    } else if let Some((_, Err(e))) = &explanation.result {
        ui.colored_label(super::theme::ERROR_TEXT, e);
    }
    if !ui.ctx().egui_wants_keyboard_input() {
        let (explain, cancel) = ui.input(|i| {
            (
                i.key_pressed(egui::Key::E),
                i.key_pressed(egui::Key::Escape),
            )
        });
        if explain && explanation.running.is_none() {
            action = Some(ExplainAction::Start);
        } else if cancel && explanation.running.is_some() {
            action = Some(ExplainAction::Cancel);
        }
    }
    action
}
