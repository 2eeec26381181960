"""Time PyRadiomics 3.1.4 on the workloads radlens' benchmarks compare against.

Run from the repository root, after make_expected.py (it reads the masks that script writes):

    /work/pyref/bin/python tests/data/radiomics/benches_reference.py

(a) One 3D ROI of 249,017 voxels: `bench_mask.nii.gz` (a 60 x 70 x 70 mm ellipsoid, all voxels)
    on the brain MR series `mr_brain_t1_sag_35sl`, every default feature class (PyRadiomics
    defaults: shape, firstorder, glcm, glrlm, glszm, gldm, ngtdm; binWidth 25). Timed: 
    extractor.execute() only, image and mask in memory; REPEATS runs, median reported.
(b) The 20-row cohort `cohort20.csv`, run with 2 parallel workers (multiprocessing, one process
    per case as PyRadiomics' own `pyradiomics --jobs 2` does; the CLI itself cannot be used
    because it only reads image *files*, not DICOM series folders). Timed end to end per case:
    reading the DICOM series / NIfTI, the mask, and extraction; wall time of the whole cohort.
    Also once with 1 worker, for the speed-up.

Output: human-readable lines, then one machine-readable line starting with `BENCH_JSON ` followed
by a JSON object. Timings depend on the machine and its load; they are not test data.
"""

import csv
import json
import logging
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_expected as me  # noqa: E402  (the same readers the expected values used)

import radiomics  # noqa: E402
from radiomics import featureextractor  # noqa: E402

REPEATS = 3


def load_mask(image, mask_path):
    """The mask on the image's grid: the committed NIfTI masks are on their image's grid to
    float32 precision (take the image's exact geometry); the one exception, mr4_mask.nii.gz over
    the mr_4sl DICOM series, is the same physical grid with z reversed: resample (nearest)."""
    mask = sitk.ReadImage(str(mask_path))
    same = (mask.GetSize() == image.GetSize()
            and np.allclose(mask.GetOrigin(), image.GetOrigin(), atol=1e-4)
            and np.allclose(mask.GetSpacing(), image.GetSpacing(), atol=1e-4)
            and np.allclose(mask.GetDirection(), image.GetDirection(), atol=1e-4))
    if same:
        mask.CopyInformation(image)
        return mask
    return sitk.Resample(mask, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)


def one_case(row):
    """Worker: read, extract, return (case_id, seconds, number of features)."""
    radiomics.setVerbosity(logging.ERROR)
    t0 = time.perf_counter()
    image = me.load_image(me.HERE / row['Image'])
    mask = load_mask(image, me.HERE / row['Mask'])
    result = featureextractor.RadiomicsFeatureExtractor().execute(image, mask, label=int(row['Label']))
    n = sum(1 for k in result if not k.startswith('diagnostics_'))
    return row['case_id'], time.perf_counter() - t0, n


def cohort(rows, jobs):
    t0 = time.perf_counter()
    if jobs == 1:
        out = [one_case(r) for r in rows]
    else:
        with multiprocessing.get_context('fork').Pool(jobs) as pool:
            out = pool.map(one_case, rows, chunksize=1)
    return time.perf_counter() - t0, out


def main():
    os.chdir(me.REPO)
    radiomics.setVerbosity(logging.ERROR)
    print('PyRadiomics %s, SimpleITK %s, numpy %s; os.cpu_count() = %d'
          % (radiomics.__version__, sitk.Version_VersionString(), np.__version__, os.cpu_count()))

    # (a) the 249k-voxel ROI
    brain = me.read_series(me.BRAIN)
    mask = load_mask(brain, me.HERE / 'bench_mask.nii.gz')
    voxels = int((sitk.GetArrayFromImage(mask) == 1).sum())
    ex = featureextractor.RadiomicsFeatureExtractor()
    ex.execute(me.read_series(me.PROSTATE), load_mask(me.read_series(me.PROSTATE),
               me.HERE / 'prostate_mask.nii.gz'))   # warm-up
    roi = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        ex.execute(brain, mask)
        roi.append(time.perf_counter() - t0)
    print('(a) ROI %d voxels, all default classes: %s s (median %.3f)'
          % (voxels, ', '.join('%.3f' % s for s in roi), statistics.median(roi)))

    # (b) the 20-case cohort
    with open(me.HERE / 'cohort20.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    wall2, per2 = cohort(rows, 2)
    print('(b) cohort20, 2 workers: %.3f s wall' % wall2)
    for case, s, n in per2:
        print('    %-26s %.3f s  %d features' % (case, s, n))
    wall1, _ = cohort(rows, 1)
    print('(b) cohort20, 1 worker: %.3f s wall (speed-up %.2fx)' % (wall1, wall1 / wall2))

    print('BENCH_JSON ' + json.dumps({
        'pyradiomics': radiomics.__version__,
        'cpu_count': os.cpu_count(),
        'roi_voxels': voxels,
        'roi_seconds': [round(s, 4) for s in roi],
        'roi_seconds_median': round(statistics.median(roi), 4),
        'cohort20_cases': len(rows),
        'cohort20_jobs2_wall_seconds': round(wall2, 4),
        'cohort20_jobs1_wall_seconds': round(wall1, 4),
        'cohort20_case_seconds_sum': round(sum(s for _, s, _ in per2), 4),
    }))


if __name__ == '__main__':
    main()
