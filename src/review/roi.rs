//! Regions of interest drawn on a slice, and their rasterisation into masks for the metrics.
//!
//! Coordinates are image pixels, continuous: `x` along columns, `y` along rows, the pixel at
//! `(row, col)` covering `[col, col + 1) × [row, row + 1)` with its centre at
//! `(col + 0.5, row + 0.5)`. A pixel belongs to a shape when its centre does.

/// A region the reviewer drew or chose.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Roi {
    /// Axis-aligned ellipse: `((x − cx)/rx)² + ((y − cy)/ry)² ≤ 1`.
    Ellipse { center: [f64; 2], radii: [f64; 2] },
    /// Axis-aligned rectangle between two corners (any order), half-open: `min ≤ centre < max`.
    Rectangle {
        corner_a: [f64; 2],
        corner_b: [f64; 2],
    },
    /// Closed polygon (even-odd rule), vertices `[x, y]` in order.
    Polygon { points: Vec<[f64; 2]> },
    /// A mask from the study (a SEG segment or a `*.mask.npy`), by name: not rasterised here.
    Mask { name: String },
}

impl Roi {
    /// The kind as one word (CSV, UI).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ellipse { .. } => "ellipse",
            Self::Rectangle { .. } => "rectangle",
            Self::Polygon { .. } => "polygon",
            Self::Mask { .. } => "mask",
        }
    }

    /// The shape as a row-major `rows × cols` mask (`true` inside); `None` for a named mask,
    /// which the caller looks up. Degenerate shapes (zero radius, fewer than 3 points) are empty.
    #[must_use]
    pub fn rasterise(&self, rows: usize, cols: usize) -> Option<Vec<bool>> {
        let centre = |i: usize| (i % cols.max(1)) as f64 + 0.5;
        let row_centre = |i: usize| (i / cols.max(1)) as f64 + 0.5;
        let mask = |inside: &dyn Fn(f64, f64) -> bool| -> Vec<bool> {
            (0..rows * cols)
                .map(|i| inside(centre(i), row_centre(i)))
                .collect()
        };
        match self {
            Self::Ellipse { center, radii } => {
                let [cx, cy] = *center;
                let [rx, ry] = [radii[0].abs(), radii[1].abs()];
                Some(mask(&|x, y| {
                    rx > 0.0 && ry > 0.0 && {
                        let (u, v) = ((x - cx) / rx, (y - cy) / ry);
                        u * u + v * v <= 1.0
                    }
                }))
            }
            Self::Rectangle { corner_a, corner_b } => {
                let (x0, x1) = (corner_a[0].min(corner_b[0]), corner_a[0].max(corner_b[0]));
                let (y0, y1) = (corner_a[1].min(corner_b[1]), corner_a[1].max(corner_b[1]));
                Some(mask(&|x, y| x0 <= x && x < x1 && y0 <= y && y < y1))
            }
            Self::Polygon { points } => Some(mask(&|x, y| {
                points.len() >= 3 && inside_polygon(points, x, y)
            })),
            Self::Mask { .. } => None,
        }
    }
}

/// Even-odd rule: a ray to +x crosses the boundary an odd number of times. Edges count with the
/// half-open rule `(y0 <= y) != (y1 <= y)`, so a vertex on the ray is counted once.
fn inside_polygon(points: &[[f64; 2]], x: f64, y: f64) -> bool {
    let mut inside = false;
    let mut previous = points[points.len() - 1];
    for &point in points {
        let ([x0, y0], [x1, y1]) = (previous, point);
        if (y0 <= y) != (y1 <= y) {
            let crossing = x0 + (y - y0) / (y1 - y0) * (x1 - x0);
            if x < crossing {
                inside = !inside;
            }
        }
        previous = point;
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mask as rows of `#`/`.` for readable expectations.
    fn picture(mask: &[bool], cols: usize) -> Vec<String> {
        mask.chunks(cols)
            .map(|r| r.iter().map(|&m| if m { '#' } else { '.' }).collect())
            .collect()
    }

    #[test]
    fn rectangle_covers_the_pixels_whose_centres_it_contains() {
        let roi = Roi::Rectangle {
            corner_a: [3.0, 2.0],
            corner_b: [1.0, 0.0],
        };
        let mask = roi.rasterise(3, 4).unwrap();
        assert_eq!(picture(&mask, 4), [".##.", ".##.", "...."]);
    }

    #[test]
    fn ellipse_by_hand() {
        // Centre (2.5, 2.5), radii 2 × 1: centres (x, 2.5) with |x − 2.5| ≤ 2 → cols 1..=3 on
        // row 2 (x = 0.5 is exactly on the boundary: inside), and rows 1, 3 have |v| = 1 →
        // only x = 2.5.
        let roi = Roi::Ellipse {
            center: [2.5, 2.5],
            radii: [2.0, 1.0],
        };
        let mask = roi.rasterise(5, 5).unwrap();
        assert_eq!(
            picture(&mask, 5),
            [".....", "..#..", "#####", "..#..", "....."]
        );
    }

    #[test]
    fn polygon_triangle_by_hand() {
        // Right triangle (0,0) (4,0) (0,4): centres with x + y < 4 are inside.
        let roi = Roi::Polygon {
            points: vec![[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]],
        };
        let mask = roi.rasterise(4, 4).unwrap();
        assert_eq!(picture(&mask, 4), ["###.", "##..", "#...", "...."]);
    }

    #[test]
    fn degenerate_shapes_are_empty_and_named_masks_are_not_rasterised() {
        let line = Roi::Polygon {
            points: vec![[0.0, 0.0], [4.0, 4.0]],
        };
        assert!(line.rasterise(4, 4).unwrap().iter().all(|m| !m));
        let flat = Roi::Ellipse {
            center: [1.0, 1.0],
            radii: [0.0, 3.0],
        };
        assert!(flat.rasterise(4, 4).unwrap().iter().all(|m| !m));
        let named = Roi::Mask {
            name: "liver".to_owned(),
        };
        assert_eq!(named.rasterise(4, 4), None);
    }

    #[test]
    fn shapes_outside_the_image_are_clipped() {
        let roi = Roi::Rectangle {
            corner_a: [-10.0, -10.0],
            corner_b: [1.0, 100.0],
        };
        let mask = roi.rasterise(2, 3).unwrap();
        assert_eq!(picture(&mask, 3), ["#..", "#.."]);
    }
}
