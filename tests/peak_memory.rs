//! A few forged bytes never cost gigabytes: `radlens volume` on mutated copies of real files
//! (forged Pixel Data and header lengths, flipped bytes, truncations) peaks at most 2× the file's
//! size plus its decoded image above what any run costs (measured on a small real series through
//! the same command; 1 MiB is allowed for the allocator's granularity). Peak RSS is the child's
//! VmHWM, read from /proc while it runs (Linux).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Runs radlens with `args` and returns its peak resident set in bytes (the last VmHWM seen).
fn peak_rss(args: &[&std::ffi::OsStr]) -> u64 {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_radlens"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status)
            && let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kb * 1024);
        }
        if child.try_wait().unwrap().is_some() {
            return peak;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Pixel Data's length field offset (explicit VR OB/OW) in `bytes`.
fn pixel_data_length_at(bytes: &[u8]) -> usize {
    bytes
        .windows(4)
        .rposition(|w| w == [0xE0, 0x7F, 0x10, 0x00])
        .unwrap()
        + 8
}

#[test]
fn mutated_files_cost_at_most_twice_their_size_plus_the_image() {
    assert!(Path::new("/proc/self/status").exists(), "needs Linux /proc");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.npy");
    let seeds = [
        "dicom/single/ct_wg04_CT2_UNC.dcm",
        "dicom/series/ct_3slice_with_seg/02.dcm",
    ];
    // What any `volume` run costs whatever its file (libtorch mapped, the scan, decoders, thread
    // pool): a small real series (10 frames of 64²) through the same command, less its own
    // allowance.
    let small = common::data("dicom/single/mf_pdd_emri_small_RLE.dcm");
    let small_allowance = 2 * std::fs::metadata(&small).unwrap().len() + 10 * 64 * 64 * 6;
    let baseline = peak_rss(&[
        common::os("volume"),
        small.as_os_str(),
        common::os("--out"),
        out.as_os_str(),
    ])
    .saturating_sub(small_allowance);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut worst = (0.0_f64, String::new());
    let mut worst_above = (0_u64, String::new());
    for seed in seeds {
        let bytes = std::fs::read(common::data(seed)).unwrap();
        let at = pixel_data_length_at(&bytes);
        let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
        for forged in [0x7FFF_FFF0u32, 0xFFFF_FFF0, 0x0400_0000] {
            let mut b = bytes.clone();
            b[at..at + 4].copy_from_slice(&forged.to_le_bytes());
            cases.push((format!("pixel length {forged:#x}"), b.clone()));
            b.truncate(7000);
            cases.push((format!("pixel length {forged:#x}, cut to 7 KB"), b));
        }
        for k in 0..12 {
            let mut b = bytes.clone();
            let i = rng.random_range(132..at.min(b.len()));
            b[i] ^= rng.random_range(1..=255u8);
            cases.push((format!("header byte {i} flipped ({k})"), b));
        }
        for keep in [bytes.len() / 3, bytes.len() - 1] {
            cases.push((format!("cut to {keep} bytes"), bytes[..keep].to_vec()));
        }
        for (what, case) in cases {
            let path = dir.path().join("case.dcm");
            std::fs::write(&path, &case).unwrap();
            let _ = std::fs::remove_file(&out);
            let peak = peak_rss(&[
                common::os("volume"),
                path.as_os_str(),
                common::os("--out"),
                out.as_os_str(),
                common::os("--force"),
            ]);
            // The decoded image: 512x512 float32 (the volume's values) plus its i16 source.
            let decoded = 512 * 512 * 6;
            let allowed = 2 * case.len() as u64 + decoded;
            let above = peak.saturating_sub(baseline);
            let ratio = above as f64 / allowed as f64;
            if ratio > worst.0 {
                worst = (ratio, format!("{seed}: {what}"));
            }
            if above > worst_above.0 {
                worst_above = (above, format!("{seed}: {what}, {} bytes", case.len()));
            }
            // 1 MiB for the allocator's granularity (arenas, page rounding) between runs.
            assert!(
                above <= allowed + 1024 * 1024,
                "{seed}, {what}: {above} bytes above the baseline, allowed {allowed}"
            );
        }
    }
    println!(
        "baseline {} MiB; worst: {:.2} of the allowance ({}); most above the baseline: {:.1} MiB ({})",
        baseline / (1 << 20),
        worst.0,
        worst.1,
        worst_above.0 as f64 / f64::from(1 << 20),
        worst_above.1
    );
}
