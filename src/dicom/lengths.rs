//! Declared lengths against the bytes that are there, before dicom-rs allocates anything.
//!
//! dicom-rs allocates a value's declared length before reading it, so a few forged bytes (a Pixel
//! Data length of 0x7FFFFFF0 in a 7 KB file, a flipped byte in a header length) cost gigabytes and
//! seconds of zeroing before the read fails. This walker reads element headers only (seeking over
//! values) and refuses the file when any declared length — of an element, a sequence, an item or
//! a pixel data fragment — runs past the end of its file, sequence or item. It follows explicit
//! and implicit VR, both byte orders, undefined-length sequences and items, and encapsulated pixel
//! data; it gives up quietly (lets dicom-rs decide) where it cannot follow, e.g. deflated datasets
//! or an undefined-length UN.

use std::io::{BufReader, Read, Seek, SeekFrom};

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

const UNDEFINED: u32 = 0xFFFF_FFFF;
const ITEM: (u16, u16) = (0xFFFE, 0xE000);
const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
const SEQUENCE_END: (u16, u16) = (0xFFFE, 0xE0DD);
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);
/// Nesting deeper than this is not a real dataset.
const MAX_DEPTH: usize = 32;

/// How the dataset is encoded.
#[derive(Clone, Copy, Debug)]
pub(super) struct Encoding {
    pub explicit_vr: bool,
    pub little_endian: bool,
}

impl Encoding {
    /// Explicit VR little endian: the file meta group's, and most datasets'.
    pub(super) const EXPLICIT_LITTLE: Self = Self {
        explicit_vr: true,
        little_endian: true,
    };

    /// The encoding of a transfer syntax UID; `None` for deflated or unknown ones.
    pub(super) fn of(transfer_syntax: &str) -> Option<Self> {
        match transfer_syntax.trim_end_matches(['\0', ' ']) {
            "1.2.840.10008.1.2" => Some(Self {
                explicit_vr: false,
                little_endian: true,
            }),
            "1.2.840.10008.1.2.2" => Some(Self {
                explicit_vr: true,
                little_endian: false,
            }),
            "1.2.840.10008.1.2.1.99" => None,
            // Every other standard syntax (native and encapsulated) is explicit VR little endian.
            uid if uid.starts_with("1.2.840.10008.1.2.") => Some(Self {
                explicit_vr: true,
                little_endian: true,
            }),
            _ => None,
        }
    }
}

/// Checks the dataset of `file` from byte `start` (after the file meta group) to its end, in
/// `encoding`. With `stop_at_pixel_data` (header reads) the walk ends at Pixel Data. The error
/// says which element lies about its length.
pub(super) fn check(
    file: std::fs::File,
    start: u64,
    encoding: Encoding,
    stop_at_pixel_data: bool,
) -> Result<(), String> {
    let end = file.metadata().map_err(|e| e.to_string())?.len();
    let mut walker = Walker {
        reader: BufReader::with_capacity(8192, file),
        pos: start,
        encoding,
        stop_at_pixel_data,
    };
    walker
        .reader
        .seek(SeekFrom::Start(start))
        .map_err(|e| e.to_string())?;
    match walker.dataset(end, 0) {
        Ok(_) | Err(Stop::GiveUp) => Ok(()),
        Err(Stop::Bad(reason)) => Err(reason),
    }
}

enum Stop {
    /// The file lies about a length.
    Bad(String),
    /// Something this walker does not follow (or the header read is done): not an error.
    GiveUp,
}

/// How a dataset ended.
enum Ended {
    /// At its end offset, or at an item delimiter (undefined-length items).
    Normally,
    /// At Pixel Data, for a header read.
    PixelData,
    /// At a sequence delimiter inside an item: the sequence ends too.
    SequenceEnd,
}

struct Walker {
    reader: BufReader<std::fs::File>,
    pos: u64,
    /// The encoding in force (an undefined-length UN switches to implicit VR inside).
    encoding: Encoding,
    stop_at_pixel_data: bool,
}

impl Walker {
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], Stop> {
        let mut buf = [0u8; N];
        self.reader.read_exact(&mut buf).map_err(|_| Stop::GiveUp)?;
        self.pos += N as u64;
        Ok(buf)
    }

    fn u16(&mut self) -> Result<u16, Stop> {
        let b = self.bytes::<2>()?;
        Ok(if self.encoding.little_endian {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }

    fn u32(&mut self) -> Result<u32, Stop> {
        let b = self.bytes::<4>()?;
        Ok(if self.encoding.little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn skip(&mut self, len: u64) -> Result<(), Stop> {
        self.reader
            .seek_relative(i64::try_from(len).map_err(|_| Stop::GiveUp)?)
            .map_err(|_| Stop::GiveUp)?;
        self.pos += len;
        Ok(())
    }

    /// A length that must fit before `end`.
    fn fits(&self, tag: (u16, u16), len: u32, end: u64) -> Result<(), Stop> {
        let remaining = end.saturating_sub(self.pos);
        if u64::from(len) > remaining {
            return Err(Stop::Bad(format!(
                "element ({:04X},{:04X}) declares {len} bytes, only {remaining} follow",
                tag.0, tag.1
            )));
        }
        Ok(())
    }

    /// Elements until `end` (or an item delimiter).
    fn dataset(&mut self, end: u64, depth: usize) -> Result<Ended, Stop> {
        if depth > MAX_DEPTH {
            return Err(Stop::GiveUp);
        }
        while self.pos + 8 <= end {
            let tag = (self.u16()?, self.u16()?);
            if tag.0 == 0xFFFE {
                // Group FFFE has no VR, a 32-bit length follows the tag (as dicom-rs reads it).
                let len = self.u32()?;
                match tag {
                    ITEM_END => return Ok(Ended::Normally),
                    SEQUENCE_END if depth > 0 => return Ok(Ended::SequenceEnd),
                    _ if len == UNDEFINED => return Err(Stop::GiveUp),
                    _ => {
                        self.fits(tag, len, end)?;
                        self.skip(u64::from(len))?;
                        continue;
                    }
                }
            }
            if tag == PIXEL_DATA && self.stop_at_pixel_data && depth == 0 {
                return Ok(Ended::PixelData);
            }
            let (vr, len) = self.value_header(tag)?;
            // Implicit VR: an undefined length can only be a sequence.
            let sequence = vr == *b"SQ" || (len == UNDEFINED && !self.encoding.explicit_vr);
            if len == UNDEFINED {
                if tag == PIXEL_DATA {
                    self.fragments(end)?;
                } else if vr == *b"UN" || !sequence {
                    // dicom-rs reads any other undefined length as a sequence of items; an
                    // undefined-length UN holds implicit VR little endian (PS3.5 6.2.2).
                    let outer = self.encoding;
                    if vr == *b"UN" {
                        self.encoding = Encoding {
                            explicit_vr: false,
                            little_endian: true,
                        };
                    }
                    let walked = self.items(tag, None, end, depth);
                    self.encoding = outer;
                    walked?;
                } else {
                    self.items(tag, None, end, depth)?;
                }
                continue;
            }
            self.fits(tag, len, end)?;
            if let Some(unit) = binary_unit(vr)
                && len % unit != 0
            {
                // dicom-rs reads whole numbers and leaves the rest, losing its place in the file.
                return Err(Stop::Bad(format!(
                    "element ({:04X},{:04X}) {} has {len} bytes, not a multiple of {unit}",
                    tag.0,
                    tag.1,
                    String::from_utf8_lossy(&vr)
                )));
            }
            if sequence {
                let sequence_end = self.pos + u64::from(len);
                self.items(tag, Some(sequence_end), end, depth)?;
                if self.pos != sequence_end {
                    self.reader
                        .seek(SeekFrom::Start(sequence_end))
                        .map_err(|_| Stop::GiveUp)?;
                    self.pos = sequence_end;
                }
            } else {
                self.skip(u64::from(len))?;
            }
        }
        Ok(Ended::Normally)
    }

    /// The VR (`??` when implicit and not in the dictionary) and the length of the element
    /// whose tag was just read.
    fn value_header(&mut self, tag: (u16, u16)) -> Result<([u8; 2], u32), Stop> {
        if !self.encoding.explicit_vr {
            let len = self.u32()?;
            return Ok((implicit_vr(tag), len));
        }
        let vr = self.bytes::<2>()?;
        let long = has_32_bit_length(vr);
        let len = if long {
            self.bytes::<2>()?;
            self.u32()?
        } else {
            u32::from(self.u16()?)
        };
        Ok((vr, len))
    }

    /// The items of a sequence: until `sequence_end` (defined length) or its delimiter.
    fn items(
        &mut self,
        tag: (u16, u16),
        sequence_end: Option<u64>,
        end: u64,
        depth: usize,
    ) -> Result<(), Stop> {
        let limit = sequence_end.unwrap_or(end);
        while self.pos + 8 <= limit {
            let item = (self.u16()?, self.u16()?);
            let len = self.u32()?;
            match item {
                SEQUENCE_END => return Ok(()),
                ITEM if len == UNDEFINED => {
                    if matches!(self.dataset(limit, depth + 1)?, Ended::SequenceEnd) {
                        return Ok(());
                    }
                }
                ITEM => {
                    self.fits(tag, len, limit)?;
                    let item_end = self.pos + u64::from(len);
                    if matches!(self.dataset(item_end, depth + 1)?, Ended::SequenceEnd) {
                        return Ok(());
                    }
                    if self.pos != item_end {
                        self.reader
                            .seek(SeekFrom::Start(item_end))
                            .map_err(|_| Stop::GiveUp)?;
                        self.pos = item_end;
                    }
                }
                _ => return Err(Stop::GiveUp),
            }
        }
        Ok(())
    }

    /// Encapsulated Pixel Data: the offset table and fragments, each an item of raw bytes.
    fn fragments(&mut self, end: u64) -> Result<(), Stop> {
        while self.pos + 8 <= end {
            let item = (self.u16()?, self.u16()?);
            let len = self.u32()?;
            match item {
                SEQUENCE_END => return Ok(()),
                ITEM if len != UNDEFINED => {
                    self.fits(PIXEL_DATA, len, end)?;
                    self.skip(u64::from(len))?;
                }
                _ => return Err(Stop::GiveUp),
            }
        }
        Ok(())
    }
}

/// Whether an explicit VR's length is 32-bit (after 2 reserved bytes), as dicom-rs reads it: an
/// unknown VR is UN; only these VRs have a 16-bit length (PS3.5 7.1.2).
pub(super) fn has_32_bit_length(vr: [u8; 2]) -> bool {
    !matches!(
        VR::from_binary(vr).unwrap_or(VR::UN),
        VR::AE
            | VR::AS
            | VR::AT
            | VR::CS
            | VR::DA
            | VR::DS
            | VR::DT
            | VR::FL
            | VR::FD
            | VR::IS
            | VR::LO
            | VR::LT
            | VR::PN
            | VR::SH
            | VR::SL
            | VR::SS
            | VR::ST
            | VR::TM
            | VR::UI
            | VR::UL
            | VR::US
    )
}

/// The size of one number of a binary VR (a value's length must be a multiple of it).
fn binary_unit(vr: [u8; 2]) -> Option<u32> {
    match &vr {
        b"SS" | b"US" | b"OW" => Some(2),
        b"FL" | b"SL" | b"UL" | b"AT" | b"OF" | b"OL" => Some(4),
        b"FD" | b"SV" | b"UV" | b"OD" | b"OV" => Some(8),
        _ => None,
    }
}

/// The VR of `tag` from the standard dictionary (implicit VR datasets): `SQ` matters, anything
/// else is a plain value.
fn implicit_vr(tag: (u16, u16)) -> [u8; 2] {
    let entry = StandardDataDictionary.by_tag(Tag(tag.0, tag.1));
    match entry.map(|e| e.vr().relaxed()) {
        Some(VR::SQ) => *b"SQ",
        _ => *b"..",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explicit_le() -> Encoding {
        Encoding {
            explicit_vr: true,
            little_endian: true,
        }
    }

    fn file_with(bytes: &[u8]) -> (tempfile::NamedTempFile, std::fs::File) {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut tmp, bytes).unwrap();
        let file = std::fs::File::open(tmp.path()).unwrap();
        (tmp, file)
    }

    /// (0010,0010) PN "DOE^J " then (7FE0,0010) OW with `pixel_len` and 4 bytes of pixels.
    fn dataset(pixel_len: u32) -> Vec<u8> {
        let mut b = vec![0x10, 0x00, 0x10, 0x00, b'P', b'N', 6, 0];
        b.extend_from_slice(b"DOE^J ");
        b.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0]);
        b.extend_from_slice(&pixel_len.to_le_bytes());
        b.extend_from_slice(&[1, 2, 3, 4]);
        b
    }

    #[test]
    fn honest_lengths_pass() {
        let (_tmp, file) = file_with(&dataset(4));
        assert!(check(file, 0, explicit_le(), false).is_ok());
    }

    #[test]
    fn a_forged_pixel_data_length_is_refused_before_reading() {
        let (_tmp, file) = file_with(&dataset(0x7FFF_FFF0));
        let err = check(file, 0, explicit_le(), false).unwrap_err();
        assert!(
            err.contains("(7FE0,0010) declares 2147483632 bytes, only 4 follow"),
            "{err}"
        );
        // A header read stops before Pixel Data: its length does not matter there.
        let (_tmp, file) = file_with(&dataset(0x7FFF_FFF0));
        assert!(check(file, 0, explicit_le(), true).is_ok());
    }

    #[test]
    fn a_forged_length_inside_a_sequence_item_is_refused() {
        // (0008,1140) SQ undefined, item undefined, (0008,1150) UI len 0x4000, ...
        let mut b = vec![
            0x08, 0x00, 0x40, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        b.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        b.extend_from_slice(&[0x08, 0x00, 0x50, 0x11, b'U', b'I', 0x00, 0x40]);
        b.extend_from_slice(b"1.2.3\0");
        let (_tmp, file) = file_with(&b);
        let err = check(file, 0, explicit_le(), true).unwrap_err();
        assert!(err.contains("(0008,1150) declares 16384 bytes"), "{err}");
    }
}
