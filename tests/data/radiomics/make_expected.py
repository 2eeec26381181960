"""Make the PyRadiomics reference values that radlens' radiomics tests compare against.

Run from the repository root (/work/main), with the PyRadiomics 3.1.4 venv:

    /work/pyref/bin/python tests/data/radiomics/make_expected.py

What it does (deterministic: no randomness, no clock-dependent output except the recorded
`pyradiomics_seconds`, which is informational and never compared by the tests):

1. Reads the images the way PyRadiomics users do: DICOM series with SimpleITK's
   ImageSeriesReader (GDCM sorts the slices by position along the slice normal), NIfTI with
   sitk.ReadImage.
2. Builds the masks from fixed geometric rules (ellipsoids in mm, fixed intensity thresholds),
   from the DICOM SEG (`ct_3slice_with_seg/seg_liver.dcm`, frames mapped to CT slices by the
   per-frame ReferencedSOPInstanceUID and cross-checked by ImagePositionPatient, 1-bit frames
   unpacked with numpy), and from the demo study's `lesions.mask.npy`. Masks are written as uint8
   NIfTI (`*.nii.gz`) with the image's geometry (SimpleITK writes sform/qform) and then READ BACK,
   so PyRadiomics sees exactly the committed files.
3. Writes the parameter files `params_custom.yaml` and `params_2d.yaml`.
4. Runs `radiomics.featureextractor.RadiomicsFeatureExtractor` (defaults, or a parameter file) on
   each case and writes `expected/<case>.json`:
   {"case", "image", "mask", "label", "params", "features" (PyRadiomics' order, full float
   precision), "diagnostics" (all of PyRadiomics' diagnostics_* entries), "pyradiomics_seconds"
   (wall time of extractor.execute() only, image and mask already in memory),
   "pyradiomics_warnings" (what PyRadiomics logged at WARNING or above)}.
   NaN/Infinity are written as the strings "NaN"/"Infinity"/"-Infinity".
   Paths in the JSON ("image", "mask") are relative to the repository root.
5. Writes the cohort files `cohort.csv` (7 rows) and `cohort20.csv` (20 rows) in PyRadiomics'
   batch format (Image, Mask, Label + passthrough case_id, outcome), paths relative to the CSV's
   folder.
6. Prints the consistency checks (demo mask alignment, SEG mapping, mr_4sl NIfTI vs DICOM grids).

Nothing is written outside tests/data/radiomics/. The shared data (../shared/data) is read only.
"""

import json
import logging
import math
import os
import sys
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk

import radiomics
from radiomics import featureextractor

HERE = Path(__file__).resolve().parent            # tests/data/radiomics
REPO = HERE.parents[2]                            # repository root
SHARED = (REPO / '..' / 'shared' / 'data').resolve()
SERIES = SHARED / 'dicom' / 'series'
DEMO = REPO / 'assets' / 'demo' / 'ct_lesions'
EXPECTED = HERE / 'expected'

BRAIN = SERIES / 'mr_brain_t1_sag_35sl'
PROSTATE = SERIES / 'mr_prostate_adc_20sl'
CT3 = SERIES / 'ct_3slice_with_seg'
MR4 = SERIES / 'mr_4sl_jpeg_lossless_dicom2nifti'
MR4_NII = MR4 / '001_ground_truth.nii.gz'


# ----------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------

def series_files(folder, modality=None):
    """GDCM-sorted file names of the one series in `folder` (or the one with `modality`)."""
    reader = sitk.ImageSeriesReader()
    ids = reader.GetGDCMSeriesIDs(str(folder))
    if modality is not None:
        ids = [uid for uid in ids
               if pydicom.dcmread(reader.GetGDCMSeriesFileNames(str(folder), uid)[0],
                                  stop_before_pixels=True).Modality == modality]
    if len(ids) != 1:
        raise RuntimeError('%s: expected one series, found %r' % (folder, ids))
    return list(reader.GetGDCMSeriesFileNames(str(folder), ids[0]))


def read_series(folder, modality=None):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(series_files(folder, modality))
    return reader.Execute()


def load_image(path):
    """A DICOM folder (series) or a file SimpleITK can read. CT folders with SEGs: the CT."""
    path = Path(path)
    if path.is_dir():
        return read_series(path, 'CT' if path.resolve() == CT3.resolve() else None)
    return sitk.ReadImage(str(path))


def rel_repo(path):
    """Path relative to the repository root (how the Rust tests, run from the root, see it)."""
    return os.path.relpath(Path(path).resolve(), REPO)


def rel_here(path):
    """Path relative to this folder (how PyRadiomics' batch CSV wants it)."""
    return os.path.relpath(Path(path).resolve(), HERE)


# ----------------------------------------------------------------------------------------------
# masks
# ----------------------------------------------------------------------------------------------

def ellipsoid(shape, spacing_zyx, centre_zyx, radii_mm_zyx):
    """Voxels (z, y, x index grid) whose centres lie in the ellipsoid (centre in voxel indices,
    semi-axes in mm along the array axes)."""
    z, y, x = np.indices(shape).astype(np.float64)
    d = (((z - centre_zyx[0]) * spacing_zyx[0] / radii_mm_zyx[0]) ** 2
         + ((y - centre_zyx[1]) * spacing_zyx[1] / radii_mm_zyx[1]) ** 2
         + ((x - centre_zyx[2]) * spacing_zyx[2] / radii_mm_zyx[2]) ** 2)
    return d <= 1.0


def spacing_zyx(image):
    return tuple(image.GetSpacing()[::-1])


def write_mask(labels, reference, name):
    """uint8 NIfTI with the reference image's geometry; returns the mask as read back."""
    img = sitk.GetImageFromArray(labels.astype(np.uint8))
    img.CopyInformation(reference)
    path = HERE / name
    sitk.WriteImage(img, str(path), True)
    back = sitk.ReadImage(str(path))
    if not np.array_equal(sitk.GetArrayFromImage(back), labels.astype(np.uint8)):
        raise RuntimeError('%s: voxels changed on write' % name)
    # NIfTI stores the geometry in float32, so the mask read back is off the image's (float64,
    # from DICOM) grid by up to ~1e-5 mm, more than ITK's default tolerance (1e-6 x spacing) that
    # PyRadiomics' checkMask applies. The mask *is* on the image grid: check that to float32
    # precision, then give it the image's exact geometry (as a viewer that matches a mask to a
    # series by its grid does).
    diff = max(max(abs(a - b) for a, b in zip(back.GetOrigin(), reference.GetOrigin())),
               max(abs(a - b) for a, b in zip(back.GetSpacing(), reference.GetSpacing())),
               max(abs(a - b) for a, b in zip(back.GetDirection(), reference.GetDirection())))
    if back.GetSize() != reference.GetSize() or diff > 1e-4:
        raise RuntimeError('%s: not on the reference grid (max diff %g)' % (name, diff))
    print('%-34s %s, %d voxels nonzero, NIfTI float32 geometry off by <= %.3g'
          % (name, dict(zip(*[x.tolist() for x in np.unique(labels, return_counts=True)])),
             int((labels > 0).sum()), diff))
    back.CopyInformation(reference)
    return path, back


def brain_labels(image):
    """Label 1: T1 signal > 500 inside a central ellipsoid (semi-axes 35 x 45 x 45 mm, centre
    voxel (17, 128, 128)). Label 2: a 18 mm sphere centred at voxel (17, 80, 150), minus label 1."""
    a = sitk.GetArrayFromImage(image).astype(np.float64)
    sp = spacing_zyx(image)
    l1 = ellipsoid(a.shape, sp, (17, 128, 128), (35, 45, 45)) & (a > 500)
    l2 = ellipsoid(a.shape, sp, (17, 80, 150), (18, 18, 18)) & ~l1
    out = np.zeros(a.shape, np.uint8)
    out[l1] = 1
    out[l2] = 2
    return out


def brain_slice_labels(brain):
    """Label 1 of the brain mask on slice z = 17 only (one sagittal slice: for force2D/shape2D)."""
    out = np.zeros_like(brain)
    out[17] = (brain[17] == 1)
    return out


def bench_labels(image):
    """The benchmark ROI: a 60 x 70 x 70 mm ellipsoid centred at voxel (17, 128, 128) of the brain
    MR series, all voxels (249,017 voxels)."""
    shape = sitk.GetArrayFromImage(image).shape
    return ellipsoid(shape, spacing_zyx(image), (17, 128, 128), (60, 70, 70)).astype(np.uint8)


def prostate_labels(image):
    """A central ellipsoid: centre voxel (10, 128, 128), semi-axes 12 x 25 x 25 mm."""
    shape = sitk.GetArrayFromImage(image).shape
    return ellipsoid(shape, spacing_zyx(image), (10, 128, 128), (12, 25, 25)).astype(np.uint8)


def mr4_labels(image):
    """Deliberately asymmetric in z (so a slice-order error shows): ellipsoid centre voxel
    (1.2, 110, 140), semi-axes 2 x 60 x 45 mm, intensity > 60 (on the NIfTI's own grid)."""
    a = sitk.GetArrayFromImage(image).astype(np.float64)
    return (ellipsoid(a.shape, spacing_zyx(image), (1.2, 110, 140), (2.0, 60, 45))
            & (a > 60)).astype(np.uint8)


BRAIN_SPHERES = [(8, 70, 100), (8, 120, 80), (8, 170, 110), (26, 70, 100),
                 (26, 120, 80), (26, 170, 110), (17, 200, 170), (17, 128, 60)]
PROSTATE_SPHERES = [(10, 100, 100), (10, 100, 156), (10, 156, 100), (10, 156, 156), (5, 128, 128)]


def spheres(image, centres, radius_mm):
    """Label k+1 = sphere k (centre in voxel indices); later spheres never overwrite earlier."""
    shape = sitk.GetArrayFromImage(image).shape
    out = np.zeros(shape, np.uint8)
    for k, c in enumerate(centres):
        s = ellipsoid(shape, spacing_zyx(image), c, (radius_mm,) * 3) & (out == 0)
        out[s] = k + 1
    return out


def seg_labels(ct_files, seg_path):
    """The DICOM SEG as a label map on the CT grid (SimpleITK's slice order), from pydicom.

    Each frame's ReferencedSOPInstanceUID (DerivationImageSequence/SourceImageSequence) picks the
    CT slice; its PlanePositionSequence ImagePositionPatient must equal that slice's position. The
    1-bit frames are unpacked from PixelData with numpy (bits little-endian within each byte,
    frames contiguous) and checked against pydicom's own pixel_array."""
    seg = pydicom.dcmread(str(seg_path))
    rows, cols, n = int(seg.Rows), int(seg.Columns), int(seg.NumberOfFrames)
    bits = np.unpackbits(np.frombuffer(seg.PixelData, np.uint8), bitorder='little')
    frames = bits[:n * rows * cols].reshape(n, rows, cols)
    if not np.array_equal(frames, seg.pixel_array.reshape(n, rows, cols)):
        raise RuntimeError('SEG unpacking differs from pydicom')
    by_uid = {}
    for k, f in enumerate(ct_files):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        by_uid[ds.SOPInstanceUID] = (k, [float(v) for v in ds.ImagePositionPatient], f)
    out = np.zeros((len(ct_files), rows, cols), np.uint8)
    mapping = []
    for i, fr in enumerate(seg.PerFrameFunctionalGroupsSequence):
        uid = fr.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        seg_no = int(fr.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        k, pos, f = by_uid[uid]
        fpos = [float(v) for v in fr.PlanePositionSequence[0].ImagePositionPatient]
        if max(abs(a - b) for a, b in zip(pos, fpos)) > 1e-3:
            raise RuntimeError('SEG frame %d position %r != CT %r' % (i, fpos, pos))
        out[k][frames[i] > 0] = seg_no
        mapping.append('SEG frame %d (segment %d, z=%.3f) -> CT %s = SimpleITK slice %d, %d voxels'
                       % (i, seg_no, fpos[2], Path(f).name, k, int(frames[i].sum())))
    return out, mapping


# ----------------------------------------------------------------------------------------------
# PyRadiomics
# ----------------------------------------------------------------------------------------------

class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append('%s: %s' % (record.levelname, record.getMessage()))


def jsonable(v):
    if isinstance(v, (dict, OrderedDict)):
        return OrderedDict((str(k), jsonable(x)) for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return jsonable(v.item()) if v.ndim == 0 else [jsonable(x) for x in v.tolist()]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return 'NaN'
        if math.isinf(f):
            return 'Infinity' if f > 0 else '-Infinity'
        return f
    if isinstance(v, complex):
        raise RuntimeError('complex feature value %r' % v)
    return v


def extract(image, mask, label=None, params=None):
    """Run PyRadiomics; returns (features, diagnostics, seconds, warnings)."""
    handler = Collect()
    radiomics.logger.addHandler(handler)
    try:
        if params is None:
            ex = featureextractor.RadiomicsFeatureExtractor()
        else:
            ex = featureextractor.RadiomicsFeatureExtractor(str(params))
        t0 = time.perf_counter()
        result = ex.execute(image, mask, label=label)
        seconds = time.perf_counter() - t0
    finally:
        radiomics.logger.removeHandler(handler)
    feats = OrderedDict((k, v) for k, v in result.items() if not k.startswith('diagnostics_'))
    diags = OrderedDict((k, v) for k, v in result.items() if k.startswith('diagnostics_'))
    return feats, diags, seconds, handler.messages


def run_case(name, image_path, mask_path, image, mask, label=None, params=None, note=None):
    feats, diags, seconds, warnings = extract(image, mask, label, params)
    eff_label = label if label is not None else (1 if params is None else None)
    if eff_label is None:
        eff_label = diags['diagnostics_Configuration_Settings']['label']
    doc = OrderedDict([
        ('case', name),
        ('image', rel_repo(image_path)),
        ('mask', rel_repo(mask_path)),
        ('label', int(eff_label)),
        ('params', rel_repo(params) if params is not None else None),
        ('note', note),
        ('features', jsonable(feats)),
        ('diagnostics', jsonable(diags)),
        ('pyradiomics_seconds', round(seconds, 4)),
        ('pyradiomics_warnings', warnings),
    ])
    EXPECTED.mkdir(exist_ok=True)
    with open(EXPECTED / ('%s.json' % name), 'w') as f:
        json.dump(doc, f, indent=1, allow_nan=False)
        f.write('\n')
    print('%-28s label %d  voxels %7d  features %3d  %.3f s  warnings %d'
          % (name, doc['label'], diags['diagnostics_Mask-original_VoxelNum'], len(feats), seconds,
             len(warnings)))
    for w in warnings:
        print('    ' + w)
    return feats


# ----------------------------------------------------------------------------------------------
# parameter files
# ----------------------------------------------------------------------------------------------

PARAMS_CUSTOM = """\
# radlens reference case `brain_custom`: non-default PyRadiomics 3.1.4 settings, applied to the
# brain MR series with tests/data/radiomics/brain_mask.nii.gz (label 1, set below).
# Written by make_expected.py.
imageType:
  Original: {}
featureClass:
  shape:              # no value = every non-deprecated feature of the class
  firstorder:         # StandardDeviation is deprecated: computed only because it is named
    - Mean
    - StandardDeviation
    - Energy
    - TotalEnergy
    - RootMeanSquared
    - Entropy
    - Uniformity
    - Minimum
    - Maximum
    - Range
    - Variance
  glcm:               # Homogeneity1 is deprecated too
    - JointEnergy
    - Contrast
    - Idmn
    - Correlation
    - Homogeneity1
  glrlm:
  ngtdm:
    - Busyness
    - Coarseness
setting:
  binCount: 32
  resegmentRange: [100, 200]
  normalize: true
  normalizeScale: 100
  removeOutliers: 3
  voxelArrayShift: 300
  label: 1
"""

PARAMS_2D = """\
# radlens reference case `brain_slice_2d`: force2D on a single-slice mask (label 1 of
# brain_mask.nii.gz restricted to array slice z = 17, i.e. one sagittal slice:
# tests/data/radiomics/brain_slice_mask.nii.gz), enabling shape2D and the 2D texture path.
# Written by make_expected.py.
imageType:
  Original: {}
featureClass:
  shape2D:
  firstorder:
  glcm:
  glrlm:
  glszm:
  gldm:
  ngtdm:
setting:
  force2D: true
  force2Ddimension: 0
  label: 1
"""


# ----------------------------------------------------------------------------------------------
# checks
# ----------------------------------------------------------------------------------------------

def geometry(image):
    return dict(size=image.GetSize(), spacing=image.GetSpacing(), origin=image.GetOrigin(),
                direction=image.GetDirection())


def index_to_physical_grid(image):
    """Physical centre of every voxel, array order [z, y, x, 3]."""
    size = image.GetSize()
    idx = np.stack(np.meshgrid(*[np.arange(s) for s in size[::-1]], indexing='ij'), -1)[..., ::-1]
    d = np.array(image.GetDirection()).reshape(3, 3)
    return np.array(image.GetOrigin()) + (idx * np.array(image.GetSpacing())) @ d.T


def max_rel_diff(a, b):
    worst = 0.0
    for k in a:
        x, y = float(a[k]), float(b[k])
        if math.isnan(x) and math.isnan(y):
            continue
        worst = max(worst, abs(x - y) / max(abs(x), abs(y), 1e-300) if x != y else 0.0)
    return worst


# ----------------------------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------------------------

def main():
    os.chdir(REPO)
    radiomics.setVerbosity(logging.ERROR)   # stderr quiet; warnings are collected per case
    print('PyRadiomics %s, SimpleITK %s, numpy %s, pydicom %s, python %s'
          % (radiomics.__version__, sitk.Version_VersionString(), np.__version__,
             pydicom.__version__, sys.version.split()[0]))
    (HERE / 'params_custom.yaml').write_text(PARAMS_CUSTOM)
    (HERE / 'params_2d.yaml').write_text(PARAMS_2D)

    # warm-up (imports, first-call overhead) so the first timed case is not penalised
    warm = sitk.GetImageFromArray(np.arange(64, dtype=np.float64).reshape(4, 4, 4))
    warm_mask = sitk.GetImageFromArray(np.pad(np.ones((2, 2, 2), np.uint8), 1))
    extract(warm, warm_mask)

    cases = []   # (case name, image path, mask path, label) for the cohort files

    # 1. brain MR
    brain = read_series(BRAIN)
    labels = brain_labels(brain)
    bpath, bmask = write_mask(labels, brain, 'brain_mask.nii.gz')
    run_case('brain_l1', BRAIN, bpath, brain, bmask, None,
             note='label 1 (default label, label=None passed)')
    run_case('brain_l2', BRAIN, bpath, brain, bmask, 2)
    cases += [('brain_l1', BRAIN, bpath, 1), ('brain_l2', BRAIN, bpath, 2)]

    # 2. prostate ADC
    prostate = read_series(PROSTATE)
    ppath, pmask = write_mask(prostate_labels(prostate), prostate, 'prostate_mask.nii.gz')
    run_case('prostate', PROSTATE, ppath, prostate, pmask)
    cases.append(('prostate', PROSTATE, ppath, 1))

    # 3. CT + DICOM SEG
    ct_files = series_files(CT3, 'CT')
    ct = read_series(CT3, 'CT')
    seg, mapping = seg_labels(ct_files, CT3 / 'seg_liver.dcm')
    print('CT series order (SimpleITK):', [Path(f).name for f in ct_files])
    for m in mapping:
        print('  ' + m)
    cpath, cmask = write_mask(seg, ct, 'ct_liver_mask.nii.gz')
    run_case('ct_liver', CT3, cpath, ct, cmask,
             note='mask = DICOM SEG %s (segment 1 "Liver") on the CT grid' % rel_repo(CT3 / 'seg_liver.dcm'))
    cases.append(('ct_liver', CT3, cpath, 1))

    # 4. demo study
    demo_files = series_files(DEMO)
    demo = read_series(DEMO)
    zs = [float(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient[2]) for f in demo_files]
    print('demo series order (SimpleITK):', [Path(f).name for f in demo_files], 'z =', zs)
    npy = np.load(DEMO / 'lesions.mask.npy')
    print('demo mask values', dict(zip(*[x.tolist() for x in np.unique(npy, return_counts=True)])),
          'per slice', [int((s > 0).sum()) for s in npy])
    dpath, dmask = write_mask(npy, demo, 'demo_lesions_mask.nii.gz')
    run_case('demo_lesions', DEMO, dpath, demo, dmask,
             note='mask = assets/demo/ct_lesions/lesions.mask.npy (index i = file 0{i+1}.dcm = SimpleITK slice i)')
    cases.append(('demo_lesions', DEMO, dpath, 1))

    # 5. mr_4sl: NIfTI image with a mask on its grid, then the DICOM series with the same mask
    mr4 = sitk.ReadImage(str(MR4_NII))
    mpath, mmask = write_mask(mr4_labels(mr4), mr4, 'mr4_mask.nii.gz')
    f_nii = run_case('mr4_nifti', MR4_NII, mpath, mr4, mmask)
    cases.append(('mr4_nifti', MR4_NII, mpath, 1))
    mr4d = read_series(MR4)
    print('mr4 NIfTI geometry', geometry(mr4))
    print('mr4 DICOM geometry', geometry(mr4d))
    pn, pd = index_to_physical_grid(mr4), index_to_physical_grid(mr4d)
    print('mr4 same index->physical map: max |diff| %.3g mm' % np.abs(pn - pd).max())
    print('mr4 NIfTI slice k == DICOM slice 3-k: max |diff| %.3g mm' % np.abs(pn[::-1] - pd).max())
    a_n, a_d = sitk.GetArrayFromImage(mr4), sitk.GetArrayFromImage(mr4d)
    print('mr4 voxels: NIfTI == DICOM %s; NIfTI[::-1] == DICOM %s'
          % (np.array_equal(a_n, a_d), np.array_equal(a_n[::-1], a_d)))
    on_dicom = sitk.Resample(mmask, mr4d, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    print('mr4 mask resampled to DICOM grid == flipped NIfTI mask:',
          np.array_equal(sitk.GetArrayFromImage(on_dicom), sitk.GetArrayFromImage(mmask)[::-1]))
    try:
        extract(mr4d, mmask)
        print('mr4 DICOM + NIfTI mask, no resampling: PyRadiomics accepted it')
    except ValueError as e:
        print('mr4 DICOM + NIfTI mask, no resampling: PyRadiomics refuses:', e)
    f_dcm = run_case('mr4_dicom', MR4, mpath, mr4d, on_dicom,
                     note='DICOM series + mr4_mask.nii.gz resampled (nearest neighbour, identity '
                          'transform) onto the DICOM grid, which is the NIfTI grid with z reversed')
    print('mr4 DICOM vs NIfTI features: max relative difference %.3g' % max_rel_diff(f_nii, f_dcm))
    print('mr4 features differing by more than 1e-12 relative:',
          [k for k in f_nii if max_rel_diff({k: f_nii[k]}, {k: f_dcm[k]}) > 1e-12])
    cases.append(('mr4_dicom', MR4, mpath, 1))

    # 6. non-default settings
    run_case('brain_custom', BRAIN, bpath, brain, bmask, None, HERE / 'params_custom.yaml')
    spath, smask = write_mask(brain_slice_labels(labels), brain, 'brain_slice_mask.nii.gz')
    run_case('brain_slice_2d', BRAIN, spath, brain, smask, None, HERE / 'params_2d.yaml')

    # 7. cohorts
    write_cohort('cohort.csv', cases)
    bs_path, bs_mask = write_mask(spheres(brain, BRAIN_SPHERES, 12.0), brain,
                                  'cohort20_brain_spheres.nii.gz')
    ps_path, ps_mask = write_mask(spheres(prostate, PROSTATE_SPHERES, 8.0), prostate,
                                  'cohort20_prostate_spheres.nii.gz')
    extra = []
    for k in range(len(BRAIN_SPHERES)):
        name = 'cohort20_brain_sphere%d' % (k + 1)
        run_case(name, BRAIN, bs_path, brain, bs_mask, k + 1)
        extra.append((name, BRAIN, bs_path, k + 1))
    for k in range(len(PROSTATE_SPHERES)):
        name = 'cohort20_prostate_sphere%d' % (k + 1)
        run_case(name, PROSTATE, ps_path, prostate, ps_mask, k + 1)
        extra.append((name, PROSTATE, ps_path, k + 1))
    write_cohort('cohort20.csv', cases + extra)

    # the benchmark ROI (timed by benches_reference.py, not here)
    bench = bench_labels(brain)
    write_mask(bench, brain, 'bench_mask.nii.gz')
    print('bench_mask.nii.gz: %d voxels' % int(bench.sum()))


def write_cohort(name, rows):
    lines = ['Image,Mask,Label,case_id,outcome']
    for i, (case, image, mask, label) in enumerate(rows):
        # outcome: a made-up binary passthrough column (alternating), not a clinical label
        lines.append('%s,%s,%d,%s,%d' % (rel_here(image), rel_here(mask), label, case, i % 2))
    (HERE / name).write_text('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
