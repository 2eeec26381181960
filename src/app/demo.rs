//! The demo study embedded in the binary, so `radlens` with no arguments shows something real
//! wherever it runs. Written once to a cache folder (the loader reads files), never modified.

use std::path::PathBuf;

/// Three real CT slices (BSD-3, see assets/README.md).
const DEMO_FILES: [(&str, &[u8]); 3] = [
    (
        "01.dcm",
        include_bytes!("../../assets/demo/ct_3slice/01.dcm"),
    ),
    (
        "02.dcm",
        include_bytes!("../../assets/demo/ct_3slice/02.dcm"),
    ),
    (
        "03.dcm",
        include_bytes!("../../assets/demo/ct_3slice/03.dcm"),
    ),
];

/// The demo study's folder, written on first use.
pub fn demo_study() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("radlens-demo-{}", env!("CARGO_PKG_VERSION")));
    std::fs::create_dir_all(&dir)?;
    for (name, bytes) in DEMO_FILES {
        let path = dir.join(name);
        let up_to_date = std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64);
        if !up_to_date {
            // Atomic: a half-written demo file must never be mistaken for a broken study.
            let tmp = tempfile::NamedTempFile::new_in(&dir)?;
            std::fs::write(tmp.path(), bytes)?;
            tmp.persist(&path).map_err(|e| e.error)?;
        }
    }
    Ok(dir)
}
