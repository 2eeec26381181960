//! Tests of the NIfTI reader: real files from `shared/data` (read-only), hand-built headers for
//! each datatype/geometry/refusal, and garbage that must be refused without a panic.

// Exact: integer voxel values must come back bit-identical.
#![allow(clippy::float_cmp)]

use std::io::Write;
use std::path::{Path, PathBuf};

use super::*;
use crate::imaging::grid::Grid;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel)
}

fn close(a: [f64; 3], b: [f64; 3], tol: f64) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

/// `Σ value · ((flat index mod 9973) + 1)` over a `[z, y, x]` array: an order-sensitive checksum.
fn weighted_sum(values: &[f64]) -> f64 {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| v * ((i % 9973) + 1) as f64)
        .sum()
}

/// The 4-slice JPEG-lossless MR series as radlens' DICOM loader places it, hard-coded from its
/// headers. Obtained with `/work/pyref/bin/python` + pydicom 3: for each `IM-0001-000N-0001.dcm`,
/// ImageOrientationPatient = [0, 1, 0, 0, 0, -1], PixelSpacing = [1, 1], Rows = Columns = 256,
/// ImagePositionPatient x = -103.79415804148 (N=1), -102.79… (2), -101.79… (3), -100.79415804148
/// (4), y = -161.07467269897, z = 130.05125403404. The normal row × col is (-1, 0, 0); sorting by
/// position along it (as `dicom::series` does) puts N=4 first, so the origin is file 4's
/// position, slices step 1 mm along (-1, 0, 0).
fn dicom_4sl_grid() -> Grid {
    Grid {
        dims: [4, 256, 256],
        spacing_mm: [1.0, 1.0, 1.0],
        origin_mm: [-100.794_158_041_48, -161.074_672_698_97, 130.051_254_034_04],
        row_direction: [0.0, 1.0, 0.0],
        col_direction: [0.0, 0.0, -1.0],
        slice_direction: [-1.0, 0.0, 0.0],
    }
}

#[test]
fn dicom2nifti_volume_maps_onto_its_dicom_series() {
    let path = data("dicom/series/mr_4sl_jpeg_lossless_dicom2nifti/001_ground_truth.nii.gz");
    let image = read(&path).unwrap();
    // sform (code 2) in RAS: x = −k + 103.794, y = −i + 161.075, z = −j + 130.051, so in LPS
    // i runs +y, j runs −z, k runs +x from file 1's position: the slice axis is reversed.
    assert_eq!(image.grid.dims, [4, 256, 256]);
    assert!(close(image.grid.spacing_mm, [1.0; 3], 1e-6));
    assert!(close(
        image.grid.origin_mm,
        [-103.794_158, -161.074_677, 130.051_254],
        1e-5
    ));
    assert!(close(image.grid.row_direction, [0.0, 1.0, 0.0], 1e-9));
    assert!(close(image.grid.col_direction, [0.0, 0.0, -1.0], 1e-9));
    assert!(close(image.grid.slice_direction, [1.0, 0.0, 0.0], 1e-9));
    assert!(image.warnings.is_empty(), "{:?}", image.warnings);

    let dicom = dicom_4sl_grid();
    let map = dicom.mapping_from(&image.grid).unwrap();
    assert_eq!(map.source_axis(), [0, 1, 2]);
    assert_eq!(map.flipped(), [true, false, false]);
    let on_dicom = map.try_apply(&image.values).unwrap();

    // DICOM pixel values at [slice, row, col] of the position-sorted series. pydicom cannot
    // decode JPEG lossless in /work/pyref (no gdcm/pylibjpeg), so they come from SimpleITK
    // (GDCM) reading each file on its own:
    //   vol = np.stack([sitk.GetArrayFromImage(sitk.ReadImage(f))[0] for f in files_sorted])
    // with files sorted by ImagePositionPatient · (-1, 0, 0); `vol[z, y, x]`, uint16.
    // The "reversed" column is vol[3 - z, y, x]: what an unmapped read would wrongly give.
    let expected = [
        ([0, 128, 128], 181.0, 107.0),
        ([1, 100, 37], 64.0, 89.0),
        ([2, 200, 150], 40.0, 162.0),
        ([3, 60, 190], 237.0, 241.0),
        ([2, 77, 201], 135.0, 84.0),
        ([0, 0, 0], 12.0, f64::NAN),
        ([3, 255, 255], 173.0, f64::NAN),
    ];
    let flat = |[z, y, x]: [usize; 3]| (z * 256 + y) * 256 + x;
    for (at, value, reversed) in expected {
        assert_eq!(on_dicom[flat(at)], value, "at {at:?}");
        if !reversed.is_nan() {
            assert_eq!(
                image.values[flat(at)],
                reversed,
                "raw NIfTI order at {at:?}"
            );
        }
    }
    // Whole volume: vol.sum() and Σ vol · ((flat mod 9973) + 1) from the same SimpleITK stack.
    assert_eq!(on_dicom.iter().sum::<f64>(), 33_304_746.0);
    assert_eq!(weighted_sum(&on_dicom), 164_848_887_892.0);
}

#[test]
fn canonical_ras_copy_maps_onto_the_dicom_series_by_permutation() {
    // The same volume stored as nibabel's closest canonical (RAS) orientation, where the DICOM
    // slice axis (patient x) becomes the NIfTI i axis. nibabel 5:
    //   c = nib.as_closest_canonical(nib.load(".../001_ground_truth.nii.gz"))
    //   c.affine = [[1, 0, 0, 100.7941589355], [0, 1, 0, -93.9253234863],
    //               [0, 0, 1, -124.9487457275]], c.shape = (4, 256, 256),
    //   np.array_equal(c.dataobj, a[255 - J, 255 - K, 3 - I]) with I, J, K the canonical
    //   indices and a the original data (axis codes P, I, L → R, A, S).
    let original = read(&data(
        "dicom/series/mr_4sl_jpeg_lossless_dicom2nifti/001_ground_truth.nii.gz",
    ))
    .unwrap();
    let a = |i: usize, j: usize, k: usize| original.values[(k * 256 + j) * 256 + i];
    let mut bytes = Vec::with_capacity(4 * 256 * 256 * 2);
    for kc in 0..256 {
        for jc in 0..256 {
            for ic in 0..4 {
                let v = a(255 - jc, 255 - kc, 3 - ic) as u16;
                bytes.extend(v.to_le_bytes());
            }
        }
    }
    let mut h = Hdr::new([4, 256, 256], 512, 16);
    h.pixdim = [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0];
    h.sform_code = 2;
    h.srow = [
        [1.0, 0.0, 0.0, 100.794_16],
        [0.0, 1.0, 0.0, -93.925_32],
        [0.0, 0.0, 1.0, -124.948_746],
    ];
    let dir = tempfile::tempdir().unwrap();
    let canonical = read(&write(&dir, "canonical.nii.gz", &h.file_bytes(&bytes))).unwrap();
    assert_eq!(canonical.grid.dims, [256, 256, 4]);
    let map = dicom_4sl_grid().mapping_from(&canonical.grid).unwrap();
    // DICOM slice (−x LPS = +x RAS) ← canonical i; DICOM row (−z) ← canonical k reversed;
    // DICOM column (+y LPS = −y RAS) ← canonical j reversed.
    assert_eq!(map.source_axis(), [2, 0, 1]);
    assert_eq!(map.flipped(), [false, true, true]);
    let on_dicom = map.apply(&canonical.values);
    // Same SimpleITK values and sums as in `dicom2nifti_volume_maps_onto_its_dicom_series`.
    let flat = |[z, y, x]: [usize; 3]| (z * 256 + y) * 256 + x;
    for (at, value) in [
        ([0, 128, 128], 181.0),
        ([1, 100, 37], 64.0),
        ([2, 200, 150], 40.0),
        ([3, 60, 190], 237.0),
        ([2, 77, 201], 135.0),
    ] {
        assert_eq!(on_dicom[flat(at)], value, "at {at:?}");
    }
    assert_eq!(weighted_sum(&on_dicom), 164_848_887_892.0);
}

#[test]
fn dcm2niix_qats_image_reads() {
    let image = read(&data("nifti/qats_ref_1.nii")).unwrap();
    // nibabel 5: dataobj int16 (64, 64, 35), scl_slope NaN (no scaling), sform_code 1; the
    // values below are `a.transpose(2, 1, 0)[z, y, x]`, the sums over that `[z, y, x]` array.
    assert_eq!(image.grid.dims, [35, 64, 64]);
    assert!(close(image.grid.spacing_mm, [3.6, 3.25, 3.25], 1e-5));
    // nibabel affine with rows 0 and 1 negated (RAS → LPS).
    assert!(close(
        image.grid.origin_mm,
        [-104.0, 58.684_311, -84.798_035],
        1e-4
    ));
    assert!(close(image.grid.row_direction, [1.0, 0.0, 0.0], 1e-6));
    assert!(close(
        image.grid.col_direction,
        [0.0, -3.230_990_65 / 3.25, 0.350_997_895 / 3.25],
        1e-6
    ));
    assert!(close(
        image.grid.slice_direction,
        [0.0, 0.388_797_671 / 3.6, 3.578_943_25 / 3.6],
        1e-6
    ));
    let flat = |[z, y, x]: [usize; 3]| (z * 64 + y) * 64 + x;
    for (at, v) in [
        ([0, 0, 0], 0.0),
        ([17, 32, 32], 1021.0),
        ([34, 63, 63], 14.0),
        ([10, 20, 45], 55.0),
        ([25, 40, 12], 70.0),
    ] {
        assert_eq!(image.values[flat(at)], v, "at {at:?}");
    }
    assert_eq!(image.values.iter().sum::<f64>(), 38_036_663.0);
    assert_eq!(weighted_sum(&image.values), 189_941_586_480.0);
    // The same file as labels is refused for nothing: its values are integers.
    assert_eq!(
        read_labels(&data("nifti/qats_ref_1.nii")).unwrap().0[flat([17, 32, 32])],
        1021
    );
}

/// A NIfTI-1 header built field by field (offsets from nifti1.h).
#[derive(Clone)]
struct Hdr {
    dim: [i16; 8],
    datatype: i16,
    bitpix: i16,
    pixdim: [f32; 8],
    vox_offset: f32,
    slope: f32,
    inter: f32,
    qform_code: i16,
    sform_code: i16,
    quatern: [f32; 6],
    srow: [[f32; 4]; 3],
    magic: [u8; 4],
    big_endian: bool,
}

impl Hdr {
    fn new(dims: [i16; 3], datatype: i16, bitpix: i16) -> Self {
        Hdr {
            dim: [3, dims[0], dims[1], dims[2], 1, 1, 1, 1],
            datatype,
            bitpix,
            pixdim: [1.0, 0.5, 0.75, 2.0, 0.0, 0.0, 0.0, 0.0],
            vox_offset: 352.0,
            slope: 0.0,
            inter: 0.0,
            qform_code: 0,
            sform_code: 1,
            quatern: [0.0; 6],
            // RAS: x = 0.5 i + 10, y = 0.75 j + 20, z = 2 k + 30.
            srow: [
                [0.5, 0.0, 0.0, 10.0],
                [0.0, 0.75, 0.0, 20.0],
                [0.0, 0.0, 2.0, 30.0],
            ],
            magic: *b"n+1\0",
            big_endian: false,
        }
    }

    fn header_bytes(&self) -> Vec<u8> {
        let mut b = vec![0_u8; 348];
        let be = self.big_endian;
        let mut put = |at: usize, bytes: &[u8]| b[at..at + bytes.len()].copy_from_slice(bytes);
        let i16b = |v: i16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let f32b = |v: f32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        put(
            0,
            &if be {
                348_i32.to_be_bytes()
            } else {
                348_i32.to_le_bytes()
            },
        );
        for (n, d) in self.dim.iter().enumerate() {
            put(40 + 2 * n, &i16b(*d));
        }
        put(70, &i16b(self.datatype));
        put(72, &i16b(self.bitpix));
        for (n, p) in self.pixdim.iter().enumerate() {
            put(76 + 4 * n, &f32b(*p));
        }
        put(108, &f32b(self.vox_offset));
        put(112, &f32b(self.slope));
        put(116, &f32b(self.inter));
        put(252, &i16b(self.qform_code));
        put(254, &i16b(self.sform_code));
        for (n, q) in self.quatern.iter().enumerate() {
            put(256 + 4 * n, &f32b(*q));
        }
        for (r, row) in self.srow.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                put(280 + 16 * r + 4 * c, &f32b(*v));
            }
        }
        put(344, &self.magic);
        b
    }

    /// Header, empty extender, zero padding up to vox_offset, then `voxels`.
    fn file_bytes(&self, voxels: &[u8]) -> Vec<u8> {
        let mut b = self.header_bytes();
        b.extend_from_slice(&[0; 4]);
        b.resize((self.vox_offset as usize).max(352), 0);
        b.extend_from_slice(voxels);
        b
    }
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    if Path::new(name).extension().is_some_and(|e| e == "gz") {
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap();
    } else {
        f.write_all(bytes).unwrap();
    }
    path
}

fn kind(r: Result<NiftiImage, NiftiError>) -> NiftiErrorKind {
    let e = r.unwrap_err();
    let text = e.to_string();
    assert!(!text.contains('\n'), "{text}");
    e.kind
}

#[test]
fn every_scalar_datatype_reads_in_both_byte_orders() {
    let dir = tempfile::tempdir().unwrap();
    let values = [0.0, 1.0, 7.0, 100.0, 3.0, 120.0];
    macro_rules! case {
        ($t:ty, $code:expr) => {
            for big in [false, true] {
                let mut h = Hdr::new([3, 2, 1], $code, (8 * std::mem::size_of::<$t>()) as i16);
                h.big_endian = big;
                let bytes: Vec<u8> = values
                    .iter()
                    .flat_map(|&v| {
                        let v = v as $t;
                        if big {
                            v.to_be_bytes().to_vec()
                        } else {
                            v.to_le_bytes().to_vec()
                        }
                    })
                    .collect();
                let p = write(
                    &dir,
                    &format!("t{}_{big}.nii", $code),
                    &h.file_bytes(&bytes),
                );
                let image = read(&p).unwrap();
                assert_eq!(image.values, values, "datatype {} big-endian {big}", $code);
                assert_eq!(image.grid.dims, [1, 2, 3]);
            }
        };
    }
    case!(u8, 2);
    case!(i16, 4);
    case!(i32, 8);
    case!(f32, 16);
    case!(f64, 64);
    case!(i8, 256);
    case!(u16, 512);
    case!(u32, 768);
    case!(i64, 1024);
    case!(u64, 1280);
}

#[test]
fn scaling_and_voxel_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Hdr::new([3, 2, 2], 4, 16);
    h.slope = 2.0;
    h.inter = -1.0;
    // Stored i fastest: value = 100 k + 10 j + i.
    let stored: Vec<u8> = (0..2)
        .flat_map(|k| (0..2).flat_map(move |j| (0..3).map(move |i| 100 * k + 10 * j + i)))
        .flat_map(|v: i16| v.to_le_bytes())
        .collect();
    let image = read(&write(&dir, "s.nii.gz", &h.file_bytes(&stored))).unwrap();
    // [z, y, x] = [k, j, i]: voxel [1, 0, 2] stored 102 → 2·102 − 1.
    assert_eq!(image.values[6 + 2], 203.0);
    assert_eq!(image.values[0], -1.0);
    // LPS: x and y negated.
    let g = &image.grid;
    assert_eq!(g.spacing_mm, [2.0, 0.75, 0.5]);
    assert!(close(g.origin_mm, [-10.0, -20.0, 30.0], 0.0));
    assert!(close(g.row_direction, [-1.0, 0.0, 0.0], 0.0));
    assert!(close(g.col_direction, [0.0, -1.0, 0.0], 0.0));
    assert!(close(g.slice_direction, [0.0, 0.0, 1.0], 0.0));
    // Slope 0 and NaN mean "no scaling".
    for slope in [0.0, f32::NAN] {
        h.slope = slope;
        let image = read(&write(&dir, "n.nii", &h.file_bytes(&stored))).unwrap();
        assert_eq!(image.values[8], 102.0);
    }
}

#[test]
fn padding_before_vox_offset_is_skipped() {
    // nifti 0.18's read_file would read the 16 padding bytes as voxels here.
    let dir = tempfile::tempdir().unwrap();
    let mut h = Hdr::new([2, 1, 1], 2, 8);
    h.vox_offset = 368.0;
    let mut bytes = h.file_bytes(&[7, 9]);
    bytes[352..368].fill(0xEE);
    let image = read(&write(&dir, "pad.nii", &bytes)).unwrap();
    assert_eq!(image.values, [7.0, 9.0]);
}

#[test]
fn qform_only_and_pixdim_only_geometry() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Hdr::new([2, 2, 2], 2, 8);
    h.sform_code = 0;
    h.qform_code = 1;
    // Quaternion (b, c, d) = (0, 0, 1): 180° about z, R = diag(−1, −1, 1) in RAS, i.e. the
    // identity in LPS. qfac −1 reverses k. Offsets (1, 2, 3) RAS → (−1, −2, 3) LPS.
    h.quatern = [0.0, 0.0, 1.0, 1.0, 2.0, 3.0];
    h.pixdim[0] = -1.0;
    let image = read(&write(&dir, "q.nii", &h.file_bytes(&[0; 8]))).unwrap();
    let g = &image.grid;
    assert!(close(g.row_direction, [1.0, 0.0, 0.0], 1e-12));
    assert!(close(g.col_direction, [0.0, 1.0, 0.0], 1e-12));
    assert!(close(g.slice_direction, [0.0, 0.0, -1.0], 1e-12));
    assert!(close(g.origin_mm, [-1.0, -2.0, 3.0], 1e-12));
    assert_eq!(g.spacing_mm, [2.0, 0.75, 0.5]);
    assert!(image.warnings.is_empty(), "{:?}", image.warnings);

    h.qform_code = 0;
    let image = read(&write(&dir, "p.nii", &h.file_bytes(&[0; 8]))).unwrap();
    assert!(
        image.warnings[0].contains("pixdim only"),
        "{:?}",
        image.warnings
    );
    assert!(close(image.grid.row_direction, [-1.0, 0.0, 0.0], 0.0));
    assert_eq!(image.grid.origin_mm, [0.0; 3]);

    // sform used, qform disagreeing: warned.
    h.sform_code = 2;
    h.qform_code = 1;
    let image = read(&write(&dir, "sq.nii", &h.file_bytes(&[0; 8]))).unwrap();
    assert!(
        image.warnings.iter().any(|w| w.contains("disagree")),
        "{:?}",
        image.warnings
    );
    assert!(close(image.grid.origin_mm, [-10.0, -20.0, 30.0], 0.0));
}

#[test]
fn four_d_needs_a_single_volume() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Hdr::new([2, 1, 1], 2, 8);
    h.dim[0] = 4;
    let p = write(&dir, "one.nii", &h.file_bytes(&[1, 2]));
    assert_eq!(read(&p).unwrap().values, [1.0, 2.0]);
    h.dim[4] = 3;
    let p = write(&dir, "three.nii", &h.file_bytes(&[0; 6]));
    assert_eq!(kind(read(&p)), NiftiErrorKind::SeveralVolumes(3));
    // 2D: one slice.
    let mut h = Hdr::new([2, 2, 7], 2, 8);
    h.dim[0] = 2;
    let p = write(&dir, "flat.nii", &h.file_bytes(&[0; 4]));
    assert_eq!(read(&p).unwrap().grid.dims, [1, 2, 2]);
}

#[test]
fn bad_spacing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (bad, with_sform) in [(0.0, false), (-1.0, false), (f32::NAN, false), (0.0, true)] {
        let mut h = Hdr::new([2, 2, 2], 2, 8);
        if with_sform {
            h.srow[1][1] = bad;
        } else {
            h.sform_code = 0;
            h.pixdim[2] = bad;
        }
        let p = write(&dir, "sp.nii", &h.file_bytes(&[0; 8]));
        let e = read(&p).unwrap_err();
        assert!(matches!(e.kind, NiftiErrorKind::BadSpacing(_)), "{e}");
        assert!(
            e.to_string().contains("sp.nii: invalid voxel spacing"),
            "{e}"
        );
    }
}

#[test]
fn unsupported_datatypes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (code, bits) in [
        (32, 64),
        (128, 24),
        (1536, 128),
        (1, 1),
        (2304, 32),
        (999, 8),
    ] {
        let h = Hdr::new([1, 1, 1], code, bits);
        let p = write(&dir, "dt.nii", &h.file_bytes(&[0; 16]));
        let e = read(&p).unwrap_err();
        assert!(
            matches!(e.kind, NiftiErrorKind::UnsupportedDatatype(_)),
            "{code}: {e}"
        );
    }
}

#[test]
fn labels_must_be_non_negative_integers() {
    let dir = tempfile::tempdir().unwrap();
    let h = Hdr::new([3, 1, 1], 16, 32);
    let floats = |v: [f32; 3]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
    let p = write(&dir, "ok.nii", &h.file_bytes(&floats([0.0, 2.0, 1.0])));
    let (labels, grid) = read_labels(&p).unwrap();
    assert_eq!(labels, [0, 2, 1]);
    assert_eq!(grid.dims, [1, 1, 3]);
    assert!(read_labels_with_warnings(&p).unwrap().warnings.is_empty());
    for (bad, what) in [
        ([0.0, 0.5, 1.0], "0.5"),
        ([0.0, 1.0, -1.0], "-1"),
        ([f32::NAN, 0.0, 0.0], "NaN"),
    ] {
        let p = write(&dir, "bad.nii", &h.file_bytes(&floats(bad)));
        let e = read_labels(&p).unwrap_err();
        assert!(matches!(e.kind, NiftiErrorKind::NotLabels(_)), "{e}");
        assert!(
            e.to_string().contains(&format!("value {what} at voxel")),
            "{e}"
        );
    }
}

#[test]
fn header_and_image_pair_reads() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Hdr::new([2, 1, 1], 2, 8);
    h.magic = *b"ni1\0";
    h.vox_offset = 0.0;
    let hdr = write(&dir, "pair.hdr", &h.header_bytes());
    assert!(matches!(
        kind(read(&hdr)),
        NiftiErrorKind::MissingImageFile(_)
    ));
    write(&dir, "pair.img.gz", &[5, 6]);
    assert_eq!(read(&hdr).unwrap().values, [5.0, 6.0]);
}

#[test]
fn garbage_is_refused_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        kind(read(&dir.path().join("absent.nii"))),
        NiftiErrorKind::NotFound
    );
    assert!(matches!(
        kind(read(&write(&dir, "empty.nii", &[]))),
        NiftiErrorKind::NotNifti(_)
    ));

    // 348 bytes from a fixed-seed LCG.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut noise = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) as u8
    };
    let random: Vec<u8> = (0..348).map(|_| noise()).collect();
    assert!(matches!(
        kind(read(&write(&dir, "rand.nii", &random))),
        NiftiErrorKind::NotNifti(_)
    ));

    // A header claiming 1000×1000×1000 voxels with 4 bytes of data: refused before allocating
    // (plain) or after reading what there is (gzip).
    let h = Hdr::new([1000, 1000, 1000], 2, 8);
    for name in ["huge.nii", "huge.nii.gz"] {
        let k = kind(read(&write(&dir, name, &h.file_bytes(&[1, 2, 3, 4]))));
        assert_eq!(
            k,
            NiftiErrorKind::Truncated {
                expected_bytes: 1_000_000_000,
                found_bytes: 4
            },
            "{name}"
        );
    }
    // The largest dims a NIfTI-1 header can hold (32767³ float64, 281 TB): refused, not allocated.
    let h = Hdr::new([32767, 32767, 32767], 64, 64);
    assert!(matches!(
        kind(read(&write(&dir, "vast.nii", &h.file_bytes(&[0; 8])))),
        NiftiErrorKind::Truncated { .. } | NiftiErrorKind::TooLarge(_)
    ));

    // The real .nii.gz cut in half: gzip ends early.
    let real = std::fs::read(data(
        "dicom/series/mr_4sl_jpeg_lossless_dicom2nifti/001_ground_truth.nii.gz",
    ))
    .unwrap();
    let cut = dir.path().join("cut.nii.gz");
    std::fs::write(&cut, &real[..real.len() / 2]).unwrap();
    assert!(matches!(
        kind(read(&cut)),
        NiftiErrorKind::Gzip(_) | NiftiErrorKind::Truncated { .. }
    ));
    // Only the CRC trailer damaged: the voxels decode but the stream is corrupt.
    let mut crc = real.clone();
    let n = crc.len();
    crc[n - 6] ^= 0xFF;
    let bad_crc = dir.path().join("crc.nii.gz");
    std::fs::write(&bad_crc, &crc).unwrap();
    assert!(matches!(kind(read(&bad_crc)), NiftiErrorKind::Gzip(_)));
    // Gzip magic followed by noise.
    let mut fake = vec![0x1f, 0x8b];
    fake.extend(&random);
    assert!(matches!(
        kind(read(&write(&dir, "fake.nii", &fake))),
        NiftiErrorKind::Gzip(_)
    ));

    // NIfTI-2 and negative / zero dims.
    let mut n2 = random.clone();
    n2[..4].copy_from_slice(&540_i32.to_le_bytes());
    assert_eq!(
        kind(read(&write(&dir, "n2.nii", &n2))),
        NiftiErrorKind::Nifti2
    );
    for dim in [[3, 0, 1, 1], [3, -4, 1, 1], [0, 1, 1, 1], [9, 1, 1, 1]] {
        let mut h = Hdr::new([dim[1], dim[2], dim[3]], 2, 8);
        h.dim[0] = dim[0];
        assert!(
            matches!(
                kind(read(&write(&dir, "d.nii", &h.file_bytes(&[0; 8])))),
                NiftiErrorKind::BadDims(_)
            ),
            "{dim:?}"
        );
    }
}

#[test]
fn corrupted_headers_never_panic() {
    // 1500 single-byte corruptions of a valid header (plus 2 voxels), each read twice: as a plain
    // file and gzipped. Any result is fine, a panic is not.
    let dir = tempfile::tempdir().unwrap();
    let base = Hdr::new([2, 1, 1], 4, 16).file_bytes(&[1, 0, 2, 0]);
    let mut state = 7_u64;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let (mut ok, mut refused) = (0, 0);
    for round in 0..1500 {
        let mut bytes = base.clone();
        let at = next() % 348;
        bytes[at] = (next() & 0xFF) as u8;
        let name = if round % 2 == 0 { "c.nii" } else { "c.nii.gz" };
        match read(&write(&dir, name, &bytes)) {
            Ok(_) => ok += 1,
            Err(_) => refused += 1,
        }
    }
    assert!(ok > 0 && refused > 0, "{ok} read, {refused} refused");
}
