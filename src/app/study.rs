//! A loaded series and how it is being looked at: its view state, what the pointer is over, and
//! the GPU layers of the slice on screen (its pixels, its mask, each pane's heatmap, the
//! comparison's difference view), each rebuilt only when what it shows changes.

use std::sync::Arc;

use crate::dicom::{Volume, Voxels};
use crate::explain::Heatmap;
use crate::imaging::HeatParams;
use crate::render::{Frame, HeatLayer, MaskLayer, SliceImage};
use crate::ui::status::Hover;
use crate::ui::view::ViewState;

use super::explanation::Explanation;
use super::inference::MAX_PANES;

/// A loaded series and how it is being looked at.
pub struct Study {
    pub volume: Arc<Volume>,
    pub series_index: usize,
    pub view: ViewState,
    /// The current slice's pixels, rebuilt only when the slice changes.
    image: Option<(usize, Arc<SliceImage>)>,
    /// Region-of-interest mask per slice (from DICOM SEG objects of the study).
    pub masks: Vec<Option<Vec<u8>>>,
    /// The current slice's mask for the GPU, rebuilt only when the slice changes.
    mask_layer: Option<(usize, Option<Arc<MaskLayer>>)>,
    /// Each pane's heatmap on screen for the GPU, rebuilt only when the heatmap changes.
    heat_layers: [Option<(usize, Arc<HeatLayer>)>; MAX_PANES],
    /// The comparison layout's difference view, rebuilt only when either heatmap changes.
    difference: Option<((usize, usize), Arc<HeatLayer>)>,
    pub hover: Option<Hover>,
    pub image_rect: Option<egui::Rect>,
    /// A Parametric Map opened over the series (File > Open result objects): pane 1 shows its
    /// heatmap on the slices it covers instead of computing one.
    pub map_layer: Option<MapOverlay>,
    /// The three-plane layout, when it is on (key `x`).
    pub mpr: Option<super::mpr::Mpr>,
}

/// The middle slice of a series still decoding, on screen until the series is loaded.
pub struct Preview {
    pub slice: Arc<Volume>,
    pub series_index: usize,
    /// Slices of the whole series.
    pub total: usize,
    pub view: ViewState,
    image: Arc<SliceImage>,
    /// Where the slice was drawn last frame.
    pub image_rect: Option<egui::Rect>,
}

impl Preview {
    pub(super) fn new(slice: Volume, series_index: usize, total: usize) -> Self {
        let image = Arc::new(slice_image(&slice, 0, crate::render::next_generation()));
        let view = ViewState {
            slice: total / 2,
            ..ViewState::for_volume(&slice)
        };
        Self {
            slice: Arc::new(slice),
            series_index,
            total,
            view,
            image,
            image_rect: None,
        }
    }

    /// Draws the slice (window/level, zoom and pan work; the slice cannot change yet).
    pub(super) fn ui(&mut self, ui: &mut egui::Ui, gpu: bool, bilinear: bool) {
        let [_, rows, cols] = self.slice.shape;
        let sheet = crate::ui::view::Sheet {
            shape: [self.total.max(1), rows, cols],
            ..crate::ui::view::Sheet::of(&self.slice)
        };
        let input = crate::ui::viewer::ViewerInput {
            volume: &self.slice,
            sheet,
            image: &self.image,
            heat: None,
            mask: None,
            colormap: crate::imaging::Colormap::Jet,
            bilinear,
            gpu,
            view_id: 0,
            crosshair: None,
            rois: &[],
            active_roi: None,
            draft: None,
            drawing: false,
        };
        let middle = self.total / 2;
        let output = crate::ui::viewer::viewer_ui(ui, &input, &mut self.view);
        self.view.slice = middle;
        self.image_rect = output.image_rect;
    }
}

/// A Parametric Map's heatmaps, per slice of the series.
pub struct MapOverlay {
    pub name: String,
    pub heatmaps: Vec<Option<Arc<crate::explain::Heatmap>>>,
}

impl Study {
    /// A freshly loaded series, on its middle slice with its default window.
    pub(super) fn new(volume: Volume, series_index: usize, masks: Vec<Option<Vec<u8>>>) -> Self {
        let view = ViewState::for_volume(&volume);
        Self {
            volume: Arc::from(volume),
            series_index,
            view,
            image: None,
            masks,
            mask_layer: None,
            heat_layers: Default::default(),
            difference: None,
            hover: None,
            image_rect: None,
            map_layer: None,
            mpr: None,
        }
    }

    /// Replaces the study's masks (a cohort case's mask, read after its image).
    pub(super) fn set_masks(&mut self, masks: Vec<Option<Vec<u8>>>) {
        self.masks = masks;
        self.mask_layer = None;
    }

    /// The current slice's pixels for the GPU (rebuilt only when the slice changes).
    pub(super) fn slice_image(&mut self, slice: usize) -> Arc<SliceImage> {
        match &self.image {
            Some((s, image)) if *s == slice => Arc::clone(image),
            _ => {
                let image = Arc::new(slice_image(
                    &self.volume,
                    slice,
                    crate::render::next_generation(),
                ));
                self.image = Some((slice, Arc::clone(&image)));
                image
            }
        }
    }

    /// The current slice's region of interest for the GPU, if it has one.
    pub(super) fn mask_layer(&mut self, slice: usize) -> Option<Arc<MaskLayer>> {
        match &self.mask_layer {
            Some((s, layer)) if *s == slice => layer.clone(),
            _ => {
                let [_, rows, cols] = self.volume.shape;
                let layer = self
                    .masks
                    .get(slice)
                    .and_then(Option::as_ref)
                    .map(|values| {
                        Arc::new(MaskLayer {
                            generation: crate::render::next_generation(),
                            width: cols as u32,
                            height: rows as u32,
                            values: values.clone(),
                        })
                    });
                self.mask_layer = Some((slice, layer.clone()));
                layer
            }
        }
    }

    /// What the status bar says about the pixel `(col, row)` under the pointer.
    pub(super) fn set_hover(&mut self, pixel: Option<(usize, usize)>) {
        let slice = self.view.slice;
        self.hover = pixel.map(|(col, row)| Hover {
            col,
            row,
            slice,
            value: self.volume.value(slice, row, col),
            patient_mm: self.volume.geometry.patient_from_voxel([
                col as f64,
                row as f64,
                slice as f64,
            ]),
        });
    }

    /// Pane `pane`'s heatmap on screen as a GPU layer with its display parameters (rebuilt only
    /// when the heatmap changes).
    pub(super) fn heat_layer(
        &mut self,
        pane: usize,
        heatmap: Option<&Arc<Heatmap>>,
        explanation: &Explanation,
    ) -> Option<(Arc<HeatLayer>, HeatParams)> {
        heat_layer(self.heat_layers.get_mut(pane)?, heatmap, explanation)
    }

    /// The comparison layout's difference view of two heatmaps (rebuilt only when either
    /// changes).
    pub(super) fn difference_layer(
        &mut self,
        a: Option<&Arc<Heatmap>>,
        b: Option<&Arc<Heatmap>>,
    ) -> Option<(Arc<HeatLayer>, HeatParams)> {
        difference_layer(&mut self.difference, a, b)
    }
}

/// The GPU layer and display parameters of `heatmap` (cached in `cache` by the heatmap's
/// identity): raw values uploaded as they are, the display range their min–max (±max |v| when
/// signed), threshold and opacity from the pane.
fn heat_layer(
    cache: &mut Option<(usize, Arc<HeatLayer>)>,
    heatmap: Option<&Arc<Heatmap>>,
    pane: &Explanation,
) -> Option<(Arc<HeatLayer>, HeatParams)> {
    let heatmap = heatmap?;
    let key = Arc::as_ptr(heatmap) as usize;
    let layer = match cache {
        Some((k, layer)) if *k == key => Arc::clone(layer),
        _ => {
            let layer = Arc::new(HeatLayer {
                generation: crate::render::next_generation(),
                width: heatmap.cols as u32,
                height: heatmap.rows as u32,
                values: heatmap.values.clone(),
            });
            *cache = Some((key, Arc::clone(&layer)));
            layer
        }
    };
    // The same display parameters an export uses, so the two pictures agree.
    let params =
        crate::export::viewer_heat_params(heatmap, pane.choice.threshold, pane.choice.opacity);
    Some((layer, params))
}

/// The pixels of one slice for the GPU.
fn slice_image(volume: &Volume, slice: usize, generation: u64) -> SliceImage {
    let [_, rows, cols] = volume.shape;
    let pixels = if let Voxels::Rgb8(rgb) = &volume.voxels {
        let plane = rows * cols * 3;
        let part = &rgb[slice * plane..(slice + 1) * plane];
        Frame::Rgba(
            part.chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect(),
        )
    } else {
        let mut values = vec![0.0; rows * cols];
        volume.slice_f32_into(slice, &mut values);
        Frame::Grey(values)
    };
    SliceImage {
        generation,
        width: cols as u32,
        height: rows as u32,
        pixels,
    }
}

/// The signed difference of two heatmaps of the same grid, each scaled to its largest magnitude
/// (raw units of different methods are not comparable), cached by the pair's identity.
fn difference_layer(
    cache: &mut Option<((usize, usize), Arc<HeatLayer>)>,
    a: Option<&Arc<Heatmap>>,
    b: Option<&Arc<Heatmap>>,
) -> Option<(Arc<HeatLayer>, HeatParams)> {
    let (a, b) = (a?, b?);
    if (a.rows, a.cols) != (b.rows, b.cols) {
        return None;
    }
    let key = (Arc::as_ptr(a) as usize, Arc::as_ptr(b) as usize);
    let layer = match cache {
        Some((k, layer)) if *k == key => Arc::clone(layer),
        _ => {
            let max_abs = crate::explain::Normalisation::MaxAbs;
            let values = a
                .normalised(max_abs)
                .iter()
                .zip(b.normalised(max_abs))
                .map(|(x, y)| x - y)
                .collect();
            let layer = Arc::new(HeatLayer {
                generation: crate::render::next_generation(),
                width: a.cols as u32,
                height: a.rows as u32,
                values,
            });
            *cache = Some((key, Arc::clone(&layer)));
            layer
        }
    };
    let params = HeatParams {
        low: 0.0,
        high: 1.0,
        threshold: 0.05,
        opacity: 0.7,
        signed: true,
    };
    Some((layer, params))
}
