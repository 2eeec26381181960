//! Opening one DICOM file, leniently.
//!
//! `dicom-object` handles well-formed Part 10 files. Real archives also hold files it rejects that
//! other toolkits read: datasets with no preamble and no file meta group (old CT exports such as the
//! EGSnrc phantom), and file meta groups with over-long values (an Implementation Version Name of 22
//! characters). For those we parse the file meta group ourselves (it is always explicit VR little
//! endian), infer the transfer syntax when there is none, and read the dataset with `dicom-object`.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use dicom_dictionary_std::{tags, uids};
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::file::ReadPreamble;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::error::{DicomError, one_line};
use super::lengths::{self, Encoding};

/// How much of the file to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadExtent {
    /// Everything up to, not including, Pixel Data (folder scans).
    Header,
    /// The whole dataset.
    Full,
}

/// Opens `path` as a DICOM file, falling back to a lenient reader for files the strict one rejects.
pub fn open(path: &Path, extent: ReadExtent) -> Result<DefaultDicomObject, DicomError> {
    let metadata = std::fs::metadata(path).map_err(|source| DicomError::Io {
        source,
        path: path.to_owned(),
    })?;
    if !metadata.is_file() {
        return Err(DicomError::NotDicom {
            path: path.to_owned(),
        });
    }
    // The head is read once: for the magic, the length check and the lenient reader.
    let io_error = |source| DicomError::Io {
        source,
        path: path.to_owned(),
    };
    let mut file = std::fs::File::open(path).map_err(io_error)?;
    let mut head = Vec::new();
    (&mut file)
        .take(HEAD_BYTES)
        .read_to_end(&mut head)
        .map_err(io_error)?;
    // Before dicom-rs allocates what the file declares: every length must fit in the file.
    check_declared_lengths(path, &head, &file, metadata.len(), extent)?;
    // Without the "DICM" magic the strict reader fails anyway: go straight to the lenient one.
    let strict = if has_part10_magic(&head) {
        options(extent)
            .open_file(path)
            .map_err(|e| strict_message(&e))
    } else {
        Err("no DICM preamble".to_owned())
    };
    match strict {
        Ok(obj) => Ok(obj),
        Err(strict_err) => {
            match open_lenient(file, &head, options(extent)) {
                Ok(obj) => Ok(obj),
                Err(Lenient::NotDicom) => Err(DicomError::NotDicom {
                    path: path.to_owned(),
                }),
                Err(Lenient::UnknownTransferSyntax(uid)) => {
                    Err(DicomError::UnsupportedTransferSyntax {
                        name: "not known to this build".to_owned(),
                        uid,
                        path: path.to_owned(),
                    })
                }
                // The lenient reader failed too: the strict reader's message is the precise one.
                Err(Lenient::Failed) => Err(DicomError::Malformed {
                    reason: strict_err,
                    path: path.to_owned(),
                }),
            }
        }
    }
}

/// Refuses a file whose meta group or dataset declares a value longer than the bytes that follow
/// ([`super::lengths`]); files this cannot follow are left to dicom-rs.
fn check_declared_lengths(
    path: &Path,
    head: &[u8],
    file: &std::fs::File,
    file_len: u64,
    extent: ReadExtent,
) -> Result<(), DicomError> {
    let meta_start = if has_part10_magic(head) { 132 } else { 0 };
    let file_len = usize::try_from(file_len).unwrap_or(usize::MAX);
    let walk_from = |start: usize, encoding| -> Result<(), DicomError> {
        let file = file.try_clone().map_err(|source| DicomError::Io {
            source,
            path: path.to_owned(),
        })?;
        lengths::check(file, start as u64, encoding, extent == ReadExtent::Header).map_err(
            |reason| DicomError::Malformed {
                reason,
                path: path.to_owned(),
            },
        )
    };
    if read_u16_le(head, meta_start) != Some(0x0002) {
        if meta_start != 0 {
            return Ok(());
        }
        let Some(encoding) = infer_bare_dataset_syntax(head).ok().and_then(Encoding::of) else {
            return Ok(());
        };
        return walk_from(0, encoding);
    }
    meta_lengths_fit(head, meta_start, file_len).map_err(|reason| DicomError::Malformed {
        reason,
        path: path.to_owned(),
    })?;
    let Some(meta) = parse_meta_group(head, meta_start) else {
        return Ok(());
    };
    // No (usable) Transfer Syntax UID: dicom-rs still reads on, mostly as explicit VR little
    // endian; check that reading. Deflated datasets cannot be walked.
    let encoding = match meta.transfer_syntax.as_deref() {
        Some(ts) => match Encoding::of(ts) {
            Some(encoding) => encoding,
            None => return Ok(()),
        },
        None => Encoding::EXPLICIT_LITTLE,
    };
    // Where the dataset starts for the strict reader (after the group length's bytes) and for
    // the lenient one (after the last group 0002 element): both are checked when they differ.
    let mut starts = vec![meta.end];
    if let Some(by_length) = group_length_end(head, meta_start)
        && by_length != meta.end
    {
        starts.push(by_length);
    }
    for start in starts {
        walk_from(start, encoding)?;
    }
    Ok(())
}

/// Every file meta element's declared length fits in the file.
fn meta_lengths_fit(head: &[u8], start: usize, file_len: usize) -> Result<(), String> {
    let mut pos = start;
    while read_u16_le(head, pos) == Some(0x0002) {
        let (Some(element), Some(len), header_len) = meta_element_header(head, pos) else {
            return Ok(());
        };
        let remaining = file_len.saturating_sub(pos + header_len);
        if len > remaining {
            return Err(format!(
                "file meta element (0002,{element:04X}) declares {len} bytes, only {remaining} follow"
            ));
        }
        pos += header_len + len;
    }
    Ok(())
}

/// Where dicom-object's strict reader ends the meta group: after the elements that make up the
/// File Meta Information Group Length (0002,0000).
fn group_length_end(head: &[u8], start: usize) -> Option<usize> {
    if read_u16_le(head, start + 2)? != 0x0000 || head.get(start + 4..start + 6)? != b"UL" {
        return None;
    }
    let group_length = read_u32_le(head, start + 8)? as usize;
    let mut pos = start + 12;
    let mut read = 0;
    while read < group_length {
        let (_, Some(len), header_len) = meta_element_header(head, pos) else {
            return None;
        };
        pos += header_len + len;
        read += header_len + len;
    }
    Some(pos)
}

/// A meta element's number, value length and header length at `pos` (explicit VR LE).
fn meta_element_header(bytes: &[u8], pos: usize) -> (Option<u16>, Option<usize>, usize) {
    let element = read_u16_le(bytes, pos + 2);
    let Some(vr) = bytes.get(pos + 4..pos + 6) else {
        return (element, None, 8);
    };
    if lengths::has_32_bit_length([vr[0], vr[1]]) {
        (element, read_u32_le(bytes, pos + 8).map(|l| l as usize), 12)
    } else {
        (element, read_u16_le(bytes, pos + 6).map(usize::from), 8)
    }
}

fn options(extent: ReadExtent) -> OpenFileOptions {
    match extent {
        ReadExtent::Header => OpenFileOptions::new().read_until(tags::PIXEL_DATA),
        ReadExtent::Full => OpenFileOptions::new(),
    }
}

/// Whether the file's head is the 128-byte preamble followed by "DICM".
fn has_part10_magic(head: &[u8]) -> bool {
    head.get(128..132) == Some(b"DICM".as_slice())
}

/// dicom-object's errors name the file themselves; we put the path last in our own message.
fn strict_message(err: &dicom_object::ReadError) -> String {
    let text = one_line(err);
    match text.find("Could not open file '") {
        Some(0) => text
            .split_once("': ")
            .map_or_else(|| text.clone(), |(_, rest)| rest.to_owned()),
        _ => text,
    }
}

enum Lenient {
    NotDicom,
    UnknownTransferSyntax(String),
    Failed,
}

/// The head read to find the meta group and transfer syntax of a quirky file.
const HEAD_BYTES: u64 = 64 * 1024;

/// Reads a file that `open_file` rejected: a Part 10 file with a quirky meta group, a meta group
/// without preamble, or a bare dataset. A clean meta group is synthesised and put in front of the
/// file's dataset, so dicom-object reads the rest as usual (with `read_until` for header scans:
/// the pixel data of these files is not read twice).
fn open_lenient(
    mut file: std::fs::File,
    head: &[u8],
    options: OpenFileOptions,
) -> Result<DefaultDicomObject, Lenient> {
    let (meta_start, has_preamble) = if has_part10_magic(head) {
        (132, true)
    } else {
        (0, false)
    };
    let (ts_uid, dataset_start) = if read_u16_le(head, meta_start) == Some(0x0002) {
        let meta = parse_meta_group(head, meta_start).ok_or(Lenient::Failed)?;
        let ts = meta.transfer_syntax.ok_or(Lenient::Failed)?;
        (ts, meta.end)
    } else if has_preamble {
        return Err(Lenient::Failed);
    } else {
        (infer_bare_dataset_syntax(head)?.to_owned(), 0)
    };
    let Some(ts) = TransferSyntaxRegistry.get(&ts_uid) else {
        return Err(Lenient::UnknownTransferSyntax(ts_uid));
    };
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(ts.uid())
        .media_storage_sop_class_uid(uids::SECONDARY_CAPTURE_IMAGE_STORAGE)
        .media_storage_sop_instance_uid("2.25.0")
        .build()
        .map_err(|_| Lenient::Failed)?;
    let mut prefix = b"DICM".to_vec();
    meta.write(&mut prefix).map_err(|_| Lenient::Failed)?;
    file.seek(SeekFrom::Start(dataset_start as u64))
        .map_err(|_| Lenient::Failed)?;
    let stream = std::io::Cursor::new(prefix).chain(std::io::BufReader::new(file));
    let obj = options
        .read_preamble(ReadPreamble::Never)
        .from_reader(stream)
        .map_err(|_| Lenient::Failed)?;
    // A dataset must at least say what it is; random bytes that happen to parse do not.
    if obj.get(tags::SOP_CLASS_UID).is_none() && obj.get(tags::ROWS).is_none() {
        return Err(Lenient::NotDicom);
    }
    Ok(obj)
}

struct MetaGroup {
    transfer_syntax: Option<String>,
    /// Offset of the first byte after the group.
    end: usize,
}

/// Walks the (always explicit VR little endian) file meta group without validating value lengths
/// beyond the file's bounds.
fn parse_meta_group(bytes: &[u8], start: usize) -> Option<MetaGroup> {
    let mut pos = start;
    let mut transfer_syntax = None;
    while read_u16_le(bytes, pos) == Some(0x0002) {
        let (element, len, header_len) = meta_element_header(bytes, pos);
        let (element, len) = (element?, len?);
        let value = bytes.get(pos + header_len..pos + header_len + len)?;
        if element == 0x0010 {
            let uid = String::from_utf8_lossy(value);
            transfer_syntax = Some(uid.trim_end_matches(['\0', ' ']).to_owned());
        }
        pos += header_len + len;
    }
    Some(MetaGroup {
        transfer_syntax,
        end: pos,
    })
}

/// A dataset without meta group: its first element must be a plausible tag of group 0008 (or
/// another low group), written little endian. Explicit VR is recognised by two upper-case letters
/// after the tag; otherwise it is implicit VR little endian (what such old exports use).
fn infer_bare_dataset_syntax(bytes: &[u8]) -> Result<&'static str, Lenient> {
    let group = read_u16_le(bytes, 0).ok_or(Lenient::NotDicom)?;
    let element = read_u16_le(bytes, 2).ok_or(Lenient::NotDicom)?;
    if !(0x0008..=0x0028).contains(&group) || group % 2 != 0 || element > 0x1000 {
        return Err(Lenient::NotDicom);
    }
    let vr = bytes.get(4..6).ok_or(Lenient::NotDicom)?;
    if vr.iter().all(u8::is_ascii_uppercase) {
        Ok(uids::EXPLICIT_VR_LITTLE_ENDIAN)
    } else {
        let len = read_u32_le(bytes, 4).ok_or(Lenient::NotDicom)?;
        if len as usize > bytes.len() {
            return Err(Lenient::NotDicom);
        }
        Ok(uids::IMPLICIT_VR_LITTLE_ENDIAN)
    }
}

fn read_u16_le(bytes: &[u8], pos: usize) -> Option<u16> {
    let mut buf = [0; 2];
    bytes.get(pos..pos + 2)?.read_exact(&mut buf).ok()?;
    Some(u16::from_le_bytes(buf))
}

fn read_u32_le(bytes: &[u8], pos: usize) -> Option<u32> {
    let mut buf = [0; 4];
    bytes.get(pos..pos + 4)?.read_exact(&mut buf).ok()?;
    Some(u32::from_le_bytes(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_not_a_bare_dataset() {
        assert!(matches!(
            infer_bare_dataset_syntax(b"# README\nhello"),
            Err(Lenient::NotDicom)
        ));
    }

    #[test]
    fn a_forged_meta_element_length_is_refused() {
        // (0002,0001) OB with a forged 4-byte length in a 14-byte "file".
        let mut bytes = vec![0x02, 0x00, 0x01, 0x00, b'O', b'B', 0, 0];
        bytes.extend_from_slice(&0x7FFF_0000u32.to_le_bytes());
        bytes.extend_from_slice(&[0, 1]);
        let err = meta_lengths_fit(&bytes, 0, bytes.len()).unwrap_err();
        assert!(
            err.contains("(0002,0001) declares 2147418112 bytes, only 2"),
            "{err}"
        );
    }

    #[test]
    fn meta_group_parse_stops_at_dataset() {
        // (0002,0010) UI "1.2.840.10008.1.2" then (0008,0016)
        let mut bytes = vec![0x02, 0x00, 0x10, 0x00, b'U', b'I', 18, 0];
        bytes.extend_from_slice(b"1.2.840.10008.1.2\0");
        bytes.extend_from_slice(&[0x08, 0x00, 0x16, 0x00]);
        let meta = parse_meta_group(&bytes, 0).unwrap();
        assert_eq!(meta.transfer_syntax.as_deref(), Some("1.2.840.10008.1.2"));
        assert_eq!(meta.end, 26);
    }
}
