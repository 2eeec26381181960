//! The metrics & review panel's glue: for each explanation on screen it starts the
//! model-dependent metrics on the inference worker (deletion/insertion automatically, the
//! randomisation check on request), computes the model-free ones (sparseness, localisation
//! against the active region, agreement between panes) on short-lived named threads once per
//! heatmap, region or pair, and applies what the reviewer did (verdicts, notes, saving).

use std::sync::Arc;

use super::RadlensApp;
use super::background::Background;
use super::explanation::MetricJob;
use super::inference::MAX_PANES;
use super::review::EntryKey;
use super::roi::STUDY_MASK_NAME;
use crate::explain::Heatmap;
use crate::explain::metrics::{
    pointing_game, relevance_mass_accuracy, relevance_rank_accuracy, sparseness, spearman,
    top_k_iou,
};
use crate::review::Roi;
use crate::ui;
use crate::ui::metrics::{
    Agreement, Localisation, MetricKind, PaneReport, PanelAction, PanelReport, Progress,
    RegionInfo, ReviewInfo, TOP_K_PERCENT,
};
use crate::ui::roi::{RoiSource, RoiTool};

/// The region the localisation uses: which slice and which ROI (a drawn one or the study mask).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct RegionKey {
    slice: usize,
    roi: Roi,
}

/// A heatmap as a cache key: the same map, not an equal one.
#[derive(Clone)]
struct HeatKey(Arc<Heatmap>);

impl PartialEq for HeatKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The panel's state: shown or not, notes being typed, and the cheap metrics computed in the
/// background, cached by what they were computed from.
#[derive(Default)]
pub struct MetricsPanel {
    pub open: bool,
    /// The note field of each pane, and the explanation it belongs to.
    notes: [(Option<EntryKey>, String); MAX_PANES],
    sparseness: [Option<Background<HeatKey, Result<f64, String>>>; MAX_PANES],
    /// The active region's mask on the slice grid.
    region: Option<Background<RegionKey, Arc<Vec<bool>>>>,
    localisation: [Option<Background<(HeatKey, RegionKey), Localisation>>; MAX_PANES],
    /// One per pair of panes `(a, b)`, `a < b`, in the order the panel lists them.
    agreement: Vec<Option<Background<(HeatKey, HeatKey), Agreement>>>,
}

impl MetricsPanel {
    /// Forgets everything cached (a new study).
    pub fn reset(&mut self) {
        *self = Self {
            open: self.open,
            ..Self::default()
        };
    }

    /// The note typed for pane `pane` (tests and the panel).
    #[must_use]
    pub fn note(&self, pane: usize) -> &str {
        self.notes.get(pane).map_or("", |(_, n)| n.as_str())
    }
}

fn localisation(values: &[f32], mask: &[bool]) -> Localisation {
    Localisation {
        pointing: pointing_game(values, mask).map_err(|e| e.to_string()),
        mass: relevance_mass_accuracy(values, mask).map_err(|e| e.to_string()),
        rank: relevance_rank_accuracy(values, mask).map_err(|e| e.to_string()),
    }
}

fn agreement(a: usize, b: usize, x: &Heatmap, y: &Heatmap) -> Agreement {
    Agreement {
        a,
        b,
        spearman: spearman(&x.values, &y.values).map_err(|e| e.to_string()),
        top_k_iou: top_k_iou(&x.values, &y.values, TOP_K_PERCENT).map_err(|e| e.to_string()),
    }
}

fn progress<T: Clone>(job: &MetricJob<T>, heatmap: &Arc<Heatmap>) -> Progress<T> {
    if let Some(fraction) = job.progress_for(heatmap) {
        Progress::Running(fraction)
    } else if let Some(result) = job.result_for(heatmap) {
        Progress::Done(result.clone())
    } else {
        Progress::NotRun
    }
}

impl RadlensApp {
    /// The region the localisation metrics and the review use on `slice`, and its description.
    #[must_use]
    pub fn active_region(&self, slice: usize) -> Option<Roi> {
        match self.rois.source {
            RoiSource::Drawn => self.rois.rois(slice).last().cloned(),
            RoiSource::StudyMask => {
                let study = self.study.as_ref()?;
                study.masks.get(slice)?.as_ref()?;
                Some(Roi::Mask {
                    name: STUDY_MASK_NAME.to_owned(),
                })
            }
        }
    }

    /// The active region's mask on the slice grid (computed in the background, cached): its key,
    /// and the mask once ready.
    pub(super) fn region_mask(
        &mut self,
        slice: usize,
        ctx: &egui::Context,
    ) -> Option<(RegionKey, Option<Arc<Vec<bool>>>)> {
        let roi = self.active_region(slice)?;
        let key = RegionKey { slice, roi };
        let study = self.study.as_ref()?;
        let [_, rows, cols] = study.volume.shape;
        let study_mask = match &key.roi {
            Roi::Mask { .. } => Some(study.masks.get(slice)?.clone()?),
            _ => None,
        };
        let roi = key.roi.clone();
        let mask = Background::get(&mut self.metrics.region, key.clone(), ctx, move || {
            let mask = match study_mask {
                Some(values) => values.iter().map(|&v| v != 0).collect(),
                None => roi.rasterise(rows, cols).unwrap_or_default(),
            };
            Arc::new(mask)
        });
        Some((key, mask))
    }

    /// The panes whose explanations are on screen: pane 0, or the comparison's explaining panes.
    fn shown_panes(&self) -> usize {
        match self.compare.filter(|_| self.model.is_some()) {
            Some(layout) => layout.panes - usize::from(layout.difference),
            None => 1,
        }
    }

    /// The metrics & review panel (right), when open and a model is loaded.
    pub(super) fn metrics_panel(&mut self, ui: &mut egui::Ui) {
        if !self.metrics.open {
            return;
        }
        let report = self.panel_report(&ui.ctx().clone());
        let mut actions = Vec::new();
        egui::Panel::right("metrics")
            .default_size(ui::theme::METRICS_PANEL_WIDTH)
            .show(ui, |ui| {
                let notes: Vec<&mut String> =
                    self.metrics.notes.iter_mut().map(|(_, n)| n).collect();
                actions = ui::metrics::metrics_panel_ui(ui, &report, notes);
            });
        for action in actions {
            self.apply(action);
        }
    }

    /// Everything the panel shows this frame; starts the automatic metric jobs.
    fn panel_report(&mut self, ctx: &egui::Context) -> PanelReport {
        let shown = self.shown_panes();
        let slice = self.study.as_ref().map(|s| s.view.slice);
        let region = slice.and_then(|s| self.region_mask(s, ctx));
        let mut panes = Vec::new();
        let mut maps: Vec<(usize, Arc<Heatmap>)> = Vec::new();
        if let (Some(study), Some(session)) = (&self.study, &mut self.model) {
            let slice = study.view.slice;
            for pane in 0..shown.min(session.panes.len()) {
                let Some(heatmap) = session.heatmap_for(pane, &study.volume, slice).cloned() else {
                    panes.push(PaneReport::waiting(
                        pane,
                        session.panes[pane].choice.method.name(),
                    ));
                    continue;
                };
                if !session.panes[pane].faithfulness.is_for(&heatmap)
                    && let Err(e) =
                        session.evaluate(pane, MetricKind::Faithfulness, &study.volume, slice)
                {
                    self.error = Some(e);
                }
                maps.push((pane, Arc::clone(&heatmap)));
                let metrics = &mut self.metrics;
                let heat = HeatKey(Arc::clone(&heatmap));
                let map = Arc::clone(&heatmap);
                let sparseness = Background::get(
                    &mut metrics.sparseness[pane],
                    heat.clone(),
                    ctx,
                    move || sparseness(&map.values).map_err(|e| e.to_string()),
                );
                let localisation = region.as_ref().map(|(key, mask)| {
                    let Some(mask) = mask.clone() else {
                        return Progress::Running(0.0);
                    };
                    let map = Arc::clone(&heatmap);
                    let value = Background::get(
                        &mut metrics.localisation[pane],
                        (heat.clone(), key.clone()),
                        ctx,
                        move || localisation(&map.values, &mask),
                    );
                    value.map_or(Progress::Running(0.0), |l| Progress::Done(Ok(l)))
                });
                let key = EntryKey::of(&heatmap, slice);
                let entry = self.review.as_ref().and_then(|r| r.entry(&key));
                let (note_key, note) = &mut metrics.notes[pane];
                if note_key.as_ref() != Some(&key) {
                    *note = entry.map(|e| e.note.clone()).unwrap_or_default();
                    *note_key = Some(key);
                }
                let explanation = &session.panes[pane];
                panes.push(PaneReport {
                    pane,
                    title: title(&heatmap, slice),
                    waiting: false,
                    faithfulness: progress(&explanation.faithfulness, &heatmap),
                    randomisation: progress(&explanation.randomisation, &heatmap),
                    sparseness: sparseness.map_or(Progress::Running(0.0), Progress::Done),
                    localisation,
                    verdict: entry.map(|e| e.verdict),
                    roi: entry.and_then(|e| e.roi.as_ref()).map(super::roi::describe),
                });
            }
        }
        let agreement = self.agreement(&maps, ctx);
        let region_info = RegionInfo {
            source: self.rois.source,
            description: slice
                .and_then(|s| self.active_region(s))
                .map(|roi| super::roi::describe(&roi)),
            pixels: region
                .as_ref()
                .and_then(|(_, m)| m.as_ref())
                .map(|m| m.iter().filter(|v| **v).count()),
            has_mask: self
                .study
                .as_ref()
                .is_some_and(|s| s.masks.iter().any(Option::is_some)),
        };
        let review = ReviewInfo {
            path: self.review.as_ref().map(|r| r.path.display().to_string()),
            dirty: self.review.as_ref().is_some_and(|r| r.dirty),
            status: self.review.as_ref().and_then(|r| r.status.clone()),
            entries: self.review.as_ref().map_or(0, |r| r.review.entries.len()),
        };
        PanelReport {
            model: self.model.is_some(),
            panes,
            agreement,
            region: region_info,
            review,
        }
    }

    /// Agreement of every pair of `maps` (computed in the background, cached by the pair):
    /// `(a, b, None)` while computing.
    fn agreement(
        &mut self,
        maps: &[(usize, Arc<Heatmap>)],
        ctx: &egui::Context,
    ) -> Vec<(usize, usize, Option<Agreement>)> {
        let mut out = Vec::new();
        let mut pair = 0;
        for (i, (a, x)) in maps.iter().enumerate() {
            for (b, y) in &maps[i + 1..] {
                if self.metrics.agreement.len() <= pair {
                    self.metrics.agreement.push(None);
                }
                let (a, b, x, y) = (*a, *b, Arc::clone(x), Arc::clone(y));
                let key = (HeatKey(Arc::clone(&x)), HeatKey(Arc::clone(&y)));
                let value =
                    Background::get(&mut self.metrics.agreement[pair], key, ctx, move || {
                        agreement(a, b, &x, &y)
                    });
                out.push((a, b, value));
                pair += 1;
            }
        }
        self.metrics.agreement.truncate(pair);
        out
    }

    fn apply(&mut self, action: PanelAction) {
        let Some(study) = &self.study else { return };
        let (volume, slice) = (Arc::clone(&study.volume), study.view.slice);
        match action {
            PanelAction::Evaluate(pane, kind) => {
                if let Some(session) = &mut self.model
                    && let Err(e) = session.evaluate(pane, kind, &volume, slice)
                {
                    self.error = Some(e);
                }
            }
            PanelAction::Cancel(pane) => {
                if let Some(session) = &mut self.model {
                    session.cancel_metrics(pane);
                }
            }
            PanelAction::Verdict(pane, verdict) => {
                let Some(heatmap) = self.shown_heatmap(pane) else {
                    return;
                };
                let roi = self.active_region(slice);
                let note = self.metrics.note(pane).to_owned();
                let sop = volume
                    .slices
                    .get(slice)
                    .and_then(|s| s.sop_instance_uid())
                    .map(str::to_owned);
                if let Some(review) = &mut self.review {
                    review.set_verdict(&heatmap, slice, sop, verdict, &note, roi);
                }
                self.save_review();
            }
            PanelAction::NoteChanged(pane) => {
                let Some(heatmap) = self.shown_heatmap(pane) else {
                    return;
                };
                let note = self.metrics.note(pane).to_owned();
                if let Some(review) = &mut self.review {
                    review.set_note(&EntryKey::of(&heatmap, slice), &note);
                }
            }
            PanelAction::NoteFinished | PanelAction::Save => self.save_review(),
            PanelAction::Source(source) => self.rois.source = source,
        }
    }

    /// Pane `pane`'s heatmap of the slice on screen.
    fn shown_heatmap(&self, pane: usize) -> Option<Arc<Heatmap>> {
        let study = self.study.as_ref()?;
        self.model
            .as_ref()?
            .heatmap_for(pane, &study.volume, study.view.slice)
            .cloned()
    }

    /// Keys of the ROI tools and the review, read before any panel so that `Esc` leaves a tool
    /// instead of cancelling an explanation: `o`/`b`/`p` pick the ellipse/rectangle/polygon tool,
    /// `Esc` drops the drawing or leaves the tool, `Enter` closes a polygon, Ctrl+Z undoes the
    /// last ROI, `v` shows the metrics panel, `f` the features panel, Ctrl+S saves the review.
    pub(super) fn review_keys(&mut self, ctx: &egui::Context) {
        use egui::{Key, KeyboardShortcut, Modifiers};
        let save = ctx
            .input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::S)));
        if save {
            self.save_review();
        }
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let undo = ctx
            .input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::Z)));
        if undo {
            self.rois.undo();
        }
        let busy = self.rois.tool.is_some() || self.rois.is_drawing();
        if busy && ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Escape)) {
            self.rois.escape();
        }
        if self.rois.is_drawing() && ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Enter)) {
            self.rois.finish();
        }
        ctx.input(|i| {
            for tool in RoiTool::ALL {
                if i.key_pressed(tool.key()) && i.modifiers.is_none() {
                    self.rois.toggle_tool(tool);
                }
            }
            if i.key_pressed(Key::V) && i.modifiers.is_none() {
                self.metrics.open = !self.metrics.open;
            }
            if i.key_pressed(Key::F) && i.modifiers.is_none() {
                self.features.open = !self.features.open;
            }
            if i.key_pressed(Key::K) && i.modifiers.is_none() {
                self.cohort.open = !self.cohort.open;
            }
        });
    }

    /// Writes the open study's review as CSV to `path`.
    pub(super) fn export_review_csv(&mut self, path: &std::path::Path) {
        let Some(review) = &self.review else {
            self.error = Some("no review to export: open a study first".to_owned());
            return;
        };
        if let Err(e) = review.review.export_csv(path, &self.write_policy(true)) {
            self.error = Some(format!("review not exported: {e}"));
        }
    }

    /// Restores the open study's review from the radlens Structured Report at `path`.
    pub fn restore_review_from(&mut self, path: &std::path::Path) {
        let Some(review) = &mut self.review else {
            self.error = Some("no review to restore into: open a study first".to_owned());
            return;
        };
        let restored = crate::dicom::read_report(path)
            .map_err(|e| e.to_string())
            .and_then(|findings| super::review::entries_from_report(&findings));
        match restored {
            Ok(entries) if entries.is_empty() => {
                self.error = Some(format!(
                    "no radlens review entries in the report: {}",
                    path.display()
                ));
            }
            Ok(entries) => {
                let count = review.restore(entries);
                review.status = Some(Ok(format!(
                    "{count} entries restored from {}",
                    path.display()
                )));
            }
            Err(e) => self.error = Some(format!("review not restored: {e}")),
        }
    }

    /// Saves the review file if it changed; a failure is shown as the app's error.
    pub fn save_review(&mut self) {
        if let Some(review) = &mut self.review
            && let Err(e) = review.save()
        {
            self.error = Some(format!("review not saved: {e}"));
        }
    }
}

/// "Grad-CAM for present, slice 3".
fn title(heatmap: &Heatmap, slice: usize) -> String {
    let p = &heatmap.provenance;
    if p.method.is_class_agnostic() {
        return format!("{} (class-agnostic), slice {}", p.method.name(), slice + 1);
    }
    format!(
        "{} for {}, slice {}",
        p.method.name(),
        p.target_name,
        slice + 1
    )
}
