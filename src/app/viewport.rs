//! The slice viewport in the space the panels leave: one view, or the comparison layout of 2–4
//! linked panes (each with its explanation controls, the last one optionally the difference of
//! panes 1 and 2). Feeds the viewer its slice, mask, heatmap and ROIs; applies the pointer's ROI
//! events and the panes' explain/cancel requests.

use std::sync::Arc;

use crate::imaging::{Colormap, HeatParams, Window};
use crate::render::HeatLayer;
use crate::ui;
use crate::ui::explanation::ExplainAction;
use crate::ui::roi::RoiSource;

use super::RadlensApp;
use super::inference::ModelSession;
use super::roi::RoiEditor;
use super::study::Study;

impl RadlensApp {
    /// The slice viewport in the remaining space: one view, or the comparison layout.
    #[allow(clippy::too_many_lines)] // one layout pass; the pieces are in `ui::compare`
    pub(super) fn viewport_ui(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        let bilinear = self.settings.bilinear;
        let gpu = self.gpu;
        let presets: Vec<Window> = match &self.study {
            Some(s) if s.volume.modality == "CT" => {
                self.settings.ct_presets.iter().map(|p| p.window).collect()
            }
            _ => Vec::new(),
        };
        let compare = self.compare.filter(|_| self.model.is_some());
        egui::CentralPanel::default().show(ui, |ui| {
            let decoding = self.decoding();
            if let Some(preview) = &mut self.preview {
                let (done, total) = decoding.unwrap_or((0, preview.total));
                ui.label(format!(
                    "decoding {done} / {total} slices: the middle slice is shown meanwhile"
                ));
                preview.ui(ui, gpu, bilinear);
                return;
            }
            let Some(study) = &mut self.study else {
                ui.centered_and_justified(|ui| {
                    ui.label(if self.job.is_some() {
                        "Loading…"
                    } else {
                        "Open a DICOM file or folder (File menu, or drop it here)"
                    });
                });
                return;
            };
            ui::viewer::viewer_keys(ctx, &mut study.view, &study.volume, &presets);
            if study.mpr.is_some() {
                self.mpr_ui(ui);
                return;
            }
            let slice = study.view.slice;
            let image = study.slice_image(slice);
            let mask = study.mask_layer(slice);
            let rois = self.rois.rois(slice).to_vec();
            let draft = self.rois.draft(slice);
            let active_roi = rois
                .len()
                .checked_sub(1)
                .filter(|_| self.rois.source == RoiSource::Drawn);
            let drawing = self.rois.tool.is_some();
            let mut roi_events = Vec::new();
            let Some(layout) = compare else {
                single_view_ui(
                    ui,
                    study,
                    &mut self.rois,
                    self.model.as_ref(),
                    (bilinear, gpu),
                    None,
                    None,
                );
                return;
            };
            let Some(session) = &mut self.model else {
                return;
            };
            // The layout may have been switched on this frame, after the model was polled.
            let s = &self.settings;
            session.ensure_panes(layout.panes, s.colormap, s.heat_opacity, s.heat_threshold);
            let crosshair = study.hover.as_ref().map(|h| (h.col, h.row));
            let session_path = session.card.path.clone();
            let rects = ui::compare::pane_rects(ui.available_rect_before_wrap(), layout.panes);
            let mut hovered = None;
            let mut actions = Vec::new();
            for (pane, rect) in rects.into_iter().enumerate() {
                let difference = layout.difference && pane + 1 == layout.panes;
                let mut child = ui.new_child(egui::UiBuilder::new().max_rect(rect.shrink(2.0)));
                // Controls wider than a narrow pane must not spill into the next one.
                child.set_clip_rect(rect.shrink(1.0));
                let (heat, colormap, title) = if difference {
                    child.label("difference: pane 1 − pane 2 (each scaled to its max |value|)");
                    let a = session.heatmap_for(0, &study.volume, slice).cloned();
                    let b = session.heatmap_for(1, &study.volume, slice).cloned();
                    let heat = study.difference_layer(a.as_ref(), b.as_ref());
                    (heat, Colormap::Diverging, "difference".to_owned())
                } else {
                    // The last pane may explain with the second model (its own pane 0).
                    let second = layout.second_model && pane + 1 == layout.panes;
                    let (owner, sub) = match self.second_model.as_mut().filter(|_| second) {
                        Some(other) => (other, 0),
                        None => (&mut *session, pane),
                    };
                    if second && owner.card.path == session_path {
                        child.small("second model: File > Load demo model > … beside");
                    }
                    let card = owner.card.clone();
                    let explanation = &mut owner.panes[sub];
                    child.horizontal_wrapped(|ui| {
                        ui.label(format!("{}", pane + 1));
                        let action = explanation.edit(|choice, status| {
                            ui::explanation::method_controls_ui(ui, &card, choice, status, pane + 1)
                        });
                        if let Some(action) = action {
                            actions.push((pane, action));
                        }
                    });
                    child.horizontal_wrapped(|ui| {
                        explanation.edit(|choice, _| {
                            ui::explanation::display_controls_ui(ui, choice, pane + 1);
                        });
                    });
                    let mut title = explanation.choice.method.name().to_owned();
                    if layout.second_model {
                        title = format!("{title} · {}", short_name(&card.manifest.name));
                    }
                    let colormap = explanation.choice.colormap;
                    let heatmap = owner.heatmap_for(sub, &study.volume, slice);
                    let heat = study.heat_layer(pane, heatmap, &owner.panes[sub]);
                    (heat, colormap, title)
                };
                let input = ui::viewer::ViewerInput {
                    volume: &study.volume,
                    sheet: ui::view::Sheet::of(&study.volume),
                    image: &image,
                    heat: heat.as_ref().map(|(layer, params)| (layer, *params)),
                    mask: mask.as_ref(),
                    colormap,
                    bilinear,
                    gpu,
                    view_id: pane as u64 + 1,
                    crosshair,
                    rois: &rois,
                    active_roi,
                    draft: draft.as_ref(),
                    drawing,
                };
                let output = ui::viewer::viewer_ui(&mut child, &input, &mut study.view);
                if let Some((_, params)) = &heat {
                    ui::compare::heat_colorbar(&child, colormap, params, &title);
                }
                if pane == 0 {
                    study.image_rect = output.image_rect;
                }
                hovered = hovered.or(output.hovered_pixel);
                roi_events.extend(output.roi_events);
            }
            study.set_hover(hovered);
            for event in roi_events {
                self.rois.pointer(slice, event);
            }
            for (pane, action) in actions {
                let second = layout.second_model && pane + 1 == layout.panes;
                let (owner, sub) = match self.second_model.as_mut().filter(|_| second) {
                    Some(other) => (other, 0),
                    None => (&mut *session, pane),
                };
                let result = match action {
                    ExplainAction::Start => owner.explain(sub, &study.volume, slice),
                    ExplainAction::Cancel => {
                        owner.cancel_explanation(sub);
                        Ok(())
                    }
                };
                if let Err(e) = result {
                    self.error = Some(e);
                }
            }
        });
    }
}

/// The single view of the study's slice: its pixels, mask, pane 1's heatmap (or `series_heat`,
/// a heat volume's cut) and ROIs, the crosshair where given; records the image placement and the
/// hovered pixel in `study` and hands the pointer's ROI events to `rois`. The MPR layout's
/// acquired plane is this view with a crosshair.
pub(super) fn single_view_ui(
    ui: &mut egui::Ui,
    study: &mut Study,
    rois: &mut RoiEditor,
    model: Option<&ModelSession>,
    (bilinear, gpu): (bool, bool),
    crosshair: Option<(usize, usize)>,
    series_heat: Option<(Arc<HeatLayer>, HeatParams)>,
) -> ui::viewer::ViewerOutput {
    let slice = study.view.slice;
    let image = study.slice_image(slice);
    let mask = study.mask_layer(slice);
    let shapes = rois.rois(slice).to_vec();
    let draft = rois.draft(slice);
    let active_roi = shapes
        .len()
        .checked_sub(1)
        .filter(|_| rois.source == RoiSource::Drawn);
    let pane = model.and_then(|m| m.panes.first());
    let heat = series_heat.or_else(|| {
        pane.and_then(|pane| {
            let heatmap = model.and_then(|m| m.heatmap_for(0, &study.volume, slice));
            study.heat_layer(0, heatmap, pane)
        })
    });
    let input = ui::viewer::ViewerInput {
        volume: &study.volume,
        sheet: ui::view::Sheet::of(&study.volume),
        image: &image,
        heat: heat.as_ref().map(|(layer, params)| (layer, *params)),
        mask: mask.as_ref(),
        colormap: pane.map_or(Colormap::Jet, |p| p.choice.colormap),
        bilinear,
        gpu,
        view_id: 0,
        crosshair,
        rois: &shapes,
        active_roi,
        draft: draft.as_ref(),
        drawing: rois.tool.is_some(),
    };
    let output = ui::viewer::viewer_ui(ui, &input, &mut study.view);
    study.image_rect = output.image_rect;
    study.set_hover(output.hovered_pixel);
    for event in &output.roi_events {
        rois.pointer(slice, *event);
    }
    output
}

/// A model's name for a pane title: without "radlens demo: " and the parenthesised input, the
/// last comma-separated part ("CNN + transformer hybrid").
fn short_name(name: &str) -> &str {
    let name = name.strip_prefix("radlens demo: ").unwrap_or(name);
    let name = name.split_once(" (").map_or(name, |(before, _)| before);
    name.rsplit_once(", ").map_or(name, |(_, last)| last)
}
