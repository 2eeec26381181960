//! Voxel bytes to numbers: the integer and float datatypes, the file's byte order, and the
//! `scl_slope`/`scl_inter` scaling (`value = slope · stored + inter`, none when the slope is 0 or
//! not finite — nibabel's rule); and the check that makes a label map a label map.

use ::nifti::{Endianness, NiftiHeader, NiftiType};

use super::NiftiErrorKind;

/// Datatypes read as scalars. Complex, RGB, float128 and binary are refused.
pub(super) fn supported(t: NiftiType) -> bool {
    matches!(
        t,
        NiftiType::Uint8
            | NiftiType::Int8
            | NiftiType::Uint16
            | NiftiType::Int16
            | NiftiType::Uint32
            | NiftiType::Int32
            | NiftiType::Uint64
            | NiftiType::Int64
            | NiftiType::Float32
            | NiftiType::Float64
    )
}

/// Decodes `N`-byte values of type `$t` in the given byte order into `f64`.
macro_rules! decode {
    ($raw:expr, $out:expr, $t:ty, $big:expr) => {{
        const N: usize = std::mem::size_of::<$t>();
        $out.extend($raw.chunks_exact(N).map(|c| {
            let mut b = [0_u8; N];
            b.copy_from_slice(c);
            let v = if $big {
                <$t>::from_be_bytes(b)
            } else {
                <$t>::from_le_bytes(b)
            };
            v as f64
        }));
    }};
}

/// The values of `raw` (whole voxels of `t`), scaled as the header says.
// One `as f64` serves every type in `decode!`; for the 64-bit integers it is the rounding wanted.
#[allow(clippy::cast_lossless)]
pub(super) fn to_f64(
    raw: &[u8],
    t: NiftiType,
    h: &NiftiHeader,
    warnings: &mut Vec<String>,
) -> Result<Vec<f64>, NiftiErrorKind> {
    let count = raw.len() / t.size_of();
    let mut out = Vec::new();
    out.try_reserve_exact(count)
        .map_err(|_| NiftiErrorKind::TooLarge(format!("{count} voxels as f64")))?;
    let big = h.endianness == Endianness::Big;
    match t {
        NiftiType::Uint8 => decode!(raw, out, u8, big),
        NiftiType::Int8 => decode!(raw, out, i8, big),
        NiftiType::Uint16 => decode!(raw, out, u16, big),
        NiftiType::Int16 => decode!(raw, out, i16, big),
        NiftiType::Uint32 => decode!(raw, out, u32, big),
        NiftiType::Int32 => decode!(raw, out, i32, big),
        NiftiType::Uint64 => decode!(raw, out, u64, big),
        NiftiType::Int64 => decode!(raw, out, i64, big),
        NiftiType::Float32 => decode!(raw, out, f32, big),
        NiftiType::Float64 => decode!(raw, out, f64, big),
        other => {
            return Err(NiftiErrorKind::UnsupportedDatatype(format!("{other:?}")));
        }
    }
    if matches!(t, NiftiType::Uint64 | NiftiType::Int64)
        && out.iter().any(|v| v.abs() > 9_007_199_254_740_992.0)
    {
        warnings.push("64-bit integers above 2^53 were rounded to the nearest f64".to_owned());
    }
    scale(&mut out, h, warnings);
    Ok(out)
}

fn scale(values: &mut [f64], h: &NiftiHeader, warnings: &mut Vec<String>) {
    let slope = f64::from(h.scl_slope);
    let inter = f64::from(h.scl_inter);
    if slope == 0.0 || slope.is_nan() {
        return;
    }
    if slope.is_infinite() {
        warnings.push("scl_slope is infinite; no scaling applied".to_owned());
        return;
    }
    let inter = if inter.is_finite() { inter } else { 0.0 };
    for v in values {
        *v = *v * slope + inter;
    }
}

/// Labels from scaled values; refuses the first value that is not an integer in `0..=u32::MAX`.
pub(super) fn to_labels(values: &[f64], dims: [usize; 3]) -> Result<Vec<u32>, NiftiErrorKind> {
    let mut labels = Vec::new();
    labels
        .try_reserve_exact(values.len())
        .map_err(|_| NiftiErrorKind::TooLarge(format!("{} labels", values.len())))?;
    let [_, ny, nx] = dims;
    for (flat, &v) in values.iter().enumerate() {
        if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX)) {
            let (z, y, x) = (
                flat / (ny * nx).max(1),
                flat / nx.max(1) % ny.max(1),
                flat % nx.max(1),
            );
            return Err(NiftiErrorKind::NotLabels(format!(
                "value {v} at voxel [z={z}, y={y}, x={x}] is not a non-negative integer"
            )));
        }
        labels.push(v as u32);
    }
    Ok(labels)
}
