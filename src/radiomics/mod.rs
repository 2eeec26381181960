//! Handcrafted radiomics features per region of interest, PyRadiomics-compatible (its
//! definitions, defaults and column names, which follow IBSI except where docs/RADIOMICS.md says
//! otherwise), computed in `f64`.
//!
//! Dependency rule: `radiomics/` is pure maths on arrays: it depends on nothing else in the crate
//! and does no I/O beyond reading a parameter file. Loading images and masks (DICOM, NIfTI,
//! `.npy`) and the deep features live in `features/`.
//!
//! Pipeline ([`extract`]): [`preprocess::prepare`] (normalise, select the label, check, resegment,
//! crop) → the shape classes on the label's region → [`preprocess::discretize`] → first order and
//! the texture classes (`glcm`, `gldm`, `glrlm`, `glszm`, `ngtdm`), each a file with
//! `FEATURES` and `compute`.

mod angles;
mod classes;
mod firstorder;
mod glcm;
mod gldm;
mod glrlm;
mod glszm;
pub mod ibsi;
mod marching;
mod ngtdm;
pub mod preprocess;
pub mod settings;
mod shape;
mod shape2d;
pub mod types;

use rayon::prelude::*;

pub use classes::{Class, class_by_name};
pub use preprocess::{BoundingBox, RoiError, Volume};
pub use settings::{Binning, Settings, SettingsError};

/// The features of one region, and what the diagnostics columns report about it.
#[derive(Clone, Debug)]
pub struct Extraction {
    /// `original_<class>_<Feature>` and value, in PyRadiomics' column order.
    pub features: Vec<(String, f64)>,
    /// Voxels of the label (before resegmentation).
    pub voxel_count: usize,
    /// Voxels used by first order and texture (after resegmentation).
    pub resegmented_count: usize,
    /// The box the features were computed in (after resegmentation), `[z, y, x]`, in the
    /// input grid's indices.
    pub bounding_box: BoundingBox,
    /// The label's box before resegmentation.
    pub original_box: BoundingBox,
    /// Gray levels the binning produced (`n_levels` of the discretised ROI).
    pub gray_levels: u32,
    /// Classes that were enabled but could not be computed (e.g. shape2D without `force2D`), as
    /// PyRadiomics warns and skips them.
    pub warnings: Vec<String>,
}

/// Computes every enabled feature of `settings` for the label's region of `volume`.
pub fn extract(volume: &Volume<'_>, settings: &Settings) -> Result<Extraction, RoiError> {
    let prepared = preprocess::prepare(volume, settings)?;
    let discretized = preprocess::discretize(&prepared.roi, settings.binning);
    let results: Vec<Result<Vec<(String, f64)>, String>> = settings
        .classes
        .par_iter()
        .map(|(class, names)| {
            let values = compute_class(*class, &prepared, &discretized, settings)?;
            let names = names.clone().unwrap_or_else(|| class.default_features());
            Ok(names
                .into_iter()
                .filter(|name| classes::not_computed(*class, name).is_none())
                .map(|name| {
                    let value = values
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map_or(f64::NAN, |(_, v)| *v);
                    (format!("original_{}_{name}", class.name()), value)
                })
                .collect())
        })
        .collect();
    let mut features = Vec::new();
    let mut warnings: Vec<String> = settings
        .classes
        .iter()
        .flat_map(|(class, names)| {
            names.iter().flatten().filter_map(move |name| {
                classes::not_computed(*class, name).map(|instead| {
                    format!(
                        "{} {name} is deprecated and not computed, as in PyRadiomics (use {instead})",
                        class.name()
                    )
                })
            })
        })
        .collect();
    for result in results {
        match result {
            Ok(values) => features.extend(values),
            Err(warning) => warnings.push(warning),
        }
    }
    Ok(Extraction {
        features,
        voxel_count: prepared.voxel_count,
        resegmented_count: prepared.resegmented_count,
        bounding_box: prepared.bounding_box,
        original_box: prepared.original_box,
        gray_levels: discretized.n_levels,
        warnings,
    })
}

fn compute_class(
    class: Class,
    prepared: &preprocess::Prepared,
    discretized: &types::Discretized,
    settings: &Settings,
) -> Result<types::ClassValues, String> {
    let texture = &settings.texture;
    Ok(match class {
        Class::Shape => shape::compute(&prepared.shape),
        Class::Shape2D => {
            if !texture.force_2d {
                return Err("shape2D needs force2D: true; skipped".into());
            }
            let extent = prepared.bounding_box.size()[texture.force_2d_dimension];
            if extent > 1 {
                return Err(format!(
                    "shape2D needs a ROI one voxel thick along force2Ddimension {} (it spans {extent}); skipped",
                    texture.force_2d_dimension
                ));
            }
            shape2d::compute(&prepared.shape, texture.force_2d_dimension)
                .map_err(|reason| format!("shape2D: {reason}; skipped"))?
        }
        Class::FirstOrder => {
            firstorder::compute(&prepared.roi, discretized, settings.voxel_array_shift)
        }
        Class::Glcm => glcm::compute(discretized, texture),
        Class::Gldm => gldm::compute(discretized, texture),
        Class::Glrlm => glrlm::compute(discretized, texture),
        Class::Glszm => glszm::compute(discretized, texture),
        Class::Ngtdm => ngtdm::compute(discretized, texture),
    })
}
