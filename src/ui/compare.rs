//! The comparison layout's pieces: its shape ([`CompareLayout`], the pane rectangles), its
//! controls, and the colorbar with the raw value range drawn in each pane. The controls above
//! each pane are the explanation controls of [`super::explanation`].

use egui::{Align2, Color32, FontId, Rect, Stroke, Vec2};

use crate::imaging::{Colormap, LUT_SIZE};

use super::theme;

/// Which panes the comparison layout shows and whether the last one is a difference view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompareLayout {
    /// 2–4 panes.
    pub panes: usize,
    /// The last pane shows pane 1 − pane 2 instead of an explanation of its own.
    pub difference: bool,
    /// The last pane explains with the second model (File > Load demo model > … beside), so
    /// that two models' maps sit side by side.
    pub second_model: bool,
}

impl Default for CompareLayout {
    fn default() -> Self {
        Self {
            panes: 3,
            difference: false,
            second_model: false,
        }
    }
}

/// `n` pane rectangles filling `area`: side by side for 2 and 3, a 2×2 grid for 4.
#[must_use]
pub fn pane_rects(area: Rect, n: usize) -> Vec<Rect> {
    let (columns, rows) = if n >= 4 { (2, 2) } else { (n.max(1), 1) };
    let size = egui::vec2(area.width() / columns as f32, area.height() / rows as f32);
    (0..n.min(4))
        .map(|i| {
            let (c, r) = (i % columns, i / columns);
            Rect::from_min_size(
                area.min + egui::vec2(c as f32 * size.x, r as f32 * size.y),
                size,
            )
        })
        .collect()
}

/// Comparison layout on/off (`available`: there is a model to explain with), its pane count
/// and the difference pane (View menu and Settings).
pub fn compare_controls_ui(
    ui: &mut egui::Ui,
    compare: &mut Option<CompareLayout>,
    available: bool,
) {
    let mut comparing = compare.is_some();
    let response = ui.add_enabled(
        available,
        egui::Checkbox::new(&mut comparing, "Compare explanations (c)"),
    );
    if response.changed() {
        *compare = comparing.then(CompareLayout::default);
    }
    if let Some(layout) = compare {
        ui.horizontal(|ui| {
            ui.label("panes");
            for n in 2..=4 {
                ui.selectable_value(&mut layout.panes, n, n.to_string());
            }
        });
        ui.add_enabled(
            layout.panes >= 3,
            egui::Checkbox::new(&mut layout.difference, "last pane: 1 − 2 difference"),
        );
        ui.checkbox(&mut layout.second_model, "last pane: the second model")
            .on_hover_text("File > Load demo model > … beside: load the model it explains with");
        if layout.difference && layout.second_model {
            layout.difference = false;
        }
    }
}

/// The colorbar of a heat layer shown with `params` in the viewport `ui` drew (signed maps run
/// from −high to high).
pub fn heat_colorbar(
    ui: &egui::Ui,
    colormap: Colormap,
    params: &crate::imaging::HeatParams,
    title: &str,
) {
    let viewport = ui.min_rect();
    let (low, high) = if params.signed {
        (-params.high, params.high)
    } else {
        (params.low, params.high)
    };
    colorbar(
        &ui.painter_at(viewport),
        viewport,
        colormap,
        low,
        high,
        title,
    );
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
