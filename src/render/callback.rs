//! The egui paint callback: a few words of state per frame, the heavy data behind `Arc`s whose
//! generation numbers tell the renderer whether anything needs uploading.

use std::sync::Arc;

use egui_wgpu::wgpu;

use super::renderer::{HeatLayer, MaskLayer, SliceImage, SliceRenderers, Uniforms};
use crate::imaging::Colormap;

/// Registers the slice pipeline with egui-wgpu (once, at start-up).
pub fn install(render_state: &egui_wgpu::RenderState) {
    let renderers = SliceRenderers::new(&render_state.device, render_state.target_format);
    render_state
        .renderer
        .write()
        .callback_resources
        .insert(renderers);
}

/// Draws one view's slice; created anew every frame.
pub struct SliceCallback {
    pub view: u64,
    pub image: Arc<SliceImage>,
    pub heat: Option<Arc<HeatLayer>>,
    pub mask: Option<Arc<MaskLayer>>,
    pub colormap: Colormap,
    pub uniforms: Uniforms,
}

impl egui_wgpu::CallbackTrait for SliceCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        if let Some(renderers) = resources.get_mut::<SliceRenderers>() {
            renderers.prepare(
                device,
                queue,
                self.view,
                &self.image,
                self.heat.as_ref(),
                self.mask.as_ref(),
                self.colormap,
                &self.uniforms,
            );
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        render_pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        if let Some(renderers) = resources.get::<SliceRenderers>() {
            renderers.draw(self.view, render_pass);
        }
    }
}
