//! Side panels: the series list with thumbnails, and the DICOM tag browser.

use crate::dicom::{ScanReport, TagEntry};

use super::theme;

/// Lists the series of the current scan; returns the index the user clicked.
pub fn series_list_ui(
    ui: &mut egui::Ui,
    report: &ScanReport,
    loaded: Option<usize>,
    thumbnails: &[Option<egui::TextureHandle>],
) -> Option<usize> {
    let mut clicked = None;
    ui.heading("Series");
    egui::ScrollArea::vertical()
        .id_salt("series list")
        .show(ui, |ui| {
            for (index, series) in report.series.iter().enumerate() {
                let selected = loaded == Some(index);
                ui.horizontal(|ui| {
                    if let Some(Some(texture)) = thumbnails.get(index) {
                        ui.add(
                            egui::Image::new(texture)
                                .fit_to_exact_size(egui::Vec2::splat(theme::THUMBNAIL_SIZE)),
                        );
                    }
                    let description = &series.files[0].series_description;
                    let text = format!(
                        "{} {}\n{} × {}×{}",
                        series.modality(),
                        if description.is_empty() {
                            "(no description)"
                        } else {
                            description
                        },
                        series.slices.len(),
                        series.cols(),
                        series.rows()
                    );
                    if ui.selectable_label(selected, text).clicked() && !selected {
                        clicked = Some(index);
                    }
                });
                ui.separator();
            }
            if !report.skipped.is_empty() {
                ui.collapsing(format!("{} skipped file(s)", report.skipped.len()), |ui| {
                    for s in &report.skipped {
                        ui.label(format!("{}: {}", s.path.display(), s.reason));
                    }
                });
            }
        });
    clicked
}

/// Whether a tag row matches the search text (tag number, keyword, VR or value; case-insensitive).
#[must_use]
pub fn tag_matches(entry: &TagEntry, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let needle = needle.to_lowercase();
    let tag = format!("({:04x},{:04x})", entry.tag.0, entry.tag.1);
    tag.contains(&needle)
        || entry.name.to_lowercase().contains(&needle)
        || entry.vr.to_lowercase() == needle
        || entry.value.to_lowercase().contains(&needle)
}

/// The searchable tag browser for the current slice.
pub fn tag_browser_ui(ui: &mut egui::Ui, tags: &[TagEntry], filter: &mut String) {
    ui.heading("DICOM tags");
    ui.horizontal(|ui| {
        ui.label("Search");
        ui.add(egui::TextEdit::singleline(filter).hint_text("tag, keyword or value"));
    });
    let rows: Vec<&TagEntry> = tags.iter().filter(|t| tag_matches(t, filter)).collect();
    ui.label(format!("{} of {} elements", rows.len(), tags.len()));
    let row_height = ui.text_style_height(&egui::TextStyle::Monospace);
    egui::ScrollArea::vertical()
        .id_salt("tag browser")
        .auto_shrink([false, false])
        .show_rows(ui, row_height, rows.len(), |ui, range| {
            for entry in &rows[range] {
                let indent = "  ".repeat(usize::from(entry.depth));
                let line = format!(
                    "{indent}({:04X},{:04X}) {:2} {}: {}",
                    entry.tag.0, entry.tag.1, entry.vr, entry.name, entry.value
                );
                // Long values are cut to the panel; hovering shows the whole value.
                ui.add(egui::Label::new(egui::RichText::new(line).monospace()).truncate())
                    .on_hover_text(&entry.value);
            }
        });
}
