//! The cohort view's glue: reading a features CSV off the UI thread, the matrix, scatter, AUCs
//! and stability it shows, opening a case (its image in the viewer, then its mask as the study's
//! region), case previews, and the jobs behind File > Open phantom cohort (made in `phantom.rs`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::Receiver;

use super::RadlensApp;
use crate::features::analysis::{self, FeatureTable, Kind};
use crate::ui::cohort::{
    CohortAction, CohortReport, FeatureAuc, MatrixData, Scatter, ScatterPoint, StabilityClass,
};
use crate::ui::roi::RoiSource;

/// A named set of columns: a row or column choice of the matrix.
#[derive(Clone, Debug)]
struct Choice {
    name: String,
    columns: Vec<usize>,
}

/// What a background job of the view sends.
pub(super) enum Event {
    Progress(String, Option<f32>),
    Table(Result<Box<FeatureTable>, String>),
}

/// Where a background job of the view reports to (any thread).
pub(super) struct Reporter {
    tx: crossbeam_channel::Sender<Event>,
    ctx: egui::Context,
}

impl Reporter {
    fn send(&self, event: Event) {
        // The view stopped listening (another table was opened): nothing to do.
        let _ = self.tx.send(event);
        self.ctx.request_repaint();
    }

    pub(super) fn progress(&self, text: String, fraction: Option<f32>) {
        self.send(Event::Progress(text, fraction));
    }
}

/// A case's mask as the viewer's per-slice masks, or why it cannot be read.
type CaseMasks = Result<Vec<Option<Vec<u8>>>, String>;

/// A case opened from the view, until its mask is on screen.
struct PendingCase {
    case: usize,
    /// What was opened: the mask is read once the viewer shows exactly this.
    paths: Vec<PathBuf>,
    mask: Option<Receiver<CaseMasks>>,
}

/// A case's preview for the similar-cases list and the window beside the study.
enum Preview {
    Loading(Receiver<Result<egui::ColorImage, String>>),
    Ready(egui::TextureHandle),
    Failed(String),
}

/// A case's preview as the features panel shows it.
pub enum PreviewState {
    Loading,
    Ready(egui::TextureHandle),
    Failed(String),
}

/// The cohort view's state.
#[derive(Default)]
pub struct CohortView {
    pub open: bool,
    job: Option<Receiver<Event>>,
    busy: Option<(String, Option<f32>)>,
    table: Option<Arc<FeatureTable>>,
    pub error: Option<String>,
    rows: Vec<Choice>,
    cols: Vec<Choice>,
    row_choice: usize,
    col_choice: usize,
    matrix: Option<(analysis::Correlation, MatrixData)>,
    outcome: Option<String>,
    aucs: Vec<FeatureAuc>,
    stability: Vec<StabilityClass>,
    selected: Option<(usize, usize)>,
    /// The table's case opened from the view, and the paths opened for it (it is the case on
    /// screen while the viewer shows those).
    opened_case: Option<(usize, Vec<PathBuf>)>,
    pending: Option<PendingCase>,
    case_status: Option<Result<String, String>>,
    /// Where the phantom cohort is made and kept (default: the demo cache folder).
    phantom_dir: Option<PathBuf>,
    /// Case previews by case index (cleared with the table).
    previews: std::collections::HashMap<usize, Preview>,
    /// The similar case shown in a window beside the study.
    pub beside: Option<usize>,
}

impl CohortView {
    /// Makes and keeps the phantom cohort under `dir` instead of the demo cache folder (tests).
    pub fn set_phantom_dir(&mut self, dir: PathBuf) {
        self.phantom_dir = Some(dir);
    }

    /// The open features table.
    #[must_use]
    pub fn table(&self) -> Option<&Arc<FeatureTable>> {
        self.table.as_ref()
    }

    /// The matrix on screen: ρ in display order and its names.
    #[must_use]
    pub fn matrix(&self) -> Option<&MatrixData> {
        self.matrix.as_ref().map(|(_, m)| m)
    }

    /// The cell picked (display row, column).
    #[must_use]
    pub fn selected(&self) -> Option<(usize, usize)> {
        self.selected
    }

    /// The table's case last opened from the view (its index in [`FeatureTable::cases`]),
    /// whether or not the viewer still shows it.
    #[must_use]
    pub fn opened_case(&self) -> Option<usize> {
        self.opened_case.as_ref().map(|(c, _)| *c)
    }

    /// The table's case the viewer shows, if it was opened from the view.
    fn case_on_screen(&self, opened: &[PathBuf]) -> Option<usize> {
        self.opened_case
            .as_ref()
            .filter(|(_, paths)| paths == opened)
            .map(|(c, _)| *c)
    }

    /// True while a table is read or the phantom cohort is made, or a case's mask is read.
    #[must_use]
    pub fn is_busy(&self) -> bool {
        self.job.is_some() || self.pending.as_ref().is_some_and(|p| p.mask.is_some())
    }

    /// What opening the last case gave.
    #[must_use]
    pub fn case_status(&self) -> Option<&Result<String, String>> {
        self.case_status.as_ref()
    }

    /// ICC(1,1) of `feature` in the open cohort's stability table.
    #[must_use]
    pub fn icc(&self, feature: &str) -> Option<f64> {
        self.table.as_ref()?.stability_of(feature).map(|s| {
            if s.icc.is_nan() {
                f64::NEG_INFINITY
            } else {
                s.icc
            }
        })
    }

    /// The preview of case `case` (its slice with the most mask, windowed, the mask tinted),
    /// started on a thread on first ask.
    pub fn preview(&mut self, case: usize, ctx: &egui::Context) -> PreviewState {
        let Some(c) = self.table.as_ref().and_then(|t| t.cases.get(case)) else {
            return PreviewState::Failed("no such case".to_owned());
        };
        if let Some(Preview::Loading(rx)) = self.previews.get(&case)
            && let Ok(answer) = rx.try_recv()
        {
            let preview = match answer {
                Ok(image) => Preview::Ready(ctx.load_texture(
                    format!("cohort case {case}"),
                    image,
                    egui::TextureOptions::LINEAR,
                )),
                Err(e) => Preview::Failed(e),
            };
            self.previews.insert(case, preview);
        }
        match self.previews.get(&case) {
            Some(Preview::Ready(texture)) => PreviewState::Ready(texture.clone()),
            Some(Preview::Failed(e)) => PreviewState::Failed(e.clone()),
            Some(Preview::Loading(_)) => PreviewState::Loading,
            None => {
                let (tx, rx) = crossbeam_channel::bounded(1);
                let (image, mask, label) = (c.image.clone(), c.mask.clone(), c.label);
                let repaint = ctx.clone();
                let spawned = std::thread::Builder::new()
                    .name("radlens-case-preview".to_owned())
                    .spawn(move || {
                        let _ = tx.send(case_preview(&image, &mask, label.unwrap_or(1)));
                        repaint.request_repaint();
                    });
                match spawned {
                    Ok(_) => {
                        self.previews.insert(case, Preview::Loading(rx));
                        PreviewState::Loading
                    }
                    Err(e) => PreviewState::Failed(format!("cannot start a thread ({e})")),
                }
            }
        }
    }

    fn show_table(&mut self, table: FeatureTable) {
        let table = Arc::new(table);
        self.previews.clear();
        self.beside = None;
        self.rows = row_choices(&table);
        self.cols = col_choices(&table);
        self.row_choice = 0;
        self.col_choice = 0;
        self.selected = None;
        self.opened_case = None;
        self.case_status = None;
        self.outcome = table.outcomes.first().cloned();
        self.stability = stability_classes(&table);
        self.table = Some(table);
        self.error = None;
        self.recompute();
    }

    /// The matrix and AUCs for the current choices.
    fn recompute(&mut self) {
        let Some(table) = &self.table else { return };
        let rows = self
            .rows
            .get(self.row_choice)
            .map_or(&[][..], |c| &c.columns);
        let cols = self
            .cols
            .get(self.col_choice)
            .map_or(&[][..], |c| &c.columns);
        let correlation = analysis::correlation(table, rows, cols);
        let data = matrix_data(table, &correlation);
        self.matrix = Some((correlation, data));
        self.selected = None;
        self.aucs = match &self.outcome {
            Some(outcome) => aucs(table, outcome),
            None => Vec::new(),
        };
    }

    fn scatter(&self) -> Option<Scatter> {
        let table = self.table.as_ref()?;
        let (correlation, _) = self.matrix.as_ref()?;
        let (row, col) = self.selected?;
        let (y_column, x_column) = (*correlation.rows.get(row)?, *correlation.cols.get(col)?);
        let (y, x) = (&table.columns[y_column], &table.columns[x_column]);
        let outcome = self
            .outcome
            .as_ref()
            .and_then(|o| table.outcome(o).ok())
            .unwrap_or_default();
        let (rho, n) = correlation.get(row, col);
        let points = table
            .cases
            .iter()
            .enumerate()
            .filter(|(_, case)| case.error.is_none())
            .filter_map(|(c, case)| {
                Some(ScatterPoint {
                    case: c,
                    id: case.id.clone(),
                    x: x.values[c]?,
                    y: y.values[c]?,
                    class: outcome.get(c).copied().flatten(),
                    current: self.opened_case.as_ref().is_some_and(|(o, _)| *o == c),
                })
            })
            .collect();
        Some(Scatter {
            x_name: x.name.clone(),
            y_name: y.name.clone(),
            rho,
            n,
            points,
        })
    }
}

/// The deep columns by family (`deep_mean`, `deep_max`, …: the name without its unit number),
/// families in file order, then all of them.
fn row_choices(table: &FeatureTable) -> Vec<Choice> {
    let deep = table.deep();
    let mut families: Vec<Choice> = Vec::new();
    for &i in &deep {
        let name = &table.columns[i].name;
        let family = name
            .rsplit_once('_')
            .filter(|(_, k)| k.parse::<usize>().is_ok())
            .map_or(name.as_str(), |(f, _)| f);
        match families.iter_mut().find(|c| c.name == family) {
            Some(choice) => choice.columns.push(i),
            None => families.push(Choice {
                name: family.to_owned(),
                columns: vec![i],
            }),
        }
    }
    if families.len() > 1 {
        families.push(Choice {
            name: "all deep".to_owned(),
            columns: deep,
        });
    }
    for choice in &mut families {
        choice.name = format!("{} ({})", choice.name, choice.columns.len());
    }
    families
}

/// All handcrafted features and the ground truth, the ground truth alone, then each class.
fn col_choices(table: &FeatureTable) -> Vec<Choice> {
    let truth = table.passthrough();
    let handcrafted = table.handcrafted();
    let mut choices = vec![Choice {
        name: "all".to_owned(),
        columns: truth.iter().chain(&handcrafted).copied().collect(),
    }];
    if !truth.is_empty() {
        choices.push(Choice {
            name: "ground truth".to_owned(),
            columns: truth,
        });
    }
    for &i in &handcrafted {
        if let Kind::Handcrafted { class } = &table.columns[i].kind {
            match choices.iter_mut().skip(1).find(|c| c.name == *class) {
                Some(choice) => choice.columns.push(i),
                None => choices.push(Choice {
                    name: class.clone(),
                    columns: vec![i],
                }),
            }
        }
    }
    for choice in &mut choices {
        choice.name = format!("{} ({})", choice.name, choice.columns.len());
    }
    choices
}

/// The group a column's colour strip shows: `truth`, its class, or `deep`.
fn group_of(kind: &Kind) -> String {
    match kind {
        Kind::Handcrafted { class } => class.clone(),
        Kind::Deep => "deep".to_owned(),
        Kind::Passthrough => "truth".to_owned(),
    }
}

fn matrix_data(table: &FeatureTable, correlation: &analysis::Correlation) -> MatrixData {
    let mut groups: Vec<String> = Vec::new();
    let col_groups = correlation
        .cols
        .iter()
        .map(|&c| {
            let group = group_of(&table.columns[c].kind);
            groups.iter().position(|g| *g == group).unwrap_or_else(|| {
                groups.push(group);
                groups.len() - 1
            })
        })
        .collect();
    let unstable = |c: &usize| {
        table
            .stability_of(&table.columns[*c].name)
            .is_some_and(analysis::Stability::unstable)
    };
    MatrixData {
        row_names: correlation
            .rows
            .iter()
            .map(|&c| table.columns[c].name.clone())
            .collect(),
        col_names: correlation
            .cols
            .iter()
            .map(|&c| table.columns[c].name.clone())
            .collect(),
        col_groups,
        groups,
        r: correlation.r.clone(),
        n: correlation.n.clone(),
        row_unstable: correlation.rows.iter().map(unstable).collect(),
        col_unstable: correlation.cols.iter().map(unstable).collect(),
    }
}

/// Every feature's univariable AUC for `outcome`, furthest from 0.5 first.
fn aucs(table: &FeatureTable, outcome: &str) -> Vec<FeatureAuc> {
    let Ok(labels) = table.outcome(outcome) else {
        return Vec::new();
    };
    let mut aucs: Vec<FeatureAuc> = table
        .handcrafted()
        .into_iter()
        .chain(table.deep())
        .filter_map(|c| {
            let column = &table.columns[c];
            Some(FeatureAuc {
                feature: column.name.clone(),
                auc: analysis::auc(&column.values, &labels)?,
                unstable: table
                    .stability_of(&column.name)
                    .is_some_and(analysis::Stability::unstable),
            })
        })
        .collect();
    aucs.sort_by(|a, b| {
        (b.auc - 0.5)
            .abs()
            .total_cmp(&(a.auc - 0.5).abs())
            .then_with(|| a.feature.cmp(&b.feature))
    });
    aucs
}

/// ICC by feature class: how many, the median, how many unstable.
fn stability_classes(table: &FeatureTable) -> Vec<StabilityClass> {
    let Some(stability) = &table.stability else {
        return Vec::new();
    };
    let mut classes: Vec<(String, Vec<f64>, usize)> = Vec::new();
    for s in stability {
        let class = table
            .column(&s.feature)
            .map_or_else(|| "other".to_owned(), |c| group_of(&c.kind));
        let slot = if let Some(i) = classes.iter().position(|(c, _, _)| *c == class) {
            i
        } else {
            classes.push((class, Vec::new(), 0));
            classes.len() - 1
        };
        let entry = &mut classes[slot];
        if s.icc.is_finite() {
            entry.1.push(s.icc);
        }
        entry.2 += usize::from(s.unstable());
    }
    classes
        .into_iter()
        .map(|(class, mut iccs, unstable)| {
            let features = iccs.len();
            iccs.sort_by(f64::total_cmp);
            let median_icc = (!iccs.is_empty()).then(|| {
                let m = iccs.len() / 2;
                if iccs.len() % 2 == 1 {
                    iccs[m]
                } else {
                    f64::midpoint(iccs[m - 1], iccs[m])
                }
            });
            StabilityClass {
                class,
                features: features.max(unstable),
                median_icc,
                unstable,
            }
        })
        .collect()
}

/// A case's mask on the grid of its image, as the viewer's per-slice masks.
fn case_masks(image: &Path, mask: &Path, label: u32) -> CaseMasks {
    let case =
        crate::features::source::CaseImage::read(image, None, None).map_err(|e| e.to_string())?;
    let labels = case.read_mask(mask, label).map_err(|e| e.to_string())?;
    let [slices, rows, cols] = case.grid.dims;
    let plane = rows * cols;
    if labels.len() != slices * plane {
        return Err(format!(
            "mask has {} voxels, the image {slices}x{rows}x{cols}: {}",
            labels.len(),
            mask.display()
        ));
    }
    Ok(labels
        .chunks(plane)
        .map(|slice| {
            slice
                .contains(&label)
                .then(|| slice.iter().map(|&v| u8::from(v == label)).collect())
        })
        .collect())
}

/// Pixels on the long side of a case preview.
const PREVIEW_PIXELS: usize = 256;

/// A case's slice with the most mask voxels, windowed with the series' default window, shrunk
/// to [`PREVIEW_PIXELS`] on its long side, the mask tinted.
fn case_preview(image: &Path, mask: &Path, label: u32) -> Result<egui::ColorImage, String> {
    let case =
        crate::features::source::CaseImage::read(image, None, None).map_err(|e| e.to_string())?;
    let labels = case.read_mask(mask, label).map_err(|e| e.to_string())?;
    let Some(volume) = &case.volume else {
        return Err("no preview for a NIfTI or .npy image".to_owned());
    };
    let [slices, rows, cols] = volume.shape;
    let plane = rows * cols;
    if slices == 0 || plane == 0 || labels.len() != slices * plane {
        return Err(format!("mask does not fit the image: {}", mask.display()));
    }
    let slice = (0..slices)
        .max_by_key(|&s| {
            let count = labels[s * plane..(s + 1) * plane]
                .iter()
                .filter(|&&v| v == label)
                .count();
            (count, std::cmp::Reverse(s))
        })
        .unwrap_or(0);
    let scale = PREVIEW_PIXELS as f64 / rows.max(cols) as f64;
    let (height, width) = (
        ((rows as f64 * scale).round() as usize).max(1),
        ((cols as f64 * scale).round() as usize).max(1),
    );
    let invert = volume.photometric == crate::dicom::Photometric::Monochrome1;
    let tint = crate::ui::theme::ROI;
    let mut pixels = Vec::with_capacity(width * height);
    for y in 0..height {
        for x in 0..width {
            let (row, col) = (
                (y * rows / height).min(rows - 1),
                (x * cols / width).min(cols - 1),
            );
            let v = volume.value(slice, row, col).unwrap_or(0.0);
            let grey = crate::imaging::window_grey(v, volume.default_window, invert);
            let g = grey * 255.0;
            let colour = if labels[slice * plane + row * cols + col] == label {
                let mix = |c: u8| (0.55 * g + 0.45 * f32::from(c)).round() as u8;
                egui::Color32::from_rgb(mix(tint.r()), mix(tint.g()), mix(tint.b()))
            } else {
                egui::Color32::from_gray(g.round() as u8)
            };
            pixels.push(colour);
        }
    }
    Ok(egui::ColorImage::new([width, height], pixels))
}

impl RadlensApp {
    /// The open cohort's case the viewer shows (opened from the cohort view), if any.
    #[must_use]
    pub fn cohort_case_on_screen(&self) -> Option<usize> {
        self.cohort.case_on_screen(&self.opened)
    }

    /// Reads the features CSV at `path` into the cohort view (on a thread; the view opens).
    pub fn open_cohort(&mut self, path: PathBuf, ctx: &egui::Context) {
        self.cohort.open = true;
        self.start_cohort_job(
            ctx,
            format!("Reading {}…", path.display()),
            move |_: &Reporter| FeatureTable::read(&path).map_err(|e| e.to_string()),
        );
    }

    /// Makes the phantom cohort (60 cases, its features, stability and signatures) unless it
    /// was made before, and opens it in the cohort view.
    pub fn open_phantom_cohort(&mut self, ctx: &egui::Context) {
        self.cohort.open = true;
        let base = match &self.cohort.phantom_dir {
            Some(dir) => Ok(dir.clone()),
            None => super::demo::cache_dir(),
        };
        match base {
            Ok(base) => self.start_cohort_job(ctx, "Phantom cohort…".to_owned(), move |send| {
                super::phantom::phantom_cohort(&base, send)
            }),
            Err(e) => self.cohort.error = Some(format!("cannot use the cache folder ({e})")),
        }
    }

    fn start_cohort_job(
        &mut self,
        ctx: &egui::Context,
        what: String,
        job: impl FnOnce(&Reporter) -> Result<FeatureTable, String> + Send + 'static,
    ) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let reporter = Reporter {
            tx,
            ctx: ctx.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name("radlens-cohort".to_owned())
            .spawn(move || {
                let table = job(&reporter).map(Box::new);
                reporter.send(Event::Table(table));
            });
        match spawned {
            Ok(_) => {
                self.cohort.job = Some(rx);
                self.cohort.busy = Some((what, None));
                self.cohort.error = None;
            }
            Err(e) => self.cohort.error = Some(format!("cannot start a thread ({e})")),
        }
    }

    /// Takes what the view's jobs sent: progress, a table, a case's mask.
    pub(super) fn poll_cohort(&mut self) {
        if let Some(rx) = &self.cohort.job {
            let mut finished = None;
            loop {
                match rx.try_recv() {
                    Ok(Event::Progress(text, fraction)) => {
                        self.cohort.busy = Some((text, fraction));
                    }
                    Ok(Event::Table(table)) => finished = Some(table),
                    Err(crossbeam_channel::TryRecvError::Empty) => break,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => {
                        finished.get_or_insert_with(|| {
                            Err("the cohort job stopped without an answer".to_owned())
                        });
                        break;
                    }
                }
            }
            if let Some(table) = finished {
                self.cohort.job = None;
                self.cohort.busy = None;
                match table {
                    Ok(table) => self.cohort.show_table(*table),
                    Err(e) => self.cohort.error = Some(e),
                }
            }
        }
        self.poll_case_mask();
    }

    /// Once the viewer shows the case opened from the view, reads its mask; once read, shows it
    /// as the study's region.
    fn poll_case_mask(&mut self) {
        let Some(pending) = &mut self.cohort.pending else {
            return;
        };
        if self.opened != pending.paths {
            // Something else was opened meanwhile.
            self.cohort.pending = None;
            return;
        }
        let Some(study) = &mut self.study else { return };
        if self.job.as_ref().is_some_and(|j| !j.series_loaded) {
            return;
        }
        let Some(table) = &self.cohort.table else {
            self.cohort.pending = None;
            return;
        };
        let case = &table.cases[pending.case];
        match &pending.mask {
            None => {
                let (tx, rx) = crossbeam_channel::bounded(1);
                let (image, mask, label) = (case.image.clone(), case.mask.clone(), case.label);
                let spawned = std::thread::Builder::new()
                    .name("radlens-case-mask".to_owned())
                    .spawn(move || {
                        let _ = tx.send(case_masks(&image, &mask, label.unwrap_or(1)));
                    });
                match spawned {
                    Ok(_) => pending.mask = Some(rx),
                    Err(e) => {
                        self.cohort.case_status = Some(Err(format!("cannot start a thread ({e})")));
                        self.cohort.pending = None;
                    }
                }
            }
            Some(rx) => {
                let Ok(masks) = rx.try_recv() else { return };
                let id = case.id.clone();
                self.cohort.pending = None;
                match masks {
                    Ok(masks) if masks.len() == study.volume.shape[0] => {
                        let first = masks.iter().position(Option::is_some);
                        study.set_masks(masks);
                        if let Some(slice) = first {
                            study.view.slice = slice;
                        }
                        self.rois.source = RoiSource::StudyMask;
                        self.metrics.reset();
                        self.features.reset();
                        self.cohort.case_status = Some(Ok(format!("{id} opened with its mask")));
                    }
                    Ok(masks) => {
                        self.cohort.case_status = Some(Err(format!(
                            "{id}: the mask has {} slices, the series on screen {}",
                            masks.len(),
                            study.volume.shape[0]
                        )));
                    }
                    Err(e) => self.cohort.case_status = Some(Err(format!("{id}: {e}"))),
                }
            }
        }
    }

    /// Opens the table's case `case` in the viewer, its mask as the region.
    pub fn open_cohort_case(&mut self, case: usize, ctx: &egui::Context) {
        let Some(table) = &self.cohort.table else {
            return;
        };
        let Some(c) = table.cases.get(case) else {
            return;
        };
        if let Some(error) = &c.error {
            self.cohort.case_status = Some(Err(format!(
                "{} failed when the table was made: {error}",
                c.id
            )));
            return;
        }
        if !c.image.exists() {
            self.cohort.case_status = Some(Err(format!(
                "cannot open {}: image not found (paths are read relative to the table's \
                 folder): {}",
                c.id,
                c.image.display()
            )));
            return;
        }
        let paths = vec![c.image.clone()];
        self.cohort.case_status = Some(Ok(format!("opening {}…", c.id)));
        self.cohort.opened_case = Some((case, paths.clone()));
        self.open(paths.clone(), ctx);
        self.cohort.pending = Some(PendingCase {
            case,
            paths,
            mask: None,
        });
    }

    /// The similar case picked in the features panel, in a window beside the study.
    fn beside_window(&mut self, ctx: &egui::Context) {
        let Some(case) = self.cohort.beside else {
            return;
        };
        let Some(id) = self
            .cohort
            .table
            .as_ref()
            .and_then(|t| t.cases.get(case))
            .map(|c| c.id.clone())
        else {
            self.cohort.beside = None;
            return;
        };
        let preview = self.cohort.preview(case, ctx);
        let mut open = true;
        let mut open_case = false;
        egui::Window::new(format!("Similar case: {id}"))
            .id(egui::Id::unique("similar case beside"))
            .open(&mut open)
            .default_pos(ctx.content_rect().right_top() + egui::vec2(-300.0, 60.0))
            .show(ctx, |ui| {
                match &preview {
                    PreviewState::Ready(texture) => {
                        ui.image((texture.id(), texture.size_vec2()));
                    }
                    PreviewState::Loading => {
                        ui.spinner();
                    }
                    PreviewState::Failed(e) => {
                        ui.colored_label(crate::ui::theme::ERROR_TEXT, e);
                    }
                }
                ui.small("the slice with the most mask, its region tinted");
                open_case = ui.button("Open in the viewer").clicked();
            });
        if !open {
            self.cohort.beside = None;
        }
        if open_case {
            self.cohort.beside = None;
            self.open_cohort_case(case, ctx);
        }
    }

    /// The cohort view's window, when open.
    pub(super) fn cohort_window(&mut self, ctx: &egui::Context) {
        self.beside_window(ctx);
        if !self.cohort.open {
            return;
        }
        let view = &self.cohort;
        let table = view.table.as_deref();
        let summary = table.map(summary).unwrap_or_default();
        let report = CohortReport {
            path: table.map(|t| t.path.display().to_string()),
            busy: view.busy.clone(),
            error: view.error.clone(),
            summary,
            warnings: table.map_or(&[][..], |t| &t.warnings),
            row_choices: view.rows.iter().map(|c| c.name.clone()).collect(),
            row_choice: view.row_choice,
            col_choices: view.cols.iter().map(|c| c.name.clone()).collect(),
            col_choice: view.col_choice,
            outcomes: table.map_or(&[][..], |t| &t.outcomes),
            outcome: view.outcome.as_deref(),
            matrix: view.matrix.as_ref().map(|(_, m)| m),
            selected: view.selected,
            scatter: view.scatter(),
            aucs: &view.aucs,
            signatures: table.and_then(|t| t.signatures.as_deref()),
            stability: &view.stability,
            case_status: view.case_status.clone(),
        };
        let mut open = true;
        let mut actions = Vec::new();
        egui::Window::new("Cohort")
            .open(&mut open)
            .default_size(crate::ui::theme::COHORT_WINDOW_SIZE)
            .resizable(true)
            .show(ctx, |ui| {
                actions = crate::ui::cohort::cohort_ui(ui, &report);
            });
        self.cohort.open = open;
        for action in actions {
            match action {
                CohortAction::OpenFile => {
                    self.ask_for_paths(ctx, super::menus::Dialog::CohortCsv);
                }
                CohortAction::OpenPhantom => self.open_phantom_cohort(ctx),
                CohortAction::Rows(i) => {
                    self.cohort.row_choice = i;
                    self.cohort.recompute();
                }
                CohortAction::Columns(i) => {
                    self.cohort.col_choice = i;
                    self.cohort.recompute();
                }
                CohortAction::Outcome(outcome) => {
                    self.cohort.outcome = outcome;
                    let selected = self.cohort.selected;
                    self.cohort.recompute();
                    self.cohort.selected = selected;
                }
                CohortAction::SelectCell(i, j) => self.cohort.selected = Some((i, j)),
                CohortAction::OpenCase(case) => self.open_cohort_case(case, ctx),
            }
        }
    }
}

/// "60 cases (2 failed), 256 deep and 105 handcrafted features, ground truth: …".
fn summary(table: &FeatureTable) -> String {
    let failed = table.cases.iter().filter(|c| c.error.is_some()).count();
    let mut text = format!(
        "{} cases ({failed} failed), {} deep and {} handcrafted features",
        table.cases.len(),
        table.deep().len(),
        table.handcrafted().len()
    );
    if let Some(input) = &table.deep_input {
        let _ = write!(text, ", deep input {input}");
    }
    if let Some(hash) = &table.model_hash {
        let _ = write!(text, ", model {}", hash.get(..12).unwrap_or(hash));
    }
    if table.stability.is_none() {
        text.push_str("; no stability table beside it");
    }
    text
}
