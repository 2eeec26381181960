//! The status bar: value under the cursor, voxel, patient position, window, zoom; and
//! [`Hover`], what the pointer is over.

use crate::imaging::Window;

/// What the pointer is over.
#[derive(Clone, Debug, PartialEq)]
pub struct Hover {
    pub col: usize,
    pub row: usize,
    pub slice: usize,
    /// Modality value (HU for CT); `None` for colour images.
    pub value: Option<f32>,
    pub patient_mm: [f64; 3],
}

/// One line of status text (also what tests read back).
#[must_use]
pub fn status_text(hover: Option<&Hover>, modality: &str, window: Window, zoom: f32) -> String {
    let mut parts = Vec::new();
    if let Some(h) = hover {
        let unit = if modality == "CT" { " HU" } else { "" };
        match h.value {
            Some(v) if v.fract() == 0.0 => parts.push(format!("value {v:.0}{unit}")),
            Some(v) => parts.push(format!("value {v:.2}{unit}")),
            None => parts.push("value (colour)".to_owned()),
        }
        parts.push(format!("voxel ({}, {}, {})", h.col, h.row, h.slice + 1));
        let [x, y, z] = h.patient_mm;
        parts.push(format!("({x:.1}, {y:.1}, {z:.1}) mm"));
    }
    parts.push(format!("W {:.0} L {:.0}", window.width, window.center));
    parts.push(format!("zoom {:.0}%", zoom * 100.0));
    parts.join("   ")
}

pub fn status_ui(ui: &mut egui::Ui, text: &str, loading: Option<(&str, f32)>) -> bool {
    let mut cancel = false;
    ui.horizontal(|ui| {
        if let Some((label, progress)) = loading {
            ui.label(format!("Loading {label}"));
            ui.add(
                egui::ProgressBar::new(progress)
                    .desired_width(160.0)
                    .show_percentage(),
            );
            cancel = ui.button("Cancel").clicked();
            ui.separator();
        }
        ui.label(text);
    });
    cancel
}
