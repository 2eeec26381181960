//! The state of one slice view and its geometry: which slice, which window, where the image sits
//! on screen, which pixel is under a screen point. Pure logic (no painting) so it can be tested
//! directly; the viewer ([`super::viewer`]) changes it from input and draws with it.

use egui::{Pos2, Rect, Vec2};

use crate::dicom::{Geometry, Volume};
use crate::imaging::Window;

/// Navigation state of a view.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewState {
    pub slice: usize,
    pub window: Window,
    /// 1 = the whole image fits the viewport.
    pub zoom: f32,
    /// Offset of the image centre from the viewport centre, in points.
    pub pan: Vec2,
    /// The user's invert toggle (MONOCHROME1 inversion is applied on top).
    pub invert: bool,
    pub show_heat: bool,
    pub show_mask: bool,
}

pub const MIN_ZOOM: f32 = 0.1;
pub const MAX_ZOOM: f32 = 40.0;

impl ViewState {
    /// Middle slice, the volume's default window, fitted.
    #[must_use]
    pub fn for_volume(volume: &Volume) -> Self {
        Self {
            slice: volume.shape[0] / 2,
            window: volume.default_window,
            zoom: 1.0,
            pan: Vec2::ZERO,
            invert: false,
            show_heat: true,
            show_mask: true,
        }
    }

    /// Moves by `delta` slices, clamped to the volume.
    pub fn step_slice(&mut self, delta: i64, slices: usize) {
        let last = slices.saturating_sub(1) as i64;
        self.slice = (self.slice as i64 + delta).clamp(0, last) as usize;
    }

    /// Zooms by `factor` keeping the image point under `anchor` where it is.
    pub fn zoom_about(&mut self, factor: f32, anchor: Pos2, viewport: Rect) {
        let new_zoom = (self.zoom * factor).clamp(MIN_ZOOM, MAX_ZOOM);
        let applied = new_zoom / self.zoom;
        let centre = viewport.center() + self.pan;
        let offset = centre - anchor;
        self.pan = anchor + offset * applied - viewport.center();
        self.zoom = new_zoom;
    }

    /// Back to fitted, unpanned.
    pub fn fit(&mut self) {
        self.zoom = 1.0;
        self.pan = Vec2::ZERO;
    }

    /// Window/level drag: horizontal changes width, vertical changes level (centre), both in
    /// proportion to the current width so fine and coarse windows feel the same.
    pub fn drag_window(&mut self, delta: Vec2) {
        let sensitivity = (self.window.width / 256.0).max(0.01);
        self.window.width = (self.window.width + delta.x * sensitivity).max(1.0);
        self.window.center += delta.y * sensitivity;
    }
}

/// What one viewport shows of a volume: a stack of images (`[images, rows, cols]`) with its
/// geometry (spacing for the aspect, directions for the orientation letters) and what an image
/// of it is called ("slice" for the acquired one, else the anatomical plane of an MPR cut).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sheet {
    pub shape: [usize; 3],
    pub geometry: Geometry,
    pub name: &'static str,
}

impl Sheet {
    /// The volume as acquired.
    #[must_use]
    pub fn of(volume: &Volume) -> Self {
        Self {
            shape: volume.shape,
            geometry: volume.geometry,
            name: "slice",
        }
    }

    /// A multiplanar cut of the volume.
    #[must_use]
    pub fn plane(plane: &crate::dicom::mpr::Plane) -> Self {
        Self {
            shape: plane.shape,
            geometry: plane.geometry,
            name: plane.anatomy.name(),
        }
    }
}

/// Where an image of `sheet` lands in `viewport` for `view`: aspect from the pixel spacing.
#[must_use]
pub fn image_rect(sheet: &Sheet, view: &ViewState, viewport: Rect) -> Rect {
    let [_, rows, cols] = sheet.shape;
    let [_, row_mm, col_mm] = sheet.geometry.spacing_mm;
    let size_mm = Vec2::new((cols as f64 * col_mm) as f32, (rows as f64 * row_mm) as f32);
    let fit = (viewport.width() / size_mm.x).min(viewport.height() / size_mm.y);
    let size = size_mm * fit * view.zoom;
    Rect::from_center_size(viewport.center() + view.pan, size)
}

/// Image pixel `(col, row)` under a screen position, if inside the image.
#[must_use]
pub fn pixel_at(pos: Pos2, image: Rect, cols: usize, rows: usize) -> Option<(usize, usize)> {
    if !image.contains(pos) {
        return None;
    }
    let u = (pos.x - image.min.x) / image.width();
    let v = (pos.y - image.min.y) / image.height();
    let col = ((u * cols as f32) as usize).min(cols - 1);
    let row = ((v * rows as f32) as usize).min(rows - 1);
    Some((col, row))
}

/// Screen centre of image pixel `(col, row)` (inverse of [`pixel_at`]).
#[must_use]
pub fn pixel_centre(col: usize, row: usize, image: Rect, cols: usize, rows: usize) -> Pos2 {
    Pos2::new(
        image.min.x + (col as f32 + 0.5) / cols as f32 * image.width(),
        image.min.y + (row as f32 + 0.5) / rows as f32 * image.height(),
    )
}

/// Patient-direction letters for a direction in LPS (e.g. `[1, 0, 0]` → "L"); oblique directions
/// get two letters, the dominant first.
#[must_use]
pub fn direction_label(d: [f64; 3]) -> String {
    let letters = [('L', 'R'), ('P', 'A'), ('S', 'I')];
    let mut axes: Vec<(f64, char)> = d
        .iter()
        .zip(letters)
        .map(|(v, (pos, neg))| (v.abs(), if *v >= 0.0 { pos } else { neg }))
        .collect();
    axes.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out: String = axes[0].1.to_string();
    if axes[1].0 > 0.3 {
        out.push(axes[1].1);
    }
    out
}

/// Edge labels `(left, right, top, bottom)` of a slice view.
#[must_use]
pub fn orientation_labels(geometry: &Geometry) -> [String; 4] {
    let neg = |d: [f64; 3]| d.map(|v| -v);
    [
        direction_label(neg(geometry.row_direction)),
        direction_label(geometry.row_direction),
        direction_label(neg(geometry.col_direction)),
        direction_label(geometry.col_direction),
    ]
}

/// A round scale-bar length (mm) close to `target_mm`.
#[must_use]
pub fn nice_length_mm(target_mm: f32) -> f32 {
    let candidates = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0];
    candidates
        .into_iter()
        .rev()
        .find(|c| *c <= target_mm.max(1.0))
        .unwrap_or(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axial_labels_follow_radiological_convention() {
        let g = Geometry::identity([1.0; 3]);
        assert_eq!(
            orientation_labels(&g),
            ["R", "L", "A", "P"].map(String::from)
        );
    }

    #[test]
    fn sagittal_labels() {
        let g = Geometry::from_dicom([0.0, 1.0, 0.0, 0.0, 0.0, -1.0], [0.0; 3], [1.0; 3], None);
        assert_eq!(
            orientation_labels(&g),
            ["A", "P", "S", "I"].map(String::from)
        );
    }

    #[test]
    fn zoom_keeps_the_anchor_fixed() {
        let viewport = Rect::from_min_size(Pos2::ZERO, Vec2::new(400.0, 400.0));
        let mut view = ViewState {
            slice: 0,
            window: Window {
                center: 0.0,
                width: 1.0,
            },
            zoom: 1.0,
            pan: Vec2::ZERO,
            invert: false,
            show_heat: true,
            show_mask: true,
        };
        let image =
            Rect::from_center_size(viewport.center() + view.pan, Vec2::splat(400.0) * view.zoom);
        let anchor = Pos2::new(100.0, 300.0);
        let before = ((anchor - image.min) / image.size()).to_pos2();
        view.zoom_about(2.0, anchor, viewport);
        let image =
            Rect::from_center_size(viewport.center() + view.pan, Vec2::splat(400.0) * view.zoom);
        let after = ((anchor - image.min) / image.size()).to_pos2();
        assert!((before - after).length() < 1e-5, "{before:?} vs {after:?}");
    }

    #[test]
    fn pixel_round_trip() {
        let image = Rect::from_min_size(Pos2::new(10.0, 20.0), Vec2::new(512.0, 256.0));
        let p = pixel_centre(100, 50, image, 256, 128);
        assert_eq!(pixel_at(p, image, 256, 128), Some((100, 50)));
    }

    #[test]
    fn scale_bar_lengths_are_round() {
        assert!((nice_length_mm(37.0) - 20.0).abs() < f32::EPSILON);
        assert!((nice_length_mm(0.2) - 1.0).abs() < f32::EPSILON);
    }
}
