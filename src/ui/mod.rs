//! Widgets: `*_ui(ui, ..)` functions that draw and report what the user asked for. All colours
//! and sizes come from [`theme`].
//!
//! Dependency rule: `ui/` may use `app` state types, `imaging` and `render`; it never starts
//! threads or reads files.

pub mod compare;
pub mod metrics;
pub mod model_card;
pub mod panels;
pub mod roi;
pub mod status;
pub mod theme;
pub mod viewer;
