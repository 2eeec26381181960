//! The background jobs as the frame sees them: opening studies and series (the loader's
//! events become the study, its thumbnails and its review), the file dialogs' answers, and the
//! model: loading it, its worker's replies, and asking for the slice on screen.

use std::path::PathBuf;
use std::sync::Arc;

use super::loader::{self, LoadEvent};
use super::menus::Dialog;
use super::study::Study;
use super::{RadlensApp, inference, roi};
use crate::ui::compare::CompareLayout;

impl RadlensApp {
    /// Makes every later load wait `delay` after each slice it decodes: an artificially slow
    /// decoder, for tests of what is shown while a series loads.
    pub fn set_decode_delay(&mut self, delay: std::time::Duration) {
        self.decode_delay = Some(delay);
    }

    /// Slices decoded and to decode of the load in progress, if one is decoding.
    #[must_use]
    pub fn decoding(&self) -> Option<(usize, usize)> {
        let job = self.job.as_ref().filter(|j| !j.series_loaded)?;
        Some((job.control.slices_done(), job.total_slices))
    }

    fn load_control(&self) -> crate::dicom::LoadControl {
        self.decode_delay
            .map(crate::dicom::LoadControl::slowed)
            .unwrap_or_default()
    }

    /// Starts loading `paths`, replacing whatever was loading.
    pub fn open(&mut self, paths: Vec<PathBuf>, ctx: &egui::Context) {
        if let Some(job) = self.job.take() {
            job.cancel();
        }
        self.opened.clone_from(&paths);
        self.preview = None;
        match loader::open_paths(paths, ctx.clone(), self.load_control()) {
            Ok(job) => self.job = Some(job),
            Err(e) => self.error = Some(e),
        }
    }

    pub(super) fn load_series(&mut self, index: usize, ctx: &egui::Context) {
        let Some(series) = self.scan.as_ref().and_then(|r| r.series.get(index)) else {
            return;
        };
        if let Some(job) = self.job.take() {
            job.cancel();
        }
        let total = series.slices.len();
        let segmentations = self
            .scan
            .as_ref()
            .map(|r| {
                crate::dicom::segmentations_for(series, &r.series)
                    .into_iter()
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        self.preview = None;
        let control = self.load_control();
        match loader::load_series(series.clone(), index, segmentations, ctx.clone(), control) {
            Ok(mut job) => {
                job.total_slices = total;
                self.job = Some(job);
            }
            Err(e) => self.error = Some(e),
        }
    }

    pub(super) fn poll_job(&mut self, ctx: &egui::Context) {
        let Some(job) = &mut self.job else { return };
        ctx.request_repaint_after(std::time::Duration::from_millis(50));
        let mut finished = false;
        let mut loaded = false;
        loop {
            let event = match job.events.try_recv() {
                Ok(event) => event,
                Err(crossbeam_channel::TryRecvError::Empty) => break,
                // The loader stopped without a word (it was cancelled): the job is over.
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    finished = true;
                    break;
                }
            };
            match event {
                LoadEvent::Scanned { report, chosen } => {
                    job.total_slices = report.series[chosen].slices.len();
                    self.thumbnails = vec![None; report.series.len()];
                    self.scan = Some(*report);
                }
                LoadEvent::Thumbnail {
                    series_index,
                    image,
                } => {
                    if let Some(slot) = self.thumbnails.get_mut(series_index) {
                        *slot = Some(ctx.load_texture(
                            format!("series thumbnail {series_index}"),
                            image,
                            egui::TextureOptions::LINEAR,
                        ));
                    }
                }
                LoadEvent::Preview {
                    slice,
                    series_index,
                } => {
                    self.preview = Some(super::study::Preview::new(
                        *slice,
                        series_index,
                        job.total_slices,
                    ));
                }
                LoadEvent::Loaded {
                    volume,
                    series_index,
                    masks,
                } => {
                    job.series_loaded = true;
                    self.preview = None;
                    self.settings.remember(&self.opened);
                    tracing::info!(
                        "loaded series {} ({} slices, {})",
                        series_index,
                        volume.shape[0],
                        volume.modality
                    );
                    loaded = true;
                    let mut study = Study::new(*volume, series_index, masks);
                    // The three-plane layout stays on from one series to the next.
                    if self.study.as_ref().is_some_and(|s| s.mpr.is_some()) {
                        study.mpr = Some(super::mpr::Mpr::new(&study.volume, &study.view));
                    }
                    self.study = Some(study);
                }
                LoadEvent::Failed(message) => {
                    finished = true;
                    self.preview = None;
                    self.error = Some(message);
                }
            }
        }
        if finished {
            self.job = None;
            self.preview = None;
        }
        if loaded && let Some(volume) = self.study.as_ref().map(|s| Arc::clone(&s.volume)) {
            // A new series starts with no ROIs and no cached metrics.
            self.rois = roi::RoiEditor::default();
            self.metrics.reset();
            self.features.reset();
            self.open_review(&volume);
        }
    }

    pub(super) fn poll_dialog(&mut self, ctx: &egui::Context) {
        let Some(rx) = &self.dialog else { return };
        if let Ok((kind, choice)) = rx.try_recv() {
            self.dialog = None;
            match (kind, choice.filter(|p| !p.is_empty())) {
                (Dialog::Model, Some(paths)) => {
                    if let Some(path) = paths.into_iter().next() {
                        self.open_model(path, ctx);
                    }
                }
                (Dialog::ExportCsv, Some(paths)) => {
                    if let Some(path) = paths.into_iter().next() {
                        self.export_review_csv(&path);
                    }
                }
                (Dialog::FeaturesCsv, Some(paths)) => {
                    if let Some(path) = paths.into_iter().next() {
                        self.export_features_csv(&path);
                    }
                }
                (Dialog::CohortCsv, Some(paths)) => {
                    if let Some(path) = paths.into_iter().next() {
                        self.open_cohort(path, ctx);
                    }
                }
                (Dialog::OpenResults, Some(paths)) => self.open_results(&paths),
                (Dialog::RestoreReview, Some(paths)) => {
                    if let Some(path) = paths.into_iter().next() {
                        self.restore_review_from(&path);
                    }
                }
                (Dialog::ExportReviewDicom, Some(paths)) => {
                    if let Some(path) = paths.into_iter().next() {
                        self.start_review_export(path);
                    }
                }
                (Dialog::ExportImage(_) | Dialog::ExportFolder, Some(paths)) => {
                    if let Some(path) = paths.into_iter().next() {
                        self.start_export(path);
                    }
                }
                (_, Some(paths)) => self.open(paths, ctx),
                (_, None) => {}
            }
        }
    }

    /// Loads a TorchScript model (with its `.toml` manifest) off the UI thread.
    pub fn open_model(&mut self, path: PathBuf, ctx: &egui::Context) {
        match inference::load_model(path, ctx.clone()) {
            Ok(rx) => self.model_loading = Some(rx),
            Err(e) => self.error = Some(e),
        }
    }

    /// Loads `path` as the comparison's second model and shows it in the last pane beside the
    /// first model's (two panes unless the layout has more).
    pub fn open_second_model(&mut self, path: PathBuf, ctx: &egui::Context) {
        match inference::load_model(path, ctx.clone()) {
            Ok(rx) => self.second_loading = Some(rx),
            Err(e) => self.error = Some(e),
        }
        let mut layout = self.compare.unwrap_or(CompareLayout {
            panes: 2,
            ..CompareLayout::default()
        });
        layout.second_model = true;
        layout.difference = false;
        self.compare = Some(layout);
    }

    /// The second model's arrival and replies; its pane follows the slice on screen.
    pub(super) fn poll_second_model(&mut self, ctx: &egui::Context) {
        if let Some(rx) = &self.second_loading
            && let Ok(result) = rx.try_recv()
        {
            self.second_loading = None;
            match result.and_then(|model| inference::ModelSession::start(model, ctx)) {
                Ok(mut session) => {
                    let s = &self.settings;
                    session.ensure_panes(1, s.colormap, s.heat_opacity, s.heat_threshold);
                    self.second_model = Some(session);
                }
                Err(e) => self.error = Some(e),
            }
        }
        let active = self.compare.is_some_and(|l| l.second_model);
        let Some(session) = self.second_model.as_mut().filter(|_| active) else {
            return;
        };
        if let Some(message) = session.poll() {
            self.error = Some(message);
        }
        if let Some(study) = &self.study
            && let Err(e) = session.follow(&study.volume, study.view.slice, 1, true)
        {
            self.error = Some(e);
        }
    }

    /// True while a model is being loaded.
    #[must_use]
    pub fn is_loading_model(&self) -> bool {
        self.model_loading.is_some()
    }

    /// Model arrival, worker replies, and a new request when the slice changed.
    pub(super) fn poll_model(&mut self, ctx: &egui::Context) {
        if let Some(rx) = &self.model_loading
            && let Ok(result) = rx.try_recv()
        {
            self.model_loading = None;
            match result.and_then(|model| inference::ModelSession::start(model, ctx)) {
                Ok(mut session) => {
                    let s = &self.settings;
                    session.ensure_panes(1, s.colormap, s.heat_opacity, s.heat_threshold);
                    self.model = Some(session);
                }
                Err(e) => self.error = Some(e),
            }
        }
        let Some(session) = &mut self.model else {
            return;
        };
        if let Some(message) = session.poll() {
            self.error = Some(message);
        }
        let (shown, always) = match self.compare {
            Some(layout) => {
                let s = &self.settings;
                session.ensure_panes(layout.panes, s.colormap, s.heat_opacity, s.heat_threshold);
                // The difference pane explains nothing itself.
                (layout.panes - usize::from(layout.difference), true)
            }
            None => (1, false),
        };
        // A Parametric Map opened over the series stands in for pane 1's explanation.
        if let Some(study) = &self.study
            && let Some(heatmap) = study
                .map_layer
                .as_ref()
                .and_then(|layer| layer.heatmaps.get(study.view.slice))
                .and_then(Option::as_ref)
        {
            session.show_heatmap(0, &study.volume, study.view.slice, heatmap);
        }
        if let Some(study) = &self.study
            && let Err(e) = session
                .request(&study.volume, study.view.slice)
                .and_then(|()| session.follow(&study.volume, study.view.slice, shown, always))
        {
            self.error = Some(e);
        }
    }
}
