//! The data the feature classes work on. Shared by every class file; plain data, no logic beyond
//! indexing.
//!
//! Axis order everywhere is numpy's (and PyRadiomics'): `[z, y, x]` = `[slices, rows, cols]`,
//! row-major, so voxel `(z, y, x)` is at `(z * dims[1] + y) * dims[2] + x`.

/// Image values and the region of interest, already cropped to the ROI's bounding box (as
/// PyRadiomics crops before computing features), values in `f64`.
#[derive(Clone, Debug, PartialEq)]
pub struct Roi {
    /// Voxel values after normalisation, `[z, y, x]` row-major.
    pub values: Vec<f64>,
    /// `true` inside the region (after resegmentation for the intensity and texture classes; the
    /// shape classes get the region before resegmentation, as PyRadiomics does).
    pub inside: Vec<bool>,
    /// `[z, y, x]`.
    pub dims: [usize; 3],
    /// Voxel spacing in mm, `[z, y, x]`.
    pub spacing_mm: [f64; 3],
}

impl Roi {
    /// Number of voxels in the box.
    #[must_use]
    pub fn len(&self) -> usize {
        self.dims[0] * self.dims[1] * self.dims[2]
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Flat index of voxel `(z, y, x)`.
    #[must_use]
    pub fn index(&self, z: usize, y: usize, x: usize) -> usize {
        (z * self.dims[1] + y) * self.dims[2] + x
    }

    /// Values of the voxels inside the region, in storage order.
    #[must_use]
    pub fn inside_values(&self) -> Vec<f64> {
        self.values
            .iter()
            .zip(&self.inside)
            .filter_map(|(&v, &inside)| inside.then_some(v))
            .collect()
    }
}

/// The ROI's values discretised into gray levels (PyRadiomics' `binImage`): `1..=n_levels` inside
/// the region, `0` outside. Same box, dims and spacing as the [`Roi`] it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Discretized {
    pub levels: Vec<u32>,
    /// `[z, y, x]`.
    pub dims: [usize; 3],
    /// Voxel spacing in mm, `[z, y, x]`.
    pub spacing_mm: [f64; 3],
    /// The highest gray level the binning can give for these values (PyRadiomics' `Ng` before
    /// empty levels are dropped).
    pub n_levels: u32,
}

impl Discretized {
    /// Flat index of voxel `(z, y, x)`.
    #[must_use]
    pub fn index(&self, z: usize, y: usize, x: usize) -> usize {
        (z * self.dims[1] + y) * self.dims[2] + x
    }
}

/// The settings the texture classes read (PyRadiomics' names in the comments).
#[derive(Clone, Debug, PartialEq)]
pub struct TextureSettings {
    /// `distances` (default `[1]`): neighbour distances, infinity norm.
    pub distances: Vec<usize>,
    /// `force2D` (default `false`): only in-plane neighbours.
    pub force_2d: bool,
    /// `force2Ddimension` (default 0 = the z axis is the one left out).
    pub force_2d_dimension: usize,
    /// `symmetricalGLCM` (default `true`).
    pub symmetrical_glcm: bool,
    /// `gldm_a` (default 0): the coarseness α of GLDM's dependence.
    pub gldm_a: f64,
}

impl Default for TextureSettings {
    fn default() -> Self {
        Self {
            distances: vec![1],
            force_2d: false,
            force_2d_dimension: 0,
            symmetrical_glcm: true,
            gldm_a: 0.0,
        }
    }
}

/// One feature class's result: PyRadiomics' feature names (without the `original_class_`
/// prefix) and values, in the class's own fixed order. Every feature the class defines is
/// computed, deprecated ones included; the extractor picks what is enabled.
pub type ClassValues = Vec<(&'static str, f64)>;

/// What a feature class file declares about each feature it computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureDef {
    /// PyRadiomics' name, e.g. `"JointEnergy"`.
    pub name: &'static str,
    /// Off unless asked for by name (PyRadiomics' deprecated features).
    pub deprecated: bool,
}
