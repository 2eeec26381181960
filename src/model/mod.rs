//! Running the user's TorchScript classifier: its manifest (`M.toml` beside `M.pt`), loading with
//! validation and its capabilities (CAM, gradients), preprocessing a slice into the model's
//! input, and prediction.
//!
//! Dependency rule: `model/` (with `explain/`) is the only place that imports tch. It takes plain
//! arrays (slices as `f32` values), never DICOM objects, and knows nothing about the UI.
//!

mod capabilities;
mod error;
mod feature_units;
mod manifest;
mod preprocess;
mod randomise;
mod runtime;
mod worker;

pub use capabilities::{Capabilities, Capability, Support};
pub use error::ModelError;
pub(crate) use error::first_line;
pub use manifest::{
    CamFiles, InputShape, MAX_INPUT_CHANNELS, MAX_INPUT_SIDE, Manifest, Preprocess, Provenance,
    TokenLayout, TokenOrder,
};
pub use preprocess::{input_tensor, preprocess_slice};
pub use randomise::{RandomisationStage, layers_top_first};
pub use runtime::{Model, Prediction};
pub use worker::{Job, JobContext, Reply, Request, Worker, newest_per_view};
