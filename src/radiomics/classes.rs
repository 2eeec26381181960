//! The feature classes by name: PyRadiomics' class names, each class's feature list and its
//! computation, in the order PyRadiomics writes them (shape classes first, then alphabetical).

use super::types::FeatureDef;
use super::{firstorder, glcm, gldm, glrlm, glszm, ngtdm, shape, shape2d};

/// A PyRadiomics feature class. The derived order is the order of the output columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    Shape,
    Shape2D,
    FirstOrder,
    Glcm,
    Gldm,
    Glrlm,
    Glszm,
    Ngtdm,
}

impl Class {
    pub const ALL: [Self; 8] = [
        Self::Shape,
        Self::Shape2D,
        Self::FirstOrder,
        Self::Glcm,
        Self::Gldm,
        Self::Glrlm,
        Self::Glszm,
        Self::Ngtdm,
    ];

    /// What PyRadiomics enables without a parameter file (shape2D needs `force2D`).
    pub const DEFAULT: [Self; 7] = [
        Self::Shape,
        Self::FirstOrder,
        Self::Glcm,
        Self::Gldm,
        Self::Glrlm,
        Self::Glszm,
        Self::Ngtdm,
    ];

    /// PyRadiomics' name, as in column names and parameter files.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Shape => "shape",
            Self::Shape2D => "shape2D",
            Self::FirstOrder => "firstorder",
            Self::Glcm => "glcm",
            Self::Gldm => "gldm",
            Self::Glrlm => "glrlm",
            Self::Glszm => "glszm",
            Self::Ngtdm => "ngtdm",
        }
    }

    /// Every feature the class defines, deprecated ones flagged.
    #[must_use]
    pub fn features(self) -> &'static [FeatureDef] {
        match self {
            Self::Shape => shape::FEATURES,
            Self::Shape2D => shape2d::FEATURES,
            Self::FirstOrder => firstorder::FEATURES,
            Self::Glcm => glcm::FEATURES,
            Self::Gldm => gldm::FEATURES,
            Self::Glrlm => glrlm::FEATURES,
            Self::Glszm => glszm::FEATURES,
            Self::Ngtdm => ngtdm::FEATURES,
        }
    }

    /// The class's feature called `name` (exact spelling), if it has one.
    #[must_use]
    pub fn feature_name(self, name: &str) -> Option<&'static str> {
        self.features()
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.name)
    }

    /// The features computed when the class is enabled without a list: all but the deprecated,
    /// in PyRadiomics' order (sorted by the name of its getter, `get<Name>FeatureValue`, which is
    /// why `MeanAbsoluteDeviation` comes before `Mean`).
    #[must_use]
    pub fn default_features(self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self
            .features()
            .iter()
            .filter(|f| !f.deprecated)
            .map(|f| f.name)
            .collect();
        names.sort_by_cached_key(|name| format!("get{name}FeatureValue"));
        names
    }
}

/// Deprecated features PyRadiomics accepts by name but computes no value for (their getters
/// raise: each equals another feature), with that feature. radlens accepts them too and leaves
/// them out with a warning, so parameter files behave the same.
pub const NOT_COMPUTED: [(Class, &str, &str); 6] = [
    (Class::Glcm, "Dissimilarity", "DifferenceAverage"),
    (Class::Glcm, "Homogeneity1", "Id"),
    (Class::Glcm, "Homogeneity2", "Idm"),
    (Class::Glcm, "SumVariance", "ClusterTendency"),
    (Class::Gldm, "DependencePercentage", "always 1"),
    (
        Class::Gldm,
        "GrayLevelNonUniformityNormalized",
        "firstorder Uniformity",
    ),
];

/// What replaces `name` of `class` if PyRadiomics computes no value for it.
#[must_use]
pub fn not_computed(class: Class, name: &str) -> Option<&'static str> {
    NOT_COMPUTED
        .iter()
        .find(|(c, n, _)| *c == class && *n == name)
        .map(|(_, _, instead)| *instead)
}

/// The class called `name` in a parameter file.
#[must_use]
pub fn class_by_name(name: &str) -> Option<Class> {
    Class::ALL.into_iter().find(|c| c.name() == name)
}
