//! The IBSI name, permanent identifier and unit of every PyRadiomics feature radlens computes, so
//! the viewer and exports can say what a column is in the terms of the Image Biomarker
//! Standardisation Initiative (Zwanenburg et al., *Radiology* 2020; reference manual at
//! ibsi.readthedocs.io), and how radlens' (= PyRadiomics') definition differs from IBSI's.
//!
//! Sources. Names and codes of the morphology and intensity-statistics features are those of the
//! IBSI reference manual (`theibsi/ibsi-doc`, `docs/03_Image_features.rst`). The codes of the
//! intensity histogram and texture features are those DICOM PS3.16 lists in its IBSI context
//! groups (CID 7467 GLCM, 7475 GLRLM, 7476 GLSZM, 7478 intensity histogram, 7500 NGTDM,
//! 7501 NGLDM); the names are the manual's section headings. A feature gets a code only where
//! it is the IBSI feature; PyRadiomics-only features (TotalEnergy, StandardDeviation, MCC, the
//! per-plane 2D diameters, every `shape2D` feature) have `code: None` and a descriptive name.
//! The differences in the notes are those docs/RADIOMICS.md (Deviations) documents.
//!
//! What holds for whole families rather than single features:
//! - PyRadiomics' GLDM is IBSI's neighbouring grey level dependence matrix (NGLDM): Chebyshev
//!   distance 1, coarseness α = `gldm_a`, dependence counted with the centre voxel (≥ 1).
//! - Aggregation: GLCM and GLRLM features are computed per direction and averaged (IBSI
//!   "3D, averaged", ITBB; with `force2D`, each direction's matrix merges all slices, i.e.
//!   "2.5D, direction-merged", JJUI). GLSZM, GLDM and NGTDM use one matrix for the whole ROI
//!   (3D, KOBO; with `force2D`, merged 2D matrices, 62GR).
//! - Grey levels are bin indices, so texture features are unitless; morphology is in mm.
//! - PyRadiomics adds ε = 2.2·10⁻¹⁶ inside every logarithm; it changes nothing visible.

use super::{Class, class_by_name};

/// A feature's unit, relative to the image's intensity unit (HU, SUV, …) and the millimetre.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Dimensionless: ratios, probabilities, entropies, and everything built on grey-level
    /// indices or counts (the texture classes).
    None,
    /// The image's intensity unit.
    Intensity,
    /// The intensity unit squared (Variance, Energy: a sum of squares over voxels, and a voxel
    /// count has no unit).
    IntensitySquared,
    /// Intensity squared times mm³ (TotalEnergy: Energy scaled by the voxel volume).
    IntensitySquaredMm3,
    Mm,
    Mm2,
    Mm3,
    /// 1/mm (surface to volume, perimeter to area).
    PerMm,
}

impl Unit {
    /// The unit as text, given the image's intensity unit: `Intensity` with `"HU"` gives `"HU"`,
    /// `IntensitySquared` gives `"HU²"`, `Mm3` gives `"mm³"`, `None` gives `""`.
    ///
    /// An empty `intensity` means the image has no calibrated unit (most MR) and reads `a.u.`
    /// (arbitrary units), so a squared intensity never prints as a bare `²`. A unit that is not
    /// a single word (`mm²/s`, `a.u.`) is bracketed before it is squared: `(mm²/s)²`.
    #[must_use]
    pub fn text(self, intensity: &str) -> String {
        let intensity = if intensity.trim().is_empty() {
            "a.u."
        } else {
            intensity.trim()
        };
        match self {
            Self::None => String::new(),
            Self::Intensity => intensity.to_owned(),
            Self::IntensitySquared => squared(intensity),
            Self::IntensitySquaredMm3 => format!("{}·mm³", squared(intensity)),
            Self::Mm => "mm".to_owned(),
            Self::Mm2 => "mm²".to_owned(),
            Self::Mm3 => "mm³".to_owned(),
            Self::PerMm => "1/mm".to_owned(),
        }
    }
}

/// `unit²`, bracketed unless `unit` is one word, so `mm²/s` squared is not misread as `mm²/s²`.
fn squared(unit: &str) -> String {
    if unit.chars().all(char::is_alphanumeric) {
        format!("{unit}²")
    } else {
        format!("({unit})²")
    }
}

/// What IBSI calls a PyRadiomics feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ibsi {
    /// IBSI's name for the feature (the manual's heading, e.g. "Angular second moment" for
    /// `JointEnergy`); for a feature IBSI does not define, a descriptive name in the same style.
    pub name: &'static str,
    /// IBSI's permanent four-character identifier, e.g. `"RNU0"`; `None` when the feature is
    /// not an IBSI feature.
    pub code: Option<&'static str>,
    pub unit: Unit,
    /// How PyRadiomics' (and so radlens') definition or value differs from IBSI's, or why the
    /// feature has no code; `None` when they agree.
    pub note: Option<&'static str>,
}

/// The IBSI description of `feature` of `class` (PyRadiomics' exact spelling), if radlens
/// computes such a feature.
#[must_use]
pub fn ibsi(class: Class, feature: &str) -> Option<Ibsi> {
    table(class)
        .iter()
        .find(|(name, _)| *name == feature)
        .map(|(_, entry)| *entry)
}

/// Column name like `"original_firstorder_Mean"` → class, feature and its IBSI description.
///
/// Only `original_` columns: radlens computes no filtered image types, and a filter would change
/// the units (a squared image is in HU², a LoG-filtered one is not in HU at all). Diagnostics,
/// deep-feature and pass-through columns give `None`.
#[must_use]
pub fn describe_column(column: &str) -> Option<(Class, &'static str, Ibsi)> {
    let rest = column.strip_prefix("original_")?;
    // PyRadiomics' class and feature names have no underscore, so the split is unambiguous.
    let (class_name, feature) = rest.split_once('_')?;
    let class = class_by_name(class_name)?;
    let feature = class.feature_name(feature)?;
    Some((class, feature, ibsi(class, feature)?))
}

fn table(class: Class) -> &'static [(&'static str, Ibsi)] {
    match class {
        Class::Shape => SHAPE,
        Class::Shape2D => SHAPE_2D,
        Class::FirstOrder => FIRST_ORDER,
        Class::Glcm => GLCM,
        Class::Gldm => GLDM,
        Class::Glrlm => GLRLM,
        Class::Glszm => GLSZM,
        Class::Ngtdm => NGTDM,
    }
}

/// An IBSI feature.
const fn coded(name: &'static str, code: &'static str, unit: Unit) -> Ibsi {
    Ibsi {
        name,
        code: Some(code),
        unit,
        note: None,
    }
}

/// An IBSI feature whose PyRadiomics value or definition differs in the way `note` says.
const fn coded_note(
    name: &'static str,
    code: &'static str,
    unit: Unit,
    note: &'static str,
) -> Ibsi {
    Ibsi {
        name,
        code: Some(code),
        unit,
        note: Some(note),
    }
}

/// A feature IBSI does not define; `note` says what it is instead.
const fn uncoded(name: &'static str, unit: Unit, note: &'static str) -> Ibsi {
    Ibsi {
        name,
        code: None,
        unit,
        note: Some(note),
    }
}

// Shared notes. docs/RADIOMICS.md (Deviations) has the details behind each.

const MESH: &str = "From PyRadiomics' marching-cubes mesh, which is not always closed, so the \
    value can depend on where the mask sits in the grid and on axis flips; IBSI assumes a closed \
    mesh.";
const MESH_DEPRECATED: &str = "Deprecated in PyRadiomics (redundant with Sphericity), computed \
    only when named. From PyRadiomics' marching-cubes mesh, which is not always closed; IBSI \
    assumes a closed mesh.";
const PLANE_DIAMETER: &str = "Not an IBSI feature (PyRadiomics only): the largest distance \
    between mesh vertices lying in one plane of this orientation. IBSI's maximum 3D diameter is \
    L0JK.";
const PERCENTILE: &str = "Percentiles by numpy's default linear interpolation; IBSI does not fix \
    the percentile method, so other tools may differ slightly.";
const SHIFTED: &str = "Computed on the values plus voxelArrayShift (0 unless the parameter file \
    sets it); equal to IBSI's only when the shift is 0.";
const HISTOGRAM: &str = "From the histogram of the discretised gray levels (binWidth or \
    binCount), like IBSI's intensity histogram family; the other first-order features use the \
    raw values.";
const NORMALISED_BY_NG: &str = "Normalised by the highest gray level present in the ROI, as \
    PyRadiomics does; IBSI's N_g can differ when the discretisation has empty levels.";
const NGTDM_NEIGHBOURS: &str = "PyRadiomics counts voxels with no neighbour in the ROI (with a \
    difference of 0) in n_i and p_i; IBSI leaves them out. Equal when every voxel has a \
    neighbour.";
const NOT_2D_IN_IBSI: &str = "Not an IBSI feature: IBSI defines morphology in 3D only (DHQ4).";

const SHAPE: &[(&str, Ibsi)] = &[
    (
        "Compactness1",
        coded_note("Compactness 1", "SKGS", Unit::None, MESH_DEPRECATED),
    ),
    (
        "Compactness2",
        coded_note("Compactness 2", "BQWJ", Unit::None, MESH_DEPRECATED),
    ),
    ("Elongation", coded("Elongation", "Q3CK", Unit::None)),
    ("Flatness", coded("Flatness", "N17B", Unit::None)),
    (
        "LeastAxisLength",
        coded("Least axis length", "7J51", Unit::Mm),
    ),
    (
        "MajorAxisLength",
        coded("Major axis length", "TDIC", Unit::Mm),
    ),
    (
        "Maximum2DDiameterColumn",
        uncoded(
            "Maximum 2D diameter (row-slice plane, usually coronal)",
            Unit::Mm,
            PLANE_DIAMETER,
        ),
    ),
    (
        "Maximum2DDiameterRow",
        uncoded(
            "Maximum 2D diameter (column-slice plane, usually sagittal)",
            Unit::Mm,
            PLANE_DIAMETER,
        ),
    ),
    (
        "Maximum2DDiameterSlice",
        uncoded(
            "Maximum 2D diameter (row-column plane, usually axial)",
            Unit::Mm,
            PLANE_DIAMETER,
        ),
    ),
    (
        "Maximum3DDiameter",
        coded("Maximum 3D diameter", "L0JK", Unit::Mm),
    ),
    (
        "MeshVolume",
        coded_note("Volume (mesh)", "RNU0", Unit::Mm3, MESH),
    ),
    (
        "MinorAxisLength",
        coded("Minor axis length", "P9VJ", Unit::Mm),
    ),
    (
        "SphericalDisproportion",
        coded_note(
            "Spherical disproportion",
            "KRCK",
            Unit::None,
            MESH_DEPRECATED,
        ),
    ),
    (
        "Sphericity",
        coded_note("Sphericity", "QCFX", Unit::None, MESH),
    ),
    (
        "SurfaceArea",
        coded_note("Surface area (mesh)", "C0JK", Unit::Mm2, MESH),
    ),
    (
        "SurfaceVolumeRatio",
        coded_note("Surface to volume ratio", "2PR5", Unit::PerMm, MESH),
    ),
    (
        "VoxelVolume",
        coded("Volume (voxel counting)", "YEKZ", Unit::Mm3),
    ),
];

const SHAPE_2D: &[(&str, Ibsi)] = &[
    (
        "Elongation",
        uncoded("Elongation (2D)", Unit::None, NOT_2D_IN_IBSI),
    ),
    (
        "MajorAxisLength",
        uncoded("Major axis length (2D)", Unit::Mm, NOT_2D_IN_IBSI),
    ),
    (
        "MaximumDiameter",
        uncoded("Maximum 2D diameter", Unit::Mm, NOT_2D_IN_IBSI),
    ),
    (
        "MeshSurface",
        uncoded("Area (mesh, 2D)", Unit::Mm2, NOT_2D_IN_IBSI),
    ),
    (
        "MinorAxisLength",
        uncoded("Minor axis length (2D)", Unit::Mm, NOT_2D_IN_IBSI),
    ),
    (
        "Perimeter",
        uncoded("Perimeter (mesh, 2D)", Unit::Mm, NOT_2D_IN_IBSI),
    ),
    (
        "PerimeterSurfaceRatio",
        uncoded("Perimeter to area ratio (2D)", Unit::PerMm, NOT_2D_IN_IBSI),
    ),
    (
        "PixelSurface",
        uncoded("Area (pixel counting, 2D)", Unit::Mm2, NOT_2D_IN_IBSI),
    ),
    (
        "SphericalDisproportion",
        uncoded(
            "Spherical disproportion (2D)",
            Unit::None,
            "Not an IBSI feature: IBSI defines morphology in 3D only (DHQ4). Deprecated in \
             PyRadiomics (the inverse of Sphericity), computed only when named.",
        ),
    ),
    (
        "Sphericity",
        uncoded("Sphericity (2D)", Unit::None, NOT_2D_IN_IBSI),
    ),
];

const FIRST_ORDER: &[(&str, Ibsi)] = &[
    (
        "10Percentile",
        coded_note(
            "10th intensity percentile",
            "QG58",
            Unit::Intensity,
            PERCENTILE,
        ),
    ),
    (
        "90Percentile",
        coded_note(
            "90th intensity percentile",
            "8DWT",
            Unit::Intensity,
            PERCENTILE,
        ),
    ),
    (
        "Energy",
        coded_note(
            "Intensity-based energy",
            "N8CA",
            Unit::IntensitySquared,
            SHIFTED,
        ),
    ),
    (
        "Entropy",
        coded_note(
            "Discretised intensity entropy",
            "TLU2",
            Unit::None,
            HISTOGRAM,
        ),
    ),
    (
        "InterquartileRange",
        coded_note(
            "Intensity interquartile range",
            "SALO",
            Unit::Intensity,
            PERCENTILE,
        ),
    ),
    (
        "Kurtosis",
        coded_note(
            "(Excess) intensity kurtosis",
            "IPH6",
            Unit::None,
            "PyRadiomics' Kurtosis is μ₄/σ⁴, not excess kurtosis: IBSI's value is this one \
             minus 3.",
        ),
    ),
    (
        "Maximum",
        coded("Maximum intensity", "84IY", Unit::Intensity),
    ),
    ("Mean", coded("Mean intensity", "Q4LE", Unit::Intensity)),
    (
        "MeanAbsoluteDeviation",
        coded(
            "Intensity-based mean absolute deviation",
            "4FUA",
            Unit::Intensity,
        ),
    ),
    ("Median", coded("Median intensity", "Y12H", Unit::Intensity)),
    (
        "Minimum",
        coded("Minimum intensity", "1GSF", Unit::Intensity),
    ),
    ("Range", coded("Intensity range", "2OJQ", Unit::Intensity)),
    (
        "RobustMeanAbsoluteDeviation",
        coded_note(
            "Intensity-based robust mean absolute deviation",
            "1128",
            Unit::Intensity,
            PERCENTILE,
        ),
    ),
    (
        "RootMeanSquared",
        coded_note(
            "Root mean square intensity",
            "5ZWQ",
            Unit::Intensity,
            SHIFTED,
        ),
    ),
    ("Skewness", coded("Intensity skewness", "KE2A", Unit::None)),
    (
        "StandardDeviation",
        uncoded(
            "Intensity standard deviation",
            Unit::Intensity,
            "Not an IBSI feature: the square root of Variance (IBSI's intensity variance, \
             ECT3). Deprecated in PyRadiomics, computed only when named.",
        ),
    ),
    (
        "TotalEnergy",
        uncoded(
            "Total energy",
            Unit::IntensitySquaredMm3,
            "Not an IBSI feature: Energy (IBSI's N8CA, with voxelArrayShift) times the voxel \
             volume in mm³.",
        ),
    ),
    (
        "Uniformity",
        coded_note(
            "Discretised intensity uniformity",
            "BJ5W",
            Unit::None,
            HISTOGRAM,
        ),
    ),
    (
        "Variance",
        coded("Intensity variance", "ECT3", Unit::IntensitySquared),
    ),
];

const GLCM: &[(&str, Ibsi)] = &[
    (
        "Autocorrelation",
        coded("Autocorrelation", "QWB0", Unit::None),
    ),
    (
        "ClusterProminence",
        coded("Cluster prominence", "AE86", Unit::None),
    ),
    ("ClusterShade", coded("Cluster shade", "7NFM", Unit::None)),
    (
        "ClusterTendency",
        coded("Cluster tendency", "DG8W", Unit::None),
    ),
    ("Contrast", coded("Contrast", "ACUI", Unit::None)),
    ("Correlation", coded("Correlation", "NI2N", Unit::None)),
    (
        "DifferenceAverage",
        coded("Difference average", "TF7R", Unit::None),
    ),
    (
        "DifferenceEntropy",
        coded("Difference entropy", "NTRS", Unit::None),
    ),
    (
        "DifferenceVariance",
        coded("Difference variance", "D3YU", Unit::None),
    ),
    (
        "Dissimilarity",
        coded_note(
            "Dissimilarity",
            "8S9J",
            Unit::None,
            "Deprecated; PyRadiomics computes no value for it. Equal to DifferenceAverage \
             (TF7R), as IBSI notes.",
        ),
    ),
    (
        "Homogeneity1",
        coded_note(
            "Inverse difference",
            "IB1Z",
            Unit::None,
            "Deprecated; PyRadiomics computes no value for it. Equal to Id.",
        ),
    ),
    (
        "Homogeneity2",
        coded_note(
            "Inverse difference moment",
            "WF0Z",
            Unit::None,
            "Deprecated; PyRadiomics computes no value for it. Equal to Idm.",
        ),
    ),
    ("Id", coded("Inverse difference", "IB1Z", Unit::None)),
    (
        "Idm",
        coded("Inverse difference moment", "WF0Z", Unit::None),
    ),
    (
        "Idmn",
        coded_note(
            "Normalised inverse difference moment",
            "1QCO",
            Unit::None,
            NORMALISED_BY_NG,
        ),
    ),
    (
        "Idn",
        coded_note(
            "Normalised inverse difference",
            "NDRX",
            Unit::None,
            NORMALISED_BY_NG,
        ),
    ),
    (
        "Imc1",
        coded(
            "First measure of information correlation",
            "R8DG",
            Unit::None,
        ),
    ),
    (
        "Imc2",
        coded(
            "Second measure of information correlation",
            "JN9H",
            Unit::None,
        ),
    ),
    (
        "InverseVariance",
        coded("Inverse variance", "E8JP", Unit::None),
    ),
    ("JointAverage", coded("Joint average", "60VM", Unit::None)),
    (
        "JointEnergy",
        coded("Angular second moment", "8ZQL", Unit::None),
    ),
    ("JointEntropy", coded("Joint entropy", "TU9B", Unit::None)),
    (
        "MCC",
        uncoded(
            "Maximal correlation coefficient",
            Unit::None,
            "Not an IBSI feature (PyRadiomics only): the square root of the second-largest \
             eigenvalue of Q = Dx⁻¹ P Dy⁻¹ Pᵀ.",
        ),
    ),
    (
        "MaximumProbability",
        coded("Joint maximum", "GYBY", Unit::None),
    ),
    ("SumAverage", coded("Sum average", "ZGXS", Unit::None)),
    ("SumEntropy", coded("Sum entropy", "P6QZ", Unit::None)),
    ("SumSquares", coded("Joint variance", "UR99", Unit::None)),
    (
        "SumVariance",
        coded_note(
            "Sum variance",
            "OEEB",
            Unit::None,
            "Deprecated; PyRadiomics computes no value for it. Equal to ClusterTendency \
             (DG8W), as IBSI notes.",
        ),
    ),
];

const GLDM: &[(&str, Ibsi)] = &[
    (
        "DependenceEntropy",
        coded("Dependence count entropy", "FCBV", Unit::None),
    ),
    (
        "DependenceNonUniformity",
        coded("Dependence count non-uniformity", "Z87G", Unit::None),
    ),
    (
        "DependenceNonUniformityNormalized",
        coded(
            "Normalised dependence count non-uniformity",
            "OKJI",
            Unit::None,
        ),
    ),
    (
        "DependencePercentage",
        coded_note(
            "Dependence count percentage",
            "6XV8",
            Unit::None,
            "Deprecated; PyRadiomics computes no value for it. Always 1: every ROI voxel is \
             the centre of one neighbourhood (IBSI: N_s = N_v).",
        ),
    ),
    (
        "DependenceVariance",
        coded("Dependence count variance", "DNX2", Unit::None),
    ),
    (
        "GrayLevelNonUniformity",
        coded("Grey level non-uniformity", "FP8K", Unit::None),
    ),
    (
        "GrayLevelNonUniformityNormalized",
        coded_note(
            "Normalised grey level non-uniformity",
            "5SPA",
            Unit::None,
            "Deprecated; PyRadiomics computes no value for it. Equal to firstorder Uniformity.",
        ),
    ),
    (
        "GrayLevelVariance",
        coded("Grey level variance", "1PFV", Unit::None),
    ),
    (
        "HighGrayLevelEmphasis",
        coded("High grey level count emphasis", "OAE7", Unit::None),
    ),
    (
        "LargeDependenceEmphasis",
        coded("High dependence emphasis", "IMOQ", Unit::None),
    ),
    (
        "LargeDependenceHighGrayLevelEmphasis",
        coded(
            "High dependence high grey level emphasis",
            "9QMG",
            Unit::None,
        ),
    ),
    (
        "LargeDependenceLowGrayLevelEmphasis",
        coded(
            "High dependence low grey level emphasis",
            "NBZI",
            Unit::None,
        ),
    ),
    (
        "LowGrayLevelEmphasis",
        coded("Low grey level count emphasis", "TL9H", Unit::None),
    ),
    (
        "SmallDependenceEmphasis",
        coded("Low dependence emphasis", "SODN", Unit::None),
    ),
    (
        "SmallDependenceHighGrayLevelEmphasis",
        coded(
            "Low dependence high grey level emphasis",
            "JA6D",
            Unit::None,
        ),
    ),
    (
        "SmallDependenceLowGrayLevelEmphasis",
        coded("Low dependence low grey level emphasis", "EQ3F", Unit::None),
    ),
];

const GLRLM: &[(&str, Ibsi)] = &[
    (
        "GrayLevelNonUniformity",
        coded("Grey level non-uniformity", "R5YN", Unit::None),
    ),
    (
        "GrayLevelNonUniformityNormalized",
        coded("Normalised grey level non-uniformity", "OVBL", Unit::None),
    ),
    (
        "GrayLevelVariance",
        coded("Grey level variance", "8CE5", Unit::None),
    ),
    (
        "HighGrayLevelRunEmphasis",
        coded("High grey level run emphasis", "G3QZ", Unit::None),
    ),
    (
        "LongRunEmphasis",
        coded("Long runs emphasis", "W4KF", Unit::None),
    ),
    (
        "LongRunHighGrayLevelEmphasis",
        coded("Long run high grey level emphasis", "3KUM", Unit::None),
    ),
    (
        "LongRunLowGrayLevelEmphasis",
        coded("Long run low grey level emphasis", "IVPO", Unit::None),
    ),
    (
        "LowGrayLevelRunEmphasis",
        coded("Low grey level run emphasis", "V3SW", Unit::None),
    ),
    ("RunEntropy", coded("Run entropy", "HJ9O", Unit::None)),
    (
        "RunLengthNonUniformity",
        coded("Run length non-uniformity", "W92Y", Unit::None),
    ),
    (
        "RunLengthNonUniformityNormalized",
        coded("Normalised run length non-uniformity", "IC23", Unit::None),
    ),
    ("RunPercentage", coded("Run percentage", "9ZK5", Unit::None)),
    (
        "RunVariance",
        coded("Run length variance", "SXLW", Unit::None),
    ),
    (
        "ShortRunEmphasis",
        coded("Short runs emphasis", "22OV", Unit::None),
    ),
    (
        "ShortRunHighGrayLevelEmphasis",
        coded("Short run high grey level emphasis", "GD3A", Unit::None),
    ),
    (
        "ShortRunLowGrayLevelEmphasis",
        coded("Short run low grey level emphasis", "HTZT", Unit::None),
    ),
];

const GLSZM: &[(&str, Ibsi)] = &[
    (
        "GrayLevelNonUniformity",
        coded("Grey level non-uniformity", "JNSA", Unit::None),
    ),
    (
        "GrayLevelNonUniformityNormalized",
        coded("Normalised grey level non-uniformity", "Y1RO", Unit::None),
    ),
    (
        "GrayLevelVariance",
        coded("Grey level variance", "BYLV", Unit::None),
    ),
    (
        "HighGrayLevelZoneEmphasis",
        coded("High grey level zone emphasis", "5GN9", Unit::None),
    ),
    (
        "LargeAreaEmphasis",
        coded("Large zone emphasis", "48P8", Unit::None),
    ),
    (
        "LargeAreaHighGrayLevelEmphasis",
        coded("Large zone high grey level emphasis", "J17V", Unit::None),
    ),
    (
        "LargeAreaLowGrayLevelEmphasis",
        coded("Large zone low grey level emphasis", "YH51", Unit::None),
    ),
    (
        "LowGrayLevelZoneEmphasis",
        coded("Low grey level zone emphasis", "XMSY", Unit::None),
    ),
    (
        "SizeZoneNonUniformity",
        coded("Zone size non-uniformity", "4JP3", Unit::None),
    ),
    (
        "SizeZoneNonUniformityNormalized",
        coded("Normalised zone size non-uniformity", "VB3A", Unit::None),
    ),
    (
        "SmallAreaEmphasis",
        coded("Small zone emphasis", "5QRC", Unit::None),
    ),
    (
        "SmallAreaHighGrayLevelEmphasis",
        coded("Small zone high grey level emphasis", "HW1V", Unit::None),
    ),
    (
        "SmallAreaLowGrayLevelEmphasis",
        coded("Small zone low grey level emphasis", "5RAI", Unit::None),
    ),
    (
        "ZoneEntropy",
        coded("Zone size entropy", "GU8N", Unit::None),
    ),
    (
        "ZonePercentage",
        coded("Zone percentage", "P30P", Unit::None),
    ),
    (
        "ZoneVariance",
        coded("Zone size variance", "3NSA", Unit::None),
    ),
];

const NGTDM: &[(&str, Ibsi)] = &[
    (
        "Busyness",
        coded_note("Busyness", "NQ30", Unit::None, NGTDM_NEIGHBOURS),
    ),
    (
        "Coarseness",
        coded_note("Coarseness", "QCDE", Unit::None, NGTDM_NEIGHBOURS),
    ),
    (
        "Complexity",
        coded_note("Complexity", "HDEZ", Unit::None, NGTDM_NEIGHBOURS),
    ),
    (
        "Contrast",
        coded_note("Contrast", "65HE", Unit::None, NGTDM_NEIGHBOURS),
    ),
    (
        "Strength",
        coded_note("Strength", "1X9X", Unit::None, NGTDM_NEIGHBOURS),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feature_of_every_class_has_an_entry() {
        for class in Class::ALL {
            for feature in class.features() {
                assert!(
                    ibsi(class, feature.name).is_some(),
                    "{} {} (deprecated: {}) has no IBSI entry",
                    class.name(),
                    feature.name,
                    feature.deprecated
                );
            }
        }
    }

    #[test]
    fn every_default_feature_is_described_by_its_column() {
        for class in Class::ALL {
            for feature in class.features().iter().filter(|f| !f.deprecated) {
                let column = format!("original_{}_{}", class.name(), feature.name);
                let Some((got_class, got_feature, _)) = describe_column(&column) else {
                    panic!("{column} is not described");
                };
                assert_eq!((got_class, got_feature), (class, feature.name));
            }
        }
    }

    #[test]
    fn tables_hold_only_features_the_classes_define() {
        for class in Class::ALL {
            for (name, _) in table(class) {
                assert!(
                    class.feature_name(name).is_some(),
                    "{} has an entry for unknown feature {name}",
                    class.name()
                );
            }
        }
    }

    #[test]
    fn codes_are_four_uppercase_letters_or_digits() {
        for class in Class::ALL {
            for (name, entry) in table(class) {
                if let Some(code) = entry.code {
                    assert!(
                        code.len() == 4
                            && code
                                .chars()
                                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
                        "{} {name}: bad code {code}",
                        class.name()
                    );
                }
            }
        }
    }

    #[test]
    fn a_feature_without_a_code_says_why() {
        for class in Class::ALL {
            for (name, entry) in table(class) {
                assert!(
                    entry.code.is_some() || entry.note.is_some(),
                    "{} {name} has neither a code nor a note",
                    class.name()
                );
            }
        }
    }

    #[test]
    fn one_code_names_one_ibsi_feature() {
        // Deprecated aliases (Homogeneity1 = Id, …) share a code, but never with another name.
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for class in Class::ALL {
            for (_, entry) in table(class) {
                let Some(code) = entry.code else { continue };
                match seen.iter().find(|(c, _)| *c == code) {
                    Some((_, name)) => assert_eq!(*name, entry.name, "code {code}"),
                    None => seen.push((code, entry.name)),
                }
            }
        }
    }

    #[test]
    fn voxel_volume_column_is_in_cubic_mm() {
        let Some((class, feature, entry)) = describe_column("original_shape_VoxelVolume") else {
            panic!("VoxelVolume is not described");
        };
        assert_eq!((class, feature), (Class::Shape, "VoxelVolume"));
        assert_eq!(entry.unit, Unit::Mm3);
        assert_eq!(entry.code, Some("YEKZ"));
        assert_eq!(entry.name, "Volume (voxel counting)");
    }

    #[test]
    fn mesh_volume_is_rnu0() {
        let entry = ibsi(Class::Shape, "MeshVolume");
        assert_eq!(entry.and_then(|e| e.code), Some("RNU0"));
    }

    #[test]
    fn kurtosis_notes_the_missing_minus_three() {
        let Some(entry) = ibsi(Class::FirstOrder, "Kurtosis") else {
            panic!("Kurtosis has no entry");
        };
        assert_eq!(entry.code, Some("IPH6"));
        assert!(entry.note.is_some_and(|n| n.contains("minus 3")));
    }

    #[test]
    fn pyradiomics_only_features_have_no_code() {
        for (class, name) in [
            (Class::FirstOrder, "TotalEnergy"),
            (Class::FirstOrder, "StandardDeviation"),
            (Class::Glcm, "MCC"),
            (Class::Shape, "Maximum2DDiameterSlice"),
            (Class::Shape2D, "Perimeter"),
        ] {
            assert_eq!(ibsi(class, name).map(|e| e.code), Some(None), "{name}");
        }
    }

    #[test]
    fn same_name_in_two_classes_is_told_apart() {
        let glcm = ibsi(Class::Glcm, "Contrast").and_then(|e| e.code);
        let ngtdm = ibsi(Class::Ngtdm, "Contrast").and_then(|e| e.code);
        assert_eq!((glcm, ngtdm), (Some("ACUI"), Some("65HE")));
    }

    #[test]
    fn unknown_columns_are_not_described() {
        for column in [
            "original_shape_NoSuchFeature",
            "original_nosuchclass_Mean",
            "wavelet-LLH_firstorder_Mean",
            "original_firstorder",
            "original_firstorder_mean",
            "diagnostics_Versions_PyRadiomics",
            "deep_mean_3",
            "Image",
            "",
        ] {
            assert!(describe_column(column).is_none(), "{column}");
        }
    }

    #[test]
    fn unknown_feature_has_no_entry() {
        assert!(ibsi(Class::Glcm, "NoSuchFeature").is_none());
        // Spelling is PyRadiomics' exactly.
        assert!(ibsi(Class::FirstOrder, "mean").is_none());
    }

    #[test]
    fn units_read_in_the_image_unit() {
        assert_eq!(Unit::None.text("HU"), "");
        assert_eq!(Unit::Intensity.text("HU"), "HU");
        assert_eq!(Unit::IntensitySquared.text("HU"), "HU²");
        assert_eq!(Unit::IntensitySquaredMm3.text("HU"), "HU²·mm³");
        assert_eq!(Unit::Mm.text("HU"), "mm");
        assert_eq!(Unit::Mm2.text("HU"), "mm²");
        assert_eq!(Unit::Mm3.text("HU"), "mm³");
        assert_eq!(Unit::PerMm.text("HU"), "1/mm");
    }

    #[test]
    fn compound_intensity_units_are_bracketed_before_squaring() {
        assert_eq!(Unit::IntensitySquared.text("mm²/s"), "(mm²/s)²");
        assert_eq!(Unit::Intensity.text("mm²/s"), "mm²/s");
    }

    #[test]
    fn a_missing_intensity_unit_reads_arbitrary_units() {
        assert_eq!(Unit::Intensity.text(""), "a.u.");
        assert_eq!(Unit::IntensitySquared.text("  "), "(a.u.)²");
        assert_eq!(Unit::Mm3.text(""), "mm³");
    }

    #[test]
    fn intensity_features_carry_intensity_units() {
        let unit = |name| ibsi(Class::FirstOrder, name).map(|e| e.unit);
        assert_eq!(unit("Mean"), Some(Unit::Intensity));
        assert_eq!(unit("Variance"), Some(Unit::IntensitySquared));
        assert_eq!(unit("Energy"), Some(Unit::IntensitySquared));
        assert_eq!(unit("TotalEnergy"), Some(Unit::IntensitySquaredMm3));
        assert_eq!(unit("Entropy"), Some(Unit::None));
    }
}
