//! Loading real series from disk to a float volume (scan headers, sort, decode on rayon, convert to
//! f32), in slices per second. Compare with `benches/pydicom_load.py` doing the same job.
//!
//! `cargo bench --bench load_series`

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn data(relpath: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(relpath)
}

/// Every real series in shared/data, plus the largest single images.
pub const SERIES: &[&str] = &[
    "dicom/series/mr_brain_t1_sag_35sl",
    "dicom/series/mr_prostate_adc_20sl",
    "dicom/series/ct_phantom_egsnrc_10sl_nometa",
    "dicom/series/mr_4sl_jpeg_lossless_dicom2nifti",
    "dicom/series/ct_3slice_with_seg/01.dcm,dicom/series/ct_3slice_with_seg/02.dcm,dicom/series/ct_3slice_with_seg/03.dcm",
];

fn load_to_f32(paths: &[PathBuf]) -> Vec<f32> {
    let (volume, _) = radlens::dicom::load(paths, None).expect("series loads");
    volume.to_f32_vec()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("load_series");
    group
        .measurement_time(Duration::from_secs(5))
        .sample_size(20);
    for spec in SERIES {
        let paths: Vec<PathBuf> = spec.split(',').map(data).collect();
        let slices = radlens::dicom::scan(&paths).expect("scan").series[0]
            .slices
            .len();
        group.throughput(Throughput::Elements(slices as u64));
        let name = spec.split('/').nth(2).unwrap_or(spec);
        group.bench_function(name, |b| b.iter(|| load_to_f32(&paths)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
