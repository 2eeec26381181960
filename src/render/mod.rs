//! GPU drawing of slices and their overlays. The only module that imports wgpu.
//!
//! Dependency rule: `render/` uses `imaging/` (colormaps, the parameters the shader mirrors) and
//! takes slices, heatmaps and masks as plain arrays; it never sees DICOM objects, models or UI state.
//!
//! Following egui's `custom3d_wgpu` example: [`SliceRenderers`] (pipeline + per-view textures) is put
//! into egui-wgpu's `callback_resources` once at start-up; each frame the viewer creates a small
//! [`SliceCallback`] whose `prepare` writes uniforms and uploads textures only when the slice,
//! heatmap, mask or colormap changed (they carry generation numbers), and whose `paint` draws.

mod callback;
mod offscreen;
mod renderer;

pub use callback::{SliceCallback, install};
pub use renderer::{
    Frame, HeatLayer, MaskLayer, SHADER_SOURCE, SliceImage, SliceRenderer, SliceRenderers,
    Uniforms, next_generation,
};
