//! The slice shader against its CPU reference (`imaging::shade_slice`), rendered offscreen with
//! wgpu (lavapipe on machines without a GPU), and naga validation of every WGSL file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use egui_wgpu::wgpu;
use radlens::imaging::{Colormap, HeatParams, ShadeParams, Window, shade_slice};
use radlens::render::{Frame, HeatLayer, MaskLayer, SliceImage, SliceRenderers, Uniforms};

#[test]
fn every_wgsl_file_validates_with_naga() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            let source = std::fs::read_to_string(&path).unwrap();
            let module = naga::front::wgsl::parse_str(&source)
                .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&source)));
            naga::valid::Validator::new(
                naga::valid::ValidationFlags::all(),
                naga::valid::Capabilities::all(),
            )
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
            count += 1;
        }
    }
    assert!(count >= 1);
}

fn device() -> Option<(wgpu::Device, wgpu::Queue)> {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
            .ok()?;
    pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default())).ok()
}

/// A real CT slice, a smooth synthetic heatmap over it, and a rectangular mask.
fn scene() -> (usize, usize, Vec<f32>, Vec<f32>, Vec<u8>) {
    let volume = common::load(&common::data("dicom/series/ct_3slice_with_seg/02.dcm"));
    let [_, rows, cols] = volume.shape;
    let mut values = vec![0.0; rows * cols];
    volume.slice_f32_into(0, &mut values);
    let heat: Vec<f32> = (0..rows * cols)
        .map(|i| {
            let (x, y) = (
                (i % cols) as f32 / cols as f32,
                (i / cols) as f32 / rows as f32,
            );
            (-((x - 0.4).powi(2) + (y - 0.6).powi(2)) * 12.0).exp() * 3.0 - 0.5
        })
        .collect();
    let mask: Vec<u8> = (0..rows * cols)
        .map(|i| u8::from((100..200).contains(&(i % cols)) && (150..300).contains(&(i / cols))))
        .collect();
    (cols, rows, values, heat, mask)
}

fn compare(params: ShadeParams, colormap: Colormap, with_mask: bool) {
    let Some((device, queue)) = device() else {
        panic!("no wgpu adapter: install mesa-vulkan-drivers (lavapipe) for headless rendering");
    };
    let (cols, rows, values, heat, mask) = scene();
    let mut renderers = SliceRenderers::new(&device, wgpu::TextureFormat::Rgba8Unorm);
    let image = Arc::new(SliceImage {
        generation: 1,
        width: cols as u32,
        height: rows as u32,
        pixels: Frame::Grey(values.clone()),
    });
    let heat_layer = Arc::new(HeatLayer {
        generation: 1,
        width: cols as u32,
        height: rows as u32,
        values: heat.clone(),
    });
    let mask_layer = Arc::new(MaskLayer {
        generation: 1,
        width: cols as u32,
        height: rows as u32,
        values: mask.clone(),
    });
    let uniforms = Uniforms {
        rect_min: [-1.0, 1.0],
        rect_max: [1.0, -1.0],
        shade: params,
        bilinear: false,
        show_mask: with_mask,
    };
    renderers.prepare(
        &device,
        &queue,
        7,
        &image,
        Some(&heat_layer),
        with_mask.then_some(&mask_layer),
        colormap,
        &uniforms,
    );
    let gpu = renderers
        .render_offscreen(&device, &queue, 7, cols as u32, rows as u32)
        .unwrap();
    let lut = colormap.lut();
    let cpu = shade_slice(
        &values,
        cols,
        rows,
        params.heat.map(|_| heat.as_slice()),
        with_mask.then_some(mask.as_slice()),
        &params,
        &lut,
    );
    let worst = gpu
        .iter()
        .zip(&cpu)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    let differing = gpu
        .iter()
        .zip(&cpu)
        .filter(|(a, b)| a.abs_diff(**b) > 1)
        .count();
    assert!(
        worst <= 1,
        "GPU and CPU differ by up to {worst} levels in {differing} channels"
    );
    let distinct: std::collections::HashSet<&[u8]> = gpu.chunks(4).collect();
    assert!(
        distinct.len() > 50,
        "the render should show image content, got {} colours",
        distinct.len()
    );
}

const CT_WINDOW: Window = Window {
    center: 40.0,
    width: 400.0,
};

#[test]
fn grey_window_matches_cpu_reference() {
    compare(
        ShadeParams {
            window: CT_WINDOW,
            invert: false,
            heat: None,
        },
        Colormap::Jet,
        false,
    );
}

#[test]
fn inverted_display_matches_cpu_reference() {
    compare(
        ShadeParams {
            window: Window {
                center: -600.0,
                width: 1500.0,
            },
            invert: true,
            heat: None,
        },
        Colormap::Jet,
        false,
    );
}

#[test]
fn heatmap_overlay_matches_cpu_reference() {
    for colormap in [
        Colormap::Jet,
        Colormap::Inferno,
        Colormap::Viridis,
        Colormap::Hot,
    ] {
        let heat = HeatParams {
            low: -0.5,
            high: 2.5,
            threshold: 0.25,
            opacity: 0.6,
            signed: false,
        };
        compare(
            ShadeParams {
                window: CT_WINDOW,
                invert: false,
                heat: Some(heat),
            },
            colormap,
            false,
        );
    }
}

#[test]
fn signed_heatmap_and_mask_outline_match_cpu_reference() {
    let heat = HeatParams {
        low: 0.0,
        high: 2.5,
        threshold: 0.1,
        opacity: 0.7,
        signed: true,
    };
    compare(
        ShadeParams {
            window: CT_WINDOW,
            invert: false,
            heat: Some(heat),
        },
        Colormap::Diverging,
        true,
    );
}
