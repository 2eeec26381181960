//! The three-plane layout (MPR, key `x`): the acquired slices beside the two reformatted planes,
//! linked by one crosshair voxel. A click in any plane moves the crosshair there and the other
//! two planes to it; the wheel steps each plane along its own normal; window/level, invert and
//! the mask toggle are shared. SEG masks and drawn ROIs show in all three planes; the acquired
//! plane keeps its heatmap, ROI drawing and hover read-out as in the single view.

use std::sync::Arc;

use crate::dicom::Volume;
use crate::dicom::mpr::{Plane, Voxel};
use crate::imaging::Colormap;
use crate::render::{Frame, HeatLayer, MaskLayer, SliceImage};
use crate::review::Roi;
use crate::ui;
use crate::ui::view::{Sheet, ViewState};

use super::RadlensApp;
use super::heat_volume::HeatVolume;
use super::study::Study;

/// GPU view ids of the reformatted planes (the comparison panes use 0–4).
const VIEW_ID: [u64; 3] = [100, 101, 102];

/// The MPR layout's state, per loaded series.
pub struct Mpr {
    /// The crosshair: a voxel `[slice, row, column]`.
    pub cursor: Voxel,
    pub planes: [Plane; 3],
    /// Zoom and pan of the reformatted planes (the acquired plane uses the study's view).
    views: [ViewState; 2],
    /// Each reformatted plane's pixels, cut again only when its position changes.
    images: [Option<(usize, Arc<SliceImage>)>; 2],
    /// Each reformatted plane's mask, cut again when its position or the ROIs change.
    masks: [Option<MaskKey>; 2],
    /// Each plane's cut of the heat volume: (position, heat volume identity, layer).
    heat: [Option<(usize, usize, Arc<HeatLayer>)>; 3],
    /// Where each plane's image was drawn last frame (tests check the aspect with it).
    pub rects: [Option<egui::Rect>; 3],
}

type MaskKey = (usize, Vec<(usize, Vec<Roi>)>, Option<Arc<MaskLayer>>);

impl Mpr {
    /// The layout for `volume`, its crosshair at the centre of slice `slice`.
    #[must_use]
    pub fn new(volume: &Volume, view: &ViewState) -> Self {
        let [_, rows, cols] = volume.shape;
        let planes = Plane::all(volume);
        let cursor = [view.slice, rows / 2, cols / 2];
        let for_plane = |plane: &Plane| ViewState {
            slice: cursor[plane.fixed_axis],
            ..view.clone()
        };
        Self {
            cursor,
            views: [for_plane(&planes[1]), for_plane(&planes[2])],
            planes,
            images: [None, None],
            masks: [None, None],
            heat: [None, None, None],
            rects: [None; 3],
        }
    }

    /// The plane's image at its current position (cut only when the position changed).
    fn image(&mut self, k: usize, volume: &Volume) -> Arc<SliceImage> {
        let plane = &self.planes[k + 1];
        let position = self.cursor[plane.fixed_axis];
        if let Some((p, image)) = &self.images[k]
            && *p == position
        {
            return Arc::clone(image);
        }
        let pixels = match plane.rgba(volume, position) {
            Some(rgba) => Frame::Rgba(rgba),
            None => Frame::Grey(plane.grey(volume, position)),
        };
        let image = Arc::new(SliceImage {
            generation: crate::render::next_generation(),
            width: plane.shape[2] as u32,
            height: plane.shape[1] as u32,
            pixels,
        });
        self.images[k] = Some((position, Arc::clone(&image)));
        image
    }

    /// Plane `k`'s cut of `heat` at its current position (cut again only when either changes).
    fn heat_layer(
        &mut self,
        k: usize,
        heat: &Arc<HeatVolume>,
        shape: [usize; 3],
    ) -> Arc<HeatLayer> {
        let plane = &self.planes[k];
        let position = self.cursor[plane.fixed_axis];
        let identity = Arc::as_ptr(heat) as usize;
        if let Some((p, h, layer)) = &self.heat[k]
            && *p == position
            && *h == identity
        {
            return Arc::clone(layer);
        }
        let layer = Arc::new(HeatLayer {
            generation: crate::render::next_generation(),
            width: plane.shape[2] as u32,
            height: plane.shape[1] as u32,
            values: plane.sample(position, |voxel| heat.value(voxel, shape)),
        });
        self.heat[k] = Some((position, identity, Arc::clone(&layer)));
        layer
    }

    /// Reformatted plane `k` (1 or 2) with the crosshair, sharing the acquired view's window,
    /// invert and toggles (a window dragged here is the acquired view's too).
    #[allow(clippy::too_many_arguments)] // one pane: what it shows and how
    fn reformatted_ui(
        &mut self,
        k: usize,
        ui: &mut egui::Ui,
        study: &mut Study,
        rois: &[(usize, Vec<Roi>)],
        heat: Option<&(Arc<HeatLayer>, crate::imaging::HeatParams)>,
        colormap: Colormap,
        (bilinear, gpu): (bool, bool),
    ) -> ui::viewer::ViewerOutput {
        let plane = self.planes[k];
        let (_, col, row) = plane.pixel(self.cursor);
        let image = self.image(k - 1, &study.volume);
        let mask = self.mask(k - 1, &study.volume, &study.masks, rois);
        let view = &mut self.views[k - 1];
        view.window = study.view.window;
        view.invert = study.view.invert;
        view.show_mask = study.view.show_mask;
        view.show_heat = study.view.show_heat;
        view.slice = self.cursor[plane.fixed_axis];
        let input = ui::viewer::ViewerInput {
            volume: &study.volume,
            sheet: Sheet::plane(&plane),
            image: &image,
            heat: heat.map(|(layer, params)| (layer, *params)),
            mask: mask.as_ref(),
            colormap,
            bilinear,
            gpu,
            view_id: VIEW_ID[k],
            crosshair: Some((col, row)),
            rois: &[],
            active_roi: None,
            draft: None,
            drawing: false,
        };
        let output = ui::viewer::viewer_ui(ui, &input, view);
        if view.window != study.view.window || view.invert != study.view.invert {
            study.view.window = view.window;
            study.view.invert = view.invert;
        }
        self.cursor[plane.fixed_axis] = view.slice;
        output
    }

    /// The plane's mask (SEG masks and drawn ROIs) at its current position.
    fn mask(
        &mut self,
        k: usize,
        volume: &Volume,
        masks: &[Option<Vec<u8>>],
        rois: &[(usize, Vec<Roi>)],
    ) -> Option<Arc<MaskLayer>> {
        let plane = &self.planes[k + 1];
        let position = self.cursor[plane.fixed_axis];
        if let Some((p, r, layer)) = &self.masks[k]
            && *p == position
            && r.as_slice() == rois
        {
            return layer.clone();
        }
        // Only the slices with drawn ROIs are rasterised; SEG masks are read where they are.
        let [slices, rows, cols] = volume.shape;
        let mut drawn: Vec<Option<Vec<u8>>> = vec![None; slices];
        for (slice, shapes) in rois {
            let Some(target) = drawn.get_mut(*slice) else {
                continue;
            };
            for inside in shapes.iter().filter_map(|roi| roi.rasterise(rows, cols)) {
                let target = target.get_or_insert_with(|| vec![0; rows * cols]);
                for (t, i) in target.iter_mut().zip(inside) {
                    *t |= u8::from(i);
                }
            }
        }
        let layer = plane
            .mask(volume.shape, &[masks, &drawn], position)
            .map(|values| {
                Arc::new(MaskLayer {
                    generation: crate::render::next_generation(),
                    width: plane.shape[2] as u32,
                    height: plane.shape[1] as u32,
                    values,
                })
            });
        self.masks[k] = Some((position, rois.to_vec(), layer.clone()));
        layer
    }
}

impl RadlensApp {
    /// Toggles the three-plane layout of the open series.
    pub(super) fn toggle_mpr(&mut self) {
        if let Some(study) = &mut self.study {
            study.mpr = match study.mpr.take() {
                Some(_) => None,
                None => Some(Mpr::new(&study.volume, &study.view)),
            };
        }
    }

    /// The three planes side by side in `ui`'s remaining space.
    pub(super) fn mpr_ui(&mut self, ui: &mut egui::Ui) {
        let (bilinear, gpu) = (self.settings.bilinear, self.gpu);
        let Some(study) = &mut self.study else {
            return;
        };
        let Some(mut mpr) = study.mpr.take() else {
            return;
        };
        // Keys and the single view may have moved the acquired slice.
        mpr.cursor[0] = study
            .view
            .slice
            .min(study.volume.shape[0].saturating_sub(1));
        let rois: Vec<(usize, Vec<Roi>)> = self
            .rois
            .all()
            .map(|(slice, shapes)| (slice, shapes.to_vec()))
            .collect();
        let heat_volume = self.series_bar(ui);
        let Some(study) = &mut self.study else {
            return;
        };
        let rects = ui::compare::pane_rects(ui.available_rect_before_wrap(), 3);
        let mut clicked: Option<Voxel> = None;
        // The heat volume shows with pane 1's colormap, threshold and opacity, as they are now.
        let (colormap, threshold, opacity) = self
            .model
            .as_ref()
            .and_then(|m| m.panes.first())
            .map_or((Colormap::Jet, 0.2, 0.5), |p| {
                (p.choice.colormap, p.choice.threshold, p.choice.opacity)
            });
        for (k, rect) in rects.into_iter().enumerate() {
            let mut child = ui.new_child(egui::UiBuilder::new().max_rect(rect.shrink(2.0)));
            child.set_clip_rect(rect.shrink(1.0));
            let plane = mpr.planes[k];
            let (col, row) = {
                let (_, col, row) = plane.pixel(mpr.cursor);
                (col, row)
            };
            let heat = heat_volume.as_ref().map(|h| {
                (
                    mpr.heat_layer(k, h, study.volume.shape),
                    h.params(threshold, opacity),
                )
            });
            let output = if k == 0 {
                let output = super::viewport::single_view_ui(
                    &mut child,
                    study,
                    &mut self.rois,
                    self.model.as_ref(),
                    (bilinear, gpu),
                    Some((col, row)),
                    heat.clone(),
                );
                mpr.cursor[0] = study.view.slice;
                output
            } else {
                mpr.reformatted_ui(
                    k,
                    &mut child,
                    study,
                    &rois,
                    heat.as_ref(),
                    colormap,
                    (bilinear, gpu),
                )
            };
            if let (Some((_, params)), Some(h)) = (&heat, &heat_volume) {
                let title = format!("{} (series)", h.method.name());
                ui::compare::heat_colorbar(&child, colormap, params, &title);
            }
            mpr.rects[k] = output.image_rect;
            if let Some((col, row)) = output.clicked_pixel {
                clicked = Some(plane.voxel(mpr.cursor[plane.fixed_axis], col, row));
            }
        }
        if let Some(voxel) = clicked {
            mpr.cursor = voxel;
            study.view.slice = voxel[0];
        }
        study.mpr = Some(mpr);
    }
}

impl RadlensApp {
    /// "Explain the series" with pane 1's method: the button, or its progress and Cancel, and
    /// what came of it; returns the heat volume of the open series when there is one.
    fn series_bar(&mut self, ui: &mut egui::Ui) -> Option<Arc<HeatVolume>> {
        let study = self.study.as_ref()?;
        let volume = Arc::clone(&study.volume);
        let Some(session) = &mut self.model else {
            ui.label("Load a model to explain the series in all three planes.");
            return None;
        };
        let mut start = false;
        ui.horizontal(|ui| {
            if let Some(series) = &session.series {
                ui.add(
                    egui::ProgressBar::new(series.run.fraction)
                        .desired_width(240.0)
                        .show_percentage()
                        .text("explaining the series"),
                );
                if ui.button("Cancel series").clicked() {
                    session.cancel_series();
                }
            } else {
                let method = session
                    .panes
                    .first()
                    .map_or("the method", |p| p.choice.method.name());
                start = ui
                    .button(format!("Explain the series ({method})"))
                    .on_hover_text(
                        "pane 1's method and class on every slice, shown in all three planes",
                    )
                    .clicked();
            }
            match &session.series_result {
                Some(Ok(heat)) if session.heat_volume(&volume).is_some() => {
                    ui.label(format!(
                        "heat volume: {}, {} slices, one colour range",
                        heat.method.name(),
                        heat.heatmaps.len()
                    ));
                }
                Some(Err(e)) => {
                    ui.colored_label(ui.visuals().warn_fg_color, e);
                }
                _ => {}
            }
        });
        if start && let Err(e) = session.explain_series(&volume) {
            session.series_result = Some(Err(e));
        }
        session.heat_volume(&volume).cloned()
    }
}
