//! The model card (manifest, classes, input, device, CAM availability) and the prediction for the
//! slice on screen.

use crate::app::inference::{Explanation, ModelCard};
use crate::explain::{Method, Target};
use crate::model::{CamSupport, Prediction};

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
            CamSupport::Available => "CAM available".to_owned(),
            CamSupport::Unavailable(reason) => format!("CAM unavailable: {reason}"),
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

/// Method and class pickers, "Explain" / "Cancel" with progress, "follow slice", and what the
/// shown heatmap is. Keyboard: `e` explains the slice on screen, `Esc` cancels.
pub fn explanation_ui(
    ui: &mut egui::Ui,
    card: &ModelCard,
    explanation: &mut Explanation,
    on_screen: Option<&crate::explain::Heatmap>,
) -> Option<ExplainAction> {
    let mut action = None;
    ui.separator();
    ui.horizontal_wrapped(|ui| {
        ui.label("Explain");
        let cam = matches!(card.cam, CamSupport::Available);
        egui::ComboBox::from_id_salt("method")
            .selected_text(explanation.method.name())
            .show_ui(ui, |ui| {
                for method in Method::ALL {
                    let enabled = cam || !method.needs_cam();
                    let response = ui.add_enabled(
                        enabled,
                        egui::Button::selectable(explanation.method == method, method.name()),
                    );
                    let response = if let CamSupport::Unavailable(reason) = &card.cam {
                        response.on_disabled_hover_text(reason)
                    } else {
                        response
                    };
                    if response.clicked() {
                        explanation.method = method;
                    }
                }
            });
        let classes = &card.manifest.classes;
        let target_text = match &explanation.target {
            Target::Index(i) => classes.get(*i).cloned().unwrap_or_default(),
            _ => "top class".to_owned(),
        };
        egui::ComboBox::from_id_salt("target")
            .selected_text(target_text)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut explanation.target, Target::Top, "top class");
                for (i, class) in classes.iter().enumerate() {
                    ui.selectable_value(&mut explanation.target, Target::Index(i), class);
                }
            });
        match &explanation.running {
            Some(running) => {
                ui.add(
                    egui::ProgressBar::new(running.fraction)
                        .desired_width(140.0)
                        .text(format!(
                            "{} {:.0}%",
                            running.method.name(),
                            running.fraction * 100.0
                        )),
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
        ui.checkbox(&mut explanation.follow, "follow slice");
    });
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
    let keys = ui.input(|i| {
        (
            i.key_pressed(egui::Key::E),
            i.key_pressed(egui::Key::Escape),
        )
    });
    if !ui.ctx().egui_wants_keyboard_input() {
        if keys.0 && explanation.running.is_none() {
            action = Some(ExplainAction::Start);
        } else if keys.1 && explanation.running.is_some() {
            action = Some(ExplainAction::Cancel);
        }
    }
    action
}
