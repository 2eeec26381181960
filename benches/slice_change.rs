//! Viewer costs on a 512² CT: a slice change (build the slice's pixels, upload, draw one frame) and
//! a steady frame with the heatmap overlay and mask on (uniforms only, no upload).
//!
//! `cargo bench --bench slice_change` — on machines without a GPU this runs on lavapipe (software
//! Vulkan), so the figures are a floor for real hardware.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use egui_wgpu::wgpu;
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
                    let slice = generation as usize % slices;
                    let mut values = vec![0.0; rows * cols];
                    volume.slice_f32_into(slice, &mut values);
                    let image = Arc::new(SliceImage {
                        generation,
                        width: cols as u32,
                        height: rows as u32,
                        pixels: Frame::Grey(values),
                    });
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
