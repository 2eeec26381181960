//! PyRadiomics' `shape2D` class (2D shape features of a single-slice mask): the marching-squares
//! contour of the mask (mesh surface, perimeter, maximum diameter over the contour vertices) and
//! the principal axes of the pixel coordinates.
//!
//! The mask, cropped to its bounding box as PyRadiomics crops, must be one voxel thick along
//! `force_2d_dimension` (PyRadiomics' `force2D` with `force2Ddimension`); the other two axes, in
//! order, form the plane. As in PyRadiomics the plane is padded with one pixel of background
//! before marching squares.

use super::marching::{
    HalfPoint, SQUARE_CORNERS, SQUARE_EDGE_MIDPOINTS, SQUARE_SEGMENTS, coordinate_eigenvalues,
    inside_bounding_box, max_sq_distance_all,
};
use super::types::{ClassValues, FeatureDef, Roi};

const fn feature(name: &'static str, deprecated: bool) -> FeatureDef {
    FeatureDef { name, deprecated }
}

/// The class's features, in PyRadiomics' (alphabetical) order.
pub const FEATURES: &[FeatureDef] = &[
    feature("Elongation", false),
    feature("MajorAxisLength", false),
    feature("MaximumDiameter", false),
    feature("MeshSurface", false),
    feature("MinorAxisLength", false),
    feature("Perimeter", false),
    feature("PerimeterSurfaceRatio", false),
    feature("PixelSurface", false),
    feature("SphericalDisproportion", true),
    feature("Sphericity", false),
];

/// The plane's mask padded with one background pixel on every side, `[a, b]` row-major where
/// `a`, `b` are the two kept axes in `[z, y, x]` order.
struct PaddedPlane {
    cells: Vec<bool>,
    dims: [usize; 2],
}

impl PaddedPlane {
    fn at(&self, a: usize, b: usize) -> bool {
        self.cells[a * self.dims[1] + b]
    }

    fn pixels(&self) -> Vec<[usize; 2]> {
        let mut out = Vec::new();
        for a in 0..self.dims[0] {
            for b in 0..self.dims[1] {
                if self.at(a, b) {
                    out.push([a, b]);
                }
            }
        }
        out
    }

    /// Contour vertices: midpoints of grid edges joining an inside and an outside pixel, each
    /// once (what PyRadiomics stores for the diameter search).
    fn contour_vertices(&self) -> Vec<HalfPoint<2>> {
        let [na, nb] = self.dims;
        let mut out = Vec::new();
        for a in 0..na {
            for b in 0..nb {
                let here = self.at(a, b);
                let h = [2 * a as i64, 2 * b as i64];
                if a + 1 < na && self.at(a + 1, b) != here {
                    out.push([h[0] + 1, h[1]]);
                }
                if b + 1 < nb && self.at(a, b + 1) != here {
                    out.push([h[0], h[1] + 1]);
                }
            }
        }
        out
    }
}

/// Crops the mask to its bounding box (as PyRadiomics crops), squeezes `force_2d_dimension` out
/// and pads the plane; `Err` as PyRadiomics refuses.
fn plane(roi: &Roi, force_2d_dimension: usize) -> Result<(PaddedPlane, [f64; 2]), String> {
    if force_2d_dimension > 2 {
        return Err(format!(
            "force2Ddimension must be 0, 1 or 2, got {force_2d_dimension}"
        ));
    }
    let kept: Vec<usize> = (0..3).filter(|&d| d != force_2d_dimension).collect();
    let (ka, kb) = (kept[0], kept[1]);
    let spacing = [roi.spacing_mm[ka], roi.spacing_mm[kb]];
    let Some((lo, hi)) = inside_bounding_box(roi) else {
        return Ok((
            PaddedPlane {
                cells: vec![false; 4],
                dims: [2, 2],
            },
            spacing,
        ));
    };
    let thickness = hi[force_2d_dimension] - lo[force_2d_dimension];
    if thickness > 1 {
        return Err(format!(
            "the mask is {thickness} voxels thick in dimension {force_2d_dimension}, more than 1: cannot compute 2D shape"
        ));
    }
    let dims = [hi[ka] - lo[ka] + 2, hi[kb] - lo[kb] + 2];
    let mut cells = vec![false; dims[0] * dims[1]];
    for a in 0..dims[0] - 2 {
        for b in 0..dims[1] - 2 {
            let mut zyx = lo;
            zyx[ka] += a;
            zyx[kb] += b;
            let inside = roi
                .inside
                .get(roi.index(zyx[0], zyx[1], zyx[2]))
                .copied()
                .unwrap_or(false);
            cells[(a + 1) * dims[1] + b + 1] = inside;
        }
    }
    Ok((PaddedPlane { cells, dims }, spacing))
}

/// Perimeter and surface of the marching-squares contour.
///
/// PyRadiomics' docs: `P = Σ |a_i b_i|` over the contour segments and
/// `A = ½ Σ O a_i × O b_i`, the signed areas of the triangles between the origin and each segment.
fn contour_perimeter_surface(plane: &PaddedPlane, spacing: [f64; 2]) -> (f64, f64) {
    let [na, nb] = plane.dims;
    let mut perimeter = 0.0;
    let mut surface = 0.0;
    for ia in 0..na - 1 {
        for ib in 0..nb - 1 {
            let mut case = 0_usize;
            for (bit, c) in SQUARE_CORNERS.iter().enumerate() {
                if plane.at(ia + c[0], ib + c[1]) {
                    case |= 1 << bit;
                }
            }
            let origin = [ia as f64, ib as f64];
            for seg in SQUARE_SEGMENTS[case] {
                let [p, q] = seg.map(|e| {
                    let m = SQUARE_EDGE_MIDPOINTS[usize::from(e)];
                    [
                        (origin[0] + m[0]) * spacing[0],
                        (origin[1] + m[1]) * spacing[1],
                    ]
                });
                surface += p[0] * q[1] - q[0] * p[1];
                let (d0, d1) = (p[0] - q[0], p[1] - q[1]);
                perimeter += (d0 * d0 + d1 * d1).sqrt();
            }
        }
    }
    (perimeter, surface / 2.0)
}

/// All shape2D features of the single-slice ROI, in [`FEATURES`] order; `Err` (one line) when
/// `force_2d_dimension` is not 0–2 or the mask (its bounding box) is thicker than one voxel along
/// it. An empty mask gives zeros and `NaN`s.
pub fn compute(roi: &Roi, force_2d_dimension: usize) -> Result<ClassValues, String> {
    let (plane, spacing) = plane(roi, force_2d_dimension)?;
    let (perimeter, surface) = contour_perimeter_surface(&plane, spacing);
    let diameter = max_sq_distance_all(&plane.contour_vertices(), spacing).sqrt();
    let pixels = plane.pixels();
    let [minor, major] = coordinate_eigenvalues(&pixels, spacing);
    let pixel_surface = pixels.len() as f64 * (spacing[1] * spacing[0]);
    // Sphericity = 2 sqrt(π A) / P.
    let sphericity = (2.0 * (std::f64::consts::PI * surface).sqrt()) / perimeter;
    let axis_length = |lambda: f64| {
        if lambda < 0.0 {
            f64::NAN
        } else {
            lambda.sqrt() * 4.0
        }
    };

    Ok(FEATURES
        .iter()
        .map(|f| {
            let value = match f.name {
                "Elongation" => {
                    if minor < 0.0 || major < 0.0 {
                        f64::NAN
                    } else {
                        (minor / major).sqrt()
                    }
                }
                "MajorAxisLength" => axis_length(major),
                "MaximumDiameter" => diameter,
                "MeshSurface" => surface,
                "MinorAxisLength" => axis_length(minor),
                "Perimeter" => perimeter,
                "PerimeterSurfaceRatio" => perimeter / surface,
                "PixelSurface" => pixel_surface,
                // Spherical disproportion = 1 / sphericity.
                "SphericalDisproportion" => 1.0 / sphericity,
                _ => sphericity,
            };
            (f.name, value)
        })
        .collect())
}

#[cfg(test)]
// PyRadiomics' values are pasted exactly as it prints them.
#[allow(clippy::unreadable_literal)]
mod tests {
    use super::*;

    /// 1e-6 relative, 1e-9 absolute near 0.
    fn assert_close(name: &str, got: f64, want: f64) {
        let ok = if want.abs() < 1e-9 {
            (got - want).abs() < 1e-9
        } else {
            ((got - want) / want).abs() < 1e-6
        };
        assert!(ok, "{name}: got {got}, want {want}");
    }

    fn value(values: &ClassValues, name: &str) -> f64 {
        values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, v)| v)
            .expect(name)
    }

    fn roi(inside: Vec<bool>, dims: [usize; 3], spacing_mm: [f64; 3]) -> Roi {
        Roi {
            values: vec![0.0; inside.len()],
            inside,
            dims,
            spacing_mm,
        }
    }

    #[test]
    fn feature_list_is_pyradiomics() {
        assert_eq!(FEATURES.len(), 10);
        let deprecated: Vec<_> = FEATURES
            .iter()
            .filter(|f| f.deprecated)
            .map(|f| f.name)
            .collect();
        assert_eq!(deprecated, ["SphericalDisproportion"]);
    }

    /// One pixel, spacing (a, b): marching squares gives the diamond through the four edge
    /// midpoints: area ab/2, perimeter 4·sqrt((a/2)² + (b/2)²), diameter max(a, b).
    #[test]
    fn single_pixel_is_a_diamond() {
        let (a, b) = (0.7, 1.9);
        let got = compute(&roi(vec![true], [1, 1, 1], [5.0, a, b]), 0).expect("2D");
        let area = a * b / 2.0;
        let perimeter = 4.0 * ((a / 2.0).powi(2) + (b / 2.0).powi(2)).sqrt();
        assert_close("MeshSurface", value(&got, "MeshSurface"), area);
        assert_close("PixelSurface", value(&got, "PixelSurface"), a * b);
        assert_close("Perimeter", value(&got, "Perimeter"), perimeter);
        assert_close(
            "PerimeterSurfaceRatio",
            value(&got, "PerimeterSurfaceRatio"),
            perimeter / area,
        );
        assert_close("MaximumDiameter", value(&got, "MaximumDiameter"), b);
        let sphericity = 2.0 * (std::f64::consts::PI * area).sqrt() / perimeter;
        assert_close("Sphericity", value(&got, "Sphericity"), sphericity);
        assert_close(
            "SphericalDisproportion",
            value(&got, "SphericalDisproportion"),
            1.0 / sphericity,
        );
        assert_close("MajorAxisLength", value(&got, "MajorAxisLength"), 0.0);
    }

    /// A 2×2 square filling its box, unit spacing: the octagon with 4 sides 1 and 4 of √½,
    /// area 4 − 4·⅛ = 3.5, vertices (±1, ±½), (±½, ±1) about the centre → diameter √5;
    /// pixel coordinates {0, 1}²: variance ¼ per axis → axes 2.
    #[test]
    fn two_square_by_hand() {
        let got = compute(&roi(vec![true; 4], [2, 1, 2], [1.0; 3]), 1).expect("2D");
        assert_close("MeshSurface", value(&got, "MeshSurface"), 3.5);
        assert_close(
            "Perimeter",
            value(&got, "Perimeter"),
            4.0 + 2.0 * 2.0_f64.sqrt(),
        );
        assert_close(
            "MaximumDiameter",
            value(&got, "MaximumDiameter"),
            5.0_f64.sqrt(),
        );
        assert_close("MajorAxisLength", value(&got, "MajorAxisLength"), 2.0);
        assert_close("MinorAxisLength", value(&got, "MinorAxisLength"), 2.0);
        assert_close("Elongation", value(&got, "Elongation"), 1.0);
    }

    /// The 9×8 slice mask (y, x row-major, one row per line).
    const MASK_2D: &str = "
        11011110 00011100 00101110 11111111 10101011 10111111 11011101 10111111 10110110";

    /// PyRadiomics 3.1.4: the second `extract` of the script in the docs of `shape`'s tests
    /// (`plane`, spacing (z, y, x) = (2.5, 0.7, 0.8),
    /// `RadiomicsFeatureExtractor(binWidth=1, force2D=True, force2Ddimension=0)`, every shape2D
    /// feature). Three of its squares are the ambiguous diagonal configurations.
    const WANT_2D: [(&str, f64); 10] = [
        ("Elongation", 0.9932005182499389),
        ("MajorAxisLength", 7.022289711777713),
        ("MaximumDiameter", 8.060397012554654),
        ("MeshSurface", 28.839999999999996),
        ("MinorAxisLength", 6.974541781038839),
        ("Perimeter", 43.838379113110065),
        ("PerimeterSurfaceRatio", 1.5200547542687264),
        ("PixelSurface", 28.56),
        ("SphericalDisproportion", 2.30277723845161),
        ("Sphericity", 0.4342582440463938),
    ];

    fn slice_mask() -> Vec<bool> {
        MASK_2D
            .chars()
            .filter(char::is_ascii_digit)
            .map(|c| c == '1')
            .collect()
    }

    #[test]
    fn matches_pyradiomics_on_irregular_slice() {
        let got = compute(&roi(slice_mask(), [1, 9, 8], [2.5, 0.7, 0.8]), 0).expect("2D");
        assert_eq!(got.len(), WANT_2D.len());
        for ((name, g), (wname, w)) in got.iter().zip(WANT_2D) {
            assert_eq!(*name, wname);
            assert_close(name, *g, w);
        }
    }

    /// The same slice lying in a y plane of a thicker box (force2Ddimension = 1, kept axes z, x)
    /// gives the same values: the margin is cropped, the right axes and spacings are kept.
    #[test]
    fn other_dimension_and_margin() {
        let src = slice_mask();
        let dims = [9, 3, 8];
        let mut inside = vec![false; 9 * 3 * 8];
        for a in 0..9 {
            for b in 0..8 {
                inside[(a * 3 + 1) * 8 + b] = src[a * 8 + b];
            }
        }
        let got = compute(&roi(inside, dims, [0.7, 2.5, 0.8]), 1).expect("2D");
        for ((name, g), (_, w)) in got.iter().zip(WANT_2D) {
            assert_close(name, *g, w);
        }
    }

    #[test]
    fn refuses_thick_masks_and_bad_dimensions() {
        let thick = roi(vec![true; 8], [2, 2, 2], [1.0; 3]);
        for d in 0..3 {
            let err = compute(&thick, d).expect_err("thick");
            assert!(!err.contains('\n') && err.contains("more than 1"), "{err}");
        }
        assert!(compute(&roi(vec![true], [1, 1, 1], [1.0; 3]), 3).is_err());
        // Empty mask: no panic, zero surface.
        let empty = compute(&roi(vec![false; 4], [1, 2, 2], [1.0; 3]), 0).expect("empty");
        assert_close("MeshSurface", value(&empty, "MeshSurface"), 0.0);
    }
}
