//! Regions of interest on the slice: the drawing tools and what the pointer does with them (the
//! viewer reports [`RoiPointer`] events, the app's ROI editor acts on them), which region the
//! metrics use, the outlines in a viewport, and the tool buttons in the menu bar.

use egui::{Pos2, Rect, Shape, Stroke};

use crate::review::Roi;

use super::theme;

/// A drawing tool. While one is active, left-drag draws instead of changing window/level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoiTool {
    /// Drag the bounding box.
    Ellipse,
    /// Drag from corner to corner.
    Rectangle,
    /// Click vertices or drag freehand; double-click or Enter closes.
    Polygon,
}

impl RoiTool {
    pub const ALL: [Self; 3] = [Self::Ellipse, Self::Rectangle, Self::Polygon];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Ellipse => "Ellipse",
            Self::Rectangle => "Rectangle",
            Self::Polygon => "Polygon",
        }
    }

    /// The key that picks the tool.
    #[must_use]
    pub fn key(self) -> egui::Key {
        match self {
            Self::Ellipse => egui::Key::O,
            Self::Rectangle => egui::Key::B,
            Self::Polygon => egui::Key::P,
        }
    }
}

/// What the pointer did on the image while a tool is active, in image pixel coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RoiPointer {
    /// A left-drag started where the button went down.
    Press([f64; 2]),
    /// The left-drag moved to here.
    Drag([f64; 2]),
    /// The left-drag ended here.
    Release([f64; 2]),
    /// A left click (no drag).
    Click([f64; 2]),
    /// The second click of a double click.
    DoubleClick([f64; 2]),
}

/// Which region the localisation metrics and the review use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RoiSource {
    /// The latest ROI drawn on the slice on screen.
    #[default]
    Drawn,
    /// The study's mask (DICOM SEG segments and `*.mask.npy` files, united).
    StudyMask,
}

/// What the user asked for in the ROI tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoiAction {
    /// Pick the tool (or leave it when it is the active one).
    Tool(RoiTool),
    Undo,
    /// Remove the ROIs of the slice on screen.
    Clear,
}

/// Tool buttons, undo and clear (for the menu bar).
pub fn roi_tools_ui(ui: &mut egui::Ui, tool: Option<RoiTool>) -> Option<RoiAction> {
    let mut action = None;
    ui.label("ROI");
    for t in RoiTool::ALL {
        let key = t.key().name().to_lowercase();
        if ui
            .selectable_label(tool == Some(t), t.name())
            .on_hover_text(format!(
                "{} ({key}); left-drag draws{}; Esc leaves the tool",
                t.name(),
                if t == RoiTool::Polygon {
                    ", clicks add points, double-click or Enter closes"
                } else {
                    ""
                }
            ))
            .clicked()
        {
            action = Some(RoiAction::Tool(t));
        }
    }
    if ui
        .button("Undo")
        .on_hover_text("Remove the last ROI (Ctrl+Z)")
        .clicked()
    {
        action = Some(RoiAction::Undo);
    }
    if ui
        .button("Clear")
        .on_hover_text("Remove the ROIs of this slice")
        .clicked()
    {
        action = Some(RoiAction::Clear);
    }
    action
}

/// Outlines `rois` (image pixel coordinates on a `[rows, cols]` grid) over `image` on screen:
/// the active one thicker, the shape being drawn in its own colour (a polygon left open).
pub fn paint_rois(
    painter: &egui::Painter,
    image: Rect,
    [rows, cols]: [usize; 2],
    rois: &[Roi],
    active: Option<usize>,
    draft: Option<&Roi>,
) {
    let to_screen = |[x, y]: [f64; 2]| {
        Pos2::new(
            image.min.x + (x / cols.max(1) as f64) as f32 * image.width(),
            image.min.y + (y / rows.max(1) as f64) as f32 * image.height(),
        )
    };
    for (i, roi) in rois.iter().enumerate() {
        let stroke = if Some(i) == active {
            Stroke::new(theme::ROI_ACTIVE_WIDTH, theme::ROI_ACTIVE)
        } else {
            Stroke::new(theme::ROI_WIDTH, theme::ROI)
        };
        paint_roi(painter, roi, &to_screen, stroke, true);
    }
    if let Some(roi) = draft {
        let stroke = Stroke::new(theme::ROI_WIDTH, theme::ROI_DRAFT);
        paint_roi(painter, roi, &to_screen, stroke, false);
    }
}

fn paint_roi(
    painter: &egui::Painter,
    roi: &Roi,
    to_screen: &dyn Fn([f64; 2]) -> Pos2,
    stroke: Stroke,
    closed: bool,
) {
    let points: Vec<Pos2> = match roi {
        Roi::Ellipse { center, radii } => (0..72)
            .map(|i| {
                let a = f64::from(i) / 72.0 * std::f64::consts::TAU;
                to_screen([
                    center[0] + radii[0] * a.cos(),
                    center[1] + radii[1] * a.sin(),
                ])
            })
            .collect(),
        Roi::Rectangle { corner_a, corner_b } => [
            *corner_a,
            [corner_b[0], corner_a[1]],
            *corner_b,
            [corner_a[0], corner_b[1]],
        ]
        .into_iter()
        .map(to_screen)
        .collect(),
        Roi::Polygon { points } => points.iter().copied().map(to_screen).collect(),
        // A study mask is drawn by the renderer (its outline), not here.
        Roi::Mask { .. } => return,
    };
    if points.len() < 2 {
        if let Some(p) = points.first() {
            painter.circle_filled(*p, stroke.width + 1.0, stroke.color);
        }
        return;
    }
    painter.add(if closed {
        Shape::closed_line(points, stroke)
    } else {
        Shape::line(points, stroke)
    });
}
