//! PyRadiomics' `shape` class (3D shape features): the marching-cubes mesh of the mask (mesh
//! volume, surface area, maximum diameters over the mesh vertices) and the principal axes of the
//! mask's voxel coordinates (axis lengths, elongation, flatness).
//!
//! As in PyRadiomics, the mask is cropped to its bounding box and padded with one voxel of
//! background on every side before marching cubes, so a mask touching its box still gives a
//! closed surface, and vertices sit at the midpoints of edges between an inside and an outside
//! voxel. The shape class uses the
//! region before resegmentation (`roi.inside` as the caller hands it over) and ignores the values.

use super::marching::{
    CUBE_CORNERS, CUBE_EDGE_MIDPOINTS, CUBE_TRIANGLES, HalfPoint, coordinate_eigenvalues,
    inside_bounding_box, max_sq_distance_all, max_sq_distance_in_planes,
};
use super::types::{ClassValues, FeatureDef, Roi};

const fn feature(name: &'static str, deprecated: bool) -> FeatureDef {
    FeatureDef { name, deprecated }
}

/// The class's features, in PyRadiomics' (alphabetical) order.
pub const FEATURES: &[FeatureDef] = &[
    feature("Compactness1", true),
    feature("Compactness2", true),
    feature("Elongation", false),
    feature("Flatness", false),
    feature("LeastAxisLength", false),
    feature("MajorAxisLength", false),
    feature("Maximum2DDiameterColumn", false),
    feature("Maximum2DDiameterRow", false),
    feature("Maximum2DDiameterSlice", false),
    feature("Maximum3DDiameter", false),
    feature("MeshVolume", false),
    feature("MinorAxisLength", false),
    feature("SphericalDisproportion", true),
    feature("Sphericity", false),
    feature("SurfaceArea", false),
    feature("SurfaceVolumeRatio", false),
    feature("VoxelVolume", false),
];

/// The mask padded with one background voxel on every side (PyRadiomics'
/// `ConstantPadImageFilter`), `[z, y, x]` row-major.
struct PaddedMask {
    cells: Vec<bool>,
    dims: [usize; 3],
}

impl PaddedMask {
    /// The mask cropped to its bounding box (as PyRadiomics crops) and padded.
    fn new(roi: &Roi) -> Self {
        let Some((lo, hi)) = inside_bounding_box(roi) else {
            return Self {
                cells: vec![false; 8],
                dims: [2, 2, 2],
            };
        };
        let box_dims: [usize; 3] = std::array::from_fn(|d| hi[d] - lo[d]);
        let dims = box_dims.map(|n| n + 2);
        let mut cells = vec![false; dims[0] * dims[1] * dims[2]];
        for z in 0..box_dims[0] {
            for y in 0..box_dims[1] {
                for x in 0..box_dims[2] {
                    // A short `inside` (malformed ROI) reads as background rather than panicking.
                    let i = roi.index(z + lo[0], y + lo[1], x + lo[2]);
                    if roi.inside.get(i).copied().unwrap_or(false) {
                        cells[((z + 1) * dims[1] + y + 1) * dims[2] + x + 1] = true;
                    }
                }
            }
        }
        Self { cells, dims }
    }

    fn at(&self, z: usize, y: usize, x: usize) -> bool {
        self.cells[(z * self.dims[1] + y) * self.dims[2] + x]
    }

    /// Coordinates (padded grid) of the voxels inside.
    fn voxels(&self) -> Vec<[usize; 3]> {
        let [nz, ny, nx] = self.dims;
        let mut out = Vec::new();
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    if self.at(z, y, x) {
                        out.push([z, y, x]);
                    }
                }
            }
        }
        out
    }

    /// Mesh vertices: midpoints of every grid edge joining an inside and an outside voxel, each
    /// once (PyRadiomics stores exactly these, one per edge, for the diameter search).
    fn mesh_vertices(&self) -> Vec<HalfPoint<3>> {
        let [nz, ny, nx] = self.dims;
        let mut out = Vec::new();
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    let here = self.at(z, y, x);
                    let h = [2 * z as i64, 2 * y as i64, 2 * x as i64];
                    if z + 1 < nz && self.at(z + 1, y, x) != here {
                        out.push([h[0] + 1, h[1], h[2]]);
                    }
                    if y + 1 < ny && self.at(z, y + 1, x) != here {
                        out.push([h[0], h[1] + 1, h[2]]);
                    }
                    if x + 1 < nx && self.at(z, y, x + 1) != here {
                        out.push([h[0], h[1], h[2] + 1]);
                    }
                }
            }
        }
        out
    }
}

/// Surface area and volume of the marching-cubes mesh.
///
/// PyRadiomics' docs: `A = Σ ½ |a_i b_i × a_i c_i|` over the mesh triangles and
/// `V = Σ (O a_i · (O b_i × O c_i)) / 6`, the signed volumes of the tetrahedra between the
/// origin and each triangle.
fn mesh_area_volume(mask: &PaddedMask, spacing: [f64; 3]) -> (f64, f64) {
    let [nz, ny, nx] = mask.dims;
    let mut area = 0.0;
    let mut volume = 0.0;
    for iz in 0..nz - 1 {
        for iy in 0..ny - 1 {
            for ix in 0..nx - 1 {
                let mut case = 0_usize;
                for (bit, c) in CUBE_CORNERS.iter().enumerate() {
                    if mask.at(iz + c[0], iy + c[1], ix + c[2]) {
                        case |= 1 << bit;
                    }
                }
                // Corner 7 inside: the complement's triangles with the volume sign flipped.
                let (case, sign) = if case & 0x80 != 0 {
                    (case ^ 0xff, -1.0)
                } else {
                    (case, 1.0)
                };
                if case == 0 {
                    continue;
                }
                let origin = [iz as f64, iy as f64, ix as f64];
                for tri in CUBE_TRIANGLES[case] {
                    let [a, b, c] = tri.map(|e| {
                        let m = CUBE_EDGE_MIDPOINTS[usize::from(e)];
                        std::array::from_fn::<f64, 3, _>(|d| (origin[d] + m[d]) * spacing[d])
                    });
                    volume += sign * dot(cross(a, b), c);
                    let ac = sub(a, c);
                    let bc = sub(b, c);
                    let n = cross(ac, bc);
                    area += 0.5 * (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
                }
            }
        }
    }
    (area, volume / 6.0)
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - b[1] * a[2],
        a[2] * b[0] - b[2] * a[0],
        a[0] * b[1] - b[0] * a[1],
    ]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// `sqrt(λ) × 4`, `NaN` for a negative eigenvalue (PyRadiomics warns and returns `NaN`).
fn axis_length(lambda: f64) -> f64 {
    if lambda < 0.0 {
        f64::NAN
    } else {
        lambda.sqrt() * 4.0
    }
}

/// `sqrt(λ_small / λ_large)`, `NaN` if either is negative.
fn axis_ratio(small: f64, large: f64) -> f64 {
    if small < 0.0 || large < 0.0 {
        f64::NAN
    } else {
        (small / large).sqrt()
    }
}

/// All shape features of `roi.inside` (spacing `roi.spacing_mm`), in [`FEATURES`] order.
///
/// Never panics; an empty mask gives zero volumes, areas and diameters and `NaN` for the ratios
/// and axes (PyRadiomics refuses empty masks before it gets here).
#[must_use]
pub fn compute(roi: &Roi) -> ClassValues {
    let spacing = roi.spacing_mm;
    let mask = PaddedMask::new(roi);
    let (area, volume) = mesh_area_volume(&mask, spacing);

    let vertices = mask.mesh_vertices();
    let diameter_3d = max_sq_distance_all(&vertices, spacing).sqrt();
    let [slice, column, row] =
        [0, 1, 2].map(|axis| max_sq_distance_in_planes(&vertices, axis, spacing).sqrt());

    let voxels = mask.voxels();
    // λ_least ≤ λ_minor ≤ λ_major.
    let [least, minor, major] = coordinate_eigenvalues(&voxels, spacing);
    let voxel_volume = voxels.len() as f64 * (spacing[0] * spacing[2] * spacing[1]);
    let sphere = (36.0 * std::f64::consts::PI * volume * volume).powf(1.0 / 3.0);

    FEATURES
        .iter()
        .map(|f| {
            let value = match f.name {
                // Compactness 1 = V / (sqrt(π) A^(3/2)).
                "Compactness1" => volume / (area.powf(1.5) * std::f64::consts::PI.sqrt()),
                // Compactness 2 = 36 π V² / A³.
                "Compactness2" => (36.0 * std::f64::consts::PI) * volume.powi(2) / area.powi(3),
                "Elongation" => axis_ratio(minor, major),
                "Flatness" => axis_ratio(least, major),
                "LeastAxisLength" => axis_length(least),
                "MajorAxisLength" => axis_length(major),
                "Maximum2DDiameterColumn" => column,
                "Maximum2DDiameterRow" => row,
                "Maximum2DDiameterSlice" => slice,
                "Maximum3DDiameter" => diameter_3d,
                "MeshVolume" => volume,
                "MinorAxisLength" => axis_length(minor),
                // Spherical disproportion = A / (36 π V²)^(1/3).
                "SphericalDisproportion" => area / sphere,
                // Sphericity = (36 π V²)^(1/3) / A.
                "Sphericity" => sphere / area,
                "SurfaceArea" => area,
                "SurfaceVolumeRatio" => area / volume,
                // Voxel volume = Np × V_voxel.
                _ => voxel_volume,
            };
            (f.name, value)
        })
        .collect()
}

#[cfg(test)]
// PyRadiomics' values are pasted exactly as it prints them.
#[allow(clippy::unreadable_literal)]
mod tests {
    //! The PyRadiomics values here and in the firstorder and shape2D tests come from this script
    //! (`/work/pyref/bin/python ref.py`; PyRadiomics 3.1.4, numpy 2.4.6, SimpleITK spacing is
    //! x, y, z); the masks and values pasted below are `mask`, `values` and `plane` of it:
    //!
    //! ```text
    //!     import logging
    //!     import numpy as np, SimpleITK as sitk
    //!     from radiomics import featureextractor, getFeatureClasses
    //!     logging.getLogger('radiomics').setLevel(logging.ERROR)
    //!
    //!     def extract(values, mask, classes, **settings):
    //!         im = sitk.GetImageFromArray(values.astype(np.float64)); im.SetSpacing((0.8, 0.7, 2.5))
    //!         mk = sitk.GetImageFromArray(mask.astype(np.uint8)); mk.CopyInformation(im)
    //!         ex = featureextractor.RadiomicsFeatureExtractor(binWidth=1, **settings)
    //!         ex.disableAllFeatures()  # then every feature of `classes`, deprecated ones included
    //!         names = {c: list(getFeatureClasses()[c].getFeatureNames()) for c in classes}
    //!         ex.enableFeaturesByName(**names)
    //!         return {k: float(v) for k, v in ex.execute(im, mk).items() if k.startswith('original_')}
    //!
    //!     rng = np.random.default_rng(20260602)
    //!     mask = rng.random((6, 9, 8)) < 0.55
    //!     values = rng.integers(0, 10, (6, 9, 8))
    //!     print(extract(values, mask, ['firstorder', 'shape'], voxelArrayShift=3))
    //!     plane = rng.random((1, 9, 8)) < 0.6
    //!     plane[0, 0, 3] = plane[0, 8, 2] = plane[0, 4, 0] = plane[0, 5, 7] = True  # box = whole slice
    //!     print(extract(values[:1], plane, ['shape2D'], force2D=True, force2Ddimension=0))
    //! ```
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
        assert_eq!(FEATURES.len(), 17);
        let deprecated: Vec<_> = FEATURES
            .iter()
            .filter(|f| f.deprecated)
            .map(|f| f.name)
            .collect();
        assert_eq!(
            deprecated,
            ["Compactness1", "Compactness2", "SphericalDisproportion"]
        );
    }

    /// One voxel, spacing (a, b, c) = (2, 0.5, 1.25). Padded, marching cubes gives the
    /// octahedron with vertices at the six face centres (±a/2, ±b/2, ±c/2 on the axes): eight
    /// triangles of area ½·sqrt((ab)² + (bc)² + (ca)²)/4, volume abc/6. Diameters: opposite
    /// vertices (the longest spacing) in 3D; in the z = 0 plane the four equatorial vertices.
    #[test]
    fn single_voxel_is_an_octahedron() {
        let (a, b, c) = (2.0, 0.5, 1.25);
        let got = compute(&roi(vec![true], [1, 1, 1], [a, b, c]));
        let (ha, hb, hc) = (a / 2.0, b / 2.0, c / 2.0);
        let area = 4.0 * ((ha * hb).powi(2) + (hb * hc).powi(2) + (ha * hc).powi(2)).sqrt();
        let volume = a * b * c / 6.0;
        assert_close("SurfaceArea", value(&got, "SurfaceArea"), area);
        assert_close("MeshVolume", value(&got, "MeshVolume"), volume);
        assert_close("VoxelVolume", value(&got, "VoxelVolume"), a * b * c);
        assert_close(
            "SurfaceVolumeRatio",
            value(&got, "SurfaceVolumeRatio"),
            area / volume,
        );
        assert_close("Maximum3DDiameter", value(&got, "Maximum3DDiameter"), a);
        assert_close(
            "Maximum2DDiameterSlice",
            value(&got, "Maximum2DDiameterSlice"),
            c,
        );
        assert_close(
            "Maximum2DDiameterColumn",
            value(&got, "Maximum2DDiameterColumn"),
            a,
        );
        assert_close(
            "Maximum2DDiameterRow",
            value(&got, "Maximum2DDiameterRow"),
            a,
        );
        // One voxel: zero covariance, so zero axes and 0/0 ratios (NaN, as numpy gives).
        assert_close("MajorAxisLength", value(&got, "MajorAxisLength"), 0.0);
        assert_close("LeastAxisLength", value(&got, "LeastAxisLength"), 0.0);
        assert!(value(&got, "Elongation").is_nan());
    }

    /// A 2×2×2 block filling its box (so only the padding closes the mesh), unit spacing. The
    /// mesh: 6 unit squares on the faces, 12 rectangles 1 × √½ along the edges, 8 equilateral
    /// triangles of side √½ at the corners → A = 6 + 6√2 + √3. Volume per cube: the inner cube 1,
    /// 6 face cubes ½, 12 edge cubes ⅛, 8 corner cubes 1/48 → 17/3. Vertices (±1, ±½, ±½) and
    /// permutations about the centre: 3D diameter √6, in-plane √5. Voxel coordinates {0, 1}³:
    /// variance ¼ on each axis → all axes 4·½ = 2.
    #[test]
    fn two_cube_by_hand() {
        let got = compute(&roi(vec![true; 8], [2, 2, 2], [1.0; 3]));
        let area = 6.0 + 6.0 * 2.0_f64.sqrt() + 3.0_f64.sqrt();
        let volume = 17.0 / 3.0;
        assert_close("SurfaceArea", value(&got, "SurfaceArea"), area);
        assert_close("MeshVolume", value(&got, "MeshVolume"), volume);
        assert_close("VoxelVolume", value(&got, "VoxelVolume"), 8.0);
        assert_close(
            "Maximum3DDiameter",
            value(&got, "Maximum3DDiameter"),
            6.0_f64.sqrt(),
        );
        for name in [
            "Maximum2DDiameterSlice",
            "Maximum2DDiameterColumn",
            "Maximum2DDiameterRow",
        ] {
            assert_close(name, value(&got, name), 5.0_f64.sqrt());
        }
        for name in ["MajorAxisLength", "MinorAxisLength", "LeastAxisLength"] {
            assert_close(name, value(&got, name), 2.0);
        }
        assert_close("Elongation", value(&got, "Elongation"), 1.0);
        assert_close("Flatness", value(&got, "Flatness"), 1.0);
        let sphere = (36.0 * std::f64::consts::PI * volume * volume).cbrt();
        assert_close("Sphericity", value(&got, "Sphericity"), sphere / area);
        assert_close(
            "SphericalDisproportion",
            value(&got, "SphericalDisproportion"),
            area / sphere,
        );
        assert_close(
            "Compactness1",
            value(&got, "Compactness1"),
            volume / (area.powf(1.5) * std::f64::consts::PI.sqrt()),
        );
        assert_close(
            "Compactness2",
            value(&got, "Compactness2"),
            36.0 * std::f64::consts::PI * volume * volume / area.powi(3),
        );
    }

    /// The 6×9×8 mask (z, y, x row-major, one z slice per line).
    const MASK_3D: &str = "
    011101001011000011101011010011110101110101000111000001010110010111110101
    000111011110001111100001001101110000001011010101111011100101110110111111
    000011110011000010100110101111001001101001101110101101110110111111010110
    000101010101100011000000001001111111001010011001101000110000110111010000
    000001111010100100110010010100000110110101001101110001110111000110110010
    111000101110100011010110110011010011101111011100100111010111010010111110";

    fn irregular(spacing: [f64; 3]) -> Roi {
        let inside: Vec<bool> = MASK_3D
            .chars()
            .filter(char::is_ascii_digit)
            .map(|c| c == '1')
            .collect();
        roi(inside, [6, 9, 8], spacing)
    }

    /// PyRadiomics 3.1.4 on the mask above, spacing (z, y, x) = (2.5, 0.7, 0.8): the first
    /// `extract` of the script in this module's docs, every shape feature (deprecated included). The mask touches all six faces of its box
    /// (so the padding matters), and its cubes use 123 of the 127 non-empty table entries, 230 of
    /// them through the complement (volume sign flip).
    #[test]
    fn matches_pyradiomics_on_irregular_mask() {
        let got = compute(&irregular([2.5, 0.7, 0.8]));
        let want = [
            ("Compactness1", 0.00679244534631529),
            ("Compactness2", 0.016392853265903336),
            ("Elongation", 0.4214289864159185),
            ("Flatness", 0.4114915221310139),
            ("LeastAxisLength", 7.189367295034878),
            ("MajorAxisLength", 17.471483392423018),
            ("Maximum2DDiameterColumn", 16.011246047700347),
            ("Maximum2DDiameterRow", 16.011246047700347),
            ("Maximum2DDiameterSlice", 8.50411665018772),
            ("Maximum3DDiameter", 16.962311163281967),
            ("MeshVolume", 281.4583333333334),
            ("MinorAxisLength", 7.362989537251386),
            ("SphericalDisproportion", 3.9365443576140837),
            ("Sphericity", 0.2540299077453033),
            ("SurfaceArea", 817.6021316629485),
            ("SurfaceVolumeRatio", 2.904878039957181),
            ("VoxelVolume", 322.0),
        ];
        assert_eq!(got.len(), want.len());
        for ((name, g), (wname, w)) in got.iter().zip(want) {
            assert_eq!(*name, wname);
            assert_close(name, *g, w);
        }
    }

    /// A margin around the mask must not change anything: the mask is cropped to its bounding box
    /// first, as PyRadiomics crops. (Without the crop MeshVolume would change, here by ~3 %:
    /// PyRadiomics' mesh is not closed where an ambiguous face is split differently by a cube and
    /// its complemented neighbour, so its signed-tetrahedra sum depends on the grid origin;
    /// `cShape.calculate_coefficients` on this mask padded by (2, 1, 4) voxels more gives a
    /// different volume, same area.)
    #[test]
    fn margin_around_the_mask_changes_nothing() {
        let base = irregular([1.3, 0.9, 2.1]);
        let reference = compute(&base);
        let [nz, ny, nx] = base.dims;
        let big = [nz + 3, ny + 2, nx + 5];
        let mut inside = vec![false; big[0] * big[1] * big[2]];
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    inside[((z + 2) * big[1] + y + 1) * big[2] + x + 4] =
                        base.inside[base.index(z, y, x)];
                }
            }
        }
        let moved = compute(&roi(inside, big, base.spacing_mm));
        for ((name, a), (_, b)) in reference.iter().zip(&moved) {
            assert_close(name, *b, *a);
        }
        assert!(value(&reference, "MeshVolume") > 0.0);
    }

    #[test]
    fn empty_and_degenerate_masks_do_not_panic() {
        let empty = compute(&roi(vec![false; 12], [2, 3, 2], [1.0; 3]));
        assert_eq!(empty.len(), FEATURES.len());
        assert_close("MeshVolume", value(&empty, "MeshVolume"), 0.0);
        assert_close("Maximum3DDiameter", value(&empty, "Maximum3DDiameter"), 0.0);
        assert_eq!(
            compute(&roi(vec![], [0, 0, 0], [1.0; 3])).len(),
            FEATURES.len()
        );
        // `inside` shorter than the box: the missing voxels read as background.
        let short = compute(&roi(vec![true], [2, 2, 2], [1.0; 3]));
        assert_close("VoxelVolume", value(&short, "VoxelVolume"), 1.0);
    }
}
