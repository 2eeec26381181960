#!/usr/bin/env python3
"""The same job as `cargo bench --bench load_series`, done with pydicom + numpy, for comparison.

    python3 -m pip install pydicom==3.0.2 numpy pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg
    python3 benches/pydicom_load.py

Per series: read every file, sort by ImagePositionPatient along the slice normal, apply the
modality LUT, stack into one float32 volume. Prints slices/s (best of several runs).
"""
import os
import sys
import time

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
SERIES = [
    "dicom/series/mr_brain_t1_sag_35sl",
    "dicom/series/mr_prostate_adc_20sl",
    "dicom/series/ct_phantom_egsnrc_10sl_nometa",
    "dicom/series/mr_4sl_jpeg_lossless_dicom2nifti",
    "dicom/series/ct_3slice_with_seg/01.dcm,dicom/series/ct_3slice_with_seg/02.dcm,dicom/series/ct_3slice_with_seg/03.dcm",
]


def files_of(spec):
    out = []
    for part in spec.split(","):
        path = os.path.join(DATA, part)
        if os.path.isdir(path):
            out += [os.path.join(path, f) for f in sorted(os.listdir(path))]
        else:
            out.append(path)
    return out


def load(spec):
    datasets = []
    for f in files_of(spec):
        try:
            ds = pydicom.dcmread(f, force=True)
        except Exception:
            continue
        if "PixelData" not in ds:
            continue
        if "TransferSyntaxUID" not in ds.file_meta:
            ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
        datasets.append(ds)
    iop = np.array(datasets[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    datasets.sort(key=lambda d: float(np.dot(normal, np.array(d.ImagePositionPatient, dtype=float))))
    return np.stack([apply_modality_lut(d.pixel_array, d).astype(np.float32) for d in datasets])


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    for spec in SERIES:
        best = float("inf")
        for _ in range(runs):
            start = time.perf_counter()
            volume = load(spec)
            best = min(best, time.perf_counter() - start)
        name = spec.split("/")[2]
        print(f"{name:40s} {volume.shape[0]:3d} slices  {best * 1e3:8.2f} ms  {volume.shape[0] / best:9.1f} slices/s")


if __name__ == "__main__":
    main()
