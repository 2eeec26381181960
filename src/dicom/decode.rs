//! Decoding a series into a [`Volume`]: one rayon task per slice, values after the modality LUT,
//! stored as `i16` when that is exact and `f32` otherwise.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use dicom_dictionary_std::tags;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::{DecodedPixelData, PixelDecoder};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use rayon::prelude::*;

use super::convert::{write_f32, write_i16, write_i16_native, write_rgb};
use super::error::{DicomError, SliceError, one_line};
use super::header::FileHeader;
use super::open::{ReadExtent, open};
use super::series::{Series, Skipped, SliceRef};
use super::volume::{Geometry, Photometric, SliceMeta, Volume, Voxels, WindowSource};
use crate::imaging::{Window, percentile_window};

/// Progress and cancellation shared with whoever waits for a load (the UI's progress bar).
#[derive(Clone, Debug, Default)]
pub struct LoadControl {
    cancel: Arc<AtomicBool>,
    done: Arc<AtomicUsize>,
    /// Extra time per decoded slice: an artificially slow decoder, for tests of what the UI
    /// shows while a series loads.
    slice_delay: Option<std::time::Duration>,
}

impl LoadControl {
    /// A control whose loads wait `delay` after every slice (tests of progressive display).
    #[must_use]
    pub fn slowed(delay: std::time::Duration) -> Self {
        Self {
            slice_delay: Some(delay),
            ..Self::default()
        }
    }

    /// Asks the load to stop; it returns [`DicomError::Cancelled`] soon after.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
    /// Slices decoded so far.
    #[must_use]
    pub fn slices_done(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }
}

/// Decodes every slice of `series`.
pub fn load_series(series: &Series, control: &LoadControl) -> Result<Volume, DicomError> {
    let rows = series.rows() as usize;
    let cols = series.cols() as usize;
    let plane = rows * cols;
    let n = series.slices.len();

    let (voxels, photometric, skipped) = if series.is_colour() {
        let mut out = vec![0u8; n * plane * 3];
        let outcomes = decode_slices(series, &mut out, plane * 3, control, write_rgb, None);
        let skipped = keep_decoded(series, &mut out, plane * 3, outcomes)?;
        (Voxels::Rgb8(out), Photometric::Rgb, skipped)
    } else {
        let photometric = if series.photometric() == "MONOCHROME1" {
            Photometric::Monochrome1
        } else {
            Photometric::Monochrome2
        };
        let (voxels, skipped) = decode_grey(series, plane, control)?;
        (voxels, photometric, skipped)
    };
    // Slices that failed are left out; say so, since the volume now has a hole.
    let failed: Vec<&Path> = skipped.iter().map(|s| s.path.as_path()).collect();
    let kept: Vec<&SliceRef> = series
        .slices
        .iter()
        .filter(|s| !failed.contains(&series.files[s.file].path.as_path()))
        .collect();
    let mut warnings = series.warnings.clone();
    if let Some(first) = skipped.first() {
        let more = match skipped.len() {
            1 => String::new(),
            n => format!(" and {} more", n - 1),
        };
        warnings.push(format!(
            "{} slice(s) could not be decoded and are left out: {} ({}){more}",
            skipped.len(),
            first.path.display(),
            first.reason
        ));
    }

    let (default_window, window_source) = match (series.window(), &voxels) {
        (Some(w), _) => (w, WindowSource::Dicom),
        (None, Voxels::I16(v)) => (
            auto_window(v.iter().map(|&x| f32::from(x))),
            WindowSource::Percentiles,
        ),
        (None, Voxels::F32(v)) => (auto_window(v.iter().copied()), WindowSource::Percentiles),
        (None, Voxels::Rgb8(_)) => (
            Window {
                center: 127.5,
                width: 256.0,
            },
            WindowSource::Percentiles,
        ),
    };

    Ok(Volume {
        series_id: series.id.clone(),
        series_uid: series.series_uid().to_owned(),
        modality: series.modality().to_owned(),
        description: series.files[0].series_description.clone(),
        shape: [kept.len(), rows, cols],
        voxels,
        geometry: geometry(series, &kept),
        photometric,
        default_window,
        window_source,
        order: series.order,
        slices: kept
            .iter()
            .map(|s| {
                let file = &series.files[s.file];
                SliceMeta {
                    path: file.path.clone(),
                    frame: s.frame,
                    instance_number: file.instance_number,
                    position_mm: s.position_mm,
                    tags: Arc::clone(&file.tags),
                }
            })
            .collect(),
        warnings,
        skipped,
    })
}

fn auto_window(values: impl ExactSizeIterator<Item = f32>) -> Window {
    percentile_window(values).unwrap_or(Window {
        center: 0.0,
        width: 1.0,
    })
}

fn geometry(series: &Series, slices: &[&SliceRef]) -> Geometry {
    let first = slices.first().and_then(|s| s.position_mm);
    match (series.orientation(), first) {
        (Some(orientation), Some(origin)) => {
            let step = match (first, slices.last().and_then(|s| s.position_mm)) {
                (Some(a), Some(b)) if slices.len() > 1 => {
                    Some([b[0] - a[0], b[1] - a[1], b[2] - a[2]])
                }
                _ => None,
            };
            Geometry::from_dicom(orientation, origin, series.spacing_mm, step)
        }
        _ => Geometry::identity(series.spacing_mm),
    }
}

/// Greyscale: optimistically into `i16`; if any value is not an exact 16-bit integer, decode again
/// into `f32` (only the rare volumes that need it pay twice, and the peak never holds both).
fn decode_grey(
    series: &Series,
    plane: usize,
    control: &LoadControl,
) -> Result<(Voxels, Vec<Skipped>), DicomError> {
    let n = series.slices.len();
    let fractional_rescale = series
        .files
        .iter()
        .filter_map(|f| f.rescale)
        .any(|(slope, intercept)| slope.fract() != 0.0 || intercept.fract() != 0.0);
    if !fractional_rescale {
        let mut out = vec![0i16; n * plane];
        let outcomes = decode_slices(
            series,
            &mut out,
            plane,
            control,
            write_i16,
            Some(write_i16_native),
        );
        if !outcomes
            .iter()
            .any(|o| matches!(o, Err(SliceError::NotI16)))
        {
            let skipped = keep_decoded(series, &mut out, plane, outcomes)?;
            return Ok((Voxels::I16(out), skipped));
        }
        control.done.store(0, Ordering::Relaxed);
    }
    let mut out = vec![0f32; n * plane];
    let outcomes = decode_slices(series, &mut out, plane, control, write_f32, None);
    let skipped = keep_decoded(series, &mut out, plane, outcomes)?;
    Ok((Voxels::F32(out), skipped))
}

/// Drops the slices that failed from `out` (in place), returning them as skipped files. Fails when
/// the load was cancelled or nothing decoded at all.
fn keep_decoded<T: Copy>(
    series: &Series,
    out: &mut Vec<T>,
    slice_len: usize,
    outcomes: Vec<Result<(), SliceError>>,
) -> Result<Vec<Skipped>, DicomError> {
    let mut skipped = Vec::new();
    let mut first_error = None;
    let mut kept = 0;
    let whole_file_failed = outcomes.len() == 1 && series.slices.len() > 1;
    for (index, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Ok(()) => {
                if kept != index {
                    out.copy_within(index * slice_len..(index + 1) * slice_len, kept * slice_len);
                }
                kept += 1;
            }
            Err(SliceError::Dicom(DicomError::Cancelled)) => return Err(DicomError::Cancelled),
            Err(err) => {
                let err = err.into_dicom();
                skipped.push(Skipped {
                    path: err.path().map(Path::to_path_buf).unwrap_or_default(),
                    reason: err.cause(),
                });
                first_error.get_or_insert(err);
            }
        }
    }
    if kept == 0 || whole_file_failed {
        return Err(first_error.unwrap_or(DicomError::Cancelled));
    }
    out.truncate(kept * slice_len);
    Ok(skipped)
}

/// What one slice writer gets: the decoded file, the frame, the file's header and where to write.
type WriteSlice<T> = fn(
    &DecodedPixelData<'_>,
    &DefaultDicomObject,
    u32,
    &FileHeader,
    &mut [T],
) -> Result<(), SliceError>;

/// A shortcut that writes a slice straight from an uncompressed file's Pixel Data, or `None` when
/// the file needs the general decoder.
type NativeWrite<T> =
    fn(&DefaultDicomObject, u32, &FileHeader, &mut [T]) -> Option<Result<(), SliceError>>;

/// Runs `write` for every slice in parallel and returns each slice's outcome. A multi-frame object
/// is decoded once and its frames fanned out; single-frame files are each opened and decoded by
/// their own task.
fn decode_slices<T: Send>(
    series: &Series,
    out: &mut [T],
    slice_len: usize,
    control: &LoadControl,
    write: WriteSlice<T>,
    native: Option<NativeWrite<T>>,
) -> Vec<Result<(), SliceError>> {
    let one_multi_frame_file = series.files.len() == 1 && series.files[0].frames > 1;
    let shared = if one_multi_frame_file {
        let header = &series.files[0];
        match open(&header.path, ReadExtent::Full) {
            Ok(obj) => Some(obj),
            Err(err) => return vec![Err(err.into())],
        }
    } else {
        None
    };
    // Decoded once for all frames, unless the frames can be read straight from the parsed Pixel
    // Data (tried on the first frame, into the first slice's place, which its slice overwrites):
    // dicom-pixeldata's copy of a whole multi-frame object would add a volume's worth to the peak.
    let shared_decoded = match &shared {
        Some(obj) => {
            let header = &series.files[0];
            let first = slice_len.min(out.len());
            let native_applies =
                native.is_some_and(|native| native(obj, 0, header, &mut out[..first]).is_some());
            if native_applies {
                None
            } else {
                match guarded(&header.path, || {
                    let decoded = decode_all(obj, &header.path)?;
                    check_size(&decoded, header)?;
                    Ok(decoded)
                }) {
                    Ok(decoded) => Some(decoded),
                    Err(err) => return vec![Err(err)],
                }
            }
        }
        None => None,
    };
    let one = |(dst, slice): (&mut [T], &SliceRef)| {
        if control.is_cancelled() {
            return Err(SliceError::Dicom(DicomError::Cancelled));
        }
        let header = &series.files[slice.file];
        if let Some(obj) = &shared {
            guarded(&header.path, || match &shared_decoded {
                Some(decoded) => write(decoded, obj, slice.frame, header, dst),
                None => native
                    .and_then(|native| native(obj, slice.frame, header, dst))
                    .unwrap_or_else(|| {
                        Err(DicomError::Decode {
                            reason: format!("frame {} is missing from the pixel data", slice.frame),
                            path: header.path.clone(),
                        }
                        .into())
                    }),
            })?;
        } else {
            let obj = open(&header.path, ReadExtent::Full)?;
            guarded(&header.path, || {
                if let Some(native) = native
                    && let Some(result) = native(&obj, slice.frame, header, dst)
                {
                    return result;
                }
                let decoded = decode_all(&obj, &header.path)?;
                check_size(&decoded, header)?;
                write(&decoded, &obj, slice.frame, header, dst)
            })?;
        }
        if let Some(delay) = control.slice_delay {
            std::thread::sleep(delay);
        }
        control.done.fetch_add(1, Ordering::Relaxed);
        Ok(())
    };
    // A compressed slice needs several times its size while it decodes (its compressed bytes, the
    // codec's buffers, dicom-pixeldata's copy): decoding all of a small series at once would make
    // the peak several times the volume. So at most a quarter of its slices are in flight.
    let n = series.slices.len().max(1);
    let in_flight = if shared.is_none() && !series.files.iter().all(FileHeader::is_native) {
        (n / 4).max(1)
    } else {
        n
    };
    let mut outcomes = Vec::with_capacity(n);
    for (dst, slices) in out
        .chunks_mut(slice_len * in_flight)
        .zip(series.slices.chunks(in_flight))
    {
        let wave: Vec<_> = dst
            .par_chunks_mut(slice_len)
            .zip(slices)
            .map(&one)
            .collect();
        outcomes.extend(wave);
    }
    outcomes
}

/// Codecs are C/C++ or young Rust: a panic inside one becomes this file's error, not a crash.
fn guarded<R>(path: &Path, f: impl FnOnce() -> Result<R, SliceError>) -> Result<R, SliceError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(SliceError::Dicom(DicomError::Decode {
            reason: "the decoder failed on corrupt data".to_owned(),
            path: path.to_owned(),
        }))
    })
}

fn decode_all<'a>(
    obj: &'a DefaultDicomObject,
    path: &Path,
) -> Result<DecodedPixelData<'a>, SliceError> {
    if obj.get(tags::PIXEL_DATA).is_none()
        && obj.get(tags::FLOAT_PIXEL_DATA).is_none()
        && obj.get(tags::DOUBLE_FLOAT_PIXEL_DATA).is_none()
    {
        return Err(DicomError::NoPixelData {
            path: path.to_owned(),
        }
        .into());
    }
    let ts_uid = obj.meta().transfer_syntax().trim_end_matches(['\0', ' ']);
    match TransferSyntaxRegistry.get(ts_uid) {
        Some(ts) if !ts.can_decode_all() => {
            return Err(DicomError::UnsupportedTransferSyntax {
                uid: ts_uid.to_owned(),
                name: ts.name().to_owned(),
                path: path.to_owned(),
            }
            .into());
        }
        Some(_) => {}
        None => {
            return Err(DicomError::UnsupportedTransferSyntax {
                uid: ts_uid.to_owned(),
                name: "unknown".to_owned(),
                path: path.to_owned(),
            }
            .into());
        }
    }
    obj.decode_pixel_data().map_err(|err| {
        DicomError::Decode {
            reason: one_line(&err),
            path: path.to_owned(),
        }
        .into()
    })
}

/// The decoded data must hold every frame the header promised, at the header's size.
fn check_size(decoded: &DecodedPixelData<'_>, header: &FileHeader) -> Result<(), SliceError> {
    if decoded.rows() != header.rows || decoded.columns() != header.cols {
        return Err(DicomError::Inconsistent {
            reason: format!(
                "decoded {}x{}, header says {}x{}",
                decoded.rows(),
                decoded.columns(),
                header.rows,
                header.cols
            ),
            path: header.path.clone(),
        }
        .into());
    }
    let bytes_per_sample = usize::from(decoded.bits_allocated().div_ceil(8));
    let expected = header.rows as usize
        * header.cols as usize
        * usize::from(decoded.samples_per_pixel())
        * bytes_per_sample
        * header.frames as usize;
    let pixels = header.rows as usize * header.cols as usize * header.frames as usize;
    let short = decoded.data().len() < expected;
    if short && decoded.bits_allocated() == 1 && decoded.data().len() >= pixels.div_ceil(8) {
        // Still bit-packed: the codec returned the 1-bit frames as stored, not one byte each.
        let uid = header.transfer_syntax_uid.trim_end_matches(['\0', ' ']);
        let name = TransferSyntaxRegistry
            .get(uid)
            .map_or("unknown", |ts| ts.name());
        return Err(DicomError::UnsupportedTransferSyntax {
            uid: uid.to_owned(),
            name: format!("{name}: 1-bit frames stay bit-packed, not unpacked here; not truncated"),
            path: header.path.clone(),
        }
        .into());
    }
    if short {
        return Err(DicomError::Decode {
            reason: format!(
                "pixel data has {} bytes, {expected} expected (truncated?)",
                decoded.data().len()
            ),
            path: header.path.clone(),
        }
        .into());
    }
    Ok(())
}
