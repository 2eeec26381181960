//! Extraction settings, set the PyRadiomics way: a YAML parameter file with `setting:`,
//! `imageType:` and `featureClass:` sections. Only the keys radlens implements are accepted; an
//! unknown key is an error, never silently ignored (a misspelt `binwidth` would otherwise give
//! features binned at the default 25 without anyone noticing).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::classes::{Class, class_by_name};
use super::types::TextureSettings;

/// How the gray levels are discretised (PyRadiomics' `binWidth` / `binCount`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Binning {
    /// Fixed bin width, edges at multiples of the width (`binWidth`, default 25).
    Width(f64),
    /// A fixed number of equal bins between the ROI's minimum and maximum (`binCount`).
    Count(usize),
}

/// How `resegmentRange` thresholds are meant (PyRadiomics' `resegmentMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResegmentMode {
    /// Gray values as they are.
    Absolute,
    /// Fractions of the ROI's maximum.
    Relative,
    /// Standard deviations from the ROI's mean.
    Sigma,
}

/// Every setting the extraction reads, with PyRadiomics' defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub binning: Binning,
    /// `label`: mask voxels equal to this value form the region.
    pub label: u32,
    /// `minimumROIDimensions` (1–3, default 2): how many axes the ROI's box must span > 1 voxel.
    pub minimum_roi_dimensions: usize,
    /// `minimumROISize`: fewest voxels in the ROI (none by default).
    pub minimum_roi_size: Option<usize>,
    /// `resegmentRange`: one threshold (lower) or two (closed range).
    pub resegment_range: Option<Vec<f64>>,
    pub resegment_mode: ResegmentMode,
    /// `normalize`: z-score the whole image before anything else.
    pub normalize: bool,
    /// `normalizeScale` (default 1).
    pub normalize_scale: f64,
    /// `removeOutliers`: clip normalised values at ± this many standard deviations.
    pub remove_outliers: Option<f64>,
    /// `voxelArrayShift` (default 0): added before Energy, TotalEnergy and RootMeanSquared.
    pub voxel_array_shift: f64,
    pub texture: TextureSettings,
    /// `featureClass`: the enabled classes and, per class, the named features (`None` = the
    /// class's default set). Default: every class except `shape2D`, as PyRadiomics.
    pub classes: EnabledClasses,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            binning: Binning::Width(25.0),
            label: 1,
            minimum_roi_dimensions: 2,
            minimum_roi_size: None,
            resegment_range: None,
            resegment_mode: ResegmentMode::Absolute,
            normalize: false,
            normalize_scale: 1.0,
            remove_outliers: None,
            voxel_array_shift: 0.0,
            texture: TextureSettings::default(),
            classes: Class::DEFAULT.iter().map(|&class| (class, None)).collect(),
        }
    }
}

/// A parameter file that cannot be used, with the reason (the caller names the file).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(String);

fn error(message: impl Into<String>) -> SettingsError {
    SettingsError(message.into())
}

/// The `setting:` section as written; `deny_unknown_fields` makes a misspelt key an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SettingSection {
    bin_width: Option<f64>,
    bin_count: Option<i64>,
    label: Option<i64>,
    #[serde(rename = "minimumROIDimensions")]
    minimum_roi_dimensions: Option<i64>,
    #[serde(rename = "minimumROISize")]
    minimum_roi_size: Option<i64>,
    resegment_range: Option<Vec<f64>>,
    resegment_mode: Option<ResegmentMode>,
    normalize: Option<bool>,
    normalize_scale: Option<f64>,
    remove_outliers: Option<f64>,
    voxel_array_shift: Option<f64>,
    distances: Option<Vec<i64>>,
    #[serde(rename = "force2D")]
    force_2d: Option<bool>,
    #[serde(rename = "force2Ddimension")]
    force_2d_dimension: Option<i64>,
    #[serde(rename = "symmetricalGLCM")]
    symmetrical_glcm: Option<bool>,
    #[serde(rename = "gldm_a")]
    gldm_a: Option<f64>,
    /// Accepted for compatibility: radlens always writes its diagnostics columns.
    additional_info: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ParameterFile {
    #[serde(default)]
    setting: Option<SettingSection>,
    #[serde(default)]
    image_type: Option<BTreeMap<String, serde_yaml_ng::Value>>,
    #[serde(default)]
    /// A YAML mapping keeps the file's order, which is PyRadiomics' column order.
    feature_class: Option<serde_yaml_ng::Mapping>,
}

impl Settings {
    /// Parses a PyRadiomics parameter file's text.
    pub fn from_yaml(text: &str) -> Result<Self, SettingsError> {
        let file: ParameterFile = if text.trim().is_empty() {
            ParameterFile::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| error(one_line(&e.to_string())))?
        };
        let mut settings = Self::default();
        if let Some(section) = file.setting {
            settings.apply(section)?;
        }
        if let Some(image_types) = file.image_type {
            for (name, options) in &image_types {
                let empty = options.is_null()
                    || options
                        .as_mapping()
                        .is_some_and(serde_yaml_ng::Mapping::is_empty);
                if name == "Original" && !empty {
                    return Err(error(
                        "imageType Original: per-image-type settings are not supported; put them \
                         under setting:",
                    ));
                }
                if name != "Original" {
                    return Err(error(format!(
                        "imageType {name} is not supported (radlens computes features on the \
                         Original image only)"
                    )));
                }
            }
        }
        if let Some(classes) = file.feature_class {
            settings.classes = enabled_classes(classes)?;
        }
        Ok(settings)
    }

    /// Reads a parameter file.
    pub fn read(path: &std::path::Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| error(format!("{}: cannot read: {e}", path.display())))?;
        Self::from_yaml(&text).map_err(|e| error(format!("{}: {e}", path.display())))
    }

    fn apply(&mut self, s: SettingSection) -> Result<(), SettingsError> {
        match (s.bin_width, s.bin_count) {
            (Some(_), Some(_)) => {
                return Err(error("binWidth and binCount are both set: choose one"));
            }
            (Some(width), None) => {
                if !(width.is_finite() && width > 0.0) {
                    return Err(error(format!(
                        "binWidth must be a positive number, got {width}"
                    )));
                }
                self.binning = Binning::Width(width);
            }
            (None, Some(count)) => {
                self.binning = Binning::Count(positive("binCount", count)?);
            }
            (None, None) => {}
        }
        if let Some(label) = s.label {
            self.label = u32::try_from(positive("label", label)?)
                .map_err(|_| error(format!("label {label} is too large")))?;
        }
        if let Some(dims) = s.minimum_roi_dimensions {
            if !(1..=3).contains(&dims) {
                return Err(error(format!(
                    "minimumROIDimensions must be 1, 2 or 3, got {dims}"
                )));
            }
            self.minimum_roi_dimensions = dims as usize;
        }
        if let Some(size) = s.minimum_roi_size {
            self.minimum_roi_size = Some(positive("minimumROISize", size)?);
        }
        if let Some(range) = s.resegment_range {
            if range.is_empty() || range.len() > 2 || range.iter().any(|v| !v.is_finite()) {
                return Err(error(format!(
                    "resegmentRange must be one or two finite numbers, got {range:?}"
                )));
            }
            self.resegment_range = Some(range);
        }
        if let Some(mode) = s.resegment_mode {
            self.resegment_mode = mode;
        }
        if let Some(normalize) = s.normalize {
            self.normalize = normalize;
        }
        if let Some(scale) = s.normalize_scale {
            if !(scale.is_finite() && scale > 0.0) {
                return Err(error(format!(
                    "normalizeScale must be positive, got {scale}"
                )));
            }
            self.normalize_scale = scale;
        }
        if let Some(outliers) = s.remove_outliers {
            if !(outliers.is_finite() && outliers > 0.0) {
                return Err(error(format!(
                    "removeOutliers must be positive, got {outliers}"
                )));
            }
            self.remove_outliers = Some(outliers);
        }
        if let Some(shift) = s.voxel_array_shift {
            if !shift.is_finite() {
                return Err(error("voxelArrayShift must be a finite number"));
            }
            self.voxel_array_shift = shift;
        }
        if let Some(distances) = s.distances {
            if distances.is_empty() {
                return Err(error("distances must list at least one distance"));
            }
            self.texture.distances = distances
                .into_iter()
                .map(|d| positive("distances", d))
                .collect::<Result<_, _>>()?;
        }
        if let Some(force) = s.force_2d {
            self.texture.force_2d = force;
        }
        if let Some(dimension) = s.force_2d_dimension {
            if !(0..=2).contains(&dimension) {
                return Err(error(format!(
                    "force2Ddimension must be 0, 1 or 2, got {dimension}"
                )));
            }
            self.texture.force_2d_dimension = dimension as usize;
        }
        if let Some(symmetrical) = s.symmetrical_glcm {
            self.texture.symmetrical_glcm = symmetrical;
        }
        if let Some(a) = s.gldm_a {
            if !(a.is_finite() && a >= 0.0) {
                return Err(error(format!("gldm_a must be ≥ 0, got {a}")));
            }
            self.texture.gldm_a = a;
        }
        let _ = s.additional_info;
        Ok(())
    }

    /// The settings as PyRadiomics would print them (for the `diagnostics_Configuration_Settings`
    /// column and for refusing to merge shards made with different settings).
    #[must_use]
    pub fn describe(&self) -> String {
        let binning = match self.binning {
            Binning::Width(w) => format!("binWidth={w}"),
            Binning::Count(c) => format!("binCount={c}"),
        };
        let classes: Vec<String> = self
            .classes
            .iter()
            .map(|(class, features)| match features {
                None => class.name().to_owned(),
                Some(names) => format!("{}[{}]", class.name(), names.join(",")),
            })
            .collect();
        format!(
            "{binning}; label={}; minimumROIDimensions={}; minimumROISize={}; resegmentRange={}; \
             resegmentMode={:?}; normalize={}; normalizeScale={}; removeOutliers={}; \
             voxelArrayShift={}; distances={:?}; force2D={}; force2Ddimension={}; \
             symmetricalGLCM={}; gldm_a={}; classes={}",
            self.label,
            self.minimum_roi_dimensions,
            self.minimum_roi_size
                .map_or("None".into(), |v| v.to_string()),
            self.resegment_range
                .as_ref()
                .map_or("None".into(), |r| format!("{r:?}")),
            self.resegment_mode,
            self.normalize,
            self.normalize_scale,
            self.remove_outliers
                .map_or("None".into(), |v| v.to_string()),
            self.voxel_array_shift,
            self.texture.distances,
            self.texture.force_2d,
            self.texture.force_2d_dimension,
            self.texture.symmetrical_glcm,
            self.texture.gldm_a,
            classes.join(" "),
        )
    }
}

fn positive(key: &str, value: i64) -> Result<usize, SettingsError> {
    if value < 1 {
        return Err(error(format!(
            "{key} must be a positive whole number, got {value}"
        )));
    }
    usize::try_from(value).map_err(|_| error(format!("{key} {value} is too large")))
}

/// The enabled classes, each with its named features (`None`: the class's defaults).
pub type EnabledClasses = Vec<(Class, Option<Vec<&'static str>>)>;

fn enabled_classes(classes: serde_yaml_ng::Mapping) -> Result<EnabledClasses, SettingsError> {
    let mut enabled = Vec::new();
    // PyRadiomics computes the shape classes first (shape, then shape2D), then the others in
    // the file's order.
    for (name, features) in classes {
        let Some(name) = name.as_str().map(str::to_owned) else {
            return Err(error(format!("featureClass: {name:?} is not a class name")));
        };
        let features: Option<Vec<String>> = serde_yaml_ng::from_value(features).map_err(|_| {
            error(format!(
                "featureClass {name}: a list of feature names (or nothing for the defaults)"
            ))
        })?;
        let class = class_by_name(&name).ok_or_else(|| {
            error(format!(
                "featureClass {name} is not a feature class (known: {})",
                Class::ALL.map(Class::name).join(", ")
            ))
        })?;
        let features = match features {
            // `glcm:` or `glcm: []`: the class's default set.
            None => None,
            Some(list) if list.is_empty() => None,
            Some(list) => Some(
                list.iter()
                    .map(|feature| {
                        class
                            .feature_name(feature)
                            .ok_or_else(|| error(format!("{name} has no feature {feature}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        enabled.push((class, features));
    }
    if enabled
        .iter()
        .map(|(c, _)| *c)
        .collect::<std::collections::HashSet<_>>()
        .len()
        != enabled.len()
    {
        return Err(error("featureClass names a class twice"));
    }
    enabled.sort_by_key(|(class, _)| match class {
        Class::Shape => 0,
        Class::Shape2D => 1,
        _ => 2,
    });
    Ok(enabled)
}

/// serde_yaml errors can span lines; the CLI promises one line per error.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_pyradiomics_defaults() {
        let s = Settings::from_yaml("").unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.binning, Binning::Width(25.0));
        assert_eq!(s.label, 1);
        assert_eq!(s.texture.distances, vec![1]);
        assert!(!s.classes.iter().any(|(c, _)| *c == Class::Shape2D));
    }

    #[test]
    fn reads_the_supported_keys() {
        let s = Settings::from_yaml(
            "setting:\n  binCount: 32\n  label: 2\n  resegmentRange: [-100, 200]\n  \
             normalize: true\n  normalizeScale: 100\n  removeOutliers: 3\n  voxelArrayShift: 300\n  \
             force2D: true\n  force2Ddimension: 0\n\
             imageType:\n  Original: {}\n\
             featureClass:\n  glcm: [Contrast, Idmn]\n  firstorder:\n  shape2D:\n",
        )
        .unwrap();
        assert_eq!(s.binning, Binning::Count(32));
        assert_eq!(s.label, 2);
        assert_eq!(s.resegment_range, Some(vec![-100.0, 200.0]));
        assert!(s.normalize);
        assert!((s.normalize_scale - 100.0).abs() < 1e-12);
        assert_eq!(s.remove_outliers, Some(3.0));
        assert!(s.texture.force_2d);
        let names: Vec<_> = s.classes.iter().map(|(c, _)| c.name()).collect();
        // Shape classes first, then the file's order (as PyRadiomics writes its columns).
        assert_eq!(names, ["shape2D", "glcm", "firstorder"]);
        assert_eq!(s.classes[1].1, Some(vec!["Contrast", "Idmn"]));
    }

    #[test]
    fn refuses_what_it_does_not_implement() {
        for (text, needle) in [
            ("setting:\n  binwidth: 10\n", "binwidth"),
            (
                "setting:\n  binWidth: -5\n",
                "binWidth must be a positive number, got -5",
            ),
            (
                "setting:\n  binWidth: 0\n",
                "binWidth must be a positive number",
            ),
            ("setting:\n  binWidth: 5\n  binCount: 8\n", "choose one"),
            (
                "setting:\n  label: 0\n",
                "label must be a positive whole number",
            ),
            ("setting:\n  resegmentRange: [1, 2, 3]\n", "resegmentRange"),
            (
                "imageType:\n  LoG: {sigma: [1.0]}\n",
                "imageType LoG is not supported",
            ),
            (
                "featureClass:\n  glcmm:\n",
                "featureClass glcmm is not a feature class",
            ),
            (
                "featureClass:\n  glcm: [Contrast, Nonsense]\n",
                "glcm has no feature Nonsense",
            ),
            ("voxelSetting:\n  kernelRadius: 2\n", "voxelSetting"),
            ("setting: [1, 2\n", ""),
        ] {
            let message = Settings::from_yaml(text).unwrap_err().to_string();
            assert!(message.contains(needle), "{text:?} gave {message:?}");
            assert!(!message.contains('\n'), "{message:?} is not one line");
        }
    }
}
