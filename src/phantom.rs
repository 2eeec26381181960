//! Phantom cohorts: real CT slices with synthetic lesions of known diameter, contrast, texture
//! grain and necrosis ([`crate::imaging::Lesion::placed`]), and lesion-free cases, written as
//! one DICOM study per case with its mask and a PyRadiomics batch file whose extra columns are
//! the ground truth — to check that features measure what they claim (`radlens demo cohort`).
//!
//! Reproducible: the same seed and number of cases give byte-identical files (the UIDs are
//! name-based, derived from the seed, the case and radlens' version; see [`name_uid`]).
//!
//! Dependency rule: [`crate::dicom`] (reading the source slices), [`crate::imaging`] (lesions),
//! [`crate::output`] (every write) and dicom-rs to write the derived instances; no model, no UI.
//! Not part of `training` (the demo model's data): that module is a cargo feature for the demo
//! builder and needs libtorch, while a cohort needs neither and is a user-facing command that a
//! `--no-default-features` build keeps.

use std::path::{Path, PathBuf};

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::dicom::{self, Voxels};
use crate::imaging::{Lesion, LesionSpec};
use crate::output::{OutputError, WritePolicy, write_atomically};

/// The source slices, in `../shared/data`: three real axial abdominal CT slices (512², implicit
/// VR little endian), dcmqi test data, BSD-3-Clause — the demo study's source. Never the AGPL
/// EGSnrc phantom.
pub const SOURCE: &str = "dicom/series/ct_3slice_with_seg";
/// The image series in [`SOURCE`] (the folder also holds DICOM SEG objects).
pub const SOURCE_SERIES: &str = "1.2.392.200103.20080913.113635.1.2009.6.22.21.43.10.23430.1";
/// The source's licence, copied beside the cohort (BSD-3 asks for it on redistribution).
pub const SOURCE_LICENCE: &str = "licenses/dcmqi_LICENSE.txt";

pub const DEFAULT_CASES: usize = 60;
pub const DEFAULT_SEED: u64 = 20_261_202;

/// Lesion diameters (long axis), mm.
pub const DIAMETER_MM: [f32; 2] = [10.0, 40.0];
/// Absolute lesion contrast, HU; two thirds are hypodense.
pub const CONTRAST_HU: [f32; 2] = [20.0, 150.0];
pub const HYPODENSE_SHARE: f32 = 2.0 / 3.0;
/// Standard deviation of the lesion texture, HU.
pub const TEXTURE_HU: [f32; 2] = [10.0, 50.0];
/// Texture grain (σ of its smoothing), mm: 0 is independent noise per pixel.
pub const GRAIN_MM: [f32; 2] = [0.0, 3.0];
/// Share of lesions with a necrotic core, and the core's radius as a fraction of the lesion's.
pub const NECROTIC_SHARE: f32 = 0.4;
pub const NECROSIS: [f32; 2] = [0.3, 0.6];
/// The core's extra contrast, as a fraction of the lesion's absolute contrast (always towards
/// lower HU: fluid).
pub const CORE_CONTRAST: f32 = -0.6;
/// Short over long axis.
pub const ELONGATION: [f32; 2] = [0.8, 1.0];
/// Values a lesion (or a lesion-free region) is centred on: soft tissue, HU.
pub const TISSUE_HU: [f32; 2] = [-50.0, 150.0];

/// Why a cohort was not (completely) written; messages end with the path concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PhantomError {
    #[error("output folder is not empty (--force writes into it anyway): {}", path.display())]
    NotEmpty { path: PathBuf },
    #[error("cannot use the output folder ({source}): {}", path.display())]
    Folder {
        source: std::io::Error,
        path: PathBuf,
    },
    #[error("cannot read the source slices ({reason}): {}", path.display())]
    Source { reason: String, path: PathBuf },
    #[error(transparent)]
    Dicom(#[from] dicom::DicomError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("no place for the lesion of {case} on source slice {slice}")]
    NoPlace { case: String, slice: usize },
    #[error("invalid cohort: {reason}")]
    Invalid { reason: String },
}

/// How to make a cohort.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CohortOptions {
    pub cases: usize,
    pub seed: u64,
    /// Write into a non-empty folder, replacing files of the same name.
    pub force: bool,
}

impl Default for CohortOptions {
    fn default() -> Self {
        Self {
            cases: DEFAULT_CASES,
            seed: DEFAULT_SEED,
            force: false,
        }
    }
}

/// One planned case: whether it has a lesion, on which source slice, and the lesion's (or, for a
/// lesion-free case, the measured region's) specification.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedCase {
    pub case_id: String,
    pub present: bool,
    /// Index into the source slices (position order).
    pub slice: usize,
    /// For a lesion-free case only the size (diameter, elongation) is used; contrast, texture,
    /// grain and necrosis are 0.
    pub spec: LesionSpec,
}

/// A written case with its ground truth.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseTruth {
    pub planned: PlannedCase,
    /// Relative to the cohort folder.
    pub image: String,
    pub mask: String,
    /// Mean of the source slice under the mask before the lesion went in, HU.
    pub background_hu: f64,
    pub mask_voxels: usize,
    /// The source file (name only).
    pub source: String,
}

/// The cases of a cohort of `cases` with `seed`, on `slices` source slices: every third case
/// (2, 5, 8, … 0-based) without a lesion; the lesions' diameter, contrast magnitude, texture
/// and grain stratified over their ranges (each range cut into as many strata as there are
/// lesions, one lesion per stratum, independently shuffled per property: the whole range is
/// covered for any N and the properties are uncorrelated); sign, necrosis, elongation and
/// source slice drawn per case.
#[must_use]
pub fn plan(cases: usize, seed: u64, slices: usize) -> Vec<PlannedCase> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let lesions = (0..cases).filter(|&i| has_lesion(i)).count();
    let diameter = strata(&mut rng, lesions, DIAMETER_MM);
    let magnitude = strata(&mut rng, lesions, CONTRAST_HU);
    let texture = strata(&mut rng, lesions, TEXTURE_HU);
    let grain = strata(&mut rng, lesions, GRAIN_MM);
    let width = cases.to_string().len().max(3);
    let mut k = 0;
    (0..cases)
        .map(|i| {
            let slice = rng.random_range(0..slices.max(1));
            let elongation = rng.random_range(ELONGATION[0]..=ELONGATION[1]);
            let case_id = format!("case_{:0width$}", i + 1);
            if !has_lesion(i) {
                return PlannedCase {
                    case_id,
                    present: false,
                    slice,
                    spec: LesionSpec {
                        diameter_mm: rng.random_range(DIAMETER_MM[0]..=DIAMETER_MM[1]),
                        elongation,
                        contrast: 0.0,
                        texture: 0.0,
                        grain_mm: 0.0,
                        necrosis: 0.0,
                        core_contrast: 0.0,
                        tissue: TISSUE_HU,
                    },
                };
            }
            let sign = if rng.random::<f32>() < HYPODENSE_SHARE {
                -1.0
            } else {
                1.0
            };
            let necrosis = if rng.random::<f32>() < NECROTIC_SHARE {
                rng.random_range(NECROSIS[0]..=NECROSIS[1])
            } else {
                0.0
            };
            let spec = LesionSpec {
                diameter_mm: diameter[k],
                elongation,
                contrast: sign * magnitude[k],
                texture: texture[k],
                grain_mm: grain[k],
                necrosis,
                core_contrast: CORE_CONTRAST * magnitude[k],
                tissue: TISSUE_HU,
            };
            k += 1;
            PlannedCase {
                case_id,
                present: true,
                slice,
                spec,
            }
        })
        .collect()
}

fn has_lesion(case: usize) -> bool {
    case % 3 != 2
}

/// `n` values in `range`, one in the middle half of each of `n` equal strata, in random order.
fn strata(rng: &mut ChaCha8Rng, n: usize, range: [f32; 2]) -> Vec<f32> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    order
        .into_iter()
        .map(|s| {
            let u = (s as f32 + rng.random_range(0.25f32..0.75)) / n as f32;
            range[0] + u * (range[1] - range[0])
        })
        .collect()
}

/// A UID under `2.25` from a name: the first 128 bits of the SHA-256 of `name` as a UUID of
/// version 8 (RFC 9562's custom, here name-based, layout), so a rebuilt cohort has the same UIDs
/// and different cohorts, cases or radlens versions different ones.
#[must_use]
pub fn name_uid(name: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0F) | 0x80;
    bytes[8] = (bytes[8] & 0x3F) | 0x80;
    format!("2.25.{}", u128::from_be_bytes(bytes))
}

/// The source slices as loaded: HU values per slice, and each slice's file.
struct Sources {
    slices: Vec<Vec<f32>>,
    files: Vec<PathBuf>,
    rows: usize,
    cols: usize,
    spacing_mm: [f32; 2],
    /// Every file the scan read (protected from the outputs).
    read: Vec<PathBuf>,
}

fn load_sources(data_dir: &Path) -> Result<Sources, PhantomError> {
    let folder = data_dir.join(SOURCE);
    if !folder.is_dir() {
        return Err(PhantomError::Source {
            reason: "folder not found (give the shared data folder with --data)".into(),
            path: folder,
        });
    }
    let (volume, report) = dicom::load(std::slice::from_ref(&folder), Some(SOURCE_SERIES))?;
    if matches!(volume.voxels, Voxels::Rgb8(_)) {
        return Err(PhantomError::Source {
            reason: "colour images".into(),
            path: folder,
        });
    }
    let [n, rows, cols] = volume.shape;
    let slices = (0..n)
        .map(|i| {
            let mut values = vec![0.0; rows * cols];
            volume.slice_f32_into(i, &mut values);
            values
        })
        .collect();
    Ok(Sources {
        slices,
        files: volume.slices.iter().map(|s| s.path.clone()).collect(),
        rows,
        cols,
        spacing_mm: [
            volume.geometry.spacing_mm[1] as f32,
            volume.geometry.spacing_mm[2] as f32,
        ],
        read: report.files().map(Path::to_path_buf).collect(),
    })
}

/// Makes the cohort in `out` from the source slices under `data_dir`: per case
/// `case_N/image/01.dcm` (a one-instance DICOM series in a study of its own) and `case_N/mask.npy`
/// (uint8 `[1, rows, cols]` on the image's voxels, 1 in the region), then `LICENSE.txt`,
/// `README.txt` and last `cases.csv` (so a complete `cases.csv` means a complete cohort).
/// `progress` gets one line per case.
pub fn generate(
    data_dir: &Path,
    out: &Path,
    options: &CohortOptions,
    progress: &dyn Fn(&str),
) -> Result<Vec<CaseTruth>, PhantomError> {
    if options.cases == 0 {
        return Err(PhantomError::Invalid {
            reason: "at least one case".into(),
        });
    }
    let folder_error = |source: std::io::Error| PhantomError::Folder {
        source,
        path: out.to_owned(),
    };
    match std::fs::read_dir(out) {
        Ok(mut entries) => {
            if entries.next().is_some() && !options.force {
                return Err(PhantomError::NotEmpty {
                    path: out.to_owned(),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(folder_error(e)),
    }
    let sources = load_sources(data_dir)?;
    let licence = data_dir.join(SOURCE_LICENCE);
    let mut protected = sources.read.clone();
    protected.push(licence.clone());
    let policy = WritePolicy::protecting(protected).with_overwrite(options.force);
    std::fs::create_dir_all(out).map_err(folder_error)?;

    let planned = plan(options.cases, options.seed, sources.slices.len());
    let mut truths = Vec::with_capacity(planned.len());
    for (index, case) in planned.into_iter().enumerate() {
        progress(&format!(
            "[{}/{}] {}",
            index + 1,
            options.cases,
            case.case_id
        ));
        truths.push(write_case(out, &sources, options, index, case, &policy)?);
    }
    let licence_text = std::fs::read(&licence).map_err(|e| PhantomError::Source {
        reason: e.to_string(),
        path: licence.clone(),
    })?;
    write_atomically(&out.join("LICENSE.txt"), &policy, |w| {
        std::io::Write::write_all(w, &licence_text)
    })?;
    let readme = readme_text(options);
    write_atomically(&out.join("README.txt"), &policy, |w| {
        std::io::Write::write_all(w, readme.as_bytes())
    })?;
    write_cases_csv(&out.join("cases.csv"), &truths, &policy)?;
    Ok(truths)
}

fn write_case(
    out: &Path,
    sources: &Sources,
    options: &CohortOptions,
    index: usize,
    case: PlannedCase,
    policy: &WritePolicy,
) -> Result<CaseTruth, PhantomError> {
    let (rows, cols) = (sources.rows, sources.cols);
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    rng.set_stream(index as u64 + 1);
    let mut values = sources.slices[case.slice].clone();
    let lesion = Lesion::placed(
        &mut rng,
        &values,
        rows,
        cols,
        sources.spacing_mm,
        &case.spec,
    )
    .ok_or_else(|| PhantomError::NoPlace {
        case: case.case_id.clone(),
        slice: case.slice,
    })?;
    let mask = lesion.mask(rows, cols);
    let inside: Vec<usize> = (0..mask.len()).filter(|&i| mask[i]).collect();
    let background_hu =
        inside.iter().map(|&i| f64::from(values[i])).sum::<f64>() / inside.len().max(1) as f64;
    if case.present {
        lesion.insert(&mut rng, &mut values, rows, cols);
    }
    let case_dir = out.join(&case.case_id);
    let image_dir = case_dir.join("image");
    std::fs::create_dir_all(&image_dir).map_err(|source| PhantomError::Folder {
        source,
        path: image_dir.clone(),
    })?;
    let source_file = &sources.files[case.slice];
    write_instance(
        source_file,
        &values,
        &case,
        options,
        &image_dir.join("01.dcm"),
        policy,
    )?;
    let labels = ndarray::Array3::from_shape_vec(
        (1, rows, cols),
        mask.iter().map(|&m| u8::from(m)).collect(),
    )
    .map_err(|e| PhantomError::Invalid {
        reason: e.to_string(),
    })?;
    write_atomically(&case_dir.join("mask.npy"), policy, |w| {
        ndarray_npy::WriteNpyExt::write_npy(&labels, w)
    })?;
    Ok(CaseTruth {
        image: format!("{}/image", case.case_id),
        mask: format!("{}/mask.npy", case.case_id),
        background_hu,
        mask_voxels: inside.len(),
        source: source_file
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        planned: case,
    })
}

/// The source instance with the new pixels, as a new instance of a new series in a new study
/// (name-based UIDs), `DERIVED\SECONDARY`, saying how it was derived (but not whether a lesion
/// was inserted: the cohort can be read blind), referencing its source image.
fn write_instance(
    source: &Path,
    values: &[f32],
    case: &PlannedCase,
    options: &CohortOptions,
    path: &Path,
    policy: &WritePolicy,
) -> Result<(), PhantomError> {
    let source_error = |reason: String| PhantomError::Source {
        reason,
        path: source.to_owned(),
    };
    let mut obj = dicom_object::open_file(source).map_err(|e| source_error(e.to_string()))?;
    let text = |tag: Tag| {
        obj.element(tag)
            .ok()
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
            .unwrap_or_default()
    };
    let (source_class, source_instance) = (text(tags::SOP_CLASS_UID), text(tags::SOP_INSTANCE_UID));
    let bytes = stored_pixels(&obj, values);
    let name = |role: &str| {
        name_uid(&format!(
            "radlens {} demo cohort|seed {}|cases {}|{}|{role}",
            env!("CARGO_PKG_VERSION"),
            options.seed,
            options.cases,
            case.case_id
        ))
    };
    let (study, series, instance, frame) = (
        name("study"),
        name("series"),
        name("instance"),
        name("frame of reference"),
    );
    // References to the source's own study and procedure do not hold for the new study.
    #[allow(deprecated)]
    let stale = [
        tags::REFERENCED_STUDY_SEQUENCE,
        tags::REFERENCED_PATIENT_SEQUENCE,
        tags::REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE,
        tags::REFERENCED_IMAGE_SEQUENCE,
        tags::REQUEST_ATTRIBUTES_SEQUENCE,
        tags::OTHER_PATIENT_I_DS,
        tags::OTHER_PATIENT_NAMES,
    ];
    for tag in stale {
        obj.remove_element(tag);
    }
    let case_number = case.case_id.trim_start_matches("case_");
    let derivation = format!(
        "Phantom case made by radlens demo cohort (seed {}, {} cases, {}) from a real CT slice: \
         a synthetic lesion may have been inserted; the ground truth is in the cohort's cases.csv",
        options.seed, options.cases, case.case_id
    );
    let patient = format!("Phantom^{case_number}");
    let attributes: [(Tag, VR, &str); 14] = [
        (tags::PATIENT_NAME, VR::PN, &patient),
        (tags::PATIENT_ID, VR::LO, &case.case_id),
        (tags::STUDY_INSTANCE_UID, VR::UI, &study),
        (tags::STUDY_ID, VR::SH, case_number),
        (tags::ACCESSION_NUMBER, VR::SH, ""),
        (tags::STUDY_DESCRIPTION, VR::LO, "radlens phantom cohort"),
        (tags::SERIES_INSTANCE_UID, VR::UI, &series),
        (tags::SERIES_NUMBER, VR::IS, "1"),
        (tags::SERIES_DESCRIPTION, VR::LO, "radlens phantom case"),
        (tags::SOP_INSTANCE_UID, VR::UI, &instance),
        (tags::INSTANCE_NUMBER, VR::IS, "1"),
        (tags::FRAME_OF_REFERENCE_UID, VR::UI, &frame),
        (tags::DERIVATION_DESCRIPTION, VR::ST, &derivation),
        (tags::IMAGE_TYPE, VR::CS, "DERIVED\\SECONDARY"),
    ];
    for (tag, vr, value) in attributes {
        obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
    }
    obj.put(DataElement::new(
        tags::SOURCE_IMAGE_SEQUENCE,
        VR::SQ,
        DataSetSequence::from(vec![InMemDicomObject::from_element_iter([
            DataElement::new(
                tags::REFERENCED_SOP_CLASS_UID,
                VR::UI,
                source_class.as_str(),
            ),
            DataElement::new(
                tags::REFERENCED_SOP_INSTANCE_UID,
                VR::UI,
                source_instance.as_str(),
            ),
        ])]),
    ));
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U8(bytes.into()),
    ));
    obj.update_meta(|meta| meta.media_storage_sop_instance_uid.clone_from(&instance));
    write_atomically(path, policy, |w| {
        obj.write_all(w).map_err(|e| e.to_string())
    })?;
    Ok(())
}

/// `values` (modality units: HU) as the source's stored 16-bit pixels, little endian: through
/// its rescale slope and intercept, rounded, clamped to its bits stored and signedness.
fn stored_pixels(obj: &InMemDicomObject, values: &[f32]) -> Vec<u8> {
    let number = |tag: Tag| obj.element(tag).ok().and_then(|e| e.to_float64().ok());
    let slope = number(tags::RESCALE_SLOPE).unwrap_or(1.0);
    let intercept = number(tags::RESCALE_INTERCEPT).unwrap_or(0.0);
    let bits = number(tags::BITS_STORED).map_or(16, |b| (b as i32).clamp(1, 16));
    let signed = number(tags::PIXEL_REPRESENTATION) == Some(1.0);
    let (lo, hi) = if signed {
        (
            -f64::from(1 << (bits - 1)),
            f64::from((1 << (bits - 1)) - 1),
        )
    } else {
        (0.0, f64::from((1u32 << bits) - 1))
    };
    let mut bytes = Vec::with_capacity(values.len() * 2);
    for v in values {
        let stored = ((f64::from(*v) - intercept) / slope).round().clamp(lo, hi);
        let word = if signed {
            (stored as i16).to_le_bytes()
        } else {
            (stored as u16).to_le_bytes()
        };
        bytes.extend_from_slice(&word);
    }
    bytes
}

/// The columns of `cases.csv`: PyRadiomics' batch columns, then the ground truth.
pub const CSV_COLUMNS: [&str; 14] = [
    "Image",
    "Mask",
    "Label",
    "case_id",
    "present",
    "diameter_mm",
    "contrast_hu",
    "grain",
    "necrosis",
    "elongation",
    "texture_hu",
    "background_hu",
    "mask_voxels",
    "source",
];

fn write_cases_csv(
    path: &Path,
    truths: &[CaseTruth],
    policy: &WritePolicy,
) -> Result<(), PhantomError> {
    let mut text = CSV_COLUMNS.join(",");
    text.push('\n');
    for t in truths {
        let s = &t.planned.spec;
        let cells = [
            t.image.clone(),
            t.mask.clone(),
            "1".to_owned(),
            t.planned.case_id.clone(),
            u8::from(t.planned.present).to_string(),
            format!("{:.2}", s.diameter_mm),
            format!("{:.1}", s.contrast),
            format!("{:.2}", s.grain_mm),
            format!("{:.2}", s.necrosis),
            format!("{:.3}", s.elongation),
            format!("{:.1}", s.texture),
            format!("{:.2}", t.background_hu),
            t.mask_voxels.to_string(),
            t.source.clone(),
        ];
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    write_atomically(path, policy, |w| {
        std::io::Write::write_all(w, text.as_bytes())
    })?;
    Ok(())
}

fn readme_text(options: &CohortOptions) -> String {
    format!(
        "radlens phantom cohort: {cases} cases, seed {seed}, made by `radlens demo cohort` \
         (radlens {version}).\n\n\
         Each case_N/ holds image/01.dcm (a real axial abdominal CT slice as a new DICOM \
         instance in a study of its own, DERIVED\\SECONDARY) and mask.npy (uint8 [1, rows, \
         cols], 1 in the region). About two thirds of the cases have a synthetic lesion of \
         known diameter, contrast, texture grain and necrosis inserted; the others none, and \
         their mask is a lesion-shaped region of soft tissue. cases.csv is a PyRadiomics batch \
         file (Image, Mask, Label) whose other columns are the ground truth: see radlens' \
         docs/RADIOMICS.md, \"Phantom cohort\".\n\n\
         Synthetic data for testing software; not for clinical use.\n\n\
         Source images: QIICR/dcmqi test data (ct-3slice, patient JANCT000, anonymised), \
         BSD-3-Clause, Copyright 2017 Brigham and Women's Hospital: see LICENSE.txt.\n",
        cases = options.cases,
        seed = options.seed,
        version = env!("CARGO_PKG_VERSION"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_third_of_the_cases_have_no_lesion_and_diameters_cover_the_range() {
        let cases = plan(60, 1, 3);
        assert_eq!(cases.iter().filter(|c| !c.present).count(), 20);
        let mut diameters: Vec<f32> = cases
            .iter()
            .filter(|c| c.present)
            .map(|c| c.spec.diameter_mm)
            .collect();
        diameters.sort_by(f32::total_cmp);
        // One lesion per 0.75 mm stratum of 10–40 mm.
        for (k, d) in diameters.iter().enumerate() {
            let stratum = (d - DIAMETER_MM[0]) / (DIAMETER_MM[1] - DIAMETER_MM[0]) * 40.0;
            assert_eq!(stratum.floor() as usize, k, "{diameters:?}");
        }
        assert!(cases.iter().all(|c| c.slice < 3));
        assert_eq!(plan(60, 1, 3), cases);
        assert_ne!(plan(60, 2, 3), cases);
    }

    #[test]
    fn name_uids_are_valid_stable_and_distinct() {
        let a = name_uid("x|1");
        assert_eq!(a, name_uid("x|1"));
        assert_ne!(a, name_uid("x|2"));
        assert!(a.starts_with("2.25.") && a.len() <= 64, "{a}");
        assert!(a[5..].chars().all(|c| c.is_ascii_digit()) && !a[5..].starts_with('0'));
    }
}
