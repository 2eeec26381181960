//! Pure CPU imaging maths, no I/O and no GPU: display windows, and (later) colormaps, resampling
//! and blending that the shaders mirror.
//!
//! Dependency rule: `imaging/` depends on nothing else in the crate.

mod window;

pub use window::{Window, percentile_window};
