//! radlens: a workstation for explainable deep radiomics.
//!
//! Open a CT/MR study, run a TorchScript model on it, and inspect what the model looked at.
//!
//! Module dependency rules (who may use whom):
//! - [`imaging`]: pure maths, depends on nothing in the crate.
//! - [`dicom`]: dicom-rs and `imaging` only; returns volumes, never UI or model types.
//! - [`render`]: wgpu and `imaging` only; draws slices/heatmaps/masks given as arrays.
//! - [`model`]: tch only (with `explain`); takes arrays, never DICOM objects.
//! - [`explain`]: tch, `model` and `imaging`; attribution maps (Grad-CAM … KernelSHAP) as raw
//!   heatmaps on the slice grid; never UI or DICOM types.
//! - [`export`]: `imaging`, `dicom` and `explain`'s result types, plus dicom-rs to write; the
//!   annotated image (PNG + JSON sidecar, DICOM Secondary Capture) and de-identification; runs no
//!   model, never UI types.
//! - [`output`]: std, `tempfile` and `sha2` only; every file radlens writes goes through it (atomic
//!   writes, sources never overwritten, the user's umask).
//! - [`training`] (cargo feature `training`, on by default; only the demo builder and its tests
//!   use it): the demo model's data (real slices + synthetic lesions) and metrics; uses `dicom`,
//!   `imaging`, `model`.
//! - [`radiomics`]: pure maths, depends on nothing in the crate: PyRadiomics-compatible
//!   handcrafted features of a ROI given as arrays, and PyRadiomics parameter files.
//! - [`nifti`]: the `nifti` crate and `imaging` only: NIfTI images and label maps with their
//!   patient geometry.
//! - [`features`]: a case's image and mask (DICOM, NIfTI, `.npy`) onto one grid, its handcrafted
//!   and deep features as a row, cohorts (shards, resume, merge); joins `dicom`, `nifti`,
//!   `imaging`, `radiomics`, `model` and `output`, no UI.
//! - [`phantom`]: phantom cohorts (real CT slices with synthetic lesions of known size,
//!   contrast, grain and necrosis, as DICOM + `.npy` masks + a ground-truth cases.csv); uses
//!   `dicom` (reading), `imaging` (lesions), `output` (writes) and dicom-rs to write; no model.
//! - [`review`]: the reviewer's verdicts per explanation (JSON per study, CSV export) and ROI
//!   rasterisation; plain data and files, uses `explain`'s parameter types only.
//! - [`input`]: INPUT of the headless commands (DICOM series with masks, PNG/JPEG, `.npy`);
//!   joins `dicom` and `model`, no tch code of its own.
//! - [`cli`]: the headless subcommands; thin wrappers over the library modules.
//! - [`ui`]: widgets (`*_ui` functions) and the view-model types they draw (view state and
//!   geometry, hover, ROI tools, explanation choices, model card, metrics reports); they return
//!   what the user asked for. Uses the data types of the modules above; no dependency on `app`.
//! - [`app`]: the eframe app, its state and background jobs, and the window launch; acts on
//!   what `ui` returns, the only glue between UI and workers (`app → ui`, never back).
//! - `main.rs`: argument parsing, logging, dispatch. Nothing else.

pub mod app;
pub mod cli;
pub mod dicom;
pub mod explain;
pub mod export;
pub mod features;
pub mod imaging;
pub mod input;
pub mod model;
pub mod nifti;
pub mod output;
pub mod pacs;
pub mod phantom;
pub mod radiomics;
pub mod render;
pub mod review;
#[cfg(feature = "training")]
pub mod training;
pub mod ui;
