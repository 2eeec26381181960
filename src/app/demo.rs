//! The demo study and demo model embedded in the binary, so `radlens` with no arguments shows
//! something real wherever it runs: an abdominal CT with synthetic lesions (and their ground-truth
//! mask) and the lesion classifier trained by `examples/build_demo.rs`. Written once to a cache
//! folder (the loader reads files), rewritten only when the embedded bytes differ, never modified.

use std::path::{Path, PathBuf};

type Embedded = (&'static str, &'static [u8]);

/// Three real CT slices (BSD-3, see assets/README.md) with inserted lesions, and their mask.
const STUDY: [Embedded; 4] = [
    (
        "01.dcm",
        include_bytes!("../../assets/demo/ct_lesions/01.dcm"),
    ),
    (
        "02.dcm",
        include_bytes!("../../assets/demo/ct_lesions/02.dcm"),
    ),
    (
        "03.dcm",
        include_bytes!("../../assets/demo/ct_lesions/03.dcm"),
    ),
    (
        "lesions.mask.npy",
        include_bytes!("../../assets/demo/ct_lesions/lesions.mask.npy"),
    ),
];

/// The demo model: forward, CAM parts and manifest (see docs/MODELS.md).
const MODEL: [Embedded; 4] = [
    (
        "lesion.pt",
        include_bytes!("../../assets/demo/model/lesion.pt"),
    ),
    (
        "lesion.features.pt",
        include_bytes!("../../assets/demo/model/lesion.features.pt"),
    ),
    (
        "lesion.head.pt",
        include_bytes!("../../assets/demo/model/lesion.head.pt"),
    ),
    (
        "lesion.toml",
        include_bytes!("../../assets/demo/model/lesion.toml"),
    ),
];

/// The second demo model: a CNN stem with two transformer blocks on 16x16 patch tokens, trained
/// on the same data (see docs/MODELS.md), with its attention for rollout.
const HYBRID: [Embedded; 5] = [
    (
        "hybrid.pt",
        include_bytes!("../../assets/demo/hybrid/hybrid.pt"),
    ),
    (
        "hybrid.features.pt",
        include_bytes!("../../assets/demo/hybrid/hybrid.features.pt"),
    ),
    (
        "hybrid.head.pt",
        include_bytes!("../../assets/demo/hybrid/hybrid.head.pt"),
    ),
    (
        "hybrid.attention.pt",
        include_bytes!("../../assets/demo/hybrid/hybrid.attention.pt"),
    ),
    (
        "hybrid.toml",
        include_bytes!("../../assets/demo/hybrid/hybrid.toml"),
    ),
];

/// The phantom cohort's source: the three original CT slices of the demo study (BSD-3, see
/// assets/README.md) and their licence, laid out as in the shared data folder so that
/// [`crate::phantom::generate`] reads them as it reads `../shared/data`.
const PHANTOM_SOURCES: [Embedded; 4] = [
    (
        "dicom/series/ct_3slice_with_seg/01.dcm",
        include_bytes!("../../assets/phantom/01.dcm"),
    ),
    (
        "dicom/series/ct_3slice_with_seg/02.dcm",
        include_bytes!("../../assets/phantom/02.dcm"),
    ),
    (
        "dicom/series/ct_3slice_with_seg/03.dcm",
        include_bytes!("../../assets/phantom/03.dcm"),
    ),
    (
        "licenses/dcmqi_LICENSE.txt",
        include_bytes!("../../assets/phantom/LICENSE.txt"),
    ),
];

/// The folder the demo files are written to (created).
pub fn cache_dir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("radlens-demo-{}", env!("CARGO_PKG_VERSION")));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A data folder holding the phantom cohort's source slices (for `phantom::generate`).
pub fn phantom_sources() -> std::io::Result<PathBuf> {
    unpack("phantom-sources", &PHANTOM_SOURCES)
}

/// The demo study's folder, written on first use.
pub fn demo_study() -> std::io::Result<PathBuf> {
    unpack("study", &STUDY)
}

/// The demo model's `lesion.pt` (with its parts and manifest beside it), written on first use.
pub fn demo_model() -> std::io::Result<PathBuf> {
    Ok(unpack("model", &MODEL)?.join(MODEL[0].0))
}

/// The transformer demo model's `hybrid.pt` (parts, attention and manifest beside it), written
/// on first use.
pub fn demo_hybrid_model() -> std::io::Result<PathBuf> {
    Ok(unpack("hybrid", &HYBRID)?.join(HYBRID[0].0))
}

fn unpack(what: &str, files: &[Embedded]) -> std::io::Result<PathBuf> {
    let dir = cache_dir()?.join(what);
    std::fs::create_dir_all(&dir)?;
    for (name, bytes) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        write_if_changed(&dir, &path, bytes)?;
    }
    Ok(dir)
}

fn write_if_changed(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let same = std::fs::metadata(path).is_ok_and(|m| m.len() == bytes.len() as u64)
        && std::fs::read(path).is_ok_and(|b| b == bytes);
    if !same {
        // Atomic: a half-written demo file must never be mistaken for a broken study.
        let tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::fs::write(tmp.path(), bytes)?;
        tmp.persist(path).map_err(|e| e.error)?;
    }
    Ok(())
}
