//! The comparison layout's pieces: the controls above each pane (method, class, colormap,
//! opacity, threshold, progress) and the colorbar with the raw value range drawn in each pane.

use egui::{Align2, Color32, FontId, Rect, Stroke, Vec2};

use crate::app::inference::{Explanation, ModelCard};
use crate::explain::{Method, Target};
use crate::imaging::{Colormap, LUT_SIZE};
use crate::model::Support;

use super::model_card::ExplainAction;
use super::theme;

/// Method and class pickers with "Explain"/"Cancel" and progress: the controls every explanation
/// has, in the single view and in each comparison pane.
pub fn method_controls_ui(
    ui: &mut egui::Ui,
    card: &ModelCard,
    explanation: &mut Explanation,
    salt: usize,
) -> Option<ExplainAction> {
    let mut action = None;
    let cam = matches!(card.cam, Support::Available);
    egui::ComboBox::from_id_salt(("method", salt))
        .selected_text(explanation.method.name())
        .width(100.0)
        .show_ui(ui, |ui| {
            for method in Method::ALL {
                let enabled = cam || !method.needs_cam();
                let response = ui.add_enabled(
                    enabled,
                    egui::Button::selectable(explanation.method == method, method.name()),
                );
                let response = match &card.cam {
                    Support::Unavailable(reason) => response.on_disabled_hover_text(reason),
                    Support::Available => response,
                };
                if response.clicked() && explanation.method != method {
                    explanation.method = method;
                    explanation.result = None;
                }
            }
        })
        .response
        .on_hover_text("Explanation method");
    let classes = &card.manifest.classes;
    let target_text = match &explanation.target {
        Target::Index(i) => classes.get(*i).cloned().unwrap_or_default(),
        _ => "top class".to_owned(),
    };
    let before = explanation.target.clone();
    egui::ComboBox::from_id_salt(("target", salt))
        .selected_text(target_text)
        .width(90.0)
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut explanation.target, Target::Top, "top class");
            for (i, class) in classes.iter().enumerate() {
                ui.selectable_value(&mut explanation.target, Target::Index(i), class);
            }
        })
        .response
        .on_hover_text("Class to explain");
    if explanation.target != before {
        explanation.result = None;
    }
    match &explanation.running {
        Some(running) => {
            ui.add(
                egui::ProgressBar::new(running.fraction)
                    .desired_width(110.0)
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
    action
}

/// Colormap, opacity and threshold of one pane (compact: panes can be narrow).
pub fn display_controls_ui(ui: &mut egui::Ui, explanation: &mut Explanation, salt: usize) {
    egui::ComboBox::from_id_salt(("colormap", salt))
        .selected_text(explanation.colormap.name())
        .width(70.0)
        .show_ui(ui, |ui| {
            for colormap in Colormap::ALL {
                ui.selectable_value(&mut explanation.colormap, colormap, colormap.name());
            }
        })
        .response
        .on_hover_text("Heatmap colormap");
    ui.spacing_mut().slider_width = 50.0;
    ui.add(egui::Slider::new(&mut explanation.opacity, 0.0..=1.0).fixed_decimals(2))
        .on_hover_text("Overlay opacity");
    ui.add(egui::Slider::new(&mut explanation.threshold, 0.0..=1.0).fixed_decimals(2))
        .on_hover_text("Threshold: normalised values below it are transparent");
}

/// A vertical colorbar at the right edge of `viewport`: the colormap from bottom (`low`) to top
/// (`high`), labelled with the raw values and the colormap's name.
pub fn colorbar(
    painter: &egui::Painter,
    viewport: Rect,
    colormap: Colormap,
    low: f32,
    high: f32,
    title: &str,
) {
    let height = (viewport.height() * 0.5).clamp(60.0, 240.0);
    let bar = Rect::from_min_size(
        viewport.right_top() + Vec2::new(-72.0, 24.0),
        Vec2::new(12.0, height),
    );
    let lut = colormap.lut();
    let steps = 64;
    for i in 0..steps {
        let t = i as f32 / steps as f32;
        let [r, g, b, _] = lut[((t * LUT_SIZE as f32) as usize).min(LUT_SIZE - 1)];
        let y1 = bar.max.y - t * bar.height();
        let y0 = bar.max.y - (t + 1.0 / steps as f32) * bar.height();
        painter.rect_filled(
            Rect::from_x_y_ranges(bar.x_range(), y0..=y1),
            0.0,
            Color32::from_rgb(r, g, b),
        );
    }
    painter.rect_stroke(
        bar,
        0.0,
        Stroke::new(1.0, theme::OVERLAY_TEXT),
        egui::StrokeKind::Outside,
    );
    let font = FontId::proportional(11.0);
    let label = |pos, align, text: String| {
        painter.text(
            pos + Vec2::splat(1.0),
            align,
            &text,
            font.clone(),
            theme::OVERLAY_SHADOW,
        );
        painter.text(pos, align, text, font.clone(), theme::OVERLAY_TEXT);
    };
    label(
        bar.right_top() + Vec2::new(4.0, 0.0),
        Align2::LEFT_TOP,
        format!("{high:.2e}"),
    );
    label(
        bar.right_bottom() + Vec2::new(4.0, 0.0),
        Align2::LEFT_BOTTOM,
        format!("{low:.2e}"),
    );
    label(
        bar.center_bottom() + Vec2::new(0.0, 4.0),
        Align2::CENTER_TOP,
        format!("{title} · {}", colormap.name()),
    );
}
