//! Pure CPU imaging maths, no I/O and no GPU: display windows, colormaps, and the reference
//! implementation of the slice shader (window/level, heatmap blend, mask outline), superpixels.
//!
//! Dependency rule: `imaging/` depends on nothing else in the crate.

mod colormap;
pub mod grid;
mod lesion;
mod shade;
mod superpixels;
mod window;

pub use colormap::{Colormap, LUT_SIZE, lut_index};
pub use lesion::{Lesion, LesionRanges, LesionSpec};
pub use shade::{
    HeatParams, OUTLINE_RGB, ShadeParams, blend, heat_position, is_outline, shade_slice,
    window_grey,
};
pub use superpixels::{Superpixels, slic};
pub use window::{Window, percentile_window};
