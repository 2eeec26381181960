//! Seeded fuzzing of the two parsers that read untrusted bytes first: the DICOM header path
//! (`dicom::scan`, what `radlens info` runs) and the model manifest parser. Each run mutates real
//! inputs (byte flips, forged 32-bit lengths, truncations, insertions) and demands an error or a
//! result, never a panic. Briefly in the suite; longer by hand:
//! `RADLENS_FUZZ_ITERATIONS=20000 cargo test --release --test fuzz -- --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn iterations(default: usize) -> usize {
    std::env::var("RADLENS_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One random mutation of `bytes`.
fn mutate(bytes: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if out.is_empty() {
        return out;
    }
    match rng.random_range(0..5) {
        // Flip a few bytes.
        0 => {
            for _ in 0..rng.random_range(1..8) {
                let i = rng.random_range(0..out.len());
                out[i] ^= rng.random_range(1..=255u8);
            }
        }
        // Forge a 32-bit length somewhere in the header region.
        1 => {
            let end = out.len().min(4096).saturating_sub(4).max(1);
            let i = rng.random_range(0..end);
            let forged: u32 =
                [0x7FFF_FFF0, 0xFFFF_FFFF, 0x0100_0000, 0xFFFF_FFFE][rng.random_range(0..4)];
            if i + 4 <= out.len() {
                out[i..i + 4].copy_from_slice(&forged.to_le_bytes());
            }
        }
        // Truncate.
        2 => out.truncate(rng.random_range(0..out.len())),
        // Insert junk.
        3 => {
            let i = rng.random_range(0..out.len());
            let junk: Vec<u8> = (0..rng.random_range(1..64)).map(|_| rng.random()).collect();
            out.splice(i..i, junk);
        }
        // Duplicate a chunk (repeated elements, nested sequences).
        _ => {
            let a = rng.random_range(0..out.len());
            let b = (a + rng.random_range(1..256)).min(out.len());
            let chunk = out[a..b].to_vec();
            out.splice(a..a, chunk);
        }
    }
    out
}

#[test]
fn dicom_header_path_survives_mutated_files() {
    let seeds = [
        "dicom/single/ct_wg04_CT2_UNC.dcm",
        "dicom/single/ct_wg04_CT1_JPLL.dcm",
        "dicom/single/cr_wg04_RG3_J2KI_monochrome1.dcm",
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(20_261_202);
    let total = iterations(1000);
    let (mut accepted, mut refused, mut panics, mut slow) = (0, 0, Vec::new(), Vec::new());
    for i in 0..total {
        let seed = std::fs::read(common::data(seeds[i % seeds.len()])).unwrap();
        // Only the first 8 KiB matter to the header path; keep each case small and quick.
        let head = &seed[..seed.len().min(8192)];
        let path = dir.path().join(format!("case_{i}.dcm"));
        std::fs::write(&path, mutate(head, &mut rng)).unwrap();
        let started = std::time::Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            radlens::dicom::scan(std::slice::from_ref(&path))
        }));
        let seconds = started.elapsed().as_secs_f64();
        if seconds > 0.5 {
            slow.push((i, seconds));
            std::fs::copy(
                &path,
                std::env::temp_dir().join(format!("radlens_fuzz_slow_{i}.dcm")),
            )
            .ok();
        }
        match outcome {
            Ok(Ok(_)) => accepted += 1,
            Ok(Err(e)) => {
                let line = e.to_string();
                assert!(!line.contains('\n'), "multi-line error: {line}");
                assert!(
                    line.chars().all(|c| !c.is_control()),
                    "control characters in: {line:?}"
                );
                refused += 1;
            }
            Err(_) => panics.push(i),
        }
        std::fs::remove_file(&path).unwrap();
    }
    println!("dicom header fuzz: {total} cases, {accepted} accepted, {refused} refused");
    assert!(panics.is_empty(), "panicked on cases {panics:?}");
    assert!(
        slow.is_empty(),
        "cases slower than 0.5 s (copies in the temp dir): {slow:?}"
    );
    assert!(
        refused > 0,
        "no mutation was refused: the mutator does nothing"
    );
}

#[test]
fn manifest_parser_survives_mutated_manifests() {
    let seed = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/model/lesion.toml"),
    )
    .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let total = iterations(2000);
    let (mut accepted, mut refused) = (0, 0);
    for i in 0..total {
        let bytes = mutate(&seed, &mut rng);
        let text = String::from_utf8_lossy(&bytes);
        match catch_unwind(AssertUnwindSafe(|| radlens::model::Manifest::parse(&text))) {
            Ok(Ok(m)) => {
                // Whatever parses is within the documented limits.
                assert!(m.input.channels <= radlens::model::MAX_INPUT_CHANNELS);
                assert!(m.input.height <= radlens::model::MAX_INPUT_SIDE);
                assert!(m.input.width <= radlens::model::MAX_INPUT_SIDE);
                accepted += 1;
            }
            Ok(Err(reason)) => {
                assert!(
                    !reason.contains('\n'),
                    "case {i}: multi-line reason {reason}"
                );
                refused += 1;
            }
            Err(cause) => panic!("manifest parser panicked on case {i} ({cause:?}):\n{text}"),
        }
    }
    println!("manifest fuzz: {total} cases, {accepted} accepted, {refused} refused");
    assert!(accepted > 0 && refused > 0);
}
