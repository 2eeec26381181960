//! All colours and sizes of the UI in one place.

use egui::Color32;

pub const VIEWPORT_BACKGROUND: Color32 = Color32::BLACK;
pub const OVERLAY_TEXT: Color32 = Color32::from_rgb(230, 230, 120);
pub const OVERLAY_SHADOW: Color32 = Color32::from_black_alpha(200);
pub const ERROR_TEXT: Color32 = Color32::from_rgb(255, 120, 110);
pub const SCALE_BAR: Color32 = Color32::from_rgb(230, 230, 230);
/// The linked cursor in comparison panes: visible on grey and on heat colours, thin.
pub const CROSSHAIR: Color32 = Color32::from_rgba_premultiplied(0, 200, 255, 160);
pub const OVERLAY_FONT_SIZE: f32 = 14.0;
pub const THUMBNAIL_SIZE: f32 = 64.0;
pub const SIDE_PANEL_WIDTH: f32 = 200.0;
pub const TAG_PANEL_WIDTH: f32 = 320.0;
/// Drawn regions of interest: magenta stands out on grey and on every heat colormap, and differs
/// from the study mask's yellow outline.
pub const ROI: Color32 = Color32::from_rgb(230, 90, 230);
/// The ROI the metrics and the review use.
pub const ROI_ACTIVE: Color32 = Color32::from_rgb(255, 130, 255);
/// The shape being drawn.
pub const ROI_DRAFT: Color32 = Color32::from_rgb(240, 240, 240);
pub const ROI_WIDTH: f32 = 1.5;
pub const ROI_ACTIVE_WIDTH: f32 = 2.5;
pub const METRICS_PANEL_WIDTH: f32 = 340.0;
pub const CURVE_PLOT_HEIGHT: f32 = 130.0;
/// Deletion (should fall fast) and insertion (should rise fast) curves.
pub const DELETION_CURVE: Color32 = Color32::from_rgb(230, 110, 90);
pub const INSERTION_CURVE: Color32 = Color32::from_rgb(90, 170, 240);
pub const GOOD_TEXT: Color32 = Color32::from_rgb(120, 210, 120);
pub const FEATURES_PANEL_WIDTH: f32 = 360.0;
pub const DEEP_CHART_HEIGHT: f32 = 70.0;
pub const DEEP_BAR: Color32 = Color32::from_rgb(110, 160, 230);
/// The cohort view: correlation colours (a diverging map around the panel's grey), class strip,
/// scatter dots by outcome, sizes.
pub const COHORT_NEGATIVE_RHO: Color32 = Color32::from_rgb(40, 100, 220);
pub const COHORT_ZERO_RHO: Color32 = Color32::from_rgb(60, 60, 60);
pub const COHORT_POSITIVE_RHO: Color32 = Color32::from_rgb(225, 60, 45);
pub const COHORT_MISSING: Color32 = Color32::from_rgb(25, 25, 25);
pub const COHORT_POSITIVE: Color32 = Color32::from_rgb(245, 160, 40);
pub const COHORT_NEGATIVE: Color32 = Color32::from_rgb(80, 170, 240);
pub const COHORT_DOT: Color32 = Color32::from_rgb(200, 200, 200);
pub const COHORT_DOT_RADIUS: f32 = 3.5;
pub const COHORT_CELL_MIN: f32 = 3.0;
pub const COHORT_CELL_MAX: f32 = 14.0;
/// Width of the class strip above the columns and the stability marks.
pub const COHORT_MARK: f32 = 5.0;
pub const COHORT_SIDE_WIDTH: f32 = 330.0;
pub const COHORT_SCATTER_HEIGHT: f32 = 230.0;
pub const COHORT_AUCS_SHOWN: usize = 12;
pub const COHORT_WINDOW_SIZE: [f32; 2] = [980.0, 640.0];
/// Thumbnails of similar cases in the features panel.
pub const SIMILAR_THUMBNAIL: f32 = 56.0;

/// The class strip's colours, one per column group, repeating.
#[must_use]
pub fn cohort_group(group: usize) -> Color32 {
    const PALETTE: [Color32; 8] = [
        Color32::from_rgb(240, 240, 240),
        Color32::from_rgb(102, 194, 165),
        Color32::from_rgb(252, 141, 98),
        Color32::from_rgb(141, 160, 203),
        Color32::from_rgb(231, 138, 195),
        Color32::from_rgb(166, 216, 84),
        Color32::from_rgb(255, 217, 47),
        Color32::from_rgb(229, 196, 148),
    ];
    PALETTE[group % PALETTE.len()]
}
