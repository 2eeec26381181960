//! Regions of interest drawn on slices: the drawing tools (ellipse, rectangle, polygon) as a small
//! state machine fed with the viewer's pointer events ([`RoiPointer`], image pixel coordinates),
//! the ROIs of each slice, undo, and which region the localisation metrics use
//! ([`RoiSource`]: a drawn ROI or the study's mask). Those types are the widgets' vocabulary and
//! live with them in [`crate::ui::roi`]; this editor is the state they act on.
//!
//! Coordinates follow [`crate::review::Roi`]: continuous image pixels, `x` along columns, `y`
//! along rows, pixel `(row, col)` covering `[col, col + 1) × [row, row + 1)`.

use std::collections::BTreeMap;

use crate::review::Roi;
use crate::ui::roi::{RoiPointer, RoiSource, RoiTool};

/// The name a study mask has in review files.
pub const STUDY_MASK_NAME: &str = "study mask";

/// Smallest step between freehand polygon vertices, in image pixels.
const FREEHAND_STEP_PX: f64 = 1.0;

/// The ROIs of a study and the drawing in progress.
#[derive(Debug, Default)]
pub struct RoiEditor {
    pub tool: Option<RoiTool>,
    /// Finished ROIs per slice index, oldest first.
    rois: BTreeMap<usize, Vec<Roi>>,
    /// Slices in the order ROIs were added to them (for undo).
    history: Vec<usize>,
    /// The shape being drawn, and the slice it is on.
    draft: Option<(usize, Draft)>,
    pub source: RoiSource,
}

#[derive(Clone, Debug)]
enum Draft {
    /// Ellipse or rectangle: where the drag started and where it is now.
    Box {
        tool: RoiTool,
        from: [f64; 2],
        to: [f64; 2],
    },
    /// Polygon vertices so far.
    Polygon(Vec<[f64; 2]>),
}

impl RoiEditor {
    /// Picks `tool` (or leaves the tool when it is the active one); a drawing in progress is
    /// dropped.
    pub fn toggle_tool(&mut self, tool: RoiTool) {
        self.draft = None;
        self.tool = if self.tool == Some(tool) {
            None
        } else {
            Some(tool)
        };
    }

    /// `Esc`: drops the drawing in progress, else leaves the tool. True when it did something.
    pub fn escape(&mut self) -> bool {
        if self.draft.take().is_some() {
            return true;
        }
        self.tool.take().is_some()
    }

    /// The finished ROIs of `slice`, oldest first.
    #[must_use]
    pub fn rois(&self, slice: usize) -> &[Roi] {
        self.rois.get(&slice).map_or(&[], Vec::as_slice)
    }

    /// Every slice with ROIs and its ROIs.
    pub fn all(&self) -> impl Iterator<Item = (usize, &[Roi])> {
        self.rois.iter().map(|(s, r)| (*s, r.as_slice()))
    }

    /// The shape being drawn on `slice`, as a ROI to outline (a polygon is shown open).
    #[must_use]
    pub fn draft(&self, slice: usize) -> Option<Roi> {
        match &self.draft {
            Some((s, Draft::Box { tool, from, to })) if *s == slice => {
                Some(box_roi(*tool, *from, *to))
            }
            Some((s, Draft::Polygon(points))) if *s == slice => Some(Roi::Polygon {
                points: points.clone(),
            }),
            _ => None,
        }
    }

    /// True while a shape is being drawn.
    #[must_use]
    pub fn is_drawing(&self) -> bool {
        self.draft.is_some()
    }

    /// Adds a finished ROI to `slice` (also used to restore ROIs from a review file; an equal
    /// ROI already there is not added twice).
    pub fn add(&mut self, slice: usize, roi: Roi) {
        let list = self.rois.entry(slice).or_default();
        if !list.contains(&roi) {
            list.push(roi);
            self.history.push(slice);
        }
    }

    /// Removes the drawing in progress, else the last ROI added. True when something went.
    pub fn undo(&mut self) -> bool {
        if self.draft.take().is_some() {
            return true;
        }
        let Some(slice) = self.history.pop() else {
            return false;
        };
        if let Some(list) = self.rois.get_mut(&slice) {
            list.pop();
            if list.is_empty() {
                self.rois.remove(&slice);
            }
        }
        true
    }

    /// Removes every ROI of `slice` (and the drawing in progress).
    pub fn clear(&mut self, slice: usize) {
        self.draft = None;
        self.rois.remove(&slice);
        self.history.retain(|s| *s != slice);
    }

    /// `Enter`: closes the polygon being drawn. True when it did.
    pub fn finish(&mut self) -> bool {
        match self.draft.take() {
            Some((slice, Draft::Polygon(points))) if points.len() >= 3 => {
                self.add(slice, Roi::Polygon { points });
                true
            }
            Some(other) => {
                self.draft = Some(other);
                false
            }
            None => false,
        }
    }

    /// Feeds a pointer event on `slice` to the active tool. Returns true when a ROI was finished.
    pub fn pointer(&mut self, slice: usize, event: RoiPointer) -> bool {
        let Some(tool) = self.tool else {
            return false;
        };
        // A drawing on another slice is abandoned.
        if self.draft.as_ref().is_some_and(|(s, _)| *s != slice) {
            self.draft = None;
        }
        match tool {
            RoiTool::Ellipse | RoiTool::Rectangle => self.box_pointer(slice, tool, event),
            RoiTool::Polygon => self.polygon_pointer(slice, event),
        }
    }

    fn box_pointer(&mut self, slice: usize, tool: RoiTool, event: RoiPointer) -> bool {
        match event {
            RoiPointer::Press(p) => {
                self.draft = Some((
                    slice,
                    Draft::Box {
                        tool,
                        from: p,
                        to: p,
                    },
                ));
                false
            }
            RoiPointer::Drag(p) => {
                if let Some((_, Draft::Box { to, .. })) = &mut self.draft {
                    *to = p;
                }
                false
            }
            RoiPointer::Release(p) => {
                let Some((_, Draft::Box { from, .. })) = self.draft.take() else {
                    return false;
                };
                // A drag that covers no pixel centre is a slip, not a region.
                if (p[0] - from[0]).abs() < 1.0 || (p[1] - from[1]).abs() < 1.0 {
                    return false;
                }
                self.add(slice, box_roi(tool, from, p));
                true
            }
            RoiPointer::Click(_) | RoiPointer::DoubleClick(_) => false,
        }
    }

    fn polygon_pointer(&mut self, slice: usize, event: RoiPointer) -> bool {
        if !matches!(self.draft, Some((_, Draft::Polygon(_)))) {
            if matches!(event, RoiPointer::DoubleClick(_)) {
                return false;
            }
            self.draft = Some((slice, Draft::Polygon(Vec::new())));
        }
        if matches!(event, RoiPointer::DoubleClick(_)) {
            return self.finish();
        }
        let Some((_, Draft::Polygon(points))) = &mut self.draft else {
            return false;
        };
        match event {
            RoiPointer::Press(p) | RoiPointer::Click(p) | RoiPointer::Release(p) => {
                push_vertex(points, p, 0.0);
            }
            RoiPointer::Drag(p) => push_vertex(points, p, FREEHAND_STEP_PX),
            RoiPointer::DoubleClick(_) => {}
        }
        false
    }
}

/// Appends `p` unless it is closer than `min_step` to the last vertex (or equal to it).
fn push_vertex(points: &mut Vec<[f64; 2]>, p: [f64; 2], min_step: f64) {
    let far = points.last().is_none_or(|q| {
        let step = (p[0] - q[0]).hypot(p[1] - q[1]);
        step > 0.0 && step >= min_step
    });
    if far {
        points.push(p);
    }
}

/// The ellipse inscribed in, or the rectangle spanned by, the box from `a` to `b`.
fn box_roi(tool: RoiTool, a: [f64; 2], b: [f64; 2]) -> Roi {
    match tool {
        RoiTool::Ellipse => Roi::Ellipse {
            center: [f64::midpoint(a[0], b[0]), f64::midpoint(a[1], b[1])],
            radii: [(b[0] - a[0]).abs() / 2.0, (b[1] - a[1]).abs() / 2.0],
        },
        RoiTool::Rectangle | RoiTool::Polygon => Roi::Rectangle {
            corner_a: a,
            corner_b: b,
        },
    }
}

/// A short description of a ROI for the panel ("ellipse 24×16 px").
#[must_use]
pub fn describe(roi: &Roi) -> String {
    match roi {
        Roi::Ellipse { radii, .. } => {
            format!("ellipse {:.0}x{:.0} px", radii[0] * 2.0, radii[1] * 2.0)
        }
        Roi::Rectangle { corner_a, corner_b } => format!(
            "rectangle {:.0}x{:.0} px",
            (corner_b[0] - corner_a[0]).abs(),
            (corner_b[1] - corner_a[1]).abs()
        ),
        Roi::Polygon { points } => format!("polygon, {} points", points.len()),
        Roi::Mask { name } => name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ellipse_is_the_box_dragged() {
        let mut editor = RoiEditor::default();
        editor.toggle_tool(RoiTool::Ellipse);
        editor.pointer(3, RoiPointer::Press([10.0, 20.0]));
        editor.pointer(3, RoiPointer::Drag([20.0, 30.0]));
        assert!(editor.pointer(3, RoiPointer::Release([30.0, 40.0])));
        assert_eq!(
            editor.rois(3),
            [Roi::Ellipse {
                center: [20.0, 30.0],
                radii: [10.0, 10.0]
            }]
        );
        assert!(editor.rois(2).is_empty());
    }

    #[test]
    fn a_tiny_drag_makes_no_rectangle() {
        let mut editor = RoiEditor::default();
        editor.toggle_tool(RoiTool::Rectangle);
        editor.pointer(0, RoiPointer::Press([10.0, 10.0]));
        assert!(!editor.pointer(0, RoiPointer::Release([10.5, 30.0])));
        assert!(editor.rois(0).is_empty());
    }

    #[test]
    fn polygon_by_clicks_closes_on_double_click_or_enter() {
        let mut editor = RoiEditor::default();
        editor.toggle_tool(RoiTool::Polygon);
        for p in [[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]] {
            editor.pointer(0, RoiPointer::Click(p));
        }
        // The double click's first click lands on the last vertex again: not a new vertex.
        editor.pointer(0, RoiPointer::Click([0.0, 4.0]));
        assert!(editor.pointer(0, RoiPointer::DoubleClick([0.0, 4.0])));
        assert_eq!(
            editor.rois(0),
            [Roi::Polygon {
                points: vec![[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]]
            }]
        );
        for p in [[0.0, 0.0], [4.0, 0.0]] {
            editor.pointer(1, RoiPointer::Click(p));
        }
        assert!(!editor.finish(), "two points are no polygon");
        editor.pointer(1, RoiPointer::Click([4.0, 4.0]));
        assert!(editor.finish());
        assert_eq!(editor.rois(1).len(), 1);
    }

    #[test]
    fn freehand_drag_adds_vertices_at_least_a_pixel_apart() {
        let mut editor = RoiEditor::default();
        editor.toggle_tool(RoiTool::Polygon);
        editor.pointer(0, RoiPointer::Press([0.0, 0.0]));
        for i in 1..=20 {
            editor.pointer(0, RoiPointer::Drag([f64::from(i) * 0.5, 0.0]));
        }
        editor.pointer(0, RoiPointer::Release([10.0, 10.0]));
        let Some(Roi::Polygon { points }) = editor.draft(0) else {
            panic!("no draft");
        };
        assert_eq!(points.len(), 1 + 10 + 1, "{points:?}");
    }

    #[test]
    fn undo_removes_the_draft_then_the_last_roi_and_escape_leaves_the_tool() {
        let mut editor = RoiEditor::default();
        editor.toggle_tool(RoiTool::Rectangle);
        editor.pointer(0, RoiPointer::Press([0.0, 0.0]));
        editor.pointer(0, RoiPointer::Release([5.0, 5.0]));
        editor.pointer(1, RoiPointer::Press([0.0, 0.0]));
        editor.pointer(1, RoiPointer::Release([5.0, 5.0]));
        editor.pointer(1, RoiPointer::Press([1.0, 1.0]));
        assert!(editor.is_drawing());
        assert!(editor.undo());
        assert!(!editor.is_drawing());
        assert_eq!(editor.rois(1).len(), 1);
        assert!(editor.undo());
        assert!(editor.rois(1).is_empty());
        assert_eq!(editor.rois(0).len(), 1);
        assert!(editor.escape());
        assert_eq!(editor.tool, None);
        assert!(!editor.escape());
    }
}
