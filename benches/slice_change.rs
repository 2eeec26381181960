//! Viewer costs on a 512² CT: a slice change (build the slice's pixels, upload, draw one frame) and
//! a steady frame with the heatmap overlay and mask on (uniforms only, no upload); and on a
//! 1000-slice 512² CT (the shared CT's slices repeated, never written to disk) the same slice
//! change plus an MPR plane change (cut a 1000×512 coronal or sagittal plane on the CPU, upload,
//! draw).
//!
//! `cargo bench --bench slice_change` — on machines without a GPU this runs on lavapipe (software
//! Vulkan), so the figures are a floor for real hardware.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use egui_wgpu::wgpu;
use radlens::dicom::mpr::Plane;
use radlens::dicom::{Volume, Voxels};
use radlens::imaging::{Colormap, HeatParams, ShadeParams};
use radlens::render::{Frame, HeatLayer, MaskLayer, SliceImage, SliceRenderers, Uniforms};

/// A device (lavapipe without a GPU) and square render targets of the given sizes (viewports).
fn gpu_and_targets(sizes: &[u32]) -> (wgpu::Device, wgpu::Queue, Vec<(u32, wgpu::TextureView)>) {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
            .unwrap();
    println!("adapter: {:?}", adapter.get_info().name);
    let (device, queue) =
        pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default())).unwrap();
    let targets = sizes
        .iter()
        .map(|&size| {
            let (width, height) = (size, size);
            let target = device.create_texture(&wgpu::TextureDescriptor {
                label: None,
                size: wgpu::Extent3d {
                    width,
                    height,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::Rgba8Unorm,
                usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
                view_formats: &[],
            });
            (
                size,
                target.create_view(&wgpu::TextureViewDescriptor::default()),
            )
        })
        .collect();
    (device, queue, targets)
}

/// Slice `slice` of `volume` as the viewer builds it, tagged `generation`.
fn slice_image(volume: &Volume, generation: u64, slice: usize) -> Arc<SliceImage> {
    let [_, rows, cols] = volume.shape;
    let mut values = vec![0.0; rows * cols];
    volume.slice_f32_into(slice, &mut values);
    Arc::new(SliceImage {
        generation,
        width: cols as u32,
        height: rows as u32,
        pixels: Frame::Grey(values),
    })
}

#[allow(clippy::too_many_lines)] // one setup shared by every measurement
fn bench(c: &mut Criterion) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/dicom/series/ct_3slice_with_seg");
    let report = radlens::dicom::scan(&[path]).unwrap();
    let ct = report.series.iter().find(|s| s.modality() == "CT").unwrap();
    let volume = radlens::dicom::load_series(ct, &radlens::dicom::LoadControl::default()).unwrap();
    let [slices, rows, cols] = volume.shape;

    let (device, queue, viewports) = gpu_and_targets(&[512, 1024]);
    let mut renderers = SliceRenderers::new(&device, wgpu::TextureFormat::Rgba8Unorm);
    let heat = Arc::new(HeatLayer {
        generation: 1,
        width: cols as u32,
        height: rows as u32,
        values: (0..rows * cols)
            .map(|i| (i % cols) as f32 / cols as f32)
            .collect(),
    });
    let mask = Arc::new(MaskLayer {
        generation: 1,
        width: cols as u32,
        height: rows as u32,
        values: vec![1; rows * cols],
    });
    let uniforms = Uniforms {
        rect_min: [-1.0, 1.0],
        rect_max: [1.0, -1.0],
        shade: ShadeParams {
            window: volume.default_window,
            invert: false,
            heat: Some(HeatParams {
                low: 0.0,
                high: 1.0,
                threshold: 0.2,
                opacity: 0.5,
                signed: false,
            }),
        },
        bilinear: true,
        show_mask: true,
    };
    // What both benchmarks time: bring the textures up to date (uploading only what changed), then
    // draw one frame and wait for the GPU.
    let draw =
        |renderers: &mut SliceRenderers, image: &Arc<SliceImage>, target: &wgpu::TextureView| {
            renderers.prepare(
                &device,
                &queue,
                0,
                image,
                Some(&heat),
                Some(&mask),
                Colormap::Jet,
                &uniforms,
            );
            renderers.render_frame(&device, &queue, 0, target).unwrap();
        };
    let mut generation = 0u64;
    let mut group = c.benchmark_group("viewer_512_ct");
    for (size, target_view) in &viewports {
        group.bench_function(
            format!("slice_change_upload_and_frame/viewport_{size}"),
            |b| {
                b.iter(|| {
                    generation += 1;
                    let image = slice_image(&volume, generation, generation as usize % slices);
                    draw(&mut renderers, &image, target_view);
                });
            },
        );
        let image = Arc::new(SliceImage {
            generation: u64::MAX,
            width: cols as u32,
            height: rows as u32,
            pixels: Frame::Grey(vec![0.0; rows * cols]),
        });
        group.bench_function(format!("frame_with_overlay/viewport_{size}"), |b| {
            b.iter(|| {
                draw(&mut renderers, &image, target_view);
            });
        });
    }
    group.finish();

    // 1000 slices of 512²: 500 MB of int16, as a large clinical CT holds.
    let Voxels::I16(source) = &volume.voxels else {
        panic!("the shared CT is int16");
    };
    let plane_len = rows * cols;
    let big_slices = 1000;
    let mut repeated = Vec::with_capacity(big_slices * plane_len);
    for i in 0..big_slices {
        let s = i % slices;
        repeated.extend_from_slice(&source[s * plane_len..(s + 1) * plane_len]);
    }
    let again = radlens::dicom::load_series(ct, &radlens::dicom::LoadControl::default()).unwrap();
    let big = Volume {
        shape: [big_slices, rows, cols],
        voxels: Voxels::I16(repeated),
        ..again
    };
    let planes = Plane::all(&big);
    let mut group = c.benchmark_group("viewer_1000_slice_ct");
    let (_, target_view) = &viewports[0];
    group.bench_function("slice_change_upload_and_frame/viewport_512", |b| {
        b.iter(|| {
            generation += 1;
            let image = slice_image(&big, generation, generation as usize % big_slices);
            draw(&mut renderers, &image, target_view);
        });
    });
    for (name, plane) in [("coronal", planes[1]), ("sagittal", planes[2])] {
        group.bench_function(format!("mpr_{name}_plane_change/viewport_512"), |b| {
            b.iter(|| {
                generation += 1;
                let position = generation as usize % plane.shape[0];
                let image = Arc::new(SliceImage {
                    generation,
                    width: plane.shape[2] as u32,
                    height: plane.shape[1] as u32,
                    pixels: Frame::Grey(plane.grey(&big, position)),
                });
                draw(&mut renderers, &image, target_view);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
