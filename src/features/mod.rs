//! Features of a case (an image and a mask): the handcrafted radiomics features
//! ([`crate::radiomics`]) and, with a model, the deep features ([`deep`]), as one row of named
//! columns — for `radlens features` on one case or a cohort — and their stability under image
//! perturbations ([`perturb`], [`stability`]: pure maths, no I/O).
//!
//! Dependency rule: joins [`crate::dicom`], [`crate::nifti`], [`crate::imaging`],
//! [`crate::radiomics`] and [`crate::model`]; no UI. Output files go through [`crate::output`].

pub mod analysis;
pub mod cohort;
pub mod deep;
pub mod perturb;
pub mod signatures;
pub mod source;
pub mod stability;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::model::Model;
use crate::radiomics::{self, Settings};
pub use deep::{DeepInput, deep_features, deep_features_job};
pub use perturb::Perturbation;
pub use source::{CaseImage, Format, SourceError, format_of};

/// The model side of an extraction.
pub struct DeepModel {
    /// libtorch modules are not `Sync`: cases extracted in parallel take turns on the model
    /// (its forward pass uses all cores by itself).
    pub model: Mutex<Model>,
    pub input: DeepInput,
    pub batch: usize,
    /// SHA-256 of the TorchScript file (`diagnostics_Model_Hash`).
    pub hash: String,
    pub path: PathBuf,
}

impl DeepModel {
    /// Loads the TorchScript model at `path` for deep features, with the SHA-256 of its file
    /// (the `radlens features --model` side and the viewer's phantom cohort use this one loader).
    pub fn open(path: &Path, input: DeepInput, batch: usize) -> anyhow::Result<Self> {
        use anyhow::Context;
        let model = Model::load(path)?;
        let (hash, _) = crate::output::sha256_file(path)
            .with_context(|| format!("cannot hash {}", path.display()))?;
        Ok(Self {
            model: Mutex::new(model),
            input,
            batch,
            hash,
            path: path.to_owned(),
        })
    }
}

/// How every case is extracted.
pub struct Extractor {
    pub settings: Settings,
    pub deep: Option<DeepModel>,
    /// Spacing `[z, y, x]` mm of `.npy` images.
    pub npy_spacing: Option<[f64; 3]>,
    /// Series id or UID for DICOM folders with several image series.
    pub series: Option<String>,
}

/// One case's outcome: diagnostics and feature values, or the error that stopped it.
#[derive(Clone, Debug, Default)]
pub struct CaseRow {
    /// `diagnostics_*` name and text value, in a fixed order.
    pub diagnostics: Vec<(String, String)>,
    pub features: Vec<(String, f64)>,
    pub error: Option<String>,
    /// Every file the case read (outputs may not replace them).
    pub files: Vec<PathBuf>,
}

/// A case's features on one perturbation of its image and mask.
#[derive(Clone, Debug)]
pub struct PerturbedRow {
    pub perturbation: Perturbation,
    /// The noise level the perturbation used (noise only).
    pub noise_sigma: Option<f64>,
    /// The features (same columns as the case's row), or why none could be computed.
    pub features: Result<Vec<(String, f64)>, String>,
}

/// A case as read, kept for its perturbations.
struct Loaded {
    image: CaseImage,
    labels: Vec<u32>,
    settings: Settings,
}

/// The radlens-wide diagnostics columns, before the per-case ones.
pub const VERSION_COLUMN: &str = "diagnostics_Versions_radlens";
pub const SETTINGS_COLUMN: &str = "diagnostics_Configuration_Settings";
pub const MODEL_COLUMN: &str = "diagnostics_Model_Hash";
pub const ERROR_COLUMN: &str = "diagnostics_error";

impl Extractor {
    /// The columns every row of this extraction starts its diagnostics with (settings and
    /// model: what `merge` and `--resume` compare).
    #[must_use]
    pub fn fixed_diagnostics(&self) -> Vec<(String, String)> {
        let mut d = vec![
            (
                VERSION_COLUMN.to_owned(),
                env!("CARGO_PKG_VERSION").to_owned(),
            ),
            (SETTINGS_COLUMN.to_owned(), self.settings.describe()),
        ];
        if let Some(deep) = &self.deep {
            d.push((MODEL_COLUMN.to_owned(), deep.hash.clone()));
            d.push(("diagnostics_Deep_Input".to_owned(), deep.input.describe()));
        }
        d
    }

    /// Extracts one case; `label` overrides the settings' label. Never panics on bad input: a
    /// failure comes back as the row's `error`.
    #[must_use]
    pub fn case(&self, image: &Path, mask: &Path, label: Option<u32>) -> CaseRow {
        self.case_perturbed(image, mask, label, &[]).0
    }

    /// [`Self::case`], then the features of each of `perturbations` of its image and mask,
    /// through the same extraction (none when the case itself failed).
    #[must_use]
    pub fn case_perturbed(
        &self,
        image: &Path,
        mask: &Path,
        label: Option<u32>,
        perturbations: &[Perturbation],
    ) -> (CaseRow, Vec<PerturbedRow>) {
        let mut row = CaseRow {
            diagnostics: self.fixed_diagnostics(),
            ..CaseRow::default()
        };
        let loaded = match self.fill(&mut row, image, mask, label) {
            Ok(loaded) => loaded,
            Err(error) => {
                row.error = Some(error);
                return (row, Vec::new());
            }
        };
        let perturbed = perturbations
            .iter()
            .map(|&perturbation| {
                let copy = perturb::apply(
                    perturbation,
                    &perturb::Image {
                        values: &loaded.image.values,
                        labels: &loaded.labels,
                        dims: loaded.image.grid.dims,
                        spacing_mm: loaded.image.grid.spacing_mm,
                    },
                    loaded.settings.label,
                );
                let features = self
                    .features_of(&copy.values, &copy.labels, &loaded.image, &loaded.settings)
                    .map(|(extraction, deep)| {
                        let mut features = extraction.features;
                        features.extend(deep);
                        features
                    });
                PerturbedRow {
                    perturbation,
                    noise_sigma: copy.noise_sigma,
                    features,
                }
            })
            .collect();
        (row, perturbed)
    }

    /// The handcrafted and deep features of `values` and `labels` on `image`'s grid (the image
    /// itself, or a perturbed copy of it and its mask).
    fn features_of(
        &self,
        values: &[f64],
        labels: &[u32],
        image: &CaseImage,
        settings: &Settings,
    ) -> Result<(radiomics::Extraction, Vec<(String, f64)>), String> {
        let volume = radiomics::Volume {
            values,
            labels,
            dims: image.grid.dims,
            spacing_mm: image.grid.spacing_mm,
        };
        let extraction = radiomics::extract(&volume, settings).map_err(|e| e.to_string())?;
        let Some(deep) = &self.deep else {
            return Ok((extraction, Vec::new()));
        };
        let model = deep
            .model
            .lock()
            .map_err(|_| "the model worker failed on an earlier case".to_owned())?;
        let columns = deep_features(
            &model,
            values,
            image.grid.dims,
            labels,
            settings.label,
            deep.input,
            deep.batch,
        )
        .map_err(|e| format!("deep features: {e}"))?;
        Ok((extraction, columns))
    }

    fn fill(
        &self,
        row: &mut CaseRow,
        image_path: &Path,
        mask_path: &Path,
        label: Option<u32>,
    ) -> Result<Loaded, String> {
        let image = CaseImage::read(image_path, self.series.as_deref(), self.npy_spacing)
            .map_err(|e| e.to_string())?;
        row.files.extend(image.files.iter().cloned());
        row.files.push(mask_path.to_owned());
        let mut settings = self.settings.clone();
        if let Some(label) = label {
            settings.label = label;
        }
        let labels = image
            .read_mask(mask_path, settings.label)
            .map_err(|e| e.to_string())?;
        // PyRadiomics writes sizes and spacings in SimpleITK's (x, y, z) order.
        let dims = image.grid.dims;
        let spacing = image.grid.spacing_mm;
        let d = &mut row.diagnostics;
        d.push((
            "diagnostics_Image-original_Size".into(),
            format!("({}, {}, {})", dims[2], dims[1], dims[0]),
        ));
        d.push((
            "diagnostics_Image-original_Spacing".into(),
            format!("({}, {}, {})", spacing[2], spacing[1], spacing[0]),
        ));
        let (extraction, deep) = self
            .features_of(&image.values, &labels, &image, &settings)
            .map_err(|e| {
                format!(
                    "{e}: {} with mask {}",
                    image_path.display(),
                    mask_path.display()
                )
            })?;
        // PyRadiomics' (x, y, z, size x, size y, size z).
        let describe = |b: radiomics::BoundingBox| {
            let s = b.size();
            format!(
                "({}, {}, {}, {}, {}, {})",
                b.lower[2], b.lower[1], b.lower[0], s[2], s[1], s[0]
            )
        };
        d.push((
            "diagnostics_Mask-original_BoundingBox".into(),
            describe(extraction.original_box),
        ));
        d.push((
            "diagnostics_Mask-original_VoxelNum".into(),
            extraction.voxel_count.to_string(),
        ));
        if settings.resegment_range.is_some() {
            d.push((
                "diagnostics_Mask-resegmented_BoundingBox".into(),
                describe(extraction.bounding_box),
            ));
            d.push((
                "diagnostics_Mask-resegmented_VoxelNum".into(),
                extraction.resegmented_count.to_string(),
            ));
        }
        let mut warnings: Vec<String> = image.warnings.clone();
        warnings.extend(extraction.warnings.iter().cloned());
        row.features = extraction.features;
        if let Some(deep) = &self.deep {
            let model = deep
                .model
                .lock()
                .map_err(|_| "the model worker failed on an earlier case".to_owned())?;
            if let Some(w) = model.manifest.modality_warning(&image.modality) {
                warnings.push(w);
            }
        }
        row.features.extend(deep);
        row.diagnostics
            .push(("diagnostics_Warnings".into(), warnings.join("; ")));
        Ok(Loaded {
            image,
            labels,
            settings,
        })
    }
}

/// A feature value as written to CSV and JSON text: shortest round-trip decimal, `nan`/`inf`
/// as PyRadiomics' CSV writes them.
#[must_use]
pub fn format_value(value: f64) -> String {
    if value.is_nan() {
        "nan".into()
    } else if value.is_infinite() {
        if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{value}")
    }
}
