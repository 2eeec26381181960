//! The panels around the viewport: the menu bar, the error line and the status bar; the series
//! list with the model card and the single view's explanation controls under it; the DICOM tag
//! browser. The widgets are `ui/`'s; this file feeds them and acts on what they return.

use std::sync::Arc;

use super::RadlensApp;
use crate::ui;
use crate::ui::compare::CompareLayout;
use crate::ui::explanation::ExplainAction;

impl RadlensApp {
    /// Menu, error message and status bar (laid out before the side panels and viewport).
    pub(super) fn bars_ui(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("menu").show(ui, |ui| self.menu_ui(ui));
        if let Some(message) = self.error.clone() {
            egui::Panel::top("error").show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.colored_label(ui::theme::ERROR_TEXT, &message);
                    if ui.button("Dismiss").clicked() {
                        self.error = None;
                    }
                });
            });
        }

        // Status bar first so the viewport gets what is left.
        let status = self.study.as_ref().map_or_else(String::new, |s| {
            ui::status::status_text(
                s.hover.as_ref(),
                &s.volume.modality,
                s.view.window,
                s.view.zoom,
            )
        });
        let loading = self
            .job
            .as_ref()
            .filter(|j| !j.series_loaded)
            .map(|j| (j.label.clone(), j.progress()));
        egui::Panel::bottom("status").show(ui, |ui| {
            let cancel =
                ui::status::status_ui(ui, &status, loading.as_ref().map(|(l, p)| (l.as_str(), *p)));
            if cancel && let Some(job) = self.job.take() {
                job.cancel();
            }
        });
    }

    /// The series list and the tag browser.
    pub(super) fn side_panels_ui(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        if let Some(report) = &self.scan {
            let loaded = self.study.as_ref().map(|s| s.series_index);
            let mut clicked = None;
            egui::Panel::left("series")
                .default_size(ui::theme::SIDE_PANEL_WIDTH)
                .show(ui, |ui| {
                    if let Some(session) = &mut self.model {
                        let mut action = None;
                        egui::Panel::bottom("model card").show(ui, |ui| {
                            ui::model_card::model_card_ui(
                                ui,
                                &session.card,
                                session.prediction.as_ref(),
                                session.busy(),
                            );
                            let on_screen = self
                                .study
                                .as_ref()
                                .and_then(|s| session.heatmap_for(0, &s.volume, s.view.slice))
                                .cloned();
                            if self.compare.is_none()
                                && let Some(pane) = session.panes.first_mut()
                            {
                                let card = session.card.clone();
                                action = pane.edit(|choice, status| {
                                    ui::explanation::explanation_ui(
                                        ui,
                                        &card,
                                        choice,
                                        status,
                                        on_screen.as_deref(),
                                    )
                                });
                            }
                        });
                        match (action, &self.study) {
                            (Some(ExplainAction::Start), Some(study)) => {
                                if let Err(e) = session.explain(0, &study.volume, study.view.slice)
                                {
                                    self.error = Some(e);
                                }
                            }
                            (Some(ExplainAction::Cancel), _) => session.cancel_explanation(0),
                            _ => {}
                        }
                    }
                    clicked = ui::panels::series_list_ui(ui, report, loaded, &self.thumbnails);
                });
            if let Some(index) = clicked {
                self.load_series(index, ctx);
            }
        }
        if !ctx.egui_wants_keyboard_input() && ctx.input(|i| i.key_pressed(egui::Key::T)) {
            self.settings.show_tags = !self.settings.show_tags;
        }
        if !ctx.egui_wants_keyboard_input()
            && ctx.input(|i| i.key_pressed(egui::Key::X) && i.modifiers.is_none())
        {
            self.toggle_mpr();
        }
        if !ctx.egui_wants_keyboard_input()
            && self.model.is_some()
            && ctx.input(|i| i.key_pressed(egui::Key::C))
        {
            self.compare = match self.compare {
                Some(_) => None,
                None => Some(CompareLayout::default()),
            };
        }
        if let Some(study) = self.study.as_ref().filter(|_| self.settings.show_tags) {
            let tags = study
                .volume
                .slices
                .get(study.view.slice)
                .map(|s| Arc::clone(&s.tags));
            egui::Panel::right("tags")
                .default_size(ui::theme::TAG_PANEL_WIDTH)
                .show(ui, |ui| {
                    ui::panels::tag_browser_ui(
                        ui,
                        tags.as_deref().unwrap_or(&[]),
                        &mut self.tag_filter,
                    );
                });
        }
    }
}
