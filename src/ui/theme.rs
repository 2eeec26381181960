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
