//! File → PACS… (Ctrl+P): search a configured server (or an address typed in), a sortable
//! table of the studies found, their series, and Open: the series is fetched into the local cache
//! (progress bar, Cancel) and opened as soon as it is complete; a cached series opens without the
//! network. Every network call runs on its own thread; the window never waits. No connection is
//! made until the user searches, echoes or opens.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crossbeam_channel::Receiver;

use super::RadlensApp;
use crate::pacs::{self, Cache, NamedServer, Query, SeriesRow, Server, Servers, StudyRow};
use crate::ui;

/// What a background call answers.
enum Reply {
    Echo(Result<String, String>),
    Studies(Result<Vec<StudyRow>, String>),
    Series(String, Result<Vec<SeriesRow>, String>),
    Fetched(Result<Vec<PathBuf>, String>),
    Stored(Result<Vec<pacs::Stored>, String>),
}

/// A call in flight.
struct Call {
    rx: Receiver<Reply>,
    cancel: Arc<AtomicBool>,
    received: Arc<AtomicUsize>,
    /// Instances expected (a fetch), for the progress bar.
    expected: Option<u32>,
    what: String,
}

/// Study table columns, for sorting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Patient,
    Date,
    Description,
    Modalities,
    Series,
}

/// The PACS window's state.
pub struct PacsWindow {
    pub open: bool,
    /// A configured server's name or an address.
    pub server: String,
    pub servers: Servers,
    /// Name to save the typed address under.
    pub save_as: String,
    pub patient_id: String,
    pub patient_name: String,
    pub modality: String,
    pub date: String,
    pub accession: String,
    pub description: String,
    pub studies: Option<Result<Vec<StudyRow>, String>>,
    pub series: Option<(String, Result<Vec<SeriesRow>, String>)>,
    pub sort: (Column, bool),
    /// Studies asked for per page; "More" asks for the next page.
    pub page: usize,
    pub status: Option<Result<String, String>>,
    /// The last send (File → Export's "send to PACS"): per instance.
    pub stored: Option<Result<Vec<pacs::Stored>, String>>,
    call: Option<Call>,
    /// Cache override (tests); else [`Cache::default_location`].
    pub cache: Option<Cache>,
}

impl Default for PacsWindow {
    fn default() -> Self {
        let servers = Servers::default_path()
            .and_then(|p| Servers::load(&p).ok())
            .unwrap_or_default();
        let server = servers
            .servers
            .first()
            .map(|s| s.name.clone())
            .unwrap_or_default();
        Self {
            open: false,
            server,
            servers,
            save_as: String::new(),
            patient_id: String::new(),
            patient_name: String::new(),
            modality: String::new(),
            date: String::new(),
            accession: String::new(),
            description: String::new(),
            studies: None,
            series: None,
            sort: (Column::Date, false),
            page: 200,
            status: None,
            stored: None,
            call: None,
            cache: None,
        }
    }
}

fn nonempty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

impl PacsWindow {
    /// True while a call runs.
    #[must_use]
    pub fn is_busy(&self) -> bool {
        self.call.is_some()
    }

    fn resolve(&self) -> Result<Server, String> {
        if self.server.trim().is_empty() {
            return Err("no server: type a DICOMweb URL or dimse://AET@host:port".to_owned());
        }
        self.servers
            .resolve(self.server.trim())
            .map_err(|e| e.to_string())
    }

    /// Runs `work` on a thread; its reply arrives through [`Self::poll`].
    fn spawn(
        &mut self,
        ctx: &egui::Context,
        what: &str,
        expected: Option<u32>,
        work: impl FnOnce(&Arc<AtomicBool>, &Arc<AtomicUsize>) -> Reply + Send + 'static,
    ) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let cancel = Arc::new(AtomicBool::new(false));
        let received = Arc::new(AtomicUsize::new(0));
        let (c, r, ctx) = (Arc::clone(&cancel), Arc::clone(&received), ctx.clone());
        let spawned = std::thread::Builder::new()
            .name("radlens-pacs".to_owned())
            .spawn(move || {
                let reply = work(&c, &r);
                let _ = tx.send(reply);
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => {
                self.call = Some(Call {
                    rx,
                    cancel,
                    received,
                    expected,
                    what: what.to_owned(),
                });
                self.status = None;
            }
            Err(e) => self.status = Some(Err(format!("cannot start the PACS thread ({e})"))),
        }
    }

    /// Starts the study search of the form (its first page).
    pub fn search(&mut self, ctx: &egui::Context) {
        self.search_from(ctx, 0);
    }

    /// The search's page starting at study `offset`; rows already found stay.
    fn search_from(&mut self, ctx: &egui::Context, offset: usize) {
        let server = match self.resolve() {
            Ok(s) => s,
            Err(e) => {
                self.status = Some(Err(e));
                return;
            }
        };
        let query = Query {
            patient_id: nonempty(&self.patient_id),
            patient_name: nonempty(&self.patient_name),
            modality: nonempty(&self.modality),
            date: nonempty(&self.date),
            accession_number: nonempty(&self.accession),
            description: nonempty(&self.description),
            limit: Some(self.page),
            offset: (offset > 0).then_some(offset),
        };
        if offset == 0 {
            self.studies = None;
            self.series = None;
        }
        self.spawn(ctx, "searching", None, move |_, _| {
            Reply::Studies(
                pacs::connect(&server)
                    .and_then(|c| c.find_studies(&query))
                    .map_err(|e| e.to_string()),
            )
        });
    }

    fn echo(&mut self, ctx: &egui::Context) {
        match self.resolve() {
            Ok(server) => self.spawn(ctx, "echo", None, move |_, _| {
                Reply::Echo(
                    pacs::connect(&server)
                        .and_then(|c| c.echo())
                        .map(|()| format!("{} answers", server.name()))
                        .map_err(|e| e.to_string()),
                )
            }),
            Err(e) => self.status = Some(Err(e)),
        }
    }

    /// Lists the series of `study`.
    pub fn list_series(&mut self, ctx: &egui::Context, study: &str) {
        let server = match self.resolve() {
            Ok(s) => s,
            Err(e) => {
                self.status = Some(Err(e));
                return;
            }
        };
        let uid = study.to_owned();
        self.spawn(ctx, "listing series", None, move |_, _| {
            let result = pacs::connect(&server)
                .and_then(|c| c.find_series(&uid))
                .map_err(|e| e.to_string());
            Reply::Series(uid, result)
        });
    }

    /// Fetches `series` into the cache (or finds it there); the app opens it when it arrives.
    pub fn fetch(&mut self, ctx: &egui::Context, series: &SeriesRow) {
        let server = match self.resolve() {
            Ok(s) => s,
            Err(e) => {
                self.status = Some(Err(e));
                return;
            }
        };
        let Some(cache) = self.cache.clone().or_else(Cache::default_location) else {
            self.status = Some(Err("no cache folder: set RADLENS_PACS_CACHE".to_owned()));
            return;
        };
        let row = series.clone();
        self.spawn(
            ctx,
            "retrieving",
            series.instances,
            move |cancel, received| {
                let result = pacs::connect(&server)
                    .and_then(|client| {
                        cache.fetch(
                            client.as_ref(),
                            &server,
                            &row.study_instance_uid,
                            &row.series_instance_uid,
                            &|n| received.store(n, Ordering::Relaxed),
                            cancel,
                        )
                    })
                    .map_err(|e| e.to_string());
                Reply::Fetched(result)
            },
        );
    }

    /// Sends `files` to the server (the export window's "send to PACS").
    pub fn store(&mut self, ctx: &egui::Context, files: Vec<PathBuf>) {
        let server = match self.resolve() {
            Ok(s) => s,
            Err(e) => {
                self.stored = Some(Err(e));
                return;
            }
        };
        self.stored = None;
        self.spawn(ctx, "sending", None, move |_, _| {
            Reply::Stored(
                pacs::connect(&server)
                    .and_then(|c| c.store(&files))
                    .map_err(|e| e.to_string()),
            )
        });
    }

    fn cancel(&mut self) {
        if let Some(call) = &self.call {
            call.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// Takes a finished call's reply; returns the files of a fetched series, to open.
    pub fn poll(&mut self) -> Option<Vec<PathBuf>> {
        let reply = self.call.as_ref()?.rx.try_recv().ok()?;
        self.call = None;
        match reply {
            Reply::Echo(result) => self.status = Some(result),
            Reply::Studies(result) => {
                match (result, self.studies.take()) {
                    (Ok(more), Some(Ok(mut rows))) => {
                        rows.extend(more);
                        self.studies = Some(Ok(rows));
                    }
                    (result, _) => self.studies = Some(result),
                }
                self.status = Some(match &self.studies {
                    Some(Ok(rows)) => Ok(format!("{} studies", rows.len())),
                    Some(Err(e)) => Err(e.clone()),
                    None => Ok(String::new()),
                });
                self.sort_studies();
            }
            Reply::Series(study, result) => {
                if let Err(e) = &result {
                    self.status = Some(Err(e.clone()));
                }
                self.series = Some((study, result));
            }
            Reply::Fetched(Ok(files)) => {
                self.status = Some(Ok(format!("{} instances, opening", files.len())));
                return Some(files);
            }
            Reply::Fetched(Err(e)) => self.status = Some(Err(e)),
            Reply::Stored(result) => self.stored = Some(result),
        }
        None
    }

    fn sort_studies(&mut self) {
        let (column, ascending) = self.sort;
        if let Some(Ok(rows)) = &mut self.studies {
            rows.sort_by(|a, b| {
                let order = match column {
                    Column::Patient => a.patient_name.cmp(&b.patient_name),
                    Column::Date => a.study_date.cmp(&b.study_date),
                    Column::Description => a.study_description.cmp(&b.study_description),
                    Column::Modalities => a.modalities.cmp(&b.modalities),
                    Column::Series => a.series.cmp(&b.series),
                };
                if ascending { order } else { order.reverse() }
            });
        }
    }

    fn save_server(&mut self) {
        let name = self.save_as.trim().to_owned();
        if name.is_empty() {
            return;
        }
        if let Err(e) = Server::parse(self.server.trim()) {
            self.status = Some(Err(e.to_string()));
            return;
        }
        self.servers.servers.retain(|s| s.name != name);
        self.servers.servers.push(NamedServer {
            name: name.clone(),
            address: self.server.trim().to_owned(),
        });
        self.status = Some(
            match Servers::default_path()
                .ok_or_else(|| "no folder for the servers file".to_owned())
                .and_then(|p| self.servers.save(&p).map_err(|e| e.to_string()))
            {
                Ok(()) => {
                    self.server = name;
                    Ok("saved (readable by you only)".to_owned())
                }
                Err(e) => Err(e),
            },
        );
    }
}

impl RadlensApp {
    /// The PACS window, and opening what it fetched.
    pub(super) fn pacs_window(&mut self, ctx: &egui::Context) {
        if !ctx.egui_wants_keyboard_input()
            && ctx.input(|i| i.modifiers.command && i.key_pressed(egui::Key::P))
        {
            self.pacs.open = true;
        }
        if let Some(files) = self.pacs.poll() {
            self.open(files, ctx);
        }
        if !self.pacs.open {
            return;
        }
        let mut open = true;
        egui::Window::new("PACS")
            .open(&mut open)
            .default_width(720.0)
            .show(ctx, |ui| pacs_ui(&mut self.pacs, ui, ctx));
        self.pacs.open = open;
    }
}

#[allow(clippy::too_many_lines)] // one window, control by control
fn pacs_ui(p: &mut PacsWindow, ui: &mut egui::Ui, ctx: &egui::Context) {
    ui.horizontal(|ui| {
        let label = ui.label("server");
        egui::ComboBox::from_id_salt("pacs servers")
            .selected_text("saved servers")
            .show_ui(ui, |ui| {
                for s in &p.servers.servers {
                    if ui.selectable_label(p.server == s.name, &s.name).clicked() {
                        p.server.clone_from(&s.name);
                    }
                }
            })
            .response
            .labelled_by(label.id);
        ui.add(
            egui::TextEdit::singleline(&mut p.server)
                .hint_text("https://host/dicom-web or dimse://AET@host:port")
                .desired_width(360.0),
        )
        .labelled_by(label.id);
        if ui.button("Echo").clicked() {
            p.echo(ctx);
        }
    });
    ui.horizontal(|ui| {
        let label = ui.label("save as");
        ui.add(egui::TextEdit::singleline(&mut p.save_as).desired_width(120.0))
            .labelled_by(label.id);
        if ui.button("Save server").clicked() {
            p.save_server();
        }
    });
    ui.separator();
    egui::Grid::new("pacs query").num_columns(4).show(ui, |ui| {
        for (name, value) in [
            ("patient ID", &mut p.patient_id),
            ("patient name", &mut p.patient_name),
        ] {
            let label = ui.label(name);
            ui.add_sized([160.0, 20.0], egui::TextEdit::singleline(value))
                .labelled_by(label.id);
        }
        ui.end_row();
        for (name, value) in [("modality", &mut p.modality), ("date", &mut p.date)] {
            let label = ui.label(name);
            ui.add_sized([160.0, 20.0], egui::TextEdit::singleline(value))
                .labelled_by(label.id);
        }
        ui.end_row();
        for (name, value) in [
            ("accession", &mut p.accession),
            ("description", &mut p.description),
        ] {
            let label = ui.label(name);
            ui.add_sized([160.0, 20.0], egui::TextEdit::singleline(value))
                .labelled_by(label.id);
        }
        ui.end_row();
    });
    ui.label("Wildcards * and ? in names; dates as YYYYMMDD or YYYYMMDD-YYYYMMDD.");
    ui.horizontal(|ui| {
        let busy = p.is_busy();
        if ui
            .add_enabled(!busy, egui::Button::new("Find studies"))
            .clicked()
        {
            p.search(ctx);
        }
        if let Some(call) = &p.call {
            let received = call.received.load(Ordering::Relaxed);
            if let Some(n) = call.expected.filter(|n| *n > 0) {
                ui.add(
                    egui::ProgressBar::new(received as f32 / n as f32)
                        .text(format!("{} {received}/{n}", call.what))
                        .desired_width(260.0),
                );
            } else {
                ui.spinner();
                ui.label(format!("{}…", call.what));
            }
            if ui.button("Cancel").clicked() {
                p.cancel();
            }
        }
    });
    match &p.status {
        Some(Ok(text)) => {
            ui.label(text);
        }
        Some(Err(text)) => {
            ui.colored_label(ui::theme::ERROR_TEXT, text);
        }
        None => {}
    }
    ui.separator();
    let mut list = None;
    let mut resort = None;
    if let Some(Ok(rows)) = &p.studies {
        egui::ScrollArea::vertical()
            .id_salt("pacs studies")
            .max_height(220.0)
            .show(ui, |ui| {
                egui::Grid::new("pacs study table")
                    .striped(true)
                    .num_columns(5)
                    .show(ui, |ui| {
                        for (column, name) in [
                            (Column::Patient, "patient"),
                            (Column::Date, "date"),
                            (Column::Description, "description"),
                            (Column::Modalities, "modalities"),
                            (Column::Series, "series"),
                        ] {
                            let marker = match p.sort {
                                (c, true) if c == column => " ^",
                                (c, false) if c == column => " v",
                                _ => "",
                            };
                            if ui.button(format!("{name}{marker}")).clicked() {
                                resort = Some(column);
                            }
                        }
                        ui.end_row();
                        for row in rows {
                            let patient = format!("{} ({})", row.patient_name, row.patient_id);
                            if ui.selectable_label(false, patient).clicked() {
                                list = Some(row.study_instance_uid.clone());
                            }
                            ui.label(&row.study_date);
                            ui.label(&row.study_description);
                            ui.label(row.modalities.join(" "));
                            ui.label(row.series.map_or_else(|| "?".to_owned(), |n| n.to_string()));
                            ui.end_row();
                        }
                    });
            });
    }
    if let Some(column) = resort {
        p.sort = (column, if p.sort.0 == column { !p.sort.1 } else { true });
        p.sort_studies();
    }
    if let Some(study) = list {
        p.list_series(ctx, &study);
    }
    let mut fetch = None;
    if let Some((study, Ok(series))) = &p.series {
        ui.separator();
        let patient = p
            .studies
            .as_ref()
            .and_then(|r| r.as_ref().ok())
            .and_then(|rows| rows.iter().find(|r| &r.study_instance_uid == study))
            .map_or_else(String::new, |r| {
                format!(
                    "{} {} {}",
                    r.patient_name, r.study_date, r.study_description
                )
            });
        ui.label(format!("series of {patient}"));
        egui::Grid::new("pacs series table")
            .striped(true)
            .num_columns(5)
            .show(ui, |ui| {
                for name in ["number", "modality", "description", "images", ""] {
                    ui.strong(name);
                }
                ui.end_row();
                for s in series {
                    ui.label(s.series_number.map_or_else(String::new, |n| n.to_string()));
                    ui.label(&s.modality);
                    ui.label(&s.series_description);
                    ui.label(
                        s.instances
                            .map_or_else(|| "?".to_owned(), |n| format!("{n} images")),
                    );
                    if ui
                        .add_enabled(!p.is_busy(), egui::Button::new("Open"))
                        .on_hover_text("retrieve into the cache, then open")
                        .clicked()
                    {
                        fetch = Some(s.clone());
                    }
                    ui.end_row();
                }
            });
    }
    if let Some(series) = fetch {
        p.fetch(ctx, &series);
    }
}
