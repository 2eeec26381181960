//! Peak memory of loading each real series, relative to its raw pixel bytes (goal ≤ 2.5×).
//!
//! `cargo bench --bench peak_rss`
//!
//! Each series is measured in a fresh child process (this same binary, told which series through
//! `RADLENS_RSS_SERIES`), so one load's freed memory cannot hide the next one's. The child resets
//! the kernel's high-water mark (`/proc/self/clear_refs` 5) just before loading, then reports the
//! peak and the resident growth while the volume is held.

use std::path::PathBuf;
use std::process::Command;

const SERIES: &[&str] = &[
    "dicom/series/mr_brain_t1_sag_35sl",
    "dicom/series/mr_prostate_adc_20sl",
    "dicom/series/ct_phantom_egsnrc_10sl_nometa",
    "dicom/series/mr_4sl_jpeg_lossless_dicom2nifti",
    "dicom/single/mf_pdd_eCT_Supplemental.dcm",
    "dicom/single/cr_wg04_RG3_J2KI_monochrome1.dcm",
];

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn child(spec: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(spec);
    // Warm up what every load shares (rayon's pool, the codec registries) on another file.
    let warm = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/dicom/single/mf_pdd_emri_small.dcm");
    drop(radlens::dicom::load(&[warm], None));
    let report = radlens::dicom::scan(std::slice::from_ref(&path)).expect("scan");
    let series = &report.series[0];
    let first = &series.files[0];
    let raw_bytes = series.slices.len()
        * (first.rows * first.cols) as usize
        * usize::from(first.samples_per_pixel)
        * usize::from(first.bits_allocated.div_ceil(8));
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_kib("VmRSS:");
    let volume =
        radlens::dicom::load_series(series, &radlens::dicom::LoadControl::default()).expect("load");
    let peak = status_kib("VmHWM:");
    let held = status_kib("VmRSS:");
    let raw_kib = raw_bytes as f64 / 1024.0;
    println!(
        "{:48} raw {:8.0} KiB  held {:5.2}x  peak {:5.2}x  (volume {} KiB)",
        spec,
        raw_kib,
        (held.saturating_sub(before)) as f64 / raw_kib,
        (peak.saturating_sub(before)) as f64 / raw_kib,
        volume.voxels.byte_len() / 1024
    );
}

fn main() {
    if let Ok(spec) = std::env::var("RADLENS_RSS_SERIES") {
        child(&spec);
        return;
    }
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` runs bench binaries with --test: nothing to do.
    }
    let exe = std::env::current_exe().expect("own path");
    for spec in SERIES {
        let status = Command::new(&exe)
            .env("RADLENS_RSS_SERIES", spec)
            .status()
            .expect("child runs");
        assert!(status.success(), "{spec} failed");
    }
}
