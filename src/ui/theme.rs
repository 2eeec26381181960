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
