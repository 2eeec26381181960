//! The model card (manifest, classes, input, device, CAM availability) and the prediction for the
//! slice on screen.

use std::path::PathBuf;

use crate::model::{Capabilities, Manifest, Prediction, Support};

/// What the model card shows (copied before the model moves into its worker).
#[derive(Clone, Debug)]
pub struct ModelCard {
    pub path: PathBuf,
    pub manifest: Manifest,
    /// What the model offers the explanation methods (CAM layers, gradients).
    pub capabilities: Capabilities,
    /// Every model file matched the manifest's sha256 when it was loaded.
    pub verified: bool,
    pub device: String,
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
        match &card.capabilities.cam {
            Support::Available => "CAM available".to_owned(),
            Support::Unavailable(reason) => format!("CAM unavailable: {reason}"),
        }
    ));
    if let Some(tokens) = m.cam.as_ref().and_then(|c| c.tokens) {
        ui.label(format!(
            "transformer: features are {}; {}",
            tokens.describe(),
            match &card.capabilities.attention {
                Support::Available => "attention rollout available".to_owned(),
                Support::Unavailable(reason) => format!("no rollout: {reason}"),
            }
        ));
    }
    if card.verified {
        ui.label("verified: every model file matches the manifest's sha256");
    } else {
        ui.label("not verified: the manifest lists no sha256 for some model files");
    }
    let defaulted = m.defaulted_preprocessing();
    if !defaulted.is_empty() {
        ui.colored_label(
            crate::ui::theme::ERROR_TEXT,
            format!("preprocessing defaulted: {}", defaulted.join(", ")),
        );
    }
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
