//! Getting the header and the raw voxel bytes out of a NIfTI-1 file: plain or gzip (recognised by
//! its magic bytes, not its name), single-file `.nii` or `.hdr`/`.img` pair, voxels read from
//! `vox_offset`, every size checked before anything large is allocated.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use ::nifti::{NiftiHeader, NiftiType};
use flate2::bufread::MultiGzDecoder;

use super::NiftiErrorKind;

/// NIfTI-1 header length, and where a single-file image's voxels may start at the earliest.
const HEADER_BYTES: usize = 348;
const MIN_SINGLE_FILE_OFFSET: u64 = 352;
/// Voxel buffers grow from at most this much, so a header that lies about its size costs only
/// what the file really holds.
const INITIAL_RESERVE: usize = 64 << 20;

/// A header and its voxel bytes, validated for one 3D volume.
pub(super) struct Raw {
    pub header: NiftiHeader,
    pub datatype: NiftiType,
    /// `[z, y, x]` voxel counts.
    pub dims: [usize; 3],
    pub data: Vec<u8>,
    pub warnings: Vec<String>,
}

/// A byte stream from a file, gunzipped when it starts with the gzip magic.
struct Stream {
    reader: Box<dyn Read>,
    gzip: bool,
    /// On-disk length of a plain file (for checking sizes before reading).
    plain_len: Option<u64>,
}

fn open(path: &Path) -> Result<Stream, NiftiErrorKind> {
    let file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => NiftiErrorKind::NotFound,
        _ => NiftiErrorKind::Io(e.to_string()),
    })?;
    let len = file.metadata().map(|m| m.len()).ok();
    let mut buffered = BufReader::new(file);
    let head = buffered
        .fill_buf()
        .map_err(|e| NiftiErrorKind::Io(e.to_string()))?;
    let gzip = head.starts_with(&[0x1f, 0x8b]);
    Ok(if gzip {
        Stream {
            reader: Box::new(MultiGzDecoder::new(buffered)),
            gzip: true,
            plain_len: None,
        }
    } else {
        Stream {
            reader: Box::new(buffered),
            gzip: false,
            plain_len: len,
        }
    })
}

impl Stream {
    fn error(&self, e: &io::Error) -> NiftiErrorKind {
        if self.gzip {
            NiftiErrorKind::Gzip(e.to_string())
        } else {
            NiftiErrorKind::Io(e.to_string())
        }
    }

    /// Reads up to `buf.len()` bytes, returning how many there were before the end.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, NiftiErrorKind> {
        let mut got = 0;
        while got < buf.len() {
            match self.reader.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.error(&e)),
            }
        }
        Ok(got)
    }

    /// Skips `n` bytes, returning how many could be skipped.
    fn skip(&mut self, n: u64) -> Result<u64, NiftiErrorKind> {
        let mut limited = (&mut self.reader).take(n);
        io::copy(&mut limited, &mut io::sink()).map_err(|e| self.error(&e))
    }

    /// Reads exactly `n` bytes of voxel data.
    fn voxel_bytes(&mut self, n: usize) -> Result<Vec<u8>, NiftiErrorKind> {
        let mut data = Vec::new();
        data.try_reserve_exact(n.min(INITIAL_RESERVE))
            .map_err(|_| NiftiErrorKind::TooLarge(format!("{n} bytes of voxel data")))?;
        let got = (&mut self.reader)
            .take(n as u64)
            .read_to_end(&mut data)
            .map_err(|e| match e.kind() {
                io::ErrorKind::OutOfMemory => {
                    NiftiErrorKind::TooLarge(format!("{n} bytes of voxel data"))
                }
                _ => self.error(&e),
            })?;
        if got < n {
            return Err(NiftiErrorKind::Truncated {
                expected_bytes: n as u64,
                found_bytes: got as u64,
            });
        }
        Ok(data)
    }

    /// Reads a gzip stream to its end so that its CRC is checked: a stream that is corrupt after
    /// the voxels is corrupt.
    fn finish(&mut self) -> Result<(), NiftiErrorKind> {
        if self.gzip {
            io::copy(&mut self.reader, &mut io::sink())
                .map_err(|e| NiftiErrorKind::Gzip(format!("after the voxel data: {e}")))?;
        }
        Ok(())
    }
}

/// Reads and validates the header, then the voxel bytes of its one volume.
pub(super) fn read_raw(path: &Path) -> Result<Raw, NiftiErrorKind> {
    let mut stream = open(path)?;
    let header = read_header(&mut stream)?;
    let mut warnings = Vec::new();
    let (dims, datatype, nbytes) = validate(&header, &mut warnings)?;
    let data = if header.magic == *b"ni1\0" {
        read_pair_image(path, &header, nbytes)?
    } else {
        let offset = single_file_offset(&header, &mut warnings)?;
        if let Some(len) = stream.plain_len {
            let room = len.saturating_sub(offset);
            if room < nbytes as u64 {
                return Err(NiftiErrorKind::Truncated {
                    expected_bytes: nbytes as u64,
                    found_bytes: room,
                });
            }
        }
        let gap = offset - HEADER_BYTES as u64;
        let skipped = stream.skip(gap)?;
        if skipped < gap {
            return Err(NiftiErrorKind::Truncated {
                expected_bytes: nbytes as u64,
                found_bytes: 0,
            });
        }
        let data = stream.voxel_bytes(nbytes)?;
        stream.finish()?;
        data
    };
    Ok(Raw {
        header,
        datatype,
        dims,
        data,
        warnings,
    })
}

fn read_header(stream: &mut Stream) -> Result<NiftiHeader, NiftiErrorKind> {
    let mut bytes = [0_u8; HEADER_BYTES];
    let got = stream.fill(&mut bytes)?;
    if got < 4 {
        return Err(NiftiErrorKind::NotNifti(format!("only {got} bytes long")));
    }
    let size_le = i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let size_be = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if size_le == 540 || size_be == 540 {
        return Err(NiftiErrorKind::Nifti2);
    }
    if size_le != 348 && size_be != 348 {
        return Err(NiftiErrorKind::NotNifti(
            "the header size field is not 348".to_owned(),
        ));
    }
    if got < HEADER_BYTES {
        return Err(NiftiErrorKind::NotNifti(format!(
            "only {got} bytes long, shorter than the 348-byte header"
        )));
    }
    NiftiHeader::from_reader(&bytes[..]).map_err(|e| match e {
        ::nifti::NiftiError::InvalidFormat => {
            NiftiErrorKind::NotNifti("no \"n+1\" or \"ni1\" magic".to_owned())
        }
        other => NiftiErrorKind::NotNifti(other.to_string()),
    })
}

/// Checks `dim` and the datatype; returns `[z, y, x]` dims, the datatype and the voxel byte count.
fn validate(
    h: &NiftiHeader,
    warnings: &mut Vec<String>,
) -> Result<([usize; 3], NiftiType, usize), NiftiErrorKind> {
    let rank = usize::from(h.dim[0]);
    if !(1..=7).contains(&rank) {
        return Err(NiftiErrorKind::BadDims(format!(
            "dim[0] is {}, not 1 to 7",
            h.dim[0] as i16
        )));
    }
    // `dim` is signed in the format; the crate reads it unsigned.
    let signed: Vec<i16> = h.dim[1..=rank].iter().map(|&d| d as i16).collect();
    if let Some(pos) = signed.iter().position(|&d| d < 1) {
        return Err(NiftiErrorKind::BadDims(format!(
            "dim[{}] is {}",
            pos + 1,
            signed[pos]
        )));
    }
    let size = |i: usize| signed.get(i).map_or(1, |&d| d as usize);
    let dims = [size(2), size(1), size(0)];
    let volumes: u64 = signed.iter().skip(3).map(|&d| d as u64).product();
    if volumes > 1 {
        return Err(NiftiErrorKind::SeveralVolumes(volumes));
    }
    let datatype = h
        .data_type()
        .map_err(|_| NiftiErrorKind::UnsupportedDatatype(format!("code {}", h.datatype)))?;
    if !super::voxels::supported(datatype) {
        return Err(NiftiErrorKind::UnsupportedDatatype(format!(
            "{datatype:?} (code {})",
            h.datatype
        )));
    }
    let bits = datatype.size_of() * 8;
    if usize::try_from(h.bitpix).ok() != Some(bits) {
        warnings.push(format!(
            "bitpix is {} but datatype {datatype:?} has {bits} bits; the datatype was trusted",
            h.bitpix
        ));
    }
    let voxels = dims
        .iter()
        .try_fold(1_usize, |n, &d| n.checked_mul(d))
        .filter(|n| {
            n.checked_mul(std::mem::size_of::<f64>())
                .is_some_and(|b| isize::try_from(b).is_ok())
        });
    let Some(voxels) = voxels else {
        return Err(NiftiErrorKind::TooLarge(format!(
            "{}×{}×{} voxels",
            dims[2], dims[1], dims[0]
        )));
    };
    Ok((dims, datatype, voxels * datatype.size_of()))
}

/// Where a single-file (`n+1`) image's voxels start.
fn single_file_offset(h: &NiftiHeader, warnings: &mut Vec<String>) -> Result<u64, NiftiErrorKind> {
    let v = f64::from(h.vox_offset);
    if !v.is_finite() || v < 0.0 || v.fract() != 0.0 || v > 1e12 {
        return Err(NiftiErrorKind::NotNifti(format!("vox_offset is {v}")));
    }
    let offset = v as u64;
    if offset < MIN_SINGLE_FILE_OFFSET {
        // nibabel does the same: the voxels cannot overlap the header and its extender.
        warnings.push(format!("vox_offset {offset} is below 352; read from 352"));
        return Ok(MIN_SINGLE_FILE_OFFSET);
    }
    Ok(offset)
}

/// The `.img` (or `.img.gz`) beside a `.hdr` (or `.hdr.gz`, or any `ni1` header file).
fn image_file_candidates(path: &Path) -> Vec<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name
        .strip_suffix(".gz")
        .unwrap_or(&name)
        .rsplit_once('.')
        .map_or(name.as_str(), |(s, _)| s)
        .to_owned();
    ["img", "img.gz", "IMG", "IMG.GZ"]
        .iter()
        .map(|ext| path.with_file_name(format!("{stem}.{ext}")))
        .collect()
}

fn read_pair_image(
    header_path: &Path,
    h: &NiftiHeader,
    nbytes: usize,
) -> Result<Vec<u8>, NiftiErrorKind> {
    let candidates = image_file_candidates(header_path);
    let Some(image_path) = candidates.iter().find(|p| p.is_file()) else {
        let first = candidates.into_iter().next().unwrap_or_default();
        return Err(NiftiErrorKind::MissingImageFile(first));
    };
    let v = f64::from(h.vox_offset);
    if !v.is_finite() || v < 0.0 || v.fract() != 0.0 || v > 1e12 {
        return Err(NiftiErrorKind::NotNifti(format!("vox_offset is {v}")));
    }
    let mut stream = open(image_path)?;
    if let Some(len) = stream.plain_len {
        let room = len.saturating_sub(v as u64);
        if room < nbytes as u64 {
            return Err(NiftiErrorKind::Truncated {
                expected_bytes: nbytes as u64,
                found_bytes: room,
            });
        }
    }
    let skipped = stream.skip(v as u64)?;
    if skipped < v as u64 {
        return Err(NiftiErrorKind::Truncated {
            expected_bytes: nbytes as u64,
            found_bytes: 0,
        });
    }
    let data = stream.voxel_bytes(nbytes)?;
    stream.finish()?;
    Ok(data)
}
