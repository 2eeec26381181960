//! The voxel grid of a NIfTI-1 header in DICOM LPS.
//!
//! NIfTI maps voxel `(i, j, k)` to RAS+ millimetres by one of three methods (nifti1.h): the sform
//! (`srow_x/y/z`, used when `sform_code > 0`), else the qform (quaternion `b, c, d` with
//! `a = √(1 − b² − c² − d²)`, `pixdim[1..3]`, `qfac = pixdim[0]` and offsets `quatern_x/y/z`,
//! used when `qform_code > 0`), else "method 1": `pixdim` scaling alone, with no orientation.
//! LPS is RAS with x and y negated, so the first two rows of the affine change sign. Columns of
//! the affine are then the i (column), j (row) and k (slice) steps.

use ::nifti::NiftiHeader;

use super::NiftiErrorKind;
use crate::imaging::grid::Grid;

/// A 3×3 linear part (columns = i, j, k steps, RAS mm) and the translation.
struct Affine {
    columns: [[f64; 3]; 3],
    origin: [f64; 3],
}

/// The grid of a header whose volume has `[z, y, x]` = `dims` voxels.
pub(super) fn grid(
    h: &NiftiHeader,
    dims: [usize; 3],
    warnings: &mut Vec<String>,
) -> Result<Grid, NiftiErrorKind> {
    let affine = if h.sform_code > 0 {
        let s = sform(h)?;
        compare_with_qform(h, &s, warnings);
        compare_with_pixdim(h, &s, warnings);
        s
    } else if h.qform_code > 0 {
        qform(h, dims, warnings)?
    } else {
        warnings.push(
            "no sform or qform: geometry from pixdim only, with an assumed orientation and \
             origin (NIfTI method 1); it cannot be trusted to line up with other images"
                .to_owned(),
        );
        pixdim_only(h, dims, warnings)?
    };
    to_lps_grid(&affine, dims, warnings)
}

fn sform(h: &NiftiHeader) -> Result<Affine, NiftiErrorKind> {
    let rows = [h.srow_x, h.srow_y, h.srow_z].map(|r| r.map(f64::from));
    if rows.iter().flatten().any(|v| !v.is_finite()) {
        return Err(NiftiErrorKind::BadGeometry(
            "the sform has non-finite entries".to_owned(),
        ));
    }
    Ok(Affine {
        columns: std::array::from_fn(|c| std::array::from_fn(|r| rows[r][c])),
        origin: std::array::from_fn(|r| rows[r][3]),
    })
}

/// Checked `pixdim[1..=3]`; a non-positive value is allowed only on an axis of one voxel, where it
/// moves no voxel centre, and becomes 1 mm there.
fn spacings(
    h: &NiftiHeader,
    dims: [usize; 3],
    warnings: &mut Vec<String>,
) -> Result<[f64; 3], NiftiErrorKind> {
    let mut out = [0.0; 3];
    for axis in 0..3 {
        let v = f64::from(h.pixdim[axis + 1]);
        let voxels = dims[2 - axis];
        out[axis] = if v.is_finite() && v > 0.0 {
            v
        } else if voxels == 1 && (v == 0.0 || v.is_nan()) {
            warnings.push(format!(
                "pixdim[{}] is {v} on an axis of one voxel; taken as 1 mm",
                axis + 1
            ));
            1.0
        } else {
            return Err(NiftiErrorKind::BadSpacing(format!(
                "pixdim[{}] is {v}",
                axis + 1
            )));
        };
    }
    Ok(out)
}

fn qform(
    h: &NiftiHeader,
    dims: [usize; 3],
    warnings: &mut Vec<String>,
) -> Result<Affine, NiftiErrorKind> {
    let rotation = quaternion_rotation(h)?;
    let [dx, dy, dz] = spacings(h, dims, warnings)?;
    // nifti1.h: qfac is pixdim[0], which must be ±1; anything else is treated as 1.
    let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
    let scale = [dx, dy, dz * qfac];
    let origin = [h.quatern_x, h.quatern_y, h.quatern_z].map(f64::from);
    if origin.iter().any(|v| !v.is_finite()) {
        return Err(NiftiErrorKind::BadGeometry(
            "the qform offset is not finite".to_owned(),
        ));
    }
    Ok(Affine {
        columns: std::array::from_fn(|c| std::array::from_fn(|r| rotation[r][c] * scale[c])),
        origin,
    })
}

/// The rotation matrix of the qform quaternion (nifti1.h, "METHOD 2"), in its `a, b, c, d` names.
#[allow(clippy::many_single_char_names)]
fn quaternion_rotation(h: &NiftiHeader) -> Result<[[f64; 3]; 3], NiftiErrorKind> {
    let [b, c, d] = [h.quatern_b, h.quatern_c, h.quatern_d].map(f64::from);
    let bcd = b * b + c * c + d * d;
    if !bcd.is_finite() || bcd > 1.0 + 1e-5 {
        return Err(NiftiErrorKind::BadGeometry(format!(
            "the qform quaternion ({b}, {c}, {d}) is longer than 1"
        )));
    }
    let a = (1.0 - bcd).max(0.0).sqrt();
    Ok([
        [
            a * a + b * b - c * c - d * d,
            2.0 * (b * c - a * d),
            2.0 * (b * d + a * c),
        ],
        [
            2.0 * (b * c + a * d),
            a * a + c * c - b * b - d * d,
            2.0 * (c * d - a * b),
        ],
        [
            2.0 * (b * d - a * c),
            2.0 * (c * d + a * b),
            a * a + d * d - c * c - b * b,
        ],
    ])
}

fn pixdim_only(
    h: &NiftiHeader,
    dims: [usize; 3],
    warnings: &mut Vec<String>,
) -> Result<Affine, NiftiErrorKind> {
    let [dx, dy, dz] = spacings(h, dims, warnings)?;
    Ok(Affine {
        columns: [[dx, 0.0, 0.0], [0.0, dy, 0.0], [0.0, 0.0, dz]],
        origin: [0.0; 3],
    })
}

/// Warns when the qform, if also set, puts the voxels elsewhere than the sform (ITK refuses such
/// files; we follow the NIfTI rule of preferring the sform, but say so).
fn compare_with_qform(h: &NiftiHeader, s: &Affine, warnings: &mut Vec<String>) {
    if h.qform_code <= 0 {
        return;
    }
    let mut ignored = Vec::new();
    let Ok(q) = qform(h, [2, 2, 2], &mut ignored) else {
        warnings.push("the qform is invalid; the sform was used".to_owned());
        return;
    };
    let differ = (0..3).any(|c| {
        (0..3).any(|r| (q.columns[c][r] - s.columns[c][r]).abs() > 1e-3)
            || (q.origin[c] - s.origin[c]).abs() > 1e-2
    });
    if differ {
        warnings.push("the sform and the qform disagree; the sform was used".to_owned());
    }
}

fn compare_with_pixdim(h: &NiftiHeader, s: &Affine, warnings: &mut Vec<String>) {
    for c in 0..3 {
        let p = f64::from(h.pixdim[c + 1]);
        let n = norm(s.columns[c]);
        if p.is_finite() && p > 0.0 && (p - n).abs() > 1e-4 * p.max(n) {
            warnings.push(format!(
                "pixdim[{}] is {p} but the sform spacing is {n}; the sform was used",
                c + 1
            ));
        }
    }
}

/// Splits the affine into spacings and unit directions, in LPS. An axis of one voxel may have a
/// zero column (2D images); its direction is then the normal of the other two.
fn to_lps_grid(
    a: &Affine,
    dims: [usize; 3],
    warnings: &mut Vec<String>,
) -> Result<Grid, NiftiErrorKind> {
    let lps = |v: [f64; 3]| [-v[0], -v[1], v[2]];
    let columns = a.columns.map(lps);
    let names = ["i (column)", "j (row)", "k (slice)"];
    let mut spacing = [0.0; 3];
    let mut direction = [[0.0; 3]; 3];
    let mut degenerate = None;
    for c in 0..3 {
        let n = norm(columns[c]);
        if n.is_finite() && n > 1e-9 {
            spacing[c] = n;
            direction[c] = columns[c].map(|v| v / n);
        } else if dims[2 - c] == 1 && degenerate.is_none() {
            degenerate = Some(c);
        } else {
            return Err(NiftiErrorKind::BadSpacing(format!(
                "the {} axis has a step of {n} mm",
                names[c]
            )));
        }
    }
    if let Some(c) = degenerate {
        let normal = cross(direction[(c + 1) % 3], direction[(c + 2) % 3]);
        spacing[c] = 1.0;
        direction[c] = normal;
        warnings.push(format!(
            "the {} axis has one voxel and no step; taken as 1 mm along the normal",
            names[c]
        ));
    }
    if lps(a.origin).iter().any(|v| !v.is_finite()) {
        return Err(NiftiErrorKind::BadGeometry(
            "the origin is not finite".to_owned(),
        ));
    }
    Ok(Grid {
        dims,
        spacing_mm: [spacing[2], spacing[1], spacing[0]],
        origin_mm: lps(a.origin),
        row_direction: direction[0],
        col_direction: direction[1],
        slice_direction: direction[2],
    })
}

fn norm(v: [f64; 3]) -> f64 {
    (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
