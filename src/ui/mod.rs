//! Widgets: `*_ui(ui, ..)` functions that draw the view-model types defined beside them and
//! return what the user asked for (an action, a changed choice); `app/` acts on it. All colours
//! and sizes come from [`theme`].
//!
//! - [`view`]: a slice view's state and geometry; [`viewer`] draws it and turns input into it.
//! - [`status`]: the status bar and [`status::Hover`], what the pointer is over.
//! - [`roi`]: the ROI tools and pointer events, the region the metrics use, ROI outlines.
//! - [`explanation`]: the controls every explanation has ([`explanation::ExplanationChoice`]).
//! - [`compare`]: the comparison layout, its controls, the colorbar.
//! - [`model_card`]: the model card and the prediction.
//! - [`metrics`]: the metrics & review panel and the reports it draws.
//! - [`panels`]: the series list and the DICOM tag browser.
//! - [`features`]: the features panel (radiomics and deep features of the active region).
//!
//! Dependency rule: `ui/` has no dependency on `app/`; it uses the data types of `dicom`,
//! `imaging`, `render`, `model`, `explain`, `features` and `review`, and never starts threads or reads files.

pub mod cohort;
pub mod compare;
pub mod explanation;
pub mod features;
pub mod metrics;
pub mod model_card;
pub mod panels;
pub mod roi;
pub mod status;
pub mod theme;
pub mod view;
pub mod viewer;
