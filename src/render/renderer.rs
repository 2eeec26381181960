//! The slice pipeline and its textures, usable inside egui (through the callback) or on its own
//! (offscreen rendering in tests and exports).

use std::collections::HashMap;
use std::sync::Arc;

use egui_wgpu::wgpu;

use crate::imaging::{Colormap, HeatParams, LUT_SIZE, ShadeParams};

/// WGSL source of the slice shader.
pub const SHADER_SOURCE: &str = include_str!("../../shaders/slice.wgsl");

/// A number never handed out before: give one to every new slice, heatmap or mask.
pub fn next_generation() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Pixels of one slice, ready to upload. `generation` changes whenever the pixels do.
#[derive(Debug)]
pub struct SliceImage {
    pub generation: u64,
    pub width: u32,
    pub height: u32,
    pub pixels: Frame,
}

/// Greyscale modality values or RGBA8 colour.
#[derive(Debug)]
pub enum Frame {
    Grey(Vec<f32>),
    Rgba(Vec<u8>),
}

/// A heatmap at its own resolution (stretched over the image), raw values kept.
#[derive(Debug)]
pub struct HeatLayer {
    pub generation: u64,
    pub width: u32,
    pub height: u32,
    pub values: Vec<f32>,
}

/// A 0/1 mask (e.g. the radiologist's ROI), drawn as an outline.
#[derive(Debug)]
pub struct MaskLayer {
    pub generation: u64,
    pub width: u32,
    pub height: u32,
    pub values: Vec<u8>,
}

/// What the shader needs besides textures: where the image goes and how it is shaded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Uniforms {
    /// Clip-space top-left and bottom-right corners of the image quad.
    pub rect_min: [f32; 2],
    pub rect_max: [f32; 2],
    pub shade: ShadeParams,
    pub bilinear: bool,
    pub show_mask: bool,
}

const FLAG_INVERT: u32 = 1;
const FLAG_BILINEAR: u32 = 2;
const FLAG_RGB: u32 = 4;
const FLAG_HEAT: u32 = 8;
const FLAG_SIGNED: u32 = 16;
const FLAG_MASK: u32 = 32;

/// `Params` in the shader, byte for byte.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct GpuParams {
    rect_min: [f32; 2],
    rect_max: [f32; 2],
    window_center: f32,
    window_width: f32,
    heat_low: f32,
    heat_high: f32,
    heat_threshold: f32,
    heat_opacity: f32,
    flags: u32,
    pad: u32,
}

/// Pipeline and layout, shared by every view.
pub struct SliceRenderers {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    views: HashMap<u64, SliceRenderer>,
}

impl SliceRenderers {
    #[must_use]
    pub fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("radlens slice shader"),
            source: wgpu::ShaderSource::Wgsl(SHADER_SOURCE.into()),
        });
        let texture_entry = |binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable: false },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("radlens slice bind group layout"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
                texture_entry(1),
                texture_entry(2),
                texture_entry(3),
                texture_entry(4),
                texture_entry(5),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("radlens slice pipeline layout"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("radlens slice pipeline"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &shader,
                entry_point: Some("vs_main"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                buffers: &[],
            },
            fragment: Some(wgpu::FragmentState {
                module: &shader,
                entry_point: Some("fs_main"),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                targets: &[Some(target_format.into())],
            }),
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            multiview_mask: None,
            cache: None,
        });
        Self {
            pipeline,
            layout,
            views: HashMap::new(),
        }
    }

    /// The renderer of one view (created on first use).
    pub fn view(&mut self, device: &wgpu::Device, view: u64) -> &mut SliceRenderer {
        self.views
            .entry(view)
            .or_insert_with(|| SliceRenderer::new(device, &self.layout))
    }

    /// Draws `view`, if it has been prepared.
    pub fn draw(&self, view: u64, pass: &mut wgpu::RenderPass<'_>) {
        if let Some(renderer) = self.views.get(&view)
            && let Some(bind_group) = &renderer.bind_group
        {
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, bind_group, &[]);
            pass.draw(0..6, 0..1);
        }
    }
}

/// The textures and bind group of one view.
pub struct SliceRenderer {
    uniforms: wgpu::Buffer,
    grey: Option<wgpu::Texture>,
    rgb: Option<wgpu::Texture>,
    heat: Option<wgpu::Texture>,
    mask: Option<wgpu::Texture>,
    lut: wgpu::Texture,
    /// 1×1 stand-ins for layers a view does not have.
    placeholder_r32: wgpu::Texture,
    placeholder_rgba: wgpu::Texture,
    placeholder_r8: wgpu::Texture,
    bind_group: Option<wgpu::BindGroup>,
    is_rgb: bool,
    generations: Generations,
}

#[derive(Default, PartialEq)]
struct Generations {
    image: Option<u64>,
    heat: Option<u64>,
    mask: Option<u64>,
    colormap: Option<Colormap>,
}

/// A 2-D texture for sampling (`usage` adds to `TEXTURE_BINDING | COPY_DST`, e.g. a render target).
fn texture(
    device: &wgpu::Device,
    label: &str,
    width: u32,
    height: u32,
    format: wgpu::TextureFormat,
) -> wgpu::Texture {
    texture_with_usage(
        device,
        label,
        (width, height, format),
        wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
    )
}

/// A 2-D texture with exactly `usage`.
pub(super) fn texture_with_usage(
    device: &wgpu::Device,
    label: &str,
    (width, height, format): (u32, u32, wgpu::TextureFormat),
    usage: wgpu::TextureUsages,
) -> wgpu::Texture {
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage,
        view_formats: &[],
    })
}

/// Uploads `bytes` into `slot`, reusing the texture when its size and format still fit.
fn upload(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    slot: &mut Option<wgpu::Texture>,
    label: &str,
    (width, height, format, bytes_per_texel): (u32, u32, wgpu::TextureFormat, u32),
    bytes: &[u8],
) -> bool {
    let fits = slot
        .as_ref()
        .is_some_and(|t| t.width() == width && t.height() == height && t.format() == format);
    let recreated = !fits;
    if recreated {
        *slot = Some(texture(device, label, width, height, format));
    }
    if let Some(t) = slot {
        queue.write_texture(
            t.as_image_copy(),
            bytes,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(width * bytes_per_texel),
                rows_per_image: Some(height),
            },
            wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
        );
    }
    recreated
}

impl SliceRenderer {
    fn new(device: &wgpu::Device, _layout: &wgpu::BindGroupLayout) -> Self {
        Self {
            uniforms: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("radlens slice uniforms"),
                size: std::mem::size_of::<GpuParams>() as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            grey: None,
            rgb: None,
            heat: None,
            mask: None,
            lut: texture(
                device,
                "radlens colormap",
                LUT_SIZE as u32,
                1,
                wgpu::TextureFormat::Rgba8Unorm,
            ),
            placeholder_r32: texture(
                device,
                "radlens empty r32",
                1,
                1,
                wgpu::TextureFormat::R32Float,
            ),
            placeholder_rgba: texture(
                device,
                "radlens empty rgba",
                1,
                1,
                wgpu::TextureFormat::Rgba8Unorm,
            ),
            placeholder_r8: texture(
                device,
                "radlens empty r8",
                1,
                1,
                wgpu::TextureFormat::R8Unorm,
            ),
            bind_group: None,
            is_rgb: false,
            generations: Generations::default(),
        }
    }

    /// Brings the textures up to date (uploading only what changed) and writes the uniforms.
    #[allow(clippy::too_many_arguments)]
    pub fn prepare(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        layout: &wgpu::BindGroupLayout,
        image: &Arc<SliceImage>,
        heat: Option<&Arc<HeatLayer>>,
        mask: Option<&Arc<MaskLayer>>,
        colormap: Colormap,
        uniforms: &Uniforms,
    ) {
        let rebind = self.upload_layers(device, queue, image, heat, mask, colormap);
        if rebind || self.bind_group.is_none() {
            self.bind_group = Some(self.bind(device, layout));
        }

        let mut flags = 0;
        let ShadeParams {
            window,
            invert,
            heat: heat_params,
        } = uniforms.shade;
        if invert {
            flags |= FLAG_INVERT;
        }
        if uniforms.bilinear {
            flags |= FLAG_BILINEAR;
        }
        if self.is_rgb {
            flags |= FLAG_RGB;
        }
        let heat_params = heat_params.filter(|_| heat.is_some());
        if let Some(h) = heat_params {
            flags |= FLAG_HEAT;
            if h.signed {
                flags |= FLAG_SIGNED;
            }
        }
        if uniforms.show_mask && mask.is_some() {
            flags |= FLAG_MASK;
        }
        let h = heat_params.unwrap_or(HeatParams {
            low: 0.0,
            high: 1.0,
            threshold: 1.0,
            opacity: 0.0,
            signed: false,
        });
        let params = GpuParams {
            rect_min: uniforms.rect_min,
            rect_max: uniforms.rect_max,
            window_center: window.center,
            window_width: window.width,
            heat_low: h.low,
            heat_high: h.high,
            heat_threshold: h.threshold,
            heat_opacity: h.opacity,
            flags,
            pad: 0,
        };
        queue.write_buffer(&self.uniforms, 0, bytemuck::bytes_of(&params));
    }

    /// Uploads whatever changed since last time; true when a texture was (re)created and the bind
    /// group must be rebuilt.
    fn upload_layers(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        image: &Arc<SliceImage>,
        heat: Option<&Arc<HeatLayer>>,
        mask: Option<&Arc<MaskLayer>>,
        colormap: Colormap,
    ) -> bool {
        let mut rebind = false;
        if self.generations.image != Some(image.generation) {
            match &image.pixels {
                Frame::Grey(values) => {
                    rebind |= upload(
                        device,
                        queue,
                        &mut self.grey,
                        "radlens slice",
                        (image.width, image.height, wgpu::TextureFormat::R32Float, 4),
                        bytemuck::cast_slice(values),
                    );
                    rebind |= self.is_rgb;
                    self.is_rgb = false;
                }
                Frame::Rgba(rgba) => {
                    rebind |= upload(
                        device,
                        queue,
                        &mut self.rgb,
                        "radlens colour slice",
                        (
                            image.width,
                            image.height,
                            wgpu::TextureFormat::Rgba8Unorm,
                            4,
                        ),
                        rgba,
                    );
                    rebind |= !self.is_rgb;
                    self.is_rgb = true;
                }
            }
            self.generations.image = Some(image.generation);
        }
        if let Some(h) = heat
            && self.generations.heat != Some(h.generation)
        {
            rebind |= upload(
                device,
                queue,
                &mut self.heat,
                "radlens heatmap",
                (h.width, h.height, wgpu::TextureFormat::R32Float, 4),
                bytemuck::cast_slice(&h.values),
            );
            self.generations.heat = Some(h.generation);
        }
        if let Some(m) = mask
            && self.generations.mask != Some(m.generation)
        {
            rebind |= upload(
                device,
                queue,
                &mut self.mask,
                "radlens mask",
                (m.width, m.height, wgpu::TextureFormat::R8Unorm, 1),
                &m.values
                    .iter()
                    .map(|&v| if v == 0 { 0 } else { 255 })
                    .collect::<Vec<u8>>(),
            );
            self.generations.mask = Some(m.generation);
        }
        if self.generations.colormap != Some(colormap) {
            let lut = colormap.lut();
            queue.write_texture(
                self.lut.as_image_copy(),
                bytemuck::cast_slice(&lut),
                wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(LUT_SIZE as u32 * 4),
                    rows_per_image: Some(1),
                },
                wgpu::Extent3d {
                    width: LUT_SIZE as u32,
                    height: 1,
                    depth_or_array_layers: 1,
                },
            );
            self.generations.colormap = Some(colormap);
        }
        rebind
    }

    fn bind(&self, device: &wgpu::Device, layout: &wgpu::BindGroupLayout) -> wgpu::BindGroup {
        let view = |t: &wgpu::Texture| t.create_view(&wgpu::TextureViewDescriptor::default());
        let grey = view(self.grey.as_ref().unwrap_or(&self.placeholder_r32));
        let rgb = view(self.rgb.as_ref().unwrap_or(&self.placeholder_rgba));
        let heat = view(self.heat.as_ref().unwrap_or(&self.placeholder_r32));
        let mask = view(self.mask.as_ref().unwrap_or(&self.placeholder_r8));
        let lut = view(&self.lut);
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("radlens slice bind group"),
            layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: self.uniforms.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(&grey),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::TextureView(&rgb),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: wgpu::BindingResource::TextureView(&heat),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: wgpu::BindingResource::TextureView(&mask),
                },
                wgpu::BindGroupEntry {
                    binding: 5,
                    resource: wgpu::BindingResource::TextureView(&lut),
                },
            ],
        })
    }
}

impl SliceRenderers {
    /// Prepares `view` for drawing (see [`SliceRenderer::prepare`]).
    #[allow(clippy::too_many_arguments)]
    pub fn prepare(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        view: u64,
        image: &Arc<SliceImage>,
        heat: Option<&Arc<HeatLayer>>,
        mask: Option<&Arc<MaskLayer>>,
        colormap: Colormap,
        uniforms: &Uniforms,
    ) {
        let layout = self.layout.clone();
        self.view(device, view).prepare(
            device, queue, &layout, image, heat, mask, colormap, uniforms,
        );
    }
}
