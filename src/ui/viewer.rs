//! The slice viewport: draws the slice through the GPU callback plus 2-D overlays (orientation
//! labels, scale bar, slice number), and turns mouse/keyboard input into view changes following
//! PACS conventions.

use std::sync::Arc;

use egui::{Align2, Event, Key, PointerButton, Pos2, Rect, Sense, Stroke, Vec2};

use crate::dicom::Volume;
use crate::imaging::{Colormap, HeatParams, ShadeParams};
use crate::render::{HeatLayer, MaskLayer, SliceCallback, SliceImage, Uniforms};
use crate::review::Roi;

use super::roi::RoiPointer;
use super::theme;
use super::view::{
    Sheet, ViewState, image_rect, nice_length_mm, orientation_labels, pixel_at, pixel_centre,
};

/// Everything the viewport draws, besides the view state.
pub struct ViewerInput<'a> {
    pub volume: &'a Volume,
    /// What of the volume this viewport shows: the acquired slices or an MPR plane.
    pub sheet: Sheet,
    pub image: &'a Arc<SliceImage>,
    pub heat: Option<(&'a Arc<HeatLayer>, HeatParams)>,
    pub mask: Option<&'a Arc<MaskLayer>>,
    pub colormap: Colormap,
    pub bilinear: bool,
    /// GPU rendering available (false only in headless tests without wgpu).
    pub gpu: bool,
    /// Which GPU view this is (each pane of the comparison layout has its own textures).
    pub view_id: u64,
    /// Image pixel `(col, row)` to mark with a crosshair (the pointer's, in linked panes).
    pub crosshair: Option<(usize, usize)>,
    /// The slice's ROIs to outline, the one the metrics use, and the shape being drawn.
    pub rois: &'a [Roi],
    pub active_roi: Option<usize>,
    pub draft: Option<&'a Roi>,
    /// A drawing tool is active: left-drag and clicks draw (reported in `roi_events`) instead of
    /// changing window/level or fitting the view.
    pub drawing: bool,
}

/// What happened in the viewport this frame.
#[derive(Default)]
pub struct ViewerOutput {
    /// Image pixel `(col, row)` under the pointer.
    pub hovered_pixel: Option<(usize, usize)>,
    /// Image pixel `(col, row)` clicked with the primary button (not while drawing).
    pub clicked_pixel: Option<(usize, usize)>,
    pub image_rect: Option<Rect>,
    /// Pointer events for the active drawing tool, in image pixel coordinates.
    pub roi_events: Vec<RoiPointer>,
}

pub fn viewer_ui(ui: &mut egui::Ui, input: &ViewerInput<'_>, view: &mut ViewState) -> ViewerOutput {
    let (viewport, response) = ui.allocate_exact_size(ui.available_size(), Sense::click_and_drag());
    let volume = input.volume;
    let sheet = &input.sheet;
    let slices = sheet.shape[0];

    let [_, rows, cols] = sheet.shape;
    let roi_events = if input.drawing {
        // Drawing uses the image placement of the frame the pointer acted on.
        let image = image_rect(sheet, view, viewport);
        let events = drawing_events(ui, &response, image, cols, rows);
        handle_pointer(ui, &response, viewport, view, slices, true);
        events
    } else {
        handle_pointer(ui, &response, viewport, view, slices, false);
        Vec::new()
    };

    let painter = ui.painter_at(viewport);
    painter.rect_filled(viewport, 0.0, theme::VIEWPORT_BACKGROUND);
    let image = image_rect(sheet, view, viewport);
    let clicked_pixel = response
        .clicked_by(PointerButton::Primary)
        .then(|| response.interact_pointer_pos())
        .flatten()
        .filter(|_| !input.drawing)
        .and_then(|p| pixel_at(p, image, cols, rows));
    if input.gpu {
        let to_clip = |p: Pos2| {
            [
                (p.x - viewport.min.x) / viewport.width() * 2.0 - 1.0,
                1.0 - (p.y - viewport.min.y) / viewport.height() * 2.0,
            ]
        };
        let monochrome1 = volume.photometric == crate::dicom::Photometric::Monochrome1;
        let uniforms = Uniforms {
            rect_min: to_clip(image.min),
            rect_max: to_clip(image.max),
            shade: ShadeParams {
                window: view.window,
                invert: view.invert != monochrome1,
                heat: input.heat.filter(|_| view.show_heat).map(|(_, p)| p),
            },
            bilinear: input.bilinear,
            show_mask: view.show_mask,
        };
        painter.add(egui_wgpu::Callback::new_paint_callback(
            viewport,
            SliceCallback {
                view: input.view_id,
                image: Arc::clone(input.image),
                heat: input.heat.map(|(h, _)| Arc::clone(h)),
                mask: input.mask.map(Arc::clone),
                colormap: input.colormap,
                uniforms,
            },
        ));
    }
    draw_overlays(&painter, viewport, image, volume, sheet, view);
    super::roi::paint_rois(
        &painter,
        image,
        [rows, cols],
        input.rois,
        input.active_roi,
        input.draft,
    );
    if let Some((col, row)) = input.crosshair {
        let centre = pixel_centre(col, row, image, cols, rows);
        let stroke = Stroke::new(1.0, theme::CROSSHAIR);
        painter.line_segment(
            [
                Pos2::new(viewport.min.x, centre.y),
                Pos2::new(viewport.max.x, centre.y),
            ],
            stroke,
        );
        painter.line_segment(
            [
                Pos2::new(centre.x, viewport.min.y),
                Pos2::new(centre.x, viewport.max.y),
            ],
            stroke,
        );
    }

    ViewerOutput {
        hovered_pixel: response
            .hover_pos()
            .and_then(|p| pixel_at(p, image, cols, rows)),
        clicked_pixel,
        image_rect: Some(image),
        roi_events,
    }
}

/// The primary button's presses, drags, releases and clicks on the image, in image pixel
/// coordinates (continuous: `x` = column, `y` = row). Shift-drag stays a pan.
fn drawing_events(
    ui: &egui::Ui,
    response: &egui::Response,
    image: Rect,
    cols: usize,
    rows: usize,
) -> Vec<RoiPointer> {
    let to_image = |p: Pos2| {
        [
            f64::from((p.x - image.min.x) / image.width()) * cols as f64,
            f64::from((p.y - image.min.y) / image.height()) * rows as f64,
        ]
    };
    let (shift, origin, latest) = ui.input(|i| {
        (
            i.modifiers.shift,
            i.pointer.press_origin(),
            i.pointer.latest_pos(),
        )
    });
    let Some(pos) = response.interact_pointer_pos().or(latest) else {
        return Vec::new();
    };
    let mut events = Vec::new();
    if shift {
        return events;
    }
    if response.drag_started_by(PointerButton::Primary) {
        events.push(RoiPointer::Press(to_image(origin.unwrap_or(pos))));
    }
    if response.dragged_by(PointerButton::Primary) && response.drag_delta() != Vec2::ZERO {
        events.push(RoiPointer::Drag(to_image(pos)));
    }
    if response.drag_stopped_by(PointerButton::Primary) {
        events.push(RoiPointer::Release(to_image(pos)));
    }
    if response.clicked_by(PointerButton::Primary) {
        events.push(RoiPointer::Click(to_image(pos)));
    }
    if response.double_clicked() {
        events.push(RoiPointer::DoubleClick(to_image(pos)));
    }
    events
}

fn handle_pointer(
    ui: &egui::Ui,
    response: &egui::Response,
    viewport: Rect,
    view: &mut ViewState,
    slices: usize,
    drawing: bool,
) {
    if response.double_clicked() && !drawing {
        view.fit();
    }
    let (modifiers, events) = ui.input(|i| (i.modifiers, i.events.clone()));
    if response.hovered() {
        for event in &events {
            if let Event::MouseWheel {
                delta, modifiers, ..
            } = event
            {
                let anchor = response.hover_pos().unwrap_or(viewport.center());
                if modifiers.command || modifiers.ctrl {
                    view.zoom_about((delta.y * 0.1).exp(), anchor, viewport);
                } else if delta.y != 0.0 {
                    // Wheel towards the user (content moves up) = next slice, as in PACS viewers.
                    view.step_slice(if delta.y < 0.0 { 1 } else { -1 }, slices);
                }
            }
        }
    }
    let delta = response.drag_delta();
    if delta != Vec2::ZERO {
        let primary = response.dragged_by(PointerButton::Primary);
        if response.dragged_by(PointerButton::Middle) || (primary && modifiers.shift) {
            view.pan += delta;
        } else if primary && !drawing {
            view.drag_window(delta);
        } else if response.dragged_by(PointerButton::Secondary) {
            let anchor = response.interact_pointer_pos().unwrap_or(viewport.center());
            let start = ui.input(|i| i.pointer.press_origin()).unwrap_or(anchor);
            view.zoom_about((-delta.y * 0.01).exp(), start, viewport);
        }
    }
}

/// Keyboard shortcuts of the viewer; `presets` are the CT presets (empty for other modalities).
pub fn viewer_keys(
    ctx: &egui::Context,
    view: &mut ViewState,
    volume: &Volume,
    presets: &[crate::imaging::Window],
) {
    if ctx.egui_wants_keyboard_input() {
        return;
    }
    let slices = volume.shape[0];
    ctx.input(|i| {
        for (key, delta) in [
            (Key::ArrowUp, -1),
            (Key::ArrowDown, 1),
            (Key::PageUp, -10),
            (Key::PageDown, 10),
        ] {
            if i.key_pressed(key) {
                view.step_slice(delta, slices);
            }
        }
        if i.key_pressed(Key::Home) {
            view.slice = 0;
        }
        if i.key_pressed(Key::End) {
            view.slice = slices.saturating_sub(1);
        }
        let number_keys = [
            Key::Num1,
            Key::Num2,
            Key::Num3,
            Key::Num4,
            Key::Num5,
            Key::Num6,
        ];
        for (key, preset) in number_keys.iter().zip(presets) {
            if i.key_pressed(*key) {
                view.window = *preset;
            }
        }
        if i.key_pressed(Key::Num0) {
            view.window = volume.default_window;
        }
        if i.key_pressed(Key::I) {
            view.invert = !view.invert;
        }
        if i.key_pressed(Key::H) {
            view.show_heat = !view.show_heat;
        }
        if i.key_pressed(Key::M) {
            view.show_mask = !view.show_mask;
        }
        if i.key_pressed(Key::R) {
            *view = ViewState {
                slice: view.slice,
                ..ViewState::for_volume(volume)
            };
        }
    });
}

fn draw_overlays(
    painter: &egui::Painter,
    viewport: Rect,
    image: Rect,
    volume: &Volume,
    sheet: &Sheet,
    view: &ViewState,
) {
    let font = egui::FontId::proportional(theme::OVERLAY_FONT_SIZE);
    let text = |pos: Pos2, align: Align2, s: &str| {
        painter.text(
            pos + Vec2::splat(1.0),
            align,
            s,
            font.clone(),
            theme::OVERLAY_SHADOW,
        );
        painter.text(pos, align, s, font.clone(), theme::OVERLAY_TEXT);
    };
    let [left, right, top, bottom] = orientation_labels(&sheet.geometry);
    let m = 6.0;
    text(
        Pos2::new(viewport.min.x + m, viewport.center().y),
        Align2::LEFT_CENTER,
        &left,
    );
    text(
        Pos2::new(viewport.max.x - m, viewport.center().y),
        Align2::RIGHT_CENTER,
        &right,
    );
    text(
        Pos2::new(viewport.center().x, viewport.min.y + m),
        Align2::CENTER_TOP,
        &top,
    );
    text(
        Pos2::new(viewport.center().x, viewport.max.y - m),
        Align2::CENTER_BOTTOM,
        &bottom,
    );
    text(
        viewport.left_top() + Vec2::splat(m),
        Align2::LEFT_TOP,
        &format!(
            "{} {}\n{} {} / {}",
            volume.modality,
            volume.description,
            sheet.name,
            view.slice + 1,
            sheet.shape[0]
        ),
    );

    // Scale bar: about a fifth of the viewport, a round number of millimetres.
    let [_, _, col_mm] = sheet.geometry.spacing_mm;
    let points_per_mm = image.width() / (sheet.shape[2] as f64 * col_mm) as f32;
    if points_per_mm.is_finite() && points_per_mm > 0.0 {
        let length_mm = nice_length_mm(viewport.width() / 5.0 / points_per_mm);
        let length = length_mm * points_per_mm;
        let y = viewport.max.y - 28.0;
        let x1 = viewport.max.x - 16.0;
        let x0 = x1 - length;
        let stroke = Stroke::new(2.0, theme::SCALE_BAR);
        painter.line_segment([Pos2::new(x0, y), Pos2::new(x1, y)], stroke);
        for x in [x0, x1] {
            painter.line_segment([Pos2::new(x, y - 5.0), Pos2::new(x, y + 5.0)], stroke);
        }
        text(
            Pos2::new(f32::midpoint(x0, x1), y - 6.0),
            Align2::CENTER_BOTTOM,
            &format!("{length_mm:.0} mm"),
        );
    }
}
