//! Rendering a view without egui: into a texture of our own, optionally read back to the CPU.
//! Used by tests (the shader against its CPU reference), benchmarks and exports.

use egui_wgpu::wgpu;

use super::renderer::{SliceRenderers, texture_with_usage};

impl SliceRenderers {
    /// Draws `view` alone into `target` (cleared to black), submits and waits for the GPU.
    pub fn render_frame(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        view: u64,
        target: &wgpu::TextureView,
    ) -> Result<(), String> {
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        self.encode_pass(&mut encoder, view, target);
        queue.submit([encoder.finish()]);
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| format!("GPU did not finish: {e}"))
    }

    fn encode_pass(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        view: u64,
        target: &wgpu::TextureView,
    ) {
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("radlens offscreen pass"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: target,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        self.draw(view, &mut pass);
    }

    /// Renders `view` alone into a new `width`×`height` RGBA8 texture and returns its pixels
    /// (tests and exports; the pipeline's target format must be `Rgba8Unorm`).
    pub fn render_offscreen(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        view: u64,
        width: u32,
        height: u32,
    ) -> Result<Vec<u8>, String> {
        let target = texture_with_usage(
            device,
            "radlens offscreen",
            (width, height, wgpu::TextureFormat::Rgba8Unorm),
            wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        );
        let target_view = target.create_view(&wgpu::TextureViewDescriptor::default());
        let padded_row = (width * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT)
            * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("radlens offscreen readback"),
            size: u64::from(padded_row * height),
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
            mapped_at_creation: false,
        });
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
        self.encode_pass(&mut encoder, view, &target_view);
        encoder.copy_texture_to_buffer(
            wgpu::TexelCopyTextureInfo {
                texture: &target,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::TexelCopyBufferInfo {
                buffer: &buffer,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(padded_row),
                    rows_per_image: Some(height),
                },
            },
            wgpu::Extent3d {
                width,
                height,
                depth_or_array_layers: 1,
            },
        );
        queue.submit([encoder.finish()]);
        let slice = buffer.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            // The receiver waits just below; if it is gone there is nobody left to tell.
            let _ = tx.send(r);
        });
        device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| format!("GPU did not finish: {e}"))?;
        rx.recv()
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot read back the image: {e}"))?;
        let data = slice
            .get_mapped_range()
            .map_err(|e| format!("cannot read back the image: {e}"))?;
        let mut out = Vec::with_capacity((width * height * 4) as usize);
        for row in data.chunks(padded_row as usize).take(height as usize) {
            out.extend_from_slice(&row[..(width * 4) as usize]);
        }
        Ok(out)
    }
}
