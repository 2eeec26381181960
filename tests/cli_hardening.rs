//! What a hostile or careless user gets from the command line (issue: fuzz campaign): forged
//! lengths refused before any allocation, escaped error text, negative numbers, validated
//! display values, a corrupted model refused by its checksum, modality and preprocessing warnings,
//! an unknown word, no colour codes in a pipe.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{data, os, radlens, stderr_text as stderr};

fn demo_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/model/lesion.pt")
}

fn demo_study() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/ct_lesions")
}

/// A copy of `source` with the 4-byte length of its Pixel Data (explicit VR OB/OW) set to
/// `length`, cut to `keep` bytes.
fn forge_pixel_data_length(source: &Path, length: u32, keep: usize, dest: &Path) {
    let mut bytes = std::fs::read(source).unwrap();
    let at = bytes
        .windows(4)
        .rposition(|w| w == [0xE0, 0x7F, 0x10, 0x00])
        .expect("Pixel Data tag");
    assert!(matches!(&bytes[at + 4..at + 6], b"OW" | b"OB"));
    bytes[at + 8..at + 12].copy_from_slice(&length.to_le_bytes());
    bytes.truncate(keep.min(bytes.len()));
    std::fs::write(dest, bytes).unwrap();
}

#[test]
fn a_forged_pixel_data_length_is_refused_naming_the_element() {
    let dir = tempfile::tempdir().unwrap();
    let forged = dir.path().join("forged.dcm");
    forge_pixel_data_length(
        &data("dicom/single/ct_wg04_CT2_UNC.dcm"),
        0x7FFF_FFF0,
        7000,
        &forged,
    );
    let out = radlens(&[
        os("volume"),
        os(&forged),
        os("--out"),
        os(&dir.path().join("v.npy")),
    ]);
    assert!(!out.status.success());
    let line = stderr(&out);
    assert!(
        line.contains("(7FE0,0010) declares 2147483632 bytes"),
        "{line}"
    );
    assert!(line.ends_with("forged.dcm"), "{line}");
}

#[test]
fn a_corrupted_transfer_syntax_uid_is_quoted_not_dumped() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(data("dicom/single/ct_wg04_CT2_UNC.dcm")).unwrap();
    // (0002,0010) UI: overwrite its value with escape sequences and control bytes.
    let at = bytes
        .windows(6)
        .position(|w| w == [0x02, 0x00, 0x10, 0x00, b'U', b'I'])
        .unwrap();
    let len = usize::from(u16::from_le_bytes([bytes[at + 6], bytes[at + 7]]));
    for (i, b) in bytes[at + 8..at + 8 + len].iter_mut().enumerate() {
        *b = [0x1B, b'[', b'3', b'1', b'm', 0x07, b'9'][i % 7];
    }
    let broken = dir.path().join("ts.dcm");
    std::fs::write(&broken, bytes).unwrap();
    let out = radlens(&[os("info"), os(&broken)]);
    let text = stderr(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text:?}"
    );
    assert!(text.len() < 600, "{} bytes: {text}", text.len());
}

#[test]
fn negative_numbers_are_values_with_clear_range_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (model, study) = (demo_model(), demo_study());
    let png = dir.path().join("lung.png");
    // The lung window's centre is negative: a value, not a flag.
    let ok = radlens(&[
        os("export"),
        os("--model"),
        os(&model),
        os(&study),
        os("--method"),
        os("gradcam"),
        os("--slice"),
        os("0"),
        os("--window-center"),
        os("-600"),
        os("--window-width"),
        os("1500"),
        os("--png"),
        os(&png),
    ]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let npy = dir.path().join("h.npy");
    for (flag, value, expected) in [
        ("--slice", "-1", "not an index counted from 0"),
        ("--target", "-1", "not a class index"),
        ("--samples", "100000000", "out of range"),
        ("--batch", "0", "out of range"),
    ] {
        let out = radlens(&[
            os("explain"),
            os("--model"),
            os(&model),
            os(&study),
            os("--method"),
            os("lime"),
            os("--out"),
            os(&npy),
            os(flag),
            os(value),
        ]);
        let text = stderr(&out);
        assert!(!out.status.success(), "{flag} {value}");
        assert!(
            text.contains(expected) && !text.contains("'-- -"),
            "{flag} {value}: {text}"
        );
    }
}

#[test]
fn display_values_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let (model, study) = (demo_model(), demo_study());
    for (flag, value) in [
        ("--window-width", "0"),
        ("--window-width", "NaN"),
        ("--threshold", "1.5"),
        ("--opacity", "-0.1"),
    ] {
        let out = radlens(&[
            os("export"),
            os("--model"),
            os(&model),
            os(&study),
            os("--method"),
            os("gradcam"),
            os(flag),
            os(value),
            os("--png"),
            os(&dir.path().join("x.png")),
        ]);
        assert!(!out.status.success(), "{flag} {value} accepted");
        assert!(!dir.path().join("x.png").exists());
    }
    for value in ["0", "1000"] {
        let out = radlens(&[
            os("evaluate"),
            os("--model"),
            os(&model),
            os(&study),
            os("--top-k"),
            os(value),
        ]);
        assert!(!out.status.success(), "--top-k {value} accepted");
        assert!(stderr(&out).contains("percentage"), "{}", stderr(&out));
    }
}

#[test]
fn a_byte_flipped_model_is_refused_by_its_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let src = demo_model().parent().unwrap().to_owned();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let model = dir.path().join("lesion.pt");
    let intact = radlens(&[os("predict"), os("--model"), os(&model), os(&demo_study())]);
    assert!(intact.status.success(), "{}", stderr(&intact));
    let mut bytes = std::fs::read(&model).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&model, bytes).unwrap();
    let out = radlens(&[os("predict"), os("--model"), os(&model), os(&demo_study())]);
    assert!(!out.status.success());
    let line = stderr(&out);
    assert!(line.contains("does not match the sha256"), "{line}");
    assert!(line.ends_with("lesion.pt"), "{line}");
}

#[test]
fn a_study_of_another_modality_and_defaulted_preprocessing_are_warned_about() {
    let out = radlens(&[
        os("predict"),
        os("--model"),
        os(&demo_model()),
        os(&data("dicom/series/mr_brain_t1_sag_35sl")),
        os("--json"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("trained on CT"), "{}", stderr(&out));

    let dir = tempfile::tempdir().unwrap();
    let model = common::traced_model(dir.path(), 2);
    // The test manifest without its window: scaling is left to the default.
    let bare: String = common::MANIFEST
        .lines()
        .filter(|l| !l.starts_with("window"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(model.with_extension("toml"), bare).unwrap();
    let png = dir.path().join("in.png");
    image::GrayImage::from_fn(32, 32, |x, y| image::Luma([((x * y) % 256) as u8]))
        .save(&png)
        .unwrap();
    let out = radlens(&[
        os("predict"),
        os("--model"),
        os(&model),
        os(&png),
        os("--json"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("leaves preprocessing to defaults"),
        "{}",
        stderr(&out)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        json["defaulted_preprocessing"][0]
            .as_str()
            .unwrap()
            .contains("min-max"),
        "{json}"
    );
}

#[test]
fn an_unknown_word_is_not_taken_for_a_study() {
    let out = radlens(&[os("orthanc"), os("store")]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no such command or file"),
        "{}",
        stderr(&out)
    );
    let out = radlens(&[os("exlpain")]);
    assert!(
        stderr(&out).contains("did you mean `radlens explain`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_viewer_without_a_display_says_so_in_one_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_radlens"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = stderr(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("needs a display") && text.contains("info"),
        "{text}"
    );
}

#[test]
fn no_colour_codes_when_stderr_is_a_pipe() {
    // A warning (modality) goes to stderr, a pipe here.
    let out = radlens(&[
        os("predict"),
        os("--model"),
        os(&demo_model()),
        os(&data("dicom/series/mr_brain_t1_sag_35sl")),
    ]);
    assert!(out.status.success());
    let text = stderr(&out);
    assert!(!text.is_empty());
    assert!(!text.contains('\u{1b}'), "{text:?}");
}
