//! Turning one decoded frame into volume values: modality LUT into `i16` (with fast paths for the
//! common integer-rescale cases) or `f32`, and colour (RGB, YBR, palette) into RGB8.

use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::{DecodedPixelData, PlanarConfiguration};

use super::error::{DicomError, SliceError, one_line};
use super::header::FileHeader;

/// Modality values of one frame (1-bit segmentations give 0/1, like pydicom).
fn grey_values(
    decoded: &DecodedPixelData<'_>,
    frame: u32,
    header: &FileHeader,
) -> Result<Vec<f32>, SliceError> {
    let result = if decoded.bits_allocated() == 1 {
        decoded.frame_data(frame).map(|bytes| {
            bytes
                .iter()
                .map(|&b| if b == 0 { 0.0 } else { 1.0 })
                .collect()
        })
    } else {
        decoded.to_vec_frame::<f32>(frame)
    };
    result.map_err(|err| {
        DicomError::Decode {
            reason: one_line(&err),
            path: header.path.clone(),
        }
        .into()
    })
}

pub(super) fn write_i16(
    decoded: &DecodedPixelData<'_>,
    _obj: &DefaultDicomObject,
    frame: u32,
    header: &FileHeader,
    dst: &mut [i16],
) -> Result<(), SliceError> {
    if let Some(result) = write_i16_integer_rescale(decoded, frame, dst) {
        return result;
    }
    let values = grey_values(decoded, frame, header)?;
    for (d, v) in dst.iter_mut().zip(&values) {
        if v.fract() != 0.0 || *v < f32::from(i16::MIN) || *v > f32::from(i16::MAX) {
            return Err(SliceError::NotI16);
        }
        *d = *v as i16;
    }
    Ok(())
}

/// The common case without the general `f32` conversion: 8/16-bit monochrome samples and an
/// integer rescale. Same mapping as dicom-pixeldata's modality LUT (`Lut::new_rescale`): the
/// sample's low `bits_stored` bits, sign-extended when signed, times slope plus intercept.
/// `None` when the case does not apply (the caller takes the general path).
fn write_i16_integer_rescale(
    decoded: &DecodedPixelData<'_>,
    frame: u32,
    dst: &mut [i16],
) -> Option<Result<(), SliceError>> {
    let bits_allocated = decoded.bits_allocated();
    let bits_stored = u32::from(decoded.bits_stored());
    if decoded.samples_per_pixel() != 1
        || !decoded.photometric_interpretation().is_monochrome()
        || !matches!(bits_allocated, 8 | 16)
        || bits_stored == 0
        || bits_stored > u32::from(bits_allocated)
    {
        return None;
    }
    let rescales = decoded.rescale().ok()?;
    let rescale = if rescales.len() > 1 {
        rescales.get(frame as usize)?
    } else {
        rescales.first()?
    };
    let integral = |v: f64| v.fract() == 0.0 && v.abs() < 1e9;
    if !integral(rescale.slope) || !integral(rescale.intercept) {
        return None;
    }
    let signed = decoded.pixel_representation() == dicom_pixeldata::PixelRepresentation::Signed;
    let bytes = decoded.frame_data(frame).ok()?;
    let rescale = (rescale.slope as i64, rescale.intercept as i64);
    let result = if bits_allocated == 16 {
        let samples = bytes
            .chunks_exact(2)
            .map(|b| u32::from(u16::from_ne_bytes([b[0], b[1]])));
        integer_rescale_into(samples, bits_stored, signed, rescale, dst)
    } else {
        integer_rescale_into(
            bytes.iter().map(|&b| u32::from(b)),
            bits_stored,
            signed,
            rescale,
            dst,
        )
    };
    Some(result)
}

/// `sample & mask`, sign-extended from `bits_stored` when signed, times slope plus intercept, into
/// `i16` (or [`SliceError::NotI16`] when a value does not fit).
///
/// The loop body is branch-free (range failures are collected, not returned early) so that it
/// vectorises: this conversion is most of the time of loading an uncompressed series.
fn integer_rescale_into(
    samples: impl Iterator<Item = u32>,
    bits_stored: u32,
    signed: bool,
    (slope, intercept): (i64, i64),
    dst: &mut [i16],
) -> Result<(), SliceError> {
    let mask = (1u32 << bits_stored) - 1;
    let shift = 32 - bits_stored;
    let sample_of = |raw: u32| {
        let sample = raw & mask;
        if signed {
            i64::from(((sample << shift) as i32) >> shift)
        } else {
            i64::from(sample)
        }
    };
    let (lo, hi) = (i64::from(i16::MIN), i64::from(i16::MAX));
    let mut fits = true;
    if slope == 1 && bits_stored <= 16 && intercept.abs() < 1 << 20 {
        // Identity slope (nearly every CT and MR): 32-bit arithmetic is exact here.
        let (intercept, lo, hi) = (intercept as i32, lo as i32, hi as i32);
        for (d, raw) in dst.iter_mut().zip(samples) {
            let value = sample_of(raw) as i32 + intercept;
            fits &= (lo..=hi).contains(&value);
            *d = value as i16;
        }
    } else {
        for (d, raw) in dst.iter_mut().zip(samples) {
            let value = sample_of(raw) * slope + intercept;
            fits &= (lo..=hi).contains(&value);
            *d = value as i16;
        }
    }
    if fits {
        Ok(())
    } else {
        Err(SliceError::NotI16)
    }
}

/// Uncompressed monochrome slices read straight from the parsed Pixel Data element, skipping
/// dicom-pixeldata's copy; same mapping as [`write_i16_integer_rescale`], with the frame's
/// functional-group rescale for enhanced objects. Anything unusual takes the general path.
pub(super) fn write_i16_native(
    obj: &DefaultDicomObject,
    frame: u32,
    header: &FileHeader,
    dst: &mut [i16],
) -> Option<Result<(), SliceError>> {
    use dicom_core::value::{PrimitiveValue, Value};
    let monochrome = matches!(header.photometric.as_str(), "MONOCHROME1" | "MONOCHROME2");
    if !header.is_native() || header.samples_per_pixel != 1 || !monochrome {
        return None;
    }
    let int = |tag| obj.get(tag).and_then(|e| e.to_int::<u32>().ok());
    let bits_allocated = u32::from(header.bits_allocated);
    let bits_stored = int(tags::BITS_STORED)?;
    if bits_stored == 0 || bits_stored > bits_allocated {
        return None;
    }
    let signed = int(tags::PIXEL_REPRESENTATION)? == 1;
    let (slope, intercept) = header
        .frame_rescale
        .get(frame as usize)
        .copied()
        .or(header.rescale)
        .unwrap_or((1.0, 0.0));
    let integral = |v: f64| v.fract() == 0.0 && v.abs() < 1e9;
    if !integral(slope) || !integral(intercept) {
        return None;
    }
    let rescale = (slope as i64, intercept as i64);
    let range = frame as usize * dst.len()..(frame as usize + 1) * dst.len();
    let Value::Primitive(pixels) = obj.get(tags::PIXEL_DATA)?.value() else {
        return None;
    };
    let result = match (pixels, bits_allocated) {
        (PrimitiveValue::U16(v), 16) => {
            let samples = v.get(range)?;
            integer_rescale_into(
                samples.iter().map(|&x| u32::from(x)),
                bits_stored,
                signed,
                rescale,
                dst,
            )
        }
        (PrimitiveValue::U8(v), 8) => {
            let bytes = v.get(range)?;
            integer_rescale_into(
                bytes.iter().map(|&x| u32::from(x)),
                bits_stored,
                signed,
                rescale,
                dst,
            )
        }
        _ => return None,
    };
    Some(result)
}

pub(super) fn write_f32(
    decoded: &DecodedPixelData<'_>,
    _obj: &DefaultDicomObject,
    frame: u32,
    header: &FileHeader,
    dst: &mut [f32],
) -> Result<(), SliceError> {
    let values = grey_values(decoded, frame, header)?;
    dst.copy_from_slice(&values[..dst.len()]);
    Ok(())
}

pub(super) fn write_rgb(
    decoded: &DecodedPixelData<'_>,
    obj: &DefaultDicomObject,
    frame: u32,
    header: &FileHeader,
    dst: &mut [u8],
) -> Result<(), SliceError> {
    let unsupported = |reason: String| -> SliceError {
        DicomError::Unsupported {
            reason,
            path: header.path.clone(),
        }
        .into()
    };
    let bytes = decoded
        .frame_data(frame)
        .map_err(|err| DicomError::Decode {
            reason: one_line(&err),
            path: header.path.clone(),
        })?;
    let photometric = decoded.photometric_interpretation().as_str().to_owned();
    if photometric == "PALETTE COLOR" {
        let palette = super::palette::Palette::from_object(obj).map_err(unsupported)?;
        let bits = decoded.bits_allocated();
        palette.apply(bytes, bits, dst).map_err(unsupported)?;
        return Ok(());
    }
    if decoded.samples_per_pixel() != 3 || decoded.bits_allocated() != 8 {
        return Err(unsupported(format!(
            "{} samples of {} bits per pixel",
            decoded.samples_per_pixel(),
            decoded.bits_allocated()
        )));
    }
    let planar = decoded.planar_configuration() == PlanarConfiguration::PixelFirst;
    let plane = dst.len() / 3;
    for (i, px) in dst.chunks_exact_mut(3).enumerate() {
        let sample = |c: usize| {
            if planar {
                bytes[c * plane + i]
            } else {
                bytes[i * 3 + c]
            }
        };
        let (a, b, c) = (sample(0), sample(1), sample(2));
        let rgb = match photometric.as_str() {
            "YBR_FULL" | "YBR_FULL_422" => ybr_full_to_rgb(a, b, c),
            _ => [a, b, c],
        };
        px.copy_from_slice(&rgb);
    }
    Ok(())
}

/// PS3.3 C.7.6.3.1.2 YBR_FULL → RGB.
fn ybr_full_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let (y, cb, cr) = (f32::from(y), f32::from(cb) - 128.0, f32::from(cr) - 128.0);
    let clamp = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    [
        clamp(y + 1.402 * cr),
        clamp(y - 0.344_136 * cb - 0.714_136 * cr),
        clamp(y + 1.772 * cb),
    ]
}
